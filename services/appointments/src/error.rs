//! Storage errors → API answers and bus verdicts, each in one place. The layers' own
//! errors ([`crate::booking::BookingError`], [`crate::setup::SetupError`]) hand their
//! storage failures to these.

use std::time::Duration;

use prm_bus::HandlerError;
use prm_platform::{ApiError, ErrorCode};
use prm_store::{Conflict, StoreError};

/// How long a client should wait after the database was not reachable: the store
/// reconnects on the next request, so one second is enough to try again.
pub const DATABASE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The error code of a storage failure.
pub fn store_code(e: &StoreError) -> ErrorCode {
    match e {
        StoreError::NotFound(_) => ErrorCode::NotFound,
        StoreError::Conflict(conflict) => match conflict {
            Conflict::DuplicatePhone => ErrorCode::DuplicatePhone,
            Conflict::ScheduleOverlap => ErrorCode::ScheduleOverlap,
            Conflict::SlotTaken => ErrorCode::SlotTaken,
            Conflict::DuplicateBookingKey => ErrorCode::DuplicateBooking,
            Conflict::Duplicate => ErrorCode::Duplicate,
            // Deadlock or serialization failure: the database rolled the transaction
            // back, so nothing was written and the request is safe to repeat. 409 rather
            // than 503: the service and the database are healthy, this request collided
            // with another (docs/decisions/0004-double-booking-prevention.md).
            // Stale: the appointment kept changing under a request that decided again on
            // each fresh read (see `booking::changes`); nothing was written.
            Conflict::Transient | Conflict::Stale => ErrorCode::ConcurrentUpdate,
        },
        StoreError::InUse(_) => ErrorCode::InUse,
        StoreError::MissingReference => ErrorCode::UnknownReference,
        StoreError::Unavailable(_) => ErrorCode::Unavailable,
        StoreError::Corrupt(_) | StoreError::Database(_) => ErrorCode::InternalError,
    }
}

/// The answer to a storage failure.
pub fn api_error(e: StoreError) -> ApiError {
    let code = store_code(&e);
    match e {
        StoreError::NotFound(what) => ApiError::not_found(&capitalized(what)),
        StoreError::Conflict(_) if code == ErrorCode::ConcurrentUpdate => {
            tracing::warn!(
                "transaction aborted by a concurrent one (deadlock or serialization failure)"
            );
            ApiError::new(code)
        }
        StoreError::InUse(what) => ApiError::new(code).with_detail(format!(
            "The {what} is still referenced by other records (schedules or appointments)."
        )),
        StoreError::Unavailable(e) => {
            tracing::error!(error = %e, "database unavailable");
            ApiError::unavailable("The database is not reachable; retry shortly.")
                .with_retry_after(DATABASE_RETRY_AFTER)
        }
        other if code == ErrorCode::InternalError => ApiError::internal(other),
        _ => ApiError::new(code),
    }
}

/// The verdict on a storage failure met while handling an event: retried when waiting
/// can help (database unreachable, concurrent writer), dead-lettered otherwise.
pub fn handler_error(e: StoreError) -> HandlerError {
    verdict(store_code(&e), e)
}

/// Transient or permanent by the code's family.
pub fn verdict(code: ErrorCode, e: impl std::fmt::Display) -> HandlerError {
    if code.is_transient() {
        HandlerError::transient(format!("{code}: {e}"))
    } else {
        HandlerError::permanent(format!("{code}: {e}"))
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_database_is_a_503_with_retry_after_and_a_retried_event() {
        let lost = || {
            StoreError::Unavailable(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
                "connection refused".to_owned(),
            )))
        };
        let e = api_error(lost());
        assert_eq!(e.status().as_u16(), 503);
        assert_eq!(e.code(), "unavailable");
        assert_eq!(e.retry_after(), Some(1));
        assert!(!handler_error(lost()).is_permanent());
    }

    #[test]
    fn conflicts_keep_their_codes_and_only_collisions_are_retried() {
        for (conflict, code, transient) in [
            (Conflict::DuplicatePhone, "duplicate_phone", false),
            (Conflict::ScheduleOverlap, "schedule_overlap", false),
            (Conflict::SlotTaken, "slot_taken", false),
            (Conflict::DuplicateBookingKey, "duplicate_booking", false),
            (Conflict::Duplicate, "duplicate", false),
            (Conflict::Transient, "concurrent_update", true),
            (Conflict::Stale, "concurrent_update", true),
        ] {
            let e = api_error(StoreError::Conflict(conflict));
            assert_eq!((e.status().as_u16(), e.code()), (409, code));
            assert_eq!(
                handler_error(StoreError::Conflict(conflict)).is_permanent(),
                !transient,
                "{code}"
            );
        }
        let e = api_error(StoreError::NotFound("appointment"));
        assert_eq!(
            (e.code(), e.detail()),
            ("not_found", "Appointment not found.")
        );
        assert!(handler_error(StoreError::NotFound("patient")).is_permanent());
        assert_eq!(
            api_error(StoreError::MissingReference).status().as_u16(),
            422
        );
    }
}

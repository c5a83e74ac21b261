//! What can go wrong in slot search, selection and booking, whoever asked: an HTTP
//! handler renders it with `From<BookingError> for ApiError`, a bus consumer (triage
//! and slot-selection events) turns it into a retry or a dead letter with
//! `From<BookingError> for HandlerError`.

use prm_bus::HandlerError;
use prm_domain::AppointmentStatus;
use prm_platform::{ApiError, ErrorCode, FieldError, fields::FieldErrors};
use prm_state::StateError;
use prm_store::{StoreError, outbox::OutboxError};

use crate::error::{api_error, store_code, verdict};

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// Fields that fail their rules, or name records that do not exist.
    #[error("invalid fields: {}", field_names(.0))]
    Invalid(Vec<FieldError>),
    /// `select-slot` for a conversation whose offer expired or never existed.
    #[error("the conversation has no current slot offer")]
    NoCurrentOffer,
    #[error("the offer was made without a patient")]
    PatientRequired,
    #[error("the practitioner is not taking appointments")]
    InactivePractitioner,
    #[error("the start is not one of the practitioner's slots at the location")]
    OutsideSchedule,
    #[error("the slot is in the past or within the minimum notice of {min_notice_minutes} minutes")]
    TooSoon { min_notice_minutes: i64 },
    /// The appointment's status does not allow the change (`to`: "cancelled",
    /// "rescheduled" or a status).
    #[error("a {from} appointment cannot be {to}")]
    InvalidTransition {
        from: AppointmentStatus,
        to: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state store holding the offers.
    #[error("conversation state: {0}")]
    State(#[from] StateError),
    #[error(transparent)]
    Outbox(OutboxError),
}

fn field_names(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl BookingError {
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// The code the API answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::ValidationFailed,
            Self::NoCurrentOffer => ErrorCode::NotFound,
            Self::PatientRequired => ErrorCode::PatientRequired,
            Self::InactivePractitioner => ErrorCode::InactivePractitioner,
            Self::OutsideSchedule => ErrorCode::OutsideSchedule,
            Self::TooSoon { .. } => ErrorCode::TooSoon,
            Self::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            Self::Store(e) => store_code(e),
            Self::State(e) if e.is_unavailable() => ErrorCode::Unavailable,
            Self::State(_) | Self::Outbox(_) => ErrorCode::InternalError,
        }
    }
}

impl From<FieldErrors> for BookingError {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors.into_vec())
    }
}

/// The outbox's database errors are the store's (a lost connection is `Unavailable`).
impl From<OutboxError> for BookingError {
    fn from(e: OutboxError) -> Self {
        match e {
            OutboxError::Db(db) => Self::Store(StoreError::from(db)),
            other => Self::Outbox(other),
        }
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        let code = e.code();
        match e {
            BookingError::Invalid(errors) => ApiError::validation(errors),
            BookingError::NoCurrentOffer => ApiError::not_found("Slot offer").with_detail(
                "This conversation has no current slot offer: it expired (offers last 15 minutes) or was never made. Search again with find-slots.",
            ),
            BookingError::TooSoon { min_notice_minutes } => ApiError::new(code).with_detail(
                format!(
                    "The slot is in the past or within the minimum notice of {min_notice_minutes} minutes."
                ),
            ),
            BookingError::InvalidTransition { from, to } => {
                ApiError::new(code).with_detail(format!("A {from} appointment cannot be {to}."))
            }
            BookingError::Store(e) => api_error(e),
            BookingError::State(e) if e.is_unavailable() => {
                ApiError::unavailable("Conversation state is not reachable; retry shortly.")
            }
            BookingError::State(e) => ApiError::internal(e),
            BookingError::Outbox(e) => ApiError::internal(e),
            BookingError::PatientRequired
            | BookingError::InactivePractitioner
            | BookingError::OutsideSchedule => ApiError::new(code),
        }
    }
}

/// Retried when waiting can help (database or state store unreachable, a concurrent
/// writer); dead-lettered when the event itself cannot be booked.
impl From<BookingError> for HandlerError {
    fn from(e: BookingError) -> Self {
        verdict(e.code(), &e)
    }
}

#[cfg(test)]
mod tests {
    use prm_store::Conflict;

    use super::*;

    #[test]
    fn each_refusal_keeps_its_code_and_status() {
        for (error, status, code) in [
            (BookingError::NoCurrentOffer, 404, "not_found"),
            (BookingError::PatientRequired, 422, "patient_required"),
            (
                BookingError::InactivePractitioner,
                422,
                "inactive_practitioner",
            ),
            (BookingError::OutsideSchedule, 422, "outside_schedule"),
            (
                BookingError::TooSoon {
                    min_notice_minutes: 60,
                },
                422,
                "too_soon",
            ),
            (
                BookingError::InvalidTransition {
                    from: AppointmentStatus::Cancelled,
                    to: "cancelled",
                },
                409,
                "invalid_transition",
            ),
            (
                BookingError::Store(StoreError::Conflict(Conflict::SlotTaken)),
                409,
                "slot_taken",
            ),
            (
                BookingError::invalid_field("start", "bad"),
                422,
                "validation_failed",
            ),
        ] {
            let e = ApiError::from(error);
            assert_eq!((e.status().as_u16(), e.code()), (status, code));
        }
        let e = ApiError::from(BookingError::InvalidTransition {
            from: AppointmentStatus::Cancelled,
            to: "rescheduled",
        });
        assert_eq!(e.detail(), "A cancelled appointment cannot be rescheduled.");
    }

    #[test]
    fn a_consumer_retries_only_what_waiting_can_fix() {
        let permanent = |e: BookingError| HandlerError::from(e).is_permanent();
        assert!(permanent(BookingError::OutsideSchedule));
        assert!(permanent(BookingError::invalid_field(
            "patient_id",
            "unknown"
        )));
        assert!(permanent(BookingError::Store(StoreError::Conflict(
            Conflict::SlotTaken
        ))));
        assert!(!permanent(BookingError::Store(StoreError::Conflict(
            Conflict::Transient
        ))));
        assert!(!permanent(BookingError::Store(StoreError::Unavailable(
            sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal("gone".to_owned()))
        ))));
    }
}

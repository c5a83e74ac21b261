//! Storage errors → API errors, in one place.

use prm_platform::ApiError;
use prm_store::{Conflict, StoreError};

pub fn api_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(what) => ApiError::not_found(capitalized(what).as_str()),
        StoreError::Conflict(Conflict::DuplicatePhone) => ApiError::conflict(
            "duplicate_phone",
            "A patient with this phone number already exists.",
        ),
        StoreError::Conflict(Conflict::ScheduleOverlap) => ApiError::conflict(
            "schedule_overlap",
            "The practitioner already has a schedule overlapping these hours on this weekday.",
        ),
        StoreError::Conflict(Conflict::SlotTaken) => ApiError::conflict(
            "slot_taken",
            "The practitioner is no longer free at this time.",
        ),
        StoreError::Conflict(Conflict::DuplicateBookingKey) => ApiError::conflict(
            "duplicate_booking",
            "This booking request was already processed.",
        ),
        StoreError::Conflict(Conflict::Duplicate) => {
            ApiError::conflict("duplicate", "A record like this exists already.")
        }
        // Deadlock or serialization failure: the database rolled the transaction back,
        // so nothing was written and the request is safe to repeat. 409 rather than 503:
        // the service and the database are healthy, this request collided with another.
        // See docs/decisions/0004-double-booking-prevention.md.
        // Stale: the appointment kept changing under a request that decided again on
        // each fresh read (see `booking::app::on_fresh_read`); nothing was written.
        StoreError::Conflict(Conflict::Transient | Conflict::Stale) => {
            tracing::warn!(
                "transaction aborted by a concurrent one (deadlock or serialization failure)"
            );
            ApiError::conflict(
                "concurrent_update",
                "Another request changed the same records at the same moment and nothing was saved. Send the request again.",
            )
        }
        StoreError::InUse(what) => ApiError::conflict(
            "in_use",
            format!("The {what} is still referenced by other records (schedules or appointments)."),
        ),
        StoreError::MissingReference => {
            ApiError::unprocessable("unknown_reference", "A referenced record does not exist.")
        }
        StoreError::Unavailable(e) => {
            tracing::error!(error = %e, "database unavailable");
            ApiError::unavailable("The database is not reachable; retry shortly.")
        }
        other => ApiError::internal(other),
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

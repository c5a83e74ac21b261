//! Storage errors, with database constraint violations translated into the
//! conflicts the API reports. This is the one place that knows constraint names.

use sea_orm::{DbErr, SqlErr};

/// A write refused by a uniqueness or exclusion rule of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another patient already has this phone number.
    DuplicatePhone,
    /// The practitioner already has an active appointment overlapping this time.
    SlotTaken,
    /// A booking with the same idempotency key exists.
    DuplicateBookingKey,
    /// The practitioner already works at that time on that weekday.
    ScheduleOverlap,
    /// Some other unique rule.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A row is still referenced (e.g. deleting a location that has schedules).
    #[error("{0} is still referenced by other records")]
    InUse(&'static str),
    /// A reference points at nothing (e.g. an unknown location id).
    #[error("a referenced record does not exist")]
    MissingReference,
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        let text = err.to_string();
        if is_overlap(&text) {
            return Self::Conflict(Conflict::SlotTaken);
        }
        if text.contains("FOREIGN KEY constraint failed")
            || text.contains("violates foreign key constraint")
        {
            return Self::MissingReference;
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(msg)) => Self::Conflict(classify_unique(&msg)),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::MissingReference,
            _ if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) => {
                Self::Unavailable(err)
            }
            _ => Self::Database(err),
        }
    }
}

fn is_overlap(text: &str) -> bool {
    // PostgreSQL exclusion constraint (SQLSTATE 23P01) or the SQLite trigger, by name.
    text.contains("appointments_no_overlap")
}

fn classify_unique(msg: &str) -> Conflict {
    if msg.contains("booking_key") {
        Conflict::DuplicateBookingKey
    } else if msg.contains("appointments_practitioner_start_active")
        || msg.contains("appointments.practitioner_id, appointments.start_at")
    {
        Conflict::SlotTaken
    } else if msg.contains("phone") {
        Conflict::DuplicatePhone
    } else {
        Conflict::Duplicate
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Corrupt(format!("{what}: {e}"))
    }
}

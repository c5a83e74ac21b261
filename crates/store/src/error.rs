//! Storage errors, with database constraint violations translated into the
//! conflicts the API reports. This is the one place that knows constraint names.

use sea_orm::{DbErr, SqlErr};

/// A write refused by a uniqueness or exclusion rule of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another patient already has this phone number.
    DuplicatePhone,
    /// The phone already has a conversation that is not closed.
    ConversationExists,
    /// The practitioner already has an active appointment overlapping this time.
    SlotTaken,
    /// A booking with the same idempotency key exists.
    DuplicateBookingKey,
    /// The practitioner already works at that time on that weekday.
    ScheduleOverlap,
    /// Some other unique rule.
    Duplicate,
    /// The database aborted the transaction because a concurrent one touched the same
    /// rows (PostgreSQL deadlock `40P01` or serialization failure `40001`; SQLite busy).
    /// Nothing was written and the same request can simply be sent again.
    Transient,
    /// The row changed between the caller's read and its write (see
    /// `Store::update_appointment`). Nothing was written; decide again on a fresh read.
    Stale,
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
        if is_transient(&err) {
            return Self::Conflict(Conflict::Transient);
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

/// Failures that say "another transaction got in the way; try again": PostgreSQL's
/// deadlock_detected (40P01) and serialization_failure (40001), SQLite's SQLITE_BUSY
/// (5) and its extended codes (e.g. 517 BUSY_SNAPSHOT: the low byte is 5).
fn is_transient(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(e)))
    | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(e)))
    | DbErr::Conn(RuntimeErr::SqlxError(sqlx::Error::Database(e)))) = err
    else {
        return false;
    };
    let code = e.code().unwrap_or_default();
    if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        matches!(code.as_ref(), "40P01" | "40001")
    } else if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code.parse::<u32>().is_ok_and(|n| n & 0xff == 5)
    } else {
        false
    }
}

fn is_overlap(text: &str) -> bool {
    // PostgreSQL exclusion constraint (SQLSTATE 23P01) or the SQLite trigger, by name.
    text.contains("appointments_no_overlap")
}

fn classify_unique(msg: &str) -> Conflict {
    if msg.contains("conversations_one_open_per_phone") || msg.contains("conversations.phone") {
        Conflict::ConversationExists
    } else if msg.contains("booking_key") {
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

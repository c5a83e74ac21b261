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
    /// The database could not be reached, or the connection was lost, and nothing is
    /// known to have been written (reads and transactions that failed before COMMIT were
    /// already tried again, see [`Store::write`](crate::Store::write)). Services answer
    /// 503 `unavailable` with `Retry-After`. The one exception is a connection lost
    /// during COMMIT ([`StoreError::is_outcome_unknown`]): the change may or may not be
    /// saved, which a retry of an idempotent request resolves.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            return Self::Unavailable(err);
        }
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
            _ if matches!(err, DbErr::Conn(_)) => Self::Unavailable(err),
            _ => Self::Database(err),
        }
    }
}

/// The sqlx error inside a sea-orm error, if any.
fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e),
        _ => None,
    }
}

/// The connection the statement ran on is gone (or none could be opened): the server
/// terminated it (failover, restart, `pg_terminate_backend`, an idle timeout), a proxy
/// or the network dropped it, or the server refuses new connections for now.
///
/// Such a failure rolled back whatever the transaction had done, so the transaction can
/// run again on another connection, unless it happened during COMMIT (then the outcome
/// is unknown). Classified as:
/// * sqlx `Io` (reset, broken pipe, unexpected end of file), `Tls`, `Protocol` (the
///   stream is out of step, the connection unusable) and `WorkerCrashed` (SQLite);
/// * PostgreSQL SQLSTATE class `08` (connection exception), `57P01` admin_shutdown,
///   `57P02` crash_shutdown, `57P03` cannot_connect_now, `57P05` idle_session_timeout,
///   `25P03` idle_in_transaction_session_timeout and `53300` too_many_connections.
///
/// Not a pool that timed out or was closed: [`is_unavailable`] covers those, and waiting
/// again would only double the wait.
pub(crate) fn is_connection_lost(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error;
    match sqlx_error(err) {
        Some(Error::Io(_) | Error::Tls(_) | Error::Protocol(_) | Error::WorkerCrashed) => true,
        Some(Error::Database(e))
            if e.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            let code = e.code().unwrap_or_default();
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "57P05" | "25P03" | "53300"
                )
        }
        _ => false,
    }
}

/// The database cannot be used right now: a lost connection ([`is_connection_lost`]),
/// no pooled connection within the acquire timeout, or a closed pool.
pub(crate) fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error;
    is_connection_lost(err)
        || matches!(err, DbErr::ConnectionAcquire(_))
        || matches!(
            sqlx_error(err),
            Some(Error::PoolTimedOut | Error::PoolClosed)
        )
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

/// The text that marks a COMMIT whose outcome is unknown (see
/// [`StoreError::is_outcome_unknown`]).
const OUTCOME_UNKNOWN: &str = "the connection was lost during COMMIT";

impl StoreError {
    pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Corrupt(format!("{what}: {e}"))
    }

    /// A COMMIT that lost its connection: the server may have committed or not, and
    /// nothing here can tell. Reported as unavailable; never retried blindly.
    pub(crate) fn outcome_unknown(err: &DbErr) -> Self {
        Self::Unavailable(DbErr::Custom(format!(
            "{OUTCOME_UNKNOWN}; the transaction may or may not have been saved: {err}"
        )))
    }

    /// True for [`StoreError::Unavailable`]: the database could not be used and the
    /// request may be sent again later (503 with `Retry-After`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// True when the connection was lost during COMMIT, so the change may or may not be
    /// saved. Callers whose write is idempotent by key (a booking key, a provider message
    /// id, a derived event id) can simply send it again; others must read before retrying.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Self::Unavailable(DbErr::Custom(text)) if text.starts_with(OUTCOME_UNKNOWN))
    }
}

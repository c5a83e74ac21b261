use thiserror::Error;

/// Why a state operation failed. Callers decide how to degrade: the state
/// is never the source of truth (see the crate docs).
#[derive(Debug, Error)]
pub enum StateError {
    /// The backend could not be reached or did not answer in time
    /// (connection refused, timeout, pool exhausted, connection dropped).
    /// Usually transient.
    #[error("state store unavailable: {0}")]
    Unavailable(String),

    /// The backend answered with an error (e.g. an operation on a key
    /// holding another kind of value).
    #[error("state store error: {0}")]
    Backend(String),

    /// A JSON value could not be encoded or decoded.
    #[error("state value (de)serialization failed")]
    Serialization(#[from] serde_json::Error),

    /// The adapter could not be built from its configuration (e.g. a
    /// malformed `REDIS_URL`).
    #[error("invalid state store configuration: {0}")]
    Config(String),
}

impl StateError {
    /// `true` for [`StateError::Unavailable`]: worth retrying later or
    /// degrading gracefully.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

use std::fmt;

/// Errors of the bus itself (not of handlers).
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("AMQP_URL is not a valid amqp:// URL: {0}")]
    InvalidUrl(String),
    #[error(
        "invalid consumer name `{0}`: expected `prm.<service>.<purpose>` (lowercase, digits, `-`, `_`)"
    )]
    InvalidConsumerName(String),
    #[error("RabbitMQ is unavailable (not connected)")]
    Unavailable,
    #[error("RabbitMQ did not confirm the message within {0:?}")]
    ConfirmTimeout(std::time::Duration),
    #[error("RabbitMQ refused the message (negative publisher confirm)")]
    Nacked,
    #[error("could not connect to RabbitMQ within {0:?}")]
    ConnectTimeout(std::time::Duration),
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("could not serialize the envelope: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("the bus is shut down")]
    Closed,
    /// In-process bus: the consumer stopped before it finished with the message, so the
    /// publish is not confirmed (the outbox keeps the event and publishes it again).
    #[error("consumer `{0}` stopped before it finished with the message")]
    ConsumerStopped(String),
}

/// What a handler tells the bus when it could not process an event.
///
/// A transient error is retried (with backoff, up to the retry policy's attempts) and then
/// dead-lettered; a permanent error is dead-lettered at once. Keep messages free of
/// patient data: they end up in logs and in the dead-letter header.
#[derive(Debug)]
pub enum HandlerError {
    Transient(String),
    Permanent(String),
}

impl HandlerError {
    pub fn transient(error: impl fmt::Display) -> Self {
        Self::Transient(error.to_string())
    }

    pub fn permanent(error: impl fmt::Display) -> Self {
        Self::Permanent(error.to_string())
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Transient(r) | Self::Permanent(r) => r,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transient(r) => write!(f, "transient: {r}"),
            Self::Permanent(r) => write!(f, "permanent: {r}"),
        }
    }
}

impl std::error::Error for HandlerError {}

/// Database trouble is usually passing (connection, serialization failure): retry.
impl From<sea_orm::DbErr> for HandlerError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::transient(error)
    }
}

/// A payload that does not match the catalog will not get better: dead-letter it.
impl From<prm_domain::events::EventDecodeError> for HandlerError {
    fn from(error: prm_domain::events::EventDecodeError) -> Self {
        Self::permanent(error)
    }
}

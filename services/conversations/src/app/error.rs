//! The application's errors, with one conversion to the HTTP answer and one to the bus.

use prm_bus::HandlerError;
use prm_platform::{ApiError, ErrorCode, FieldError};
use prm_store::{Conflict, StoreError};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("conversation not found")]
    NotFound,
    /// The phone already has a conversation that is not closed.
    #[error("the phone already has an open conversation")]
    Exists { existing: Option<Uuid> },
    #[error("the conversation is closed")]
    Closed,
    /// No template purpose or locale by that name.
    #[error("{0}")]
    TemplateNotFound(String),
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
    /// Worth another try (the bus retries the event).
    #[error("{0}")]
    Transient(&'static str),
    /// An event whose data does not match the catalog.
    #[error(transparent)]
    Undecodable(#[from] prm_domain::events::EventDecodeError),
}

impl ConversationError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::NotFound | ConversationError::Store(StoreError::NotFound(_)) => {
                ApiError::not_found("Conversation")
            }
            ConversationError::Exists { existing } => {
                let error = ApiError::new(ErrorCode::ConversationExists);
                match existing {
                    Some(id) => error.with_detail(format!(
                        "This phone already has an open conversation: {id}. Close it first, or write to it."
                    )),
                    None => error,
                }
            }
            ConversationError::Closed => ApiError::new(ErrorCode::ConversationClosed),
            ConversationError::TemplateNotFound(detail) => ApiError::not_found("Template")
                .with_detail(format!("Template not found: {detail}.")),
            ConversationError::Invalid(errors) => ApiError::validation(errors),
            ConversationError::Store(StoreError::Conflict(Conflict::ConversationExists)) => {
                ApiError::new(ErrorCode::ConversationExists)
            }
            ConversationError::Store(StoreError::Unavailable(source)) => {
                tracing::warn!(error = %source, "database unavailable");
                ApiError::unavailable("The database is not reachable; retry shortly.")
                    .with_retry_after(std::time::Duration::from_secs(1))
            }
            ConversationError::Store(StoreError::Conflict(
                Conflict::Transient | Conflict::Stale,
            )) => ApiError::new(ErrorCode::ConcurrentUpdate),
            ConversationError::Store(other) => ApiError::internal(other),
            ConversationError::Internal(message) => ApiError::internal(anyhow::anyhow!(message)),
            ConversationError::Transient(message) => ApiError::unavailable(message),
            ConversationError::Undecodable(e) => ApiError::internal(e),
        }
    }
}

impl From<ConversationError> for HandlerError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::Store(
                StoreError::Unavailable(_)
                | StoreError::Conflict(Conflict::Transient)
                | StoreError::Database(_),
            ) => HandlerError::transient(e),
            ConversationError::Internal(_) | ConversationError::Transient(_) => {
                HandlerError::transient(e)
            }
            ConversationError::Store(StoreError::Conflict(Conflict::ConversationExists)) => {
                HandlerError::transient(e)
            }
            other => HandlerError::permanent(other),
        }
    }
}

impl From<sea_orm::DbErr> for ConversationError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::from(e))
    }
}

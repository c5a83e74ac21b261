//! What can go wrong when an engine is asked, in words safe to log: no variant ever
//! carries the patient's text, a value the model extracted, or a secret.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AiError {
    /// No answer within the time the caller allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The engine could not be reached, or failed on its side (connection, 5xx, 429).
    #[error("engine unavailable: {0}")]
    Unavailable(String),
    /// The engine answered, but not with what was asked for (not JSON, a field that is not
    /// in the schema, a wrong type, a department the clinic does not have…).
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The engine refused the request (a 4xx other than 429: bad key, bad model…).
    #[error("request refused: {0}")]
    Refused(String),
    /// The engine's settings are missing (e.g. `OPENAI_API_KEY` for transcription).
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// Triage needs at least one department (a practitioner's specialty) to name.
    #[error("the clinic has no departments to triage into")]
    NoDepartments,
}

/// A JSON key as it may appear in an error: identifiers only, so a model that answered
/// with patient data as a key ("Ana Ruiz": …) does not put it in the logs.
pub(crate) fn loggable_key(key: &str) -> String {
    let safe = !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if safe {
        format!("`{key}`")
    } else {
        "a key that is not an identifier".to_owned()
    }
}

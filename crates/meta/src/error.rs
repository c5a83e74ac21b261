//! What can go wrong talking to Meta's Graph API.
//!
//! Meta answers errors as `{"error": {"message", "type", "code", "error_subcode",
//! "fbtrace_id"}}`. `Display` shows the HTTP status and the code only: the message is
//! kept in the fields (for `debug` logs), and `fbtrace_id` is what Meta's support asks for.

use prm_twilio::{ProviderFailure, SendError};
use serde::Deserialize;

/// Meta error codes we act on.
pub mod codes {
    /// Generic "invalid parameter".
    pub const INVALID_PARAMETER: u32 = 100;
    /// The access token is invalid or expired.
    pub const ACCESS_TOKEN: u32 = 190;
    /// Re-engagement message: more than 24 hours since the patient last wrote, so only
    /// a template may be sent.
    pub const OUTSIDE_WINDOW: u32 = 131047;
    /// Message undeliverable (not a WhatsApp user, old app, …).
    pub const UNDELIVERABLE: u32 = 131026;
    /// The recipient is not in the allowed list of a test number.
    pub const RECIPIENT_NOT_ALLOWED: u32 = 131030;
    /// The recipient stopped marketing messages from this business.
    pub const MARKETING_OPTED_OUT: u32 = 131050;
    /// Rate limits: Meta refused the request, nothing was sent.
    pub const APP_RATE_LIMIT: u32 = 4;
    pub const ACCOUNT_RATE_LIMIT: u32 = 80007;
    pub const THROUGHPUT_LIMIT: u32 = 130429;
    pub const PAIR_RATE_LIMIT: u32 = 131056;
    /// Temporary downtime or overload: nothing was sent.
    pub const TEMPORARILY_UNAVAILABLE: u32 = 2;
    pub const SERVICE_UNAVAILABLE: u32 = 131016;

    pub(crate) const RATE_LIMITS: [u32; 4] = [
        APP_RATE_LIMIT,
        ACCOUNT_RATE_LIMIT,
        THROUGHPUT_LIMIT,
        PAIR_RATE_LIMIT,
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("Meta API error: HTTP {status}, code {}", code.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    Api {
        status: u16,
        code: Option<u32>,
        subcode: Option<u32>,
        /// Meta's `type`, e.g. `OAuthException`.
        kind: Option<String>,
        message: String,
        fbtrace_id: Option<String>,
    },
    /// The attempt ran out of time after the request may have been sent: the message
    /// may or may not exist.
    #[error("Meta request timed out")]
    Timeout,
    /// Nothing reached Meta: the connection, DNS lookup or TLS handshake failed before
    /// the request was written.
    #[error("could not reach Meta")]
    Transport(#[source] reqwest::Error),
    /// The connection failed after the request was written.
    #[error("the connection to Meta failed after the request was sent")]
    ConnectionLost(#[source] reqwest::Error),
    /// A success status whose body is not the expected answer: the message was
    /// probably accepted, but we do not have its id.
    #[error("Meta answered HTTP {status} without a message id ({detail})")]
    InvalidResponse { status: u16, detail: String },
    /// Refused before anything was sent.
    #[error("invalid Meta request: {0}")]
    InvalidRequest(&'static str),
}

impl MetaError {
    /// Meta's error code, when it sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// The id Meta's support needs to find the request.
    pub fn fbtrace_id(&self) -> Option<&str> {
        match self {
            Self::Api { fbtrace_id, .. } => fbtrace_id.as_deref(),
            _ => None,
        }
    }

    /// Meta refused the request for its rate: try later.
    pub fn is_rate_limit(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => {
                *status == 429 || code.is_some_and(|c| codes::RATE_LIMITS.contains(&c))
            }
            _ => false,
        }
    }

    /// A transient failure after which the message surely does not exist, so sending it
    /// again cannot message the patient twice: the request never reached Meta, or Meta
    /// refused to take it (rate limit, temporarily unavailable). Any other 5xx may come
    /// after the message was accepted.
    pub fn surely_not_sent(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Api { status, code, .. } => {
                self.is_rate_limit()
                    || *status == 503
                    || matches!(
                        code,
                        Some(codes::TEMPORARILY_UNAVAILABLE | codes::SERVICE_UNAVAILABLE)
                    )
            }
            _ => false,
        }
    }

    /// Builds the error for a non-2xx answer; a body that is not Meta's error JSON (a
    /// proxy's page, say) gives an [`MetaError::Api`] with no code.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: GraphError,
        }
        #[derive(Deserialize)]
        struct GraphError {
            message: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
            code: Option<u32>,
            error_subcode: Option<u32>,
            fbtrace_id: Option<String>,
        }
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => Self::Api {
                status,
                code: error.code,
                subcode: error.error_subcode,
                kind: error.kind,
                message: error.message.unwrap_or_default(),
                fbtrace_id: error.fbtrace_id,
            },
            Err(_) => Self::Api {
                status,
                code: None,
                subcode: None,
                kind: None,
                message: String::new(),
                fbtrace_id: None,
            },
        }
    }
}

impl From<MetaError> for SendError {
    fn from(error: MetaError) -> Self {
        let code = error.code();
        let failure = |e: MetaError| ProviderFailure::new(e).with_code(code);
        match error {
            e if code == Some(codes::OUTSIDE_WINDOW) => Self::OutsideSessionWindow(failure(e)),
            e if code == Some(codes::MARKETING_OPTED_OUT) => Self::OptedOut(failure(e)),
            e if e.surely_not_sent() => Self::Unavailable(failure(e)),
            // The message may exist: a timeout or lost connection after sending, a
            // server error, an answer without the id.
            e @ (MetaError::Timeout
            | MetaError::ConnectionLost(_)
            | MetaError::InvalidResponse { .. }) => Self::OutcomeUnknown(failure(e)),
            e @ MetaError::Api { status, .. } if status >= 500 => Self::OutcomeUnknown(failure(e)),
            // 131026 undeliverable, 100 invalid parameter, 131030 not allowed, 190 token…
            e => Self::Rejected(failure(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_error_json_is_read() {
        let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"error_subcode":2494010,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
        let err = MetaError::from_response(400, body);
        match &err {
            MetaError::Api {
                status,
                code,
                subcode,
                kind,
                message,
                fbtrace_id,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(*code, Some(131047));
                assert_eq!(*subcode, Some(2494010));
                assert_eq!(kind.as_deref(), Some("OAuthException"));
                assert_eq!(message, "(#131047) Re-engagement message");
                assert_eq!(fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.to_string(), "Meta API error: HTTP 400, code 131047");
        assert!(!err.surely_not_sent());
    }

    #[test]
    fn rate_limits_and_unavailability_were_surely_not_sent() {
        for code in [4, 80007, 130429, 131056] {
            let body = format!(r#"{{"error":{{"message":"rate","code":{code}}}}}"#);
            let err = MetaError::from_response(400, body.as_bytes());
            assert!(err.is_rate_limit() && err.surely_not_sent(), "{code}");
        }
        let unavailable = br#"{"error":{"message":"Service unavailable","code":131016}}"#;
        assert!(MetaError::from_response(500, unavailable).surely_not_sent());
        assert!(MetaError::from_response(503, b"<html/>").surely_not_sent());
        let unknown = br#"{"error":{"message":"Something went wrong","code":131000}}"#;
        assert!(!MetaError::from_response(500, unknown).surely_not_sent());
        assert!(!MetaError::from_response(502, b"<html/>").surely_not_sent());
        assert!(!MetaError::Timeout.surely_not_sent());
    }

    #[test]
    fn a_body_that_is_not_meta_json_has_no_code() {
        let err = MetaError::from_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(err.code(), None);
        assert_eq!(err.to_string(), "Meta API error: HTTP 502, code none");
    }
}

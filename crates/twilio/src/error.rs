//! What can go wrong talking to Twilio.
//!
//! Twilio's error messages often repeat the phone number, so `Display` shows the HTTP
//! status and Twilio's error code only; the message stays available in the fields.

use std::time::Duration;

use serde::Deserialize;

/// Twilio error codes we act on.
pub mod codes {
    /// The `To` number is not a valid phone number.
    pub const INVALID_NUMBER: u32 = 21211;
    /// The recipient replied STOP: Twilio refuses to message them.
    pub const UNSUBSCRIBED: u32 = 21610;
    /// WhatsApp free-form message outside the 24-hour session window: use a template.
    pub const OUTSIDE_WINDOW: u32 = 63016;
    /// Too many requests (HTTP 429).
    pub const TOO_MANY_REQUESTS: u32 = 20429;
}

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio: the recipient is not a valid phone number (code 21211)")]
    InvalidNumber {
        message: String,
        more_info: Option<String>,
    },
    #[error("Twilio: the recipient has unsubscribed (code 21610)")]
    Unsubscribed {
        message: String,
        more_info: Option<String>,
    },
    #[error("Twilio: outside the WhatsApp 24-hour window, a template is required (code 63016)")]
    OutsideWindow {
        message: String,
        more_info: Option<String>,
    },
    #[error("Twilio API error: HTTP {status}, code {}", code.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    Api {
        status: u16,
        code: Option<u32>,
        message: String,
        more_info: Option<String>,
        /// Twilio's `Retry-After` (429, 503): when it will take the request again.
        retry_after: Option<Duration>,
    },
    /// The attempt ran out of time. For a send, the message may or may not have been
    /// created, which is why timeouts of sends are not retried.
    #[error("Twilio request timed out")]
    Timeout,
    /// Nothing reached Twilio: the connection, DNS lookup or TLS handshake failed
    /// before the request was written.
    #[error("could not reach Twilio")]
    Transport(#[source] reqwest::Error),
    /// The connection failed after the request was written: like a timeout, a send
    /// may or may not have created the message.
    #[error("the connection to Twilio failed after the request was sent")]
    ConnectionLost(#[source] reqwest::Error),
    #[error("Twilio answered HTTP {status} with a body that is not the expected JSON")]
    InvalidResponse {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
    /// Refused before anything was sent.
    #[error("invalid Twilio request: {0}")]
    InvalidRequest(&'static str),
}

impl TwilioError {
    /// Twilio's error code, when it sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::InvalidNumber { .. } => Some(codes::INVALID_NUMBER),
            Self::Unsubscribed { .. } => Some(codes::UNSUBSCRIBED),
            Self::OutsideWindow { .. } => Some(codes::OUTSIDE_WINDOW),
            Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether trying again later can succeed (rate limit, server error, network).
    /// For a send this is not enough to resend: see [`TwilioError::surely_not_sent`].
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout | Self::Transport(_) | Self::ConnectionLost(_) => true,
            _ => false,
        }
    }

    /// A transient failure of a send after which the message surely does not exist, so
    /// sending it again cannot message the patient twice: the request never reached
    /// Twilio, or Twilio refused to take it (429 rate limit, 503 unavailable). Any
    /// other 5xx may come after the message was created.
    pub fn surely_not_sent(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status == 503,
            Self::Transport(_) => true,
            _ => false,
        }
    }

    /// How long Twilio asked us to wait before trying again, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Builds the error for a non-2xx answer from its JSON body
    /// (`{code, message, more_info, status}`); a body that is not that JSON (a proxy's
    /// HTML page, say) gives a generic [`TwilioError::Api`] with no code.
    pub(crate) fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        #[derive(Deserialize)]
        struct ErrorBody {
            code: Option<u32>,
            message: Option<String>,
            more_info: Option<String>,
        }
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        let (code, message, more_info) = match parsed {
            Some(b) => (b.code, b.message.unwrap_or_default(), b.more_info),
            None => (None, String::new(), None),
        };
        match code {
            Some(codes::INVALID_NUMBER) => Self::InvalidNumber { message, more_info },
            Some(codes::UNSUBSCRIBED) => Self::Unsubscribed { message, more_info },
            Some(codes::OUTSIDE_WINDOW) => Self::OutsideWindow { message, more_info },
            _ => Self::Api {
                status,
                code,
                message,
                more_info,
                retry_after,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_become_typed_errors() {
        let body = br#"{"code": 21211, "message": "The 'To' number +15005550001 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let err = TwilioError::from_response(400, body, None);
        assert!(matches!(err, TwilioError::InvalidNumber { .. }), "{err:?}");
        assert_eq!(err.code(), Some(21211));
        assert!(!err.is_transient());
        // The number Twilio echoes back must not reach logs through Display.
        assert!(!err.to_string().contains("15005550001"));

        assert!(matches!(
            TwilioError::from_response(400, br#"{"code":21610,"message":"m","status":400}"#, None),
            TwilioError::Unsubscribed { .. }
        ));
        assert!(matches!(
            TwilioError::from_response(400, br#"{"code":63016,"message":"m","status":400}"#, None),
            TwilioError::OutsideWindow { .. }
        ));
    }

    #[test]
    fn other_codes_and_non_json_bodies_are_generic() {
        let err = TwilioError::from_response(
            401,
            br#"{"code":20003,"message":"Authenticate","more_info":"x","status":401}"#,
            None,
        );
        match &err {
            TwilioError::Api {
                status,
                code,
                message,
                more_info,
                retry_after,
            } => {
                assert_eq!(*status, 401);
                assert_eq!(*retry_after, None);
                assert_eq!(*code, Some(20003));
                assert_eq!(message, "Authenticate");
                assert_eq!(more_info.as_deref(), Some("x"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.to_string(), "Twilio API error: HTTP 401, code 20003");

        let err = TwilioError::from_response(502, b"<html>Bad Gateway</html>", None);
        assert!(matches!(
            err,
            TwilioError::Api {
                status: 502,
                code: None,
                ..
            }
        ));
        assert!(err.is_transient());
        assert!(
            !err.surely_not_sent(),
            "a 502 may come after the message was created"
        );
        assert_eq!(err.to_string(), "Twilio API error: HTTP 502, code none");
    }

    #[test]
    fn rate_limits_keep_retry_after_and_were_surely_not_sent() {
        let err = TwilioError::from_response(
            429,
            br#"{"code":20429,"message":"Too Many Requests","status":429}"#,
            Some(Duration::from_secs(7)),
        );
        assert_eq!(err.code(), Some(codes::TOO_MANY_REQUESTS));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.surely_not_sent());
        assert!(TwilioError::from_response(503, b"", None).surely_not_sent());
        assert!(!TwilioError::from_response(500, b"", None).surely_not_sent());
        assert!(!TwilioError::from_response(400, b"", None).surely_not_sent());
        assert!(!TwilioError::Timeout.surely_not_sent());
    }
}

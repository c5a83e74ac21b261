//! What can go wrong talking to Twilio.
//!
//! Twilio's error messages often repeat the phone number, so `Display` shows the HTTP
//! status and Twilio's error code only; the message stays available in the fields.

use serde::Deserialize;

/// Twilio error codes we act on.
pub mod codes {
    /// The `To` number is not a valid phone number.
    pub const INVALID_NUMBER: u32 = 21211;
    /// The recipient replied STOP: Twilio refuses to message them.
    pub const UNSUBSCRIBED: u32 = 21610;
    /// WhatsApp free-form message outside the 24-hour session window: use a template.
    pub const OUTSIDE_WINDOW: u32 = 63016;
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
    },
    /// The attempt ran out of time. For a send, the message may or may not have been
    /// created, which is why timeouts of sends are not retried.
    #[error("Twilio request timed out")]
    Timeout,
    #[error("could not reach Twilio")]
    Transport(#[source] reqwest::Error),
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
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout | Self::Transport(_) => true,
            _ => false,
        }
    }

    /// Builds the error for a non-2xx answer from its JSON body
    /// (`{code, message, more_info, status}`); a body that is not that JSON (a proxy's
    /// HTML page, say) gives a generic [`TwilioError::Api`] with no code.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
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
        let err = TwilioError::from_response(400, body);
        assert!(matches!(err, TwilioError::InvalidNumber { .. }), "{err:?}");
        assert_eq!(err.code(), Some(21211));
        assert!(!err.is_transient());
        // The number Twilio echoes back must not reach logs through Display.
        assert!(!err.to_string().contains("15005550001"));

        assert!(matches!(
            TwilioError::from_response(400, br#"{"code":21610,"message":"m","status":400}"#),
            TwilioError::Unsubscribed { .. }
        ));
        assert!(matches!(
            TwilioError::from_response(400, br#"{"code":63016,"message":"m","status":400}"#),
            TwilioError::OutsideWindow { .. }
        ));
    }

    #[test]
    fn other_codes_and_non_json_bodies_are_generic() {
        let err = TwilioError::from_response(
            401,
            br#"{"code":20003,"message":"Authenticate","more_info":"x","status":401}"#,
        );
        match &err {
            TwilioError::Api {
                status,
                code,
                message,
                more_info,
            } => {
                assert_eq!(*status, 401);
                assert_eq!(*code, Some(20003));
                assert_eq!(message, "Authenticate");
                assert_eq!(more_info.as_deref(), Some("x"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.to_string(), "Twilio API error: HTTP 401, code 20003");

        let err = TwilioError::from_response(502, b"<html>Bad Gateway</html>");
        assert!(matches!(
            err,
            TwilioError::Api {
                status: 502,
                code: None,
                ..
            }
        ));
        assert!(err.is_transient());
        assert_eq!(err.to_string(), "Twilio API error: HTTP 502, code none");
    }
}

//! Meta WhatsApp Cloud API configuration: access token, sender, Graph API base,
//! timeouts and retry policy.

use std::fmt;
use std::time::Duration;

use prm_twilio::RetryPolicy;
use secrecy::{ExposeSecret, SecretString};

/// Where the Graph API lives unless `WHATSAPP_GRAPH_API_BASE` says otherwise. The API
/// version is part of the base, so moving to a new version is a configuration change.
pub const DEFAULT_GRAPH_API_BASE: &str = "https://graph.facebook.com/v21.0";

/// How the client talks to Meta. `Debug` never prints the access token.
#[derive(Clone)]
pub struct MetaConfig {
    /// `WHATSAPP_ACCESS_TOKEN`: a system user's token, sent as a bearer token.
    pub access_token: SecretString,
    /// `WHATSAPP_PHONE_NUMBER_ID`: Meta's id of the clinic's WhatsApp number (not the
    /// number itself); messages are sent from it.
    pub phone_number_id: String,
    /// `WHATSAPP_GRAPH_API_BASE`, version included, without a trailing slash.
    pub graph_api_base: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt (connect, send, read the answer).
    pub request_timeout: Duration,
    /// The same policy as Twilio's: only what surely did not reach Meta is retried.
    pub retry: RetryPolicy,
}

/// A configuration problem, naming the variable at fault (never its secret value).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} must be set to send WhatsApp messages through Meta")]
    Missing { var: &'static str },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("could not build the HTTP client for Meta")]
    HttpClient(#[source] reqwest::Error),
}

impl fmt::Debug for MetaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaConfig")
            .field("access_token", &"[REDACTED]")
            .field("phone_number_id", &self.phone_number_id)
            .field("graph_api_base", &self.graph_api_base)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl MetaConfig {
    /// Credentials with every other setting at its default.
    pub fn new(access_token: SecretString, phone_number_id: impl Into<String>) -> Self {
        Self {
            access_token,
            phone_number_id: phone_number_id.into(),
            graph_api_base: DEFAULT_GRAPH_API_BASE.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
        }
    }

    /// Points the client at another Graph API base (another version, or a fake in tests).
    pub fn with_graph_api_base(mut self, graph_api_base: impl Into<String>) -> Self {
        self.graph_api_base = graph_api_base.into().trim_end_matches('/').to_owned();
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// The Meta sender's section of the configuration: `WHATSAPP_ACCESS_TOKEN` and
    /// `WHATSAPP_PHONE_NUMBER_ID` (`None` unless both are set) and
    /// `WHATSAPP_GRAPH_API_BASE`. `lookup` gives a variable's value (blank is unset);
    /// errors name the variable, never the token.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let base = graph_api_base(&lookup)?;
        let (Some(token), Some(id)) = (
            var("WHATSAPP_ACCESS_TOKEN"),
            var("WHATSAPP_PHONE_NUMBER_ID"),
        ) else {
            return Ok(None);
        };
        let config = Self::new(SecretString::from(token), id).with_graph_api_base(base);
        config.validate()?;
        Ok(Some(config))
    }

    /// Checks what the client relies on; [`crate::MetaClient::new`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let token = self.access_token.expose_secret();
        if token.trim().is_empty() {
            return Err(ConfigError::Missing {
                var: "WHATSAPP_ACCESS_TOKEN",
            });
        }
        // It goes into a header: visible ASCII only (a pasted newline would fail every send).
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Invalid {
                var: "WHATSAPP_ACCESS_TOKEN",
                reason: "must be printable ASCII without spaces".into(),
            });
        }
        if self.phone_number_id.is_empty() {
            return Err(ConfigError::Missing {
                var: "WHATSAPP_PHONE_NUMBER_ID",
            });
        }
        // It goes into the URL path; Meta's ids are digits.
        if !self.phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                var: "WHATSAPP_PHONE_NUMBER_ID",
                reason: "Meta's phone number id is digits only (it is not the phone number)".into(),
            });
        }
        let invalid_base = |reason: &str| ConfigError::Invalid {
            var: "WHATSAPP_GRAPH_API_BASE",
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(&self.graph_api_base)
            .map_err(|e| invalid_base(&format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid_base("must be an http or https URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid_base("must not have a query or fragment"));
        }
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                var: "retry.max_attempts",
                reason: "at least one attempt is needed".into(),
            });
        }
        Ok(())
    }
}

/// `WHATSAPP_GRAPH_API_BASE` (an http(s) URL, version included), or the default.
/// Also what media ids of inbound messages are resolved against.
pub fn graph_api_base(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    match lookup("WHATSAPP_GRAPH_API_BASE")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        None => Ok(DEFAULT_GRAPH_API_BASE.to_owned()),
        Some(base) if base.starts_with("http://") || base.starts_with("https://") => {
            Ok(base.trim_end_matches('/').to_owned())
        }
        Some(_) => Err(ConfigError::Invalid {
            var: "WHATSAPP_GRAPH_API_BASE",
            reason: "must be an http:// or https:// URL".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meta_section_names_its_variables() {
        let from = |vars: &'static [(&'static str, &'static str)]| {
            MetaConfig::from_lookup(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert!(matches!(from(&[]), Ok(None)));
        assert!(matches!(from(&[("WHATSAPP_ACCESS_TOKEN", "t")]), Ok(None)));
        let config = from(&[
            ("WHATSAPP_ACCESS_TOKEN", "token"),
            ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
            ("WHATSAPP_GRAPH_API_BASE", "http://127.0.0.1:9/v21.0/"),
        ]);
        let Ok(Some(config)) = config else {
            panic!("refused")
        };
        assert_eq!(config.graph_api_base, "http://127.0.0.1:9/v21.0");
        for (vars, expected) in [
            (
                &[("WHATSAPP_GRAPH_API_BASE", "graph.facebook.com")][..],
                "WHATSAPP_GRAPH_API_BASE",
            ),
            (
                &[
                    ("WHATSAPP_ACCESS_TOKEN", "token"),
                    ("WHATSAPP_PHONE_NUMBER_ID", "+1 555"),
                ],
                "WHATSAPP_PHONE_NUMBER_ID",
            ),
        ] {
            match from(vars) {
                Err(ConfigError::Invalid { var, .. }) => assert_eq!(var, expected),
                other => panic!("{vars:?}: {other:?}"),
            }
        }
    }

    fn config(token: &str, id: &str) -> MetaConfig {
        MetaConfig::new(SecretString::from(token.to_owned()), id)
    }

    #[test]
    fn defaults_point_at_the_graph_api_with_its_version() {
        let config = config("EAAG-token", "106540352242922");
        assert_eq!(config.graph_api_base, "https://graph.facebook.com/v21.0");
        assert!(config.validate().is_ok());
        let newer = config.with_graph_api_base("https://graph.facebook.com/v23.0/");
        assert_eq!(newer.graph_api_base, "https://graph.facebook.com/v23.0");
    }

    #[test]
    fn validation_names_the_variable() {
        for (var, bad) in [
            ("WHATSAPP_ACCESS_TOKEN", config("", "1065")),
            ("WHATSAPP_ACCESS_TOKEN", config("EAAG\ntoken", "1065")),
            ("WHATSAPP_PHONE_NUMBER_ID", config("t", "")),
            ("WHATSAPP_PHONE_NUMBER_ID", config("t", "+573001234567")),
            ("WHATSAPP_PHONE_NUMBER_ID", config("t", "1065/../me")),
            (
                "WHATSAPP_GRAPH_API_BASE",
                config("t", "1065").with_graph_api_base("ftp://graph.example"),
            ),
            (
                "WHATSAPP_GRAPH_API_BASE",
                config("t", "1065").with_graph_api_base("graph.facebook.com"),
            ),
        ] {
            match bad.validate() {
                Err(ConfigError::Invalid { var: got, .. } | ConfigError::Missing { var: got }) => {
                    assert_eq!(got, var);
                }
                other => panic!("expected {var} to be rejected, got {other:?}"),
            }
        }
    }

    #[test]
    fn debug_redacts_the_token() {
        let printed = format!("{:?}", config("EAAG-super-secret", "1065"));
        assert!(!printed.contains("super-secret"), "{printed}");
        assert!(printed.contains("REDACTED") && printed.contains("1065"));
    }
}

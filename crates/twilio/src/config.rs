//! Twilio configuration: credentials, API base URL, timeouts and retry policy.

use std::fmt;
use std::time::Duration;

use prm_domain::PhoneNumber;
use secrecy::SecretString;

/// Where the REST API lives unless `TWILIO_API_BASE` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// How the client talks to Twilio. `Debug` never prints the auth token.
#[derive(Clone)]
pub struct TwilioConfig {
    /// `TWILIO_ACCOUNT_SID` (`AC…`); also the basic-auth user name.
    pub account_sid: String,
    /// `TWILIO_AUTH_TOKEN`; the basic-auth password and the webhook signing key.
    pub auth_token: SecretString,
    /// `TWILIO_API_BASE`, without a trailing slash: the default, a regional edge
    /// (`https://api.dublin.ie1.twilio.com`) or a local fake in tests.
    pub api_base: String,
    /// `TWILIO_WHATSAPP_NUMBER`: the WhatsApp sender. The client does not need it; the
    /// outbound messaging adapter does.
    pub whatsapp_number: Option<PhoneNumber>,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt (connect, send, read the answer).
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

/// Retries of requests that surely did not take effect: rate limits (429), a service
/// that is unavailable (503) and connections that never opened. A send is never
/// retried once it may have created a message (see [`crate::TwilioError::surely_not_sent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time, with jitter.
    pub initial_backoff: Duration,
    /// Upper bound of the exponential backoff.
    pub max_backoff: Duration,
    /// The most one request spends waiting between attempts, backoff and `Retry-After`
    /// together. A wait that would pass it ends the request with the last error, which
    /// keeps the provider's `Retry-After`: the caller schedules the message for later
    /// instead of holding a worker for minutes.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry: one attempt.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1 for the first retry): exponential,
    /// capped, with "equal jitter" (between half and all of the exponential delay) so
    /// that many clients do not retry in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let exponential = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = exponential / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if jitter_nanos == 0 {
            0
        } else {
            rand::random_range(0..=jitter_nanos)
        };
        half + Duration::from_nanos(jitter)
    }
}

/// A configuration problem, naming the variable at fault (never its secret value).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} must be set when TWILIO_ACCOUNT_SID is set")]
    Missing { var: &'static str },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("could not build the HTTP client for Twilio")]
    HttpClient(#[source] reqwest::Error),
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[REDACTED]")
            .field("api_base", &self.api_base)
            .field("whatsapp_number", &self.whatsapp_number)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl TwilioConfig {
    /// Credentials with every other setting at its default.
    pub fn new(account_sid: impl Into<String>, auth_token: SecretString) -> Self {
        Self {
            account_sid: account_sid.into(),
            auth_token,
            api_base: DEFAULT_API_BASE.to_owned(),
            whatsapp_number: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
        }
    }

    /// Points the client at another base URL (a regional edge, or a fake in tests).
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into().trim_end_matches('/').to_owned();
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

    /// The Twilio section of the configuration: `TWILIO_ACCOUNT_SID` and
    /// `TWILIO_AUTH_TOKEN` (both, or neither: `None`), `TWILIO_WHATSAPP_NUMBER` in
    /// international form and `TWILIO_API_BASE`. `lookup` gives a variable's value
    /// (blank is unset); errors name the variable, never a secret.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (sid, token) = match (var("TWILIO_ACCOUNT_SID"), var("TWILIO_AUTH_TOKEN")) {
            (Some(sid), Some(token)) => (sid, token),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "TWILIO_AUTH_TOKEN",
                });
            }
            _ => return Ok(None),
        };
        let mut config = Self::new(sid, SecretString::from(token));
        if let Some(base) = var("TWILIO_API_BASE") {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    var: "TWILIO_API_BASE",
                    reason: "must be an http:// or https:// URL".into(),
                });
            }
            config = config.with_api_base(base);
        }
        config.whatsapp_number = var("TWILIO_WHATSAPP_NUMBER")
            .map(|raw| {
                let raw = raw.trim_start_matches("whatsapp:").trim();
                let invalid = |reason: String| ConfigError::Invalid {
                    var: "TWILIO_WHATSAPP_NUMBER",
                    reason,
                };
                if !raw.starts_with('+') {
                    return Err(invalid(
                        "must be in international form, e.g. +14155238886".into(),
                    ));
                }
                PhoneNumber::parse(raw, "1").map_err(|e| invalid(e.to_string()))
            })
            .transpose()?;
        config.validate()?;
        Ok(Some(config))
    }

    /// Checks what the client relies on; [`crate::TwilioClient::new`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sid = &self.account_sid;
        // The SID goes into the URL path, so it must be plain alphanumerics.
        if !sid.starts_with("AC")
            || sid.len() < 3
            || !sid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::Invalid {
                var: "TWILIO_ACCOUNT_SID",
                reason: "an account SID starts with `AC` followed by letters and digits".into(),
            });
        }
        if secrecy::ExposeSecret::expose_secret(&self.auth_token).is_empty() {
            return Err(ConfigError::Missing {
                var: "TWILIO_AUTH_TOKEN",
            });
        }
        let invalid_base = |reason: &str| ConfigError::Invalid {
            var: "TWILIO_API_BASE",
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(&self.api_base)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<TwilioConfig>, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TwilioConfig::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn variable(result: Result<Option<TwilioConfig>, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Missing { var } | ConfigError::Invalid { var, .. }) => var,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn the_twilio_section_is_all_or_nothing_and_names_its_variables() {
        assert!(matches!(from(&[]), Ok(None)));
        assert!(matches!(from(&[("TWILIO_AUTH_TOKEN", "t")]), Ok(None)));
        let config = from(&[
            ("TWILIO_ACCOUNT_SID", "AC0123"),
            ("TWILIO_AUTH_TOKEN", "secret-token"),
            ("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155238886"),
            ("TWILIO_API_BASE", "https://api.dublin.ie1.twilio.com/"),
        ]);
        let Ok(Some(config)) = config else {
            panic!("refused: {config:?}")
        };
        assert_eq!(config.api_base, "https://api.dublin.ie1.twilio.com");
        assert_eq!(
            config.whatsapp_number.as_ref().map(|n| n.as_str()),
            Some("+14155238886")
        );
        assert_eq!(
            variable(from(&[("TWILIO_ACCOUNT_SID", "AC123")])),
            "TWILIO_AUTH_TOKEN"
        );
        assert_eq!(
            variable(from(&[
                ("TWILIO_ACCOUNT_SID", "XX1"),
                ("TWILIO_AUTH_TOKEN", "t")
            ])),
            "TWILIO_ACCOUNT_SID"
        );
        for (name, value) in [
            ("TWILIO_WHATSAPP_NUMBER", "4155238886"),
            ("TWILIO_API_BASE", "ftp://twilio"),
        ] {
            assert_eq!(
                variable(from(&[
                    ("TWILIO_ACCOUNT_SID", "AC1"),
                    ("TWILIO_AUTH_TOKEN", "t"),
                    (name, value)
                ])),
                name
            );
        }
    }

    fn config(sid: &str, token: &str) -> TwilioConfig {
        TwilioConfig::new(sid, SecretString::from(token.to_owned()))
    }

    #[test]
    fn defaults_point_at_twilio_with_bounded_retries() {
        let config = config("AC0123456789abcdef0123456789abcdef", "s3cret-token");
        assert_eq!(config.api_base, DEFAULT_API_BASE);
        assert_eq!(config.retry.max_attempts, 3);
        assert!(config.validate().is_ok());
        let edge = config.with_api_base("https://api.dublin.ie1.twilio.com/");
        assert_eq!(edge.api_base, "https://api.dublin.ie1.twilio.com");
        assert!(edge.validate().is_ok());
    }

    #[test]
    fn validation_names_the_variable() {
        assert!(matches!(
            config("AC123", "").validate(),
            Err(ConfigError::Missing {
                var: "TWILIO_AUTH_TOKEN"
            })
        ));
        for (var, bad) in [
            ("TWILIO_ACCOUNT_SID", config("AC12/../x", "t")),
            ("TWILIO_ACCOUNT_SID", config("SK123", "t")),
            (
                "TWILIO_API_BASE",
                config("AC123", "t").with_api_base("ftp://example.com"),
            ),
            (
                "TWILIO_API_BASE",
                config("AC123", "t").with_api_base("not a url"),
            ),
        ] {
            match bad.validate() {
                Err(ConfigError::Invalid { var: got, .. }) => assert_eq!(got, var),
                other => panic!("expected {var} to be rejected, got {other:?}"),
            }
        }
    }

    #[test]
    fn debug_redacts_the_token() {
        let config =
            TwilioConfig::new("AC123", SecretString::from("super-secret-token".to_owned()));
        let printed = format!("{config:?}");
        assert!(!printed.contains("super-secret-token"), "{printed}");
        assert!(printed.contains("REDACTED"));
        assert!(printed.contains("AC123"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_wait: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = policy.backoff(2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let capped = policy.backoff(10);
            assert!(capped >= Duration::from_millis(150) && capped <= Duration::from_millis(300));
        }
        assert_eq!(RetryPolicy::none().max_attempts, 1);
    }
}

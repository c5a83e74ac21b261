//! Configuration from the environment (and an optional `.env`), validated once at
//! start so a misconfigured service refuses to run and names the variable at fault.
//! Every variable is listed in `.env.example`.

use std::{collections::HashMap, fmt, num::NonZeroU32, str::FromStr, sync::Arc, time::Duration};

use prm_domain::Locale;
use secrecy::SecretString;

/// A configuration value that could not be used, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// One rate limit: a sustained rate per client (one request per `period`) and the
/// burst a client may send at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub period: Duration,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` may be fractional (0.5 = one request every 2 s); it must be positive.
    /// The period is kept between a nanosecond and a day, so any rate is representable.
    pub fn new(per_second: f64, burst: NonZeroU32) -> Option<Self> {
        (per_second.is_finite() && per_second > 0.0).then(|| Self {
            period: Duration::from_secs_f64((1.0 / per_second).clamp(1e-9, 86_400.0)),
            burst,
        })
    }
}

/// Per-client request limits (`RATE_LIMIT_*`). `None` turns a class off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Clinic endpoints under `/api/v1/prm/` (not webhooks).
    pub api: Option<RateLimit>,
    /// Provider webhooks under `/api/v1/prm/webhooks/`.
    pub webhooks: Option<RateLimit>,
    /// `TRUSTED_PROXY_HOPS`: how many reverse proxies in front of the service append to
    /// `X-Forwarded-For`. 0 means clients connect directly and the header is ignored,
    /// so nobody can dodge the limit by sending one.
    pub trusted_proxy_hops: usize,
}

/// The variables a binary was started with (the environment, or a map in tests), kept so
/// that each service and adapter parses its own section of the configuration.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

/// How a variable's value is found.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Env {
    pub fn new(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(lookup))
    }

    /// The process environment.
    pub fn process() -> Self {
        Self::new(|name| std::env::var(name).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Self {
        let vars = vars.clone();
        Self::new(move |name| vars.get(name).cloned())
    }

    /// The trimmed value; unset and blank are the same.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn secret(&self, name: &str) -> Option<SecretString> {
        self.var(name).map(SecretString::from)
    }

    /// The value parsed as `T`, or `default` when unset; the error names the variable.
    pub fn parse_or<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        parse_or(&|n: &str| self.var(n), name, default)
    }

    /// An `http(s)://` URL without its trailing slash, if set.
    pub fn optional_url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        optional_url(&|n: &str| self.var(n), name)
    }

    pub fn url_or(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        url_or(&|n: &str| self.var(n), name, default)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env(..)")
    }
}

/// What the platform and the runtime read from the environment. Each service (and each
/// adapter it builds) parses its own section from [`Settings::env`]: the webhooks'
/// provider secrets, Twilio's, Meta's and the AI engines' settings live with the crates
/// that use them.
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub environment: Environment,
    pub database_url: SecretString,
    pub redis_url: Option<SecretString>,
    pub redis_key_prefix: String,
    pub conversation_state_ttl: Duration,
    pub amqp_url: Option<SecretString>,
    /// `AMQP_NAME_PREFIX`: prepended to exchange and queue names, so several
    /// environments (or test runs) can share one broker without seeing each other.
    pub amqp_name_prefix: String,
    pub api_keys: Vec<SecretString>,
    pub public_base_url: String,
    pub default_country_code: String,
    pub default_locale: Locale,
    pub otel_endpoint: Option<String>,
    pub otel_service_name: Option<String>,
    /// `LOG_FORMAT`; unset: pretty on a terminal, JSON otherwise.
    pub log_format: Option<crate::telemetry::LogFormat>,
    pub max_body_bytes: usize,
    pub rate_limits: RateLimitSettings,
    /// Every variable, for the sections services parse themselves.
    env: Env,
}

/// Secrets are never printed; this shows which integrations are configured.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("environment", &self.environment)
            .field("database", &self.database_kind())
            .field("redis", &self.redis_url.is_some())
            .field("amqp", &self.amqp_url.is_some())
            .field("api_keys", &self.api_keys.len())
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

/// A missing `.env` is fine; one that cannot be read is not: the variables after the bad
/// line would be silently ignored and the service started with defaults. The error names
/// the variable of the bad line but never prints its value (it may be a secret).
fn dotenv_loaded(result: dotenvy::Result<std::path::PathBuf>) -> Result<(), ConfigError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(dotenvy::Error::LineParse(line, _)) => {
            let name = line
                .split('=')
                .next()
                .map(str::trim)
                .filter(|n| {
                    !n.is_empty()
                        && n.len() <= 64
                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(|n| format!(" the line of `{n}`"))
                .unwrap_or_else(|| " a line".to_owned());
            Err(ConfigError::new(
                ".env",
                format!(
                    "cannot parse{name} (NAME=value, with the value quoted if it has spaces or quotes)"
                ),
            ))
        }
        Err(e) => Err(ConfigError::new(".env", format!("cannot be read: {e}"))),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/prm.db?mode=rwc";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Clinic API: (requests per second, burst) per client address.
pub const DEFAULT_API_RATE: (u32, u32) = (100, 200);
/// Webhooks: providers deliver from a few addresses, in bursts after an outage.
pub const DEFAULT_WEBHOOK_RATE: (u32, u32) = (200, 400);

impl Settings {
    /// Reads `.env` (if present, without overriding the real environment), then the environment.
    pub fn from_env(default_port: u16) -> Result<Self, ConfigError> {
        dotenv_loaded(dotenvy::dotenv())?;
        Self::from_lookup(default_port, |name| std::env::var(name).ok())
    }

    /// The variables of this configuration, for sections a service parses itself.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// One variable, trimmed (unset and blank are the same).
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name)
    }

    /// Builds settings from a map; handy for tests and tools.
    pub fn from_map(
        default_port: u16,
        vars: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        Self::from_env_vars(default_port, Env::from_map(vars))
    }

    pub fn from_lookup(
        default_port: u16,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        Self::from_env_vars(default_port, Env::new(lookup))
    }

    fn from_env_vars(default_port: u16, env: Env) -> Result<Self, ConfigError> {
        let var = |name: &str| env.var(name);

        let port = parse_or(&var, "PORT", default_port)?;
        let environment = match var("PRM_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::new(
                    "PRM_ENV",
                    format!("`{other}` is neither `development` nor `production`"),
                ));
            }
        };

        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
            || database_url.starts_with("sqlite:"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        let redis_url = var("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::new(
                "REDIS_URL",
                "must start with redis:// or rediss://",
            ));
        }
        let amqp_url = var("AMQP_URL");
        if let Some(url) = &amqp_url
            && !(url.starts_with("amqp://") || url.starts_with("amqps://"))
        {
            return Err(ConfigError::new(
                "AMQP_URL",
                "must start with amqp:// or amqps://",
            ));
        }

        let api_keys: Vec<SecretString> = var("PRM_API_KEYS")
            .map(|keys| {
                keys.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| SecretString::from(k.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(raw) = var("PRM_API_KEYS")
            && raw
                .split(',')
                .map(str::trim)
                .any(|k| !k.is_empty() && k.len() < 16)
        {
            return Err(ConfigError::new(
                "PRM_API_KEYS",
                "every key must be at least 16 characters",
            ));
        }
        // Production requires keys only of binaries that serve clinic endpoints: the
        // host checks that (prm-runtime), since only it knows which services it runs.

        let public_base_url = var("PUBLIC_BASE_URL")
            .unwrap_or_else(|| format!("http://localhost:{port}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_base_url.starts_with("http://") || public_base_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "PUBLIC_BASE_URL",
                "must be an http:// or https:// URL",
            ));
        }

        let default_country_code = var("DEFAULT_COUNTRY_CODE").unwrap_or_else(|| "57".to_owned());
        let default_country_code = default_country_code.trim_start_matches('+').to_owned();
        if default_country_code.is_empty()
            || default_country_code.len() > 3
            || !default_country_code.bytes().all(|b| b.is_ascii_digit())
            || default_country_code.starts_with('0')
        {
            return Err(ConfigError::new(
                "DEFAULT_COUNTRY_CODE",
                "must be a country calling code of 1 to 3 digits, e.g. 57",
            ));
        }
        let default_locale = match var("DEFAULT_LOCALE") {
            None => Locale::Es,
            Some(raw) => raw
                .parse()
                .map_err(|e: String| ConfigError::new("DEFAULT_LOCALE", e))?,
        };

        let max_body_bytes = parse_or(&var, "PRM_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        if max_body_bytes < 1024 {
            return Err(ConfigError::new(
                "PRM_MAX_BODY_BYTES",
                "must be at least 1024",
            ));
        }
        let ttl_secs: u64 = parse_or(&var, "CONVERSATION_STATE_TTL_SECS", 900)?;
        if ttl_secs == 0 {
            return Err(ConfigError::new(
                "CONVERSATION_STATE_TTL_SECS",
                "must be positive",
            ));
        }

        let rate_limits = RateLimitSettings {
            api: rate_limit(
                &var,
                ("RATE_LIMIT_API_PER_SECOND", DEFAULT_API_RATE.0),
                ("RATE_LIMIT_API_BURST", DEFAULT_API_RATE.1),
            )?,
            webhooks: rate_limit(
                &var,
                ("RATE_LIMIT_WEBHOOKS_PER_SECOND", DEFAULT_WEBHOOK_RATE.0),
                ("RATE_LIMIT_WEBHOOKS_BURST", DEFAULT_WEBHOOK_RATE.1),
            )?,
            trusted_proxy_hops: parse_or(&var, "TRUSTED_PROXY_HOPS", 0)?,
        };
        if rate_limits.trusted_proxy_hops > 10 {
            return Err(ConfigError::new(
                "TRUSTED_PROXY_HOPS",
                "must be between 0 and 10",
            ));
        }

        Ok(Self {
            host: var("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port,
            environment,
            database_url: SecretString::from(database_url),
            redis_url: redis_url.map(SecretString::from),
            redis_key_prefix: var("REDIS_KEY_PREFIX").unwrap_or_default(),
            conversation_state_ttl: Duration::from_secs(ttl_secs),
            amqp_url: amqp_url.map(SecretString::from),
            amqp_name_prefix: var("AMQP_NAME_PREFIX").unwrap_or_default(),
            api_keys,
            public_base_url,
            default_country_code,
            default_locale,
            otel_endpoint: optional_url(&var, "OTEL_EXPORTER_OTLP_ENDPOINT")?,
            otel_service_name: var("OTEL_SERVICE_NAME"),
            log_format: var("LOG_FORMAT")
                .map(|raw| {
                    raw.parse()
                        .map_err(|e: String| ConfigError::new("LOG_FORMAT", e))
                })
                .transpose()?,
            max_body_bytes,
            rate_limits,
            env,
        })
    }

    /// `postgres` or `sqlite`, for logs and the start banner (never the URL: it may hold a password).
    pub fn database_kind(&self) -> &'static str {
        use secrecy::ExposeSecret;
        if self.database_url.expose_secret().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn listen_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn parse_or<T: FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|e: T::Err| ConfigError::new(name, format!("`{raw}` is not valid: {e}"))),
    }
}

/// A rate (requests per second, fractions allowed) and its burst; a rate of 0 turns the
/// limit off.
fn rate_limit(
    var: &impl Fn(&str) -> Option<String>,
    (rate_name, default_rate): (&'static str, u32),
    (burst_name, default_burst): (&'static str, u32),
) -> Result<Option<RateLimit>, ConfigError> {
    let per_second: f64 = parse_or(var, rate_name, f64::from(default_rate))?;
    if !(0.0..=1_000_000.0).contains(&per_second) {
        return Err(ConfigError::new(
            rate_name,
            "must be between 0 (off) and 1000000 requests per second",
        ));
    }
    let burst = NonZeroU32::new(parse_or(var, burst_name, default_burst)?)
        .ok_or_else(|| ConfigError::new(burst_name, "must be at least 1"))?;
    Ok(RateLimit::new(per_second, burst))
}

fn optional_url(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match var(name) {
        None => Ok(None),
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Some(url.trim_end_matches('/').to_owned()))
        }
        Some(_) => Err(ConfigError::new(name, "must be an http:// or https:// URL")),
    }
}

fn url_or(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    Ok(optional_url(var, name)?.unwrap_or_else(|| default.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn dotenv_file(content: &str) -> Result<(), ConfigError> {
        let dir = std::env::temp_dir().join(format!("prm-dotenv-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, content).unwrap();
        // The bad line comes first, so nothing reaches this process's environment.
        let result = dotenv_loaded(dotenvy::from_path(&path).map(|()| path.clone()));
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    #[test]
    fn a_dotenv_that_cannot_be_parsed_stops_the_start_naming_the_variable_not_its_value() {
        let err = dotenv_file("TWILIO_AUTH_TOKEN=\"s3cr3t value\nPORT=1\n").unwrap_err();
        assert_eq!(err.variable, ".env");
        assert!(err.message.contains("`TWILIO_AUTH_TOKEN`"), "{err}");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let err = dotenv_file("not a variable at all\n").unwrap_err();
        assert_eq!(err.variable, ".env");
        assert!(err.message.contains("cannot parse a line"), "{err}");
    }

    #[test]
    fn no_dotenv_is_fine() {
        let missing = std::env::temp_dir().join(format!("prm-none-{}/.env", uuid::Uuid::new_v4()));
        assert_eq!(
            dotenv_loaded(dotenvy::from_path(&missing).map(|()| missing.clone())),
            Ok(())
        );
        assert_eq!(dotenv_file("# only a comment\n"), Ok(()));
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(8003, &map)
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8003);
        assert_eq!(s.host, "0.0.0.0");
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(s.database_kind(), "sqlite");
        assert!(s.redis_url.is_none() && s.amqp_url.is_none());
        assert_eq!(s.public_base_url, "http://localhost:8003");
        assert_eq!(s.conversation_state_ttl, Duration::from_secs(900));
        assert_eq!(s.default_country_code, "57");
        assert_eq!(s.default_locale, Locale::Es);
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        let limit = |(rate, burst): (u32, u32)| {
            RateLimit::new(f64::from(rate), NonZeroU32::new(burst).unwrap()).unwrap()
        };
        assert_eq!(
            s.rate_limits,
            RateLimitSettings {
                api: Some(limit(DEFAULT_API_RATE)),
                webhooks: Some(limit(DEFAULT_WEBHOOK_RATE)),
                trusted_proxy_hops: 0,
            }
        );
    }

    #[test]
    fn a_zero_rate_turns_a_limit_off() {
        let s = settings(&[
            ("RATE_LIMIT_API_PER_SECOND", "0"),
            ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "5"),
            ("RATE_LIMIT_WEBHOOKS_BURST", "7"),
            ("TRUSTED_PROXY_HOPS", "1"),
        ])
        .unwrap();
        assert_eq!(s.rate_limits.api, None);
        let webhooks = s.rate_limits.webhooks.unwrap();
        assert_eq!(webhooks.period, Duration::from_millis(200));
        assert_eq!(webhooks.burst.get(), 7);
        let slow = settings(&[("RATE_LIMIT_API_PER_SECOND", "0.5")]).unwrap();
        assert_eq!(slow.rate_limits.api.unwrap().period, Duration::from_secs(2));
        assert_eq!(s.rate_limits.trusted_proxy_hops, 1);
    }

    #[test]
    fn errors_name_the_offending_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("PORT", "eighty")], "PORT"),
            (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (&[("REDIS_URL", "localhost:6379")], "REDIS_URL"),
            (&[("AMQP_URL", "rabbit")], "AMQP_URL"),
            (&[("PRM_ENV", "staging")], "PRM_ENV"),
            (&[("PRM_API_KEYS", "short")], "PRM_API_KEYS"),
            (&[("DEFAULT_COUNTRY_CODE", "abc")], "DEFAULT_COUNTRY_CODE"),
            (&[("DEFAULT_LOCALE", "fr")], "DEFAULT_LOCALE"),
            (&[("PUBLIC_BASE_URL", "prm.example.com")], "PUBLIC_BASE_URL"),
            (&[("PRM_MAX_BODY_BYTES", "10")], "PRM_MAX_BODY_BYTES"),
            (
                &[("CONVERSATION_STATE_TTL_SECS", "0")],
                "CONVERSATION_STATE_TTL_SECS",
            ),
            (
                &[("RATE_LIMIT_API_PER_SECOND", "fast")],
                "RATE_LIMIT_API_PER_SECOND",
            ),
            (&[("RATE_LIMIT_API_BURST", "0")], "RATE_LIMIT_API_BURST"),
            (
                &[("RATE_LIMIT_API_PER_SECOND", "-1")],
                "RATE_LIMIT_API_PER_SECOND",
            ),
            (
                &[("RATE_LIMIT_WEBHOOKS_PER_SECOND", "NaN")],
                "RATE_LIMIT_WEBHOOKS_PER_SECOND",
            ),
            (
                &[("RATE_LIMIT_WEBHOOKS_BURST", "-1")],
                "RATE_LIMIT_WEBHOOKS_BURST",
            ),
            (&[("TRUSTED_PROXY_HOPS", "11")], "TRUSTED_PROXY_HOPS"),
            (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        ];
        for (vars, expected) in cases {
            let err = settings(vars).expect_err(&format!("{vars:?} accepted"));
            assert_eq!(err.variable, *expected, "{vars:?}: {err}");
            assert!(err.to_string().contains(expected));
        }
    }

    #[test]
    fn parses_production_configuration() {
        let s = settings(&[
            ("PRM_ENV", "production"),
            ("PRM_API_KEYS", "key-0123456789abcdef, key-fedcba9876543210"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/test"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ("PUBLIC_BASE_URL", "https://prm.example.com/"),
            ("DEFAULT_COUNTRY_CODE", "+91"),
            ("DEFAULT_LOCALE", "en"),
        ])
        .unwrap();
        assert_eq!(s.environment, Environment::Production);
        assert_eq!(s.api_keys.len(), 2);
        assert_eq!(s.database_kind(), "postgres");
        assert_eq!(s.public_base_url, "https://prm.example.com");
        assert_eq!(s.default_country_code, "91");
        assert_eq!(s.default_locale, Locale::En);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://user:hunter2@db/prm"),
            ("PRM_API_KEYS", "super-secret-key-123456"),
            ("TWILIO_ACCOUNT_SID", "AC0123"),
            ("TWILIO_AUTH_TOKEN", "twilio-secret-token"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        for secret in ["hunter2", "super-secret-key", "twilio-secret-token"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}

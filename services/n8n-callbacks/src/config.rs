//! The n8n callbacks' own section of the configuration: `N8N_CALLBACK_SECRET`.

use prm_platform::{ConfigError, Environment, Settings};
use secrecy::{ExposeSecret, SecretString};

/// The shortest secret production accepts (as an API key): `openssl rand -hex 32` gives 64.
pub const MIN_SECRET_CHARS: usize = 16;

#[derive(Clone, Debug)]
pub struct CallbacksConfig {
    /// `N8N_CALLBACK_SECRET`: keys `X-PRM-Signature` and is the accepted bearer token.
    /// `None`: every callback is refused (503) while the service keeps running.
    pub secret: Option<SecretString>,
}

impl CallbacksConfig {
    /// Reads `N8N_CALLBACK_SECRET` (blank is unset).
    ///
    /// Production refuses to start with a secret shorter than [`MIN_SECRET_CHARS`]
    /// (e.g. the `change-me` placeholder of `deploy/k8s/secret.example.yaml`), and
    /// without one while `N8N_WEBHOOK_URL` chooses n8n: the triggers would go out
    /// unsigned and every answer would be refused. Without either variable the clinic
    /// does not use n8n (the all-in-one `prm` hosts this service all the same), so the
    /// callbacks are off (503), as the webhooks are for a provider whose secret is unset.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let env = settings.env();
        let secret = env.secret("N8N_CALLBACK_SECRET");
        if settings.environment == Environment::Production {
            match &secret {
                Some(secret) if secret.expose_secret().chars().count() < MIN_SECRET_CHARS => {
                    return Err(ConfigError::new(
                        "N8N_CALLBACK_SECRET",
                        format!(
                            "must be at least {MIN_SECRET_CHARS} characters in production (e.g. `openssl rand -hex 32`)"
                        ),
                    ));
                }
                None if env.var("N8N_WEBHOOK_URL").is_some() => {
                    return Err(ConfigError::new(
                        "N8N_CALLBACK_SECRET",
                        "required in production when N8N_WEBHOOK_URL is set: it signs the triggers and authenticates n8n's callbacks",
                    ));
                }
                _ => {}
            }
        }
        Ok(Self { secret })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<CallbacksConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        CallbacksConfig::from_settings(&Settings::from_map(crate::DEFAULT_PORT, &map)?)
    }

    const PRODUCTION: (&str, &str) = ("PRM_ENV", "production");
    const KEYS: (&str, &str) = ("PRM_API_KEYS", "a-production-key-0123456789");

    #[test]
    fn development_takes_any_secret_or_none() {
        let off = config(&[]).expect("no secret");
        assert!(off.secret.is_none());
        let on = config(&[("N8N_CALLBACK_SECRET", "short")]).expect("short secret");
        assert_eq!(
            on.secret.map(|s| s.expose_secret().to_owned()).as_deref(),
            Some("short")
        );
        assert!(config(&[("N8N_WEBHOOK_URL", "http://n8n/webhook/prm-intake")]).is_ok());
        // Blank is unset.
        assert!(
            config(&[("N8N_CALLBACK_SECRET", "  ")])
                .unwrap()
                .secret
                .is_none()
        );
    }

    #[test]
    fn production_refuses_a_short_secret_and_n8n_without_one_naming_the_variable() {
        for vars in [
            &[PRODUCTION, KEYS, ("N8N_CALLBACK_SECRET", "change-me")][..],
            &[
                PRODUCTION,
                KEYS,
                ("N8N_WEBHOOK_URL", "https://n8n/webhook/prm-intake"),
            ],
        ] {
            match config(vars) {
                Err(e) => assert_eq!(e.variable, "N8N_CALLBACK_SECRET", "{vars:?}: {e}"),
                Ok(_) => panic!("{vars:?} accepted"),
            }
        }
        let long = "0123456789abcdef0123456789abcdef";
        assert!(
            config(&[PRODUCTION, KEYS, ("N8N_CALLBACK_SECRET", long)])
                .unwrap()
                .secret
                .is_some()
        );
        // A clinic without n8n: the callbacks are off, and the suite still starts.
        assert!(config(&[PRODUCTION, KEYS]).unwrap().secret.is_none());
    }
}

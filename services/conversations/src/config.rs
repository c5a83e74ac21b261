//! The conversations service's own section of the configuration.

use std::{num::NonZeroU32, time::Duration};

use prm_ai::{AiSettings, EngineKind, OpenAiConfig};
use prm_domain::Locale;
use prm_platform::{ConfigError, Settings};
use secrecy::SecretString;

/// How the journey talks to n8n (`INTAKE_ENGINE=n8n`).
#[derive(Clone, Debug)]
pub struct N8nSetup {
    /// `N8N_WEBHOOK_URL`: where the §5 trigger is posted.
    pub webhook_url: String,
    /// `N8N_CALLBACK_SECRET`: signs the trigger (`X-PRM-Signature`).
    pub secret: Option<SecretString>,
    /// `N8N_TIMEOUT_SECS` (default 20): how long a turn waits for the workflow before
    /// the built-in rules answer it.
    pub timeout: Duration,
}

/// Everything the service reads besides the platform's settings.
#[derive(Clone, Debug)]
pub struct ConversationsConfig {
    /// `PUBLIC_BASE_URL`: the status callback URL given to Twilio, and n8n's callbacks.
    pub public_base_url: String,
    pub default_locale: Locale,
    pub default_country_code: String,
    /// `EMERGENCY_NUMBER` (default `123`): told to patients with an emergency.
    pub emergency_number: String,
    /// `INTAKE_ENGINE` (§8).
    pub engine: EngineKind,
    pub n8n: Option<N8nSetup>,
    pub openai: Option<OpenAiConfig>,
    /// How long an OpenAI turn may take before the built-in rules answer it.
    pub ai_timeout: Duration,
    /// `CONVERSATION_STATE_TTL_SECS`: the life of the Redis keys of §5.
    pub state_ttl: Duration,
    /// How many recent messages `conversation:{id}:messages` keeps.
    pub recent_messages: usize,
    /// Outbound sending: how many times a message the provider refused to take for now
    /// (rate limit, unavailable) is tried before it is marked failed.
    pub max_send_attempts: i32,
    /// How long a message may stay claimed by a sender before it is given up on as
    /// `failed` / `outcome_unknown` (the sender crashed mid-send).
    pub stuck_send_after: Duration,
    /// How often the sweeper sends what a crash or a delay left pending.
    pub sweep_every: Duration,
    /// `OUTBOUND_RATE_PER_MINUTE` (default 60): bulk sends (reminders, follow-ups,
    /// no-show notes) per sender number and minute.
    pub outbound_rate_per_minute: NonZeroU32,
}

impl ConversationsConfig {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let env = settings.env();
        let ai = AiSettings::from_lookup(|name| env.var(name))
            .map_err(|e| ConfigError::new(e.variable, e.message))?;
        let engine = ai
            .engine()
            .map_err(|e| ConfigError::new(e.variable, e.message))?;
        let n8n_timeout: u64 = env.parse_or("N8N_TIMEOUT_SECS", 20)?;
        if !(1..=600).contains(&n8n_timeout) {
            return Err(ConfigError::new(
                "N8N_TIMEOUT_SECS",
                "must be between 1 and 600",
            ));
        }
        let ai_timeout: u64 = env.parse_or("OPENAI_TIMEOUT_SECS", 15)?;
        if !(1..=120).contains(&ai_timeout) {
            return Err(ConfigError::new(
                "OPENAI_TIMEOUT_SECS",
                "must be between 1 and 120",
            ));
        }
        let emergency_number = env
            .var("EMERGENCY_NUMBER")
            .unwrap_or_else(|| "123".to_owned());
        if emergency_number.len() > 20
            || !emergency_number
                .chars()
                .all(|c| c.is_ascii_digit() || "+ -".contains(c))
        {
            return Err(ConfigError::new(
                "EMERGENCY_NUMBER",
                "must be a phone number (digits, +, spaces, dashes)",
            ));
        }
        let rate: u32 = env.parse_or("OUTBOUND_RATE_PER_MINUTE", 60)?;
        let outbound_rate_per_minute = NonZeroU32::new(rate)
            .filter(|r| r.get() <= 100_000)
            .ok_or_else(|| {
                ConfigError::new("OUTBOUND_RATE_PER_MINUTE", "must be between 1 and 100000")
            })?;
        let openai = ai.openai_api_key.clone().map(|api_key| OpenAiConfig {
            api_key,
            base_url: ai.openai_base_url.clone(),
            model: ai.openai_model.clone(),
            timeout: Duration::from_secs(ai_timeout),
        });
        Ok(Self {
            public_base_url: settings.public_base_url.trim_end_matches('/').to_owned(),
            default_locale: settings.default_locale,
            default_country_code: settings.default_country_code.clone(),
            emergency_number,
            engine,
            n8n: ai.n8n_webhook_url.clone().map(|webhook_url| N8nSetup {
                webhook_url,
                secret: ai.n8n_callback_secret.clone(),
                timeout: Duration::from_secs(n8n_timeout),
            }),
            openai,
            ai_timeout: Duration::from_secs(ai_timeout),
            state_ttl: settings.conversation_state_ttl,
            recent_messages: 20,
            max_send_attempts: 5,
            stuck_send_after: Duration::from_secs(120),
            sweep_every: Duration::from_secs(2),
            outbound_rate_per_minute,
        })
    }

    /// Where Twilio reports delivery status: the webhooks service's status route.
    pub fn status_callback_url(&self) -> String {
        format!("{}/api/v1/prm/webhooks/twilio/status", self.public_base_url)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ConversationsConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ConversationsConfig::from_settings(&Settings::from_map(8002, &map)?)
    }

    #[test]
    fn defaults_are_the_built_in_engine_and_123() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.engine, EngineKind::Builtin);
        assert_eq!(c.emergency_number, "123");
        assert_eq!(c.outbound_rate_per_minute.get(), 60);
        assert!(c.n8n.is_none() && c.openai.is_none());
        assert_eq!(
            c.status_callback_url(),
            "http://localhost:8002/api/v1/prm/webhooks/twilio/status"
        );
    }

    #[test]
    fn the_engine_follows_what_is_configured() {
        let c = config(&[("N8N_WEBHOOK_URL", "http://n8n:5678/webhook/prm-intake")]).unwrap();
        assert_eq!(c.engine, EngineKind::N8n);
        assert_eq!(c.n8n.map(|n| n.timeout), Some(Duration::from_secs(20)));
        let c = config(&[("OPENAI_API_KEY", "sk-test")]).unwrap();
        assert_eq!(c.engine, EngineKind::OpenAi);
        let c = config(&[("OPENAI_API_KEY", "sk-test"), ("INTAKE_ENGINE", "builtin")]).unwrap();
        assert_eq!(c.engine, EngineKind::Builtin);
    }

    #[test]
    fn errors_name_the_variable() {
        for (vars, variable) in [
            (&[("INTAKE_ENGINE", "n8n")][..], "INTAKE_ENGINE"),
            (&[("INTAKE_ENGINE", "gpt")], "INTAKE_ENGINE"),
            (&[("N8N_TIMEOUT_SECS", "0")], "N8N_TIMEOUT_SECS"),
            (&[("N8N_TIMEOUT_SECS", "soon")], "N8N_TIMEOUT_SECS"),
            (&[("OPENAI_TIMEOUT_SECS", "999")], "OPENAI_TIMEOUT_SECS"),
            (
                &[("OUTBOUND_RATE_PER_MINUTE", "0")],
                "OUTBOUND_RATE_PER_MINUTE",
            ),
            (
                &[("OUTBOUND_RATE_PER_MINUTE", "fast")],
                "OUTBOUND_RATE_PER_MINUTE",
            ),
            (
                &[("EMERGENCY_NUMBER", "call the police")],
                "EMERGENCY_NUMBER",
            ),
        ] {
            assert_eq!(
                config(vars).map(|_| ()).map_err(|e| e.variable),
                Err(variable),
                "{vars:?}"
            );
        }
    }
}

//! The AI section of the configuration: which engine answers intake and triage, and how
//! to reach n8n and OpenAI. Parsed by the services that use it (`from_lookup` over the
//! binary's variables), with errors naming the variable and never a secret.

use std::fmt;

use secrecy::SecretString;

use crate::EngineKind;

pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_TRANSCRIPTION_MODEL: &str = "whisper-1";

/// A variable of the AI section that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct AiConfigError {
    pub variable: &'static str,
    pub message: String,
}

/// `INTAKE_ENGINE`, `N8N_*` and `OPENAI_*`.
#[derive(Clone)]
pub struct AiSettings {
    /// `INTAKE_ENGINE` as written; [`AiSettings::engine`] decides with it.
    pub intake_engine: Option<String>,
    /// `N8N_WEBHOOK_URL`: the intake workflow's trigger.
    pub n8n_webhook_url: Option<String>,
    /// `N8N_CALLBACK_SECRET`: signs n8n's callbacks.
    pub n8n_callback_secret: Option<SecretString>,
    pub openai_api_key: Option<SecretString>,
    /// `OPENAI_BASE_URL`, up to `/v1`; `None`: OpenAI's own.
    pub openai_base_url: Option<String>,
    /// `OPENAI_MODEL` (intake and triage).
    pub openai_model: String,
    /// `OPENAI_TRANSCRIPTION_MODEL` (voice notes).
    pub transcription_model: String,
}

impl fmt::Debug for AiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiSettings")
            .field("intake_engine", &self.intake_engine)
            .field("n8n_webhook_url", &self.n8n_webhook_url)
            .field("n8n_callback_secret", &self.n8n_callback_secret.is_some())
            .field("openai_api_key", &self.openai_api_key.is_some())
            .field("openai_base_url", &self.openai_base_url)
            .field("openai_model", &self.openai_model)
            .field("transcription_model", &self.transcription_model)
            .finish()
    }
}

impl AiSettings {
    /// `lookup` gives a variable's value (blank is unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AiConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let url = |name: &'static str| match var(name) {
            None => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim_end_matches('/').to_owned()))
            }
            Some(_) => Err(AiConfigError {
                variable: name,
                message: "must be an http:// or https:// URL".to_owned(),
            }),
        };
        Ok(Self {
            intake_engine: var("INTAKE_ENGINE"),
            n8n_webhook_url: url("N8N_WEBHOOK_URL")?,
            n8n_callback_secret: var("N8N_CALLBACK_SECRET").map(SecretString::from),
            openai_api_key: var("OPENAI_API_KEY").map(SecretString::from),
            openai_base_url: url("OPENAI_BASE_URL")?,
            openai_model: var("OPENAI_MODEL").unwrap_or_else(|| DEFAULT_OPENAI_MODEL.to_owned()),
            transcription_model: var("OPENAI_TRANSCRIPTION_MODEL")
                .unwrap_or_else(|| DEFAULT_TRANSCRIPTION_MODEL.to_owned()),
        })
    }

    /// The intake and triage engine ([`EngineKind::choose`]); an error names
    /// `INTAKE_ENGINE` when it asks for an engine without its settings.
    pub fn engine(&self) -> Result<EngineKind, AiConfigError> {
        EngineKind::choose(
            self.intake_engine.as_deref(),
            self.n8n_webhook_url.is_some(),
            self.openai_api_key.is_some(),
        )
        .map_err(|message| AiConfigError {
            variable: "INTAKE_ENGINE",
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &'static [(&'static str, &'static str)]) -> Result<AiSettings, AiConfigError> {
        AiSettings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_choose_the_builtin_rules() {
        let s = from(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.openai_model, DEFAULT_OPENAI_MODEL);
        assert_eq!(s.transcription_model, DEFAULT_TRANSCRIPTION_MODEL);
        assert_eq!(s.engine(), Ok(EngineKind::Builtin));
        let n8n = from(&[("N8N_WEBHOOK_URL", "http://127.0.0.1:5678/webhook/prm/")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            n8n.n8n_webhook_url.as_deref(),
            Some("http://127.0.0.1:5678/webhook/prm")
        );
        assert_eq!(n8n.engine(), Ok(EngineKind::N8n));
    }

    #[test]
    fn errors_name_the_variable_never_the_secret() {
        for (vars, variable) in [
            (&[("OPENAI_BASE_URL", "ftp://x")][..], "OPENAI_BASE_URL"),
            (&[("N8N_WEBHOOK_URL", "n8n.local")], "N8N_WEBHOOK_URL"),
        ] {
            assert_eq!(
                from(vars).map(|_| ()).map_err(|e| e.variable),
                Err(variable)
            );
        }
        let s = from(&[("INTAKE_ENGINE", "openai")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.engine().map_err(|e| e.variable), Err("INTAKE_ENGINE"));
        let s = from(&[("OPENAI_API_KEY", "sk-very-secret")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{s:?}").contains("very-secret"));
    }
}

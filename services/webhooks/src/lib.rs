//! The webhooks service: the door through which patients' messages enter PRM.
//!
//! It accepts only genuine requests (Twilio `X-Twilio-Signature`, Meta
//! `X-Hub-Signature-256`, the voice agent's `X-PRM-Signature`), turns each inbound
//! message into exactly one `MESSAGE_RECEIVED` event (status callbacks into
//! `MESSAGE_STATUS_UPDATED`) through the transactional outbox, and answers fast.
//!
//! It exports [`WebhooksService`] (`configure`), [`openapi`] and [`body_limits`] so that
//! the all-in-one `prm` binary can mount it beside the other services. The webhook routes
//! are authenticated by their signatures, not by the clinic API keys.

pub mod health;
pub mod http;
pub mod inbox;
pub mod meta;
pub mod twilio;
pub mod voice_agent;
pub mod voice_notes;

use std::{sync::Arc, time::Duration};

use actix_web::web;
use prm_bus::RelayNotifier;
use prm_domain::{
    PhoneNumber,
    clock::{self, SharedClock},
};
use prm_platform::{ConfigError, Settings};
use prm_runtime::{CancellationToken, Service, ServiceContext, ServiceSpec};
use prm_state::StateStore;
use prm_store::{Store, outbox::Outbox};
use prm_twilio::RequestValidator;
use secrecy::SecretString;
use utoipa::OpenApi;

use crate::{
    inbox::Inbox,
    voice_notes::{VoiceNotes, VoiceNotesConfig},
};

/// Default port of the standalone service.
pub const DEFAULT_PORT: u16 = 8001;

/// Where every webhook route lives.
pub const BASE_PATH: &str = "/api/v1/prm/webhooks";

/// Twilio posts small forms; anything bigger is not Twilio.
pub const TWILIO_BODY_LIMIT: usize = 64 * 1024;
/// Meta batches deliveries; its documented maximum is a few MiB.
pub const WHATSAPP_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The webhooks service, as binaries host it. Its routes are authenticated by the
/// providers' signatures, not by the clinic API keys.
pub static SERVICE: ServiceSpec = ServiceSpec {
    name: "webhooks",
    binary: "prm-webhooks",
    title: "PRM webhooks",
    description: "Inbound webhooks from Twilio (WhatsApp/SMS and status callbacks), Meta's WhatsApp Cloud API and the voice agent. Each accepted message becomes exactly one MESSAGE_RECEIVED event.",
    default_port: DEFAULT_PORT,
    outbox: Some(Outbox::WEBHOOKS),
    clinic_api: false,
    sensitive_state: false,
    body_limits: &[
        ("/api/v1/prm/webhooks/twilio", TWILIO_BODY_LIMIT),
        ("/api/v1/prm/webhooks/whatsapp", WHATSAPP_BODY_LIMIT),
    ],
    openapi,
    build: |ctx| Box::pin(build(ctx)),
};

async fn build(ctx: ServiceContext) -> anyhow::Result<Arc<dyn Service>> {
    let config = ctx.config(WebhooksConfig::from_settings)?;
    let service = WebhooksService::with_clock(
        config,
        ctx.backends.store.clone(),
        ctx.backends.state.clone(),
        ctx.outbox,
        ctx.backends.clock.clone(),
    )?;
    Ok(Arc::new(service))
}

/// The service's own section of the configuration (see [`WebhooksConfig::from_settings`]).
#[derive(Clone)]
pub struct WebhooksConfig {
    /// `PUBLIC_BASE_URL`: the URL Twilio signs (never the `Host` header).
    pub public_base_url: String,
    pub default_country_code: String,
    /// `TWILIO_VALIDATE_SIGNATURE` (only `false` turns checks off).
    pub validate_twilio_signature: bool,
    /// From `TWILIO_AUTH_TOKEN`; `None` → Twilio routes refuse every call while validating.
    pub twilio_validator: Option<RequestValidator>,
    /// `TWILIO_WHATSAPP_NUMBER`: the `to` of voice-agent calls that do not name one.
    pub clinic_number: Option<PhoneNumber>,
    pub whatsapp_verify_token: Option<SecretString>,
    pub whatsapp_app_secret: Option<SecretString>,
    pub voice_agent_secret: Option<SecretString>,
    pub voice_notes: VoiceNotesConfig,
    /// How old a voice note without its event must be before the sweep publishes it
    /// without transcription.
    pub pending_grace: Duration,
}

impl WebhooksConfig {
    /// The webhooks' section of the configuration, parsed from `settings.env()`:
    /// `TWILIO_VALIDATE_SIGNATURE` (only `false` turns checks off), `TWILIO_AUTH_TOKEN`
    /// and the rest of Twilio's section (`prm_twilio`), `WHATSAPP_VERIFY_TOKEN`,
    /// `WHATSAPP_APP_SECRET`, `WHATSAPP_ACCESS_TOKEN` and `WHATSAPP_GRAPH_API_BASE`
    /// (`prm_meta`), `VOICE_AGENT_SECRET`, and OpenAI's transcription settings
    /// (`prm_ai`). Errors name the variable.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let env = settings.env();
        let lookup = |name: &str| env.var(name);
        let twilio = prm_twilio::TwilioConfig::from_lookup(lookup).map_err(|e| match e {
            prm_twilio::ConfigError::Missing { var } => {
                ConfigError::new(var, "is required when TWILIO_ACCOUNT_SID is set")
            }
            prm_twilio::ConfigError::Invalid { var, reason } => ConfigError::new(var, reason),
            other => ConfigError::new("TWILIO_ACCOUNT_SID", other.to_string()),
        })?;
        let graph_api_base = prm_meta::graph_api_base(lookup).map_err(|e| match e {
            prm_meta::ConfigError::Invalid { var, reason } => ConfigError::new(var, reason),
            other => ConfigError::new("WHATSAPP_GRAPH_API_BASE", other.to_string()),
        })?;
        let ai = prm_ai::AiSettings::from_lookup(lookup)
            .map_err(|e| ConfigError::new(e.variable, e.message))?;
        let timeout = Duration::from_secs(60);
        Ok(Self {
            public_base_url: settings.public_base_url.trim_end_matches('/').to_owned(),
            default_country_code: settings.default_country_code.clone(),
            validate_twilio_signature: env.parse_or("TWILIO_VALIDATE_SIGNATURE", true)?,
            // The signing key also without an account: a deployment may receive
            // webhooks and send through Meta.
            twilio_validator: env.secret("TWILIO_AUTH_TOKEN").map(RequestValidator::new),
            clinic_number: twilio.as_ref().and_then(|t| t.whatsapp_number.clone()),
            whatsapp_verify_token: env.secret("WHATSAPP_VERIFY_TOKEN"),
            whatsapp_app_secret: env.secret("WHATSAPP_APP_SECRET"),
            voice_agent_secret: env.secret("VOICE_AGENT_SECRET"),
            voice_notes: VoiceNotesConfig {
                twilio: twilio.map(|t| (t.account_sid, t.auth_token, t.api_base)),
                meta_access_token: env.secret("WHATSAPP_ACCESS_TOKEN"),
                graph_api_base,
                openai_api_key: ai.openai_api_key,
                openai_base_url: ai.openai_base_url,
                transcription_model: ai.transcription_model,
                timeout,
            },
            // Twice the transcription timeout: a live transcription always finishes first.
            pending_grace: timeout * 2,
        })
    }
}

/// What the handlers share.
pub struct AppState {
    pub config: WebhooksConfig,
    pub inbox: Inbox,
    /// "Now" for times a provider leaves out (receipt of a message, a status without
    /// a timestamp): the system clock in production, a fixed one in tests.
    pub clock: SharedClock,
}

/// The service's routes.
#[derive(Clone)]
pub struct WebhooksService {
    state: web::Data<AppState>,
}

impl WebhooksService {
    /// `dedup` is the state store for de-duplication markers (`prm_state::from_config`);
    /// `relay` wakes the outbox relay after each commit (`None`: it polls).
    pub fn new(
        config: WebhooksConfig,
        store: Store,
        dedup: Arc<dyn StateStore>,
        relay: Option<RelayNotifier>,
    ) -> anyhow::Result<Self> {
        Self::with_clock(config, store, dedup, relay, clock::system())
    }

    /// As [`WebhooksService::new`], with "now" from `clock` (the host's).
    pub fn with_clock(
        config: WebhooksConfig,
        store: Store,
        dedup: Arc<dyn StateStore>,
        relay: Option<RelayNotifier>,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let voice_notes = Arc::new(VoiceNotes::new(config.voice_notes.clone())?);
        let inbox = Inbox::new(store, dedup, relay, voice_notes).with_clock(clock.clone());
        Ok(Self {
            state: web::Data::new(AppState {
                config,
                inbox,
                clock,
            }),
        })
    }

    pub fn inbox(&self) -> &Inbox {
        &self.state.inbox
    }
}

impl Service for WebhooksService {
    /// Logs which checks are off or which channels refuse calls (no secrets, no patient data).
    fn log_startup(&self) {
        let config = &self.state.config;
        if !config.validate_twilio_signature {
            tracing::warn!(
                "TWILIO_VALIDATE_SIGNATURE=false: Twilio webhooks are accepted WITHOUT signature checks; never run like this in production"
            );
        } else if config.twilio_validator.is_none() {
            tracing::warn!(
                "TWILIO_AUTH_TOKEN is unset: Twilio webhooks are refused (503) until it is configured"
            );
        }
        if config.whatsapp_app_secret.is_none() {
            tracing::info!(
                "WHATSAPP_APP_SECRET is unset: the Meta WhatsApp webhook refuses deliveries (503)"
            );
        }
        if config.voice_agent_secret.is_none() {
            tracing::info!(
                "VOICE_AGENT_SECRET is unset: the voice-agent webhook refuses calls (503)"
            );
        }
        if !self.state.inbox.transcription_enabled() {
            tracing::info!(
                "OPENAI_API_KEY is unset: voice notes are published without transcription"
            );
        }
    }

    /// Publishes voice-note events that an interrupted transcription left pending (at
    /// start, then every minute).
    fn spawn_background(&self, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        vec![self.state.inbox.spawn_recovery(
            self.state.config.pending_grace,
            Duration::from_secs(60),
            stop,
        )]
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.service(
            web::scope(BASE_PATH)
                .app_data(self.state.clone())
                .configure(health::configure)
                .configure(twilio::configure)
                .configure(meta::configure)
                .configure(voice_agent::configure),
        );
    }
}

/// The service's own paths and schemas (health, docs and problem schema come from the platform).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = health::Doc::openapi();
    doc.merge(twilio::Doc::openapi());
    doc.merge(meta::Doc::openapi());
    doc.merge(voice_agent::Doc::openapi());
    doc
}

/// The complete document of the standalone service.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    prm_runtime::api_doc(SERVICE.title, SERVICE.description, &[&SERVICE])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<WebhooksConfig, ConfigError> {
        let map = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WebhooksConfig::from_settings(&Settings::from_map(DEFAULT_PORT, &map)?)
    }

    #[test]
    fn the_webhooks_section_is_parsed_here_and_names_the_bad_variable() {
        let Ok(defaults) = config(&[]) else {
            panic!("defaults refused")
        };
        assert!(defaults.validate_twilio_signature && defaults.twilio_validator.is_none());
        assert!(defaults.voice_agent_secret.is_none() && defaults.voice_notes.twilio.is_none());
        assert_eq!(
            defaults.voice_notes.graph_api_base,
            prm_meta::DEFAULT_GRAPH_API_BASE
        );
        assert_eq!(defaults.voice_notes.transcription_model, "whisper-1");
        let Ok(full) = config(&[
            ("TWILIO_ACCOUNT_SID", "AC0123"),
            ("TWILIO_AUTH_TOKEN", "secret-token"),
            ("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155238886"),
            ("TWILIO_VALIDATE_SIGNATURE", "false"),
            ("VOICE_AGENT_SECRET", "voice"),
        ]) else {
            panic!("refused")
        };
        assert!(!full.validate_twilio_signature && full.twilio_validator.is_some());
        assert_eq!(
            full.clinic_number.as_ref().map(|n| n.as_str()),
            Some("+14155238886")
        );
        assert!(full.voice_agent_secret.is_some());
        for (vars, variable) in [
            (&[("TWILIO_ACCOUNT_SID", "AC123")][..], "TWILIO_AUTH_TOKEN"),
            (
                &[("TWILIO_ACCOUNT_SID", "XX1"), ("TWILIO_AUTH_TOKEN", "t")],
                "TWILIO_ACCOUNT_SID",
            ),
            (
                &[("TWILIO_VALIDATE_SIGNATURE", "nope")],
                "TWILIO_VALIDATE_SIGNATURE",
            ),
            (&[("OPENAI_BASE_URL", "ftp://x")], "OPENAI_BASE_URL"),
            (
                &[("WHATSAPP_GRAPH_API_BASE", "graph.facebook.com")],
                "WHATSAPP_GRAPH_API_BASE",
            ),
        ] {
            match config(vars) {
                Err(e) => assert_eq!(e.variable, variable, "{vars:?}: {e}"),
                Ok(_) => panic!("{vars:?} accepted"),
            }
        }
    }

    /// Swagger UI shows what a client gets: every error answer of a webhook route has an
    /// example, and so has every header it must send.
    #[test]
    fn every_webhook_error_response_and_header_has_an_example() {
        let doc = serde_json::to_value(api_doc()).expect("the document serializes");
        let paths = doc["paths"].as_object().expect("paths");
        let mut checked = 0;
        for (path, item) in paths.iter().filter(|(p, _)| p.starts_with(BASE_PATH)) {
            for (method, operation) in item.as_object().expect("path item") {
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    // The platform's shared responses (429, 500, 503…) are references.
                    let response = match response["$ref"].as_str() {
                        Some(r) => {
                            &doc["components"]["responses"]
                                [r.trim_start_matches("#/components/responses/")]
                        }
                        None => response,
                    };
                    let examples: Vec<_> = response["content"]
                        .as_object()
                        .into_iter()
                        .flat_map(|c| c.values())
                        .filter(|media| media.get("example").is_some())
                        .collect();
                    assert!(
                        !examples.is_empty(),
                        "{method} {path} {status} has no example"
                    );
                    checked += 1;
                }
                for param in operation["parameters"].as_array().into_iter().flatten() {
                    if param["in"] == "header" {
                        assert!(
                            param.get("example").is_some()
                                || param["schema"].get("example").is_some(),
                            "{method} {path}: header {} has no example",
                            param["name"]
                        );
                    }
                }
            }
        }
        assert!(checked >= 17, "only {checked} error responses found");
    }
}

//! `GET /api/v1/prm/webhooks/health`: what the webhooks accept right now (no secrets).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(health), components(schemas(WebhooksHealth, Channels)))]
pub struct Doc;

/// Which channels take traffic (their secret is configured).
#[derive(Debug, Serialize, ToSchema)]
pub struct Channels {
    /// Twilio deliveries are accepted (`TWILIO_AUTH_TOKEN` set, or signature validation off).
    pub twilio: bool,
    /// Meta WhatsApp deliveries are accepted (`WHATSAPP_APP_SECRET` set).
    pub meta: bool,
    /// Voice-agent calls are accepted (`VOICE_AGENT_SECRET` set).
    pub voice_agent: bool,
}

/// What the webhooks accept right now (no secrets).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "status": "ok",
    "service": "webhooks",
    "twilio_signature_validation": true,
    "channels": {"twilio": true, "meta": true, "voice_agent": true},
    "dedup": "redis",
    "transcription": true
}))]
pub struct WebhooksHealth {
    /// Always `ok`: the service answers.
    pub status: &'static str,
    /// Always `webhooks`.
    pub service: &'static str,
    /// False only with `TWILIO_VALIDATE_SIGNATURE=false` (local demos).
    pub twilio_signature_validation: bool,
    /// Which channels take deliveries.
    pub channels: Channels,
    /// `redis` or `memory`.
    pub dedup: &'static str,
    /// Voice notes are transcribed (OpenAI configured).
    pub transcription: bool,
}

/// The webhooks are up, and which channels accept deliveries.
#[utoipa::path(
    get,
    operation_id = "webhooks_health",
    path = "/api/v1/prm/webhooks/health",
    tag = "webhooks",
    responses((status = 200, description = "The webhooks are up, and which channels accept deliveries", body = WebhooksHealth))
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let config = &state.config;
    HttpResponse::Ok().json(WebhooksHealth {
        status: "ok",
        service: "webhooks",
        twilio_signature_validation: config.validate_twilio_signature,
        channels: Channels {
            twilio: !config.validate_twilio_signature || config.twilio_validator.is_some(),
            meta: config.whatsapp_app_secret.is_some(),
            voice_agent: config.voice_agent_secret.is_some(),
        },
        dedup: state.inbox.dedup_backend(),
        transcription: state.inbox.transcription_enabled(),
    })
}

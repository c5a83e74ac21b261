//! The voice agent's end-of-call webhook: the call's transcript becomes one
//! MESSAGE_RECEIVED (channel `phone`, provider `voice_agent`, id = `call_id`).
//!
//! Authenticated with `X-PRM-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed
//! with `VOICE_AGENT_SECRET`; with no secret configured every call is refused (503).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use prm_domain::{Channel, PhoneNumber, events::MessageProvider};
use prm_platform::{
    ApiError, FieldError,
    config::DEFAULT_MAX_BODY_BYTES,
    signed::{SignatureSecret, SignedBody, invalid_signature_example, missing_signature_example},
};
use prm_store::inbound_messages::{MAX_PROVIDER_MESSAGE_ID_CHARS, is_storable_provider_message_id};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    inbox::{InboundMessage, Outcome},
};

pub const SIGNATURE_HEADER: &str = prm_platform::signed::SIGNATURE_HEADER;

/// The 503's detail while `VOICE_AGENT_SECRET` is unset.
const OFF: &str = "The voice-agent webhook is off: VOICE_AGENT_SECRET is not configured.";

/// `VOICE_AGENT_SECRET` keys the voice agent's `X-PRM-Signature`.
pub struct VoiceAgentSecret;

impl SignatureSecret for VoiceAgentSecret {
    const REJECTED: &'static str = "voice-agent call rejected";

    fn secret(req: &HttpRequest) -> Result<SecretString, &'static str> {
        req.app_data::<web::Data<AppState>>()
            .and_then(|state| state.config.voice_agent_secret.clone())
            .ok_or(OFF)
    }
}

/// The documented refusals, as the route sends them.
mod examples {
    use prm_platform::{ApiError, FieldError};
    use serde_json::Value;

    pub fn off() -> Value {
        ApiError::unavailable(super::OFF).example()
    }

    pub fn invalid_call_id() -> Value {
        ApiError::validation(vec![FieldError::new(
            "call_id",
            super::invalid_call_id_message(),
        )])
        .example()
    }
}

fn invalid_call_id_message() -> String {
    format!("must be 1 to {MAX_PROVIDER_MESSAGE_ID_CHARS} characters without control characters")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/voice-agent", web::post().to(voice_agent));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(voice_agent),
    components(schemas(VoiceAgentCall, Transcript, TranscriptTurn, VoiceAgentResponse))
)]
pub struct Doc;

/// One turn of a call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct TranscriptTurn {
    /// `user`/`patient`/`caller` for the patient; `assistant`/`agent` for the voice agent.
    #[schema(example = "user")]
    pub role: String,
    /// What was said in this turn.
    #[schema(example = "Quiero una cita con cardiología")]
    pub text: String,
}

/// The transcript: plain text, or the list of turns.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Transcript {
    Text(String),
    Turns(Vec<TranscriptTurn>),
}

/// What the voice agent posts when a call ends.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({
    "call_id": "call_7f3a9c2e",
    "from": "+573001234567",
    "to": "+576015551234",
    "transcript": [
        {"role": "assistant", "text": "Clínica Norte, ¿en qué le puedo ayudar?"},
        {"role": "user", "text": "Quiero una cita con cardiología el martes"}
    ],
    "intent": "book_appointment",
    "extracted_data": {"department": "Cardiology", "preferred_day": "tuesday"},
    "started_at": "2026-11-22T14:00:00Z",
    "ended_at": "2026-11-22T14:03:10Z"
}))]
pub struct VoiceAgentCall {
    /// The agent's id of the call; a call is processed once.
    pub call_id: String,
    /// The caller's number (E.164, or national with the default country code).
    pub from: String,
    /// The number called; defaults to `TWILIO_WHATSAPP_NUMBER`.
    pub to: Option<String>,
    /// The call as plain text, or as a list of turns.
    pub transcript: Transcript,
    /// The agent's label for what the caller wants (e.g. `book_appointment`); kept, not interpreted.
    pub intent: Option<String>,
    /// Whatever the agent extracted (free-form object); kept, not interpreted.
    #[schema(value_type = Option<Object>)]
    pub extracted_data: Option<serde_json::Value>,
    /// When the call started (RFC 3339).
    pub started_at: Option<DateTime<Utc>>,
    /// When the call ended (RFC 3339).
    pub ended_at: Option<DateTime<Utc>>,
}

/// The call as received.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted", "message_id": "0193a5b2-7c40-7000-8000-00000000002a"}))]
pub struct VoiceAgentResponse {
    /// `accepted`, or `duplicate` when the call was received before.
    pub status: &'static str,
    /// Our id of the message (null for a duplicate).
    pub message_id: Option<Uuid>,
}

const PATIENT_ROLES: [&str; 5] = ["user", "patient", "caller", "customer", "human"];

impl VoiceAgentCall {
    /// `(body, transcription)`: what the patient said, and the whole call as `role: text` lines.
    pub fn texts(&self) -> (String, String) {
        match &self.transcript {
            Transcript::Text(text) => (text.clone(), text.clone()),
            Transcript::Turns(turns) => {
                let patient: Vec<&str> = turns
                    .iter()
                    .filter(|t| {
                        PATIENT_ROLES.contains(&t.role.trim().to_ascii_lowercase().as_str())
                    })
                    .map(|t| t.text.as_str())
                    .collect();
                let full: Vec<String> = turns
                    .iter()
                    .map(|t| format!("{}: {}", t.role, t.text))
                    .collect();
                let body = if patient.is_empty() {
                    full.join("\n")
                } else {
                    patient.join("\n")
                };
                (body, full.join("\n"))
            }
        }
    }

    fn into_message(
        self,
        default_country_code: &str,
        clinic_number: Option<&PhoneNumber>,
        now: DateTime<Utc>,
    ) -> Result<InboundMessage, ApiError> {
        let mut errors = Vec::new();
        if !is_storable_provider_message_id(&self.call_id) {
            errors.push(FieldError::new("call_id", invalid_call_id_message()));
        }
        let from = PhoneNumber::parse(&self.from, default_country_code)
            .map_err(|e| errors.push(FieldError::new("from", e.to_string())))
            .ok();
        let to = match self.to.as_deref() {
            Some(raw) => PhoneNumber::parse(raw, default_country_code)
                .map_err(|e| errors.push(FieldError::new("to", e.to_string())))
                .ok(),
            None => {
                let number = clinic_number.cloned();
                if number.is_none() {
                    errors.push(FieldError::new(
                        "to",
                        "is required while TWILIO_WHATSAPP_NUMBER is not configured",
                    ));
                }
                number
            }
        };
        for (field, at) in [("started_at", self.started_at), ("ended_at", self.ended_at)] {
            if let Some(at) = at
                && let Err(e) = prm_domain::calendar::instant(&at)
            {
                errors.push(FieldError::new(field, e.to_string()));
            }
        }
        let (Some(from), Some(to)) = (from, to) else {
            return Err(ApiError::validation(errors));
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let (body, transcription) = self.texts();
        let provider_fields = self.started_at.map(|started| {
            let mut fields = serde_json::Map::new();
            fields.insert(
                "started_at".to_owned(),
                serde_json::Value::String(
                    started.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                ),
            );
            fields
        });
        Ok(InboundMessage {
            provider: MessageProvider::VoiceAgent,
            provider_message_id: self.call_id,
            channel: Channel::Phone,
            from,
            to,
            body,
            media: Vec::new(),
            profile_name: None,
            wa_id: None,
            transcription: Some(transcription),
            voice_note: None,
            received_at: self.ended_at.unwrap_or(now),
            intent: self.intent.filter(|i| !i.trim().is_empty()),
            extracted_data: self.extracted_data.filter(|d| !d.is_null()),
            location: None,
            provider_fields,
        })
    }
}

/// The voice agent reports a finished call.
///
/// Signed with `X-PRM-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with
/// `VOICE_AGENT_SECRET`. Each `call_id` produces exactly one MESSAGE_RECEIVED.
#[utoipa::path(
    post,
    operation_id = "webhooks_voice_agent",
    path = "/api/v1/prm/webhooks/voice-agent",
    tag = "webhooks",
    security(("prm_signature" = [])),
    params(("X-PRM-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body keyed with VOICE_AGENT_SECRET>",
        example = "sha256=3f1c0e4b9a7d2c5e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e")),
    request_body = VoiceAgentCall,
    responses(
        (status = 200, description = "Accepted, or a duplicate call ignored", body = VoiceAgentResponse),
        (status = 400, description = "Missing signature or malformed JSON", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(missing_signature_example(SIGNATURE_HEADER))),
        (status = 403, description = "Wrong signature", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature_example(SIGNATURE_HEADER))),
        (status = 413, description = "Body over the server's limit (PRM_MAX_BODY_BYTES, 1 MiB by default)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::payload_too_large(DEFAULT_MAX_BODY_BYTES).example())),
        (status = 422, description = "Invalid fields (a call_id over 255 characters or with control characters, an unreadable number…)", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::invalid_call_id())),
        (status = 503, description = "VOICE_AGENT_SECRET is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(examples::off())),
    )
)]
pub async fn voice_agent(
    body: SignedBody<VoiceAgentSecret>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let call: VoiceAgentCall = body.json()?;
    let message = call.into_message(
        &state.config.default_country_code,
        state.config.clinic_number.as_ref(),
        state.clock.now(),
    )?;
    let response = match state
        .inbox
        .accept_message(message)
        .await
        .map_err(ApiError::from)?
    {
        Outcome::Accepted { message_id } => VoiceAgentResponse {
            status: "accepted",
            message_id,
        },
        Outcome::Duplicate => VoiceAgentResponse {
            status: "duplicate",
            message_id: None,
        },
    };
    Ok(HttpResponse::Ok().json(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_give_the_patients_words_and_the_whole_call() {
        let call: VoiceAgentCall = serde_json::from_value(serde_json::json!({
            "call_id": "c1", "from": "+573001234567",
            "transcript": [{"role": "assistant", "text": "¿Sí?"}, {"role": "user", "text": "Una cita"}, {"role": "User", "text": "el martes"}]
        }))
        .unwrap();
        let (body, full) = call.texts();
        assert_eq!(body, "Una cita\nel martes");
        assert_eq!(full, "assistant: ¿Sí?\nuser: Una cita\nUser: el martes");
        let call: VoiceAgentCall = serde_json::from_value(
            serde_json::json!({"call_id": "c2", "from": "+573001234567", "transcript": "hola"}),
        )
        .unwrap();
        assert_eq!(call.texts(), ("hola".to_owned(), "hola".to_owned()));
    }
}

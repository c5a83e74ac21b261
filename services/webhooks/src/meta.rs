//! Meta WhatsApp Cloud API webhook: subscription verification (GET) and deliveries (POST).
//!
//! Deliveries are signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
//! body>` keyed with `WHATSAPP_APP_SECRET`. Text, audio/voice, image, interactive,
//! button replies and locations become MESSAGE_RECEIVED (provider `meta`, id `wamid…`);
//! statuses become MESSAGE_STATUS_UPDATED; other message types (stickers, reactions…),
//! statuses without a delivery meaning (`deleted`, `warning`) and malformed items —
//! each item on its own, e.g. a `wamid` we could not store — are acknowledged without an
//! event and counted as `ignored`, so that the rest of the batch goes through and Meta
//! does not retry it for days.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use prm_domain::{
    Channel, Media, PhoneNumber,
    events::{DeliveryStatus, MessageProvider, SharedLocation},
};
use prm_platform::{
    ApiError, ErrorCode,
    signed::{
        SignatureSecret, SignedBody, constant_time_eq, invalid_signature_example,
        missing_signature_example,
    },
};
use prm_store::inbound_messages::is_storable_provider_message_id;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    inbox::{InboundMessage, InboxError, Outcome, StatusReport},
    voice_notes::AudioSource,
};

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The 503's detail while `WHATSAPP_APP_SECRET` is unset.
const OFF: &str = "The Meta WhatsApp channel is off: WHATSAPP_APP_SECRET is not configured.";

/// `WHATSAPP_APP_SECRET` keys Meta's `X-Hub-Signature-256`.
pub struct MetaAppSecret;

impl SignatureSecret for MetaAppSecret {
    const HEADER: &'static str = SIGNATURE_HEADER;
    const REJECTED: &'static str = "Meta delivery rejected";

    fn secret(req: &HttpRequest) -> Result<SecretString, &'static str> {
        req.app_data::<web::Data<AppState>>()
            .and_then(|state| state.config.whatsapp_app_secret.clone())
            .ok_or(OFF)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/whatsapp", web::get().to(verify))
        .route("/whatsapp", web::post().to(deliver));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(verify, deliver), components(schemas(MetaDeliveryResponse)))]
pub struct Doc;

/// The subscription handshake Meta performs when the webhook is configured.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Always `subscribe`.
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode", example = "subscribe")]
    pub mode: Option<String>,
    /// Must equal `WHATSAPP_VERIFY_TOKEN`.
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token", example = "my-verify-token")]
    pub verify_token: Option<String>,
    /// Echoed back on success.
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge", example = "1158201444")]
    pub challenge: Option<String>,
}

/// Meta's webhook subscription verification.
///
/// Answers `hub.challenge` as text/plain when `hub.mode=subscribe` and `hub.verify_token`
/// equals `WHATSAPP_VERIFY_TOKEN`; 403 otherwise (also while the token is unset).
#[utoipa::path(
    get,
    operation_id = "webhooks_verify",
    path = "/api/v1/prm/webhooks/whatsapp",
    tag = "webhooks",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The challenge, echoed", content_type = "text/plain", body = String, example = json!("1158201444")),
        (status = 403, description = "Wrong mode or token", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ErrorCode::VerificationFailed.example())),
    )
)]
pub async fn verify(
    query: web::Query<VerifyQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let refuse = || ApiError::new(ErrorCode::VerificationFailed);
    let Some(expected) = &state.config.whatsapp_verify_token else {
        tracing::warn!("Meta verification refused: WHATSAPP_VERIFY_TOKEN is not configured");
        return Err(refuse());
    };
    let token_ok = query
        .verify_token
        .as_deref()
        .is_some_and(|t| constant_time_eq(t.as_bytes(), expected.expose_secret().as_bytes()));
    if query.mode.as_deref() != Some("subscribe") || !token_ok {
        tracing::warn!(
            reason = "wrong mode or verify token",
            "Meta verification refused"
        );
        return Err(refuse());
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(query.challenge.clone().unwrap_or_default()))
}

/// What a delivery produced (Meta only looks at the status code).
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({"messages": 1, "statuses": 0, "duplicates": 0, "ignored": 0}))]
pub struct MetaDeliveryResponse {
    /// New messages accepted.
    pub messages: usize,
    /// New status reports accepted.
    pub statuses: usize,
    /// Messages or statuses seen before.
    pub duplicates: usize,
    /// Unsupported message types and malformed items, acknowledged without an event.
    pub ignored: usize,
}

/// A delivery from Meta's WhatsApp Cloud API.
///
/// Signed with `X-Hub-Signature-256`. Each `wamid` produces exactly one event however often
/// Meta delivers it. Bodies up to 4 MiB are accepted.
#[utoipa::path(
    post,
    operation_id = "webhooks_deliver",
    path = "/api/v1/prm/webhooks/whatsapp",
    tag = "webhooks",
    security(("meta_signature" = [])),
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body keyed with WHATSAPP_APP_SECRET>",
        example = "sha256=619c080baada201423114fd9f0389ad289b64267291672f1feed4b34bd7673a7")),
    request_body(content = Object, content_type = "application/json", example = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "María Pérez"}, "wa_id": "573001234567"}],
            "messages": [{"from": "573001234567", "id": "wamid.HBgMNTczMDAxMjM0NTY3FQIAEhgg", "timestamp": "1767225600", "type": "text", "text": {"body": "Hola, quiero agendar una cita"}}]
        }}]}]
    })),
    responses(
        (status = 200, description = "Accepted (duplicates, unsupported types and malformed items included, counted as `ignored`)", body = MetaDeliveryResponse),
        (status = 400, description = "Missing signature or malformed JSON", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(missing_signature_example(SIGNATURE_HEADER))),
        (status = 403, description = "Wrong signature", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(invalid_signature_example(SIGNATURE_HEADER))),
        (status = 413, description = "Body over 4 MiB", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::payload_too_large(crate::WHATSAPP_BODY_LIMIT).example())),
        (status = 503, description = "WHATSAPP_APP_SECRET is not configured", body = prm_platform::error::Problem, content_type = "application/problem+json",
            example = json!(ApiError::unavailable(OFF).example())),
    )
)]
pub async fn deliver(
    body: SignedBody<MetaAppSecret>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let delivery: Delivery = body.json()?;
    let items = delivery.into_items(
        &state.config.default_country_code,
        &state.config.voice_notes.graph_api_base,
        state.clock.now(),
    );
    let mut response = MetaDeliveryResponse {
        ignored: items.ignored,
        ..Default::default()
    };
    // An item the inbox refuses is ignored on its own; only a failure of ours (the
    // database) fails the delivery, so that Meta retries it.
    for message in items.messages {
        match state.inbox.accept_message(message).await {
            Ok(Outcome::Accepted { .. }) => response.messages += 1,
            Ok(Outcome::Duplicate) => response.duplicates += 1,
            Err(InboxError::InvalidProviderMessageId) => response.ignored += 1,
            Err(error) => return Err(ApiError::from(error)),
        }
    }
    for status in items.statuses {
        match state.inbox.accept_status(status).await {
            Ok(Outcome::Accepted { .. }) => response.statuses += 1,
            Ok(Outcome::Duplicate) => response.duplicates += 1,
            Err(InboxError::InvalidProviderMessageId) => response.ignored += 1,
            Err(error) => return Err(ApiError::from(error)),
        }
    }
    Ok(HttpResponse::Ok().json(response))
}

// ---------------------------------------------------------------------------------------
// The delivery as Meta sends it. Every field is optional so that an unexpected shape is
// skipped, not a 4xx that Meta would retry for days.

#[derive(Debug, Default, Deserialize)]
pub struct Delivery {
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub value: Option<ChangeValue>,
}

/// Items stay raw JSON until converted one by one: a malformed item is ignored on its
/// own instead of refusing the whole batch; messages keep what we do not map.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeValue {
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<serde_json::Value>,
    #[serde(default)]
    pub messages: Vec<serde_json::Value>,
    #[serde(default)]
    pub statuses: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    pub display_phone_number: Option<String>,
    pub phone_number_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Contact {
    pub wa_id: Option<String>,
    pub profile: Option<Profile>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Profile {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MetaMessage {
    pub from: Option<String>,
    pub id: Option<String>,
    pub timestamp: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<TextBody>,
    pub audio: Option<MediaRef>,
    pub voice: Option<MediaRef>,
    pub image: Option<MediaRef>,
    pub interactive: Option<Interactive>,
    pub button: Option<Button>,
    pub location: Option<MetaLocation>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MetaLocation {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TextBody {
    pub body: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MediaRef {
    pub id: Option<String>,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Interactive {
    pub button_reply: Option<Reply>,
    pub list_reply: Option<Reply>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reply {
    pub id: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Button {
    pub text: Option<String>,
    pub payload: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MetaStatus {
    pub id: Option<String>,
    pub status: Option<String>,
    pub timestamp: Option<String>,
    #[serde(default)]
    pub errors: Vec<MetaError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MetaError {
    pub code: Option<serde_json::Value>,
}

/// What a delivery holds, in our terms.
#[derive(Debug, Default)]
pub struct DeliveryItems {
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<StatusReport>,
    pub ignored: usize,
}

impl Delivery {
    /// `graph_api_base` names the media: `{graph_api_base}/{media-id}` is the Graph API
    /// resource whose `url` holds the file (fetched with the access token).
    /// `received_at` (the service clock's now) stands in for timestamps Meta omits.
    pub fn into_items(
        self,
        default_country_code: &str,
        graph_api_base: &str,
        received_at: DateTime<Utc>,
    ) -> DeliveryItems {
        let mut items = DeliveryItems::default();
        for value in self
            .entry
            .into_iter()
            .flat_map(|e| e.changes)
            .filter(|c| c.field.as_deref().is_none_or(|f| f == "messages"))
            .filter_map(|c| c.value)
        {
            let to = value
                .metadata
                .as_ref()
                .and_then(|m| m.display_phone_number.as_deref())
                .and_then(|n| meta_number(n, default_country_code));
            let names: HashMap<String, String> = value
                .contacts
                .into_iter()
                .filter_map(|c| serde_json::from_value::<Contact>(c).ok())
                .filter_map(|c| Some((c.wa_id?, c.profile?.name?)))
                .collect();
            for raw in value.messages {
                let converted = serde_json::from_value::<MetaMessage>(raw.clone())
                    .ok()
                    .and_then(|message| {
                        convert_message(
                            message,
                            to.as_ref(),
                            &names,
                            default_country_code,
                            graph_api_base,
                            received_at,
                        )
                    });
                match converted {
                    Some(mut message) => {
                        message.provider_fields = unmapped_fields(raw);
                        items.messages.push(message);
                    }
                    None => items.ignored += 1,
                }
            }
            for raw in value.statuses {
                match serde_json::from_value::<MetaStatus>(raw)
                    .ok()
                    .and_then(|status| convert_status(status, received_at))
                {
                    Some(status) => items.statuses.push(status),
                    None => items.ignored += 1,
                }
            }
        }
        items
    }
}

/// The message object without what the event carries by name (`from`, `id`,
/// `timestamp`); `None` when nothing is left.
fn unmapped_fields(raw: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    let serde_json::Value::Object(mut object) = raw else {
        return None;
    };
    for carried in ["from", "id", "timestamp"] {
        object.remove(carried);
    }
    (!object.is_empty()).then_some(object)
}

fn convert_message(
    message: MetaMessage,
    to: Option<&PhoneNumber>,
    names: &HashMap<String, String>,
    default_country_code: &str,
    graph_api_base: &str,
    now: DateTime<Utc>,
) -> Option<InboundMessage> {
    let kind = message.kind.clone().unwrap_or_default();
    let (Some(id), Some(from_raw), Some(to)) = (message.id.clone(), message.from.clone(), to)
    else {
        tracing::info!(kind = %kind, "Meta message without id, sender or business number; acknowledged");
        return None;
    };
    if !is_storable_provider_message_id(&id) {
        // Not logged: it is not an id we could trust to be one.
        tracing::info!(kind = %kind, "Meta message whose id is blank, over 255 characters or has control characters; acknowledged without an event");
        return None;
    }
    let Some(from) = meta_number(&from_raw, default_country_code) else {
        tracing::info!(wamid = %id, "Meta message with an unreadable sender; acknowledged");
        return None;
    };
    let media_of = |m: &MediaRef, default_type: &str| -> Option<(String, Media)> {
        let media_id = m.id.clone()?;
        let content_type = m
            .mime_type
            .clone()
            .unwrap_or_else(|| default_type.to_owned());
        // The Graph API resource of the media: whoever holds the access token can fetch it.
        let url = format!("{}/{media_id}", graph_api_base.trim_end_matches('/'));
        Some((media_id, Media { url, content_type }))
    };
    let mut media = Vec::new();
    let mut voice_note = None;
    let mut location = None;
    let body = match kind.as_str() {
        "text" => message.text.and_then(|t| t.body).unwrap_or_default(),
        "audio" | "voice" => {
            let audio = message.audio.or(message.voice)?;
            let (media_id, item) = media_of(&audio, "audio/ogg")?;
            voice_note = Some(AudioSource::MetaMedia {
                id: media_id,
                content_type: item.content_type.clone(),
            });
            media.push(item);
            String::new()
        }
        "image" => {
            let image = message.image?;
            let (_, item) = media_of(&image, "image/jpeg")?;
            media.push(item);
            image.caption.unwrap_or_default()
        }
        "interactive" => {
            let interactive = message.interactive?;
            let reply = interactive.button_reply.or(interactive.list_reply)?;
            reply.title.or(reply.id).unwrap_or_default()
        }
        "button" => {
            let button = message.button?;
            button.text.or(button.payload).unwrap_or_default()
        }
        "location" => {
            let shared = message.location?;
            location = Some(SharedLocation::new(
                shared.latitude?,
                shared.longitude?,
                shared.address,
                shared.name,
            )?);
            String::new()
        }
        other => {
            tracing::info!(wamid = %id, kind = %other, "unsupported Meta message type; acknowledged without an event");
            return None;
        }
    };
    let received_at = sent_at(message.timestamp.as_deref(), now);
    Some(InboundMessage {
        provider: MessageProvider::Meta,
        provider_message_id: id,
        channel: Channel::Whatsapp,
        profile_name: names.get(&from_raw).cloned(),
        wa_id: Some(from_raw),
        from,
        to: to.clone(),
        body,
        media,
        transcription: None,
        voice_note,
        received_at,
        intent: None,
        extracted_data: None,
        location,
        // Filled in by the caller from the raw message.
        provider_fields: None,
    })
}

/// Meta writes numbers internationally without the `+` (`573001234567`, `15550783881`):
/// they must not get the default country code prepended.
fn meta_number(raw: &str, default_country_code: &str) -> Option<PhoneNumber> {
    let raw = raw.trim();
    let international = if raw.starts_with('+') {
        raw.to_owned()
    } else {
        format!("+{raw}")
    };
    PhoneNumber::parse(&international, default_country_code).ok()
}

/// Meta's delivery statuses in the catalog's terms. `None` for statuses that say nothing
/// about delivery: `deleted` (the patient deleted our message), `warning` (a catalog
/// item problem) and any status Meta adds later; those are acknowledged as ignored.
pub fn meta_delivery_status(status: &str) -> Option<DeliveryStatus> {
    match status {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "read" => Some(DeliveryStatus::Read),
        "failed" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

fn convert_status(status: MetaStatus, now: DateTime<Utc>) -> Option<StatusReport> {
    let id = status.id?;
    let raw_status = status.status?;
    if !is_storable_provider_message_id(&id) {
        tracing::info!(
            "Meta status whose id is blank, over 255 characters or has control characters; acknowledged without an event"
        );
        return None;
    }
    let Some(mapped) = meta_delivery_status(&raw_status) else {
        let known = matches!(raw_status.as_str(), "deleted" | "warning");
        tracing::info!(status = %raw_status.escape_debug(), known, "Meta status without a delivery meaning; acknowledged without an event");
        return None;
    };
    let error_code = status
        .errors
        .first()
        .and_then(|e| e.code.as_ref())
        .map(|c| match c {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let updated_at = sent_at(status.timestamp.as_deref(), now);
    Some(StatusReport {
        provider: MessageProvider::Meta,
        provider_message_id: id,
        status: mapped,
        raw_status,
        error_code,
        updated_at,
    })
}

/// Meta's Unix `timestamp` of a message or status; the time of receipt (`now`) when it
/// is missing, unreadable, or outside the calendar the suite stores (years 1 to 9999:
/// `-998634765788` is a valid integer but no time PostgreSQL can hold).
fn sent_at(timestamp: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    timestamp
        .and_then(|t| t.trim().parse::<i64>().ok())
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        .and_then(|at| prm_domain::calendar::instant(&at).ok())
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_numbers_are_international_without_plus() {
        // With Colombia as the default country, a US number must stay a US number.
        assert_eq!(
            meta_number("15550783881", "57").map(|p| p.as_str().to_owned()),
            Some("+15550783881".to_owned())
        );
        assert_eq!(
            meta_number("573001234567", "57").map(|p| p.as_str().to_owned()),
            Some("+573001234567".to_owned())
        );
        assert!(meta_number("not a number", "57").is_none());
    }

    #[test]
    fn timestamps_outside_the_calendar_become_the_time_of_receipt() {
        let received = DateTime::parse_from_rfc3339("2030-01-07T15:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            sent_at(Some("1767225600"), received).to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        for odd in [
            None,
            Some(""),
            Some("soon"),
            Some("-998634765788"),
            Some("99999999999999"),
            Some("9223372036854775807"),
        ] {
            assert_eq!(sent_at(odd, received), received, "{odd:?}");
        }
    }

    #[test]
    fn unexpected_shapes_are_skipped_not_errors() {
        let delivery: Delivery = serde_json::from_value(serde_json::json!({
            "entry": [{"changes": [
                {"field": "account_update", "value": {"messages": [{"id": "wamid.x", "from": "1555", "type": "text"}]}},
                {"field": "messages", "value": {"messages": [{"id": "wamid.y", "from": "573001234567", "type": "text", "text": {"body": "hola"}}]}}
            ]}]
        }))
        .unwrap();
        let items = delivery.into_items("57", "https://graph.example/v21.0", Utc::now());
        // No business number in metadata: nothing can be addressed, so it is ignored.
        assert_eq!((items.messages.len(), items.ignored), (0, 1));
    }
}

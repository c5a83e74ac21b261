//! Request and response bodies of the conversations API (ARCHITECTURE §5, §8), apart
//! from the domain types.

use chrono::{DateTime, Utc};
use prm_domain::{
    Channel, Locale, Media,
    conversation::{
        Author, Conversation, ConversationStatus, DeliveryStatus, Direction, Message, Provider,
        Stage,
    },
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::app::StateView;

/// A conversation (§5 shape plus §8's fields).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(examples::conversation()))]
pub struct ConversationView {
    /// The conversation's id (set by the server).
    pub id: Uuid,
    /// The patient it is with, once known; null before the intake identifies them.
    pub patient_id: Option<Uuid>,
    /// E.164.
    #[schema(example = "+573001234567")]
    pub phone: String,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub stage: Stage,
    pub locale: Locale,
    /// Staff took over: the patient's messages are stored and streamed, the bot does
    /// not answer.
    pub bot_paused: bool,
    /// Who on staff handles it (free text); null when unassigned.
    pub assignee: Option<String>,
    /// When it was opened (UTC, RFC 3339).
    pub created_at: DateTime<Utc>,
    /// When it last changed (UTC, RFC 3339).
    pub updated_at: DateTime<Utc>,
    /// When the latest message in or out was stored (UTC, RFC 3339); null before the first.
    pub last_message_at: Option<DateTime<Utc>>,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        Self {
            id: c.id,
            patient_id: c.patient_id,
            phone: c.phone.as_str().to_owned(),
            channel: c.channel,
            status: c.status,
            stage: c.stage,
            locale: c.locale,
            bot_paused: c.bot_paused,
            assignee: c.assignee,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_message_at: c.last_message_at,
        }
    }
}

/// A message in or out (§5 shape plus §8's fields).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(examples::outbound_message()))]
pub struct MessageView {
    /// The message's id (set by the server).
    pub id: Uuid,
    /// The conversation it belongs to.
    pub conversation_id: Uuid,
    pub direction: Direction,
    /// As written; for a voice note see `transcription`.
    pub body: String,
    /// Attachments (images, voice notes…); empty when none.
    pub media: Vec<Media>,
    pub channel: Channel,
    pub provider: Provider,
    pub author: Author,
    /// What an outbound message is about (`intake_question`, `slot_offer`,
    /// `appointment_confirmation`, `staff_message`…).
    pub purpose: Option<String>,
    /// A voice note's (or a call's) text, when transcribed; null otherwise.
    pub transcription: Option<String>,
    /// The provider's id (Twilio `MessageSid`, WhatsApp `wamid`, voice-agent `call_id`); null until an outbound message is handed over.
    pub provider_message_id: Option<String>,
    /// Outbound only; moves forward only.
    pub delivery_status: Option<DeliveryStatus>,
    /// Why a message failed: the provider's code (`63016`, `131047`…) or ours
    /// (`outcome_unknown`, `rate_limited`…).
    pub error_code: Option<String>,
    /// When it was stored (UTC, RFC 3339).
    pub created_at: DateTime<Utc>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            body: m.body,
            media: m.media,
            channel: m.channel,
            provider: m.provider,
            author: m.author,
            purpose: m.purpose,
            transcription: m.transcription,
            provider_message_id: m.provider_message_id,
            delivery_status: m.delivery_status,
            error_code: m.error_code,
            created_at: m.created_at,
        }
    }
}

/// A conversation with its latest 50 messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(examples::conversation_with_messages()))]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// The latest 50 messages, oldest first.
    pub messages: Vec<MessageView>,
}

/// A conversation opened by staff for a phone.
///
/// Text fields are trimmed of surrounding whitespace before they are checked and stored,
/// and must not contain control characters.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"phone": "300 123 4567", "channel": "whatsapp", "locale": "es"}))]
pub struct CreateConversationRequest {
    /// Any common notation; stored as E.164 (`DEFAULT_COUNTRY_CODE` for local numbers).
    #[schema(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub phone: String,
    /// `whatsapp`, `sms`, `email`, `phone` or `webchat`.
    #[schema(example = "whatsapp")]
    #[schema(pattern = r"^(whatsapp|sms|email|phone|webchat)$")]
    pub channel: String,
    /// The patient, when already known; null or absent otherwise.
    pub patient_id: Option<Uuid>,
    /// `es` or `en` (default `DEFAULT_LOCALE`).
    #[schema(pattern = r"^([eE][sS]|[eE][nN])$")]
    pub locale: Option<String>,
}

/// Absent fields are left as they are; `assignee: null` clears it.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"bot_paused": true, "assignee": "recepcion@clinica.example"}))]
pub struct PatchConversationRequest {
    /// `open`, `pending`, `snoozed` or `closed`.
    #[schema(pattern = r"^(open|pending|snoozed|closed)$")]
    pub status: Option<String>,
    /// True: staff take over and the bot stops answering; false: the bot resumes.
    pub bot_paused: Option<bool>,
    /// `es` or `en`: the language the bot answers in.
    #[schema(pattern = r"^([eE][sS]|[eE][nN])$")]
    pub locale: Option<String>,
    /// Link the conversation to this patient; null unlinks it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub patient_id: Option<Option<Uuid>>,
    /// Who handles it (free text, at most 200 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub assignee: Option<Option<String>>,
}

/// Distinguishes `"field": null` (Some(None)) from an absent field (None).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A message staff send to the patient.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"body": "Hola María, soy Laura de la clínica. ¿En qué te puedo ayudar?"}))]
pub struct StaffMessageRequest {
    /// At most 4096 characters.
    #[schema(
        max_length = 4096,
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub body: String,
    /// Attachments to send with the body; default none.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub media: Vec<Media>,
}

/// Which intake fields to ask; the body may be omitted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"required_fields": ["chief_complaint", "symptoms", "preferred_day_time"]}))]
pub struct InitializeStateRequest {
    /// The intake fields to ask (§8 names); default: every field the clinic does not
    /// already know of the patient.
    #[schema(value_type = Option<BTreeSet<IntakeFieldName>>)]
    pub required_fields: Option<Vec<String>>,
}

/// An intake field (§8), as `required_fields` names it (the schema of
/// `prm_ai::IntakeField`'s names, which the handler parses).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // documents the accepted names; never built
pub enum IntakeFieldName {
    Name,
    DateOfBirth,
    ChiefComplaint,
    Symptoms,
    Allergies,
    Medications,
    PreferredLocation,
    PreferredDayTime,
}

/// The conversation state (Redis, or rebuilt from the database).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "conversation_id": examples::CONVERSATION, "stage": "intake",
    "required_fields": ["allergies", "medications", "preferred_location", "preferred_day_time"],
    "extracted_data": {"name": "Ana Ruiz", "date_of_birth": "1985-05-03", "chief_complaint": "dolor en el pecho", "symptoms": "me falta el aire al subir escaleras"},
    "locale": "es", "expires_in_seconds": 842, "rebuilt": false
}))]
pub struct StateResponse {
    /// The conversation whose state it is.
    pub conversation_id: Uuid,
    pub stage: Stage,
    /// The intake fields still missing, in the order they are asked.
    pub required_fields: Vec<String>,
    /// Intake field → value gathered so far (§8 names: `name`, `chief_complaint`…).
    #[schema(value_type = Object)]
    pub extracted_data: Map<String, Value>,
    pub locale: Locale,
    /// Until the cached state expires without activity.
    pub expires_in_seconds: u64,
    /// Redis had no state (expired, flushed or unreachable): rebuilt from the database.
    pub rebuilt: bool,
}

impl From<StateView> for StateResponse {
    fn from(s: StateView) -> Self {
        Self {
            conversation_id: s.conversation_id,
            stage: s.stage,
            required_fields: s.required_fields,
            extracted_data: s.extracted_data,
            locale: s.locale,
            expires_in_seconds: s.expires_in_seconds,
            rebuilt: s.rebuilt,
        }
    }
}

/// Filters of `GET /api/v1/prm/conversations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// Any common notation (normalized like stored phones).
    #[param(example = "300 123 4567")]
    #[param(
        pattern = r"^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:(?:\+[1-9](?:[ .()\u00A0-]*[0-9]){7,14}|[1-9](?:[ .()\u00A0-]*[0-9]){7,11})[ .()\u00A0-]*)?[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub phone: Option<String>,
    /// `open`, `pending`, `snoozed` or `closed`.
    #[param(example = "open")]
    #[param(pattern = r"^(open|pending|snoozed|closed)$")]
    pub status: Option<String>,
    /// Journey stage: `intake`, `triage`, `offering`, `booked` or `escalated`.
    #[param(example = "offering")]
    #[param(pattern = r"^(intake|triage|offering|booked|escalated)$")]
    pub stage: Option<String>,
    /// Only conversations with this patient.
    #[param(example = "0193a5e4-2222-7000-8000-000000000001")]
    pub patient_id: Option<Uuid>,
    /// `whatsapp`, `sms`, `email`, `phone` or `webchat`.
    #[param(example = "whatsapp")]
    #[param(pattern = r"^(whatsapp|sms|email|phone|webchat)$")]
    pub channel: Option<String>,
    /// `true`: only conversations staff took over; `false`: only those the bot answers.
    #[param(value_type = Option<bool>, example = false)]
    pub bot_paused: Option<String>,
}

pub mod examples {
    use super::*;

    pub const CONVERSATION: &str = "0193a5e4-4444-7000-8000-000000000001";

    pub fn conversation() -> Value {
        json!({
            "id": CONVERSATION, "patient_id": null, "phone": "+573001234567",
            "channel": "whatsapp", "status": "open", "stage": "intake", "locale": "es",
            "bot_paused": false, "assignee": null,
            "created_at": "2026-11-22T14:03:07Z", "updated_at": "2026-11-22T14:03:08Z",
            "last_message_at": "2026-11-22T14:03:08Z"
        })
    }

    pub fn inbound_message() -> Value {
        json!({
            "id": "0193a5e4-5555-7000-8000-000000000001", "conversation_id": CONVERSATION,
            "direction": "inbound", "body": "Hola, necesito una cita con el cardiólogo",
            "media": [], "channel": "whatsapp", "provider": "twilio", "author": "patient",
            "purpose": null, "transcription": null,
            "provider_message_id": "SM0123456789abcdef0123456789abcdef",
            "delivery_status": null, "error_code": null,
            "created_at": "2026-11-22T14:03:07Z"
        })
    }

    pub fn outbound_message() -> Value {
        json!({
            "id": "0193a5e4-5555-7000-8000-000000000002", "conversation_id": CONVERSATION,
            "direction": "outbound", "body": "¡Hola! Con gusto te ayudo a agendar tu cita. ¿Cuál es tu nombre completo?",
            "media": [], "channel": "whatsapp", "provider": "twilio", "author": "bot",
            "purpose": "intake_question", "transcription": null,
            "provider_message_id": "SMfedcba9876543210fedcba9876543210",
            "delivery_status": "sent", "error_code": null,
            "created_at": "2026-11-22T14:03:08Z"
        })
    }

    pub fn conversation_with_messages() -> Value {
        let mut c = conversation();
        c["messages"] = json!([inbound_message(), outbound_message()]);
        c
    }

    pub fn staff_message() -> Value {
        json!({
            "id": "0193a5e4-5555-7000-8000-000000000003", "conversation_id": CONVERSATION,
            "direction": "outbound", "body": "Hola María, soy Laura de la clínica. ¿En qué te puedo ayudar?",
            "media": [], "channel": "whatsapp", "provider": "twilio", "author": "staff",
            "purpose": "staff_message", "transcription": null, "provider_message_id": null,
            "delivery_status": "queued", "error_code": null,
            "created_at": "2026-11-22T14:10:00Z"
        })
    }
}

//! Event catalog of the PRM suite (ARCHITECTURE §4, §5 "Events").
//!
//! Every event travels in an [`Envelope`]:
//! `{ "id", "type", "occurred_at", "source", "data" }`. The envelope keeps `data` as raw
//! JSON so that a consumer (or the outbox relay) can carry event types it does not know
//! yet; producers build it from a typed payload with [`Envelope::new`], consumers read it
//! back with [`Envelope::data_as`] or [`Envelope::decode`].
//!
//! The payload structs here are the public contract with journey orchestration and other
//! outside consumers: fields may be added, never renamed or removed.

use std::{fmt, str::FromStr};

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{AppointmentStatus, Channel, Media, PhoneNumber, TimeZone, Weekday};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The kinds of event on the bus. Serialized as `APPOINTMENT_CREATED`; routed as
/// `appointment.created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    MessageReceived,
    IntakeUpdated,
    TriageCompleted,
    BookingAction,
    SlotSelectionReceived,
    SlotsOffered,
    AppointmentCreated,
    AppointmentCancelled,
    AppointmentRescheduled,
    MessageSendRequested,
    MessageSent,
    MessageStatusUpdated,
    ConversationOpened,
    ConversationUpdated,
    ConversationClosed,
    ConversationEscalated,
    TriageProposed,
}

impl EventType {
    pub const ALL: [Self; 17] = [
        Self::MessageReceived,
        Self::IntakeUpdated,
        Self::TriageProposed,
        Self::TriageCompleted,
        Self::BookingAction,
        Self::SlotSelectionReceived,
        Self::SlotsOffered,
        Self::AppointmentCreated,
        Self::AppointmentCancelled,
        Self::AppointmentRescheduled,
        Self::MessageSendRequested,
        Self::MessageSent,
        Self::MessageStatusUpdated,
        Self::ConversationOpened,
        Self::ConversationUpdated,
        Self::ConversationClosed,
        Self::ConversationEscalated,
    ];

    /// The `type` of the envelope and the AMQP `type` property.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "MESSAGE_RECEIVED",
            Self::IntakeUpdated => "INTAKE_UPDATED",
            Self::TriageProposed => "TRIAGE_PROPOSED",
            Self::TriageCompleted => "TRIAGE_COMPLETED",
            Self::BookingAction => "BOOKING_ACTION",
            Self::SlotSelectionReceived => "SLOT_SELECTION_RECEIVED",
            Self::SlotsOffered => "SLOTS_OFFERED",
            Self::AppointmentCreated => "APPOINTMENT_CREATED",
            Self::AppointmentCancelled => "APPOINTMENT_CANCELLED",
            Self::AppointmentRescheduled => "APPOINTMENT_RESCHEDULED",
            Self::MessageSendRequested => "MESSAGE_SEND_REQUESTED",
            Self::MessageSent => "MESSAGE_SENT",
            Self::MessageStatusUpdated => "MESSAGE_STATUS_UPDATED",
            Self::ConversationOpened => "CONVERSATION_OPENED",
            Self::ConversationUpdated => "CONVERSATION_UPDATED",
            Self::ConversationClosed => "CONVERSATION_CLOSED",
            Self::ConversationEscalated => "CONVERSATION_ESCALATED",
        }
    }

    /// The topic routing key: the type in lower dotted form
    /// (`APPOINTMENT_CREATED` → `appointment.created`).
    pub fn routing_key(self) -> String {
        routing_key_of(self.as_str())
    }

    /// Which service publishes this event (the envelope's usual `source`).
    pub fn producer(self) -> &'static str {
        match self {
            Self::MessageReceived | Self::MessageStatusUpdated => "webhooks",
            Self::IntakeUpdated | Self::TriageProposed | Self::BookingAction => "n8n-callbacks",
            Self::TriageCompleted | Self::SlotSelectionReceived => "conversations",
            Self::MessageSent
            | Self::ConversationOpened
            | Self::ConversationUpdated
            | Self::ConversationClosed
            | Self::ConversationEscalated => "conversations",
            Self::SlotsOffered
            | Self::AppointmentCreated
            | Self::AppointmentCancelled
            | Self::AppointmentRescheduled
            | Self::MessageSendRequested => "appointments",
        }
    }

    /// One sentence for the catalog (docs and AsyncAPI).
    pub fn description(self) -> &'static str {
        match self {
            Self::MessageReceived => {
                "A patient's inbound message (WhatsApp via Twilio or Meta, or a voice-agent turn) was accepted."
            }
            Self::IntakeUpdated => {
                "Intake data of a conversation changed (n8n, OpenAI or the built-in extractor)."
            }
            Self::TriageProposed => {
                "An n8n workflow proposed a department and urgency; conversations checks them and completes the triage."
            }
            Self::TriageCompleted => {
                "The department for a conversation was decided; appointments proposes slots."
            }
            Self::BookingAction => {
                "A confirm, cancel or reschedule action was requested for a conversation."
            }
            Self::SlotSelectionReceived => {
                "The patient answered a slot offer (\"2\", \"the second one\", \"ninguno\"…)."
            }
            Self::SlotsOffered => "Appointments proposed the best slots for a conversation.",
            Self::AppointmentCreated => {
                "An appointment was booked. Journey orchestration schedules reminders from it."
            }
            Self::AppointmentCancelled => "An appointment was cancelled.",
            Self::AppointmentRescheduled => "An appointment moved to a new time.",
            Self::MessageSendRequested => {
                "A service asks conversations to send an outbound message to a patient."
            }
            Self::MessageSent => "An outbound message was handed to the provider.",
            Self::MessageStatusUpdated => {
                "The provider reported a delivery status for an outbound message."
            }
            Self::ConversationOpened => {
                "A conversation was opened for a patient phone (its first message, or staff)."
            }
            Self::ConversationUpdated => {
                "Staff changed a conversation (status, bot pause, assignee, locale or patient)."
            }
            Self::ConversationClosed => {
                "A conversation was closed; the phone's next message opens a new one."
            }
            Self::ConversationEscalated => {
                "A red flag (e.g. an emergency) paused the bot: staff must act; the bot never books it."
            }
        }
    }
}

/// `APPOINTMENT_CREATED` → `appointment.created`; also used for types this build does not know.
pub fn routing_key_of(event_type: &str) -> String {
    event_type.to_ascii_lowercase().replace('_', ".")
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

/// Why an envelope's data could not be read as a typed event.
#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error(transparent)]
    UnknownType(#[from] UnknownEventType),
    #[error("envelope is a {actual} event, not {expected}")]
    WrongType { expected: EventType, actual: String },
    #[error("{event_type} data does not match the catalog: {source}")]
    InvalidData {
        event_type: EventType,
        source: serde_json::Error,
    },
}

/// A typed event payload: the `data` of one [`EventType`].
pub trait EventData: Serialize + DeserializeOwned + Send + Sync + 'static {
    const TYPE: EventType;

    /// A realistic sample, used in the AsyncAPI document, the docs and the tests.
    fn example() -> Self;
}

/// The message on the wire (ARCHITECTURE §5):
/// `{ "id": uuid, "type": "APPOINTMENT_CREATED", "occurred_at": RFC 3339, "source": "appointments", "data": {...} }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Envelope {
    /// Unique per event; consumers deduplicate on it. Also the AMQP `message_id`.
    pub id: Uuid,
    /// `APPOINTMENT_CREATED`, … Also the AMQP `type` property.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "APPOINTMENT_CREATED"))]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The publishing service (`webhooks`, `conversations`, `appointments`, `n8n-callbacks`).
    #[cfg_attr(feature = "openapi", schema(example = "appointments"))]
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

impl Envelope {
    /// Wraps a typed payload with a fresh time-ordered id and the current time.
    pub fn new<E: EventData>(source: impl Into<String>, data: E) -> Self {
        Self::at(source, data, Uuid::now_v7(), Utc::now())
    }

    /// As [`Envelope::new`] with an explicit id and time (replays, examples, tests).
    pub fn at<E: EventData>(
        source: impl Into<String>,
        data: E,
        id: Uuid,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            event_type: E::TYPE.as_str().to_owned(),
            occurred_at,
            source: source.into(),
            // The catalog types are plain structs with string keys: serializing them to a
            // JSON value cannot fail (a test serializes every example).
            data: serde_json::to_value(&data).unwrap_or(serde_json::Value::Null),
        }
    }

    /// The catalog type, if this build knows it.
    pub fn kind(&self) -> Result<EventType, UnknownEventType> {
        self.event_type.parse()
    }

    /// The routing key on the topic exchange.
    pub fn routing_key(&self) -> String {
        routing_key_of(&self.event_type)
    }

    /// Reads `data` as the payload of `E`, checking the type first.
    pub fn data_as<E: EventData>(&self) -> Result<E, EventDecodeError> {
        if self.event_type != E::TYPE.as_str() {
            return Err(EventDecodeError::WrongType {
                expected: E::TYPE,
                actual: self.event_type.clone(),
            });
        }
        E::deserialize(&self.data).map_err(|source| EventDecodeError::InvalidData {
            event_type: E::TYPE,
            source,
        })
    }

    /// Reads the envelope as one of the catalog's events.
    pub fn decode(&self) -> Result<Event, EventDecodeError> {
        Event::from_envelope(self)
    }
}

macro_rules! catalog {
    ($($variant:ident($ty:ident)),* $(,)?) => {
        /// Any event of the catalog, typed.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($variant($ty),)*
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Self::$variant(_) => EventType::$variant,)*
                }
            }

            pub fn into_envelope(self, source: impl Into<String>) -> Envelope {
                match self {
                    $(Self::$variant(data) => Envelope::new(source, data),)*
                }
            }

            fn from_envelope(envelope: &Envelope) -> Result<Self, EventDecodeError> {
                match envelope.kind()? {
                    $(EventType::$variant => envelope.data_as::<$ty>().map(Self::$variant),)*
                }
            }

            /// The catalog's example envelope of `event_type` (fixed id and time).
            pub fn example_envelope(event_type: EventType) -> Envelope {
                let occurred_at = DateTime::parse_from_rfc3339("2026-11-22T14:03:07Z")
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default();
                match event_type {
                    $(EventType::$variant => Envelope::at(
                        event_type.producer(),
                        $ty::example(),
                        example_id(event_type as u128),
                        occurred_at,
                    ),)*
                }
            }
        }

        $(
            impl EventData for $ty {
                const TYPE: EventType = EventType::$variant;
                fn example() -> Self {
                    examples::$variant()
                }
            }

            impl From<$ty> for Event {
                fn from(data: $ty) -> Self {
                    Self::$variant(data)
                }
            }
        )*
    };
}

catalog! {
    MessageReceived(MessageReceived),
    IntakeUpdated(IntakeUpdated),
    TriageProposed(TriageProposed),
    TriageCompleted(TriageCompleted),
    BookingAction(BookingAction),
    SlotSelectionReceived(SlotSelectionReceived),
    SlotsOffered(SlotsOffered),
    AppointmentCreated(AppointmentCreated),
    AppointmentCancelled(AppointmentCancelled),
    AppointmentRescheduled(AppointmentRescheduled),
    MessageSendRequested(MessageSendRequested),
    MessageSent(MessageSent),
    MessageStatusUpdated(MessageStatusUpdated),
    ConversationOpened(ConversationOpened),
    ConversationUpdated(ConversationUpdated),
    ConversationClosed(ConversationClosed),
    ConversationEscalated(ConversationEscalated),
}

fn example_id(n: u128) -> Uuid {
    Uuid::from_u128(0x0193_5a2e_7c40_7000_8000_0000_0000_0000 | (n + 1))
}

// ---------------------------------------------------------------------------------------
// References embedded in events: enough for a consumer to act without calling us back.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PatientRef {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "María Pérez"))]
    pub name: String,
    pub phone: PhoneNumber,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PractitionerRef {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "Dr. Ana Gómez"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub specialty: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LocationRef {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "Sede Norte"))]
    pub name: String,
    pub timezone: TimeZone,
}

/// Who carries a patient's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageProvider {
    Twilio,
    Meta,
    VoiceAgent,
    /// The embedded recording sender (no real provider configured); outbound only.
    Recording,
}

// ---------------------------------------------------------------------------------------
// Payloads.

/// `MESSAGE_RECEIVED.data` (ARCHITECTURE §5, field for field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MessageReceived {
    /// Our id of the stored inbound message.
    pub message_id: Uuid,
    /// `twilio`, `meta` or `voice_agent`.
    pub provider: MessageProvider,
    /// Twilio `MessageSid`, Meta `wamid…`, voice-agent `call_id`.
    pub provider_message_id: String,
    pub channel: Channel,
    /// E.164, without `whatsapp:`.
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    /// Verbatim text as the patient sent it.
    pub body: String,
    pub media: Vec<Media>,
    pub profile_name: Option<String>,
    pub wa_id: Option<String>,
    /// Speech-to-text of a voice note or call, when there was audio.
    pub transcription: Option<String>,
    pub received_at: DateTime<Utc>,
    /// What the voice agent understood the caller wants (voice-agent calls only;
    /// omitted otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Structured data the voice agent extracted from the call (voice-agent calls
    /// only; omitted otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted_data: Option<serde_json::Value>,
    /// A location the patient shared (a Twilio message with `Latitude`/`Longitude`, a
    /// Meta `location` message); omitted otherwise. Its `body` is then usually empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SharedLocation>,
    /// What the provider sent beyond the fields above, as it sent it: for Twilio every
    /// posted parameter not carried by a field of its own (`ButtonPayload`, `Latitude`,
    /// `Forwarded`, `MessagingServiceSid`, unknown ones…, values as strings); for Meta
    /// the message object without `from`, `id` and `timestamp` (`type`, `context`,
    /// `referral`, the typed content…); for the voice agent `started_at`. Omitted when
    /// there is nothing more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub provider_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A location shared in a message (WGS 84 degrees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SharedLocation {
    #[cfg_attr(feature = "openapi", schema(example = 4.6534649))]
    pub latitude: f64,
    #[cfg_attr(feature = "openapi", schema(example = -74.0836453))]
    pub longitude: f64,
    /// The place's address, when the patient shared a named place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The place's name (Twilio `Label`, Meta `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl SharedLocation {
    /// A location from the provider's text fields; `None` unless both coordinates are
    /// finite numbers within range.
    pub fn parse(
        latitude: &str,
        longitude: &str,
        address: Option<String>,
        label: Option<String>,
    ) -> Option<Self> {
        let latitude: f64 = latitude.trim().parse().ok()?;
        let longitude: f64 = longitude.trim().parse().ok()?;
        Self::new(latitude, longitude, address, label)
    }

    /// `None` unless `latitude` is in [-90, 90] and `longitude` in [-180, 180].
    pub fn new(
        latitude: f64,
        longitude: f64,
        address: Option<String>,
        label: Option<String>,
    ) -> Option<Self> {
        let in_range = (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude);
        in_range.then(|| Self {
            latitude,
            longitude,
            address: address.filter(|a| !a.trim().is_empty()),
            label: label.filter(|l| !l.trim().is_empty()),
        })
    }
}

/// `INTAKE_UPDATED.data`: the intake data collected so far for a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IntakeUpdated {
    pub conversation_id: Uuid,
    /// Field → value as extracted (`name`, `date_of_birth`, `chief_complaint`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extracted_data: serde_json::Map<String, serde_json::Value>,
    /// The next question to ask the patient; null when nothing is missing.
    pub next_question: Option<String>,
    pub intake_complete: bool,
    /// `n8n`, `openai` or `builtin`.
    #[cfg_attr(feature = "openapi", schema(example = "n8n"))]
    pub extracted_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Routine,
    Urgent,
    Emergency,
}

/// The patient's scheduling preferences, as find-slots takes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlotPreferences {
    pub location_id: Option<Uuid>,
    pub day_of_week: Option<Weekday>,
    /// Preferred local time of day, `HH:MM`.
    #[cfg_attr(feature = "openapi", schema(example = "10:00"))]
    pub time_of_day: Option<String>,
    pub practitioner_id: Option<Uuid>,
}

/// `TRIAGE_PROPOSED.data`: n8n's triage-response, as n8n-callbacks received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TriageProposed {
    pub conversation_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub department: String,
    pub confidence: Option<f64>,
    pub urgency: Option<Urgency>,
    pub reasoning: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "n8n"))]
    pub proposed_by: String,
}

/// `TRIAGE_COMPLETED.data`: appointments answers with `SLOTS_OFFERED`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TriageCompleted {
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub patient_phone: PhoneNumber,
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub department: String,
    /// 0.0 – 1.0.
    pub confidence: Option<f64>,
    pub urgency: Option<Urgency>,
    pub reasoning: Option<String>,
    pub preferences: SlotPreferences,
    /// `es` or `en`.
    pub locale: Option<crate::Locale>,
    /// From the intake, so that appointments can register a patient it does not know
    /// yet (by `patient_phone`) with the name and birth date the patient gave.
    #[serde(default)]
    pub patient_name: Option<String>,
    #[serde(default)]
    pub birth_date: Option<chrono::NaiveDate>,
    /// The chief complaint, kept as the appointment's reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// The patient asked for the soonest slot ("lo antes posible"): offers are ordered
    /// by start, as for `urgent`.
    #[serde(default)]
    pub soonest: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BookingActionKind {
    Confirm,
    Cancel,
    Reschedule,
}

/// `BOOKING_ACTION.data` (from n8n's booking-response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BookingAction {
    pub conversation_id: Uuid,
    pub action: BookingActionKind,
    pub appointment_id: Option<Uuid>,
    pub reason: Option<String>,
}

/// `SLOT_SELECTION_RECEIVED.data`: the patient's verbatim answer to a slot offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlotSelectionReceived {
    pub conversation_id: Uuid,
    /// The inbound message that carried the answer.
    pub message_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "la segunda"))]
    pub text: String,
    pub received_at: DateTime<Utc>,
    /// The triage the offer was made for, so that an offer that expired (offers are
    /// cached for 15 minutes) can be made again instead of leaving the patient stuck.
    #[serde(default)]
    pub offer_basis: Option<TriageCompleted>,
}

/// One proposed slot, as the patient sees it in the numbered list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OfferedSlot {
    /// 1-based position in the list.
    pub index: u32,
    /// RFC 3339 with the location's offset.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    pub score: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Lun 23 nov 10:00 – Dr. Ana Gómez, Sede Norte")
    )]
    pub text: String,
}

/// `SLOTS_OFFERED.data`: conversations sends `message` to the patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlotsOffered {
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(example = "Cardiology"))]
    pub department: String,
    pub slots: Vec<OfferedSlot>,
    /// The WhatsApp-ready numbered list.
    pub message: String,
}

/// `APPOINTMENT_CREATED.data` (ARCHITECTURE §5, field for field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentCreated {
    pub appointment_id: Uuid,
    pub status: AppointmentStatus,
    /// RFC 3339 with the location's offset, e.g. `2026-11-23T10:00:00-05:00`.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    /// Null when the appointment was booked outside a conversation (front desk).
    pub conversation_id: Option<Uuid>,
    /// The channel the patient booked through; null when booked by the front desk.
    pub channel: Option<Channel>,
}

/// `APPOINTMENT_CANCELLED.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentCancelled {
    pub appointment_id: Uuid,
    /// Always `cancelled`.
    pub status: AppointmentStatus,
    /// The cancelled slot, RFC 3339 with the location's offset.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub reason: Option<String>,
    pub cancelled_at: DateTime<Utc>,
    /// `patient`, `clinic` or `system`.
    #[cfg_attr(feature = "openapi", schema(example = "patient"))]
    pub cancelled_by: String,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    pub location: LocationRef,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
}

/// `APPOINTMENT_RESCHEDULED.data`: the same appointment at a new time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppointmentRescheduled {
    pub appointment_id: Uuid,
    pub status: AppointmentStatus,
    pub previous_start: DateTime<FixedOffset>,
    pub previous_end: DateTime<FixedOffset>,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub reason: Option<String>,
    pub rescheduled_at: DateTime<Utc>,
    pub patient: PatientRef,
    pub practitioner: PractitionerRef,
    /// The location of the new slot.
    pub location: LocationRef,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
}

/// `MESSAGE_SEND_REQUESTED.data`: conversations sends it and records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MessageSendRequested {
    /// Chosen by the requester: the id of the outbound message, so a redelivered
    /// request is sent once.
    pub message_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub channel: Channel,
    pub to: PhoneNumber,
    pub body: String,
    pub media: Vec<Media>,
    /// What the message is about (`appointment_confirmation`, `slot_offer`, …).
    #[cfg_attr(feature = "openapi", schema(example = "appointment_confirmation"))]
    pub purpose: Option<String>,
}

/// `MESSAGE_SENT.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MessageSent {
    pub message_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub provider: MessageProvider,
    pub provider_message_id: Option<String>,
    pub channel: Channel,
    pub to: PhoneNumber,
    pub sent_at: DateTime<Utc>,
}

/// `CONVERSATION_OPENED.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConversationOpened {
    pub conversation_id: Uuid,
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub patient_id: Option<Uuid>,
    pub locale: crate::Locale,
    /// `patient` (their first message) or `staff` (created over the API).
    #[cfg_attr(feature = "openapi", schema(example = "patient"))]
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
}

/// `CONVERSATION_UPDATED.data`: the conversation's staff-facing fields after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConversationUpdated {
    pub conversation_id: Uuid,
    /// The fields that changed (`status`, `bot_paused`, `assignee`, `locale`, `patient_id`).
    pub changed: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(example = "open"))]
    pub status: String,
    pub bot_paused: bool,
    pub assignee: Option<String>,
    pub locale: crate::Locale,
    pub patient_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// `CONVERSATION_CLOSED.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConversationClosed {
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    /// The journey stage it was closed in.
    #[cfg_attr(feature = "openapi", schema(example = "booked"))]
    pub stage: String,
    pub closed_at: DateTime<Utc>,
}

/// `CONVERSATION_ESCALATED.data`: the bot stopped; staff must act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConversationEscalated {
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub phone: PhoneNumber,
    pub urgency: Urgency,
    /// Why (`emergency`, `triage_emergency`…); never the patient's words.
    #[cfg_attr(feature = "openapi", schema(example = "emergency"))]
    pub reason: String,
    pub escalated_at: DateTime<Utc>,
}

/// Provider delivery states (Twilio's and Meta's, merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
}

/// `MESSAGE_STATUS_UPDATED.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MessageStatusUpdated {
    /// Our message id, when the provider id could be matched to one.
    pub message_id: Option<Uuid>,
    pub provider: MessageProvider,
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    pub error_code: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The examples of the catalog. Fixed values so generated documents are stable.
#[allow(non_snake_case)]
mod examples {
    use super::*;
    use crate::Locale;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(0x5f1c_9b1e_0d4a_4c8e_9a4f_0000_0000_0000 | n)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn local(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap_or_default()
    }

    fn phone(s: &str) -> PhoneNumber {
        // Example numbers are valid E.164; fall back to the clinic's sample number.
        PhoneNumber::parse(s, "57")
            .or_else(|_| PhoneNumber::parse("+573001234567", "57"))
            .unwrap_or_else(|_| unreachable_phone())
    }

    #[allow(clippy::panic)]
    fn unreachable_phone() -> PhoneNumber {
        panic!("the example phone number is valid E.164")
    }

    fn bogota() -> TimeZone {
        TimeZone::from(chrono_tz::America::Bogota)
    }

    fn patient() -> PatientRef {
        PatientRef {
            id: id(1),
            name: "María Pérez".into(),
            phone: phone("+573001234567"),
        }
    }

    fn practitioner() -> PractitionerRef {
        PractitionerRef {
            id: id(2),
            name: "Dr. Ana Gómez".into(),
            specialty: "Cardiology".into(),
        }
    }

    fn location() -> LocationRef {
        LocationRef {
            id: id(3),
            name: "Sede Norte".into(),
            timezone: bogota(),
        }
    }

    const CONVERSATION: u128 = 4;
    const APPOINTMENT: u128 = 5;
    const MESSAGE: u128 = 6;

    pub fn MessageReceived() -> super::MessageReceived {
        super::MessageReceived {
            message_id: id(MESSAGE),
            provider: MessageProvider::Twilio,
            provider_message_id: "SM0123456789abcdef0123456789abcdef".into(),
            channel: Channel::Whatsapp,
            from: phone("+573001234567"),
            to: phone("+14155238886"),
            body: "Hola, necesito una cita con cardiología".into(),
            media: vec![],
            profile_name: Some("María".into()),
            wa_id: Some("573001234567".into()),
            transcription: None,
            received_at: utc("2026-11-22T14:03:05Z"),
            intent: None,
            extracted_data: None,
            location: None,
            provider_fields: None,
        }
    }

    pub fn IntakeUpdated() -> super::IntakeUpdated {
        let mut extracted = serde_json::Map::new();
        extracted.insert("name".into(), "María Pérez".into());
        extracted.insert(
            "chief_complaint".into(),
            "dolor en el pecho al caminar".into(),
        );
        super::IntakeUpdated {
            conversation_id: id(CONVERSATION),
            extracted_data: extracted,
            next_question: Some("¿Cuál es su fecha de nacimiento?".into()),
            intake_complete: false,
            extracted_by: "n8n".into(),
        }
    }

    pub fn TriageCompleted() -> super::TriageCompleted {
        super::TriageCompleted {
            conversation_id: id(CONVERSATION),
            patient_id: Some(id(1)),
            patient_phone: phone("+573001234567"),
            department: "Cardiology".into(),
            confidence: Some(0.92),
            urgency: Some(Urgency::Routine),
            reasoning: Some("Exertional chest pain without red flags".into()),
            preferences: SlotPreferences {
                location_id: Some(id(3)),
                day_of_week: Weekday::new(0).ok(),
                time_of_day: Some("10:00".into()),
                practitioner_id: None,
            },
            locale: Some(Locale::Es),
            patient_name: Some("María Pérez".into()),
            birth_date: chrono::NaiveDate::from_ymd_opt(1988, 4, 12),
            reason: Some("Dolor en el pecho al subir escaleras".into()),
            soonest: false,
        }
    }

    pub fn TriageProposed() -> super::TriageProposed {
        super::TriageProposed {
            conversation_id: id(CONVERSATION),
            department: "Cardiology".into(),
            confidence: Some(0.9),
            urgency: Some(Urgency::Routine),
            reasoning: Some("Chest pain on exertion, no red flags".into()),
            proposed_by: "n8n".into(),
        }
    }

    pub fn BookingAction() -> super::BookingAction {
        super::BookingAction {
            conversation_id: id(CONVERSATION),
            action: BookingActionKind::Cancel,
            appointment_id: Some(id(APPOINTMENT)),
            reason: Some("Patient is travelling".into()),
        }
    }

    pub fn SlotSelectionReceived() -> super::SlotSelectionReceived {
        super::SlotSelectionReceived {
            conversation_id: id(CONVERSATION),
            message_id: id(7),
            text: "la segunda".into(),
            received_at: utc("2026-11-22T14:05:41Z"),
            offer_basis: None,
        }
    }

    pub fn SlotsOffered() -> super::SlotsOffered {
        let slot = |index: u32, start: &str, end: &str, text: &str, score| OfferedSlot {
            index,
            start: local(start),
            end: local(end),
            practitioner: practitioner(),
            location: location(),
            score,
            text: text.into(),
        };
        super::SlotsOffered {
            conversation_id: id(CONVERSATION),
            patient_id: Some(id(1)),
            department: "Cardiology".into(),
            slots: vec![
                slot(
                    1,
                    "2026-11-23T10:00:00-05:00",
                    "2026-11-23T10:30:00-05:00",
                    "lun 23 nov 10:00 – Dr. Ana Gómez, Sede Norte",
                    193,
                ),
                slot(
                    2,
                    "2026-11-23T10:30:00-05:00",
                    "2026-11-23T11:00:00-05:00",
                    "lun 23 nov 10:30 – Dr. Ana Gómez, Sede Norte",
                    193,
                ),
            ],
            message: "Estos son los horarios disponibles:\n1. lun 23 nov 10:00 – Dr. Ana Gómez, Sede Norte\n2. lun 23 nov 10:30 – Dr. Ana Gómez, Sede Norte\nResponda con el número de su preferencia.".into(),
        }
    }

    pub fn AppointmentCreated() -> super::AppointmentCreated {
        super::AppointmentCreated {
            appointment_id: id(APPOINTMENT),
            status: AppointmentStatus::Booked,
            start: local("2026-11-23T10:30:00-05:00"),
            end: local("2026-11-23T11:00:00-05:00"),
            patient: patient(),
            practitioner: practitioner(),
            location: location(),
            conversation_id: Some(id(CONVERSATION)),
            channel: Some(Channel::Whatsapp),
        }
    }

    pub fn AppointmentCancelled() -> super::AppointmentCancelled {
        super::AppointmentCancelled {
            appointment_id: id(APPOINTMENT),
            status: AppointmentStatus::Cancelled,
            start: local("2026-11-23T10:30:00-05:00"),
            end: local("2026-11-23T11:00:00-05:00"),
            reason: Some("Patient is travelling".into()),
            cancelled_at: utc("2026-11-22T16:20:00Z"),
            cancelled_by: "patient".into(),
            patient: patient(),
            practitioner: practitioner(),
            location: location(),
            conversation_id: Some(id(CONVERSATION)),
            channel: Some(Channel::Whatsapp),
        }
    }

    pub fn AppointmentRescheduled() -> super::AppointmentRescheduled {
        super::AppointmentRescheduled {
            appointment_id: id(APPOINTMENT),
            status: AppointmentStatus::Booked,
            previous_start: local("2026-11-23T10:30:00-05:00"),
            previous_end: local("2026-11-23T11:00:00-05:00"),
            start: local("2026-11-25T15:00:00-05:00"),
            end: local("2026-11-25T15:30:00-05:00"),
            reason: Some("Patient asked for an afternoon slot".into()),
            rescheduled_at: utc("2026-11-22T16:25:00Z"),
            patient: patient(),
            practitioner: practitioner(),
            location: location(),
            conversation_id: Some(id(CONVERSATION)),
            channel: Some(Channel::Whatsapp),
        }
    }

    pub fn MessageSendRequested() -> super::MessageSendRequested {
        super::MessageSendRequested {
            message_id: id(8),
            conversation_id: Some(id(CONVERSATION)),
            channel: Channel::Whatsapp,
            to: phone("+573001234567"),
            body: "Su cita quedó agendada: lun 23 nov 10:30 con Dr. Ana Gómez, Sede Norte.".into(),
            media: vec![],
            purpose: Some("appointment_confirmation".into()),
        }
    }

    pub fn MessageSent() -> super::MessageSent {
        super::MessageSent {
            message_id: id(8),
            conversation_id: Some(id(CONVERSATION)),
            provider: MessageProvider::Twilio,
            provider_message_id: Some("SMfedcba9876543210fedcba9876543210".into()),
            channel: Channel::Whatsapp,
            to: phone("+573001234567"),
            sent_at: utc("2026-11-22T14:06:02Z"),
        }
    }

    pub fn ConversationOpened() -> super::ConversationOpened {
        super::ConversationOpened {
            conversation_id: id(CONVERSATION),
            phone: phone("+573001234567"),
            channel: Channel::Whatsapp,
            patient_id: None,
            locale: crate::Locale::Es,
            opened_by: "patient".into(),
            opened_at: utc("2026-11-22T14:03:07Z"),
        }
    }

    pub fn ConversationUpdated() -> super::ConversationUpdated {
        super::ConversationUpdated {
            conversation_id: id(CONVERSATION),
            changed: vec!["bot_paused".into(), "assignee".into()],
            status: "open".into(),
            bot_paused: true,
            assignee: Some("recepcion@clinica.example".into()),
            locale: crate::Locale::Es,
            patient_id: None,
            updated_at: utc("2026-11-22T14:10:00Z"),
        }
    }

    pub fn ConversationClosed() -> super::ConversationClosed {
        super::ConversationClosed {
            conversation_id: id(CONVERSATION),
            patient_id: Some(patient().id),
            stage: "booked".into(),
            closed_at: utc("2026-11-22T15:00:00Z"),
        }
    }

    pub fn ConversationEscalated() -> super::ConversationEscalated {
        super::ConversationEscalated {
            conversation_id: id(CONVERSATION),
            patient_id: None,
            phone: phone("+573001234567"),
            urgency: Urgency::Emergency,
            reason: "emergency".into(),
            escalated_at: utc("2026-11-22T14:04:00Z"),
        }
    }

    pub fn MessageStatusUpdated() -> super::MessageStatusUpdated {
        super::MessageStatusUpdated {
            message_id: Some(id(8)),
            provider: MessageProvider::Twilio,
            provider_message_id: "SMfedcba9876543210fedcba9876543210".into(),
            status: DeliveryStatus::Delivered,
            error_code: None,
            updated_at: utc("2026-11-22T14:06:05Z"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routing_keys_are_the_type_in_lower_dotted_form() {
        assert_eq!(
            EventType::AppointmentCreated.routing_key(),
            "appointment.created"
        );
        assert_eq!(
            EventType::MessageSendRequested.routing_key(),
            "message.send.requested"
        );
        assert_eq!(
            EventType::SlotSelectionReceived.routing_key(),
            "slot.selection.received"
        );
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(t.routing_key(), t.as_str().to_lowercase().replace('_', "."));
        }
        assert!("APPOINTMENT_EXPLODED".parse::<EventType>().is_err());
    }

    #[test]
    fn every_example_round_trips_through_its_envelope() {
        for t in EventType::ALL {
            let envelope = Event::example_envelope(t);
            assert_eq!(envelope.event_type, t.as_str());
            assert!(
                envelope.data.is_object(),
                "{t} example serialized to {:?}",
                envelope.data
            );
            let wire = serde_json::to_string(&envelope).unwrap();
            let back: Envelope = serde_json::from_str(&wire).unwrap();
            assert_eq!(back, envelope);
            let event = back.decode().unwrap();
            assert_eq!(event.event_type(), t);
            assert_eq!(event.into_envelope(t.producer()).data, envelope.data);
        }
    }

    #[test]
    fn appointment_created_matches_the_contract_field_for_field() {
        let envelope = Envelope::at(
            "appointments",
            AppointmentCreated::example(),
            Uuid::nil(),
            DateTime::parse_from_rfc3339("2026-11-22T14:03:07Z")
                .unwrap()
                .to_utc(),
        );
        let wire = serde_json::to_value(&envelope).unwrap();
        let a = "5f1c9b1e-0d4a-4c8e-9a4f-";
        assert_eq!(
            wire,
            json!({
                "id": "00000000-0000-0000-0000-000000000000",
                "type": "APPOINTMENT_CREATED",
                "occurred_at": "2026-11-22T14:03:07Z",
                "source": "appointments",
                "data": {
                    "appointment_id": format!("{a}000000000005"),
                    "status": "booked",
                    "start": "2026-11-23T10:30:00-05:00",
                    "end": "2026-11-23T11:00:00-05:00",
                    "patient": { "id": format!("{a}000000000001"), "name": "María Pérez", "phone": "+573001234567" },
                    "practitioner": { "id": format!("{a}000000000002"), "name": "Dr. Ana Gómez", "specialty": "Cardiology" },
                    "location": { "id": format!("{a}000000000003"), "name": "Sede Norte", "timezone": "America/Bogota" },
                    "conversation_id": format!("{a}000000000004"),
                    "channel": "whatsapp"
                }
            })
        );
    }

    #[test]
    fn message_received_matches_the_contract_field_for_field() {
        let data = serde_json::to_value(MessageReceived::example()).unwrap();
        let mut keys: Vec<_> = data.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "body",
                "channel",
                "from",
                "media",
                "message_id",
                "profile_name",
                "provider",
                "provider_message_id",
                "received_at",
                "to",
                "transcription",
                "wa_id"
            ]
        );
        assert_eq!(data["provider"], "twilio");
        assert_eq!(
            data["from"], "+573001234567",
            "E.164 without the whatsapp: prefix"
        );
        assert!(
            data.get("intent").is_none() && data.get("extracted_data").is_none(),
            "voice-agent fields are omitted from other providers' messages"
        );
        let voice = MessageReceived {
            provider: MessageProvider::VoiceAgent,
            intent: Some("book_appointment".into()),
            extracted_data: Some(serde_json::json!({"department": "Cardiology"})),
            ..MessageReceived::example()
        };
        let voice = serde_json::to_value(voice).unwrap();
        assert_eq!(voice["provider"], "voice_agent");
        assert_eq!(voice["intent"], "book_appointment");
        assert_eq!(voice["extracted_data"]["department"], "Cardiology");
    }

    #[test]
    fn shared_locations_and_provider_fields_are_additive() {
        let plain = serde_json::to_value(MessageReceived::example()).unwrap();
        assert!(plain.get("location").is_none() && plain.get("provider_fields").is_none());
        let at =
            SharedLocation::parse(" 4.6534649", "-74.0836453", Some("Cra 7".into()), None).unwrap();
        assert_eq!((at.latitude, at.longitude), (4.6534649, -74.0836453));
        let mut fields = serde_json::Map::new();
        fields.insert("ButtonPayload".into(), json!("confirm"));
        let shared = MessageReceived {
            location: Some(at),
            provider_fields: Some(fields),
            ..MessageReceived::example()
        };
        let value = serde_json::to_value(&shared).unwrap();
        assert_eq!(
            value["location"],
            json!({"latitude": 4.6534649, "longitude": -74.0836453, "address": "Cra 7"})
        );
        assert_eq!(value["provider_fields"]["ButtonPayload"], "confirm");
        assert_eq!(
            serde_json::from_value::<MessageReceived>(value).unwrap(),
            shared
        );
        for (lat, lon) in [
            ("91", "0"),
            ("0", "180.5"),
            ("NaN", "0"),
            ("inf", "1"),
            ("", "1"),
            ("x", "y"),
        ] {
            assert!(
                SharedLocation::parse(lat, lon, None, None).is_none(),
                "{lat},{lon}"
            );
        }
        assert!(
            SharedLocation::parse("-90", "180", Some(" ".into()), Some("".into()))
                .is_some_and(|l| l.address.is_none() && l.label.is_none())
        );
    }

    #[test]
    fn data_as_checks_the_type_and_the_shape() {
        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        assert_eq!(envelope.source, "appointments");
        assert_eq!(envelope.routing_key(), "appointment.created");
        assert_eq!(
            envelope.data_as::<AppointmentCreated>().unwrap(),
            AppointmentCreated::example()
        );
        assert!(matches!(
            envelope.data_as::<MessageSent>(),
            Err(EventDecodeError::WrongType {
                expected: EventType::MessageSent,
                ..
            })
        ));
        let mut broken = envelope.clone();
        broken.data["start"] = json!("tomorrow");
        assert!(matches!(
            broken.decode(),
            Err(EventDecodeError::InvalidData { .. })
        ));
        let unknown = Envelope {
            event_type: "PATIENT_TELEPORTED".into(),
            ..envelope
        };
        assert!(matches!(
            unknown.decode(),
            Err(EventDecodeError::UnknownType(_))
        ));
        assert_eq!(unknown.routing_key(), "patient.teleported");
    }

    #[test]
    fn new_envelopes_get_distinct_time_ordered_ids() {
        let a = Envelope::new("x", MessageSent::example());
        let b = Envelope::new("x", MessageSent::example());
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.get_version_num(), 7);
    }
}

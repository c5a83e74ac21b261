//! The envelope every event travels in, the kinds of event and how a payload is
//! read back.

use super::*;

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
    ReminderDue,
}

impl EventType {
    pub const ALL: [Self; 18] = [
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
        Self::ReminderDue,
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
            Self::TriageProposed => "TRIAGE_PROPOSED",
            Self::ReminderDue => "REMINDER_DUE",
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
            Self::TriageCompleted
            | Self::SlotSelectionReceived
            | Self::MessageSent
            | Self::ConversationOpened
            | Self::ConversationUpdated
            | Self::ConversationClosed
            | Self::ConversationEscalated => "conversations",
            Self::SlotsOffered
            | Self::AppointmentCreated
            | Self::AppointmentCancelled
            | Self::AppointmentRescheduled
            | Self::ReminderDue
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
            Self::ReminderDue => {
                "A scheduled reminder, follow-up or no-show message is due; conversations sends it with the clinic's template."
            }
            Self::TriageProposed => {
                "An n8n workflow proposed a department and urgency; conversations checks them and completes the triage."
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

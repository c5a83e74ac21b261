//! Messages sent to patients and what became of them (conversations, webhooks).

use super::*;

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

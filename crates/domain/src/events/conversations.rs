//! The life of a conversation as other services and journey orchestration see it
//! (conversations).

use super::*;

/// `CONVERSATION_OPENED.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConversationOpened {
    pub conversation_id: Uuid,
    pub phone: PhoneNumber,
    pub channel: Channel,
    pub patient_id: Option<Uuid>,
    pub locale: crate::Locale,
    /// `patient` (their first message), `staff` (created over the API) or `system` (a
    /// service asked to message the patient).
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
    /// Why (`emergency`, `triage_emergency`, `no_slots`, `nothing_to_book`); never the
    /// patient's words.
    #[cfg_attr(feature = "openapi", schema(example = "emergency"))]
    pub reason: String,
    pub escalated_at: DateTime<Utc>,
}

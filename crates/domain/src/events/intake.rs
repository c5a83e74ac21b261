//! Intake and triage (conversations): what the patient needs and what they chose.

use super::*;

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
}

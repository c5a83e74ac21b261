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

/// How soon the patient should be seen: `routine`, `urgent` or `emergency`.
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

/// What n8n asks to do with the appointment: `confirm`, `cancel` or `reschedule`.
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
    /// The conversation's patient, when known. An appointment booked outside any
    /// conversation (front desk) is acted on only when it is this patient's; it then
    /// joins the conversation, so its later events reach the patient's thread.
    #[serde(default)]
    pub patient_id: Option<Uuid>,
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

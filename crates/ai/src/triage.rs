//! Triage: which department, how urgent. The red-flag check ([`assess_urgency`]) runs on
//! every inbound text whatever engine is configured, before anything else.

use chrono::NaiveDate;
use prm_domain::{Locale, events::Urgency};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    builtin::urgency,
    intake::{ClinicContext, IntakeData},
};

/// What triage reads.
#[derive(Debug, Clone, Copy)]
pub struct TriageInput<'a> {
    pub conversation_id: Uuid,
    pub locale: Locale,
    pub data: &'a IntakeData,
    /// Every patient message so far ("necesito una cita con el cardiólogo" names the
    /// department).
    pub patient_texts: &'a [String],
    pub clinic: &'a ClinicContext,
    /// The clinic's today (a child by birth date goes to pediatrics).
    pub today: NaiveDate,
}

/// The department and urgency triage decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageDecision {
    /// Exactly one of the clinic's departments, as the clinic spells it.
    pub department: String,
    pub urgency: Urgency,
    /// 0 to 1.
    pub confidence: f64,
    /// For staff: why this department (never the patient's words for the built-in rules).
    pub reasoning: Option<String>,
}

/// How urgent a patient's text sounds (`emergency`: escalate, never book). Spanish and
/// English, accents and typos tolerated, denials ("no tengo dificultad para respirar")
/// respected.
pub fn assess_urgency(text: &str) -> Urgency {
    urgency::assess(text)
}

/// What to tell a patient whose message sounds like an emergency.
pub fn emergency_message(locale: Locale, emergency_number: &str) -> String {
    urgency::emergency_message(locale, emergency_number)
}

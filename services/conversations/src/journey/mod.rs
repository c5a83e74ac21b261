//! The booking journey of one conversation (ARCHITECTURE §8): intake → triage →
//! offering → booked, with emergencies escalated to staff and never booked.
//!
//! [`Journey::on_message`] decides what one patient message does: which replies go out,
//! which events are published and where the conversation moves. It reads no clock and
//! writes nothing: the caller (the inbox) gives it the time and commits its outcome with
//! the message, in one transaction.

mod reminder;
mod texts;
mod turn;

use chrono::{DateTime, Utc};
use prm_ai::{IntakeState, TriageDecision};
use prm_domain::events::{TriageCompleted, Urgency};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use reminder::{AwaitedReminder, reminder_answer};
pub use texts::Texts;
pub use turn::{Journey, Reply, TurnContext, TurnInput, TurnOutcome};

/// What the journey remembers between messages: kept in the conversation's row
/// (`journey`), cached in Redis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneyState {
    /// The intake, once the patient wrote.
    #[serde(default)]
    pub intake: Option<IntakeState>,
    /// What the patient wrote so far (the last few), for triage.
    #[serde(default)]
    pub patient_texts: Vec<String>,
    #[serde(default)]
    pub triage: Option<TriageOutcome>,
    /// n8n's triage that came before its intake answer was taken in (the two callbacks'
    /// events may be handled in either order): applied as the intake completes.
    #[serde(default)]
    pub early_triage: Option<TriageOutcome>,
    /// The TRIAGE_COMPLETED the current offer answers: sent again with a selection, so an
    /// expired offer can be renewed.
    #[serde(default)]
    pub offer_basis: Option<TriageCompleted>,
    /// A turn handed to n8n that has not been answered yet.
    #[serde(default)]
    pub awaiting: Option<Awaiting>,
    /// The appointment the journey booked.
    #[serde(default)]
    pub appointment_id: Option<Uuid>,
    /// The stage before an escalation, to return to when staff resume the bot.
    #[serde(default)]
    pub resume_stage: Option<prm_domain::conversation::Stage>,
    /// Why the conversation was last escalated (`emergency`, `no_slots`…): only a
    /// conversation handed to staff for want of slots is given back to the bot by a
    /// waitlist offer, never one escalated for a red flag.
    #[serde(default)]
    pub escalation_reason: Option<String>,
    /// A reminder sent that the patient may answer 1 confirm / 2 change / 3 cancel.
    #[serde(default)]
    pub reminder: Option<AwaitedReminder>,
}

/// The triage the journey decided or received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageOutcome {
    pub department: String,
    pub urgency: Urgency,
    pub confidence: f64,
    pub reasoning: Option<String>,
    /// `builtin`, `openai` or `n8n`.
    pub engine: String,
}

impl TriageOutcome {
    pub fn from_decision(decision: &TriageDecision, engine: &str) -> Self {
        Self {
            department: decision.department.clone(),
            urgency: decision.urgency,
            confidence: decision.confidence,
            reasoning: decision.reasoning.clone(),
            engine: engine.to_owned(),
        }
    }
}

/// What the journey is waiting for from n8n.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Awaiting {
    /// `intake` (an intake-response) or `triage` (a triage-response).
    pub step: AwaitedStep,
    /// The message the turn is about (its text is answered by the built-in rules if
    /// n8n does not answer in time).
    pub message_id: Uuid,
    pub text: String,
    pub since: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AwaitedStep {
    Intake,
    Triage,
}

/// The most patient texts kept for triage.
pub const PATIENT_TEXTS_KEPT: usize = 12;

impl JourneyState {
    pub fn from_json(value: Option<&serde_json::Value>) -> Self {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A cancelled appointment's reminder is no longer answered.
    pub fn forget_reminder_of(&mut self, appointment_id: Uuid) {
        if self
            .reminder
            .as_ref()
            .is_some_and(|r| r.appointment_id == appointment_id)
        {
            self.reminder = None;
        }
    }

    pub fn remember_text(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.patient_texts.push(text.chars().take(1000).collect());
        let excess = self.patient_texts.len().saturating_sub(PATIENT_TEXTS_KEPT);
        self.patient_texts.drain(..excess);
    }
}

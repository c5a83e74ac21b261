//! The built-in rules: intake and keyword triage in Spanish and English, pure (no I/O,
//! no clock, no network), answering in microseconds. They run when no AI service is
//! configured, and answer instead of OpenAI or n8n whenever those fail.
//!
//! * `text` reads a message once (folding case and accents, one typo forgiven in long
//!   words through the `lexicon`); `dates`, `daytime`, `names`, `places` and `fields`
//!   read single fields; `turn` puts them together; `questions` holds what the bot
//!   says; `triage` (over the `specialties` table) and `urgency` decide the department
//!   and the red flags. See `docs/ai.md`.

use async_trait::async_trait;

use crate::{
    engine::{IntakeEngine, TriageEngine},
    error::AiError,
    intake::{IntakeReply, IntakeTurn},
    triage::{TriageDecision, TriageInput},
};

pub(crate) mod dates;
pub(crate) mod daytime;
pub(crate) mod fields;
pub(crate) mod lexicon;
pub(crate) mod names;
pub(crate) mod places;
pub(crate) mod questions;
pub(crate) mod specialties;
pub(crate) mod text;
pub(crate) mod triage;
pub(crate) mod turn;
pub(crate) mod urgency;

/// Every word the rules know, for the [`lexicon`].
fn vocabulary(out: &mut Vec<&'static str>) {
    out.extend_from_slice(lexicon::CONJUNCTIONS);
    dates::words(out);
    daytime::words(out);
    names::words(out);
    fields::words(out);
    places::words(out);
    urgency::words(out);
    triage::words(out);
}

/// The built-in rules as an engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl Builtin {
    pub const NAME: &'static str = "builtin";

    /// One intake turn, synchronously (pure; well under 50 µs for a typical message).
    pub fn turn_sync(&self, turn: &IntakeTurn<'_>) -> IntakeReply {
        turn::turn(turn)
    }

    /// Triage, synchronously. Fails only when the clinic has no departments.
    pub fn triage_sync(&self, input: &TriageInput<'_>) -> Result<TriageDecision, AiError> {
        triage::triage(input).ok_or(AiError::NoDepartments)
    }
}

#[async_trait]
impl IntakeEngine for Builtin {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn turn(&self, turn: &IntakeTurn<'_>) -> Result<IntakeReply, AiError> {
        Ok(self.turn_sync(turn))
    }
}

#[async_trait]
impl TriageEngine for Builtin {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn triage(&self, input: &TriageInput<'_>) -> Result<TriageDecision, AiError> {
        self.triage_sync(input)
    }
}

#[cfg(test)]
mod tests;

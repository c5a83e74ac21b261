//! # prm-ai
//!
//! The AI steps of the booking journey (ARCHITECTURE §8) as ports with adapters:
//!
//! | port | built-in rules (no network) | OpenAI-compatible | n8n |
//! |---|---|---|---|
//! | [`IntakeEngine`]: one message in, values and the next question out | [`Builtin`] | [`OpenAi`] | [`IntakeTrigger`] + [`N8nClient`]; the answer comes back through n8n-callbacks |
//! | [`TriageEngine`]: department and urgency | [`Builtin`] | [`OpenAi`] | the workflow's triage-response callback |
//! | [`Transcriber`]: voice note → text | none | [`OpenAiTranscriber`] | the workflow gets the media URLs ([`IntakeTrigger::with_media`]) |
//!
//! `INTAKE_ENGINE` picks the engine ([`EngineKind::choose`]). Whatever it is, the
//! built-in rules answer a turn when the engine fails, times out or answers something
//! that is not what was asked for ([`WithFallback`]), so a patient always gets a reply;
//! and [`assess_urgency`] reads every inbound text for red flags, whatever the engine.
//!
//! ## The built-in rules
//!
//! Spanish and English, accents and typos tolerated, pure and fast (a turn takes a few
//! microseconds; `cargo bench -p prm-ai`). They ask the §8 fields in order, take several
//! from one answer ("soy Ana Ruiz, nací el 3 de mayo de 1985"), read dates and day/time
//! preferences the way people write them, accept "ninguna", "no sé", "cualquiera" where
//! they make sense, rephrase a question the patient did not understand, and never ask a
//! known patient what the clinic already knows. Each rule is described in `docs/ai.md` and
//! in its module under `src/builtin/`.
//!
//! ## Patient data
//!
//! No error's `Display` carries the patient's text, a value a model extracted, or what
//! a server echoed; logs name the engine, the conversation id and the error only.
//! (async-openai itself logs the body of an answer that is not JSON at all, and of a 5xx,
//! at `warn`/`error`: that is the server's text, never the patient's message.)
//! `Debug` of [`IntakeTrigger`] leaves the phone and message out.

pub mod builtin;
pub mod config;
pub mod engine;
pub mod error;
pub mod intake;
pub mod n8n;
pub mod openai;
pub mod transcription;
pub mod triage;

pub use builtin::Builtin;
pub use config::{AiConfigError, AiSettings};
pub use engine::{Answered, EngineKind, IntakeEngine, TriageEngine, WithFallback};
pub use error::AiError;
pub use intake::{
    ANY_LOCATION, ClinicContext, IntakeData, IntakeField, IntakeReply, IntakeState, IntakeTurn,
    KnownPatient, LocationChoice, NONE, PreferenceHints, UNKNOWN,
};
pub use n8n::{CallbackUrls, IntakeTrigger, N8nClient, TriggerState};
pub use openai::{OpenAi, OpenAiConfig};
pub use transcription::{OpenAiTranscriber, Transcriber};
pub use triage::{TriageDecision, TriageInput, assess_urgency, emergency_message};

/// What to tell the patient once the intake is complete, while slots are searched.
pub fn intake_complete_message(locale: prm_domain::Locale) -> &'static str {
    builtin::questions::complete(locale)
}

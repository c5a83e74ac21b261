//! One step of the journey at a time: a patient message, an n8n answer, or an n8n
//! answer that did not come in time.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use prm_ai::{
    ClinicContext, EngineKind, IntakeData, IntakeField, IntakeReply, IntakeState, IntakeTrigger,
    IntakeTurn, KnownPatient, TriageInput, WithFallback, assess_urgency, emergency_message,
    intake_complete_message,
};
use prm_domain::{
    Locale,
    conversation::{Conversation, Stage},
    events::{
        ConversationEscalated, Envelope, SlotPreferences, SlotSelectionReceived, TriageCompleted,
        Urgency,
    },
};
use uuid::Uuid;

use super::{AwaitedStep, Awaiting, JourneyState, Texts, TriageOutcome};

const SOURCE: &str = "conversations";

/// A message for the patient, recorded and sent after the turn commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// What it is about (`intake_question`, `emergency`…): kept on the message.
    pub purpose: &'static str,
    pub body: String,
}

/// One patient message, with what the journey needs to know around it.
#[derive(Debug, Clone)]
pub struct TurnInput<'a> {
    pub conversation: &'a Conversation,
    pub journey: &'a JourneyState,
    pub message_id: Uuid,
    /// What the patient said: the text, or a voice note's transcription.
    pub text: &'a str,
    /// A voice note that could not be transcribed (and no text).
    pub unreadable_audio: bool,
    pub received_at: DateTime<Utc>,
    pub clinic: &'a ClinicContext,
    /// The clinic's date today (for birth dates and "mañana").
    pub today: NaiveDate,
    pub known_patient: Option<&'a KnownPatient>,
    /// Intake values a voice agent already extracted during a call.
    pub voice_data: Option<IntakeData>,
    pub now: DateTime<Utc>,
}

/// What a step decided.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub journey: JourneyState,
    pub stage: Stage,
    pub locale: Locale,
    pub bot_paused: bool,
    pub replies: Vec<Reply>,
    /// Events for the conversations outbox.
    pub events: Vec<Envelope>,
    /// An n8n trigger to send once the turn committed.
    pub trigger: Option<IntakeTrigger>,
    /// Which engine answered (`builtin`, `openai`, `n8n`), for logs and metrics.
    pub engine: Option<&'static str>,
}

impl TurnOutcome {
    fn unchanged(c: &Conversation, journey: &JourneyState) -> Self {
        Self {
            journey: journey.clone(),
            stage: c.stage,
            locale: c.locale,
            bot_paused: c.bot_paused,
            replies: Vec::new(),
            events: Vec::new(),
            trigger: None,
            engine: None,
        }
    }

    pub(super) fn reply(&mut self, purpose: &'static str, body: impl Into<String>) {
        self.replies.push(Reply {
            purpose,
            body: body.into(),
        });
    }
}

/// The journey's engines and settings.
#[derive(Clone)]
pub struct Journey {
    engine: WithFallback,
    kind: EngineKind,
    n8n_timeout: Duration,
    emergency_number: String,
    public_base_url: String,
}

impl Journey {
    pub fn new(
        engine: WithFallback,
        kind: EngineKind,
        n8n_timeout: Duration,
        emergency_number: String,
        public_base_url: String,
    ) -> Self {
        Self {
            engine,
            kind,
            n8n_timeout,
            emergency_number,
            public_base_url,
        }
    }

    /// The built-in rules only (tests, the embedded mode).
    pub fn builtin(emergency_number: &str) -> Self {
        Self::new(
            WithFallback::builtin(),
            EngineKind::Builtin,
            Duration::from_secs(20),
            emergency_number.to_owned(),
            "http://localhost".to_owned(),
        )
    }

    pub fn engine_kind(&self) -> EngineKind {
        self.kind
    }

    /// A patient message. Red flags come first, whatever the stage.
    pub async fn on_message(&self, input: TurnInput<'_>) -> TurnOutcome {
        let c = input.conversation;
        let mut out = TurnOutcome::unchanged(c, input.journey);
        out.journey.remember_text(input.text);
        if c.stage != Stage::Escalated && assess_urgency(input.text) == Urgency::Emergency {
            self.escalate(&mut out, c, Urgency::Emergency, "emergency");
            return out;
        }
        if input.unreadable_audio && input.text.trim().is_empty() {
            out.reply(
                "voice_note_unreadable",
                Texts(c.locale).voice_note_unreadable(),
            );
            return out;
        }
        if super::reminder::answer(&mut out, &input) {
            return out;
        }
        match c.stage {
            Stage::Intake => self.intake(&mut out, &input).await,
            Stage::Triage => {
                if out.journey.awaiting.is_none() {
                    out.reply("waiting", Texts(c.locale).still_searching());
                }
            }
            Stage::Offering => {
                let selection = SlotSelectionReceived {
                    conversation_id: c.id,
                    message_id: input.message_id,
                    text: input.text.to_owned(),
                    received_at: input.received_at,
                    offer_basis: out.journey.offer_basis.clone(),
                };
                out.events.push(Envelope::new(SOURCE, selection));
            }
            Stage::Booked => {
                if wants_another_appointment(input.text) {
                    out.journey = JourneyState {
                        patient_texts: out.journey.patient_texts.clone(),
                        ..JourneyState::default()
                    };
                    out.stage = Stage::Intake;
                    self.intake(&mut out, &input).await;
                } else {
                    out.reply("already_booked", Texts(c.locale).already_booked());
                }
            }
            // Staff handle it; the bot is paused (this is reached only if staff resumed it
            // without moving the stage, which `resume` does).
            Stage::Escalated => {}
        }
        out
    }

    async fn intake(&self, out: &mut TurnOutcome, input: &TurnInput<'_>) {
        let c = input.conversation;
        let first = out.journey.intake.is_none();
        let mut intake = out
            .journey
            .intake
            .take()
            .unwrap_or_else(|| IntakeState::start(c.locale, input.known_patient));
        if let Some(voice) = &input.voice_data {
            intake.apply(&IntakeReply {
                extracted: voice.clone(),
                next_field: intake.asked,
                next_question: None,
                complete: false,
                locale: None,
                misunderstood: false,
            });
        }
        if self.kind == EngineKind::N8n {
            // The workflow answers through n8n-callbacks; the built-in rules answer
            // this message if it does not within N8N_TIMEOUT_SECS.
            out.trigger = Some(IntakeTrigger::new(
                c.id,
                &c.phone,
                input.text,
                &intake,
                &self.public_base_url,
            ));
            out.journey.awaiting = Some(Awaiting {
                step: AwaitedStep::Intake,
                message_id: input.message_id,
                text: input.text.to_owned(),
                since: input.now,
                deadline: input.now + delta(self.n8n_timeout),
            });
            out.journey.intake = Some(intake);
            out.engine = Some("n8n");
            return;
        }
        let answered = self
            .engine
            .turn(&IntakeTurn {
                conversation_id: c.id,
                message: input.text,
                state: &intake,
                clinic: input.clinic,
                first_message: first,
                today: input.today,
            })
            .await;
        out.engine = Some(answered.engine);
        let context = TurnContext::Message(input);
        self.apply_intake_reply(out, c, &context, intake, &answered.value)
            .await;
    }

    /// Takes in one intake answer (any engine's) and asks the next question, or
    /// completes the intake with a triage.
    async fn apply_intake_reply(
        &self,
        out: &mut TurnOutcome,
        c: &Conversation,
        context: &TurnContext<'_>,
        mut intake: IntakeState,
        reply: &IntakeReply,
    ) {
        intake.apply(reply);
        out.locale = intake.locale;
        if !intake.is_complete() {
            let question = reply.next_question.clone().unwrap_or_default();
            if !question.trim().is_empty() {
                out.reply("intake_question", question);
            }
            out.stage = Stage::Intake;
            out.journey.intake = Some(intake);
            return;
        }
        out.journey.intake = Some(intake);
        if self.kind == EngineKind::N8n {
            out.stage = Stage::Triage;
            out.reply("intake_complete", intake_complete_message(out.locale));
            if let Some(early) = out.journey.early_triage.take() {
                self.complete_triage(out, c, context.clinic(), early);
                return;
            }
            // The intake workflow runs the triage workflow itself; wait for its answer.
            out.journey.awaiting = Some(Awaiting {
                step: AwaitedStep::Triage,
                message_id: context.message_id(),
                text: String::new(),
                since: context.now(),
                deadline: context.now() + delta(self.n8n_timeout),
            });
            return;
        }
        self.triage(out, c, context).await;
    }

    /// Decides the department with the engine (the built-in rules when it fails).
    async fn triage(&self, out: &mut TurnOutcome, c: &Conversation, context: &TurnContext<'_>) {
        let Some(intake) = out.journey.intake.clone() else {
            return;
        };
        let texts = out.journey.patient_texts.clone();
        let decision = self
            .engine
            .triage(&TriageInput {
                conversation_id: c.id,
                locale: out.locale,
                data: &intake.extracted,
                patient_texts: &texts,
                clinic: context.clinic(),
                today: context.today(),
            })
            .await;
        match decision {
            Ok(answered) => {
                let outcome = TriageOutcome::from_decision(&answered.value, answered.engine);
                self.complete_triage(out, c, context.clinic(), outcome);
            }
            Err(error) => {
                tracing::warn!(conversation_id = %c.id, %error, "no department can be booked; staff take over");
                out.reply("nothing_to_book", Texts(out.locale).nothing_to_book());
                self.escalate(out, c, Urgency::Routine, "nothing_to_book");
            }
        }
    }

    /// A decided triage: escalate an emergency, else ask appointments for slots.
    fn complete_triage(
        &self,
        out: &mut TurnOutcome,
        c: &Conversation,
        clinic: &ClinicContext,
        outcome: TriageOutcome,
    ) {
        out.journey.awaiting = None;
        if outcome.urgency == Urgency::Emergency {
            out.journey.triage = Some(outcome);
            self.escalate(out, c, Urgency::Emergency, "triage_emergency");
            return;
        }
        let intake = out
            .journey
            .intake
            .clone()
            .unwrap_or_else(|| IntakeState::start(out.locale, None));
        let hints = intake.extracted.slot_preferences(clinic);
        let soonest = hints.asap;
        let preferences: SlotPreferences = hints.into();
        let triage = TriageCompleted {
            conversation_id: c.id,
            patient_id: c.patient_id,
            patient_phone: c.phone.clone(),
            department: outcome.department.clone(),
            confidence: Some(outcome.confidence),
            urgency: Some(outcome.urgency),
            reasoning: outcome.reasoning.clone(),
            preferences,
            locale: Some(out.locale),
            patient_name: intake.extracted.name().map(str::to_owned),
            birth_date: intake.extracted.birth_date(),
            reason: intake
                .extracted
                .get(IntakeField::ChiefComplaint)
                .and_then(|v| v.as_str())
                .map(|s| s.chars().take(1000).collect()),
            soonest,
        };
        out.journey.offer_basis = Some(triage.clone());
        out.journey.triage = Some(outcome);
        out.events.push(Envelope::new(SOURCE, triage));
        out.stage = Stage::Triage;
        if out.replies.iter().all(|r| r.purpose != "intake_complete") {
            out.reply("intake_complete", intake_complete_message(out.locale));
        }
    }

    fn escalate(&self, out: &mut TurnOutcome, c: &Conversation, urgency: Urgency, reason: &str) {
        if urgency == Urgency::Emergency {
            out.reply(
                "emergency",
                emergency_message(out.locale, &self.emergency_number),
            );
        }
        if c.stage != Stage::Escalated {
            out.journey.resume_stage = Some(out.stage);
        }
        out.journey.awaiting = None;
        out.journey.escalation_reason = Some(reason.to_owned());
        out.stage = Stage::Escalated;
        out.bot_paused = true;
        out.events.push(Envelope::new(
            SOURCE,
            ConversationEscalated {
                conversation_id: c.id,
                patient_id: c.patient_id,
                phone: c.phone.clone(),
                urgency,
                reason: reason.to_owned(),
                escalated_at: Utc::now(),
            },
        ));
    }

    /// n8n's intake-response (INTAKE_UPDATED). An answer that comes after the built-in
    /// rules already answered that turn only adds what it extracted.
    pub async fn on_intake_answer(
        &self,
        c: &Conversation,
        journey: &JourneyState,
        extracted: IntakeData,
        next_question: Option<String>,
        complete: bool,
        context: &TurnContext<'_>,
    ) -> TurnOutcome {
        let mut out = TurnOutcome::unchanged(c, journey);
        out.engine = Some("n8n");
        let Some(intake) = out.journey.intake.clone() else {
            return out;
        };
        let awaited = matches!(
            out.journey.awaiting,
            Some(Awaiting {
                step: AwaitedStep::Intake,
                ..
            })
        );
        if !awaited || c.stage != Stage::Intake || c.bot_paused {
            let mut late = intake;
            let mut new_values = extracted.to_json();
            new_values.retain(|name, _| {
                name.parse::<IntakeField>()
                    .is_ok_and(|field| !late.extracted.contains(field))
            });
            if let Ok(new_values) = IntakeData::from_json(new_values) {
                late.extracted.merge(new_values);
            }
            let filled = &late.extracted;
            late.required_fields.retain(|f| !filled.contains(*f));
            out.journey.intake = Some(late);
            return out;
        }
        out.journey.awaiting = None;
        match IntakeReply::from_answer(&intake, extracted, next_question, complete) {
            Ok(reply) => {
                self.apply_intake_reply(&mut out, c, context, intake, &reply)
                    .await;
            }
            Err(error) => {
                tracing::warn!(conversation_id = %c.id, %error, "n8n's intake answer does not fit; the built-in rules answer");
                self.fallback_turn(&mut out, c, context, intake).await;
            }
        }
        out
    }

    /// n8n's triage-response: a department (already checked against the clinic's).
    pub fn on_triage_answer(
        &self,
        c: &Conversation,
        journey: &JourneyState,
        clinic: &ClinicContext,
        outcome: TriageOutcome,
    ) -> TurnOutcome {
        let mut out = TurnOutcome::unchanged(c, journey);
        out.engine = Some("n8n");
        if c.bot_paused {
            return out;
        }
        match c.stage {
            Stage::Triage => self.complete_triage(&mut out, c, clinic, outcome),
            // The workflow answered the triage before its intake answer was taken in.
            Stage::Intake => out.journey.early_triage = Some(outcome),
            _ => {}
        }
        out
    }

    /// n8n did not answer in time: the built-in rules answer the awaited step.
    pub async fn on_deadline(
        &self,
        c: &Conversation,
        journey: &JourneyState,
        context: &TurnContext<'_>,
    ) -> TurnOutcome {
        let mut out = TurnOutcome::unchanged(c, journey);
        let Some(awaiting) = out.journey.awaiting.take() else {
            return out;
        };
        out.engine = Some("builtin");
        if c.bot_paused {
            return out;
        }
        match (awaiting.step, c.stage) {
            (AwaitedStep::Intake, Stage::Intake) => {
                let Some(intake) = out.journey.intake.clone() else {
                    return out;
                };
                let context = TurnContext::Deadline {
                    message_id: awaiting.message_id,
                    text: &awaiting.text,
                    now: context.now(),
                    clinic: context.clinic(),
                    today: context.today(),
                };
                self.fallback_turn(&mut out, c, &context, intake).await;
            }
            (AwaitedStep::Triage, Stage::Triage) => {
                self.triage_builtin(&mut out, c, context);
            }
            _ => {}
        }
        out
    }

    async fn fallback_turn(
        &self,
        out: &mut TurnOutcome,
        c: &Conversation,
        context: &TurnContext<'_>,
        intake: IntakeState,
    ) {
        let reply = prm_ai::Builtin.turn_sync(&IntakeTurn {
            conversation_id: c.id,
            message: context.text(),
            state: &intake,
            clinic: context.clinic(),
            first_message: intake.asked.is_none(),
            today: context.today(),
        });
        out.engine = Some("builtin");
        // The built-in rules then also decide the triage themselves.
        let builtin = Journey {
            kind: EngineKind::Builtin,
            engine: WithFallback::builtin(),
            ..self.clone()
        };
        builtin
            .apply_intake_reply(out, c, context, intake, &reply)
            .await;
    }

    fn triage_builtin(&self, out: &mut TurnOutcome, c: &Conversation, context: &TurnContext<'_>) {
        let Some(intake) = out.journey.intake.clone() else {
            return;
        };
        let texts = out.journey.patient_texts.clone();
        let decision = prm_ai::Builtin.triage_sync(&TriageInput {
            conversation_id: c.id,
            locale: out.locale,
            data: &intake.extracted,
            patient_texts: &texts,
            clinic: context.clinic(),
            today: context.today(),
        });
        match decision {
            Ok(decision) => {
                let outcome = TriageOutcome::from_decision(&decision, "builtin");
                self.complete_triage(out, c, context.clinic(), outcome);
            }
            Err(_) => {
                out.reply("nothing_to_book", Texts(out.locale).nothing_to_book());
                self.escalate(out, c, Urgency::Routine, "nothing_to_book");
            }
        }
    }
}

/// What a step outside a patient message (an n8n answer, a deadline) knows of the turn.
pub enum TurnContext<'a> {
    Message(&'a TurnInput<'a>),
    Deadline {
        message_id: Uuid,
        text: &'a str,
        now: DateTime<Utc>,
        clinic: &'a ClinicContext,
        today: NaiveDate,
    },
    Callback {
        now: DateTime<Utc>,
        clinic: &'a ClinicContext,
        today: NaiveDate,
    },
}

impl TurnContext<'_> {
    fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Message(input) => input.now,
            Self::Deadline { now, .. } | Self::Callback { now, .. } => *now,
        }
    }

    fn clinic(&self) -> &ClinicContext {
        match self {
            Self::Message(input) => input.clinic,
            Self::Deadline { clinic, .. } | Self::Callback { clinic, .. } => clinic,
        }
    }

    fn today(&self) -> NaiveDate {
        match self {
            Self::Message(input) => input.today,
            Self::Deadline { today, .. } | Self::Callback { today, .. } => *today,
        }
    }

    fn message_id(&self) -> Uuid {
        match self {
            Self::Message(input) => input.message_id,
            Self::Deadline { message_id, .. } => *message_id,
            Self::Callback { .. } => Uuid::nil(),
        }
    }

    fn text(&self) -> &str {
        match self {
            Self::Message(input) => input.text,
            Self::Deadline { text, .. } => text,
            Self::Callback { .. } => "",
        }
    }
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::seconds(20))
}

/// "nueva cita", "otra cita", "new appointment", "book another"…
pub(super) fn wants_another_appointment(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "nueva cita",
        "otra cita",
        "agendar otra",
        "new appointment",
        "another appointment",
        "book another",
    ]
    .iter()
    .any(|p| t.contains(p))
}

//! The intake and triage ports, which engine `INTAKE_ENGINE` picks, and the fallback
//! that makes sure every patient message gets an answer.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

use crate::{
    builtin::Builtin,
    error::AiError,
    intake::{IntakeReply, IntakeTurn},
    triage::{TriageDecision, TriageInput},
};

/// Reads one patient message of the intake and says what to ask next.
#[async_trait]
pub trait IntakeEngine: Send + Sync {
    /// `builtin`, `openai`, `n8n`: for logs and `INTAKE_UPDATED.extracted_by`.
    fn name(&self) -> &'static str;
    async fn turn(&self, turn: &IntakeTurn<'_>) -> Result<IntakeReply, AiError>;
}

/// Names the department and urgency once the intake is complete.
#[async_trait]
pub trait TriageEngine: Send + Sync {
    fn name(&self) -> &'static str;
    async fn triage(&self, input: &TriageInput<'_>) -> Result<TriageDecision, AiError>;
}

/// The engine configured by `INTAKE_ENGINE` (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Builtin,
    OpenAi,
    N8n,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::OpenAi => "openai",
            Self::N8n => "n8n",
        }
    }

    /// `INTAKE_ENGINE` = `builtin` | `openai` | `n8n` (any case); unset or empty: `n8n`
    /// when `N8N_WEBHOOK_URL` is set, else `openai` when `OPENAI_API_KEY` is set, else
    /// `builtin`. An engine named without its settings is an error naming what is missing.
    pub fn choose(
        explicit: Option<&str>,
        n8n_url_set: bool,
        openai_key_set: bool,
    ) -> Result<Self, String> {
        let explicit = explicit.map(str::trim).filter(|e| !e.is_empty());
        let Some(explicit) = explicit else {
            return Ok(if n8n_url_set {
                Self::N8n
            } else if openai_key_set {
                Self::OpenAi
            } else {
                Self::Builtin
            });
        };
        match explicit.to_ascii_lowercase().as_str() {
            "builtin" => Ok(Self::Builtin),
            "openai" if openai_key_set => Ok(Self::OpenAi),
            "openai" => Err("INTAKE_ENGINE=openai needs OPENAI_API_KEY".to_owned()),
            "n8n" if n8n_url_set => Ok(Self::N8n),
            "n8n" => Err("INTAKE_ENGINE=n8n needs N8N_WEBHOOK_URL".to_owned()),
            _ => Err("INTAKE_ENGINE must be builtin, openai or n8n".to_owned()),
        }
    }
}

/// An engine's answer, saying which engine gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered<T> {
    pub value: T,
    /// The engine that answered (`builtin` after a fallback).
    pub engine: &'static str,
    /// The primary engine failed and the built-in rules answered instead.
    pub fell_back: bool,
}

/// Asks the primary engines under a timeout; on any error, timeout or malformed answer
/// it logs a warning (the error only: no patient data) and the built-in rules answer, so
/// a patient is never left without a reply.
#[derive(Clone)]
pub struct WithFallback {
    intake: Arc<dyn IntakeEngine>,
    triage: Arc<dyn TriageEngine>,
    timeout: Duration,
}

impl WithFallback {
    pub fn new(
        intake: Arc<dyn IntakeEngine>,
        triage: Arc<dyn TriageEngine>,
        timeout: Duration,
    ) -> Self {
        Self {
            intake,
            triage,
            timeout,
        }
    }

    /// The built-in rules alone.
    pub fn builtin() -> Self {
        Self::new(Arc::new(Builtin), Arc::new(Builtin), Duration::MAX)
    }

    /// The name of the primary intake engine.
    pub fn primary(&self) -> &'static str {
        self.intake.name()
    }

    pub async fn turn(&self, turn: &IntakeTurn<'_>) -> Answered<IntakeReply> {
        let primary = self.intake.name();
        if primary == Builtin::NAME {
            return Answered {
                value: Builtin.turn_sync(turn),
                engine: Builtin::NAME,
                fell_back: false,
            };
        }
        match bounded(self.timeout, self.intake.turn(turn)).await {
            Ok(value) => Answered {
                value,
                engine: primary,
                fell_back: false,
            },
            Err(error) => {
                tracing::warn!(
                    engine = primary,
                    conversation_id = %turn.conversation_id,
                    %error,
                    "intake engine failed; the built-in rules answer this turn"
                );
                Answered {
                    value: Builtin.turn_sync(turn),
                    engine: Builtin::NAME,
                    fell_back: true,
                }
            }
        }
    }

    /// Fails only when the clinic has no departments (nothing can be booked then).
    pub async fn triage(
        &self,
        input: &TriageInput<'_>,
    ) -> Result<Answered<TriageDecision>, AiError> {
        let primary = self.triage.name();
        if primary != Builtin::NAME {
            match bounded(self.timeout, self.triage.triage(input)).await {
                Ok(value) => {
                    return Ok(Answered {
                        value,
                        engine: primary,
                        fell_back: false,
                    });
                }
                Err(error) => tracing::warn!(
                    engine = primary,
                    conversation_id = %input.conversation_id,
                    %error,
                    "triage engine failed; the built-in rules decide"
                ),
            }
        }
        Ok(Answered {
            value: Builtin.triage_sync(input)?,
            engine: Builtin::NAME,
            fell_back: primary != Builtin::NAME,
        })
    }
}

async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, AiError>>,
) -> Result<T, AiError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or(Err(AiError::Timeout(timeout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_follows_section_8() {
        use EngineKind::*;
        assert_eq!(EngineKind::choose(None, false, false), Ok(Builtin));
        assert_eq!(EngineKind::choose(None, false, true), Ok(OpenAi));
        assert_eq!(EngineKind::choose(None, true, true), Ok(N8n));
        assert_eq!(EngineKind::choose(Some(" "), true, false), Ok(N8n));
        assert_eq!(EngineKind::choose(Some("BUILTIN"), true, true), Ok(Builtin));
        assert_eq!(EngineKind::choose(Some("openai"), true, true), Ok(OpenAi));
        assert!(
            EngineKind::choose(Some("openai"), true, false)
                .unwrap_err()
                .contains("OPENAI_API_KEY")
        );
        assert!(
            EngineKind::choose(Some("n8n"), false, true)
                .unwrap_err()
                .contains("N8N_WEBHOOK_URL")
        );
        assert!(EngineKind::choose(Some("gpt"), true, true).is_err());
        assert_eq!(OpenAi.as_str(), "openai");
    }

    struct Broken;

    #[async_trait]
    impl IntakeEngine for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        async fn turn(&self, _: &IntakeTurn<'_>) -> Result<IntakeReply, AiError> {
            Err(AiError::Unavailable("down".into()))
        }
    }

    #[async_trait]
    impl TriageEngine for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        async fn triage(&self, _: &TriageInput<'_>) -> Result<TriageDecision, AiError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn the_built_in_rules_answer_when_the_primary_fails_or_hangs() {
        use crate::intake::{ClinicContext, IntakeData, IntakeState};
        use prm_domain::Locale;
        let clinic = ClinicContext {
            departments: vec!["General Medicine".into()],
            locations: vec![],
        };
        let state = IntakeState::start(Locale::Es, None);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let turn = IntakeTurn {
            conversation_id: uuid::Uuid::nil(),
            message: "hola",
            state: &state,
            clinic: &clinic,
            first_message: true,
            today,
        };
        let broken = WithFallback::new(
            Arc::new(Broken),
            Arc::new(Broken),
            Duration::from_millis(50),
        );
        assert_eq!(broken.primary(), "broken");
        let answered = broken.turn(&turn).await;
        assert_eq!((answered.engine, answered.fell_back), ("builtin", true));
        assert_eq!(answered.value, Builtin.turn_sync(&turn));
        let data = IntakeData::default();
        let texts = vec!["tengo gripa".to_owned()];
        let input = TriageInput {
            conversation_id: uuid::Uuid::nil(),
            locale: Locale::Es,
            data: &data,
            patient_texts: &texts,
            clinic: &clinic,
            today,
        };
        let decided = broken.triage(&input).await.unwrap();
        assert_eq!((decided.engine, decided.fell_back), ("builtin", true));
        assert_eq!(decided.value.department, "General Medicine");

        let builtin = WithFallback::builtin();
        let answered = builtin.turn(&turn).await;
        assert_eq!((answered.engine, answered.fell_back), ("builtin", false));
        let no_departments = ClinicContext::default();
        let input = TriageInput {
            clinic: &no_departments,
            ..input
        };
        assert_eq!(
            builtin.triage(&input).await.unwrap_err(),
            AiError::NoDepartments
        );
    }
}

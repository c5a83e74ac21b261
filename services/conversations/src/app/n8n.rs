//! The n8n engine (`INTAKE_ENGINE=n8n`): the trigger after a turn commits, the
//! workflow's answers (INTAKE_UPDATED, TRIAGE_PROPOSED), and the built-in rules
//! answering any turn n8n leaves unanswered past `N8N_TIMEOUT_SECS`.

use std::sync::Arc;

use prm_ai::{IntakeData, IntakeTrigger};
use prm_bus::Delivery;
use prm_domain::{
    conversation::Conversation,
    events::{IntakeUpdated, TriageProposed, Urgency},
};
use uuid::Uuid;

use super::{AfterCommit, App, ConversationError, PROCESSED};
use crate::journey::{JourneyState, TriageOutcome, TurnContext, TurnOutcome};

impl App {
    /// Posts the §5 trigger (retried with backoff by the client). If n8n cannot be
    /// reached at all, the built-in rules answer the turn now rather than after the
    /// timeout.
    pub(super) async fn trigger_n8n(
        self: &Arc<Self>,
        conversation_id: Uuid,
        trigger: IntakeTrigger,
    ) {
        let Some(client) = &self.n8n else {
            self.answer_without_n8n(conversation_id).await;
            return;
        };
        match client.trigger(&trigger).await {
            Ok(()) => tracing::debug!(%conversation_id, "n8n triggered"),
            Err(error) => {
                tracing::warn!(%conversation_id, %error, "n8n could not be triggered; the built-in rules answer");
                self.answer_without_n8n(conversation_id).await;
            }
        }
    }

    /// Answers every awaited turn whose deadline passed (run by the sweeper).
    pub async fn expire_awaited_turns(self: &Arc<Self>) {
        let due = match self
            .store
            .conversations_awaiting_before(self.now(), 100)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not look for unanswered n8n turns");
                return;
            }
        };
        for conversation_id in due {
            tracing::info!(%conversation_id, "n8n did not answer in time; the built-in rules answer");
            self.answer_without_n8n(conversation_id).await;
        }
    }

    /// The built-in rules answer the conversation's awaited step, if it still awaits one.
    pub async fn answer_without_n8n(self: &Arc<Self>, conversation_id: Uuid) {
        let result = self
            .locked_step(conversation_id, |app, c, journey, context| {
                Box::pin(async move { Some(app.journey.on_deadline(c, journey, context).await) })
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(%conversation_id, %error, "could not answer an n8n turn with the built-in rules");
        }
    }

    /// INTAKE_UPDATED (n8n's intake-response, through n8n-callbacks).
    pub async fn on_intake_updated(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        let data: IntakeUpdated = delivery.envelope.data_as()?;
        let id = data.conversation_id;
        self.once(delivery, id, move |app, c, journey, context| {
            // The step may run again (a lost connection): each run takes its own copy.
            let data = data.clone();
            Box::pin(async move {
                let TurnContext::Callback { clinic, today, .. } = context else {
                    return None;
                };
                match IntakeData::from_json_for(data.extracted_data.clone(), clinic, *today) {
                    Ok(extracted) => Some(
                        app.journey
                            .on_intake_answer(
                                c,
                                journey,
                                extracted,
                                data.next_question.clone(),
                                data.intake_complete,
                                context,
                            )
                            .await,
                    ),
                    Err(error) => {
                        tracing::warn!(conversation_id = %c.id, %error, "n8n's intake answer does not fit; the built-in rules answer");
                        Some(app.journey.on_deadline(c, journey, context).await)
                    }
                }
            })
        })
        .await
    }

    /// TRIAGE_PROPOSED (n8n's triage-response): a department the clinic has, else the
    /// built-in triage decides.
    pub async fn on_triage_proposed(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        let data: TriageProposed = delivery.envelope.data_as()?;
        let id = data.conversation_id;
        self.once(delivery, id, move |app, c, journey, context| {
            // The step may run again (a lost connection): each run takes its own copy.
            let data = data.clone();
            Box::pin(async move {
                let TurnContext::Callback { clinic, .. } = context else {
                    return None;
                };
                match clinic.department_named(&data.department) {
                    Some(department) => {
                        let outcome = TriageOutcome {
                            department: department.to_owned(),
                            urgency: data.urgency.unwrap_or(Urgency::Routine),
                            confidence: data.confidence.unwrap_or(0.5).clamp(0.0, 1.0),
                            reasoning: data.reasoning.clone(),
                            engine: "n8n".to_owned(),
                        };
                        Some(app.journey.on_triage_answer(c, journey, clinic, outcome))
                    }
                    None => {
                        tracing::warn!(conversation_id = %c.id, "n8n proposed a department the clinic does not have; the built-in triage decides");
                        Some(app.journey.on_deadline(c, journey, context).await)
                    }
                }
            })
        })
        .await
    }

    /// Runs `step` once per event id on the locked conversation and commits it.
    async fn once<F>(
        self: &Arc<Self>,
        delivery: &Delivery,
        id: Uuid,
        step: F,
    ) -> Result<(), ConversationError>
    where
        F: for<'a> Fn(
                &'a App,
                &'a Conversation,
                &'a JourneyState,
                &'a TurnContext<'a>,
            ) -> futures::future::BoxFuture<'a, Option<TurnOutcome>>
            + Sync,
    {
        self.step_on(
            Some((delivery.consumer.as_str(), delivery.envelope.id)),
            id,
            step,
        )
        .await
    }

    /// Like [`App::once`] without an event (deadlines, a failed trigger).
    async fn locked_step<F>(self: &Arc<Self>, id: Uuid, step: F) -> Result<(), ConversationError>
    where
        F: for<'a> Fn(
                &'a App,
                &'a Conversation,
                &'a JourneyState,
                &'a TurnContext<'a>,
            ) -> futures::future::BoxFuture<'a, Option<TurnOutcome>>
            + Sync,
    {
        self.step_on(None, id, step).await
    }

    /// Runs `step` on the locked conversation (once per `event` when given) and commits
    /// what it decided. An unknown conversation is left alone.
    async fn step_on<F>(
        self: &Arc<Self>,
        event: Option<(&str, Uuid)>,
        id: Uuid,
        step: F,
    ) -> Result<(), ConversationError>
    where
        F: for<'a> Fn(
                &'a App,
                &'a Conversation,
                &'a JourneyState,
                &'a TurnContext<'a>,
            ) -> futures::future::BoxFuture<'a, Option<TurnOutcome>>
            + Sync,
    {
        // Read before the transaction: on SQLite it holds the only connection.
        let clinic = self.clinic.context(&self.store).await?;
        let today = self.clinic.today(&self.store, self.now()).await;
        let (app, clinic, step) = (self, &clinic, &step);
        let after = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let mut after = AfterCommit::default();
                    if let Some((consumer, event_id)) = event
                        && !tx.record_processed(PROCESSED, consumer, event_id).await?
                    {
                        return Ok(after);
                    }
                    let record = match tx.lock_conversation(id).await {
                        Ok(r) => r,
                        Err(prm_store::StoreError::NotFound(_)) => return Ok(after),
                        Err(e) => return Err(ConversationError::from(e)),
                    };
                    let journey = JourneyState::from_json(record.journey.as_ref());
                    let context = TurnContext::Callback {
                        now: app.now(),
                        clinic,
                        today,
                    };
                    let outcome = step(app, &record.conversation, &journey, &context).await;
                    if let Some(outcome) = outcome {
                        app.commit_outcome(tx, record.conversation, outcome, &mut after)
                            .await?;
                    }
                    Ok(after)
                })
            })
            .await?;
        self.after_commit(after).await;
        Ok(())
    }
}

//! The conversations application: what happens to a message coming in, a reply going
//! out, a provider's status report, staff's actions, and the journey's events. Handlers
//! and consumers call these and only translate.

mod booking;
mod clinic;
mod delivery;
mod error;
mod inbox;
mod n8n;
mod outbound;
pub mod pacing;
mod reminders;
mod staff;
pub mod state_cache;
pub mod stream;
pub mod templates;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prm_ai::N8nClient;
use prm_domain::{
    Channel,
    clock::SharedClock,
    conversation::{Author, Conversation, Direction, Message, Provider},
    events::Envelope,
};
use prm_store::{
    Store, Tx,
    conversations::{Dispatch, NewMessage},
    outbox::{Outbox, ProcessedEvents, Producer},
    templates::TemplateUse,
};
use uuid::Uuid;

pub use clinic::ClinicCache;
pub use error::ConversationError;
pub use staff::{ConversationChanges, NewConversationRequest, StateView};
pub use templates::RenderedTemplate;

use crate::{
    config::ConversationsConfig,
    journey::{Journey, JourneyState, Reply, TurnOutcome},
    senders::Senders,
};
use state_cache::StateCache;
use stream::StreamHub;

/// The conversations service's outbox table.
pub const OUTBOX: Outbox = Outbox::CONVERSATIONS;
/// Its processed-events table (idempotent consumers).
pub const PROCESSED: ProcessedEvents = ProcessedEvents::CONVERSATIONS;

/// Everything the application works with.
pub struct App {
    pub store: Store,
    pub cache: StateCache,
    pub senders: Senders,
    pub journey: Journey,
    pub n8n: Option<N8nClient>,
    pub config: Arc<ConversationsConfig>,
    pub clock: SharedClock,
    /// Writes the service's events with its changes and wakes its relay.
    pub producer: Producer,
    pub stream: Arc<StreamHub>,
    pub clinic: ClinicCache,
    /// Paces bulk sends per sender number (`OUTBOUND_RATE_PER_MINUTE`).
    pub pacer: pacing::Pacer,
}

/// What must happen once a transaction committed (built by the transaction's work, so
/// a run that did not commit leaves none).
#[derive(Default)]
#[must_use]
pub struct AfterCommit {
    conversations: Vec<Uuid>,
    /// Conversations with messages to send.
    send: Vec<Uuid>,
    trigger: Option<(Uuid, prm_ai::IntakeTrigger)>,
}

impl AfterCommit {
    fn touch(&mut self, conversation_id: Uuid) {
        if !self.conversations.contains(&conversation_id) {
            self.conversations.push(conversation_id);
        }
    }
}

impl App {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Announces events with the transaction's change.
    fn announce(tx: &Tx<'_>, events: &[Envelope]) {
        for event in events {
            tx.announce(event.clone());
        }
    }

    /// Records the bot's replies as pending outbound messages.
    async fn record_replies(
        &self,
        tx: &Tx<'_>,
        c: &Conversation,
        replies: &[Reply],
        after: &mut AfterCommit,
    ) -> Result<Vec<Message>, ConversationError> {
        let mut recorded = Vec::with_capacity(replies.len());
        for reply in replies {
            let m = self
                .record_outbound(
                    tx,
                    c,
                    Uuid::now_v7(),
                    Author::Bot,
                    &reply.body,
                    Vec::new(),
                    Some(reply.purpose.to_owned()),
                    None,
                    after,
                )
                .await?;
            recorded.push(m);
        }
        Ok(recorded)
    }

    /// Records one outbound message, to be sent after the commit. Channels PRM cannot
    /// send on (email, webchat) keep the message as written by staff, unsent. A message
    /// rendered from a template keeps it (`template`, see
    /// [`RenderedTemplate::usage`]) so it can go out as the provider's approved template
    /// outside WhatsApp's 24-hour window.
    #[allow(clippy::too_many_arguments)]
    async fn record_outbound(
        &self,
        tx: &Tx<'_>,
        c: &Conversation,
        id: Uuid,
        author: Author,
        body: &str,
        media: Vec<prm_domain::Media>,
        purpose: Option<String>,
        template: Option<TemplateUse>,
        after: &mut AfterCommit,
    ) -> Result<Message, ConversationError> {
        let channel = outbound_channel(c.channel);
        let (provider, dispatch) = match channel {
            Some(_) => (self.senders.route(c.reply_provider).0, Dispatch::Pending),
            None => (Provider::Staff, Dispatch::Done),
        };
        let message = tx
            .insert_message(&NewMessage {
                id,
                conversation_id: c.id,
                direction: Direction::Outbound,
                author,
                channel: channel.unwrap_or(c.channel),
                provider,
                body: body.to_owned(),
                media,
                transcription: None,
                purpose,
                inbound_message_id: None,
                provider_message_id: None,
                dispatch,
                delivery_status: channel.map(|_| prm_domain::conversation::DeliveryStatus::Queued),
                template,
                at: self.now(),
            })
            .await?;
        if dispatch == Dispatch::Pending && !after.send.contains(&c.id) {
            after.send.push(c.id);
        }
        after.touch(c.id);
        Ok(message)
    }

    /// Applies a journey step to a conversation in the transaction: its new stage and
    /// state, the replies to send and the events to publish.
    async fn commit_outcome(
        &self,
        tx: &Tx<'_>,
        c: Conversation,
        outcome: TurnOutcome,
        after: &mut AfterCommit,
    ) -> Result<Conversation, ConversationError> {
        self.commit_outcome_with(tx, c, outcome, None, after).await
    }

    /// [`App::commit_outcome`], then a message rendered from a template (sent after the
    /// outcome's replies).
    async fn commit_outcome_with(
        &self,
        tx: &Tx<'_>,
        mut c: Conversation,
        outcome: TurnOutcome,
        templated: Option<&RenderedTemplate>,
        after: &mut AfterCommit,
    ) -> Result<Conversation, ConversationError> {
        self.count_turn(&outcome);
        c.stage = outcome.stage;
        c.locale = outcome.locale;
        c.bot_paused = outcome.bot_paused;
        c.updated_at = self.now();
        if !outcome.replies.is_empty() || templated.is_some() {
            c.last_message_at = Some(self.now());
        }
        let awaiting_until = outcome.journey.awaiting.as_ref().map(|a| a.deadline);
        tx.save_conversation_awaiting(&c, Some(&outcome.journey.to_json()), awaiting_until)
            .await?;
        self.record_replies(tx, &c, &outcome.replies, after).await?;
        if let Some(t) = templated {
            self.record_outbound(
                tx,
                &c,
                Uuid::now_v7(),
                Author::Bot,
                &t.body,
                Vec::new(),
                Some(t.message_purpose().to_owned()),
                Some(t.usage()),
                after,
            )
            .await?;
        }
        Self::announce(tx, &outcome.events);
        if let Some(trigger) = outcome.trigger {
            after.trigger = Some((c.id, trigger));
        }
        after.touch(c.id);
        Ok(c)
    }

    /// Once committed: refresh the cache, tell the staff stream, send what was recorded,
    /// trigger n8n (the write already woke the relay).
    ///
    /// Boxed (and so `Send` by its type): it spawns work that commits and ends here again.
    fn after_commit(self: &Arc<Self>, after: AfterCommit) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            for id in &after.conversations {
                self.refresh_cache(*id).await;
            }
            self.stream.wake();
            for conversation_id in after.send {
                let app = self.clone();
                tokio::spawn(async move { app.send_pending(conversation_id).await });
            }
            if let Some((conversation_id, trigger)) = after.trigger {
                let app = self.clone();
                tokio::spawn(async move { app.trigger_n8n(conversation_id, trigger).await });
            }
        })
    }

    /// The journey's funnel and engines, for `/metrics`: intake turns by the engine that
    /// answered (and whether the configured one failed), intakes completed (triage
    /// asked for slots), escalations by reason.
    fn count_turn(&self, outcome: &TurnOutcome) {
        if let Some(engine) = outcome.engine {
            let configured = self.journey.engine_kind().as_str();
            metrics::counter!(
                "prm_intake_turns_total",
                "engine" => engine,
                "fell_back" => (engine == "builtin" && configured != "builtin").to_string()
            )
            .increment(1);
        }
        for event in &outcome.events {
            match event.event_type.as_str() {
                "TRIAGE_COMPLETED" => {
                    metrics::counter!("prm_intake_completed_total").increment(1);
                }
                "CONVERSATION_ESCALATED" => {
                    let reason = event.data["reason"].as_str().unwrap_or("other").to_owned();
                    metrics::counter!("prm_conversations_escalated_total", "reason" => reason)
                        .increment(1);
                }
                _ => {}
            }
        }
    }

    /// Writes the §5 keys of a conversation from the database.
    pub async fn refresh_cache(&self, id: Uuid) {
        let Ok(record) = self.store.get_conversation(id).await else {
            return;
        };
        let journey = JourneyState::from_json(record.journey.as_ref());
        let recent = self
            .store
            .latest_messages(id, self.config.recent_messages as u64)
            .await
            .unwrap_or_default();
        self.cache
            .save(&record.conversation, &journey, &recent)
            .await;
    }
}

/// The channel a reply goes out on: WhatsApp for WhatsApp and voice conversations (a
/// call is continued on WhatsApp), SMS for SMS; `None` where PRM has no sender.
pub fn outbound_channel(conversation: Channel) -> Option<Channel> {
    match conversation {
        Channel::Whatsapp | Channel::Phone => Some(Channel::Whatsapp),
        Channel::Sms => Some(Channel::Sms),
        Channel::Email | Channel::Webchat => None,
    }
}

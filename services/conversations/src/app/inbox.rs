//! A patient's message coming in (MESSAGE_RECEIVED): found or opened conversation,
//! stored once, answered by the journey (unless staff paused the bot).

use std::sync::Arc;

use prm_ai::{IntakeData, IntakeField};
use prm_bus::Delivery;
use prm_domain::{
    Channel, PhoneNumber,
    conversation::{Author, ConversationStatus, Direction, Provider, Stage},
    events::{ConversationOpened, Envelope, MessageProvider, MessageReceived},
};
use prm_store::{
    Conflict, StoreError,
    conversations::{Dispatch, NewConversation, NewMessage},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{AfterCommit, App, ConversationError, PROCESSED, clinic};
use crate::journey::{JourneyState, TurnInput};

const SOURCE: &str = "conversations";
/// How often opening a conversation is tried when another message of the same phone
/// opens one at the same instant.
const OPEN_ATTEMPTS: usize = 5;

impl App {
    /// MESSAGE_RECEIVED. Idempotent by event id (`conversations_processed_events`) and
    /// by the webhooks message id (`messages_inbound_once`).
    pub async fn on_message_received(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        let data: MessageReceived = delivery.envelope.data_as()?;
        let opened_by_patient = conversation_channel(&data);
        let conversation_id = self
            .ensure_conversation(&data.from, opened_by_patient, "patient", None)
            .await?;
        // Read before the transaction: on SQLite it holds the only connection.
        let known = clinic::known_patient(&self.store, &data.from).await?;
        let clinic = self.clinic.context(&self.store).await?;
        let today = self.clinic.today(&self.store, self.now()).await;
        let (app, data, known, clinic) = (self, &data, &known, &clinic);
        let (consumer, event_id) = (delivery.consumer.as_str(), delivery.envelope.id);
        let after = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let mut after = AfterCommit::default();
                    if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                        return Ok(after);
                    }
                    let record = tx.lock_conversation(conversation_id).await?;
                    let mut c = record.conversation;
                    if c.status == ConversationStatus::Closed {
                        // Closed between the lookup and the lock: the next attempt opens
                        // a new one.
                        return Err(ConversationError::Transient(
                            "the conversation was just closed",
                        ));
                    }
                    if tx.inbound_message_stored(data.message_id).await? {
                        return Ok(after);
                    }
                    let provider = Provider::from(data.provider);
                    let now = app.now();
                    let message = tx
                        .insert_message(&NewMessage {
                            id: Uuid::now_v7(),
                            conversation_id: c.id,
                            direction: Direction::Inbound,
                            author: Author::Patient,
                            channel: data.channel,
                            provider,
                            body: data.body.clone(),
                            media: data.media.clone(),
                            transcription: data.transcription.clone(),
                            purpose: None,
                            inbound_message_id: Some(data.message_id),
                            provider_message_id: Some(data.provider_message_id.clone()),
                            dispatch: Dispatch::Inbound,
                            delivery_status: None,
                            template: None,
                            at: now,
                        })
                        .await?;
                    c.last_message_at = Some(now);
                    // The 24-hour window runs from when the patient wrote, never from
                    // the future.
                    c.last_inbound_at = Some(data.received_at.min(now));
                    if matches!(
                        data.provider,
                        MessageProvider::Twilio | MessageProvider::Meta
                    ) {
                        c.reply_provider = Some(provider);
                    }
                    if c.patient_id.is_none() {
                        c.patient_id = known.as_ref().map(|p| p.id);
                    }
                    c.updated_at = now;
                    let mut journey = JourneyState::from_json(record.journey.as_ref());
                    let booking_call =
                        data.provider != MessageProvider::VoiceAgent || is_booking_call(data);
                    if c.bot_paused || !booking_call {
                        tx.save_conversation(&c, record.journey.as_ref()).await?;
                        after.touch(c.id);
                        return Ok(after);
                    }
                    let voice_data = voice_intake(data, clinic, today, &mut journey);
                    let known = known.as_ref().map(clinic::as_known);
                    let text = message.text().to_owned();
                    let unreadable_audio = data.transcription.is_none()
                        && data
                            .media
                            .iter()
                            .any(|m| m.content_type.starts_with("audio/"));
                    let outcome = app
                        .journey
                        .on_message(TurnInput {
                            conversation: &c,
                            journey: &journey,
                            message_id: message.id,
                            text: &text,
                            unreadable_audio,
                            received_at: data.received_at,
                            clinic,
                            today,
                            known_patient: known.as_ref(),
                            voice_data,
                            now,
                        })
                        .await;
                    tracing::debug!(conversation_id = %c.id, engine = outcome.engine.unwrap_or("none"), stage = %outcome.stage, "journey turn");
                    app.commit_outcome(tx, c, outcome, &mut after).await?;
                    Ok(after)
                })
            })
            .await?;
        metrics::counter!(
            "prm_messages_received_total",
            "provider" => Provider::from(data.provider).as_str()
        )
        .increment(1);
        self.after_commit(after).await;
        Ok(())
    }

    /// The open conversation of `phone`, opened (with CONVERSATION_OPENED) if there is
    /// none. Two messages from one phone at the same instant open one conversation: the
    /// schema refuses the second, which then finds the first.
    pub async fn ensure_conversation(
        self: &Arc<Self>,
        phone: &PhoneNumber,
        channel: Channel,
        opened_by: &str,
        patient_id: Option<Uuid>,
    ) -> Result<Uuid, ConversationError> {
        for _ in 0..OPEN_ATTEMPTS {
            if let Some(id) = self.cache.conversation_of(phone).await
                && let Ok(r) = self.store.get_conversation(id).await
                && r.conversation.status != ConversationStatus::Closed
                && r.conversation.phone == *phone
            {
                return Ok(id);
            }
            if let Some(r) = self.store.open_conversation_of(phone).await? {
                return Ok(r.conversation.id);
            }
            match self
                .open_conversation(
                    phone,
                    channel,
                    opened_by,
                    patient_id,
                    self.config.default_locale,
                )
                .await
            {
                Ok(c) => return Ok(c.id),
                Err(ConversationError::Store(StoreError::Conflict(
                    Conflict::ConversationExists,
                ))) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ConversationError::Internal(
            "could not open or find the phone's conversation".to_owned(),
        ))
    }

    /// Opens a conversation and announces it (CONVERSATION_OPENED), in one transaction.
    pub async fn open_conversation(
        self: &Arc<Self>,
        phone: &PhoneNumber,
        channel: Channel,
        opened_by: &str,
        patient_id: Option<Uuid>,
        locale: prm_domain::Locale,
    ) -> Result<prm_domain::conversation::Conversation, ConversationError> {
        self.open_conversation_as(phone, channel, opened_by, patient_id, locale, None)
            .await
    }

    /// [`open_conversation`](Self::open_conversation), recorded in the audit trail as
    /// done by `actor` (staff, through the clinic API).
    pub async fn open_conversation_as(
        self: &Arc<Self>,
        phone: &PhoneNumber,
        channel: Channel,
        opened_by: &str,
        patient_id: Option<Uuid>,
        locale: prm_domain::Locale,
        actor: Option<&prm_store::audit::Actor>,
    ) -> Result<prm_domain::conversation::Conversation, ConversationError> {
        let mut after = AfterCommit::default();
        let now = self.now();
        let patient_id = match patient_id {
            Some(id) => Some(id),
            None => clinic::known_patient(&self.store, phone)
                .await?
                .map(|p| p.id),
        };
        let new = NewConversation {
            id: Uuid::now_v7(),
            phone: phone.clone(),
            channel,
            patient_id,
            locale,
            stage: Stage::Intake,
            at: now,
        };
        let new = &new;
        let c = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let c = tx.insert_conversation(new).await?;
                    if let Some(actor) = actor {
                        let change = prm_store::audit::AuditChange::of(
                            "conversation.created",
                            "conversation",
                            c.id,
                        )
                        .with(None, Some(prm_store::audit::conversation_snapshot(&c)));
                        tx.record_audit(actor, &change).await?;
                    }
                    tx.announce(Envelope::new(
                        SOURCE,
                        ConversationOpened {
                            conversation_id: c.id,
                            phone: c.phone.clone(),
                            channel: c.channel,
                            patient_id: c.patient_id,
                            locale: c.locale,
                            opened_by: opened_by.to_owned(),
                            opened_at: now,
                        },
                    ));
                    Ok::<_, ConversationError>(c)
                })
            })
            .await?;
        tracing::info!(conversation_id = %c.id, opened_by, "conversation opened");
        metrics::counter!("prm_conversations_opened_total", "opened_by" => opened_by.to_owned())
            .increment(1);
        after.touch(c.id);
        self.after_commit(after).await;
        Ok(c)
    }
}

/// The channel a conversation opened by this message has.
fn conversation_channel(data: &MessageReceived) -> Channel {
    match data.provider {
        MessageProvider::VoiceAgent => Channel::Phone,
        _ => data.channel,
    }
}

/// A voice-agent call is continued on WhatsApp when the caller wants an appointment.
fn is_booking_call(data: &MessageReceived) -> bool {
    let intent = data.intent.as_deref().unwrap_or_default().to_lowercase();
    ["book", "appointment", "cita", "agendar", "schedule"]
        .iter()
        .any(|w| intent.contains(w))
        || data
            .extracted_data
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|m| {
                m.keys()
                    .any(|k| k.parse::<IntakeField>().is_ok() || k == "department")
            })
}

/// What a voice agent already extracted during the call, field by field (a value that
/// does not fit is dropped, the rest kept); a department it named goes to triage.
fn voice_intake(
    data: &MessageReceived,
    clinic: &prm_ai::ClinicContext,
    today: chrono::NaiveDate,
    journey: &mut JourneyState,
) -> Option<IntakeData> {
    if data.provider != MessageProvider::VoiceAgent {
        return None;
    }
    let extracted = data.extracted_data.as_ref()?.as_object()?;
    if let Some(department) = extracted.get("department").and_then(Value::as_str) {
        journey.remember_text(department);
    }
    let mut collected = IntakeData::default();
    for (key, value) in extracted {
        if key.parse::<IntakeField>().is_err() {
            continue;
        }
        let mut one = Map::new();
        one.insert(key.clone(), value.clone());
        if let Ok(valid) = IntakeData::from_json_for(one, clinic, today) {
            collected.merge(valid);
        }
    }
    (!collected.is_empty()).then_some(collected)
}

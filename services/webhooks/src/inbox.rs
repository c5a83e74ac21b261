//! The application layer: turns an accepted provider message into exactly one
//! MESSAGE_RECEIVED event (and a status callback into one MESSAGE_STATUS_UPDATED).
//!
//! Exactly once, in two steps:
//! 1. a fast marker in the state store (Redis `SET NX`, 24 h) drops retries and
//!    concurrent copies before they touch the database;
//! 2. the `inbound_messages` row, UNIQUE on (provider, provider_message_id), is inserted
//!    in the same transaction that writes the event to the outbox: a duplicate that got
//!    past the marker (Redis down, flushed, expired) inserts nothing and writes no event.
//!
//! The outbox relay publishes the event; nothing is lost while RabbitMQ is down.
//! Voice notes are stored at once and their event written when the transcription is
//! done (or failed), off the request path; a sweep publishes any a crash left behind.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use prm_bus::{HandlerError, RelayNotifier};
use prm_domain::{
    Channel, Media, PhoneNumber,
    clock::{self, SharedClock},
    events::{
        DeliveryStatus, Envelope, MessageProvider, MessageReceived, MessageStatusUpdated,
        SharedLocation,
    },
};
use prm_platform::ApiError;
use prm_runtime::CancellationToken;
use prm_state::StateStore;
use prm_store::{
    Conflict, Store, StoreError,
    inbound_messages::{NewInboundMessage, is_storable_provider_message_id, provider_name},
    outbox::{self, Producer},
};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::voice_notes::{AudioSource, VoiceNotes};

/// How long a de-duplication marker lives (Twilio and Meta retry for less than that).
pub const DEDUP_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The `source` of the events this service writes.
pub const SOURCE: &str = "webhooks";

/// This service's outbox table (its relay publishes it).
pub const OUTBOX: outbox::Outbox = outbox::Outbox::WEBHOOKS;

/// A patient's message as a provider delivered it, already validated and normalized.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub provider: MessageProvider,
    pub provider_message_id: String,
    pub channel: Channel,
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    pub body: String,
    pub media: Vec<Media>,
    pub profile_name: Option<String>,
    pub wa_id: Option<String>,
    /// Already known text (a voice agent's transcript).
    pub transcription: Option<String>,
    /// Audio to transcribe before the event goes out.
    pub voice_note: Option<AudioSource>,
    pub received_at: DateTime<Utc>,
    /// The voice agent's reading of the call, passed on untouched.
    pub intent: Option<String>,
    pub extracted_data: Option<serde_json::Value>,
    /// A location the patient shared.
    pub location: Option<SharedLocation>,
    /// What the provider sent beyond the fields above (stored and in the event).
    pub provider_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A delivery status reported by a provider for one of our outbound messages.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub provider: MessageProvider,
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    /// The provider's own status word (`sending`, `delivered`…), for the logs.
    pub raw_status: String,
    pub error_code: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First time seen: the event was written (or will be, after transcription).
    Accepted { message_id: Option<Uuid> },
    /// Seen before: nothing was written.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// Blank, over 255 characters or with control characters: no provider sends such an
    /// id, and the database could not store it. Handlers refuse these first.
    #[error("the provider message id is blank, too long or has control characters")]
    InvalidProviderMessageId,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not serialize the event: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// How long a provider should wait after our database was not reachable.
const DATABASE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The webhooks' one conversion of their failures into answers: a refused id is 400, a
/// database out of reach 503 with `Retry-After` (the provider retries), anything else
/// an opaque 500 (the provider retries too).
impl From<InboxError> for ApiError {
    fn from(error: InboxError) -> Self {
        match error {
            InboxError::InvalidProviderMessageId => ApiError::bad_request(error.to_string()),
            // Nothing is lost: the provider's retry stores it once.
            InboxError::Store(StoreError::Unavailable(e)) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::unavailable("The database is not reachable; retry shortly.")
                    .with_retry_after(DATABASE_RETRY_AFTER)
            }
            other => ApiError::internal(other),
        }
    }
}

/// For consumers that accept messages from the bus: an unusable id is dead-lettered,
/// everything else (our database) is retried.
impl From<InboxError> for HandlerError {
    fn from(error: InboxError) -> Self {
        match error {
            InboxError::InvalidProviderMessageId | InboxError::Serialize(_) => {
                HandlerError::permanent(error)
            }
            other => HandlerError::transient(other),
        }
    }
}

/// Accepts provider messages and status reports.
#[derive(Clone)]
pub struct Inbox {
    store: Store,
    dedup: Arc<dyn StateStore>,
    /// The service's outbox and the relay to wake after a commit.
    producer: Producer,
    voice_notes: Arc<VoiceNotes>,
    /// How old a pending voice note is (the recovery sweep).
    clock: SharedClock,
}

impl Inbox {
    pub fn new(
        store: Store,
        dedup: Arc<dyn StateStore>,
        relay: Option<RelayNotifier>,
        voice_notes: Arc<VoiceNotes>,
    ) -> Self {
        Self {
            store,
            dedup,
            producer: Producer::new(OUTBOX, relay),
            voice_notes,
            clock: clock::system(),
        }
    }

    /// Judges the age of pending voice notes by `clock` (tests move it on instead of
    /// waiting).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn dedup_backend(&self) -> &'static str {
        self.dedup.backend()
    }

    pub fn transcription_enabled(&self) -> bool {
        self.voice_notes.transcription_enabled()
    }

    /// Records `message` and writes its MESSAGE_RECEIVED event, once per provider id.
    #[tracing::instrument(skip_all, fields(provider = provider_name(message.provider), provider_message_id = %message.provider_message_id))]
    pub async fn accept_message(&self, message: InboundMessage) -> Result<Outcome, InboxError> {
        if !is_storable_provider_message_id(&message.provider_message_id) {
            return Err(InboxError::InvalidProviderMessageId);
        }
        let key = format!(
            "webhooks:dedup:{}:{}",
            provider_name(message.provider),
            message.provider_message_id
        );
        let Some(claimed) = self.claim(&key).await else {
            tracing::info!("duplicate delivery dropped by the dedup marker");
            return Ok(Outcome::Duplicate);
        };
        let result = self.store_message(message).await;
        if claimed && !matches!(result, Ok(Outcome::Accepted { .. })) {
            // Failed (or lost the race in the database): a retry must be able to succeed.
            self.release(&key, result.is_err()).await;
        }
        if matches!(result, Ok(Outcome::Duplicate)) {
            tracing::info!("duplicate delivery dropped by the unique index");
        }
        result
    }

    /// Writes one MESSAGE_STATUS_UPDATED per (provider id, catalog status): provider
    /// words that map to one status (Twilio's `sending` and `sent`) give one event.
    #[tracing::instrument(skip_all, fields(provider = provider_name(report.provider), provider_message_id = %report.provider_message_id, status = %report.raw_status))]
    pub async fn accept_status(&self, report: StatusReport) -> Result<Outcome, InboxError> {
        if !is_storable_provider_message_id(&report.provider_message_id) {
            return Err(InboxError::InvalidProviderMessageId);
        }
        let name = format!(
            "{}:{}:{}",
            provider_name(report.provider),
            report.provider_message_id,
            status_name(report.status)
        );
        let key = format!("webhooks:status:{name}");
        let Some(claimed) = self.claim(&key).await else {
            return Ok(Outcome::Duplicate);
        };
        // The event id is derived from (provider, id, status): the outbox's unique event id
        // is then the database guard, as inbound_messages is for messages.
        let event_id = Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("prm:status:{name}").as_bytes(),
        );
        let data = MessageStatusUpdated {
            message_id: None,
            provider: report.provider,
            provider_message_id: report.provider_message_id,
            status: report.status,
            error_code: report.error_code,
            updated_at: report.updated_at,
        };
        // The envelope's `occurred_at` is when the event was written (the machine's
        // time, as every envelope's); the report's own time is `updated_at`.
        let envelope = Envelope::at(SOURCE, data, event_id, Utc::now());
        let envelope = &envelope;
        let written = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    tx.announce(envelope.clone());
                    Ok::<_, StoreError>(())
                })
            })
            .await;
        let result = match written {
            Ok(()) => Ok(Outcome::Accepted { message_id: None }),
            // The event id is taken: this status was written before.
            Err(StoreError::Conflict(Conflict::Duplicate)) => Ok(Outcome::Duplicate),
            Err(e) => Err(InboxError::from(e)),
        };
        if result.is_err() && claimed {
            self.release(&key, true).await;
        }
        result
    }

    /// `Some(true)`: we hold the marker; `Some(false)`: the state store is down, go on
    /// and let the database decide; `None`: someone else holds it (duplicate).
    async fn claim(&self, key: &str) -> Option<bool> {
        match self.dedup.set_if_absent(key, "1", DEDUP_TTL).await {
            Ok(true) => Some(true),
            Ok(false) => None,
            Err(error) => {
                // Degrade, never 500: the unique index still guarantees once.
                tracing::warn!(%error, "dedup marker unavailable; relying on the database");
                Some(false)
            }
        }
    }

    async fn release(&self, key: &str, failed: bool) {
        if !failed {
            // Lost the race in the database: the row exists, keep the marker.
            return;
        }
        if let Err(error) = self.dedup.delete(key).await {
            tracing::warn!(%error, "could not release the dedup marker");
        }
    }

    async fn store_message(&self, message: InboundMessage) -> Result<Outcome, InboxError> {
        let message_id = Uuid::now_v7();
        let transcribe = message.voice_note.is_some() && self.voice_notes.transcription_enabled();
        let InboundMessage {
            provider,
            provider_message_id,
            channel,
            from,
            to,
            body,
            media,
            profile_name,
            wa_id,
            transcription,
            voice_note,
            received_at,
            intent,
            extracted_data,
            location,
            provider_fields,
        } = message;
        let data = MessageReceived {
            message_id,
            provider,
            provider_message_id: provider_message_id.clone(),
            channel,
            from: from.clone(),
            to: to.clone(),
            body,
            media,
            profile_name,
            wa_id,
            transcription,
            received_at,
            intent,
            extracted_data,
            location,
            provider_fields: provider_fields.clone(),
        };
        let envelope = Envelope::new(SOURCE, data.clone());
        let row = NewInboundMessage {
            id: message_id,
            provider,
            provider_message_id,
            channel,
            from,
            to: Some(to),
            received_at,
            event_id: (!transcribe).then_some(envelope.id),
            pending_event: if transcribe {
                Some(serde_json::to_string(&data)?)
            } else {
                None
            },
            provider_fields,
        };
        let stored = if transcribe {
            // The event waits for the transcription (`pending_event`).
            self.store.insert_inbound_message(&row).await?
        } else {
            self.store
                .accept_inbound_message(&self.producer, &row, &envelope)
                .await?
        };
        if !stored {
            return Ok(Outcome::Duplicate);
        }
        match voice_note.filter(|_| transcribe) {
            Some(source) => {
                tracing::info!(%message_id, "voice note stored; transcribing in the background");
                self.spawn_transcription(data, source);
            }
            None => {
                tracing::info!(%message_id, event_id = %envelope.id, "MESSAGE_RECEIVED written to the outbox");
            }
        }
        Ok(Outcome::Accepted {
            message_id: Some(message_id),
        })
    }

    fn spawn_transcription(&self, data: MessageReceived, source: AudioSource) -> JoinHandle<()> {
        let inbox = self.clone();
        let span = tracing::info_span!("transcribe_voice_note", message_id = %data.message_id);
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let mut data = data;
                data.transcription = match inbox.voice_notes.transcribe(&source).await {
                    Ok(text) => Some(text),
                    Err(error) => {
                        tracing::warn!(%error, "transcription failed; the event goes out without it");
                        None
                    }
                };
                if let Err(error) = inbox.write_pending_event(data).await {
                    // The row stays pending: the recovery sweep publishes it later.
                    tracing::error!(error = %format_args!("{error:#}"), "could not write the voice note's event");
                }
            },
            span,
        ))
    }

    /// Writes the event of a stored message whose event is still pending.
    async fn write_pending_event(&self, data: MessageReceived) -> Result<bool, InboxError> {
        let message_id = data.message_id;
        let envelope = &Envelope::new(SOURCE, data);
        let written = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    // Already written (by a concurrent recovery): no second event.
                    let open = tx
                        .mark_inbound_event_written(message_id, envelope.id)
                        .await?;
                    if open {
                        tx.announce(envelope.clone());
                    }
                    Ok::<_, StoreError>(open)
                })
            })
            .await?;
        if written {
            tracing::info!(%message_id, event_id = %envelope.id, "MESSAGE_RECEIVED written to the outbox");
        }
        Ok(written)
    }

    /// Publishes, without transcription, the events of messages stored before `older_than`
    /// ago that still have none (a crash or shutdown interrupted their transcription).
    pub async fn recover_pending(&self, older_than: Duration) -> Result<usize, InboxError> {
        let before = self.clock.now()
            - chrono::Duration::from_std(older_than)
                .unwrap_or_else(|_| chrono::Duration::minutes(10));
        let pending = self.store.pending_inbound_messages(before, 100).await?;
        let mut written = 0;
        for row in pending {
            let data = match serde_json::from_str::<MessageReceived>(&row.pending_event) {
                Ok(data) => data,
                Err(error) => {
                    tracing::error!(message_id = %row.id, %error, "pending inbound message is unreadable; skipped");
                    continue;
                }
            };
            if self.write_pending_event(data).await? {
                written += 1;
            }
        }
        if written > 0 {
            tracing::warn!(
                written,
                "published voice-note events left pending by an interrupted transcription"
            );
        }
        Ok(written)
    }

    /// Runs [`Inbox::recover_pending`] now and then every `every`.
    pub fn spawn_recovery(
        &self,
        older_than: Duration,
        every: Duration,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        let inbox = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = inbox.recover_pending(older_than).await {
                    tracing::warn!(error = %format_args!("{error:#}"), "pending voice-note sweep failed");
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        })
    }
}

/// The catalog's word for a delivery status (the dedup key of status reports).
pub fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Queued => "queued",
        DeliveryStatus::Sent => "sent",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Read => "read",
        DeliveryStatus::Failed => "failed",
        DeliveryStatus::Undelivered => "undelivered",
    }
}

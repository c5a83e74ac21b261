//! What a callback does once its signature and body are checked: the conversation must
//! exist and be at a step the callback answers, and then one event is written to the
//! outbox, with an id derived from the callback so that n8n's retries publish it once.

use chrono::{DateTime, Utc};
use prm_domain::{
    clock::SharedClock,
    conversation::{Conversation, ConversationStatus, Stage},
    events::{BookingAction, Envelope, EventData, IntakeUpdated, TriageProposed},
};
use prm_platform::{ApiError, ErrorCode};
use prm_store::{
    Conflict, Store, StoreError,
    outbox::{Outbox, Producer},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::CallbacksConfig;

/// The namespace of the callbacks' event ids (UUID v5): a fixed, random UUID.
pub const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_93b7_4d0a_8e55_1c7f_0b9d_e342);

/// Which callback, as its path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    Intake,
    Triage,
    Booking,
}

impl CallbackKind {
    /// The last segment of the route (`intake-response`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intake => "intake-response",
            Self::Triage => "triage-response",
            Self::Booking => "booking-response",
        }
    }

    /// Whether a conversation is at a step this callback answers (docs/n8n.md, "Stage
    /// rules"): intake and triage answers only while the intake or the triage is under
    /// way in a conversation that is not closed; a booking action for any conversation
    /// that exists (a cancellation may come after the conversation closed, and
    /// appointments decides whether the action is possible).
    pub fn answers(self, conversation: &Conversation) -> bool {
        match self {
            Self::Intake | Self::Triage => {
                conversation.status != ConversationStatus::Closed
                    && matches!(conversation.stage, Stage::Intake | Stage::Triage)
            }
            Self::Booking => true,
        }
    }
}

/// A checked callback, as the event it becomes.
#[derive(Debug, Clone)]
pub enum Callback {
    Intake(IntakeUpdated),
    Triage(TriageProposed),
    Booking(BookingAction),
}

impl Callback {
    pub fn kind(&self) -> CallbackKind {
        match self {
            Self::Intake(_) => CallbackKind::Intake,
            Self::Triage(_) => CallbackKind::Triage,
            Self::Booking(_) => CallbackKind::Booking,
        }
    }

    pub fn conversation_id(&self) -> Uuid {
        match self {
            Self::Intake(data) => data.conversation_id,
            Self::Triage(data) => data.conversation_id,
            Self::Booking(data) => data.conversation_id,
        }
    }

    fn envelope(&self, id: Uuid, at: DateTime<Utc>) -> Envelope {
        fn wrap<E: EventData + Clone>(data: &E, id: Uuid, at: DateTime<Utc>) -> Envelope {
            Envelope::at(crate::SERVICE.name, data.clone(), id, at)
        }
        match self {
            Self::Intake(data) => wrap(data, id, at),
            Self::Triage(data) => wrap(data, id, at),
            Self::Booking(data) => wrap(data, id, at),
        }
    }
}

/// The id of the event a callback becomes: UUID v5 of its kind and the SHA-256 of its
/// raw body. The same bytes sent again (n8n retries a callback whose answer it did not
/// get) give the same id; any other body, another id.
pub fn event_id(kind: CallbackKind, raw_body: &[u8]) -> Uuid {
    let digest = hex::encode(Sha256::digest(raw_body));
    Uuid::new_v5(
        &EVENT_ID_NAMESPACE,
        format!("{}:{digest}", kind.as_str()).as_bytes(),
    )
}

/// How an accepted callback was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub event_id: Uuid,
    /// The same callback was accepted before: nothing new was written.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("conversation not found")]
    NotFound,
    #[error("the conversation is past this step (stage {stage}, status {status})")]
    StagePassed {
        kind: CallbackKind,
        stage: Stage,
        status: ConversationStatus,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::NotFound | CallbackError::Store(StoreError::NotFound(_)) => {
                ApiError::not_found("Conversation")
            }
            CallbackError::StagePassed {
                kind,
                stage,
                status,
            } => ApiError::new(ErrorCode::StagePassed).with_detail(format!(
                "The conversation is at stage `{stage}` (status `{status}`): the {} is taken only at stage `intake` or `triage` of a conversation that is not closed.",
                kind.as_str()
            )),
            CallbackError::Store(StoreError::Unavailable(source)) => {
                tracing::warn!(error = %source, "database unavailable");
                ApiError::unavailable("The database is not reachable; retry shortly.")
                    .with_retry_after(std::time::Duration::from_secs(1))
            }
            CallbackError::Store(StoreError::Conflict(Conflict::Transient | Conflict::Stale)) => {
                ApiError::new(ErrorCode::ConcurrentUpdate)
            }
            CallbackError::Store(other) => ApiError::internal(other),
        }
    }
}

/// The service's application: the store, its outbox and the clock.
pub struct Callbacks {
    pub config: CallbacksConfig,
    store: Store,
    producer: Producer,
    clock: SharedClock,
}

impl Callbacks {
    pub fn new(
        config: CallbacksConfig,
        store: Store,
        relay: Option<prm_store::outbox::RelayNotifier>,
        clock: SharedClock,
    ) -> Self {
        Self {
            config,
            store,
            producer: Producer::new(Outbox::N8N_CALLBACKS, relay),
            clock,
        }
    }

    /// Records `callback` (whose exact bytes were `raw_body`) as one event, in one unit
    /// of work with the read of its conversation.
    ///
    /// The conversation is locked while the callback is decided, so that it is judged
    /// against the stage the conversations service leaves it at, not one it is
    /// changing, and identical callbacks arriving at once are decided one after the
    /// other. A callback whose event is already in the outbox answers as accepted
    /// again before any stage rule: n8n retries one whose answer it lost, and that
    /// retry must not fail because the first one already moved the conversation on.
    pub async fn accept(
        &self,
        callback: &Callback,
        raw_body: &[u8],
    ) -> Result<Accepted, CallbackError> {
        let kind = callback.kind();
        let event_id = event_id(kind, raw_body);
        let envelope = &callback.envelope(event_id, self.clock.now());
        let conversation_id = callback.conversation_id();
        let accepted = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let record = match tx.lock_conversation(conversation_id).await {
                        Ok(record) => record,
                        Err(StoreError::NotFound(_)) => return Err(CallbackError::NotFound),
                        Err(e) => return Err(e.into()),
                    };
                    if tx.outbox_contains(Outbox::N8N_CALLBACKS, event_id).await? {
                        return Ok(Accepted {
                            event_id,
                            duplicate: true,
                        });
                    }
                    let conversation = &record.conversation;
                    if !kind.answers(conversation) {
                        return Err(CallbackError::StagePassed {
                            kind,
                            stage: conversation.stage,
                            status: conversation.status,
                        });
                    }
                    tx.announce(envelope.clone());
                    Ok(Accepted {
                        event_id,
                        duplicate: false,
                    })
                })
            })
            .await?;
        tracing::info!(
            callback = kind.as_str(),
            %conversation_id,
            %event_id,
            duplicate = accepted.duplicate,
            "n8n callback accepted"
        );
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_id_follows_the_kind_and_the_exact_bytes() {
        let body = br#"{"conversation_id":"0193a5b2-7c40-7000-8000-000000000001","department":"Cardiology"}"#;
        let id = event_id(CallbackKind::Triage, body);
        assert_eq!(id, event_id(CallbackKind::Triage, body), "deterministic");
        assert_eq!(id.get_version_num(), 5);
        assert_ne!(id, event_id(CallbackKind::Intake, body), "per kind");
        let mut spaced = body.to_vec();
        spaced.push(b' ');
        assert_ne!(id, event_id(CallbackKind::Triage, &spaced), "per body");
    }
}

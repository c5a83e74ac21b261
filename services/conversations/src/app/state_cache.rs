//! The conversation state in Redis (ARCHITECTURE §5 keys), as a cache of what the
//! database holds: written after every change that commits, read by the state API and
//! the phone lookup, and rebuilt from the database whenever it is missing (expired,
//! flushed) or Redis cannot be reached. A failure here is logged and never fails a
//! request or a turn.
//!
//! * `conversation:{id}:state` (hash): `stage`, `status`, `locale`, `bot_paused`,
//!   `extracted_data` (JSON), `asked`, `misunderstood`, `journey` (the whole journey
//!   state, JSON), `updated_at`;
//! * `conversation:{id}:required_fields` (list): the intake fields still missing, in order;
//! * `conversation:{id}:messages` (list): the recent messages, oldest first, as JSON
//!   `{id, direction, author, text, at}`;
//! * `phone_to_convo:{phone}` (string): the conversation id.

use std::{collections::HashMap, sync::Arc, time::Duration};

use prm_domain::conversation::{Conversation, Message};
use prm_state::{StateStore, keys};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::journey::JourneyState;

#[derive(Clone)]
pub struct StateCache {
    store: Arc<dyn StateStore>,
    ttl: Duration,
}

/// What the cache holds of one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedState {
    pub fields: HashMap<String, String>,
    pub required_fields: Vec<String>,
    pub expires_in: Option<Duration>,
}

impl CachedState {
    pub fn journey(&self) -> Option<JourneyState> {
        self.fields
            .get("journey")
            .and_then(|j| serde_json::from_str(j).ok())
    }
}

impl StateCache {
    pub fn new(store: Arc<dyn StateStore>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Writes every key of the conversation (each write refreshes its TTL).
    pub async fn save(&self, c: &Conversation, journey: &JourneyState, recent: &[Message]) {
        if let Err(error) = self.try_save(c, journey, recent).await {
            tracing::warn!(conversation_id = %c.id, %error, "conversation state not cached; the database still has it");
        }
    }

    async fn try_save(
        &self,
        c: &Conversation,
        journey: &JourneyState,
        recent: &[Message],
    ) -> Result<(), prm_state::StateError> {
        let intake = journey.intake.as_ref();
        let extracted = intake
            .map(|i| Value::Object(i.extracted.to_json()))
            .unwrap_or_else(|| json!({}));
        let mut fields = vec![
            ("stage".to_owned(), c.stage.as_str().to_owned()),
            ("status".to_owned(), c.status.as_str().to_owned()),
            ("locale".to_owned(), c.locale.as_str().to_owned()),
            ("bot_paused".to_owned(), c.bot_paused.to_string()),
            ("phone".to_owned(), c.phone.as_str().to_owned()),
            ("extracted_data".to_owned(), extracted.to_string()),
            (
                "journey".to_owned(),
                serde_json::to_string(journey).unwrap_or_default(),
            ),
            ("updated_at".to_owned(), c.updated_at.to_rfc3339()),
        ];
        if let Some(intake) = intake {
            fields.push((
                "asked".to_owned(),
                intake.asked.map(|f| f.as_str()).unwrap_or("").to_owned(),
            ));
            fields.push(("misunderstood".to_owned(), intake.misunderstood.to_string()));
        }
        self.store
            .hash_set_all(&keys::conversation_state(c.id), &fields, self.ttl)
            .await?;
        let required: Vec<String> = intake
            .map(|i| {
                i.required_fields
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let required_key = keys::required_fields(c.id);
        if required.is_empty() {
            self.store.delete(&required_key).await?;
        } else {
            self.store
                .list_replace(&required_key, &required, self.ttl)
                .await?;
        }
        let history: Vec<String> = recent
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "direction": m.direction,
                    "author": m.author,
                    "text": m.text(),
                    "at": m.created_at,
                })
                .to_string()
            })
            .collect();
        let messages_key = keys::recent_messages(c.id);
        if history.is_empty() {
            self.store.delete(&messages_key).await?;
        } else {
            self.store
                .list_replace(&messages_key, &history, self.ttl)
                .await?;
        }
        let phone_key = keys::phone_to_conversation(c.phone.as_str());
        if c.status == prm_domain::conversation::ConversationStatus::Closed {
            // The phone's next message opens a new conversation.
            if self.store.get(&phone_key).await?.as_deref() == Some(&c.id.to_string()) {
                self.store.delete(&phone_key).await?;
            }
        } else {
            self.store
                .set(&phone_key, &c.id.to_string(), self.ttl)
                .await?;
        }
        Ok(())
    }

    /// The cached state, `None` when nothing is cached (expired, flushed, never written)
    /// or Redis does not answer.
    pub async fn load(&self, id: Uuid) -> Option<CachedState> {
        let state_key = keys::conversation_state(id);
        let result = async {
            let fields = self.store.hash_get_all(&state_key).await?;
            if fields.is_empty() || !fields.contains_key("journey") {
                return Ok(None);
            }
            let required_fields = self.store.list_range(&keys::required_fields(id)).await?;
            let expires_in = self.store.ttl(&state_key).await?;
            Ok::<_, prm_state::StateError>(Some(CachedState {
                fields,
                required_fields,
                expires_in,
            }))
        }
        .await;
        result.unwrap_or_else(|error| {
            tracing::warn!(conversation_id = %id, %error, "conversation state cache unreachable; using the database");
            None
        })
    }

    /// The conversation id cached for a phone.
    pub async fn conversation_of(&self, phone: &prm_domain::PhoneNumber) -> Option<Uuid> {
        match self
            .store
            .get(&keys::phone_to_conversation(phone.as_str()))
            .await
        {
            Ok(id) => id.and_then(|id| id.parse().ok()),
            Err(error) => {
                tracing::debug!(%error, "phone lookup cache unreachable");
                None
            }
        }
    }
}

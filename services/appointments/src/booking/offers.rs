//! What a conversation was offered, remembered for `CONVERSATION_STATE_TTL_SECS`
//! (15 minutes by default) in the state store (Redis, or memory when embedded).
//! Losing an offer is harmless: the patient is asked to search again (404).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use prm_domain::{
    Locale,
    scheduling::{SlotKey, SlotPreferences},
};
use prm_state::{StateError, StateStore, get_json, set_json};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfferedSlotRecord {
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Wall-clock start at the location, what "2pm" is matched against.
    pub local_start: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredOffer {
    pub offer_id: Uuid,
    pub conversation_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub department: String,
    pub preferences: SlotPreferences,
    pub from_date: Option<NaiveDate>,
    pub locale: Locale,
    pub slots: Vec<OfferedSlotRecord>,
    /// Every slot offered to this conversation so far, so "none of these" never
    /// proposes the same times again.
    pub offered: Vec<SlotKey>,
    pub created_at: DateTime<Utc>,
}

fn key(conversation_id: Uuid) -> String {
    format!("slot_offer:{conversation_id}")
}

pub async fn save(
    store: &dyn StateStore,
    offer: &StoredOffer,
    ttl: Duration,
) -> Result<(), StateError> {
    set_json(store, &key(offer.conversation_id), offer, ttl).await
}

pub async fn load(
    store: &dyn StateStore,
    conversation_id: Uuid,
) -> Result<Option<StoredOffer>, StateError> {
    get_json(store, &key(conversation_id)).await
}

//! What a conversation was offered, remembered for `CONVERSATION_STATE_TTL_SECS`
//! (15 minutes by default) in the state store (Redis, or memory when embedded).
//! Losing an offer is harmless: the patient is asked to search again (404).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use prm_domain::{
    Locale, PhoneNumber,
    events::Urgency,
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
    /// How the offer was ranked: `urgent` offers the soonest first (offers made over
    /// HTTP are routine).
    #[serde(default = "routine")]
    pub urgency: Urgency,
    /// Where the patient is written to (MESSAGE_SEND_REQUESTED), for offers made by
    /// the booking choreography.
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
    /// The appointment's reason (the chief complaint from the intake).
    #[serde(default)]
    pub reason: Option<String>,
    /// Set when the offer moves this appointment (BOOKING_ACTION `reschedule`) rather
    /// than booking a new one; its slots are then the same practitioner's.
    #[serde(default)]
    pub reschedule: Option<Uuid>,
}

fn routine() -> Urgency {
    Urgency::Routine
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

//! Slot generation, preference scoring, offer rendering and selection parsing (ARCHITECTURE §6).
//!
//! The flow the appointments service drives:
//! 1. [`find_slots`] turns schedules into free slots in each location's time zone, ranks
//!    them against the patient's preferences (or by how soon, when urgent) and spreads the
//!    offer over practitioners and days ([`spread`]);
//! 2. [`render_offer`] words them for WhatsApp;
//! 3. [`parse_selection`] reads the patient's answer against the offered local times, and
//!    books only a plain choice;
//! 4. front-desk bookings of an explicit start are checked with [`schedule_slot_at`].
//!
//! Everything is pure: the current instant and the busy intervals are passed in.

pub mod render;
pub mod scoring;
pub mod search;
pub mod selection;
pub mod slots;
pub mod spread;

pub use render::{
    RenderedOffer, clarify_message, no_slots_message, offer_message, rejection_message,
    render_offer, slot_text,
};
pub use scoring::{SlotPreferences, score_slot};
pub use search::{
    Clinic, DEFAULT_LIMIT, DEFAULT_MIN_NOTICE, DEFAULT_WINDOW_DAYS, MAX_LIMIT, MAX_WINDOW_DAYS,
    RankedSlot, SlotKey, SlotOffer, SlotQuery, find_slots,
};
pub use selection::{Selection, asks_for_earlier, parse_selection};
pub use slots::{BusyInterval, Slot, is_schedule_slot, schedule_slot_at};

#[cfg(test)]
mod fixtures;

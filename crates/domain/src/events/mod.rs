//! Event catalog of the PRM suite (ARCHITECTURE §4, §5 "Events").
//!
//! Every event travels in an [`Envelope`]:
//! `{ "id", "type", "occurred_at", "source", "data" }`. The envelope keeps `data` as raw
//! JSON so that a consumer (or the outbox relay) can carry event types it does not know
//! yet; producers build it from a typed payload with [`Envelope::new`], consumers read it
//! back with [`Envelope::data_as`] or [`Envelope::decode`].
//!
//! The payload structs here are the public contract with journey orchestration and other
//! outside consumers: fields may be added, never renamed or removed.
//!
//! One file per concern, every item re-exported here (`prm_domain::events::X`):
//! `envelope` (the envelope, event types, decoding), `catalog` (type ↔ payload, once),
//! `refs` (patient, practitioner and location references), then the payloads by the
//! flow they belong to: `inbound` (a patient's message), `conversations` (a conversation opened, changed,
//! closed or escalated), `intake` (intake, triage and
//! the patient's choices), `offers` (slots offered), `appointments` (booked, cancelled,
//! moved), `reminders` (messages due after the booking) and `outbound` (messages sent and their delivery); `examples` gives each
//! payload's fixed example.

use std::{fmt, str::FromStr};

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{AppointmentStatus, Channel, Media, PhoneNumber, TimeZone, Weekday};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

mod appointments;
mod catalog;
mod conversations;
mod envelope;
mod examples;
mod inbound;
mod intake;
mod offers;
mod outbound;
mod refs;
mod reminders;
#[cfg(test)]
mod tests;

pub use appointments::*;
pub use catalog::*;
pub use conversations::*;
pub use envelope::*;
pub use inbound::*;
pub use intake::*;
pub use offers::*;
pub use outbound::*;
pub use refs::*;
pub use reminders::*;

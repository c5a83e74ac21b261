//! FHIR-like models of the clinic and the pure logic of the PRM suite.
//!
//! This crate does no I/O: no async runtime, database, HTTP or framework types.
//! Everything here can be tested with plain unit and property tests.

pub mod calendar;
pub mod clock;
pub mod conversation;
pub mod events;
pub mod model;
pub mod phone;
pub mod scheduling;
pub mod templates;
pub mod timezone;

pub use model::*;
pub use phone::{PhoneError, PhoneNumber};
pub use timezone::{TimeZone, TimeZoneError};

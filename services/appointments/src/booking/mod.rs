//! Slot search, slot selection and booking (ARCHITECTURE §5, §6).
//!
//! Dependencies point one way: `views` (request and response bodies), `offers` (what a
//! conversation was offered, kept 15 minutes) and `events` (the events announced) are
//! built from domain types; `app` holds the rules (one function per use case) on top of
//! them and fails with [`BookingError`]; `routes` only extracts validated input, calls
//! one `app` function and renders the result; `examples` documents the answers with
//! the code that produces them.

pub mod app;
mod error;
pub mod events;
pub mod examples;
pub mod offers;
pub mod routes;
pub mod settings;
pub mod views;

pub use error::BookingError;

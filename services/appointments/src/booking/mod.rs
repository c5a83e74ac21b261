//! Slot search, slot selection and booking (ARCHITECTURE §5, §6).
//!
//! `app` holds the rules (one function per use case); `routes` only extracts
//! validated input, calls one of them and renders the result; `offers` keeps
//! what was offered to a conversation for 15 minutes.

pub mod app;
pub mod events;
pub mod examples;
pub mod offers;
pub mod routes;
pub mod settings;
pub mod views;

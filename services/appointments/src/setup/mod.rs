//! Clinic set-up: the resources a clinic configures before patients can book.
//!
//! Each resource is a thin CRUD module over the store: the request checks (text rules
//! and length limits from `prm_platform::{fields, limits}`) turn a body into a domain
//! value, the store's failures are answered by [`crate::error::api_error`], and lists
//! page with `prm_platform::list`.

pub mod examples;
pub mod locations;
pub mod patients;
pub mod practitioners;
pub mod schedules;

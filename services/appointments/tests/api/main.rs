//! HTTP tests of the appointments service: each test starts the real app on
//! port 0 against a fresh database (SQLite, or PostgreSQL with
//! PRM_TEST_DATABASE=postgres) and talks HTTP to it.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod auth;
mod booking;
mod choreography;
mod demo;
mod errors;
mod events;
mod fuzz;
mod helpers;
mod listing;
mod locations;
mod metrics;
mod patients;
mod practitioners;
mod reminders;
mod reports;
mod schedules;
mod text;
mod waitlist;

//! HTTP and event tests of the conversations service: each test starts the real service
//! on port 0 against a fresh database (SQLite, or PostgreSQL with
//! PRM_TEST_DATABASE=postgres, then with Redis and RabbitMQ) and talks to it over HTTP
//! and the bus.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod api;
mod audit;
mod helpers;
mod inbound;
mod journey;
mod pacing;
mod reminders;
mod state;
mod stream;
mod templates;
mod twilio;
mod window;

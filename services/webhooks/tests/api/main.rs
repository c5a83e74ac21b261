//! HTTP tests of the webhooks service: each test starts the real app on port 0 against a
//! fresh database (SQLite, or PostgreSQL with PRM_TEST_DATABASE=postgres), the real Redis
//! for de-duplication markers and, where events must cross the broker, the real RabbitMQ.
//! An unreachable Redis or RabbitMQ fails the test (naming the server and how to start
//! it); nothing is ever skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod fuzz;
mod helpers;
mod meta;
mod rabbit;
mod rate_limit;
mod transcription;
mod twilio;
mod twilio_fields;
mod twilio_status;
mod voice_agent;

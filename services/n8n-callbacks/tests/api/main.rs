//! HTTP and event tests of the n8n callbacks service: each test starts the real service
//! on port 0 against a fresh database (SQLite, or PostgreSQL with
//! PRM_TEST_DATABASE=postgres, then with Redis and RabbitMQ) and talks to it over HTTP;
//! what it publishes is read from its outbox and from the bus.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod auth;
mod callbacks;
mod helpers;
mod journey;

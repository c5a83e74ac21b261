//! What every PRM test suite shares, so that a new service's tests start from here
//! instead of from a copy of another suite's helpers (a dev-dependency only).
//!
//! * [`spawn`] / [`Spawn`] / [`TestApp`]: the real host serving the given services on
//!   port 0, on a fresh migrated database (SQLite or PostgreSQL per
//!   `PRM_TEST_DATABASE`, dropped with the app), over the state store and bus of the test
//!   matrix (`PRM_TEST_STATE`, `PRM_TEST_BUS`, see [`matrix`]) with unique Redis and
//!   AMQP prefixes, rate limits off, an API key, and optionally a [`ManualClock`].
//! * [`problem`] and [`fields`]: the one assertion of an RFC 9457 problem.
//! * [`eventually`]: polls a condition instead of sleeping.
//! * [`FaultProxy`]: a TCP proxy whose connections a test cuts, for real outages.
//! * [`require_redis`] / [`require_rabbit`]: the real servers, failing loudly when down.
//! * [`clinic`]: locations, practitioners with schedules and patients, over HTTP.
//! * [`time`]: instants in a clinic's zone and manual clocks.
//! * [`twilio`]: requests signed as Twilio signs them.
//! * [`rabbit`]: AMQP connections, an outside consumer of `prm.events`, topology clean-up.
//! * [`fixtures`]: committed copies of the suite's shared fixtures, kept identical.
//! * [`logs`]: what reaches the logs, for "no patient data" assertions.
//! * [`processes`]: the service binaries as separate processes over shared backends.
//!
//! [`ManualClock`]: prm_domain::clock::ManualClock

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support fails loudly on purpose

mod app;
pub mod clinic;
pub mod fixtures;
pub mod logs;
pub mod matrix;
mod poll;
mod problem;
pub mod processes;
mod proxy;
pub mod rabbit;
pub mod time;
pub mod twilio;

pub use app::{API_KEY, Spawn, TestApp, spawn, try_spawn};
pub use matrix::{AMQP_URL, REDIS_URL, require_rabbit, require_redis, unique_prefix};
pub use poll::eventually;
pub use prm_store::testing::{TestBackend, TestDatabase};
pub use problem::{Answer, fields, problem};
pub use proxy::FaultProxy;

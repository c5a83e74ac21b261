//! The test matrix: which adapter of each port a spawned app uses, and the real servers.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `PRM_TEST_DATABASE` | `sqlite`, `postgres` | `sqlite` |
//! | `PRM_TEST_STATE` | `memory`, `redis` | `memory` |
//! | `PRM_TEST_BUS` | `inprocess`, `rabbitmq` | `inprocess` |
//!
//! `make test` runs the SQLite pass on memory and the in-process bus, and the PostgreSQL
//! pass on Redis and RabbitMQ, so every service suite meets both adapters of each port.
//! A test that is about one adapter asks for it explicitly (`REDIS_URL`, `AMQP_URL` in
//! its variables, or [`crate::Spawn::redis`] / [`crate::Spawn::rabbit`]) and gets it
//! in both passes. The servers are used for real: when one is down the test fails,
//! naming it and how to start it; nothing is ever skipped.

use std::time::Duration;

/// The real Redis on 127.0.0.1.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The real RabbitMQ on 127.0.0.1, guest/guest.
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The conversation state store of the apps a test spawns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Memory,
    Redis,
}

/// The event bus of the apps a test spawns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    InProcess,
    RabbitMq,
}

/// `PRM_TEST_STATE`; an unknown value fails the test rather than quietly testing memory.
pub fn state() -> State {
    match std::env::var("PRM_TEST_STATE").as_deref().map(str::trim) {
        Err(_) | Ok("" | "memory") => State::Memory,
        Ok("redis") => State::Redis,
        Ok(other) => panic!("PRM_TEST_STATE={other}: expected `memory` or `redis`"),
    }
}

/// `PRM_TEST_BUS`; an unknown value fails the test rather than quietly testing in-process.
pub fn bus() -> Bus {
    match std::env::var("PRM_TEST_BUS").as_deref().map(str::trim) {
        Err(_) | Ok("" | "inprocess" | "in-process") => Bus::InProcess,
        Ok("rabbitmq" | "rabbit") => Bus::RabbitMq,
        Ok(other) => panic!("PRM_TEST_BUS={other}: expected `inprocess` or `rabbitmq`"),
    }
}

async fn reachable(address: &str) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect(address)
        )
        .await,
        Ok(Ok(_))
    )
}

async fn require(what: &str, address: &str, how: &str) {
    assert!(
        reachable(address).await,
        "{what} is not reachable on {address}: this test uses the real {what}. \
         Start it ({how}, or `make services`) and run the tests again."
    );
}

/// The URL of the real Redis; fails the test when it is down.
pub async fn require_redis() -> &'static str {
    require("Redis", "127.0.0.1:6379", "`redis-server --daemonize yes`").await;
    REDIS_URL
}

/// The URL of the real RabbitMQ; fails the test when it is down.
pub async fn require_rabbit() -> &'static str {
    require("RabbitMQ", "127.0.0.1:5672", "`rabbitmq-server -detached`").await;
    AMQP_URL
}

/// A prefix no other test uses: `test-<uuid>.` (AMQP names, Redis keys).
pub fn unique_prefix() -> String {
    format!("test-{}.", uuid::Uuid::new_v4().simple())
}

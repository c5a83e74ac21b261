//! Shared helpers of the integration tests: real RabbitMQ and PostgreSQL on 127.0.0.1
//! (prm-testkit), unique names per test, bounded waits. The tests use those servers for
//! real: when one is unreachable they fail, naming it and how to start it
//! (`make services`).
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prm_bus::{BusConfig, RetryPolicy};
use prm_store::testing::{TestBackend, TestDatabase};
pub use prm_testkit::{
    AMQP_URL, FaultProxy, eventually,
    rabbit::{EventTap, connect as amqp_connection, delete_topology, ready_messages},
    unique_prefix,
};
use sea_orm::DatabaseConnection;

/// The AMQP URL of the real RabbitMQ; fails the test when it is unreachable.
pub async fn rabbit() -> &'static str {
    prm_testkit::require_rabbit().await
}

/// Small, fast retries so tests of the failure paths take milliseconds.
pub fn test_config(prefix: &str) -> BusConfig {
    BusConfig {
        prefix: prefix.to_owned(),
        retry: RetryPolicy {
            max_attempts: 3,
            backoff: prm_bus::Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(100),
            },
        },
        reconnect: prm_bus::Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
        connect_timeout: Duration::from_secs(5),
        confirm_timeout: Duration::from_secs(5),
        ..BusConfig::default()
    }
}

/// A migrated database on one backend whatever `PRM_TEST_DATABASE` says (the outbox
/// tests run on both), opened as the store opens it; dropped at the end.
pub struct TestDb {
    pub db: DatabaseConnection,
    database: TestDatabase,
}

impl TestDb {
    /// On the real PostgreSQL; fails the test when it is unreachable.
    pub async fn postgres() -> Self {
        Self::on(TestBackend::Postgres).await
    }

    /// A SQLite file (embedded mode): one connection, WAL.
    pub async fn sqlite() -> Self {
        Self::on(TestBackend::Sqlite).await
    }

    async fn on(backend: TestBackend) -> Self {
        let database = TestDatabase::migrated_on(backend).await;
        let db = open(database.url()).await;
        Self { db, database }
    }

    /// Another pool on the same database, as a second process (replica) would have.
    pub async fn other_connection(&self) -> DatabaseConnection {
        open(self.database.url()).await
    }
}

async fn open(url: &str) -> DatabaseConnection {
    prm_store::Store::connect(url)
        .await
        .expect("connect to the test database")
        .connection()
        .clone()
}

//! Shared helpers of the integration tests: real RabbitMQ and PostgreSQL on 127.0.0.1,
//! unique names per test, bounded waits. The tests use those servers for real: when one
//! is unreachable they fail, naming it and how to start it (`make services`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{future::Future, time::Duration};

use lapin::{Connection, ConnectionProperties, options::*};
use prm_bus::{BusConfig, RetryPolicy};
use prm_migrations::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The administration URL (`PRM_TEST_POSTGRES_URL`, as for every other test suite).
fn pg_admin_url() -> String {
    prm_store::testing::postgres_admin_url()
}

/// The URL of the test database `name` on the administration URL's server.
fn pg_url(name: &str) -> String {
    prm_store::testing::with_database(&pg_admin_url(), name)
}

#[track_caller]
fn unavailable(what: &str, address: &str) -> ! {
    panic!(
        "{what} is not reachable on {address}: these tests use the real server. \
         Start it with `make services` (scripts/services.sh), then run the tests again."
    )
}

async fn reachable(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// The AMQP URL of the real RabbitMQ; fails the test when it is unreachable.
pub async fn rabbit() -> &'static str {
    if !reachable("127.0.0.1:5672").await {
        unavailable("RabbitMQ", "127.0.0.1:5672");
    }
    AMQP_URL
}

pub fn unique_prefix() -> String {
    format!("test-{}.", uuid::Uuid::new_v4().simple())
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

pub async fn amqp_connection(url: &str) -> Connection {
    tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(
            url,
            ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio),
        ),
    )
    .await
    .expect("connect timed out")
    .expect("connect to RabbitMQ")
}

/// Deletes what a test declared under `prefix` (queues of `consumers`, the exchanges).
pub async fn delete_topology(prefix: &str, consumers: &[&str]) {
    let conn = amqp_connection(AMQP_URL).await;
    let ch = conn.create_channel().await.expect("channel");
    for c in consumers {
        for queue in [
            format!("{prefix}{c}"),
            format!("{prefix}{c}.dlq"),
            format!("{prefix}{c}.retry"),
        ] {
            let _ = ch.queue_delete(&queue, QueueDeleteOptions::default()).await;
        }
    }
    let _ = ch
        .exchange_delete(
            &format!("{prefix}prm.events"),
            ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = ch
        .exchange_delete(
            &format!("{prefix}prm.events.dlx"),
            ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = conn.close(200, "bye").await;
}

/// Messages ready (not delivered, not unacked) in `queue`, from a passive declare.
pub async fn ready_messages(queue: &str) -> u32 {
    let conn = amqp_connection(AMQP_URL).await;
    let ch = conn.create_channel().await.expect("channel");
    let declared = ch
        .queue_declare(
            queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("queue exists");
    let _ = conn.close(200, "bye").await;
    declared.message_count()
}

/// Polls `check` every 20 ms until it returns true; panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A throwaway PostgreSQL database with the suite's migrations, dropped at the end.
pub struct TestDb {
    pub db: DatabaseConnection,
    name: Option<String>,
    file: Option<std::path::PathBuf>,
}

impl TestDb {
    /// A fresh database on the real PostgreSQL; fails the test when it is unreachable.
    pub async fn postgres() -> Self {
        let name = format!("bus_test_{}", uuid::Uuid::new_v4().simple());
        let admin_url = pg_admin_url();
        let admin = match Database::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(_) => unavailable("PostgreSQL", &admin_url),
        };
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        admin.close().await.expect("close admin");
        let db = Database::connect(pg_url(&name))
            .await
            .expect("connect to test database");
        prm_migrations::Migrator::up(&db, None)
            .await
            .expect("migrations");
        Self {
            db,
            name: Some(name),
            file: None,
        }
    }

    /// A SQLite file with the same migrations (embedded mode), opened as the store
    /// opens it: one connection, WAL.
    pub async fn sqlite() -> Self {
        let file =
            std::env::temp_dir().join(format!("bus_test_{}.db", uuid::Uuid::new_v4().simple()));
        let db = open_sqlite(&file).await;
        prm_migrations::Migrator::up(&db, None)
            .await
            .expect("migrations");
        Self {
            db,
            name: None,
            file: Some(file),
        }
    }

    /// Another pool on the same database, as a second process (replica) would have.
    pub async fn other_connection(&self) -> DatabaseConnection {
        match (&self.name, &self.file) {
            (Some(name), _) => Database::connect(pg_url(name)).await.expect("connect"),
            (None, Some(file)) => open_sqlite(file).await,
            (None, None) => unreachable!("a test database is PostgreSQL or a SQLite file"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = std::fs::remove_file(file);
        }
        let Some(name) = self.name.take() else { return };
        // Runs even when the test panicked; FORCE ends the pool's sessions.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async {
                if let Ok(admin) = Database::connect(pg_admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

async fn open_sqlite(file: &std::path::Path) -> DatabaseConnection {
    let mut options = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=rwc", file.display()));
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.expect("open sqlite");
    db.execute_unprepared("PRAGMA journal_mode=WAL")
        .await
        .expect("WAL");
    db
}

/// A TCP proxy in front of RabbitMQ whose connections the test can cut: a real outage
/// for the client without stopping the shared broker.
pub struct Proxy {
    pub port: u16,
    enabled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(upstream: &'static str) -> Self {
        use std::sync::{
            Arc, Mutex,
            atomic::{AtomicBool, Ordering},
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let enabled = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (on, accepted) = (enabled.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !on.load(Ordering::SeqCst) {
                    drop(inbound); // refused: the broker is "down"
                    continue;
                }
                let link = tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                accepted.lock().unwrap().push(link);
            }
        });
        Self {
            port,
            enabled,
            links,
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Drops every open connection and refuses new ones. When this returns, both sides
    /// of every connection are closed: nothing the client writes afterwards (an ack…)
    /// can reach the broker.
    pub async fn cut(&self) {
        self.enabled
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for link in links {
            link.abort();
            let _ = link.await;
        }
    }

    pub fn restore(&self) {
        self.enabled
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An outside consumer written directly on lapin, as journey orchestration would: its own
/// queue bound to the `prm.events` exchange. Returns the deliveries as they arrive.
pub async fn outside_consumer(
    prefix: &str,
    queue: &str,
    routing_key: &str,
) -> (
    Connection,
    tokio::sync::mpsc::UnboundedReceiver<lapin::message::Delivery>,
) {
    use futures::StreamExt;
    let conn = amqp_connection(AMQP_URL).await;
    let ch = conn.create_channel().await.expect("channel");
    let queue = format!("{prefix}{queue}");
    ch.queue_declare(
        &queue,
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        lapin::types::FieldTable::default(),
    )
    .await
    .expect("declare");
    ch.queue_bind(
        &queue,
        &format!("{prefix}prm.events"),
        routing_key,
        QueueBindOptions::default(),
        lapin::types::FieldTable::default(),
    )
    .await
    .expect("bind");
    let mut consumer = ch
        .basic_consume(
            &queue,
            "journey-test",
            BasicConsumeOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("consume");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(delivery)) = consumer.next().await {
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            if tx.send(delivery).is_err() {
                return;
            }
        }
    });
    (conn, rx)
}

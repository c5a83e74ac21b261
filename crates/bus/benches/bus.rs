//! Event bus figures against the real broker and database (docs/performance.md):
//! outbox relay throughput with publisher confirms, and publish → consume latency.
//!
//! `cargo bench -p prm-bus --bench bus` (under `cargo test` it runs once at a smoke size)
//! Needs RabbitMQ and PostgreSQL on 127.0.0.1 (as the tests); `BENCH_EVENTS` changes
//! the outbox size (default 5000), `BENCH_MESSAGES` the latency samples (default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prm_bus::{
    BusConfig, Delivery, EventBus, OutboxRelay, RabbitBus, RelayConfig, Subscription, handler_fn,
};
use prm_domain::events::{AppointmentCreated, Envelope, EventData};
use prm_migrations::MigratorTrait;
use prm_store::outbox::Outbox;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// `BENCH_*` if set; else the full size under `cargo bench` (which passes `--bench`)
/// and a smoke size under `cargo test --all-targets`, which runs benches once as tests.
fn env_usize(name: &str, default: usize) -> usize {
    let measuring = std::env::args().any(|a| a == "--bench");
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { default } else { default / 20 })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let prefix = format!("bench-{}.", uuid::Uuid::new_v4().simple());
    let db_name = format!("bus_bench_{}", uuid::Uuid::new_v4().simple());
    let admin_url = prm_store::testing::postgres_admin_url();
    let admin = Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} ({e}); run `make services`"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {db_name}"))
        .await
        .unwrap();
    let db = Database::connect(prm_store::testing::with_database(&admin_url, &db_name))
        .await
        .unwrap();
    prm_migrations::Migrator::up(&db, None).await.unwrap();
    let bus = RabbitBus::connect(
        AMQP_URL,
        BusConfig {
            prefetch: 64,
            ..BusConfig::with_prefix(&prefix)
        },
    )
    .await
    .expect("RabbitMQ on 127.0.0.1:5672");

    // A consumer queue so published events are routed and stored (quorum queue), as in
    // production; confirms then include the broker's fsync.
    let received: Arc<Mutex<HashMap<uuid::Uuid, Instant>>> = Arc::default();
    let r = received.clone();
    let sub = bus
        .subscribe(Subscription::new(
            "prm.bench.sink",
            ["#"],
            handler_fn(move |d: Delivery| {
                let r = r.clone();
                async move {
                    r.lock().unwrap().insert(d.envelope.id, Instant::now());
                    Ok(())
                }
            }),
        ))
        .await
        .unwrap();

    // 1. Outbox relay throughput.
    let events = env_usize("BENCH_EVENTS", 5000);
    for chunk in 0..events.div_ceil(500) {
        let txn = db.begin().await.unwrap();
        for _ in 0..500.min(events - chunk * 500) {
            Outbox::APPOINTMENTS
                .enqueue(
                    &txn,
                    &Envelope::new("appointments", AppointmentCreated::example()),
                    None,
                )
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    let relay = OutboxRelay::new(
        db.clone(),
        Arc::new(bus.clone()),
        Outbox::APPOINTMENTS,
        RelayConfig {
            batch_size: 200,
            ..RelayConfig::default()
        },
    );
    let start = Instant::now();
    let mut published = 0;
    while published < events {
        published += relay.relay_once().await.expect("relay");
    }
    let relay_elapsed = start.elapsed();
    assert_eq!(
        Outbox::APPOINTMENTS.unpublished_count(&db).await.unwrap(),
        0
    );
    println!(
        "outbox relay: {events} events in {:.2} s = {:.0} events/s (batch 200, publisher confirms, PostgreSQL marking)",
        relay_elapsed.as_secs_f64(),
        events as f64 / relay_elapsed.as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().unwrap().len() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    received.lock().unwrap().clear();

    // 2. Publish → consume latency, one message at a time (publish awaits its confirm).
    let messages = env_usize("BENCH_MESSAGES", 2000);
    let mut sent = HashMap::with_capacity(messages);
    for _ in 0..messages {
        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        sent.insert(envelope.id, Instant::now());
        bus.publish(&envelope).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().unwrap().len() < messages && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = received.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, at)| received.get(id).map(|r| r.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    assert_eq!(latencies.len(), messages, "every message consumed");
    println!(
        "publish -> consume latency over {messages} messages: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );

    sub.shutdown().await;
    bus.close().await;
    db.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .await
        .unwrap();
    // Remove the bench's queues and exchanges.
    let conn = lapin::Connection::connect(
        AMQP_URL,
        lapin::ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio),
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    for q in [
        "prm.bench.sink",
        "prm.bench.sink.dlq",
        "prm.bench.sink.retry",
    ] {
        let _ = ch
            .queue_delete(&format!("{prefix}{q}"), Default::default())
            .await;
    }
    for x in ["prm.events", "prm.events.dlx"] {
        let _ = ch
            .exchange_delete(&format!("{prefix}{x}"), Default::default())
            .await;
    }
}

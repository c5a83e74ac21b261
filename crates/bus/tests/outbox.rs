//! Outbox → relay → RabbitMQ, idempotent consumers, broker outages: against the real
//! PostgreSQL and RabbitMQ (and SQLite + in-process for the embedded mode).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use lapin::types::AMQPValue;
use prm_bus::{
    Delivery, EventBus, HandlerError, Idempotent, InProcessBus, OutboxRelay, RabbitBus,
    RelayConfig, Subscription, TransactionalHandler, handler_fn,
};
use prm_domain::events::{AppointmentCreated, Envelope, EventData, MessageSent};
use prm_store::outbox;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn relay_config() -> RelayConfig {
    RelayConfig {
        batch_size: 50,
        poll_interval: Duration::from_millis(100),
        backoff: prm_bus::Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
    }
}

async fn enqueue_committed(
    db: &sea_orm::DatabaseConnection,
    envelope: &Envelope,
    traceparent: Option<String>,
) {
    let txn = db.begin().await.unwrap();
    outbox::enqueue(&txn, envelope, traceparent).await.unwrap();
    txn.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_lapin_consumer_receives_appointment_created_with_the_exact_contract() {
    let Some(url) = rabbit().await else { return };
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    tokio::time::timeout(WAIT, async {
        let prefix = unique_prefix();
        let bus = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
        let (conn, mut received) =
            outside_consumer(&prefix, "journey.reminders", "appointment.created").await;

        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned();
        // The producer's transaction: the change it announces would be written here too.
        let txn = pg.db.begin().await.unwrap();
        outbox::enqueue(&txn, &envelope, Some(traceparent.clone()))
            .await
            .unwrap();
        txn.commit().await.unwrap();
        assert_eq!(outbox::unpublished_count(&pg.db).await.unwrap(), 1);

        let relay = OutboxRelay::new(pg.db.clone(), Arc::new(bus.clone()), relay_config());
        assert_eq!(relay.relay_once().await.unwrap(), 1);
        assert_eq!(outbox::unpublished_count(&pg.db).await.unwrap(), 0);

        let delivery = received.recv().await.expect("delivery");
        let p = &delivery.properties;
        assert_eq!(
            p.message_id().as_ref().map(|s| s.to_string()),
            Some(envelope.id.to_string())
        );
        assert_eq!(
            p.kind().as_ref().map(|s| s.to_string()).as_deref(),
            Some("APPOINTMENT_CREATED")
        );
        assert_eq!(
            p.content_type().as_ref().map(|s| s.to_string()).as_deref(),
            Some("application/json")
        );
        assert_eq!(*p.delivery_mode(), Some(2), "persistent");
        assert_eq!(delivery.routing_key.as_str(), "appointment.created");
        assert_eq!(delivery.exchange.as_str(), format!("{prefix}prm.events"));
        let headers = p.headers().clone().unwrap();
        match headers.inner().get("traceparent") {
            Some(AMQPValue::LongString(s)) => {
                assert_eq!(String::from_utf8_lossy(s.as_bytes()), traceparent)
            }
            other => panic!("traceparent header missing: {other:?}"),
        }
        let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
        let keys: HashSet<_> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            HashSet::from(["id", "type", "occurred_at", "source", "data"])
        );
        assert_eq!(body["type"], "APPOINTMENT_CREATED");
        assert_eq!(body["source"], "appointments");
        assert_eq!(
            body["data"]["start"], "2026-11-23T10:30:00-05:00",
            "start keeps the location's offset"
        );
        assert_eq!(body["data"]["patient"]["phone"], "+573001234567");
        assert!(
            chrono::DateTime::parse_from_rfc3339(body["occurred_at"].as_str().unwrap()).is_ok()
        );
        assert_eq!(serde_json::from_value::<Envelope>(body).unwrap(), envelope);

        let _ = conn.close(200, "bye").await;
        bus.close().await;
        delete_topology(&prefix, &["journey.reminders"]).await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_event_behind() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let txn = pg.db.begin().await.unwrap();
    outbox::enqueue(
        &txn,
        &Envelope::new("appointments", AppointmentCreated::example()),
        None,
    )
    .await
    .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(outbox::unpublished_count(&pg.db).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_relay_at_a_time_owns_the_postgres_outbox() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    for _ in 0..3 {
        enqueue_committed(
            &pg.db,
            &Envelope::new("conversations", MessageSent::example()),
            None,
        )
        .await;
    }
    let other = pg.other_connection().await;
    let a = pg.db.begin().await.unwrap();
    let claimed = outbox::claim_batch(&a, 10)
        .await
        .unwrap()
        .expect("first relay gets the outbox");
    assert_eq!(claimed.len(), 3);
    assert!(
        claimed.windows(2).all(|w| w[0].seq < w[1].seq),
        "in seq order"
    );
    let b = other.begin().await.unwrap();
    assert!(
        outbox::claim_batch(&b, 10).await.unwrap().is_none(),
        "second relay must wait"
    );
    b.rollback().await.unwrap();
    a.rollback().await.unwrap();
    let b = other.begin().await.unwrap();
    assert_eq!(
        outbox::claim_batch(&b, 10)
            .await
            .unwrap()
            .expect("free again")
            .len(),
        3
    );
    b.rollback().await.unwrap();
}

/// Embedded mode: SQLite outbox, in-process bus; events arrive in commit order.
#[tokio::test]
async fn sqlite_outbox_relays_in_commit_order_through_the_in_process_bus() {
    let sqlite = TestDb::sqlite().await;
    // One handler at a time, so the delivery order is the publish order.
    let bus = Arc::new(InProcessBus::new(prm_bus::BusConfig {
        prefetch: 1,
        ..test_config("")
    }));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let sub = bus
        .subscribe(Subscription::new(
            "prm.test.order",
            ["#"],
            handler_fn(move |d: Delivery| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push(d.envelope.id);
                    Ok(())
                }
            }),
        ))
        .await
        .unwrap();
    let config = RelayConfig {
        batch_size: 7,
        ..relay_config()
    };
    let relay = OutboxRelay::new(sqlite.db.clone(), bus.clone(), config);
    let wake = relay.notifier();
    let handle = relay.spawn();
    let mut ids = Vec::new();
    for _ in 0..25 {
        let e = Envelope::new("conversations", MessageSent::example());
        ids.push(e.id);
        enqueue_committed(&sqlite.db, &e, None).await;
        wake.notify();
    }
    eventually(WAIT, "25 events", || async {
        seen.lock().unwrap().len() >= 25
    })
    .await;
    assert_eq!(
        *seen.lock().unwrap(),
        ids,
        "published in seq (commit) order"
    );
    assert_eq!(outbox::unpublished_count(&sqlite.db).await.unwrap(), 0);
    handle.shutdown().await;
    sub.shutdown().await;
}

/// Counts appointments "booked" by a handler in the same transaction as the record.
struct Bookkeeper {
    fail_first: Mutex<u32>,
}

#[async_trait::async_trait]
impl TransactionalHandler for Bookkeeper {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        txn.execute(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO effects (event_id) VALUES ($1)",
            [delivery.envelope.id.to_string().into()],
        ))
        .await?;
        let mut fail = self.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err(HandlerError::transient("simulated failure after writing"));
        }
        Ok(())
    }
}

async fn effects(db: &sea_orm::DatabaseConnection) -> HashMap<String, i64> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_id, COUNT(*) AS n FROM effects GROUP BY event_id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "event_id").unwrap(),
                r.try_get::<i64>("", "n").unwrap(),
            )
        })
        .collect()
}

async fn redelivered_events_are_processed_once(
    db: TestDb,
    bus: Arc<dyn EventBus>,
    cleanup: impl AsyncFnOnce(),
) {
    db.db
        .execute_unprepared("CREATE TABLE effects (event_id TEXT NOT NULL)")
        .await
        .unwrap();
    let consumer = "prm.test.idempotent";
    let handler = Idempotent::new(
        db.db.clone(),
        Bookkeeper {
            fail_first: Mutex::new(1),
        },
    );
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();
    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    // The same event three times (a relay retry, a redelivery after a lost ack…).
    for _ in 0..3 {
        bus.publish(&envelope).await.unwrap();
    }
    let other = Envelope::new("appointments", AppointmentCreated::example());
    bus.publish(&other).await.unwrap();
    eventually(WAIT, "both events processed", || async {
        outbox::is_processed(&db.db, consumer, envelope.id)
            .await
            .unwrap()
            && outbox::is_processed(&db.db, consumer, other.id)
                .await
                .unwrap()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let effects = effects(&db.db).await;
    assert_eq!(
        effects.get(&envelope.id.to_string()),
        Some(&1),
        "the failed attempt rolled back; duplicates skipped"
    );
    assert_eq!(effects.get(&other.id.to_string()), Some(&1));
    assert_eq!(effects.len(), 2);
    sub.shutdown().await;
    cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_events_are_processed_once_on_postgres_and_rabbitmq() {
    let Some(url) = rabbit().await else { return };
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let prefix = unique_prefix();
    let bus = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
    let b = bus.clone();
    tokio::time::timeout(
        WAIT,
        redelivered_events_are_processed_once(pg, Arc::new(bus), async move || {
            b.close().await;
            delete_topology(&prefix, &["prm.test.idempotent"]).await;
        }),
    )
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn redelivered_events_are_processed_once_on_sqlite_in_process() {
    let bus = Arc::new(InProcessBus::new(test_config("")));
    tokio::time::timeout(
        WAIT,
        redelivered_events_are_processed_once(TestDb::sqlite().await, bus, async || {}),
    )
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_isolate_tests_sharing_one_broker() {
    let Some(url) = rabbit().await else { return };
    tokio::time::timeout(WAIT, async {
        let (pa, pb) = (unique_prefix(), unique_prefix());
        let a = RabbitBus::connect(url, test_config(&pa)).await.unwrap();
        let b = RabbitBus::connect(url, test_config(&pb)).await.unwrap();
        let consumer = "prm.test.isolated";
        let seen_a = Arc::new(Mutex::new(Vec::new()));
        let seen_b = Arc::new(Mutex::new(Vec::new()));
        let mut subs = Vec::new();
        for (bus, seen) in [(&a, &seen_a), (&b, &seen_b)] {
            let s = seen.clone();
            let handler = handler_fn(move |d: Delivery| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push(d.envelope.id);
                    Ok(())
                }
            });
            subs.push(
                bus.subscribe(Subscription::new(consumer, ["#"], handler))
                    .await
                    .unwrap(),
            );
        }
        let only_a = Envelope::new("appointments", AppointmentCreated::example());
        a.publish(&only_a).await.unwrap();
        eventually(WAIT, "a's event", || async {
            !seen_a.lock().unwrap().is_empty()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(*seen_a.lock().unwrap(), vec![only_a.id]);
        assert!(
            seen_b.lock().unwrap().is_empty(),
            "another prefix never sees it"
        );
        for s in subs {
            s.shutdown().await;
        }
        a.close().await;
        b.close().await;
        delete_topology(&pa, &[consumer]).await;
        delete_topology(&pb, &[consumer]).await;
    })
    .await
    .expect("test timed out");
}

/// A real outage between the services and RabbitMQ: every connection is cut while 100
/// events are committed to the outbox. When the network is back, producer and consumer
/// reconnect by themselves and all 100 arrive; duplicates, if any, carry the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_the_broker_is_unreachable() {
    let Some(_) = rabbit().await else { return };
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(90), async {
        let proxy = Proxy::start("127.0.0.1:5672").await;
        let prefix = unique_prefix();
        let bus = RabbitBus::connect(&proxy.url(), test_config(&prefix))
            .await
            .unwrap();
        // Outside consumer straight to the broker (not through the proxy).
        let (conn, mut outside) = outside_consumer(&prefix, "journey.outage", "message.sent").await;
        // Our own consumer through the proxy: it has to reconnect too.
        let ours = Arc::new(Mutex::new(Vec::new()));
        let o = ours.clone();
        let sub = bus
            .subscribe(Subscription::new(
                "prm.test.outage",
                ["message.sent"],
                handler_fn(move |d: Delivery| {
                    let o = o.clone();
                    async move {
                        o.lock().unwrap().push(d.envelope.id);
                        Ok(())
                    }
                }),
            ))
            .await
            .unwrap();
        let relay = OutboxRelay::new(pg.db.clone(), Arc::new(bus.clone()), relay_config()).spawn();

        proxy.cut();
        eventually(
            Duration::from_secs(10),
            "the bus to notice the outage",
            || async { !bus.is_connected() },
        )
        .await;
        let mut ids = HashSet::new();
        for _ in 0..100 {
            let e = Envelope::new("conversations", MessageSent::example());
            ids.insert(e.id);
            enqueue_committed(&pg.db, &e, None).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            outbox::unpublished_count(&pg.db).await.unwrap(),
            100,
            "nothing can be published during the outage"
        );
        assert!(
            bus.publish(&Envelope::new("x", MessageSent::example()))
                .await
                .is_err(),
            "publish fails fast while disconnected"
        );

        proxy.restore();
        let mut received: Vec<Uuid> = Vec::new();
        while !ids.iter().all(|id| received.contains(id)) {
            let d = tokio::time::timeout(Duration::from_secs(30), outside.recv())
                .await
                .expect("events after recovery")
                .unwrap();
            received.push(
                Uuid::parse_str(d.properties.message_id().as_ref().unwrap().as_str()).unwrap(),
            );
        }
        let unique: HashSet<_> = received.iter().copied().collect();
        assert_eq!(unique, ids, "all 100 arrived, nothing else");
        eprintln!(
            "outage: {} deliveries for {} events ({} duplicates)",
            received.len(),
            ids.len(),
            received.len() - ids.len()
        );
        eventually(WAIT, "our consumer to catch up", || async {
            let ours: HashSet<Uuid> = ours.lock().unwrap().iter().copied().collect();
            ids.is_subset(&ours)
        })
        .await;
        // Deliveries can overtake the relay's commit that marks its batch published.
        eventually(WAIT, "the relay to mark every row published", || async {
            outbox::unpublished_count(&pg.db).await.unwrap() == 0
        })
        .await;

        relay.shutdown().await;
        sub.shutdown().await;
        let _ = conn.close(200, "bye").await;
        bus.close().await;
        delete_topology(&prefix, &["journey.outage", "prm.test.outage"]).await;
    })
    .await
    .expect("test timed out");
}

//! Outbox → relay → RabbitMQ, idempotent consumers, broker outages: against the real
//! PostgreSQL and RabbitMQ (and SQLite + in-process for the embedded mode). Each service
//! has its own outbox; these tests mostly use the appointments one.
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
    BusError, Delivery, EventBus, EventHandler, HandlerError, Idempotent, InProcessBus,
    OutboxRelay, OutgoingMessage, RabbitBus, RelayConfig, Subscription, TransactionalHandler,
    handler_fn,
};
use prm_domain::events::{AppointmentCreated, Envelope, EventData, MessageReceived, MessageSent};
use prm_store::outbox::{Outbox, ProcessedEvents, RelayLease};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait,
};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);
const OUTBOX: Outbox = Outbox::APPOINTMENTS;
const PROCESSED: ProcessedEvents = ProcessedEvents::APPOINTMENTS;

fn relay_config() -> RelayConfig {
    RelayConfig {
        batch_size: 50,
        poll_interval: Duration::from_millis(100),
        backoff: prm_bus::Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
        ..RelayConfig::default()
    }
}

async fn enqueue_committed(
    db: &DatabaseConnection,
    outbox: Outbox,
    envelope: &Envelope,
    traceparent: Option<String>,
) {
    let txn = db.begin().await.unwrap();
    outbox.enqueue(&txn, envelope, traceparent).await.unwrap();
    txn.commit().await.unwrap();
}

/// A bus that only records what it was asked to publish, slowly enough for two relays
/// to overlap if nothing kept them apart.
#[derive(Default)]
struct RecordingBus {
    published: Mutex<Vec<Uuid>>,
    delay: Duration,
}

#[async_trait::async_trait]
impl EventBus for RecordingBus {
    fn backend(&self) -> &'static str {
        "recording"
    }

    fn is_connected(&self) -> bool {
        true
    }

    async fn publish_message(&self, message: OutgoingMessage) -> Result<(), BusError> {
        tokio::time::sleep(self.delay).await;
        self.published.lock().unwrap().push(message.message_id);
        Ok(())
    }

    async fn subscribe(
        &self,
        _subscription: Subscription,
    ) -> Result<prm_bus::ConsumerHandle, BusError> {
        Err(BusError::Closed)
    }
}

async fn event_ids(db: &DatabaseConnection, outbox: Outbox) -> Vec<String> {
    db.query_all(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT event_id FROM {} ORDER BY seq", outbox.table()),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String>("", "event_id").unwrap())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_lapin_consumer_receives_appointment_created_with_the_exact_contract() {
    let url = rabbit().await;
    let pg = TestDb::postgres().await;
    tokio::time::timeout(WAIT, async {
        let prefix = unique_prefix();
        let bus = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
        let mut received = EventTap::bind(&prefix, "appointment.created").await;

        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned();
        // The producer's transaction: the change it announces would be written here too.
        let txn = pg.db.begin().await.unwrap();
        OUTBOX
            .enqueue(&txn, &envelope, Some(traceparent.clone()))
            .await
            .unwrap();
        txn.commit().await.unwrap();
        assert_eq!(OUTBOX.unpublished_count(&pg.db).await.unwrap(), 1);

        let relay = OutboxRelay::new(pg.db.clone(), Arc::new(bus.clone()), OUTBOX, relay_config());
        assert_eq!(relay.relay_once().await.unwrap(), 1);
        assert_eq!(OUTBOX.unpublished_count(&pg.db).await.unwrap(), 0);

        let delivery = received.next_delivery(WAIT).await.expect("delivery");
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

        drop(received);
        bus.close().await;
        delete_topology::<&str>(&prefix, &[]).await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_event_behind() {
    let pg = TestDb::postgres().await;
    let txn = pg.db.begin().await.unwrap();
    OUTBOX
        .enqueue(
            &txn,
            &Envelope::new("appointments", AppointmentCreated::example()),
            None,
        )
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(OUTBOX.unpublished_count(&pg.db).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_relay_at_a_time_owns_the_postgres_outbox() {
    let pg = TestDb::postgres().await;
    for _ in 0..3 {
        enqueue_committed(
            &pg.db,
            OUTBOX,
            &Envelope::new("conversations", MessageSent::example()),
            None,
        )
        .await;
    }
    let other = pg.other_connection().await;
    let a = pg.db.begin().await.unwrap();
    let lease = RelayLease {
        holder: "test",
        duration: Duration::from_secs(30),
    };
    let claimed = OUTBOX
        .claim_batch(&a, &lease, 10)
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
        OUTBOX.claim_batch(&b, &lease, 10).await.unwrap().is_none(),
        "second relay must wait"
    );
    b.rollback().await.unwrap();
    a.rollback().await.unwrap();
    let b = other.begin().await.unwrap();
    assert_eq!(
        OUTBOX
            .claim_batch(&b, &lease, 10)
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
    let relay = OutboxRelay::new(sqlite.db.clone(), bus.clone(), OUTBOX, config);
    let wake = relay.notifier();
    let handle = relay.spawn();
    let mut ids = Vec::new();
    for _ in 0..25 {
        let e = Envelope::new("conversations", MessageSent::example());
        ids.push(e.id);
        enqueue_committed(&sqlite.db, OUTBOX, &e, None).await;
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
    assert_eq!(OUTBOX.unpublished_count(&sqlite.db).await.unwrap(), 0);
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
        PROCESSED,
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
        PROCESSED
            .contains(&db.db, consumer, envelope.id)
            .await
            .unwrap()
            && PROCESSED
                .contains(&db.db, consumer, other.id)
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
    let url = rabbit().await;
    let pg = TestDb::postgres().await;
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
    let url = rabbit().await;
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
    rabbit().await;
    let pg = TestDb::postgres().await;
    tokio::time::timeout(Duration::from_secs(90), async {
        let proxy = FaultProxy::start("127.0.0.1:5672").await;
        let prefix = unique_prefix();
        let bus = RabbitBus::connect(&proxy.amqp_url(), test_config(&prefix))
            .await
            .unwrap();
        // Outside consumer straight to the broker (not through the proxy).
        let mut outside = EventTap::bind(&prefix, "message.sent").await;
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
        let relay =
            OutboxRelay::new(pg.db.clone(), Arc::new(bus.clone()), OUTBOX, relay_config()).spawn();

        proxy.cut().await;
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
            enqueue_committed(&pg.db, OUTBOX, &e, None).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            OUTBOX.unpublished_count(&pg.db).await.unwrap(),
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
            let d = outside
                .next_delivery(Duration::from_secs(30))
                .await
                .expect("events after recovery");
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
            OUTBOX.unpublished_count(&pg.db).await.unwrap() == 0
        })
        .await;

        relay.shutdown().await;
        sub.shutdown().await;
        drop(outside);
        bus.close().await;
        delete_topology(&prefix, &["prm.test.outage"]).await;
    })
    .await
    .expect("test timed out");
}

/// ARCHITECTURE §4: the outbox is per owner. Each service's relay publishes its own
/// table only, and relays of different tables do not wait for each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_relay_publishes_only_its_own_services_outbox() {
    let pg = TestDb::postgres().await;
    let booked = Envelope::new("appointments", AppointmentCreated::example());
    let received = Envelope::new("webhooks", MessageReceived::example());
    enqueue_committed(&pg.db, Outbox::APPOINTMENTS, &booked, None).await;
    enqueue_committed(&pg.db, Outbox::WEBHOOKS, &received, None).await;
    assert_eq!(
        event_ids(&pg.db, Outbox::APPOINTMENTS).await,
        [booked.id.to_string()]
    );
    assert_eq!(
        event_ids(&pg.db, Outbox::WEBHOOKS).await,
        [received.id.to_string()]
    );

    // One relay lock per table: holding the appointments one leaves webhooks free.
    let lease = RelayLease {
        holder: "test",
        duration: Duration::from_secs(30),
    };
    let other = pg.other_connection().await;
    let a = pg.db.begin().await.unwrap();
    let mine = Outbox::APPOINTMENTS
        .claim_batch(&a, &lease, 10)
        .await
        .unwrap()
        .expect("appointments outbox claimed");
    assert_eq!(
        mine.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [booked.id]
    );
    let b = other.begin().await.unwrap();
    let theirs = Outbox::WEBHOOKS
        .claim_batch(&b, &lease, 10)
        .await
        .unwrap()
        .expect("the webhooks relay is not blocked by the appointments one");
    assert_eq!(
        theirs.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [received.id]
    );
    b.rollback().await.unwrap();
    let c = other.begin().await.unwrap();
    assert!(
        Outbox::APPOINTMENTS
            .claim_batch(&c, &lease, 10)
            .await
            .unwrap()
            .is_none(),
        "a second appointments relay waits"
    );
    c.rollback().await.unwrap();
    a.rollback().await.unwrap();

    let bus = Arc::new(RecordingBus::default());
    let relay = OutboxRelay::new(
        pg.db.clone(),
        bus.clone(),
        Outbox::APPOINTMENTS,
        relay_config(),
    );
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(*bus.published.lock().unwrap(), [booked.id]);
    assert_eq!(
        Outbox::APPOINTMENTS
            .unpublished_count(&pg.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        Outbox::WEBHOOKS.unpublished_count(&pg.db).await.unwrap(),
        1,
        "the appointments relay never publishes the webhooks service's events"
    );
    let relay = OutboxRelay::new(pg.db.clone(), bus.clone(), Outbox::WEBHOOKS, relay_config());
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(*bus.published.lock().unwrap(), [booked.id, received.id]);
}

/// SQLite has no advisory locks: two relays (processes) on one file are kept apart by
/// the claim's write to the relay-lock row and its lease. Without it both read the same
/// unpublished rows and publish them twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_on_one_sqlite_file_never_publish_a_row_twice() {
    let sqlite = TestDb::sqlite().await;
    let second_process = sqlite.other_connection().await;
    let bus = Arc::new(RecordingBus {
        delay: Duration::from_millis(2),
        ..RecordingBus::default()
    });
    let config = RelayConfig {
        batch_size: 10,
        poll_interval: Duration::from_millis(5),
        ..relay_config()
    };
    let relays = [
        OutboxRelay::new(sqlite.db.clone(), bus.clone(), OUTBOX, config.clone()),
        OutboxRelay::new(second_process.clone(), bus.clone(), OUTBOX, config),
    ];
    let wakes: Vec<_> = relays.iter().map(OutboxRelay::notifier).collect();
    let handles: Vec<_> = relays.into_iter().map(OutboxRelay::spawn).collect();
    let mut ids = HashSet::new();
    for i in 0..200 {
        let e = Envelope::new("conversations", MessageSent::example());
        ids.insert(e.id);
        let writer = if i % 2 == 0 {
            &sqlite.db
        } else {
            &second_process
        };
        enqueue_committed(writer, OUTBOX, &e, None).await;
        wakes.iter().for_each(|w| w.notify());
    }
    eventually(WAIT, "every row published", || async {
        OUTBOX.unpublished_count(&sqlite.db).await.unwrap() == 0
    })
    .await;
    for handle in handles {
        handle.shutdown().await;
    }
    let published = bus.published.lock().unwrap().clone();
    let unique: HashSet<Uuid> = published.iter().copied().collect();
    assert_eq!(unique, ids, "every event published");
    assert_eq!(
        published.len(),
        ids.len(),
        "no event published twice by the two relays"
    );
}

/// A relay that died mid-batch keeps others out only until its lease runs out.
#[tokio::test]
async fn a_crashed_sqlite_relays_lease_runs_out() {
    let sqlite = TestDb::sqlite().await;
    enqueue_committed(
        &sqlite.db,
        OUTBOX,
        &Envelope::new("conversations", MessageSent::example()),
        None,
    )
    .await;
    let crashed = RelayLease {
        holder: "crashed",
        duration: Duration::from_millis(300),
    };
    let txn = sqlite.db.begin().await.unwrap();
    assert_eq!(
        OUTBOX
            .claim_batch(&txn, &crashed, 10)
            .await
            .unwrap()
            .map(|b| b.len()),
        Some(1)
    );
    txn.commit().await.unwrap(); // …and never released

    let next = RelayLease {
        holder: "next",
        duration: Duration::from_secs(30),
    };
    let txn = sqlite.db.begin().await.unwrap();
    assert!(OUTBOX.claim_batch(&txn, &next, 10).await.unwrap().is_none());
    txn.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let txn = sqlite.db.begin().await.unwrap();
    assert_eq!(
        OUTBOX
            .claim_batch(&txn, &next, 10)
            .await
            .unwrap()
            .map(|b| b.len()),
        Some(1),
        "taken over after the lease ran out"
    );
    OUTBOX.release_relay(&txn, "next").await.unwrap();
    txn.commit().await.unwrap();
}

/// Waits at a gate before doing its (idempotent) work, outside any transaction.
struct Gated<H> {
    gate: Arc<tokio::sync::Semaphore>,
    entered: Arc<std::sync::atomic::AtomicU32>,
    inner: H,
}

#[async_trait::async_trait]
impl<H: EventHandler> EventHandler for Gated<H> {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        self.entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _permit = self.gate.acquire().await.unwrap();
        self.inner.handle(delivery).await
    }
}

/// Embedded mode: the in-process bus confirms a publish only once the consumer finished,
/// so the relay keeps the row until the handler's work committed. (Before, the row was
/// marked published as soon as the message sat in memory: a crash lost the event.) The
/// handler writes to the same single-writer SQLite file the relay claims from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_relay_keeps_the_row_until_the_handler_committed() {
    let sqlite = TestDb::sqlite().await;
    sqlite
        .db
        .execute_unprepared("CREATE TABLE effects (event_id TEXT NOT NULL)")
        .await
        .unwrap();
    let bus = Arc::new(InProcessBus::new(test_config("")));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let consumer = "prm.appointments.reminders";
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            Gated {
                gate: gate.clone(),
                entered: entered.clone(),
                inner: Idempotent::new(
                    sqlite.db.clone(),
                    PROCESSED,
                    Bookkeeper {
                        fail_first: Mutex::new(0),
                    },
                ),
            },
        ))
        .await
        .unwrap();
    let relay = OutboxRelay::new(sqlite.db.clone(), bus.clone(), OUTBOX, relay_config());
    let wake = relay.notifier();
    let handle = relay.spawn();
    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    enqueue_committed(&sqlite.db, OUTBOX, &envelope, None).await;
    wake.notify();

    eventually(WAIT, "the handler to start", || async {
        entered.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        OUTBOX.unpublished_count(&sqlite.db).await.unwrap(),
        1,
        "not confirmed while the handler has not finished"
    );
    assert!(effects(&sqlite.db).await.is_empty());

    gate.add_permits(1);
    eventually(WAIT, "the row to be marked published", || async {
        OUTBOX.unpublished_count(&sqlite.db).await.unwrap() == 0
    })
    .await;
    assert_eq!(
        effects(&sqlite.db).await.get(&envelope.id.to_string()),
        Some(&1),
        "the work committed before the row was marked"
    );
    assert!(
        PROCESSED
            .contains(&sqlite.db, consumer, envelope.id)
            .await
            .unwrap()
    );
    handle.shutdown().await;
    sub.shutdown().await;
}

/// Published rows are deleted by the running relay once older than the retention;
/// unpublished ones never are.
async fn the_relay_purges_published_rows_past_the_retention(db: TestDb) {
    let old = Envelope::new("appointments", AppointmentCreated::example());
    let recent = Envelope::new("appointments", AppointmentCreated::example());
    let waiting = Envelope::new("appointments", AppointmentCreated::example());
    for e in [&old, &recent, &waiting] {
        enqueue_committed(&db.db, OUTBOX, e, None).await;
    }
    let pending = OUTBOX.unpublished(&db.db, 10).await.unwrap();
    let seq = |id: Uuid| pending.iter().find(|e| e.event_id == id).unwrap().seq;
    let now = chrono::Utc::now();
    OUTBOX
        .mark_published(&db.db, &[seq(old.id)], now - chrono::Duration::hours(30))
        .await
        .unwrap();
    OUTBOX
        .mark_published(&db.db, &[seq(recent.id)], now - chrono::Duration::hours(1))
        .await
        .unwrap();
    // The purge itself never touches unpublished rows, however old the cut-off.
    let other_outbox = Outbox::WEBHOOKS;
    enqueue_committed(
        &db.db,
        other_outbox,
        &Envelope::new("webhooks", MessageReceived::example()),
        None,
    )
    .await;
    assert_eq!(
        other_outbox
            .purge_published(&db.db, now + chrono::Duration::days(365))
            .await
            .unwrap(),
        0
    );
    assert_eq!(other_outbox.row_count(&db.db).await.unwrap(), 1);

    // The relay has nowhere to publish: `waiting` stays unpublished throughout.
    struct Refusing;
    #[async_trait::async_trait]
    impl EventBus for Refusing {
        fn backend(&self) -> &'static str {
            "refusing"
        }
        fn is_connected(&self) -> bool {
            true
        }
        async fn publish_message(&self, _: OutgoingMessage) -> Result<(), BusError> {
            Err(BusError::Nacked)
        }
        async fn subscribe(&self, _: Subscription) -> Result<prm_bus::ConsumerHandle, BusError> {
            Err(BusError::Closed)
        }
    }
    let config = RelayConfig {
        retention: Duration::from_secs(24 * 3600),
        purge_interval: Duration::from_millis(100),
        ..relay_config()
    };
    let handle = OutboxRelay::new(db.db.clone(), Arc::new(Refusing), OUTBOX, config).spawn();
    eventually(WAIT, "the old published row to be purged", || async {
        OUTBOX.row_count(&db.db).await.unwrap() == 2
    })
    .await;
    handle.shutdown().await;
    assert_eq!(
        event_ids(&db.db, OUTBOX).await,
        [recent.id.to_string(), waiting.id.to_string()],
        "the recent published row and the unpublished one are kept"
    );
    assert_eq!(OUTBOX.unpublished_count(&db.db).await.unwrap(), 1);
}

#[tokio::test]
async fn the_relay_purges_published_rows_past_the_retention_on_sqlite() {
    the_relay_purges_published_rows_past_the_retention(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn the_relay_purges_published_rows_past_the_retention_on_postgres() {
    the_relay_purges_published_rows_past_the_retention(TestDb::postgres().await).await;
}

/// After an outage longer than its backoff, the relay resumes when the bus reconnects,
/// not when its (here 20 s) backoff is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_resumes_as_soon_as_the_broker_is_back() {
    rabbit().await;
    let pg = TestDb::postgres().await;
    tokio::time::timeout(Duration::from_secs(60), async {
        let proxy = FaultProxy::start("127.0.0.1:5672").await;
        let prefix = unique_prefix();
        let bus = RabbitBus::connect(&proxy.amqp_url(), test_config(&prefix))
            .await
            .unwrap();
        let mut outside = EventTap::bind(&prefix, "appointment.created").await;
        proxy.cut().await;
        eventually(Duration::from_secs(10), "the bus to notice", || async {
            !bus.is_connected()
        })
        .await;
        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        enqueue_committed(&pg.db, OUTBOX, &envelope, None).await;
        let config = RelayConfig {
            backoff: prm_bus::Backoff {
                initial: Duration::from_secs(20),
                max: Duration::from_secs(20),
            },
            ..relay_config()
        };
        let relay = OutboxRelay::new(pg.db.clone(), Arc::new(bus.clone()), OUTBOX, config).spawn();
        eventually(
            WAIT,
            "a failed attempt (the relay is now backing off)",
            || async {
                OUTBOX
                    .unpublished(&pg.db, 1)
                    .await
                    .unwrap()
                    .first()
                    .is_some_and(|e| e.attempts >= 1)
            },
        )
        .await;

        proxy.restore();
        let back = tokio::time::Instant::now();
        let delivery = outside
            .next_delivery(Duration::from_secs(8))
            .await
            .expect("published within seconds of the broker's return, not after the backoff");
        assert_eq!(
            delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string()),
            Some(envelope.id.to_string())
        );
        eprintln!(
            "relay resumed {:?} after the broker was back",
            back.elapsed()
        );
        relay.shutdown().await;
        drop(outside);
        bus.close().await;
        delete_topology::<&str>(&prefix, &[]).await;
    })
    .await
    .expect("test timed out");
}

/// Records the size of every batch the relay publishes.
#[derive(Default)]
struct BatchRecordingBus {
    batches: Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl EventBus for BatchRecordingBus {
    fn backend(&self) -> &'static str {
        "recording"
    }

    fn is_connected(&self) -> bool {
        true
    }

    async fn publish_message(&self, _message: OutgoingMessage) -> Result<(), BusError> {
        self.batches.lock().unwrap().push(1);
        Ok(())
    }

    async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        self.batches.lock().unwrap().push(messages.len());
        Ok(messages.len())
    }

    async fn subscribe(
        &self,
        _subscription: Subscription,
    ) -> Result<prm_bus::ConsumerHandle, BusError> {
        Err(BusError::Closed)
    }
}

#[tokio::test]
async fn commits_notified_together_are_relayed_in_one_batch() {
    let sqlite = TestDb::sqlite().await;
    let bus = Arc::new(BatchRecordingBus::default());
    // Only notifications drive the relay here; the linger is long enough that ten
    // commits land inside it on any machine.
    let config = RelayConfig {
        poll_interval: Duration::from_secs(60),
        linger: Duration::from_millis(300),
        ..relay_config()
    };
    let relay = OutboxRelay::new(sqlite.db.clone(), bus.clone(), OUTBOX, config);
    let wake = relay.notifier();
    let handle = relay.spawn();
    // The relay's first look at start finds nothing.
    eventually(WAIT, "the first empty pass", || async {
        OUTBOX.unpublished_count(&sqlite.db).await.unwrap() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..10 {
        let e = Envelope::new("appointments", AppointmentCreated::example());
        enqueue_committed(&sqlite.db, OUTBOX, &e, None).await;
        wake.notify();
    }
    eventually(WAIT, "10 events relayed", || async {
        OUTBOX.unpublished_count(&sqlite.db).await.unwrap() == 0
    })
    .await;
    let batches = bus.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 10, "{batches:?}");
    assert_eq!(
        batches,
        vec![10],
        "one relay pass for commits notified together"
    );
    handle.shutdown().await;
}

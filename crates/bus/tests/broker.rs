//! What only the real RabbitMQ can show: the topology it holds (checked with AMQP alone,
//! no management plugin) and a real redelivery after a lost acknowledgement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use common::*;
use lapin::{
    Connection, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueDeclareOptions},
    protocol::{AMQPErrorKind, AMQPSoftError},
    types::{AMQPValue, FieldTable, LongString},
};
use prm_bus::{
    Delivery, EventBus, EventHandler, HandlerError, Idempotent, RabbitBus, Subscription,
    TransactionalHandler, handler_fn,
};
use prm_domain::events::{AppointmentCreated, Envelope, EventData};
use prm_store::outbox::ProcessedEvents;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn is_precondition_failed(error: &lapin::Error) -> bool {
    matches!(error, lapin::Error::ProtocolError(e)
        if matches!(e.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)))
}

/// Declares (not passively) an exchange on a channel of its own: a declaration that does
/// not match the existing exchange closes the channel with 406 PRECONDITION_FAILED.
async fn declare_exchange(
    conn: &Connection,
    name: &str,
    kind: ExchangeKind,
    durable: bool,
) -> Result<(), lapin::Error> {
    let ch = conn.create_channel().await.expect("channel");
    let result = ch
        .exchange_declare(
            name,
            kind,
            ExchangeDeclareOptions {
                durable,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    let _ = ch.close(200, "done").await;
    result
}

async fn declare_queue(
    conn: &Connection,
    name: &str,
    durable: bool,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    let ch = conn.create_channel().await.expect("channel");
    let result = ch
        .queue_declare(
            name,
            QueueDeclareOptions {
                durable,
                ..Default::default()
            },
            args,
        )
        .await
        .map(|_| ());
    let _ = ch.close(200, "done").await;
    result
}

#[track_caller]
fn refused(result: Result<(), lapin::Error>, what: &str) {
    match result {
        Err(e) if is_precondition_failed(&e) => {}
        other => panic!("{what}: expected PRECONDITION_FAILED, got {other:?}"),
    }
}

/// ARCHITECTURE §5: exchange `prm.events` topic and durable; a durable quorum queue per
/// consumer dead-lettering to `prm.events.dlx` (direct, durable) into `<consumer>.dlq`;
/// plus the retry queue that dead-letters back. The broker accepts a re-declaration only
/// if it is equivalent to what exists, so an identical one succeeding and one changed
/// argument failing with 406 proves each property.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_holds_the_declared_topology() {
    let url = rabbit().await;
    let prefix = unique_prefix();
    let consumer = "prm.test.topology";
    let bus = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
    let sub = bus
        .subscribe(Subscription::new(
            consumer,
            ["appointment.created"],
            handler_fn(|_d: Delivery| async { Ok(()) }),
        ))
        .await
        .unwrap();
    let conn = amqp_connection(AMQP_URL).await;

    let events = format!("{prefix}prm.events");
    declare_exchange(&conn, &events, ExchangeKind::Topic, true)
        .await
        .expect("prm.events is a durable topic exchange");
    refused(
        declare_exchange(&conn, &events, ExchangeKind::Direct, true).await,
        "prm.events as direct",
    );
    refused(
        declare_exchange(&conn, &events, ExchangeKind::Topic, false).await,
        "prm.events as transient",
    );
    let dlx = format!("{prefix}prm.events.dlx");
    declare_exchange(&conn, &dlx, ExchangeKind::Direct, true)
        .await
        .expect("prm.events.dlx is a durable direct exchange");
    refused(
        declare_exchange(&conn, &dlx, ExchangeKind::Topic, true).await,
        "prm.events.dlx as topic",
    );
    refused(
        declare_exchange(&conn, &dlx, ExchangeKind::Direct, false).await,
        "prm.events.dlx as transient",
    );

    let queue = format!("{prefix}{consumer}");
    let queue_args = |overrides: &[(&str, AMQPValue)]| {
        let mut args = vec![
            ("x-queue-type", text("quorum")),
            ("x-dead-letter-exchange", text(&dlx)),
            ("x-dead-letter-routing-key", text(&queue)),
            ("x-delivery-limit", AMQPValue::LongInt(20)),
        ];
        for (k, v) in overrides {
            match args.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v.clone(),
                None => args.push((k, v.clone())),
            }
        }
        table(&args)
    };
    declare_queue(&conn, &queue, true, queue_args(&[]))
        .await
        .expect("the consumer queue is a durable quorum queue dead-lettering to prm.events.dlx");
    refused(
        declare_queue(&conn, &queue, false, queue_args(&[])).await,
        "consumer queue as transient",
    );
    refused(
        declare_queue(
            &conn,
            &queue,
            true,
            queue_args(&[("x-queue-type", text("classic"))]),
        )
        .await,
        "consumer queue as classic",
    );
    refused(
        declare_queue(
            &conn,
            &queue,
            true,
            queue_args(&[("x-dead-letter-exchange", text("elsewhere"))]),
        )
        .await,
        "consumer queue dead-lettering elsewhere",
    );
    refused(
        declare_queue(
            &conn,
            &queue,
            true,
            queue_args(&[("x-dead-letter-routing-key", text("other"))]),
        )
        .await,
        "consumer queue dead-lettering with another routing key",
    );

    let dlq = format!("{queue}.dlq");
    declare_queue(
        &conn,
        &dlq,
        true,
        table(&[("x-queue-type", text("quorum"))]),
    )
    .await
    .expect("the dead-letter queue is a durable quorum queue");
    refused(
        declare_queue(
            &conn,
            &dlq,
            true,
            table(&[("x-queue-type", text("classic"))]),
        )
        .await,
        "dead-letter queue as classic",
    );

    let retry = format!("{queue}.retry");
    let retry_args = |strategy: &str, target: &str| {
        table(&[
            ("x-queue-type", text("quorum")),
            ("x-dead-letter-exchange", text("")),
            ("x-dead-letter-routing-key", text(target)),
            ("x-dead-letter-strategy", text(strategy)),
            ("x-overflow", text("reject-publish")),
        ])
    };
    declare_queue(&conn, &retry, true, retry_args("at-least-once", &queue))
        .await
        .expect("the retry queue dead-letters back to the consumer queue, at least once");
    refused(
        declare_queue(&conn, &retry, true, retry_args("at-most-once", &queue)).await,
        "retry queue dead-lettering at most once",
    );
    refused(
        declare_queue(&conn, &retry, true, retry_args("at-least-once", &dlq)).await,
        "retry queue dead-lettering elsewhere",
    );

    let _ = conn.close(200, "bye").await;
    sub.shutdown().await;
    bus.close().await;
    delete_topology(&prefix, &[consumer]).await;
}

/// Books in the handler's transaction: one `effects` row per processing.
struct Book;

#[async_trait::async_trait]
impl TransactionalHandler for Book {
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
        Ok(())
    }
}

/// Runs the idempotent handler, then — the first time, once its transaction committed
/// and before the bus can acknowledge — cuts the consumer's connection to the broker.
struct LoseTheFirstAck<H> {
    inner: H,
    proxy: Arc<FaultProxy>,
    cut: AtomicBool,
    seen: Arc<Mutex<Vec<(Uuid, bool)>>>,
}

#[async_trait::async_trait]
impl<H: EventHandler> EventHandler for LoseTheFirstAck<H> {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        self.seen
            .lock()
            .unwrap()
            .push((delivery.envelope.id, delivery.redelivered));
        let result = self.inner.handle(delivery).await;
        if result.is_ok() && !self.cut.swap(true, Ordering::SeqCst) {
            self.proxy.cut().await;
        }
        result
    }
}

/// A real redelivery: the work commits, the ack never reaches the broker (the connection
/// is cut in between), the broker redelivers on the next connection, and the processed
/// events table makes the second delivery a no-op that is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ack_is_redelivered_by_the_broker_and_processed_once() {
    let url = rabbit().await;
    let pg = TestDb::postgres().await;
    pg.db
        .execute_unprepared("CREATE TABLE effects (event_id TEXT NOT NULL)")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), async {
        let proxy = Arc::new(FaultProxy::start("127.0.0.1:5672").await);
        let prefix = unique_prefix();
        let consumer = "prm.appointments.reminders";
        let processed = ProcessedEvents::APPOINTMENTS;
        let bus = RabbitBus::connect(&proxy.amqp_url(), test_config(&prefix))
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sub = bus
            .subscribe(Subscription::new(
                consumer,
                ["appointment.created"],
                LoseTheFirstAck {
                    inner: Idempotent::new(pg.db.clone(), processed, Book),
                    proxy: proxy.clone(),
                    cut: AtomicBool::new(false),
                    seen: seen.clone(),
                },
            ))
            .await
            .unwrap();
        // The network comes back once the bus has noticed the cut.
        let (b, p) = (bus.clone(), proxy.clone());
        let restorer = tokio::spawn(async move {
            eventually(WAIT, "the cut connection to be noticed", || async {
                !b.is_connected()
            })
            .await;
            p.restore();
        });

        let publisher = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
        let envelope = Envelope::new("appointments", AppointmentCreated::example());
        publisher.publish(&envelope).await.unwrap();

        eventually(WAIT, "the broker to redeliver", || async {
            seen.lock().unwrap().len() >= 2
        })
        .await;
        restorer.await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [(envelope.id, false), (envelope.id, true)],
            "delivered, then redelivered (flagged) after the lost ack, then no more"
        );
        let effects = pg
            .db
            .query_one(Statement::from_sql_and_values(
                pg.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM effects WHERE event_id = $1",
                [envelope.id.to_string().into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(effects, 1, "the work happened exactly once");
        assert!(
            processed
                .contains(&pg.db, consumer, envelope.id)
                .await
                .unwrap()
        );

        // Acknowledged this time: once the consumer is gone nothing returns to the queue.
        sub.shutdown().await;
        bus.close().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ready_messages(&format!("{prefix}{consumer}")).await, 0);
        publisher.close().await;
        delete_topology(&prefix, &[consumer]).await;
    })
    .await
    .expect("test timed out");
}

//! The consumer's span continues the producer's trace (W3C `traceparent`), on both
//! adapters and through the outbox. Own test binary: it installs a global subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use prm_bus::{
    Delivery, EventBus, InProcessBus, OutboxRelay, RabbitBus, RelayConfig, Subscription, handler_fn,
};
use prm_domain::events::{AppointmentCreated, Envelope, EventData};
use prm_store::outbox::Outbox;
use sea_orm::TransactionTrait;
use tokio::sync::{Mutex, OnceCell};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

static EXPORTER: OnceCell<InMemorySpanExporter> = OnceCell::const_new();
/// Tests share the global exporter: one at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn exporter() -> &'static InMemorySpanExporter {
    EXPORTER
        .get_or_init(|| async {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let tracer = provider.tracer("prm-bus-test");
            let subscriber = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(tracer));
            tracing::subscriber::set_global_default(subscriber).expect("global subscriber");
            exporter
        })
        .await
}

/// How the producer hands the event to the bus inside its span.
#[derive(Clone, Copy)]
enum Producer<'a> {
    /// `bus.publish` straight away.
    Direct,
    /// Written to the outbox in the producer's transaction; a relay running outside any
    /// span publishes it later with the stored `traceparent`.
    Outbox(&'a sea_orm::DatabaseConnection),
    /// Announced in a `Store::write`, which takes the trace context itself.
    StoreWrite(&'a prm_store::Store),
}

/// Publishes inside a producer span and checks the consumer span's parentage.
async fn consumer_span_continues_the_producer_trace(bus: Arc<dyn EventBus>, via: Producer<'_>) {
    let exporter = exporter().await;
    exporter.reset();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = handler_fn(move |d: Delivery| {
        let tx = tx.clone();
        async move {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let cx = tracing::Span::current().context();
            let _ = tx.send((d.envelope.id, cx.span().span_context().trace_id()));
            Ok(())
        }
    });
    let sub = bus
        .subscribe(Subscription::new(
            "prm.test.traced",
            ["appointment.created"],
            handler,
        ))
        .await
        .unwrap();

    let envelope = Envelope::new("appointments", AppointmentCreated::example());
    let producer = tracing::info_span!("book appointment");
    let relay = match via {
        Producer::Direct => {
            let bus = bus.clone();
            let envelope = envelope.clone();
            async move { bus.publish(&envelope).await.unwrap() }
                .instrument(producer)
                .await;
            None
        }
        Producer::Outbox(db) => {
            let envelope = envelope.clone();
            async move {
                let txn = db.begin().await.unwrap();
                Outbox::APPOINTMENTS
                    .enqueue(&txn, &envelope, prm_bus::current_traceparent())
                    .await
                    .unwrap();
                txn.commit().await.unwrap();
            }
            .instrument(producer)
            .await;
            let config = RelayConfig {
                poll_interval: Duration::from_millis(50),
                ..RelayConfig::default()
            };
            Some(OutboxRelay::new(db.clone(), bus.clone(), Outbox::APPOINTMENTS, config).spawn())
        }
        Producer::StoreWrite(store) => {
            let config = RelayConfig {
                poll_interval: Duration::from_secs(60),
                ..RelayConfig::default()
            };
            let relay = OutboxRelay::new(
                store.connection().clone(),
                bus.clone(),
                Outbox::APPOINTMENTS,
                config,
            );
            // The write wakes the relay; its poll would come too late for the timeout.
            let producer_outbox =
                prm_store::outbox::Producer::new(Outbox::APPOINTMENTS, Some(relay.notifier()));
            let relay = relay.spawn();
            let envelope = &envelope;
            async move {
                store
                    .write(&producer_outbox, |tx| {
                        Box::pin(async move {
                            tx.announce(envelope.clone());
                            Ok::<_, prm_store::StoreError>(())
                        })
                    })
                    .await
                    .unwrap();
            }
            .instrument(producer)
            .await;
            Some(relay)
        }
    };
    let (id, consumer_trace) = tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, envelope.id);
    if let Some(relay) = relay {
        relay.shutdown().await;
    }
    sub.shutdown().await;

    let spans = exporter.get_finished_spans().unwrap();
    let producer = spans
        .iter()
        .find(|s| s.name == "book appointment")
        .expect("producer span exported");
    let consumer = spans
        .iter()
        .find(|s| s.name == "consume event")
        .expect("consumer span exported");
    assert_ne!(producer.span_context.trace_id(), TraceId::INVALID);
    assert_eq!(
        consumer.span_context.trace_id(),
        producer.span_context.trace_id(),
        "one trace across the bus"
    );
    assert_eq!(
        consumer_trace,
        producer.span_context.trace_id(),
        "the handler runs inside it"
    );
    assert_eq!(
        consumer.parent_span_id,
        producer.span_context.span_id(),
        "consumer is a child of the producer"
    );
    assert_ne!(consumer.parent_span_id, SpanId::INVALID);
    assert_eq!(consumer.span_kind, opentelemetry::trace::SpanKind::Consumer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_consumer_span_continues_the_producer_trace() {
    let _one = SERIAL.lock().await;
    consumer_span_continues_the_producer_trace(
        Arc::new(InProcessBus::new(test_config(""))),
        Producer::Direct,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_sqlite_outbox_and_in_process_bus_the_consumer_continues_the_trace() {
    let _one = SERIAL.lock().await;
    let db = TestDb::sqlite().await;
    tokio::time::timeout(
        Duration::from_secs(30),
        consumer_span_continues_the_producer_trace(
            Arc::new(InProcessBus::new(test_config(""))),
            Producer::Outbox(&db.db),
        ),
    )
    .await
    .expect("test timed out");
}

/// `Store::write` records the producer's trace context with the events it commits,
/// without the service passing it (on the backend of `PRM_TEST_DATABASE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_store_write_and_its_relay_the_consumer_continues_the_trace() {
    let _one = SERIAL.lock().await;
    let store = prm_store::testing::fresh_store().await;
    tokio::time::timeout(
        Duration::from_secs(30),
        consumer_span_continues_the_producer_trace(
            Arc::new(InProcessBus::new(test_config(""))),
            Producer::StoreWrite(&store),
        ),
    )
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_postgres_outbox_and_rabbitmq_the_consumer_continues_the_trace() {
    let _one = SERIAL.lock().await;
    let url = rabbit().await;
    let db = TestDb::postgres().await;
    let prefix = unique_prefix();
    let bus = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        consumer_span_continues_the_producer_trace(Arc::new(bus.clone()), Producer::Outbox(&db.db)),
    )
    .await
    .expect("test timed out");
    bus.close().await;
    delete_topology(&prefix, &["prm.test.traced"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_consumer_span_continues_the_producer_trace() {
    let _one = SERIAL.lock().await;
    let url = rabbit().await;
    let prefix = unique_prefix();
    let bus = RabbitBus::connect(url, test_config(&prefix)).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        consumer_span_continues_the_producer_trace(Arc::new(bus.clone()), Producer::Direct),
    )
    .await
    .expect("test timed out");
    bus.close().await;
    delete_topology(&prefix, &["prm.test.traced"]).await;
}

#[tokio::test]
async fn current_traceparent_is_w3c_and_absent_outside_spans() {
    let _one = SERIAL.lock().await;
    exporter().await;
    assert_eq!(prm_bus::current_traceparent(), None);
    let span = tracing::info_span!("write outbox");
    let tp = span
        .in_scope(prm_bus::current_traceparent)
        .expect("inside a span");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(
        (parts[0], parts[1].len(), parts[2].len(), parts[3]),
        ("00", 32, 16, "01")
    );
}

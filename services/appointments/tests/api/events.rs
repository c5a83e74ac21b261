//! Appointment events on the real RabbitMQ, seen the way journey orchestration
//! sees them: a consumer written directly on lapin, bound to `prm.events`.
//! Each test uses its own name prefix, so tests never see each other's events.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use lapin::{
    BasicProperties, Connection, ConnectionProperties, Consumer, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

use crate::helpers::{TestApp, spawn_app_with};

const BROKER: &str = "127.0.0.1:5672";

fn amqp_url(address: &str) -> String {
    format!("amqp://guest:guest@{address}/%2f")
}

/// An outside consumer: an exclusive queue bound to `<prefix>prm.events`.
async fn journey_consumer(prefix: &str, routing_key: &str) -> (Connection, Consumer) {
    let connection = Connection::connect(
        &amqp_url(BROKER),
        ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio),
    )
    .await
    .expect("RabbitMQ on 127.0.0.1:5672 (run `make services`)");
    let channel = connection.create_channel().await.unwrap();
    let exchange = format!("{prefix}prm.events");
    channel
        .exchange_declare(
            &exchange,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = channel
        .queue_declare(
            "",
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().as_str(),
            &exchange,
            routing_key,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let consumer = channel
        .basic_consume(
            queue.name().as_str(),
            "journey-test",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    (connection, consumer)
}

async fn next_event(consumer: &mut Consumer, wait: Duration) -> Option<(BasicProperties, Value)> {
    let delivery = tokio::time::timeout(wait, consumer.next())
        .await
        .ok()??
        .ok()?;
    delivery.ack(BasicAckOptions::default()).await.ok()?;
    Some((
        delivery.properties.clone(),
        serde_json::from_slice(&delivery.data).ok()?,
    ))
}

async fn clinic(app: &TestApp) -> (Value, Value, Value) {
    let location = app.create_location().await;
    let practitioner = app.create_practitioner("Dermatology").await;
    for day in 0..7 {
        let r = app
            .post(
                &format!("/api/v1/prm/practitioners/{}/schedules", practitioner["id"].as_str().unwrap()),
                json!({"location_id": location["id"], "day_of_week": day, "start_time": "00:00", "end_time": "23:30", "slot_minutes": 30}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let patient: Value = app
        .post(
            "/api/v1/prm/patients",
            json!({"name": "Lucía Gil", "phone": "3157778899"}),
        )
        .await
        .json()
        .await
        .unwrap();
    (location, practitioner, patient)
}

/// Bogotá slot starts from two days ahead, every 30 minutes.
fn starts(n: usize) -> Vec<String> {
    let bogota = chrono::FixedOffset::west_opt(5 * 3600).unwrap();
    let first =
        (chrono::Utc::now().with_timezone(&bogota) + chrono::Duration::days(2)).date_naive();
    (0..)
        .map(|i: i64| {
            let t = first.and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::minutes(30 * i);
            t.and_local_timezone(bogota).unwrap()
        })
        .filter(|t| chrono::Timelike::hour(t) * 60 + chrono::Timelike::minute(t) < 23 * 60 + 30)
        .take(n)
        .map(|t| t.to_rfc3339())
        .collect()
}

#[tokio::test]
async fn a_lapin_consumer_receives_appointment_created_with_the_exact_contract() {
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let (_connection, mut consumer) = journey_consumer(&prefix, "appointment.created").await;
    let app = spawn_app_with(&[
        ("AMQP_URL", &amqp_url(BROKER)),
        ("AMQP_NAME_PREFIX", &prefix),
    ])
    .await;
    let (location, practitioner, patient) = clinic(&app).await;
    let start = starts(1).remove(0);
    let r = app
        .post(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": start, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let appointment: Value = r.json().await.unwrap();

    let (properties, envelope) = next_event(&mut consumer, Duration::from_secs(20))
        .await
        .expect("APPOINTMENT_CREATED arrives");
    assert_eq!(envelope["type"], "APPOINTMENT_CREATED");
    assert_eq!(envelope["source"], "appointments");
    assert!(
        chrono::DateTime::parse_from_rfc3339(envelope["occurred_at"].as_str().unwrap()).is_ok()
    );
    let id = envelope["id"].as_str().unwrap();
    assert_eq!(
        properties.message_id().as_ref().map(|s| s.as_str()),
        Some(id)
    );
    assert_eq!(
        properties.kind().as_ref().map(|s| s.as_str()),
        Some("APPOINTMENT_CREATED")
    );
    assert_eq!(
        properties.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    let traceparent = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("traceparent").cloned());
    let Some(AMQPValue::LongString(traceparent)) = traceparent else {
        panic!("W3C traceparent header missing: {traceparent:?}");
    };
    let parts: Vec<String> = traceparent
        .to_string()
        .split('-')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        (
            parts.len(),
            parts[0].as_str(),
            parts[1].len(),
            parts[2].len()
        ),
        (4, "00", 32, 16),
        "{traceparent}"
    );

    assert_eq!(
        envelope["data"],
        json!({
            "appointment_id": appointment["id"],
            "status": "booked",
            "start": start,
            "end": appointment["end"],
            "patient": {"id": patient["id"], "name": "Lucía Gil", "phone": "+573157778899"},
            "practitioner": {"id": practitioner["id"], "name": "Dr. Ana Gómez", "specialty": "Dermatology"},
            "location": {"id": location["id"], "name": "Sede Norte", "timezone": "America/Bogota"},
            "conversation_id": null,
            "channel": "whatsapp"
        })
    );
}

/// The stamp of a change (`rescheduled_at`, `cancelled_at`): RFC 3339, UTC, between
/// `before` and now. Removed from `data` so the rest can be compared exactly.
fn take_stamp(data: &mut Value, field: &str, before: chrono::DateTime<chrono::Utc>) {
    let stamp = data
        .as_object_mut()
        .unwrap()
        .remove(field)
        .unwrap_or_else(|| panic!("{field} missing"));
    let at = chrono::DateTime::parse_from_rfc3339(stamp.as_str().unwrap()).expect("RFC 3339");
    assert_eq!(at.offset().local_minus_utc(), 0, "{field} is UTC: {stamp}");
    let at = at.with_timezone(&chrono::Utc);
    assert!(
        before - chrono::Duration::seconds(1) <= at && at <= chrono::Utc::now(),
        "{field} is the time of the change: {at}"
    );
}

#[tokio::test]
async fn rescheduled_and_cancelled_events_carry_the_exact_contract() {
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let (_connection, mut consumer) = journey_consumer(&prefix, "appointment.*").await;
    let app = spawn_app_with(&[
        ("AMQP_URL", &amqp_url(BROKER)),
        ("AMQP_NAME_PREFIX", &prefix),
    ])
    .await;
    let (location, practitioner, patient) = clinic(&app).await;
    let slots = starts(2);
    let booked: Value = app
        .post(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": slots[0], "channel": "whatsapp"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/prm/appointments/{}",
        booked["id"].as_str().unwrap()
    );
    let before_move = chrono::Utc::now();
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"start": slots[1]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    let before_cancel = chrono::Utc::now();
    let r = app
        .post(
            &format!("{path}/cancel"),
            json!({"reason": "travelling", "cancelled_by": "patient"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let mut events = Vec::new();
    while events.len() < 3 {
        let (properties, envelope) = next_event(&mut consumer, Duration::from_secs(20))
            .await
            .expect("three appointment events");
        assert_eq!(
            properties.message_id().as_ref().map(|s| s.as_str()),
            envelope["id"].as_str()
        );
        assert_eq!(
            properties.kind().as_ref().map(|s| s.as_str()),
            envelope["type"].as_str()
        );
        assert_eq!(envelope["source"], "appointments");
        assert!(
            chrono::DateTime::parse_from_rfc3339(envelope["occurred_at"].as_str().unwrap()).is_ok()
        );
        events.push(envelope);
    }
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "APPOINTMENT_CREATED",
            "APPOINTMENT_RESCHEDULED",
            "APPOINTMENT_CANCELLED"
        ],
        "changes of one appointment arrive in the order they were made"
    );
    let patient_ref = json!({"id": patient["id"], "name": "Lucía Gil", "phone": "+573157778899"});
    let practitioner_ref =
        json!({"id": practitioner["id"], "name": "Dr. Ana Gómez", "specialty": "Dermatology"});
    let location_ref =
        json!({"id": location["id"], "name": "Sede Norte", "timezone": "America/Bogota"});

    let mut rescheduled = events[1]["data"].clone();
    take_stamp(&mut rescheduled, "rescheduled_at", before_move);
    assert_eq!(
        rescheduled,
        json!({
            "appointment_id": booked["id"],
            "status": "booked",
            "previous_start": slots[0],
            "previous_end": booked["end"],
            "start": slots[1],
            "end": moved["end"],
            "reason": null,
            "patient": patient_ref,
            "practitioner": practitioner_ref,
            "location": location_ref,
            "conversation_id": null,
            "channel": "whatsapp"
        }),
        "APPOINTMENT_RESCHEDULED.data"
    );
    assert_ne!(moved["end"], booked["end"]);

    let mut cancelled = events[2]["data"].clone();
    take_stamp(&mut cancelled, "cancelled_at", before_cancel);
    assert_eq!(
        cancelled,
        json!({
            "appointment_id": booked["id"],
            "status": "cancelled",
            "start": slots[1],
            "end": moved["end"],
            "reason": "travelling",
            "cancelled_by": "patient",
            "patient": patient_ref,
            "practitioner": practitioner_ref,
            "location": location_ref,
            "conversation_id": null,
            "channel": "whatsapp"
        }),
        "APPOINTMENT_CANCELLED.data"
    );
}

/// A TCP proxy in front of the broker that can cut every connection: a real
/// outage for the service, without stopping the shared RabbitMQ.
struct Proxy {
    address: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accept_open, accept_links) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(BROKER).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_links.lock().unwrap().push(link);
            }
        });
        Self {
            address,
            open,
            links,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn bookings_succeed_while_the_broker_is_away_and_every_event_arrives_afterwards() {
    let prefix = format!("test-{}.", uuid::Uuid::new_v4().simple());
    let (_connection, mut consumer) = journey_consumer(&prefix, "appointment.created").await;
    let proxy = Proxy::start().await;
    let app = spawn_app_with(&[
        ("AMQP_URL", &amqp_url(&proxy.address)),
        ("AMQP_NAME_PREFIX", &prefix),
    ])
    .await;
    let (location, practitioner, patient) = clinic(&app).await;

    let book = |start: String| {
        let app = &app;
        let body = json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": start});
        async move {
            let r = app.post("/api/v1/prm/appointments", body).await;
            assert_eq!(r.status(), 201, "bookings do not depend on the broker");
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let mut starts = starts(101).into_iter();

    // The bus is connected through the proxy and the relay delivers: one booking's
    // event arrives. Only then is the broker taken away.
    let first = book(starts.next().unwrap()).await;
    let (_, envelope) = next_event(&mut consumer, Duration::from_secs(20))
        .await
        .expect("the event of a booking made while the broker is there");
    assert_eq!(envelope["data"]["appointment_id"], first.as_str());
    proxy.cut();
    let mut booked = std::collections::BTreeSet::new();
    for start in starts {
        booked.insert(book(start).await);
    }
    assert_eq!(booked.len(), 100);
    assert!(
        next_event(&mut consumer, Duration::from_secs(2))
            .await
            .is_none(),
        "nothing gets through during the outage"
    );

    proxy.restore();
    let mut received = std::collections::BTreeSet::new();
    let mut event_ids = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while received.len() < booked.len() && tokio::time::Instant::now() < deadline {
        if let Some((_, envelope)) = next_event(&mut consumer, Duration::from_secs(5)).await {
            if envelope["data"]["appointment_id"] == first.as_str() {
                continue; // its confirm may have been lost in the cut: a harmless duplicate
            }
            event_ids.insert(envelope["id"].as_str().unwrap().to_owned());
            received.insert(
                envelope["data"]["appointment_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(
        received, booked,
        "every booking's event arrived after the outage"
    );
    assert_eq!(
        event_ids.len(),
        100,
        "one event per booking; duplicates, if any, share an id"
    );
}

/// A broker that is down when the service starts is an outage like any other:
/// the service starts, is ready, and books; the event waits in the outbox.
#[tokio::test]
async fn the_service_starts_and_books_while_the_broker_is_unreachable() {
    let app = spawn_app_with(&[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")]).await;
    let ready = app
        .client
        .get(format!("{}/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a broker outage does not take the service out of rotation"
    );
    let (location, practitioner, patient) = clinic(&app).await;
    let r = app
        .post(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": starts(1)[0]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let pending = prm_store::outbox::Outbox::APPOINTMENTS
        .unpublished_count(app.store.connection())
        .await
        .unwrap();
    assert_eq!(pending, 1, "APPOINTMENT_CREATED waits in the outbox");
}

//! Appointment events on the real RabbitMQ, seen the way journey orchestration
//! sees them: a consumer written directly on lapin, bound to `prm.events`.
//! Each test uses its own name prefix, so tests never see each other's events.

use std::time::Duration;

use lapin::types::AMQPValue;
use prm_testkit::{FaultProxy, rabbit::EventTap, require_rabbit};
use serde_json::{Value, json};

use crate::helpers::{Clinic, TestApp, at_now, spawn_with};

/// The app on the real RabbitMQ (or `amqp_url`), whatever the test matrix says.
async fn on_rabbit(amqp_url: Option<&str>) -> TestApp {
    let options = match amqp_url {
        Some(url) => at_now().var("AMQP_URL", url),
        None => at_now().rabbit(),
    };
    spawn_with(options).await
}

async fn clinic(app: &TestApp) -> (Value, Value, Value) {
    let c = Clinic::plan()
        .specialty("Dermatology")
        .round_the_clock()
        .patient("Lucía Gil", "3157778899")
        .open(app)
        .await;
    (c.location, c.practitioner, c.patient)
}

/// Bogotá slot starts from two days after the app's today, every 30 minutes from
/// 00:00 to 23:00 (the last slot of the round-the-clock schedule).
fn starts(app: &TestApp, n: usize) -> Vec<String> {
    const PER_DAY: i64 = 47;
    (0..)
        .map(|i: i64| {
            let (day, slot) = (i / PER_DAY, i % PER_DAY);
            let time = format!("{:02}:{:02}", slot / 2, (slot % 2) * 30);
            app.bogota_in(2 + day, &time)
        })
        .take(n)
        .collect()
}

#[tokio::test]
async fn a_lapin_consumer_receives_appointment_created_with_the_exact_contract() {
    let app = on_rabbit(None).await;
    let mut consumer = EventTap::bind(&app.amqp_prefix, "appointment.created").await;
    let (location, practitioner, patient) = clinic(&app).await;
    let start = starts(&app, 1).remove(0);
    let r = app
        .post(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": start, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let appointment: Value = r.json().await.unwrap();

    let (properties, envelope) = consumer
        .next(Duration::from_secs(20))
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

/// The stamp of a change (`rescheduled_at`, `cancelled_at`): RFC 3339, UTC, the app's
/// clock when the change was made. Removed from `data` so the rest can be compared
/// exactly.
fn take_stamp(data: &mut Value, field: &str, when: chrono::DateTime<chrono::Utc>) {
    let stamp = data
        .as_object_mut()
        .unwrap()
        .remove(field)
        .unwrap_or_else(|| panic!("{field} missing"));
    let at = chrono::DateTime::parse_from_rfc3339(stamp.as_str().unwrap()).expect("RFC 3339");
    assert_eq!(at.offset().local_minus_utc(), 0, "{field} is UTC: {stamp}");
    assert_eq!(at, when, "{field} is the time of the change");
}

#[tokio::test]
async fn rescheduled_and_cancelled_events_carry_the_exact_contract() {
    let app = on_rabbit(None).await;
    let mut consumer = EventTap::bind(&app.amqp_prefix, "appointment.*").await;
    let (location, practitioner, patient) = clinic(&app).await;
    let slots = starts(&app, 2);
    let booked: Value = app
        .post_json(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": slots[0], "channel": "whatsapp"}),
        ).await;
    let path = format!(
        "/api/v1/prm/appointments/{}",
        booked["id"].as_str().unwrap()
    );
    app.clock().advance(chrono::TimeDelta::minutes(5));
    let moved_at = app.now();
    let r = app.patch(&path, json!({"start": slots[1]})).await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    app.clock().advance(chrono::TimeDelta::minutes(10));
    let cancelled_at = app.now();
    let r = app
        .post(
            &format!("{path}/cancel"),
            json!({"reason": "travelling", "cancelled_by": "patient"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let mut events = Vec::new();
    while events.len() < 3 {
        let (properties, envelope) = consumer
            .next(Duration::from_secs(20))
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
    take_stamp(&mut rescheduled, "rescheduled_at", moved_at);
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
    take_stamp(&mut cancelled, "cancelled_at", cancelled_at);
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

#[tokio::test]
async fn bookings_succeed_while_the_broker_is_away_and_every_event_arrives_afterwards() {
    require_rabbit().await;
    let proxy = FaultProxy::start("127.0.0.1:5672").await;
    let app = on_rabbit(Some(&proxy.amqp_url())).await;
    let mut consumer = EventTap::bind(&app.amqp_prefix, "appointment.created").await;
    let (location, practitioner, patient) = clinic(&app).await;

    let book = |start: String| {
        let app = &app;
        let body = json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": start});
        async move {
            let r = app.post("/api/v1/prm/appointments", body).await;
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            assert_eq!(
                status, 201,
                "bookings do not depend on the broker: {start} {body}"
            );
            body["id"].as_str().unwrap().to_owned()
        }
    };
    let mut starts = starts(&app, 101).into_iter();

    // The bus is connected through the proxy and the relay delivers: one booking's
    // event arrives. Only then is the broker taken away.
    let first = book(starts.next().unwrap()).await;
    let (_, envelope) = consumer
        .next(Duration::from_secs(20))
        .await
        .expect("the event of a booking made while the broker is there");
    assert_eq!(envelope["data"]["appointment_id"], first.as_str());
    proxy.cut().await;
    let mut booked = std::collections::BTreeSet::new();
    for start in starts {
        booked.insert(book(start).await);
    }
    assert_eq!(booked.len(), 100);
    assert!(
        consumer.next(Duration::from_secs(2)).await.is_none(),
        "nothing gets through during the outage"
    );

    proxy.restore();
    let mut received = std::collections::BTreeSet::new();
    let mut event_ids = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while received.len() < booked.len() && tokio::time::Instant::now() < deadline {
        if let Some((_, envelope)) = consumer.next(Duration::from_secs(5)).await {
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
    let app = on_rabbit(Some("amqp://guest:guest@127.0.0.1:1/%2f")).await;
    let ready = app.get("/ready").await;
    assert_eq!(
        ready.status(),
        200,
        "a broker outage does not take the service out of rotation"
    );
    let (location, practitioner, patient) = clinic(&app).await;
    let r = app
        .post(
            "/api/v1/prm/appointments",
            json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": starts(&app, 1)[0]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let pending = prm_store::outbox::Outbox::APPOINTMENTS
        .unpublished_count(app.store.connection())
        .await
        .unwrap();
    assert_eq!(pending, 1, "APPOINTMENT_CREATED waits in the outbox");
}

//! The all-in-one binary: every service's routes on one port, the demo clinic,
//! and a patient's WhatsApp message and booking flowing through one process.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{collections::BTreeSet, time::Duration};

use prm_store::outbox::Outbox;
use prm_testkit::{Spawn, TestApp, eventually, spawn};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const PUBLIC: &str = "https://prm.example.com";

/// Every service of `prm` on one port, with the demo clinic.
async fn start() -> TestApp {
    let app = spawn(
        &prm::SERVICES,
        Spawn::new().vars(&[("PUBLIC_BASE_URL", PUBLIC), ("TWILIO_AUTH_TOKEN", TOKEN)]),
    )
    .await;
    prm::seed_demo(app.backends.clone()).await.unwrap();
    app
}

/// The outboxes of the services `prm` hosts: each has its relay in the process.
fn hosted_outboxes() -> Vec<Outbox> {
    prm::SERVICES.iter().filter_map(|s| s.outbox).collect()
}

#[test]
fn every_outbox_the_migrations_create_is_relayed_by_a_hosted_service() {
    let hosted: BTreeSet<&str> = hosted_outboxes().iter().map(|o| o.table()).collect();
    let all: BTreeSet<&str> = Outbox::ALL.iter().map(|o| o.table()).collect();
    assert_eq!(hosted, all, "prm::SERVICES against Outbox::ALL");
}

#[tokio::test]
async fn one_process_serves_every_service_with_the_demo_clinic() {
    let app = start().await;
    for path in [
        "/ready",
        "/api/v1/prm/webhooks/health",
        "/api/v1/prm/n8n/health",
        "/docs/",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }

    // The demo clinic: 3 locations in Bogotá, 8 practitioners in 4 departments.
    let locations: Value = app.get_json("/api/v1/prm/locations").await;
    assert_eq!(locations["total"], 3);
    assert!(
        locations["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["timezone"] == "America/Bogota")
    );
    let practitioners: Value = app.get_json("/api/v1/prm/practitioners").await;
    assert_eq!(practitioners["total"], 8);
    let mut departments: Vec<&str> = practitioners["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["specialty"].as_str().unwrap())
        .collect();
    departments.sort();
    departments.dedup();
    assert_eq!(
        departments,
        [
            "Cardiology",
            "Dermatology",
            "General Medicine",
            "Pediatrics"
        ]
    );

    // A WhatsApp message arrives, signed as Twilio signs it against the public URL.
    let path = prm_testkit::twilio::MESSAGES_PATH;
    let params = prm_testkit::twilio::pairs(&[
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("From", "whatsapp:+573001234567"),
        ("To", "whatsapp:+14155238886"),
        ("Body", "Hola, necesito una cita con cardiología"),
        ("NumMedia", "0"),
    ]);
    let signature = prm_testkit::twilio::signature(TOKEN, &format!("{PUBLIC}{path}"), &params);
    let r = app
        .client
        .post(app.url(path))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<Response"));

    // The front desk books a demo cardiology slot.
    let offer: Value = app
        .post_json(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "limit": 1}),
        )
        .await;
    let slot = &offer["slots"][0];
    let patient = app.create_patient("María Pérez", "+573001234567").await;
    app.book(json!({"patient_id": patient["id"], "practitioner_id": slot["practitioner"]["id"], "location_id": slot["location"]["id"], "start": slot["start"]}))
        .await;

    // Each service wrote its event to its own outbox, and the process runs a relay for
    // each of them: both get published (through the in-process bus here).
    let db = app.store.connection();
    let types = |outbox: Outbox| async move {
        let rows = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT event_type FROM {} ORDER BY seq", outbox.table()),
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get::<String>("", "event_type").unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(types(Outbox::WEBHOOKS).await, ["MESSAGE_RECEIVED"]);
    assert_eq!(types(Outbox::APPOINTMENTS).await, ["APPOINTMENT_CREATED"]);
    for outbox in hosted_outboxes() {
        eventually(Duration::from_secs(10), outbox.table(), || async {
            outbox.unpublished_count(db).await.unwrap() == 0
        })
        .await;
    }
}

#[tokio::test]
async fn demo_seeding_is_idempotent() {
    let store = prm_store::testing::fresh_store().await;
    let first = prm_appointments::demo::seed(&store).await.unwrap();
    let second = prm_appointments::demo::seed(&store).await.unwrap();
    assert_eq!((first.created, first.existing), (11, 0));
    assert_eq!((second.created, second.existing), (0, 11));
    let schedules = store
        .schedules_of(&[uuid::Uuid::from_u128(
            0x0193_0000_0000_7000_8000_0000_0000_0101,
        )])
        .await
        .unwrap();
    assert_eq!(
        schedules.len(),
        3,
        "Dr. Ana Gómez works Monday, Wednesday and Friday"
    );
}

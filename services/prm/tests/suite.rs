//! The all-in-one binary: every service's routes on one port, the demo clinic,
//! and a patient's WhatsApp message and booking flowing through one process.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::HashMap;

use prm_platform::Settings;
use prm_store::outbox::Outbox;
use prm_twilio::RequestValidator;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const KEY: &str = "suite-key-0123456789abcdef";
const TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const PUBLIC: &str = "https://prm.example.com";

async fn start() -> (String, prm_runtime::Running) {
    let url = prm_store::testing::fresh_database_url().await;
    let vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", KEY),
        ("DATABASE_URL", url.as_str()),
        ("PUBLIC_BASE_URL", PUBLIC),
        ("TWILIO_AUTH_TOKEN", TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_map(prm::DEFAULT_PORT, &vars).unwrap();
    let suite = prm::start(settings, true).await.unwrap();
    (format!("http://127.0.0.1:{}", suite.port()), suite)
}

#[tokio::test]
async fn one_process_serves_every_service_with_the_demo_clinic() {
    let (address, suite) = start().await;
    let store = suite.backends().store.clone();
    tokio::spawn(suite.run_until_stopped());
    let client = reqwest::Client::new();

    assert_eq!(
        client
            .get(format!("{address}/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{address}/api/v1/prm/webhooks/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{address}/docs/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The demo clinic: 3 locations in Bogotá, 8 practitioners in 4 departments.
    let locations: Value = client
        .get(format!("{address}/api/v1/prm/locations"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(locations["total"], 3);
    assert!(
        locations["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["timezone"] == "America/Bogota")
    );
    let practitioners: Value = client
        .get(format!("{address}/api/v1/prm/practitioners"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let params: Vec<(String, String)> = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("From", "whatsapp:+573001234567"),
        ("To", "whatsapp:+14155238886"),
        ("Body", "Hola, necesito una cita con cardiología"),
        ("NumMedia", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let validator = RequestValidator::new(secrecy::SecretString::from(TOKEN));
    let signature =
        validator.compute_signature(&format!("{PUBLIC}/api/v1/prm/webhooks/twilio"), &params);
    let r = client
        .post(format!("{address}/api/v1/prm/webhooks/twilio"))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<Response"));

    // The front desk books a demo cardiology slot.
    let offer: Value = client
        .post(format!("{address}/api/v1/prm/appointments/find-slots"))
        .bearer_auth(KEY)
        .json(&json!({"department": "Cardiology", "limit": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = &offer["slots"][0];
    let patient: Value = client
        .post(format!("{address}/api/v1/prm/patients"))
        .bearer_auth(KEY)
        .json(&json!({"name": "María Pérez", "phone": "+573001234567"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let booked = client
        .post(format!("{address}/api/v1/prm/appointments"))
        .bearer_auth(KEY)
        .json(&json!({"patient_id": patient["id"], "practitioner_id": slot["practitioner"]["id"], "location_id": slot["location"]["id"], "start": slot["start"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 201);

    // Each service wrote its event to its own outbox, and the process runs a relay for
    // each of them: both get published (through the in-process bus here).
    let db = store.connection();
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
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    for outbox in Outbox::ALL {
        while outbox.unpublished_count(db).await.unwrap() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} was not relayed",
                outbox.table()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn demo_seeding_is_idempotent() {
    let url = prm_store::testing::fresh_database_url().await;
    let store = prm_store::Store::connect_and_migrate(&url).await.unwrap();
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

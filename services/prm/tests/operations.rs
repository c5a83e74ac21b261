//! Clinic operations end to end in one process, as a clinic lives them: the front desk
//! books, the scheduler reminds the patient two hours before (a short rule instead of
//! the day before) through Twilio — outside WhatsApp's 24-hour window, so as the clinic's approved
//! template —, the patient answers "3" on WhatsApp, the appointment is cancelled, its
//! slot is offered again by find-slots, and the patient gets the clinic's cancellation
//! template. Time is the test's clock; Twilio is a local fake speaking its REST API.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use prm_testkit::{Spawn, TestApp, eventually, spawn, time::bogota};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const PUBLIC: &str = "https://prm.example.com";
const PATIENT: &str = "+573001234567";
const REMINDER_SID: &str = "HX0123456789abcdef0123456789abcdef";

/// Twilio's 201 with a new `MessageSid` each time.
struct Created;

impl Respond for Created {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({
            "sid": format!("SM{}", uuid::Uuid::new_v4().simple()), "status": "queued",
            "to": "whatsapp:+573001234567", "from": "whatsapp:+14155238886"
        }))
    }
}

/// The form fields of each message the fake Twilio was asked to send, in order.
async fn sent(twilio: &MockServer) -> Vec<Vec<(String, String)>> {
    twilio
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/Messages.json"))
        .map(|r| serde_urlencoded::from_bytes(&r.body).unwrap())
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The patient writes on WhatsApp, signed as Twilio signs it.
async fn patient_writes(app: &TestApp, body: &str) {
    let path = prm_testkit::twilio::MESSAGES_PATH;
    let params = prm_testkit::twilio::message(&prm_testkit::twilio::unique_sid(), body);
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
}

async fn find_cardiology(app: &TestApp, practitioner: &Value, from: &str) -> Vec<Value> {
    let offer: Value = app
        .post_json(
            "/api/v1/prm/appointments/find-slots",
            json!({
                "department": "Cardiology",
                "preferences": {"practitioner_id": practitioner},
                "from_date": from,
                "limit": 5
            }),
        )
        .await;
    offer["slots"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_reminder_answered_3_cancels_frees_the_slot_and_tells_the_patient_with_the_template() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Created)
        .mount(&twilio)
        .await;
    // Monday 7 January 2030, 08:00 in Bogotá.
    let app = spawn(
        &prm::SERVICES,
        Spawn::new().at(bogota("2030-01-07 08:00")).vars(&[
            ("PUBLIC_BASE_URL", PUBLIC),
            ("TWILIO_ACCOUNT_SID", ACCOUNT),
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TWILIO_WHATSAPP_NUMBER", "+14155238886"),
            ("TWILIO_API_BASE", &twilio.uri()),
            ("REMINDER_RULES", "2h"),
            ("REMINDER_POLL_INTERVAL_MS", "100"),
        ]),
    )
    .await;
    prm::seed_demo(app.backends.clone()).await.unwrap();

    // The clinic's templates: the reminder is approved at Twilio, the cancellation
    // is the clinic's own wording.
    let r = app
        .put(
            "/api/v1/prm/templates/reminder/es",
            json!({
                "body": "Hola {patient_name}, tu cita es el {date} a las {time}. Responde 1, 2 o 3.",
                "twilio": {"content_sid": REMINDER_SID, "variables": ["patient_name", "date", "time"]}
            }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = app
        .put(
            "/api/v1/prm/templates/cancellation/es",
            json!({"body": "Cancelamos tu cita del {date} a las {time} con {doctor_name}. Escríbenos para otra."}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // The front desk books Tuesday's first cardiology slot for María.
    let practitioners: Value = app
        .get_json("/api/v1/prm/practitioners?specialty=Cardiology")
        .await;
    let cardiologist = practitioners["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["specialty"] == "Cardiology")
        .unwrap()["id"]
        .clone();
    let slots = find_cardiology(&app, &cardiologist, "2030-01-08").await;
    let slot = slots.first().expect("a cardiology slot").clone();
    let patient = app.create_patient("María Pérez", PATIENT).await;
    let booked = app
        .book(json!({
            "patient_id": patient["id"], "practitioner_id": slot["practitioner"]["id"],
            "location_id": slot["location"]["id"], "start": slot["start"]
        }))
        .await;
    let appointment = format!(
        "/api/v1/prm/appointments/{}",
        booked["id"].as_str().unwrap()
    );
    let start: DateTime<Utc> = slot["start"].as_str().unwrap().parse().unwrap();
    assert!(sent(&twilio).await.is_empty(), "nothing sent at booking");

    // Two hours before (a minute past the rule): the reminder goes out once, as the
    // approved template (María never wrote: WhatsApp would refuse free text).
    let now = app.now();
    app.clock()
        .advance(start - TimeDelta::hours(2) + TimeDelta::minutes(1) - now);
    eventually(
        Duration::from_secs(20),
        "the reminder at Twilio",
        || async { !sent(&twilio).await.is_empty() },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reminders = sent(&twilio).await;
    assert_eq!(reminders.len(), 1, "one reminder: {reminders:?}");
    let reminder = &reminders[0];
    assert_eq!(field(reminder, "To"), Some("whatsapp:+573001234567"));
    assert_eq!(field(reminder, "ContentSid"), Some(REMINDER_SID));
    assert_eq!(field(reminder, "Body"), None);
    let variables: Value =
        serde_json::from_str(field(reminder, "ContentVariables").unwrap()).unwrap();
    assert_eq!(variables["1"], "María Pérez");
    let local = chrono::DateTime::parse_from_rfc3339(slot["start"].as_str().unwrap()).unwrap();
    assert_eq!(
        variables["3"],
        prm_domain::templates::local_time(prm_domain::Locale::Es, local)
    );

    // María answers "3".
    patient_writes(&app, "3").await;
    eventually(
        Duration::from_secs(20),
        "the appointment cancelled",
        || async { app.get_json(&appointment).await["status"] == "cancelled" },
    )
    .await;

    // The clinic's cancellation template reaches her, as text now that she wrote.
    let expected = format!(
        "Cancelamos tu cita del {} a las {} con {}. Escríbenos para otra.",
        prm_domain::templates::local_date(prm_domain::Locale::Es, local),
        prm_domain::templates::local_time(prm_domain::Locale::Es, local),
        slot["practitioner"]["name"].as_str().unwrap()
    );
    eventually(
        Duration::from_secs(20),
        "the cancellation at Twilio",
        || async {
            sent(&twilio)
                .await
                .iter()
                .any(|m| field(m, "Body") == Some(expected.as_str()))
        },
    )
    .await;

    // The slot is free again: find-slots offers it.
    let again = find_cardiology(&app, &cardiologist, "2030-01-08").await;
    assert!(
        again.iter().any(|s| s["start"] == slot["start"]),
        "the cancelled slot is offered again: {again:?}"
    );
}

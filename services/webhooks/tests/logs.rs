//! What reaches the logs when a request is refused, and at start: the reason, never the
//! payload (no phone number, name or message text above debug).
//!
//! Its own test binary with one test, on purpose: the server's workers run on their own
//! threads, so the capture must be the global subscriber, which a binary sets once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use serde_json::json;

const NUMBER: &str = "3001234567";
const NAME: &str = "Dolores Quintero";
const TEXT: &str = "Me duele el pecho desde ayer";

fn assert_no_payload(logs: &str) {
    for secret in [NUMBER, NAME, "Dolores", TEXT, "duele"] {
        assert!(
            !logs.contains(secret),
            "`{secret}` reached the logs:\n{logs}"
        );
    }
}

/// The warning lines of `logs` that contain `needle`.
fn warned(logs: &str, needle: &str) -> bool {
    logs.lines()
        .any(|line| line.contains("WARN") && line.contains(needle))
}

#[tokio::test]
async fn refusals_and_the_startup_warning_are_logged_without_patient_data() {
    let captured = prm_testkit::logs::capture_globally(tracing::Level::INFO);

    // TWILIO_VALIDATE_SIGNATURE=false is announced at start.
    let _demo = spawn_app_with(&[("TWILIO_VALIDATE_SIGNATURE", "false")]).await;
    let logs = captured.take();
    assert!(
        warned(&logs, "TWILIO_VALIDATE_SIGNATURE=false")
            && logs.contains("WITHOUT signature checks"),
        "no start-up warning:\n{logs}"
    );
    // …and only then: with validation on there is no such warning.
    let app = spawn_app().await;
    let logs = captured.take();
    assert!(!logs.contains("TWILIO_VALIDATE_SIGNATURE=false"), "{logs}");

    // A Twilio message with a wrong signature.
    let mut form = twilio_message(&unique_sid(), TEXT);
    for (name, value) in &mut form {
        match name.as_str() {
            "ProfileName" => *value = NAME.to_owned(),
            "From" => *value = format!("whatsapp:+57{NUMBER}"),
            "WaId" => *value = format!("57{NUMBER}"),
            _ => {}
        }
    }
    let r = app
        .post_form(TWILIO_PATH, &form, Some("bm90IGEgc2lnbmF0dXJl"))
        .await;
    assert_eq!(r.status(), 403);
    let logs = captured.take();
    assert!(warned(&logs, "Twilio webhook rejected"), "{logs}");
    assert!(
        logs.contains("signature mismatch"),
        "the reason is logged:\n{logs}"
    );
    assert_no_payload(&logs);

    // A Meta delivery with a wrong signature.
    let delivery = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"display_phone_number": "15550783881"},
        "contacts": [{"profile": {"name": NAME}, "wa_id": format!("57{NUMBER}")}],
        "messages": [{"from": format!("57{NUMBER}"), "id": "wamid.LOGS1", "type": "text", "text": {"body": TEXT}}]
    }}]}]}))
    .unwrap();
    let wrong = prm_webhooks::http::sign_sha256(b"not the app secret", &delivery);
    let r = app
        .post_json_signed(
            META_PATH,
            delivery,
            &[("X-Hub-Signature-256", wrong.as_str())],
        )
        .await;
    assert_eq!(r.status(), 403);
    let logs = captured.take();
    assert!(warned(&logs, "Meta delivery rejected"), "{logs}");
    assert!(logs.contains("signature mismatch"), "{logs}");
    assert_no_payload(&logs);

    // A voice-agent call with a wrong signature.
    let call = serde_json::to_vec(&json!({
        "call_id": "call_logs_1", "from": format!("+57{NUMBER}"), "to": "+576015551234",
        "transcript": [{"role": "user", "text": TEXT}], "extracted_data": {"name": NAME}
    }))
    .unwrap();
    let wrong = prm_webhooks::http::sign_sha256(b"not the voice secret", &call);
    let r = app
        .post_json_signed(VOICE_PATH, call, &[("X-PRM-Signature", wrong.as_str())])
        .await;
    assert_eq!(r.status(), 403);
    let logs = captured.take();
    assert!(warned(&logs, "voice-agent call rejected"), "{logs}");
    assert!(logs.contains("signature mismatch"), "{logs}");
    assert_no_payload(&logs);

    // Nothing of it was stored.
    assert_eq!(app.total_rows().await, 0);
    assert_eq!(app.total_events().await, 0);
}

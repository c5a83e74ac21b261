//! What reaches the logs when messages are sent: ids and codes, never the patient's
//! number or message above `debug`.
//!
//! One test in its own binary, on purpose: tracing caches per call site whether anyone
//! listens, and thread-local subscribers in parallel tests make that cache flaky.

use std::time::Duration;

use prm_domain::PhoneNumber;
use prm_testkit::logs::Captured;
use prm_twilio::{
    MessageSender, OutboundMessage, RecordingSender, RetryPolicy, Sender, TwilioClient,
    TwilioConfig, TwilioSender,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BODY: &str = "Hola María, su cita es el lunes";

fn patient() -> PhoneNumber {
    PhoneNumber::parse("+573001234567", "57").expect("valid")
}

async fn fake_twilio(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn twilio_sender(base: &str) -> TwilioSender {
    let config = TwilioConfig::new("AC0123", SecretString::from("fake-auth-token".to_owned()))
        .with_api_base(base)
        .with_retry(RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
            max_wait: Duration::from_millis(10),
        });
    TwilioSender::new(
        TwilioClient::new(config).expect("valid config"),
        Sender::Number("+14155238886".into()),
    )
}

fn refused(code: u32, status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code, "message": "The 'To' number +573001234567 is refused", "more_info": "x", "status": status
    }))
}

fn capture_logs(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    prm_testkit::logs::capture(level)
}

fn assert_no_patient_data(logs: &str) {
    assert!(!logs.contains("3001234567"), "number in logs:\n{logs}");
    assert!(!logs.contains("María"), "body in logs:\n{logs}");
}

#[tokio::test]
async fn patient_data_is_logged_at_debug_only() {
    recording_sender_logs_patient_data_at_debug_only().await;
    twilio_sender_logs_no_patient_data_above_debug().await;
}

async fn recording_sender_logs_patient_data_at_debug_only() {
    let recorder = RecordingSender::new();

    let (info_logs, guard) = capture_logs(tracing::Level::INFO);
    let sent = recorder
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .expect("recorded");
    drop(guard);
    let logs = info_logs.text();
    assert!(
        logs.contains(&sent.provider_message_id),
        "the message is logged:\n{logs}"
    );
    assert_no_patient_data(&logs);

    // At debug the number and the body are there: the capture above was not blind.
    let (debug_logs, guard) = capture_logs(tracing::Level::DEBUG);
    recorder
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .expect("recorded");
    drop(guard);
    let logs = debug_logs.text();
    assert!(
        logs.contains("+573001234567") && logs.contains("María"),
        "{logs}"
    );
}

async fn twilio_sender_logs_no_patient_data_above_debug() {
    let created = ResponseTemplate::new(201).set_body_json(json!({
        "sid": "SM00000000000000000000000000000001", "status": "queued", "to": "whatsapp:+573001234567"
    }));
    let ok = fake_twilio(created).await;
    let refusing = fake_twilio(refused(21211, 400)).await;
    let failing = fake_twilio(refused(20503, 503)).await;

    let (logs, guard) = capture_logs(tracing::Level::INFO);
    for server in [&ok, &refusing, &failing] {
        let _ = twilio_sender(&server.uri())
            .send(OutboundMessage::whatsapp(patient(), BODY))
            .await;
    }
    drop(guard);
    let logs = logs.text();
    assert!(
        logs.contains("SM00000000000000000000000000000001"),
        "{logs}"
    );
    assert!(
        logs.contains("21211"),
        "the refusal is logged with its code:\n{logs}"
    );
    assert!(logs.contains("retrying"), "the retry is logged:\n{logs}");
    assert!(
        logs.contains("20503") && logs.contains("unavailable"),
        "the final failure is logged with its code and reason:\n{logs}"
    );
    assert_no_patient_data(&logs);
}

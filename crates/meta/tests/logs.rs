//! What reaches the logs when messages go out through Meta: ids, codes and
//! `fbtrace_id`, never the patient's number, message or the access token above `debug`.
//!
//! One test in its own binary, on purpose: tracing caches per call site whether anyone
//! listens, and thread-local subscribers in parallel tests make that cache flaky.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use prm_domain::PhoneNumber;
use prm_meta::{MetaConfig, MetaSender};
use prm_twilio::{MessageSender, OutboundMessage, RetryPolicy};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "EAAG-fake-access-token";
const BODY: &str = "Hola María, su cita es el lunes";

async fn fake_meta(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn meta_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Trace-190"
    }}))
}

async fn send_through(server: &MockServer) {
    let config = MetaConfig::new(SecretString::from(TOKEN.to_owned()), "106540352242922")
        .with_graph_api_base(format!("{}/v21.0", server.uri()))
        .with_retry(RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
            max_wait: Duration::from_secs(1),
        });
    let patient = PhoneNumber::parse("+573001234567", "57").unwrap();
    let _ = MetaSender::from_config(config)
        .unwrap()
        .send(OutboundMessage::whatsapp(patient, BODY))
        .await;
}

#[tokio::test]
async fn no_patient_data_or_token_above_debug_and_a_bad_token_is_an_error() {
    let ok = fake_meta(ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "573001234567", "wa_id": "573001234567"}],
        "messages": [{"id": "wamid.LOGGED"}]
    })))
    .await;
    let expired = fake_meta(meta_error(
        401,
        190,
        "Error validating access token: Session has expired",
    ))
    .await;
    let throttled = fake_meta(meta_error(
        400,
        131056,
        "(#131056) pair rate limit hit for +573001234567",
    ))
    .await;

    let (captured, guard) = prm_testkit::logs::capture(tracing::Level::INFO);
    for server in [&ok, &expired, &throttled] {
        send_through(server).await;
    }
    drop(guard);
    let logs = captured.text();

    assert!(logs.contains("wamid.LOGGED"), "{logs}");
    let token_line = logs
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("WHATSAPP_ACCESS_TOKEN"))
        .unwrap_or_else(|| panic!("an invalid token is an error naming the variable:\n{logs}"));
    assert!(token_line.contains("Trace-190"), "{token_line}");
    assert!(logs.contains("retrying"), "the retry is logged:\n{logs}");
    assert!(
        logs.contains("131056") && logs.contains("unavailable"),
        "the failure is logged with its code and reason:\n{logs}"
    );
    assert!(!logs.contains("3001234567"), "number in logs:\n{logs}");
    assert!(!logs.contains("María"), "body in logs:\n{logs}");
    assert!(!logs.contains(TOKEN), "token in logs:\n{logs}");
}

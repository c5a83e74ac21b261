//! The n8n trigger against a local webhook: the §5 body, its signature, and bounded retries.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use prm_ai::{
    AiError, IntakeState, IntakeTrigger, KnownPatient, N8nClient,
    n8n::{DELIVERY_HEADER, Retry, SIGNATURE_HEADER, signature},
};
use prm_domain::{Locale, Media, PhoneNumber};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

const SECRET: &str = "n8n-shared-secret";
const HOOK: &str = "/webhook/prm-intake";

fn trigger() -> IntakeTrigger {
    let known = KnownPatient {
        name: "Ana Ruiz".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1985, 5, 3),
    };
    let state = IntakeState::start(Locale::Es, Some(&known));
    IntakeTrigger::new(
        Uuid::from_u128(7),
        &PhoneNumber::parse("+573001234567", "57").unwrap(),
        "me duele el pecho",
        &state,
        "https://prm.example.com/",
    )
}

fn client(server: &MockServer, timeout: Duration, secret: Option<&str>) -> N8nClient {
    N8nClient::new(
        format!("{}{HOOK}", server.uri()),
        timeout,
        secret.map(|s| s.to_owned().into()),
    )
    .unwrap()
    .with_retry(Retry {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
    })
}

async fn respond(server: &MockServer, status: u16, times: Option<u64>) {
    let mock = Mock::given(method("POST"))
        .and(path(HOOK))
        .respond_with(ResponseTemplate::new(status));
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}

#[tokio::test]
async fn the_trigger_is_exactly_the_documented_payload_and_signed() {
    let server = MockServer::start().await;
    respond(&server, 200, None).await;
    client(&server, Duration::from_secs(5), Some(SECRET))
        .trigger(&trigger())
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "event": "intake.message",
            "conversation_id": "00000000-0000-0000-0000-000000000007",
            "patient_phone": "+573001234567",
            "message": "me duele el pecho",
            "state": {
                "required_fields": ["chief_complaint", "symptoms", "allergies", "medications", "preferred_location", "preferred_day_time"],
                "extracted_data": {"name": "Ana Ruiz", "date_of_birth": "1985-05-03"}
            },
            "callback_urls": {
                "intake_response": "https://prm.example.com/api/v1/prm/n8n/intake-response",
                "triage_response": "https://prm.example.com/api/v1/prm/n8n/triage-response",
                "booking_response": "https://prm.example.com/api/v1/prm/n8n/booking-response"
            }
        })
    );
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    // A workflow verifies PRM by recomputing the HMAC of the raw body.
    let header = request
        .headers
        .get(SIGNATURE_HEADER)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(header, signature(SECRET.as_bytes(), &request.body));
    assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
}

#[tokio::test]
async fn without_a_secret_nothing_is_signed_and_media_is_passed_on() {
    let server = MockServer::start().await;
    respond(&server, 204, None).await;
    let voice_note = Media {
        url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1".into(),
        content_type: "audio/ogg".into(),
    };
    client(&server, Duration::from_secs(5), None)
        .trigger(&trigger().with_media(vec![voice_note]))
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert!(request.headers.get(SIGNATURE_HEADER).is_none());
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body["media"],
        json!([{"url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "content_type": "audio/ogg"}])
    );
}

#[tokio::test]
async fn a_busy_workflow_is_retried_with_the_same_delivery_id() {
    let server = MockServer::start().await;
    respond(&server, 503, Some(1)).await;
    respond(&server, 429, Some(1)).await;
    respond(&server, 200, None).await;
    client(&server, Duration::from_secs(5), Some(SECRET))
        .trigger(&trigger())
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let delivery = |i: usize| requests[i].headers.get(DELIVERY_HEADER).unwrap().clone();
    assert_eq!(delivery(0), delivery(2));
    assert_eq!(requests[0].body, requests[2].body);
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    for status in [400, 401, 404, 422] {
        let server = MockServer::start().await;
        respond(&server, status, None).await;
        let error = client(&server, Duration::from_secs(5), Some(SECRET))
            .trigger(&trigger())
            .await
            .unwrap_err();
        assert!(matches!(error, AiError::Refused(_)), "{status}: {error:?}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{status}"
        );
    }
}

#[tokio::test]
async fn retries_are_bounded_by_attempts_and_by_the_timeout() {
    let server = MockServer::start().await;
    respond(&server, 502, None).await;
    let error = client(&server, Duration::from_secs(5), None)
        .trigger(&trigger())
        .await
        .unwrap_err();
    assert!(matches!(error, AiError::Unavailable(_)), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let silent = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&silent)
        .await;
    let started = Instant::now();
    let error = client(&silent, Duration::from_millis(400), None)
        .trigger(&trigger())
        .await
        .unwrap_err();
    assert!(matches!(error, AiError::Timeout(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_workflow_is_unavailable() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{HOOK}", listener.local_addr().unwrap());
    drop(listener);
    let error = N8nClient::new(url, Duration::from_secs(2), None)
        .unwrap()
        .with_retry(Retry {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
        })
        .trigger(&trigger())
        .await
        .unwrap_err();
    assert!(matches!(error, AiError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("me duele"));
}

#[test]
fn debug_output_leaves_the_patient_out() {
    let shown = format!("{:?}", trigger());
    assert!(
        !shown.contains("+5730") && !shown.contains("pecho"),
        "{shown}"
    );
}

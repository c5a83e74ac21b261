//! Replies through a fake Twilio that speaks Twilio's Messages API: what is posted, and
//! what happens when Twilio refuses, waits or times out. A message is never sent twice.

use std::time::Duration;

use prm_domain::events::{DeliveryStatus, Envelope, MessageProvider, MessageStatusUpdated};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{basic_auth, method, path},
};

use crate::helpers::*;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake-twilio-token";
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": sid, "status": "queued", "to": "whatsapp:+573001234567",
        "from": "whatsapp:+14155238886", "body": "…"
    }))
}

async fn twilio_app(twilio: &MockServer) -> TestApp {
    spawn(
        Spawn {
            from_settings: true,
            ..Spawn::default()
        }
        .var("TWILIO_ACCOUNT_SID", SID)
        .var("TWILIO_AUTH_TOKEN", TOKEN)
        .var("TWILIO_WHATSAPP_NUMBER", CLINIC_NUMBER)
        .var("TWILIO_API_BASE", &twilio.uri()),
    )
    .await
}

fn form(request: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).expect("a form")
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn reply_of(app: &TestApp) -> (String, Value) {
    app.receive(message_received(PATIENT, "Hola")).await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().unwrap().to_owned();
    let reply = app.bot_replies(&id, 1).await.remove(0);
    (id, reply)
}

#[tokio::test]
async fn a_reply_is_posted_to_twilio_with_to_from_body_and_status_callback() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(basic_auth(SID, TOKEN))
        .respond_with(created("SM11111111111111111111111111111111"))
        .expect(1)
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    let (_, reply) = reply_of(&app).await;
    assert_eq!(reply["provider"], "twilio");
    assert_eq!(reply["delivery_status"], "queued");
    assert_eq!(
        reply["provider_message_id"],
        "SM11111111111111111111111111111111"
    );
    let requests = twilio.received_requests().await.unwrap();
    let sent = form(&requests[0]);
    assert_eq!(field(&sent, "To"), Some("whatsapp:+573001234567"));
    assert_eq!(field(&sent, "From"), Some("whatsapp:+14155238886"));
    assert_eq!(field(&sent, "Body"), reply["body"].as_str());
    assert_eq!(
        field(&sent, "StatusCallback"),
        Some("https://prm.example.test/api/v1/prm/webhooks/twilio/status")
    );
    assert!(
        app.recording.recorded().is_empty(),
        "sent for real, not recorded"
    );
}

#[tokio::test]
async fn a_refusal_is_recorded_as_failed_with_twilios_code_and_not_sent_again() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.",
            "more_info": "https://www.twilio.com/docs/errors/63016", "status": 400
        })))
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    let (_, reply) = reply_of(&app).await;
    assert_eq!(reply["delivery_status"], "failed");
    assert_eq!(reply["error_code"], "63016");
    app.app.sweep().await;
    assert_eq!(twilio.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_twilio_500_is_failed_after_one_post_since_it_may_have_gone_out() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"code": 20500, "message": "Internal Server Error", "status": 500}),
        ))
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    let (_, reply) = reply_of(&app).await;
    assert_eq!(reply["delivery_status"], "failed");
    assert_eq!(reply["error_code"], "20500");
    app.app.sweep().await;
    assert_eq!(
        twilio.received_requests().await.unwrap().len(),
        1,
        "never twice"
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_sends_once() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(
                    json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                ),
        )
        .up_to_n_times(1)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created("SM22222222222222222222222222222222"))
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    let (_, reply) = reply_of(&app).await;
    assert_eq!(reply["delivery_status"], "queued");
    assert_eq!(
        reply["provider_message_id"],
        "SM22222222222222222222222222222222"
    );
    assert_eq!(twilio.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_timeout_after_sending_is_failed_as_unknown_and_never_resent() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            created("SM33333333333333333333333333333333").set_delay(Duration::from_secs(30)),
        )
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    app.receive(message_received(PATIENT, "Hola")).await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().unwrap().to_owned();
    let reply = eventually(Duration::from_secs(40), || async {
        app.messages(&id)
            .await
            .into_iter()
            .find(|m| m["author"] == "bot" && m["delivery_status"] == "failed")
    })
    .await;
    assert_eq!(reply["error_code"], "outcome_unknown");
    app.app.sweep().await;
    assert_eq!(twilio.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_status_report_that_comes_before_the_sends_answer_is_not_lost() {
    let twilio = MockServer::start().await;
    let sid = "SM44444444444444444444444444444444";
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created(sid).set_delay(Duration::from_millis(800)))
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    app.receive(message_received(PATIENT, "Hola")).await;
    // Twilio reports delivery while its answer to the POST is still on its way.
    eventually(Duration::from_secs(5), || async {
        (twilio.received_requests().await.unwrap_or_default().len() == 1).then_some(())
    })
    .await;
    let report = |status| {
        Envelope::new(
            "webhooks",
            MessageStatusUpdated {
                message_id: None,
                provider: MessageProvider::Twilio,
                provider_message_id: sid.to_owned(),
                status,
                error_code: None,
                updated_at: chrono::Utc::now(),
            },
        )
    };
    app.publish(&report(DeliveryStatus::Delivered)).await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().unwrap().to_owned();
    let reply = app.bot_replies(&id, 1).await.remove(0);
    assert_eq!(reply["delivery_status"], "delivered", "{reply}");
    // Later reports only move it forward.
    app.publish(&report(DeliveryStatus::Sent)).await;
    app.publish(&report(DeliveryStatus::Read)).await;
    app.publish(&report(DeliveryStatus::Delivered)).await;
    let read = eventually(Duration::from_secs(5), || async {
        let m = app.bot_replies(&id, 1).await.remove(0);
        (m["delivery_status"] == "read").then_some(m)
    })
    .await;
    assert_eq!(read["provider_message_id"], sid);
    app.publish(&report(DeliveryStatus::Undelivered)).await;
    eventually(Duration::from_secs(5), || async {
        let m = app.bot_replies(&id, 1).await.remove(0);
        (m["delivery_status"] == "undelivered").then_some(())
    })
    .await;
    app.publish(&report(DeliveryStatus::Read)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = app.bot_replies(&id, 1).await.remove(0);
    assert_eq!(last["delivery_status"], "undelivered", "final");
}

//! The Meta adapter against a local fake of the Cloud API's messages endpoint
//! (wiremock), speaking Meta's JSON. No test leaves 127.0.0.1.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use prm_domain::{Channel, PhoneNumber};
use prm_meta::{MetaClient, MetaConfig, MetaError, MetaSender};
use prm_twilio::{
    ContentTemplate, MessageSender, MessageStatus, OutboundMessage, RetryPolicy, SendError,
    WhatsappTemplate,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "EAAG-fake-access-token";
const PHONE_NUMBER_ID: &str = "106540352242922";
const MESSAGES_PATH: &str = "/v21.0/106540352242922/messages";
const WAMID: &str = "wamid.HBgMNTczMDAxMjM0NTY3FQIAERgSQjRGRTc1QzFGRjM0RjhBMTk3AA==";
const BODY: &str = "Hola María, su cita es el lunes";

fn patient() -> PhoneNumber {
    PhoneNumber::parse("+573001234567", "57").unwrap()
}

fn retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(2),
    }
}

fn config(server: &MockServer) -> MetaConfig {
    MetaConfig::new(SecretString::from(TOKEN.to_owned()), PHONE_NUMBER_ID)
        .with_graph_api_base(format!("{}/v21.0", server.uri()))
        .with_retry(retries(3))
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
}

fn sender(server: &MockServer) -> MetaSender {
    MetaSender::from_config(config(server)).unwrap()
}

/// Meta's answer to an accepted message.
fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": "573001234567", "wa_id": "573001234567" }],
        "messages": [{ "id": WAMID, "message_status": "accepted" }]
    }))
}

/// Meta's error answer.
fn meta_error(status: u16, code: u32, subcode: Option<u32>, message: &str) -> ResponseTemplate {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK_123"
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    ResponseTemplate::new(status).set_body_json(json!({ "error": error }))
}

async fn fake_meta(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn json_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// Sends `message` to a fake that expects exactly `expected` as the body, with the
/// bearer token, on the sender's path; answers what was sent.
async fn send_expecting(message: OutboundMessage, expected: Value) -> prm_twilio::SentMessage {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let sent = sender(&server).send(message).await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(json_of(&requests[0]), expected);
    sent.unwrap()
}

#[tokio::test]
async fn a_text_goes_out_as_meta_expects_it() {
    let sent = send_expecting(
        OutboundMessage::whatsapp(patient(), BODY).with_status_callback("https://ignored"),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "573001234567",
            "type": "text",
            "text": { "preview_url": false, "body": BODY }
        }),
    )
    .await;
    assert_eq!(sent.provider_message_id, WAMID);
    assert_eq!(sent.status, MessageStatus::Accepted);
}

#[tokio::test]
async fn media_goes_out_by_link_with_the_body_as_caption() {
    let image = OutboundMessage::whatsapp(patient(), "Su orden")
        .with_media("https://cdn.example/orders/orden.jpg");
    send_expecting(
        image,
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "573001234567", "type": "image",
            "image": { "link": "https://cdn.example/orders/orden.jpg", "caption": "Su orden" }
        }),
    )
    .await;

    let document = OutboundMessage {
        body: None,
        ..OutboundMessage::whatsapp(patient(), "")
    }
    .with_media("https://cdn.example/labs/resultados.pdf?sig=abc");
    send_expecting(
        document,
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "573001234567", "type": "document",
            "document": {
                "link": "https://cdn.example/labs/resultados.pdf?sig=abc",
                "filename": "resultados.pdf"
            }
        }),
    )
    .await;

    for (link, kind) in [
        ("https://cdn.example/indicaciones.ogg", "audio"),
        ("https://cdn.example/ejercicios.mp4", "video"),
    ] {
        let message = OutboundMessage {
            body: None,
            ..OutboundMessage::whatsapp(patient(), "")
        }
        .with_media(link);
        send_expecting(
            message,
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual",
                "to": "573001234567", "type": kind, kind: { "link": link }
            }),
        )
        .await;
    }
}

#[tokio::test]
async fn a_template_goes_out_with_its_variables() {
    let message = OutboundMessage::whatsapp(patient(), "Recuerde su cita del lunes a las 3")
        .with_media("https://cdn.example/mapa.png")
        .with_template(ContentTemplate {
            content_sid: "HX0123".into(),
            variables: None,
        })
        .with_whatsapp_template(WhatsappTemplate {
            name: "appointment_reminder".into(),
            language: "es".into(),
            variables: vec!["lunes".into(), "3:00 p. m.".into()],
        });
    send_expecting(
        message,
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "573001234567", "type": "template",
            "template": {
                "name": "appointment_reminder",
                "language": { "code": "es" },
                "components": [{
                    "type": "body",
                    "parameters": [
                        { "type": "text", "text": "lunes" },
                        { "type": "text", "text": "3:00 p. m." }
                    ]
                }]
            }
        }),
    )
    .await;

    // A template without variables has no components.
    let plain = OutboundMessage {
        body: None,
        ..OutboundMessage::whatsapp(patient(), "")
    }
    .with_whatsapp_template(WhatsappTemplate {
        name: "hello_world".into(),
        language: "en_US".into(),
        variables: vec![],
    });
    send_expecting(
        plain,
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "573001234567", "type": "template",
            "template": { "name": "hello_world", "language": { "code": "en_US" } }
        }),
    )
    .await;
}

#[tokio::test]
async fn what_meta_cannot_carry_never_reaches_it() {
    let server = fake_meta(accepted()).await;
    let sender = sender(&server);
    let cases: [(OutboundMessage, &str); 5] = [
        (OutboundMessage::sms(patient(), BODY), "unsupported_channel"),
        (OutboundMessage::whatsapp(patient(), " "), "empty_message"),
        (
            OutboundMessage::whatsapp(patient(), BODY).with_template(ContentTemplate {
                content_sid: "HX0123".into(),
                variables: None,
            }),
            "template_missing",
        ),
        (
            OutboundMessage::whatsapp(patient(), BODY)
                .with_media("https://cdn.example/a.jpg")
                .with_media("https://cdn.example/b.jpg"),
            "not_sendable",
        ),
        (
            OutboundMessage::whatsapp(patient(), BODY).with_media("https://cdn.example/nota.ogg"),
            "not_sendable",
        ),
    ];
    for (message, reason) in cases {
        let err = sender.send(message).await.unwrap_err();
        assert_eq!(err.reason(), reason, "{err:?}");
        assert_eq!(err.provider_code(), None);
    }
    let email = OutboundMessage {
        channel: Channel::Email,
        ..OutboundMessage::whatsapp(patient(), BODY)
    };
    assert!(matches!(
        sender.send(email).await,
        Err(SendError::UnsupportedChannel(Channel::Email))
    ));
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn meta_errors_become_port_errors_with_the_code_to_record() {
    /// Meta answers `status` with `code`: the port error, its reason, and how many
    /// requests Meta saw.
    struct Case {
        status: u16,
        code: u32,
        subcode: Option<u32>,
        text: &'static str,
        is_expected: fn(&SendError) -> bool,
        reason: &'static str,
        attempts: usize,
    }
    let case = |status, code, subcode, text, is_expected, reason, attempts| Case {
        status,
        code,
        subcode,
        text,
        is_expected,
        reason,
        attempts,
    };
    #[rustfmt::skip]
    let cases = [
        case(400, 131047, Some(2494010), "(#131047) Re-engagement message", |e| matches!(e, SendError::OutsideSessionWindow(_)), "outside_session_window", 1),
        case(400, 131026, None, "(#131026) Message Undeliverable.", |e| matches!(e, SendError::Rejected(_)), "rejected", 1),
        case(400, 100, Some(2494010), "(#100) Invalid parameter", |e| matches!(e, SendError::Rejected(_)), "rejected", 1),
        case(400, 131030, None, "(#131030) Recipient phone number not in allowed list", |e| matches!(e, SendError::Rejected(_)), "rejected", 1),
        case(401, 190, Some(463), "Error validating access token: Session has expired", |e| matches!(e, SendError::Rejected(_)), "rejected", 1),
        case(400, 131050, None, "(#131050) Unable to deliver the message", |e| matches!(e, SendError::OptedOut(_)), "opted_out", 1),
        // Rate limits and unavailability: surely not sent, retried, then "try later".
        case(400, 130429, None, "(#130429) Rate limit hit", |e| matches!(e, SendError::Unavailable(_)) && e.is_transient(), "unavailable", 3),
        case(400, 131056, None, "(#131056) (Business Account, Consumer Account) pair rate limit hit", |e| matches!(e, SendError::Unavailable(_)), "unavailable", 3),
        case(429, 80007, None, "(#80007) Rate limit issues", |e| matches!(e, SendError::Unavailable(_)), "unavailable", 3),
        case(403, 4, None, "(#4) Application request limit reached", |e| matches!(e, SendError::Unavailable(_)), "unavailable", 3),
        case(503, 131016, None, "(#131016) Service unavailable", |e| matches!(e, SendError::Unavailable(_)), "unavailable", 3),
        case(500, 2, None, "Service temporarily unavailable", |e| matches!(e, SendError::Unavailable(_)), "unavailable", 3),
        // A 500 that may come after the message was accepted: not repeated.
        case(500, 131000, None, "(#131000) Something went wrong", |e| matches!(e, SendError::OutcomeUnknown(_)) && !e.is_transient(), "outcome_unknown", 1),
    ];
    for Case {
        status,
        code,
        subcode,
        text,
        is_expected,
        reason,
        attempts,
    } in cases
    {
        let server = fake_meta(meta_error(status, code, subcode, text)).await;
        let err = sender(&server)
            .send(OutboundMessage::whatsapp(patient(), BODY))
            .await
            .unwrap_err();
        assert!(is_expected(&err), "code {code} gave {err:?}");
        assert_eq!(err.reason(), reason, "code {code}");
        assert_eq!(err.provider_code(), Some(code.to_string().as_str()));
        assert_eq!(err.retry_after(), None);
        assert_eq!(received(&server).await.len(), attempts, "code {code}");
        let meta = err
            .provider_failure()
            .and_then(|f| f.error().downcast_ref::<MetaError>())
            .expect("Meta's error is kept");
        assert_eq!(meta.fbtrace_id(), Some("AbCdEfGhIjK_123"));
    }
}

#[tokio::test]
async fn a_gateway_error_without_meta_json_is_an_unknown_outcome() {
    let server =
        fake_meta(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")).await;
    let err = sender(&server)
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown(_)), "{err:?}");
    assert_eq!(err.provider_code(), None);
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn rate_limited_then_accepted_sends_one_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(meta_error(400, 130429, None, "(#130429) Rate limit hit"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(accepted())
        .with_priority(2)
        .mount(&server)
        .await;
    let sent = sender(&server)
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, WAMID);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(json_of(&requests[0]), json_of(&requests[1]));
}

#[tokio::test]
async fn a_send_that_timed_out_is_an_unknown_outcome_and_not_repeated() {
    let server = fake_meta(accepted().set_delay(Duration::from_secs(2))).await;
    let config = config(&server).with_timeouts(Duration::from_secs(1), Duration::from_millis(200));
    let err = MetaSender::from_config(config)
        .unwrap()
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown(_)), "{err:?}");
    assert_eq!(err.reason(), "outcome_unknown");
    assert_eq!(received(&server).await.len(), 1, "the send was repeated");
}

#[tokio::test]
async fn an_answer_without_the_id_is_an_unknown_outcome() {
    let server = fake_meta(
        ResponseTemplate::new(200).set_body_json(json!({"messaging_product": "whatsapp"})),
    )
    .await;
    let err = sender(&server)
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown(_)), "{err:?}");
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_meta_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v21.0", listener.local_addr().unwrap());
    drop(listener);
    let config = MetaConfig::new(SecretString::from(TOKEN.to_owned()), PHONE_NUMBER_ID)
        .with_graph_api_base(base)
        .with_retry(retries(2));
    let err = MetaSender::new(MetaClient::new(config).unwrap())
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Unavailable(_)), "{err:?}");
    let meta = err
        .provider_failure()
        .and_then(|f| f.error().downcast_ref::<MetaError>())
        .unwrap();
    assert!(matches!(meta, MetaError::Transport(_)), "{meta:?}");
}

#[tokio::test]
async fn rate_limits_stop_at_the_wait_budget() {
    let server = fake_meta(meta_error(400, 131056, None, "pair rate limit hit")).await;
    // Backoff of 300 ms or more against a budget of 100 ms: no retry at all.
    let config = config(&server).with_retry(RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(600),
        max_backoff: Duration::from_secs(1),
        max_wait: Duration::from_millis(100),
    });
    let err = MetaSender::from_config(config)
        .unwrap()
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Unavailable(_)), "{err:?}");
    assert_eq!(received(&server).await.len(), 1);
}

#[test]
fn configuration_names_the_variable_at_fault() {
    let err = MetaSender::from_config(MetaConfig::new(
        SecretString::from(TOKEN.to_owned()),
        "+573001234567",
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("WHATSAPP_PHONE_NUMBER_ID"),
        "{err}"
    );
}

//! The outbound messaging port: the Twilio adapter against a local fake, the
//! recording adapter, and what reaches the logs.

use std::sync::Arc;
use std::time::Duration;

use prm_domain::{Channel, PhoneNumber};
use prm_twilio::{
    ContentTemplate, MessageSender, MessageStatus, OutboundMessage, RecordingSender, RetryPolicy,
    SendError, Sender, TwilioClient, TwilioConfig, TwilioError, TwilioSender, WhatsappTemplate,
    parse_form,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake-auth-token";
const MESSAGES_PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
const BODY: &str = "Hola María, su cita es el lunes";

fn patient() -> PhoneNumber {
    PhoneNumber::parse("+573001234567", "57").expect("valid")
}

fn config(base: &str) -> TwilioConfig {
    TwilioConfig::new(SID, SecretString::from(TOKEN.to_owned()))
        .with_api_base(base)
        .with_retry(RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
            max_wait: Duration::from_secs(2),
        })
}

fn twilio_sender(base: &str, from: Sender) -> TwilioSender {
    TwilioSender::new(TwilioClient::new(config(base)).expect("valid config"), from)
}

async fn fake_twilio(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(basic_auth(SID, TOKEN))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": "SM00000000000000000000000000000001", "status": "queued",
        "to": "whatsapp:+573001234567", "from": "whatsapp:+14155238886", "body": BODY
    }))
}

fn refused(code: u32, status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code, "message": "The 'To' number +573001234567 is refused", "more_info": "x", "status": status
    }))
}

async fn sent_forms(server: &MockServer) -> Vec<Vec<(String, String)>> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .iter()
        .map(|r| parse_form(&r.body).expect("form"))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn whatsapp_messages_get_the_prefix_on_both_ends() {
    let server = fake_twilio(created()).await;
    // Configured without the prefix, as TWILIO_WHATSAPP_NUMBER usually is.
    let sender = twilio_sender(&server.uri(), Sender::Number("+14155238886".into()));

    let sent = sender
        .send(
            OutboundMessage::whatsapp(patient(), BODY)
                .with_status_callback("https://prm.example.com/status"),
        )
        .await
        .expect("sent");
    assert_eq!(
        sent.provider_message_id,
        "SM00000000000000000000000000000001"
    );
    assert_eq!(sent.status, MessageStatus::Queued);

    let forms = sent_forms(&server).await;
    assert_eq!(forms.len(), 1);
    assert_eq!(field(&forms[0], "To"), Some("whatsapp:+573001234567"));
    assert_eq!(field(&forms[0], "From"), Some("whatsapp:+14155238886"));
    assert_eq!(field(&forms[0], "Body"), Some(BODY));
    assert_eq!(
        field(&forms[0], "StatusCallback"),
        Some("https://prm.example.com/status")
    );
}

#[tokio::test]
async fn sms_messages_have_no_prefix() {
    let server = fake_twilio(created()).await;
    let sender = twilio_sender(
        &server.uri(),
        Sender::Number("whatsapp:+14155238886".into()),
    );
    sender
        .send(OutboundMessage::sms(patient(), BODY))
        .await
        .expect("sent");
    let forms = sent_forms(&server).await;
    assert_eq!(field(&forms[0], "To"), Some("+573001234567"));
    assert_eq!(field(&forms[0], "From"), Some("+14155238886"));
}

#[tokio::test]
async fn templates_and_media_are_passed_through() {
    let server = fake_twilio(created()).await;
    let sender = twilio_sender(&server.uri(), Sender::MessagingService("MG0123".into()));
    let message = OutboundMessage {
        body: None,
        ..OutboundMessage::whatsapp(patient(), "")
    }
    .with_media("https://cdn.example/map.png")
    .with_template(ContentTemplate {
        content_sid: "HX0123".into(),
        variables: Some(json!({"1": "lunes"})),
    });
    sender.send(message).await.expect("sent");

    let form = &sent_forms(&server).await[0];
    assert_eq!(field(form, "MessagingServiceSid"), Some("MG0123"));
    assert_eq!(field(form, "From"), None);
    assert_eq!(field(form, "Body"), None);
    assert_eq!(field(form, "MediaUrl"), Some("https://cdn.example/map.png"));
    assert_eq!(field(form, "ContentSid"), Some("HX0123"));
    assert_eq!(field(form, "ContentVariables"), Some(r#"{"1":"lunes"}"#));
}

#[tokio::test]
async fn twilio_refusals_become_port_errors_with_the_code_to_record() {
    type IsExpected = fn(&SendError) -> bool;
    let cases: [(u32, u16, IsExpected, &str, usize); 8] = [
        (
            21211,
            400,
            |e| matches!(e, SendError::InvalidRecipient(_)),
            "invalid_recipient",
            1,
        ),
        (
            21610,
            400,
            |e| matches!(e, SendError::OptedOut(_)),
            "opted_out",
            1,
        ),
        (
            63016,
            400,
            |e| matches!(e, SendError::OutsideSessionWindow(_)),
            "outside_session_window",
            1,
        ),
        (
            21602,
            400,
            |e| matches!(e, SendError::Rejected(_)),
            "rejected",
            1,
        ),
        (
            20003,
            401,
            |e| matches!(e, SendError::Rejected(_)),
            "rejected",
            1,
        ),
        // Rate limited or unavailable: surely not created, retried, then "try later".
        (
            20429,
            429,
            |e| matches!(e, SendError::Unavailable(_)) && e.is_transient(),
            "unavailable",
            2,
        ),
        (
            20503,
            503,
            |e| matches!(e, SendError::Unavailable(_)) && e.is_transient(),
            "unavailable",
            2,
        ),
        // A 500 may come after the message was created: not repeated, not "try later".
        (
            20500,
            500,
            |e| matches!(e, SendError::OutcomeUnknown(_)) && !e.is_transient(),
            "outcome_unknown",
            1,
        ),
    ];
    for (code, status, is_expected, reason, attempts) in cases {
        let server = fake_twilio(refused(code, status)).await;
        let sender = twilio_sender(&server.uri(), Sender::Number("+14155238886".into()));
        let err = sender
            .send(OutboundMessage::whatsapp(patient(), BODY))
            .await
            .expect_err("refused");
        assert!(is_expected(&err), "code {code} gave {err:?}");
        assert_eq!(err.reason(), reason, "code {code}");
        assert_eq!(err.provider_code(), Some(code.to_string().as_str()));
        assert_eq!(sent_forms(&server).await.len(), attempts, "code {code}");
        // The cause chain leads to Twilio's error, for logs and support.
        let cause = err
            .provider_failure()
            .and_then(|f| f.error().downcast_ref::<TwilioError>())
            .expect("the Twilio error is kept");
        assert_eq!(cause.code(), Some(code));
    }
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_budget_tells_when_to_send_again() {
    let server = fake_twilio(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "120")
            .set_body_json(json!({"code": 20429, "message": "Too Many Requests", "status": 429})),
    )
    .await;
    let sender = twilio_sender(&server.uri(), Sender::Number("+14155238886".into()));
    let err = sender
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .expect_err("rate limited");
    assert!(matches!(err, SendError::Unavailable(_)), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(err.provider_code(), Some("20429"));
    assert_eq!(sent_forms(&server).await.len(), 1);
}

#[tokio::test]
async fn rate_limit_then_created_sends_one_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(
                    json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(created())
        .with_priority(2)
        .mount(&server)
        .await;
    let sender = twilio_sender(&server.uri(), Sender::Number("+14155238886".into()));
    let sent = sender
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .expect("sent after the wait");
    assert_eq!(
        sent.provider_message_id,
        "SM00000000000000000000000000000001"
    );
    let forms = sent_forms(&server).await;
    assert_eq!(forms.len(), 2, "one refused attempt, one created message");
    assert_eq!(forms[0], forms[1]);
}

#[tokio::test]
async fn a_send_that_timed_out_is_an_unknown_outcome_and_not_repeated() {
    let server = fake_twilio(created().set_delay(Duration::from_secs(2))).await;
    let config =
        config(&server.uri()).with_timeouts(Duration::from_secs(1), Duration::from_millis(200));
    let sender = TwilioSender::new(
        TwilioClient::new(config).expect("valid config"),
        Sender::Number("+14155238886".into()),
    );
    let err = sender
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .expect_err("times out");
    assert!(matches!(err, SendError::OutcomeUnknown(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(err.reason(), "outcome_unknown");
    assert_eq!(err.provider_code(), None);
    assert_eq!(sent_forms(&server).await.len(), 1, "the send was repeated");
}

#[tokio::test]
async fn an_unreachable_twilio_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let err = twilio_sender(&base, Sender::Number("+14155238886".into()))
        .send(OutboundMessage::whatsapp(patient(), BODY))
        .await
        .expect_err("refused");
    assert!(matches!(err, SendError::Unavailable(_)), "{err:?}");
    assert_eq!(err.reason(), "unavailable");
    assert_eq!(err.provider_code(), None);
}

#[tokio::test]
async fn unsendable_messages_never_reach_twilio() {
    let server = fake_twilio(created()).await;
    let sender = twilio_sender(&server.uri(), Sender::Number("+14155238886".into()));

    let email = OutboundMessage {
        channel: Channel::Email,
        ..OutboundMessage::whatsapp(patient(), BODY)
    };
    assert!(matches!(
        sender.send(email).await,
        Err(SendError::UnsupportedChannel(Channel::Email))
    ));
    assert!(matches!(
        sender
            .send(OutboundMessage::whatsapp(patient(), "  "))
            .await,
        Err(SendError::EmptyMessage)
    ));
    assert!(sent_forms(&server).await.is_empty());
}

#[test]
fn from_config_needs_the_whatsapp_number() {
    let mut config = config("http://127.0.0.1:9");
    assert!(matches!(
        TwilioSender::from_config(config.clone()),
        Err(prm_twilio::ConfigError::Missing {
            var: "TWILIO_WHATSAPP_NUMBER"
        })
    ));
    config.whatsapp_number = Some(PhoneNumber::parse("+14155238886", "1").expect("valid"));
    assert!(TwilioSender::from_config(config).is_ok());
}

#[tokio::test]
async fn recording_sender_keeps_every_message() {
    let recorder = Arc::new(RecordingSender::new());
    let port: Arc<dyn MessageSender> = recorder.clone();
    let other = PhoneNumber::parse("+573009999999", "57").expect("valid");

    let first = port
        .send(OutboundMessage::whatsapp(patient(), "uno"))
        .await
        .expect("recorded");
    let second = port
        .send(OutboundMessage::sms(other.clone(), "dos"))
        .await
        .expect("recorded");
    let third = port
        .send(OutboundMessage::whatsapp(patient(), "tres"))
        .await
        .expect("recorded");

    for sent in [&first, &second, &third] {
        let id = &sent.provider_message_id;
        assert!(id.starts_with("SM") && id.len() == 34, "{id}");
        assert!(id[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(sent.status, MessageStatus::Queued);
    }
    assert_ne!(first.provider_message_id, third.provider_message_id);

    let all = recorder.recorded();
    assert_eq!(recorder.len(), 3);
    let bodies: Vec<_> = all
        .iter()
        .map(|m| m.message.body.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(bodies, ["uno", "dos", "tres"]);
    assert_eq!(all[1].provider_message_id, second.provider_message_id);
    assert_eq!(all[1].message.channel, Channel::Sms);

    let to_patient = recorder.recorded_to(&patient());
    assert_eq!(to_patient.len(), 2);
    assert_eq!(to_patient[1].message.body.as_deref(), Some("tres"));

    // Recorded messages are what the API shows: they serialize.
    let json = serde_json::to_value(&all[0]).expect("serializes");
    assert_eq!(json["message"]["to"], "+573001234567");
    assert_eq!(json["message"]["channel"], "whatsapp");

    recorder.clear();
    assert!(recorder.is_empty());
}

#[tokio::test]
async fn recording_sender_refuses_what_twilio_would() {
    let recorder = RecordingSender::new();
    let phone_call = OutboundMessage {
        channel: Channel::Phone,
        ..OutboundMessage::sms(patient(), BODY)
    };
    assert!(matches!(
        recorder.send(phone_call).await,
        Err(SendError::UnsupportedChannel(Channel::Phone))
    ));
    assert!(matches!(
        recorder.send(OutboundMessage::sms(patient(), "")).await,
        Err(SendError::EmptyMessage)
    ));
    assert!(recorder.is_empty());
}

fn reminder_template() -> WhatsappTemplate {
    WhatsappTemplate {
        name: "appointment_reminder".into(),
        language: "es".into(),
        variables: vec!["lunes".into(), "3:00 p. m.".into()],
    }
}

#[tokio::test]
async fn a_meta_template_alone_is_not_sent_as_text_through_twilio() {
    let server = fake_twilio(created()).await;
    let sender = twilio_sender(&server.uri(), Sender::Number("+14155238886".into()));
    let message = OutboundMessage::whatsapp(patient(), "Recuerde su cita del lunes")
        .with_whatsapp_template(reminder_template());
    let err = sender
        .send(message.clone())
        .await
        .expect_err("no ContentSid");
    assert!(matches!(err, SendError::TemplateMissing), "{err:?}");
    assert_eq!(err.reason(), "template_missing");
    assert!(sent_forms(&server).await.is_empty());

    // With both templates, Twilio sends its own.
    let both = message.with_template(ContentTemplate {
        content_sid: "HX0123".into(),
        variables: Some(json!({"1": "lunes"})),
    });
    sender.send(both).await.expect("sent");
    let forms = sent_forms(&server).await;
    assert_eq!(field(&forms[0], "ContentSid"), Some("HX0123"));
}

#[tokio::test]
async fn recording_sender_keeps_template_messages() {
    let recorder = RecordingSender::new();
    let message = OutboundMessage {
        body: None,
        ..OutboundMessage::whatsapp(patient(), "")
    }
    .with_whatsapp_template(reminder_template());
    recorder.send(message).await.expect("recorded");
    let recorded = recorder.recorded();
    assert_eq!(
        recorded[0].message.whatsapp_template,
        Some(reminder_template())
    );
    let json = serde_json::to_value(&recorded[0]).expect("serializes");
    assert_eq!(
        json["message"]["whatsapp_template"]["name"],
        "appointment_reminder"
    );
}

#[test]
fn messages_stored_before_templates_existed_still_read() {
    let stored = json!({
        "channel": "whatsapp", "to": "+573001234567", "body": "hola",
        "media_urls": [], "template": null, "status_callback": null
    });
    let message: OutboundMessage = serde_json::from_value(stored).expect("reads");
    assert_eq!(message.whatsapp_template, None);
    assert!(!message.is_template());
}

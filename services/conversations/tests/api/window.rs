//! WhatsApp's 24-hour window: a message to a patient who last wrote over 24 hours ago
//! goes out as the purpose's approved template (the fake Twilio sees `ContentSid` and
//! `ContentVariables`, no `Body`); without one it is failed `outside_session_window`
//! and Twilio sees nothing; Twilio's own refusal (63016) shows as failed with its code.
//! Inside the window, messages go out as text, as always.

use chrono::{TimeDelta, Utc};
use prm_domain::events::Envelope;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{body_string_contains, method, path},
};

use crate::{
    helpers::*,
    templates::{appointment, clinic_and_conversation, put},
};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
const CONTENT_SID: &str = "HX0123456789abcdef0123456789abcdef";
const CONFIRMATION_ES: &str = "/api/v1/prm/templates/confirmation/es";

/// Twilio's 201, with a new `MessageSid` each time.
struct Created;

impl Respond for Created {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({
            "sid": format!("SM{}", uuid::Uuid::new_v4().simple()), "status": "queued",
            "to": "whatsapp:+573001234567", "from": "whatsapp:+14155238886"
        }))
    }
}

fn created() -> Created {
    Created
}

async fn twilio_app(twilio: &MockServer) -> TestApp {
    spawn(
        Spawn {
            from_settings: true,
            ..Spawn::default()
        }
        .at(Utc::now())
        .var("TWILIO_ACCOUNT_SID", SID)
        .var("TWILIO_AUTH_TOKEN", "fake-twilio-token")
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

async fn with_twilio_template(app: &TestApp) {
    let written = put(
        app,
        CONFIRMATION_ES,
        json!({
            "body": "{patient_name}, tu cita es el {date} a las {time}",
            "twilio": {"content_sid": CONTENT_SID, "variables": ["patient_name", "date", "time"]}
        }),
    )
    .await;
    assert_eq!(written.status(), 200);
}

/// The confirmation, once settled (handed over or failed).
async fn confirmation(app: &TestApp, id: &str) -> Value {
    app.bot_replies(id, 2)
        .await
        .into_iter()
        .find(|r| r["purpose"] == "appointment_confirmation")
        .expect("the confirmation is recorded")
}

#[tokio::test]
async fn outside_the_window_the_confirmation_goes_out_as_the_twilio_template() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created())
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    with_twilio_template(&app).await;
    let (location, id) = clinic_and_conversation(&app).await;
    app.kit.clock().advance(TimeDelta::hours(25));
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let sent = confirmation(&app, &id).await;
    assert_eq!(sent["delivery_status"], "queued", "{sent}");
    assert!(sent["error_code"].is_null());
    assert_eq!(
        sent["body"], "Ana Ruiz, tu cita es el miércoles 9 de enero a las 9:30 a. m.",
        "staff read what the template says"
    );
    let requests = twilio.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "the reply to hola, then the template");
    let posted = form(&requests[1]);
    assert_eq!(field(&posted, "ContentSid"), Some(CONTENT_SID));
    let variables: Value =
        serde_json::from_str(field(&posted, "ContentVariables").expect("variables")).unwrap();
    assert_eq!(
        variables,
        json!({"1": "Ana Ruiz", "2": "miércoles 9 de enero", "3": "9:30 a. m."})
    );
    assert_eq!(field(&posted, "Body"), None, "a template, not free text");
    assert_eq!(field(&posted, "To"), Some("whatsapp:+573001234567"));
}

#[tokio::test]
async fn twilios_63016_refusal_of_the_template_shows_as_failed_with_its_code() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains("ContentSid"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.",
            "more_info": "https://www.twilio.com/docs/errors/63016", "status": 400
        })))
        .with_priority(1)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created())
        .with_priority(2)
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    with_twilio_template(&app).await;
    let (location, id) = clinic_and_conversation(&app).await;
    app.kit.clock().advance(TimeDelta::hours(30));
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let failed = confirmation(&app, &id).await;
    assert_eq!(failed["delivery_status"], "failed");
    assert_eq!(failed["error_code"], "63016");
    // Staff see it in the conversation.
    let detail = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    let shown = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == failed["id"])
        .expect("in the conversation");
    assert_eq!(shown["delivery_status"], "failed");
    assert_eq!(shown["error_code"], "63016");
    app.app.sweep().await;
    assert_eq!(
        twilio.received_requests().await.unwrap().len(),
        2,
        "not sent again"
    );
}

#[tokio::test]
async fn without_a_provider_template_it_is_failed_outside_session_window_and_twilio_sees_nothing() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created())
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    let (location, id) = clinic_and_conversation(&app).await;
    app.kit.clock().advance(TimeDelta::hours(25));
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let failed = confirmation(&app, &id).await;
    assert_eq!(failed["delivery_status"], "failed");
    assert_eq!(failed["error_code"], "outside_session_window");
    // A staff message has no template at all: the same, and staff see why.
    let staff = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/messages"),
            json!({"body": "Hola Ana, ¿sigues ahí?"}),
        )
        .await;
    assert_eq!(staff.status(), 201);
    let staff: Value = staff.json().await.unwrap();
    let shown = eventually(std::time::Duration::from_secs(10), || async {
        app.messages(&id)
            .await
            .into_iter()
            .find(|m| m["id"] == staff["id"] && m["delivery_status"] == "failed")
    })
    .await;
    assert_eq!(shown["error_code"], "outside_session_window");
    assert_eq!(
        twilio.received_requests().await.unwrap().len(),
        1,
        "only the reply to hola, inside the window"
    );
}

#[tokio::test]
async fn inside_the_window_the_text_goes_out_even_when_a_template_exists() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(created())
        .mount(&twilio)
        .await;
    let app = twilio_app(&twilio).await;
    with_twilio_template(&app).await;
    let (location, id) = clinic_and_conversation(&app).await;
    app.kit.clock().advance(TimeDelta::hours(23));
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let sent = confirmation(&app, &id).await;
    assert_eq!(sent["delivery_status"], "queued");
    let requests = twilio.received_requests().await.unwrap();
    let posted = form(&requests[1]);
    assert_eq!(field(&posted, "Body"), sent["body"].as_str());
    assert_eq!(field(&posted, "ContentSid"), None);
}

#[tokio::test]
async fn the_embedded_sender_records_the_template_outside_the_window_as_production_would() {
    let app = spawn(Spawn::default().at(Utc::now())).await;
    with_twilio_template(&app).await;
    let (location, id) = clinic_and_conversation(&app).await;
    app.kit.clock().advance(TimeDelta::hours(25));
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let sent = confirmation(&app, &id).await;
    assert_eq!(sent["delivery_status"], "recorded");
    let recorded = app.recording.recorded_to(&phone(PATIENT));
    let last = &recorded.last().unwrap().message;
    assert_eq!(last.body, None);
    assert_eq!(
        last.template.as_ref().map(|t| t.content_sid.as_str()),
        Some(CONTENT_SID)
    );
    // Back to the built-in text (no provider template): failed, as production would.
    let reset = app
        .request(reqwest::Method::DELETE, CONFIRMATION_ES, None)
        .await;
    assert_eq!(reset.status(), 200);
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let failed = eventually(std::time::Duration::from_secs(10), || async {
        app.messages(&id).await.into_iter().find(|m| {
            m["purpose"] == "appointment_confirmation" && m["delivery_status"] == "failed"
        })
    })
    .await;
    assert_eq!(failed["error_code"], "outside_session_window");
    assert_eq!(app.recording.recorded_to(&phone(PATIENT)).len(), 2);
}

/// Meta's answer to a send, with a new `wamid` each time.
struct Accepted;

impl Respond for Accepted {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "573001234567", "wa_id": "573001234567"}],
            "messages": [{"id": format!("wamid.{}", uuid::Uuid::new_v4().simple())}]
        }))
    }
}

#[tokio::test]
async fn through_meta_the_template_goes_out_by_name_and_131047_shows_as_failed() {
    const PHONE_NUMBER_ID: &str = "106540352242922";
    let meta = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_NUMBER_ID}/messages")))
        .respond_with(Accepted)
        .with_priority(2)
        .mount(&meta)
        .await;
    let app = spawn(
        Spawn {
            from_settings: true,
            ..Spawn::default()
        }
        .at(Utc::now())
        .var("WHATSAPP_ACCESS_TOKEN", "fake-meta-token")
        .var("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .var("WHATSAPP_GRAPH_API_BASE", &format!("{}/v21.0", meta.uri())),
    )
    .await;
    let written = put(
        &app,
        CONFIRMATION_ES,
        json!({
            "body": "{patient_name}, tu cita es el {date} a las {time}",
            "meta": {"name": "confirmacion_cita", "language": "es", "variables": ["patient_name", "time"]}
        }),
    )
    .await;
    assert_eq!(written.status(), 200);
    let location = crate::templates::clinic_only(&app).await;
    let mut hola = message_received(PATIENT, "Hola");
    hola.provider = prm_domain::events::MessageProvider::Meta;
    hola.provider_message_id = format!("wamid.{}", uuid::Uuid::new_v4().simple());
    app.receive(hola).await;
    let id = app.conversation_of(PATIENT).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.bot_replies(&id, 1).await;
    app.kit.clock().advance(TimeDelta::hours(25));
    app.publish(&Envelope::new("appointments", appointment(&location, &id)))
        .await;
    let sent = confirmation(&app, &id).await;
    assert_eq!(sent["provider"], "meta");
    assert!(sent["error_code"].is_null(), "{sent}");
    let requests = meta.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let posted: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(posted["type"], "template");
    assert_eq!(posted["template"]["name"], "confirmacion_cita");
    assert_eq!(posted["template"]["language"]["code"], "es");
    assert_eq!(
        posted["template"]["components"][0]["parameters"],
        json!([{"type": "text", "text": "Ana Ruiz"}, {"type": "text", "text": "9:30 a. m."}])
    );
    assert!(posted.get("text").is_none(), "a template, not free text");

    // Meta refuses it after all (131047): failed with that code, for staff to see.
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_NUMBER_ID}/messages")))
        .and(body_string_contains("\"template\""))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
            "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
        }})))
        .with_priority(1)
        .mount(&meta)
        .await;
    let mut moved = appointment(&location, &id);
    moved.appointment_id = uuid::Uuid::now_v7();
    app.publish(&Envelope::new("appointments", moved)).await;
    let failed = eventually(std::time::Duration::from_secs(10), || async {
        app.messages(&id).await.into_iter().find(|m| {
            m["purpose"] == "appointment_confirmation" && m["delivery_status"] == "failed"
        })
    })
    .await;
    assert_eq!(failed["error_code"], "131047");
}

use prm_domain::events::MessageProvider;
use serde_json::json;

use crate::helpers::*;

const HEADER: &str = "X-PRM-Signature";

fn call(call_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "call_id": call_id,
        "from": "300 123 4567",
        "to": "+576015551234",
        "transcript": [
            {"role": "assistant", "text": "Clínica Norte, ¿en qué le puedo ayudar?"},
            {"role": "user", "text": "Quiero una cita con cardiología el martes 🙏"}
        ],
        "intent": "book_appointment",
        "extracted_data": {"department": "Cardiology"},
        "started_at": "2026-11-22T14:00:00Z",
        "ended_at": "2026-11-22T14:03:10Z"
    }))
    .unwrap()
}

#[tokio::test]
async fn a_signed_call_becomes_one_phone_message() {
    let app = spawn_app().await;
    let id = format!("call_{}", uuid::Uuid::new_v4().simple());
    let r = app
        .post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &call(&id))
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    let events = app.received(&id).await;
    assert_eq!(events.len(), 1);
    let data = &events[0];
    assert_eq!(data["provider"], "voice_agent");
    assert_eq!(data["channel"], "phone");
    assert_eq!(data["from"], "+573001234567");
    assert_eq!(data["to"], "+576015551234");
    assert_eq!(data["body"], "Quiero una cita con cardiología el martes 🙏");
    assert_eq!(
        data["transcription"],
        "assistant: Clínica Norte, ¿en qué le puedo ayudar?\nuser: Quiero una cita con cardiología el martes 🙏"
    );
    assert_eq!(data["received_at"], "2026-11-22T14:03:10Z");
    assert_eq!(data["message_id"], body["message_id"]);
    assert_eq!(
        data["intent"], "book_appointment",
        "the agent's reading is passed on"
    );
    assert_eq!(data["extracted_data"], json!({"department": "Cardiology"}));
}

#[tokio::test]
async fn a_call_is_processed_once() {
    let app = spawn_app().await;
    let id = format!("call_{}", uuid::Uuid::new_v4().simple());
    let body = call(&id);
    let responses = futures::future::join_all(
        (0..8).map(|_| app.post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)),
    )
    .await;
    let mut statuses = Vec::new();
    for r in responses {
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        statuses.push(v["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        statuses.iter().filter(|s| *s == "accepted").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(app.received(&id).await.len(), 1);
    assert_eq!(app.rows(MessageProvider::VoiceAgent, &id).await, 1);
}

#[tokio::test]
async fn plain_text_transcripts_are_accepted() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&json!({"call_id": "c-text-1", "from": "+573001234567", "to": "+576015551234", "transcript": "necesito una cita"})).unwrap();
    assert_eq!(
        app.post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)
            .await
            .status(),
        200
    );
    let events = app.received("c-text-1").await;
    assert_eq!(
        (
            events[0]["body"].as_str(),
            events[0]["transcription"].as_str()
        ),
        (Some("necesito una cita"), Some("necesito una cita"))
    );
}

#[tokio::test]
async fn missing_wrong_or_unconfigured_signatures_are_refused() {
    let app = spawn_app().await;
    let body = call("call-sig");
    problem(
        app.post_json_signed(VOICE_PATH, body.clone(), &[]).await,
        400,
        "bad_request",
    )
    .await;
    let wrong = prm_webhooks::http::sign_sha256(b"not-the-secret", &body);
    problem(
        app.post_json_signed(VOICE_PATH, body.clone(), &[(HEADER, wrong.as_str())])
            .await,
        403,
        "invalid_signature",
    )
    .await;
    let bare =
        prm_webhooks::http::sign_sha256(VOICE_SECRET.as_bytes(), &body).replace("sha256=", "");
    problem(
        app.post_json_signed(VOICE_PATH, body.clone(), &[(HEADER, bare.as_str())])
            .await,
        403,
        "invalid_signature",
    )
    .await;
    // Valid signature over a different body.
    let other = prm_webhooks::http::sign_sha256(VOICE_SECRET.as_bytes(), &call("call-other"));
    problem(
        app.post_json_signed(VOICE_PATH, body.clone(), &[(HEADER, other.as_str())])
            .await,
        403,
        "invalid_signature",
    )
    .await;
    assert_eq!(app.total_rows().await, 0);

    let closed = spawn_app_with(&[("VOICE_AGENT_SECRET", "")]).await;
    let r = closed
        .post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)
        .await;
    let problem_body = problem(r, 503, "unavailable").await;
    assert!(
        problem_body["detail"]
            .as_str()
            .unwrap()
            .contains("VOICE_AGENT_SECRET")
    );
    assert_eq!(closed.total_rows().await, 0);
}

#[tokio::test]
async fn invalid_calls_are_400_or_422() {
    let app = spawn_app().await;
    let sign = |b: &[u8]| prm_webhooks::http::sign_sha256(VOICE_SECRET.as_bytes(), b);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "malformed_json"),
        (
            serde_json::to_vec(&json!({"from": "+573001234567", "transcript": "x"})).unwrap(),
            422,
            "validation_failed",
        ),
        (
            serde_json::to_vec(
                &json!({"call_id": "c", "from": "abc", "to": "+576015551234", "transcript": "x"}),
            )
            .unwrap(),
            422,
            "validation_failed",
        ),
        // No `to` and no TWILIO_WHATSAPP_NUMBER to default to.
        (
            serde_json::to_vec(
                &json!({"call_id": "c", "from": "+573001234567", "transcript": "x"}),
            )
            .unwrap(),
            422,
            "validation_failed",
        ),
        (
            serde_json::to_vec(&json!({"call_id": "c", "from": "+573001234567", "transcript": 42}))
                .unwrap(),
            422,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let signature = sign(&body);
        problem(
            app.post_json_signed(VOICE_PATH, body, &[(HEADER, signature.as_str())])
                .await,
            status,
            code,
        )
        .await;
    }
    assert_eq!(app.total_rows().await, 0);
    app.assert_healthy().await;
}

#[tokio::test]
async fn call_ids_the_table_cannot_hold_are_422() {
    let app = spawn_app().await;
    for call_id in [
        format!("call_{}", "é".repeat(251)),
        "call\u{0}nul".to_owned(),
        " ".to_owned(),
    ] {
        let body = serde_json::to_vec(&json!({"call_id": call_id, "from": "+573001234567", "to": "+576015551234", "transcript": "x"})).unwrap();
        let r = app
            .post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)
            .await;
        let problem_body = problem(r, 422, "validation_failed").await;
        assert_eq!(
            problem_body["errors"][0]["field"], "call_id",
            "{problem_body}"
        );
    }
    let longest = format!("call_{}", "é".repeat(250));
    assert_eq!(longest.chars().count(), 255);
    let body = serde_json::to_vec(&json!({"call_id": longest, "from": "+573001234567", "to": "+576015551234", "transcript": "x"})).unwrap();
    assert_eq!(
        app.post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)
            .await
            .status(),
        200
    );
    assert_eq!(app.total_rows().await, 1);
    app.assert_healthy().await;
}

#[tokio::test]
async fn call_times_outside_years_1_to_9999_are_422_naming_the_field() {
    let app = spawn_app().await;
    for (field, at) in [
        ("ended_at", "-5000-01-01T00:00:00Z"),
        ("started_at", "+200000-01-01T00:00:00Z"),
        ("ended_at", "9999-12-31T20:00:00-05:00"),
    ] {
        let mut value: serde_json::Value = serde_json::from_slice(&call("call_times")).unwrap();
        value[field] = json!(at);
        let body = serde_json::to_vec(&value).unwrap();
        let r = app
            .post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)
            .await;
        let problem_body = problem(r, 422, "validation_failed").await;
        assert_eq!(problem_body["errors"][0]["field"], field, "{problem_body}");
    }
    assert_eq!(app.total_rows().await, 0);
    app.assert_healthy().await;
}

#[tokio::test]
async fn nul_in_transcripts_reaches_the_event_verbatim() {
    let app = spawn_app().await;
    let id = format!("call_{}", uuid::Uuid::new_v4().simple());
    let body = serde_json::to_vec(&json!({
        "call_id": id,
        "from": "+573001234567",
        "to": "+576015551234",
        "transcript": [
            {"role": "assistant\u{0}", "text": "¿Sí?\u{0}"},
            {"role": "user", "text": "una\u{0}cita\u{1b}"}
        ],
        "intent": "book\u{0}",
        "extracted_data": {"note\u{0}": "x\u{0}"},
        "started_at": "2026-11-22T14:00:00Z"
    }))
    .unwrap();
    let r = app
        .post_signed_json(VOICE_PATH, HEADER, VOICE_SECRET, &body)
        .await;
    assert_eq!(r.status(), 200);
    let events = app.received(&id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["body"], "una\u{0}cita\u{1b}");
    assert_eq!(
        events[0]["transcription"],
        "assistant\u{0}: ¿Sí?\u{0}\nuser: una\u{0}cita\u{1b}"
    );
    assert_eq!(events[0]["intent"], "book\u{0}");
    assert_eq!(events[0]["extracted_data"], json!({"note\u{0}": "x\u{0}"}));
    assert_eq!(
        events[0]["provider_fields"],
        json!({"started_at": "2026-11-22T14:00:00Z"})
    );
    app.assert_healthy().await;
}

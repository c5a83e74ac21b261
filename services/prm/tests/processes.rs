//! The booking journey across four processes, as production runs it: prm-webhooks,
//! prm-conversations, prm-appointments and prm-n8n-callbacks, each its own binary on its
//! own port, over one PostgreSQL database, Redis and RabbitMQ, with a fake Twilio (the
//! Messages API and media), a fake OpenAI (transcription) and a fake n8n. The patient
//! speaks only to the webhooks process; the bot answers only through the fake Twilio.
//!
//! They need the real servers, so they run in the PostgreSQL pass of `make test`
//! (`PRM_TEST_BUS=rabbitmq`) and say so in the other.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

#[path = "support/journey.rs"]
mod journey;

use std::time::Duration;

use journey::*;
use prm_testkit::rabbit::EventTap;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, path_regex},
};

#[tokio::test]
async fn a_spanish_and_an_english_patient_book_with_the_event_on_rabbitmq() {
    if !real_servers() {
        return;
    }
    let suite = Suite::start().await;
    let mut created = EventTap::bind(&suite.processes.prefix, "appointment.created").await;

    let ana = phone();
    let mut times = spanish_intake(&suite, &ana).await;
    times.push(suite.say(&ana, "2", "quedó agendada para").await);
    assert!(times.len() <= 10, "{} messages", times.len());

    let john = phone();
    for (text, expect) in [
        ("Hi, I need an appointment with a dermatologist", "name"),
        ("My name is John Smith, born May 3rd 1985", "reason"),
        ("a rash on my arm", "symptom"),
        ("it itches", "allerg"),
        ("none", "medication"),
        ("none", "location"),
        ("any", "day"),
        ("any day 10am", "1."),
        ("1", "appointment is booked for"),
    ] {
        suite.say(&john, text, expect).await;
    }

    let mut patients = Vec::new();
    for _ in 0..2 {
        let (properties, event) = created
            .next(Duration::from_secs(20))
            .await
            .expect("APPOINTMENT_CREATED on RabbitMQ");
        assert_eq!(
            properties.kind().as_ref().map(|k| k.as_str()),
            Some("APPOINTMENT_CREATED")
        );
        assert_eq!(event["source"], "appointments");
        assert_eq!(event["data"]["channel"], "whatsapp");
        assert!(event["data"]["conversation_id"].is_string(), "{event}");
        patients.push(
            event["data"]["patient"]["phone"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    patients.sort();
    let mut expected = vec![ana.clone(), john.clone()];
    expected.sort();
    assert_eq!(patients, expected);
    assert_eq!(suite.conversation(&ana).await["stage"], "booked");
    assert_eq!(suite.conversation(&john).await["stage"], "booked");
    let complaints = suite.processes.complaints();
    assert!(complaints.is_empty(), "{complaints:#?}");
}

#[tokio::test]
async fn ninguno_brings_new_slots_and_one_of_them_books() {
    if !real_servers() {
        return;
    }
    let suite = Suite::start().await;
    let patient = phone();
    spanish_intake(&suite, &patient).await;
    let first_offer = suite.sent.to(&patient).last().unwrap().body.clone();
    suite.say(&patient, "ninguno", "1.").await;
    let second_offer = suite.sent.to(&patient).last().unwrap().body.clone();
    assert_ne!(
        first_offer, second_offer,
        "the same slots were offered again"
    );
    suite.say(&patient, "1", "quedó agendada para").await;
    assert_eq!(suite.conversation(&patient).await["stage"], "booked");
}

#[tokio::test]
async fn the_intake_goes_on_after_redis_lost_the_conversation_state() {
    if !real_servers() {
        return;
    }
    let suite = Suite::start().await;
    let patient = phone();
    for (text, expect) in [
        ("Hola, necesito una cita con el cardiólogo", "nombre"),
        ("Soy Ana Ruiz, nací el 3 de mayo de 1985", "motivo"),
        ("me duele el pecho al subir escaleras", "síntoma"),
    ] {
        suite.say(&patient, text, expect).await;
    }
    // Every key of this suite, as a flush or an expiry would leave Redis.
    let deleted = flush_redis(&suite.processes.prefix);
    assert!(deleted > 0, "the conversation state was not in Redis");
    suite.say(&patient, "me canso mucho", "alergia").await;
    let state: Value = suite
        .http
        .get(suite.processes.get("prm-conversations").url(&format!(
            "/api/v1/prm/conversations/{}/state",
            suite.conversation(&patient).await["id"].as_str().unwrap()
        )))
        .bearer_auth(prm_testkit::processes::API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["extracted_data"]["name"], "Ana Ruiz", "{state}");
    assert!(state["extracted_data"]["symptoms"].is_string(), "{state}");
}

/// Deletes every Redis key under `prefix`; returns how many.
fn flush_redis(prefix: &str) -> usize {
    let keys = std::process::Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "--scan",
            "--pattern",
            &format!("{prefix}*"),
        ])
        .output()
        .expect("redis-cli");
    let keys: Vec<String> = String::from_utf8_lossy(&keys.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    if !keys.is_empty() {
        let status = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "DEL"])
            .args(&keys)
            .output()
            .expect("redis-cli");
        assert!(status.status.success());
    }
    keys.len()
}

#[tokio::test]
async fn a_voice_note_is_transcribed_and_books_like_text() {
    if !real_servers() {
        return;
    }
    let openai = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"text": "Hola, necesito una cita con el cardiólogo"})),
        )
        .mount(&openai)
        .await;
    let openai_base = format!("{}/v1", openai.uri());
    let suite = Suite::start_with(
        &[
            ("OPENAI_API_KEY", "sk-fake"),
            ("OPENAI_BASE_URL", &openai_base),
        ],
        &[],
        vec![openai],
    )
    .await;
    let media = format!("/2010-04-01/Accounts/{SID}/Messages/MM0001/Media/ME0001");
    Mock::given(method("GET"))
        .and(path_regex("^/2010-04-01/Accounts/.*/Media/ME0001$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "audio/ogg")
                .set_body_bytes(vec![0x4f, 0x67, 0x67, 0x53, 0, 2, 0, 0]),
        )
        .mount(&suite.twilio)
        .await;

    let patient = phone();
    let mut note = whatsapp(&patient, "");
    for (k, v) in [
        ("NumMedia", "1".to_owned()),
        ("MessageType", "audio".to_owned()),
        ("MediaContentType0", "audio/ogg".to_owned()),
        ("MediaUrl0", format!("{}{media}", suite.twilio.uri())),
    ] {
        note.retain(|(name, _)| name != k);
        note.push((k.to_owned(), v));
    }
    suite.post_twilio(note).await;
    suite
        .until_reply(&patient, 0, "nombre", "the voice note")
        .await;
    assert_eq!(
        suite.conversation(&patient).await["stage"],
        "intake",
        "the transcription started the intake"
    );
    for (text, expect) in [
        ("Soy Ana Ruiz, nací el 3 de mayo de 1985", "motivo"),
        ("me duele el pecho al subir escaleras", "síntoma"),
        ("me canso mucho", "alergia"),
        ("ninguna", "medicamento"),
        ("ninguno", "sede"),
        ("cualquiera", "día"),
        ("lo antes posible", "1."),
        ("1", "quedó agendada para"),
    ] {
        suite.say(&patient, text, expect).await;
    }
}

#[tokio::test]
async fn a_voice_agent_call_is_continued_on_whatsapp() {
    if !real_servers() {
        return;
    }
    let suite = Suite::start().await;
    let patient = phone();
    let call = json!({
        "call_id": format!("call_{}", uuid::Uuid::new_v4().simple()),
        "from": patient,
        "transcript": [
            {"role": "assistant", "text": "Clínica, ¿en qué le puedo ayudar?"},
            {"role": "user", "text": "Quiero una cita con el cardiólogo, soy Ana Ruiz"}
        ],
        "intent": "book_appointment",
        "extracted_data": {"name": "Ana Ruiz"}
    });
    let body = serde_json::to_vec(&call).unwrap();
    let signature = prm_platform::signed::sign_sha256(VOICE_SECRET.as_bytes(), &body);
    let response = suite
        .http
        .post(
            suite
                .processes
                .get("prm-webhooks")
                .url("/api/v1/prm/webhooks/voice-agent"),
        )
        .header("X-PRM-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    // The next question of the intake reaches the caller's WhatsApp: the name is known.
    suite
        .until_reply(&patient, 0, "fecha de nacimiento", "the call")
        .await;
    let conversation = suite.conversation(&patient).await;
    assert_eq!(conversation["stage"], "intake");
    suite.say(&patient, "3 de mayo de 1985", "motivo").await;
}

#[tokio::test]
async fn the_n8n_engine_answers_through_the_callbacks_process() {
    if !real_servers() {
        return;
    }
    let n8n = MockServer::start().await;
    let triggers = Triggers::default();
    Mock::given(method("POST"))
        .and(path("/webhook/prm-intake"))
        .respond_with(triggers.clone())
        .mount(&n8n)
        .await;
    let webhook = format!("{}/webhook/prm-intake", n8n.uri());
    let suite = Suite::start_with(
        &[],
        &[
            ("INTAKE_ENGINE", "n8n"),
            ("N8N_WEBHOOK_URL", &webhook),
            ("N8N_TIMEOUT_SECS", "20"),
        ],
        vec![n8n],
    )
    .await;
    let patient = phone();

    let before = suite.sent.to(&patient).len();
    suite
        .post_twilio(whatsapp(
            &patient,
            "Hola, necesito una cita con el cardiólogo",
        ))
        .await;
    let first = triggers.next(0).await;
    assert_eq!(first["event"], "intake.message");
    assert_eq!(first["patient_phone"], patient);
    assert_eq!(
        first["message"],
        "Hola, necesito una cita con el cardiólogo"
    );
    callback(
        &suite,
        &first["callback_urls"]["intake_response"],
        json!({
            "conversation_id": first["conversation_id"],
            "extracted_data": {"chief_complaint": "dolor en el pecho"},
            "next_question": "¿Me dices tu nombre completo y tu fecha de nacimiento? (n8n)",
            "intake_complete": false
        }),
    )
    .await;
    suite
        .until_reply(&patient, before, "(n8n)", "n8n's question")
        .await;

    let before = suite.sent.to(&patient).len();
    suite
        .post_twilio(whatsapp(
            &patient,
            "Ana Ruiz, 3 de mayo de 1985; me canso, sin alergias ni medicamentos, cualquier sede, lo antes posible",
        ))
        .await;
    let second = triggers.next(1).await;
    assert_eq!(
        second["state"]["extracted_data"]["chief_complaint"],
        "dolor en el pecho"
    );
    callback(
        &suite,
        &second["callback_urls"]["intake_response"],
        json!({
            "conversation_id": second["conversation_id"],
            "extracted_data": {
                "name": "Ana Ruiz", "date_of_birth": "1985-05-03", "symptoms": "cansancio",
                "allergies": "none", "medications": "none", "preferred_location": "any",
                "preferred_day_time": "lo antes posible"
            },
            "next_question": null,
            "intake_complete": true
        }),
    )
    .await;
    callback(
        &suite,
        &second["callback_urls"]["triage_response"],
        json!({
            "conversation_id": second["conversation_id"],
            "department": "Cardiology", "confidence": 0.92, "urgency": "routine",
            "reasoning": "chest pain on exertion"
        }),
    )
    .await;
    suite
        .until_reply(&patient, before, "1.", "n8n's triage")
        .await;
    suite.say(&patient, "1", "quedó agendada para").await;
}

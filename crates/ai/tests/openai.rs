//! The OpenAI adapter against a local server speaking the chat-completions protocol:
//! a good answer is used; anything else falls back to the built-in rules.
#![allow(clippy::unwrap_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::NaiveDate;
use prm_ai::{
    AiError, Builtin, ClinicContext, IntakeEngine, IntakeField, IntakeState, IntakeTurn,
    LocationChoice, OpenAi, OpenAiConfig, TriageEngine, TriageInput, WithFallback,
};
use prm_domain::{Locale, events::Urgency};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{bearer_token, method, path},
};

const MODEL: &str = "clinic-intake-1";

fn clinic() -> ClinicContext {
    ClinicContext {
        departments: [
            "Cardiology",
            "Dermatology",
            "General Medicine",
            "Pediatrics",
        ]
        .map(String::from)
        .to_vec(),
        locations: vec![
            LocationChoice {
                id: Uuid::from_u128(1),
                name: "Sede Norte".into(),
            },
            LocationChoice {
                id: Uuid::from_u128(2),
                name: "Sede Sur".into(),
            },
        ],
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
}

fn openai(server: &MockServer, timeout: Duration) -> Arc<OpenAi> {
    Arc::new(
        OpenAi::new(&OpenAiConfig {
            api_key: "sk-test".to_owned().into(),
            base_url: Some(format!("{}/v1", server.uri())),
            model: MODEL.to_owned(),
            timeout,
        })
        .unwrap(),
    )
}

fn engines(server: &MockServer, timeout: Duration) -> WithFallback {
    let openai = openai(server, timeout);
    WithFallback::new(openai.clone(), openai, timeout)
}

/// A chat completion whose message content is `content`.
fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    }))
}

async fn answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(bearer_token("sk-test"))
        .respond_with(response)
        .mount(server)
        .await;
}

fn asked_name() -> IntakeState {
    let mut state = IntakeState::start(Locale::Es, None);
    state.asked = Some(IntakeField::Name);
    state
}

const MESSAGE: &str = "soy Ana Ruiz, nací el 3 de mayo de 1985";

fn turn<'a>(state: &'a IntakeState, clinic: &'a ClinicContext) -> IntakeTurn<'a> {
    IntakeTurn {
        conversation_id: Uuid::nil(),
        message: MESSAGE,
        state,
        clinic,
        first_message: false,
        today: today(),
    }
}

fn extracted(overrides: Value) -> Value {
    let mut data = json!({
        "name": null, "date_of_birth": null, "chief_complaint": null, "symptoms": null,
        "allergies": null, "medications": null, "preferred_location": null, "preferred_day_time": null
    });
    for (k, v) in overrides.as_object().unwrap() {
        data[k] = v.clone();
    }
    data
}

#[tokio::test]
async fn a_good_intake_answer_is_used_and_the_request_follows_the_protocol() {
    let server = MockServer::start().await;
    let answer = json!({
        "extracted_data": extracted(json!({"name": "Ana Ruiz", "date_of_birth": "1985-05-03"})),
        "next_question": "Gracias, Ana. ¿Qué te trae a consulta?",
        "intake_complete": false
    });
    answers(&server, completion(&answer.to_string())).await;
    let (state, clinic) = (asked_name(), clinic());

    let answered = engines(&server, Duration::from_secs(5))
        .turn(&turn(&state, &clinic))
        .await;
    assert_eq!((answered.engine, answered.fell_back), ("openai", false));
    let reply = answered.value;
    assert_eq!(reply.extracted.name(), Some("Ana Ruiz"));
    assert_eq!(
        reply.extracted.birth_date(),
        NaiveDate::from_ymd_opt(1985, 5, 3)
    );
    assert_eq!(reply.next_field, Some(IntakeField::ChiefComplaint));
    assert_eq!(
        reply.next_question.as_deref(),
        Some("Gracias, Ana. ¿Qué te trae a consulta?")
    );

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(body["messages"][1]["content"], MESSAGE);
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(
        schema["required"],
        json!(["extracted_data", "next_question", "intake_complete"])
    );
    assert_eq!(
        schema["properties"]["extracted_data"]["properties"]["preferred_location"]["anyOf"][0]["enum"],
        json!(["Sede Norte", "Sede Sur", "any"])
    );
}

/// What the built-in rules answer for the same turn.
fn builtin_reply() -> prm_ai::IntakeReply {
    let (state, clinic) = (asked_name(), clinic());
    Builtin.turn_sync(&turn(&state, &clinic))
}

async fn falls_back_on(response: ResponseTemplate) {
    let server = MockServer::start().await;
    answers(&server, response).await;
    let (state, clinic) = (asked_name(), clinic());
    let answered = engines(&server, Duration::from_secs(5))
        .turn(&turn(&state, &clinic))
        .await;
    assert!(answered.fell_back);
    assert_eq!(answered.engine, "builtin");
    assert_eq!(answered.value, builtin_reply());
    assert_eq!(answered.value.extracted.name(), Some("Ana Ruiz"));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not retried: the patient is waiting"
    );
}

#[tokio::test]
async fn a_server_error_falls_back_to_the_built_in_rules() {
    falls_back_on(ResponseTemplate::new(500).set_body_string("Internal Server Error")).await;
    falls_back_on(ResponseTemplate::new(503).set_body_json(
        json!({"error": {"message": "overloaded", "type": null, "param": null, "code": null}}),
    ))
    .await;
    falls_back_on(ResponseTemplate::new(429).set_body_json(json!({"error": {"message": "Rate limit", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}))).await;
    falls_back_on(ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "Incorrect API key", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}))).await;
}

#[tokio::test]
async fn garbage_falls_back_to_the_built_in_rules() {
    falls_back_on(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>")).await;
    falls_back_on(ResponseTemplate::new(200).set_body_json(json!({"unexpected": true}))).await;
    falls_back_on(completion("Claro, Ana. ¿Cuál es tu fecha de nacimiento?")).await;
    falls_back_on(ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]
    })))
    .await;
}

#[tokio::test]
async fn an_answer_that_breaks_the_schema_falls_back_to_the_built_in_rules() {
    let good = |overrides: Value| {
        json!({
            "extracted_data": extracted(overrides),
            "next_question": "¿Qué te trae a consulta?",
            "intake_complete": false
        })
    };
    let mut unknown_top = good(json!({"name": "Ana Ruiz"}));
    unknown_top["mood"] = json!("calm");
    let mut unknown_field = good(json!({"name": "Ana Ruiz"}));
    unknown_field["extracted_data"]["blood_type"] = json!("O+");
    for bad in [
        unknown_top,
        unknown_field,
        good(json!({"name": ["Ana", "Ruiz"]})),
        good(json!({"date_of_birth": "2031-05-03"})),
        good(json!({"date_of_birth": "03/05/1985"})),
        good(json!({"preferred_location": "Sede Oriente"})),
        good(
            json!({"preferred_day_time": {"text": "martes", "day_of_week": "martes", "time_of_day": null, "asap": false}}),
        ),
        json!({"extracted_data": extracted(json!({})), "next_question": null, "intake_complete": true}),
        json!({"extracted_data": extracted(json!({})), "next_question": "?", "intake_complete": "no"}),
    ] {
        falls_back_on(completion(&bad.to_string())).await;
    }
}

#[tokio::test]
async fn a_server_that_never_answers_falls_back_within_the_timeout() {
    let server = MockServer::start().await;
    answers(&server, completion("{}").set_delay(Duration::from_secs(30))).await;
    let (state, clinic) = (asked_name(), clinic());
    let started = Instant::now();
    let answered = engines(&server, Duration::from_millis(300))
        .turn(&turn(&state, &clinic))
        .await;
    assert!(answered.fell_back);
    assert_eq!(answered.value, builtin_reply());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up after {:?}",
        started.elapsed()
    );
    // The adapter alone says why.
    let error = openai(&server, Duration::from_millis(300))
        .turn(&turn(&state, &clinic))
        .await
        .unwrap_err();
    assert!(matches!(error, AiError::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn errors_never_carry_what_the_server_echoed() {
    let server = MockServer::start().await;
    let echo = json!({
        "extracted_data": extracted(json!({"name": "Ana Ruiz", "date_of_birth": "2099-01-01"})),
        "next_question": "?",
        "intake_complete": false
    });
    answers(&server, completion(&echo.to_string())).await;
    let (state, clinic) = (asked_name(), clinic());
    let error = openai(&server, Duration::from_secs(5))
        .turn(&turn(&state, &clinic))
        .await
        .unwrap_err();
    let shown = error.to_string();
    assert!(matches!(error, AiError::Malformed(_)));
    assert!(!shown.contains("Ana") && !shown.contains("2099"), "{shown}");
}

fn triage_input<'a>(
    clinic: &'a ClinicContext,
    data: &'a prm_ai::IntakeData,
    texts: &'a [String],
) -> TriageInput<'a> {
    TriageInput {
        conversation_id: Uuid::nil(),
        locale: Locale::Es,
        data,
        patient_texts: texts,
        clinic,
        today: today(),
    }
}

#[tokio::test]
async fn triage_uses_a_department_of_the_clinic_or_falls_back() {
    let clinic = clinic();
    let data = prm_ai::IntakeData::default();
    let texts = vec!["Hola, necesito una cita con el cardiólogo".to_owned()];

    let server = MockServer::start().await;
    let good = json!({"department": "Cardiology", "urgency": "routine", "confidence": 0.9, "reasoning": "Asked for cardiology"});
    answers(&server, completion(&good.to_string())).await;
    let answered = engines(&server, Duration::from_secs(5))
        .triage(&triage_input(&clinic, &data, &texts))
        .await
        .unwrap();
    assert_eq!((answered.engine, answered.fell_back), ("openai", false));
    assert_eq!(answered.value.department, "Cardiology");
    assert_eq!(
        answered.value.reasoning.as_deref(),
        Some("Asked for cardiology")
    );
    let body: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["department"]["enum"],
        json!([
            "Cardiology",
            "Dermatology",
            "General Medicine",
            "Pediatrics"
        ])
    );

    for bad in [
        json!({"department": "Neurology", "urgency": "routine", "confidence": 0.9, "reasoning": "x"}),
        json!({"department": "Cardiology", "urgency": "later", "confidence": 0.9, "reasoning": "x"}),
        json!({"department": "Cardiology", "urgency": "routine", "confidence": 9, "reasoning": "x"}),
    ] {
        let server = MockServer::start().await;
        answers(&server, completion(&bad.to_string())).await;
        let answered = engines(&server, Duration::from_secs(5))
            .triage(&triage_input(&clinic, &data, &texts))
            .await
            .unwrap();
        assert!(answered.fell_back, "{bad}");
        assert_eq!(
            answered.value.department, "Cardiology",
            "the built-in rules: {bad}"
        );
    }
}

#[tokio::test]
async fn a_model_never_downgrades_a_red_flag() {
    let server = MockServer::start().await;
    let calm = json!({"department": "General Medicine", "urgency": "routine", "confidence": 0.7, "reasoning": "x"});
    answers(&server, completion(&calm.to_string())).await;
    let clinic = clinic();
    let data = prm_ai::IntakeData::default();
    let texts = vec!["mi papá se desmayó hace un rato".to_owned()];
    let decision = openai(&server, Duration::from_secs(5))
        .triage(&triage_input(&clinic, &data, &texts))
        .await
        .unwrap();
    assert_eq!(decision.urgency, Urgency::Emergency);
}

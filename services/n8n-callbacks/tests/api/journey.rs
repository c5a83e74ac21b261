//! The journey through n8n: conversations (INTAKE_ENGINE=n8n) and n8n-callbacks in one
//! host, and a fake n8n (a local HTTP server) that takes PRM's signed triggers; the test
//! plays the workflows, posting signed callbacks to the `callback_urls` each trigger
//! names. The conversation asks n8n's question, completes the intake, and completes the
//! triage with n8n's department (TRIAGE_COMPLETED, which appointments answers with an
//! offer; appointments is not hosted here).

use std::{future::Future, time::Duration};

use chrono::Utc;
use prm_conversations::senders::Senders;
use prm_domain::{
    Channel, PhoneNumber,
    conversation::Stage,
    events::{Envelope, EventType, MessageProvider, MessageReceived, TriageCompleted},
};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::*;

const PUBLIC_BASE_URL: &str = "https://prm.example.test";
const PATIENT: &str = "+573001234567";

/// Polls `check` until it returns `Some` (at most 15 s).
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn message(body: &str) -> MessageReceived {
    let phone = |raw: &str| PhoneNumber::parse(raw, "57").unwrap();
    MessageReceived {
        message_id: Uuid::now_v7(),
        provider: MessageProvider::Twilio,
        provider_message_id: format!("SM{}", Uuid::new_v4().simple()),
        channel: Channel::Whatsapp,
        from: phone(PATIENT),
        to: phone("+14155238886"),
        body: body.to_owned(),
        media: vec![],
        profile_name: Some("María".into()),
        wa_id: None,
        transcription: None,
        received_at: Utc::now(),
        intent: None,
        extracted_data: None,
        location: None,
        provider_fields: None,
    }
}

/// The fake n8n and the app it answers.
struct Journey {
    app: TestApp,
    n8n: MockServer,
}

impl Journey {
    async fn start() -> Self {
        // Long enough that the built-in rules never answer in these tests.
        Self::start_with_timeout("600").await
    }

    async fn start_with_timeout(n8n_timeout_secs: &str) -> Self {
        let n8n = MockServer::start().await;
        // n8n's webhook answers at once; the workflow calls back later.
        Mock::given(method("POST"))
            .and(path("/webhook/prm-intake"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&n8n)
            .await;
        let webhook = format!("{}/webhook/prm-intake", n8n.uri());
        let options = Spawn::new()
            .vars(&[
                ("N8N_CALLBACK_SECRET", SECRET),
                ("N8N_WEBHOOK_URL", webhook.as_str()),
                ("INTAKE_ENGINE", "n8n"),
                ("N8N_TIMEOUT_SECS", n8n_timeout_secs),
                ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
            ])
            .with_override(Senders::recording_only());
        let kit = prm_testkit::spawn(
            &[&prm_conversations::SERVICE, &prm_n8n_callbacks::SERVICE],
            options,
        )
        .await;
        prm_appointments::demo::seed(&kit.store)
            .await
            .expect("demo clinic");
        Self {
            app: TestApp(kit),
            n8n,
        }
    }

    /// The patient writes (MESSAGE_RECEIVED, as webhooks publishes it).
    async fn patient_says(&self, text: &str) {
        let bus = &self.app.backends.bus;
        tokio::time::timeout(Duration::from_secs(20), bus.until_connected())
            .await
            .expect("the bus connects");
        bus.publish(&Envelope::new("webhooks", message(text)))
            .await
            .expect("published");
    }

    /// The `n`-th trigger n8n received (1-based), after checking PRM signed it.
    async fn trigger(&self, n: usize) -> Value {
        let request = until("PRM's trigger", || async {
            self.n8n
                .received_requests()
                .await
                .and_then(|requests| requests.into_iter().nth(n - 1))
        })
        .await;
        let signature = request
            .headers
            .get("x-prm-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(
            signature,
            Some(sign(SECRET, &request.body)),
            "PRM signs the trigger"
        );
        let trigger: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(trigger["event"], "intake.message");
        trigger
    }

    /// Posts `body` signed, as the workflow does, to the trigger's callback URL `which`.
    /// The URL is PUBLIC_BASE_URL's, which nothing serves in a test: the same path is
    /// posted to the app.
    async fn call_back(&self, trigger: &Value, which: &str, body: &Value) -> (u16, Value) {
        let url = trigger["callback_urls"][which].as_str().unwrap();
        let path = url
            .strip_prefix(PUBLIC_BASE_URL)
            .unwrap_or_else(|| panic!("{url} is not under PUBLIC_BASE_URL"));
        self.app.callback(path, body).await
    }

    async fn stage(&self, id: Uuid) -> Stage {
        self.app
            .store
            .get_conversation(id)
            .await
            .unwrap()
            .conversation
            .stage
    }

    async fn wait_for_stage(&self, id: Uuid, stage: Stage) {
        until(&format!("stage {stage}"), || async {
            (self.stage(id).await == stage).then_some(())
        })
        .await;
    }

    /// The bot's messages in the conversation, once there are `n`.
    async fn bot_replies(&self, id: Uuid, n: usize) -> Vec<String> {
        until(&format!("{n} bot replies"), || async {
            let messages = self
                .app
                .get_json(&format!(
                    "/api/v1/prm/conversations/{id}/messages?limit=100"
                ))
                .await;
            let replies: Vec<String> = messages["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["author"] == "bot")
                .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
                .collect();
            (replies.len() >= n).then_some(replies)
        })
        .await
    }
}

#[tokio::test]
async fn n8n_answers_the_intake_and_the_triage_through_the_callbacks() {
    let journey = Journey::start().await;
    let captured = journey.app.capture(&[EventType::TriageCompleted]).await;

    // 1. The first message goes to n8n, whose question the patient gets.
    journey
        .patient_says("Hola, soy María Pérez, nací el 12 de abril de 1985")
        .await;
    let trigger = journey.trigger(1).await;
    let id: Uuid = trigger["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(trigger["patient_phone"], PATIENT);
    assert_eq!(
        trigger["callback_urls"]["triage_response"],
        format!("{PUBLIC_BASE_URL}/api/v1/prm/n8n/triage-response")
    );
    let question = "¿Cuál es el motivo de su consulta?";
    let (status, answer) = journey
        .call_back(
            &trigger,
            "intake_response",
            &json!({
                "conversation_id": id,
                "extracted_data": {"name": "María Pérez", "date_of_birth": "1985-04-12"},
                "next_question": question,
                "intake_complete": false
            }),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let replies = journey.bot_replies(id, 1).await;
    assert_eq!(replies.last().map(String::as_str), Some(question));
    assert_eq!(journey.stage(id).await, Stage::Intake);

    // 2. The next message completes the intake; n8n's intake workflow then runs triage.
    journey
        .patient_says("Dolor en el pecho al caminar, sin alergias ni medicamentos, cualquier sede, el martes en la mañana")
        .await;
    let trigger = journey.trigger(2).await;
    assert_eq!(trigger["state"]["extracted_data"]["name"], "María Pérez");
    let (status, _) = journey
        .call_back(
            &trigger,
            "intake_response",
            &json!({
                "conversation_id": id,
                "extracted_data": {
                    "chief_complaint": "Dolor en el pecho",
                    "symptoms": "dolor al caminar",
                    "allergies": "ninguna",
                    "medications": "ninguna",
                    "preferred_location": "any",
                    "preferred_day_time": "el martes en la mañana"
                },
                "next_question": null,
                "intake_complete": true
            }),
        )
        .await;
    assert_eq!(status, 202);
    journey.wait_for_stage(id, Stage::Triage).await;

    let triage = json!({
        "conversation_id": id,
        "department": "cardiology",
        "urgency": "routine",
        "confidence": 0.9,
        "reasoning": "Dolor torácico de esfuerzo"
    });
    let (status, first) = journey
        .call_back(&trigger, "triage_response", &triage)
        .await;
    assert_eq!(status, 202, "{first}");

    // 3. Conversations completes the triage with n8n's department, as the clinic spells it.
    let completed: TriageCompleted = captured
        .next(EventType::TriageCompleted)
        .await
        .data_as()
        .unwrap();
    assert_eq!(completed.conversation_id, id);
    assert_eq!(completed.department, "Cardiology");
    assert_eq!(completed.patient_name.as_deref(), Some("María Pérez"));
    assert_eq!(
        completed.birth_date.map(|d| d.to_string()).as_deref(),
        Some("1985-04-12")
    );

    // 4. n8n retrying the triage answer changes nothing.
    let (status, again) = journey
        .call_back(&trigger, "triage_response", &triage)
        .await;
    assert_eq!((status, &again["event_id"]), (202, &first["event_id"]));
    assert_eq!(again["status"], "duplicate");
    let published = journey.app.outbox().await;
    let types: Vec<&str> = published.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["INTAKE_UPDATED", "INTAKE_UPDATED", "TRIAGE_PROPOSED"]
    );
}

/// The workflow answers the triage before conversations took in its intake answer (the
/// two callbacks' events may be consumed in either order): the triage waits for the
/// intake instead of being dropped, so the patient does not wait for N8N_TIMEOUT_SECS.
#[tokio::test]
async fn a_triage_answer_handled_before_the_intake_answer_completes_the_triage() {
    let journey = Journey::start().await;
    let captured = journey.app.capture(&[EventType::TriageCompleted]).await;
    journey
        .patient_says("Hola, soy María Pérez, nací el 12 de abril de 1985")
        .await;
    let trigger = journey.trigger(1).await;
    let id: Uuid = trigger["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let (status, triage) = journey
        .call_back(
            &trigger,
            "triage_response",
            &json!({"conversation_id": id, "department": "Cardiology", "urgency": "routine"}),
        )
        .await;
    assert_eq!(status, 202, "{triage}");
    let triage_event: Uuid = triage["event_id"].as_str().unwrap().parse().unwrap();
    until("conversations took in the triage answer", || async {
        prm_store::outbox::ProcessedEvents::CONVERSATIONS
            .contains(
                journey.app.store.connection(),
                "prm.conversations.n8n",
                triage_event,
            )
            .await
            .unwrap()
            .then_some(())
    })
    .await;
    assert_eq!(
        journey.stage(id).await,
        Stage::Intake,
        "nothing to triage yet"
    );

    let (status, _) = journey
        .call_back(
            &trigger,
            "intake_response",
            &json!({
                "conversation_id": id,
                "extracted_data": {
                    "name": "María Pérez", "date_of_birth": "1985-04-12",
                    "chief_complaint": "Dolor en el pecho", "symptoms": "ninguno",
                    "allergies": "ninguna", "medications": "ninguna",
                    "preferred_location": "any", "preferred_day_time": "lo antes posible"
                },
                "next_question": null,
                "intake_complete": true
            }),
        )
        .await;
    assert_eq!(status, 202);
    let completed: TriageCompleted = captured
        .next(EventType::TriageCompleted)
        .await
        .data_as()
        .unwrap();
    assert_eq!(completed.conversation_id, id);
    assert_eq!(completed.department, "Cardiology");
}

/// n8n takes the trigger and never calls back: once N8N_TIMEOUT_SECS is over, the
/// built-in rules answer that turn, so the patient is never left without a reply.
#[tokio::test]
async fn a_workflow_that_never_answers_is_replaced_by_the_built_in_rules_after_the_timeout() {
    let journey = Journey::start_with_timeout("1").await;
    journey
        .patient_says("Hola, necesito una cita con el cardiólogo")
        .await;
    let trigger = journey.trigger(1).await;
    let id: Uuid = trigger["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let replies = journey.bot_replies(id, 1).await;
    assert!(
        replies[0].contains("nombre"),
        "the built-in rules ask the first question: {replies:?}"
    );
    assert_eq!(journey.stage(id).await, Stage::Intake);
}

//! Each callback becomes its event, for a conversation at a step it answers; anything
//! else is refused with a problem and publishes nothing; a retry publishes once.

use prm_domain::{
    conversation::Stage,
    events::{BookingAction, BookingActionKind, EventType, IntakeUpdated, TriageProposed, Urgency},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

fn intake_body(conversation_id: Uuid) -> Value {
    json!({
        "conversation_id": conversation_id,
        "extracted_data": {"name": "María Pérez", "date_of_birth": "1985-04-12"},
        "next_question": "¿Cuál es el motivo de su consulta?",
        "intake_complete": false
    })
}

fn triage_body(conversation_id: Uuid) -> Value {
    json!({
        "conversation_id": conversation_id,
        "department": "Cardiology",
        "confidence": 0.86,
        "urgency": "urgent",
        "reasoning": "Dolor en el pecho al caminar"
    })
}

fn booking_body(conversation_id: Uuid, appointment_id: Uuid) -> Value {
    json!({
        "conversation_id": conversation_id,
        "action": "cancel",
        "appointment_id": appointment_id,
        "reason": "No puede asistir"
    })
}

fn event_id(answer: &Value) -> Uuid {
    answer["event_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no event_id in {answer}"))
}

#[tokio::test]
async fn an_intake_response_publishes_intake_updated_by_n8n() {
    let app = spawn_app().await;
    let captured = app.capture(&[EventType::IntakeUpdated]).await;
    let conversation = app.conversation(Stage::Intake).await;

    let (status, answer) = app.callback(INTAKE, &intake_body(conversation)).await;

    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let published = captured.next(EventType::IntakeUpdated).await;
    assert_eq!(published.id, event_id(&answer));
    assert_eq!(published.source, "n8n-callbacks");
    let data: IntakeUpdated = published.data_as().unwrap();
    assert_eq!(data.conversation_id, conversation);
    assert_eq!(data.extracted_by, "n8n");
    assert_eq!(data.extracted_data["name"], "María Pérez");
    assert_eq!(data.extracted_data["date_of_birth"], "1985-04-12");
    assert_eq!(
        data.next_question.as_deref(),
        Some("¿Cuál es el motivo de su consulta?")
    );
    assert!(!data.intake_complete);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_triage_response_publishes_triage_proposed_by_n8n() {
    let app = spawn_app().await;
    let captured = app.capture(&[EventType::TriageProposed]).await;
    let conversation = app.conversation(Stage::Triage).await;

    let (status, answer) = app.callback(TRIAGE, &triage_body(conversation)).await;

    assert_eq!(status, 202, "{answer}");
    let published = captured.next(EventType::TriageProposed).await;
    assert_eq!(published.id, event_id(&answer));
    let data: TriageProposed = published.data_as().unwrap();
    assert_eq!(
        data,
        TriageProposed {
            conversation_id: conversation,
            department: "Cardiology".into(),
            confidence: Some(0.86),
            urgency: Some(Urgency::Urgent),
            reasoning: Some("Dolor en el pecho al caminar".into()),
            proposed_by: "n8n".into(),
        }
    );
}

#[tokio::test]
async fn only_the_department_is_needed_for_a_triage() {
    let app = spawn_app().await;
    let conversation = app.conversation(Stage::Intake).await;
    let (status, answer) = app
        .callback(
            TRIAGE,
            &json!({"conversation_id": conversation, "department": "Pediatrics"}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let data: TriageProposed = app.outbox().await[0].data_as().unwrap();
    assert_eq!(data.department, "Pediatrics");
    assert_eq!(
        (data.confidence, data.urgency, data.reasoning),
        (None, None, None)
    );
}

#[tokio::test]
async fn a_booking_response_publishes_booking_action_at_any_stage() {
    let app = spawn_app().await;
    let captured = app.capture(&[EventType::BookingAction]).await;
    let appointment = Uuid::now_v7();
    // Booked, and even closed: appointments decides whether the action is possible.
    for conversation in [
        app.conversation(Stage::Booked).await,
        app.closed_conversation(Stage::Booked).await,
    ] {
        let (status, answer) = app
            .callback(BOOKING, &booking_body(conversation, appointment))
            .await;
        assert_eq!(status, 202, "{answer}");
        let published = captured.next(EventType::BookingAction).await;
        assert_eq!(published.id, event_id(&answer));
        let data: BookingAction = published.data_as().unwrap();
        assert_eq!(
            data,
            BookingAction {
                conversation_id: conversation,
                action: BookingActionKind::Cancel,
                appointment_id: Some(appointment),
                reason: Some("No puede asistir".into()),
                patient_id: None,
            }
        );
    }
}

#[tokio::test]
async fn a_retried_callback_answers_the_same_event_and_publishes_it_once() {
    let app = spawn_app().await;
    let conversation = app.conversation(Stage::Intake).await;
    let body = serde_json::to_vec(&triage_body(conversation)).unwrap();

    let first = prm_testkit::Answer::read(app.post_signed(TRIAGE, &body).await).await;
    let again = prm_testkit::Answer::read(app.post_signed(TRIAGE, &body).await).await;

    assert_eq!((first.status, again.status), (202, 202), "{}", again.text);
    assert_eq!(first.body["status"], "accepted");
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(event_id(&first.body), event_id(&again.body));
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1, "one outbox row");
    assert_eq!(outbox[0].id, event_id(&first.body));

    // Another answer is another event.
    let mut other = triage_body(conversation);
    other["department"] = json!("Dermatology");
    let (status, answer) = app.callback(TRIAGE, &other).await;
    assert_eq!(status, 202);
    assert_ne!(event_id(&answer), event_id(&first.body));
    assert_eq!(app.outbox().await.len(), 2);
}

#[tokio::test]
async fn a_retry_after_the_conversation_moved_on_is_still_the_same_event() {
    let app = spawn_app().await;
    let conversation = app.conversation(Stage::Triage).await;
    let body = serde_json::to_vec(&triage_body(conversation)).unwrap();
    let first = prm_testkit::Answer::read(app.post_signed(TRIAGE, &body).await).await;
    assert_eq!(first.status, 202, "{}", first.text);
    // Conversations completed the triage before n8n got the answer and retried.
    move_to(&app, conversation, Stage::Offering).await;

    let again = prm_testkit::Answer::read(app.post_signed(TRIAGE, &body).await).await;

    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(event_id(&again.body), event_id(&first.body));
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn ten_identical_callbacks_at_once_publish_one_event() {
    let app = spawn_app().await;
    let conversation = app.conversation(Stage::Intake).await;
    let body = serde_json::to_vec(&intake_body(conversation)).unwrap();
    let answers = futures_join(&app, INTAKE, &body, 10).await;
    assert_eq!(answers.len(), 10);
    let ids: std::collections::BTreeSet<Uuid> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 202, "{}", a.text);
            event_id(&a.body)
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(app.outbox().await.len(), 1);
}

/// `n` identical signed posts of `body` sent at once.
async fn futures_join(
    app: &TestApp,
    path: &str,
    body: &[u8],
    n: usize,
) -> Vec<prm_testkit::Answer> {
    let posts = (0..n)
        .map(|_| async { prm_testkit::Answer::read(app.post_signed(path, body).await).await });
    futures::future::join_all(posts).await
}

/// Moves a conversation to `stage` as the conversations service would.
async fn move_to(app: &TestApp, id: Uuid, stage: Stage) {
    let producer = prm_store::outbox::Producer::new(prm_store::outbox::Outbox::CONVERSATIONS, None);
    app.store
        .write(&producer, |tx| {
            Box::pin(async move {
                let mut record = tx.lock_conversation(id).await?;
                record.conversation.stage = stage;
                tx.save_conversation(&record.conversation, None).await?;
                Ok::<_, prm_store::StoreError>(())
            })
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unknown_conversation_is_404_and_publishes_nothing() {
    let app = spawn_app().await;
    let unknown = Uuid::now_v7();
    for (path, body) in [
        (INTAKE, intake_body(unknown)),
        (TRIAGE, triage_body(unknown)),
        (BOOKING, booking_body(unknown, Uuid::now_v7())),
    ] {
        let bytes = serde_json::to_vec(&body).unwrap();
        let body = problem(app.post_signed(path, &bytes).await, 404, "not_found").await;
        assert!(
            body["detail"].as_str().unwrap().contains("onversation"),
            "{body}"
        );
    }
    app.assert_nothing_published().await;
}

#[tokio::test]
async fn intake_and_triage_answers_past_their_step_are_409_and_publish_nothing() {
    let app = spawn_app().await;
    let mut past = Vec::new();
    for stage in [Stage::Offering, Stage::Booked, Stage::Escalated] {
        past.push(app.conversation(stage).await);
    }
    // A closed conversation is past every step, whatever its stage says.
    past.push(app.closed_conversation(Stage::Intake).await);
    past.push(app.closed_conversation(Stage::Triage).await);
    for conversation in past {
        for (path, body) in [
            (INTAKE, intake_body(conversation)),
            (TRIAGE, triage_body(conversation)),
        ] {
            let bytes = serde_json::to_vec(&body).unwrap();
            let problem = problem(app.post_signed(path, &bytes).await, 409, "stage_passed").await;
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("`intake` or `triage`"),
                "{problem}"
            );
        }
    }
    app.assert_nothing_published().await;
    // Both are taken at either stage.
    for stage in [Stage::Intake, Stage::Triage] {
        let conversation = app.conversation(stage).await;
        assert_eq!(
            app.callback(INTAKE, &intake_body(conversation)).await.0,
            202
        );
        assert_eq!(
            app.callback(TRIAGE, &triage_body(conversation)).await.0,
            202
        );
    }
    assert_eq!(app.outbox().await.len(), 4);
}

#[tokio::test]
async fn bad_bodies_are_problems_naming_the_field_and_publish_nothing() {
    let app = spawn_app().await;
    let conversation = app.conversation(Stage::Intake).await;
    let id = conversation.to_string();
    for (path, body, field) in [
        (
            INTAKE,
            json!({"conversation_id": id, "extracted_data": {"colour": "blue"}, "next_question": null, "intake_complete": false}),
            "extracted_data.colour",
        ),
        (
            INTAKE,
            json!({"conversation_id": id, "extracted_data": {}, "next_question": "  ", "intake_complete": false}),
            "next_question",
        ),
        (
            INTAKE,
            json!({"conversation_id": id, "extracted_data": [], "intake_complete": false}),
            "extracted_data",
        ),
        (
            INTAKE,
            json!({"conversation_id": id, "extracted_data": {}}),
            "intake_complete",
        ),
        (
            INTAKE,
            json!({"conversation_id": "nope", "extracted_data": {}, "intake_complete": true}),
            "conversation_id",
        ),
        (
            TRIAGE,
            json!({"conversation_id": id, "department": " "}),
            "department",
        ),
        (
            TRIAGE,
            json!({"conversation_id": id, "department": "Cardiology", "confidence": 1.5}),
            "confidence",
        ),
        (
            TRIAGE,
            json!({"conversation_id": id, "department": "Cardiology", "urgency": "soon"}),
            "urgency",
        ),
        (
            TRIAGE,
            json!({"conversation_id": id, "department": "Cardiology", "urgancy": "urgent"}),
            "urgancy",
        ),
        (TRIAGE, json!({"conversation_id": id}), "department"),
        (
            BOOKING,
            json!({"conversation_id": id, "action": "postpone"}),
            "action",
        ),
        (
            BOOKING,
            json!({"conversation_id": id, "action": "confirm", "appointment_id": 7}),
            "appointment_id",
        ),
    ] {
        let bytes = serde_json::to_vec(&body).unwrap();
        let problem = problem(
            app.post_signed(path, &bytes).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&problem), [field], "{path} {body}: {problem}");
    }
    for malformed in [&b"{\"conversation_id\":"[..], b"", b"[1, 2"] {
        problem(
            app.post_signed(TRIAGE, malformed).await,
            400,
            "malformed_json",
        )
        .await;
    }
    app.assert_nothing_published().await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let conversation = app.conversation(Stage::Triage).await;
    let body = json!({
        "conversation_id": conversation,
        "department": "Cardiology",
        "reasoning": "x".repeat(70 * 1024)
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    problem(
        app.post_signed(TRIAGE, &bytes).await,
        413,
        "payload_too_large",
    )
    .await;
    app.assert_nothing_published().await;
}

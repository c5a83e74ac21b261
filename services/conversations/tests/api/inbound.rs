//! A patient's messages coming in: one conversation per phone, each message stored
//! once, a reply recorded before it is sent and sent once.

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_first_message_opens_a_conversation_and_the_bot_asks_the_first_question() {
    let app = spawn_app().await;
    app.receive(message_received(
        PATIENT,
        "Hola, necesito una cita con el cardiólogo",
    ))
    .await;
    let conversation = app.conversation_of(PATIENT).await;
    assert_eq!(conversation["phone"], PATIENT);
    assert_eq!(conversation["status"], "open");
    assert_eq!(conversation["stage"], "intake");
    assert_eq!(conversation["locale"], "es");
    let id = conversation["id"].as_str().unwrap();
    let replies = app.bot_replies(id, 1).await;
    let messages = app.messages(id).await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(messages[0]["author"], "patient");
    assert_eq!(
        messages[0]["body"],
        "Hola, necesito una cita con el cardiólogo"
    );
    let reply = &replies[0];
    assert_eq!(reply["direction"], "outbound");
    assert_eq!(reply["purpose"], "intake_question");
    assert_eq!(reply["provider"], "recording");
    assert_eq!(reply["delivery_status"], "recorded");
    assert!(
        reply["body"].as_str().unwrap().contains("nombre"),
        "{reply}"
    );
    let recorded = app.recording.recorded_to(&phone(PATIENT));
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].message.body.as_deref(),
        reply["body"].as_str(),
        "what was sent is what was recorded"
    );
    assert_eq!(
        reply["provider_message_id"].as_str(),
        Some(recorded[0].provider_message_id.as_str())
    );
}

#[tokio::test]
async fn twenty_copies_of_one_event_store_one_message_and_send_one_reply() {
    let app = spawn_app().await;
    let envelope = prm_domain::events::Envelope::new("webhooks", message_received(PATIENT, "Hola"));
    join_all((0..20).map(|_| app.publish(&envelope))).await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().unwrap();
    app.bot_replies(id, 1).await;
    // Anything late would have shown by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.messages(id).await;
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["direction"] == "inbound")
            .count(),
        1,
        "{messages:#?}"
    );
    assert_eq!(
        messages.iter().filter(|m| m["author"] == "bot").count(),
        1,
        "{messages:#?}"
    );
    assert_eq!(app.recording.recorded_to(&phone(PATIENT)).len(), 1);
}

#[tokio::test]
async fn two_messages_from_one_phone_at_the_same_instant_open_one_conversation() {
    let app = spawn_app().await;
    let first = message_received(PATIENT, "Hola");
    let second = message_received(PATIENT, "necesito una cita");
    join_all([app.receive(first), app.receive(second)]).await;
    let list = eventually(Duration::from_secs(10), || async {
        let list = app
            .get_json(&format!(
                "/api/v1/prm/conversations?phone={}",
                urlencode(PATIENT)
            ))
            .await;
        let id = list["items"][0]["id"].as_str()?.to_owned();
        let inbound = app
            .messages(&id)
            .await
            .into_iter()
            .filter(|m| m["direction"] == "inbound")
            .count();
        (inbound == 2).then_some(list)
    })
    .await;
    assert_eq!(list["total"], 1, "{list}");
}

#[tokio::test]
async fn a_paused_bot_stores_and_answers_nothing_and_staff_messages_still_go_out() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/api/v1/prm/conversations",
            json!({"phone": "300 123 4567", "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let conversation: serde_json::Value = created.json().await.unwrap();
    let id = conversation["id"].as_str().unwrap();
    let paused = app
        .patch(
            &format!("/api/v1/prm/conversations/{id}"),
            json!({"bot_paused": true}),
        )
        .await;
    assert_eq!(paused.status(), 200);
    app.receive(message_received(PATIENT, "Hola, ¿hay alguien?"))
        .await;
    app.wait_for_messages(id, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.messages(id).await;
    assert_eq!(
        messages.len(),
        1,
        "only the patient's message: {messages:#?}"
    );
    assert!(app.recording.recorded().is_empty(), "nothing sent");

    let staff = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/messages"),
            json!({"body": "Hola María, soy Laura de la clínica."}),
        )
        .await;
    assert_eq!(staff.status(), 201);
    let staff: serde_json::Value = staff.json().await.unwrap();
    assert_eq!(staff["author"], "staff");
    eventually(Duration::from_secs(5), || async {
        (app.recording.recorded_to(&phone(PATIENT)).len() == 1).then_some(())
    })
    .await;
}

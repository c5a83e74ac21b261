//! The audit trail of the staff API: who changed a conversation (the API key's id),
//! before and after without the phone or any message body; a refused change records
//! nothing; what the bot and patients do is not the clinic API's and is not recorded.

use prm_store::{
    Page,
    audit::{AuditEntry, AuditFilter},
};
use serde_json::{Value, json};

use crate::helpers::*;

/// `key_` + `printf %s test-key-0123456789abcdef | sha256sum | cut -c1-12`
const TEST_KEY_ID: &str = "key_0813ba6d30f7";

async fn entries(app: &TestApp) -> Vec<AuditEntry> {
    app.kit
        .store
        .list_audit(
            &AuditFilter::default(),
            Page {
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn staff_changes_are_audited_without_phones_or_bodies() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/prm/conversations",
            json!({"phone": PATIENT, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/prm/conversations/{id}"),
            json!({"bot_paused": true, "assignee": "Dra. Laura Ríos"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/messages"),
            json!({"body": "Su resultado de VIH es negativo"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let message: Value = r.json().await.unwrap();
    let r = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/state/initialize"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 201);

    let all = entries(&app).await;
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "conversation.state_initialized",
            "message.sent",
            "conversation.updated",
            "conversation.created"
        ],
        "newest first"
    );
    assert!(all.iter().all(|e| e.actor == TEST_KEY_ID));
    let (initialized, sent, updated, opened) = (&all[0], &all[1], &all[2], &all[3]);
    assert_eq!(opened.entity_id.to_string(), id);
    assert_eq!(opened.after.as_ref().unwrap()["status"], "open");
    assert_eq!(updated.before.as_ref().unwrap()["bot_paused"], false);
    assert_eq!(updated.after.as_ref().unwrap()["bot_paused"], true);
    assert_eq!(updated.after.as_ref().unwrap()["assigned"], true);
    assert_eq!(sent.entity_type, "message");
    assert_eq!(sent.entity_id.to_string(), message["id"].as_str().unwrap());
    assert_eq!(sent.after.as_ref().unwrap()["conversation_id"], id);
    assert_eq!(initialized.after.as_ref().unwrap()["stage"], "intake");
    let text = format!("{all:?}");
    for secret in ["VIH", "resultado", "3001234567", "Laura", API_KEY] {
        assert!(
            !text.contains(secret),
            "{secret} in the audit trail: {text}"
        );
    }
}

#[tokio::test]
async fn refused_changes_and_patient_messages_record_nothing() {
    let app = spawn_app().await;
    // A patient's message opens a conversation and the bot answers: not the clinic API.
    app.receive(message_received(PATIENT, "Hola, quiero una cita"))
        .await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().unwrap();
    assert!(entries(&app).await.is_empty());

    let r = app
        .patch(
            &format!("/api/v1/prm/conversations/{id}"),
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post(
            "/api/v1/prm/conversations",
            json!({"phone": PATIENT, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/messages"),
            json!({"body": ""}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/state/initialize"),
            json!({"required_fields": ["blood_type"]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    // A PATCH that changes nothing changes nothing to record.
    let r = app
        .patch(
            &format!("/api/v1/prm/conversations/{id}"),
            json!({"status": conversation["status"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(entries(&app).await.is_empty());
}

//! The staff API: validation, unknown ids, conflicts; nothing written when a request
//! fails.

use serde_json::{Value, json};

use crate::helpers::*;

async fn create(app: &TestApp, body: Value) -> reqwest::Response {
    app.post("/api/v1/prm/conversations", body).await
}

#[tokio::test]
async fn a_phone_has_at_most_one_open_conversation() {
    let app = spawn_app().await;
    let r = create(
        &app,
        json!({"phone": "300 123 4567", "channel": "whatsapp", "locale": "en"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["phone"], PATIENT, "stored as E.164");
    assert_eq!(first["locale"], "en");
    assert_eq!(first["stage"], "intake");
    let r = create(&app, json!({"phone": "+57 300 1234567", "channel": "sms"})).await;
    let body = problem(r, 409, "conversation_exists").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap()),
        "{body}"
    );
    // Closed, the phone can have a new one; the old one keeps its history.
    let id = first["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/prm/conversations/{id}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = create(&app, json!({"phone": PATIENT, "channel": "whatsapp"})).await;
    assert_eq!(r.status(), 201);
    // Reopening the old one would give the phone two.
    let r = app
        .patch(
            &format!("/api/v1/prm/conversations/{id}"),
            json!({"status": "open"}),
        )
        .await;
    problem(r, 409, "conversation_exists").await;
    let list = app
        .get_json(&format!(
            "/api/v1/prm/conversations?phone={}",
            urlencode("3001234567")
        ))
        .await;
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"phone": "not a phone", "channel": "whatsapp"}),
            "phone",
        ),
        (json!({"phone": PATIENT, "channel": "pigeon"}), "channel"),
        (
            json!({"phone": PATIENT, "channel": "whatsapp", "locale": "fr"}),
            "locale",
        ),
        (
            json!({"phone": PATIENT, "channel": "whatsapp", "patient_id": uuid::Uuid::now_v7()}),
            "patient_id",
        ),
    ] {
        let r = create(&app, body.clone()).await;
        let problem = problem(r, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(app.get_json("/api/v1/prm/conversations").await["total"], 0);
    let r = create(&app, json!({"channel": "whatsapp"})).await;
    assert_eq!(r.status(), 422, "a missing field");

    let created: Value = create(&app, json!({"phone": PATIENT, "channel": "whatsapp"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/prm/conversations/{id}");
    for (body, field) in [
        (json!({"status": "archived"}), "status"),
        (json!({"locale": "de"}), "locale"),
        (json!({"assignee": "x".repeat(201)}), "assignee"),
        (json!({"status": "closed", "locale": "xx"}), "locale"),
    ] {
        let problem = problem(
            app.patch(&path, body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let unchanged = app.get_json(&path).await;
    assert_eq!(
        unchanged["status"], "open",
        "a failed PATCH changes nothing"
    );
    let messages = format!("{path}/messages");
    for (body, field) in [
        (json!({"body": "   "}), "body"),
        (json!({"body": "x".repeat(4097)}), "body"),
        (
            json!({"body": "hola", "media": [{"url": "ftp://x/y.jpg", "content_type": "image/jpeg"}]}),
            "media[0].url",
        ),
    ] {
        let problem = problem(
            app.post(&messages, body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert!(app.messages(id).await.is_empty(), "nothing recorded");
    for query in [
        "status=archived",
        "stage=lost",
        "channel=fax",
        "bot_paused=maybe",
        "phone=abc",
        "limit=0",
        "offset=-1",
    ] {
        let r = app.get(&format!("/api/v1/prm/conversations?{query}")).await;
        assert_eq!(r.status(), 422, "{query}");
    }
}

#[tokio::test]
async fn unknown_ids_are_404_and_a_closed_conversation_takes_no_staff_message() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/prm/conversations/{unknown}"),
        format!("/api/v1/prm/conversations/{unknown}/messages"),
    ] {
        problem(app.get(&path).await, 404, "not_found").await;
    }
    problem(
        app.patch(
            &format!("/api/v1/prm/conversations/{unknown}"),
            json!({"bot_paused": true}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/prm/conversations/{unknown}/messages"),
            json!({"body": "hola"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let r = app.get("/api/v1/prm/conversations/not-a-uuid").await;
    assert!(r.status().is_client_error());
    let created: Value = create(&app, json!({"phone": PATIENT, "channel": "whatsapp"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/prm/conversations/{id}"),
        json!({"status": "closed"}),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/prm/conversations/{id}/messages"),
            json!({"body": "hola"}),
        )
        .await;
    problem(r, 409, "conversation_closed").await;
    assert!(app.messages(id).await.is_empty());
    assert!(app.recording.recorded().is_empty());
}

#[tokio::test]
async fn every_route_needs_the_api_key() {
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7();
    for path in [
        "/api/v1/prm/conversations".to_owned(),
        format!("/api/v1/prm/conversations/{id}"),
        format!("/api/v1/prm/conversations/{id}/state"),
        "/api/v1/prm/conversations/stream".to_owned(),
        "/api/v1/prm/conversations/stream?api_key=wrong-key-0123456789".to_owned(),
    ] {
        let r = app.client.get(app.url(&path)).send().await.unwrap();
        problem(r, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn the_list_filters_and_puts_the_latest_conversation_first() {
    let app = spawn_app().await;
    say(&app, "Hola", 1).await;
    let other = "+573009998877";
    app.receive(message_received(other, "Buenos días")).await;
    let second = app.conversation_of(other).await;
    app.bot_replies(second["id"].as_str().unwrap(), 1).await;
    let all = app.get_json("/api/v1/prm/conversations").await;
    assert_eq!(all["total"], 2);
    assert_eq!(all["items"][0]["phone"], other, "latest message first");
    let id = second["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/prm/conversations/{id}"),
        json!({"bot_paused": true, "assignee": "laura"}),
    )
    .await;
    let paused = app
        .get_json("/api/v1/prm/conversations?bot_paused=true")
        .await;
    assert_eq!(paused["total"], 1);
    assert_eq!(paused["items"][0]["assignee"], "laura");
    let intake = app
        .get_json("/api/v1/prm/conversations?stage=intake&status=open&channel=whatsapp")
        .await;
    assert_eq!(intake["total"], 2);
    let page = app
        .get_json("/api/v1/prm/conversations?limit=1&offset=1")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["phone"], PATIENT);
    let detail = app
        .get_json(&format!("/api/v1/prm/conversations/{id}"))
        .await;
    assert_eq!(detail["messages"].as_array().unwrap().len(), 2, "{detail}");
    assert_eq!(
        detail["messages"][0]["direction"], "inbound",
        "oldest first"
    );
}

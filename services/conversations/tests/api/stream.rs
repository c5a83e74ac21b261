//! The staff inbox's live feed (SSE).

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::*;

/// Reads an SSE response into (arrival time, event name, data) items.
fn events_of(
    response: reqwest::Response,
) -> tokio::sync::mpsc::UnboundedReceiver<(Instant, String, Value)> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut bytes = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = bytes.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = e.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if let Ok(value) = serde_json::from_str(&data) {
                    let _ = sender.send((Instant::now(), event, value));
                }
            }
        }
    });
    receiver
}

#[tokio::test]
async fn a_staff_client_sees_a_message_within_a_second_of_it_being_stored() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/prm/conversations/stream?api_key={API_KEY}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut events = events_of(response);
    // The feed is live once the client is counted.
    eventually(Duration::from_secs(5), || async {
        (app.app.stream.clients() == 1).then_some(())
    })
    .await;
    app.receive(message_received(PATIENT, "Hola, ¿me ayudan?"))
        .await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().unwrap().to_owned();
    app.wait_for_messages(&id, 1).await;
    let stored = Instant::now();
    let (arrived, _, message) = loop {
        let (at, event, data) = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event within 5 s")
            .expect("the stream is open");
        if event == "message" && data["body"] == "Hola, ¿me ayudan?" {
            break (at, event, data);
        }
    };
    assert!(
        arrived.saturating_duration_since(stored) < Duration::from_secs(1),
        "arrived {:?} after it was stored",
        arrived.saturating_duration_since(stored)
    );
    assert_eq!(message["conversation_id"], id.as_str());
    assert_eq!(message["author"], "patient");
    // Conversation changes come as `conversation` events, with the Bearer header too.
    let response = app
        .client
        .get(app.url("/api/v1/prm/conversations/stream"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    let mut second = events_of(response);
    eventually(Duration::from_secs(5), || async {
        (app.app.stream.clients() == 2).then_some(())
    })
    .await;
    app.patch(
        &format!("/api/v1/prm/conversations/{id}"),
        json!({"assignee": "laura"}),
    )
    .await;
    loop {
        let (_, event, data) = tokio::time::timeout(Duration::from_secs(5), second.recv())
            .await
            .expect("a conversation event")
            .expect("open");
        if event == "conversation" && data["assignee"] == "laura" {
            break;
        }
    }
}

#[tokio::test]
async fn a_client_that_disconnects_costs_nothing() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/prm/conversations/stream"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), || async {
        (app.app.stream.clients() == 1).then_some(())
    })
    .await;
    drop(response);
    // The server notices at its next write (an event or the keep-alive).
    app.receive(message_received(PATIENT, "Hola")).await;
    eventually(Duration::from_secs(20), || async {
        (app.app.stream.clients() == 0).then_some(())
    })
    .await;
}

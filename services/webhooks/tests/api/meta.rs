use serde_json::{Value, json};

use crate::helpers::*;

const HEADER: &str = "X-Hub-Signature-256";

fn delivery(messages: Value, statuses: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "María Pérez"}, "wa_id": "573001234567"}],
            "messages": messages,
            "statuses": statuses
        }}]}]
    }))
    .unwrap()
}

fn wamid() -> String {
    format!("wamid.{}", uuid::Uuid::new_v4().simple())
}

fn message(id: &str, kind: &str, content: Value) -> Value {
    let mut m = json!({"from": "573001234567", "id": id, "timestamp": "1767225600", "type": kind});
    m[kind] = content;
    m
}

async fn deliver(app: &TestApp, body: &[u8]) -> Value {
    let r = app
        .post_signed_json(META_PATH, HEADER, META_APP_SECRET, body)
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn verification_echoes_the_challenge_only_for_the_right_token() {
    let app = spawn_app().await;
    let ok = app
        .client
        .get(app.url(META_PATH))
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", META_VERIFY_TOKEN),
            ("hub.challenge", "1158201444"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for query in [
        vec![
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "wrong"),
            ("hub.challenge", "1"),
        ],
        vec![
            ("hub.mode", "unsubscribe"),
            ("hub.verify_token", META_VERIFY_TOKEN),
            ("hub.challenge", "1"),
        ],
        vec![("hub.challenge", "1")],
    ] {
        let r = app
            .client
            .get(app.url(META_PATH))
            .query(&query)
            .send()
            .await
            .unwrap();
        problem(r, 403, "verification_failed").await;
    }
    let closed = spawn_app_with(&[("WHATSAPP_VERIFY_TOKEN", "")]).await;
    let r = closed
        .client
        .get(closed.url(META_PATH))
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", ""),
            ("hub.challenge", "1"),
        ])
        .send()
        .await
        .unwrap();
    problem(r, 403, "verification_failed").await;
}

#[tokio::test]
async fn every_known_answer_signature_vector_verifies() {
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/meta-signatures.json")).unwrap();
    let vectors = fixture["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let secret = v["app_secret"].as_str().unwrap();
        let body = v["raw_body_utf8"].as_str().unwrap().as_bytes();
        let expected = v["x_hub_signature_256"].as_str().unwrap();
        let name = v["name"].as_str().unwrap();
        assert!(
            prm_webhooks::http::verify_sha256_signature(secret.as_bytes(), body, expected),
            "{name}"
        );
        assert_eq!(
            prm_webhooks::http::sign_sha256(secret.as_bytes(), body),
            expected,
            "{name}"
        );
        let mut flipped = body.to_vec();
        flipped[0] ^= 1;
        assert!(
            !prm_webhooks::http::verify_sha256_signature(secret.as_bytes(), &flipped, expected),
            "{name}"
        );

        // And over HTTP, with the vector's secret and exact bytes: every message in it
        // becomes its event.
        let app = spawn_app_with(&[("WHATSAPP_APP_SECRET", secret)]).await;
        let r = app
            .post_json_signed(META_PATH, body.to_vec(), &[(HEADER, expected)])
            .await;
        assert_eq!(r.status(), 200, "{name}");
        let sent: Value = serde_json::from_slice(body).unwrap();
        let value = &sent["entry"][0]["changes"][0]["value"];
        let messages = value["messages"].as_array().unwrap();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["messages"], messages.len(), "{name}: {answer}");
        for m in messages {
            let id = m["id"].as_str().unwrap();
            let events = app.received(id).await;
            assert_eq!(events.len(), 1, "{name}: {id}");
            let e = &events[0];
            assert_eq!(e["provider"], "meta", "{name}");
            assert_eq!(e["channel"], "whatsapp", "{name}");
            assert_eq!(
                e["from"],
                format!("+{}", m["from"].as_str().unwrap()),
                "{name}"
            );
            assert_eq!(
                e["to"],
                format!(
                    "+{}",
                    value["metadata"]["display_phone_number"].as_str().unwrap()
                ),
                "{name}"
            );
            assert_eq!(e["wa_id"], m["from"], "{name}");
            assert_eq!(
                e["profile_name"], value["contacts"][0]["profile"]["name"],
                "{name}"
            );
            if m["type"] == "text" {
                assert_eq!(e["body"], m["text"]["body"], "{name}");
            }
            let secs = m["timestamp"].as_str().unwrap().parse::<i64>().unwrap();
            let at = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            assert_eq!(
                e["received_at"],
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            assert_eq!(e["provider_fields"]["type"], m["type"], "{name}");
        }
        let r = app
            .post_json_signed(META_PATH, flipped, &[(HEADER, expected)])
            .await;
        problem(r, 403, "invalid_signature").await;
    }
}

#[tokio::test]
async fn text_image_interactive_and_button_messages_become_events() {
    let app = spawn_app().await;
    let (text, image, button_reply, list_reply, button) =
        (wamid(), wamid(), wamid(), wamid(), wamid());
    let body = delivery(
        json!([
            message(&text, "text", json!({"body": "Hola 👋 <b>cita</b>"})),
            message(
                &image,
                "image",
                json!({"id": "1479537139650973", "mime_type": "image/jpeg", "caption": "mi orden"})
            ),
            message(
                &button_reply,
                "interactive",
                json!({"type": "button_reply", "button_reply": {"id": "slot-2", "title": "Martes 10:00"}})
            ),
            message(
                &list_reply,
                "interactive",
                json!({"type": "list_reply", "list_reply": {"id": "row-1", "title": "Cardiología", "description": "x"}})
            ),
            message(
                &button,
                "button",
                json!({"text": "Confirmar", "payload": "confirm"})
            ),
        ]),
        json!([]),
    );
    let answer = deliver(&app, &body).await;
    assert_eq!(answer["messages"], 5);
    let one = |id: String| {
        let app = &app;
        async move {
            let mut events = app.received(&id).await;
            assert_eq!(events.len(), 1, "{id}");
            events.remove(0)
        }
    };
    let t = one(text).await;
    assert_eq!(
        (t["provider"].as_str(), t["channel"].as_str()),
        (Some("meta"), Some("whatsapp"))
    );
    assert_eq!(t["from"], "+573001234567");
    assert_eq!(t["to"], "+15550783881");
    assert_eq!(t["body"], "Hola 👋 <b>cita</b>");
    assert_eq!(t["profile_name"], "María Pérez");
    assert_eq!(t["wa_id"], "573001234567");
    assert_eq!(t["received_at"], "2026-01-01T00:00:00Z");
    let i = one(image).await;
    assert_eq!(i["body"], "mi orden");
    assert_eq!(i["media"][0]["content_type"], "image/jpeg");
    assert!(
        i["media"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/1479537139650973")
    );
    assert_eq!(one(button_reply).await["body"], "Martes 10:00");
    assert_eq!(one(list_reply).await["body"], "Cardiología");
    assert_eq!(one(button).await["body"], "Confirmar");
}

#[tokio::test]
async fn audio_without_openai_goes_out_with_media_and_null_transcription() {
    let app = spawn_app().await;
    let id = wamid();
    let body = delivery(
        json!([message(
            &id,
            "audio",
            json!({"id": "987654321", "mime_type": "audio/ogg; codecs=opus", "voice": true})
        )]),
        json!([]),
    );
    deliver(&app, &body).await;
    let events = app.received(&id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["media"][0]["content_type"],
        "audio/ogg; codecs=opus"
    );
    assert!(events[0]["transcription"].is_null());
}

#[tokio::test]
async fn statuses_become_status_events_and_unknown_types_are_acknowledged() {
    let app = spawn_app().await;
    let (sent, sticker) = (wamid(), wamid());
    let body = delivery(
        json!([
            message(&sticker, "sticker", json!({"id": "1", "mime_type": "image/webp"})),
            message(&wamid(), "reaction", json!({"message_id": "wamid.x", "emoji": "👍"})),
            {"id": wamid(), "type": "text"},
        ]),
        json!([
            {"id": sent, "status": "delivered", "timestamp": "1767225700", "recipient_id": "573001234567"},
            {"id": sent, "status": "failed", "timestamp": "1767225800", "recipient_id": "573001234567", "errors": [{"code": 131047, "title": "Re-engagement message"}]},
            {"id": sent, "status": "deleted"}
        ]),
    );
    let answer = deliver(&app, &body).await;
    assert_eq!(answer["messages"], 0);
    assert_eq!(answer["statuses"], 2);
    // sticker, reaction, the text without body or sender, the `deleted` status.
    assert_eq!(answer["ignored"], 4);
    let statuses = app.statuses(&sent).await;
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0]["status"], "delivered");
    assert_eq!(statuses[0]["provider"], "meta");
    assert_eq!(statuses[1]["status"], "failed");
    assert_eq!(statuses[1]["error_code"], "131047");
    assert!(app.received(&sticker).await.is_empty());
    // Redelivered: nothing new.
    let answer = deliver(&app, &body).await;
    assert_eq!(answer["duplicates"], 2);
    assert_eq!(app.statuses(&sent).await.len(), 2);
}

#[tokio::test]
async fn a_wamid_is_processed_once() {
    let app = spawn_app().await;
    let id = wamid();
    let body = delivery(
        json!([message(&id, "text", json!({"body": "hola"}))]),
        json!([]),
    );
    let responses = futures::future::join_all(
        (0..10).map(|_| app.post_signed_json(META_PATH, HEADER, META_APP_SECRET, &body)),
    )
    .await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(app.received(&id).await.len(), 1);
}

#[tokio::test]
async fn bodies_up_to_4_mib_are_accepted_and_larger_are_413() {
    let app = spawn_app().await;
    let id = wamid();
    let padding = "p".repeat(3 * 1024 * 1024 + 512 * 1024);
    let mut value: Value = serde_json::from_slice(&delivery(
        json!([message(&id, "text", json!({"body": "grande"}))]),
        json!([]),
    ))
    .unwrap();
    value["padding"] = json!(padding);
    let body = serde_json::to_vec(&value).unwrap();
    assert!(body.len() < 4 * 1024 * 1024);
    deliver(&app, &body).await;
    assert_eq!(app.received(&id).await.len(), 1);

    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    let r = app
        .post_signed_json(META_PATH, HEADER, META_APP_SECRET, &big)
        .await;
    problem(r, 413, "payload_too_large").await;
    app.assert_healthy().await;
}

#[tokio::test]
async fn missing_wrong_or_unconfigured_signatures_are_refused() {
    let app = spawn_app().await;
    let body = delivery(
        json!([message(&wamid(), "text", json!({"body": "hola"}))]),
        json!([]),
    );
    problem(
        app.post_json_signed(META_PATH, body.clone(), &[]).await,
        400,
        "bad_request",
    )
    .await;
    problem(
        app.post_json_signed(META_PATH, body.clone(), &[(HEADER, "sha256=00")])
            .await,
        403,
        "invalid_signature",
    )
    .await;
    let wrong = prm_webhooks::http::sign_sha256(b"another secret", &body);
    problem(
        app.post_json_signed(META_PATH, body.clone(), &[(HEADER, wrong.as_str())])
            .await,
        403,
        "invalid_signature",
    )
    .await;
    assert_eq!(app.total_rows().await, 0);
    // Signed garbage is a 400, not a crash.
    let garbage = b"{\"entry\": [".to_vec();
    let r = app
        .post_signed_json(META_PATH, HEADER, META_APP_SECRET, &garbage)
        .await;
    problem(r, 400, "malformed_json").await;

    let closed = spawn_app_with(&[("WHATSAPP_APP_SECRET", "")]).await;
    problem(
        closed
            .post_signed_json(META_PATH, HEADER, META_APP_SECRET, &body)
            .await,
        503,
        "unavailable",
    )
    .await;
    app.assert_healthy().await;
}

#[tokio::test]
async fn deleted_warning_and_unknown_statuses_are_acknowledged_without_events() {
    let app = spawn_app().await;
    let id = wamid();
    let body = delivery(
        json!([]),
        json!([
            {"id": id, "status": "sent", "timestamp": "1767225700"},
            {"id": id, "status": "deleted", "timestamp": "1767225800"},
            {"id": id, "status": "warning", "timestamp": "1767225900"},
            {"id": id, "status": "some_future_status"},
            {"id": id, "status": 7},
            "not an object"
        ]),
    );
    let answer = deliver(&app, &body).await;
    assert_eq!(
        answer,
        json!({"messages": 0, "statuses": 1, "duplicates": 0, "ignored": 5})
    );
    let statuses = app.statuses(&id).await;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["status"], "sent");
}

#[tokio::test]
async fn an_unstorable_wamid_is_ignored_and_the_rest_of_the_batch_goes_through() {
    let app = spawn_app().await;
    let (good, status_id) = (wamid(), wamid());
    let too_long = format!("wamid.{}", "é".repeat(250));
    assert_eq!(too_long.chars().count(), 256);
    let body = delivery(
        json!([
            message(&too_long, "text", json!({"body": "largo"})),
            message("wamid.placeholder", "text", json!({"body": "nul"})),
            message(&good, "text", json!({"body": "hola"})),
            // A wrongly typed field ignores that item only.
            {"from": "573001234567", "id": 42, "type": "text", "text": {"body": "x"}},
        ]),
        json!([
            {"id": too_long, "status": "delivered"},
            {"id": status_id, "status": "delivered"}
        ]),
    );
    // The second wamid holds U+0000 (the JSON escape `\u0000` on the wire).
    let mut value: Value = serde_json::from_slice(&body).unwrap();
    value["entry"][0]["changes"][0]["value"]["messages"][1]["id"] = json!("wamid.nul\u{0}inside");
    let body = serde_json::to_vec(&value).unwrap();
    let answer = deliver(&app, &body).await;
    assert_eq!(
        answer,
        json!({"messages": 1, "statuses": 1, "duplicates": 0, "ignored": 4})
    );
    assert_eq!(app.received(&good).await.len(), 1);
    assert_eq!(app.statuses(&status_id).await.len(), 1);
    assert_eq!(app.total_rows().await, 1);
    app.assert_healthy().await;
}

#[tokio::test]
async fn timestamps_no_database_can_hold_are_replaced_by_the_time_of_receipt() {
    let now = prm_testkit::time::bogota("2030-01-13 23:15");
    let app = spawn(Spawn::new().at(now)).await;
    let (text, sent) = (wamid(), wamid());
    let mut early = message(&text, "text", json!({"body": "hola"}));
    early["timestamp"] = json!("-998634765788");
    let body = delivery(
        json!([early]),
        json!([{"id": sent, "status": "sent", "timestamp": "99999999999999"}]),
    );
    let answer = deliver(&app, &body).await;
    assert_eq!(answer["messages"], 1);
    assert_eq!(answer["statuses"], 1);
    let at = |v: &Value, field: &str| {
        chrono::DateTime::parse_from_rfc3339(v[field].as_str().unwrap()).unwrap()
    };
    let received = app.received(&text).await.remove(0);
    assert_eq!(at(&received, "received_at"), now, "{received}");
    let status = app.statuses(&sent).await.remove(0);
    assert_eq!(at(&status, "updated_at"), now, "{status}");
    app.assert_healthy().await;
}

#[tokio::test]
async fn nul_and_control_characters_in_texts_and_names_reach_the_event_verbatim() {
    let app = spawn_app().await;
    let (text, image, reply) = (wamid(), wamid(), wamid());
    let name = "Mar\u{0}ía \u{1b}[1m";
    let mut value: Value = serde_json::from_slice(&delivery(
        json!([
            message(&text, "text", json!({"body": "a\u{0}b\u{1}c\u{7f}"})),
            message(&image, "image", json!({"id": "1", "mime_type": "image/jpeg", "caption": "\u{0}"})),
            message(&reply, "interactive", json!({"type": "button_reply", "button_reply": {"id": "x\u{0}", "title": "S\u{0}í"}})),
        ]),
        json!([{"id": wamid(), "status": "failed", "errors": [{"code": "13\u{0}1"}]}]),
    ))
    .unwrap();
    value["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = json!(name);
    let body = serde_json::to_vec(&value).unwrap();
    assert!(
        body.windows(6).any(|w| w == b"\\u0000"),
        "the JSON carries the escape"
    );
    let answer = deliver(&app, &body).await;
    assert_eq!(answer["messages"], 3);
    assert_eq!(answer["statuses"], 1);
    let t = app.received(&text).await.remove(0);
    assert_eq!(t["body"], "a\u{0}b\u{1}c\u{7f}");
    assert_eq!(t["profile_name"], name);
    assert_eq!(app.received(&image).await.remove(0)["body"], "\u{0}");
    let r = app.received(&reply).await.remove(0);
    assert_eq!(r["body"], "S\u{0}í");
    assert_eq!(
        r["provider_fields"]["interactive"]["button_reply"]["id"],
        "x\u{0}"
    );
    let stored = app
        .stored_fields(prm_domain::events::MessageProvider::Meta, &reply)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Value::Object(stored), r["provider_fields"]);
    app.assert_healthy().await;
}

#[tokio::test]
async fn locations_become_events_and_unmapped_fields_are_kept() {
    let app = spawn_app().await;
    let (place, text) = (wamid(), wamid());
    let mut with_context = message(&text, "text", json!({"body": "esta sede"}));
    with_context["context"] = json!({"from": "15550783881", "id": "wamid.ORIGINAL"});
    with_context["referral"] =
        json!({"source_url": "https://example.test/ad", "source_type": "ad"});
    let body = delivery(
        json!([
            message(
                &place,
                "location",
                json!({"latitude": 4.6534649, "longitude": -74.0836453, "name": "Sede Norte", "address": "Cra. 7 #40-62"})
            ),
            with_context,
            message(
                &wamid(),
                "location",
                json!({"latitude": 123.0, "longitude": 0.0})
            ),
        ]),
        json!([]),
    );
    let answer = deliver(&app, &body).await;
    assert_eq!(
        (answer["messages"].as_u64(), answer["ignored"].as_u64()),
        (Some(2), Some(1))
    );
    let p = app.received(&place).await.remove(0);
    assert_eq!(p["body"], "");
    assert_eq!(
        p["location"],
        json!({"latitude": 4.6534649, "longitude": -74.0836453, "address": "Cra. 7 #40-62", "label": "Sede Norte"})
    );
    assert_eq!(p["provider_fields"]["type"], "location");
    let t = app.received(&text).await.remove(0);
    assert!(t.get("location").is_none());
    assert_eq!(t["provider_fields"]["context"]["id"], "wamid.ORIGINAL");
    assert_eq!(t["provider_fields"]["referral"]["source_type"], "ad");
    let fields = t["provider_fields"].as_object().unwrap();
    for carried in ["from", "id", "timestamp"] {
        assert!(!fields.contains_key(carried), "{carried}");
    }
    assert_eq!(
        app.stored_fields(prm_domain::events::MessageProvider::Meta, &text)
            .await
            .unwrap()
            .map(Value::Object),
        Some(t["provider_fields"].clone())
    );
}

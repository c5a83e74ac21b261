//! The conversation state: §5 keys in Redis as a cache of the database. Flushed or
//! unreachable Redis means a rebuilt state, never a restarted intake or a 500.

use std::time::Duration;

use prm_state::keys;
use serde_json::json;

use crate::helpers::*;

fn with_redis() -> Spawn {
    Spawn {
        adapters: Adapters::Servers,
        ..Spawn::default()
    }
}

#[tokio::test]
async fn the_state_is_cached_under_the_section_5_keys_with_a_ttl() {
    let app = spawn(with_redis().var("CONVERSATION_STATE_TTL_SECS", "600")).await;
    let (id, _) = say(&app, "Hola, soy Ana Ruiz", 1).await;
    let raw = prm_state::from_config(Some(REDIS_URL), Some(&app.redis_prefix)).unwrap();
    let uuid: uuid::Uuid = id.parse().unwrap();
    let state = raw
        .hash_get_all(&keys::conversation_state(uuid))
        .await
        .unwrap();
    assert_eq!(
        state
            .get("stage")
            .map(String::as_str)
            .map(|s| s.starts_with("v1.")),
        Some(true),
        "sealed: {state:?}"
    );
    for key in [
        keys::conversation_state(uuid),
        keys::required_fields(uuid),
        keys::recent_messages(uuid),
        keys::phone_to_conversation(PATIENT),
    ] {
        let ttl = raw.ttl(&key).await.unwrap().unwrap_or_default();
        assert!(
            ttl > Duration::from_secs(500) && ttl <= Duration::from_secs(600),
            "{key}: {ttl:?}"
        );
    }
    let view = app
        .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
        .await;
    assert_eq!(view["rebuilt"], false);
    assert_eq!(view["extracted_data"]["name"], "Ana Ruiz");
    assert_eq!(view["required_fields"][0], "date_of_birth");
    assert!(view["expires_in_seconds"].as_u64().unwrap() > 500);
}

#[tokio::test]
async fn a_flushed_redis_rebuilds_the_state_and_the_intake_goes_on() {
    let app = spawn(with_redis()).await;
    let (id, _) = say(&app, "Hola", 1).await;
    say(&app, "Ana Ruiz", 2).await;
    say(&app, "3 de mayo de 1985", 3).await;
    let (_, asked) = say(&app, "dolor de pecho", 4).await;
    // The send refreshes the cache just after recording its status; flush after that.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let raw = prm_state::from_config(Some(REDIS_URL), Some(&app.redis_prefix)).unwrap();
    let uuid: uuid::Uuid = id.parse().unwrap();
    for key in [
        keys::conversation_state(uuid),
        keys::required_fields(uuid),
        keys::recent_messages(uuid),
        keys::phone_to_conversation(PATIENT),
    ] {
        raw.delete(&key).await.unwrap();
    }
    let view = app
        .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
        .await;
    assert_eq!(view["rebuilt"], true, "{view}");
    assert_eq!(view["extracted_data"]["name"], "Ana Ruiz");
    assert_eq!(view["extracted_data"]["date_of_birth"], "1985-05-03");
    let again = app
        .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
        .await;
    assert_eq!(again["rebuilt"], false, "the rebuild was cached again");
    // The fourth answer continues the intake where it stood.
    let (same, next) = say(&app, "me falta el aire", 5).await;
    assert_eq!(same, id, "the same conversation");
    assert_ne!(next, asked);
    assert!(
        !next.to_lowercase().contains("nombre"),
        "not restarted: {next}"
    );
    let view = app
        .get_json(&format!("/api/v1/prm/conversations/{id}/state"))
        .await;
    assert!(view["extracted_data"].get("symptoms").is_some(), "{view}");
}

#[tokio::test]
async fn with_redis_down_messages_are_still_stored_and_answered() {
    let app = spawn(
        Spawn {
            adapters: Adapters::Embedded,
            ..Spawn::default()
        }
        .var("REDIS_URL", "redis://127.0.0.1:1")
        .var("PRM_ENV", "development"),
    )
    .await;
    let (id, first) = say(&app, "Hola, necesito una cita", 1).await;
    assert!(!first.is_empty());
    let (_, second) = say(&app, "Soy Ana Ruiz", 2).await;
    assert!(
        second.contains("nac") || second.contains("fecha"),
        "{second}"
    );
    let view = app
        .get(&format!("/api/v1/prm/conversations/{id}/state"))
        .await;
    assert_eq!(view.status(), 200, "never a 500");
    let view: serde_json::Value = view.json().await.unwrap();
    assert_eq!(view["rebuilt"], true);
    assert_eq!(view["extracted_data"]["name"], "Ana Ruiz");
}

#[tokio::test]
async fn initialize_restarts_the_intake_with_the_fields_asked() {
    let app = spawn_app().await;
    let (id, _) = say(&app, "Hola", 1).await;
    say(&app, "Soy Ana Ruiz", 2).await;
    let path = format!("/api/v1/prm/conversations/{id}/state/initialize");
    let r = app
        .post(
            &path,
            json!({"required_fields": ["preferred_day_time", "chief_complaint"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let view: serde_json::Value = r.json().await.unwrap();
    assert_eq!(view["stage"], "intake");
    assert_eq!(
        view["required_fields"],
        json!(["chief_complaint", "preferred_day_time"]),
        "in §8 order"
    );
    assert_eq!(view["extracted_data"], json!({}));
    let r = app
        .post(&path, json!({"required_fields": ["name", "shoe_size"]}))
        .await;
    let body = problem(r, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "required_fields[1]");
    let r = app.request(reqwest::Method::POST, &path, None).await;
    assert_eq!(r.status(), 201, "the body is optional");
    let r = app
        .client
        .post(app.url(&path))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(r, 400, "malformed_json").await;
    let unknown = format!(
        "/api/v1/prm/conversations/{}/state/initialize",
        uuid::Uuid::now_v7()
    );
    problem(app.post(&unknown, json!({})).await, 404, "not_found").await;
    let unknown = format!("/api/v1/prm/conversations/{}/state", uuid::Uuid::now_v7());
    problem(app.get(&unknown).await, 404, "not_found").await;
}

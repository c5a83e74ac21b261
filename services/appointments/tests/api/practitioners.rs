use serde_json::{Value, json};

use crate::helpers::{fields, problem, spawn_app};

#[tokio::test]
async fn practitioners_are_created_filtered_updated_and_deactivated() {
    let app = spawn_app().await;
    let ana = app.create_practitioner("Cardiology").await;
    assert_eq!(ana["active"], true);
    app.post(
        "/api/v1/prm/practitioners",
        json!({"name": "Dr. Luis Peña", "specialty": "Dermatology", "phone": "3005556677"}),
    )
    .await;

    let cardio: Value = app
        .get("/api/v1/prm/practitioners?specialty=cardiology")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cardio["total"], 1, "specialty filter is case-insensitive");
    assert_eq!(cardio["items"][0]["id"], ana["id"]);

    let id = ana["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/api/v1/prm/practitioners/{id}"),
            json!({"name": "Dra. Ana Gómez", "specialty": "Pediatrics"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["specialty"], "Pediatrics");

    let r = app.delete(&format!("/api/v1/prm/practitioners/{id}")).await;
    assert_eq!(r.status(), 200);
    let deactivated: Value = r.json().await.unwrap();
    assert_eq!(deactivated["active"], false);
    let active: Value = app
        .get("/api/v1/prm/practitioners?active=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active["total"], 1);
    let all: Value = app
        .get("/api/v1/prm/practitioners")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 2, "deactivated, not deleted");
}

#[tokio::test]
async fn practitioners_can_be_found_by_location() {
    let app = spawn_app().await;
    let location = app.create_location().await;
    let ana = app.create_practitioner("Cardiology").await;
    app.create_practitioner("Cardiology").await;
    app.post(
        &format!("/api/v1/prm/practitioners/{}/schedules", ana["id"].as_str().unwrap()),
        json!({"location_id": location["id"], "day_of_week": 1, "start_time": "08:00", "end_time": "12:00", "slot_minutes": 20}),
    )
    .await;
    let there: Value = app
        .get(&format!(
            "/api/v1/prm/practitioners?location_id={}",
            location["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(there["total"], 1);
    assert_eq!(there["items"][0]["id"], ana["id"]);
}

#[tokio::test]
async fn invalid_practitioners_are_refused() {
    let app = spawn_app().await;
    let p = problem(
        app.post(
            "/api/v1/prm/practitioners",
            json!({"name": "", "specialty": " ", "phone": "12"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["name", "specialty", "phone"]);
    let p = problem(
        app.post(
            "/api/v1/prm/practitioners",
            json!({"name": "Dr. X", "specialty": "GP", "active": "yes"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["active"]);
    assert_eq!(app.total("/api/v1/prm/practitioners").await, 0);
}

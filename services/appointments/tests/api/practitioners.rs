use serde_json::{Value, json};

use crate::helpers::{fields, problem, spawn_app, urlencode};

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
        .get_json("/api/v1/prm/practitioners?specialty=cardiology")
        .await;
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
    let active: Value = app.get_json("/api/v1/prm/practitioners?active=true").await;
    assert_eq!(active["total"], 1);
    let all: Value = app.get_json("/api/v1/prm/practitioners").await;
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
        .get_json(&format!(
            "/api/v1/prm/practitioners?location_id={}",
            location["id"].as_str().unwrap()
        ))
        .await;
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

/// Departments match specialties trimmed and case-insensitively beyond ASCII, on SQLite
/// (whose `lower()` only folds ASCII) as on PostgreSQL.
#[tokio::test]
async fn departments_match_specialties_ignoring_unicode_case_and_spaces() {
    let app = spawn_app().await;
    let location = app.create_location().await;
    let pediatra = app.create_practitioner(" Pediatría ").await;
    assert_eq!(pediatra["specialty"], "Pediatría", "stored trimmed");
    app.create_practitioner("Pediatrics").await;
    let r = app
        .post(
            &format!(
                "/api/v1/prm/practitioners/{}/schedules",
                pediatra["id"].as_str().unwrap()
            ),
            json!({"location_id": location["id"], "day_of_week": 0, "start_time": "08:00", "end_time": "12:00", "slot_minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // "Pediatri\u{301}a": the accent as a combining character, as some keyboards send it.
    for department in ["PEDIATRÍA", "pediatría", " Pediatría ", "PEDIATRI\u{301}A"] {
        let list: Value = app
            .get_json(&format!(
                "/api/v1/prm/practitioners?specialty={}",
                urlencode(department)
            ))
            .await;
        assert_eq!(list["total"], 1, "{department:?}: {list}");
        assert_eq!(list["items"][0]["id"], pediatra["id"]);

        let found: Value = app
            .post_json(
                "/api/v1/prm/appointments/find-slots",
                json!({"department": department, "limit": 3}),
            )
            .await;
        let slots = found["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 3, "{department:?}: {found}");
        assert!(
            slots
                .iter()
                .all(|s| s["practitioner"]["id"] == pediatra["id"])
        );
    }
    let none: Value = app
        .get_json("/api/v1/prm/practitioners?specialty=Pediatria")
        .await;
    assert_eq!(none["total"], 0, "accents are not ignored");

    // Renaming the specialty moves the practitioner to the new department.
    let id = pediatra["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/api/v1/prm/practitioners/{id}"),
            json!({"name": "Dra. Rojas", "specialty": "CARDIOLOGÍA"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.total("/api/v1/prm/practitioners?specialty=cardiolog%C3%ADa")
            .await,
        1
    );
    assert_eq!(
        app.total("/api/v1/prm/practitioners?specialty=pediatr%C3%ADa")
            .await,
        0
    );
}

use serde_json::{Value, json};

use crate::helpers::{fields, problem, spawn_app};

#[tokio::test]
async fn locations_can_be_created_read_updated_listed_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/prm/locations",
            json!({"name": "  Sede Norte ", "timezone": "America/Bogota", "city": "Bogotá", "phone": "601 234 5678", "address": ""}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Sede Norte", "trimmed");
    assert_eq!(created["phone"], "+576012345678", "normalized to E.164");
    assert_eq!(
        created["address"],
        Value::Null,
        "blank optional text is absent"
    );

    let fetched: Value = app.get_json(&format!("/api/v1/prm/locations/{id}")).await;
    assert_eq!(fetched, created);

    let r = app
        .put(
            &format!("/api/v1/prm/locations/{id}"),
            json!({"name": "Sede Norte II", "timezone": "Europe/Madrid"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["timezone"], "Europe/Madrid");
    assert_eq!(updated["city"], Value::Null);

    app.post(
        "/api/v1/prm/locations",
        json!({"name": "Sede Sur", "timezone": "America/Bogota", "city": "Cali"}),
    )
    .await;
    let list: Value = app.get_json("/api/v1/prm/locations?city=CALI").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["name"], "Sede Sur");
    let list: Value = app
        .get_json("/api/v1/prm/locations?name=norte&limit=1&offset=0")
        .await;
    assert_eq!(
        (
            list["total"].as_u64(),
            list["limit"].as_u64(),
            list["offset"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );

    assert_eq!(
        app.delete(&format!("/api/v1/prm/locations/{id}"))
            .await
            .status(),
        204
    );
    problem(
        app.get(&format!("/api/v1/prm/locations/{id}")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn invalid_locations_are_refused_naming_every_field() {
    let app = spawn_app().await;
    for (body, expected) in [
        (
            json!({"name": "Sede", "timezone": "Mars/Olympus"}),
            vec!["timezone"],
        ),
        (
            json!({"name": "Sede", "timezone": "america/bogota"}),
            vec!["timezone"],
        ),
        (
            json!({"name": "   ", "timezone": "GMT+5"}),
            vec!["name", "timezone"],
        ),
        (
            json!({"name": "Sede", "timezone": "UTC", "phone": "call me"}),
            vec!["phone"],
        ),
        (
            json!({"name": "x".repeat(201), "timezone": "UTC"}),
            vec!["name"],
        ),
    ] {
        let p = problem(
            app.post("/api/v1/prm/locations", body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), expected, "{body}");
    }
    assert_eq!(
        app.total("/api/v1/prm/locations").await,
        0,
        "nothing written"
    );
}

#[tokio::test]
async fn a_failed_update_changes_nothing() {
    let app = spawn_app().await;
    let created = app.create_location().await;
    let path = format!("/api/v1/prm/locations/{}", created["id"].as_str().unwrap());
    problem(
        app.put(
            &path,
            json!({"name": "Renamed", "timezone": "Nowhere/City"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let after: Value = app.get_json(&path).await;
    assert_eq!(after, created);
}

#[tokio::test]
async fn a_location_in_use_cannot_be_deleted() {
    let app = spawn_app().await;
    let location = app.create_location().await;
    let practitioner = app.create_practitioner("Cardiology").await;
    let r = app
        .post(
            &format!("/api/v1/prm/practitioners/{}/schedules", practitioner["id"].as_str().unwrap()),
            json!({"location_id": location["id"], "day_of_week": 0, "start_time": "09:00", "end_time": "12:00", "slot_minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let path = format!("/api/v1/prm/locations/{}", location["id"].as_str().unwrap());
    problem(app.delete(&path).await, 409, "in_use").await;
    assert_eq!(app.get(&path).await.status(), 200, "still there");
}

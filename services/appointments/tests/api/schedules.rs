use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, problem, spawn_app};

async fn setup() -> (TestApp, Value, String) {
    let app = spawn_app().await;
    let location = app.create_location().await;
    let practitioner = app.create_practitioner("Cardiology").await;
    let path = format!(
        "/api/v1/prm/practitioners/{}/schedules",
        practitioner["id"].as_str().unwrap()
    );
    (app, location, path)
}

fn schedule(location: &Value, day: i64, start: &str, end: &str, slot: i64) -> Value {
    json!({"location_id": location["id"], "day_of_week": day, "start_time": start, "end_time": end, "slot_minutes": slot})
}

#[tokio::test]
async fn schedules_are_created_listed_replaced_and_deleted() {
    let (app, location, path) = setup().await;
    let r = app
        .post(&path, schedule(&location, 0, "09:00", "17:00", 30))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["start_time"], "09:00");
    assert_eq!(created["end_time"], "17:00");
    assert_eq!(created["day_of_week"], 0);
    app.post(&path, schedule(&location, 2, "08:00", "12:00", 20))
        .await;

    let list: Value = app.get_json(&path).await;
    assert_eq!(list["total"], 2);
    let mondays: Value = app.get_json(&format!("{path}?day_of_week=0")).await;
    assert_eq!(mondays["total"], 1);

    let one = format!("{path}/{}", created["id"].as_str().unwrap());
    let r = app.put(&one, json!({"location_id": location["id"], "day_of_week": 0, "start_time": "10:00", "end_time": "16:00", "slot_minutes": 45, "valid_from": "2027-01-01", "valid_to": "2027-06-30"})).await;
    assert_eq!(r.status(), 200);
    let replaced: Value = r.json().await.unwrap();
    assert_eq!(replaced["slot_minutes"], 45);
    assert_eq!(replaced["valid_to"], "2027-06-30");

    assert_eq!(app.delete(&one).await.status(), 204);
    problem(app.get(&one).await, 404, "not_found").await;
    assert_eq!(app.total(&path).await, 1);
}

#[tokio::test]
async fn invalid_schedules_are_422_naming_the_field() {
    let (app, location, path) = setup().await;
    let cases = [
        (schedule(&location, 0, "17:00", "09:00", 30), "end_time"),
        (schedule(&location, 0, "09:00", "09:00", 30), "end_time"),
        (schedule(&location, 7, "09:00", "17:00", 30), "day_of_week"),
        (schedule(&location, -1, "09:00", "17:00", 30), "day_of_week"),
        (schedule(&location, 0, "09:00", "10:00", 25), "slot_minutes"),
        (schedule(&location, 0, "09:00", "17:00", 0), "slot_minutes"),
        (
            schedule(&location, 0, "09:00", "17:00", 600),
            "slot_minutes",
        ),
        (schedule(&location, 0, "9am", "17:00", 30), "start_time"),
        (schedule(&location, 0, "09:00", "25:00", 30), "end_time"),
        (
            json!({"location_id": uuid::Uuid::new_v4(), "day_of_week": 0, "start_time": "09:00", "end_time": "17:00", "slot_minutes": 30}),
            "location_id",
        ),
        (
            json!({"location_id": location["id"], "day_of_week": 0, "start_time": "09:00", "end_time": "17:00", "slot_minutes": 30, "valid_from": "2027-02-01", "valid_to": "2027-01-01"}),
            "valid_to",
        ),
        (
            json!({"location_id": "nope", "day_of_week": 0, "start_time": "09:00", "end_time": "17:00", "slot_minutes": 30}),
            "location_id",
        ),
    ];
    for (body, field) in cases {
        let p = problem(
            app.post(&path, body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    assert_eq!(app.total(&path).await, 0, "nothing written");
}

#[tokio::test]
async fn overlapping_schedules_on_the_same_weekday_conflict() {
    let (app, location, path) = setup().await;
    assert_eq!(
        app.post(&path, schedule(&location, 0, "09:00", "12:00", 30))
            .await
            .status(),
        201
    );
    problem(
        app.post(&path, schedule(&location, 0, "11:00", "14:00", 30))
            .await,
        409,
        "schedule_overlap",
    )
    .await;
    problem(
        app.post(&path, schedule(&location, 0, "08:00", "18:00", 30))
            .await,
        409,
        "schedule_overlap",
    )
    .await;
    assert_eq!(
        app.post(&path, schedule(&location, 0, "12:00", "14:00", 30))
            .await
            .status(),
        201,
        "touching is fine"
    );
    assert_eq!(
        app.post(&path, schedule(&location, 1, "09:00", "12:00", 30))
            .await
            .status(),
        201,
        "other weekday"
    );
    assert_eq!(app.total(&path).await, 3);
}

#[tokio::test]
async fn schedules_of_an_unknown_practitioner_are_404() {
    let app = spawn_app().await;
    let location = app.create_location().await;
    let path = format!(
        "/api/v1/prm/practitioners/{}/schedules",
        uuid::Uuid::new_v4()
    );
    problem(
        app.post(&path, schedule(&location, 0, "09:00", "12:00", 30))
            .await,
        404,
        "not_found",
    )
    .await;
}

/// The overlap check must hold under concurrency: on PostgreSQL the practitioner's row is
/// locked before siblings are read, so parallel identical POSTs cannot all pass the check.
#[tokio::test]
async fn concurrent_overlapping_schedules_create_one() {
    let (app, location, path) = setup().await;
    let body = schedule(&location, 3, "09:00", "13:00", 30);
    let answers = app.post_concurrently(&path, &body, 12).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.assert_problem(409, "schedule_overlap");
    }
    assert_eq!(app.total(&path).await, 1);
}

//! Bad input of every kind gives the right 4xx problem+json, changes nothing,
//! and leaves the service healthy.

use serde_json::json;

use crate::helpers::{Clinic, fields, problem, spawn_app, urlencode};

const LOCATIONS: &str = "/api/v1/prm/locations";

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in [
        "{",
        "{\"name\": ",
        "not json",
        "",
        "[1, 2",
        "{\"name\": \"a\"} trailing",
    ] {
        problem(
            app.post_json_bytes(LOCATIONS, body).await,
            400,
            "malformed_json",
        )
        .await;
    }
    assert_eq!(app.total(LOCATIONS).await, 0);
    app.assert_healthy().await;
}

#[tokio::test]
async fn wrong_types_and_missing_fields_name_the_field() {
    let app = spawn_app().await;
    let p = problem(
        app.post(LOCATIONS, json!({"name": 42, "timezone": "America/Bogota"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["name"]);
    let p = problem(
        app.post(LOCATIONS, json!({"name": "Sede"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["timezone"]);
    let p = problem(
        app.post(LOCATIONS, json!([1, 2])).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["body"]);
    assert_eq!(app.total(LOCATIONS).await, 0);
}

#[tokio::test]
async fn a_3_mib_body_is_413_and_the_service_stays_healthy() {
    let app = spawn_app().await;
    let big = format!(
        "{{\"name\": \"{}\", \"timezone\": \"America/Bogota\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let r = app.post_json_bytes(LOCATIONS, big).await;
    problem(r, 413, "payload_too_large").await;
    assert_eq!(app.total(LOCATIONS).await, 0);
    app.assert_healthy().await;
}

#[tokio::test]
async fn a_body_just_over_a_configured_limit_is_413() {
    let app = crate::helpers::spawn_app_with(&[("PRM_MAX_BODY_BYTES", "2048")]).await;
    let body = format!(
        "{{\"name\": \"{}\", \"timezone\": \"America/Bogota\"}}",
        "x".repeat(2100)
    );
    problem(
        app.post_json_bytes(LOCATIONS, body).await,
        413,
        "payload_too_large",
    )
    .await;
    let ok = app
        .post(
            LOCATIONS,
            json!({"name": "Sede", "timezone": "America/Bogota"}),
        )
        .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!("{}{LOCATIONS}", app.address))
        .bearer_auth(crate::helpers::API_KEY)
        .header("content-type", "text/plain")
        .body("{\"name\": \"Sede\", \"timezone\": \"America/Bogota\"}")
        .send()
        .await
        .unwrap();
    problem(r, 415, "unsupported_media_type").await;
    assert_eq!(app.total(LOCATIONS).await, 0);
}

/// A path the service has, asked with a method it does not have: 405 with the methods
/// it does have, and nothing changes. A path it does not have stays 404.
#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    for (response, allow) in [
        // Reached through PATCH /appointments/{id} first: its id does not parse.
        (
            app.delete("/api/v1/prm/appointments/find-slots").await,
            "POST",
        ),
        (
            app.patch("/api/v1/prm/appointments/select-slot", json!({}))
                .await,
            "POST",
        ),
        (
            app.patch(LOCATIONS, json!({"name": "X"})).await,
            "GET, POST",
        ),
        (
            app.post(&format!("{LOCATIONS}/{id}"), json!({"name": "X"}))
                .await,
            "GET, PUT, DELETE",
        ),
        (app.delete("/health").await, "GET"),
    ] {
        let got = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = problem(response, 405, "method_not_allowed").await;
        assert_eq!(got.as_deref(), Some(allow), "{body}");
    }
    assert_eq!(app.total(LOCATIONS).await, 0);
    for path in [
        "/api/v1/prm/appointments/find-slots/x",
        "/api/v1/prm/nothing-here",
    ] {
        let response = app.delete(path).await;
        assert!(response.headers().get("allow").is_none(), "{path}");
        problem(response, 404, "route_not_found").await;
    }
    // Its own method still reaches the route.
    problem(
        app.post("/api/v1/prm/appointments/find-slots", json!({}))
            .await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/prm/locations/{id}"),
        format!("/api/v1/prm/practitioners/{id}"),
        format!("/api/v1/prm/patients/{id}"),
        format!("/api/v1/prm/practitioners/{id}/schedules"),
    ] {
        problem(app.get(&path).await, 404, "not_found").await;
    }
    problem(
        app.get("/api/v1/prm/locations/not-a-uuid").await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get("/api/v1/prm/nothing-here").await,
        404,
        "route_not_found",
    )
    .await;
    problem(
        app.put(
            &format!("/api/v1/prm/locations/{id}"),
            json!({"name": "X", "timezone": "UTC"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.delete(&format!("/api/v1/prm/patients/{id}")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn bad_paging_is_422() {
    let app = spawn_app().await;
    let p = problem(
        app.get("/api/v1/prm/locations?limit=0").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["limit"]);
    problem(
        app.get("/api/v1/prm/locations?limit=1000").await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get("/api/v1/prm/locations?offset=-1").await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get("/api/v1/prm/practitioners?active=maybe").await,
        422,
        "validation_failed",
    )
    .await;
}

/// JSON parsers read years like -5000 and +200000; PostgreSQL cannot hold the first and
/// SQLite orders the second wrongly. Every date field refuses them by name (on
/// PostgreSQL these were 500s), and nothing is written.
#[tokio::test]
async fn dates_outside_years_1_to_9999_are_422_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let Clinic {
        location,
        practitioner,
        patient,
    } = Clinic::plan()
        .hours("08:00", "12:00")
        .patient("Ana Ruiz", "3001112233")
        .open(&app)
        .await;
    let schedules = format!(
        "/api/v1/prm/practitioners/{}/schedules",
        practitioner["id"].as_str().unwrap()
    );
    let booked = app
        .book(json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": app.bogota_in(3, "09:00")}))
        .await;
    let appointment = format!(
        "/api/v1/prm/appointments/{}",
        booked["id"].as_str().unwrap()
    );
    for day in ["-5000-01-01", "0000-12-31", "+10000-01-01", "+200000-01-01"] {
        let at = format!("{day}T09:00:00Z");
        let refused = [
            (
                app.post("/api/v1/prm/patients", json!({"name": "Eva", "phone": "3009998877", "birth_date": day}))
                    .await,
                "birth_date",
            ),
            (
                app.post(&schedules, json!({"location_id": location["id"], "day_of_week": 0, "start_time": "14:00", "end_time": "16:00", "slot_minutes": 30, "valid_from": day}))
                    .await,
                "valid_from",
            ),
            (
                app.post(&schedules, json!({"location_id": location["id"], "day_of_week": 0, "start_time": "14:00", "end_time": "16:00", "slot_minutes": 30, "valid_to": day}))
                    .await,
                "valid_to",
            ),
            (
                app.post("/api/v1/prm/appointments/find-slots", json!({"department": "Cardiology", "from_date": day}))
                    .await,
                "from_date",
            ),
            (
                app.post("/api/v1/prm/appointments", json!({"patient_id": patient["id"], "practitioner_id": practitioner["id"], "location_id": location["id"], "start": at}))
                    .await,
                "start",
            ),
            (
                app.patch(&appointment, json!({"start": at}))
                    .await,
                "start",
            ),
            (
                app.get(&format!("/api/v1/prm/appointments?from={}", urlencode(&at)))
                    .await,
                "from",
            ),
            (
                app.get(&format!("/api/v1/prm/appointments?to={}", urlencode(&at)))
                    .await,
                "to",
            ),
        ];
        for (response, field) in refused {
            let p = problem(response, 422, "validation_failed").await;
            assert_eq!(fields(&p), [field], "{day}: {p}");
        }
    }
    // A search window must end inside the calendar too; the last one that does is fine.
    let p = problem(
        app.post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "from_date": "9999-12-31"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["from_date"]);
    let r = app
        .post(
            "/api/v1/prm/appointments/find-slots",
            json!({"department": "Cardiology", "from_date": "9999-12-15"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.total("/api/v1/prm/patients").await, 1);
    assert_eq!(app.total(&schedules).await, 7);
    assert_eq!(app.total("/api/v1/prm/appointments").await, 1);
    let unchanged: serde_json::Value = app.get_json(&appointment).await;
    assert_eq!(unchanged["start"], booked["start"]);
    app.assert_healthy().await;
}

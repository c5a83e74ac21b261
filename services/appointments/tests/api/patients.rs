use serde_json::{Value, json};

use crate::helpers::{fields, problem, spawn_app};

#[tokio::test]
async fn patients_are_registered_with_normalized_phones() {
    let app = spawn_app().await;
    let r = app
        .post("/api/v1/prm/patients", json!({"name": "María Pérez", "phone": "whatsapp:+57 300 123 4567", "birth_date": "1988-04-12", "locale": "es"}))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["phone"], "+573001234567");
    assert_eq!(created["birth_date"], "1988-04-12");

    let found: Value = app
        .get_json("/api/v1/prm/patients?phone=(300)%20123-4567")
        .await;
    assert_eq!(found["total"], 1, "search by phone in any notation");
    assert_eq!(found["items"][0]["id"], created["id"]);

    let id = created["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/api/v1/prm/patients/{id}"),
            json!({"name": "María José Pérez", "phone": "3001234567", "locale": "en"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["locale"], "en");
    assert_eq!(
        app.delete(&format!("/api/v1/prm/patients/{id}"))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn a_duplicate_phone_is_409_however_it_is_written() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(
            "/api/v1/prm/patients",
            json!({"name": "María", "phone": "3001234567"})
        )
        .await
        .status(),
        201
    );
    problem(
        app.post(
            "/api/v1/prm/patients",
            json!({"name": "Otra", "phone": "+57 (300) 123-4567"}),
        )
        .await,
        409,
        "duplicate_phone",
    )
    .await;
    let other: Value = app
        .post_json(
            "/api/v1/prm/patients",
            json!({"name": "Juan", "phone": "3109998877"}),
        )
        .await;
    problem(
        app.put(
            &format!("/api/v1/prm/patients/{}", other["id"].as_str().unwrap()),
            json!({"name": "Juan", "phone": "3001234567"}),
        )
        .await,
        409,
        "duplicate_phone",
    )
    .await;
    assert_eq!(app.total("/api/v1/prm/patients").await, 2);
}

#[tokio::test]
async fn invalid_patients_are_refused() {
    let app = spawn_app().await;
    for (body, expected) in [
        (
            json!({"name": "María", "phone": "not a phone"}),
            vec!["phone"],
        ),
        (json!({"name": "María", "phone": "12"}), vec!["phone"]),
        (
            json!({"name": "", "phone": "3001234567", "locale": "fr"}),
            vec!["name", "locale"],
        ),
        (
            json!({"name": "María", "phone": "3001234567", "birth_date": "2999-01-01"}),
            vec!["birth_date"],
        ),
        (
            json!({"name": "María", "phone": "3001234567", "birth_date": "12/04/1988"}),
            vec!["birth_date"],
        ),
        (json!({"name": "María"}), vec!["phone"]),
    ] {
        let p = problem(
            app.post("/api/v1/prm/patients", body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), expected, "{body}");
    }
    assert_eq!(app.total("/api/v1/prm/patients").await, 0);
}

#[tokio::test]
async fn paging_reports_totals() {
    let app = spawn_app().await;
    for i in 0..7 {
        let r = app
            .post(
                "/api/v1/prm/patients",
                json!({"name": format!("Patient {i}"), "phone": format!("300000000{i}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let page: Value = app.get_json("/api/v1/prm/patients?limit=3&offset=6").await;
    assert_eq!(page["total"], 7);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["name"], "Patient 6");
}

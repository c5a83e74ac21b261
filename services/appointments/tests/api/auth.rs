use crate::helpers::{API_KEY, problem, spawn_app};

#[tokio::test]
async fn clinic_endpoints_require_a_valid_bearer_key() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/prm/locations",
        "/api/v1/prm/practitioners",
        "/api/v1/prm/patients",
    ] {
        let url = format!("{}{path}", app.address);
        let missing = app.client.get(&url).send().await.unwrap();
        assert_eq!(missing.headers().get("www-authenticate").unwrap(), "Bearer");
        problem(missing, 401, "unauthorized").await;
        let wrong = app
            .client
            .get(&url)
            .bearer_auth("not-the-key-0123456789")
            .send()
            .await
            .unwrap();
        problem(wrong, 401, "unauthorized").await;
        let basic = app
            .client
            .get(&url)
            .basic_auth("user", Some(API_KEY))
            .send()
            .await
            .unwrap();
        problem(basic, 401, "unauthorized").await;
        let ok = app
            .client
            .get(&url)
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn writes_without_a_key_change_nothing() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!("{}/api/v1/prm/locations", app.address))
        .json(&serde_json::json!({"name": "Sede", "timezone": "America/Bogota"}))
        .send()
        .await
        .unwrap();
    problem(r, 401, "unauthorized").await;
    assert_eq!(app.total("/api/v1/prm/locations").await, 0);
}

#[tokio::test]
async fn health_docs_and_openapi_are_open() {
    let app = spawn_app().await;
    app.assert_healthy().await;
    let docs = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    let spec: serde_json::Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/prm/locations",
        "/api/v1/prm/locations/{id}",
        "/api/v1/prm/practitioners/{id}/schedules",
        "/api/v1/prm/patients",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    assert!(spec["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let generated = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    let id = generated
        .headers()
        .get("x-request-id")
        .expect("generated id")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let echoed = app
        .client
        .get(format!("{}/health", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers().get("x-request-id").unwrap(), "abc-123");
    let unsafe_id = app
        .client
        .get(format!("{}/health", app.address))
        .header("x-request-id", "a b<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(
        unsafe_id.headers().get("x-request-id").unwrap(),
        "a b<script>",
        "unsafe ids are replaced"
    );
}

use crate::helpers::{API_KEY, eventually, problem, spawn_app};

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

#[tokio::test]
async fn a_flooding_client_gets_429_before_auth_and_nothing_is_written() {
    let app = crate::helpers::spawn_app_with(&[
        // One request every 2 s once the burst is spent: no refill between the three.
        ("RATE_LIMIT_API_PER_SECOND", "0.5"),
        ("RATE_LIMIT_API_BURST", "2"),
    ])
    .await;
    app.create_location().await;
    // Guessing keys costs the same tokens: the second request uses the last one.
    let url = format!("{}/api/v1/prm/locations", app.address);
    let guess = app
        .client
        .get(&url)
        .bearer_auth("guess-0123456789abcdef")
        .send()
        .await
        .unwrap();
    problem(guess, 401, "unauthorized").await;

    let limited = app
        .post(
            "/api/v1/prm/locations",
            serde_json::json!({"name": "Sede Sur", "timezone": "America/Bogota"}),
        )
        .await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
    problem(limited, 429, "rate_limited").await;

    for path in ["/health", "/ready", "/openapi.json"] {
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} is never limited");
    }
    // Asked again until the bucket has refilled: the answer then counts the locations.
    let total = std::sync::Mutex::new(None);
    eventually(
        std::time::Duration::from_secs(retry_after + 5),
        "the rate limit to let a request through",
        || async {
            let r = app.get("/api/v1/prm/locations").await;
            if r.status() != 200 {
                return false;
            }
            let page: serde_json::Value = r.json().await.unwrap();
            *total.lock().unwrap() = page["total"].as_u64();
            true
        },
    )
    .await;
    assert_eq!(
        *total.lock().unwrap(),
        Some(1),
        "the limited POST wrote nothing"
    );
}

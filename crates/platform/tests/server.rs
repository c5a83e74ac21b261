//! The shared server over HTTP: `/ready` when a dependency is down, and graceful
//! shutdown with a request in flight.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use actix_web::{HttpResponse, rt, web};
use prm_platform::{
    auth::ApiKeys,
    health::{Readiness, probe},
    openapi::document,
    rate_limit::RateLimits,
    server::{BodyLimits, HttpSetup, bind, serve},
};
use serde_json::Value;
use tokio::sync::Notify;

fn setup(readiness: Readiness) -> HttpSetup {
    HttpSetup {
        api_keys: ApiKeys::new([]),
        readiness,
        openapi: document("test", "test", []),
        body_limits: BodyLimits::new(1024 * 1024),
        rate_limits: Arc::new(RateLimits::disabled()),
    }
}

#[actix_web::test]
async fn ready_is_503_problem_json_naming_the_failing_dependency() {
    let readiness = Readiness::new()
        .with(probe("database", || async {
            Err("not reachable".to_owned())
        }))
        .with(probe("state", || async { Ok(()) }));
    let listener = bind("127.0.0.1", 0).unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = serve(listener, setup(readiness), |_| {}).unwrap();
    let handle = server.handle();
    rt::spawn(server);

    let response = reqwest::get(format!("{address}/ready")).await.unwrap();
    let body = prm_testkit::problem(response, 503, "not_ready").await;
    assert_eq!(body["detail"], "Not ready: database.");
    assert_eq!(body["checks"]["database"], "not reachable");
    assert_eq!(body["checks"]["state"], "ok");
    // Alive, only not ready: orchestrators restart on /health, not on /ready.
    let health = reqwest::get(format!("{address}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    handle.stop(true).await;
}

#[actix_web::test]
async fn ready_is_200_when_every_dependency_answers() {
    let readiness = Readiness::new().with(probe("database", || async { Ok(()) }));
    let listener = bind("127.0.0.1", 0).unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = serve(listener, setup(readiness), |_| {}).unwrap();
    let handle = server.handle();
    rt::spawn(server);
    let response = reqwest::get(format!("{address}/ready")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "checks": {"database": "ok"}})
    );
    handle.stop(true).await;
}

/// A handler that says when it started and answers after `delay`.
async fn slow(started: web::Data<Notify>) -> HttpResponse {
    started.notify_one();
    rt::time::sleep(Duration::from_millis(600)).await;
    HttpResponse::Ok().body("finished")
}

#[actix_web::test]
async fn stopping_lets_the_request_in_flight_finish_then_refuses_new_ones() {
    let started = web::Data::new(Notify::new());
    let listener = bind("127.0.0.1", 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let route_started = started.clone();
    let server = serve(listener, setup(Readiness::new()), move |cfg| {
        cfg.app_data(route_started.clone())
            .route("/slow", web::get().to(slow));
    })
    .unwrap();
    let handle = server.handle();
    let serving = rt::spawn(server);

    // No connection reuse: an idle keep-alive connection would hold shutdown open.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let in_flight = rt::spawn(client.get(format!("http://{addr}/slow")).send());
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .expect("the slow handler never started");

    // What SIGTERM does: a graceful stop.
    let stopping = rt::spawn(handle.stop(true));
    let response = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the in-flight request did not finish")
        .unwrap()
        .expect("the in-flight request was cut off");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");

    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server did not stop after its last request")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server future did not resolve")
        .unwrap()
        .unwrap();
    assert!(
        client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .is_err(),
        "a stopped server takes no new requests"
    );
}

#[actix_web::test]
async fn a_known_path_with_another_method_is_405_with_allow_and_an_unknown_path_404() {
    let listener = bind("127.0.0.1", 0).unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = serve(listener, setup(Readiness::new()), |_| {}).unwrap();
    let handle = server.handle();
    rt::spawn(server);
    let client = reqwest::Client::new();

    for path in ["/health", "/ready", "/openapi.json", "/metrics"] {
        let response = client
            .delete(format!("{address}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some("GET"),
            "{path}"
        );
        let body = prm_testkit::problem(response, 405, "method_not_allowed").await;
        assert_eq!(
            body["detail"],
            "DELETE is not one of the methods of this path: GET."
        );
    }
    // The real route still answers its own method.
    let health = client
        .get(format!("{address}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    for path in ["/nope", "/health/", "/api/v1/prm/unknown"] {
        let response = client
            .post(format!("{address}{path}"))
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("allow").is_none(), "{path}");
        prm_testkit::problem(response, 404, "route_not_found").await;
    }
    handle.stop(true).await;
}

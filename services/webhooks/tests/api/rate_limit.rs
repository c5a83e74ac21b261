//! Per-client rate limits on the webhook routes (prm-platform's `rate_limit`).

use std::time::Duration;

use prm_domain::events::MessageProvider;
use reqwest::Response;

use crate::helpers::*;

/// A burst of 3, then one request every `1 / per_second` seconds, behind one reverse
/// proxy that appends the address it saw to X-Forwarded-For. Slow rates keep the
/// assertions independent of how fast the machine runs the requests.
async fn spawn_limited(per_second: &str) -> TestApp {
    spawn_app_with(&[
        ("RATE_LIMIT_WEBHOOKS_PER_SECOND", per_second),
        ("RATE_LIMIT_WEBHOOKS_BURST", "3"),
        ("TRUSTED_PROXY_HOPS", "1"),
    ])
    .await
}

impl TestApp {
    async fn post_twilio_from(&self, forwarded_for: &str, sid: &str) -> Response {
        let params = twilio_message(sid, "Hola");
        self.client
            .post(self.url(TWILIO_PATH))
            .header("X-Twilio-Signature", twilio_signature(TWILIO_PATH, &params))
            .header("X-Forwarded-For", forwarded_for)
            .form(&params)
            .send()
            .await
            .expect("request sent")
    }
}

fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds")
}

#[tokio::test]
async fn a_flooding_client_gets_429_with_retry_after_and_nothing_is_stored() {
    // One request every 2 s once the burst is spent.
    let app = spawn_limited("0.5").await;
    for _ in 0..3 {
        twiml(app.post_twilio_from("198.51.100.7", &unique_sid()).await).await;
    }

    let sid = unique_sid();
    let limited = app.post_twilio_from("198.51.100.7", &sid).await;
    let wait = retry_after(&limited);
    assert!((1..=3).contains(&wait), "Retry-After {wait}");
    let body = problem(limited, 429, "rate_limited").await;
    assert!(body["detail"].as_str().unwrap().contains("Retry in"));
    assert_eq!(app.rows(MessageProvider::Twilio, &sid).await, 0);
    assert!(app.received(&sid).await.is_empty());
    assert_eq!(app.total_rows().await, 3);

    // Probes are never limited, and the service is healthy.
    for _ in 0..10 {
        for path in ["/health", "/ready"] {
            let r = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
        }
    }
    app.assert_healthy().await;

    // Once the bucket has refilled, the client is served again.
    eventually(
        Duration::from_secs(wait + 5),
        "the bucket to refill",
        || async { app.post_twilio_from("198.51.100.7", &sid).await.status() == 200 },
    )
    .await;
    assert_eq!(app.received(&sid).await.len(), 1);
}

#[tokio::test]
async fn clients_have_their_own_buckets_and_cannot_forge_another() {
    // No refill during the test.
    let app = spawn_limited("0.01").await;
    for _ in 0..3 {
        twiml(app.post_twilio_from("198.51.100.7", &unique_sid()).await).await;
    }
    // A client-made entry to the left of what our proxy appended changes nothing.
    let forged = app
        .post_twilio_from("203.0.113.99, 198.51.100.7", &unique_sid())
        .await;
    problem(forged, 429, "rate_limited").await;

    // Another client behind the same proxy still has its burst.
    for _ in 0..3 {
        twiml(app.post_twilio_from("198.51.100.8", &unique_sid()).await).await;
    }
    assert_eq!(app.total_rows().await, 6);
}

#[tokio::test]
async fn limits_off_by_configuration_let_a_burst_through() {
    // The test default: both classes off.
    let app = spawn_app().await;
    let responses = futures::future::join_all((0..30).map(|_| async {
        app.post_twilio(TWILIO_PATH, &twilio_message(&unique_sid(), "x"))
            .await
    }))
    .await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(app.total_rows().await, 30);
}

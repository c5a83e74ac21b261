use std::collections::HashMap;

use prm_platform::Settings;
use prm_runtime::{Host, HostOptions};
use reqwest::{Method, Response};
use serde_json::{Value, json};

pub const API_KEY: &str = "test-key-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: prm_store::Store,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

static TRACING: std::sync::Once = std::sync::Once::new();

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    // Trace context as in production; `TEST_LOG=1 cargo test …` also shows the logs.
    TRACING.call_once(|| {
        std::mem::forget(prm_platform::telemetry::init_for_tests(
            std::env::var_os("TEST_LOG").is_some(),
        ));
    });
    let database_url = prm_store::testing::fresh_database_url().await;
    let mut vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", API_KEY),
        ("DATABASE_URL", database_url.as_str()),
        // Tests send bursts from one address; rate_limit.rs turns the limits on.
        ("RATE_LIMIT_API_PER_SECOND", "0"),
        ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::from_map(0, &vars).expect("test settings");
    let host = Host::build(
        settings,
        &[&prm_appointments::SERVICE],
        HostOptions::default(),
    )
    .await
    .expect("app builds");
    let app = host.start().await.expect("app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.backends().store.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
    }
}

impl TestApp {
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// Sends raw bytes as JSON, for malformed bodies.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(API_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn create_location(&self) -> Value {
        let r = self
            .post(
                "/api/v1/prm/locations",
                json!({"name": "Sede Norte", "timezone": "America/Bogota", "city": "Bogotá"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    pub async fn create_practitioner(&self, specialty: &str) -> Value {
        let r = self
            .post(
                "/api/v1/prm/practitioners",
                json!({"name": "Dr. Ana Gómez", "specialty": specialty}),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    pub async fn create_patient(&self, name: &str, phone: &str) -> Value {
        let r = self
            .post(
                "/api/v1/prm/patients",
                json!({"name": name, "phone": phone}),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// Books `body` at the front desk (`POST /api/v1/prm/appointments`), which must
    /// answer 201; returns the appointment.
    pub async fn book(&self, body: Value) -> Value {
        let r = self.post("/api/v1/prm/appointments", body.clone()).await;
        assert_eq!(r.status(), 201, "booking {body}");
        r.json().await.unwrap()
    }

    /// A location and a cardiologist who works there every day from `start` to `end`:
    /// `(location, practitioner)`.
    pub async fn cardiologist_every_day(&self, start: &str, end: &str) -> (Value, Value) {
        let location = self.create_location().await;
        let practitioner = self.create_practitioner("Cardiology").await;
        self.schedule_every_day(&practitioner, &location, start, end)
            .await;
        (location, practitioner)
    }

    /// Gives the practitioner hours at the location on every day of the week, so tests
    /// do not depend on today's weekday.
    pub async fn schedule_every_day(
        &self,
        practitioner: &Value,
        location: &Value,
        start: &str,
        end: &str,
    ) {
        for day in 0..7 {
            let r = self
                .post(
                    &format!(
                        "/api/v1/prm/practitioners/{}/schedules",
                        practitioner["id"].as_str().unwrap()
                    ),
                    json!({"location_id": location["id"], "day_of_week": day, "start_time": start, "end_time": end, "slot_minutes": 30}),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
    }

    pub async fn total(&self, path: &str) -> u64 {
        let body: Value = self.get(path).await.json().await.unwrap();
        body["total"].as_u64().expect("list has a total")
    }

    pub async fn assert_healthy(&self) {
        let r = self
            .client
            .get(format!("{}/health", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = self
            .client
            .get(format!("{}/ready", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// The field names of a validation problem.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `hour`:00 in Bogotá (-05:00, no daylight saving) `days` from today there, RFC 3339.
pub fn bogota_time(days: i64, hour: u32) -> String {
    use chrono::{Duration, FixedOffset, Utc};
    let bogota = FixedOffset::west_opt(5 * 3600).unwrap();
    let day = (Utc::now().with_timezone(&bogota) + Duration::days(days)).date_naive();
    day.and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_local_timezone(bogota)
        .unwrap()
        .to_rfc3339()
}

/// Percent-encodes a query-string value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#![allow(dead_code)]

use std::{collections::HashMap, future::Future, time::Duration};

use prm_bus::BusConfig;
use prm_domain::events::{Envelope, MessageProvider};
use prm_platform::Settings;
use prm_runtime::{Host, HostOptions};
use prm_twilio::RequestValidator;
use prm_webhooks::{WebhooksConfig, WebhooksService};
use reqwest::Response;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::SecretString;
use serde_json::Value;

pub const TWILIO_TOKEN: &str = "test-twilio-auth-token-0123456789";
/// Deliberately not the address the test talks to: signatures must use this, never Host.
pub const PUBLIC_BASE_URL: &str = "https://prm.example.test";
pub const META_APP_SECRET: &str = "test_app_secret_0123456789abcdef";
pub const META_VERIFY_TOKEN: &str = "meta-verify-token-42";
pub const VOICE_SECRET: &str = "voice-agent-secret-0123456789";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const TWILIO_PATH: &str = "/api/v1/prm/webhooks/twilio";
pub const STATUS_PATH: &str = "/api/v1/prm/webhooks/twilio/status";
pub const META_PATH: &str = "/api/v1/prm/webhooks/whatsapp";
pub const VOICE_PATH: &str = "/api/v1/prm/webhooks/voice-agent";

async fn reachable(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Tests that need a server use the real one and fail loudly when it is not there;
/// they never skip, in CI or out of it.
async fn require(what: &str, addr: &str, how: &str) {
    assert!(
        reachable(addr).await,
        "{what} is unreachable on {addr}: these tests use the real {what}. Start it ({how}, or `make services`) and run them again."
    );
}

/// The real Redis on 127.0.0.1:6379 (the test fails when it is down).
pub async fn redis() -> &'static str {
    require("Redis", "127.0.0.1:6379", "`redis-server --daemonize yes`").await;
    REDIS_URL
}

/// The real RabbitMQ on 127.0.0.1:5672, guest/guest (the test fails when it is down).
pub async fn rabbit() -> &'static str {
    require("RabbitMQ", "127.0.0.1:5672", "`rabbitmq-server -detached`").await;
    AMQP_URL
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub database_url: String,
    pub service: WebhooksService,
    pub uses_redis: bool,
    /// The app's `REDIS_KEY_PREFIX` (unique per test).
    pub redis_prefix: String,
}

pub struct Spawn {
    pub vars: Vec<(String, String)>,
    pub bus: BusConfig,
    pub database_url: Option<String>,
    pub tweak: Box<dyn FnOnce(&mut WebhooksConfig) + Send>,
}

impl Default for Spawn {
    fn default() -> Self {
        Self {
            vars: Vec::new(),
            bus: BusConfig::default(),
            database_url: None,
            tweak: Box::new(|_| {}),
        }
    }
}

impl Spawn {
    pub fn vars(mut self, extra: &[(&str, &str)]) -> Self {
        self.vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self
    }
}

pub async fn spawn_app() -> TestApp {
    spawn(Spawn::default()).await
}

/// Extra variables override the defaults; an empty value unsets one.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn(Spawn::default().vars(extra)).await
}

pub async fn spawn(options: Spawn) -> TestApp {
    let database_url = match options.database_url {
        Some(url) => url,
        None => prm_store::testing::fresh_database_url().await,
    };
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let mut vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", "test-key-0123456789abcdef"),
        ("DATABASE_URL", database_url.as_str()),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("WHATSAPP_VERIFY_TOKEN", META_VERIFY_TOKEN),
        ("WHATSAPP_APP_SECRET", META_APP_SECRET),
        ("VOICE_AGENT_SECRET", VOICE_SECRET),
        ("DEFAULT_COUNTRY_CODE", "57"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        // Tests send bursts from one address; rate_limit.rs turns the limits on.
        ("RATE_LIMIT_API_PER_SECOND", "0"),
        ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in options.vars {
        vars.insert(k, v);
    }
    // Redis unless the test unsets it (REDIS_URL = "": the in-memory markers).
    if !vars.contains_key("REDIS_URL") {
        vars.insert("REDIS_URL".into(), redis().await.into());
    }
    let uses_redis = vars.get("REDIS_URL").is_some_and(|v| !v.is_empty());
    let settings = Settings::from_map(0, &vars).expect("test settings");
    let mut config = WebhooksConfig::from_settings(&settings).expect("webhooks configuration");
    // Short enough for the timeout tests, long enough for a loaded CI machine.
    config.voice_notes.timeout = Duration::from_secs(10);
    (options.tweak)(&mut config);
    let host_options = HostOptions {
        bus: Some(options.bus),
        ..HostOptions::default()
    }
    .with_override(config);
    let host = Host::build(settings, &[&prm_webhooks::SERVICE], host_options)
        .await
        .expect("app builds");
    let app = host.start().await.expect("app starts");
    let port = app.port();
    let service = app
        .service::<WebhooksService>()
        .expect("webhooks is hosted")
        .clone();
    tokio::spawn(app.run_until_stopped());
    let db = Database::connect(&database_url)
        .await
        .expect("test connects to its database");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::new(),
        db,
        database_url,
        service,
        uses_redis,
        redis_prefix: prefix,
    }
}

/// The signature Twilio would send for `path` (with query) and these parameters.
pub fn twilio_signature(path: &str, params: &[(String, String)]) -> String {
    RequestValidator::new(SecretString::from(TWILIO_TOKEN))
        .compute_signature(&format!("{PUBLIC_BASE_URL}{path}"), params)
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A WhatsApp message as Twilio posts it.
pub fn twilio_message(sid: &str, body: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "María Pérez"),
        ("MessageType", "text"),
        ("SmsSid", sid),
        ("WaId", "573001234567"),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", "whatsapp:+14155238886"),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "whatsapp:+573001234567"),
        ("ApiVersion", "2010-04-01"),
    ])
}

pub fn unique_sid() -> String {
    format!("SM{}", uuid::Uuid::new_v4().simple())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Posts a form signed as Twilio signs it.
    pub async fn post_twilio(&self, path: &str, params: &[(String, String)]) -> Response {
        let signature = twilio_signature(path, params);
        self.client
            .post(self.url(path))
            .header("X-Twilio-Signature", signature)
            .form(params)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request sent")
    }

    /// Posts JSON signed with `sha256=` HMAC under `header` with `secret`.
    pub async fn post_signed_json(
        &self,
        path: &str,
        header: &str,
        secret: &str,
        body: &[u8],
    ) -> Response {
        let signature = prm_webhooks::http::sign_sha256(secret.as_bytes(), body);
        self.post_raw(
            path,
            "application/json",
            body.to_vec(),
            &[(header, signature.as_str())],
        )
        .await
    }

    /// The provider fields stored with the message (`None`: no such row).
    pub async fn stored_fields(
        &self,
        provider: MessageProvider,
        id: &str,
    ) -> Option<Option<serde_json::Map<String, Value>>> {
        prm_store::inbound_messages::provider_fields_of(&self.db, provider, id)
            .await
            .expect("inbound_messages readable")
    }

    /// Every event of `event_type` written to the outbox, in commit order.
    pub async fn events(&self, event_type: &str) -> Vec<Envelope> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT payload FROM webhooks_outbox WHERE event_type = $1 ORDER BY seq"
            }
            _ => "SELECT payload FROM webhooks_outbox WHERE event_type = ? ORDER BY seq",
        };
        let rows = self
            .db
            .query_all(Statement::from_sql_and_values(
                backend,
                sql,
                [event_type.into()],
            ))
            .await
            .expect("outbox readable");
        rows.into_iter()
            .map(|row| {
                let payload: String = row.try_get("", "payload").expect("payload");
                serde_json::from_str(&payload).expect("outbox payload is an envelope")
            })
            .collect()
    }

    /// The MESSAGE_RECEIVED data of every event for `provider_message_id`.
    pub async fn received(&self, provider_message_id: &str) -> Vec<Value> {
        self.events("MESSAGE_RECEIVED")
            .await
            .into_iter()
            .filter(|e| e.data["provider_message_id"] == provider_message_id)
            .map(|e| e.data)
            .collect()
    }

    pub async fn statuses(&self, provider_message_id: &str) -> Vec<Value> {
        self.events("MESSAGE_STATUS_UPDATED")
            .await
            .into_iter()
            .filter(|e| e.data["provider_message_id"] == provider_message_id)
            .map(|e| e.data)
            .collect()
    }

    pub async fn rows(&self, provider: MessageProvider, id: &str) -> u64 {
        prm_store::inbound_messages::count_for(&self.db, provider, id)
            .await
            .expect("count")
    }

    pub async fn total_rows(&self) -> u64 {
        prm_store::inbound_messages::count(&self.db)
            .await
            .expect("count")
    }

    pub async fn total_events(&self) -> usize {
        self.events("MESSAGE_RECEIVED").await.len()
            + self.events("MESSAGE_STATUS_UPDATED").await.len()
    }

    pub async fn assert_healthy(&self) {
        for path in ["/health", "/ready", "/api/v1/prm/webhooks/health"] {
            let r = self
                .client
                .get(self.url(path))
                .send()
                .await
                .expect("request sent");
            assert_eq!(r.status(), 200, "{path}");
        }
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
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// Asserts the empty TwiML answer.
pub async fn twiml(response: Response) {
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/xml")
    );
    let body = response.text().await.unwrap();
    assert!(body.ends_with("<Response/>"), "{body}");
}

/// Polls `check` every 25 ms until it returns true; panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

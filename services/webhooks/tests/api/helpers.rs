//! The webhooks service on prm-testkit, with the provider secrets it checks and the
//! outbox and inbox it writes.
#![allow(dead_code)]

use std::time::Duration;

use prm_domain::events::{Envelope, MessageProvider};
use prm_webhooks::{WebhooksConfig, WebhooksService};
use reqwest::Response;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;

#[allow(unused_imports)] // logs.rs includes this file and uses a few of them
pub use prm_testkit::{
    REDIS_URL, Spawn, eventually, problem,
    twilio::{
        MESSAGES_PATH as TWILIO_PATH, STATUS_PATH, message as twilio_message, pairs, unique_sid,
    },
};

pub const TWILIO_TOKEN: &str = "test-twilio-auth-token-0123456789";
/// Deliberately not the address the test talks to: signatures must use this, never Host.
pub const PUBLIC_BASE_URL: &str = "https://prm.example.test";
pub const META_APP_SECRET: &str = "test_app_secret_0123456789abcdef";
pub const META_VERIFY_TOKEN: &str = "meta-verify-token-42";
pub const VOICE_SECRET: &str = "voice-agent-secret-0123456789";
pub const META_PATH: &str = "/api/v1/prm/webhooks/whatsapp";
pub const VOICE_PATH: &str = "/api/v1/prm/webhooks/voice-agent";

/// The app under test, with what the webhooks tests read besides HTTP.
pub struct TestApp(prm_testkit::TestApp);

impl std::ops::Deref for TestApp {
    type Target = prm_testkit::TestApp;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub async fn spawn_app() -> TestApp {
    spawn(Spawn::new()).await
}

/// Extra variables override the defaults; an empty value unsets one.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn(Spawn::new().vars(extra)).await
}

/// The service with the test secrets, a voice-note timeout short enough for the timeout
/// tests (long enough for a loaded CI machine) and `tweak` applied to its configuration.
pub async fn spawn_tweaked(
    options: Spawn,
    tweak: impl FnOnce(&mut WebhooksConfig) + Send + 'static,
) -> TestApp {
    let options = options
        .defaults(&[
            ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
            ("WHATSAPP_VERIFY_TOKEN", META_VERIFY_TOKEN),
            ("WHATSAPP_APP_SECRET", META_APP_SECRET),
            ("VOICE_AGENT_SECRET", VOICE_SECRET),
            ("DEFAULT_COUNTRY_CODE", "57"),
        ])
        .override_from(move |settings| {
            let mut config =
                WebhooksConfig::from_settings(settings).expect("webhooks configuration");
            config.voice_notes.timeout = Duration::from_secs(10);
            tweak(&mut config);
            config
        });
    TestApp(prm_testkit::spawn(&[&prm_webhooks::SERVICE], options).await)
}

pub async fn spawn(options: Spawn) -> TestApp {
    spawn_tweaked(options, |_| {}).await
}

/// The signature Twilio would send for `path` (with query) and these parameters.
pub fn twilio_signature(path: &str, params: &[(String, String)]) -> String {
    prm_testkit::twilio::signature(TWILIO_TOKEN, &format!("{PUBLIC_BASE_URL}{path}"), params)
}

impl TestApp {
    pub fn service(&self) -> &WebhooksService {
        self.0.service::<WebhooksService>()
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.store.connection()
    }

    /// Whether de-duplication markers live in Redis (else in memory).
    pub fn uses_redis(&self) -> bool {
        self.backends.state.backend() == "redis"
    }

    /// Posts a form signed as Twilio signs it.
    pub async fn post_twilio(&self, path: &str, params: &[(String, String)]) -> Response {
        let signature = twilio_signature(path, params);
        self.post_form(path, params, Some(&signature)).await
    }

    /// Posts a form with `signature` as `X-Twilio-Signature`, if any.
    pub async fn post_form(
        &self,
        path: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> Response {
        let mut request = self.client.post(self.url(path)).form(params);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        request.send().await.expect("request sent")
    }

    /// Posts a JSON body with these headers as they are (signatures right or wrong).
    pub async fn post_json_signed(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Response {
        self.post_raw(path, "application/json", body, headers).await
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
        self.post_json_signed(path, body.to_vec(), &[(header, signature.as_str())])
            .await
    }

    /// The provider fields stored with the message (`None`: no such row).
    pub async fn stored_fields(
        &self,
        provider: MessageProvider,
        id: &str,
    ) -> Option<Option<serde_json::Map<String, Value>>> {
        prm_store::inbound_messages::provider_fields_of(self.db(), provider, id)
            .await
            .expect("inbound_messages readable")
    }

    /// Every event of `event_type` written to the outbox, in commit order.
    pub async fn events(&self, event_type: &str) -> Vec<Envelope> {
        let db = self.db();
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT payload FROM webhooks_outbox WHERE event_type = $1 ORDER BY seq"
            }
            _ => "SELECT payload FROM webhooks_outbox WHERE event_type = ? ORDER BY seq",
        };
        let rows = db
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

    /// The data of every `event_type` event about `provider_message_id`.
    async fn about(&self, event_type: &str, provider_message_id: &str) -> Vec<Value> {
        self.events(event_type)
            .await
            .into_iter()
            .filter(|e| e.data["provider_message_id"] == provider_message_id)
            .map(|e| e.data)
            .collect()
    }

    /// The MESSAGE_RECEIVED data of every event for `provider_message_id`.
    pub async fn received(&self, provider_message_id: &str) -> Vec<Value> {
        self.about("MESSAGE_RECEIVED", provider_message_id).await
    }

    pub async fn statuses(&self, provider_message_id: &str) -> Vec<Value> {
        self.about("MESSAGE_STATUS_UPDATED", provider_message_id)
            .await
    }

    pub async fn rows(&self, provider: MessageProvider, id: &str) -> u64 {
        prm_store::inbound_messages::count_for(self.db(), provider, id)
            .await
            .expect("count")
    }

    pub async fn total_rows(&self) -> u64 {
        prm_store::inbound_messages::count(self.db())
            .await
            .expect("count")
    }

    pub async fn total_events(&self) -> usize {
        self.events("MESSAGE_RECEIVED").await.len()
            + self.events("MESSAGE_STATUS_UPDATED").await.len()
    }

    /// `/health`, `/ready` and the webhooks' own health answer 200.
    pub async fn assert_healthy(&self) {
        self.0.assert_healthy().await;
        let r = self
            .client
            .get(self.url("/api/v1/prm/webhooks/health"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(r.status(), 200);
    }
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

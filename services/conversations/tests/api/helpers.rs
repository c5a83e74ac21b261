#![allow(dead_code)]

use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use prm_conversations::{ConversationsService, app::App, senders::Senders};
use prm_domain::{
    Channel, PhoneNumber,
    events::{Envelope, MessageProvider, MessageReceived},
};
use prm_runtime::Backends;
use prm_twilio::RecordingSender;
use reqwest::{Method, Response};
use serde_json::Value;
use uuid::Uuid;

pub use prm_testkit::API_KEY;
pub const PATIENT: &str = "+573001234567";
pub const CLINIC_NUMBER: &str = "+14155238886";
pub const REDIS_URL: &str = prm_testkit::REDIS_URL;

/// Which adapters a test runs on; by default the test matrix's (`PRM_TEST_STATE`,
/// `PRM_TEST_BUS`: memory and in-process in the SQLite pass, Redis and RabbitMQ in the
/// PostgreSQL pass).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Adapters {
    Matrix,
    Embedded,
    Servers,
}

pub struct Spawn {
    pub vars: Vec<(String, String)>,
    pub adapters: Adapters,
    /// `None`: the recording sender only, whatever the variables say; `Some`: these.
    pub senders: Option<Senders>,
    /// Senders from the variables (TWILIO_*, WHATSAPP_*), not an override.
    pub from_settings: bool,
    pub demo_clinic: bool,
    /// The app's clock stands still at this instant (the test moves it).
    pub at: Option<chrono::DateTime<Utc>>,
}

impl Default for Spawn {
    fn default() -> Self {
        Self {
            vars: Vec::new(),
            adapters: Adapters::Matrix,
            senders: None,
            from_settings: false,
            demo_clinic: true,
            at: None,
        }
    }
}

impl Spawn {
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The app's clock stands still at `now` until the test moves it.
    pub fn at(mut self, now: chrono::DateTime<Utc>) -> Self {
        self.at = Some(now);
        self
    }
}

/// The conversations service under test, on the kit's app (dropped with it: database,
/// broker queues).
pub struct TestApp {
    pub kit: prm_testkit::TestApp,
    pub address: String,
    pub client: reqwest::Client,
    pub backends: Backends,
    pub app: Arc<App>,
    pub recording: Arc<RecordingSender>,
    pub redis_prefix: String,
}

pub async fn spawn_app() -> TestApp {
    spawn(Spawn::default()).await
}

pub async fn spawn(options: Spawn) -> TestApp {
    let mut kit =
        prm_testkit::Spawn::new().defaults(&[("PUBLIC_BASE_URL", "https://prm.example.test")]);
    kit = match options.adapters {
        Adapters::Matrix => kit,
        Adapters::Embedded => kit.memory_state().in_process_bus(),
        Adapters::Servers => kit.redis().rabbit(),
    };
    for (name, value) in &options.vars {
        kit = kit.var(name, value);
    }
    if let Some(now) = options.at {
        kit = kit.at(now);
    }
    if !options.from_settings {
        kit = kit.with_override(options.senders.unwrap_or_else(Senders::recording_only));
    }
    let kit = prm_testkit::spawn(&[&prm_conversations::SERVICE], kit).await;
    if options.demo_clinic {
        prm_appointments::demo::seed(&kit.store)
            .await
            .expect("demo clinic");
    }
    let app = kit.service::<ConversationsService>().app().clone();
    TestApp {
        address: kit.address.clone(),
        client: kit.client.clone(),
        backends: kit.backends.clone(),
        recording: app.senders.recording.clone(),
        redis_prefix: kit.redis_prefix.clone(),
        app,
        kit,
    }
}

pub fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw, "57").expect("valid phone")
}

/// A WhatsApp message from `from` as webhooks announces it (MESSAGE_RECEIVED).
pub fn message_received(from: &str, body: &str) -> MessageReceived {
    let sid = format!("SM{}", Uuid::new_v4().simple());
    MessageReceived {
        message_id: Uuid::now_v7(),
        provider: MessageProvider::Twilio,
        provider_message_id: sid,
        channel: Channel::Whatsapp,
        from: phone(from),
        to: phone(CLINIC_NUMBER),
        body: body.to_owned(),
        media: vec![],
        profile_name: Some("María".into()),
        wa_id: None,
        transcription: None,
        received_at: Utc::now(),
        intent: None,
        extracted_data: None,
        location: None,
        provider_fields: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(body)).await
    }

    /// Publishes MESSAGE_RECEIVED as the webhooks service would.
    pub async fn receive(&self, data: MessageReceived) -> Envelope {
        let envelope = Envelope::new("webhooks", data);
        self.publish(&envelope).await;
        envelope
    }

    /// Publishes as a relay would, once the bus is connected (RabbitMQ connects in the
    /// background after the start).
    pub async fn publish(&self, envelope: &Envelope) {
        tokio::time::timeout(Duration::from_secs(20), self.backends.bus.until_connected())
            .await
            .expect("the bus connects");
        self.backends
            .bus
            .publish(envelope)
            .await
            .expect("event published");
    }

    /// The patient's open conversation, once it exists.
    pub async fn conversation_of(&self, phone: &str) -> Value {
        let path = format!("/api/v1/prm/conversations?phone={}", urlencode(phone));
        eventually(Duration::from_secs(10), || async {
            let list = self.get_json(&path).await;
            list["items"]
                .as_array()
                .and_then(|items| items.first().cloned())
        })
        .await
    }

    /// The conversation's messages, oldest first.
    pub async fn messages(&self, conversation_id: &str) -> Vec<Value> {
        let page = self
            .get_json(&format!(
                "/api/v1/prm/conversations/{conversation_id}/messages?limit=100"
            ))
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the conversation has at least `n` messages and returns them.
    pub async fn wait_for_messages(&self, conversation_id: &str, n: usize) -> Vec<Value> {
        eventually(Duration::from_secs(15), || async {
            let messages = self.messages(conversation_id).await;
            (messages.len() >= n).then_some(messages)
        })
        .await
    }

    /// The bot's messages, waiting until they are at least `n` and all handed over.
    pub async fn bot_replies(&self, conversation_id: &str, n: usize) -> Vec<Value> {
        eventually(Duration::from_secs(15), || async {
            let replies: Vec<Value> = self
                .messages(conversation_id)
                .await
                .into_iter()
                .filter(|m| m["author"] == "bot")
                .collect();
            // Handed over (the provider's id) or given up on (a final status).
            let settled = replies
                .iter()
                .all(|m| m["delivery_status"] != "queued" || !m["provider_message_id"].is_null());
            (replies.len() >= n && settled).then_some(replies)
        })
        .await
    }
}

/// Polls `check` until it returns `Some`, failing after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

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
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// Collects every event of the given types published on the test's bus.
pub struct Captured {
    receiver: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Envelope>>,
    _consumer: prm_bus::ConsumerHandle,
}

impl TestApp {
    pub async fn capture(&self, events: &[prm_domain::events::EventType]) -> Captured {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let name = format!("prm.test.capture-{}", Uuid::new_v4().simple());
        let consumer = self
            .backends
            .bus
            .subscribe(prm_bus::Subscription::to_events(
                name,
                events.iter().copied(),
                prm_bus::handler_fn(move |delivery| {
                    let sender = sender.clone();
                    async move {
                        let _ = sender.send(delivery.envelope);
                        Ok(())
                    }
                }),
            ))
            .await
            .expect("test consumer subscribed");
        Captured {
            receiver: tokio::sync::Mutex::new(receiver),
            _consumer: consumer,
        }
    }
}

impl Captured {
    /// The next captured event of `event_type`, within 10 s.
    pub async fn next(&self, event_type: &str) -> Envelope {
        let mut receiver = self.receiver.lock().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, receiver.recv()).await {
                Ok(Some(envelope)) if envelope.event_type == event_type => return envelope,
                Ok(Some(_)) => continue,
                _ => panic!("no {event_type} within 10 s"),
            }
        }
    }

    /// Every event captured so far.
    pub async fn drain(&self) -> Vec<Envelope> {
        let mut receiver = self.receiver.lock().await;
        let mut all = Vec::new();
        while let Ok(envelope) = receiver.try_recv() {
            all.push(envelope);
        }
        all
    }
}

/// Sends the patient's `text` and waits for the bot's `n`-th reply in the conversation;
/// returns the conversation id and that reply's body.
pub async fn say(app: &TestApp, text: &str, n: usize) -> (String, String) {
    app.receive(message_received(PATIENT, text)).await;
    let conversation = app.conversation_of(PATIENT).await;
    let id = conversation["id"].as_str().expect("id").to_owned();
    let replies = app.bot_replies(&id, n).await;
    let body = replies[n - 1]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (id, body)
}

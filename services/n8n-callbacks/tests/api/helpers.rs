//! The n8n callbacks service on prm-testkit: conversations in a chosen stage, callbacks
//! signed or with a bearer secret, and what the service wrote to its outbox and the bus.
#![allow(dead_code)]

use std::time::Duration;

use prm_domain::{
    Channel, Locale, PhoneNumber,
    conversation::{ConversationStatus, Stage},
    events::{Envelope, EventType},
};
use prm_store::{
    Store, StoreError,
    conversations::NewConversation,
    outbox::{Outbox, Producer},
};
use reqwest::Response;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use uuid::Uuid;

pub use prm_testkit::{Spawn, fields, problem};

pub const SECRET: &str = "n8n-callback-secret-0123456789abcdef";
pub const INTAKE: &str = "/api/v1/prm/n8n/intake-response";
pub const TRIAGE: &str = "/api/v1/prm/n8n/triage-response";
pub const BOOKING: &str = "/api/v1/prm/n8n/booking-response";
pub const HEALTH: &str = "/api/v1/prm/n8n/health";

/// The app under test.
pub struct TestApp(pub prm_testkit::TestApp);

impl std::ops::Deref for TestApp {
    type Target = prm_testkit::TestApp;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The service with `N8N_CALLBACK_SECRET` set.
pub async fn spawn_app() -> TestApp {
    spawn(Spawn::new()).await
}

/// The service with the test secret unless `options` say otherwise (an empty value
/// unsets it).
pub async fn spawn(options: Spawn) -> TestApp {
    let options = options.defaults(&[("N8N_CALLBACK_SECRET", SECRET)]);
    TestApp(prm_testkit::spawn(&[&prm_n8n_callbacks::SERVICE], options).await)
}

/// `sha256=<hex>` of `body` with `secret`, as n8n's Crypto node makes it.
pub fn sign(secret: &str, body: &[u8]) -> String {
    prm_platform::signed::sign_sha256(secret.as_bytes(), body)
}

/// Opens a conversation at `stage` (closed when `closed`), as the conversations service
/// would have left it, and returns its id.
pub async fn conversation_in(store: &Store, stage: Stage, closed: bool) -> Uuid {
    let id = Uuid::now_v7();
    let digits = id.as_u128() % 10_000_000;
    let phone = PhoneNumber::parse(&format!("+57300{digits:07}"), "57").unwrap();
    let new = &NewConversation {
        id,
        phone,
        channel: Channel::Whatsapp,
        patient_id: None,
        locale: Locale::Es,
        stage,
        at: chrono::Utc::now(),
    };
    // Nothing announced: the producer is only what `write` takes.
    let producer = Producer::new(Outbox::CONVERSATIONS, None);
    store
        .write(&producer, |tx| {
            Box::pin(async move {
                let mut conversation = tx.insert_conversation(new).await?;
                if closed {
                    conversation.status = ConversationStatus::Closed;
                    tx.save_conversation(&conversation, None).await?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .await
        .unwrap();
    id
}

impl TestApp {
    pub async fn conversation(&self, stage: Stage) -> Uuid {
        conversation_in(&self.store, stage, false).await
    }

    pub async fn closed_conversation(&self, stage: Stage) -> Uuid {
        conversation_in(&self.store, stage, true).await
    }

    /// Posts `body` as it is with these headers.
    pub async fn post_with(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
        self.post_raw(path, "application/json", body.to_vec(), headers)
            .await
    }

    /// Posts `body` signed with the service's secret.
    pub async fn post_signed(&self, path: &str, body: &[u8]) -> Response {
        let signature = sign(SECRET, body);
        self.post_with(path, body, &[("X-PRM-Signature", &signature)])
            .await
    }

    /// Posts a JSON value signed with the service's secret; the answer's status and body.
    pub async fn callback(&self, path: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let answer = prm_testkit::Answer::read(self.post_signed(path, &bytes).await).await;
        (answer.status, answer.body)
    }

    /// Every event the service wrote to its outbox, in commit order.
    pub async fn outbox(&self) -> Vec<Envelope> {
        let db = self.store.connection();
        let backend = db.get_database_backend();
        let rows = db
            .query_all(Statement::from_string(
                backend,
                "SELECT payload FROM n8n_callbacks_outbox ORDER BY seq",
            ))
            .await
            .expect("outbox readable");
        rows.into_iter()
            .map(|row| {
                let payload: String = row.try_get("", "payload").expect("payload");
                serde_json::from_str(&payload).expect("an envelope")
            })
            .collect()
    }

    /// Asserts the service wrote nothing (a refused callback publishes nothing).
    pub async fn assert_nothing_published(&self) {
        assert_eq!(self.outbox().await, Vec::<Envelope>::new(), "outbox");
    }

    /// Collects every event of `events` published on the test's bus from now on.
    pub async fn capture(&self, events: &[EventType]) -> Captured {
        tokio::time::timeout(Duration::from_secs(20), self.backends.bus.until_connected())
            .await
            .expect("the bus connects");
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

/// Events captured from the bus.
pub struct Captured {
    receiver: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Envelope>>,
    _consumer: prm_bus::ConsumerHandle,
}

impl Captured {
    /// The next captured event of `event_type`, within 15 s.
    pub async fn next(&self, event_type: EventType) -> Envelope {
        let mut receiver = self.receiver.lock().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, receiver.recv()).await {
                Ok(Some(envelope)) if envelope.event_type == event_type.as_str() => {
                    return envelope;
                }
                Ok(Some(_)) => continue,
                _ => panic!("no {event_type} within 15 s"),
            }
        }
    }
}

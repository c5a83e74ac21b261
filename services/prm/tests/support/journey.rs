//! The journey across the four service processes (tests/processes.rs and the
//! benches/journey.rs bench): the processes, a fake Twilio that remembers when each
//! reply arrived, a fake n8n, and a patient who writes on WhatsApp.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each user needs a part

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prm_testkit::{
    processes::{Binary, Processes},
    twilio,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path},
};

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "processes-twilio-token";
pub const CLINIC: &str = "+14155238886";
pub const PUBLIC: &str = "https://prm.example.test";
pub const VOICE_SECRET: &str = "processes-voice-agent-secret";
pub const N8N_SECRET: &str = "processes-n8n-callback-secret";

/// Whether this pass has the real servers (`make test`'s PostgreSQL pass).
pub fn real_servers() -> bool {
    let real = std::env::var("PRM_TEST_BUS").is_ok_and(|b| b == "rabbitmq");
    if !real {
        eprintln!(
            "skipped: the four processes need PostgreSQL, Redis and RabbitMQ (PRM_TEST_BUS=rabbitmq)"
        );
    }
    real
}

/// One message the bot posted to the fake Twilio.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Instant,
    pub to: String,
    pub body: String,
}

/// Twilio's Messages API: answers 201 with a fresh `SM…` and remembers what was sent.
#[derive(Clone, Default)]
pub struct Outbox(pub Arc<Mutex<Vec<Sent>>>);

impl Respond for Outbox {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&request.body).unwrap_or_default();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        self.0.lock().unwrap().push(Sent {
            at: Instant::now(),
            to: field("To"),
            body: field("Body"),
        });
        ResponseTemplate::new(201).set_body_json(json!({
            "sid": format!("SM{}", uuid::Uuid::new_v4().simple()),
            "status": "queued", "to": field("To"), "from": field("From"), "body": field("Body"),
        }))
    }
}

impl Outbox {
    pub fn to(&self, phone: &str) -> Vec<Sent> {
        let to = format!("whatsapp:{phone}");
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.to == to)
            .cloned()
            .collect()
    }
}

/// The four processes, the fakes, and the clinic of the demo.
pub struct Suite {
    pub processes: Processes,
    pub twilio: MockServer,
    pub sent: Outbox,
    pub http: reqwest::Client,
    _fakes: Vec<MockServer>,
}

impl Suite {
    pub async fn start() -> Self {
        Self::start_with(&[], &[], Vec::new()).await
    }

    /// `conversations` adds variables to the conversations process; `fakes` are kept
    /// alive with the suite.
    pub async fn start_with(
        webhooks: &[(&str, &str)],
        conversations: &[(&str, &str)],
        fakes: Vec<MockServer>,
    ) -> Self {
        let twilio = MockServer::start().await;
        let sent = Outbox::default();
        Mock::given(method("POST"))
            .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
            .respond_with(sent.clone())
            .mount(&twilio)
            .await;
        let twilio_base = twilio.uri();
        let shared = [
            ("TWILIO_ACCOUNT_SID", SID),
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TWILIO_WHATSAPP_NUMBER", CLINIC),
            ("TWILIO_API_BASE", twilio_base.as_str()),
            ("PUBLIC_BASE_URL", PUBLIC),
            ("N8N_CALLBACK_SECRET", N8N_SECRET),
        ];
        let mut webhooks_binary =
            Binary::new("prm-webhooks").var("VOICE_AGENT_SECRET", VOICE_SECRET);
        for (k, v) in webhooks {
            webhooks_binary = webhooks_binary.var(k, v);
        }
        let mut conversations_binary = Binary::new("prm-conversations");
        if !conversations.iter().any(|(k, _)| *k == "INTAKE_ENGINE") {
            conversations_binary = conversations_binary.var("INTAKE_ENGINE", "builtin");
        }
        for (k, v) in conversations {
            conversations_binary = conversations_binary.var(k, v);
        }
        let processes = Processes::start(
            &shared,
            vec![
                webhooks_binary,
                conversations_binary,
                Binary::new("prm-appointments"),
                Binary::new("prm-n8n-callbacks"),
            ],
        )
        .await;
        let store = prm_store::Store::connect(processes.database_url())
            .await
            .expect("the suite's database");
        prm_appointments::demo::seed(&store)
            .await
            .expect("the demo clinic");
        Self {
            processes,
            twilio,
            sent,
            http: reqwest::Client::new(),
            _fakes: fakes,
        }
    }

    /// Posts `params` to the webhooks process signed as Twilio signs them.
    pub async fn post_twilio(&self, params: Vec<(String, String)>) {
        let url = format!("{PUBLIC}{}", twilio::MESSAGES_PATH);
        let signature = twilio::signature(TOKEN, &url, &params);
        let response = self
            .http
            .post(
                self.processes
                    .get("prm-webhooks")
                    .url(twilio::MESSAGES_PATH),
            )
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "the webhook refused the message: {}",
            response.status()
        );
    }

    /// The patient `phone` writes `text` on WhatsApp; returns once a reply to it
    /// containing `expect` (case-insensitive) reached Twilio, with the time from the
    /// post to the first reply.
    pub async fn say(&self, phone: &str, text: &str, expect: &str) -> Duration {
        let before = self.sent.to(phone).len();
        let started = Instant::now();
        self.post_twilio(whatsapp(phone, text)).await;
        self.until_reply(phone, before, expect, text).await;
        self.sent.to(phone)[before].at.duration_since(started)
    }

    /// Answers an offer with "1" until it is booked: patients writing at the same time
    /// choose the same slot, and all but one are told it was just taken, with a new
    /// offer. Returns the time to each first reply.
    pub async fn book_the_first_slot(&self, phone: &str) -> Vec<Duration> {
        let mut times = Vec::new();
        for _ in 0..10 {
            let before = self.sent.to(phone).len();
            let started = Instant::now();
            self.post_twilio(whatsapp(phone, "1")).await;
            self.until_reply(phone, before, "", "1").await;
            times.push(self.sent.to(phone)[before].at.duration_since(started));
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let replies = self.sent.to(phone);
                let new = &replies[before..];
                if new.iter().any(|s| s.body.contains("quedó agendada para")) {
                    return times;
                }
                if new
                    .iter()
                    .any(|s| s.body.contains("acaba de ser reservado"))
                    && new.iter().any(|s| s.body.contains("\n1. "))
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no booking and no new offer after \"1\""
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        panic!("ten offers in a row were taken by other patients");
    }

    /// Waits until a message after the first `before` to `phone` contains `expect`.
    pub async fn until_reply(&self, phone: &str, before: usize, expect: &str, after: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let expect = expect.to_lowercase();
        loop {
            let replies = self.sent.to(phone);
            if replies[before.min(replies.len())..]
                .iter()
                .any(|s| s.body.to_lowercase().contains(&expect))
            {
                return;
            }
            if Instant::now() > deadline {
                let transcript: Vec<&str> = replies.iter().map(|s| s.body.as_str()).collect();
                panic!(
                    "no reply containing {expect:?} after {after:?} within 30 s; the bot said:\n{}\ncomplaints:\n{}",
                    transcript.join("\n---\n"),
                    self.processes.complaints().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The conversation of `phone`, through the conversations process's API.
    pub async fn conversation(&self, phone: &str) -> Value {
        let list: Value = self
            .http
            .get(
                self.processes
                    .get("prm-conversations")
                    .url("/api/v1/prm/conversations"),
            )
            .query(&[("phone", phone)])
            .bearer_auth(prm_testkit::processes::API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["items"][0].clone()
    }
}

/// A WhatsApp text from `phone` as Twilio posts it.
pub fn whatsapp(phone: &str, body: &str) -> Vec<(String, String)> {
    let sid = twilio::unique_sid();
    twilio::pairs(&[
        ("MessageSid", &sid),
        ("SmsMessageSid", &sid),
        ("AccountSid", SID),
        ("From", &format!("whatsapp:{phone}")),
        ("To", &format!("whatsapp:{CLINIC}")),
        ("Body", body),
        ("NumMedia", "0"),
        ("ProfileName", "Paciente"),
        ("WaId", phone.trim_start_matches('+')),
        ("MessageType", "text"),
        ("ApiVersion", "2010-04-01"),
    ])
}

/// A patient number no other test uses.
pub fn phone() -> String {
    format!("+57300{:07}", rand_digits())
}

pub fn rand_digits() -> u32 {
    let id = uuid::Uuid::new_v4();
    u32::from_le_bytes(id.as_bytes()[..4].try_into().unwrap()) % 10_000_000
}

/// A fake n8n: remembers each trigger PRM posts (the test then answers as the workflow
/// would, through the callbacks).
#[derive(Clone, Default)]
pub struct Triggers(pub Arc<Mutex<Vec<Value>>>);

impl Respond for Triggers {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Ok(body) = serde_json::from_slice::<Value>(&request.body) {
            self.0.lock().unwrap().push(body);
        }
        ResponseTemplate::new(200).set_body_json(json!({"message": "Workflow was started"}))
    }
}

impl Triggers {
    pub async fn next(&self, seen: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(trigger) = self.0.lock().unwrap().get(seen) {
                return trigger.clone();
            }
            assert!(Instant::now() < deadline, "n8n was not triggered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Posts a callback signed as the workflow signs it, to the n8n-callbacks process
/// (the trigger's absolute URL names the public host; its path is what counts).
pub async fn callback(suite: &Suite, url: &Value, body: Value) {
    let url = url.as_str().expect("an absolute callback URL");
    let path = url.strip_prefix(PUBLIC).expect("under PUBLIC_BASE_URL");
    let body = serde_json::to_vec(&body).unwrap();
    let response = suite
        .http
        .post(suite.processes.get("prm-n8n-callbacks").url(path))
        .header(
            "X-PRM-Signature",
            prm_platform::signed::sign_sha256(N8N_SECRET.as_bytes(), &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// Intake up to the offer, in Spanish: the replies each answer must bring.
pub async fn spanish_intake(suite: &Suite, phone: &str) -> Vec<Duration> {
    let mut times = Vec::new();
    for (text, expect) in [
        ("Hola, necesito una cita con el cardiólogo", "nombre"),
        ("Soy Ana Ruiz, nací el 3 de mayo de 1985", "motivo"),
        ("me duele el pecho al subir escaleras", "síntoma"),
        ("me canso mucho", "alergia"),
        ("ninguna", "medicamento"),
        ("ninguno", "sede"),
        ("cualquiera", "día"),
        ("lo antes posible", "1."),
    ] {
        times.push(suite.say(phone, text, expect).await);
    }
    times
}

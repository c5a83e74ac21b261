//! PostgreSQL sessions terminated under load (as a failover, a restart or a proxy's idle
//! timeout does) are not a 500 and lose no patient message: the appointments and
//! webhooks services take steady clinic and Twilio traffic while every session of their
//! database is killed several times; every answer is 2xx, or 503 with `Retry-After`
//! (which Twilio can be told to retry: the test retries with the same `MessageSid`);
//! every message answered 2xx is stored once with its MESSAGE_RECEIVED event; `/ready`
//! stays 200.
//!
//! PostgreSQL only (`PRM_TEST_DATABASE=postgres`); on SQLite there is no server to lose.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use prm_platform::Settings;
use prm_runtime::{Host, HostOptions};
use prm_store::testing::{TestBackend, backend, fresh_database_url, postgres_admin_url};
use prm_twilio::RequestValidator;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

const KEY: &str = "lost-connections-key-0123456789";
const TOKEN: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const PUBLIC: &str = "https://prm.example.com";
const TWILIO_PATH: &str = "/api/v1/prm/webhooks/twilio";

/// How long traffic runs, when the first kill comes, and how many follow.
const TRAFFIC: Duration = Duration::from_secs(8);
const FIRST_KILL: Duration = Duration::from_secs(1);
const KILLS: usize = 5;
const BETWEEN_KILLS: Duration = Duration::from_millis(900);

/// Answers per route, and what was wrong with any of them.
#[derive(Default)]
struct Tally {
    answers: BTreeMap<String, BTreeMap<u16, usize>>,
    wrong: Vec<String>,
}

impl Tally {
    fn record(&mut self, route: &str, response: &reqwest::Response) {
        let status = response.status().as_u16();
        *self
            .answers
            .entry(route.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
        let retry_after = response.headers().contains_key("retry-after");
        let fine = (200..300).contains(&status) || (status == 503 && retry_after);
        if !fine {
            self.wrong.push(format!(
                "{route}: {status}{}",
                if status == 503 {
                    " without Retry-After"
                } else {
                    ""
                }
            ));
        }
    }
}

type Shared = Arc<Mutex<Tally>>;

struct Suite {
    address: String,
    client: reqwest::Client,
    tally: Shared,
}

impl Suite {
    async fn send(&self, route: &str, request: reqwest::RequestBuilder) -> Option<u16> {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                self.tally.lock().unwrap().record(route, &response);
                Some(status)
            }
            Err(error) => {
                self.tally
                    .lock()
                    .unwrap()
                    .wrong
                    .push(format!("{route}: no answer ({error})"));
                None
            }
        }
    }

    async fn clinic_get(&self, path: &str) {
        let request = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(KEY);
        self.send(&format!("GET {path}"), request).await;
    }

    async fn new_patient(&self, n: usize) {
        let phone = format!("+57301{n:07}");
        let request = self
            .client
            .post(format!("{}/api/v1/prm/patients", self.address))
            .bearer_auth(KEY)
            .json(&json!({"name": "Paciente de prueba", "phone": phone}));
        self.send("POST /api/v1/prm/patients", request).await;
    }

    async fn find_slots(&self) {
        let request = self
            .client
            .post(format!(
                "{}/api/v1/prm/appointments/find-slots",
                self.address
            ))
            .bearer_auth(KEY)
            .json(&json!({"department": "Cardiology", "limit": 2}));
        self.send("POST /api/v1/prm/appointments/find-slots", request)
            .await;
    }

    /// Delivers a WhatsApp message as Twilio would, sending it again with the same
    /// `MessageSid` after a 503; returns whether it was accepted in the end.
    async fn deliver(&self, sid: &str) -> bool {
        let params: Vec<(String, String)> = [
            ("MessageSid", sid),
            ("From", "whatsapp:+573001234567"),
            ("To", "whatsapp:+14155238886"),
            ("Body", "Hola, necesito una cita"),
            ("NumMedia", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let validator = RequestValidator::new(secrecy::SecretString::from(TOKEN));
        let signature = validator.compute_signature(&format!("{PUBLIC}{TWILIO_PATH}"), &params);
        for _ in 0..10 {
            let request = self
                .client
                .post(format!("{}{TWILIO_PATH}", self.address))
                .header("X-Twilio-Signature", signature.clone())
                .form(&params);
            match self.send(&format!("POST {TWILIO_PATH}"), request).await {
                Some(200..=299) => return true,
                Some(503) => tokio::time::sleep(Duration::from_millis(100)).await,
                _ => return false,
            }
        }
        false
    }

    async fn ready(&self) -> u16 {
        let response = self
            .client
            .get(format!("{}/ready", self.address))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            self.tally
                .lock()
                .unwrap()
                .wrong
                .push(format!("GET /ready: {status} {body}"));
        }
        status
    }
}

/// Terminates every session of the database `name` from `admin`; how many.
async fn terminate_sessions(admin: &DatabaseConnection, name: &str) -> i64 {
    admin
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

async fn count(db: &DatabaseConnection, sql: String) -> i64 {
    db.query_one(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_database_sessions_under_load_give_no_500_and_lose_no_message() {
    if backend() != TestBackend::Postgres {
        eprintln!(
            "skipped: terminating database sessions needs PostgreSQL (PRM_TEST_DATABASE=postgres)"
        );
        return;
    }
    let url = fresh_database_url().await;
    let name = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", KEY),
        ("DATABASE_URL", url.as_str()),
        ("PUBLIC_BASE_URL", PUBLIC),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("RATE_LIMIT_API_PER_SECOND", "0"),
        ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_map(prm::DEFAULT_PORT, &vars).unwrap();
    let host = Host::build(
        settings,
        &[&prm_appointments::SERVICE, &prm_webhooks::SERVICE],
        HostOptions::default(),
    )
    .await
    .unwrap();
    prm_appointments::demo::seed(&host.backends().store)
        .await
        .unwrap();
    let running = host.start().await.unwrap();
    let suite = Arc::new(Suite {
        address: format!("http://127.0.0.1:{}", running.port()),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        tally: Shared::default(),
    });
    let stop = running.stop_handle();
    let server = tokio::spawn(running.run_until_stopped());
    assert_eq!(suite.ready().await, 200);

    let admin = Database::connect(postgres_admin_url()).await.unwrap();
    let until = Instant::now() + TRAFFIC;
    let delivered: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    // Front-desk traffic: lists, new patients, slot searches.
    for worker in 0..2 {
        let suite = suite.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                suite.clinic_get("/api/v1/prm/locations").await;
                suite.clinic_get("/api/v1/prm/practitioners?limit=5").await;
                suite.new_patient(worker * 100_000 + n).await;
                suite.find_slots().await;
            }
        }));
    }
    // Patients writing on WhatsApp.
    for _ in 0..3 {
        let (suite, delivered) = (suite.clone(), delivered.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let sid = format!("SM{}", Uuid::new_v4().simple());
                if suite.deliver(&sid).await {
                    delivered.lock().unwrap().push(sid);
                } else {
                    suite
                        .tally
                        .lock()
                        .unwrap()
                        .wrong
                        .push(format!("{sid} was never accepted"));
                }
            }
        }));
    }

    tokio::time::sleep(FIRST_KILL).await;
    for kill in 0..KILLS {
        let killed = terminate_sessions(&admin, &name).await;
        assert!(killed > 0, "kill {kill} found no session to terminate");
        tokio::time::sleep(BETWEEN_KILLS / 3).await;
        assert_eq!(suite.ready().await, 200, "/ready after kill {kill}");
        tokio::time::sleep(BETWEEN_KILLS * 2 / 3).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    terminate_sessions(&admin, &name).await;
    assert_eq!(suite.ready().await, 200, "/ready after the last kill");

    let tally = std::mem::take(&mut *suite.tally.lock().unwrap());
    eprintln!("answers per route: {:#?}", tally.answers);
    assert!(tally.wrong.is_empty(), "wrong answers: {:#?}", tally.wrong);
    let total: usize = tally.answers.values().flat_map(|s| s.values()).sum();
    assert!(total > 50, "too little traffic to mean anything: {total}");

    // Every accepted message is stored once, with its event in the outbox.
    let delivered = delivered.lock().unwrap().clone();
    assert!(!delivered.is_empty());
    let db = Database::connect(&url).await.unwrap();
    for sid in &delivered {
        assert_eq!(
            count(
                &db,
                format!(
                    "SELECT count(*) FROM inbound_messages WHERE provider = 'twilio' AND provider_message_id = '{sid}'"
                )
            )
            .await,
            1,
            "{sid} stored once"
        );
        assert_eq!(
            count(
                &db,
                format!(
                    "SELECT count(*) FROM webhooks_outbox WHERE event_type = 'MESSAGE_RECEIVED' AND payload LIKE '%{sid}%'"
                )
            )
            .await,
            1,
            "{sid} announced once"
        );
    }
    db.close().await.unwrap();
    stop.stop(true).await;
    let _ = server.await;
}

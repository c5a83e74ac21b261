//! The `prm` binary itself, as an operator runs it: its command line, its JSON log
//! lines, and how it stops on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_prm");
const KEY: &str = "binary-key-0123456789abcdef";

/// An empty working directory, so no `.env` of the developer's is read.
fn workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prm-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary with nothing of the caller's environment but what is set here.
fn prm(dir: &PathBuf) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir).env_clear();
    command
}

#[test]
fn unknown_arguments_are_refused_with_the_usage_and_exit_status_2() {
    let dir = workdir();
    for args in [
        &["--dmeo"][..],
        &["--demo", "extra"],
        &["demo"],
        &["serve", "now"],
    ] {
        let out = prm(&dir).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains("Usage: prm"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing started");
    }
    assert!(
        !dir.join("data").exists(),
        "a refused command line must not create the database"
    );
    let help = prm(&dir).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let usage = String::from_utf8_lossy(&help.stdout);
    for expected in [
        "Usage: prm",
        "--demo",
        "migrate",
        "healthcheck",
        "--version",
        ".env.example",
    ] {
        assert!(
            usage.contains(expected),
            "{expected} missing from:\n{usage}"
        );
    }
    let version = prm(&dir).arg("--version").output().unwrap();
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("prm {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `prm healthcheck` is what container health checks run: 1 while nothing answers on
/// PORT, 0 once `/ready` does.
#[test]
fn healthcheck_says_whether_the_server_on_port_is_ready() {
    let dir = workdir();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let out = prm(&dir)
        .env("PORT", port.to_string())
        .arg("healthcheck")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing listens on {port}");
    let app = Running::spawn(prm(&dir).envs([
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", KEY),
    ]));
    let out = prm(&dir)
        .env("PORT", app.port.to_string())
        .arg("healthcheck")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.terminate();
    let (status, _) = app.wait(Duration::from_secs(40));
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `prm migrate` brings the schema up to date and exits, for a release's migration job.
#[test]
fn migrate_creates_the_schema_and_exits() {
    let dir = workdir();
    let out = prm(&dir).arg("migrate").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.join("data/prm.db").exists(),
        "the default database was created"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dotenv_it_cannot_parse_stops_the_start_naming_the_file() {
    let dir = workdir();
    std::fs::write(dir.join(".env"), "PORT=0\nPRM_API_KEYS=\"unclosed\n").unwrap();
    let out = prm(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(".env: cannot parse the line of `PRM_API_KEYS`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("unclosed"),
        "the value is never printed: {stderr}"
    );
    assert!(!dir.join("data").exists(), "nothing started");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `make run` on a new machine: no configuration at all. The suite creates and
/// migrates `./data/prm.db`, seeds the demo clinic, and prints where Swagger UI is and
/// a development key that the clinic endpoints accept.
#[tokio::test]
async fn with_nothing_configured_it_runs_on_sqlite_in_data_and_prints_a_dev_key() {
    let dir = workdir();
    let mut command = prm(&dir);
    command
        .args(["--demo"])
        .envs([("HOST", "127.0.0.1"), ("PORT", "0")]);
    let app = Running::spawn(&mut command);
    assert!(
        dir.join("data/prm.db").is_file(),
        "the SQLite database is created in ./data"
    );
    let mut printed = Vec::new();
    let key = loop {
        let line = app
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("no development key printed");
        printed.push(line.clone());
        if let Some(key) = line.strip_prefix("Development API key (PRM_API_KEYS is unset): ") {
            break key.to_owned();
        }
    };
    assert!(
        printed.contains(&format!("Swagger UI: http://127.0.0.1:{}/docs/", app.port)),
        "{printed:?}"
    );
    assert!(key.len() >= 32, "a development key worth the name: {key}");

    let client = reqwest::Client::new();
    let docs = client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    let locations = client
        .get(app.url("/api/v1/prm/locations"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(locations.status(), 200);
    let locations: Value = locations.json().await.unwrap();
    assert_eq!(locations["total"], 3, "the demo clinic: {locations}");
    let refused = client
        .get(app.url("/api/v1/prm/locations"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    app.terminate();
    let (status, _) = app.wait(Duration::from_secs(40));
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A running binary whose stdout is collected line by line.
struct Running {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    reader: JoinHandle<()>,
    /// What it printed before its address.
    early: Vec<String>,
    /// Dropped after the process: the database the binary ran on, if the test made one.
    database: Option<prm_testkit::TestDatabase>,
}

impl Running {
    async fn start() -> Self {
        let database = prm_testkit::TestDatabase::migrated().await;
        let mut running = Self::spawn(prm(&workdir()).envs([
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("DATABASE_URL", database.url()),
            ("PRM_API_KEYS", KEY),
            ("RUST_LOG", "info"),
        ]));
        running.database = Some(database);
        running
    }

    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut early = Vec::new();
        let port = loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("prm did not print its address within 60 s");
            if let Some(rest) = line.strip_prefix("PRM is running on http://127.0.0.1:") {
                break rest.split(' ').next().unwrap().parse().unwrap();
            }
            // Start-up lines (the consumers' `consuming`) count with the rest.
            early.push(line);
        };
        Self {
            child,
            port,
            lines,
            early,
            reader,
            database: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit and returns its status and every line it printed.
    fn wait(mut self, within: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("prm did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.reader.join().unwrap();
        let mut lines = std::mem::take(&mut self.early);
        lines.extend(self.lines.try_iter());
        (status, lines)
    }
}

#[tokio::test]
async fn json_log_lines_carry_the_request_id_and_no_patient_data() {
    let app = Running::start().await;
    let client = reqwest::Client::new();
    let (name, phone) = ("Zoe Quintanilla", "3004445566");

    let created = client
        .post(app.url("/api/v1/prm/patients"))
        .bearer_auth(KEY)
        .json(&json!({"name": name, "phone": phone, "birth_date": "1990-04-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let generated = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let found = client
        .get(app.url(&format!("/api/v1/prm/patients?phone=%2B57{phone}&name=Zoe")))
        .bearer_auth(KEY)
        .header("x-request-id", "caller-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(found.headers()["x-request-id"], "caller-chosen-42");
    let refused = client
        .post(app.url("/api/v1/prm/patients"))
        .bearer_auth(KEY)
        .json(&json!({"name": name, "phone": format!("call me {phone}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let refused_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    app.terminate();
    let (status, lines) = app.wait(Duration::from_secs(40));
    assert!(status.success(), "{status}");

    let records: Vec<Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (request_id, status, route) in [
        (generated.as_str(), 201, "/api/v1/prm/patients"),
        ("caller-chosen-42", 200, "/api/v1/prm/patients"),
        (refused_id.as_str(), 422, "/api/v1/prm/patients"),
    ] {
        let completed: Vec<&Value> = records
            .iter()
            .filter(|r| r["message"] == "request completed")
            .filter(|r| r["span"]["request_id"] == request_id)
            .collect();
        assert_eq!(
            completed.len(),
            1,
            "one completion line for {request_id} in:\n{}",
            lines.join("\n")
        );
        let line = completed[0];
        assert_eq!(line["status"], status, "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(
            line["span"]["http.route"], route,
            "the pattern, not the path"
        );
    }
    for line in &lines {
        for secret in [name, "Zoe", "Quintanilla", phone, "1990-04-01", KEY] {
            assert!(!line.contains(secret), "`{secret}` logged: {line}");
        }
    }
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_the_process_exits() {
    let app = Running::start().await;
    let address = format!("127.0.0.1:{}", app.port);

    // A request whose body is still arriving when the signal comes.
    let body =
        serde_json::to_vec(&json!({"name": "Sede Centro", "timezone": "America/Bogota"})).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/prm/locations HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    app.terminate();
    // The listener closes: nobody new gets in while the request in flight finishes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&address).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Longer than actix's shutdown poll interval (1 s): only a real grace period
    // (`shutdown_timeout`) keeps the connection open this long.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(app.child_running(), "prm exited with a request in flight");

    stream.write_all(rest).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the request in flight was not served: {response:?}"
    );
    assert!(response.contains("Sede Centro"), "{response}");

    let (status, lines) = app.wait(Duration::from_secs(40));
    assert!(status.success(), "{status}: {}", lines.join("\n"));
    assert!(
        lines.iter().any(|l| l.contains("\"message\":\"stopped\"")),
        "the suite shut down its backends and said so: {}",
        lines.join("\n")
    );
}

impl Running {
    fn child_running(&self) -> bool {
        // `try_wait` needs `&mut`; a signal 0 probe answers without reaping.
        Command::new("kill")
            .args(["-0", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// With Redis and RabbitMQ, SIGTERM closes both connections as the last step of the
/// shutdown: no consumer or bus supervisor reports the dropped connection as an error
/// (operators alert on those), and the broker sees a clean close.
#[tokio::test]
async fn sigterm_with_redis_and_rabbitmq_closes_them_without_an_error_line() {
    let database = prm_testkit::TestDatabase::migrated().await;
    let prefix = format!("test-bin-{}-", uuid::Uuid::new_v4().simple());
    let mut app = Running::spawn(prm(&workdir()).envs([
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("DATABASE_URL", database.url()),
        ("PRM_API_KEYS", KEY),
        ("RUST_LOG", "info"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ("AMQP_NAME_PREFIX", prefix.as_str()),
    ]));
    app.database = Some(database);
    let ready = app.url("/ready");
    let client = reqwest::Client::new();
    prm_testkit::eventually(Duration::from_secs(30), "prm ready on RabbitMQ", || {
        let request = client.get(&ready).send();
        async move { request.await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;

    app.terminate();
    let (status, lines) = app.wait(Duration::from_secs(40));
    let consumers: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "consuming")
        .filter_map(|l| l["consumer"].as_str().map(str::to_owned))
        .collect();
    prm_testkit::rabbit::delete_topology(&prefix, &consumers).await;

    assert!(status.success(), "{status}: {}", lines.join("\n"));
    assert!(
        !consumers.is_empty(),
        "no consumer started: {}",
        lines.join("\n")
    );
    // ERROR only: a relay may still warn once that a pooled connection, opened on an
    // HTTP worker's runtime that has just stopped, is gone (it backs off and stops).
    let complaints: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect();
    assert!(complaints.is_empty(), "{complaints:#?}");
    assert!(
        lines.iter().any(|l| l.contains("\"message\":\"stopped\"")),
        "{}",
        lines.join("\n")
    );
}

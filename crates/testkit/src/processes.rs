//! The suite as operators run it in production: each service binary its own process on
//! its own port, over one PostgreSQL database, Redis and RabbitMQ (with prefixes of the
//! test's own), talking only through events. The binaries are the ones cargo built for
//! this profile; they are built first if missing or stale.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{AMQP_URL, REDIS_URL, TestDatabase, unique_prefix};

/// The conversation state key of every process (base64 of 32 bytes).
const STATE_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The clinic API key every process accepts.
pub const API_KEY: &str = "processes-key-0123456789abcdef";

/// One binary to start, with the variables of its own (on top of the shared ones).
pub struct Binary {
    /// The package, which is also the binary's name (`prm-webhooks`, …).
    pub name: &'static str,
    pub vars: Vec<(String, String)>,
}

impl Binary {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            vars: Vec::new(),
        }
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One running service process and every line it printed so far.
pub struct Process {
    pub name: &'static str,
    pub port: u16,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The log lines printed so far (JSON, one per line).
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The names of the consumers it started (from its `consuming` log lines).
    fn consumers(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["message"] == "consuming")
            .filter_map(|l| l["consumer"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Services as separate processes over shared backends. Dropping it stops them
/// (SIGTERM, then SIGKILL), deletes their broker queues and drops the database.
pub struct Processes {
    pub processes: Vec<Process>,
    /// The Redis key and AMQP name prefix of this run.
    pub prefix: String,
    database: Option<TestDatabase>,
}

impl Processes {
    /// Starts `binaries` on a fresh migrated PostgreSQL database with `shared` variables
    /// for all of them, and waits until every one is ready.
    pub async fn start(shared: &[(&str, &str)], binaries: Vec<Binary>) -> Self {
        crate::require_redis().await;
        crate::require_rabbit().await;
        let database = TestDatabase::migrated_on(crate::TestBackend::Postgres).await;
        let prefix = unique_prefix();
        build(&binaries.iter().map(|b| b.name).collect::<Vec<_>>());
        let mut started = Self {
            processes: Vec::new(),
            prefix: prefix.clone(),
            database: None,
        };
        for binary in binaries {
            let mut command = Command::new(target_dir().join(binary.name));
            command
                .env_clear()
                .current_dir(std::env::temp_dir())
                .envs([
                    ("HOST", "127.0.0.1"),
                    ("PORT", "0"),
                    ("LOG_FORMAT", "json"),
                    ("RUST_LOG", "info"),
                    ("DATABASE_URL", database.url()),
                    ("REDIS_URL", REDIS_URL),
                    ("REDIS_KEY_PREFIX", &prefix),
                    ("AMQP_URL", AMQP_URL),
                    ("AMQP_NAME_PREFIX", &prefix),
                    ("AMQP_QUEUE_TYPE", "classic"),
                    ("PRM_API_KEYS", API_KEY),
                    // One key for every process: appointments writes offers that the
                    // others must be able to read, as in production.
                    ("STATE_ENCRYPTION_KEY", STATE_KEY),
                    ("RATE_LIMIT_API_PER_SECOND", "0"),
                    ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "0"),
                ])
                .envs(shared.iter().copied())
                .envs(binary.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            started.processes.push(spawn(binary.name, &mut command));
        }
        started.database = Some(database);
        for process in &started.processes {
            let ready = process.url("/ready");
            let client = reqwest::Client::new();
            crate::eventually(
                Duration::from_secs(60),
                &format!("{} ready", process.name),
                || {
                    let request = client.get(&ready).send();
                    async move { request.await.is_ok_and(|r| r.status().is_success()) }
                },
            )
            .await;
        }
        started
    }

    pub fn database_url(&self) -> &str {
        self.database.as_ref().map_or("", |d| d.url())
    }

    /// The process of `name`.
    pub fn get(&self, name: &str) -> &Process {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} was not started"))
    }

    /// Every line every process printed at WARN or ERROR.
    pub fn complaints(&self) -> Vec<String> {
        self.processes
            .iter()
            .flat_map(|p| {
                p.lines()
                    .into_iter()
                    .filter(|l| {
                        l.contains("\"level\":\"ERROR\"") || l.contains("\"level\":\"WARN\"")
                    })
                    .map(move |l| format!("{}: {l}", p.name))
            })
            .collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for process in &self.processes {
            let _ = Command::new("kill")
                .args(["-TERM", &process.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for process in &mut self.processes {
            loop {
                match process.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = process.child.kill();
                        let _ = process.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        let consumers: Vec<String> = self.processes.iter().flat_map(Process::consumers).collect();
        crate::rabbit::delete_topology_blocking(self.prefix.clone(), consumers);
        // The database is dropped after the processes that used it stopped.
        self.database.take();
    }
}

/// Where cargo put this test's binaries: `target/<profile>/`, above `deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("deps/").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Builds the binaries once per test process, so that a test never runs a stale one
/// (`cargo test -p prm` alone does not rebuild other packages' binaries).
fn build(names: &[&str]) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = target_dir();
        let profile = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug")
            .to_owned();
        let root = dir.parent().expect("the target directory").to_path_buf();
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .arg("build")
            .arg("--quiet")
            .env("CARGO_TARGET_DIR", &root);
        if profile != "debug" {
            command.args(["--profile", &profile]);
        }
        for name in names {
            command.args(["-p", name, "--bin", name]);
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "could not build {names:?}");
    });
}

fn spawn(name: &'static str, command: &mut Command) -> Process {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let collected = lines.clone();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split(" is running on http://").nth(1) {
                let port = rest
                    .split([' ', '"'])
                    .next()
                    .and_then(|address| address.rsplit(':').next())
                    .and_then(|port| port.parse::<u16>().ok());
                if let (Some(port), Some(tx)) = (port, port_tx.take()) {
                    let _ = tx.send(port);
                }
            }
            collected
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    });
    let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(port) => port,
        Err(_) => {
            let _ = child.kill();
            let printed = lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .join("\n");
            panic!("{name} did not print its address within 60 s:\n{printed}");
        }
    };
    Process {
        name,
        port,
        child,
        lines,
    }
}

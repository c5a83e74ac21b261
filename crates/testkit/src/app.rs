//! The app under test: the real host serving the given services on port 0.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex, Once, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use prm_bus::{
    BusConfig, BusError, ConsumerHandle, Envelope, EventBus, OutgoingMessage, Subscription,
};
use prm_domain::clock::{ManualClock, SharedClock};
use prm_platform::Settings;
use prm_runtime::{Backends, Host, HostOptions, Running, Service, ServiceSpec};
use prm_store::testing::TestDatabase;
use reqwest::{Method, Response};
use serde_json::Value;

use crate::{
    Answer,
    matrix::{self, AMQP_URL, REDIS_URL},
};

/// The Bearer key every spawned app accepts.
pub const API_KEY: &str = "test-key-0123456789abcdef";

type OverrideFn = Box<dyn FnOnce(&Settings, HostOptions) -> HostOptions + Send>;

/// How to spawn an app; `Spawn::default()` is the matrix's backends, a fresh database,
/// the system clock and the defaults of every setting.
#[derive(Default)]
pub struct Spawn {
    vars: Vec<(String, String)>,
    clock: Option<Arc<ManualClock>>,
    overrides: Vec<OverrideFn>,
    database: Option<Arc<TestDatabase>>,
    bus: Option<BusConfig>,
    backends: Option<Backends>,
    title: Option<(&'static str, &'static str)>,
}

impl Spawn {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one variable (over the test defaults); an empty value unsets it.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets several variables (see [`Spawn::var`]).
    pub fn vars(mut self, vars: &[(&str, &str)]) -> Self {
        for (name, value) in vars {
            self = self.var(name, value);
        }
        self
    }

    /// Variables a suite sets for all its apps: the test's own [`Spawn::var`]s win.
    pub fn defaults(mut self, vars: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all.append(&mut self.vars);
        self.vars = all;
        self
    }

    /// Stands the app's clock still at `now` (the test moves it with
    /// [`TestApp::clock`]).
    pub fn at(self, now: DateTime<Utc>) -> Self {
        self.clock(Arc::new(ManualClock::new(now)))
    }

    /// The app reads time from `clock`.
    pub fn clock(mut self, clock: Arc<ManualClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Hands `value` to every service's build (`ServiceContext::override_of`).
    pub fn with_override<T: Any + Send + Sync>(self, value: T) -> Self {
        self.override_from(move |_| value)
    }

    /// Like [`Spawn::with_override`], from the app's settings (a service's configuration
    /// parsed from them, then changed).
    pub fn override_from<T: Any + Send + Sync>(
        mut self,
        make: impl FnOnce(&Settings) -> T + Send + 'static,
    ) -> Self {
        self.overrides.push(Box::new(move |settings, options| {
            options.with_override(make(settings))
        }));
        self
    }

    /// Runs on `other`'s database, as a second replica would.
    pub fn same_database(mut self, other: &TestApp) -> Self {
        self.database = Some(other.database.clone());
        self
    }

    /// Bus settings (faster retries…); its prefix replaces the unique one.
    pub fn bus_config(mut self, config: BusConfig) -> Self {
        self.bus = Some(config);
        self
    }

    /// Backends built by the test (shared with another app, or fault-injected).
    pub fn backends(mut self, backends: Backends) -> Self {
        self.backends = Some(backends);
        self
    }

    /// The real Redis, whatever `PRM_TEST_STATE` says (tests about Redis itself).
    pub fn redis(self) -> Self {
        self.var("REDIS_URL", REDIS_URL)
    }

    /// The in-memory state store, whatever `PRM_TEST_STATE` says.
    pub fn memory_state(self) -> Self {
        self.var("REDIS_URL", "")
    }

    /// The real RabbitMQ, whatever `PRM_TEST_BUS` says (tests about the broker itself).
    pub fn rabbit(self) -> Self {
        self.var("AMQP_URL", AMQP_URL)
    }

    /// The in-process bus, whatever `PRM_TEST_BUS` says.
    pub fn in_process_bus(self) -> Self {
        self.var("AMQP_URL", "")
    }

    /// Title and description of the combined OpenAPI document.
    pub fn title(mut self, title: &'static str, description: &'static str) -> Self {
        self.title = Some((title, description));
        self
    }
}

/// Starts the host serving `specs` (see [`Spawn`]); fails the test when it cannot.
pub async fn spawn(specs: &[&'static ServiceSpec], options: Spawn) -> TestApp {
    match try_spawn(specs, options).await {
        Ok(app) => app,
        Err(e) => panic!("the app does not start: {e:#}"),
    }
}

static TRACING: Once = Once::new();

/// [`spawn`], returning what stopped the host from building or starting (tests of
/// start-up refusals).
pub async fn try_spawn(specs: &[&'static ServiceSpec], options: Spawn) -> anyhow::Result<TestApp> {
    // Trace context as in production (events carry `traceparent`); `TEST_LOG=1` also
    // shows the logs. A suite that installed its own subscriber keeps it.
    TRACING.call_once(|| {
        std::mem::forget(prm_platform::telemetry::init_for_tests(
            std::env::var_os("TEST_LOG").is_some(),
        ));
    });
    let database = match options.database {
        Some(database) => database,
        None => Arc::new(TestDatabase::migrated().await),
    };
    let redis_prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let mut vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", API_KEY),
        ("DATABASE_URL", database.url()),
        ("REDIS_KEY_PREFIX", redis_prefix.as_str()),
        ("AMQP_NAME_PREFIX", matrix::unique_prefix().as_str()),
        // Thousands of queues a run: classic ones cost RabbitMQ a fraction of quorum
        // ones (the bus's own tests check the quorum topology production declares).
        ("AMQP_QUEUE_TYPE", "classic"),
        // Tests send bursts from one address; the rate-limit tests turn them on.
        ("RATE_LIMIT_API_PER_SECOND", "0"),
        ("RATE_LIMIT_WEBHOOKS_PER_SECOND", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if matrix::state() == matrix::State::Redis {
        vars.insert("REDIS_URL".into(), REDIS_URL.into());
    }
    if matrix::bus() == matrix::Bus::RabbitMq {
        vars.insert("AMQP_URL".into(), AMQP_URL.into());
    }
    vars.extend(options.vars);
    if vars.get("REDIS_URL").map(String::as_str) == Some(REDIS_URL) {
        matrix::require_redis().await;
    }
    if vars.get("AMQP_URL").map(String::as_str) == Some(AMQP_URL) {
        matrix::require_rabbit().await;
    }
    let settings = Settings::from_map(0, &vars)?;

    let bus_config = match options.bus {
        Some(bus) => bus,
        None => Backends::bus_config(&settings)?,
    };
    let amqp_prefix = bus_config.prefix.clone();
    let mut backends = match options.backends {
        Some(backends) => backends,
        None => Backends::connect(&settings, bus_config).await?,
    };
    if let Some(clock) = &options.clock {
        backends.clock = clock.clone();
    }
    let consumers: Consumers = Arc::default();
    if vars.get("AMQP_URL").map(String::as_str) == Some(AMQP_URL) {
        // The bus declares its exchanges once connected: a connection completing after
        // the test removed them (on drop) would declare them again, for good.
        let connected =
            tokio::time::timeout(Duration::from_secs(10), backends.bus.until_connected()).await;
        anyhow::ensure!(
            connected.is_ok(),
            "RabbitMQ at {AMQP_URL}: not connected in 10 s"
        );
    }
    if backends.bus.backend() == "rabbitmq" {
        backends.bus = Arc::new(Recording {
            inner: backends.bus.clone(),
            consumers: consumers.clone(),
        });
    }
    let mut host_options = HostOptions {
        backends: Some(backends.clone()),
        title: options.title,
        ..HostOptions::default()
    };
    for apply in options.overrides {
        host_options = apply(&settings, host_options);
    }
    let host = Host::build(settings, specs, host_options).await?;
    let running = host.start().await?;
    let port = running.port();
    Ok(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::new(),
        store: backends.store.clone(),
        backends,
        database,
        redis_prefix,
        amqp_prefix,
        manual_clock: options.clock,
        consumers,
        running: Some(running),
    })
}

/// A running app. Dropping it drops its database and removes its RabbitMQ queues and
/// exchanges.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub backends: Backends,
    pub store: prm_store::Store,
    /// The app's `REDIS_KEY_PREFIX` (unique per app).
    pub redis_prefix: String,
    /// The prefix of the app's AMQP exchanges and queues (unique per app).
    pub amqp_prefix: String,
    database: Arc<TestDatabase>,
    manual_clock: Option<Arc<ManualClock>>,
    consumers: Consumers,
    running: Option<Running>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// The app's "now" (its manual clock, else the system's).
    pub fn now(&self) -> DateTime<Utc> {
        self.backends.clock.now()
    }

    /// The clock the test spawned the app with ([`Spawn::at`]).
    pub fn clock(&self) -> &ManualClock {
        self.manual_clock
            .as_deref()
            .expect("spawned without a manual clock: use Spawn::at")
    }

    /// The clock as the app's backends hold it.
    pub fn shared_clock(&self) -> SharedClock {
        self.backends.clock.clone()
    }

    /// A hosted service by its type.
    pub fn service<T: Service>(&self) -> &T {
        self.running
            .as_ref()
            .and_then(|r| r.service::<T>())
            .unwrap_or_else(|| panic!("{} is not hosted", std::any::type_name::<T>()))
    }

    /// The running host (its development key…).
    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    /// Stops the app as SIGTERM would and waits until it has (requests in flight,
    /// background work, consumers and relays finish).
    pub async fn stop(mut self) {
        let running = self.running.take().expect("running");
        running.stop_handle().stop(true).await;
        running
            .run_until_stopped()
            .await
            .expect("the app stops cleanly");
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
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

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// A GET that must answer 200; its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        Self::success(self.get(path).await, "GET", path).await
    }

    /// A POST that must succeed (2xx); its JSON body.
    pub async fn post_json(&self, path: &str, body: Value) -> Value {
        Self::success(self.post(path, body).await, "POST", path).await
    }

    async fn success(response: Response, method: &str, path: &str) -> Value {
        let answer = Answer::read(response).await;
        assert!(
            (200..300).contains(&answer.status),
            "{method} {path}: {} {}",
            answer.status,
            answer.text
        );
        answer.body
    }

    /// Bytes sent as JSON with the key, for malformed and oversized bodies.
    pub async fn post_json_bytes(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(API_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// A post with exactly these headers (no key): webhooks and their signatures.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request sent")
    }

    /// `n` identical POSTs of `body` at once (races the schema must settle), answered
    /// in the order they were made.
    pub async fn post_concurrently(&self, path: &str, body: &Value, n: usize) -> Vec<Answer> {
        let requests =
            (0..n).map(|_| async { Answer::read(self.post(path, body.clone()).await).await });
        futures::future::join_all(requests).await
    }

    /// The `total` of a list endpoint.
    pub async fn total(&self, path: &str) -> u64 {
        self.get_json(path).await["total"]
            .as_u64()
            .expect("a list has a total")
    }

    /// `/health` and `/ready` answer 200.
    pub async fn assert_healthy(&self) {
        for path in ["/health", "/ready"] {
            let response = self
                .client
                .get(self.url(path))
                .send()
                .await
                .expect("request sent");
            assert_eq!(response.status(), 200, "{path}");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Whatever the test did to the connection (tests cut it through the fault proxy),
        // what was declared on the broker stays there until it is deleted.
        if self.backends.bus.backend() != "rabbitmq" {
            return;
        }
        let prefix = self.amqp_prefix.clone();
        let consumers = self
            .consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // Durable queues and exchanges outlive the test otherwise.
        crate::rabbit::delete_topology_blocking(prefix, consumers);
    }
}

type Consumers = Arc<Mutex<Vec<String>>>;

/// The app's bus, remembering the consumers subscribed so their queues can be removed.
struct Recording {
    inner: Arc<dyn EventBus>,
    consumers: Consumers,
}

#[async_trait::async_trait]
impl EventBus for Recording {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    async fn until_connected(&self) {
        self.inner.until_connected().await;
    }

    async fn publish_message(&self, message: OutgoingMessage) -> Result<(), BusError> {
        self.inner.publish_message(message).await
    }

    async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        self.inner.publish_batch(messages).await
    }

    async fn publish(&self, envelope: &Envelope) -> Result<(), BusError> {
        self.inner.publish(envelope).await
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<ConsumerHandle, BusError> {
        self.consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscription.consumer.clone());
        self.inner.subscribe(subscription).await
    }
}

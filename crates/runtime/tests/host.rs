//! The host as services see it: what it refuses to start, what it hands each service,
//! and what it runs beside the server.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpResponse, web};
use prm_platform::Settings;
use prm_runtime::{CancellationToken, Host, HostOptions, Service, ServiceContext, ServiceSpec};
use prm_state::StateStore;
use prm_store::outbox::Outbox;

/// A service with one clinic route that remembers what it was built with.
struct Probe {
    state: Arc<dyn StateStore>,
    has_outbox: bool,
    stopped: Arc<AtomicUsize>,
}

impl Service for Probe {
    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.route(
            "/api/v1/prm/probe",
            web::get().to(|| async { HttpResponse::Ok().body("probe") }),
        );
    }

    fn spawn_background(&self, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let stopped = self.stopped.clone();
        vec![tokio::spawn(async move {
            stop.cancelled().await;
            stopped.fetch_add(1, Ordering::SeqCst);
        })]
    }
}

static STOPPED: std::sync::LazyLock<Arc<AtomicUsize>> =
    std::sync::LazyLock::new(|| Arc::new(AtomicUsize::new(0)));

async fn build(ctx: ServiceContext) -> anyhow::Result<Arc<dyn Service>> {
    Ok(Arc::new(Probe {
        state: ctx.backends.state.clone(),
        has_outbox: ctx.outbox.is_some(),
        stopped: STOPPED.clone(),
    }))
}

fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}

static CLINIC: ServiceSpec = ServiceSpec {
    name: "clinic-probe",
    binary: "prm-clinic-probe",
    title: "probe",
    description: "a service with clinic endpoints and patient data in its state",
    default_port: 0,
    outbox: Some(Outbox::APPOINTMENTS),
    clinic_api: true,
    sensitive_state: true,
    body_limits: &[],
    openapi,
    build: |ctx| Box::pin(build(ctx)),
};

static SIGNED: ServiceSpec = ServiceSpec {
    name: "signed-probe",
    binary: "prm-signed-probe",
    title: "probe",
    description: "a service without clinic endpoints or sensitive state",
    default_port: 0,
    outbox: None,
    clinic_api: false,
    sensitive_state: false,
    body_limits: &[],
    openapi,
    build: |ctx| Box::pin(build(ctx)),
};

async fn settings(extra: &[(&str, &str)]) -> Settings {
    let url = prm_store::testing::fresh_database_url().await;
    let mut vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("DATABASE_URL", url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_map(0, &vars).unwrap()
}

fn variable_of(error: &anyhow::Error) -> Option<&'static str> {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<prm_platform::ConfigError>())
        .map(|e| e.variable)
}

#[tokio::test]
async fn production_requires_api_keys_only_of_services_with_clinic_endpoints() {
    let production = [("PRM_ENV", "production")];
    let refused = Host::build(
        settings(&production).await,
        &[&CLINIC, &SIGNED],
        HostOptions::default(),
    )
    .await
    .err()
    .expect("clinic endpoints without keys");
    assert_eq!(variable_of(&refused), Some("PRM_API_KEYS"), "{refused:#}");
    assert!(
        format!("{refused:#}").contains("clinic-probe"),
        "{refused:#}"
    );

    let host = Host::build(
        settings(&production).await,
        &[&SIGNED],
        HostOptions::default(),
    )
    .await
    .expect("a service without clinic endpoints needs no keys");
    let running = host.start().await.unwrap();
    assert!(running.dev_key().is_none(), "no key printed for it either");
}

#[tokio::test]
async fn production_with_redis_requires_the_state_encryption_key_of_sensitive_services() {
    let redis = [
        ("PRM_ENV", "production"),
        ("PRM_API_KEYS", "runtime-test-key-0123456789"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
    ];
    let refused = Host::build(settings(&redis).await, &[&CLINIC], HostOptions::default())
        .await
        .err()
        .expect("health data in Redis with a throwaway key");
    assert_eq!(
        variable_of(&refused),
        Some("STATE_ENCRYPTION_KEY"),
        "{refused:#}"
    );
    Host::build(settings(&redis).await, &[&SIGNED], HostOptions::default())
        .await
        .expect("no sensitive state, no key needed");
    let bad = [&redis[..], &[("STATE_ENCRYPTION_KEY", "not-a-key")]].concat();
    let refused = Host::build(settings(&bad).await, &[&CLINIC], HostOptions::default())
        .await
        .err()
        .expect("a malformed key");
    assert!(
        format!("{refused:#}").contains("STATE_ENCRYPTION_KEY"),
        "{refused:#}"
    );
    assert!(
        !format!("{refused:#}").contains("not-a-key"),
        "never echoed"
    );
}

/// A sensitive service's values are sealed in Redis; another service's are not, and the
/// keys stay as the contract names them.
#[tokio::test]
async fn sensitive_services_see_an_encrypted_state_store() {
    let prefix = format!("runtime-test-{}", uuid::Uuid::new_v4().simple());
    let vars = [
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        (
            "STATE_ENCRYPTION_KEY",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
    ];
    let host = Host::build(
        settings(&vars).await,
        &[&CLINIC, &SIGNED],
        HostOptions::default(),
    )
    .await
    .unwrap();
    let ttl = Duration::from_secs(60);
    let clinic = host.service::<Probe>().unwrap();
    assert!(clinic.has_outbox, "its relay's notifier");
    clinic.state.set("greeting", "Ana Ruiz", ttl).await.unwrap();
    assert_eq!(
        clinic.state.get("greeting").await.unwrap().as_deref(),
        Some("Ana Ruiz")
    );
    let raw = prm_state::from_config(Some("redis://127.0.0.1:6379"), Some(&prefix)).unwrap();
    let stored = raw.get("greeting").await.unwrap().unwrap();
    assert!(stored.starts_with("v1."), "sealed: {stored}");
    assert!(!stored.contains("Ana"), "{stored}");
    raw.delete("greeting").await.unwrap();
}

#[tokio::test]
async fn background_work_is_told_to_stop_when_the_server_stops() {
    let host = Host::build(
        settings(&[("PRM_API_KEYS", "runtime-test-key-0123456789")]).await,
        &[&SIGNED],
        HostOptions::default(),
    )
    .await
    .unwrap();
    let running = host.start().await.unwrap();
    let before = STOPPED.load(Ordering::SeqCst);
    let url = format!("http://127.0.0.1:{}/api/v1/prm/probe", running.port());
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    let stop = running.stop_handle();
    let serving = tokio::spawn(running.run_until_stopped());
    stop.stop(true).await;
    tokio::time::timeout(Duration::from_secs(15), serving)
        .await
        .expect("the host stops")
        .unwrap()
        .unwrap();
    assert!(
        STOPPED.load(Ordering::SeqCst) > before,
        "the task saw the stop"
    );
}

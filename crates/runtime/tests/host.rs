//! The host as services see it: what it refuses to start, what it hands each service,
//! and what it runs beside the server.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpResponse, web};
use prm_runtime::{CancellationToken, Service, ServiceContext, ServiceSpec};
use prm_state::StateStore;
use prm_store::outbox::Outbox;
use prm_testkit::{REDIS_URL, Spawn, spawn, try_spawn};

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

fn variable_of(error: &anyhow::Error) -> Option<&'static str> {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<prm_platform::ConfigError>())
        .map(|e| e.variable)
}

/// Production, without the test key.
fn production() -> Spawn {
    Spawn::new().vars(&[("PRM_ENV", "production"), ("PRM_API_KEYS", "")])
}

#[tokio::test]
async fn production_requires_api_keys_only_of_services_with_clinic_endpoints() {
    let refused = try_spawn(&[&CLINIC, &SIGNED], production())
        .await
        .err()
        .expect("clinic endpoints without keys");
    assert_eq!(variable_of(&refused), Some("PRM_API_KEYS"), "{refused:#}");
    assert!(
        format!("{refused:#}").contains("clinic-probe"),
        "{refused:#}"
    );

    let app = try_spawn(&[&SIGNED], production())
        .await
        .expect("a service without clinic endpoints needs no keys");
    assert!(
        app.running().dev_key().is_none(),
        "no key printed for it either"
    );
}

#[tokio::test]
async fn production_with_redis_requires_the_state_encryption_key_of_sensitive_services() {
    let redis = || {
        Spawn::new().redis().vars(&[
            ("PRM_ENV", "production"),
            ("PRM_API_KEYS", "runtime-test-key-0123456789"),
        ])
    };
    let refused = try_spawn(&[&CLINIC], redis())
        .await
        .err()
        .expect("health data in Redis with a throwaway key");
    assert_eq!(
        variable_of(&refused),
        Some("STATE_ENCRYPTION_KEY"),
        "{refused:#}"
    );
    try_spawn(&[&SIGNED], redis())
        .await
        .expect("no sensitive state, no key needed");
    let refused = try_spawn(&[&CLINIC], redis().var("STATE_ENCRYPTION_KEY", "not-a-key"))
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
    let app = spawn(
        &[&CLINIC, &SIGNED],
        Spawn::new().redis().var(
            "STATE_ENCRYPTION_KEY",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
    )
    .await;
    let ttl = Duration::from_secs(60);
    let clinic = app.service::<Probe>();
    assert!(clinic.has_outbox, "its relay's notifier");
    clinic.state.set("greeting", "Ana Ruiz", ttl).await.unwrap();
    assert_eq!(
        clinic.state.get("greeting").await.unwrap().as_deref(),
        Some("Ana Ruiz")
    );
    let raw = prm_state::from_config(Some(REDIS_URL), Some(&app.redis_prefix)).unwrap();
    let stored = raw.get("greeting").await.unwrap().unwrap();
    assert!(stored.starts_with("v1."), "sealed: {stored}");
    assert!(!stored.contains("Ana"), "{stored}");
    raw.delete("greeting").await.unwrap();
}

#[tokio::test]
async fn background_work_is_told_to_stop_when_the_server_stops() {
    let app = spawn(&[&SIGNED], Spawn::new()).await;
    let before = STOPPED.load(Ordering::SeqCst);
    assert_eq!(app.get("/api/v1/prm/probe").await.status(), 200);
    tokio::time::timeout(Duration::from_secs(15), app.stop())
        .await
        .expect("the host stops");
    assert!(
        STOPPED.load(Ordering::SeqCst) > before,
        "the task saw the stop"
    );
}

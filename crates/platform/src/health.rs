//! `/health` (the process is alive) and `/ready` (its dependencies answer).

use std::{sync::Arc, time::Duration};

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// One dependency a service needs before it can take traffic.
#[async_trait::async_trait]
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &'static str;
    async fn check(&self) -> Result<(), String>;
}

/// A readiness check made of a name and an async probe, so services need no
/// check type per dependency: `probe("database", move || { … store.ping() … })`.
pub fn probe<F, Fut>(name: &'static str, check: F) -> Arc<dyn ReadinessCheck>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    struct Probe<F> {
        name: &'static str,
        check: F,
    }

    #[async_trait::async_trait]
    impl<F, Fut> ReadinessCheck for Probe<F>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        fn name(&self) -> &'static str {
            self.name
        }

        async fn check(&self) -> Result<(), String> {
            (self.check)().await
        }
    }

    Arc::new(Probe { name, check })
}

/// The checks `/ready` runs, each bounded by a timeout so a hung dependency
/// makes the service "not ready" instead of hanging the probe.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.checks.push(check);
        self
    }

    pub async fn run(&self) -> ReadyReport {
        let results = futures::future::join_all(self.checks.iter().map(|c| async move {
            let outcome = match tokio::time::timeout(Duration::from_secs(3), c.check()).await {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(e)) => e,
                Err(_) => "timed out".to_owned(),
            };
            (c.name().to_owned(), outcome)
        }))
        .await;
        let all_ok = results.iter().all(|(_, outcome)| outcome == "ok");
        ReadyReport {
            status: if all_ok { "ready" } else { "unavailable" },
            checks: results.into_iter().collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "checks": {"database": "ok"}}))]
pub struct ReadyReport {
    pub status: &'static str,
    pub checks: std::collections::BTreeMap<String, String>,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = HealthReport)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthReport { status: "ok" })
}

/// Every dependency answers: 200 when ready, 503 naming the failing check otherwise.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, body = ReadyReport), (status = 503, body = ReadyReport)))]
#[get("/ready")]
pub async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.run().await;
    if report.status == "ready" {
        HttpResponse::Ok().json(report)
    } else {
        tracing::warn!(checks = ?report.checks, "not ready");
        HttpResponse::ServiceUnavailable().json(report)
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(health, ready), components(schemas(HealthReport, ReadyReport)))]
pub struct HealthDoc;

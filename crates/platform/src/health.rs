//! `/health` (the process is alive) and `/ready` (its dependencies answer).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, PROBLEM_JSON, Problem};

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
#[derive(Clone)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
    timeout: Duration,
}

/// Orchestrators probe with a timeout of their own (Kubernetes: 1 s by default, often
/// raised); a check slower than this counts as failed.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

impl Default for Readiness {
    fn default() -> Self {
        Self {
            checks: Vec::new(),
            timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// How long each check may take before it counts as failed.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.checks.push(check);
        self
    }

    pub async fn run(&self) -> ReadyReport {
        let timeout = self.timeout;
        let results = futures::future::join_all(self.checks.iter().map(|c| async move {
            let outcome = match tokio::time::timeout(timeout, c.check()).await {
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

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct HealthReport {
    /// Always `ok`: the process answers.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Every check and its outcome (`ok`, or why it failed, without internals).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "checks": {"database": "ok", "state": "ok"}}))]
pub struct ReadyReport {
    /// `ready` (this response is sent only when every check is `ok`).
    pub status: &'static str,
    /// Check name (`database`, `state`, `bus`…) → `ok`, or why it failed.
    pub checks: BTreeMap<String, String>,
}

impl ReadyReport {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }

    /// The names of the checks that failed.
    pub fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|(_, outcome)| outcome.as_str() != "ok")
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// 503 from `/ready`: a problem (`not_ready`) with every check's outcome.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = not_ready_example)]
pub struct NotReadyProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// Check name (`database`, `state`, `bus`…) → `ok`, or why it failed (no internals).
    pub checks: BTreeMap<String, String>,
}

/// The 503 `/ready` sends with the database down, built as [`ready`] builds it.
fn not_ready_example() -> serde_json::Value {
    let checks = [("database", "not reachable"), ("state", "ok")]
        .into_iter()
        .map(|(name, outcome)| (name.to_owned(), outcome.to_owned()))
        .collect();
    serde_json::to_value(NotReadyProblem {
        problem: ApiError::not_ready("Not ready: database.").problem(),
        checks,
    })
    .unwrap_or_default()
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "The process is up (`status: ok`)", body = HealthReport)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthReport { status: "ok" })
}

/// Readiness: whether every dependency answers
///
/// 200 when ready, 503 problem+json naming the failing checks otherwise.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, description = "Every dependency answers; each check is `ok`", body = ReadyReport),
    (status = 503, description = "A dependency does not answer (`not_ready`)", body = NotReadyProblem, content_type = "application/problem+json")))]
#[get("/ready")]
pub async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.run().await;
    if report.is_ready() {
        return HttpResponse::Ok().json(report);
    }
    let failing = report.failing().join(", ");
    tracing::warn!(failing = %failing, checks = ?report.checks, "not ready");
    let problem = ApiError::not_ready(format!("Not ready: {failing}.")).problem();
    HttpResponse::ServiceUnavailable()
        .content_type(PROBLEM_JSON)
        .json(NotReadyProblem {
            problem,
            checks: report.checks,
        })
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(health, ready, crate::metrics::metrics_endpoint),
    components(schemas(HealthReport, ReadyReport, NotReadyProblem)),
    tags((name = "health", description = "Liveness, readiness and Prometheus metrics for orchestrators and monitoring; no API key."))
)]
pub struct HealthDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn every_check_must_pass_and_failures_are_named() {
        let all_up = Readiness::new()
            .with(probe("database", || async { Ok(()) }))
            .with(probe("state", || async { Ok(()) }))
            .run()
            .await;
        assert!(all_up.is_ready());
        assert!(all_up.failing().is_empty());
        assert!(
            Readiness::new().run().await.is_ready(),
            "nothing to wait for"
        );

        let report = Readiness::new()
            .with(probe("database", || async {
                Err("not reachable".to_owned())
            }))
            .with(probe("state", || async { Ok(()) }))
            .run()
            .await;
        assert_eq!(report.status, "unavailable");
        assert_eq!(report.failing(), ["database"]);
        assert_eq!(report.checks["database"], "not reachable");
        assert_eq!(report.checks["state"], "ok");
    }

    #[actix_web::test]
    async fn a_hung_check_times_out_instead_of_hanging_the_probe() {
        let started = std::time::Instant::now();
        let report = Readiness::new()
            .with_timeout(Duration::from_millis(50))
            .with(probe("database", std::future::pending))
            .run()
            .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(report.failing(), ["database"]);
        assert_eq!(report.checks["database"], "timed out");
    }
}

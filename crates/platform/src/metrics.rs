//! Prometheus metrics: one recorder per process (the `metrics` facade, rendered by its
//! Prometheus exporter), `GET /metrics` on every binary, and the HTTP metrics every
//! route gets. Services record their own with the facade (`metrics::counter!(…)`),
//! named `prm_…`; labels never carry patient data (ids, phones, texts).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `prm_http_requests_total` | counter | `method`, `route` (the pattern, never the path), `status` |
//! | `prm_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `prm_http_rate_limited_total` | counter | `class` (`api`, `webhooks`) |
//!
//! The rest is recorded where it happens and listed in `docs/operations.md`.

use std::sync::OnceLock;

use actix_web::{HttpResponse, get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds): a webhook answers in milliseconds, a turn with an outside
/// engine in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. A process that already has another
/// global recorder (a test harness) still gets a working handle of its own.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder was installed first: then this one stays local.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder (idempotent): call it at start so that early metrics count.
pub fn install() {
    let _ = handle();
}

/// The Prometheus text exposition of every metric of this process.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format (version 0.0.4)", content_type = "text/plain",
        body = String, example = "# TYPE prm_http_requests_total counter\nprm_http_requests_total{method=\"GET\",route=\"/ready\",status=\"200\"} 3\n")))]
#[get("/metrics")]
pub async fn metrics_endpoint() -> HttpResponse {
    let handle = handle();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

/// One HTTP request served.
pub fn record_request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("prm_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "prm_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_are_rendered_with_their_labels() {
        install();
        record_request("GET", "/api/v1/prm/things/{id}", 404, 0.003);
        metrics::counter!("prm_test_counter_total", "kind" => "x").increment(2);
        let text = handle().render();
        assert!(
            text.contains(
                "prm_http_requests_total{method=\"GET\",route=\"/api/v1/prm/things/{id}\",status=\"404\"}"
            ),
            "{text}"
        );
        assert!(
            text.contains("prm_test_counter_total{kind=\"x\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("prm_http_request_duration_seconds_bucket"),
            "histograms with buckets: {text}"
        );
    }
}

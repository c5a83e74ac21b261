//! Telemetry: logs on stdout (filtered by `RUST_LOG`; JSON or pretty, `LOG_FORMAT`) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP/HTTP.
//! The W3C trace-context propagator is always installed so traces continue
//! across HTTP and AMQP even when this process does not export.

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// Flushes and stops span export when dropped (at shutdown).
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports every finished span now (used before exit and in tests).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: span exporter did not shut down cleanly: {e}");
        }
    }
}

/// How log lines look (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

impl LogFormat {
    /// Pretty on a terminal, JSON otherwise (containers, files, pipes).
    pub fn default_for(stdout_is_terminal: bool) -> Self {
        if stdout_is_terminal {
            Self::Pretty
        } else {
            Self::Json
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            other => Err(format!("`{other}` is neither `json` nor `pretty`")),
        }
    }
}

const DEFAULT_FILTER: &str =
    "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,lapin=warn,h2=warn,hyper=warn";

/// Installs the global subscriber. Safe to call more than once (later calls keep the first).
///
/// Spans always carry OpenTelemetry context, so a W3C `traceparent` goes out on HTTP
/// and AMQP and one trace spans every service; they are exported only when an OTLP
/// endpoint is configured.
pub fn init(
    service_name: &str,
    otlp_endpoint: Option<&str>,
    format: LogFormat,
) -> anyhow::Result<TelemetryGuard> {
    install(service_name, otlp_endpoint, Some(format))
}

/// For test processes: trace context as in production, logs only when `show_logs`
/// (test output would otherwise drown in JSON lines).
pub fn init_for_tests(show_logs: bool) -> anyhow::Result<TelemetryGuard> {
    install("prm-test", None, show_logs.then_some(LogFormat::Json))
}

fn install(
    service_name: &str,
    otlp_endpoint: Option<&str>,
    logs: Option<LogFormat>,
) -> anyhow::Result<TelemetryGuard> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = (logs == Some(LogFormat::Json)).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_target(true)
    });
    let pretty = (logs == Some(LogFormat::Pretty)).then(|| {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .compact()
    });

    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    let exporting = otlp_endpoint.is_some();
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name.to_owned()));

    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(pretty)
        .with(otel)
        .try_init();
    Ok(TelemetryGuard {
        provider: exporting.then_some(provider),
    })
}

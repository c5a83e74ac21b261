//! W3C trace context over AMQP headers.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current span's W3C `traceparent`, if tracing with OpenTelemetry is on and the span
/// is sampled into a valid trace. Store it with outbox rows so the relay can forward it.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    // W3C is the suite's contract, whatever global propagator the binary installed.
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The remote parent context a consumer span continues.
pub(crate) fn parent_context(traceparent: Option<&str>) -> Option<opentelemetry::Context> {
    let traceparent = traceparent?;
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    Some(TraceContextPropagator::new().extract(&carrier))
}

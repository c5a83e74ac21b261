//! W3C trace context over AMQP headers.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// Outbox rows keep the producer's trace context, so the function lives with them.
pub use prm_store::outbox::current_traceparent;

/// The remote parent context a consumer span continues.
pub(crate) fn parent_context(traceparent: Option<&str>) -> Option<opentelemetry::Context> {
    let traceparent = traceparent?;
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    Some(TraceContextPropagator::new().extract(&carrier))
}

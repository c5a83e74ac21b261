//! What both adapters do with one incoming message: parse, run the handler inside a span
//! that continues the producer's trace, and decide ack / retry / dead-letter.

use std::{panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;
use prm_domain::events::Envelope;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{Delivery, EventHandler, HandlerError, RetryPolicy, trace::parent_context};

/// What to do with a message once its handler ran.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    Ack,
    /// Publish a copy again after `delay`, recording `failures` so far, then ack this one.
    Retry {
        failures: u32,
        delay: Duration,
    },
    /// Move it to the consumer's dead-letter queue with `reason`, then ack this one.
    DeadLetter {
        reason: String,
        attempts: u32,
    },
}

pub(crate) struct Incoming<'a> {
    pub body: &'a [u8],
    pub traceparent: Option<&'a str>,
    /// Failed handler attempts before this delivery (`x-prm-attempts`).
    pub prior_failures: u32,
    pub redelivered: bool,
}

pub(crate) struct Consumer<'a> {
    pub name: &'a str,
    pub queue: &'a str,
    pub backend: &'static str,
    pub handler: &'a dyn EventHandler,
    pub retry: &'a RetryPolicy,
}

pub(crate) async fn dispatch(consumer: &Consumer<'_>, incoming: Incoming<'_>) -> Outcome {
    let envelope: Envelope = match serde_json::from_slice(incoming.body) {
        Ok(envelope) => envelope,
        Err(error) => {
            // The parse error may quote the body (patient data): debug only.
            tracing::warn!(
                consumer = consumer.name,
                "message body is not an event envelope; dead-lettering it"
            );
            tracing::debug!(consumer = consumer.name, %error, "envelope parse error");
            metrics::counter!(
                "prm_events_consumed_total",
                "consumer" => consumer.name.to_owned(),
                "type" => "malformed",
                "outcome" => "dead_lettered"
            )
            .increment(1);
            return Outcome::DeadLetter {
                reason: format!("malformed envelope: {error}"),
                attempts: 0,
            };
        }
    };
    let attempt = incoming.prior_failures.saturating_add(1);
    let span = tracing::info_span!(
        "consume event",
        otel.kind = "consumer",
        messaging.system = consumer.backend,
        messaging.operation = "process",
        messaging.destination.name = consumer.queue,
        messaging.message.id = %envelope.id,
        event_type = %envelope.event_type,
        consumer = consumer.name,
        attempt,
    );
    if let Some(parent) = parent_context(incoming.traceparent) {
        span.set_parent(parent);
    }
    let delivery = Delivery {
        envelope,
        consumer: consumer.name.to_owned(),
        attempt,
        redelivered: incoming.redelivered,
    };
    let result = AssertUnwindSafe(consumer.handler.handle(&delivery))
        .catch_unwind()
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| Err(HandlerError::transient("handler panicked")));
    let _entered = span.enter();
    let event_type = delivery.envelope.event_type.as_str();
    if attempt == 1 {
        // From the producer's commit to this consumer's first try: the relay's delay, the
        // broker's queue and this consumer's backlog. Clock skew between hosts may make it
        // negative; that counts as no lag.
        let lag = chrono::Utc::now() - delivery.envelope.occurred_at;
        metrics::histogram!(
            "prm_event_lag_seconds",
            "consumer" => consumer.name.to_owned(),
            "type" => event_type.to_owned()
        )
        .record(lag.to_std().map_or(0.0, |d| d.as_secs_f64()));
    }
    let outcome = decide(consumer, &delivery, attempt, result);
    let label = match outcome {
        Outcome::Ack => "processed",
        Outcome::Retry { .. } => "retried",
        Outcome::DeadLetter { .. } => "dead_lettered",
    };
    metrics::counter!(
        "prm_events_consumed_total",
        "consumer" => consumer.name.to_owned(),
        "type" => event_type.to_owned(),
        "outcome" => label
    )
    .increment(1);
    outcome
}

/// Ack, retry with backoff, or dead-letter, from the handler's result.
fn decide(
    consumer: &Consumer<'_>,
    delivery: &Delivery,
    attempt: u32,
    result: Result<(), HandlerError>,
) -> Outcome {
    let id = delivery.envelope.id;
    let event_type = delivery.envelope.event_type.as_str();
    match result {
        Ok(()) => {
            tracing::debug!(event_id = %id, event_type, "event processed");
            Outcome::Ack
        }
        Err(error) if error.is_permanent() => {
            tracing::warn!(event_id = %id, event_type, reason = error.reason(), "handler rejected the event; dead-lettering it");
            Outcome::DeadLetter {
                reason: error.reason().to_owned(),
                attempts: attempt,
            }
        }
        Err(error) if attempt >= consumer.retry.max_attempts => {
            tracing::warn!(event_id = %id, event_type, attempt, reason = error.reason(), "handler kept failing; dead-lettering the event");
            Outcome::DeadLetter {
                reason: format!("gave up after {attempt} attempts: {}", error.reason()),
                attempts: attempt,
            }
        }
        Err(error) => {
            let delay = consumer.retry.backoff.delay(attempt - 1);
            tracing::warn!(event_id = %id, event_type, attempt, retry_in_ms = delay.as_millis() as u64, reason = error.reason(), "handler failed; will retry");
            Outcome::Retry {
                failures: attempt,
                delay,
            }
        }
    }
}

use prm_domain::events::Envelope;
use uuid::Uuid;

use crate::BusError;

/// W3C trace context of the producer, so the consumer's span continues its trace.
pub const HEADER_TRACEPARENT: &str = "traceparent";
/// How many times handlers already failed on this message (absent = 0).
pub const HEADER_ATTEMPTS: &str = "x-prm-attempts";
/// Why a message was dead-lettered (set on messages in `<queue>.dlq`).
pub const HEADER_DEAD_LETTER_REASON: &str = "x-prm-dead-letter-reason";
/// Which consumer dead-lettered the message.
pub const HEADER_CONSUMER: &str = "x-prm-consumer";

/// A message as it goes to the broker. The body is the serialized envelope; keeping it as
/// bytes lets the outbox relay publish exactly what was committed.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// The envelope id (AMQP `message_id`).
    pub message_id: Uuid,
    /// `APPOINTMENT_CREATED`, … (AMQP `type`).
    pub event_type: String,
    pub routing_key: String,
    /// `application/json` envelope.
    pub body: Vec<u8>,
    pub traceparent: Option<String>,
}

impl OutgoingMessage {
    /// Serializes the envelope and captures the current span's trace context.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, BusError> {
        Ok(Self {
            message_id: envelope.id,
            event_type: envelope.event_type.clone(),
            routing_key: envelope.routing_key(),
            body: serde_json::to_vec(envelope)?,
            traceparent: crate::current_traceparent(),
        })
    }

    /// Replaces the trace context (the relay uses the one stored with the outbox row).
    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }
}

/// One event handed to a handler.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    /// The consumer name (without the test prefix), e.g. `prm.appointments.triage`.
    pub consumer: String,
    /// 1 on the first try; grows with each retry after a handler error.
    pub attempt: u32,
    /// The broker delivered this message before (a crash or lost ack): the handler may
    /// already have processed it.
    pub redelivered: bool,
}

/// A message a consumer gave up on, as found in `<queue>.dlq` (or the in-process list).
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub consumer: String,
    pub message_id: Option<String>,
    pub event_type: Option<String>,
    pub body: Vec<u8>,
    pub reason: String,
    /// Handler attempts made (0 when the body could not even be parsed).
    pub attempts: u32,
}

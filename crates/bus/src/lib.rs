//! Event bus of the PRM suite (ARCHITECTURE §3, §5 "Events").
//!
//! * [`EventBus`] is the port: publish an [`Envelope`] (or a raw [`OutgoingMessage`]), and
//!   [`subscribe`](EventBus::subscribe) a named consumer (`prm.<service>.<purpose>`) to
//!   routing keys with an [`EventHandler`].
//! * [`RabbitBus`] speaks AMQP 0.9.1 to RabbitMQ (topic exchange `prm.events`, one durable
//!   quorum queue per consumer, dead-letter exchange `prm.events.dlx`, publisher confirms,
//!   reconnection with exponential backoff).
//! * [`InProcessBus`] gives the same delivery contract inside one process (embedded mode);
//!   its publish is confirmed once the consumers finished with the message.
//! * [`Idempotent`] makes a database-backed handler process each event id once, recording
//!   it in its service's processed-events table in the handler's own transaction.
//! * [`OutboxRelay`] publishes one service's transactional outbox (`prm_store::outbox`)
//!   in order, and purges what it published once the retention is over.
//!
//! Delivery is at least once: a handler may see an event twice (after a crash, a lost ack
//! or a relay retry) and must be idempotent by `envelope.id`; [`Idempotent`] does that.

pub mod asyncapi;
mod config;
mod dispatch;
mod error;
mod handler;
mod idempotent;
mod memory;
mod message;
mod rabbit;
mod relay;
mod topic;
mod trace;

use std::sync::Arc;

pub use config::{Backoff, BusConfig, QueueType, RetryPolicy};
pub use error::{BusError, HandlerError};
pub use handler::{ConsumerHandle, EventHandler, FnHandler, Subscription, handler_fn};
pub use idempotent::{Idempotent, TransactionalHandler};
pub use memory::InProcessBus;
pub use message::{
    DeadLetter, Delivery, HEADER_ATTEMPTS, HEADER_CONSUMER, HEADER_DEAD_LETTER_REASON,
    HEADER_TRACEPARENT, OutgoingMessage,
};
pub use prm_domain::events::{Envelope, EventType};
pub use rabbit::RabbitBus;
pub use relay::{
    OUTBOX_RETENTION_HOURS, OutboxRelay, RelayConfig, RelayConfigError, RelayError, RelayHandle,
    RelayNotifier,
};
pub use topic::routing_key_matches;
pub use trace::current_traceparent;

/// The port: what services hold as `Arc<dyn EventBus>`.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// `rabbitmq` or `in-process`, for logs and readiness.
    fn backend(&self) -> &'static str;

    /// True while messages can be published (the broker connection is up).
    fn is_connected(&self) -> bool;

    /// Resolves once the bus is connected: at once while it is, else when the
    /// connection is back. The outbox relay waits on it during an outage, so that it
    /// resumes as soon as the broker returns instead of at the end of its backoff.
    async fn until_connected(&self) {}

    /// Publishes one message and waits until the broker confirmed it (persisted).
    /// Fails fast with [`BusError::Unavailable`] while the broker is unreachable: callers
    /// that must not lose the event write it to the outbox instead.
    async fn publish_message(&self, message: OutgoingMessage) -> Result<(), BusError>;

    /// Publishes `messages` in order and waits for their confirms. Returns how many, from
    /// the first, were confirmed; on failure the error tells which one failed first
    /// (the ones after it may or may not have reached the broker).
    async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        for (i, message) in messages.iter().enumerate() {
            self.publish_message(message.clone())
                .await
                .map_err(|e| (i, e))?;
        }
        Ok(messages.len())
    }

    /// Publishes an envelope, carrying the current tracing span as W3C `traceparent`.
    async fn publish(&self, envelope: &Envelope) -> Result<(), BusError> {
        self.publish_message(OutgoingMessage::from_envelope(envelope)?)
            .await
    }

    /// Starts a consumer: declares its queue (bound to the routing keys) and delivers
    /// every matching event to the handler, at least once, acknowledging only after the
    /// handler returned `Ok`.
    async fn subscribe(&self, subscription: Subscription) -> Result<ConsumerHandle, BusError>;

    /// Closes the bus for good, at shutdown after the consumers and relays stopped: the
    /// broker connection ends cleanly instead of being dropped with the process (which
    /// RabbitMQ logs as an error, and which a supervisor would try to reconnect).
    async fn close(&self) {}
}

/// Picks the adapter from configuration: `AMQP_URL` set → RabbitMQ, unset → in-process.
///
/// Does not wait for the broker. Producers write events to the outbox, so a broker that
/// is down when a service starts is survived like any later outage: the bus reconnects
/// by itself and the relay publishes what waited. A URL that cannot be parsed fails at
/// once. (Use [`RabbitBus::connect`] to wait for the first connection.)
pub fn from_config(
    amqp_url: Option<&str>,
    config: BusConfig,
) -> Result<Arc<dyn EventBus>, BusError> {
    match amqp_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => Ok(Arc::new(RabbitBus::start(url, config)?)),
        None => Ok(Arc::new(InProcessBus::new(config))),
    }
}

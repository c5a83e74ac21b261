//! The RabbitMQ adapter (lapin).
//!
//! Topology (names behind [`BusConfig::prefix`]):
//! * `prm.events` — topic exchange, durable; every event is published here with its
//!   routing key (`appointment.created`).
//! * `<consumer>` — one durable quorum queue per consumer name, bound to its routing keys,
//!   dead-lettering to `prm.events.dlx` with the queue name as routing key.
//! * `prm.events.dlx` — direct exchange; `<consumer>.dlq` is bound to it with the
//!   consumer's queue name.
//! * `<consumer>.retry` — durable quorum queue where a failed message waits out its
//!   backoff (per-message TTL) without taking one of the consumer's prefetch slots; when
//!   the TTL is over the broker dead-letters it (at least once) back to `<consumer>`
//!   through the default exchange.
//!
//! A supervisor task owns the connection: it connects, declares the exchanges, and when
//! the connection fails it reconnects with exponential backoff. Publishing while
//! disconnected fails at once ([`BusError::Unavailable`]) so the outbox relay retries;
//! consumers wait for the next connection and declare and consume again.
//!
//! * `connection`: the supervisor, the live connection and reconnection;
//! * `topology`: the exchanges and queues declared on the broker;
//! * `publish`: publishing with publisher confirms;
//! * `consume`: consumers, settling deliveries, reading dead letters;
//! * `headers`: AMQP header values.

mod connection;
mod consume;
mod headers;
mod publish;
mod topology;

use std::{sync::Arc, time::Duration};

use connection::{Shared, close_quietly, supervise};

use crate::{BusConfig, BusError, ConsumerHandle, EventBus, OutgoingMessage, Subscription};

#[derive(Clone)]
pub struct RabbitBus {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RabbitBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitBus")
            .field("prefix", &self.shared.config.prefix)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl RabbitBus {
    /// Starts the connection supervisor without waiting for the broker. Only a malformed
    /// URL is an error.
    pub fn start(amqp_url: &str, config: BusConfig) -> Result<Self, BusError> {
        amqp_url
            .parse::<lapin::uri::AMQPUri>()
            .map_err(BusError::InvalidUrl)?;
        let shared = Arc::new(Shared::new(config, amqp_url));
        tokio::spawn(supervise(shared.clone()));
        Ok(Self { shared })
    }

    /// Starts and waits up to `config.connect_timeout` for the first connection.
    pub async fn connect(amqp_url: &str, config: BusConfig) -> Result<Self, BusError> {
        let timeout = config.connect_timeout;
        let bus = Self::start(amqp_url, config)?;
        if bus.wait_connected(timeout).await {
            Ok(bus)
        } else {
            bus.close().await;
            Err(BusError::ConnectTimeout(timeout))
        }
    }

    /// Waits until connected; false after `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.live.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(Option::is_some))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn config(&self) -> &BusConfig {
        &self.shared.config
    }
}

#[async_trait::async_trait]
impl EventBus for RabbitBus {
    fn backend(&self) -> &'static str {
        "rabbitmq"
    }

    fn is_connected(&self) -> bool {
        self.shared
            .current()
            .is_some_and(|live| live.connection.status().connected())
    }

    async fn publish_message(&self, message: OutgoingMessage) -> Result<(), BusError> {
        self.publish_event(&message).await
    }

    async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        self.publish_events(messages).await
    }

    async fn until_connected(&self) {
        let mut live = self.shared.live.subscribe();
        // An error means the bus is gone: nothing to wait for any more.
        let _ = live.wait_for(Option::is_some).await;
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<ConsumerHandle, BusError> {
        self.start_consumer(subscription).await
    }

    /// Stops reconnecting and closes the connection. Consumers stop with it.
    async fn close(&self) {
        let _ = self.shared.stop.send(true);
        if let Some(live) = self.shared.live.send_replace(None) {
            close_quietly(&live).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_urls_are_rejected_before_connecting() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let err = RabbitBus::start("http://nope", BusConfig::default()).unwrap_err();
            assert!(matches!(err, BusError::InvalidUrl(_)), "{err}");
        });
    }
}

//! RabbitMQ seen from outside PRM, as journey orchestration sees it: connections, a
//! consumer of `prm.events` written directly on lapin, and removal of what a test
//! declared under its prefix.

use std::time::Duration;

use futures::StreamExt;
use lapin::{
    BasicProperties, Connection, ConnectionProperties, Consumer, ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
        QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};
use serde_json::Value;

/// An AMQP connection on the test's runtime (10 s to connect, else the test fails).
pub async fn connect(url: &str) -> Connection {
    tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(
            url,
            ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("connecting to RabbitMQ at {url} timed out"))
    .unwrap_or_else(|e| panic!("cannot connect to RabbitMQ at {url} ({e}); run `make services`"))
}

/// An outside consumer: an exclusive, auto-deleted queue bound to `<prefix>prm.events`
/// (declared here if the app has not yet) for `routing_key` (`appointment.*`).
pub struct EventTap {
    // Kept open for as long as the tap is: closing it deletes the queue.
    _connection: Connection,
    consumer: Consumer,
}

impl EventTap {
    pub async fn bind(prefix: &str, routing_key: &str) -> Self {
        let connection = connect(crate::require_rabbit().await).await;
        let channel = connection.create_channel().await.expect("channel");
        let exchange = format!("{prefix}prm.events");
        channel
            .exchange_declare(
                &exchange,
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the events exchange");
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the tap's queue");
        channel
            .queue_bind(
                queue.name().as_str(),
                &exchange,
                routing_key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the tap's queue");
        let consumer = channel
            .basic_consume(
                queue.name().as_str(),
                "journey-test",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        Self {
            _connection: connection,
            consumer,
        }
    }

    /// The next delivery, acknowledged, or `None` when none comes within `wait`.
    pub async fn next_delivery(&mut self, wait: Duration) -> Option<Delivery> {
        let delivery = tokio::time::timeout(wait, self.consumer.next())
            .await
            .ok()??
            .ok()?;
        delivery.ack(BasicAckOptions::default()).await.ok()?;
        Some(delivery)
    }

    /// The next event's AMQP properties and JSON body, or `None` within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<(BasicProperties, Value)> {
        let delivery = self.next_delivery(wait).await?;
        let body = serde_json::from_slice(&delivery.data).expect("an event is JSON");
        Some((delivery.properties, body))
    }
}

/// Deletes what a test declared under `prefix`: the queues of `consumers` (with their
/// retry and dead-letter queues) and the two exchanges. Errors are ignored: there may
/// be nothing to delete.
pub async fn delete_topology<S: AsRef<str>>(prefix: &str, consumers: &[S]) {
    let Ok(Ok(conn)) = tokio::time::timeout(
        Duration::from_secs(5),
        Connection::connect(
            crate::AMQP_URL,
            ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio),
        ),
    )
    .await
    else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        for consumer in consumers.iter().map(AsRef::as_ref) {
            for queue in [
                format!("{prefix}{consumer}"),
                format!("{prefix}{consumer}.dlq"),
                format!("{prefix}{consumer}.retry"),
            ] {
                let _ = channel
                    .queue_delete(&queue, QueueDeleteOptions::default())
                    .await;
            }
        }
        for exchange in ["prm.events", "prm.events.dlx"] {
            let _ = channel
                .exchange_delete(
                    &format!("{prefix}{exchange}"),
                    ExchangeDeleteOptions::default(),
                )
                .await;
        }
    }
    let _ = conn.close(200, "bye").await;
}

/// [`delete_topology`] from a `Drop`, which may run inside a test's runtime: on a
/// thread and runtime of its own, waiting for it.
pub fn delete_topology_blocking(prefix: String, consumers: Vec<String>) {
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(delete_topology(&prefix, &consumers));
    })
    .join();
}

/// Messages ready (not delivered, not unacked) in `queue`, from a passive declare.
pub async fn ready_messages(queue: &str) -> u32 {
    let conn = connect(crate::AMQP_URL).await;
    let channel = conn.create_channel().await.expect("channel");
    let declared = channel
        .queue_declare(
            queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue exists");
    let _ = conn.close(200, "bye").await;
    declared.message_count()
}

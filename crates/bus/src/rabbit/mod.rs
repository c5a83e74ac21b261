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

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::{StreamExt, future};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions,
        BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
        QueueBindOptions, QueueDeclareOptions,
    },
    publisher_confirm::{Confirmation, PublisherConfirm},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tokio::sync::{Notify, oneshot, watch};

use crate::{
    BusConfig, BusError, ConsumerHandle, DeadLetter, EventBus, HEADER_ATTEMPTS, HEADER_CONSUMER,
    HEADER_DEAD_LETTER_REASON, HEADER_TRACEPARENT, OutgoingMessage, Subscription,
    dispatch::{Consumer, Incoming, Outcome, dispatch},
    handler::stopped,
};

/// Safety net for messages whose handler crashes the process before any ack: after this
/// many broker redeliveries the quorum queue dead-letters them by itself.
const DELIVERY_LIMIT: i32 = 20;

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

struct Shared {
    config: BusConfig,
    uri: String,
    live: watch::Sender<Option<Arc<Live>>>,
    reconnect: Notify,
    stop: watch::Sender<bool>,
    generation: AtomicU64,
}

/// One established connection and its confirm-mode publishing channel.
struct Live {
    generation: u64,
    connection: Connection,
    publisher: Channel,
}

impl Shared {
    fn current(&self) -> Option<Arc<Live>> {
        self.live.borrow().clone()
    }

    /// Asks the supervisor to drop `generation` and reconnect (after a publish error that
    /// suggests the connection is dead). Stale requests are ignored.
    fn request_reconnect(&self, generation: u64) {
        if self
            .current()
            .is_some_and(|live| live.generation == generation)
        {
            self.reconnect.notify_one();
        }
    }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

impl RabbitBus {
    /// Starts the connection supervisor without waiting for the broker. Only a malformed
    /// URL is an error.
    pub fn start(amqp_url: &str, config: BusConfig) -> Result<Self, BusError> {
        amqp_url
            .parse::<lapin::uri::AMQPUri>()
            .map_err(BusError::InvalidUrl)?;
        let shared = Arc::new(Shared {
            config,
            uri: amqp_url.to_owned(),
            live: watch::channel(None).0,
            reconnect: Notify::new(),
            stop: watch::channel(false).0,
            generation: AtomicU64::new(0),
        });
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

    /// Stops reconnecting and closes the connection. Consumers stop with it.
    pub async fn close(&self) {
        let _ = self.shared.stop.send(true);
        if let Some(live) = self.shared.live.send_replace(None) {
            close_quietly(&live).await;
        }
    }

    /// Removes and returns up to `max` messages from `consumer`'s dead-letter queue
    /// (operations and tests; the messages are acknowledged, so gone from the queue).
    pub async fn take_dead_letters(
        &self,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        let live = self.shared.current().ok_or(BusError::Unavailable)?;
        let channel = live.connection.create_channel().await?;
        let queue = self.shared.config.dead_letter_queue(consumer);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(message) = channel
                .basic_get(&queue, BasicGetOptions::default())
                .await?
            else {
                break;
            };
            let headers = message
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default();
            out.push(DeadLetter {
                consumer: header_str(&headers, HEADER_CONSUMER)
                    .unwrap_or_else(|| consumer.to_owned()),
                message_id: message
                    .delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string()),
                event_type: message
                    .delivery
                    .properties
                    .kind()
                    .as_ref()
                    .map(|s| s.to_string()),
                body: message.delivery.data.clone(),
                reason: header_str(&headers, HEADER_DEAD_LETTER_REASON).unwrap_or_default(),
                attempts: header_u32(&headers, HEADER_ATTEMPTS),
            });
            message
                .delivery
                .acker
                .ack(BasicAckOptions::default())
                .await?;
        }
        let _ = channel.close(200, "done").await;
        Ok(out)
    }

    async fn confirm(&self, live: &Live, confirm: PublisherConfirm) -> Result<(), BusError> {
        match tokio::time::timeout(self.shared.config.confirm_timeout, confirm).await {
            Ok(Ok(Confirmation::Nack(_))) => Err(BusError::Nacked),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                self.shared.request_reconnect(live.generation);
                Err(error.into())
            }
            Err(_) => {
                self.shared.request_reconnect(live.generation);
                Err(BusError::ConfirmTimeout(self.shared.config.confirm_timeout))
            }
        }
    }

    async fn send(
        &self,
        live: &Live,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<PublisherConfirm, BusError> {
        live.publisher
            .basic_publish(
                exchange,
                routing_key,
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .map_err(|error| {
                self.shared.request_reconnect(live.generation);
                BusError::from(error)
            })
    }

    /// Publishes with confirm on the current connection (used for retries and dead letters).
    async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), BusError> {
        let live = self.shared.current().ok_or(BusError::Unavailable)?;
        let confirm = self
            .send(&live, exchange, routing_key, body, properties)
            .await?;
        self.confirm(&live, confirm).await
    }
}

fn properties(message: &OutgoingMessage) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = &message.traceparent {
        headers.insert(HEADER_TRACEPARENT.into(), long_string(traceparent));
    }
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    BasicProperties::default()
        .with_message_id(ShortString::from(message.message_id.to_string()))
        .with_type(ShortString::from(message.event_type.as_str()))
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_timestamp(now)
        .with_headers(headers)
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
        let live = self.shared.current().ok_or(BusError::Unavailable)?;
        let exchange = self.shared.config.exchange();
        let confirm = self
            .send(
                &live,
                &exchange,
                &message.routing_key,
                &message.body,
                properties(&message),
            )
            .await?;
        self.confirm(&live, confirm).await
    }

    async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        let live = self.shared.current().ok_or((0, BusError::Unavailable))?;
        let exchange = self.shared.config.exchange();
        // Send all, then await the confirms: one round trip per batch instead of per
        // message, and the channel keeps the order.
        let mut confirms = Vec::with_capacity(messages.len());
        let mut send_error = None;
        for message in messages {
            match self
                .send(
                    &live,
                    &exchange,
                    &message.routing_key,
                    &message.body,
                    properties(message),
                )
                .await
            {
                Ok(confirm) => confirms.push(confirm),
                Err(error) => {
                    send_error = Some(error);
                    break;
                }
            }
        }
        let sent = confirms.len();
        for (i, confirm) in confirms.into_iter().enumerate() {
            self.confirm(&live, confirm).await.map_err(|e| (i, e))?;
        }
        match send_error {
            Some(error) => Err((sent, error)),
            None => Ok(sent),
        }
    }

    async fn until_connected(&self) {
        let mut live = self.shared.live.subscribe();
        // An error means the bus is gone: nothing to wait for any more.
        let _ = live.wait_for(Option::is_some).await;
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<ConsumerHandle, BusError> {
        subscription.validate()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = oneshot::channel();
        let consumer = subscription.consumer.clone();
        let task = tokio::spawn(run_consumer(self.clone(), subscription, stop_rx, ready_tx));
        // Return once the queue is declared and bound, so that events published from now
        // on reach it. If the broker is away, the consumer declares it when it is back.
        if tokio::time::timeout(self.shared.config.connect_timeout, ready_rx)
            .await
            .is_err()
        {
            tracing::warn!(%consumer, "RabbitMQ unavailable; consumer will start when it is back");
        }
        Ok(ConsumerHandle::new(consumer, stop_tx, task))
    }
}

async fn close_quietly(live: &Live) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        live.connection.close(200, "closing"),
    )
    .await;
}

async fn open(shared: &Shared) -> Result<(Arc<Live>, Arc<Notify>), lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(LongString::from("prm-bus"));
    let connection = Connection::connect(&shared.uri, properties).await?;
    let lost = Arc::new(Notify::new());
    {
        let lost = lost.clone();
        connection.on_error(move |error| {
            tracing::warn!(%error, "RabbitMQ connection failed");
            lost.notify_one();
        });
    }
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let config = &shared.config;
    publisher
        .exchange_declare(
            &config.exchange(),
            ExchangeKind::Topic,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    publisher
        .exchange_declare(
            &config.dead_letter_exchange(),
            ExchangeKind::Direct,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
    Ok((
        Arc::new(Live {
            generation,
            connection,
            publisher,
        }),
        lost,
    ))
}

async fn supervise(shared: Arc<Shared>) {
    let stop = shared.stop.subscribe();
    let mut failures = 0u32;
    loop {
        let attempt = tokio::select! {
            _ = stopped(stop.clone()) => break,
            attempt = tokio::time::timeout(shared.config.connect_timeout, open(&shared)) => attempt,
        };
        match attempt {
            Ok(Ok((live, lost))) => {
                failures = 0;
                tracing::info!(generation = live.generation, "connected to RabbitMQ");
                shared.live.send_replace(Some(live.clone()));
                let stopping = tokio::select! {
                    _ = lost.notified() => false,
                    _ = shared.reconnect.notified() => false,
                    _ = stopped(stop.clone()) => true,
                };
                shared.live.send_replace(None);
                close_quietly(&live).await;
                if stopping {
                    break;
                }
                tracing::warn!(
                    generation = live.generation,
                    "RabbitMQ connection lost; reconnecting"
                );
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, attempt = failures + 1, "cannot connect to RabbitMQ");
                failures = failures.saturating_add(1);
            }
            Err(_) => {
                tracing::warn!(attempt = failures + 1, "connecting to RabbitMQ timed out");
                failures = failures.saturating_add(1);
            }
        }
        let delay = shared.config.reconnect.delay(failures);
        tokio::select! {
            _ = stopped(stop.clone()) => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    shared.live.send_replace(None);
}

enum Ended {
    Stopped,
    Interrupted,
}

async fn run_consumer(
    bus: RabbitBus,
    subscription: Subscription,
    stop: watch::Receiver<bool>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut live_rx = bus.shared.live.subscribe();
    let bus_stop = bus.shared.stop.subscribe();
    let mut failures = 0u32;
    loop {
        let live = tokio::select! {
            _ = stopped(stop.clone()) => return,
            _ = stopped(bus_stop.clone()) => return,
            live = live_rx.wait_for(Option::is_some) => match live {
                Ok(live) => live.clone(),
                Err(_) => return,
            },
        };
        let Some(live) = live else { continue };
        match consume(&bus, &live, &subscription, &stop, &mut ready).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Interrupted) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(consumer = %subscription.consumer, %error, "consumer setup failed; retrying");
            }
        }
        let delay = bus.shared.config.reconnect.delay(failures);
        tokio::select! {
            _ = stopped(stop.clone()) => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Declares the consumer's topology on `live` and consumes until the channel fails or the
/// consumer is stopped.
async fn consume(
    bus: &RabbitBus,
    live: &Live,
    subscription: &Subscription,
    stop: &watch::Receiver<bool>,
    ready: &mut Option<oneshot::Sender<()>>,
) -> Result<Ended, lapin::Error> {
    let config = &bus.shared.config;
    let queue = config.queue(&subscription.consumer);
    let dead_letter_queue = config.dead_letter_queue(&subscription.consumer);
    let retry_queue = config.retry_queue(&subscription.consumer);
    let channel = live.connection.create_channel().await?;
    channel
        .basic_qos(config.prefetch.max(1), BasicQosOptions::default())
        .await?;

    channel
        .queue_declare(&retry_queue, durable_queue(), retry_queue_arguments(&queue))
        .await?;

    let mut dlq_args = FieldTable::default();
    dlq_args.insert("x-queue-type".into(), long_string("quorum"));
    channel
        .queue_declare(&dead_letter_queue, durable_queue(), dlq_args)
        .await?;
    channel
        .queue_bind(
            &dead_letter_queue,
            &config.dead_letter_exchange(),
            &queue,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    channel
        .queue_declare(&queue, durable_queue(), queue_arguments(config, &queue))
        .await?;
    for key in &subscription.routing_keys {
        channel
            .queue_bind(
                &queue,
                &config.exchange(),
                key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }

    let tag = format!("{queue}.{}", uuid::Uuid::new_v4().simple());
    let deliveries = channel
        .basic_consume(
            &queue,
            &tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(consumer = %subscription.consumer, %queue, "consuming");

    let handler = subscription.handler.clone();
    let consumer_name = subscription.consumer.as_str();
    let queue_name = queue.as_str();
    deliveries
        .take_until(stopped(stop.clone()))
        .take_while(|item| {
            if let Err(error) = item {
                tracing::warn!(consumer = consumer_name, %error, "consumer interrupted");
            }
            future::ready(item.is_ok())
        })
        .filter_map(|item| future::ready(item.ok()))
        .for_each_concurrent(usize::from(config.prefetch.max(1)), |delivery| {
            let handler = handler.clone();
            async move {
                let consumer = Consumer {
                    name: consumer_name,
                    queue: queue_name,
                    backend: "rabbitmq",
                    handler: handler.as_ref(),
                    retry: &config.retry,
                };
                handle_delivery(bus, &consumer, delivery).await;
            }
        })
        .await;

    if *stop.borrow() {
        let _ = channel.close(200, "consumer stopped").await;
        Ok(Ended::Stopped)
    } else {
        let _ = channel.close(200, "reconnecting").await;
        Ok(Ended::Interrupted)
    }
}

/// The consumer queue's arguments: quorum, dead-lettering (delivery limit) to the DLX.
fn queue_arguments(config: &BusConfig, queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert(
        "x-dead-letter-exchange".into(),
        long_string(&config.dead_letter_exchange()),
    );
    args.insert("x-dead-letter-routing-key".into(), long_string(queue));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(DELIVERY_LIMIT),
    );
    args
}

/// The retry queue's arguments: quorum, and expired messages dead-lettered back to
/// `queue` through the default exchange. At-least-once dead-lettering (which needs
/// `reject-publish` overflow) so that no retry is lost between the two queues.
fn retry_queue_arguments(queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert("x-dead-letter-exchange".into(), long_string(""));
    args.insert("x-dead-letter-routing-key".into(), long_string(queue));
    args.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    args.insert("x-overflow".into(), long_string("reject-publish"));
    args
}

async fn handle_delivery(
    bus: &RabbitBus,
    consumer: &Consumer<'_>,
    delivery: lapin::message::Delivery,
) {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let traceparent = header_str(&headers, HEADER_TRACEPARENT);
    let incoming = Incoming {
        body: &delivery.data,
        traceparent: traceparent.as_deref(),
        prior_failures: header_u32(&headers, HEADER_ATTEMPTS),
        redelivered: delivery.redelivered,
    };
    let forwarded = match dispatch(consumer, incoming).await {
        Outcome::Ack => Ok(()),
        Outcome::Retry { failures, delay } => {
            let mut headers = headers.clone();
            headers.insert(
                HEADER_ATTEMPTS.into(),
                AMQPValue::LongInt(failures.min(i32::MAX as u32) as i32),
            );
            // At least 1 ms: an expiration of 0 would be dropped at once on some brokers.
            let ttl_ms = delay.as_millis().clamp(1, u128::from(u32::MAX));
            let properties = delivery
                .properties
                .clone()
                .with_headers(headers)
                .with_expiration(ShortString::from(ttl_ms.to_string()));
            // Through the default exchange to this consumer's retry queue: once the TTL is
            // over the broker moves the copy back to the end of this queue only (no other
            // consumer sees it again), and this delivery is acked now, so its prefetch
            // slot serves other events during the backoff.
            let retry_queue = format!("{}.retry", consumer.queue);
            bus.publish_raw("", &retry_queue, &delivery.data, properties)
                .await
        }
        Outcome::DeadLetter { reason, attempts } => {
            let mut headers = headers.clone();
            headers.insert(
                HEADER_DEAD_LETTER_REASON.into(),
                long_string(&truncate(&reason, 1024)),
            );
            headers.insert(
                HEADER_ATTEMPTS.into(),
                AMQPValue::LongInt(attempts.min(i32::MAX as u32) as i32),
            );
            headers.insert(HEADER_CONSUMER.into(), long_string(consumer.name));
            let properties = delivery.properties.clone().with_headers(headers);
            let dlx = bus.shared.config.dead_letter_exchange();
            bus.publish_raw(&dlx, consumer.queue, &delivery.data, properties)
                .await
        }
    };
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|s| s.to_string());
    let settled = match forwarded {
        Ok(()) => delivery.acker.ack(BasicAckOptions::default()).await,
        Err(error) => {
            // Could not park the retry or dead letter: let the broker redeliver it.
            tracing::warn!(consumer = consumer.name, message_id, %error, "could not forward the message; requeueing");
            delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(error) = settled {
        // The channel is gone; the broker redelivers the message on the next connection.
        tracing::warn!(consumer = consumer.name, message_id, %error, "could not acknowledge");
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn header_str(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn header_u32(headers: &FieldTable, name: &str) -> u32 {
    let value = match headers.inner().get(name) {
        Some(AMQPValue::ShortShortInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortShortUInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortUInt(v)) => i64::from(*v),
        Some(AMQPValue::LongInt(v)) => i64::from(*v),
        Some(AMQPValue::LongUInt(v)) => i64::from(*v),
        Some(AMQPValue::LongLongInt(v)) => *v,
        _ => 0,
    };
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_header_tolerates_any_integer_and_garbage() {
        let mut h = FieldTable::default();
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 0);
        h.insert(HEADER_ATTEMPTS.into(), AMQPValue::LongLongInt(3));
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 3);
        h.insert(HEADER_ATTEMPTS.into(), AMQPValue::LongInt(-4));
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 0);
        h.insert(HEADER_ATTEMPTS.into(), long_string("many"));
        assert_eq!(header_u32(&h, HEADER_ATTEMPTS), 0);
        assert_eq!(header_str(&h, HEADER_ATTEMPTS).as_deref(), Some("many"));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ñandú", 2), "ñ");
        assert_eq!(truncate("abc", 10), "abc");
    }

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

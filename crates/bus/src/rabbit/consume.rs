//! Consuming: one task per consumer declares its queues on every new connection,
//! consumes with the configured prefetch, and settles each delivery after its handler:
//! ack, a retry parked in the consumer's retry queue, or a dead letter. Also reads the
//! dead-letter queues for operations.

use futures::{StreamExt, future};
use lapin::{
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
};
use tokio::sync::{oneshot, watch};

use super::{
    RabbitBus,
    connection::Live,
    headers::{header_str, header_u32, long_string, truncate},
    topology,
};
use crate::{
    BusError, ConsumerHandle, DeadLetter, HEADER_ATTEMPTS, HEADER_CONSUMER,
    HEADER_DEAD_LETTER_REASON, HEADER_TRACEPARENT, Subscription,
    dispatch::{Consumer, Incoming, Outcome, dispatch},
    handler::stopped,
};

enum Ended {
    Stopped,
    Interrupted,
}

impl RabbitBus {
    /// Starts the consumer's task and returns once its queue is declared and bound, so
    /// that events published from then on reach it. If the broker is away, the consumer
    /// declares it when it is back.
    pub(super) async fn start_consumer(
        &self,
        subscription: Subscription,
    ) -> Result<ConsumerHandle, BusError> {
        subscription.validate()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = oneshot::channel();
        let consumer = subscription.consumer.clone();
        let task = tokio::spawn(run_consumer(self.clone(), subscription, stop_rx, ready_tx));
        if tokio::time::timeout(self.shared.config.connect_timeout, ready_rx)
            .await
            .is_err()
        {
            tracing::warn!(%consumer, "RabbitMQ unavailable; consumer will start when it is back");
        }
        Ok(ConsumerHandle::new(consumer, stop_tx, task))
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
}

/// Consumes on every connection the supervisor establishes, until stopped.
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
    let channel = live.connection.create_channel().await?;
    channel
        .basic_qos(config.prefetch.max(1), BasicQosOptions::default())
        .await?;
    topology::declare_consumer(
        &channel,
        config,
        &subscription.consumer,
        &subscription.routing_keys,
    )
    .await?;
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

/// Runs the handler on one delivery and settles it.
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

//! What the bus declares on the broker (see the module documentation of `rabbit` for
//! the names): the exchanges, and per consumer its queue, retry queue and dead-letter
//! queue with their bindings.

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable},
};

use super::headers::long_string;
use crate::{BusConfig, QueueType};

/// Safety net for messages whose handler crashes the process before any ack: after this
/// many broker redeliveries the quorum queue dead-letters them by itself.
const DELIVERY_LIMIT: i32 = 20;

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

/// The events' topic exchange and the dead-letter exchange.
pub(super) async fn declare_exchanges(
    channel: &Channel,
    config: &BusConfig,
) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            &config.exchange(),
            ExchangeKind::Topic,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            &config.dead_letter_exchange(),
            ExchangeKind::Direct,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
}

/// A consumer's retry queue, dead-letter queue (bound to the dead-letter exchange) and
/// queue (bound to its routing keys).
pub(super) async fn declare_consumer(
    channel: &Channel,
    config: &BusConfig,
    consumer: &str,
    routing_keys: &[String],
) -> Result<(), lapin::Error> {
    let queue = config.queue(consumer);
    let dead_letter_queue = config.dead_letter_queue(consumer);
    let retry_queue = config.retry_queue(consumer);

    channel
        .queue_declare(
            &retry_queue,
            durable_queue(),
            retry_queue_arguments(config, &queue),
        )
        .await?;

    let mut dlq_args = FieldTable::default();
    dlq_args.insert(
        "x-queue-type".into(),
        long_string(config.queue_type.as_str()),
    );
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
    for key in routing_keys {
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
    Ok(())
}

/// The consumer queue's arguments: quorum, dead-lettering (delivery limit) to the DLX.
/// A classic queue (tests) has no delivery limit.
fn queue_arguments(config: &BusConfig, queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        long_string(config.queue_type.as_str()),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        long_string(&config.dead_letter_exchange()),
    );
    args.insert("x-dead-letter-routing-key".into(), long_string(queue));
    if config.queue_type == QueueType::Quorum {
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(DELIVERY_LIMIT),
        );
    }
    args
}

/// The retry queue's arguments: quorum, and expired messages dead-lettered back to
/// `queue` through the default exchange. At-least-once dead-lettering (which needs
/// `reject-publish` overflow) so that no retry is lost between the two queues.
/// A classic queue (tests) dead-letters at most once.
fn retry_queue_arguments(config: &BusConfig, queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        long_string(config.queue_type.as_str()),
    );
    args.insert("x-dead-letter-exchange".into(), long_string(""));
    args.insert("x-dead-letter-routing-key".into(), long_string(queue));
    if config.queue_type == QueueType::Quorum {
        args.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
    }
    args.insert("x-overflow".into(), long_string("reject-publish"));
    args
}

//! Publishing with publisher confirms: a message counts as published once the broker
//! confirmed it (persisted). A send or confirm failure asks the supervisor for a new
//! connection, since the channel is then likely dead.

use lapin::{
    BasicProperties,
    options::BasicPublishOptions,
    publisher_confirm::{Confirmation, PublisherConfirm},
    types::{FieldTable, ShortString},
};

use super::{RabbitBus, connection::Live, headers::long_string};
use crate::{BusError, HEADER_TRACEPARENT, OutgoingMessage};

/// The AMQP properties of an event: id, type, persistence, time, trace context.
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

impl RabbitBus {
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
    pub(super) async fn publish_raw(
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

    /// One event to the events exchange, confirmed.
    pub(super) async fn publish_event(&self, message: &OutgoingMessage) -> Result<(), BusError> {
        let exchange = self.shared.config.exchange();
        self.publish_raw(
            &exchange,
            &message.routing_key,
            &message.body,
            properties(message),
        )
        .await
    }

    /// Events in order: all sent, then the confirms awaited (one round trip per batch
    /// instead of per message; the channel keeps the order). How many, from the first,
    /// were confirmed, or which one failed first.
    pub(super) async fn publish_events(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        let live = self.shared.current().ok_or((0, BusError::Unavailable))?;
        let exchange = self.shared.config.exchange();
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
}

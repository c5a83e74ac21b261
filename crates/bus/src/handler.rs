use std::{future::Future, sync::Arc};

use prm_domain::events::EventType;
use tokio::{sync::watch, task::JoinHandle};

use crate::{BusError, Delivery, HandlerError};

/// Processes one event. Return `Ok` only once the work is durable (committed): the
/// message is acknowledged right after, and never redelivered.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError>;
}

/// A handler from an async closure: `handler_fn(|delivery| async move { … Ok(()) })`.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    FnHandler(f)
}

pub struct FnHandler<F>(F);

#[async_trait::async_trait]
impl<F, Fut> EventHandler for FnHandler<F>
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        (self.0)(delivery.clone()).await
    }
}

/// A named consumer, the routing keys it listens to and its handler.
///
/// The name is the queue: every replica subscribing with the same name shares the work
/// (competing consumers); two different names each get every matching event.
#[derive(Clone)]
pub struct Subscription {
    pub consumer: String,
    /// Topic patterns (`appointment.created`, `appointment.*`, `#`).
    pub routing_keys: Vec<String>,
    pub handler: Arc<dyn EventHandler>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("consumer", &self.consumer)
            .field("routing_keys", &self.routing_keys)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub fn new<K: Into<String>>(
        consumer: impl Into<String>,
        routing_keys: impl IntoIterator<Item = K>,
        handler: impl EventHandler,
    ) -> Self {
        Self {
            consumer: consumer.into(),
            routing_keys: routing_keys.into_iter().map(Into::into).collect(),
            handler: Arc::new(handler),
        }
    }

    /// Subscribes to the routing keys of the given catalog events.
    pub fn to_events(
        consumer: impl Into<String>,
        events: impl IntoIterator<Item = EventType>,
        handler: impl EventHandler,
    ) -> Self {
        Self::new(
            consumer,
            events.into_iter().map(EventType::routing_key),
            handler,
        )
    }

    pub(crate) fn validate(&self) -> Result<(), BusError> {
        let name = &self.consumer;
        let words: Vec<&str> = name.split('.').collect();
        let valid_word = |w: &&str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        if words.len() >= 3 && words[0] == "prm" && words.iter().all(valid_word) {
            Ok(())
        } else {
            Err(BusError::InvalidConsumerName(name.clone()))
        }
    }
}

/// A running consumer. Keep it: dropping it stops the consumer (its stop signal goes
/// with it) without waiting; [`ConsumerHandle::shutdown`] stops it and waits for the
/// in-flight messages to finish and be acknowledged.
pub struct ConsumerHandle {
    consumer: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for ConsumerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerHandle")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl ConsumerHandle {
    pub(crate) fn new(consumer: String, stop: watch::Sender<bool>, task: JoinHandle<()>) -> Self {
        Self {
            consumer,
            stop,
            task,
        }
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Graceful stop: no new deliveries, in-flight handlers finish and are acknowledged.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(consumer = %self.consumer, %error, "consumer task ended abnormally");
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(name: &str) -> Subscription {
        Subscription::new(name, ["#"], handler_fn(|_| async { Ok(()) }))
    }

    #[test]
    fn consumer_names_follow_the_convention() {
        assert!(sub("prm.appointments.triage").validate().is_ok());
        assert!(sub("prm.journey-x.reminders_2").validate().is_ok());
        assert!(sub("prm.appointments").validate().is_err());
        assert!(sub("appointments.triage.x").validate().is_err());
        assert!(sub("prm..x").validate().is_err());
        assert!(sub("prm.Upper.x").validate().is_err());
        assert!(sub("prm.a b.x").validate().is_err());
    }
}

//! The in-process adapter (embedded mode, `AMQP_URL` unset): same contract as RabbitMQ —
//! topic routing, one queue per consumer name, at-least-once delivery, retries with
//! backoff, a dead-letter list — but held in memory, so events in flight are lost if the
//! process dies (the outbox keeps everything not yet handed to the bus).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::{
    sync::{Semaphore, mpsc, watch},
    task::JoinSet,
};

use crate::{
    BusConfig, BusError, ConsumerHandle, DeadLetter, EventBus, EventHandler, OutgoingMessage,
    Subscription,
    dispatch::{Consumer, Incoming, Outcome, dispatch},
    handler::stopped,
    routing_key_matches,
};

#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessBus")
            .field("prefix", &self.inner.config.prefix)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: BusConfig,
    queues: Mutex<HashMap<String, Arc<Queue>>>,
}

struct Queue {
    consumer: String,
    bindings: Mutex<Vec<String>>,
    tx: mpsc::UnboundedSender<Queued>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    dead: Mutex<Vec<DeadLetter>>,
}

#[derive(Clone)]
struct Queued {
    message: OutgoingMessage,
    failures: u32,
}

/// A poisoned lock only means another thread panicked mid-update of a plain list: the
/// data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl InProcessBus {
    pub fn new(config: BusConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                queues: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The messages `consumer` gave up on, oldest first.
    pub fn dead_letters(&self, consumer: &str) -> Vec<DeadLetter> {
        lock(&self.inner.queues)
            .get(consumer)
            .map(|q| lock(&q.dead).clone())
            .unwrap_or_default()
    }

    fn queue(&self, consumer: &str) -> Arc<Queue> {
        lock(&self.inner.queues)
            .entry(consumer.to_owned())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                Arc::new(Queue {
                    consumer: consumer.to_owned(),
                    bindings: Mutex::new(Vec::new()),
                    tx,
                    rx: tokio::sync::Mutex::new(rx),
                    dead: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }
}

#[async_trait::async_trait]
impl EventBus for InProcessBus {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    fn is_connected(&self) -> bool {
        true
    }

    async fn publish_message(&self, message: OutgoingMessage) -> Result<(), BusError> {
        let queues: Vec<Arc<Queue>> = lock(&self.inner.queues).values().cloned().collect();
        for queue in queues {
            let bound = lock(&queue.bindings)
                .iter()
                .any(|p| routing_key_matches(p, &message.routing_key));
            if bound {
                // The receiver lives as long as the queue, which lives as long as the bus.
                let _ = queue.tx.send(Queued {
                    message: message.clone(),
                    failures: 0,
                });
            }
        }
        Ok(())
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<ConsumerHandle, BusError> {
        subscription.validate()?;
        let queue = self.queue(&subscription.consumer);
        {
            let mut bindings = lock(&queue.bindings);
            for key in &subscription.routing_keys {
                if !bindings.contains(key) {
                    bindings.push(key.clone());
                }
            }
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let config = self.inner.config.clone();
        let task = tokio::spawn(run_consumer(queue, subscription.handler, config, stop_rx));
        Ok(ConsumerHandle::new(subscription.consumer, stop_tx, task))
    }
}

async fn run_consumer(
    queue: Arc<Queue>,
    handler: Arc<dyn EventHandler>,
    config: BusConfig,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(usize::from(config.prefetch.max(1))));
    let mut in_flight = JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            _ = stopped(stop.clone()) => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let next = tokio::select! {
            biased;
            _ = stopped(stop.clone()) => break,
            next = async { queue.rx.lock().await.recv().await } => next,
        };
        let Some(item) = next else { break };
        let (queue, handler, config) = (queue.clone(), handler.clone(), config.clone());
        in_flight.spawn(async move {
            process(&queue, handler.as_ref(), &config, item).await;
            drop(permit);
        });
        while in_flight.try_join_next().is_some() {}
    }
    // Graceful: let the handlers already running finish.
    while in_flight.join_next().await.is_some() {}
}

async fn process(queue: &Arc<Queue>, handler: &dyn EventHandler, config: &BusConfig, item: Queued) {
    let consumer = Consumer {
        name: &queue.consumer,
        queue: &queue.consumer,
        backend: "in-process",
        handler,
        retry: &config.retry,
    };
    let incoming = Incoming {
        body: &item.message.body,
        traceparent: item.message.traceparent.as_deref(),
        prior_failures: item.failures,
        redelivered: false,
    };
    match dispatch(&consumer, incoming).await {
        Outcome::Ack => {}
        Outcome::Retry { failures, delay } => {
            let tx = queue.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Queued { failures, ..item });
            });
        }
        Outcome::DeadLetter { reason, attempts } => {
            lock(&queue.dead).push(DeadLetter {
                consumer: queue.consumer.clone(),
                message_id: Some(item.message.message_id.to_string()),
                event_type: Some(item.message.event_type.clone()),
                body: item.message.body,
                reason,
                attempts,
            });
        }
    }
}

//! The in-process adapter (embedded mode, `AMQP_URL` unset): same contract as RabbitMQ —
//! topic routing, one queue per consumer name, at-least-once delivery, retries with
//! backoff, a dead-letter list — but held in memory.
//!
//! Memory does not survive a crash, so a publish is *confirmed* only once every consumer
//! subscribed to a matching queue has finished with the message: handled, or
//! dead-lettered after its retries. Until then the outbox relay keeps the row, and a
//! crash in between republishes it on restart instead of losing it. A queue whose
//! consumers have all stopped still takes the message (a later subscriber gets it) but
//! has nobody to wait for; a consumer that stops while a publish waits for it fails that
//! publish ([`BusError::ConsumerStopped`]), so the row stays in the outbox.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use futures::future::join_all;
use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
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
    confirms: Mutex<Confirms>,
}

/// The publishers waiting for this queue's consumers, and who consumes.
#[derive(Default)]
struct Confirms {
    /// Running consumers of the queue.
    active: usize,
    next: u64,
    /// Publisher confirms still owed, by delivery id.
    waiting: HashMap<u64, oneshot::Sender<()>>,
}

#[derive(Clone)]
struct Queued {
    message: OutgoingMessage,
    failures: u32,
    /// Key of the publisher's confirm in [`Confirms::waiting`] (none: nobody waits).
    delivery: Option<u64>,
}

/// A poisoned lock only means another thread panicked mid-update of a plain list: the
/// data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Queue {
    /// Queues `message`; the receiver resolves once a consumer finished with it, or is
    /// `None` when the queue has no running consumer to wait for.
    fn push(&self, message: OutgoingMessage) -> Option<oneshot::Receiver<()>> {
        // Under the lock, so that a consumer stopping now either sees this confirm (and
        // fails it) or is not counted.
        let mut confirms = lock(&self.confirms);
        let (delivery, receiver) = if confirms.active > 0 {
            let id = confirms.next;
            confirms.next += 1;
            let (tx, rx) = oneshot::channel();
            confirms.waiting.insert(id, tx);
            (Some(id), Some(rx))
        } else {
            (None, None)
        };
        // The receiver lives as long as the queue, which lives as long as the bus.
        let _ = self.tx.send(Queued {
            message,
            failures: 0,
            delivery,
        });
        receiver
    }

    /// The consumer is done with the message: confirm it to its publisher.
    fn finished(&self, delivery: Option<u64>) {
        if let Some(sender) = delivery.and_then(|id| lock(&self.confirms).waiting.remove(&id)) {
            let _ = sender.send(());
        }
    }

    fn consumer_started(&self) {
        lock(&self.confirms).active += 1;
    }

    /// When the last consumer stops, publishers still waiting are told their message was
    /// not processed (dropping the senders fails their receivers). The messages stay
    /// queued for a later subscriber.
    fn consumer_stopped(&self) {
        let mut confirms = lock(&self.confirms);
        confirms.active = confirms.active.saturating_sub(1);
        if confirms.active == 0 {
            confirms.waiting.clear();
        }
    }
}

/// Counts a running consumer for as long as it lives, however its task ends.
struct Running(Arc<Queue>);

impl Running {
    fn new(queue: Arc<Queue>) -> Self {
        queue.consumer_started();
        Self(queue)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.consumer_stopped();
    }
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
                    confirms: Mutex::new(Confirms::default()),
                })
            })
            .clone()
    }

    /// Routes `message` to every bound queue; the returned future resolves when all of
    /// their running consumers finished with it.
    fn route(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<(), BusError>> + use<> {
        let queues: Vec<Arc<Queue>> = lock(&self.inner.queues).values().cloned().collect();
        let mut waits = Vec::new();
        for queue in queues {
            let bound = lock(&queue.bindings)
                .iter()
                .any(|p| routing_key_matches(p, &message.routing_key));
            if bound && let Some(confirm) = queue.push(message.clone()) {
                waits.push((queue.consumer.clone(), confirm));
            }
        }
        async move {
            for (consumer, confirm) in waits {
                confirm
                    .await
                    .map_err(|_| BusError::ConsumerStopped(consumer))?;
            }
            Ok(())
        }
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
        self.route(&message).await
    }

    /// Routes every message at once (consumers work on them concurrently, up to their
    /// prefetch), then waits for the confirms in order.
    async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<usize, (usize, BusError)> {
        let confirms: Vec<_> = messages.iter().map(|m| self.route(m)).collect();
        for (i, result) in join_all(confirms).await.into_iter().enumerate() {
            result.map_err(|e| (i, e))?;
        }
        Ok(messages.len())
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
        // Counted from now, so that what is published after `subscribe` returns waits for it.
        let running = Running::new(queue);
        let task = tokio::spawn(run_consumer(running, subscription.handler, config, stop_rx));
        Ok(ConsumerHandle::new(subscription.consumer, stop_tx, task))
    }
}

async fn run_consumer(
    running: Running,
    handler: Arc<dyn EventHandler>,
    config: BusConfig,
    stop: watch::Receiver<bool>,
) {
    let queue = running.0.clone();
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
    // Graceful: let the handlers already running finish (and confirm).
    while in_flight.join_next().await.is_some() {}
    drop(running);
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
        Outcome::Ack => queue.finished(item.delivery),
        Outcome::Retry { failures, delay } => {
            // The slot is free during the backoff; the publisher keeps waiting.
            let tx = queue.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Queued { failures, ..item });
            });
        }
        Outcome::DeadLetter { reason, attempts } => {
            let delivery = item.delivery;
            lock(&queue.dead).push(DeadLetter {
                consumer: queue.consumer.clone(),
                message_id: Some(item.message.message_id.to_string()),
                event_type: Some(item.message.event_type.clone()),
                body: item.message.body,
                reason,
                attempts,
            });
            queue.finished(delivery);
        }
    }
}

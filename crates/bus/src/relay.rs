//! The outbox relay: publishes committed outbox rows in order, with confirms.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use prm_store::outbox::{self, PendingEvent};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};
use uuid::Uuid;

use crate::{Backoff, BusError, EventBus, OutgoingMessage, handler::stopped};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows per transaction (and per confirm round trip).
    pub batch_size: u64,
    /// How often to look for rows when nobody calls [`RelayNotifier::notify`] (other
    /// processes' commits, or rows left by a crash).
    pub poll_interval: Duration,
    /// Between attempts while the broker or the database is away.
    pub backoff: Backoff,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_millis(500),
            backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(30),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox database error: {0}")]
    Db(#[from] DbErr),
    #[error("publishing outbox event {event_id} failed: {source}")]
    Publish { event_id: Uuid, source: BusError },
}

/// Wakes the relay right after a commit that wrote to the outbox, instead of waiting
/// for the next poll. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RelayNotifier(Arc<Notify>);

impl RelayNotifier {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Publishes the outbox table of one database through a bus.
///
/// ```ignore
/// let relay = OutboxRelay::new(db.clone(), bus.clone(), RelayConfig::default());
/// let wake = relay.notifier();          // give to producers: wake.notify() after commit
/// let handle = relay.spawn();           // … handle.shutdown().await on exit
/// ```
#[derive(Clone)]
pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    config: RelayConfig,
    notifier: RelayNotifier,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The running relay task.
#[derive(Debug)]
pub struct RelayHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RelayHandle {
    /// Stops after the batch in progress (its rows are marked or left for next time).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "outbox relay task ended abnormally");
        }
    }
}

impl OutboxRelay {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn EventBus>, config: RelayConfig) -> Self {
        Self {
            db,
            bus,
            config,
            notifier: RelayNotifier::default(),
        }
    }

    pub fn notifier(&self) -> RelayNotifier {
        self.notifier.clone()
    }

    /// Publishes one batch: claims unpublished rows (in a transaction holding their
    /// locks), publishes them in order, waits for the confirms, marks the confirmed ones
    /// published and commits. Returns how many were published. A publish failure marks
    /// the confirmed prefix, records the error on the first unconfirmed row and returns
    /// the error; the rest stays for the next attempt.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let txn = self.db.begin().await?;
        let Some(batch) = outbox::claim_batch(&txn, self.config.batch_size).await? else {
            // Another replica's relay owns the outbox right now.
            txn.rollback().await?;
            return Ok(0);
        };
        if batch.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        let messages: Vec<OutgoingMessage> = batch.iter().map(message_of).collect();
        let (published, failure) = match self.bus.publish_batch(&messages).await {
            Ok(n) => (n, None),
            Err((n, error)) => (n, Some(error)),
        };
        let seqs: Vec<i64> = batch.iter().take(published).map(|e| e.seq).collect();
        outbox::mark_published(&txn, &seqs, Utc::now()).await?;
        let failed = failure.and_then(|error| batch.get(published).map(|event| (event, error)));
        if let Some((event, error)) = &failed {
            outbox::record_failure(&txn, event.seq, &error.to_string()).await?;
        }
        txn.commit().await?;
        if published > 0 {
            tracing::debug!(published, "outbox events published");
        }
        match failed {
            Some((event, source)) => Err(RelayError::Publish {
                event_id: event.event_id,
                source,
            }),
            None => Ok(published),
        }
    }

    /// Runs [`relay_once`](Self::relay_once) until shut down: straight again while batches
    /// come back full, else after a notification or the poll interval; with exponential
    /// backoff while the broker or the database fails.
    pub fn spawn(self) -> RelayHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move { self.run(stop_rx).await });
        RelayHandle {
            stop: stop_tx,
            task,
        }
    }

    async fn run(self, stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            let wait = match self.relay_once().await {
                Ok(n) if n as u64 >= self.config.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    None
                }
                Err(error) => {
                    let delay = self.config.backoff.delay(failures);
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "outbox relay failed; backing off");
                    Some(delay)
                }
            };
            let notified = self.notifier.0.notified();
            tokio::select! {
                _ = stopped(stop.clone()) => break,
                _ = tokio::time::sleep(wait.unwrap_or(self.config.poll_interval)) => {}
                _ = notified, if wait.is_none() => {}
            }
        }
    }
}

fn message_of(event: &PendingEvent) -> OutgoingMessage {
    OutgoingMessage {
        message_id: event.event_id,
        event_type: event.event_type.clone(),
        routing_key: event.routing_key.clone(),
        body: event.payload.clone().into_bytes(),
        traceparent: event.traceparent.clone(),
    }
}

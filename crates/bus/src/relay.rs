//! The outbox relay: publishes one service's committed outbox rows in order, with
//! confirms, and purges the rows it published once their retention is over.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
pub use prm_store::outbox::RelayNotifier;
use prm_store::outbox::{Outbox, PendingEvent, RelayLease};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};
use tokio::{sync::watch, task::JoinHandle, time::Instant};
use uuid::Uuid;

use crate::{Backoff, BusError, EventBus, OutgoingMessage, handler::stopped};

/// How often the relay measures its backlog for the metrics.
const BACKLOG_GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// The environment variable of [`RelayConfig::retention`], in hours.
pub const OUTBOX_RETENTION_HOURS: &str = "OUTBOX_RETENTION_HOURS";

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows per transaction (and per confirm round trip).
    pub batch_size: u64,
    /// How often to look for rows when nobody calls [`RelayNotifier::notify`] (other
    /// processes' commits, or rows left by a crash).
    pub poll_interval: Duration,
    /// Between attempts while the database fails or the broker refuses. While the
    /// broker is unreachable the relay also wakes as soon as the bus reconnects.
    pub backoff: Backoff,
    /// Published rows older than this are deleted (`OUTBOX_RETENTION_HOURS`, default
    /// 7 days, at least 1). Unpublished rows are never deleted.
    pub retention: Duration,
    /// How often the purge runs (and once at start).
    pub purge_interval: Duration,
    /// SQLite only: how long a claimed batch keeps other relays on the same file out
    /// without renewal; renewed every third of it while a publish is in progress. After
    /// a crash mid-batch, another relay takes over once it has run out.
    pub lease: Duration,
    /// How long the relay waits after a notification before claiming, so that commits
    /// arriving together go out in one batch. Without it a busy service pays one relay
    /// transaction per event (doubling the database's work per request); a few
    /// milliseconds of publish delay buy batches of dozens.
    pub linger: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_millis(500),
            backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
            retention: Duration::from_secs(7 * 24 * 3600),
            purge_interval: Duration::from_secs(3600),
            lease: Duration::from_secs(30),
            linger: Duration::from_millis(5),
        }
    }
}

/// A relay setting that could not be read; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct RelayConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl RelayConfig {
    /// The defaults, with `OUTBOX_RETENTION_HOURS` from the environment (a binary's
    /// `.env` is loaded into it by `prm_platform::Settings::from_env`).
    pub fn from_env() -> Result<Self, RelayConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RelayConfigError> {
        let mut config = Self::default();
        if let Some(raw) = lookup(OUTBOX_RETENTION_HOURS).filter(|v| !v.trim().is_empty()) {
            let hours: u64 = raw.trim().parse().map_err(|_| RelayConfigError {
                variable: OUTBOX_RETENTION_HOURS,
                message: format!("`{raw}` is not a whole number of hours"),
            })?;
            // At least a day: webhooks' unique event ids in its outbox are what drops a
            // provider's late retry of a status callback once Redis forgot it (24 h).
            if !(24..=24 * 366 * 10).contains(&hours) {
                return Err(RelayConfigError {
                    variable: OUTBOX_RETENTION_HOURS,
                    message: format!("{hours} is out of range (24 to 87840 hours)"),
                });
            }
            config.retention = Duration::from_secs(hours * 3600);
        }
        Ok(config)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox database error: {0}")]
    Db(#[from] DbErr),
    #[error("publishing outbox event {event_id} failed: {source}")]
    Publish { event_id: Uuid, source: BusError },
}

impl RelayError {
    /// The broker is unreachable (not merely slow or refusing).
    fn is_broker_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Publish {
                source: BusError::Unavailable,
                ..
            }
        )
    }
}

/// Publishes one service's outbox table through a bus. Run one per outbox: the
/// all-in-one binary runs one for every service it hosts.
///
/// ```ignore
/// let relay = OutboxRelay::new(db.clone(), bus.clone(), Outbox::APPOINTMENTS, RelayConfig::default());
/// let wake = relay.notifier();          // give to producers: wake.notify() after commit
/// let handle = relay.spawn();           // … handle.shutdown().await on exit
/// ```
#[derive(Clone)]
pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    outbox: Outbox,
    config: RelayConfig,
    notifier: RelayNotifier,
    /// This relay's name in SQLite leases.
    holder: String,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("outbox", &self.outbox.table())
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
    pub fn new(
        db: DatabaseConnection,
        bus: Arc<dyn EventBus>,
        outbox: Outbox,
        config: RelayConfig,
    ) -> Self {
        Self {
            db,
            bus,
            outbox,
            config,
            notifier: RelayNotifier::default(),
            holder: format!("pid{}-{}", std::process::id(), Uuid::new_v4().simple()),
        }
    }

    pub fn notifier(&self) -> RelayNotifier {
        self.notifier.clone()
    }

    pub fn outbox(&self) -> Outbox {
        self.outbox
    }

    fn lease(&self) -> RelayLease<'_> {
        RelayLease {
            holder: &self.holder,
            duration: self.config.lease,
        }
    }

    /// Publishes one batch: claims the oldest unpublished rows (one relay at a time per
    /// outbox), publishes them in order, waits for the confirms, marks the confirmed ones
    /// published. Returns how many were published. A publish failure marks the confirmed
    /// prefix, records the error on the first unconfirmed row and returns the error; the
    /// rest stays for the next attempt.
    ///
    /// PostgreSQL: all of it in one transaction, which holds the outbox's advisory lock
    /// and the rows' locks. SQLite: a short claiming transaction that takes the write
    /// lock and a lease, the publish outside any transaction (SQLite has one writer, and
    /// the in-process bus confirms only once handlers — which write — are done), then a
    /// short transaction that marks the rows and releases the lease.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        // A cheap look first: idle relays take no locks and write nothing.
        if !self.outbox.has_unpublished(&self.db).await? {
            return Ok(0);
        }
        if self.db.get_database_backend() == DbBackend::Postgres {
            self.relay_in_one_transaction().await
        } else {
            self.relay_under_lease().await
        }
    }

    async fn relay_in_one_transaction(&self) -> Result<usize, RelayError> {
        let txn = self.db.begin().await?;
        let Some(batch) = self
            .outbox
            .claim_batch(&txn, &self.lease(), self.config.batch_size)
            .await?
        else {
            // Another replica's relay owns the outbox right now.
            txn.rollback().await?;
            return Ok(0);
        };
        if batch.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        let messages: Vec<OutgoingMessage> = batch.iter().map(message_of).collect();
        let result = self.bus.publish_batch(&messages).await;
        let outcome = self.record(&txn, &batch, result).await?;
        txn.commit().await?;
        outcome.finish(self.outbox)
    }

    async fn relay_under_lease(&self) -> Result<usize, RelayError> {
        let lease = self.lease();
        let txn = self.db.begin().await?;
        let Some(batch) = self
            .outbox
            .claim_batch(&txn, &lease, self.config.batch_size)
            .await?
        else {
            txn.rollback().await?;
            return Ok(0);
        };
        if batch.is_empty() {
            self.outbox.release_relay(&txn, &self.holder).await?;
            txn.commit().await?;
            return Ok(0);
        }
        txn.commit().await?;

        let messages: Vec<OutgoingMessage> = batch.iter().map(message_of).collect();
        let result = self.publish_renewing(&messages, &lease).await;

        let txn = self.db.begin().await?;
        // First statement: takes the write lock, and tells whether the lease held.
        if !self.outbox.renew_relay(&txn, &lease).await? {
            tracing::warn!(
                outbox = self.outbox.table(),
                "the relay lease ran out during a publish; another relay may have published the same events (consumers absorb duplicates)"
            );
        }
        let outcome = self.record(&txn, &batch, result).await?;
        self.outbox.release_relay(&txn, &self.holder).await?;
        txn.commit().await?;
        outcome.finish(self.outbox)
    }

    /// Publishes the batch, renewing the SQLite lease while the confirms take time.
    async fn publish_renewing(
        &self,
        messages: &[OutgoingMessage],
        lease: &RelayLease<'_>,
    ) -> Result<usize, (usize, BusError)> {
        let publish = self.bus.publish_batch(messages);
        let mut publish = std::pin::pin!(publish);
        let period = (lease.duration / 3).max(Duration::from_millis(10));
        let mut renew = tokio::time::interval_at(Instant::now() + period, period);
        loop {
            tokio::select! {
                result = &mut publish => return result,
                _ = renew.tick() => match self.outbox.renew_relay(&self.db, lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(outbox = self.outbox.table(), "relay lease lost during a publish"),
                    Err(error) => tracing::warn!(outbox = self.outbox.table(), %error, "could not renew the relay lease"),
                },
            }
        }
    }

    /// Marks the confirmed prefix and records the first failure, in `txn`.
    async fn record<'b>(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        batch: &'b [PendingEvent],
        result: Result<usize, (usize, BusError)>,
    ) -> Result<BatchOutcome<'b>, DbErr> {
        let (published, failure) = match result {
            Ok(n) => (n, None),
            Err((n, error)) => (n, Some(error)),
        };
        let seqs: Vec<i64> = batch.iter().take(published).map(|e| e.seq).collect();
        self.outbox.mark_published(txn, &seqs, Utc::now()).await?;
        let failed = failure.and_then(|error| batch.get(published).map(|event| (event, error)));
        if let Some((event, error)) = &failed {
            self.outbox
                .record_failure(txn, event.seq, &error.to_string())
                .await?;
        }
        Ok(BatchOutcome { published, failed })
    }

    /// Deletes the published rows older than the retention; returns how many.
    pub async fn purge_once(&self) -> Result<u64, RelayError> {
        let Some(before) = chrono::Duration::from_std(self.config.retention)
            .ok()
            .and_then(|retention| Utc::now().checked_sub_signed(retention))
        else {
            return Ok(0);
        };
        let purged = self.outbox.purge_published(&self.db, before).await?;
        if purged > 0 {
            tracing::info!(
                outbox = self.outbox.table(),
                purged,
                "purged published outbox rows past their retention"
            );
        }
        Ok(purged)
    }

    /// Runs [`relay_once`](Self::relay_once) until shut down: straight again while batches
    /// come back full, else after a notification or the poll interval; with exponential
    /// backoff while the broker or the database fails, cut short when the broker comes
    /// back. Purges every `purge_interval`.
    pub fn spawn(self) -> RelayHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move { self.run(stop_rx).await });
        RelayHandle {
            stop: stop_tx,
            task,
        }
    }

    /// `prm_outbox_backlog` and `prm_outbox_oldest_age_seconds` of this outbox.
    async fn record_backlog(&self) {
        let table = self.outbox.table();
        match self.outbox.backlog(&self.db).await {
            Ok((count, oldest)) => {
                let age = oldest
                    .and_then(|at| (Utc::now() - at).to_std().ok())
                    .map_or(0.0, |d| d.as_secs_f64());
                metrics::gauge!("prm_outbox_backlog", "outbox" => table).set(count as f64);
                metrics::gauge!("prm_outbox_oldest_age_seconds", "outbox" => table).set(age);
            }
            Err(error) => {
                tracing::debug!(outbox = table, %error, "could not measure the outbox backlog");
            }
        }
    }

    async fn run(self, stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        let mut next_purge = Instant::now();
        let mut next_gauge = Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if Instant::now() >= next_gauge {
                self.record_backlog().await;
                next_gauge = Instant::now() + BACKLOG_GAUGE_INTERVAL;
            }
            if Instant::now() >= next_purge {
                if let Err(error) = self.purge_once().await {
                    tracing::warn!(outbox = self.outbox.table(), %error, "outbox purge failed; will try again");
                }
                next_purge = Instant::now() + self.config.purge_interval;
            }
            let (delay, broker_away) = match self.relay_once().await {
                Ok(n) if n as u64 >= self.config.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    (None, false)
                }
                Err(error) => {
                    let delay = self.config.backoff.delay(failures);
                    failures = failures.saturating_add(1);
                    tracing::warn!(outbox = self.outbox.table(), %error, retry_in_ms = delay.as_millis() as u64, "outbox relay failed; backing off");
                    (Some(delay), error.is_broker_unreachable())
                }
            };
            let wait = delay
                .unwrap_or(self.config.poll_interval)
                .min(next_purge.saturating_duration_since(Instant::now()));
            let notified = self.notifier.notified();
            tokio::select! {
                _ = stopped(stop.clone()) => break,
                _ = tokio::time::sleep(wait) => {}
                _ = notified, if delay.is_none() => {
                    if !self.config.linger.is_zero() {
                        tokio::select! {
                            _ = stopped(stop.clone()) => break,
                            _ = tokio::time::sleep(self.config.linger) => {}
                        }
                    }
                }
                _ = self.bus.until_connected(), if broker_away => {
                    tracing::info!(outbox = self.outbox.table(), "event bus reconnected; relaying");
                }
            }
        }
    }
}

/// What a published batch came to.
struct BatchOutcome<'b> {
    published: usize,
    failed: Option<(&'b PendingEvent, BusError)>,
}

impl BatchOutcome<'_> {
    fn finish(self, outbox: Outbox) -> Result<usize, RelayError> {
        if self.published > 0 {
            tracing::debug!(
                outbox = outbox.table(),
                published = self.published,
                "outbox events published"
            );
        }
        match self.failed {
            Some((event, source)) => Err(RelayError::Publish {
                event_id: event.event_id,
                source,
            }),
            None => Ok(self.published),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn retention_defaults_to_a_week_and_is_read_in_hours() {
        let default = RelayConfig::from_lookup(vars(&[])).unwrap();
        assert_eq!(default.retention, Duration::from_secs(168 * 3600));
        let set = RelayConfig::from_lookup(vars(&[(OUTBOX_RETENTION_HOURS, " 24 ")])).unwrap();
        assert_eq!(set.retention, Duration::from_secs(24 * 3600));
        let blank = RelayConfig::from_lookup(vars(&[(OUTBOX_RETENTION_HOURS, "")])).unwrap();
        assert_eq!(blank.retention, default.retention);
    }

    #[test]
    fn a_bad_retention_names_the_variable() {
        for bad in ["0", "23", "-3", "1.5", "a week", "999999"] {
            let err =
                RelayConfig::from_lookup(vars(&[(OUTBOX_RETENTION_HOURS, bad)])).expect_err(bad);
            assert_eq!(err.variable, OUTBOX_RETENTION_HOURS);
            assert!(
                err.to_string().starts_with("OUTBOX_RETENTION_HOURS: "),
                "{err}"
            );
        }
    }
}

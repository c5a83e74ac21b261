//! One way to change data and announce it: [`Store::write`] runs a unit of work in a
//! transaction, writes the events it announced to the producer's outbox in the same
//! transaction (with the W3C trace context of the caller), commits, and wakes the relay.
//!
//! ```ignore
//! let appointment = store
//!     .write(&producer, |tx| {
//!         Box::pin(async move {
//!             let appointment = tx.insert_appointment(&new).await?;
//!             tx.announce(events::created(&appointment, &parties));
//!             Ok(appointment)
//!         })
//!     })
//!     .await
//!     .map_err(api_error)?;
//! ```
//!
//! The work is a closure returning a boxed future (`|tx| Box::pin(async move { … })`)
//! rather than an async closure: the future of an async closure cannot yet be proven
//! `Send` where a higher-ranked borrow is involved, and consumers and background tasks
//! run on `tokio::spawn`. It may borrow anything of its caller (`&new` above); values
//! it owns it must borrow too (`let event = &event;` before the closure), since it may
//! run more than once.
//!
//! # When the work runs again
//! A transaction is all or nothing, so one that failed before COMMIT left nothing
//! behind, and running it again is safe. `write` does so, up to three more times, when:
//! * the connection was lost (failover, restart, terminated session, dropped proxy
//!   connection), at BEGIN, in the work, or while writing the events;
//! * the database aborted it for a concurrent one (`Conflict::Transient`: PostgreSQL
//!   deadlock or serialization failure, SQLite busy);
//! * COMMIT itself was refused for either reason (PostgreSQL reports serialization
//!   failures of serializable transactions there; nothing was saved).
//!
//! It never runs again after a COMMIT that lost its connection: the server may have
//! committed, and a second run would write twice. That failure is
//! `StoreError::Unavailable` with [`StoreError::is_outcome_unknown`]; a client that
//! sends the request again with the same idempotency key (booking key, provider message
//! id, derived event id) gets the one write, whichever way COMMIT went.
//!
//! So the work must do nothing but database work through its [`Tx`], which is new on
//! every run, and must not keep anything from a run that failed (captured state it
//! mutates, messages it sends). Reads it needs from outside the transaction come
//! before `write`: with SQLite's single connection, a read on the pool inside the work
//! would wait for the transaction that waits for it.

use std::{future::Future, marker::PhantomData, pin::Pin, sync::Mutex};

use prm_domain::events::Envelope;
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};

use crate::{
    Conflict, Store, StoreError,
    error::is_connection_lost,
    outbox::{Producer, current_traceparent},
    pool::RETRY_DELAYS,
};

/// A transaction in progress, as the work of [`Store::write`] sees it: the repositories'
/// transactional operations are its methods, and [`Tx::announce`] adds an event that
/// commits with them. `'a` is what the work borrows from its caller.
pub struct Tx<'a> {
    txn: DatabaseTransaction,
    announced: Mutex<Vec<Envelope>>,
    /// Why an operation of this transaction failed, when running the work again could
    /// succeed.
    retry: Mutex<Option<Retry>>,
    /// Lets the work's future borrow from the caller for as long as it borrows the Tx
    /// (`&'t Tx<'a>` implies `'a: 't`).
    scope: PhantomData<&'a ()>,
}

/// The future of one run of a unit of work (see [`Store::write`]).
pub type Work<'t, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 't>>;

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

/// A failure after which the work may run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    ConnectionLost,
    Transient,
}

impl Retry {
    fn of(error: &StoreError) -> Option<Self> {
        match error {
            // Inside a transaction nothing waits for the pool: unavailable means lost.
            StoreError::Unavailable(_) => Some(Self::ConnectionLost),
            StoreError::Conflict(Conflict::Transient) => Some(Self::Transient),
            _ => None,
        }
    }
}

impl Tx<'_> {
    fn new(txn: DatabaseTransaction) -> Self {
        Self {
            txn,
            announced: Mutex::new(Vec::new()),
            retry: Mutex::new(None),
            scope: PhantomData,
        }
    }

    /// Adds an event announcing this transaction's change: it is written to the
    /// producer's outbox just before COMMIT, so it is published if and only if the change
    /// is saved. Events go out in the order they were announced.
    pub fn announce(&self, event: Envelope) {
        self.announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }

    /// The transaction, for the repositories.
    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Converts a repository's result, remembering a failure after which the work may
    /// run again (every transactional repository operation passes its result through).
    pub(crate) fn check<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(error) = &result
            && let Some(retry) = Retry::of(error)
        {
            *self
                .retry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(retry);
        }
        result
    }

    /// As [`check`](Self::check), for a sea-orm result.
    pub(crate) fn db<T>(&self, result: Result<T, DbErr>) -> Result<T, StoreError> {
        self.check(result.map_err(StoreError::from))
    }

    fn into_parts(self) -> (DatabaseTransaction, Vec<Envelope>, Option<Retry>) {
        let announced = self
            .announced
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let retry = self
            .retry
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (self.txn, announced, retry)
    }
}

/// How one run of the work ended.
enum Run<T, E> {
    Committed(T, usize),
    Failed(E),
    Again(Retry, String),
}

impl Store {
    /// Runs `work` in a transaction, writes the events it announced ([`Tx::announce`])
    /// to `producer`'s outbox in the same transaction, commits, and wakes the
    /// producer's relay. Returns what `work` returned.
    ///
    /// When `work` fails, nothing is saved and its error is returned. The work runs
    /// again, on a new transaction, when its run failed on a lost connection or a
    /// transient conflict before COMMIT (see the module documentation for the rules,
    /// and what the work may and may not do).
    pub async fn write<'a, T, E>(
        &self,
        producer: &Producer,
        work: impl for<'t> FnMut(&'t Tx<'a>) -> Work<'t, T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let traceparent = current_traceparent();
        let (value, events) = self
            .run_transaction(Some((producer, traceparent)), work)
            .await?;
        if events > 0 {
            producer.wake_relay();
        }
        Ok(value)
    }

    /// A transaction without events, for the store's own multi-statement writes: runs
    /// again under the rules of [`Store::write`].
    pub(crate) async fn transaction<'a, T>(
        &self,
        work: impl for<'t> FnMut(&'t Tx<'a>) -> Work<'t, T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run_transaction(None, work)
            .await
            .map(|(value, _)| value)
    }

    async fn run_transaction<'a, T, E>(
        &self,
        outbox: Option<(&Producer, Option<String>)>,
        mut work: impl for<'t> FnMut(&'t Tx<'a>) -> Work<'t, T, E>,
    ) -> Result<(T, usize), E>
    where
        E: From<StoreError>,
    {
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let (retry, why) = match self.run_once(outbox.as_ref(), &mut work).await {
                Run::Committed(value, events) => return Ok((value, events)),
                Run::Failed(error) => return Err(error),
                Run::Again(retry, why) => (retry, why),
            };
            if retry == Retry::ConnectionLost {
                self.health.connection_lost();
            }
            let Some(delay) = delays.next() else {
                tracing::warn!(?retry, error = %why, "a transaction failed on every attempt");
                return Err(E::from(match retry {
                    Retry::ConnectionLost => StoreError::Unavailable(DbErr::Custom(why)),
                    Retry::Transient => StoreError::Conflict(Conflict::Transient),
                }));
            };
            tracing::info!(?retry, error = %why, "a transaction failed before COMMIT; running it again");
            tokio::time::sleep(*delay).await;
        }
    }

    async fn run_once<'a, T, E>(
        &self,
        outbox: Option<&(&Producer, Option<String>)>,
        work: &mut impl for<'t> FnMut(&'t Tx<'a>) -> Work<'t, T, E>,
    ) -> Run<T, E>
    where
        E: From<StoreError>,
    {
        let txn = match self.db.begin().await {
            Ok(txn) => txn,
            Err(e) if is_connection_lost(&e) => {
                return Run::Again(Retry::ConnectionLost, e.to_string());
            }
            Err(e) => return Run::Failed(E::from(StoreError::from(e))),
        };
        let tx: Tx<'a> = Tx::new(txn);
        let outcome = work(&tx).await;
        let (txn, announced, retry) = tx.into_parts();
        let value = match outcome {
            Ok(value) => value,
            Err(error) => {
                // Roll back now rather than on drop: a rollback that fails on a lost
                // connection tells that the work failed because of it, whatever error
                // the work made of that.
                let lost = match txn.rollback().await {
                    Err(e) if is_connection_lost(&e) => Some(e.to_string()),
                    _ => None,
                };
                return match (retry, lost) {
                    (_, Some(why)) => Run::Again(Retry::ConnectionLost, why),
                    (Some(retry), None) => Run::Again(retry, "the work failed".to_owned()),
                    (None, None) => Run::Failed(error),
                };
            }
        };
        let events = announced.len();
        if events > 0 {
            let Some((producer, traceparent)) = outbox else {
                return Run::Failed(E::from(StoreError::Corrupt(
                    "events were announced in a transaction that has no outbox".to_owned(),
                )));
            };
            if let Err(e) = producer
                .outbox()
                .enqueue_all(&txn, &announced, traceparent.clone())
                .await
            {
                let error = StoreError::from(e);
                return match Retry::of(&error) {
                    Some(retry) => Run::Again(retry, error.to_string()),
                    None => Run::Failed(E::from(error)),
                };
            }
        }
        match txn.commit().await {
            Ok(()) => Run::Committed(value, events),
            // The server may have committed before the connection went: unknown.
            Err(e) if is_connection_lost(&e) => {
                Run::Failed(E::from(StoreError::outcome_unknown(&e)))
            }
            // Refused at COMMIT (a serialization failure): rolled back, safe to run again.
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(Conflict::Transient) => {
                    Run::Again(Retry::Transient, "refused at COMMIT".to_owned())
                }
                other => Run::Failed(E::from(other)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    //! The rules of `Store::write`, on the backend of `PRM_TEST_DATABASE`. A lost
    //! connection is simulated by a repository failure that says so; the PostgreSQL
    //! tests in `tests/lost_connections.rs` lose real ones.

    #![allow(clippy::unwrap_used)] // tests fail loudly on purpose

    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::{TimeZone, Utc};
    use futures::FutureExt;
    use prm_domain::{
        AppointmentStatus, Location, Patient, PhoneNumber, Practitioner,
        events::{AppointmentCreated, EventData},
    };
    use sea_orm::{RuntimeErr, sqlx};
    use uuid::Uuid;

    use super::*;
    use crate::{
        NewAppointment,
        outbox::{Outbox, RelayNotifier},
        testing::fresh_store,
    };

    fn lost_connection() -> StoreError {
        StoreError::from(DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Io(
            std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ),
        ))))
    }

    async fn booking(store: &Store) -> NewAppointment {
        let location = store
            .insert_location(&Location {
                id: Uuid::now_v7(),
                name: "Sede Norte".into(),
                timezone: "America/Bogota".parse().unwrap(),
                address: None,
                city: None,
                phone: None,
            })
            .await
            .unwrap();
        let practitioner = store
            .insert_practitioner(&Practitioner {
                id: Uuid::now_v7(),
                name: "Dr. Ana Gómez".into(),
                specialty: "Cardiology".into(),
                phone: None,
                active: true,
            })
            .await
            .unwrap();
        let patient = store
            .insert_patient(&Patient {
                id: Uuid::now_v7(),
                name: "María Pérez".into(),
                phone: PhoneNumber::parse("3001234567", "57").unwrap(),
                birth_date: None,
                locale: None,
            })
            .await
            .unwrap();
        let start = Utc.with_ymd_and_hms(2027, 3, 1, 14, 0, 0).unwrap();
        NewAppointment {
            id: Uuid::now_v7(),
            status: AppointmentStatus::Booked,
            start,
            end: start + chrono::Duration::minutes(30),
            patient_id: patient.id,
            practitioner_id: practitioner.id,
            location_id: location.id,
            conversation_id: None,
            channel: None,
            reason: None,
            notes: None,
            booking_key: None,
            created_at: chrono::Utc::now(),
        }
    }

    fn created() -> Envelope {
        Envelope::new("appointments", AppointmentCreated::example())
    }

    async fn outbox_ids(store: &Store) -> Vec<Uuid> {
        Outbox::APPOINTMENTS
            .unpublished(store.connection(), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect()
    }

    #[tokio::test]
    async fn the_change_and_its_events_commit_together_and_wake_the_relay() {
        let store = fresh_store().await;
        let new = &booking(&store).await;
        let relay = RelayNotifier::default();
        let producer = Producer::new(Outbox::APPOINTMENTS, Some(relay.clone()));
        let (first, second) = (&created(), &created());
        let booked = store
            .write(&producer, |tx| {
                Box::pin(async move {
                    let booked = tx.insert_appointment(new).await?;
                    tx.announce(first.clone());
                    tx.announce(second.clone());
                    Ok::<_, StoreError>(booked)
                })
            })
            .await
            .unwrap();
        assert_eq!(store.get_appointment(new.id).await.unwrap(), booked);
        assert_eq!(outbox_ids(&store).await, [first.id, second.id], "in order");
        assert!(relay.notified().now_or_never().is_some());
    }

    #[tokio::test]
    async fn work_that_fails_saves_nothing_runs_once_and_wakes_nobody() {
        let store = fresh_store().await;
        let new = &booking(&store).await;
        let relay = RelayNotifier::default();
        let producer = Producer::new(Outbox::APPOINTMENTS, Some(relay.clone()));
        let runs = &AtomicUsize::new(0);
        let refused = store
            .write(&producer, |tx| {
                Box::pin(async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tx.insert_appointment(new).await?;
                    tx.announce(created());
                    Err::<(), _>(StoreError::NotFound("practitioner"))
                })
            })
            .await;
        assert!(matches!(refused, Err(StoreError::NotFound("practitioner"))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(matches!(
            store.get_appointment(new.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(outbox_ids(&store).await.is_empty());
        assert!(relay.notified().now_or_never().is_none());
    }

    #[tokio::test]
    async fn a_run_that_lost_its_connection_runs_again_and_keeps_nothing_of_the_first() {
        let store = fresh_store().await;
        let new = &booking(&store).await;
        let producer = Producer::new(Outbox::APPOINTMENTS, None);
        let runs = &AtomicUsize::new(0);
        let (abandoned, kept) = (&created(), &created());
        store
            .write(&producer, |tx| {
                Box::pin(async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    tx.insert_appointment(new).await?;
                    if run == 1 {
                        tx.announce(abandoned.clone());
                        return tx.check(Err(lost_connection()));
                    }
                    tx.announce(kept.clone());
                    Ok(())
                })
            })
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(store.get_appointment(new.id).await.unwrap().id, new.id);
        assert_eq!(outbox_ids(&store).await, [kept.id]);
    }

    #[tokio::test]
    async fn a_transient_conflict_runs_again() {
        let store = fresh_store().await;
        let new = &booking(&store).await;
        let producer = Producer::new(Outbox::APPOINTMENTS, None);
        let runs = &AtomicUsize::new(0);
        store
            .write(&producer, |tx| {
                Box::pin(async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        return tx.check(Err(StoreError::Conflict(Conflict::Transient)));
                    }
                    tx.insert_appointment(new).await
                })
            })
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_lost_on_every_run_is_unavailable_after_four() {
        let store = fresh_store().await;
        let producer = Producer::new(Outbox::APPOINTMENTS, None);
        let runs = &AtomicUsize::new(0);
        let result = store
            .write(&producer, |tx| {
                Box::pin(async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tx.check(Err::<(), _>(lost_connection()))
                })
            })
            .await;
        let error = result.unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(!error.is_outcome_unknown(), "nothing reached COMMIT");
        assert_eq!(runs.load(Ordering::SeqCst), 1 + RETRY_DELAYS.len());
    }

    #[tokio::test]
    async fn a_write_can_run_on_a_spawned_task() {
        let store = fresh_store().await;
        let new = booking(&store).await;
        let producer = Producer::new(Outbox::APPOINTMENTS, None);
        let task = tokio::spawn(async move {
            let new = &new;
            store
                .write(&producer, |tx| {
                    Box::pin(async move { tx.insert_appointment(new).await })
                })
                .await
        });
        assert!(task.await.unwrap().is_ok());
    }
}

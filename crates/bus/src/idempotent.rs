//! Idempotent consumers: each event id is processed once per consumer, however often the
//! broker delivers it.

use prm_store::outbox::ProcessedEvents;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

use crate::{Delivery, EventHandler, HandlerError};

/// A handler whose work is one database transaction.
#[async_trait::async_trait]
pub trait TransactionalHandler: Send + Sync + 'static {
    /// Does the work in `txn`. Do not commit: [`Idempotent`] commits after recording the
    /// event id in the same transaction.
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        delivery: &Delivery,
    ) -> Result<(), HandlerError>;
}

/// Wraps a [`TransactionalHandler`]: begins a transaction, records `(consumer, event id)`
/// in the owning service's processed-events table, runs the handler and commits both
/// together. A redelivered event finds its id recorded and is acknowledged without
/// running the handler again; a failed handler rolls the record back, so the retry runs
/// it again.
pub struct Idempotent<H> {
    db: DatabaseConnection,
    processed: ProcessedEvents,
    handler: H,
}

impl<H: TransactionalHandler> Idempotent<H> {
    /// `processed` is the table of the service whose data the handler changes (the
    /// record must commit in the same database transaction as that change).
    pub fn new(db: DatabaseConnection, processed: ProcessedEvents, handler: H) -> Self {
        Self {
            db,
            processed,
            handler,
        }
    }
}

#[async_trait::async_trait]
impl<H: TransactionalHandler> EventHandler for Idempotent<H> {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let txn = self.db.begin().await?;
        let id = delivery.envelope.id;
        if !self.processed.record(&txn, &delivery.consumer, id).await? {
            tracing::debug!(consumer = %delivery.consumer, event_id = %id, "event already processed; skipping");
            txn.rollback().await?;
            return Ok(());
        }
        // On error the transaction is dropped, which rolls it back.
        self.handler.handle(&txn, delivery).await?;
        txn.commit().await?;
        Ok(())
    }
}

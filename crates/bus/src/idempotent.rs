//! Idempotent consumers: each event id is processed once per consumer, however often the
//! broker delivers it.

use prm_store::outbox;
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
/// in `processed_events`, runs the handler and commits both together. A redelivered
/// event finds its id recorded and is acknowledged without running the handler again; a
/// failed handler rolls the record back, so the retry runs it again.
pub struct Idempotent<H> {
    db: DatabaseConnection,
    handler: H,
}

impl<H: TransactionalHandler> Idempotent<H> {
    pub fn new(db: DatabaseConnection, handler: H) -> Self {
        Self { db, handler }
    }
}

#[async_trait::async_trait]
impl<H: TransactionalHandler> EventHandler for Idempotent<H> {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let txn = self.db.begin().await?;
        let id = delivery.envelope.id;
        if !outbox::record_processed(&txn, &delivery.consumer, id).await? {
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

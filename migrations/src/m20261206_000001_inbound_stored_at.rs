//! `inbound_messages.stored_at`: when the row was written, by our clock.
//!
//! The sweep that publishes voice-note events left pending by an interrupted
//! transcription judged a row's age by `received_at`, which is the provider's time of
//! the message: a Meta delivery retried an hour late, or any Meta voice note under a
//! test clock, looked abandoned the moment it was stored, so its event went out without
//! the transcription that was still running. Rows written before this column existed
//! (or by an older replica during a rolling update) keep `stored_at` null and are
//! judged by `received_at`, as before.
//!
//! A partial index over the rows still waiting for their event keeps the sweep, which
//! runs every minute, from reading the whole table. Both engines support partial
//! indexes with this syntax.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboundMessages {
    Table,
    StoredAt,
}

const PENDING_INDEX: &str = "inbound_messages_pending";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("inbound_messages", "stored_at").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(InboundMessages::Table)
                        .add_column(
                            ColumnDef::new(InboundMessages::StoredAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS {PENDING_INDEX} ON inbound_messages (stored_at) \
             WHERE event_id IS NULL"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {PENDING_INDEX}"))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(InboundMessages::Table)
                    .drop_column(InboundMessages::StoredAt)
                    .to_owned(),
            )
            .await
    }
}

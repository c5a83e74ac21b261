//! Inbound provider messages (owned by the webhooks service): the final guard
//! that each provider message id is processed once.
//!
//! * `UNIQUE (provider, provider_message_id)`: a Twilio `MessageSid`, Meta `wamid…` or
//!   voice-agent `call_id` can be stored once, whatever the Redis marker said (Redis may
//!   be down, flushed or the marker expired).
//! * `event_id` is the MESSAGE_RECEIVED written to the outbox for the row; it stays null
//!   while a voice note is being transcribed, with the event's data (minus the
//!   transcription) kept in `pending_event` so that a restart can still publish it.
//!
//! Ids are stored as text (36-character UUIDs) so both engines compare them alike.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboundMessages {
    Table,
    Id,
    Provider,
    ProviderMessageId,
    Channel,
    FromNumber,
    ToNumber,
    ReceivedAt,
    EventId,
    PendingEvent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InboundMessages::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(InboundMessages::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::Provider)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::ProviderMessageId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::Channel)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::FromNumber)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::ToNumber)
                            .string_len(16)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InboundMessages::EventId)
                            .string_len(36)
                            .null(),
                    )
                    .col(ColumnDef::new(InboundMessages::PendingEvent).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("uq_inbound_messages_provider_message")
                    .table(InboundMessages::Table)
                    .col(InboundMessages::Provider)
                    .col(InboundMessages::ProviderMessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Only rows still waiting for their event (voice notes being transcribed); the
        // recovery sweep scans these. Same syntax on both engines.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_inbound_messages_pending ON inbound_messages (received_at) WHERE event_id IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(InboundMessages::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

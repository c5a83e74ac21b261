//! Conversations and their messages (owned by the conversations service), and the
//! outboxes of conversations and n8n-callbacks.
//!
//! * `conversations`: one row per conversation. At most one conversation per phone is
//!   not `closed`: a partial unique index says so on both engines, so two messages from
//!   one phone at the same instant can never open two. `journey` holds the booking
//!   journey's state (intake answers, triage, the offer) as JSON: Redis only caches it;
//!   `awaiting_until` is when a turn handed to n8n is answered by the built-in rules.
//! * `messages`: every message in and out. An inbound message is stored once per
//!   webhooks message id (`inbound_message_id`), an outbound one once per requester's id
//!   (`id`, e.g. MESSAGE_SEND_REQUESTED's `message_id`); `dispatch` is our side of sending
//!   (`pending` → `sending` → `done`), `delivery_status` the provider's.
//! * `delivery_reports`: a provider's status report that arrived before the send's own
//!   answer told us which message it is about; applied when the answer comes.

use sea_orm_migration::prelude::*;

use crate::m20261201_000001_outbox_per_owner::{create_outbox, create_processed};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    Phone,
    PatientId,
    Channel,
    Status,
    Stage,
    Locale,
    BotPaused,
    Assignee,
    ReplyProvider,
    Journey,
    AwaitingUntil,
    LastInboundAt,
    LastMessageAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    Seq,
    ConversationId,
    Direction,
    Author,
    Channel,
    Provider,
    Body,
    Media,
    Transcription,
    Purpose,
    InboundMessageId,
    ProviderMessageId,
    Dispatch,
    DeliveryStatus,
    ErrorCode,
    SendAttempts,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DeliveryReports {
    Table,
    Provider,
    ProviderMessageId,
    Status,
    ErrorCode,
    ReportedAt,
}

/// The owners whose outbox and processed-events tables this migration adds.
const OWNERS: [&str; 2] = ["conversations", "n8n_callbacks"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Conversations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Phone)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Conversations::PatientId).uuid().null())
                    .col(
                        ColumnDef::new(Conversations::Channel)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Stage)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Locale)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::BotPaused)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Conversations::Assignee)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::ReplyProvider)
                            .string_len(16)
                            .null(),
                    )
                    .col(ColumnDef::new(Conversations::Journey).text().null())
                    // When the turn handed to n8n falls back to the built-in rules.
                    .col(
                        ColumnDef::new(Conversations::AwaitingUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::LastInboundAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::LastMessageAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Partial indexes: the same syntax on PostgreSQL and SQLite.
        for statement in [
            "CREATE UNIQUE INDEX IF NOT EXISTS conversations_one_open_per_phone \
             ON conversations (phone) WHERE status <> 'closed'",
            "CREATE INDEX IF NOT EXISTS idx_conversations_last_message_at \
             ON conversations (last_message_at)",
            "CREATE INDEX IF NOT EXISTS idx_conversations_updated_at ON conversations (updated_at)",
            "CREATE INDEX IF NOT EXISTS idx_conversations_patient_id ON conversations (patient_id)",
            "CREATE INDEX IF NOT EXISTS idx_conversations_awaiting \
             ON conversations (awaiting_until) WHERE awaiting_until IS NOT NULL",
        ] {
            db.execute_unprepared(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    // Insertion order, for oldest-first pages and sending in order.
                    .col(
                        ColumnDef::new(Messages::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Messages::Id).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Messages::ConversationId).uuid().not_null())
                    .col(ColumnDef::new(Messages::Direction).string_len(8).not_null())
                    .col(ColumnDef::new(Messages::Author).string_len(8).not_null())
                    .col(ColumnDef::new(Messages::Channel).string_len(16).not_null())
                    .col(ColumnDef::new(Messages::Provider).string_len(16).not_null())
                    .col(ColumnDef::new(Messages::Body).text().not_null())
                    .col(
                        ColumnDef::new(Messages::Media)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .col(ColumnDef::new(Messages::Transcription).text().null())
                    .col(ColumnDef::new(Messages::Purpose).string_len(64).null())
                    .col(ColumnDef::new(Messages::InboundMessageId).uuid().null())
                    .col(
                        ColumnDef::new(Messages::ProviderMessageId)
                            .string_len(255)
                            .null(),
                    )
                    .col(ColumnDef::new(Messages::Dispatch).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Messages::DeliveryStatus)
                            .string_len(16)
                            .null(),
                    )
                    .col(ColumnDef::new(Messages::ErrorCode).string_len(64).null())
                    .col(
                        ColumnDef::new(Messages::SendAttempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Messages::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Messages::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Messages::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_messages_conversation")
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for statement in [
            "CREATE UNIQUE INDEX IF NOT EXISTS messages_inbound_once \
             ON messages (inbound_message_id) WHERE inbound_message_id IS NOT NULL",
            "CREATE UNIQUE INDEX IF NOT EXISTS messages_provider_id \
             ON messages (provider, provider_message_id) WHERE provider_message_id IS NOT NULL",
            "CREATE INDEX IF NOT EXISTS idx_messages_conversation_seq ON messages (conversation_id, seq)",
            "CREATE INDEX IF NOT EXISTS idx_messages_undispatched \
             ON messages (next_attempt_at) WHERE dispatch IN ('pending', 'sending')",
            "CREATE INDEX IF NOT EXISTS idx_messages_updated_at ON messages (updated_at)",
        ] {
            db.execute_unprepared(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(DeliveryReports::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DeliveryReports::Provider)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryReports::ProviderMessageId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryReports::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryReports::ErrorCode)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryReports::ReportedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_delivery_reports")
                            .col(DeliveryReports::Provider)
                            .col(DeliveryReports::ProviderMessageId)
                            .col(DeliveryReports::Status),
                    )
                    .to_owned(),
            )
            .await?;

        for owner in OWNERS {
            let outbox = format!("{owner}_outbox");
            create_outbox(manager, &outbox).await?;
            create_processed(manager, &format!("{owner}_processed_events")).await?;
            db.execute_unprepared(&format!(
                "INSERT INTO outbox_relay_locks (outbox_table, holder, lease_until_ms) \
                 VALUES ('{outbox}', NULL, 0) ON CONFLICT (outbox_table) DO NOTHING"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for owner in OWNERS {
            for table in [
                format!("{owner}_outbox"),
                format!("{owner}_processed_events"),
            ] {
                manager
                    .drop_table(
                        Table::drop()
                            .table(Alias::new(table))
                            .if_exists()
                            .to_owned(),
                    )
                    .await?;
            }
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "DELETE FROM outbox_relay_locks WHERE outbox_table = '{owner}_outbox'"
                ))
                .await?;
        }
        for table in [
            DeliveryReports::Table.to_string(),
            Messages::Table.to_string(),
            Conversations::Table.to_string(),
        ] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

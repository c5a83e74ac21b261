//! One outbox and one processed-events table per owning service (ARCHITECTURE §4:
//! "the outbox table is per owner"), replacing the shared `outbox` and `processed_events`.
//!
//! * `<service>_outbox` (`appointments_outbox`, `webhooks_outbox`): the events a service
//!   wrote in the transaction of its change; only that service's relay publishes them.
//! * `<service>_processed_events`: (consumer, event id) pairs that service's consumers
//!   committed, so a redelivered event is skipped.
//! * `outbox_relay_locks`: one row per outbox table. On SQLite, which has no advisory
//!   locks, a relay's claim starts by writing its lease into this row: that takes
//!   SQLite's write lock first (the claim is IMMEDIATE in effect) and keeps every other
//!   relay on the same file out until the lease is released or runs out. PostgreSQL
//!   relays use an advisory lock derived from the table name instead (the table exists
//!   there too, unused, so both engines share one schema).
//!
//! Every row of the old tables is carried over, unpublished ones stay unpublished, with
//! their `seq` (publication order) kept: an outbox row goes to the table of the service
//! named by its envelope's `source` (`webhooks` → `webhooks_outbox`, anything else —
//! only `appointments` wrote to it — → `appointments_outbox`); a processed event goes by
//! its consumer name (`prm.webhooks.…` → `webhooks_processed_events`, else appointments).
//! Published rows are kept too: webhooks relies on the unique `event_id` of its past
//! events to drop repeated status callbacks.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The owning services, with the `source` / consumer-name word that identifies them.
const OWNERS: [&str; 2] = ["appointments", "webhooks"];

#[derive(DeriveIden)]
enum Outbox {
    Seq,
    EventId,
    EventType,
    RoutingKey,
    Payload,
    Headers,
    CreatedAt,
    PublishedAt,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Consumer,
    EventId,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum OutboxRelayLocks {
    Table,
    OutboxTable,
    Holder,
    LeaseUntilMs,
}

fn outbox_table(owner: &str) -> String {
    format!("{owner}_outbox")
}

fn processed_table(owner: &str) -> String {
    format!("{owner}_processed_events")
}

pub(crate) async fn create_outbox(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new(table))
                .if_not_exists()
                // BIGSERIAL on PostgreSQL, INTEGER PRIMARY KEY AUTOINCREMENT on SQLite.
                .col(
                    ColumnDef::new(Outbox::Seq)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Outbox::EventId)
                        .string_len(36)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Outbox::EventType).string_len(100).not_null())
                .col(
                    ColumnDef::new(Outbox::RoutingKey)
                        .string_len(255)
                        .not_null(),
                )
                .col(ColumnDef::new(Outbox::Payload).text().not_null())
                .col(
                    ColumnDef::new(Outbox::Headers)
                        .text()
                        .not_null()
                        .default("{}"),
                )
                .col(
                    ColumnDef::new(Outbox::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Outbox::PublishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Outbox::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(Outbox::LastError).text().null())
                .to_owned(),
        )
        .await?;
    // The relay only ever looks at unpublished rows; same syntax on both engines.
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS idx_{table}_unpublished ON {table} (seq) WHERE published_at IS NULL"
        ))
        .await?;
    // The purge deletes by age of publication.
    manager
        .create_index(
            Index::create()
                .if_not_exists()
                .name(format!("idx_{table}_published_at"))
                .table(Alias::new(table))
                .col(Outbox::PublishedAt)
                .to_owned(),
        )
        .await?;
    Ok(())
}

pub(crate) async fn create_processed(
    manager: &SchemaManager<'_>,
    table: &str,
) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new(table))
                .if_not_exists()
                .col(
                    ColumnDef::new(ProcessedEvents::Consumer)
                        .string_len(255)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ProcessedEvents::EventId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ProcessedEvents::ProcessedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .name(format!("pk_{table}"))
                        .col(ProcessedEvents::Consumer)
                        .col(ProcessedEvents::EventId),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .if_not_exists()
                .name(format!("idx_{table}_processed_at"))
                .table(Alias::new(table))
                .col(ProcessedEvents::ProcessedAt)
                .to_owned(),
        )
        .await
}

/// The envelope's `source`, read by the database itself.
fn source_expr(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "(payload::json ->> 'source')",
        _ => "json_extract(payload, '$.source')",
    }
}

/// Makes the next `seq` of `table` follow the ones copied in. SQLite's AUTOINCREMENT
/// already moved past them; PostgreSQL's sequence did not.
async fn bump_sequence(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'seq'), \
                 COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
            ))
            .await?;
    }
    Ok(())
}

const OUTBOX_COLUMNS: &str = "seq, event_id, event_type, routing_key, payload, headers, created_at, published_at, attempts, last_error";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for owner in OWNERS {
            create_outbox(manager, &outbox_table(owner)).await?;
            create_processed(manager, &processed_table(owner)).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OutboxRelayLocks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OutboxRelayLocks::OutboxTable)
                            .string_len(63)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxRelayLocks::Holder)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutboxRelayLocks::LeaseUntilMs)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for owner in OWNERS {
            db.execute_unprepared(&format!(
                "INSERT INTO outbox_relay_locks (outbox_table, holder, lease_until_ms) \
                 VALUES ('{}', NULL, 0) ON CONFLICT (outbox_table) DO NOTHING",
                outbox_table(owner)
            ))
            .await?;
        }

        if manager.has_table("outbox").await? {
            let source = source_expr(manager.get_database_backend());
            let webhooks = format!("{source} = 'webhooks'");
            let others = format!("({source} IS NULL OR {source} <> 'webhooks')");
            for (table, condition) in [
                (outbox_table("webhooks"), webhooks),
                (outbox_table("appointments"), others),
            ] {
                db.execute_unprepared(&format!(
                    "INSERT INTO {table} ({OUTBOX_COLUMNS}) \
                     SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {condition} ORDER BY seq"
                ))
                .await?;
                bump_sequence(manager, &table).await?;
            }
            manager
                .drop_table(Table::drop().table(Alias::new("outbox")).to_owned())
                .await?;
        }
        if manager.has_table("processed_events").await? {
            for (table, condition) in [
                (
                    processed_table("webhooks"),
                    "consumer LIKE 'prm.webhooks.%'",
                ),
                (
                    processed_table("appointments"),
                    "consumer NOT LIKE 'prm.webhooks.%'",
                ),
            ] {
                db.execute_unprepared(&format!(
                    "INSERT INTO {table} (consumer, event_id, processed_at) \
                     SELECT consumer, event_id, processed_at FROM processed_events WHERE {condition}"
                ))
                .await?;
            }
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new("processed_events"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    /// Back to the shared tables, rows merged in their original creation order.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::m20261122_000002_outbox::Migration
            .up(manager)
            .await?;
        let db = manager.get_connection();
        let merged = OWNERS
            .iter()
            .map(|owner| {
                format!(
                    "SELECT event_id, event_type, routing_key, payload, headers, created_at, \
                     published_at, attempts, last_error, seq AS owner_seq FROM {}",
                    outbox_table(owner)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        db.execute_unprepared(&format!(
            "INSERT INTO outbox (event_id, event_type, routing_key, payload, headers, created_at, \
             published_at, attempts, last_error) \
             SELECT event_id, event_type, routing_key, payload, headers, created_at, published_at, \
             attempts, last_error FROM ({merged}) AS merged ORDER BY created_at, owner_seq"
        ))
        .await?;
        for owner in OWNERS {
            db.execute_unprepared(&format!(
                "INSERT INTO processed_events (consumer, event_id, processed_at) \
                 SELECT consumer, event_id, processed_at FROM {}",
                processed_table(owner)
            ))
            .await?;
        }
        manager
            .drop_table(
                Table::drop()
                    .table(OutboxRelayLocks::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        for owner in OWNERS {
            for table in [outbox_table(owner), processed_table(owner)] {
                manager
                    .drop_table(
                        Table::drop()
                            .table(Alias::new(table))
                            .if_exists()
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

//! The audit trail: one row per change made through the clinic API (who, by API key
//! id; what; when; before and after for appointments and conversations), written in
//! the transaction of the change it records.
//!
//! The table is append-only: the API has no route that changes or removes a row, and
//! a trigger refuses `UPDATE` and `DELETE` on both engines, so a bug or a stray
//! statement cannot rewrite history either. (Dropping the table, or PostgreSQL's
//! `TRUNCATE`, is an administrator's act outside these rules.)

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OccurredAt,
    Actor,
    Action,
    EntityType,
    EntityId,
    Before,
    After,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AuditLog::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(AuditLog::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // `key_` and 12 hex characters of the key's SHA-256, never the key.
                    .col(ColumnDef::new(AuditLog::Actor).string_len(64).not_null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(64).not_null())
                    .col(
                        ColumnDef::new(AuditLog::EntityType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLog::EntityId).uuid().not_null())
                    // JSON as text: the same on both engines, read back whole.
                    .col(ColumnDef::new(AuditLog::Before).text().null())
                    .col(ColumnDef::new(AuditLog::After).text().null())
                    .col(ColumnDef::new(AuditLog::RequestId).string_len(128).null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in [
            "CREATE INDEX IF NOT EXISTS idx_audit_log_occurred_at ON audit_log (occurred_at, id)",
            "CREATE INDEX IF NOT EXISTS idx_audit_log_entity ON audit_log (entity_type, entity_id)",
            "CREATE INDEX IF NOT EXISTS idx_audit_log_actor ON audit_log (actor)",
        ] {
            db.execute_unprepared(statement).await?;
        }
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_log is append-only' \
                     USING ERRCODE = 'insufficient_privilege'; END; $$ LANGUAGE plpgsql",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
                     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
                )
                .await?;
            }
            _ => {
                for statement in [
                    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
                    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).if_exists().to_owned())
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_log_append_only()")
                .await?;
        }
        Ok(())
    }
}

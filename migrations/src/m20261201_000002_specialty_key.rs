//! `practitioners.specialty_key`: the specialty in the form departments are matched in
//! (`prm_domain::specialty_key`: trimmed, Unicode NFC, Unicode lower case).
//!
//! Department matching used to compare SQL `lower(specialty)` with a Rust-lowered
//! department, and SQLite's `lower()` only folds ASCII: "PEDIATRÍA" never matched
//! "pediatría" in the embedded mode, and neither engine trimmed. The repository now writes
//! this key with every practitioner and searches by equality on it, on both engines alike.
//! Existing rows are filled in here with the same function.

use prm_domain::specialty_key;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Practitioners {
    Table,
    Specialty,
    SpecialtyKey,
}

const OLD_INDEX: &str = "practitioners_specialty";
const INDEX: &str = "practitioners_specialty_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // SQLite cannot add a NOT NULL column without a default; the repository always
        // writes the key, and on PostgreSQL the default is dropped once rows are filled.
        manager
            .alter_table(
                Table::alter()
                    .table(Practitioners::Table)
                    .add_column(
                        ColumnDef::new(Practitioners::SpecialtyKey)
                            // Lower-casing can lengthen a string (e.g. "İ" → "i̇").
                            .string_len(400)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        let rows = db
            .query_all(Statement::from_string(
                backend,
                "SELECT DISTINCT specialty FROM practitioners",
            ))
            .await?;
        for row in rows {
            let specialty: String = row.try_get("", "specialty")?;
            manager
                .exec_stmt(
                    Query::update()
                        .table(Practitioners::Table)
                        .value(Practitioners::SpecialtyKey, specialty_key(&specialty))
                        .and_where(Expr::col(Practitioners::Specialty).eq(specialty))
                        .to_owned(),
                )
                .await?;
        }
        if backend == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE practitioners ALTER COLUMN specialty_key DROP DEFAULT",
            )
            .await?;
        }

        // Searches filter on the key; the index on the raw specialty served none.
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_INDEX)
                    .table(Practitioners::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Practitioners::Table)
                    .col(Practitioners::SpecialtyKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Practitioners::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Practitioners::Table)
                    .drop_column(Practitioners::SpecialtyKey)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD_INDEX)
                    .table(Practitioners::Table)
                    .col(Practitioners::Specialty)
                    .to_owned(),
            )
            .await
    }
}

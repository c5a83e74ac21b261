//! The appointments service's waitlist (issue 14, waitlist backfill).
//!
//! * `waitlist_entries`: a conversation waiting for a slot of a department, because the
//!   patient turned every offer down or asked for an earlier date. `status` is
//!   `waiting` → `offered` (a freed slot was offered) → `fulfilled` (they booked it), back
//!   to `waiting` when someone else answered first, or `expired` after `expires_at`. At
//!   most one entry per conversation and department is waiting or offered: a partial
//!   unique index says so on both engines, so a second request adds nothing.
//!   `department_key` is `prm_domain::specialty_key(department)`, what practitioners'
//!   specialties are matched against.
//! * `waitlist_offers`: a freed slot offered to an entry. One row per entry and freed-slot
//!   event (`event_id`, the APPOINTMENT_CANCELLED or APPOINTMENT_RESCHEDULED that freed
//!   it): a redelivered event offers nothing twice. `status` is `offered`, `won` (this
//!   entry's patient booked it) or `taken` (someone else did, and the patient was told).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WaitlistEntries {
    Table,
    Id,
    ConversationId,
    PatientId,
    Phone,
    Department,
    DepartmentKey,
    Preferences,
    Locale,
    Reason,
    Status,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum WaitlistOffers {
    Table,
    EntryId,
    EventId,
    OfferId,
    PractitionerId,
    SlotStart,
    Status,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WaitlistEntries::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(WaitlistEntries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::ConversationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WaitlistEntries::PatientId).uuid().null())
                    .col(ColumnDef::new(WaitlistEntries::Phone).string_len(20).null())
                    .col(
                        ColumnDef::new(WaitlistEntries::Department)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::DepartmentKey)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::Preferences)
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::Locale)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WaitlistEntries::Reason).text().null())
                    .col(
                        ColumnDef::new(WaitlistEntries::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistEntries::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Partial indexes: the same syntax on PostgreSQL and SQLite.
        for statement in [
            "CREATE UNIQUE INDEX IF NOT EXISTS waitlist_one_open_per_conversation \
             ON waitlist_entries (conversation_id, department_key) \
             WHERE status IN ('waiting', 'offered')",
            "CREATE INDEX IF NOT EXISTS idx_waitlist_waiting \
             ON waitlist_entries (department_key, created_at) WHERE status = 'waiting'",
        ] {
            db.execute_unprepared(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(WaitlistOffers::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(WaitlistOffers::EntryId).uuid().not_null())
                    .col(ColumnDef::new(WaitlistOffers::EventId).uuid().not_null())
                    .col(ColumnDef::new(WaitlistOffers::OfferId).uuid().not_null())
                    .col(
                        ColumnDef::new(WaitlistOffers::PractitionerId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistOffers::SlotStart)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistOffers::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WaitlistOffers::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_waitlist_offers")
                            .col(WaitlistOffers::EntryId)
                            .col(WaitlistOffers::EventId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_waitlist_offers_entry")
                            .from(WaitlistOffers::Table, WaitlistOffers::EntryId)
                            .to(WaitlistEntries::Table, WaitlistEntries::Id),
                    )
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_waitlist_offers_slot \
             ON waitlist_offers (practitioner_id, slot_start) WHERE status = 'offered'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WaitlistOffers::Table.to_string(),
            WaitlistEntries::Table.to_string(),
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

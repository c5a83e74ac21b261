//! `inbound_messages.provider_fields`: what the provider sent beyond the fields the
//! webhooks service maps (Twilio's `Latitude`, `ButtonPayload`, `Forwarded`, unknown
//! parameters…; Meta's message object), as a JSON object, so nothing a patient sent is
//! dropped.
//!
//! Stored as JSON **text**, not PostgreSQL `jsonb`: `jsonb` refuses the escape `\u0000`,
//! and a patient's text may hold U+0000. In text the escape is six plain characters,
//! accepted by both engines, and read back verbatim.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboundMessages {
    Table,
    ProviderFields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager
            .has_column("inbound_messages", "provider_fields")
            .await?
        {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(InboundMessages::Table)
                    .add_column(
                        ColumnDef::new(InboundMessages::ProviderFields)
                            .text()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InboundMessages::Table)
                    .drop_column(InboundMessages::ProviderFields)
                    .to_owned(),
            )
            .await
    }
}

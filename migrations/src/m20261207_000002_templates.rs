//! The clinic's message templates (owned by the conversations service), and what an
//! outbound message needs to go out later as a provider's approved template.
//!
//! * `message_templates`: one row per (purpose, locale) the clinic wrote; a purpose and
//!   locale without a row uses the built-in text (`prm_domain::templates::default_text`).
//!   `enabled = false` switches the purpose off. The Twilio Content template
//!   (`twilio_content_sid`) and the Meta template (`meta_name`, `meta_language`) are what
//!   goes out instead of the text outside WhatsApp's 24-hour window; their `…_variables`
//!   are a JSON array of placeholder names filling `{{1}}`, `{{2}}`… (null: every
//!   placeholder in the order of `prm_domain::templates::PLACEHOLDERS`).
//! * `messages.template`: JSON `{purpose, locale, vars}` of a message rendered from a
//!   template, so a send outside the window can use the provider's template with the
//!   same values. Null for every other message.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageTemplates {
    Table,
    Purpose,
    Locale,
    Body,
    Enabled,
    TwilioContentSid,
    TwilioVariables,
    MetaName,
    MetaLanguage,
    MetaVariables,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Template,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MessageTemplates::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MessageTemplates::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::Locale)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MessageTemplates::Body).text().not_null())
                    .col(
                        ColumnDef::new(MessageTemplates::Enabled)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::TwilioContentSid)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::TwilioVariables)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::MetaName)
                            .string_len(512)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::MetaLanguage)
                            .string_len(16)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::MetaVariables)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MessageTemplates::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(MessageTemplates::Purpose)
                            .col(MessageTemplates::Locale),
                    )
                    .to_owned(),
            )
            .await?;
        if !manager.has_column("messages", "template").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Messages::Table)
                        .add_column(ColumnDef::new(Messages::Template).text().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::Template)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(MessageTemplates::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

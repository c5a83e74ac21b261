//! Reminders and follow-ups (owned by the appointments service).
//!
//! * `appointments.follow_up_date`: the follow-up visit's date, set when the appointment
//!   is marked fulfilled; `appointments.confirmed_at`: when the patient confirmed it.
//! * `reminder_jobs`: one row per message due after a booking (`kind` reminder,
//!   follow_up or no_show), kept in the database so that no replica's restart loses one.
//!   `status` moves once from `scheduled` to `sent`, `skipped` (e.g. `outcome = 'late'`)
//!   or `cancelled`; a runner claims a due job with a lease (`lease_owner`,
//!   `lease_until`) and marks it sent in the transaction that writes REMINDER_DUE to the
//!   outbox, so a job is announced once however many replicas run. `rule` is the
//!   configured rule a reminder came from (`1d@10:00`, `30m`), so a reschedule moves it.
//!
//! A partial index over the scheduled jobs keeps the runner's poll (every few seconds)
//! off the rows already done; both engines support the syntax.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Appointments {
    Table,
    Id,
    FollowUpDate,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum ReminderJobs {
    Table,
    Id,
    AppointmentId,
    Kind,
    Rule,
    DueAt,
    WindowMinutes,
    Status,
    LeaseOwner,
    LeaseUntil,
    Attempts,
    Outcome,
    CreatedAt,
    UpdatedAt,
}

const DUE_INDEX: &str = "reminder_jobs_due";
const APPOINTMENT_INDEX: &str = "reminder_jobs_appointment";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        if !manager.has_column("appointments", "follow_up_date").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Appointments::Table)
                        .add_column(ColumnDef::new(Appointments::FollowUpDate).date().null())
                        .to_owned(),
                )
                .await?;
        }
        if !manager.has_column("appointments", "confirmed_at").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Appointments::Table)
                        .add_column(
                            ColumnDef::new(Appointments::ConfirmedAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ReminderJobs::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ReminderJobs::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::AppointmentId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ReminderJobs::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(ReminderJobs::Rule).string_len(32).null())
                    .col(
                        ColumnDef::new(ReminderJobs::DueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::WindowMinutes)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::LeaseOwner)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(ReminderJobs::Outcome).string_len(64).null())
                    .col(
                        ColumnDef::new(ReminderJobs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReminderJobs::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("reminder_jobs_appointment_fk")
                            .from(ReminderJobs::Table, ReminderJobs::AppointmentId)
                            .to(Appointments::Table, Appointments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in [
            format!(
                "CREATE INDEX IF NOT EXISTS {DUE_INDEX} ON reminder_jobs (due_at) \
                 WHERE status = 'scheduled'"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {APPOINTMENT_INDEX} ON reminder_jobs (appointment_id)"
            ),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ReminderJobs::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        for column in [Appointments::ConfirmedAt, Appointments::FollowUpDate] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Appointments::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

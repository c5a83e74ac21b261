//! Clinic tables: locations, practitioners, schedules, patients, appointments.
//!
//! Integrity lives in the schema, not only in the code: foreign keys, NOT NULL,
//! CHECK constraints on enumerations and ranges, a unique phone per patient, and
//! the rule that a practitioner is never in two active appointments at once:
//! - both engines: a partial unique index on (practitioner, start) for active statuses;
//! - PostgreSQL: an exclusion constraint on `tstzrange(start_at, end_at)` so overlapping
//!   appointments of different lengths are impossible too;
//! - SQLite: triggers that abort an insert or update creating such an overlap.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ACTIVE: &str = "('pending','booked','arrived')";

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    Name,
    Timezone,
    Address,
    City,
    Phone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Practitioners {
    Table,
    Id,
    Name,
    Specialty,
    Phone,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PractitionerSchedules {
    Table,
    Id,
    PractitionerId,
    LocationId,
    DayOfWeek,
    StartTime,
    EndTime,
    SlotMinutes,
    ValidFrom,
    ValidTo,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Patients {
    Table,
    Id,
    Name,
    Phone,
    BirthDate,
    Locale,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Appointments {
    Table,
    Id,
    Status,
    StartAt,
    EndAt,
    PatientId,
    PractitionerId,
    LocationId,
    ConversationId,
    Channel,
    Reason,
    Notes,
    CancelReason,
    BookingKey,
    CreatedAt,
    UpdatedAt,
}

fn check(sql: &str) -> SimpleExpr {
    Expr::cust(sql.to_owned())
}

fn timestamps<T: IntoIden>(table: &mut TableCreateStatement, created: T, updated: T) {
    table
        .col(
            ColumnDef::new(created)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(updated)
                .timestamp_with_time_zone()
                .not_null(),
        );
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();

        let mut locations = Table::create();
        locations
            .table(Locations::Table)
            .col(
                ColumnDef::new(Locations::Id)
                    .uuid()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Locations::Name).string_len(200).not_null())
            .col(
                ColumnDef::new(Locations::Timezone)
                    .string_len(64)
                    .not_null(),
            )
            .col(ColumnDef::new(Locations::Address).string_len(500))
            .col(ColumnDef::new(Locations::City).string_len(200))
            .col(ColumnDef::new(Locations::Phone).string_len(16))
            .check(check("length(trim(name)) > 0"));
        timestamps(&mut locations, Locations::CreatedAt, Locations::UpdatedAt);
        manager.create_table(locations).await?;

        let mut practitioners = Table::create();
        practitioners
            .table(Practitioners::Table)
            .col(
                ColumnDef::new(Practitioners::Id)
                    .uuid()
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(Practitioners::Name)
                    .string_len(200)
                    .not_null(),
            )
            .col(
                ColumnDef::new(Practitioners::Specialty)
                    .string_len(100)
                    .not_null(),
            )
            .col(ColumnDef::new(Practitioners::Phone).string_len(16))
            .col(
                ColumnDef::new(Practitioners::Active)
                    .boolean()
                    .not_null()
                    .default(true),
            )
            .check(check("length(trim(name)) > 0"))
            .check(check("length(trim(specialty)) > 0"));
        timestamps(
            &mut practitioners,
            Practitioners::CreatedAt,
            Practitioners::UpdatedAt,
        );
        manager.create_table(practitioners).await?;
        manager
            .create_index(
                Index::create()
                    .name("practitioners_specialty")
                    .table(Practitioners::Table)
                    .col(Practitioners::Specialty)
                    .to_owned(),
            )
            .await?;

        let mut schedules = Table::create();
        schedules
            .table(PractitionerSchedules::Table)
            .col(
                ColumnDef::new(PractitionerSchedules::Id)
                    .uuid()
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(PractitionerSchedules::PractitionerId)
                    .uuid()
                    .not_null(),
            )
            .col(
                ColumnDef::new(PractitionerSchedules::LocationId)
                    .uuid()
                    .not_null(),
            )
            .col(
                ColumnDef::new(PractitionerSchedules::DayOfWeek)
                    .small_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(PractitionerSchedules::StartTime)
                    .time()
                    .not_null(),
            )
            .col(
                ColumnDef::new(PractitionerSchedules::EndTime)
                    .time()
                    .not_null(),
            )
            .col(
                ColumnDef::new(PractitionerSchedules::SlotMinutes)
                    .integer()
                    .not_null(),
            )
            .col(ColumnDef::new(PractitionerSchedules::ValidFrom).date())
            .col(ColumnDef::new(PractitionerSchedules::ValidTo).date())
            .foreign_key(
                ForeignKey::create()
                    .name("schedules_practitioner_fk")
                    .from(
                        PractitionerSchedules::Table,
                        PractitionerSchedules::PractitionerId,
                    )
                    .to(Practitioners::Table, Practitioners::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("schedules_location_fk")
                    .from(
                        PractitionerSchedules::Table,
                        PractitionerSchedules::LocationId,
                    )
                    .to(Locations::Table, Locations::Id)
                    .on_delete(ForeignKeyAction::Restrict),
            )
            .check(check("day_of_week BETWEEN 0 AND 6"))
            .check(check("end_time > start_time"))
            .check(check("slot_minutes BETWEEN 5 AND 480"))
            .check(check(
                "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            ));
        timestamps(
            &mut schedules,
            PractitionerSchedules::CreatedAt,
            PractitionerSchedules::UpdatedAt,
        );
        manager.create_table(schedules).await?;
        manager
            .create_index(
                Index::create()
                    .name("schedules_practitioner_day")
                    .table(PractitionerSchedules::Table)
                    .col(PractitionerSchedules::PractitionerId)
                    .col(PractitionerSchedules::DayOfWeek)
                    .to_owned(),
            )
            .await?;

        let mut patients = Table::create();
        patients
            .table(Patients::Table)
            .col(ColumnDef::new(Patients::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(Patients::Name).string_len(200).not_null())
            .col(
                ColumnDef::new(Patients::Phone)
                    .string_len(16)
                    .not_null()
                    .unique_key(),
            )
            .col(ColumnDef::new(Patients::BirthDate).date())
            .col(ColumnDef::new(Patients::Locale).string_len(8))
            .check(check("length(trim(name)) > 0"))
            .check(check("phone LIKE '+%'"))
            .check(check("locale IS NULL OR locale IN ('es','en')"));
        timestamps(&mut patients, Patients::CreatedAt, Patients::UpdatedAt);
        manager.create_table(patients).await?;

        let mut appointments = Table::create();
        appointments
            .table(Appointments::Table)
            .col(ColumnDef::new(Appointments::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(Appointments::Status).string_len(24).not_null())
            .col(ColumnDef::new(Appointments::StartAt).timestamp_with_time_zone().not_null())
            .col(ColumnDef::new(Appointments::EndAt).timestamp_with_time_zone().not_null())
            .col(ColumnDef::new(Appointments::PatientId).uuid().not_null())
            .col(ColumnDef::new(Appointments::PractitionerId).uuid().not_null())
            .col(ColumnDef::new(Appointments::LocationId).uuid().not_null())
            .col(ColumnDef::new(Appointments::ConversationId).uuid())
            .col(ColumnDef::new(Appointments::Channel).string_len(16))
            .col(ColumnDef::new(Appointments::Reason).string_len(1000))
            .col(ColumnDef::new(Appointments::Notes).string_len(4000))
            .col(ColumnDef::new(Appointments::CancelReason).string_len(1000))
            // Idempotency key of a booking request (e.g. one slot offer): unique, so a
            // repeated or concurrent request finds the first appointment instead of a second.
            .col(ColumnDef::new(Appointments::BookingKey).string_len(200).unique_key())
            .foreign_key(
                ForeignKey::create()
                    .name("appointments_patient_fk")
                    .from(Appointments::Table, Appointments::PatientId)
                    .to(Patients::Table, Patients::Id)
                    .on_delete(ForeignKeyAction::Restrict),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("appointments_practitioner_fk")
                    .from(Appointments::Table, Appointments::PractitionerId)
                    .to(Practitioners::Table, Practitioners::Id)
                    .on_delete(ForeignKeyAction::Restrict),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("appointments_location_fk")
                    .from(Appointments::Table, Appointments::LocationId)
                    .to(Locations::Table, Locations::Id)
                    .on_delete(ForeignKeyAction::Restrict),
            )
            .check(check(
                "status IN ('proposed','pending','booked','arrived','fulfilled','cancelled','noshow','entered-in-error')",
            ))
            .check(check("end_at > start_at"))
            .check(check("channel IS NULL OR channel IN ('whatsapp','sms','email','phone','webchat')"));
        timestamps(
            &mut appointments,
            Appointments::CreatedAt,
            Appointments::UpdatedAt,
        );
        manager.create_table(appointments).await?;

        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX appointments_practitioner_start_active \
             ON appointments (practitioner_id, start_at) WHERE status IN {ACTIVE}"
        ))
        .await?;
        for (name, column) in [
            ("appointments_patient", "patient_id"),
            ("appointments_location", "location_id"),
            ("appointments_start", "start_at"),
        ] {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON appointments ({column})"))
                .await?;
        }

        match backend {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS btree_gist")
                    .await?;
                db.execute_unprepared(&format!(
                    "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap \
                     EXCLUDE USING gist (practitioner_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) \
                     WHERE (status IN {ACTIVE})"
                ))
                .await?;
            }
            DatabaseBackend::Sqlite => {
                for (event, guard) in [("INSERT", ""), ("UPDATE", "AND id <> NEW.id")] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER appointments_no_overlap_{} BEFORE {event} ON appointments \
                         WHEN NEW.status IN {ACTIVE} \
                         BEGIN SELECT RAISE(ABORT, 'appointments_no_overlap') WHERE EXISTS ( \
                           SELECT 1 FROM appointments WHERE practitioner_id = NEW.practitioner_id \
                           AND status IN {ACTIVE} AND start_at < NEW.end_at AND NEW.start_at < end_at {guard}); \
                         END",
                        event.to_lowercase()
                    ))
                    .await?;
                }
            }
            DatabaseBackend::MySql => {
                return Err(DbErr::Migration(
                    "MySQL is not supported; use PostgreSQL or SQLite".into(),
                ));
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Appointments::Table.into_iden(),
            Patients::Table.into_iden(),
            PractitionerSchedules::Table.into_iden(),
            Practitioners::Table.into_iden(),
            Locations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Schema migrations. The same code runs on PostgreSQL and SQLite; where the two
//! engines differ (exclusion constraints), the migration branches on the backend.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_clinic;
mod m20261122_000002_outbox;
mod m20261122_000003_inbound_messages;
mod m20261201_000001_outbox_per_owner;
mod m20261201_000002_specialty_key;
mod m20261201_000003_inbound_provider_fields;
mod m20261206_000001_inbound_stored_at;
mod m20261207_000001_conversations;
mod m20261207_000002_templates;
mod m20261207_000003_reminders;
mod m20261207_000004_audit;
mod m20261207_000005_waitlist;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_clinic::Migration),
            Box::new(m20261122_000002_outbox::Migration),
            Box::new(m20261122_000003_inbound_messages::Migration),
            Box::new(m20261201_000001_outbox_per_owner::Migration),
            Box::new(m20261201_000002_specialty_key::Migration),
            Box::new(m20261201_000003_inbound_provider_fields::Migration),
            Box::new(m20261206_000001_inbound_stored_at::Migration),
            Box::new(m20261207_000001_conversations::Migration),
            Box::new(m20261207_000002_templates::Migration),
            Box::new(m20261207_000003_reminders::Migration),
            Box::new(m20261207_000005_waitlist::Migration),
            Box::new(m20261207_000004_audit::Migration),
        ]
    }
}

//! The migration to one outbox per owning service carries every row of the old shared
//! `outbox` and `processed_events` over to the owner's tables, unpublished ones still
//! unpublished, in the same order; on the backend of `PRM_TEST_DATABASE`.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use chrono::Utc;
use prm_domain::events::{AppointmentCreated, Envelope, EventData, MessageReceived};
use prm_migrations::{Migrator, MigratorTrait};
use prm_store::{
    Store,
    outbox::{Outbox, ProcessedEvents},
    testing::empty_database_url,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

const PER_OWNER: &str = "m20261201_000001_outbox_per_owner";

/// How many migrations come before the per-owner one.
fn migrations_before_per_owner() -> u32 {
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    names
        .iter()
        .position(|n| n == PER_OWNER)
        .expect("the per-owner migration is registered") as u32
}

async fn old_row(db: &DatabaseConnection, envelope: &Envelope, published: bool, headers: &str) {
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO outbox (event_id, event_type, routing_key, payload, headers, created_at, published_at, attempts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            envelope.id.to_string().into(),
            envelope.event_type.clone().into(),
            envelope.routing_key().into(),
            serde_json::to_string(envelope).unwrap().into(),
            headers.into(),
            Utc::now().into(),
            published.then(Utc::now).into(),
            2i32.into(),
        ],
    ))
    .await
    .unwrap();
}

async fn ids(db: &DatabaseConnection, outbox: Outbox) -> Vec<String> {
    db.query_all(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT event_id FROM {} ORDER BY seq", outbox.table()),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String>("", "event_id").unwrap())
    .collect()
}

#[tokio::test]
async fn the_shared_outbox_is_split_by_owner_without_losing_a_row() {
    let url = empty_database_url().await;
    let store = Store::connect(&url).await.unwrap();
    let db = store.connection();
    Migrator::up(db, Some(migrations_before_per_owner()))
        .await
        .unwrap();

    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let received = Envelope::new("webhooks", MessageReceived::example());
    let booked_earlier = Envelope::new("appointments", AppointmentCreated::example());
    let booked = Envelope::new("appointments", AppointmentCreated::example());
    let status = Envelope::new("webhooks", MessageReceived::example());
    old_row(db, &booked_earlier, true, "{}").await;
    old_row(
        db,
        &received,
        false,
        &format!(r#"{{"traceparent":"{traceparent}"}}"#),
    )
    .await;
    old_row(db, &status, true, "{}").await;
    old_row(db, &booked, false, "{}").await;
    for (consumer, id) in [
        ("prm.webhooks.statuses", received.id),
        ("prm.appointments.triage", booked.id),
    ] {
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)",
            [consumer.into(), id.to_string().into(), Utc::now().into()],
        ))
        .await
        .unwrap();
    }

    Migrator::up(db, None).await.unwrap();

    // Each row in its owner's table, published or not, in the old order.
    assert_eq!(
        ids(db, Outbox::WEBHOOKS).await,
        [received.id.to_string(), status.id.to_string()]
    );
    assert_eq!(
        ids(db, Outbox::APPOINTMENTS).await,
        [booked_earlier.id.to_string(), booked.id.to_string()]
    );
    // What waited for the relay still does, byte for byte, with its trace context.
    let waiting = Outbox::WEBHOOKS.unpublished(db, 10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].event_id, received.id);
    assert_eq!(
        waiting[0].payload,
        serde_json::to_string(&received).unwrap()
    );
    assert_eq!(waiting[0].traceparent.as_deref(), Some(traceparent));
    assert_eq!(waiting[0].attempts, 2);
    let waiting = Outbox::APPOINTMENTS.unpublished(db, 10).await.unwrap();
    assert_eq!(
        waiting.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [booked.id]
    );
    // Processed events went with their consumer's service.
    assert!(
        ProcessedEvents::WEBHOOKS
            .contains(db, "prm.webhooks.statuses", received.id)
            .await
            .unwrap()
    );
    assert!(
        ProcessedEvents::APPOINTMENTS
            .contains(db, "prm.appointments.triage", booked.id)
            .await
            .unwrap()
    );
    assert!(
        !ProcessedEvents::APPOINTMENTS
            .contains(db, "prm.webhooks.statuses", received.id)
            .await
            .unwrap()
    );
    // The shared tables are gone.
    for table in ["outbox", "processed_events"] {
        assert!(
            db.query_one(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT 1 FROM {table}"),
            ))
            .await
            .is_err(),
            "{table} dropped"
        );
    }
    // New events follow the carried-over ones (PostgreSQL's sequence was moved on) and a
    // carried-over id is still unique.
    let next = Envelope::new("appointments", AppointmentCreated::example());
    Outbox::APPOINTMENTS.enqueue(db, &next, None).await.unwrap();
    let waiting = Outbox::APPOINTMENTS.unpublished(db, 10).await.unwrap();
    assert_eq!(
        waiting.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [booked.id, next.id]
    );
    assert!(waiting[1].seq > waiting[0].seq);
    assert!(
        Outbox::WEBHOOKS.enqueue(db, &status, None).await.is_err(),
        "event ids stay unique across the move"
    );
}

#[tokio::test]
async fn a_fresh_database_gets_every_owners_tables_and_records_once() {
    let url = empty_database_url().await;
    let store = Store::connect_and_migrate(&url).await.unwrap();
    let db = store.connection();
    for outbox in Outbox::ALL {
        assert_eq!(outbox.row_count(db).await.unwrap(), 0);
    }
    let id = Uuid::new_v4();
    for processed in ProcessedEvents::ALL {
        assert!(processed.record(db, "prm.test.once", id).await.unwrap());
        assert!(
            !processed.record(db, "prm.test.once", id).await.unwrap(),
            "a second record of the same event is refused"
        );
    }
}

/// The tables of the migrated schema, by name.
async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    db.query_all(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// `Outbox::ALL` and `ProcessedEvents::ALL` are written by hand; the migrations are what
/// creates the tables. A service's new outbox must be in both, or the relays and these
/// tests would miss it.
#[tokio::test]
async fn the_lists_of_outboxes_name_exactly_the_tables_the_migrations_create() {
    let store = prm_store::testing::fresh_store().await;
    let tables = tables(store.connection()).await;
    let mut outboxes: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| t.ends_with("_outbox"))
        .collect();
    outboxes.sort_unstable();
    let mut listed: Vec<&str> = Outbox::ALL.iter().map(|o| o.table()).collect();
    listed.sort_unstable();
    assert_eq!(outboxes, listed, "Outbox::ALL against the schema");

    let mut processed: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| t.ends_with("_processed_events"))
        .collect();
    processed.sort_unstable();
    let mut listed: Vec<&str> = ProcessedEvents::ALL.iter().map(|p| p.table()).collect();
    listed.sort_unstable();
    assert_eq!(processed, listed, "ProcessedEvents::ALL against the schema");
}

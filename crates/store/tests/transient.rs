//! Transactions the database aborts because of a concurrent one (PostgreSQL deadlock,
//! SQLite busy) are reported as `Conflict::Transient`, which the API answers with a
//! retryable 409, never as an opaque database error (500).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::Duration;

use prm_domain::{Location, Practitioner};
use prm_store::{
    Conflict, Store, StoreError,
    testing::{TestBackend, backend, fresh_database_url},
};
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

fn practitioner() -> Practitioner {
    Practitioner {
        id: Uuid::now_v7(),
        name: "Dr. Ana Gómez".to_owned(),
        specialty: "Cardiology".to_owned(),
        phone: None,
        active: true,
    }
}

fn location() -> Location {
    Location {
        id: Uuid::now_v7(),
        name: "Sede Norte".to_owned(),
        timezone: chrono_tz::America::Bogota.into(),
        address: None,
        city: None,
        phone: None,
    }
}

#[tokio::test]
async fn transactions_aborted_by_a_concurrent_one_are_transient_conflicts() {
    let url = fresh_database_url().await;
    let store = Store::connect_and_migrate(&url).await.unwrap();
    match backend() {
        TestBackend::Postgres => deadlock(&store).await,
        TestBackend::Sqlite => busy(&store, &url).await,
    }
}

/// Two transactions lock two rows in opposite orders: PostgreSQL aborts one with 40P01.
async fn deadlock(store: &Store) {
    let (a, b) = (practitioner(), practitioner());
    store.insert_practitioner(&a).await.unwrap();
    store.insert_practitioner(&b).await.unwrap();
    let update = |id: Uuid| format!("UPDATE practitioners SET name = name WHERE id = '{id}'");
    let first = store.connection().begin().await.unwrap();
    let second = store.connection().begin().await.unwrap();
    first.execute_unprepared(&update(a.id)).await.unwrap();
    second.execute_unprepared(&update(b.id)).await.unwrap();
    let (then_b, then_a) = (update(b.id), update(a.id));
    let (one, two) = tokio::join!(
        first.execute_unprepared(&then_b),
        second.execute_unprepared(&then_a),
    );
    let errors: Vec<StoreError> = [one, two]
        .into_iter()
        .filter_map(Result::err)
        .map(StoreError::from)
        .collect();
    assert_eq!(errors.len(), 1, "PostgreSQL aborts exactly one: {errors:?}");
    assert!(
        matches!(errors[0], StoreError::Conflict(Conflict::Transient)),
        "{:?}",
        errors[0]
    );
}

/// A second connection writing while the first holds SQLite's write lock gets SQLITE_BUSY
/// once the busy timeout runs out.
async fn busy(store: &Store, url: &str) {
    let other = Store::connect(url).await.unwrap();
    other
        .connection()
        .execute_unprepared("PRAGMA busy_timeout = 100")
        .await
        .unwrap();
    store.insert_location(&location()).await.unwrap();
    let holder = store.connection().begin().await.unwrap();
    holder
        .execute_unprepared("UPDATE locations SET name = name")
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), other.insert_location(&location()))
        .await
        .unwrap();
    assert!(
        matches!(refused, Err(StoreError::Conflict(Conflict::Transient))),
        "{refused:?}"
    );
    holder.rollback().await.unwrap();
    other.insert_location(&location()).await.unwrap();
}

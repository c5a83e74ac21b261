//! Several replicas start at once against one new database (a first install, or a
//! release that adds a migration): every one of them must come up.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use prm_store::{Store, testing::empty_database_url};

/// The race is one of timing, so it is run a few times on new databases.
const ROUNDS: usize = 3;
const REPLICAS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_migrating_at_once_all_start() {
    for round in 0..ROUNDS {
        let url = empty_database_url().await;
        let starts = (0..REPLICAS).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::connect_and_migrate(&url).await })
        });
        for (replica, started) in futures::future::join_all(starts)
            .await
            .into_iter()
            .enumerate()
        {
            let store = started
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}, replica {replica}: {e}"));
            store.ping().await.unwrap();
        }
        // And the schema is whole: a later start has nothing left to do.
        Store::connect_and_migrate(&url).await.unwrap();
    }
}

/// Turning on SQLite's write-ahead log needs an exclusive lock that SQLite does not
/// wait for, so a replica opening the file while another one writes must try again
/// instead of failing to start.
#[tokio::test]
async fn a_replica_opening_a_sqlite_file_another_one_is_writing_starts() {
    use prm_store::testing::{TestBackend, backend};
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    use std::time::Duration;

    if backend() != TestBackend::Sqlite {
        return; // PostgreSQL has no journal mode to switch
    }
    let url = empty_database_url().await;
    let other = Database::connect(&url).await.unwrap();
    let writing = other.begin().await.unwrap();
    writing
        .execute_unprepared("CREATE TABLE busy (id INTEGER)")
        .await
        .unwrap();
    let opening = tokio::spawn(async move { Store::connect(&url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    writing.commit().await.unwrap();
    let store = opening
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the second replica did not start: {e}"));
    store.ping().await.unwrap();
}

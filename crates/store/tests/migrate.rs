//! Several replicas start at once against one new database (a first install, or a
//! release that adds a migration): every one of them must come up.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use prm_store::{Store, testing::fresh_database_url};

#[tokio::test]
async fn replicas_migrating_at_once_all_start() {
    let url = fresh_database_url().await;
    let starts = (0..4).map(|_| {
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
            .unwrap_or_else(|e| panic!("replica {replica}: {e}"));
        store.ping().await.unwrap();
    }
    // And the schema is whole: a later start has nothing left to do.
    Store::connect_and_migrate(&url).await.unwrap();
}

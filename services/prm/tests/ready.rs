//! `/ready` follows the database: 503 problem+json once it is gone, while `/health`
//! stays 200; and a database that cannot be reached at start is an error, not a panic.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{collections::HashMap, time::Duration};

use prm_platform::Settings;
use prm_store::testing::{TestBackend, TestDatabase, backend, postgres_admin_url};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

fn settings(database_url: &str) -> Settings {
    let vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("PRM_API_KEYS", "ready-key-0123456789abcdef"),
        ("DATABASE_URL", database_url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Settings::from_map(prm::DEFAULT_PORT, &vars).unwrap()
}

/// Makes the suite's database unreachable the way each backend can lose it.
async fn lose_the_database(url: &str, store: &prm_store::Store) {
    match backend() {
        // Dropped under the running app: its connections are terminated and new ones
        // are refused.
        TestBackend::Postgres => {
            let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
            let admin = Database::connect(postgres_admin_url()).await.unwrap();
            admin
                .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
        // An embedded file has no server to lose; a closed pool is what an unusable
        // database looks like to the app.
        TestBackend::Sqlite => store.connection().clone().close().await.unwrap(),
    }
}

#[tokio::test]
async fn ready_answers_503_problem_json_once_the_database_is_gone() {
    let database = TestDatabase::migrated().await;
    let url = database.url();
    let suite = prm::start(settings(url), false).await.unwrap();
    let address = format!("http://127.0.0.1:{}", suite.port());
    let store = suite.backends().store.clone();
    tokio::spawn(suite.run_until_stopped());
    let client = reqwest::Client::new();

    let ready = client.get(format!("{address}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok", "{body}");

    lose_the_database(url, &store).await;

    let ready = tokio::time::timeout(
        Duration::from_secs(15),
        client.get(format!("{address}/ready")).send(),
    )
    .await
    .expect("/ready hung on a lost database")
    .unwrap();
    let problem = prm_testkit::problem(ready, 503, "not_ready").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    let outcome = problem["checks"]["database"].as_str().unwrap();
    assert!(
        outcome == "not reachable" || outcome == "timed out",
        "{problem}"
    );
    // Nothing about the failure's internals reaches the caller.
    let text = problem.to_string();
    for internal in ["prm_test_", "sqlx", "Connection", "pool"] {
        assert!(!text.contains(internal), "{internal} leaked: {text}");
    }

    let health = client
        .get(format!("{address}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "alive, only not ready");
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_at_start_is_an_error_naming_it() {
    // Port 1 on loopback: nothing listens there.
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        prm::start(settings("postgres://postgres@127.0.0.1:1/prm"), false),
    )
    .await
    .expect("start-up hung on an unreachable database");
    let Err(error) = result else {
        panic!("started without a database");
    };
    let message = format!("{error:#}");
    assert!(message.contains("database"), "{message}");
}

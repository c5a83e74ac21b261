//! Test support: a fresh, empty database per test on the backend chosen by
//! `PRM_TEST_DATABASE` (`sqlite`, the default, or `postgres`). The PostgreSQL
//! server is `PRM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! when it cannot be reached the test fails loudly instead of silently skipping.

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

pub fn backend() -> TestBackend {
    match std::env::var("PRM_TEST_DATABASE").as_deref() {
        Ok("postgres") | Ok("postgresql") => TestBackend::Postgres,
        _ => TestBackend::Sqlite,
    }
}

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Creates an empty database and returns its URL.
pub async fn fresh_database_url() -> String {
    match backend() {
        TestBackend::Sqlite => {
            let path =
                std::env::temp_dir().join(format!("prm-test-{}.db", Uuid::new_v4().simple()));
            format!("sqlite://{}?mode=rwc", path.display())
        }
        TestBackend::Postgres => {
            let admin = std::env::var("PRM_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
            let name = format!("prm_test_{}", Uuid::new_v4().simple());
            let conn = Database::connect(&admin).await.unwrap_or_else(|e| {
                panic!("PostgreSQL at {admin} is not reachable ({e}); run `make services`")
            });
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
            let _ = conn.close().await;
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(base, _)| base);
            format!("{base}/{name}")
        }
    }
}

/// A migrated store on a fresh database.
pub async fn fresh_store() -> crate::Store {
    let url = fresh_database_url().await;
    crate::Store::connect_and_migrate(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot prepare test database: {e}"))
}

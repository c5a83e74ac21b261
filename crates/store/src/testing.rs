//! Test support: a fresh, empty database per test on the backend chosen by
//! `PRM_TEST_DATABASE` (`sqlite`, the default, or `postgres`).
//!
//! On PostgreSQL each test creates its own database through an administration
//! connection, `PRM_TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`], the `postgres`
//! database every installation has, so a fresh server needs no set-up); the test
//! database lives on the same server, with the same user and options. When the server
//! cannot be reached the test fails loudly instead of silently skipping.

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

/// The administration connection: the always-present `postgres` database.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The administration URL in force (`PRM_TEST_POSTGRES_URL` or the default).
pub fn postgres_admin_url() -> String {
    std::env::var("PRM_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// `admin` with its database replaced by `name`, keeping any `?options`.
pub fn with_database(admin: &str, name: &str) -> String {
    let (location, options) = match admin.split_once('?') {
        Some((location, options)) => (location, Some(options)),
        None => (admin, None),
    };
    // `postgres://host:5432` has no database part; `postgres://host/db` has one.
    let authority_start = location.find("://").map_or(0, |i| i + 3);
    let server = match location[authority_start..].find('/') {
        Some(slash) => &location[..authority_start + slash],
        None => location,
    };
    match options {
        Some(options) => format!("{server}/{name}?{options}"),
        None => format!("{server}/{name}"),
    }
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database_url() -> String {
    match backend() {
        TestBackend::Sqlite => {
            let path =
                std::env::temp_dir().join(format!("prm-test-{}.db", Uuid::new_v4().simple()));
            format!("sqlite://{}?mode=rwc", path.display())
        }
        TestBackend::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("prm_test_{}", Uuid::new_v4().simple());
            let conn = Database::connect(&admin).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {admin} is not reachable ({e}); run `make services` \
                     or point PRM_TEST_POSTGRES_URL at a server you can create databases on"
                )
            });
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
            let _ = conn.close().await;
            with_database(&admin, &name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_database_replaces_the_admin_database_and_keeps_options() {
        assert_eq!(
            with_database(DEFAULT_POSTGRES_URL, "prm_test_1"),
            "postgres://postgres@127.0.0.1:5432/prm_test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5433/admin?sslmode=disable", "t"),
            "postgres://u:p@db:5433/t?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://u@db:5432", "t"),
            "postgresql://u@db:5432/t"
        );
        assert_eq!(
            with_database("postgres://u@db?sslmode=require", "t"),
            "postgres://u@db/t?sslmode=require"
        );
    }
}

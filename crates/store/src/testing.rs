//! Test support: a fresh database per test on the backend chosen by
//! `PRM_TEST_DATABASE` (`sqlite`, the default, or `postgres`), already migrated.
//!
//! Migrating every test's database is most of a test's set-up time, so the first test
//! of a run migrates a template once (per set of migrations) and every test database is
//! a copy of it:
//!
//! * PostgreSQL: `prm_template_<hash of the migrations>`, built under an advisory
//!   lock so that test binaries running in parallel agree on one, then
//!   `CREATE DATABASE prm_test_… TEMPLATE prm_template_…`.
//! * SQLite: a migrated file in the temp dir, copied per test.
//!
//! Each test database is created through an administration connection,
//! `PRM_TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`], the `postgres` database
//! every installation has, so a fresh server needs no set-up), on the same server with
//! the same user and options. A [`TestDatabase`] drops its database when it is dropped;
//! `scripts/services.sh` removes whatever a killed run left behind (and the templates,
//! so that a migration edited in place is picked up). When the server cannot be reached
//! the test fails loudly instead of silently skipping.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use prm_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
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

/// Key of the advisory lock under which one test process builds the template
/// ("prmtmplt" in ASCII).
const TEMPLATE_LOCK_KEY: i64 = 0x70726d74_6d706c74;

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

/// A stable name for the current migrations: their names and, when the checkout is
/// there (it is when tests run), their source, so a template built for other
/// migrations, or before one was edited in place, is never used.
pub fn migrations_fingerprint() -> String {
    // FNV-1a: stable across builds and Rust versions, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes.iter().chain(b"\n") {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for migration in Migrator::migrations() {
        feed(migration.name().as_bytes());
    }
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/src");
    if let Ok(entries) = std::fs::read_dir(sources) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            if let Ok(source) = std::fs::read(&file) {
                feed(&source);
            }
        }
    }
    format!("{hash:016x}")
}

/// One test's database, dropped (PostgreSQL) or deleted (SQLite) with this value.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    Postgres {
        name: String,
    },
    Sqlite {
        file: PathBuf,
    },
    /// Given up with [`TestDatabase::keep`]: nothing to clean.
    Kept,
}

impl TestDatabase {
    /// A database with every migration applied (a copy of the run's template).
    pub async fn migrated() -> Self {
        Self::migrated_on(backend()).await
    }

    /// [`TestDatabase::migrated`] on `backend`, whatever `PRM_TEST_DATABASE` says
    /// (suites that test both backends in one run).
    pub async fn migrated_on(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => {
                let template = sqlite_template().await;
                let file = sqlite_file();
                std::fs::copy(template, &file).unwrap_or_else(|e| {
                    panic!("cannot copy the SQLite template to {}: {e}", file.display())
                });
                Self::sqlite(file)
            }
            TestBackend::Postgres => {
                let template = postgres_template().await;
                Self::postgres(Some(template)).await
            }
        }
    }

    /// An empty database, for tests of the migrations themselves.
    pub async fn empty() -> Self {
        match backend() {
            TestBackend::Sqlite => Self::sqlite(sqlite_file()),
            TestBackend::Postgres => Self::postgres(None).await,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a PostgreSQL database (else a SQLite file).
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// The database's name on the PostgreSQL server (`None` for SQLite).
    pub fn postgres_name(&self) -> Option<&str> {
        match &self.place {
            Place::Postgres { name } => Some(name),
            _ => None,
        }
    }

    /// Keeps the database after this value is gone (`scripts/services.sh` removes it at
    /// the start of the next run) and returns its URL.
    pub fn keep(mut self) -> String {
        self.place = Place::Kept;
        std::mem::take(&mut self.url)
    }

    fn sqlite(file: PathBuf) -> Self {
        Self {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            place: Place::Sqlite { file },
        }
    }

    async fn postgres(template: Option<&str>) -> Self {
        let admin_url = postgres_admin_url();
        let name = format!("prm_test_{}", Uuid::new_v4().simple());
        let admin = admin_connection(&admin_url, 2).await;
        let create = match template {
            Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
            None => format!("CREATE DATABASE {name}"),
        };
        admin
            .execute_unprepared(&create)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = admin.close().await;
        Self {
            url: with_database(&admin_url, &name),
            place: Place::Postgres { name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.place, Place::Kept) {
            Place::Kept => {}
            Place::Sqlite { file } => remove_sqlite(&file),
            // Runs even when the test panicked; FORCE ends the sessions of the app's
            // pool. On a thread of its own: this may run inside the test's runtime.
            Place::Postgres { name } => {
                let _ = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async {
                        if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A migrated database that outlives the test (see [`TestDatabase::keep`]); its URL.
pub async fn fresh_database_url() -> String {
    TestDatabase::migrated().await.keep()
}

/// An empty database that outlives the test, for tests of the migrations; its URL.
pub async fn empty_database_url() -> String {
    TestDatabase::empty().await.keep()
}

/// A migrated store on a fresh database.
pub async fn fresh_store() -> crate::Store {
    let url = fresh_database_url().await;
    crate::Store::connect_and_migrate(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot prepare test database: {e}"))
}

async fn admin_connection(url: &str, connections: u32) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(connections).sqlx_logging(false);
    Database::connect(options).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {url} is not reachable ({e}); run `make services` \
             or point PRM_TEST_POSTGRES_URL at a server you can create databases on"
        )
    })
}

/// The name of the run's PostgreSQL template, building it first when no process has.
async fn postgres_template() -> &'static str {
    static READY: OnceLock<String> = OnceLock::new();
    if let Some(name) = READY.get() {
        return name;
    }
    let name = format!("prm_template_{}", migrations_fingerprint());
    let admin_url = postgres_admin_url();
    // One connection: the session lock is released on the session that took it.
    let admin = admin_connection(&admin_url, 1).await;
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})"))
        .await
        .unwrap_or_else(|e| panic!("cannot take the template lock: {e}"));
    let built = build_postgres_template(&admin, &admin_url, &name).await;
    let _ = admin
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})"))
        .await;
    let _ = admin.close().await;
    if let Err(e) = built {
        panic!("cannot build the test template database {name}: {e}");
    }
    READY.get_or_init(|| name)
}

/// Builds `name` under a temporary name and renames it when complete, so a build cut
/// short never leaves a half-migrated template behind.
async fn build_postgres_template(
    admin: &DatabaseConnection,
    admin_url: &str,
    name: &str,
) -> Result<(), String> {
    let exists = admin
        .query_one(Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    if exists {
        return Ok(());
    }
    let building = format!("{name}_wip");
    let run = |sql: String| async move {
        admin
            .execute_unprepared(&sql)
            .await
            .map(|_| ())
            .map_err(|e| format!("{sql}: {e}"))
    };
    run(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await?;
    run(format!("CREATE DATABASE {building}")).await?;
    let db = Database::connect(with_database(admin_url, &building))
        .await
        .map_err(|e| e.to_string())?;
    Migrator::up(&db, None)
        .await
        .map_err(|e| format!("migrations: {e}"))?;
    db.close().await.map_err(|e| e.to_string())?;
    run(format!("ALTER DATABASE {building} RENAME TO {name}")).await?;
    // Nobody connects to it: a connected session would make every copy fail.
    run(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await
}

/// A test database file in the temp dir (`scripts/services.sh` clears `prm-test-*`).
fn sqlite_file() -> PathBuf {
    std::env::temp_dir().join(format!("prm-test-{}.db", Uuid::new_v4().simple()))
}

/// The run's migrated SQLite file, built by the first test that needs it. Built under a
/// name of its own and renamed into place, so readers only ever see a whole file.
async fn sqlite_template() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    if let Some(path) = READY.get() {
        return path;
    }
    let path =
        std::env::temp_dir().join(format!("prm-test-template-{}.db", migrations_fingerprint()));
    if !path.is_file() {
        let building = sqlite_file();
        let url = format!("sqlite://{}?mode=rwc", building.display());
        let store = crate::Store::connect_and_migrate(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot build the SQLite test template: {e}"));
        // Back to a rollback journal: the file alone holds everything, so copying it
        // copies the whole schema (each copy turns the write-ahead log on again).
        store
            .connection()
            .execute_unprepared("PRAGMA journal_mode=DELETE")
            .await
            .unwrap_or_else(|e| panic!("cannot fold the SQLite template's log: {e}"));
        store
            .close()
            .await
            .unwrap_or_else(|e| panic!("cannot close the SQLite test template: {e}"));
        std::fs::rename(&building, &path).unwrap_or_else(|e| {
            panic!("cannot move the SQLite template to {}: {e}", path.display())
        });
        remove_sqlite(&building);
    }
    READY.get_or_init(|| path)
}

fn remove_sqlite(file: &Path) {
    let _ = std::fs::remove_file(file);
    for suffix in ["-wal", "-shm"] {
        let mut side = file.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
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

    #[test]
    fn the_fingerprint_names_a_valid_database_and_is_stable() {
        let fingerprint = migrations_fingerprint();
        assert_eq!(fingerprint, migrations_fingerprint());
        assert_eq!(fingerprint.len(), 16);
        assert!(fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

//! Persistence of the PRM suite: sea-orm entities (private) and repositories
//! that speak domain types. Runs on PostgreSQL and on SQLite (embedded mode)
//! from the same code; the schema itself enforces integrity (see `prm-migrations`).
//!
//! Services see domain types, [`Store`], [`Tx`] and [`StoreError`], never sea-orm:
//! a change and the events announcing it are one [`Store::write`]. Lost database
//! connections are replaced and the work tried again where that is safe (see the
//! `pool` and `transaction` modules); what still fails is [`StoreError::Unavailable`].

mod appointments;
pub mod audit;
mod clinic;
pub mod conversations;
mod entities;
mod error;
mod export;
pub mod inbound_messages;
pub mod outbox;
mod pool;
pub mod reminders;
pub mod seeding;
pub mod stats;
pub mod templates;
pub mod testing;
mod transaction;
pub mod waitlist;

use std::{sync::Arc, time::Duration};

use prm_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    TransactionTrait,
};

pub use appointments::{AppointmentFilter, NewAppointment};
pub use clinic::{LocationFilter, PatientFilter, PractitionerFilter, ScheduleFilter};
pub use error::{Conflict, StoreError};
pub use export::{ExportCursor, ExportRow};
pub use transaction::{Tx, Work};

/// `limit`/`offset` of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

/// One page of a list and the total number of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Key of the PostgreSQL advisory lock under which replicas migrate one at a time
/// ("prmmigrt" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x70726d6d_69677274;

/// A connection pool to the relational store.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    health: Arc<pool::Health>,
    /// How to reach PostgreSQL outside the pool (`None` on SQLite).
    postgres: Option<pool::PostgresOptions>,
}

impl Store {
    /// Connects to `postgres://…` or `sqlite://…` (creating the SQLite file and its
    /// folder when needed). Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let health = pool::Health::new();
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let (db, options) = pool::connect_postgres(url, health.clone()).await?;
            return Ok(Self {
                db,
                health,
                postgres: Some(options),
            });
        }
        let sqlite = url.starts_with("sqlite:");
        if sqlite {
            prepare_sqlite_path(url)?;
        }
        let mut options = ConnectOptions::new(url.to_owned());
        // SQLite allows one writer; with several connections a transaction that reads and
        // then writes fails (SQLITE_BUSY_SNAPSHOT) when another commits in between. One
        // connection serializes the embedded mode's writes instead. An embedded file has
        // no server to lose its connection to: no health checks.
        options
            .max_connections(if sqlite {
                1
            } else {
                pool::POSTGRES_MAX_CONNECTIONS
            })
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .map_err(StoreError::Unavailable)?;
        if sqlite {
            use_write_ahead_log(&db).await?;
        }
        Ok(Self {
            db,
            health,
            postgres: None,
        })
    }

    /// Connects and brings the schema up to date.
    pub async fn connect_and_migrate(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations. Safe when several replicas start at once against one
    /// database: on PostgreSQL they take turns under an advisory lock; SQLite has no
    /// such lock, so a process that lost the race retries and finds the work done.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.backend() == DatabaseBackend::Postgres {
            // The lock lasts as long as this transaction; migrations run on other connections.
            let turn = self.db.begin().await?;
            turn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await?;
            Migrator::up(&self.db, None).await?;
            turn.commit().await?;
            return Ok(());
        }
        let mut attempt: u64 = 0;
        loop {
            match Migrator::up(&self.db, None).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %e, "migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether the database answers, for readiness probes. A pooled connection that
    /// turns out dead does not make the database unreachable: the ping is then tried on
    /// a new connection of its own (PostgreSQL), or once more on the pool (SQLite).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let Err(error) = self.db.ping().await else {
            return Ok(());
        };
        if !error::is_connection_lost(&error) {
            return Err(StoreError::Unavailable(error));
        }
        self.health.connection_lost();
        tracing::info!(%error, "a pooled database connection was dead; pinging on a new one");
        match &self.postgres {
            Some(options) => pool::ping_fresh(options).await,
            None => self.db.ping().await.map_err(StoreError::Unavailable),
        }
    }

    /// The pool for reads: a `SELECT` that lost its connection is read again.
    pub(crate) fn reads(&self) -> pool::Reads<'_> {
        pool::Reads {
            db: &self.db,
            health: &self.health,
        }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// The sea-orm pool, for the other adapters (the bus's outbox relay and idempotent
    /// consumers) and for tests. Services use the repositories and [`Store::write`].
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }
}

/// Turns on SQLite's write-ahead log, which lets readers proceed while a booking
/// writes (foreign keys are on by default in sqlx).
///
/// Switching the journal mode needs an exclusive lock that SQLite does not wait for
/// (its busy timeout does not apply), so several processes opening one new file at
/// once get "database is locked" at once. The switch is tried again for about five
/// seconds, the time the busy timeout would have waited.
async fn use_write_ahead_log(db: &DatabaseConnection) -> Result<(), StoreError> {
    let mut attempt: u64 = 0;
    loop {
        match db.execute_unprepared("PRAGMA journal_mode=WAL").await {
            Ok(_) => return Ok(()),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(Conflict::Transient) if attempt < 20 => {
                    attempt += 1;
                    tracing::debug!(
                        attempt,
                        "SQLite journal mode is being switched elsewhere; retrying"
                    );
                    tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
                }
                other => return Err(other),
            },
        }
    }
}

fn prepare_sqlite_path(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Unavailable(sea_orm::DbErr::Custom(format!(
                "cannot create the folder of the SQLite database {}: {e}",
                parent.display()
            )))
        })?;
    }
    Ok(())
}

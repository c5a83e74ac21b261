//! The connection pool, and how it survives connections the server dropped.
//!
//! PostgreSQL connections die under a pool that does not use them: a failover, a
//! restart, `pg_terminate_backend`, or a proxy's idle timeout closes them, and the pool
//! only learns it when it hands one out and the next statement fails. Three things keep
//! that from reaching a patient or the front desk:
//!
//! 1. sqlx pings every connection when it goes back to the pool and closes it if the
//!    ping fails, so a connection that failed in use is never handed out again (see
//!    `PoolConnection::return_to_pool` in sqlx-core 0.8).
//! 2. Before handing out an idle connection, the pool pings it when it may have died
//!    unseen ([`Health::suspects`]): it has been idle longer than [`IDLE_PING_AFTER`], or
//!    it was already idle when the store last saw a connection lost. Under steady
//!    traffic neither holds, so no round trip is added; after a failover each old
//!    connection costs one ping, and the dead ones are replaced.
//! 3. Reads and transactions that failed on a lost connection before COMMIT run again
//!    (see [`RETRY_DELAYS`] and `Store::write`), and say so here
//!    ([`Health::connection_lost`]), which arms point 2 for every other idle connection.
//!
//! Pinging every connection on every acquire (`test_before_acquire(true)`) would also
//! do it, at one extra round trip per transaction or read. Measured on one machine
//! with PostgreSQL on localhost (`benches/acquire_ping.rs`, 8 concurrent tasks): a
//! booking-sized write transaction took 3–16 % longer, a one-row read 33–49 % longer;
//! over a real network the round trip, and so the cost, is larger.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    SqlxPostgresConnector, Statement,
    sqlx::{
        self, Connection,
        postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
    },
};

use crate::{StoreError, error::is_connection_lost};

/// The largest pool of one process on PostgreSQL.
pub(crate) const POSTGRES_MAX_CONNECTIONS: u32 = 16;

/// A pooled connection idle for longer than this is pinged before use: proxies and NAT
/// tables drop idle connections silently (often after a minute or more).
pub(crate) const IDLE_PING_AFTER: Duration = Duration::from_secs(30);

/// Idle connections beyond `min_connections` are closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Every connection is replaced after this long (spreads reconnections after a failover
/// back to the primary, and frees server memory).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How long to wait for a pooled connection before the request is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits before each further attempt of a read or transaction that failed on a lost
/// connection: the first again at once (the pool now pings the connections that may be
/// dead, so it gets a live one), then a little later for a server that is restarting.
/// Three more attempts in all; what still fails is `StoreError::Unavailable`.
pub(crate) const RETRY_DELAYS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(50),
    Duration::from_millis(250),
];

/// What the pool knows about lost connections, shared by the store and the pool's
/// `before_acquire` hook.
#[derive(Debug)]
pub(crate) struct Health {
    epoch: Instant,
    /// Nanoseconds after `epoch` when a lost connection was last seen, plus one (0: never).
    last_loss: AtomicU64,
}

impl Health {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            last_loss: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Notes that a connection was found dead: every connection idle since before now
    /// may be dead too, and is pinged before its next use.
    pub(crate) fn connection_lost(&self) {
        self.last_loss.store(self.now() + 1, Ordering::Relaxed);
    }

    /// Whether a connection idle for `idle_for` may have died without anybody noticing.
    /// A connection that went idle after the last loss was seen is known alive: sqlx
    /// pinged it on its way back into the pool.
    pub(crate) fn suspects(&self, idle_for: Duration) -> bool {
        if idle_for >= IDLE_PING_AFTER {
            return true;
        }
        match self.last_loss.load(Ordering::Relaxed) {
            0 => false,
            loss => {
                let since_loss = Duration::from_nanos(self.now().saturating_sub(loss - 1));
                idle_for >= since_loss
            }
        }
    }
}

/// How the store reaches a PostgreSQL server, kept to open a connection outside the
/// pool (see [`ping_fresh`]).
pub(crate) type PostgresOptions = PgConnectOptions;

/// Opens the PostgreSQL pool with the health checks described in the module docs.
pub(crate) async fn connect_postgres(
    url: &str,
    health: Arc<Health>,
) -> Result<(DatabaseConnection, PostgresOptions), StoreError> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e: sqlx::Error| StoreError::Unavailable(DbErr::Conn(e.into_runtime())))?;
    let options = sqlx::ConnectOptions::disable_statement_logging(options);
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Some(IDLE_TIMEOUT))
        .max_lifetime(Some(MAX_LIFETIME))
        // sqlx already pings every connection when it goes back to the pool; pinging
        // again when it is taken out would cost every transaction another round trip.
        // Only connections that may have died unseen are pinged (below).
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            let health = health.clone();
            Box::pin(async move {
                if !health.suspects(meta.idle_for) {
                    return Ok(true);
                }
                match conn.ping().await {
                    Ok(()) => Ok(true),
                    Err(error) => {
                        tracing::info!(%error, idle_ms = meta.idle_for.as_millis() as u64, "a pooled database connection was dead; replacing it");
                        // What killed it likely killed the others idle as long.
                        health.connection_lost();
                        // `false` closes it; the pool then takes another or opens one.
                        Ok(false)
                    }
                }
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(|e| StoreError::Unavailable(DbErr::Conn(e.into_runtime())))?;
    Ok((
        SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
        options,
    ))
}

/// Pings the server on a new connection of its own, outside the pool: whether the
/// database is reachable, whatever state the pooled connections are in.
pub(crate) async fn ping_fresh(options: &PostgresOptions) -> Result<(), StoreError> {
    let unavailable = |e: sqlx::Error| StoreError::Unavailable(DbErr::Conn(e.into_runtime()));
    let mut conn = PgConnection::connect_with(options)
        .await
        .map_err(unavailable)?;
    conn.ping().await.map_err(unavailable)?;
    // The answer is in; a failure to say goodbye does not change it.
    let _ = conn.close().await;
    Ok(())
}

trait IntoRuntime {
    fn into_runtime(self) -> sea_orm::RuntimeErr;
}

impl IntoRuntime for sqlx::Error {
    fn into_runtime(self) -> sea_orm::RuntimeErr {
        sea_orm::RuntimeErr::SqlxError(self)
    }
}

/// The pool as the store's reads use it: a `SELECT` that failed because its connection
/// was lost runs again (a read changes nothing, so running it twice is always safe).
/// Anything else goes through once, as on the pool.
pub(crate) struct Reads<'a> {
    pub(crate) db: &'a DatabaseConnection,
    pub(crate) health: &'a Health,
}

impl Reads<'_> {
    async fn retrying<T, F, Fut>(&self, stmt: Statement, run: F) -> Result<T, DbErr>
    where
        F: Fn(Statement) -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, DbErr>> + Send,
        T: Send,
    {
        let repeatable = is_select(&stmt.sql);
        let mut delays = RETRY_DELAYS.iter();
        loop {
            match run(stmt.clone()).await {
                Err(e) if repeatable && is_connection_lost(&e) => {
                    self.health.connection_lost();
                    let Some(delay) = delays.next() else {
                        return Err(e);
                    };
                    tracing::info!(error = %e, "a read lost its database connection; reading again");
                    tokio::time::sleep(*delay).await;
                }
                other => return other,
            }
        }
    }
}

fn is_select(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("select"))
}

#[async_trait::async_trait]
impl ConnectionTrait for Reads<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.db.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.db.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.retrying(stmt, |s| self.db.query_one(s)).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.retrying(stmt, |s| self.db.query_all(s)).await
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_that_may_have_died_unseen_are_pinged() {
        let health = Health::new();
        // Nothing lost yet: only long-idle connections.
        assert!(!health.suspects(Duration::from_millis(5)));
        assert!(health.suspects(IDLE_PING_AFTER));

        std::thread::sleep(Duration::from_millis(20));
        health.connection_lost();
        // Idle since before the loss (25 ms ago > the 0 ms since the loss): suspect.
        assert!(health.suspects(Duration::from_millis(25)));
        std::thread::sleep(Duration::from_millis(20));
        // Went idle after the loss (pinged on release then): trusted.
        assert!(!health.suspects(Duration::from_millis(5)));
    }

    #[test]
    fn only_selects_are_read_again() {
        assert!(is_select("SELECT 1"));
        assert!(is_select("  select \"id\" FROM x"));
        assert!(!is_select("INSERT INTO x VALUES (1) RETURNING id"));
        assert!(!is_select(
            "WITH m AS (INSERT INTO x VALUES (1) RETURNING id) SELECT 1"
        ));
        assert!(!is_select("sel"));
    }
}

//! Redis adapter on a deadpool-redis pool.
//!
//! Every operation is bounded: the pool has wait/create/recycle timeouts and
//! each call (checkout + command) runs under [`RedisOptions::op_timeout`], so
//! a Redis that is down or hanging yields [`StateError::Unavailable`] within
//! a few seconds instead of blocking a request. Multi-command writes run as
//! one `MULTI`/`EXEC` transaction so the value and its TTL change together.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, RedisError};
use deadpool_redis::{Config, Connection, Pool, PoolConfig, PoolError, Runtime, Timeouts};

use crate::{StateError, StateResult, StateStore, normalize_prefix, ttl_millis};

/// Pool sizing and timeouts of a [`RedisStateStore`].
#[derive(Debug, Clone, Copy)]
pub struct RedisOptions {
    /// Most connections the pool opens. Redis connections are multiplexed,
    /// so a handful serves a busy service.
    pub max_connections: usize,
    /// Bound on opening a new connection (TCP connect + handshake).
    pub connect_timeout: Duration,
    /// Bound on waiting for a free pooled connection.
    pub wait_timeout: Duration,
    /// Bound on one whole operation, checkout included.
    pub op_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(2),
            op_timeout: Duration::from_secs(3),
        }
    }
}

/// The Redis [`StateStore`]. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct RedisStateStore {
    pool: Pool,
    prefix: String,
    op_timeout: Duration,
}

impl std::fmt::Debug for RedisStateStore {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStateStore")
            .field("prefix", &self.prefix)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl RedisStateStore {
    /// A store on `url` (`redis://[:password@]host[:port][/db]`) with
    /// default [`RedisOptions`]. Connects lazily: this only validates the
    /// URL; use [`StateStore::ping`] to check that Redis answers.
    pub fn new(url: &str, prefix: &str) -> StateResult<Self> {
        Self::with_options(url, prefix, RedisOptions::default())
    }

    /// Like [`RedisStateStore::new`] with explicit pool sizing and timeouts.
    pub fn with_options(url: &str, prefix: &str, options: RedisOptions) -> StateResult<Self> {
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            max_size: options.max_connections.max(1),
            timeouts: Timeouts {
                wait: Some(options.wait_timeout),
                create: Some(options.connect_timeout),
                recycle: Some(options.connect_timeout),
            },
            ..PoolConfig::default()
        });
        // The error names the problem, not the URL (which may hold a password).
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StateError::Config(format!("REDIS_URL: {e}")))?;
        Ok(Self {
            pool,
            prefix: normalize_prefix(prefix),
            op_timeout: options.op_timeout,
        })
    }

    /// Another store on the same pool under another prefix.
    pub fn share_with_prefix(&self, prefix: &str) -> Self {
        Self {
            pool: self.pool.clone(),
            prefix: normalize_prefix(prefix),
            op_timeout: self.op_timeout,
        }
    }

    /// The prefix applied to every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Checks a connection out and runs `f` on it, all within `op_timeout`.
    async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> StateResult<T>
    where
        F: FnOnce(Connection) -> Fut + Send,
        Fut: Future<Output = Result<T, RedisError>> + Send,
    {
        let work = async {
            let conn = self.pool.get().await.map_err(pool_error)?;
            f(conn).await.map_err(redis_error)
        };
        let result = match tokio::time::timeout(self.op_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(StateError::Unavailable(format!(
                "no answer within {:?}",
                self.op_timeout
            ))),
        };
        if let Err(err) = &result {
            // Keys and values can hold patient data: log the operation only.
            tracing::warn!(op, error = %err, "redis state operation failed");
        }
        result
    }
}

fn pool_error(err: PoolError) -> StateError {
    match err {
        PoolError::Backend(e) => redis_error(e),
        PoolError::Timeout(kind) => StateError::Unavailable(format!("pool timeout ({kind:?})")),
        PoolError::Closed => StateError::Unavailable("pool closed".to_owned()),
        other => StateError::Backend(other.to_string()),
    }
}

fn redis_error(err: RedisError) -> StateError {
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
        || err.is_unrecoverable_error()
    {
        StateError::Unavailable(err.to_string())
    } else {
        StateError::Backend(err.to_string())
    }
}

fn px(ttl: Duration) -> u64 {
    ttl_millis(ttl)
}

#[async_trait]
impl StateStore for RedisStateStore {
    async fn get(&self, key: &str) -> StateResult<Option<String>> {
        let key = self.key(key);
        self.run("get", |mut conn| async move {
            redis::cmd("GET").arg(key).query_async(&mut conn).await
        })
        .await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> StateResult<()> {
        let key = self.key(key);
        let value = value.to_owned();
        self.run("set", |mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(px(ttl))
                .query_async(&mut conn)
                .await
        })
        .await
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> StateResult<bool> {
        let key = self.key(key);
        let value = value.to_owned();
        let reply: Option<String> = self
            .run("set_if_absent", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(px(ttl))
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        // "OK" when set, nil when the key existed.
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> StateResult<bool> {
        let key = self.key(key);
        let removed: u64 = self
            .run("delete", |mut conn| async move {
                redis::cmd("DEL").arg(key).query_async(&mut conn).await
            })
            .await?;
        Ok(removed > 0)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> StateResult<bool> {
        let key = self.key(key);
        let updated: u64 = self
            .run("expire", |mut conn| async move {
                redis::cmd("PEXPIRE")
                    .arg(key)
                    .arg(px(ttl))
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(updated == 1)
    }

    async fn ttl(&self, key: &str) -> StateResult<Option<Duration>> {
        let key = self.key(key);
        let millis: i64 = self
            .run("ttl", |mut conn| async move {
                redis::cmd("PTTL").arg(key).query_async(&mut conn).await
            })
            .await?;
        // -2: no such key; -1: no expiry.
        Ok(u64::try_from(millis).ok().map(Duration::from_millis))
    }

    async fn hash_set_all(
        &self,
        key: &str,
        fields: &[(String, String)],
        ttl: Duration,
    ) -> StateResult<()> {
        let key = self.key(key);
        let fields = fields.to_vec();
        self.run("hash_set_all", |mut conn| async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            if !fields.is_empty() {
                pipe.cmd("HSET").arg(&key).arg(fields).ignore();
            }
            pipe.cmd("PEXPIRE").arg(&key).arg(px(ttl)).ignore();
            pipe.query_async::<()>(&mut conn).await
        })
        .await
    }

    async fn hash_get(&self, key: &str, field: &str) -> StateResult<Option<String>> {
        let key = self.key(key);
        let field = field.to_owned();
        self.run("hash_get", |mut conn| async move {
            redis::cmd("HGET")
                .arg(key)
                .arg(field)
                .query_async(&mut conn)
                .await
        })
        .await
    }

    async fn hash_get_all(&self, key: &str) -> StateResult<HashMap<String, String>> {
        let key = self.key(key);
        self.run("hash_get_all", |mut conn| async move {
            redis::cmd("HGETALL").arg(key).query_async(&mut conn).await
        })
        .await
    }

    async fn list_push_capped(
        &self,
        key: &str,
        value: &str,
        max_len: usize,
        ttl: Duration,
    ) -> StateResult<()> {
        let key = self.key(key);
        let value = value.to_owned();
        self.run("list_push_capped", |mut conn| async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            if max_len == 0 {
                // `LTRIM key -0 -1` would keep everything.
                pipe.cmd("DEL").arg(&key).ignore();
            } else {
                let keep_from = -i64::try_from(max_len).unwrap_or(i64::MAX);
                pipe.cmd("RPUSH").arg(&key).arg(value).ignore();
                pipe.cmd("LTRIM").arg(&key).arg(keep_from).arg(-1).ignore();
                pipe.cmd("PEXPIRE").arg(&key).arg(px(ttl)).ignore();
            }
            pipe.query_async::<()>(&mut conn).await
        })
        .await
    }

    async fn list_replace(&self, key: &str, values: &[String], ttl: Duration) -> StateResult<()> {
        let key = self.key(key);
        let values = values.to_vec();
        self.run("list_replace", |mut conn| async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("DEL").arg(&key).ignore();
            if !values.is_empty() {
                pipe.cmd("RPUSH").arg(&key).arg(values).ignore();
                pipe.cmd("PEXPIRE").arg(&key).arg(px(ttl)).ignore();
            }
            pipe.query_async::<()>(&mut conn).await
        })
        .await
    }

    async fn list_range(&self, key: &str) -> StateResult<Vec<String>> {
        let key = self.key(key);
        self.run("list_range", |mut conn| async move {
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
        })
        .await
    }

    async fn ping(&self) -> StateResult<()> {
        let pong: String = self
            .run("ping", |mut conn| async move {
                redis::cmd("PING").query_async(&mut conn).await
            })
            .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StateError::Backend(format!(
                "unexpected PING reply {pong:?}"
            )))
        }
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

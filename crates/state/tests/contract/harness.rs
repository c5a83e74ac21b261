//! Opens a backend for one contract case and cleans up after it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use futures::FutureExt;
use prm_state::{EncryptionKey, MemoryStateStore, RedisStateStore, StateStore, encrypted};
use uuid::Uuid;

/// What a contract case gets: stores sharing one backend under different
/// prefixes, all below a root prefix unique to this test.
#[derive(Clone)]
pub struct Ctx {
    /// The store under test (prefix `{root}a:`).
    pub a: Arc<dyn StateStore>,
    /// Same backend, prefix `{root}b:`.
    pub b: Arc<dyn StateStore>,
    /// Same backend, prefix `{root}` only, never encrypted: sees `a`'s keys
    /// as `a:{key}`, with their values as stored.
    pub root: Arc<dyn StateStore>,
    /// `a` and `b` encrypt their values (with one key, as one deployment).
    pub encrypted: bool,
}

pub enum Harness {
    Memory(Ctx),
    Redis { ctx: Ctx, url: String, root: String },
}

fn root_prefix() -> String {
    format!("test:{}:", Uuid::new_v4())
}

pub async fn memory() -> Harness {
    let root = root_prefix();
    let base = MemoryStateStore::with_prefix(&root);
    Harness::Memory(Ctx {
        a: Arc::new(base.share_with_prefix(&format!("{root}a"))),
        b: Arc::new(base.share_with_prefix(&format!("{root}b"))),
        root: Arc::new(base),
        encrypted: false,
    })
}

pub fn redis_url() -> String {
    std::env::var("REDIS_TEST_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The real Redis. The tests use it for real: when it is unreachable they fail,
/// naming it and how to start it.
pub async fn redis() -> Harness {
    let url = redis_url();
    let root = root_prefix();
    let base = RedisStateStore::new(&url, &root).expect("valid REDIS_TEST_URL");
    if let Err(err) = base.ping().await {
        panic!(
            "Redis is not reachable at {url} (REDIS_TEST_URL, else REDIS_URL, else \
             redis://127.0.0.1:6379): {err}. These tests use the real server: start it with \
             `make services` (scripts/services.sh), then run the tests again."
        );
    }
    let ctx = Ctx {
        a: Arc::new(base.share_with_prefix(&format!("{root}a"))),
        b: Arc::new(base.share_with_prefix(&format!("{root}b"))),
        root: Arc::new(base),
        encrypted: false,
    };
    Harness::Redis { ctx, url, root }
}

/// `a` and `b` wrapped in the encrypting decorator; `root` stays plain.
fn encrypt(ctx: &mut Ctx) {
    let key = EncryptionKey::generate();
    ctx.a = encrypted(Arc::clone(&ctx.a), key.clone(), None);
    ctx.b = encrypted(Arc::clone(&ctx.b), key, None);
    ctx.encrypted = true;
}

pub async fn memory_encrypted() -> Harness {
    let mut harness = memory().await;
    match &mut harness {
        Harness::Memory(ctx) | Harness::Redis { ctx, .. } => encrypt(ctx),
    }
    harness
}

pub async fn redis_encrypted() -> Harness {
    let mut harness = redis().await;
    match &mut harness {
        Harness::Memory(ctx) | Harness::Redis { ctx, .. } => encrypt(ctx),
    }
    harness
}

/// Deletes every key under `root` (SCAN, not KEYS, to stay polite on a
/// shared Redis) and returns how many there were.
pub async fn delete_redis_keys(url: &str, root: &str) -> usize {
    let pool = deadpool_redis::Config::from_url(url)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .expect("pool");
    let mut conn = pool.get().await.expect("redis connection for cleanup");
    let mut cursor: u64 = 0;
    let mut keys: Vec<String> = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{root}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    if !keys.is_empty() {
        let _: u64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }
    keys.len()
}

/// Runs `case` against the backend `open` gives, then cleans up, even when
/// the case panics (the panic is re-raised afterwards).
pub async fn run<O, OF, C, CF>(open: O, case: C)
where
    O: FnOnce() -> OF,
    OF: Future<Output = Harness>,
    C: FnOnce(Ctx) -> CF,
    CF: Future<Output = ()>,
{
    let harness = open().await;
    let ctx = match &harness {
        Harness::Memory(ctx) | Harness::Redis { ctx, .. } => ctx.clone(),
    };
    // Bounded: a hanging backend fails the test instead of stalling CI.
    let outcome = AssertUnwindSafe(tokio::time::timeout(Duration::from_secs(60), case(ctx)))
        .catch_unwind()
        .await;
    if let Harness::Redis { url, root, .. } = &harness {
        delete_redis_keys(url, root).await;
        assert_eq!(
            delete_redis_keys(url, root).await,
            0,
            "cleanup must leave no test keys behind"
        );
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("contract case did not finish within 60 s"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

//! Short-lived key-value state with time-to-live: a Redis adapter for
//! production, an in-memory adapter for the embedded mode and tests, and an
//! encrypting decorator over either.
//!
//! # What lives here
//!
//! Remembered slot offers (15 minutes), webhook de-duplication markers
//! ([`StateStore::set_if_absent`] with a 24 hour TTL) and the conversation
//! state of ARCHITECTURE §5, whose keys [`keys`] builds: the hash
//! `conversation:{id}:state`, the lists `conversation:{id}:required_fields`
//! and `conversation:{id}:messages` (recent history, capped with
//! [`StateStore::list_push_capped`]) and the string `phone_to_convo:{phone}`.
//!
//! # Encryption at rest
//!
//! The conversation state holds health data, so it is stored encrypted:
//! [`encrypted`] wraps any store in an [`EncryptedStateStore`], which seals
//! every value (strings, hash field values, list items) with
//! XChaCha20-Poly1305 under `STATE_ENCRYPTION_KEY` ([`EncryptionKeys`]
//! reads it and `STATE_ENCRYPTION_KEY_PREVIOUS`). Keys and hash field names
//! stay in clear: they are the contract of §5 and what operators see in
//! `redis-cli`. Each value carries the id of the key that sealed it, so after
//! a rotation values written with the previous key still read while new
//! writes use the new one; once the longest TTL has passed the previous key
//! can go. Each ciphertext is bound to its key (and hash field), so a value
//! copied elsewhere does not decrypt. A value that does not decrypt
//! (plaintext from before encryption, a key no longer configured, tampering)
//! reads as missing, like an expired one, with one warning per key.
//! Without a configured key a process generates its own
//! ([`EncryptionKeys::generated`]): fine in development for one process
//! (the all-in-one `prm`), refused in production by the caller. Processes
//! sharing one Redis must share the key, or each reads the others' values
//! as missing. Sealing makes a value about 130 bytes longer
//! (a 200-byte value is stored in 332) and costs about 5 µs per write and
//! read (`benches/encryption.rs`), small next to a Redis round trip.
//!
//! # TTL semantics
//!
//! * Every write takes a TTL and every write (re)sets the key's TTL to it:
//!   `set`, `set_if_absent` (when it wins), `hash_set_all`,
//!   `list_push_capped` and `list_replace`. A key that keeps being written
//!   stays alive; a key nobody touches disappears after its TTL. Reads never
//!   extend a TTL; call [`StateStore::expire`] to keep a key alive without
//!   writing it.
//! * TTLs have millisecond precision (Redis `PX`/`PEXPIRE`); a zero TTL is
//!   treated as one millisecond, i.e. "expires at once".
//! * An expired key behaves exactly like a key that was never written:
//!   `get` is `None`, `hash_get_all` is empty, `list_range` is empty and
//!   `set_if_absent` succeeds again.
//! * Both adapters, plain and encrypted, implement the same semantics and are
//!   checked by one contract test suite (`tests/contract`).
//!
//! # Why Redis is not the source of truth
//!
//! Everything stored here can vanish at any moment: it expires, Redis may be
//! restarted without persistence, evict keys under memory pressure, or be
//! unreachable. Conversations, messages and appointments live in the
//! database; this store only caches the in-flight part of a conversation and
//! short-lived markers. Callers must therefore treat `None` as "rebuild or
//! restart gracefully" and decide themselves how to degrade on
//! [`StateError::Unavailable`] (e.g. process a webhook without de-duplication
//! rather than answer 500). Nothing here panics or hangs when Redis is down:
//! every Redis call is bounded by timeouts.
//!
//! # Key prefix
//!
//! Adapters put a prefix (`REDIS_KEY_PREFIX`) in front of every key, so
//! tenants sharing one Redis, and parallel test runs, never collide. Callers
//! always pass unprefixed keys.

mod encrypted;
mod encryption_key;
mod error;
mod json;
pub mod keys;
mod memory;
mod redis_store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use encrypted::EncryptedStateStore;
pub use encryption_key::{EncryptionKey, EncryptionKeys, KEY_LEN, KeyConfigError, KeyError};
pub use error::StateError;
pub use json::{get_json, set_json, set_json_if_absent};
pub use memory::MemoryStateStore;
pub use redis_store::{RedisOptions, RedisStateStore};

/// Result alias for state operations.
pub type StateResult<T> = Result<T, StateError>;

/// The conversation-state port: a key-value store whose keys expire.
///
/// Keys are given without the adapter's prefix. Values are opaque strings;
/// use [`get_json`] / [`set_json`] for structured values. Operations on a key
/// holding another kind of value (e.g. `get` on a hash) fail with
/// [`StateError::Backend`], as Redis does.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The string at `key`, or `None` when missing or expired.
    async fn get(&self, key: &str) -> StateResult<Option<String>>;

    /// Stores `value` at `key` (replacing whatever was there) for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> StateResult<()>;

    /// Atomically stores `value` only when `key` does not exist (Redis
    /// `SET NX PX`). `true` when this call stored it; the TTL is untouched
    /// when it returns `false`.
    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> StateResult<bool>;

    /// Removes `key` of any kind. `true` when it existed.
    async fn delete(&self, key: &str) -> StateResult<bool>;

    /// Sets the TTL of an existing key. `false` when the key does not exist.
    async fn expire(&self, key: &str, ttl: Duration) -> StateResult<bool>;

    /// Remaining time to live; `None` when the key does not exist (or,
    /// which this crate never produces, has no expiry).
    async fn ttl(&self, key: &str) -> StateResult<Option<Duration>>;

    /// Sets the given fields of the hash at `key` (other fields are kept,
    /// as with Redis `HSET`) and refreshes its TTL, atomically.
    async fn hash_set_all(
        &self,
        key: &str,
        fields: &[(String, String)],
        ttl: Duration,
    ) -> StateResult<()>;

    /// One field of the hash at `key`.
    async fn hash_get(&self, key: &str, field: &str) -> StateResult<Option<String>>;

    /// All fields of the hash at `key`; empty when missing or expired.
    async fn hash_get_all(&self, key: &str) -> StateResult<HashMap<String, String>>;

    /// Appends `value` to the list at `key`, keeps only the newest
    /// `max_len` items and refreshes the TTL, atomically. `max_len == 0`
    /// leaves no list at all.
    async fn list_push_capped(
        &self,
        key: &str,
        value: &str,
        max_len: usize,
        ttl: Duration,
    ) -> StateResult<()>;

    /// Replaces the whole list at `key` with `values` (in order) and sets
    /// its TTL, atomically. An empty `values` deletes the list.
    async fn list_replace(&self, key: &str, values: &[String], ttl: Duration) -> StateResult<()>;

    /// The whole list at `key`, oldest first; empty when missing or expired.
    async fn list_range(&self, key: &str) -> StateResult<Vec<String>>;

    /// Readiness check: `Ok` when the backend answers.
    async fn ping(&self) -> StateResult<()>;

    /// Short name of the adapter (`"redis"` or `"memory"`), for readiness
    /// reports and logs.
    fn backend(&self) -> &'static str;
}

/// Picks the adapter from configuration (ARCHITECTURE §7): Redis when
/// `redis_url` (`REDIS_URL`) is set and not blank, the in-memory store
/// otherwise. `prefix` is `REDIS_KEY_PREFIX`.
///
/// Does not connect: the Redis pool connects lazily, so a Redis that is down
/// shows up as [`StateError::Unavailable`] from operations and from
/// [`StateStore::ping`] (wire `ping` into `/ready`). A malformed URL is a
/// [`StateError::Config`].
pub fn from_config(
    redis_url: Option<&str>,
    prefix: Option<&str>,
) -> StateResult<Arc<dyn StateStore>> {
    let prefix = prefix.unwrap_or("");
    match redis_url.map(str::trim).filter(|url| !url.is_empty()) {
        Some(url) => Ok(Arc::new(RedisStateStore::new(url, prefix)?)),
        None => Ok(Arc::new(MemoryStateStore::with_prefix(prefix))),
    }
}

/// Wraps `inner` so every value is encrypted at rest with `current`, and
/// values sealed with `previous` still read (see "Encryption at rest").
/// Typically `encrypted(from_config(url, prefix)?, keys.current, keys.previous)`.
pub fn encrypted(
    inner: Arc<dyn StateStore>,
    current: EncryptionKey,
    previous: Option<EncryptionKey>,
) -> Arc<dyn StateStore> {
    Arc::new(EncryptedStateStore::new(inner, current, previous))
}

/// Normalizes a key prefix: a non-empty prefix always ends with `:`, so
/// prefixes `prm` and `prm2` can never produce the same key.
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let prefix = prefix.trim();
    if prefix.is_empty() || prefix.ends_with(':') {
        prefix.to_owned()
    } else {
        format!("{prefix}:")
    }
}

/// TTL in whole milliseconds, at least 1 (see "TTL semantics").
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_gets_a_separator_once() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("prm"), "prm:");
        assert_eq!(normalize_prefix("prm:"), "prm:");
        assert_eq!(normalize_prefix(" tenant-a "), "tenant-a:");
    }

    #[test]
    fn ttl_is_rounded_to_at_least_one_millisecond() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_millis(Duration::from_secs(900)), 900_000);
    }

    #[test]
    fn from_config_picks_memory_without_url_and_redis_with_one() {
        let store = from_config(None, None).expect("memory store");
        assert_eq!(store.backend(), "memory");
        let store = from_config(Some("  "), Some("prm")).expect("blank url means memory");
        assert_eq!(store.backend(), "memory");
        let store = from_config(Some("redis://127.0.0.1:6379"), Some("prm")).expect("redis");
        assert_eq!(store.backend(), "redis");
    }

    #[test]
    fn from_config_rejects_a_malformed_url() {
        let err = from_config(Some("not a url"), None)
            .err()
            .expect("must fail");
        assert!(matches!(err, StateError::Config(_)), "{err:?}");
    }
}

//! In-memory adapter: the embedded default and a test double with the same
//! semantics as Redis (checked by the shared contract suite).
//!
//! Expiry is lazy (an expired entry is treated as absent on every access)
//! plus a sweep of all expired entries at most once per
//! [`SWEEP_INTERVAL`], triggered by writes, so memory stays bounded by the
//! live keys without a background task. Time comes from [`tokio::time`], so
//! tests can use `tokio::time::pause()`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::{StateError, StateResult, StateStore, normalize_prefix, ttl_millis};

/// How often a write may sweep every expired entry.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

const WRONG_TYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[derive(Debug, Clone)]
enum Value {
    String(String),
    Hash(HashMap<String, String>),
    List(VecDeque<String>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires_at: Instant,
}

#[derive(Debug)]
struct Map {
    entries: HashMap<String, Entry>,
    last_sweep: Instant,
}

impl Map {
    /// The live entry at `key`, dropping it first when it has expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn maybe_sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) >= SWEEP_INTERVAL {
            self.entries.retain(|_, e| e.expires_at > now);
            self.last_sweep = now;
        }
    }
}

/// The in-memory [`StateStore`]. Cloning is cheap and shares the map.
#[derive(Debug, Clone)]
pub struct MemoryStateStore {
    map: Arc<Mutex<Map>>,
    prefix: String,
}

impl Default for MemoryStateStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStateStore {
    /// An empty store without key prefix.
    pub fn new() -> Self {
        Self::with_prefix("")
    }

    /// An empty store whose keys are prefixed with `prefix` (a `:` is
    /// appended when missing).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            map: Arc::new(Mutex::new(Map {
                entries: HashMap::new(),
                last_sweep: Instant::now(),
            })),
            prefix: normalize_prefix(prefix),
        }
    }

    /// A view on the same map under another prefix, as two processes with
    /// different `REDIS_KEY_PREFIX` sharing one Redis would see it.
    pub fn share_with_prefix(&self, prefix: &str) -> Self {
        Self {
            map: Arc::clone(&self.map),
            prefix: normalize_prefix(prefix),
        }
    }

    /// The prefix applied to every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        // The map stays consistent even if a holder panicked: every
        // mutation is a single insert/remove/in-place edit.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Entries currently held, expired or not (for the sweep test).
    #[cfg(test)]
    fn raw_len(&self) -> usize {
        self.lock().entries.len()
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    let ttl = Duration::from_millis(ttl_millis(ttl));
    now.checked_add(ttl)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn wrong_type() -> StateError {
    StateError::Backend(WRONG_TYPE.to_owned())
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, key: &str) -> StateResult<Option<String>> {
        let key = self.key(key);
        let now = Instant::now();
        match self.lock().live(&key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::String(s),
                ..
            }) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type()),
        }
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> StateResult<()> {
        let key = self.key(key);
        let now = Instant::now();
        let mut map = self.lock();
        map.maybe_sweep(now);
        map.entries.insert(
            key,
            Entry {
                value: Value::String(value.to_owned()),
                expires_at: deadline(now, ttl),
            },
        );
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> StateResult<bool> {
        let key = self.key(key);
        let now = Instant::now();
        // Check and insert under one lock: this is what makes it atomic.
        let mut map = self.lock();
        map.maybe_sweep(now);
        if map.live(&key, now).is_some() {
            return Ok(false);
        }
        map.entries.insert(
            key,
            Entry {
                value: Value::String(value.to_owned()),
                expires_at: deadline(now, ttl),
            },
        );
        Ok(true)
    }

    async fn delete(&self, key: &str) -> StateResult<bool> {
        let key = self.key(key);
        let now = Instant::now();
        let mut map = self.lock();
        let existed = map.live(&key, now).is_some();
        map.entries.remove(&key);
        Ok(existed)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> StateResult<bool> {
        let key = self.key(key);
        let now = Instant::now();
        match self.lock().live(&key, now) {
            Some(entry) => {
                entry.expires_at = deadline(now, ttl);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn ttl(&self, key: &str) -> StateResult<Option<Duration>> {
        let key = self.key(key);
        let now = Instant::now();
        Ok(self
            .lock()
            .live(&key, now)
            .map(|entry| entry.expires_at.duration_since(now)))
    }

    async fn hash_set_all(
        &self,
        key: &str,
        fields: &[(String, String)],
        ttl: Duration,
    ) -> StateResult<()> {
        let key = self.key(key);
        let now = Instant::now();
        let mut map = self.lock();
        map.maybe_sweep(now);
        match map.live(&key, now) {
            Some(Entry {
                value: Value::Hash(hash),
                expires_at,
            }) => {
                hash.extend(fields.iter().cloned());
                *expires_at = deadline(now, ttl);
            }
            Some(_) => return Err(wrong_type()),
            // Like Redis: HSET with no fields creates nothing.
            None if fields.is_empty() => {}
            None => {
                map.entries.insert(
                    key,
                    Entry {
                        value: Value::Hash(fields.iter().cloned().collect()),
                        expires_at: deadline(now, ttl),
                    },
                );
            }
        }
        Ok(())
    }

    async fn hash_get(&self, key: &str, field: &str) -> StateResult<Option<String>> {
        let key = self.key(key);
        let now = Instant::now();
        match self.lock().live(&key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::Hash(hash),
                ..
            }) => Ok(hash.get(field).cloned()),
            Some(_) => Err(wrong_type()),
        }
    }

    async fn hash_get_all(&self, key: &str) -> StateResult<HashMap<String, String>> {
        let key = self.key(key);
        let now = Instant::now();
        match self.lock().live(&key, now) {
            None => Ok(HashMap::new()),
            Some(Entry {
                value: Value::Hash(hash),
                ..
            }) => Ok(hash.clone()),
            Some(_) => Err(wrong_type()),
        }
    }

    async fn list_push_capped(
        &self,
        key: &str,
        value: &str,
        max_len: usize,
        ttl: Duration,
    ) -> StateResult<()> {
        let key = self.key(key);
        let now = Instant::now();
        let mut map = self.lock();
        map.maybe_sweep(now);
        // `live` drops an expired entry, so `entry()` below sees only a live one.
        let _ = map.live(&key, now);
        let entry = map.entries.entry(key.clone()).or_insert_with(|| Entry {
            value: Value::List(VecDeque::new()),
            expires_at: now,
        });
        let Value::List(list) = &mut entry.value else {
            return Err(wrong_type());
        };
        entry.expires_at = deadline(now, ttl);
        list.push_back(value.to_owned());
        while list.len() > max_len {
            list.pop_front();
        }
        if list.is_empty() {
            // Redis deletes a list trimmed to nothing.
            map.entries.remove(&key);
        }
        Ok(())
    }

    async fn list_replace(&self, key: &str, values: &[String], ttl: Duration) -> StateResult<()> {
        let key = self.key(key);
        let now = Instant::now();
        let mut map = self.lock();
        map.maybe_sweep(now);
        if values.is_empty() {
            map.entries.remove(&key);
        } else {
            map.entries.insert(
                key,
                Entry {
                    value: Value::List(values.iter().cloned().collect()),
                    expires_at: deadline(now, ttl),
                },
            );
        }
        Ok(())
    }

    async fn list_range(&self, key: &str) -> StateResult<Vec<String>> {
        let key = self.key(key);
        let now = Instant::now();
        match self.lock().live(&key, now) {
            None => Ok(Vec::new()),
            Some(Entry {
                value: Value::List(list),
                ..
            }) => Ok(list.iter().cloned().collect()),
            Some(_) => Err(wrong_type()),
        }
    }

    async fn ping(&self) -> StateResult<()> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_sweep_expired_entries_so_memory_stays_bounded() {
        let store = MemoryStateStore::new();
        for i in 0..100 {
            store
                .set(&format!("dedup:{i}"), "1", Duration::from_secs(1))
                .await
                .expect("set");
        }
        assert_eq!(store.raw_len(), 100);

        // Expired but never read again: only a sweep can drop them.
        tokio::time::advance(SWEEP_INTERVAL + Duration::from_secs(1)).await;
        store
            .set("fresh", "1", Duration::from_secs(60))
            .await
            .expect("set");
        assert_eq!(store.raw_len(), 1, "expired entries must be swept");
    }

    #[tokio::test(start_paused = true)]
    async fn sweep_keeps_live_entries() {
        let store = MemoryStateStore::new();
        store
            .set("long", "kept", Duration::from_secs(3600))
            .await
            .expect("set");
        store
            .set("short", "gone", Duration::from_secs(1))
            .await
            .expect("set");
        tokio::time::advance(SWEEP_INTERVAL + Duration::from_secs(1)).await;
        store
            .set("trigger", "1", Duration::from_secs(60))
            .await
            .expect("set");
        assert_eq!(store.raw_len(), 2);
        assert_eq!(
            store.get("long").await.expect("get").as_deref(),
            Some("kept")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reads_drop_an_expired_entry() {
        let store = MemoryStateStore::new();
        store
            .set("k", "v", Duration::from_secs(1))
            .await
            .expect("set");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(store.get("k").await.expect("get"), None);
        assert_eq!(store.raw_len(), 0);
    }
}

//! JSON helpers on top of any [`StateStore`]; generic, so they live outside
//! the object-safe trait.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{StateResult, StateStore};

/// Reads and decodes the JSON string at `key`. A value that no longer
/// decodes (e.g. written by an older release) is a
/// [`StateError::Serialization`](crate::StateError::Serialization).
pub async fn get_json<T: DeserializeOwned>(
    store: &dyn StateStore,
    key: &str,
) -> StateResult<Option<T>> {
    match store.get(key).await? {
        Some(raw) => Ok(Some(serde_json::from_str(&raw)?)),
        None => Ok(None),
    }
}

/// Encodes `value` as JSON and stores it at `key` for `ttl`.
pub async fn set_json<T: Serialize + ?Sized>(
    store: &dyn StateStore,
    key: &str,
    value: &T,
    ttl: Duration,
) -> StateResult<()> {
    let raw = serde_json::to_string(value)?;
    store.set(key, &raw, ttl).await
}

/// [`StateStore::set_if_absent`] with a JSON-encoded value.
pub async fn set_json_if_absent<T: Serialize + ?Sized>(
    store: &dyn StateStore,
    key: &str,
    value: &T,
    ttl: Duration,
) -> StateResult<bool> {
    let raw = serde_json::to_string(value)?;
    store.set_if_absent(key, &raw, ttl).await
}

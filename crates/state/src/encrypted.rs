//! The encrypting decorator: any [`StateStore`] with every value sealed at
//! rest (XChaCha20-Poly1305), keys and hash field names left in clear.
//!
//! A sealed value reads `v1.<key id>.<base64 of nonce ‖ ciphertext ‖ tag>`:
//! the version leaves room for another format, the key id picks the key that
//! opens it (so a rotation reads old values with the previous key), and the
//! nonce is random per value (24 bytes: no practical risk of reuse). The
//! associated data binds each ciphertext to where it lives (the key, the kind
//! of value and, for a hash, the field), so a value copied elsewhere, say one
//! patient's state into another's conversation, does not open.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use crate::{EncryptionKey, StateError, StateResult, StateStore};

/// Format version written in front of every sealed value.
const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Keys remembered as already warned about; past this the memory starts
/// over (and warnings may repeat), so a lost key cannot grow it unbounded.
const MAX_WARNED_KEYS: usize = 4096;

/// Where a value lives inside its key: part of the associated data.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// The string at the key.
    String,
    /// The value of this field of the hash at the key.
    HashField(&'a str),
    /// An item of the list at the key.
    ListItem,
}

/// Why a stored value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    /// Not in the sealed format: plaintext from before encryption, or
    /// written by something else.
    NotSealed,
    /// Sealed with a key this process does not hold (rotated out, or
    /// another deployment's).
    UnknownKey,
    /// The key is known but the value does not open: altered, truncated,
    /// or copied from another key or field.
    Rejected,
}

impl Unreadable {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotSealed => "not encrypted",
            Self::UnknownKey => "encrypted with an unknown key",
            Self::Rejected => "failed authentication (altered or moved)",
        }
    }
}

struct Sealer {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    fn new(key: &EncryptionKey) -> Self {
        Self {
            id: key.id().to_owned(),
            cipher: XChaCha20Poly1305::new(key.bytes().into()),
        }
    }
}

/// A [`StateStore`] that encrypts every value (strings, hash field values,
/// list items) before handing it to `inner`, and decrypts on the way back.
/// Keys, hash field names, TTLs and every rule of the contract are those of
/// `inner`.
///
/// A stored value that does not decrypt (plaintext from before encryption, a
/// key no longer configured, tampering) reads as missing: `None`, an absent
/// field, a skipped list item. Redis is only a cache of the journey, so the
/// caller rebuilds it, as after an expiry, instead of failing the request. A
/// warning (without the value, with the key's patient data masked) is logged
/// once per key.
pub struct EncryptedStateStore {
    inner: Arc<dyn StateStore>,
    current: Sealer,
    previous: Option<Sealer>,
    warned: Mutex<HashSet<String>>,
}

impl fmt::Debug for EncryptedStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedStateStore")
            .field("backend", &self.inner.backend())
            .field("current_key", &self.current.id)
            .field("previous_key", &self.previous.as_ref().map(|s| &s.id))
            .finish_non_exhaustive()
    }
}

impl EncryptedStateStore {
    /// Seals new writes with `current`; opens values sealed with `current`
    /// or `previous` (keep the previous key until the longest TTL written
    /// with it has passed).
    pub fn new(
        inner: Arc<dyn StateStore>,
        current: EncryptionKey,
        previous: Option<EncryptionKey>,
    ) -> Self {
        Self {
            inner,
            current: Sealer::new(&current),
            previous: previous.as_ref().map(Sealer::new),
            warned: Mutex::new(HashSet::new()),
        }
    }

    fn seal(&self, key: &str, place: Place<'_>, plaintext: &str) -> StateResult<String> {
        let nonce = XNonce::try_generate().map_err(|_| {
            StateError::Backend("cannot encrypt: the system random generator failed".to_owned())
        })?;
        let aad = associated_data(key, place);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StateError::Backend("cannot encrypt the value".to_owned()))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}.{}.{}",
            self.current.id,
            STANDARD_NO_PAD.encode(blob)
        ))
    }

    fn open(&self, key: &str, place: Place<'_>, stored: &str) -> Result<String, Unreadable> {
        let rest = stored
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(Unreadable::NotSealed)?;
        let (key_id, body) = rest.split_once('.').ok_or(Unreadable::NotSealed)?;
        let mut candidates = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .filter(|sealer| sealer.id == key_id)
            .peekable();
        if candidates.peek().is_none() {
            return Err(Unreadable::UnknownKey);
        }
        let blob = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| Unreadable::Rejected)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(Unreadable::Rejected);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| Unreadable::Rejected)?;
        let aad = associated_data(key, place);
        // Two configured keys share an id with odds of 2^-32; try both then.
        let plaintext = candidates
            .find_map(|sealer| {
                sealer
                    .cipher
                    .decrypt(
                        &nonce,
                        Payload {
                            msg: sealed,
                            aad: &aad,
                        },
                    )
                    .ok()
            })
            .ok_or(Unreadable::Rejected)?;
        String::from_utf8(plaintext).map_err(|_| Unreadable::Rejected)
    }

    /// The plaintext of `stored`, or `None` (after a warning, once per key)
    /// when it cannot be read.
    fn read(&self, key: &str, place: Place<'_>, stored: &str) -> Option<String> {
        match self.open(key, place, stored) {
            Ok(plaintext) => Some(plaintext),
            Err(why) => {
                self.warn_once(key, why);
                None
            }
        }
    }

    fn warn_once(&self, key: &str, why: Unreadable) {
        let first = {
            let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
            if warned.len() >= MAX_WARNED_KEYS && !warned.contains(key) {
                warned.clear();
            }
            warned.insert(key.to_owned())
        };
        if first {
            // Keys can hold a phone number: the warning shows a masked key,
            // the full one is for debug logs only. Never the value.
            tracing::warn!(
                key = %masked_key(key),
                reason = why.as_str(),
                "state value could not be decrypted; treated as missing"
            );
            tracing::debug!(key, reason = why.as_str(), "undecryptable state value");
        }
    }
}

/// What the ciphertext is bound to. The key's length comes first so
/// `("ab", field "c")` and `("abc", …)` can never give the same bytes.
fn associated_data(key: &str, place: Place<'_>) -> Vec<u8> {
    let field = match place {
        Place::HashField(field) => field,
        Place::String | Place::ListItem => "",
    };
    let mut aad = Vec::with_capacity(24 + key.len() + field.len());
    aad.extend_from_slice(b"prm-state ");
    aad.extend_from_slice(VERSION.as_bytes());
    aad.push(0);
    aad.push(match place {
        Place::String => b's',
        Place::HashField(_) => b'h',
        Place::ListItem => b'l',
    });
    aad.extend_from_slice(&u64::try_from(key.len()).unwrap_or(u64::MAX).to_be_bytes());
    aad.extend_from_slice(key.as_bytes());
    aad.extend_from_slice(field.as_bytes());
    aad
}

/// The key with every segment that may be patient data replaced by `*`:
/// only lowercase words (`conversation`, `phone_to_convo`, `state`) and
/// UUIDs stay, so `phone_to_convo:+573001112233` logs as `phone_to_convo:*`
/// and `conversation:{id}:state` as it is.
fn masked_key(key: &str) -> String {
    key.split(':')
        .map(|segment| {
            let word =
                !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if word || Uuid::try_parse(segment).is_ok() {
                segment
            } else {
                "*"
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

#[async_trait]
impl StateStore for EncryptedStateStore {
    async fn get(&self, key: &str) -> StateResult<Option<String>> {
        let stored = self.inner.get(key).await?;
        Ok(stored.and_then(|v| self.read(key, Place::String, &v)))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> StateResult<()> {
        let sealed = self.seal(key, Place::String, value)?;
        self.inner.set(key, &sealed, ttl).await
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> StateResult<bool> {
        // Only the key's absence matters, so sealing first keeps it atomic.
        let sealed = self.seal(key, Place::String, value)?;
        self.inner.set_if_absent(key, &sealed, ttl).await
    }

    async fn delete(&self, key: &str) -> StateResult<bool> {
        self.inner.delete(key).await
    }

    async fn expire(&self, key: &str, ttl: Duration) -> StateResult<bool> {
        self.inner.expire(key, ttl).await
    }

    async fn ttl(&self, key: &str) -> StateResult<Option<Duration>> {
        self.inner.ttl(key).await
    }

    async fn hash_set_all(
        &self,
        key: &str,
        fields: &[(String, String)],
        ttl: Duration,
    ) -> StateResult<()> {
        let sealed = fields
            .iter()
            .map(|(field, value)| {
                let sealed = self.seal(key, Place::HashField(field), value)?;
                Ok((field.clone(), sealed))
            })
            .collect::<StateResult<Vec<_>>>()?;
        self.inner.hash_set_all(key, &sealed, ttl).await
    }

    async fn hash_get(&self, key: &str, field: &str) -> StateResult<Option<String>> {
        let stored = self.inner.hash_get(key, field).await?;
        Ok(stored.and_then(|v| self.read(key, Place::HashField(field), &v)))
    }

    async fn hash_get_all(&self, key: &str) -> StateResult<HashMap<String, String>> {
        let stored = self.inner.hash_get_all(key).await?;
        Ok(stored
            .into_iter()
            .filter_map(|(field, v)| {
                let value = self.read(key, Place::HashField(&field), &v)?;
                Some((field, value))
            })
            .collect())
    }

    async fn list_push_capped(
        &self,
        key: &str,
        value: &str,
        max_len: usize,
        ttl: Duration,
    ) -> StateResult<()> {
        let sealed = self.seal(key, Place::ListItem, value)?;
        self.inner
            .list_push_capped(key, &sealed, max_len, ttl)
            .await
    }

    async fn list_replace(&self, key: &str, values: &[String], ttl: Duration) -> StateResult<()> {
        let sealed = values
            .iter()
            .map(|value| self.seal(key, Place::ListItem, value))
            .collect::<StateResult<Vec<_>>>()?;
        self.inner.list_replace(key, &sealed, ttl).await
    }

    async fn list_range(&self, key: &str) -> StateResult<Vec<String>> {
        let stored = self.inner.list_range(key).await?;
        Ok(stored
            .iter()
            .filter_map(|v| self.read(key, Place::ListItem, v))
            .collect())
    }

    async fn ping(&self) -> StateResult<()> {
        self.inner.ping().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_keys_keep_words_and_ids_only() {
        assert_eq!(
            masked_key("phone_to_convo:+573001112233"),
            "phone_to_convo:*"
        );
        let id = "01900000-0000-7000-8000-00000000002a";
        assert_eq!(
            masked_key(&format!("prm:conversation:{id}:state")),
            format!("prm:conversation:{id}:state")
        );
        assert_eq!(masked_key("dedup:SM123"), "dedup:*");
        assert_eq!(masked_key("Ana Rojas"), "*");
    }

    #[test]
    fn associated_data_tells_places_apart() {
        let string = associated_data("k", Place::String);
        let item = associated_data("k", Place::ListItem);
        let field = associated_data("k", Place::HashField("f"));
        let other_field = associated_data("k", Place::HashField("g"));
        assert_ne!(string, item);
        assert_ne!(string, field);
        assert_ne!(field, other_field);
        // Moving bytes between key and field changes the data too.
        assert_ne!(
            associated_data("ab", Place::HashField("c")),
            associated_data("a", Place::HashField("bc"))
        );
    }
}

//! The key that encrypts state values at rest (`STATE_ENCRYPTION_KEY`), and
//! the pair of keys a rotation needs (`STATE_ENCRYPTION_KEY_PREVIOUS`).

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chacha20poly1305::aead::Generate;
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

/// Bytes in a key (XChaCha20-Poly1305 uses 256-bit keys).
pub const KEY_LEN: usize = 32;

/// Bytes of the key's hash that name it in every sealed value.
const KEY_ID_LEN: usize = 4;

/// Standard base64, with or without the trailing `=`: operators paste keys
/// from `openssl rand -base64 32` (padded) as often as from tools that strip it.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A 256-bit key for state values. The bytes are wiped when it is dropped
/// and never printed: `Debug` shows only the key id, which is public anyway
/// (every value sealed with the key carries it).
#[derive(Clone)]
pub struct EncryptionKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

/// Why a configured key was refused. Messages never repeat the input: it is
/// a secret, and error messages end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Nothing but whitespace.
    #[error("the key is empty; give 32 bytes as 64 hex characters or standard base64")]
    Empty,

    /// Only hex digits, but not 64 of them.
    #[error(
        "the key has {found} hex characters; a key is 32 bytes, i.e. 64 hex characters \
         (or 44 characters of standard base64)"
    )]
    HexLength { found: usize },

    /// Neither hex nor standard base64.
    #[error(
        "the key is neither 64 hex characters nor standard base64 (character {position} \
         is not allowed there)"
    )]
    Malformed { position: usize },

    /// Valid base64 of the wrong number of bytes.
    #[error(
        "the key decodes to {found} bytes; a key is 32 bytes (44 characters of standard \
         base64, or 64 hex characters)"
    )]
    Length { found: usize },
}

impl EncryptionKey {
    /// Parses a configured key: 64 hex characters (any case), or standard
    /// base64 (`+` and `/`, with or without `=` padding) of exactly 32
    /// bytes. Surrounding whitespace, as left by a secrets file, is ignored.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
        // A string of hex digits is read as hex: 64 hex digits would also be
        // valid base64 (of 48 bytes), and a hex key of the wrong length is
        // better reported as such than as "base64 of 46 bytes".
        if text.bytes().all(|b| b.is_ascii_hexdigit()) {
            if text.len() != 2 * KEY_LEN {
                return Err(KeyError::HexLength { found: text.len() });
            }
            hex::decode_to_slice(text, bytes.as_mut_slice())
                .map_err(|_| KeyError::HexLength { found: text.len() })?;
            return Ok(Self::from_bytes(bytes));
        }
        if let Some(position) = text
            .chars()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
        {
            return Err(KeyError::Malformed {
                position: position + 1,
            });
        }
        let decoded = Zeroizing::new(BASE64_ANY_PADDING.decode(text).map_err(|err| {
            // Only the position is kept: the error's own text names the symbol.
            let position = match err {
                base64::DecodeError::InvalidByte(offset, _)
                | base64::DecodeError::InvalidLastSymbol(offset, _) => offset + 1,
                base64::DecodeError::InvalidLength(len) => len,
                base64::DecodeError::InvalidPadding => text.len(),
            };
            KeyError::Malformed { position }
        })?);
        if decoded.len() != KEY_LEN {
            return Err(KeyError::Length {
                found: decoded.len(),
            });
        }
        bytes.copy_from_slice(&decoded);
        Ok(Self::from_bytes(bytes))
    }

    /// A fresh random key from the operating system's generator: the
    /// development default, valid for one process only.
    ///
    /// # Panics
    /// When the operating system cannot give random bytes, which leaves
    /// nothing safe to do.
    pub fn generate() -> Self {
        Self::from_bytes(Zeroizing::new(<[u8; KEY_LEN]>::generate()))
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let digest = Sha256::new()
            .chain_update(b"prm-state key id\0")
            .chain_update(bytes.as_slice())
            .finalize();
        Self {
            id: hex::encode(&digest[..KEY_ID_LEN]),
            bytes,
        }
    }

    /// A short public name of the key (8 hex characters of a hash of it):
    /// written in front of every value it seals, so reading picks the right
    /// key, and safe to log to tell which key a process uses.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The keys a process encrypts state with, read from `STATE_ENCRYPTION_KEY`
/// and `STATE_ENCRYPTION_KEY_PREVIOUS` (ARCHITECTURE §7).
#[derive(Debug, Clone)]
pub struct EncryptionKeys {
    /// Seals every write and opens what it sealed.
    pub current: EncryptionKey,
    /// Still opens values sealed before a rotation; never seals.
    pub previous: Option<EncryptionKey>,
    /// `true` when `STATE_ENCRYPTION_KEY` was unset and `current` was
    /// generated for this process: fine in development (state is lost on
    /// restart, which it may be anyway), refused in production.
    pub generated: bool,
}

/// A key variable that could not be used, named so the operator knows which.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyConfigError {
    #[error("{variable}: {source}")]
    Invalid {
        variable: &'static str,
        source: KeyError,
    },
    /// A previous key only makes sense next to the key that replaced it.
    #[error(
        "STATE_ENCRYPTION_KEY_PREVIOUS is set but STATE_ENCRYPTION_KEY is not: set the new \
         key too (a rotation keeps the old key only for reading)"
    )]
    PreviousWithoutCurrent,
}

impl EncryptionKeys {
    /// Reads the two variables' values (unset or blank means absent). An
    /// absent current key is generated ([`EncryptionKeys::generated`] tells
    /// the caller, which refuses that in production).
    pub fn from_config(
        current: Option<&str>,
        previous: Option<&str>,
    ) -> Result<Self, KeyConfigError> {
        let parse = |variable, text| {
            EncryptionKey::parse(text)
                .map_err(|source| KeyConfigError::Invalid { variable, source })
        };
        let previous = present(previous)
            .map(|text| parse("STATE_ENCRYPTION_KEY_PREVIOUS", text))
            .transpose()?;
        match present(current) {
            Some(text) => Ok(Self {
                current: parse("STATE_ENCRYPTION_KEY", text)?,
                previous,
                generated: false,
            }),
            None if previous.is_some() => Err(KeyConfigError::PreviousWithoutCurrent),
            None => Ok(Self {
                current: EncryptionKey::generate(),
                previous: None,
                generated: true,
            }),
        }
    }

    /// Whether the current key was generated for this process (development).
    pub fn was_generated(&self) -> bool {
        self.generated
    }
}

/// A configured value, `None` when unset or blank.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes 0x00..=0x1f, in both accepted spellings.
    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const BASE64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn parse_err(text: &str) -> KeyError {
        match EncryptionKey::parse(text) {
            Ok(key) => panic!("{text:?} was accepted as {key:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn hex_and_base64_spellings_give_the_same_key() {
        let expected: Vec<u8> = (0..32).collect();
        for text in [
            HEX,
            &HEX.to_uppercase(),
            BASE64,
            BASE64.trim_end_matches('='),
            &format!("  {BASE64}\n"),
            &format!("{HEX}\n"),
        ] {
            let key = EncryptionKey::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(key.bytes().as_slice(), expected.as_slice(), "{text:?}");
        }
    }

    #[test]
    fn the_key_id_names_the_key_not_its_spelling() {
        let from_hex = EncryptionKey::parse(HEX).expect("hex");
        let from_base64 = EncryptionKey::parse(BASE64).expect("base64");
        assert_eq!(from_hex.id(), from_base64.id());
        assert_eq!(from_hex.id().len(), 8);
        assert!(from_hex.id().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(from_hex.id(), EncryptionKey::generate().id());
    }

    #[test]
    fn wrong_lengths_are_refused_with_the_length_found() {
        assert_eq!(parse_err(&HEX[..62]), KeyError::HexLength { found: 62 });
        assert_eq!(
            parse_err(&format!("{HEX}00")),
            KeyError::HexLength { found: 66 }
        );
        // 16 bytes of base64 (an AES-128 key, say).
        assert_eq!(
            parse_err("AAECAwQFBgcICQoLDA0ODw=="),
            KeyError::Length { found: 16 }
        );
        // 33 bytes.
        assert_eq!(
            parse_err("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"),
            KeyError::Length { found: 33 }
        );
    }

    #[test]
    fn bad_characters_are_refused_without_echoing_the_key() {
        let secret_like = "s3cr3t-Passw0rd_that_is_not_a_key!";
        let err = parse_err(secret_like);
        assert!(
            matches!(err, KeyError::Malformed { position: 7 }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
        assert!(!message.contains('-'), "{message}");
        // URL-safe base64 is not the standard alphabet.
        let url_safe = BASE64.replace('A', "-");
        assert!(matches!(parse_err(&url_safe), KeyError::Malformed { .. }));
        // Padding in the middle, or a truncated base64 quantum.
        assert!(matches!(
            parse_err("AAEC=wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
            KeyError::Malformed { .. }
        ));
        assert!(matches!(parse_err("AAECAwQFB"), KeyError::Malformed { .. }));
        assert_eq!(parse_err(""), KeyError::Empty);
        assert_eq!(parse_err(" \n"), KeyError::Empty);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = EncryptionKey::parse(HEX).expect("hex");
        let printed = format!("{key:?} {:?}", EncryptionKeys::from_config(Some(HEX), None));
        assert!(!printed.contains(HEX), "{printed}");
        assert!(!printed.contains(&HEX[..16]), "{printed}");
        assert!(!printed.contains(&BASE64[..16]), "{printed}");
        assert!(printed.contains(key.id()), "{printed}");
    }

    #[test]
    fn generated_keys_are_random() {
        let a = EncryptionKey::generate();
        let b = EncryptionKey::generate();
        assert_ne!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), &[0; KEY_LEN]);
    }

    #[test]
    fn configuration_without_a_key_generates_one_and_says_so() {
        for unset in [None, Some(""), Some("  ")] {
            let keys = EncryptionKeys::from_config(unset, None).expect("generated");
            assert!(keys.was_generated());
            assert!(keys.previous.is_none());
        }
        let keys = EncryptionKeys::from_config(Some(HEX), Some(" ")).expect("configured");
        assert!(!keys.was_generated());
        assert_eq!(
            keys.current.id(),
            EncryptionKey::parse(HEX).expect("hex").id()
        );
        assert!(keys.previous.is_none());
    }

    #[test]
    fn configuration_keeps_the_previous_key_for_rotation() {
        let old = EncryptionKey::generate();
        let new = EncryptionKey::generate();
        let keys = EncryptionKeys::from_config(
            Some(&hex::encode(new.bytes())),
            Some(&hex::encode(old.bytes())),
        )
        .expect("both");
        assert!(!keys.was_generated());
        assert_eq!(keys.current.id(), new.id());
        assert_eq!(
            keys.previous.as_ref().map(EncryptionKey::id),
            Some(old.id())
        );
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let err = EncryptionKeys::from_config(Some("abc"), None).expect_err("short key");
        assert_eq!(
            err,
            KeyConfigError::Invalid {
                variable: "STATE_ENCRYPTION_KEY",
                source: KeyError::HexLength { found: 3 }
            }
        );
        assert!(
            err.to_string().starts_with("STATE_ENCRYPTION_KEY: "),
            "{err}"
        );
        let err = EncryptionKeys::from_config(Some(HEX), Some("abc")).expect_err("short previous");
        assert!(
            err.to_string()
                .starts_with("STATE_ENCRYPTION_KEY_PREVIOUS: "),
            "{err}"
        );
        assert_eq!(
            EncryptionKeys::from_config(None, Some(HEX)).expect_err("previous alone"),
            KeyConfigError::PreviousWithoutCurrent
        );
    }
}

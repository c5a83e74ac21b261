//! Values that do not decrypt are logged once per key, and never with
//! patient data. In a test binary of its own: tracing caches per call site
//! whether anyone listens, and other tests hitting the same warning on other
//! threads while this one installs its subscriber could make it miss events.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use prm_state::{EncryptionKey, MemoryStateStore, StateStore, encrypted, keys};
use uuid::Uuid;

const TTL: Duration = Duration::from_secs(900);
const PHONE: &str = "+573001112233";
const NAME: &str = "María Fernanda Rojas";

/// Captures this thread's `warn` and above (what production logs show).
fn capture_warnings() -> (
    prm_testkit::logs::Captured,
    tracing::subscriber::DefaultGuard,
) {
    prm_testkit::logs::capture(tracing::Level::WARN)
}

#[tokio::test(flavor = "current_thread")]
async fn undecryptable_values_warn_once_per_key_without_patient_data() {
    let (captured, _guard) = capture_warnings();
    let raw = MemoryStateStore::new();
    let store = encrypted(Arc::new(raw.clone()), EncryptionKey::generate(), None);
    let id = Uuid::new_v4();
    let phone_key = keys::phone_to_conversation(PHONE);
    raw.set(&phone_key, NAME, TTL).await.unwrap();
    raw.list_replace(
        &keys::recent_messages(id),
        &[NAME.to_owned(), "tengo dolor de pecho".to_owned()],
        TTL,
    )
    .await
    .unwrap();

    for _ in 0..3 {
        assert_eq!(store.get(&phone_key).await.unwrap(), None);
        assert!(
            store
                .list_range(&keys::recent_messages(id))
                .await
                .unwrap()
                .is_empty()
        );
    }

    let logs = captured.text();
    let warnings = logs.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 2, "one per key:\n{logs}");
    assert!(logs.contains("phone_to_convo:*"), "{logs}");
    assert!(
        logs.contains(&keys::recent_messages(id)),
        "conversation ids are not patient data:\n{logs}"
    );
    assert!(logs.contains("not encrypted"), "{logs}");
    for private in [PHONE, "3001112233", "María", "Rojas", "dolor"] {
        assert!(!logs.contains(private), "{private:?} logged:\n{logs}");
    }
}

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prm_state::{EncryptionKey, MemoryStateStore, StateStore, encrypted, get_json, keys, set_json};
use uuid::Uuid;

const TTL: Duration = Duration::from_secs(900);
const PHONE: &str = "+573001112233";
const NAME: &str = "María Fernanda Rojas";

fn fields(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// An encrypting store and a plain view of the same memory, to look at (and
/// tamper with) what is stored.
fn stores(
    current: &EncryptionKey,
    previous: Option<&EncryptionKey>,
) -> (Arc<dyn StateStore>, MemoryStateStore) {
    let raw = MemoryStateStore::new();
    let store = encrypted(Arc::new(raw.clone()), current.clone(), previous.cloned());
    (store, raw)
}

/// Another encrypting store on the same memory as `raw`.
fn reopen(
    raw: &MemoryStateStore,
    current: &EncryptionKey,
    previous: Option<&EncryptionKey>,
) -> Arc<dyn StateStore> {
    encrypted(Arc::new(raw.clone()), current.clone(), previous.cloned())
}

/// Writes one value of every kind under the §5 keys.
async fn write_journey(store: &dyn StateStore, id: Uuid, tag: &str) {
    store
        .hash_set_all(
            &keys::conversation_state(id),
            &fields(&[("stage", "intake"), ("name", &format!("{NAME} {tag}"))]),
            TTL,
        )
        .await
        .unwrap();
    store
        .list_push_capped(&keys::recent_messages(id), &format!("hola {tag}"), 20, TTL)
        .await
        .unwrap();
    store
        .set(
            &keys::phone_to_conversation(PHONE),
            &format!("{id} {tag}"),
            TTL,
        )
        .await
        .unwrap();
}

/// Asserts `store` reads back what [`write_journey`] wrote with `tag`.
async fn assert_journey(store: &dyn StateStore, id: Uuid, tag: &str) {
    assert_eq!(
        store
            .hash_get(&keys::conversation_state(id), "name")
            .await
            .unwrap(),
        Some(format!("{NAME} {tag}"))
    );
    assert_eq!(
        store.list_range(&keys::recent_messages(id)).await.unwrap(),
        [format!("hola {tag}")]
    );
    assert_eq!(
        store
            .get(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap(),
        Some(format!("{id} {tag}"))
    );
}

/// Asserts `store` sees none of what [`write_journey`] wrote: missing, as if
/// expired, and no error.
async fn assert_journey_missing(store: &dyn StateStore, id: Uuid) {
    assert!(
        store
            .hash_get_all(&keys::conversation_state(id))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .hash_get(&keys::conversation_state(id), "name")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .list_range(&keys::recent_messages(id))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn every_kind_of_value_round_trips() {
    let key = EncryptionKey::generate();
    let (store, _) = stores(&key, None);
    let id = Uuid::new_v4();
    write_journey(store.as_ref(), id, "1").await;
    assert_journey(store.as_ref(), id, "1").await;

    // Empty, long and non-ASCII values survive unchanged.
    let long = "é".repeat(10_000);
    for value in ["", "¡Hola! 👋", long.as_str()] {
        store.set("k", value, TTL).await.unwrap();
        assert_eq!(store.get("k").await.unwrap().as_deref(), Some(value));
    }
    store
        .list_replace("l", &strings(&["a", "", "c"]), TTL)
        .await
        .unwrap();
    assert_eq!(
        store.list_range("l").await.unwrap(),
        strings(&["a", "", "c"])
    );
    let mut expected = HashMap::new();
    expected.insert("stage".to_owned(), "intake".to_owned());
    expected.insert("name".to_owned(), format!("{NAME} 1"));
    assert_eq!(
        store
            .hash_get_all(&keys::conversation_state(id))
            .await
            .unwrap(),
        expected
    );
    set_json(store.as_ref(), "offer", &vec![1, 2, 3], TTL)
        .await
        .unwrap();
    assert_eq!(
        get_json::<Vec<u32>>(store.as_ref(), "offer").await.unwrap(),
        Some(vec![1, 2, 3])
    );
}

#[tokio::test]
async fn stored_values_are_sealed_and_name_their_key() {
    let key = EncryptionKey::generate();
    let (store, raw) = stores(&key, None);
    let id = Uuid::new_v4();
    write_journey(store.as_ref(), id, "1").await;
    store.set("again", &format!("{NAME} 1"), TTL).await.unwrap();

    let hash = raw
        .hash_get_all(&keys::conversation_state(id))
        .await
        .unwrap();
    let mut stored = hash.values().cloned().collect::<Vec<_>>();
    stored.extend(raw.list_range(&keys::recent_messages(id)).await.unwrap());
    stored.push(
        raw.get(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap()
            .unwrap(),
    );
    let again = raw.get("again").await.unwrap().unwrap();
    let prefix = format!("v1.{}.", key.id());
    for value in stored.iter().chain([&again]) {
        assert!(value.starts_with(&prefix), "{value}");
        for clear in ["María", "Rojas", "hola", "intake", &id.to_string()] {
            assert!(!value.contains(clear), "{clear:?} visible in {value}");
        }
    }
    // Field names stay in clear: they are the contract.
    let mut names = hash.keys().cloned().collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["name", "stage"]);
    // A random nonce per value: one plaintext never gives the same ciphertext.
    assert!(stored.contains(&hash["name"]));
    assert_ne!(hash["name"], again);
    store.set("again", &format!("{NAME} 1"), TTL).await.unwrap();
    assert_ne!(raw.get("again").await.unwrap().unwrap(), again);
    // `v1.` + 8 + `.` + base64 of nonce (24) ‖ value ‖ tag (16), as the crate docs say.
    store.set("size", &"x".repeat(200), TTL).await.unwrap();
    assert_eq!(raw.get("size").await.unwrap().unwrap().len(), 332);
}

#[tokio::test]
async fn rotation_reads_old_values_with_the_previous_key_and_writes_with_the_new() {
    let old = EncryptionKey::generate();
    let new = EncryptionKey::generate();
    let (before, raw) = stores(&old, None);
    let id = Uuid::new_v4();
    write_journey(before.as_ref(), id, "old").await;

    // After the rotation: STATE_ENCRYPTION_KEY=new, _PREVIOUS=old.
    let after = reopen(&raw, &new, Some(&old));
    assert_journey(after.as_ref(), id, "old").await;

    // New writes use the new key, next to the old items of the same list.
    after
        .list_push_capped(&keys::recent_messages(id), "hola new", 20, TTL)
        .await
        .unwrap();
    after
        .hash_set_all(
            &keys::conversation_state(id),
            &fields(&[("stage", "triage")]),
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(
        after.list_range(&keys::recent_messages(id)).await.unwrap(),
        strings(&["hola old", "hola new"])
    );
    let stored = raw.list_range(&keys::recent_messages(id)).await.unwrap();
    assert!(stored[0].starts_with(&format!("v1.{}.", old.id())));
    assert!(stored[1].starts_with(&format!("v1.{}.", new.id())));
    let stage = raw
        .hash_get(&keys::conversation_state(id), "stage")
        .await
        .unwrap()
        .unwrap();
    assert!(stage.starts_with(&format!("v1.{}.", new.id())), "{stage}");

    // Once the previous key is dropped, only what the new key wrote reads.
    let later = reopen(&raw, &new, None);
    assert_eq!(
        later.list_range(&keys::recent_messages(id)).await.unwrap(),
        strings(&["hola new"])
    );
    let state = later
        .hash_get_all(&keys::conversation_state(id))
        .await
        .unwrap();
    assert_eq!(state.get("stage").map(String::as_str), Some("triage"));
    assert_eq!(state.get("name"), None, "written with the dropped key");
    assert_eq!(
        later
            .get(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap(),
        None
    );
    // Processes not yet rotated still read what they wrote.
    assert_eq!(
        before
            .get(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap(),
        Some(format!("{id} old"))
    );
}

#[tokio::test]
async fn values_under_another_key_read_as_missing() {
    let (store, raw) = stores(&EncryptionKey::generate(), None);
    let id = Uuid::new_v4();
    write_journey(store.as_ref(), id, "1").await;
    let stranger = reopen(&raw, &EncryptionKey::generate(), None);
    assert_journey_missing(stranger.as_ref(), id).await;
    // The keys are still there (only a write or the TTL replaces them).
    assert!(
        stranger
            .ttl(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap()
            .is_some()
    );
    // Writing again makes the journey readable to the new key.
    write_journey(stranger.as_ref(), id, "2").await;
    assert_eq!(
        stranger
            .get(&keys::phone_to_conversation(PHONE))
            .await
            .unwrap(),
        Some(format!("{id} 2"))
    );
}

/// Replaces one base64 character in the middle of the sealed body.
fn flip_a_character(sealed: &str) -> String {
    let mut bytes = sealed.as_bytes().to_vec();
    let i = sealed.len() - 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn altered_values_read_as_missing() {
    let key = EncryptionKey::generate();
    let (store, raw) = stores(&key, None);
    store.set("k", NAME, TTL).await.unwrap();
    let sealed = raw.get("k").await.unwrap().unwrap();
    let body = sealed.rsplit('.').next().unwrap();
    let other_id = if key.id() == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let altered = [
        flip_a_character(&sealed),
        sealed[..sealed.len() - 4].to_owned(),
        format!("v1.{}.{}", key.id(), &body[..20]),
        format!("v1.{}.{body}", other_id),
        format!("v2.{}.{body}", key.id()),
        format!("v1.{}.not*base64", key.id()),
        format!("v1.{}", key.id()),
        // Plaintext from before encryption was turned on.
        NAME.to_owned(),
        String::new(),
    ];
    for value in altered {
        raw.set("k", &value, TTL).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None, "{value:?}");
    }
    // The untouched value still reads.
    raw.set("k", &sealed, TTL).await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some(NAME));
}

#[tokio::test]
async fn one_bad_field_or_item_leaves_the_others_readable() {
    let (store, raw) = stores(&EncryptionKey::generate(), None);
    let id = Uuid::new_v4();
    let state = keys::conversation_state(id);
    store
        .hash_set_all(&state, &fields(&[("stage", "intake"), ("name", NAME)]), TTL)
        .await
        .unwrap();
    let name = raw.hash_get(&state, "name").await.unwrap().unwrap();
    raw.hash_set_all(&state, &fields(&[("name", &flip_a_character(&name))]), TTL)
        .await
        .unwrap();
    let read = store.hash_get_all(&state).await.unwrap();
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read["stage"], "intake");
    assert_eq!(store.hash_get(&state, "name").await.unwrap(), None);

    let messages = keys::recent_messages(id);
    store
        .list_replace(&messages, &strings(&["one", "two"]), TTL)
        .await
        .unwrap();
    raw.list_push_capped(&messages, "plaintext from before", 20, TTL)
        .await
        .unwrap();
    store
        .list_push_capped(&messages, "three", 20, TTL)
        .await
        .unwrap();
    assert_eq!(
        store.list_range(&messages).await.unwrap(),
        strings(&["one", "two", "three"])
    );
}

#[tokio::test]
async fn a_value_copied_to_another_place_does_not_open() {
    let (store, raw) = stores(&EncryptionKey::generate(), None);
    let (ana, other) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .hash_set_all(
            &keys::conversation_state(ana),
            &fields(&[("name", NAME), ("complaint", "dolor de pecho")]),
            TTL,
        )
        .await
        .unwrap();
    store
        .set(&keys::phone_to_conversation(PHONE), &ana.to_string(), TTL)
        .await
        .unwrap();
    let sealed_name = raw
        .hash_get(&keys::conversation_state(ana), "name")
        .await
        .unwrap()
        .unwrap();
    let sealed_convo = raw
        .get(&keys::phone_to_conversation(PHONE))
        .await
        .unwrap()
        .unwrap();

    // Into another conversation's state.
    raw.hash_set_all(
        &keys::conversation_state(other),
        &fields(&[("name", &sealed_name)]),
        TTL,
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .hash_get(&keys::conversation_state(other), "name")
            .await
            .unwrap(),
        None
    );
    // Into another field of the same hash.
    raw.hash_set_all(
        &keys::conversation_state(ana),
        &fields(&[("complaint", &sealed_name)]),
        TTL,
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .hash_get(&keys::conversation_state(ana), "complaint")
            .await
            .unwrap(),
        None
    );
    // Another phone pointing at Ana's conversation.
    raw.set(
        &keys::phone_to_conversation("+573009998877"),
        &sealed_convo,
        TTL,
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .get(&keys::phone_to_conversation("+573009998877"))
            .await
            .unwrap(),
        None
    );
    // A string turned into a list item of the same key.
    raw.list_replace("moved", std::slice::from_ref(&sealed_convo), TTL)
        .await
        .unwrap();
    assert!(store.list_range("moved").await.unwrap().is_empty());
    // Where they were written, they still read.
    assert_eq!(
        store
            .hash_get(&keys::conversation_state(ana), "name")
            .await
            .unwrap()
            .as_deref(),
        Some(NAME)
    );
}

#[tokio::test]
async fn an_unreadable_marker_still_counts_as_present() {
    // A de-duplication marker written before encryption: its value is
    // unreadable, but the key exists, so the message is still a repeat.
    let (store, raw) = stores(&EncryptionKey::generate(), None);
    raw.set("dedup:SM1", "1", TTL).await.unwrap();
    assert_eq!(store.get("dedup:SM1").await.unwrap(), None);
    assert!(!store.set_if_absent("dedup:SM1", "1", TTL).await.unwrap());
    // A write replaces it with a readable value.
    store.set("dedup:SM1", "2", TTL).await.unwrap();
    assert_eq!(store.get("dedup:SM1").await.unwrap().as_deref(), Some("2"));
}

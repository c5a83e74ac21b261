//! The contract every `StateStore` adapter must meet. Each case runs once
//! per adapter (see `main.rs`). TTLs stay short (≤ 60 s) so that keys of a
//! crashed run expire on their own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prm_state::{StateError, get_json, set_json, set_json_if_absent};
use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;
use tokio::time::sleep;

use crate::harness::Ctx;

const LONG: Duration = Duration::from_secs(60);
/// Short enough to wait out on a real Redis, long enough to survive a slow CI box.
const SHORT: Duration = Duration::from_millis(1000);
/// Waiting this long after a SHORT write is past its expiry.
const PAST_SHORT: Duration = Duration::from_millis(1300);
/// More than half of SHORT: two of these are past SHORT, one is not.
const STEP: Duration = Duration::from_millis(650);

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn fields(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A TTL just set to `given` reads back as at most `given` and not much less.
fn assert_ttl_close(actual: Option<Duration>, given: Duration) {
    let actual = actual.expect("key must have a TTL");
    assert!(actual <= given, "ttl {actual:?} exceeds {given:?}");
    assert!(
        actual + Duration::from_secs(5) > given,
        "ttl {actual:?} far below {given:?}"
    );
}

pub async fn get_set_round_trip(ctx: Ctx) {
    let s = &ctx.a;
    assert_eq!(s.get("phone_to_convo:+573001112233").await.unwrap(), None);
    s.set("phone_to_convo:+573001112233", "convo-1", LONG)
        .await
        .unwrap();
    assert_eq!(
        s.get("phone_to_convo:+573001112233")
            .await
            .unwrap()
            .as_deref(),
        Some("convo-1")
    );
    // Unicode and empty values survive unchanged.
    s.set("greeting", "¡Hola, María! 👋", LONG).await.unwrap();
    assert_eq!(
        s.get("greeting").await.unwrap().as_deref(),
        Some("¡Hola, María! 👋")
    );
    s.set("empty", "", LONG).await.unwrap();
    assert_eq!(s.get("empty").await.unwrap().as_deref(), Some(""));
}

pub async fn set_overwrites_value_and_ttl(ctx: Ctx) {
    let s = &ctx.a;
    s.set("k", "first", Duration::from_secs(10)).await.unwrap();
    s.set("k", "second", LONG).await.unwrap();
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("second"));
    assert_ttl_close(s.ttl("k").await.unwrap(), LONG);
    // SET replaces a key of another kind, as in Redis.
    s.hash_set_all("h", &fields(&[("f", "v")]), LONG)
        .await
        .unwrap();
    s.set("h", "now a string", LONG).await.unwrap();
    assert_eq!(s.get("h").await.unwrap().as_deref(), Some("now a string"));
}

pub async fn ttl_reports_remaining_time(ctx: Ctx) {
    let s = &ctx.a;
    assert_eq!(s.ttl("missing").await.unwrap(), None);
    s.set("offer", "slots", Duration::from_secs(900))
        .await
        .unwrap();
    assert_ttl_close(s.ttl("offer").await.unwrap(), Duration::from_secs(900));
}

pub async fn string_expires_after_ttl(ctx: Ctx) {
    let s = &ctx.a;
    s.set("short", "v", SHORT).await.unwrap();
    s.set("long", "v", LONG).await.unwrap();
    assert_eq!(s.get("short").await.unwrap().as_deref(), Some("v"));
    sleep(PAST_SHORT).await;
    assert_eq!(s.get("short").await.unwrap(), None);
    assert_eq!(s.ttl("short").await.unwrap(), None);
    assert!(!s.delete("short").await.unwrap(), "expired key is gone");
    assert_eq!(s.get("long").await.unwrap().as_deref(), Some("v"));
}

pub async fn hash_and_list_expire_after_ttl(ctx: Ctx) {
    let s = &ctx.a;
    s.hash_set_all(
        "conversation:1:state",
        &fields(&[("stage", "intake")]),
        SHORT,
    )
    .await
    .unwrap();
    s.list_push_capped("conversation:1:messages", "hola", 20, SHORT)
        .await
        .unwrap();
    s.list_replace("conversation:1:required_fields", &strings(&["name"]), SHORT)
        .await
        .unwrap();
    sleep(PAST_SHORT).await;
    assert!(
        s.hash_get_all("conversation:1:state")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.hash_get("conversation:1:state", "stage").await.unwrap(),
        None
    );
    assert!(
        s.list_range("conversation:1:messages")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.list_range("conversation:1:required_fields")
            .await
            .unwrap()
            .is_empty()
    );
    // A push after expiry starts a fresh list, not the old one.
    s.list_push_capped("conversation:1:messages", "again", 20, LONG)
        .await
        .unwrap();
    assert_eq!(
        s.list_range("conversation:1:messages").await.unwrap(),
        strings(&["again"])
    );
}

/// ARCHITECTURE §5: every write refreshes the TTL.
pub async fn writes_refresh_ttl(ctx: Ctx) {
    let s = &ctx.a;
    let write_all = || async {
        s.set("string", "v", SHORT).await.unwrap();
        s.hash_set_all("hash", &fields(&[("f", "v")]), SHORT)
            .await
            .unwrap();
        s.list_push_capped("pushed", "v", 10, SHORT).await.unwrap();
        s.list_replace("replaced", &strings(&["v"]), SHORT)
            .await
            .unwrap();
    };
    write_all().await;
    s.set("expired", "v", SHORT).await.unwrap();
    sleep(STEP).await;
    write_all().await;
    assert!(
        s.expire("expired", SHORT).await.unwrap(),
        "expire refreshes too"
    );
    sleep(STEP).await;
    // 2 × STEP after the first write: past the first TTL, within the refreshed one.
    assert_eq!(s.get("string").await.unwrap().as_deref(), Some("v"));
    assert_eq!(s.hash_get("hash", "f").await.unwrap().as_deref(), Some("v"));
    assert_eq!(s.list_range("pushed").await.unwrap(), strings(&["v", "v"]));
    assert_eq!(s.list_range("replaced").await.unwrap(), strings(&["v"]));
    assert_eq!(s.get("expired").await.unwrap().as_deref(), Some("v"));
    sleep(STEP).await;
    // Past the refreshed TTL: everything is gone.
    assert_eq!(s.get("string").await.unwrap(), None);
    assert!(s.hash_get_all("hash").await.unwrap().is_empty());
    assert!(s.list_range("pushed").await.unwrap().is_empty());
    assert!(s.list_range("replaced").await.unwrap().is_empty());
    assert_eq!(s.get("expired").await.unwrap(), None);
}

/// The refresh sets the TTL to the new value, also when that is longer.
pub async fn writes_set_ttl_to_the_given_value(ctx: Ctx) {
    let s = &ctx.a;
    s.hash_set_all("hash", &fields(&[("a", "1")]), Duration::from_secs(5))
        .await
        .unwrap();
    s.hash_set_all("hash", &fields(&[("b", "2")]), LONG)
        .await
        .unwrap();
    assert_ttl_close(s.ttl("hash").await.unwrap(), LONG);
    s.list_push_capped("list", "1", 5, Duration::from_secs(5))
        .await
        .unwrap();
    s.list_push_capped("list", "2", 5, LONG).await.unwrap();
    assert_ttl_close(s.ttl("list").await.unwrap(), LONG);
    // An empty field list still counts as a write and refreshes the TTL.
    s.hash_set_all("hash", &[], Duration::from_secs(30))
        .await
        .unwrap();
    assert_ttl_close(s.ttl("hash").await.unwrap(), Duration::from_secs(30));
    assert_eq!(s.hash_get_all("hash").await.unwrap().len(), 2);
}

pub async fn expire_sets_ttl_of_existing_keys_only(ctx: Ctx) {
    let s = &ctx.a;
    assert!(!s.expire("missing", LONG).await.unwrap());
    assert_eq!(
        s.get("missing").await.unwrap(),
        None,
        "expire creates nothing"
    );
    s.set("k", "v", Duration::from_secs(5)).await.unwrap();
    assert!(s.expire("k", LONG).await.unwrap());
    assert_ttl_close(s.ttl("k").await.unwrap(), LONG);
    assert!(s.expire("k", SHORT).await.unwrap());
    sleep(PAST_SHORT).await;
    assert_eq!(s.get("k").await.unwrap(), None, "expire can shorten a TTL");
}

pub async fn set_if_absent_first_writer_wins(ctx: Ctx) {
    let s = &ctx.a;
    assert!(s.set_if_absent("dedup:SM1", "first", SHORT).await.unwrap());
    assert!(!s.set_if_absent("dedup:SM1", "second", LONG).await.unwrap());
    assert_eq!(s.get("dedup:SM1").await.unwrap().as_deref(), Some("first"));
    // A losing call must not extend the winner's TTL.
    let ttl = s.ttl("dedup:SM1").await.unwrap().expect("ttl");
    assert!(
        ttl <= SHORT,
        "losing set_if_absent changed the TTL to {ttl:?}"
    );
    // Once expired, the key can be claimed again.
    sleep(PAST_SHORT).await;
    assert!(s.set_if_absent("dedup:SM1", "third", LONG).await.unwrap());
    assert_eq!(s.get("dedup:SM1").await.unwrap().as_deref(), Some("third"));
    // After a delete too.
    assert!(s.delete("dedup:SM1").await.unwrap());
    assert!(s.set_if_absent("dedup:SM1", "fourth", LONG).await.unwrap());
}

/// Twilio retries a webhook while the first delivery is still being
/// handled: exactly one of the racing calls may win.
pub async fn set_if_absent_is_atomic_under_concurrency(ctx: Ctx) {
    const RACERS: usize = 20;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = Arc::clone(&ctx.a);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let won = store
                .set_if_absent("dedup:race", &i.to_string(), LONG)
                .await
                .unwrap();
            (i, won)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.expect("task");
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        ctx.a.get("dedup:race").await.unwrap(),
        Some(winners[0].to_string()),
        "the stored value is the winner's"
    );
}

pub async fn delete_removes_any_kind_and_reports_existence(ctx: Ctx) {
    let s = &ctx.a;
    assert!(!s.delete("missing").await.unwrap());
    s.set("string", "v", LONG).await.unwrap();
    s.hash_set_all("hash", &fields(&[("f", "v")]), LONG)
        .await
        .unwrap();
    s.list_push_capped("list", "v", 5, LONG).await.unwrap();
    for key in ["string", "hash", "list"] {
        assert!(s.delete(key).await.unwrap(), "{key} existed");
        assert!(!s.delete(key).await.unwrap(), "{key} is gone");
        assert_eq!(s.ttl(key).await.unwrap(), None);
    }
    assert_eq!(s.get("string").await.unwrap(), None);
    assert!(s.hash_get_all("hash").await.unwrap().is_empty());
    assert!(s.list_range("list").await.unwrap().is_empty());
}

pub async fn hash_set_all_merges_fields(ctx: Ctx) {
    let s = &ctx.a;
    let key = "conversation:42:state";
    assert!(s.hash_get_all(key).await.unwrap().is_empty());
    assert_eq!(s.hash_get(key, "stage").await.unwrap(), None);
    // No fields on a missing hash creates nothing.
    s.hash_set_all(key, &[], LONG).await.unwrap();
    assert_eq!(s.ttl(key).await.unwrap(), None);

    s.hash_set_all(key, &fields(&[("stage", "intake"), ("name", "Ana")]), LONG)
        .await
        .unwrap();
    s.hash_set_all(
        key,
        &fields(&[("stage", "triage"), ("dob", "1990-01-02")]),
        LONG,
    )
    .await
    .unwrap();
    let expected: HashMap<String, String> =
        fields(&[("stage", "triage"), ("name", "Ana"), ("dob", "1990-01-02")])
            .into_iter()
            .collect();
    assert_eq!(s.hash_get_all(key).await.unwrap(), expected);
    assert_eq!(
        s.hash_get(key, "name").await.unwrap().as_deref(),
        Some("Ana")
    );
    assert_eq!(s.hash_get(key, "missing").await.unwrap(), None);
}

pub async fn list_push_capped_keeps_the_newest(ctx: Ctx) {
    let s = &ctx.a;
    let key = "conversation:42:messages";
    for i in 1..=7 {
        s.list_push_capped(key, &format!("m{i}"), 5, LONG)
            .await
            .unwrap();
    }
    assert_eq!(
        s.list_range(key).await.unwrap(),
        strings(&["m3", "m4", "m5", "m6", "m7"]),
        "oldest first, capped at 5"
    );
    // A smaller cap trims further; cap 1 keeps only the pushed value.
    s.list_push_capped(key, "m8", 1, LONG).await.unwrap();
    assert_eq!(s.list_range(key).await.unwrap(), strings(&["m8"]));
    // Cap 0 keeps nothing at all.
    s.list_push_capped(key, "m9", 0, LONG).await.unwrap();
    assert!(s.list_range(key).await.unwrap().is_empty());
    assert_eq!(s.ttl(key).await.unwrap(), None);
}

pub async fn list_replace_replaces_the_whole_list(ctx: Ctx) {
    let s = &ctx.a;
    let key = "conversation:42:required_fields";
    s.list_replace(key, &strings(&["name", "dob", "complaint"]), LONG)
        .await
        .unwrap();
    assert_eq!(
        s.list_range(key).await.unwrap(),
        strings(&["name", "dob", "complaint"])
    );
    s.list_replace(key, &strings(&["complaint"]), LONG)
        .await
        .unwrap();
    assert_eq!(s.list_range(key).await.unwrap(), strings(&["complaint"]));
    assert_ttl_close(s.ttl(key).await.unwrap(), LONG);
    // Replacing with nothing removes the list.
    s.list_replace(key, &[], LONG).await.unwrap();
    assert!(s.list_range(key).await.unwrap().is_empty());
    assert!(!s.delete(key).await.unwrap());
    // Replacing a key of another kind works, as DEL + RPUSH does.
    s.set("was-string", "v", LONG).await.unwrap();
    s.list_replace("was-string", &strings(&["x"]), LONG)
        .await
        .unwrap();
    assert_eq!(s.list_range("was-string").await.unwrap(), strings(&["x"]));
}

pub async fn wrong_kind_of_value_is_a_backend_error(ctx: Ctx) {
    let s = &ctx.a;
    s.hash_set_all("hash", &fields(&[("f", "v")]), LONG)
        .await
        .unwrap();
    s.set("string", "v", LONG).await.unwrap();
    s.list_push_capped("list", "v", 5, LONG).await.unwrap();

    let is_backend = |r: Result<(), StateError>, what: &str| {
        assert!(matches!(r, Err(StateError::Backend(_))), "{what}: {r:?}");
    };
    is_backend(s.get("hash").await.map(drop), "get on hash");
    is_backend(
        s.hash_get_all("string").await.map(drop),
        "hgetall on string",
    );
    is_backend(s.hash_get("list", "f").await.map(drop), "hget on list");
    is_backend(s.list_range("hash").await.map(drop), "lrange on hash");
    is_backend(
        s.list_push_capped("string", "v", 5, LONG).await,
        "push on string",
    );
    is_backend(
        s.hash_set_all("list", &fields(&[("f", "v")]), LONG).await,
        "hset on list",
    );
    // The failed writes left the values alone.
    assert_eq!(s.get("string").await.unwrap().as_deref(), Some("v"));
    assert_eq!(s.list_range("list").await.unwrap(), strings(&["v"]));
}

pub async fn keys_carry_the_prefix(ctx: Ctx) {
    ctx.a
        .set("phone_to_convo:+57300", "c1", LONG)
        .await
        .unwrap();
    ctx.a
        .hash_set_all("conversation:c1:state", &fields(&[("f", "v")]), LONG)
        .await
        .unwrap();
    ctx.a
        .list_push_capped("conversation:c1:messages", "m", 5, LONG)
        .await
        .unwrap();
    // The store one level up sees them under `a:`, and only there.
    let root = &ctx.root;
    let string = root.get("a:phone_to_convo:+57300").await.unwrap();
    assert_eq!(root.get("phone_to_convo:+57300").await.unwrap(), None);
    let hash = root.hash_get_all("a:conversation:c1:state").await.unwrap();
    let list = root.list_range("a:conversation:c1:messages").await.unwrap();
    // Field names stay in clear, encrypted or not.
    assert_eq!(hash.keys().collect::<Vec<_>>(), ["f"]);
    assert_eq!(list.len(), 1);
    let stored = [
        string.expect("string under a:"),
        hash["f"].clone(),
        list[0].clone(),
    ];
    if ctx.encrypted {
        // Sealed values (tests/encryption checks they hide the plaintext).
        for value in &stored {
            assert!(value.starts_with("v1."), "{value}");
        }
    } else {
        assert_eq!(stored, ["c1", "v", "m"].map(String::from));
    }
    // Through the store itself the values read back as written.
    assert_eq!(
        ctx.a.get("phone_to_convo:+57300").await.unwrap().as_deref(),
        Some("c1")
    );
    assert_eq!(
        ctx.a
            .hash_get("conversation:c1:state", "f")
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );
    assert_eq!(
        ctx.a.list_range("conversation:c1:messages").await.unwrap(),
        strings(&["m"])
    );
}

pub async fn prefixes_isolate_stores(ctx: Ctx) {
    let (a, b) = (&ctx.a, &ctx.b);
    a.set("shared", "from-a", LONG).await.unwrap();
    assert_eq!(b.get("shared").await.unwrap(), None);
    assert!(b.set_if_absent("shared", "from-b", LONG).await.unwrap());
    assert_eq!(a.get("shared").await.unwrap().as_deref(), Some("from-a"));
    assert_eq!(b.get("shared").await.unwrap().as_deref(), Some("from-b"));

    a.hash_set_all("h", &fields(&[("f", "a")]), LONG)
        .await
        .unwrap();
    assert!(b.hash_get_all("h").await.unwrap().is_empty());
    a.list_push_capped("l", "a", 5, LONG).await.unwrap();
    assert!(b.list_range("l").await.unwrap().is_empty());
    assert!(!b.expire("h", LONG).await.unwrap());
    assert_eq!(b.ttl("l").await.unwrap(), None);

    assert!(a.delete("shared").await.unwrap());
    assert_eq!(b.get("shared").await.unwrap().as_deref(), Some("from-b"));
    assert!(!b.delete("h").await.unwrap());
    assert_eq!(a.hash_get("h", "f").await.unwrap().as_deref(), Some("a"));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SlotOffer {
    conversation_id: String,
    slots: Vec<String>,
    locale: Option<String>,
}

pub async fn json_helpers_round_trip_and_report_bad_data(ctx: Ctx) {
    let s = ctx.a.as_ref();
    let offer = SlotOffer {
        conversation_id: "c1".to_owned(),
        slots: strings(&["2030-01-07T09:00:00-05:00", "2030-01-07T09:30:00-05:00"]),
        locale: Some("es".to_owned()),
    };
    assert_eq!(get_json::<SlotOffer>(s, "offer:c1").await.unwrap(), None);
    set_json(s, "offer:c1", &offer, LONG).await.unwrap();
    assert_eq!(
        get_json::<SlotOffer>(s, "offer:c1").await.unwrap(),
        Some(offer)
    );
    assert_ttl_close(s.ttl("offer:c1").await.unwrap(), LONG);

    assert!(set_json_if_absent(s, "once", &1_u32, LONG).await.unwrap());
    assert!(!set_json_if_absent(s, "once", &2_u32, LONG).await.unwrap());
    assert_eq!(get_json::<u32>(s, "once").await.unwrap(), Some(1));

    s.set("corrupt", "{not json", LONG).await.unwrap();
    let err = get_json::<SlotOffer>(s, "corrupt").await.unwrap_err();
    assert!(matches!(err, StateError::Serialization(_)), "{err:?}");
    s.set("other-shape", r#"{"unexpected":true}"#, LONG)
        .await
        .unwrap();
    let err = get_json::<SlotOffer>(s, "other-shape").await.unwrap_err();
    assert!(matches!(err, StateError::Serialization(_)), "{err:?}");
}

pub async fn ping_answers(ctx: Ctx) {
    ctx.a.ping().await.unwrap();
    ctx.b.ping().await.unwrap();
}

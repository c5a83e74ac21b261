//! What an operator sees in the real Redis (a plain connection, as
//! `redis-cli`): the exact key names of ARCHITECTURE §5 behind the prefix,
//! and values that give nothing away.

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use futures::FutureExt;
use prm_state::{EncryptionKey, RedisStateStore, encrypted, keys};
use uuid::Uuid;

use crate::harness::{delete_redis_keys, redis_url};

const TTL: Duration = Duration::from_secs(900);
const PHONE: &str = "+573001112233";
const NAME: &str = "María Fernanda Rojas";
const COMPLAINT: &str = "dolor de pecho desde ayer";

/// Runs `case` with a fresh root prefix and deletes every key under it
/// afterwards, even when the case panics.
async fn with_root<F, Fut>(case: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let root = format!("test:{}:", Uuid::new_v4());
    let outcome = AssertUnwindSafe(case(root.clone())).catch_unwind().await;
    delete_redis_keys(&redis_url(), &root).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn plain_connection() -> deadpool_redis::Connection {
    let url = redis_url();
    deadpool_redis::Config::from_url(&url)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap()
        .get()
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} ({e}); start it with `make services`"))
}

async fn query<T: redis::FromRedisValue>(
    conn: &mut deadpool_redis::Connection,
    cmd: &mut redis::Cmd,
) -> T {
    cmd.query_async(conn).await.unwrap()
}

#[tokio::test]
async fn conversation_state_lands_under_the_architecture_keys_and_is_unreadable_in_clear() {
    with_root(|root| async move {
        let key = EncryptionKey::generate();
        let redis = RedisStateStore::new(&redis_url(), &format!("{root}prm")).unwrap();
        let store = encrypted(Arc::new(redis), key.clone(), None);
        let id = Uuid::new_v4();
        let extracted = serde_json::json!({ "name": NAME, "complaint": COMPLAINT }).to_string();
        store
            .hash_set_all(
                &keys::conversation_state(id),
                &[
                    ("stage".to_owned(), "intake".to_owned()),
                    ("extracted_data".to_owned(), extracted.clone()),
                ],
                TTL,
            )
            .await
            .unwrap();
        store
            .list_replace(
                &keys::required_fields(id),
                &["birth_date".to_owned(), "complaint".to_owned()],
                TTL,
            )
            .await
            .unwrap();
        let message = format!("Hola, soy {NAME} y tengo {COMPLAINT}");
        store
            .list_push_capped(&keys::recent_messages(id), &message, 20, TTL)
            .await
            .unwrap();
        store
            .set(&keys::phone_to_conversation(PHONE), &id.to_string(), TTL)
            .await
            .unwrap();

        let mut conn = plain_connection().await;
        // Every page of the scan: one page covers only part of a busy Redis.
        let mut found = BTreeSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, page): (u64, Vec<String>) = query(
                &mut conn,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{root}*"))
                    .arg("COUNT")
                    .arg(1000),
            )
            .await;
            found.extend(page);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let state = format!("{root}prm:conversation:{id}:state");
        let required = format!("{root}prm:conversation:{id}:required_fields");
        let messages = format!("{root}prm:conversation:{id}:messages");
        let phone = format!("{root}prm:phone_to_convo:{PHONE}");
        let expected: BTreeSet<String> = [&state, &required, &messages, &phone]
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(found, expected);

        for (name, kind) in [
            (&state, "hash"),
            (&required, "list"),
            (&messages, "list"),
            (&phone, "string"),
        ] {
            let actual: String = query(&mut conn, redis::cmd("TYPE").arg(name)).await;
            assert_eq!(actual, kind, "{name}");
            let pttl: i64 = query(&mut conn, redis::cmd("PTTL").arg(name)).await;
            assert!(pttl > 0 && pttl <= 900_000, "{name}: PTTL {pttl}");
        }
        let hash: Vec<(String, String)> = query(&mut conn, redis::cmd("HGETALL").arg(&state)).await;
        let mut field_names: Vec<&str> = hash.iter().map(|(f, _)| f.as_str()).collect();
        field_names.sort_unstable();
        assert_eq!(
            field_names,
            ["extracted_data", "stage"],
            "field names in clear"
        );
        let mut values: Vec<String> = hash.into_iter().map(|(_, v)| v).collect();
        for list in [&required, &messages] {
            let items: Vec<String> =
                query(&mut conn, redis::cmd("LRANGE").arg(list).arg(0).arg(-1)).await;
            assert_eq!(items.len(), if list == &required { 2 } else { 1 });
            values.extend(items);
        }
        values.push(query(&mut conn, redis::cmd("GET").arg(&phone)).await);

        let sealed_by = format!("v1.{}.", key.id());
        for value in &values {
            assert!(value.starts_with(&sealed_by), "{value}");
            for clear in [
                "María",
                "Maria",
                "Rojas",
                "dolor",
                "pecho",
                "intake",
                "birth_date",
                "Hola",
                &id.to_string(),
            ] {
                assert!(!value.contains(clear), "{clear:?} readable in {value}");
            }
        }

        // Through the store, everything reads back.
        assert_eq!(
            store
                .hash_get(&keys::conversation_state(id), "extracted_data")
                .await
                .unwrap(),
            Some(extracted)
        );
        assert_eq!(
            store.list_range(&keys::recent_messages(id)).await.unwrap(),
            [message]
        );
        assert_eq!(
            store
                .get(&keys::phone_to_conversation(PHONE))
                .await
                .unwrap(),
            Some(id.to_string())
        );
    })
    .await;
}

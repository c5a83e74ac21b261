//! A Redis that is down or hangs must give `StateError::Unavailable` within
//! the configured timeouts: never a panic, never a stalled request.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use prm_state::{RedisOptions, RedisStateStore, StateError, StateStore, from_config};
use tokio::net::TcpListener;

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StateError>, op: &str) {
    assert!(
        matches!(result, Err(StateError::Unavailable(_))),
        "{op}: expected Unavailable, got {result:?}"
    );
}

/// Calls every operation and checks each fails as Unavailable within `bound`.
async fn every_operation_is_unavailable(store: &dyn StateStore, bound: Duration) {
    let ttl = Duration::from_secs(60);
    let fields = vec![("f".to_owned(), "v".to_owned())];
    let values = vec!["v".to_owned()];
    macro_rules! check {
        ($op:literal, $call:expr) => {{
            let started = Instant::now();
            let result = tokio::time::timeout(bound * 3, $call)
                .await
                .unwrap_or_else(|_| panic!("{} hung", $op));
            assert_unavailable(result, $op);
            assert!(
                started.elapsed() <= bound,
                "{} took {:?}",
                $op,
                started.elapsed()
            );
        }};
    }
    check!("ping", store.ping());
    check!("get", store.get("k"));
    check!("set", store.set("k", "v", ttl));
    check!("set_if_absent", store.set_if_absent("k", "v", ttl));
    check!("delete", store.delete("k"));
    check!("expire", store.expire("k", ttl));
    check!("ttl", store.ttl("k"));
    check!("hash_set_all", store.hash_set_all("h", &fields, ttl));
    check!("hash_get", store.hash_get("h", "f"));
    check!("hash_get_all", store.hash_get_all("h"));
    check!("list_push_capped", store.list_push_capped("l", "v", 5, ttl));
    check!("list_replace", store.list_replace("l", &values, ttl));
    check!("list_range", store.list_range("l"));
}

#[tokio::test]
async fn refused_connection_is_unavailable() {
    // Nothing listens on port 1.
    let store = RedisStateStore::new("redis://127.0.0.1:1", "test").unwrap();
    every_operation_is_unavailable(&store, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn from_config_with_unreachable_url_builds_and_reports_unavailable() {
    let store = from_config(Some("redis://127.0.0.1:1"), Some("test")).unwrap();
    assert_eq!(store.backend(), "redis");
    assert_unavailable(store.ping().await, "ping");
}

#[tokio::test]
async fn silent_server_times_out_as_unavailable() {
    // Accepts TCP connections but never answers: the handshake hangs.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let options = RedisOptions {
        max_connections: 2,
        connect_timeout: Duration::from_millis(300),
        wait_timeout: Duration::from_millis(300),
        op_timeout: Duration::from_millis(500),
    };
    let store =
        RedisStateStore::with_options(&format!("redis://127.0.0.1:{port}"), "test", options)
            .unwrap();
    every_operation_is_unavailable(&store, Duration::from_secs(2)).await;
}

//! What encryption at rest costs per value: a 200-byte value (a patient
//! message) written and read back through the in-memory store, plain and
//! through the encrypting decorator. The difference is the seal + open
//! overhead, since the memory store itself costs a map insert and lookup.
//!
//! `cargo bench -p prm-state --bench encryption` (under `cargo test` each
//! case runs once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use prm_state::{EncryptionKey, MemoryStateStore, StateStore, encrypted};

const TTL: Duration = Duration::from_secs(900);

fn round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // 200 bytes of a typical WhatsApp message (accents are 2 bytes each).
    let message = "Hola, buenos días. Quisiera una cita con cardiología para mi mamá, \
                   tiene dolor en el pecho desde ayer y está muy cansada. ";
    let mut value = String::new();
    for c in message.chars().cycle() {
        if value.len() + c.len_utf8() > 200 {
            break;
        }
        value.push(c);
    }
    while value.len() < 200 {
        value.push(' ');
    }
    assert_eq!(value.len(), 200);

    let plain: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sealed = encrypted(
        Arc::new(MemoryStateStore::new()),
        EncryptionKey::generate(),
        None,
    );
    let stored = runtime.block_on(async {
        sealed.set("m", &value, TTL).await.unwrap();
        sealed.get("m").await.unwrap()
    });
    assert_eq!(stored.as_deref(), Some(value.as_str()));

    let mut group = c.benchmark_group("state value 200 B set+get");
    for (name, store) in [("plain", &plain), ("encrypted", &sealed)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    store.set("m", black_box(&value), TTL).await.unwrap();
                    black_box(store.get("m").await.unwrap())
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);

//! Fails when `openapi/asyncapi.yaml` differs from what the catalog generates.
//! `UPDATE_ASYNCAPI=1 cargo test -p prm-bus --test asyncapi` rewrites it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

#[test]
fn committed_asyncapi_document_matches_the_catalog() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(prm_bus::asyncapi::PATH);
    let generated = prm_bus::asyncapi::render();
    if std::env::var("UPDATE_ASYNCAPI").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} unreadable ({e}); run UPDATE_ASYNCAPI=1 cargo test -p prm-bus --test asyncapi",
            path.display()
        )
    });
    assert!(
        committed == generated,
        "{} is out of date with the event catalog; run UPDATE_ASYNCAPI=1 cargo test -p prm-bus --test asyncapi",
        path.display()
    );
}

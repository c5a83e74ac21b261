//! The fixtures these tests replay are committed in `tests/fixtures/` (a clean clone has
//! them); when the suite's shared directory is there, they must be byte-identical to it.

use std::path::PathBuf;

const COMMITTED: [(&str, &str); 2] = [
    (
        "meta-signatures.json",
        include_str!("../fixtures/meta-signatures.json"),
    ),
    (
        "twilio-signatures.json",
        include_str!("../fixtures/twilio-signatures.json"),
    ),
];

/// `PRM_SHARED_FIXTURES`, else the first `shared/fixtures` among this crate's ancestors.
fn shared_fixtures_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PRM_SHARED_FIXTURES") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "PRM_SHARED_FIXTURES={} is not a directory",
            dir.display()
        );
        return Some(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/fixtures"))
        .find(|dir| dir.is_dir())
}

#[test]
fn the_committed_fixtures_are_the_shared_ones() {
    for (name, committed) in COMMITTED {
        serde_json::from_str::<serde_json::Value>(committed)
            .unwrap_or_else(|e| panic!("tests/fixtures/{name} is not JSON: {e}"));
    }
    let Some(dir) = shared_fixtures_dir() else {
        eprintln!(
            "no shared fixtures directory (PRM_SHARED_FIXTURES or an ancestor's shared/fixtures): only the committed copies are used"
        );
        return;
    };
    for (name, committed) in COMMITTED {
        let path = dir.join(name);
        let shared =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            shared == committed.as_bytes(),
            "services/webhooks/tests/fixtures/{name} differs from {}: copy the shared file over it",
            path.display()
        );
    }
}

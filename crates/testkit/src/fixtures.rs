//! Fixtures the suite shares with other projects (signature vectors…), committed in a
//! crate's `tests/fixtures/` so a clean clone has them.

use std::path::{Path, PathBuf};

/// The shared fixtures directory: `PRM_SHARED_FIXTURES`, else the first
/// `shared/fixtures` among `crate_dir`'s ancestors (`/work/shared` beside a checkout).
pub fn shared_dir(crate_dir: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PRM_SHARED_FIXTURES") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "PRM_SHARED_FIXTURES={} is not a directory",
            dir.display()
        );
        return Some(dir);
    }
    Path::new(crate_dir)
        .ancestors()
        .map(|dir| dir.join("shared/fixtures"))
        .find(|dir| dir.is_dir())
}

/// Each committed copy (`(file name, contents)`, from `include_str!`) is JSON and, when
/// the shared directory is there, byte-identical to the shared file. `crate_dir` is the
/// caller's `env!("CARGO_MANIFEST_DIR")`.
pub fn assert_committed_copies_are_shared(crate_dir: &str, committed: &[(&str, &str)]) {
    for (name, contents) in committed {
        serde_json::from_str::<serde_json::Value>(contents)
            .unwrap_or_else(|e| panic!("tests/fixtures/{name} is not JSON: {e}"));
    }
    let Some(dir) = shared_dir(crate_dir) else {
        eprintln!(
            "no shared fixtures directory (PRM_SHARED_FIXTURES or an ancestor's shared/fixtures): only the committed copies are used"
        );
        return;
    };
    for (name, contents) in committed {
        let path = dir.join(name);
        let shared =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            shared == contents.as_bytes(),
            "{crate_dir}/tests/fixtures/{name} differs from {}: copy the shared file over it",
            path.display()
        );
    }
}

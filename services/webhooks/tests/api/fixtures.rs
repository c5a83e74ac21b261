//! The fixtures these tests replay are committed in `tests/fixtures/` (a clean clone has
//! them); when the suite's shared directory is there, they must be byte-identical to it.

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

#[test]
fn the_committed_fixtures_are_the_shared_ones() {
    prm_testkit::fixtures::assert_committed_copies_are_shared(
        env!("CARGO_MANIFEST_DIR"),
        &COMMITTED,
    );
}

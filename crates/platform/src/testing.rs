//! Test support shared by the services' HTTP tests (feature `testing`): drawing
//! reproducible arbitrary inputs with proptest, outside proptest's own runner, so async
//! tests can post them to a running app.

use std::collections::BTreeMap;

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::Value;

/// `n` values drawn from `strategy`, and the seed as hex. The seed is random unless
/// `PRM_FUZZ_SEED` (64 hex digits) replays an earlier run; print it with every failure.
pub fn draw<S: Strategy>(strategy: S, n: usize) -> (String, Vec<S::Value>) {
    let seed: [u8; 32] = match std::env::var("PRM_FUZZ_SEED") {
        Ok(hex) => (0..32)
            .map(|i| {
                hex.get(2 * i..2 * i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .and_then(|bytes| bytes.try_into().ok())
            .unwrap_or_else(|| panic!("PRM_FUZZ_SEED must be 64 hex digits, got {hex:?}")),
        Err(_) => rand::random(),
    };
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let values = (0..n)
        .map(|_| match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(reason) => panic!("strategy rejected every value: {reason}"),
        })
        .collect();
    (hex, values)
}

/// Any JSON document, up to three levels deep.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Answers counted by status. [`Tally::record`] fails on any 5xx, naming the seed and
/// the input.
#[derive(Debug, Default)]
pub struct Tally(pub BTreeMap<u16, usize>);

impl Tally {
    pub fn record(&mut self, seed: &str, status: u16, input: &impl std::fmt::Debug) {
        assert!(
            status < 500,
            "{status} for {input:?} (replay with PRM_FUZZ_SEED={seed})"
        );
        *self.0.entry(status).or_default() += 1;
    }

    /// The inputs reached both the accepting (2xx) and the refusing (4xx) paths; a run
    /// that only ever hit one means the generator no longer fits the routes.
    pub fn assert_mixed(&self, what: &str, seed: &str) {
        eprintln!("{what}: answers by status {:?} (seed {seed})", self.0);
        let accepted: usize = self.count(200..300);
        let refused: usize = self.count(400..500);
        assert!(
            accepted > 0 && refused > 0,
            "{what}: {:?} (seed {seed})",
            self.0
        );
    }

    fn count(&self, range: std::ops::Range<u16>) -> usize {
        self.0
            .iter()
            .filter(|(status, _)| range.contains(status))
            .map(|(_, n)| n)
            .sum()
    }
}

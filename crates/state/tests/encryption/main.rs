//! The encrypting decorator beyond the shared contract (which it also passes,
//! see `tests/contract`): what is stored, rotation, and what happens to values
//! that do not decrypt. `decorator` runs on the in-memory store; `at_rest`
//! looks at the real Redis with a plain connection, as `redis-cli` would.
#![allow(clippy::unwrap_used)]

mod at_rest;
mod decorator;
#[path = "../contract/harness.rs"]
#[allow(dead_code)]
mod harness;

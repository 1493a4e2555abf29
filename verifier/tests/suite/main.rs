//! letro-verifier's integration tests, in one test binary: each file of this directory is a
//! module (run one with `cargo test -p letro-verifier --test suite MODULE::`). One binary links
//! the verifier, the prover and their dependencies once, instead of once per file. The tests of
//! all modules share its process: none may set environment variables or other global state.
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../testdata/tsa/harness.rs"]
mod tsa;

mod batch;
mod cli;
mod evidence;
mod opening;
mod pdf;
mod snarkjs;
mod timestamps;
mod vectors;

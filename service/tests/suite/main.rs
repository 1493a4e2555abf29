//! letro-service's integration tests, in one test binary: each file of this directory is a
//! module (run one with `cargo test -p letro-service --test suite MODULE::`). One binary links
//! the service stack once, instead of once per file.
//!
//! The tests of all modules share this process, so none may change its global state: no
//! `std::env::set_var`, no global `tracing` subscriber (a test that captures the logs runs
//! alone in a child process of this binary: [`common::run_alone`]), no fixed ports.
#![allow(missing_docs)]
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../../../testdata/tsa/harness.rs"]
mod tsa;

mod access;
mod admin;
mod api;
mod api_examples;
mod certificates;
mod certified;
mod connections;
mod crash;
mod e2e;
mod lifecycle;
mod logs;
mod monitor;
mod notices;
mod observability;
mod operator;
mod proofs;
mod regions;
mod relay;
mod replicas;
mod stores;
mod timestamps;
mod witness;
mod witnessed;

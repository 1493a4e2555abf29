//! # letro-core
//!
//! The pure heart of the Letro proof-of-delivery toolkit: the `delivered-within` statement and
//! its public-input encoding, circomlib-compatible native primitives (Poseidon, Baby Jubjub,
//! EdDSA-Poseidon), the quaternary Poseidon Merkle tree, the delivery log's state and events
//! ([`log`]), and the bundle, opening and record codecs. Signed notes and checkpoints are the
//! log library's (letro-log); the HTTP API's shapes are letro-api's.
//!
//! Every in-circuit gadget in `letro-circuits` has its native twin here, with the same name.
//!
//! ## Non-features
//!
//! - No I/O, no clock, no randomness: callers pass bytes, times and keys in.
//! - No proving or verifying of Groth16 proofs (see `letro-prover` and `letro-verifier`).
#![forbid(unsafe_code)]

pub mod babyjubjub;
pub mod bundle;
pub mod eddsa;
pub mod evidence;
pub mod field;
pub mod lifecycle;
pub mod log;
pub mod merkle;
pub mod poseidon;
pub mod receipt_json;
pub mod statement;
pub mod tags;

pub use ark_bn254::Fr;

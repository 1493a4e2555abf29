//! # letro-log
//!
//! The log library of the Letro toolkit, apart from the circuit's primitives (letro-core) and
//! from the service that runs the log (letro-service), as transparency logs keep theirs:
//!
//! - [`note`]: C2SP signed notes: Ed25519 signer and verifier keys (vkey text), signing,
//!   verifying, and the signature lines of other keys (cosignatures) kept as they are;
//! - [`checkpoint`]: C2SP tlog-checkpoints (origin, size, root hash, extension lines such as
//!   the relay's receipt skew), signed as notes.
//!
//! No I/O, no clock, no randomness: callers pass bytes, times and keys in.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod note;

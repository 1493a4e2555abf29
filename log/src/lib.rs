//! # letro-log
//!
//! The log library of the Letro toolkit, apart from the circuit's primitives (letro-core) and
//! from the service that runs the log (letro-service), as transparency logs keep theirs:
//!
//! - [`note`]: C2SP signed notes: Ed25519 signer and verifier keys (vkey text), signing,
//!   verifying, and the signature lines of other keys (cosignatures) kept as they are;
//! - [`checkpoint`]: C2SP tlog-checkpoints (origin, size, root hash, extension lines such as
//!   the relay's receipt skew), signed as notes;
//! - [`cosignature`]: C2SP tlog-cosignature `cosignature/v1` (Ed25519, vkey type 0x04):
//!   witness keys, cosigning a checkpoint, verifying the cosignatures of trusted witnesses;
//! - [`policy`]: C2SP tlog-policy files (logs, witnesses, groups, the quorum) and whether a
//!   set of cosigners satisfies the quorum;
//! - [`rfc6962`]: RFC 6962 SHA-256 Merkle trees, their inclusion and consistency proofs and
//!   the proofs' verification, which C2SP witnesses and tiles assume;
//! - [`tiles`]: C2SP tlog-tiles: tile paths, hash tiles and entry bundles, and the tiles a
//!   tree's growth adds;
//! - [`witness`]: C2SP tlog-witness `add-checkpoint`: the request and answers, and the
//!   witness's decision (404, 403, 400, 409, 422 or the new latest to store);
//! - [`state`]: the three states of a log entry (sequenced, integrated, published) and the
//!   rules that move an entry between them.
//!
//! No I/O, no clock, no randomness: callers pass bytes, times and keys in.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod cosignature;
pub mod note;
pub mod policy;
pub mod rfc6962;
pub mod state;
pub mod tiles;
pub mod timestamp;
pub mod witness;

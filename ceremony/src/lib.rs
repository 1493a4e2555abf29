//! # letro-ceremony
//!
//! A multi-party Groth16 setup for the `delivered-within` circuit, in the formats of the circom
//! ecosystem so that snarkjs, which nobody on this team wrote, can check every step:
//!
//! - [`r1cs::R1cs`]: the circuit's constraint system as an iden3 `.r1cs` file, row for row the
//!   prover's matrices;
//! - [`ptau::Ptau`]: phase 1, a prepared snarkjs `.ptau` (e.g. the Perpetual Powers of Tau),
//!   accepted only when its BLAKE2b-512 equals the value the operator pinned;
//! - [`zkey::Zkey`]: phase 2 as a snarkjs `.zkey` chain. [`zkey::Zkey::new`] is
//!   `snarkjs zkey new`; [`phase2::contribute`], [`phase2::beacon`], [`phase2::verify`] and
//!   [`phase2::finalize`] are `zkey contribute`, `zkey beacon`, `zkey verify` and the export of
//!   the proving and verifying keys. A contribution made by snarkjs in the middle of a chain
//!   verifies here, and ours verify in snarkjs (`tests/ceremony.rs`).
//!
//! The setup is sound if one contributor kept their secret: each contribution multiplies `δ` by a
//! secret and proves knowledge of it on the transcript before it, so nobody who saw only some
//! contributions' secrets can compute the final `δ`'s.
//!
//! Keys from a ceremony use snarkjs's R1CS-to-QAP layout; [`letro_prover::Prover`] tells the
//! layouts apart and proves with either.
//!
//! ## Non-features
//! - Phase 1 is not run or verified here: it is imported from a pinned `.ptau`.
//! - Only BN254 and Groth16 keys.
#![forbid(unsafe_code)]

use std::path::PathBuf;

pub mod binfile;
pub mod encoding;
pub mod phase2;
pub mod ptau;
pub mod r1cs;
pub mod rng;
pub mod zkey;

pub use phase2::{beacon, contribute, finalize, verify, Checked, Verified};
pub use ptau::Ptau;
pub use r1cs::R1cs;
pub use zkey::Zkey;

/// Why a ceremony step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CeremonyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not of its format.
    #[error("not a valid .{file} file: {reason}")]
    Format {
        /// `r1cs`, `ptau` or `zkey`.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// An argument is out of range.
    #[error("{0}")]
    Usage(String),
    /// The circuit could not be synthesised or does not fit the formats.
    #[error("circuit: {0}")]
    Circuit(String),
    /// The `.ptau` is not the pinned file.
    #[error(
        "the .ptau's BLAKE2b-512 is {found}, not the pinned {pinned}: refusing an unpinned phase 1"
    )]
    PtauNotPinned {
        /// Of the file.
        found: String,
        /// Pinned by the operator.
        pinned: String,
    },
    /// The `.ptau` has too few powers for the circuit.
    #[error("the circuit needs a .ptau of power {needed} or more; this one has power {found}")]
    PtauTooSmall {
        /// Needed.
        needed: u32,
        /// In the file.
        found: u32,
    },
    /// A contribution in the chain does not verify.
    #[error("contribution {number}: {reason}")]
    Contribution {
        /// 1-based position in the chain.
        number: usize,
        /// What is wrong.
        reason: String,
    },
    /// The transcript as a whole does not verify.
    #[error("the transcript does not verify: {0}")]
    Transcript(String),
}

//! # letro-circuits
//!
//! The `delivered-within` v1 circuit over BN254 and its gadgets. Every gadget has a native twin
//! in `letro-core` with the same name, and a test that both agree:
//!
//! | gadget | native twin | cost (constraints) |
//! |---|---|---|
//! | [`poseidon::poseidon`] | `letro_core::poseidon::poseidon` | 3 per S-box: 297 for 4 inputs (294 with a constant tag) |
//! | [`bits::to_bits_le`] | integer bits | n + 1 |
//! | [`babyjubjub::PointVar::add`] | Edwards addition | 6 |
//! | [`babyjubjub::PointVar::double`] | Edwards doubling | 5 |
//! | [`babyjubjub::mul_base8`] | `mul_base8` | 3 per 3-bit window + 6 per addition |
//! | [`babyjubjub::mul_var`] | `mul_fr` | 22 per 2-bit window |
//! | [`eddsa::verify`] | `PublicKey::verify` | see the module |
//! | [`merkle::root`] | `InclusionProof::root` | 300 per level (3 + 297) |
//!
//! Circuits take typed values from `letro-core`; parsing lives there.
//!
//! ## Non-features
//!
//! - No proving or key handling (see `letro-prover`).
//! - No parsing of untrusted input.
#![forbid(unsafe_code)]

pub mod babyjubjub;
pub mod bits;
pub mod circuit;
pub mod eddsa;
pub mod merkle;
pub mod poseidon;

pub use circuit::DeliveredWithinCircuit;

/// The field every gadget works in.
pub type F = letro_core::Fr;
/// A field variable.
pub type FpVar = ark_r1cs_std::fields::fp::FpVar<F>;
/// A boolean variable.
pub type Boolean = ark_r1cs_std::boolean::Boolean<F>;
pub use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

//! The `delivered-within/v2` circuit.
//!
//! Public inputs (in this order): `H_hi, H_lo, not_before, not_after, C, R`.
//! The relation, as SPEC.md states it:
//! - `H_hi, H_lo < 2^128`; `not_before, not_after < 2^64`;
//! - `t - not_before` and `not_after - t` are in `[0, 2^64)`; with the bounds below 2^64 this
//!   gives `not_before <= t <= not_after` and hence `t < 2^64` (no separate check of `t`);
//! - `C = Poseidon(tag_recipient, A.x, A.y, r)`;
//! - `(R8, S)` is a valid EdDSA-Poseidon signature by `A` on
//!   `m = Poseidon(tag_receipt, H_hi, H_lo, t)` ([`crate::eddsa::verify`]);
//! - `L = Poseidon(tag_delivered_v2, H_hi, H_lo, A.x, A.y, t, e)`, with the private per-event
//!   secret `e` that makes the published leaf hiding, is at the path's index in the quaternary
//!   tree with root `R` ([`crate::merkle::root`]).
//!
//! v1 differed only in the leaf (`Poseidon(tag_delivered_v1, H_hi, H_lo, A.x, A.y, t)`); its
//! verifying key stays pinned in the verifier, but v1 is no longer proved.

use ark_ff::PrimeField;
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::FieldVar};
use ark_relations::gr1cs::ConstraintSynthesizer;
use letro_core::merkle::{position, DEPTH};
use letro_core::statement::{DeliveredWithin, DeliveryWitness, NUM_PUBLIC_INPUTS};
use letro_core::tags;

use crate::babyjubjub::PointVar;
use crate::bits::enforce_range;
use crate::poseidon::poseidon;
use crate::{Boolean, ConstraintSystemRef, FpVar, SynthesisError, F};

/// The full assignment of the circuit as raw field elements, public inputs first.
///
/// Built from typed values with [`Assignment::new`]; its fields are public so that tests can
/// tamper with single values and show that each constraint holds its ground.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// `H_hi, H_lo, not_before, not_after, C, R`.
    pub public: [F; NUM_PUBLIC_INPUTS],
    /// Delivery time `t`.
    pub t: F,
    /// Receipt key `A = (ax, ay)`.
    pub a: (F, F),
    /// Blinding `r`.
    pub blinding: F,
    /// Per-event secret `e` of the delivered leaf.
    pub event_secret: F,
    /// Signature point `R8`.
    pub r8: (F, F),
    /// Signature scalar `S` as an integer below `p`.
    pub s: F,
    /// The leaf index's 32 bits, little-endian.
    pub index_bits: [bool; 2 * DEPTH],
    /// Siblings per level, in the circuit's order ([`crate::merkle::circuit_siblings`]).
    pub siblings: [[F; 3]; DEPTH],
}

impl Assignment {
    /// The assignment for a statement and its witness.
    pub fn new(statement: &DeliveredWithin, w: &DeliveryWitness) -> Self {
        let a = w.receipt_key.point();
        let s_int = F::from_le_bytes_mod_order(&ark_ff::BigInteger::to_bytes_le(
            &w.signature.s.into_bigint(),
        ));
        let mut index_bits = [false; 2 * DEPTH];
        for (i, b) in index_bits.iter_mut().enumerate() {
            *b = (w.path.index >> i) & 1 == 1;
        }
        let mut siblings = [[F::from(0u64); 3]; DEPTH];
        for (level, (out, asc)) in siblings.iter_mut().zip(&w.path.siblings).enumerate() {
            *out = crate::merkle::circuit_siblings(asc, position(w.path.index, level));
        }
        Self {
            public: statement.public_inputs(),
            t: F::from(w.delivered_at),
            a: (a.x, a.y),
            blinding: w.blinding,
            event_secret: w.event_secret,
            r8: (w.signature.r8.x, w.signature.r8.y),
            s: s_int,
            index_bits,
            siblings,
        }
    }
}

/// The circuit: with an assignment for proving, or blank for key setup.
#[derive(Debug, Clone, Default)]
pub struct DeliveredWithinCircuit {
    /// The values, absent during setup.
    pub assignment: Option<Assignment>,
}

impl DeliveredWithinCircuit {
    /// A circuit without values, for key setup and constraint counting.
    pub fn blank() -> Self {
        Self { assignment: None }
    }

    /// A circuit for proving `statement` with `witness`.
    pub fn new(statement: &DeliveredWithin, witness: &DeliveryWitness) -> Self {
        Self {
            assignment: Some(Assignment::new(statement, witness)),
        }
    }
}

fn value<T: Copy>(
    a: &Option<Assignment>,
    f: impl FnOnce(&Assignment) -> T,
) -> Result<T, SynthesisError> {
    a.as_ref().map(f).ok_or(SynthesisError::AssignmentMissing)
}

impl ConstraintSynthesizer<F> for DeliveredWithinCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
        self.synthesize(cs, &mut |_| {})
    }
}

impl DeliveredWithinCircuit {
    /// Synthesises the circuit, calling `mark(part)` after each part so that callers can
    /// attribute constraints.
    fn synthesize(
        self,
        cs: ConstraintSystemRef<F>,
        mark: &mut dyn FnMut(&'static str),
    ) -> Result<(), SynthesisError> {
        let a = &self.assignment;
        let input = |i: usize| {
            FpVar::new_input(cs.clone(), || {
                value(a, |v| v.public.get(i).copied())?.ok_or(SynthesisError::AssignmentMissing)
            })
        };
        let (h_hi, h_lo, not_before, not_after, commitment, root) = (
            input(0)?,
            input(1)?,
            input(2)?,
            input(3)?,
            input(4)?,
            input(5)?,
        );

        let wit = |f: &dyn Fn(&Assignment) -> F| FpVar::new_witness(cs.clone(), || value(a, f));
        let t = wit(&|v| v.t)?;
        let key = PointVar {
            x: wit(&|v| v.a.0)?,
            y: wit(&|v| v.a.1)?,
        };
        let blinding = wit(&|v| v.blinding)?;
        let r8 = PointVar {
            x: wit(&|v| v.r8.0)?,
            y: wit(&|v| v.r8.1)?,
        };
        let s = wit(&|v| v.s)?;
        let event_secret = wit(&|v| v.event_secret)?;
        let index_bits = (0..2 * DEPTH)
            .map(|i| {
                Boolean::new_witness(cs.clone(), || {
                    value(a, |v| v.index_bits.get(i).copied())?
                        .ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let siblings = (0..DEPTH)
            .map(|level| {
                let get = |j: usize| {
                    wit(&|v| {
                        v.siblings
                            .get(level)
                            .and_then(|l| l.get(j))
                            .copied()
                            .unwrap_or_default()
                    })
                };
                Ok([get(0)?, get(1)?, get(2)?])
            })
            .collect::<Result<Vec<_>, SynthesisError>>()?;
        mark("index bits (32 booleans)");

        // Ranges of the public inputs, and the window.
        enforce_range(&h_hi, 128)?;
        enforce_range(&h_lo, 128)?;
        enforce_range(&not_before, 64)?;
        enforce_range(&not_after, 64)?;
        enforce_range(&(&t - &not_before), 64)?;
        enforce_range(&(&not_after - &t), 64)?;
        mark("ranges: H halves < 2^128, bounds < 2^64, not_before <= t <= not_after");

        // The recipient commitment.
        let tag = |name: &str| FpVar::constant(tags::tag(name));
        let c = poseidon(&[tag(tags::RECIPIENT), key.x.clone(), key.y.clone(), blinding])?;
        c.enforce_equal(&commitment)?;
        mark("recipient commitment: Poseidon(4)");

        // The receipt signature.
        let m = poseidon(&[tag(tags::RECEIPT), h_hi.clone(), h_lo.clone(), t.clone()])?;
        mark("receipt message: Poseidon(4)");
        crate::eddsa::verify_marked(&key, &m, &r8, &s, mark)?;

        // The delivered leaf in the log, hidden by the per-event secret.
        let leaf = poseidon(&[
            tag(tags::DELIVERED),
            h_hi,
            h_lo,
            key.x,
            key.y,
            t,
            event_secret,
        ])?;
        mark("delivered leaf: Poseidon(7) with the event secret");
        crate::merkle::root(&leaf, &index_bits, &siblings)?.enforce_equal(&root)?;
        mark("Merkle path: 16 levels of Poseidon(4) + 3 selections");
        Ok(())
    }
}

/// Constraints per part of the circuit, in synthesis order; they add up to
/// [`constraint_count`].
pub fn constraint_breakdown() -> Result<Vec<(&'static str, usize)>, SynthesisError> {
    let cs = ark_relations::gr1cs::ConstraintSystem::<F>::new_ref();
    cs.set_optimization_goal(ark_relations::gr1cs::OptimizationGoal::Constraints);
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    let mut parts = Vec::new();
    let mut last = 0;
    let counter = cs.clone();
    DeliveredWithinCircuit::blank().synthesize(cs, &mut |name| {
        let now = counter.num_constraints();
        parts.push((name, now - last));
        last = now;
    })?;
    Ok(parts)
}

/// The number of constraints of the circuit, by synthesising it blank.
pub fn constraint_count() -> Result<usize, SynthesisError> {
    let cs = ark_relations::gr1cs::ConstraintSystem::<F>::new_ref();
    cs.set_optimization_goal(ark_relations::gr1cs::OptimizationGoal::Constraints);
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    DeliveredWithinCircuit::blank().generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints())
}

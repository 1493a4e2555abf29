//! Bit decomposition and range checks.

use ark_ff::{AdditiveGroup, BigInteger, PrimeField};
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::FieldVar, GR1CSVar};

use crate::{Boolean, FpVar, SynthesisError, F};

/// The `n` little-endian bits of `x`, constrained so that `sum 2^i b_i = x`.
///
/// Cost: `n` booleanity constraints + 1 for the sum. With `n < 254` this also proves
/// `x < 2^n`. With `n = 254` the decomposition is not unique (`x` and `x + p` may both fit);
/// callers that need uniqueness add [`enforce_lt_const`].
pub fn to_bits_le(x: &FpVar, n: usize) -> Result<Vec<Boolean>, SynthesisError> {
    let cs = x.cs();
    let value = x.value().ok().map(|v| v.into_bigint());
    let bits = (0..n)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                value.map(|v| v.get_bit(i)).ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut sum = FpVar::zero();
    let mut coeff = F::from(1u64);
    for b in &bits {
        sum += FpVar::from(b.clone()) * coeff;
        coeff.double_in_place();
    }
    sum.enforce_equal(x)?;
    Ok(bits)
}

/// Enforces `x < 2^n` (`n < 254`). Cost: n + 1.
pub fn enforce_range(x: &FpVar, n: usize) -> Result<(), SynthesisError> {
    to_bits_le(x, n).map(|_| ())
}

/// Enforces that the little-endian `bits`, read as an integer, are below the constant `bound`.
/// Cost: about one constraint per zero bit of `bound - 1` plus one per run of ones.
pub fn enforce_lt_const(bits: &[Boolean], bound: &<F as PrimeField>::BigInt) -> Result<(), SynthesisError> {
    let mut max = *bound;
    // bound >= 1 for every caller (a modulus), so this does not underflow.
    max.sub_with_borrow(&<F as PrimeField>::BigInt::from(1u64));
    Boolean::enforce_smaller_or_equal_than_le(bits, max.as_ref()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystem;

    fn satisfied(x: F, n: usize) -> bool {
        let cs = ConstraintSystem::<F>::new_ref();
        let v = FpVar::new_witness(cs.clone(), || Ok(x));
        let ok = v.and_then(|v| enforce_range(&v, n)).is_ok();
        ok && cs.is_satisfied().unwrap_or(false)
    }

    #[test]
    fn range_boundaries() {
        assert!(satisfied(F::from(u64::MAX), 64));
        assert!(!satisfied(F::from(u128::from(u64::MAX) + 1), 64));
        assert!(satisfied(F::from(0u64), 64));
        assert!(!satisfied(-F::from(1u64), 64));
    }
}

//! Bit decomposition and range checks.

use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};
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
                value
                    .map(|v| v.get_bit(i))
                    .ok_or(SynthesisError::AssignmentMissing)
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

/// Enforces that the little-endian `bits`, read as an integer, are below the constant `bound`,
/// where `bits.len()` is exactly the bit length of `bound`.
///
/// Scanning from the most significant bit, `eq` says whether the bits so far equal `bound`'s.
/// In a run of zeros of `bound`, no bit may be 1 while `eq` holds: one constraint
/// `eq · Σ x_j = 0` per run. A run of ones updates `eq ∧= x_j...`: one constraint for a single
/// bit, two (a sum compared with its length) for a longer run. At the end `eq = 0`, so the
/// integer differs from `bound`. Cost: 153 constraints for Baby Jubjub's `l`, 132 for the
/// BN254 modulus (against 300 to 400 for `Boolean::enforce_smaller_or_equal_than_le`).
pub fn enforce_lt_const(
    bits: &[Boolean],
    bound: &<F as PrimeField>::BigInt,
) -> Result<(), SynthesisError> {
    let n = bound.num_bits() as usize;
    if bits.len() != n || n == 0 {
        return Err(SynthesisError::Unsatisfiable);
    }
    // Runs of equal bits of `bound`, most significant first, with the variables they cover.
    let mut eq: Option<FpVar> = None; // None: the constant 1 (nothing scanned yet)
    let mut i = n;
    while i > 0 {
        let bit = bound.get_bit(i - 1);
        let mut j = i;
        while j > 0 && bound.get_bit(j - 1) == bit {
            j -= 1;
        }
        let run: Vec<FpVar> = bits
            .get(j..i)
            .unwrap_or(&[])
            .iter()
            .map(|b| FpVar::from(b.clone()))
            .collect();
        if bit {
            let mut terms = run;
            if let Some(e) = eq.take() {
                terms.push(e);
            }
            eq = Some(and_all(&terms)?);
        } else {
            let e = eq.clone().unwrap_or(FpVar::one());
            let sum = run.iter().fold(FpVar::zero(), |acc, x| acc + x);
            e.mul_equals(&sum, &FpVar::zero())?;
        }
        i = j;
    }
    eq.unwrap_or(FpVar::one()).enforce_equal(&FpVar::zero())
}

/// The AND of boolean-valued variables: 1 constraint for two, 2 for more.
fn and_all(terms: &[FpVar]) -> Result<FpVar, SynthesisError> {
    match terms {
        [] => Ok(FpVar::one()),
        [a] => Ok(a.clone()),
        [a, b] => Ok(a * b),
        _ => {
            let k = F::from(terms.len() as u64);
            let d = terms.iter().fold(FpVar::zero(), |acc, x| acc + x) - k;
            let cs = d.cs();
            let dv = d.value().ok();
            let r = FpVar::new_witness(cs.clone(), || {
                dv.map(|d| F::from(u64::from(d.is_zero())))
                    .ok_or(SynthesisError::AssignmentMissing)
            })?;
            let inv = FpVar::new_witness(cs, || {
                dv.map(|d| d.inverse().unwrap_or_default())
                    .ok_or(SynthesisError::AssignmentMissing)
            })?;
            // d = 0 forces r = 1; d != 0 forces r = 0 (and inv = 1/d exists).
            d.mul_equals(&inv, &(FpVar::one() - &r))?;
            d.mul_equals(&r, &FpVar::zero())?;
            Ok(r)
        }
    }
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

    fn lt_satisfied(x: &num_bigint::BigUint, bound: &<F as PrimeField>::BigInt) -> bool {
        let cs = ConstraintSystem::<F>::new_ref();
        let n = bound.num_bits() as usize;
        let bits: Vec<Boolean> = (0..n)
            .map(|i| Boolean::new_witness(cs.clone(), || Ok(x.bit(i as u64))))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        enforce_lt_const(&bits, bound).is_ok() && cs.is_satisfied().unwrap_or(false)
    }

    #[test]
    fn lt_const_boundaries_and_cost() {
        let l = <letro_core::babyjubjub::Fs as PrimeField>::MODULUS;
        let p = F::MODULUS;
        for bound in [l, p] {
            let b = num_bigint::BigUint::from_bytes_le(&bound.to_bytes_le());
            let n = bound.num_bits() as u64;
            let one = num_bigint::BigUint::from(1u8);
            let max = (&one << n) - &one;
            for (x, ok) in [
                (num_bigint::BigUint::from(0u8), true),
                (&b - &one, true),
                (&b >> 1u32, true),
                (b.clone(), false),
                (&b + &one, false),
                (max.clone(), false),
                (&b - (&one << 100u32), true),
                (&b + (&one << 100u32), false),
            ] {
                assert_eq!(lt_satisfied(&x, &bound), ok, "x = {x}, bound = {b}");
            }
        }
        let cost = |bound: &<F as PrimeField>::BigInt| {
            let cs = ConstraintSystem::<F>::new_ref();
            let bits: Vec<Boolean> = (0..bound.num_bits())
                .map(|_| Boolean::new_witness(cs.clone(), || Ok(false)))
                .collect::<Result<_, _>>()
                .unwrap_or_default();
            let before = cs.num_constraints();
            enforce_lt_const(&bits, bound).ok();
            cs.num_constraints() - before
        };
        assert_eq!(cost(&l), 153);
        assert_eq!(cost(&p), 132);
    }

    #[test]
    fn range_boundaries() {
        assert!(satisfied(F::from(u64::MAX), 64));
        assert!(!satisfied(F::from(u128::from(u64::MAX) + 1), 64));
        assert!(satisfied(F::from(0u64), 64));
        assert!(!satisfied(-F::from(1u64), 64));
    }
}

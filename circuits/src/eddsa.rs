//! In-circuit EdDSA-Poseidon verification (circomlib's `EdDSAPoseidonVerifier`, plus on-curve
//! checks of `A` and `R8`); twin of `letro_core::eddsa::PublicKey::verify`.
//!
//! Checks, in order: `A` and `R8` on the curve (3 + 3); `S < l` (251 bits + comparison with the
//! constant `l`, 153); `hm = Poseidon(R8.x, R8.y, A.x, A.y, m)` (321); `hm` decomposed into 254 bits
//! uniquely (`< p`, 132); `8A` by three doublings (15) with `x(8A) != 0`, which rules out every point
//! of order dividing 8 (1); `S·Base8` fixed-base (749); `hm·8A` variable-base (2,789); and
//! `S·Base8 = R8 + hm·8A` (6 + 2). The exact total is pinned by a test.

use ark_ff::Field;
use ark_ff::PrimeField;
use ark_r1cs_std::{alloc::AllocVar, fields::FieldVar, GR1CSVar};

use crate::babyjubjub::{mul_base8, mul_var, subgroup_order, PointVar};
use crate::bits::{enforce_lt_const, to_bits_le};
use crate::poseidon::poseidon;
use crate::{FpVar, SynthesisError, F};

/// Bits of a subgroup scalar: `l < 2^251`.
pub const SCALAR_BITS: usize = 251;

/// Enforces that `(r8, s)` is a valid EdDSA-Poseidon signature by `a` on `msg`.
pub fn verify(a: &PointVar, msg: &FpVar, r8: &PointVar, s: &FpVar) -> Result<(), SynthesisError> {
    verify_marked(a, msg, r8, s, &mut |_| {})
}

/// [`verify`], calling `mark(part)` after each part to attribute constraints.
pub fn verify_marked(
    a: &PointVar,
    msg: &FpVar,
    r8: &PointVar,
    s: &FpVar,
    mark: &mut dyn FnMut(&'static str),
) -> Result<(), SynthesisError> {
    a.enforce_on_curve()?;
    r8.enforce_on_curve()?;
    mark("EdDSA: A and R8 on the curve");

    let s_bits = to_bits_le(s, SCALAR_BITS)?;
    enforce_lt_const(&s_bits, &subgroup_order())?;
    mark("EdDSA: S in 251 bits and S < l");

    let hm = poseidon(&[
        r8.x.clone(),
        r8.y.clone(),
        a.x.clone(),
        a.y.clone(),
        msg.clone(),
    ])?;
    mark("EdDSA: challenge Poseidon(5)");
    let hm_bits = to_bits_le(&hm, 254)?;
    enforce_lt_const(&hm_bits, &F::MODULUS)?;
    mark("EdDSA: challenge in 254 bits, < p");

    let a8 = a.double()?.double()?.double()?;
    // x(8A) != 0: 8A is neither the identity (0, 1) nor (0, -1).
    let cs = a8.x.cs();
    let inv = FpVar::new_witness(cs, || {
        // A small-order key has no inverse here: the proof cannot be made, as it must not.
        Ok(a8.x.value()?.inverse().unwrap_or_default())
    })?;
    a8.x.mul_equals(&inv, &FpVar::one())?;
    mark("EdDSA: 8A and x(8A) != 0 (not small order)");

    let left = mul_base8(&s_bits)?;
    mark("EdDSA: S·Base8, fixed base, 3-bit windows");
    let hm_a8 = mul_var(&a8, &hm_bits)?;
    mark("EdDSA: hm·8A, variable base, 2-bit windows");
    let right = r8.add(&hm_a8)?;
    left.enforce_equal(&right)?;
    mark("EdDSA: R8 + hm·8A = S·Base8");
    Ok(())
}

//! Sums with the curves' endomorphism (GLV): on BN254, `φ(x, y) = (β·x, y)` is `λ·P` on both
//! G1 and G2, so a scalar `k` splits into `k₁ + λ·k₂` with `|k₁|, |k₂| < 2^127`, and
//! `k·P = k₁·P + k₂·φ(P)`. A sum of `n` terms with 254-bit scalars becomes one of `2n` terms
//! with 127-bit scalars: as many point additions, but half as many windows, so half as many
//! bucket sums, and a wider window pays. `φ` costs one multiplication per base.
//!
//! The split is arkworks' lattice (`GLVConfig::SCALAR_DECOMP_COEFFS`) with Babai's rounding done
//! by precomputed reciprocals instead of big-integer division: `β = round(k·g / 2^320)` with
//! `g = ⌊2^320·|n|/r⌋`, within `2^-66` of `k·|n|/r`. Then `|k₁| ≤ 0.5·(|n₁₁| + |n₂₁|)` and
//! `|k₂| ≤ 0.5·(|n₁₂| + |n₂₂|)` plus that error, about `2^125.8`, so both are computed exactly
//! modulo `2^128` and read as `i128`. The same holds for any `k < 2^256`, reduced or not: the
//! lattice's vectors vanish at `λ` modulo `r`, so `k₁ + λ·k₂ ≡ k` whatever `β` is, and the
//! rounding's error does not grow with `k`, so the halves stay as short; only `β` modulo `2^128`
//! enters the computation. The tests check `k ≡ k₁ + λ·k₂ (mod r)`, reduced and unreduced, and
//! the sums against arkworks.

use ark_bn254::{g1, g2, Fr};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ff::BigInt;
use rayon::prelude::*;

use super::{msm_with, nonzero_terms, Part, MIN_AFFINE_BUCKETS};

/// A BN254 group with its GLV lattice and rounding constants.
pub trait Endomorphism: SWCurveConfig<ScalarField = Fr> + GLVConfig {
    /// The lattice basis `(n₁₁, n₁₂, n₂₁, n₂₂)` of arkworks' `SCALAR_DECOMP_COEFFS`, signed.
    const BASIS: [i128; 4];
    /// `⌊2^320·|n₂₂|/r⌋` and `⌊2^320·|n₁₂|/r⌋`, little-endian limbs.
    const RECIPROCALS: [[u64; 4]; 2];
}

// |n₁₁| = |n₂₂| (one of them) = 147946756881789319000765030803803410728 or …010696353538189108491,
// |n₁₂| = |n₂₁| = 9931322734385697763; the determinant n₁₁·n₂₂ − n₁₂·n₂₁ is r for both groups.
const A: i128 = 147_946_756_881_789_319_000_765_030_803_803_410_728;
const B: i128 = 9_931_322_734_385_697_763;
const C: i128 = 147_946_756_881_789_319_010_696_353_538_189_108_491;

impl Endomorphism for g1::Config {
    const BASIS: [i128; 4] = [-A, B, -B, -C];
    const RECIPROCALS: [[u64; 4]; 2] = [
        [
            0x149d_540f_d5e4_95cc,
            0x5398_fd03_00ff_6565,
            0x4cce_f014_a773_d2d2,
            0x2,
        ],
        [0x6eb9_c714_773a_6ef2, 0xd91d_232e_c7e0_b3d7, 0x2, 0x0],
    ];
}

impl Endomorphism for g2::Config {
    const BASIS: [i128; 4] = [-C, -B, B, -A];
    const RECIPROCALS: [[u64; 4]; 2] = [
        [
            0xa5e3_8cfb_5eaa_26d9,
            0x7a7b_d9d4_391e_b18d,
            0x4cce_f014_a773_d2cf,
            0x2,
        ],
        [0x6eb9_c714_773a_6ef2, 0xd91d_232e_c7e0_b3d7, 0x2, 0x0],
    ];
}

/// `round(k·g / 2^320)` modulo `2^128`, for `k < 2^256` and `g < 2^256`; it is the whole
/// result when `k·g < 2^448`, as for reduced `k` and the reciprocals above (`g < 2^194`).
fn mul_round(k: &[u64; 4], g: &[u64; 4]) -> u128 {
    let mut product = [0u64; 8];
    for (i, &ki) in k.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &gj) in g.iter().enumerate() {
            if let Some(limb) = product.get_mut(i + j) {
                let t = u128::from(*limb) + u128::from(ki) * u128::from(gj) + carry;
                *limb = t as u64;
                carry = t >> 64;
            }
        }
        if let Some(limb) = product.get_mut(i + 4) {
            *limb = carry as u64;
        }
    }
    let [_, _, _, _, round, lo, hi, _] = product;
    (u128::from(lo) | (u128::from(hi) << 64)).wrapping_add(u128::from(round >> 63))
}

/// `(k₁, k₂)` with `k ≡ k₁ + λ·k₂ (mod r)` and both below `2^127` in magnitude, for any
/// `k < 2^256` (see the module's docs).
pub fn split<P: Endomorphism>(k: &BigInt<4>) -> (i128, i128) {
    let [n11, n12, n21, n22] = P::BASIS;
    let [g22, g12] = P::RECIPROCALS;
    // β₁ = round(k·n₂₂/r), β₂ = round(−k·n₁₂/r), modulo 2^128 (each at most 2^127 in
    // magnitude when k < r).
    let beta1 = (mul_round(&k.0, &g22) as i128).wrapping_mul(n22.signum());
    let beta2 = (mul_round(&k.0, &g12) as i128).wrapping_mul(-n12.signum());
    // k₁ = k − β₁·n₁₁ − β₂·n₂₁ and k₂ = −β₁·n₁₂ − β₂·n₂₂, exact modulo 2^128 and small.
    let [k0, k1_limb, _, _] = k.0;
    let k_low = (u128::from(k0) | (u128::from(k1_limb) << 64)) as i128;
    let k1 = k_low
        .wrapping_sub(beta1.wrapping_mul(n11))
        .wrapping_sub(beta2.wrapping_mul(n21));
    let k2 = beta1
        .wrapping_mul(n12)
        .wrapping_add(beta2.wrapping_mul(n22))
        .wrapping_neg();
    (k1, k2)
}

/// The point, negated if `k` is negative, and `|k|` as a scalar.
fn signed<P: SWCurveConfig>(p: Affine<P>, k: i128) -> (Affine<P>, BigInt<4>) {
    let m = k.unsigned_abs();
    let scalar = BigInt([m as u64, (m >> 64) as u64, 0, 0]);
    (if k < 0 { -p } else { p }, scalar)
}

/// The sum of [`super::msm_parts`] by the GLV split. Every scalar counts as the integer it is,
/// reduced or not, as in [`super::msm_parts`]: the points have order `r`, and the split is
/// exact modulo `r` for every 256-bit scalar.
pub fn msm_parts<P: Endomorphism>(parts: &[Part<'_, P>]) -> Projective<P> {
    let terms = nonzero_terms(parts);
    let mut points = vec![Affine::<P>::identity(); 2 * terms.len()];
    let mut scalars = vec![BigInt::<4>::zero(); 2 * terms.len()];
    points
        .par_chunks_mut(2)
        .zip(scalars.par_chunks_mut(2))
        .zip(terms.par_iter())
        .for_each(|((points, scalars), (p, k))| {
            let (k1, k2) = split::<P>(k);
            let (p1, s1) = signed(**p, k1);
            let (p2, s2) = signed(P::endomorphism_affine(p), k2);
            points.copy_from_slice(&[p1, p2]);
            scalars.copy_from_slice(&[s1, s2]);
        });
    msm_with(&[(&points, &scalars)], None, MIN_AFFINE_BUCKETS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ark_bn254::{G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::AffineRepr;
    use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
    use ark_ff::{BigInteger, Field, One, PrimeField, UniformRand, Zero};
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(127)
    }

    fn scalars_to_try() -> Vec<Fr> {
        let mut rng = rng();
        let mut out: Vec<Fr> = (0..20_000).map(|_| Fr::rand(&mut rng)).collect();
        out.extend([Fr::zero(), Fr::one(), -Fr::one(), -Fr::from(2u64)]);
        out.extend([g1::Config::LAMBDA, -g1::Config::LAMBDA, g2::Config::LAMBDA]);
        // Powers of two, their neighbours, negations and inverses; the lattice's coefficients.
        for shift in [1u32, 2, 64, 127, 128, 200, 253] {
            let x = Fr::from(2u64).pow([u64::from(shift)]);
            out.extend([x, x - Fr::one(), -x, x.inverse().unwrap()]);
        }
        out.extend([
            Fr::from(A as u128),
            Fr::from(B as u128),
            Fr::from(C as u128),
        ]);
        out
    }

    fn check_split<P: Endomorphism>() {
        for k in scalars_to_try() {
            let (k1, k2) = split::<P>(&k.into_bigint());
            assert!(
                k1.unsigned_abs() < 1 << 126 && k2.unsigned_abs() < 1 << 126,
                "{k}"
            );
            assert_eq!(Fr::from(k1) + P::LAMBDA * Fr::from(k2), k, "{k}");
        }
    }

    #[test]
    fn the_split_recomposes_every_scalar_with_short_halves() {
        check_split::<g1::Config>();
        check_split::<g2::Config>();
    }

    #[test]
    fn the_endomorphism_is_multiplication_by_lambda() {
        let mut rng = rng();
        let p = G1Affine::rand(&mut rng);
        assert_eq!(
            g1::Config::endomorphism_affine(&p),
            (p * g1::Config::LAMBDA).into_affine()
        );
        let q = (G2Projective::generator() * Fr::rand(&mut rng)).into_affine();
        assert_eq!(
            g2::Config::endomorphism_affine(&q),
            (q * g2::Config::LAMBDA).into_affine()
        );
    }

    #[test]
    fn sums_by_the_split_agree_with_arkworks() {
        let mut rng = rng();
        for n in [1usize, 2, 100, 3000] {
            let mut bases: Vec<G1Affine> = (0..n).map(|_| G1Affine::rand(&mut rng)).collect();
            let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            // Repeated, opposite and infinite bases; zero, one and minus-one scalars.
            bases.extend([bases[0], -bases[0], G1Affine::identity()]);
            scalars.extend([scalars[0], -Fr::one(), Fr::one()]);
            scalars[n / 2] = Fr::zero();
            let big: Vec<_> = scalars.iter().map(|s| s.into_bigint()).collect();
            let theirs = G1Projective::msm_bigint(&bases, &big).into_affine();
            let (left, right) = bases.split_at(n / 2);
            let ours = msm_parts::<g1::Config>(&[(left, &big[..n / 2]), (right, &big[n / 2..])]);
            assert_eq!(ours.into_affine(), theirs, "n = {n}");
        }
        for n in [1usize, 300] {
            let bases: Vec<G2Affine> = (0..n)
                .map(|_| (G2Projective::generator() * Fr::rand(&mut rng)).into_affine())
                .collect();
            let big: Vec<_> = (0..n).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
            let theirs = G2Projective::msm_bigint(&bases, &big).into_affine();
            let ours = msm_parts::<g2::Config>(&[(&bases, &big)]);
            assert_eq!(ours.into_affine(), theirs, "n = {n}");
        }
        // An unreduced scalar is summed as the integer it is.
        let p = G1Affine::rand(&mut rng);
        let k = Fr::MODULUS;
        let ours = msm_parts::<g1::Config>(&[(std::slice::from_ref(&p), std::slice::from_ref(&k))]);
        assert!(ours.is_zero());
    }

    #[test]
    fn unreduced_scalars_are_summed_as_integers() {
        // Far above r the rounding's β no longer fits 128 bits; only its residue enters, and
        // each scalar still counts as the integer it is (`mul_bigint`).
        let mut r_plus_5 = Fr::MODULUS;
        r_plus_5.add_with_carry(&BigInt::from(5u64));
        let unreduced = [
            BigInt([u64::MAX; 4]),
            BigInt([5, 0, 0, 1 << 63]),
            Fr::MODULUS,
            r_plus_5,
            BigInt([u64::MAX, 0, u64::MAX, 0x3fff_ffff_ffff_ffff]),
        ];
        for k in unreduced {
            let expected = Fr::from_le_bytes_mod_order(&k.to_bytes_le());
            for ((k1, k2), lambda) in [
                (split::<g1::Config>(&k), g1::Config::LAMBDA),
                (split::<g2::Config>(&k), g2::Config::LAMBDA),
            ] {
                assert!(k1.unsigned_abs() < 1 << 126 && k2.unsigned_abs() < 1 << 126);
                assert_eq!(Fr::from(k1) + lambda * Fr::from(k2), expected, "{k}");
            }
        }
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..40).map(|_| G1Affine::rand(&mut rng)).collect();
        let mut big: Vec<BigInt<4>> = (0..40).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
        big[3] = BigInt([u64::MAX; 4]);
        big[17] = BigInt([5, 0, 0, 1 << 63]);
        let expected: G1Projective = bases.iter().zip(&big).map(|(p, k)| p.mul_bigint(k)).sum();
        let ours = msm_parts::<g1::Config>(&[(&bases, &big)]);
        assert_eq!(ours.into_affine(), expected.into_affine());
        let g2_bases: Vec<G2Affine> = (0..3)
            .map(|_| (G2Projective::generator() * Fr::rand(&mut rng)).into_affine())
            .collect();
        let g2_big = [
            BigInt([u64::MAX; 4]),
            Fr::rand(&mut rng).into_bigint(),
            BigInt::from(1u64),
        ];
        let expected: G2Projective = g2_bases
            .iter()
            .zip(&g2_big)
            .map(|(p, k)| p.mul_bigint(k))
            .sum();
        let ours = msm_parts::<g2::Config>(&[(&g2_bases, &g2_big)]);
        assert_eq!(ours.into_affine(), expected.into_affine());
    }
}

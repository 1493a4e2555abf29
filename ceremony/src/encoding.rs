//! Field and point encodings of the snarkjs files.
//!
//! - **LEM** (`.ptau` and `.zkey` points): each coordinate in Montgomery form (`x·2^256 mod q`),
//!   32 bytes little-endian; an `Fq2` coordinate is `c0` then `c1`; the point at infinity is all
//!   zeros. Parsing refuses coordinates at or above `q` and points off the curve, so every point
//!   has exactly one encoding and equal bytes mean equal points.
//! - **U** (what the transcript hashes): the normal form, big-endian, `x` then `y`; an `Fq2`
//!   coordinate is `c1` then `c0`; the point at infinity is all zeros.
//! - **Scalars** of `.r1cs` files: the normal form, 32 bytes little-endian.

use std::sync::OnceLock;

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, Field, PrimeField};

/// Size of an LEM G1 point.
pub const G1_LEN: usize = 64;
/// Size of an LEM G2 point.
pub const G2_LEN: usize = 128;

/// Why bytes are not a point or field element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// Wrong number of bytes.
    #[error("expected {expected} bytes, found {found}")]
    Length {
        /// Expected.
        expected: usize,
        /// Found.
        found: usize,
    },
    /// A coordinate or scalar is not below the field's modulus.
    #[error("a field element is not below the modulus")]
    NotCanonical,
    /// The point is not on the curve.
    #[error("the point is not on the curve")]
    NotOnCurve,
    /// The G2 point is not in the prime-order subgroup.
    #[error("the point is not in the prime-order subgroup")]
    NotInSubgroup,
}

fn r_inv() -> Fq {
    static R_INV: OnceLock<Fq> = OnceLock::new();
    *R_INV.get_or_init(|| Fq::from(2u64).pow([256u64]).inverse().unwrap_or_default())
}

fn r() -> Fq {
    static R: OnceLock<Fq> = OnceLock::new();
    *R.get_or_init(|| Fq::from(2u64).pow([256u64]))
}

fn bigint_le<const N: usize>(bytes: &[u8]) -> ark_ff::BigInt<N> {
    let mut limbs = [0u64; N];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks(8)) {
        let mut b = [0u8; 8];
        b.iter_mut().zip(chunk).for_each(|(d, s)| *d = *s);
        *limb = u64::from_le_bytes(b);
    }
    ark_ff::BigInt(limbs)
}

fn check_len(bytes: &[u8], expected: usize) -> Result<(), EncodingError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(EncodingError::Length {
            expected,
            found: bytes.len(),
        })
    }
}

/// An `Fq` from its 32-byte Montgomery little-endian form.
pub fn fq_from_lem(bytes: &[u8]) -> Result<Fq, EncodingError> {
    check_len(bytes, 32)?;
    let m = Fq::from_bigint(bigint_le::<4>(bytes)).ok_or(EncodingError::NotCanonical)?;
    Ok(m * r_inv())
}

/// The 32-byte Montgomery little-endian form of an `Fq`.
pub fn fq_to_lem(x: &Fq) -> [u8; 32] {
    le32((*x * r()).into_bigint())
}

fn le32(b: ark_ff::BigInt<4>) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.iter_mut()
        .zip(b.to_bytes_le())
        .for_each(|(d, s)| *d = s);
    out
}

fn be32(x: &Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.iter_mut()
        .zip(x.into_bigint().to_bytes_be())
        .for_each(|(d, s)| *d = s);
    out
}

/// An `Fr` from its normal 32-byte little-endian form (`.r1cs` coefficients).
pub fn fr_from_le(bytes: &[u8]) -> Result<Fr, EncodingError> {
    check_len(bytes, 32)?;
    Fr::from_bigint(bigint_le::<4>(bytes)).ok_or(EncodingError::NotCanonical)
}

/// The normal 32-byte little-endian form of an `Fr`.
pub fn fr_to_le(x: &Fr) -> [u8; 32] {
    le32(x.into_bigint())
}

/// `x·R² mod r` little-endian, `R = 2^256`: how `.zkey` files store the coefficients of the
/// A and B matrices.
pub fn fr_to_zkey_coef(x: &Fr) -> [u8; 32] {
    let r = Fr::from(2u64).pow([256u64]);
    fr_to_le(&(*x * r * r))
}

/// The inverse of [`fr_to_zkey_coef`].
pub fn fr_from_zkey_coef(bytes: &[u8]) -> Result<Fr, EncodingError> {
    let stored = fr_from_le(bytes)?;
    let r = Fr::from(2u64).pow([256u64]);
    Ok(stored * (r * r).inverse().unwrap_or_default())
}

/// A G1 point from its LEM form, checked to be on the curve (G1 has cofactor 1).
pub fn g1_from_lem(bytes: &[u8]) -> Result<G1Affine, EncodingError> {
    check_len(bytes, G1_LEN)?;
    if bytes.iter().all(|b| *b == 0) {
        return Ok(G1Affine::identity());
    }
    let (x, y) = bytes.split_at(32);
    let p = G1Affine::new_unchecked(fq_from_lem(x)?, fq_from_lem(y)?);
    if !p.is_on_curve() {
        return Err(EncodingError::NotOnCurve);
    }
    Ok(p)
}

/// The LEM form of a G1 point.
pub fn g1_to_lem(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_to_lem(&x));
        out[32..].copy_from_slice(&fq_to_lem(&y));
    }
    out
}

fn fq2_from_lem(bytes: &[u8]) -> Result<Fq2, EncodingError> {
    let (c0, c1) = bytes.split_at(32);
    Ok(Fq2::new(fq_from_lem(c0)?, fq_from_lem(c1)?))
}

/// A G2 point from its LEM form, checked to be on the curve; with `subgroup`, also in the
/// prime-order subgroup.
pub fn g2_from_lem(bytes: &[u8], subgroup: bool) -> Result<G2Affine, EncodingError> {
    check_len(bytes, G2_LEN)?;
    if bytes.iter().all(|b| *b == 0) {
        return Ok(G2Affine::identity());
    }
    let (x, y) = bytes.split_at(64);
    let p = G2Affine::new_unchecked(fq2_from_lem(x)?, fq2_from_lem(y)?);
    if !p.is_on_curve() {
        return Err(EncodingError::NotOnCurve);
    }
    if subgroup && !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(EncodingError::NotInSubgroup);
    }
    Ok(p)
}

/// The LEM form of a G2 point.
pub fn g2_to_lem(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    if let Some((x, y)) = p.xy() {
        for (slot, c) in out.chunks_mut(32).zip([x.c0, x.c1, y.c0, y.c1]) {
            slot.copy_from_slice(&fq_to_lem(&c));
        }
    }
    out
}

/// The U form of a G1 point (hashed by the transcript).
pub fn g1_to_u(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&be32(&x));
        out[32..].copy_from_slice(&be32(&y));
    }
    out
}

/// The U form of a G2 point (hashed by the transcript).
pub fn g2_to_u(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    if let Some((x, y)) = p.xy() {
        for (slot, c) in out.chunks_mut(32).zip([x.c1, x.c0, y.c1, y.c0]) {
            slot.copy_from_slice(&be32(&c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use ark_ec::PrimeGroup;

    #[test]
    fn lem_round_trips_and_refuses_bad_points() {
        let g = G1Affine::generator();
        assert_eq!(g1_from_lem(&g1_to_lem(&g)).unwrap(), g);
        let h = (ark_bn254::G2Projective::generator() * Fr::from(7u64)).into();
        assert_eq!(g2_from_lem(&g2_to_lem(&h), true).unwrap(), h);
        assert_eq!(g1_from_lem(&[0u8; 64]).unwrap(), G1Affine::identity());
        let mut off = g1_to_lem(&g);
        off[40] ^= 1;
        assert_eq!(g1_from_lem(&off), Err(EncodingError::NotOnCurve));
        assert_eq!(g1_from_lem(&[0xff; 64]), Err(EncodingError::NotCanonical));
        assert!(matches!(
            g1_from_lem(&[0u8; 63]),
            Err(EncodingError::Length { .. })
        ));
    }

    #[test]
    fn montgomery_form_of_one_is_r_mod_q() {
        // 2^256 mod q, little-endian: the Montgomery form of 1 in every snarkjs file.
        let one = fq_to_lem(&Fq::from(1u64));
        let expect = (Fq::from(2u64).pow([256u64])).into_bigint().to_bytes_le();
        assert_eq!(one.to_vec(), expect);
        assert_eq!(fq_from_lem(&one).unwrap(), Fq::from(1u64));
    }

    #[test]
    fn zkey_coefficients_round_trip() {
        let x = Fr::from(123456789u64);
        assert_eq!(fr_from_zkey_coef(&fr_to_zkey_coef(&x)).unwrap(), x);
    }
}

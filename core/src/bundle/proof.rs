//! The 128-byte compressed Groth16 proof carried by a bundle.

use ark_bn254::{G1Affine, G2Affine};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

/// Length of an encoded proof: A (G1, 32 bytes) || B (G2, 64 bytes) || C (G1, 32 bytes).
pub const PROOF_LEN: usize = 128;

/// Length of a compressed BN254 G1 point.
const G1_LEN: usize = 32;
/// Length of a compressed BN254 G2 point.
const G2_LEN: usize = 64;

/// Why one of a proof's three points was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointRejection {
    /// The bytes are not a compressed point: bad flag bits, an x coordinate not below the
    /// field modulus, or an x with no matching y on the curve.
    #[error("is not a compressed point on the curve")]
    NotOnCurve,
    /// The point is on the curve but outside the prime-order subgroup (only possible for B).
    #[error("is not in the prime-order subgroup")]
    NotInSubgroup,
    /// The point is the identity (point at infinity).
    #[error("is the identity")]
    Identity,
    /// The point is valid but these bytes are not its canonical compressed encoding.
    #[error("is not canonically encoded")]
    NonCanonical,
}

/// A rejected proof point: which one (`"a"`, `"b"` or `"c"`) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("proof point {which} {reason}")]
pub struct ProofPointError {
    /// `"a"`, `"b"` or `"c"`.
    pub which: &'static str,
    /// Why it was rejected.
    pub reason: PointRejection,
}

/// The three points of a Groth16 proof over BN254, each on the curve, in its prime-order
/// subgroup and not the identity (when made by [`ProofPoints::from_bytes`]).
///
/// Groth16 proofs are re-randomisable: anyone can turn a valid proof into another valid proof
/// of the same statement. Never use proof bytes as an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofPoints {
    /// `A`, in G1.
    pub a: G1Affine,
    /// `B`, in G2.
    pub b: G2Affine,
    /// `C`, in G1.
    pub c: G1Affine,
}

/// Decodes one compressed point with arkworks' validation (on the curve, in the subgroup),
/// then rejects the identity and non-canonical bytes.
fn decode_point<P>(bytes: &[u8], which: &'static str) -> Result<P, ProofPointError>
where
    P: AffineRepr + CanonicalSerialize + CanonicalDeserialize,
{
    let err = |reason| ProofPointError { which, reason };
    let point = match P::deserialize_compressed(bytes) {
        Ok(p) => p,
        Err(_) => {
            // Tell apart "not a point" from "a point outside the subgroup".
            return Err(err(match P::deserialize_compressed_unchecked(bytes) {
                Ok(_) => PointRejection::NotInSubgroup,
                Err(_) => PointRejection::NotOnCurve,
            }));
        }
    };
    if point.is_zero() {
        return Err(err(PointRejection::Identity));
    }
    let mut again = Vec::with_capacity(bytes.len());
    if point.serialize_compressed(&mut again).is_err() || again != bytes {
        return Err(err(PointRejection::NonCanonical));
    }
    Ok(point)
}

/// The checks of [`decode_point`] on an affine point.
fn check_affine<P: SWCurveConfig>(
    p: &Affine<P>,
    which: &'static str,
) -> Result<(), ProofPointError> {
    let err = |reason| Err(ProofPointError { which, reason });
    if p.is_zero() {
        return err(PointRejection::Identity);
    }
    if !p.is_on_curve() {
        return err(PointRejection::NotOnCurve);
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return err(PointRejection::NotInSubgroup);
    }
    Ok(())
}

/// Writes `p` compressed into `out` (whose length is the compressed size).
fn encode_point<P: CanonicalSerialize>(p: &P, out: &mut [u8]) {
    let mut buf = Vec::with_capacity(out.len());
    // Serialising into a Vec cannot fail, and BN254 points compress to exactly 32 (G1) or
    // 64 (G2) bytes, so the lengths always agree.
    if p.serialize_compressed(&mut buf).is_ok() && buf.len() == out.len() {
        out.copy_from_slice(&buf);
    }
}

impl ProofPoints {
    /// Decodes `A || B || C` (arkworks compressed encodings). Each point must be on the curve,
    /// in the prime-order subgroup, not the identity, and canonically encoded.
    pub fn from_bytes(bytes: &[u8; PROOF_LEN]) -> Result<Self, ProofPointError> {
        let (a, rest) = bytes.split_at(G1_LEN);
        let (b, c) = rest.split_at(G2_LEN);
        Ok(Self {
            a: decode_point(a, "a")?,
            b: decode_point(b, "b")?,
            c: decode_point(c, "c")?,
        })
    }

    /// Encodes `A || B || C` with arkworks' `serialize_compressed`.
    pub fn to_bytes(&self) -> [u8; PROOF_LEN] {
        let mut out = [0u8; PROOF_LEN];
        let (a, rest) = out.split_at_mut(G1_LEN);
        let (b, c) = rest.split_at_mut(G2_LEN);
        encode_point(&self.a, a);
        encode_point(&self.b, b);
        encode_point(&self.c, c);
        out
    }

    /// Checks what [`ProofPoints::from_bytes`] checks (on the curve, in the subgroup, not the
    /// identity), for points built some other way.
    pub fn validate(&self) -> Result<(), ProofPointError> {
        check_affine(&self.a, "a")?;
        check_affine(&self.b, "b")?;
        check_affine(&self.c, "c")
    }
}

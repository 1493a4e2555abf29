//! EdDSA-Poseidon on Baby Jubjub, exactly as circomlibjs `signPoseidon` / `verifyPoseidon` and
//! @zk-kit/eddsa-poseidon (BLAKE-512 key derivation) do it.
//!
//! Signing (deterministic, no randomness):
//! 1. `h = BLAKE-512(private_key)`; `s` = prune(h[0..32]) read little-endian
//!    (clear the low 3 bits, clear bit 255, set bit 254);
//! 2. `A = (s >> 3)·Base8`;
//! 3. `r = BLAKE-512(h[32..64] || le32(msg)) mod l`, `R8 = r·Base8`;
//! 4. `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`; `S = (r + hm·s) mod l`.
//!
//! Verification: `S < l` (enforced by the [`Fs`] type and its parser), `A` and `R8` on the
//! curve, `A` not of small order, and `S·Base8 = R8 + (8·hm)·A`, as circomlib's
//! `EdDSAPoseidonVerifier` checks it (R8 is not required to be in the subgroup).

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField};
use blake_hash::{Blake512, Digest};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::babyjubjub::{self, base8, mul_be_bytes, Fs, Point};
use crate::field::fr_to_be_bytes;
use crate::{poseidon, Fr};

/// A Baby Jubjub private key: 32 secret bytes, expanded with BLAKE-512 as circomlibjs does.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; 32]);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// A public key `A`: a curve point of which we only require that it is not of small order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(Point);

/// A signature `(R8, S)` with `S < l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The nonce point `R8 = r·Base8`.
    pub r8: Point,
    /// The scalar `S = r + hm·s mod l`.
    pub s: Fs,
}

/// Why a signature or key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EddsaError {
    /// The public key is not a valid point.
    #[error("receipt public key: {0}")]
    PublicKey(babyjubjub::PointError),
    /// R8 is not on the curve.
    #[error("signature point R8 is not on the curve")]
    R8NotOnCurve,
    /// S is not below the subgroup order.
    #[error("signature scalar S is not below the subgroup order")]
    SNotReduced,
    /// The verification equation does not hold.
    #[error("signature does not verify")]
    Invalid,
}

impl PrivateKey {
    /// Wraps 32 secret bytes (from a CSPRNG, or a stored key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    fn expand(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let mut digest = Blake512::digest(&self.0);
        out.copy_from_slice(&digest);
        digest.as_mut_slice().zeroize();
        out
    }

    /// The pruned secret scalar `s` (little-endian 32 bytes), as circomlibjs derives it.
    fn scalar_le(h: &[u8; 64]) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&h[..32]);
        s[0] &= 0xf8;
        s[31] &= 0x7f;
        s[31] |= 0x40;
        s
    }

    /// The public key `A = (s >> 3)·Base8`.
    pub fn public_key(&self) -> PublicKey {
        let mut h = self.expand();
        let mut s = Self::scalar_le(&h);
        let a = mul_be_bytes(&base8(), &shr3_be(&s));
        h.zeroize();
        s.zeroize();
        PublicKey(a)
    }

    /// Signs a field element, deterministically.
    pub fn sign(&self, msg: &Fr) -> Signature {
        let mut h = self.expand();
        let mut s_le = Self::scalar_le(&h);
        let a = mul_be_bytes(&base8(), &shr3_be(&s_le));

        let mut msg_le = fr_to_be_bytes(msg);
        msg_le.reverse();
        let mut hasher = Blake512::new();
        hasher.update(&h[32..]);
        hasher.update(msg_le);
        let r_hash = hasher.finalize();
        let r = Fs::from_le_bytes_mod_order(&r_hash);
        let r8 = babyjubjub::mul_base8(&r);

        let hm = challenge(&r8, &a, msg);
        let s = Fs::from_le_bytes_mod_order(&s_le);
        let hm_s = Fs::from_be_bytes_mod_order(&fr_to_be_bytes(&hm));
        h.zeroize();
        s_le.zeroize();
        Signature {
            r8,
            s: r + hm_s * s,
        }
    }
}

fn shr3_be(s_le: &[u8; 32]) -> [u8; 32] {
    let mut be = *s_le;
    be.reverse();
    let mut out = [0u8; 32];
    let mut carry = 0u8;
    for (o, b) in out.iter_mut().zip(be.iter()) {
        *o = (b >> 3) | carry;
        carry = b << 5;
    }
    out
}

/// `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`.
pub fn challenge(r8: &Point, a: &Point, msg: &Fr) -> Fr {
    poseidon::hash([r8.x, r8.y, a.x, a.y, *msg])
}

impl PublicKey {
    /// A public key from a point: it must be on the curve and not of small order.
    pub fn from_point(p: Point) -> Result<Self, EddsaError> {
        if !babyjubjub::is_on_curve(&p.x, &p.y) {
            return Err(EddsaError::PublicKey(babyjubjub::PointError::NotOnCurve));
        }
        if babyjubjub::is_small_order(&p) {
            return Err(EddsaError::PublicKey(babyjubjub::PointError::SmallOrder));
        }
        Ok(Self(p))
    }

    /// A public key from coordinates.
    pub fn from_coords(x: Fr, y: Fr) -> Result<Self, EddsaError> {
        Self::from_point(babyjubjub::point_on_curve(x, y).map_err(EddsaError::PublicKey)?)
    }

    /// The point `A`.
    pub fn point(&self) -> &Point {
        &self.0
    }

    /// Verifies `sig` on `msg`.
    pub fn verify(&self, msg: &Fr, sig: &Signature) -> Result<(), EddsaError> {
        if !babyjubjub::is_on_curve(&sig.r8.x, &sig.r8.y) {
            return Err(EddsaError::R8NotOnCurve);
        }
        let hm = challenge(&sig.r8, &self.0, msg);
        let left = babyjubjub::mul_base8(&sig.s);
        let a8 = self.0.mul_by_cofactor();
        let right = (sig.r8 + babyjubjub::mul_fr(&a8, &hm)).into_affine();
        if left == right {
            Ok(())
        } else {
            Err(EddsaError::Invalid)
        }
    }
}

impl Signature {
    /// A signature from `R8` coordinates and `S` given as an integer (big-endian bytes); rejects
    /// `R8` off the curve and `S >= l`.
    pub fn from_parts(r8x: Fr, r8y: Fr, s_be: &[u8; 32]) -> Result<Self, EddsaError> {
        let r8 = babyjubjub::point_on_curve(r8x, r8y).map_err(|_| EddsaError::R8NotOnCurve)?;
        let s = Fs::from_be_bytes_mod_order(s_be);
        let mut canon = [0u8; 32];
        let bytes = s.into_bigint().to_bytes_be();
        canon.copy_from_slice(&bytes);
        if canon != *s_be {
            return Err(EddsaError::SNotReduced);
        }
        Ok(Self { r8, s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let sk = PrivateKey::from_bytes([7u8; 32]);
        let pk = sk.public_key();
        assert!(babyjubjub::is_in_prime_subgroup(pk.point()));
        let msg = Fr::from(1234u64);
        let sig = sk.sign(&msg);
        assert_eq!(pk.verify(&msg, &sig), Ok(()));
        assert_eq!(
            pk.verify(&Fr::from(1235u64), &sig),
            Err(EddsaError::Invalid)
        );
        let other = PrivateKey::from_bytes([8u8; 32]).public_key();
        assert_eq!(other.verify(&msg, &sig), Err(EddsaError::Invalid));
        let bad_s = Signature {
            s: sig.s + Fs::from(1u64),
            ..sig
        };
        assert_eq!(pk.verify(&msg, &bad_s), Err(EddsaError::Invalid));
    }

    #[test]
    fn s_must_be_reduced() {
        let l = Fs::MODULUS.to_bytes_be();
        let mut be = [0u8; 32];
        be.copy_from_slice(&l);
        let b = base8();
        assert_eq!(
            Signature::from_parts(b.x, b.y, &be),
            Err(EddsaError::SNotReduced)
        );
        be[31] -= 1;
        assert!(Signature::from_parts(b.x, b.y, &be).is_ok());
    }

    #[test]
    fn small_order_key_is_rejected() {
        let identity = Point::new_unchecked(Fr::from(0u64), Fr::from(1u64));
        assert_eq!(
            PublicKey::from_point(identity),
            Err(EddsaError::PublicKey(babyjubjub::PointError::SmallOrder))
        );
        let order2 = Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64));
        assert!(PublicKey::from_point(order2).is_err());
    }
}

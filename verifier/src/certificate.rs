//! Receipt-key certificates: the recipient's Signal identity key vouches for its Baby Jubjub
//! receipt key with an XEdDSA signature over [`certificate_message`] of that key.
//!
//! `letro-core` only checks that a [`ReceiptKeyCertificate`] is well formed; this module checks
//! the signature, as libsignal's `PublicKey::verify_signature` does (XEdDSA with the Ed25519 sign
//! bit carried in bit 7 of the signature's last byte), as numbered steps, each with its error:
//!
//! 1. The identity key's type byte is `0x05` — [`CertificateError::IdentityKeyType`].
//! 2. Its 32-byte little-endian `u` is below `p = 2^255 - 19` —
//!    [`CertificateError::NonCanonicalKey`].
//! 3. `u` is a point of Curve25519; its Edwards form `A`, with the sign of x taken from
//!    `signature[63] >> 7`, is not of small order — [`CertificateError::InvalidPoint`].
//! 4. With that bit cleared, `signature[32..64]` is a canonical scalar `s < l` —
//!    [`CertificateError::NonCanonicalSignature`].
//! 5. `R = signature[0..32]` equals the encoding of `s·B - h·A`, where
//!    `h = SHA-512(R || encode(A) || message) mod l` — [`CertificateError::Invalid`].
//!
//! ## Stricter than libsignal, on purpose
//!
//! Every signature libsignal's `calculate_signature` makes with a real identity key passes. But
//! libsignal's verifier also accepts signatures that no signer makes, and we do not:
//!
//! - `u` with bit 255 set, or `u ≥ p`: libsignal reduces it, so one key has several encodings;
//! - `s` in `[l, 2^253)`: libsignal reduces `s`, so each signature has a second encoding `s + l`;
//! - small-order keys (`u = 0`, `u = 1`, the points of order 8): for them anyone can forge a
//!   signature on any message, no private key needed, by trying a few nonces
//!   (`testdata/certificates/vectors.json`, `forged-small-order-key`).
//!
//! `R` needs no check of its own: it is compared byte for byte with a canonical encoding, and a
//! small-order `R` is only reachable by the holder of the key.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use letro_core::babyjubjub::Point;
use letro_core::bundle::{certificate_message, ReceiptKeyCertificate, IDENTITY_KEY_TYPE};
use sha2::{Digest, Sha512};

/// `p = 2^255 - 19`, little-endian.
const P25519_LE: [u8; 32] = [
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// Why a receipt-key certificate (or an XEdDSA signature) did not verify. The variants follow
/// the steps of the [module documentation](self), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Step 1: the identity key's type byte is not `0x05` (libsignal's Curve25519 `DJB_TYPE`).
    #[error("identity key type is 0x{0:02x}, expected 0x05")]
    IdentityKeyType(u8),
    /// Step 2: the identity key's u-coordinate is not below 2^255 - 19 (bit 255 set, or an
    /// alias of a smaller value).
    #[error("identity key is not a canonical curve25519 u-coordinate")]
    NonCanonicalKey,
    /// Step 3: the identity key is not usable: u = -1, u on the quadratic twist, or a point of
    /// small order.
    #[error("identity key is not a point of curve25519 outside the small-order subgroup")]
    InvalidPoint,
    /// Step 4: the signature's scalar `s` is not below the group order `l`.
    #[error("certificate signature scalar is not canonical")]
    NonCanonicalSignature,
    /// Step 5: the signature does not verify for this identity key and message.
    #[error("certificate signature does not verify")]
    Invalid,
}

/// Verifies that `cert` certifies `receipt_key`: its signature is a valid XEdDSA signature by
/// its identity key over [`certificate_message`]`(receipt_key)`.
pub fn verify_certificate(
    cert: &ReceiptKeyCertificate,
    receipt_key: &Point,
) -> Result<(), CertificateError> {
    verify_xeddsa(
        cert.identity_key(),
        &certificate_message(receipt_key),
        cert.signature(),
    )
}

/// Verifies a libsignal XEdDSA signature: `signature` over `message` by `identity_key`
/// (`0x05` || X25519 u-coordinate, as libsignal serialises an identity public key). The steps
/// are those of the [module documentation](self).
pub fn verify_xeddsa(
    identity_key: &[u8; 33],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), CertificateError> {
    // 1. Type byte.
    let [key_type, u @ ..] = *identity_key;
    if key_type != IDENTITY_KEY_TYPE {
        return Err(CertificateError::IdentityKeyType(key_type));
    }
    // 2. u < p. Comparing the little-endian bytes from the most significant end compares the
    //    integers.
    if u.iter().rev().cmp(P25519_LE.iter().rev()) != std::cmp::Ordering::Less {
        return Err(CertificateError::NonCanonicalKey);
    }
    // 3. The Edwards point, with the sign of x the signer put in the signature's top bit.
    //    `to_edwards` rejects u = -1 and u on the twist.
    let [.., last] = *signature;
    let a = MontgomeryPoint(u)
        .to_edwards(last >> 7)
        .ok_or(CertificateError::InvalidPoint)?;
    if a.is_small_order() {
        return Err(CertificateError::InvalidPoint);
    }
    // 4. s < l, once the sign bit is cleared.
    let r = bytes32(signature, 0);
    let mut s = bytes32(signature, 32);
    if let Some(top) = s.last_mut() {
        *top &= 0x7f;
    }
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))
        .ok_or(CertificateError::NonCanonicalSignature)?;
    // 5. R == s·B - h·A, compared as encodings.
    let h = Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(a.compress().as_bytes())
            .chain_update(message),
    );
    let r_check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&h, &-a, &s).compress();
    if r_check.to_bytes() == r {
        Ok(())
    } else {
        Err(CertificateError::Invalid)
    }
}

/// `bytes[offset..offset + 32]`, without a panicking index (missing bytes would read as zero;
/// every call reads inside the array).
fn bytes32<const N: usize>(bytes: &[u8; N], offset: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.iter_mut()
        .zip(bytes.iter().skip(offset))
        .for_each(|(o, b)| *o = *b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::traits::IsIdentity;
    use letro_core::babyjubjub::{mul_base8, point_on_curve, Fs};
    use letro_core::field::fr_from_decimal;
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    const VECTORS: &str = include_str!("../../testdata/certificates/vectors.json");

    /// 2^255 - 19 + k, little-endian (k < 19 keeps it below 2^255).
    fn p_plus(k: u8) -> [u8; 32] {
        let mut u = P25519_LE;
        u[0] += k;
        u
    }

    /// Test-only XEdDSA signer, as libsignal's `PrivateKey::calculate_signature` signs: the
    /// clamped X25519 private key is the Ed25519 scalar (no sign forcing); the nonce scalar is
    /// `SHA-512(0xfe || 0xff^31 || key || message || Z) mod l` for 64 random bytes Z; the sign
    /// bit of the Ed25519 public key goes into bit 7 of the last byte.
    struct TestSigner {
        key: [u8; 32],
    }

    impl TestSigner {
        fn new(private_key: [u8; 32]) -> Self {
            // libsignal clamps every private key it loads.
            let mut key = private_key;
            key[0] &= 0xf8;
            key[31] &= 0x7f;
            key[31] |= 0x40;
            Self { key }
        }

        fn random(rng: &mut impl RngCore) -> Self {
            Self::new(rng.gen())
        }

        /// `0x05 || u`, from the Montgomery ladder (independent of the Edwards path in `sign`).
        fn identity_key(&self) -> [u8; 33] {
            let mut out = [IDENTITY_KEY_TYPE; 33];
            out[1..].copy_from_slice(MontgomeryPoint::mul_base_clamped(self.key).as_bytes());
            out
        }

        fn sign_with_nonce(&self, message: &[u8], nonce: &[u8; 64]) -> [u8; 64] {
            let a = Scalar::from_bytes_mod_order(self.key);
            let cap_a = EdwardsPoint::mul_base(&a).compress();
            let sign_bit = cap_a.as_bytes()[31] & 0x80;
            let mut prefix = [0xffu8; 32];
            prefix[0] = 0xfe;
            let r = Scalar::from_hash(
                Sha512::new()
                    .chain_update(prefix)
                    .chain_update(self.key)
                    .chain_update(message)
                    .chain_update(nonce),
            );
            let cap_r = EdwardsPoint::mul_base(&r).compress();
            let h = Scalar::from_hash(
                Sha512::new()
                    .chain_update(cap_r.as_bytes())
                    .chain_update(cap_a.as_bytes())
                    .chain_update(message),
            );
            let s = h * a + r;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(cap_r.as_bytes());
            sig[32..].copy_from_slice(s.as_bytes());
            sig[63] = (sig[63] & 0x7f) | sign_bit;
            sig
        }

        fn sign(&self, rng: &mut impl RngCore, message: &[u8]) -> [u8; 64] {
            let mut nonce = [0u8; 64];
            rng.fill_bytes(&mut nonce);
            self.sign_with_nonce(message, &nonce)
        }

        fn certify(&self, rng: &mut impl RngCore, receipt_key: &Point) -> ReceiptKeyCertificate {
            ReceiptKeyCertificate::new(
                self.identity_key(),
                self.sign(rng, &certificate_message(receipt_key)),
            )
            .unwrap()
        }
    }

    /// A model of what libsignal's `verify_signature` accepts, for the vectors'
    /// `libsignal_accepts` column: u read mod p with bit 255 ignored, s read mod l once its top
    /// three bits are zero, no small-order check.
    fn libsignal_accepts(identity_key: &[u8; 33], message: &[u8], sig: &[u8; 64]) -> bool {
        if identity_key[0] != IDENTITY_KEY_TYPE {
            return false;
        }
        let u: [u8; 32] = identity_key[1..].try_into().unwrap();
        let Some(a) = MontgomeryPoint(u).to_edwards(sig[63] >> 7) else {
            return false;
        };
        let mut s: [u8; 32] = sig[32..].try_into().unwrap();
        s[31] &= 0x7f;
        if s[31] & 0xe0 != 0 {
            return false;
        }
        let h = Scalar::from_hash(
            Sha512::new()
                .chain_update(&sig[..32])
                .chain_update(a.compress().as_bytes())
                .chain_update(message),
        );
        let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(
            &h,
            &-a,
            &Scalar::from_bytes_mod_order(s),
        );
        check.compress().as_bytes()[..] == sig[..32]
    }

    fn rng(seed: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([seed; 32])
    }

    fn receipt_key(rng: &mut impl RngCore) -> Point {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        mul_base8(&<Fs as ark_ff::PrimeField>::from_le_bytes_mod_order(&wide))
    }

    fn error_name(e: Option<CertificateError>) -> Option<&'static str> {
        e.map(|e| match e {
            CertificateError::IdentityKeyType(_) => "IdentityKeyType",
            CertificateError::NonCanonicalKey => "NonCanonicalKey",
            CertificateError::InvalidPoint => "InvalidPoint",
            CertificateError::NonCanonicalSignature => "NonCanonicalSignature",
            CertificateError::Invalid => "Invalid",
        })
    }

    fn hex_array<const N: usize>(v: &serde_json::Value) -> [u8; N] {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    #[test]
    fn certificate_vectors() {
        let doc: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        assert!(doc["generator"].as_str().unwrap().contains("xeddsa"));
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 20);
        let (mut valid, mut signed) = (0, 0);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let identity_key: [u8; 33] = hex_array(&v["identity_key"]);
            let signature: [u8; 64] = hex_array(&v["signature"]);
            let message = hex::decode(v["message"].as_str().unwrap()).unwrap();
            let rk = v["receipt_key"].as_array().unwrap();
            let point = point_on_curve(
                fr_from_decimal(rk[0].as_str().unwrap()).unwrap(),
                fr_from_decimal(rk[1].as_str().unwrap()).unwrap(),
            )
            .unwrap();
            assert_eq!(message, certificate_message(&point), "{name}: message");

            let expected = v["error"].as_str();
            assert_eq!(v["valid"].as_bool().unwrap(), expected.is_none(), "{name}");
            let got = verify_xeddsa(&identity_key, &message, &signature).err();
            assert_eq!(error_name(got), expected, "{name}");
            // Through the certificate API too, where the type byte lets one be made.
            match ReceiptKeyCertificate::new(identity_key, signature) {
                Ok(cert) => assert_eq!(verify_certificate(&cert, &point).err(), got, "{name}"),
                Err(_) => assert_eq!(expected, Some("IdentityKeyType"), "{name}"),
            }
            assert_eq!(
                libsignal_accepts(&identity_key, &message, &signature),
                v["libsignal_accepts"].as_bool().unwrap(),
                "{name}: libsignal_accepts"
            );
            // Signatures made by the xeddsa package are byte for byte what our model of
            // libsignal's signer makes from the same key and nonce.
            if let Some(signer) = v["signer"].as_object() {
                let ts = TestSigner::new(hex_array(&signer["private_key"]));
                assert_eq!(
                    ts.key,
                    hex_array::<32>(&signer["private_key"]),
                    "{name}: key is clamped"
                );
                assert_eq!(ts.identity_key(), identity_key, "{name}: identity key");
                assert_eq!(
                    ts.sign_with_nonce(&message, &hex_array(&signer["nonce"])),
                    signature,
                    "{name}: signature"
                );
                signed += 1;
            }
            valid += usize::from(expected.is_none());
        }
        assert_eq!((valid, signed), (4, 4));
        // Both values of the sign bit among the valid vectors.
        let bits: std::collections::BTreeSet<u8> = vectors
            .iter()
            .filter(|v| v["valid"].as_bool().unwrap())
            .map(|v| hex_array::<64>(&v["signature"])[63] >> 7)
            .collect();
        assert_eq!(bits.len(), 2);
    }

    #[test]
    fn signer_round_trip() {
        let mut rng = rng(1);
        let mut bits = [0usize; 2];
        for _ in 0..64 {
            let signer = TestSigner::random(&mut rng);
            let a = receipt_key(&mut rng);
            let cert = signer.certify(&mut rng, &a);
            bits[usize::from(cert.signature()[63] >> 7)] += 1;
            assert_eq!(verify_certificate(&cert, &a), Ok(()));
            assert!(libsignal_accepts(
                cert.identity_key(),
                &certificate_message(&a),
                cert.signature()
            ));
            // Another receipt key is not certified.
            assert_eq!(
                verify_certificate(&cert, &receipt_key(&mut rng)),
                Err(CertificateError::Invalid)
            );
        }
        assert!(bits[0] > 0 && bits[1] > 0, "{bits:?}");
    }

    fn valid_case() -> (TestSigner, Vec<u8>, [u8; 64]) {
        let mut rng = rng(2);
        let signer = TestSigner::random(&mut rng);
        let message = certificate_message(&receipt_key(&mut rng));
        let sig = signer.sign(&mut rng, &message);
        assert_eq!(
            verify_xeddsa(&signer.identity_key(), &message, &sig),
            Ok(())
        );
        (signer, message, sig)
    }

    #[test]
    fn rejects_identity_key_type() {
        let (signer, message, sig) = valid_case();
        for t in [0x00, 0x04, 0x06, 0x85, 0xff] {
            let mut key = signer.identity_key();
            key[0] = t;
            assert_eq!(
                verify_xeddsa(&key, &message, &sig),
                Err(CertificateError::IdentityKeyType(t))
            );
        }
    }

    #[test]
    fn rejects_non_canonical_key() {
        let (signer, message, sig) = valid_case();
        let mut top = signer.identity_key();
        top[32] |= 0x80;
        assert!(
            libsignal_accepts(&top, &message, &sig),
            "libsignal ignores bit 255"
        );
        assert_eq!(
            verify_xeddsa(&top, &message, &sig),
            Err(CertificateError::NonCanonicalKey)
        );
        for u in [p_plus(0), p_plus(1), p_plus(18), [0xff; 32], {
            let mut m = [0xff; 32];
            m[31] = 0x80;
            m
        }] {
            let mut key = [IDENTITY_KEY_TYPE; 33];
            key[1..].copy_from_slice(&u);
            assert_eq!(
                verify_xeddsa(&key, &message, &sig),
                Err(CertificateError::NonCanonicalKey),
                "{u:02x?}"
            );
        }
        // p - 1 is canonical (it fails later, as u = -1).
        let mut key = [IDENTITY_KEY_TYPE; 33];
        key[1..].copy_from_slice(&P25519_LE);
        key[1] -= 1;
        assert_eq!(
            verify_xeddsa(&key, &message, &sig),
            Err(CertificateError::InvalidPoint)
        );
    }

    #[test]
    fn rejects_invalid_point() {
        let (_, message, sig) = valid_case();
        let mut minus_one = P25519_LE;
        minus_one[0] -= 1;
        // The u-coordinates of the points of order 2, 4 and 8 (RFC 7748 §6.1 / the usual
        // blocklist), and small values on the twist.
        let order8_a = hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        let order8_b = hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157");
        let mut two = [0u8; 32];
        two[0] = 2;
        for u in [minus_one, [0u8; 32], ONE_LE, order8_a, order8_b, two] {
            let mut key = [IDENTITY_KEY_TYPE; 33];
            key[1..].copy_from_slice(&u);
            for bit in [0u8, 0x80] {
                let mut sig = sig;
                sig[63] = (sig[63] & 0x7f) | bit;
                assert_eq!(
                    verify_xeddsa(&key, &message, &sig),
                    Err(CertificateError::InvalidPoint),
                    "{u:02x?}"
                );
            }
        }
        // Every small-order Edwards point, as a key: none gets through.
        let t8 = MontgomeryPoint(order8_a).to_edwards(0).unwrap();
        assert!(t8.is_small_order() && !(t8 + t8 + t8 + t8).is_identity());
        let mut t = t8;
        for _ in 0..8 {
            let mut key = [IDENTITY_KEY_TYPE; 33];
            key[1..].copy_from_slice(t.to_montgomery().as_bytes());
            assert!(verify_xeddsa(&key, &message, &sig).is_err());
            t += t8;
        }
    }

    fn hex32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn small_order_key_forgery_is_rejected() {
        // With A = (0, -1) (u = 0, order 2), R = r·B and s = r verify whenever h is even: no
        // private key needed. libsignal accepts such a signature; we reject the key.
        let mut rng = rng(3);
        let message = certificate_message(&receipt_key(&mut rng));
        let mut key = [0u8; 33];
        key[0] = IDENTITY_KEY_TYPE;
        let a = MontgomeryPoint([0; 32]).to_edwards(0).unwrap().compress();
        let forged = (0..)
            .find_map(|_| {
                let r = Scalar::from_bytes_mod_order_wide(&{
                    let mut w = [0u8; 64];
                    rng.fill_bytes(&mut w);
                    w
                });
                let cap_r = EdwardsPoint::mul_base(&r).compress();
                let h = Scalar::from_hash(
                    Sha512::new()
                        .chain_update(cap_r.as_bytes())
                        .chain_update(a.as_bytes())
                        .chain_update(&message),
                );
                (h.as_bytes()[0] & 1 == 0).then(|| {
                    let mut sig = [0u8; 64];
                    sig[..32].copy_from_slice(cap_r.as_bytes());
                    sig[32..].copy_from_slice(r.as_bytes());
                    sig
                })
            })
            .unwrap();
        assert!(libsignal_accepts(&key, &message, &forged));
        assert_eq!(
            verify_xeddsa(&key, &message, &forged),
            Err(CertificateError::InvalidPoint)
        );
    }

    #[test]
    fn rejects_non_canonical_signature() {
        let (signer, message, sig) = valid_case();
        let key = signer.identity_key();
        let l_minus_1 = Scalar::ZERO - Scalar::ONE;
        let l = add_le(l_minus_1.as_bytes(), &ONE_LE);
        // s + l: same point, second encoding. libsignal accepts it.
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        s[31] &= 0x7f;
        let s_plus_l = add_le(&s, &l);
        assert_eq!(s_plus_l[31] & 0xe0, 0);
        let mut malleated = sig;
        malleated[32..].copy_from_slice(&s_plus_l);
        malleated[63] |= sig[63] & 0x80;
        assert!(libsignal_accepts(&key, &message, &malleated));
        assert_eq!(
            verify_xeddsa(&key, &message, &malleated),
            Err(CertificateError::NonCanonicalSignature)
        );
        // s = l exactly, and s with bit 253 or 254 set.
        let mut at_l = sig;
        at_l[32..].copy_from_slice(&l);
        at_l[63] |= sig[63] & 0x80;
        assert_eq!(
            verify_xeddsa(&key, &message, &at_l),
            Err(CertificateError::NonCanonicalSignature)
        );
        for bit in [0x20, 0x40, 0x60] {
            let mut high = sig;
            high[63] |= bit;
            assert_eq!(
                verify_xeddsa(&key, &message, &high),
                Err(CertificateError::NonCanonicalSignature)
            );
        }
    }

    const ONE_LE: [u8; 32] = {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    };

    /// Little-endian 256-bit addition (no overflow in these tests).
    fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let [lo, hi] = (u16::from(a[i]) + u16::from(b[i]) + carry).to_le_bytes();
            out[i] = lo;
            carry = u16::from(hi);
        }
        assert_eq!(carry, 0);
        out
    }

    #[test]
    fn rejects_invalid_signature() {
        let (signer, message, sig) = valid_case();
        let key = signer.identity_key();
        // Sign bit flipped: the key converts to -A.
        let mut flipped = sig;
        flipped[63] ^= 0x80;
        assert_eq!(
            verify_xeddsa(&key, &message, &flipped),
            Err(CertificateError::Invalid)
        );
        // Another key.
        let other = TestSigner::random(&mut rng(4));
        assert_eq!(
            verify_xeddsa(&other.identity_key(), &message, &sig),
            Err(CertificateError::Invalid)
        );
        // Another message, and the same message under another context.
        let mut m = message.clone();
        m[0] ^= 1;
        assert_eq!(
            verify_xeddsa(&key, &m, &sig),
            Err(CertificateError::Invalid)
        );
        assert_eq!(
            verify_xeddsa(&key, &message[..63], &sig),
            Err(CertificateError::Invalid)
        );
        // An all-zero signature.
        assert!(verify_xeddsa(&key, &message, &[0; 64]).is_err());
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let (signer, message, sig) = valid_case();
        let key = signer.identity_key();
        for i in 0..64 * 8 {
            let mut s = sig;
            s[i / 8] ^= 1 << (i % 8);
            assert!(
                verify_xeddsa(&key, &message, &s).is_err(),
                "signature bit {i}"
            );
        }
        for i in 0..33 * 8 {
            let mut k = key;
            k[i / 8] ^= 1 << (i % 8);
            assert!(verify_xeddsa(&k, &message, &sig).is_err(), "key bit {i}");
        }
        for i in 0..message.len() * 8 {
            let mut m = message.clone();
            m[i / 8] ^= 1 << (i % 8);
            assert!(verify_xeddsa(&key, &m, &sig).is_err(), "message bit {i}");
        }
    }

    #[test]
    fn messages_are_lowercase() {
        for e in [
            CertificateError::IdentityKeyType(6),
            CertificateError::NonCanonicalKey,
            CertificateError::InvalidPoint,
            CertificateError::NonCanonicalSignature,
            CertificateError::Invalid,
        ] {
            let m = e.to_string();
            assert!(m.starts_with(|c: char| c.is_ascii_lowercase()), "{m}");
        }
    }
}

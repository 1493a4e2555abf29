//! A test-only XEdDSA signer, as libsignal's `PrivateKey::calculate_signature` signs (the
//! clamped X25519 private key is the Ed25519 scalar; the sign bit of the Ed25519 public key
//! goes into bit 7 of the signature's last byte), with a deterministic nonce. It makes
//! receipt-key certificates for seeded Baby Jubjub keys without libsignal; the service checks
//! them with `letro_verifier::certificate`. Shared by the service tests and the load generator
//! (`benches/src/bin/loadgen.rs` includes this file). NEVER use it outside tests: the nonce is
//! deterministic and the keys come from public seeds.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use letro_api::directory::{CertificateObject, PrekeyUpload, SignedPrekey, DIRECTORY_VERSION};
use letro_core::babyjubjub::Point;
use letro_core::bundle::certificate_message;
use letro_core::eddsa::PrivateKey;
use sha2::{Digest, Sha512};

/// A Signal-style identity key made from a public seed.
pub struct TestIdentity {
    key: [u8; 32],
}

impl TestIdentity {
    /// The identity whose (unclamped) private key is 32 bytes of `seed`.
    pub fn from_seed(seed: u8) -> Self {
        let mut key = [seed; 32];
        key[0] &= 0xf8;
        key[31] &= 0x7f;
        key[31] |= 0x40;
        Self { key }
    }

    /// `0x05 || u`, as libsignal serialises an identity public key.
    pub fn public_key(&self) -> Vec<u8> {
        let mut out = vec![0x05];
        out.extend_from_slice(MontgomeryPoint::mul_base_clamped(self.key).as_bytes());
        out
    }

    /// The XEdDSA signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
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
                .chain_update([0u8; 64]),
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

    /// The certificate of the receipt key `a` by this identity (SPEC §7.2).
    pub fn certify(&self, a: &Point) -> CertificateObject {
        CertificateObject {
            identity_key: self.public_key(),
            signature: self.sign(&certificate_message(a)).to_vec(),
        }
    }
}

/// A directory upload for `account` whose receipt key is the EdDSA key with private bytes
/// `[seed; 32]`, certified by `identity`. The prekeys are well-formed dummies: the directory
/// checks only their shapes.
pub fn upload(account: &str, seed: u8, identity: &TestIdentity) -> PrekeyUpload {
    let a = PrivateKey::from_bytes([seed; 32]).public_key();
    let mut kyber = vec![0x08];
    kyber.resize(1569, 7);
    PrekeyUpload {
        version: DIRECTORY_VERSION,
        account: account.into(),
        registration_id: 1,
        device_id: 1,
        identity_key: identity.public_key(),
        signed_prekey: SignedPrekey {
            id: 1,
            public_key: [&[0x05][..], &[9; 32]].concat(),
            signature: vec![1; 64],
        },
        kyber_prekey: SignedPrekey {
            id: 1,
            public_key: kyber,
            signature: vec![2; 64],
        },
        one_time_prekeys: Vec::new(),
        receipt_key: letro_core::babyjubjub::pack(a.point()).to_vec(),
        receipt_key_certificate: identity.certify(a.point()),
    }
}

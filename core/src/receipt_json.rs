//! The JSON forms of a delivery receipt, as the service's API takes them (service/API.md,
//! `POST /v1/receipts` and `POST /v1/mailbox/{ciphertext_sha256}/receipt`) and its store keeps
//! them: field elements as canonical decimal strings (SPEC §1.2), the time as RFC 3339 in
//! whole seconds. The signed message is SPEC §5.6's.
//!
//! Parsing is strict (unknown fields refused) but only structural: the service checks the
//! values (canonical decimals, points on the curve, the signature) before it stores anything.
//! Building them here keeps every client of the API (the demo, the tests, the load generator)
//! on one definition.

use serde::{Deserialize, Serialize};

use crate::babyjubjub::Point;
use crate::bundle::format_time;
use crate::eddsa::{PublicKey, Signature};
use crate::field::fr_to_decimal;
use crate::statement::CiphertextHash;

/// A Baby Jubjub point as decimal field elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointJson {
    /// x, decimal.
    pub x: String,
    /// y, decimal.
    pub y: String,
}

impl From<&Point> for PointJson {
    fn from(p: &Point) -> Self {
        Self {
            x: fr_to_decimal(&p.x),
            y: fr_to_decimal(&p.y),
        }
    }
}

/// An EdDSA-Poseidon signature `(R8, S)`, decimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureJson {
    /// The nonce point.
    pub r8: PointJson,
    /// The scalar, decimal.
    pub s: String,
}

impl From<&Signature> for SignatureJson {
    fn from(sig: &Signature) -> Self {
        use ark_ff::PrimeField;
        Self {
            r8: PointJson::from(&sig.r8),
            s: sig.s.into_bigint().to_string(),
        }
    }
}

/// A receipt time that RFC 3339 cannot carry (after year 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("delivery time {0} is after the largest time a receipt can carry")]
pub struct TimeOutOfRange(pub u64);

/// The body of `POST /v1/mailbox/{ciphertext_sha256}/receipt`: the recipient's acknowledgement
/// of an envelope in its mailbox (`H` is in the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckJson {
    /// `t`, RFC 3339, whole seconds.
    pub delivered_at: String,
    /// The receipt key `A`; it must be one the recipient certified in the directory.
    pub receipt_key: PointJson,
    /// The signature on `Poseidon(tag_receipt, H_hi, H_lo, t)`.
    pub signature: SignatureJson,
}

impl AckJson {
    /// The acknowledgement of a receipt signed at `delivered_at` (Unix seconds).
    pub fn new(
        delivered_at: u64,
        receipt_key: &PublicKey,
        signature: &Signature,
    ) -> Result<Self, TimeOutOfRange> {
        Ok(Self {
            delivered_at: format_time(delivered_at).ok_or(TimeOutOfRange(delivered_at))?,
            receipt_key: PointJson::from(receipt_key.point()),
            signature: SignatureJson::from(signature),
        })
    }
}

/// The body of `POST /v1/receipts`: a delivery receipt the relay forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptJson {
    /// `H`, 64 lowercase hex digits.
    pub ciphertext_sha256: String,
    /// `t` as RFC 3339 (whole seconds are signed; a fraction is refused).
    pub delivered_at: String,
    /// The receipt key `A`.
    pub receipt_key: PointJson,
    /// The signature on `Poseidon(tag_receipt, H_hi, H_lo, t)`.
    pub signature: SignatureJson,
}

impl ReceiptJson {
    /// The receipt for `H` signed at `delivered_at` (Unix seconds).
    pub fn new(
        ciphertext_hash: &CiphertextHash,
        delivered_at: u64,
        receipt_key: &PublicKey,
        signature: &Signature,
    ) -> Result<Self, TimeOutOfRange> {
        let ack = AckJson::new(delivered_at, receipt_key, signature)?;
        Ok(Self {
            ciphertext_sha256: ciphertext_hash.to_hex(),
            delivered_at: ack.delivered_at,
            receipt_key: ack.receipt_key,
            signature: ack.signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::PrivateKey;
    use crate::field::fr_from_decimal;
    use crate::statement::receipt_message;

    #[test]
    fn a_receipt_round_trips_through_its_json() {
        let sk = PrivateKey::from_bytes([9; 32]);
        let pk = sk.public_key();
        let h = CiphertextHash::of(b"envelope");
        let t = 1_764_000_000;
        let sig = sk.sign(&receipt_message(&h, t));
        let body = ReceiptJson::new(&h, t, &pk, &sig).unwrap();
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["delivered_at"],
            "2025-11-24T16:00:00Z"
        );
        let back: ReceiptJson = serde_json::from_str(&text).unwrap();
        assert_eq!(back, body);
        assert_eq!(back.ciphertext_sha256, h.to_hex());
        // The decimals are the key's and the signature's own.
        let key = PublicKey::from_coords(
            fr_from_decimal(&back.receipt_key.x).unwrap(),
            fr_from_decimal(&back.receipt_key.y).unwrap(),
        )
        .unwrap();
        assert_eq!(key, pk);
        let mut s_be = [0u8; 32];
        let s = num_bigint::BigUint::parse_bytes(back.signature.s.as_bytes(), 10)
            .unwrap()
            .to_bytes_be();
        s_be[32 - s.len()..].copy_from_slice(&s);
        let parsed = Signature::from_parts(
            fr_from_decimal(&back.signature.r8.x).unwrap(),
            fr_from_decimal(&back.signature.r8.y).unwrap(),
            &s_be,
        )
        .unwrap();
        assert_eq!(parsed, sig);
        assert_eq!(key.verify(&receipt_message(&h, t), &parsed), Ok(()));

        let ack = AckJson::new(t, &pk, &sig).unwrap();
        assert_eq!(
            (ack.delivered_at, ack.receipt_key, ack.signature),
            (body.delivered_at, body.receipt_key, body.signature)
        );
    }

    #[test]
    fn unknown_fields_and_unwritable_times_are_refused() {
        let sk = PrivateKey::from_bytes([9; 32]);
        let sig = sk.sign(&crate::Fr::from(1u64));
        assert_eq!(
            AckJson::new(u64::MAX, &sk.public_key(), &sig),
            Err(TimeOutOfRange(u64::MAX))
        );
        let mut v = serde_json::to_value(AckJson::new(0, &sk.public_key(), &sig).unwrap()).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<AckJson>(v.clone()).is_err());
        v.as_object_mut().unwrap().remove("extra");
        v["signature"]["r8"]["z"] = serde_json::json!("1");
        assert!(serde_json::from_value::<AckJson>(v).is_err());
    }
}

//! The one JSON form of a Baby Jubjub point and of an EdDSA-Poseidon signature, shared by the
//! delivery record and opening codecs ([`crate::bundle`]), the service's API (letro-api's
//! receipt bodies) and every client of that API: field elements as canonical decimal strings
//! (SPEC §1.2), `{"x", "y"}` and `{"r8": {"x", "y"}, "s"}`.
//!
//! Deserializing checks only the shape (unknown members refused). The values are checked once,
//! here: [`PointJson::coords`] and [`PointJson::receipt_key`] (canonical decimals, then the
//! point in the prime-order subgroup), [`SignatureJson::signature`] (canonical decimals, R8 on
//! the curve, S below the subgroup order). Each error names the member that failed, with the
//! names the caller's document uses.

use ark_ff::{BigInteger, PrimeField};
use serde::{Deserialize, Serialize};

use crate::babyjubjub::Point;
use crate::eddsa::{EddsaError, PublicKey, Signature};
use crate::field::{fr_from_decimal, fr_to_decimal, parse_decimal, FieldError};
use crate::Fr;

/// A Baby Jubjub point as decimal field elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = Point))]
#[serde(deny_unknown_fields)]
pub struct PointJson {
    /// x, a canonical decimal field element.
    #[cfg_attr(feature = "schema", schema(pattern = "^(0|[1-9][0-9]{0,76})$"))]
    pub x: String,
    /// y, a canonical decimal field element.
    #[cfg_attr(feature = "schema", schema(pattern = "^(0|[1-9][0-9]{0,76})$"))]
    pub y: String,
}

/// An EdDSA-Poseidon signature `(R8, S)`, decimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = Signature))]
#[serde(deny_unknown_fields)]
pub struct SignatureJson {
    /// The nonce point (an object: serde would otherwise take `["x", "y"]` too).
    #[serde(deserialize_with = "crate::bundle::codec::map_only")]
    pub r8: PointJson,
    /// The scalar, canonical decimal below the subgroup order.
    #[cfg_attr(feature = "schema", schema(pattern = "^(0|[1-9][0-9]{0,76})$"))]
    pub s: String,
}

/// A coordinate that is not a canonical decimal field element, and its member name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be a canonical decimal field element: {source}")]
pub struct CoordError {
    /// The member, as the caller names it (`receipt_key.x`, ...).
    pub field: &'static str,
    /// Why.
    pub source: FieldError,
}

/// Why a point is not a receipt key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyJsonError {
    /// A coordinate is not a canonical decimal.
    #[error(transparent)]
    Coordinate(CoordError),
    /// The point is off the curve or outside the prime-order subgroup.
    #[error("{0}")]
    Key(EddsaError),
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureJsonError {
    /// A coordinate of R8 is not a canonical decimal.
    #[error(transparent)]
    Coordinate(CoordError),
    /// S is not a decimal number (empty, a non-digit, a leading zero).
    #[error("{field} must be a canonical decimal: {source}")]
    S {
        /// The member's name.
        field: &'static str,
        /// Why.
        source: FieldError,
    },
    /// S is a canonical decimal of 2^256 or more (so far above the subgroup order).
    #[error("{field} is 2^256 or more")]
    STooLarge {
        /// The member's name.
        field: &'static str,
    },
    /// R8 is off the curve, or S is not below the subgroup order.
    #[error("{0}")]
    Signature(EddsaError),
}

impl PointJson {
    /// The point's coordinates in decimal. Any pair of field elements is written; whether it
    /// is a point is for the reader to check.
    pub fn from_point(p: &Point) -> Self {
        Self {
            x: fr_to_decimal(&p.x),
            y: fr_to_decimal(&p.y),
        }
    }

    /// The two coordinates as canonical field elements; on failure, the failing one's name
    /// from `names` (`[name of x, name of y]`).
    pub fn coords(&self, names: [&'static str; 2]) -> Result<(Fr, Fr), CoordError> {
        let [x_name, y_name] = names;
        let x = fr_from_decimal(&self.x).map_err(|source| CoordError {
            field: x_name,
            source,
        })?;
        let y = fr_from_decimal(&self.y).map_err(|source| CoordError {
            field: y_name,
            source,
        })?;
        Ok((x, y))
    }

    /// The receipt key: canonical coordinates (named `names`), then a point of the prime-order
    /// subgroup.
    pub fn receipt_key(&self, names: [&'static str; 2]) -> Result<PublicKey, KeyJsonError> {
        let (x, y) = self.coords(names).map_err(KeyJsonError::Coordinate)?;
        PublicKey::from_coords(x, y).map_err(KeyJsonError::Key)
    }
}

impl From<&Point> for PointJson {
    fn from(p: &Point) -> Self {
        Self::from_point(p)
    }
}

impl SignatureJson {
    /// The signature: R8's coordinates and S as canonical decimals (named
    /// `[r8.x, r8.y, s]` by `names`), then R8 on the curve and S below the subgroup order.
    pub fn signature(&self, names: [&'static str; 3]) -> Result<Signature, SignatureJsonError> {
        let [rx, ry, s_name] = names;
        let (x, y) = self
            .r8
            .coords([rx, ry])
            .map_err(SignatureJsonError::Coordinate)?;
        let s = parse_decimal(&self.s).map_err(|source| match source {
            // Well-formed, but more than 78 digits.
            FieldError::NotCanonical => SignatureJsonError::STooLarge { field: s_name },
            source => SignatureJsonError::S {
                field: s_name,
                source,
            },
        })?;
        let bytes = s.to_bytes_be();
        let mut s_be = [0u8; 32];
        let start = s_be
            .len()
            .checked_sub(bytes.len())
            .ok_or(SignatureJsonError::STooLarge { field: s_name })?;
        s_be.get_mut(start..)
            .ok_or(SignatureJsonError::STooLarge { field: s_name })?
            .copy_from_slice(&bytes);
        Signature::from_parts(x, y, &s_be).map_err(SignatureJsonError::Signature)
    }
}

impl From<&Signature> for SignatureJson {
    fn from(sig: &Signature) -> Self {
        let s = num_bigint::BigUint::from_bytes_be(&sig.s.into_bigint().to_bytes_be());
        Self {
            r8: PointJson::from_point(&sig.r8),
            s: s.to_str_radix(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::PrivateKey;
    use crate::statement::{receipt_message, CiphertextHash};

    const KEY: [&str; 2] = ["receipt_key.x", "receipt_key.y"];
    const SIG: [&str; 3] = ["signature.r8.x", "signature.r8.y", "signature.s"];

    #[test]
    fn keys_and_signatures_round_trip_through_their_json() {
        let sk = PrivateKey::from_bytes([9; 32]);
        let pk = sk.public_key();
        let m = receipt_message(&CiphertextHash::of(b"envelope"), 1_764_000_000);
        let sig = sk.sign(&m);
        let key_json = PointJson::from(pk.point());
        let sig_json = SignatureJson::from(&sig);
        let text = serde_json::to_string(&(&key_json, &sig_json)).unwrap();
        let (k, s): (PointJson, SignatureJson) = serde_json::from_str(&text).unwrap();
        assert_eq!(k.receipt_key(KEY).unwrap(), pk);
        let back = s.signature(SIG).unwrap();
        assert_eq!(back, sig);
        assert_eq!(pk.verify(&m, &back), Ok(()));
    }

    #[test]
    fn each_bad_member_is_named() {
        let sk = PrivateKey::from_bytes([9; 32]);
        let sig = SignatureJson::from(&sk.sign(&Fr::from(1u64)));
        let mut bad = sig.clone();
        bad.r8.y = "01".into();
        assert!(matches!(
            bad.signature(SIG),
            Err(SignatureJsonError::Coordinate(CoordError {
                field: "signature.r8.y",
                ..
            }))
        ));
        let mut bad = sig.clone();
        bad.s = "x".into();
        assert!(matches!(
            bad.signature(SIG),
            Err(SignatureJsonError::S {
                field: "signature.s",
                ..
            })
        ));
        let mut bad = sig.clone();
        bad.s = "9".repeat(78);
        assert_eq!(
            bad.signature(SIG),
            Err(SignatureJsonError::STooLarge {
                field: "signature.s"
            })
        );
        let mut bad = sig.clone();
        bad.s = "9".repeat(79);
        assert_eq!(
            bad.signature(SIG),
            Err(SignatureJsonError::STooLarge {
                field: "signature.s"
            })
        );
        // S = the subgroup order: a decimal below 2^256 that is not a reduced scalar.
        let mut bad = sig.clone();
        bad.s = <crate::babyjubjub::Fs as PrimeField>::MODULUS.to_string();
        assert_eq!(
            bad.signature(SIG),
            Err(SignatureJsonError::Signature(EddsaError::SNotReduced))
        );
        let mut bad = sig;
        bad.r8.x = "1".into();
        assert!(matches!(
            bad.signature(SIG),
            Err(SignatureJsonError::Signature(EddsaError::R8NotOnCurve))
        ));
        let off = PointJson {
            x: "1".into(),
            y: "1".into(),
        };
        assert!(matches!(off.receipt_key(KEY), Err(KeyJsonError::Key(_))));
        let mut v = serde_json::to_value(PointJson::from(sk.public_key().point())).unwrap();
        v["z"] = serde_json::json!("1");
        assert!(serde_json::from_value::<PointJson>(v).is_err());
    }
}

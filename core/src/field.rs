//! Canonical encodings of BN254 scalar-field elements (the circuit's native field).
//!
//! Every parser here is strict: a value that is not below the modulus, a decimal with a sign,
//! leading zeros or stray characters, or hex of the wrong length is an error, never reduced.

use ark_ff::{BigInteger, PrimeField};
use num_bigint::BigUint;

use crate::Fr;

/// Why a field element could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The value is not below the BN254 scalar-field modulus.
    #[error("field element is not canonical: it is not below the field modulus")]
    NotCanonical,
    /// A decimal string is empty, has a sign, leading zeros or a non-digit.
    #[error("invalid decimal field element: {0}")]
    BadDecimal(&'static str),
    /// A hex string has the wrong length, upper case, a prefix or a non-hex character.
    #[error("invalid hex encoding: expected {expected} lowercase hex characters")]
    BadHex {
        /// Number of hex characters expected.
        expected: usize,
    },
}

/// The 32-byte big-endian encoding of `x`.
pub fn fr_to_be_bytes(x: &Fr) -> [u8; 32] {
    let bytes = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    // BigInt<4> always serialises to exactly 32 bytes; right-align in any case.
    for (o, b) in out.iter_mut().rev().zip(bytes.iter().rev()) {
        *o = *b;
    }
    out
}

/// Decodes a 32-byte big-endian field element, rejecting values not below the modulus.
pub fn fr_from_be_bytes(bytes: &[u8; 32]) -> Result<Fr, FieldError> {
    let x = Fr::from_be_bytes_mod_order(bytes);
    if fr_to_be_bytes(&x) != *bytes {
        return Err(FieldError::NotCanonical);
    }
    Ok(x)
}

/// Lowercase hex (64 characters) of the big-endian encoding.
pub fn fr_to_hex(x: &Fr) -> String {
    hex::encode(fr_to_be_bytes(x))
}

/// Parses exactly 64 lowercase hex characters as a canonical field element.
pub fn fr_from_hex(s: &str) -> Result<Fr, FieldError> {
    let bytes = hex32_from_str(s)?;
    fr_from_be_bytes(&bytes)
}

/// Parses exactly 64 lowercase hex characters into 32 bytes.
pub fn hex32_from_str(s: &str) -> Result<[u8; 32], FieldError> {
    let bad = FieldError::BadHex { expected: 64 };
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad);
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| bad)?;
    Ok(out)
}

/// The canonical decimal form of `x` (no sign, no leading zeros), as snarkjs and circomlibjs
/// print field elements.
pub fn fr_to_decimal(x: &Fr) -> String {
    BigUint::from_bytes_be(&fr_to_be_bytes(x)).to_str_radix(10)
}

/// Parses a canonical decimal field element.
pub fn fr_from_decimal(s: &str) -> Result<Fr, FieldError> {
    let n = parse_decimal(s)?;
    let bytes = n.to_bytes_be();
    if bytes.len() > 32 {
        return Err(FieldError::NotCanonical);
    }
    let mut be = [0u8; 32];
    for (o, b) in be.iter_mut().rev().zip(bytes.iter().rev()) {
        *o = *b;
    }
    fr_from_be_bytes(&be)
}

/// Parses a canonical decimal natural number (digits only, no leading zeros, at most 78 digits).
pub fn parse_decimal(s: &str) -> Result<BigUint, FieldError> {
    if s.is_empty() {
        return Err(FieldError::BadDecimal("empty"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::BadDecimal("only the digits 0-9 are allowed"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(FieldError::BadDecimal("leading zeros are not allowed"));
    }
    if s.len() > 78 {
        return Err(FieldError::NotCanonical);
    }
    BigUint::parse_bytes(s.as_bytes(), 10).ok_or(FieldError::BadDecimal("not a number"))
}

/// The field element holding the unsigned 128-bit integer `v`.
pub fn fr_from_u128(v: u128) -> Fr {
    Fr::from(v)
}

/// The field element as an integer, if it is below 2^64.
pub fn fr_to_u64(x: &Fr) -> Option<u64> {
    let b = fr_to_be_bytes(x);
    if b[..24].iter().any(|&v| v != 0) {
        return None;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&b[24..]);
    Some(u64::from_be_bytes(low))
}

/// Splits a 32-byte hash into its big-endian 128-bit halves `(hi, lo)` as field elements.
pub fn split_hash(h: &[u8; 32]) -> (Fr, Fr) {
    let mut hi = [0u8; 16];
    let mut lo = [0u8; 16];
    hi.copy_from_slice(&h[..16]);
    lo.copy_from_slice(&h[16..]);
    (
        fr_from_u128(u128::from_be_bytes(hi)),
        fr_from_u128(u128::from_be_bytes(lo)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::Field;

    const P_DEC: &str =
        "21888242871839275222246405745257275088548364400416034343698204186575808495617";

    #[test]
    fn decimal_round_trip_and_rejections() {
        let x = Fr::from(1234567u64);
        assert_eq!(fr_to_decimal(&x), "1234567");
        assert_eq!(fr_from_decimal("1234567"), Ok(x));
        assert_eq!(fr_from_decimal("0"), Ok(Fr::from(0u64)));
        let p_minus_1 = -Fr::ONE;
        assert_eq!(fr_from_decimal(&fr_to_decimal(&p_minus_1)), Ok(p_minus_1));
        assert_eq!(fr_from_decimal(P_DEC), Err(FieldError::NotCanonical));
        assert!(matches!(
            fr_from_decimal("01"),
            Err(FieldError::BadDecimal(_))
        ));
        assert!(matches!(
            fr_from_decimal("-1"),
            Err(FieldError::BadDecimal(_))
        ));
        assert!(matches!(
            fr_from_decimal(""),
            Err(FieldError::BadDecimal(_))
        ));
        assert!(matches!(
            fr_from_decimal("1 "),
            Err(FieldError::BadDecimal(_))
        ));
        assert_eq!(
            fr_from_decimal(&"9".repeat(79)),
            Err(FieldError::NotCanonical)
        );
    }

    #[test]
    fn bytes_reject_modulus_and_above() {
        let p = BigUint::parse_bytes(P_DEC.as_bytes(), 10).map(|n| n.to_bytes_be());
        let Some(p) = p else {
            panic!("modulus constant parses")
        };
        let mut be = [0u8; 32];
        be.copy_from_slice(&p);
        assert_eq!(fr_from_be_bytes(&be), Err(FieldError::NotCanonical));
        assert_eq!(fr_from_be_bytes(&[0xff; 32]), Err(FieldError::NotCanonical));
        be[31] -= 1;
        assert_eq!(fr_from_be_bytes(&be), Ok(-Fr::ONE));
    }

    #[test]
    fn hex_is_strict() {
        let x = Fr::from(0xabcdefu64);
        let h = fr_to_hex(&x);
        assert_eq!(fr_from_hex(&h), Ok(x));
        assert!(fr_from_hex(&h.to_uppercase()).is_err());
        assert!(fr_from_hex(&format!("0x{}", &h[2..])).is_err());
        assert!(fr_from_hex(&h[1..]).is_err());
        assert!(fr_from_hex(&"A".repeat(64)).is_err());
    }

    #[test]
    fn split_hash_halves() {
        let mut h = [0u8; 32];
        h[15] = 1;
        h[31] = 2;
        assert_eq!(split_hash(&h), (Fr::from(1u64), Fr::from(2u64)));
        assert_eq!(fr_to_u64(&Fr::from(u64::MAX)), Some(u64::MAX));
        assert_eq!(fr_to_u64(&Fr::from(u128::from(u64::MAX) + 1)), None);
    }
}

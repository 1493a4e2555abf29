//! Domain-separation tags: small field constants, one per use of Poseidon.
//!
//! Each tag is the ASCII name read as a big-endian integer (below 2^248, so no reduction), placed
//! as the first Poseidon input. SPEC.md lists the names and their decimal values.

use ark_ff::PrimeField;

use crate::Fr;

/// Name of the tag for the receipt message `m = Poseidon(tag, H_hi, H_lo, t)`.
pub const RECEIPT: &str = "letro/receipt/v1";
/// Name of the tag for a `delivered-within/v1` delivered leaf
/// `L = Poseidon(tag, H_hi, H_lo, A.x, A.y, t)` (not hiding; kept to verify v1 evidence).
pub const DELIVERED_V1: &str = "letro/delivered/v1";
/// Name of the tag for a v2 delivered leaf `L = Poseidon(tag, H_hi, H_lo, A.x, A.y, t, e)`,
/// with the per-event secret `e` that makes the leaf hiding.
pub const DELIVERED: &str = "letro/delivered/v2";
/// Name of the tag for the recipient commitment `C = Poseidon(tag, A.x, A.y, r)`.
pub const RECIPIENT: &str = "letro/recipient/v1";
/// Name of the tag for a v1 submitted leaf (not hiding; kept for reference and the attack test).
pub const SUBMITTED_V1: &str = "letro/submitted/v1";
/// Name of the tag for a v2 submitted leaf
/// `Poseidon(tag, H_hi, H_lo, id(sender), id(routing), e)` with the per-event secret `e`.
pub const SUBMITTED: &str = "letro/submitted/v2";

/// Name of the tag for a submission-rejected leaf
/// `Poseidon(tag, H_hi, H_lo, id(sender), id(reason), t, e)` (SPEC §5.11).
pub const REJECTED: &str = "letro/rejected/v1";
/// Name of the tag for a made-available leaf `Poseidon(tag, H_hi, H_lo, id(routing), t, e)`.
pub const AVAILABLE: &str = "letro/available/v1";
/// Name of the tag for the refusal message `Poseidon(tag, H_hi, H_lo, t, d)` that the
/// recipient signs with its certified receipt key (`d` digests the optional reason).
pub const REFUSAL: &str = "letro/refusal/v1";
/// Name of the tag for a refused leaf `Poseidon(tag, H_hi, H_lo, A.x, A.y, t, d, e)`.
pub const REFUSED: &str = "letro/refused/v1";
/// Name of the tag for an expired leaf `Poseidon(tag, H_hi, H_lo, retention, t, e)`.
pub const EXPIRED: &str = "letro/expired/v1";

/// The field constant of a tag name.
pub fn tag(name: &str) -> Fr {
    Fr::from_be_bytes_mod_order(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fr_to_decimal;

    #[test]
    fn tags_are_distinct_and_small() {
        let all = [
            RECEIPT,
            DELIVERED_V1,
            DELIVERED,
            RECIPIENT,
            SUBMITTED_V1,
            SUBMITTED,
            REJECTED,
            AVAILABLE,
            REFUSAL,
            REFUSED,
            EXPIRED,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(a.len() < 31);
            for b in all.iter().skip(i + 1) {
                assert_ne!(tag(a), tag(b));
            }
        }
        // "letro/receipt/v1" as a big-endian integer.
        assert_eq!(
            fr_to_decimal(&tag(RECEIPT)),
            "144083407353417677907750041682678085169"
        );
    }
}

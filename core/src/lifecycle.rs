//! The lifecycle of a registered delivery: its events, their stable names and reasons, the
//! ETSI EN 319 522 event each one is, and the order the service enforces (SPEC §5.11).
//!
//! A delivery (one ciphertext `H`) goes through:
//!
//! ```text
//!                 ┌────────────── submission-rejected (final)
//! (nothing) ──────┤
//!                 └─ submission-accepted ──┬─ made-available ──┬─ retrieved (final)
//!                                          │                   ├─ refused   (final)
//!                                          │                   └─ expired   (final)
//!                                          ├─ retrieved (final)
//!                                          ├─ refused   (final)
//!                                          └─ expired   (final)
//! ```
//!
//! Every delivery has at most one final state: nothing follows a rejection, a retrieval (the
//! recipient's certified receipt), a refusal (signed by the recipient's certified receipt key)
//! or an expiry (the retention period ended first). A receipt can come without a
//! `made-available` event (a relay that logs its mailbox deliveries only through the receipt).
//!
//! This module is the vocabulary and the rule; it does no I/O. The names are part of the
//! evidence format: they never change, and a new event gets a new name.

use std::fmt;

use crate::babyjubjub::Point;
use crate::eddsa::{PublicKey, Signature};
use crate::log::{id_to_field, ReceiptError};
use crate::statement::CiphertextHash;
use crate::{poseidon, tags, Fr};

/// One event of a delivery's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleEvent {
    /// The relay accepted the submission of `H` for delivery.
    SubmissionAccepted,
    /// The relay refused the submission, with a [`RejectionReason`].
    SubmissionRejected,
    /// The envelope was placed in the recipient's mailbox.
    MadeAvailable,
    /// The recipient's device retrieved it and acknowledged it with a receipt signed by its
    /// certified receipt key.
    Retrieved,
    /// The recipient refused it, with a statement signed by its certified receipt key and an
    /// optional reason.
    Refused,
    /// The retention period ended before the recipient retrieved or refused it.
    Expired,
}

impl LifecycleEvent {
    /// Every event, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::SubmissionAccepted,
        Self::SubmissionRejected,
        Self::MadeAvailable,
        Self::Retrieved,
        Self::Refused,
        Self::Expired,
    ];

    /// The stable name (evidence records, the API, logs).
    pub fn name(self) -> &'static str {
        match self {
            Self::SubmissionAccepted => "submission-accepted",
            Self::SubmissionRejected => "submission-rejected",
            Self::MadeAvailable => "made-available",
            Self::Retrieved => "retrieved",
            Self::Refused => "refused",
            Self::Expired => "expired",
        }
    }

    /// The event named `name` ([`LifecycleEvent::name`]), exactly.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The ETSI EN 319 522 event (EN 319 522-3, the `ERDSEventId` table) this event is
    /// recorded as.
    pub fn etsi_event(self) -> &'static str {
        match self {
            Self::SubmissionAccepted => "SubmissionAcceptance",
            Self::SubmissionRejected => "SubmissionRejection",
            Self::MadeAvailable => "ContentConsignment",
            Self::Retrieved => "ContentHandover",
            Self::Refused => "ConsignmentRejection",
            Self::Expired => "ContentHandoverFailure",
        }
    }

    /// The `ERDSEventId` URI: `http://uri.etsi.org/19522/Event/<event>`.
    pub fn etsi_event_id(self) -> String {
        format!("http://uri.etsi.org/19522/Event/{}", self.etsi_event())
    }

    /// Whether the event ends the delivery.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::SubmissionAccepted | Self::MadeAvailable)
    }

    /// Whether the event is evidence against the delivery having happened (a negative
    /// evidence record). It says why: a rejection always has a [`RejectionReason`], an expiry
    /// is `retention-period-expired`, and a refusal carries the recipient's reason if it gave
    /// one.
    pub fn is_negative(self) -> bool {
        matches!(
            self,
            Self::SubmissionRejected | Self::Refused | Self::Expired
        )
    }
}

impl fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the relay rejected a submission. Stable names, as [`LifecycleEvent::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionReason {
    /// The recipient is not known to the relay.
    UnknownRecipient,
    /// The envelope is larger than the relay accepts.
    TooLarge,
    /// The envelope is not a well-formed Letro envelope.
    Malformed,
    /// The sender's policy or quota does not allow it.
    Policy,
}

impl RejectionReason {
    /// Every reason.
    pub const ALL: [Self; 4] = [
        Self::UnknownRecipient,
        Self::TooLarge,
        Self::Malformed,
        Self::Policy,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownRecipient => "unknown-recipient",
            Self::TooLarge => "too-large",
            Self::Malformed => "malformed",
            Self::Policy => "policy",
        }
    }

    /// The reason named `name`, exactly.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// The state of a delivery: the last event that moved it, or none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeliveryState {
    /// Nothing is logged for this `H`.
    #[default]
    Unknown,
    /// The last event logged for this `H`.
    After(LifecycleEvent),
}

/// An event that the delivery's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event} cannot follow {}", match .state { DeliveryState::Unknown => "nothing (the delivery is unknown)".to_owned(), DeliveryState::After(e) => format!("{e} (the delivery is {})", if e.is_final() { "final" } else { "open" }) })]
pub struct OrderError {
    /// The delivery's state.
    pub state: DeliveryState,
    /// The event refused.
    pub event: LifecycleEvent,
}

impl DeliveryState {
    /// Whether the delivery has reached a final state.
    pub fn is_final(self) -> bool {
        matches!(self, Self::After(e) if e.is_final())
    }

    /// The state after `event`, if the lifecycle allows `event` now.
    pub fn then(self, event: LifecycleEvent) -> Result<Self, OrderError> {
        use LifecycleEvent::*;
        let allowed = match self {
            Self::Unknown => matches!(event, SubmissionAccepted | SubmissionRejected),
            Self::After(SubmissionAccepted) => {
                matches!(event, MadeAvailable | Retrieved | Refused | Expired)
            }
            Self::After(MadeAvailable) => matches!(event, Retrieved | Refused | Expired),
            Self::After(_) => false,
        };
        if allowed {
            Ok(Self::After(event))
        } else {
            Err(OrderError { state: self, event })
        }
    }
}

/// Longest refusal reason, in bytes of UTF-8.
pub const MAX_REASON_BYTES: usize = 512;

/// Why a refusal reason is refused: empty (send none instead), longer than
/// [`MAX_REASON_BYTES`], or holding a control character.
pub fn check_reason(reason: &str) -> Result<(), &'static str> {
    if reason.is_empty() {
        Err("the reason is empty (omit it instead)")
    } else if reason.len() > MAX_REASON_BYTES {
        Err("the reason is longer than 512 bytes")
    } else if reason.chars().any(char::is_control) {
        Err("the reason holds a control character")
    } else if reason.chars().any(|c| matches!(c, '\u{fffe}' | '\u{ffff}')) {
        // Not characters XML 1.0 allows (the ETSI export).
        Err("the reason holds a noncharacter (U+FFFE or U+FFFF)")
    } else {
        Ok(())
    }
}

/// The digest `d` of a refusal's optional reason: `id(reason)` (the first 31 bytes of the
/// SHA-256 of its UTF-8, as identifiers), or 0 when there is none.
pub fn reason_digest(reason: Option<&str>) -> Fr {
    reason.map_or(Fr::from(0u64), id_to_field)
}

/// The submission-rejected leaf `Poseidon(tag_rejected, H_hi, H_lo, id(sender), id(reason), t,
/// e)`, with the reason's stable name and the per-event secret `e`.
pub fn rejected_leaf(
    h: &CiphertextHash,
    sender: &str,
    reason: RejectionReason,
    t: u64,
    event_secret: &Fr,
) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::REJECTED),
        hi,
        lo,
        id_to_field(sender),
        id_to_field(reason.name()),
        Fr::from(t),
        *event_secret,
    ])
}

/// The made-available leaf `Poseidon(tag_available, H_hi, H_lo, id(routing), t, e)`.
pub fn available_leaf(h: &CiphertextHash, routing: &str, t: u64, event_secret: &Fr) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::AVAILABLE),
        hi,
        lo,
        id_to_field(routing),
        Fr::from(t),
        *event_secret,
    ])
}

/// The message a recipient signs to refuse `H` at `t`: `Poseidon(tag_refusal, H_hi, H_lo, t,
/// d)` with `d` the [`reason_digest`]. Its tag differs from the receipt's, so a refusal is never
/// a receipt and a receipt never a refusal.
pub fn refusal_message(h: &CiphertextHash, t: u64, reason: Option<&str>) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::REFUSAL),
        hi,
        lo,
        Fr::from(t),
        reason_digest(reason),
    ])
}

/// The refused leaf `Poseidon(tag_refused, H_hi, H_lo, A.x, A.y, t, d, e)`.
pub fn refused_leaf(
    h: &CiphertextHash,
    a: &Point,
    t: u64,
    reason: Option<&str>,
    event_secret: &Fr,
) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::REFUSED),
        hi,
        lo,
        a.x,
        a.y,
        Fr::from(t),
        reason_digest(reason),
        *event_secret,
    ])
}

/// The expired leaf `Poseidon(tag_expired, H_hi, H_lo, retention, t, e)`: the retention period
/// (seconds) that ended at `t` without a retrieval or a refusal.
pub fn expired_leaf(h: &CiphertextHash, retention: u64, t: u64, event_secret: &Fr) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::EXPIRED),
        hi,
        lo,
        Fr::from(retention),
        Fr::from(t),
        *event_secret,
    ])
}

/// Checks a refusal as the relay must before logging it: the key in the prime-order subgroup,
/// the signature on [`refusal_message`] and `t` within `max_skew` of `now`. The reason must
/// pass [`check_reason`] first. As for receipts, the relay must also check that `H` was
/// submitted and that the key is certified by the account it was routed to.
pub fn check_refusal(
    h: &CiphertextHash,
    refused_at: u64,
    reason: Option<&str>,
    key: &PublicKey,
    signature: &Signature,
    now: u64,
    max_skew: u64,
) -> Result<(), ReceiptError> {
    if !crate::eddsa::in_prime_subgroup(key.point()) {
        return Err(ReceiptError::KeyNotInSubgroup);
    }
    key.verify(&refusal_message(h, refused_at, reason), signature)?;
    if refused_at.abs_diff(now) > max_skew {
        return Err(ReceiptError::Skew {
            t: refused_at,
            now,
            max_skew,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::LifecycleEvent::*;
    use super::*;

    /// Every state a delivery can be in.
    fn states() -> Vec<DeliveryState> {
        std::iter::once(DeliveryState::Unknown)
            .chain(LifecycleEvent::ALL.into_iter().map(DeliveryState::After))
            .collect()
    }

    #[test]
    fn every_pair_of_state_and_event_is_allowed_exactly_as_the_lifecycle_says() {
        let allowed: &[(DeliveryState, LifecycleEvent)] = &[
            (DeliveryState::Unknown, SubmissionAccepted),
            (DeliveryState::Unknown, SubmissionRejected),
            (DeliveryState::After(SubmissionAccepted), MadeAvailable),
            (DeliveryState::After(SubmissionAccepted), Retrieved),
            (DeliveryState::After(SubmissionAccepted), Refused),
            (DeliveryState::After(SubmissionAccepted), Expired),
            (DeliveryState::After(MadeAvailable), Retrieved),
            (DeliveryState::After(MadeAvailable), Refused),
            (DeliveryState::After(MadeAvailable), Expired),
        ];
        let mut tried = 0;
        for state in states() {
            for event in LifecycleEvent::ALL {
                let got = state.then(event);
                if allowed.contains(&(state, event)) {
                    assert_eq!(
                        got,
                        Ok(DeliveryState::After(event)),
                        "{state:?} then {event}"
                    );
                } else {
                    let e = got.unwrap_err();
                    assert_eq!((e.state, e.event), (state, event));
                    assert!(e.to_string().contains(event.name()), "{e}");
                }
                tried += 1;
            }
        }
        assert_eq!(tried, 7 * 6);
    }

    /// Every sequence of up to four events: the allowed ones end in at most one final event,
    /// which is their last, and start with a submission event.
    #[test]
    fn no_sequence_reaches_two_final_states_or_goes_on_after_one() {
        let mut sequences: Vec<Vec<LifecycleEvent>> = vec![vec![]];
        for _ in 0..4 {
            let mut next = Vec::new();
            for s in &sequences {
                for e in LifecycleEvent::ALL {
                    let mut t = s.clone();
                    t.push(e);
                    next.push(t);
                }
            }
            sequences.extend(next);
            sequences.sort();
            sequences.dedup();
        }
        let mut accepted = 0;
        for seq in &sequences {
            let end = seq
                .iter()
                .try_fold(DeliveryState::Unknown, |s, e| s.then(*e));
            if end.is_ok() && !seq.is_empty() {
                accepted += 1;
                let finals = seq.iter().filter(|e| e.is_final()).count();
                assert!(finals <= 1, "{seq:?}");
                if finals == 1 {
                    assert!(seq.last().unwrap().is_final(), "{seq:?}");
                }
                assert!(
                    matches!(seq[0], SubmissionAccepted | SubmissionRejected),
                    "{seq:?}"
                );
                // No receipt after an expiry or a refusal, no expiry after a receipt.
                for w in seq.windows(2) {
                    assert!(!matches!(
                        (w[0], w[1]),
                        (Expired | Refused, Retrieved) | (Retrieved, Expired)
                    ));
                }
            }
        }
        // One event: accepted or rejected (2); two: accepted then one of 4; three: accepted,
        // made available, then one of 3.
        assert_eq!(accepted, 2 + 4 + 3);
    }

    #[test]
    fn names_are_stable_and_round_trip() {
        let names: Vec<&str> = LifecycleEvent::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "submission-accepted",
                "submission-rejected",
                "made-available",
                "retrieved",
                "refused",
                "expired"
            ]
        );
        for e in LifecycleEvent::ALL {
            assert_eq!(LifecycleEvent::from_name(e.name()), Some(e));
            assert!(e
                .etsi_event_id()
                .starts_with("http://uri.etsi.org/19522/Event/"));
            assert_eq!(
                e.is_negative(),
                matches!(e, SubmissionRejected | Refused | Expired)
            );
        }
        assert_eq!(LifecycleEvent::from_name("Retrieved"), None);
        assert_eq!(LifecycleEvent::from_name("retrieved "), None);
        for r in RejectionReason::ALL {
            assert_eq!(RejectionReason::from_name(r.name()), Some(r));
        }
        assert_eq!(RejectionReason::from_name(""), None);
    }

    mod refusals {
        use super::super::*;
        use crate::eddsa::PrivateKey;
        use crate::statement::receipt_message;

        fn h() -> CiphertextHash {
            CiphertextHash::of(b"example ciphertext")
        }

        #[test]
        fn a_refusal_verifies_only_as_signed() {
            let sk = PrivateKey::from_bytes([0x2a; 32]);
            let pk = sk.public_key();
            let t = 1_764_201_600;
            let reason = Some("not addressed to me");
            let sig = sk.sign(&refusal_message(&h(), t, reason));
            assert_eq!(
                check_refusal(&h(), t, reason, &pk, &sig, t + 5, 300),
                Ok(())
            );
            // Another reason, none, another time, another message: refused.
            for (tt, r) in [(t, Some("other")), (t, None), (t + 1, reason)] {
                assert!(matches!(
                    check_refusal(&h(), tt, r, &pk, &sig, t, 300),
                    Err(ReceiptError::Signature(_))
                ));
            }
            // A receipt's signature is not a refusal (distinct tags).
            let receipt = sk.sign(&receipt_message(&h(), t));
            assert!(check_refusal(&h(), t, None, &pk, &receipt, t, 300).is_err());
            // Outside the skew.
            assert!(matches!(
                check_refusal(&h(), t, reason, &pk, &sig, t + 301, 300),
                Err(ReceiptError::Skew { .. })
            ));
            // Another key.
            let other = PrivateKey::from_bytes([0x2b; 32]).public_key();
            assert!(check_refusal(&h(), t, reason, &other, &sig, t, 300).is_err());
        }

        #[test]
        fn reasons_are_checked_and_digested() {
            assert!(check_reason("wrong recipient").is_ok());
            assert!(check_reason("").is_err());
            assert!(check_reason("a\nb").is_err());
            assert!(check_reason(&"x".repeat(MAX_REASON_BYTES)).is_ok());
            assert!(check_reason(&"x".repeat(MAX_REASON_BYTES + 1)).is_err());
            assert_eq!(reason_digest(None), Fr::from(0u64));
            assert_ne!(reason_digest(Some("a")), reason_digest(Some("b")));
        }

        #[test]
        fn every_leaf_kind_depends_on_every_input() {
            let e = Fr::from(7u64);
            let a = PrivateKey::from_bytes([1; 32]).public_key();
            let base = [
                rejected_leaf(&h(), "s", RejectionReason::Policy, 5, &e),
                available_leaf(&h(), "r", 5, &e),
                refused_leaf(&h(), a.point(), 5, None, &e),
                expired_leaf(&h(), 60, 5, &e),
            ];
            for (i, x) in base.iter().enumerate() {
                for y in base.iter().skip(i + 1) {
                    assert_ne!(x, y);
                }
            }
            let e2 = Fr::from(8u64);
            let h2 = CiphertextHash::of(b"other");
            assert_ne!(
                base[0],
                rejected_leaf(&h2, "s", RejectionReason::Policy, 5, &e)
            );
            assert_ne!(
                base[0],
                rejected_leaf(&h(), "t", RejectionReason::Policy, 5, &e)
            );
            assert_ne!(
                base[0],
                rejected_leaf(&h(), "s", RejectionReason::TooLarge, 5, &e)
            );
            assert_ne!(
                base[0],
                rejected_leaf(&h(), "s", RejectionReason::Policy, 6, &e)
            );
            assert_ne!(
                base[0],
                rejected_leaf(&h(), "s", RejectionReason::Policy, 5, &e2)
            );
            assert_ne!(base[1], available_leaf(&h2, "r", 5, &e));
            assert_ne!(base[1], available_leaf(&h(), "q", 5, &e));
            assert_ne!(base[1], available_leaf(&h(), "r", 6, &e));
            assert_ne!(base[1], available_leaf(&h(), "r", 5, &e2));
            let b = PrivateKey::from_bytes([2; 32]).public_key();
            assert_ne!(base[2], refused_leaf(&h2, a.point(), 5, None, &e));
            assert_ne!(base[2], refused_leaf(&h(), b.point(), 5, None, &e));
            assert_ne!(base[2], refused_leaf(&h(), a.point(), 6, None, &e));
            assert_ne!(base[2], refused_leaf(&h(), a.point(), 5, Some("x"), &e));
            assert_ne!(base[2], refused_leaf(&h(), a.point(), 5, None, &e2));
            assert_ne!(base[3], expired_leaf(&h2, 60, 5, &e));
            assert_ne!(base[3], expired_leaf(&h(), 61, 5, &e));
            assert_ne!(base[3], expired_leaf(&h(), 60, 6, &e));
            assert_ne!(base[3], expired_leaf(&h(), 60, 5, &e2));
        }
    }
}

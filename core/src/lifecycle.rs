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
}

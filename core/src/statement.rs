//! The `delivered-within` statement, its public-input encoding, and the native relation.
//!
//! Two versions exist ([`StatementVersion`]). Both have the same six public inputs, in this
//! order: `H_hi, H_lo, not_before, not_after, C, R` (see SPEC.md). They differ in the delivered
//! leaf: v1's `Poseidon(tag, H_hi, H_lo, A.x, A.y, t)` is a deterministic function of public and
//! guessable values, so the public log could undo the proof's zero knowledge; v2's
//! `Poseidon(tag, H_hi, H_lo, A.x, A.y, t, e)` mixes in a per-event secret `e` and hides them.
//! Only v2 is proved; v1 bundles stay verifiable with the v1 key.
//! [`check_relation`] is the native twin of the whole circuit: the prover runs it before proving
//! so that a false statement is refused with a typed error instead of an unsatisfied system.

use sha2::{Digest, Sha256};

use crate::babyjubjub::Point;
use crate::eddsa::{EddsaError, PublicKey, Signature};
use crate::field::split_hash;
use crate::merkle::{InclusionProof, MerkleError};
use crate::{poseidon, tags, Fr};

/// The identifier of the statement proved today (v2), used in bundles, keys and manifests.
pub const STATEMENT_ID: &str = "delivered-within/v2";
/// The identifier of the first statement (non-hiding leaves), still verified.
pub const STATEMENT_ID_V1: &str = "delivered-within/v1";

/// A version of the `delivered-within` statement, and with it of the bundle and opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementVersion {
    /// `delivered-within/v1`: leaves without a per-event secret. Verified, never proved again.
    V1,
    /// `delivered-within/v2`: hiding leaves.
    V2,
}

impl StatementVersion {
    /// The version proved today.
    pub const CURRENT: Self = Self::V2;
    /// Every version, oldest first.
    pub const ALL: [Self; 2] = [Self::V1, Self::V2];

    /// `delivered-within/v1` or `delivered-within/v2`.
    pub fn statement_id(self) -> &'static str {
        match self {
            Self::V1 => STATEMENT_ID_V1,
            Self::V2 => STATEMENT_ID,
        }
    }

    /// `letro-bundle/v1` or `letro-bundle/v2`.
    pub fn bundle_version(self) -> &'static str {
        match self {
            Self::V1 => "letro-bundle/v1",
            Self::V2 => "letro-bundle/v2",
        }
    }

    /// `letro-opening/v1` or `letro-opening/v2`.
    pub fn opening_version(self) -> &'static str {
        match self {
            Self::V1 => "letro-opening/v1",
            Self::V2 => "letro-opening/v2",
        }
    }

    /// The version whose statement id is `id`.
    pub fn from_statement_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.statement_id() == id)
    }
}

impl std::fmt::Display for StatementVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.statement_id())
    }
}

/// Number of public inputs.
pub const NUM_PUBLIC_INPUTS: usize = 6;

/// Names of the public inputs, in circuit order.
pub const PUBLIC_INPUT_NAMES: [&str; NUM_PUBLIC_INPUTS] = [
    "h_hi",
    "h_lo",
    "not_before",
    "not_after",
    "recipient_commitment",
    "log_root",
];

/// SHA-256 of the exact ciphertext bytes delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CiphertextHash(pub [u8; 32]);

impl CiphertextHash {
    /// Hashes ciphertext bytes held in memory (streaming callers use SHA-256 themselves).
    pub fn of(ciphertext: &[u8]) -> Self {
        Self(Sha256::digest(ciphertext).into())
    }

    /// The big-endian 128-bit halves `(H_hi, H_lo)` as field elements.
    pub fn halves(&self) -> (Fr, Fr) {
        split_hash(&self.0)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lowercase hex characters.
    pub fn from_hex(s: &str) -> Result<Self, crate::field::FieldError> {
        crate::field::hex32_from_str(s).map(Self)
    }
}

/// The public statement: ciphertext `H` was delivered to the recipient committed to by `C`
/// at a time in `[not_before, not_after]`, recorded in the log with root `R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveredWithin {
    /// `H`.
    pub ciphertext_hash: CiphertextHash,
    /// Window start, Unix seconds UTC, inclusive.
    pub not_before: u64,
    /// Window end, Unix seconds UTC, inclusive.
    pub not_after: u64,
    /// `C = Poseidon(tag_recipient, A.x, A.y, r)`.
    pub recipient_commitment: Fr,
    /// `R`, the log root of a signed checkpoint.
    pub log_root: Fr,
}

impl DeliveredWithin {
    /// The public-input vector, in circuit order.
    pub fn public_inputs(&self) -> [Fr; NUM_PUBLIC_INPUTS] {
        let (hi, lo) = self.ciphertext_hash.halves();
        [
            hi,
            lo,
            Fr::from(self.not_before),
            Fr::from(self.not_after),
            self.recipient_commitment,
            self.log_root,
        ]
    }
}

/// The private witness of a `delivered-within` proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryWitness {
    /// Delivery time `t` signed by the recipient, Unix seconds.
    pub delivered_at: u64,
    /// Receipt key `A`.
    pub receipt_key: PublicKey,
    /// Blinding `r` of the recipient commitment.
    pub blinding: Fr,
    /// Receipt signature `(R8, S)` on `m = Poseidon(tag_receipt, H_hi, H_lo, t)`.
    pub signature: Signature,
    /// The per-event secret `e` mixed into the delivered leaf (v2). The service draws it
    /// uniformly from F_p with the OS CSPRNG, keeps it, never logs it and gives it only to the
    /// prover.
    pub event_secret: Fr,
    /// The delivered leaf's position and path.
    pub path: InclusionProof,
}

/// `m = Poseidon(tag_receipt, H_hi, H_lo, t)`, the message a recipient signs.
pub fn receipt_message(h: &CiphertextHash, t: u64) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([tags::tag(tags::RECEIPT), hi, lo, Fr::from(t)])
}

/// `L = Poseidon(tag_delivered_v2, H_hi, H_lo, A.x, A.y, t, e)`, the hiding log leaf of a
/// delivery (`delivered-within/v2`), with the per-event secret `e`.
pub fn delivered_leaf(h: &CiphertextHash, a: &Point, t: u64, event_secret: &Fr) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::DELIVERED),
        hi,
        lo,
        a.x,
        a.y,
        Fr::from(t),
        *event_secret,
    ])
}

/// `L = Poseidon(tag_delivered_v1, H_hi, H_lo, A.x, A.y, t)`, the v1 leaf. It is NOT hiding:
/// anyone who knows H can test candidate keys and times against a published leaf (SPEC §5.7).
/// Kept to check v1 evidence and to demonstrate that attack in tests.
pub fn delivered_leaf_v1(h: &CiphertextHash, a: &Point, t: u64) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([tags::tag(tags::DELIVERED_V1), hi, lo, a.x, a.y, Fr::from(t)])
}

/// `C = Poseidon(tag_recipient, A.x, A.y, r)`.
pub fn recipient_commitment(a: &Point, blinding: &Fr) -> Fr {
    poseidon::hash([tags::tag(tags::RECIPIENT), a.x, a.y, *blinding])
}

/// The bounds on the delivery time t that a v2 bundle's evidence supports (SPEC §8 step 4b).
///
/// The proof gives `not_before <= t <= not_after`. The log adds an upper bound of its own: an
/// honest relay accepts a receipt only if t is within its published skew of its clock, and
/// logs it before the checkpoint, so `t <= checkpoint.time + receipt_skew`. That bound rests on
/// the relay's honesty (its clock and its publication time); the window's does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBounds {
    /// `not_before`: the earliest t the proof allows.
    pub earliest: u64,
    /// `not_after`: the latest t the proof allows.
    pub latest_by_proof: u64,
    /// `checkpoint.time + receipt_skew`: the latest t an honest log could have accepted.
    pub latest_by_log: u64,
    /// The relay's published receipt skew.
    pub receipt_skew: u64,
}

impl TimeBounds {
    /// The effective upper bound: the smaller of the two.
    pub fn latest(&self) -> u64 {
        self.latest_by_proof.min(self.latest_by_log)
    }
}

/// Why a statement's window cannot be combined with its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeBoundsError {
    /// The checkpoint does not publish the relay's receipt skew, or publishes it badly.
    #[error("{0}")]
    ReceiptSkew(#[from] letro_log::checkpoint::ReceiptSkewError),
    /// `not_before` is later than any t an honest log could have accepted before this
    /// checkpoint: `not_before > checkpoint.time + receipt_skew`.
    #[error(
        "the window starts at {not_before}, after the latest delivery time an honest log could \
         have accepted before this checkpoint ({latest_by_log} = checkpoint time + receipt skew)"
    )]
    ImpossibleWindow {
        /// The window's start.
        not_before: u64,
        /// `checkpoint.time + receipt_skew`.
        latest_by_log: u64,
    },
}

/// The bounds on t that `s` and its checkpoint support together ([`TimeBounds`]).
pub fn time_bounds(
    s: &DeliveredWithin,
    checkpoint: &letro_log::checkpoint::Checkpoint,
) -> Result<TimeBounds, TimeBoundsError> {
    let receipt_skew = checkpoint.receipt_skew()?;
    let latest_by_log = checkpoint.time.saturating_add(receipt_skew);
    if s.not_before > latest_by_log {
        return Err(TimeBoundsError::ImpossibleWindow {
            not_before: s.not_before,
            latest_by_log,
        });
    }
    Ok(TimeBounds {
        earliest: s.not_before,
        latest_by_proof: s.not_after,
        latest_by_log,
        receipt_skew,
    })
}

/// Why a witness does not satisfy the relation for a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelationError {
    /// The window is empty.
    #[error("the window is empty: not_before {not_before} is after not_after {not_after}")]
    EmptyWindow {
        /// Window start.
        not_before: u64,
        /// Window end.
        not_after: u64,
    },
    /// The delivery time is before the window.
    #[error("delivery time {t} is before the window start {not_before}")]
    DeliveredBeforeWindow {
        /// Delivery time.
        t: u64,
        /// Window start.
        not_before: u64,
    },
    /// The delivery time is after the window.
    #[error("delivery time {t} is after the window end {not_after}")]
    DeliveredAfterWindow {
        /// Delivery time.
        t: u64,
        /// Window end.
        not_after: u64,
    },
    /// `C` does not open to the receipt key with this blinding.
    #[error("recipient commitment does not open to the receipt key and blinding")]
    CommitmentMismatch,
    /// The receipt signature is invalid.
    #[error("receipt signature: {0}")]
    Signature(#[from] EddsaError),
    /// The delivered leaf is not in the tree with root `R`.
    #[error("delivered leaf is not in the log at the given index: {0}")]
    NotInLog(#[from] MerkleError),
}

/// Checks the `delivered-within/v2` relation natively.
pub fn check_relation(s: &DeliveredWithin, w: &DeliveryWitness) -> Result<(), RelationError> {
    let t = w.delivered_at;
    if s.not_before > s.not_after {
        return Err(RelationError::EmptyWindow {
            not_before: s.not_before,
            not_after: s.not_after,
        });
    }
    if t < s.not_before {
        return Err(RelationError::DeliveredBeforeWindow {
            t,
            not_before: s.not_before,
        });
    }
    if t > s.not_after {
        return Err(RelationError::DeliveredAfterWindow {
            t,
            not_after: s.not_after,
        });
    }
    let a = w.receipt_key.point();
    if recipient_commitment(a, &w.blinding) != s.recipient_commitment {
        return Err(RelationError::CommitmentMismatch);
    }
    w.receipt_key
        .verify(&receipt_message(&s.ciphertext_hash, t), &w.signature)?;
    w.path.verify(
        delivered_leaf(&s.ciphertext_hash, a, t, &w.event_secret),
        s.log_root,
    )?;
    Ok(())
}

/// A complete, internally consistent example (statement and witness) for tests, benchmarks and
/// documentation: one delivery in a log of `log_size` leaves, signed with `receipt_secret`.
pub mod example {
    use super::*;
    use crate::eddsa::PrivateKey;
    use crate::merkle::MerkleTree;

    /// The example's parts.
    #[derive(Debug, Clone)]
    pub struct Example {
        /// The statement for the window `[t - 3600, t + 3600]`.
        pub statement: DeliveredWithin,
        /// Its witness.
        pub witness: DeliveryWitness,
        /// The receipt private key.
        pub receipt_secret: PrivateKey,
    }

    /// The example's per-event secret (illustrative: a real one is drawn from a CSPRNG).
    pub const EXAMPLE_EVENT_SECRET: u64 = 1_122_334_455;

    /// Builds the example deterministically from its arguments.
    pub fn build(
        ciphertext: &[u8],
        t: u64,
        receipt_secret: [u8; 32],
        blinding: Fr,
        log_size: u32,
    ) -> Example {
        let sk = PrivateKey::from_bytes(receipt_secret);
        let pk = sk.public_key();
        let h = CiphertextHash::of(ciphertext);
        let sig = sk.sign(&receipt_message(&h, t));
        let event_secret = Fr::from(EXAMPLE_EVENT_SECRET);
        let mut tree = MerkleTree::new();
        let target = log_size / 2;
        for i in 0..log_size.max(1) {
            let leaf = if i == target {
                delivered_leaf(&h, pk.point(), t, &event_secret)
            } else {
                Fr::from(u64::from(i) + 1)
            };
            tree.append(leaf).ok();
        }
        let path = tree.proof(target).unwrap_or(InclusionProof {
            index: 0,
            siblings: [[Fr::from(0u64); 3]; crate::merkle::DEPTH],
        });
        Example {
            statement: DeliveredWithin {
                ciphertext_hash: h,
                not_before: t.saturating_sub(3600),
                not_after: t.saturating_add(3600),
                recipient_commitment: recipient_commitment(pk.point(), &blinding),
                log_root: tree.root(),
            },
            witness: DeliveryWitness {
                delivered_at: t,
                receipt_key: pk,
                blinding,
                signature: sig,
                event_secret,
                path,
            },
            receipt_secret: sk,
        }
    }

    /// The default example used across the workspace's tests.
    pub fn default_example() -> Example {
        build(
            b"example ciphertext",
            1_764_201_600,
            [42u8; 32],
            Fr::from(987_654_321u64),
            10,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::example::default_example;
    use super::*;

    #[test]
    fn example_satisfies_relation() {
        let e = default_example();
        assert_eq!(check_relation(&e.statement, &e.witness), Ok(()));
    }

    #[test]
    fn each_violation_has_its_error() {
        let e = default_example();
        let t = e.witness.delivered_at;
        let mut s = e.statement;
        s.not_after = t - 1;
        s.not_before = t - 10;
        assert!(matches!(
            check_relation(&s, &e.witness),
            Err(RelationError::DeliveredAfterWindow { .. })
        ));
        let mut s = e.statement;
        s.not_before = t + 1;
        assert!(matches!(
            check_relation(&s, &e.witness),
            Err(RelationError::DeliveredBeforeWindow { .. })
        ));
        let mut s = e.statement;
        s.not_before = s.not_after + 1;
        assert!(matches!(
            check_relation(&s, &e.witness),
            Err(RelationError::EmptyWindow { .. })
        ));
        let mut s = e.statement;
        s.recipient_commitment += Fr::from(1u64);
        assert_eq!(
            check_relation(&s, &e.witness),
            Err(RelationError::CommitmentMismatch)
        );
        let mut s = e.statement;
        s.ciphertext_hash.0[0] ^= 1;
        assert!(matches!(
            check_relation(&s, &e.witness),
            Err(RelationError::Signature(_))
        ));
        let mut s = e.statement;
        s.log_root += Fr::from(1u64);
        assert!(matches!(
            check_relation(&s, &e.witness),
            Err(RelationError::NotInLog(_))
        ));
        let mut w = e.witness.clone();
        w.event_secret += Fr::from(1u64);
        assert!(matches!(
            check_relation(&e.statement, &w),
            Err(RelationError::NotInLog(_))
        ));
    }

    #[test]
    fn time_bounds_combine_window_and_log() {
        use letro_log::checkpoint::{receipt_skew_extension, Checkpoint, ReceiptSkewError};
        let s = default_example().statement;
        let mut cp = Checkpoint {
            origin: "example.invalid/log".into(),
            size: 10,
            root: [0u8; 32],
            time: s.not_before + 100,
            extensions: vec![receipt_skew_extension(300)],
        };
        let b = time_bounds(&s, &cp).unwrap();
        assert_eq!(
            (
                b.earliest,
                b.latest_by_proof,
                b.latest_by_log,
                b.receipt_skew
            ),
            (s.not_before, s.not_after, s.not_before + 400, 300)
        );
        assert_eq!(b.latest(), s.not_before + 400);
        // The window's own end wins when it is earlier.
        cp.time = s.not_after + 10_000;
        assert_eq!(time_bounds(&s, &cp).unwrap().latest(), s.not_after);
        // Exactly at the limit is possible; one second later is not.
        cp.time = s.not_before - 300;
        assert!(time_bounds(&s, &cp).is_ok());
        cp.time = s.not_before - 301;
        assert_eq!(
            time_bounds(&s, &cp),
            Err(TimeBoundsError::ImpossibleWindow {
                not_before: s.not_before,
                latest_by_log: s.not_before - 1
            })
        );
        cp.extensions.clear();
        assert_eq!(
            time_bounds(&s, &cp),
            Err(TimeBoundsError::ReceiptSkew(ReceiptSkewError::Missing))
        );
    }

    #[test]
    fn versions_round_trip_their_ids() {
        for v in StatementVersion::ALL {
            assert_eq!(
                StatementVersion::from_statement_id(v.statement_id()),
                Some(v)
            );
        }
        assert_eq!(StatementVersion::CURRENT.statement_id(), STATEMENT_ID);
        assert_eq!(
            StatementVersion::from_statement_id("delivered-within/v3"),
            None
        );
    }

    #[test]
    fn the_event_secret_changes_the_leaf() {
        let e = default_example();
        let h = e.statement.ciphertext_hash;
        let a = e.witness.receipt_key.point();
        let t = e.witness.delivered_at;
        let l = delivered_leaf(&h, a, t, &Fr::from(1u64));
        assert_ne!(l, delivered_leaf(&h, a, t, &Fr::from(2u64)));
        assert_ne!(l, delivered_leaf_v1(&h, a, t));
    }

    #[test]
    fn public_inputs_order() {
        let e = default_example();
        let pi = e.statement.public_inputs();
        let (hi, lo) = e.statement.ciphertext_hash.halves();
        assert_eq!(
            pi,
            [
                hi,
                lo,
                Fr::from(e.statement.not_before),
                Fr::from(e.statement.not_after),
                e.statement.recipient_commitment,
                e.statement.log_root
            ]
        );
    }
}

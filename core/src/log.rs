//! The delivery log as a library, apart from the service that runs it: events and their leaves,
//! and the three states of an entry (sequenced, integrated, published). No I/O, no clock: the
//! caller persists what it must and passes times in.
//!
//! - **sequenced**: the writer accepted the event and gave it the next index (the service
//!   acknowledges an event only once it is durably stored in this state);
//! - **integrated**: the leaf is in the tree, so it has an inclusion proof against the current
//!   root;
//! - **published**: a signed checkpoint covers it.
//!
//! Leaves (v2, hiding): a *submitted* event is
//! `Poseidon(tag_submitted, H_hi, H_lo, id(sender), id(routing), e)` and a *delivered* event is
//! `Poseidon(tag_delivered, H_hi, H_lo, A.x, A.y, t, e)` ([`crate::statement::delivered_leaf`]),
//! where `e` is a per-event secret the caller draws uniformly from F_p with a CSPRNG, keeps
//! private and gives only to the prover. Without `e`, anyone holding H could recompute a leaf
//! from guesses of the sender, the recipient's key and t (SPEC §5.7). Sender and routing
//! identifiers enter as [`id_to_field`]: the first 31 bytes of their SHA-256.

use sha2::{Digest, Sha256};

use crate::eddsa::{EddsaError, PublicKey, Signature};
use crate::field::fr_to_be_bytes;
use crate::merkle::{ConsistencyProof, InclusionProof, MerkleError, MerkleTree};
use crate::statement::{delivered_leaf, receipt_message, CiphertextHash};
use crate::{poseidon, tags, Fr};
use letro_log::checkpoint::{poseidon_root_extension, Checkpoint};
use letro_log::rfc6962;
use letro_log::state::{LogState, StateError};
use letro_log::tiles::{self, TileError, TileKind, TilePath};

/// An identifier (sender account, recipient routing id) as a field element: the first 31 bytes
/// of SHA-256 of its UTF-8 bytes, read big-endian (below 2^248, so below the modulus).
pub fn id_to_field(id: &str) -> Fr {
    let h = Sha256::digest(id.as_bytes());
    <Fr as ark_ff::PrimeField>::from_be_bytes_mod_order(h.get(..31).unwrap_or(&[]))
}

/// `Poseidon(tag_submitted_v2, H_hi, H_lo, id(sender), id(routing), e)`, the hiding submitted
/// leaf, with the per-event secret `e`.
pub fn submitted_leaf(h: &CiphertextHash, sender: &str, routing: &str, event_secret: &Fr) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::SUBMITTED),
        hi,
        lo,
        id_to_field(sender),
        id_to_field(routing),
        *event_secret,
    ])
}

/// `Poseidon(tag_submitted_v1, H_hi, H_lo, id(sender), id(routing))`, the v1 leaf. NOT hiding:
/// kept for reference and to demonstrate the linking attack in tests.
pub fn submitted_leaf_v1(h: &CiphertextHash, sender: &str, routing: &str) -> Fr {
    let (hi, lo) = h.halves();
    poseidon::hash([
        tags::tag(tags::SUBMITTED_V1),
        hi,
        lo,
        id_to_field(sender),
        id_to_field(routing),
    ])
}

/// A log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The relay accepted ciphertext `H` from `sender` for `routing`.
    Submitted {
        /// `H`.
        ciphertext_hash: CiphertextHash,
        /// The sender's account id.
        sender: String,
        /// The recipient's routing id.
        routing: String,
        /// The per-event secret `e` (never logged or published).
        event_secret: Fr,
    },
    /// The recipient's device acknowledged `H` at `t` with a signed receipt.
    Delivered {
        /// `H`.
        ciphertext_hash: CiphertextHash,
        /// The receipt key `A`.
        receipt_key: PublicKey,
        /// `t`, Unix seconds, as signed.
        delivered_at: u64,
        /// The per-event secret `e` (never logged or published; the prover needs it).
        event_secret: Fr,
    },
}

impl Event {
    /// The event's leaf.
    pub fn leaf(&self) -> Fr {
        match self {
            Self::Submitted {
                ciphertext_hash,
                sender,
                routing,
                event_secret,
            } => submitted_leaf(ciphertext_hash, sender, routing, event_secret),
            Self::Delivered {
                ciphertext_hash,
                receipt_key,
                delivered_at,
                event_secret,
            } => delivered_leaf(
                ciphertext_hash,
                receipt_key.point(),
                *delivered_at,
                event_secret,
            ),
        }
    }
}

/// Why a delivery receipt is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The receipt key is outside the prime-order subgroup (receipt keys are `(s >> 3)·Base8`).
    #[error("the receipt key is not in the prime-order subgroup")]
    KeyNotInSubgroup,
    /// The signature does not verify on `Poseidon(tag_receipt, H_hi, H_lo, t)`.
    #[error("the receipt signature does not verify: {0}")]
    Signature(#[from] EddsaError),
    /// `t` is further from the relay's clock than the allowed skew.
    #[error("the receipt time {t} is more than {max_skew} s from the relay's clock {now}")]
    Skew {
        /// The signed time.
        t: u64,
        /// The relay's clock.
        now: u64,
        /// The allowed skew.
        max_skew: u64,
    },
}

/// Checks a delivery receipt as the relay must before logging it, and returns its event with
/// the caller's fresh per-event secret.
///
/// This checks the receipt itself. The relay MUST also check, before logging, that H was
/// submitted and that the key is certified by the account the submission was routed to
/// (SPEC §5.6); those need the relay's records.
pub fn check_receipt(
    h: &CiphertextHash,
    delivered_at: u64,
    receipt_key: &PublicKey,
    signature: &Signature,
    now: u64,
    max_skew: u64,
    event_secret: Fr,
) -> Result<Event, ReceiptError> {
    if !crate::eddsa::in_prime_subgroup(receipt_key.point()) {
        return Err(ReceiptError::KeyNotInSubgroup);
    }
    receipt_key.verify(&receipt_message(h, delivered_at), signature)?;
    if delivered_at.abs_diff(now) > max_skew {
        return Err(ReceiptError::Skew {
            t: delivered_at,
            now,
            max_skew,
        });
    }
    Ok(Event::Delivered {
        ciphertext_hash: *h,
        receipt_key: *receipt_key,
        delivered_at,
        event_secret,
    })
}

/// Why the delivery log refused a move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A move between states that the state rules refuse (letro-log's [`StateError`]).
    #[error(transparent)]
    State(#[from] StateError),
    /// A Poseidon-tree operation failed.
    #[error(transparent)]
    Tree(#[from] MerkleError),
    /// An RFC 6962 tree operation failed.
    #[error(transparent)]
    Rfc6962(#[from] rfc6962::ProofError),
}

/// The delivery log: its entries' states (letro-log's [`LogState`]) and the two trees over the
/// same entries, the Poseidon tree the circuit proves against and the RFC 6962 tree whose
/// entries are the leaves' 32 big-endian bytes.
#[derive(Debug, Clone)]
pub struct DeliveryLog {
    state: LogState<Fr>,
    tree: MerkleTree,
    rfc6962: rfc6962::Tree,
}

impl Default for DeliveryLog {
    fn default() -> Self {
        Self::new()
    }
}

impl DeliveryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            state: LogState::new(crate::merkle::CAPACITY),
            tree: MerkleTree::new(),
            rfc6962: rfc6962::Tree::new(),
        }
    }

    /// A log restored from stored leaves (all integrated) and the size of the last published
    /// checkpoint.
    pub fn restore(leaves: &[Fr], published: u64) -> Result<Self, LogError> {
        let state = LogState::restore(leaves.len() as u64, published, crate::merkle::CAPACITY)?;
        let mut tree = MerkleTree::new();
        tree.extend(leaves)?;
        let mut sha = rfc6962::Tree::new();
        for leaf in leaves {
            sha.push(&fr_to_be_bytes(leaf));
        }
        Ok(Self {
            state,
            tree,
            rfc6962: sha,
        })
    }

    /// Sequences a leaf: it gets the next index, returned.
    pub fn sequence(&mut self, leaf: Fr) -> Result<u64, LogError> {
        Ok(self.state.sequence(leaf)?)
    }

    /// Integrates every sequenced leaf into both trees; returns the new size and Poseidon root.
    pub fn integrate(&mut self) -> Result<(u64, Fr), LogError> {
        let pending = self.state.pending();
        self.tree.extend(pending)?;
        for leaf in pending {
            self.rfc6962.push(&fr_to_be_bytes(leaf));
        }
        self.state.integrated(pending.len())?;
        Ok((self.tree.len(), self.tree.root()))
    }

    /// Number of sequenced entries (integrated or not).
    pub fn sequenced_size(&self) -> u64 {
        self.state.sequenced_size()
    }

    /// Number of integrated entries.
    pub fn integrated_size(&self) -> u64 {
        self.state.integrated_size()
    }

    /// Number of entries covered by the last published checkpoint.
    pub fn published_size(&self) -> u64 {
        self.state.published_size()
    }

    /// The checkpoint body of the integrated tree, to be signed and published: line 3 is the
    /// RFC 6962 root of the entries, and the `poseidon-root` line the Poseidon root of the same
    /// entries (SPEC §6.3).
    pub fn checkpoint(&self, origin: &str, time: u64) -> Checkpoint {
        Checkpoint {
            origin: origin.to_string(),
            size: self.tree.len(),
            root: self.rfc6962.root(),
            time,
            extensions: vec![poseidon_root_extension(&fr_to_be_bytes(&self.tree.root()))],
        }
    }

    /// Records that a checkpoint of `size` entries was published.
    pub fn mark_published(&mut self, size: u64) -> Result<(), LogError> {
        Ok(self.state.mark_published(size)?)
    }

    /// The leaf at `index`, once integrated.
    pub fn leaf(&self, index: u32) -> Result<Fr, MerkleError> {
        self.tree.leaf(index)
    }

    /// Inclusion proof of entry `index` in the Poseidon tree of `size` entries.
    pub fn inclusion_proof(&self, index: u32, size: u64) -> Result<InclusionProof, MerkleError> {
        self.tree.proof_at(index, size)
    }

    /// Consistency proof between two sizes of the Poseidon tree.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, MerkleError> {
        self.tree.consistency_proof_between(old_size, new_size)
    }

    /// Poseidon root at `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Fr, MerkleError> {
        self.tree.root_at(size)
    }

    /// The RFC 6962 tree over the same entries (each the leaf's 32 big-endian bytes).
    pub fn rfc6962(&self) -> &rfc6962::Tree {
        &self.rfc6962
    }

    /// The C2SP tlog-tiles file `path` (a hash tile, or an entry bundle of the leaves' 32-byte
    /// big-endian encodings) of the tree of the first `size` integrated entries.
    pub fn tile(&self, path: &TilePath, size: u64) -> Result<Vec<u8>, TileError> {
        if size > self.integrated_size() || !path.in_tree(size) {
            return Err(TileError::NotInTree {
                path: path.to_string(),
                size,
            });
        }
        match path.kind {
            TileKind::Hashes(_) => tiles::hash_tile(&self.rfc6962, path, size),
            TileKind::Entries => {
                let start = path.index.saturating_mul(tiles::TILE_WIDTH);
                let entries = (start..start + u64::from(path.width))
                    .map(|i| {
                        u32::try_from(i)
                            .ok()
                            .and_then(|i| self.tree.leaf(i).ok())
                            .map(|leaf| fr_to_be_bytes(&leaf))
                            .ok_or_else(|| TileError::NotInTree {
                                path: path.to_string(),
                                size,
                            })
                    })
                    .collect::<Result<Vec<[u8; 32]>, TileError>>()?;
                tiles::entry_bundle(&entries)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::PrivateKey;

    #[test]
    fn states_move_in_order() {
        let mut log = DeliveryLog::new();
        let h = CiphertextHash::of(b"x");
        for i in 0..5 {
            assert_eq!(
                log.sequence(submitted_leaf(
                    &h,
                    "bank",
                    &format!("r{i}"),
                    &Fr::from(i + 100)
                )),
                Ok(i)
            );
        }
        assert_eq!(
            (
                log.sequenced_size(),
                log.integrated_size(),
                log.published_size()
            ),
            (5, 0, 0)
        );
        let (size, root) = log.integrate().unwrap();
        assert_eq!((size, log.integrated_size()), (5, 5));
        let cp = log.checkpoint("example.invalid/log", 1_700_000_000);
        assert_eq!((cp.size, cp.poseidon_root()), (5, fr_to_be_bytes(&root)));
        assert_eq!(cp.rfc6962_root(), Some(log.rfc6962().root()));
        assert_ne!(cp.root, cp.poseidon_root());
        log.mark_published(5).unwrap();
        assert_eq!(log.published_size(), 5);
        assert!(log.mark_published(4).is_err());
        assert!(log.mark_published(6).is_err());
        let p = log.inclusion_proof(3, 5).unwrap();
        assert_eq!(p.verify(log.leaf(3).unwrap(), root), Ok(()));
        let restored =
            DeliveryLog::restore(&(0..5).map(|i| log.leaf(i).unwrap()).collect::<Vec<_>>(), 5)
                .unwrap();
        assert_eq!(restored.root_at(5).unwrap(), root);
        assert_eq!(restored.rfc6962(), log.rfc6962());
    }

    #[test]
    fn the_rfc6962_tree_has_the_same_entries() {
        let mut log = DeliveryLog::new();
        let leaves: Vec<Fr> = (0..9u64).map(|i| Fr::from(i * 1000 + 1)).collect();
        for l in &leaves[..4] {
            log.sequence(*l).unwrap();
        }
        log.integrate().unwrap();
        // Sequenced but not integrated: in neither tree.
        for l in &leaves[4..] {
            log.sequence(*l).unwrap();
        }
        assert_eq!((log.rfc6962().len(), log.integrated_size()), (4, 4));
        log.integrate().unwrap();
        let t = log.rfc6962();
        assert_eq!(t.len(), 9);
        let root = t.root();
        for (i, l) in leaves.iter().enumerate() {
            let proof = t.inclusion_proof(i as u64, 9).unwrap();
            let entry = rfc6962::leaf_hash(&fr_to_be_bytes(l));
            assert_eq!(
                rfc6962::verify_inclusion(i as u64, 9, &entry, &proof, &root),
                Ok(())
            );
            assert_eq!(log.leaf(i as u32), Ok(*l));
        }
        let p = t.consistency_proof(4, 9).unwrap();
        let old = t.root_at(4).unwrap();
        assert_eq!(rfc6962::verify_consistency(4, 9, &old, &root, &p), Ok(()));
        assert!(matches!(log.mark_published(10), Err(LogError::State(_))));
    }

    #[test]
    fn receipts_are_checked() {
        let sk = PrivateKey::from_bytes([5u8; 32]);
        let pk = sk.public_key();
        let h = CiphertextHash::of(b"ciphertext");
        let t = 1_764_000_000;
        let sig = sk.sign(&receipt_message(&h, t));
        let secret = Fr::from(77u64);
        let e = check_receipt(&h, t, &pk, &sig, t + 30, 300, secret).unwrap();
        assert_eq!(e.leaf(), delivered_leaf(&h, pk.point(), t, &secret));
        assert!(matches!(
            check_receipt(&h, t, &pk, &sig, t + 301, 300, secret),
            Err(ReceiptError::Skew { .. })
        ));
        assert!(matches!(
            check_receipt(&h, t + 1, &pk, &sig, t, 300, secret),
            Err(ReceiptError::Signature(_))
        ));
        let other = CiphertextHash::of(b"other");
        assert!(matches!(
            check_receipt(&other, t, &pk, &sig, t, 300, secret),
            Err(ReceiptError::Signature(_))
        ));
        // A + T (a torsion point of order 2) verifies under circomlib's rule, but is refused here.
        let t2 = crate::babyjubjub::Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64));
        let twisted = PublicKey::from_point((*pk.point() + t2).into()).unwrap();
        assert_eq!(
            check_receipt(&h, t, &twisted, &sig, t, 300, secret),
            Err(ReceiptError::KeyNotInSubgroup)
        );
    }

    #[test]
    fn leaves_of_the_two_kinds_differ() {
        let h = CiphertextHash::of(b"x");
        let pk = PrivateKey::from_bytes([1u8; 32]).public_key();
        let a = Event::Submitted {
            ciphertext_hash: h,
            sender: "s".into(),
            routing: "r".into(),
            event_secret: Fr::from(1u64),
        }
        .leaf();
        let b = Event::Delivered {
            ciphertext_hash: h,
            receipt_key: pk,
            delivered_at: 0,
            event_secret: Fr::from(1u64),
        }
        .leaf();
        assert_ne!(a, b);
        let e = Fr::from(9u64);
        assert_ne!(
            submitted_leaf(&h, "s", "r", &e),
            submitted_leaf(&h, "r", "s", &e)
        );
        assert_ne!(
            submitted_leaf(&h, "s", "r", &e),
            submitted_leaf(&h, "s", "r", &Fr::from(10u64))
        );
        assert_ne!(
            submitted_leaf(&h, "s", "r", &e),
            submitted_leaf_v1(&h, "s", "r")
        );
    }
}

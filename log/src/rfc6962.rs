//! RFC 6962 (RFC 9162 §2.1) Merkle trees over SHA-256: the tree hash that C2SP
//! tlog-checkpoint, tlog-tiles and tlog-witness assume, its inclusion and consistency proofs,
//! and their verification.
//!
//! - a leaf's hash is `SHA-256(0x00 || entry)`, an interior node's `SHA-256(0x01 || left ||
//!   right)`, the empty tree's `SHA-256("")`;
//! - a tree of `n > 1` entries splits at `k`, the largest power of two below `n`: its hash is
//!   the node hash of the first `k` entries' tree and the rest's;
//! - proofs are lists of hashes, nearest the leaf first, as RFC 9162 §2.1.3.1 (`PATH`) and
//!   §2.1.4.1 (`SUBPROOF`) build them; verification follows §2.1.3.2 and §2.1.4.2.
//!
//! [`Tree`] keeps the hash of every complete, aligned subtree (level `l` holds the subtrees of
//! `2^l` entries), which are also the hashes that tlog-tiles serves: the level-`8L` hashes are
//! the tiles of level `L`. The tree stays in memory; storing it is the caller's.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a tree operation or a proof check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// An index or size beyond the tree (or an old size larger than the new one).
    #[error("{what} {value} is out of range (tree size {size})")]
    OutOfRange {
        /// What was out of range.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The size it was compared with.
        size: u64,
    },
    /// A proof with more or fewer hashes than the sizes call for.
    #[error("the proof has {got} hashes; the sizes call for {want}")]
    WrongLength {
        /// Hashes in the proof.
        got: usize,
        /// Hashes the sizes call for.
        want: usize,
    },
    /// The proof leads to another root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    /// A consistency proof between equal sizes whose roots differ, or from size 0 with a
    /// proof: a fork, or a bad proof.
    #[error("the roots at equal sizes differ")]
    Inconsistent,
}

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// An append-only RFC 6962 tree: every complete, aligned subtree's hash, by level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// `levels[l][i]`: the hash of entries `i·2^l .. (i+1)·2^l`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends an entry, given by its leaf hash ([`leaf_hash`]); returns its index.
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.len();
        let mut node = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                break;
            };
            row.push(node);
            // A completed pair makes the parent.
            if row.len() % 2 == 1 {
                break;
            }
            let (Some(left), Some(right)) = (row.get(row.len() - 2), row.last()) else {
                break;
            };
            node = node_hash(left, right);
            level += 1;
        }
        index
    }

    /// Appends an entry; returns its index.
    pub fn push(&mut self, entry: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(entry))
    }

    /// The hashes of level `level` (subtrees of `2^level` entries), complete subtrees only.
    pub fn level(&self, level: usize) -> &[Hash] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// The hash of entries `lo..hi` (`lo < hi <= len`), per RFC 6962's recursion.
    fn subtree(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo % n == 0 {
            let level = n.trailing_zeros() as usize;
            if let Some(h) = usize::try_from(lo >> level)
                .ok()
                .and_then(|i| self.levels.get(level)?.get(i))
            {
                return *h;
            }
        }
        if n == 1 {
            // Unreachable for lo < len: level 0 holds every leaf.
            return empty_root();
        }
        let k = split(n);
        node_hash(&self.subtree(lo, lo + k), &self.subtree(lo + k, hi))
    }

    /// The root of the tree of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size("size", size)?;
        Ok(if size == 0 {
            empty_root()
        } else {
            self.subtree(0, size)
        })
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.len()).unwrap_or_else(|_| empty_root())
    }

    fn check_size(&self, what: &'static str, value: u64) -> Result<(), ProofError> {
        if value > self.len() {
            return Err(ProofError::OutOfRange {
                what,
                value,
                size: self.len(),
            });
        }
        Ok(())
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (RFC 9162 §2.1.3.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size("size", size)?;
        if index >= size {
            return Err(ProofError::OutOfRange {
                what: "index",
                value: index,
                size,
            });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    /// `PATH(m, D[lo:hi])`, hashes appended leaf first.
    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, lo, lo + k, out);
            out.push(self.subtree(lo + k, hi));
        } else {
            self.path(m - k, lo + k, hi, out);
            out.push(self.subtree(lo, lo + k));
        }
    }

    /// The consistency proof from the tree of `old` entries to the tree of `new` entries
    /// (RFC 9162 §2.1.4.1); empty when `old` is 0 or equal to `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size("new size", new)?;
        if old > new {
            return Err(ProofError::OutOfRange {
                what: "old size",
                value: old,
                size: new,
            });
        }
        let mut proof = Vec::new();
        if old > 0 && old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    /// `SUBPROOF(m, D[lo:hi], b)`.
    fn subproof(&self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push(self.subtree(lo, hi));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, complete, out);
            out.push(self.subtree(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.subtree(lo, lo + k));
        }
    }
}

/// Checks that `leaf` (a [`leaf_hash`]) is entry `index` of the tree of `size` entries with
/// root `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange {
            what: "index",
            value: index,
            size,
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: inclusion_length(index, size),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: inclusion_length(index, size),
        });
    }
    if r == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size` (`index < size`).
fn inclusion_length(index: u64, size: u64) -> usize {
    let (mut f_n, mut s_n, mut len) = (index, size - 1, 0);
    while s_n != 0 {
        // The last node of an incomplete level: skip the levels where it has no sibling.
        if f_n == s_n && f_n & 1 == 0 {
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        }
        f_n >>= 1;
        s_n >>= 1;
        len += 1;
    }
    len
}

/// Checks that the tree of `new` entries with root `new_root` extends the tree of `old`
/// entries with root `old_root` (RFC 9162 §2.1.4.2). Equal sizes need equal roots and an empty
/// proof; size 0 extends to anything with an empty proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange {
            what: "old size",
            value: old,
            size: new,
        });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        if old == new && old_root != new_root {
            return Err(ProofError::Inconsistent);
        }
        if old == 0 && old_root != &empty_root() {
            return Err(ProofError::Inconsistent);
        }
        return Ok(());
    }
    let wrong = || ProofError::WrongLength {
        got: proof.len(),
        want: 0,
    };
    // When old is a power of two, the old root itself starts the path.
    let mut path: &[Hash] = proof;
    let first;
    if old.is_power_of_two() {
        first = *old_root;
    } else {
        let (f, rest) = path.split_first().ok_or_else(wrong)?;
        first = *f;
        path = rest;
    }
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (first, first);
    for c in path {
        if s_n == 0 {
            return Err(wrong());
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(wrong());
    }
    if f_r == *old_root && s_r == *new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(n: u64) -> Tree {
        let mut t = Tree::new();
        for i in 0..n {
            t.push(&i.to_be_bytes());
        }
        t
    }

    /// RFC 6962's definition, recursively over the entries: the reference for [`Tree`].
    fn mth(entries: &[Vec<u8>]) -> Hash {
        match entries.len() {
            0 => empty_root(),
            1 => leaf_hash(&entries[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&entries[..k]), &mth(&entries[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_definition() {
        let t = tree(70);
        let entries: Vec<Vec<u8>> = (0..70u64).map(|i| i.to_be_bytes().to_vec()).collect();
        for n in 0..=70 {
            assert_eq!(t.root_at(n), Ok(mth(&entries[..n as usize])), "size {n}");
        }
        assert!(t.root_at(71).is_err());
        assert_eq!(Tree::new().root(), empty_root());
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_and_no_other() {
        let t = tree(40);
        for n in 1..=40 {
            let root = t.root_at(n).unwrap();
            for i in 0..n {
                let leaf = t.level(0)[i as usize];
                let p = t.inclusion_proof(i, n).unwrap();
                assert_eq!(p.len(), inclusion_length(i, n));
                assert_eq!(verify_inclusion(i, n, &leaf, &p, &root), Ok(()));
                // Another leaf, index, size, root, or a proof a hash shorter or longer fails.
                let other = t.level(0)[((i + 1) % n) as usize];
                if n > 1 {
                    assert!(verify_inclusion(i, n, &other, &p, &root).is_err());
                    assert!(verify_inclusion((i + 1) % n, n, &leaf, &p, &root).is_err());
                    assert!(verify_inclusion(i, n, &leaf, &p[1..], &root).is_err());
                }
                assert!(verify_inclusion(i, n, &leaf, &p, &empty_root()).is_err());
                let mut longer = p.clone();
                longer.push(root);
                assert!(verify_inclusion(i, n, &leaf, &longer, &root).is_err());
                assert!(verify_inclusion(n, n, &leaf, &p, &root).is_err());
            }
            for m in 0..=n {
                let old = t.root_at(m).unwrap();
                let p = t.consistency_proof(m, n).unwrap();
                assert_eq!(
                    verify_consistency(m, n, &old, &root, &p),
                    Ok(()),
                    "{m}->{n}"
                );
                if m > 0 && m < n {
                    let wrong = t.root_at(m - 1).unwrap();
                    assert!(verify_consistency(m, n, &wrong, &root, &p).is_err());
                    assert!(verify_consistency(m, n, &old, &wrong, &p).is_err());
                    assert!(verify_consistency(m, n, &old, &root, &p[1..]).is_err());
                    let mut longer = p.clone();
                    longer.push(root);
                    assert!(verify_consistency(m, n, &old, &root, &longer).is_err());
                    let mut flipped = p.clone();
                    flipped[0][0] ^= 1;
                    assert!(verify_consistency(m, n, &old, &root, &flipped).is_err());
                }
            }
        }
        assert!(t.consistency_proof(5, 41).is_err());
        assert!(t.consistency_proof(6, 5).is_err());
        assert!(t.inclusion_proof(5, 5).is_err());
        assert_eq!(
            verify_consistency(3, 3, &t.root_at(3).unwrap(), &t.root_at(4).unwrap(), &[]),
            Err(ProofError::Inconsistent)
        );
        assert!(
            verify_consistency(0, 3, &t.root_at(1).unwrap(), &t.root_at(3).unwrap(), &[]).is_err()
        );
    }

    #[test]
    fn levels_hold_the_complete_subtrees() {
        let t = tree(1000);
        assert_eq!(t.level(0).len(), 1000);
        assert_eq!(t.level(8).len(), 3);
        assert_eq!(t.level(9).len(), 1);
        assert_eq!(t.level(10).len(), 0);
        assert_eq!(t.level(8)[1], t.subtree(256, 512));
    }
}

//! The delivery log's tree: a quaternary Poseidon Merkle tree of fixed depth 16 (room for
//! 4^16 = 2^32 leaves), empty leaves 0.
//!
//! An internal node is `Poseidon(c0, c1, c2, c3)` of its four children; an empty subtree of
//! height k hashes to `zeros()[k]` (`zeros[0] = 0`, `zeros[k+1] = Poseidon(zeros[k] x 4)`).
//! Leaf `i` sits at position `(i >> 2k) & 3` among its siblings at level `k` (level 0 is the
//! leaves). An inclusion proof lists, for each level from the bottom, the three siblings in
//! ascending position order. Arity 4 costs about 300 constraints a level against 2 x 243 for
//! two binary levels (see `letro_circuits::merkle`).

use std::sync::OnceLock;

use crate::{poseidon, Fr};

/// Children per node.
pub const ARITY: usize = 4;
/// Levels from a leaf to the root.
pub const DEPTH: usize = 16;
/// Number of leaves the tree can hold, 2^32.
pub const CAPACITY: u64 = 1 << 32;

/// Why a tree operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The tree already holds 2^32 leaves.
    #[error("the tree is full")]
    Full,
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// Requested index.
        index: u64,
        /// Current size.
        size: u64,
    },
    /// The path does not lead from the leaf to the expected root.
    #[error("inclusion proof does not lead to the expected root")]
    RootMismatch,
}

/// `Poseidon(c0, c1, c2, c3)`.
pub fn hash_node(children: &[Fr; ARITY]) -> Fr {
    poseidon::hash(*children)
}

/// Roots of empty subtrees by height, `zeros()[0] = 0` to `zeros()[DEPTH]`.
pub fn zeros() -> &'static [Fr; DEPTH + 1] {
    static ZEROS: OnceLock<[Fr; DEPTH + 1]> = OnceLock::new();
    ZEROS.get_or_init(|| {
        let mut z = [Fr::from(0u64); DEPTH + 1];
        let mut prev = Fr::from(0u64);
        for zk in z.iter_mut().skip(1) {
            prev = hash_node(&[prev; ARITY]);
            *zk = prev;
        }
        z
    })
}

/// The root of an empty subtree of height `level` (0 above the top, which no caller asks for).
fn empty(level: usize) -> Fr {
    zeros().get(level).copied().unwrap_or_default()
}

/// The position (0..4) of leaf `index`'s ancestor among its siblings at `level`.
pub fn position(index: u32, level: usize) -> usize {
    ((index >> (2 * level)) & 3) as usize
}

/// The four children of a parent, given one child, its position and its three siblings in
/// ascending position order. Twin of `letro_circuits::merkle::children`.
pub fn children(node: Fr, siblings: &[Fr; 3], pos: usize) -> [Fr; ARITY] {
    let mut out = [Fr::from(0u64); ARITY];
    let mut s = siblings.iter();
    for (j, o) in out.iter_mut().enumerate() {
        *o = if j == pos {
            node
        } else {
            s.next().copied().unwrap_or_default()
        };
    }
    out
}

/// A path from leaf `index` to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf index.
    pub index: u32,
    /// Three siblings per level, from the leaves up.
    pub siblings: [[Fr; 3]; DEPTH],
}

impl InclusionProof {
    /// The root obtained by hashing `leaf` up the path.
    pub fn root(&self, leaf: Fr) -> Fr {
        self.siblings
            .iter()
            .enumerate()
            .fold(leaf, |node, (level, sib)| {
                hash_node(&children(node, sib, position(self.index, level)))
            })
    }

    /// Checks that `leaf` is at `index` in the tree with root `root`.
    pub fn verify(&self, leaf: Fr, root: Fr) -> Result<(), MerkleError> {
        if self.root(leaf) == root {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        }
    }
}

/// An in-memory append-only tree. Stores every non-empty node: about 4/3 field elements per leaf.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    /// `levels[k][j]` is node `j` at height `k`; nodes past the end are empty subtrees.
    levels: Vec<Vec<Fr>>,
}

impl Default for MerkleTree {
    fn default() -> Self {
        Self::new()
    }
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new(); DEPTH + 1],
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn node(&self, level: usize, j: usize) -> Fr {
        self.levels
            .get(level)
            .and_then(|l| l.get(j))
            .copied()
            .unwrap_or_else(|| empty(level))
    }

    /// Appends a leaf and returns its index.
    pub fn append(&mut self, leaf: Fr) -> Result<u32, MerkleError> {
        let index = u32::try_from(self.len()).map_err(|_| MerkleError::Full)?;
        let mut j = index as usize;
        if let Some(l0) = self.levels.first_mut() {
            l0.push(leaf);
        }
        for level in 0..DEPTH {
            let parent = j / ARITY;
            let first = parent * ARITY;
            let kids = [0, 1, 2, 3].map(|c| self.node(level, first + c));
            let h = hash_node(&kids);
            if let Some(up) = self.levels.get_mut(level + 1) {
                match up.get_mut(parent) {
                    Some(slot) => *slot = h,
                    None => up.push(h),
                }
            }
            j = parent;
        }
        Ok(index)
    }

    /// Appends many leaves at once and returns the index of the first. Each affected internal
    /// node is hashed once per call, not once per leaf: about `n/3 + 16` hashes for `n` leaves
    /// instead of `16·n`, which is how a log writer integrates a batch.
    pub fn extend(&mut self, leaves: &[Fr]) -> Result<u32, MerkleError> {
        let first = self.len();
        let end = first + leaves.len() as u64;
        if end > CAPACITY {
            return Err(MerkleError::Full);
        }
        let first_index = u32::try_from(first).map_err(|_| MerkleError::Full)?;
        if leaves.is_empty() {
            return Ok(first_index);
        }
        if let Some(l0) = self.levels.first_mut() {
            l0.extend_from_slice(leaves);
        }
        // Nodes [lo, hi) of each level changed; their parents are [lo/4, (hi-1)/4 + 1).
        let (mut lo, mut hi) = (first as usize, end as usize);
        for level in 0..DEPTH {
            let (plo, phi) = (lo / ARITY, (hi - 1) / ARITY + 1);
            for parent in plo..phi {
                let kids = [0, 1, 2, 3].map(|c| self.node(level, parent * ARITY + c));
                let h = hash_node(&kids);
                if let Some(up) = self.levels.get_mut(level + 1) {
                    match up.get_mut(parent) {
                        Some(slot) => *slot = h,
                        None => up.push(h),
                    }
                }
            }
            (lo, hi) = (plo, phi);
        }
        Ok(first_index)
    }

    /// The root.
    pub fn root(&self) -> Fr {
        self.node(DEPTH, 0)
    }

    /// The leaf at `index`.
    pub fn leaf(&self, index: u32) -> Result<Fr, MerkleError> {
        self.levels
            .first()
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(MerkleError::IndexOutOfRange {
                index: index.into(),
                size: self.len(),
            })
    }

    /// The inclusion proof of leaf `index`.
    pub fn proof(&self, index: u32) -> Result<InclusionProof, MerkleError> {
        self.leaf(index)?;
        let mut siblings = [[Fr::from(0u64); 3]; DEPTH];
        let mut j = index as usize;
        for (level, sib) in siblings.iter_mut().enumerate() {
            let pos = j % ARITY;
            let first = j - pos;
            let others = (0..ARITY)
                .filter(|&c| c != pos)
                .map(|c| self.node(level, first + c));
            for (s, v) in sib.iter_mut().zip(others) {
                *s = v;
            }
            j /= ARITY;
        }
        Ok(InclusionProof { index, siblings })
    }
}

/// Proof that the tree of size `old_size` is a prefix of the tree of size `new_size`: the last
/// leaf of the old tree and its inclusion path in the new tree.
///
/// Every node left of that path covers leaves below `old_size` only, so it is the same in both
/// trees; every node right of it is empty in the old tree. The verifier therefore hashes the
/// leaf up the path twice: with the right-hand siblings replaced by empty subtrees it must reach
/// the old root, and with the siblings as given it must reach the new root. By the collision
/// resistance of Poseidon both roots then commit to the same first `old_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Leaf `old_size - 1` (absent when `old_size` is 0: the empty tree is a prefix of all).
    pub last_old_leaf: Option<Fr>,
    /// Its path in the new tree (index `old_size - 1`).
    pub path: Option<InclusionProof>,
}

/// Why a consistency proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// The old size is larger than the new size, or beyond capacity.
    #[error("old size {old_size} is not at most new size {new_size}")]
    Sizes {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
    },
    /// The proof's shape does not fit the sizes (missing path, wrong index).
    #[error("the proof does not fit the tree sizes")]
    Shape,
    /// The old root is not reproduced.
    #[error("the proof does not lead to the old root")]
    OldRootMismatch,
    /// The new root is not reproduced.
    #[error("the proof does not lead to the new root")]
    NewRootMismatch,
}

impl ConsistencyProof {
    /// Checks that the tree `(old_size, old_root)` is a prefix of `(new_size, new_root)`.
    pub fn verify(
        &self,
        old_size: u64,
        old_root: Fr,
        new_size: u64,
        new_root: Fr,
    ) -> Result<(), ConsistencyError> {
        if old_size > new_size || new_size > CAPACITY {
            return Err(ConsistencyError::Sizes { old_size, new_size });
        }
        let (leaf, path) = match (old_size, self.last_old_leaf, &self.path) {
            (0, None, None) => {
                return if old_root == empty(DEPTH) {
                    Ok(())
                } else {
                    Err(ConsistencyError::OldRootMismatch)
                };
            }
            (_, Some(leaf), Some(path)) if u64::from(path.index) + 1 == old_size => (leaf, path),
            _ => return Err(ConsistencyError::Shape),
        };
        let mut old = leaf;
        let mut new = leaf;
        for (level, sib) in path.siblings.iter().enumerate() {
            let pos = position(path.index, level);
            let mut old_sib = *sib;
            // Siblings right of the path (positions above `pos`) are empty in the old tree.
            for (k, s) in old_sib.iter_mut().enumerate() {
                let sibling_pos = if k < pos { k } else { k + 1 };
                if sibling_pos > pos {
                    *s = empty(level);
                }
            }
            old = hash_node(&children(old, &old_sib, pos));
            new = hash_node(&children(new, sib, pos));
        }
        if old != old_root {
            return Err(ConsistencyError::OldRootMismatch);
        }
        if new != new_root {
            return Err(ConsistencyError::NewRootMismatch);
        }
        Ok(())
    }
}

impl MerkleTree {
    /// The root the tree had when it held its first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Fr, MerkleError> {
        if size > self.len() {
            return Err(MerkleError::IndexOutOfRange {
                index: size,
                size: self.len(),
            });
        }
        if size == self.len() {
            // The whole tree's root is kept; recomputing it would hash every node again.
            return Ok(self.root());
        }
        let mut level: Vec<Fr> = self
            .levels
            .first()
            .map(|l| l.iter().take(size as usize).copied().collect())
            .unwrap_or_default();
        for k in 0..DEPTH {
            level = level
                .chunks(ARITY)
                .map(|c| {
                    let mut kids = [empty(k); ARITY];
                    for (d, s) in kids.iter_mut().zip(c) {
                        *d = *s;
                    }
                    hash_node(&kids)
                })
                .collect();
        }
        Ok(level.first().copied().unwrap_or_else(|| empty(DEPTH)))
    }

    /// Node `j` of `level` as it was when the tree held its first `size` leaves.
    fn node_at(&self, level: usize, j: usize, size: u64) -> Fr {
        let span = 1u64 << (2 * level);
        let start = j as u64 * span;
        if start >= size {
            return empty(level);
        }
        if start + span <= size || level == 0 {
            return self.node(level, j);
        }
        let kids = [0, 1, 2, 3].map(|c| self.node_at(level - 1, j * ARITY + c, size));
        hash_node(&kids)
    }

    /// The inclusion proof of leaf `index` in the tree as it was at `size` leaves (for a proof
    /// against an older published checkpoint).
    pub fn proof_at(&self, index: u32, size: u64) -> Result<InclusionProof, MerkleError> {
        if size > self.len() || u64::from(index) >= size {
            return Err(MerkleError::IndexOutOfRange {
                index: index.into(),
                size: size.min(self.len()),
            });
        }
        let mut siblings = [[Fr::from(0u64); 3]; DEPTH];
        let mut j = index as usize;
        for (level, sib) in siblings.iter_mut().enumerate() {
            let pos = j % ARITY;
            let first = j - pos;
            let others = (0..ARITY)
                .filter(|&c| c != pos)
                .map(|c| self.node_at(level, first + c, size));
            for (s, v) in sib.iter_mut().zip(others) {
                *s = v;
            }
            j /= ARITY;
        }
        Ok(InclusionProof { index, siblings })
    }

    /// Proof that the tree at `old_size` is a prefix of the tree at `new_size`.
    pub fn consistency_proof_between(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, MerkleError> {
        if old_size > new_size || new_size > self.len() {
            return Err(MerkleError::IndexOutOfRange {
                index: old_size,
                size: new_size.min(self.len()),
            });
        }
        if old_size == 0 {
            return Ok(ConsistencyProof {
                last_old_leaf: None,
                path: None,
            });
        }
        let index = u32::try_from(old_size - 1).map_err(|_| MerkleError::Full)?;
        Ok(ConsistencyProof {
            last_old_leaf: Some(self.leaf(index)?),
            path: Some(self.proof_at(index, new_size)?),
        })
    }

    /// Proof that the tree at `old_size` is a prefix of the current tree.
    pub fn consistency_proof(&self, old_size: u64) -> Result<ConsistencyProof, MerkleError> {
        if old_size > self.len() {
            return Err(MerkleError::IndexOutOfRange {
                index: old_size,
                size: self.len(),
            });
        }
        if old_size == 0 {
            return Ok(ConsistencyProof {
                last_old_leaf: None,
                path: None,
            });
        }
        let index = u32::try_from(old_size - 1).map_err(|_| MerkleError::Full)?;
        Ok(ConsistencyProof {
            last_old_leaf: Some(self.leaf(index)?),
            path: Some(self.proof(index)?),
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_root_is_top_zero() {
        assert_eq!(MerkleTree::new().root(), zeros()[DEPTH]);
    }

    #[test]
    fn proofs_verify_and_wrong_ones_fail() {
        let mut t = MerkleTree::new();
        for i in 0..70u64 {
            assert_eq!(t.append(Fr::from(i + 1000)), Ok(i as u32));
        }
        let root = t.root();
        for i in [0u32, 1, 5, 16, 63, 69] {
            let p = t.proof(i).map_err(|e| e.to_string());
            let Ok(p) = p else { panic!("proof for {i}") };
            assert_eq!(p.verify(Fr::from(u64::from(i) + 1000), root), Ok(()));
            assert_eq!(
                p.verify(Fr::from(1u64), root),
                Err(MerkleError::RootMismatch)
            );
            let mut wrong = p.clone();
            wrong.index ^= 1;
            assert_eq!(
                wrong.verify(Fr::from(u64::from(i) + 1000), root),
                Err(MerkleError::RootMismatch)
            );
        }
        assert!(t.proof(70).is_err());
    }

    #[test]
    fn incremental_root_matches_recomputation() {
        let mut t = MerkleTree::new();
        for i in 0..20u64 {
            t.append(Fr::from(i)).ok();
        }
        // Recompute level by level from the leaves.
        let mut level: Vec<Fr> = (0..20u64).map(Fr::from).collect();
        for k in 0..DEPTH {
            let mut next = Vec::new();
            for chunk in level.chunks(ARITY) {
                let mut kids = [zeros()[k]; ARITY];
                kids[..chunk.len()].copy_from_slice(chunk);
                next.push(hash_node(&kids));
            }
            level = next;
        }
        assert_eq!(level, vec![t.root()]);
    }

    #[test]
    fn consistency_between_every_pair_of_small_sizes() {
        let mut t = MerkleTree::new();
        for i in 0..21u64 {
            t.append(Fr::from(i * 7 + 1)).unwrap();
        }
        let roots: Vec<Fr> = (0..=21).map(|s| t.root_at(s).unwrap()).collect();
        assert_eq!(roots[21], t.root());
        // The whole tree's root (kept) is the one recomputed from its first 21 leaves in a
        // larger tree.
        let mut larger = t.clone();
        for i in 21..30u64 {
            larger.append(Fr::from(i * 7 + 1)).unwrap();
        }
        for s in 0..=21u64 {
            assert_eq!(larger.root_at(s).unwrap(), roots[s as usize], "size {s}");
        }
        for old in 0..=21u64 {
            let proof = t.consistency_proof(old).unwrap();
            assert_eq!(
                proof.verify(old, roots[old as usize], 21, t.root()),
                Ok(()),
                "old {old}"
            );
            if old > 0 {
                // Another old root, another new root, another old size: all refused.
                assert!(proof
                    .verify(old, roots[old as usize] + Fr::from(1u64), 21, t.root())
                    .is_err());
                assert!(proof
                    .verify(old, roots[old as usize], 21, t.root() + Fr::from(1u64))
                    .is_err());
                assert!(proof
                    .verify(old - 1, roots[old as usize - 1], 21, t.root())
                    .is_err());
                // A forked history: same size, one leaf changed, does not verify.
                let mut fork = MerkleTree::new();
                for i in 0..old {
                    fork.append(Fr::from(if i == 0 { 999 } else { i * 7 + 1 }))
                        .unwrap();
                }
                assert_eq!(
                    proof.verify(old, fork.root(), 21, t.root()),
                    Err(ConsistencyError::OldRootMismatch)
                );
            }
        }
        assert!(t.consistency_proof(22).is_err());
        let p = t.consistency_proof(5).unwrap();
        assert_eq!(
            p.verify(5, roots[5], 4, roots[4]),
            Err(ConsistencyError::Sizes {
                old_size: 5,
                new_size: 4
            })
        );
    }

    #[test]
    fn extend_equals_appending_one_by_one() {
        let mut one = MerkleTree::new();
        let mut batch = MerkleTree::new();
        let mut next = 0u64;
        for size in [1usize, 3, 4, 5, 16, 17, 63, 1, 0, 100] {
            let leaves: Vec<Fr> = (0..size).map(|i| Fr::from(next + i as u64 + 11)).collect();
            next += size as u64;
            for l in &leaves {
                one.append(*l).unwrap();
            }
            assert_eq!(
                batch.extend(&leaves).unwrap() as u64,
                batch.len() - size as u64
            );
            assert_eq!(batch.root(), one.root(), "after a batch of {size}");
            assert_eq!(batch.len(), one.len());
        }
        assert_eq!(batch.proof(150).unwrap(), one.proof(150).unwrap());
    }

    #[test]
    fn proofs_at_older_sizes() {
        let mut t = MerkleTree::new();
        let leaves: Vec<Fr> = (0..70u64).map(|i| Fr::from(i + 5)).collect();
        t.extend(&leaves).unwrap();
        for size in [1u64, 2, 5, 16, 17, 64, 69, 70] {
            let root = t.root_at(size).unwrap();
            for index in [0u32, (size as u32 - 1) / 2, size as u32 - 1] {
                let p = t.proof_at(index, size).unwrap();
                assert_eq!(
                    p.verify(leaves[index as usize], root),
                    Ok(()),
                    "index {index} size {size}"
                );
            }
            for new in [size, 70] {
                let c = t.consistency_proof_between(size, new).unwrap();
                assert_eq!(c.verify(size, root, new, t.root_at(new).unwrap()), Ok(()));
            }
        }
        assert!(t.proof_at(5, 5).is_err());
        assert!(t.proof_at(0, 71).is_err());
        assert!(t.consistency_proof_between(6, 5).is_err());
    }
}

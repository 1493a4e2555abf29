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
}

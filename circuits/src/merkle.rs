//! In-circuit path check for the quaternary Poseidon tree; twin of
//! `letro_core::merkle::InclusionProof::root`.
//!
//! The circuit receives each level's three siblings in the order
//! `[same pair, other pair first, other pair second]` (see [`circuit_siblings`]), which lets the
//! four children be placed with three selections: the two index bits `b0, b1` of the level
//! first order the node within its pair, then the pairs. Cost per level: 3 + Poseidon(4) with a constant capacity = 3 + 297 = 300.

use letro_core::merkle::{ARITY, DEPTH};

use crate::poseidon::poseidon;
use crate::{Boolean, FpVar, SynthesisError, F};

fn select(b: &Boolean, t: &FpVar, f: &FpVar) -> FpVar {
    f + FpVar::from(b.clone()) * (t - f)
}

/// Reorders one level's siblings from the proof's ascending position order into the circuit's
/// order, given the node's position `pos` (0..4).
pub fn circuit_siblings(ascending: &[F; 3], pos: usize) -> [F; 3] {
    let kids = letro_core::merkle::children(F::from(0u64), ascending, pos % ARITY);
    let at = |i: usize| kids.get(i).copied().unwrap_or_default();
    let other = (pos & 2) ^ 2;
    [at(pos ^ 1), at(other), at(other + 1)]
}

/// The four children of a node's parent, placed by the level's index bits.
pub fn children(node: &FpVar, sib: &[FpVar; 3], b0: &Boolean, b1: &Boolean) -> [FpVar; 4] {
    let [s_pair, s_other0, s_other1] = sib;
    let pair0 = select(b0, s_pair, node);
    let pair1 = node + s_pair - &pair0;
    let c0 = select(b1, s_other0, &pair0);
    let c2 = &pair0 + s_other0 - &c0;
    let c1 = select(b1, s_other1, &pair1);
    let c3 = &pair1 + s_other1 - &c1;
    [c0, c1, c2, c3]
}

/// The root reached from `leaf` with the index's 32 little-endian bits and the siblings in
/// circuit order.
pub fn root(
    leaf: &FpVar,
    index_bits: &[Boolean],
    siblings: &[[FpVar; 3]],
) -> Result<FpVar, SynthesisError> {
    if index_bits.len() != 2 * DEPTH || siblings.len() != DEPTH {
        return Err(SynthesisError::Unsatisfiable);
    }
    let mut node = leaf.clone();
    for (bits, sib) in index_bits.chunks(2).zip(siblings) {
        let (Some(b0), Some(b1)) = (bits.first(), bits.get(1)) else {
            return Err(SynthesisError::Unsatisfiable);
        };
        node = poseidon(&children(&node, sib, b0, b1))?;
    }
    Ok(node)
}

//! Poseidon over BN254 with circomlib's parameters (x^5 S-box, 8 full rounds, circomlib's
//! partial-round counts, its round constants and MDS matrices).
//!
//! The parameters come from the `light-poseidon` crate, which generated them with the Poseidon
//! reference script exactly as circomlib did; the permutation is written out here because the
//! in-circuit twin (`letro_circuits::poseidon`) must follow the same steps, and known-answer
//! vectors made by circomlibjs (testdata/vectors/poseidon.json) pin both.

use std::sync::OnceLock;

use ark_ff::Field;

use crate::Fr;

/// The largest number of inputs supported (circomlib's Poseidon goes to 16; we use at most 6).
pub const MAX_ARITY: usize = 12;

/// Why a Poseidon hash could not be computed. Only reachable through a caller's bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoseidonError {
    /// The number of inputs is zero or larger than [`MAX_ARITY`].
    #[error("poseidon takes 1 to {MAX_ARITY} inputs, got {0}")]
    Arity(usize),
    /// The parameter source failed for this width.
    #[error("poseidon parameters unavailable for width {0}")]
    Parameters(usize),
}

/// Poseidon parameters for one width (number of inputs + 1).
#[derive(Debug)]
pub struct PoseidonParams {
    /// State width `t`.
    pub width: usize,
    /// Number of full rounds (half before, half after the partial rounds).
    pub full_rounds: usize,
    /// Number of partial rounds.
    pub partial_rounds: usize,
    /// Round constants, `width` per round, in round order.
    pub ark: Vec<Fr>,
    /// The `width x width` MDS matrix; the new state is `state'[i] = sum_j mds[i][j] * state[j]`.
    pub mds: Vec<Vec<Fr>>,
}

impl PoseidonParams {
    /// Round constants of round `r`.
    pub fn round_constants(&self, r: usize) -> &[Fr] {
        self.ark
            .get(r * self.width..(r + 1) * self.width)
            .unwrap_or(&[])
    }

    /// Whether round `r` is a full round.
    pub fn is_full_round(&self, r: usize) -> bool {
        let half = self.full_rounds / 2;
        r < half || r >= half + self.partial_rounds
    }

    /// Total number of rounds.
    pub fn rounds(&self) -> usize {
        self.full_rounds + self.partial_rounds
    }
}

static PARAMS: [OnceLock<Option<PoseidonParams>>; MAX_ARITY] =
    [const { OnceLock::new() }; MAX_ARITY];

/// The cached parameters for `arity` inputs.
pub fn params(arity: usize) -> Result<&'static PoseidonParams, PoseidonError> {
    if arity == 0 || arity > MAX_ARITY {
        return Err(PoseidonError::Arity(arity));
    }
    let width = arity + 1;
    let slot = PARAMS.get(arity - 1).ok_or(PoseidonError::Arity(arity))?;
    slot.get_or_init(|| {
        let w = u8::try_from(width).ok()?;
        let p = light_poseidon::parameters::bn254_x5::get_poseidon_parameters::<Fr>(w).ok()?;
        let ok = p.width == width
            && p.alpha == 5
            && p.ark.len() == width * (p.full_rounds + p.partial_rounds)
            && p.mds.len() == width
            && p.mds.iter().all(|row| row.len() == width);
        ok.then_some(PoseidonParams {
            width,
            full_rounds: p.full_rounds,
            partial_rounds: p.partial_rounds,
            ark: p.ark,
            mds: p.mds,
        })
    })
    .as_ref()
    .ok_or(PoseidonError::Parameters(width))
}

fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// The Poseidon permutation on a full state (`state.len() == p.width`).
pub fn permute(p: &PoseidonParams, state: &mut [Fr]) {
    let mut next = vec![Fr::from(0u64); state.len()];
    for r in 0..p.rounds() {
        for (s, c) in state.iter_mut().zip(p.round_constants(r)) {
            *s += c;
        }
        if p.is_full_round(r) {
            state.iter_mut().for_each(|s| *s = sbox(*s));
        } else if let Some(s0) = state.first_mut() {
            *s0 = sbox(*s0);
        }
        for (n, row) in next.iter_mut().zip(&p.mds) {
            *n = row.iter().zip(state.iter()).map(|(m, s)| *m * s).sum();
        }
        state.copy_from_slice(&next);
    }
}

/// circomlib's `Poseidon(n)`: the first element of the permuted state `[0, inputs...]`.
pub fn poseidon(inputs: &[Fr]) -> Result<Fr, PoseidonError> {
    let p = params(inputs.len())?;
    let mut state = Vec::with_capacity(p.width);
    state.push(Fr::from(0u64));
    state.extend_from_slice(inputs);
    permute(p, &mut state);
    state
        .first()
        .copied()
        .ok_or(PoseidonError::Arity(inputs.len()))
}

/// Poseidon of a fixed-size input; the arity is checked at compile time's call sites we use
/// (1 to [`MAX_ARITY`]), so this cannot fail.
pub fn hash<const N: usize>(inputs: [Fr; N]) -> Fr {
    const { assert!(N >= 1 && N <= MAX_ARITY) };
    match poseidon(&inputs) {
        Ok(h) => h,
        // Unreachable: N is in range and parameters exist for every width up to 13.
        Err(e) => unreachable!("poseidon parameters for arity {N}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use light_poseidon::{Poseidon, PoseidonHasher};

    #[test]
    fn agrees_with_light_poseidon() {
        for arity in 1..=6usize {
            let inputs: Vec<Fr> = (0..arity).map(|i| Fr::from(i as u64 * 7 + 3)).collect();
            let mut reference = Poseidon::<Fr>::new_circom(arity).map_err(|e| e.to_string());
            let expected = reference
                .as_mut()
                .map(|h| h.hash(&inputs).map_err(|e| e.to_string()));
            assert_eq!(Ok(Ok(poseidon(&inputs))), expected.map(|r| r.map(Ok)));
        }
    }

    #[test]
    fn circomlib_known_answer() {
        // circomlib's poseidon([1, 2]), the value in circomlib's own test suite.
        let h = hash([Fr::from(1u64), Fr::from(2u64)]);
        assert_eq!(
            crate::field::fr_to_decimal(&h),
            "7853200120776062878684798364095072458815029376092732009249414926327459813530"
        );
    }

    #[test]
    fn arity_out_of_range_is_an_error() {
        assert_eq!(poseidon(&[]), Err(PoseidonError::Arity(0)));
        assert_eq!(
            poseidon(&[Fr::from(0u64); 13]),
            Err(PoseidonError::Arity(13))
        );
    }
}

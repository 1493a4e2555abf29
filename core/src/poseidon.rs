//! Poseidon over BN254 with circomlib's parameters (x^5 S-box, 8 full rounds, circomlib's
//! partial-round counts, its round constants and MDS matrices).
//!
//! The parameters come from the `light-poseidon` crate, which generated them with the Poseidon
//! reference script exactly as circomlib did; the permutation is written out here because the
//! in-circuit twin (`letro_circuits::poseidon`) must follow the same steps, and known-answer
//! vectors made by circomlibjs (testdata/vectors/poseidon.json) pin both.
//!
//! Two implementations compute the same permutation:
//!
//! - [`permute`] is the reference: every round adds its constants, applies the S-box and
//!   multiplies by the dense MDS matrix, step for step as the in-circuit twin does.
//! - [`poseidon`] and [`hash`] use the optimised form of the Poseidon paper's appendix B (the
//!   form circomlibjs's `poseidon_opt` uses): the round constants of the partial rounds are
//!   moved so that each partial round adds one constant, to the first state element, and the
//!   partial rounds' MDS products are factored into sparse matrices
//!   `[[a, b], [w, I]]` and one matrix applied once after them, so a partial round costs
//!   `2·width - 1` multiplications instead of `width²`. The transformed constants are
//!   computed from the same parameters at first use (see [`OptimizedParams`]), and the hot path
//!   works on a stack array. Tests check it against [`permute`] for every arity.

use std::sync::OnceLock;

use ark_ff::{Field, Zero};

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

/// circomlib's `Poseidon(n)` computed with the reference [`permute`]: the first element of the
/// permuted state `[0, inputs...]`. Slower than [`poseidon`], which gives the same result; kept
/// as the step-by-step twin of the circuit and for tests and benchmarks.
pub fn poseidon_reference(inputs: &[Fr]) -> Result<Fr, PoseidonError> {
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

/// circomlib's `Poseidon(n)`: the first element of the permuted state `[0, inputs...]`,
/// computed with the optimised permutation (no allocation).
pub fn poseidon(inputs: &[Fr]) -> Result<Fr, PoseidonError> {
    let o = optimized_params(inputs.len())?;
    let width = o.width;
    let out = match width {
        2 => run_optimized::<2>(o, inputs),
        3 => run_optimized::<3>(o, inputs),
        4 => run_optimized::<4>(o, inputs),
        5 => run_optimized::<5>(o, inputs),
        6 => run_optimized::<6>(o, inputs),
        7 => run_optimized::<7>(o, inputs),
        8 => run_optimized::<8>(o, inputs),
        9 => run_optimized::<9>(o, inputs),
        10 => run_optimized::<10>(o, inputs),
        11 => run_optimized::<11>(o, inputs),
        12 => run_optimized::<12>(o, inputs),
        13 => run_optimized::<13>(o, inputs),
        _ => None,
    };
    out.ok_or(PoseidonError::Parameters(width))
}

/// The largest state width, `MAX_ARITY + 1`.
const MAX_WIDTH: usize = MAX_ARITY + 1;

/// One row of a matrix or one round's constants, padded with zeros to [`MAX_WIDTH`] so the hot
/// path can take a fixed-size prefix without allocating.
type Row = [Fr; MAX_WIDTH];

/// Poseidon parameters for one width in the optimised form of the Poseidon paper's appendix B,
/// derived from [`PoseidonParams`] (see the module documentation).
///
/// With `y` the state tracked during the partial rounds and `x` the reference state, the
/// invariant is `x = diag(1, B_r)·y` before partial round `r`, where `B_0 = I` and
/// `B_{r+1} = M11·B_r` (`M = [[m00, m01], [m10, M11]]` the MDS matrix). Round `r` then computes
/// `y0 += k_r; y0 = y0^5; y = S_r·y` with the sparse
/// `S_r = [[m00, m01·B_r], [(M11·B_r)^-1·m10, I]]`, since `M·diag(1, B_r) = diag(1, B_{r+1})·S_r`.
/// After the last partial round `x = diag(1, B_Rp)·y + e`, and `e` is added to the constants of
/// the next full round. The constants `k_r` and `e` come from moving, round by round, the part of
/// each partial round's constant vector outside the first element through the (linear) S-box
/// layer and the MDS matrix into the next round.
#[derive(Debug)]
pub struct OptimizedParams {
    /// State width `t`.
    pub width: usize,
    /// Number of full rounds before (and after) the partial rounds.
    half_full_rounds: usize,
    /// The MDS matrix, by rows.
    mds: Vec<Row>,
    /// Round constants of the full rounds, in order; `e` is folded into the first one after the
    /// partial rounds.
    full_constants: Vec<Row>,
    /// The constant `k_r` added to the first element in partial round `r`.
    partial_constants: Vec<Fr>,
    /// First row of `S_r`: `[m00, m01·B_r]`.
    sparse_rows: Vec<Row>,
    /// First column of `S_r` below the diagonal: `[0, (M11·B_r)^-1·m10]`.
    sparse_columns: Vec<Row>,
    /// `diag(1, B_Rp)`, applied once after the partial rounds.
    after_partial: Vec<Row>,
}

static OPTIMIZED: [OnceLock<Option<OptimizedParams>>; MAX_ARITY] =
    [const { OnceLock::new() }; MAX_ARITY];

/// The cached optimised parameters for `arity` inputs, derived from [`params`] at first use.
pub fn optimized_params(arity: usize) -> Result<&'static OptimizedParams, PoseidonError> {
    let p = params(arity)?;
    let slot = OPTIMIZED
        .get(arity - 1)
        .ok_or(PoseidonError::Arity(arity))?;
    slot.get_or_init(|| OptimizedParams::derive(p))
        .as_ref()
        .ok_or(PoseidonError::Parameters(p.width))
}

type Matrix = Vec<Vec<Fr>>;

fn dot(a: &[Fr], b: &[Fr]) -> Fr {
    a.iter().zip(b).map(|(x, y)| *x * y).sum()
}

fn transpose(m: &[Vec<Fr>]) -> Matrix {
    let cols = m.first().map_or(0, Vec::len);
    (0..cols)
        .map(|j| m.iter().filter_map(|row| row.get(j).copied()).collect())
        .collect()
}

fn mat_vec(m: &[Vec<Fr>], v: &[Fr]) -> Vec<Fr> {
    m.iter().map(|row| dot(row, v)).collect()
}

fn mat_mul(a: &[Vec<Fr>], b: &[Vec<Fr>]) -> Matrix {
    let bt = transpose(b);
    a.iter()
        .map(|row| bt.iter().map(|col| dot(row, col)).collect())
        .collect()
}

fn identity(n: usize) -> Matrix {
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if i == j { Fr::ONE } else { Fr::zero() })
                .collect()
        })
        .collect()
}

/// The inverse of a square matrix by Gauss-Jordan elimination, if it is invertible.
fn invert(m: &[Vec<Fr>]) -> Option<Matrix> {
    let n = m.len();
    let mut a: Matrix = m
        .iter()
        .zip(identity(n))
        .map(|(row, id)| row.iter().copied().chain(id).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).find(|&r| {
            a.get(r)
                .and_then(|row| row.get(col))
                .is_some_and(|x| !x.is_zero())
        })?;
        a.swap(col, pivot);
        let inv = a.get(col)?.get(col)?.inverse()?;
        let prow: Vec<Fr> = a.get(col)?.iter().map(|x| *x * inv).collect();
        for (r, row) in a.iter_mut().enumerate() {
            if r == col {
                row.clone_from(&prow);
                continue;
            }
            let f = *row.get(col)?;
            for (x, p) in row.iter_mut().zip(&prow) {
                *x -= f * p;
            }
        }
    }
    Some(
        a.into_iter()
            .map(|row| row.into_iter().skip(n).collect())
            .collect(),
    )
}

fn to_row(v: &[Fr]) -> Option<Row> {
    let mut row = [Fr::zero(); MAX_WIDTH];
    if v.len() > MAX_WIDTH {
        return None;
    }
    for (r, x) in row.iter_mut().zip(v) {
        *r = *x;
    }
    Some(row)
}

impl OptimizedParams {
    /// Derives the optimised form; `None` only if the parameters are malformed (a singular
    /// `M11`, which an MDS matrix cannot have).
    fn derive(p: &PoseidonParams) -> Option<Self> {
        let t = p.width;
        if !(2..=MAX_WIDTH).contains(&t) || p.full_rounds % 2 != 0 {
            return None;
        }
        let half = p.full_rounds / 2;
        let mds: Matrix = p.mds.clone();
        let m00 = *mds.first()?.first()?;
        let m01: Vec<Fr> = mds.first()?.iter().skip(1).copied().collect();
        let m10: Vec<Fr> = mds
            .iter()
            .skip(1)
            .filter_map(|r| r.first().copied())
            .collect();
        let m11: Matrix = mds
            .iter()
            .skip(1)
            .map(|r| r.iter().skip(1).copied().collect())
            .collect();
        let m11_inv = invert(&m11)?;

        // Constants: move everything but the first element of each partial round's constant
        // vector forward through that round (S-box on element 0 only, then M).
        let mut partial_constants = Vec::with_capacity(p.partial_rounds);
        let mut carry = vec![Fr::zero(); t];
        for r in half..half + p.partial_rounds {
            let u: Vec<Fr> = p
                .round_constants(r)
                .iter()
                .zip(&carry)
                .map(|(c, e)| *c + e)
                .collect();
            if u.len() != t {
                return None;
            }
            partial_constants.push(*u.first()?);
            let v: Vec<Fr> = std::iter::once(Fr::zero())
                .chain(u.iter().skip(1).copied())
                .collect();
            carry = mat_vec(&mds, &v);
        }

        // Sparse factors of the partial rounds' MDS products.
        let mut sparse_rows = Vec::with_capacity(p.partial_rounds);
        let mut sparse_columns = Vec::with_capacity(p.partial_rounds);
        let mut b = identity(t - 1);
        let mut b_inv = identity(t - 1);
        for _ in 0..p.partial_rounds {
            // m01·B_r (a row vector times a matrix).
            let row_b = mat_vec(&transpose(&b), &m01);
            let row: Vec<Fr> = std::iter::once(m00).chain(row_b).collect();
            sparse_rows.push(to_row(&row)?);
            // (M11·B_r)^-1 = B_r^-1·M11^-1.
            b_inv = mat_mul(&b_inv, &m11_inv);
            let w: Vec<Fr> = std::iter::once(Fr::zero())
                .chain(mat_vec(&b_inv, &m10))
                .collect();
            sparse_columns.push(to_row(&w)?);
            b = mat_mul(&m11, &b);
        }
        let after_partial = std::iter::once(to_row(&[Fr::ONE]))
            .chain(b.iter().map(|row| {
                let full: Vec<Fr> = std::iter::once(Fr::zero())
                    .chain(row.iter().copied())
                    .collect();
                to_row(&full)
            }))
            .collect::<Option<Vec<Row>>>()?;

        let mut full_constants = Vec::with_capacity(p.full_rounds);
        for r in (0..half).chain(half + p.partial_rounds..p.rounds()) {
            let mut c = p.round_constants(r).to_vec();
            if c.len() != t {
                return None;
            }
            if r == half + p.partial_rounds {
                for (x, e) in c.iter_mut().zip(&carry) {
                    *x += e;
                }
            }
            full_constants.push(to_row(&c)?);
        }
        let mds = mds
            .iter()
            .map(|r| to_row(r))
            .collect::<Option<Vec<Row>>>()?;
        Some(Self {
            width: t,
            half_full_rounds: half,
            mds,
            full_constants,
            partial_constants,
            sparse_rows,
            sparse_columns,
            after_partial,
        })
    }
}

/// `[0, inputs...]` through the optimised permutation; the first element. `None` if
/// `inputs.len() + 1 != T` or the parameters do not have width `T` (a bug, not an input error).
fn run_optimized<const T: usize>(o: &OptimizedParams, inputs: &[Fr]) -> Option<Fr> {
    if o.width != T || inputs.len() + 1 != T {
        return None;
    }
    let mut state = [Fr::zero(); T];
    for (s, x) in state.iter_mut().skip(1).zip(inputs) {
        *s = *x;
    }
    permute_optimized(o, &mut state)?;
    state.first().copied()
}

/// The Poseidon permutation in the optimised form, on a state of width `T == o.width`. Gives the
/// same result as [`permute`]; `None` only if `T` does not match the parameters.
pub fn permute_optimized<const T: usize>(o: &OptimizedParams, state: &mut [Fr; T]) -> Option<()> {
    if o.width != T {
        return None;
    }
    let (first_half, second_half) = o
        .full_constants
        .split_at(o.half_full_rounds.min(o.full_constants.len()));
    for c in first_half {
        full_round(&o.mds, c.first_chunk::<T>()?, state)?;
    }
    for ((k, row), col) in o
        .partial_constants
        .iter()
        .zip(&o.sparse_rows)
        .zip(&o.sparse_columns)
    {
        let row = row.first_chunk::<T>()?;
        let y0 = state.first_mut()?;
        let old = sbox(*y0 + k);
        *y0 = old;
        let new0 = Fr::sum_of_products(row, state);
        let (y0, rest) = state.split_first_mut()?;
        for (y, w) in rest.iter_mut().zip(col.iter().skip(1)) {
            *y += old * w;
        }
        *y0 = new0;
    }
    mat_mul_state(&o.after_partial, state)?;
    for c in second_half {
        full_round(&o.mds, c.first_chunk::<T>()?, state)?;
    }
    Some(())
}

fn full_round<const T: usize>(mds: &[Row], c: &[Fr; T], state: &mut [Fr; T]) -> Option<()> {
    for (s, k) in state.iter_mut().zip(c) {
        *s = sbox(*s + k);
    }
    mat_mul_state(mds, state)
}

fn mat_mul_state<const T: usize>(m: &[Row], state: &mut [Fr; T]) -> Option<()> {
    let mut next = [Fr::zero(); T];
    for (n, row) in next.iter_mut().zip(m) {
        *n = Fr::sum_of_products(row.first_chunk::<T>()?, state);
    }
    *state = next;
    Some(())
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

    fn fr_from_seed(seed: [u64; 4]) -> Fr {
        use ark_ff::PrimeField;
        let bytes: Vec<u8> = seed.iter().flat_map(|w| w.to_le_bytes()).collect();
        Fr::from_le_bytes_mod_order(&bytes)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn optimized_equals_reference_for_every_arity(
            seeds in proptest::collection::vec(proptest::prelude::any::<[u64; 4]>(), MAX_ARITY),
        ) {
            for arity in 1..=MAX_ARITY {
                let inputs: Vec<Fr> = seeds.iter().take(arity).copied().map(fr_from_seed).collect();
                proptest::prop_assert_eq!(poseidon(&inputs), poseidon_reference(&inputs));
            }
        }

        #[test]
        fn optimized_permutation_equals_reference_on_whole_state(
            seeds in proptest::collection::vec(proptest::prelude::any::<[u64; 4]>(), 5),
        ) {
            // The whole state, not only the first element, and a non-zero capacity element.
            let mut state: [Fr; 5] = [Fr::zero(); 5];
            for (s, seed) in state.iter_mut().zip(&seeds) {
                *s = fr_from_seed(*seed);
            }
            let mut reference = state.to_vec();
            permute(params(4).unwrap(), &mut reference);
            permute_optimized(optimized_params(4).unwrap(), &mut state).unwrap();
            proptest::prop_assert_eq!(state.to_vec(), reference);
        }
    }

    #[test]
    fn edge_inputs_agree() {
        for arity in 1..=MAX_ARITY {
            for x in [Fr::zero(), Fr::ONE, -Fr::ONE] {
                let inputs = vec![x; arity];
                assert_eq!(poseidon(&inputs), poseidon_reference(&inputs), "{arity}");
            }
        }
    }

    #[test]
    fn wrong_width_is_refused() {
        let o = optimized_params(2).unwrap();
        assert_eq!(permute_optimized(o, &mut [Fr::zero(); 4]), None);
    }

    #[test]
    fn arity_out_of_range_is_an_error() {
        assert_eq!(poseidon(&[]), Err(PoseidonError::Arity(0)));
        assert_eq!(
            poseidon(&[Fr::from(0u64); 13]),
            Err(PoseidonError::Arity(13))
        );
        assert_eq!(poseidon_reference(&[]), Err(PoseidonError::Arity(0)));
        assert!(optimized_params(0).is_err());
    }
}

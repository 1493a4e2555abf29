//! Sums over bases that never change (the proving key's), with a precomputed table of each
//! base's multiples `2^(c·j)·P`.
//!
//! [`super::msm`] splits every scalar into `w` windows of `c` bits and sums each window in its
//! own set of `2^(c-1)` buckets, so it pays `w` bucket sums of about `2^c` additions each; that
//! cost keeps `c` near 11 and `w` near 24 for the proof's sums. With the multiples stored, the
//! digit `d_j` of window `j` goes into the one set of buckets as `d_j·(2^(c·j)·P)`, so every
//! window shares one bucket sum and `c` can grow: fewer windows, fewer additions per point.
//! The price is memory, `w` points per base (17 in G1 and 20 in G2 at the default widths),
//! and the time to build the table once.
//!
//! [`sum`] returns exactly `Σ scalars[i]·bases[i]`; the tests check it against arkworks'
//! `VariableBaseMSM::msm_bigint`, and `tests/fast_path.rs` checks whole proofs made with tables
//! with arkworks' verifier.

use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{add_terms, signed_digits, Buckets, ScalarBigInt};

/// The window width of the proving key's tables in G2. Measured on the built-in key's `B` in
/// G2 (BENCHMARKS.md, "Fixed-base tables" and "Wider windows for G1's tables"): 13 was the
/// fastest of 11 to 16 (15 took twice as long on two threads: a G2 point is twice a G1 point's
/// size and its addition about 2.3 times the work, so `2^14` buckets per thread weigh more
/// than the three windows they save). It takes 20 points per base.
pub const DEFAULT_WIDTH_G2: usize = 13;

/// The window width of the proving key's tables in G1: 15, 17 points per base. Its `C` sum
/// adds about 35,000 bases' terms into one set of buckets per share, enough to pay for `2^14`
/// buckets; a whole proof takes about 4 % less work than with 13 (BENCHMARKS.md, "Wider
/// windows for G1's tables"). 14 is slower than 13: its top window holds 3 bits, so that
/// window's terms crowd 4 buckets.
pub const DEFAULT_WIDTH_G1: usize = 15;

/// The window widths of a prover's tables: one for the sums in G1 (`A` and `C`), one for `B`
/// in G2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Widths {
    /// The width of the tables in G1.
    pub g1: usize,
    /// The width of the table in G2.
    pub g2: usize,
}

impl Widths {
    /// The measured best for the built-in key: [`DEFAULT_WIDTH_G1`] and [`DEFAULT_WIDTH_G2`].
    pub const DEFAULT: Self = Self {
        g1: DEFAULT_WIDTH_G1,
        g2: DEFAULT_WIDTH_G2,
    };
}

impl Default for Widths {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The bases a share takes at a time from a sum's work.
const CHUNK: usize = 256;

/// The multiples `2^(c·j)·P`, `j` = 0 to `windows - 1`, of every base `P`, in affine
/// coordinates, base after base.
pub struct Table<P: SWCurveConfig> {
    c: usize,
    windows: usize,
    points: Vec<Affine<P>>,
}

impl<P: SWCurveConfig> std::fmt::Debug for Table<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("c", &self.c)
            .field("windows", &self.windows)
            .field("bases", &self.len())
            .finish_non_exhaustive()
    }
}

impl<P: SWCurveConfig> Table<P> {
    /// The table of `bases` for windows of `c` bits (clamped to 2..=16), enough windows for any
    /// reduced scalar.
    pub fn new(bases: &[Affine<P>], c: usize) -> Self {
        let c = c.clamp(2, 16);
        // One window more than the scalar's bits need: the signed digits' last carry.
        let bits = P::ScalarField::MODULUS_BIT_SIZE as usize;
        let windows = (bits + 1).div_ceil(c);
        // Filled in place, 256 bases at a time: no copy of the table is ever held twice.
        let mut points = vec![Affine::<P>::identity(); bases.len() * windows];
        points
            .par_chunks_mut(256 * windows)
            .zip(bases.par_chunks(256))
            .for_each(|(out, chunk)| {
                let multiples: Vec<Projective<P>> = chunk
                    .iter()
                    .flat_map(|p| {
                        let mut acc = Projective::<P>::from(*p);
                        (0..windows).map(move |_| {
                            let out = acc;
                            for _ in 0..c {
                                acc.double_in_place();
                            }
                            out
                        })
                    })
                    .collect();
                for (o, m) in out.iter_mut().zip(Projective::normalize_batch(&multiples)) {
                    *o = m;
                }
            });
        Self { c, windows, points }
    }

    /// The number of bases.
    pub fn len(&self) -> usize {
        self.points.len().checked_div(self.windows).unwrap_or(0)
    }

    /// Whether the table has no base.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The memory the points take, in bytes.
    pub fn size_bytes(&self) -> usize {
        self.points.len() * std::mem::size_of::<Affine<P>>()
    }
}

/// Why [`sum`] did not sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The parts' tables have different window widths.
    #[error("the tables have different window widths")]
    Widths,
    /// A scalar has more bits than the tables' windows cover.
    #[error("a scalar is wider than the table's windows")]
    WideScalar,
}

/// `Σ scalars[i]·bases[i]` over every part, where each part's table was built from its bases;
/// a part's terms stop at the shorter of its table and its scalars. Every term goes into one
/// set of `2^(c-1)` buckets per thread of the current rayon pool.
pub fn sum<P: SWCurveConfig>(
    parts: &[(&Table<P>, &[ScalarBigInt<P>])],
) -> Result<Projective<P>, TableError> {
    sum_in_shares(parts, usize::MAX)
}

/// [`sum`] in at most `max_shares` shares (at least one), each with its own set of buckets
/// and its own bucket sum. A caller that runs other work beside this sum can keep it in fewer
/// shares than the pool has threads: the other work keeps those threads busy, and every share
/// fewer is one bucket sum less.
pub fn sum_in_shares<P: SWCurveConfig>(
    parts: &[(&Table<P>, &[ScalarBigInt<P>])],
    max_shares: usize,
) -> Result<Projective<P>, TableError> {
    let mut partial = Partial::new(max_shares);
    partial.add(parts)?;
    Ok(partial.finish())
}

/// A sum whose terms are in its buckets but whose buckets are not summed yet, so that parts
/// known at different times (the proof's `B₁` and `L` terms before the witness map, `H` after
/// it) share one bucket sum per share. [`Partial::finish`] returns exactly the [`sum`] of
/// every part added.
pub struct Partial<P: SWCurveConfig> {
    /// The tables' window width and number of windows, set by the first part added.
    width: Option<(usize, usize)>,
    max_shares: usize,
    shares: Vec<Buckets<P::BaseField>>,
}

impl<P: SWCurveConfig> std::fmt::Debug for Partial<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partial")
            .field("width", &self.width)
            .field("shares", &self.shares.len())
            .finish_non_exhaustive()
    }
}

impl<P: SWCurveConfig> Partial<P> {
    /// An empty sum that will take at most `max_shares` shares (at least one).
    pub fn new(max_shares: usize) -> Self {
        Self {
            width: None,
            max_shares: max_shares.max(1),
            shares: Vec::new(),
        }
    }

    /// Puts the terms of `parts` into the buckets. The first call with terms sets the number
    /// of shares, one per thread of the current rayon pool if there are enough terms; later
    /// parts are spread over the same shares. Every table must have the first one's width.
    pub fn add(&mut self, parts: &[(&Table<P>, &[ScalarBigInt<P>])]) -> Result<(), TableError> {
        let Some((first, _)) = parts.first() else {
            return Ok(());
        };
        let (c, windows) = *self.width.get_or_insert((first.c, first.windows));
        if parts.iter().any(|(t, _)| t.c != c || t.windows != windows) {
            return Err(TableError::Widths);
        }
        // The last window takes the carry of the one before: the scalars must leave it room.
        let max_bits = windows * c - 1;
        let mut digits: Vec<Vec<i32>> = Vec::with_capacity(parts.len());
        for (table, scalars) in parts {
            let n = table.len().min(scalars.len());
            let scalars = scalars.get(..n).unwrap_or_default();
            if scalars.iter().any(|s| s.num_bits() as usize > max_bits) {
                return Err(TableError::WideScalar);
            }
            let mut out = vec![0i32; n * windows];
            out.par_chunks_mut(windows)
                .zip(scalars.par_iter())
                .for_each(|(out, s)| signed_digits(s.as_ref(), c, out));
            digits.push(out);
        }
        if self.shares.is_empty() {
            let total: usize = digits.iter().map(Vec::len).sum();
            // One share of every part per thread; each share pays one bucket sum.
            let count = rayon::current_num_threads()
                .min(total / (4usize << c).max(1))
                .min(self.max_shares)
                .max(1);
            self.shares = (0..count)
                .map(|_| Buckets::new(1usize << (c - 1)))
                .collect();
        }
        // The terms go out in chunks to whichever share asks next, so that a share whose
        // thread starts late (busy with other work) takes fewer, and all end together.
        let chunks: Vec<(&[Affine<P>], &[i32])> = parts
            .iter()
            .zip(&digits)
            .flat_map(|((table, _), digits)| {
                let n = digits.len() / windows;
                let points = table.points.get(..n * windows).unwrap_or_default();
                points
                    .chunks(CHUNK * windows)
                    .zip(digits.chunks(CHUNK * windows))
            })
            .collect();
        let next = AtomicUsize::new(0);
        self.shares.par_iter_mut().for_each(|buckets| {
            while let Some((points, digits)) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                let terms = points.iter().zip(*digits).filter(|(p, _)| !p.is_zero());
                add_terms(buckets, terms);
            }
        });
        Ok(())
    }

    /// The sum of every term added: each share's bucket sum, side by side.
    pub fn finish(self) -> Projective<P> {
        self.shares
            .into_par_iter()
            .map(|buckets| buckets.weighted_sum::<P>())
            .collect::<Vec<_>>()
            .into_iter()
            .sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::VariableBaseMSM;
    use ark_ff::{Field, UniformRand, Zero};
    use ark_std::One;
    use rand::SeedableRng;

    type G1 = ark_bn254::g1::Config;
    type G2 = ark_bn254::g2::Config;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(14)
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    fn big(v: &[Fr]) -> Vec<<Fr as PrimeField>::BigInt> {
        v.iter().map(|s| s.into_bigint()).collect()
    }

    #[test]
    fn the_table_holds_the_multiples() {
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..3).map(|_| G1Affine::rand(&mut rng)).collect();
        let table = Table::new(&bases, 13);
        assert_eq!((table.c, table.windows, table.len()), (13, 20, 3));
        for (i, p) in bases.iter().enumerate() {
            for j in 0..table.windows {
                let expected = G1Projective::from(*p) * Fr::from(2u64).pow([13 * j as u64]);
                assert_eq!(table.points[i * table.windows + j], expected.into_affine());
            }
        }
    }

    #[test]
    fn agrees_with_arkworks_on_random_inputs_at_every_width() {
        let mut rng = rng();
        for n in [0usize, 1, 2, 50, 700, 3000] {
            let bases: Vec<G1Affine> = (0..n).map(|_| G1Affine::rand(&mut rng)).collect();
            let scalars = big(&(0..n).map(|_| Fr::rand(&mut rng)).collect::<Vec<_>>());
            let theirs = G1Projective::msm_bigint(&bases, &scalars);
            for c in [2, 3, 7, 11, 14, 16] {
                let table = Table::new(&bases, c);
                let ours = sum::<G1>(&[(&table, &scalars)]).unwrap();
                assert_eq!(ours.into_affine(), theirs.into_affine(), "n = {n}, c = {c}");
            }
        }
    }

    #[test]
    fn agrees_with_arkworks_on_repeated_opposite_infinite_and_small_inputs() {
        let mut rng = rng();
        let p = G1Affine::rand(&mut rng);
        let q = G1Affine::rand(&mut rng);
        let mut bases = vec![p; 500];
        bases.extend([-p, q, -q, G1Affine::identity(), G1Affine::identity()]);
        bases.extend((0..400).map(|_| G1Affine::rand(&mut rng)));
        let mut scalars: Vec<Fr> = vec![Fr::from(9u64); 500];
        scalars.extend([
            Fr::from(9u64),
            -Fr::one(),
            -Fr::one(),
            Fr::from(5u64),
            Fr::zero(),
        ]);
        scalars.extend((0..400).map(|i| match i % 5 {
            0 => Fr::zero(),
            1 => Fr::one(),
            2 => -Fr::one(),
            3 => Fr::from(i as u64),
            _ => Fr::rand(&mut rng),
        }));
        let scalars = big(&scalars);
        let theirs = G1Projective::msm_bigint(&bases, &scalars);
        for c in [4, 14] {
            let table = Table::new(&bases, c);
            let ours = sum::<G1>(&[(&table, &scalars)]).unwrap();
            assert_eq!(ours.into_affine(), theirs.into_affine(), "c = {c}");
        }
        // Everything cancels: 9·p + 9·(-p) with nothing else.
        let table = Table::new(&[p, -p], 14);
        let nine = big(&[Fr::from(9u64); 2]);
        assert!(sum::<G1>(&[(&table, &nine)]).unwrap().is_zero());
    }

    #[test]
    fn agrees_with_arkworks_on_g2() {
        let mut rng = rng();
        let mut bases: Vec<G2Affine> = (0..400).map(|_| G2Affine::rand(&mut rng)).collect();
        bases.push(bases[0]);
        bases.push(-bases[1]);
        let scalars = big(&(0..402).map(|_| Fr::rand(&mut rng)).collect::<Vec<_>>());
        let theirs = G2Projective::msm_bigint(&bases, &scalars);
        for c in [5, 14] {
            let table = Table::new(&bases, c);
            let ours = sum::<G2>(&[(&table, &scalars)]).unwrap();
            assert_eq!(ours.into_affine(), theirs.into_affine(), "c = {c}");
        }
    }

    #[test]
    fn parts_sum_to_the_sum_of_their_msms_on_one_and_two_threads() {
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..2000).map(|_| G1Affine::rand(&mut rng)).collect();
        let scalars = big(&(0..2000).map(|_| Fr::rand(&mut rng)).collect::<Vec<_>>());
        let (b1, b2) = bases.split_at(700);
        let (s1, s2) = scalars.split_at(700);
        let (t1, t2) = (Table::new(b1, 8), Table::new(b2, 8));
        let whole = G1Projective::msm_bigint(&bases, &scalars);
        for threads in [1, 2, 3] {
            let pool = pool(threads);
            let ours = pool.install(|| sum::<G1>(&[(&t1, s1), (&t2, s2)]).unwrap());
            assert_eq!(ours, whole, "{threads} threads");
        }
        // In fewer shares than threads, and with a cap of 0 (taken as 1), the same sum.
        let pool = pool(3);
        for max_shares in [0, 1, 2, 5] {
            let ours = pool.install(|| sum_in_shares::<G1>(&[(&t1, s1), (&t2, s2)], max_shares));
            assert_eq!(ours.unwrap(), whole, "at most {max_shares} shares");
        }
        // A part with fewer scalars than bases stops at its scalars.
        let cut = G1Projective::msm_bigint(&bases[..1999], &scalars[..1999]);
        assert_eq!(sum::<G1>(&[(&t1, s1), (&t2, &s2[..1299])]).unwrap(), cut);
        assert!(sum::<G1>(&[]).unwrap().is_zero());
    }

    #[test]
    fn a_partial_sum_added_in_steps_is_the_whole_sum() {
        let mut rng = rng();
        // More bases than one chunk in each part, so the shares take chunks from every part.
        let bases: Vec<G1Affine> = (0..1500).map(|_| G1Affine::rand(&mut rng)).collect();
        let mut scalars: Vec<Fr> = (0..1500).map(|_| Fr::rand(&mut rng)).collect();
        scalars[7] = Fr::zero();
        scalars[8] = Fr::one();
        let scalars = big(&scalars);
        let (b1, rest) = bases.split_at(300);
        let (b2, b3) = rest.split_at(600);
        let (s1, rest) = scalars.split_at(300);
        let (s2, s3) = rest.split_at(600);
        let (t1, t2, t3) = (Table::new(b1, 9), Table::new(b2, 9), Table::new(b3, 9));
        let whole = G1Projective::msm_bigint(&bases, &scalars);
        for threads in [1, 2, 3] {
            let pool = pool(threads);
            let ours = pool.install(|| {
                let mut partial = Partial::<G1>::new(usize::MAX);
                partial.add(&[]).unwrap();
                partial.add(&[(&t1, s1), (&t2, s2)]).unwrap();
                partial.add(&[(&t3, s3)]).unwrap();
                partial.finish()
            });
            assert_eq!(ours, whole, "{threads} threads");
        }
        // A refused part adds nothing: the sum is still that of the parts accepted.
        let t3_wide = Table::new(b3, 10);
        let mut partial = Partial::<G1>::new(2);
        partial.add(&[(&t1, s1), (&t2, s2)]).unwrap();
        assert_eq!(
            partial.add(&[(&t3, s3), (&t3_wide, s3)]),
            Err(TableError::Widths)
        );
        partial.add(&[(&t3, s3)]).unwrap();
        assert_eq!(partial.finish(), whole);
        assert!(Partial::<G1>::new(0).finish().is_zero());
    }

    #[test]
    fn refuses_mixed_widths_and_wide_scalars() {
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..4).map(|_| G1Affine::rand(&mut rng)).collect();
        let scalars = big(&[Fr::one(); 4]);
        let (t8, t9) = (Table::new(&bases, 8), Table::new(&bases, 9));
        assert_eq!(
            sum::<G1>(&[(&t8, &scalars), (&t9, &scalars)]),
            Err(TableError::Widths)
        );
        // 8-bit windows: 32 of them cover 255 bits; an all-ones 256-bit integer does not fit.
        let wide = vec![ark_ff::BigInt::<4>([u64::MAX; 4]); 4];
        assert_eq!(sum::<G1>(&[(&t8, &wide)]), Err(TableError::WideScalar));
        // The largest reduced scalar fits every width.
        let top = big(&[-Fr::one(); 4]);
        for c in 2..=16 {
            let t = Table::new(&bases, c);
            let expected = G1Projective::msm_bigint(&bases, &top);
            assert_eq!(sum::<G1>(&[(&t, &top)]).unwrap(), expected, "c = {c}");
        }
    }
}

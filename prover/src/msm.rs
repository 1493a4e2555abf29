//! Multi-scalar multiplication for the proof's sums: Pippenger's bucket method with signed
//! digits, whose buckets are kept in affine coordinates and filled by additions in batches that
//! share one field inversion (Montgomery's trick).
//!
//! An affine addition `Q + P` costs one inversion, two multiplications and one squaring; with
//! `k` additions sharing one inversion it costs about three more multiplications each, so about
//! six multiplications against the ten of the mixed addition arkworks' buckets use (extended
//! Jacobian coordinates, `8M + 2S`). A batch holds at most one addition per bucket; a point for a
//! bucket already in the batch waits for the next one. An addition the affine formula cannot do
//! (the bucket holds the point itself or its negation, `x` equal) is done at the end in
//! projective coordinates. In G2 the batch's inversion runs on the norms of the `Fq2`
//! denominators, in `Fq` ([`invert_batch`]): 1.6-2.4x faster than Montgomery's trick in `Fq2`.
//! The one inversion in `Fq` of every batch is Pornin's binary GCD ([`inverse`]), about three
//! times faster than arkworks'. The batches' multiplications in `Fq` and `Fq2` call arkworks'
//! Montgomery multiplication directly, so that it is inlined in their loops (`FqInline`,
//! `Fq2Inline`): 4 % fewer instructions for a whole `letro prove` (BENCHMARKS.md).
//!
//! Without tables the prover sums through [`glv`], which splits every scalar in two halves of
//! 127 bits by the curves' endomorphism: half the windows, so half the bucket sums. With
//! tables ([`fixed`]) the windows already share one bucket sum.
//!
//! [`msm`] returns exactly `Σ scalars[i]·bases[i]`; the tests check it against arkworks'
//! `VariableBaseMSM::msm_bigint` on random, repeated, opposite, zero and infinite inputs, and
//! `tests/fast_path.rs` checks whole proofs with arkworks' verifier.

use ark_ec::short_weierstrass::{Affine, Bucket, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr};
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

pub mod fixed;
pub mod glv;
pub mod inverse;

/// The scalar type of curve `P`, as big integers (not in Montgomery form).
pub type ScalarBigInt<P> = <<P as ark_ec::CurveConfig>::ScalarField as PrimeField>::BigInt;

/// Points and their scalars; the shorter slice sets the number of terms.
pub type Part<'a, P> = (&'a [Affine<P>], &'a [ScalarBigInt<P>]);

/// The largest number of additions sharing one inversion.
const MAX_BATCH: usize = 512;

/// `c` bits of `limbs` (little-endian) from bit `offset`; bits past the end are zero.
fn bits_at(limbs: &[u64], offset: usize, c: usize) -> u64 {
    let limb = offset / 64;
    let shift = offset % 64;
    let lo = limbs.get(limb).copied().unwrap_or(0) >> shift;
    let hi = if shift + c > 64 {
        limbs.get(limb + 1).copied().unwrap_or(0) << (64 - shift)
    } else {
        0
    };
    (lo | hi) & ((1u64 << c) - 1)
}

/// Writes the signed base-`2^c` digits of `limbs` into `out` (one per window, lowest first):
/// `Σ out[j]·2^(c·j)` equals the scalar and every digit lies in `(-2^(c-1), 2^(c-1)]`. The
/// caller gives enough windows that the last one takes no carry.
fn signed_digits(limbs: &[u64], c: usize, out: &mut [i32]) {
    let half = 1i64 << (c - 1);
    let full = 1i64 << c;
    let mut carry = 0i64;
    for (j, d) in out.iter_mut().enumerate() {
        // c ≤ 16, so the window fits an i64 and the digit an i32.
        let raw = bits_at(limbs, j * c, c) as i64 + carry;
        if raw > half {
            *d = (raw - full) as i32;
            carry = 1;
        } else {
            *d = raw as i32;
            carry = 0;
        }
    }
}

/// The window width that minimises the estimated cost of `n` additions per window and of
/// summing `2^(c-1)` buckets per window. The weights (8 and 20, in field multiplications) are
/// fitted to measurements on the built-in key's 16,384 `H` bases, where `c` = 11 and 12 were
/// the fastest of 10 to 14 (this function picks 11 there).
fn window_width(n: usize, scalar_bits: usize) -> usize {
    (4..=16)
        .min_by_key(|&c| {
            let windows = (scalar_bits + 1).div_ceil(c);
            windows * (n * 8 + (1usize << (c - 1)) * 20)
        })
        .unwrap_or(8)
}

/// The buckets of one window, in affine coordinates.
struct Buckets<F> {
    x: Vec<F>,
    y: Vec<F>,
    filled: Vec<bool>,
    /// The bucket has an addition in the current batch.
    busy: Vec<bool>,
    /// The current batch: bucket and point to add.
    pending: Vec<(usize, F, F)>,
    /// Scratch for the batch inversion.
    denominators: Vec<F>,
    prefix: Vec<F>,
    /// Points that wait for a batch without their bucket.
    waiting: Vec<(usize, F, F)>,
    /// Additions left to projective coordinates (`x` equal to the bucket's).
    aside: Vec<(usize, F, F)>,
    batch: usize,
}

impl<F: Field> Buckets<F> {
    fn new(count: usize) -> Self {
        Self::with_batch(count, (count / 2).clamp(1, MAX_BATCH))
    }

    /// Buckets whose batches hold up to `batch` additions.
    fn with_batch(count: usize, batch: usize) -> Self {
        Self {
            x: vec![F::zero(); count],
            y: vec![F::zero(); count],
            filled: vec![false; count],
            busy: vec![false; count],
            pending: Vec::with_capacity(MAX_BATCH),
            denominators: Vec::with_capacity(MAX_BATCH),
            prefix: Vec::with_capacity(MAX_BATCH),
            waiting: Vec::new(),
            aside: Vec::new(),
            batch: batch.max(1),
        }
    }

    /// Adds `(px, py)` to bucket `b`: at once into an empty bucket, else in the current batch,
    /// in a later one if its bucket is already in this one, or aside.
    fn add(&mut self, b: usize, px: F, py: F) {
        self.place(b, px, py);
        if self.waiting.len() >= self.batch {
            self.settle();
        }
    }

    fn place(&mut self, b: usize, px: F, py: F) {
        let (Some(filled), Some(busy), Some(qx)) =
            (self.filled.get_mut(b), self.busy.get_mut(b), self.x.get(b))
        else {
            return;
        };
        if !*filled {
            *filled = true;
            if let (Some(x), Some(y)) = (self.x.get_mut(b), self.y.get_mut(b)) {
                *x = px;
                *y = py;
            }
        } else if *busy {
            self.waiting.push((b, px, py));
        } else if *qx == px {
            self.aside.push((b, px, py));
        } else {
            *busy = true;
            self.pending.push((b, px, py));
            if self.pending.len() >= self.batch {
                self.flush();
            }
        }
    }

    /// Does every pending and waiting addition. Points that still wait once the waiting ones
    /// have been placed are bound for a few buckets (the same point many times, or digits
    /// confined to a few values, as in the top window of a fixed-base sum): a batch per
    /// addition would cost an inversion each, so when the batch stays small they go aside.
    fn settle(&mut self) {
        loop {
            self.flush();
            if self.waiting.is_empty() {
                return;
            }
            for (b, px, py) in std::mem::take(&mut self.waiting) {
                self.place(b, px, py);
            }
            if self.pending.len() < self.batch / 8 {
                self.aside.append(&mut self.waiting);
            }
        }
    }

    /// Does the additions of the current batch with one inversion; in BN254's `Fq` and `Fq2`
    /// (G1's and G2's coordinates) with the field multiplications inlined ([`FqInline`],
    /// [`Fq2Inline`]).
    fn flush(&mut self) {
        use std::any::Any;
        if let Some(g1) = (self as &mut dyn Any).downcast_mut::<Buckets<ark_bn254::Fq>>() {
            return g1.flush_with::<FqInline>();
        }
        if let Some(g2) = (self as &mut dyn Any).downcast_mut::<Buckets<ark_bn254::Fq2>>() {
            return g2.flush_with::<Fq2Inline>();
        }
        self.flush_with::<Generic>()
    }

    fn flush_with<A: Arith<F>>(&mut self) {
        self.denominators.clear();
        for &(b, px, _) in &self.pending {
            let qx = self.x.get(b).copied().unwrap_or_else(F::zero);
            self.denominators.push(px - qx);
        }
        // Every denominator is non-zero (equal `x` went aside), so their product is too.
        if !A::invert_batch(&mut self.denominators, &mut self.prefix) {
            // Unreachable; keep the sum right anyway.
            self.aside.append(&mut self.pending);
            self.busy.iter_mut().for_each(|b| *b = false);
            return;
        }
        for (&(b, px, py), d_inv) in self.pending.iter().zip(&self.denominators) {
            let (Some(qx), Some(qy), Some(busy)) =
                (self.x.get_mut(b), self.y.get_mut(b), self.busy.get_mut(b))
            else {
                continue;
            };
            let lambda = A::mul(py - *qy, d_inv);
            let x3 = A::square(lambda) - *qx - px;
            let y3 = A::mul(*qx - x3, &lambda) - *qy;
            *qx = x3;
            *qy = y3;
            *busy = false;
        }
        self.pending.clear();
    }

    /// `Σ (b+1)·bucket[b]`, with the additions set aside.
    ///
    /// The running sum (two projective additions per bucket) is done only for a few buckets.
    /// With more, `b = h·m + l` splits the sum: `Σ (b+1)·B_b = m·Σ_h h·R_h + Σ_l (l+1)·C_l`,
    /// where the row `R_h` sums the buckets of high part `h` and the column `C_l` those of low
    /// part `l`. Every bucket goes into its row and its column by affine additions in batches
    /// (a diagonal order gives each batch distinct rows and columns), and only the `2·√n`
    /// rows and columns take the running sums.
    ///
    /// A batch can hold only one addition per line, so with few lines it would pay an
    /// inversion for every `rows + m` additions: the lines are kept in several copies, the
    /// diagonals going to each copy in turn, and the copies are folded together at the end.
    fn weighted_sum<P: SWCurveConfig<BaseField = F>>(mut self) -> Projective<P> {
        self.settle();
        let n = self.x.len();
        if n < MIN_SPLIT_BUCKETS {
            return running_sum(&self.points::<P>(), true);
        }
        // m = 2^⌈log₂(n)/2⌉ columns and at most m rows.
        let log_m = (usize::BITS - (n - 1).leading_zeros()).div_ceil(2);
        let m = 1usize << log_m;
        let rows = n.div_ceil(m);
        let width = rows + m;
        let copies = (MAX_BATCH / width).clamp(1, m);
        let mut lines = Buckets::<F>::with_batch(copies * width, copies * width);
        for step in 0..m {
            let copy = (step % copies) * width;
            for h in 0..rows {
                let l = (h + step) % m;
                let b = h * m + l;
                if let (Some(true), Some(&x), Some(&y)) =
                    (self.filled.get(b), self.x.get(b), self.y.get(b))
                {
                    lines.add(copy + h, x, y);
                    lines.add(copy + rows + l, x, y);
                }
            }
        }
        for &(b, x, y) in &self.aside {
            lines.add(b / m, x, y);
            lines.add(rows + b % m, x, y);
        }
        lines.fold_copies(width);
        let mut lines = lines.points::<P>();
        lines.truncate(width);
        let (by_row, by_column) = lines.split_at(rows.min(lines.len()));
        let mut total = running_sum(by_row, false);
        for _ in 0..log_m {
            total.double_in_place();
        }
        total + running_sum(by_column, true)
    }

    /// Folds the buckets, seen as copies of `width` buckets each, into the first copy: bucket
    /// `b` ends up holding what buckets `b`, `b + width`, `b + 2·width`, … held. Each round moves
    /// the upper half of the copies onto the lower half, distinct buckets, so one batch.
    fn fold_copies(&mut self, width: usize) {
        let mut copies = self.x.len() / width.max(1);
        while copies > 1 {
            self.settle();
            let upper = copies / 2;
            let from = (copies - upper) * width;
            let shift = upper * width;
            for i in from..copies * width {
                if let (Some(filled), Some(&x), Some(&y)) =
                    (self.filled.get_mut(i), self.x.get(i), self.y.get(i))
                {
                    if std::mem::take(filled) {
                        self.add(i - shift, x, y);
                    }
                }
            }
            copies -= upper;
        }
        self.settle();
        // The additions set aside were for some copy of their bucket: they commute.
        for (b, _, _) in &mut self.aside {
            *b %= width.max(1);
        }
    }

    /// Every bucket's point, with its additions set aside, in projective coordinates.
    fn points<P: SWCurveConfig<BaseField = F>>(mut self) -> Vec<Bucket<P>> {
        self.settle();
        let mut points: Vec<Bucket<P>> = self
            .x
            .iter()
            .zip(&self.y)
            .zip(&self.filled)
            .map(|((x, y), filled)| match filled {
                true => Affine::<P>::new_unchecked(*x, *y).into(),
                false => Bucket::<P>::ZERO,
            })
            .collect();
        for &(b, x, y) in &self.aside {
            if let Some(point) = points.get_mut(b) {
                *point += Affine::<P>::new_unchecked(x, y);
            }
        }
        points
    }
}

/// `Σ (i + 1)·points[i]` if `from_one`, else `Σ i·points[i]`, by a running sum from the top.
fn running_sum<P: SWCurveConfig>(points: &[Bucket<P>], from_one: bool) -> Projective<P> {
    let mut running = Bucket::<P>::ZERO;
    let mut sum = Bucket::<P>::ZERO;
    for point in points.iter().rev() {
        if from_one {
            running += point;
            sum += &running;
        } else {
            sum += &running;
            running += point;
        }
    }
    sum.into()
}

/// Replaces every value by its inverse with one field inversion (Montgomery's trick), using
/// `prefix` as scratch; false, with `values` unchanged, if one of them is zero.
///
/// In BN254's `Fq` (G1's coordinates) the one inversion is [`inverse::inverse`], about three
/// times faster than arkworks'. In `Fq2` (G2's coordinates) the trick runs on the norms, in
/// `Fq`: `1/d = d̄/N(d)` with `N(d) = d·d̄ = c₀² + c₁²`. That costs two squarings and five `Fq`
/// multiplications per value against three `Fq2` multiplications (each about three `Fq` ones)
/// in `Fq2`.
// The vectors, not slices: `dyn Any` needs sized types to tell `Fq` and `Fq2` apart.
#[allow(clippy::ptr_arg)]
pub fn invert_batch<F: Field>(values: &mut Vec<F>, prefix: &mut Vec<F>) -> bool {
    use std::any::Any;
    if let (Some(values), Some(prefix)) = (
        (&mut *values as &mut dyn Any).downcast_mut::<Vec<ark_bn254::Fq2>>(),
        (&mut *prefix as &mut dyn Any).downcast_mut::<Vec<ark_bn254::Fq2>>(),
    ) {
        return invert_batch_fq2(values, prefix);
    }
    if let (Some(values), Some(prefix)) = (
        (&mut *values as &mut dyn Any).downcast_mut::<Vec<ark_bn254::Fq>>(),
        (&mut *prefix as &mut dyn Any).downcast_mut::<Vec<ark_bn254::Fq>>(),
    ) {
        return FqInline::invert_batch(values, prefix);
    }
    montgomery_trick::<F, Generic>(values, prefix, F::inverse)
}

/// Montgomery's trick with the arithmetic `A` and the one inversion `invert`.
fn montgomery_trick<F: Field, A: Arith<F>>(
    values: &mut [F],
    prefix: &mut Vec<F>,
    invert: impl Fn(&F) -> Option<F>,
) -> bool {
    prefix.clear();
    let mut acc = F::one();
    for d in values.iter() {
        prefix.push(acc);
        acc = A::mul(acc, d);
    }
    let Some(mut inv) = invert(&acc) else {
        return false;
    };
    for (d, p) in values.iter_mut().zip(prefix.iter()).rev() {
        let d_inv = A::mul(inv, p);
        inv = A::mul(inv, d);
        *d = d_inv;
    }
    true
}

/// The field arithmetic of a batch of affine additions.
trait Arith<F: Field> {
    /// `a·b`.
    fn mul(a: F, b: &F) -> F;
    /// `a²`.
    fn square(a: F) -> F;
    /// [`invert_batch`] with this arithmetic.
    fn invert_batch(values: &mut Vec<F>, prefix: &mut Vec<F>) -> bool;
}

/// arkworks' field operators.
struct Generic;

impl<F: Field> Arith<F> for Generic {
    #[inline(always)]
    fn mul(mut a: F, b: &F) -> F {
        a *= b;
        a
    }

    #[inline(always)]
    fn square(a: F) -> F {
        a.square()
    }

    fn invert_batch(values: &mut Vec<F>, prefix: &mut Vec<F>) -> bool {
        invert_batch(values, prefix)
    }
}

/// BN254's `Fq` (G1's coordinates) through arkworks' own Montgomery multiplication and
/// squaring, `MontConfig::mul_assign` and `square_in_place`, called directly: they are marked
/// `#[inline(always)]`, but `Fq`'s operators reach them through a wrapper that is only
/// `#[inline]`, which the compiler left as a function call in every loop of a batch.
struct FqInline;

impl Arith<ark_bn254::Fq> for FqInline {
    #[inline(always)]
    fn mul(mut a: ark_bn254::Fq, b: &ark_bn254::Fq) -> ark_bn254::Fq {
        <ark_bn254::FqConfig as ark_ff::MontConfig<4>>::mul_assign(&mut a, b);
        a
    }

    #[inline(always)]
    fn square(mut a: ark_bn254::Fq) -> ark_bn254::Fq {
        <ark_bn254::FqConfig as ark_ff::MontConfig<4>>::square_in_place(&mut a);
        a
    }

    fn invert_batch(values: &mut Vec<ark_bn254::Fq>, prefix: &mut Vec<ark_bn254::Fq>) -> bool {
        montgomery_trick::<_, Self>(values, prefix, inverse::inverse)
    }
}

/// BN254's `Fq2` (G2's coordinates, `u² = −1`) by Karatsuba's three multiplications in `Fq`
/// and the squaring's two, each [`FqInline`]'s. arkworks' `Fq2` multiplication calls two sums
/// of products that the compiler does not inline.
struct Fq2Inline;

impl Arith<ark_bn254::Fq2> for Fq2Inline {
    #[inline(always)]
    fn mul(a: ark_bn254::Fq2, b: &ark_bn254::Fq2) -> ark_bn254::Fq2 {
        let v0 = FqInline::mul(a.c0, &b.c0);
        let v1 = FqInline::mul(a.c1, &b.c1);
        let cross = FqInline::mul(a.c0 + a.c1, &(b.c0 + b.c1));
        ark_bn254::Fq2::new(v0 - v1, cross - v0 - v1)
    }

    #[inline(always)]
    fn square(a: ark_bn254::Fq2) -> ark_bn254::Fq2 {
        let c0 = FqInline::mul(a.c0 + a.c1, &(a.c0 - a.c1));
        let c1 = FqInline::mul(a.c0.double(), &a.c1);
        ark_bn254::Fq2::new(c0, c1)
    }

    fn invert_batch(values: &mut Vec<ark_bn254::Fq2>, prefix: &mut Vec<ark_bn254::Fq2>) -> bool {
        invert_batch_fq2(values, prefix)
    }
}

/// [`invert_batch`] in `Fq2` by the norms; each scratch entry holds the running product of
/// the norms before it (`c0`) and its value's norm (`c1`).
fn invert_batch_fq2(values: &mut [ark_bn254::Fq2], prefix: &mut Vec<ark_bn254::Fq2>) -> bool {
    use ark_bn254::{Fq, Fq2};
    prefix.clear();
    let (mul, square) = (FqInline::mul, FqInline::square);
    let mut acc = Fq::ONE;
    for d in values.iter() {
        // BN254's Fq2 has u² = −1: the norm is c₀² + c₁².
        let norm = square(d.c0) + square(d.c1);
        prefix.push(Fq2::new(acc, norm));
        acc = mul(acc, &norm);
    }
    let Some(mut inv) = inverse::inverse(&acc) else {
        return false;
    };
    for (d, p) in values.iter_mut().zip(prefix.iter()).rev() {
        let norm_inv = mul(inv, &p.c0);
        inv = mul(inv, &p.c1);
        *d = Fq2::new(mul(d.c0, &norm_inv), -mul(d.c1, &norm_inv));
    }
    true
}

/// Buckets sets with fewer buckets than this take the plain running sum.
const MIN_SPLIT_BUCKETS: usize = 64;

/// Windows with fewer buckets than this are summed in projective coordinates.
const MIN_AFFINE_BUCKETS: usize = 256;

fn window_sum_affine<'a, P: SWCurveConfig>(
    terms: impl Iterator<Item = (&'a Affine<P>, &'a i32)>,
    count: usize,
) -> Projective<P> {
    let mut buckets = Buckets::<P::BaseField>::new(count);
    add_terms(&mut buckets, terms);
    buckets.weighted_sum::<P>()
}

/// Adds each point, negated if its digit is negative, to the bucket of its digit's magnitude;
/// zero digits add nothing.
fn add_terms<'a, P: SWCurveConfig>(
    buckets: &mut Buckets<P::BaseField>,
    terms: impl Iterator<Item = (&'a Affine<P>, &'a i32)>,
) {
    for (p, &d) in terms {
        if d > 0 {
            buckets.add(d.unsigned_abs() as usize - 1, p.x, p.y);
        } else if d < 0 {
            buckets.add(d.unsigned_abs() as usize - 1, p.x, -p.y);
        }
    }
}

fn window_sum_projective<'a, P: SWCurveConfig>(
    terms: impl Iterator<Item = (&'a Affine<P>, &'a i32)>,
    count: usize,
) -> Projective<P> {
    let mut buckets = vec![Bucket::<P>::ZERO; count];
    for (p, &d) in terms {
        if let Some(bucket) = buckets.get_mut((d.unsigned_abs() as usize).wrapping_sub(1)) {
            if d > 0 {
                *bucket += p;
            } else {
                *bucket -= p;
            }
        }
    }
    let mut running = Bucket::<P>::ZERO;
    let mut sum = Bucket::<P>::ZERO;
    for bucket in buckets.iter().rev() {
        running += bucket;
        sum += &running;
    }
    sum.into()
}

/// `Σ scalars[i]·bases[i]` over the shorter of the two slices.
pub fn msm<P: SWCurveConfig>(bases: &[Affine<P>], scalars: &[ScalarBigInt<P>]) -> Projective<P> {
    msm_with(&[(bases, scalars)], None, MIN_AFFINE_BUCKETS)
}

/// The sum of [`msm`] over every part, computed as one multi-scalar multiplication: one set of
/// windows for all the points, so fewer bucket sums than one call per part.
pub fn msm_parts<P: SWCurveConfig>(parts: &[Part<'_, P>]) -> Projective<P> {
    msm_with(parts, None, MIN_AFFINE_BUCKETS)
}

/// The parts' terms in order, without those that add nothing (a point at infinity or a zero
/// scalar), for both the plain sums and the split ones ([`glv::msm_parts`]).
fn nonzero_terms<'a, P: SWCurveConfig>(
    parts: &[Part<'a, P>],
) -> Vec<(&'a Affine<P>, &'a ScalarBigInt<P>)> {
    let mut terms = Vec::with_capacity(parts.iter().map(|(b, s)| b.len().min(s.len())).sum());
    terms.extend(
        parts
            .iter()
            .flat_map(|(bases, scalars)| bases.iter().zip(scalars.iter()))
            .filter(|(p, s)| !p.is_zero() && !s.is_zero()),
    );
    terms
}

/// [`msm_parts`] with the window width `c` (else the estimated best) and the least number of
/// buckets a window sums in affine coordinates; the tests vary both.
fn msm_with<P: SWCurveConfig>(
    parts: &[Part<'_, P>],
    c: Option<usize>,
    min_affine_buckets: usize,
) -> Projective<P> {
    let terms = nonzero_terms(parts);
    let n = terms.len();
    if n == 0 {
        return Projective::zero();
    }
    // The widest scalar sets the number of windows (any big integer is summed right, reduced or
    // not; the windows above every scalar's top bit would be empty).
    let scalar_bits = terms
        .iter()
        .map(|(_, s)| s.num_bits() as usize)
        .max()
        .unwrap_or(0);
    let c = c
        .unwrap_or_else(|| window_width(n, scalar_bits))
        .clamp(2, 16);
    let windows = (scalar_bits + 1).div_ceil(c);
    let mut digits = vec![0i32; n * windows];
    digits
        .par_chunks_mut(windows)
        .zip(terms.par_iter())
        .for_each(|(out, (_, s))| signed_digits(s.as_ref(), c, out));
    // One job per window: rayon would otherwise hand a thread a run of several windows to do
    // in turn, and the other thread, done with its own, would wait for the last of them.
    let window_sums: Vec<Projective<P>> = (0..windows)
        .into_par_iter()
        .with_max_len(1)
        .map(|j| {
            let column = digits.iter().skip(j).step_by(windows);
            let terms = terms.iter().map(|(p, _)| *p).zip(column);
            // The top window holds only the scalars' last bits: too few buckets to fill a batch.
            let top_bits = scalar_bits.saturating_sub(j * c);
            let count = 1usize << (c - 1).min(top_bits);
            if count < min_affine_buckets {
                window_sum_projective(terms, count)
            } else {
                window_sum_affine(terms, count)
            }
        })
        .collect();
    let mut total = Projective::<P>::zero();
    for w in window_sums.iter().rev() {
        for _ in 0..c {
            total.double_in_place();
        }
        total += w;
    }
    total
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
    use ark_ff::UniformRand;
    use ark_std::One;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(16)
    }

    #[test]
    fn signed_digits_recompose_the_scalar() {
        let mut rng = rng();
        let mut samples: Vec<Fr> = (0..200).map(|_| Fr::rand(&mut rng)).collect();
        samples.extend([Fr::zero(), Fr::one(), -Fr::one(), Fr::from(u64::MAX)]);
        for c in 4..=16 {
            let windows = 255usize.div_ceil(c);
            for s in &samples {
                let mut out = vec![0i32; windows];
                signed_digits(s.into_bigint().as_ref(), c, &mut out);
                let half = 1i32 << (c - 1);
                assert!(out.iter().all(|&d| d > -half && d <= half), "c = {c}");
                let mut back = Fr::zero();
                for &d in out.iter().rev() {
                    back *= Fr::from(1u64 << c);
                    back += if d >= 0 {
                        Fr::from(d as u64)
                    } else {
                        -Fr::from(d.unsigned_abs() as u64)
                    };
                }
                assert_eq!(back, *s, "c = {c}");
            }
        }
    }

    #[test]
    fn bits_at_reads_across_limbs() {
        let limbs = [0xF000_0000_0000_0001u64, 0x0000_0000_0000_0005];
        assert_eq!(bits_at(&limbs, 0, 4), 1);
        assert_eq!(bits_at(&limbs, 60, 8), 0x5F);
        assert_eq!(bits_at(&limbs, 126, 8), 0);
        assert_eq!(bits_at(&limbs, 200, 8), 0);
    }

    /// The default path, then every window width with every window summed in affine
    /// coordinates (tiny bucket sets: long waits, many points set aside), then in projective.
    fn check_g1(bases: &[G1Affine], scalars: &[Fr]) {
        let big: Vec<_> = scalars.iter().map(|s| s.into_bigint()).collect();
        let theirs = G1Projective::msm_bigint(bases, &big).into_affine();
        let ours = msm::<ark_bn254::g1::Config>(bases, &big);
        assert_eq!(ours.into_affine(), theirs, "n = {}", bases.len());
        for c in [2, 3, 5, 8, 11, 13, 16] {
            for min_affine in [1, usize::MAX] {
                let ours = msm_with::<ark_bn254::g1::Config>(&[(bases, &big)], Some(c), min_affine);
                assert_eq!(ours.into_affine(), theirs, "n = {}, c = {c}", bases.len());
            }
        }
    }

    #[test]
    fn agrees_with_arkworks_on_random_g1_inputs_of_many_sizes() {
        let mut rng = rng();
        for n in [0usize, 1, 2, 3, 17, 100, 1000, 3000] {
            let bases: Vec<G1Affine> = (0..n).map(|_| G1Affine::rand(&mut rng)).collect();
            let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            check_g1(&bases, &scalars);
        }
    }

    #[test]
    fn agrees_with_arkworks_on_repeated_opposite_infinite_and_small_inputs() {
        let mut rng = rng();
        let p = G1Affine::rand(&mut rng);
        let q = G1Affine::rand(&mut rng);
        // The same point many times with the same scalar lands in the same buckets: doublings.
        let bases = vec![p; 600];
        let scalars = vec![Fr::rand(&mut rng); 600];
        check_g1(&bases, &scalars);
        // A point and its negation with one scalar: every bucket sum returns to infinity.
        let mut bases = vec![p, -p, q, -q, p, q];
        bases.extend((0..300).map(|_| G1Affine::rand(&mut rng)));
        let mut scalars = vec![Fr::from(7u64); 4];
        scalars.extend([Fr::from(3u64), -Fr::one()]);
        scalars.extend((0..300).map(|i| match i % 5 {
            0 => Fr::zero(),
            1 => Fr::one(),
            2 => -Fr::one(),
            3 => Fr::from(i as u64),
            _ => Fr::rand(&mut rng),
        }));
        check_g1(&bases, &scalars);
        // Infinite bases are skipped; so is the sum that cancels entirely.
        let bases = vec![G1Affine::identity(), p, p];
        let scalars = vec![Fr::from(5u64), Fr::from(9u64), -Fr::from(9u64)];
        check_g1(&bases, &scalars);
        assert!(msm::<ark_bn254::g1::Config>(&bases, &[Fr::from(5u64).into_bigint()]).is_zero());
        // Every scalar the same, all points the same: one bucket per window takes everything.
        let bases = vec![q; 2000];
        let scalars = vec![-Fr::from(2u64); 2000];
        check_g1(&bases, &scalars);
    }

    /// A bucket sum by rows, columns and copies of the lines equals `Σ (b+1)·bucket[b]`, also
    /// where the lines meet equal and opposite points (additions set aside in every copy) and
    /// with empty buckets.
    #[test]
    fn bucket_sums_by_lines_equal_the_weighted_sum() {
        use ark_bn254::Fq;
        let mut rng = rng();
        let p = G1Affine::rand(&mut rng);
        for n in [2usize, 63, 64, 100, 1000, 1024, 2048, 4096] {
            for case in 0..4 {
                let mut buckets = Buckets::<Fq>::new(n);
                let mut expected = G1Projective::zero();
                for b in 0..n {
                    let points = match case {
                        0 => vec![p],
                        1 if b % 2 == 0 => vec![p],
                        1 => vec![-p],
                        2 if b % 7 == 3 => vec![],
                        _ => vec![G1Affine::rand(&mut rng), p],
                    };
                    for point in points {
                        buckets.add(b, point.x, point.y);
                        expected += point * Fr::from(b as u64 + 1);
                    }
                }
                let ours = buckets.weighted_sum::<ark_bn254::g1::Config>();
                assert_eq!(
                    ours.into_affine(),
                    expected.into_affine(),
                    "n = {n}, case {case}"
                );
            }
        }
    }

    #[test]
    fn the_inlined_arithmetic_is_arkworks_arithmetic() {
        use ark_bn254::{Fq, Fq2};
        let mut rng = rng();
        let mut values: Vec<Fq> = (0..2000).map(|_| Fq::rand(&mut rng)).collect();
        // The edges: zero, one, two, p − 1, p − 2, 2^255 mod p, and a value with three full limbs.
        let top = Fq::from(2u64).pow([255]);
        values.extend([
            Fq::ZERO,
            Fq::ONE,
            Fq::from(2u64),
            -Fq::ONE,
            -Fq::from(2u64),
            top,
        ]);
        values.push(Fq::from_bigint(ark_ff::BigInt([u64::MAX, u64::MAX, u64::MAX, 0])).unwrap());
        for (a, b) in values.iter().zip(values.iter().rev()) {
            assert_eq!(FqInline::mul(*a, b), *a * b, "{a} · {b}");
            assert_eq!(FqInline::square(*a), a.square(), "{a}²");
            assert_eq!(Generic::mul(*a, b), *a * b);
        }
        for a in &values {
            assert_eq!(FqInline::mul(*a, a), a.square());
        }
        let pairs: Vec<Fq2> = values
            .iter()
            .zip(values.iter().skip(1))
            .map(|(c0, c1)| Fq2::new(*c0, *c1))
            .chain([Fq2::ZERO, Fq2::ONE, -Fq2::ONE, Fq2::new(Fq::ZERO, Fq::ONE)])
            .collect();
        for (a, b) in pairs.iter().zip(pairs.iter().rev()) {
            assert_eq!(Fq2Inline::mul(*a, b), *a * b, "{a} · {b}");
            assert_eq!(Fq2Inline::square(*a), a.square(), "{a}²");
        }
    }

    #[test]
    fn batch_inversion_gives_each_inverse_in_fq_and_fq2() {
        use ark_bn254::{Fq, Fq2};
        let mut rng = rng();
        let mut prefix = Vec::new();
        for n in [1usize, 2, 7, 512] {
            let mut fq2: Vec<Fq2> = (0..n).map(|_| Fq2::rand(&mut rng)).collect();
            // Values in the base field, purely imaginary, one and minus one.
            fq2.extend([
                Fq2::new(Fq::rand(&mut rng), Fq::ZERO),
                Fq2::new(Fq::ZERO, Fq::rand(&mut rng)),
                Fq2::ONE,
                -Fq2::ONE,
            ]);
            let expected: Vec<Fq2> = fq2.iter().map(|d| d.inverse().unwrap()).collect();
            assert!(invert_batch(&mut fq2, &mut prefix));
            assert_eq!(fq2, expected);
            let mut fq: Vec<Fq> = (0..n).map(|_| Fq::rand(&mut rng)).collect();
            let expected: Vec<Fq> = fq.iter().map(|d| d.inverse().unwrap()).collect();
            assert!(invert_batch(&mut fq, &mut Vec::new()));
            assert_eq!(fq, expected);
        }
        // A zero anywhere: refused, the values left as they were.
        let mut fq2: Vec<Fq2> = (0..5).map(|_| Fq2::rand(&mut rng)).collect();
        fq2[3] = Fq2::ZERO;
        let before = fq2.clone();
        assert!(!invert_batch(&mut fq2, &mut prefix));
        assert_eq!(fq2, before);
        let mut fq = vec![Fq::rand(&mut rng), Fq::ZERO];
        let before = fq.clone();
        assert!(!invert_batch(&mut fq, &mut Vec::new()));
        assert_eq!(fq, before);
    }

    #[test]
    fn agrees_with_arkworks_on_g2() {
        let mut rng = rng();
        for n in [1usize, 50, 700] {
            let mut bases: Vec<G2Affine> = (0..n).map(|_| G2Affine::rand(&mut rng)).collect();
            if let Some(first) = bases.first().copied() {
                bases.push(first);
                bases.push(-first);
            }
            let scalars: Vec<_> = bases
                .iter()
                .map(|_| Fr::rand(&mut rng).into_bigint())
                .collect();
            let theirs = G2Projective::msm_bigint(&bases, &scalars).into_affine();
            let ours = msm::<ark_bn254::g2::Config>(&bases, &scalars);
            assert_eq!(ours.into_affine(), theirs, "n = {n}");
            let ours = msm_with::<ark_bn254::g2::Config>(&[(&bases, &scalars)], Some(6), 1);
            assert_eq!(ours.into_affine(), theirs, "n = {n}, all affine");
        }
    }

    #[test]
    fn unreduced_scalars_are_summed_as_integers() {
        use ark_ff::BigInt;
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..300).map(|_| G1Affine::rand(&mut rng)).collect();
        let mut scalars = vec![
            BigInt::<4>([u64::MAX; 4]),
            Fr::MODULUS,
            BigInt::<4>([1, 0, 0, 1 << 63]),
        ];
        scalars.extend((3..300).map(|i| BigInt::<4>([i, i << 7, u64::MAX - i, i << 60])));
        let expected: G1Projective = bases
            .iter()
            .zip(&scalars)
            .map(|(p, s)| p.mul_bigint(s))
            .sum();
        for c in [None, Some(3), Some(12)] {
            for min_affine in [1, MIN_AFFINE_BUCKETS] {
                let ours = msm_with::<ark_bn254::g1::Config>(&[(&bases, &scalars)], c, min_affine);
                assert_eq!(ours.into_affine(), expected.into_affine(), "c = {c:?}");
            }
        }
    }

    #[test]
    fn parts_sum_to_the_sum_of_their_msms() {
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..900).map(|_| G1Affine::rand(&mut rng)).collect();
        let scalars: Vec<_> = (0..900).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
        let (b1, b2) = bases.split_at(400);
        let (s1, s2) = scalars.split_at(400);
        let whole = G1Projective::msm_bigint(&bases, &scalars);
        assert_eq!(
            msm_parts::<ark_bn254::g1::Config>(&[(b1, s1), (b2, s2)]),
            whole
        );
        // A part whose slices differ in length is cut to the shorter, as in `msm`.
        let cut = G1Projective::msm_bigint(&bases[..899], &scalars[..899]);
        assert_eq!(
            msm_parts::<ark_bn254::g1::Config>(&[(b1, s1), (b2, &s2[..499])]),
            cut
        );
        assert!(msm_parts::<ark_bn254::g1::Config>(&[]).is_zero());
    }

    #[test]
    fn a_wrong_sum_is_told_apart() {
        // The comparisons above can fail: one scalar changed by one changes the sum.
        let mut rng = rng();
        let bases: Vec<G1Affine> = (0..64).map(|_| G1Affine::rand(&mut rng)).collect();
        let scalars: Vec<Fr> = (0..64).map(|_| Fr::rand(&mut rng)).collect();
        let mut other = scalars.clone();
        other[10] += Fr::one();
        let big = |v: &[Fr]| v.iter().map(|s| s.into_bigint()).collect::<Vec<_>>();
        assert_ne!(
            msm::<ark_bn254::g1::Config>(&bases, &big(&scalars)),
            G1Projective::msm_bigint(&bases, &big(&other))
        );
        // So can the fixed-base sum's.
        let table = fixed::Table::new(&bases, 13);
        assert_ne!(
            fixed::sum::<ark_bn254::g1::Config>(&[(&table, &big(&scalars))]).unwrap(),
            G1Projective::msm_bigint(&bases, &big(&other))
        );
    }
}

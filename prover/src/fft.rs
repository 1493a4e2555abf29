//! The witness map's transforms: from a polynomial's values on a domain of size `n` (a power
//! of two) to its values on the coset of the odd powers of a root of unity of order `2n`
//! (snarkjs's QAP layout, [`crate::qap`]).
//!
//! arkworks does this in two in-order transforms (`ifft_in_place`, then `fft_in_place` on the
//! coset), each with a bit-reversal permutation, a scaling pass and its own table of roots.
//! Here one transform by decimation in frequency (values in order, coefficients out in
//! bit-reversed order) is followed by one scaling pass (`ω^k / n` for coefficient `k`, the
//! inverse transform's `1/n` and the coset's shift together) and one transform by decimation
//! in time (bit-reversed in, values in order out): no permutation, one scaling pass instead
//! of two, and no multiplication by the twiddle factor 1 (the first butterfly of every block).
//! The two halves of every block are independent transforms, so large blocks split across
//! threads. The tests below check the result against arkworks' two transforms.

use ark_ff::FftField;

/// Blocks of at least this many values split their two halves across threads.
const PARALLEL_BLOCK: usize = 1 << 11;

/// The tables of one domain size: the roots of unity for both transforms and the scaling
/// factors.
#[derive(Debug, Clone)]
pub(crate) struct OddCoset<F> {
    /// `forward[h + i] = ω_(2h)^i` for every power of two `h < n` and `i < h`, where `ω_m` is
    /// the root of order `m` of the domain: the twiddle factors of a block of `2h` values.
    forward: Vec<F>,
    /// The same with the inverse roots.
    inverse: Vec<F>,
    /// `scale[i] = ω_(2n)^rev(i) / n`, `rev` the bit reversal on `log₂ n` bits.
    scale: Vec<F>,
}

impl<F: FftField> OddCoset<F> {
    /// The tables for a domain of `n` values, `None` if `n` is not a power of two or the
    /// field has no root of unity of order `2n`.
    pub(crate) fn new(n: usize) -> Option<Self> {
        if !n.is_power_of_two() {
            return None;
        }
        let shift = F::get_root_of_unity(2 * n as u64)?;
        let omega = shift.square();
        let log_n = n.trailing_zeros();
        let half = n / 2;
        let mut forward = vec![F::zero(); n];
        let mut inverse = vec![F::zero(); n];
        if half > 0 {
            // ω^i for the largest block, then every smaller block's roots are every other one
            // of the next larger block's: ω_(2h)^i = ω_(4h)^(2i).
            let mut w = F::one();
            for slot in forward.get_mut(half..)?.iter_mut() {
                *slot = w;
                w *= omega;
            }
            // ω^(−i) = −ω^(n/2 − i) for 0 < i < n/2, since ω^(n/2) = −1.
            *inverse.get_mut(half)? = F::one();
            for i in 1..half {
                *inverse.get_mut(half + i)? = -*forward.get(n - i)?;
            }
            let mut h = half / 2;
            while h > 0 {
                for i in 0..h {
                    *forward.get_mut(h + i)? = *forward.get(2 * h + 2 * i)?;
                    *inverse.get_mut(h + i)? = *inverse.get(2 * h + 2 * i)?;
                }
                h /= 2;
            }
        }
        let mut powers = Vec::with_capacity(n);
        let mut p = F::from(n as u64).inverse()?;
        for _ in 0..n {
            powers.push(p);
            p *= shift;
        }
        let scale = (0..n)
            .map(|i| powers.get(reverse_bits(i, log_n)).copied())
            .collect::<Option<Vec<F>>>()?;
        Some(Self {
            forward,
            inverse,
            scale,
        })
    }

    /// The domain's size.
    pub(crate) fn size(&self) -> usize {
        self.scale.len()
    }

    /// Replaces the values of a polynomial of degree below `n` on the domain `ω^j` by its
    /// values on the coset `ω_(2n)·ω^j`, `j` = 0 to `n − 1`. `false` (and `values` unspecified)
    /// if `values` does not hold `n` values.
    pub(crate) fn extend(&self, values: &mut [F]) -> bool {
        if values.len() != self.size() {
            return false;
        }
        decimate_in_frequency(values, &self.inverse);
        values
            .iter_mut()
            .zip(&self.scale)
            .for_each(|(v, s)| *v *= s);
        decimate_in_time(values, &self.forward);
        true
    }
}

/// `i` with its lowest `bits` bits in reverse order.
fn reverse_bits(i: usize, bits: u32) -> usize {
    match bits {
        0 => 0,
        _ => i.reverse_bits() >> (usize::BITS - bits),
    }
}

/// The transform of `x` (a power of two values, in order) with the twiddle factors `roots`
/// (laid out as [`OddCoset::forward`]), left in bit-reversed order.
fn decimate_in_frequency<F: FftField>(x: &mut [F], roots: &[F]) {
    let h = x.len() / 2;
    if h == 0 {
        return;
    }
    let (lo, hi) = x.split_at_mut(h);
    let w = roots.get(h..2 * h).unwrap_or_default();
    for (i, ((a, b), w)) in lo.iter_mut().zip(hi.iter_mut()).zip(w).enumerate() {
        let d = *a - *b;
        *a += *b;
        *b = if i == 0 { d } else { d * w };
    }
    halves(lo, hi, roots, decimate_in_frequency);
}

/// The transform of `x` (a power of two values, in bit-reversed order) with the twiddle
/// factors `roots`, left in order.
fn decimate_in_time<F: FftField>(x: &mut [F], roots: &[F]) {
    let h = x.len() / 2;
    if h == 0 {
        return;
    }
    let (lo, hi) = x.split_at_mut(h);
    halves(lo, hi, roots, decimate_in_time);
    let w = roots.get(h..2 * h).unwrap_or_default();
    for (i, ((a, b), w)) in lo.iter_mut().zip(hi.iter_mut()).zip(w).enumerate() {
        let t = if i == 0 { *b } else { *b * w };
        *b = *a - t;
        *a += t;
    }
}

/// `f` on both halves of a block, on two threads for large blocks.
fn halves<F: FftField>(lo: &mut [F], hi: &mut [F], roots: &[F], f: fn(&mut [F], &[F])) {
    if lo.len() * 2 >= PARALLEL_BLOCK {
        rayon::join(|| f(lo, roots), || f(hi, roots));
    } else {
        f(lo, roots);
        f(hi, roots);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
    use ark_ff::{AdditiveGroup, Field, UniformRand};
    use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
    use rand::SeedableRng;

    /// arkworks' two transforms: the inverse on the domain, the forward one on the coset.
    fn arkworks(values: &[Fr]) -> Vec<Fr> {
        let n = values.len();
        let domain = Radix2EvaluationDomain::<Fr>::new(n).unwrap();
        let coset = domain
            .get_coset(Fr::get_root_of_unity(2 * n as u64).unwrap())
            .unwrap();
        let mut v = values.to_vec();
        domain.ifft_in_place(&mut v);
        coset.fft_in_place(&mut v);
        v
    }

    #[test]
    fn the_odd_coset_agrees_with_arkworks_transforms() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        // 2^12 and 2^13 split across threads; the smaller ones do not.
        for log_n in 0..=13 {
            let n = 1usize << log_n;
            let odd = OddCoset::<Fr>::new(n).unwrap();
            assert_eq!(odd.size(), n);
            let inputs: [Vec<Fr>; 3] = [
                (0..n).map(|_| Fr::rand(&mut rng)).collect(),
                (0..n).map(|i| Fr::from(i as u64)).collect(),
                (0..n).map(|i| Fr::from(u64::from(i == n - 1))).collect(),
            ];
            for values in inputs {
                let mut ours = values.clone();
                assert!(odd.extend(&mut ours));
                assert_eq!(ours, arkworks(&values), "n = {n}");
            }
        }
    }

    /// The definition itself, without arkworks: a polynomial's values on the coset.
    #[test]
    fn the_odd_coset_holds_the_polynomial_at_the_odd_powers() {
        let n = 8;
        let coefficients: Vec<Fr> = (1..=n as u64).map(|c| Fr::from(c * c + 7)).collect();
        let at = |x: Fr| {
            coefficients
                .iter()
                .rev()
                .fold(Fr::ZERO, |acc, c| acc * x + c)
        };
        let root = Fr::get_root_of_unity(2 * n as u64).unwrap();
        let mut values: Vec<Fr> = (0..n).map(|j| at(root.pow([2 * j as u64]))).collect();
        assert!(OddCoset::<Fr>::new(n).unwrap().extend(&mut values));
        for (j, v) in values.iter().enumerate() {
            assert_eq!(*v, at(root.pow([2 * j as u64 + 1])), "j = {j}");
        }
    }

    #[test]
    fn a_wrong_size_is_refused() {
        assert!(OddCoset::<Fr>::new(12).is_none());
        assert!(OddCoset::<Fr>::new(1 << 29).is_none());
        let odd = OddCoset::<Fr>::new(8).unwrap();
        assert!(!odd.extend(&mut [Fr::ONE; 4]));
    }
}

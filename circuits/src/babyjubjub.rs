//! Baby Jubjub arithmetic in circomlib's coordinates; twin of `letro_core::babyjubjub`.
//!
//! All additions use the complete twisted Edwards formulas (the curve's `a` is a square and `d`
//! is not), so for points on the curve there are no exceptional cases to argue about.
//!
//! # Soundness precondition
//!
//! [`PointVar::double`] and [`mul_var`] are only sound for points that are constrained to be on
//! the curve ([`PointVar::enforce_on_curve`]), or derived from such points by these gadgets, or
//! constants: for some points off the curve a doubling's denominator vanishes and its result is
//! unconstrained: for (0, 0) the x-denominator `a·x² + y²` is 0. [`PointVar::add`] is determined for any inputs. Costs
//! are measured by the tests below.

use ark_ec::CurveGroup;
use ark_ff::{AdditiveGroup, Field, PrimeField};
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::FieldVar, GR1CSVar};
use letro_core::babyjubjub::{self as native, Point, COEFF_A, COEFF_D};

use crate::{Boolean, ConstraintSystemRef, FpVar, SynthesisError, F};

/// A curve point `(x, y)` in the circuit. Not checked to be on the curve unless
/// [`PointVar::enforce_on_curve`] is called.
#[derive(Clone, Debug)]
pub struct PointVar {
    /// x-coordinate.
    pub x: FpVar,
    /// y-coordinate.
    pub y: FpVar,
}

fn witness(
    cs: &ConstraintSystemRef<F>,
    f: impl FnOnce() -> Option<F>,
) -> Result<FpVar, SynthesisError> {
    FpVar::new_witness(cs.clone(), || f().ok_or(SynthesisError::AssignmentMissing))
}

impl PointVar {
    /// A constant point.
    pub fn constant(p: &Point) -> Self {
        Self {
            x: FpVar::constant(p.x),
            y: FpVar::constant(p.y),
        }
    }

    /// The identity `(0, 1)`.
    pub fn identity() -> Self {
        Self {
            x: FpVar::zero(),
            y: FpVar::one(),
        }
    }

    /// A witness point (coordinates only; no constraint).
    pub fn new_witness(
        cs: ConstraintSystemRef<F>,
        p: Option<Point>,
    ) -> Result<Self, SynthesisError> {
        Ok(Self {
            x: witness(&cs, || p.map(|p| p.x))?,
            y: witness(&cs, || p.map(|p| p.y))?,
        })
    }

    /// The point's value, when known.
    pub fn value(&self) -> Option<Point> {
        Some(Point::new_unchecked(
            self.x.value().ok()?,
            self.y.value().ok()?,
        ))
    }

    fn cs(&self) -> ConstraintSystemRef<F> {
        self.x.cs().or(self.y.cs())
    }

    /// Enforces `a·x² + y² = 1 + d·x²·y²`. Cost: 3.
    pub fn enforce_on_curve(&self) -> Result<(), SynthesisError> {
        let x2 = self.x.square()?;
        let y2 = self.y.square()?;
        let lhs = &x2 * COEFF_A + &y2 - F::ONE;
        (x2 * COEFF_D).mul_equals(&y2, &lhs)
    }

    /// Complete addition (circomlib's `BabyAdd`). Cost: 6.
    ///
    /// `β = x1·y2`, `γ = y1·x2`, `δ = (y1 - a·x1)·(x2 + y2)`, `τ = β·γ`,
    /// `x3·(1 + d·τ) = β + γ`, `y3·(1 - d·τ) = δ + a·β - γ`.
    pub fn add(&self, other: &Self) -> Result<Self, SynthesisError> {
        self.add_valued(other, None)
    }

    /// [`PointVar::add`] with the sum's value when the caller computed it (else computed from
    /// the operands' values): the same constraints; a wrong value only makes them unsatisfied.
    fn add_valued(&self, other: &Self, sum: Option<Point>) -> Result<Self, SynthesisError> {
        let sum = sum.or_else(|| match (self.value(), other.value()) {
            (Some(p), Some(q)) => Some((p + q).into_affine()),
            _ => None,
        });
        let cs = self.cs().or(other.cs());
        let beta = &self.x * &other.y;
        let gamma = &self.y * &other.x;
        let delta = (&self.y - &self.x * COEFF_A) * (&other.x + &other.y);
        let tau = &beta * &gamma;
        if cs.is_none() {
            // Both operands constant.
            if let Some(r) = sum {
                return Ok(Self::constant(&r));
            }
        }
        let x3 = witness(&cs, || sum.map(|r| r.x))?;
        let y3 = witness(&cs, || sum.map(|r| r.y))?;
        x3.mul_equals(&(&tau * COEFF_D + F::ONE), &(&beta + &gamma))?;
        y3.mul_equals(
            &(FpVar::one() - &tau * COEFF_D),
            &(delta + &beta * COEFF_A - &gamma),
        )?;
        Ok(Self { x: x3, y: y3 })
    }

    /// Doubling for a point on the curve. Cost: 5.
    ///
    /// Soundness: `self` must be constrained to be on the curve (see the module docs).
    ///
    /// `x3·(a·x² + y²) = 2·x·y`, `y3·(2 - a·x² - y²) = y² - a·x²`; both denominators equal
    /// `1 ± d·x²·y²` on the curve and never vanish.
    pub fn double(&self) -> Result<Self, SynthesisError> {
        self.double_valued(None)
    }

    /// [`PointVar::double`] with the result's value when the caller computed it (else computed
    /// from the operand's value): the same constraints; a wrong value only makes them
    /// unsatisfied.
    fn double_valued(&self, r: Option<Point>) -> Result<Self, SynthesisError> {
        let r = r.or_else(|| self.value().map(|p| (p + p).into_affine()));
        let cs = self.cs();
        let xx = self.x.square()?;
        let yy = self.y.square()?;
        let xy = &self.x * &self.y;
        if cs.is_none() {
            return r
                .map(|p| Self::constant(&p))
                .ok_or(SynthesisError::AssignmentMissing);
        }
        let x3 = witness(&cs, || r.map(|p| p.x))?;
        let y3 = witness(&cs, || r.map(|p| p.y))?;
        let axx = &xx * COEFF_A;
        x3.mul_equals(&(&axx + &yy), &(xy.double()?))?;
        y3.mul_equals(&(FpVar::constant(F::from(2u64)) - &axx - &yy), &(yy - axx))?;
        Ok(Self { x: x3, y: y3 })
    }

    /// Enforces equality of both coordinates. Cost: 2.
    pub fn enforce_equal(&self, other: &Self) -> Result<(), SynthesisError> {
        self.x.enforce_equal(&other.x)?;
        self.y.enforce_equal(&other.y)
    }
}

/// `b ? t : f` for field variables. Cost: 1.
fn select(b: &Boolean, t: &FpVar, f: &FpVar) -> FpVar {
    f + FpVar::from(b.clone()) * (t - f)
}

/// `k·Base8` for a scalar given as little-endian bits (at most 253 bits).
///
/// Fixed-base windowed multiplication: 3-bit windows, each selecting one of eight precomputed
/// constants `j·8^i·Base8` with a lookup of 3 constraints (one for `b1·b2`, one per
/// coordinate), and one complete addition per window after the first.
/// Cost for 251 bits (84 windows, the last of 2 bits): 84·3 - 1 + 83·6 = 749.
pub fn mul_base8(bits: &[Boolean]) -> Result<PointVar, SynthesisError> {
    let mut acc: Option<PointVar> = None;
    let tables = base8_windows(bits.len().div_ceil(3));
    // The values of the additions below, made affine with one inversion in all.
    let mut values = mul_base8_values(bits, &tables).into_iter().flatten();
    for (chunk, table) in bits.chunks(3).zip(tables.iter()) {
        let b = |i: usize| chunk.get(i).cloned().unwrap_or(Boolean::FALSE);
        let (b0, b1, b2) = (b(0), b(1), b(2));
        let b12 = FpVar::from(b1.clone() & &b2);
        let f1 = FpVar::from(b1);
        let f2 = FpVar::from(b2);
        let coord = |c: [F; 8]| -> FpVar {
            // c(b0,b1,b2) = L0(b1,b2) + b0·L1(b1,b2), multilinear in the bits.
            let l0 = FpVar::constant(c[0])
                + &f1 * (c[2] - c[0])
                + &f2 * (c[4] - c[0])
                + &b12 * (c[6] - c[4] - c[2] + c[0]);
            let l1 = FpVar::constant(c[1] - c[0])
                + &f1 * (c[3] - c[2] - c[1] + c[0])
                + &f2 * (c[5] - c[4] - c[1] + c[0])
                + &b12 * (c[7] - c[6] - c[5] + c[4] - c[3] + c[2] + c[1] - c[0]);
            l0 + FpVar::from(b0.clone()) * l1
        };
        let entry = PointVar {
            x: coord(table.map(|p| p.x)),
            y: coord(table.map(|p| p.y)),
        };
        acc = Some(match acc {
            None => entry,
            Some(a) => a.add_valued(&entry, values.next())?,
        });
    }
    Ok(acc.unwrap_or_else(PointVar::identity))
}

/// The values of [`mul_base8`]'s additions, in its order (one per window after the first);
/// `None` when a bit has no value (setup).
fn mul_base8_values(bits: &[Boolean], tables: &[[Point; 8]]) -> Option<Vec<Point>> {
    let mut out = Vec::with_capacity(tables.len());
    let mut acc: Option<native::PointProjective> = None;
    for (chunk, table) in bits.chunks(3).zip(tables) {
        let mut k = 0;
        for (i, b) in chunk.iter().enumerate() {
            k |= usize::from(b.value().ok()?) << i;
        }
        let entry = table.get(k)?.into_group();
        acc = Some(match acc {
            None => entry,
            Some(a) => {
                let sum = a + entry;
                out.push(sum);
                sum
            }
        });
    }
    Some(native::PointProjective::normalize_batch(&out))
}

/// The windows of [`mul_base8`] for 251-bit scalars, the only width the circuit uses.
const BASE8_WINDOWS: usize = 84;

/// `table[i][j] = j·8^i·Base8` for the first `count` windows `i`: constants of the circuit,
/// computed once for [`BASE8_WINDOWS`] windows (every synthesis used to recompute them, one
/// inversion per point), afresh for any other count.
fn base8_windows(count: usize) -> std::borrow::Cow<'static, [[Point; 8]]> {
    static TABLES: std::sync::OnceLock<Vec<[Point; 8]>> = std::sync::OnceLock::new();
    if count == BASE8_WINDOWS {
        std::borrow::Cow::Borrowed(TABLES.get_or_init(|| base8_windows_uncached(BASE8_WINDOWS)))
    } else {
        std::borrow::Cow::Owned(base8_windows_uncached(count))
    }
}

fn base8_windows_uncached(count: usize) -> Vec<[Point; 8]> {
    let mut multiples = Vec::with_capacity(count * 8);
    let mut window_base = native::base8().into_group();
    for _ in 0..count {
        let mut cur = Point::new_unchecked(F::ZERO, F::ONE).into_group();
        for _ in 0..8 {
            multiples.push(cur);
            cur += window_base;
        }
        for _ in 0..3 {
            window_base.double_in_place();
        }
    }
    let affine = native::PointProjective::normalize_batch(&multiples);
    affine
        .chunks_exact(8)
        .map(|c| std::array::from_fn(|j| c.get(j).copied().unwrap_or_default()))
        .collect()
}

/// `k·P` for a variable point `P` on the curve and a scalar given as little-endian bits.
///
/// Soundness: `p` must be constrained to be on the curve (see the module docs).
///
/// 2-bit windows from the most significant end over the table `{O, P, 2P, 3P}` (one doubling
/// and one addition to build it): each window costs two doublings (10), a lookup from the
/// variable table (6) and an addition (6). Cost for 254 bits: 11 + 6 + 126·22 = 2,789.
pub fn mul_var(p: &PointVar, bits: &[Boolean]) -> Result<PointVar, SynthesisError> {
    // The values of every doubling and addition below, in their order, made affine with one
    // inversion in all (one each would make this the slowest part of the synthesis).
    let mut values = mul_var_values(p, bits).into_iter().flatten();
    let p2 = p.double_valued(values.next())?;
    let p3 = p2.add_valued(p, values.next())?;
    let o = PointVar::identity();
    let table = [o, p.clone(), p2, p3];
    let lookup = |b0: &Boolean, b1: &Boolean| -> PointVar {
        let pick = |f: fn(&PointVar) -> &FpVar| {
            let lo = select(b0, f(&table[1]), f(&table[0]));
            let hi = select(b0, f(&table[3]), f(&table[2]));
            select(b1, &hi, &lo)
        };
        PointVar {
            x: pick(|q| &q.x),
            y: pick(|q| &q.y),
        }
    };
    let mut acc: Option<PointVar> = None;
    let windows: Vec<&[Boolean]> = bits.chunks(2).collect();
    for w in windows.iter().rev() {
        let b0 = w.first().cloned().unwrap_or(Boolean::FALSE);
        let b1 = w.get(1).cloned().unwrap_or(Boolean::FALSE);
        let entry = lookup(&b0, &b1);
        acc = Some(match acc {
            None => entry,
            Some(a) => {
                let d = a.double_valued(values.next())?;
                let d = d.double_valued(values.next())?;
                d.add_valued(&entry, values.next())?
            }
        });
    }
    Ok(acc.unwrap_or_else(PointVar::identity))
}

/// The values [`mul_var`] computes, in its order: `2P`, `3P`, then two doublings and an
/// addition per window after the first; `None` when `P` or a bit has no value (setup).
fn mul_var_values(p: &PointVar, bits: &[Boolean]) -> Option<Vec<Point>> {
    let p = p.value()?.into_group();
    let bits: Vec<bool> = bits.iter().map(|b| b.value().ok()).collect::<Option<_>>()?;
    let p2 = p + p;
    let table = [native::PointProjective::ZERO, p, p2, p2 + p];
    let mut out = vec![p2, p2 + p];
    let mut acc: Option<native::PointProjective> = None;
    for w in bits.chunks(2).rev() {
        let k = usize::from(w.first() == Some(&true)) + 2 * usize::from(w.get(1) == Some(&true));
        let entry = *table.get(k)?;
        acc = Some(match acc {
            None => entry,
            Some(a) => {
                let d1 = a + a;
                let d2 = d1 + d1;
                let sum = d2 + entry;
                out.extend([d1, d2, sum]);
                sum
            }
        });
    }
    Some(native::PointProjective::normalize_batch(&out))
}

/// The modulus of the subgroup order `l` as a big integer.
pub fn subgroup_order() -> <F as PrimeField>::BigInt {
    let mut out = <F as PrimeField>::BigInt::from(0u64);
    let l = <native::Fs as PrimeField>::MODULUS;
    out.0.copy_from_slice(&l.0);
    out
}

use ark_ec::AffineRepr;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::to_bits_le;
    use ark_relations::gr1cs::ConstraintSystem;
    use letro_core::babyjubjub::{mul_base8 as native_mul_base8, mul_fr, Fs};
    use proptest::prelude::*;

    fn cs() -> ConstraintSystemRef<F> {
        ConstraintSystem::<F>::new_ref()
    }

    #[test]
    fn the_fixed_base_windows_are_the_native_multiples() {
        // Cached (84 windows) and fresh (other counts) alike: j·8^i·Base8.
        for count in [BASE8_WINDOWS, 3] {
            let tables = base8_windows(count);
            assert_eq!(tables.len(), count);
            let mut eight_i = Fs::from(1u64);
            for window in tables.iter() {
                for (j, p) in window.iter().enumerate() {
                    assert_eq!(
                        *p,
                        native_mul_base8(&(eight_i * Fs::from(j as u64))),
                        "{count}"
                    );
                }
                eight_i *= Fs::from(8u64);
            }
        }
    }

    #[test]
    fn add_double_match_native_and_cost() {
        let p = native_mul_base8(&Fs::from(5u64));
        let q = native_mul_base8(&Fs::from(11u64));
        let cs = cs();
        let pv =
            PointVar::new_witness(cs.clone(), Some(p)).unwrap_or_else(|_| PointVar::identity());
        let qv =
            PointVar::new_witness(cs.clone(), Some(q)).unwrap_or_else(|_| PointVar::identity());
        let before = cs.num_constraints();
        let s = pv.add(&qv).ok().and_then(|s| s.value());
        assert_eq!(cs.num_constraints() - before, 6);
        assert_eq!(s, Some((p + q).into_affine()));
        let before = cs.num_constraints();
        let d = pv.double().ok().and_then(|d| d.value());
        assert_eq!(cs.num_constraints() - before, 5);
        assert_eq!(d, Some((p + p).into_affine()));
        let before = cs.num_constraints();
        assert!(pv.enforce_on_curve().is_ok());
        assert_eq!(cs.num_constraints() - before, 3);
        assert_eq!(cs.is_satisfied().ok(), Some(true));
    }

    #[test]
    fn off_curve_point_is_unsatisfied() {
        let cs = cs();
        let bad = Point::new_unchecked(F::from(1u64), F::from(2u64));
        let pv =
            PointVar::new_witness(cs.clone(), Some(bad)).unwrap_or_else(|_| PointVar::identity());
        assert!(pv.enforce_on_curve().is_ok());
        assert_eq!(cs.is_satisfied().ok(), Some(false));
    }

    fn scalar_mul_case(k: F, var: bool) -> (Option<Point>, Point, usize) {
        let cs = cs();
        let kv = FpVar::new_witness(cs.clone(), || Ok(k)).unwrap_or(FpVar::zero());
        let p = native_mul_base8(&Fs::from(7u64));
        let nbits = if var { 254 } else { 251 };
        let bits = to_bits_le(&kv, nbits).unwrap_or_default();
        let before = cs.num_constraints();
        let out = if var {
            let pv =
                PointVar::new_witness(cs.clone(), Some(p)).unwrap_or_else(|_| PointVar::identity());
            mul_var(&pv, &bits)
        } else {
            mul_base8(&bits)
        };
        let cost = cs.num_constraints() - before;
        assert_eq!(cs.is_satisfied().ok(), Some(true));
        let expected = if var {
            mul_fr(&p, &k)
        } else {
            mul_fr(&native::base8(), &k)
        };
        (out.ok().and_then(|o| o.value()), expected, cost)
    }

    #[test]
    fn scalar_mul_costs() {
        let (got, want, cost) = scalar_mul_case(F::from(123456789u64), false);
        assert_eq!(got, Some(want));
        // The last window has two bits: its b1·b2 is a constant.
        assert_eq!(cost, 84 * 3 - 1 + 83 * 6);
        let (got, want, cost) = scalar_mul_case(-F::ONE, true);
        assert_eq!(got, Some(want));
        assert_eq!(cost, 11 + 6 + 126 * 22);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn scalar_mul_agrees_with_native(limbs in any::<[u64; 4]>(), var in any::<bool>()) {
            let mut k = F::from(limbs[0]);
            for l in &limbs[1..] {
                k = k * F::from(u64::MAX) + F::from(*l);
            }
            if !var {
                // Fixed-base scalars are below l < 2^251.
                let reduced = Fs::from_le_bytes_mod_order(&ark_ff::BigInteger::to_bytes_le(&k.into_bigint()));
                k = F::from_le_bytes_mod_order(&ark_ff::BigInteger::to_bytes_le(&reduced.into_bigint()));
            }
            let (got, want, _) = scalar_mul_case(k, var);
            prop_assert_eq!(got, Some(want));
        }
    }
}

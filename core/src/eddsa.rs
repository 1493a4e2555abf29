//! EdDSA-Poseidon on Baby Jubjub, exactly as circomlibjs `signPoseidon` / `verifyPoseidon` and
//! @zk-kit/eddsa-poseidon (BLAKE-512 key derivation) do it.
//!
//! Signing (deterministic, no randomness):
//! 1. `h = BLAKE-512(private_key)`; `s` = prune(h[0..32]) read little-endian
//!    (clear the low 3 bits, clear bit 255, set bit 254);
//! 2. `A = (s >> 3)·Base8`;
//! 3. `r = BLAKE-512(h[32..64] || le32(msg)) mod l`, `R8 = r·Base8`;
//! 4. `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`; `S = (r + hm·s) mod l`.
//!
//! Verification: `S < l` (enforced by the [`Fs`] type and its parser), `A` and `R8` on the
//! curve, `A` not of small order, and `S·Base8 = R8 + (8·hm)·A`, as circomlib's
//! `EdDSAPoseidonVerifier` checks it. R8 is not checked for subgroup membership on its own, but
//! the equation forces it: `S·Base8` and `(8·hm)·A` are both in the prime-order subgroup, so an
//! `R8` with a torsion component never verifies. `A` may carry a torsion component (the factor 8
//! removes it).
//!
//! [`PublicKey::verify`] reduces `hm` to a pair `a ≡ b·hm (mod l)` of half-size integers (`b`
//! odd) and checks `(b·S)·Base8 − a·(8·A) − b·R8 = 0`, which holds exactly when the equation
//! above does, with one four-point multi-scalar multiplication of 128-bit scalars (Straus's
//! method with width-5 wNAF digits, sharing about 128 doublings instead of 253). This is the
//! technique of T. Pornin, "Optimized Lattice Basis Reduction In Dimension 2, and Fast Schnorr
//! and EdDSA Signature Verification" (2020); `verify_equation` gives the argument.
//! [`verify_batch`] checks many signatures with one random linear combination;
//! its documentation gives the soundness argument and how it stays equivalent to `verify`.

use std::sync::OnceLock;

use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};
use ark_std::rand::{CryptoRng, RngCore};
use blake_hash::{Blake512, Digest};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::babyjubjub::{self, base8, mul_be_bytes, Fs, Point, PointProjective};
use crate::field::fr_to_be_bytes;
use crate::{poseidon, Fr};

/// A Baby Jubjub private key: 32 secret bytes, expanded with BLAKE-512 as circomlibjs does.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; 32]);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// A public key `A`: a curve point of which we only require that it is not of small order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(Point);

/// A signature `(R8, S)` with `S < l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The nonce point `R8 = r·Base8`.
    pub r8: Point,
    /// The scalar `S = r + hm·s mod l`.
    pub s: Fs,
}

/// Why a signature or key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EddsaError {
    /// The public key is not a valid point.
    #[error("receipt public key: {0}")]
    PublicKey(babyjubjub::PointError),
    /// R8 is not on the curve.
    #[error("signature point R8 is not on the curve")]
    R8NotOnCurve,
    /// S is not below the subgroup order.
    #[error("signature scalar S is not below the subgroup order")]
    SNotReduced,
    /// The verification equation does not hold.
    #[error("signature does not verify")]
    Invalid,
}

impl PrivateKey {
    /// Wraps 32 secret bytes (from a CSPRNG, or a stored key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    fn expand(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let mut digest = Blake512::digest(&self.0);
        out.copy_from_slice(&digest);
        digest.as_mut_slice().zeroize();
        out
    }

    /// The pruned secret scalar `s` (little-endian 32 bytes), as circomlibjs derives it.
    fn scalar_le(h: &[u8; 64]) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&h[..32]);
        s[0] &= 0xf8;
        s[31] &= 0x7f;
        s[31] |= 0x40;
        s
    }

    /// The public key `A = (s >> 3)·Base8`.
    pub fn public_key(&self) -> PublicKey {
        let mut h = self.expand();
        let mut s = Self::scalar_le(&h);
        let a = mul_be_bytes(&base8(), &shr3_be(&s));
        h.zeroize();
        s.zeroize();
        PublicKey(a)
    }

    /// Signs a field element, deterministically.
    pub fn sign(&self, msg: &Fr) -> Signature {
        let mut h = self.expand();
        let mut s_le = Self::scalar_le(&h);
        let a = mul_be_bytes(&base8(), &shr3_be(&s_le));

        let mut msg_le = fr_to_be_bytes(msg);
        msg_le.reverse();
        let mut hasher = Blake512::new();
        hasher.update(&h[32..]);
        hasher.update(msg_le);
        let r_hash = hasher.finalize();
        let r = Fs::from_le_bytes_mod_order(&r_hash);
        let r8 = babyjubjub::mul_base8(&r);

        let hm = challenge(&r8, &a, msg);
        let s = Fs::from_le_bytes_mod_order(&s_le);
        let hm_s = Fs::from_be_bytes_mod_order(&fr_to_be_bytes(&hm));
        h.zeroize();
        s_le.zeroize();
        Signature {
            r8,
            s: r + hm_s * s,
        }
    }
}

fn shr3_be(s_le: &[u8; 32]) -> [u8; 32] {
    let mut be = *s_le;
    be.reverse();
    let mut out = [0u8; 32];
    let mut carry = 0u8;
    for (o, b) in out.iter_mut().zip(be.iter()) {
        *o = (b >> 3) | carry;
        carry = b << 5;
    }
    out
}

/// `hm = Poseidon(R8.x, R8.y, A.x, A.y, msg)`.
pub fn challenge(r8: &Point, a: &Point, msg: &Fr) -> Fr {
    poseidon::hash([r8.x, r8.y, a.x, a.y, *msg])
}

impl PublicKey {
    /// A public key from a point: it must be on the curve and not of small order.
    pub fn from_point(p: Point) -> Result<Self, EddsaError> {
        if !babyjubjub::is_on_curve(&p.x, &p.y) {
            return Err(EddsaError::PublicKey(babyjubjub::PointError::NotOnCurve));
        }
        if babyjubjub::is_small_order(&p) {
            return Err(EddsaError::PublicKey(babyjubjub::PointError::SmallOrder));
        }
        Ok(Self(p))
    }

    /// A public key from coordinates.
    pub fn from_coords(x: Fr, y: Fr) -> Result<Self, EddsaError> {
        Self::from_point(babyjubjub::point_on_curve(x, y).map_err(EddsaError::PublicKey)?)
    }

    /// The point `A`.
    pub fn point(&self) -> &Point {
        &self.0
    }

    /// Verifies `sig` on `msg`: `S·Base8 = R8 + (8·hm)·A`, checked as
    /// `(b·S)·Base8 − a·(8·A) − b·R8 = 0` with half-size `a ≡ b·hm (mod l)` and one four-point
    /// multiplication (see `verify_equation`).
    pub fn verify(&self, msg: &Fr, sig: &Signature) -> Result<(), EddsaError> {
        if !babyjubjub::is_on_curve(&sig.r8.x, &sig.r8.y) {
            return Err(EddsaError::R8NotOnCurve);
        }
        let hm = challenge(&sig.r8, &self.0, msg);
        // 8·A is in the prime-order subgroup, so hm may be reduced modulo l.
        let a8 = self.0.mul_by_cofactor_to_group();
        if verify_equation(&sig.s, &a8, &sig.r8, &fr_to_fs(&hm)) == Some(true) {
            Ok(())
        } else {
            Err(EddsaError::Invalid)
        }
    }

    /// The reference verification: `S·Base8` and `R8 + (8·hm)·A` computed separately with
    /// double-and-add, as circomlibjs writes it. Slower than [`PublicKey::verify`], which accepts
    /// exactly the same signatures; kept for tests and benchmarks.
    pub fn verify_reference(&self, msg: &Fr, sig: &Signature) -> Result<(), EddsaError> {
        if !babyjubjub::is_on_curve(&sig.r8.x, &sig.r8.y) {
            return Err(EddsaError::R8NotOnCurve);
        }
        let hm = challenge(&sig.r8, &self.0, msg);
        let left = babyjubjub::mul_base8(&sig.s);
        let a8 = self.0.mul_by_cofactor();
        let right = (sig.r8 + babyjubjub::mul_fr(&a8, &hm)).into_affine();
        if left == right {
            Ok(())
        } else {
            Err(EddsaError::Invalid)
        }
    }
}

/// `hm` reduced modulo `l` (only valid as a multiplier of points in the prime-order subgroup).
fn fr_to_fs(x: &Fr) -> Fs {
    Fs::from_be_bytes_mod_order(&fr_to_be_bytes(x))
}

/// Width of the signed-digit (wNAF) windows of the multi-point multiplication.
const WNAF_WIDTH: usize = 5;
/// Odd multiples `P, 3P, …, 15P` kept per point for width-5 digits (`|digit| ≤ 15`).
const WNAF_TABLE: usize = 1 << (WNAF_WIDTH - 2);

/// `P, 3P, 5P, …` for [`WNAF_TABLE`] entries.
fn odd_multiples(p: PointProjective) -> [PointProjective; WNAF_TABLE] {
    let p2 = p.double();
    let mut out = [PointProjective::zero(); WNAF_TABLE];
    let mut cur = p;
    for o in out.iter_mut() {
        *o = cur;
        cur += &p2;
    }
    out
}

/// The odd multiples of Base8 and of `2^128·Base8`, in affine form (mixed additions are
/// cheaper), computed once.
fn base8_tables() -> (&'static [Point; WNAF_TABLE], &'static [Point; WNAF_TABLE]) {
    static TABLES: OnceLock<[[Point; WNAF_TABLE]; 2]> = OnceLock::new();
    let [lo, hi] = TABLES.get_or_init(|| {
        let mut two_128 = [0u8; 17];
        two_128[0] = 1;
        [base8(), mul_be_bytes(&base8(), &two_128)].map(|p| {
            let projective = odd_multiples(p.into_group());
            let affine = PointProjective::normalize_batch(&projective);
            let mut out = [Point::zero(); WNAF_TABLE];
            for (o, a) in out.iter_mut().zip(affine) {
                *o = a;
            }
            out
        })
    });
    (lo, hi)
}

/// Adds `digit·P` to `acc`, where `table` holds the odd multiples of `P` and `digit` is an odd
/// wNAF digit or zero. `None` if the digit is out of the table's range (a bug).
fn add_digit<T>(acc: &mut PointProjective, table: &[T], digit: i64) -> Option<()>
where
    PointProjective: for<'a> std::ops::AddAssign<&'a T> + for<'a> std::ops::SubAssign<&'a T>,
{
    if digit == 0 {
        return Some(());
    }
    let index = usize::try_from(digit.unsigned_abs() / 2).ok()?;
    let entry = table.get(index)?;
    if digit > 0 {
        *acc += entry;
    } else {
        *acc -= entry;
    }
    Some(())
}

/// The integers of the subgroup order's size, as arkworks stores them.
type Uint = <Fs as PrimeField>::BigInt;

/// Where [`half_size`] stops: about half the bit length of `l` (251 bits).
const HALF_BITS: u32 = 126;

/// For `k` modulo `l`, integers `a ≥ 0` and `b` with `a ≡ b·k (mod l)`, `b` odd, and both of
/// about half the size of `l` (126 bits on average; 2,000 random `k` in the tests all gave at
/// most 136 bits, and the bound is `l` itself); returned as `(a, |b|, b < 0)`.
///
/// Euclid's algorithm on `(l, k)` with the Bézout coefficient of `k` alongside: every row
/// `(r, t)` keeps `r ≡ t·k (mod l)`, and the two current rows keep `r₀·t₁ − r₁·t₀ = ±l`. Each
/// quotient is applied as a series of subtractions of `2^j·row₁` (each at least halves `r₀`),
/// and the algorithm stops at the first remainder below `2^126`: then `|t₁| ≤ l / r₀ < 2^125`.
/// `l` is odd, so `t₀` and `t₁` are never both even; the row with the odd coefficient is taken
/// (usually the last one). `t` is kept in two's complement on 256 bits (`|t| ≤ l < 2^252`).
fn half_size(k: &Fs) -> (Uint, Uint, bool) {
    let mut r0 = Fs::MODULUS;
    let mut t0 = Uint::zero();
    let mut r1 = k.into_bigint();
    let mut t1 = Uint::from(1u64);
    while r1.num_bits() > HALF_BITS {
        while r0 >= r1 {
            let mut shift = r0.num_bits() - r1.num_bits();
            if (r1 << shift) > r0 {
                shift -= 1;
            }
            r0.sub_with_borrow(&(r1 << shift));
            t0.sub_with_borrow(&(t1 << shift));
        }
        std::mem::swap(&mut r0, &mut r1);
        std::mem::swap(&mut t0, &mut t1);
    }
    let (a, t) = if t1.is_odd() { (r1, t1) } else { (r0, t0) };
    let negative = t.get_bit(255);
    let mut magnitude = t;
    if negative {
        magnitude = Uint::zero();
        magnitude.sub_with_borrow(&t);
    }
    (a, magnitude, negative)
}

/// Whether `S·Base8 − hm·(8A) = R8`, checked with scalars of half the size.
///
/// With `(a, b)` from [`half_size`] for `hm`: `b·(S·Base8 − hm·8A − R8) = (b·S mod l)·Base8 −
/// a·8A − b·R8`, because Base8 and 8A have order `l` and `b·hm ≡ a`. The curve group has order
/// `8·l` and `b` is odd with `0 < |b| < l`, so multiplying by `b` is a bijection of the group:
/// the left side is the identity exactly when `S·Base8 − hm·8A − R8` is, torsion in `R8`
/// included. `b·S mod l` is split as `lo + hi·2^128` with a fixed table for `2^128·Base8`, so
/// all four scalars have about 128 bits and the four-point Straus multiplication needs about
/// 128 doublings instead of 253. `None` only on an internal inconsistency (a bug); the caller
/// then rejects.
fn verify_equation(s: &Fs, a8: &PointProjective, r8: &Point, hm: &Fs) -> Option<bool> {
    let (a, b, b_negative) = half_size(hm);
    let b_fs = Fs::from_bigint(b)?;
    let b_fs = if b_negative { -b_fs } else { b_fs };
    // The decomposition's promise, checked (two multiplications): a ≡ b·hm and b odd.
    if !b.is_odd() || Fs::from_bigint(a)? != b_fs * hm {
        return None;
    }
    let bs = (b_fs * s).into_bigint();
    let bs_lo = Uint::new([bs.0[0], bs.0[1], 0, 0]);
    let bs_hi = bs >> 128;
    // −b·R8 = |b|·(∓R8).
    let r8 = if b_negative {
        r8.into_group()
    } else {
        -r8.into_group()
    };
    let a8_table = odd_multiples(-*a8);
    let r8_table = odd_multiples(r8);
    let (lo_table, hi_table) = base8_tables();
    let digits = [
        bs_lo.find_wnaf(WNAF_WIDTH)?,
        bs_hi.find_wnaf(WNAF_WIDTH)?,
        a.find_wnaf(WNAF_WIDTH)?,
        b.find_wnaf(WNAF_WIDTH)?,
    ];
    let len = digits.iter().map(Vec::len).max()?;
    let [d_lo, d_hi, d_a, d_b] = digits;
    let digit = |d: &[i64], i: usize| d.get(i).copied().unwrap_or(0);
    let mut acc = PointProjective::zero();
    for i in (0..len).rev() {
        acc.double_in_place();
        add_digit(&mut acc, lo_table, digit(&d_lo, i))?;
        add_digit(&mut acc, hi_table, digit(&d_hi, i))?;
        add_digit(&mut acc, &a8_table, digit(&d_a, i))?;
        add_digit(&mut acc, &r8_table, digit(&d_b, i))?;
    }
    Some(acc.is_zero())
}

/// Constants of the subgroup test [`r8_in_subgroup`]: an order-8 point `T` in Montgomery
/// coordinates (`v² = u³ + 168698·u² + u`, the Montgomery form of circomlib's curve with B = 1),
/// `2T`, the tangent slopes at `T` and `2T`, and the exponent `(p − 1)/8`.
struct TateConstants {
    u_t: Fr,
    v_t: Fr,
    slope_t: Fr,
    u_2t: Fr,
    v_2t: Fr,
    slope_2t: Fr,
    exponent: <Fr as PrimeField>::BigInt,
}

/// The Montgomery coordinates `(u, v) = ((1 + y)/(1 − y), u/x)` of an Edwards point with
/// `x ≠ 0`.
fn to_montgomery(p: &Point) -> Option<(Fr, Fr)> {
    let inv = ((Fr::ONE - p.y) * p.x).inverse()?;
    let u = (Fr::ONE + p.y) * inv * p.x;
    let v = (Fr::ONE + p.y) * inv;
    Some((u, v))
}

/// The slope of the tangent at `(u, v)`: `(3u² + 2Au + 1) / 2v`.
fn tangent_slope(u: Fr, v: Fr) -> Option<Fr> {
    let a = <babyjubjub::BabyJubjubConfig as ark_ec::twisted_edwards::MontCurveConfig>::COEFF_A;
    let num = u.square() * Fr::from(3u64) + a * u.double() + Fr::ONE;
    Some(num * v.double().inverse()?)
}

fn tate_constants() -> Option<&'static TateConstants> {
    static CONSTANTS: OnceLock<Option<TateConstants>> = OnceLock::new();
    CONSTANTS
        .get_or_init(|| {
            let a =
                <babyjubjub::BabyJubjubConfig as ark_ec::twisted_edwards::MontCurveConfig>::COEFF_A;
            let l = Fs::MODULUS.to_bytes_be();
            // An order-8 point: l·P for a curve point P whose torsion component has order 8.
            let t = (2u64..64).find_map(|y| {
                let y = Fr::from(y);
                let y2 = y.square();
                let x2 =
                    (Fr::ONE - y2) * (babyjubjub::COEFF_A - babyjubjub::COEFF_D * y2).inverse()?;
                let t = mul_be_bytes(&Point::new_unchecked(x2.sqrt()?, y), &l);
                (!mul_be_bytes(&t, &[4]).is_zero()).then_some(t)
            })?;
            let (u_t, v_t) = to_montgomery(&t)?;
            let slope_t = tangent_slope(u_t, v_t)?;
            let u_2t = slope_t.square() - a - u_t.double();
            let v_2t = slope_t * (u_t - u_2t) - v_t;
            let slope_2t = tangent_slope(u_2t, v_2t)?;
            let mut exponent = Fr::MODULUS;
            exponent.sub_with_borrow(&<Fr as PrimeField>::BigInt::from(1u64));
            let exponent = exponent >> 3;
            Some(TateConstants {
                u_t,
                v_t,
                slope_t,
                u_2t,
                v_2t,
                slope_2t,
                exponent,
            })
        })
        .as_ref()
}

/// Whether a curve point is in the prime-order subgroup, by the reduced Tate pairing with an
/// order-8 point `T` instead of computing `l·P`: one inversion, a few multiplications and one
/// exponentiation, several times cheaper than `l·P`.
///
/// The curve group is `Z/8 × Z/l` and 8 divides `p − 1`, so `Q ↦ f_{8,T}(Q)^((p−1)/8)` is a
/// homomorphism onto the 8th roots of unity whose kernel is `8E`, the prime-order subgroup.
/// `f_{8,T} = ℓ_T⁴·ℓ_2T² / (v_2T⁴·u)` (Miller's algorithm; `4T = (0, 0)`, whose tangent is the
/// vertical `u`), with `ℓ` the tangents and `v_2T = u − u_2T`, all monic at infinity. Factors that
/// are 8th powers do not change the result, so denominators are multiplied in with exponent 7
/// instead of inverted. Small-order points, where these functions vanish, are decided directly
/// (only the identity is in the subgroup). `None` only if the constants cannot be set up (a
/// bug). Tests compare it with `l·P` on points with every torsion component.
/// Whether `q` (a point on the curve) is in the prime-order subgroup: the same answer as
/// [`babyjubjub::is_in_prime_subgroup`], by the pairing test of `r8_in_subgroup` (about 10x
/// cheaper than `l·q`); falls back to `l·q` if the test's constants cannot be set up.
pub fn in_prime_subgroup(q: &Point) -> bool {
    r8_in_subgroup(q).unwrap_or_else(|| babyjubjub::is_in_prime_subgroup(q))
}

fn r8_in_subgroup(q: &Point) -> Option<bool> {
    if babyjubjub::is_small_order(q) {
        return Some(q.is_zero());
    }
    let c = tate_constants()?;
    // u = N/D, v = N/(D·x) with N = 1 + y, D = 1 − y; x ≠ 0 and D ≠ 0 for points not of small
    // order. Each line times D·x (or D) is a polynomial in N, D, x.
    let (n, d, x) = (Fr::ONE + q.y, Fr::ONE - q.y, q.x);
    let dx = d * x;
    let l1 = n - c.v_t * dx - c.slope_t * x * (n - c.u_t * d);
    let l2 = n - c.v_2t * dx - c.slope_2t * x * (n - c.u_2t * d);
    let v2 = n - c.u_2t * d;
    // f = L1⁴·L2²/(V2⁴·N) · D^-1·x^-6, up to 8th powers
    //   ≡ L1⁴·L2²·V2⁴·N⁷·D⁷·x² (mod 8th powers).
    let nd = n * d;
    let nd7 = nd.square() * nd;
    let nd7 = nd7.square() * nd;
    let l1_4 = l1.square().square();
    let h = l1_4 * l2.square() * v2.square().square() * nd7 * x.square();
    Some(h.pow(c.exponent) == Fr::ONE)
}

/// The result of a failed [`verify_batch`]: one result per item, in order, exactly as
/// [`PublicKey::verify`] gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {} signatures in the batch do not verify", self.bad_indices().len(), self.results.len())]
pub struct BatchError {
    /// The per-item results; at least one is an error.
    pub results: Vec<Result<(), EddsaError>>,
}

impl BatchError {
    /// The positions of the items that do not verify.
    pub fn bad_indices(&self) -> Vec<usize> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.is_err().then_some(i))
            .collect()
    }
}

/// Verifies many `(public key, message, signature)` items at once; accepts exactly when
/// [`PublicKey::verify`] accepts every item (except with probability at most 2^-128 per call,
/// over `rng`). On failure, says which items are bad, with the error `verify` gives for each.
///
/// `rng` must be a cryptographically secure generator the signers cannot predict or influence
/// (`rand::rngs::OsRng`, `rand::thread_rng()`); core draws no randomness of its own.
///
/// # Method
///
/// 1. Per item, the checks [`PublicKey::verify`] makes before its equation: `R8` on the curve
///    (else [`EddsaError::R8NotOnCurve`]). `A` on the curve and not of small order, and `S < l`,
///    hold by construction of [`PublicKey`] and [`Signature`].
/// 2. Per item, `R8` in the prime-order subgroup, else [`EddsaError::Invalid`]. Single
///    verification rejects such an `R8` too: `S·Base8` and `(8·hm)·A` lie in the subgroup, so
///    `R8 = S·Base8 − (8·hm)·A` does. This step is what keeps the batch exactly equivalent (see
///    below).
/// 3. Draw independent uniform 128-bit `z_i` and check, with one multi-scalar multiplication,
///    `(Σ z_i·S_i)·Base8 − Σ z_i·R8_i − Σ (z_i·hm_i)·(8·A_i) = 0`.
/// 4. If the equation fails, or step 1 or 2 rejected an item, verify the remaining items one by
///    one and return every item's result.
///
/// # Soundness and equivalence with single verification
///
/// Write `D_i = S_i·Base8 − R8_i − hm_i·(8·A_i)`; single verification accepts item `i` exactly
/// when `D_i = 0` (and steps 1–2 pass). After step 2 every term of `D_i` lies in the subgroup of
/// prime order `l` (`Base8`, `R8_i`, and `8·A_i`, which is why `A_i` enters multiplied by the
/// cofactor, exactly like circomlib's equation), so `D_i` does too.
/// - If every item verifies, every `D_i = 0` and the batch accepts, whatever the `z_i`.
/// - If some `D_j ≠ 0`, then for any values of the other `z_i`, at most one residue of `z_j`
///   modulo `l` makes `Σ z_i·D_i = 0` (`D_j` generates the group). `z_j` is uniform on
///   `[0, 2^128)` and `2^128 < l`, so the batch accepts with probability at most 2^-128.
///
/// Without step 2 the batch would not be equivalent: the 8-torsion components `T_i` of the
/// `R8_i` enter as `Σ z_i·T_i`, which is zero with probability at least 1/8 for one bad item
/// (`z_i ≡ 0 mod 8`), and always for two items with `T` and `−T` if the `z_i` were chosen
/// with a fixed residue modulo 8; no choice of random coefficients removes this, and
/// multiplying the equation by 8 would accept every torsioned `R8` that single verification
/// rejects. A torsion component on `A_i` needs no such step: it is removed by the factor 8 in
/// both checks, so both accept circomlib's torsion-key "quirk" signatures.
pub fn verify_batch<R: RngCore + CryptoRng>(
    items: &[(PublicKey, Fr, Signature)],
    rng: &mut R,
) -> Result<(), BatchError> {
    let mut results: Vec<Result<(), EddsaError>> = Vec::with_capacity(items.len());
    let mut base_scalar = Fs::zero();
    let mut bases: Vec<Point> = Vec::with_capacity(2 * items.len() + 1);
    let mut scalars: Vec<Fs> = Vec::with_capacity(2 * items.len() + 1);
    let mut keys8: Vec<PointProjective> = Vec::with_capacity(items.len());
    let mut key_scalars: Vec<Fs> = Vec::with_capacity(items.len());
    for (pk, msg, sig) in items {
        // Steps 1 and 2.
        if !babyjubjub::is_on_curve(&sig.r8.x, &sig.r8.y) {
            results.push(Err(EddsaError::R8NotOnCurve));
            continue;
        }
        if r8_in_subgroup(&sig.r8) != Some(true) {
            results.push(Err(EddsaError::Invalid));
            continue;
        }
        results.push(Ok(()));
        let hm = fr_to_fs(&challenge(&sig.r8, &pk.0, msg));
        let mut z_bytes = [0u8; 16];
        rng.fill_bytes(&mut z_bytes);
        let z = Fs::from(u128::from_le_bytes(z_bytes));
        base_scalar += z * sig.s;
        bases.push(sig.r8);
        scalars.push(-z);
        keys8.push(pk.0.mul_by_cofactor_to_group());
        key_scalars.push(-(z * hm));
    }
    // Step 3.
    bases.push(base8());
    scalars.push(base_scalar);
    bases.extend(PointProjective::normalize_batch(&keys8));
    scalars.extend(key_scalars);
    let combined = PointProjective::msm(&bases, &scalars);
    let all_passed = results.iter().all(Result::is_ok);
    if all_passed && combined.is_ok_and(|c| c.is_zero()) {
        return Ok(());
    }
    // Step 4.
    for ((pk, msg, sig), r) in items.iter().zip(results.iter_mut()) {
        if r.is_ok() {
            *r = pk.verify(msg, sig);
        }
    }
    if results.iter().all(Result::is_ok) {
        // Only reachable with probability 2^-128 or less: the batch equation failed although
        // every item verifies. The items are what count.
        return Ok(());
    }
    Err(BatchError { results })
}

impl Signature {
    /// A signature from `R8` coordinates and `S` given as an integer (big-endian bytes); rejects
    /// `R8` off the curve and `S >= l`.
    pub fn from_parts(r8x: Fr, r8y: Fr, s_be: &[u8; 32]) -> Result<Self, EddsaError> {
        let r8 = babyjubjub::point_on_curve(r8x, r8y).map_err(|_| EddsaError::R8NotOnCurve)?;
        let s = Fs::from_be_bytes_mod_order(s_be);
        let mut canon = [0u8; 32];
        let bytes = s.into_bigint().to_bytes_be();
        canon.copy_from_slice(&bytes);
        if canon != *s_be {
            return Err(EddsaError::SNotReduced);
        }
        Ok(Self { r8, s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let sk = PrivateKey::from_bytes([7u8; 32]);
        let pk = sk.public_key();
        assert!(babyjubjub::is_in_prime_subgroup(pk.point()));
        let msg = Fr::from(1234u64);
        let sig = sk.sign(&msg);
        assert_eq!(pk.verify(&msg, &sig), Ok(()));
        assert_eq!(
            pk.verify(&Fr::from(1235u64), &sig),
            Err(EddsaError::Invalid)
        );
        let other = PrivateKey::from_bytes([8u8; 32]).public_key();
        assert_eq!(other.verify(&msg, &sig), Err(EddsaError::Invalid));
        let bad_s = Signature {
            s: sig.s + Fs::from(1u64),
            ..sig
        };
        assert_eq!(pk.verify(&msg, &bad_s), Err(EddsaError::Invalid));
    }

    #[test]
    fn s_must_be_reduced() {
        let l = Fs::MODULUS.to_bytes_be();
        let mut be = [0u8; 32];
        be.copy_from_slice(&l);
        let b = base8();
        assert_eq!(
            Signature::from_parts(b.x, b.y, &be),
            Err(EddsaError::SNotReduced)
        );
        be[31] -= 1;
        assert!(Signature::from_parts(b.x, b.y, &be).is_ok());
    }

    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn l_be() -> Vec<u8> {
        Fs::MODULUS.to_bytes_be()
    }

    /// A point of order exactly 8: `l·P` for a curve point `P` outside the subgroup.
    fn order8() -> Point {
        for y in 2u64.. {
            let y = Fr::from(y);
            let y2 = y.square();
            let Some(x) = ((Fr::ONE - y2)
                * (babyjubjub::COEFF_A - babyjubjub::COEFF_D * y2)
                    .inverse()
                    .unwrap())
            .sqrt() else {
                continue;
            };
            let t = mul_be_bytes(&Point::new_unchecked(x, y), &l_be());
            if !mul_be_bytes(&t, &[4]).is_zero() {
                return t;
            }
        }
        unreachable!()
    }

    /// Signs like [`PrivateKey::sign`], but with `torsion_r8` added to R8 and `torsion_a` to the
    /// key (both hashed into hm), so `S = r + hm·s` is computed over the altered points.
    fn sign_altered(
        sk: &PrivateKey,
        msg: &Fr,
        torsion_r8: Point,
        torsion_a: Point,
    ) -> (PublicKey, Signature) {
        let h = sk.expand();
        let s_le = PrivateKey::scalar_le(&h);
        let a = (mul_be_bytes(&base8(), &shr3_be(&s_le)) + torsion_a).into_affine();
        let mut msg_le = fr_to_be_bytes(msg);
        msg_le.reverse();
        let mut hasher = Blake512::new();
        hasher.update(&h[32..]);
        hasher.update(msg_le);
        let r = Fs::from_le_bytes_mod_order(&hasher.finalize());
        let r8 = (babyjubjub::mul_base8(&r) + torsion_r8).into_affine();
        let hm = challenge(&r8, &a, msg);
        let s = r + fr_to_fs(&hm) * Fs::from_le_bytes_mod_order(&s_le);
        (PublicKey::from_point(a).unwrap(), Signature { r8, s })
    }

    /// The ways an item is made, valid or corrupted.
    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Valid,
        WrongMessage,
        WrongKey,
        SPlusOne,
        R8PlusBase8,
        R8Negated,
        /// R8 + T (T of order 8), hashed into hm: single verification rejects.
        R8Torsion,
        /// R8 + 4T (order 2).
        R8Order2,
        /// A + T, signed over A + T: circomlib's torsion-key quirk, accepted by both.
        KeyTorsionQuirk,
        /// A + T used with a signature made for A: rejected.
        KeyTorsionMismatch,
    }

    const KINDS: [Kind; 10] = [
        Kind::Valid,
        Kind::WrongMessage,
        Kind::WrongKey,
        Kind::SPlusOne,
        Kind::R8PlusBase8,
        Kind::R8Negated,
        Kind::R8Torsion,
        Kind::R8Order2,
        Kind::KeyTorsionQuirk,
        Kind::KeyTorsionMismatch,
    ];

    fn item(seed: u8, kind: Kind) -> (PublicKey, Fr, Signature) {
        let sk = PrivateKey::from_bytes([seed; 32]);
        let pk = sk.public_key();
        let msg = Fr::from(u64::from(seed) * 1000 + 7);
        let sig = sk.sign(&msg);
        let t = order8();
        let zero = Point::zero();
        match kind {
            Kind::Valid => (pk, msg, sig),
            Kind::WrongMessage => (pk, msg + Fr::ONE, sig),
            Kind::WrongKey => (
                PrivateKey::from_bytes([seed ^ 0x55; 32]).public_key(),
                msg,
                sig,
            ),
            Kind::SPlusOne => (
                pk,
                msg,
                Signature {
                    s: sig.s + Fs::ONE,
                    ..sig
                },
            ),
            Kind::R8PlusBase8 => (
                pk,
                msg,
                Signature {
                    r8: (sig.r8 + base8()).into_affine(),
                    ..sig
                },
            ),
            Kind::R8Negated => (pk, msg, Signature { r8: -sig.r8, ..sig }),
            Kind::R8Torsion => {
                let (pk, sig) = sign_altered(&sk, &msg, t, zero);
                (pk, msg, sig)
            }
            Kind::R8Order2 => {
                let (pk, sig) = sign_altered(&sk, &msg, mul_be_bytes(&t, &[4]), zero);
                (pk, msg, sig)
            }
            Kind::KeyTorsionQuirk => {
                let (pk, sig) = sign_altered(&sk, &msg, zero, t);
                (pk, msg, sig)
            }
            Kind::KeyTorsionMismatch => {
                let a = (*pk.point() + t).into_affine();
                (PublicKey::from_point(a).unwrap(), msg, sig)
            }
        }
    }

    fn single_results(items: &[(PublicKey, Fr, Signature)]) -> Vec<Result<(), EddsaError>> {
        items
            .iter()
            .map(|(pk, msg, sig)| {
                let r = pk.verify(msg, sig);
                assert_eq!(
                    r,
                    pk.verify_reference(msg, sig),
                    "fast and reference verify"
                );
                r
            })
            .collect()
    }

    fn batch_results(
        items: &[(PublicKey, Fr, Signature)],
        seed: u64,
    ) -> Vec<Result<(), EddsaError>> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        match verify_batch(items, &mut rng) {
            Ok(()) => vec![Ok(()); items.len()],
            Err(e) => {
                assert!(e.results.iter().any(Result::is_err));
                e.results
            }
        }
    }

    #[test]
    fn each_kind_behaves_as_documented() {
        for kind in KINDS {
            let (pk, msg, sig) = item(11, kind);
            let expected = match kind {
                Kind::Valid | Kind::KeyTorsionQuirk => Ok(()),
                _ => Err(EddsaError::Invalid),
            };
            assert_eq!(pk.verify(&msg, &sig), expected, "{kind:?}");
            assert_eq!(pk.verify_reference(&msg, &sig), expected, "{kind:?}");
        }
    }

    #[test]
    fn tate_subgroup_test_agrees_with_l_times_p() {
        let t = order8();
        let c = tate_constants().unwrap();
        // 4T is the Montgomery point (0, 0).
        let a = <babyjubjub::BabyJubjubConfig as ark_ec::twisted_edwards::MontCurveConfig>::COEFF_A;
        assert_eq!(c.slope_2t.square() - a - c.u_2t.double(), Fr::ZERO);
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        for i in 0..40u64 {
            let k = Fs::from(rand::Rng::gen::<u128>(&mut rng)) * Fs::from(i + 1);
            let p = babyjubjub::mul_base8(&k);
            for j in 0..8u8 {
                let q = (p + mul_be_bytes(&t, &[j])).into_affine();
                assert_eq!(
                    r8_in_subgroup(&q),
                    Some(babyjubjub::is_in_prime_subgroup(&q)),
                    "k·Base8 + {j}·T"
                );
                assert_eq!(r8_in_subgroup(&q), Some(j == 0));
                assert_eq!(in_prime_subgroup(&q), j == 0);
            }
        }
        for j in 0..8u8 {
            let q = mul_be_bytes(&t, &[j]);
            assert_eq!(r8_in_subgroup(&q), Some(j == 0), "{j}·T");
        }
        assert_eq!(r8_in_subgroup(&base8()), Some(true));
    }

    #[test]
    fn batch_of_valid_signatures_passes() {
        let items: Vec<_> = (1..=16u8).map(|i| item(i, Kind::Valid)).collect();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        assert_eq!(verify_batch(&items, &mut rng), Ok(()));
    }

    #[test]
    fn empty_batch_passes() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        assert_eq!(verify_batch(&[], &mut rng), Ok(()));
    }

    #[test]
    fn each_single_corrupted_item_is_identified() {
        for kind in KINDS {
            for position in [0usize, 3, 7] {
                let mut items: Vec<_> = (1..=8u8).map(|i| item(i, Kind::Valid)).collect();
                items[position] = item(100 + position as u8, kind);
                let mut rng = ChaCha20Rng::seed_from_u64(position as u64);
                let got = verify_batch(&items, &mut rng);
                match kind {
                    Kind::Valid | Kind::KeyTorsionQuirk => assert_eq!(got, Ok(()), "{kind:?}"),
                    _ => {
                        let e = got.unwrap_err();
                        assert_eq!(e.bad_indices(), vec![position], "{kind:?}");
                        assert_eq!(e.results, single_results(&items), "{kind:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn opposite_torsion_on_two_r8_is_caught() {
        // R8 + T and R8' − T: the torsion parts cancel in any sum with equal coefficients.
        let t = order8();
        let sk1 = PrivateKey::from_bytes([21u8; 32]);
        let sk2 = PrivateKey::from_bytes([22u8; 32]);
        let (m1, m2) = (Fr::from(1u64), Fr::from(2u64));
        let (pk1, sig1) = sign_altered(&sk1, &m1, t, Point::zero());
        let (pk2, sig2) = sign_altered(&sk2, &m2, -t, Point::zero());
        let items = vec![
            item(1, Kind::Valid),
            (pk1, m1, sig1),
            (pk2, m2, sig2),
            item(2, Kind::Valid),
        ];
        for seed in 0..16 {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            assert_eq!(
                verify_batch(&items, &mut rng).unwrap_err().bad_indices(),
                vec![1, 2]
            );
        }
    }

    #[test]
    fn r8_off_the_curve_is_reported_as_in_single_verification() {
        let (pk, msg, sig) = item(5, Kind::Valid);
        let off = Signature {
            r8: Point::new_unchecked(sig.r8.x, sig.r8.y + Fr::ONE),
            ..sig
        };
        let items = vec![item(4, Kind::Valid), (pk, msg, off)];
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let e = verify_batch(&items, &mut rng).unwrap_err();
        assert_eq!(e.results, vec![Ok(()), Err(EddsaError::R8NotOnCurve)]);
        assert_eq!(e.results, single_results(&items));
    }

    #[test]
    fn malformed_inputs_never_reach_a_batch() {
        // S + l and small-order keys cannot be represented: the parsers reject them first.
        let (_, _, sig) = item(9, Kind::Valid);
        let s_plus_l = num_bigint::BigUint::from_bytes_be(&sig.s.into_bigint().to_bytes_be())
            + num_bigint::BigUint::from_bytes_be(&l_be());
        let mut be = [0u8; 32];
        let bytes = s_plus_l.to_bytes_be();
        be[32 - bytes.len()..].copy_from_slice(&bytes);
        assert_eq!(
            Signature::from_parts(sig.r8.x, sig.r8.y, &be),
            Err(EddsaError::SNotReduced)
        );
        let t = order8();
        for k in 0..8u8 {
            assert_eq!(
                PublicKey::from_point(mul_be_bytes(&t, &[k])),
                Err(EddsaError::PublicKey(babyjubjub::PointError::SmallOrder))
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn batch_and_single_agree_on_random_mixes(
            kinds in proptest::collection::vec(0usize..KINDS.len(), 0..10),
            seed in any::<u64>(),
        ) {
            let items: Vec<_> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| item(30 + i as u8, KINDS[*k]))
                .collect();
            prop_assert_eq!(batch_results(&items, seed), single_results(&items));
        }
    }

    #[test]
    fn small_order_key_is_rejected() {
        let identity = Point::new_unchecked(Fr::from(0u64), Fr::from(1u64));
        assert_eq!(
            PublicKey::from_point(identity),
            Err(EddsaError::PublicKey(babyjubjub::PointError::SmallOrder))
        );
        let order2 = Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64));
        assert!(PublicKey::from_point(order2).is_err());
    }

    /// Checks what `half_size` promises for `k`; returns the larger bit length of `a` and `|b|`.
    fn check_half_size(k: Fs) -> u32 {
        let (a, b, negative) = half_size(&k);
        assert!(b.is_odd(), "b must be odd for k = {k}");
        let b_fs = Fs::from_bigint(b).expect("|b| < l");
        let b_fs = if negative { -b_fs } else { b_fs };
        assert_eq!(
            Fs::from_bigint(a).expect("a < l"),
            b_fs * k,
            "a ≡ b·k for k = {k}"
        );
        a.num_bits().max(b.num_bits())
    }

    #[test]
    fn half_size_decomposition_on_edges_and_random_scalars() {
        let two = Fs::from(2u64);
        let mut edges = vec![
            Fs::ZERO,
            Fs::ONE,
            -Fs::ONE,
            two.pow([125u64]),
            two.pow([126u64]),
            two.pow([127u64]),
            -two.pow([126u64]),
        ];
        // k = x/y with y even: the lattice has the short vector (x, y) with an even coefficient,
        // so the odd one must be found elsewhere.
        for (x, y) in [
            (3u64, 2u64),
            (1, 4),
            (5, 8),
            (7, 1 << 40),
            ((1 << 60) + 1, 1 << 62),
        ] {
            edges.push(Fs::from(x) * Fs::from(y).inverse().expect("nonzero"));
            edges.push(-Fs::from(x) * Fs::from(y).inverse().expect("nonzero"));
        }
        for k in edges {
            check_half_size(k);
        }
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let bits: Vec<u32> = (0..2000)
            .map(|_| check_half_size(<Fs as ark_ff::UniformRand>::rand(&mut rng)))
            .collect();
        // Half of l's 251 bits, give or take a few: with this seed 97.75 % are within 130 bits
        // and the longest has 136.
        let short = bits.iter().filter(|&&b| b <= 130).count();
        assert!(
            short >= 1900,
            "only {short} of 2000 decompositions within 130 bits"
        );
        assert!(
            bits.iter().all(|&b| b <= 140),
            "a decomposition above 140 bits"
        );
    }

    /// A point `R8` such that `S·Base8 − hm·8A = R8 + extra`, for checking `verify_equation`
    /// directly with a chosen `hm`.
    fn equation_case(hm: Fs, extra: Point) -> (Fs, PointProjective, Point) {
        let s = Fs::from(987_654_321u64);
        let a = PrivateKey::from_bytes([3u8; 32]).public_key();
        let a8 = a.point().mul_by_cofactor_to_group();
        let r8 = (babyjubjub::mul_base8(&s).into_group() - a8 * hm - extra).into_affine();
        (s, a8, r8)
    }

    #[test]
    fn verify_equation_keeps_torsion_visible_whatever_hm() {
        let order2 = Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64));
        let t = order8();
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let mut hms: Vec<Fs> = (0..20)
            .map(|_| <Fs as ark_ff::UniformRand>::rand(&mut rng))
            .collect();
        // hm = 3/2 and 1/4: the shortest lattice vectors have even b.
        hms.push(Fs::from(3u64) * Fs::from(2u64).inverse().expect("nonzero"));
        hms.push(Fs::from(4u64).inverse().expect("nonzero"));
        hms.push(Fs::ZERO);
        for hm in hms {
            let (s, a8, r8) = equation_case(hm, Point::zero());
            assert_eq!(verify_equation(&s, &a8, &r8, &hm), Some(true), "hm = {hm}");
            for extra in [order2, t, mul_be_bytes(&t, &[2]), base8()] {
                let (s, a8, r8) = equation_case(hm, extra);
                assert_eq!(verify_equation(&s, &a8, &r8, &hm), Some(false), "hm = {hm}");
            }
            let (s, a8, r8) = equation_case(hm, Point::zero());
            assert_eq!(verify_equation(&(s + Fs::ONE), &a8, &r8, &hm), Some(false));
            assert_eq!(verify_equation(&s, &a8, &r8, &(hm + Fs::ONE)), Some(false));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn verify_agrees_with_reference_on_random_signatures(
            seed in any::<[u8; 32]>(),
            msg in any::<u64>(),
            tweak in 0u8..4,
        ) {
            let sk = PrivateKey::from_bytes(seed);
            let pk = sk.public_key();
            let msg = Fr::from(msg);
            let mut sig = sk.sign(&msg);
            match tweak {
                0 => {}
                1 => sig.s += Fs::ONE,
                2 => sig.r8 = (sig.r8 + order8()).into_affine(),
                _ => sig.r8 = (sig.r8 + mul_be_bytes(&order8(), &[4])).into_affine(),
            }
            let fast = pk.verify(&msg, &sig);
            prop_assert_eq!(fast.clone(), pk.verify_reference(&msg, &sig));
            prop_assert_eq!(fast.is_ok(), tweak == 0);
        }
    }
}

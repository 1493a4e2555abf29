//! The snarkjs Groth16 `.zkey` (version 1): a proving key together with its phase-2
//! transcript.
//!
//! Sections: 1 the prover type (1, Groth16); 2 the header (`n8q`, `q`, `n8r`, `r`, variables,
//! public inputs, domain size, `α1`, `β1`, `β2`, `γ2`, `δ1`, `δ2`); 3 `IC` (the verifying key's
//! input points); 4 the `A` and `B` coefficients of every constraint; 5 `A`, 6 `B` in G1, 7 `B`
//! in G2, one point per variable; 8 `C` (the `L` query) for the private variables; 9 `H`; 10
//! the MPC parameters: the circuit hash and the contributions.
//!
//! [`Zkey::new`] is `snarkjs zkey new`: the initial key, computed from the circuit's `.r1cs`
//! and a prepared `.ptau`, with `δ = 1`. A contribution multiplies `δ` by its secret and divides
//! sections 8 and 9 by it; nothing else changes, so sections 1–7 of every key in a chain equal
//! those of the initial key.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::Zero;
use ark_ff::{BigInteger, PrimeField};
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;

use crate::binfile::{BinFile, BinWriter, Reader};
use crate::encoding::{
    fr_from_zkey_coef, fr_to_zkey_coef, g1_from_lem, g1_to_lem, g1_to_u, g2_from_lem, g2_to_lem,
    g2_to_u, G1_LEN, G2_LEN,
};
use crate::ptau::{self, Ptau};
use crate::r1cs::R1cs;
use crate::CeremonyError;

/// One coefficient of the `A` or `B` matrix as section 4 lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coef {
    /// 0 for `A`, 1 for `B`.
    pub matrix: u32,
    /// The constraint (row); rows past the circuit's constraints are the public inputs' rows.
    pub constraint: u32,
    /// The variable.
    pub signal: u32,
    /// The coefficient.
    pub value: Fr,
}

/// A random beacon's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    /// The public value (1 to 255 bytes).
    pub hash: Vec<u8>,
    /// SHA-256 is iterated `2^exp` times on it.
    pub exp: u8,
}

/// One phase-2 contribution as the transcript records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    /// `δ` in G1 after this contribution.
    pub delta_after: G1Affine,
    /// The proof of knowledge of the secret `x`: `s·G1`, `x·s·G1` and `x·H(transcript)` in G2.
    pub g1_s: G1Affine,
    /// `x·g1_s`.
    pub g1_sx: G1Affine,
    /// `x·hash_to_g2(transcript)`.
    pub g2_spx: G2Affine,
    /// BLAKE2b-512 of the circuit hash, every earlier contribution and `g1_s`, `g1_sx`.
    pub transcript: [u8; 64],
    /// For a beacon, its parameters.
    pub beacon: Option<Beacon>,
    /// The contributor's name (at most 64 characters).
    pub name: Option<String>,
}

impl Contribution {
    /// Feeds what snarkjs calls the contribution's public key to `h`.
    pub(crate) fn hash_pub_key(&self, h: &mut Blake2b512) {
        h.update(g1_to_u(&self.delta_after));
        h.update(g1_to_u(&self.g1_s));
        h.update(g1_to_u(&self.g1_sx));
        h.update(g2_to_u(&self.g2_spx));
        h.update(self.transcript);
    }

    /// The contribution hash a contributor publishes (as snarkjs prints it).
    pub fn hash(&self) -> [u8; 64] {
        let mut h = Blake2b512::new();
        self.hash_pub_key(&mut h);
        h.finalize().into()
    }
}

/// A parsed `.zkey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zkey {
    /// Variables, the constant one included.
    pub n_vars: u32,
    /// Public inputs.
    pub n_public: u32,
    /// Evaluation domain size.
    pub domain_size: u32,
    /// `α` in G1.
    pub alpha1: G1Affine,
    /// `β` in G1.
    pub beta1: G1Affine,
    /// `β` in G2.
    pub beta2: G2Affine,
    /// `γ` in G2 (the generator: snarkjs keys have `γ = 1`).
    pub gamma2: G2Affine,
    /// `δ` in G1.
    pub delta1: G1Affine,
    /// `δ` in G2.
    pub delta2: G2Affine,
    /// Section 3.
    pub ic: Vec<G1Affine>,
    /// Section 4.
    pub coefs: Vec<Coef>,
    /// Section 5.
    pub a: Vec<G1Affine>,
    /// Section 6.
    pub b1: Vec<G1Affine>,
    /// Section 7.
    pub b2: Vec<G2Affine>,
    /// Section 8.
    pub c: Vec<G1Affine>,
    /// Section 9.
    pub h: Vec<G1Affine>,
    /// The circuit hash (BLAKE2b-512 of the initial key's points).
    pub cs_hash: [u8; 64],
    /// The contributions in order.
    pub contributions: Vec<Contribution>,
}

fn bad(reason: impl Into<String>) -> CeremonyError {
    CeremonyError::Format {
        file: "zkey".into(),
        reason: reason.into(),
    }
}

fn g1s(bytes: &[u8], what: &str) -> Result<Vec<G1Affine>, CeremonyError> {
    if bytes.len() % G1_LEN != 0 {
        return Err(bad(format!("{what}: not a whole number of points")));
    }
    bytes
        .par_chunks(G1_LEN)
        .map(|c| g1_from_lem(c).map_err(|e| bad(format!("{what}: {e}"))))
        .collect()
}

fn g2s(bytes: &[u8], what: &str) -> Result<Vec<G2Affine>, CeremonyError> {
    if bytes.len() % G2_LEN != 0 {
        return Err(bad(format!("{what}: not a whole number of points")));
    }
    bytes
        .par_chunks(G2_LEN)
        .map(|c| g2_from_lem(c, false).map_err(|e| bad(format!("{what}: {e}"))))
        .collect()
}

fn g1_at(r: &mut Reader<'_>, what: &str) -> Result<G1Affine, CeremonyError> {
    let b = r
        .bytes(G1_LEN)
        .map_err(|_| bad(format!("{what}: truncated")))?;
    g1_from_lem(b).map_err(|e| bad(format!("{what}: {e}")))
}

fn g2_at(r: &mut Reader<'_>, what: &str, subgroup: bool) -> Result<G2Affine, CeremonyError> {
    let b = r
        .bytes(G2_LEN)
        .map_err(|_| bad(format!("{what}: truncated")))?;
    g2_from_lem(b, subgroup).map_err(|e| bad(format!("{what}: {e}")))
}

fn hash_u32(h: &mut Blake2b512, n: usize) {
    h.update((n as u32).to_be_bytes());
}

impl Zkey {
    /// Reads a `.zkey`. Every point is checked to be on its curve; the contributions' G2 points
    /// and `δ2` also to be in the subgroup. Nothing is trusted yet: [`crate::verify`] checks the
    /// chain.
    pub fn from_bytes(data: &[u8]) -> Result<Self, CeremonyError> {
        let f = BinFile::parse(data, b"zkey", 1)?;
        let mut r = Reader::new(f.section(1)?);
        if r.u32().map_err(|_| bad("section 1 truncated"))? != 1 || r.remaining() != 0 {
            return Err(bad("not a Groth16 key"));
        }
        let mut r = Reader::new(f.section(2)?);
        let trunc = |_| bad("header truncated");
        if r.u32().map_err(trunc)? != 32
            || r.bytes(32).map_err(trunc)? != ark_bn254::Fq::MODULUS.to_bytes_le().as_slice()
            || r.u32().map_err(trunc)? != 32
            || r.bytes(32).map_err(trunc)? != Fr::MODULUS.to_bytes_le().as_slice()
        {
            return Err(bad("the curve is not BN254 (bn128)"));
        }
        let n_vars = r.u32().map_err(trunc)?;
        let n_public = r.u32().map_err(trunc)?;
        let domain_size = r.u32().map_err(trunc)?;
        if n_public >= n_vars || !domain_size.is_power_of_two() || domain_size > 1 << 28 {
            return Err(bad("inconsistent sizes in the header"));
        }
        let alpha1 = g1_at(&mut r, "alpha1")?;
        let beta1 = g1_at(&mut r, "beta1")?;
        let beta2 = g2_at(&mut r, "beta2", true)?;
        let gamma2 = g2_at(&mut r, "gamma2", true)?;
        let delta1 = g1_at(&mut r, "delta1")?;
        let delta2 = g2_at(&mut r, "delta2", true)?;
        if r.remaining() != 0 {
            return Err(bad("header has trailing bytes"));
        }
        let nv = n_vars as usize;
        let npub = n_public as usize;
        let expect =
            |kind: u32, len: usize, unit: usize, what: &str| -> Result<&[u8], CeremonyError> {
                let s = f.section(kind)?;
                if s.len() != len * unit {
                    return Err(bad(format!(
                        "{what} (section {kind}) holds {} bytes, the header implies {}",
                        s.len(),
                        len * unit
                    )));
                }
                Ok(s)
            };
        let ic = g1s(expect(3, npub + 1, G1_LEN, "IC")?, "IC")?;
        let a = g1s(expect(5, nv, G1_LEN, "A")?, "A")?;
        let b1 = g1s(expect(6, nv, G1_LEN, "B1")?, "B1")?;
        let b2 = g2s(expect(7, nv, G2_LEN, "B2")?, "B2")?;
        let c = g1s(expect(8, nv - npub - 1, G1_LEN, "C")?, "C")?;
        let h = g1s(expect(9, domain_size as usize, G1_LEN, "H")?, "H")?;

        let mut r = Reader::new(f.section(4)?);
        let trunc = |_| bad("coefficients truncated");
        let n = r.u32().map_err(trunc)? as usize;
        if n.saturating_mul(44) != r.remaining() {
            return Err(bad("the coefficient count does not match section 4's size"));
        }
        let mut coefs = Vec::with_capacity(n);
        for _ in 0..n {
            let matrix = r.u32().map_err(trunc)?;
            let constraint = r.u32().map_err(trunc)?;
            let signal = r.u32().map_err(trunc)?;
            let value = fr_from_zkey_coef(r.bytes(32).map_err(trunc)?)
                .map_err(|_| bad("a coefficient is not below the prime"))?;
            if matrix > 1 || signal >= n_vars || constraint >= domain_size {
                return Err(bad("a coefficient is out of range"));
            }
            coefs.push(Coef {
                matrix,
                constraint,
                signal,
                value,
            });
        }

        let mut r = Reader::new(f.section(10)?);
        let trunc = |_| bad("contributions truncated");
        let cs_hash: [u8; 64] = r
            .bytes(64)
            .map_err(trunc)?
            .try_into()
            .map_err(|_| bad("circuit hash"))?;
        let count = r.u32().map_err(trunc)?;
        if count > 10_000 {
            return Err(bad("more than 10,000 contributions"));
        }
        let mut contributions = Vec::new();
        for i in 0..count {
            contributions.push(read_contribution(&mut r, i as usize + 1)?);
        }
        if r.remaining() != 0 {
            return Err(bad("contributions section has trailing bytes"));
        }
        let mut kinds = f.kinds();
        kinds.sort_unstable();
        if kinds != [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] {
            return Err(bad(
                "unexpected sections (a Groth16 key has sections 1 to 10, once each)",
            ));
        }
        Ok(Self {
            n_vars,
            n_public,
            domain_size,
            alpha1,
            beta1,
            beta2,
            gamma2,
            delta1,
            delta2,
            ic,
            coefs,
            a,
            b1,
            b2,
            c,
            h,
            cs_hash,
            contributions,
        })
    }

    /// The `.zkey` file (sections in numeric order, as `snarkjs zkey contribute` writes them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BinWriter::new(b"zkey", 1);
        w.section(1, &1u32.to_le_bytes());
        let mut h = Vec::new();
        h.extend_from_slice(&32u32.to_le_bytes());
        h.extend_from_slice(&ark_bn254::Fq::MODULUS.to_bytes_le());
        h.extend_from_slice(&32u32.to_le_bytes());
        h.extend_from_slice(&Fr::MODULUS.to_bytes_le());
        h.extend_from_slice(&self.n_vars.to_le_bytes());
        h.extend_from_slice(&self.n_public.to_le_bytes());
        h.extend_from_slice(&self.domain_size.to_le_bytes());
        h.extend_from_slice(&g1_to_lem(&self.alpha1));
        h.extend_from_slice(&g1_to_lem(&self.beta1));
        h.extend_from_slice(&g2_to_lem(&self.beta2));
        h.extend_from_slice(&g2_to_lem(&self.gamma2));
        h.extend_from_slice(&g1_to_lem(&self.delta1));
        h.extend_from_slice(&g2_to_lem(&self.delta2));
        w.section(2, &h);
        w.section(3, &g1_section(&self.ic));
        let mut s = Vec::with_capacity(4 + self.coefs.len() * 44);
        s.extend_from_slice(&(self.coefs.len() as u32).to_le_bytes());
        for c in &self.coefs {
            s.extend_from_slice(&c.matrix.to_le_bytes());
            s.extend_from_slice(&c.constraint.to_le_bytes());
            s.extend_from_slice(&c.signal.to_le_bytes());
            s.extend_from_slice(&fr_to_zkey_coef(&c.value));
        }
        w.section(4, &s);
        w.section(5, &g1_section(&self.a));
        w.section(6, &g1_section(&self.b1));
        let b2: Vec<u8> = self.b2.iter().flat_map(g2_to_lem).collect();
        w.section(7, &b2);
        w.section(8, &g1_section(&self.c));
        w.section(9, &g1_section(&self.h));
        let mut m = Vec::new();
        m.extend_from_slice(&self.cs_hash);
        m.extend_from_slice(&(self.contributions.len() as u32).to_le_bytes());
        for c in &self.contributions {
            write_contribution(&mut m, c);
        }
        w.section(10, &m);
        w.finish()
    }

    /// `snarkjs zkey new`: the initial key of `r1cs` from the prepared phase 1 `ptau`.
    pub fn new(r1cs: &R1cs, ptau: &Ptau) -> Result<Self, CeremonyError> {
        let n = r1cs.domain_size();
        let power = n.trailing_zeros();
        if power > ptau.power() {
            return Err(CeremonyError::PtauTooSmall {
                needed: power,
                found: ptau.power(),
            });
        }
        let n_vars = r1cs.n_wires as usize;
        let n_pub = r1cs.n_public as usize;
        let n_cons = r1cs.constraints.len();
        let lag = ptau.g1(ptau::LAGRANGE_G1, n - 1, n)?;
        let lag2 = ptau.g2(ptau::LAGRANGE_G2, n - 1, n)?;
        let alpha_lag = ptau.g1(ptau::ALPHA_LAGRANGE_G1, n - 1, n)?;
        let beta_lag = ptau.g1(ptau::BETA_LAGRANGE_G1, n - 1, n)?;

        // For each variable, the (row, coefficient) pairs of its A, B and C columns.
        let mut cols: [Vec<Vec<(usize, Fr)>>; 3] = Default::default();
        for col in cols.iter_mut() {
            col.resize(n_vars, Vec::new());
        }
        let mut coefs = Vec::new();
        for (row, lcs) in r1cs.constraints.iter().enumerate() {
            for (m, lc) in lcs.iter().enumerate() {
                for (wire, coeff) in lc {
                    let col = cols
                        .get_mut(m)
                        .and_then(|c| c.get_mut(*wire as usize))
                        .ok_or_else(|| CeremonyError::Circuit("a wire out of range".into()))?;
                    col.push((row, *coeff));
                    if m < 2 {
                        coefs.push(Coef {
                            matrix: m as u32,
                            constraint: row as u32,
                            signal: *wire,
                            value: *coeff,
                        });
                    }
                }
            }
        }
        // The public inputs' rows: A[n_cons + s][s] = 1.
        for s in 0..=n_pub {
            if let Some(col) = cols[0].get_mut(s) {
                col.push((n_cons + s, Fr::from(1u64)));
            }
            coefs.push(Coef {
                matrix: 0,
                constraint: (n_cons + s) as u32,
                signal: s as u32,
                value: Fr::from(1u64),
            });
        }
        let [ca, cb, cc] = &cols;
        let a = G1Projective::normalize_batch(&combine(ca, &lag)?);
        let b1 = G1Projective::normalize_batch(&combine(cb, &lag)?);
        let b2 = G2Projective::normalize_batch(&combine(cb, &lag2)?);
        // β·A + α·B + C for every variable.
        let mut abc = combine(ca, &beta_lag)?;
        for part in [combine(cb, &alpha_lag)?, combine(cc, &lag)?] {
            abc.par_iter_mut().zip(part).for_each(|(s, p)| *s += p);
        }
        let abc = G1Projective::normalize_batch(&abc);
        let (ic, c) = abc
            .split_at_checked(n_pub + 1)
            .ok_or_else(|| CeremonyError::Circuit("more public inputs than wires".into()))?;
        // H: the odd points of the Lagrange basis of the domain of size 2n.
        let lag_2n = ptau.g1(ptau::LAGRANGE_G1, 2 * n - 1, 2 * n)?;
        let h: Vec<G1Affine> = lag_2n.iter().skip(1).step_by(2).copied().collect();

        let alpha1 = *ptau
            .g1(ptau::ALPHA_TAU_G1, 0, 1)?
            .first()
            .ok_or_else(|| bad("no alpha"))?;
        let beta1 = *ptau
            .g1(ptau::BETA_TAU_G1, 0, 1)?
            .first()
            .ok_or_else(|| bad("no beta"))?;
        let beta2 = *ptau
            .g2(ptau::BETA_G2, 0, 1)?
            .first()
            .ok_or_else(|| bad("no beta2"))?;
        let mut key = Self {
            n_vars: r1cs.n_wires,
            n_public: r1cs.n_public,
            domain_size: n as u32,
            alpha1,
            beta1,
            beta2,
            gamma2: G2Affine::generator(),
            delta1: G1Affine::generator(),
            delta2: G2Affine::generator(),
            ic: ic.to_vec(),
            coefs,
            a,
            b1,
            b2,
            c: c.to_vec(),
            h,
            cs_hash: [0; 64],
            contributions: Vec::new(),
        };
        key.cs_hash = key.circuit_hash(ptau)?;
        Ok(key)
    }

    /// The circuit hash of an initial key, as `snarkjs zkey new` computes it: the header's
    /// points, then IC, the classic `H` points `τ^i·(τ^n − 1)·G1` (read from the `.ptau`), `C`,
    /// `A`, `B1` and `B2`, each list after its length; points in U form.
    fn circuit_hash(&self, ptau: &Ptau) -> Result<[u8; 64], CeremonyError> {
        let mut h = Blake2b512::new();
        h.update(g1_to_u(&self.alpha1));
        h.update(g1_to_u(&self.beta1));
        h.update(g2_to_u(&self.beta2));
        h.update(g2_to_u(&self.gamma2));
        h.update(g1_to_u(&self.delta1));
        h.update(g2_to_u(&self.delta2));
        hash_u32(&mut h, self.ic.len());
        self.ic.iter().for_each(|p| h.update(g1_to_u(p)));
        let n = self.domain_size as usize;
        hash_u32(&mut h, n - 1);
        // snarkjs hashes chunks of 2^14 points from every 2^14th offset, each chunk
        // min(n - 1, 2^14) long; reproduced as is.
        const CHUNK: usize = 1 << 14;
        let mut offset = 0;
        while offset < n - 1 {
            let count = (n - 1).min(CHUNK);
            let hi = ptau.g1(ptau::TAU_G1, offset + n, count)?;
            let lo = ptau.g1(ptau::TAU_G1, offset, count)?;
            let diffs: Vec<G1Projective> = hi
                .par_iter()
                .zip(lo.par_iter())
                .map(|(a, b)| a.into_group() - b)
                .collect();
            for p in G1Projective::normalize_batch(&diffs) {
                h.update(g1_to_u(&p));
            }
            offset += CHUNK;
        }
        hash_u32(&mut h, self.c.len());
        self.c.iter().for_each(|p| h.update(g1_to_u(p)));
        hash_u32(&mut h, self.a.len());
        self.a.iter().for_each(|p| h.update(g1_to_u(p)));
        hash_u32(&mut h, self.b1.len());
        self.b1.iter().for_each(|p| h.update(g1_to_u(p)));
        hash_u32(&mut h, self.b2.len());
        self.b2.iter().for_each(|p| h.update(g2_to_u(p)));
        Ok(h.finalize().into())
    }
}

fn g1_section(points: &[G1Affine]) -> Vec<u8> {
    points.iter().flat_map(g1_to_lem).collect()
}

/// `Σ c·B[row]` over `terms`, one term at a time: the columns are sparse, so a multi-scalar
/// multiplication gains little. A coefficient whose absolute value fits 64 bits (about a sixth
/// of them) takes a short double-and-add; the others the GLV endomorphism. No nested
/// parallelism: callers run this per variable on rayon's threads.
fn lincomb<G>(terms: &[(usize, Fr)], bases: &[G]) -> Result<G::Group, CeremonyError>
where
    G: AffineRepr<ScalarField = Fr>,
    G::Config: GLVConfig,
    G: Into<Affine<G::Config>>,
    G::Group: From<Projective<G::Config>>,
{
    let mut acc = G::Group::zero();
    for (row, c) in terms {
        let b = bases
            .get(*row)
            .ok_or_else(|| CeremonyError::Circuit("a row outside the domain".into()))?;
        let pos = c.into_bigint();
        let neg = (-*c).into_bigint();
        if pos.num_bits() <= 64 {
            acc += b.mul_bigint(pos);
        } else if neg.num_bits() <= 64 {
            acc -= b.mul_bigint(neg);
        } else {
            let p: Affine<G::Config> = (*b).into();
            acc += G::Group::from(<G::Config as GLVConfig>::glv_mul_projective(
                p.into_group(),
                *c,
            ));
        }
    }
    Ok(acc)
}

/// Columns longer than this are summed by a multi-scalar multiplication.
const MSM_FROM: usize = 32;

/// `Σ c·B[row]` for every column: short columns term by term on rayon's threads, long ones
/// (a few hundred columns hold most terms of `B`) by arkworks' multi-scalar multiplication,
/// which is parallel itself.
fn combine<G>(cols: &[Vec<(usize, Fr)>], bases: &[G]) -> Result<Vec<G::Group>, CeremonyError>
where
    G: AffineRepr<ScalarField = Fr>,
    G::Config: GLVConfig,
    G: Into<Affine<G::Config>>,
    G::Group: From<Projective<G::Config>>,
{
    let mut out: Vec<G::Group> = cols
        .par_iter()
        .map(|t| {
            if t.len() > MSM_FROM {
                Ok(G::Group::zero())
            } else {
                lincomb(t, bases)
            }
        })
        .collect::<Result<_, _>>()?;
    for (t, o) in cols.iter().zip(out.iter_mut()) {
        if t.len() > MSM_FROM {
            let pts: Vec<G> = t
                .iter()
                .map(|(row, _)| bases.get(*row).copied())
                .collect::<Option<_>>()
                .ok_or_else(|| CeremonyError::Circuit("a row outside the domain".into()))?;
            let scalars: Vec<Fr> = t.iter().map(|(_, c)| *c).collect();
            *o = G::Group::msm_unchecked(&pts, &scalars);
        }
    }
    Ok(out)
}

fn read_contribution(r: &mut Reader<'_>, number: usize) -> Result<Contribution, CeremonyError> {
    let what = |s: &str| format!("contribution {number}: {s}");
    let delta_after = g1_at(r, &what("deltaAfter"))?;
    let g1_s = g1_at(r, &what("g1_s"))?;
    let g1_sx = g1_at(r, &what("g1_sx"))?;
    let g2_spx = g2_at(r, &what("g2_spx"), true)?;
    let trunc = |_| bad(what("truncated"));
    let transcript: [u8; 64] = r
        .bytes(64)
        .map_err(trunc)?
        .try_into()
        .map_err(|_| bad(what("transcript")))?;
    let kind = r.u32().map_err(trunc)?;
    let len = r.u32().map_err(trunc)? as usize;
    let mut p = Reader::new(r.bytes(len).map_err(trunc)?);
    let (mut name, mut exp, mut hash) = (None, None, None);
    let mut last = 0u8;
    while p.remaining() > 0 {
        let t = p.u8().map_err(trunc)?;
        if t <= last {
            return Err(bad(what("parameters out of order or repeated")));
        }
        last = t;
        match t {
            1 => {
                let n = p.u8().map_err(trunc)? as usize;
                let s = p.bytes(n).map_err(trunc)?;
                name = Some(
                    String::from_utf8(s.to_vec()).map_err(|_| bad(what("name is not UTF-8")))?,
                );
            }
            2 => exp = Some(p.u8().map_err(trunc)?),
            3 => {
                let n = p.u8().map_err(trunc)? as usize;
                hash = Some(p.bytes(n).map_err(trunc)?.to_vec());
            }
            _ => return Err(bad(what("unknown parameter"))),
        }
    }
    let beacon = match (kind, exp, hash) {
        (0, None, None) => None,
        (1, Some(exp), Some(hash)) if !hash.is_empty() => Some(Beacon { hash, exp }),
        _ => return Err(bad(what("type and parameters disagree"))),
    };
    Ok(Contribution {
        delta_after,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        beacon,
        name,
    })
}

fn write_contribution(out: &mut Vec<u8>, c: &Contribution) {
    out.extend_from_slice(&g1_to_lem(&c.delta_after));
    out.extend_from_slice(&g1_to_lem(&c.g1_s));
    out.extend_from_slice(&g1_to_lem(&c.g1_sx));
    out.extend_from_slice(&g2_to_lem(&c.g2_spx));
    out.extend_from_slice(&c.transcript);
    out.extend_from_slice(&u32::from(c.beacon.is_some()).to_le_bytes());
    let mut params = Vec::new();
    if let Some(name) = &c.name {
        let b = name.as_bytes();
        params.push(1u8);
        params.push(b.len() as u8);
        params.extend_from_slice(b);
    }
    if let Some(b) = &c.beacon {
        params.push(2);
        params.push(b.exp);
        params.push(3);
        params.push(b.hash.len() as u8);
        params.extend_from_slice(&b.hash);
    }
    out.extend_from_slice(&(params.len() as u32).to_le_bytes());
    out.extend_from_slice(&params);
}

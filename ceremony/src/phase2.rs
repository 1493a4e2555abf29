//! Phase 2: contribute, apply a beacon, verify a transcript, finalise the keys.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{Field, PrimeField, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use blake2::{Blake2b512, Digest};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use zeroize::Zeroize;

use crate::encoding::g1_to_u;
use crate::ptau::Ptau;
use crate::r1cs::R1cs;
use crate::rng::{beacon_rng, fr_from_rng, g1_from_rng, hash_to_g2};
use crate::zkey::{Beacon, Contribution, Zkey};
use crate::CeremonyError;

/// Longest contributor name, in characters (snarkjs keeps 64).
pub const MAX_NAME_CHARS: usize = 64;

fn check_name(name: Option<&str>) -> Result<Option<String>, CeremonyError> {
    match name {
        None => Ok(None),
        Some(n) if n.chars().count() > MAX_NAME_CHARS => Err(CeremonyError::Usage(format!(
            "a contributor name has at most {MAX_NAME_CHARS} characters"
        ))),
        Some(n) if n.chars().any(char::is_control) => Err(CeremonyError::Usage(
            "a contributor name has no control characters".into(),
        )),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

/// The transcript hash of a new contribution with the public points `g1_s`, `g1_sx`.
fn transcript(key: &Zkey, g1_s: &G1Affine, g1_sx: &G1Affine) -> [u8; 64] {
    let mut h = Blake2b512::new();
    h.update(key.cs_hash);
    for c in &key.contributions {
        c.hash_pub_key(&mut h);
    }
    h.update(g1_to_u(g1_s));
    h.update(g1_to_u(g1_sx));
    h.finalize().into()
}

/// Applies the secret `x` with the proof base `g1_s`: `δ ← x·δ`, sections 8 and 9 divided by
/// `x`, and the contribution appended.
fn apply(
    key: &Zkey,
    x: &Fr,
    g1_s: G1Affine,
    beacon: Option<Beacon>,
    name: Option<String>,
) -> Result<(Zkey, [u8; 64]), CeremonyError> {
    if x.is_zero() || g1_s.is_zero() {
        return Err(CeremonyError::Usage(
            "a contribution's secret is zero".into(),
        ));
    }
    let g1_sx: G1Affine = (g1_s * x).into_affine();
    let transcript = transcript(key, &g1_s, &g1_sx);
    let g2_spx: G2Affine = (hash_to_g2(&transcript) * x).into_affine();
    let mut next = key.clone();
    next.delta1 = (key.delta1 * x).into_affine();
    next.delta2 = (key.delta2 * x).into_affine();
    let mut inv = x
        .inverse()
        .ok_or_else(|| CeremonyError::Usage("a contribution's secret is zero".into()))?;
    next.c = scale(&key.c, &inv);
    next.h = scale(&key.h, &inv);
    inv.zeroize();
    let c = Contribution {
        delta_after: next.delta1,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        beacon,
        name,
    };
    let hash = c.hash();
    next.contributions.push(c);
    Ok((next, hash))
}

fn scale(points: &[G1Affine], k: &Fr) -> Vec<G1Affine> {
    let p: Vec<G1Projective> = points.par_iter().map(|p| *p * k).collect();
    G1Projective::normalize_batch(&p)
}

/// Contributes to `key`: a secret from the operating system's generator mixed with
/// `entropy` (may be empty), used once and erased. Returns the new key and the contribution
/// hash the contributor publishes.
pub fn contribute(
    key: &Zkey,
    name: Option<&str>,
    entropy: &[u8],
) -> Result<(Zkey, [u8; 64]), CeremonyError> {
    let name = check_name(name)?;
    let mut os = [0u8; 64];
    rand::rngs::OsRng.try_fill_bytes(&mut os).map_err(|e| {
        CeremonyError::Usage(format!(
            "the operating system's random generator failed: {e}"
        ))
    })?;
    let mut h = Blake2b512::new();
    h.update(os);
    h.update(entropy);
    let mut seed: [u8; 64] = h.finalize().into();
    os.zeroize();
    // Two independent 512-bit values reduced mod r: the secret x and the proof base's s.
    let derive = |label: &[u8], seed: &[u8; 64]| -> Fr {
        let mut h = Blake2b512::new();
        h.update(label);
        h.update(seed);
        let mut wide: [u8; 64] = h.finalize().into();
        let k = Fr::from_le_bytes_mod_order(&wide);
        wide.zeroize();
        k
    };
    let mut x = derive(b"letro ceremony secret", &seed);
    let mut s = derive(b"letro ceremony proof base", &seed);
    seed.zeroize();
    let g1_s = (G1Projective::generator() * s).into_affine();
    let out = apply(key, &x, g1_s, None, name);
    x.zeroize();
    s.zeroize();
    out
}

/// The largest beacon iteration exponent made or checked here: `2^32` SHA-256 iterations take
/// minutes; snarkjs allows up to 63, which no verifier could recompute, so a transcript that
/// claims more is refused rather than checked for years.
pub const MAX_BEACON_EXP: u8 = 32;

/// Applies a random beacon: the secret is derived from the public `hash` by `2^exp`
/// iterations of SHA-256 (`10 ≤ exp ≤ 32`, [`MAX_BEACON_EXP`]), exactly as
/// `snarkjs zkey beacon` derives it.
pub fn beacon(
    key: &Zkey,
    name: Option<&str>,
    hash: &[u8],
    exp: u8,
) -> Result<(Zkey, [u8; 64]), CeremonyError> {
    let name = check_name(name)?;
    if hash.is_empty() || hash.len() > 255 {
        return Err(CeremonyError::Usage(
            "the beacon value has 1 to 255 bytes".into(),
        ));
    }
    if !(10..=MAX_BEACON_EXP).contains(&exp) {
        return Err(CeremonyError::Usage(format!(
            "the beacon's iteration exponent is between 10 and {MAX_BEACON_EXP}"
        )));
    }
    let mut rng = beacon_rng(hash, exp);
    let x = fr_from_rng(&mut rng);
    let g1_s = g1_from_rng(&mut rng);
    apply(
        key,
        &x,
        g1_s,
        Some(Beacon {
            hash: hash.to_vec(),
            exp,
        }),
        name,
    )
}

/// `e(a, d) == e(b, c)` with all four points non-zero: `b/a = d/c` in the exponent.
fn same_ratio(a: &G1Affine, b: &G1Affine, c: &G2Affine, d: &G2Affine) -> bool {
    if a.is_zero() || b.is_zero() || c.is_zero() || d.is_zero() {
        return false;
    }
    Bn254::multi_pairing([*a, -*b], [*d, *c]).is_zero()
}

/// One contribution as [`verify`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// 1-based position in the chain.
    pub number: usize,
    /// The contributor's name, if recorded.
    pub name: Option<String>,
    /// The contribution hash.
    pub hash: [u8; 64],
    /// For a beacon, its parameters.
    pub beacon: Option<Beacon>,
}

/// What a verified transcript shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The circuit hash.
    pub cs_hash: [u8; 64],
    /// Every contribution in order.
    pub contributions: Vec<Checked>,
}

fn refuse(number: usize, reason: &str) -> CeremonyError {
    CeremonyError::Contribution {
        number,
        reason: reason.into(),
    }
}

fn transcript_error(reason: &str) -> CeremonyError {
    CeremonyError::Transcript(reason.into())
}

/// Verifies a whole transcript: `key` must be the initial key of `r1cs` from `ptau` followed by
/// a chain of contributions, each with a valid proof of knowledge of its secret made on the
/// transcript before it, each beacon reproducible from its public value, and `δ` and sections 8
/// and 9 the result of exactly those contributions. Checks what `snarkjs zkey verify` checks.
pub fn verify(key: &Zkey, r1cs: &R1cs, ptau: &Ptau) -> Result<Verified, CeremonyError> {
    let init = Zkey::new(r1cs, ptau)?;
    verify_from_init(key, &init)
}

/// [`verify`] against an initial key computed already.
pub fn verify_from_init(key: &Zkey, init: &Zkey) -> Result<Verified, CeremonyError> {
    if key.cs_hash != init.cs_hash {
        return Err(transcript_error(
            "its circuit hash is not the one of this circuit and phase 1 (another circuit, another .ptau, or an altered initial key)",
        ));
    }
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let mut acc = Blake2b512::new();
    acc.update(key.cs_hash);
    let mut delta = g1;
    let mut checked = Vec::new();
    for (i, c) in key.contributions.iter().enumerate() {
        let number = i + 1;
        let mut mine = acc.clone();
        mine.update(g1_to_u(&c.g1_s));
        mine.update(g1_to_u(&c.g1_sx));
        let t: [u8; 64] = mine.finalize().into();
        if t != c.transcript {
            return Err(refuse(
                number,
                "its transcript hash does not follow the contributions before it (reordered, skipped or altered)",
            ));
        }
        let g2_sp = hash_to_g2(&c.transcript);
        if !same_ratio(&c.g1_s, &c.g1_sx, &g2_sp, &c.g2_spx) {
            return Err(refuse(
                number,
                "its proof of knowledge does not verify (G1 and G2 keys differ)",
            ));
        }
        if !same_ratio(&delta, &c.delta_after, &g2_sp, &c.g2_spx) {
            return Err(refuse(
                number,
                "its new delta does not follow from the previous delta and its key",
            ));
        }
        if let Some(b) = &c.beacon {
            if b.exp > MAX_BEACON_EXP {
                return Err(refuse(
                    number,
                    &format!(
                        "its beacon claims 2^{} iterations; this verifier recomputes at most 2^{MAX_BEACON_EXP}",
                        b.exp
                    ),
                ));
            }
            let mut rng = beacon_rng(&b.hash, b.exp);
            let x = fr_from_rng(&mut rng);
            let s = g1_from_rng(&mut rng);
            if s != c.g1_s || (s * x).into_affine() != c.g1_sx {
                return Err(refuse(
                    number,
                    "its key is not the one its beacon value gives",
                ));
            }
        }
        c.hash_pub_key(&mut acc);
        checked.push(Checked {
            number,
            name: c.name.clone(),
            hash: c.hash(),
            beacon: c.beacon.clone(),
        });
        delta = c.delta_after;
    }
    if (key.n_vars, key.n_public, key.domain_size) != (init.n_vars, init.n_public, init.domain_size)
    {
        return Err(transcript_error("its sizes are not the circuit's"));
    }
    if key.alpha1 != init.alpha1
        || key.beta1 != init.beta1
        || key.beta2 != init.beta2
        || key.gamma2 != init.gamma2
    {
        return Err(transcript_error(
            "alpha, beta or gamma differ from phase 1's",
        ));
    }
    if key.delta1 != delta {
        return Err(transcript_error(
            "delta in G1 is not the last contribution's",
        ));
    }
    if !same_ratio(&g1, &key.delta1, &g2, &key.delta2) {
        return Err(transcript_error("delta in G2 does not match delta in G1"));
    }
    for (ok, what) in [
        (key.ic == init.ic, "IC"),
        (key.coefs == init.coefs, "the coefficients"),
        (key.a == init.a, "A"),
        (key.b1 == init.b1, "B in G1"),
        (key.b2 == init.b2, "B in G2"),
    ] {
        if !ok {
            return Err(transcript_error(&format!(
                "{what} differ from the initial key's (sections 3 to 7 never change)"
            )));
        }
    }
    for (mine, first, what) in [
        (&key.c, &init.c, "C (section 8)"),
        (&key.h, &init.h, "H (section 9)"),
    ] {
        if mine.len() != first.len() {
            return Err(transcript_error(&format!("{what} has the wrong length")));
        }
        // A random combination: Σ r_i·P_i of the initial points over δ must equal that of ours.
        let mut rng = ChaCha20Rng::from_entropy();
        let r: Vec<Fr> = (0..mine.len())
            .map(|_| Fr::from(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())))
            .collect();
        let a = G1Projective::msm_unchecked(first, &r).into_affine();
        let b = G1Projective::msm_unchecked(mine, &r).into_affine();
        if !mine.is_empty() && !same_ratio(&a, &b, &key.delta2, &init.delta2) {
            return Err(transcript_error(&format!(
                "{what} is not the initial key's divided by delta"
            )));
        }
    }
    Ok(Verified {
        cs_hash: key.cs_hash,
        contributions: checked,
    })
}

/// The proving key (and its verifying key) of a verified transcript with at least one
/// contribution. Refuses a key nobody contributed to (`δ` still the generator).
pub fn finalize(
    key: &Zkey,
    r1cs: &R1cs,
    ptau: &Ptau,
) -> Result<(ProvingKey<Bn254>, Verified), CeremonyError> {
    finalize_from_init(key, &Zkey::new(r1cs, ptau)?)
}

/// [`finalize`] against an initial key computed already.
pub fn finalize_from_init(
    key: &Zkey,
    init: &Zkey,
) -> Result<(ProvingKey<Bn254>, Verified), CeremonyError> {
    let verified = verify_from_init(key, init)?;
    if key.contributions.is_empty()
        || key.delta2 == G2Affine::generator()
        || key.delta2 == key.gamma2
    {
        return Err(transcript_error(
            "nobody contributed: delta is still the generator, and whoever made the key could forge proofs",
        ));
    }
    let vk = VerifyingKey::<Bn254> {
        alpha_g1: key.alpha1,
        beta_g2: key.beta2,
        gamma_g2: key.gamma2,
        delta_g2: key.delta2,
        gamma_abc_g1: key.ic.clone(),
    };
    let pk = ProvingKey::<Bn254> {
        vk,
        beta_g1: key.beta1,
        delta_g1: key.delta1,
        a_query: key.a.clone(),
        b_g1_query: key.b1.clone(),
        b_g2_query: key.b2.clone(),
        h_query: key.h.clone(),
        l_query: key.c.clone(),
    };
    Ok((pk, verified))
}

/// The record of a verified ceremony for the keys manifest (`provenance.ceremony`, SPEC §9):
/// phase 1's hash and power, the circuit hash, the final transcript's SHA-256, size and file
/// name, and every contribution's number, name, hash and beacon.
pub fn manifest_record(
    v: &Verified,
    ptau: &Ptau,
    transcript: &[u8],
    file: Option<&str>,
) -> serde_json::Value {
    use sha2::Digest as _;
    let contributions: Vec<serde_json::Value> = v
        .contributions
        .iter()
        .map(|c| {
            serde_json::json!({
                "number": c.number,
                "name": c.name,
                "hash": hex::encode(c.hash),
                "beacon": c.beacon.as_ref().map(|b| serde_json::json!({
                    "value": hex::encode(&b.hash),
                    "iterations_exp": b.exp,
                })),
            })
        })
        .collect();
    serde_json::json!({
        "format": "snarkjs zkey (groth16, bn128)",
        "qap": "snarkjs",
        "phase1": {
            "blake2b": hex::encode(ptau.blake2b()),
            "power": ptau.power(),
        },
        "circuit_hash": hex::encode(v.cs_hash),
        "transcript": {
            "file": file,
            "sha256": hex::encode(sha2::Sha256::digest(transcript)),
            "bytes": transcript.len(),
        },
        "contributions": contributions,
    })
}

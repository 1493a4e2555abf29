//! Batch verification: one random linear combination of the Groth16 equations of many bundles.
//!
//! For bundles `i` with proofs `(A_i, B_i, C_i)` and prepared inputs `IC_i` under the same key,
//! each equation is `e(A_i, B_i) = e(α, β) · e(IC_i, γ) · e(C_i, δ)`. With scalars `r_i` the
//! batch checks `Π e(r_i·A_i, B_i) · e(Σ r_i·IC_i, -γ) · e(Σ r_i·C_i, -δ) = e(α, β)^(Σ r_i)`:
//! one multi-Miller loop of `n + 2` pairs and one final exponentiation instead of `n`. The
//! `r_i` are 128-bit values derived by SHA-256 from 32 bytes of OS randomness and every proof,
//! input and key hash in the batch: a prover can neither predict them (the OS randomness) nor
//! choose a batch for a weak transcript seed alone, so an invalid proof cancels out with
//! probability about 2^-128. Without OS randomness the bundles are checked one by one. When
//! the batch fails, each bundle is checked alone, so the bad ones are named.

use ark_bn254::{Bn254, Fr, G1Projective};
use ark_ec::pairing::Pairing;
use ark_ec::CurveGroup;
use ark_ff::{Field, PrimeField};
use ark_groth16::Groth16;
use ark_serialize::CanonicalSerialize;
use sha2::{Digest, Sha256};

use crate::{Prechecked, VerifiedDelivery, Verifier, VerifyError};

/// The batch's coefficients from `entropy` (fresh OS randomness) and the whole transcript.
fn coefficients(batch: &[Prechecked<'_>], entropy: &[u8; 32]) -> Vec<Fr> {
    let mut transcript = Sha256::new();
    transcript.update(b"letro/batch-verify/v1");
    transcript.update(entropy);
    for p in batch {
        let mut bytes = Vec::new();
        p.proof().serialize_compressed(&mut bytes).ok();
        transcript.update(&bytes);
        for x in p.bundle.statement.public_inputs() {
            transcript.update(letro_core::field::fr_to_be_bytes(&x));
        }
        transcript.update(p.key.sha256());
    }
    let seed = transcript.finalize();
    (0..batch.len() as u64)
        .map(|i| {
            let h = Sha256::new()
                .chain_update(seed)
                .chain_update(i.to_be_bytes())
                .finalize();
            // 128-bit coefficient.
            Fr::from_be_bytes_mod_order(h.get(..16).unwrap_or(&[]))
        })
        .collect()
}

/// Checks the proofs of bundles that share one key with a single pairing product. `false`
/// when it fails or cannot run (no OS randomness): the caller then checks each alone.
fn batch_ok(batch: &[Prechecked<'_>]) -> bool {
    let Some(first) = batch.first() else {
        return true;
    };
    let mut entropy = [0u8; 32];
    if getrandom::getrandom(&mut entropy).is_err() {
        return false;
    }
    let pvk = first.key.prepared();
    let r = coefficients(batch, &entropy);
    let mut g1 = Vec::with_capacity(batch.len() + 2);
    let mut g2 = Vec::with_capacity(batch.len() + 2);
    let mut ic_sum = G1Projective::default();
    let mut c_sum = G1Projective::default();
    let mut r_sum = Fr::from(0u64);
    for (p, ri) in batch.iter().zip(&r) {
        let Ok(ic) = Groth16::<Bn254>::prepare_inputs(pvk, &p.bundle.statement.public_inputs())
        else {
            return false;
        };
        ic_sum += ic * ri;
        c_sum += p.bundle.proof.c * ri;
        r_sum += ri;
        g1.push((p.bundle.proof.a * ri).into_affine());
        g2.push(<Bn254 as Pairing>::G2Prepared::from(p.bundle.proof.b));
    }
    g1.push(ic_sum.into_affine());
    g2.push(pvk.gamma_g2_neg_pc.clone());
    g1.push(c_sum.into_affine());
    g2.push(pvk.delta_g2_neg_pc.clone());
    let g1: Vec<<Bn254 as Pairing>::G1Prepared> = g1.into_iter().map(Into::into).collect();
    let ml = Bn254::multi_miller_loop(g1, g2);
    match Bn254::final_exponentiation(ml) {
        Some(out) => out.0 == pvk.alpha_g1_beta_g2.pow(r_sum.into_bigint()),
        None => false,
    }
}

impl Verifier {
    /// Verifies many bundles; the result at position `i` is bundle `i`'s.
    pub fn verify_batch(&self, bundles: &[&[u8]]) -> Vec<Result<VerifiedDelivery, VerifyError>> {
        let mut results: Vec<Option<Result<VerifiedDelivery, VerifyError>>> =
            Vec::with_capacity(bundles.len());
        let mut pending: Vec<(usize, Prechecked<'_>)> = Vec::new();
        for (i, b) in bundles.iter().enumerate() {
            match self.precheck(b) {
                Ok(p) => {
                    results.push(None);
                    pending.push((i, p));
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        // Group by verifying key.
        let mut groups: Vec<Vec<(usize, Prechecked<'_>)>> = Vec::new();
        for (i, p) in pending {
            match groups.iter_mut().find(|g| {
                g.first()
                    .is_some_and(|(_, q)| q.key.sha256() == p.key.sha256())
            }) {
                Some(g) => g.push((i, p)),
                None => groups.push(vec![(i, p)]),
            }
        }
        for group in groups {
            let (idx, pre): (Vec<usize>, Vec<Prechecked<'_>>) = group.into_iter().unzip();
            if pre.len() > 1 && batch_ok(&pre) {
                for (i, p) in idx.into_iter().zip(pre) {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(p.finish(&self.tsa_certificates));
                    }
                }
            } else {
                // One alone, or a failed batch: check each to name the bad ones.
                for (i, p) in idx.into_iter().zip(pre) {
                    let inputs = p.bundle.statement.public_inputs();
                    let ok = Groth16::<Bn254>::verify_proof(p.key.prepared(), &p.proof(), &inputs);
                    let r = if matches!(ok, Ok(true)) {
                        p.finish(&self.tsa_certificates)
                    } else {
                        Err(VerifyError::ProofInvalid)
                    };
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(VerifyError::ProofInvalid)))
            .collect()
    }
}

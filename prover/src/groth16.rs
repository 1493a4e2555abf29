//! The Groth16 prover's last step, from the full assignment to the proof points, with the
//! independent parts run side by side: the QAP witness map (FFTs) and then one sum for `C`
//! (the `B` in G1, `L` and `H` terms together) on one side, the `A` and `B` (G2) sums, which
//! need only the assignment, on the other. arkworks'
//! `create_proof_with_reduction_and_matrices` computes the same points one part after the
//! other; `tests/fast_path.rs` checks every proof of this one with arkworks' own verifier.

use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::CurveGroup;
use ark_ff::PrimeField;
use ark_groth16::r1cs_to_qap::R1CSToQAP;
use ark_groth16::{Proof, ProvingKey};
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::{Matrix, SynthesisError};
use rayon::prelude::*;

type BigInt = <Fr as PrimeField>::BigInt;

fn msm_g1(bases: &[ark_bn254::G1Affine], scalars: &[BigInt]) -> G1Projective {
    crate::msm::msm(bases, scalars)
}

/// The proof for `full` (the constant one, the public inputs, then the witness) with the
/// blinding scalars `r` and `s`.
pub(crate) fn prove<Q: R1CSToQAP>(
    pk: &ProvingKey<Bn254>,
    matrices: &[Matrix<Fr>],
    num_instance_variables: usize,
    num_constraints: usize,
    full: &[Fr],
    r: Fr,
    s: Fr,
) -> Result<Proof<Bn254>, SynthesisError> {
    let scalars: Vec<BigInt> = full.par_iter().map(|x| x.into_bigint()).collect();
    let (Some(variables), Some(witness)) =
        (scalars.get(1..), scalars.get(num_instance_variables..))
    else {
        return Err(SynthesisError::AssignmentMissing);
    };
    let (Some(a0), Some(b0_g1), Some(b0_g2), Some(a_query), Some(b_g1_query), Some(b_g2_query)) = (
        pk.a_query.first(),
        pk.b_g1_query.first(),
        pk.b_g2_query.first(),
        pk.a_query.get(1..),
        pk.b_g1_query.get(1..),
        pk.b_g2_query.get(1..),
    ) else {
        return Err(SynthesisError::Unsatisfiable);
    };
    let Some(full_variables) = full.get(1..) else {
        return Err(SynthesisError::AssignmentMissing);
    };
    // C = s·A + r·B₁ − r·s·δ + L + H, and r·B₁ = r·(β + B₁[0] + s·δ) + Σ (r·aᵢ)·B₁[i]: the sums of
    // B₁ (with the scalars r·aᵢ), L and H make one multi-scalar multiplication, and B₁ itself is
    // never needed.
    let (c_sum, (a_sum, b_g2_sum)) = rayon::join(
        || -> Result<G1Projective, SynthesisError> {
            let (h, r_variables) = rayon::join(
                || {
                    Q::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
                        matrices,
                        num_instance_variables,
                        num_constraints,
                        full,
                    )
                },
                || -> Vec<BigInt> {
                    full_variables
                        .par_iter()
                        .map(|x| (*x * r).into_bigint())
                        .collect()
                },
            );
            let h: Vec<BigInt> = h?.par_iter().map(|x| x.into_bigint()).collect();
            Ok(crate::msm::msm_parts(&[
                (b_g1_query, &r_variables),
                (&pk.l_query, witness),
                (&pk.h_query, &h),
            ]))
        },
        || {
            rayon::join(
                || msm_g1(a_query, variables),
                || -> G2Projective { crate::msm::msm(b_g2_query, variables) },
            )
        },
    );
    let c_sum = c_sum?;
    let delta_g1: G1Projective = pk.delta_g1.into();
    let a = a_sum + a0 + pk.vk.alpha_g1 + delta_g1 * r;
    let b_g2 = b_g2_sum + b0_g2 + pk.vk.beta_g2 + pk.vk.delta_g2 * s;
    let c = a * s + (pk.beta_g1 + *b0_g1) * r + c_sum;
    Ok(Proof {
        a: a.into_affine(),
        b: b_g2.into_affine(),
        c: c.into_affine(),
    })
}

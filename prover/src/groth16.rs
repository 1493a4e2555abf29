//! The Groth16 prover's last step, from the full assignment to the proof points, with the
//! independent parts run side by side: the QAP witness map (FFTs) and then one sum for `C`
//! (the `B` in G1, `L` and `H` terms together) on one side, the `A` and `B` (G2) sums, which
//! need only the assignment, on the other. With [`KeyTables`] the sums use the key's
//! precomputed multiples ([`crate::msm::fixed`]), and the `B` in G1 and `L` terms of `C` go
//! into their buckets beside the witness map, `H`'s into the same buckets after it; without
//! them, with the endomorphism's split of the scalars ([`crate::msm::glv`]). arkworks'
//! `create_proof_with_reduction_and_matrices` computes the same points one part after the
//! other; `tests/fast_path.rs` checks every proof of this one with arkworks' own verifier.

use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::CurveGroup;
use ark_ff::{One, PrimeField, Zero};
use ark_groth16::r1cs_to_qap::R1CSToQAP;
use ark_groth16::{Proof, ProvingKey};
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::{Matrix, SynthesisError};
use rayon::prelude::*;

use crate::msm::fixed::{Partial, Table, Widths};

type BigInt = <Fr as PrimeField>::BigInt;
type G1 = ark_bn254::g1::Config;
type G2 = ark_bn254::g2::Config;

/// The multiples of the proving key's bases for fixed-base sums: `A`, `B` in G1 and G2 (each
/// without the constant's base), `L` and `H`.
#[derive(Debug)]
pub(crate) struct KeyTables {
    a: Table<G1>,
    b_g1: Table<G1>,
    b_g2: Table<G2>,
    l: Table<G1>,
    h: Table<G1>,
}

impl KeyTables {
    /// The tables of `pk` with windows of `widths.g1` bits in G1 and `widths.g2` in G2.
    pub(crate) fn new(pk: &ProvingKey<Bn254>, widths: Widths) -> Self {
        let c = widths.g1;
        let rest = |v: &[ark_bn254::G1Affine]| Table::new(v.get(1..).unwrap_or_default(), c);
        Self {
            a: rest(&pk.a_query),
            b_g1: rest(&pk.b_g1_query),
            b_g2: Table::new(pk.b_g2_query.get(1..).unwrap_or_default(), widths.g2),
            l: Table::new(&pk.l_query, c),
            h: Table::new(&pk.h_query, c),
        }
    }

    /// The memory the tables take, in bytes.
    pub(crate) fn size_bytes(&self) -> usize {
        [&self.a, &self.b_g1, &self.l, &self.h]
            .iter()
            .map(|t| t.size_bytes())
            .sum::<usize>()
            + self.b_g2.size_bytes()
    }
}

/// Bases, their table if built, and scalars.
type TabledPart<'a, P> = (&'a [Affine<P>], Option<&'a Table<P>>, &'a [BigInt]);

/// `Σ` over the parts of `scalars[i]·bases[i]`: from the parts' tables when every part has
/// one, in at most `max_shares` shares, else with [`crate::msm::glv::msm_parts`] (the same sum).
fn sum<P: crate::msm::glv::Endomorphism>(
    parts: &[TabledPart<'_, P>],
    max_shares: usize,
) -> Projective<P> {
    let tables: Option<Vec<(&Table<P>, &[BigInt])>> =
        parts.iter().map(|(_, t, s)| t.map(|t| (t, *s))).collect();
    if let Some(Ok(total)) = tables.map(|t| crate::msm::fixed::sum_in_shares(&t, max_shares)) {
        return total;
    }
    let parts: Vec<crate::msm::Part<'_, P>> = parts.iter().map(|(b, _, s)| (*b, *s)).collect();
    crate::msm::glv::msm_parts(&parts)
}

/// The proof for `full` (the constant one, the public inputs, then the witness) with the
/// blinding scalars `r` and `s`, from the prover's key, matrices and (if built) tables.
pub(crate) fn prove<Q: R1CSToQAP>(
    prover: &crate::Prover,
    full: &[Fr],
    r: Fr,
    s: Fr,
) -> Result<Proof<Bn254>, SynthesisError> {
    let pk = &prover.pk;
    let matrices: &[Matrix<Fr>] = &prover.matrices;
    let (num_instance_variables, num_constraints) =
        (prover.num_instance_variables, prover.num_constraints);
    let tables = prover.tables.as_ref();
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
    // never needed. With tables a sum pays one bucket sum per share of the work, not one per
    // window, so B₁'s and L's terms go into the buckets beside the witness map, which keeps
    // both cores busy where the map would leave one waiting, and H's into the same buckets
    // after it: one bucket sum per share for all of C, and the shares take H's terms as their
    // threads come free (1.02-1.03x, BENCHMARKS.md).
    let (c_sum, (a_sum, b_g2_sum)) = rayon::join(
        || -> Result<G1Projective, SynthesisError> {
            let (h, (r_variables, ones, early)) = rayon::join(
                || {
                    Q::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
                        matrices,
                        num_instance_variables,
                        num_constraints,
                        full,
                    )
                },
                || {
                    // The variables equal to one (the witness's bits, hundreds of them) would
                    // all take the scalar r, whose digits are the same for each: in a fixed-base
                    // sum they would crowd the same few buckets and end up in slow projective
                    // additions. Their B₁ points are summed apart instead, times r once.
                    let r_variables: Vec<BigInt> = full_variables
                        .par_iter()
                        .map(|x| match x.is_one() {
                            true => BigInt::from(0u64),
                            false => (*x * r).into_bigint(),
                        })
                        .collect();
                    let mut ones = G1Projective::zero();
                    for (_, p) in full_variables
                        .iter()
                        .zip(b_g1_query)
                        .filter(|(x, _)| x.is_one())
                    {
                        ones += p;
                    }
                    // On one thread nothing runs beside the map: one sum for C is then cheaper.
                    let early = tables
                        .filter(|_| rayon::current_num_threads() > 1)
                        .map(|t| {
                            let mut partial = Partial::new(usize::MAX);
                            let added = partial.add(&[(&t.b_g1, &r_variables), (&t.l, witness)]);
                            (t, partial, added)
                        });
                    (r_variables, ones, early)
                },
            );
            let h: Vec<BigInt> = h?.par_iter().map(|x| x.into_bigint()).collect();
            let c_sum = match early {
                // H's terms go into the same buckets as B₁'s and L's: one bucket sum per share
                // for all of C.
                Some((t, mut partial, Ok(()))) => match partial.add(&[(&t.h, &h)]) {
                    Ok(()) => partial.finish(),
                    Err(_) => partial.finish() + sum(&[(&pk.h_query, None, &h)], usize::MAX),
                },
                Some((_, _, Err(_))) | None => sum(
                    &[
                        (b_g1_query, tables.map(|t| &t.b_g1), &r_variables),
                        (&pk.l_query, tables.map(|t| &t.l), witness),
                        (&pk.h_query, tables.map(|t| &t.h), &h),
                    ],
                    usize::MAX,
                ),
            };
            Ok(c_sum + ones * r)
        },
        || {
            // A and B in G2 run beside the C side, which keeps the other threads busy: with
            // tables each is summed in at most half as many shares as there are threads, one
            // bucket sum per share (on two threads, one share each: 1.04-1.05x, BENCHMARKS.md).
            let shares = (rayon::current_num_threads() / 2).max(1);
            rayon::join(
                || -> G1Projective { sum(&[(a_query, tables.map(|t| &t.a), variables)], shares) },
                || -> G2Projective {
                    sum(&[(b_g2_query, tables.map(|t| &t.b_g2), variables)], shares)
                },
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

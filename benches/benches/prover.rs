//! Proving `delivered-within`: one proof with cached matrices (the library's path) under the
//! built-in keys (the demo ceremony's, snarkjs's QAP layout), the same with arkworks' sequential
//! proof assembly instead of the concurrent one, with the key's fixed-base tables (the service's
//! prover), and under the first v2 keys (`keys/v2-dev`, arkworks' layout), against arkworks'
//! `Groth16::prove` (which re-synthesises and rebuilds the matrices every time, and knows
//! arkworks' layout only). Group `msm/`: the proof's largest sums alone; `tables/`: building
//! the fixed-base tables.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use ark_snark::SNARK;
use criterion::{criterion_group, criterion_main, Criterion};
use letro_circuits::DeliveredWithinCircuit;
use letro_core::statement::example::default_example;
use letro_prover::msm::fixed;
use letro_prover::{keys, ProofAssembly, Prover};
use rand::SeedableRng;

fn bench_prove(c: &mut Criterion) {
    let (_, built_in) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let prover = Prover::new(built_in.clone()).unwrap();
    let tabled = Prover::new(built_in)
        .unwrap()
        .with_tables(letro_prover::msm::fixed::Widths::DEFAULT);
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir().join("v2-dev")).unwrap();
    let libsnark = Prover::new(pk.clone()).unwrap();
    let e = default_example();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut g = c.benchmark_group("prove");
    g.sample_size(10);
    g.bench_function("letro_prover_cached_matrices", |b| {
        b.iter(|| prover.prove(&e.statement, &e.witness, &mut rng).unwrap())
    });
    g.bench_function("letro_prover_fixed_base_tables", |b| {
        b.iter(|| tabled.prove(&e.statement, &e.witness, &mut rng).unwrap())
    });
    g.bench_function("letro_prover_arkworks_assembly", |b| {
        b.iter(|| {
            prover
                .prove_with_assembly(&e.statement, &e.witness, &mut rng, ProofAssembly::Arkworks)
                .unwrap()
        })
    });
    g.bench_function("letro_prover_cached_matrices_arkworks_layout", |b| {
        b.iter(|| libsnark.prove(&e.statement, &e.witness, &mut rng).unwrap())
    });
    g.bench_function("ark_groth16_prove", |b| {
        b.iter(|| {
            Groth16::<Bn254>::prove(
                &pk,
                DeliveredWithinCircuit::new(&e.statement, &e.witness),
                &mut rng,
            )
            .unwrap()
        })
    });
    g.bench_function("witness_synthesis_only", |b| {
        b.iter(|| {
            let cs = ConstraintSystem::new_ref();
            cs.set_mode(ark_relations::gr1cs::SynthesisMode::Prove {
                construct_matrices: false,
                generate_lc_assignments: false,
            });
            DeliveredWithinCircuit::new(&e.statement, &e.witness)
                .generate_constraints(cs)
                .unwrap()
        })
    });
    g.finish();
}

fn bench_verify(c: &mut Criterion) {
    let (_, _, vk) = keys::load_verifying_key(&keys::repo_keys_dir()).unwrap();
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let prover = Prover::new(pk).unwrap();
    let e = default_example();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    let proof = prover.prove(&e.statement, &e.witness, &mut rng).unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&vk);
    let inputs = e.statement.public_inputs();
    c.bench_function("groth16_verify_prepared", |b| {
        b.iter(|| assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs).unwrap()))
    });
}

/// What a process pays before its first proof: the proving key from its file (hash, then the
/// points; compressed as before 2026-12-03, uncompressed now) and the constraint matrices
/// (synthesised, or decoded from the built-in file).
fn bench_cold_start(c: &mut Criterion) {
    use ark_serialize::CanonicalSerialize;
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let mut compressed = Vec::new();
    pk.serialize_compressed(&mut compressed).unwrap();
    let mut uncompressed = Vec::new();
    pk.serialize_uncompressed(&mut uncompressed).unwrap();
    let mut g = c.benchmark_group("cold_start");
    g.sample_size(10);
    for (name, bytes) in [
        ("proving_key_compressed", &compressed),
        ("proving_key_uncompressed", &uncompressed),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let _ = keys::sha256_hex(bytes);
                keys::decode_proving_key("pk", bytes).unwrap()
            })
        });
    }
    g.bench_function("matrices_synthesised", |b| {
        b.iter(|| letro_prover::Matrices::of_circuit().unwrap())
    });
    g.bench_function("matrices_built_in", |b| {
        b.iter(|| letro_prover::Matrices::built_in().unwrap())
    });
    g.finish();
}

/// The proof's largest sums on the built-in key's own bases with random scalars: arkworks'
/// `msm_bigint` against the prover's batched-affine Pippenger (`letro_prover::msm`) and its
/// fixed-base sums (`letro_prover::msm::fixed`) at several window widths.
fn bench_msm(c: &mut Criterion) {
    use ark_bn254::{Fr, G1Projective, G2Projective};
    use ark_ec::VariableBaseMSM;
    use ark_ff::{PrimeField, UniformRand};
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let n = pk.h_query.len().max(pk.b_g2_query.len());
    let scalars: Vec<_> = (0..n).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
    let mut g = c.benchmark_group("msm");
    g.sample_size(10);
    let h = format!("h_query_g1_{}", pk.h_query.len());
    g.bench_function(format!("{h}/arkworks"), |b| {
        b.iter(|| G1Projective::msm_bigint(&pk.h_query, &scalars))
    });
    g.bench_function(format!("{h}/batch_affine"), |b| {
        b.iter(|| letro_prover::msm::msm(&pk.h_query, &scalars))
    });
    for width in [11, 12, 13, 14, 15, 16] {
        let table = fixed::Table::new(&pk.h_query, width);
        g.bench_function(format!("{h}/fixed_base_c{width}"), |b| {
            b.iter(|| fixed::sum(&[(&table, &scalars)]).unwrap())
        });
    }
    let b2 = format!("b_g2_query_{}", pk.b_g2_query.len());
    g.bench_function(format!("{b2}/arkworks"), |b| {
        b.iter(|| G2Projective::msm_bigint(&pk.b_g2_query, &scalars))
    });
    g.bench_function(format!("{b2}/batch_affine"), |b| {
        b.iter(|| letro_prover::msm::msm(&pk.b_g2_query, &scalars))
    });
    for width in [11, 12, 13, 14, 15, 16] {
        let table = fixed::Table::new(&pk.b_g2_query, width);
        g.bench_function(format!("{b2}/fixed_base_c{width}"), |b| {
            b.iter(|| fixed::sum(&[(&table, &scalars)]).unwrap())
        });
    }
    g.finish();
}

/// Building the built-in key's fixed-base tables (what the service pays once, at its first
/// proof job).
fn bench_tables(c: &mut Criterion) {
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let mut g = c.benchmark_group("tables");
    g.sample_size(10);
    let w = fixed::Widths::DEFAULT;
    g.bench_function(format!("build_g1_c{}_g2_c{}", w.g1, w.g2), |b| {
        b.iter(|| Prover::new(pk.clone()).unwrap().with_tables(w))
    });
    g.finish();
}

/// Inversions in `Fq`, the one every batch of bucket additions pays: arkworks' `inverse`
/// against `letro_prover::msm::inverse::inverse` (Pornin's binary GCD), on 4,096 distinct
/// values as in a proof (a few values inverted over and over would let the branch predictor
/// learn arkworks' branches, and flatter it 2x). Then one batch of 512
/// inversions in `Fq2` (G2's coordinates), as a batch of bucket additions in G2 does:
/// arkworks' `batch_inversion` (Montgomery's trick in `Fq2`) against
/// `letro_prover::msm::invert_batch` (the trick on the norms, in `Fq`).
fn bench_inversion(c: &mut Criterion) {
    use ark_bn254::{Fq, Fq2};
    use ark_ff::{Field, UniformRand};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let xs: Vec<Fq> = (0..4096).map(|_| Fq::rand(&mut rng)).collect();
    let mut g = c.benchmark_group("inversion");
    g.sample_size(20);
    g.bench_function("fq_4096/arkworks", |b| {
        b.iter(|| xs.iter().map(|x| x.inverse()).collect::<Vec<_>>())
    });
    g.bench_function("fq_4096/binary_gcd", |b| {
        b.iter(|| {
            xs.iter()
                .map(letro_prover::msm::inverse::inverse)
                .collect::<Vec<_>>()
        })
    });
    g.finish();
    let values: Vec<Fq2> = (0..512).map(|_| Fq2::rand(&mut rng)).collect();
    let mut g = c.benchmark_group("batch_inversion");
    g.bench_function("fq2_512/arkworks", |b| {
        b.iter(|| {
            let mut v = values.clone();
            ark_ff::batch_inversion(&mut v);
            v
        })
    });
    let mut prefix = Vec::with_capacity(512);
    g.bench_function("fq2_512/norms", |b| {
        b.iter(|| {
            let mut v = values.clone();
            assert!(letro_prover::msm::invert_batch(&mut v, &mut prefix));
            v
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_prove,
    bench_inversion,
    bench_msm,
    bench_tables,
    bench_verify,
    bench_cold_start
);
criterion_main!(benches);

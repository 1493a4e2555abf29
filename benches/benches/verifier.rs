//! Verifying bundles: one at a time against a batch with one random linear combination.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use letro_core::bundle::{parse_time, DeliveryRecord};
use letro_log::note::VerifierKey;
use letro_prover::{keys, Prover};
use letro_verifier::Verifier;
use rand::SeedableRng;

fn repo(p: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(p)
}

fn bench_verify(c: &mut Criterion) {
    let record =
        DeliveryRecord::parse(&std::fs::read(repo("testdata/records/valid.record.json")).unwrap())
            .unwrap();
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let prover = Prover::new(pk).unwrap();
    let t = parse_time("2026-11-20T10:00:00Z").unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let bundles: Vec<String> = (0..16u64)
        .map(|i| {
            prover
                .prove_record(&record, t - 3600 * (i + 1), t + 60 * i, &mut rng)
                .unwrap()
                .0
        })
        .collect();
    let vkey = std::fs::read_to_string(repo("testdata/checkpoints/log.vkey")).unwrap();
    let verifier = Verifier::new(vec![VerifierKey::parse(vkey.trim()).unwrap()]).unwrap();
    let refs: Vec<&[u8]> = bundles.iter().map(|b| b.as_bytes()).collect();

    c.bench_function("verify_one_bundle", |b| {
        b.iter(|| verifier.verify(refs[0]).unwrap())
    });
    let mut g = c.benchmark_group("verify_16_bundles");
    g.sample_size(20);
    g.bench_with_input(BenchmarkId::new("one_by_one", 16), &refs, |b, refs| {
        b.iter(|| {
            for r in refs.iter() {
                verifier.verify(r).unwrap();
            }
        })
    });
    g.bench_with_input(BenchmarkId::new("batch", 16), &refs, |b, refs| {
        b.iter(|| assert!(verifier.verify_batch(refs).iter().all(Result::is_ok)))
    });
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);

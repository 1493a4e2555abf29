//! Native primitives: Poseidon, EdDSA-Poseidon, tree appends.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use letro_core::eddsa::{self, PrivateKey};
use letro_core::merkle::MerkleTree;
use letro_core::{poseidon, Fr};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn bench_native(c: &mut Criterion) {
    c.bench_function("poseidon_4_inputs", |b| {
        b.iter(|| {
            poseidon::hash([
                Fr::from(1u64),
                Fr::from(2u64),
                Fr::from(3u64),
                Fr::from(4u64),
            ])
        })
    });
    let mut group = c.benchmark_group("poseidon");
    for arity in [4usize, 5] {
        let inputs: Vec<Fr> = (1..=arity as u64).map(Fr::from).collect();
        group.bench_function(format!("{arity}_inputs/optimized"), |b| {
            b.iter(|| poseidon::poseidon(black_box(&inputs)).unwrap())
        });
        group.bench_function(format!("{arity}_inputs/reference"), |b| {
            b.iter(|| poseidon::poseidon_reference(black_box(&inputs)).unwrap())
        });
    }
    group.finish();

    let sk = PrivateKey::from_bytes([3u8; 32]);
    let pk = sk.public_key();
    let msg = Fr::from(99u64);
    let sig = sk.sign(&msg);
    c.bench_function("eddsa_poseidon_sign", |b| b.iter(|| sk.sign(&msg)));
    c.bench_function("eddsa_poseidon_verify", |b| {
        b.iter(|| pk.verify(black_box(&msg), black_box(&sig)).unwrap())
    });
    c.bench_function("eddsa_poseidon_verify_reference", |b| {
        b.iter(|| {
            pk.verify_reference(black_box(&msg), black_box(&sig))
                .unwrap()
        })
    });
    let items: Vec<_> = (0..64u64)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&i.to_le_bytes());
            let sk = PrivateKey::from_bytes(seed);
            let msg = Fr::from(i * 31 + 5);
            (sk.public_key(), msg, sk.sign(&msg))
        })
        .collect();
    let mut group = c.benchmark_group("eddsa_poseidon_verify_64");
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function("batch", |b| {
        let mut rng = ChaCha20Rng::from_entropy();
        b.iter(|| eddsa::verify_batch(black_box(&items), &mut rng).unwrap())
    });
    group.bench_function("one_by_one", |b| {
        b.iter(|| {
            for (pk, msg, sig) in black_box(&items) {
                pk.verify(msg, sig).unwrap();
            }
        })
    });
    group.finish();
    let leaves: Vec<Fr> = (0..1000u64).map(Fr::from).collect();
    c.bench_function("merkle_extend_1000_in_one_batch", |b| {
        b.iter(|| {
            let mut t = MerkleTree::new();
            t.extend(&leaves).unwrap();
            t.root()
        })
    });
    c.bench_function("merkle_append_1000", |b| {
        b.iter(|| {
            let mut t = MerkleTree::new();
            for i in 0..1000u64 {
                t.append(Fr::from(i)).unwrap();
            }
            t.root()
        })
    });
}

criterion_group!(benches, bench_native);
criterion_main!(benches);

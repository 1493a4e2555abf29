//! Native primitives: Poseidon, EdDSA-Poseidon, tree appends.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use letro_core::eddsa::PrivateKey;
use letro_core::merkle::MerkleTree;
use letro_core::{poseidon, Fr};

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
    let sk = PrivateKey::from_bytes([3u8; 32]);
    let pk = sk.public_key();
    let msg = Fr::from(99u64);
    let sig = sk.sign(&msg);
    c.bench_function("eddsa_poseidon_sign", |b| b.iter(|| sk.sign(&msg)));
    c.bench_function("eddsa_poseidon_verify", |b| {
        b.iter(|| pk.verify(&msg, &sig).unwrap())
    });
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

//! The phase-2 ceremony on the real circuit: the initial key, a contribution, a beacon, the
//! verification of a chain, and the transcript's size (printed).
//!
//! Needs the test phase 1: `LETRO_PTAU` or `../shared/ptau/pot15_test.ptau` beside the
//! repository (CEREMONY.md). `cargo bench -p letro-benches --bench ceremony`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use letro_ceremony::{phase2, Ptau, R1cs, Zkey};

fn ptau() -> Ptau {
    let path = std::env::var_os("LETRO_PTAU")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/ptau/pot15_test.ptau")
        });
    let b2 =
        std::fs::read_to_string(path.with_extension("ptau.b2")).expect("the .b2 beside the .ptau");
    let pin = b2.split_whitespace().next().expect("a hash");
    Ptau::open(&path, pin).expect("the test phase 1")
}

fn bench(c: &mut Criterion) {
    let ptau = ptau();
    let r1cs = R1cs::of_circuit().unwrap();
    let mut g = c.benchmark_group("ceremony");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    let init = Zkey::new(&r1cs, &ptau).unwrap();
    g.bench_function("init (zkey new)", |b| {
        b.iter(|| Zkey::new(&r1cs, &ptau).unwrap())
    });
    g.bench_function("contribute", |b| {
        b.iter(|| phase2::contribute(&init, Some("bench"), b"").unwrap())
    });
    g.bench_function("beacon 2^10", |b| {
        b.iter(|| phase2::beacon(&init, Some("bench"), b"beacon", 10).unwrap())
    });
    let (k1, _) = phase2::contribute(&init, Some("one"), b"").unwrap();
    let (k2, _) = phase2::contribute(&k1, Some("two"), b"").unwrap();
    let (k3, _) = phase2::beacon(&k2, Some("beacon"), b"beacon", 10).unwrap();
    g.bench_function("verify 3 contributions (initial key given)", |b| {
        b.iter(|| phase2::verify_from_init(&k3, &init).unwrap())
    });
    g.finish();
    let bytes = k3.to_bytes();
    println!(
        "transcript: {} bytes for 3 contributions ({} bytes of the initial key); .r1cs {} bytes",
        bytes.len(),
        init.to_bytes().len(),
        r1cs.to_bytes().len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

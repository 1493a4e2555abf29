//! The committed keys in keys/ belong to the current circuit, and the prover works with them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, OnceLock};

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use letro_core::statement::{example::default_example, RelationError};
use letro_prover::{keys, ProveError, Prover};
use rand::SeedableRng;

fn prover() -> &'static Prover {
    static P: OnceLock<Prover> = OnceLock::new();
    P.get_or_init(|| {
        let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
        Prover::new(pk).unwrap()
    })
}

#[test]
fn committed_verifying_key_belongs_to_current_circuit() {
    let dir = keys::repo_keys_dir();
    let (manifest, vk_bytes, vk) = keys::load_verifying_key(&dir).unwrap();
    assert_eq!(
        manifest.constraints,
        letro_circuits::circuit::constraint_count().unwrap()
    );
    assert_eq!(
        manifest.public_inputs,
        letro_core::statement::NUM_PUBLIC_INPUTS
    );
    assert_eq!(
        keys::verifying_key_bytes(&prover().proving_key().vk).unwrap(),
        vk_bytes
    );
    // A proof of the current circuit made with the committed proving key verifies under the
    // committed verifying key: the key pair was made for exactly these constraints.
    let e = default_example();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let proof = prover().prove(&e.statement, &e.witness, &mut rng).unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &e.statement.public_inputs()).unwrap());
    let mut other = e.statement;
    other.not_after += 1;
    assert!(!Groth16::<Bn254>::verify_proof(&pvk, &proof, &other.public_inputs()).unwrap());
}

#[test]
fn tampered_key_file_is_refused() {
    let dir = tempdir();
    let src = keys::repo_keys_dir();
    for f in [
        keys::MANIFEST,
        keys::DEMO_PROVING_KEY,
        keys::DEMO_VERIFYING_KEY,
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let vk_path = dir.join(keys::DEMO_VERIFYING_KEY);
    let mut bytes = std::fs::read(&vk_path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&vk_path, bytes).unwrap();
    assert!(matches!(
        keys::load_verifying_key(&dir),
        Err(keys::KeyError::HashMismatch { .. })
    ));
    std::fs::write(dir.join(keys::MANIFEST), b"{}").unwrap();
    assert!(matches!(
        keys::load_verifying_key(&dir),
        Err(keys::KeyError::Manifest { .. })
    ));
    std::fs::remove_dir_all(dir).ok();
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("letro-keys-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn false_statement_is_refused_before_proving() {
    let e = default_example();
    let mut s = e.statement;
    s.not_after = e.witness.delivered_at - 1;
    s.not_before = s.not_after - 100;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let err = prover().prove(&s, &e.witness, &mut rng).unwrap_err();
    assert!(
        matches!(
            err,
            ProveError::FalseStatement(RelationError::DeliveredAfterWindow { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("after the window end"));
}

#[test]
fn proves_from_several_threads() {
    let p: &'static Prover = prover();
    let e = Arc::new(default_example());
    let handles: Vec<_> = (0..3u64)
        .map(|i| {
            let e = Arc::clone(&e);
            std::thread::spawn(move || {
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(100 + i);
                p.prove(&e.statement, &e.witness, &mut rng).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().is_ok());
    }
}

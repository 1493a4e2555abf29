//! The prover's fast path: the built-in constraint matrices, proving keys read unchecked from
//! their uncompressed encoding, and the proofs they give checked by arkworks' own verifier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ark_bn254::Bn254;
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_snark::SNARK;
use letro_core::statement::example::default_example;
use letro_prover::keys::{self, PointEncoding};
use letro_prover::{Matrices, ProofAssembly, ProveError, Prover};
use rand::SeedableRng;

const MATRICES_FILE: &str = "matrices/delivered-within-v2.matrices";

/// The built-in matrices are exactly a fresh synthesis of the circuit, and the committed file is
/// exactly their encoding. `LETRO_REGENERATE=1` rewrites the file after a circuit change.
#[test]
fn built_in_matrices_are_the_circuits() {
    let fresh = Matrices::of_circuit().unwrap();
    let bytes = fresh.to_file_bytes().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MATRICES_FILE);
    if std::env::var_os("LETRO_REGENERATE").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    assert!(
        std::fs::read(&path).unwrap() == bytes,
        "{MATRICES_FILE} is not the current circuit's: rerun this test with LETRO_REGENERATE=1"
    );
    assert_eq!(Matrices::built_in().unwrap(), fresh);
    assert_eq!(Matrices::from_file_bytes(&bytes).unwrap(), fresh);
}

#[test]
fn damaged_matrices_files_are_refused() {
    let good = Matrices::built_in().unwrap().to_file_bytes().unwrap();
    let refused = |bytes: &[u8], why: &str| {
        let err = Matrices::from_file_bytes(bytes).unwrap_err().to_string();
        assert!(err.contains(why), "{err} (expected: {why})");
    };
    refused(&good[..good.len() - 1], "truncated");
    refused(b"", "truncated");
    let mut longer = good.clone();
    longer.push(0);
    refused(&longer, "bytes after");
    let mut magic = good.clone();
    magic[0] ^= 1;
    refused(&magic, "not a letro-matrices/1 file");
    // A coefficient count far beyond the file's size is refused before anything is allocated.
    let mut huge = good.clone();
    huge[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    refused(&huge, "larger than the file");
    // The first coefficient set to the modulus.
    let mut coeff = good.clone();
    let modulus = <letro_core::Fr as ark_ff::PrimeField>::MODULUS;
    coeff[32..64].copy_from_slice(&ark_ff::BigInteger::to_bytes_le(&modulus));
    refused(&coeff, "not below the field's modulus");
    // The first row's first entry: its variable, then its coefficient index.
    let k = u32::from_le_bytes(good[28..32].try_into().unwrap()) as usize;
    let first_entry = 32 + 32 * k + 4;
    let mut var = good.clone();
    var[first_entry..first_entry + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    refused(&var, "variable out of range");
    let mut index = good;
    index[first_entry + 4..first_entry + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    refused(&index, "coefficient index out of range");
}

/// A prover on matrices that are not the circuit's never hands out a proof: its self-check
/// refuses it.
#[test]
fn wrong_matrices_fail_the_self_check() {
    let (_, pk) = letro_prover::embedded::proving_key().unwrap();
    let mut m = Matrices::built_in().unwrap();
    let row = m.abc[2].iter_mut().find(|r| !r.is_empty()).unwrap();
    row[0].0 += letro_core::Fr::from(1u64);
    let p = Prover::with_matrices(pk, m).unwrap();
    let e = default_example();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    assert!(matches!(
        p.prove(&e.statement, &e.witness, &mut rng),
        Err(ProveError::SelfCheckFailed)
    ));
}

/// The built-in proving key is stored uncompressed and the first v2 key compressed; both are
/// told apart by their length and decode to the keys their verifying keys belong to.
#[test]
fn proving_keys_load_from_either_encoding() {
    let built_in = keys::repo_keys_dir();
    let v2_dev = built_in.join("v2-dev");
    for (dir, encoding) in [
        (&built_in, PointEncoding::Uncompressed),
        (&v2_dev, PointEncoding::Compressed),
    ] {
        let m = keys::read_manifest(dir).unwrap();
        let bytes = std::fs::read(dir.join(&m.proving_key.file)).unwrap();
        assert_eq!(keys::proving_key_encoding(&bytes), Some(encoding));
        let (_, pk) = keys::load_proving_key(dir).unwrap();
        // The decoding (in parallel for an uncompressed key) gives arkworks' own decoding.
        let theirs = ProvingKey::<Bn254>::deserialize_with_mode(
            bytes.as_slice(),
            Compress::from(encoding),
            Validate::No,
        )
        .unwrap();
        assert_eq!(pk, theirs);
        // The other encoding of the same key decodes to the same key.
        let other = match encoding {
            PointEncoding::Compressed => PointEncoding::Uncompressed,
            PointEncoding::Uncompressed => PointEncoding::Compressed,
        };
        let mut re = Vec::new();
        pk.serialize_with_mode(&mut re, Compress::from(other))
            .unwrap();
        assert_eq!(keys::proving_key_encoding(&re), Some(other));
        assert_eq!(keys::decode_proving_key("re-encoded", &re).unwrap(), pk);
        // One byte more or less fits neither layout.
        for bad in [
            &bytes[..bytes.len() - 1],
            &[bytes.as_slice(), &[0]].concat()[..],
        ] {
            assert_eq!(keys::proving_key_encoding(bad), None);
            let err = keys::decode_proving_key("bad.pk", bad).unwrap_err();
            assert!(err.to_string().contains("fits neither"), "{err}");
        }
    }
    assert!(keys::proving_key_encoding(b"").is_none());
    assert!(keys::proving_key_encoding(&[0xff; 600]).is_none());
}

/// A point of an uncompressed key whose coordinate is not a field element is refused with an
/// error, wherever it sits among the points decoded in parallel, as arkworks refuses it.
#[test]
fn a_bad_point_of_an_uncompressed_key_is_an_error() {
    let dir = keys::repo_keys_dir();
    let m = keys::read_manifest(&dir).unwrap();
    let bytes = std::fs::read(dir.join(&m.proving_key.file)).unwrap();
    assert_eq!(
        keys::proving_key_encoding(&bytes),
        Some(PointEncoding::Uncompressed)
    );
    // The last point's first coordinate (of `l`), and a coordinate about halfway through.
    let last = bytes.len() - 64;
    let middle = (bytes.len() / 2) & !7;
    for at in [last, middle] {
        let mut bad = bytes.clone();
        bad[at..at + 32].fill(0xff);
        let theirs =
            ProvingKey::<Bn254>::deserialize_with_mode(bad.as_slice(), Compress::No, Validate::No);
        assert!(theirs.is_err(), "arkworks accepts the change at {at}");
        let err = keys::decode_proving_key("bad.pk", &bad).unwrap_err();
        assert!(matches!(err, keys::KeyError::Decode { .. }), "{err}");
    }
}

/// A proof made on the fast path (built-in matrices, the key read unchecked from its
/// uncompressed file, with and without fixed-base tables) verifies with arkworks' own
/// `Groth16::verify` under the committed verifying key decoded with every point checked, and
/// fails for another statement.
#[test]
fn fast_path_proofs_verify_with_the_untouched_arkworks_verifier() {
    let (_, pk) = keys::load_proving_key(&keys::repo_keys_dir()).unwrap();
    let plain = Prover::new(pk.clone()).unwrap();
    // Widths other than the default: 14 in G1, whose top window crowds a few buckets.
    let tabled = Prover::new(pk)
        .unwrap()
        .with_tables(letro_prover::msm::fixed::Widths { g1: 14, g2: 12 });
    let m = keys::read_manifest(&keys::repo_keys_dir()).unwrap();
    let vk_bytes = std::fs::read(keys::repo_keys_dir().join(&m.verifying_key.file)).unwrap();
    let vk = VerifyingKey::<Bn254>::deserialize_compressed(vk_bytes.as_slice()).unwrap();
    let e = default_example();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    for p in [&plain, &plain, &tabled, &tabled] {
        let proof = p.prove(&e.statement, &e.witness, &mut rng).unwrap();
        let inputs = e.statement.public_inputs();
        assert!(Groth16::<Bn254>::verify(&vk, &inputs, &proof).unwrap());
        let mut other = e.statement;
        other.not_before -= 1;
        assert!(!Groth16::<Bn254>::verify(&vk, &other.public_inputs(), &proof).unwrap());
    }
}

/// The concurrent assembly is arkworks' arithmetic reordered: with the same random numbers it
/// gives exactly arkworks' proof, for both QAP layouts, with and without fixed-base tables, on
/// one thread and on the default pool.
#[test]
fn the_concurrent_assembly_gives_arkworks_proof() {
    let e = default_example();
    for dir in [keys::repo_keys_dir(), keys::repo_keys_dir().join("v2-dev")] {
        let (_, pk) = keys::load_proving_key(&dir).unwrap();
        let p = Prover::new(pk).unwrap();
        let ours = p
            .prove_with_assembly(
                &e.statement,
                &e.witness,
                &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
                ProofAssembly::Concurrent,
            )
            .unwrap();
        let arkworks = p
            .prove_with_assembly(
                &e.statement,
                &e.witness,
                &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
                ProofAssembly::Arkworks,
            )
            .unwrap();
        assert_eq!(ours, arkworks, "{}", dir.display());
        // The same with the key's fixed-base tables (the service's prover).
        let p = p.with_tables(letro_prover::msm::fixed::Widths::DEFAULT);
        assert!(p.tables_size_bytes() > 0);
        let tabled = p
            .prove(
                &e.statement,
                &e.witness,
                &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
            )
            .unwrap();
        assert_eq!(tabled, arkworks, "{} with tables", dir.display());
        // On a one-thread pool (the service's narrow provers) the tables path sums C at once
        // instead of in two parts beside the witness map: the same proof.
        let narrow = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| {
                p.prove(
                    &e.statement,
                    &e.witness,
                    &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
                )
            })
            .unwrap();
        assert_eq!(
            narrow,
            arkworks,
            "{} with tables, one thread",
            dir.display()
        );
        let other = p
            .prove(
                &e.statement,
                &e.witness,
                &mut rand_chacha::ChaCha20Rng::seed_from_u64(10),
            )
            .unwrap();
        assert_ne!(ours, other);
    }
}

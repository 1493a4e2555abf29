//! The ceremony against snarkjs (from npm, pinned in testdata/snarkjs), the independent
//! implementation of the same formats:
//! - the committed transcript of the built-in keys' demo ceremony (`keys/ceremony/`: two of
//!   our contributions, a snarkjs one and our beacon) verifies in `snarkjs zkey verify` and in
//!   ours, with the contribution hashes its manifest records, and finalises into exactly the
//!   built-in keys. snarkjs computes the initial key from our `.r1cs` and the `.ptau` itself
//!   and requires sections 3–7 and the circuit hash of the chain to equal its own, so this also
//!   shows that our initial key is, byte for byte, `snarkjs zkey new`'s;
//! - a fresh chain of our contribution, a snarkjs contribution and our beacon verifies in
//!   snarkjs (from our initial key) and in ours, with the same contribution hashes;
//! - a proof under the finalised keys verifies in arkworks and in `snarkjs groth16 verify`,
//!   with the verifying key that snarkjs exports from the `.zkey`;
//! - broken transcripts (truncated, reordered, skipped, forged, tampered, another circuit) are
//!   refused by ours, naming the contribution, and by snarkjs.
//!
//! Needs node and npm (the test installs the pinned snarkjs with `npm ci`), and the test phase
//! 1 file: `LETRO_PTAU` or `../shared/ptau/pot15_test.ptau` beside the repository.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use letro_ceremony::{phase2, CeremonyError, Ptau, R1cs, Zkey};
use letro_prover::{Prover, QapLayout};
use rand::SeedableRng;
use sha2::Digest as _;

/// The 32-bit words of every BLAKE2b-512 hash snarkjs printed (four lines of four words).
fn printed_hashes(out: &str) -> Vec<String> {
    let is_row = |l: &str| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() == 4
            && w.iter()
                .all(|x| x.len() == 8 && x.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let lines: Vec<&str> = out.lines().collect();
    let mut hashes = Vec::new();
    let mut i = 0;
    while i + 4 <= lines.len() {
        if lines[i..i + 4].iter().all(|l| is_row(l)) {
            hashes.push(
                lines[i..i + 4]
                    .iter()
                    .flat_map(|l| l.split_whitespace())
                    .collect(),
            );
            i += 4;
        } else {
            i += 1;
        }
    }
    hashes
}

/// The built-in keys' manifest (`keys/manifest.json`).
fn built_in_manifest() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repo().join("keys/manifest.json")).unwrap()).unwrap()
}

#[test]
fn the_committed_demo_ceremony_verifies_in_snarkjs_and_here_and_made_the_built_in_keys() {
    let m = built_in_manifest();
    assert_eq!(m["provenance"]["kind"], "demo-ceremony");
    let record = &m["provenance"]["ceremony"];
    let file = record["transcript"]["file"].as_str().unwrap();
    let zkey_path = repo().join("keys/ceremony").join(file);
    let bytes = std::fs::read(&zkey_path).unwrap();
    assert_eq!(
        record["transcript"]["sha256"],
        hex::encode(sha2::Sha256::digest(&bytes)),
        "the committed transcript is the one the manifest records"
    );
    assert_eq!(record["transcript"]["bytes"], bytes.len());
    assert_eq!(record["phase1"]["blake2b"], PTAU_B2);

    // Ours: the whole chain from this circuit's initial key, with the recorded hashes.
    let key = Zkey::from_bytes(&bytes).unwrap();
    let v = phase2::verify_from_init(&key, init_key()).unwrap();
    assert_eq!(record["circuit_hash"], hex::encode(v.cs_hash));
    let recorded = record["contributions"].as_array().unwrap();
    assert_eq!(v.contributions.len(), 4);
    assert_eq!(recorded.len(), v.contributions.len());
    for (c, r) in v.contributions.iter().zip(recorded) {
        assert_eq!(r["number"], c.number);
        assert_eq!(r["name"].as_str(), c.name.as_deref());
        assert_eq!(r["hash"], hex::encode(c.hash));
    }
    let names: Vec<_> = v.contributions.iter().map(|c| c.name.clone()).collect();
    assert!(
        names
            .iter()
            .any(|n| n.as_deref().unwrap().contains("snarkjs")),
        "{names:?}"
    );
    let beacon = v.contributions[3].beacon.as_ref().unwrap();
    assert_eq!(recorded[3]["beacon"]["value"], hex::encode(&beacon.hash));
    assert_eq!(recorded[3]["beacon"]["iterations_exp"], beacon.exp);

    // Finalised, it gives exactly the committed keys, which are the ones built in (the proving
    // key stored uncompressed, as `finalize` writes it).
    let (pk, _) = phase2::finalize_from_init(&key, init_key()).unwrap();
    let mut pk_bytes = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_uncompressed(&pk, &mut pk_bytes).unwrap();
    assert_eq!(
        m["proving_key"]["sha256"],
        hex::encode(sha2::Sha256::digest(&pk_bytes))
    );
    let vk_bytes = letro_prover::keys::verifying_key_bytes(&pk.vk).unwrap();
    assert_eq!(vk_bytes, letro_verifier::EMBEDDED_VERIFYING_KEY);
    let (_, embedded) = letro_prover::embedded::proving_key().unwrap();
    assert_eq!(embedded, pk);

    // snarkjs: the full check from the .r1cs and the .ptau, printing the same hashes.
    let d = fresh_dir("committed");
    std::fs::write(d.join("circuit.r1cs"), r1cs().to_bytes()).unwrap();
    let o = snarkjs(&[
        "zkey",
        "verify",
        path(&d.join("circuit.r1cs")),
        path(&ptau_path()),
        path(&zkey_path),
    ]);
    let out = text(&o);
    assert!(o.status.success() && out.contains("ZKey Ok!"), "{out}");
    let printed = printed_hashes(&out);
    for c in &v.contributions {
        assert!(
            printed.contains(&hex::encode(c.hash)),
            "snarkjs did not print {}",
            hex::encode(c.hash)
        );
    }
    // And the verifying key snarkjs exports from it is the built-in one.
    let o = snarkjs(&[
        "zkey",
        "export",
        "verificationkey",
        path(&zkey_path),
        path(&d.join("vk.json")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("vk.json")).unwrap()).unwrap();
    let ours: serde_json::Value = serde_json::from_str(
        &letro_verifier::snarkjs::verification_key_json(
            &letro_verifier::snarkjs::embedded_verifying_key().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    for field in ["vk_alpha_1", "vk_beta_2", "vk_gamma_2", "vk_delta_2", "IC"] {
        assert_eq!(theirs[field], ours[field], "{field}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_mixed_chain_verifies_in_snarkjs_and_here_and_proves() {
    let d = fresh_dir("chain");
    std::fs::write(d.join("circuit.r1cs"), r1cs().to_bytes()).unwrap();
    std::fs::write(d.join("0000.zkey"), init_key().to_bytes()).unwrap();

    // 1: ours.
    let (k1, h1) = phase2::contribute(
        init_key(),
        Some("letro test contributor"),
        b"dice: 3 1 4 1 5",
    )
    .unwrap();
    std::fs::write(d.join("0001.zkey"), k1.to_bytes()).unwrap();
    // 2: snarkjs's.
    let o = snarkjs(&[
        "zkey",
        "contribute",
        path(&d.join("0001.zkey")),
        path(&d.join("0002.zkey")),
        "--name=snarkjs contributor",
        "-e=entropy typed by a snarkjs contributor",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let snarkjs_hash = printed_hashes(&text(&o))
        .pop()
        .expect("snarkjs printed its contribution hash");
    let k2 = Zkey::from_bytes(&std::fs::read(d.join("0002.zkey")).unwrap()).unwrap();
    // 3: our beacon.
    let beacon =
        hex::decode("2a7ee7a6d6a0b2e0f3c9e0b5d3c1a9f7e5d3c1b9a7f5e3d1c9b7a5f3e1d9c7b5").unwrap();
    let (k3, h3) = phase2::beacon(&k2, Some("letro test beacon"), &beacon, 10).unwrap();
    std::fs::write(d.join("0003.zkey"), k3.to_bytes()).unwrap();

    // Ours accepts the chain and reports every contribution.
    let v = phase2::verify_from_init(&k3, init_key()).unwrap();
    let names: Vec<_> = v
        .contributions
        .iter()
        .map(|c| c.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "letro test contributor",
            "snarkjs contributor",
            "letro test beacon"
        ]
    );
    assert_eq!(v.contributions[0].hash, h1);
    assert_eq!(
        hex::encode(v.contributions[1].hash),
        snarkjs_hash,
        "snarkjs's contribution hash"
    );
    assert_eq!(v.contributions[2].hash, h3);
    assert_eq!(v.contributions[2].beacon.as_ref().unwrap().exp, 10);

    // snarkjs accepts it from our initial key (`zkvi`, `zkey verify init`), and prints the same
    // contribution hashes. That our initial key is snarkjs's own, recomputed from the .r1cs
    // and the .ptau, is shown by the full `zkey verify` of the committed transcript (below),
    // which starts from the same circuit and phase 1.
    let o = snarkjs(&[
        "zkvi",
        path(&d.join("0000.zkey")),
        path(&ptau_path()),
        path(&d.join("0003.zkey")),
    ]);
    let out = text(&o);
    assert!(o.status.success() && out.contains("ZKey Ok!"), "{out}");
    let printed = printed_hashes(&out);
    for h in [h1, v.contributions[1].hash, h3] {
        assert!(
            printed.contains(&hex::encode(h)),
            "snarkjs did not print {}",
            hex::encode(h)
        );
    }

    // The final keys prove; the proof verifies in arkworks and in snarkjs, with the verifying
    // key snarkjs exports from the .zkey.
    let (pk, _) = phase2::finalize_from_init(&k3, init_key()).unwrap();
    let prover = Prover::new(pk.clone()).unwrap();
    assert_eq!(prover.layout(), QapLayout::Snarkjs);
    let record = std::fs::read(repo().join("testdata/records/valid.record.json")).unwrap();
    let record = letro_core::bundle::DeliveryRecord::parse(&record).unwrap();
    let t = record.witness.delivered_at;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let (bundle, _) = prover
        .prove_record(&record, t - 60, t + 60, &mut rng)
        .unwrap();
    let parsed = letro_core::bundle::ParsedBundle::parse(bundle.as_bytes()).unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    let proof = ark_groth16::Proof {
        a: parsed.proof.a,
        b: parsed.proof.b,
        c: parsed.proof.c,
    };
    assert!(ark_groth16::Groth16::<ark_bn254::Bn254>::verify_proof(
        &pvk,
        &proof,
        &parsed.statement.public_inputs()
    )
    .unwrap());
    let files = letro_verifier::snarkjs::export(&parsed, &pk.vk).unwrap();
    letro_verifier::snarkjs::write_dir(&files, &d).unwrap();
    let o = snarkjs(&[
        "zkey",
        "export",
        "verificationkey",
        path(&d.join("0003.zkey")),
        path(&d.join("theirs_vk.json")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("theirs_vk.json")).unwrap()).unwrap();
    let ours: serde_json::Value = serde_json::from_str(&files.verification_key).unwrap();
    for field in [
        "vk_alpha_1",
        "vk_beta_2",
        "vk_gamma_2",
        "vk_delta_2",
        "IC",
        "nPublic",
    ] {
        assert_eq!(theirs[field], ours[field], "{field}");
    }
    let o = snarkjs(&[
        "groth16",
        "verify",
        path(&d.join("theirs_vk.json")),
        path(&d.join("public.json")),
        path(&d.join("proof.json")),
    ]);
    assert!(
        o.status.success() && text(&o).contains("OK"),
        "{}",
        text(&o)
    );

    // With the manifest `letro ceremony finalize` writes, letro-verify's library pins the key
    // at trust level `ceremony` and verifies the bundle under its default policy (ceremony
    // keys only); the same key given without its manifest is only `user-supplied`.
    let keys = d.join("keys");
    let transcript = k3.to_bytes();
    let record = phase2::manifest_record(&v, ptau(), &transcript, Some("0003.zkey"));
    let m = letro_prover::keys::write_ceremony_keys(
        &keys,
        &pk,
        r1cs().constraints.len(),
        letro_prover::keys::CeremonyKind::Deployment,
        "test: three contributions".into(),
        record,
    )
    .unwrap();
    let vk_bytes = std::fs::read(keys.join(&m.verifying_key.file)).unwrap();
    let manifest = std::fs::read_to_string(keys.join("manifest.json")).unwrap();
    let log_key = std::fs::read_to_string(repo().join("testdata/checkpoints/log.vkey")).unwrap();
    let log_key = letro_log::note::VerifierKey::parse(log_key.trim()).unwrap();
    let key = letro_verifier::PinnedKey::from_manifest(
        &manifest,
        &vk_bytes,
        letro_verifier::KeySource::Manifest(path(&keys).into()),
    )
    .unwrap();
    assert_eq!(key.trust_level(), letro_verifier::TrustLevel::Ceremony);
    let verifier = letro_verifier::Verifier::from_keys(vec![key], vec![log_key.clone()])
        .with_trust_policy(letro_verifier::TrustPolicy::CEREMONY_ONLY);
    let verified = verifier.verify(bundle.as_bytes()).unwrap();
    assert_eq!(verified.trust_level(), letro_verifier::TrustLevel::Ceremony);
    let user = letro_verifier::PinnedKey::user_supplied(
        &vk_bytes,
        letro_verifier::KeySource::Given("vk".into()),
    )
    .unwrap();
    let e = letro_verifier::Verifier::from_keys(vec![user], vec![log_key])
        .with_trust_policy(letro_verifier::TrustPolicy::CEREMONY_ONLY)
        .verify(bundle.as_bytes())
        .unwrap_err();
    assert!(
        e.to_string().contains("user-supplied") || format!("{e:?}").contains("UserSupplied"),
        "{e}"
    );

    // Broken transcripts: refused here, naming the contribution, and by snarkjs.
    let bad = |name: &str, key: &Zkey| {
        let p = d.join(name);
        std::fs::write(&p, key.to_bytes()).unwrap();
        // `zkvi` is `zkey verify init`: from our initial key, which the full check of the
        // committed transcript shows to be snarkjs's own.
        let o = snarkjs(&[
            "zkvi",
            path(&d.join("0000.zkey")),
            path(&ptau_path()),
            path(&p),
        ]);
        assert_eq!(o.status.code(), Some(1), "snarkjs on {name}: {}", text(&o));
        assert!(
            !text(&o).contains("ZKey Ok!"),
            "snarkjs accepted {name}: {}",
            text(&o)
        );
        phase2::verify_from_init(key, init_key()).unwrap_err()
    };
    let mut reordered = k3.clone();
    reordered.contributions.swap(0, 1);
    assert!(matches!(
        bad("reordered.zkey", &reordered),
        CeremonyError::Contribution { number: 1, .. }
    ));
    let mut skipped = k3.clone();
    skipped.contributions.remove(1);
    assert!(matches!(
        bad("skipped.zkey", &skipped),
        CeremonyError::Contribution { number: 2, .. }
    ));
    let mut forged = k3.clone();
    forged.contributions[1].g2_spx =
        (forged.contributions[1].g2_spx * ark_bn254::Fr::from(2u64)).into();
    let e = bad("forged.zkey", &forged);
    assert!(
        matches!(e, CeremonyError::Contribution { number: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("proof of knowledge"), "{e}");
    let mut tampered = k3.clone();
    tampered.h[7] = tampered.h[8];
    let e = bad("tampered-h.zkey", &tampered);
    assert!(e.to_string().contains("H (section 9)"), "{e}");
    let mut tampered = k3.clone();
    tampered.c[0] = tampered.c[1];
    let e = bad("tampered-c.zkey", &tampered);
    assert!(e.to_string().contains("C (section 8)"), "{e}");
    let mut no_delta = k3.clone();
    no_delta.delta2 = k2.delta2;
    let e = bad("delta.zkey", &no_delta);
    assert!(e.to_string().contains("delta in G2"), "{e}");
    // Truncated: refused as a file.
    let bytes = k3.to_bytes();
    for cut in [10, 1000, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            Zkey::from_bytes(&bytes[..cut]),
            Err(CeremonyError::Format { .. })
        ));
    }
    // Without contributions: verifies (it is the initial key) but never becomes keys.
    assert!(phase2::verify_from_init(init_key(), init_key())
        .unwrap()
        .contributions
        .is_empty());
    let e = phase2::finalize_from_init(init_key(), init_key()).unwrap_err();
    assert!(e.to_string().contains("nobody contributed"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

// ---- without snarkjs ----------------------------------------------------------------------

#[test]
fn the_r1cs_is_the_provers_constraint_system_row_for_row() {
    let m = letro_prover::Matrices::of_circuit().unwrap();
    let r = r1cs();
    assert_eq!(r.n_public, 6);
    assert_eq!(r.n_wires as usize, m.num_variables());
    assert_eq!(r.constraints.len(), m.num_constraints());
    for (row, lcs) in r.constraints.iter().enumerate() {
        for (k, lc) in lcs.iter().enumerate() {
            let prover: Vec<(u32, ark_bn254::Fr)> =
                m.abc[k][row].iter().map(|(c, v)| (*v as u32, *c)).collect();
            assert_eq!(*lc, prover, "constraint {row}, matrix {k}");
        }
    }
    let bytes = r.to_bytes();
    assert_eq!(R1cs::from_bytes(&bytes).unwrap(), *r);
    // Malformed files are refused with a reason.
    for cut in [3, 20, 100, bytes.len() - 1] {
        assert!(matches!(
            R1cs::from_bytes(&bytes[..cut]),
            Err(CeremonyError::Format { .. })
        ));
    }
    let mut other_prime = bytes.clone();
    other_prime[12 + 12 + 4] ^= 1;
    let e = R1cs::from_bytes(&other_prime).unwrap_err();
    assert!(e.to_string().contains("prime"), "{e}");
    let mut wire = bytes.clone();
    // The first term of the first constraint: section 2 starts after section 1 (12 + 64 bytes).
    let first_wire = 12 + 12 + 64 + 12 + 4;
    wire[first_wire..first_wire + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = R1cs::from_bytes(&wire).unwrap_err();
    assert!(e.to_string().contains("wire out of range"), "{e}");
    // A wire count the wire-to-label map does not back is refused: the fuzz target found a
    // 256-byte file claiming about 2^30 wires, which once parsed made writing it back
    // allocate gigabytes (testdata/ceremony/fuzz-oom-wire-count.r1cs).
    let found = std::fs::read(repo().join("testdata/ceremony/fuzz-oom-wire-count.r1cs")).unwrap();
    let e = R1cs::from_bytes(&found).unwrap_err();
    assert!(e.to_string().contains("wire-to-label map"), "{e}");
    let mut short_map = bytes.clone();
    short_map.truncate(bytes.len() - 8);
    let map_len = short_map.len() - (r1cs().n_wires as usize - 1) * 8 - 8;
    short_map[map_len..map_len + 8]
        .copy_from_slice(&((r1cs().n_wires as u64 - 1) * 8).to_le_bytes());
    let e = R1cs::from_bytes(&short_map).unwrap_err();
    assert!(e.to_string().contains("wire-to-label map"), "{e}");
}

#[test]
fn a_ptau_that_is_not_pinned_malformed_or_too_small_is_refused() {
    let e = Ptau::open(&ptau_path(), &PTAU_B2.replace('7', "8")).unwrap_err();
    assert!(matches!(e, CeremonyError::PtauNotPinned { .. }), "{e}");
    let e = Ptau::open(&ptau_path(), "abc").unwrap_err();
    assert!(matches!(e, CeremonyError::Usage(_)), "{e}");
    let bytes = std::fs::read(ptau_path()).unwrap();
    for cut in [0, 11, 60, bytes.len() / 3, bytes.len() - 64] {
        let e = Ptau::from_bytes(bytes[..cut].to_vec()).unwrap_err();
        assert!(matches!(e, CeremonyError::Format { .. }), "{e}");
    }
    // A well-formed power-3 file (all points at infinity) is too small for the circuit.
    let small = tiny_ptau(3, true);
    let p = Ptau::from_bytes(small).unwrap();
    let e = Zkey::new(r1cs(), &p).unwrap_err();
    assert!(
        matches!(
            e,
            CeremonyError::PtauTooSmall {
                needed: 14,
                found: 3
            }
        ),
        "{e}"
    );
    // One not prepared for phase 2 is refused with what to do.
    let e = Ptau::from_bytes(tiny_ptau(3, false)).unwrap_err();
    assert!(e.to_string().contains("prepare phase2"), "{e}");
}

/// A `.ptau` of `power` with every point at infinity (sizes as snarkjs writes them).
fn tiny_ptau(power: u32, prepared: bool) -> Vec<u8> {
    use ark_ff::{BigInteger, PrimeField};
    let n = 1usize << power;
    let mut w = letro_ceremony::binfile::BinWriter::new(b"ptau", 1);
    let mut h = 32u32.to_le_bytes().to_vec();
    h.extend_from_slice(&ark_bn254::Fq::MODULUS.to_bytes_le());
    h.extend_from_slice(&power.to_le_bytes());
    h.extend_from_slice(&power.to_le_bytes());
    w.section(1, &h);
    let mut sections = vec![
        (2, (2 * n - 1) * 64),
        (3, n * 128),
        (4, n * 64),
        (5, n * 64),
        (6, 128),
        (7, 4),
    ];
    if prepared {
        sections.extend([
            (12, (4 * n - 1) * 64),
            (13, (2 * n - 1) * 128),
            (14, (2 * n - 1) * 64),
            (15, (2 * n - 1) * 64),
        ]);
    }
    for (kind, len) in sections {
        w.section(kind, &vec![0u8; len]);
    }
    w.finish()
}

#[test]
fn contributions_are_fresh_beacons_reproducible_and_arguments_checked() {
    let (a, ha) = phase2::contribute(init_key(), None, b"").unwrap();
    let (b, hb) = phase2::contribute(init_key(), None, b"").unwrap();
    assert_ne!(ha, hb, "two contributions share a secret");
    assert_ne!(a.delta1, b.delta1);
    let v = phase2::verify_from_init(&a, init_key()).unwrap();
    assert_eq!(v.contributions.len(), 1);
    assert_eq!(v.contributions[0].hash, ha);
    // A beacon is a function of the key before it and its public value.
    let (x, hx) = phase2::beacon(&a, Some("b"), b"public value", 10).unwrap();
    let (y, hy) = phase2::beacon(&a, Some("b"), b"public value", 10).unwrap();
    assert_eq!((x.delta2, hx), (y.delta2, hy));
    // The file round-trips.
    assert_eq!(Zkey::from_bytes(&x.to_bytes()).unwrap(), x);
    // A beacon claiming more iterations than anyone could recompute is refused, not run.
    let mut far = x.clone();
    far.contributions[1].beacon.as_mut().unwrap().exp = 40;
    let e = phase2::verify_from_init(&far, init_key()).unwrap_err();
    assert!(
        matches!(e, CeremonyError::Contribution { number: 2, .. })
            && e.to_string().contains("2^40"),
        "{e}"
    );
    for (name, hash, exp) in [
        (Some("x".repeat(65)), b"v".to_vec(), 10u8),
        (Some("tab\there".to_owned()), b"v".to_vec(), 10),
        (None, Vec::new(), 10),
        (None, vec![1; 256], 10),
        (None, b"v".to_vec(), 9),
        (None, b"v".to_vec(), 33),
        (None, b"v".to_vec(), 64),
    ] {
        let e = phase2::beacon(&a, name.as_deref(), &hash, exp).unwrap_err();
        assert!(matches!(e, CeremonyError::Usage(_)), "{e}");
    }
    let e = phase2::contribute(&a, Some(&"y".repeat(65)), b"").unwrap_err();
    assert!(matches!(e, CeremonyError::Usage(_)), "{e}");
}

#[test]
fn a_transcript_of_another_circuit_is_refused() {
    // A one-constraint circuit, x·x = y, from the same phase 1.
    use ark_bn254::Fr;
    let tiny = R1cs {
        n_wires: 3,
        n_public: 1,
        constraints: vec![[
            vec![(2, Fr::from(1u64))],
            vec![(2, Fr::from(1u64))],
            vec![(1, Fr::from(1u64))],
        ]],
    };
    let tiny_init = Zkey::new(&tiny, ptau()).unwrap();
    let (other, _) = phase2::contribute(&tiny_init, Some("x"), b"").unwrap();
    let e = phase2::verify_from_init(&other, init_key()).unwrap_err();
    assert!(e.to_string().contains("circuit hash"), "{e}");

    // The same small files are the fuzz target `ceremony`'s seeds (testdata/ceremony/, read by
    // fuzz/seed.sh): checked here, rewritten with LETRO_REGENERATE=1.
    let (beaconed, _) = phase2::beacon(&other, Some("b"), b"seed", 10).unwrap();
    let dir = repo().join("testdata/ceremony");
    let regenerate = std::env::var("LETRO_REGENERATE").is_ok_and(|v| v == "1");
    if regenerate {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tiny.r1cs"), tiny.to_bytes()).unwrap();
        std::fs::write(dir.join("tiny-power3.ptau"), tiny_ptau(3, true)).unwrap();
        std::fs::write(dir.join("tiny.zkey"), beaconed.to_bytes()).unwrap();
    }
    let read = |f: &str| {
        std::fs::read(dir.join(f))
            .unwrap_or_else(|e| panic!("testdata/ceremony/{f}: {e}; run with LETRO_REGENERATE=1"))
    };
    assert_eq!(R1cs::from_bytes(&read("tiny.r1cs")).unwrap(), tiny);
    assert_eq!(read("tiny-power3.ptau"), tiny_ptau(3, true));
    let seed = Zkey::from_bytes(&read("tiny.zkey")).unwrap();
    let v = phase2::verify_from_init(&seed, &tiny_init).unwrap();
    assert_eq!(v.contributions.len(), 2);
}

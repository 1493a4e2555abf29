//! `letro_verifier::snarkjs`: a real bundle, exported, is accepted by snarkjs from npm
//! (testdata/snarkjs, pinned); tampered files are rejected.
//!
//! Needs `node` and `npm` (it runs `npm ci --prefix testdata/snarkjs` when the pinned snarkjs
//! is not installed). Without them the test fails; set `LETRO_SKIP_SNARKJS=1` to skip the
//! snarkjs runs (the Rust-only checks still run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ark_ff::One;
use letro_core::bundle::{DeliveryRecord, ParsedBundle};
use letro_core::field::{fr_from_decimal, fr_to_decimal};
use letro_log::note::VerifierKey;
use letro_verifier::snarkjs::{self, ExportError, SnarkjsFiles};
use letro_verifier::Verifier;
use rand::SeedableRng;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A bundle proved now from testdata/records/valid.record.json (once per test binary).
fn bundle() -> &'static ParsedBundle {
    static BUNDLE: OnceLock<ParsedBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let record = std::fs::read(repo().join("testdata/records/valid.record.json")).unwrap();
        let record = DeliveryRecord::parse(&record).unwrap();
        let (_, pk) =
            letro_prover::keys::load_proving_key(&letro_prover::keys::repo_keys_dir()).unwrap();
        let prover = letro_prover::Prover::new(pk).unwrap();
        let t = record.witness.delivered_at;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let (encoded, _) = prover
            .prove_record(&record, t - 3600, t + 3600, &mut rng)
            .unwrap();
        // The same bundle passes Letro's own verifier.
        let vkey = std::fs::read_to_string(repo().join("testdata/checkpoints/log.vkey")).unwrap();
        let verifier = Verifier::new(vec![VerifierKey::parse(vkey.trim()).unwrap()]).unwrap();
        verifier.verify(encoded.as_bytes()).unwrap();
        ParsedBundle::parse(encoded.as_bytes()).unwrap()
    })
}

fn exported() -> SnarkjsFiles {
    snarkjs::export_embedded(bundle()).unwrap()
}

/// A fresh directory under cargo's per-target temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("snarkjs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

// ---- Rust-only checks -------------------------------------------------------------------

#[test]
fn export_has_snarkjs_shape() {
    let files = exported();
    let b = bundle();

    let public: Vec<String> = serde_json::from_str(&files.public).unwrap();
    let expected: Vec<String> = b
        .statement
        .public_inputs()
        .iter()
        .map(fr_to_decimal)
        .collect();
    assert_eq!(public, expected);
    assert_eq!(public.len(), 6);

    let proof = json(&files.proof);
    assert_eq!(proof["protocol"], "groth16");
    assert_eq!(proof["curve"], "bn128");
    assert_eq!(proof["pi_a"][2], "1");
    assert_eq!(proof["pi_c"][2], "1");
    assert_eq!(proof["pi_b"][2], serde_json::json!(["1", "0"]));
    assert_eq!(proof["pi_a"][0], b.proof.a.x.to_string());
    assert_eq!(proof["pi_b"][0][0], b.proof.b.x.c0.to_string());
    assert_eq!(proof["pi_b"][0][1], b.proof.b.x.c1.to_string());
    let keys: Vec<&str> = proof
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5);

    let vk = json(&files.verification_key);
    assert_eq!(vk["protocol"], "groth16");
    assert_eq!(vk["curve"], "bn128");
    assert_eq!(vk["nPublic"], 6);
    assert_eq!(vk["IC"].as_array().unwrap().len(), 7);
    for k in [
        "vk_alpha_1",
        "vk_beta_2",
        "vk_gamma_2",
        "vk_delta_2",
        "vk_alphabeta_12",
    ] {
        assert!(vk.get(k).is_some(), "{k}");
    }
    for f in [&files.proof, &files.public, &files.verification_key] {
        assert!(f.ends_with("}\n") || f.ends_with("]\n"));
    }
}

#[test]
fn export_with_a_pinned_key_is_the_same() {
    let verifier = Verifier::new(vec![]).unwrap();
    let key = &verifier.keys()[0];
    assert_eq!(snarkjs::export_pinned(bundle(), key).unwrap(), exported());
}

#[test]
fn export_refuses_another_key() {
    let mut vk = snarkjs::embedded_verifying_key().unwrap();
    vk.alpha_g1 = ark_bn254::G1Affine::new_unchecked(1u64.into(), 2u64.into());
    let err = snarkjs::export(bundle(), &vk).unwrap_err();
    assert!(matches!(err, ExportError::KeyMismatch { .. }), "{err}");
}

#[test]
fn write_dir_writes_three_files_and_never_overwrites() {
    let files = exported();
    let d = fresh_dir("write");
    snarkjs::write_dir(&files, &d).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("proof.json")).unwrap(),
        files.proof
    );
    assert_eq!(
        std::fs::read_to_string(d.join("public.json")).unwrap(),
        files.public
    );
    assert_eq!(
        std::fs::read_to_string(d.join("verification_key.json")).unwrap(),
        files.verification_key
    );

    // Everything exists: refused.
    let err = snarkjs::write_dir(&files, &d).unwrap_err();
    assert!(matches!(err, ExportError::Exists { .. }), "{err}");

    // Only the last file exists: refused, and nothing else is written.
    let d2 = fresh_dir("write-partial");
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::write(d2.join("verification_key.json"), "keep").unwrap();
    let err = snarkjs::write_dir(&files, &d2).unwrap_err();
    assert!(
        err.to_string().contains("verification_key.json")
            && err.to_string().contains("already exists")
    );
    assert!(!d2.join("proof.json").exists() && !d2.join("public.json").exists());
    assert_eq!(
        std::fs::read_to_string(d2.join("verification_key.json")).unwrap(),
        "keep"
    );
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&d2).unwrap();
}

// ---- snarkjs from npm -------------------------------------------------------------------

/// testdata/snarkjs with the pinned snarkjs installed, or `None` when LETRO_SKIP_SNARKJS=1.
/// Panics with what to do when node or npm is missing.
fn snarkjs_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if std::env::var("LETRO_SKIP_SNARKJS").as_deref() == Ok("1") {
            eprintln!("LETRO_SKIP_SNARKJS=1: not running snarkjs");
            return None;
        }
        let dir = repo().join("testdata/snarkjs");
        let pinned = json(&std::fs::read_to_string(dir.join("package.json")).unwrap())
            ["dependencies"]["snarkjs"]
            .as_str()
            .unwrap()
            .to_owned();
        let installed = || {
            std::fs::read_to_string(dir.join("node_modules/snarkjs/package.json"))
                .ok()
                .and_then(|s| json(&s)["version"].as_str().map(str::to_owned))
        };
        let node = Command::new("node").arg("--version").output();
        assert!(
            node.as_ref().is_ok_and(|o| o.status.success()),
            "node is not installed: the snarkjs cross-check needs Node.js 18+ and npm \
             (or set LETRO_SKIP_SNARKJS=1 to skip it)"
        );
        if installed().as_deref() != Some(pinned.as_str()) {
            eprintln!(
                "installing snarkjs {pinned}: npm ci --prefix {}",
                dir.display()
            );
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "could not run npm ({e}): the snarkjs cross-check needs npm to install \
                         testdata/snarkjs (or set LETRO_SKIP_SNARKJS=1 to skip it)"
                    )
                });
            assert!(
                out.status.success(),
                "npm ci failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                installed().as_deref(),
                Some(pinned.as_str()),
                "npm ci did not install snarkjs {pinned}"
            );
        }
        Some(dir)
    })
    .as_deref()
}

/// Runs `cmd`, logging what it printed and how long it took (shown with `--nocapture`).
fn run(label: &str, cmd: &mut Command) -> Output {
    let start = std::time::Instant::now();
    let o = cmd.output().unwrap();
    eprintln!(
        "{label}: {} in {:.2?}: {}",
        o.status,
        start.elapsed(),
        text(&o).trim()
    );
    o
}

/// `snarkjs groth16 verify` (the package's CLI) on the files in `d`.
fn snarkjs_verify(label: &str, snarkjs: &Path, d: &Path) -> Output {
    run(
        label,
        Command::new("node")
            .arg(snarkjs.join("node_modules/snarkjs/build/cli.cjs"))
            .args(["groth16", "verify"])
            .arg(d.join("verification_key.json"))
            .arg(d.join("public.json"))
            .arg(d.join("proof.json")),
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn snarkjs_accepts_export_and_rejects_tampering() {
    let Some(sj) = snarkjs_dir() else { return };
    let files = exported();
    let d = fresh_dir("verify");
    snarkjs::write_dir(&files, &d).unwrap();

    // The snarkjs CLI accepts the export.
    let o = snarkjs_verify("snarkjs groth16 verify (export)", sj, &d);
    assert!(
        o.status.success() && text(&o).contains("OK!"),
        "snarkjs rejected the export:\n{}",
        text(&o)
    );

    // check.mjs: shape, vk_alphabeta_12 = snarkjs's own e(alpha, beta), groth16.verify.
    let o = run(
        "node check.mjs",
        Command::new("node").arg(sj.join("check.mjs")).arg(&d),
    );
    assert!(
        o.status.success() && text(&o).contains("OK"),
        "check.mjs failed:\n{}",
        text(&o)
    );

    // Each tampered public input is rejected.
    let public: Vec<String> = serde_json::from_str(&files.public).unwrap();
    for i in [0, 5] {
        let mut t = public.clone();
        let x = fr_from_decimal(&t[i]).unwrap() + letro_core::Fr::one();
        t[i] = fr_to_decimal(&x);
        std::fs::write(
            d.join("public.json"),
            serde_json::to_string_pretty(&t).unwrap(),
        )
        .unwrap();
        let o = snarkjs_verify(&format!("snarkjs (public input {i} + 1)"), sj, &d);
        assert_eq!(
            o.status.code(),
            Some(1),
            "snarkjs accepted public input {i} + 1:\n{}",
            text(&o)
        );
        assert!(text(&o).contains("Invalid proof"), "{}", text(&o));
    }
    std::fs::write(d.join("public.json"), &files.public).unwrap();

    // pi_b with each Fq2's components swapped ([c1, c0]) is rejected: [c0, c1] is the order.
    let mut proof = json(&files.proof);
    for coord in proof["pi_b"].as_array_mut().unwrap().iter_mut().take(2) {
        coord.as_array_mut().unwrap().swap(0, 1);
    }
    std::fs::write(
        d.join("proof.json"),
        serde_json::to_string_pretty(&proof).unwrap(),
    )
    .unwrap();
    let o = snarkjs_verify("snarkjs (pi_b as [c1, c0])", sj, &d);
    assert_eq!(
        o.status.code(),
        Some(1),
        "snarkjs accepted pi_b with swapped Fq2 components:\n{}",
        text(&o)
    );

    std::fs::write(d.join("proof.json"), &files.proof).unwrap();

    // A wrong vk_alphabeta_12 (its two Fq6 halves swapped): check.mjs catches it; the snarkjs
    // CLI does not read the member and still accepts.
    let mut vk = json(&files.verification_key);
    vk["vk_alphabeta_12"].as_array_mut().unwrap().swap(0, 1);
    std::fs::write(
        d.join("verification_key.json"),
        serde_json::to_string_pretty(&vk).unwrap(),
    )
    .unwrap();
    let o = run(
        "node check.mjs (vk_alphabeta_12 swapped)",
        Command::new("node").arg(sj.join("check.mjs")).arg(&d),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("vk_alphabeta_12"), "{}", text(&o));
    let o = snarkjs_verify("snarkjs (vk_alphabeta_12 swapped)", sj, &d);
    assert!(o.status.success(), "{}", text(&o));

    std::fs::remove_dir_all(&d).unwrap();
}

//! The `letro` binary: outputs, exit codes and that nothing stored is lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ark_bn254::Bn254;
use ark_groth16::{Groth16, Proof};
use letro_core::bundle::{parse_time, Bundle, Opening};
use letro_log::note::VerifierKey;
use letro_prover::keys;

fn letro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letro"))
        .args(args)
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn record() -> String {
    repo()
        .join("testdata/records/valid.record.json")
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("letro-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn circuit_info_json() {
    let o = letro(&["circuit", "info", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["statement"], "delivered-within/v2");
    assert_eq!(v["constraints"], 10_999);
    assert_eq!(v["public_inputs"], 6);
    let parts: u64 = v["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["constraints"].as_u64().unwrap())
        .sum();
    assert_eq!(parts, 10_999);
}

fn verify_bundle(bundle: &[u8], opening: &Path) {
    let b = Bundle::parse(bundle).unwrap();
    let vkey = std::fs::read_to_string(repo().join("testdata/checkpoints/log.vkey")).unwrap();
    let cp = b
        .checkpoint
        .verify(&[VerifierKey::parse(vkey.trim()).unwrap()])
        .unwrap();
    assert_eq!(
        cp.checkpoint().poseidon_root(),
        letro_core::field::fr_to_be_bytes(&b.statement.log_root)
    );
    let (_, vk_bytes, vk) = keys::load_verifying_key(&keys::repo_keys_dir()).unwrap();
    assert_eq!(
        b.verifying_key_sha256.to_vec(),
        hex_decode(&keys::sha256_hex(&vk_bytes))
    );
    let proof = Proof::<Bn254> {
        a: b.proof.a,
        b: b.proof.b,
        c: b.proof.c,
    };
    let pvk = ark_groth16::prepare_verifying_key(&vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &b.statement.public_inputs()).unwrap());
    let o = Opening::parse(&std::fs::read(opening).unwrap()).unwrap();
    o.check_statement(&b.statement).unwrap();
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn prove_valid_record_for_windows_containing_t() {
    let d = tmp("prove");
    // The record's delivery time is 2026-11-20T10:00:00Z.
    for (i, (nb, na)) in [
        ("2026-11-01T00:00:00Z", "2026-11-26T12:00:00Z"),
        ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
    ]
    .iter()
    .enumerate()
    {
        let out = d.join(format!("b{i}.json"));
        let o = letro(&[
            "prove",
            &record(),
            "--not-before",
            nb,
            "--not-after",
            na,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let opening = d.join(format!("b{i}.opening.json"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&opening).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let bundle = std::fs::read(&out).unwrap();
        let parsed = Bundle::parse(&bundle).unwrap();
        assert_eq!(parsed.statement.not_before, parse_time(nb).unwrap());
        assert_eq!(parsed.statement.not_after, parse_time(na).unwrap());
        verify_bundle(&bundle, &opening);
    }
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn window_excluding_t_is_refused_with_exit_1() {
    let d = tmp("window");
    let out = d.join("b.json");
    let o = letro(&[
        "prove",
        &record(),
        "--not-before",
        "2026-11-20T10:00:01Z",
        "--not-after",
        "2026-11-21T00:00:00Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("error: the statement does not hold: delivery time"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("before the window start"));
    assert!(stderr(&o).contains("hint: "));
    assert!(!out.exists());
    let o = letro(&[
        "prove",
        &record(),
        "--not-before",
        "2026-11-19T00:00:00Z",
        "--not-after",
        "2026-11-20T09:59:59Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("after the window end"));
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn usage_and_input_errors() {
    let d = tmp("errors");
    let out = d.join("b.json");
    let o = letro(&[
        "prove",
        &record(),
        "--not-before",
        "2026-11-01",
        "--not-after",
        "2026-11-26T12:00:00Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("RFC 3339"));
    let o = letro(&["prove", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let bad = d.join("bad.json");
    std::fs::write(&bad, b"{\"version\": \"letro-record/v2\"").unwrap();
    let o = letro(&[
        "prove",
        bad.to_str().unwrap(),
        "--not-before",
        "2026-11-01T00:00:00Z",
        "--not-after",
        "2026-11-26T12:00:00Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("not a valid delivery record"));
    let o = letro(&[
        "prove",
        d.join("missing.json").to_str().unwrap(),
        "--not-before",
        "2026-11-01T00:00:00Z",
        "--not-after",
        "2026-11-26T12:00:00Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    // An existing output is never replaced without --force.
    std::fs::write(&out, b"keep me").unwrap();
    let o = letro(&[
        "prove",
        &record(),
        "--not-before",
        "2026-11-01T00:00:00Z",
        "--not-after",
        "2026-11-26T12:00:00Z",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("already exists"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    std::fs::remove_dir_all(d).ok();
}

/// `letro prove` loads the key while it synthesises the witness: a key that does not load is
/// reported as before, first even when the statement is also false, and nothing is written.
#[test]
fn a_keys_directory_that_does_not_load_is_reported_first() {
    let d = tmp("bad-keys");
    let keys = d.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("manifest.json"), b"{ not json").unwrap();
    let out = d.join("b.json");
    for (not_before, not_after) in [
        ("2026-11-01T00:00:00Z", "2026-11-26T12:00:00Z"),
        // A window that excludes the delivery time: the key's error still comes first.
        ("2026-11-20T10:00:01Z", "2026-11-21T00:00:00Z"),
    ] {
        let o = letro(&[
            "prove",
            &record(),
            "--not-before",
            not_before,
            "--not-after",
            not_after,
            "--keys",
            keys.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("error: cannot load the proving key"),
            "{}",
            stderr(&o)
        );
        assert!(!out.exists());
        assert!(!d.join("b.opening.json").exists());
    }
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn prove_reads_stdin_and_writes_stdout() {
    let d = tmp("stdio");
    let opening = d.join("o.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_letro"))
        .args([
            "prove",
            "-",
            "--not-before",
            "2026-11-20T00:00:00Z",
            "--not-after",
            "2026-11-21T00:00:00Z",
            "--out",
            "-",
            "--opening",
            opening.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(record()).unwrap())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    verify_bundle(&o.stdout, &opening);
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn keys_setup_requires_insecure_dev_and_writes_a_consistent_manifest() {
    let d = tmp("keys");
    let o = letro(&["keys", "setup", "--dir", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--insecure-dev"));
    assert!(!d.join(keys::MANIFEST).exists());

    let o = letro(&[
        "keys",
        "setup",
        "--insecure-dev",
        "--dir",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (manifest, vk_bytes, _) = keys::load_verifying_key(&d).unwrap();
    assert_eq!(manifest.provenance.kind, "insecure-dev");
    assert_eq!(manifest.constraints, 10_999);
    assert_eq!(manifest.verifying_key.sha256, keys::sha256_hex(&vk_bytes));
    let (_, pk) = keys::load_proving_key(&d).unwrap();
    // A fresh setup has fresh randomness: its key differs from the committed one.
    let (_, committed, _) = keys::load_verifying_key(&keys::repo_keys_dir()).unwrap();
    assert_ne!(keys::verifying_key_bytes(&pk.vk).unwrap(), committed);
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn serve_answers_healthz_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let d = tmp("serve");
    let o = letro(&[
        "token",
        "issue",
        "--data",
        d.to_str().unwrap(),
        "--role",
        "relay",
        "--subject",
        "relay-1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = String::from_utf8(o.stdout).unwrap();
    assert_eq!(token.trim().len(), 64);
    let o = letro(&[
        "token",
        "issue",
        "--data",
        d.to_str().unwrap(),
        "--role",
        "root",
        "--subject",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));

    let mut child = Command::new(env!("CARGO_BIN_EXE_letro"))
        .args([
            "serve",
            "--data",
            d.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "test.letro.invalid/log",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(d.join("log.key").exists());
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn demo_is_the_letro_demo_binary() {
    // `letro` links nothing AGPL: the demo (libsignal) is the letro-demo binary, and the old
    // subcommand says so with a usage error, whatever follows it.
    for args in [&["demo"][..], &["demo", "--dir", "x"], &["demo", "--help"]] {
        let o = letro(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("error: the demo is no longer a letro subcommand")
                && stderr(&o).contains("hint: run `cargo run --release --bin letro-demo`"),
            "{}",
            stderr(&o)
        );
    }
    let o = letro(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!help.contains("  demo "), "{help}");
    assert!(
        help.contains("cargo run --release --bin letro-demo"),
        "{help}"
    );
}

/// Writes a log of `n` entries as tlog-tiles (tiles and a checkpoint signed by `key`) to `dir`.
fn tiles_dir(dir: &Path, n: u64, salt: u128, key: &letro_log::note::SignerKey) {
    use letro_core::log::DeliveryLog;
    let leaves: Vec<_> = (0..n)
        .map(|i| letro_core::field::fr_from_u128(u128::from(i) * 3 + salt))
        .collect();
    let log = DeliveryLog::restore(&leaves, n).unwrap();
    for path in letro_log::tiles::tiles_between(0, n) {
        let file = dir.join(path.to_string());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, log.tile(&path, n).unwrap()).unwrap();
    }
    let text = letro_log::checkpoint::SignedCheckpoint::sign(
        &log.checkpoint(key.verifier_key().name(), 1_767_225_600 + n),
        key,
    )
    .unwrap();
    std::fs::write(dir.join("checkpoint"), text).unwrap();
}

#[test]
fn monitor_exit_codes_report_and_evidence() {
    let d = tmp("monitor");
    let key = letro_log::note::SignerKey::from_seed("example.invalid/monitored", &[4; 32]).unwrap();
    let vkey = key.verifier_key().to_string();
    let served = d.join("served");
    let state = d.join("state");
    let run = || {
        letro(&[
            "monitor",
            "--log",
            served.to_str().unwrap(),
            "--log-key",
            &vkey,
            "--state",
            state.to_str().unwrap(),
        ])
    };
    tiles_dir(&served, 300, 1, &key);
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("checkpoint of 300 entries (300 new)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("RFC 6962 and the Poseidon root recomputed"),
        "{stdout}"
    );

    // An older checkpoint of the same tree (a stale cache): exit 3, not misbehaviour.
    std::fs::remove_dir_all(&served).unwrap();
    tiles_dir(&served, 200, 1, &key);
    let out = run();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stale checkpoint"));
    // A rollback to another tree: exit 1, the report, the evidence; the state keeps 300.
    std::fs::remove_dir_all(&served).unwrap();
    tiles_dir(&served, 200, 2, &key);
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MISBEHAVIOUR: rollback"), "{stderr}");
    assert!(stderr.contains("evidence written to"), "{stderr}");
    let evidence: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("misbehaviour-"))
        .collect();
    assert_eq!(evidence.len(), 1);
    // The honest log again: still fine from 300.
    std::fs::remove_dir_all(&served).unwrap();
    tiles_dir(&served, 400, 1, &key);
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("(100 new)"));

    // Unreachable log, bad key: exit 3 with an error line.
    let out = letro(&[
        "monitor",
        "--log",
        d.join("nothing").to_str().unwrap(),
        "--log-key",
        &vkey,
        "--state",
        d.join("s2").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not fetch checkpoint"));
    let out = letro(&[
        "monitor",
        "--log",
        served.to_str().unwrap(),
        "--log-key",
        "nonsense",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-key"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn ceremony_commands_refuse_bad_input_and_keep_what_exists() {
    let d = tmp("ceremony");
    let r1cs = d.join("circuit.r1cs");
    let o = letro(&["ceremony", "export-r1cs", "--out", r1cs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&r1cs).unwrap();
    assert_eq!(&bytes[..4], b"r1cs");
    assert!(String::from_utf8_lossy(&o.stdout).contains("6 public inputs"));
    // An existing file is kept without --force.
    let o = letro(&["ceremony", "export-r1cs", "--out", r1cs.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(std::fs::read(&r1cs).unwrap(), bytes);
    // A phase 1 whose hash is not the pinned one: exit 3, nothing written. The file need not be
    // a real .ptau for this: the hash is checked before anything else is used.
    let fake = d.join("fake.ptau");
    std::fs::write(&fake, b"ptau, but not the pinned one").unwrap();
    let out = d.join("0000.zkey");
    let pin = "00".repeat(64);
    let o = letro(&[
        "ceremony",
        "init",
        "--ptau",
        fake.to_str().unwrap(),
        "--ptau-b2sum",
        &pin,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!out.exists());
    let o = letro(&[
        "ceremony",
        "init",
        "--ptau",
        fake.to_str().unwrap(),
        "--ptau-b2sum",
        "short",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("128 hex digits"), "{}", stderr(&o));
    // A .zkey that is not one: exit 3 before any work, nothing written.
    let next = d.join("0001.zkey");
    for cmd in [
        vec!["contribute", r1cs.to_str().unwrap(), "--name", "x"],
        vec![
            "beacon",
            r1cs.to_str().unwrap(),
            "--beacon",
            "00ff",
            "--iterations-exp",
            "10",
        ],
        vec!["verify", r1cs.to_str().unwrap()],
    ] {
        let mut args = vec!["ceremony"];
        args.extend(cmd);
        args.extend(["--ptau", fake.to_str().unwrap(), "--ptau-b2sum", &pin]);
        if args[1] != "verify" {
            args.extend(["--out", next.to_str().unwrap()]);
        }
        let o = letro(&args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not a .zkey file"), "{}", stderr(&o));
        assert!(!next.exists());
    }
    let o = letro(&[
        "ceremony",
        "beacon",
        r1cs.to_str().unwrap(),
        "--beacon",
        "xyz",
        "--iterations-exp",
        "10",
        "--ptau",
        "p",
        "--ptau-b2sum",
        &pin,
        "--out",
        next.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

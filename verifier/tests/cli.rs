//! The `letro-verify` binary on the vectors of `testdata/bundles/`: exact exit codes (0
//! verified, 1 a check failed, 2 usage, 3 could not verify), the JSON report, stdin, the
//! ciphertext and opening checks, several bundles at once, and `--vk`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use letro_core::bundle::{DeliveryRecord, Opening};
use letro_core::Fr;
use rand::SeedableRng;
use serde_json::Value;
use sha2::{Digest, Sha256};

const LOG_KEY: &str = "testdata/bundles/valid/log.vkey";
const VALID: &str = "testdata/bundles/valid";
const INVALID: &str = "testdata/bundles/invalid";
const ORIGIN: &str = "letro.invalid/INSECURE-DEV-test-log";
const VK_SHA256: &str = "500cd8eb4bc2e09aff930bcc152c93276db59a7697865163964414a48fa20f10";
const H: &str = "550625f47dc1b7d1d5bda267bc6e2baeeb0e700033b325e5d53ccd66267dd74e";
const STEPS: [&str; 6] = [
    "1 parse",
    "2 verifying key",
    "3 checkpoint signature",
    "4 log root",
    "5 public inputs",
    "6 proof",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory under cargo's per-target temp dir.
fn tmp(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs letro-verify from the repository root.
fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_letro-verify"))
        .current_dir(repo())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Write from another thread, and ignore a broken pipe: the binary stops reading after
    // 1 MiB + 1 bytes.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    out
}

fn run(args: &[&str]) -> Output {
    run_with_stdin(args, None)
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json_of(o: &Output) -> Value {
    let s = stdout(o);
    assert_eq!(s.lines().count(), 1, "--json prints one line: {s}");
    serde_json::from_str(&s).unwrap()
}

fn valid(name: &str) -> String {
    format!("{VALID}/{name}")
}

fn invalid(name: &str) -> String {
    format!("{INVALID}/invalid-{name}.bundle.json")
}

fn index() -> BTreeMap<String, Value> {
    serde_json::from_slice(&std::fs::read(repo().join(INVALID).join("index.json")).unwrap())
        .unwrap()
}

fn valid_bundles() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join(VALID))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".bundle.json"))
        .map(|n| valid(&n))
        .collect();
    v.sort();
    v
}

fn record() -> DeliveryRecord {
    DeliveryRecord::parse(
        &std::fs::read(repo().join("testdata/records/valid.record.json")).unwrap(),
    )
    .unwrap()
}

/// SHA-256 of the packed receipt key, computed here from the record.
fn fingerprint() -> String {
    hex::encode(Sha256::digest(letro_core::babyjubjub::pack(
        record().witness.receipt_key.point(),
    )))
}

/// The results of the checks of one bundle's JSON report, by name.
fn results(bundle: &Value) -> Vec<(String, String)> {
    bundle["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The six steps with step `failed` failed (0: none), the earlier ones ok, the later ones not
/// checked.
fn steps_with_failure(failed: usize) -> Vec<(String, String)> {
    STEPS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = match (i + 1).cmp(&failed) {
                _ if failed == 0 => "ok",
                std::cmp::Ordering::Less => "ok",
                std::cmp::Ordering::Equal => "failed",
                std::cmp::Ordering::Greater => "not_checked",
            };
            ((*s).to_owned(), r.to_owned())
        })
        .collect()
}

// ---- every vector --------------------------------------------------------------------------

#[test]
fn every_vector_gives_its_exit_code() {
    let bundles = valid_bundles();
    assert_eq!(bundles.len(), 4);
    for b in &bundles {
        let o = run(&[b, "--log-key", LOG_KEY]);
        assert_eq!(code(&o), 0, "{b}: {}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        assert!(out.starts_with(&format!("{b}\n")), "{out}");
        assert!(
            out.contains(&format!("verified: the ciphertext with SHA-256 {H}\n")),
            "{out}"
        );
        assert!(!out.contains("FAIL"), "{out}");
        let j = json_of(&run(&[b, "--log-key", LOG_KEY, "--json"]));
        assert_eq!(j["exit_code"], 0);
        assert_eq!(j["bundles"][0]["verified"], true);
        assert_eq!(results(&j["bundles"][0]), steps_with_failure(0));
    }
    let idx = index();
    assert_eq!(idx.len(), 28);
    for (name, want) in &idx {
        let path = format!("{INVALID}/{name}");
        let expected = want["exit_code"].as_i64().unwrap() as i32;
        let o = run(&[&path, "--log-key", LOG_KEY]);
        assert_eq!(code(&o), expected, "{name}: {}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        assert!(
            out.ends_with(&format!("NOT verified (exit code {expected})\n")),
            "{name}: {out}"
        );
        assert!(!out.contains("verified: the ciphertext"), "{name}: {out}");
        let j = json_of(&run(&[&path, "--log-key", LOG_KEY, "--json"]));
        assert_eq!(j["exit_code"], expected, "{name}");
        let b = &j["bundles"][0];
        assert_eq!(b["file"], path.as_str());
        assert_eq!(b["verified"], false, "{name}");
        assert_eq!(b["exit_code"], expected, "{name}");
        assert_eq!(b["statement"], Value::Null, "{name}");
        let step = want["step"].as_u64().unwrap() as usize;
        assert_eq!(results(b), steps_with_failure(step), "{name}");
    }
}

#[test]
fn failure_details_name_the_problem() {
    let detail = |path: &str, step: usize| -> String {
        let j = json_of(&run(&[path, "--log-key", LOG_KEY, "--json"]));
        j["bundles"][0]["checks"][step - 1]["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        detail(&invalid("proof-invalid-other-window"), 6),
        "the proof does not verify for this statement"
    );
    assert_eq!(
        detail(&invalid("root-mismatch-log-root"), 4),
        "the statement's log root is not the root of the signed checkpoint"
    );
    assert_eq!(
        detail(&invalid("untrusted-checkpoint-unknown-key-only"), 3),
        "checkpoint signature verification failed: note has no signature from a trusted key"
    );
    assert_eq!(
        detail(&invalid("untrusted-checkpoint-origin-not-signed"), 3),
        "no trusted key named \"letro.invalid/another-log\" signed the checkpoint"
    );
    assert_eq!(
        detail(&invalid("unknown-verifying-key"), 2),
        "unknown verifying key 5fd3ed9aaa5d92d4726bdc4296de96053252d46acf7972ebb551b9797281afc5: pass it with --vk if you trust it"
    );
    assert_eq!(
        detail(&invalid("proof-point-b-not-in-subgroup"), 1),
        "malformed bundle: proof point b is not in the prime-order subgroup"
    );
}

#[test]
fn json_output_lists_every_check_and_the_statement() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", LOG_KEY, "--json"]);
    assert_eq!(code(&o), 0);
    let j = json_of(&o);
    assert_eq!(j["exit_code"], 0);
    let bundles = j["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1);
    let r = &bundles[0];
    assert_eq!(r["file"], b.as_str());
    assert_eq!(r["verified"], true);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(results(r), steps_with_failure(0));
    assert_eq!(
        r["checks"][1]["detail"],
        format!("{VK_SHA256} (built in)").as_str()
    );
    assert_eq!(
        r["checks"][2]["detail"],
        format!("signed by {ORIGIN}").as_str()
    );
    let s = &r["statement"];
    assert_eq!(s["ciphertext_sha256"], H);
    assert_eq!(s["not_before"], "2026-11-20T10:00:00Z");
    assert_eq!(s["not_after"], "2026-11-20T10:59:59Z");
    let rec = record();
    assert_eq!(
        s["recipient_commitment"],
        letro_core::field::fr_to_decimal(&rec.recipient_commitment()).as_str()
    );
    let root =
        letro_core::field::fr_from_be_bytes(&rec.checkpoint.unverified_checkpoint().root).unwrap();
    assert_eq!(
        s["log_root"],
        letro_core::field::fr_to_decimal(&root).as_str()
    );
    assert_eq!(s["log_origin"], ORIGIN);
    assert_eq!(s["log_size"], 9);
    assert_eq!(s["checkpoint_time"], "2026-11-20T10:01:00Z");
    assert_eq!(s["verifying_key_sha256"], VK_SHA256);
    assert_eq!(s["verifying_key_source"], "built-in");
    assert_eq!(s["recipient_fingerprint"], Value::Null);
}

#[test]
fn dash_reads_stdin() {
    let good = std::fs::read(repo().join(valid("valid-day.bundle.json"))).unwrap();
    let o = run_with_stdin(&["-", "--log-key", LOG_KEY, "--json"], Some(&good));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["file"], "-");
    assert_eq!(j["bundles"][0]["verified"], true);
    assert_eq!(
        j["bundles"][0]["statement"]["not_before"],
        "2026-11-20T00:00:00Z"
    );

    let bad = std::fs::read(repo().join(invalid("proof-invalid-not-after"))).unwrap();
    let o = run_with_stdin(&["-", "--log-key", LOG_KEY], Some(&bad));
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).starts_with("-\n"));

    let o = run_with_stdin(&["-", "--log-key", LOG_KEY], Some(b""));
    assert_eq!(code(&o), 3, "empty stdin is malformed");

    // More than 1 MiB on stdin: refused as too large (exit 3), not read without bound.
    let mut big = good.clone();
    big.resize((1 << 20) + 4096, b' ');
    let o = run_with_stdin(&["-", "--log-key", LOG_KEY, "--json"], Some(&big));
    assert_eq!(code(&o), 3);
    let d = json_of(&o)["bundles"][0]["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(d, "- is larger than the 1 MiB limit for a bundle");
}

// ---- ciphertext and opening ----------------------------------------------------------------

#[test]
fn ciphertext_check() {
    let b = valid("valid-hour.bundle.json");
    let ct = valid("valid.ciphertext.bin");
    let o = run(&[&b, "--log-key", LOG_KEY, "--ciphertext", &ct, "--json"]);
    assert_eq!(code(&o), 0);
    let j = json_of(&o);
    let checks = &j["bundles"][0]["checks"];
    assert_eq!(checks.as_array().unwrap().len(), 7);
    assert_eq!(checks[6]["check"], "ciphertext");
    assert_eq!(checks[6]["result"], "ok");

    let d = tmp("ciphertext");
    let mut tampered = std::fs::read(repo().join(&ct)).unwrap();
    tampered[2000] ^= 0x01;
    let tampered_path = d.join("tampered.bin");
    std::fs::write(&tampered_path, &tampered).unwrap();
    let tp = tampered_path.to_str().unwrap();
    let o = run(&[&b, "--log-key", LOG_KEY, "--ciphertext", tp, "--json"]);
    assert_eq!(code(&o), 1);
    let j = json_of(&o);
    let r = &j["bundles"][0];
    assert_eq!(r["verified"], false);
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["statement"], Value::Null);
    assert_eq!(r["checks"][6]["result"], "failed");
    let actual = hex::encode(Sha256::digest(&tampered));
    assert_eq!(
        r["checks"][6]["detail"],
        format!("the ciphertext's SHA-256 {actual} is not the statement's {H}").as_str()
    );
    // The human output too.
    let o = run(&[&b, "--log-key", LOG_KEY, "--ciphertext", tp]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("[FAIL] ciphertext: "));
    assert!(stdout(&o).ends_with("NOT verified (exit code 1)\n"));

    // A ciphertext file that cannot be read: exit 3.
    let missing = d.join("missing.bin");
    let o = run(&[
        &b,
        "--log-key",
        LOG_KEY,
        "--ciphertext",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 3);

    // The bundle fails first: the ciphertext is not checked, the bundle's code stands.
    let o = run(&[
        &invalid("root-mismatch-log-root"),
        "--log-key",
        LOG_KEY,
        "--ciphertext",
        tp,
        "--json",
    ]);
    assert_eq!(code(&o), 1);
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["checks"][6]["result"], "not_checked");
}

#[test]
fn valid_opening_prints_the_fingerprint() {
    let fp = fingerprint();
    let b = valid("valid-hour.bundle.json");
    let op = valid("valid.opening.json");
    let o = run(&[&b, "--log-key", LOG_KEY, "--opening", &op]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "  [ok  ] opening: opens the commitment; receipt key fingerprint {fp}; no certificate: the key is not tied to an identity\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  to the recipient with receipt key fingerprint {fp}\n"
        )),
        "{out}"
    );
    let j = json_of(&run(&[
        &b,
        "--log-key",
        LOG_KEY,
        "--opening",
        &op,
        "--json",
    ]));
    assert_eq!(j["exit_code"], 0);
    assert_eq!(
        j["bundles"][0]["statement"]["recipient_fingerprint"],
        fp.as_str()
    );
    assert_eq!(j["bundles"][0]["checks"][6]["check"], "opening");
    assert_eq!(j["bundles"][0]["checks"][6]["result"], "ok");
    // Ciphertext and opening together.
    let o = run(&[
        &b,
        "--log-key",
        LOG_KEY,
        "--opening",
        &op,
        "--ciphertext",
        &valid("valid.ciphertext.bin"),
    ]);
    assert_eq!(code(&o), 0);
}

#[test]
fn mismatched_opening_is_exit_1_and_malformed_is_exit_3() {
    let b = valid("valid-hour.bundle.json");
    let d = tmp("opening");
    let good =
        Opening::parse(&std::fs::read(repo().join(valid("valid.opening.json"))).unwrap()).unwrap();
    let cases: [(&str, Opening, &str); 3] = [
        (
            "other-blinding",
            Opening {
                blinding: good.blinding + Fr::from(1u64),
                ..good.clone()
            },
            "the opening does not match the statement: the receipt key and blinding do not open the recipient commitment",
        ),
        (
            "other-commitment",
            Opening {
                recipient_commitment: good.recipient_commitment + Fr::from(1u64),
                ..good.clone()
            },
            "the opening does not match the statement: the opening is for another recipient commitment",
        ),
        (
            "other-ciphertext",
            Opening {
                ciphertext_hash: letro_core::statement::CiphertextHash([7u8; 32]),
                ..good.clone()
            },
            "the opening does not match the statement: the opening is for another ciphertext",
        ),
    ];
    for (name, opening, detail) in cases {
        let p = d.join(format!("{name}.opening.json"));
        std::fs::write(&p, opening.encode()).unwrap();
        let o = run(&[
            &b,
            "--log-key",
            LOG_KEY,
            "--opening",
            p.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code(&o), 1, "{name}");
        let j = json_of(&o);
        let r = &j["bundles"][0];
        assert_eq!(r["verified"], false, "{name}");
        assert_eq!(r["checks"][6]["check"], "opening");
        assert_eq!(r["checks"][6]["result"], "failed");
        assert_eq!(r["checks"][6]["detail"], detail, "{name}");
        let out = stdout(&run(&[
            &b,
            "--log-key",
            LOG_KEY,
            "--opening",
            p.to_str().unwrap(),
        ]));
        assert!(
            !out.contains("fingerprint"),
            "{name}: no recipient is reported: {out}"
        );
    }
    // Not an opening at all (a bundle): malformed, exit 3.
    let o = run(&[&b, "--log-key", LOG_KEY, "--opening", &b]);
    assert_eq!(code(&o), 3);
}

// ---- keys and usage ------------------------------------------------------------------------

#[test]
fn no_log_key_is_exit_3() {
    let o = run(&[&valid("valid-hour.bundle.json"), "--json"]);
    assert_eq!(code(&o), 3);
    let j = json_of(&o);
    let r = &j["bundles"][0];
    assert_eq!(results(r), steps_with_failure(3));
    assert_eq!(r["checks"][2]["detail"], "no trusted log key was given");
}

#[test]
fn log_key_given_inline_works() {
    let key = std::fs::read_to_string(repo().join(LOG_KEY)).unwrap();
    let o = run(&[&valid("valid-hour.bundle.json"), "--log-key", key.trim()]);
    assert_eq!(code(&o), 0);
}

#[test]
fn malformed_log_key_is_exit_2() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", "not-a-key"]);
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).starts_with("error: --log-key \"not-a-key\""),
        "{}",
        stderr(&o)
    );
    // A file that does not hold a key (a bundle).
    let o = run(&[&b, "--log-key", &b]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("the file does not hold a verifier key"),
        "{}",
        stderr(&o)
    );
    // A key whose key ID does not match.
    let key = std::fs::read_to_string(repo().join(LOG_KEY)).unwrap();
    let wrong_id = key.trim().replace("+0e47ebde+", "+0e47ebdf+");
    assert_ne!(wrong_id, key.trim());
    let o = run(&[&b, "--log-key", &wrong_id]);
    assert_eq!(code(&o), 2);
    // A good key and a bad one: still a usage error.
    let o = run(&[&b, "--log-key", LOG_KEY, "--log-key", "x+y+z"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn usage_errors_are_exit_2() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", LOG_KEY, "--no-such-flag"]);
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).is_empty());
    let o = run(&["--log-key", LOG_KEY]);
    assert_eq!(code(&o), 2, "no bundle");
    assert!(stderr(&o).starts_with("error: no bundle given\n"));
    let o = run(&[
        &b,
        &valid("valid-day.bundle.json"),
        "--log-key",
        LOG_KEY,
        "--ciphertext",
        &valid("valid.ciphertext.bin"),
    ]);
    assert_eq!(code(&o), 2, "--ciphertext with two bundles");
    let o = run(&[&b, "--log-key", LOG_KEY, "--vk", LOG_KEY]);
    assert_eq!(code(&o), 2, "--vk of a file that is not a verifying key");
    let o = run(&[&b, "--log-key", LOG_KEY, "--vk", "no/such/file.vk"]);
    assert_eq!(code(&o), 2, "--vk of a missing file");
    let o = run(&[&b, "--log-key"]);
    assert_eq!(code(&o), 2, "--log-key without a value");
}

#[test]
fn unreadable_bundle_is_exit_3() {
    let o = run(&["no/such/bundle.json", "--log-key", LOG_KEY, "--json"]);
    assert_eq!(code(&o), 3);
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["checks"][0]["check"], "read");
    assert_eq!(j["bundles"][0]["checks"][0]["result"], "failed");
}

// ---- several bundles -----------------------------------------------------------------------

#[test]
fn several_bundles_each_reported_the_bad_one_named_highest_code() {
    let bad = invalid("proof-invalid-other-window");
    let files = [
        valid("valid-hour.bundle.json"),
        bad.clone(),
        valid("valid-day.bundle.json"),
        valid("valid-widest.bundle.json"),
    ];
    let args: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .chain(["--log-key", LOG_KEY])
        .collect();
    let o = run(&args);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // Each file has its own section, in order.
    let starts: Vec<usize> = files
        .iter()
        .map(|f| {
            lines
                .iter()
                .position(|l| l == f)
                .unwrap_or_else(|| panic!("{f} not reported: {out}"))
        })
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    let section = |i: usize| -> Vec<&str> {
        let end = starts.get(i + 1).copied().unwrap_or(lines.len());
        lines[starts[i]..end].to_vec()
    };
    for i in [0, 2, 3] {
        let s = section(i);
        assert!(s.iter().any(|l| l.starts_with("verified: ")), "{s:?}");
        assert!(!s.iter().any(|l| l.contains("FAIL")), "{s:?}");
    }
    let s = section(1);
    assert_eq!(s[0], bad);
    assert!(
        s.contains(&"  [FAIL] 6 proof: the proof does not verify for this statement"),
        "{s:?}"
    );
    assert_eq!(*s.last().unwrap(), "NOT verified (exit code 1)");

    let mut json_args = args.clone();
    json_args.push("--json");
    let j = json_of(&run(&json_args));
    assert_eq!(j["exit_code"], 1);
    let bs = j["bundles"].as_array().unwrap();
    assert_eq!(bs.len(), 4);
    for (b, f) in bs.iter().zip(&files) {
        assert_eq!(b["file"], f.as_str());
        let ok = *f != bad;
        assert_eq!(b["verified"], ok, "{f}");
        assert_eq!(b["exit_code"], if ok { 0 } else { 1 }, "{f}");
        assert_eq!(
            results(b),
            steps_with_failure(if ok { 0 } else { 6 }),
            "{f}"
        );
    }

    // Adding a bundle that cannot be verified (exit 3) and one that cannot be read: the
    // highest code wins, and every bundle is still reported.
    let more = [
        valid("valid-exact-second.bundle.json"),
        invalid("unknown-verifying-key"),
        bad.clone(),
        "no/such/file.json".to_owned(),
        invalid("untrusted-checkpoint-signature-altered"),
    ];
    let mut args: Vec<&str> = more.iter().map(String::as_str).collect();
    args.extend(["--log-key", LOG_KEY, "--json"]);
    let o = run(&args);
    assert_eq!(code(&o), 3);
    let j = json_of(&o);
    let codes: Vec<i64> = j["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["exit_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0, 3, 1, 3, 1]);
    assert_eq!(j["exit_code"], 3);
}

// ---- --vk ----------------------------------------------------------------------------------

#[test]
fn vk_with_the_repository_key_works() {
    let b = valid("valid-hour.bundle.json");
    let vk = "keys/delivered-within-v1.INSECURE-DEV.vk";
    let o = run(&[&b, "--log-key", LOG_KEY, "--vk", vk, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = json_of(&o);
    let r = &j["bundles"][0];
    assert_eq!(r["verified"], true);
    assert_eq!(r["statement"]["verifying_key_sha256"], VK_SHA256);
    // The repository's key is the built-in one (same SHA-256): the verifier keeps one pinned
    // key per hash, and reports it as built in. See `vk_given_key_is_reported_as_given` for a
    // key that is not built in.
    assert_eq!(r["statement"]["verifying_key_source"], "built-in");
    assert_eq!(
        r["checks"][1]["detail"],
        format!("{VK_SHA256} (built in)").as_str()
    );
}

/// Another deployment's key (a fresh INSECURE-DEV setup): refused without `--vk` (exit 3),
/// accepted with it, and the output says the key was given with `--vk`.
#[test]
fn vk_given_key_is_reported_as_given() {
    let d = tmp("vk");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x5eed);
    let pk = letro_prover::keys::setup_insecure_dev(&mut rng).unwrap();
    let vk_bytes = letro_prover::keys::verifying_key_bytes(&pk.vk).unwrap();
    let vk_sha = hex::encode(Sha256::digest(&vk_bytes));
    assert_ne!(vk_sha, VK_SHA256);
    let prover = letro_prover::Prover::new(pk).unwrap();
    let rec = record();
    let t = rec.witness.delivered_at;
    let (bundle, _) = prover.prove_record(&rec, t - 60, t + 60, &mut rng).unwrap();
    let bundle_path = d.join("other-deployment.bundle.json");
    std::fs::write(&bundle_path, bundle).unwrap();
    let vk_path = d.join("other.vk");
    std::fs::write(&vk_path, &vk_bytes).unwrap();
    let (bp, vp) = (bundle_path.to_str().unwrap(), vk_path.to_str().unwrap());

    let o = run(&[bp, "--log-key", LOG_KEY]);
    assert_eq!(code(&o), 3, "unknown verifying key without --vk");
    assert!(stdout(&o).contains(&format!("unknown verifying key {vk_sha}")));

    let o = run(&[bp, "--log-key", LOG_KEY, "--vk", vp]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "  [ok  ] 2 verifying key: {vk_sha} (given with --vk {vp})\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  NOTE: proved under the verifying key given with --vk {vp}, not the built-in one\n"
        )),
        "{out}"
    );
    let j = json_of(&run(&[bp, "--log-key", LOG_KEY, "--vk", vp, "--json"]));
    assert_eq!(j["bundles"][0]["statement"]["verifying_key_source"], vp);
    assert_eq!(
        j["bundles"][0]["statement"]["verifying_key_sha256"],
        vk_sha.as_str()
    );

    // With the other key given, bundles under the built-in key still verify, in one run.
    let o = run(&[
        bp,
        &valid("valid-day.bundle.json"),
        "--log-key",
        LOG_KEY,
        "--vk",
        vp,
        "--json",
    ]);
    assert_eq!(code(&o), 0);
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["statement"]["verifying_key_source"], vp);
    assert_eq!(
        j["bundles"][1]["statement"]["verifying_key_source"],
        "built-in"
    );
}

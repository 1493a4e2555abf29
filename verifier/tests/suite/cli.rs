//! The `letro-verify` binary on the vectors of `testdata/bundles/`: exact exit codes (0
//! verified, 1 a check failed, 2 usage, 3 could not verify), the JSON report, stdin, the
//! ciphertext and opening checks, several bundles at once, and `--vk`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use letro_core::bundle::{DeliveryRecord, Opening};
use letro_core::Fr;
use rand::SeedableRng;
use serde_json::Value;
use sha2::{Digest, Sha256};

const LOG_KEY: &str = "testdata/bundles/v2/valid/log.vkey";
/// The vectors are proved under the committed INSECURE-DEV keys: accepted only with this flag.
const DEV: &str = "--accept-insecure-dev-keys";
const VALID: &str = "testdata/bundles/v2/valid";
const INVALID: &str = "testdata/bundles/v2/invalid";
const ORIGIN: &str = "letro.invalid/INSECURE-DEV-test-log";
/// The Signal identity key that certified the test record's receipt key
/// (testdata/certificates/fixtures.json).
const IDENTITY_KEY: &str = "05850fd66da25058238c8a86f15d94fe2edacea3b0bd690277b646215eac144625";
const VK_SHA256: &str = "3ee5ed1bb05ec0ecb8a2f8b254dd4059ab9ffd4ace245930b2761c90adf57fca";
const H: &str = "550625f47dc1b7d1d5bda267bc6e2baeeb0e700033b325e5d53ccd66267dd74e";
const STEPS: [&str; 7] = [
    "1 parse",
    "2 verifying key",
    "3 checkpoint signature",
    "4 log root and time bounds",
    "5 public inputs",
    "6 proof",
    "7 RFC 3161 time-stamps",
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

/// The seven steps with step `failed` failed (0: none), the earlier ones ok, the later ones not
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
        let o = run(&[b, "--log-key", LOG_KEY, DEV]);
        assert_eq!(code(&o), 0, "{b}: {}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        assert!(out.starts_with(&format!("{b}\n")), "{out}");
        assert!(
            out.contains(&format!("verified: the ciphertext with SHA-256 {H}\n")),
            "{out}"
        );
        assert!(!out.contains("FAIL"), "{out}");
        let j = json_of(&run(&[b, "--log-key", LOG_KEY, DEV, "--json"]));
        assert_eq!(j["exit_code"], 0);
        assert_eq!(j["bundles"][0]["verified"], true);
        assert_eq!(results(&j["bundles"][0]), steps_with_failure(0));
    }
    let idx = index();
    assert_eq!(idx.len(), 31);
    for (name, want) in &idx {
        let path = format!("{INVALID}/{name}");
        let expected = want["exit_code"].as_i64().unwrap() as i32;
        let o = run(&[&path, "--log-key", LOG_KEY, DEV]);
        assert_eq!(code(&o), expected, "{name}: {}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        assert!(
            out.ends_with(&format!("NOT verified (exit code {expected})\n")),
            "{name}: {out}"
        );
        assert!(!out.contains("verified: the ciphertext"), "{name}: {out}");
        let j = json_of(&run(&[&path, "--log-key", LOG_KEY, DEV, "--json"]));
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
        let j = json_of(&run(&[path, "--log-key", LOG_KEY, DEV, "--json"]));
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
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--json"]);
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
        format!("{VK_SHA256} (built in, trust level insecure-dev)").as_str()
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
    let root = letro_core::field::fr_from_be_bytes(
        &rec.checkpoint.unverified_checkpoint().poseidon_root(),
    )
    .unwrap();
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
    let o = run_with_stdin(&["-", "--log-key", LOG_KEY, DEV, "--json"], Some(&good));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["file"], "-");
    assert_eq!(j["bundles"][0]["verified"], true);
    assert_eq!(
        j["bundles"][0]["statement"]["not_before"],
        "2026-11-20T00:00:00Z"
    );

    let bad = std::fs::read(repo().join(invalid("proof-invalid-not-after"))).unwrap();
    let o = run_with_stdin(&["-", "--log-key", LOG_KEY, DEV], Some(&bad));
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).starts_with("-\n"));

    let o = run_with_stdin(&["-", "--log-key", LOG_KEY, DEV], Some(b""));
    assert_eq!(code(&o), 3, "empty stdin is malformed");

    // More than 1 MiB on stdin: refused as too large (exit 3), not read without bound.
    let mut big = good.clone();
    big.resize((1 << 20) + 4096, b' ');
    let o = run_with_stdin(&["-", "--log-key", LOG_KEY, DEV, "--json"], Some(&big));
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
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--ciphertext", &ct, "--json"]);
    assert_eq!(code(&o), 0);
    let j = json_of(&o);
    let checks = &j["bundles"][0]["checks"];
    assert_eq!(checks.as_array().unwrap().len(), 8);
    assert_eq!(checks[7]["check"], "ciphertext");
    assert_eq!(checks[7]["result"], "ok");

    let d = tmp("ciphertext");
    let mut tampered = std::fs::read(repo().join(&ct)).unwrap();
    tampered[2000] ^= 0x01;
    let tampered_path = d.join("tampered.bin");
    std::fs::write(&tampered_path, &tampered).unwrap();
    let tp = tampered_path.to_str().unwrap();
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--ciphertext", tp, "--json"]);
    assert_eq!(code(&o), 1);
    let j = json_of(&o);
    let r = &j["bundles"][0];
    assert_eq!(r["verified"], false);
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["statement"], Value::Null);
    assert_eq!(r["checks"][7]["result"], "failed");
    let actual = hex::encode(Sha256::digest(&tampered));
    assert_eq!(
        r["checks"][7]["detail"],
        format!("the ciphertext's SHA-256 {actual} is not the statement's {H}").as_str()
    );
    // The human output too.
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--ciphertext", tp]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("[FAIL] ciphertext: "));
    assert!(stdout(&o).ends_with("NOT verified (exit code 1)\n"));

    // A ciphertext file that cannot be read: exit 3.
    let missing = d.join("missing.bin");
    let o = run(&[
        &b,
        "--log-key",
        LOG_KEY,
        DEV,
        "--ciphertext",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 3);

    // The bundle fails first: the ciphertext is not checked, the bundle's code stands.
    let o = run(&[
        &invalid("root-mismatch-log-root"),
        "--log-key",
        LOG_KEY,
        DEV,
        "--ciphertext",
        tp,
        "--json",
    ]);
    assert_eq!(code(&o), 1);
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["checks"][7]["result"], "not_checked");
}

#[test]
fn valid_opening_prints_the_fingerprint() {
    let fp = fingerprint();
    let b = valid("valid-hour.bundle.json");
    let op = valid("valid.opening.json");
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--opening", &op]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "  [ok  ] opening: opens the commitment; receipt key fingerprint {fp}; certified by Signal identity key {IDENTITY_KEY}\n"
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
        DEV,
        "--opening",
        &op,
        "--json",
    ]));
    assert_eq!(j["exit_code"], 0);
    assert_eq!(
        j["bundles"][0]["statement"]["recipient_fingerprint"],
        fp.as_str()
    );
    assert_eq!(j["bundles"][0]["checks"][7]["check"], "opening");
    assert_eq!(j["bundles"][0]["checks"][7]["result"], "ok");
    // Ciphertext and opening together.
    let o = run(&[
        &b,
        "--log-key",
        LOG_KEY,
        DEV,
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
            DEV,
            "--opening",
            p.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code(&o), 1, "{name}");
        let j = json_of(&o);
        let r = &j["bundles"][0];
        assert_eq!(r["verified"], false, "{name}");
        assert_eq!(r["checks"][7]["check"], "opening");
        assert_eq!(r["checks"][7]["result"], "failed");
        assert_eq!(r["checks"][7]["detail"], detail, "{name}");
        let out = stdout(&run(&[
            &b,
            "--log-key",
            LOG_KEY,
            DEV,
            "--opening",
            p.to_str().unwrap(),
        ]));
        assert!(
            !out.contains("fingerprint"),
            "{name}: no recipient is reported: {out}"
        );
    }
    // Not an opening at all (a bundle): malformed, exit 3.
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--opening", &b]);
    assert_eq!(code(&o), 3);
}

// ---- keys and usage ------------------------------------------------------------------------

#[test]
fn no_log_key_is_exit_3() {
    let o = run(&[&valid("valid-hour.bundle.json"), DEV, "--json"]);
    assert_eq!(code(&o), 3);
    let j = json_of(&o);
    let r = &j["bundles"][0];
    assert_eq!(results(r), steps_with_failure(3));
    assert_eq!(r["checks"][2]["detail"], "no trusted log key was given");
}

#[test]
fn log_key_given_inline_works() {
    let key = std::fs::read_to_string(repo().join(LOG_KEY)).unwrap();
    let o = run(&[
        &valid("valid-hour.bundle.json"),
        "--log-key",
        key.trim(),
        DEV,
    ]);
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
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--log-key", "x+y+z"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn usage_errors_are_exit_2() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--no-such-flag"]);
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).is_empty());
    let o = run(&["--log-key", LOG_KEY, DEV]);
    assert_eq!(code(&o), 2, "no bundle");
    assert!(stderr(&o).starts_with("error: no bundle given\n"));
    let o = run(&[
        &b,
        &valid("valid-day.bundle.json"),
        "--log-key",
        LOG_KEY,
        DEV,
        "--ciphertext",
        &valid("valid.ciphertext.bin"),
    ]);
    assert_eq!(code(&o), 2, "--ciphertext with two bundles");
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--vk", LOG_KEY]);
    assert_eq!(code(&o), 2, "--vk of a file that is not a verifying key");
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--vk", "no/such/file.vk"]);
    assert_eq!(code(&o), 2, "--vk of a missing file");
    let o = run(&[&b, "--log-key"]);
    assert_eq!(code(&o), 2, "--log-key without a value");
}

#[test]
fn unreadable_bundle_is_exit_3() {
    let o = run(&["no/such/bundle.json", "--log-key", LOG_KEY, DEV, "--json"]);
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
        .chain(["--log-key", LOG_KEY, DEV])
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
    args.extend(["--log-key", LOG_KEY, DEV, "--json"]);
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
    let vk = "keys/v1/delivered-within-v1.INSECURE-DEV.vk";
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--vk", vk, "--json"]);
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
        format!("{VK_SHA256} (built in, trust level insecure-dev)").as_str()
    );
}

/// Another deployment's key (a fresh INSECURE-DEV setup): refused without `--vk` (exit 3),
/// refused with `--vk` alone (user-supplied, exit 4), accepted with
/// `--accept-user-supplied-keys`, and the output says the key was given with `--vk`.
#[test]
fn vk_given_key_is_user_supplied_and_needs_its_flag() {
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
    const USER: &str = "--accept-user-supplied-keys";

    let o = run(&[bp, "--log-key", LOG_KEY, DEV]);
    assert_eq!(code(&o), 3, "unknown verifying key without --vk");
    assert!(stdout(&o).contains(&format!("unknown verifying key {vk_sha}")));
    let err = stderr(&o);
    assert!(err.contains("hint: "), "{err}");
    assert!(err.contains(&format!("--vk FILE {USER}")), "{err}");
    let j = json_of(&run(&[bp, "--log-key", LOG_KEY, DEV, "--json"]));
    assert_eq!(j["bundles"][0]["code"], "UnknownVerifyingKey");
    assert_eq!(j["bundles"][0]["verifying_key"], Value::Null);

    // --vk alone pins the key as user-supplied, which is not accepted (--accept-insecure-dev-keys
    // does not cover it).
    let o = run(&[bp, "--log-key", LOG_KEY, DEV, "--vk", vp]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("hint: the bundle was proved under the key given with --vk, whose provenance this verifier cannot check: whoever made that key may be able to forge proofs. If you obtained the key from a source you trust, pass {USER}")),
        "{err}"
    );
    let j = json_of(&run(&[bp, "--log-key", LOG_KEY, DEV, "--vk", vp, "--json"]));
    let r = &j["bundles"][0];
    assert_eq!(r["code"], "UntrustedVerifyingKey");
    assert_eq!(r["verified"], false);
    assert_eq!(r["verifying_key"]["trust_level"], "user-supplied");
    assert_eq!(r["verifying_key"]["source"], vp);

    let o = run(&[bp, "--log-key", LOG_KEY, "--vk", vp, USER]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "  [ok  ] 2 verifying key: {vk_sha} (given with --vk {vp}, trust level user-supplied)\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  under the verifying key {vk_sha} (given with --vk {vp}), trust level user-supplied\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("WARNING: the verifying key was given with --vk, not built in: its provenance is unknown, and whoever made it may be able to forge proofs; it was accepted only because of --accept-user-supplied-keys\n"),
        "{out}"
    );
    let j = json_of(&run(&[
        bp,
        "--log-key",
        LOG_KEY,
        "--vk",
        vp,
        USER,
        "--json",
    ]));
    let r = &j["bundles"][0];
    assert_eq!(r["statement"]["verifying_key_source"], vp);
    assert_eq!(r["statement"]["verifying_key_sha256"], vk_sha.as_str());
    assert_eq!(
        r["verifying_key"],
        serde_json::json!({"sha256": vk_sha, "source": vp, "statement": "delivered-within/v2", "trust_level": "user-supplied"})
    );
    assert_eq!(warning_codes(r)[0], "UserSuppliedKey");

    // With the other key given, bundles under the built-in key still verify, in one run, each
    // with its own key's trust level; each flag accepts only its own level.
    let two = [bp, &valid("valid-day.bundle.json")];
    let o = run(&[
        two[0],
        two[1],
        "--log-key",
        LOG_KEY,
        "--vk",
        vp,
        USER,
        DEV,
        "--json",
    ]);
    assert_eq!(code(&o), 0);
    let j = json_of(&o);
    assert_eq!(j["bundles"][0]["statement"]["verifying_key_source"], vp);
    assert_eq!(
        j["bundles"][0]["verifying_key"]["trust_level"],
        "user-supplied"
    );
    assert_eq!(
        j["bundles"][1]["statement"]["verifying_key_source"],
        "built-in"
    );
    assert_eq!(
        j["bundles"][1]["verifying_key"]["trust_level"],
        "insecure-dev"
    );
    let j = json_of(&run(&[
        two[0],
        two[1],
        "--log-key",
        LOG_KEY,
        "--vk",
        vp,
        USER,
        "--json",
    ]));
    assert_eq!(j["exit_code"], 4);
    assert_eq!(j["bundles"][0]["verified"], true);
    assert_eq!(j["bundles"][1]["code"], "UntrustedVerifyingKey");
    let j = json_of(&run(&[
        two[0],
        two[1],
        "--log-key",
        LOG_KEY,
        "--vk",
        vp,
        DEV,
        "--json",
    ]));
    assert_eq!(j["exit_code"], 4);
    assert_eq!(j["bundles"][0]["code"], "UntrustedVerifyingKey");
    assert_eq!(j["bundles"][1]["verified"], true);
}

// ---- trust levels, codes, hints and warnings ------------------------------------------------

/// The `code`s of a bundle report's warnings, in order.
fn warning_codes(bundle: &Value) -> Vec<String> {
    bundle["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            assert!(!w["message"].as_str().unwrap().is_empty(), "{w}");
            w["code"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn insecure_dev_keys_are_refused_without_the_flag() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", LOG_KEY]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("verified: "), "{out}");
    assert!(out.ends_with("NOT verified (exit code 4)\n"), "{out}");
    assert!(
        out.contains(&format!("  [FAIL] 2 verifying key: the verifying key {VK_SHA256} has trust level insecure-dev, which is not accepted\n")),
        "{out}"
    );
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: {b}: the verifying key {VK_SHA256} has trust level insecure-dev"
        )),
        "{err}"
    );
    assert!(
        err.contains("\nhint: the bundle was proved under INSECURE-DEV keys: whoever ran their setup can forge a bundle for any statement, so a pass would show nothing against them. To check it anyway (development, tests), pass --accept-insecure-dev-keys"),
        "{err}"
    );

    let j = json_of(&run(&[&b, "--log-key", LOG_KEY, "--json"]));
    assert_eq!(j["exit_code"], 4);
    let r = &j["bundles"][0];
    assert_eq!(r["verified"], false);
    assert_eq!(r["exit_code"], 4);
    assert_eq!(r["code"], "UntrustedVerifyingKey");
    assert!(r["hint"]
        .as_str()
        .unwrap()
        .contains("--accept-insecure-dev-keys"));
    assert_eq!(r["statement"], Value::Null);
    assert_eq!(results(r), steps_with_failure(2));
    assert_eq!(r["checks"][1]["code"], "UntrustedVerifyingKey");
    assert_eq!(
        r["verifying_key"],
        serde_json::json!({"sha256": VK_SHA256, "source": "built-in", "statement": "delivered-within/v2", "trust_level": "insecure-dev"})
    );
    assert_eq!(r["warnings"], serde_json::json!([]));
    assert_eq!(r["shows"], serde_json::json!([]));

    // Every valid vector, in a batch: all refused, exit 4. `--accept-user-supplied-keys` does
    // not accept insecure-dev keys.
    let files = valid_bundles();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend([
        "--log-key",
        LOG_KEY,
        "--accept-user-supplied-keys",
        "--json",
    ]);
    let o = run(&args);
    assert_eq!(code(&o), 4);
    let j = json_of(&o);
    for r in j["bundles"].as_array().unwrap() {
        assert_eq!(r["code"], "UntrustedVerifyingKey", "{r}");
    }
}

#[test]
fn insecure_dev_keys_accepted_with_the_flag_are_warned_about() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", LOG_KEY, DEV]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "  [ok  ] 2 verifying key: {VK_SHA256} (built in, trust level insecure-dev)\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  under the verifying key {VK_SHA256} (built in), trust level insecure-dev\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("\nWARNING: the verifying key comes from an INSECURE-DEV setup: whoever ran it can forge a bundle for any statement, so this result shows nothing against the keys' maker; it was accepted only because of --accept-insecure-dev-keys\n"),
        "{out}"
    );
    // What a bundle shows without an opening, and what it does not.
    assert!(
        out.contains("\nwhat this shows:\n  - a receipt key committed to by C = "),
        "{out}"
    );
    assert!(
        out.contains(&format!("acknowledged the ciphertext with SHA-256 {H} at a time between 2026-11-20T10:00:00Z and 2026-11-20T10:59:59Z\n")),
        "{out}"
    );
    assert!(
        out.contains("\nwhat it does not show:\n  - the recipient is not identified: the bundle shows only that some receipt key committed to by C acknowledged it (an opening, --opening, names the key)\n  - a device holding the receipt key acknowledged the ciphertext; that does not show that a person read it\n"),
        "{out}"
    );

    let j = json_of(&run(&[&b, "--log-key", LOG_KEY, DEV, "--json"]));
    let r = &j["bundles"][0];
    assert_eq!(r["verified"], true);
    assert_eq!(r["code"], Value::Null);
    assert_eq!(r["hint"], Value::Null);
    assert_eq!(r["verifying_key"]["trust_level"], "insecure-dev");
    assert_eq!(
        warning_codes(r),
        [
            "InsecureDevKey",
            "RecipientNotIdentified",
            "DeviceNotPerson",
            "LogTimeBoundTrustsRelay",
            "NoWitnessPolicy",
            "NoTrustedTimestamp"
        ]
    );
    // Every warning the human output prints is in the JSON, word for word.
    for w in r["warnings"].as_array().unwrap() {
        assert!(out.contains(w["message"].as_str().unwrap()), "{w}");
    }
    let shows = r["shows"].as_array().unwrap();
    assert_eq!(shows.len(), 4);
    for s in shows {
        assert!(
            out.contains(&format!("  - {}\n", s.as_str().unwrap())),
            "{s}"
        );
    }

    // With a (v2, so certified) opening: the receipt key is named and tied to a Signal
    // identity, with the caveats that come with certificates.
    let j = json_of(&run(&[
        &b,
        "--log-key",
        LOG_KEY,
        DEV,
        "--opening",
        &valid("valid.opening.json"),
        "--json",
    ]));
    let r = &j["bundles"][0];
    assert_eq!(
        warning_codes(r),
        [
            "InsecureDevKey",
            "DeviceNotPerson",
            "NoCertificateExpiryOrRevocation",
            "IdentityNotLegalPerson",
            "LogTimeBoundTrustsRelay",
            "NoWitnessPolicy",
            "NoTrustedTimestamp"
        ]
    );
    assert!(r["shows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s.as_str().unwrap().contains(&opening_fingerprint())));

    // A v1 bundle with its v1 opening (no certificate): the key is named but tied to no
    // identity, and the v1 caveats are stated.
    let v1 = "testdata/bundles/v1/valid";
    let j = json_of(&run(&[
        &format!("{v1}/valid-hour.bundle.json"),
        "--log-key",
        &format!("{v1}/log.vkey"),
        DEV,
        "--opening",
        &format!("{v1}/valid.opening.json"),
        "--json",
    ]));
    let r = &j["bundles"][0];
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["statement"]["id"], "delivered-within/v1");
    assert_eq!(r["statement"]["time_bounds"], Value::Null);
    assert_eq!(
        warning_codes(r),
        [
            "InsecureDevKey",
            "RecipientNotCertified",
            "DeviceNotPerson",
            "V1LeavesNotHiding",
            "NoPublishedReceiptSkew",
            "NoWitnessPolicy",
            "NoTrustedTimestamp"
        ]
    );
}

/// The receipt-key fingerprint of the valid opening, from the opening itself.
fn opening_fingerprint() -> String {
    Opening::parse(&std::fs::read(repo().join(valid("valid.opening.json"))).unwrap())
        .unwrap()
        .recipient_fingerprint()
}

#[test]
fn every_failure_has_a_code_and_a_hint() {
    for (name, want) in &index() {
        let path = format!("{INVALID}/{name}");
        let o = run(&[&path, "--log-key", LOG_KEY, DEV, "--json"]);
        let j = json_of(&o);
        let r = &j["bundles"][0];
        let code = r["code"].as_str().unwrap();
        // The binary reports the library's code, which starts with the error's variant (the
        // index's expected error); the exact codes of some vectors are checked below.
        let bytes = std::fs::read(repo().join(&path)).unwrap();
        let e = letro_verifier::Verifier::new(vec![letro_log::note::VerifierKey::parse(
            std::fs::read_to_string(repo().join(LOG_KEY))
                .unwrap()
                .trim(),
        )
        .unwrap()])
        .unwrap()
        .verify(&bytes)
        .unwrap_err();
        assert_eq!(code, e.code(), "{name}");
        let debug = want["error"].as_str().unwrap();
        assert!(
            debug.starts_with(code.split('.').next().unwrap()),
            "{name}: {code} vs {debug}"
        );
        let step = want["step"].as_u64().unwrap() as usize;
        assert_eq!(r["checks"][step - 1]["code"], code, "{name}");
        assert!(!r["hint"].as_str().unwrap().is_empty(), "{name}");
        assert_eq!(r["error"], r["checks"][step - 1]["detail"], "{name}");
        let err = stderr(&run(&[&path, "--log-key", LOG_KEY, DEV]));
        assert!(
            err.starts_with(&format!("error: {path}: ")),
            "{name}: {err}"
        );
        assert!(err.contains("\nhint: "), "{name}: {err}");
    }
    let code_of = |name: &str| -> String {
        let j = json_of(&run(&[&invalid(name), "--log-key", LOG_KEY, DEV, "--json"]));
        j["bundles"][0]["code"].as_str().unwrap().to_owned()
    };
    assert_eq!(code_of("proof-invalid-other-window"), "ProofInvalid");
    assert_eq!(code_of("root-mismatch-log-root"), "RootMismatch");
    assert_eq!(code_of("unknown-verifying-key"), "UnknownVerifyingKey");
    assert_eq!(
        code_of("untrusted-checkpoint-signature-altered"),
        "Checkpoint.InvalidSignature"
    );
    assert_eq!(
        code_of("untrusted-checkpoint-origin-not-signed"),
        "Checkpoint.OriginNotSigned"
    );
    assert_eq!(
        code_of("proof-point-b-not-in-subgroup"),
        "Malformed.ProofPoint"
    );

    // Unreadable and ciphertext failures have codes and hints too.
    let j = json_of(&run(&[
        "no/such/bundle.json",
        "--log-key",
        LOG_KEY,
        "--json",
    ]));
    assert_eq!(j["bundles"][0]["code"], "Unreadable");
    assert!(j["bundles"][0]["hint"]
        .as_str()
        .unwrap()
        .contains("check the path"));
    let d = tmp("codes");
    let wrong = d.join("wrong.bin");
    std::fs::write(&wrong, b"not the envelope").unwrap();
    let b = valid("valid-hour.bundle.json");
    let args = [
        &b,
        "--log-key",
        LOG_KEY,
        DEV,
        "--ciphertext",
        wrong.to_str().unwrap(),
    ];
    let j = json_of(&run(&[&args[..], &["--json"]].concat()));
    assert_eq!(j["bundles"][0]["code"], "Ciphertext.Mismatch");
    assert_eq!(j["bundles"][0]["checks"][7]["code"], "Ciphertext.Mismatch");
    assert_eq!(j["bundles"][0]["warnings"], serde_json::json!([]));
    let err = stderr(&run(&args));
    assert!(
        err.contains("hint: --ciphertext must be the exact bytes whose SHA-256 is H"),
        "{err}"
    );
}

#[test]
fn no_log_key_hint_says_where_a_genuine_one_comes_from() {
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, DEV]);
    assert_eq!(code(&o), 3);
    let err = stderr(&o);
    assert!(err.starts_with(&format!("error: {b}: no trusted log key was given\nhint: pass the relay's log key with --log-key KEY")), "{err}");
    for words in [
        "comes from the relay operator, published out of band",
        "GET /v1/log/key",
        "Never take the key from the bundle",
    ] {
        assert!(err.contains(words), "{words}: {err}");
    }
    let j = json_of(&run(&[&b, DEV, "--json"]));
    assert_eq!(j["bundles"][0]["code"], "NoTrustedLogKey");
    assert!(j["bundles"][0]["hint"]
        .as_str()
        .unwrap()
        .contains("relay operator"));
}

#[test]
fn wrong_log_key_hint_names_who_signed_and_what_was_given() {
    let d = tmp("wrong-log-key");
    let other = letro_log::note::SignerKey::from_seed(ORIGIN, &[7u8; 32]).unwrap();
    let other_id = other.key_id().to_string();
    let key_file = d.join("other.vkey");
    std::fs::write(&key_file, format!("{}\n", other.verifier_key())).unwrap();
    let kf = key_file.to_str().unwrap();
    let b = valid("valid-day.bundle.json");
    let o = run(&[&b, "--log-key", kf, DEV]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "hint: the checkpoint is signed by {ORIGIN}+0e47ebde; you gave --log-key {ORIGIN}+{other_id}. same log name, other key ID: either your --log-key is the wrong file"
        )),
        "{err}"
    );
    assert!(err.contains("(forged)"), "{err}");
    let j = json_of(&run(&[&b, "--log-key", kf, DEV, "--json"]));
    let r = &j["bundles"][0];
    assert_eq!(r["code"], "Checkpoint.NoTrustedSignature");
    assert_eq!(
        r["log_keys"],
        serde_json::json!({"signed_by": [format!("{ORIGIN}+0e47ebde")], "given": [format!("{ORIGIN}+{other_id}")]})
    );
    // A key of another log altogether.
    let another =
        letro_log::note::SignerKey::from_seed("example.invalid/other-log", &[8u8; 32]).unwrap();
    let o = run(&[&b, "--log-key", &another.verifier_key().to_string(), DEV]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "you gave --log-key example.invalid/other-log+{}",
            another.key_id()
        )),
        "{err}"
    );
    assert!(err.contains("the log key of another log"), "{err}");
    // The genuine key: no log_keys member.
    let j = json_of(&run(&[&b, "--log-key", LOG_KEY, DEV, "--json"]));
    assert_eq!(j["bundles"][0]["log_keys"], Value::Null);
}

#[test]
fn an_opening_or_a_record_given_as_the_bundle_is_named() {
    for (file, what) in [
        (valid("valid.opening.json"), "an opening"),
        (
            "testdata/records/valid.record.json".to_owned(),
            "a delivery record",
        ),
    ] {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(repo().join(&file)).unwrap()).unwrap();
        let version = doc["version"].as_str().unwrap();
        let o = run(&[&file, "--log-key", LOG_KEY, DEV]);
        assert_eq!(code(&o), 3, "{file}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("hint: this is {what} ({version}), not a bundle; pass the bundle (letro-bundle/...) as the file to verify, and pass openings with --opening\n")),
            "{err}"
        );
        let j = json_of(&run(&[&file, "--log-key", LOG_KEY, DEV, "--json"]));
        assert_eq!(j["bundles"][0]["code"], "Malformed.UnsupportedVersion");
    }
    // And a bundle given as the opening.
    let b = valid("valid-hour.bundle.json");
    let o = run(&[&b, "--log-key", LOG_KEY, DEV, "--opening", &b]);
    assert_eq!(code(&o), 3);
    let err = stderr(&o);
    assert!(
        err.contains("hint: this is a bundle (letro-bundle/v2), not an opening; pass the bundle as the file to verify and its opening (letro-opening/...) with --opening"),
        "{err}"
    );
    let j = json_of(&run(&[
        &b,
        "--log-key",
        LOG_KEY,
        DEV,
        "--opening",
        &b,
        "--json",
    ]));
    assert_eq!(j["bundles"][0]["code"], "Opening.Malformed");
    assert_eq!(j["bundles"][0]["checks"][7]["code"], "Opening.Malformed");
}

#[test]
fn vk_with_trailing_bytes_is_a_usage_error() {
    let d = tmp("vk-trailing");
    let mut bytes =
        std::fs::read(repo().join("keys/v1/delivered-within-v1.INSECURE-DEV.vk")).unwrap();
    bytes.push(0);
    let p = d.join("trailing.vk");
    std::fs::write(&p, &bytes).unwrap();
    let o = run(&[
        &valid("valid-hour.bundle.json"),
        "--log-key",
        LOG_KEY,
        DEV,
        "--vk",
        p.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: --vk {}: the verifying key is followed by 1 more bytes\nhint: ",
            p.display()
        )),
        "{err}"
    );
}

/// A key given with `--vk` (here a made-up key, and the day bundle re-pointed at it): refused as
/// user-supplied without `--accept-user-supplied-keys` (exit 4), checked with it (the proof is
/// not for that key: exit 1). Needs no prover.
#[test]
fn user_supplied_key_is_refused_without_its_flag() {
    use ark_ec::{AffineRepr, PrimeGroup};
    use ark_serialize::CanonicalSerialize;
    let vk = ark_groth16::VerifyingKey::<ark_bn254::Bn254> {
        alpha_g1: ark_bn254::G1Affine::generator(),
        beta_g2: ark_bn254::G2Affine::generator(),
        gamma_g2: (ark_bn254::G2Projective::generator() * ark_bn254::Fr::from(2u64)).into(),
        delta_g2: (ark_bn254::G2Projective::generator() * ark_bn254::Fr::from(3u64)).into(),
        gamma_abc_g1: (1..=7u64)
            .map(|i| (ark_bn254::G1Projective::generator() * ark_bn254::Fr::from(i)).into())
            .collect(),
    };
    let mut vk_bytes = Vec::new();
    vk.serialize_compressed(&mut vk_bytes).unwrap();
    assert_eq!(vk_bytes.len(), 456);
    let vk_sha = hex::encode(Sha256::digest(&vk_bytes));
    let d = tmp("user-key");
    let vk_path = d.join("made-up.vk");
    std::fs::write(&vk_path, &vk_bytes).unwrap();
    let day = std::fs::read_to_string(repo().join(valid("valid-day.bundle.json"))).unwrap();
    let bundle_path = d.join("repointed.bundle.json");
    std::fs::write(&bundle_path, day.replace(VK_SHA256, &vk_sha)).unwrap();
    let (bp, vp) = (bundle_path.to_str().unwrap(), vk_path.to_str().unwrap());
    const USER: &str = "--accept-user-supplied-keys";

    for flags in [&[][..], &[DEV]] {
        let args = [&[bp, "--log-key", LOG_KEY, "--vk", vp][..], flags].concat();
        let o = run(&args);
        assert_eq!(code(&o), 4, "{flags:?}: {}{}", stdout(&o), stderr(&o));
        assert!(
            stdout(&o).contains(&format!("  [FAIL] 2 verifying key: the verifying key {vk_sha} has trust level user-supplied, which is not accepted\n")),
            "{}",
            stdout(&o)
        );
        let err = stderr(&o);
        assert!(
            err.contains(&format!("\nhint: the bundle was proved under the key given with --vk, whose provenance this verifier cannot check: whoever made that key may be able to forge proofs. If you obtained the key from a source you trust, pass {USER}\n")),
            "{err}"
        );
        let j = json_of(&run(&[&args[..], &["--json"]].concat()));
        let r = &j["bundles"][0];
        assert_eq!(r["code"], "UntrustedVerifyingKey");
        assert_eq!(
            r["verifying_key"],
            serde_json::json!({"sha256": vk_sha, "source": vp, "statement": "delivered-within/v2", "trust_level": "user-supplied"})
        );
    }
    let o = run(&[bp, "--log-key", LOG_KEY, "--vk", vp, USER]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("  [ok  ] 2 verifying key: {vk_sha} (given with --vk {vp}, trust level user-supplied)\n")),
        "{out}"
    );
    assert!(out.contains("  [FAIL] 6 proof: "), "{out}");
}

/// `--policy`: a C2SP tlog-policy file makes the quorum a check of step 3; the report names
/// each cosignature and the earliest as a bound on the delivery time by a witness's clock.
#[test]
fn a_witness_policy_is_required_and_reported() {
    use letro_log::cosignature::{attach, CosignerSigner};
    let dir = tmp("policy");
    let text = std::fs::read_to_string(repo().join(valid("valid-day.bundle.json"))).unwrap();
    let parsed = letro_core::bundle::ParsedBundle::parse(text.as_bytes()).unwrap();
    let note = parsed.checkpoint_text();
    let witness = CosignerSigner::from_seed("witness.invalid/w1", &[7; 32]).unwrap();
    let line = witness
        .cosign(parsed.checkpoint.note().unverified_text(), 1_795_176_000)
        .unwrap();
    let escape = |s: &str| {
        let q = serde_json::to_string(s).unwrap();
        q[1..q.len() - 1].to_owned()
    };
    let cosigned = text.replacen(
        &escape(&note),
        &escape(&attach(&note, std::slice::from_ref(&line))),
        1,
    );
    let bundle = dir.join("cosigned.bundle.json");
    std::fs::write(&bundle, cosigned).unwrap();
    let log = std::fs::read_to_string(repo().join(LOG_KEY)).unwrap();
    let policy = dir.join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "log {}\nwitness W1 {}\nquorum W1\n",
            log.trim(),
            witness.cosigner_key()
        ),
    )
    .unwrap();
    let (b, p) = (bundle.to_str().unwrap(), policy.to_str().unwrap());

    // The policy's log is trusted; the cosignature meets the quorum.
    let o = run(&[b, "--policy", p, DEV, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = &json_of(&o)["bundles"][0];
    assert_eq!(r["statement"]["witnessed_by"], "2026-11-20T12:00:00Z");
    assert_eq!(r["statement"]["cosignatures"][0]["witness"], "W1");
    assert!(!warning_codes(r).contains(&"NoWitnessPolicy".to_owned()));
    let out = stdout(&run(&[b, "--policy", p, DEV]));
    assert!(
        out.contains("no later than 2026-11-20 12:00 UTC, the earliest witness cosignature"),
        "{out}"
    );

    // The bundle without the cosignature: not verified, exit 1, QuorumNotMet.
    let bare = repo().join(valid("valid-day.bundle.json"));
    let o = run(&[bare.to_str().unwrap(), "--policy", p, DEV, "--json"]);
    assert_eq!(code(&o), 1);
    assert_eq!(json_of(&o)["bundles"][0]["code"], "QuorumNotMet");
    // A malformed policy is a usage error.
    std::fs::write(&policy, "quorum W9\n").unwrap();
    let o = run(&[b, "--policy", p, DEV]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("policy line 1"), "{}", stderr(&o));
}

#[test]
fn keys_directories_are_pinned_with_their_manifest() {
    let bundle = valid_bundles().into_iter().next().unwrap();
    // A copy of the repository's keys/v2-dev/: its manifest says insecure-dev, and so does the report.
    let d = tmp("keys-dir");
    for f in ["manifest.json", "delivered-within-v2.INSECURE-DEV.vk"] {
        std::fs::copy(repo().join("keys/v2-dev").join(f), d.join(f)).unwrap();
    }
    let dir = d.to_str().unwrap();
    let o = run(&[&bundle, "--log-key", LOG_KEY, "--keys", dir]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let o = run(&[&bundle, "--log-key", LOG_KEY, "--keys", dir, DEV]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("insecure-dev"), "{}", stdout(&o));
    // A manifest that claims a ceremony for that INSECURE-DEV file, or whose hash is not the
    // key's, pins nothing: usage error.
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    m["provenance"]["kind"] = "ceremony".into();
    m["provenance"]["ceremony"] = serde_json::json!({
        "phase1": {"blake2b": "a".repeat(128)},
        "circuit_hash": "b".repeat(128),
        "contributions": [{"number": 1, "hash": "c".repeat(128)}]
    });
    std::fs::write(d.join("manifest.json"), m.to_string()).unwrap();
    let o = run(&[&bundle, "--log-key", LOG_KEY, "--keys", dir]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("INSECURE-DEV"), "{}", stderr(&o));
    let o = run(&[&bundle, "--log-key", LOG_KEY, "--keys", "/nonexistent/keys"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

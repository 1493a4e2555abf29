//! `letro-verify` on evidence records (`letro-evidence/v1`): a record built here from a log of
//! made-available, expired and rejected events, signed by a test log key; the report's
//! numbered checks, its JSON, and exit codes 0, 1 and 3. The records the service issues, and
//! every tampering of them, are checked in `service/tests/suite/lifecycle.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use letro_core::evidence::{EventFacts, EvidenceRecord};
use letro_core::lifecycle::{self, RejectionReason};
use letro_core::log::DeliveryLog;
use letro_core::statement::CiphertextHash;
use letro_core::Fr;
use letro_log::checkpoint::SignedCheckpoint;
use letro_log::note::SignerKey;
use serde_json::Value;

const ORIGIN: &str = "relay.example/letro-log";

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("evidence-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letro-verify"))
        .args(args)
        .output()
        .unwrap()
}

/// Three events in a log of five leaves, a signed checkpoint, and the record of each.
fn records(key: &SignerKey) -> Vec<EvidenceRecord> {
    let h = CiphertextHash::of(b"a notice");
    let t = 1_764_201_600;
    let facts = [
        EventFacts::MadeAvailable {
            routing: "bob".into(),
            time: t,
        },
        EventFacts::Expired {
            retention: 1_209_600,
            time: t + 1_209_600,
        },
        EventFacts::SubmissionRejected {
            sender: "bank".into(),
            reason: RejectionReason::UnknownRecipient,
            time: t,
        },
    ];
    let secrets = [Fr::from(11u64), Fr::from(12u64), Fr::from(13u64)];
    let mut log = DeliveryLog::new();
    log.sequence(Fr::from(1u64)).unwrap();
    let mut out = Vec::new();
    for (f, e) in facts.iter().zip(secrets) {
        let r = EvidenceRecord {
            ciphertext_hash: h,
            origin: ORIGIN.into(),
            policy: "urn:letro:evidence-policy:registered-delivery:v1".into(),
            facts: f.clone(),
            event_secret: e,
            leaf_index: log.sequenced_size(),
            tree_size: 0,
            inclusion: Vec::new(),
            checkpoint: String::new(),
            timestamps: Vec::new(),
        };
        log.sequence(r.leaf()).unwrap();
        out.push(r);
    }
    log.sequence(Fr::from(2u64)).unwrap();
    log.integrate().unwrap();
    let cp = log.checkpoint(ORIGIN, t + 2_000_000);
    let text = SignedCheckpoint::sign(&cp, key).unwrap();
    for r in &mut out {
        r.tree_size = cp.size;
        r.inclusion = log
            .rfc6962()
            .inclusion_proof(r.leaf_index, cp.size)
            .unwrap();
        r.checkpoint = text.clone();
    }
    assert_eq!(log.rfc6962().len(), 5);
    // The leaves are the lifecycle's.
    assert_eq!(
        out[0].leaf(),
        lifecycle::available_leaf(&h, "bob", t, &secrets[0])
    );
    out
}

#[test]
fn evidence_records_are_verified_with_numbered_checks_and_exit_codes() {
    let key = SignerKey::from_seed(ORIGIN, &[3; 32]).unwrap();
    let vkey = key.verifier_key().to_string();
    let dir = tmp("cli");
    let mut files = Vec::new();
    for (i, r) in records(&key).iter().enumerate() {
        let path = dir.join(format!("record-{i}.json"));
        std::fs::write(&path, r.encode().unwrap()).unwrap();
        files.push(path.display().to_string());
    }

    // Each verifies: exit 0, five checks, the event in words.
    let out = run(&[&files[0], "--log-key", &vkey]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for step in [
        "[ok  ] 1 parse",
        "[ok  ] 2 event",
        "[ok  ] 3 checkpoint signature",
        "[ok  ] 4 inclusion in the log",
        "[ok  ] 5 RFC 3161 time-stamps: none in the record",
        "any time from outside the operator: the record carries no RFC 3161 time-stamp",
        "made-available (ETSI EN 319 522 ContentConsignment)",
        "made available in the mailbox of the account \"bob\"",
        "the relay's clock",
        "what it does not show:",
    ] {
        assert!(text.contains(step), "{step}: {text}");
    }
    let out = run(&[&files[1], &files[2], "--log-key", &vkey, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bundles"][0]["event"]["event"], "expired");
    assert_eq!(
        v["bundles"][0]["event"]["etsi_event"],
        "http://uri.etsi.org/19522/Event/ContentHandoverFailure"
    );
    assert_eq!(v["bundles"][1]["event"]["event"], "submission-rejected");
    assert_eq!(v["bundles"][1]["checks"].as_array().unwrap().len(), 5);

    // A fact altered: step 4 fails, exit 1, the code named.
    let mut altered: Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    altered["facts"]["routing"] = "carol".into();
    let bad = dir.join("altered.json");
    std::fs::write(&bad, altered.to_string()).unwrap();
    let bad = bad.display().to_string();
    let out = run(&[&bad, "--log-key", &vkey, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bundles"][0]["code"], "Evidence.Inclusion");
    assert_eq!(v["bundles"][0]["checks"][3]["result"], "failed");
    // Another log key: step 3, exit 1. No log key: exit 3. Malformed: exit 3. With a good
    // record beside a bad one, the highest code.
    let other = SignerKey::from_seed(ORIGIN, &[4; 32])
        .unwrap()
        .verifier_key()
        .to_string();
    assert_eq!(
        run(&[&files[0], "--log-key", &other]).status.code(),
        Some(1)
    );
    assert_eq!(run(&[&files[0]]).status.code(), Some(3));
    let malformed = dir.join("malformed.json");
    std::fs::write(
        &malformed,
        "{\"version\": \"letro-evidence/v1\", \"event\": 5}",
    )
    .unwrap();
    let out = run(&[malformed.to_str().unwrap(), "--log-key", &vkey]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed evidence record"));
    assert_eq!(
        run(&[&files[0], &bad, "--log-key", &vkey]).status.code(),
        Some(1)
    );
    // An event time after its checkpoint: the leaf is in the log, yet the record is refused.
    let late = {
        let h = CiphertextHash::of(b"late");
        let mut r = EvidenceRecord {
            ciphertext_hash: h,
            origin: ORIGIN.into(),
            policy: "p".into(),
            facts: EventFacts::MadeAvailable {
                routing: "bob".into(),
                time: 2_000_000_000,
            },
            event_secret: Fr::from(5u64),
            leaf_index: 0,
            tree_size: 1,
            inclusion: Vec::new(),
            checkpoint: String::new(),
            timestamps: Vec::new(),
        };
        let mut log = DeliveryLog::new();
        log.sequence(r.leaf()).unwrap();
        log.integrate().unwrap();
        let cp = log.checkpoint(ORIGIN, 1_900_000_000);
        r.checkpoint = SignedCheckpoint::sign(&cp, &key).unwrap();
        r
    };
    let late_path = dir.join("late.json");
    std::fs::write(&late_path, late.encode().unwrap()).unwrap();
    let out = run(&[late_path.to_str().unwrap(), "--log-key", &vkey, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bundles"][0]["code"], "Evidence.Time");

    // --ciphertext and --opening are for bundles: a usage error with a record.
    let out = run(&[&files[0], "--log-key", &vkey, "--ciphertext", &files[1]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply to bundles"));
    // The policy identifier is named as unbound.
    let out = run(&[&files[0], "--log-key", &vkey]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("neither the leaf nor the checkpoint binds it"));
}

/// A certificate made from `document` (unsealed), written to `dir/name`.
fn certificate(
    dir: &Path,
    name: &str,
    document: &[u8],
    opening: Option<&[u8]>,
    verifier: &letro_verifier::Verifier,
) -> PathBuf {
    let issue = letro_certificate::content::Issue {
        at: 1_767_225_600,
        sealed_by: None,
    };
    let doc = letro_certificate::certify(verifier, document, opening, &issue).unwrap();
    let pdf = letro_certificate::render(&doc).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    path
}

fn json_report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Replaces every `from` in the file at `path` by `to` (same length), into `dir/name`.
fn altered(path: &Path, dir: &Path, name: &str, from: &[u8], to: &[u8]) -> PathBuf {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let found: Vec<usize> = (0..bytes.len().saturating_sub(from.len() - 1))
        .filter(|&i| &bytes[i..i + from.len()] == from)
        .collect();
    assert!(
        !found.is_empty(),
        "{} not found",
        String::from_utf8_lossy(from)
    );
    for at in found {
        bytes[at..at + to.len()].copy_from_slice(to);
    }
    let out = dir.join(name);
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn evidence_certificates_are_verified_from_the_documents_they_embed() {
    let dir = tmp("certificates");
    let key = SignerKey::from_seed(ORIGIN, &[9; 32]).unwrap();
    let vkey = key.verifier_key().to_string();
    let verifier = letro_verifier::Verifier::new(vec![key.verifier_key()]).unwrap();
    let record = records(&key)[1].encode().unwrap();
    let pdf = certificate(&dir, "expired.pdf", record.as_bytes(), None, &verifier);
    let p = pdf.to_str().unwrap();

    // The record inside verifies; check 0 says what was and was not checked.
    let out = run(&[p, "--log-key", &vkey, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = json_report(&out);
    let checks = report["bundles"][0]["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "0 certificate (PDF)", "{report}");
    assert_eq!(checks[0]["result"], "ok");
    let detail = checks[0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("2 attachments read"), "{detail}");
    assert!(
        detail.contains("evidence.json") && detail.contains("checkpoint.txt"),
        "{detail}"
    );
    assert!(detail.contains("NOT checked by letro-verify"), "{detail}");
    assert_eq!(checks.len(), 6, "{report}");
    assert!(checks.iter().all(|c| c["result"] == "ok"), "{report}");

    // Another log key: the record's checkpoint is not trusted (exit 1, as for the record).
    let other = SignerKey::from_seed(ORIGIN, &[8; 32]).unwrap();
    let out = run(&[p, "--log-key", &other.verifier_key().to_string()]);
    assert_eq!(out.status.code(), Some(1));

    // The event inside altered (expired -> a later time): the inclusion fails (exit 1).
    let changed = altered(
        &pdf,
        &dir,
        "changed.pdf",
        b"\"retention_seconds\": 1209600",
        b"\"retention_seconds\": 1209601",
    );
    let out = run(&[changed.to_str().unwrap(), "--log-key", &vkey, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The embedded checkpoint copy altered: it no longer matches the record's (exit 1).
    let mismatched = altered(
        &pdf,
        &dir,
        "mismatch.pdf",
        b"\n\n\xe2\x80\x94 relay.example/letro-log",
        b"\n\n\xe2\x80\x94 relay.example/letro-loG",
    );
    let out = run(&[mismatched.to_str().unwrap(), "--log-key", &vkey, "--json"]);
    let report = json_report(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.to_string().contains("Certificate.Mismatch"),
        "{report}"
    );

    // The main document's name changed: no Letro document in the PDF (exit 3).
    let renamed = altered(
        &pdf,
        &dir,
        "renamed.pdf",
        b"(evidence.json)",
        b"(evidence.jsoX)",
    );
    let out = run(&[renamed.to_str().unwrap(), "--log-key", &vkey, "--json"]);
    let report = json_report(&out);
    assert_eq!(out.status.code(), Some(3), "{report}");
    assert!(
        report.to_string().contains("Certificate.Malformed"),
        "{report}"
    );

    // Truncated, or not a PDF at all past its header: exit 3, nothing verified.
    let bytes = std::fs::read(&pdf).unwrap();
    for cut in [10, bytes.len() / 2, bytes.len() - 3] {
        let t = dir.join(format!("cut-{cut}.pdf"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let out = run(&[t.to_str().unwrap(), "--log-key", &vkey]);
        assert_eq!(out.status.code(), Some(3), "cut at {cut}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    }
}

#[test]
fn bundle_certificates_carry_their_opening_and_are_verified_with_it() {
    let dir = tmp("bundle-certificates");
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/bundles/v2/valid");
    let bundle = std::fs::read(format!("{base}/valid-day.bundle.json")).unwrap();
    let opening = std::fs::read(format!("{base}/valid.opening.json")).unwrap();
    let vkey = std::fs::read_to_string(format!("{base}/log.vkey")).unwrap();
    let verifier =
        letro_verifier::Verifier::new(vec![
            letro_log::note::VerifierKey::parse(vkey.trim()).unwrap()
        ])
        .unwrap()
        .with_trust_policy(letro_verifier::TrustPolicy {
            accept_insecure_dev: true,
            ..letro_verifier::TrustPolicy::CEREMONY_ONLY
        });
    let pdf = certificate(&dir, "bundle.pdf", &bundle, Some(&opening), &verifier);
    let p = pdf.to_str().unwrap();
    let key_file = format!("{base}/log.vkey");

    let out = run(&[
        p,
        "--log-key",
        &key_file,
        "--accept-insecure-dev-keys",
        "--json",
    ]);
    let report = json_report(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    let checks = report["bundles"][0]["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "0 certificate (PDF)");
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "opening" && c["result"] == "ok"),
        "{report}"
    );
    // Without --accept-insecure-dev-keys the built-in key is refused, as for the bundle.
    let out = run(&[p, "--log-key", &key_file]);
    assert_eq!(out.status.code(), Some(4));
    // An --opening besides the embedded one is a usage error.
    let out = run(&[
        p,
        "--log-key",
        &key_file,
        "--opening",
        &format!("{base}/valid.opening.json"),
    ]);
    assert_eq!(out.status.code(), Some(2));

    // The proof inside altered (one digit of the first proof coordinate): exit 1.
    let text = std::fs::read(&pdf).unwrap();
    let at = text
        .windows(10)
        .position(|w| w == b"\"proof\": \"")
        .unwrap()
        + 12;
    let mut bad = text.clone();
    bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
    let broken = dir.join("broken.pdf");
    std::fs::write(&broken, bad).unwrap();
    let out = run(&[
        broken.to_str().unwrap(),
        "--log-key",
        &key_file,
        "--accept-insecure-dev-keys",
    ]);
    assert_ne!(out.status.code(), Some(0));

    // A certificate is never made for a document that does not verify.
    let strict =
        letro_verifier::Verifier::new(vec![
            letro_log::note::VerifierKey::parse(vkey.trim()).unwrap()
        ])
        .unwrap()
        .with_trust_policy(letro_verifier::TrustPolicy::CEREMONY_ONLY);
    let issue = letro_certificate::content::Issue {
        at: 0,
        sealed_by: None,
    };
    let refused = letro_certificate::certify(&strict, &bundle, Some(&opening), &issue);
    assert!(
        matches!(
            &refused,
            Err(letro_certificate::CertificateError::NotVerified(m)) if m.contains("UntrustedVerifyingKey")
        ),
        "{refused:?}"
    );
}

//! `letro-verify` on evidence records (`letro-evidence/v1`): a record built here from a log of
//! made-available, expired and rejected events, signed by a test log key; the report's
//! numbered checks, its JSON, and exit codes 0, 1 and 3. The records the service issues, and
//! every tampering of them, are checked in `service/tests/lifecycle.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

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

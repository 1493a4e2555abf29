//! `letro-verify` and RFC 3161 time-stamps in bundles (step 7): a committed bundle with a
//! token made by a real TSA (OpenSSL's `ts -reply`, test CA made at run time) over its
//! checkpoint's body. Trusted with `--tsa-cert`, the TSA's time is reported and the
//! `NoTrustedTimestamp` caveat goes; without it the token is checked for integrity only; an
//! altered token, or one over other bytes, fails with exit 1; a bad `--tsa-cert` is usage.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::tsa::{Key, Tsa};
use letro_core::bundle::ParsedBundle;
use serde_json::Value;

const LOG_KEY: &str = "testdata/bundles/v2/valid/log.vkey";
const DEV: &str = "--accept-insecure-dev-keys";
const BUNDLE: &str = "testdata/bundles/v2/valid/valid-hour.bundle.json";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letro-verify"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

fn warnings(r: &Value) -> Vec<String> {
    r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bundle_time_stamps_are_checked_and_a_trusted_tsa_bounds_the_time() {
    let tsa = Tsa::new(Key::EcdsaP256, false);
    let other = Tsa::new(Key::Rsa, false);
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = ParsedBundle::parse(&std::fs::read(repo().join(BUNDLE)).unwrap()).unwrap();
    let body = bundle.checkpoint.note().unverified_text().to_owned();
    bundle.timestamps = vec![tsa.stamp(body.as_bytes())];
    assert!(tsa.openssl_verifies(&bundle.timestamps[0], body.as_bytes()));
    let stamped = dir.path().join("stamped.bundle.json");
    std::fs::write(&stamped, bundle.encode().unwrap()).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, tsa.ca_pem()).unwrap();
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, other.ca_pem()).unwrap();
    let b = stamped.to_str().unwrap();

    // Trusted: step 7 passes, the TSA's time is reported, no NoTrustedTimestamp caveat.
    let o = run(&[
        b,
        "--log-key",
        LOG_KEY,
        DEV,
        "--tsa-cert",
        ca.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = &json(&o)["bundles"][0];
    assert_eq!(r["checks"][6]["check"], "7 RFC 3161 time-stamps");
    assert_eq!(r["checks"][6]["detail"], "1 intact, 1 from a trusted TSA");
    assert_eq!(r["statement"]["timestamps"][0]["trusted"], true);
    assert!(r["statement"]["tsa_time"].is_string());
    assert!(!warnings(r).contains(&"NoTrustedTimestamp".to_owned()));
    let text = String::from_utf8(
        run(&[
            b,
            "--log-key",
            LOG_KEY,
            DEV,
            "--tsa-cert",
            ca.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    assert!(text.contains("time-stamped (RFC 3161) by"), "{text}");

    // Untrusted (no --tsa-cert, or another TSA's CA): verified, the caveat stays.
    for extra in [&[][..], &["--tsa-cert", other_ca.to_str().unwrap()][..]] {
        let o = run(&[&[b, "--log-key", LOG_KEY, DEV, "--json"][..], extra].concat());
        assert_eq!(o.status.code(), Some(0));
        let r = &json(&o)["bundles"][0];
        assert_eq!(r["checks"][6]["detail"], "1 intact, 0 from a trusted TSA");
        assert_eq!(r["statement"]["timestamps"][0]["trusted"], false);
        assert_eq!(r["statement"]["tsa_time"], Value::Null);
        assert!(warnings(r).contains(&"NoTrustedTimestamp".to_owned()));
    }

    // Altered, or over other bytes: exit 1, Timestamp.Invalid at step 7.
    let mut altered = bundle.clone();
    *altered.timestamps[0].last_mut().unwrap() ^= 1;
    let mut moved = bundle.clone();
    moved.timestamps = vec![tsa.stamp(b"another checkpoint\n")];
    for (name, bad) in [("altered", altered), ("moved", moved)] {
        let p = dir.path().join(format!("{name}.bundle.json"));
        std::fs::write(&p, bad.encode().unwrap()).unwrap();
        let o = run(&[
            p.to_str().unwrap(),
            "--log-key",
            LOG_KEY,
            DEV,
            "--tsa-cert",
            ca.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let r = &json(&o)["bundles"][0];
        assert_eq!(r["code"], "Timestamp.Invalid", "{name}");
        assert_eq!(r["checks"][6]["result"], "failed", "{name}");
    }

    // A --tsa-cert that is not a certificate is a usage error.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let o = run(&[
        b,
        "--log-key",
        LOG_KEY,
        DEV,
        "--tsa-cert",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tsa-cert"));
}

/// A made-available record at `time`, in a log of two leaves, under a checkpoint of `time + 10`.
fn record_at(key: &letro_log::note::SignerKey, time: u64) -> letro_core::evidence::EvidenceRecord {
    use letro_core::evidence::{EventFacts, EvidenceRecord};
    let mut log = letro_core::log::DeliveryLog::new();
    log.sequence(letro_core::Fr::from(1u64)).unwrap();
    let mut r = EvidenceRecord {
        ciphertext_hash: letro_core::statement::CiphertextHash::of(b"a notice"),
        origin: "relay.example/letro-log".into(),
        policy: "urn:letro:evidence-policy:registered-delivery:v1".into(),
        facts: EventFacts::MadeAvailable {
            routing: "bob".into(),
            time,
        },
        event_secret: letro_core::Fr::from(11u64),
        leaf_index: 1,
        tree_size: 2,
        inclusion: Vec::new(),
        checkpoint: String::new(),
        timestamps: Vec::new(),
    };
    log.sequence(r.leaf()).unwrap();
    log.integrate().unwrap();
    let cp = log.checkpoint("relay.example/letro-log", time + 10);
    r.checkpoint = letro_log::checkpoint::SignedCheckpoint::sign(&cp, key).unwrap();
    r.inclusion = log.rfc6962().inclusion_proof(1, 2).unwrap();
    r
}

#[test]
fn an_event_time_later_than_a_trusted_time_stamp_allows_fails() {
    use letro_verifier::evidence::EvidenceVerifyError;
    use letro_verifier::timestamps::{certificates_from_pem, TimestampVerifyError};
    let tsa = Tsa::new(Key::Rsa, false);
    let key = letro_log::note::SignerKey::from_seed("relay.example/letro-log", &[3; 32]).unwrap();
    let plain = letro_verifier::Verifier::new(vec![key.verifier_key()]).unwrap();
    let trusting = plain
        .clone()
        .with_tsa_certificates(certificates_from_pem(&tsa.ca_pem()).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // An hour ago: consistent. A day from now (the operator's clock, or its claim, ahead of
    // the TSA's): the event cannot have been logged before a checkpoint the TSA saw today.
    for (time, consistent) in [(now - 3600, true), (now + 86_400, false)] {
        let mut r = record_at(&key, time);
        let body = letro_log::checkpoint::SignedCheckpoint::parse(&r.checkpoint)
            .unwrap()
            .note()
            .unverified_text()
            .to_owned();
        r.timestamps = vec![tsa.stamp(body.as_bytes())];
        let bytes = r.encode().unwrap().into_bytes();
        // An untrusted token bounds nothing.
        assert!(plain.verify_evidence(&bytes).is_ok());
        match trusting.verify_evidence(&bytes) {
            Ok(v) => assert!(consistent, "{:?}", v.timestamps),
            Err(e) => {
                assert!(!consistent, "{e}");
                assert!(
                    matches!(
                        &e,
                        EvidenceVerifyError::Timestamp(TimestampVerifyError::After { what: "event time", time: t, .. }) if *t == time
                    ),
                    "{e}"
                );
                assert_eq!(
                    (e.step(), e.exit_code(), e.code()),
                    (5, 1, "Timestamp.EventAfter")
                );
            }
        }
    }
}

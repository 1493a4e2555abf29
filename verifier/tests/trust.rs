//! Trust levels of pinned verifying keys, the trust policy, the keys manifest's hash check,
//! verifying-key decoding (no trailing bytes), the stable error codes, and what a verified
//! bundle is said to show.
//!
//! The vectors of `testdata/bundles/v2` were proved under the first v2 key (`keys/v2-dev`,
//! insecure-dev), which stays built in beside the demo ceremony's (`keys/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use letro_log::note::VerifierKey;
use letro_verifier::checks::{OpenedRecipient, OpeningCheckError};
use letro_verifier::findings::{findings, Caveat};
use letro_verifier::{
    KeySource, ManifestError, PinnedKey, TrustLevel, TrustPolicy, Verifier, VerifyError,
    VerifyingKeyError, EMBEDDED_MANIFEST_V2_DEV, EMBEDDED_VERIFYING_KEY_V2_DEV,
};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/bundles/v2")
}

fn log_key() -> VerifierKey {
    let s = std::fs::read_to_string(dir().join("valid/log.vkey")).unwrap();
    VerifierKey::parse(s.trim()).unwrap()
}

fn valid(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("valid/{name}"))).unwrap()
}

/// The embedded manifest with `provenance` replaced by a ceremony record.
fn ceremony_manifest() -> String {
    let mut m: serde_json::Value = serde_json::from_str(EMBEDDED_MANIFEST_V2_DEV).unwrap();
    m["provenance"] = serde_json::json!({
        "kind": "ceremony",
        "description": "test",
        "tool": "test",
        "ceremony": {
            "phase1": {"blake2b": "a".repeat(128), "power": 15},
            "circuit_hash": "b".repeat(128),
            "contributions": [{"number": 1, "name": "test", "hash": "c".repeat(128), "beacon": null}]
        }
    });
    m["verifying_key"]["file"] = "delivered-within-v2.vk".into();
    m.to_string()
}

#[test]
fn the_built_in_keys_have_the_trust_levels_of_their_manifests() {
    let v = Verifier::new(vec![log_key()]).unwrap();
    // Three built-in keys: v2 from the demo ceremony (proved today), the first v2 key and v1
    // (both kept so that the bundles proved under them stay verifiable).
    let [k, dev, k1] = v.keys() else {
        panic!("three built-in keys")
    };
    assert_eq!(k.trust_level(), TrustLevel::DemoCeremony);
    assert_eq!(k.statement(), "delivered-within/v2");
    assert_eq!(k.source(), &KeySource::Embedded);
    assert_eq!(
        k.sha256(),
        &<[u8; 32]>::from(Sha256::digest(letro_verifier::EMBEDDED_VERIFYING_KEY))
    );
    assert_eq!(k1.trust_level(), TrustLevel::InsecureDev);
    assert_eq!(k1.statement(), "delivered-within/v1");
    assert_eq!(
        k1.sha256(),
        &<[u8; 32]>::from(Sha256::digest(letro_verifier::EMBEDDED_VERIFYING_KEY_V1))
    );
    assert_eq!(dev.trust_level(), TrustLevel::InsecureDev);
    assert_eq!(dev.statement(), "delivered-within/v2");
    assert_eq!(dev.source(), &KeySource::Embedded);
    assert_eq!(
        dev.sha256(),
        &<[u8; 32]>::from(Sha256::digest(EMBEDDED_VERIFYING_KEY_V2_DEV))
    );
    // `new` accepts every level (a relay checking its own proofs); the result says which.
    assert_eq!(v.trust_policy(), TrustPolicy::ANY);
    let d = v.verify(&valid("valid-day.bundle.json")).unwrap();
    assert_eq!(d.trust_level(), TrustLevel::InsecureDev);
    assert_eq!(d.key_statement(), "delivered-within/v2");
}

#[test]
fn a_ceremony_only_verifier_refuses_insecure_dev_keys_at_step_2() {
    let v = Verifier::new(vec![log_key()])
        .unwrap()
        .with_trust_policy(TrustPolicy::CEREMONY_ONLY);
    let e = v.verify(&valid("valid-day.bundle.json")).unwrap_err();
    let VerifyError::UntrustedVerifyingKey {
        sha256,
        trust_level,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(*trust_level, TrustLevel::InsecureDev);
    assert_eq!(
        sha256,
        &hex::encode(Sha256::digest(EMBEDDED_VERIFYING_KEY_V2_DEV))
    );
    assert_eq!(
        (e.step(), e.exit_code(), e.code()),
        (2, 4, "UntrustedVerifyingKey")
    );
    // Before the log key is even looked at: no log key, still step 2.
    let e = Verifier::new(vec![])
        .unwrap()
        .with_trust_policy(TrustPolicy::CEREMONY_ONLY)
        .verify(&valid("valid-day.bundle.json"))
        .unwrap_err();
    assert_eq!(e.code(), "UntrustedVerifyingKey");
    // In a batch too, each bundle refused.
    let bundles: Vec<Vec<u8>> = ["hour", "day"]
        .iter()
        .map(|n| valid(&format!("valid-{n}.bundle.json")))
        .collect();
    let refs: Vec<&[u8]> = bundles.iter().map(Vec::as_slice).collect();
    for r in v.verify_batch(&refs) {
        assert!(matches!(r, Err(VerifyError::UntrustedVerifyingKey { .. })));
    }
    // Accepting insecure-dev keys: verifies, and says so.
    let v = v.with_trust_policy(TrustPolicy {
        accept_insecure_dev: true,
        ..TrustPolicy::CEREMONY_ONLY
    });
    let d = v.verify(&valid("valid-day.bundle.json")).unwrap();
    assert_eq!(d.trust_level(), TrustLevel::InsecureDev);
}

#[test]
fn a_ceremony_manifest_makes_a_ceremony_key_that_needs_no_flag() {
    let key = PinnedKey::from_manifest(
        &ceremony_manifest(),
        EMBEDDED_VERIFYING_KEY_V2_DEV,
        KeySource::Given("ceremony/manifest.json".into()),
    )
    .unwrap();
    assert_eq!(key.trust_level(), TrustLevel::Ceremony);
    let v = Verifier::from_keys(vec![key], vec![log_key()])
        .with_trust_policy(TrustPolicy::CEREMONY_ONLY);
    let d = v.verify(&valid("valid-hour.bundle.json")).unwrap();
    assert_eq!(d.trust_level(), TrustLevel::Ceremony);
    let f = findings(&d, None);
    assert!(!f.caveats.contains(&Caveat::InsecureDevKey));
    assert!(!f.caveats.contains(&Caveat::UserSuppliedKey));
    assert!(f.shows.iter().any(|s| s.contains("(trust level ceremony)")));
}

#[test]
fn a_manifest_for_other_bytes_never_lends_its_provenance() {
    // The embedded (insecure-dev) manifest and the ceremony one, each with a key that is not
    // theirs: an error, not a key of either trust level.
    let mut other = EMBEDDED_VERIFYING_KEY_V2_DEV.to_vec();
    other[40] ^= 0x01;
    for m in [EMBEDDED_MANIFEST_V2_DEV.to_owned(), ceremony_manifest()] {
        let e = PinnedKey::from_manifest(&m, &other, KeySource::Embedded).unwrap_err();
        assert!(
            matches!(
                e,
                VerifyingKeyError::Manifest(ManifestError::VerifyingKeyHashMismatch { .. })
            ),
            "{e:?}"
        );
    }
    // The real key with a manifest whose hash was edited.
    let edited = EMBEDDED_MANIFEST_V2_DEV.replace("3ee5ed1b", "3ee5ed1c");
    assert_ne!(edited, EMBEDDED_MANIFEST_V2_DEV);
    let e = PinnedKey::from_manifest(&edited, EMBEDDED_VERIFYING_KEY_V2_DEV, KeySource::Embedded)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "the keys manifest gives verifying-key sha256 3ee5ed1c{}, but the key's sha256 is 3ee5ed1b{}",
            &hex::encode(Sha256::digest(EMBEDDED_VERIFYING_KEY_V2_DEV))[8..],
            &hex::encode(Sha256::digest(EMBEDDED_VERIFYING_KEY_V2_DEV))[8..],
        )
    );
}

#[test]
fn a_verifying_key_with_trailing_bytes_is_rejected() {
    let mut bytes = EMBEDDED_VERIFYING_KEY_V2_DEV.to_vec();
    PinnedKey::user_supplied(&bytes, KeySource::Given("k".into())).unwrap();
    for extra in [&[0u8][..], &[0, 0, 0, 0], b"\n"] {
        let mut long = bytes.clone();
        long.extend_from_slice(extra);
        let e = PinnedKey::user_supplied(&long, KeySource::Given("k".into())).unwrap_err();
        assert!(
            matches!(e, VerifyingKeyError::TrailingBytes { extra: n } if n == extra.len()),
            "{e:?}"
        );
    }
    // A manifest that describes the longer bytes does not help either.
    bytes.push(0);
    let m = EMBEDDED_MANIFEST_V2_DEV
        .replace(
            &hex::encode(Sha256::digest(EMBEDDED_VERIFYING_KEY_V2_DEV)),
            &hex::encode(Sha256::digest(&bytes)),
        )
        .replace("\"bytes\": 456", "\"bytes\": 457");
    let e = PinnedKey::from_manifest(&m, &bytes, KeySource::Embedded).unwrap_err();
    assert!(
        matches!(e, VerifyingKeyError::TrailingBytes { extra: 1 }),
        "{e:?}"
    );
    // A truncated key is a decode error.
    let e = PinnedKey::user_supplied(&bytes[..400], KeySource::Given("k".into())).unwrap_err();
    assert!(matches!(e, VerifyingKeyError::Decode(_)), "{e:?}");
}

#[test]
fn user_supplied_keys_need_their_own_acceptance() {
    // The built-in key's bytes under another manifest-less name stay insecure-dev (the first
    // pin of a hash wins), and a really new key given by the user is user-supplied.
    let mut v = Verifier::new(vec![log_key()]).unwrap();
    v.add_key(
        PinnedKey::user_supplied(
            EMBEDDED_VERIFYING_KEY_V2_DEV,
            KeySource::Given("copy.vk".into()),
        )
        .unwrap(),
    );
    assert_eq!(v.keys().len(), 3);
    assert_eq!(v.keys()[1].trust_level(), TrustLevel::InsecureDev);
    let user = PinnedKey::user_supplied(
        EMBEDDED_VERIFYING_KEY_V2_DEV,
        KeySource::Given("u.vk".into()),
    )
    .unwrap();
    assert_eq!(user.trust_level(), TrustLevel::UserSupplied);
    let only_user = Verifier::from_keys(vec![user], vec![log_key()]);
    let bundle = valid("valid-day.bundle.json");
    for (policy, ok) in [
        (TrustPolicy::CEREMONY_ONLY, false),
        (
            TrustPolicy {
                accept_insecure_dev: true,
                ..TrustPolicy::CEREMONY_ONLY
            },
            false,
        ),
        (
            TrustPolicy {
                accept_user_supplied: true,
                ..TrustPolicy::CEREMONY_ONLY
            },
            true,
        ),
    ] {
        let r = only_user.clone().with_trust_policy(policy).verify(&bundle);
        match r {
            Ok(d) => {
                assert!(ok, "{policy:?}");
                assert_eq!(d.trust_level(), TrustLevel::UserSupplied);
                assert!(findings(&d, None)
                    .caveats
                    .contains(&Caveat::UserSuppliedKey));
            }
            Err(e) => {
                assert!(!ok, "{policy:?}: {e:?}");
                assert!(matches!(
                    e,
                    VerifyError::UntrustedVerifyingKey {
                        trust_level: TrustLevel::UserSupplied,
                        ..
                    }
                ));
            }
        }
    }
}

#[test]
fn findings_say_what_a_bundle_shows_with_and_without_an_opening() {
    let v = Verifier::new(vec![log_key()]).unwrap();
    let d = v.verify(&valid("valid-hour.bundle.json")).unwrap();
    let codes = |c: &[Caveat]| c.iter().map(|c| c.code()).collect::<Vec<_>>();

    // Without an opening: some receipt key committed to by C; the recipient is not identified.
    let f = findings(&d, None);
    assert!(
        f.shows[0].starts_with("a receipt key committed to by C = "),
        "{:?}",
        f.shows
    );
    assert!(f.shows[0].contains("between 2026-11-20T10:00:00Z and 2026-11-20T10:59:59Z"));
    assert!(
        f.shows[1].contains("signed by the trusted log key letro.invalid/INSECURE-DEV-test-log")
    );
    // The log's time bound, from the published receipt skew.
    assert!(
        f.shows[3].contains("receipt skew of 300 s"),
        "{:?}",
        f.shows
    );
    assert_eq!(f.shows.len(), 4);
    assert_eq!(
        codes(&f.caveats),
        [
            "InsecureDevKey",
            "RecipientNotIdentified",
            "DeviceNotPerson",
            "LogTimeBoundTrustsRelay",
            "NoWitnessPolicy",
            "NoTrustedTimestamp"
        ]
    );

    // With an opening without a certificate.
    let uncertified = OpenedRecipient {
        fingerprint: "ab".repeat(32),
        identity_key: None,
    };
    let f = findings(&d, Some(&uncertified));
    assert!(f.shows.iter().any(|s| s.contains(&"ab".repeat(32))));
    assert_eq!(
        codes(&f.caveats),
        [
            "InsecureDevKey",
            "RecipientNotCertified",
            "DeviceNotPerson",
            "LogTimeBoundTrustsRelay",
            "NoWitnessPolicy",
            "NoTrustedTimestamp"
        ]
    );

    // With a certified opening: the certificate, and the limits of what it shows.
    let certified = OpenedRecipient {
        fingerprint: "ab".repeat(32),
        identity_key: Some(format!("05{}", "cd".repeat(32))),
    };
    let f = findings(&d, Some(&certified));
    assert!(f
        .shows
        .iter()
        .any(|s| s.contains("certified by the Signal identity key 05cdcd")));
    assert_eq!(
        codes(&f.caveats),
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
    assert!(Caveat::DeviceNotPerson
        .message()
        .contains("does not show that a person read it"));
    assert!(Caveat::IdentityNotLegalPerson
        .message()
        .contains("legal person is established outside this proof"));
    assert!(Caveat::NoCertificateExpiryOrRevocation
        .message()
        .contains("no expiry or revocation"));
}

#[test]
fn error_codes_are_stable() {
    use letro_core::bundle::{BundleError, OpeningError, OpeningParseError};
    use letro_log::checkpoint::CheckpointVerifyError;
    use letro_log::note::{KeyId, NoteVerifyError};
    use letro_verifier::certificate::CertificateError;
    use letro_verifier::checks::CiphertextError;

    let cases: Vec<(VerifyError, &str)> = vec![
        (BundleError::Json("x".into()).into(), "Malformed.Json"),
        (
            BundleError::TooLarge { len: 1 }.into(),
            "Malformed.TooLarge",
        ),
        (
            BundleError::UnsupportedVersion("letro-opening/v1".into()).into(),
            "Malformed.UnsupportedVersion",
        ),
        (
            BundleError::VerifyingKeyHash.into(),
            "Malformed.VerifyingKeyHash",
        ),
        (
            VerifyError::UnknownVerifyingKey("00".into()),
            "UnknownVerifyingKey",
        ),
        (VerifyError::NoTrustedLogKey, "NoTrustedLogKey"),
        (
            CheckpointVerifyError::Note(NoteVerifyError::InvalidSignature {
                name: "n".into(),
                key_id: KeyId::new(1),
            })
            .into(),
            "Checkpoint.InvalidSignature",
        ),
        (
            CheckpointVerifyError::Note(NoteVerifyError::NoTrustedSignature).into(),
            "Checkpoint.NoTrustedSignature",
        ),
        (
            CheckpointVerifyError::OriginNotSigned { origin: "o".into() }.into(),
            "Checkpoint.OriginNotSigned",
        ),
        (VerifyError::RootMismatch, "RootMismatch"),
        (VerifyError::ProofInvalid, "ProofInvalid"),
    ];
    for (e, code) in cases {
        assert_eq!(e.code(), code, "{e:?}");
    }
    assert_eq!(
        CiphertextError::Mismatch {
            expected: String::new(),
            actual: String::new()
        }
        .code(),
        "Ciphertext.Mismatch"
    );
    assert_eq!(
        CiphertextError::Io(std::io::Error::other("x")).code(),
        "Ciphertext.Io"
    );
    let opening: Vec<(OpeningCheckError, &str)> = vec![
        (
            OpeningParseError::Json("x".into()).into(),
            "Opening.Malformed",
        ),
        (
            OpeningError::CommitmentMismatch.into(),
            "Opening.CommitmentMismatch",
        ),
        (
            OpeningError::CiphertextMismatch.into(),
            "Opening.CiphertextMismatch",
        ),
        (
            OpeningError::OtherCommitment.into(),
            "Opening.OtherCommitment",
        ),
        (
            OpeningCheckError::KeyNotInSubgroup,
            "Opening.KeyNotInSubgroup",
        ),
        (
            CertificateError::Invalid.into(),
            "Opening.Certificate.Invalid",
        ),
    ];
    for (e, code) in opening {
        assert_eq!(e.code(), code, "{e:?}");
    }
}

#[test]
fn a_keys_directory_pins_its_key_only_from_inside_it() {
    let d = std::env::temp_dir().join(format!("letro-keys-dir-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys");
    let manifest = std::fs::read_to_string(keys.join("manifest.json")).unwrap();
    let vk = "delivered-within-v2.DEMO-CEREMONY.vk";
    // No manifest: an I/O error naming the file.
    let e = PinnedKey::from_keys_dir(&d).unwrap_err();
    assert!(matches!(e, letro_verifier::KeysDirError::Io { .. }), "{e}");
    assert!(e.to_string().contains("manifest.json"), "{e}");
    // A key file named outside the directory is never read.
    std::fs::write(
        d.join("manifest.json"),
        manifest.replace(vk, &format!("../keys/{vk}")),
    )
    .unwrap();
    let e = PinnedKey::from_keys_dir(&d).unwrap_err();
    assert!(
        matches!(e, letro_verifier::KeysDirError::NoKeyFile(_)),
        "{e}"
    );
    // The manifest without its key file, then with it: pinned at the manifest's level.
    std::fs::write(d.join("manifest.json"), &manifest).unwrap();
    let e = PinnedKey::from_keys_dir(&d).unwrap_err();
    assert!(e.to_string().contains(vk), "{e}");
    std::fs::copy(keys.join(vk), d.join(vk)).unwrap();
    let k = PinnedKey::from_keys_dir(&d).unwrap();
    assert_eq!(k.trust_level(), TrustLevel::DemoCeremony);
    assert_eq!(k.source(), &KeySource::Manifest(d.display().to_string()));
    std::fs::remove_dir_all(&d).unwrap();
}

//! `Verifier::verify_batch` on the vectors of `testdata/bundles/`: every bundle gets its own
//! result, the same as `Verifier::verify` would give it, and invalid proofs cannot hide in a
//! batch.

use std::path::{Path, PathBuf};

use ark_bn254::G1Affine;
use ark_ec::{AffineRepr, CurveGroup};
use letro_core::bundle::{Bundle, BundleError, ParsedBundle, PointRejection};
use letro_log::note::VerifierKey;
use letro_verifier::{VerifiedDelivery, Verifier, VerifyError};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/bundles/v2")
}

fn verifier() -> Verifier {
    let s = std::fs::read_to_string(dir().join("valid/log.vkey")).unwrap();
    Verifier::new(vec![VerifierKey::parse(s.trim()).unwrap()]).unwrap()
}

fn valid(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("valid/valid-{name}.bundle.json"))).unwrap()
}

fn invalid(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("invalid/invalid-{name}.bundle.json"))).unwrap()
}

const VALID: [&str; 4] = ["hour", "day", "exact-second", "widest"];

fn all_valid() -> Vec<Vec<u8>> {
    VALID.iter().map(|n| valid(n)).collect()
}

fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

/// The verified statement must be the bundle's own.
fn assert_is(d: &VerifiedDelivery, bytes: &[u8]) {
    let p = ParsedBundle::parse(bytes).unwrap();
    assert_eq!(d.statement(), &p.statement);
    assert_eq!(d.checkpoint(), p.checkpoint.unverified_checkpoint());
    assert_eq!(d.key_sha256(), &p.verifying_key_sha256);
}

#[test]
fn all_valid_bundles_verify_together() {
    let v = verifier();
    let bundles = all_valid();
    let r = v.verify_batch(&refs(&bundles));
    assert_eq!(r.len(), 4);
    for (res, b) in r.iter().zip(&bundles) {
        let d = res.as_ref().unwrap();
        assert_is(d, b);
        assert_eq!(d.statement(), v.verify(b).unwrap().statement());
    }
    // Eight bundles (each twice) and every order.
    let mut twice: Vec<Vec<u8>> = bundles
        .iter()
        .chain(bundles.iter().rev())
        .cloned()
        .collect();
    let r = v.verify_batch(&refs(&twice));
    assert_eq!(r.len(), 8);
    for (res, b) in r.iter().zip(&twice) {
        assert_is(res.as_ref().unwrap(), b);
    }
    twice.rotate_left(3);
    assert!(v.verify_batch(&refs(&twice)).iter().all(Result::is_ok));
}

#[test]
fn empty_and_single_batches() {
    let v = verifier();
    assert!(v.verify_batch(&[]).is_empty());
    let one = valid("day");
    let r = v.verify_batch(&[&one]);
    assert_eq!(r.len(), 1);
    assert_is(r[0].as_ref().unwrap(), &one);
    let bad = invalid("proof-invalid-other-window");
    let r = v.verify_batch(&[&bad]);
    assert!(matches!(r[..], [Err(VerifyError::ProofInvalid)]));
}

#[test]
fn one_bad_proof_among_valid_ones_is_named() {
    let v = verifier();
    let bad = invalid("proof-invalid-other-window");
    for pos in 0..=4 {
        let mut bundles = all_valid();
        bundles.insert(pos, bad.clone());
        let r = v.verify_batch(&refs(&bundles));
        assert_eq!(r.len(), 5);
        for (i, (res, b)) in r.iter().zip(&bundles).enumerate() {
            if i == pos {
                assert!(
                    matches!(res, Err(VerifyError::ProofInvalid)),
                    "position {pos}: {res:?}"
                );
            } else {
                assert_is(res.as_ref().unwrap(), b);
            }
        }
    }
    // Every proof-invalid vector, each among the valid ones.
    for name in [
        "proof-invalid-ciphertext-sha256",
        "proof-invalid-not-before",
        "proof-invalid-not-after",
        "proof-invalid-recipient-commitment",
        "proof-invalid-log-root-and-checkpoint",
        "proof-invalid-swapped-a-c",
    ] {
        let mut bundles = all_valid();
        bundles.insert(2, invalid(name));
        let r = v.verify_batch(&refs(&bundles));
        let errs: Vec<usize> = r
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_err())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(errs, [2], "{name}");
        assert!(matches!(r[2], Err(VerifyError::ProofInvalid)), "{name}");
    }
}

#[test]
fn malformed_and_other_failures_keep_their_own_errors() {
    let v = verifier();
    let mut bundles = all_valid();
    bundles.insert(1, invalid("proof-point-b-not-in-subgroup"));
    bundles.insert(3, invalid("json-syntax-truncated"));
    bundles.push(invalid("root-mismatch-checkpoint"));
    bundles.push(invalid("unknown-verifying-key"));
    bundles.push(invalid("untrusted-checkpoint-unknown-key-only"));
    bundles.push(invalid("proof-invalid-not-after"));
    let r = v.verify_batch(&refs(&bundles));
    assert_eq!(r.len(), 10);
    let debug: Vec<String> = r
        .iter()
        .map(|x| match x {
            Ok(_) => "Ok".to_owned(),
            Err(e) => format!("{e:?}"),
        })
        .collect();
    assert_eq!(
        debug,
        [
            "Ok",
            "Malformed(ProofPoint { which: \"b\", reason: NotInSubgroup })",
            "Ok",
            "Malformed(Json(\"EOF while parsing a string at line 11 column 44\"))",
            "Ok",
            "Ok",
            "RootMismatch",
            "UnknownVerifyingKey(\"5fd3ed9aaa5d92d4726bdc4296de96053252d46acf7972ebb551b9797281afc5\")",
            "Checkpoint(Note(NoTrustedSignature))",
            "ProofInvalid",
        ]
    );
    assert!(matches!(
        r[1],
        Err(VerifyError::Malformed(BundleError::ProofPoint {
            which: "b",
            reason: PointRejection::NotInSubgroup
        }))
    ));
    // And each error is the one `verify` gives alone.
    for (res, b) in r.iter().zip(&bundles) {
        match (res, v.verify(b)) {
            (Ok(d), Ok(e)) => assert_eq!(d.statement(), e.statement()),
            (Err(x), Err(y)) => assert_eq!(format!("{x:?}"), format!("{y:?}")),
            (x, y) => panic!("batch {x:?} vs alone {y:?}"),
        }
    }
    // Only malformed ones and valid ones: no proof error appears.
    let bundles = vec![valid("hour"), invalid("unsupported-version"), valid("day")];
    let r = v.verify_batch(&refs(&bundles));
    assert!(r[0].is_ok() && r[2].is_ok());
    assert!(matches!(
        &r[1],
        Err(VerifyError::Malformed(BundleError::UnsupportedVersion(s))) if s == "letro-bundle/v3"
    ));
}

/// Two invalid proofs whose errors cancel in the plain sum of the pairing equations (C1 + D
/// and C2 − D): a batch with coefficients 1 would accept both. The random linear combination
/// must not, and each must be named.
#[test]
fn cancelling_invalid_proofs_are_both_caught() {
    let v = verifier();
    let (hour, day) = (valid("hour"), valid("day"));
    let d = G1Affine::generator();
    let shift = |bytes: &[u8], sign: bool| -> Vec<u8> {
        let p = ParsedBundle::parse(bytes).unwrap();
        let mut proof = p.proof;
        proof.c = if sign {
            (proof.c + d).into_affine()
        } else {
            (proof.c - d).into_affine()
        };
        Bundle::encode(
            &p.statement,
            &p.checkpoint_text(),
            &proof,
            &p.verifying_key_sha256,
            &[],
        )
        .unwrap()
        .into_bytes()
    };
    let (a, b) = (shift(&hour, true), shift(&day, false));
    assert!(matches!(v.verify(&a), Err(VerifyError::ProofInvalid)));
    assert!(matches!(v.verify(&b), Err(VerifyError::ProofInvalid)));
    let r = v.verify_batch(&[&a, &b]);
    assert!(matches!(
        r[..],
        [
            Err(VerifyError::ProofInvalid),
            Err(VerifyError::ProofInvalid)
        ]
    ));
    let r = v.verify_batch(&[&hour, &a, &day, &b]);
    assert!(r[0].is_ok() && r[2].is_ok());
    assert!(matches!(r[1], Err(VerifyError::ProofInvalid)));
    assert!(matches!(r[3], Err(VerifyError::ProofInvalid)));
}

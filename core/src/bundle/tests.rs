//! Tests of the three codecs: round trips, one test per rejection rule, byte flips.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, Field, PrimeField};
use ark_serialize::CanonicalSerialize;
use num_bigint::BigUint;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::*;
use crate::babyjubjub::{self, Fs, Point};
use crate::field::fr_to_be_bytes;
use crate::statement::example::{default_example, Example};
use crate::statement::{check_relation, StatementVersion};
use crate::Fr;
use letro_log::checkpoint::{Checkpoint, CheckpointBodyError};
use letro_log::note::{self, NoteParseError, SignerKey};

// ---- fixtures ----

/// Origin and key name of the test log (the same as `testdata/checkpoints/log.vkey`). Its key
/// is derived from a public string: never use it for anything real.
const ORIGIN: &str = "letro.invalid/INSECURE-DEV-test-log";

const P_DEC: &str = "21888242871839275222246405745257275088548364400416034343698204186575808495617";

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(format!("letro testdata {label} (INSECURE-DEV)")).into()
}

fn log_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &seed("log key")).unwrap()
}

fn example() -> Example {
    default_example()
}

/// A real signed checkpoint of the example's log (10 leaves), published 10 minutes after the
/// delivery.
fn checkpoint_text_with_root(root: [u8; 32]) -> String {
    let cp = Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 10,
        root,
        time: example().witness.delivered_at + 600,
        extensions: Vec::new(),
    };
    SignedCheckpoint::sign(&cp, &log_key()).unwrap()
}

fn checkpoint_text() -> String {
    checkpoint_text_with_root(fr_to_be_bytes(&example().statement.log_root))
}

/// A made-up but well-formed proof: 2·G1, 3·G2, 5·G1.
fn proof() -> ProofPoints {
    ProofPoints {
        a: (G1Affine::generator() * ark_bn254::Fr::from(2u64)).into_affine(),
        b: (G2Affine::generator() * ark_bn254::Fr::from(3u64)).into_affine(),
        c: (G1Affine::generator() * ark_bn254::Fr::from(5u64)).into_affine(),
    }
}

fn vk_hash() -> [u8; 32] {
    seed("verifying key")
}

fn bundle_json() -> String {
    Bundle::encode(
        &example().statement,
        &checkpoint_text(),
        &proof(),
        &vk_hash(),
        &[],
    )
    .unwrap()
}

fn certificate() -> ReceiptKeyCertificate {
    let mut key = [0u8; 33];
    key[0] = IDENTITY_KEY_TYPE;
    key[1..].copy_from_slice(&seed("identity key"));
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&seed("certificate signature 1"));
    sig[32..].copy_from_slice(&seed("certificate signature 2"));
    ReceiptKeyCertificate::new(key, sig).unwrap()
}

fn record() -> DeliveryRecord {
    let e = example();
    DeliveryRecord {
        ciphertext_hash: e.statement.ciphertext_hash,
        witness: e.witness,
        checkpoint: SignedCheckpoint::parse(&checkpoint_text()).unwrap(),
        receipt_key_certificate: certificate(),
        timestamps: Vec::new(),
    }
}

fn record_json() -> String {
    record().encode().unwrap()
}

fn opening_json() -> String {
    record().opening().encode()
}

/// Parses `doc`, lets `f` change it, and prints it back (compact).
fn mutate(doc: &str, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(doc).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn bundle_with(f: impl FnOnce(&mut Value)) -> Result<ParsedBundle, BundleError> {
    Bundle::parse(&mutate(&bundle_json(), f))
}

fn statement_with(field: &str, value: Value) -> Result<ParsedBundle, BundleError> {
    bundle_with(|v| v["statement"][field] = value)
}

fn record_with(f: impl FnOnce(&mut Value)) -> Result<DeliveryRecord, RecordError> {
    DeliveryRecord::parse(&mutate(&record_json(), f))
}

fn opening_with(f: impl FnOnce(&mut Value)) -> Result<Opening, OpeningParseError> {
    Opening::parse(&mutate(&opening_json(), f))
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

fn compressed<P: CanonicalSerialize>(p: &P) -> Vec<u8> {
    let mut v = Vec::new();
    p.serialize_compressed(&mut v).unwrap();
    v
}

fn proof_with(which: usize, bytes: &[u8]) -> Result<ParsedBundle, BundleError> {
    let mut all = proof().to_bytes().to_vec();
    let range = match which {
        0 => 0..32,
        1 => 32..96,
        _ => 96..128,
    };
    all.splice(range, bytes.iter().copied());
    bundle_with(|v| v["proof"] = b64(&all))
}

fn is_json<T, E: std::fmt::Debug>(r: &Result<T, E>) -> bool {
    matches!(r, Err(e) if format!("{e:?}").starts_with("Json("))
}

// ---- bundle: round trips and canonical form ----

#[test]
fn bundle_round_trips() {
    let e = example();
    let text = bundle_json();
    let parsed = Bundle::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.statement, e.statement);
    assert_eq!(parsed.proof, proof());
    assert_eq!(parsed.verifying_key_sha256, vk_hash());
    assert_eq!(
        parsed.checkpoint,
        SignedCheckpoint::parse(&checkpoint_text()).unwrap()
    );
    assert_eq!(parsed.checkpoint_text(), checkpoint_text());
    assert_eq!(parsed.encode().unwrap(), text);
    assert_eq!(
        ParsedBundle::parse(parsed.encode().unwrap().as_bytes()).unwrap(),
        parsed
    );
}

#[test]
fn bundle_has_the_documented_canonical_form() {
    let text = bundle_json();
    let e = example();
    let expected_start = format!(
        "{{\n  \"version\": \"letro-bundle/v2\",\n  \"statement\": {{\n    \"id\": \"delivered-within/v2\",\n    \"ciphertext_sha256\": \"{}\",\n    \"not_before\": \"2025-11-26T23:00:00Z\",\n    \"not_after\": \"2025-11-27T01:00:00Z\",\n    \"recipient_commitment\": \"{}\",\n    \"log_root\": \"{}\"\n  }},\n  \"checkpoint\": ",
        e.statement.ciphertext_hash.to_hex(),
        fr_to_decimal(&e.statement.recipient_commitment),
        fr_to_decimal(&e.statement.log_root),
    );
    assert!(text.starts_with(&expected_start), "{text}");
    assert!(text.ends_with("\"\n}\n"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["proof"].as_str().unwrap().len(), 172);
    assert_eq!(
        v["verifying_key_sha256"],
        Value::String(hex::encode(vk_hash()))
    );
}

#[test]
fn non_canonical_but_valid_input_reencodes_canonically() {
    let canonical = bundle_json();
    // Compact, keys in another order, an escaped digit, surrounding whitespace.
    let mut compact = mutate(&canonical, |_| ());
    let s = String::from_utf8(compact.clone()).unwrap();
    let escaped = s.replacen("\"letro-bundle/v1\"", "\"letro-bundle/v\\u0031\"", 1);
    compact = format!(" \n\t{escaped}\r\n ").into_bytes();
    let parsed = Bundle::parse(&compact).unwrap();
    assert_eq!(parsed.encode().unwrap(), canonical);
}

#[test]
fn checkpoint_text_is_rebuilt_byte_for_byte() {
    let witness =
        SignerKey::from_seed("witness.invalid/INSECURE-DEV-witness", &seed("witness")).unwrap();
    let key = log_key();
    let body = SignedCheckpoint::parse(&checkpoint_text())
        .unwrap()
        .unverified_checkpoint()
        .to_body()
        .unwrap();
    let cosigned = note::sign(&body, &[&key, &witness]).unwrap();
    let parsed = SignedCheckpoint::parse(&cosigned).unwrap();
    assert_eq!(signed_checkpoint_text(&parsed), cosigned);
}

#[test]
fn empty_window_still_parses() {
    let r = bundle_with(|v| {
        v["statement"]["not_before"] = json!("2030-01-01T00:00:00Z");
        v["statement"]["not_after"] = json!("2020-01-01T00:00:00Z");
    })
    .unwrap();
    assert!(r.statement.not_before > r.statement.not_after);
}

// ---- bundle: one test per rejection ----

#[test]
fn rejects_too_large_input() {
    let mut big = bundle_json().into_bytes();
    big.resize(MAX_DOCUMENT_LEN, b' ');
    assert!(
        Bundle::parse(&big).is_ok(),
        "exactly 1 MiB (whitespace padded) is allowed"
    );
    big.push(b' ');
    assert_eq!(
        Bundle::parse(&big),
        Err(BundleError::TooLarge {
            len: MAX_DOCUMENT_LEN + 1
        })
    );
}

#[test]
fn rejects_unknown_fields() {
    assert!(is_json(&bundle_with(|v| v["extra"] = json!(1))));
    assert!(is_json(&bundle_with(
        |v| v["statement"]["extra"] = json!("1")
    )));
}

#[test]
fn rejects_duplicate_keys() {
    let text = bundle_json();
    let dup_top = text.replacen(
        "\n  \"proof\": ",
        "\n  \"proof\": \"AAAA\",\n  \"proof\": ",
        1,
    );
    let r = Bundle::parse(dup_top.as_bytes());
    assert!(is_json(&r), "{r:?}");
    assert!(format!("{r:?}").contains("duplicate field"));
    let dup_nested = text.replacen(
        "\n    \"log_root\": ",
        "\n    \"log_root\": \"1\",\n    \"log_root\": ",
        1,
    );
    assert!(is_json(&Bundle::parse(dup_nested.as_bytes())));
    let dup_version = text.replacen("{\n", "{\n  \"version\": \"letro-bundle/v1\",\n", 1);
    assert!(is_json(&Bundle::parse(dup_version.as_bytes())));
}

#[test]
fn rejects_trailing_data() {
    let text = bundle_json();
    for tail in ["x", "{}", "\n{}", "\0", "null"] {
        let r = Bundle::parse(format!("{text}{tail}").as_bytes());
        assert!(is_json(&r), "{tail:?}: {r:?}");
    }
    assert!(Bundle::parse(format!("{text}  \n\n").as_bytes()).is_ok());
}

#[test]
fn rejects_arrays_in_place_of_objects() {
    let v: Value = serde_json::from_str(&bundle_json()).unwrap();
    let s = &v["statement"];
    let statement_array = json!([
        s["id"],
        s["ciphertext_sha256"],
        s["not_before"],
        s["not_after"],
        s["recipient_commitment"],
        s["log_root"]
    ]);
    let whole = json!([
        v["version"],
        s,
        v["checkpoint"],
        v["proof"],
        v["verifying_key_sha256"]
    ]);
    assert!(is_json(&Bundle::parse(whole.to_string().as_bytes())));
    assert!(is_json(&bundle_with(|v| v["statement"] = statement_array)));
}

#[test]
fn rejects_missing_keys_and_wrong_types() {
    assert!(is_json(&bundle_with(|v| {
        v.as_object_mut().unwrap().remove("verifying_key_sha256");
    })));
    assert!(is_json(&bundle_with(|v| {
        v.as_object_mut().unwrap().remove("version");
    })));
    assert!(is_json(&bundle_with(
        |v| v["statement"]["log_root"] = json!(5)
    )));
    assert!(is_json(&bundle_with(
        |v| v["statement"]["not_before"] = json!(1764198000)
    )));
    assert!(is_json(&bundle_with(|v| v["version"] = json!(1))));
    assert!(is_json(&Bundle::parse(b"")));
    assert!(is_json(&Bundle::parse(b"\xff")));
    assert!(is_json(&Bundle::parse(b"[]")));
}

#[test]
fn rejects_unknown_version() {
    assert_eq!(
        bundle_with(|v| v["version"] = json!("letro-bundle/v3")),
        Err(BundleError::UnsupportedVersion("letro-bundle/v3".into()))
    );
    // Reported as a version problem even though a v3 bundle may have other members.
    assert_eq!(
        Bundle::parse(br#"{"version": "letro-bundle/v3", "whatever": [1, 2]}"#),
        Err(BundleError::UnsupportedVersion("letro-bundle/v3".into()))
    );
    assert_eq!(
        bundle_with(|v| v["version"] = json!("letro-opening/v1")),
        Err(BundleError::UnsupportedVersion("letro-opening/v1".into()))
    );
}

#[test]
fn rejects_unknown_statement() {
    assert_eq!(
        statement_with("id", json!("delivered-before/v1")),
        Err(BundleError::UnknownStatement("delivered-before/v1".into()))
    );
    // The version and the statement id must agree.
    assert_eq!(
        statement_with("id", json!("delivered-within/v1")),
        Err(BundleError::UnknownStatement("delivered-within/v1".into()))
    );
}

#[test]
fn v1_bundles_still_parse_and_reencode_as_v1() {
    let v1 = mutate(&bundle_json(), |v| {
        v["version"] = json!("letro-bundle/v1");
        v["statement"]["id"] = json!("delivered-within/v1");
    });
    let parsed = Bundle::parse(&v1).unwrap();
    assert_eq!(parsed.version, StatementVersion::V1);
    let text = parsed.encode().unwrap();
    assert!(text.starts_with("{\n  \"version\": \"letro-bundle/v1\",\n"));
    assert_eq!(Bundle::parse(text.as_bytes()).unwrap(), parsed);
    // A v1 bundle naming the v2 statement is refused.
    let mixed = mutate(&bundle_json(), |v| v["version"] = json!("letro-bundle/v1"));
    assert_eq!(
        Bundle::parse(&mixed),
        Err(BundleError::UnknownStatement("delivered-within/v2".into()))
    );
}

#[test]
fn rejects_bad_ciphertext_hash() {
    let h = example().statement.ciphertext_hash.to_hex();
    for bad in [
        h.to_uppercase(),
        h[1..].to_owned(),
        format!("{h}0"),
        format!("0x{}", &h[2..]),
    ] {
        assert_eq!(
            statement_with("ciphertext_sha256", json!(bad)),
            Err(BundleError::CiphertextHash)
        );
    }
}

#[test]
fn rejects_bad_verifying_key_hash() {
    let h = hex::encode(vk_hash());
    for bad in [h.to_uppercase(), h[2..].to_owned(), String::new()] {
        assert_eq!(
            bundle_with(|v| v["verifying_key_sha256"] = json!(bad)),
            Err(BundleError::VerifyingKeyHash)
        );
    }
}

#[test]
fn rejects_wrong_time_format() {
    let cases = [
        ("2025-11-26T23:00:00+00:00", TimeError::Format),
        ("2025-11-26T23:00:00.5Z", TimeError::Format),
        ("2025-11-26T23:00:00.000Z", TimeError::Format),
        ("2025-11-26t23:00:00Z", TimeError::Format),
        ("2025-11-26T23:00:00z", TimeError::Format),
        ("2025-11-26 23:00:00Z", TimeError::Format),
        ("2025-11-26T23:00:00", TimeError::Format),
        ("2025-1-26T23:00:00Z", TimeError::Format),
        ("+2025-11-26T23:00:00Z", TimeError::Format),
        ("1764198000", TimeError::Format),
        ("", TimeError::Format),
        ("2025-02-30T00:00:00Z", TimeError::InvalidDate),
        ("2025-13-01T00:00:00Z", TimeError::InvalidDate),
        ("2025-01-01T24:00:00Z", TimeError::InvalidDate),
        ("2016-12-31T23:59:60Z", TimeError::InvalidDate),
        ("1969-12-31T23:59:59Z", TimeError::BeforeEpoch),
        ("0000-01-01T00:00:00Z", TimeError::BeforeEpoch),
    ];
    for (s, reason) in cases {
        assert_eq!(
            statement_with("not_before", json!(s)),
            Err(BundleError::Time {
                field: "statement.not_before",
                reason
            }),
            "{s}"
        );
        assert_eq!(
            statement_with("not_after", json!(s)),
            Err(BundleError::Time {
                field: "statement.not_after",
                reason
            }),
            "{s}"
        );
    }
}

#[test]
fn time_limits_and_round_trip() {
    assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(parse_time("9999-12-31T23:59:59Z"), Ok(MAX_TIME));
    assert_eq!(parse_time("2025-11-27T00:00:00Z"), Ok(1_764_201_600));
    assert_eq!(format_time(0).as_deref(), Some("1970-01-01T00:00:00Z"));
    assert_eq!(
        format_time(MAX_TIME).as_deref(),
        Some("9999-12-31T23:59:59Z")
    );
    assert_eq!(format_time(MAX_TIME + 1), None);
    assert_eq!(format_time(u64::MAX), None);
    for t in [0, 1, 951_782_400, 1_709_164_799, 1_764_201_600, MAX_TIME] {
        assert_eq!(parse_time(&format_time(t).unwrap()), Ok(t));
    }
    let mut s = example().statement;
    s.not_after = MAX_TIME + 1;
    assert_eq!(
        Bundle::encode(&s, &checkpoint_text(), &proof(), &vk_hash(), &[]),
        Err(EncodeError::Time {
            field: "statement.not_after",
            value: MAX_TIME + 1
        })
    );
}

#[test]
fn rejects_non_canonical_decimals() {
    let p_plus_1 = "21888242871839275222246405745257275088548364400416034343698204186575808495618";
    let cases = [
        (
            "0123",
            FieldError::BadDecimal("leading zeros are not allowed"),
        ),
        (
            "00",
            FieldError::BadDecimal("leading zeros are not allowed"),
        ),
        (P_DEC, FieldError::NotCanonical),
        (p_plus_1, FieldError::NotCanonical),
        (
            "-1",
            FieldError::BadDecimal("only the digits 0-9 are allowed"),
        ),
        (
            "+1",
            FieldError::BadDecimal("only the digits 0-9 are allowed"),
        ),
        (
            "1.0",
            FieldError::BadDecimal("only the digits 0-9 are allowed"),
        ),
        (
            "1e3",
            FieldError::BadDecimal("only the digits 0-9 are allowed"),
        ),
        (
            " 1",
            FieldError::BadDecimal("only the digits 0-9 are allowed"),
        ),
        (
            "0x10",
            FieldError::BadDecimal("only the digits 0-9 are allowed"),
        ),
        ("", FieldError::BadDecimal("empty")),
    ];
    for (s, source) in cases {
        for field in ["recipient_commitment", "log_root"] {
            let full: &'static str = if field == "log_root" {
                "statement.log_root"
            } else {
                "statement.recipient_commitment"
            };
            assert_eq!(
                statement_with(field, json!(s)),
                Err(BundleError::FieldElement {
                    field: full,
                    source: source.clone()
                }),
                "{field} = {s:?}"
            );
        }
    }
    // p - 1 is fine.
    let p_minus_1 = fr_to_decimal(&(-Fr::ONE));
    assert_eq!(
        statement_with("log_root", json!(p_minus_1))
            .unwrap()
            .statement
            .log_root,
        -Fr::ONE
    );
}

#[test]
fn rejects_malformed_checkpoint() {
    let text = checkpoint_text();
    assert_eq!(
        bundle_with(|v| v["checkpoint"] = json!(text.trim_end())),
        Err(BundleError::Checkpoint(CheckpointParseError::Note(
            NoteParseError::MissingFinalNewline
        )))
    );
    let no_time = text.replacen("time ", "tim ", 1);
    assert!(matches!(
        bundle_with(|v| v["checkpoint"] = json!(no_time)),
        Err(BundleError::Checkpoint(CheckpointParseError::Body(
            CheckpointBodyError::MissingTime
        )))
    ));
    assert!(Bundle::encode(&example().statement, "nonsense", &proof(), &vk_hash(), &[]).is_err());
}

#[test]
fn rejects_proof_not_128_bytes() {
    let bytes = proof().to_bytes();
    for len in [0usize, 96, 127] {
        assert_eq!(
            bundle_with(|v| v["proof"] = b64(&bytes[..len])),
            Err(BundleError::ProofEncoding { len: Some(len) })
        );
    }
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(
        bundle_with(|v| v["proof"] = b64(&long)),
        Err(BundleError::ProofEncoding { len: Some(129) })
    );
}

#[test]
fn rejects_non_canonical_proof_base64() {
    let good = STANDARD.encode(proof().to_bytes());
    assert!(good.ends_with('='), "128 bytes leave trailing bits");
    // The last character before the padding carries 4 data bits and 2 trailing bits: set one
    // of the trailing bits.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let last = good.as_bytes()[good.len() - 2];
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    let tweaked = char::from(ALPHABET[value ^ 1]);
    let trailing_bits = format!("{}{tweaked}=", &good[..good.len() - 2]);
    let cases = [
        trailing_bits,
        good.trim_end_matches('=').to_owned(),
        format!("{good}="),
        format!("{}-", &good[..good.len() - 1]),
        good.replacen(['/', '+'], "_", 1),
        format!(" {good}"),
        format!("{}\n{}", &good[..76], &good[76..]),
    ];
    for bad in cases {
        assert_ne!(bad, good);
        assert_eq!(
            bundle_with(|v| v["proof"] = json!(bad)),
            Err(BundleError::ProofEncoding { len: None }),
            "{bad}"
        );
    }
}

/// An x coordinate (in G1's base field) with no point on the curve.
fn g1_x_without_point() -> Fq {
    (1u64..)
        .map(Fq::from)
        .find(|x| G1Affine::get_ys_from_x_unchecked(*x).is_none())
        .unwrap()
}

#[test]
fn rejects_proof_point_off_curve() {
    let bytes = compressed(&g1_x_without_point());
    assert_eq!(bytes.len(), 32);
    for (which, name) in [(0, "a"), (2, "c")] {
        assert_eq!(
            proof_with(which, &bytes),
            Err(BundleError::ProofPoint {
                which: name,
                reason: PointRejection::NotOnCurve
            })
        );
    }
    let x2 = (1u64..)
        .map(|i| Fq2::new(Fq::from(i), Fq::ONE))
        .find(|x| G2Affine::get_ys_from_x_unchecked(*x).is_none())
        .unwrap();
    assert_eq!(
        proof_with(1, &compressed(&x2)),
        Err(BundleError::ProofPoint {
            which: "b",
            reason: PointRejection::NotOnCurve
        })
    );
    // x not below the field modulus (all ones, flags cleared).
    let mut big = [0xffu8; 32];
    big[31] = 0x3f;
    assert_eq!(
        proof_with(0, &big),
        Err(BundleError::ProofPoint {
            which: "a",
            reason: PointRejection::NotOnCurve
        })
    );
    // Both flag bits set.
    let mut flags = compressed(&proof().a);
    flags[31] |= 0xc0;
    assert!(matches!(
        proof_with(0, &flags),
        Err(BundleError::ProofPoint { which: "a", .. })
    ));
}

#[test]
fn rejects_proof_point_outside_subgroup() {
    let (x, y) = (1u64..)
        .map(|i| Fq2::new(Fq::from(i), Fq::ONE))
        .find_map(|x| G2Affine::get_ys_from_x_unchecked(x).map(|(y, _)| (x, y)))
        .unwrap();
    let p = G2Affine::new_unchecked(x, y);
    assert!(p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve());
    assert_eq!(
        proof_with(1, &compressed(&p)),
        Err(BundleError::ProofPoint {
            which: "b",
            reason: PointRejection::NotInSubgroup
        })
    );
    let points = ProofPoints { b: p, ..proof() };
    assert_eq!(
        points.validate(),
        Err(ProofPointError {
            which: "b",
            reason: PointRejection::NotInSubgroup
        })
    );
    assert!(matches!(
        Bundle::encode(
            &example().statement,
            &checkpoint_text(),
            &points,
            &vk_hash(),
            &[]
        ),
        Err(EncodeError::ProofPoint(_))
    ));
}

#[test]
fn rejects_proof_point_identity() {
    let g1 = compressed(&G1Affine::identity());
    let g2 = compressed(&G2Affine::identity());
    for (which, name, bytes) in [(0, "a", &g1), (1, "b", &g2), (2, "c", &g1)] {
        assert_eq!(
            proof_with(which, bytes),
            Err(BundleError::ProofPoint {
                which: name,
                reason: PointRejection::Identity
            })
        );
    }
    // The infinity flag with a non-zero x is the identity too.
    let mut odd = g1.clone();
    odd[0] = 1;
    assert!(matches!(
        proof_with(0, &odd),
        Err(BundleError::ProofPoint { which: "a", .. })
    ));
    let points = ProofPoints {
        c: G1Affine::identity(),
        ..proof()
    };
    assert_eq!(
        points.validate(),
        Err(ProofPointError {
            which: "c",
            reason: PointRejection::Identity
        })
    );
}

#[test]
fn proof_points_round_trip_and_agree_with_arkworks() {
    let p = proof();
    let bytes = p.to_bytes();
    assert_eq!(ProofPoints::from_bytes(&bytes), Ok(p));
    assert_eq!(&bytes[..32], compressed(&p.a).as_slice());
    assert_eq!(&bytes[32..96], compressed(&p.b).as_slice());
    assert_eq!(&bytes[96..], compressed(&p.c).as_slice());
    assert_eq!(p.validate(), Ok(()));
    let off = ProofPoints {
        a: G1Affine::new_unchecked(g1_x_without_point(), Fq::ONE),
        ..p
    };
    assert_eq!(
        off.validate(),
        Err(ProofPointError {
            which: "a",
            reason: PointRejection::NotOnCurve
        })
    );
}

// ---- bundle: mutations ----

#[test]
fn every_byte_flip_is_ok_or_err_never_a_panic() {
    let original = bundle_json().into_bytes();
    let reference = Bundle::parse(&original).unwrap();
    let mut accepted = 0usize;
    for i in 0..original.len() {
        for flip in [0x01u8, 0x02, 0x20, 0x80, 0xff] {
            let mut m = original.clone();
            m[i] ^= flip;
            if let Ok(parsed) = Bundle::parse(&m) {
                accepted += 1;
                // Whatever parses re-encodes canonically and parses back to itself.
                let again = parsed.encode().unwrap();
                assert_eq!(Bundle::parse(again.as_bytes()).unwrap(), parsed);
                assert_ne!(parsed, reference, "byte {i} ^ {flip:#x} changed nothing");
            }
        }
    }
    // Flips inside signatures, decimals and hex keep some documents well-formed: the codec
    // checks encodings, the verifier checks meaning.
    assert!(accepted > 0);
    let end = original.iter().rposition(|&b| b == b'}').unwrap();
    for len in 0..=end {
        assert!(
            Bundle::parse(&original[..len]).is_err(),
            "prefix of {len} bytes parsed"
        );
    }
}

// ---- opening ----

#[test]
fn opening_round_trips_and_checks() {
    let e = example();
    let opening = record().opening();
    assert_eq!(opening.receipt_key, e.witness.receipt_key);
    assert_eq!(opening.blinding, e.witness.blinding);
    let text = opening.encode();
    assert!(text.starts_with(
        "{\n  \"version\": \"letro-opening/v2\",\n  \"statement_id\": \"delivered-within/v2\",\n"
    ));
    assert!(text.ends_with("}\n"));
    let parsed = Opening::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, opening);
    assert_eq!(parsed.encode(), text);
    assert_eq!(parsed.check(&e.statement.recipient_commitment), Ok(()));
    assert_eq!(parsed.check_statement(&e.statement), Ok(()));

    // A v2 opening must carry the certificate; a v1 opening may have none.
    let none = Opening {
        receipt_key_certificate: None,
        ..opening.clone()
    };
    let text = none.encode();
    assert!(text.contains("\"receipt_key_certificate\": null\n"));
    assert_eq!(
        Opening::parse(text.as_bytes()),
        Err(OpeningParseError::MissingCertificate)
    );
    let v1 = Opening {
        version: StatementVersion::V1,
        ..none
    };
    let text = v1.encode();
    assert!(text.starts_with(
        "{\n  \"version\": \"letro-opening/v1\",\n  \"statement_id\": \"delivered-within/v1\",\n"
    ));
    assert_eq!(Opening::parse(text.as_bytes()).unwrap(), v1);
    // Version and statement id must agree.
    assert_eq!(
        opening_with(|v| v["statement_id"] = json!("delivered-within/v1")),
        Err(OpeningParseError::UnknownStatement(
            "delivered-within/v1".into()
        ))
    );
}

#[test]
fn opening_check_rejects_what_does_not_open() {
    let e = example();
    let opening = record().opening();
    let other = e.statement.recipient_commitment + Fr::ONE;
    assert_eq!(opening.check(&other), Err(OpeningError::OtherCommitment));
    let wrong_blinding = Opening {
        blinding: opening.blinding + Fr::ONE,
        ..opening.clone()
    };
    assert_eq!(
        wrong_blinding.check(&e.statement.recipient_commitment),
        Err(OpeningError::CommitmentMismatch)
    );
    let mut s = e.statement;
    s.ciphertext_hash.0[0] ^= 1;
    assert_eq!(
        opening.check_statement(&s),
        Err(OpeningError::CiphertextMismatch)
    );
}

#[test]
fn opening_fingerprint_and_certificate_message() {
    let opening = record().opening();
    let packed = babyjubjub::pack(opening.receipt_key.point());
    assert_eq!(
        opening.recipient_fingerprint(),
        hex::encode(Sha256::digest(packed))
    );
    assert_eq!(opening.recipient_fingerprint().len(), 64);
    let m = certificate_message(opening.receipt_key.point());
    assert_eq!(m.len(), 64);
    assert_eq!(&m[..32], b"letro/receipt-key-certificate/v1");
    assert_eq!(&m[32..], &packed);
    assert_eq!(opening.certificate_message(), m);
}

#[test]
fn opening_rejections() {
    assert_eq!(
        opening_with(|v| v["version"] = json!("letro-opening/v0")),
        Err(OpeningParseError::UnsupportedVersion(
            "letro-opening/v0".into()
        ))
    );
    assert_eq!(
        opening_with(|v| v["statement_id"] = json!("x")),
        Err(OpeningParseError::UnknownStatement("x".into()))
    );
    assert!(is_json(&opening_with(|v| v["extra"] = json!(null))));
    assert!(is_json(&opening_with(
        |v| v["receipt_key"]["z"] = json!("1")
    )));
    assert!(is_json(&opening_with(|v| {
        v.as_object_mut().unwrap().remove("receipt_key_certificate");
    })));
    assert!(is_json(&opening_with(
        |v| v["receipt_key_certificate"] = json!([])
    )));
    assert!(is_json(&opening_with(|v| {
        v["receipt_key_certificate"]["signed_message"] = json!("");
    })));
    assert!(is_json(&opening_with(
        |v| v["receipt_key"] = json!(["1", "2"])
    )));
    let dup = opening_json().replacen(
        "\n  \"blinding\": ",
        "\n  \"blinding\": \"1\",\n  \"blinding\": ",
        1,
    );
    assert!(is_json(&Opening::parse(dup.as_bytes())));
    assert!(is_json(&Opening::parse(
        format!("{}x", opening_json()).as_bytes()
    )));
    let mut big = opening_json().into_bytes();
    big.resize(MAX_DOCUMENT_LEN + 1, b'\n');
    assert_eq!(
        Opening::parse(&big),
        Err(OpeningParseError::TooLarge {
            len: MAX_DOCUMENT_LEN + 1
        })
    );
    assert_eq!(
        opening_with(|v| v["ciphertext_sha256"] = json!("AB".repeat(32))),
        Err(OpeningParseError::CiphertextHash)
    );
    assert_eq!(
        opening_with(|v| v["blinding"] = json!(P_DEC)),
        Err(OpeningParseError::FieldElement {
            field: "blinding",
            source: FieldError::NotCanonical
        })
    );
    assert!(matches!(
        opening_with(|v| v["receipt_key"]["y"] = json!("01")),
        Err(OpeningParseError::FieldElement {
            field: "receipt_key.y",
            ..
        })
    ));
    assert!(matches!(
        opening_with(|v| v["recipient_commitment"] = json!("007")),
        Err(OpeningParseError::FieldElement {
            field: "recipient_commitment",
            ..
        })
    ));
}

#[test]
fn opening_rejects_bad_receipt_keys() {
    assert_eq!(
        opening_with(|v| v["receipt_key"] = json!({"x": "1", "y": "1"})),
        Err(OpeningParseError::ReceiptKey(EddsaError::PublicKey(
            babyjubjub::PointError::NotOnCurve
        )))
    );
    assert_eq!(
        opening_with(|v| v["receipt_key"] = json!({"x": "0", "y": "1"})),
        Err(OpeningParseError::ReceiptKey(EddsaError::PublicKey(
            babyjubjub::PointError::SmallOrder
        )))
    );
}

#[test]
fn opening_rejects_malformed_certificates() {
    let cert = certificate();
    let with_cert = |key: Value, sig: Value| {
        opening_with(|v| {
            v["receipt_key_certificate"] = json!({"identity_key": key, "signature": sig})
        })
    };
    let key = b64(cert.identity_key());
    let sig = b64(cert.signature());
    assert_eq!(
        with_cert(b64(&cert.identity_key()[1..]), sig.clone()),
        Err(OpeningParseError::Certificate(
            CertificateError::IdentityKeyLength { len: 32 }
        ))
    );
    let mut other_type = *cert.identity_key();
    other_type[0] = 0x06;
    assert_eq!(
        with_cert(b64(&other_type), sig.clone()),
        Err(OpeningParseError::Certificate(
            CertificateError::IdentityKeyType(0x06)
        ))
    );
    assert_eq!(
        with_cert(key.clone(), b64(&cert.signature()[..63])),
        Err(OpeningParseError::Certificate(
            CertificateError::SignatureLength { len: 63 }
        ))
    );
    assert!(matches!(
        with_cert(json!("!!!!"), sig.clone()),
        Err(OpeningParseError::Certificate(
            CertificateError::IdentityKeyBase64(_)
        ))
    ));
    let unpadded = sig.as_str().unwrap().trim_end_matches('=').to_owned();
    assert!(matches!(
        with_cert(key, json!(unpadded)),
        Err(OpeningParseError::Certificate(
            CertificateError::SignatureBase64(_)
        ))
    ));
    assert_eq!(
        ReceiptKeyCertificate::new([0u8; 33], [0u8; 64]),
        Err(CertificateError::IdentityKeyType(0))
    );
}

// ---- delivery record ----

#[test]
fn record_round_trips_and_makes_the_statement() {
    let e = example();
    let r = record();
    let text = r.encode().unwrap();
    assert!(text.starts_with("{\n  \"version\": \"letro-record/v2\",\n"));
    assert!(text.contains("\n  \"delivered_at\": \"2025-11-27T00:00:00Z\",\n"));
    assert!(text.contains("\n  \"leaf_index\": 5,\n"));
    let parsed = DeliveryRecord::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, r);
    assert_eq!(parsed.encode().unwrap(), text);

    let s = parsed
        .statement(e.statement.not_before, e.statement.not_after)
        .unwrap();
    assert_eq!(s, e.statement);
    assert_eq!(check_relation(&s, &parsed.witness), Ok(()));
    assert_eq!(parsed.opening().check_statement(&s), Ok(()));

    // A v2 record always carries the certificate and the per-event secret.
    assert!(text.contains("\n  \"event_secret\": \"1122334455\",\n"));
    assert!(is_json(&record_with(
        |v| v["receipt_key_certificate"] = Value::Null
    )));
    assert!(is_json(&record_with(|v| {
        v.as_object_mut().unwrap().remove("event_secret");
    })));
    assert!(matches!(
        record_with(|v| v["event_secret"] = json!(P_DEC)),
        Err(RecordError::FieldElement {
            field: "event_secret",
            ..
        })
    ));
    // v1 records cannot be proved by the v2 circuit: refused by version.
    assert_eq!(
        record_with(|v| v["version"] = json!("letro-record/v1")).unwrap_err(),
        RecordError::UnsupportedVersion("letro-record/v1".into())
    );
}

#[test]
fn record_statement_rejects_non_canonical_root() {
    let r = DeliveryRecord {
        checkpoint: SignedCheckpoint::parse(&checkpoint_text_with_root([0xff; 32])).unwrap(),
        ..record()
    };
    // Still a well-formed record.
    assert_eq!(
        DeliveryRecord::parse(r.encode().unwrap().as_bytes()).unwrap(),
        r
    );
    assert_eq!(
        r.statement(0, 1),
        Err(RecordStatementError::LogRoot(FieldError::NotCanonical))
    );
}

#[test]
fn record_rejects_s_not_below_subgroup_order() {
    let l = BigUint::from_bytes_be(&Fs::MODULUS.to_bytes_be());
    for s in [
        l.to_str_radix(10),
        (l.clone() + 1u32).to_str_radix(10),
        P_DEC.to_owned(),
        "9".repeat(80),
    ] {
        assert_eq!(
            record_with(|v| v["receipt_signature"]["s"] = json!(s)),
            Err(RecordError::ReceiptSignature(EddsaError::SNotReduced)),
            "{s}"
        );
    }
    let l_minus_1 = (l - 1u32).to_str_radix(10);
    assert!(record_with(|v| v["receipt_signature"]["s"] = json!(l_minus_1)).is_ok());
    assert!(matches!(
        record_with(|v| v["receipt_signature"]["s"] = json!("012")),
        Err(RecordError::FieldElement {
            field: "receipt_signature.s",
            ..
        })
    ));
    assert!(is_json(&record_with(
        |v| v["receipt_signature"]["s"] = json!(12)
    )));
}

#[test]
fn record_rejects_points_off_curve() {
    assert_eq!(
        record_with(|v| v["receipt_signature"]["r8"] = json!({"x": "1", "y": "2"})),
        Err(RecordError::ReceiptSignature(EddsaError::R8NotOnCurve))
    );
    assert_eq!(
        record_with(|v| v["receipt_key"] = json!({"x": "1", "y": "2"})),
        Err(RecordError::ReceiptKey(EddsaError::PublicKey(
            babyjubjub::PointError::NotOnCurve
        )))
    );
    assert!(matches!(
        record_with(|v| v["receipt_signature"]["r8"]["x"] = json!(P_DEC)),
        Err(RecordError::FieldElement {
            field: "receipt_signature.r8.x",
            ..
        })
    ));
    let mut r = record();
    r.witness.signature.r8 = Point::new_unchecked(Fr::ONE, Fr::ONE);
    assert_eq!(
        r.encode(),
        Err(EncodeError::ReceiptSignature(EddsaError::R8NotOnCurve))
    );
}

#[test]
fn record_rejects_wrong_sibling_counts() {
    assert_eq!(
        record_with(|v| {
            v["siblings"].as_array_mut().unwrap().pop();
        }),
        Err(RecordError::SiblingLevels { found: 15 })
    );
    assert_eq!(
        record_with(|v| v["siblings"]
            .as_array_mut()
            .unwrap()
            .push(json!(["0", "0", "0"]))),
        Err(RecordError::SiblingLevels { found: 17 })
    );
    assert_eq!(
        record_with(|v| {
            v["siblings"][4].as_array_mut().unwrap().pop();
        }),
        Err(RecordError::SiblingWidth { level: 4, found: 2 })
    );
    assert_eq!(
        record_with(|v| v["siblings"][15][2] = json!("01")),
        Err(RecordError::Sibling {
            level: 15,
            position: 2,
            source: FieldError::BadDecimal("leading zeros are not allowed")
        })
    );
    assert!(is_json(&record_with(|v| v["siblings"][0][0] = json!(0))));
}

#[test]
fn record_leaf_index_range() {
    assert_eq!(
        record_with(|v| v["leaf_index"] = json!(1u64 << 32)),
        Err(RecordError::LeafIndex(1 << 32))
    );
    let max = record_with(|v| v["leaf_index"] = json!(u32::MAX)).unwrap();
    assert_eq!(max.witness.path.index, u32::MAX);
    for bad in [
        "-1",
        "-0",
        "1.0",
        "1e2",
        "\"5\"",
        "18446744073709551616",
        "null",
    ] {
        let text =
            record_json().replacen("\"leaf_index\": 5", &format!("\"leaf_index\": {bad}"), 1);
        assert!(is_json(&DeliveryRecord::parse(text.as_bytes())), "{bad}");
    }
}

#[test]
fn record_rejections() {
    assert_eq!(
        record_with(|v| v["version"] = json!("letro-record/v3")),
        Err(RecordError::UnsupportedVersion("letro-record/v3".into()))
    );
    assert_eq!(
        record_with(|v| v["delivered_at"] = json!("2025-11-27T00:00:00+01:00")),
        Err(RecordError::Time {
            field: "delivered_at",
            reason: TimeError::Format
        })
    );
    assert_eq!(
        record_with(|v| v["ciphertext_sha256"] = json!("")),
        Err(RecordError::CiphertextHash)
    );
    assert!(matches!(
        record_with(|v| v["checkpoint"] = json!("")),
        Err(RecordError::Checkpoint(_))
    ));
    assert!(matches!(
        record_with(|v| v["receipt_key_certificate"]["identity_key"] = json!("")),
        Err(RecordError::Certificate(
            CertificateError::IdentityKeyLength { len: 0 }
        ))
    ));
    assert!(is_json(&record_with(
        |v| v["receipt_signature"]["extra"] = json!(1)
    )));
    assert!(is_json(&record_with(
        |v| v["receipt_signature"]["r8"] = json!(["1", "2"])
    )));
    let dup = record_json().replacen(
        "\n  \"leaf_index\": 5,",
        "\n  \"leaf_index\": 5,\n  \"leaf_index\": 5,",
        1,
    );
    assert!(is_json(&DeliveryRecord::parse(dup.as_bytes())));
    assert!(is_json(&DeliveryRecord::parse(
        format!("{}[]", record_json()).as_bytes()
    )));
    let mut big = record_json().into_bytes();
    big.resize(MAX_DOCUMENT_LEN + 1, b' ');
    assert_eq!(
        DeliveryRecord::parse(&big),
        Err(RecordError::TooLarge {
            len: MAX_DOCUMENT_LEN + 1
        })
    );
    let mut r = record();
    r.witness.delivered_at = MAX_TIME + 1;
    assert_eq!(
        r.encode(),
        Err(EncodeError::Time {
            field: "delivered_at",
            value: MAX_TIME + 1
        })
    );
}

#[test]
fn record_byte_flips_never_panic() {
    let original = record_json().into_bytes();
    for i in 0..original.len() {
        let mut m = original.clone();
        m[i] ^= 0x01;
        if let Ok(r) = DeliveryRecord::parse(&m) {
            assert_eq!(
                DeliveryRecord::parse(r.encode().unwrap().as_bytes()).unwrap(),
                r
            );
        }
        let _ = Opening::parse(&m);
    }
    let original = opening_json().into_bytes();
    for i in 0..original.len() {
        let mut m = original.clone();
        m[i] ^= 0x01;
        if let Ok(o) = Opening::parse(&m) {
            assert_eq!(Opening::parse(o.encode().as_bytes()).unwrap(), o);
        }
    }
}

#[test]
fn timestamps_round_trip_and_malformed_ones_are_refused_in_bundles_and_records() {
    // Absent: the member is not written (documents from before time-stamps are unchanged).
    assert!(!bundle_json().contains("timestamps"));
    assert!(!record().encode().unwrap().contains("timestamps"));
    let tokens = vec![vec![0x30, 0x03, 0x02, 0x01, 0x01], vec![7; 300]];
    let mut b = ParsedBundle::parse(bundle_json().as_bytes()).unwrap();
    b.timestamps = tokens.clone();
    let text = b.encode().unwrap();
    assert_eq!(ParsedBundle::parse(text.as_bytes()).unwrap(), b);
    let r = DeliveryRecord {
        timestamps: tokens,
        ..record()
    };
    assert_eq!(
        DeliveryRecord::parse(r.encode().unwrap().as_bytes()).unwrap(),
        r
    );
    let with = |list: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&bundle_json()).unwrap();
        v["timestamps"] = serde_json::from_str(list).unwrap();
        v.to_string()
    };
    for (list, why) in [
        (r#"["not base64!"]"#, "token 0 is not standard base64"),
        (r#"[""]"#, "token 0 has 0 bytes"),
        (
            r#"["AA==","AA==","AA==","AA==","AA==","AA==","AA==","AA==","AA=="]"#,
            "9 tokens",
        ),
    ] {
        let e = ParsedBundle::parse(with(list).as_bytes()).unwrap_err();
        assert!(
            matches!(&e, BundleError::Timestamps(m) if m.contains(why)),
            "{list}: {e}"
        );
    }
    assert!(matches!(
        ParsedBundle::parse(with("[1]").as_bytes()),
        Err(BundleError::Json(_))
    ));
}

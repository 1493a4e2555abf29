//! The verifier's test vectors.
//!
//! - `testdata/bundles/v2/valid/` and `v2/invalid/` (`delivered-within/v2`): made (with
//!   `LETRO_REGENERATE=1`) or checked (otherwise), and run through the library.
//! - `testdata/bundles/v1/valid/` and `v1/invalid/` (`delivered-within/v1`): frozen. They were
//!   made by this generator when v1 was proved, and can no longer be regenerated (the v1
//!   proving key is not shipped); they are checked so that v1 evidence stays verifiable.
//!
//! Every bundle is proved from `testdata/records/valid.record.json` with the first v2 keys,
//! INSECURE-DEV (`keys/v2-dev/`, still built into the verifier), and a ChaCha20 rng seeded from the vector's name, so regeneration is
//! deterministic and the stored files must equal what this file makes, byte for byte. The
//! expected outcome of each invalid vector is written here by hand (never taken from the
//! verifier under test) into `invalid/index.json`: the exact `VerifyError` (its `Debug` form),
//! its exit code and the step of SPEC.md §8 that fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::CanonicalSerialize;
use letro_core::bundle::{
    parse_time, BundleError, DeliveryRecord, Opening, ParsedBundle, PointRejection, TimeError,
    MAX_DOCUMENT_LEN,
};
use letro_core::field::{fr_to_be_bytes, fr_to_decimal, FieldError};
use letro_core::statement::{CiphertextHash, DeliveredWithin, StatementVersion, TimeBoundsError};
use letro_core::Fr;
use letro_log::checkpoint::{
    receipt_skew_extension, Checkpoint, CheckpointParseError, CheckpointVerifyError,
    ReceiptSkewError, SignedCheckpoint,
};
use letro_log::note::{self, NoteParseError, NoteVerifyError, SignerKey, VerifierKey};
use letro_verifier::checks::{check_ciphertext, check_opening};
use letro_verifier::{KeySource, Verifier, VerifyError};
use rand::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ---- fixtures -----------------------------------------------------------------------------

const ORIGIN: &str = "letro.invalid/INSECURE-DEV-test-log";
/// The BN254 scalar modulus p, in decimal.
const P_DEC: &str = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
/// SHA-256 of keys/v2-dev/delivered-within-v2.INSECURE-DEV.vk (keys/v2-dev/manifest.json).
const VK_SHA256: &str = "3ee5ed1bb05ec0ecb8a2f8b254dd4059ab9ffd4ace245930b2761c90adf57fca";
/// SHA-256 of keys/v1/delivered-within-v1.INSECURE-DEV.vk (keys/v1/manifest.json).
const VK_SHA256_V1: &str = "500cd8eb4bc2e09aff930bcc152c93276db59a7697865163964414a48fa20f10";
/// The receipt skew the test log publishes (as testdata/records' checkpoint does).
const SKEW: u64 = 300;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bundles_dir() -> PathBuf {
    repo().join("testdata/bundles/v2")
}

fn bundles_dir_v1() -> PathBuf {
    repo().join("testdata/bundles/v1")
}

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(format!("letro testdata {label} (INSECURE-DEV)")).into()
}

fn log_signer() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &seed("log key")).unwrap()
}

fn t(s: &str) -> u64 {
    parse_time(s).unwrap()
}

fn record() -> &'static DeliveryRecord {
    static R: OnceLock<DeliveryRecord> = OnceLock::new();
    R.get_or_init(|| {
        let bytes = std::fs::read(repo().join("testdata/records/valid.record.json")).unwrap();
        DeliveryRecord::parse(&bytes).unwrap()
    })
}

fn prover() -> &'static letro_prover::Prover {
    static P: OnceLock<letro_prover::Prover> = OnceLock::new();
    P.get_or_init(|| {
        // The first v2 keys (`keys/v2-dev/`, insecure-dev), kept with their proving key so that
        // these vectors stay reproducible; the built-in keys are the demo ceremony's.
        let dir = letro_prover::keys::repo_keys_dir().join("v2-dev");
        let (_, pk) = letro_prover::keys::load_proving_key(&dir).unwrap();
        letro_prover::Prover::new(pk).unwrap()
    })
}

/// The valid bundles: name and window. Each window contains the delivery time
/// 2026-11-20T10:00:00Z.
const WINDOWS: [(&str, &str, &str); 4] = [
    ("valid-hour", "2026-11-20T10:00:00Z", "2026-11-20T10:59:59Z"),
    ("valid-day", "2026-11-20T00:00:00Z", "2026-11-20T23:59:59Z"),
    // The narrowest window: the delivery second itself (both ends inclusive).
    (
        "valid-exact-second",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00Z",
    ),
    // The widest window the format can write.
    (
        "valid-widest",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ),
];

fn prove(name: &str, not_before: u64, not_after: u64) -> String {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed(&format!("bundle {name}")));
    let (bundle, _) = prover()
        .prove_record(record(), not_before, not_after, &mut rng)
        .unwrap();
    bundle
}

/// The valid directory: file name -> bytes.
fn valid_files() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (name, nb, na) in WINDOWS {
        out.insert(
            format!("{name}.bundle.json"),
            prove(name, t(nb), t(na)).into_bytes(),
        );
    }
    out.insert(
        "valid.opening.json".into(),
        record().opening().encode().into_bytes(),
    );
    out.insert(
        "valid.ciphertext.bin".into(),
        std::fs::read(repo().join("testdata/records/valid.ciphertext.bin")).unwrap(),
    );
    let vkey = std::fs::read(repo().join("testdata/checkpoints/log.vkey")).unwrap();
    // The copy is the key of the signer above, not just any file.
    assert_eq!(
        String::from_utf8(vkey.clone()).unwrap().trim(),
        log_signer().verifier_key().to_string()
    );
    out.insert("log.vkey".into(), vkey);
    out
}

// ---- a minimal standard base64 (the verifier crate does not depend on one) ----------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

#[test]
fn base64_helpers_round_trip() {
    assert_eq!(b64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(b64_encode(b"fooba"), "Zm9vYmE=");
    assert_eq!(b64_encode(b"foob"), "Zm9vYg==");
    for len in 0..10u8 {
        let v: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97)).collect();
        assert_eq!(b64_decode(&b64_encode(&v)), v);
    }
}

// ---- building the invalid vectors ---------------------------------------------------------

/// Replaces the only occurrence of `old` in `text`.
fn replace_once(text: &str, old: &str, new: &str) -> String {
    assert_eq!(text.matches(old).count(), 1, "{old:?} must occur once");
    text.replacen(old, new, 1)
}

/// Decimal a + b.
fn dec_add(a: &str, b: &str) -> String {
    let (a, b): (Vec<u8>, Vec<u8>) = (
        a.bytes().rev().map(|c| c - b'0').collect(),
        b.bytes().rev().map(|c| c - b'0').collect(),
    );
    let mut out = Vec::new();
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let s = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(b'0' + s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(b'0' + carry);
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// What a vector is expected to do: the error (written by hand), its exit code (by hand too,
/// and checked against `VerifyError::exit_code`) and one line saying what is wrong.
struct Invalid {
    name: String,
    bytes: Vec<u8>,
    error: VerifyError,
    exit_code: u8,
    what: &'static str,
}

fn proof_b64(bundle: &str) -> String {
    let v: Value = serde_json::from_str(bundle).unwrap();
    v["proof"].as_str().unwrap().to_owned()
}

fn checkpoint_json(cp: &str) -> String {
    serde_json::to_string(cp).unwrap()
}

fn sign_checkpoint(root: [u8; 32], size: u64, time: u64, key: &SignerKey) -> String {
    sign_checkpoint_with(root, size, time, key, vec![receipt_skew_extension(SKEW)])
}

fn sign_checkpoint_with(
    root: [u8; 32],
    size: u64,
    time: u64,
    key: &SignerKey,
    extensions: Vec<String>,
) -> String {
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
        time,
        extensions,
    };
    SignedCheckpoint::sign(&cp, key).unwrap()
}

/// A compressed G1 encoding (x, positive-y flag) of an x with no point on the curve.
fn g1_x_not_on_curve() -> Vec<u8> {
    let x = (1u64..)
        .map(Fq::from)
        .find(|x| G1Affine::get_point_from_x_unchecked(*x, false).is_none())
        .unwrap();
    let mut out = Vec::new();
    x.serialize_compressed(&mut out).unwrap();
    assert_eq!(out.len(), 32);
    assert_eq!(out[31] & 0xc0, 0, "no flag bits: y positive");
    out
}

/// A compressed G2 point on the curve but outside the prime-order subgroup.
fn g2_not_in_subgroup() -> Vec<u8> {
    let p = (1u64..)
        .filter_map(|i| {
            G2Affine::get_point_from_x_unchecked(Fq2::new(Fq::from(i), Fq::from(1u64)), false)
        })
        .find(|p| p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve())
        .unwrap();
    let mut out = Vec::new();
    p.serialize_compressed(&mut out).unwrap();
    assert_eq!(out.len(), 64);
    out
}

fn invalid_vectors(valid: &BTreeMap<String, Vec<u8>>) -> Vec<Invalid> {
    let text = |n: &str| String::from_utf8(valid[&format!("{n}.bundle.json")].clone()).unwrap();
    let day = text("valid-day");
    let hour = text("valid-hour");
    let parsed = ParsedBundle::parse(day.as_bytes()).unwrap();
    let st = parsed.statement;
    let cp_text = parsed.checkpoint_text();
    let vk: [u8; 32] = parsed.verifying_key_sha256;
    let encode = |s: &DeliveredWithin, cp: &str, proof: &letro_core::bundle::ProofPoints| {
        letro_core::bundle::Bundle::encode(s, cp, proof, &vk, &[]).unwrap()
    };
    let delivered = record().witness.delivered_at;
    let root_dec = fr_to_decimal(&st.log_root);
    let commitment_dec = fr_to_decimal(&st.recipient_commitment);
    let other_root = st.log_root + Fr::from(1u64);
    let log_key_id = log_signer().key_id();
    let proof = proof_b64(&day);
    let proof_bytes = b64_decode(&proof);
    assert_eq!(proof_bytes.len(), 128);
    let with_proof = |bytes: &[u8]| replace_once(&day, &proof, &b64_encode(bytes));
    let malformed = VerifyError::Malformed;

    let mut v = Vec::new();
    let mut add = |name: &str, bytes: String, error: VerifyError, exit_code: u8, what| {
        v.push(Invalid {
            name: format!("invalid-{name}.bundle.json"),
            bytes: bytes.into_bytes(),
            error,
            exit_code,
            what,
        });
    };

    // -- step 6: the proof does not verify (exit 1) --
    add(
        "proof-invalid-other-window",
        replace_once(&day, &proof, &proof_b64(&hour)),
        VerifyError::ProofInvalid,
        1,
        "the statement of valid-day with the (valid) proof of valid-hour: a proof of another statement",
    );
    {
        let mut s = st;
        s.ciphertext_hash.0[31] ^= 0x01;
        add(
            "proof-invalid-ciphertext-sha256",
            encode(&s, &cp_text, &parsed.proof),
            VerifyError::ProofInvalid,
            1,
            "statement.ciphertext_sha256 changed (last bit flipped)",
        );
    }
    {
        let mut s = st;
        s.not_before = t("2026-11-19T00:00:00Z");
        add(
            "proof-invalid-not-before",
            encode(&s, &cp_text, &parsed.proof),
            VerifyError::ProofInvalid,
            1,
            "statement.not_before moved a day earlier (the window still holds the delivery; the proof is not for it)",
        );
    }
    {
        let mut s = st;
        s.not_after = t("2026-11-21T23:59:59Z");
        add(
            "proof-invalid-not-after",
            encode(&s, &cp_text, &parsed.proof),
            VerifyError::ProofInvalid,
            1,
            "statement.not_after moved a day later",
        );
    }
    {
        let mut s = st;
        s.recipient_commitment += Fr::from(1u64);
        add(
            "proof-invalid-recipient-commitment",
            encode(&s, &cp_text, &parsed.proof),
            VerifyError::ProofInvalid,
            1,
            "statement.recipient_commitment plus one",
        );
    }
    {
        let mut s = st;
        s.log_root = other_root;
        let cp = sign_checkpoint(
            fr_to_be_bytes(&other_root),
            10,
            delivered + 120,
            &log_signer(),
        );
        add(
            "proof-invalid-log-root-and-checkpoint",
            encode(&s, &cp, &parsed.proof),
            VerifyError::ProofInvalid,
            1,
            "statement.log_root and the checkpoint both changed to another root, the checkpoint validly signed by the log: steps 3 and 4 pass, the proof does not",
        );
    }
    {
        let mut p = parsed.proof;
        std::mem::swap(&mut p.a, &mut p.c);
        add(
            "proof-invalid-swapped-a-c",
            encode(&st, &cp_text, &p),
            VerifyError::ProofInvalid,
            1,
            "proof points A and C swapped (both valid G1 points)",
        );
    }

    // -- step 4: the root (exit 1) --
    {
        let mut s = st;
        s.log_root = other_root;
        add(
            "root-mismatch-log-root",
            encode(&s, &cp_text, &parsed.proof),
            VerifyError::RootMismatch,
            1,
            "statement.log_root plus one; the checkpoint unchanged",
        );
    }
    add(
        "root-mismatch-checkpoint",
        encode(
            &st,
            &sign_checkpoint(fr_to_be_bytes(&other_root), 10, delivered + 120, &log_signer()),
            &parsed.proof,
        ),
        VerifyError::RootMismatch,
        1,
        "a checkpoint of the same log, validly signed, with another root (size 10); the statement unchanged",
    );

    // -- step 3: the checkpoint's signature (exit 1) --
    {
        let (body, sig_line) = cp_text.split_once("\n\n").unwrap();
        let (prefix, blob_b64) = sig_line.trim_end().rsplit_once(' ').unwrap();
        let mut blob = b64_decode(blob_b64);
        assert_eq!(blob.len(), 4 + 64);
        blob[4 + 5] ^= 0x01;
        let forged = format!("{body}\n\n{prefix} {}\n", b64_encode(&blob));
        assert!(SignedCheckpoint::parse(&forged).is_ok());
        add(
            "untrusted-checkpoint-signature-altered",
            replace_once(&day, &checkpoint_json(&cp_text), &checkpoint_json(&forged)),
            VerifyError::Checkpoint(CheckpointVerifyError::Note(
                NoteVerifyError::InvalidSignature {
                    name: ORIGIN.into(),
                    key_id: log_key_id,
                },
            )),
            1,
            "one bit of the checkpoint's Ed25519 signature flipped",
        );
        let altered = replace_once(&cp_text, "\n9\n", "\n10\n");
        add(
            "untrusted-checkpoint-body-altered",
            replace_once(&day, &checkpoint_json(&cp_text), &checkpoint_json(&altered)),
            VerifyError::Checkpoint(CheckpointVerifyError::Note(
                NoteVerifyError::InvalidSignature {
                    name: ORIGIN.into(),
                    key_id: log_key_id,
                },
            )),
            1,
            "the checkpoint's size changed from 9 to 10 under the original signature",
        );
        let unsigned = format!("{body}\n\n");
        add(
            "checkpoint-unsigned",
            replace_once(
                &day,
                &checkpoint_json(&cp_text),
                &checkpoint_json(&unsigned),
            ),
            malformed(BundleError::Checkpoint(CheckpointParseError::Note(
                NoteParseError::NoSignatures,
            ))),
            3,
            "the checkpoint has no signature line: not a signed note, so malformed (exit 3)",
        );
    }
    {
        let other = SignerKey::from_seed(ORIGIN, &seed("other log key")).unwrap();
        assert_ne!(other.key_id(), log_key_id);
        add(
            "untrusted-checkpoint-unknown-key-only",
            encode(
                &st,
                &sign_checkpoint(fr_to_be_bytes(&st.log_root), 9, delivered + 60, &other),
                &parsed.proof,
            ),
            VerifyError::Checkpoint(CheckpointVerifyError::Note(
                NoteVerifyError::NoTrustedSignature,
            )),
            1,
            "the same checkpoint signed only by an unknown key with the log's name",
        );
    }
    {
        let other_origin = "letro.invalid/another-log";
        let body = Checkpoint {
            origin: other_origin.into(),
            size: 9,
            root: fr_to_be_bytes(&st.log_root),
            time: delivered + 60,
            extensions: vec![],
        }
        .to_body()
        .unwrap();
        let cp = note::sign(&body, &[&log_signer()]).unwrap();
        add(
            "untrusted-checkpoint-origin-not-signed",
            encode(&st, &cp, &parsed.proof),
            VerifyError::Checkpoint(CheckpointVerifyError::OriginNotSigned {
                origin: other_origin.into(),
            }),
            1,
            "a checkpoint of another origin, signed by the trusted test log key (whose name is not that origin)",
        );
    }

    // -- step 4: the window and the checkpoint's time bounds (exit 1) --
    {
        let cp = parsed.checkpoint.unverified_checkpoint();
        let (root, size) = (cp.root, cp.size);
        // The proof binds only R, so the same proof stands with a re-signed checkpoint of the
        // same tree: what changes is what the log says about time.
        let early = st.not_before - SKEW - 1;
        add(
            "window-impossible",
            encode(
                &st,
                &sign_checkpoint(root, size, early, &log_signer()),
                &parsed.proof,
            ),
            VerifyError::TimeBounds(TimeBoundsError::ImpossibleWindow {
                not_before: st.not_before,
                latest_by_log: st.not_before - 1,
            }),
            1,
            "the same tree, checkpoint time not_before - skew - 1: no honest log could have accepted a receipt in the window before it",
        );
        add(
            "window-no-receipt-skew",
            encode(
                &st,
                &sign_checkpoint_with(root, size, cp.time, &log_signer(), vec![]),
                &parsed.proof,
            ),
            VerifyError::TimeBounds(TimeBoundsError::ReceiptSkew(ReceiptSkewError::Missing)),
            1,
            "the same tree and time, but the checkpoint does not publish the receipt skew",
        );
    }

    // -- step 2: the verifying key (exit 3) --
    add(
        "key-for-other-statement",
        replace_once(&day, &hex::encode(vk), VK_SHA256_V1),
        VerifyError::KeyForOtherStatement {
            sha256: VK_SHA256_V1.into(),
            key_statement: "delivered-within/v1".into(),
            bundle_statement: "delivered-within/v2",
        },
        3,
        "a v2 bundle that names the pinned v1 verifying key",
    );
    {
        let other_vk: [u8; 32] = Sha256::digest(b"another verifying key").into();
        add(
            "unknown-verifying-key",
            replace_once(&day, &hex::encode(vk), &hex::encode(other_vk)),
            VerifyError::UnknownVerifyingKey(hex::encode(other_vk)),
            3,
            "verifying_key_sha256 names a key that is not pinned",
        );
    }

    // -- step 1: malformed (exit 3) --
    add(
        "field-element-not-below-modulus",
        replace_once(&day, &root_dec, &dec_add(&root_dec, P_DEC)),
        malformed(BundleError::FieldElement {
            field: "statement.log_root",
            source: FieldError::NotCanonical,
        }),
        3,
        "statement.log_root + p: the same field element mod p, not canonical",
    );
    add(
        "field-element-leading-zero",
        replace_once(&day, &commitment_dec, &format!("0{commitment_dec}")),
        malformed(BundleError::FieldElement {
            field: "statement.recipient_commitment",
            source: FieldError::BadDecimal("leading zeros are not allowed"),
        }),
        3,
        "statement.recipient_commitment with a leading zero",
    );
    {
        let mut b = proof_bytes.clone();
        b[..32].copy_from_slice(&g1_x_not_on_curve());
        add(
            "proof-point-a-not-on-curve",
            with_proof(&b),
            malformed(BundleError::ProofPoint {
                which: "a",
                reason: PointRejection::NotOnCurve,
            }),
            3,
            "proof point A has an x with no point on the curve",
        );
    }
    {
        let mut b = proof_bytes.clone();
        let mut p = Fq::MODULUS.to_bytes_le();
        assert_eq!(p.len(), 32);
        assert_eq!(p[31] & 0xc0, 0);
        p[31] |= proof_bytes[127] & 0x80; // keep C's y flag
        b[96..].copy_from_slice(&p);
        add(
            "proof-point-c-not-on-curve-x-not-below-modulus",
            with_proof(&b),
            malformed(BundleError::ProofPoint {
                which: "c",
                reason: PointRejection::NotOnCurve,
            }),
            3,
            "proof point C has x = q (the base field modulus): not a canonical coordinate",
        );
    }
    {
        let mut b = proof_bytes.clone();
        b[32..96].copy_from_slice(&g2_not_in_subgroup());
        add(
            "proof-point-b-not-in-subgroup",
            with_proof(&b),
            malformed(BundleError::ProofPoint {
                which: "b",
                reason: PointRejection::NotInSubgroup,
            }),
            3,
            "proof point B is on the G2 curve but outside the prime-order subgroup",
        );
    }
    {
        let mut b = proof_bytes.clone();
        let mut zero = Vec::new();
        G1Affine::zero().serialize_compressed(&mut zero).unwrap();
        b[96..].copy_from_slice(&zero);
        add(
            "proof-point-c-identity",
            with_proof(&b),
            malformed(BundleError::ProofPoint {
                which: "c",
                reason: PointRejection::Identity,
            }),
            3,
            "proof point C is the point at infinity",
        );
    }
    add(
        "proof-encoding-not-128-bytes",
        with_proof(&proof_bytes[..96]),
        malformed(BundleError::ProofEncoding { len: Some(96) }),
        3,
        "the proof is A || B only (96 bytes)",
    );
    add(
        "verifying-key-hash-upper-case",
        replace_once(&day, &hex::encode(vk), &hex::encode(vk).to_uppercase()),
        malformed(BundleError::VerifyingKeyHash),
        3,
        "verifying_key_sha256 in upper case",
    );
    add(
        "json-syntax-truncated",
        day[..day.len() / 2].to_owned(),
        malformed(BundleError::Json(TRUNCATED_MSG.into())),
        3,
        "the first half of valid-day",
    );
    add(
        "json-trailing-data",
        format!("{day}{{}}\n"),
        malformed(BundleError::Json(TRAILING_MSG.into())),
        3,
        "valid-day followed by `{}`",
    );
    add(
        "unsupported-version",
        replace_once(&day, "\"letro-bundle/v2\"", "\"letro-bundle/v3\""),
        malformed(BundleError::UnsupportedVersion("letro-bundle/v3".into())),
        3,
        "version letro-bundle/v3",
    );
    add(
        "unknown-statement",
        replace_once(&day, "\"delivered-within/v2\"", "\"delivered-within/v1\""),
        malformed(BundleError::UnknownStatement("delivered-within/v1".into())),
        3,
        "statement.id delivered-within/v1 in a letro-bundle/v2",
    );
    add(
        "time-offset",
        replace_once(&day, "2026-11-20T23:59:59Z", "2026-11-20T23:59:59+00:00"),
        malformed(BundleError::Time {
            field: "statement.not_after",
            reason: TimeError::Format,
        }),
        3,
        "statement.not_after with an offset instead of Z",
    );
    v
}

/// serde_json's messages for the two JSON vectors (exact, so that a changed rule shows).
const TRUNCATED_MSG: &str = "EOF while parsing a string at line 11 column 44";
const TRAILING_MSG: &str = "trailing characters at line 15 column 1";

/// The convention of testdata/bundles/README.md: the slug's first words name the error.
fn slug_variant(name: &str) -> &'static str {
    let slug = name
        .strip_prefix("invalid-")
        .and_then(|s| s.strip_suffix(".bundle.json"))
        .unwrap();
    const TABLE: [(&str, &str); 18] = [
        ("window-", "TimeBounds"),
        ("key-for-other-statement", "KeyForOtherStatement"),
        ("proof-invalid-", "ProofInvalid"),
        ("root-mismatch-", "RootMismatch"),
        ("untrusted-checkpoint-", "Checkpoint"),
        ("unknown-verifying-key", "UnknownVerifyingKey"),
        ("too-large", "Malformed(TooLarge"),
        ("json-", "Malformed(Json"),
        ("unsupported-version", "Malformed(UnsupportedVersion"),
        ("unknown-statement", "Malformed(UnknownStatement"),
        ("ciphertext-hash-", "Malformed(CiphertextHash"),
        ("time-", "Malformed(Time"),
        ("field-element-", "Malformed(FieldElement"),
        ("checkpoint-", "Malformed(Checkpoint"),
        ("proof-encoding-", "Malformed(ProofEncoding"),
        ("proof-point-", "Malformed(ProofPoint"),
        ("verifying-key-hash", "Malformed(VerifyingKeyHash"),
        ("no-trusted-log-key", "NoTrustedLogKey"),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| slug.starts_with(prefix))
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("{name}: no slug rule"))
}

fn index_json(invalid: &[Invalid]) -> String {
    let mut map = serde_json::Map::new();
    for v in invalid {
        map.insert(
            v.name.clone(),
            json!({
                "error": format!("{:?}", v.error),
                "exit_code": v.exit_code,
                "step": v.error.step(),
                "what": v.what,
            }),
        );
    }
    let mut s = serde_json::to_string_pretty(&Value::Object(map)).unwrap();
    s.push('\n');
    s
}

fn generate() -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
    let valid = valid_files();
    let invalid = invalid_vectors(&valid);
    let mut inv = BTreeMap::new();
    for v in &invalid {
        // The hand-written exit code agrees with the library's mapping, and the name follows
        // the slug convention.
        assert_eq!(v.error.exit_code(), v.exit_code, "{}", v.name);
        let d = format!("{:?}", v.error);
        assert!(d.starts_with(slug_variant(&v.name)), "{}: {d}", v.name);
        assert!(
            inv.insert(v.name.clone(), v.bytes.clone()).is_none(),
            "duplicate {}",
            v.name
        );
    }
    inv.insert("index.json".into(), index_json(&invalid).into_bytes());
    (valid, inv)
}

fn list(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn log_key() -> VerifierKey {
    let s = std::fs::read_to_string(bundles_dir().join("valid/log.vkey")).unwrap();
    VerifierKey::parse(s.trim()).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(vec![log_key()]).unwrap()
}

// ---- the generator / checker ---------------------------------------------------------------

#[test]
fn vectors_are_current() {
    let (valid, invalid) = generate();
    let d = bundles_dir();
    if std::env::var("LETRO_REGENERATE").as_deref() == Ok("1") {
        for (sub, files) in [("valid", &valid), ("invalid", &invalid)] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
            for (name, bytes) in files.iter() {
                // Only the files that change, each replaced whole (a rename): the other tests
                // of this binary read them meanwhile.
                let path = d.join(sub).join(name);
                if std::fs::read(&path).ok().as_ref() != Some(bytes) {
                    let tmp = d.join(format!(".{sub}-{name}.tmp"));
                    std::fs::write(&tmp, bytes).unwrap();
                    std::fs::rename(&tmp, &path).unwrap();
                }
            }
        }
    }
    for (sub, files) in [("valid", &valid), ("invalid", &invalid)] {
        let stored = list(&d.join(sub));
        let made: BTreeSet<String> = files.keys().cloned().collect();
        assert_eq!(
            stored, made,
            "testdata/bundles/{sub}/ holds other files than the generator makes"
        );
        for (name, bytes) in files.iter() {
            let on_disk = std::fs::read(d.join(sub).join(name)).unwrap();
            assert!(
                on_disk == *bytes,
                "testdata/bundles/{sub}/{name} differs from what the generator makes: run with LETRO_REGENERATE=1 after a reviewed change"
            );
        }
    }
    assert_eq!(invalid.len(), 32, "31 invalid bundles and index.json");
    assert_eq!(valid.len(), 7, "4 bundles, opening, ciphertext, log key");
}

// ---- the stored vectors through the library ------------------------------------------------

fn read_valid(name: &str) -> Vec<u8> {
    std::fs::read(bundles_dir().join("valid").join(name)).unwrap()
}

#[test]
fn valid_vectors_verify_to_their_statements() {
    let v = verifier();
    let ciphertext = read_valid("valid.ciphertext.bin");
    let opening = read_valid("valid.opening.json");
    let expected_h = CiphertextHash::of(&ciphertext);
    // The fingerprint, computed here from the record: SHA-256 of the packed receipt key.
    let fingerprint = hex::encode(Sha256::digest(letro_core::babyjubjub::pack(
        record().witness.receipt_key.point(),
    )));
    let mut seen = 0;
    for name in list(&bundles_dir().join("valid")) {
        let Some(stem) = name.strip_suffix(".bundle.json") else {
            continue;
        };
        let (_, nb, na) = WINDOWS.iter().find(|w| w.0 == stem).unwrap();
        let d = v
            .verify(&read_valid(&name))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let s = d.statement();
        assert_eq!(s.ciphertext_hash, expected_h, "{name}");
        assert_eq!(
            s.ciphertext_hash.to_hex(),
            "550625f47dc1b7d1d5bda267bc6e2baeeb0e700033b325e5d53ccd66267dd74e"
        );
        assert_eq!((s.not_before, s.not_after), (t(nb), t(na)), "{name}");
        assert!(
            s.not_before <= t("2026-11-20T10:00:00Z") && t("2026-11-20T10:00:00Z") <= s.not_after
        );
        assert_eq!(s.recipient_commitment, record().recipient_commitment());
        assert_eq!(fr_to_be_bytes(&s.log_root), d.checkpoint().poseidon_root());
        assert_eq!(d.checkpoint().origin, ORIGIN);
        assert_eq!(d.checkpoint().size, 9);
        assert_eq!(d.checkpoint().time, t("2026-11-20T10:01:00Z"));
        assert_eq!(d.log_signers(), [ORIGIN.to_string()]);
        assert_eq!(hex::encode(d.key_sha256()), VK_SHA256);
        assert_eq!(d.key_source(), &KeySource::Embedded);
        check_ciphertext(ciphertext.as_slice(), s).unwrap();
        let o = check_opening(&opening, s).unwrap();
        assert_eq!(o.fingerprint, fingerprint);
        // The record's certificate (testdata/certificates/fixtures.json, made with xeddsa).
        assert_eq!(
            o.identity_key.as_deref(),
            Some("05850fd66da25058238c8a86f15d94fe2edacea3b0bd690277b646215eac144625")
        );
        assert_eq!(d.version(), StatementVersion::V2);
        let b = d.time_bounds().unwrap();
        assert_eq!(
            (b.receipt_skew, b.latest_by_log),
            (SKEW, t("2026-11-20T10:01:00Z") + SKEW)
        );
        // Any other ciphertext is refused.
        let mut tampered = ciphertext.clone();
        tampered[1234] ^= 0x40;
        assert_eq!(
            check_ciphertext(tampered.as_slice(), s)
                .unwrap_err()
                .exit_code(),
            1
        );
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[test]
fn invalid_vectors_fail_with_their_exact_error() {
    let v = verifier();
    let dir = bundles_dir().join("invalid");
    let index: BTreeMap<String, Value> =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let files: BTreeSet<String> = list(&dir)
        .into_iter()
        .filter(|n| n != "index.json")
        .collect();
    assert_eq!(
        files,
        index.keys().cloned().collect::<BTreeSet<_>>(),
        "every vector has an index entry and every entry a file"
    );
    let mut codes = BTreeMap::new();
    for (name, want) in &index {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let e = match v.verify(&bytes) {
            Ok(_) => panic!("{name} verified"),
            Err(e) => e,
        };
        assert_eq!(format!("{e:?}"), want["error"].as_str().unwrap(), "{name}");
        assert_eq!(
            u64::from(e.exit_code()),
            want["exit_code"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(e.step()),
            want["step"].as_u64().unwrap(),
            "{name}"
        );
        assert!(format!("{e:?}").starts_with(slug_variant(name)), "{name}");
        // Every exit code is 1 or 3 and every step one the algorithm has.
        assert!(matches!(e.step(), 1 | 2 | 3 | 4 | 6), "{name}");
        *codes.entry(e.exit_code()).or_insert(0) += 1;
    }
    assert_eq!(codes, BTreeMap::from([(1u8, 15), (3u8, 16)]));
}

#[test]
fn invalid_vectors_cover_every_step_and_variant() {
    let index: BTreeMap<String, Value> =
        serde_json::from_slice(&std::fs::read(bundles_dir().join("invalid/index.json")).unwrap())
            .unwrap();
    let variants: BTreeSet<String> = index
        .values()
        .map(|w| {
            let e = w["error"].as_str().unwrap();
            e[..e
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(e.len())]
                .to_owned()
        })
        .collect();
    assert_eq!(
        variants,
        BTreeSet::from(
            [
                "Malformed",
                "UnknownVerifyingKey",
                "KeyForOtherStatement",
                "TimeBounds",
                "Checkpoint",
                "RootMismatch",
                "ProofInvalid"
            ]
            .map(String::from)
        )
    );
}

#[test]
fn too_large_is_refused_before_parsing_and_exactly_the_limit_is_accepted() {
    let v = verifier();
    let good = read_valid("valid-hour.bundle.json");
    let baseline = v.verify(&good).unwrap();
    // Trailing whitespace is allowed: pad to exactly 1 MiB, then one byte more.
    let mut padded = good.clone();
    padded.resize(MAX_DOCUMENT_LEN, b' ');
    let d = v.verify(&padded).unwrap();
    assert_eq!(d.statement(), baseline.statement());
    padded.push(b' ');
    let e = v.verify(&padded).unwrap_err();
    assert_eq!(
        format!("{e:?}"),
        format!(
            "{:?}",
            VerifyError::Malformed(BundleError::TooLarge {
                len: MAX_DOCUMENT_LEN + 1
            })
        )
    );
    assert!(matches!(
        e,
        VerifyError::Malformed(BundleError::TooLarge { len }) if len == (1 << 20) + 1
    ));
    assert_eq!((e.exit_code(), e.step()), (3, 1));
    // 2 MiB of garbage: the size is checked first, so this is TooLarge, not Json.
    let e = v.verify(&vec![b'x'; 2 << 20]).unwrap_err();
    assert!(matches!(e, VerifyError::Malformed(BundleError::TooLarge { len }) if len == 2 << 20));
}

#[test]
fn no_trusted_log_key_is_exit_3_and_other_keys_do_not_help() {
    let good = read_valid("valid-day.bundle.json");
    let e = Verifier::new(vec![]).unwrap().verify(&good).unwrap_err();
    assert!(matches!(e, VerifyError::NoTrustedLogKey));
    assert_eq!((e.exit_code(), e.step()), (3, 3));
    // A verifier that trusts only another key of the same name: no trusted signature.
    let other = SignerKey::from_seed(ORIGIN, &seed("other log key")).unwrap();
    let e = Verifier::new(vec![other.verifier_key()])
        .unwrap()
        .verify(&good)
        .unwrap_err();
    assert!(matches!(
        e,
        VerifyError::Checkpoint(CheckpointVerifyError::Note(
            NoteVerifyError::NoTrustedSignature
        ))
    ));
    assert_eq!(e.exit_code(), 1);
    // Trusting both: verifies, signed by the log key only.
    let d = Verifier::new(vec![other.verifier_key(), log_key()])
        .unwrap()
        .verify(&good)
        .unwrap();
    assert_eq!(d.log_signers(), [ORIGIN.to_string()]);
    // The unknown-key-only vector verifies if (and only if) its key is trusted.
    let unknown_only = std::fs::read(
        bundles_dir().join("invalid/invalid-untrusted-checkpoint-unknown-key-only.bundle.json"),
    )
    .unwrap();
    Verifier::new(vec![other.verifier_key()])
        .unwrap()
        .verify(&unknown_only)
        .unwrap();
}

#[test]
fn unknown_verifying_key_is_reported_before_the_checkpoint() {
    // No log key and an unknown verifying key: step 2 comes first.
    let bytes =
        std::fs::read(bundles_dir().join("invalid/invalid-unknown-verifying-key.bundle.json"))
            .unwrap();
    let e = Verifier::new(vec![]).unwrap().verify(&bytes).unwrap_err();
    assert!(matches!(e, VerifyError::UnknownVerifyingKey(_)));
    assert_eq!(e.step(), 2);
}

// ---- byte flips ------------------------------------------------------------------------------

/// For each byte: whether it is JSON whitespace between tokens (outside every string).
fn whitespace_outside_strings(bytes: &[u8]) -> Vec<bool> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        out.push(!in_string && is_json_ws(b));
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        }
    }
    out
}

fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Flips every byte of a valid bundle with several masks (each bit, all bits, and the masks
/// that turn JSON whitespace into other JSON whitespace). Decision: a mutation may only be
/// accepted when it turns whitespace between tokens into other whitespace, and then it must
/// verify to the identical statement and checkpoint; every other mutation is an error; nothing
/// panics.
#[test]
fn every_byte_flip_is_an_error_or_equivalent_whitespace() {
    const MASKS: [u8; 12] = [
        0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff, // bits, all bits
        0x07, 0x29, 0x2a, // \n <-> \r, ' ' <-> \t, \n <-> ' '
    ];
    let v = verifier();
    let good = read_valid("valid-hour.bundle.json");
    let baseline = v.verify(&good).unwrap();
    let ws = whitespace_outside_strings(&good);
    let mut accepted = 0usize;
    let mut expected_accepted = 0usize;
    let mut errors_by_step = BTreeMap::new();
    for i in 0..good.len() {
        for mask in MASKS {
            let mut m = good.clone();
            m[i] ^= mask;
            let harmless = ws[i] && is_json_ws(m[i]);
            expected_accepted += usize::from(harmless);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v.verify(&m)))
                .unwrap_or_else(|_| panic!("panic at byte {i} mask {mask:#04x}"));
            match r {
                Ok(d) => {
                    assert!(
                        harmless,
                        "byte {i} ({:?}) ^ {mask:#04x} was accepted",
                        good[i] as char
                    );
                    assert_eq!(d.statement(), baseline.statement());
                    assert_eq!(d.checkpoint(), baseline.checkpoint());
                    assert_eq!(d.log_signers(), baseline.log_signers());
                    accepted += 1;
                }
                Err(e) => {
                    assert!(
                        !harmless,
                        "byte {i} ^ {mask:#04x} (whitespace) refused: {e:?}"
                    );
                    *errors_by_step.entry(e.step()).or_insert(0usize) += 1;
                }
            }
        }
    }
    assert_eq!(accepted, expected_accepted);
    assert!(accepted > 0, "the whitespace masks did hit whitespace");
    // Every kind of check was reached by some flip.
    for step in [1u8, 2, 3, 4, 6] {
        assert!(
            errors_by_step.get(&step).copied().unwrap_or(0) > 0,
            "no flip failed at step {step}: {errors_by_step:?}"
        );
    }
}

#[test]
fn the_opening_vector_opens_the_statement_commitment() {
    let o = Opening::parse(&read_valid("valid.opening.json")).unwrap();
    assert_eq!(o, record().opening());
    assert_eq!(o.recipient_commitment, record().recipient_commitment());
    // A v2 opening always carries the certificate: the record's.
    assert_eq!(o.version, StatementVersion::V2);
    assert_eq!(
        o.receipt_key_certificate,
        Some(record().receipt_key_certificate)
    );
}

#[test]
fn checkpoint_of_the_vectors_is_the_records() {
    // The bundles carry the record's checkpoint byte for byte.
    let p = ParsedBundle::parse(&read_valid("valid-day.bundle.json")).unwrap();
    assert_eq!(p.checkpoint, record().checkpoint);
    assert_eq!(
        p.checkpoint.unverified_checkpoint().poseidon_root(),
        fr_to_be_bytes(&p.statement.log_root)
    );
}

// ---- v1: frozen vectors, still verified ---------------------------------------------------

/// v1 bundles, made when v1 was proved, still verify with the pinned v1 key, as v1 (no time
/// bounds from the log: v1 checkpoints publish no receipt skew); their v1 opening still opens
/// them; and every frozen invalid v1 vector is still refused with its recorded error.
#[test]
fn v1_vectors_still_verify_with_the_v1_key() {
    let dir = bundles_dir_v1();
    let vkey = std::fs::read_to_string(dir.join("valid/log.vkey")).unwrap();
    let v = Verifier::new(vec![VerifierKey::parse(vkey.trim()).unwrap()]).unwrap();
    let ciphertext = std::fs::read(dir.join("valid/valid.ciphertext.bin")).unwrap();
    let opening = std::fs::read(dir.join("valid/valid.opening.json")).unwrap();
    let mut seen = 0;
    for name in list(&dir.join("valid")) {
        if !name.ends_with(".bundle.json") {
            continue;
        }
        let d = v
            .verify(&std::fs::read(dir.join("valid").join(&name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(d.version(), StatementVersion::V1, "{name}");
        assert_eq!(hex::encode(d.key_sha256()), VK_SHA256_V1, "{name}");
        assert!(d.time_bounds().is_none(), "{name}");
        check_ciphertext(ciphertext.as_slice(), d.statement()).unwrap();
        let o = letro_verifier::checks::check_opening_for(&opening, &d).unwrap();
        assert_eq!(o.identity_key, None);
        seen += 1;
    }
    assert_eq!(seen, 4);

    let index: BTreeMap<String, Value> =
        serde_json::from_slice(&std::fs::read(dir.join("invalid/index.json")).unwrap()).unwrap();
    assert_eq!(index.len(), 28);
    for (name, want) in &index {
        let bytes = std::fs::read(dir.join("invalid").join(name)).unwrap();
        let e = v.verify(&bytes).expect_err(name);
        assert_eq!(format!("{e:?}"), want["error"].as_str().unwrap(), "{name}");
        assert_eq!(
            u64::from(e.exit_code()),
            want["exit_code"].as_u64().unwrap(),
            "{name}"
        );
    }
}

/// A v1 opening does not open a v2 bundle's statement, and the reverse: the versions must
/// match, whatever the commitment says.
#[test]
fn openings_of_the_other_version_are_refused() {
    let v2 = verifier()
        .verify(&read_valid("valid-day.bundle.json"))
        .unwrap();
    let v1_opening = std::fs::read(bundles_dir_v1().join("valid/valid.opening.json")).unwrap();
    let e = letro_verifier::checks::check_opening_for(&v1_opening, &v2).unwrap_err();
    assert_eq!(e.code(), "Opening.OtherVersion");
    assert_eq!(e.exit_code(), 1);
}

/// Checkpoints that publish both roots (line 3 the RFC 6962 root, `poseidon-root` the
/// Poseidon root, SPEC §6.3): the proof is checked against the Poseidon line, never line 3.
#[test]
fn two_root_checkpoints_bind_the_proof_to_the_poseidon_line() {
    let parsed = ParsedBundle::parse(&read_valid("valid-day.bundle.json")).unwrap();
    let cp = parsed.checkpoint.unverified_checkpoint();
    let poseidon = fr_to_be_bytes(&parsed.statement.log_root);
    let sha_root: [u8; 32] = Sha256::digest(b"an RFC 6962 root").into();
    let bundle = |line3: [u8; 32], poseidon: [u8; 32]| {
        let text = sign_checkpoint_with(
            line3,
            cp.size,
            cp.time,
            &log_signer(),
            vec![
                receipt_skew_extension(SKEW),
                letro_log::checkpoint::poseidon_root_extension(&poseidon),
            ],
        );
        letro_core::bundle::Bundle::encode(
            &parsed.statement,
            &text,
            &parsed.proof,
            &parsed.verifying_key_sha256,
            &[],
        )
        .unwrap()
    };
    let v = verifier();
    // Line 3 is another hash; the Poseidon line is the statement's root: verified.
    let d = v.verify(bundle(sha_root, poseidon).as_bytes()).unwrap();
    assert_eq!(d.checkpoint().rfc6962_root(), Some(sha_root));
    assert_eq!(d.checkpoint().poseidon_root(), poseidon);
    // The statement's root on line 3 but another Poseidon line: refused at step 4.
    let mut other = poseidon;
    other[31] ^= 1;
    let e = v.verify(bundle(poseidon, other).as_bytes()).unwrap_err();
    assert!(matches!(e, VerifyError::RootMismatch), "{e}");
    // A malformed Poseidon line is a malformed checkpoint.
    let text = sign_checkpoint_with(
        poseidon,
        cp.size,
        cp.time,
        &log_signer(),
        vec![receipt_skew_extension(SKEW)],
    );
    let broken = text.replacen(
        &format!("receipt-skew {SKEW}\n"),
        &format!("receipt-skew {SKEW}\nposeidon-root AAAA\n"),
        1,
    );
    let b = letro_core::bundle::Bundle::encode(
        &parsed.statement,
        &text,
        &parsed.proof,
        &parsed.verifying_key_sha256,
        &[],
    )
    .unwrap()
    .replacen(&json_escape(&text), &json_escape(&broken), 1);
    let e = v.verify(b.as_bytes()).unwrap_err();
    let shown = format!("{e:?}");
    assert!(shown.contains("InvalidPoseidonRoot"), "{shown}");
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The valid day bundle with `lines` (cosignature lines) added to its checkpoint.
fn with_cosignatures(lines: &[String]) -> String {
    let day = String::from_utf8(read_valid("valid-day.bundle.json")).unwrap();
    let parsed = ParsedBundle::parse(day.as_bytes()).unwrap();
    let text = parsed.checkpoint_text();
    let cosigned = letro_log::cosignature::attach(&text, lines);
    day.replacen(&json_escape(&text), &json_escape(&cosigned), 1)
}

fn witness(n: u8) -> letro_log::cosignature::CosignerSigner {
    letro_log::cosignature::CosignerSigner::from_seed(
        &format!("witness.invalid/w{n}"),
        &seed(&format!("witness {n}")),
    )
    .unwrap()
}

fn policy(quorum: &str) -> letro_log::policy::Policy {
    let text = format!(
        "log {}\nwitness W1 {}\nwitness W2 {}\n{quorum}\n",
        log_key(),
        witness(1).cosigner_key(),
        witness(2).cosigner_key()
    );
    letro_log::policy::Policy::parse(text.as_bytes()).unwrap()
}

/// A witness policy (C2SP tlog-policy): the quorum is enforced at step 3, every cosignature is
/// reported with its time, and the earliest bounds the delivery by a witness's clock.
#[test]
fn witness_policies_are_enforced_and_cosignatures_reported() {
    let parsed = ParsedBundle::parse(&read_valid("valid-day.bundle.json")).unwrap();
    let body = parsed.checkpoint.note().unverified_text().to_owned();
    let (t1, t2) = (1_767_225_700, 1_767_225_650);
    let line1 = witness(1).cosign(&body, t1).unwrap();
    let line2 = witness(2).cosign(&body, t2).unwrap();
    // The policy's log is trusted without --log-key.
    let only_policy = |p| Verifier::new(vec![]).unwrap().with_witness_policy(p);

    let one = with_cosignatures(std::slice::from_ref(&line1));
    let d = only_policy(policy("quorum W1"))
        .verify(one.as_bytes())
        .unwrap();
    let cs = d.cosignatures().unwrap();
    assert_eq!(
        (cs.len(), cs[0].policy_name.as_str(), cs[0].time),
        (1, "W1", t1)
    );
    assert_eq!(d.witnessed_by(), Some(t1));
    // Without a policy, nothing is checked and nothing is reported.
    let d = verifier().verify(one.as_bytes()).unwrap();
    assert_eq!((d.cosignatures(), d.witnessed_by()), (None, None));

    // Both witnesses: a group of 2 is met, and the earliest time bounds the delivery.
    let both = with_cosignatures(&[line1.clone(), line2.clone()]);
    let d = only_policy(policy("group G 2 W1 W2\nquorum G"))
        .verify(both.as_bytes())
        .unwrap();
    assert_eq!(d.witnessed_by(), Some(t2));
    // One of two required: refused, naming who did cosign.
    let e = only_policy(policy("group G all W1 W2\nquorum G"))
        .verify(one.as_bytes())
        .unwrap_err();
    assert_eq!((e.code(), e.exit_code(), e.step()), ("QuorumNotMet", 1, 3));
    assert!(matches!(&e, VerifyError::QuorumNotMet { cosigned } if cosigned == &["W1".to_owned()]));
    // No cosignature at all.
    let bare = String::from_utf8(read_valid("valid-day.bundle.json")).unwrap();
    let e = only_policy(policy("quorum W2"))
        .verify(bare.as_bytes())
        .unwrap_err();
    assert!(matches!(&e, VerifyError::QuorumNotMet { cosigned } if cosigned.is_empty()));
    // `quorum none` needs nothing.
    assert!(only_policy(policy("quorum none"))
        .verify(bare.as_bytes())
        .is_ok());
    // A policy witness's line that does not verify (its time changed) refuses the bundle.
    let (prefix, b64) = line1.rsplit_once(' ').unwrap();
    let mut blob = b64_decode(b64);
    blob[11] ^= 1;
    let forged = format!("{prefix} {}", b64_encode(&blob));
    let e = only_policy(policy("quorum none"))
        .verify(with_cosignatures(&[forged]).as_bytes())
        .unwrap_err();
    assert_eq!((e.code(), e.exit_code()), ("Cosignature.Invalid", 1));
    // A cosignature of another checkpoint body is not one of this one.
    let other = witness(1)
        .cosign(&body.replacen("time ", "time 1", 1), t1)
        .unwrap();
    let e = only_policy(policy("quorum W1"))
        .verify(with_cosignatures(&[other]).as_bytes())
        .unwrap_err();
    assert_eq!(e.code(), "Cosignature.Invalid");
}

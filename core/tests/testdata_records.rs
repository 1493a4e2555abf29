//! Makes (with LETRO_REGENERATE=1) or checks (otherwise) the delivery records in
//! testdata/records/, which `letro prove` turns into bundles.
//!
//! The record describes one delivery: ciphertext `valid.ciphertext.bin`, receipt signed at
//! 2026-11-20T10:00:00Z by a receipt key from a fixed seed, recorded as leaf 5 of a 9-leaf log
//! whose checkpoint is signed by the INSECURE-DEV test log key of testdata/checkpoints/ and
//! publishes a receipt skew of 300 s. The receipt key's certificate is the `record` fixture of
//! testdata/certificates/fixtures.json (made with the independent `xeddsa` package).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use letro_core::babyjubjub::Point;
use letro_core::bundle::{parse_time, DeliveryRecord, ReceiptKeyCertificate};
use letro_core::eddsa::PrivateKey;
use letro_core::field::fr_to_be_bytes;
use letro_core::merkle::MerkleTree;
use letro_core::statement::{self, CiphertextHash, DeliveryWitness};
use letro_core::Fr;
use letro_log::checkpoint::{receipt_skew_extension, Checkpoint, SignedCheckpoint};
use letro_log::note::{SignerKey, VerifierKey};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "letro.invalid/INSECURE-DEV-test-log";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/records")
}

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(format!("letro testdata {label} (INSECURE-DEV)")).into()
}

/// The certificate fixture `name` of testdata/certificates/fixtures.json, checked to be for
/// `key`.
fn certificate_fixture(name: &str, key: &Point) -> ReceiptKeyCertificate {
    let path = dir().join("../certificates/fixtures.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let f = &doc["fixtures"][name];
    let coords = [
        letro_core::field::fr_to_decimal(&key.x),
        letro_core::field::fr_to_decimal(&key.y),
    ];
    assert_eq!(
        f["receipt_key"],
        serde_json::json!(coords),
        "gen.py's FIXTURE_KEYS[{name}] is stale"
    );
    let bytes = |k: &str| hex::decode(f[k].as_str().unwrap()).unwrap();
    ReceiptKeyCertificate::new(
        bytes("identity_key").try_into().unwrap(),
        bytes("signature").try_into().unwrap(),
    )
    .unwrap()
}

fn make() -> (Vec<u8>, String) {
    let ciphertext: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
    let h = CiphertextHash::of(&ciphertext);
    let t = parse_time("2026-11-20T10:00:00Z").unwrap();
    let receipt = PrivateKey::from_bytes(seed("receipt key"));
    let key = receipt.public_key();
    let signature = receipt.sign(&statement::receipt_message(&h, t));
    let blinding = Fr::from_le_bytes_mod_order_wide(&seed("blinding"));
    let event_secret = Fr::from_le_bytes_mod_order_wide(&seed("event secret"));
    let mut tree = MerkleTree::new();
    for i in 0..9u64 {
        let leaf = if i == 5 {
            statement::delivered_leaf(&h, key.point(), t, &event_secret)
        } else {
            Fr::from(1000 + i)
        };
        tree.append(leaf).unwrap();
    }
    let log_key = SignerKey::from_seed(ORIGIN, &seed("log key")).unwrap();
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size: tree.len(),
        root: fr_to_be_bytes(&tree.root()),
        time: t + 60,
        extensions: vec![receipt_skew_extension(300)],
    };
    let note = SignedCheckpoint::sign(&checkpoint, &log_key).unwrap();
    let record = DeliveryRecord {
        ciphertext_hash: h,
        witness: DeliveryWitness {
            delivered_at: t,
            receipt_key: key,
            blinding,
            signature,
            event_secret,
            path: tree.proof(5).unwrap(),
        },
        checkpoint: SignedCheckpoint::parse(&note).unwrap(),
        receipt_key_certificate: certificate_fixture("record", key.point()),
        timestamps: Vec::new(),
    };
    (ciphertext, record.encode().unwrap())
}

trait WideFr {
    fn from_le_bytes_mod_order_wide(b: &[u8]) -> Fr;
}
impl WideFr for Fr {
    fn from_le_bytes_mod_order_wide(b: &[u8]) -> Fr {
        <Fr as ark_ff::PrimeField>::from_le_bytes_mod_order(b)
    }
}

#[test]
fn records_are_current_and_valid() {
    let (ciphertext, record) = make();
    let d = dir();
    if std::env::var("LETRO_REGENERATE").as_deref() == Ok("1") {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("valid.ciphertext.bin"), &ciphertext).unwrap();
        std::fs::write(d.join("valid.record.json"), &record).unwrap();
    }
    assert_eq!(
        std::fs::read(d.join("valid.ciphertext.bin")).unwrap(),
        ciphertext
    );
    let stored = std::fs::read_to_string(d.join("valid.record.json")).unwrap();
    assert_eq!(
        stored, record,
        "run with LETRO_REGENERATE=1 after a reviewed format change"
    );

    let r = DeliveryRecord::parse(stored.as_bytes()).unwrap();
    assert_eq!(r.ciphertext_hash, CiphertextHash::of(&ciphertext));
    let vkey = std::fs::read_to_string(d.join("../checkpoints/log.vkey")).unwrap();
    let vk = VerifierKey::parse(vkey.trim()).unwrap();
    r.checkpoint.verify(&[vk]).unwrap();
    let t = r.witness.delivered_at;
    let s = r.statement(t - 86_400, t + 86_400).unwrap();
    statement::check_relation(&s, &r.witness).unwrap();
    let late = r.statement(t + 1, t + 86_400).unwrap();
    assert!(statement::check_relation(&late, &r.witness).is_err());
}

//! Evidence records (figures in BENCHMARKS.md):
//!
//! - `evidence/verify/{made-available,retrieved}`: `Verifier::verify_evidence` on a record
//!   whose leaf is in a log of 65,536 entries (an RFC 6962 proof of 16 hashes), with a witness
//!   policy of one witness: parse, the leaf recomputed (Poseidon), for the receipt the
//!   EdDSA-Poseidon signature and the XEdDSA certificate, the Ed25519 checkpoint signature and
//!   cosignature, the inclusion proof.
//! - `evidence/verify/retrieved+2-timestamps`: the same retrieved record carrying two RFC 3161
//!   tokens (an RSA-2048 and an ECDSA P-256 TSA, made by `openssl ts -reply` at start) checked
//!   against the test CAs; `timestamp/verify/{rsa,ecdsa-p256}`: one token alone
//!   (`letro_log::timestamp::verify`, chain included).
//! - `evidence/encode` and `evidence/etsi-xml`: writing the retrieved record as JSON and in the
//!   EN 319 522-3 vocabulary; their sizes are printed.
//! - `certificate/make/retrieved+2-timestamps`: the evidence certificate of that record
//!   (`letro_certificate::certify`, which verifies the record first, then `render`: layout,
//!   font subsets, PDF/A-3); `certificate/seal`: the same sealed (PAdES: the PDF written with
//!   room for the signature, hashed, signed with ECDSA P-256, a prepared 1 KB time-stamp token
//!   put in; no network); `certificate/verify/retrieved+2-timestamps`: reading the record out of
//!   the PDF (`letro_verifier::pdf::attachments`) and verifying it, to compare with
//!   `evidence/verify/retrieved+2-timestamps`. The sizes are printed.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{criterion_group, criterion_main, Criterion};
use letro_core::bundle::ReceiptKeyCertificate;
use letro_core::eddsa::PrivateKey;
use letro_core::evidence::{EventFacts, EvidenceRecord};
use letro_core::field::fr_from_u128;
use letro_core::log::DeliveryLog;
use letro_core::statement::{receipt_message, CiphertextHash};
use letro_core::Fr;
use letro_log::checkpoint::SignedCheckpoint;
use letro_log::cosignature::CosignerSigner;
use letro_log::note::SignerKey;
use letro_verifier::Verifier;

/// The test-only XEdDSA signer the service tests use, for the receipt key's certificate.
#[path = "../../service/tests/common/xeddsa.rs"]
#[allow(dead_code, clippy::indexing_slicing)]
mod xeddsa;

/// OpenSSL's TSA with a test CA (needs the `openssl` command).
#[path = "../../testdata/tsa/harness.rs"]
mod tsa;

const ORIGIN: &str = "bench.invalid/letro-log";
const SIZE: u64 = 65_536;

fn records() -> (Verifier, Vec<u8>, Vec<u8>, EvidenceRecord) {
    let h = CiphertextHash::of(b"a notice");
    let t = 1_764_201_600;
    let sk = PrivateKey::from_bytes([0x2a; 32]);
    let identity = xeddsa::TestIdentity::from_seed(7);
    let cert = identity.certify(sk.public_key().point());
    let certificate = ReceiptKeyCertificate::new(
        cert.identity_key.as_slice().try_into().unwrap(),
        cert.signature.as_slice().try_into().unwrap(),
    )
    .unwrap();
    let mut made = [
        EventFacts::MadeAvailable {
            routing: "bob".into(),
            time: t,
        },
        EventFacts::Retrieved {
            time: t + 60,
            receipt_key: sk.public_key(),
            signature: sk.sign(&receipt_message(&h, t + 60)),
            certificate,
        },
    ]
    .map(|facts| EvidenceRecord {
        ciphertext_hash: h,
        origin: ORIGIN.into(),
        policy: "urn:letro:evidence-policy:registered-delivery:v1".into(),
        facts,
        event_secret: Fr::from(99u64),
        leaf_index: 0,
        tree_size: SIZE,
        inclusion: Vec::new(),
        checkpoint: String::new(),
        timestamps: Vec::new(),
    });
    let mut log = DeliveryLog::new();
    let at = [40_000u64, 50_000];
    for i in 0..SIZE {
        let leaf = match at.iter().position(|a| *a == i) {
            Some(k) => {
                made[k].leaf_index = i;
                made[k].leaf()
            }
            None => fr_from_u128(u128::from(i) + 1),
        };
        log.sequence(leaf).unwrap();
    }
    log.integrate().unwrap();
    let key = SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap();
    let witness = CosignerSigner::from_seed("witness.bench/w1", &[2; 32]).unwrap();
    let mut cp = log.checkpoint(ORIGIN, t + 3600);
    cp.extensions
        .push(letro_log::checkpoint::receipt_skew_extension(300));
    let mut text = SignedCheckpoint::sign(&cp, &key).unwrap();
    text.push_str(&witness.cosign(&cp.to_body().unwrap(), t + 3600).unwrap());
    text.push('\n');
    for r in &mut made {
        r.inclusion = log.rfc6962().inclusion_proof(r.leaf_index, SIZE).unwrap();
        r.checkpoint = text.clone();
    }
    let policy = format!(
        "log {}\nwitness W1 {}\nquorum W1\n",
        key.verifier_key(),
        witness.cosigner_key()
    );
    let verifier = Verifier::new(vec![key.verifier_key()])
        .unwrap()
        .with_witness_policy(letro_log::policy::Policy::parse(policy.as_bytes()).unwrap());
    let available = made[0].encode().unwrap().into_bytes();
    let retrieved = made[1].encode().unwrap().into_bytes();
    (verifier, available, retrieved, made[1].clone())
}

fn bench(c: &mut Criterion) {
    let (verifier, available, retrieved, record) = records();
    verifier.verify_evidence(&available).unwrap();
    verifier.verify_evidence(&retrieved).unwrap();
    eprintln!(
        "evidence sizes: made-available JSON {} bytes, retrieved JSON {} bytes, retrieved ETSI XML {} bytes",
        available.len(),
        retrieved.len(),
        record.to_etsi_xml().len()
    );
    let mut g = c.benchmark_group("evidence");
    g.bench_function("verify/made-available", |b| {
        b.iter(|| verifier.verify_evidence(&available).unwrap())
    });
    g.bench_function("verify/retrieved", |b| {
        b.iter(|| verifier.verify_evidence(&retrieved).unwrap())
    });
    // Two RFC 3161 tokens over the record's checkpoint, from an RSA and an ECDSA TSA.
    let body = SignedCheckpoint::parse(&record.checkpoint)
        .unwrap()
        .note()
        .unverified_text()
        .to_owned();
    let (rsa, ec) = (
        tsa::Tsa::new(tsa::Key::Rsa, false),
        tsa::Tsa::new(tsa::Key::EcdsaP256, false),
    );
    let mut stamped = record.clone();
    stamped.timestamps = vec![rsa.stamp(body.as_bytes()), ec.stamp(body.as_bytes())];
    let mut roots = letro_verifier::timestamps::certificates_from_pem(&rsa.ca_pem()).unwrap();
    roots.extend(letro_verifier::timestamps::certificates_from_pem(&ec.ca_pem()).unwrap());
    let trusting = verifier.clone().with_tsa_certificates(roots.clone());
    let stamped_json = stamped.encode().unwrap().into_bytes();
    let v = trusting.verify_evidence(&stamped_json).unwrap();
    assert!(v
        .timestamps
        .iter()
        .all(|o| matches!(o, letro_verifier::timestamps::TokenOutcome::Trusted(_))));
    eprintln!(
        "time-stamp tokens: RSA {} bytes, ECDSA P-256 {} bytes; retrieved record with both {} bytes",
        stamped.timestamps[0].len(),
        stamped.timestamps[1].len(),
        stamped_json.len()
    );
    g.bench_function("verify/retrieved+2-timestamps", |b| {
        b.iter(|| trusting.verify_evidence(&stamped_json).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("timestamp");
    for (name, token) in [
        ("rsa", &stamped.timestamps[0]),
        ("ecdsa-p256", &stamped.timestamps[1]),
    ] {
        g.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| letro_log::timestamp::verify(token, body.as_bytes(), &roots).unwrap())
        });
    }
    g.finish();
    certificates(c, &trusting, &stamped_json, &ec);
    let mut g = c.benchmark_group("evidence");
    g.bench_function("encode", |b| b.iter(|| record.encode().unwrap()));
    g.bench_function("etsi-xml", |b| b.iter(|| record.to_etsi_xml()));
    g.finish();
}

fn certificates(c: &mut Criterion, verifier: &Verifier, record: &[u8], tsa: &tsa::Tsa) {
    let issue = letro_certificate::content::Issue {
        at: 1_795_219_200,
        sealed_by: Some(ORIGIN.into()),
    };
    let make = || {
        let doc = letro_certificate::certify(verifier, record, None, &issue).unwrap();
        letro_certificate::render(&doc).unwrap()
    };
    let pdf = make();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["seal.bench.invalid".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let sealer =
        letro_certificate::seal::Sealer::new(&key.serialize_der(), &[cert.der().to_vec()], ORIGIN)
            .unwrap();
    let doc = letro_certificate::certify(verifier, record, None, &issue).unwrap();
    let prepared = letro_certificate::seal::prepare(&doc, &sealer, issue.at).unwrap();
    let token = tsa.stamp(prepared.signature_value());
    let sealed = prepared.finish(Some(&token)).unwrap();
    eprintln!(
        "certificate of the retrieved record with two tokens: {} bytes unsealed, {} bytes sealed \
         (seal time-stamp token {} bytes)",
        pdf.len(),
        sealed.len(),
        token.len()
    );
    let mut g = c.benchmark_group("certificate");
    g.bench_function("make/retrieved+2-timestamps", |b| b.iter(make));
    g.bench_function("seal", |b| {
        b.iter(|| {
            letro_certificate::seal::prepare(&doc, &sealer, issue.at)
                .unwrap()
                .finish(Some(&token))
                .unwrap()
        })
    });
    g.bench_function("verify/retrieved+2-timestamps", |b| {
        b.iter(|| {
            let files = letro_verifier::pdf::attachments(&sealed).unwrap();
            let main = files.iter().find(|a| a.name == "evidence.json").unwrap();
            verifier.verify_evidence(&main.bytes).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

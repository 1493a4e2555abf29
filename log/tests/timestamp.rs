//! RFC 3161 tokens made by a real TSA (OpenSSL's `ts -reply`, with a test CA) verified by
//! letro-log, each also checked by `openssl ts -verify`; and every way a token or an answer can
//! be wrong.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../testdata/tsa/harness.rs"]
mod tsa;

use letro_log::timestamp::{self, TimestampError};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tsa::{Key, Tsa};

const CHECKPOINT: &[u8] = b"letro.example/log\n42\nq2j3mUO0ZQw5rGoSsxkYgh0M3Fz4D9Yz0XQdEMvoBwY=\n";

fn certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn rsa_and_ecdsa_tokens_verify_to_the_test_ca_and_openssl_agrees() {
    for (key, ess_sha1, algorithm) in [
        (Key::Rsa, false, "RSA PKCS#1 v1.5 with SHA-256"),
        (Key::Rsa, true, "RSA PKCS#1 v1.5 with SHA-256"),
        (Key::EcdsaP256, false, "ECDSA with SHA-256"),
        (Key::EcdsaP384, false, "ECDSA with SHA-384"),
    ] {
        let tsa = Tsa::new(key, ess_sha1);
        let token = tsa.stamp(CHECKPOINT);
        assert!(tsa.openssl_verifies(&token, CHECKPOINT), "{key:?}");
        let v = timestamp::verify(&token, CHECKPOINT, &certs(&tsa.ca_pem())).unwrap();
        assert_eq!(v.algorithm, algorithm, "{key:?}");
        assert!(v.anchor.as_deref().unwrap().contains("Letro Test TSA Root"));
        assert!(v.signer.contains("Letro Test TSA"));
        assert!(v.time.abs_diff(now()) < 120, "{}", v.time);
        assert_eq!(v.accuracy_ms, Some(1000));
        // The bound reported: genTime (whole seconds here) plus the accuracy.
        assert_eq!(v.latest, v.time + 1);
        assert_eq!(v.policy, "1.3.6.1.4.1.57264.99.1");
        // Without a trusted certificate: intact, but no anchor.
        let v = timestamp::verify(&token, CHECKPOINT, &[]).unwrap();
        assert_eq!(v.anchor, None);
        // The TSA's own certificate trusted directly.
        let v = timestamp::verify(&token, CHECKPOINT, &certs(&tsa.tsa_pem())).unwrap();
        assert!(v.anchor.unwrap().contains("Letro Test TSA ("));
    }
}

#[test]
fn a_token_over_other_bytes_or_from_an_untrusted_ca_is_refused_and_openssl_agrees() {
    let tsa = Tsa::new(Key::EcdsaP256, false);
    let other = Tsa::new(Key::Rsa, false);
    let token = tsa.stamp(CHECKPOINT);
    let mut changed = CHECKPOINT.to_vec();
    changed[0] ^= 1;
    assert_eq!(
        timestamp::verify(&token, &changed, &certs(&tsa.ca_pem())),
        Err(TimestampError::Imprint("SHA-256"))
    );
    assert!(!tsa.openssl_verifies(&token, &changed));
    let e = timestamp::verify(&token, CHECKPOINT, &certs(&other.ca_pem())).unwrap_err();
    assert!(matches!(e, TimestampError::Chain(_)), "{e}");
    assert!(!other.openssl_verifies(&token, CHECKPOINT));
}

/// Replaces the first occurrence of `from` in `bytes` with `to` (same length).
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the bytes to replace are in the token");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn every_tampered_part_of_a_token_is_refused() {
    let tsa = Tsa::new(Key::Rsa, false);
    let token = tsa.stamp(CHECKPOINT);
    let trusted = certs(&tsa.ca_pem());
    let v = timestamp::verify(&token, CHECKPOINT, &trusted).unwrap();
    // The time inside the TSTInfo (so its digest no longer matches the signed attribute).
    let earlier = format!("{}", v.time_text[..4].parse::<u32>().unwrap() - 1);
    let backdated = [earlier.as_bytes(), &v.time_text.as_bytes()[4..]].concat();
    let t = replace(&token, v.time_text.as_bytes(), &backdated);
    let e = timestamp::verify(&t, CHECKPOINT, &trusted).unwrap_err();
    assert!(
        matches!(&e, TimestampError::SignedAttributes(m) if m.contains("message-digest")),
        "{e}"
    );
    assert!(!tsa.openssl_verifies(&t, CHECKPOINT));
    // The last byte of the signature (the token ends with the signer's signature).
    let mut t = token.clone();
    *t.last_mut().unwrap() ^= 1;
    let e = timestamp::verify(&t, CHECKPOINT, &trusted).unwrap_err();
    assert!(matches!(e, TimestampError::Signature(_)), "{e}");
    assert!(!tsa.openssl_verifies(&t, CHECKPOINT));
    // Truncated anywhere.
    for cut in [1, 10, token.len() / 2, token.len() - 1] {
        assert!(
            timestamp::verify(&token[..cut], CHECKPOINT, &trusted).is_err(),
            "cut at {cut}"
        );
    }
    // A token without the TSA's certificate is refused whatever is trusted, even the TSA's own
    // certificate: whether a token is intact never depends on the trusted set.
    let bare = tsa.stamp_without_certificate(CHECKPOINT);
    for trust in [vec![], trusted.clone(), certs(&tsa.tsa_pem())] {
        assert_eq!(
            timestamp::verify(&bare, CHECKPOINT, &trust),
            Err(TimestampError::SignerCertificate)
        );
    }
    // A trusted certificate that is not a certificate.
    let e = timestamp::verify(
        &token,
        CHECKPOINT,
        &[CertificateDer::from(vec![0x30, 0x00])],
    )
    .unwrap_err();
    assert!(
        matches!(e, TimestampError::TrustAnchor { index: 0, .. }),
        "{e}"
    );
}

#[test]
fn answers_to_our_request_are_checked_for_status_imprint_and_nonce() {
    let tsa = Tsa::new(Key::EcdsaP384, false);
    let nonce = [0x9a; 16];
    let request = timestamp::request(CHECKPOINT, &nonce).unwrap();
    let response = tsa.reply(&request);
    let (token, _) = timestamp::token_from_response(&response, CHECKPOINT, &nonce).unwrap();
    // Byte for byte the TSA's token (the response ends with it), never re-encoded.
    assert!(response.ends_with(&token));
    assert!(tsa.openssl_verifies(&token, CHECKPOINT));
    assert!(timestamp::verify(&token, CHECKPOINT, &certs(&tsa.ca_pem())).is_ok());
    // Another nonce.
    assert_eq!(
        timestamp::token_from_response(&response, CHECKPOINT, &[1; 16]),
        Err(TimestampError::Nonce)
    );
    // An answer for other bytes.
    assert_eq!(
        timestamp::token_from_response(&response, b"other", &nonce),
        Err(TimestampError::Imprint("SHA-256"))
    );
    // A refusal: OpenSSL's TSA answers a SHA-1 imprint (not in its `digests`) with status 2.
    let sha1_query = {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d");
        let q = dir.path().join("q");
        std::fs::write(&f, CHECKPOINT).unwrap();
        let ok = std::process::Command::new("openssl")
            .args(["ts", "-query", "-sha1", "-data"])
            .arg(&f)
            .arg("-out")
            .arg(&q)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::fs::read(q).unwrap()
    };
    let refused = tsa.reply(&sha1_query);
    let e = timestamp::token_from_response(&refused, CHECKPOINT, &nonce).unwrap_err();
    assert!(
        matches!(e, TimestampError::Refused { status: 2, .. }),
        "{e}"
    );
    // Garbage.
    assert!(matches!(
        timestamp::token_from_response(b"<html>busy</html>", CHECKPOINT, &nonce),
        Err(TimestampError::Malformed { .. })
    ));
}

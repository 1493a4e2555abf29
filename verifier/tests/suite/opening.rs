//! `check_opening` with receipt-key certificates made by the independent `xeddsa` package.

use letro_core::bundle::{Opening, ReceiptKeyCertificate};
use letro_core::eddsa::PublicKey;
use letro_core::field::fr_from_decimal;
use letro_core::statement::{recipient_commitment, CiphertextHash, DeliveredWithin};
use letro_core::Fr;
use letro_verifier::checks::{check_opening, OpeningCheckError};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Vec<serde_json::Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/certificates/vectors.json"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

/// An opening of a statement about `H` for the vector's receipt key and certificate.
fn opening_for(v: &serde_json::Value) -> Option<(Vec<u8>, DeliveredWithin)> {
    let key = v["receipt_key"].as_array()?;
    let a = PublicKey::from_coords(
        fr_from_decimal(key[0].as_str()?).ok()?,
        fr_from_decimal(key[1].as_str()?).ok()?,
    )
    .ok()?;
    let ik: [u8; 33] = hex(v["identity_key"].as_str()?).try_into().ok()?;
    let sig: [u8; 64] = hex(v["signature"].as_str()?).try_into().ok()?;
    let cert = ReceiptKeyCertificate::new(ik, sig).ok()?;
    let blinding = Fr::from(424242u64);
    let c = recipient_commitment(a.point(), &blinding);
    let h = CiphertextHash::of(b"certificate test");
    let statement = DeliveredWithin {
        ciphertext_hash: h,
        not_before: 0,
        not_after: 1,
        recipient_commitment: c,
        log_root: Fr::from(0u64),
    };
    let o = Opening {
        version: letro_core::statement::StatementVersion::V1,
        ciphertext_hash: h,
        recipient_commitment: c,
        receipt_key: a,
        blinding,
        receipt_key_certificate: Some(cert),
    };
    Some((o.encode().into_bytes(), statement))
}

#[test]
fn certified_openings_verify_and_bad_certificates_fail() {
    let mut valid = 0;
    let mut invalid = 0;
    for v in vectors() {
        // Vectors with a malformed identity key or the wrong receipt key cannot all be put in an
        // opening (the opening parser refuses some): those are covered by the library's tests.
        let Some((bytes, statement)) = opening_for(&v) else {
            continue;
        };
        let r = check_opening(&bytes, &statement);
        if v["valid"] == true {
            let o = r.unwrap();
            assert_eq!(o.identity_key.as_deref(), v["identity_key"].as_str());
            valid += 1;
        } else {
            let e = r.unwrap_err();
            assert!(
                matches!(e, OpeningCheckError::Certificate(_)),
                "{}: {e}",
                v["name"]
            );
            assert_eq!(e.exit_code(), 1);
            invalid += 1;
        }
    }
    assert!(valid >= 4, "valid certificates checked: {valid}");
    assert!(invalid >= 8, "invalid certificates checked: {invalid}");
}

#[test]
fn opening_of_another_commitment_fails() {
    let v = vectors().into_iter().find(|v| v["valid"] == true).unwrap();
    let (bytes, mut statement) = opening_for(&v).unwrap();
    statement.recipient_commitment += Fr::from(1u64);
    let e = check_opening(&bytes, &statement).unwrap_err();
    assert!(matches!(e, OpeningCheckError::Mismatch(_)));
    assert_eq!(e.exit_code(), 1);
    assert!(matches!(
        check_opening(b"{}", &statement),
        Err(OpeningCheckError::Malformed(_))
    ));
}

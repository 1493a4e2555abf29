//! The directory documents in `testdata/directory/` (seeds for the `directory` fuzz target and
//! examples for integrators): they parse, their receipt-key certificates verify, and a client
//! starts a real Signal session from the bundle. `LETRO_REGENERATE=1` writes them anew.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use letro_api::directory::{PrekeyBundle, PrekeyUpload};
use letro_client::{Client, Message};
use letro_verifier::certificate::verify_certificate;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/directory")
}

#[test]
fn committed_directory_documents_parse_verify_and_start_a_session() {
    if std::env::var_os("LETRO_REGENERATE").is_some() {
        let state = tempfile::tempdir().unwrap();
        let bob = Client::create(state.path(), "bob").unwrap();
        let upload = bob.prekey_upload();
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(dir().join("upload.json"), upload.to_json()).unwrap();
        let first = upload.one_time_prekeys.first().cloned();
        std::fs::write(dir().join("bundle.json"), upload.to_bundle(first).to_json()).unwrap();
    }
    let (upload, binding) =
        PrekeyUpload::parse(&std::fs::read(dir().join("upload.json")).unwrap()).unwrap();
    verify_certificate(&binding.certificate, binding.receipt_key.point()).unwrap();
    assert_eq!(upload.account, "bob");
    assert!(!upload.one_time_prekeys.is_empty());
    let bytes = std::fs::read(dir().join("bundle.json")).unwrap();
    let (bundle, bundle_binding) = PrekeyBundle::parse(&bytes).unwrap();
    assert_eq!(bundle_binding, binding);
    assert_eq!(
        bundle.one_time_prekey.as_ref(),
        upload.one_time_prekeys.first()
    );

    // A real client accepts the committed bundle and encrypts to it (libsignal checks the
    // prekey signatures, the Kyber one included).
    let state = tempfile::tempdir().unwrap();
    let mut alice = Client::create(state.path(), "alice").unwrap();
    alice.start_session("bob", &bundle).unwrap();
    let envelope = alice
        .encrypt(
            "bob",
            &Message {
                body: "hello".into(),
                attachments: vec![],
            },
        )
        .unwrap();
    assert!(
        envelope.len() > 1569,
        "a PreKey message carries the Kyber ciphertext"
    );

    // A bundle whose signed prekey signature is damaged is refused by the session setup.
    let mut bad = bundle.clone();
    bad.signed_prekey.signature[5] ^= 1;
    let state = tempfile::tempdir().unwrap();
    let mut carol = Client::create(state.path(), "carol").unwrap();
    assert!(carol.start_session("bob", &bad).is_err());
}

//! `VerifierKey::parse`, `SignerKey::parse` and their cosigner (type 0x04) twins on arbitrary
//! text: never panic; a key that parses formats back to exactly its input, and parses again to
//! the same key; no text is both a note key and a cosigner key.
#![no_main]

use letro_log::cosignature::{CosignerKey, CosignerSigner};
use letro_log::note::{SignerKey, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match VerifierKey::parse(text) {
        Ok(k) => {
            let s = k.to_string();
            assert_eq!(s, text, "verifier key not formatted back exactly");
            assert_eq!(VerifierKey::parse(&s).map(|k2| k2.to_string()), Ok(s));
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
    match SignerKey::parse(text) {
        Ok(k) => {
            let s = k.to_private_string();
            assert_eq!(s, text, "signer key not formatted back exactly");
            assert_eq!(k.verifier_key().name(), k.name());
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
    match CosignerKey::parse(text) {
        Ok(k) => {
            assert_eq!(
                k.to_string(),
                text,
                "cosigner key not formatted back exactly"
            );
            assert!(VerifierKey::parse(text).is_err(), "a key of two types");
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
    match CosignerSigner::parse(text) {
        Ok(k) => {
            assert_eq!(
                k.to_private_string(),
                text,
                "cosigner signer key not formatted back"
            );
            assert!(SignerKey::parse(text).is_err(), "a signer key of two types");
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
});

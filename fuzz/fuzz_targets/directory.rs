//! `PrekeyUpload::parse` and `PrekeyBundle::parse` on arbitrary bytes: never panic, and what
//! parses re-encodes to a document that parses to the same value.
#![no_main]

use letro_api::directory::{PrekeyBundle, PrekeyUpload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match PrekeyUpload::parse(data) {
        Ok((upload, binding)) => {
            let again =
                PrekeyUpload::parse(upload.to_json().as_bytes()).expect("an encoded upload parses");
            assert_eq!(
                again,
                (upload.clone(), binding),
                "parse(encode(parse(b))) != parse(b)"
            );
            let first = upload.one_time_prekeys.first().cloned();
            let bundle = upload.to_bundle(first);
            PrekeyBundle::parse(bundle.to_json().as_bytes()).expect("a bundle of an upload parses");
        }
        Err(e) => {
            letro_fuzz::render_error(&e);
        }
    }
    match PrekeyBundle::parse(data) {
        Ok((bundle, binding)) => {
            let again =
                PrekeyBundle::parse(bundle.to_json().as_bytes()).expect("an encoded bundle parses");
            assert_eq!(
                again,
                (bundle, binding),
                "parse(encode(parse(b))) != parse(b)"
            );
        }
        Err(e) => {
            letro_fuzz::render_error(&e);
        }
    }
});

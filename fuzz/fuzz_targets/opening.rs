//! `Opening::parse` on arbitrary bytes: never panics, and what parses re-encodes canonically to
//! a document that parses to the same value.
#![no_main]

use letro_core::bundle::Opening;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opening = match Opening::parse(data) {
        Ok(o) => o,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let encoded = opening.encode();
    let reparsed = Opening::parse(encoded.as_bytes()).expect("the canonical encoding parses");
    assert_eq!(reparsed, opening, "parse(encode(parse(b))) != parse(b)");
    assert_eq!(reparsed.encode(), encoded, "the encoding is not canonical");
    // Checking against its own commitment is a Poseidon hash: it may fail, never panic.
    let _ = opening.check(&opening.recipient_commitment);
    let _ = opening.recipient_fingerprint();
});

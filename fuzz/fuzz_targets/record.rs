//! `DeliveryRecord::parse` on arbitrary bytes: never panics, and what parses re-encodes
//! canonically to a document that parses to the same value.
#![no_main]

use letro_core::bundle::{DeliveryRecord, Opening};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let record = match DeliveryRecord::parse(data) {
        Ok(r) => r,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let encoded = record.encode().expect("a parsed record encodes");
    let reparsed =
        DeliveryRecord::parse(encoded.as_bytes()).expect("the canonical encoding parses");
    assert_eq!(reparsed, record, "parse(encode(parse(b))) != parse(b)");
    assert_eq!(
        reparsed.encode().expect("a parsed record encodes"),
        encoded,
        "the encoding is not canonical"
    );
    // The opening derived from a record is a valid opening document.
    let opening = record.opening();
    assert_eq!(Opening::parse(opening.encode().as_bytes()), Ok(opening));
    let _ = record.statement(0, u64::MAX);
    let _ = record.checkpoint.verify(&[letro_fuzz::test_log_key()]);
});

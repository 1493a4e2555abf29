//! `EvidenceRecord::parse` on arbitrary bytes: never panics, and what parses re-encodes to a
//! record that parses to the same value; recomputing its leaf and checking the recipient's
//! signature may fail, never panic.
#![no_main]

use letro_core::evidence::EvidenceRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let record = match EvidenceRecord::parse(data) {
        Ok(r) => r,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let encoded = record.encode().expect("a parsed record encodes");
    let reparsed = EvidenceRecord::parse(encoded.as_bytes()).expect("the encoding parses");
    assert_eq!(reparsed, record, "parse(encode(parse(b))) != parse(b)");
    let _ = record.leaf();
    let _ = record.check_recipient_signature();
    let _ = record.to_etsi_xml();
});

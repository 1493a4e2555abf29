//! `Bundle::parse` on arbitrary bytes: never panics, and what parses re-encodes canonically to
//! a document that parses to the same value.
#![no_main]

use letro_core::bundle::{Bundle, ParsedBundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Bundle::parse(data);
    // `ParsedBundle::parse` is documented as the same function.
    assert_eq!(ParsedBundle::parse(data), parsed);
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    let encoded = parsed.encode().expect("a parsed bundle encodes");
    let reparsed = Bundle::parse(encoded.as_bytes()).expect("the canonical encoding parses");
    assert_eq!(reparsed, parsed, "parse(encode(parse(b))) != parse(b)");
    assert_eq!(
        reparsed.encode().expect("a parsed bundle encodes"),
        encoded,
        "the encoding is not canonical"
    );
    // The checkpoint text is kept byte for byte and is itself a well-formed signed checkpoint.
    let text = parsed.checkpoint_text();
    assert_eq!(
        letro_log::checkpoint::SignedCheckpoint::parse(&text).as_ref(),
        Ok(&parsed.checkpoint)
    );
    let _ = parsed.checkpoint.verify(&[letro_fuzz::test_log_key()]);
});

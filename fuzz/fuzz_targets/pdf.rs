//! `letro_verifier::pdf::attachments` (the PDF reader behind `letro-verify` on evidence
//! certificates) on arbitrary bytes: never panics; what it accepts keeps the reader's documented
//! limits: at most `MAX_ATTACHMENTS` attachments, each at most `MAX_ATTACHMENT_BYTES` (1 MiB),
//! with non-empty names without control characters, no two the same. Every error formats.
#![no_main]

use std::collections::BTreeSet;

use letro_verifier::pdf::{self, MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let attachments = match pdf::attachments(data) {
        Ok(a) => a,
        Err(e) => {
            letro_fuzz::render_error(&e);
            return;
        }
    };
    assert!(pdf::is_pdf(data), "a file without %PDF- was read");
    assert!(
        attachments.len() <= MAX_ATTACHMENTS,
        "{} attachments, more than {MAX_ATTACHMENTS}",
        attachments.len()
    );
    let mut names = BTreeSet::new();
    for a in &attachments {
        assert!(
            a.bytes.len() <= MAX_ATTACHMENT_BYTES,
            "attachment {:?} is {} bytes, more than {MAX_ATTACHMENT_BYTES}",
            a.name,
            a.bytes.len()
        );
        assert!(!a.name.is_empty(), "an attachment with an empty name");
        assert!(
            !a.name.chars().any(char::is_control),
            "the attachment name {:?} has a control character",
            a.name
        );
        assert!(
            names.insert(a.name.as_str()),
            "two attachments named {:?}",
            a.name
        );
    }
});

//! The evidence records in `testdata/evidence/` (fuzz seeds) parse, and the receipt and refusal
//! in them, signed by circomlibjs (`testdata/vectors/`), verify as the recipient's signatures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use letro_core::evidence::EvidenceRecord;

#[test]
fn every_testdata_record_parses_and_its_signature_verifies() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/evidence");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let r = EvidenceRecord::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        r.check_recipient_signature()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let event = r.facts.event().name();
        assert!(
            name.starts_with(event.split('-').next_back().unwrap())
                || name.starts_with(event.split('-').next().unwrap()),
            "{name} holds {event}"
        );
        n += 1;
    }
    assert_eq!(n, 6, "one record per lifecycle event");
}

//! The sample certificate `testdata/pdf/sample-bundle-certificate.pdf` (the v2 test bundle with
//! its opening): regenerated with `LETRO_REGENERATE=1`; otherwise the stored file must be byte
//! for byte what the code writes now, so that a change to the page shows up as a reviewed
//! diff. To look at it: `pdftoppm -r 100 -png testdata/pdf/sample-bundle-certificate.pdf page`.
//!
//! Also checks the PDF/A-3b identification and the rules of `certificate/src/pdf.rs` that can be
//! seen in the file's object syntax (no validator for PDF/A is available from the registries
//! these machines reach; pyHanko and PDFium read the sealed certificates in
//! `service/tests/suite/certificates.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use letro_certificate::content::Issue;
use letro_verifier::{TrustPolicy, Verifier};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata");

fn sample() -> Vec<u8> {
    let base = format!("{DIR}/bundles/v2/valid");
    let bundle = std::fs::read(format!("{base}/valid-day.bundle.json")).unwrap();
    let opening = std::fs::read(format!("{base}/valid.opening.json")).unwrap();
    let vkey = std::fs::read_to_string(format!("{base}/log.vkey")).unwrap();
    let verifier = Verifier::new(vec![
        letro_log::note::VerifierKey::parse(vkey.trim()).unwrap()
    ])
    .unwrap()
    .with_trust_policy(TrustPolicy::ANY);
    let issue = Issue {
        // 2026-11-21 00:00 UTC: fixed, so that the file is reproducible.
        at: 1_795_219_200,
        sealed_by: None,
    };
    let doc = letro_certificate::certify(&verifier, &bundle, Some(&opening), &issue).unwrap();
    letro_certificate::render(&doc).unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_sample_certificate_is_reproducible_and_identifies_as_pdf_a_3b() {
    let pdf = sample();
    assert_eq!(pdf, sample(), "two renderings of one document differ");
    let path = format!("{DIR}/pdf/sample-bundle-certificate.pdf");
    if std::env::var_os("LETRO_REGENERATE").is_some() {
        std::fs::write(&path, &pdf).unwrap();
    }
    let stored = std::fs::read(&path).unwrap();
    assert!(
        stored == pdf,
        "{path} differs from what the code writes now: look at both (pdftoppm), then \
         regenerate with LETRO_REGENERATE=1"
    );

    // The header and binary marker, the trailer's ID, no encryption or scripts.
    assert!(pdf.starts_with(b"%PDF-1.7\n%"));
    assert!(pdf[10..14].iter().all(|b| *b >= 0x80), "binary marker");
    assert!(contains(&pdf, b"/ID ["));
    for forbidden in [
        &b"/Encrypt"[..],
        b"/JavaScript",
        b"/JS ",
        b"/DeviceRGB",
        b"/DeviceCMYK",
        b"/DeviceGray",
        b"/Transparency",
        b"/NeedAppearances",
    ] {
        assert!(
            !contains(&pdf, forbidden),
            "{}",
            String::from_utf8_lossy(forbidden)
        );
    }
    // XMP metadata, unfiltered, identifying PDF/A-3B.
    let marker = b"/Type /Metadata";
    let at = pdf
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("metadata stream");
    let dict_end = at + pdf[at..].windows(6).position(|w| w == b"stream").unwrap();
    assert!(
        !contains(&pdf[at..dict_end], b"/Filter"),
        "XMP must not be filtered"
    );
    assert!(contains(&pdf, b"<pdfaid:part>3</pdfaid:part>"));
    assert!(contains(
        &pdf,
        b"<pdfaid:conformance>B</pdfaid:conformance>"
    ));
    // Embedded CID fonts, each with its program and a ToUnicode map.
    let count = |needle: &[u8]| pdf.windows(needle.len()).filter(|w| *w == needle).count();
    let fonts = count(b"/FontFile2");
    assert_eq!(fonts, 3);
    assert_eq!(count(b"/ToUnicode"), 3);
    assert_eq!(count(b"/CIDToGIDMap"), 3);
    assert!(contains(&pdf, b"/CalGray"));
    // Associated files: the bundle as the source, the others as supplements.
    assert!(contains(&pdf, b"/AF ["));
    assert_eq!(count(b"/AFRelationship /Source"), 1);
    assert_eq!(count(b"/AFRelationship /Supplement"), 2);
    // The attachments read back exactly.
    let files = letro_verifier::pdf::attachments(&pdf).unwrap();
    let names: Vec<&str> = files.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["bundle.json", "checkpoint.txt", "opening.json"]);
    let bundle = std::fs::read(format!("{DIR}/bundles/v2/valid/valid-day.bundle.json")).unwrap();
    assert_eq!(files[0].bytes, bundle);
}

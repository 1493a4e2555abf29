//! `letro evidence etsi-xml`: a record in the EN 319 522-3 vocabulary, parsed by an XML parser
//! nobody on this team wrote (Python's `xml.etree`); a malformed record is refused and no file
//! is written. `letro evidence certificate`: a PDF only for a document that verifies, never
//! replacing a file without `--force`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

use letro_core::evidence::{EventFacts, EvidenceRecord};
use letro_core::lifecycle::RejectionReason;
use letro_core::statement::CiphertextHash;
use letro_core::Fr;

fn letro(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_letro"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn etsi_xml_export_is_well_formed_and_refuses_bad_records() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("evidence-xml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let record = EvidenceRecord {
        ciphertext_hash: CiphertextHash::of(b"a notice"),
        origin: "relay.example/letro-log".into(),
        policy: "urn:letro:evidence-policy:registered-delivery:v1".into(),
        facts: EventFacts::SubmissionRejected {
            sender: "bank & co <legal>".into(),
            reason: RejectionReason::UnknownRecipient,
            time: 1_764_201_600,
        },
        event_secret: Fr::from(9u64),
        leaf_index: 0,
        tree_size: 1,
        inclusion: vec![],
        checkpoint: "not checked by the export\n".into(),
        timestamps: Vec::new(),
    };
    let input = dir.join("record.json");
    std::fs::write(&input, record.encode().unwrap()).unwrap();
    let xml = dir.join("record.xml");
    let out = letro(&[
        "evidence",
        "etsi-xml",
        input.to_str().unwrap(),
        "--out",
        xml.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An independent parser reads it: the root, its namespace, the event, the sender as given.
    let script = "import sys, xml.etree.ElementTree as E\n\
        ns = {'ns': 'http://uri.etsi.org/19522/v1#'}\n\
        r = E.parse(sys.argv[1]).getroot()\n\
        assert r.tag == '{http://uri.etsi.org/19522/v1#}Evidence', r.tag\n\
        print(r.find('ns:ERDSEventId', ns).text)\n\
        print(r.find('ns:SenderDetails/Identifier', ns).text)\n\
        print(r.find('EventTime').text)\n\
        print(r.find('ns:EventReasons/ns:EventReason/Details', ns).text)\n";
    let py = Command::new("python3")
        .args(["-c", script, xml.to_str().unwrap()])
        .output()
        .expect("python3 runs the independent XML check");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout),
        "http://uri.etsi.org/19522/Event/SubmissionRejection\nbank & co <legal>\n\
         2025-11-27T00:00:00Z\nunknown-recipient\n"
    );
    // The file exists now: without --force it is kept.
    let again = letro(&[
        "evidence",
        "etsi-xml",
        input.to_str().unwrap(),
        "--out",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(3));
    // A malformed record: exit 3, the member named, nothing written.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"version\": \"letro-evidence/v1\"}").unwrap();
    let none = dir.join("none.xml");
    let out = letro(&[
        "evidence",
        "etsi-xml",
        bad.to_str().unwrap(),
        "--out",
        none.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed evidence record"));
    assert!(!none.exists());
}

#[test]
fn certificate_is_written_only_for_a_document_that_verifies() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("evidence-certificate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/bundles/v2/valid");
    let bundle = format!("{base}/valid-day.bundle.json");
    let opening = format!("{base}/valid.opening.json");
    let key = format!("{base}/log.vkey");
    let out = dir.join("c.pdf");
    let o = out.to_str().unwrap();

    // Under the built-in INSECURE-DEV keys only with the flag; nothing written without it.
    let r = letro(&[
        "evidence",
        "certificate",
        &bundle,
        "--log-key",
        &key,
        "--out",
        o,
    ]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("UntrustedVerifyingKey"));
    assert!(!out.exists());
    let args = [
        "evidence",
        "certificate",
        &bundle,
        "--opening",
        &opening,
        "--log-key",
        &key,
        "--accept-insecure-dev-keys",
        "--out",
        o,
    ];
    let r = letro(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let pdf = std::fs::read(&out).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.7"));
    let names: Vec<String> = letro_verifier::pdf::attachments(&pdf)
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["bundle.json", "checkpoint.txt", "opening.json"]);
    // An existing file is kept without --force.
    let r = letro(&args);
    assert_eq!(r.status.code(), Some(3));
    assert_eq!(std::fs::read(&out).unwrap(), pdf);

    // No log key: a usage error. Another log's key, or an opening of another bundle: refused.
    let r = letro(&["evidence", "certificate", &bundle, "--out", o, "--force"]);
    assert_eq!(r.status.code(), Some(2));
    // The same log name, another key.
    let other =
        letro_log::note::SignerKey::from_seed("letro.invalid/INSECURE-DEV-test-log", &[5; 32])
            .unwrap()
            .verifier_key()
            .to_string();
    let other = other.as_str();
    let r = letro(&[
        "evidence",
        "certificate",
        &bundle,
        "--log-key",
        other,
        "--accept-insecure-dev-keys",
        "--out",
        o,
        "--force",
    ]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let r = letro(&[
        "evidence",
        "certificate",
        &bundle,
        "--opening",
        &bundle,
        "--log-key",
        &key,
        "--accept-insecure-dev-keys",
        "--out",
        o,
        "--force",
    ]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("the opening"));
    // Not a document at all.
    let junk = dir.join("junk.json");
    std::fs::write(&junk, b"{\"version\": 7}").unwrap();
    let r = letro(&[
        "evidence",
        "certificate",
        junk.to_str().unwrap(),
        "--log-key",
        &key,
        "--out",
        o,
        "--force",
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        pdf,
        "a refused document replaced the file"
    );
}

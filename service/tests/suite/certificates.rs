//! Evidence certificates over the API (`GET /v1/evidence/{H}/{event}/certificate`): a sealed
//! PDF/A-3 file whose embedded documents verify, whose seal (PAdES, with an RFC 3161
//! time-stamp from a real OpenSSL TSA) is validated by pyHanko, and whose pages PDFium reads
//! and renders, when `LETRO_PDF_PYTHON` names a Python with pyHanko and pypdfium2 (as
//! `.ci/run` sets up).

use crate::common::*;
use crate::tsa::{Key, Mode, Tsa};
use axum::http::StatusCode;
use letro_core::evidence::EvidenceRecord;
use letro_core::statement::CiphertextHash;
use letro_service::Service;
use serde_json::Value;

/// pyHanko's and PDFium's view of `pdf` (testdata/pdf/check_certificate.py), if configured.
fn independent_check(pdf: &[u8], seal_pem: &[u8], tsa_ca: Option<&[u8]>) -> Option<Value> {
    let python = std::env::var_os("LETRO_PDF_PYTHON")?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.pdf"), pdf).unwrap();
    std::fs::write(dir.path().join("seal.pem"), seal_pem).unwrap();
    let tsa_arg = match tsa_ca {
        Some(pem) => {
            std::fs::write(dir.path().join("tsa.pem"), pem).unwrap();
            dir.path().join("tsa.pem").display().to_string()
        }
        None => "-".into(),
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/pdf/check_certificate.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path().join("c.pdf"))
        .arg(dir.path().join("seal.pem"))
        .arg(tsa_arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check_certificate.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

async fn certificate(router: &axum::Router, token: &str, h: &CiphertextHash) -> Vec<u8> {
    let (st, pdf) = call_raw(
        router,
        "GET",
        &format!(
            "/v1/evidence/{}/submission-accepted/certificate",
            h.to_hex()
        ),
        Some(token),
        Vec::new(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-1.7"));
    pdf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_sealed_time_stamped_and_carry_documents_that_verify() {
    let tsa = Tsa::new(Key::EcdsaP256, false);
    let url = tsa.serve();
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut config = config(dir.path());
    config.timestamp_authorities = vec![url];
    let service = Service::start(config).unwrap();
    let router = service.router();

    let ciphertext = b"a notice for the certificate";
    let h = CiphertextHash::of(ciphertext);
    let (_, hash) = submit_and_publish(&service, &router, &tokens, ciphertext).await;
    let stored = wait_timestamps(dir.path(), &hash).await;
    assert_eq!(stored.len(), 1);

    let pdf = certificate(&router, &tokens.sender, &h).await;
    // To look at one: LETRO_CERTIFICATE_SAMPLE=/tmp/sealed.pdf cargo test -p letro-service
    // --test suite certificates::, then pdftoppm -png /tmp/sealed.pdf /tmp/page.
    if let Some(path) = std::env::var_os("LETRO_CERTIFICATE_SAMPLE") {
        std::fs::write(path, &pdf).unwrap();
    }

    // The embedded documents: the record (which verifies), its checkpoint and its token.
    let files = letro_verifier::pdf::attachments(&pdf).unwrap();
    let names: Vec<&str> = files.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let get = |n: &str| &files.iter().find(|a| a.name == n).unwrap().bytes;
    let record = EvidenceRecord::parse(get("evidence.json")).unwrap();
    assert_eq!(record.ciphertext_hash, h);
    assert_eq!(
        get("checkpoint.txt"),
        &record.checkpoint.as_bytes().to_vec()
    );
    assert_eq!(get("timestamp-1.tsr"), &stored[0].token);
    let vkey = letro_log::note::VerifierKey::parse(service.log_vkey()).unwrap();
    let verifier = letro_verifier::Verifier::new(vec![vkey]).unwrap();
    verifier.verify_evidence(get("evidence.json")).unwrap();

    // The seal, by pyHanko; the pages, by PDFium.
    let seal_pem =
        std::fs::read(dir.path().join(letro_service::seal::SEAL_CERTIFICATE_FILE)).unwrap();
    let Some(report) = independent_check(&pdf, &seal_pem, Some(&tsa.ca_pem())) else {
        eprintln!("LETRO_PDF_PYTHON is not set: pyHanko and PDFium checks skipped");
        return;
    };
    let sig = &report["signatures"][0];
    assert_eq!(
        report["signatures"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(sig["subfilter"], "/ETSI.CAdES.detached", "{sig}");
    assert_eq!(sig["intact"], true, "{}", sig["details"]);
    assert_eq!(sig["valid"], true, "{}", sig["details"]);
    assert_eq!(sig["trusted"], true, "{}", sig["details"]);
    assert_eq!(sig["coverage"], "ENTIRE_FILE", "{}", sig["details"]);
    assert_eq!(sig["timestamp"]["intact"], true, "{}", sig["details"]);
    assert_eq!(sig["timestamp"]["trusted"], true, "{}", sig["details"]);
    let pages = report["pages"].as_array().unwrap();
    assert!((1..=2).contains(&pages.len()), "{} pages", pages.len());
    let text: String = pages
        .iter()
        .map(|p| p["text"].as_str().unwrap().replace("\r\n", "\n"))
        .collect();
    assert!(
        text.contains("Evidence certificate: submission accepted"),
        "{text}"
    );
    assert!(text.contains(&h.to_hex()), "{text}");
    assert!(text.contains("What this evidence does not prove"), "{text}");
    for p in pages {
        assert!((p["width"].as_f64().unwrap() - 595.28).abs() < 0.1);
        assert!(
            p["ink_fraction"].as_f64().unwrap() > 0.01,
            "a blank page: {p}"
        );
    }

    // One byte of the file changed (the title in its metadata): the seal is broken, and
    // pyHanko says so.
    let mut altered = pdf.clone();
    let marker = b"x-default\">Evidence";
    let at = altered
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    altered[at + marker.len() - 8] = b'X';
    let report = independent_check(&altered, &seal_pem, Some(&tsa.ca_pem())).unwrap();
    assert_eq!(report["signatures"][0]["intact"], false, "{report}");

    // With the TSA down, the certificate is still issued, sealed without a time-stamp.
    tsa.set_mode(Mode::Down);
    let pdf = certificate(&router, &tokens.sender, &h).await;
    let report = independent_check(&pdf, &seal_pem, Some(&tsa.ca_pem())).unwrap();
    let sig = &report["signatures"][0];
    assert_eq!(sig["intact"], true, "{}", sig["details"]);
    assert_eq!(sig["trusted"], true, "{}", sig["details"]);
    assert!(sig["timestamp"].is_null(), "{sig}");
}

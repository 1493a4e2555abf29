//! RFC 3161 time-stamps of published checkpoints (SPEC §5.13) with real TSAs: OpenSSL's
//! `openssl ts -reply` behind an HTTP handler, with a test CA. The honest TSA's token is kept
//! with the checkpoint and carried by evidence records, verified by letro-verifier, by
//! `openssl ts -verify`, and (when `LETRO_RFC3161_PYTHON` names a Python with the
//! `rfc3161-client` package, as `.ci/run` sets up) by that independent implementation. TSAs
//! that are down, answer garbage or stamp other bytes delay nothing and store nothing.

use crate::common::*;
use crate::tsa::{Key, Mode, Tsa};
use axum::http::StatusCode;
use letro_core::evidence::EvidenceRecord;
use letro_core::statement::CiphertextHash;
use letro_service::Service;
use letro_verifier::evidence::EvidenceVerifyError;
use letro_verifier::timestamps::{certificates_from_pem, TokenOutcome};

/// Checks `token` over `data` with the rfc3161-client Python package, if configured.
fn rfc3161_client_verifies(token: &[u8], data: &[u8], ca_pem: &[u8]) -> Option<bool> {
    let python = std::env::var_os("LETRO_RFC3161_PYTHON")?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.der"), token).unwrap();
    std::fs::write(dir.path().join("data"), data).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/tsa/rfc3161_client_check.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    eprintln!(
        "rfc3161-client: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_checkpoints_are_time_stamped_and_records_carry_the_tokens() {
    let honest = Tsa::new(Key::Rsa, false);
    let down = Tsa::new(Key::EcdsaP256, false);
    let garbage = Tsa::new(Key::EcdsaP256, false);
    let wrong = Tsa::new(Key::EcdsaP384, false);
    down.set_mode(Mode::Down);
    garbage.set_mode(Mode::Garbage);
    wrong.set_mode(Mode::WrongImprint);
    let urls = [honest.serve(), down.serve(), garbage.serve(), wrong.serve()];

    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut config = config(dir.path());
    config.timestamp_authorities = urls.to_vec();
    let service = Service::start(config).unwrap();
    let router = service.router();

    let ciphertext = b"a notice, encrypted";
    let h = CiphertextHash::of(ciphertext);
    // Publication does not wait for any TSA.
    let (body, hash) = submit_and_publish(&service, &router, &tokens, ciphertext).await;

    // The time-stamping task asks every TSA; only the honest one's token is stored.
    wait_timestamps(dir.path(), &hash).await;
    for _ in 0..200 {
        let metrics = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
        let text = metrics.1.as_str().map(str::to_owned).unwrap_or_default();
        if text.contains("outcome=\"unreachable\"")
            && text.matches("outcome=\"invalid\"").count() >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stored = open_store(dir.path()).timestamps(&hash).unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].tsa, urls[0]);
    assert!(stored[0].time.abs_diff(letro_service::unix_now()) < 120);
    assert!(honest.openssl_verifies(&stored[0].token, body.as_bytes()));
    if let Some(ok) = rfc3161_client_verifies(&stored[0].token, body.as_bytes(), &honest.ca_pem()) {
        assert!(ok, "rfc3161-client refused the stored token");
    }

    // The evidence record carries it; letro-verifier trusts it through the test CA only.
    let (st, record) = call_raw(
        &router,
        "GET",
        &format!("/v1/evidence/{}/submission-accepted", h.to_hex()),
        Some(&tokens.sender),
        Vec::new(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&record));
    let parsed = EvidenceRecord::parse(&record).unwrap();
    assert_eq!(parsed.timestamps, vec![stored[0].token.clone()]);
    let vkey = letro_log::note::VerifierKey::parse(service.log_vkey()).unwrap();
    let verifier = letro_verifier::Verifier::new(vec![vkey]).unwrap();
    let v = verifier.verify_evidence(&record).unwrap();
    assert!(matches!(
        &v.timestamps[..],
        [TokenOutcome::Untrusted { .. }]
    ));
    let trusting = verifier
        .clone()
        .with_tsa_certificates(certificates_from_pem(&honest.ca_pem()).unwrap());
    let v = trusting.verify_evidence(&record).unwrap();
    let [TokenOutcome::Trusted(stamp)] = &v.timestamps[..] else {
        panic!("{:?}", v.timestamps)
    };
    assert_eq!(stamp.time, stored[0].time);
    assert!(v.checkpoint.time <= stamp.time + 1);
    // Another TSA's CA does not vouch for it.
    let other = verifier
        .clone()
        .with_tsa_certificates(certificates_from_pem(&wrong.ca_pem()).unwrap());
    let v = other.verify_evidence(&record).unwrap();
    assert!(matches!(
        &v.timestamps[..],
        [TokenOutcome::Untrusted { .. }]
    ));

    // An altered token fails the record (step 5), trusted or not.
    let mut altered = parsed.clone();
    *altered.timestamps[0].last_mut().unwrap() ^= 1;
    let altered = altered.encode().unwrap();
    for v in [&verifier, &trusting] {
        let e = v.verify_evidence(altered.as_bytes()).unwrap_err();
        assert!(matches!(e, EvidenceVerifyError::Timestamp(_)), "{e}");
        assert_eq!(
            (e.step(), e.exit_code(), e.code()),
            (5, 1, "Timestamp.Invalid")
        );
    }
    // A token of another checkpoint fails too.
    let mut moved = parsed.clone();
    moved.timestamps = vec![honest.stamp(b"another checkpoint\n")];
    let e = trusting
        .verify_evidence(moved.encode().unwrap().as_bytes())
        .unwrap_err();
    assert!(matches!(e, EvidenceVerifyError::Timestamp(_)), "{e}");

    drop(router);
    service.shutdown().await;
    // The rejected answers left nothing behind.
    assert_eq!(open_store(dir.path()).timestamps(&hash).unwrap().len(), 1);
}

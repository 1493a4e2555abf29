//! Proof jobs through the real router: a bundle the verifier accepts, the refusals, and a
//! queued job that resumes after a restart.

use std::time::Duration;

use crate::common::*;
use axum::http::StatusCode;
use axum::Router;
use letro_core::bundle::format_time;
use letro_core::statement::CiphertextHash;
use letro_service::store::SqliteStore;
use letro_service::{unix_now, Service};
use letro_verifier::checks::check_opening;
use letro_verifier::Verifier;
use serde_json::{json, Value};

fn window(h: &[u8], not_before: u64, not_after: u64) -> Value {
    json!({
        "ciphertext_sha256": CiphertextHash::of(h).to_hex(),
        "not_before": format_time(not_before).unwrap(),
        "not_after": format_time(not_after).unwrap(),
    })
}

/// Logs a submission by "bank" routed to "r" and its receipt at `t`, signed by the key with
/// seed 7, which "r" certifies.
async fn deliver(router: &Router, tokens: &Tokens, ciphertext: &[u8], t: u64) {
    certify(router, &tokens.admin, "r", 7).await;
    let relay = tokens.relay.as_str();
    let (st, v) = call(
        router,
        "POST",
        "/v1/submissions",
        Some(relay),
        Some(submission(ciphertext, "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = call(
        router,
        "POST",
        "/v1/receipts",
        Some(relay),
        Some(receipt(ciphertext, 7, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
}

/// Delivers `letter` at `t`, publishes a checkpoint and asks for a proof that it was delivered
/// within a minute of `t`: the new job's id.
async fn ask_for_a_letter(router: &Router, tokens: &Tokens, service: &Service, t: u64) -> String {
    deliver(router, tokens, b"letter", t).await;
    service.state().publish().await.unwrap();
    let (st, v) = call(
        router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window(b"letter", t - 60, t + 60)),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    v["job_id"].as_str().unwrap().to_owned()
}

/// Polls a job until it is done or failed.
async fn wait_for(router: &Router, token: &str, job_id: &str) -> Value {
    for _ in 0..1200 {
        let (st, v) = call(
            router,
            "GET",
            &format!("/v1/proofs/{job_id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        match v["state"].as_str().unwrap() {
            "queued" | "running" => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => return v,
        }
    }
    panic!("job {job_id} did not finish in 120 s");
}

/// Checks a done job's bundle with the verifier (trusting the service's log key) and its
/// opening against the verified statement.
fn check_done(dir: &std::path::Path, job: &Value, ciphertext: &[u8], t: u64) {
    assert_eq!(job["state"], "done", "{job}");
    assert!(job.get("error").is_none(), "{job}");
    let log_key = letro_service::keys::load_or_create(dir, ORIGIN).unwrap();
    let verifier = Verifier::new(vec![log_key.verifier_key()]).unwrap();
    let bundle = job["bundle"].as_str().unwrap();
    let verified = verifier.verify(bundle.as_bytes()).unwrap();
    let statement = verified.statement();
    assert_eq!(statement.ciphertext_hash, CiphertextHash::of(ciphertext));
    assert!(statement.not_before <= t && t <= statement.not_after);
    let opening = job["opening"].as_str().unwrap();
    check_opening(opening.as_bytes(), statement).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_job_yields_a_bundle_the_verifier_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    // The production prover: with the key's fixed-base tables (the tests' default is without).
    let mut cfg = config(dir.path());
    cfg.prover_tables = true;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    // Front-running: before the recipient's genuine receipt arrives, receipts by a key nobody
    // certified and by a key another account certified are posted for the same H. Both are
    // refused, change nothing, and do not block the genuine one.
    certify(&router, &tokens.admin, "r", 7).await;
    certify(&router, &tokens.admin, "mallory", 9).await;
    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(b"letter", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    for seed in [8, 9] {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/receipts",
            Some(&tokens.relay),
            Some(receipt(b"letter", seed, t - 5)),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["code"], "uncertified_receipt_key", "{v}");
    }
    let (st, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        Some(&tokens.relay),
        Some(receipt(b"letter", 7, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    service.state().publish().await.unwrap();

    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window(b"letter", t - 3600, t + 3600)),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["state"], "queued");
    let job_id = v["job_id"].as_str().unwrap().to_owned();
    let job = wait_for(&router, &tokens.sender, &job_id).await;
    check_done(dir.path(), &job, b"letter", t);
    // The proved delivery is the genuine one: the opening names the key with seed 7 and
    // carries the certificate by "r"'s identity key (check_done verified its signature).
    let opening: Value = serde_json::from_str(job["opening"].as_str().unwrap()).unwrap();
    let a = letro_core::eddsa::PrivateKey::from_bytes([7; 32]).public_key();
    assert_eq!(
        opening["receipt_key"]["x"],
        letro_core::field::fr_to_decimal(&a.point().x)
    );
    let identity = xeddsa::TestIdentity::from_seed(7 + 128);
    let certificate = identity.certify(a.point());
    assert_eq!(
        opening["receipt_key_certificate"]["identity_key"],
        serde_json::to_value(&certificate).unwrap()["identity_key"]
    );
    // The metrics count the job (the counter moves just after the job is stored as done).
    let mut text = Value::Null;
    for _ in 0..100 {
        (_, text) = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
        if text
            .as_str()
            .unwrap()
            .contains("letro_proof_jobs_total{state=\"done\"} 1\n")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = text.as_str().unwrap();
    assert!(
        text.contains("letro_proof_jobs_total{state=\"done\"} 1\n")
            && text.contains("letro_proof_jobs_total{state=\"queued\"} 1\n")
            && text.contains("letro_proof_jobs_total{state=\"failed\"} 0\n")
            && text.contains("letro_proof_jobs_unfinished 0\n"),
        "{text}"
    );

    // Only the owner sees the job: another sender gets 404, the relay and admin 403.
    let other = {
        let mut store = open_store(dir.path());
        letro_service::auth::issue_token(
            store.as_mut(),
            letro_service::auth::Role::Sender,
            "other-bank",
            unix_now() + 3600,
            "cli",
        )
        .unwrap()
        .0
    };
    drop(router);
    service.shutdown().await;
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let uri = format!("/v1/proofs/{job_id}");
    let (st, v) = call(&router, "GET", &uri, Some(&other), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "not_found");
    let (st, _) = call(&router, "GET", &uri, Some(&tokens.admin), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The owner still reads the same done job after the restart.
    let (st, again) = call(&router, "GET", &uri, Some(&tokens.sender), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again, job);
    // Its sealed evidence certificate embeds the job's bundle and opening, which verify from
    // the PDF; another sender gets 404, as for the job.
    let cert_uri = format!("{uri}/certificate");
    let (st, pdf) = call_raw(&router, "GET", &cert_uri, Some(&tokens.sender), Vec::new()).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    let files = letro_verifier::pdf::attachments(&pdf).unwrap();
    let get = |n: &str| files.iter().find(|a| a.name == n).unwrap().bytes.clone();
    assert_eq!(
        get("bundle.json"),
        job["bundle"].as_str().unwrap().as_bytes()
    );
    assert_eq!(
        get("opening.json"),
        job["opening"].as_str().unwrap().as_bytes()
    );
    let vkey = letro_log::note::VerifierKey::parse(service.log_vkey()).unwrap();
    let verified = letro_verifier::Verifier::new(vec![vkey])
        .unwrap()
        .verify(&get("bundle.json"))
        .unwrap();
    letro_verifier::checks::check_opening_for(&get("opening.json"), &verified).unwrap();
    assert!(pdf.windows(19).any(|w| w == b"ETSI.CAdES.detached"));
    let (st, v) = call(&router, "GET", &cert_uri, Some(&other), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, v) = call(
        &router,
        "GET",
        "/v1/proofs/nope",
        Some(&tokens.sender),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    drop(router);
    service.shutdown().await;
}

#[tokio::test]
async fn proof_requests_that_cannot_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    deliver(&router, &tokens, b"published", t).await;
    // Another sender's message, delivered and published.
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(json!({
            "ciphertext_sha256": CiphertextHash::of(b"theirs").to_hex(),
            "sender": "other-bank",
            "routing": "r",
        })),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = call(
        &router,
        "POST",
        "/v1/receipts",
        Some(&tokens.relay),
        Some(receipt(b"theirs", 7, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    // Submitted but not delivered.
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(b"in transit", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    service.state().publish().await.unwrap();
    // Delivered after the last checkpoint.
    deliver(&router, &tokens, b"fresh", t).await;

    let wide = (t - 3600, t + 3600);
    let cases: [(&str, Value, StatusCode, &str, &str); 7] = [
        (
            "unknown H",
            window(b"never sent", wide.0, wide.1),
            StatusCode::NOT_FOUND,
            "not_found",
            "no message with this ciphertext_sha256 was submitted by this sender",
        ),
        (
            "another sender's H",
            window(b"theirs", wide.0, wide.1),
            StatusCode::NOT_FOUND,
            "not_found",
            "no message with this ciphertext_sha256 was submitted by this sender",
        ),
        (
            "not delivered",
            window(b"in transit", wide.0, wide.1),
            StatusCode::CONFLICT,
            "not_delivered",
            "no delivery receipt is logged for this ciphertext yet",
        ),
        (
            "window ends before t",
            window(b"published", t - 3600, t - 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_window",
            "the delivery time",
        ),
        (
            "window starts after t",
            window(b"published", t + 1, t + 3600),
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_window",
            "is outside the window",
        ),
        (
            "inverted window",
            window(b"published", t + 1, t - 1),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "not_before is later than not_after",
        ),
        (
            "not yet published",
            window(b"fresh", wide.0, wide.1),
            StatusCode::CONFLICT,
            "not_published",
            "the delivery is not yet published; retry after the next checkpoint",
        ),
    ];
    for (what, body, status, code, message) in cases {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/proofs",
            Some(&tokens.sender),
            Some(body),
        )
        .await;
        assert_eq!(st, status, "{what}: {v}");
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        let got = v["error"]["message"].as_str().unwrap();
        assert!(got.contains(message), "{what}: {got}");
    }
    // Malformed times say which field is wrong.
    let mut body = window(b"published", wide.0, wide.1);
    body["not_after"] = json!("2025-11-27 00:00:00");
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(body),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("not_after"),
        "{v}"
    );

    // Once a checkpoint covers it, the same request is accepted.
    service.state().publish().await.unwrap();
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window(b"fresh", wide.0, wide.1)),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    drop(router);
    service.shutdown().await;
}

/// Deliveries logged before statement v2 (a v1 leaf without a per-event secret, or a receipt
/// without its certificate) are refused as `not_provable`, by the API for new requests and by
/// the prover for a job queued before: never proved, never an opening without a certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_logged_before_v2_are_not_provable() {
    let dir = tempfile::tempdir().unwrap();
    // Rows and locks of the SQLite file itself: on SQLite whatever LETRO_TEST_STORE says.
    let tokens = issue_tokens_into(&mut SqliteStore::open(dir.path()).unwrap());
    let mut cfg = sqlite_config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    deliver(&router, &tokens, b"no secret", t).await;
    deliver(&router, &tokens, b"no certificate", t).await;
    service.state().publish().await.unwrap();
    let wide = (t - 3600, t + 3600);
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window(b"no secret", wide.0, wide.1)),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let queued = v["job_id"].as_str().unwrap().to_owned();
    drop(router);
    service.shutdown().await;

    // Make the two delivered events look as an older release stored them.
    {
        let db = rusqlite::Connection::open(dir.path().join("letro.sqlite3")).unwrap();
        let n = db
            .execute(
                "UPDATE leaves SET event_secret = NULL WHERE idx = \
                 (SELECT idx FROM receipts WHERE h = ?1)",
                [&CiphertextHash::of(b"no secret").0[..]],
            )
            .unwrap();
        assert_eq!(n, 1);
        let (idx, event): (i64, String) = db
            .query_row(
                "SELECT l.idx, l.event FROM receipts r JOIN leaves l ON l.idx = r.idx \
                 WHERE r.h = ?1",
                [&CiphertextHash::of(b"no certificate").0[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut event: Value = serde_json::from_str(&event).unwrap();
        assert!(event["receipt_key_certificate"].is_object(), "{event}");
        event
            .as_object_mut()
            .unwrap()
            .remove("receipt_key_certificate");
        db.execute(
            "UPDATE leaves SET event = ?1 WHERE idx = ?2",
            rusqlite::params![event.to_string(), idx],
        )
        .unwrap();
    }

    let service = Service::start(sqlite_config(dir.path())).unwrap();
    let router = service.router();
    // The job queued before is refused by the prover, with a reason it may read.
    let job = wait_for(&router, &tokens.sender, &queued).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "not_provable", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per-event secret"),
        "{job}"
    );
    assert!(job.get("opening").is_none() && job.get("bundle").is_none());
    for (ciphertext, why) in [
        (&b"no secret"[..], "per-event secret"),
        (&b"no certificate"[..], "receipt-key certificates"),
    ] {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/proofs",
            Some(&tokens.sender),
            Some(window(ciphertext, wide.0, wide.1)),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], "not_provable", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{v}");
    }
    drop(router);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    // No provers: the job is stored and stays queued.
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    let job_id = ask_for_a_letter(&router, &tokens, &service, t).await;
    let uri = format!("/v1/proofs/{job_id}");
    let (_, v) = call(&router, "GET", &uri, Some(&tokens.sender), None).await;
    assert_eq!(v["state"], "queued");
    drop(router);
    service.shutdown().await;

    // A service with a prover picks the stored job up at start.
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let job = wait_for(&router, &tokens.sender, &job_id).await;
    check_done(dir.path(), &job, b"letter", t);
    drop(router);
    service.shutdown().await;
}

/// A callback receiver on 127.0.0.1 that answers `status` and forwards each body.
async fn callback_receiver(
    status: StatusCode,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use axum::routing::post;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/notify",
        post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(v);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

/// Asks for a proof of `ciphertext` around `t` with a callback URL; returns the answer.
async fn ask_with_callback(
    router: &Router,
    token: &str,
    t: u64,
    url: String,
) -> (StatusCode, Value) {
    let mut req = window(b"attest", t - 60, t + 60);
    req["callback_url"] = json!(url);
    call(router, "POST", "/v1/proofs", Some(token), Some(req)).await
}

/// Polls a job until its callback state is `want` (or 5 s pass); returns the last state.
async fn callback_state(router: &Router, token: &str, job_id: &str, want: &str) -> Value {
    let mut state = Value::Null;
    for _ in 0..100 {
        let (_, v) = call(
            router,
            "GET",
            &format!("/v1/proofs/{job_id}"),
            Some(token),
            None,
        )
        .await;
        state = v["callback"].clone();
        if state == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_notifies_its_callback_url_and_a_failing_one_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let (good, mut notices) = callback_receiver(StatusCode::NO_CONTENT).await;
    let (bad, mut refused) = callback_receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let mut cfg = config(dir.path());
    cfg.callback_hosts = vec![good.clone(), bad.clone()];
    cfg.callback_backoff = Duration::from_millis(10);
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    deliver(&router, &tokens, b"attest", t).await;
    service.state().publish().await.unwrap();

    // Refused callback URLs, before any job is made.
    for (url, why) in [
        ("http://elsewhere.example/notify".to_owned(), "not among"),
        ("https://elsewhere.example/notify".to_owned(), "not among"),
        ("file:///etc/passwd".to_owned(), "https:// or http://"),
    ] {
        let (st, v) = ask_with_callback(&router, &tokens.sender, t, url.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert_eq!(v["error"]["code"], "callback_refused");
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{v}");
    }

    let (st, v) =
        ask_with_callback(&router, &tokens.sender, t, format!("http://{good}/notify")).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["callback"], "pending");
    let job_id = v["job_id"].as_str().unwrap().to_owned();
    let notice = tokio::time::timeout(Duration::from_secs(120), notices.recv())
        .await
        .unwrap()
        .unwrap();
    // The notice names the job and its state, and carries neither bundle nor opening.
    assert_eq!(notice, json!({"job_id": job_id, "state": "done"}));
    let job = wait_for(&router, &tokens.sender, &job_id).await;
    check_done(dir.path(), &job, b"attest", t);
    assert_eq!(
        callback_state(&router, &tokens.sender, &job_id, "delivered").await,
        "delivered"
    );

    // A receiver that keeps answering 500 is tried ATTEMPTS times, then marked failed.
    let (_, v) =
        ask_with_callback(&router, &tokens.sender, t, format!("http://{bad}/notify")).await;
    let job_id = v["job_id"].as_str().unwrap().to_owned();
    for _ in 0..letro_service::callback::ATTEMPTS {
        let n = tokio::time::timeout(Duration::from_secs(120), refused.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n["job_id"], job_id.as_str());
    }
    assert_eq!(
        callback_state(&router, &tokens.sender, &job_id, "failed").await,
        "failed"
    );
    assert!(refused.try_recv().is_err(), "no attempt after the last");
    drop(router);
    service.shutdown().await;
}

/// A certificate authority made for a test, and a server certificate for `localhost` it
/// signed.
struct TestCa {
    ca_pem: String,
    server: tokio_rustls::TlsAcceptor,
}

fn test_ca() -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    TestCa {
        ca_pem: ca.pem(),
        server: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server)),
    }
}

/// An https callback receiver on 127.0.0.1 with `tls`'s certificate for `localhost`; answers
/// 204 and forwards each body. Returns its port.
async fn tls_callback_receiver(
    tls: tokio_rustls::TlsAcceptor,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use http_body_util::BodyExt;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (tls, tx) = (tls.clone(), tx.clone());
            tokio::spawn(async move {
                // A client that refuses our certificate ends the handshake: nothing to serve.
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let body = req.into_body().collect().await?.to_bytes();
                            let _ = tx.send(serde_json::from_slice::<Value>(&body).unwrap());
                            let mut answer = hyper::Response::new(http_body_util::Empty::<
                                hyper::body::Bytes,
                            >::new(
                            ));
                            *answer.status_mut() = StatusCode::NO_CONTENT;
                            Ok::<_, hyper::Error>(answer)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_callbacks_check_the_receivers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let ours = test_ca();
    let rogue = test_ca();
    let (port, mut notices) = tls_callback_receiver(ours.server.clone()).await;
    let good = format!("localhost:{port}");
    let (port, mut never) = tls_callback_receiver(rogue.server.clone()).await;
    let bad = format!("localhost:{port}");
    // Our CA's certificate, but for `localhost`, reached as 127.0.0.1: the name does not match.
    let (port, mut misnamed) = tls_callback_receiver(ours.server.clone()).await;
    let by_address = format!("127.0.0.1:{port}");
    let ca_file = dir.path().join("hooks-ca.pem");
    std::fs::write(&ca_file, &ours.ca_pem).unwrap();

    // A CA file that is not PEM, or holds no certificate, stops the service from starting.
    for (bad_pem, why) in [
        ("not a certificate\n", "no PEM certificate"),
        ("", "no PEM"),
    ] {
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, bad_pem).unwrap();
        let mut cfg = config(dir.path());
        cfg.callback_ca_file = Some(broken);
        let e = Service::start(cfg).err().expect("refused");
        assert!(e.to_string().contains(why), "{e}");
    }
    let mut cfg = config(dir.path());
    cfg.callback_ca_file = Some(dir.path().join("missing.pem"));
    let e = Service::start(cfg).err().expect("refused");
    assert!(e.to_string().contains("callback_ca_file"), "{e}");

    let mut cfg = config(dir.path());
    cfg.callback_hosts = vec![good.clone(), bad.clone(), by_address.clone()];
    cfg.callback_backoff = Duration::from_millis(10);
    cfg.callback_ca_file = Some(ca_file);
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    deliver(&router, &tokens, b"attest", t).await;
    service.state().publish().await.unwrap();

    // The receiver whose certificate our CA signed gets the notice over TLS.
    let (st, v) =
        ask_with_callback(&router, &tokens.sender, t, format!("https://{good}/notify")).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job_id = v["job_id"].as_str().unwrap().to_owned();
    let notice = tokio::time::timeout(Duration::from_secs(120), notices.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice, json!({"job_id": job_id, "state": "done"}));
    assert_eq!(
        callback_state(&router, &tokens.sender, &job_id, "delivered").await,
        "delivered"
    );

    // One with a certificate from an unknown CA, and one whose certificate (from our CA) names
    // another host, never get a request: every attempt stops at the TLS handshake, and the
    // callback ends failed.
    for (host, receiver) in [(bad, &mut never), (by_address, &mut misnamed)] {
        let url = format!("https://{host}/notify");
        let (st, v) = ask_with_callback(&router, &tokens.sender, t, url).await;
        assert_eq!(st, StatusCode::ACCEPTED, "{v}");
        let job_id = v["job_id"].as_str().unwrap().to_owned();
        wait_for(&router, &tokens.sender, &job_id).await;
        assert_eq!(
            callback_state(&router, &tokens.sender, &job_id, "failed").await,
            "failed",
            "{host}"
        );
        assert!(receiver.try_recv().is_err(), "no notice to {host}");
    }
    drop(router);
    service.shutdown().await;
}

#[tokio::test]
async fn a_sender_may_have_only_so_many_unfinished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    cfg.max_jobs_per_sender = 2;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    deliver(&router, &tokens, b"limit", t).await;
    service.state().publish().await.unwrap();
    for _ in 0..2 {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/proofs",
            Some(&tokens.sender),
            Some(window(b"limit", t - 9, t + 9)),
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    }
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window(b"limit", t - 9, t + 9)),
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_jobs");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 unfinished"));
    let (st, text) = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        text.as_str()
            .unwrap()
            .contains("letro_proof_jobs_unfinished 2\n"),
        "{text}"
    );
    drop(router);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_proves_with_its_own_keys_directory() {
    // A keys directory that is not built in (a fresh development setup stands in for a
    // deployment's ceremony keys: what matters here is that nothing else has its key).
    let keys = tempfile::tempdir().unwrap();
    let pk = letro_prover::keys::setup_insecure_dev(&mut rand::rngs::OsRng).unwrap();
    let m = letro_prover::keys::write_dev_keys(keys.path(), &pk, 10_999).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());

    // An unusable directory stops the start, and names it.
    let mut cfg = config(dir.path());
    cfg.keys = Some(dir.path().join("no-such-keys"));
    let e = Service::start(cfg)
        .err()
        .expect("a missing keys directory is refused");
    assert!(e.to_string().contains("no-such-keys"), "{e}");
    let other = tempfile::tempdir().unwrap();
    for f in [&m.proving_key.file, &m.verifying_key.file] {
        std::fs::copy(keys.path().join(f), other.path().join(f)).unwrap();
    }
    let mut manifest = std::fs::read_to_string(keys.path().join("manifest.json")).unwrap();
    manifest = manifest.replace(&m.verifying_key.sha256, &"0".repeat(64));
    std::fs::write(other.path().join("manifest.json"), manifest).unwrap();
    let mut cfg = config(dir.path());
    cfg.keys = Some(other.path().to_path_buf());
    let e = Service::start(cfg)
        .err()
        .expect("a manifest of another key is refused");
    assert!(e.to_string().contains("sha256"), "{e}");

    let mut cfg = config(dir.path());
    cfg.keys = Some(keys.path().to_path_buf());
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    let job_id = ask_for_a_letter(&router, &tokens, &service, t).await;
    let job = wait_for(&router, &tokens.sender, &job_id).await;
    assert_eq!(job["state"], "done", "{job}");
    // The bundle names the directory's key, which the built-in verifier does not know; pinned
    // with its manifest, it verifies at the manifest's trust level.
    let bundle = job["bundle"].as_str().unwrap();
    let parsed = letro_core::bundle::ParsedBundle::parse(bundle.as_bytes()).unwrap();
    assert_eq!(
        hex::encode(parsed.verifying_key_sha256),
        m.verifying_key.sha256
    );
    let log_key = letro_service::keys::load_or_create(dir.path(), ORIGIN).unwrap();
    let mut verifier = Verifier::new(vec![log_key.verifier_key()]).unwrap();
    assert!(matches!(
        verifier.verify(bundle.as_bytes()),
        Err(letro_verifier::VerifyError::UnknownVerifyingKey(_))
    ));
    let vk = std::fs::read(keys.path().join(&m.verifying_key.file)).unwrap();
    let text = std::fs::read_to_string(keys.path().join("manifest.json")).unwrap();
    verifier.add_key(
        letro_verifier::PinnedKey::from_manifest(
            &text,
            &vk,
            letro_verifier::KeySource::Manifest("keys".into()),
        )
        .unwrap(),
    );
    let verified = verifier.verify(bundle.as_bytes()).unwrap();
    assert_eq!(
        verified.trust_level(),
        letro_verifier::TrustLevel::InsecureDev
    );
    // The proof certificate, made by the service's own check, is of that key too.
    let (st, pdf) = call_raw(
        &router,
        "GET",
        &format!("/v1/proofs/{job_id}/certificate"),
        Some(&tokens.sender),
        Vec::new(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-"));
    drop(router);
    service.shutdown().await;
}

/// A job whose attempts never finish (its provers died or hung on it, as a job that crashes
/// the prover would make them) is dead-lettered, not tried for ever: the sender sees it failed
/// with the reason, and the dead-letter counter moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_attempts_never_finish_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    let job_id = ask_for_a_letter(&router, &tokens, &service, t).await;
    drop(router);
    service.shutdown().await;
    // Five provers claimed it in turn and vanished: each lease ran out unfinished.
    {
        let mut store = open_store(dir.path());
        let start = unix_now() - 1_000;
        for attempt in 0..letro_service::jobs::MAX_ATTEMPTS {
            let at = start + 10 * u64::from(attempt);
            let (claim, _) = store
                .claim_job(&format!("vanished-{attempt}"), at, 1)
                .unwrap()
                .unwrap();
            assert_eq!(claim.id, job_id);
            assert_eq!(claim.attempt, attempt + 1);
        }
    }
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let job = wait_for(&router, &tokens.sender, &job_id).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "proof_failed", "{job}");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("none of its 5 attempts finished") && message.contains("dead-lettered"),
        "{message}"
    );
    assert!(job.get("bundle").is_none(), "{job}");
    let (_, text) = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
    assert!(
        text.as_str()
            .unwrap()
            .contains("letro_proof_jobs_total{state=\"dead\"} 1\n"),
        "{text}"
    );
    drop(router);
    service.shutdown().await;
}

/// `letro prover-worker` (`jobs::run_worker`) proves the jobs of a service on PostgreSQL that
/// has no provers of its own, from the store alone. A worker that pins another log key cannot
/// verify what it proves and stores nothing: its attempt is queued again, and a worker with the
/// right key proves the job. The service finds the finished job in the store and sends its
/// callback notice once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prover_workers_prove_a_postgres_services_jobs_and_verify_them_first() {
    use letro_service::jobs::{run_worker, WorkerConfig};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (hooks, mut notices) = callback_receiver(StatusCode::NO_CONTENT).await;
    let (dir, db, tokens, service) = service_on_postgres_without_provers(|cfg| {
        cfg.callback_hosts = vec![hooks.clone()];
        cfg.callback_backoff = Duration::from_millis(10);
    });
    let router = service.router();
    let t = unix_now();
    deliver(&router, &tokens, b"attest", t).await;
    service.state().publish().await.unwrap();
    let (st, v) =
        ask_with_callback(&router, &tokens.sender, t, format!("http://{hooks}/notify")).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job_id = v["job_id"].as_str().unwrap().to_owned();
    let worker = |name: &str, log_vkey: String| {
        let config = WorkerConfig {
            database: db.url.clone(),
            log_vkey,
            keys: None,
            provers: 1,
            threads: 2,
            name: name.to_owned(),
            lease: 60,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        (stop, std::thread::spawn(move || run_worker(&config, flag)))
    };

    // Another log's key: the bundle does not verify, so the attempt fails and is retried.
    let other = tempfile::tempdir().unwrap();
    let wrong = letro_service::keys::load_or_create(other.path(), ORIGIN)
        .unwrap()
        .verifier_key()
        .to_string();
    let (stop, handle) = worker("wrong-key", wrong);
    let mut retried = false;
    for _ in 0..600 {
        let (_, v) = call(
            &router,
            "GET",
            &format!("/v1/proofs/{job_id}"),
            Some(&tokens.sender),
            None,
        )
        .await;
        assert_ne!(
            v["state"], "done",
            "a bundle that does not verify was stored: {v}"
        );
        if v["state"] == "queued" && attempts(&db.url, &job_id) == 1 {
            retried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(retried, "the wrong key's attempt was not queued again");
    stop.store(true, Ordering::SeqCst);
    handle.join().unwrap().unwrap();

    let (stop, handle) = worker("right-key", service.log_vkey().to_owned());
    let job = wait_for(&router, &tokens.sender, &job_id).await;
    check_done(dir.path(), &job, b"attest", t);
    // The log grows and the checkpoint moves: the same worker extends its tree with the new
    // leaves only (`LogStore::leaves_from`), and its next proof verifies.
    let second = ask_for_a_letter(&router, &tokens, &service, t).await;
    let job = wait_for(&router, &tokens.sender, &second).await;
    check_done(dir.path(), &job, b"letter", t);
    stop.store(true, Ordering::SeqCst);
    handle.join().unwrap().unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(30), notices.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice, json!({"job_id": job_id, "state": "done"}));
    assert_eq!(
        callback_state(&router, &tokens.sender, &job_id, "delivered").await,
        "delivered"
    );
    // Once: later sweeps find nothing pending.
    let again = tokio::time::timeout(letro_service::CALLBACK_SWEEP * 2, notices.recv()).await;
    assert!(again.is_err(), "a second notice: {again:?}");
    drop(router);
    service.shutdown().await;
}

/// A service on a fresh PostgreSQL database that proves nothing itself (`provers = 0`), with
/// `tweak` applied to its configuration, and the tokens of [`issue_tokens_into`].
fn service_on_postgres_without_provers(
    tweak: impl FnOnce(&mut letro_service::Config),
) -> (tempfile::TempDir, pg::PgDatabase, Tokens, Service) {
    let dir = tempfile::tempdir().unwrap();
    let db = pg::PgDatabase::create();
    let tokens =
        issue_tokens_into(&mut letro_service::store::PostgresStore::open(&db.url).unwrap());
    let mut cfg = sqlite_config(dir.path());
    cfg.database = Some(db.url.clone());
    cfg.provers = 0;
    tweak(&mut cfg);
    let service = Service::start(cfg).unwrap();
    (dir, db, tokens, service)
}

/// The attempts a job has had, read from the database.
fn attempts(url: &str, job_id: &str) -> u32 {
    let dumped = pg::query_one_i64(
        url,
        &format!("SELECT attempts::bigint FROM jobs WHERE id = '{job_id}'"),
    );
    u32::try_from(dumped).unwrap()
}

/// The prover-worker process of [`a_worker_killed_mid_job_loses_no_job`], which starts it.
#[test]
#[ignore = "the worker process of a_worker_killed_mid_job_loses_no_job, which starts it"]
fn worker_child() {
    use letro_service::jobs::{run_worker, WorkerConfig};
    let Ok(database) = std::env::var("LETRO_TEST_WORKER_DATABASE") else {
        return;
    };
    let config = WorkerConfig {
        database,
        log_vkey: std::env::var("LETRO_TEST_WORKER_VKEY").unwrap(),
        keys: None,
        provers: 1,
        threads: 1,
        name: "doomed".into(),
        lease: 2,
    };
    run_worker(&config, std::sync::Arc::default()).unwrap();
}

/// A prover-worker process killed with SIGKILL while it proves: its job stays leased to it until
/// the lease runs out, then another worker claims it again (a second attempt) and proves it.
/// No job is lost, each ends done once, and every bundle verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_no_job() {
    use letro_service::jobs::{run_worker, WorkerConfig};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (dir, db, tokens, service) = service_on_postgres_without_provers(|_| {});
    let router = service.router();
    let t = unix_now();
    let mut jobs = vec![ask_for_a_letter(&router, &tokens, &service, t).await];
    for _ in 0..5 {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/proofs",
            Some(&tokens.sender),
            Some(window(b"letter", t - 60, t + 60)),
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{v}");
        jobs.push(v["job_id"].as_str().unwrap().to_owned());
    }
    let held = "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE 'doomed%'";
    // Kill the worker as soon as it holds a job; should the job finish in between, again.
    let mut killed_mid_job = false;
    for _ in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "proofs::worker_child",
                "--nocapture",
            ])
            .env("LETRO_TEST_WORKER_DATABASE", &db.url)
            .env("LETRO_TEST_WORKER_VKEY", service.log_vkey())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..3000 {
            if pg::query_one_i64(&db.url, held) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if pg::query_one_i64(&db.url, held) == 1 {
            killed_mid_job = true;
            break;
        }
    }
    assert!(
        killed_mid_job,
        "the worker was never killed while it held a job"
    );
    let orphan = pg::query_one_i64(
        &db.url,
        "SELECT seq FROM jobs WHERE state = 'running' AND lease_owner LIKE 'doomed%'",
    );

    let config = WorkerConfig {
        database: db.url.clone(),
        log_vkey: service.log_vkey().to_owned(),
        keys: None,
        provers: 1,
        threads: 2,
        name: "survivor".into(),
        lease: 2,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let survivor = std::thread::spawn(move || run_worker(&config, flag));
    for job_id in &jobs {
        let job = wait_for(&router, &tokens.sender, job_id).await;
        check_done(dir.path(), &job, b"letter", t);
    }
    stop.store(true, Ordering::SeqCst);
    survivor.join().unwrap().unwrap();
    assert_eq!(
        pg::query_one_i64(&db.url, "SELECT count(*) FROM jobs WHERE state = 'done'"),
        6,
        "every job done, none lost"
    );
    assert_eq!(
        pg::query_one_i64(
            &db.url,
            &format!("SELECT attempts::bigint FROM jobs WHERE seq = {orphan}")
        ),
        2,
        "the killed worker's job was claimed again after its lease ran out"
    );
    drop(router);
    service.shutdown().await;
}

//! What an operator relies on: the origin recorded in the data directory, tokens issued or
//! revoked by another process taking effect in a running service, the log key served and
//! exported alike, and the `Location` and `Retry-After` headers.

use std::time::{Duration, Instant};

use crate::common::*;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use http_body_util::BodyExt;
use letro_core::bundle::format_time;
use letro_core::statement::CiphertextHash;
use letro_service::auth::{issue_token, revoke_token_by_id, Role};
use letro_service::origin::{OriginError, DEFAULT_ORIGIN, ORIGIN_FILE};
use letro_service::settings::Settings;
use letro_service::store::SqliteStore;
use letro_service::{keys, unix_now, ApiError, Config, ServeError, Service};
use serde_json::{json, Value};
use tower::ServiceExt;

/// One request through the router; status, headers and body (JSON, or a string).
async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, value)
}

/// Settings as `letro serve --data DIR` gives them, with nothing else set.
fn bare(dir: &std::path::Path) -> Config {
    let mut c = Settings {
        data: Some(dir.to_path_buf()),
        ..Settings::default()
    }
    .into_config()
    .unwrap();
    c.checkpoint_interval = Duration::from_secs(3600);
    c
}

async fn stop(service: Service, router: Router) {
    drop(router);
    service.shutdown().await;
}

#[tokio::test]
async fn the_origin_defaults_is_recorded_and_guards_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // First start with no origin: the default, recorded; the key is named like it.
    let config = bare(&data);
    assert_eq!(config.origin, DEFAULT_ORIGIN);
    let service = Service::start(config).unwrap();
    assert_eq!(service.origin(), DEFAULT_ORIGIN);
    assert_eq!(
        std::fs::read_to_string(data.join(ORIGIN_FILE)).unwrap(),
        format!("{DEFAULT_ORIGIN}\n")
    );
    let router = service.router();
    let (st, _, served) = send(&router, "GET", "/v1/log/key", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(served, Value::String(format!("{}\n", service.log_vkey())));
    assert!(service
        .log_vkey()
        .starts_with(&format!("{DEFAULT_ORIGIN}+")));
    let vkey = service.log_vkey().to_owned();
    stop(service, router).await;

    // A different origin is refused, saying whose directory it is and what to do.
    let Err(e) = Service::start(Config::new(&data, "relay.example/other-log")) else {
        panic!("a different origin was accepted");
    };
    assert!(
        matches!(e, ServeError::Origin(OriginError::Mismatch { .. })),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!("belongs to log \"{DEFAULT_ORIGIN}\""))
            && text.contains("without an origin setting")
            && text.contains("another data directory"),
        "{text}"
    );
    // Nothing was changed by the refusal.
    assert_eq!(
        std::fs::read_to_string(data.join(ORIGIN_FILE)).unwrap(),
        format!("{DEFAULT_ORIGIN}\n")
    );

    // No origin again: the recorded one, the same key.
    let service = Service::start(bare(&data)).unwrap();
    assert_eq!(service.origin(), DEFAULT_ORIGIN);
    assert_eq!(service.log_vkey(), vkey);
    service.shutdown().await;

    // Giving the recorded origin explicitly is fine too.
    let service = Service::start(Config::new(&data, DEFAULT_ORIGIN)).unwrap();
    service.shutdown().await;
}

#[tokio::test]
async fn a_data_directory_from_before_adopts_its_key_name() {
    let dir = tempfile::tempdir().unwrap();
    // A data directory as an earlier version left it: a store and a key, no origin file.
    let old = "relay.example/letro-log";
    drop(SqliteStore::open(dir.path()).unwrap());
    let key = keys::load_or_create(dir.path(), old).unwrap();
    assert!(!dir.path().join(ORIGIN_FILE).exists());

    let Err(e) = Service::start(Config::new(dir.path(), "relay.example/renamed")) else {
        panic!("an origin other than the key's name was accepted");
    };
    let text = e.to_string();
    assert!(
        text.contains(&format!("belongs to log \"{old}\"")) && text.contains("log key"),
        "{text}"
    );
    assert!(!dir.path().join(ORIGIN_FILE).exists(), "nothing recorded");

    let config = bare(dir.path());
    assert_eq!(config.origin, old, "the key's name is adopted");
    let service = Service::start(config).unwrap();
    assert_eq!(
        service.log_vkey(),
        key.verifier_key().to_string(),
        "the same key"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(ORIGIN_FILE)).unwrap(),
        format!("{old}\n"),
        "and now recorded"
    );
    service.shutdown().await;
}

/// Polls `GET /v1/log/state` with `token` until it answers `want`; how long that took.
async fn until_status(router: &Router, token: &str, want: StatusCode) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let (st, _, _) = send(router, "GET", "/v1/log/state", Some(token), None).await;
        if st == want {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_and_revoked_by_another_process_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    // Another connection to the same database, as `letro token issue` opens it.
    let mut other = open_store(dir.path());
    let later = unix_now() + 3600;
    let (fresh, record) =
        issue_token(other.as_mut(), Role::Relay, "relay-2", later, "cli").unwrap();

    let took = until_status(&router, &fresh, StatusCode::OK).await;
    assert!(
        took.is_some(),
        "a token issued by another process was never accepted"
    );
    assert!(
        took.unwrap() <= letro_service::TOKEN_RELOAD_INTERVAL * 3,
        "{took:?}"
    );
    // The admin API lists it, and its tokens keep working through the reloads.
    let (st, _, list) = send(
        &router,
        "GET",
        "/v1/admin/tokens",
        Some(&tokens.admin),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == record.id()));
    let (st, _, v) = send(
        &router,
        "POST",
        "/v1/admin/tokens",
        Some(&tokens.admin),
        Some(json!({"role": "relay", "subject": "relay-3", "ttl_seconds": 600})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let by_api = v["token"].as_str().unwrap().to_owned();

    // Revoked by the other process: refused within the reload interval.
    revoke_token_by_id(other.as_mut(), &record.id(), unix_now(), "cli")
        .unwrap()
        .unwrap();
    let took = until_status(&router, &fresh, StatusCode::UNAUTHORIZED).await;
    assert!(took.is_some(), "a revoked token was still accepted");
    let (_, headers, v) = send(&router, "GET", "/v1/log/state", Some(&fresh), None).await;
    assert_eq!(v["error"]["message"], "the bearer token has been revoked");
    assert_eq!(headers["www-authenticate"], "Bearer");
    // The others are untouched.
    for t in [&tokens.relay, &by_api] {
        let (st, _, v) = send(&router, "GET", "/v1/log/state", Some(t), None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    // The revocation by the other process is in the audit log, as the API's are.
    let (_, _, audit) = send(&router, "GET", "/v1/admin/audit", Some(&tokens.admin), None).await;
    assert_eq!(audit["chain"], "ok");
    assert!(audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "token.revoke"
            && e["actor"] == "cli"
            && e["target"] == record.id()
            && e["outcome"] == "ok"));
    stop(service, router).await;
}

/// Logs a submission by "bank" routed to "r" and its receipt at `t` (key seed 7, certified by
/// "r"), and publishes a checkpoint.
async fn deliver(service: &Service, router: &Router, tokens: &Tokens, ciphertext: &[u8], t: u64) {
    certify(router, &tokens.admin, "r", 7).await;
    let relay = Some(tokens.relay.as_str());
    let (st, _, v) = send(
        router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(ciphertext, "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _, v) = send(
        router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(ciphertext, 7, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    service.state().publish().await.unwrap();
}

#[tokio::test]
async fn accepted_jobs_have_a_location_and_refusals_a_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    cfg.max_jobs_per_sender = 1;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    deliver(&service, &router, &tokens, b"headers", t).await;
    let window = json!({
        "ciphertext_sha256": CiphertextHash::of(b"headers").to_hex(),
        "not_before": format_time(t - 60).unwrap(),
        "not_after": format_time(t + 60).unwrap(),
    });
    let (st, headers, v) = send(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job_id = v["job_id"].as_str().unwrap();
    let location = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/proofs/{job_id}"));
    assert!(headers.get("retry-after").is_none());
    // The Location is where the job is read.
    let (st, _, job) = send(&router, "GET", &location, Some(&tokens.sender), None).await;
    assert_eq!(st, StatusCode::OK, "{job}");
    assert_eq!(job["job_id"], job_id);

    // 429: the sender has its one unfinished job.
    let (st, headers, v) = send(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(window),
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_jobs");
    assert_eq!(headers["retry-after"], "10");
    assert!(headers.get("location").is_none());
    // A refusal that retrying does not fix has none.
    let (st, headers, _) = send(&router, "GET", "/v1/log/state", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(headers.get("retry-after").is_none());
    stop(service, router).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_has_a_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    // Rows and locks of the SQLite file itself: on SQLite whatever LETRO_TEST_STORE says.
    let tokens = issue_tokens_into(&mut SqliteStore::open(dir.path()).unwrap());
    let mut cfg = sqlite_config(dir.path());
    cfg.request_timeout = Duration::from_millis(500);
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    // Another process holds the database's write lock: the log writer waits for it, longer
    // than the request may take.
    let blocker = rusqlite::Connection::open(dir.path().join("letro.sqlite3")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (st, headers, v) = send(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(b"stuck", "r")),
    )
    .await;
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "timeout");
    assert_eq!(headers["retry-after"], "2");
    stop(service, router).await;
}

#[test]
fn every_429_and_503_has_a_retry_after_and_nothing_else_does() {
    let all = ApiError::one_of_each();
    let mut retryable = 0;
    for e in all {
        let code = e.code();
        let status = e.status();
        let resp = e.into_response();
        let header = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(header.is_some_and(|s| s > 0), "{code}: {header:?}");
            retryable += 1;
        } else if code != "not_published" {
            // (A 409 not_published may say when the next checkpoint is due.) A refusal that
            // retrying does not fix has none.
            assert_eq!(header, None, "{code}");
        }
    }
    assert_eq!(
        retryable, 4,
        "too_many_jobs, timeout, unavailable, log_full"
    );
}

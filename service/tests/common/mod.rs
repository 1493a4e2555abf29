//! Shared helpers for the service tests (`tests/suite`).
#![allow(dead_code)]

pub mod pg;
pub mod xeddsa;

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use letro_api::bodies::ReceiptRequest as ReceiptJson;
use letro_api::directory::PrekeyUpload;
use letro_core::eddsa::PrivateKey;
use letro_core::receipt_json::SignatureJson;
use letro_core::statement::{receipt_message, CiphertextHash};
use letro_service::auth::{issue_token, Role};
use letro_service::store::{SqliteStore, StoredTimestamp};
use letro_service::{unix_now, Config, Service};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// A `tracing` writer that keeps everything written, to search the logs.
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Installs the global subscriber, writing every event (all targets, down to `trace`)
    /// here. A process has one global subscriber, and the tests of every module share the test
    /// binary's: only a test that [`run_alone`] runs in a process of its own may install it.
    pub fn install() -> Self {
        assert!(
            std::env::var_os(ALONE).is_some(),
            "a test that captures the logs runs in a process of its own (common::run_alone)"
        );
        let capture = Self::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            // Everything down to `trace`, with the directives the service's own subscriber
            // always adds (`letro serve`).
            .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
                "trace,{}",
                letro_service::LOG_DIRECTIVES.join(",")
            )))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        capture
    }

    /// Everything captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

pub const ORIGIN: &str = "relay.example/letro-log";

pub struct Tokens {
    pub relay: String,
    pub sender: String,
    pub admin: String,
    pub expired: String,
    /// A client token for the account "alice".
    pub client: String,
}

/// Issues one token per role (and an expired relay token) into the store of `dir`.
pub fn issue_tokens(dir: &Path) -> Tokens {
    issue_tokens_into(open_store(dir).as_mut())
}

/// The store of the test data directory `dir`: its SQLite database, or with
/// `LETRO_TEST_STORE=postgres` its PostgreSQL database ([`pg::database_for`]).
pub fn open_store(dir: &Path) -> Box<dyn letro_service::store::Store> {
    if pg::suite_on_postgres() {
        let url = pg::database_for(dir);
        Box::new(letro_service::store::PostgresStore::open(&url).unwrap())
    } else {
        Box::new(SqliteStore::open(dir).unwrap())
    }
}

/// Issues one token per role (and an expired relay token) into `store`.
pub fn issue_tokens_into(store: &mut dyn letro_service::store::Store) -> Tokens {
    let later = unix_now() + 3600;
    Tokens {
        relay: issue_token(store, Role::Relay, "relay", later, "cli")
            .unwrap()
            .0,
        sender: issue_token(store, Role::Sender, "bank", later, "cli")
            .unwrap()
            .0,
        admin: issue_token(store, Role::Admin, "ops", later, "cli")
            .unwrap()
            .0,
        expired: issue_token(store, Role::Relay, "relay", unix_now() - 1, "cli")
            .unwrap()
            .0,
        client: issue_token(store, Role::Client, "alice", later, "cli")
            .unwrap()
            .0,
    }
}

/// The service configuration of the tests: on the store `LETRO_TEST_STORE` chooses.
pub fn config(dir: &Path) -> Config {
    let mut c = sqlite_config(dir);
    if pg::suite_on_postgres() {
        c.database = Some(pg::database_for(dir));
    }
    c
}

/// The service configuration of the tests that look into the SQLite file itself (its locks,
/// rows written as an older release wrote them): SQLite whatever `LETRO_TEST_STORE` says.
pub fn sqlite_config(dir: &Path) -> Config {
    let mut c = Config::new(dir, ORIGIN);
    c.checkpoint_interval = std::time::Duration::from_secs(3600);
    // A test's service makes a proof or two: building the key's tables (about 2 s of both
    // cores) would cost more than it saves. `a_proof_job_yields_a_bundle_the_verifier_accepts`
    // and the prover worker's test prove with them.
    c.prover_tables = false;
    c
}

pub fn submission(ciphertext: &[u8], routing: &str) -> Value {
    json!({
        "ciphertext_sha256": CiphertextHash::of(ciphertext).to_hex(),
        "sender": "bank",
        "routing": routing,
    })
}

/// A receipt for `ciphertext` signed by the key with `seed` at time `t`.
pub fn receipt(ciphertext: &[u8], seed: u8, t: u64) -> Value {
    let sk = PrivateKey::from_bytes([seed; 32]);
    let h = CiphertextHash::of(ciphertext);
    let sig = sk.sign(&receipt_message(&h, t));
    serde_json::to_value(ReceiptJson::new(&h, t, &sk.public_key(), &sig).unwrap()).unwrap()
}

pub use xeddsa::upload;

/// A client token for `account`, issued through the admin API (it works at once).
pub async fn client_token_for(router: &Router, admin: &str, account: &str) -> String {
    let (st, v) = call(
        router,
        "POST",
        "/v1/admin/tokens",
        Some(admin),
        Some(json!({"role": "client", "subject": account, "ttl_seconds": 3600})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

/// Publishes `upload` for its account with `client` (that account's token); returns the
/// status and body.
pub async fn publish_upload(
    router: &Router,
    client: &str,
    upload: &PrekeyUpload,
) -> (StatusCode, Value) {
    let (st, body) = call_raw(
        router,
        "PUT",
        &format!("/v1/directory/{}", upload.account),
        Some(client),
        upload.to_json().into_bytes(),
    )
    .await;
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (st, v)
}

/// Makes the receipt key with `seed` one that `account` certified in the directory (its
/// identity key is made from `seed + 128`), through the router, as receipts for messages
/// routed to `account` require.
pub async fn certify(router: &Router, admin: &str, account: &str, seed: u8) {
    let client = client_token_for(router, admin, account).await;
    let identity = xeddsa::TestIdentity::from_seed(seed.wrapping_add(128));
    let (st, v) = publish_upload(router, &client, &upload(account, seed, &identity)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// An EdDSA signature as the API's JSON.
pub fn signature_json(sig: &letro_core::eddsa::Signature) -> Value {
    serde_json::to_value(SignatureJson::from(sig)).unwrap()
}

/// Waits until the log has integrated `n` entries (the writer integrates within milliseconds
/// of going idle); returns the log state, read with `token` (relay or admin).
pub async fn wait_integrated(router: &Router, token: &str, n: u64) -> Value {
    let mut state = Value::Null;
    for _ in 0..400 {
        state = call(router, "GET", "/v1/log/state", Some(token), None)
            .await
            .1;
        if state["integrated"].as_u64() >= Some(n) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    state
}

/// For the time-stamp tests: submits `ciphertext` (routed to "bob") with the relay token, waits
/// until the log has integrated it and publishes a checkpoint, which waits for no TSA (it takes
/// less than 5 s); returns the published checkpoint's body (what the TSAs stamp) and the body's
/// SHA-256 (what the tokens are stored under).
pub async fn submit_and_publish(
    service: &Service,
    router: &Router,
    tokens: &Tokens,
    ciphertext: &[u8],
) -> (String, [u8; 32]) {
    let (st, v) = call(
        router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(ciphertext, "bob")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    wait_integrated(router, &tokens.admin, 1).await;
    let started = std::time::Instant::now();
    service.publish().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let checkpoint = service
        .state()
        .published_checkpoint()
        .unwrap()
        .expect("published");
    let body = letro_service::timestamping::checkpoint_body(&checkpoint.text).unwrap();
    let hash: [u8; 32] = Sha256::digest(body.as_bytes()).into();
    (body, hash)
}

/// The time-stamp tokens stored in `dir` for the checkpoint body with SHA-256 `hash`, once
/// there is one (the time-stamping task runs after publication): read every 50 ms, for 10 s at
/// most (then whatever is stored, maybe nothing).
pub async fn wait_timestamps(dir: &Path, hash: &[u8; 32]) -> Vec<StoredTimestamp> {
    let mut stored = Vec::new();
    for _ in 0..200 {
        stored = open_store(dir).timestamps(hash).unwrap();
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stored
}

/// Sends one request with a raw body through the router; returns status and body bytes.
pub async fn call_raw(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .header("content-type", "application/octet-stream")
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

/// Sends one request through the router; returns status and body (JSON, or a string).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
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
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// Set by [`run_alone`] in its child process.
pub const ALONE: &str = "LETRO_TEST_ALONE";

/// Runs the ignored test `test` (its full name, `module::function`) by itself in a child
/// process of this test binary, with [`ALONE`] set, and fails with the child's output unless
/// that one test ran and passed. For a test that needs the process to itself: one that installs
/// the global `tracing` subscriber ([`Capture`]), which would otherwise collect (and search)
/// the logs of the other modules' tests running beside it.
pub fn run_alone(test: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            test,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A name that matches no test passes too, with nothing run.
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test}, run alone: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// For kill -9 tests: re-runs this test binary as a child that runs only the ignored test
/// `child_test` (its full name, `module::function`), with `env_var` set to `dir`; waits for
/// the port the child announces in `dir/port` ([`announce_listener`]); returns the child and
/// its address.
pub async fn spawn_child_server(
    child_test: &str,
    env_var: &str,
    dir: &Path,
) -> (std::process::Child, std::net::SocketAddr) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", child_test, "--nocapture"])
        .env(env_var, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            let port = p.parse::<u16>().unwrap();
            return (child, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the child {child_test} did not start");
}

/// In the child of [`spawn_child_server`]: a listener on 127.0.0.1, its port written to
/// `dir/port` atomically.
pub async fn announce_listener(dir: &Path) -> tokio::net::TcpListener {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmp = dir.join("port.tmp");
    std::fs::write(&tmp, port.to_string()).unwrap();
    std::fs::rename(&tmp, dir.join("port")).unwrap();
    listener
}

/// A client token for `account`, issued into the store in `dir` (before the service starts, or
/// wait for the reload).
pub fn client_token(dir: &Path, account: &str) -> String {
    let mut store = open_store(dir);
    issue_token(
        store.as_mut(),
        Role::Client,
        account,
        unix_now() + 3600,
        "cli",
    )
    .unwrap()
    .0
}

/// Publishes `client`'s prekeys and certified receipt key with its own token.
pub async fn publish_client(router: &Router, token: &str, client: &letro_client::Client) {
    let (st, v) = call_raw(
        router,
        "PUT",
        &format!("/v1/directory/{}", client.account()),
        Some(token),
        client.prekey_upload().to_json().into_bytes(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
}

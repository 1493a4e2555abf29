//! The client against the real service: letro-service started in this process on a
//! 127.0.0.1 socket with a real database file, every call over HTTP.
#![allow(missing_docs)]
// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

/// The test-only XEdDSA signer of the service tests: a certified receipt key without libsignal.
#[path = "../../service/tests/common/xeddsa.rs"]
#[allow(dead_code)]
mod xeddsa;

use std::time::Duration;

use letro_api::bodies::{
    AckRequest, EventState, JobState, NewToken, ProofRequest, ReceiptRequest, SubmissionRequest,
};
use letro_api::{ErrorCode, Role};
use letro_api_client::{Client, Error, StatusCode};
use letro_core::bundle::format_time;
use letro_core::eddsa::PrivateKey;
use letro_core::statement::{receipt_message, CiphertextHash};
use letro_log::checkpoint::SignedCheckpoint;
use letro_service::auth::issue_token;
use letro_service::store::SqliteStore;
use letro_service::{unix_now, Config, Service};

const ORIGIN: &str = "relay.example/letro-log";

/// The service on a socket, and an unauthenticated client of it.
struct Running {
    service: Service,
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    relay: String,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn start(tune: impl FnOnce(&mut Config)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (relay, admin) = {
        let mut store = SqliteStore::open(dir.path()).unwrap();
        let later = unix_now() + 3600;
        (
            issue_token(&mut store, Role::Relay, "relay", later, "cli")
                .unwrap()
                .0,
            issue_token(&mut store, Role::Admin, "ops", later, "cli")
                .unwrap()
                .0,
        )
    };
    let mut config = Config::new(dir.path(), ORIGIN);
    config.checkpoint_interval = Duration::from_secs(3600);
    // A proof or two: the key's tables would cost more than they save.
    config.prover_tables = false;
    tune(&mut config);
    let service = Service::start(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = service.router();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Running {
        service,
        client: Client::new(format!("http://{addr}")).unwrap(),
        stop,
        server,
        relay,
        admin,
        _dir: dir,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        self.service.shutdown().await;
    }
}

fn submission(ciphertext: &[u8], sender: &str, routing: &str) -> SubmissionRequest {
    SubmissionRequest {
        ciphertext_sha256: CiphertextHash::of(ciphertext).to_hex(),
        sender: sender.into(),
        routing: routing.into(),
    }
}

fn code(e: &Error) -> (StatusCode, Option<ErrorCode>) {
    match e {
        Error::Api { status, code, .. } => (*status, *code),
        other => panic!("not an API refusal: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_through_the_client() {
    let s = start(|_| {}).await;
    let open = &s.client;
    let relay = open.with_token(&s.relay);

    assert_eq!(open.healthz().await.unwrap().status, "ok");
    let doc = open.openapi().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    // Before the first checkpoint: 404 not_found.
    let e = open.checkpoint().await.unwrap_err();
    assert_eq!(code(&e), (StatusCode::NOT_FOUND, Some(ErrorCode::NotFound)));

    // 201 for a new event, 200 for the same one again, with the same index.
    let sub = submission(b"letter", "bank", "bob");
    let first = relay.submit(&sub).await.unwrap();
    assert!(first.fresh);
    assert_eq!(first.accepted.index, 0);
    assert_eq!(first.accepted.state, EventState::Sequenced);
    let again = relay.submit(&sub).await.unwrap();
    assert!(!again.fresh);
    assert_eq!(again.accepted.index, 0);
    let second = relay
        .submit(&submission(b"another", "bank", "bob"))
        .await
        .unwrap();
    assert_eq!((second.accepted.index, second.fresh), (1, true));
    // The same H from another sender: 409 conflict.
    let e = relay
        .submit(&submission(b"letter", "other", "bob"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), (StatusCode::CONFLICT, Some(ErrorCode::Conflict)));
    assert_eq!(e.retry_after(), None);

    // No token, and a token of a role the route does not allow.
    let e = open.log_state().await.unwrap_err();
    assert_eq!(
        code(&e),
        (StatusCode::UNAUTHORIZED, Some(ErrorCode::Unauthorized))
    );
    let e = open
        .with_token("not-a-token")
        .submit(&sub)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Unauthorized));
    let e = relay.metrics().await.unwrap_err();
    assert_eq!(
        code(&e),
        (StatusCode::FORBIDDEN, Some(ErrorCode::Forbidden))
    );

    s.service.state().publish().await.unwrap();
    let state = relay.log_state().await.unwrap();
    assert_eq!((state.sequenced, state.published), (2, 2));

    // The checkpoint verifies under the key the service serves (pinned out of band in real
    // use), and the inclusion proofs are for its size.
    let key_line = open.log_key().await.unwrap();
    assert_eq!(key_line.trim_end(), s.service.log_vkey());
    let key = letro_log::note::VerifierKey::parse(key_line.trim_end()).unwrap();
    let text = open.checkpoint().await.unwrap();
    let cp = SignedCheckpoint::parse(&text)
        .unwrap()
        .verify(std::slice::from_ref(&key))
        .unwrap()
        .into_checkpoint();
    assert_eq!(cp.size, 2);
    let proof = open.inclusion_proof(1, None).await.unwrap();
    assert_eq!((proof.index, proof.size), (1, 2));
    assert_eq!(open.inclusion_proof(0, Some(1)).await.unwrap().size, 1);
    let consistency = open.consistency_proof(1, 2).await.unwrap();
    assert_eq!((consistency.old, consistency.new), (1, 2));
    assert!(consistency.last_old_leaf.is_some());
    // A leaf beyond the tree: 404; a size beyond the published one: 400.
    let e = open.inclusion_proof(5, None).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));
    let e = open.inclusion_proof(0, Some(9)).await.unwrap_err();
    assert_eq!(
        code(&e),
        (StatusCode::BAD_REQUEST, Some(ErrorCode::InvalidRequest))
    );

    // The same log as C2SP tlog-tiles: the checkpoint, and the two entries whose RFC 6962
    // root is line 3, the second of which is the proof's leaf.
    assert_eq!(open.tlog_checkpoint().await.unwrap(), text);
    use letro_log::tiles::{parse_entry_bundle, TileKind, TilePath};
    let bundle_path = TilePath {
        kind: TileKind::Entries,
        index: 0,
        width: 2,
    };
    let bundle = open.tlog_tile(&bundle_path).await.unwrap();
    let entries = parse_entry_bundle(&bundle, &bundle_path).unwrap();
    let mut tree = letro_log::rfc6962::Tree::new();
    for e in &entries {
        tree.push(e);
    }
    assert_eq!(Some(tree.root()), cp.rfc6962_root());
    assert_eq!(
        entries[1],
        letro_core::field::fr_to_be_bytes(&proof.check().unwrap().leaf)
    );
    let hashes = open
        .tlog_tile(&TilePath {
            kind: TileKind::Hashes(0),
            ..bundle_path
        })
        .await
        .unwrap();
    assert_eq!(hashes.len(), 64);
    let e = open
        .tlog_tile(&TilePath {
            width: 3,
            ..bundle_path
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));

    let metrics = open.with_token(&s.admin).metrics().await.unwrap();
    assert!(metrics.contains("letro_http_requests_total"), "{metrics}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_proofs_and_admin_through_the_client() {
    // No prover: proof jobs are stored and stay queued, which is all this test needs.
    let s = start(|c| c.provers = 0).await;
    let admin = s.client.with_token(&s.admin);

    // Tokens issued through the API work at once.
    let issue = |role: &str, subject: &str| NewToken {
        role: role.into(),
        subject: subject.into(),
        ttl_seconds: 3600,
    };
    let alice = admin.issue_token(&issue("client", "alice")).await.unwrap();
    let bob = admin.issue_token(&issue("client", "bob")).await.unwrap();
    let officer = admin.issue_token(&issue("sender", "alice")).await.unwrap();
    assert_eq!(alice.info.role, Role::Client);
    let (alice_api, bob_api, officer_api) = (
        s.client.with_token(&alice.token),
        s.client.with_token(&bob.token),
        s.client.with_token(&officer.token),
    );

    // bob publishes his certified receipt key; alice fetches his bundle.
    let seed = 11u8;
    let identity = xeddsa::TestIdentity::from_seed(seed.wrapping_add(128));
    let upload = xeddsa::upload("bob", seed, &identity);
    let published = bob_api.put_directory_entry("bob", &upload).await.unwrap();
    assert_eq!(published.account, "bob");
    let e = alice_api
        .put_directory_entry("bob", &upload)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Forbidden));
    let bundle = alice_api.prekey_bundle("bob").await.unwrap();
    bundle.validate().unwrap();
    assert_eq!(bundle.identity_key, upload.identity_key);
    let e = alice_api.prekey_bundle("nobody").await.unwrap_err();
    assert_eq!(code(&e), (StatusCode::NOT_FOUND, Some(ErrorCode::NotFound)));

    // An envelope through the mailbox: 201, then 200 for the same bytes.
    let envelope = b"ciphertext only the recipient can read".to_vec();
    let h = CiphertextHash::of(&envelope);
    let posted = alice_api
        .post_message("bob", envelope.clone())
        .await
        .unwrap();
    assert!(posted.fresh);
    assert!(
        !alice_api
            .post_message("bob", envelope.clone())
            .await
            .unwrap()
            .fresh
    );
    let waiting = bob_api.mailbox().await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].ciphertext_sha256, h.to_hex());
    assert_eq!(waiting[0].sender, "alice");
    let fetched = bob_api.envelope(&h).await.unwrap();
    assert_eq!(
        (fetched.sender.as_str(), fetched.bytes),
        ("alice", envelope)
    );
    let e = alice_api.envelope(&h).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));

    // bob acknowledges with his certified key: 201, then 200.
    let t = unix_now();
    let sk = PrivateKey::from_bytes([seed; 32]);
    let ack = AckRequest::new(t, &sk.public_key(), &sk.sign(&receipt_message(&h, t))).unwrap();
    let acked = bob_api.post_ack(&h, &ack).await.unwrap();
    assert!(acked.fresh);
    // The made-available event sits between the submission and the receipt.
    assert_eq!(acked.accepted.index, posted.accepted.index + 2);
    assert!(!bob_api.post_ack(&h, &ack).await.unwrap().fresh);
    // The relay's route refuses a receipt signed by a key nobody certified.
    let rogue = PrivateKey::from_bytes([99; 32]);
    let receipt = ReceiptRequest::new(
        &h,
        t,
        &rogue.public_key(),
        &rogue.sign(&receipt_message(&h, t)),
    )
    .unwrap();
    let e = s
        .client
        .with_token(&s.relay)
        .post_receipt(&receipt)
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(ErrorCode::UncertifiedReceiptKey)
        )
    );

    // A second envelope, refused by bob; a receipt after the refusal is out of order.
    let second = b"a second envelope".to_vec();
    let h2 = CiphertextHash::of(&second);
    alice_api.post_message("bob", second).await.unwrap();
    let m = letro_core::lifecycle::refusal_message(&h2, t, Some("not mine"));
    let refusal =
        letro_api::bodies::RefusalRequest::new(t, Some("not mine"), &sk.public_key(), &sk.sign(&m))
            .unwrap();
    assert!(bob_api.post_refusal(&h2, &refusal).await.unwrap().fresh);
    let ack2 = AckRequest::new(t, &sk.public_key(), &sk.sign(&receipt_message(&h2, t))).unwrap();
    let e = bob_api.post_ack(&h2, &ack2).await.unwrap_err();
    assert_eq!(
        code(&e),
        (StatusCode::CONFLICT, Some(ErrorCode::OutOfOrder))
    );
    // Its evidence record: not before a checkpoint (409), then for the sender and for bob.
    use letro_core::lifecycle::LifecycleEvent;
    let e = alice_api
        .evidence(&h2, LifecycleEvent::Refused)
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (StatusCode::CONFLICT, Some(ErrorCode::NotPublished))
    );

    // Before a checkpoint covers the delivery: 409 not_published, with Retry-After.
    let request = ProofRequest {
        ciphertext_sha256: h.to_hex(),
        not_before: format_time(t - 3600).unwrap(),
        not_after: format_time(t + 3600).unwrap(),
        callback_url: None,
    };
    let e = officer_api.request_proof(&request).await.unwrap_err();
    assert_eq!(
        code(&e),
        (StatusCode::CONFLICT, Some(ErrorCode::NotPublished))
    );
    assert_eq!(e.retry_after(), Some(5));
    s.service.state().publish().await.unwrap();
    for api in [&alice_api, &bob_api] {
        let record = api.evidence(&h2, LifecycleEvent::Refused).await.unwrap();
        let parsed = letro_core::evidence::EvidenceRecord::parse(&record).unwrap();
        assert_eq!(parsed.facts.event(), LifecycleEvent::Refused);
    }
    let e = bob_api
        .evidence(&h2, LifecycleEvent::SubmissionAccepted)
        .await
        .unwrap_err();
    assert_eq!(code(&e), (StatusCode::NOT_FOUND, Some(ErrorCode::NotFound)));
    let requested = officer_api.request_proof(&request).await.unwrap();
    assert_eq!(requested.job.state, JobState::Queued);
    assert_eq!(
        requested.location,
        format!("/v1/proofs/{}", requested.job.job_id)
    );
    let job = officer_api.proof_job(&requested.job.job_id).await.unwrap();
    assert_eq!(job, requested.job);
    // Someone else's job, and no job at all: the same 404.
    let e = s
        .client
        .with_token(
            &admin
                .issue_token(&issue("sender", "bank"))
                .await
                .unwrap()
                .token,
        )
        .proof_job(&requested.job.job_id)
        .await
        .unwrap_err();
    assert_eq!(code(&e), (StatusCode::NOT_FOUND, Some(ErrorCode::NotFound)));
    let e = officer_api.proof_job("0123456789abcdef").await.unwrap_err();
    assert_eq!(code(&e), (StatusCode::NOT_FOUND, Some(ErrorCode::NotFound)));
    // A job id no URL can carry is refused before sending.
    assert!(matches!(
        officer_api.proof_job("..").await,
        Err(Error::UnsendableParameter { name: "job_id", .. })
    ));

    // Revocation: the token stops working at once, and both actions are audited.
    let tokens = admin.list_tokens().await.unwrap();
    assert!(tokens.iter().any(|t| t.id == alice.info.id));
    let revoked = admin.revoke_token(&alice.info.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    let e = alice_api.mailbox().await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Unauthorized));
    let e = admin.revoke_token("0000000000000000").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));
    let audit = admin.audit_log().await.unwrap();
    assert_eq!(audit.chain, "ok");
    assert!(audit.entries.iter().any(|e| e.action == "token.revoke"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_are_http_errors() {
    // Nothing listens on the port of a listener just closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder(format!("http://{addr}"))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(matches!(client.healthz().await, Err(Error::Http(_))));
}

/// A server that breaks the route table's promises: each answer is refused as unexpected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_break_the_route_table_are_refused() {
    use axum::http::header::{CONTENT_TYPE, LOCATION};
    use axum::routing::{get, post};

    let h = CiphertextHash::of(b"envelope");
    let other = CiphertextHash::of(b"another envelope");
    let job = serde_json::json!({"job_id": "9f86d081884c7d659a2feaa0c55ad015", "state": "queued"});
    let app = axum::Router::new()
        .route(
            &format!("/v1/mailbox/{}", h.to_hex()),
            get(|| async { b"envelope".to_vec() }),
        )
        .route(
            &format!("/v1/mailbox/{}", other.to_hex()),
            get(|| async { ([("letro-sender", "alice")], b"not the envelope".to_vec()) }),
        )
        .route(
            "/v1/proofs",
            post(move || async move { (StatusCode::ACCEPTED, axum::Json(job)) }),
        )
        .route(
            "/v1/checkpoint",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>") }),
        )
        .route(
            "/v1/log/state",
            get(|| async { ([(CONTENT_TYPE, "application/json")], "{\"sequenced\": 1}") }),
        )
        .route(
            "/healthz",
            get(|| async { (StatusCode::ACCEPTED, [(LOCATION, "/x")], "{}") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = Client::new(format!("http://{addr}"))
        .unwrap()
        .with_token("t");

    let unexpected = |r: Error, what: &str| match r {
        Error::UnexpectedResponse { reason, .. } => {
            assert!(reason.contains(what), "{reason:?} does not say {what:?}")
        }
        e => panic!("not an unexpected answer: {e}"),
    };
    unexpected(client.envelope(&h).await.unwrap_err(), "letro-sender");
    unexpected(client.envelope(&other).await.unwrap_err(), "SHA-256");
    let request = ProofRequest {
        ciphertext_sha256: h.to_hex(),
        not_before: "2026-12-02T00:00:00Z".into(),
        not_after: "2026-12-02T01:00:00Z".into(),
        callback_url: None,
    };
    unexpected(
        client.request_proof(&request).await.unwrap_err(),
        "Location",
    );
    // A refusal without the API's error body, a body of the wrong shape, a status not listed.
    let e = client.checkpoint().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR), "{e}");
    assert!(matches!(e, Error::UnexpectedResponse { .. }), "{e}");
    unexpected(client.log_state().await.unwrap_err(), "LogState");
    let e = client.healthz().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::ACCEPTED), "{e}");
    server.abort();
}

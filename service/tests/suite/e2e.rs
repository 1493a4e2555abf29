//! End to end, as an integrator's program sees the service: letro-api-client over a real TCP
//! socket, a real database file, proofs verified with the verifier library, a restart on the
//! same data directory, a proof against a newer checkpoint.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use letro_api::bodies::{
    EventState, JobState, LogState, NewToken, ProofRequest, ReceiptRequest, SubmissionRequest,
};
use letro_api_client::{Client, StatusCode};
use letro_core::bundle::format_time;
use letro_core::eddsa::PrivateKey;
use letro_core::field::fr_from_be_bytes;
use letro_core::statement::{delivered_leaf_v1, CiphertextHash};
use letro_core::Fr;
use letro_log::checkpoint::SignedCheckpoint;
use letro_service::{keys, serve, unix_now, ServeError};
use letro_verifier::checks::check_opening;
use letro_verifier::Verifier;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn submission_for(ciphertext: &[u8], routing: &str) -> SubmissionRequest {
    serde_json::from_value(submission(ciphertext, routing)).unwrap()
}

fn client(addr: SocketAddr) -> Client {
    Client::new(format!("http://{addr}")).unwrap()
}

async fn start(
    dir: &std::path::Path,
    database: Option<&str>,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<Result<(), ServeError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(dir);
    cfg.checkpoint_interval = Duration::from_millis(100);
    cfg.database = database.map(str::to_owned);
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve(cfg, listener, async move {
        let _ = rx.await;
    }));
    (addr, tx, handle)
}

/// Waits for the publisher to sign a checkpoint of at least `size`; returns (size, root, text).
async fn checkpoint_at_least(
    addr: SocketAddr,
    dir: &std::path::Path,
    size: u64,
) -> (u64, Fr, String) {
    let key = keys::load_or_create(dir, ORIGIN).unwrap().verifier_key();
    for _ in 0..200 {
        if let Ok(text) = client(addr).checkpoint().await {
            let cp = SignedCheckpoint::parse(&text)
                .unwrap()
                .verify(std::slice::from_ref(&key))
                .unwrap()
                .into_checkpoint();
            if cp.size >= size {
                return (
                    cp.size,
                    fr_from_be_bytes(&cp.poseidon_root()).unwrap(),
                    text,
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no checkpoint of size {size} was published");
}

/// Asks for a proof of "letter" over the socket, polls until done, verifies the bundle and the
/// opening, and returns the size of the checkpoint the bundle carries.
async fn prove(addr: SocketAddr, dir: &std::path::Path, sender: &str, t: u64) -> u64 {
    let sender = client(addr).with_token(sender);
    let request = ProofRequest {
        ciphertext_sha256: CiphertextHash::of(b"letter").to_hex(),
        not_before: format_time(t - 600).unwrap(),
        not_after: format_time(t + 600).unwrap(),
        callback_url: None,
    };
    let requested = sender.request_proof(&request).await.unwrap();
    assert_eq!(requested.job.state, JobState::Queued);
    assert_eq!(
        requested.location,
        format!("/v1/proofs/{}", requested.job.job_id)
    );
    for _ in 0..1200 {
        let job = sender.proof_job(&requested.job.job_id).await.unwrap();
        match job.state {
            JobState::Queued | JobState::Running => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            JobState::Done => {
                let key = keys::load_or_create(dir, ORIGIN).unwrap().verifier_key();
                let verified = Verifier::new(vec![key])
                    .unwrap()
                    .verify(job.bundle.unwrap().as_bytes())
                    .unwrap();
                let opening = job.opening.unwrap();
                check_opening(opening.as_bytes(), verified.statement()).unwrap();
                // The opening names the recipient: it carries the certificate.
                assert!(
                    json(&opening)["receipt_key_certificate"].is_object(),
                    "{opening}"
                );
                return verified.checkpoint().size;
            }
            JobState::Failed => panic!("proof job failed: {job:?}"),
        }
    }
    panic!("proof job did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_database_checkpoint_proof_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = &mut letro_service::store::SqliteStore::open(dir.path()).unwrap();
    let tokens = issue_tokens_into(sqlite);
    socket_checkpoint_proof_and_restart(dir.path(), None, &tokens).await;
}

/// The same flow with every storage area in PostgreSQL: the data directory keeps only the
/// origin and the keys, and the database refuses another log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_postgres_checkpoint_proof_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = pg::PgDatabase::create();
    let tokens =
        issue_tokens_into(&mut letro_service::store::PostgresStore::open(&db.url).unwrap());
    socket_checkpoint_proof_and_restart(dir.path(), Some(&db.url), &tokens).await;
    // One service sequences a database's log: a second one is refused while the first runs,
    // and may start once it stopped.
    let (addr, stop, handle) = start(dir.path(), Some(&db.url)).await;
    for _ in 0..100 {
        if client(addr).healthz().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let twin = tempfile::tempdir().unwrap();
    let mut cfg = letro_service::Config::new(twin.path(), ORIGIN);
    cfg.database = Some(db.url.clone());
    let refused = letro_service::Service::start(cfg.clone())
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("another letro serve is running"),
        "{refused}"
    );
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    let mut cfg = letro_service::Config::new(dir.path(), ORIGIN);
    cfg.database = Some(db.url.clone());
    letro_service::Service::start(cfg).unwrap().shutdown().await;
    assert!(
        !dir.path()
            .join(letro_service::store::DATABASE_FILE)
            .exists(),
        "nothing was stored in SQLite"
    );
    // Another log's service pointed at this database is refused before it writes anything.
    let other = tempfile::tempdir().unwrap();
    let mut cfg = letro_service::Config::new(other.path(), "other.example/letro-log");
    cfg.database = Some(db.url.clone());
    let refused = letro_service::Service::start(cfg)
        .err()
        .unwrap()
        .to_string();
    assert!(refused.contains("a database of its own"), "{refused}");
}

async fn socket_checkpoint_proof_and_restart(
    dir: &std::path::Path,
    database: Option<&str>,
    tokens: &Tokens,
) {
    let t = unix_now();

    let (addr, stop, handle) = start(dir, database).await;
    let open = client(addr);
    let relay = open.with_token(&tokens.relay);
    assert_eq!(open.healthz().await.unwrap().status, "ok");
    // "alice" certifies the receipt key with seed 11 in the directory.
    let issued = open
        .with_token(&tokens.admin)
        .issue_token(&NewToken {
            role: "client".into(),
            subject: "alice".into(),
            ttl_seconds: 600,
        })
        .await
        .unwrap();
    let identity = xeddsa::TestIdentity::from_seed(1);
    open.with_token(&issued.token)
        .put_directory_entry("alice", &upload("alice", 11, &identity))
        .await
        .unwrap();
    let logged = relay
        .submit(&submission_for(b"letter", "alice"))
        .await
        .unwrap();
    assert!(logged.fresh);
    let r: ReceiptRequest = serde_json::from_value(receipt(b"letter", 11, t)).unwrap();
    let logged = relay.post_receipt(&r).await.unwrap();
    assert!(logged.fresh);
    assert_eq!(logged.accepted.index, 1);

    // The publisher, on its interval, signs a checkpoint covering both events.
    let (size, root, text) = checkpoint_at_least(addr, dir, 2).await;
    assert_eq!(size, 2);
    let proof = open
        .inclusion_proof(1, Some(2))
        .await
        .unwrap()
        .check()
        .unwrap();
    let pk = PrivateKey::from_bytes([11; 32]).public_key();
    // A hiding leaf: not the one anyone holding H, A and t could compute.
    assert_ne!(
        proof.leaf,
        delivered_leaf_v1(&CiphertextHash::of(b"letter"), pk.point(), t)
    );
    proof.proof.verify(proof.leaf, root).unwrap();
    let leaf = proof.leaf;
    // A proof against that checkpoint, verified with the verifier library.
    assert_eq!(prove(addr, dir, &tokens.sender, t).await, 2);

    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();

    // Restart on the same data: everything acknowledged is still there.
    let (addr, stop, handle) = start(dir, database).await;
    let open = client(addr);
    let relay = open.with_token(&tokens.relay);
    assert_eq!(
        relay.log_state().await.unwrap(),
        LogState {
            sequenced: 2,
            integrated: 2,
            published: 2
        }
    );
    assert_eq!(open.checkpoint().await.unwrap(), text);
    let again = relay.post_receipt(&r).await.unwrap();
    assert!(!again.fresh, "the stored receipt is recognised");
    assert_eq!(
        (again.accepted.index, again.accepted.state),
        (1, EventState::Published)
    );
    let proof = open
        .inclusion_proof(1, None)
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(proof.leaf, leaf);
    proof.proof.verify(leaf, root).unwrap();
    // The service's API errors reach the caller typed: a size beyond the published one.
    let refused = open.inclusion_proof(1, Some(3)).await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::BAD_REQUEST), "{refused}");

    // The log goes on growing from where it was.
    let logged = relay
        .submit(&submission_for(b"second", "bob"))
        .await
        .unwrap();
    assert_eq!((logged.fresh, logged.accepted.index), (true, 2));
    let (size, new_root, _) = checkpoint_at_least(addr, dir, 3).await;
    assert_eq!(size, 3);
    // Proving again uses the newer checkpoint, which extends the old one.
    assert_eq!(prove(addr, dir, &tokens.sender, t).await, 3);
    let consistency = open.consistency_proof(2, 3).await.unwrap();
    assert_eq!((consistency.old, consistency.new), (2, 3));
    consistency
        .check()
        .unwrap()
        .verify(2, root, 3, new_root)
        .unwrap();

    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

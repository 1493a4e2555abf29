//! End to end: a real TCP socket, a real database file, proofs verified with the verifier
//! library, a restart on the same data directory, a proof against a newer checkpoint.
#![allow(missing_docs)]
// Test helpers outside #[test] functions: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use letro_core::bundle::format_time;
use letro_core::eddsa::PrivateKey;
use letro_core::field::{fr_from_be_bytes, fr_from_decimal};
use letro_core::merkle::{ConsistencyProof, InclusionProof, DEPTH};
use letro_core::statement::{delivered_leaf_v1, CiphertextHash};
use letro_core::Fr;
use letro_log::checkpoint::SignedCheckpoint;
use letro_service::{keys, serve, unix_now, ServeError};
use letro_verifier::checks::check_opening;
use letro_verifier::Verifier;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A minimal HTTP/1.1 client: one request per connection.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

async fn start(
    dir: &std::path::Path,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<Result<(), ServeError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(dir);
    cfg.checkpoint_interval = Duration::from_millis(100);
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
        let (st, text) = http(addr, "GET", "/v1/checkpoint", None, None).await;
        if st == 200 {
            let cp = SignedCheckpoint::parse(&text)
                .unwrap()
                .verify(std::slice::from_ref(&key))
                .unwrap()
                .into_checkpoint();
            if cp.size >= size {
                return (cp.size, fr_from_be_bytes(&cp.root).unwrap(), text);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no checkpoint of size {size} was published");
}

/// Asks for a proof of "letter" over the socket, polls until done, verifies the bundle and the
/// opening, and returns the size of the checkpoint the bundle carries.
async fn prove(addr: SocketAddr, dir: &std::path::Path, sender: &str, t: u64) -> u64 {
    let body = serde_json::json!({
        "ciphertext_sha256": CiphertextHash::of(b"letter").to_hex(),
        "not_before": format_time(t - 600).unwrap(),
        "not_after": format_time(t + 600).unwrap(),
    });
    let (st, b) = http(addr, "POST", "/v1/proofs", Some(sender), Some(&body)).await;
    assert_eq!(st, 202, "{b}");
    let uri = format!("/v1/proofs/{}", json(&b)["job_id"].as_str().unwrap());
    for _ in 0..1200 {
        let (st, b) = http(addr, "GET", &uri, Some(sender), None).await;
        assert_eq!(st, 200, "{b}");
        let job = json(&b);
        match job["state"].as_str().unwrap() {
            "queued" | "running" => tokio::time::sleep(Duration::from_millis(100)).await,
            "done" => {
                let key = keys::load_or_create(dir, ORIGIN).unwrap().verifier_key();
                let verified = Verifier::new(vec![key])
                    .unwrap()
                    .verify(job["bundle"].as_str().unwrap().as_bytes())
                    .unwrap();
                let opening = job["opening"].as_str().unwrap();
                check_opening(opening.as_bytes(), verified.statement()).unwrap();
                // The opening names the recipient: it carries the certificate.
                assert!(
                    json(opening)["receipt_key_certificate"].is_object(),
                    "{opening}"
                );
                return verified.checkpoint().size;
            }
            _ => panic!("proof job failed: {job}"),
        }
    }
    panic!("proof job did not finish");
}

fn consistency(v: &Value) -> ConsistencyProof {
    ConsistencyProof {
        last_old_leaf: v["last_old_leaf"]
            .as_str()
            .map(|s| fr_from_decimal(s).unwrap()),
        // The path of leaf `old - 1` in the new tree.
        path: v["siblings"].as_array().map(|_| {
            inclusion(&serde_json::json!({
                "index": v["old"].as_u64().unwrap() - 1,
                "siblings": v["siblings"],
            }))
        }),
    }
}

fn inclusion(v: &Value) -> InclusionProof {
    let mut siblings = [[Fr::from(0u64); 3]; DEPTH];
    for (o, l) in siblings.iter_mut().zip(v["siblings"].as_array().unwrap()) {
        for (x, s) in o.iter_mut().zip(l.as_array().unwrap()) {
            *x = fr_from_decimal(s.as_str().unwrap()).unwrap();
        }
    }
    InclusionProof {
        index: v["index"].as_u64().unwrap() as u32,
        siblings,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_database_checkpoint_proof_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let relay = Some(tokens.relay.as_str());
    let t = unix_now();

    let (addr, stop, handle) = start(dir.path()).await;
    let (st, _) = http(addr, "GET", "/healthz", None, None).await;
    assert_eq!(st, 200);
    // "alice" certifies the receipt key with seed 11 in the directory.
    let (st, b) = http(
        addr,
        "POST",
        "/v1/admin/tokens",
        Some(&tokens.admin),
        Some(&serde_json::json!({"role": "client", "subject": "alice", "ttl_seconds": 600})),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let alice = json(&b)["token"].as_str().unwrap().to_owned();
    let identity = xeddsa::TestIdentity::from_seed(1);
    let doc = serde_json::to_value(upload("alice", 11, &identity)).unwrap();
    let (st, b) = http(addr, "PUT", "/v1/directory/alice", Some(&alice), Some(&doc)).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = http(
        addr,
        "POST",
        "/v1/submissions",
        relay,
        Some(&submission(b"letter", "alice")),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let r = receipt(b"letter", 11, t);
    let (st, b) = http(addr, "POST", "/v1/receipts", relay, Some(&r)).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(json(&b)["index"], 1);

    // The publisher, on its interval, signs a checkpoint covering both events.
    let (size, root, text) = checkpoint_at_least(addr, dir.path(), 2).await;
    assert_eq!(size, 2);
    let (st, b) = http(addr, "GET", "/v1/log/leaves/1/inclusion?size=2", None, None).await;
    assert_eq!(st, 200, "{b}");
    let pk = PrivateKey::from_bytes([11; 32]).public_key();
    let leaf = fr_from_decimal(json(&b)["leaf"].as_str().unwrap()).unwrap();
    // A hiding leaf: not the one anyone holding H, A and t could compute.
    assert_ne!(
        leaf,
        delivered_leaf_v1(&CiphertextHash::of(b"letter"), pk.point(), t)
    );
    inclusion(&json(&b)).verify(leaf, root).unwrap();
    // A proof against that checkpoint, verified with the verifier library.
    assert_eq!(prove(addr, dir.path(), &tokens.sender, t).await, 2);

    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();

    // Restart on the same data directory: everything acknowledged is still there.
    let (addr, stop, handle) = start(dir.path()).await;
    let (_, b) = http(addr, "GET", "/v1/log/state", relay, None).await;
    assert_eq!(
        json(&b),
        serde_json::json!({"sequenced": 2, "integrated": 2, "published": 2})
    );
    let (st, again) = http(addr, "GET", "/v1/checkpoint", None, None).await;
    assert_eq!((st, again), (200, text));
    let (st, b) = http(addr, "POST", "/v1/receipts", relay, Some(&r)).await;
    assert_eq!(st, 200, "the stored receipt is recognised: {b}");
    assert_eq!(
        json(&b),
        serde_json::json!({"index": 1, "state": "published"})
    );
    let (st, b) = http(addr, "GET", "/v1/log/leaves/1/inclusion", None, None).await;
    assert_eq!(st, 200);
    inclusion(&json(&b)).verify(leaf, root).unwrap();

    // The log goes on growing from where it was.
    let (st, b) = http(
        addr,
        "POST",
        "/v1/submissions",
        relay,
        Some(&submission(b"second", "bob")),
    )
    .await;
    assert_eq!((st, json(&b)["index"].clone()), (201, serde_json::json!(2)));
    let (size, new_root, _) = checkpoint_at_least(addr, dir.path(), 3).await;
    assert_eq!(size, 3);
    // Proving again uses the newer checkpoint, which extends the old one.
    assert_eq!(prove(addr, dir.path(), &tokens.sender, t).await, 3);
    let (st, b) = http(addr, "GET", "/v1/log/consistency?old=2&new=3", None, None).await;
    assert_eq!(st, 200, "{b}");
    consistency(&json(&b)).verify(2, root, 3, new_root).unwrap();

    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

//! kill -9 while receipts are arriving: every receipt the API acknowledged is there afterwards.
//!
//! The service runs in a child process: this test binary re-run with `--ignored --exact
//! crash::crash_child`, which serves on the data directory named by `LETRO_CRASH_CHILD_DIR`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use letro_api::bodies::{ReceiptRequest, SubmissionRequest};
use letro_api_client::Client;
use letro_service::{serve, unix_now, Service};
use serde_json::Value;

const CHILD_DIR: &str = "LETRO_CRASH_CHILD_DIR";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the server process of kill_9_loses_nothing_acknowledged, which starts it"]
async fn crash_child() {
    let dir =
        PathBuf::from(std::env::var(CHILD_DIR).expect("run by kill_9_loses_nothing_acknowledged"));
    let listener = announce_listener(&dir).await;
    serve(config(&dir), listener, std::future::pending())
        .await
        .unwrap();
}

/// `Some(answer)`, or `None` when the request could not be sent or its answer not read (the
/// server was killed); any refusal by a live server fails the test.
fn answered<T>(r: Result<T, letro_api_client::Error>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(letro_api_client::Error::Http(_)) => None,
        Err(e) => panic!("unexpected answer: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    // Receipts need a submission routed to an account that certified their key: "r" certifies
    // the key with seed 21, through a service run on the directory before the child's.
    {
        let service = Service::start(config(dir.path())).unwrap();
        let router = service.router();
        certify(&router, &tokens.admin, "r", 21).await;
        drop(router);
        service.shutdown().await;
    }
    let (mut child, addr) = spawn_child_server("crash::crash_child", CHILD_DIR, dir.path()).await;

    // Four clients post distinct submissions and their receipts until the server dies.
    let t = unix_now();
    let acked: Arc<Mutex<Vec<(Value, u64)>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..4u32 {
        let acked = acked.clone();
        let relay = Client::builder(format!("http://{addr}"))
            .token(&tokens.relay)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        clients.push(tokio::spawn(async move {
            for i in 0u32.. {
                let ciphertext = format!("crash {c} {i}");
                let s: SubmissionRequest =
                    serde_json::from_value(submission(ciphertext.as_bytes(), "r")).unwrap();
                let Some(logged) = answered(relay.submit(&s).await) else {
                    break;
                };
                assert!(logged.fresh);
                let r = receipt(ciphertext.as_bytes(), 21, t);
                let body: ReceiptRequest = serde_json::from_value(r.clone()).unwrap();
                let Some(logged) = answered(relay.post_receipt(&body).await) else {
                    break;
                };
                assert!(logged.fresh);
                acked.lock().unwrap().push((r, logged.accepted.index));
            }
        }));
    }
    // Kill once a fair number are acknowledged, while the clients are still sending.
    for _ in 0..2000 {
        if acked.lock().unwrap().len() >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() >= 100,
        "only {} receipts acknowledged",
        acked.len()
    );

    // Restart on the same directory: each acknowledged receipt is a stored record, at its index.
    std::fs::remove_file(dir.path().join("port")).unwrap();
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    for (r, index) in &acked {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/receipts",
            Some(&tokens.relay),
            Some(r.clone()),
        )
        .await;
        assert_eq!(
            st,
            axum::http::StatusCode::OK,
            "receipt at {index} was lost: {v}"
        );
        assert_eq!(v["index"].as_u64(), Some(*index));
    }
    let (_, state) = call(&router, "GET", "/v1/log/state", Some(&tokens.relay), None).await;
    assert!(state["sequenced"].as_u64().unwrap() >= acked.len() as u64);
    drop(router);
    service.shutdown().await;
}

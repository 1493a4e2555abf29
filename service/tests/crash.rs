//! kill -9 while receipts are arriving: every receipt the API acknowledged is there afterwards.
//!
//! The service runs in a child process: this test binary re-run with `--ignored --exact
//! crash_child`, which serves on the data directory named by `LETRO_CRASH_CHILD_DIR`.
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
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use letro_service::{serve, unix_now, Service};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHILD_DIR: &str = "LETRO_CRASH_CHILD_DIR";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the server process of kill_9_loses_nothing_acknowledged, which starts it"]
async fn crash_child() {
    let dir =
        PathBuf::from(std::env::var(CHILD_DIR).expect("run by kill_9_loses_nothing_acknowledged"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmp = dir.join("port.tmp");
    std::fs::write(&tmp, port.to_string()).unwrap();
    std::fs::rename(&tmp, dir.join("port")).unwrap();
    serve(config(&dir), listener, std::future::pending())
        .await
        .unwrap();
}

/// One request; `None` if the connection fails (the server was killed).
async fn try_post(addr: SocketAddr, path: &str, token: &str, body: &Value) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).ok()?))
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
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash_child", "--nocapture"])
        .env(CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut port = None;
    for _ in 0..600 {
        if let Ok(p) = std::fs::read_to_string(dir.path().join("port")) {
            port = Some(p.parse::<u16>().unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port.expect("the child did not start")));

    // Four clients post distinct submissions and their receipts until the server dies.
    let t = unix_now();
    let acked: Arc<Mutex<Vec<(Value, u64)>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..4u32 {
        let (acked, token) = (acked.clone(), tokens.relay.clone());
        clients.push(tokio::spawn(async move {
            for i in 0u32.. {
                let ciphertext = format!("crash {c} {i}");
                let s = submission(ciphertext.as_bytes(), "r");
                match try_post(addr, "/v1/submissions", &token, &s).await {
                    Some((201, _)) => {}
                    Some((status, v)) => panic!("unexpected answer {status} {v}"),
                    None => break,
                }
                let r = receipt(ciphertext.as_bytes(), 21, t);
                match try_post(addr, "/v1/receipts", &token, &r).await {
                    Some((201, v)) => acked
                        .lock()
                        .unwrap()
                        .push((r, v["index"].as_u64().unwrap())),
                    Some((status, v)) => panic!("unexpected answer {status} {v}"),
                    None => break,
                }
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

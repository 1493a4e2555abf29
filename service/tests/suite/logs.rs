//! The logs never carry a secret: a whole flow (tokens issued through the API and revoked,
//! events, a checkpoint, a proof job with a callback) runs with every event down to `trace`
//! captured, and the capture is searched for each secret, the per-event secrets included. It
//! runs in a process of its own (`common::run_alone`), the only one writing to the capture.

use std::time::Duration;

use crate::common::*;
use axum::http::StatusCode;
use letro_core::bundle::format_time;
use letro_core::statement::CiphertextHash;
use letro_service::{unix_now, Service};
use serde_json::json;

#[test]
fn logs_carry_no_token_blinding_opening_key_or_event_secret() {
    run_alone("logs::logs_carry_no_token_blinding_opening_key_or_event_secret_alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "captures the logs: run in a process of its own by the test without _alone"]
async fn logs_carry_no_token_blinding_opening_key_or_event_secret_alone() {
    // Everything at trace, arkworks included: letro-prover switches tracing off around circuit
    // synthesis, whose spans would otherwise record witness values.
    let capture = Capture::install();

    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let app = axum::Router::new().route("/n", axum::routing::post(|| async { "ok" }));
        axum::serve(hook, app).await.unwrap()
    });
    cfg.callback_hosts = vec![hook_addr.clone()];
    let service = Service::start(cfg).unwrap();
    let router = service.router();

    let (st, issued) = call(
        &router,
        "POST",
        "/v1/admin/tokens",
        Some(&tokens.admin),
        Some(json!({"role": "sender", "subject": "bank", "ttl_seconds": 600})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let api_token = issued["token"].as_str().unwrap().to_owned();
    certify(&router, &tokens.admin, "r", 5).await;
    let t = unix_now();
    for (path, body) in [
        ("/v1/submissions", submission(b"secret letter", "r")),
        ("/v1/receipts", receipt(b"secret letter", 5, t)),
    ] {
        let (st, v) = call(&router, "POST", path, Some(&tokens.relay), Some(body)).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    service.state().publish().await.unwrap();
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&api_token),
        Some(json!({
            "ciphertext_sha256": CiphertextHash::of(b"secret letter").to_hex(),
            "not_before": format_time(t - 60).unwrap(),
            "not_after": format_time(t + 60).unwrap(),
            "callback_url": format!("http://{hook_addr}/n"),
        })),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job_uri = format!("/v1/proofs/{}", v["job_id"].as_str().unwrap());
    let mut job = v;
    for _ in 0..1200 {
        let (_, v) = call(&router, "GET", &job_uri, Some(&api_token), None).await;
        job = v;
        if job["state"] == "done" && job["callback"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if job["state"] != "done" {
        let logs = String::from_utf8_lossy(&capture.bytes()).into_owned();
        panic!("job not done: {job}\n{logs}");
    }
    let revoke = format!("/v1/admin/tokens/{}", issued["id"].as_str().unwrap());
    let (st, _) = call(&router, "DELETE", &revoke, Some(&tokens.admin), None).await;
    assert_eq!(st, StatusCode::OK);
    // Refused requests are logged too: a wrong token, a bad receipt.
    let (st, _) = call(&router, "GET", &job_uri, Some(&api_token), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    drop(router);
    service.shutdown().await;

    let logs = String::from_utf8(capture.bytes()).unwrap();
    // The capture is real: the flow's events are in it.
    for expected in [
        "log restored",
        "proof job done",
        "token issued",
        "token revoked",
        "callback finished",
    ] {
        assert!(
            logs.contains(expected),
            "missing {expected:?} in the logs:\n{logs}"
        );
    }
    let opening: serde_json::Value =
        serde_json::from_str(job["opening"].as_str().unwrap()).unwrap();
    let blinding = opening["blinding"].as_str().unwrap().to_owned();
    let key_file = std::fs::read_to_string(dir.path().join("log.key")).unwrap();
    // `PRIVATE+KEY+<name>+<key id>+<base64 seed>`; the base64 may itself contain '+'.
    let key_secret = key_file
        .trim_end()
        .splitn(5, '+')
        .nth(4)
        .unwrap()
        .to_owned();
    // The per-event secrets of both events, as the store keeps them.
    let store = open_store(dir.path());
    let mut event_secrets = Vec::new();
    for index in 0..2 {
        let e = store
            .event_secret(index)
            .unwrap()
            .expect("a v2 event has a secret");
        event_secrets.push(("event secret", letro_core::field::fr_to_decimal(&e.fr())));
        event_secrets.push(("event secret (hex)", hex::encode(e.to_bytes())));
        event_secrets.push(("event secret (debug)", format!("{:?}", e.fr())));
    }
    let mut secrets = vec![
        ("relay token", tokens.relay.clone()),
        ("sender token", tokens.sender.clone()),
        ("admin token", tokens.admin.clone()),
        ("API-issued token", api_token.clone()),
        ("blinding", blinding),
        ("log key", key_secret),
        ("opening", job["opening"].as_str().unwrap().to_owned()),
    ];
    secrets.extend(event_secrets);
    // Half of each token too, in case a prefix were logged.
    for t in [&tokens.relay, &tokens.sender, &tokens.admin, &api_token] {
        secrets.push(("token prefix", t[..32].to_owned()));
    }
    for (what, secret) in secrets {
        assert!(secret.len() >= 16, "{what} is too short to search for");
        assert!(!logs.contains(&secret), "the logs contain the {what}");
    }
}

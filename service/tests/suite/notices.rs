//! Delivery notices (SPEC §5.11): a sender with a `[[delivery_callback]]` is POSTed a notice
//! when each of its deliveries reaches its final state (retrieved, expired, rejected), exactly
//! once per final event, stored before it is sent and marked delivered after a 2xx answer;
//! another sender's deliveries, a repeated receipt and non-final events send nothing. The
//! notice names the evidence record, which the sender then fetches with its own token.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::common::*;
use axum::http::StatusCode;
use letro_api::bodies::DeliveryNotice;
use letro_core::statement::CiphertextHash;
use letro_service::lifecycle::expire_due;
use letro_service::{unix_now, Service};
use serde_json::json;

/// A receiver on a loopback port: records each POST body, answers 200.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if let Some(body) = crate::tsa::read_post(&stream) {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (host, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_are_told_of_each_final_state_once() {
    let (host, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let bank_client = client_token(dir.path(), "bank");
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    cfg.callback_hosts = vec![host.clone()];
    cfg.delivery_callbacks = vec![("bank".into(), format!("http://{host}/letro/deliveries"))];
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let relay = tokens.relay.as_str();
    certify(&router, &tokens.admin, "bob", 2).await;

    // 1. Retrieved: a submission of "bank" and bob's certified receipt (sent twice).
    let submit = |ct: &'static [u8], sender: &'static str| {
        let router = router.clone();
        let relay = relay.to_owned();
        async move {
            let mut body = submission(ct, "bob");
            body["sender"] = json!(sender);
            let (st, v) = call(&router, "POST", "/v1/submissions", Some(&relay), Some(body)).await;
            assert_eq!(st, StatusCode::CREATED, "{v}");
        }
    };
    submit(b"letter one", "bank").await;
    let t = unix_now();
    for _ in 0..2 {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/receipts",
            Some(relay),
            Some(receipt(b"letter one", 2, t)),
        )
        .await;
        assert!(st.is_success(), "{v}");
    }
    // 2. Expired: a submission of "bank" nobody answers; and one of "other-bank" (no callback).
    submit(b"letter two", "bank").await;
    submit(b"letter three", "other-bank").await;
    let expired = expire_due(service.state(), 60, unix_now() + 3600)
        .await
        .unwrap();
    assert_eq!(expired.expired, 2);
    // 3. Rejected: "bank" (as a messaging account) writes to an unknown account.
    let (st, _) = call_raw(
        &router,
        "POST",
        "/v1/messages/nobody",
        Some(&bank_client),
        b"an envelope".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Three notices, one per final state of bank's deliveries, in any order.
    let mut notices: Vec<DeliveryNotice> = Vec::new();
    for _ in 0..400 {
        notices = got
            .lock()
            .unwrap()
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect();
        if notices.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let notices_now = got.lock().unwrap().len();
    assert_eq!(notices_now, 3, "{notices:?}");
    let mut events: Vec<(String, String)> = notices
        .iter()
        .map(|n| (n.event.clone(), n.ciphertext_sha256.clone()))
        .collect();
    events.sort();
    let h = |ct: &[u8]| CiphertextHash::of(ct).to_hex();
    assert_eq!(events[0], ("expired".to_owned(), h(b"letter two")));
    assert_eq!(events[1], ("retrieved".to_owned(), h(b"letter one")));
    assert_eq!(events[2].0, "submission-rejected");
    for n in &notices {
        assert_eq!(
            n.evidence,
            format!("/v1/evidence/{}/{}", n.ciphertext_sha256, n.event)
        );
        assert!(n.etsi_event.starts_with("http://uri.etsi.org/19522/Event/"));
    }
    // The notice leads to the evidence: once published, bank fetches the receipt's record.
    service.state().publish().await.unwrap();
    let retrieved = notices.iter().find(|n| n.event == "retrieved").unwrap();
    let (st, v) = call(
        &router,
        "GET",
        &retrieved.evidence,
        Some(&tokens.sender),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["leaf_index"], retrieved.index);

    // Stored, and marked delivered.
    drop(router);
    service.shutdown().await;
    let store = open_store(dir.path());
    assert_eq!(store.pending_notices().unwrap(), Vec::<u64>::new());
    for n in &notices {
        assert_eq!(store.notice(n.index).unwrap().unwrap().event, n.event);
    }
}

//! The API driven through the real router (tower's `oneshot`), on a real database file.

use crate::common::*;
use axum::http::StatusCode;
use letro_core::field::{fr_from_be_bytes, fr_from_decimal};
use letro_core::merkle::{ConsistencyProof, InclusionProof, DEPTH};
use letro_core::Fr;
use letro_log::checkpoint::SignedCheckpoint;
use letro_service::{keys, unix_now, Service};
use serde_json::{json, Value};

fn siblings(v: &Value) -> [[Fr; 3]; DEPTH] {
    let levels = v.as_array().unwrap();
    assert_eq!(levels.len(), DEPTH);
    let mut out = [[Fr::from(0u64); 3]; DEPTH];
    for (o, l) in out.iter_mut().zip(levels) {
        for (x, s) in o.iter_mut().zip(l.as_array().unwrap()) {
            *x = fr_from_decimal(s.as_str().unwrap()).unwrap();
        }
    }
    out
}

/// Root of a signed checkpoint text, after verifying it with the log key in `dir`.
fn verified_root(dir: &std::path::Path, text: &str) -> (u64, Fr) {
    let key = keys::load_or_create(dir, ORIGIN).unwrap();
    let cp = SignedCheckpoint::parse(text)
        .unwrap()
        .verify(&[key.verifier_key()])
        .unwrap()
        .into_checkpoint();
    (cp.size, fr_from_be_bytes(&cp.poseidon_root()).unwrap())
}

#[tokio::test]
async fn events_are_logged_published_and_proved() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let relay = Some(tokens.relay.as_str());

    let (st, _) = call(&router, "GET", "/v1/checkpoint", None, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // The routed account "r1" certified the receipt key with seed 7.
    certify(&router, &tokens.admin, "r1", 7).await;

    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"ct", "r1")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Acknowledged once stored and sequenced; integration follows when the writer is idle.
    assert_eq!(v, json!({"index": 0, "state": "sequenced"}));
    let t = unix_now();
    let (st, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"ct", 7, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["index"], 1);

    // A quiet log integrates within milliseconds.
    let state = wait_integrated(&router, &tokens.relay, 2).await;
    assert_eq!(
        state,
        json!({"sequenced": 2, "integrated": 2, "published": 0})
    );
    // Proofs are served for published sizes only.
    let (st, v) = call(
        &router,
        "GET",
        "/v1/log/leaves/1/inclusion?size=2",
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("published size 0"));
    service.state().publish().await.unwrap();
    let (_, state) = call(&router, "GET", "/v1/log/state", relay, None).await;
    assert_eq!(
        state,
        json!({"sequenced": 2, "integrated": 2, "published": 2})
    );

    let (st, text) = call(&router, "GET", "/v1/checkpoint", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let (size, root) = verified_root(dir.path(), text.as_str().unwrap());
    assert_eq!(size, 2);
    // The checkpoint publishes the receipt skew (the configured default, 300 s).
    let cp = SignedCheckpoint::parse(text.as_str().unwrap()).unwrap();
    assert_eq!(cp.unverified_checkpoint().receipt_skew(), Ok(300));
    assert!(text.as_str().unwrap().contains("\nreceipt-skew 300\n"));
    // The log's key, served as a vkey line, is the one that signed.
    let (st, vkey) = call(&router, "GET", "/v1/log/key", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let key = keys::load_or_create(dir.path(), ORIGIN).unwrap();
    assert_eq!(vkey.as_str().unwrap(), format!("{}\n", key.verifier_key()));

    // The delivered leaf's inclusion proof leads to the signed root. The leaf is hiding: it
    // is not the v1 leaf anyone could compute from H, A and t.
    let (st, p) = call(
        &router,
        "GET",
        "/v1/log/leaves/1/inclusion?size=2",
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    let proof = InclusionProof {
        index: 1,
        siblings: siblings(&p["siblings"]),
    };
    let pk = letro_core::eddsa::PrivateKey::from_bytes([7; 32]).public_key();
    let h = letro_core::statement::CiphertextHash::of(b"ct");
    let leaf = fr_from_decimal(p["leaf"].as_str().unwrap()).unwrap();
    assert_ne!(
        leaf,
        letro_core::statement::delivered_leaf_v1(&h, pk.point(), t)
    );
    for guess in [0u64, 1] {
        assert_ne!(
            leaf,
            letro_core::statement::delivered_leaf(&h, pk.point(), t, &Fr::from(guess))
        );
    }
    proof.verify(leaf, root).unwrap();
    assert!(proof.verify(leaf + Fr::from(1u64), root).is_err());

    // Without ?size the proof is against the latest checkpoint.
    let (_, p0) = call(&router, "GET", "/v1/log/leaves/0/inclusion", None, None).await;
    assert_eq!(p0["size"], 2);

    // A second checkpoint, and a consistency proof between the two.
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"ct2", "r2")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let cp2 = service.state().publish().await.unwrap();
    let (size2, root2) = verified_root(dir.path(), &cp2.text);
    assert_eq!(size2, 3);
    let (st, c) = call(
        &router,
        "GET",
        "/v1/log/consistency?old=2&new=3",
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    let proof = ConsistencyProof {
        last_old_leaf: Some(fr_from_decimal(c["last_old_leaf"].as_str().unwrap()).unwrap()),
        path: Some(InclusionProof {
            index: 1,
            siblings: siblings(&c["siblings"]),
        }),
    };
    proof.verify(2, root, 3, root2).unwrap();
    assert!(proof.verify(2, root2, 3, root2).is_err());

    drop(router);
    service.shutdown().await;
}

#[tokio::test]
async fn repeats_are_idempotent_and_conflicts_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let relay = Some(tokens.relay.as_str());
    let t = unix_now();
    certify(&router, &tokens.admin, "r", 3).await;
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"m", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);

    let (st, a) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"m", 3, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, b) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"m", 3, t)),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "a repeat is not a new record");
    assert_eq!(a["index"], b["index"]);
    // Another time, or another key, for the same H: refused.
    let (st, e) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"m", 3, t - 1)),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "conflict");
    // "r" certifies a second key (both stay certified): a receipt by it is valid, but another
    // receipt is logged for H.
    certify(&router, &tokens.admin, "r", 4).await;
    let (st, _) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"m", 4, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"m", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"m", "other")),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // Concurrent identical receipts land in one batch: exactly one record.
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"burst", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let r = receipt(b"burst", 3, t);
    let calls = (0..16).map(|_| {
        let (router, token, r) = (router.clone(), tokens.relay.clone(), r.clone());
        async move { call(&router, "POST", "/v1/receipts", Some(&token), Some(r)).await }
    });
    let results = futures_join(calls).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert!(results
        .iter()
        .all(|(_, v)| v["index"] == results[0].1["index"]));
    let (_, state) = call(&router, "GET", "/v1/log/state", relay, None).await;
    assert_eq!(state["sequenced"], 4);

    drop(router);
    service.shutdown().await;
}

async fn futures_join<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<T> {
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.body_limit = 2048;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let relay = Some(tokens.relay.as_str());
    let now = unix_now();

    let expect = |st: StatusCode, v: &Value, status: StatusCode, code: &str, needle: &str| {
        assert_eq!(st, status, "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    };

    let (st, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"x", 1, now - 1000)),
    )
    .await;
    expect(
        st,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "clock_skew",
        "300",
    );

    let mut r = receipt(b"x", 1, now);
    r["delivered_at"] = json!(time::OffsetDateTime::from_unix_timestamp(now as i64 + 1)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap());
    let (st, v) = call(&router, "POST", "/v1/receipts", relay, Some(r)).await;
    expect(
        st,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_receipt",
        "signature",
    );

    let mut r = receipt(b"x", 1, now);
    r["receipt_key"]["x"] = json!("1");
    let (st, v) = call(&router, "POST", "/v1/receipts", relay, Some(r)).await;
    expect(
        st,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_receipt",
        "receipt_key",
    );

    let mut r = receipt(b"x", 1, now);
    r["receipt_key"]["y"] = json!("0123");
    let (st, v) = call(&router, "POST", "/v1/receipts", relay, Some(r)).await;
    expect(
        st,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "receipt_key.y",
    );

    let mut r = receipt(b"x", 1, now);
    r["delivered_at"] = json!("2026-01-01T00:00:00.5Z");
    let (st, v) = call(&router, "POST", "/v1/receipts", relay, Some(r)).await;
    expect(
        st,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "whole seconds",
    );

    let mut r = receipt(b"x", 1, now);
    r["delivered_at"] = json!("yesterday");
    let (st, v) = call(&router, "POST", "/v1/receipts", relay, Some(r)).await;
    expect(
        st,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "RFC 3339",
    );

    let mut s = submission(b"x", "r");
    s["ciphertext_sha256"] = json!("ABCD");
    let (st, v) = call(&router, "POST", "/v1/submissions", relay, Some(s)).await;
    expect(
        st,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "ciphertext_sha256",
    );

    let mut s = submission(b"x", "r");
    s["extra"] = json!(1);
    let (st, v) = call(&router, "POST", "/v1/submissions", relay, Some(s)).await;
    expect(st, &v, StatusCode::BAD_REQUEST, "invalid_request", "extra");

    let s = submission(b"x", &"r".repeat(4096));
    let (st, v) = call(&router, "POST", "/v1/submissions", relay, Some(s)).await;
    expect(
        st,
        &v,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "2048",
    );

    let s = submission(b"x", "");
    let (st, v) = call(&router, "POST", "/v1/submissions", relay, Some(s)).await;
    expect(
        st,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "routing",
    );

    let (st, v) = call(
        &router,
        "GET",
        "/v1/log/leaves/0/inclusion?size=1",
        None,
        None,
    )
    .await;
    expect(
        st,
        &v,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "published size 0",
    );
    let (st, v) = call(&router, "GET", "/v1/log/leaves/zero/inclusion", None, None).await;
    expect(st, &v, StatusCode::BAD_REQUEST, "invalid_request", "index");
    let (st, v) = call(
        &router,
        "GET",
        "/v1/log/leaves/0/inclusion?size=0",
        None,
        None,
    )
    .await;
    expect(st, &v, StatusCode::NOT_FOUND, "not_found", "not below");
    let (st, v) = call(
        &router,
        "GET",
        "/v1/log/consistency?old=2&new=1",
        None,
        None,
    )
    .await;
    expect(st, &v, StatusCode::BAD_REQUEST, "invalid_request", "larger");
    let (st, v) = call(&router, "GET", "/v1/log/consistency?old=0", None, None).await;
    expect(st, &v, StatusCode::BAD_REQUEST, "invalid_request", "new");
    let (st, v) = call(&router, "GET", "/v1/nothing", None, None).await;
    expect(st, &v, StatusCode::NOT_FOUND, "not_found", "endpoint");

    // Nothing refused reached the log.
    let (_, state) = call(&router, "GET", "/v1/log/state", relay, None).await;
    assert_eq!(state["sequenced"], 0);

    drop(router);
    service.shutdown().await;
}

/// Every checkpoint publishes the receipt skew; lowering `max_skew` tightens new receipts but
/// never the published value, which covers entries accepted under the larger one.
#[tokio::test]
async fn the_published_receipt_skew_never_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let relay = Some(tokens.relay.as_str());
    let skew_of = |text: &str| {
        SignedCheckpoint::parse(text)
            .unwrap()
            .unverified_checkpoint()
            .receipt_skew()
            .unwrap()
    };
    let mut cfg = config(dir.path());
    cfg.max_skew = 900;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"one", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(skew_of(&service.state().publish().await.unwrap().text), 900);
    drop(router);
    service.shutdown().await;

    let mut cfg = config(dir.path());
    cfg.max_skew = 60;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    certify(&router, &tokens.admin, "r", 3).await;
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"two", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"two", 3, unix_now() - 600)),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "clock_skew");
    let cp = service.state().publish().await.unwrap();
    assert_eq!(cp.size, 2);
    assert_eq!(skew_of(&cp.text), 900);
    drop(router);
    service.shutdown().await;
}

//! Only certified receipts enter the log (SPEC §5.6, API.md "Events"): a receipt through
//! `POST /v1/receipts` is refused unless its `H` was submitted and its key is certified in the
//! directory by the account the submission was routed to. Each refusal changes nothing stored,
//! and none blocks the genuine receipt that follows (front-running).

use crate::common::xeddsa::TestIdentity;
use crate::common::*;
use axum::http::StatusCode;
use axum::Router;
use letro_core::eddsa::PrivateKey;
use letro_core::statement::CiphertextHash;
use letro_service::store::StoredEvent;
use letro_service::{unix_now, Service};
use serde_json::Value;

/// Posts a receipt through the relay API.
/// Overwrites the stored certificate of a receipt key behind the service's back, as a damaged
/// or tampered row would be, on the store the suite runs on.
fn overwrite_certificate(dir: &std::path::Path, packed: &[u8; 32], certificate: &str) {
    if pg::suite_on_postgres() {
        let sql = format!(
            "UPDATE receipt_keys SET certificate = '{}' WHERE receipt_key = '\\x{}'",
            certificate.replace('\'', "''"),
            hex::encode(packed)
        );
        pg::run_sql(&pg::database_for(dir), &sql).unwrap();
    } else {
        let db = rusqlite::Connection::open(dir.join("letro.sqlite3")).unwrap();
        let n = db
            .execute(
                "UPDATE receipt_keys SET certificate = ?1 WHERE receipt_key = ?2",
                rusqlite::params![certificate, &packed[..]],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}

async fn post_receipt(router: &Router, relay: &str, body: Value) -> (StatusCode, Value) {
    call(router, "POST", "/v1/receipts", Some(relay), Some(body)).await
}

fn refused(got: (StatusCode, Value), status: StatusCode, code: &str) {
    let (st, v) = got;
    assert_eq!(st, status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
}

async fn sequenced(router: &Router, relay: &str) -> u64 {
    let (_, state) = call(router, "GET", "/v1/log/state", Some(relay), None).await;
    state["sequenced"].as_u64().unwrap()
}

#[tokio::test]
async fn uncertified_and_unsubmitted_receipts_are_refused_and_block_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let relay = tokens.relay.as_str();
    let t = unix_now();

    // "alice" certifies the key with seed 1; "bob" the key with seed 2.
    certify(&router, &tokens.admin, "alice", 1).await;
    certify(&router, &tokens.admin, "bob", 2).await;

    // 1. Not submitted: a valid receipt by alice's certified key for an H nobody submitted.
    refused(
        post_receipt(&router, relay, receipt(b"letter", 1, t)).await,
        StatusCode::CONFLICT,
        "not_submitted",
    );
    assert_eq!(sequenced(&router, relay).await, 0);

    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(relay),
        Some(submission(b"letter", "alice")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // 2. A key nobody certified.
    refused(
        post_receipt(&router, relay, receipt(b"letter", 3, t)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "uncertified_receipt_key",
    );
    // 3. A key another account certified: bob's key, for a message routed to alice.
    refused(
        post_receipt(&router, relay, receipt(b"letter", 2, t)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "uncertified_receipt_key",
    );

    // 4. A certificate by another account's identity key: alice's upload of the key with seed
    //    4 whose certificate bob's identity signed. Refused at the directory, whether the
    //    certificate names bob's identity key (not the document's) or alice's (the signature
    //    does not verify); so the key stays uncertified.
    let alice_client = client_token_for(&router, &tokens.admin, "alice").await;
    let alice_identity = TestIdentity::from_seed(1 + 128);
    let bob_identity = TestIdentity::from_seed(2 + 128);
    let a4 = PrivateKey::from_bytes([4; 32]).public_key();
    let mut doc = upload("alice", 4, &alice_identity);
    doc.receipt_key_certificate = bob_identity.certify(a4.point());
    let (st, v) = publish_upload(&router, &alice_client, &doc).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    doc.receipt_key_certificate.identity_key = alice_identity.public_key();
    let (st, v) = publish_upload(&router, &alice_client, &doc).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_certificate", "{v}");
    refused(
        post_receipt(&router, relay, receipt(b"letter", 4, t)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "uncertified_receipt_key",
    );

    // 5. A bad certificate (one bit of the signature flipped): refused, the key uncertified.
    let mut doc = upload("alice", 5, &alice_identity);
    doc.receipt_key_certificate.signature[10] ^= 1;
    let (st, v) = publish_upload(&router, &alice_client, &doc).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_certificate", "{v}");
    refused(
        post_receipt(&router, relay, receipt(b"letter", 5, t)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "uncertified_receipt_key",
    );

    // Nothing refused was stored: only the submission is in the log, and no receipt for H.
    assert_eq!(sequenced(&router, relay).await, 1);
    let h = CiphertextHash::of(b"letter");
    assert!(open_store(dir.path()).find_receipt(&h.0).unwrap().is_none());

    // The genuine receipt, after all those refusals, is accepted and is the one stored, with
    // alice's certificate of her key.
    let (st, v) = post_receipt(&router, relay, receipt(b"letter", 1, t)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["index"], 1);
    let (_, stored) = open_store(dir.path()).find_receipt(&h.0).unwrap().unwrap();
    let a1 = PrivateKey::from_bytes([1; 32]).public_key();
    let StoredEvent::Delivered {
        receipt_key,
        receipt_key_certificate,
        ..
    } = stored
    else {
        panic!("not a delivered event: {stored:?}");
    };
    assert_eq!(
        receipt_key.x,
        letro_core::field::fr_to_decimal(&a1.point().x)
    );
    assert_eq!(
        receipt_key_certificate,
        Some(alice_identity.certify(a1.point()))
    );
    // A refused receipt after it is still refused as such (not a conflict), and a repeat of
    // the genuine one is idempotent.
    refused(
        post_receipt(&router, relay, receipt(b"letter", 2, t)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "uncertified_receipt_key",
    );
    let (st, v) = post_receipt(&router, relay, receipt(b"letter", 1, t)).await;
    assert_eq!((st, v["index"].clone()), (StatusCode::OK, Value::from(1)));
    assert_eq!(sequenced(&router, relay).await, 2);

    // The service remembers certificates that verified, by the hash of the key and the stored
    // certificate, and checks a certificate again as soon as its stored row differs: with one
    // bit of alice's stored certificate flipped behind the service's back, her next receipt is
    // refused although her certificate verified a moment ago.
    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(relay),
        Some(submission(b"second letter", "alice")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let packed = letro_core::babyjubjub::pack(a1.point());
    let (_, stored) = open_store(dir.path())
        .receipt_key_owner(&packed)
        .unwrap()
        .unwrap();
    let mut cert: Value = serde_json::from_str(&stored).unwrap();
    let sig = cert["signature"].as_str().unwrap().to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    cert["signature"] = Value::from(format!("{flipped}{}", &sig[1..]));
    overwrite_certificate(dir.path(), &packed, &cert.to_string());
    refused(
        post_receipt(&router, relay, receipt(b"second letter", 1, t)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_certificate",
    );
    overwrite_certificate(dir.path(), &packed, &stored);
    let (st, v) = post_receipt(&router, relay, receipt(b"second letter", 1, t)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // The refusals are counted by reason.
    let (_, text) = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
    let text = text.as_str().unwrap();
    for line in [
        "letro_receipts_refused_total{reason=\"not_submitted\"} 1",
        "letro_receipts_refused_total{reason=\"uncertified_receipt_key\"} 5",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    drop(router);
    service.shutdown().await;
}

/// The mailbox path applies the same rule: a recipient acknowledging with a key it did not
/// certify is refused, and its certified key then succeeds.
#[tokio::test]
async fn mailbox_receipts_follow_the_same_rule() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let t = unix_now();
    // alice (tokens.client) certifies key 1; bob key 2.
    certify(&router, &tokens.admin, "alice", 1).await;
    certify(&router, &tokens.admin, "bob", 2).await;
    let bob = client_token_for(&router, &tokens.admin, "bob").await;
    let envelope = b"an envelope for alice".to_vec();
    let (st, _) = call_raw(
        &router,
        "POST",
        "/v1/messages/alice",
        Some(&bob),
        envelope.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let h = CiphertextHash::of(&envelope);
    let uri = format!("/v1/mailbox/{}/receipt", h.to_hex());
    let ack = |seed: u8| {
        let mut v = receipt(&envelope, seed, t);
        v.as_object_mut().unwrap().remove("ciphertext_sha256");
        v
    };
    for seed in [2, 3] {
        let (st, v) = call(&router, "POST", &uri, Some(&tokens.client), Some(ack(seed))).await;
        refused(
            (st, v),
            StatusCode::UNPROCESSABLE_ENTITY,
            "uncertified_receipt_key",
        );
    }
    let (st, v) = call(&router, "POST", &uri, Some(&tokens.client), Some(ack(1))).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // After the submission (0) and its made-available event (1).
    assert_eq!(v["index"], 2);
    drop(router);
    service.shutdown().await;
}

//! The delivery lifecycle over the API (SPEC §5.11): every final state reached through the
//! mailbox (retrieved, refused, expired, rejected), every forbidden order that a client can
//! attempt refused with 409 `out_of_order` and nothing stored, repeats answered with their
//! entry, the refusal's checks, and every stored leaf recomputed from its event with
//! letro-core's functions. The writer's own test tries every (history, event) pair.

use crate::common::*;
use axum::http::StatusCode;
use axum::Router;
use letro_client::Client;
use letro_core::field::fr_to_be_bytes;
use letro_core::lifecycle::{self, RejectionReason};
use letro_core::log::submitted_leaf;
use letro_core::receipt_json::PointJson;
use letro_core::statement::{delivered_leaf, CiphertextHash};
use letro_service::lifecycle::expire_due;
use letro_service::store::StoredEvent;
use letro_service::{unix_now, Service};
use serde_json::{json, Value};

async fn send(router: &Router, token: &str, to: &str, envelope: &[u8]) -> (StatusCode, Value) {
    let (st, v) = call_raw(
        router,
        "POST",
        &format!("/v1/messages/{to}"),
        Some(token),
        envelope.to_vec(),
    )
    .await;
    let v = serde_json::from_slice(&v)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&v).into_owned()));
    (st, v)
}

fn kinds(dir: &std::path::Path, h: &CiphertextHash) -> Vec<&'static str> {
    open_store(dir)
        .delivery(&h.0)
        .unwrap()
        .iter()
        .map(|(_, e)| e.kind())
        .collect()
}

fn point(p: &PointJson) -> letro_core::babyjubjub::Point {
    p.receipt_key(["x", "y"]).unwrap().point().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_reaches_one_final_state_and_forbidden_orders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _tokens = issue_tokens(dir.path());
    let bank = client_token(dir.path(), "bank");
    let bob_token = client_token(dir.path(), "bob");
    let carol_token = client_token(dir.path(), "carol");
    let other_sender = client_token(dir.path(), "other-bank");
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let clients = tempfile::tempdir().unwrap();
    let bob = Client::create(&clients.path().join("bob"), "bob").unwrap();
    let carol = Client::create(&clients.path().join("carol"), "carol").unwrap();
    publish_client(&router, &bob_token, &bob).await;
    publish_client(&router, &carol_token, &carol).await;
    let ack = |h: &CiphertextHash, who: &Client| {
        serde_json::to_value(who.sign_receipt(h, unix_now()).ack_json().unwrap()).unwrap()
    };
    let refuse = |h: &CiphertextHash, who: &Client, reason: Option<&str>| {
        serde_json::to_value(who.sign_refusal(h, unix_now(), reason).unwrap()).unwrap()
    };
    let post = |path: String, token: String, body: Value| {
        let router = router.clone();
        async move { call(&router, "POST", &path, Some(&token), Some(body)).await }
    };
    let ack_uri = |h: &CiphertextHash| format!("/v1/mailbox/{}/receipt", h.to_hex());
    let refusal_uri = |h: &CiphertextHash| format!("/v1/mailbox/{}/refusal", h.to_hex());
    let out_of_order = |(st, v): (StatusCode, Value)| {
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], "out_of_order", "{v}");
    };

    // 1. Accepted, made available, retrieved. Then no refusal, no expiry.
    let retrieved = b"envelope retrieved".to_vec();
    let h1 = CiphertextHash::of(&retrieved);
    let (st, v) = send(&router, &bank, "bob", &retrieved).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(kinds(dir.path(), &h1), ["submitted", "available"]);
    let (st, v) = post(ack_uri(&h1), bob_token.clone(), ack(&h1, &bob)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    out_of_order(post(refusal_uri(&h1), bob_token.clone(), refuse(&h1, &bob, None)).await);
    // A repeated submission after the end is answered with its entry and stores nothing.
    let (st, v) = send(&router, &bank, "bob", &retrieved).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(open_store(dir.path()).envelope(&h1.0).unwrap().is_none());

    // 2. Refused with a reason: the envelope leaves the mailbox; no receipt after it.
    let refused = b"envelope refused".to_vec();
    let h2 = CiphertextHash::of(&refused);
    assert_eq!(
        send(&router, &bank, "bob", &refused).await.0,
        StatusCode::CREATED
    );
    // Refusals that are not bob's: carol's mailbox (404), carol's key (422), a signature
    // over another reason (422), a malformed reason (400), an unknown member (400).
    assert_eq!(
        post(
            refusal_uri(&h2),
            carol_token.clone(),
            refuse(&h2, &carol, None)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (st, v) = post(
        refusal_uri(&h2),
        bob_token.clone(),
        refuse(&h2, &carol, None),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "uncertified_receipt_key");
    let mut other_reason = refuse(&h2, &bob, Some("one reason"));
    other_reason["reason"] = json!("another reason");
    let (st, v) = post(refusal_uri(&h2), bob_token.clone(), other_reason).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_receipt");
    for bad in [
        json!(""),
        json!("a\u{7}b"),
        json!("x".repeat(513)),
        json!(5),
    ] {
        let mut body = refuse(&h2, &bob, Some("x"));
        body["reason"] = bad;
        let (st, v) = post(refusal_uri(&h2), bob_token.clone(), body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    }
    let mut extra = refuse(&h2, &bob, None);
    extra["delivered_at"] = json!("2026-01-01T00:00:00Z");
    assert_eq!(
        post(refusal_uri(&h2), bob_token.clone(), extra).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(kinds(dir.path(), &h2), ["submitted", "available"]);
    let t = unix_now();
    let body = serde_json::to_value(
        bob.sign_refusal(&h2, t, Some("not addressed to me"))
            .unwrap(),
    )
    .unwrap();
    let (st, v) = post(refusal_uri(&h2), bob_token.clone(), body.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let refused_index = v["index"].clone();
    let (st, v) = post(refusal_uri(&h2), bob_token.clone(), body).await;
    assert_eq!((st, v["index"].clone()), (StatusCode::OK, refused_index));
    let (st, v) = post(
        refusal_uri(&h2),
        bob_token.clone(),
        refuse(&h2, &bob, Some("changed my mind")),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
    out_of_order(post(ack_uri(&h2), bob_token.clone(), ack(&h2, &bob)).await);
    let (_, list) = call(&router, "GET", "/v1/mailbox", Some(&bob_token), None).await;
    assert_eq!(list, json!([]));
    assert_eq!(
        kinds(dir.path(), &h2),
        ["submitted", "available", "refused"]
    );

    // 3. Never answered: expired when the retention period ends, and nothing after that.
    let expiring = b"envelope never retrieved".to_vec();
    let h3 = CiphertextHash::of(&expiring);
    assert_eq!(
        send(&router, &bank, "bob", &expiring).await.0,
        StatusCode::CREATED
    );
    let state = service.state();
    let now = unix_now();
    // Not yet due: nothing happens.
    let none = expire_due(state, 3600, now).await.unwrap();
    assert_eq!(none.expired, 0);
    // Due now (a retention of 0 s): the expiry is logged with the service's present time, as
    // the task does, so the checkpoint that includes it is not earlier than it.
    let done = expire_due(state, 0, unix_now()).await.unwrap();
    assert_eq!(done.expired, 1, "only the open delivery expires");
    assert_eq!(
        kinds(dir.path(), &h3),
        ["submitted", "available", "expired"]
    );
    let (_, list) = call(&router, "GET", "/v1/mailbox", Some(&bob_token), None).await;
    assert_eq!(list, json!([]), "an expired envelope leaves the mailbox");
    out_of_order(post(ack_uri(&h3), bob_token.clone(), ack(&h3, &bob)).await);
    out_of_order(post(refusal_uri(&h3), bob_token.clone(), refuse(&h3, &bob, None)).await);
    assert_eq!(expire_due(state, 60, now + 120).await.unwrap().expired, 0);
    // The sender's retry changes nothing.
    assert_eq!(
        send(&router, &bank, "bob", &expiring).await.0,
        StatusCode::OK
    );
    let (_, list) = call(&router, "GET", "/v1/mailbox", Some(&bob_token), None).await;
    assert_eq!(list, json!([]));

    // 4. Rejected (unknown recipient): logged, answered 404 with its index; then no acceptance.
    let rejected = b"envelope for nobody".to_vec();
    let h4 = CiphertextHash::of(&rejected);
    let (st, v) = send(&router, &bank, "nobody", &rejected).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rejection (unknown-recipient) is logged at index"),
        "{v}"
    );
    assert_eq!(kinds(dir.path(), &h4), ["rejected"]);
    out_of_order(send(&router, &bank, "bob", &rejected).await);
    assert_eq!(kinds(dir.path(), &h4), ["rejected"]);
    // An open delivery is not rejected by a later post elsewhere.
    let open = b"envelope still open".to_vec();
    let h5 = CiphertextHash::of(&open);
    assert_eq!(
        send(&router, &bank, "bob", &open).await.0,
        StatusCode::CREATED
    );
    let (st, v) = send(&router, &bank, "nobody", &open).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no rejection is logged"));
    assert_eq!(kinds(dir.path(), &h5), ["submitted", "available"]);

    // Evidence records: every event of every delivery, for its sender; the recipient's own
    // receipt and refusal for the recipient; each verified offline.
    state.publish().await.unwrap();
    let vkey = letro_log::note::VerifierKey::parse(service.log_vkey()).unwrap();
    let verifier = letro_verifier::Verifier::new(vec![vkey]).unwrap();
    let evidence_uri = |h: &CiphertextHash, e: &str| format!("/v1/evidence/{}/{e}", h.to_hex());
    let mut records = Vec::new();
    for (h, events) in [
        (
            h1,
            &["submission-accepted", "made-available", "retrieved"][..],
        ),
        (
            h2,
            &["submission-accepted", "made-available", "refused"][..],
        ),
        (
            h3,
            &["submission-accepted", "made-available", "expired"][..],
        ),
        (h4, &["submission-rejected"][..]),
        (h5, &["submission-accepted", "made-available"][..]),
    ] {
        for e in events {
            let (st, body) = call_raw(
                &router,
                "GET",
                &evidence_uri(&h, e),
                Some(&bank),
                Vec::new(),
            )
            .await;
            assert_eq!(
                st,
                StatusCode::OK,
                "{e}: {}",
                String::from_utf8_lossy(&body)
            );
            let verified = verifier.verify_evidence(&body).unwrap();
            assert_eq!(verified.record.facts.event().name(), *e);
            assert_eq!(verified.record.ciphertext_hash, h);
            records.push(body);
        }
        // An event that did not happen is not found.
        let (st, _) = call(
            &router,
            "GET",
            &evidence_uri(&h, "expired"),
            Some(&bank),
            None,
        )
        .await;
        if h != h3 {
            assert_eq!(st, StatusCode::NOT_FOUND);
        }
    }
    // The recipient reads its receipt and refusal, not the sender's events; another account
    // and another sender read nothing; a malformed event name is 400.
    for (h, e) in [(h1, "retrieved"), (h2, "refused")] {
        let (st, body) = call_raw(
            &router,
            "GET",
            &evidence_uri(&h, e),
            Some(&bob_token),
            Vec::new(),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let v = verifier.verify_evidence(&body).unwrap();
        assert!(
            v.identity_key.is_some(),
            "the certificate names bob's identity"
        );
        let (st, _) = call(
            &router,
            "GET",
            &evidence_uri(&h, e),
            Some(&carol_token),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (st, _) = call(
        &router,
        "GET",
        &evidence_uri(&h1, "submission-accepted"),
        Some(&bob_token),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = call(
        &router,
        "GET",
        &evidence_uri(&h1, "retrieved"),
        Some(&other_sender),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = call(
        &router,
        "GET",
        &evidence_uri(&h1, "Retrieved"),
        Some(&bank),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Tampered records: each refused at its step, with its code and exit code.
    let refused: Value = serde_json::from_slice(&records[5]).unwrap();
    let available: Value = serde_json::from_slice(&records[1]).unwrap();
    assert_eq!(refused["event"], "refused");
    assert_eq!(available["event"], "made-available");
    let check = |v: &Value, code: &str, step: u8, exit: u8| {
        let e = verifier
            .verify_evidence(v.to_string().as_bytes())
            .expect_err(code);
        assert_eq!(
            (e.code(), e.step(), e.exit_code()),
            (code, step, exit),
            "{e}"
        );
    };
    let with = |base: &Value, f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let bump_time = |v: &mut Value| {
        let t = letro_core::bundle::parse_time(v["facts"]["time"].as_str().unwrap()).unwrap();
        v["facts"]["time"] = json!(letro_core::bundle::format_time(t + 1).unwrap());
    };
    check(&with(&refused, &bump_time), "Evidence.Signature", 2, 1);
    check(&with(&available, &bump_time), "Evidence.Inclusion", 4, 1);
    check(
        &with(&refused, &|v| {
            v["facts"]["reason"] = json!("another reason")
        }),
        "Evidence.Signature",
        2,
        1,
    );
    check(
        &with(&available, &|v| v["facts"]["routing"] = json!("carol")),
        "Evidence.Inclusion",
        4,
        1,
    );
    check(
        &with(&available, &|v| v["event_secret"] = json!("12345")),
        "Evidence.Inclusion",
        4,
        1,
    );
    check(
        &with(&available, &|v| {
            let i = v["leaf_index"].as_u64().unwrap();
            v["leaf_index"] = json!(i ^ 1);
        }),
        "Evidence.Inclusion",
        4,
        1,
    );
    check(
        &with(&available, &|v| {
            v["inclusion"]["hashes"].as_array_mut().unwrap().pop();
        }),
        "Evidence.Inclusion",
        4,
        1,
    );
    check(
        &with(&available, &|v| v["inclusion"]["tree_size"] = json!(999)),
        "Evidence.TreeSize",
        4,
        1,
    );
    check(
        &with(&available, &|v| {
            v["issuer"]["origin"] = json!("other.example/log")
        }),
        "Evidence.Issuer",
        3,
        1,
    );
    check(
        &with(&refused, &|v| {
            let s = v["facts"]["receipt_key_certificate"]["signature"]
                .as_str()
                .unwrap();
            let mut b =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s).unwrap();
            b[0] ^= 1;
            v["facts"]["receipt_key_certificate"]["signature"] = json!(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                b
            ));
        }),
        "Evidence.Certificate",
        2,
        1,
    );
    check(
        &with(&available, &|v| {
            let text = v["checkpoint"].as_str().unwrap();
            // The checkpoint's size line, altered: the signature no longer covers it.
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let size: u64 = lines[1].parse().unwrap();
            lines[1] = (size + 1).to_string();
            v["checkpoint"] = json!(lines.join("\n") + "\n");
        }),
        "Checkpoint.InvalidSignature",
        3,
        1,
    );
    for (f, name) in [
        (
            &(|v: &mut Value| v["facts"]["routing"] = json!("bob")) as &dyn Fn(&mut Value),
            "an extra fact",
        ),
        (
            &|v: &mut Value| {
                v["etsi_event"] = json!("http://uri.etsi.org/19522/Event/ContentHandover")
            },
            "another ETSI event",
        ),
        (
            &|v: &mut Value| v["event"] = json!("retrieved"),
            "another event",
        ),
        (
            &|v: &mut Value| v["surprise"] = json!(1),
            "an unknown member",
        ),
        (
            &|v: &mut Value| {
                v["facts"].as_object_mut().unwrap().remove("time");
            },
            "a missing fact",
        ),
        (
            &|v: &mut Value| v["inclusion"]["hashes"][0] = json!("00"),
            "a short hash",
        ),
    ] {
        let e = verifier
            .verify_evidence(with(&refused, f).to_string().as_bytes())
            .expect_err(name);
        assert_eq!(
            (e.code(), e.step(), e.exit_code()),
            ("Malformed.Evidence", 1, 3),
            "{name}: {e}"
        );
    }
    check(
        &with(&available, &|v| v["version"] = json!("letro-evidence/v2")),
        "Malformed.UnsupportedVersion",
        1,
        3,
    );
    assert_eq!(
        verifier
            .verify_evidence(b"\x00garbage")
            .unwrap_err()
            .exit_code(),
        3
    );
    let keyless = letro_verifier::Verifier::new(vec![]).unwrap();
    assert_eq!(
        keyless.verify_evidence(&records[1]).unwrap_err().code(),
        "NoTrustedLogKey"
    );
    let other_key =
        letro_log::note::SignerKey::from_seed("relay.example/letro-log", &[7; 32]).unwrap();
    let stranger = letro_verifier::Verifier::new(vec![other_key.verifier_key()]).unwrap();
    let e = stranger.verify_evidence(&records[1]).unwrap_err();
    assert_eq!((e.step(), e.exit_code()), (3, 1), "{e}");

    // Every stored leaf is letro-core's leaf of its event.
    drop(router);
    service.shutdown().await;
    let store = open_store(dir.path());
    let leaves = store.leaves().unwrap();
    let mut checked = 0;
    for h in [h1, h2, h3, h4, h5] {
        for (index, event) in store.delivery(&h.0).unwrap() {
            let e = store.event_secret(index).unwrap().unwrap().fr();
            let expected = match &event {
                StoredEvent::Submitted {
                    sender, routing, ..
                } => submitted_leaf(&h, sender, routing, &e),
                StoredEvent::Available {
                    routing,
                    available_at,
                    ..
                } => lifecycle::available_leaf(&h, routing, *available_at, &e),
                StoredEvent::Delivered {
                    delivered_at,
                    receipt_key,
                    ..
                } => delivered_leaf(&h, &point(receipt_key), *delivered_at, &e),
                StoredEvent::Refused {
                    refused_at,
                    reason,
                    receipt_key,
                    ..
                } => lifecycle::refused_leaf(
                    &h,
                    &point(receipt_key),
                    *refused_at,
                    reason.as_deref(),
                    &e,
                ),
                StoredEvent::Expired {
                    retention,
                    expired_at,
                    ..
                } => lifecycle::expired_leaf(&h, *retention, *expired_at, &e),
                StoredEvent::Rejected {
                    sender,
                    reason,
                    rejected_at,
                    ..
                } => lifecycle::rejected_leaf(
                    &h,
                    sender,
                    RejectionReason::from_name(reason).unwrap(),
                    *rejected_at,
                    &e,
                ),
            };
            let i = usize::try_from(index).unwrap();
            assert_eq!(leaves[i].leaf, fr_to_be_bytes(&expected), "{event:?}");
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        leaves.len(),
        "every leaf belongs to one of the deliveries"
    );
    assert_eq!(checked, 3 + 3 + 3 + 1 + 2);
}

//! The relay's directory and mailbox with real Signal clients: prekeys published and handed
//! out once, a message with an attachment sent, fetched, decrypted and acknowledged, the
//! refusals, a proof whose opening carries the receipt-key certificate, and a search of the
//! database files and the logs for the plaintext (in a process of its own, `common::run_alone`,
//! so that the logs searched are this test's).

use std::time::Duration;

use crate::common::*;
use axum::http::StatusCode;
use axum::Router;
use letro_api::directory::PrekeyBundle;
use letro_client::{Attachment, Client, Message};
use letro_core::bundle::format_time;
use letro_core::statement::CiphertextHash;
use letro_service::{unix_now, Service};
use serde_json::{json, Value};

fn ack_body(client: &Client, h: &CiphertextHash, t: u64) -> Value {
    serde_json::to_value(client.sign_receipt(h, t).ack_json().unwrap()).unwrap()
}

async fn bundle(router: &Router, token: &str, account: &str) -> PrekeyBundle {
    let (st, v) = call_raw(
        router,
        "GET",
        &format!("/v1/directory/{account}"),
        Some(token),
        Vec::new(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
    PrekeyBundle::parse(&v).unwrap().0
}

#[test]
fn signal_messages_go_through_the_relay_as_ciphertext_only() {
    run_alone("relay::signal_messages_go_through_the_relay_as_ciphertext_only_alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "captures the logs: run in a process of its own by the test without _alone"]
async fn signal_messages_go_through_the_relay_as_ciphertext_only_alone() {
    let capture = Capture::install();

    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let alice_token = client_token(dir.path(), "bank");
    let bob_token = client_token(dir.path(), "bob");
    let carol_token = client_token(dir.path(), "carol");
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    let clients = tempfile::tempdir().unwrap();
    // The sender's messaging account is "bank", the subject of the sender token that asks
    // for proofs.
    let mut alice = Client::create(&clients.path().join("alice"), "bank").unwrap();
    let mut bob = Client::create(&clients.path().join("bob"), "bob").unwrap();
    let carol = Client::create(&clients.path().join("carol"), "carol").unwrap();
    publish_client(&router, &bob_token, &bob).await;
    publish_client(&router, &alice_token, &alice).await;
    publish_client(&router, &carol_token, &carol).await;

    // Directory refusals: another account's entry, a bad document, a certificate that does
    // not verify (carol's certificate on bob's upload), an unknown account.
    let (st, _) = call_raw(
        &router,
        "PUT",
        "/v1/directory/bob",
        Some(&carol_token),
        carol.prekey_upload().to_json().into_bytes(),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = call_raw(
        &router,
        "PUT",
        "/v1/directory/carol",
        Some(&carol_token),
        b"{\"version\": 1}".to_vec(),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&v)
    );
    let mut forged = bob.prekey_upload();
    forged.account = "carol".into();
    forged.receipt_key_certificate = carol.prekey_upload().receipt_key_certificate;
    forged.identity_key = carol.prekey_upload().identity_key;
    let (st, v) = call_raw(
        &router,
        "PUT",
        "/v1/directory/carol",
        Some(&carol_token),
        forged.to_json().into_bytes(),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&v)
    );
    let v: Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(v["error"]["code"], "invalid_certificate");
    let (st, _) = call_raw(
        &router,
        "GET",
        "/v1/directory/nobody",
        Some(&bob_token),
        Vec::new(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Each one-time prekey is handed out once.
    let first = bundle(&router, &alice_token, "bob").await;
    let second = bundle(&router, &carol_token, "bob").await;
    let (a, b) = (
        first.one_time_prekey.clone().unwrap(),
        second.one_time_prekey.unwrap(),
    );
    assert_ne!(a.id, b.id);

    // alice sends bob a letter with an attachment.
    let plaintext = "Notice of termination of the lease at 12 Rue Letro, effective 1 March";
    let attachment: Vec<u8> = (0..50_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let marker = b"ATTACHMENT-MARKER-7f3a9c".to_vec();
    let mut attachment_bytes = marker.clone();
    attachment_bytes.extend_from_slice(&attachment);
    alice.start_session("bob", &first).unwrap();
    let message = Message {
        body: plaintext.into(),
        attachments: vec![Attachment {
            name: "notice.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: attachment_bytes.clone(),
        }],
    };
    let envelope = alice.encrypt("bob", &message).unwrap();
    let h = CiphertextHash::of(&envelope);
    let (st, v) = call_raw(
        &router,
        "POST",
        "/v1/messages/bob",
        Some(&alice_token),
        envelope.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&v));
    // A repeat is idempotent; an unknown recipient is 404; an empty envelope 400.
    let (st, _) = call_raw(
        &router,
        "POST",
        "/v1/messages/bob",
        Some(&alice_token),
        envelope.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = call_raw(
        &router,
        "POST",
        "/v1/messages/nobody",
        Some(&alice_token),
        envelope.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = call_raw(
        &router,
        "POST",
        "/v1/messages/bob",
        Some(&alice_token),
        Vec::new(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // bob's mailbox lists it; carol cannot see or fetch it.
    let (st, list) = call(&router, "GET", "/v1/mailbox", Some(&bob_token), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        list,
        json!([{"ciphertext_sha256": h.to_hex(), "sender": "bank", "received_at": list[0]["received_at"].clone()}])
    );
    let (_, list) = call(&router, "GET", "/v1/mailbox", Some(&carol_token), None).await;
    assert_eq!(list, json!([]));
    let uri = format!("/v1/mailbox/{}", h.to_hex());
    let (st, _) = call_raw(&router, "GET", &uri, Some(&carol_token), Vec::new()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, fetched) = call_raw(&router, "GET", &uri, Some(&bob_token), Vec::new()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(fetched, envelope, "the relay hands out the exact bytes");
    let opened = bob.decrypt("bank", &fetched).unwrap();
    assert_eq!(opened.body, plaintext);
    assert_eq!(opened.attachments[0].bytes, attachment_bytes);

    // Acknowledgement: carol may not; a receipt by carol's (certified, but not bob's) key is
    // refused; then bob's receipt is logged and the envelope leaves the mailbox.
    let ack_uri = format!("/v1/mailbox/{}/receipt", h.to_hex());
    let t = unix_now();
    let (st, _) = call(
        &router,
        "POST",
        &ack_uri,
        Some(&carol_token),
        Some(ack_body(&carol, &h, t)),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, v) = call(
        &router,
        "POST",
        &ack_uri,
        Some(&bob_token),
        Some(ack_body(&carol, &h, t)),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "uncertified_receipt_key");
    let (st, v) = call(
        &router,
        "POST",
        &ack_uri,
        Some(&bob_token),
        Some(ack_body(&bob, &h, t)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let delivered_index = v["index"].clone();
    let (st, v) = call(
        &router,
        "POST",
        &ack_uri,
        Some(&bob_token),
        Some(ack_body(&bob, &h, t)),
    )
    .await;
    assert_eq!(
        (st, v["index"].clone()),
        (StatusCode::OK, delivered_index),
        "a repeat is idempotent"
    );
    let (_, list) = call(&router, "GET", "/v1/mailbox", Some(&bob_token), None).await;
    assert_eq!(list, json!([]));

    // The sender proves delivery; the opening carries bob's certificate.
    service.state().publish().await.unwrap();
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(json!({
            "ciphertext_sha256": h.to_hex(),
            "not_before": format_time(t - 60).unwrap(),
            "not_after": format_time(t + 60).unwrap(),
        })),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job_uri = format!("/v1/proofs/{}", v["job_id"].as_str().unwrap());
    let mut job = v;
    for _ in 0..1200 {
        let (_, v) = call(&router, "GET", &job_uri, Some(&tokens.sender), None).await;
        job = v;
        if job["state"] != "queued" && job["state"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["state"], "done", "{job}");
    let key = letro_service::keys::load_or_create(dir.path(), ORIGIN).unwrap();
    let verifier = letro_verifier::Verifier::new(vec![key.verifier_key()]).unwrap();
    let verified = verifier
        .verify(job["bundle"].as_str().unwrap().as_bytes())
        .unwrap();
    let opening = letro_verifier::checks::check_opening(
        job["opening"].as_str().unwrap().as_bytes(),
        verified.statement(),
    )
    .unwrap();
    assert_eq!(
        opening.identity_key.as_deref(),
        Some(hex::encode(bob.identity_key()).as_str()),
        "the opening names bob's identity"
    );

    drop(router);
    service.shutdown().await;

    // Neither the plaintext nor the attachment is anywhere in the relay's files or logs.
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        haystacks.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    // The stored data: the SQLite files, or every column of the PostgreSQL database.
    let stored: Vec<u8> = if pg::suite_on_postgres() {
        let dumped = pg::dump(&pg::database_for(dir.path()));
        let all = dumped.iter().flat_map(|(_, b)| b.clone()).collect();
        haystacks.extend(dumped);
        all
    } else {
        let db = &haystacks
            .iter()
            .find(|(p, _)| p.ends_with("letro.sqlite3"))
            .unwrap()
            .1;
        assert!(db.len() > 4096);
        haystacks
            .iter()
            .filter(|(p, _)| p.contains("sqlite3"))
            .flat_map(|(_, b)| b.clone())
            .collect()
    };
    haystacks.push(("logs".into(), capture.bytes()));
    for (name, bytes) in &haystacks {
        for needle in [
            plaintext.as_bytes(),
            "termination".as_bytes(),
            &marker[..],
            &attachment[..64],
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{name} contains plaintext"
            );
        }
    }
    // The search is not vacuous: the store holds what the relay did store.
    assert!(stored.len() > 4096);
    assert!(
        stored.windows(3).any(|w| w == b"bob"),
        "the account names are stored"
    );
}

/// `POST /v1/messages` has its own limit, `max_envelope_bytes`, above the JSON routes'
/// `body_limit`: an envelope larger than `body_limit` is accepted, one byte over
/// `max_envelope_bytes` gets 413 and nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_have_their_own_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let alice_token = client_token(dir.path(), "bank");
    let bob_token = client_token(dir.path(), "bob");
    let mut config = config(dir.path());
    config.max_envelope_bytes = 100 << 10;
    assert!(config.body_limit < 80 << 10);
    let service = Service::start(config).unwrap();
    let router = service.router();
    let clients = tempfile::tempdir().unwrap();
    let bob = Client::create(&clients.path().join("bob"), "bob").unwrap();
    publish_client(&router, &bob_token, &bob).await;

    let fits = vec![0x5a; 100 << 10];
    let (st, v) = call_raw(
        &router,
        "POST",
        "/v1/messages/bob",
        Some(&alice_token),
        fits.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&v));

    let over = vec![0xa5; (100 << 10) + 1];
    let (st, v) = call_raw(
        &router,
        "POST",
        "/v1/messages/bob",
        Some(&alice_token),
        over.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("102400"),
        "{v}"
    );

    // Only the envelope that fits is in bob's mailbox; the refused one is not stored.
    let (st, list) = call(&router, "GET", "/v1/mailbox", Some(&bob_token), None).await;
    assert_eq!(st, StatusCode::OK);
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ciphertext_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [CiphertextHash::of(&fits).to_hex()]);
    let uri = format!("/v1/mailbox/{}", CiphertextHash::of(&over).to_hex());
    let (st, _) = call_raw(&router, "GET", &uri, Some(&bob_token), Vec::new()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    drop(router);
    service.shutdown().await;
}

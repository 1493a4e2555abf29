//! Checks every cell of `service/ACCESS.md` against the real router, denials included.

use crate::common::*;
use axum::http::StatusCode;
use letro_service::{unix_now, Service};

#[tokio::test]
async fn every_cell_of_the_access_table_holds() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    // No provers: the proof jobs made here only need to be accepted and stored.
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    // One published delivery, so that the read endpoints have something to serve. Receipts
    // for messages routed to "r" are signed by the key with seed 9, which "r" certified.
    certify(&router, &tokens.admin, "r", 9).await;
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(b"seed", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let now = unix_now();
    let (st, _) = call(
        &router,
        "POST",
        "/v1/receipts",
        Some(&tokens.relay),
        Some(receipt(b"seed", 9, now)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    service.state().publish().await.unwrap();
    let proof_request = serde_json::json!({
        "ciphertext_sha256": letro_core::statement::CiphertextHash::of(b"seed").to_hex(),
        "not_before": letro_core::bundle::format_time(now - 60).unwrap(),
        "not_after": letro_core::bundle::format_time(now + 60).unwrap(),
    });
    // A job of the sender's, for the read endpoint.
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        Some(&tokens.sender),
        Some(proof_request.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let job_uri = format!("/v1/proofs/{}", v["job_id"].as_str().unwrap());
    // A token for the revocation cells to revoke (revoking twice is not an error).
    let (st, v) = call(
        &router,
        "POST",
        "/v1/admin/tokens",
        Some(&tokens.admin),
        Some(serde_json::json!({"role": "relay", "subject": "spare", "ttl_seconds": 60})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let revoke_uri = format!("/v1/admin/tokens/{}", v["id"].as_str().unwrap());
    // alice's client: her prekeys in the directory, an envelope for her, a receipt for it.
    let client_dir = tempfile::tempdir().unwrap();
    let alice = letro_client::Client::create(client_dir.path(), "alice").unwrap();
    let upload = alice.prekey_upload().to_json();
    let (st, v) = call_raw(
        &router,
        "PUT",
        "/v1/directory/alice",
        Some(&tokens.client),
        upload.clone().into_bytes(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
    let envelope = b"access envelope".to_vec();
    let (st, _) = call_raw(
        &router,
        "POST",
        "/v1/messages/alice",
        Some(&tokens.client),
        envelope.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let h = letro_core::statement::CiphertextHash::of(&envelope);
    let envelope_uri = format!("/v1/mailbox/{}", h.to_hex());
    let ack_uri = format!("/v1/mailbox/{}/receipt", h.to_hex());
    let ack = serde_json::to_value(alice.sign_receipt(&h, unix_now()).ack_json().unwrap()).unwrap();
    // Two more envelopes for alice: one for the refusal cell, and one she refuses now, whose
    // evidence record is hers to read (the sender's cells read the seed's).
    let mut more = Vec::new();
    for bytes in [b"access envelope 2".to_vec(), b"access envelope 3".to_vec()] {
        let (st, _) = call_raw(
            &router,
            "POST",
            "/v1/messages/alice",
            Some(&tokens.client),
            bytes.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        more.push(letro_core::statement::CiphertextHash::of(&bytes));
    }
    let refusal_uri = format!("/v1/mailbox/{}/refusal", more[0].to_hex());
    let refusal =
        serde_json::to_value(alice.sign_refusal(&more[0], unix_now(), None).unwrap()).unwrap();
    let (st, v) = call(
        &router,
        "POST",
        &format!("/v1/mailbox/{}/refusal", more[1].to_hex()),
        Some(&tokens.client),
        Some(
            serde_json::to_value(
                alice
                    .sign_refusal(&more[1], unix_now(), Some("no"))
                    .unwrap(),
            )
            .unwrap(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    service.state().publish().await.unwrap();
    let seed_evidence = format!(
        "/v1/evidence/{}/retrieved",
        letro_core::statement::CiphertextHash::of(b"seed").to_hex()
    );
    let own_evidence = format!("/v1/evidence/{}/refused", more[1].to_hex());

    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ACCESS.md")).unwrap();
    let header: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("| endpoint |"))
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(
        header.get(2..8).unwrap(),
        [
            "anonymous",
            "expired token",
            "relay",
            "sender",
            "client",
            "admin"
        ]
    );
    let credentials = [
        None,
        Some(tokens.expired.as_str()),
        Some(tokens.relay.as_str()),
        Some(tokens.sender.as_str()),
        Some(tokens.client.as_str()),
        Some(tokens.admin.as_str()),
    ];
    let mut endpoints = Vec::new();
    let mut cells = 0;
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let endpoint = cols[1].trim_matches('`');
        endpoints.push(endpoint.to_owned());
        let (method, path) = endpoint.split_once(' ').unwrap();
        let uri = match path {
            "/v1/log/leaves/{index}/inclusion" => "/v1/log/leaves/0/inclusion".to_owned(),
            "/v1/log/consistency" => "/v1/log/consistency?old=0&new=1".to_owned(),
            "/v1/log/tile/{tile}" => "/v1/log/tile/entries/000.p/1".to_owned(),
            "/v1/proofs/{job_id}" => job_uri.clone(),
            "/v1/proofs/{job_id}/certificate" => format!("{job_uri}/certificate"),
            "/v1/admin/tokens/{token_id}" => revoke_uri.clone(),
            "/v1/directory/{account}" => "/v1/directory/alice".to_owned(),
            "/v1/messages/{recipient}" => "/v1/messages/alice".to_owned(),
            "/v1/mailbox/{ciphertext_sha256}" => envelope_uri.clone(),
            "/v1/mailbox/{ciphertext_sha256}/receipt" => ack_uri.clone(),
            "/v1/mailbox/{ciphertext_sha256}/refusal" => refusal_uri.clone(),
            "/v1/evidence/{ciphertext_sha256}/{event}" => seed_evidence.clone(),
            "/v1/evidence/{ciphertext_sha256}/{event}/certificate" => {
                format!("{seed_evidence}/certificate")
            }
            p => p.to_owned(),
        };
        for (cell, cred) in cols[2..8].iter().zip(credentials) {
            let body = match path {
                "/v1/submissions" => Some(submission(b"access", "r")),
                "/v1/receipts" => Some(receipt(b"access", 9, unix_now())),
                "/v1/proofs" => Some(proof_request.clone()),
                "/v1/admin/tokens" if method == "POST" => {
                    Some(serde_json::json!({"role": "sender", "subject": "s", "ttl_seconds": 60}))
                }
                "/v1/mailbox/{ciphertext_sha256}/receipt" => Some(ack.clone()),
                "/v1/mailbox/{ciphertext_sha256}/refusal" => Some(refusal.clone()),
                _ => None,
            };
            // A client reads the evidence of its own refusal; anyone else tries the seed's.
            let uri = if path == "/v1/evidence/{ciphertext_sha256}/{event}"
                && cred == Some(tokens.client.as_str())
            {
                own_evidence.clone()
            } else if path == "/v1/evidence/{ciphertext_sha256}/{event}/certificate"
                && cred == Some(tokens.client.as_str())
            {
                format!("{own_evidence}/certificate")
            } else {
                uri.clone()
            };
            let raw = match path {
                "/v1/directory/{account}" if method == "PUT" => Some(upload.clone().into_bytes()),
                "/v1/messages/{recipient}" => Some(envelope.clone()),
                "/v1/mailbox/{ciphertext_sha256}" => Some(Vec::new()),
                _ => None,
            };
            let (st, v) = match raw {
                Some(bytes) => {
                    let (st, b) = call_raw(&router, method, &uri, cred, bytes).await;
                    let v = serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null);
                    (st, v)
                }
                None => call(&router, method, &uri, cred, body).await,
            };
            let what = format!("{endpoint} with {cell:?}: got {st} {v}");
            // Without provers the job has no bundle: its owner passes the access check and
            // gets the 404 of an unfinished job (tests/proofs.rs fetches a finished one's).
            if path == "/v1/proofs/{job_id}/certificate" && *cell == "allow" {
                assert_eq!(st, StatusCode::NOT_FOUND, "{what}");
                assert!(v.to_string().contains("has no bundle yet"), "{what}");
                cells += 1;
                continue;
            }
            match *cell {
                "allow" => assert!(st.is_success(), "{what}"),
                "deny 401" => {
                    assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(v["error"]["code"], "unauthorized", "{what}");
                }
                "deny 403" => {
                    assert_eq!(st, StatusCode::FORBIDDEN, "{what}");
                    assert_eq!(v["error"]["code"], "forbidden", "{what}");
                }
                other => panic!("unknown cell {other:?} in ACCESS.md"),
            }
            cells += 1;
        }
    }
    endpoints.sort();
    assert_eq!(
        endpoints,
        [
            "DELETE /v1/admin/tokens/{token_id}",
            "GET /healthz",
            "GET /metrics",
            "GET /openapi.json",
            "GET /v1/admin/audit",
            "GET /v1/admin/tokens",
            "GET /v1/checkpoint",
            "GET /v1/directory/{account}",
            "GET /v1/evidence/{ciphertext_sha256}/{event}",
            "GET /v1/evidence/{ciphertext_sha256}/{event}/certificate",
            "GET /v1/log/checkpoint",
            "GET /v1/log/consistency",
            "GET /v1/log/key",
            "GET /v1/log/leaves/{index}/inclusion",
            "GET /v1/log/state",
            "GET /v1/log/tile/{tile}",
            "GET /v1/mailbox",
            "GET /v1/mailbox/{ciphertext_sha256}",
            "GET /v1/proofs/{job_id}",
            "GET /v1/proofs/{job_id}/certificate",
            "POST /v1/admin/tokens",
            "POST /v1/mailbox/{ciphertext_sha256}/receipt",
            "POST /v1/mailbox/{ciphertext_sha256}/refusal",
            "POST /v1/messages/{recipient}",
            "POST /v1/proofs",
            "POST /v1/receipts",
            "POST /v1/submissions",
            "PUT /v1/directory/{account}",
        ],
        "ACCESS.md must list every route"
    );
    // ... and the router's own list of routes is the same.
    let mut routes: Vec<String> = letro_service::api::routes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    routes.sort();
    assert_eq!(endpoints, routes, "ACCESS.md and the router differ");
    assert_eq!(cells, 28 * 6);

    // A malformed Authorization header is the same as none.
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(""),
        Some(submission(b"a", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some("not-a-token"),
        Some(submission(b"a", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    drop(router);
    service.shutdown().await;
}

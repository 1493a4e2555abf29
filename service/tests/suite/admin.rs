//! Admin endpoints: tokens issued and revoked at run time, the audit log, and bad input.

use crate::common::*;
use axum::http::StatusCode;
use letro_service::Service;
use serde_json::json;

#[tokio::test]
async fn tokens_are_issued_and_revoked_at_run_time_and_every_action_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg.clone()).unwrap();
    let router = service.router();
    let admin = Some(tokens.admin.as_str());

    // Issue a relay token: it works at once, without a restart.
    let (st, issued) = call(
        &router,
        "POST",
        "/v1/admin/tokens",
        admin,
        Some(json!({"role": "relay", "subject": "relay-2", "ttl_seconds": 3600})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap().to_owned();
    let id = issued["id"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(id.len(), 16);
    assert_eq!(issued["role"], "relay");
    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&token),
        Some(submission(b"one", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // The listing names it by id, never by the token.
    let (st, list) = call(&router, "GET", "/v1/admin/tokens", admin, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!list.to_string().contains(&token));
    assert!(!list.to_string().contains(&tokens.relay));
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert_eq!(entry["subject"], "relay-2");
    assert!(entry.get("revoked_at").is_none());

    // Revoke it: refused at once, with its own message.
    let (st, v) = call(
        &router,
        "DELETE",
        &format!("/v1/admin/tokens/{id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["revoked_at"].is_string());
    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&token),
        Some(submission(b"two", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["message"], "the bearer token has been revoked");

    // Bad input: each a 400 or 404 that says what was wrong, and nothing stored.
    for (body, what) in [
        (
            json!({"role": "root", "subject": "x", "ttl_seconds": 1}),
            "unknown role",
        ),
        (
            json!({"role": "relay", "subject": "", "ttl_seconds": 1}),
            "subject",
        ),
        (
            json!({"role": "relay", "subject": "a b", "ttl_seconds": 1}),
            "subject",
        ),
        (
            json!({"role": "relay", "subject": "x", "ttl_seconds": 0}),
            "ttl_seconds",
        ),
        (
            json!({"role": "relay", "subject": "x", "ttl_seconds": 999_999_999}),
            "ttl_seconds",
        ),
        (json!({"role": "relay", "subject": "x"}), "ttl_seconds"),
        (
            json!({"role": "relay", "subject": "x", "ttl_seconds": 1, "admin": true}),
            "admin",
        ),
    ] {
        let (st, v) = call(
            &router,
            "POST",
            "/v1/admin/tokens",
            admin,
            Some(body.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{body}: {message}");
    }
    for (uri, status) in [
        ("/v1/admin/tokens/zz", StatusCode::BAD_REQUEST),
        ("/v1/admin/tokens/ABCDEF0123456789", StatusCode::BAD_REQUEST),
        ("/v1/admin/tokens/0000000000000000", StatusCode::NOT_FOUND),
    ] {
        let (st, v) = call(&router, "DELETE", uri, admin, None).await;
        assert_eq!(st, status, "{uri}: {v}");
    }
    let (_, list_after) = call(&router, "GET", "/v1/admin/tokens", admin, None).await;
    assert_eq!(
        list_after.as_array().unwrap().len(),
        list.as_array().unwrap().len()
    );

    // The audit log: the five tokens of the test setup (by the CLI), the issue, the revocation
    // and the refused revocation of an unknown id, chained; no token appears in it.
    let (st, audit) = call(&router, "GET", "/v1/admin/audit", admin, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(audit["chain"], "ok");
    let entries = audit["entries"].as_array().unwrap();
    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |a: &str, o: &str| (a.to_owned(), o.to_owned());
    assert_eq!(
        summary,
        [
            s("token.issue", "ok"),
            s("token.issue", "ok"),
            s("token.issue", "ok"),
            s("token.issue", "ok"),
            s("token.issue", "ok"),
            s("token.issue", "ok"),
            s("token.revoke", "ok"),
            s("token.revoke", "not_found"),
        ]
    );
    assert!(entries[5]["actor"].as_str().unwrap().starts_with("token:"));
    assert!(entries[5]["actor"].as_str().unwrap().ends_with("(ops)"));
    assert_eq!(entries[6]["target"], id.as_str());
    assert!(!audit.to_string().contains(&token));

    // After a restart, the revocation holds and the audit log is whole.
    drop(router);
    service.shutdown().await;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let (st, _) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&token),
        Some(submission(b"three", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (_, audit) = call(&router, "GET", "/v1/admin/audit", admin, None).await;
    assert_eq!(audit["chain"], "ok");
    assert_eq!(audit["entries"].as_array().unwrap().len(), 8);
    drop(router);
    service.shutdown().await;
}

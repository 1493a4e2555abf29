//! `GET /metrics` and `GET /openapi.json` through the real router.

use std::collections::BTreeSet;

use crate::common::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use letro_service::{api, unix_now, Service};
use serde_json::Value;
use tower::ServiceExt;

/// Status, content type and body of one request.
async fn raw(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn scrape(router: &Router, admin: &str) -> String {
    let (st, ct, text) = raw(router, "GET", "/metrics", Some(admin)).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        value.parse::<u64>().unwrap();
        let name = series.split('{').next().unwrap();
        assert!(
            name.starts_with("letro_")
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && (series == name || (series.ends_with('}') && series.len() > name.len() + 2)),
            "{line}"
        );
    }
    text
}

fn has(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[tokio::test]
async fn metrics_reflect_events_and_refused_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    let relay = Some(tokens.relay.as_str());

    let text = scrape(&router, &tokens.admin).await;
    assert!(
        has(&text, "letro_log_entries{state=\"sequenced\"} 0"),
        "{text}"
    );
    assert!(has(
        &text,
        "letro_receipts_refused_total{reason=\"clock_skew\"} 0"
    ));

    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        relay,
        Some(submission(b"m", "r")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Refused: too far from the clock, and a signature over another time.
    let (st, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"m", 3, unix_now() - 100_000)),
    )
    .await;
    assert_eq!(v["error"]["code"], "clock_skew", "{st} {v}");
    let mut forged = receipt(b"m", 3, unix_now());
    forged["ciphertext_sha256"] = Value::String("ab".repeat(32));
    let (_, v) = call(&router, "POST", "/v1/receipts", relay, Some(forged)).await;
    assert_eq!(v["error"]["code"], "invalid_receipt", "{v}");
    // Not a refusal of the receipt: the caller is refused.
    let (st, _) = call(
        &router,
        "POST",
        "/v1/receipts",
        None,
        Some(receipt(b"m", 3, unix_now())),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Refused: a receipt for an H nobody submitted, and one by a key "r" did not certify.
    let (_, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"never submitted", 3, unix_now())),
    )
    .await;
    assert_eq!(v["error"]["code"], "not_submitted", "{v}");
    let (_, v) = call(
        &router,
        "POST",
        "/v1/receipts",
        relay,
        Some(receipt(b"m", 3, unix_now())),
    )
    .await;
    assert_eq!(v["error"]["code"], "uncertified_receipt_key", "{v}");
    wait_integrated(&router, &tokens.relay, 1).await;
    let (st, _) = call(&router, "GET", "/no/such/path", None, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let text = scrape(&router, &tokens.admin).await;
    for line in [
        "letro_http_requests_total{route=\"/v1/submissions\",status=\"201\"} 1",
        "letro_http_requests_total{route=\"/v1/receipts\",status=\"422\"} 3",
        "letro_http_requests_total{route=\"/v1/receipts\",status=\"409\"} 1",
        "letro_http_requests_total{route=\"/v1/receipts\",status=\"401\"} 1",
        "letro_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
        "letro_http_requests_total{route=\"/metrics\",status=\"200\"} 1",
        "letro_log_entries{state=\"sequenced\"} 1",
        "letro_log_entries{state=\"integrated\"} 1",
        "letro_log_entries{state=\"published\"} 0",
        "letro_receipts_refused_total{reason=\"clock_skew\"} 1",
        "letro_receipts_refused_total{reason=\"invalid_receipt\"} 1",
        "letro_receipts_refused_total{reason=\"not_submitted\"} 1",
        "letro_receipts_refused_total{reason=\"uncertified_receipt_key\"} 1",
        "letro_receipts_refused_total{reason=\"invalid_certificate\"} 0",
        "letro_receipts_refused_total{reason=\"conflict\"} 0",
    ] {
        assert!(has(&text, line), "missing {line:?} in\n{text}");
    }
    // Raw paths never become labels.
    assert!(
        !text.contains("/leaves/0/") && !text.contains("/no/such"),
        "{text}"
    );

    service.state().publish().await.unwrap();
    let (st, _) = call(
        &router,
        "GET",
        "/v1/log/leaves/0/inclusion?size=1",
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let text = scrape(&router, &tokens.admin).await;
    for line in [
        "letro_log_entries{state=\"published\"} 1",
        "letro_http_requests_total{route=\"/v1/log/leaves/{index}/inclusion\",status=\"200\"} 1",
    ] {
        assert!(has(&text, line), "missing {line:?} in\n{text}");
    }

    // Only admin may read it; the refusal is the JSON error body.
    let (st, ct, body) = raw(&router, "GET", "/metrics", Some(&tokens.relay)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(ct, "application/json");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "forbidden");

    drop(router);
    service.shutdown().await;
}

/// The routes API.md mentions (`` `GET /path` `` or `` `POST /path?query` ``).
fn api_md_routes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/API.md")).unwrap();
    let mut out = BTreeSet::new();
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let start = format!("`{method} /");
        let mut rest = text.as_str();
        while let Some(i) = rest.find(&start) {
            rest = &rest[i + 1..];
            let end = rest.find(['`', '?']).unwrap();
            out.insert(rest[..end].to_owned());
        }
    }
    out
}

#[tokio::test]
async fn the_openapi_document_names_exactly_the_routes_of_the_router() {
    let dir = tempfile::tempdir().unwrap();
    issue_tokens(dir.path());
    let mut cfg = config(dir.path());
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();

    let (st, ct, body) = raw(&router, "GET", "/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ct, "application/json");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    assert!(codes.contains(&Value::from("not_published")));

    let routes = api::routes();
    let in_code: BTreeSet<String> = routes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(in_code.len(), routes.len(), "a route is listed twice");
    let mut in_doc = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_ascii_uppercase());
            let r = routes
                .iter()
                .find(|r| format!("{} {}", r.method, r.path) == name)
                .unwrap_or_else(|| panic!("the document names {name}, which is not a route"));
            // Auth requirement and error body.
            let roles: Vec<&str> = r.roles.iter().map(|x| x.as_str()).collect();
            assert_eq!(op["x-letro-roles"], serde_json::json!(roles), "{name}");
            let secured = !op["security"].as_array().unwrap().is_empty();
            assert_eq!(secured, !r.roles.is_empty(), "{name}");
            // Every error status the route can answer, with the error body and its codes.
            for code in r.errors() {
                let answer = &op["responses"][code.status().to_string()];
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{name} {code:?}"
                );
                assert!(
                    answer["description"]
                        .as_str()
                        .unwrap()
                        .contains(code.as_str()),
                    "{name} {code:?}"
                );
            }
            for a in r.answers {
                assert!(op["responses"][a.status.to_string()].is_object(), "{name}");
            }
            in_doc.insert(name.clone());

            // The router answers it (not the fallback, not 405), anonymously.
            let uri = path
                .replace("{index}", "0")
                .replace("{job_id}", &"0".repeat(32));
            let (st, _, body) =
                raw(&router, method.to_ascii_uppercase().as_str(), &uri, None).await;
            assert!(
                st != StatusCode::METHOD_NOT_ALLOWED && !body.contains("no such endpoint"),
                "{name}: {st} {body}"
            );
            if secured {
                assert_eq!(st, StatusCode::UNAUTHORIZED, "{name}");
            }
        }
    }
    assert_eq!(in_doc, in_code, "the document and the router differ");
    assert_eq!(api_md_routes(), in_code, "API.md and the router differ");

    let (st, _, body) = raw(&router, "GET", "/v1/nothing", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(body.contains("no such endpoint"));

    // A route called with a method it does not take: the JSON error, 405.
    for (method, uri) in [
        ("DELETE", "/v1/checkpoint"),
        ("GET", "/v1/receipts"),
        ("PUT", "/healthz"),
    ] {
        let (st, ct, body) = raw(&router, method, uri, None).await;
        assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(ct, "application/json", "{method} {uri}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "method_not_allowed", "{method} {uri}");
    }

    drop(router);
    service.shutdown().await;
}

#[tokio::test]
async fn content_types_of_the_text_and_json_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    issue_tokens(dir.path());
    let service = Service::start(config(dir.path())).unwrap();
    let router = service.router();
    service.state().publish().await.ok();
    for (uri, want) in [
        ("/healthz", "application/json"),
        ("/openapi.json", "application/json"),
        ("/v1/log/state", "application/json"), // the 401 error body
        ("/v1/log/key", "text/plain; charset=utf-8"),
        ("/v1/checkpoint", "text/plain; charset=utf-8"),
        ("/metrics", "application/json"), // the 401 error body
    ] {
        let (_, ct, _) = raw(&router, "GET", uri, None).await;
        assert_eq!(ct, want, "{uri}");
    }
    drop(router);
    service.shutdown().await;
}

/// API.md's error table names every code of letro-api's [`ErrorCode`] once, with its status.
#[test]
fn api_md_lists_every_error_code_with_its_status() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/API.md")).unwrap();
    let mut listed = std::collections::BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, status, code, _, ..] = cells.as_slice() {
            if let (Ok(status), Some(code)) = (
                status.parse::<u16>(),
                code.strip_prefix('`').and_then(|c| c.strip_suffix('`')),
            ) {
                assert!(
                    listed.insert(code.to_owned(), status).is_none(),
                    "{code} twice"
                );
            }
        }
    }
    let all: std::collections::BTreeMap<String, u16> = letro_api::ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.status()))
        .collect();
    assert_eq!(listed, all);
}

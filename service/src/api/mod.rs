//! The HTTP API: [`build_router`] routes letro-api's route table ([`letro_api::ROUTES`]) to the
//! handlers, by operation id, with the body limit, the timeout, the metrics and the JSON 404 and
//! 405. The handlers are by area: `events` (relay), `log` (open), `proofs` (sender),
//! [`crate::relay`] (directory and mailbox, client) and [`crate::admin`]; `error` is the one
//! error type, [`ApiError`]; `state` is the shared [`AppState`] and the `Caller` extractor that
//! authenticates by the route's declared roles.
//!
//! Every error body is `{"error": {"code": "...", "message": "..."}}`. A 4xx message says what
//! was wrong with the request; a 5xx message says nothing about the cause, which is logged.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts as RequestParts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::{Json, Router};
use letro_api::bodies::ReceiptRequest as ReceiptJson;
use letro_api::directory::CertificateObject;
use letro_core::babyjubjub;
use letro_core::eddsa::PublicKey;
use letro_core::field::fr_to_decimal;
use letro_core::log::{check_receipt, submitted_leaf, ReceiptError};
use letro_core::statement::CiphertextHash;
use letro_core::Fr;
use tokio::sync::{mpsc, oneshot};

use crate::auth::{AuthFailure, Role, Tokens};
use crate::jobs::{JobQueue, SharedStore};
use crate::metrics::Metrics;
use crate::store::{
    EventSecret, JobRecord, JobState, PointJson, SignatureJson, Store, StoredCheckpoint,
    StoredEvent, TokenRecord,
};
use crate::writer::{AppendError, Appended, Command, LogView};
use crate::{unix_now, Config};
use letro_api::bodies::Health;
use letro_api::bodies::{
    Accepted, CallbackState, ConsistencyProof, ConsistencyQuery, EventState, FieldError,
    InclusionProof, Job, JobFailure, JobFailureCode, JobState as ApiJobState, LogState,
    ProofRequest, ProofWindow, Receipt, ReceiptProblem, Refusal, SizeQuery, SubmissionRequest,
};
use letro_api::{ErrorBody, ErrorCode};

mod error;
mod events;
mod evidence;
mod log;
mod proofs;
mod state;

pub use error::ApiError;
pub(crate) use error::{internal, invalid, receipt_refused};
use events::*;
pub(crate) use events::{accepted, checked_receipt, checked_refusal, parse_hash, CheckedReceipt};
use log::*;
use proofs::*;
pub use state::AppState;
pub(crate) use state::{Caller, JsonBody, Parts};

const TEXT: &str = "text/plain; charset=utf-8";

/// The handler of each route of letro-api's route table, by operation id. The route's path,
/// method and roles come from the table; a test checks that the two agree one to one.
fn handlers(envelope_limit: usize) -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("healthz", get(healthz)),
        ("get_metrics", get(get_metrics)),
        ("get_openapi", get(get_openapi)),
        ("post_submission", post(post_submission)),
        ("post_receipt", post(post_receipt)),
        ("get_checkpoint", get(get_checkpoint)),
        ("get_log_key", get(get_log_key)),
        ("get_tlog_checkpoint", get(get_tlog_checkpoint)),
        ("get_tlog_tile", get(get_tlog_tile)),
        ("get_log_state", get(get_state)),
        ("get_inclusion_proof", get(get_inclusion)),
        ("get_consistency_proof", get(get_consistency)),
        ("post_proof", post(post_proof)),
        ("get_proof_job", get(get_proof)),
        (
            "get_proof_certificate",
            get(evidence::get_proof_certificate),
        ),
        ("get_evidence", get(evidence::get_evidence)),
        (
            "get_evidence_certificate",
            get(evidence::get_evidence_certificate),
        ),
        ("issue_token", post(crate::admin::post_token)),
        ("list_tokens", get(crate::admin::list_tokens)),
        ("revoke_token", delete(crate::admin::revoke_token)),
        ("get_audit_log", get(crate::admin::get_audit)),
        ("put_directory_entry", put(crate::relay::put_directory)),
        ("get_prekey_bundle", get(crate::relay::get_directory)),
        (
            "post_message",
            post(crate::relay::post_message).layer(DefaultBodyLimit::max(envelope_limit)),
        ),
        ("get_mailbox", get(crate::relay::get_mailbox)),
        ("get_envelope", get(crate::relay::get_envelope)),
        ("post_ack", post(crate::relay::post_ack)),
        ("post_refusal", post(crate::relay::post_refusal)),
    ]
}

/// Every route of the API (letro-api's route table), in the order [`build_router`] adds them.
pub fn routes() -> &'static [letro_api::Route] {
    letro_api::ROUTES
}

/// The content type of `GET /metrics`.
pub use letro_api::routes::METRICS_CONTENT_TYPE;

/// The API's routes with their body limit, timeout, metrics and JSON 404.
pub fn build_router(state: AppState) -> Router {
    let limit = state.inner.body_limit;
    let timeout = state.inner.request_timeout;
    let mut by_path: std::collections::BTreeMap<String, MethodRouter<AppState>> =
        std::collections::BTreeMap::new();
    for (id, handler) in handlers(state.inner.max_envelope_bytes) {
        let Some(route) = letro_api::routes::route(id) else {
            // Unreachable: `every_route_has_one_handler` checks the two lists.
            tracing::error!(
                id,
                "a handler for an operation the route table does not have"
            );
            continue;
        };
        let path = axum_path(route);
        let merged = match by_path.remove(path.as_str()) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(&path, handler.fallback(method_not_allowed));
    }
    router
        // Route layers see the matched route template; the metrics layer is outside the
        // timeout so that a timed-out request is counted with its 503.
        .route_layer(middleware::from_fn_with_state(timeout, timeout_layer))
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics_layer))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// The route's path as axum writes it: a tile path parameter takes the rest of the path
/// (`{*tile}`), since tile paths have several segments.
fn axum_path(route: &letro_api::Route) -> String {
    let mut path = route.path.to_owned();
    for p in route.params {
        if p.ty == letro_api::routes::ParamType::TilePath {
            path = path.replace(&format!("{{{}}}", p.name), &format!("{{*{}}}", p.name));
        }
    }
    path
}

/// A route that exists, called with a method it does not take: the JSON error, with `Allow`
/// naming the methods the route table gives the path (RFC 9110 §15.5.6).
async fn method_not_allowed(path: Option<MatchedPath>) -> Response {
    let allowed: Vec<&str> = path
        .map(|p| {
            letro_api::ROUTES
                .iter()
                .filter(|r| axum_path(r) == p.as_str())
                .map(|r| r.method.as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut resp = ApiError::MethodNotAllowed.into_response();
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

async fn fallback(State(state): State<AppState>) -> ApiError {
    state
        .inner
        .metrics
        .request(None, StatusCode::NOT_FOUND.as_u16());
    ApiError::NotFound("no such endpoint".into())
}

async fn metrics_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The route table's template: axum's `{*tile}` is the table's `{tile}`.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().replace("{*", "{"));
    let resp = next.run(req).await;
    state
        .inner
        .metrics
        .request(route.as_deref(), resp.status().as_u16());
    resp
}

async fn get_metrics(State(state): State<AppState>, _caller: Caller) -> Result<Response, ApiError> {
    let sizes = {
        let view = state.view()?;
        (
            view.log.sequenced_size(),
            view.log.integrated_size(),
            view.log.published_size(),
        )
    };
    let mut text = state.inner.metrics.render(sizes);
    let unfinished = state
        .db(|s| s.unfinished_jobs().map_err(internal))
        .await?
        .len();
    text.push_str(&format!(
        "# HELP letro_proof_jobs_unfinished Proof jobs queued or running now (from the store).\n\
         # TYPE letro_proof_jobs_unfinished gauge\n\
         letro_proof_jobs_unfinished {unfinished}\n"
    ));
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response())
}

async fn get_openapi() -> Json<serde_json::Value> {
    Json(letro_api::openapi::document(env!("CARGO_PKG_VERSION")))
}

async fn timeout_layer(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

fn json_body<T>(state: &AppState, body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match body {
        Ok(Json(v)) => Ok(v),
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::PayloadTooLarge(state.inner.body_limit))
        }
        Err(r) => Err(ApiError::InvalidRequest(r.body_text())),
    }
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::issue_token;
    use crate::store::{SqliteStore, TokenStore};
    use serde_json::json;

    #[test]
    fn every_error_code_is_in_the_openapi_document() {
        let all = ApiError::one_of_each();
        let codes: std::collections::BTreeSet<ErrorCode> =
            all.iter().map(ApiError::error_code).collect();
        let listed: std::collections::BTreeSet<ErrorCode> = ErrorCode::ALL.into_iter().collect();
        assert_eq!(codes, listed);
        // The document (letro-api) lists every code in its ErrorCode schema.
        let doc = letro_api::openapi::document("test");
        let names = doc["components"]["schemas"]["ErrorCode"]["enum"].to_string();
        for e in &all {
            assert!(names.contains(&format!("\"{}\"", e.code())), "{}", e.code());
            assert_eq!(e.status().as_u16(), e.error_code().status());
        }
        // Receipt refusals are all counted by the metrics.
        for code in [
            "not_submitted",
            "uncertified_receipt_key",
            "invalid_certificate",
        ] {
            assert!(crate::metrics::RECEIPT_REFUSALS.contains(&code), "{code}");
        }
    }

    #[test]
    fn every_route_has_one_handler() {
        let ids: Vec<&str> = handlers(0).into_iter().map(|(id, _)| id).collect();
        let table: Vec<&str> = routes().iter().map(|r| r.operation_id).collect();
        assert_eq!(ids, table);
    }

    #[tokio::test]
    async fn a_request_that_waits_too_long_gets_503_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path()).unwrap();
        let token = issue_token(&mut store, Role::Relay, "relay", u64::MAX >> 1, "cli")
            .unwrap()
            .0;
        let mut config = Config::new(dir.path(), "example.invalid/log");
        config.request_timeout = Duration::from_millis(50);
        // A writer that never answers: the channel's receiver is kept but never read.
        let (tx, _never_read) = mpsc::channel(4);
        let view = Arc::new(RwLock::new(LogView {
            log: letro_core::log::DeliveryLog::new(),
            checkpoint: None,
        }));
        let tokens = Tokens::new(store.tokens().unwrap());
        let jobs: SharedStore = Arc::new(std::sync::Mutex::new(store));
        let (queue_tx, _queue_rx) = std::sync::mpsc::channel();
        let queue = JobQueue::for_tests(queue_tx);
        let metrics = Arc::new(Metrics::new(routes().iter().map(|r| r.path)));
        let parts = Parts {
            tx,
            view,
            tokens,
            jobs,
            extra: Vec::new(),
            queue,
            metrics,
            log_vkey: String::new(),
            proving_keys: None,
            notices: crate::notices::Notices::disabled(),
            sealer: Arc::new(
                crate::seal::load_or_create(dir.path(), "example.invalid/log", None, None).unwrap(),
            ),
            timestamping: None,
        };
        let state = AppState::new(parts, &config);
        let body = json!({
            "ciphertext_sha256": "00".repeat(32),
            "sender": "bank",
            "routing": "r",
        });
        let req = Request::builder()
            .method("POST")
            .uri("/v1/submissions")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = build_router(state).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": "timeout", "message": "the request timed out"}})
        );
    }
}

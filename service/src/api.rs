//! The HTTP API: [`build_router`], its handlers and the one error type, [`ApiError`].
//!
//! Every error body is `{"error": {"code": "...", "message": "..."}}`. A 4xx message says what
//! was wrong with the request; a 5xx message says nothing about the cause, which is logged.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::{Json, Router};
use letro_core::babyjubjub;
use letro_core::directory::CertificateObject;
use letro_core::eddsa::{PublicKey, Signature};
use letro_core::field::{fr_from_decimal, fr_to_decimal, parse_decimal};
use letro_core::log::{check_receipt, submitted_leaf, ReceiptError};
use letro_core::merkle::InclusionProof;
use letro_core::receipt_json::ReceiptJson;
use letro_core::statement::CiphertextHash;
use letro_core::Fr;
use serde::{Deserialize, Serialize};
use serde_json::json;
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

/// The one error type of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `invalid_request`: malformed body, path or query; the message says which field.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `unauthorized`: no valid bearer token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `forbidden`: the token's role may not call this endpoint.
    #[error("the {0} role may not call this endpoint")]
    Forbidden(&'static str),
    /// 403 `forbidden`: the token may call this endpoint, but not for this account.
    #[error("{0}")]
    NotYours(String),
    /// 422 `invalid_certificate`: the receipt key's certificate does not verify.
    #[error("the receipt key certificate does not verify: {0}")]
    InvalidCertificate(String),
    /// 422 `uncertified_receipt_key`: a receipt signed by a key that the account the message
    /// was routed to has not certified in the directory.
    #[error(
        "the receipt is signed by a key that the account the message was routed to has not \
         certified in the directory"
    )]
    UncertifiedReceiptKey,
    /// 409 `not_submitted`: a receipt for a ciphertext that no submitted event is logged for.
    #[error("no submission is logged for this ciphertext; a receipt can only follow one")]
    NotSubmitted,
    /// 409 `not_provable`: the delivery was logged before statement v2 (no per-event secret or
    /// no receipt-key certificate) and cannot be proved; the message says which.
    #[error("{0}")]
    NotProvable(String),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`: a different event of this kind is logged for the same ciphertext.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 422 `invalid_receipt`: the receipt key or signature is refused.
    #[error("{0}")]
    InvalidReceipt(String),
    /// 422 `clock_skew`: the receipt time is too far from the service clock.
    #[error("{0}")]
    ClockSkew(String),
    /// 409 `not_delivered`: no receipt is logged for the ciphertext of a proof request.
    #[error("no delivery receipt is logged for this ciphertext yet")]
    NotDelivered,
    /// 409 `not_published`: the delivered leaf is not covered by a signed checkpoint yet.
    #[error("the delivery is not yet published; retry after the next checkpoint")]
    NotPublished,
    /// 422 `outside_window`: the delivery time is outside the requested window.
    #[error("{0}")]
    OutsideWindow(String),
    /// 422 `callback_refused`: the callback URL is not allowed by the service's policy.
    #[error("{0}")]
    CallbackRefused(String),
    /// 429 `too_many_jobs`: the sender has as many unfinished proof jobs as it may.
    #[error("this sender already has {0} unfinished proof jobs; retry when one finishes")]
    TooManyJobs(u64),
    /// 503 `log_full`: the log holds 2^32 entries.
    #[error("the log is full")]
    LogFull,
    /// 503 `timeout`: the request took too long.
    #[error("the request timed out")]
    Timeout,
    /// 500 `internal`: the cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::NotYours(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_)
            | Self::NotDelivered
            | Self::NotPublished
            | Self::NotSubmitted
            | Self::NotProvable(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidReceipt(_)
            | Self::ClockSkew(_)
            | Self::OutsideWindow(_)
            | Self::CallbackRefused(_)
            | Self::InvalidCertificate(_)
            | Self::UncertifiedReceiptKey => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyJobs(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::LogFull | Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) | Self::NotYours(_) => "forbidden",
            Self::InvalidCertificate(_) => "invalid_certificate",
            Self::UncertifiedReceiptKey => "uncertified_receipt_key",
            Self::NotSubmitted => "not_submitted",
            Self::NotProvable(_) => "not_provable",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::InvalidReceipt(_) => "invalid_receipt",
            Self::ClockSkew(_) => "clock_skew",
            Self::NotDelivered => "not_delivered",
            Self::NotPublished => "not_published",
            Self::OutsideWindow(_) => "outside_window",
            Self::CallbackRefused(_) => "callback_refused",
            Self::TooManyJobs(_) => "too_many_jobs",
            Self::LogFull => "log_full",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code(), "message": self.to_string()}}));
        let mut resp = (self.status(), body).into_response();
        if matches!(self, Self::Unauthorized(_)) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Conflict { .. } => Self::Conflict(e.to_string()),
            AppendError::Full => Self::LogFull,
            _ => Self::Internal,
        }
    }
}

struct Inner {
    tx: mpsc::Sender<Command>,
    view: Arc<RwLock<LogView>>,
    tokens: RwLock<Tokens>,
    jobs: SharedStore,
    queue: JobQueue,
    metrics: Arc<Metrics>,
    max_skew: u64,
    body_limit: usize,
    request_timeout: Duration,
    max_jobs_per_sender: u64,
    callback_hosts: Vec<String>,
    max_envelope_bytes: usize,
    log_vkey: String,
}

/// The state handlers share: the writer's channel, the log view, the token table and settings.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What [`AppState::new`] wires together.
pub(crate) struct Parts {
    /// The log writer's channel.
    pub tx: mpsc::Sender<Command>,
    /// The log as the writer updates it.
    pub view: Arc<RwLock<LogView>>,
    /// The token table.
    pub tokens: Tokens,
    /// The API's store connection.
    pub jobs: SharedStore,
    /// Where new proof jobs go.
    pub queue: JobQueue,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// The log's verifier key, C2SP vkey text.
    pub log_vkey: String,
}

impl AppState {
    pub(crate) fn new(parts: Parts, config: &Config) -> Self {
        let Parts {
            tx,
            view,
            tokens,
            jobs,
            queue,
            metrics,
            log_vkey,
        } = parts;
        Self {
            inner: Arc::new(Inner {
                tx,
                view,
                tokens: RwLock::new(tokens),
                jobs,
                queue,
                metrics,
                max_skew: config.max_skew,
                body_limit: config.body_limit,
                request_timeout: config.request_timeout,
                max_jobs_per_sender: config.max_jobs_per_sender,
                callback_hosts: config.callback_hosts.clone(),
                max_envelope_bytes: config.max_envelope_bytes,
                log_vkey,
            }),
        }
    }

    /// Asks the writer to publish a checkpoint now (if the log grew) and returns the latest.
    pub async fn publish(&self) -> Result<StoredCheckpoint, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Publish { reply })
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok(rx.await.map_err(|_| ApiError::Internal)??)
    }

    pub(crate) async fn append(
        &self,
        h: [u8; 32],
        leaf: Fr,
        event: StoredEvent,
        event_secret: EventSecret,
    ) -> Result<Appended, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Append {
                ciphertext_hash: h,
                leaf,
                event,
                event_secret,
                reply,
            })
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok(rx.await.map_err(|_| ApiError::Internal)??)
    }

    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        allowed: &[Role],
    ) -> Result<TokenRecord, ApiError> {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let tokens = self.inner.tokens.read().map_err(|_| {
            tracing::error!("token table lock poisoned");
            ApiError::Internal
        })?;
        let record = tokens.authenticate(header, unix_now()).map_err(|f| {
            ApiError::Unauthorized(match f {
                AuthFailure::Missing => "a bearer token is required",
                AuthFailure::Unknown => "the bearer token is not valid",
                AuthFailure::Expired => "the bearer token has expired",
                AuthFailure::Revoked => "the bearer token has been revoked",
            })
        })?;
        if allowed.contains(&record.role) {
            Ok(record.clone())
        } else {
            Err(ApiError::Forbidden(record.role.as_str()))
        }
    }

    /// The largest envelope `POST /v1/messages/{recipient}` accepts.
    pub(crate) fn body_limit_for_envelopes(&self) -> usize {
        self.inner.max_envelope_bytes
    }

    /// Counts a refused receipt by its error code.
    pub(crate) fn receipt_refused(&self, code: &'static str) {
        self.inner.metrics.receipt_refused(code);
    }

    /// The token table, for the admin endpoints.
    pub(crate) fn tokens(&self) -> Result<std::sync::RwLockWriteGuard<'_, Tokens>, ApiError> {
        self.inner.tokens.write().map_err(|_| {
            tracing::error!("token table lock poisoned");
            ApiError::Internal
        })
    }

    fn view(&self) -> Result<std::sync::RwLockReadGuard<'_, LogView>, ApiError> {
        self.inner.view.read().map_err(|_| {
            tracing::error!("log view lock poisoned");
            ApiError::Internal
        })
    }

    fn state_of(&self, index: u64) -> Result<&'static str, ApiError> {
        let view = self.view()?;
        Ok(if index < view.log.published_size() {
            "published"
        } else if index < view.log.integrated_size() {
            "integrated"
        } else {
            "sequenced"
        })
    }
}

/// One route of the API as the router, `GET /metrics` and the OpenAPI document see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The route template, e.g. `/v1/proofs/{job_id}`.
    pub path: &'static str,
    /// The roles whose bearer token is accepted; empty for an open route.
    pub roles: &'static [Role],
    /// One line on what the route does.
    pub summary: &'static str,
    /// The status of a success.
    pub status: u16,
    /// The content type of a success.
    pub content_type: &'static str,
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const OPEN: &[Role] = &[];
/// Who may read the unpublished log sizes: the relay that writes the log and the operator.
const LOG_OPERATORS: &[Role] = &[Role::Relay, Role::Admin];

const fn info(
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
    summary: &'static str,
    status: u16,
    content_type: &'static str,
) -> RouteInfo {
    RouteInfo {
        method,
        path,
        roles,
        summary,
        status,
        content_type,
    }
}

/// The one list of routes: [`build_router`] routes exactly these, and [`routes`] (used by the
/// OpenAPI document and the metrics) lists them.
fn table(envelope_limit: usize) -> Vec<(RouteInfo, MethodRouter<AppState>)> {
    vec![
        (
            info(
                "GET",
                "/healthz",
                OPEN,
                "Liveness: {\"status\": \"ok\"}.",
                200,
                JSON,
            ),
            get(healthz),
        ),
        (
            info(
                "GET",
                "/metrics",
                &[Role::Admin],
                "Prometheus metrics (text exposition format 0.0.4).",
                200,
                METRICS_CONTENT_TYPE,
            ),
            get(get_metrics),
        ),
        (
            info(
                "GET",
                "/openapi.json",
                OPEN,
                "This OpenAPI 3.1 document.",
                200,
                JSON,
            ),
            get(get_openapi),
        ),
        (
            info(
                "POST",
                "/v1/submissions",
                &[Role::Relay],
                "Append a submitted event (201 new, 200 repeat).",
                201,
                JSON,
            ),
            post(post_submission),
        ),
        (
            info(
                "POST",
                "/v1/receipts",
                &[Role::Relay],
                "Check a delivery receipt and append the delivered event (201 new, 200 repeat).",
                201,
                JSON,
            ),
            post(post_receipt),
        ),
        (
            info(
                "GET",
                "/v1/checkpoint",
                OPEN,
                "The latest signed checkpoint (C2SP signed note).",
                200,
                TEXT,
            ),
            get(get_checkpoint),
        ),
        (
            info(
                "GET",
                "/v1/log/key",
                OPEN,
                "The log's public key (C2SP vkey); pin it out of band, do not trust this copy.",
                200,
                TEXT,
            ),
            get(get_log_key),
        ),
        (
            info(
                "GET",
                "/v1/log/state",
                LOG_OPERATORS,
                "Sequenced, integrated and published sizes.",
                200,
                JSON,
            ),
            get(get_state),
        ),
        (
            info(
                "GET",
                "/v1/log/leaves/{index}/inclusion",
                OPEN,
                "Inclusion proof of a leaf (query: size).",
                200,
                JSON,
            ),
            get(get_inclusion),
        ),
        (
            info(
                "GET",
                "/v1/log/consistency",
                OPEN,
                "Consistency proof between two sizes (query: old, new).",
                200,
                JSON,
            ),
            get(get_consistency),
        ),
        (
            info(
                "POST",
                "/v1/proofs",
                &[Role::Sender],
                "Ask for a delivered-within proof of one of the caller's messages.",
                202,
                JSON,
            ),
            post(post_proof),
        ),
        (
            info(
                "GET",
                "/v1/proofs/{job_id}",
                &[Role::Sender],
                "A proof job of the caller's: state, and bundle and opening when done.",
                200,
                JSON,
            ),
            get(get_proof),
        ),
        (
            info(
                "POST",
                "/v1/admin/tokens",
                &[Role::Admin],
                "Issue a token (the token is in this answer only); audited.",
                201,
                JSON,
            ),
            post(crate::admin::post_token),
        ),
        (
            info(
                "GET",
                "/v1/admin/tokens",
                &[Role::Admin],
                "Every token's id, role, subject, expiry and revocation (never the token).",
                200,
                JSON,
            ),
            get(crate::admin::list_tokens),
        ),
        (
            info(
                "DELETE",
                "/v1/admin/tokens/{token_id}",
                &[Role::Admin],
                "Revoke a token at once; audited.",
                200,
                JSON,
            ),
            delete(crate::admin::revoke_token),
        ),
        (
            info(
                "GET",
                "/v1/admin/audit",
                &[Role::Admin],
                "The append-only audit log of admin actions, with its hash chain checked.",
                200,
                JSON,
            ),
            get(crate::admin::get_audit),
        ),
        (
            info(
                "PUT",
                "/v1/directory/{account}",
                &[Role::Client],
                "Publish the caller's prekeys and certified receipt key (replaces the previous).",
                200,
                JSON,
            ),
            put(crate::relay::put_directory),
        ),
        (
            info(
                "GET",
                "/v1/directory/{account}",
                &[Role::Client],
                "An account's prekey bundle, with one one-time prekey handed out once.",
                200,
                JSON,
            ),
            get(crate::relay::get_directory),
        ),
        (
            info(
                "POST",
                "/v1/messages/{recipient}",
                &[Role::Client],
                "Post an envelope (the raw body) and log its submitted event (201 new, 200 repeat).",
                201,
                JSON,
            ),
            post(crate::relay::post_message).layer(DefaultBodyLimit::max(envelope_limit)),
        ),
        (
            info(
                "GET",
                "/v1/mailbox",
                &[Role::Client],
                "The caller's waiting envelopes, oldest first (at most 100).",
                200,
                JSON,
            ),
            get(crate::relay::get_mailbox),
        ),
        (
            info(
                "GET",
                "/v1/mailbox/{ciphertext_sha256}",
                &[Role::Client],
                "One of the caller's envelopes, the exact bytes.",
                200,
                "application/octet-stream",
            ),
            get(crate::relay::get_envelope),
        ),
        (
            info(
                "POST",
                "/v1/mailbox/{ciphertext_sha256}/receipt",
                &[Role::Client],
                "Acknowledge an envelope with a receipt signed by the caller's certified key.",
                201,
                JSON,
            ),
            post(crate::relay::post_ack),
        ),
    ]
}

/// Every route of the API, in the order [`build_router`] adds them.
pub fn routes() -> Vec<RouteInfo> {
    table(0).into_iter().map(|(r, _)| r).collect()
}

/// The content type of `GET /metrics`.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The API's routes with their body limit, timeout, metrics and JSON 404.
pub fn build_router(state: AppState) -> Router {
    let limit = state.inner.body_limit;
    let timeout = state.inner.request_timeout;
    let mut router = Router::new();
    for (r, handler) in table(state.inner.max_envelope_bytes) {
        router = router.route(r.path, handler);
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

async fn fallback(State(state): State<AppState>) -> ApiError {
    state
        .inner
        .metrics
        .request(None, StatusCode::NOT_FOUND.as_u16());
    ApiError::NotFound("no such endpoint".into())
}

async fn metrics_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let resp = next.run(req).await;
    state
        .inner
        .metrics
        .request(route.as_deref(), resp.status().as_u16());
    resp
}

async fn get_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &[Role::Admin])?;
    let sizes = {
        let view = state.view()?;
        (
            view.log.sequenced_size(),
            view.log.integrated_size(),
            view.log.published_size(),
        )
    };
    let mut text = state.inner.metrics.render(sizes);
    let unfinished = state.jobs()?.unfinished_jobs().map_err(internal)?.len();
    text.push_str(&format!(
        "# HELP letro_proof_jobs_unfinished Proof jobs queued or running now (from the store).\n\
         # TYPE letro_proof_jobs_unfinished gauge\n\
         letro_proof_jobs_unfinished {unfinished}\n"
    ));
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response())
}

async fn get_openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document(&routes()))
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

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `POST /v1/submissions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBody {
    /// `H`, 64 lowercase hex digits.
    pub ciphertext_sha256: String,
    /// The sender's account id.
    pub sender: String,
    /// The recipient's routing id.
    pub routing: String,
}

/// The answer to an accepted event.
#[derive(Debug, Serialize, Deserialize)]
pub struct Accepted {
    /// Its log index.
    pub index: u64,
    /// `sequenced`, `integrated` or `published`.
    pub state: String,
}

pub(crate) fn parse_hash(s: &str) -> Result<CiphertextHash, ApiError> {
    CiphertextHash::from_hex(s).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "ciphertext_sha256 must be 64 lowercase hex digits: {e}"
        ))
    })
}

fn parse_id(field: &str, s: &str) -> Result<(), ApiError> {
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(format!(
            "{field} must be 1 to 256 bytes without control characters"
        )));
    }
    Ok(())
}

fn parse_fr(field: &str, s: &str) -> Result<Fr, ApiError> {
    fr_from_decimal(s).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "{field} must be a canonical decimal field element: {e}"
        ))
    })
}

pub(crate) async fn accepted(state: &AppState, a: Appended) -> Result<Response, ApiError> {
    let status = if a.fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = Accepted {
        index: a.index,
        state: state.state_of(a.index)?.to_owned(),
    };
    Ok((status, Json(body)).into_response())
}

async fn post_submission(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SubmissionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &[Role::Relay])?;
    let body = json_body(&state, body)?;
    let h = parse_hash(&body.ciphertext_sha256)?;
    parse_id("sender", &body.sender)?;
    parse_id("routing", &body.routing)?;
    let secret = EventSecret::fresh();
    let leaf = submitted_leaf(&h, &body.sender, &body.routing, &secret.fr());
    let event = StoredEvent::Submitted {
        ciphertext_sha256: h.to_hex(),
        sender: body.sender,
        routing: body.routing,
    };
    let a = state.append(h.0, leaf, event, secret).await?;
    accepted(&state, a).await
}

async fn post_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ReceiptJson>, JsonRejection>,
) -> Result<Response, ApiError> {
    let result = receipt(&state, &headers, body).await;
    if let Err(e) = &result {
        state.inner.metrics.receipt_refused(e.code());
    }
    result
}

async fn receipt(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<ReceiptJson>, JsonRejection>,
) -> Result<Response, ApiError> {
    state.authorize(headers, &[Role::Relay])?;
    let body = json_body(state, body)?;
    let h = parse_hash(&body.ciphertext_sha256)?;
    let checked = checked_receipt(
        state,
        &h,
        &body.delivered_at,
        &body.receipt_key,
        body.signature,
    )?;
    let a = state
        .append(h.0, checked.leaf, checked.event, checked.secret)
        .await?;
    accepted(state, a).await
}

/// A receipt that may enter the log: its leaf, the event to store and the event's secret.
pub(crate) struct CheckedReceipt {
    /// The delivered leaf, with `secret` mixed in.
    pub leaf: Fr,
    /// The event, with the receipt key's certificate.
    pub event: StoredEvent,
    /// The event's fresh secret.
    pub secret: EventSecret,
}

/// Whether a receipt by `key` for `h` may enter the log (SPEC §5.6): a submitted event is
/// logged for `h`, and `key` is a receipt key that the account the submission was routed to
/// certified in its directory entry (XEdDSA by its Signal identity key, checked again here).
/// Returns the certificate, which the delivered event keeps for the opening. Changes nothing.
fn certificate_for(
    state: &AppState,
    h: &CiphertextHash,
    key: &PublicKey,
) -> Result<CertificateObject, ApiError> {
    let (routing, certificate) = {
        let store = state.jobs()?;
        let routing = match store.find_submission(&h.0).map_err(internal)? {
            Some((_, StoredEvent::Submitted { routing, .. })) => routing,
            _ => return Err(ApiError::NotSubmitted),
        };
        let owner = store
            .receipt_key_owner(&babyjubjub::pack(key.point()))
            .map_err(internal)?;
        (routing, owner)
    };
    // A key nobody certified and a key another account certified get the same answer.
    let json = match certificate {
        Some((account, json)) if account == routing => json,
        _ => return Err(ApiError::UncertifiedReceiptKey),
    };
    let object: CertificateObject = serde_json::from_str(&json).map_err(internal)?;
    let certificate = object
        .to_certificate()
        .map_err(|e| ApiError::InvalidCertificate(e.to_string()))?;
    letro_verifier::certificate::verify_certificate(&certificate, key.point())
        .map_err(|e| ApiError::InvalidCertificate(e.to_string()))?;
    Ok(object)
}

/// Parses and checks a receipt for `h`, in this order: the encodings (400); the subgroup, the
/// signature and the clock skew (422 `invalid_receipt`, `clock_skew`); that `h` was submitted
/// (409 `not_submitted`); that the key is certified by the account the submission was routed
/// to (422 `uncertified_receipt_key`, `invalid_certificate`). Every path that logs receipts
/// goes through here. Nothing is stored, so a refused receipt blocks no later one.
pub(crate) fn checked_receipt(
    state: &AppState,
    h: &CiphertextHash,
    delivered_at: &str,
    receipt_key: &PointJson,
    signature: SignatureJson,
) -> Result<CheckedReceipt, ApiError> {
    let t =
        time::OffsetDateTime::parse(delivered_at, &time::format_description::well_known::Rfc3339)
            .map_err(|e| ApiError::InvalidRequest(format!("delivered_at must be RFC 3339: {e}")))?;
    if t.nanosecond() != 0 {
        return Err(ApiError::InvalidRequest(
            "delivered_at must be whole seconds (the receipt signs Unix seconds)".into(),
        ));
    }
    let t = u64::try_from(t.unix_timestamp())
        .map_err(|_| ApiError::InvalidRequest("delivered_at must not be before 1970".into()))?;
    let ax = parse_fr("receipt_key.x", &receipt_key.x)?;
    let ay = parse_fr("receipt_key.y", &receipt_key.y)?;
    let key = PublicKey::from_coords(ax, ay)
        .map_err(|e| ApiError::InvalidReceipt(format!("receipt_key: {e}")))?;
    let rx = parse_fr("signature.r8.x", &signature.r8.x)?;
    let ry = parse_fr("signature.r8.y", &signature.r8.y)?;
    let s = parse_decimal(&signature.s)
        .ok()
        .map(|n| n.to_bytes_be())
        .filter(|b| b.len() <= 32)
        .ok_or_else(|| {
            ApiError::InvalidRequest("signature.s must be a canonical decimal below 2^256".into())
        })?;
    let mut s_be = [0u8; 32];
    for (o, b) in s_be.iter_mut().rev().zip(s.iter().rev()) {
        *o = *b;
    }
    let sig = Signature::from_parts(rx, ry, &s_be)
        .map_err(|e| ApiError::InvalidReceipt(format!("signature: {e}")))?;
    let max_skew = state.inner.max_skew;
    let secret = EventSecret::fresh();
    let event = check_receipt(h, t, &key, &sig, unix_now(), max_skew, secret.fr()).map_err(
        |e| match e {
            ReceiptError::Skew { .. } => ApiError::ClockSkew(e.to_string()),
            _ => ApiError::InvalidReceipt(e.to_string()),
        },
    )?;
    let certificate = certificate_for(state, h, &key)?;
    let stored = StoredEvent::Delivered {
        ciphertext_sha256: h.to_hex(),
        delivered_at: t,
        receipt_key: PointJson {
            x: fr_to_decimal(&ax),
            y: fr_to_decimal(&ay),
        },
        signature: SignatureJson {
            r8: PointJson {
                x: fr_to_decimal(&rx),
                y: fr_to_decimal(&ry),
            },
            s: signature.s,
        },
        receipt_key_certificate: Some(certificate),
    };
    Ok(CheckedReceipt {
        leaf: event.leaf(),
        event: stored,
        secret,
    })
}

/// `GET /v1/log/key`: the log's verifier key as C2SP vkey text, a convenience copy. A verifier
/// must pin the key out of band: whoever serves this endpoint could serve any key.
async fn get_log_key(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT)],
        format!("{}\n", state.inner.log_vkey),
    )
        .into_response()
}

async fn get_checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .view()?
        .checkpoint
        .as_ref()
        .map(|c| c.text.clone())
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been published yet".into()))?;
    Ok(([(header::CONTENT_TYPE, TEXT)], text).into_response())
}

/// `GET /v1/log/state`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogState {
    /// Entries durably stored and given an index.
    pub sequenced: u64,
    /// Entries in the tree.
    pub integrated: u64,
    /// Entries covered by the latest signed checkpoint.
    pub published: u64,
}

async fn get_state(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<LogState>, ApiError> {
    state.authorize(&headers, LOG_OPERATORS)?;
    let view = state.view()?;
    Ok(Json(LogState {
        sequenced: view.log.sequenced_size(),
        integrated: view.log.integrated_size(),
        published: view.log.published_size(),
    }))
}

/// Query of the inclusion endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeQuery {
    /// Tree size; default the latest checkpoint's.
    pub size: Option<u64>,
}

/// An inclusion proof, field elements in decimal.
#[derive(Debug, Serialize, Deserialize)]
pub struct InclusionJson {
    /// Leaf index.
    pub index: u32,
    /// Tree size the proof is for.
    pub size: u64,
    /// The leaf.
    pub leaf: String,
    /// The root at `size` (check it against a signed checkpoint, not this field).
    pub root: String,
    /// Three siblings per level, leaves up.
    pub siblings: Vec<[String; 3]>,
}

fn siblings_json(p: &InclusionProof) -> Vec<[String; 3]> {
    p.siblings
        .iter()
        .map(|l| {
            [
                fr_to_decimal(&l[0]),
                fr_to_decimal(&l[1]),
                fr_to_decimal(&l[2]),
            ]
        })
        .collect()
}

/// Proofs are served only for published sizes: a root no checkpoint signs verifies nothing,
/// and the unpublished sizes would tell anyone the log's growth between checkpoints.
fn check_size(view: &LogView, size: u64) -> Result<(), ApiError> {
    let published = view.log.published_size();
    if size > published {
        return Err(ApiError::InvalidRequest(format!(
            "size {size} is beyond the published size {published}"
        )));
    }
    Ok(())
}

async fn get_inclusion(
    State(state): State<AppState>,
    index: Result<Path<u32>, PathRejection>,
    query: Result<Query<SizeQuery>, QueryRejection>,
) -> Result<Json<InclusionJson>, ApiError> {
    let Path(index) = index.map_err(|_| {
        ApiError::InvalidRequest("the leaf index must be an integer below 2^32".into())
    })?;
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let view = state.view()?;
    let size = q.size.unwrap_or_else(|| view.log.published_size());
    check_size(&view, size)?;
    if u64::from(index) >= size {
        return Err(ApiError::NotFound(format!(
            "leaf index {index} is not below the tree size {size}"
        )));
    }
    let proof = view.log.inclusion_proof(index, size).map_err(|e| {
        tracing::error!(error = %e, "inclusion proof failed");
        ApiError::Internal
    })?;
    let leaf = view.log.leaf(index).map_err(|_| ApiError::Internal)?;
    let root = view.log.root_at(size).map_err(|_| ApiError::Internal)?;
    Ok(Json(InclusionJson {
        index,
        size,
        leaf: fr_to_decimal(&leaf),
        root: fr_to_decimal(&root),
        siblings: siblings_json(&proof),
    }))
}

/// Query of the consistency endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// Old size.
    pub old: u64,
    /// New size.
    pub new: u64,
}

/// A consistency proof, field elements in decimal.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsistencyJson {
    /// Old size.
    pub old: u64,
    /// New size.
    pub new: u64,
    /// Leaf `old - 1`, absent when `old` is 0.
    pub last_old_leaf: Option<String>,
    /// Its siblings in the tree of size `new`, absent when `old` is 0.
    pub siblings: Option<Vec<[String; 3]>>,
}

async fn get_consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyJson>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    if q.old > q.new {
        return Err(ApiError::InvalidRequest(format!(
            "old size {} is larger than new size {}",
            q.old, q.new
        )));
    }
    let view = state.view()?;
    check_size(&view, q.new)?;
    let proof = view.log.consistency_proof(q.old, q.new).map_err(|e| {
        tracing::error!(error = %e, "consistency proof failed");
        ApiError::Internal
    })?;
    Ok(Json(ConsistencyJson {
        old: q.old,
        new: q.new,
        last_old_leaf: proof.last_old_leaf.as_ref().map(fr_to_decimal),
        siblings: proof.path.as_ref().map(siblings_json),
    }))
}

/// `POST /v1/proofs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofRequest {
    /// `H`, 64 lowercase hex digits.
    pub ciphertext_sha256: String,
    /// The window's start, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_before: String,
    /// The window's end, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_after: String,
    /// Optional: an `https://` or `http://` URL on a host the service allows
    /// (`callback_hosts`), to which the service POSTs `{"job_id", "state"}` when the job is
    /// done or failed.
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// A proof job as the API shows it to its owner.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobJson {
    /// The job id.
    pub job_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// When failed: `{"code", "message"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    /// When done: the bundle document (canonical encoding), as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// When done: the opening document, as a string. Secret to the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opening: Option<String>,
    /// With a callback URL: `pending`, `delivered` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

fn parse_window_time(field: &str, s: &str) -> Result<u64, ApiError> {
    letro_core::bundle::parse_time(s).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "{field} must be an RFC 3339 UTC time of the form YYYY-MM-DDTHH:MM:SSZ: {e}"
        ))
    })
}

fn format_t(t: u64) -> String {
    letro_core::bundle::format_time(t).unwrap_or_else(|| t.to_string())
}

impl AppState {
    /// The body, or the API error for a rejected one.
    pub(crate) fn json_body<T>(&self, body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
        json_body(self, body)
    }

    /// The API's store connection.
    pub(crate) fn jobs(&self) -> Result<std::sync::MutexGuard<'_, dyn Store>, ApiError> {
        self.inner.jobs.lock().map_err(|_| {
            tracing::error!("job store lock poisoned");
            ApiError::Internal
        })
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store operation failed");
    ApiError::Internal
}

async fn post_proof(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ProofRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let token = state.authorize(&headers, &[Role::Sender])?;
    let body = json_body(&state, body)?;
    let h = parse_hash(&body.ciphertext_sha256)?;
    let not_before = parse_window_time("not_before", &body.not_before)?;
    let not_after = parse_window_time("not_after", &body.not_after)?;
    if not_before > not_after {
        return Err(ApiError::InvalidRequest(
            "not_before is later than not_after".into(),
        ));
    }
    if let Some(url) = &body.callback_url {
        crate::callback::check_url(url, &state.inner.callback_hosts)
            .map_err(ApiError::CallbackRefused)?;
    }
    let (submission, receipt) = {
        let jobs = state.jobs()?;
        (
            jobs.find_submission(&h.0).map_err(internal)?,
            jobs.find_receipt(&h.0).map_err(internal)?,
        )
    };
    // Another sender's message gets the same answer as an unknown one, so that a sender
    // cannot learn which ciphertexts others sent.
    match submission {
        Some((_, StoredEvent::Submitted { sender, .. })) if sender == token.subject => {}
        _ => {
            return Err(ApiError::NotFound(
                "no message with this ciphertext_sha256 was submitted by this sender".into(),
            ))
        }
    }
    let Some((
        index,
        StoredEvent::Delivered {
            delivered_at,
            receipt_key_certificate,
            ..
        },
    )) = receipt
    else {
        return Err(ApiError::NotDelivered);
    };
    if delivered_at < not_before || delivered_at > not_after {
        return Err(ApiError::OutsideWindow(format!(
            "the delivery time {} is outside the window [{}, {}]",
            format_t(delivered_at),
            body.not_before,
            body.not_after
        )));
    }
    // Deliveries logged before statement v2 are refused now rather than by a failed job.
    if receipt_key_certificate.is_none() {
        return Err(ApiError::NotProvable(crate::jobs::NO_CERTIFICATE.into()));
    }
    if state
        .jobs()?
        .event_secret(index)
        .map_err(internal)?
        .is_none()
    {
        return Err(ApiError::NotProvable(crate::jobs::NO_EVENT_SECRET.into()));
    }
    if index >= state.view()?.log.published_size() {
        return Err(ApiError::NotPublished);
    }
    let active = state
        .jobs()?
        .active_jobs_of(&token.subject)
        .map_err(internal)?;
    if active >= state.inner.max_jobs_per_sender {
        return Err(ApiError::TooManyJobs(active));
    }
    let mut id = [0u8; 16];
    let mut wide = [0u8; 64];
    {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut wide);
    }
    // 512 uniform bits reduced mod p: a uniform blinding up to a 2^-250 bias.
    let blinding = <Fr as ark_ff::PrimeField>::from_le_bytes_mod_order(&wide);
    let job = JobRecord {
        id: hex::encode(id),
        owner: token.subject,
        ciphertext_hash: h.0,
        not_before,
        not_after,
        blinding: fr_to_decimal(&blinding),
        state: JobState::Queued,
        error: None,
        bundle: None,
        opening: None,
        callback_state: body.callback_url.as_ref().map(|_| "pending".into()),
        callback_url: body.callback_url,
    };
    state.jobs()?.put_job(&job).map_err(internal)?;
    tracing::info!(job = %job.id, "proof job queued");
    state.inner.metrics.job(JobState::Queued.as_str());
    state.inner.queue.push(job.id.clone());
    let body = JobJson {
        job_id: job.id.clone(),
        state: JobState::Queued.as_str().into(),
        error: None,
        bundle: None,
        opening: None,
        callback: job.callback_state,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

async fn get_proof(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobJson>, ApiError> {
    let token = state.authorize(&headers, &[Role::Sender])?;
    let Path(id) = id.map_err(|_| ApiError::InvalidRequest("malformed job id".into()))?;
    let job = state.jobs()?.job(&id).map_err(internal)?;
    // Another sender's job is reported like a missing one.
    let job = job
        .filter(|j| j.owner == token.subject)
        .ok_or_else(|| ApiError::NotFound("no proof job with this id".into()))?;
    Ok(Json(JobJson {
        job_id: job.id,
        state: job.state.as_str().into(),
        error: job
            .error
            .map(|(code, message)| json!({"code": code, "message": message})),
        bundle: job.bundle,
        opening: job.opening,
        callback: job.callback_state,
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::issue_token;
    use crate::store::{SqliteStore, Store};

    #[test]
    fn every_error_code_is_in_the_openapi_document() {
        let s = String::new;
        let all = [
            ApiError::InvalidRequest(s()),
            ApiError::Unauthorized(""),
            ApiError::Forbidden(""),
            ApiError::NotYours(s()),
            ApiError::InvalidCertificate(s()),
            ApiError::UncertifiedReceiptKey,
            ApiError::NotSubmitted,
            ApiError::NotProvable(s()),
            ApiError::NotFound(s()),
            ApiError::Conflict(s()),
            ApiError::PayloadTooLarge(0),
            ApiError::InvalidReceipt(s()),
            ApiError::ClockSkew(s()),
            ApiError::NotDelivered,
            ApiError::NotPublished,
            ApiError::OutsideWindow(s()),
            ApiError::CallbackRefused(s()),
            ApiError::TooManyJobs(0),
            ApiError::LogFull,
            ApiError::Timeout,
            ApiError::Internal,
        ];
        let codes: std::collections::BTreeSet<&str> = all.iter().map(ApiError::code).collect();
        let listed: std::collections::BTreeSet<&str> =
            crate::openapi::ERROR_CODES.iter().copied().collect();
        assert_eq!(codes, listed);
        // Receipt refusals are all counted by the metrics.
        for code in [
            "not_submitted",
            "uncertified_receipt_key",
            "invalid_certificate",
        ] {
            assert!(crate::metrics::RECEIPT_REFUSALS.contains(&code), "{code}");
        }
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
        let metrics = Arc::new(Metrics::new(routes().into_iter().map(|r| r.path)));
        let parts = Parts {
            tx,
            view,
            tokens,
            jobs,
            queue,
            metrics,
            log_vkey: String::new(),
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

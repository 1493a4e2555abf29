//! The HTTP API: [`build_router`], its handlers and the one error type, [`ApiError`].
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
use letro_core::merkle::InclusionProof as PoseidonInclusion;
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
    ProofRequest, ProofWindow, Receipt, ReceiptProblem, SizeQuery, SubmissionRequest,
};
use letro_api::{ErrorBody, ErrorCode};

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
    /// 405 `method_not_allowed`: the route exists, but not with this method.
    #[error("this route does not take this method")]
    MethodNotAllowed,
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
    /// The stable error code (letro-api's [`ErrorCode`], with its status).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) | Self::NotYours(_) => ErrorCode::Forbidden,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::InvalidCertificate(_) => ErrorCode::InvalidCertificate,
            Self::UncertifiedReceiptKey => ErrorCode::UncertifiedReceiptKey,
            Self::NotSubmitted => ErrorCode::NotSubmitted,
            Self::NotProvable(_) => ErrorCode::NotProvable,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::InvalidReceipt(_) => ErrorCode::InvalidReceipt,
            Self::ClockSkew(_) => ErrorCode::ClockSkew,
            Self::NotDelivered => ErrorCode::NotDelivered,
            Self::NotPublished => ErrorCode::NotPublished,
            Self::OutsideWindow(_) => ErrorCode::OutsideWindow,
            Self::CallbackRefused(_) => ErrorCode::CallbackRefused,
            Self::TooManyJobs(_) => ErrorCode::TooManyJobs,
            Self::LogFull => ErrorCode::LogFull,
            Self::Timeout => ErrorCode::Timeout,
            Self::Internal => ErrorCode::Internal,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error_code().status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The stable error code, as on the wire.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// Seconds a client should wait before retrying, sent as `Retry-After` (API.md, "Errors"):
    /// for the retryable refusals, 429 and every 503 ([`ErrorCode::retry_after`]).
    pub fn retry_after(&self) -> Option<u64> {
        self.error_code().retry_after().map(u64::from)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody::new(self.error_code(), self.to_string()));
        let mut resp = (self.status(), body).into_response();
        if matches!(self, Self::Unauthorized(_)) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
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

    fn state_of(&self, index: u64) -> Result<EventState, ApiError> {
        let view = self.view()?;
        Ok(if index < view.log.published_size() {
            EventState::Published
        } else if index < view.log.integrated_size() {
            EventState::Integrated
        } else {
            EventState::Sequenced
        })
    }
}

/// The authenticated caller of a route with roles: its token, accepted only if its role is
/// one the route declares in letro-api's route table ([`letro_api::ROUTES`]), the one place
/// where roles are declared. Answers 401 or 403 otherwise.
pub(crate) struct Caller(pub TokenRecord);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut RequestParts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_default();
        let route = letro_api::ROUTES
            .iter()
            .find(|r| r.path == path && r.method.as_str() == parts.method.as_str())
            .ok_or_else(|| {
                tracing::error!(path, "a handler asked for a caller on an unlisted route");
                ApiError::Internal
            })?;
        state.authorize(&parts.headers, route.roles).map(Caller)
    }
}

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
        ("get_log_state", get(get_state)),
        ("get_inclusion_proof", get(get_inclusion)),
        ("get_consistency_proof", get(get_consistency)),
        ("post_proof", post(post_proof)),
        ("get_proof_job", get(get_proof)),
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
    let mut by_path: std::collections::BTreeMap<&str, MethodRouter<AppState>> =
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
        let merged = match by_path.remove(route.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(route.path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler.fallback(method_not_allowed));
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

/// A route that exists, called with a method it does not take: the JSON error, with `Allow`
/// left to the client to find in the OpenAPI document.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
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
    let unfinished = state.jobs()?.unfinished_jobs().map_err(internal)?.len();
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

pub(crate) fn parse_hash(s: &str) -> Result<CiphertextHash, ApiError> {
    letro_api::bodies::parse_ciphertext_hash("ciphertext_sha256", s).map_err(invalid)
}

pub(crate) async fn accepted(state: &AppState, a: Appended) -> Result<Response, ApiError> {
    let status = if a.fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = Accepted {
        index: a.index,
        state: state.state_of(a.index)?,
    };
    Ok((status, Json(body)).into_response())
}

async fn post_submission(
    State(state): State<AppState>,
    _caller: Caller,
    body: Result<Json<SubmissionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&state, body)?.check().map_err(invalid)?;
    let h = body.ciphertext_hash;
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
    caller: Result<Caller, ApiError>,
    body: Result<Json<ReceiptJson>, JsonRejection>,
) -> Result<Response, ApiError> {
    let result = receipt(&state, caller, body).await;
    if let Err(e) = &result {
        state.inner.metrics.receipt_refused(e.code());
    }
    result
}

async fn receipt(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    body: Result<Json<ReceiptJson>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller?;
    let (h, receipt) = json_body(state, body)?.check().map_err(receipt_refused)?;
    let checked = checked_receipt(state, &h, &receipt)?;
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

/// A request member that is malformed: 400 `invalid_request`, naming the member.
pub(crate) fn invalid(e: FieldError) -> ApiError {
    ApiError::InvalidRequest(e.to_string())
}

/// A receipt body refused before the state is looked at: a malformed member (400), or a key or
/// signature that is not one (422 `invalid_receipt`).
pub(crate) fn receipt_refused(e: ReceiptProblem) -> ApiError {
    match e {
        ReceiptProblem::Field(f) => invalid(f),
        e @ (ReceiptProblem::Key(_) | ReceiptProblem::Signature(_)) => {
            ApiError::InvalidReceipt(e.to_string())
        }
    }
}

/// Checks a receipt for `h` whose encodings letro-api has checked ([`ReceiptRequest::check`]:
/// 400 and 422 `invalid_receipt` for the key and signature encodings), in this order: the
/// signature and the clock skew (422 `invalid_receipt`, `clock_skew`); that `h` was submitted
/// (409 `not_submitted`); that the key is certified by the account the submission was routed
/// to (422 `uncertified_receipt_key`, `invalid_certificate`). Every path that logs receipts
/// goes through here. Nothing is stored, so a refused receipt blocks no later one.
pub(crate) fn checked_receipt(
    state: &AppState,
    h: &CiphertextHash,
    receipt: &Receipt,
) -> Result<CheckedReceipt, ApiError> {
    let Receipt {
        delivered_at: t,
        receipt_key: key,
        signature: sig,
    } = receipt;
    let max_skew = state.inner.max_skew;
    let secret = EventSecret::fresh();
    let event =
        check_receipt(h, *t, key, sig, unix_now(), max_skew, secret.fr()).map_err(|e| match e {
            ReceiptError::Skew { .. } => ApiError::ClockSkew(e.to_string()),
            _ => ApiError::InvalidReceipt(e.to_string()),
        })?;
    let certificate = certificate_for(state, h, key)?;
    let stored = StoredEvent::Delivered {
        ciphertext_sha256: h.to_hex(),
        delivered_at: *t,
        receipt_key: PointJson::from_point(key.point()),
        signature: SignatureJson::from(sig),
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

async fn get_state(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<LogState>, ApiError> {
    let view = state.view()?;
    Ok(Json(LogState {
        sequenced: view.log.sequenced_size(),
        integrated: view.log.integrated_size(),
        published: view.log.published_size(),
    }))
}

fn siblings_json(p: &PoseidonInclusion) -> Vec<[String; 3]> {
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
) -> Result<Json<InclusionProof>, ApiError> {
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
    Ok(Json(InclusionProof {
        index,
        size,
        leaf: fr_to_decimal(&leaf),
        root: fr_to_decimal(&root),
        siblings: siblings_json(&proof),
    }))
}

async fn get_consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
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
    Ok(Json(ConsistencyProof {
        old: q.old,
        new: q.new,
        last_old_leaf: proof.last_old_leaf.as_ref().map(fr_to_decimal),
        siblings: proof.path.as_ref().map(siblings_json),
    }))
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
    caller: Caller,
    body: Result<Json<ProofRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let token = caller.0;
    let body = json_body(&state, body)?;
    let ProofWindow {
        ciphertext_hash: h,
        not_before,
        not_after,
    } = body.check().map_err(invalid)?;
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
    let body = job_body(job.clone());
    let location = format!("/v1/proofs/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

async fn get_proof(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Job>, ApiError> {
    let token = caller.0;
    let Path(id) = id.map_err(|_| ApiError::InvalidRequest("malformed job id".into()))?;
    let job = state.jobs()?.job(&id).map_err(internal)?;
    // Another sender's job is reported like a missing one.
    let job = job
        .filter(|j| j.owner == token.subject)
        .ok_or_else(|| ApiError::NotFound("no proof job with this id".into()))?;
    Ok(Json(job_body(job)))
}

/// A stored job as its owner sees it.
fn job_body(job: JobRecord) -> Job {
    Job {
        job_id: job.id,
        state: match job.state {
            JobState::Queued => ApiJobState::Queued,
            JobState::Running => ApiJobState::Running,
            JobState::Done => ApiJobState::Done,
            JobState::Failed => ApiJobState::Failed,
        },
        error: job.error.map(|(code, message)| JobFailure {
            // Stored codes are the two the jobs write; anything else reads as a failed proof.
            code: JobFailureCode::parse(&code).unwrap_or(JobFailureCode::ProofFailed),
            message,
        }),
        bundle: job.bundle,
        opening: job.opening,
        callback: job.callback_state.as_deref().map(|c| match c {
            "delivered" => CallbackState::Delivered,
            "failed" => CallbackState::Failed,
            _ => CallbackState::Pending,
        }),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::issue_token;
    use crate::store::{SqliteStore, Store};
    use serde_json::json;

    #[test]
    fn every_error_code_is_in_the_openapi_document() {
        let s = String::new;
        let all = [
            ApiError::InvalidRequest(s()),
            ApiError::Unauthorized(""),
            ApiError::Forbidden(""),
            ApiError::MethodNotAllowed,
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

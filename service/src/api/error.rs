//! The one error type of the API, [`ApiError`]: every refusal is letro-api's error body with
//! a stable code; a 5xx says nothing about the cause, which is logged.

use super::*;

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
    /// 409 `out_of_order`: the delivery's lifecycle does not allow the event (SPEC §5.11).
    #[error("{0}")]
    OutOfOrder(String),
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
    /// 503 `unavailable`: this replica does not sequence the log and cannot reach the one that
    /// does ([`crate::replica`]); the message says why.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `internal`: the cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// One error of each variant, with empty messages: what tests of the error mapping and of
    /// the documents iterate over. Each variant added to the enum must be added here (a test
    /// checks that these cover every [`ErrorCode`]).
    pub fn one_of_each() -> Vec<ApiError> {
        let s = String::new;
        vec![
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
            ApiError::OutOfOrder(s()),
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
            ApiError::Unavailable(s()),
            ApiError::Internal,
        ]
    }

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
            Self::OutOfOrder(_) => ErrorCode::OutOfOrder,
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
            Self::Unavailable(_) => ErrorCode::Unavailable,
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
            AppendError::OutOfOrder(o) => {
                Self::OutOfOrder(format!("this delivery's lifecycle does not allow it: {o}"))
            }
            AppendError::Full => Self::LogFull,
            _ => Self::Internal,
        }
    }
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

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store operation failed");
    ApiError::Internal
}

//! The error envelope every refusal carries, `{"error": {"code", "message"}}`, and the stable
//! codes ([`ErrorCode`]) with their HTTP status. A 4xx message says what was wrong with the
//! request; a 5xx message says nothing about the cause (the service logs it).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stable error code. Codes are never renamed or reused; new ones may be added, so a client
/// should treat an unknown code by its HTTP status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a malformed body, path or query; the message names the field.
    InvalidRequest,
    /// 401: no bearer token, or an unknown, expired or revoked one.
    Unauthorized,
    /// 403: the token's role may not call this route, or not for this account.
    Forbidden,
    /// 404: no such resource (or one the caller may not see, reported alike).
    NotFound,
    /// 405: the route exists, but not with this method.
    MethodNotAllowed,
    /// 409: a different event of this kind is logged for the same ciphertext.
    Conflict,
    /// 409: no delivery receipt is logged for the ciphertext of a proof request.
    NotDelivered,
    /// 409: the delivery is not yet covered by a signed checkpoint; retry after the next one.
    NotPublished,
    /// 409: a receipt for a ciphertext that no submitted event is logged for.
    NotSubmitted,
    /// 409: the delivery was logged before statement v2 and cannot be proved.
    NotProvable,
    /// 409: the delivery's lifecycle does not allow this event: it already has a final state
    /// (rejected, retrieved, refused or expired).
    OutOfOrder,
    /// 413: the body is larger than the route accepts.
    PayloadTooLarge,
    /// 422: the receipt key or signature is refused.
    InvalidReceipt,
    /// 422: the receipt key's certificate does not verify.
    InvalidCertificate,
    /// 422: the receipt is signed by a key the recipient has not certified.
    UncertifiedReceiptKey,
    /// 422: the delivery time is outside the requested window.
    OutsideWindow,
    /// 422: the callback URL is not allowed by the service's policy.
    CallbackRefused,
    /// 422: the receipt time is too far from the service clock.
    ClockSkew,
    /// 429: the sender has as many unfinished proof jobs as it may; retry when one finishes.
    TooManyJobs,
    /// 500: an internal error; the cause is logged, never sent.
    Internal,
    /// 503: the request took too long; retry.
    Timeout,
    /// 503: this replica does not sequence the log and cannot reach the one that does (a
    /// failover is under way); retry.
    Unavailable,
    /// 503: the log holds 2^32 entries.
    LogFull,
}

impl ErrorCode {
    /// Every code, in the order API.md lists them.
    pub const ALL: [ErrorCode; 23] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::NotDelivered,
        Self::NotPublished,
        Self::NotSubmitted,
        Self::NotProvable,
        Self::OutOfOrder,
        Self::PayloadTooLarge,
        Self::InvalidReceipt,
        Self::InvalidCertificate,
        Self::UncertifiedReceiptKey,
        Self::OutsideWindow,
        Self::CallbackRefused,
        Self::ClockSkew,
        Self::TooManyJobs,
        Self::Internal,
        Self::Timeout,
        Self::Unavailable,
        Self::LogFull,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::NotDelivered => "not_delivered",
            Self::NotPublished => "not_published",
            Self::NotSubmitted => "not_submitted",
            Self::NotProvable => "not_provable",
            Self::OutOfOrder => "out_of_order",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidReceipt => "invalid_receipt",
            Self::InvalidCertificate => "invalid_certificate",
            Self::UncertifiedReceiptKey => "uncertified_receipt_key",
            Self::OutsideWindow => "outside_window",
            Self::CallbackRefused => "callback_refused",
            Self::ClockSkew => "clock_skew",
            Self::TooManyJobs => "too_many_jobs",
            Self::Internal => "internal",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::LogFull => "log_full",
        }
    }

    /// The HTTP status the code is sent with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict
            | Self::NotDelivered
            | Self::NotPublished
            | Self::NotSubmitted
            | Self::NotProvable
            | Self::OutOfOrder => 409,
            Self::PayloadTooLarge => 413,
            Self::InvalidReceipt
            | Self::InvalidCertificate
            | Self::UncertifiedReceiptKey
            | Self::OutsideWindow
            | Self::CallbackRefused
            | Self::ClockSkew => 422,
            Self::TooManyJobs => 429,
            Self::Internal => 500,
            Self::Timeout | Self::Unavailable | Self::LogFull => 503,
        }
    }

    /// The one-line meaning, as API.md and the OpenAPI document give it.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::InvalidRequest => "a malformed body, path or query; the message names the field",
            Self::Unauthorized => "no bearer token, or an unknown, expired or revoked one",
            Self::Forbidden => "the token's role may not call this route, or not for this account",
            Self::NotFound => "no such resource, or one the caller may not see",
            Self::MethodNotAllowed => "the route exists, but not with this method",
            Self::Conflict => "a different event of this kind is logged for the same ciphertext",
            Self::NotDelivered => "no delivery receipt is logged for this ciphertext yet",
            Self::NotPublished => "the delivery is not yet covered by a signed checkpoint",
            Self::NotSubmitted => "no submission is logged for this ciphertext",
            Self::NotProvable => "the delivery was logged before statement v2 and cannot be proved",
            Self::OutOfOrder => {
                "the delivery already has a final state (rejected, retrieved, refused or expired)"
            }
            Self::PayloadTooLarge => "the body is larger than the route accepts",
            Self::InvalidReceipt => "the receipt key or signature is refused",
            Self::InvalidCertificate => "the receipt key's certificate does not verify",
            Self::UncertifiedReceiptKey => {
                "the receipt is signed by a key the recipient has not certified"
            }
            Self::OutsideWindow => "the delivery time is outside the requested window",
            Self::CallbackRefused => "the callback URL is not allowed by the service's policy",
            Self::ClockSkew => "the receipt time is too far from the service clock",
            Self::TooManyJobs => "the sender has as many unfinished proof jobs as it may",
            Self::Internal => "an internal error; the cause is logged, never sent",
            Self::Timeout => "the request took too long",
            Self::Unavailable => {
                "no service that sequences the log can be reached through this replica now"
            }
            Self::LogFull => "the log holds 2^32 entries",
        }
    }

    /// Seconds a client should wait before trying again (the `Retry-After` the service sends),
    /// for the refusals that a retry can cure; `None` for the others.
    pub fn retry_after(self) -> Option<u32> {
        match self {
            // The default checkpoint interval.
            Self::NotPublished => Some(5),
            // A proof takes about half a second; a sender at its limit usually has a queue.
            Self::TooManyJobs => Some(10),
            Self::Timeout => Some(2),
            // A standby takes over within a second of a leader's death (BENCHMARKS.md).
            Self::Unavailable => Some(1),
            // Nothing more is appended until the operator starts a new log.
            Self::LogFull => Some(3600),
            _ => None,
        }
    }
}

/// The body of every refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"error": {"code": "not_found", "message": "no proof job with this id"}}))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// The stable code.
    pub code: ErrorCode,
    /// What was wrong, for people; not stable.
    pub message: String,
}

impl ErrorBody {
    /// The body for `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_serialize_as_their_names() {
        let names: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for c in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
            assert!((400..600).contains(&c.status()), "{c:?}");
            assert!(!c.meaning().is_empty());
        }
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"callback_refused","message":"m"}}"#).unwrap();
        assert_eq!(body, ErrorBody::new(ErrorCode::CallbackRefused, "m"));
    }
}

//! What can go wrong: building a client ([`BuildError`]) and calling the API ([`Error`]).

use letro_api::ErrorCode;
use reqwest::StatusCode;

/// Why a [`Client`](crate::Client) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL is not an `http://` or `https://` URL without query or fragment.
    #[error("base URL {url:?}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The CA file could not be read.
    #[error("CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The CA certificates are not well-formed PEM.
    #[error("CA certificates: {0}")]
    CaPem(rustls::pki_types::pem::Error),
    /// The CA PEM holds no certificate.
    #[error("CA certificates: no PEM certificate found")]
    NoCaCertificate,
    /// A CA certificate cannot be a trust anchor (malformed DER).
    #[error("CA certificate: {0}")]
    CaCertificate(rustls::Error),
    /// rustls refused the TLS settings.
    #[error("TLS settings: {0}")]
    Tls(rustls::Error),
    /// reqwest could not build its client.
    #[error("HTTP client: {0}")]
    Http(reqwest::Error),
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service refused the request with its error body (`{"error": {"code", "message"}}`).
    #[error("the service answered {status}: {message} ({raw_code})")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The stable code, when this version of letro-api knows it. `None` for a code a newer
        /// service added: treat it by `status` (see `raw_code`).
        code: Option<ErrorCode>,
        /// The code as sent.
        raw_code: String,
        /// The message, for people; not stable.
        message: String,
        /// The `Retry-After` header, seconds, on the refusals a retry can cure (`429`, `503`,
        /// `409 not_published`).
        retry_after: Option<u64>,
    },
    /// The request could not be sent or its answer not read: connection, TLS, timeout.
    #[error("http: {0}")]
    Http(#[source] reqwest::Error),
    /// An answer the route table does not allow for this route: a success status it does not
    /// list, a body that is not the route's, a refusal without the API's error body.
    #[error("unexpected answer {status}: {reason}; body starts {body_excerpt:?}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// What was wrong with it.
        reason: String,
        /// The start of the body, as text (lossy UTF-8).
        body_excerpt: String,
    },
    /// A path parameter that no URL can carry: empty, `.` or `..` (URL parsers resolve dot
    /// segments, even percent-encoded ones, so the request would reach another route).
    #[error("{name} {value:?} cannot be sent as a URL path segment")]
    UnsendableParameter {
        /// The parameter's name in the route table.
        name: &'static str,
        /// The value.
        value: String,
    },
    /// A bug in this crate: an operation id or parameter list that does not match
    /// letro-api's route table.
    #[error("letro-api-client bug: {0}")]
    Unreachable(&'static str),
}

impl Error {
    /// The API's error code, for a refusal with a code this version knows.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::UnexpectedResponse { status, .. } => Some(*status),
            Self::Http(e) => e.status(),
            _ => None,
        }
    }

    /// Seconds the service asked to wait before retrying (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The refusal as letro-api's error body, when its code is one this version knows.
    pub fn error_body(&self) -> Option<letro_api::ErrorBody> {
        match self {
            Self::Api {
                code: Some(code),
                message,
                ..
            } => Some(letro_api::ErrorBody::new(*code, message.clone())),
            _ => None,
        }
    }
}

/// Longest body excerpt kept in [`Error::UnexpectedResponse`], in characters.
const EXCERPT_CHARS: usize = 200;

pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// The error member of a refusal, read leniently: any code string (a newer service may add
/// codes) and any further members (letro-api's [`ErrorBody`](letro_api::ErrorBody) refuses
/// both).
#[derive(serde::Deserialize)]
struct LenientBody {
    error: LenientDetail,
}

#[derive(serde::Deserialize)]
struct LenientDetail {
    code: String,
    message: String,
}

/// The error for a refusal: the API's error body if the answer carries one, else
/// [`Error::UnexpectedResponse`].
pub(crate) fn refusal(status: StatusCode, retry_after: Option<u64>, body: &[u8]) -> Error {
    match serde_json::from_slice::<LenientBody>(body) {
        Ok(LenientBody { error }) => Error::Api {
            status,
            code: ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == error.code),
            raw_code: error.code,
            message: error.message,
            retry_after,
        },
        Err(_) => Error::UnexpectedResponse {
            status,
            reason: if status.is_success() {
                "a status this route does not answer with".into()
            } else {
                "a refusal without the API's error body".into()
            },
            body_excerpt: excerpt(body),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_parsed_known_unknown_or_not_at_all() {
        let e = refusal(
            StatusCode::NOT_FOUND,
            None,
            br#"{"error":{"code":"not_found","message":"no proof job with this id"}}"#,
        );
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        assert_eq!(
            e.error_body(),
            Some(letro_api::ErrorBody::new(
                ErrorCode::NotFound,
                "no proof job with this id"
            ))
        );
        // A code added by a newer service, and a member this version does not know.
        let e = refusal(
            StatusCode::CONFLICT,
            Some(7),
            br#"{"error":{"code":"brand_new","message":"m","detail":1}}"#,
        );
        match &e {
            Error::Api {
                code: None,
                raw_code,
                retry_after: Some(7),
                ..
            } => assert_eq!(raw_code, "brand_new"),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.status(), Some(StatusCode::CONFLICT));
        assert_eq!(e.error_body(), None);
        let e = refusal(StatusCode::BAD_GATEWAY, None, b"<html>proxy error</html>");
        match e {
            Error::UnexpectedResponse { body_excerpt, .. } => {
                assert_eq!(body_excerpt, "<html>proxy error</html>")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(excerpt(&[b'a'; 1000]).len(), EXCERPT_CHARS);
    }
}

//! The route table: every route of the API with its method, path, operation id, the roles that
//! may call it, its request body, its answers and the error codes it can answer with. The
//! service routes exactly these (a test there checks that every route has a handler and no
//! handler is missing here) and authorizes by [`Route::roles`]; [`crate::openapi`] builds the
//! document from them.

use crate::error::ErrorCode;
use crate::role::Role;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper case, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A body: none, JSON of a named schema (a list of it with [`Body::JsonList`]), or raw content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// `application/json` with the named component schema.
    Json(&'static str),
    /// `application/json`: an array of the named component schema.
    JsonList(&'static str),
    /// Any other content type, as a string or bytes.
    Raw {
        /// The content type.
        content_type: &'static str,
        /// `true` for bytes (`format: binary`), `false` for text.
        binary: bool,
    },
}

/// A successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// What it means.
    pub description: &'static str,
    /// Its body.
    pub body: Body,
    /// The response headers it carries besides `Content-Type`.
    pub headers: &'static [Header],
}

/// A response header an answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Its name as usually written (header names are case-insensitive).
    pub name: &'static str,
    /// What it holds.
    pub description: &'static str,
}

/// `Location` on 202: the job's path, to poll.
pub const LOCATION: Header = Header {
    name: "Location",
    description: "the job's path (`/v1/proofs/{job_id}`), to poll",
};

/// `letro-sender` on an envelope: the account that posted it.
pub const LETRO_SENDER: Header = Header {
    name: "letro-sender",
    description: "the account id of the envelope's sender",
};

/// `Cache-Control` on an immutable tile: cacheable for ever.
pub const CACHE_FOREVER: Header = Header {
    name: "Cache-Control",
    description: "`public, max-age=31536000, immutable`: a tile path always has the same content",
};

/// `Cache-Control` on the checkpoint: it changes at every publication.
pub const CACHE_BRIEFLY: Header = Header {
    name: "Cache-Control",
    description: "`public, max-age=5`: the checkpoint changes at every publication",
};

/// A path parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// An unsigned integer below 2^32.
    U32,
    /// 64 lowercase hex digits.
    Sha256Hex,
    /// An account id: 1 to 64 of `A-Z a-z 0-9 . _ -` (`directory::check_account_id`).
    AccountId,
    /// A string (a job id, a token id).
    Text,
    /// A C2SP tlog-tiles path below `tile/`: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`
    /// (`letro_log::tiles::TilePath`). It spans several path segments, which a client sends
    /// as they are (`/` not percent-encoded; a percent-encoded one is decoded first).
    TilePath,
    /// A lifecycle event's stable name (`letro_core::lifecycle::LifecycleEvent::name`).
    LifecycleEvent,
}

/// A path parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathParam {
    /// Its name, as in the path template.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// What it is.
    pub description: &'static str,
}

/// The query parameters a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// None.
    None,
    /// [`crate::bodies::SizeQuery`].
    Size,
    /// [`crate::bodies::ConsistencyQuery`].
    Consistency,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path template (`{name}` for parameters), as axum and OpenAPI write it.
    pub path: &'static str,
    /// The operation id: an identifier, unique, stable.
    pub operation_id: &'static str,
    /// The roles whose tokens may call it; empty means no token is needed.
    pub roles: &'static [Role],
    /// One line.
    pub summary: &'static str,
    /// The path parameters.
    pub params: &'static [PathParam],
    /// The query parameters.
    pub query: Query,
    /// The request body.
    pub request: Body,
    /// The successful answers.
    pub answers: &'static [Answer],
    /// The error codes it can answer with besides the ones every route (or every route with a
    /// token, a body or parameters) has; see [`Route::errors`].
    pub errors: &'static [ErrorCode],
}

impl Route {
    /// Every error code this route can answer with: `internal`, `timeout` and `unavailable` (a
    /// replica that cannot reach the sequencing one) always;
    /// `unauthorized` and `forbidden` with roles; `invalid_request` with parameters, a query or
    /// a body; `payload_too_large` with a body; and the route's own.
    pub fn errors(&self) -> Vec<ErrorCode> {
        let mut all = vec![
            ErrorCode::Internal,
            ErrorCode::Timeout,
            ErrorCode::Unavailable,
        ];
        if !self.roles.is_empty() {
            all.extend([ErrorCode::Unauthorized, ErrorCode::Forbidden]);
        }
        if !self.params.is_empty() || self.query != Query::None || self.request != Body::None {
            all.push(ErrorCode::InvalidRequest);
        }
        if self.request != Body::None {
            all.push(ErrorCode::PayloadTooLarge);
        }
        all.extend(self.errors.iter().copied());
        all.sort();
        all.dedup();
        all
    }

    /// Whether a token of `role` may call it (always, for an open route).
    pub fn allows(&self, role: Role) -> bool {
        self.roles.is_empty() || self.roles.contains(&role)
    }
}

const JSON: &str = "application/json";
/// The content type of tiles and entry bundles.
pub const OCTETS: &str = "application/octet-stream";
const TEXT: &str = "text/plain; charset=utf-8";
/// The content type of `GET /metrics`.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const OPEN: &[Role] = &[];
const LOG_OPERATORS: &[Role] = &[Role::Relay, Role::Admin];

const fn ok(body: Body) -> Answer {
    Answer {
        status: 200,
        description: "success",
        body,
        headers: &[],
    }
}

const ACCEPTED_EVENT: &[Answer] = &[
    Answer {
        status: 201,
        description: "the event is logged now",
        body: Body::Json("Accepted"),
        headers: &[],
    },
    Answer {
        status: 200,
        description: "the same event was logged before (a repeat changes nothing)",
        body: Body::Json("Accepted"),
        headers: &[],
    },
];

const H_PARAM: PathParam = PathParam {
    name: "ciphertext_sha256",
    ty: ParamType::Sha256Hex,
    description: "H, the SHA-256 of the exact envelope",
};

const ACCOUNT_PARAM: PathParam = PathParam {
    name: "account",
    ty: ParamType::AccountId,
    description: "an account id",
};

const RECEIPT_REFUSALS: &[ErrorCode] = &[
    ErrorCode::InvalidReceipt,
    ErrorCode::ClockSkew,
    ErrorCode::NotSubmitted,
    ErrorCode::UncertifiedReceiptKey,
    ErrorCode::InvalidCertificate,
    ErrorCode::Conflict,
    ErrorCode::OutOfOrder,
    ErrorCode::LogFull,
];

/// A mailbox acknowledgement's refusals: a receipt's, and 404 for an envelope that is not in
/// the caller's mailbox.
const ACK_REFUSALS: &[ErrorCode] = &[
    ErrorCode::NotFound,
    ErrorCode::InvalidReceipt,
    ErrorCode::ClockSkew,
    ErrorCode::NotSubmitted,
    ErrorCode::UncertifiedReceiptKey,
    ErrorCode::InvalidCertificate,
    ErrorCode::Conflict,
    ErrorCode::OutOfOrder,
    ErrorCode::LogFull,
];

/// Every route, in the order the service adds them.
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        path: "/healthz",
        operation_id: "healthz",
        roles: OPEN,
        summary: "Liveness.",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Json("Health"))],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/metrics",
        operation_id: "get_metrics",
        roles: &[Role::Admin],
        summary: "Prometheus metrics (text exposition format 0.0.4).",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: METRICS_CONTENT_TYPE,
            binary: false,
        })],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/openapi.json",
        operation_id: "get_openapi",
        roles: OPEN,
        summary: "This OpenAPI 3.1 document.",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: JSON,
            binary: false,
        })],
        errors: &[],
    },
    Route {
        method: Method::Post,
        path: "/v1/submissions",
        operation_id: "post_submission",
        roles: &[Role::Relay],
        summary: "Append a submitted event.",
        params: &[],
        query: Query::None,
        request: Body::Json("SubmissionRequest"),
        answers: ACCEPTED_EVENT,
        errors: &[ErrorCode::Conflict, ErrorCode::OutOfOrder, ErrorCode::LogFull],
    },
    Route {
        method: Method::Post,
        path: "/v1/receipts",
        operation_id: "post_receipt",
        roles: &[Role::Relay],
        summary: "Check a delivery receipt and append the delivered event.",
        params: &[],
        query: Query::None,
        request: Body::Json("ReceiptRequest"),
        answers: ACCEPTED_EVENT,
        errors: RECEIPT_REFUSALS,
    },
    Route {
        method: Method::Get,
        path: "/v1/checkpoint",
        operation_id: "get_checkpoint",
        roles: OPEN,
        summary: "The latest signed checkpoint (C2SP signed note).",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: TEXT,
            binary: false,
        })],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/log/key",
        operation_id: "get_log_key",
        roles: OPEN,
        summary: "The log's public key (C2SP vkey); pin it out of band, do not trust this copy.",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: TEXT,
            binary: false,
        })],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/v1/log/checkpoint",
        operation_id: "get_tlog_checkpoint",
        roles: OPEN,
        summary: "C2SP tlog-tiles: the latest signed checkpoint, at the tiles' prefix `/v1/log`.",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[Answer {
            status: 200,
            description: "the latest signed checkpoint (C2SP signed note), cosigned where witnesses are configured",
            body: Body::Raw {
                content_type: TEXT,
                binary: false,
            },
            headers: &[CACHE_BRIEFLY],
        }],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/log/tile/{tile}",
        operation_id: "get_tlog_tile",
        roles: OPEN,
        summary: "C2SP tlog-tiles: a hash tile or an entry bundle of the published tree.",
        params: &[PathParam {
            name: "tile",
            ty: ParamType::TilePath,
            description: "`<L>/<N>[.p/<W>]` (hash tile) or `entries/<N>[.p/<W>]` (entry bundle), as C2SP tlog-tiles spells them; several path segments",
        }],
        query: Query::None,
        request: Body::None,
        answers: &[Answer {
            status: 200,
            description: "the tile: W (256 for a full tile) hashes of 32 bytes, or W entries of the log, each a big-endian u16 length (32) and the leaf's 32 bytes",
            body: Body::Raw {
                content_type: OCTETS,
                binary: true,
            },
            headers: &[CACHE_FOREVER],
        }],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/log/state",
        operation_id: "get_log_state",
        roles: LOG_OPERATORS,
        summary: "Sequenced, integrated and published sizes.",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Json("LogState"))],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/v1/log/leaves/{index}/inclusion",
        operation_id: "get_inclusion_proof",
        roles: OPEN,
        summary: "Inclusion proof of a leaf in a published tree.",
        params: &[PathParam {
            name: "index",
            ty: ParamType::U32,
            description: "the leaf index",
        }],
        query: Query::Size,
        request: Body::None,
        answers: &[ok(Body::Json("InclusionProof"))],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/log/consistency",
        operation_id: "get_consistency_proof",
        roles: OPEN,
        summary: "Consistency proof between two published sizes.",
        params: &[],
        query: Query::Consistency,
        request: Body::None,
        answers: &[ok(Body::Json("ConsistencyProof"))],
        errors: &[],
    },
    Route {
        method: Method::Post,
        path: "/v1/proofs",
        operation_id: "post_proof",
        roles: &[Role::Sender],
        summary: "Ask for a delivered-within proof of one of the caller's messages.",
        params: &[],
        query: Query::None,
        request: Body::Json("ProofRequest"),
        answers: &[Answer {
            status: 202,
            description: "the job is queued; poll the Location",
            body: Body::Json("Job"),
            headers: &[LOCATION],
        }],
        errors: &[
            ErrorCode::NotFound,
            ErrorCode::NotDelivered,
            ErrorCode::OutsideWindow,
            ErrorCode::NotProvable,
            ErrorCode::NotPublished,
            ErrorCode::TooManyJobs,
            ErrorCode::CallbackRefused,
        ],
    },
    Route {
        method: Method::Get,
        path: "/v1/proofs/{job_id}",
        operation_id: "get_proof_job",
        roles: &[Role::Sender],
        summary: "A proof job of the caller's: state, and bundle and opening when done.",
        params: &[PathParam {
            name: "job_id",
            ty: ParamType::Text,
            description: "the job id",
        }],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Json("Job"))],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/proofs/{job_id}/certificate",
        operation_id: "get_proof_certificate",
        roles: &[Role::Sender],
        summary: "The evidence certificate of a finished proof job of the caller's: a PDF/A-3 \
                  page stating the verified bundle in plain words, with the bundle, its opening \
                  (which names the recipient), checkpoint and time-stamps embedded, sealed by \
                  the service (PAdES).",
        params: &[PathParam {
            name: "job_id",
            ty: ParamType::Text,
            description: "the job id",
        }],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: "application/pdf",
            binary: true,
        })],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/evidence/{ciphertext_sha256}/{event}",
        operation_id: "get_evidence",
        roles: &[Role::Sender, Role::Client],
        summary: "The evidence record (letro-evidence/v1) of one lifecycle event: the sender's, \
                  or the recipient's own receipt or refusal.",
        params: &[
            H_PARAM,
            PathParam {
                name: "event",
                ty: ParamType::LifecycleEvent,
                description: "the event's stable name (SPEC 5.11)",
            },
        ],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: JSON,
            binary: false,
        })],
        errors: &[
            ErrorCode::NotFound,
            ErrorCode::NotProvable,
            ErrorCode::NotPublished,
        ],
    },
    Route {
        method: Method::Get,
        path: "/v1/evidence/{ciphertext_sha256}/{event}/certificate",
        operation_id: "get_evidence_certificate",
        roles: &[Role::Sender, Role::Client],
        summary: "The evidence certificate of one lifecycle event: a PDF/A-3 page stating the \
                  verified evidence record in plain words, with the record, checkpoint and \
                  time-stamps embedded, sealed by the service (PAdES). Same access as the record.",
        params: &[
            H_PARAM,
            PathParam {
                name: "event",
                ty: ParamType::LifecycleEvent,
                description: "the event's stable name (SPEC 5.11)",
            },
        ],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Raw {
            content_type: "application/pdf",
            binary: true,
        })],
        errors: &[
            ErrorCode::NotFound,
            ErrorCode::NotProvable,
            ErrorCode::NotPublished,
        ],
    },
    Route {
        method: Method::Post,
        path: "/v1/admin/tokens",
        operation_id: "issue_token",
        roles: &[Role::Admin],
        summary: "Issue a token (the token is in this answer only); audited.",
        params: &[],
        query: Query::None,
        request: Body::Json("NewToken"),
        answers: &[Answer {
            status: 201,
            description: "issued",
            body: Body::Json("IssuedToken"),
            headers: &[],
        }],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/v1/admin/tokens",
        operation_id: "list_tokens",
        roles: &[Role::Admin],
        summary: "Every token's id, role, subject, expiry and revocation (never the token).",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::JsonList("TokenInfo"))],
        errors: &[],
    },
    Route {
        method: Method::Delete,
        path: "/v1/admin/tokens/{token_id}",
        operation_id: "revoke_token",
        roles: &[Role::Admin],
        summary: "Revoke a token at once; audited.",
        params: &[PathParam {
            name: "token_id",
            ty: ParamType::Text,
            description: "the token's id (16 hex digits)",
        }],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Json("TokenInfo"))],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Get,
        path: "/v1/admin/audit",
        operation_id: "get_audit_log",
        roles: &[Role::Admin],
        summary: "The append-only audit log of admin actions, with its hash chain checked.",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Json("AuditLog"))],
        errors: &[],
    },
    Route {
        method: Method::Put,
        path: "/v1/directory/{account}",
        operation_id: "put_directory_entry",
        roles: &[Role::Client],
        summary: "Publish the caller's prekeys and certified receipt key (replaces the previous).",
        params: &[ACCOUNT_PARAM],
        query: Query::None,
        request: Body::Json("PrekeyUpload"),
        answers: &[ok(Body::Json("Published"))],
        // 409: the receipt key is certified by another account.
        errors: &[ErrorCode::InvalidCertificate, ErrorCode::Conflict],
    },
    Route {
        method: Method::Get,
        path: "/v1/directory/{account}",
        operation_id: "get_prekey_bundle",
        roles: &[Role::Client],
        summary: "An account's prekey bundle, with one one-time prekey handed out once.",
        params: &[ACCOUNT_PARAM],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::Json("PrekeyBundle"))],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Post,
        path: "/v1/messages/{recipient}",
        operation_id: "post_message",
        roles: &[Role::Client],
        summary: "Post an envelope (the raw body) and log its submitted event.",
        params: &[PathParam {
            name: "recipient",
            ty: ParamType::AccountId,
            description: "the recipient's account id",
        }],
        query: Query::None,
        request: Body::Raw {
            content_type: "application/octet-stream",
            binary: true,
        },
        answers: ACCEPTED_EVENT,
        errors: &[
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::OutOfOrder,
            ErrorCode::LogFull,
        ],
    },
    Route {
        method: Method::Get,
        path: "/v1/mailbox",
        operation_id: "get_mailbox",
        roles: &[Role::Client],
        summary: "The caller's waiting envelopes, oldest first (at most 100).",
        params: &[],
        query: Query::None,
        request: Body::None,
        answers: &[ok(Body::JsonList("MailboxItem"))],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/v1/mailbox/{ciphertext_sha256}",
        operation_id: "get_envelope",
        roles: &[Role::Client],
        summary: "One of the caller's envelopes, the exact bytes.",
        params: &[H_PARAM],
        query: Query::None,
        request: Body::None,
        answers: &[Answer {
            headers: &[LETRO_SENDER],
            ..ok(Body::Raw {
                content_type: "application/octet-stream",
                binary: true,
            })
        }],
        errors: &[ErrorCode::NotFound],
    },
    Route {
        method: Method::Post,
        path: "/v1/mailbox/{ciphertext_sha256}/receipt",
        operation_id: "post_ack",
        roles: &[Role::Client],
        summary: "Acknowledge an envelope with a receipt signed by the caller's certified key.",
        params: &[H_PARAM],
        query: Query::None,
        request: Body::Json("AckRequest"),
        answers: ACCEPTED_EVENT,
        errors: ACK_REFUSALS,
    },
    Route {
        method: Method::Post,
        path: "/v1/mailbox/{ciphertext_sha256}/refusal",
        operation_id: "post_refusal",
        roles: &[Role::Client],
        summary: "Refuse an envelope with a statement signed by the caller's certified key.",
        params: &[H_PARAM],
        query: Query::None,
        request: Body::Json("RefusalRequest"),
        answers: ACCEPTED_EVENT,
        errors: ACK_REFUSALS,
    },
];

/// The route with this operation id.
pub fn route(operation_id: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.operation_id == operation_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique_identifiers_and_paths_name_their_parameters() {
        let mut ids = std::collections::BTreeSet::new();
        let mut routes = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(ids.insert(r.operation_id), "{}", r.operation_id);
            assert!(routes.insert((r.method.as_str(), r.path)), "{}", r.path);
            assert!(r
                .operation_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
            let in_path: Vec<&str> = r
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: Vec<&str> = r.params.iter().map(|p| p.name).collect();
            assert_eq!(in_path, declared, "{}", r.path);
            assert!(!r.answers.is_empty());
            assert!(r.answers.iter().all(|a| (200..300).contains(&a.status)));
            assert_eq!(route(r.operation_id), Some(r));
        }
    }
}

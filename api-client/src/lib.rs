//! # letro-api-client
//!
//! A typed async client for the Letro service's HTTP API (service/API.md): one method per route
//! of letro-api's route table ([`letro_api::ROUTES`]), taking and returning letro-api's body
//! types, so that the client, the service, the demo, the tests and the load generator share one
//! definition of every JSON shape.
//!
//! - Paths, methods, request content types and the success statuses of each route come from
//!   the route table ([`paths`]); path parameters are percent-encoded.
//! - A refusal becomes [`Error::Api`] with the stable [`ErrorCode`](letro_api::ErrorCode), the
//!   message and the `Retry-After` seconds; a code this version does not know is kept as text.
//! - Routes that answer 201 for a new event and 200 for a repeat return [`Logged`], which says
//!   which it was.
//! - HTTP/1.1 over reqwest; `https://` with rustls (TLS 1.2 and 1.3, the ring provider) and the
//!   Mozilla root store (`webpki-roots`) plus any CA certificates given to the builder.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use letro_api::bodies::SubmissionRequest;
//! let relay = letro_api_client::Client::new("http://127.0.0.1:8080")?.with_token("relay-token");
//! let logged = relay
//!     .submit(&SubmissionRequest {
//!         ciphertext_sha256: "00".repeat(32),
//!         sender: "bank".into(),
//!         routing: "bob".into(),
//!     })
//!     .await?;
//! println!("index {} ({})", logged.accepted.index, if logged.fresh { "new" } else { "repeat" });
//! # Ok(()) }
//! ```
//!
//! Non-features: no retries (the caller decides, with [`Error::retry_after`]); no redirects
//! followed (the API never redirects); no proxy, from the environment or otherwise; no HTTP/2;
//! no streaming of large envelopes (bodies are read whole); no client certificates.
#![forbid(unsafe_code)]

mod error;
pub mod paths;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use letro_api::bodies::{
    Accepted, AckRequest, AuditLog, ConsistencyProof, ConsistencyQuery, Health, InclusionProof,
    IssuedToken, Job, LogState, MailboxItem, NewToken, ProofRequest, Published, ReceiptRequest,
    RefusalRequest, SizeQuery, SubmissionRequest, TokenInfo,
};
use letro_api::directory::{PrekeyBundle, PrekeyUpload};
use letro_api::routes::{Body, Method, Route, LETRO_SENDER, LOCATION};
use letro_core::statement::CiphertextHash;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::de::DeserializeOwned;

pub use error::{BuildError, Error};
pub use reqwest::StatusCode;

/// The default limit on connecting, TLS included.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default limit on a whole call, from connecting to the last byte of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The answer to a route that logs an event (submission, receipt, envelope, acknowledgement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The event's index and how far it has come.
    pub accepted: Accepted,
    /// `true` when the event was stored by this call (201), `false` when the same event was
    /// stored before (200: a repeat changes nothing).
    pub fresh: bool,
}

/// An envelope from the caller's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sender's account id (the `letro-sender` header).
    pub sender: String,
    /// The exact bytes, whose SHA-256 is the `H` asked for.
    pub bytes: Vec<u8>,
}

/// The answer to `POST /v1/proofs`: the queued job and where to poll it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRequested {
    /// The job, `queued`.
    pub job: Job,
    /// The `Location` header: the job's path (`/v1/proofs/{job_id}`).
    pub location: String,
}

/// Settings for a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    token: Option<String>,
    extra_roots: Vec<CertificateDer<'static>>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
}

impl ClientBuilder {
    /// A client of the service at `base_url` (`http://` or `https://`, optionally with a path
    /// prefix), with the default timeouts and no token.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: None,
            extra_roots: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("letro-api-client/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The limit on a whole call (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The limit on connecting, TLS included (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` (default `letro-api-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Trusts the CA certificates in `pem` (at least one) besides the Mozilla root store, for
    /// a service whose certificate a private CA signed.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, BuildError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(BuildError::CaPem)?;
        if certs.is_empty() {
            return Err(BuildError::NoCaCertificate);
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// [`ClientBuilder::add_root_certificates_pem`] with the contents of `path`.
    pub fn ca_file(self, path: &Path) -> Result<Self, BuildError> {
        let pem = std::fs::read(path).map_err(|source| BuildError::CaFile {
            path: path.to_owned(),
            source,
        })?;
        self.add_root_certificates_pem(&pem)
    }

    /// The client.
    pub fn build(self) -> Result<Client, BuildError> {
        let base = check_base_url(&self.base_url)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(self.extra_roots)?)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(BuildError::Http)?;
        Ok(Client {
            http,
            base: base.into(),
            token: self.token.map(Into::into),
        })
    }
}

fn check_base_url(url: &str) -> Result<String, BuildError> {
    let refuse = |reason| BuildError::BaseUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    if parsed.host().is_none() {
        return Err(refuse("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refuse("a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("credentials in the URL (use a token)"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// rustls with the ring provider, TLS 1.2 and 1.3, the Mozilla roots plus `extra_roots`.
fn tls_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, BuildError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots.add(cert).map_err(BuildError::CaCertificate)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(BuildError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A client of one service, with or without a bearer token. Cloning it is cheap and shares its
/// connections.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<str>,
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// An answer with a status the route lists.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn unexpected(&self, reason: impl Into<String>) -> Error {
        Error::UnexpectedResponse {
            status: self.status,
            reason: reason.into(),
            body_excerpt: error::excerpt(&self.body),
        }
    }

    /// A header's value, when it is present and visible ASCII.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    fn json<T: DeserializeOwned>(&self, schema: &str) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| self.unexpected(format!("the body is not a valid {schema}: {e}")))
    }

    fn text(self) -> Result<String, Error> {
        match String::from_utf8(self.body) {
            Ok(text) => Ok(text),
            Err(e) => Err(Error::UnexpectedResponse {
                status: self.status,
                reason: "the text body is not UTF-8".into(),
                body_excerpt: error::excerpt(e.as_bytes()),
            }),
        }
    }

    fn logged(&self) -> Result<Logged, Error> {
        Ok(Logged {
            accepted: self.json("Accepted")?,
            fresh: self.status == StatusCode::CREATED,
        })
    }
}

/// What a call sends as its body.
enum Payload<'a, T: serde::Serialize + ?Sized> {
    None,
    Json(&'a T),
    Raw(Vec<u8>),
}

/// Type of [`Payload::None`].
type NoBody = ();

fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

impl Client {
    /// A client of the service at `base_url` with the defaults of [`ClientBuilder`].
    pub fn new(base_url: impl Into<String>) -> Result<Self, BuildError> {
        ClientBuilder::new(base_url).build()
    }

    /// Settings for a client of the service at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// This client with `token` as its bearer token (sharing its connections).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into().into()),
            ..self.clone()
        }
    }

    /// This client without a bearer token (sharing its connections).
    pub fn without_token(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Calls the route `operation_id` with path parameters `params`, a query and a payload;
    /// returns the answer if its status is one the route table lists, else the refusal.
    async fn call<Q: serde::Serialize + ?Sized, T: serde::Serialize + ?Sized>(
        &self,
        operation_id: &'static str,
        params: &[&str],
        query: Option<&Q>,
        payload: Payload<'_, T>,
    ) -> Result<Answer, Error> {
        let route: &'static Route = paths::route_of(operation_id)?;
        let url = format!("{}{}", self.base, paths::fill(route, params)?);
        let method = match route.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(query) = query {
            request = request.query(query);
        }
        request = match (payload, route.request) {
            (Payload::None, _) => request,
            (Payload::Json(body), Body::Json(_) | Body::JsonList(_)) => request.json(body),
            (Payload::Raw(bytes), Body::Raw { content_type, .. }) => {
                request.header(CONTENT_TYPE, content_type).body(bytes)
            }
            _ => {
                return Err(Error::Unreachable(
                    "a payload that is not the route's kind of body",
                ))
            }
        };
        let response = request.send().await.map_err(Error::Http)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Error::Http)?.to_vec();
        if let Some(listed) = route.answers.iter().find(|a| a.status == status.as_u16()) {
            let answer = Answer {
                status,
                headers,
                body,
            };
            match listed
                .headers
                .iter()
                .find(|h| answer.header(h.name).is_none())
            {
                Some(missing) => Err(answer.unexpected(format!(
                    "{status} without the {} header the route promises",
                    missing.name
                ))),
                None => Ok(answer),
            }
        } else {
            Err(error::refusal(status, retry_after(&headers), &body))
        }
    }

    async fn no_body(&self, operation_id: &'static str, params: &[&str]) -> Result<Answer, Error> {
        self.call::<NoBody, NoBody>(operation_id, params, None, Payload::None)
            .await
    }

    async fn send_json<T: serde::Serialize + ?Sized>(
        &self,
        operation_id: &'static str,
        params: &[&str],
        body: &T,
    ) -> Result<Answer, Error> {
        self.call::<NoBody, T>(operation_id, params, None, Payload::Json(body))
            .await
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<Health, Error> {
        self.no_body("healthz", &[]).await?.json("Health")
    }

    /// `GET /metrics` (admin): the Prometheus text exposition.
    pub async fn metrics(&self) -> Result<String, Error> {
        self.no_body("get_metrics", &[]).await?.text()
    }

    /// `GET /openapi.json`: the OpenAPI 3.1 document.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        self.no_body("get_openapi", &[])
            .await?
            .json("OpenAPI document")
    }

    /// `POST /v1/submissions` (relay): logs a submitted event.
    pub async fn submit(&self, submission: &SubmissionRequest) -> Result<Logged, Error> {
        self.send_json("post_submission", &[], submission)
            .await?
            .logged()
    }

    /// `POST /v1/receipts` (relay): checks a receipt and logs the delivered event.
    pub async fn post_receipt(&self, receipt: &ReceiptRequest) -> Result<Logged, Error> {
        self.send_json("post_receipt", &[], receipt).await?.logged()
    }

    /// `GET /v1/checkpoint`: the latest signed checkpoint (a C2SP signed note), as sent.
    /// Verify it against a log key pinned out of band.
    pub async fn checkpoint(&self) -> Result<String, Error> {
        self.no_body("get_checkpoint", &[]).await?.text()
    }

    /// `GET /v1/log/checkpoint`: the latest checkpoint at the C2SP tlog-tiles prefix `/v1/log`
    /// (the same note as [`Client::checkpoint`]).
    pub async fn tlog_checkpoint(&self) -> Result<String, Error> {
        self.no_body("get_tlog_checkpoint", &[]).await?.text()
    }

    /// `GET /v1/log/tile/{tile}`: a C2SP tlog-tiles hash tile or entry bundle of the published
    /// tree. A hash tile must be `width` hashes of 32 bytes, and an entry bundle must parse with
    /// at least `width` entries; anything else is an unexpected response. The tile is not
    /// authenticated here: check it against a signed checkpoint (as `letro monitor` does).
    pub async fn tlog_tile(&self, tile: &letro_log::tiles::TilePath) -> Result<Vec<u8>, Error> {
        let name = tile.to_string();
        let answer = self
            .no_body("get_tlog_tile", &[name.trim_start_matches("tile/")])
            .await?;
        let fits = match tile.kind {
            letro_log::tiles::TileKind::Hashes(_) => {
                answer.body.len() == usize::from(tile.width) * 32
            }
            letro_log::tiles::TileKind::Entries => {
                letro_log::tiles::parse_entry_bundle(&answer.body, tile).is_ok()
            }
        };
        if !fits {
            return Err(answer.unexpected("a tile whose size does not fit its path"));
        }
        Ok(answer.body)
    }

    /// `GET /v1/log/key`: the log's verifier key line, as sent. A convenience to compare with
    /// the key pinned out of band, never a trust root.
    pub async fn log_key(&self) -> Result<String, Error> {
        self.no_body("get_log_key", &[]).await?.text()
    }

    /// `GET /v1/log/state` (relay or admin): sequenced, integrated and published sizes.
    pub async fn log_state(&self) -> Result<LogState, Error> {
        self.no_body("get_log_state", &[]).await?.json("LogState")
    }

    /// `GET /v1/log/leaves/{index}/inclusion?size=`: the inclusion proof of leaf `index` in
    /// the tree of `size` (default: the latest checkpoint's).
    pub async fn inclusion_proof(
        &self,
        index: u32,
        size: Option<u64>,
    ) -> Result<InclusionProof, Error> {
        let index = index.to_string();
        self.call::<SizeQuery, NoBody>(
            "get_inclusion_proof",
            &[&index],
            Some(&SizeQuery { size }),
            Payload::None,
        )
        .await?
        .json("InclusionProof")
    }

    /// `GET /v1/log/consistency?old=&new=`: the consistency proof between two published sizes.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, Error> {
        self.call::<ConsistencyQuery, NoBody>(
            "get_consistency_proof",
            &[],
            Some(&ConsistencyQuery { old, new }),
            Payload::None,
        )
        .await?
        .json("ConsistencyProof")
    }

    /// `POST /v1/proofs` (sender): queues a proof job; returns it with its `Location`.
    pub async fn request_proof(&self, request: &ProofRequest) -> Result<ProofRequested, Error> {
        let answer = self.send_json("post_proof", &[], request).await?;
        let job = answer.json("Job")?;
        let location = answer
            .header(LOCATION.name)
            .map(str::to_owned)
            .ok_or_else(|| answer.unexpected("202 without a Location header"))?;
        Ok(ProofRequested { job, location })
    }

    /// `GET /v1/proofs/{job_id}` (sender): a job of the caller's.
    pub async fn proof_job(&self, job_id: &str) -> Result<Job, Error> {
        self.no_body("get_proof_job", &[job_id]).await?.json("Job")
    }

    /// `POST /v1/admin/tokens` (admin): issues a token (shown in this answer only).
    pub async fn issue_token(&self, new: &NewToken) -> Result<IssuedToken, Error> {
        self.send_json("issue_token", &[], new)
            .await?
            .json("IssuedToken")
    }

    /// `GET /v1/admin/tokens` (admin): every token's record.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        self.no_body("list_tokens", &[])
            .await?
            .json("TokenInfo list")
    }

    /// `DELETE /v1/admin/tokens/{token_id}` (admin): revokes a token.
    pub async fn revoke_token(&self, token_id: &str) -> Result<TokenInfo, Error> {
        self.no_body("revoke_token", &[token_id])
            .await?
            .json("TokenInfo")
    }

    /// `GET /v1/admin/audit` (admin): the audit log, its hash chain checked by the service.
    pub async fn audit_log(&self) -> Result<AuditLog, Error> {
        self.no_body("get_audit_log", &[]).await?.json("AuditLog")
    }

    /// `PUT /v1/directory/{account}` (client of `account`): publishes prekeys and the certified
    /// receipt key.
    pub async fn put_directory_entry(
        &self,
        account: &str,
        upload: &PrekeyUpload,
    ) -> Result<Published, Error> {
        self.send_json("put_directory_entry", &[account], upload)
            .await?
            .json("Published")
    }

    /// `GET /v1/directory/{account}` (client): the account's prekey bundle, well-formed JSON
    /// but not validated: call [`PrekeyBundle::validate`] before using it.
    pub async fn prekey_bundle(&self, account: &str) -> Result<PrekeyBundle, Error> {
        self.no_body("get_prekey_bundle", &[account])
            .await?
            .json("PrekeyBundle")
    }

    /// `POST /v1/messages/{recipient}` (client): posts an envelope (raw bytes) and logs its
    /// submitted event.
    pub async fn post_message(
        &self,
        recipient: &str,
        envelope: impl Into<Vec<u8>>,
    ) -> Result<Logged, Error> {
        self.call::<NoBody, NoBody>(
            "post_message",
            &[recipient],
            None,
            Payload::Raw(envelope.into()),
        )
        .await?
        .logged()
    }

    /// `GET /v1/mailbox` (client): the caller's waiting envelopes, oldest first.
    pub async fn mailbox(&self) -> Result<Vec<MailboxItem>, Error> {
        self.no_body("get_mailbox", &[])
            .await?
            .json("MailboxItem list")
    }

    /// `GET /v1/mailbox/{ciphertext_sha256}` (client): the exact envelope bytes and who sent
    /// them. Bytes whose SHA-256 is not `h` are refused as an unexpected answer.
    pub async fn envelope(&self, h: &CiphertextHash) -> Result<Envelope, Error> {
        let answer = self.no_body("get_envelope", &[&h.to_hex()]).await?;
        let sender = answer
            .header(LETRO_SENDER.name)
            .map(str::to_owned)
            .ok_or_else(|| answer.unexpected("an envelope without a readable letro-sender"))?;
        if CiphertextHash::of(&answer.body) != *h {
            return Err(answer.unexpected("the envelope's SHA-256 is not the H asked for"));
        }
        Ok(Envelope {
            sender,
            bytes: answer.body,
        })
    }

    /// `POST /v1/mailbox/{ciphertext_sha256}/receipt` (client): acknowledges an envelope with a
    /// receipt signed by the caller's certified key.
    pub async fn post_ack(&self, h: &CiphertextHash, ack: &AckRequest) -> Result<Logged, Error> {
        self.send_json("post_ack", &[&h.to_hex()], ack)
            .await?
            .logged()
    }

    /// `POST /v1/mailbox/{ciphertext_sha256}/refusal` (client): refuses an envelope with a
    /// statement signed by the caller's certified key (`letro_client::Client::sign_refusal`).
    pub async fn post_refusal(
        &self,
        h: &CiphertextHash,
        refusal: &RefusalRequest,
    ) -> Result<Logged, Error> {
        self.send_json("post_refusal", &[&h.to_hex()], refusal)
            .await?
            .logged()
    }

    /// `GET /v1/evidence/{ciphertext_sha256}/{event}` (sender, or client): the evidence record
    /// of one lifecycle event, checked here to parse as `letro-evidence/v1` for that `H` and
    /// event. It is not verified: `letro_verifier::Verifier::verify_evidence` does that.
    pub async fn evidence(
        &self,
        h: &CiphertextHash,
        event: letro_core::lifecycle::LifecycleEvent,
    ) -> Result<Vec<u8>, Error> {
        let answer = self
            .no_body("get_evidence", &[&h.to_hex(), event.name()])
            .await?;
        match letro_core::evidence::EvidenceRecord::parse(&answer.body) {
            Ok(r) if r.ciphertext_hash == *h && r.facts.event() == event => Ok(answer.body),
            Ok(_) => Err(answer.unexpected("an evidence record of another message or event")),
            Err(e) => Err(answer.unexpected(format!("not an evidence record: {e}"))),
        }
    }

    /// `GET /v1/proofs/{job_id}/certificate` (sender): the sealed PDF/A-3 evidence certificate
    /// of a finished proof job (the bundle with its opening), checked here only to be a PDF.
    pub async fn proof_certificate(&self, job_id: &str) -> Result<Vec<u8>, Error> {
        let answer = self.no_body("get_proof_certificate", &[job_id]).await?;
        if answer.body.starts_with(b"%PDF-") {
            Ok(answer.body)
        } else {
            Err(answer.unexpected("not a PDF"))
        }
    }

    /// `GET /v1/evidence/{ciphertext_sha256}/{event}/certificate` (sender, or client): the
    /// sealed PDF/A-3 evidence certificate of one lifecycle event, checked here only to be a
    /// PDF. `letro-verify` checks the documents it embeds.
    pub async fn evidence_certificate(
        &self,
        h: &CiphertextHash,
        event: letro_core::lifecycle::LifecycleEvent,
    ) -> Result<Vec<u8>, Error> {
        let answer = self
            .no_body("get_evidence_certificate", &[&h.to_hex(), event.name()])
            .await?;
        if answer.body.starts_with(b"%PDF-") {
            Ok(answer.body)
        } else {
            Err(answer.unexpected("not a PDF"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        let c = Client::new("http://127.0.0.1:8080/").unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8080");
        let c = Client::new("https://relay.example/letro/").unwrap();
        assert_eq!(c.base_url(), "https://relay.example/letro");
        for bad in [
            "127.0.0.1:8080",
            "ftp://relay.example/",
            "http://relay.example/?a=b",
            "http://u:p@relay.example/",
            "not a url",
        ] {
            assert!(
                matches!(Client::new(bad), Err(BuildError::BaseUrl { .. })),
                "{bad}"
            );
        }
        let debug = format!("{:?}", c.with_token("secret-token"));
        assert!(!debug.contains("secret-token"), "{debug}");
    }

    #[test]
    fn ca_certificates_must_be_pem_certificates() {
        let b = ClientBuilder::new("https://relay.example");
        assert!(matches!(
            b.clone().add_root_certificates_pem(b"not a certificate\n"),
            Err(BuildError::NoCaCertificate)
        ));
        assert!(matches!(
            b.clone()
                .add_root_certificates_pem(
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                )
                .and_then(ClientBuilder::build),
            Err(BuildError::CaCertificate(_))
        ));
        assert!(matches!(
            b.ca_file(Path::new("/nonexistent/ca.pem")),
            Err(BuildError::CaFile { .. })
        ));
    }

    /// The operation id each method of [`Client`] calls.
    const CALLED: &[&str] = &[
        "healthz",
        "get_metrics",
        "get_openapi",
        "post_submission",
        "post_receipt",
        "get_checkpoint",
        "get_log_key",
        "get_tlog_checkpoint",
        "get_tlog_tile",
        "get_log_state",
        "get_inclusion_proof",
        "get_consistency_proof",
        "post_proof",
        "get_proof_job",
        "issue_token",
        "list_tokens",
        "revoke_token",
        "get_audit_log",
        "put_directory_entry",
        "get_prekey_bundle",
        "post_message",
        "get_mailbox",
        "get_envelope",
        "post_ack",
        "post_refusal",
        "get_evidence",
        "get_evidence_certificate",
        "get_proof_certificate",
    ];

    #[test]
    fn the_client_has_a_method_for_every_route() {
        for id in CALLED {
            assert!(
                letro_api::routes::route(id).is_some(),
                "{id} is not a route"
            );
        }
        for r in letro_api::ROUTES {
            assert!(
                CALLED.contains(&r.operation_id),
                "route {} {} ({}) has no method in letro-api-client: add one",
                r.method,
                r.path,
                r.operation_id
            );
        }
    }
}

//! Every request and response body of the API, one type per JSON shape. The service, the
//! client library, the demo, the tests and the load generator all use these, so a shape is
//! defined once; the OpenAPI document's schemas are generated from them ([`crate::openapi`]).
//!
//! Requests deserialize strictly (unknown members refused). Their values are checked once, by
//! the `check` methods here, into checked types ([`Submission`], [`Receipt`], [`ProofWindow`])
//! with errors that name the member ([`FieldError`], answered with 400 `invalid_request`);
//! what needs the service's state (the receipt key's certificate, the clock) the service
//! checks after.

use letro_core::bundle::{format_time, parse_time};
use letro_core::eddsa::{EddsaError, PublicKey, Signature};
use letro_core::field::{fr_from_decimal, fr_to_decimal};
use letro_core::merkle::{self, DEPTH};
use letro_core::receipt_json::{KeyJsonError, PointJson, SignatureJson, SignatureJsonError};
use letro_core::statement::CiphertextHash;
use letro_core::Fr;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::role::Role;

const HASH_EXAMPLE: &str = "5d41402abc4b2a76b9719d911017c592ae3b8f3a1d3a2b6c7f0e9d8c7b6a5948";

/// A request member that is malformed: its name and what is wrong (400 `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct FieldError {
    /// The member, dotted (`signature.r8.x`).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl FieldError {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// `H` from 64 lowercase hex digits.
pub fn parse_ciphertext_hash(field: &'static str, s: &str) -> Result<CiphertextHash, FieldError> {
    CiphertextHash::from_hex(s)
        .map_err(|e| FieldError::new(field, format!("must be 64 lowercase hex digits: {e}")))
}

/// An account, sender or routing id: 1 to 256 bytes without control characters.
pub fn check_id(field: &'static str, s: &str) -> Result<(), FieldError> {
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must be 1 to 256 bytes without control characters",
        ));
    }
    Ok(())
}

/// A time of SPEC §1.6: exactly `YYYY-MM-DDTHH:MM:SSZ`, as Unix seconds.
pub fn parse_api_time(field: &'static str, s: &str) -> Result<u64, FieldError> {
    parse_time(s).map_err(|e| {
        FieldError::new(
            field,
            format!("must be an RFC 3339 UTC time in whole seconds, YYYY-MM-DDTHH:MM:SSZ: {e}"),
        )
    })
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// `POST /v1/submissions`: a message the relay accepted, to be logged as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    /// `H`, the SHA-256 of the exact envelope, 64 lowercase hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$", example = json!(HASH_EXAMPLE))]
    pub ciphertext_sha256: String,
    /// The sender's account id (1 to 256 bytes, no control characters).
    #[schema(example = "bank")]
    pub sender: String,
    /// The recipient's routing id (1 to 256 bytes, no control characters).
    #[schema(example = "bob")]
    pub routing: String,
}

/// A checked [`SubmissionRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// `H`.
    pub ciphertext_hash: CiphertextHash,
    /// The sender's account id.
    pub sender: String,
    /// The recipient's routing id.
    pub routing: String,
}

impl SubmissionRequest {
    /// Checks every member.
    pub fn check(self) -> Result<Submission, FieldError> {
        let ciphertext_hash = parse_ciphertext_hash("ciphertext_sha256", &self.ciphertext_sha256)?;
        check_id("sender", &self.sender)?;
        check_id("routing", &self.routing)?;
        Ok(Submission {
            ciphertext_hash,
            sender: self.sender,
            routing: self.routing,
        })
    }
}

/// How far an accepted event has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventState {
    /// Durably stored and given its index.
    Sequenced,
    /// In the tree.
    Integrated,
    /// Covered by a signed checkpoint.
    Published,
}

/// The answer to an accepted event (201 new, 200 the same event again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Its log index.
    #[schema(example = 41)]
    pub index: u64,
    /// How far it has come.
    pub state: EventState,
}

/// `POST /v1/receipts`: a delivery receipt the relay forwards. The signed message is
/// `Poseidon(tag_receipt, H_hi, H_lo, t)` (SPEC §5.6; API.md shows it worked through).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// `H`, 64 lowercase hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$", example = json!(HASH_EXAMPLE))]
    pub ciphertext_sha256: String,
    /// `t`, exactly `YYYY-MM-DDTHH:MM:SSZ` (the receipt signs whole Unix seconds).
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        example = "2026-12-02T09:30:00Z"
    )]
    pub delivered_at: String,
    /// The receipt key `A`; one the account the message was routed to certified.
    pub receipt_key: PointJson,
    /// The signature on the receipt message.
    pub signature: SignatureJson,
}

/// `POST /v1/mailbox/{ciphertext_sha256}/receipt`: the recipient's acknowledgement of an
/// envelope in its mailbox (`H` is in the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// `t`, exactly `YYYY-MM-DDTHH:MM:SSZ`.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        example = "2026-12-02T09:30:00Z"
    )]
    pub delivered_at: String,
    /// The receipt key `A`; one the caller certified in the directory.
    pub receipt_key: PointJson,
    /// The signature on the receipt message.
    pub signature: SignatureJson,
}

/// A receipt time that the API's time format cannot carry (after year 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("delivery time {0} is after the largest time a receipt can carry")]
pub struct TimeOutOfRange(pub u64);

/// Why a receipt body is refused before the service looks at its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptProblem {
    /// A malformed member (400 `invalid_request`).
    #[error(transparent)]
    Field(FieldError),
    /// The receipt key is not a point of the prime-order subgroup (422 `invalid_receipt`).
    #[error("receipt_key: {0}")]
    Key(EddsaError),
    /// R8 is off the curve or S is not reduced (422 `invalid_receipt`).
    #[error("signature: {0}")]
    Signature(EddsaError),
}

/// A receipt with every value checked: the signature itself is checked by
/// `letro_core::log::check_receipt`, with the service's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `t`, Unix seconds.
    pub delivered_at: u64,
    /// `A`.
    pub receipt_key: PublicKey,
    /// `(R8, S)`.
    pub signature: Signature,
}

fn check_receipt_parts(
    delivered_at: &str,
    receipt_key: &PointJson,
    signature: &SignatureJson,
) -> Result<Receipt, ReceiptProblem> {
    let delivered_at =
        parse_api_time("delivered_at", delivered_at).map_err(ReceiptProblem::Field)?;
    let receipt_key = receipt_key
        .receipt_key(["receipt_key.x", "receipt_key.y"])
        .map_err(|e| match e {
            KeyJsonError::Coordinate(c) => {
                ReceiptProblem::Field(FieldError::new(c.field, format!("{}", c.source)))
            }
            KeyJsonError::Key(e) => ReceiptProblem::Key(e),
        })?;
    let signature = signature
        .signature(["signature.r8.x", "signature.r8.y", "signature.s"])
        .map_err(|e| match e {
            SignatureJsonError::Coordinate(c) => ReceiptProblem::Field(FieldError::new(
                c.field,
                format!("must be a canonical decimal field element: {}", c.source),
            )),
            SignatureJsonError::S { field, source } => ReceiptProblem::Field(FieldError::new(
                field,
                format!("must be a canonical decimal below 2^256: {source}"),
            )),
            SignatureJsonError::STooLarge { field } => ReceiptProblem::Field(FieldError::new(
                field,
                "must be a canonical decimal below 2^256",
            )),
            SignatureJsonError::Signature(e) => ReceiptProblem::Signature(e),
        })?;
    Ok(Receipt {
        delivered_at,
        receipt_key,
        signature,
    })
}

impl ReceiptRequest {
    /// The receipt for `H` signed at `delivered_at` (Unix seconds).
    pub fn new(
        ciphertext_hash: &CiphertextHash,
        delivered_at: u64,
        receipt_key: &PublicKey,
        signature: &Signature,
    ) -> Result<Self, TimeOutOfRange> {
        let ack = AckRequest::new(delivered_at, receipt_key, signature)?;
        Ok(Self {
            ciphertext_sha256: ciphertext_hash.to_hex(),
            delivered_at: ack.delivered_at,
            receipt_key: ack.receipt_key,
            signature: ack.signature,
        })
    }

    /// Checks every member: `H`, the time (SPEC §1.6), the key (a point of the prime-order
    /// subgroup) and the signature's encoding.
    pub fn check(&self) -> Result<(CiphertextHash, Receipt), ReceiptProblem> {
        let h = parse_ciphertext_hash("ciphertext_sha256", &self.ciphertext_sha256)
            .map_err(ReceiptProblem::Field)?;
        Ok((
            h,
            check_receipt_parts(&self.delivered_at, &self.receipt_key, &self.signature)?,
        ))
    }
}

impl AckRequest {
    /// The acknowledgement of a receipt signed at `delivered_at` (Unix seconds).
    pub fn new(
        delivered_at: u64,
        receipt_key: &PublicKey,
        signature: &Signature,
    ) -> Result<Self, TimeOutOfRange> {
        Ok(Self {
            delivered_at: format_time(delivered_at).ok_or(TimeOutOfRange(delivered_at))?,
            receipt_key: PointJson::from_point(receipt_key.point()),
            signature: SignatureJson::from(signature),
        })
    }

    /// Checks every member, as [`ReceiptRequest::check`] does.
    pub fn check(&self) -> Result<Receipt, ReceiptProblem> {
        check_receipt_parts(&self.delivered_at, &self.receipt_key, &self.signature)
    }
}

/// `POST /v1/mailbox/{ciphertext_sha256}/refusal`: the recipient refuses an envelope in its
/// mailbox, signing `Poseidon(tag_refusal, H_hi, H_lo, t, d)` (SPEC §5.11) with a receipt key
/// it certified; `d` digests the optional reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalRequest {
    /// `t`, exactly `YYYY-MM-DDTHH:MM:SSZ`.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        example = "2026-12-02T09:30:00Z"
    )]
    pub refused_at: String,
    /// Why, in the recipient's words (1 to 512 bytes of UTF-8, no control characters); signed
    /// with the rest. Omitted when the recipient gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 512, example = "not addressed to me")]
    pub reason: Option<String>,
    /// The receipt key `A`; one the caller certified in the directory.
    pub receipt_key: PointJson,
    /// The signature on the refusal message.
    pub signature: SignatureJson,
}

/// A refusal with every value checked but the signature, which
/// `letro_core::lifecycle::check_refusal` checks with the service's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `t`, Unix seconds.
    pub refused_at: u64,
    /// The reason, checked by `letro_core::lifecycle::check_reason`.
    pub reason: Option<String>,
    /// `A`.
    pub receipt_key: PublicKey,
    /// `(R8, S)`.
    pub signature: Signature,
}

impl RefusalRequest {
    /// The refusal signed at `refused_at` (Unix seconds) with `reason`.
    pub fn new(
        refused_at: u64,
        reason: Option<&str>,
        receipt_key: &PublicKey,
        signature: &Signature,
    ) -> Result<Self, TimeOutOfRange> {
        let ack = AckRequest::new(refused_at, receipt_key, signature)?;
        Ok(Self {
            refused_at: ack.delivered_at,
            reason: reason.map(str::to_owned),
            receipt_key: ack.receipt_key,
            signature: ack.signature,
        })
    }

    /// Checks every member: the time, the reason, the key and the signature's encoding.
    pub fn check(&self) -> Result<Refusal, ReceiptProblem> {
        if let Some(reason) = &self.reason {
            letro_core::lifecycle::check_reason(reason)
                .map_err(|e| ReceiptProblem::Field(FieldError::new("reason", e)))?;
        }
        // The time first, so that a bad one is named as this member.
        parse_api_time("refused_at", &self.refused_at).map_err(ReceiptProblem::Field)?;
        let parts = check_receipt_parts(&self.refused_at, &self.receipt_key, &self.signature)?;
        Ok(Refusal {
            refused_at: parts.delivered_at,
            reason: self.reason.clone(),
            receipt_key: parts.receipt_key,
            signature: parts.signature,
        })
    }
}

/// `GET /v1/log/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogState {
    /// Entries durably stored and given an index.
    pub sequenced: u64,
    /// Entries in the tree.
    pub integrated: u64,
    /// Entries covered by the latest signed checkpoint.
    pub published: u64,
}

/// Query of `GET /v1/log/leaves/{index}/inclusion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SizeQuery {
    /// Tree size, at most the published size; default the latest checkpoint's.
    pub size: Option<u64>,
}

/// An inclusion proof in the Poseidon tree, field elements in decimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// Leaf index.
    #[schema(value_type = u64, maximum = 4_294_967_295_u64)]
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

/// A checked [`InclusionProof`]: the leaf, the root it claims, and the path to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedInclusion {
    /// The leaf.
    pub leaf: Fr,
    /// The root the server claims (check the path against a signed checkpoint's root).
    pub root: Fr,
    /// The path.
    pub proof: merkle::InclusionProof,
}

fn field_element(field: &'static str, s: &str) -> Result<Fr, FieldError> {
    fr_from_decimal(s).map_err(|e| FieldError::new(field, format!("is not a field element: {e}")))
}

fn path(index: u32, levels: &[[String; 3]]) -> Result<merkle::InclusionProof, FieldError> {
    if levels.len() != DEPTH {
        return Err(FieldError::new(
            "siblings",
            format!("has {} levels, not {DEPTH}", levels.len()),
        ));
    }
    let mut siblings = [[Fr::from(0u64); 3]; DEPTH];
    for (out, level) in siblings.iter_mut().zip(levels) {
        for (x, s) in out.iter_mut().zip(level) {
            *x = field_element("siblings", s)?;
        }
    }
    Ok(merkle::InclusionProof { index, siblings })
}

fn levels(proof: &merkle::InclusionProof) -> Vec<[String; 3]> {
    proof
        .siblings
        .iter()
        .map(|l| l.map(|x| fr_to_decimal(&x)))
        .collect()
}

impl InclusionProof {
    /// The body of `proof`, the path of `leaf` to `root` in the tree of `size`.
    pub fn new(size: u64, leaf: &Fr, root: &Fr, proof: &merkle::InclusionProof) -> Self {
        Self {
            index: proof.index,
            size,
            leaf: fr_to_decimal(leaf),
            root: fr_to_decimal(root),
            siblings: levels(proof),
        }
    }

    /// Parses the decimals into field elements, refusing a path of the wrong depth. Checking
    /// the path against a root is the caller's (with `proof.verify(leaf, root)`), and the root
    /// must come from a verified checkpoint, not from this body.
    pub fn check(&self) -> Result<CheckedInclusion, FieldError> {
        Ok(CheckedInclusion {
            leaf: field_element("leaf", &self.leaf)?,
            root: field_element("root", &self.root)?,
            proof: path(self.index, &self.siblings)?,
        })
    }
}

/// Query of `GET /v1/log/consistency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// Old size.
    pub old: u64,
    /// New size, at most the published size.
    pub new: u64,
}

/// A consistency proof, field elements in decimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// Old size.
    pub old: u64,
    /// New size.
    pub new: u64,
    /// Leaf `old - 1`, null when `old` is 0.
    pub last_old_leaf: Option<String>,
    /// Its siblings in the tree of size `new`, null when `old` is 0.
    pub siblings: Option<Vec<[String; 3]>>,
}

impl ConsistencyProof {
    /// The body of `proof`, from the tree of size `old` to the tree of size `new`.
    pub fn new(old: u64, new: u64, proof: &merkle::ConsistencyProof) -> Self {
        Self {
            old,
            new,
            last_old_leaf: proof.last_old_leaf.as_ref().map(fr_to_decimal),
            siblings: proof.path.as_ref().map(levels),
        }
    }

    /// Parses the proof into the tree's form. `last_old_leaf` and `siblings` are both present
    /// (when `old` is not 0) or both null; the path is that of leaf `old - 1`.
    pub fn check(&self) -> Result<merkle::ConsistencyProof, FieldError> {
        match (&self.last_old_leaf, &self.siblings, self.old.checked_sub(1)) {
            (None, None, None) => Ok(merkle::ConsistencyProof {
                last_old_leaf: None,
                path: None,
            }),
            (Some(leaf), Some(levels), Some(last)) => {
                let index = u32::try_from(last)
                    .map_err(|_| FieldError::new("old", "is beyond the tree's capacity"))?;
                Ok(merkle::ConsistencyProof {
                    last_old_leaf: Some(field_element("last_old_leaf", leaf)?),
                    path: Some(path(index, levels)?),
                })
            }
            (_, _, None) => Err(FieldError::new(
                "last_old_leaf",
                "and siblings must be null when old is 0",
            )),
            _ => Err(FieldError::new(
                "last_old_leaf",
                "and siblings must both be present when old is not 0",
            )),
        }
    }
}

/// `POST /v1/proofs`: a proof that one of the caller's messages was delivered within a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofRequest {
    /// `H`, 64 lowercase hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$", example = json!(HASH_EXAMPLE))]
    pub ciphertext_sha256: String,
    /// The window's start, `YYYY-MM-DDTHH:MM:SSZ`.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        example = "2026-12-02T00:00:00Z"
    )]
    pub not_before: String,
    /// The window's end, `YYYY-MM-DDTHH:MM:SSZ`.
    #[schema(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        example = "2026-12-02T23:59:59Z"
    )]
    pub not_after: String,
    /// Optional: an `https://` or `http://` URL on a host the service allows, to which the
    /// service POSTs a [`CallbackNotice`] when the job is done or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// A checked [`ProofRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofWindow {
    /// `H`.
    pub ciphertext_hash: CiphertextHash,
    /// The window's start, Unix seconds.
    pub not_before: u64,
    /// The window's end, Unix seconds, not before `not_before`.
    pub not_after: u64,
}

impl ProofRequest {
    /// Checks `H` and the window (the callback URL is the service's policy).
    pub fn check(&self) -> Result<ProofWindow, FieldError> {
        let ciphertext_hash = parse_ciphertext_hash("ciphertext_sha256", &self.ciphertext_sha256)?;
        let not_before = parse_api_time("not_before", &self.not_before)?;
        let not_after = parse_api_time("not_after", &self.not_after)?;
        if not_before > not_after {
            return Err(FieldError::new("not_before", "is later than not_after"));
        }
        Ok(ProofWindow {
            ciphertext_hash,
            not_before,
            not_after,
        })
    }
}

/// The state of a proof job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a prover.
    Queued,
    /// Being proved.
    Running,
    /// Proved: the bundle and opening are in the job.
    Done,
    /// Failed: the error says why.
    Failed,
}

/// The state of a proof job's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallbackState {
    /// Not yet sent, or being retried.
    Pending,
    /// The callback URL answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// Why a proof job failed: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobFailure {
    /// The stable code.
    pub code: JobFailureCode,
    /// What happened, for people; not stable.
    pub message: String,
}

/// The stable code of a failed proof job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobFailureCode {
    /// The prover could not produce a verified bundle (the cause is in the service's log).
    ProofFailed,
    /// The delivery was logged before statement v2 and cannot be proved.
    NotProvable,
}

impl JobFailureCode {
    /// The code as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProofFailed => "proof_failed",
            Self::NotProvable => "not_provable",
        }
    }

    /// The code named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::ProofFailed, Self::NotProvable]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A proof job, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// The job id (32 hex digits).
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015")]
    pub job_id: String,
    /// Its state.
    pub state: JobState,
    /// When failed: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobFailure>,
    /// When done: the bundle document (SPEC §8), as a string; give it to the verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// When done: the opening document, as a string. Secret to the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<String>,
    /// With a callback URL: the callback's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackState>,
}

/// What the service POSTs to a proof job's callback URL when the job is done or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallbackNotice {
    /// The job.
    pub job_id: String,
    /// `done` or `failed`; fetch the job for the rest.
    pub state: JobState,
}

/// What the service POSTs to a sender's delivery callback (setting `[[delivery_callback]]`)
/// when one of its deliveries reaches its final state (SPEC §5.11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryNotice {
    /// `H`, 64 lowercase hex digits.
    pub ciphertext_sha256: String,
    /// The final event: `retrieved`, `refused`, `expired` or `submission-rejected`.
    pub event: String,
    /// Its ETSI EN 319 522 `ERDSEventId` URI.
    pub etsi_event: String,
    /// Its index in the log.
    pub index: u64,
    /// Where the sender downloads the event's evidence record with its own token, once a
    /// checkpoint covers it: `/v1/evidence/{ciphertext_sha256}/{event}`.
    pub evidence: String,
}

/// `POST /v1/admin/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The role.
    #[schema(value_type = Role)]
    pub role: String,
    /// Who holds it: the sender's account id for a sender token, the account for a client
    /// token. 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-', '@'.
    #[schema(example = "bank")]
    pub subject: String,
    /// Lifetime in seconds, 1 to 400 days.
    #[schema(example = 2_592_000, minimum = 1, maximum = 34_560_000)]
    pub ttl_seconds: u64,
}

/// A token as the admin routes show it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// Its id (the first 8 bytes of its hash, hex).
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Its subject.
    pub subject: String,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// Revocation time, RFC 3339, if revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// The answer to `POST /v1/admin/tokens`: the token, shown this once, and its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    /// The bearer token. It cannot be recovered later.
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// `GET /v1/admin/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditLog {
    /// `ok`, or why the hash chain does not hold.
    pub chain: String,
    /// Every entry, oldest first.
    pub entries: Vec<AuditEntry>,
}

/// An audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Position from 1.
    pub seq: u64,
    /// When, RFC 3339.
    pub time: String,
    /// Who.
    pub actor: String,
    /// What (`token.issue`, `token.revoke`).
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok` or an error code.
    pub outcome: String,
    /// The chained hash, hex.
    pub hash: String,
}

/// The answer to a directory upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Published {
    /// The account.
    pub account: String,
    /// One-time prekeys now available.
    pub one_time_prekeys: u64,
    /// SHA-256 of the packed receipt key, hex: what `letro-verify --opening` prints.
    pub receipt_key_fingerprint: String,
}

/// One envelope in a mailbox listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailboxItem {
    /// `H`, hex.
    pub ciphertext_sha256: String,
    /// The sending account.
    pub sender: String,
    /// When the relay accepted it, RFC 3339.
    pub received_at: String,
}

#[cfg(test)]
mod tests {
    use letro_core::eddsa::PrivateKey;
    use letro_core::statement::receipt_message;

    use super::*;

    fn receipt() -> (CiphertextHash, u64, PrivateKey, ReceiptRequest) {
        let sk = PrivateKey::from_bytes([9; 32]);
        let h = CiphertextHash::of(b"envelope");
        let t = 1_764_000_000;
        let sig = sk.sign(&receipt_message(&h, t));
        let body = ReceiptRequest::new(&h, t, &sk.public_key(), &sig).unwrap();
        (h, t, sk, body)
    }

    fn tree(n: u64) -> merkle::MerkleTree {
        let mut t = merkle::MerkleTree::new();
        for i in 0..n {
            t.append(Fr::from(i + 7)).unwrap();
        }
        t
    }

    #[test]
    fn log_proofs_round_trip_and_verify() {
        let t = tree(6);
        let body = InclusionProof::new(6, &t.leaf(4).unwrap(), &t.root(), &t.proof(4).unwrap());
        let text = serde_json::to_string(&body).unwrap();
        let back: InclusionProof = serde_json::from_str(&text).unwrap();
        let c = back.check().unwrap();
        assert_eq!((c.leaf, c.root), (Fr::from(11u64), t.root()));
        assert_eq!(c.proof.verify(c.leaf, t.root()), Ok(()));
        assert!(c.proof.verify(Fr::from(12u64), t.root()).is_err());

        let old = t.root_at(4).unwrap();
        for k in [0, 4] {
            let body = ConsistencyProof::new(k, 6, &t.consistency_proof_between(k, 6).unwrap());
            let back: ConsistencyProof =
                serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
            let p = back.check().unwrap();
            let old = if k == 0 {
                merkle::MerkleTree::new().root()
            } else {
                old
            };
            assert_eq!(p.verify(k, old, 6, t.root()), Ok(()), "old {k}");
        }
    }

    #[test]
    fn malformed_log_proofs_are_refused() {
        let t = tree(3);
        let good = InclusionProof::new(3, &t.leaf(1).unwrap(), &t.root(), &t.proof(1).unwrap());
        let mut short = good.clone();
        short.siblings.pop();
        assert_eq!(short.check().unwrap_err().field, "siblings");
        let mut long = good.clone();
        long.siblings.push(long.siblings[0].clone());
        assert_eq!(long.check().unwrap_err().field, "siblings");
        // The field modulus itself is not an element; neither is a non-decimal.
        let p = "21888242871839275222246405745257275088548364400416711490560000000000000000001";
        for (bad, field) in [(p, "leaf"), ("0x1", "leaf"), ("", "leaf")] {
            let mut b = good.clone();
            b.leaf = bad.into();
            assert_eq!(b.check().unwrap_err().field, field, "{bad:?}");
        }
        let mut b = good.clone();
        b.root = "-1".into();
        assert_eq!(b.check().unwrap_err().field, "root");
        let mut b = good.clone();
        b.siblings[5][2] = "01".into();
        assert_eq!(b.check().unwrap_err().field, "siblings");

        let c = ConsistencyProof::new(2, 3, &t.consistency_proof_between(2, 3).unwrap());
        let mut no_leaf = c.clone();
        no_leaf.last_old_leaf = None;
        assert!(no_leaf.check().is_err());
        let mut no_path = c.clone();
        no_path.siblings = None;
        assert!(no_path.check().is_err());
        let mut from_empty = c.clone();
        from_empty.old = 0;
        assert!(from_empty.check().is_err());
        let mut huge = c;
        huge.old = 1 << 40;
        assert_eq!(huge.check().unwrap_err().field, "old");
    }

    #[test]
    fn a_receipt_round_trips_and_checks() {
        let (h, t, sk, body) = receipt();
        let text = serde_json::to_string(&body).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["delivered_at"], "2025-11-24T16:00:00Z");
        let back: ReceiptRequest = serde_json::from_str(&text).unwrap();
        let (h2, r) = back.check().unwrap();
        assert_eq!(h2, h);
        assert_eq!(r.delivered_at, t);
        assert_eq!(r.receipt_key, sk.public_key());
        assert_eq!(
            r.receipt_key.verify(&receipt_message(&h, t), &r.signature),
            Ok(())
        );
        let ack = AckRequest::new(t, &sk.public_key(), &sig_of(&body)).unwrap();
        assert_eq!(ack.check().unwrap(), r);
    }

    fn sig_of(body: &ReceiptRequest) -> Signature {
        body.signature.signature(["r8.x", "r8.y", "s"]).unwrap()
    }

    #[test]
    fn each_refusal_names_its_member() {
        let (_, _, sk, body) = receipt();
        let field = |b: &ReceiptRequest| match b.check() {
            Err(ReceiptProblem::Field(f)) => f.field,
            other => panic!("{other:?}"),
        };
        let mut b = body.clone();
        b.ciphertext_sha256 = "AB".into();
        assert_eq!(field(&b), "ciphertext_sha256");
        // SPEC §1.6: a fraction or an offset other than Z is refused, as in the documents.
        for bad in [
            "2025-11-24T16:00:00.5Z",
            "2025-11-24T17:00:00+01:00",
            "2025-11-24 16:00:00Z",
        ] {
            let mut b = body.clone();
            b.delivered_at = bad.into();
            assert_eq!(field(&b), "delivered_at", "{bad}");
        }
        let mut b = body.clone();
        b.receipt_key.x = "01".into();
        assert_eq!(field(&b), "receipt_key.x");
        let mut b = body.clone();
        b.signature.s = "-1".into();
        assert_eq!(field(&b), "signature.s");
        let mut b = body.clone();
        b.signature.s = "9".repeat(78);
        assert_eq!(field(&b), "signature.s");
        let mut b = body.clone();
        b.receipt_key = PointJson {
            x: "1".into(),
            y: "1".into(),
        };
        assert!(matches!(b.check(), Err(ReceiptProblem::Key(_))));
        let mut b = body;
        b.signature.r8.x = "1".into();
        assert!(matches!(b.check(), Err(ReceiptProblem::Signature(_))));
        assert_eq!(
            AckRequest::new(u64::MAX, &sk.public_key(), &sk.sign(&1u64.into())),
            Err(TimeOutOfRange(u64::MAX))
        );
        let mut v = serde_json::to_value(receipt().3).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ReceiptRequest>(v).is_err());
    }

    #[test]
    fn a_proof_window_is_checked() {
        let ok = ProofRequest {
            ciphertext_sha256: "00".repeat(32),
            not_before: "2026-12-02T00:00:00Z".into(),
            not_after: "2026-12-02T23:59:59Z".into(),
            callback_url: None,
        };
        let w = ok.check().unwrap();
        assert_eq!(w.not_after - w.not_before, 86_399);
        let mut bad = ok.clone();
        bad.not_after = "2026-12-01T00:00:00Z".into();
        assert_eq!(bad.check().unwrap_err().field, "not_before");
        let mut bad = ok;
        bad.not_before = "2026-12-02T00:00:00.000Z".into();
        assert_eq!(bad.check().unwrap_err().field, "not_before");
        let s = SubmissionRequest {
            ciphertext_sha256: "00".repeat(32),
            sender: "bank".into(),
            routing: "r\n".into(),
        };
        assert_eq!(s.check().unwrap_err().field, "routing");
    }
}

//! Strict JSON codecs for the three documents of a proof of delivery:
//!
//! - the **bundle** ([`Bundle`], [`ParsedBundle`]): the statement, the signed checkpoint and
//!   the Groth16 proof, which a third party verifies. Version 2 (`letro-bundle/v2`, statement
//!   `delivered-within/v2`) is written; version 1 is still parsed so that v1 evidence stays
//!   verifiable;
//! - the **opening** ([`Opening`]): the private receipt key and blinding behind the
//!   statement's recipient commitment, which the sender may show a court; v2 always carries the
//!   receipt-key certificate, v1 may not;
//! - the **delivery record** v2 ([`DeliveryRecord`]): the service's record of a delivery, with
//!   the per-event secret, the input of `letro prove`.
//!
//! # Encoding rules (all three documents)
//!
//! - A document is one UTF-8 JSON object of at most [`MAX_DOCUMENT_LEN`] bytes (1 MiB); larger
//!   input is rejected before it is parsed, with its own error.
//! - Whitespace may surround the object; anything else after it is rejected.
//! - Every object (the document and each nested object) must be a JSON object (not an array of
//!   its members), have every key listed for it (including `receipt_key_certificate`, which is
//!   `null` or an object), and no other key, each key once.
//! - `version` is checked first: a document of another version is reported as such
//!   (`UnsupportedVersion`) even if its members differ.
//! - Field elements (BN254 scalars) are canonical decimal strings, as snarkjs prints them:
//!   digits only, no leading zero, below the modulus. Never JSON numbers.
//! - SHA-256 values are 64 lowercase hex characters.
//! - Times are RFC 3339 UTC in exactly the form `YYYY-MM-DDTHH:MM:SSZ` (no offset, no
//!   fraction, upper-case `T` and `Z`, no leap second), from 1970 to 9999, and stand for Unix
//!   seconds.
//! - Points are `{"x": dec, "y": dec}` in circomlib's Baby Jubjub coordinates.
//! - Base64 is standard, padded and canonical (no stray bits).
//!
//! Encoding is canonical: `serde_json`'s pretty form (two-space indent, members in the order
//! shown below) followed by one newline. `parse(encode(x)) == x`, and `encode(parse(b))` is the
//! canonical form of `b`.
//!
//! # Bundle v2 (v1 is identical with `1` for `2` in both version strings)
//!
//! ```json
//! {
//!   "version": "letro-bundle/v2",
//!   "statement": {
//!     "id": "delivered-within/v2",
//!     "ciphertext_sha256": "<64 hex>",
//!     "not_before": "2025-11-27T00:00:00Z",
//!     "not_after": "2025-11-27T02:00:00Z",
//!     "recipient_commitment": "<dec>",
//!     "log_root": "<dec>"
//!   },
//!   "checkpoint": "<C2SP signed checkpoint note>",
//!   "proof": "<base64 of 128 bytes: A (G1, 32) || B (G2, 64) || C (G1, 32), arkworks compressed>",
//!   "verifying_key_sha256": "<64 hex>"
//! }
//! ```
//!
//! The codec checks encodings only. It does not verify the checkpoint's signatures, that its
//! root equals `log_root`, nor the proof: that is the verifier's job. A window with
//! `not_before > not_after` parses (no proof can satisfy it). Groth16 proofs are
//! re-randomisable: never use the proof bytes as an identifier.
//!
//! # Opening v2 (v1: `1` for `2`, and the certificate may be `null`)
//!
//! ```json
//! {
//!   "version": "letro-opening/v2",
//!   "statement_id": "delivered-within/v2",
//!   "ciphertext_sha256": "<64 hex>",
//!   "recipient_commitment": "<dec>",
//!   "receipt_key": { "x": "<dec>", "y": "<dec>" },
//!   "blinding": "<dec>",
//!   "receipt_key_certificate": { "identity_key": "<base64>", "signature": "<base64>" }
//! }
//! ```
//!
//! `receipt_key_certificate` is (v1 only: `null` or)
//! `{"identity_key": "<base64 of 33 bytes: 0x05 || X25519 key>", "signature": "<base64 of 64
//! bytes>"}`: an XEdDSA signature by the recipient's Signal identity key over
//! [`certificate_message`] (derived from the receipt key, so not stored). This crate does not
//! verify XEdDSA. The receipt key must be on the curve and not of small order.
//!
//! # Delivery record v2
//!
//! ```json
//! {
//!   "version": "letro-record/v2",
//!   "ciphertext_sha256": "<64 hex>",
//!   "delivered_at": "2025-11-27T00:00:00Z",
//!   "receipt_key": { "x": "<dec>", "y": "<dec>" },
//!   "receipt_signature": { "r8": { "x": "<dec>", "y": "<dec>" }, "s": "<dec, below l>" },
//!   "blinding": "<dec>",
//!   "event_secret": "<dec>",
//!   "leaf_index": 5,
//!   "siblings": [["<dec>", "<dec>", "<dec>"], "... 16 levels, from the leaves up"],
//!   "checkpoint": "<C2SP signed checkpoint note>",
//!   "receipt_key_certificate": { "identity_key": "<base64>", "signature": "<base64>" }
//! }
//! ```
//!
//! `leaf_index` is a JSON integer below 2^32; each level of `siblings` lists the three other
//! children in ascending position order ([`crate::merkle`]).

pub(crate) mod codec;
mod opening;
mod proof;
mod record;

#[cfg(test)]
mod tests;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub use codec::{format_time, parse_time, TimeError, MAX_DOCUMENT_LEN, MAX_TIME, MAX_TIMESTAMPS};
pub use opening::{
    certificate_message, CertificateError, Opening, OpeningError, OpeningParseError,
    ReceiptKeyCertificate, CERTIFICATE_CONTEXT, IDENTITY_KEY_TYPE, OPENING_VERSION,
    OPENING_VERSION_V1,
};
pub use proof::{PointRejection, ProofPointError, ProofPoints, PROOF_LEN};
pub use record::{DeliveryRecord, RecordError, RecordStatementError, RECORD_VERSION};

use crate::eddsa::EddsaError;
use crate::field::{fr_from_decimal, fr_to_decimal, hex32_from_str, FieldError};
use crate::statement::{CiphertextHash, DeliveredWithin, StatementVersion};
use codec::{map_only, FrontError};
use letro_log::checkpoint::{CheckpointParseError, SignedCheckpoint};

/// The `version` of the bundle written today (`letro-bundle/v2`, for `delivered-within/v2`).
pub const BUNDLE_VERSION: &str = "letro-bundle/v2";
/// The `version` of the first bundle (`letro-bundle/v1`, for `delivered-within/v1`), still
/// parsed and verified.
pub const BUNDLE_VERSION_V1: &str = "letro-bundle/v1";

/// Why bytes are not a well-formed bundle (v1 or v2). Variants are listed in the order the checks run;
/// the first failing check is reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The input is larger than [`MAX_DOCUMENT_LEN`] (1 MiB); it was not parsed.
    #[error("bundle is {len} bytes, more than the limit of 1 MiB")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not one JSON object of the bundle's shape: a syntax error, invalid UTF-8, data after
    /// the object, a duplicate or unknown key, a missing key, or a value of the wrong JSON type.
    #[error("bundle is not valid json of the expected shape: {0}")]
    Json(String),
    /// `version` is neither `letro-bundle/v1` nor `letro-bundle/v2`.
    #[error("unsupported bundle version {0:?}")]
    UnsupportedVersion(String),
    /// `statement.id` is not the statement of the bundle's version (`delivered-within/v1` in a
    /// v1 bundle, `delivered-within/v2` in a v2 bundle).
    #[error("unknown statement {0:?}")]
    UnknownStatement(String),
    /// `statement.ciphertext_sha256` is not 64 lowercase hex characters.
    #[error("statement.ciphertext_sha256 is not 64 lowercase hex characters")]
    CiphertextHash,
    /// A time is not `YYYY-MM-DDTHH:MM:SSZ`, not a valid date, or before 1970.
    #[error("{field} is not a valid time")]
    Time {
        /// `statement.not_before` or `statement.not_after`.
        field: &'static str,
        /// Why.
        reason: TimeError,
    },
    /// A field element is not a canonical decimal below the BN254 scalar modulus.
    #[error("{field} is not a canonical field element")]
    FieldElement {
        /// `statement.recipient_commitment` or `statement.log_root`.
        field: &'static str,
        /// Why.
        source: FieldError,
    },
    /// `checkpoint` is not a well-formed signed checkpoint (its signatures are not checked
    /// here).
    #[error("checkpoint is malformed")]
    Checkpoint(#[source] CheckpointParseError),
    /// `proof` is not canonical padded standard base64, or does not decode to exactly
    /// [`PROOF_LEN`] bytes.
    #[error("proof is not canonical base64 of exactly 128 bytes")]
    ProofEncoding {
        /// The decoded length, or `None` if the base64 itself is invalid.
        len: Option<usize>,
    },
    /// A proof point is off the curve, outside the prime-order subgroup, the identity, or not
    /// canonically encoded.
    #[error("proof point {which} {reason}")]
    ProofPoint {
        /// `"a"`, `"b"` or `"c"`.
        which: &'static str,
        /// Why.
        reason: PointRejection,
    },
    /// `verifying_key_sha256` is not 64 lowercase hex characters.
    #[error("verifying_key_sha256 is not 64 lowercase hex characters")]
    VerifyingKeyHash,
    /// `timestamps` is not a list of base64 time-stamp tokens of their size.
    #[error("timestamps: {0}")]
    Timestamps(String),
}

impl From<FrontError> for BundleError {
    fn from(e: FrontError) -> Self {
        match e {
            FrontError::TooLarge { len } => Self::TooLarge { len },
            FrontError::Json(m) => Self::Json(m),
            FrontError::UnsupportedVersion(v) => Self::UnsupportedVersion(v),
        }
    }
}

/// Why a document could not be encoded (its values would not parse back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A time is after [`MAX_TIME`] (9999-12-31T23:59:59Z) and has no RFC 3339 form.
    #[error("{field} = {value} is after 9999-12-31T23:59:59Z")]
    Time {
        /// The member.
        field: &'static str,
        /// The Unix time.
        value: u64,
    },
    /// The checkpoint text is not a well-formed signed checkpoint.
    #[error("checkpoint is malformed")]
    Checkpoint(#[source] CheckpointParseError),
    /// A proof point is not valid.
    #[error("invalid proof")]
    ProofPoint(#[source] ProofPointError),
    /// The receipt signature's R8 is off the curve.
    #[error("receipt signature is malformed")]
    ReceiptSignature(#[source] EddsaError),
}

/// A well-formed bundle: every encoding checked, nothing verified.
///
/// The verifier still has to check the checkpoint's signatures, that its root is
/// `statement.log_root`, the verifying-key hash against its pinned key, and the proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBundle {
    /// The statement's version (from `version` and `statement.id`, which must agree).
    pub version: StatementVersion,
    /// The public statement.
    pub statement: DeliveredWithin,
    /// The signed checkpoint, parsed but NOT verified.
    pub checkpoint: SignedCheckpoint,
    /// The Groth16 proof.
    pub proof: ProofPoints,
    /// SHA-256 of the verifying key the proof is for.
    pub verifying_key_sha256: [u8; 32],
    /// RFC 3161 time-stamp tokens over the checkpoint's body (DER), NOT verified.
    pub timestamps: Vec<Vec<u8>>,
}

/// The bundle codec (a namespace: [`Bundle::parse`], [`Bundle::encode`]). See the
/// [module documentation](self) for the format.
#[derive(Debug)]
pub enum Bundle {}

#[derive(Deserialize)]
struct StatementPeek {
    id: Option<String>,
}

#[derive(Deserialize)]
struct BundlePeek {
    #[serde(default, deserialize_with = "codec::opt_map_only")]
    statement: Option<StatementPeek>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementWire {
    id: String,
    ciphertext_sha256: String,
    not_before: String,
    not_after: String,
    recipient_commitment: String,
    log_root: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleWire {
    version: String,
    #[serde(deserialize_with = "map_only")]
    statement: StatementWire,
    checkpoint: String,
    proof: String,
    verifying_key_sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    timestamps: Vec<String>,
}

impl Bundle {
    /// Parses a bundle (v1 or v2) strictly. Checks, in order (each with its [`BundleError`] variant):
    /// size; JSON syntax and trailing data; `version`; `statement.id`; the exact shape (keys,
    /// JSON types); `ciphertext_sha256`; `not_before`, `not_after`; `recipient_commitment`,
    /// `log_root`; `checkpoint`; `proof` base64 and length; proof points A, B, C;
    /// `verifying_key_sha256`.
    pub fn parse(bytes: &[u8]) -> Result<ParsedBundle, BundleError> {
        let versions = StatementVersion::ALL.map(StatementVersion::bundle_version);
        let version = codec::check_front_versions(bytes, &versions)?;
        let version = StatementVersion::ALL
            .get(version)
            .copied()
            .unwrap_or(StatementVersion::CURRENT);
        let peek: BundlePeek = codec::parse_json(bytes).map_err(BundleError::Json)?;
        if let Some(id) = peek.statement.and_then(|s| s.id) {
            if id != version.statement_id() {
                return Err(BundleError::UnknownStatement(id));
            }
        }
        let w: BundleWire = codec::parse_json(bytes).map_err(BundleError::Json)?;
        let s = &w.statement;
        let ciphertext_hash = CiphertextHash::from_hex(&s.ciphertext_sha256)
            .map_err(|_| BundleError::CiphertextHash)?;
        let time = |field: &'static str, v: &str| {
            codec::parse_time(v).map_err(|reason| BundleError::Time { field, reason })
        };
        let not_before = time("statement.not_before", &s.not_before)?;
        let not_after = time("statement.not_after", &s.not_after)?;
        let fe = |field: &'static str, v: &str| {
            fr_from_decimal(v).map_err(|source| BundleError::FieldElement { field, source })
        };
        let recipient_commitment = fe("statement.recipient_commitment", &s.recipient_commitment)?;
        let log_root = fe("statement.log_root", &s.log_root)?;
        let checkpoint = SignedCheckpoint::parse(&w.checkpoint).map_err(BundleError::Checkpoint)?;
        let proof_bytes = STANDARD
            .decode(&w.proof)
            .map_err(|_| BundleError::ProofEncoding { len: None })?;
        let proof_bytes: &[u8; PROOF_LEN] =
            proof_bytes
                .as_slice()
                .try_into()
                .map_err(|_| BundleError::ProofEncoding {
                    len: Some(proof_bytes.len()),
                })?;
        let proof = ProofPoints::from_bytes(proof_bytes).map_err(|e| BundleError::ProofPoint {
            which: e.which,
            reason: e.reason,
        })?;
        let verifying_key_sha256 =
            hex32_from_str(&w.verifying_key_sha256).map_err(|_| BundleError::VerifyingKeyHash)?;
        let timestamps =
            codec::timestamps_from_wire(&w.timestamps).map_err(BundleError::Timestamps)?;
        Ok(ParsedBundle {
            version,
            statement: DeliveredWithin {
                ciphertext_hash,
                not_before,
                not_after,
                recipient_commitment,
                log_root,
            },
            checkpoint,
            proof,
            verifying_key_sha256,
            timestamps,
        })
    }

    /// Encodes a bundle of the current version (v2) canonically (pretty JSON, final newline).
    ///
    /// Fails, rather than write a bundle that would not parse, if a time is after
    /// [`MAX_TIME`], `checkpoint_text` is not a well-formed signed checkpoint, or a proof point
    /// is invalid (see [`ProofPoints::validate`]).
    pub fn encode(
        statement: &DeliveredWithin,
        checkpoint_text: &str,
        proof: &ProofPoints,
        verifying_key_sha256: &[u8; 32],
        timestamps: &[Vec<u8>],
    ) -> Result<String, EncodeError> {
        SignedCheckpoint::parse(checkpoint_text).map_err(EncodeError::Checkpoint)?;
        proof.validate().map_err(EncodeError::ProofPoint)?;
        encode_unchecked(
            StatementVersion::CURRENT,
            statement,
            checkpoint_text,
            proof,
            verifying_key_sha256,
            timestamps,
        )
    }
}

/// [`Bundle::encode`] without re-checking the checkpoint and proof.
fn encode_unchecked(
    version: StatementVersion,
    statement: &DeliveredWithin,
    checkpoint_text: &str,
    proof: &ProofPoints,
    verifying_key_sha256: &[u8; 32],
    timestamps: &[Vec<u8>],
) -> Result<String, EncodeError> {
    let time = |field: &'static str, value: u64| {
        format_time(value).ok_or(EncodeError::Time { field, value })
    };
    let wire = BundleWire {
        version: version.bundle_version().to_owned(),
        statement: StatementWire {
            id: version.statement_id().to_owned(),
            ciphertext_sha256: statement.ciphertext_hash.to_hex(),
            not_before: time("statement.not_before", statement.not_before)?,
            not_after: time("statement.not_after", statement.not_after)?,
            recipient_commitment: fr_to_decimal(&statement.recipient_commitment),
            log_root: fr_to_decimal(&statement.log_root),
        },
        checkpoint: checkpoint_text.to_owned(),
        proof: STANDARD.encode(proof.to_bytes()),
        verifying_key_sha256: hex::encode(verifying_key_sha256),
        timestamps: codec::timestamps_to_wire(timestamps),
    };
    Ok(codec::to_canonical(&wire))
}

impl ParsedBundle {
    /// Same as [`Bundle::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        Bundle::parse(bytes)
    }

    /// The canonical encoding; `Bundle::parse(&b.encode()?)` gives `b` back.
    ///
    /// Fails only for values a parse cannot produce (a time after [`MAX_TIME`], an invalid
    /// proof point).
    pub fn encode(&self) -> Result<String, EncodeError> {
        self.proof.validate().map_err(EncodeError::ProofPoint)?;
        encode_unchecked(
            self.version,
            &self.statement,
            &self.checkpoint_text(),
            &self.proof,
            &self.verifying_key_sha256,
            &self.timestamps,
        )
    }

    /// The signed checkpoint as note text, byte for byte as it was in the bundle.
    pub fn checkpoint_text(&self) -> String {
        signed_checkpoint_text(&self.checkpoint)
    }
}

/// The text of a signed checkpoint note: the note text, a blank line, then one
/// `— <name> <base64(key id || signature)>` line per signature.
///
/// Note parsing is strict (canonical base64, one blank line before the signatures, nothing
/// after), so this gives back exactly the bytes that were parsed.
pub fn signed_checkpoint_text(checkpoint: &SignedCheckpoint) -> String {
    let note = checkpoint.note();
    let mut out = String::with_capacity(note.unverified_text().len() + 128);
    out.push_str(note.unverified_text());
    out.push('\n');
    for sig in note.signatures() {
        let mut blob = Vec::with_capacity(4 + sig.signature().len());
        blob.extend_from_slice(&sig.key_id().to_bytes());
        blob.extend_from_slice(sig.signature());
        out.push_str("\u{2014} ");
        out.push_str(sig.name());
        out.push(' ');
        out.push_str(&STANDARD.encode(blob));
        out.push('\n');
    }
    out
}

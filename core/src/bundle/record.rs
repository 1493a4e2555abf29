//! The delivery record v2: what the relay's service knows about one delivery (the per-event
//! secret and the receipt-key certificate included), the input of `letro prove`. Records are
//! never given to third parties. v1 records (non-hiding leaves, optional certificate) are no
//! longer accepted: the v2 circuit cannot prove them.

use serde::{Deserialize, Serialize};

use super::codec::{self, format_time, map_only, CertificateWire, FrontError, TimeError};
use super::opening::{CertificateError, Opening, ReceiptKeyCertificate};
use super::EncodeError;
use crate::babyjubjub;
use crate::eddsa::{EddsaError, Signature};
use crate::field::{fr_from_be_bytes, fr_from_decimal, fr_to_decimal, FieldError};
use crate::merkle::{InclusionProof, DEPTH};
use crate::receipt_json::{KeyJsonError, PointJson, SignatureJson, SignatureJsonError};
use crate::statement::{recipient_commitment, CiphertextHash, DeliveredWithin, DeliveryWitness};
use crate::Fr;
use letro_log::checkpoint::{CheckpointParseError, SignedCheckpoint};

/// The `version` of a delivery record.
pub const RECORD_VERSION: &str = "letro-record/v2";

/// Why bytes are not a well-formed delivery record v1. Variants are listed in the order the
/// checks run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The document is larger than [`super::MAX_DOCUMENT_LEN`].
    #[error("delivery record is {len} bytes, more than the limit of 1 MiB")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not one JSON object of the record's shape: a syntax error, trailing data, a duplicate
    /// or unknown key, a missing key, a value of the wrong JSON type (a `leaf_index` that is
    /// not a non-negative JSON integer below 2^64 included).
    #[error("delivery record is not valid json of the expected shape: {0}")]
    Json(String),
    /// `version` is not `letro-record/v1`.
    #[error("unsupported delivery record version {0:?}")]
    UnsupportedVersion(String),
    /// `ciphertext_sha256` is not 64 lowercase hex characters.
    #[error("ciphertext_sha256 is not 64 lowercase hex characters")]
    CiphertextHash,
    /// `delivered_at` is not an RFC 3339 UTC time `YYYY-MM-DDTHH:MM:SSZ` from 1970 on.
    #[error("{field} is not a valid time")]
    Time {
        /// The member (`delivered_at`).
        field: &'static str,
        /// Why.
        reason: TimeError,
    },
    /// A decimal is not canonical (leading zero, sign, not below the field modulus).
    #[error("{field} is not a canonical field element")]
    FieldElement {
        /// The member: `receipt_key.x`, `receipt_key.y`, `receipt_signature.r8.x`,
        /// `receipt_signature.r8.y`, `receipt_signature.s` or `blinding`.
        field: &'static str,
        /// Why.
        source: FieldError,
    },
    /// The receipt key is off the curve or of small order.
    #[error("receipt key is not a valid public key")]
    ReceiptKey(#[source] EddsaError),
    /// The receipt signature's R8 is off the curve, or S is not below the subgroup order.
    #[error("receipt signature is malformed")]
    ReceiptSignature(#[source] EddsaError),
    /// `leaf_index` is not below 2^32.
    #[error("leaf index {0} is not below 2^32")]
    LeafIndex(u64),
    /// `siblings` does not have exactly 16 levels.
    #[error("siblings has {found} levels, expected 16")]
    SiblingLevels {
        /// Number of levels found.
        found: usize,
    },
    /// A level of `siblings` does not have exactly 3 elements.
    #[error("siblings level {level} has {found} elements, expected 3")]
    SiblingWidth {
        /// 0-based level, from the leaves up.
        level: usize,
        /// Number of elements found.
        found: usize,
    },
    /// A sibling is not a canonical decimal field element.
    #[error("sibling {position} of level {level} is not a canonical field element")]
    Sibling {
        /// 0-based level, from the leaves up.
        level: usize,
        /// 0-based index within the level.
        position: usize,
        /// Why.
        source: FieldError,
    },
    /// `checkpoint` is not a well-formed signed checkpoint (not verified here).
    #[error("checkpoint is malformed")]
    Checkpoint(#[source] CheckpointParseError),
    /// The receipt-key certificate is malformed.
    #[error("receipt key certificate is malformed")]
    Certificate(#[source] CertificateError),
    /// `timestamps` is not a list of base64 time-stamp tokens of their size.
    #[error("timestamps: {0}")]
    Timestamps(String),
}

impl From<FrontError> for RecordError {
    fn from(e: FrontError) -> Self {
        match e {
            FrontError::TooLarge { len } => Self::TooLarge { len },
            FrontError::Json(m) => Self::Json(m),
            FrontError::UnsupportedVersion(v) => Self::UnsupportedVersion(v),
        }
    }
}

/// Why a record cannot make a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordStatementError {
    /// The checkpoint's root bytes are not a canonical BN254 field element.
    #[error("checkpoint root is not a canonical field element")]
    LogRoot(#[source] FieldError),
}

/// A well-formed delivery record: the ciphertext hash, the proof witness, the signed checkpoint
/// whose root the path should lead to, and the receipt-key certificate if known.
///
/// Parsing checks encodings only: that the signature verifies, that the path leads to the
/// checkpoint's root and that the checkpoint is signed are checked by the prover
/// ([`crate::statement::check_relation`]) and the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `H`.
    pub ciphertext_hash: CiphertextHash,
    /// `t`, `A`, `r`, `(R8, S)` and the Merkle path.
    pub witness: DeliveryWitness,
    /// The signed checkpoint (well-formed, signatures not checked).
    pub checkpoint: SignedCheckpoint,
    /// The certificate of `A` by the recipient's Signal identity key, if the relay has one.
    pub receipt_key_certificate: ReceiptKeyCertificate,
    /// RFC 3161 time-stamp tokens over the checkpoint's body (DER), not verified; a bundle
    /// proved from the record carries them.
    pub timestamps: Vec<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordWire {
    version: String,
    ciphertext_sha256: String,
    delivered_at: String,
    #[serde(deserialize_with = "map_only")]
    receipt_key: PointJson,
    #[serde(deserialize_with = "map_only")]
    receipt_signature: SignatureJson,
    blinding: String,
    event_secret: String,
    leaf_index: u64,
    siblings: Vec<Vec<String>>,
    checkpoint: String,
    #[serde(deserialize_with = "map_only")]
    receipt_key_certificate: CertificateWire,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    timestamps: Vec<String>,
}

/// Parses the receipt signature: coordinates and S as canonical decimals, then R8 on the curve
/// and S below the subgroup order.
fn signature_from_wire(w: &SignatureJson) -> Result<Signature, RecordError> {
    w.signature([
        "receipt_signature.r8.x",
        "receipt_signature.r8.y",
        "receipt_signature.s",
    ])
    .map_err(|e| match e {
        SignatureJsonError::Coordinate(c) => RecordError::FieldElement {
            field: c.field,
            source: c.source,
        },
        SignatureJsonError::S { field, source } => RecordError::FieldElement { field, source },
        // Well-formed, but far above the subgroup order.
        SignatureJsonError::STooLarge { .. } => {
            RecordError::ReceiptSignature(EddsaError::SNotReduced)
        }
        SignatureJsonError::Signature(e) => RecordError::ReceiptSignature(e),
    })
}

/// Parses 16 levels of 3 canonical decimals.
fn siblings_from_wire(levels: &[Vec<String>]) -> Result<[[Fr; 3]; DEPTH], RecordError> {
    if levels.len() != DEPTH {
        return Err(RecordError::SiblingLevels {
            found: levels.len(),
        });
    }
    let mut out = [[Fr::from(0u64); 3]; DEPTH];
    for (level, (wire, parsed)) in levels.iter().zip(out.iter_mut()).enumerate() {
        if wire.len() != 3 {
            return Err(RecordError::SiblingWidth {
                level,
                found: wire.len(),
            });
        }
        for (position, (s, slot)) in wire.iter().zip(parsed.iter_mut()).enumerate() {
            *slot = fr_from_decimal(s).map_err(|source| RecordError::Sibling {
                level,
                position,
                source,
            })?;
        }
    }
    Ok(out)
}

impl DeliveryRecord {
    /// Parses a delivery record v1 strictly (see [`crate::bundle`] for the rules).
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        codec::check_front(bytes, RECORD_VERSION)?;
        let w: RecordWire = codec::parse_json(bytes).map_err(RecordError::Json)?;
        let ciphertext_hash = CiphertextHash::from_hex(&w.ciphertext_sha256)
            .map_err(|_| RecordError::CiphertextHash)?;
        let delivered_at =
            codec::parse_time(&w.delivered_at).map_err(|reason| RecordError::Time {
                field: "delivered_at",
                reason,
            })?;
        let receipt_key = w
            .receipt_key
            .receipt_key(["receipt_key.x", "receipt_key.y"])
            .map_err(|e| match e {
                KeyJsonError::Coordinate(c) => RecordError::FieldElement {
                    field: c.field,
                    source: c.source,
                },
                KeyJsonError::Key(e) => RecordError::ReceiptKey(e),
            })?;
        let signature = signature_from_wire(&w.receipt_signature)?;
        let blinding =
            fr_from_decimal(&w.blinding).map_err(|source| RecordError::FieldElement {
                field: "blinding",
                source,
            })?;
        let event_secret =
            fr_from_decimal(&w.event_secret).map_err(|source| RecordError::FieldElement {
                field: "event_secret",
                source,
            })?;
        let index =
            u32::try_from(w.leaf_index).map_err(|_| RecordError::LeafIndex(w.leaf_index))?;
        let siblings = siblings_from_wire(&w.siblings)?;
        let checkpoint = SignedCheckpoint::parse(&w.checkpoint).map_err(RecordError::Checkpoint)?;
        let receipt_key_certificate = ReceiptKeyCertificate::from_wire(&w.receipt_key_certificate)
            .map_err(RecordError::Certificate)?;
        let timestamps =
            codec::timestamps_from_wire(&w.timestamps).map_err(RecordError::Timestamps)?;
        Ok(Self {
            ciphertext_hash,
            witness: DeliveryWitness {
                delivered_at,
                receipt_key,
                blinding,
                signature,
                event_secret,
                path: InclusionProof { index, siblings },
            },
            checkpoint,
            receipt_key_certificate,
            timestamps,
        })
    }

    /// The canonical JSON encoding (pretty, final newline).
    ///
    /// Fails if `delivered_at` is after [`super::MAX_TIME`] or R8 is off the curve (a record
    /// that would not parse back).
    pub fn encode(&self) -> Result<String, EncodeError> {
        let w = &self.witness;
        let delivered_at = format_time(w.delivered_at).ok_or(EncodeError::Time {
            field: "delivered_at",
            value: w.delivered_at,
        })?;
        let r8 = &w.signature.r8;
        if !babyjubjub::is_on_curve(&r8.x, &r8.y) {
            return Err(EncodeError::ReceiptSignature(EddsaError::R8NotOnCurve));
        }
        Ok(codec::to_canonical(&RecordWire {
            version: RECORD_VERSION.to_owned(),
            ciphertext_sha256: self.ciphertext_hash.to_hex(),
            delivered_at,
            receipt_key: PointJson::from_point(w.receipt_key.point()),
            receipt_signature: SignatureJson::from(&w.signature),
            blinding: fr_to_decimal(&w.blinding),
            event_secret: fr_to_decimal(&w.event_secret),
            leaf_index: u64::from(w.path.index),
            siblings: w
                .path
                .siblings
                .iter()
                .map(|level| level.iter().map(fr_to_decimal).collect())
                .collect(),
            checkpoint: super::signed_checkpoint_text(&self.checkpoint),
            receipt_key_certificate: self.receipt_key_certificate.to_wire(),
            timestamps: codec::timestamps_to_wire(&self.timestamps),
        }))
    }

    /// The statement this record proves for the window `[not_before, not_after]`:
    /// `C = recipient_commitment(A, r)` and `R` = the checkpoint's Poseidon root (which must be a
    /// canonical field element). The window is not checked here; the prover's
    /// [`crate::statement::check_relation`] refuses a delivery time outside it.
    pub fn statement(
        &self,
        not_before: u64,
        not_after: u64,
    ) -> Result<DeliveredWithin, RecordStatementError> {
        let root = fr_from_be_bytes(&self.checkpoint.unverified_checkpoint().poseidon_root())
            .map_err(RecordStatementError::LogRoot)?;
        Ok(DeliveredWithin {
            ciphertext_hash: self.ciphertext_hash,
            not_before,
            not_after,
            recipient_commitment: self.recipient_commitment(),
            log_root: root,
        })
    }

    /// `C = recipient_commitment(A, r)`.
    pub fn recipient_commitment(&self) -> Fr {
        recipient_commitment(self.witness.receipt_key.point(), &self.witness.blinding)
    }

    /// The opening of the statement's recipient commitment, for the sender.
    pub fn opening(&self) -> Opening {
        Opening {
            version: crate::statement::StatementVersion::CURRENT,
            ciphertext_hash: self.ciphertext_hash,
            recipient_commitment: self.recipient_commitment(),
            receipt_key: self.witness.receipt_key,
            blinding: self.witness.blinding,
            receipt_key_certificate: Some(self.receipt_key_certificate),
        }
    }
}

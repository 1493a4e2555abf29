//! The opening (v1, v2): the private document that reveals which receipt key a bundle's recipient
//! commitment hides.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::codec::{self, map_only, opt_map_only, CertificateWire, FrontError};
use crate::babyjubjub::{self, Point};
use crate::eddsa::{EddsaError, PublicKey};
use crate::field::{fr_from_decimal, fr_to_decimal, FieldError};
use crate::receipt_json::{KeyJsonError, PointJson};
use crate::statement::{recipient_commitment, CiphertextHash, DeliveredWithin, StatementVersion};
use crate::Fr;

/// The `version` of the opening written today (`letro-opening/v2`).
pub const OPENING_VERSION: &str = "letro-opening/v2";
/// The `version` of the first opening (`letro-opening/v1`), still parsed.
pub const OPENING_VERSION_V1: &str = "letro-opening/v1";

/// The type byte libsignal puts before an X25519 public key (`DJB_TYPE`).
pub const IDENTITY_KEY_TYPE: u8 = 0x05;

/// The context string a receipt-key certificate signs, before the packed receipt key.
pub const CERTIFICATE_CONTEXT: &[u8] = b"letro/receipt-key-certificate/v1";

/// The message a recipient's Signal identity key signs (XEdDSA) to certify a receipt key:
/// `b"letro/receipt-key-certificate/v1" || babyjubjub::pack(A)` (32 + 32 bytes).
pub fn certificate_message(receipt_key: &Point) -> Vec<u8> {
    let mut m = Vec::with_capacity(CERTIFICATE_CONTEXT.len() + 32);
    m.extend_from_slice(CERTIFICATE_CONTEXT);
    m.extend_from_slice(&babyjubjub::pack(receipt_key));
    m
}

/// Why a receipt-key certificate is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// `identity_key` is not canonical padded standard base64.
    #[error("identity key is not canonical base64")]
    IdentityKeyBase64(#[source] base64::DecodeError),
    /// `identity_key` does not decode to 33 bytes.
    #[error("identity key is {len} bytes, expected 33")]
    IdentityKeyLength {
        /// Decoded length.
        len: usize,
    },
    /// `identity_key` does not start with the Curve25519 type byte 0x05.
    #[error("identity key type is 0x{0:02x}, expected 0x05")]
    IdentityKeyType(u8),
    /// `signature` is not canonical padded standard base64.
    #[error("certificate signature is not canonical base64")]
    SignatureBase64(#[source] base64::DecodeError),
    /// `signature` does not decode to 64 bytes.
    #[error("certificate signature is {len} bytes, expected 64")]
    SignatureLength {
        /// Decoded length.
        len: usize,
    },
}

/// A receipt-key certificate: the recipient's Signal identity key and its XEdDSA signature over
/// [`certificate_message`] of the receipt key. Well-formed, NOT verified (this crate does no
/// XEdDSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptKeyCertificate {
    identity_key: [u8; 33],
    signature: [u8; 64],
}

impl ReceiptKeyCertificate {
    /// A certificate from an identity key as libsignal serialises it (`0x05` || 32-byte X25519
    /// public key) and a 64-byte XEdDSA signature. Rejects another type byte.
    pub fn new(identity_key: [u8; 33], signature: [u8; 64]) -> Result<Self, CertificateError> {
        if identity_key[0] != IDENTITY_KEY_TYPE {
            return Err(CertificateError::IdentityKeyType(identity_key[0]));
        }
        Ok(Self {
            identity_key,
            signature,
        })
    }

    /// The serialised identity key (`0x05` || X25519 public key).
    pub fn identity_key(&self) -> &[u8; 33] {
        &self.identity_key
    }

    /// The XEdDSA signature over [`certificate_message`].
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    pub(crate) fn from_wire(w: &CertificateWire) -> Result<Self, CertificateError> {
        let key = STANDARD
            .decode(&w.identity_key)
            .map_err(CertificateError::IdentityKeyBase64)?;
        let identity_key: [u8; 33] = key
            .as_slice()
            .try_into()
            .map_err(|_| CertificateError::IdentityKeyLength { len: key.len() })?;
        let sig = STANDARD
            .decode(&w.signature)
            .map_err(CertificateError::SignatureBase64)?;
        let signature: [u8; 64] = sig
            .as_slice()
            .try_into()
            .map_err(|_| CertificateError::SignatureLength { len: sig.len() })?;
        Self::new(identity_key, signature)
    }

    pub(crate) fn to_wire(self) -> CertificateWire {
        CertificateWire {
            identity_key: STANDARD.encode(self.identity_key),
            signature: STANDARD.encode(self.signature),
        }
    }
}

/// Why bytes are not a well-formed opening v1. Variants are listed in the order the checks run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpeningParseError {
    /// The document is larger than [`super::MAX_DOCUMENT_LEN`].
    #[error("opening is {len} bytes, more than the limit of 1 MiB")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not one JSON object of the opening's shape: a syntax error, trailing data, a duplicate
    /// or unknown key, a missing key, or a value of the wrong JSON type.
    #[error("opening is not valid json of the expected shape: {0}")]
    Json(String),
    /// `version` is not `letro-opening/v1`.
    #[error("unsupported opening version {0:?}")]
    UnsupportedVersion(String),
    /// `statement_id` is not `delivered-within/v1`.
    #[error("unknown statement {0:?}")]
    UnknownStatement(String),
    /// `ciphertext_sha256` is not 64 lowercase hex characters.
    #[error("ciphertext_sha256 is not 64 lowercase hex characters")]
    CiphertextHash,
    /// A decimal field element is not canonical (leading zero, sign, not below the modulus).
    #[error("{field} is not a canonical field element")]
    FieldElement {
        /// The member: `recipient_commitment`, `receipt_key.x`, `receipt_key.y` or `blinding`.
        field: &'static str,
        /// Why.
        source: FieldError,
    },
    /// The receipt key is off the curve or of small order.
    #[error("receipt key is not a valid public key")]
    ReceiptKey(#[source] EddsaError),
    /// The receipt-key certificate is malformed.
    #[error("receipt key certificate is malformed")]
    Certificate(#[source] CertificateError),
    /// A v2 opening has `receipt_key_certificate: null`: v2 openings always carry it.
    #[error("receipt_key_certificate is null, but a v2 opening must carry the certificate")]
    MissingCertificate,
}

impl From<FrontError> for OpeningParseError {
    fn from(e: FrontError) -> Self {
        match e {
            FrontError::TooLarge { len } => Self::TooLarge { len },
            FrontError::Json(m) => Self::Json(m),
            FrontError::UnsupportedVersion(v) => Self::UnsupportedVersion(v),
        }
    }
}

/// Why an opening does not open a statement's recipient commitment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpeningError {
    /// The opening is for another ciphertext than the statement's.
    #[error("the opening is for another ciphertext")]
    CiphertextMismatch,
    /// The opening names another recipient commitment than the one given.
    #[error("the opening is for another recipient commitment")]
    OtherCommitment,
    /// `Poseidon(tag_recipient, A.x, A.y, r)` is not the commitment: the receipt key and
    /// blinding do not open it.
    #[error("the receipt key and blinding do not open the recipient commitment")]
    CommitmentMismatch,
}

/// A well-formed opening: the receipt key `A` and blinding `r` behind a recipient commitment
/// `C`, and optionally the certificate linking `A` to a Signal identity. Not yet checked
/// against any statement: use [`Opening::check`] or [`Opening::check_statement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The statement version (`letro-opening/v1` or `/v2`). A v2 opening always has a
    /// certificate; [`Opening::encode`] of a v2 opening without one writes `null`, which no
    /// parser accepts.
    pub version: StatementVersion,
    /// `H`, the ciphertext the statement is about.
    pub ciphertext_hash: CiphertextHash,
    /// `C`, as the opening states it.
    pub recipient_commitment: Fr,
    /// `A`, on the curve and not of small order.
    pub receipt_key: PublicKey,
    /// `r`.
    pub blinding: Fr,
    /// The certificate of `A` by the recipient's Signal identity key, if the relay has one.
    pub receipt_key_certificate: Option<ReceiptKeyCertificate>,
}

#[derive(Deserialize)]
struct OpeningPeek {
    statement_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpeningWire {
    version: String,
    statement_id: String,
    ciphertext_sha256: String,
    recipient_commitment: String,
    #[serde(deserialize_with = "map_only")]
    receipt_key: PointJson,
    blinding: String,
    #[serde(deserialize_with = "opt_map_only")]
    receipt_key_certificate: Option<CertificateWire>,
}

impl Opening {
    /// Parses an opening v1 strictly (see [`crate::bundle`] for the rules).
    pub fn parse(bytes: &[u8]) -> Result<Self, OpeningParseError> {
        let versions = StatementVersion::ALL.map(StatementVersion::opening_version);
        let version = codec::check_front_versions(bytes, &versions)?;
        let version = StatementVersion::ALL
            .get(version)
            .copied()
            .unwrap_or(StatementVersion::CURRENT);
        let peek: OpeningPeek = codec::parse_json(bytes).map_err(OpeningParseError::Json)?;
        if let Some(id) = peek.statement_id {
            if id != version.statement_id() {
                return Err(OpeningParseError::UnknownStatement(id));
            }
        }
        let w: OpeningWire = codec::parse_json(bytes).map_err(OpeningParseError::Json)?;
        let ciphertext_hash = CiphertextHash::from_hex(&w.ciphertext_sha256)
            .map_err(|_| OpeningParseError::CiphertextHash)?;
        let recipient_commitment = fr_from_decimal(&w.recipient_commitment).map_err(|source| {
            OpeningParseError::FieldElement {
                field: "recipient_commitment",
                source,
            }
        })?;
        let receipt_key = w
            .receipt_key
            .receipt_key(["receipt_key.x", "receipt_key.y"])
            .map_err(|e| match e {
                KeyJsonError::Coordinate(c) => OpeningParseError::FieldElement {
                    field: c.field,
                    source: c.source,
                },
                KeyJsonError::Key(e) => OpeningParseError::ReceiptKey(e),
            })?;
        let blinding =
            fr_from_decimal(&w.blinding).map_err(|source| OpeningParseError::FieldElement {
                field: "blinding",
                source,
            })?;
        let receipt_key_certificate = w
            .receipt_key_certificate
            .as_ref()
            .map(ReceiptKeyCertificate::from_wire)
            .transpose()
            .map_err(OpeningParseError::Certificate)?;
        if version != StatementVersion::V1 && receipt_key_certificate.is_none() {
            return Err(OpeningParseError::MissingCertificate);
        }
        Ok(Self {
            version,
            ciphertext_hash,
            recipient_commitment,
            receipt_key,
            blinding,
            receipt_key_certificate,
        })
    }

    /// The canonical JSON encoding (pretty, final newline).
    pub fn encode(&self) -> String {
        codec::to_canonical(&OpeningWire {
            version: self.version.opening_version().to_owned(),
            statement_id: self.version.statement_id().to_owned(),
            ciphertext_sha256: self.ciphertext_hash.to_hex(),
            recipient_commitment: fr_to_decimal(&self.recipient_commitment),
            receipt_key: PointJson::from_point(self.receipt_key.point()),
            blinding: fr_to_decimal(&self.blinding),
            receipt_key_certificate: self
                .receipt_key_certificate
                .map(ReceiptKeyCertificate::to_wire),
        })
    }

    /// Checks that this opening opens `commitment`: the opening names it, and
    /// `recipient_commitment(A, r)` recomputes it.
    pub fn check(&self, commitment: &Fr) -> Result<(), OpeningError> {
        if self.recipient_commitment != *commitment {
            return Err(OpeningError::OtherCommitment);
        }
        if recipient_commitment(self.receipt_key.point(), &self.blinding) != *commitment {
            return Err(OpeningError::CommitmentMismatch);
        }
        Ok(())
    }

    /// [`Opening::check`] against a statement's commitment, after checking that the opening is
    /// about the statement's ciphertext.
    pub fn check_statement(&self, statement: &DeliveredWithin) -> Result<(), OpeningError> {
        if self.ciphertext_hash != statement.ciphertext_hash {
            return Err(OpeningError::CiphertextMismatch);
        }
        self.check(&statement.recipient_commitment)
    }

    /// The recipient's fingerprint: lowercase hex (64 characters) of SHA-256 of the packed
    /// receipt key, `babyjubjub::pack(A)` (32 bytes, circomlib's `packPoint`). It names the
    /// receipt key stably across documents and tools. It identifies the recipient, so it is as
    /// private as the opening; it is not a Signal safety number.
    pub fn recipient_fingerprint(&self) -> String {
        hex::encode(Sha256::digest(babyjubjub::pack(self.receipt_key.point())))
    }

    /// [`certificate_message`] of this opening's receipt key.
    pub fn certificate_message(&self) -> Vec<u8> {
        certificate_message(self.receipt_key.point())
    }
}

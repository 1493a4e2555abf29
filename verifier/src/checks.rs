//! Optional checks beside the bundle: the ciphertext and the opening.

use std::io::Read;

use letro_core::bundle::{Opening, OpeningError, OpeningParseError};
use letro_core::statement::{CiphertextHash, DeliveredWithin};
use sha2::{Digest, Sha256};

/// Why the ciphertext check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CiphertextError {
    /// Reading the ciphertext failed.
    #[error("cannot read the ciphertext: {0}")]
    Io(#[from] std::io::Error),
    /// SHA-256 of the ciphertext is not the statement's H.
    #[error("the ciphertext's SHA-256 {actual} is not the statement's {expected}")]
    Mismatch {
        /// The statement's H.
        expected: String,
        /// Of the file.
        actual: String,
    },
}

impl CiphertextError {
    /// 1 for a mismatch (a check failed), 3 when the file could not be read.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Io(_) => 3,
            Self::Mismatch { .. } => 1,
        }
    }

    /// The stable machine code (SPEC.md §8): `Ciphertext.Io` or `Ciphertext.Mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io(_) => "Ciphertext.Io",
            Self::Mismatch { .. } => "Ciphertext.Mismatch",
        }
    }
}

/// Streams `reader` through SHA-256 (any size, constant memory) and compares with H.
pub fn check_ciphertext<R: Read>(
    mut reader: R,
    statement: &DeliveredWithin,
) -> Result<(), CiphertextError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or(&[]));
    }
    let actual = CiphertextHash(hasher.finalize().into());
    if actual != statement.ciphertext_hash {
        return Err(CiphertextError::Mismatch {
            expected: statement.ciphertext_hash.to_hex(),
            actual: actual.to_hex(),
        });
    }
    Ok(())
}

/// Why the opening check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpeningCheckError {
    /// The opening file is malformed.
    #[error("malformed opening: {0}")]
    Malformed(#[from] OpeningParseError),
    /// The opening does not open this statement's commitment.
    #[error("the opening does not match the statement: {0}")]
    Mismatch(#[from] OpeningError),
    /// The receipt key is outside Baby Jubjub's prime-order subgroup: a registered receipt key
    /// never is, so this opening does not name a proper recipient key.
    #[error("the opening's receipt key is not in the prime-order subgroup")]
    KeyNotInSubgroup,
    /// The receipt-key certificate does not verify: the receipt key is not shown to belong to
    /// the Signal identity it names.
    #[error("receipt-key certificate: {0}")]
    Certificate(#[from] crate::certificate::CertificateError),
    /// The opening is for another statement version than the verified bundle (a v1 opening
    /// with a v2 bundle, or the reverse).
    #[error("the opening is for {opening}, but the bundle is {bundle}")]
    OtherVersion {
        /// The opening's statement.
        opening: letro_core::statement::StatementVersion,
        /// The bundle's statement.
        bundle: letro_core::statement::StatementVersion,
    },
}

impl OpeningCheckError {
    /// 3 when malformed or not checkable, 1 for a mismatch.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Malformed(_) => 3,
            Self::Mismatch(_)
            | Self::KeyNotInSubgroup
            | Self::Certificate(_)
            | Self::OtherVersion { .. } => 1,
        }
    }

    /// The stable machine code (SPEC.md §8): `Opening.Malformed`, `Opening.` followed by the
    /// mismatch (`CiphertextMismatch`, `OtherCommitment`, `CommitmentMismatch`),
    /// `Opening.KeyNotInSubgroup`, or `Opening.Certificate.` followed by the
    /// [`crate::certificate::CertificateError`] variant.
    pub fn code(&self) -> &'static str {
        use crate::certificate::CertificateError as C;
        match self {
            Self::Malformed(_) => "Opening.Malformed",
            Self::Mismatch(m) => match m {
                OpeningError::CiphertextMismatch => "Opening.CiphertextMismatch",
                OpeningError::OtherCommitment => "Opening.OtherCommitment",
                OpeningError::CommitmentMismatch => "Opening.CommitmentMismatch",
                _ => "Opening.Mismatch",
            },
            Self::KeyNotInSubgroup => "Opening.KeyNotInSubgroup",
            Self::OtherVersion { .. } => "Opening.OtherVersion",
            Self::Certificate(c) => match c {
                C::IdentityKeyType(_) => "Opening.Certificate.IdentityKeyType",
                C::NonCanonicalKey => "Opening.Certificate.NonCanonicalKey",
                C::InvalidPoint => "Opening.Certificate.InvalidPoint",
                C::NonCanonicalSignature => "Opening.Certificate.NonCanonicalSignature",
                C::Invalid => "Opening.Certificate.Invalid",
            },
        }
    }
}

/// What an opening revealed.
#[derive(Debug, Clone)]
pub struct OpenedRecipient {
    /// SHA-256 of the packed receipt key, hex: the recipient's key fingerprint.
    pub fingerprint: String,
    /// The Signal identity key (hex, 33 bytes) that certified the receipt key, when the
    /// opening carried a certificate and it verified; `None` when there was no certificate.
    pub identity_key: Option<String>,
}

/// [`check_opening`] for a verified bundle: the opening must also be of the bundle's statement
/// version (a v2 opening always carries a certificate).
pub fn check_opening_for(
    bytes: &[u8],
    delivery: &crate::VerifiedDelivery,
) -> Result<OpenedRecipient, OpeningCheckError> {
    let opening = Opening::parse(bytes)?;
    if opening.version != delivery.version() {
        return Err(OpeningCheckError::OtherVersion {
            opening: opening.version,
            bundle: delivery.version(),
        });
    }
    check_opening(bytes, delivery.statement())
}

/// Checks that `opening` opens the statement's commitment, that its receipt key is in the
/// prime-order subgroup, and, when it carries one, that the receipt-key certificate verifies.
pub fn check_opening(
    bytes: &[u8],
    statement: &DeliveredWithin,
) -> Result<OpenedRecipient, OpeningCheckError> {
    let opening = Opening::parse(bytes)?;
    opening.check_statement(statement)?;
    if !letro_core::babyjubjub::is_in_prime_subgroup(opening.receipt_key.point()) {
        return Err(OpeningCheckError::KeyNotInSubgroup);
    }
    let identity_key = match &opening.receipt_key_certificate {
        Some(cert) => {
            crate::certificate::verify_certificate(cert, opening.receipt_key.point())?;
            Some(hex::encode(cert.identity_key()))
        }
        None => None,
    };
    Ok(OpenedRecipient {
        fingerprint: opening.recipient_fingerprint(),
        identity_key,
    })
}

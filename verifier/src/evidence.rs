//! Verifying evidence records (`letro-evidence/v1`, SPEC §5.12) offline, in four steps:
//!
//! 1. parse: the record's form, its version, and exactly the facts of its event;
//! 2. the event: for a receipt or a refusal, the recipient's EdDSA-Poseidon signature and the
//!    receipt key's certificate by its Signal identity key (XEdDSA); the leaf is recomputed
//!    from the facts and the event secret;
//! 3. the checkpoint: signed by a trusted log key whose origin is the record's issuer, and with
//!    a witness policy, cosigned to its quorum;
//! 4. inclusion: the recomputed leaf is entry `leaf_index` of the RFC 6962 tree whose root is the
//!    checkpoint's line 3, of the checkpoint's size; and the event time is no later than the
//!    checkpoint's time (plus its receipt skew for a time the recipient signed);
//! 5. time-stamps: each RFC 3161 token over the checkpoint's body is intact (imprint, signed
//!    attributes, signature, TSA certificate usage); one that chains to a TSA certificate the
//!    verifier trusts bounds the event time by the TSA's clock ([`crate::timestamps`]).
//!
//! What it does not check: the times the relay's clock gave (a made-available, rejected or
//! expired event) beyond the checkpoint that includes them, and who the parties are beyond
//! what the certificate binds.

use letro_core::bundle::ReceiptKeyCertificate;
use letro_core::evidence::{EventFacts, EvidenceError, EvidenceRecord};
use letro_core::field::fr_to_be_bytes;
use letro_log::checkpoint::{Checkpoint, SignedCheckpoint};
use letro_log::rfc6962;

use crate::certificate::{verify_certificate, CertificateError};
use crate::{witness_cosignatures, Verifier, VerifyError, WitnessCosignature};

/// Why an evidence record did not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceVerifyError {
    /// Step 1 (or 2 for a signature): the record is malformed, or the recipient's signature
    /// does not verify.
    #[error(transparent)]
    Record(#[from] EvidenceError),
    /// Step 2: the receipt key's certificate does not verify.
    #[error("the receipt key's certificate does not verify: {0}")]
    Certificate(#[from] CertificateError),
    /// Step 3: the checkpoint is not a signed checkpoint.
    #[error("the record's checkpoint is malformed: {0}")]
    MalformedCheckpoint(String),
    /// Step 3: no trusted log key, a bad signature, or (with a policy) too few cosignatures.
    #[error(transparent)]
    Log(VerifyError),
    /// Step 3: the checkpoint's origin is not the record's issuer.
    #[error("the record's issuer is {record:?}, but the checkpoint's origin is {checkpoint:?}")]
    Issuer {
        /// The record's issuer.
        record: String,
        /// The checkpoint's origin.
        checkpoint: String,
    },
    /// Step 4: the checkpoint has no RFC 6962 root (it predates the `poseidon-root` line).
    #[error("the checkpoint's line 3 is not an RFC 6962 root (a checkpoint from before the poseidon-root line)")]
    NoRfc6962Root,
    /// Step 4: the proof is for another tree size than the checkpoint's.
    #[error(
        "the inclusion proof is for a tree of {proof} entries, the checkpoint's has {checkpoint}"
    )]
    TreeSize {
        /// The proof's.
        proof: u64,
        /// The checkpoint's.
        checkpoint: u64,
    },
    /// Step 4: the event's time is later than the checkpoint that includes it allows: a
    /// relay-clocked time after the checkpoint's time, or a recipient-signed time after the
    /// checkpoint's time plus its published receipt skew (or a checkpoint without one).
    #[error("the event time {time} is later than its checkpoint allows ({why})")]
    Time {
        /// The event time, Unix seconds.
        time: u64,
        /// The bound and where it comes from.
        why: String,
    },
    /// Step 5: a time-stamp token is not intact.
    #[error(transparent)]
    Timestamp(#[from] crate::timestamps::TimestampVerifyError),
    /// Step 4: the leaf is not in the tree at its index.
    #[error("the event's leaf is not entry {index} of the checkpoint's tree: {source}")]
    Inclusion {
        /// The leaf index.
        index: u64,
        /// Why.
        source: rfc6962::ProofError,
    },
}

impl EvidenceVerifyError {
    /// `letro-verify`'s exit code: 3 for a record that cannot be verified (malformed, no
    /// trusted log key), 1 for a check that failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Record(EvidenceError::Signature { .. }) => 1,
            Self::Record(_) | Self::MalformedCheckpoint(_) => 3,
            Self::Log(e) => e.exit_code(),
            Self::Certificate(_)
            | Self::Issuer { .. }
            | Self::NoRfc6962Root
            | Self::TreeSize { .. }
            | Self::Time { .. }
            | Self::Inclusion { .. } => 1,
            Self::Timestamp(e) => e.exit_code(),
        }
    }

    /// The step that failed (1 to 4).
    pub fn step(&self) -> u8 {
        match self {
            Self::Record(EvidenceError::Signature { .. }) | Self::Certificate(_) => 2,
            Self::Record(_) => 1,
            Self::MalformedCheckpoint(_) | Self::Log(_) | Self::Issuer { .. } => 3,
            Self::NoRfc6962Root
            | Self::TreeSize { .. }
            | Self::Time { .. }
            | Self::Inclusion { .. } => 4,
            Self::Timestamp(_) => 5,
        }
    }

    /// The stable machine code (SPEC §8).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Record(EvidenceError::Signature { .. }) => "Evidence.Signature",
            Self::Record(EvidenceError::Version(_)) => "Malformed.UnsupportedVersion",
            Self::Record(_) => "Malformed.Evidence",
            Self::Certificate(_) => "Evidence.Certificate",
            Self::MalformedCheckpoint(_) => "Malformed.Checkpoint",
            Self::Log(e) => e.code(),
            Self::Issuer { .. } => "Evidence.Issuer",
            Self::NoRfc6962Root => "Evidence.NoRfc6962Root",
            Self::TreeSize { .. } => "Evidence.TreeSize",
            Self::Time { .. } => "Evidence.Time",
            Self::Inclusion { .. } => "Evidence.Inclusion",
            Self::Timestamp(e) => e.code(),
        }
    }
}

/// A verified evidence record.
#[derive(Debug, Clone)]
pub struct VerifiedEvidence {
    /// The record.
    pub record: EvidenceRecord,
    /// The checkpoint that includes the event.
    pub checkpoint: Checkpoint,
    /// The trusted log keys that signed it.
    pub signers: Vec<String>,
    /// With a witness policy, the verified cosignatures of its witnesses.
    pub cosignatures: Option<Vec<WitnessCosignature>>,
    /// For a receipt or a refusal, the recipient's certified Signal identity key.
    pub identity_key: Option<[u8; 33]>,
    /// The record's RFC 3161 time-stamps, each trusted or not.
    pub timestamps: Vec<crate::timestamps::TokenOutcome>,
}

fn certificate_of(
    facts: &EventFacts,
) -> Option<(&ReceiptKeyCertificate, &letro_core::babyjubjub::Point)> {
    match facts {
        EventFacts::Retrieved {
            certificate,
            receipt_key,
            ..
        }
        | EventFacts::Refused {
            certificate,
            receipt_key,
            ..
        } => Some((certificate, receipt_key.point())),
        _ => None,
    }
}

/// Whether `bytes` is an evidence record (its `version` says `letro-evidence/...`, of any
/// version) rather than a bundle. Nothing else is checked.
pub fn is_evidence_record(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Version {
        version: Option<String>,
    }
    serde_json::from_slice::<Version>(bytes)
        .ok()
        .and_then(|v| v.version)
        .is_some_and(|v| v.starts_with("letro-evidence/"))
}

impl Verifier {
    /// Verifies one evidence record (steps 1 to 4 above).
    pub fn verify_evidence(&self, bytes: &[u8]) -> Result<VerifiedEvidence, EvidenceVerifyError> {
        // 1. Parse.
        let record = EvidenceRecord::parse(bytes)?;
        // 2. The event: the recipient's signature and certificate; the leaf.
        record.check_recipient_signature()?;
        let identity_key = match certificate_of(&record.facts) {
            Some((certificate, key)) => {
                verify_certificate(certificate, key)?;
                Some(*certificate.identity_key())
            }
            None => None,
        };
        let leaf = fr_to_be_bytes(&record.leaf());
        // 3. The checkpoint.
        let signed = SignedCheckpoint::parse(&record.checkpoint)
            .map_err(|e| EvidenceVerifyError::MalformedCheckpoint(e.to_string()))?;
        if self.log_keys.is_empty() {
            return Err(EvidenceVerifyError::Log(VerifyError::NoTrustedLogKey));
        }
        let verified = signed
            .verify(&self.log_keys)
            .map_err(|e| EvidenceVerifyError::Log(VerifyError::Checkpoint(e)))?;
        let cosignatures = match &self.witness_policy {
            None => None,
            Some(p) => {
                Some(witness_cosignatures(p, signed.note()).map_err(EvidenceVerifyError::Log)?)
            }
        };
        let signers = verified
            .signers()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        let body = signed.note().unverified_text().to_owned();
        let checkpoint = verified.into_checkpoint();
        if checkpoint.origin != record.origin {
            return Err(EvidenceVerifyError::Issuer {
                record: record.origin.clone(),
                checkpoint: checkpoint.origin.clone(),
            });
        }
        // 4. Inclusion in the checkpoint's RFC 6962 tree.
        let root = checkpoint
            .rfc6962_root()
            .ok_or(EvidenceVerifyError::NoRfc6962Root)?;
        if record.tree_size != checkpoint.size {
            return Err(EvidenceVerifyError::TreeSize {
                proof: record.tree_size,
                checkpoint: checkpoint.size,
            });
        }
        rfc6962::verify_inclusion(
            record.leaf_index,
            record.tree_size,
            &rfc6962::leaf_hash(&leaf),
            &record.inclusion,
            &root,
        )
        .map_err(|source| EvidenceVerifyError::Inclusion {
            index: record.leaf_index,
            source,
        })?;
        //    The event happened before the checkpoint that includes it: a relay-clocked time by
        //    the checkpoint's time; a time the recipient signed within the receipt skew the relay
        //    publishes (it accepts receipts and refusals that far from its clock).
        if let Some(time) = record.facts.time() {
            let bound = if record.facts.time_signed_by_recipient() {
                match checkpoint.receipt_skew() {
                    Ok(skew) => checkpoint.time.saturating_add(skew),
                    Err(e) => {
                        return Err(EvidenceVerifyError::Time {
                            time,
                            why: format!("the checkpoint's receipt skew: {e}"),
                        })
                    }
                }
            } else {
                checkpoint.time
            };
            if time > bound {
                return Err(EvidenceVerifyError::Time {
                    time,
                    why: format!("at most {bound}"),
                });
            }
        }
        // 5. Time-stamps over the checkpoint's body.
        let timestamps =
            crate::timestamps::check(&record.timestamps, &body, &self.tsa_certificates)?;
        //    The event was logged before the checkpoint existed, so by the TSA's time too.
        if let Some(time) = record.facts.time() {
            let skew = if record.facts.time_signed_by_recipient() {
                checkpoint.receipt_skew().unwrap_or(0)
            } else {
                0
            };
            crate::timestamps::check_not_after(&timestamps, "event time", time, skew)?;
        }
        Ok(VerifiedEvidence {
            record,
            checkpoint,
            signers,
            cosignatures,
            identity_key,
            timestamps,
        })
    }
}

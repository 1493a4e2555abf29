//! Evidence records (`letro-evidence/v1`, SPEC §5.12): one lifecycle event of one delivery,
//! with what the holder discloses about it and the RFC 6962 inclusion proof of its leaf in a
//! signed checkpoint.
//!
//! A record discloses the event's inputs (the parties, the time, the reason) and its per-event
//! secret `e`, so that anyone can recompute the leaf; the leaf of no other event is revealed.
//! This module parses and encodes records strictly and recomputes their leaves; it does no
//! signature check of the checkpoint, which is the verifier's (`letro-verify`).

use serde::{Deserialize, Serialize};

use crate::bundle::codec::CertificateWire;
use crate::bundle::{format_time, parse_time, ReceiptKeyCertificate, MAX_DOCUMENT_LEN};
use crate::eddsa::{PublicKey, Signature};
use crate::field::{fr_from_decimal, fr_to_decimal};
use crate::lifecycle::{self, LifecycleEvent, RejectionReason};
use crate::log::submitted_leaf;
use crate::receipt_json::{PointJson, SignatureJson};
use crate::statement::{delivered_leaf, receipt_message, CiphertextHash};
use crate::Fr;

/// The `version` of an evidence record.
pub const EVIDENCE_VERSION: &str = "letro-evidence/v1";

/// Most sibling hashes an inclusion proof in a tree of at most 2^32 entries has.
const MAX_PROOF_HASHES: usize = 32;

/// What the record says happened, with the inputs of the event's leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFacts {
    /// `submission-accepted`: from `sender` for the recipient routed as `routing`.
    SubmissionAccepted {
        /// The sender's account id.
        sender: String,
        /// The recipient's routing id.
        routing: String,
    },
    /// `submission-rejected`, at `time` (the relay's clock), for `reason`.
    SubmissionRejected {
        /// The sender's account id.
        sender: String,
        /// Why.
        reason: RejectionReason,
        /// Unix seconds.
        time: u64,
    },
    /// `made-available` in the mailbox of `routing` at `time` (the relay's clock).
    MadeAvailable {
        /// The recipient's routing id.
        routing: String,
        /// Unix seconds.
        time: u64,
    },
    /// `retrieved`: the recipient's receipt, signed at `time`.
    Retrieved {
        /// Unix seconds, as signed.
        time: u64,
        /// The receipt key.
        receipt_key: PublicKey,
        /// The receipt's signature.
        signature: Signature,
        /// The receipt key's certificate by the recipient's Signal identity key.
        certificate: ReceiptKeyCertificate,
    },
    /// `refused`: the recipient's refusal, signed at `time`, with its optional reason.
    Refused {
        /// Unix seconds, as signed.
        time: u64,
        /// The recipient's reason, as signed.
        reason: Option<String>,
        /// The receipt key that signed.
        receipt_key: PublicKey,
        /// The refusal's signature.
        signature: Signature,
        /// The receipt key's certificate by the recipient's Signal identity key.
        certificate: ReceiptKeyCertificate,
    },
    /// `expired` at `time` (the relay's clock), when `retention` seconds had passed.
    Expired {
        /// The retention period, seconds.
        retention: u64,
        /// Unix seconds.
        time: u64,
    },
}

impl EventFacts {
    /// The event.
    pub fn event(&self) -> LifecycleEvent {
        match self {
            Self::SubmissionAccepted { .. } => LifecycleEvent::SubmissionAccepted,
            Self::SubmissionRejected { .. } => LifecycleEvent::SubmissionRejected,
            Self::MadeAvailable { .. } => LifecycleEvent::MadeAvailable,
            Self::Retrieved { .. } => LifecycleEvent::Retrieved,
            Self::Refused { .. } => LifecycleEvent::Refused,
            Self::Expired { .. } => LifecycleEvent::Expired,
        }
    }

    /// The event time, if the event has one (an acceptance has none: its time is bounded by
    /// the checkpoint that includes it).
    pub fn time(&self) -> Option<u64> {
        match self {
            Self::SubmissionAccepted { .. } => None,
            Self::SubmissionRejected { time, .. }
            | Self::MadeAvailable { time, .. }
            | Self::Retrieved { time, .. }
            | Self::Refused { time, .. }
            | Self::Expired { time, .. } => Some(*time),
        }
    }

    /// Whether the time was signed by the recipient (true) or read from the relay's clock.
    pub fn time_signed_by_recipient(&self) -> bool {
        matches!(self, Self::Retrieved { .. } | Self::Refused { .. })
    }
}

/// An evidence record, every member checked for form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// `H`.
    pub ciphertext_hash: CiphertextHash,
    /// The log's origin (the issuer).
    pub origin: String,
    /// The issuer's evidence policy identifier.
    pub policy: String,
    /// The event and its inputs.
    pub facts: EventFacts,
    /// The event's secret `e`.
    pub event_secret: Fr,
    /// The leaf's index in the log.
    pub leaf_index: u64,
    /// The size of the tree the inclusion proof is for (the checkpoint's).
    pub tree_size: u64,
    /// The RFC 6962 inclusion proof, leaf to root.
    pub inclusion: Vec<[u8; 32]>,
    /// The checkpoint, a signed note with any cosignatures.
    pub checkpoint: String,
    /// RFC 3161 time-stamp tokens over the checkpoint's body (DER), NOT verified here.
    pub timestamps: Vec<Vec<u8>>,
}

/// Why an evidence record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Larger than any record.
    #[error("the record is larger than {MAX_DOCUMENT_LEN} bytes")]
    TooLarge,
    /// Not JSON of the record's shape.
    #[error("malformed evidence record: {0}")]
    Malformed(String),
    /// Another version.
    #[error("unsupported evidence record version {0:?} (this verifier reads {EVIDENCE_VERSION})")]
    Version(String),
    /// A member does not have its form.
    #[error("{field}: {problem}")]
    Field {
        /// The member.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The recipient's signature (receipt or refusal) does not verify.
    #[error("the recipient's signature on the {event} does not verify")]
    Signature {
        /// The event.
        event: LifecycleEvent,
    },
}

fn field(field: &'static str, problem: impl Into<String>) -> EvidenceError {
    EvidenceError::Field {
        field,
        problem: problem.into(),
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: String,
    event: String,
    etsi_event: String,
    ciphertext_sha256: String,
    issuer: IssuerWire,
    facts: FactsWire,
    event_secret: String,
    leaf_index: u64,
    inclusion: InclusionWire,
    checkpoint: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    timestamps: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerWire {
    origin: String,
    policy: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retention_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receipt_key: Option<PointJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<SignatureJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receipt_key_certificate: Option<CertificateWire>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionWire {
    tree_size: u64,
    hashes: Vec<String>,
}

/// Takes a fact the event needs.
fn need<T>(
    v: &mut Option<T>,
    name: &'static str,
    event: LifecycleEvent,
) -> Result<T, EvidenceError> {
    v.take()
        .ok_or_else(|| field(name, format!("missing: a {event} event has it")))
}

fn time(v: &mut Option<String>, event: LifecycleEvent) -> Result<u64, EvidenceError> {
    let s = need(v, "facts.time", event)?;
    parse_time(&s).map_err(|e| field("facts.time", e.to_string()))
}

fn key_and_signature(
    w: &mut FactsWire,
    event: LifecycleEvent,
) -> Result<(PublicKey, Signature, ReceiptKeyCertificate), EvidenceError> {
    let key = need(&mut w.receipt_key, "facts.receipt_key", event)?
        .receipt_key(["facts.receipt_key.x", "facts.receipt_key.y"])
        .map_err(|e| field("facts.receipt_key", e.to_string()))?;
    let signature = need(&mut w.signature, "facts.signature", event)?
        .signature([
            "facts.signature.r8.x",
            "facts.signature.r8.y",
            "facts.signature.s",
        ])
        .map_err(|e| field("facts.signature", e.to_string()))?;
    let certificate = ReceiptKeyCertificate::from_wire(&need(
        &mut w.receipt_key_certificate,
        "facts.receipt_key_certificate",
        event,
    )?)
    .map_err(|e| field("facts.receipt_key_certificate", e.to_string()))?;
    Ok((key, signature, certificate))
}

fn facts(event: LifecycleEvent, mut w: FactsWire) -> Result<EventFacts, EvidenceError> {
    use LifecycleEvent as E;
    let facts = match event {
        E::SubmissionAccepted => EventFacts::SubmissionAccepted {
            sender: need(&mut w.sender, "facts.sender", event)?,
            routing: need(&mut w.routing, "facts.routing", event)?,
        },
        E::SubmissionRejected => {
            let reason = need(&mut w.reason, "facts.reason", event)?;
            EventFacts::SubmissionRejected {
                sender: need(&mut w.sender, "facts.sender", event)?,
                reason: RejectionReason::from_name(&reason)
                    .ok_or_else(|| field("facts.reason", format!("unknown reason {reason:?}")))?,
                time: time(&mut w.time, event)?,
            }
        }
        E::MadeAvailable => EventFacts::MadeAvailable {
            routing: need(&mut w.routing, "facts.routing", event)?,
            time: time(&mut w.time, event)?,
        },
        E::Retrieved => {
            let (receipt_key, signature, certificate) = key_and_signature(&mut w, event)?;
            EventFacts::Retrieved {
                time: time(&mut w.time, event)?,
                receipt_key,
                signature,
                certificate,
            }
        }
        E::Refused => {
            let (receipt_key, signature, certificate) = key_and_signature(&mut w, event)?;
            let reason = w.reason.take();
            if let Some(r) = &reason {
                lifecycle::check_reason(r).map_err(|e| field("facts.reason", e))?;
            }
            EventFacts::Refused {
                time: time(&mut w.time, event)?,
                reason,
                receipt_key,
                signature,
                certificate,
            }
        }
        E::Expired => EventFacts::Expired {
            retention: need(&mut w.retention_seconds, "facts.retention_seconds", event)?,
            time: time(&mut w.time, event)?,
        },
    };
    // Every fact given must be one the event has: nothing is carried unchecked.
    let left = [
        ("facts.sender", w.sender.is_some()),
        ("facts.routing", w.routing.is_some()),
        ("facts.time", w.time.is_some()),
        ("facts.reason", w.reason.is_some()),
        ("facts.retention_seconds", w.retention_seconds.is_some()),
        ("facts.receipt_key", w.receipt_key.is_some()),
        ("facts.signature", w.signature.is_some()),
        (
            "facts.receipt_key_certificate",
            w.receipt_key_certificate.is_some(),
        ),
    ];
    if let Some((name, _)) = left.iter().find(|(_, present)| *present) {
        return Err(field(name, format!("not a fact of a {event} event")));
    }
    Ok(facts)
}

impl EvidenceRecord {
    /// Parses a record strictly: its version, every member's form, the ETSI event matching the
    /// event, and exactly the facts of its event.
    pub fn parse(bytes: &[u8]) -> Result<Self, EvidenceError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(EvidenceError::TooLarge);
        }
        // The version first, so that another version gets its own error.
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
        match v.get("version").and_then(serde_json::Value::as_str) {
            Some(EVIDENCE_VERSION) => {}
            Some(other) => return Err(EvidenceError::Version(other.to_owned())),
            None => return Err(field("version", "missing or not a string")),
        }
        let w: Wire =
            serde_json::from_value(v).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
        let event = LifecycleEvent::from_name(&w.event)
            .ok_or_else(|| field("event", format!("unknown event {:?}", w.event)))?;
        if w.etsi_event != event.etsi_event_id() {
            return Err(field(
                "etsi_event",
                format!("a {event} event is {}", event.etsi_event_id()),
            ));
        }
        let ciphertext_hash = CiphertextHash::from_hex(&w.ciphertext_sha256)
            .map_err(|e| field("ciphertext_sha256", e.to_string()))?;
        let event_secret =
            fr_from_decimal(&w.event_secret).map_err(|e| field("event_secret", e.to_string()))?;
        if w.inclusion.hashes.len() > MAX_PROOF_HASHES {
            return Err(field("inclusion.hashes", "more hashes than any tree needs"));
        }
        let mut inclusion = Vec::with_capacity(w.inclusion.hashes.len());
        for h in &w.inclusion.hashes {
            let bytes = hex::decode(h)
                .ok()
                .filter(|b| b.len() == 32 && hex::encode(b) == *h)
                .ok_or_else(|| field("inclusion.hashes", "each is 64 lowercase hex digits"))?;
            let mut a = [0u8; 32];
            a.copy_from_slice(&bytes);
            inclusion.push(a);
        }
        if w.leaf_index >= w.inclusion.tree_size {
            return Err(field("leaf_index", "not below inclusion.tree_size"));
        }
        let timestamps = crate::bundle::codec::timestamps_from_wire(&w.timestamps)
            .map_err(|e| field("timestamps", e))?;
        Ok(Self {
            ciphertext_hash,
            origin: w.issuer.origin,
            policy: w.issuer.policy,
            facts: facts(event, w.facts)?,
            event_secret,
            leaf_index: w.leaf_index,
            tree_size: w.inclusion.tree_size,
            inclusion,
            checkpoint: w.checkpoint,
            timestamps,
        })
    }

    /// The record as JSON (what [`EvidenceRecord::parse`] reads back).
    pub fn encode(&self) -> Result<String, EvidenceError> {
        let mut f = FactsWire::default();
        let time = |t: u64| {
            format_time(t)
                .ok_or_else(|| field("facts.time", "after the largest time a record carries"))
        };
        match &self.facts {
            EventFacts::SubmissionAccepted { sender, routing } => {
                f.sender = Some(sender.clone());
                f.routing = Some(routing.clone());
            }
            EventFacts::SubmissionRejected {
                sender,
                reason,
                time: t,
            } => {
                f.sender = Some(sender.clone());
                f.reason = Some(reason.name().to_owned());
                f.time = Some(time(*t)?);
            }
            EventFacts::MadeAvailable { routing, time: t } => {
                f.routing = Some(routing.clone());
                f.time = Some(time(*t)?);
            }
            EventFacts::Retrieved {
                time: t,
                receipt_key,
                signature,
                certificate,
            } => {
                f.time = Some(time(*t)?);
                f.receipt_key = Some(PointJson::from_point(receipt_key.point()));
                f.signature = Some(SignatureJson::from(signature));
                f.receipt_key_certificate = Some(certificate.to_wire());
            }
            EventFacts::Refused {
                time: t,
                reason,
                receipt_key,
                signature,
                certificate,
            } => {
                f.time = Some(time(*t)?);
                f.reason = reason.clone();
                f.receipt_key = Some(PointJson::from_point(receipt_key.point()));
                f.signature = Some(SignatureJson::from(signature));
                f.receipt_key_certificate = Some(certificate.to_wire());
            }
            EventFacts::Expired { retention, time: t } => {
                f.retention_seconds = Some(*retention);
                f.time = Some(time(*t)?);
            }
        }
        let event = self.facts.event();
        let wire = Wire {
            version: EVIDENCE_VERSION.to_owned(),
            event: event.name().to_owned(),
            etsi_event: event.etsi_event_id(),
            ciphertext_sha256: self.ciphertext_hash.to_hex(),
            issuer: IssuerWire {
                origin: self.origin.clone(),
                policy: self.policy.clone(),
            },
            facts: f,
            event_secret: fr_to_decimal(&self.event_secret),
            leaf_index: self.leaf_index,
            inclusion: InclusionWire {
                tree_size: self.tree_size,
                hashes: self.inclusion.iter().map(hex::encode).collect(),
            },
            checkpoint: self.checkpoint.clone(),
            timestamps: crate::bundle::codec::timestamps_to_wire(&self.timestamps),
        };
        serde_json::to_string_pretty(&wire).map_err(|e| EvidenceError::Malformed(e.to_string()))
    }

    /// The event's leaf, recomputed from the facts and the secret (SPEC §5.11).
    pub fn leaf(&self) -> Fr {
        let (h, e) = (&self.ciphertext_hash, &self.event_secret);
        match &self.facts {
            EventFacts::SubmissionAccepted { sender, routing } => {
                submitted_leaf(h, sender, routing, e)
            }
            EventFacts::SubmissionRejected {
                sender,
                reason,
                time,
            } => lifecycle::rejected_leaf(h, sender, *reason, *time, e),
            EventFacts::MadeAvailable { routing, time } => {
                lifecycle::available_leaf(h, routing, *time, e)
            }
            EventFacts::Retrieved {
                time, receipt_key, ..
            } => delivered_leaf(h, receipt_key.point(), *time, e),
            EventFacts::Refused {
                time,
                reason,
                receipt_key,
                ..
            } => lifecycle::refused_leaf(h, receipt_key.point(), *time, reason.as_deref(), e),
            EventFacts::Expired { retention, time } => {
                lifecycle::expired_leaf(h, *retention, *time, e)
            }
        }
    }

    /// For a receipt or a refusal, checks the recipient's EdDSA-Poseidon signature (the key in
    /// the prime-order subgroup). The certificate's XEdDSA is the verifier's to check. Other
    /// events carry no signature of the recipient: `Ok`.
    pub fn check_recipient_signature(&self) -> Result<(), EvidenceError> {
        let h = &self.ciphertext_hash;
        let (event, key, message, signature) = match &self.facts {
            EventFacts::Retrieved {
                time,
                receipt_key,
                signature,
                ..
            } => (
                LifecycleEvent::Retrieved,
                receipt_key,
                receipt_message(h, *time),
                signature,
            ),
            EventFacts::Refused {
                time,
                reason,
                receipt_key,
                signature,
                ..
            } => (
                LifecycleEvent::Refused,
                receipt_key,
                lifecycle::refusal_message(h, *time, reason.as_deref()),
                signature,
            ),
            _ => return Ok(()),
        };
        if !crate::eddsa::in_prime_subgroup(key.point()) || key.verify(&message, signature).is_err()
        {
            return Err(EvidenceError::Signature { event });
        }
        Ok(())
    }
}

/// The namespace of the EN 319 522-3 evidence vocabulary.
pub const ETSI_NAMESPACE: &str = "http://uri.etsi.org/19522/v1#";

/// `&`, `<`, `>`, `"` and `'` escaped for XML text and attribute values, and every character
/// XML 1.0 does not allow (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF) replaced by
/// U+FFFD, so that the export is well-formed whatever the record holds.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

impl EvidenceRecord {
    /// The record in the EN 319 522-3 evidence vocabulary (namespace [`ETSI_NAMESPACE`],
    /// root `Evidence`), for systems that consume ETSI evidence (SPEC §5.12). It states the
    /// event (`ERDSEventId`), its reason, its time, the issuer and its policy, the parties the
    /// facts name, and the message's SHA-256 as the digest of its one part. It carries no
    /// signature and no log proof: the JSON record, which `letro-verify` checks, is the
    /// evidence; this is its description in the ETSI vocabulary.
    pub fn to_etsi_xml(&self) -> String {
        let event = self.facts.event();
        let e = |s: &str| xml_escape(s);
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<ns:Evidence xmlns:ns=\"{ETSI_NAMESPACE}\" version=\"1.2.1\">\n"
        ));
        x.push_str(&format!(
            "  <ns:EvidenceIdentifier>{}</ns:EvidenceIdentifier>\n",
            e(&format!(
                "letro:{}:{}:{}",
                self.origin,
                self.leaf_index,
                event.name()
            ))
        ));
        x.push_str(&format!(
            "  <ns:ERDSEventId>{}</ns:ERDSEventId>\n",
            e(&event.etsi_event_id())
        ));
        let reason = match &self.facts {
            EventFacts::SubmissionRejected { reason, .. } => Some(reason.name().to_owned()),
            EventFacts::Refused { reason, .. } => Some(
                reason
                    .clone()
                    .unwrap_or_else(|| "refused by the recipient".into()),
            ),
            EventFacts::Expired { retention, .. } => Some(format!(
                "retention-period-expired: not retrieved nor refused within {retention} s"
            )),
            _ => None,
        };
        if let Some(r) = reason {
            x.push_str(&format!(
                "  <ns:EventReasons>\n    <ns:EventReason>\n      <Details>{}</Details>\n    \
                 </ns:EventReason>\n  </ns:EventReasons>\n",
                e(&r)
            ));
        }
        if let Some(t) = self.facts.time().and_then(format_time) {
            x.push_str(&format!("  <EventTime>{t}</EventTime>\n"));
        }
        x.push_str(&format!(
            "  <ns:EvidenceIssuerPolicyID>\n    <PolicyID>{}</PolicyID>\n  \
             </ns:EvidenceIssuerPolicyID>\n",
            e(&self.policy)
        ));
        x.push_str(&format!(
            "  <ns:EvidenceIssuerDetails>\n    <Identifier>{}</Identifier>\n  \
             </ns:EvidenceIssuerDetails>\n",
            e(&self.origin)
        ));
        let (sender, recipient) = match &self.facts {
            EventFacts::SubmissionAccepted { sender, routing } => {
                (Some(sender.as_str()), Some(routing.as_str()))
            }
            EventFacts::SubmissionRejected { sender, .. } => (Some(sender.as_str()), None),
            EventFacts::MadeAvailable { routing, .. } => (None, Some(routing.as_str())),
            _ => (None, None),
        };
        if let Some(s) = sender {
            x.push_str(&format!(
                "  <ns:SenderDetails>\n    <Identifier>{}</Identifier>\n  </ns:SenderDetails>\n",
                e(s)
            ));
        }
        if let Some(r) = recipient {
            x.push_str(&format!(
                "  <ns:RecipientDetails>\n    <Identifier>{}</Identifier>\n  \
                 </ns:RecipientDetails>\n",
                e(r)
            ));
        }
        use base64::Engine as _;
        let digest = base64::engine::general_purpose::STANDARD.encode(self.ciphertext_hash.0);
        x.push_str(&format!(
            "  <ns:MessageIdentifier>{}</ns:MessageIdentifier>\n",
            self.ciphertext_hash.to_hex()
        ));
        x.push_str(&format!(
            "  <ns:UserContentInfo>\n    <ComposingParts>1</ComposingParts>\n    \
             <ns:PartsInfo>\n      <ns:PartInfo>\n        <Identifier>envelope</Identifier>\n        \
             <ContentType>application/octet-stream</ContentType>\n        \
             <DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n        \
             <DigestValue>{digest}</DigestValue>\n      </ns:PartInfo>\n    </ns:PartsInfo>\n  \
             </ns:UserContentInfo>\n"
        ));
        x.push_str("</ns:Evidence>\n");
        x
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::eddsa::PrivateKey;

    fn certificate() -> ReceiptKeyCertificate {
        let mut key = [7u8; 33];
        key[0] = 0x05;
        ReceiptKeyCertificate::new(key, [9; 64]).unwrap()
    }

    fn every_kind() -> Vec<EventFacts> {
        let sk = PrivateKey::from_bytes([0x2a; 32]);
        let h = CiphertextHash::of(b"x");
        let t = 1_764_201_600;
        vec![
            EventFacts::SubmissionAccepted {
                sender: "bank".into(),
                routing: "bob".into(),
            },
            EventFacts::SubmissionRejected {
                sender: "bank".into(),
                reason: RejectionReason::UnknownRecipient,
                time: t,
            },
            EventFacts::MadeAvailable {
                routing: "bob".into(),
                time: t,
            },
            EventFacts::Retrieved {
                time: t,
                receipt_key: sk.public_key(),
                signature: sk.sign(&receipt_message(&h, t)),
                certificate: certificate(),
            },
            EventFacts::Refused {
                time: t,
                reason: Some("<not mine> & \"wrong\"".into()),
                receipt_key: sk.public_key(),
                signature: sk.sign(&lifecycle::refusal_message(
                    &h,
                    t,
                    Some("<not mine> & \"wrong\""),
                )),
                certificate: certificate(),
            },
            EventFacts::Expired {
                retention: 60,
                time: t + 60,
            },
        ]
    }

    fn record(facts: EventFacts) -> EvidenceRecord {
        EvidenceRecord {
            ciphertext_hash: CiphertextHash::of(b"x"),
            origin: "relay.example/letro-log".into(),
            policy: "urn:letro:evidence-policy:registered-delivery:v1".into(),
            facts,
            event_secret: Fr::from(5u64),
            leaf_index: 1,
            tree_size: 2,
            inclusion: vec![[3; 32]],
            checkpoint: "checkpoint text\n".into(),
            timestamps: Vec::new(),
        }
    }

    #[test]
    fn every_kind_round_trips_and_signatures_are_checked() {
        for facts in every_kind() {
            let r = record(facts);
            let text = r.encode().unwrap();
            let back = EvidenceRecord::parse(text.as_bytes()).unwrap();
            assert_eq!(back, r);
            assert_eq!(back.leaf(), r.leaf());
            r.check_recipient_signature().unwrap();
        }
        // A receipt whose time was changed no longer carries the recipient's signature.
        let mut r = record(every_kind().swap_remove(3));
        if let EventFacts::Retrieved { time, .. } = &mut r.facts {
            *time += 1;
        }
        assert!(matches!(
            r.check_recipient_signature(),
            Err(EvidenceError::Signature { .. })
        ));
    }

    #[test]
    fn malformed_records_are_refused_by_member() {
        let text = record(every_kind().swap_remove(2)).encode().unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "facts.sender",
                Box::new(|v| v["facts"]["sender"] = "bank".into()),
            ),
            (
                "facts.time",
                Box::new(|v| v["facts"]["time"] = "yesterday".into()),
            ),
            (
                "facts.routing",
                Box::new(|v| {
                    v["facts"].as_object_mut().unwrap().remove("routing");
                }),
            ),
            ("etsi_event", Box::new(|v| v["etsi_event"] = "x".into())),
            ("event", Box::new(|v| v["event"] = "delivered".into())),
            (
                "event_secret",
                Box::new(|v| v["event_secret"] = "-1".into()),
            ),
            (
                "ciphertext_sha256",
                Box::new(|v| v["ciphertext_sha256"] = "AB".into()),
            ),
            (
                "inclusion.hashes",
                Box::new(|v| v["inclusion"]["hashes"][0] = "0G".into()),
            ),
            ("leaf_index", Box::new(|v| v["leaf_index"] = 2.into())),
        ];
        for (member, f) in cases {
            let mut w = v.clone();
            f(&mut w);
            match EvidenceRecord::parse(w.to_string().as_bytes()) {
                Err(EvidenceError::Field { field, .. }) => assert_eq!(field, member),
                other => panic!("{member}: {other:?}"),
            }
        }
        let mut w = v.clone();
        w["extra"] = 1.into();
        assert!(matches!(
            EvidenceRecord::parse(w.to_string().as_bytes()),
            Err(EvidenceError::Malformed(_))
        ));
        w = v.clone();
        w["version"] = "letro-evidence/v9".into();
        assert!(matches!(
            EvidenceRecord::parse(w.to_string().as_bytes()),
            Err(EvidenceError::Version(_))
        ));
        assert!(EvidenceRecord::parse(b"[]").is_err());
        assert!(matches!(
            EvidenceRecord::parse(&vec![b' '; MAX_DOCUMENT_LEN + 1]),
            Err(EvidenceError::TooLarge)
        ));
    }

    #[test]
    fn the_etsi_export_names_the_event_and_escapes_text() {
        for facts in every_kind() {
            let r = record(facts);
            let x = r.to_etsi_xml();
            assert!(x.contains("<ns:Evidence xmlns:ns=\"http://uri.etsi.org/19522/v1#\""));
            assert!(x.contains(&format!(
                "<ns:ERDSEventId>{}</ns:ERDSEventId>",
                r.facts.event().etsi_event_id()
            )));
            assert!(!x.contains("<not mine>"));
        }
        let refused = record(every_kind().swap_remove(4)).to_etsi_xml();
        assert!(refused.contains("&lt;not mine&gt; &amp; &quot;wrong&quot;"));
        // Characters XML does not allow never reach the document.
        assert_eq!(xml_escape("a\u{1}b\u{ffff}c\td"), "a\u{fffd}b\u{fffd}c\td");
    }
}

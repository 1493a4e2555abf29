//! The report of one evidence record (`letro-evidence/v1`): the same numbered checks, exit
//! codes and JSON shape as a bundle's, with the event instead of a statement.

use letro_core::evidence::EVIDENCE_VERSION;
use letro_verifier::evidence::{EvidenceVerifyError, VerifiedEvidence};
use letro_verifier::Verifier;
use serde_json::{json, Value};

use letro_verifier::findings::{evidence_not_shown as not_shown, evidence_shows as event_words};

use letro_verifier::timestamps::{trusted_time, TokenOutcome};

use super::{chain, print_checks, print_failures, Check, Failure};

/// The steps of `Verifier::verify_evidence`.
const EVIDENCE_STEPS: [&str; 5] = [
    "parse",
    "event (leaf, recipient's signature and certificate)",
    "checkpoint signature",
    "inclusion in the log",
    "RFC 3161 time-stamps",
];

pub(crate) use letro_verifier::evidence::is_evidence_record as is_evidence;

pub(crate) struct EvidenceReport {
    pub(crate) file: String,
    pub(crate) code: u8,
    checks: Vec<Check>,
    failures: Vec<Failure>,
    verified: Option<VerifiedEvidence>,
}

fn failure(e: &EvidenceVerifyError) -> Failure {
    let hint = match e {
        EvidenceVerifyError::Record(letro_core::evidence::EvidenceError::Version(_)) => {
            "this letro-verify reads letro-evidence/v1 records; a newer one may read this record"
        }
        EvidenceVerifyError::Record(letro_core::evidence::EvidenceError::Signature { .. })
        | EvidenceVerifyError::Certificate(_) => {
            "the record's facts are not what the recipient signed: ask the issuer for the original record"
        }
        EvidenceVerifyError::Record(_) | EvidenceVerifyError::MalformedCheckpoint(_) => {
            "check that this is the evidence record file as the service issued it"
        }
        EvidenceVerifyError::Log(letro_verifier::VerifyError::NoTrustedLogKey) => {
            "pass the relay's log key with --log-key (get it from the operator, out of band)"
        }
        EvidenceVerifyError::Log(_) => {
            "the checkpoint is not signed (or not cosigned) as required: check --log-key and --policy"
        }
        EvidenceVerifyError::Issuer { .. } => {
            "the record names another log than the one that signed its checkpoint"
        }
        EvidenceVerifyError::NoRfc6962Root => {
            "the record's checkpoint predates RFC 6962 roots: ask the issuer for a new record"
        }
        EvidenceVerifyError::Timestamp(_) => {
            "a time-stamp token does not match this checkpoint or was altered: ask the issuer for the original record"
        }
        EvidenceVerifyError::TreeSize { .. } | EvidenceVerifyError::Inclusion { .. } => {
            "the event as the record states it is not in the log: a fact, the event secret or the proof was altered"
        }
        _ => "ask the issuer for the original record",
    };
    Failure::new(e.code(), chain(e), hint)
}

impl EvidenceReport {
    pub(crate) fn new(file: &str, bytes: &[u8], verifier: &Verifier) -> Self {
        let r = verifier.verify_evidence(bytes);
        let failed = r.as_ref().err().map(|e| (e.step() as usize, failure(e)));
        let mut checks = Vec::new();
        for (i, s) in EVIDENCE_STEPS.iter().enumerate() {
            let step = i + 1;
            let name = format!("{step} {s}");
            checks.push(match &failed {
                Some((n, f)) if step == *n => Check::failed(name, f),
                Some((n, _)) if step > *n => Check::skipped(name),
                _ => Check::passed(name, ok_detail(step, r.as_ref().ok())),
            });
        }
        Self {
            file: file.into(),
            code: r.as_ref().err().map_or(0, EvidenceVerifyError::exit_code),
            checks,
            failures: failed.map(|(_, f)| f).into_iter().collect(),
            verified: r.ok(),
        }
    }

    /// Puts `check` (a certificate's) before the record's own checks.
    pub(crate) fn prepend(&mut self, check: Check) {
        self.checks.insert(0, check);
    }

    pub(crate) fn print(&self) {
        print_checks(&self.file, &self.checks);
        let Some(v) = &self.verified else {
            print_failures(&self.file, self.code, &self.failures);
            return;
        };
        for line in event_words(v) {
            println!("{line}");
        }
        println!("what it does not show:");
        for line in not_shown(v) {
            println!("  - {line}");
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.name,
                    "result": match c.ok { Some(true) => "ok", Some(false) => "failed", None => "not_checked" },
                    "detail": c.detail,
                    "code": c.code,
                })
            })
            .collect();
        let event = self.verified.as_ref().map(|v| {
            let r = &v.record;
            json!({
                "version": EVIDENCE_VERSION,
                "event": r.facts.event().name(),
                "etsi_event": r.facts.event().etsi_event_id(),
                "ciphertext_sha256": r.ciphertext_hash.to_hex(),
                "time": r.facts.time().and_then(letro_core::bundle::format_time),
                "time_signed_by_recipient": r.facts.time_signed_by_recipient(),
                "recipient_identity_key": v.identity_key.map(hex::encode),
                "issuer": r.origin,
                "policy": r.policy,
                "leaf_index": r.leaf_index,
                "log_size": v.checkpoint.size,
                "checkpoint_time": letro_core::bundle::format_time(v.checkpoint.time),
                "cosignatures": v.cosignatures.as_ref().map(|cs| cs.iter().map(|c| json!({
                    "witness": c.policy_name,
                    "key_name": c.key_name,
                    "time": letro_core::bundle::format_time(c.time),
                })).collect::<Vec<_>>()),
                "timestamps": v.timestamps.iter().map(letro_verifier::timestamps::TokenOutcome::to_json).collect::<Vec<_>>(),
                "tsa_time": trusted_time(&v.timestamps).and_then(|s| letro_core::bundle::format_time(s.latest)),
            })
        });
        let first = self.failures.first();
        json!({
            "file": self.file,
            "kind": "evidence",
            "verified": self.verified.is_some(),
            "exit_code": self.code,
            "code": first.map(|f| f.code),
            "error": first.map(|f| &f.message),
            "hint": first.map(|f| &f.hint),
            "checks": checks,
            "event": event,
            "shows": self.verified.as_ref().map(event_words).unwrap_or_default(),
            "does_not_show": self.verified.as_ref().map(not_shown).unwrap_or_default(),
        })
    }
}

fn ok_detail(step: usize, v: Option<&VerifiedEvidence>) -> String {
    let Some(v) = v else {
        return "passed".into();
    };
    match step {
        1 => format!(
            "well-formed {EVIDENCE_VERSION}, event {}",
            v.record.facts.event()
        ),
        2 => match &v.identity_key {
            Some(_) => "the leaf recomputed; the recipient's signature and the receipt key's \
                        certificate verify"
                .into(),
            None => "the leaf recomputed from the facts and the event secret".into(),
        },
        3 => format!(
            "signed by {}{}",
            v.signers.join(", "),
            match &v.cosignatures {
                Some(cs) => format!("; {} witness cosignature(s) meet the policy", cs.len()),
                None => String::new(),
            }
        ),
        4 => format!(
            "entry {} of the RFC 6962 tree of size {} (checkpoint line 3)",
            v.record.leaf_index, v.checkpoint.size
        ),
        _ => {
            let trusted = v
                .timestamps
                .iter()
                .filter(|o| matches!(o, TokenOutcome::Trusted(_)))
                .count();
            match v.timestamps.len() {
                0 => "none in the record".into(),
                n => format!("{n} intact, {trusted} from a trusted TSA"),
            }
        }
    }
}

//! What a verified bundle shows, and what it does not (SPEC.md §8 and §10), in one place for
//! the human output and `--json`, so that the two cannot say different things.

use crate::checks::OpenedRecipient;
use crate::evidence::VerifiedEvidence;
use crate::timestamps::{trusted_time, TokenOutcome};
use crate::{KeySource, TrustLevel, VerifiedDelivery};
use letro_core::evidence::EventFacts;

/// A caveat about a verified bundle: something a reader could take it to show that it does not.
/// Each has a stable [`Caveat::code`] and a one-sentence [`Caveat::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Caveat {
    /// The verifying key is from an `insecure-dev` setup: its maker can forge any bundle.
    InsecureDevKey,
    /// The verifying key is from a `demo-ceremony`: its contributors, all this project's
    /// developers, could together forge any bundle.
    DemoCeremonyKey,
    /// The verifying key was given by the user: its provenance is unknown.
    UserSuppliedKey,
    /// No opening was checked: the recipient is not identified.
    RecipientNotIdentified,
    /// An opening was checked but carries no certificate: the receipt key is tied to no
    /// identity.
    RecipientNotCertified,
    /// A device's receipt key acknowledged the ciphertext; that does not show a person read it.
    DeviceNotPerson,
    /// Receipt-key certificates have no expiry or revocation yet.
    NoCertificateExpiryOrRevocation,
    /// The link from a Signal identity key to a legal person is outside the proof.
    IdentityNotLegalPerson,
    /// The log-side upper bound on t (checkpoint time + receipt skew) rests on the relay's
    /// clock and publication time; only the window comes from the proof.
    LogTimeBoundTrustsRelay,
    /// A `delivered-within/v1` bundle: the v1 log's leaves are not hiding.
    V1LeavesNotHiding,
    /// A v1 checkpoint publishes no receipt skew: only the window bounds t.
    NoPublishedReceiptSkew,
    /// No witness policy was given: the checkpoint's cosignatures were not checked.
    NoWitnessPolicy,
    /// No RFC 3161 time-stamp from a TSA trusted here bounds the checkpoint's time.
    NoTrustedTimestamp,
}

impl Caveat {
    /// The stable machine code, the variant's name (`InsecureDevKey`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::InsecureDevKey => "InsecureDevKey",
            Self::DemoCeremonyKey => "DemoCeremonyKey",
            Self::UserSuppliedKey => "UserSuppliedKey",
            Self::RecipientNotIdentified => "RecipientNotIdentified",
            Self::RecipientNotCertified => "RecipientNotCertified",
            Self::DeviceNotPerson => "DeviceNotPerson",
            Self::NoCertificateExpiryOrRevocation => "NoCertificateExpiryOrRevocation",
            Self::IdentityNotLegalPerson => "IdentityNotLegalPerson",
            Self::LogTimeBoundTrustsRelay => "LogTimeBoundTrustsRelay",
            Self::V1LeavesNotHiding => "V1LeavesNotHiding",
            Self::NoPublishedReceiptSkew => "NoPublishedReceiptSkew",
            Self::NoWitnessPolicy => "NoWitnessPolicy",
            Self::NoTrustedTimestamp => "NoTrustedTimestamp",
        }
    }

    /// Whether this caveat is about the verifying key's trust level (its maker could forge
    /// proofs) rather than about what the statement shows.
    pub fn is_about_key(self) -> bool {
        matches!(
            self,
            Self::InsecureDevKey | Self::DemoCeremonyKey | Self::UserSuppliedKey
        )
    }

    /// One sentence for people.
    pub fn message(self) -> &'static str {
        match self {
            Self::InsecureDevKey => {
                "the verifying key comes from an INSECURE-DEV setup: whoever ran it can forge a \
                 bundle for any statement, so this result shows nothing against the keys' maker"
            }
            Self::DemoCeremonyKey => {
                "the verifying key comes from a DEMO ceremony whose contributors were all Letro's \
                 developers: together they could forge a bundle for any statement, so this \
                 result shows nothing against them; a deployment runs its own ceremony"
            }
            Self::UserSuppliedKey => {
                "the verifying key was given with --vk, not built in: its provenance is unknown, \
                 and whoever made it may be able to forge proofs"
            }
            Self::RecipientNotIdentified => {
                "the recipient is not identified: the bundle shows only that some receipt key \
                 committed to by C acknowledged it (an opening, --opening, names the key)"
            }
            Self::RecipientNotCertified => {
                "the opening has no receipt-key certificate: nothing ties the receipt key to a \
                 Signal identity"
            }
            Self::DeviceNotPerson => {
                "a device holding the receipt key acknowledged the ciphertext; that does not \
                 show that a person read it"
            }
            Self::NoCertificateExpiryOrRevocation => {
                "receipt-key certificates have no expiry or revocation yet: a certificate stays \
                 valid after the key is lost or replaced"
            }
            Self::IdentityNotLegalPerson => {
                "the link from the Signal identity key to a legal person is established outside \
                 this proof"
            }
            Self::LogTimeBoundTrustsRelay => {
                "the bound 'no later than the checkpoint time plus the receipt skew' assumes the \
                 relay's clock and its checkpoint time are honest; only the window bound comes \
                 from the proof (the recipient signed t)"
            }
            Self::V1LeavesNotHiding => {
                "this is a delivered-within/v1 bundle: v1 log leaves are not hiding, so anyone \
                 holding this bundle and the relay's public log can find the recipient's receipt \
                 key and the exact delivery time"
            }
            Self::NoPublishedReceiptSkew => {
                "a v1 checkpoint does not publish the relay's receipt skew: t is bounded by the \
                 window only, not by the checkpoint's time"
            }
            Self::NoWitnessPolicy => {
                "no witness policy was given (--policy): the checkpoint's cosignatures were not \
                 checked, so nothing here shows that the log showed everyone this checkpoint"
            }
            Self::NoTrustedTimestamp => {
                "no RFC 3161 time-stamp by a TSA trusted here (--tsa-cert) covers the \
                 checkpoint: its time is the operator's clock"
            }
        }
    }
}

/// What a verified bundle (and, when checked, its opening) shows, and its caveats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Sentences, each a fact the checks established.
    pub shows: Vec<String>,
    /// What a reader must not conclude, most serious first.
    pub caveats: Vec<Caveat>,
}

fn time(t: u64) -> String {
    letro_core::bundle::format_time(t).unwrap_or_else(|| format!("{t} (Unix seconds)"))
}

/// States what `delivery` shows, with `recipient` the result of a successful opening check
/// (`None` when no opening was checked). Only call this for a bundle (and opening) that
/// verified.
pub fn findings(delivery: &VerifiedDelivery, recipient: Option<&OpenedRecipient>) -> Findings {
    let s = delivery.statement();
    let cp = delivery.checkpoint();
    let key = match delivery.key_source() {
        KeySource::Embedded => "the built-in verifying key".to_owned(),
        KeySource::Given(f) => format!("the verifying key given with --vk {f}"),
        KeySource::Manifest(d) => format!("the verifying key of the keys directory {d} (given with --keys; its manifest gives its trust level)"),
    };
    let mut shows = vec![
        format!(
            "a receipt key committed to by C = {} acknowledged the ciphertext with SHA-256 {} \
             at a time between {} and {}",
            letro_core::field::fr_to_decimal(&s.recipient_commitment),
            s.ciphertext_hash.to_hex(),
            time(s.not_before),
            time(s.not_after),
        ),
        format!(
            "that acknowledgement is in the log {}, whose checkpoint of size {} (time {}) was \
             signed by the trusted log key {}",
            cp.origin,
            cp.size,
            time(cp.time),
            delivery.log_signers().join(", "),
        ),
        format!(
            "the proof verifies under {key} {} for {} (trust level {})",
            hex::encode(delivery.key_sha256()),
            delivery.version(),
            delivery.trust_level(),
        ),
    ];
    if let Some(b) = delivery.time_bounds() {
        shows.push(format!(
            "the relay publishes a receipt skew of {} s, so an honest log accepted this receipt \
             no later than {} (checkpoint time plus skew): t lies between {} and {}",
            b.receipt_skew,
            time(b.latest_by_log),
            time(b.earliest),
            time(b.latest()),
        ));
    }
    let mut caveats = Vec::new();
    match delivery.trust_level() {
        TrustLevel::InsecureDev => caveats.push(Caveat::InsecureDevKey),
        TrustLevel::DemoCeremony => caveats.push(Caveat::DemoCeremonyKey),
        TrustLevel::UserSupplied => caveats.push(Caveat::UserSuppliedKey),
        TrustLevel::Ceremony => {}
    }
    match recipient {
        None => caveats.push(Caveat::RecipientNotIdentified),
        Some(r) => {
            shows.push(format!(
                "the opening shows that this receipt key has fingerprint {}",
                r.fingerprint
            ));
            match &r.identity_key {
                Some(k) => {
                    shows.push(format!(
                        "that receipt key was certified by the Signal identity key {k}"
                    ));
                }
                None => caveats.push(Caveat::RecipientNotCertified),
            }
        }
    }
    caveats.push(Caveat::DeviceNotPerson);
    if recipient.is_some_and(|r| r.identity_key.is_some()) {
        caveats.push(Caveat::NoCertificateExpiryOrRevocation);
        caveats.push(Caveat::IdentityNotLegalPerson);
    }
    if delivery.version() == letro_core::statement::StatementVersion::V1 {
        caveats.push(Caveat::V1LeavesNotHiding);
        caveats.push(Caveat::NoPublishedReceiptSkew);
    } else {
        caveats.push(Caveat::LogTimeBoundTrustsRelay);
    }
    match delivery.cosignatures() {
        None => caveats.push(Caveat::NoWitnessPolicy),
        Some(cs) => {
            let names: Vec<&str> = cs.iter().map(|c| c.key_name.as_str()).collect();
            let by = delivery.witnessed_by().map(time);
            shows.push(format!(
                "the checkpoint is cosigned by the witnesses {} as the policy's quorum requires{}",
                if names.is_empty() {
                    "(none required)".to_owned()
                } else {
                    names.join(", ")
                },
                by.map(|t| format!(", the earliest at {t} by that witness's clock"))
                    .unwrap_or_default()
            ));
        }
    }
    for o in delivery.timestamps() {
        if let TokenOutcome::Trusted(t) = o {
            shows.push(format!(
                "the checkpoint was time-stamped (RFC 3161) by {} at {}, by that TSA's clock, \
                 trusted through {}: the delivery happened no later than {} (that time rounded \
                 up, plus the TSA's stated accuracy)",
                t.signer,
                t.time_text,
                t.anchor.as_deref().unwrap_or("a trusted certificate"),
                time(t.latest)
            ));
        }
    }
    if trusted_time(delivery.timestamps()).is_none() {
        caveats.push(Caveat::NoTrustedTimestamp);
    }
    Findings { shows, caveats }
}

/// A time for people: `2026-12-03 09:30 UTC` (seconds when not zero), or the raw number when it
/// is out of range.
pub fn when(t: u64) -> String {
    match letro_core::bundle::format_time(t) {
        Some(s) => {
            let s = s.replace('T', " ").replace('Z', "");
            let s = s.strip_suffix(":00").map(str::to_string).unwrap_or(s);
            format!("{s} UTC")
        }
        None => format!("{t} (Unix seconds)"),
    }
}

/// What a verified evidence record shows, as sentences for people (the first names the event;
/// the others, indented by two spaces, its facts, log, witnesses and time-stamps).
pub fn evidence_shows(v: &VerifiedEvidence) -> Vec<String> {
    let r = &v.record;
    let event = r.facts.event();
    let mut out = vec![format!(
        "verified: an evidence record of the event {} (ETSI EN 319 522 {})",
        event.name(),
        event.etsi_event()
    )];
    out.push(format!(
        "  for the ciphertext with SHA-256 {}",
        r.ciphertext_hash.to_hex()
    ));
    let relay_clock = "(the relay's clock)";
    match &r.facts {
        EventFacts::SubmissionAccepted { sender, routing } => out.push(format!(
            "  accepted for delivery from the account {sender:?} to the account {routing:?}"
        )),
        EventFacts::SubmissionRejected {
            sender,
            reason,
            time,
        } => out.push(format!(
            "  rejected at {} {relay_clock}, from the account {sender:?}; reason: {}",
            when(*time),
            reason.name()
        )),
        EventFacts::MadeAvailable { routing, time } => out.push(format!(
            "  made available in the mailbox of the account {routing:?} at {} {relay_clock}",
            when(*time)
        )),
        EventFacts::Retrieved { time, .. } => out.push(format!(
            "  retrieved by the recipient, who signed a receipt at {} (the recipient's clock)",
            when(*time)
        )),
        EventFacts::Refused { time, reason, .. } => {
            out.push(format!(
            "  refused by the recipient, who signed the refusal at {} (the recipient's clock); \
             reason: {}",
            when(*time),
            reason.as_deref().map_or("none given".to_owned(), |r| format!("{r:?}"))
        ))
        }
        EventFacts::Expired { retention, time } => out.push(format!(
            "  not retrieved nor refused within the retention period of {retention} s; expired \
             at {} {relay_clock}",
            when(*time)
        )),
    }
    if let Some(k) = &v.identity_key {
        out.push(format!(
            "  signed with a receipt key certified by the Signal identity key {}",
            hex::encode(k)
        ));
    }
    let cp = &v.checkpoint;
    out.push(format!(
        "  recorded in the log {} at index {} (checkpoint of size {} published {}, signed by {})",
        cp.origin,
        r.leaf_index,
        cp.size,
        when(cp.time),
        v.signers.join(", ")
    ));
    if let Some(cs) = &v.cosignatures {
        for c in cs {
            out.push(format!(
                "  cosigned by the witness {} at {} (the witness's clock)",
                c.policy_name,
                when(c.time)
            ));
        }
    }
    for o in &v.timestamps {
        if let TokenOutcome::Trusted(s) = o {
            out.push(format!(
                "  time-stamped (RFC 3161) by {} at {} (the TSA's clock{}; trusted through {})",
                s.signer,
                when(s.time),
                s.accuracy_ms
                    .map_or(String::new(), |a| format!(", accuracy {a} ms")),
                s.anchor.as_deref().unwrap_or("?")
            ));
        }
    }
    if let Some(s) = trusted_time(&v.timestamps) {
        out.push(format!(
            "  so the event happened no later than {} (the TSA's time rounded up, plus its \
             accuracy), by a trusted TSA's clock and not the operator's",
            when(s.latest)
        ));
    }
    out
}

/// What a verified evidence record does not show, as sentences for people.
pub fn evidence_not_shown(v: &VerifiedEvidence) -> Vec<String> {
    let mut out = vec![
        "the content of the message: the record holds its hash, not its text".to_owned(),
        format!(
            "that the issuer's evidence policy is {}: the record names it, but neither the leaf \
             nor the checkpoint binds it",
            v.record.policy
        ),
        "that the log key and the checkpoint time are honest beyond the witnesses given with \
         --policy: the checkpoint time is the operator's clock"
            .to_owned(),
    ];
    if !v.record.facts.time_signed_by_recipient() {
        out.push(
            "the event time beyond the checkpoint that includes the event: it is the relay's \
             clock"
                .to_owned(),
        );
    }
    if v.cosignatures.is_none() {
        out.push("that any witness saw this checkpoint (no --policy was given)".to_owned());
    }
    for o in &v.timestamps {
        if let TokenOutcome::Untrusted { stamp, why } = o {
            out.push(format!(
                "the time {} that a time-stamp by {} states: it is intact, but not trusted ({why})",
                when(stamp.time),
                stamp.signer
            ));
        }
    }
    if v.timestamps.is_empty() {
        out.push(
            "any time from outside the operator: the record carries no RFC 3161 time-stamp"
                .to_owned(),
        );
    }
    out.push(
        "that a TSA certificate was not revoked: revocation is not checked; a TSA's time is \
         checked at the time-stamp's own time"
            .to_owned(),
    );
    out
}

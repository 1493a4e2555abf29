//! The words of a certificate, made from documents that verified.
//!
//! Every fact on the page comes from a [`VerifiedDelivery`] or [`VerifiedEvidence`] (so from a
//! check that passed), and the lists of what was shown and what was not are the verifier's own
//! sentences ([`letro_verifier::findings`]), so that the page and `letro-verify` cannot say
//! different things.

use letro_core::evidence::EventFacts;
use letro_core::lifecycle::LifecycleEvent;
use letro_verifier::checks::OpenedRecipient;
use letro_verifier::evidence::VerifiedEvidence;
use letro_verifier::findings::{evidence_not_shown, evidence_shows, findings, when};
use letro_verifier::timestamps::{trusted_time, TokenOutcome};
use letro_verifier::{TrustLevel, VerifiedDelivery, WitnessCosignature};
use sha2::{Digest, Sha256};

use crate::{Attachment, Block, Document, Relationship};

/// Who issues the certificate and when.
#[derive(Debug, Clone)]
pub struct Issue {
    /// When it is made (Unix seconds).
    pub at: u64,
    /// Whether the issuer seals it (the page says how to check the seal).
    pub sealed_by: Option<String>,
}

fn field(label: &str, value: impl Into<String>) -> Block {
    Block::Field {
        label: label.into(),
        value: value.into(),
        mono: false,
    }
}

fn mono(label: &str, value: impl Into<String>) -> Block {
    Block::Field {
        label: label.into(),
        value: value.into(),
        mono: true,
    }
}

fn trust_words(level: TrustLevel) -> &'static str {
    match level {
        TrustLevel::Ceremony => {
            "ceremony: made in a multi-party setup; a forgery needs every contributor to collude"
        }
        TrustLevel::InsecureDev => {
            "INSECURE-DEV: made by one party for development; whoever made it can forge a proof \
             of any statement, so this certificate is not evidence against that party"
        }
        TrustLevel::DemoCeremony => {
            "DEMO ceremony: made in a multi-party setup whose contributors were all Letro's \
             developers, for demonstrations and tests; together they could forge a proof of any \
             statement, so this certificate is not evidence against them"
        }
        TrustLevel::UserSupplied => {
            "user-supplied: its provenance is unknown, and whoever made it may be able to forge \
             proofs"
        }
        _ => "unknown to this software: treat the proof as unverified",
    }
}

fn witnesses(cs: Option<&[WitnessCosignature]>) -> String {
    match cs {
        None => "not checked: no witness policy was given when this certificate was made".into(),
        Some([]) => "the witness policy requires none".into(),
        Some(cs) => cs
            .iter()
            .map(|c| format!("{} at {} (its clock)", c.policy_name, when(c.time)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn time_stamps(outcomes: &[TokenOutcome]) -> String {
    if outcomes.is_empty() {
        return "none: every time on this page is the operator's clock, the recipient's \
                signed time, or a witness's clock"
            .into();
    }
    outcomes
        .iter()
        .map(|o| match o {
            TokenOutcome::Trusted(s) => format!(
                "{} at {} (RFC 3161, the TSA's clock; trusted through {})",
                s.signer,
                when(s.time),
                s.anchor.as_deref().unwrap_or("a trusted certificate")
            ),
            TokenOutcome::Untrusted { stamp, .. } => format!(
                "{} states {}: intact, but its authority was not among the trusted ones when \
                 this certificate was made",
                stamp.signer,
                when(stamp.time)
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn attachment(
    name: &str,
    mime: &str,
    relationship: Relationship,
    description: &str,
    bytes: &[u8],
) -> Attachment {
    Attachment {
        name: name.into(),
        mime: mime.into(),
        description: description.into(),
        relationship,
        bytes: bytes.to_vec(),
    }
}

/// The supplements of a document: its signed checkpoint and its time-stamp tokens, copied out
/// so that each can be read on its own (`letro-verify` checks they are the document's own).
fn supplements(checkpoint: &str, tokens: &[Vec<u8>], of: &str, out: &mut Vec<Attachment>) {
    out.push(attachment(
        "checkpoint.txt",
        "text/plain",
        Relationship::Supplement,
        &format!(
            "The log's signed checkpoint (C2SP signed note) with its cosignatures, as in the {of}"
        ),
        checkpoint.as_bytes(),
    ));
    for (i, t) in tokens.iter().enumerate() {
        out.push(attachment(
            &format!("timestamp-{}.tsr", i + 1),
            "application/timestamp-reply",
            Relationship::Supplement,
            &format!(
                "An RFC 3161 time-stamp token (DER) over the checkpoint's body, as in the {of}"
            ),
            t,
        ));
    }
}

/// The document around `blocks` and `attachments`, with the title block and footer every
/// certificate has.
fn document(
    title: String,
    origin: &str,
    footer: String,
    blocks: Vec<Block>,
    attachments: Vec<Attachment>,
    issue: &Issue,
) -> Document {
    Document {
        title,
        subtitle: format!(
            "Registered electronic delivery  ·  log {origin}  ·  certificate made {}",
            when(issue.at)
        ),
        blocks,
        attachments,
        issued_at: issue.at,
        footer,
        producer: format!("Letro evidence certificates {}", env!("CARGO_PKG_VERSION")),
    }
}

/// The closing sections every certificate has: who gets which document, how to check it,
/// and the list of attachments.
fn closing(blocks: &mut Vec<Block>, primary: &str, attachments: &[Attachment], issue: &Issue) {
    blocks.push(Block::Section("Which document goes to whom".into()));
    let with_opening = attachments.iter().any(|a| a.name == "opening.json");
    if primary == "bundle.json" && with_opening {
        blocks.push(Block::Bullet(
            "This certificate embeds the opening (opening.json), so it names the recipient's \
             receipt key and Signal identity: give it only to those entitled to know the \
             recipient, such as a court. For anyone else, make a certificate of the bundle alone \
             (letro evidence certificate without --opening)."
                .into(),
        ));
    } else if primary == "bundle.json" {
        blocks.push(Block::Bullet(
            "This certificate and its attachment bundle.json may be shown to anyone who needs \
             the evidence (a court, an auditor, the other party): they contain the message's \
             fingerprint, never its content, and do not name the recipient."
                .into(),
        ));
        blocks.push(Block::Bullet(
            "The opening (opening.json, kept by the sender) reveals which receipt key, and so \
             which recipient, acknowledged the message: give it only to those entitled to know \
             the recipient."
                .into(),
        ));
    } else {
        blocks.push(Block::Bullet(
            "This certificate and its attachment evidence.json contain the message's \
             fingerprint, never its content, but they name the parties and details the \
             issuer's policy discloses (see The facts): give them to those entitled to know \
             them, such as the court or the other party."
                .into(),
        ));
    }
    blocks.push(Block::Bullet(
        "The encrypted message (the ciphertext) shows that it is the message meant: its SHA-256 \
         is the fingerprint above. It does not show the content, which only the recipient's \
         keys decrypt; to prove the content, the sender produces the plaintext by other means."
            .into(),
    ));

    blocks.push(Block::Section(
        "How anyone can check this certificate".into(),
    ));
    blocks.push(Block::Paragraph(
        "The attached documents are the evidence; this page summarises them. Anyone can check \
         them offline, without asking the issuer, with the open-source verifier letro-verify \
         and the log key the operator publishes (obtained out of band, never from this file):"
            .into(),
    ));
    blocks.push(Block::Code(
        "letro-verify certificate.pdf --log-key LOG_KEY [--policy WITNESS_POLICY] \
         [--tsa-cert TSA_CA.pem]"
            .into(),
    ));
    blocks.push(Block::Paragraph(format!(
        "letro-verify reads the attachments from the PDF, checks each step (the proof or the \
         event, the log's signature, the inclusion, the witnesses, the time-stamps) and reports \
         the trust level of every key it relied on. It does not read this page's text{}",
        match &issue.sealed_by {
            Some(by) => format!(
                ": the PDF is sealed by {by} (a PAdES signature, time-stamped when the issuer's time-stamping \
                 authority answered), which any \
                 PDF signature validator checks, so that a change to the page breaks the seal."
            ),
            None =>
                ": this copy is not sealed, so rely on the attachments, not on the page.".into(),
        }
    )));
    blocks.push(Block::Section("Attached documents".into()));
    blocks.push(Block::Paragraph(
        "Each is embedded in this PDF (a PDF reader lists them as attachments), with its SHA-256:"
            .into(),
    ));
    for a in attachments {
        blocks.push(mono(
            &format!("{} ({} bytes)", a.name, a.bytes.len()),
            hex::encode(Sha256::digest(&a.bytes)),
        ));
    }
}

/// The certificate of a verified bundle, with the opening when one was checked.
pub fn for_bundle(
    bundle: &[u8],
    delivery: &VerifiedDelivery,
    opening: Option<(&[u8], &OpenedRecipient)>,
    issue: &Issue,
) -> Result<Document, crate::CertificateError> {
    let parsed = letro_core::bundle::ParsedBundle::parse(bundle)
        .map_err(|e| crate::CertificateError::NotVerified(e.to_string()))?;
    let s = delivery.statement();
    let cp = delivery.checkpoint();
    let h = s.ciphertext_hash.to_hex();
    let f = findings(delivery, opening.map(|(_, r)| r));

    let mut blocks = vec![Block::Paragraph(format!(
        "This certificate states that the registered message whose encrypted form has the \
         SHA-256 fingerprint below was handed over to its recipient, who acknowledged it with \
         a signed receipt at a time between {} and {}. The acknowledgement is recorded in the \
         append-only delivery log {}. A zero-knowledge proof shows this without revealing {}.",
        when(s.not_before),
        when(s.not_after),
        cp.origin,
        if opening.is_some() {
            "the message's content or the exact time"
        } else {
            "the message's content, the exact time or who the recipient is"
        }
    ))];
    match delivery.trust_level() {
        TrustLevel::Ceremony => {}
        level => blocks.push(Block::Warning(format!(
            "Not evidence against the maker of the proof's keys: {}.",
            trust_words(level)
        ))),
    }
    blocks.push(Block::Section("The facts".into()));
    blocks.push(field(
        "Event",
        format!(
            "Retrieved: the recipient acknowledged receipt (ETSI EN 319 522: {})",
            LifecycleEvent::Retrieved.etsi_event()
        ),
    ));
    blocks.push(mono("Message (SHA-256 of the ciphertext)", &h));
    blocks.push(field(
        "Time of delivery",
        match delivery.time_bounds() {
            Some(b) => format!(
                "between {} and {} (the window is proven; the upper bound {} also rests on the \
                 operator's clock)",
                when(b.earliest),
                when(s.not_after),
                when(b.latest())
            ),
            None => format!("between {} and {}", when(s.not_before), when(s.not_after)),
        },
    ));
    match opening {
        None => blocks.push(field(
            "Recipient",
            "not disclosed: the proof names only a commitment to the recipient's receipt key; \
             the opening, when given to a court, names the key",
        )),
        Some((_, r)) => {
            blocks.push(mono("Recipient's receipt key", &r.fingerprint));
            blocks.push(mono(
                "Certified by the Signal identity key",
                r.identity_key
                    .as_deref()
                    .unwrap_or("none: the opening carries no certificate"),
            ));
        }
    }
    blocks.push(field(
        "Sender",
        "not stated by the proof; the sender is whoever holds this bundle from the issuer",
    ));
    blocks.push(field(
        "Delivery log",
        format!(
            "{}, checkpoint of {} entries published {} and signed by {}",
            cp.origin,
            cp.size,
            when(cp.time),
            delivery.log_signers().join(", ")
        ),
    ));
    blocks.push(field("Witnesses", witnesses(delivery.cosignatures())));
    blocks.push(field(
        "Independent time",
        time_stamps(delivery.timestamps()),
    ));
    if let Some(t) = trusted_time(delivery.timestamps()) {
        blocks.push(field(
            "Delivered no later than",
            format!("{} by a trusted TSA's clock", when(t.latest)),
        ));
    }
    blocks.push(mono(
        "Proof's verifying key",
        format!(
            "{} ({})",
            hex::encode(delivery.key_sha256()),
            delivery.version()
        ),
    ));
    blocks.push(field(
        "Trust level of that key",
        trust_words(delivery.trust_level()),
    ));

    blocks.push(Block::Section("What was checked".into()));
    blocks.push(Block::Paragraph(format!(
        "When this certificate was made, every check of the bundle passed: its form, its \
         verifying key, the log's signature on the checkpoint, the log root and the time window, \
         the public inputs, the Groth16 proof and the RFC 3161 time-stamps{}. In the \
         verifier's words: {}.",
        if opening.is_some() {
            ", and the opening of the recipient commitment"
        } else {
            ""
        },
        f.shows.join("; ")
    )));
    blocks.push(Block::Section("What this evidence does not prove".into()));
    blocks.extend(
        f.caveats
            .iter()
            .map(|c| Block::Bullet(capitalise(c.message()))),
    );

    let mut attachments = vec![attachment(
        "bundle.json",
        "application/json",
        Relationship::Source,
        "The proof-of-delivery bundle (delivered-within): the statement, the Groth16 proof and \
         the signed checkpoint",
        bundle,
    )];
    supplements(
        &parsed.checkpoint_text(),
        &parsed.timestamps,
        "bundle",
        &mut attachments,
    );
    if let Some((bytes, _)) = opening {
        attachments.push(attachment(
            "opening.json",
            "application/json",
            Relationship::Supplement,
            "The opening of the recipient commitment: it reveals the recipient's receipt key",
            bytes,
        ));
    }
    closing(&mut blocks, "bundle.json", &attachments, issue);
    Ok(document(
        "Evidence certificate: proof of delivery".into(),
        &cp.origin,
        format!("Letro evidence certificate  ·  message {}", short(&h)),
        blocks,
        attachments,
        issue,
    ))
}

fn short(h: &str) -> String {
    h.chars().take(16).collect::<String>() + "…"
}

fn capitalise(s: &str) -> String {
    let s = s.trim();
    let mut c = s.chars();
    let first: String = c
        .next()
        .map(|f| f.to_uppercase().collect())
        .unwrap_or_default();
    let rest = c.as_str();
    if rest.ends_with('.') {
        format!("{first}{rest}")
    } else {
        format!("{first}{rest}.")
    }
}

fn event_title(e: LifecycleEvent) -> &'static str {
    match e {
        LifecycleEvent::SubmissionAccepted => "submission accepted",
        LifecycleEvent::SubmissionRejected => "submission rejected",
        LifecycleEvent::MadeAvailable => "made available to the recipient",
        LifecycleEvent::Retrieved => "retrieved by the recipient",
        LifecycleEvent::Refused => "refused by the recipient",
        LifecycleEvent::Expired => "not retrieved before the retention period ended",
    }
}

/// The certificate of a verified evidence record.
pub fn for_evidence(
    record: &[u8],
    v: &VerifiedEvidence,
    issue: &Issue,
) -> Result<Document, crate::CertificateError> {
    let r = &v.record;
    let event = r.facts.event();
    let h = r.ciphertext_hash.to_hex();
    let cp = &v.checkpoint;
    let mut blocks = vec![Block::Paragraph(format!(
        "This certificate states that the event \"{}\" happened to the registered message whose \
         encrypted form has the SHA-256 fingerprint below, and that the event is recorded in \
         the append-only delivery log {} under the issuer's evidence policy {}. The message's \
         content is not part of this evidence.",
        event_title(event),
        cp.origin,
        r.policy
    ))];
    blocks.push(Block::Section("The facts".into()));
    blocks.push(field(
        "Event",
        format!(
            "{} ({}; ETSI EN 319 522: {})",
            capitalise(event_title(event)).trim_end_matches('.'),
            event.name(),
            event.etsi_event()
        ),
    ));
    blocks.push(mono("Message (SHA-256 of the ciphertext)", &h));
    let event_time = match (r.facts.time(), r.facts.time_signed_by_recipient()) {
        (Some(t), true) => format!("{} (as signed by the recipient)", when(t)),
        (Some(t), false) => format!("{} (the operator's clock)", when(t)),
        (None, _) => format!(
            "no later than {}, when the log's checkpoint that includes it was published",
            when(cp.time)
        ),
    };
    blocks.push(field("Time of the event", event_time));
    match &r.facts {
        EventFacts::SubmissionAccepted { sender, routing } => {
            blocks.push(field("Sender (account)", sender.as_str()));
            blocks.push(field("Recipient (account)", routing.as_str()));
        }
        EventFacts::SubmissionRejected { sender, reason, .. } => {
            blocks.push(field("Sender (account)", sender.as_str()));
            blocks.push(field("Reason", reason.name()));
        }
        EventFacts::MadeAvailable { routing, .. } => {
            blocks.push(field("Recipient (account)", routing.as_str()));
        }
        EventFacts::Retrieved { .. } => {}
        EventFacts::Refused { reason, .. } => {
            blocks.push(field(
                "Recipient's reason",
                reason.as_deref().unwrap_or("none given"),
            ));
        }
        EventFacts::Expired { retention, .. } => {
            blocks.push(field(
                "Retention period",
                format!("{retention} seconds ({} days)", retention / 86_400),
            ));
        }
    }
    if let Some(k) = &v.identity_key {
        blocks.push(mono(
            "Signed with a receipt key certified by the Signal identity key",
            hex::encode(k),
        ));
    }
    blocks.push(field(
        "Delivery log",
        format!(
            "{}, entry {} in a checkpoint of {} entries published {} and signed by {}",
            cp.origin,
            r.leaf_index,
            cp.size,
            when(cp.time),
            v.signers.join(", ")
        ),
    ));
    blocks.push(field("Witnesses", witnesses(v.cosignatures.as_deref())));
    blocks.push(field("Independent time", time_stamps(&v.timestamps)));
    if let Some(t) = trusted_time(&v.timestamps) {
        blocks.push(field(
            "Happened no later than",
            format!("{} by a trusted TSA's clock", when(t.latest)),
        ));
    }
    blocks.push(field("Issuer's evidence policy", r.policy.as_str()));

    blocks.push(Block::Section("What was checked".into()));
    for s in evidence_shows(v) {
        let s = s.trim_start();
        let s = s.strip_prefix("verified: ").unwrap_or(s);
        blocks.push(Block::Bullet(capitalise(s)));
    }
    blocks.push(Block::Section("What this evidence does not prove".into()));
    blocks.extend(
        evidence_not_shown(v)
            .iter()
            .map(|s| Block::Bullet(capitalise(s))),
    );

    let mut attachments = vec![attachment(
        "evidence.json",
        "application/json",
        Relationship::Source,
        "The evidence record (letro-evidence/v1): the event, its inclusion proof and the signed \
         checkpoint",
        record,
    )];
    supplements(&r.checkpoint, &r.timestamps, "record", &mut attachments);
    closing(&mut blocks, "evidence.json", &attachments, issue);
    Ok(document(
        format!("Evidence certificate: {}", event_title(event)),
        &cp.origin,
        format!(
            "Letro evidence certificate  ·  {}  ·  message {}",
            event.name(),
            short(&h)
        ),
        blocks,
        attachments,
        issue,
    ))
}

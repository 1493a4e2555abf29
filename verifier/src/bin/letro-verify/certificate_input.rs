//! Evidence certificates (PDF) as input: the documents a certificate embeds are read out of the
//! PDF ([`letro_verifier::pdf`]) and verified like the files themselves.
//!
//! What is checked here, before the documents' own checks:
//! 1. the PDF is readable and its attachments are exactly those Letro writes: one main
//!    document (`bundle.json` or `evidence.json`), its `checkpoint.txt`, its time-stamp tokens
//!    `timestamp-1.tsr`, ... and, with a bundle, optionally `opening.json`;
//! 2. `checkpoint.txt` and every token are byte for byte the ones in the main document (so
//!    that someone reading the attachments one by one sees what was verified).
//!
//! Not checked: the page text and the PDF's seal. The report says so; a PDF signature
//! validator checks the seal, which covers the page.

use letro_core::bundle::ParsedBundle;
use letro_core::evidence::EvidenceRecord;
use letro_verifier::pdf::{attachments, Attachment};

use super::{Check, Failure};

/// The documents read from a certificate.
pub(crate) struct Unpacked {
    /// The main document: a bundle or an evidence record.
    pub(crate) document: Vec<u8>,
    /// The bundle's opening, when the certificate embeds it.
    pub(crate) opening: Option<Vec<u8>>,
    /// The check that reports the above.
    pub(crate) check: Check,
}

/// The exit code for a certificate that could not be read, and the failure.
pub(crate) type Refusal = (u8, Failure);

fn malformed(message: String, hint: &str) -> Refusal {
    (3, Failure::new("Certificate.Malformed", message, hint))
}

fn take(files: &mut Vec<Attachment>, name: &str) -> Option<Vec<u8>> {
    let i = files.iter().position(|a| a.name == name)?;
    Some(files.remove(i).bytes)
}

/// Reads the documents of the certificate `pdf`.
pub(crate) fn unpack(pdf: &[u8]) -> Result<Unpacked, Refusal> {
    let mut files = attachments(pdf).map_err(|e| {
        malformed(
            format!("the PDF's attachments cannot be read: {e}"),
            "pass the certificate as the issuer wrote it (a PDF re-saved by another program may \
             be rewritten in a form letro-verify does not read; the issuer can send it again)",
        )
    })?;
    let names: Vec<String> = files.iter().map(|a| a.name.clone()).collect();
    let (document, checkpoint, tokens) =
        match (
            take(&mut files, "bundle.json"),
            take(&mut files, "evidence.json"),
        ) {
            (Some(b), None) => {
                let parsed = ParsedBundle::parse(&b).ok();
                (
                    b,
                    parsed.as_ref().map(ParsedBundle::checkpoint_text),
                    parsed.map(|p| p.timestamps),
                )
            }
            (None, Some(e)) => {
                let parsed = EvidenceRecord::parse(&e).ok();
                (
                    e,
                    parsed.as_ref().map(|r| r.checkpoint.clone()),
                    parsed.map(|r| r.timestamps),
                )
            }
            (Some(_), Some(_)) => return Err(malformed(
                "the PDF embeds both a bundle and an evidence record".into(),
                "a certificate states one document: ask the issuer for the original certificate",
            )),
            (None, None) => return Err(malformed(
                format!(
                    "the PDF embeds no Letro document (bundle.json or evidence.json); its \
                     attachments: {names:?}"
                ),
                "this is not a Letro evidence certificate, or its attachments were removed: ask \
                 the issuer for the original certificate",
            )),
        };
    let opening = take(&mut files, "opening.json");
    let mut supplements = 0;
    if let Some(cp) = take(&mut files, "checkpoint.txt") {
        supplements += 1;
        if checkpoint
            .as_ref()
            .is_some_and(|c| c.as_bytes() != cp.as_slice())
        {
            return Err(mismatch("checkpoint.txt", "checkpoint"));
        }
    }
    let mut i = 1;
    while let Some(t) = take(&mut files, &format!("timestamp-{i}.tsr")) {
        supplements += 1;
        if tokens.as_ref().is_some_and(|ts| ts.get(i - 1) != Some(&t)) {
            return Err(mismatch(&format!("timestamp-{i}.tsr"), "time-stamp token"));
        }
        i += 1;
    }
    if let Some(ts) = &tokens {
        if ts.len() >= i {
            return Err((
                1,
                Failure::new(
                    "Certificate.Mismatch",
                    format!(
                        "the main document carries {} time-stamp tokens, the PDF embeds {} of them",
                        ts.len(),
                        i - 1
                    ),
                    "an attachment was removed: ask the issuer for the original certificate",
                ),
            ));
        }
    }
    if let Some(extra) = files.first() {
        return Err(malformed(
            format!(
                "the PDF embeds {:?}, which is not a document Letro certificates carry",
                extra.name
            ),
            "letro-verify checks certificates as the issuer wrote them; a document added later \
             is not part of the evidence: ask the issuer for the original certificate",
        ));
    }
    let main = if opening.is_some() {
        "the main document and its opening are"
    } else {
        "the main document is"
    };
    let check = Check::passed(
        "0 certificate (PDF)",
        format!(
            "{} attachments read ({}); {main} checked below, and the {supplements} \
             supplementary ones are byte for byte the main document's own; the page text and the PDF \
             seal are NOT checked by letro-verify (a PDF signature validator checks the seal)",
            names.len(),
            names.join(", ")
        ),
    );
    Ok(Unpacked {
        document,
        opening,
        check,
    })
}

fn mismatch(name: &str, what: &str) -> Refusal {
    (
        1,
        Failure::new(
            "Certificate.Mismatch",
            format!("the attachment {name} is not the {what} in the main document"),
            "an attachment was altered or replaced: ask the issuer for the original certificate",
        ),
    )
}

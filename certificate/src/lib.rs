//! Evidence certificates (SPEC §5.14): a PDF/A-3b document a judge or a clerk can read, stating
//! in plain words what a verified bundle or evidence record proves and what it does not, with
//! the machine-checkable documents embedded as attachments, so that `letro-verify` can check
//! the certificate itself.
//!
//! A certificate is only ever made from documents that verified first ([`content`]): the page
//! says what the checks established, in the verifier's own sentences, and the trust level of
//! every key relied on. The issuer can seal it ([`seal`]): a PAdES signature
//! (`ETSI.CAdES.detached`) by its evidence-seal key, with an RFC 3161 time-stamp on the
//! signature when a time-stamping authority answers.
//!
//! The page is a summary for people; the attachments are the evidence. `letro-verify` checks
//! the attachments and says that it did not check the page text (the seal covers it).

pub mod content;
mod pdf;
pub mod seal;

/// One laid-out element of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A section title with a rule under it.
    Section(String),
    /// A paragraph of body text.
    Paragraph(String),
    /// A bulleted sentence.
    Bullet(String),
    /// A warning the reader must not miss, in bold between rules.
    Warning(String),
    /// A line of monospaced text (a command).
    Code(String),
    /// A label and its value, in two columns; `mono` for hashes and keys.
    Field {
        /// The label.
        label: String,
        /// The value.
        value: String,
        /// Whether the value is set in the monospaced face.
        mono: bool,
    },
}

/// How an attachment relates to the certificate (PDF/A-3 `AFRelationship`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    /// The document the certificate states (the bundle or the evidence record).
    Source,
    /// A document that supports it (the checkpoint, a time-stamp token, the opening).
    Supplement,
}

/// A document embedded in the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name (`bundle.json`, `evidence.json`, `opening.json`, `checkpoint.txt`,
    /// `timestamp-1.tsr`).
    pub name: String,
    /// Its MIME type.
    pub mime: String,
    /// A sentence saying what it is.
    pub description: String,
    /// Source or supplement.
    pub relationship: Relationship,
    /// The bytes, exactly as issued.
    pub bytes: Vec<u8>,
}

/// A certificate before it is written: its text and its attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The title (also the PDF's `dc:title`).
    pub title: String,
    /// The line under the title.
    pub subtitle: String,
    /// The body.
    pub blocks: Vec<Block>,
    /// The embedded documents.
    pub attachments: Vec<Attachment>,
    /// When the certificate was made (Unix seconds).
    pub issued_at: u64,
    /// The footer of every page.
    pub footer: String,
    /// The producing software, for the metadata.
    pub producer: String,
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A built-in font could not be read or subset.
    #[error("font: {0}")]
    Font(String),
    /// A time is outside what a PDF date can say.
    #[error("time {0} cannot be written as a date")]
    Time(u64),
    /// The document to certify did not verify: no certificate is made for it.
    #[error("the document did not verify, so no certificate is made: {0}")]
    NotVerified(String),
    /// The seal could not be made.
    #[error("seal: {0}")]
    Seal(#[from] seal::SealError),
}

/// Writes `doc` as an unsealed PDF/A-3b certificate.
pub fn render(doc: &Document) -> Result<Vec<u8>, CertificateError> {
    pdf::write(doc, None)
}

pub use letro_verifier::evidence::is_evidence_record;

/// Verifies `document` (a bundle, with its `opening` when given, or an evidence record) with
/// `verifier` and, only when every check passed, returns its certificate.
pub fn certify(
    verifier: &letro_verifier::Verifier,
    document: &[u8],
    opening: Option<&[u8]>,
    issue: &content::Issue,
) -> Result<Document, CertificateError> {
    if is_evidence_record(document) {
        if opening.is_some() {
            return Err(CertificateError::NotVerified(
                "an opening belongs to a bundle, not to an evidence record".into(),
            ));
        }
        let v = verifier
            .verify_evidence(document)
            .map_err(|e| CertificateError::NotVerified(format!("{} ({})", e, e.code())))?;
        return content::for_evidence(document, &v, issue);
    }
    let delivery = verifier
        .verify(document)
        .map_err(|e| CertificateError::NotVerified(format!("{} ({})", e, e.code())))?;
    let opened = match opening {
        None => None,
        Some(bytes) => Some((
            bytes,
            letro_verifier::checks::check_opening_for(bytes, &delivery).map_err(|e| {
                CertificateError::NotVerified(format!("the opening: {e} ({})", e.code()))
            })?,
        )),
    };
    content::for_bundle(
        document,
        &delivery,
        opened.as_ref().map(|(b, r)| (*b, r)),
        issue,
    )
}

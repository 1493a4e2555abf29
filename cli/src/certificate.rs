//! `letro evidence certificate`: the PDF/A-3 evidence certificate of a bundle (with or without
//! its opening) or of an evidence record, made only after the document verified.

use std::path::PathBuf;

use letro_certificate::content::Issue;
use letro_verifier::{TrustPolicy, Verifier};

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};

/// What `letro evidence certificate` takes.
#[derive(Debug, clap::Args)]
pub struct CertificateArgs {
    /// The bundle or evidence record (`-`: standard input).
    pub document: String,
    /// The bundle's opening: the certificate then names the recipient's receipt key.
    #[arg(long, value_name = "FILE")]
    pub opening: Option<PathBuf>,
    /// The log's key (a C2SP vkey, or a file holding it). Repeatable.
    #[arg(long = "log-key", value_name = "KEY")]
    pub log_keys: Vec<String>,
    /// A C2SP tlog-policy file: the checkpoint must carry its witness quorum.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A PEM file of trusted TSA certificates. Repeatable.
    #[arg(long = "tsa-cert", value_name = "PEM")]
    pub tsa_certs: Vec<PathBuf>,
    /// Certify bundles proved under INSECURE-DEV keys (the certificate says so).
    #[arg(long)]
    pub accept_insecure_dev_keys: bool,
    /// Certify bundles proved under the built-in DEMO ceremony keys, whose contributors were
    /// all Letro's developers (the certificate says so).
    #[arg(long)]
    pub accept_demo_ceremony_keys: bool,
    /// The PDF to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
}

fn read_file(p: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(p).map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", p.display())))
}

fn verifier(a: &CertificateArgs) -> Result<Verifier, CliError> {
    let mut keys = Vec::new();
    for k in &a.log_keys {
        keys.push(crate::monitor::read_vkey(k)?);
    }
    let mut v = Verifier::new(keys)
        .map_err(|e| CliError::new(EXIT_FAILED, format!("built-in verifying key: {e}")))?
        .with_trust_policy(TrustPolicy {
            accept_insecure_dev: a.accept_insecure_dev_keys,
            accept_demo_ceremony: a.accept_demo_ceremony_keys,
            accept_user_supplied: false,
        });
    if let Some(p) = &a.policy {
        let policy = letro_log::policy::Policy::parse(&read_file(p)?)
            .map_err(|e| CliError::new(EXIT_INPUT, format!("--policy {}: {e}", p.display())))?;
        v = v.with_witness_policy(policy);
    }
    for p in &a.tsa_certs {
        let certs =
            letro_verifier::timestamps::certificates_from_pem(&read_file(p)?).map_err(|e| {
                CliError::new(EXIT_INPUT, format!("--tsa-cert {}: {e}", p.display()))
                    .hint("a PEM file with the TSA's CA certificate (-----BEGIN CERTIFICATE-----)")
            })?;
        v = v.with_tsa_certificates(certs);
    }
    Ok(v)
}

/// Verifies the document and writes its certificate.
pub fn run(a: CertificateArgs) -> Result<(), CliError> {
    if a.log_keys.is_empty() {
        return Err(CliError::new(EXIT_USAGE, "no --log-key given").hint(
            "the certificate states what verified: give the log's key (letro log key prints it)",
        ));
    }
    let verifier = verifier(&a)?;
    let document = crate::files::read_input(&a.document)?;
    let opening = a.opening.as_ref().map(read_file).transpose()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let issue = Issue {
        at: now,
        sealed_by: None,
    };
    let doc = letro_certificate::certify(&verifier, &document, opening.as_deref(), &issue)
        .map_err(|e| {
            CliError::new(EXIT_FAILED, format!("{}: {e}", a.document)).hint(
                "check the document with letro-verify first; a certificate is only made for \
                 what verifies (the built-in keys need --accept-demo-ceremony-keys, the first \
                 v2 keys --accept-insecure-dev-keys)",
            )
        })?;
    let pdf = letro_certificate::render(&doc)
        .map_err(|e| CliError::new(EXIT_FAILED, format!("writing the certificate: {e}")))?;
    crate::files::write_output(&a.out, &pdf, a.force, false)?;
    eprintln!(
        "wrote {} ({} bytes, {} attachments): check it with letro-verify {} --log-key ...",
        a.out.display(),
        pdf.len(),
        doc.attachments.len(),
        a.out.display()
    );
    Ok(())
}

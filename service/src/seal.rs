//! The evidence-seal key: the key the service seals evidence certificates with (PAdES, see
//! `letro_certificate::seal`), and its X.509 certificate chain.
//!
//! A deployment that issues certificates for courts gives a key and a certificate from a CA
//! its readers trust (in the EU, a qualified certificate for electronic seals from a qualified
//! trust service provider): settings `evidence_seal_key` (PKCS#8 PEM, ECDSA P-256, mode 0600)
//! and `evidence_seal_certificate` (PEM, the seal's certificate first, then its CA chain).
//! Without them the service creates, on first start, `DATA/evidence-seal.key` and a
//! self-signed `DATA/evidence-seal.pem` (subject `CN=<origin> evidence seal`, ten years): the
//! seal then shows only that the file is unchanged since this service sealed it, and readers
//! must pin that certificate to know who sealed it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use letro_certificate::seal::Sealer;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// The seal key's file in the data directory when none is configured.
pub const SEAL_KEY_FILE: &str = "evidence-seal.key";
/// Its self-signed certificate's file.
pub const SEAL_CERTIFICATE_FILE: &str = "evidence-seal.pem";

/// Why the seal key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum SealKeyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file may be read by group or others.
    #[error("{path}: mode {mode:o} lets others read the seal key; chmod 600 it")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// The files do not hold a usable key and chain.
    #[error("{0}")]
    Invalid(String),
    /// Only one of the key and the certificate was configured.
    #[error("evidence_seal_key and evidence_seal_certificate go together: set both or neither")]
    Incomplete,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SealKeyError + '_ {
    move |source| SealKeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Loads the configured key and chain, or the data directory's (creating a self-signed pair
/// on first start).
pub fn load_or_create(
    data_dir: &Path,
    origin: &str,
    key: Option<&Path>,
    certificate: Option<&Path>,
) -> Result<Sealer, SealKeyError> {
    let (key_path, cert_path) = match (key, certificate) {
        (Some(k), Some(c)) => (k.to_path_buf(), c.to_path_buf()),
        (None, None) => {
            let k = data_dir.join(SEAL_KEY_FILE);
            let c = data_dir.join(SEAL_CERTIFICATE_FILE);
            if !k.exists() {
                create(&k, &c, origin)?;
            }
            (k, c)
        }
        _ => return Err(SealKeyError::Incomplete),
    };
    load(&key_path, &cert_path, origin)
}

fn load(key_path: &Path, cert_path: &Path, origin: &str) -> Result<Sealer, SealKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(key_path)
        .map_err(io(key_path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(SealKeyError::Permissions {
            path: key_path.display().to_string(),
            mode,
        });
    }
    let pem = zeroize::Zeroizing::new(std::fs::read(key_path).map_err(io(key_path))?);
    let key = PrivatePkcs8KeyDer::from_pem_slice(&pem).map_err(|e| {
        SealKeyError::Invalid(format!(
            "{}: not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----): {e}",
            key_path.display()
        ))
    })?;
    let chain_pem = std::fs::read(cert_path).map_err(io(cert_path))?;
    let chain = CertificateDer::pem_slice_iter(&chain_pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            SealKeyError::Invalid(format!(
                "{}: not PEM certificates: {e}",
                cert_path.display()
            ))
        })?;
    Sealer::new(key.secret_pkcs8_der(), &chain, origin).map_err(|e| {
        SealKeyError::Invalid(format!(
            "{} with {}: {e}",
            key_path.display(),
            cert_path.display()
        ))
    })
}

/// Makes a fresh ECDSA P-256 key (mode 0600) and a self-signed certificate for it.
fn create(key_path: &Path, cert_path: &Path, origin: &str) -> Result<(), SealKeyError> {
    let invalid = |e: rcgen::Error| SealKeyError::Invalid(format!("making the seal key: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(invalid)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(invalid)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{origin} evidence seal"));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::ContentCommitment,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(3653);
    let cert = params.self_signed(&key).map_err(invalid)?;
    let pem = zeroize::Zeroizing::new(key.serialize_pem());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key_path)
        .map_err(io(key_path))?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(key_path))?;
    let mut c = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(cert_path)
        .map_err(io(cert_path))?;
    c.write_all(cert.pem().as_bytes())
        .and_then(|()| c.sync_all())
        .map_err(io(cert_path))?;
    Ok(())
}

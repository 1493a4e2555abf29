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
    // Without a basic-constraints choice rcgen 0.13 writes no extensions at all, key usage
    // included: say "not a CA", which also makes it write the key usage.
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
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

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;

    const ORIGIN: &str = "seal.example.invalid";

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// The DER of the first certificate in a PEM file.
    fn certificate_der(path: &Path) -> Vec<u8> {
        CertificateDer::pem_file_iter(path)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .as_ref()
            .to_vec()
    }

    /// The self-signed pair `load_or_create` makes in a fresh data directory.
    fn created() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path(), ORIGIN, None, None).unwrap();
        let key = dir.path().join(SEAL_KEY_FILE);
        let cert = dir.path().join(SEAL_CERTIFICATE_FILE);
        (dir, key, cert)
    }

    /// A sealed certificate from `sealer`: its CMS (uppercase hex in `/Contents`) carries the
    /// seal's certificate chain.
    fn seal_with(sealer: &Sealer) -> Vec<u8> {
        let doc = letro_certificate::Document {
            title: "Seal key test".into(),
            subtitle: "Sealed by the service's key".into(),
            blocks: vec![letro_certificate::Block::Paragraph(
                "Nothing to see.".into(),
            )],
            attachments: Vec::new(),
            issued_at: 1_795_000_000,
            footer: "test".into(),
            producer: "letro-service tests".into(),
        };
        letro_certificate::seal::prepare(&doc, sealer, 1_795_000_000)
            .unwrap()
            .finish(None)
            .unwrap()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn created_once_private_and_reloaded_to_the_same_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(SEAL_KEY_FILE);
        let cert = dir.path().join(SEAL_CERTIFICATE_FILE);
        assert!(!key.exists() && !cert.exists());

        let first = load_or_create(dir.path(), ORIGIN, None, None).unwrap();
        assert_eq!(first.name(), ORIGIN);
        assert_eq!(mode(&key), 0o600, "the key is readable by its owner only");
        let key_pem = std::fs::read(&key).unwrap();
        let cert_pem = std::fs::read(&cert).unwrap();
        assert!(key_pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
        let der = certificate_der(&cert);
        let subject = format!("{ORIGIN} evidence seal");
        assert!(
            contains(&der, subject.as_bytes()),
            "CN=<origin> evidence seal"
        );

        // A second start loads the same pair instead of making another.
        let second = load_or_create(dir.path(), ORIGIN, None, None).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), key_pem);
        assert_eq!(std::fs::read(&cert).unwrap(), cert_pem);
        assert_eq!(mode(&key), 0o600);
        // Both seal with that certificate (the CMS carries it: its DER, hex in /Contents).
        let der_hex = hex::encode_upper(&der);
        assert!(contains(&seal_with(&first), der_hex.as_bytes()));
        assert!(contains(&seal_with(&second), der_hex.as_bytes()));

        // The same files given as settings load too.
        let configured = load_or_create(
            Path::new("/nonexistent-data-dir"),
            "configured.example.invalid",
            Some(&key),
            Some(&cert),
        )
        .unwrap();
        assert_eq!(configured.name(), "configured.example.invalid");
        assert!(contains(&seal_with(&configured), der_hex.as_bytes()));

        // Another data directory gets another key and certificate.
        let (_other_dir, other_key, other_cert) = created();
        assert_ne!(std::fs::read(other_key).unwrap(), key_pem);
        assert_ne!(certificate_der(&other_cert), der);
    }

    #[test]
    fn a_key_others_may_read_is_refused() {
        let (dir, key, cert) = created();
        for bad in [0o644, 0o640, 0o604, 0o660] {
            chmod(&key, bad);
            let e = load_or_create(dir.path(), ORIGIN, None, None).unwrap_err();
            assert!(
                matches!(&e, SealKeyError::Permissions { mode, path } if *mode == bad && path.ends_with(SEAL_KEY_FILE)),
                "{bad:o}: {e:?}"
            );
            let e = load_or_create(dir.path(), ORIGIN, Some(&key), Some(&cert)).unwrap_err();
            assert!(
                matches!(e, SealKeyError::Permissions { mode, .. } if mode == bad),
                "{bad:o}: {e:?}"
            );
        }
        // 0400 is as good as 0600; the refused key was left as it was.
        chmod(&key, 0o400);
        assert!(load_or_create(dir.path(), ORIGIN, None, None).is_ok());
    }

    #[test]
    fn key_and_certificate_go_together() {
        let (_dir, key, cert) = created();
        let data = tempfile::tempdir().unwrap();
        for (k, c) in [(Some(key.as_path()), None), (None, Some(cert.as_path()))] {
            let e = load_or_create(data.path(), ORIGIN, k, c).unwrap_err();
            assert!(matches!(e, SealKeyError::Incomplete), "{e:?}");
        }
        // Nothing was made in the data directory instead.
        assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_certificate_of_another_key_is_invalid() {
        let (_a, key_a, cert_a) = created();
        let (_b, key_b, cert_b) = created();
        assert!(load_or_create(Path::new("/"), ORIGIN, Some(&key_a), Some(&cert_a)).is_ok());
        for (key, cert) in [(&key_a, &cert_b), (&key_b, &cert_a)] {
            let e = load_or_create(Path::new("/"), ORIGIN, Some(key), Some(cert)).unwrap_err();
            assert!(
                matches!(&e, SealKeyError::Invalid(m) if m.contains("not the seal key's")),
                "{e:?}"
            );
        }
        // The right certificate after another one is not enough: the seal's comes first.
        let dir = tempfile::tempdir().unwrap();
        let chain = dir.path().join("chain.pem");
        let mut both = std::fs::read(&cert_b).unwrap();
        both.extend(std::fs::read(&cert_a).unwrap());
        std::fs::write(&chain, both).unwrap();
        let e = load_or_create(Path::new("/"), ORIGIN, Some(&key_a), Some(&chain)).unwrap_err();
        assert!(matches!(e, SealKeyError::Invalid(_)), "{e:?}");
    }

    #[test]
    fn garbage_pem_is_invalid() {
        let (_dir, key, cert) = created();
        let tmp = tempfile::tempdir().unwrap();
        let garbage = tmp.path().join("garbage.pem");
        std::fs::write(&garbage, "this is not PEM\n").unwrap();
        chmod(&garbage, 0o600);
        let broken = tmp.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        chmod(&broken, 0o600);
        let bad_cert = tmp.path().join("bad-cert.pem");
        std::fs::write(
            &bad_cert,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let truncated = tmp.path().join("truncated.pem");
        let cert_pem = std::fs::read_to_string(&cert).unwrap();
        std::fs::write(&truncated, &cert_pem[..cert_pem.len() / 2]).unwrap();

        for (what, k, c) in [
            ("key not PEM", &garbage, &cert),
            ("key PEM but not PKCS#8", &broken, &cert),
            ("certificate not PEM", &key, &garbage),
            ("certificate PEM but not X.509", &key, &bad_cert),
            ("certificate PEM cut short", &key, &truncated),
            ("key given as the certificate", &key, &key),
        ] {
            let e = load_or_create(Path::new("/"), ORIGIN, Some(k), Some(c)).unwrap_err();
            assert!(matches!(e, SealKeyError::Invalid(_)), "{what}: {e:?}");
        }

        // A missing file is an I/O error naming it.
        let missing = tmp.path().join("missing.pem");
        let e = load_or_create(Path::new("/"), ORIGIN, Some(&key), Some(&missing)).unwrap_err();
        assert!(
            matches!(&e, SealKeyError::Io { path, .. } if path.ends_with("missing.pem")),
            "{e:?}"
        );
    }
}

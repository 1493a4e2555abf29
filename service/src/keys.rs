//! The relay's Ed25519 log key, in `DATA/log.key`: created on first start with mode 0600 as a
//! C2SP `PRIVATE+KEY+<origin>+...` line, refused later if other users may read it or its name is
//! not the origin. The key is never logged (`SignerKey`'s `Debug` shows only name and key ID).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use letro_log::note::{KeyError, SignerKey};
use rand::RngCore;

/// File name of the log key inside the data directory.
pub const LOG_KEY_FILE: &str = "log.key";

/// Why the log key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogKeyError {
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file may be read or written by other users.
    #[error("key file {path} has mode {mode:o}; it must not be accessible to group or others (chmod 600)")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The file does not hold a valid key, or the origin is not a valid key name.
    #[error("log key: {0}")]
    Key(#[from] KeyError),
    /// The key's name is not the configured origin.
    #[error("log key is named {key_name:?} but the origin is {origin:?}")]
    NameMismatch {
        /// The key's name.
        key_name: String,
        /// The configured origin.
        origin: String,
    },
}

/// Loads `DATA/log.key`, or creates it (mode 0600, fresh random seed) if it does not exist.
pub fn load_or_create(data_dir: &Path, origin: &str) -> Result<SignerKey, LogKeyError> {
    let path = data_dir.join(LOG_KEY_FILE);
    let created = create_secret(&path, |seed| {
        let key = SignerKey::from_seed(origin, seed)?;
        Ok((key.to_private_string(), key))
    })?;
    match created {
        Some(key) => Ok(key),
        None => load(&path, origin),
    }
}

/// Creates the secret key file `path` (mode 0600, fsynced) from a fresh 32-byte seed drawn
/// from the OS CSPRNG, with the line `encode` makes from it; `None` if the file exists.
pub(crate) fn create_secret<K>(
    path: &Path,
    encode: impl FnOnce(&[u8; 32]) -> Result<(String, K), KeyError>,
) -> Result<Option<K>, LogKeyError> {
    let shown = path.display().to_string();
    let io = |source| LogKeyError::Io {
        path: shown.clone(),
        source,
    };
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(seed.as_mut());
            let (line, key) = encode(&seed)?;
            let mut line = zeroize::Zeroizing::new(line);
            line.push('\n');
            file.write_all(line.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            Ok(Some(key))
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(io(e)),
    }
}

/// Reads a secret key file's one line, refusing it if group or others may access it.
pub(crate) fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<String>, LogKeyError> {
    let shown = path.display().to_string();
    let io = |source| LogKeyError::Io {
        path: shown.clone(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(LogKeyError::Permissions { path: shown, mode });
    }
    let mut text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    let len = text.trim_end().len();
    text.truncate(len);
    Ok(text)
}

/// Loads an existing log key file (one `PRIVATE+KEY+<origin>+...` line), refusing it if group
/// or others may access it or its name is not `origin`.
pub fn load(path: &Path, origin: &str) -> Result<SignerKey, LogKeyError> {
    let key = read(path)?;
    if key.name() != origin {
        return Err(LogKeyError::NameMismatch {
            key_name: key.name().to_owned(),
            origin: origin.to_owned(),
        });
    }
    Ok(key)
}

/// Reads an existing log key file whatever its name (for `letro log key`, and to learn the
/// origin of a data directory from before the origin was recorded), refusing it if group or
/// others may access it.
pub fn read(path: &Path) -> Result<SignerKey, LogKeyError> {
    Ok(SignerKey::parse(&read_secret(path)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_0600_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path(), "relay.example/log").unwrap();
        let mode = std::fs::metadata(dir.path().join(LOG_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = load_or_create(dir.path(), "relay.example/log").unwrap();
        assert_eq!(a.verifier_key().to_string(), b.verifier_key().to_string());
        assert!(matches!(
            load_or_create(dir.path(), "other.example/log"),
            Err(LogKeyError::NameMismatch { .. })
        ));
        std::fs::set_permissions(
            dir.path().join(LOG_KEY_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(matches!(
            load_or_create(dir.path(), "relay.example/log"),
            Err(LogKeyError::Permissions { .. })
        ));
    }

    #[test]
    fn a_given_key_file_must_exist_and_hold_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("given.key");
        assert!(matches!(
            load(&path, "relay.example/log"),
            Err(LogKeyError::Io { .. })
        ));
        assert!(!path.exists(), "a given key is never created");
        std::fs::write(&path, "not a key\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load(&path, "relay.example/log"),
            Err(LogKeyError::Key(_))
        ));
        let made = load_or_create(dir.path(), "relay.example/log").unwrap();
        let loaded = load(&dir.path().join(LOG_KEY_FILE), "relay.example/log").unwrap();
        assert_eq!(made.key_id(), loaded.key_id());
    }
}

//! The log's origin, recorded in the data directory.
//!
//! A data directory holds one log, and a log keeps its origin for ever: the origin is the first
//! line of every checkpoint and the name of the log key, and verifiers pin both. The first start
//! records it in `DATA/origin` (one line; written to a temporary file, fsynced, renamed into
//! place). After that:
//!
//! - no origin set: the recorded one is used ([`resolve`]);
//! - a different origin set: the service refuses to start ([`OriginError::Mismatch`], which says
//!   which log the directory belongs to and how to go on).
//!
//! A data directory from before the origin was recorded has no `DATA/origin` but a log key named
//! like its origin (`DATA/log.key`, or the `log_key` file): that name is adopted, and recorded at
//! the next start. With nothing recorded, no key and no origin set, the origin is
//! [`DEFAULT_ORIGIN`].

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use letro_log::note::{validate_key_name, NameError};

use crate::keys::{self, LogKeyError, LOG_KEY_FILE};

/// File name of the recorded origin inside the data directory.
pub const ORIGIN_FILE: &str = "origin";

/// The origin of a log started with none set on an empty data directory. Set a real one (the
/// relay's host name and a path, e.g. `relay.example.com/letro-log`) before the first start of
/// a log that others will verify: it cannot change afterwards.
pub const DEFAULT_ORIGIN: &str = "localhost/letro-log";

/// Most bytes read from `DATA/origin`.
const MAX_FILE: u64 = 4096;

/// Why the origin could not be read, recorded or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Reading or writing `DATA/origin` failed.
    #[error("origin file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// `DATA/origin` does not hold one valid origin line.
    #[error(
        "origin file {path} does not hold a valid origin ({reason}); it must be one line, the \
         first line of the log's checkpoints"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The origin is not a valid C2SP key name (it names the log key).
    #[error("origin {origin:?} is not a valid log name: {source}")]
    Invalid {
        /// The origin given.
        origin: String,
        /// Cause.
        source: NameError,
    },
    /// The log key could not be read to learn the origin of an older data directory.
    #[error(transparent)]
    LogKey(#[from] LogKeyError),
    /// The data directory belongs to another log.
    #[error(
        "the data directory {data_dir} belongs to log {recorded:?} ({how}), not {given:?}: \
         start it without an origin setting (or with origin {recorded:?}), or use another \
         data directory to start a new log named {given:?}"
    )]
    Mismatch {
        /// The data directory.
        data_dir: String,
        /// Its log's origin.
        recorded: String,
        /// The origin set.
        given: String,
        /// Where `recorded` comes from.
        how: String,
    },
}

/// The origin a data directory records, and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The origin.
    pub origin: String,
    /// `recorded in <DATA/origin>`, or `the name of its log key <file>`.
    pub how: String,
}

/// What `data_dir` says its log's origin is: `DATA/origin`, else the name of the log key (the
/// `log_key` file when given, else `DATA/log.key`), else nothing (a new data directory). Reads
/// only; a missing directory is a new one.
pub fn recorded(data_dir: &Path, log_key: Option<&Path>) -> Result<Option<Recorded>, OriginError> {
    let path = data_dir.join(ORIGIN_FILE);
    if let Some(origin) = read(&path)? {
        return Ok(Some(Recorded {
            origin,
            how: format!("recorded in {}", path.display()),
        }));
    }
    let key_path: PathBuf = log_key.map_or_else(|| data_dir.join(LOG_KEY_FILE), Path::to_path_buf);
    if !key_path.exists() {
        return Ok(None);
    }
    let key = keys::read(&key_path)?;
    Ok(Some(Recorded {
        origin: key.name().to_owned(),
        how: format!("the name of its log key {}", key_path.display()),
    }))
}

/// The origin to use when none is set: the one `data_dir` records ([`recorded`]), else
/// [`DEFAULT_ORIGIN`].
pub fn resolve(data_dir: &Path, log_key: Option<&Path>) -> Result<String, OriginError> {
    Ok(recorded(data_dir, log_key)?.map_or_else(|| DEFAULT_ORIGIN.to_owned(), |r| r.origin))
}

/// Checks that `origin` is a valid log name and the origin `data_dir` records, if it records
/// one. Reads only.
pub fn check(data_dir: &Path, log_key: Option<&Path>, origin: &str) -> Result<(), OriginError> {
    validate_key_name(origin).map_err(|source| OriginError::Invalid {
        origin: origin.to_owned(),
        source,
    })?;
    match recorded(data_dir, log_key)? {
        Some(r) if r.origin != origin => Err(OriginError::Mismatch {
            data_dir: data_dir.display().to_string(),
            recorded: r.origin,
            given: origin.to_owned(),
            how: r.how,
        }),
        _ => Ok(()),
    }
}

/// Records `origin` in `DATA/origin` unless the file exists ([`check`] it first); `true` when
/// it was written now. The file appears whole or not at all: it is written to
/// `DATA/origin.tmp`, fsynced, renamed into place, and the directory is fsynced.
pub fn record(data_dir: &Path, origin: &str) -> Result<bool, OriginError> {
    let path = data_dir.join(ORIGIN_FILE);
    if path.exists() {
        return Ok(false);
    }
    let tmp = data_dir.join(format!("{ORIGIN_FILE}.tmp"));
    let io = |p: &Path| {
        let shown = p.display().to_string();
        move |source| OriginError::Io {
            path: shown,
            source,
        }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(format!("{origin}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io(data_dir))?;
    Ok(true)
}

/// The origin in `path`, `None` if there is no such file.
fn read(path: &Path) -> Result<Option<String>, OriginError> {
    let shown = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OriginError::Io {
                path: shown,
                source,
            })
        }
    };
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|source| OriginError::Io {
            path: shown.clone(),
            source,
        })?;
    let corrupt = |reason: String| OriginError::Corrupt {
        path: shown.clone(),
        reason,
    };
    if text.len() as u64 > MAX_FILE {
        return Err(corrupt(format!("it is longer than {MAX_FILE} bytes")));
    }
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if line.contains('\n') {
        return Err(corrupt("it has more than one line".into()));
    }
    validate_key_name(line).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(line.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_takes_the_default_and_records_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not-yet");
        assert_eq!(resolve(&missing, None).unwrap(), DEFAULT_ORIGIN);
        assert_eq!(resolve(dir.path(), None).unwrap(), DEFAULT_ORIGIN);
        check(dir.path(), None, "relay.example/log").unwrap();
        assert!(record(dir.path(), "relay.example/log").unwrap());
        assert!(!record(dir.path(), "other.example/log").unwrap(), "kept");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(ORIGIN_FILE)).unwrap(),
            "relay.example/log\n"
        );
        assert!(!dir.path().join("origin.tmp").exists());
        assert_eq!(resolve(dir.path(), None).unwrap(), "relay.example/log");
        check(dir.path(), None, "relay.example/log").unwrap();
        let e = check(dir.path(), None, "other.example/log").unwrap_err();
        assert!(matches!(e, OriginError::Mismatch { .. }));
        let text = e.to_string();
        assert!(
            text.contains("belongs to log \"relay.example/log\"")
                && text.contains("without an origin setting")
                && text.contains("another data directory"),
            "{text}"
        );
    }

    #[test]
    fn an_older_directory_adopts_its_key_name() {
        let dir = tempfile::tempdir().unwrap();
        keys::load_or_create(dir.path(), "old.example/log").unwrap();
        assert_eq!(resolve(dir.path(), None).unwrap(), "old.example/log");
        check(dir.path(), None, "old.example/log").unwrap();
        let e = check(dir.path(), None, "new.example/log").unwrap_err();
        assert!(e.to_string().contains("the name of its log key"), "{e}");
    }

    #[test]
    fn bad_origin_files_and_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check(dir.path(), None, "has space"),
            Err(OriginError::Invalid { .. })
        ));
        for bad in ["", "\n", "a\nb\n", "two words\n"] {
            std::fs::write(dir.path().join(ORIGIN_FILE), bad).unwrap();
            assert!(
                matches!(resolve(dir.path(), None), Err(OriginError::Corrupt { .. })),
                "{bad:?}"
            );
        }
        std::fs::write(dir.path().join(ORIGIN_FILE), "x".repeat(5000)).unwrap();
        assert!(matches!(
            resolve(dir.path(), None),
            Err(OriginError::Corrupt { .. })
        ));
    }
}

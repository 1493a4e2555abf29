//! `letro witness`: a C2SP tlog-witness server (<https://c2sp.org/tlog-witness>) for the logs
//! its settings list, with its own `cosignature/v1` key.
//!
//! - `POST /add-checkpoint`: letro-log's [`decide`] on the request and the stored latest
//!   checkpoint of its origin; on success the new latest is stored and committed (SQLite WAL,
//!   `synchronous=FULL`) before the cosignature is sent. The check and the store are one
//!   transaction under one lock, so two requests can never both pass against the same latest:
//!   the witness never cosigns a fork or a rollback, including across a kill -9.
//! - Refused requests that a log signed (a fork at the same size, an inconsistent proof) are
//!   kept in the `evidence` table: they may prove the log misbehaved.
//! - `GET /healthz`; every other path is 404.
//!
//! Files in the data directory: `witness.key` (mode 0600, `PRIVATE+KEY+<name>+...` of type
//! 0x04, created on first start from the OS CSPRNG) and `witness.db`.
//!
//! Settings (TOML; unknown keys refused):
//!
//! ```toml
//! name = "witness.example.org/w1"   # the cosigner's key name
//! data = "/var/lib/letro-witness"
//! listen = "127.0.0.1:7380"
//! [[log]]
//! origin = "relay.example.com/letro-log"
//! vkeys = ["relay.example.com/letro-log+1a2b3c4d+AX..."]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use letro_log::cosignature::{CosignerKey, CosignerSigner};
use letro_log::note::VerifierKey;
use letro_log::witness::{
    decide, AddCheckpoint, FollowedLog, Latest, Refusal, MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Deserialize;

use crate::keys::{create_secret, read_secret, LogKeyError};

/// The witness's key file in its data directory.
pub const WITNESS_KEY_FILE: &str = "witness.key";
/// The witness's database in its data directory.
pub const WITNESS_DATABASE_FILE: &str = "witness.db";

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The settings file could not be read or is invalid.
    #[error("witness settings {path}: {reason}")]
    Settings {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The key file.
    #[error(transparent)]
    Key(#[from] LogKeyError),
    /// The key file holds a key with another name than the settings'.
    #[error("the witness key is named {key_name:?} but the settings say {name:?}")]
    NameMismatch {
        /// The key's name.
        key_name: String,
        /// The configured name.
        name: String,
    },
    /// The database.
    #[error("witness database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The data directory.
    #[error("witness data directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    origin: String,
    vkeys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    name: String,
    data: PathBuf,
    listen: Option<SocketAddr>,
    #[serde(default, rename = "log")]
    logs: Vec<LogEntry>,
}

/// A witness's settings.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// The cosigner's key name.
    pub name: String,
    /// The data directory (key and database).
    pub data: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The logs it cosigns for.
    pub logs: Vec<FollowedLog>,
}

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7380";

impl WitnessConfig {
    /// Reads a settings file: every log's vkeys must parse and be named like its origin, and
    /// no origin may appear twice.
    pub fn read(path: &Path) -> Result<Self, WitnessError> {
        let bad = |reason: String| WitnessError::Settings {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let file: SettingsFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut logs: Vec<FollowedLog> = Vec::new();
        for entry in file.logs {
            if logs.iter().any(|l| l.origin == entry.origin) {
                return Err(bad(format!("log {:?} is listed twice", entry.origin)));
            }
            if entry.vkeys.is_empty() {
                return Err(bad(format!("log {:?} has no vkeys", entry.origin)));
            }
            let mut keys = Vec::new();
            for v in &entry.vkeys {
                let key = VerifierKey::parse(v)
                    .map_err(|e| bad(format!("log {:?}: vkey {v:?}: {e}", entry.origin)))?;
                if key.name() != entry.origin {
                    return Err(bad(format!(
                        "log {:?}: the vkey is named {:?}; a log's key is named like its origin",
                        entry.origin,
                        key.name()
                    )));
                }
                keys.push(key);
            }
            logs.push(FollowedLog {
                origin: entry.origin,
                keys,
            });
        }
        if logs.is_empty() {
            return Err(bad(
                "no [[log]] is listed: the witness would refuse everything".into(),
            ));
        }
        let listen = match file.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| bad("bad default listen address".into()))?,
        };
        Ok(Self {
            name: file.name,
            data: file.data,
            listen,
            logs,
        })
    }
}

/// The witness: its key, the logs it follows, its database.
pub struct Witness {
    signer: CosignerSigner,
    logs: Vec<FollowedLog>,
    db: Mutex<Connection>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("key", &self.signer.cosigner_key())
            .field("logs", &self.logs.len())
            .finish_non_exhaustive()
    }
}

/// A refused `add-checkpoint`, as answered.
#[derive(Debug)]
pub enum Answer {
    /// 200: the cosignature lines.
    Cosigned(String),
    /// A refusal by the protocol's rules.
    Refused(Refusal),
    /// 400: the body is not an `add-checkpoint` request.
    Malformed(String),
    /// 500: storage failed; nothing was cosigned.
    Failed,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        match self {
            Self::Cosigned(lines) => (StatusCode::OK, text, lines).into_response(),
            Self::Refused(r) => {
                let status =
                    StatusCode::from_u16(r.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                match r.latest_size() {
                    Some(size) => (
                        status,
                        [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                        format!("{size}\n"),
                    )
                        .into_response(),
                    None => (status, text, format!("{r}\n")).into_response(),
                }
            }
            Self::Malformed(m) => (StatusCode::BAD_REQUEST, text, format!("{m}\n")).into_response(),
            Self::Failed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                text,
                "storage failed; nothing was cosigned\n",
            )
                .into_response(),
        }
    }
}

impl Witness {
    /// Opens (or creates) the witness's key and database in `config.data`.
    pub fn open(config: &WitnessConfig) -> Result<Self, WitnessError> {
        std::fs::create_dir_all(&config.data).map_err(|source| WitnessError::Io {
            path: config.data.display().to_string(),
            source,
        })?;
        let path = config.data.join(WITNESS_KEY_FILE);
        let created = create_secret(&path, |seed| {
            let key = CosignerSigner::from_seed(&config.name, seed)?;
            Ok((key.to_private_string(), key))
        })?;
        let signer = match created {
            Some(k) => k,
            None => CosignerSigner::parse(&read_secret(&path)?).map_err(LogKeyError::Key)?,
        };
        if signer.cosigner_key().name() != config.name {
            return Err(WitnessError::NameMismatch {
                key_name: signer.cosigner_key().name().to_owned(),
                name: config.name.clone(),
            });
        }
        let conn = Connection::open(config.data.join(WITNESS_DATABASE_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS latest (
                origin TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                root BLOB NOT NULL,
                checkpoint TEXT NOT NULL,
                cosigned_at INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS evidence (
                id INTEGER PRIMARY KEY,
                origin TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                refusal TEXT NOT NULL,
                request BLOB NOT NULL
            );",
        )?;
        Ok(Self {
            signer,
            logs: config.logs.clone(),
            db: Mutex::new(conn),
        })
    }

    /// The witness's cosigner key (give it to verifiers and logs).
    pub fn cosigner_key(&self) -> CosignerKey {
        self.signer.cosigner_key()
    }

    /// The latest checkpoint cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Result<Option<Latest>, WitnessError> {
        let db = self
            .db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(read_latest(&db, origin)?)
    }

    /// Handles one `add-checkpoint` body at time `now` (POSIX seconds): check, store, cosign.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return Answer::Malformed(e.to_string()),
        };
        let mut db = self
            .db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outcome = (|| -> rusqlite::Result<Result<Latest, Refusal>> {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let latest = read_latest(&tx, &request.origin)?;
            let decision = decide(&request, &self.logs, latest);
            match &decision {
                Ok(new) => {
                    tx.execute(
                        "INSERT INTO latest (origin, size, root, checkpoint, cosigned_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3,
                             checkpoint = ?4, cosigned_at = ?5",
                        params![
                            request.origin,
                            i64::try_from(new.size).unwrap_or(i64::MAX),
                            new.root.as_slice(),
                            request.checkpoint.unverified_text(),
                            i64::try_from(now).unwrap_or(i64::MAX),
                        ],
                    )?;
                }
                // Signed by the log, refused: possible evidence of misbehaviour.
                Err(r @ (Refusal::Fork { .. } | Refusal::Inconsistent(_))) => {
                    tx.execute(
                        "INSERT INTO evidence (origin, received_at, refusal, request)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![
                            request.origin,
                            i64::try_from(now).unwrap_or(i64::MAX),
                            r.to_string(),
                            body
                        ],
                    )?;
                }
                Err(_) => {}
            }
            tx.commit()?;
            Ok(decision)
        })();
        drop(db);
        match outcome {
            Ok(Ok(new)) => {
                let body = request.checkpoint.unverified_text();
                match self.signer.cosign(body, now) {
                    Ok(line) => {
                        tracing::info!(origin = %request.origin, size = new.size, "cosigned");
                        Answer::Cosigned(format!("{line}\n"))
                    }
                    Err(e) => {
                        // Unreachable for a parsed note; the stored latest is still consistent.
                        tracing::error!(error = %e, "cosigning failed");
                        Answer::Failed
                    }
                }
            }
            Ok(Err(refusal)) => {
                tracing::warn!(origin = %request.origin, status = refusal.status(), %refusal, "add-checkpoint refused");
                Answer::Refused(refusal)
            }
            Err(e) => {
                tracing::error!(error = %e, "witness storage failed");
                Answer::Failed
            }
        }
    }

    /// The HTTP router: `POST /add-checkpoint`, `GET /healthz`.
    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .route("/healthz", get(|| async { "ok\n" }))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self)
    }
}

fn read_latest(db: &Connection, origin: &str) -> rusqlite::Result<Option<Latest>> {
    db.query_row(
        "SELECT size, root FROM latest WHERE origin = ?1",
        [origin],
        |row| {
            let size: i64 = row.get(0)?;
            let root: Vec<u8> = row.get(1)?;
            Ok((size, root))
        },
    )
    .optional()?
    .map(|(size, root)| {
        let bad = || rusqlite::Error::IntegralValueOutOfRange(0, size);
        Ok(Latest {
            size: u64::try_from(size).map_err(|_| bad())?,
            root: root.try_into().map_err(|_| bad())?,
        })
    })
    .transpose()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Answer {
    let now = crate::unix_now();
    tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now))
        .await
        .unwrap_or(Answer::Failed)
}

//! Durable storage behind a [`Store`] trait: SQLite now ([`SqliteStore`]), PostgreSQL later.
//!
//! Everything the log writer acknowledges has been committed through [`Store::append`] first;
//! the in-memory tree is rebuilt from [`Store::leaves`] on start.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Why a storage operation failed. Internal: the API reports these as a bare 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A stored event is not valid JSON of the expected shape.
    #[error("stored event at index {index} is malformed: {source}")]
    MalformedEvent {
        /// Leaf index.
        index: u64,
        /// Cause.
        source: serde_json::Error,
    },
    /// A stored value does not have its expected form (leaf length, role name, index gap).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub use letro_core::receipt_json::{PointJson, SignatureJson};

use letro_api::directory::CertificateObject;
use letro_core::Fr;

/// A per-event secret `e` (SPEC §5.6): uniform in F_p, drawn from the OS CSPRNG for every
/// event and mixed into its leaf, so that the published leaf hides the event. It is stored
/// beside the leaf, given only to the prover (the delivery record of a proof job), never logged
/// (its `Debug` is redacted) and never returned by an endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EventSecret(Fr);

impl EventSecret {
    /// A fresh secret: `Fr::rand` over the OS CSPRNG (rejection sampling, so uniform in F_p,
    /// about 254 bits).
    pub fn fresh() -> Self {
        Self(<Fr as ark_ff::UniformRand>::rand(&mut rand::rngs::OsRng))
    }

    /// The field element.
    pub fn fr(&self) -> Fr {
        self.0
    }

    /// Its 32-byte big-endian encoding, as stored.
    pub fn to_bytes(&self) -> [u8; 32] {
        letro_core::field::fr_to_be_bytes(&self.0)
    }

    /// Reads a stored secret; a value that is not a canonical field element is corrupt.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, StoreError> {
        letro_core::field::fr_from_be_bytes(bytes)
            .map(Self)
            .map_err(|_| StoreError::Corrupt("stored event secret is not a field element".into()))
    }
}

impl std::fmt::Debug for EventSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSecret(<redacted>)")
    }
}

/// A log event as stored beside its leaf: everything needed to recompute the leaf and to build
/// a witness later. Field elements are canonical decimal strings (checked before storing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredEvent {
    /// A submitted event.
    Submitted {
        /// `H`, 64 lowercase hex digits.
        ciphertext_sha256: String,
        /// The sender's account id.
        sender: String,
        /// The recipient's routing id.
        routing: String,
    },
    /// A delivered event with the receipt that proves it.
    Delivered {
        /// `H`, 64 lowercase hex digits.
        ciphertext_sha256: String,
        /// `t`, Unix seconds.
        delivered_at: u64,
        /// The receipt key `A`.
        receipt_key: PointJson,
        /// The receipt signature.
        signature: SignatureJson,
        /// The certificate of the receipt key by the Signal identity key of the account the
        /// submission was routed to, checked before the event was logged. Absent only in
        /// events logged before certificates were required (they cannot be proved).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt_key_certificate: Option<CertificateObject>,
    },
}

impl StoredEvent {
    /// The kind, as stored in the `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Submitted { .. } => "submitted",
            Self::Delivered { .. } => "delivered",
        }
    }
}

/// One new log entry to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Its index (the next free one; the store refuses gaps through the primary key).
    pub index: u64,
    /// `H`.
    pub ciphertext_hash: [u8; 32],
    /// The leaf, big-endian.
    pub leaf: [u8; 32],
    /// The event.
    pub event: StoredEvent,
    /// The event's secret `e`, mixed into `leaf`.
    pub event_secret: EventSecret,
}

/// A stored leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLeaf {
    /// Index.
    pub index: u64,
    /// Leaf, big-endian.
    pub leaf: [u8; 32],
}

/// A published checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it covers.
    pub size: u64,
    /// Its time, Unix seconds.
    pub time: u64,
    /// The signed note text.
    pub text: String,
}

/// An API token's record. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the token string.
    pub hash: [u8; 32],
    /// Its role.
    pub role: crate::auth::Role,
    /// Who it was issued to (the sender account id for sender tokens).
    pub subject: String,
    /// Expiry, Unix seconds; the token is refused from then on.
    pub expires_at: u64,
    /// When it was revoked, Unix seconds; a revoked token is refused.
    pub revoked_at: Option<u64>,
}

impl TokenRecord {
    /// The token's public id: the first 8 bytes of its hash, in hex. Admin endpoints name
    /// tokens by it; it reveals nothing that helps to guess the token.
    pub fn id(&self) -> String {
        hex::encode(self.hash.get(..8).unwrap_or(&[]))
    }
}

/// One entry of the append-only audit log of admin actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Its position, from 1.
    pub seq: u64,
    /// When, Unix seconds.
    pub time: u64,
    /// Who: `token:<id> (<subject>)` for an admin token, `cli` for the offline command.
    pub actor: String,
    /// What, e.g. `token.issue`, `token.revoke`.
    pub action: String,
    /// On what, e.g. the token id.
    pub target: String,
    /// `ok`, or the error code.
    pub outcome: String,
    /// SHA-256, in hex, of the previous entry's `hash` and this entry's fields (see
    /// [`audit_hash`]); the first entry chains from 32 zero bytes.
    pub hash: String,
}

/// The chained hash of an audit entry: SHA-256 of `letro/audit/v1`, a newline, the previous
/// entry's hash (32 bytes), and the fields `seq`, `time`, `actor`, `action`, `target`, `outcome`,
/// each followed by a newline (fields never contain one: [`Store::append_audit`] refuses them).
pub fn audit_hash(prev: &[u8; 32], seq: u64, e: &AuditEntry) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"letro/audit/v1\n");
    h.update(prev);
    for field in [
        seq.to_string().as_str(),
        e.time.to_string().as_str(),
        &e.actor,
        &e.action,
        &e.target,
        &e.outcome,
    ] {
        h.update(field.as_bytes());
        h.update(b"\n");
    }
    h.finalize().into()
}

/// Checks that `records` form one unbroken chain from the first entry (sequence numbers from 1
/// without gaps, each hash recomputed).
pub fn verify_audit_chain(records: &[AuditRecord]) -> Result<(), StoreError> {
    let mut prev = [0u8; 32];
    for (n, r) in records.iter().enumerate() {
        let seq = n as u64 + 1;
        let entry = AuditEntry {
            time: r.time,
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            outcome: r.outcome.clone(),
        };
        let expected = audit_hash(&prev, seq, &entry);
        if r.seq != seq || r.hash != hex::encode(expected) {
            return Err(StoreError::Corrupt(format!(
                "the audit log chain breaks at entry {seq}"
            )));
        }
        prev = expected;
    }
    Ok(())
}

/// A new audit entry (the store numbers and chains it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, Unix seconds.
    pub time: u64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok` or an error code.
    pub outcome: String,
}

/// The state of a proof job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a prover.
    Queued,
    /// A prover is working on it (reset to queued when the service restarts).
    Running,
    /// The bundle and opening are ready.
    Done,
    /// It failed; see the error.
    Failed,
}

impl JobState {
    /// The state's name in storage and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("unknown job state {other:?}"))),
        }
    }
}

/// A proof job as stored. The blinding is stored with the job so that the opening handed out
/// stays valid for the bundle; it is secret and never logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The job id, 32 lowercase hex digits (random).
    pub id: String,
    /// The sender (token subject) that asked for it; only it may read the job.
    pub owner: String,
    /// `H`.
    pub ciphertext_hash: [u8; 32],
    /// The window's start, Unix seconds.
    pub not_before: u64,
    /// The window's end, Unix seconds.
    pub not_after: u64,
    /// The blinding `r` of the recipient commitment, canonical decimal.
    pub blinding: String,
    /// Its state.
    pub state: JobState,
    /// Error code and message when failed.
    pub error: Option<(String, String)>,
    /// The encoded bundle when done.
    pub bundle: Option<String>,
    /// The encoded opening when done.
    pub opening: Option<String>,
    /// Where to POST a notice when the job finishes.
    pub callback_url: Option<String>,
    /// The callback's delivery: `pending`, `delivered` or `failed`.
    pub callback_state: Option<String>,
}

/// A directory entry as stored: the client's upload document, minus its one-time prekeys,
/// which are stored apart and handed out one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The account.
    pub account: String,
    /// The upload document (JSON) with an empty `one_time_prekeys` list.
    pub document: String,
    /// The packed receipt key `A` it certifies.
    pub receipt_key: [u8; 32],
    /// The certificate object (JSON), as in the opening.
    pub certificate: String,
}

/// A directory entry with the one-time prekey `(id, public key)` taken from it, if any.
pub type TakenEntry = (DirectoryEntry, Option<(u32, Vec<u8>)>);

/// An envelope waiting in a recipient's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `H`, SHA-256 of `bytes`.
    pub ciphertext_hash: [u8; 32],
    /// The sending account.
    pub sender: String,
    /// The recipient account.
    pub recipient: String,
    /// When the relay accepted it, Unix seconds.
    pub received_at: u64,
    /// The envelope, exactly as the sender posted it (ciphertext only).
    pub bytes: Vec<u8>,
}

/// Durable storage for the service. Implementations must make [`Store::append`] and
/// [`Store::put_checkpoint`] durable (committed) before they return `Ok`.
pub trait Store: Send + 'static {
    /// Every leaf, ordered by index, which must run from 0 without gaps.
    fn leaves(&self) -> Result<Vec<StoredLeaf>, StoreError>;
    /// The submitted event for `H`, with its index.
    fn find_submission(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError>;
    /// The delivered event (receipt) for `H`, with its index.
    fn find_receipt(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError>;
    /// The secret of the event at `index`; `None` for an event logged before events had
    /// secrets (a v1 leaf) or for no such event.
    fn event_secret(&self, index: u64) -> Result<Option<EventSecret>, StoreError>;
    /// Stores a batch of entries atomically: all or none.
    fn append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError>;
    /// Stores a published checkpoint.
    fn put_checkpoint(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError>;
    /// The checkpoint with the largest size, if any.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Stores a token record.
    fn put_token(&mut self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Every token record.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// A number that changes whenever a token is stored or revoked, by this connection or any
    /// other (another process on the same data, such as `letro token issue`): a running service
    /// polls it and reloads [`Store::tokens`] when it changed. The default fingerprints the
    /// whole token table; [`SqliteStore`] keeps a counter that triggers maintain.
    fn token_changes(&self) -> Result<u64, StoreError> {
        Ok(token_fingerprint(&self.tokens()?))
    }
    /// Stores a new proof job (durably).
    fn put_job(&mut self, job: &JobRecord) -> Result<(), StoreError>;
    /// Replaces a stored job's state, error, bundle and opening.
    fn update_job(&mut self, job: &JobRecord) -> Result<(), StoreError>;
    /// The job with this id.
    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;
    /// Ids of the queued and running jobs, oldest first.
    fn unfinished_jobs(&self) -> Result<Vec<String>, StoreError>;
    /// How many of `owner`'s jobs are queued or running.
    fn active_jobs_of(&self, owner: &str) -> Result<u64, StoreError>;
    /// Ids of finished jobs whose callback is still `pending`, oldest first.
    fn pending_callbacks(&self) -> Result<Vec<String>, StoreError>;
    /// Marks the token with this hash revoked at `at`; `false` if there is no such token.
    fn revoke_token(&mut self, hash: &[u8; 32], at: u64) -> Result<bool, StoreError>;
    /// Appends an entry to the audit log, numbered and chained, and returns it. Durable before
    /// it returns. Fields may not contain a newline.
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, StoreError>;
    /// The whole audit log, oldest first.
    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError>;
    /// Publishes `entry` for its account, replacing the previous one and all its unused
    /// one-time prekeys with `one_time` (`(id, public key)`), and records the certified
    /// receipt key (kept for ever, so that old receipts stay attributable). One transaction.
    fn put_directory(
        &mut self,
        entry: &DirectoryEntry,
        one_time: &[(u32, Vec<u8>)],
    ) -> Result<(), StoreError>;
    /// The account's entry and one of its one-time prekeys, which is deleted in the same
    /// transaction (each is handed out once); `None` for an unknown account.
    fn take_directory(&mut self, account: &str) -> Result<Option<TakenEntry>, StoreError>;
    /// Whether the account has published prekeys.
    fn has_directory(&self, account: &str) -> Result<bool, StoreError>;
    /// The account that certified the packed receipt key, with the certificate (JSON).
    fn receipt_key_owner(&self, key: &[u8; 32]) -> Result<Option<(String, String)>, StoreError>;
    /// Stores an envelope; `false` (and nothing changed) if one with the same `H` is stored.
    fn put_envelope(&mut self, envelope: &Envelope) -> Result<bool, StoreError>;
    /// The envelope with this `H`, if still in a mailbox.
    fn envelope(&self, h: &[u8; 32]) -> Result<Option<Envelope>, StoreError>;
    /// Up to `limit` envelopes waiting for `recipient`, oldest first, without their bytes.
    fn mailbox(&self, recipient: &str, limit: usize) -> Result<Vec<Envelope>, StoreError>;
    /// Removes a delivered envelope from its mailbox.
    fn remove_envelope(&mut self, h: &[u8; 32]) -> Result<(), StoreError>;
}

/// A fingerprint of a token table (each token's hash and revocation time, in any order): the
/// default [`Store::token_changes`].
pub fn token_fingerprint(records: &[TokenRecord]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&TokenRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.hash);
    let mut h = Sha256::new();
    for r in sorted {
        h.update(r.hash);
        h.update(r.revoked_at.map_or([0xff; 8], u64::to_be_bytes));
    }
    let digest: [u8; 32] = h.finalize().into();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first)
}

/// The SQLite store: one database file, `DATA/letro.sqlite3`, in WAL mode.
///
/// Durability: `journal_mode=WAL` with `synchronous=FULL`. A commit returns only after its WAL
/// frames are written *and fsynced*. For a kill -9 of the process alone `NORMAL` would already
/// suffice (the frames are in the OS page cache once `write` returns, and the kernel writes them
/// out whether or not the process lives); `FULL` also keeps acknowledged events across a power
/// loss or kernel crash, and costs one fsync per batch, not per event, because the log writer
/// commits a whole batch in one transaction.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "letro.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('submitted', 'delivered')),
    leaf BLOB NOT NULL CHECK (length(leaf) = 32),
    event TEXT NOT NULL,
    event_secret BLOB CHECK (event_secret IS NULL OR length(event_secret) = 32)
);
CREATE TABLE IF NOT EXISTS submissions (
    h BLOB PRIMARY KEY CHECK (length(h) = 32),
    idx INTEGER NOT NULL UNIQUE REFERENCES leaves(idx)
);
CREATE TABLE IF NOT EXISTS receipts (
    h BLOB PRIMARY KEY CHECK (length(h) = 32),
    idx INTEGER NOT NULL UNIQUE REFERENCES leaves(idx)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
    role TEXT NOT NULL,
    subject TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS directory (
    account TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    receipt_key BLOB NOT NULL CHECK (length(receipt_key) = 32),
    certificate TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS one_time_prekeys (
    account TEXT NOT NULL,
    id INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE TABLE IF NOT EXISTS receipt_keys (
    receipt_key BLOB PRIMARY KEY CHECK (length(receipt_key) = 32),
    account TEXT NOT NULL,
    certificate TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mailbox (
    h BLOB PRIMARY KEY CHECK (length(h) = 32),
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    envelope BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS mailbox_by_recipient ON mailbox (recipient, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT OR IGNORE INTO token_changes (id, n) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS tokens_inserted AFTER INSERT ON tokens
    BEGIN UPDATE token_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS tokens_updated AFTER UPDATE ON tokens
    BEGIN UPDATE token_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS tokens_deleted AFTER DELETE ON tokens
    BEGIN UPDATE token_changes SET n = n + 1 WHERE id = 1; END;
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    h BLOB NOT NULL CHECK (length(h) = 32),
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    blinding TEXT NOT NULL,
    state TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    bundle TEXT,
    opening TEXT,
    callback_url TEXT,
    callback_state TEXT
);
";

/// Columns added after the first release, with their declarations: added to an older database
/// when it is opened.
const ADDED_COLUMNS: [(&str, &str, &str); 4] = [
    ("tokens", "revoked_at", "INTEGER"),
    ("jobs", "callback_url", "TEXT"),
    ("jobs", "callback_state", "TEXT"),
    // Events logged before per-event secrets keep NULL: their leaves are v1 (not hiding) and
    // cannot be proved with delivered-within/v2.
    (
        "leaves",
        "event_secret",
        "BLOB CHECK (event_secret IS NULL OR length(event_secret) = 32)",
    ),
];

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(data_dir.join(DATABASE_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        for (table, column, decl) in ADDED_COLUMNS {
            let present: bool = conn.query_row(
                "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                params![table, column],
                |r| r.get(0),
            )?;
            if !present {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
        Ok(Self { conn })
    }

    fn find_event(
        &self,
        table: &str,
        h: &[u8; 32],
    ) -> Result<Option<(u64, StoredEvent)>, StoreError> {
        let sql = format!(
            "SELECT l.idx, l.event FROM {table} t JOIN leaves l ON l.idx = t.idx WHERE t.h = ?1"
        );
        let row: Option<(i64, String)> = self
            .conn
            .query_row(&sql, params![&h[..]], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(idx, json)| {
            let index = to_u64(idx)?;
            let event = serde_json::from_str(&json)
                .map_err(|source| StoreError::MalformedEvent { index, source })?;
            Ok((index, event))
        })
        .transpose()
    }
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative integer {v}")))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("integer {v} too large")))
}

fn to_32(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(v).map_err(|_| StoreError::Corrupt("value is not 32 bytes".into()))
}

impl Store for SqliteStore {
    fn leaves(&self) -> Result<Vec<StoredLeaf>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, leaf FROM leaves ORDER BY idx")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, leaf) = row?;
            let index = to_u64(idx)?;
            if index != out.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "leaf index {index} where {} was expected",
                    out.len()
                )));
            }
            out.push(StoredLeaf {
                index,
                leaf: to_32(leaf)?,
            });
        }
        Ok(out)
    }

    fn find_submission(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError> {
        self.find_event("submissions", h)
    }

    fn find_receipt(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError> {
        self.find_event("receipts", h)
    }

    fn event_secret(&self, index: u64) -> Result<Option<EventSecret>, StoreError> {
        let row: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT event_secret FROM leaves WHERE idx = ?1",
                params![to_i64(index)?],
                |r| r.get(0),
            )
            .optional()?;
        row.flatten()
            .map(|b| EventSecret::from_bytes(&to_32(b)?))
            .transpose()
    }

    fn append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut leaf_stmt = tx.prepare_cached(
                "INSERT INTO leaves (idx, kind, leaf, event, event_secret) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut sub_stmt =
                tx.prepare_cached("INSERT INTO submissions (h, idx) VALUES (?1, ?2)")?;
            let mut rec_stmt =
                tx.prepare_cached("INSERT INTO receipts (h, idx) VALUES (?1, ?2)")?;
            for e in entries {
                let idx = to_i64(e.index)?;
                let json = serde_json::to_string(&e.event).map_err(|source| {
                    StoreError::MalformedEvent {
                        index: e.index,
                        source,
                    }
                })?;
                leaf_stmt.execute(params![
                    idx,
                    e.event.kind(),
                    &e.leaf[..],
                    json,
                    &e.event_secret.to_bytes()[..]
                ])?;
                match e.event {
                    StoredEvent::Submitted { .. } => {
                        sub_stmt.execute(params![&e.ciphertext_hash[..], idx])?
                    }
                    StoredEvent::Delivered { .. } => {
                        rec_stmt.execute(params![&e.ciphertext_hash[..], idx])?
                    }
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn put_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO checkpoints (size, time, text) VALUES (?1, ?2, ?3)",
            params![to_i64(cp.size)?, to_i64(cp.time)?, cp.text],
        )?;
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, i64, String)> = self
            .conn
            .query_row(
                "SELECT size, time, text FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(size, time, text)| {
            Ok(StoredCheckpoint {
                size: to_u64(size)?,
                time: to_u64(time)?,
                text,
            })
        })
        .transpose()
    }

    fn put_token(&mut self, t: &TokenRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO tokens (hash, role, subject, expires_at, revoked_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &t.hash[..],
                t.role.as_str(),
                t.subject,
                to_i64(t.expires_at)?,
                t.revoked_at.map(to_i64).transpose()?
            ],
        )?;
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, role, subject, expires_at, revoked_at FROM tokens")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, role, subject, expires_at, revoked_at) = row?;
            out.push(TokenRecord {
                hash: to_32(hash)?,
                role: role
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("unknown role {role:?}")))?,
                subject,
                expires_at: to_u64(expires_at)?,
                revoked_at: revoked_at.map(to_u64).transpose()?,
            });
        }
        Ok(out)
    }

    fn token_changes(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT n FROM token_changes WHERE id = 1", [], |r| r.get(0))?;
        to_u64(n)
    }

    fn put_job(&mut self, job: &JobRecord) -> Result<(), StoreError> {
        self.put_job_impl(job)
    }

    fn update_job(&mut self, job: &JobRecord) -> Result<(), StoreError> {
        self.update_job_impl(job)
    }

    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.job_impl(id)
    }

    fn unfinished_jobs(&self) -> Result<Vec<String>, StoreError> {
        self.unfinished_jobs_impl()
    }

    fn active_jobs_of(&self, owner: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM jobs WHERE owner = ?1 AND state IN ('queued', 'running')",
            params![owner],
            |r| r.get(0),
        )?;
        to_u64(n)
    }

    fn pending_callbacks(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id FROM jobs WHERE callback_state = 'pending' \
             AND state IN ('done', 'failed') ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn revoke_token(&mut self, hash: &[u8; 32], at: u64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE hash = ?1",
            params![&hash[..], to_i64(at)?],
        )?;
        Ok(n == 1)
    }

    fn append_audit(&mut self, e: &AuditEntry) -> Result<AuditRecord, StoreError> {
        if [&e.actor, &e.action, &e.target, &e.outcome]
            .iter()
            .any(|f| f.contains('\n'))
        {
            return Err(StoreError::Corrupt(
                "an audit field contains a newline".into(),
            ));
        }
        let tx = self.conn.transaction()?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = match last {
            None => (1, [0u8; 32]),
            Some((seq, hash)) => {
                let prev = hex::decode(&hash)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| StoreError::Corrupt("audit hash is not 32 bytes".into()))?;
                (to_u64(seq)? + 1, prev)
            }
        };
        let hash = hex::encode(audit_hash(&prev, seq, e));
        tx.execute(
            "INSERT INTO audit (seq, time, actor, action, target, outcome, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_i64(seq)?,
                to_i64(e.time)?,
                e.actor,
                e.action,
                e.target,
                e.outcome,
                hash
            ],
        )?;
        tx.commit()?;
        Ok(AuditRecord {
            seq,
            time: e.time,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome.clone(),
            hash,
        })
    }

    fn put_directory(
        &mut self,
        e: &DirectoryEntry,
        one_time: &[(u32, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO directory (account, document, receipt_key, certificate) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account) DO UPDATE SET \
             document = excluded.document, receipt_key = excluded.receipt_key, \
             certificate = excluded.certificate",
            params![e.account, e.document, &e.receipt_key[..], e.certificate],
        )?;
        tx.execute(
            "DELETE FROM one_time_prekeys WHERE account = ?1",
            params![e.account],
        )?;
        for (id, key) in one_time {
            tx.execute(
                "INSERT INTO one_time_prekeys (account, id, public_key) VALUES (?1, ?2, ?3)",
                params![e.account, id, key],
            )?;
        }
        // A receipt key certified by another account is refused before this point; the same
        // account publishing it again keeps the first certificate.
        tx.execute(
            "INSERT INTO receipt_keys (receipt_key, account, certificate) VALUES (?1, ?2, ?3) \
             ON CONFLICT (receipt_key) DO NOTHING",
            params![&e.receipt_key[..], e.account, e.certificate],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn take_directory(&mut self, account: &str) -> Result<Option<TakenEntry>, StoreError> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, Vec<u8>, String)> = tx
            .query_row(
                "SELECT document, receipt_key, certificate FROM directory WHERE account = ?1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((document, receipt_key, certificate)) = row else {
            return Ok(None);
        };
        let one: Option<(u32, Vec<u8>)> = tx
            .query_row(
                "SELECT id, public_key FROM one_time_prekeys WHERE account = ?1 \
                 ORDER BY id LIMIT 1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, _)) = &one {
            tx.execute(
                "DELETE FROM one_time_prekeys WHERE account = ?1 AND id = ?2",
                params![account, id],
            )?;
        }
        tx.commit()?;
        let entry = DirectoryEntry {
            account: account.to_owned(),
            document,
            receipt_key: to_32(receipt_key)?,
            certificate,
        };
        Ok(Some((entry, one)))
    }

    fn has_directory(&self, account: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) > 0 FROM directory WHERE account = ?1",
            params![account],
            |r| r.get(0),
        )?)
    }

    fn receipt_key_owner(&self, key: &[u8; 32]) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT account, certificate FROM receipt_keys WHERE receipt_key = ?1",
                params![&key[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn put_envelope(&mut self, e: &Envelope) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO mailbox (h, seq, sender, recipient, received_at, envelope) \
             VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM mailbox), ?2, ?3, ?4, ?5) \
             ON CONFLICT (h) DO NOTHING",
            params![
                &e.ciphertext_hash[..],
                e.sender,
                e.recipient,
                to_i64(e.received_at)?,
                e.bytes
            ],
        )?;
        Ok(n == 1)
    }

    fn envelope(&self, h: &[u8; 32]) -> Result<Option<Envelope>, StoreError> {
        let row: Option<(String, String, i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT sender, recipient, received_at, envelope FROM mailbox WHERE h = ?1",
                params![&h[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(sender, recipient, at, bytes)| {
            Ok(Envelope {
                ciphertext_hash: *h,
                sender,
                recipient,
                received_at: to_u64(at)?,
                bytes,
            })
        })
        .transpose()
    }

    fn mailbox(&self, recipient: &str, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT h, sender, received_at FROM mailbox WHERE recipient = ?1 \
             ORDER BY seq LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![recipient, limit], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (h, sender, at) = row?;
            out.push(Envelope {
                ciphertext_hash: to_32(h)?,
                sender,
                recipient: recipient.to_owned(),
                received_at: to_u64(at)?,
                bytes: Vec::new(),
            });
        }
        Ok(out)
    }

    fn remove_envelope(&mut self, h: &[u8; 32]) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM mailbox WHERE h = ?1", params![&h[..]])?;
        Ok(())
    }

    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, time, actor, action, target, outcome, hash FROM audit ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, time, actor, action, target, outcome, hash) = row?;
            out.push(AuditRecord {
                seq: to_u64(seq)?,
                time: to_u64(time)?,
                actor,
                action,
                target,
                outcome,
                hash,
            });
        }
        Ok(out)
    }
}

const JOB_COLUMNS: &str = "id, owner, h, not_before, not_after, blinding, state, error_code, \
     error_message, bundle, opening, callback_url, callback_state";

type JobRow = (
    String,
    String,
    Vec<u8>,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn job_from_row(r: JobRow) -> Result<JobRecord, StoreError> {
    let (id, owner, h, nb, na, blinding, state, code, message, bundle, opening, url, cb) = r;
    Ok(JobRecord {
        id,
        owner,
        ciphertext_hash: to_32(h)?,
        not_before: to_u64(nb)?,
        not_after: to_u64(na)?,
        blinding,
        state: JobState::parse(&state)?,
        error: code.zip(message),
        bundle,
        opening,
        callback_url: url,
        callback_state: cb,
    })
}

impl SqliteStore {
    fn put_job_impl(&mut self, j: &JobRecord) -> Result<(), StoreError> {
        self.conn.execute(
            &format!("INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            params![
                j.id,
                j.owner,
                &j.ciphertext_hash[..],
                to_i64(j.not_before)?,
                to_i64(j.not_after)?,
                j.blinding,
                j.state.as_str(),
                j.error.as_ref().map(|e| e.0.as_str()),
                j.error.as_ref().map(|e| e.1.as_str()),
                j.bundle,
                j.opening,
                j.callback_url,
                j.callback_state
            ],
        )?;
        Ok(())
    }

    fn update_job_impl(&mut self, j: &JobRecord) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE jobs SET state = ?2, error_code = ?3, error_message = ?4, bundle = ?5, \
             opening = ?6, callback_state = ?7 WHERE id = ?1",
            params![
                j.id,
                j.state.as_str(),
                j.error.as_ref().map(|e| e.0.as_str()),
                j.error.as_ref().map(|e| e.1.as_str()),
                j.bundle,
                j.opening,
                j.callback_state
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no job {:?} to update", j.id)));
        }
        Ok(())
    }

    fn job_impl(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row: Option<JobRow> = self
            .conn
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                params![id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                    ))
                },
            )
            .optional()?;
        row.map(job_from_row).transpose()
    }

    fn unfinished_jobs_impl(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, h: u8) -> NewEntry {
        NewEntry {
            index,
            ciphertext_hash: [h; 32],
            leaf: [index as u8; 32],
            event: StoredEvent::Submitted {
                ciphertext_sha256: hex::encode([h; 32]),
                sender: "bank".into(),
                routing: "r".into(),
            },
            event_secret: EventSecret::fresh(),
        }
    }

    #[test]
    fn batches_are_atomic_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        s.append(&[entry(0, 1), entry(1, 2)]).unwrap();
        // The second entry repeats H: the whole batch is refused, entry 2 included.
        assert!(s.append(&[entry(2, 3), entry(3, 1)]).is_err());
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        let leaves = s.leaves().unwrap();
        assert_eq!(leaves.len(), 2);
        assert_eq!(leaves[1].leaf, [1u8; 32]);
        assert_eq!(s.find_submission(&[2; 32]).unwrap().unwrap().0, 1);
        assert!(s.find_submission(&[3; 32]).unwrap().is_none());
        assert!(s.find_receipt(&[1; 32]).unwrap().is_none());
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = s
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }

    #[test]
    fn jobs_are_stored_updated_and_listed_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        let mut jobs: Vec<JobRecord> = ["b", "a", "c"]
            .iter()
            .map(|id| JobRecord {
                id: (*id).into(),
                owner: "bank".into(),
                ciphertext_hash: [7; 32],
                not_before: 1,
                not_after: 2,
                blinding: "5".into(),
                state: JobState::Queued,
                error: None,
                bundle: None,
                opening: None,
                callback_url: Some("http://127.0.0.1:9/cb".into()),
                callback_state: Some("pending".into()),
            })
            .collect();
        for j in &jobs {
            s.put_job(j).unwrap();
        }
        assert!(s.put_job(&jobs[0]).is_err(), "ids are unique");
        jobs[0].state = JobState::Done;
        jobs[0].bundle = Some("bundle".into());
        jobs[0].opening = Some("opening".into());
        s.update_job(&jobs[0]).unwrap();
        jobs[2].state = JobState::Failed;
        jobs[2].error = Some(("proof_failed".into(), "m".into()));
        s.update_job(&jobs[2]).unwrap();
        jobs[1].state = JobState::Running;
        s.update_job(&jobs[1]).unwrap();
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.unfinished_jobs().unwrap(), ["a"]);
        for j in &jobs {
            assert_eq!(s.job(&j.id).unwrap().as_ref(), Some(j));
        }
        assert_eq!(s.job("zzz").unwrap(), None);
        assert_eq!(s.active_jobs_of("bank").unwrap(), 1);
        assert_eq!(s.active_jobs_of("other").unwrap(), 0);
        // Finished jobs with a pending callback, in submission order.
        assert_eq!(s.pending_callbacks().unwrap(), ["b", "c"]);
    }

    #[test]
    fn audit_log_is_append_only_and_chained() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        let entry = |n: u64| AuditEntry {
            time: 100 + n,
            actor: "token:00 (ops)".into(),
            action: "token.issue".into(),
            target: format!("t{n}"),
            outcome: "ok".into(),
        };
        for n in 0..3 {
            assert_eq!(s.append_audit(&entry(n)).unwrap().seq, n + 1);
        }
        let mut bad = entry(9);
        bad.target = "a\nb".into();
        assert!(s.append_audit(&bad).is_err());
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        let log = s.audit_log().unwrap();
        assert_eq!(log.len(), 3);
        verify_audit_chain(&log).unwrap();
        for sql in [
            "UPDATE audit SET outcome = 'denied' WHERE seq = 2",
            "DELETE FROM audit WHERE seq = 3",
        ] {
            let e = s.conn.execute(sql, []).unwrap_err();
            assert!(e.to_string().contains("append-only"), "{e}");
        }
        // Someone with the file drops the trigger and edits an entry: the chain shows it.
        s.conn
            .execute_batch(
                "DROP TRIGGER audit_no_update; UPDATE audit SET target = 'x' WHERE seq = 2",
            )
            .unwrap();
        let err = verify_audit_chain(&s.audit_log().unwrap()).unwrap_err();
        assert!(err.to_string().contains("entry 2"), "{err}");
        // A missing entry breaks it too.
        let mut log = log;
        log.remove(1);
        assert!(verify_audit_chain(&log).is_err());
    }

    #[test]
    fn tokens_are_revoked_once_and_old_databases_gain_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A database as the first release created it.
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE tokens (hash BLOB PRIMARY KEY, role TEXT NOT NULL, \
                 subject TEXT NOT NULL, expires_at INTEGER NOT NULL); \
                 INSERT INTO tokens VALUES (x'0101010101010101010101010101010101010101010101010101010101010101', 'sender', 'bank', 99);",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(dir.path()).unwrap();
        let hash = [1u8; 32];
        assert_eq!(s.tokens().unwrap()[0].revoked_at, None);
        assert_eq!(s.tokens().unwrap()[0].id(), "0101010101010101");
        assert!(s.revoke_token(&hash, 50).unwrap());
        assert!(s.revoke_token(&hash, 60).unwrap());
        assert!(!s.revoke_token(&[2; 32], 50).unwrap());
        assert_eq!(
            s.tokens().unwrap()[0].revoked_at,
            Some(50),
            "first revocation kept"
        );
    }

    #[test]
    fn token_changes_count_writes_by_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = SqliteStore::open(dir.path()).unwrap();
        let b = SqliteStore::open(dir.path()).unwrap();
        let start = b.token_changes().unwrap();
        let record = TokenRecord {
            hash: [3; 32],
            role: crate::auth::Role::Relay,
            subject: "relay".into(),
            expires_at: 99,
            revoked_at: None,
        };
        a.put_token(&record).unwrap();
        let issued = b.token_changes().unwrap();
        assert_ne!(issued, start, "an insert by another connection is seen");
        // Checkpoints and other tables do not count.
        a.put_checkpoint(&StoredCheckpoint {
            size: 1,
            time: 1,
            text: "x".into(),
        })
        .unwrap();
        assert_eq!(b.token_changes().unwrap(), issued);
        assert!(a.revoke_token(&[3; 32], 5).unwrap());
        let revoked = b.token_changes().unwrap();
        assert_ne!(revoked, issued, "a revocation is seen");
        // The trait's default, a fingerprint of the table, changes on the same writes and
        // does not depend on the order of the records.
        let other = TokenRecord {
            hash: [4; 32],
            ..record.clone()
        };
        let one = token_fingerprint(std::slice::from_ref(&record));
        let two = token_fingerprint(&[record.clone(), other.clone()]);
        assert_ne!(one, two);
        assert_eq!(two, token_fingerprint(&[other, record.clone()]));
        let revoked_record = TokenRecord {
            revoked_at: Some(5),
            ..record
        };
        assert_ne!(
            token_fingerprint(std::slice::from_ref(&revoked_record)),
            one
        );
        assert_eq!(
            token_fingerprint(&b.tokens().unwrap()),
            token_fingerprint(&[revoked_record])
        );
    }

    #[test]
    fn event_secrets_are_stored_and_old_leaves_have_none() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A leaves table as the release before per-event secrets created it, with one v1 row.
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE leaves (idx INTEGER PRIMARY KEY, \
                 kind TEXT NOT NULL CHECK (kind IN ('submitted', 'delivered')), \
                 leaf BLOB NOT NULL CHECK (length(leaf) = 32), event TEXT NOT NULL); \
                 INSERT INTO leaves VALUES (0, 'submitted', zeroblob(32), \
                 '{\"kind\":\"submitted\",\"ciphertext_sha256\":\"00\",\"sender\":\"s\",\"routing\":\"r\"}');",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.event_secret(0).unwrap(), None, "a v1 leaf has no secret");
        let new = entry(1, 9);
        s.append(std::slice::from_ref(&new)).unwrap();
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.event_secret(1).unwrap(), Some(new.event_secret));
        assert_eq!(s.event_secret(2).unwrap(), None);
        // Fresh secrets differ, and their Debug form hides them.
        let (a, b) = (EventSecret::fresh(), EventSecret::fresh());
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "EventSecret(<redacted>)");
        assert_eq!(EventSecret::from_bytes(&a.to_bytes()).unwrap(), a);
        assert!(EventSecret::from_bytes(&[0xff; 32]).is_err());
    }

    #[test]
    fn latest_checkpoint_is_the_largest() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.latest_checkpoint().unwrap(), None);
        for size in [1u64, 3, 2] {
            s.put_checkpoint(&StoredCheckpoint {
                size,
                time: 10 + size,
                text: format!("cp{size}"),
            })
            .unwrap();
        }
        assert_eq!(s.latest_checkpoint().unwrap().unwrap().text, "cp3");
    }
}

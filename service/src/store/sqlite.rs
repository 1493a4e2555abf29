//! The SQLite store: every storage area in one database file, with versioned migrations.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::*;

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

/// Migration 1, the baseline: the schema as it was when migrations were introduced. Every
/// statement is `IF NOT EXISTS`, and [`ADDED_COLUMNS`] are added where missing, so that a
/// database made before migrations (user_version 0) is adopted as it stands.
const BASELINE: &str = "
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
/// Migration 2: a counter of token changes, kept by triggers, which a running service polls to
/// see tokens issued or revoked by another process (`letro token issue|revoke`).
const TOKEN_CHANGES: &str = "
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
";

/// A schema change: the database's `user_version` after it, and what it does.
struct Migration {
    version: u32,
    name: &'static str,
    apply: fn(&rusqlite::Transaction<'_>) -> Result<(), StoreError>,
}

/// Every migration, in order. A new schema change is a new entry at the end, never an edit of
/// an old one: databases already at its version would not see the edit.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "baseline",
        apply: |tx| {
            tx.execute_batch(BASELINE)?;
            for (table, column, decl) in ADDED_COLUMNS {
                let present: bool = tx.query_row(
                    "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                    params![table, column],
                    |r| r.get(0),
                )?;
                if !present {
                    tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
                }
            }
            Ok(())
        },
    },
    Migration {
        version: 2,
        name: "token change counter",
        apply: |tx| Ok(tx.execute_batch(TOKEN_CHANGES)?),
    },
    Migration {
        version: 3,
        name: "delivery lifecycle",
        apply: |tx| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            tx.execute_batch(&LIFECYCLE.replace("{now}", &now.to_string()))?;
            // Foreign keys are off while migrating (SQLite's procedure for rebuilding a table):
            // check them by hand before committing.
            let violations: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if violations != 0 {
                return Err(StoreError::Corrupt(format!(
                    "{violations} foreign key violations after rebuilding the leaves table"
                )));
            }
            Ok(())
        },
    },
    Migration {
        version: 4,
        name: "checkpoint time-stamps",
        apply: |tx| Ok(tx.execute_batch(TIMESTAMPS)?),
    },
    Migration {
        version: 5,
        name: "delivery notices",
        apply: |tx| Ok(tx.execute_batch(NOTICES)?),
    },
    Migration {
        version: 6,
        name: "job leases",
        apply: |tx| Ok(tx.execute_batch(JOB_LEASES)?),
    },
];

/// Migration 6: proof jobs as a queue with leases: the attempt counter (the fencing token of a
/// claim), who holds the lease and until when, when a failed job may be tried again, and the
/// last attempt's failure.
const JOB_LEASES: &str = "
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires INTEGER;
ALTER TABLE jobs ADD COLUMN retry_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN last_error TEXT;
CREATE INDEX jobs_by_state ON jobs (state, seq);
";

/// Migration 5: notices owed to senders whose deliveries reached their final state.
const NOTICES: &str = "
CREATE TABLE delivery_notices (
    idx INTEGER PRIMARY KEY,
    h BLOB NOT NULL CHECK (length(h) = 32),
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed'))
);
CREATE INDEX delivery_notices_pending ON delivery_notices (state, idx);
";

/// Migration 4: RFC 3161 tokens over checkpoint bodies, one per TSA and body.
const TIMESTAMPS: &str = "
CREATE TABLE checkpoint_timestamps (
    body_sha256 BLOB NOT NULL CHECK (length(body_sha256) = 32),
    tsa TEXT NOT NULL,
    size INTEGER NOT NULL,
    token BLOB NOT NULL,
    gen_time INTEGER NOT NULL,
    stored INTEGER PRIMARY KEY AUTOINCREMENT,
    UNIQUE (body_sha256, tsa)
);
";

/// Migration 3: the lifecycle kinds in `leaves` (SQLite cannot change a CHECK, so the table is
/// rebuilt, with foreign keys off and checked afterwards), every event indexed by `H`, and the open
/// deliveries the expiry task reads. A delivery already open when this runs is counted as
/// accepted now (`{now}`): its retention starts at the upgrade, never earlier.
const LIFECYCLE: &str = "
CREATE TABLE leaves_v3 (
    idx INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN
        ('submitted', 'delivered', 'rejected', 'available', 'refused', 'expired')),
    leaf BLOB NOT NULL CHECK (length(leaf) = 32),
    event TEXT NOT NULL,
    event_secret BLOB CHECK (event_secret IS NULL OR length(event_secret) = 32)
);
INSERT INTO leaves_v3 (idx, kind, leaf, event, event_secret)
    SELECT idx, kind, leaf, event, event_secret FROM leaves;
DROP TABLE leaves;
ALTER TABLE leaves_v3 RENAME TO leaves;
CREATE TABLE delivery_events (
    idx INTEGER PRIMARY KEY REFERENCES leaves(idx),
    h BLOB NOT NULL CHECK (length(h) = 32)
);
CREATE INDEX delivery_events_by_h ON delivery_events (h, idx);
INSERT INTO delivery_events (idx, h)
    SELECT idx, h FROM submissions UNION ALL SELECT idx, h FROM receipts;
CREATE TABLE open_deliveries (
    h BLOB PRIMARY KEY CHECK (length(h) = 32),
    accepted_at INTEGER NOT NULL
);
CREATE INDEX open_deliveries_by_time ON open_deliveries (accepted_at);
INSERT INTO open_deliveries (h, accepted_at)
    SELECT s.h, {now} FROM submissions s
    WHERE NOT EXISTS (SELECT 1 FROM receipts r WHERE r.h = s.h);
";

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 6;

/// Brings the database to [`SCHEMA_VERSION`], one migration per transaction (each with its new
/// `user_version`), so that a crash leaves it at a version it had; refuses a database from a
/// newer build. Two processes opening at once serialize on the write lock and the second finds
/// the work done.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Off while migrating, as SQLite's procedure for rebuilding a table requires (it cannot be
    // changed inside a transaction); a migration that rebuilds a table checks the keys itself.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = migrate_all(conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

fn migrate_all(conn: &mut Connection) -> Result<(), StoreError> {
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: current,
                known: SCHEMA_VERSION,
            });
        }
        if current < m.version {
            (m.apply)(&tx)?;
            tx.pragma_update(None, "user_version", m.version)?;
            tx.commit()?;
            tracing::info!(version = m.version, migration = m.name, "database migrated");
        }
    }
    Ok(())
}

/// Columns added before migrations existed (see [`BASELINE`]).
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
        let mut conn = Connection::open(data_dir.join(DATABASE_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
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
        // Cached: the lookup runs for every receipt, and preparing it each time was about 3.5 %
        // of the service's CPU under a receipt load (BENCHMARKS.md).
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![&h[..]], |r| Ok((r.get(0)?, r.get(1)?)))
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

impl LogStore for SqliteStore {
    fn leaves(&self) -> Result<Vec<StoredLeaf>, StoreError> {
        self.leaves_from(0)
    }

    fn leaves_from(&self, start: u64) -> Result<Vec<StoredLeaf>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, leaf FROM leaves WHERE idx >= ?1 ORDER BY idx")?;
        let rows = stmt.query_map([to_i64(start)?], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, leaf) = row?;
            let index = to_u64(idx)?;
            let expected = start + out.len() as u64;
            if index != expected {
                return Err(StoreError::Corrupt(format!(
                    "leaf index {index} where {expected} was expected"
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

    fn delivery(&self, h: &[u8; 32]) -> Result<Vec<(u64, StoredEvent)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.idx, l.event FROM delivery_events d JOIN leaves l ON l.idx = d.idx \
             WHERE d.h = ?1 ORDER BY d.idx",
        )?;
        let rows = stmt.query_map(params![&h[..]], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, json) = row?;
            let index = to_u64(idx)?;
            let event = serde_json::from_str(&json)
                .map_err(|source| StoreError::MalformedEvent { index, source })?;
            out.push((index, event));
        }
        Ok(out)
    }

    fn expiring(&self, accepted_by: u64, limit: usize) -> Result<Vec<OpenDelivery>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT h, accepted_at FROM open_deliveries WHERE accepted_at <= ?1 \
             ORDER BY accepted_at, h LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let accepted_by = i64::try_from(accepted_by).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![accepted_by, limit], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (h, at) = row?;
            out.push(OpenDelivery {
                ciphertext_hash: to_32(h)?,
                accepted_at: to_u64(at)?,
            });
        }
        Ok(out)
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
            let mut by_h_stmt =
                tx.prepare_cached("INSERT INTO delivery_events (idx, h) VALUES (?1, ?2)")?;
            let mut open_stmt =
                tx.prepare_cached("INSERT INTO open_deliveries (h, accepted_at) VALUES (?1, ?2)")?;
            let mut close_stmt = tx.prepare_cached("DELETE FROM open_deliveries WHERE h = ?1")?;
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
                let h = &e.ciphertext_hash[..];
                by_h_stmt.execute(params![idx, h])?;
                match e.event {
                    StoredEvent::Submitted { .. } => {
                        sub_stmt.execute(params![h, idx])?;
                        open_stmt.execute(params![h, to_i64(e.logged_at)?])?;
                    }
                    StoredEvent::Delivered { .. } => {
                        rec_stmt.execute(params![h, idx])?;
                        close_stmt.execute(params![h])?;
                    }
                    StoredEvent::Refused { .. } | StoredEvent::Expired { .. } => {
                        close_stmt.execute(params![h])?;
                    }
                    StoredEvent::Rejected { .. } | StoredEvent::Available { .. } => {}
                }
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
}

impl TokenStore for SqliteStore {
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

    fn revoke_token(&mut self, hash: &[u8; 32], at: u64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE hash = ?1",
            params![&hash[..], to_i64(at)?],
        )?;
        Ok(n == 1)
    }
}

impl AuditStore for SqliteStore {
    fn last_audit(&self) -> Result<Option<AuditRecord>, StoreError> {
        let mut rows = self.audit_rows("ORDER BY seq DESC LIMIT 1")?;
        Ok(rows.pop())
    }

    fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let last: Option<i64> = tx.query_row("SELECT MAX(seq) FROM audit", [], |row| row.get(0))?;
        let next = match last {
            None => 1,
            Some(seq) => to_u64(seq)? + 1,
        };
        if r.seq != next {
            return Err(StoreError::AuditRace(r.seq));
        }
        tx.execute(
            "INSERT INTO audit (seq, time, actor, action, target, outcome, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_i64(r.seq)?,
                to_i64(r.time)?,
                r.actor,
                r.action,
                r.target,
                r.outcome,
                r.hash
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_rows("ORDER BY seq")
    }
}

impl JobStore for SqliteStore {
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
             AND state IN ('done', 'failed', 'dead') ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn claim_job(
        &mut self,
        worker: &str,
        now: u64,
        lease: u64,
    ) -> Result<Option<(Claim, JobRecord)>, StoreError> {
        let now = to_i64(now)?;
        let until = now.saturating_add(to_i64(lease)?);
        // One statement: SQLite runs one writer at a time, so no two callers claim one job.
        let claimed = self
            .conn
            .prepare_cached(&format!(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?1, \
                 lease_expires = ?3 WHERE seq = (SELECT seq FROM jobs WHERE \
                 (state = 'queued' AND retry_at <= ?2) OR (state = 'running' AND \
                 lease_expires < ?2) ORDER BY seq LIMIT 1) RETURNING {JOB_COLUMNS}, attempts"
            ))?
            .query_row(params![worker, now, until], |r| {
                Ok((job_row(r)?, r.get::<_, u32>(13)?))
            })
            .optional()?;
        claimed
            .map(|(row, attempt)| {
                let job = job_from_row(row)?;
                let claim = Claim {
                    id: job.id.clone(),
                    attempt,
                    worker: worker.to_owned(),
                };
                Ok((claim, job))
            })
            .transpose()
    }

    fn finish_job(&mut self, claim: &Claim, j: &JobRecord) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE jobs SET state = ?4, error_code = ?5, error_message = ?6, bundle = ?7, \
             opening = ?8, callback_state = ?9, lease_owner = NULL, lease_expires = NULL \
             WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3",
            params![
                claim.id,
                claim.attempt,
                claim.worker,
                j.state.as_str(),
                j.error.as_ref().map(|e| e.0.as_str()),
                j.error.as_ref().map(|e| e.1.as_str()),
                j.bundle,
                j.opening,
                j.callback_state
            ],
        )?;
        Ok(n == 1)
    }

    fn release_job(
        &mut self,
        claim: &Claim,
        retry: Retry,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let n = match retry {
            Retry::At(at) => self.conn.execute(
                "UPDATE jobs SET state = 'queued', retry_at = ?4, last_error = ?5, \
                 lease_owner = NULL, lease_expires = NULL \
                 WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3",
                params![claim.id, claim.attempt, claim.worker, to_i64(at)?, reason],
            )?,
            Retry::DeadLetter => self.conn.execute(
                "UPDATE jobs SET state = 'dead', error_code = ?4, error_message = ?5, \
                 last_error = ?5, lease_owner = NULL, lease_expires = NULL, callback_state = \
                 CASE WHEN callback_url IS NULL THEN callback_state ELSE 'pending' END \
                 WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3",
                params![
                    claim.id,
                    claim.attempt,
                    claim.worker,
                    crate::jobs::PROOF_FAILED,
                    reason
                ],
            )?,
        };
        Ok(n == 1)
    }

    fn requeue_running(&mut self) -> Result<u64, StoreError> {
        let n = self.conn.execute(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL \
             WHERE state = 'running'",
            [],
        )?;
        Ok(n as u64)
    }
}

impl DirectoryStore for SqliteStore {
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
}

impl TimestampStore for SqliteStore {
    fn put_timestamp(
        &mut self,
        body_sha256: &[u8; 32],
        size: u64,
        stamp: &StoredTimestamp,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO checkpoint_timestamps (body_sha256, tsa, size, token, gen_time)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &body_sha256[..],
                stamp.tsa,
                to_i64(size)?,
                stamp.token,
                to_i64(stamp.time)?
            ],
        )?;
        Ok(n == 1)
    }

    fn timestamps(&self, body_sha256: &[u8; 32]) -> Result<Vec<StoredTimestamp>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tsa, token, gen_time FROM checkpoint_timestamps
             WHERE body_sha256 = ?1 ORDER BY stored",
        )?;
        let rows = stmt.query_map(params![&body_sha256[..]], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (tsa, token, time) = row?;
            out.push(StoredTimestamp {
                tsa,
                token,
                time: u64::try_from(time)
                    .map_err(|_| StoreError::Corrupt("a negative time-stamp time".into()))?,
            });
        }
        Ok(out)
    }
}

impl NoticeStore for SqliteStore {
    fn put_notice(&mut self, n: &StoredNotice) -> Result<bool, StoreError> {
        let stored = self.conn.execute(
            "INSERT OR IGNORE INTO delivery_notices (idx, h, event, url) VALUES (?1, ?2, ?3, ?4)",
            params![to_i64(n.index)?, &n.ciphertext_hash[..], n.event, n.url],
        )?;
        Ok(stored == 1)
    }

    fn notice(&self, index: u64) -> Result<Option<StoredNotice>, StoreError> {
        self.conn
            .query_row(
                "SELECT h, event, url FROM delivery_notices WHERE idx = ?1",
                params![to_i64(index)?],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?
            .map(|(h, event, url)| {
                let ciphertext_hash: [u8; 32] = h
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a notice's H is not 32 bytes".into()))?;
                Ok(StoredNotice {
                    index,
                    ciphertext_hash,
                    event,
                    url,
                })
            })
            .transpose()
    }

    fn pending_notices(&self) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx FROM delivery_notices WHERE state = 'pending' ORDER BY idx",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(
                u64::try_from(row?)
                    .map_err(|_| StoreError::Corrupt("a negative notice index".into()))?,
            );
        }
        Ok(out)
    }

    fn finish_notice(&mut self, index: u64, state: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE delivery_notices SET state = ?2 WHERE idx = ?1",
            params![to_i64(index)?, state],
        )?;
        Ok(())
    }
}

impl MailboxStore for SqliteStore {
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

/// The [`JOB_COLUMNS`] of a row, in order.
fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
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
}

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
    /// Audit records in the order `order` (an `ORDER BY ... [LIMIT n]` clause).
    fn audit_rows(&self, order: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT seq, time, actor, action, target, outcome, hash FROM audit {order}"
        ))?;
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
                job_row,
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
            logged_at: 1_000 + index,
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
            assert_eq!(crate::audit::append(&mut s, &entry(n)).unwrap().seq, n + 1);
        }
        let mut bad = entry(9);
        bad.target = "a\nb".into();
        assert!(crate::audit::append(&mut s, &bad).is_err());
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
    fn one_time_stamp_per_tsa_and_checkpoint_body_is_kept_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        let stamp = |tsa: &str, token: u8| StoredTimestamp {
            tsa: tsa.into(),
            token: vec![token; 3],
            time: 1_800_000_000,
        };
        let (a, b) = ([1; 32], [2; 32]);
        assert!(s.put_timestamp(&a, 5, &stamp("https://tsa2", 1)).unwrap());
        assert!(s.put_timestamp(&a, 5, &stamp("https://tsa1", 2)).unwrap());
        // A second token of the same TSA for the same body is not stored.
        assert!(!s.put_timestamp(&a, 5, &stamp("https://tsa1", 3)).unwrap());
        assert!(s.put_timestamp(&b, 6, &stamp("https://tsa1", 4)).unwrap());
        let got = s.timestamps(&a).unwrap();
        assert_eq!(
            got,
            vec![stamp("https://tsa2", 1), stamp("https://tsa1", 2)]
        );
        assert_eq!(s.timestamps(&[9; 32]).unwrap(), vec![]);
    }

    #[test]
    fn migrations_record_their_version_and_a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let version = |dir: &std::path::Path| -> u32 {
            Connection::open(dir.join(DATABASE_FILE))
                .unwrap()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap()
        };
        drop(SqliteStore::open(dir.path()).unwrap());
        assert_eq!(version(dir.path()), SCHEMA_VERSION);
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
        // Reopening changes nothing.
        drop(SqliteStore::open(dir.path()).unwrap());
        assert_eq!(version(dir.path()), SCHEMA_VERSION);
        // A database at version 1 (before the token counter, the lifecycle tables, the
        // time-stamps, the notices and the job leases) is brought to the latest.
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(
                "DROP TRIGGER tokens_inserted; DROP TRIGGER tokens_updated; \
                 DROP TRIGGER tokens_deleted; DROP TABLE token_changes; \
                 DROP TABLE delivery_events; DROP TABLE open_deliveries; \
                 DROP TABLE checkpoint_timestamps; DROP TABLE delivery_notices; \
                 DROP INDEX jobs_by_state; ALTER TABLE jobs DROP COLUMN attempts; \
                 ALTER TABLE jobs DROP COLUMN lease_owner; \
                 ALTER TABLE jobs DROP COLUMN lease_expires; \
                 ALTER TABLE jobs DROP COLUMN retry_at; ALTER TABLE jobs DROP COLUMN last_error; \
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(version(dir.path()), SCHEMA_VERSION);
        let before = s.token_changes().unwrap();
        crate::auth::issue_token(&mut s, crate::auth::Role::Admin, "ops", 10, "cli").unwrap();
        assert!(s.token_changes().unwrap() > before);
        drop(s);
        // A newer build's database.
        Connection::open(dir.path().join(DATABASE_FILE))
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        match SqliteStore::open(dir.path()) {
            Err(e @ StoreError::NewerSchema { found: 99, .. }) => {
                assert!(e.to_string().contains("newer than this build"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A version 2 database (the leaves table refusing lifecycle kinds) with a delivered and an
    /// open delivery: migration 3 keeps every leaf, indexes both deliveries by `H`, opens only
    /// the undelivered one (from the upgrade's time), and takes the new kinds.
    #[test]
    fn the_lifecycle_migration_keeps_every_leaf_and_opens_undelivered_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let (h1, h2) = ([1u8; 32], [2u8; 32]);
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(BASELINE).unwrap();
            conn.execute_batch(TOKEN_CHANGES).unwrap();
            let sub = |h: [u8; 32]| {
                serde_json::to_string(&StoredEvent::Submitted {
                    ciphertext_sha256: hex::encode(h),
                    sender: "bank".into(),
                    routing: "r".into(),
                })
                .unwrap()
            };
            let delivered = serde_json::to_string(&StoredEvent::Delivered {
                ciphertext_sha256: hex::encode(h1),
                delivered_at: 5,
                receipt_key: PointJson {
                    x: "1".into(),
                    y: "2".into(),
                },
                signature: SignatureJson {
                    r8: PointJson {
                        x: "1".into(),
                        y: "2".into(),
                    },
                    s: "3".into(),
                },
                receipt_key_certificate: None,
            })
            .unwrap();
            for (idx, kind, json) in [
                (0, "submitted", sub(h1)),
                (1, "submitted", sub(h2)),
                (2, "delivered", delivered),
            ] {
                conn.execute(
                    "INSERT INTO leaves (idx, kind, leaf, event) VALUES (?1, ?2, zeroblob(32), ?3)",
                    params![idx, kind, json],
                )
                .unwrap();
            }
            conn.execute_batch(&format!(
                "INSERT INTO submissions VALUES (x'{0}', 0), (x'{1}', 1); \
                 INSERT INTO receipts VALUES (x'{0}', 2); PRAGMA user_version = 2;",
                hex::encode(h1),
                hex::encode(h2)
            ))
            .unwrap();
            // The old table refuses the new kinds.
            assert!(conn
                .execute(
                    "INSERT INTO leaves (idx, kind, leaf, event) VALUES (3, 'expired', zeroblob(32), '{}')",
                    [],
                )
                .is_err());
        }
        let before = crate::unix_now();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.leaves().unwrap().len(), 3);
        let kinds = |s: &SqliteStore, h| -> Vec<&'static str> {
            s.delivery(&h)
                .unwrap()
                .iter()
                .map(|(_, e)| e.kind())
                .collect()
        };
        assert_eq!(kinds(&s, h1), ["submitted", "delivered"]);
        assert_eq!(kinds(&s, h2), ["submitted"]);
        let open = s.expiring(u64::MAX, 10).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].ciphertext_hash, h2);
        assert!(
            open[0].accepted_at >= before,
            "retention starts at the upgrade"
        );
        assert!(s.expiring(before - 1, 10).unwrap().is_empty());
        // Foreign keys still hold, and the new kinds are taken.
        let violations: i64 = s
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0);
        s.append(&[NewEntry {
            index: 3,
            ciphertext_hash: h2,
            leaf: [3; 32],
            event: StoredEvent::Expired {
                ciphertext_sha256: hex::encode(h2),
                retention: 60,
                expired_at: 99,
            },
            event_secret: EventSecret::fresh(),
            logged_at: 99,
        }])
        .unwrap();
        assert!(s.expiring(u64::MAX, 10).unwrap().is_empty());
        assert_eq!(kinds(&s, h2), ["submitted", "expired"]);
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

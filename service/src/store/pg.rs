//! The PostgreSQL store: every storage area in one PostgreSQL database, with versioned
//! migrations of its own (the two backends number their schemas independently).
//!
//! The store traits are synchronous and the service calls them on blocking threads (the log
//! writer's thread, `spawn_blocking`), as it does SQLite's. The driver is `tokio-postgres`:
//! each [`PostgresStore`] is one connection, driven by a current-thread runtime on a thread of
//! its own, whose queries the caller awaits with `futures-executor` (so a store may be called,
//! and dropped, on any thread, inside a tokio runtime or not). Statements are prepared once per
//! connection.
//!
//! Durability: a transaction is acknowledged by the server once its commit record is flushed
//! to the server's WAL (`synchronous_commit = on`, PostgreSQL's default); this store never lowers
//! it. An event the log writer acknowledged has been committed by [`LogStore::append`] first.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_executor::block_on;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::*;

/// The schema version this build writes and reads (the `letro_schema` table's largest).
pub const POSTGRES_SCHEMA_VERSION: u32 = 3;

/// The key of the session advisory lock the log writer's connection holds while a service
/// sequences this database's log (ASCII "letro-sq").
const SEQUENCER_LOCK: i64 = 0x6c65_7472_6f2d_7371;

/// The key of the advisory lock migrations hold, so that replicas starting together migrate
/// one at a time (ASCII "letro-mg").
const MIGRATION_LOCK: i64 = 0x6c65_7472_6f2d_6d67;

/// Migration 1: the schema of SQLite's version 5, in PostgreSQL's types. Integers are `BIGINT`
/// (`u64` values are checked into `i64` before they are stored), byte strings `BYTEA` with their
/// lengths checked. The audit log refuses updates, deletes and truncation; token changes are
/// counted by a trigger, which a running service polls.
const BASELINE: &str = "
CREATE TABLE letro_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE leaves (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    kind TEXT NOT NULL CHECK (kind IN
        ('submitted', 'delivered', 'rejected', 'available', 'refused', 'expired')),
    leaf BYTEA NOT NULL CHECK (length(leaf) = 32),
    event TEXT NOT NULL,
    event_secret BYTEA CHECK (event_secret IS NULL OR length(event_secret) = 32)
);
CREATE TABLE submissions (
    h BYTEA PRIMARY KEY CHECK (length(h) = 32),
    idx BIGINT NOT NULL UNIQUE REFERENCES leaves(idx)
);
CREATE TABLE receipts (
    h BYTEA PRIMARY KEY CHECK (length(h) = 32),
    idx BIGINT NOT NULL UNIQUE REFERENCES leaves(idx)
);
CREATE TABLE delivery_events (
    idx BIGINT PRIMARY KEY REFERENCES leaves(idx),
    h BYTEA NOT NULL CHECK (length(h) = 32)
);
CREATE INDEX delivery_events_by_h ON delivery_events (h, idx);
CREATE TABLE open_deliveries (
    h BYTEA PRIMARY KEY CHECK (length(h) = 32),
    accepted_at BIGINT NOT NULL
);
CREATE INDEX open_deliveries_by_time ON open_deliveries (accepted_at, h);
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY CHECK (size >= 0),
    time BIGINT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE tokens (
    hash BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    role TEXT NOT NULL,
    subject TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO token_changes (id, n) VALUES (1, 0);
CREATE FUNCTION letro_count_token_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE token_changes SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END $$;
CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION letro_count_token_change();
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
    time BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE FUNCTION letro_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION letro_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION letro_audit_append_only();
CREATE TABLE directory (
    account TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    receipt_key BYTEA NOT NULL CHECK (length(receipt_key) = 32),
    certificate TEXT NOT NULL
);
CREATE TABLE one_time_prekeys (
    account TEXT NOT NULL,
    id BIGINT NOT NULL CHECK (id >= 0),
    public_key BYTEA NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE TABLE receipt_keys (
    receipt_key BYTEA PRIMARY KEY CHECK (length(receipt_key) = 32),
    account TEXT NOT NULL,
    certificate TEXT NOT NULL
);
CREATE TABLE mailbox (
    h BYTEA PRIMARY KEY CHECK (length(h) = 32),
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    envelope BYTEA NOT NULL
);
CREATE INDEX mailbox_by_recipient ON mailbox (recipient, seq);
CREATE TABLE jobs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    h BYTEA NOT NULL CHECK (length(h) = 32),
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    blinding TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    error_code TEXT,
    error_message TEXT,
    bundle TEXT,
    opening TEXT,
    callback_url TEXT,
    callback_state TEXT
);
CREATE INDEX jobs_by_owner ON jobs (owner, state);
CREATE TABLE checkpoint_timestamps (
    stored BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body_sha256 BYTEA NOT NULL CHECK (length(body_sha256) = 32),
    tsa TEXT NOT NULL,
    size BIGINT NOT NULL,
    token BYTEA NOT NULL,
    gen_time BIGINT NOT NULL,
    UNIQUE (body_sha256, tsa)
);
CREATE TABLE delivery_notices (
    idx BIGINT PRIMARY KEY,
    h BYTEA NOT NULL CHECK (length(h) = 32),
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed'))
);
CREATE INDEX delivery_notices_pending ON delivery_notices (state, idx);
";

/// A schema change: its version, its name and its SQL, run in one transaction with the row
/// that records it. A new change is a new entry at the end, never an edit of an old one.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "baseline (SQLite schema 5)",
        sql: BASELINE,
    },
    Migration {
        version: 2,
        name: "job leases",
        sql: JOB_LEASES,
    },
    Migration {
        version: 3,
        name: "sequencer address",
        sql: SEQUENCER_ADDRESS,
    },
];

/// Migration 3 (PostgreSQL only: replicas share a PostgreSQL database): the address at which
/// the service that sequences the log serves its API, written by that service's sequencer
/// session with the session's backend pid. A replica that does not sequence forwards requests
/// there, and believes the row only while that pid holds the sequencer lock
/// ([`PostgresStore::sequencer_url`]), so a dead leader's row is never followed.
const SEQUENCER_ADDRESS: &str = "
CREATE TABLE sequencer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    url TEXT NOT NULL,
    since BIGINT NOT NULL
);
";

/// Migration 2 (SQLite's 6): proof jobs as a queue with leases: the attempt counter (the
/// fencing token of a claim), who holds the lease and until when, when a failed job may be
/// tried again, the last attempt's failure, and the dead-letter state.
const JOB_LEASES: &str = "
ALTER TABLE jobs
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_expires BIGINT,
    ADD COLUMN retry_at BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_error TEXT;
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead'));
CREATE INDEX jobs_by_state ON jobs (state, seq);
";

/// The PostgreSQL store: one connection to the database named by a `postgres://` URL (or a
/// libpq key-value string).
pub struct PostgresStore {
    inner: RefCell<Connection>,
    /// Whether this connection holds the sequencer lock (released when the store is dropped).
    sequencer: bool,
    /// Whether the sequencer's session has its idle timeouts ([`LEASE`]) set: from its first
    /// heartbeat, so that the log's load at start (no queries while the tree is rebuilt) is
    /// not taken for a hung leader.
    lease_armed: bool,
}

/// How long [`PostgresStore::lock_sequencer`] tries before it refuses.
pub const SEQUENCER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How long the sequencer's session may stay idle before the server ends it, releasing the
/// lock for a standby: a leader paused or hung this long loses its lease. Its heartbeat
/// ([`HEARTBEAT`]) keeps a live leader's session busy.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// How often a service on PostgreSQL sends its log writer a heartbeat ([`LogStore::heartbeat`]).
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// How often a standby tries the sequencer lock ([`PostgresStore::wait_sequencer`]).
pub const STANDBY_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Released at once, so that the next start need not wait for the server to see the
        // connection close (a killed process's lock goes when its connection does).
        if self.sequencer {
            let c = self.inner.get_mut();
            let _ = block_on(
                c.client
                    .execute("SELECT pg_advisory_unlock($1)", &[&SEQUENCER_LOCK]),
            );
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.write_str("PostgresStore")
    }
}

struct Connection {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Connection {
    /// The prepared statement for `sql`, prepared on first use.
    fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = block_on(self.client.prepare(sql))?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.query(&s, params))?)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.query_opt(&s, params))?)
    }

    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.execute(&s, params))?)
    }
}

/// Connects, and drives the connection on a thread of its own until the client is dropped (or
/// the server closes it: then every later query fails with a closed-connection error).
/// How long a connection may take to open, and how long data this side sent may stay
/// unacknowledged before the connection is dropped, unless the URL says otherwise
/// (`connect_timeout`, `tcp_user_timeout`).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// This side's bounds on a connection, where the URL sets none: [`CONNECT_TIMEOUT`] to open
/// it and for sent data to be acknowledged, and TCP keepalives after 5 s of silence (libpq's
/// default would wait two hours). A leader whose network is cut then sees its session fail
/// within about 10 s of its next heartbeat, as the server does ([`LEASE`]).
fn bound_connection(config: &mut tokio_postgres::Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(CONNECT_TIMEOUT);
    }
    if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(std::time::Duration::from_secs(5));
    }
}

fn connect(config: tokio_postgres::Config) -> Result<Client, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let describe = {
        let config = config.clone();
        move |e: &dyn std::fmt::Display| describe_connect_error(&config, e)
    };
    let thread = std::thread::Builder::new()
        .name("letro-postgres".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start the connection's runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                match config.connect(NoTls).await {
                    Ok((client, connection)) => {
                        if tx.send(Ok(client)).is_err() {
                            return;
                        }
                        if let Err(e) = connection.await {
                            tracing::error!(error = %e, "the PostgreSQL connection failed");
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(describe(&e)));
                    }
                }
            });
        });
    if let Err(e) = thread {
        return Err(StoreError::Connect(format!(
            "cannot start the PostgreSQL connection's thread: {e}"
        )));
    }
    match rx.recv() {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(message)) => Err(StoreError::Connect(message)),
        Err(_) => Err(StoreError::Connect(
            "the PostgreSQL connection's thread ended before connecting".into(),
        )),
    }
}

/// A driver error with what the server said (its message, SQLSTATE and detail), or the cause
/// of a client-side failure: the driver's own text is only "db error" for the former.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Whether a database URL names PostgreSQL (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PostgresStore {
    /// Connects to the database at `url` and brings its schema to
    /// [`POSTGRES_SCHEMA_VERSION`] (one migration per transaction, under an advisory lock);
    /// refuses a database written by a newer build.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_as(url, None)
    }

    /// [`Self::open`], naming the session `application_name` (what `pg_stat_activity` shows)
    /// unless the URL names it.
    pub fn open_as(url: &str, application_name: Option<&str>) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Connect(format!("the database URL is malformed: {e}")))?;
        bound_connection(&mut config);
        if let (Some(name), None) = (application_name, config.get_application_name()) {
            config.application_name(name);
        }
        let mut client = connect(config)?;
        block_on(migrate(&mut client))?;
        Ok(Self {
            inner: RefCell::new(Connection {
                client,
                statements: HashMap::new(),
            }),
            sequencer: false,
            lease_armed: false,
        })
    }

    /// Records `origin` as this database's log on first use; `Ok(false)` if it was recorded
    /// before with the same origin. A database that records another origin is refused: each log
    /// (each region) has a database of its own, and a service pointed at another log's database
    /// must not write into it.
    pub fn claim_origin(&mut self, origin: &str) -> Result<bool, StoreError> {
        let mut c = self.inner.borrow_mut();
        let inserted = c.execute(
            "INSERT INTO letro_meta (key, value) VALUES ('origin', $1) ON CONFLICT (key) DO NOTHING",
            &[&origin],
        )?;
        if inserted == 1 {
            return Ok(true);
        }
        let recorded: String = c
            .query_opt("SELECT value FROM letro_meta WHERE key = 'origin'", &[])?
            .ok_or_else(|| StoreError::Corrupt("the recorded origin vanished".into()))?
            .try_get(0)?;
        if recorded != origin {
            return Err(StoreError::OtherOrigin {
                recorded,
                requested: origin.to_owned(),
            });
        }
        Ok(false)
    }

    /// Takes the sequencer lock: a session advisory lock, held by this connection until it
    /// closes (when the process exits, is killed, or drops the store). Exactly one service
    /// sequences, integrates and signs the log of a database; another one started on it is
    /// refused with [`StoreError::SequencerBusy`].
    ///
    /// A service that just stopped may still be closing its connection: the lock is tried for
    /// up to [`SEQUENCER_WAIT`] before the start is refused.
    pub fn lock_sequencer(&mut self) -> Result<(), StoreError> {
        self.require_lease_support()?;
        let deadline = std::time::Instant::now() + SEQUENCER_WAIT;
        while !self.try_lock_sequencer()? {
            if std::time::Instant::now() >= deadline {
                return Err(StoreError::SequencerBusy);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// Takes the sequencer lock as a standby does: waits, trying every
    /// [`STANDBY_POLL`], for as long as another service holds it. The lock is released when
    /// its holder's connection closes: at once when the process exits or is killed, and
    /// within about five seconds of its host or network going silent, by the keepalives the
    /// holder's session sets ([`Self::try_lock_sequencer`]).
    pub fn wait_sequencer(&mut self) -> Result<(), StoreError> {
        let never = std::sync::atomic::AtomicBool::new(false);
        self.wait_sequencer_until(&never, |_| {}).map(|_| ())
    }

    /// Refuses a server without what the sequencer's lease needs: `idle_session_timeout`
    /// (PostgreSQL 14). Checked once, before the lock is first tried.
    fn require_lease_support(&mut self) -> Result<(), StoreError> {
        let version: i32 = self
            .inner
            .get_mut()
            .query_opt("SELECT current_setting('server_version_num')::int", &[])?
            .ok_or_else(|| StoreError::Corrupt("server_version_num returned no row".into()))?
            .try_get(0)?;
        if version < 140_000 {
            return Err(StoreError::Connect(format!(
                "the sequencer's lease needs PostgreSQL 14 or later (idle_session_timeout); \
                 this server's version number is {version}"
            )));
        }
        Ok(())
    }

    /// One try at the sequencer lock. Once it holds it, the session asks the server to probe
    /// the connection after 2 s of silence, every second, 3 times (a holder whose host or
    /// network died loses its session, and so the lock, within about 5 s). From the first
    /// heartbeat on (once the log is loaded), the server also ends the session when it stays
    /// idle, in a transaction or not, for [`LEASE`]: a holder paused or hung that long loses it
    /// too; a live one sends a heartbeat every [`HEARTBEAT`] ([`LogStore::heartbeat`]). Every
    /// write the sequencer makes goes through this one session, so a holder that lost it can
    /// never write again (there is no reconnection): the lock is the lease and the session its
    /// fence.
    fn try_lock_sequencer(&mut self) -> Result<bool, StoreError> {
        let c = self.inner.get_mut();
        let row = c
            .query_opt("SELECT pg_try_advisory_lock($1)", &[&SEQUENCER_LOCK])?
            .ok_or_else(|| StoreError::Corrupt("pg_try_advisory_lock returned no row".into()))?;
        if !row.try_get::<_, bool>(0)? {
            return Ok(false);
        }
        self.sequencer = true;
        block_on(c.client.batch_execute(
            "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1; \
             SET tcp_keepalives_count = 3; SET tcp_user_timeout = 5000",
        ))?;
        Ok(true)
    }

    /// Records `url` as the address of the service that sequences this database's log, with
    /// this session's backend pid. Only the holder of the sequencer lock announces (the row is
    /// written through its own session, the fence), and a replica believes the row only while
    /// that pid still holds the lock ([`Self::sequencer_url`]).
    pub fn announce_sequencer(&mut self, url: &str, now: u64) -> Result<(), StoreError> {
        if !self.sequencer {
            return Err(StoreError::Corrupt(
                "only the session that holds the sequencer lock announces its address".into(),
            ));
        }
        self.inner.get_mut().execute(
            "INSERT INTO sequencer (id, pid, url, since) VALUES (1, pg_backend_pid(), $1, $2) \
             ON CONFLICT (id) DO UPDATE SET pid = EXCLUDED.pid, url = EXCLUDED.url, \
             since = EXCLUDED.since",
            &[&url, &to_i64(now)?],
        )?;
        Ok(())
    }

    /// The address the service that sequences this database's log announced
    /// ([`Self::announce_sequencer`]), if a live session holds the sequencer lock and it is the
    /// one that announced it; `None` while no service sequences (between a leader's death and
    /// the next one's takeover) or when the sequencer announced no address.
    pub fn sequencer_url(&self) -> Result<Option<String>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT s.url FROM sequencer s JOIN pg_locks l ON l.pid = s.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
            &[&SEQUENCER_LOCK],
        )?;
        Ok(row.map(|r| r.try_get::<_, String>(0)).transpose()?)
    }

    /// [`Self::wait_sequencer`] until `stop` is set, calling `between` with this store between
    /// tries: `Ok(true)` once it holds the lock, `Ok(false)` when stopped first.
    pub fn wait_sequencer_until(
        &mut self,
        stop: &std::sync::atomic::AtomicBool,
        mut between: impl FnMut(&Self),
    ) -> Result<bool, StoreError> {
        self.require_lease_support()?;
        let mut told = false;
        loop {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(false);
            }
            if self.try_lock_sequencer()? {
                return Ok(true);
            }
            if !told {
                tracing::info!("standby: another service sequences this database's log");
                told = true;
            }
            between(self);
            std::thread::sleep(STANDBY_POLL);
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let mut c = self.inner.borrow_mut();
        let v: Option<i32> = c
            .query_opt("SELECT max(version) FROM letro_schema", &[])?
            .map(|r| r.try_get(0))
            .transpose()?
            .flatten();
        u32::try_from(v.unwrap_or(0))
            .map_err(|_| StoreError::Corrupt("a negative schema version".into()))
    }

    fn find_event(
        &self,
        sql: &'static str,
        h: &[u8; 32],
    ) -> Result<Option<(u64, StoredEvent)>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(sql, &[&&h[..]])?;
        row.map(|r| {
            let index = to_u64(r.try_get(0)?)?;
            let json: String = r.try_get(1)?;
            let event = serde_json::from_str(&json)
                .map_err(|source| StoreError::MalformedEvent { index, source })?;
            Ok((index, event))
        })
        .transpose()
    }
}

/// A connection failure, with where it tried (never the password).
fn describe_connect_error(config: &tokio_postgres::Config, e: &dyn std::fmt::Display) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "cannot connect to PostgreSQL at {} (port {}, database {:?}, user {:?}): {e}",
        if hosts.is_empty() {
            "the default host".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(the user's)"),
        config.get_user().unwrap_or("(the OS user)"),
    )
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    for m in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS letro_schema (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
        let current: Option<i32> = tx
            .query_one("SELECT max(version) FROM letro_schema", &[])
            .await?
            .try_get(0)?;
        let current = u32::try_from(current.unwrap_or(0))
            .map_err(|_| StoreError::Corrupt("a negative schema version".into()))?;
        if current > POSTGRES_SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: current,
                known: POSTGRES_SCHEMA_VERSION,
            });
        }
        if current < m.version {
            tx.batch_execute(m.sql).await?;
            let version = i32::try_from(m.version)
                .map_err(|_| StoreError::Corrupt("schema version out of range".into()))?;
            tx.execute(
                "INSERT INTO letro_schema (version, name) VALUES ($1, $2)",
                &[&version, &m.name],
            )
            .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, migration = m.name, "database migrated");
        }
    }
    Ok(())
}

/// An owned statement parameter, for statements sent together ([`LogStore::append`]).
fn owned<T: ToSql + Sync + Send + 'static>(v: T) -> Box<dyn ToSql + Sync + Send> {
    Box::new(v)
}

fn events(rows: Vec<Row>) -> Result<Vec<(u64, StoredEvent)>, StoreError> {
    rows.into_iter()
        .map(|r| {
            let index = to_u64(r.try_get(0)?)?;
            let json: String = r.try_get(1)?;
            let event = serde_json::from_str(&json)
                .map_err(|source| StoreError::MalformedEvent { index, source })?;
            Ok((index, event))
        })
        .collect()
}

impl LogStore for PostgresStore {
    fn session_lost(&self) -> bool {
        self.sequencer && self.inner.borrow().client.is_closed()
    }

    fn heartbeat(&mut self) -> Result<(), StoreError> {
        if !self.sequencer {
            return Ok(());
        }
        let client = &self.inner.get_mut().client;
        if self.lease_armed {
            block_on(client.simple_query("SELECT 1"))?;
        } else {
            let lease = LEASE.as_millis();
            block_on(client.batch_execute(&format!(
                "SET idle_session_timeout = {lease}; \
                 SET idle_in_transaction_session_timeout = {lease}"
            )))?;
            self.lease_armed = true;
        }
        Ok(())
    }

    fn leaves(&self) -> Result<Vec<StoredLeaf>, StoreError> {
        self.leaves_from(0)
    }

    fn leaves_from(&self, start: u64) -> Result<Vec<StoredLeaf>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT idx, leaf FROM leaves WHERE idx >= $1 ORDER BY idx",
            &[&to_i64(start)?],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let index = to_u64(r.try_get(0)?)?;
            let expected = start + out.len() as u64;
            if index != expected {
                return Err(StoreError::Corrupt(format!(
                    "leaf index {index} where {expected} was expected"
                )));
            }
            out.push(StoredLeaf {
                index,
                leaf: to_32(r.try_get(1)?)?,
            });
        }
        Ok(out)
    }

    fn find_submission(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError> {
        self.find_event(
            "SELECT l.idx, l.event FROM submissions t JOIN leaves l ON l.idx = t.idx WHERE t.h = $1",
            h,
        )
    }

    fn find_receipt(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError> {
        self.find_event(
            "SELECT l.idx, l.event FROM receipts t JOIN leaves l ON l.idx = t.idx WHERE t.h = $1",
            h,
        )
    }

    fn delivery(&self, h: &[u8; 32]) -> Result<Vec<(u64, StoredEvent)>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT l.idx, l.event FROM delivery_events d JOIN leaves l ON l.idx = d.idx \
             WHERE d.h = $1 ORDER BY d.idx",
            &[&&h[..]],
        )?;
        events(rows)
    }

    fn deliveries(&self, hs: &[[u8; 32]]) -> Result<DeliveryEvents, StoreError> {
        let keys: Vec<&[u8]> = hs.iter().map(|h| &h[..]).collect();
        let rows = self.inner.borrow_mut().query(
            "SELECT d.h, l.idx, l.event FROM delivery_events d JOIN leaves l ON l.idx = d.idx \
             WHERE d.h = ANY($1) ORDER BY d.idx",
            &[&keys],
        )?;
        let mut out = DeliveryEvents::new();
        for r in rows {
            let h = to_32(r.try_get(0)?)?;
            let index = to_u64(r.try_get(1)?)?;
            let json: String = r.try_get(2)?;
            let event = serde_json::from_str(&json)
                .map_err(|source| StoreError::MalformedEvent { index, source })?;
            out.entry(h).or_default().push((index, event));
        }
        Ok(out)
    }

    fn expiring(&self, accepted_by: u64, limit: usize) -> Result<Vec<OpenDelivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let accepted_by = i64::try_from(accepted_by).unwrap_or(i64::MAX);
        let rows = self.inner.borrow_mut().query(
            "SELECT h, accepted_at FROM open_deliveries WHERE accepted_at <= $1 \
             ORDER BY accepted_at, h LIMIT $2",
            &[&accepted_by, &limit],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(OpenDelivery {
                    ciphertext_hash: to_32(r.try_get(0)?)?,
                    accepted_at: to_u64(r.try_get(1)?)?,
                })
            })
            .collect()
    }

    fn event_secret(&self, index: u64) -> Result<Option<EventSecret>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT event_secret FROM leaves WHERE idx = $1",
            &[&to_i64(index)?],
        )?;
        let Some(row) = row else { return Ok(None) };
        let secret: Option<Vec<u8>> = row.try_get(0)?;
        secret
            .map(|b| EventSecret::from_bytes(&to_32(b)?))
            .transpose()
    }

    fn append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError> {
        let c = self.inner.get_mut();
        let leaf = c.statement(
            "INSERT INTO leaves (idx, kind, leaf, event, event_secret) VALUES ($1, $2, $3, $4, $5)",
        )?;
        let by_h = c.statement("INSERT INTO delivery_events (idx, h) VALUES ($1, $2)")?;
        let sub = c.statement("INSERT INTO submissions (h, idx) VALUES ($1, $2)")?;
        let rec = c.statement("INSERT INTO receipts (h, idx) VALUES ($1, $2)")?;
        let open = c.statement("INSERT INTO open_deliveries (h, accepted_at) VALUES ($1, $2)")?;
        let close = c.statement("DELETE FROM open_deliveries WHERE h = $1")?;
        // Encoded before the transaction starts, so that a bad entry touches nothing.
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            let json =
                serde_json::to_string(&e.event).map_err(|source| StoreError::MalformedEvent {
                    index: e.index,
                    source,
                })?;
            rows.push((
                e,
                to_i64(e.index)?,
                json,
                e.event_secret.to_bytes(),
                to_i64(e.logged_at)?,
            ));
        }
        let submitted = |e: &NewEntry| matches!(e.event, StoredEvent::Submitted { .. });
        let delivered = |e: &NewEntry| matches!(e.event, StoredEvent::Delivered { .. });
        let closes = |e: &NewEntry| {
            matches!(
                e.event,
                StoredEvent::Delivered { .. }
                    | StoredEvent::Refused { .. }
                    | StoredEvent::Expired { .. }
            )
        };
        block_on(async {
            let tx = c.client.transaction().await?;
            // Every statement of the batch is sent without waiting for the previous answer
            // (tokio-postgres pipelines futures polled together), in this order, and the
            // transaction fails as a whole if one does: one round trip per batch, not per row.
            let mut statements = Vec::with_capacity(rows.len() * 4);
            for (e, idx, json, secret, logged_at) in &rows {
                let h = || owned(e.ciphertext_hash.to_vec());
                statements.push(tx.execute_raw(
                    &leaf,
                    vec![
                        owned(*idx),
                        owned(e.event.kind()),
                        owned(e.leaf.to_vec()),
                        owned(json.clone()),
                        owned(secret.to_vec()),
                    ],
                ));
                statements.push(tx.execute_raw(&by_h, vec![owned(*idx), h()]));
                if submitted(e) {
                    statements.push(tx.execute_raw(&sub, vec![h(), owned(*idx)]));
                    statements.push(tx.execute_raw(&open, vec![h(), owned(*logged_at)]));
                }
                if delivered(e) {
                    statements.push(tx.execute_raw(&rec, vec![h(), owned(*idx)]));
                }
                if closes(e) {
                    statements.push(tx.execute_raw(&close, vec![h()]));
                }
            }
            futures_util::future::try_join_all(statements).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    fn put_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        self.inner.get_mut().execute(
            "INSERT INTO checkpoints (size, time, text) VALUES ($1, $2, $3) \
             ON CONFLICT (size) DO UPDATE SET time = excluded.time, text = excluded.text",
            &[&to_i64(cp.size)?, &to_i64(cp.time)?, &cp.text],
        )?;
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT size, time, text FROM checkpoints ORDER BY size DESC LIMIT 1",
            &[],
        )?;
        row.map(|r| {
            Ok(StoredCheckpoint {
                size: to_u64(r.try_get(0)?)?,
                time: to_u64(r.try_get(1)?)?,
                text: r.try_get(2)?,
            })
        })
        .transpose()
    }
}

impl TokenStore for PostgresStore {
    fn put_token(&mut self, t: &TokenRecord) -> Result<(), StoreError> {
        let revoked = t.revoked_at.map(to_i64).transpose()?;
        self.inner.get_mut().execute(
            "INSERT INTO tokens (hash, role, subject, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &&t.hash[..],
                &t.role.as_str(),
                &t.subject,
                &to_i64(t.expires_at)?,
                &revoked,
            ],
        )?;
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT hash, role, subject, expires_at, revoked_at FROM tokens",
            &[],
        )?;
        rows.into_iter()
            .map(|r| {
                let role: String = r.try_get(1)?;
                let revoked: Option<i64> = r.try_get(4)?;
                Ok(TokenRecord {
                    hash: to_32(r.try_get(0)?)?,
                    role: role
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("unknown role {role:?}")))?,
                    subject: r.try_get(2)?,
                    expires_at: to_u64(r.try_get(3)?)?,
                    revoked_at: revoked.map(to_u64).transpose()?,
                })
            })
            .collect()
    }

    fn token_changes(&self) -> Result<u64, StoreError> {
        let row = self
            .inner
            .borrow_mut()
            .query_opt("SELECT n FROM token_changes WHERE id = 1", &[])?
            .ok_or_else(|| StoreError::Corrupt("the token change counter is missing".into()))?;
        to_u64(row.try_get(0)?)
    }

    fn revoke_token(&mut self, hash: &[u8; 32], at: u64) -> Result<bool, StoreError> {
        let n = self.inner.get_mut().execute(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE hash = $1",
            &[&&hash[..], &to_i64(at)?],
        )?;
        Ok(n == 1)
    }
}

fn audit_record(r: &Row) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: to_u64(r.try_get(0)?)?,
        time: to_u64(r.try_get(1)?)?,
        actor: r.try_get(2)?,
        action: r.try_get(3)?,
        target: r.try_get(4)?,
        outcome: r.try_get(5)?,
        hash: r.try_get(6)?,
    })
}

impl AuditStore for PostgresStore {
    fn last_audit(&self) -> Result<Option<AuditRecord>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT seq, time, actor, action, target, outcome, hash FROM audit \
             ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        row.as_ref().map(audit_record).transpose()
    }

    fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        // Stored only if it is the next record; two writers racing for the same `seq` meet the
        // primary key, and the loser is told so.
        let inserted = self.inner.get_mut().execute(
            "INSERT INTO audit (seq, time, actor, action, target, outcome, hash) \
             SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE $1 = coalesce((SELECT max(seq) FROM audit), 0) + 1",
            &[
                &to_i64(r.seq)?,
                &to_i64(r.time)?,
                &r.actor,
                &r.action,
                &r.target,
                &r.outcome,
                &r.hash,
            ],
        );
        match inserted {
            Ok(1) => Ok(()),
            Ok(_) => Err(StoreError::AuditRace(r.seq)),
            Err(StoreError::Postgres(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(StoreError::AuditRace(r.seq))
            }
            Err(e) => Err(e),
        }
    }

    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT seq, time, actor, action, target, outcome, hash FROM audit ORDER BY seq",
            &[],
        )?;
        rows.iter().map(audit_record).collect()
    }
}

fn job_record(r: &Row) -> Result<JobRecord, StoreError> {
    let state: String = r.try_get(6)?;
    let code: Option<String> = r.try_get(7)?;
    let message: Option<String> = r.try_get(8)?;
    Ok(JobRecord {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        ciphertext_hash: to_32(r.try_get(2)?)?,
        not_before: to_u64(r.try_get(3)?)?,
        not_after: to_u64(r.try_get(4)?)?,
        blinding: r.try_get(5)?,
        state: JobState::parse(&state)?,
        error: code.zip(message),
        bundle: r.try_get(9)?,
        opening: r.try_get(10)?,
        callback_url: r.try_get(11)?,
        callback_state: r.try_get(12)?,
    })
}

impl JobStore for PostgresStore {
    fn put_job(&mut self, j: &JobRecord) -> Result<(), StoreError> {
        let code = j.error.as_ref().map(|e| e.0.as_str());
        let message = j.error.as_ref().map(|e| e.1.as_str());
        self.inner.get_mut().execute(
            "INSERT INTO jobs (id, owner, h, not_before, not_after, blinding, state, error_code, \
             error_message, bundle, opening, callback_url, callback_state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &j.id,
                &j.owner,
                &&j.ciphertext_hash[..],
                &to_i64(j.not_before)?,
                &to_i64(j.not_after)?,
                &j.blinding,
                &j.state.as_str(),
                &code,
                &message,
                &j.bundle,
                &j.opening,
                &j.callback_url,
                &j.callback_state,
            ],
        )?;
        Ok(())
    }

    fn update_job(&mut self, j: &JobRecord) -> Result<(), StoreError> {
        let code = j.error.as_ref().map(|e| e.0.as_str());
        let message = j.error.as_ref().map(|e| e.1.as_str());
        let n = self.inner.get_mut().execute(
            "UPDATE jobs SET state = $2, error_code = $3, error_message = $4, bundle = $5, \
             opening = $6, callback_state = $7 WHERE id = $1",
            &[
                &j.id,
                &j.state.as_str(),
                &code,
                &message,
                &j.bundle,
                &j.opening,
                &j.callback_state,
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no job {:?} to update", j.id)));
        }
        Ok(())
    }

    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT id, owner, h, not_before, not_after, blinding, state, error_code, \
             error_message, bundle, opening, callback_url, callback_state FROM jobs WHERE id = $1",
            &[&id],
        )?;
        row.as_ref().map(job_record).transpose()
    }

    fn unfinished_jobs(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn active_jobs_of(&self, owner: &str) -> Result<u64, StoreError> {
        let row = self
            .inner
            .borrow_mut()
            .query_opt(
                "SELECT count(*) FROM jobs WHERE owner = $1 AND state IN ('queued', 'running')",
                &[&owner],
            )?
            .ok_or_else(|| StoreError::Corrupt("count(*) returned no row".into()))?;
        to_u64(row.try_get(0)?)
    }

    fn pending_callbacks(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT id FROM jobs WHERE callback_state = 'pending' \
             AND state IN ('done', 'failed', 'dead') ORDER BY seq",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn claim_job(
        &mut self,
        worker: &str,
        now: u64,
        lease: u64,
    ) -> Result<Option<(Claim, JobRecord)>, StoreError> {
        let now = to_i64(now)?;
        let until = now.saturating_add(to_i64(lease)?);
        // The candidate row is locked, and rows other claimers hold are skipped: concurrent
        // provers on any number of machines each get a different job.
        let row = self.inner.get_mut().query_opt(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, \
             lease_expires = $3 WHERE seq = (SELECT seq FROM jobs WHERE \
             (state = 'queued' AND retry_at <= $2) OR (state = 'running' AND \
             lease_expires < $2) ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, owner, h, not_before, not_after, blinding, state, error_code, \
             error_message, bundle, opening, callback_url, callback_state, attempts",
            &[&worker, &now, &until],
        )?;
        row.map(|r| {
            let job = job_record(&r)?;
            let attempt: i32 = r.try_get(13)?;
            let claim = Claim {
                id: job.id.clone(),
                attempt: u32::try_from(attempt)
                    .map_err(|_| StoreError::Corrupt("a negative attempt count".into()))?,
                worker: worker.to_owned(),
            };
            Ok((claim, job))
        })
        .transpose()
    }

    fn finish_job(&mut self, claim: &Claim, j: &JobRecord) -> Result<bool, StoreError> {
        let code = j.error.as_ref().map(|e| e.0.as_str());
        let message = j.error.as_ref().map(|e| e.1.as_str());
        let n = self.inner.get_mut().execute(
            "UPDATE jobs SET state = $4, error_code = $5, error_message = $6, bundle = $7, \
             opening = $8, callback_state = $9, lease_owner = NULL, lease_expires = NULL \
             WHERE id = $1 AND state = 'running' AND attempts = $2 AND lease_owner = $3",
            &[
                &claim.id,
                &attempt(claim)?,
                &claim.worker,
                &j.state.as_str(),
                &code,
                &message,
                &j.bundle,
                &j.opening,
                &j.callback_state,
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
        let c = self.inner.get_mut();
        let n = match retry {
            Retry::At(at) => c.execute(
                "UPDATE jobs SET state = 'queued', retry_at = $4, last_error = $5, \
                 lease_owner = NULL, lease_expires = NULL \
                 WHERE id = $1 AND state = 'running' AND attempts = $2 AND lease_owner = $3",
                &[
                    &claim.id,
                    &attempt(claim)?,
                    &claim.worker,
                    &to_i64(at)?,
                    &reason,
                ],
            )?,
            Retry::DeadLetter => c.execute(
                "UPDATE jobs SET state = 'dead', error_code = $4, error_message = $5, \
                 last_error = $5, lease_owner = NULL, lease_expires = NULL, callback_state = \
                 CASE WHEN callback_url IS NULL THEN callback_state ELSE 'pending' END \
                 WHERE id = $1 AND state = 'running' AND attempts = $2 AND lease_owner = $3",
                &[
                    &claim.id,
                    &attempt(claim)?,
                    &claim.worker,
                    &crate::jobs::PROOF_FAILED,
                    &reason,
                ],
            )?,
        };
        Ok(n == 1)
    }

    fn requeue_running(&mut self) -> Result<u64, StoreError> {
        self.inner.get_mut().execute(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL \
             WHERE state = 'running'",
            &[],
        )
    }
}

fn attempt(claim: &Claim) -> Result<i32, StoreError> {
    i32::try_from(claim.attempt)
        .map_err(|_| StoreError::Corrupt(format!("attempt {} out of range", claim.attempt)))
}

impl DirectoryStore for PostgresStore {
    fn put_directory(
        &mut self,
        e: &DirectoryEntry,
        one_time: &[(u32, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let c = self.inner.get_mut();
        block_on(async {
            let tx = c.client.transaction().await?;
            tx.execute(
                "INSERT INTO directory (account, document, receipt_key, certificate) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO UPDATE SET \
                 document = excluded.document, receipt_key = excluded.receipt_key, \
                 certificate = excluded.certificate",
                &[&e.account, &e.document, &&e.receipt_key[..], &e.certificate],
            )
            .await?;
            tx.execute(
                "DELETE FROM one_time_prekeys WHERE account = $1",
                &[&e.account],
            )
            .await?;
            for (id, key) in one_time {
                tx.execute(
                    "INSERT INTO one_time_prekeys (account, id, public_key) VALUES ($1, $2, $3)",
                    &[&e.account, &i64::from(*id), key],
                )
                .await?;
            }
            // A receipt key certified by another account is refused before this point; the
            // same account publishing it again keeps the first certificate.
            tx.execute(
                "INSERT INTO receipt_keys (receipt_key, account, certificate) \
                 VALUES ($1, $2, $3) ON CONFLICT (receipt_key) DO NOTHING",
                &[&&e.receipt_key[..], &e.account, &e.certificate],
            )
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    fn take_directory(&mut self, account: &str) -> Result<Option<TakenEntry>, StoreError> {
        let c = self.inner.get_mut();
        let found = block_on(async {
            let tx = c.client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    "SELECT document, receipt_key, certificate FROM directory WHERE account = $1",
                    &[&account],
                )
                .await?
            else {
                return Ok::<_, tokio_postgres::Error>(None);
            };
            // Each one-time prekey is handed out once, also to requests racing on other
            // connections: the row is locked, and a locked row is skipped, not waited for.
            let one = tx
                .query_opt(
                    "DELETE FROM one_time_prekeys WHERE (account, id) = (SELECT account, id \
                     FROM one_time_prekeys WHERE account = $1 ORDER BY id LIMIT 1 \
                     FOR UPDATE SKIP LOCKED) RETURNING id, public_key",
                    &[&account],
                )
                .await?;
            tx.commit().await?;
            Ok(Some((row, one)))
        })?;
        let Some((row, one)) = found else {
            return Ok(None);
        };
        let one = one
            .map(|r| -> Result<(u32, Vec<u8>), StoreError> {
                let id: i64 = r.try_get(0)?;
                let id = u32::try_from(id)
                    .map_err(|_| StoreError::Corrupt(format!("one-time prekey id {id}")))?;
                Ok((id, r.try_get(1)?))
            })
            .transpose()?;
        let entry = DirectoryEntry {
            account: account.to_owned(),
            document: row.try_get(0)?,
            receipt_key: to_32(row.try_get(1)?)?,
            certificate: row.try_get(2)?,
        };
        Ok(Some((entry, one)))
    }

    fn has_directory(&self, account: &str) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .borrow_mut()
            .query_opt("SELECT 1 FROM directory WHERE account = $1", &[&account])?
            .is_some())
    }

    fn receipt_key_owner(&self, key: &[u8; 32]) -> Result<Option<(String, String)>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT account, certificate FROM receipt_keys WHERE receipt_key = $1",
            &[&&key[..]],
        )?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }
}

impl MailboxStore for PostgresStore {
    fn put_envelope(&mut self, e: &Envelope) -> Result<bool, StoreError> {
        let n = self.inner.get_mut().execute(
            "INSERT INTO mailbox (h, sender, recipient, received_at, envelope) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (h) DO NOTHING",
            &[
                &&e.ciphertext_hash[..],
                &e.sender,
                &e.recipient,
                &to_i64(e.received_at)?,
                &e.bytes,
            ],
        )?;
        Ok(n == 1)
    }

    fn envelope(&self, h: &[u8; 32]) -> Result<Option<Envelope>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT sender, recipient, received_at, envelope FROM mailbox WHERE h = $1",
            &[&&h[..]],
        )?;
        row.map(|r| {
            Ok(Envelope {
                ciphertext_hash: *h,
                sender: r.try_get(0)?,
                recipient: r.try_get(1)?,
                received_at: to_u64(r.try_get(2)?)?,
                bytes: r.try_get(3)?,
            })
        })
        .transpose()
    }

    fn mailbox(&self, recipient: &str, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.inner.borrow_mut().query(
            "SELECT h, sender, received_at FROM mailbox WHERE recipient = $1 \
             ORDER BY seq LIMIT $2",
            &[&recipient, &limit],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(Envelope {
                    ciphertext_hash: to_32(r.try_get(0)?)?,
                    sender: r.try_get(1)?,
                    recipient: recipient.to_owned(),
                    received_at: to_u64(r.try_get(2)?)?,
                    bytes: Vec::new(),
                })
            })
            .collect()
    }

    fn remove_envelope(&mut self, h: &[u8; 32]) -> Result<(), StoreError> {
        self.inner
            .get_mut()
            .execute("DELETE FROM mailbox WHERE h = $1", &[&&h[..]])?;
        Ok(())
    }
}

impl TimestampStore for PostgresStore {
    fn put_timestamp(
        &mut self,
        body_sha256: &[u8; 32],
        size: u64,
        stamp: &StoredTimestamp,
    ) -> Result<bool, StoreError> {
        let n = self.inner.get_mut().execute(
            "INSERT INTO checkpoint_timestamps (body_sha256, tsa, size, token, gen_time) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (body_sha256, tsa) DO NOTHING",
            &[
                &&body_sha256[..],
                &stamp.tsa,
                &to_i64(size)?,
                &stamp.token,
                &to_i64(stamp.time)?,
            ],
        )?;
        Ok(n == 1)
    }

    fn timestamps(&self, body_sha256: &[u8; 32]) -> Result<Vec<StoredTimestamp>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT tsa, token, gen_time FROM checkpoint_timestamps \
             WHERE body_sha256 = $1 ORDER BY stored",
            &[&&body_sha256[..]],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredTimestamp {
                    tsa: r.try_get(0)?,
                    token: r.try_get(1)?,
                    time: u64::try_from(r.try_get::<_, i64>(2)?)
                        .map_err(|_| StoreError::Corrupt("a negative time-stamp time".into()))?,
                })
            })
            .collect()
    }
}

impl NoticeStore for PostgresStore {
    fn put_notice(&mut self, n: &StoredNotice) -> Result<bool, StoreError> {
        let stored = self.inner.get_mut().execute(
            "INSERT INTO delivery_notices (idx, h, event, url) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (idx) DO NOTHING",
            &[&to_i64(n.index)?, &&n.ciphertext_hash[..], &n.event, &n.url],
        )?;
        Ok(stored == 1)
    }

    fn notice(&self, index: u64) -> Result<Option<StoredNotice>, StoreError> {
        let row = self.inner.borrow_mut().query_opt(
            "SELECT h, event, url FROM delivery_notices WHERE idx = $1",
            &[&to_i64(index)?],
        )?;
        row.map(|r| {
            let h: Vec<u8> = r.try_get(0)?;
            Ok(StoredNotice {
                index,
                ciphertext_hash: h
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a notice's H is not 32 bytes".into()))?,
                event: r.try_get(1)?,
                url: r.try_get(2)?,
            })
        })
        .transpose()
    }

    fn pending_notices(&self) -> Result<Vec<u64>, StoreError> {
        let rows = self.inner.borrow_mut().query(
            "SELECT idx FROM delivery_notices WHERE state = 'pending' ORDER BY idx",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                u64::try_from(r.try_get::<_, i64>(0)?)
                    .map_err(|_| StoreError::Corrupt("a negative notice index".into()))
            })
            .collect()
    }

    fn finish_notice(&mut self, index: u64, state: &str) -> Result<(), StoreError> {
        self.inner.get_mut().execute(
            "UPDATE delivery_notices SET state = $2 WHERE idx = $1",
            &[&to_i64(index)?, &state],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod connection_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connections_are_bounded_where_the_url_sets_no_bound() {
        let mut c: tokio_postgres::Config = "postgres://u@db.internal/letro".parse().unwrap();
        bound_connection(&mut c);
        assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(c.get_tcp_user_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(5));
        let mut c: tokio_postgres::Config =
            "postgres://u@db.internal/letro?connect_timeout=3&tcp_user_timeout=4&keepalives_idle=60"
                .parse()
                .unwrap();
        bound_connection(&mut c);
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_secs(4)));
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(60));
    }
}

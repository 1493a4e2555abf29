//! Durable storage, divided by area behind narrow traits ([`LogStore`], [`TokenStore`],
//! [`AuditStore`], [`JobStore`], [`DirectoryStore`], [`MailboxStore`]; [`Store`] is all of
//! them), each implemented by SQLite ([`SqliteStore`], in `sqlite.rs`, the default) and by
//! PostgreSQL ([`PostgresStore`], in `pg.rs`), each with versioned migrations of its own; the
//! same conformance checks run on both (`tests/suite/stores.rs`). The audit chain is computed
//! outside storage ([`crate::audit`]).
//!
//! Everything the log writer acknowledges has been committed through [`LogStore::append`] first;
//! the in-memory tree is rebuilt from [`LogStore::leaves`] on start.

pub use crate::audit::{audit_hash, verify_audit_chain, AuditEntry, AuditRecord};
pub use pg::{is_postgres_url, PostgresStore, HEARTBEAT, LEASE, POSTGRES_SCHEMA_VERSION};
pub use sqlite::{SqliteStore, DATABASE_FILE, SCHEMA_VERSION};

mod pg;
mod sqlite;

use serde::{Deserialize, Serialize};

/// Why a storage operation failed. Internal: the API reports these as a bare 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed an operation.
    #[error("PostgreSQL: {}", pg::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The database could not be reached (the message says where, never the password).
    #[error("{0}")]
    Connect(String),
    /// Another service sequences this database's log.
    #[error(
        "another letro serve is running on this database (it holds the sequencer lock): one \
         service per database sequences its log; stop it first"
    )]
    SequencerBusy,
    /// The database belongs to another log.
    #[error(
        "the database holds the log {recorded:?}, not {requested:?}: each log (each region) has \
         a database of its own"
    )]
    OtherOrigin {
        /// The origin the database records.
        recorded: String,
        /// The origin this service was started with.
        requested: String,
    },
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
    /// The database was written by a newer build (a later schema version).
    #[error(
        "the database has schema version {found}, newer than this build's {known}: run a \
         build at least as new as the one that wrote it"
    )]
    NewerSchema {
        /// The database's `user_version`.
        found: u32,
        /// [`SCHEMA_VERSION`].
        known: u32,
    },
    /// An audit record's `seq` is not the next one: another writer appended first.
    #[error("audit record {0} is not the next one")]
    AuditRace(u64),
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
    /// The relay refused the submission (`submission-rejected`, SPEC §5.11).
    Rejected {
        /// `H`, 64 lowercase hex digits.
        ciphertext_sha256: String,
        /// The sender's account id.
        sender: String,
        /// The reason's stable name ([`letro_core::lifecycle::RejectionReason`]).
        reason: String,
        /// `t`, Unix seconds (the relay's clock).
        rejected_at: u64,
    },
    /// The envelope was placed in the recipient's mailbox (`made-available`).
    Available {
        /// `H`, 64 lowercase hex digits.
        ciphertext_sha256: String,
        /// The recipient's routing id.
        routing: String,
        /// `t`, Unix seconds (the relay's clock).
        available_at: u64,
    },
    /// The recipient refused the message with a statement signed by its certified receipt key
    /// (`refused`).
    Refused {
        /// `H`, 64 lowercase hex digits.
        ciphertext_sha256: String,
        /// `t`, Unix seconds, as signed.
        refused_at: u64,
        /// The recipient's reason, as signed, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The receipt key `A` that signed the refusal.
        receipt_key: PointJson,
        /// The signature on the refusal message.
        signature: SignatureJson,
        /// The receipt key's certificate, checked before the event was logged.
        receipt_key_certificate: CertificateObject,
    },
    /// The retention period ended before a retrieval or a refusal (`expired`).
    Expired {
        /// `H`, 64 lowercase hex digits.
        ciphertext_sha256: String,
        /// The retention period, seconds from the submission's acceptance.
        retention: u64,
        /// `t`, Unix seconds (the relay's clock).
        expired_at: u64,
    },
}

impl StoredEvent {
    /// The kind, as stored in the `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Submitted { .. } => "submitted",
            Self::Delivered { .. } => "delivered",
            Self::Rejected { .. } => "rejected",
            Self::Available { .. } => "available",
            Self::Refused { .. } => "refused",
            Self::Expired { .. } => "expired",
        }
    }

    /// The lifecycle event this is (SPEC §5.11).
    pub fn lifecycle_event(&self) -> letro_core::lifecycle::LifecycleEvent {
        use letro_core::lifecycle::LifecycleEvent as E;
        match self {
            Self::Submitted { .. } => E::SubmissionAccepted,
            Self::Delivered { .. } => E::Retrieved,
            Self::Rejected { .. } => E::SubmissionRejected,
            Self::Available { .. } => E::MadeAvailable,
            Self::Refused { .. } => E::Refused,
            Self::Expired { .. } => E::Expired,
        }
    }
}

/// A delivery still open (accepted, with no final event yet), as the expiry task sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDelivery {
    /// `H`.
    pub ciphertext_hash: [u8; 32],
    /// When its submission was logged (Unix seconds, the relay's clock).
    pub accepted_at: u64,
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
    /// When the writer logged it (Unix seconds, the relay's clock).
    pub logged_at: u64,
}

/// Events by delivery (`H`), each delivery's in log order ([`LogStore::deliveries`]).
pub type DeliveryEvents = std::collections::HashMap<[u8; 32], Vec<(u64, StoredEvent)>>;

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
    /// Dead-lettered: its attempts ran out (each failed, or its prover died or hung); the error
    /// says why. Shown as failed by the API.
    Dead,
}

impl JobState {
    /// The state's name in storage and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            "dead" => Ok(Self::Dead),
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

/// A job claimed by a prover, and the fencing token of the attempt: only the claim of the
/// job's latest attempt may finish or release it, so a prover whose lease ran out and whose job
/// was claimed again can no longer write its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The job's id.
    pub id: String,
    /// Which attempt this is (1 for the first): the job's attempt counter after the claim.
    pub attempt: u32,
    /// Who claimed it (a prover thread of a service, or a `letro prover-worker`).
    pub worker: String,
}

/// What becomes of a job whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Queued again, claimable from this time (Unix seconds).
    At(u64),
    /// Dead-lettered (state `dead`), with the reason as its error.
    DeadLetter,
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

/// The delivery log: leaves with their events and secrets, and published checkpoints. Implementations must make [`LogStore::append`] and [`LogStore::put_checkpoint`] durable (committed) before they return `Ok`.
pub trait LogStore: Send + 'static {
    /// Every leaf, ordered by index, which must run from 0 without gaps.
    fn leaves(&self) -> Result<Vec<StoredLeaf>, StoreError>;
    /// The leaves from index `start` on, ordered by index, without gaps (for a reader that
    /// holds the first `start` already). The default reads them all.
    fn leaves_from(&self, start: u64) -> Result<Vec<StoredLeaf>, StoreError> {
        let skip = usize::try_from(start).unwrap_or(usize::MAX);
        Ok(self.leaves()?.into_iter().skip(skip).collect())
    }
    /// The submitted event for `H`, with its index.
    fn find_submission(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError>;
    /// The delivered event (receipt) for `H`, with its index.
    fn find_receipt(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError>;
    /// Every event logged for `h`, in log order (its lifecycle, SPEC §5.11).
    fn delivery(&self, h: &[u8; 32]) -> Result<Vec<(u64, StoredEvent)>, StoreError>;
    /// [`LogStore::delivery`] of each of `hs`, those with events only: for the log writer,
    /// which looks up a whole batch at once. The default asks for each in turn.
    fn deliveries(&self, hs: &[[u8; 32]]) -> Result<DeliveryEvents, StoreError> {
        let mut out = DeliveryEvents::new();
        for h in hs {
            let events = self.delivery(h)?;
            if !events.is_empty() {
                out.insert(*h, events);
            }
        }
        Ok(out)
    }
    /// Up to `limit` open deliveries (accepted, no final event) accepted at or before
    /// `accepted_by`, oldest first.
    fn expiring(&self, accepted_by: u64, limit: usize) -> Result<Vec<OpenDelivery>, StoreError>;
    /// The secret of the event at `index`; `None` for an event logged before events had
    /// secrets (a v1 leaf) or for no such event.
    fn event_secret(&self, index: u64) -> Result<Option<EventSecret>, StoreError>;
    /// Stores a batch of entries atomically: all or none.
    fn append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError>;
    /// True once this store can never write the log again: on PostgreSQL, the sequencer's
    /// session (which holds the lock, and so the lease) is gone, and another service may
    /// sequence the log now. The log writer stops when it sees it. False by default.
    fn session_lost(&self) -> bool {
        false
    }
    /// Shows the database that the sequencer is alive, on the session that holds its lock
    /// (PostgreSQL ends a sequencer session idle for [`LEASE`]). Nothing by default.
    fn heartbeat(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Stores a published checkpoint.
    fn put_checkpoint(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError>;
    /// The checkpoint with the largest size, if any.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
}

/// Bearer tokens, stored by hash.
pub trait TokenStore: Send + 'static {
    /// Stores a token record.
    fn put_token(&mut self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Every token record.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// A number that changes whenever a token is stored or revoked, by this connection or any
    /// other (another process on the same data, such as `letro token issue`): a running service
    /// polls it and reloads [`TokenStore::tokens`] when it changed. The default fingerprints the
    /// whole token table; [`SqliteStore`] keeps a counter that triggers maintain.
    fn token_changes(&self) -> Result<u64, StoreError> {
        Ok(token_fingerprint(&self.tokens()?))
    }
    /// Marks the token with this hash revoked at `at`; `false` if there is no such token.
    fn revoke_token(&mut self, hash: &[u8; 32], at: u64) -> Result<bool, StoreError>;
}

/// The append-only audit log's storage; the chain itself is [`crate::audit`]'s.
pub trait AuditStore: Send + 'static {
    /// The last record (largest `seq`), if any.
    fn last_audit(&self) -> Result<Option<AuditRecord>, StoreError>;
    /// Stores `record` if its `seq` is one more than the last record's (1 for the first);
    /// otherwise stores nothing and fails with [`StoreError::AuditRace`] (another writer
    /// appended first). Durable before it returns. [`crate::audit::append`] builds the record.
    fn insert_audit(&mut self, record: &AuditRecord) -> Result<(), StoreError>;
    /// The whole audit log, oldest first.
    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Proof jobs: a durable queue with their results and callback state.
pub trait JobStore: Send + 'static {
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
    /// Claims the oldest job that is queued and due, or running under a lease that expired
    /// before `now` (its prover died or hung): the job becomes `running`, leased to `worker`
    /// until `now + lease` seconds, its attempt counter one higher. Each job is claimed by one
    /// caller at a time, on every backend.
    fn claim_job(
        &mut self,
        worker: &str,
        now: u64,
        lease: u64,
    ) -> Result<Option<(Claim, JobRecord)>, StoreError>;
    /// Stores the outcome of a claimed job (its state, error, bundle, opening and callback
    /// state), ending the lease; `false`, storing nothing, if `claim` is not the job's current
    /// claim (its lease ran out and it was claimed again, or it was released).
    fn finish_job(&mut self, claim: &Claim, job: &JobRecord) -> Result<bool, StoreError>;
    /// Ends a claim whose attempt failed with `reason`: queued again from a later time, or
    /// dead-lettered; `false`, changing nothing, if `claim` is no longer current.
    fn release_job(
        &mut self,
        claim: &Claim,
        retry: Retry,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Queues every `running` job again at once: for a service that is the only prover of its
    /// store (SQLite), whose running jobs at start are those its previous run left.
    fn requeue_running(&mut self) -> Result<u64, StoreError>;
}

/// The prekey directory and the certified receipt keys (kept for ever).
pub trait DirectoryStore: Send + 'static {
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
}

/// Envelopes waiting in mailboxes.
pub trait MailboxStore: Send + 'static {
    /// Stores an envelope; `false` (and nothing changed) if one with the same `H` is stored.
    fn put_envelope(&mut self, envelope: &Envelope) -> Result<bool, StoreError>;
    /// The envelope with this `H`, if still in a mailbox.
    fn envelope(&self, h: &[u8; 32]) -> Result<Option<Envelope>, StoreError>;
    /// Up to `limit` envelopes waiting for `recipient`, oldest first, without their bytes.
    fn mailbox(&self, recipient: &str, limit: usize) -> Result<Vec<Envelope>, StoreError>;
    /// Removes a delivered envelope from its mailbox.
    fn remove_envelope(&mut self, h: &[u8; 32]) -> Result<(), StoreError>;
}

/// An RFC 3161 time-stamp token over a checkpoint's body, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTimestamp {
    /// The TSA's URL.
    pub tsa: String,
    /// The token, DER.
    pub token: Vec<u8>,
    /// Its `genTime`, Unix seconds.
    pub time: u64,
}

/// RFC 3161 time-stamps of published checkpoints, by SHA-256 of the checkpoint's body.
pub trait TimestampStore: Send + 'static {
    /// Stores a token (checked by the caller) unless one of `tsa` is stored for this body;
    /// whether it was stored.
    fn put_timestamp(
        &mut self,
        body_sha256: &[u8; 32],
        size: u64,
        stamp: &StoredTimestamp,
    ) -> Result<bool, StoreError>;
    /// The tokens of a checkpoint's body, in the order the TSAs answered.
    fn timestamps(&self, body_sha256: &[u8; 32]) -> Result<Vec<StoredTimestamp>, StoreError>;
}

/// A notice owed to a sender: one of its deliveries reached its final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotice {
    /// The final event's index in the log.
    pub index: u64,
    /// `H`.
    pub ciphertext_hash: [u8; 32],
    /// The final event's stable name.
    pub event: String,
    /// The sender's callback URL.
    pub url: String,
}

/// Delivery notices (at least once: pending until a 2xx answer or the last attempt).
pub trait NoticeStore: Send + 'static {
    /// Stores a pending notice unless one is stored for this index; whether it was stored.
    fn put_notice(&mut self, notice: &StoredNotice) -> Result<bool, StoreError>;
    /// A notice by its event's index.
    fn notice(&self, index: u64) -> Result<Option<StoredNotice>, StoreError>;
    /// The indexes of the pending notices, in log order.
    fn pending_notices(&self) -> Result<Vec<u64>, StoreError>;
    /// Marks a notice `delivered` or `failed`.
    fn finish_notice(&mut self, index: u64, state: &str) -> Result<(), StoreError>;
}

/// Everything the service stores, by area. One SQLite database ([`SqliteStore`]) implements
/// every area, and so does one PostgreSQL database ([`PostgresStore`]).
pub trait Store:
    LogStore
    + TokenStore
    + AuditStore
    + JobStore
    + DirectoryStore
    + MailboxStore
    + TimestampStore
    + NoticeStore
{
}

impl<T> Store for T where
    T: LogStore
        + TokenStore
        + AuditStore
        + JobStore
        + DirectoryStore
        + MailboxStore
        + TimestampStore
        + NoticeStore
{
}

/// A stored integer as `u64`: a negative one is corrupt (both backends store `u64` as a signed
/// 64-bit integer).
fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative integer {v}")))
}

/// A `u64` to store: beyond `i64::MAX` it is refused.
fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("integer {v} too large")))
}

/// A stored 32-byte value (a hash, a leaf, a key).
fn to_32(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(v).map_err(|_| StoreError::Corrupt("value is not 32 bytes".into()))
}

/// A fingerprint of a token table (each token's hash and revocation time, in any order): the
/// default [`TokenStore::token_changes`].
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

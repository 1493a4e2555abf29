//! Proof jobs: a bounded pool of prover threads, off the async runtime, that turn stored
//! delivery records into bundles.
//!
//! A job is stored (state `queued`) before the API answers 202, so it survives a restart. The
//! store is the queue: a prover claims the oldest due job ([`JobStore::claim_job`]) under a
//! lease of [`LEASE_SECONDS`], and its result is stored only under that claim (the attempt
//! counter is the fencing token): a prover whose lease ran out while another claimed the job
//! again cannot write over it. A failed attempt is queued again after a backoff that doubles
//! ([`backoff`]); after [`MAX_ATTEMPTS`] the job is dead-lettered (state `dead`, shown as
//! failed), also when its attempts never finished (a job that kills or hangs its prover). A
//! service that is its store's only prover (SQLite) queues its previous run's `running` jobs
//! again at start.
//!
//! A worker builds the witness from the stored receipt, the job's blinding and an inclusion
//! proof at the latest published checkpoint, proves with
//! [`letro_prover::Prover::prove_record`], verifies the bundle with [`letro_verifier::Verifier`]
//! (trusting only this service's log key) and the opening against the verified statement, and
//! only then stores the job as `done`.
//!
//! The prover (its proving key and constraint matrices) is loaded once, by the first job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use letro_core::bundle::DeliveryRecord;
use letro_core::eddsa::{PublicKey, Signature};
use letro_core::field::{fr_from_decimal, parse_decimal};
use letro_core::statement::{CiphertextHash, DeliveryWitness};
use letro_log::checkpoint::SignedCheckpoint;
use letro_prover::Prover;
use letro_verifier::Verifier;

use crate::store::{Claim, JobRecord, JobState, Retry, Store, StoreError, StoredEvent};
use crate::writer::LogView;

/// The store as the API and the provers share it (a connection of its own, apart from the
/// log writer's).
pub type SharedStore = Arc<Mutex<dyn Store>>;

/// The error code of a failed job.
pub const PROOF_FAILED: &str = "proof_failed";

/// How long a claim's lease lasts, in seconds. A proof takes well under a second here; a prover
/// that holds a job this long died or hung, and the job is claimed again.
pub const LEASE_SECONDS: u64 = 60;

/// Attempts a job gets before it is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 5;

/// How often an idle prover looks for due jobs (retries coming due, leases that ran out) when
/// no new job rang.
const POLL: Duration = Duration::from_millis(500);

/// Seconds before the retry that follows failed attempt `attempt` (1 for the first): 2, 4,
/// 8, ... doubling, at most 300.
pub fn backoff(attempt: u32) -> u64 {
    (1u64 << attempt.clamp(1, 9)).min(300)
}

/// The error code of a job for a delivery that statement v2 cannot prove (logged before it).
pub const NOT_PROVABLE: &str = "not_provable";

/// Why a delivery logged without a per-event secret cannot be proved.
pub const NO_EVENT_SECRET: &str = "the delivery was logged as a v1 leaf, without a per-event \
     secret; delivered-within/v2 cannot prove it";

/// Why a delivery logged without a receipt-key certificate cannot be proved.
pub const NO_CERTIFICATE: &str = "the delivery was logged before receipt-key certificates \
     were required; its opening could not name the recipient, so it is not proved";

/// Why a job could not produce a verified bundle. Logged; the job's stored error says only
/// [`PROOF_FAILED`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Reading or writing the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The stored records do not allow a witness (missing receipt or checkpoint, bad value).
    #[error("witness: {0}")]
    Witness(String),
    /// The delivery was logged before statement v2: without a per-event secret (a v1 leaf) or
    /// without a receipt-key certificate. Stored as the job's error, code [`NOT_PROVABLE`].
    #[error("{0}")]
    NotProvable(&'static str),
    /// The prover could not be loaded.
    #[error("loading the prover: {0}")]
    Load(String),
    /// Proving failed.
    #[error("proving: {0}")]
    Prove(#[from] letro_prover::ProveRecordError),
    /// The new bundle did not verify: a bug, never handed out.
    #[error("the new bundle does not verify: {0}")]
    Verify(#[from] letro_verifier::VerifyError),
    /// The opening does not open the bundle's statement: a bug, never handed out.
    #[error("the opening does not match the bundle: {0}")]
    Opening(#[from] letro_core::bundle::OpeningError),
    /// A lock was poisoned.
    #[error("lock poisoned")]
    Poisoned,
}

/// Where the API puts the ids of new jobs.
#[derive(Debug, Clone)]
pub struct JobQueue {
    tx: Sender<String>,
}

impl JobQueue {
    #[cfg(test)]
    pub(crate) fn for_tests(tx: Sender<String>) -> Self {
        Self { tx }
    }

    /// Hands a stored job to the provers. If no prover listens (the pool is stopping), the job
    /// stays queued in the store and runs after the next start.
    pub fn push(&self, id: String) {
        if self.tx.send(id).is_err() {
            tracing::warn!("no prover is running; the job stays queued until the next start");
        }
    }
}

/// How many provers, and how many threads each prover's own pool has.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Prover threads (jobs proved at once).
    pub provers: usize,
    /// Threads of each prover's rayon pool, in which arkworks parallelises one proof.
    pub threads: usize,
    /// Whether the prover builds its fixed-base tables when it loads
    /// ([`crate::Config::prover_tables`]).
    pub tables: bool,
}

/// The prover threads.
pub struct Pool {
    threads: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

struct Worker {
    /// Who claims: this process and thread.
    name: String,
    /// How long a claim lasts, seconds.
    lease: u64,
    /// Whether the log view is read from the store before each job (a worker beside no
    /// service), rather than kept current by the service's log writer.
    refresh_view: bool,
    store: SharedStore,
    view: Arc<RwLock<LogView>>,
    prover: Arc<OnceLock<Prover>>,
    /// Held while the prover loads, so that the prover threads load it once.
    loading: Arc<Mutex<()>>,
    verifier: Arc<Verifier>,
    stopping: Arc<AtomicBool>,
    metrics: Arc<crate::metrics::Metrics>,
    callbacks: crate::callback::Notifier,
    threads: usize,
    keys: Option<Arc<std::path::Path>>,
    /// Whether the prover is loaded with its fixed-base tables.
    tables: bool,
}

impl Pool {
    /// Starts `size.provers` prover threads, each with its own pool of `size.threads`
    /// threads, claiming the store's due jobs.
    pub(crate) fn start(
        size: PoolSize,
        callbacks: crate::callback::Notifier,
        store: SharedStore,
        view: Arc<RwLock<LogView>>,
        verifier: Verifier,
        metrics: Arc<crate::metrics::Metrics>,
        keys: Option<&std::path::Path>,
    ) -> Result<(Self, JobQueue), crate::ServeError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        let stopping = Arc::new(AtomicBool::new(false));
        let prover = Arc::new(OnceLock::new());
        let loading = Arc::new(Mutex::new(()));
        let verifier = Arc::new(verifier);
        let keys: Option<Arc<std::path::Path>> = keys.map(Arc::from);
        let mut threads = Vec::with_capacity(size.provers);
        for n in 0..size.provers {
            let worker = Worker {
                name: format!("service-{}/prover-{n}", std::process::id()),
                lease: LEASE_SECONDS,
                refresh_view: false,
                store: store.clone(),
                view: view.clone(),
                prover: prover.clone(),
                loading: loading.clone(),
                verifier: verifier.clone(),
                stopping: stopping.clone(),
                metrics: metrics.clone(),
                callbacks: callbacks.clone(),
                threads: size.threads,
                keys: keys.clone(),
                tables: size.tables,
            };
            let rx = rx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("letro-prover-{n}"))
                .spawn(move || worker.run(&rx))
                .map_err(crate::ServeError::Thread)?;
            threads.push(handle);
        }
        Ok((Self { threads, stopping }, JobQueue { tx }))
    }

    /// Lets each prover finish the job it is running, then stops them; queued jobs stay queued
    /// in the store and resume at the next start.
    pub(crate) async fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// A prover worker beside no service (`letro prover-worker`): it claims the jobs of a
/// PostgreSQL store like a service's provers do, reads the log's leaves and latest checkpoint
/// from the store, and verifies each bundle against the log's verifier key before storing it.
/// Its prover always has the key's fixed-base tables (about 82 MB for the built-in key, built
/// in about 2 s when the first job loads it).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The store's `postgres://` URL.
    pub database: String,
    /// The log's verifier key (C2SP vkey line, as `letro log key` prints it): bundles are
    /// verified against it.
    pub log_vkey: String,
    /// The deployment's keys directory; `None`: the built-in keys.
    pub keys: Option<std::path::PathBuf>,
    /// Prover threads (jobs proved at once).
    pub provers: usize,
    /// Threads of each prover's pool.
    pub threads: usize,
    /// This worker's name in the claims it takes (unique per process).
    pub name: String,
    /// How long a claim lasts, seconds: another prover claims the job again after it.
    pub lease: u64,
}

/// Why a prover worker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log's verifier key or the keys directory is not usable.
    #[error("{0}")]
    Keys(String),
    /// A thread could not start.
    #[error("cannot start a prover thread: {0}")]
    Thread(std::io::Error),
}

/// Runs a prover worker until `stopping` is set, then lets each prover finish its job.
pub fn run_worker(config: &WorkerConfig, stopping: Arc<AtomicBool>) -> Result<(), WorkerError> {
    let key = letro_log::note::VerifierKey::parse(&config.log_vkey)
        .map_err(|e| WorkerError::Keys(format!("the log's verifier key: {e}")))?;
    let mut verifier =
        Verifier::new(vec![key]).map_err(|e| WorkerError::Keys(format!("the verifier: {e}")))?;
    if let Some(dir) = &config.keys {
        let fail = |e: &dyn std::fmt::Display| WorkerError::Keys(format!("{}: {e}", dir.display()));
        letro_prover::keys::read_manifest(dir).map_err(|e| fail(&e))?;
        verifier.add_key(letro_verifier::PinnedKey::from_keys_dir(dir).map_err(|e| fail(&e))?);
    }
    let store: SharedStore = Arc::new(Mutex::new(crate::store::PostgresStore::open(
        &config.database,
    )?));
    let view = Arc::new(RwLock::new(LogView {
        log: letro_core::log::DeliveryLog::new(),
        checkpoint: None,
    }));
    // Nobody waits on this worker's channel: new jobs are found by polling.
    let (_doorbell, rx) = std::sync::mpsc::channel::<String>();
    let rx = Arc::new(Mutex::new(rx));
    let prover = Arc::new(OnceLock::new());
    let loading = Arc::new(Mutex::new(()));
    let verifier = Arc::new(verifier);
    let metrics = Arc::new(crate::metrics::Metrics::new([]));
    let keys: Option<Arc<std::path::Path>> = config.keys.as_deref().map(Arc::from);
    let mut threads = Vec::with_capacity(config.provers);
    for n in 0..config.provers.max(1) {
        let store = if n == 0 {
            store.clone()
        } else {
            let own: SharedStore = Arc::new(Mutex::new(crate::store::PostgresStore::open(
                &config.database,
            )?));
            own
        };
        let worker = Worker {
            name: format!("{}/prover-{n}", config.name),
            lease: config.lease,
            refresh_view: true,
            store,
            view: view.clone(),
            prover: prover.clone(),
            loading: loading.clone(),
            verifier: verifier.clone(),
            stopping: stopping.clone(),
            metrics: metrics.clone(),
            callbacks: crate::callback::Notifier::none(),
            threads: config.threads,
            keys: keys.clone(),
            // A worker lives to prove: it always pays for the tables.
            tables: true,
        };
        let rx = rx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("letro-prover-{n}"))
            .spawn(move || worker.run(&rx))
            .map_err(WorkerError::Thread)?;
        threads.push(handle);
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// The prover of the keys directory `keys` (its hashes checked against its manifest), or of
/// the built-in keys; with `tables`, with its fixed-base tables (built once, shared by every
/// prover thread: BENCHMARKS.md, "Fixed-base tables").
fn load_prover(keys: Option<&std::path::Path>, tables: bool) -> Result<Prover, String> {
    let (_, pk) = match keys {
        Some(dir) => letro_prover::keys::load_proving_key(dir),
        None => letro_prover::embedded::proving_key(),
    }
    .map_err(|e| e.to_string())?;
    let prover = Prover::new(pk).map_err(|e| e.to_string())?;
    if !tables {
        return Ok(prover);
    }
    // Built on every core, whatever the width of the prover's own pool.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .thread_name(|i| format!("letro-prover-tables-{i}"))
        .build()
        .map_err(|e| format!("the tables' thread pool: {e}"))?;
    Ok(pool.install(|| prover.with_tables(letro_prover::msm::fixed::Widths::DEFAULT)))
}

impl Worker {
    fn run(self, rx: &Mutex<Receiver<String>>) {
        // The prover's own pool: arkworks' parallel loops run in the pool they are called
        // from, so narrow provers do not contend for one shared pool.
        let pool = match rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("letro-prover-pool-{i}"))
            .build()
        {
            Ok(pool) => pool,
            Err(e) => {
                tracing::error!(error = %e, "prover thread pool could not start");
                return;
            }
        };
        while !self.stopping.load(Ordering::SeqCst) {
            // Every due job, one claim at a time, then wait for a new job or the next poll.
            while !self.stopping.load(Ordering::SeqCst) {
                match self.claim() {
                    Ok(Some((claim, job))) => pool.install(|| self.process(claim, job)),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming a proof job failed");
                        break;
                    }
                }
            }
            let rang = match rx.lock() {
                Ok(rx) => rx.recv_timeout(POLL),
                Err(_) => return,
            };
            if let Err(RecvTimeoutError::Disconnected) = rang {
                return;
            }
        }
    }

    fn claim(&self) -> Result<Option<(Claim, JobRecord)>, JobError> {
        let now = crate::unix_now();
        Ok(self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .claim_job(&self.name, now, self.lease)?)
    }

    fn process(&self, claim: Claim, job: JobRecord) {
        let id = claim.id.clone();
        if let Err(e) = self.try_process(claim, job) {
            tracing::error!(job = %id, error = %e, "proof job could not be recorded");
        }
    }

    fn try_process(&self, claim: Claim, mut job: JobRecord) -> Result<(), JobError> {
        let id = claim.id.clone();
        if claim.attempt > MAX_ATTEMPTS {
            // Claimed again after its lease ran out, with no attempt left: its earlier attempts
            // never finished, so the job kills or hangs its prover.
            tracing::error!(job = %id, attempts = MAX_ATTEMPTS, "proof job dead-lettered: its attempts never finished");
            let reason = format!(
                "the proof could not be produced: none of its {MAX_ATTEMPTS} attempts finished \
                 (the prover died or hung); the job is dead-lettered"
            );
            return self.dead_letter(&claim, &job, &reason);
        }
        let started = std::time::Instant::now();
        // A panic in the prover fails this attempt, never the prover thread.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.prove(&job)));
        let cause = match outcome {
            Ok(Ok((bundle, opening))) => {
                tracing::info!(
                    job = %id,
                    attempt = claim.attempt,
                    millis = started.elapsed().as_millis() as u64,
                    "proof job done"
                );
                job.state = JobState::Done;
                job.bundle = Some(bundle);
                job.opening = Some(opening);
                return self.finish(&claim, job);
            }
            Ok(Err(JobError::NotProvable(why))) => {
                tracing::warn!(job = %id, reason = why, "proof job refused");
                job.state = JobState::Failed;
                job.error = Some((NOT_PROVABLE.into(), why.into()));
                return self.finish(&claim, job);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the prover panicked".to_owned(),
        };
        if claim.attempt >= MAX_ATTEMPTS {
            tracing::error!(job = %id, attempt = claim.attempt, error = %cause, "proof job failed; no attempt left");
            let reason = format!(
                "the proof could not be produced in {MAX_ATTEMPTS} attempts; the causes are \
                 logged; the job is dead-lettered"
            );
            return self.dead_letter(&claim, &job, &reason);
        }
        let wait = backoff(claim.attempt);
        tracing::warn!(job = %id, attempt = claim.attempt, retry_in_seconds = wait, error = %cause, "proof job attempt failed");
        let at = crate::unix_now().saturating_add(wait);
        let released = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .release_job(&claim, Retry::At(at), &cause)?;
        if released {
            self.metrics.job("retried");
        } else {
            tracing::warn!(job = %id, "the job was claimed again after this prover's lease ran out; this attempt is discarded");
        }
        Ok(())
    }

    /// Stores a finished job under its claim (refused if the claim is stale), counts it and
    /// rings its callback.
    fn finish(&self, claim: &Claim, job: JobRecord) -> Result<(), JobError> {
        let stored = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .finish_job(claim, &job)?;
        if !stored {
            tracing::warn!(job = %claim.id, "the job was claimed again after this prover's lease ran out; this result is discarded");
            return Ok(());
        }
        self.metrics.job(job.state.as_str());
        if job.callback_url.is_some() {
            self.callbacks.push(job.id);
        }
        Ok(())
    }

    fn dead_letter(&self, claim: &Claim, job: &JobRecord, reason: &str) -> Result<(), JobError> {
        let stored = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .release_job(claim, Retry::DeadLetter, reason)?;
        if stored {
            self.metrics.job("dead");
            if job.callback_url.is_some() {
                self.callbacks.push(job.id.clone());
            }
        }
        Ok(())
    }

    /// The prover, loaded by the first job that needs it. A failed load is not kept: the next
    /// attempt loads again (the operator may have fixed the keys meanwhile).
    fn prover(&self) -> Result<&Prover, JobError> {
        if let Some(prover) = self.prover.get() {
            return Ok(prover);
        }
        // One thread loads; the others wait for it (the lock guards nothing but the loading,
        // so a load that panicked leaves nothing inconsistent behind).
        let _loading = self
            .loading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(prover) = self.prover.get() {
            return Ok(prover);
        }
        let loaded = load_prover(self.keys.as_deref(), self.tables).map_err(JobError::Load)?;
        Ok(self.prover.get_or_init(|| loaded))
    }

    /// Brings the log view to the store's latest checkpoint: the tree of the stored leaves.
    fn refresh(&self) -> Result<(), JobError> {
        let Some(checkpoint) = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .latest_checkpoint()?
        else {
            return Ok(());
        };
        let current = self
            .view
            .read()
            .map_err(|_| JobError::Poisoned)?
            .checkpoint
            .as_ref()
            .map(|c| c.size);
        if current == Some(checkpoint.size) {
            return Ok(());
        }
        // The tree grows from the leaves it holds: only the new ones are read and hashed.
        let mut view = self.view.write().map_err(|_| JobError::Poisoned)?;
        // Another prover thread may have brought the view this far (or further) meanwhile.
        if view
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.size >= checkpoint.size)
        {
            return Ok(());
        }
        let held = view.log.sequenced_size();
        let fresh = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .leaves_from(held)?;
        let witness = |e: &dyn std::fmt::Display| JobError::Witness(e.to_string());
        for stored in &fresh {
            let leaf = letro_core::field::fr_from_be_bytes(&stored.leaf)
                .map_err(|e| JobError::Witness(format!("stored leaf: {e}")))?;
            view.log.sequence(leaf).map_err(|e| witness(&e))?;
        }
        view.log.integrate().map_err(|e| witness(&e))?;
        view.log
            .mark_published(checkpoint.size)
            .map_err(|e| witness(&e))?;
        view.checkpoint = Some(checkpoint);
        Ok(())
    }

    /// Builds the delivery record, proves, and verifies bundle and opening.
    fn prove(&self, job: &JobRecord) -> Result<(String, String), JobError> {
        if self.refresh_view {
            self.refresh()?;
        }
        let record = self.record(job)?;
        let prover = self.prover()?;
        let (bundle, opening) = prover.prove_record(
            &record,
            job.not_before,
            job.not_after,
            &mut rand::rngs::OsRng,
        )?;
        let verified = self.verifier.verify(bundle.as_bytes())?;
        opening.check_statement(verified.statement())?;
        Ok((bundle, opening.encode()))
    }

    fn record(&self, job: &JobRecord) -> Result<DeliveryRecord, JobError> {
        let bad = |what: &str| JobError::Witness(format!("stored {what} is malformed"));
        let found = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .find_receipt(&job.ciphertext_hash)?;
        let Some((
            index,
            StoredEvent::Delivered {
                delivered_at,
                receipt_key,
                signature,
                receipt_key_certificate,
                ..
            },
        )) = found
        else {
            return Err(JobError::Witness("no receipt is stored".into()));
        };
        // The opening must name the recipient: the certificate was checked when the receipt
        // was logged, and is required since.
        let certificate = receipt_key_certificate
            .ok_or(JobError::NotProvable(NO_CERTIFICATE))?
            .to_certificate()
            .map_err(|_| bad("receipt key certificate"))?;
        let event_secret = self
            .store
            .lock()
            .map_err(|_| JobError::Poisoned)?
            .event_secret(index)?
            .ok_or(JobError::NotProvable(NO_EVENT_SECRET))?;
        let ax = fr_from_decimal(&receipt_key.x).map_err(|_| bad("receipt key"))?;
        let ay = fr_from_decimal(&receipt_key.y).map_err(|_| bad("receipt key"))?;
        let receipt_key = PublicKey::from_coords(ax, ay).map_err(|_| bad("receipt key"))?;
        let rx = fr_from_decimal(&signature.r8.x).map_err(|_| bad("signature"))?;
        let ry = fr_from_decimal(&signature.r8.y).map_err(|_| bad("signature"))?;
        let s = parse_decimal(&signature.s)
            .map_err(|_| bad("signature"))?
            .to_bytes_be();
        let mut s_be = [0u8; 32];
        let start = 32usize
            .checked_sub(s.len())
            .ok_or_else(|| bad("signature"))?;
        s_be.get_mut(start..)
            .ok_or_else(|| bad("signature"))?
            .copy_from_slice(&s);
        let signature = Signature::from_parts(rx, ry, &s_be).map_err(|_| bad("signature"))?;
        let blinding = fr_from_decimal(&job.blinding).map_err(|_| bad("blinding"))?;
        let leaf = u32::try_from(index).map_err(|_| bad("leaf index"))?;
        let (path, text) = {
            let view = self.view.read().map_err(|_| JobError::Poisoned)?;
            let cp = view
                .checkpoint
                .as_ref()
                .filter(|cp| index < cp.size)
                .ok_or_else(|| JobError::Witness("no checkpoint covers the leaf".into()))?;
            let path = view
                .log
                .inclusion_proof(leaf, cp.size)
                .map_err(|e| JobError::Witness(e.to_string()))?;
            (path, cp.text.clone())
        };
        let checkpoint = SignedCheckpoint::parse(&text).map_err(|_| bad("checkpoint"))?;
        // The checkpoint's RFC 3161 tokens so far (a bundle carries them; one proved before
        // the TSA answered has none).
        let timestamps = crate::timestamping::stored_tokens(
            &*self.store.lock().map_err(|_| JobError::Poisoned)?,
            checkpoint.note().unverified_text(),
        )?;
        Ok(DeliveryRecord {
            ciphertext_hash: CiphertextHash(job.ciphertext_hash),
            witness: DeliveryWitness {
                delivered_at,
                receipt_key,
                blinding,
                signature,
                event_secret: event_secret.fr(),
                path,
            },
            checkpoint,
            receipt_key_certificate: certificate,
            timestamps,
        })
    }
}

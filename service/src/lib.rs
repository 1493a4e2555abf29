//! # letro-service
//!
//! The service that runs beside the relay: it records submitted and delivered events in the
//! delivery log (letro-core's [`letro_core::log`]), stores them durably in SQLite, publishes
//! signed C2SP checkpoints at an interval, serves checkpoints, inclusion proofs and
//! consistency proofs over HTTP, and runs proof jobs ([`jobs`]) for senders.
//!
//! - [`build_router`] is the HTTP API; [`serve`] runs it on a listener until a shutdown future
//!   completes; [`Service::start`] opens the store and key and starts the log writer.
//! - [`store::Store`] is the storage interface: [`store::SqliteStore`] (the default) and
//!   [`store::PostgresStore`] ([`Config::database`]).
//! - Access rules: `service/ACCESS.md`.
//! - `GET /metrics` (admin token) is Prometheus text from the counters in [`metrics`]: requests
//!   by route template and status, refused receipts by reason, proof jobs queued, done and
//!   failed since the start, and the log sizes. `GET /openapi.json` is letro-api's document
//!   from [`api::routes`], the one route list [`build_router`] routes.
//!
//! - Admin endpoints ([`admin`]) issue and revoke tokens at run time and read the
//!   append-only audit log; finished proof jobs can notify a callback URL ([`callback`]).
//!   Tokens issued or revoked in the store by another process (`letro token issue|revoke`)
//!   take effect within [`TOKEN_RELOAD_INTERVAL`].
//! - The data directory records its log's origin ([`origin`]); [`serve`] runs the HTTP
//!   accept loop of [`server`]: header read timeout, connection cap, open-file limit raised.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod callback;
pub mod files;
pub mod jobs;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod monitor;
pub mod notices;
pub mod origin;
pub mod relay;
pub mod replica;
pub mod seal;
pub mod server;
pub mod settings;
pub mod store;
pub mod tiles;
pub mod timestamping;
pub mod witness;
pub mod witnessing;
pub mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use letro_core::field::{fr_from_be_bytes, fr_to_be_bytes};
use letro_core::log::DeliveryLog;
use letro_log::checkpoint::SignedCheckpoint;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use api::{build_router, ApiError, AppState};

use crate::store::{LogStore, PostgresStore, SqliteStore, Store, StoreError};
use crate::writer::{LogView, Writer};

/// The default retention period, seconds (14 days).
pub const DEFAULT_RETENTION: u64 = 14 * 86_400;

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the SQLite database (`letro.sqlite3`, unless
    /// [`Config::database`] names another), the origin and the log key (`log.key`).
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://` URL) holding every storage area instead of the
    /// SQLite file in [`Config::data_dir`]. Default `None` (SQLite).
    pub database: Option<String>,
    /// Address to listen on (used by callers that bind; [`serve`] takes a bound listener).
    pub listen: SocketAddr,
    /// An existing log key file to use instead of `data_dir/log.key` (which is created on
    /// first start when this is `None`). Same rules: mode 0600, named like the origin.
    pub log_key: Option<PathBuf>,
    /// On PostgreSQL: start as a standby when another service sequences the database's log,
    /// waiting to take over when its session ends, instead of being refused. Default false.
    pub standby: bool,
    /// On PostgreSQL: the base URL (`http://10.0.1.7:8080`) at which the other replicas reach
    /// this service's API. The service that sequences announces it in the database, and the
    /// replicas that do not sequence forward requests there ([`replica`]). Default `None`: none
    /// announced (replicas answer 503 `unavailable` until a leader announces one).
    pub advertise_url: Option<String>,
    /// The evidence-seal key (PKCS#8 PEM, ECDSA P-256, mode 0600) that seals evidence
    /// certificates, with [`Config::evidence_seal_certificate`]; both `None`: the data
    /// directory's, created self-signed on first start ([`seal`]).
    pub evidence_seal_key: Option<PathBuf>,
    /// The seal key's certificate and its CA chain (PEM, leaf first).
    pub evidence_seal_certificate: Option<PathBuf>,
    /// The log origin, e.g. `relay.example.com/letro-log`: the first checkpoint line and the
    /// log key's name.
    pub origin: String,
    /// How often a checkpoint is published when the log has grown. Default 5 s.
    pub checkpoint_interval: Duration,
    /// Largest accepted distance, in seconds, between a receipt's `t` and the service clock.
    /// Default 300.
    pub max_skew: u64,
    /// Largest request body, in bytes; larger bodies get 413. Default 64 KiB.
    pub body_limit: usize,
    /// Longest a request may take before it gets 503 `timeout`. Default 10 s.
    pub request_timeout: Duration,
    /// Number of prover threads that run proof jobs. Default 1. Several narrow provers
    /// give more proofs per second than one wide one; 0 accepts and stores jobs without
    /// proving them (they run when a service with provers starts on the same data).
    pub provers: usize,
    /// Threads of each prover's own pool; 0 (the default) shares the machine's cores out
    /// evenly: `max(1, cores / provers)`.
    pub prover_threads: usize,
    /// Whether the prover builds tables of the proving key's multiples when it loads (about
    /// 2 s on two cores and about 82 MB for the built-in key, shared by every prover thread)
    /// for proofs about 1.3 times faster. Default `true`: a service makes many proofs; a
    /// short-lived one (the demo, a test) that makes a few proves sooner without them.
    pub prover_tables: bool,
    /// A keys directory (`manifest.json` and the keys it names, as `letro ceremony finalize`
    /// writes them) to prove with instead of the built-in demo keys: a deployment's own
    /// ceremony keys. Its manifest and verifying key are checked at start, the proving key's
    /// hash when the first job loads it. Default `None`: the built-in keys.
    pub keys: Option<PathBuf>,
    /// Most unfinished (queued or running) proof jobs one sender may have; more get 429
    /// `too_many_jobs`. Default 16.
    pub max_jobs_per_sender: u64,
    /// Hosts (`host` or `host:port`) that proof-job callbacks may be sent to. Default empty:
    /// callbacks are refused.
    pub callback_hosts: Vec<String>,
    /// Delay before the second callback attempt; later delays grow fivefold. Default 1 s.
    pub callback_backoff: Duration,
    /// A PEM file of CA certificates trusted for `https://` callbacks besides the Mozilla
    /// root store (a private CA). Default none.
    pub callback_ca_file: Option<PathBuf>,
    /// A directory the published log is also written to as C2SP tlog-tiles files after every
    /// publication ([`tiles::TileExporter`]). Default none.
    pub tiles_directory: Option<PathBuf>,
    /// Object storage the published log is written to instead, as the same files: an
    /// `s3://bucket/prefix` URL (AWS S3 or any S3-compatible store) or `file:///directory`.
    /// Exclusive with `tiles_directory`. Default none.
    pub tiles_store: Option<String>,
    /// The options of `tiles_store`: object_store's S3 keys (`aws_endpoint`, `aws_region`,
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`, `aws_allow_http`,
    /// ...). `letro serve` takes them from its `AWS_*` environment variables. Default none.
    pub tiles_store_options: Vec<(String, String)>,
    /// Largest envelope (message with its attachments, encrypted) the mailbox accepts, in
    /// bytes; larger ones get 413. Default 24 MiB.
    pub max_envelope_bytes: usize,
    /// Longest a connection may take to send a complete request head, counted from its opening
    /// or from the end of the previous response: a connection that sends nothing, half a
    /// request, or idles between keep-alive requests is closed after it. Default 10 s.
    pub header_timeout: Duration,
    /// Most connections served at once; at the cap, a new connection replaces the connection
    /// idle longest (none of its requests in flight), else waits in the listen backlog. Lowered
    /// at start to fit the open-file limit ([`server`]). Default 4,096.
    pub max_connections: usize,
    /// Witnesses each new checkpoint is sent to (C2SP tlog-witness). Default none.
    pub witnesses: Vec<witnessing::WitnessTarget>,
    /// Cosignatures a checkpoint waits for before it is published; until then the previous
    /// checkpoint stays the published one and events are still accepted. Default 0: publish at
    /// once, with whatever cosignatures came back within the timeout.
    pub witness_quorum: usize,
    /// Longest wait for one witness's answer. Default 5 s.
    pub witness_timeout: Duration,
    /// RFC 3161 time-stamping authorities (URLs) asked for a token over each published
    /// checkpoint ([`timestamping`]). Default none.
    pub timestamp_authorities: Vec<String>,
    /// Per sender account, the URL a notice is POSTed to when one of its deliveries reaches
    /// its final state ([`notices`]); each on a host of `callback_hosts`. Default none.
    pub delivery_callbacks: Vec<(String, String)>,
    /// How long a delivery waits to be retrieved or refused, from its submission's logging;
    /// then it is logged as expired and its envelope leaves the mailbox ([`lifecycle`]).
    /// Default 14 days.
    pub retention: Duration,
    /// The identifier of the evidence policy the operator issues evidence records under (in
    /// every record's `issuer.policy`). Default [`DEFAULT_EVIDENCE_POLICY`].
    pub evidence_policy: String,
}

/// Log filter directives every subscriber of a service process adds after the operator's own
/// (`RUST_LOG`), so that no setting can turn them off: the PostgreSQL driver logs every query's
/// parameters at `debug` (event secrets, blindings, token hashes, envelopes), so its target is
/// held at `info`, where it logs none.
pub const LOG_DIRECTIVES: &[&str] = &["tokio_postgres=info"];

/// Connections a service on PostgreSQL opens for its API's store calls (the first is shared with
/// the provers and the background tasks).
pub const API_CONNECTIONS: usize = 4;

/// How often a service on PostgreSQL reads the store for job callbacks still pending (jobs
/// finished by `letro prover-worker` processes).
pub const CALLBACK_SWEEP: Duration = Duration::from_secs(2);

/// The default evidence policy identifier: Letro's registered-delivery evidence, version 1
/// (SPEC §5.12). A deployment that publishes its own policy names it here.
pub const DEFAULT_EVIDENCE_POLICY: &str = "urn:letro:evidence-policy:registered-delivery:v1";

impl Config {
    /// Settings with the defaults above.
    pub fn new(data_dir: impl Into<PathBuf>, origin: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_key: None,
            standby: false,
            advertise_url: None,
            evidence_seal_key: None,
            evidence_seal_certificate: None,
            origin: origin.into(),
            checkpoint_interval: Duration::from_secs(5),
            max_skew: 300,
            body_limit: 64 * 1024,
            request_timeout: server::Limits::default().request_timeout,
            provers: 1,
            prover_threads: 0,
            prover_tables: true,
            keys: None,
            max_jobs_per_sender: 16,
            callback_hosts: Vec::new(),
            callback_backoff: Duration::from_secs(1),
            callback_ca_file: None,
            tiles_directory: None,
            tiles_store: None,
            tiles_store_options: Vec::new(),
            retention: Duration::from_secs(DEFAULT_RETENTION),
            evidence_policy: DEFAULT_EVIDENCE_POLICY.to_owned(),
            max_envelope_bytes: 24 << 20,
            header_timeout: server::Limits::default().header_timeout,
            max_connections: server::Limits::default().max_connections,
            witnesses: Vec::new(),
            witness_quorum: 0,
            witness_timeout: Duration::from_secs(5),
            timestamp_authorities: Vec::new(),
            delivery_callbacks: Vec::new(),
        }
    }
}

/// How often a running service checks its store for tokens issued or revoked by another
/// process ([`store::Store::token_changes`], one small query), and so the longest such a change
/// takes to apply, plus the reload itself.
pub const TOKEN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Why the service could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Creating the data directory failed.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The log key could not be loaded or created.
    #[error(transparent)]
    LogKey(#[from] keys::LogKeyError),
    /// The origin is not valid, not the data directory's, or could not be recorded.
    #[error(transparent)]
    Origin(#[from] origin::OriginError),
    /// The stored leaves or checkpoint do not form a valid log.
    #[error("stored log is inconsistent: {0}")]
    Inconsistent(String),
    /// The log writer thread could not be started.
    #[error("starting the log writer: {0}")]
    Thread(std::io::Error),
    /// Serving HTTP failed.
    #[error("http server: {0}")]
    Http(std::io::Error),
    /// The TLS settings of callbacks could not be made (an unreadable or empty
    /// `callback_ca_file`).
    #[error("{0}")]
    CallbackTls(String),
    /// The witness settings are not usable (a quorum above the number of witnesses).
    #[error("witnesses: {0}")]
    Witnesses(String),
    /// The tiles directory cannot be created, or the tiles store is not usable.
    #[error("tiles: {0}")]
    Tiles(String),
    /// A standby was asked for without a database: only services on one PostgreSQL database
    /// take over from each other.
    #[error("standby needs a PostgreSQL database (database = \"postgres://...\"): a SQLite file has one service")]
    Standby,
    /// The store lost the database session that held the sequencer lock (the database
    /// restarted, or ended the session): another service may lead now; this one stopped.
    #[error(
        "lost the database session that held the sequencer lock: stopped (restart as a standby)"
    )]
    SequencerLost,
    /// The time-stamping client could not be made.
    #[error("time-stamping: {0}")]
    Timestamping(String),
    /// A replica could not be set up ([`replica`]): its advertised URL, its HTTP client.
    #[error("replica: {0}")]
    Replica(String),
    /// The keys directory (`keys`) is unreadable, or its manifest does not vouch for its
    /// verifying key.
    #[error("keys directory {path}: {reason}")]
    Keys {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The evidence-seal key or its certificate could not be loaded or made.
    #[error("evidence seal: {0}")]
    Seal(#[from] seal::SealKeyError),
}

/// One round of publication: without witnesses, sign and publish; with witnesses, sign, ask
/// every witness to cosign, and publish with the cosignatures once there are at least the
/// quorum (otherwise the previous checkpoint stays the published one). Then the tiles are
/// written, if configured ([`export_tiles`]).
pub async fn publish_round(state: &AppState, publication: &Publication) -> Result<(), String> {
    let signed = sign_round(state, publication).await;
    export_tiles(state, publication).await;
    signed
}

/// Writes the published log's new tiles and its checkpoint to the tiles directory or store, if
/// one is configured. A failure is logged; the next round retries it.
pub async fn export_tiles(state: &AppState, publication: &Publication) {
    if let Some(tiles) = &publication.tiles {
        if let Err(e) = tiles.export(state).await {
            tracing::warn!(error = %e, "writing the tiles failed");
        }
    }
}

/// The signing part of [`publish_round`].
async fn sign_round(state: &AppState, publication: &Publication) -> Result<(), String> {
    match &publication.witnessing {
        None => {
            state.publish().await.map_err(|e| e.to_string())?;
        }
        Some(w) => {
            let candidate = state.sign_checkpoint().await.map_err(|e| e.to_string())?;
            let published = state.published_checkpoint().map_err(|e| e.to_string())?;
            // Nothing new since the last round: no cosigning, but the tiles are still written
            // (after a restart, or to retry a failed export).
            if published.as_ref().is_none_or(|p| p.text != candidate.text) {
                let (cosigned, count) = w.cosign(state, &candidate).await;
                if count < w.quorum {
                    return Err(format!(
                        "checkpoint of size {} not published: {count} of the {} cosignatures required",
                        candidate.size, w.quorum
                    ));
                }
                state
                    .commit_checkpoint(cosigned)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// What a publication round does besides signing: the witnesses to gather cosignatures from,
/// and the tiles directory or store to write.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    /// The witnesses and the quorum, if any are configured.
    pub witnessing: Option<std::sync::Arc<witnessing::Witnessing>>,
    /// The tiles directory or store, if one is configured.
    pub tiles: Option<std::sync::Arc<tiles::TileExporter>>,
}

/// The current time, Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a start needs besides the store and the log key, each built and checked from the
/// settings ([`Prepared::new`]): before the store is touched, so that a replica checks its
/// settings when it starts, not when it takes over ([`Service::check_settings`]).
struct Prepared {
    proving_keys: Option<letro_verifier::PinnedKey>,
    callback_http: reqwest::Client,
    sealer: letro_certificate::seal::Sealer,
    timestamping: Option<Arc<timestamping::Timestamping>>,
    witnessing: Option<Arc<witnessing::Witnessing>>,
    tiles: Option<Arc<tiles::TileExporter>>,
}

impl Prepared {
    fn new(config: &Config) -> Result<Self, ServeError> {
        let proving_keys = match &config.keys {
            Some(dir) => {
                let fail = |reason: String| ServeError::Keys {
                    path: dir.display().to_string(),
                    reason,
                };
                // The prover's loader's checks (statement, file names), then the key pinned
                // with its manifest as a verifier pins it.
                letro_prover::keys::read_manifest(dir).map_err(|e| fail(e.to_string()))?;
                let key = letro_verifier::PinnedKey::from_keys_dir(dir)
                    .map_err(|e| fail(e.to_string()))?;
                Some(key)
            }
            None => None,
        };
        let callback_http = callback::http_client(config.callback_ca_file.as_deref())
            .map_err(ServeError::CallbackTls)?;
        let sealer = seal::load_or_create(
            &config.data_dir,
            &config.origin,
            config.evidence_seal_key.as_deref(),
            config.evidence_seal_certificate.as_deref(),
        )?;
        let timestamping = if config.timestamp_authorities.is_empty() {
            None
        } else {
            Some(std::sync::Arc::new(
                timestamping::Timestamping::new(config.timestamp_authorities.clone())
                    .map_err(ServeError::Timestamping)?,
            ))
        };
        let witnessing = if config.witnesses.is_empty() {
            None
        } else {
            Some(std::sync::Arc::new(
                witnessing::Witnessing::new(
                    config.witnesses.clone(),
                    config.witness_quorum,
                    config.witness_timeout,
                )
                .map_err(ServeError::Witnesses)?,
            ))
        };
        let tiles = match (&config.tiles_directory, &config.tiles_store) {
            (None, None) => None,
            (Some(dir), None) => Some(tiles::TileExporter::directory(dir)),
            (None, Some(url)) => Some(tiles::TileExporter::url(url, &config.tiles_store_options)),
            (Some(_), Some(_)) => Some(Err(
                "tiles_directory and tiles_store are exclusive: set one".to_owned(),
            )),
        }
        .transpose()
        .map_err(ServeError::Tiles)?
        .map(std::sync::Arc::new);
        Ok(Self {
            proving_keys,
            callback_http,
            sealer,
            timestamping,
            witnessing,
            tiles,
        })
    }
}

/// A started service: the log writer thread and the checkpoint publisher are running.
pub struct Service {
    state: AppState,
    publication: Publication,
    writer: std::thread::JoinHandle<()>,
    /// Fires if the log writer stopped because the store lost its sequencer session.
    lost: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Fires if the log writer answered no heartbeat for a lease ([`heartbeats`]).
    stalled: Option<tokio::sync::oneshot::Receiver<()>>,
    pool: jobs::Pool,
    publisher: tokio::task::JoinHandle<()>,
    expiry: tokio::task::JoinHandle<()>,
    timestamper: Option<tokio::task::JoinHandle<()>>,
    notifier: tokio::task::JoinHandle<()>,
    notice_sender: tokio::task::JoinHandle<()>,
    token_watch: tokio::task::JoinHandle<()>,
    /// The sequencer's heartbeat (PostgreSQL only).
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    origin: String,
    log_vkey: String,
    limits: server::Limits,
}

impl Service {
    /// Opens the store (the SQLite database in `config.data_dir`, or the PostgreSQL database of
    /// [`Config::database`], whose recorded origin must match) and the log key in
    /// `config.data_dir` (creating both if needed), checks the origin against the one the
    /// directory records and records it on first start ([`origin`]), rebuilds the tree from the stored leaves, checks the latest checkpoint
    /// against it, and starts the writer, the publisher and the token reloader. Must be called
    /// inside a tokio runtime.
    pub fn start(config: Config) -> Result<Self, ServeError> {
        let never = std::sync::atomic::AtomicBool::new(false);
        Self::start_unless(config, &never)?.ok_or(ServeError::Standby)
    }

    /// Checks what a start would check of `config` without the store: the origin against the
    /// data directory, the log key (`log_key`, or the data directory's if it has one), the
    /// proving keys, the callback CA file, the evidence-seal key (the data directory's is
    /// created if none is given, as a start does), the time-stamping authorities, the witnesses
    /// and the tiles store's settings. A replica runs it before it waits to take over
    /// ([`replica::serve`]), so that bad settings stop it at once.
    pub fn check_settings(config: &Config) -> Result<(), ServeError> {
        origin::check(&config.data_dir, config.log_key.as_deref(), &config.origin)?;
        match &config.log_key {
            Some(path) => drop(keys::load(path, &config.origin)?),
            None => {
                let path = config.data_dir.join(keys::LOG_KEY_FILE);
                if path.exists() {
                    drop(keys::load(&path, &config.origin)?);
                }
            }
        }
        Prepared::new(config).map(drop)
    }

    /// [`Service::start`], except that a standby stops waiting for the sequencer lock when
    /// `stop` is set: `Ok(None)` then ([`replica::serve`]).
    pub fn start_unless(
        config: Config,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<Option<Self>, ServeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        match config.database.clone() {
            Some(url) => {
                let mut store = PostgresStore::open(&url)?;
                let mut warm = None;
                if config.standby {
                    // While it waits, the standby keeps the log's tree up to date, so that a
                    // takeover adds only the last leaves instead of rebuilding every one.
                    let mut log = Some(DeliveryLog::new());
                    let took = store.wait_sequencer_until(stop, |store| {
                        if let Some(tree) = log.as_mut() {
                            if let Err(e) = follow_leaves(store, tree) {
                                tracing::warn!(error = %e, "standby: following the log failed; the takeover will rebuild it");
                                log = None;
                            }
                        }
                    })?;
                    if !took {
                        return Ok(None);
                    }
                    warm = log;
                } else {
                    store.lock_sequencer()?;
                }
                if store.claim_origin(&config.origin)? {
                    tracing::info!(origin = %config.origin, "origin recorded in the database");
                }
                if let Some(advertised) = &config.advertise_url {
                    store.announce_sequencer(advertised, unix_now())?;
                }
                let job_store = PostgresStore::open(&url)?;
                Self::start_warm(config, store, job_store, warm).map(Some)
            }
            None if config.standby => Err(ServeError::Standby),
            None => {
                let store = SqliteStore::open(&config.data_dir)?;
                let job_store = SqliteStore::open(&config.data_dir)?;
                Self::start_with_store(config, store, job_store).map(Some)
            }
        }
    }

    /// [`Service::start`] with given stores: `store` for the log writer, `job_store` (a
    /// separate connection to the same data) for proof jobs and the API's lookups.
    pub fn start_with_store<S: LogStore, J: Store>(
        config: Config,
        store: S,
        job_store: J,
    ) -> Result<Self, ServeError> {
        Self::start_warm(config, store, job_store, None)
    }

    /// [`Service::start_with_store`], with the tree of the stored leaves read so far (a
    /// standby's, [`follow_leaves`]) instead of rebuilding it from every leaf. Every check of a
    /// start is made on it the same way (the latest checkpoint against both roots).
    fn start_warm<S: LogStore, J: Store>(
        config: Config,
        store: S,
        job_store: J,
        warm: Option<DeliveryLog>,
    ) -> Result<Self, ServeError> {
        origin::check(&config.data_dir, config.log_key.as_deref(), &config.origin)?;
        let prepared = Prepared::new(&config)?;
        let key = match &config.log_key {
            Some(path) => keys::load(path, &config.origin)?,
            None => keys::load_or_create(&config.data_dir, &config.origin)?,
        };
        if origin::record(&config.data_dir, &config.origin)? {
            if config.origin == origin::DEFAULT_ORIGIN {
                tracing::warn!(
                    origin = %config.origin,
                    "no origin was set: this data directory's log is now named {}, for good; \
                     a log others verify needs a real origin (set it before the first start)",
                    origin::DEFAULT_ORIGIN
                );
            }
            tracing::info!(origin = %config.origin, "origin recorded in the data directory");
        }
        let checkpoint = store.latest_checkpoint()?;
        let published = checkpoint.as_ref().map_or(0, |c| c.size);
        let log = match warm {
            // A standby's tree, kept up to date while it waited: only the leaves stored since
            // its last read are added (stored leaves never change, so it is a prefix).
            Some(mut log) => {
                follow_leaves(&store, &mut log)
                    .map_err(|e| ServeError::Inconsistent(format!("stored leaf: {e}")))?;
                log.mark_published(published)
                    .map_err(|e| ServeError::Inconsistent(e.to_string()))?;
                log
            }
            None => {
                let leaves = store
                    .leaves()?
                    .iter()
                    .map(|l| fr_from_be_bytes(&l.leaf))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ServeError::Inconsistent(format!("stored leaf: {e}")))?;
                DeliveryLog::restore(&leaves, published)
                    .map_err(|e| ServeError::Inconsistent(e.to_string()))?
            }
        };
        // The published skew never shrinks: entries accepted under a larger skew stay covered by
        // every later checkpoint, so a lowered `max_skew` only tightens new receipts.
        let mut receipt_skew = config.max_skew;
        if let Some(cp) = &checkpoint {
            let signed = SignedCheckpoint::parse(&cp.text)
                .map_err(|e| ServeError::Inconsistent(format!("stored checkpoint: {e}")))?;
            signed
                .verify(&[key.verifier_key()])
                .map_err(|e| ServeError::Inconsistent(format!("stored checkpoint: {e}")))?;
            let root = log
                .root_at(cp.size)
                .map_err(|e| ServeError::Inconsistent(e.to_string()))?;
            let stored = signed.unverified_checkpoint();
            if stored.poseidon_root() != fr_to_be_bytes(&root) {
                return Err(ServeError::Inconsistent(
                    "the latest checkpoint's Poseidon root is not the root of the stored leaves"
                        .into(),
                ));
            }
            // Checkpoints signed before the RFC 6962 root was published have none.
            if let Some(sha) = stored.rfc6962_root() {
                let expected = log
                    .rfc6962()
                    .root_at(cp.size)
                    .map_err(|e| ServeError::Inconsistent(e.to_string()))?;
                if sha != expected {
                    return Err(ServeError::Inconsistent(
                        "the latest checkpoint's RFC 6962 root is not the root of the stored leaves"
                            .into(),
                    ));
                }
            }
            // Checkpoints signed before the skew was published have no line.
            if let Ok(published_skew) = signed.unverified_checkpoint().receipt_skew() {
                receipt_skew = receipt_skew.max(published_skew);
            }
        }
        // The counter first: a change between the two reads is seen at the first poll.
        let token_changes = job_store.token_changes()?;
        let tokens = auth::Tokens::new(job_store.tokens()?);
        tracing::info!(
            origin = %config.origin,
            key_id = %key.key_id(),
            size = log.sequenced_size(),
            published,
            "log restored"
        );
        let key_vkey = key.verifier_key();
        let key_vkey_text = key_vkey.to_string();
        let log_vkey = key_vkey_text.clone();
        let view = Arc::new(RwLock::new(LogView { log, checkpoint }));
        let (tx, rx) = mpsc::channel(writer::MAX_BATCH * 2);
        let w = Writer {
            store,
            view: view.clone(),
            key,
            origin: config.origin.clone(),
            now: unix_now,
            receipt_skew,
        };
        let (lost_tx, lost) = tokio::sync::oneshot::channel();
        let writer = std::thread::Builder::new()
            .name("letro-log-writer".into())
            .spawn(move || {
                if !w.run(rx) {
                    let _ = lost_tx.send(());
                }
            })
            .map_err(ServeError::Thread)?;
        let job_store: jobs::SharedStore = Arc::new(Mutex::new(job_store));
        let mut verifier = letro_verifier::Verifier::new(vec![key_vkey])
            .map_err(|e| ServeError::Inconsistent(format!("embedded verifying key: {e}")))?;
        if let Some(key) = &prepared.proving_keys {
            verifier.add_key(key.clone());
        }
        let proving_keys = prepared.proving_keys;
        let metrics = Arc::new(metrics::Metrics::new(api::routes().iter().map(|r| r.path)));
        let callback_http = prepared.callback_http;
        let (notices, notice_sender) = notices::start(
            job_store.clone(),
            config.delivery_callbacks.iter().cloned().collect(),
            config.callback_backoff,
            callback_http.clone(),
        )?;
        // On PostgreSQL, provers of other processes finish jobs too: their notices are found
        // by reading the store.
        let sweep = config.database.as_ref().map(|_| CALLBACK_SWEEP);
        let (callbacks, notifier) = callback::start(
            job_store.clone(),
            config.callback_backoff,
            callback_http,
            sweep,
        )?;
        let threads = if config.prover_threads == 0 {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            (cores / config.provers.max(1)).max(1)
        } else {
            config.prover_threads
        };
        // On SQLite this service is the store's only prover: the jobs its previous run left
        // running are queued again at once. On PostgreSQL other provers may hold leases, which
        // run out by themselves.
        if config.database.is_none() {
            let n = job_store
                .lock()
                .map_err(|_| ServeError::Inconsistent("job store lock poisoned".into()))?
                .requeue_running()?;
            if n > 0 {
                tracing::info!(
                    count = n,
                    "resuming proof jobs the previous run was proving"
                );
            }
        }
        let (pool, queue) = jobs::Pool::start(
            jobs::PoolSize {
                provers: config.provers,
                threads,
                tables: config.prover_tables,
            },
            callbacks,
            job_store.clone(),
            view.clone(),
            verifier,
            metrics.clone(),
            config.keys.as_deref(),
        )?;
        let sealer = prepared.sealer;
        let timestamping = prepared.timestamping;
        // On PostgreSQL the API's calls are spread over more connections; SQLite has one
        // writer at a time, so one connection serves it.
        let extra = match &config.database {
            Some(url) => (1..API_CONNECTIONS)
                .map(|_| {
                    store::PostgresStore::open(url)
                        .map(|s| -> jobs::SharedStore { Arc::new(Mutex::new(s)) })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let parts = api::Parts {
            tx,
            view,
            tokens,
            jobs: job_store,
            extra,
            queue,
            metrics,
            log_vkey: key_vkey_text,
            proving_keys,
            notices,
            sealer: std::sync::Arc::new(sealer),
            timestamping: timestamping.clone(),
        };
        let state = AppState::new(parts, &config);
        let witnessing = prepared.witnessing;
        let tiles = prepared.tiles;
        let publication = Publication { witnessing, tiles };
        let publisher = {
            let state = state.clone();
            let publication = publication.clone();
            let every = config.checkpoint_interval;
            tokio::spawn(async move {
                // The first tick is one interval after start, not at once.
                let start = tokio::time::Instant::now() + every;
                let mut ticker = tokio::time::interval_at(start, every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut export: Option<tokio::task::JoinHandle<()>> = None;
                loop {
                    ticker.tick().await;
                    if let Err(e) = sign_round(&state, &publication).await {
                        tracing::warn!(error = %e, "checkpoint publication failed");
                    }
                    // A slow or unreachable tiles store never delays the next checkpoint: the
                    // export runs beside the rounds, one at a time, and catches up when it can.
                    if export.as_ref().is_none_or(|e| e.is_finished()) {
                        let (state, publication) = (state.clone(), publication.clone());
                        export = Some(tokio::spawn(async move {
                            export_tiles(&state, &publication).await;
                        }));
                    }
                }
            })
        };
        let token_watch = tokio::spawn(watch_tokens(state.clone(), token_changes));
        // On PostgreSQL the sequencer's session must never idle for a lease: a heartbeat
        // through the writer keeps it busy while this process runs ([`store::LEASE`]).
        let (stall_tx, stalled) = tokio::sync::oneshot::channel();
        let heartbeat = config.database.is_some().then(|| {
            tokio::spawn(heartbeats(
                state.inner.tx.clone(),
                store::HEARTBEAT,
                store::LEASE,
                stall_tx,
            ))
        });
        let expiry = {
            let state = state.clone();
            let retention = config.retention;
            let every = lifecycle::expiry_period(retention);
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    match lifecycle::expire_due(&state, retention.as_secs(), unix_now()).await {
                        Ok(e) if e.expired > 0 => {
                            tracing::info!(expired = e.expired, "deliveries expired")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "expiry round failed"),
                    }
                }
            })
        };
        let timestamper = timestamping.map(|t| {
            tokio::spawn(timestamping::run(
                state.clone(),
                t,
                config.checkpoint_interval.min(Duration::from_secs(1)),
            ))
        });
        Ok(Self {
            state,
            publication,
            writer,
            lost: Some(lost),
            stalled: Some(stalled),
            pool,
            publisher,
            expiry,
            timestamper,
            notifier,
            notice_sender,
            token_watch,
            heartbeat,
            origin: config.origin.clone(),
            log_vkey,
            limits: server::Limits {
                header_timeout: config.header_timeout,
                max_connections: config.max_connections,
                request_timeout: config.request_timeout,
            },
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's verifier key, a C2SP vkey line without its newline (what `GET /v1/log/key`
    /// serves): what verifiers pin, handed to them out of band.
    pub fn log_vkey(&self) -> &str {
        &self.log_vkey
    }

    /// Serves HTTP on `listener` ([`server::run`]) until `shutdown` completes, then lets
    /// requests in flight finish and shuts the service down ([`Service::shutdown`]).
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let router = self.router();
        // A leader that lost its sequencer session steps down: it stops serving, so that the
        // process exits and its supervisor restarts it (as a standby), instead of answering
        // errors to every write while another service leads.
        let (lost, stalled) = (self.lost.take(), self.stalled.take());
        let stepped_down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let shutdown = {
            let stepped_down = stepped_down.clone();
            async move {
                tokio::select! {
                    () = shutdown => {}
                    () = fires(lost) => stepped_down.store(true, std::sync::atomic::Ordering::SeqCst),
                    () = fires(stalled) => stepped_down.store(true, std::sync::atomic::Ordering::SeqCst),
                }
            }
        };
        let result = server::run(listener, router, self.limits, shutdown).await;
        let lost = stepped_down.load(std::sync::atomic::Ordering::SeqCst);
        self.stop(!lost).await;
        if lost {
            return Err(ServeError::SequencerLost);
        }
        result
    }

    /// One publication round now, as the publisher runs it on its interval: with witnesses,
    /// the checkpoint is published cosigned, or not at all below the quorum.
    pub async fn publish(&self) -> Result<(), String> {
        publish_round(&self.state, &self.publication).await
    }

    /// The API state (to build a router or call the log directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The HTTP router of this service.
    pub fn router(&self) -> axum::Router {
        build_router(self.state.clone())
    }

    /// Lets each prover finish its running job (queued jobs stay stored and resume at the next
    /// start), stops the publisher, publishes a final checkpoint, and waits for the writer to finish
    /// the commands already queued. Routers built from this service must be dropped first, or
    /// the writer keeps running until they are.
    pub async fn shutdown(self) {
        self.stop(true).await;
    }

    /// [`Service::shutdown`]; without the final publication round when `final_round` is false
    /// (a leader that lost its sequencer session: another service publishes the log now).
    async fn stop(self, final_round: bool) {
        self.pool.shutdown().await;
        // Undelivered notices stay `pending` in the store and resume at the next start.
        self.notifier.abort();
        self.notice_sender.abort();
        self.token_watch.abort();
        let _ = self.token_watch.await;
        self.publisher.abort();
        let _ = self.publisher.await;
        self.expiry.abort();
        let _ = self.expiry.await;
        if let Some(t) = self.timestamper {
            t.abort();
            let _ = t.await;
        }
        if final_round {
            if let Err(e) = publish_round(&self.state, &self.publication).await {
                tracing::warn!(error = %e, "final checkpoint failed");
            }
        }
        // The heartbeat runs until the final round is done, so that a slow witness cannot
        // leave the sequencer's session idle for a lease; its sender must go before the writer
        // can end.
        if let Some(h) = self.heartbeat {
            h.abort();
            let _ = h.await;
        }
        drop(self.state);
        let writer = self.writer;
        let joined = tokio::task::spawn_blocking(move || writer.join());
        if final_round {
            let _ = joined.await;
        } else if tokio::time::timeout(STEP_DOWN_WAIT, joined).await.is_err() {
            // A writer hung in a store call: the process exits without it.
            tracing::error!("the log writer did not stop; leaving it");
        }
    }
}

/// Adds to `log` the leaves `store` holds beyond it, and integrates them.
fn follow_leaves<S: LogStore + ?Sized>(store: &S, log: &mut DeliveryLog) -> Result<(), String> {
    let fresh = store
        .leaves_from(log.sequenced_size())
        .map_err(|e| e.to_string())?;
    for stored in &fresh {
        let leaf = fr_from_be_bytes(&stored.leaf).map_err(|e| e.to_string())?;
        log.sequence(leaf).map_err(|e| e.to_string())?;
    }
    if !fresh.is_empty() {
        log.integrate().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// How long a leader that steps down waits for its log writer to stop.
const STEP_DOWN_WAIT: Duration = Duration::from_secs(5);

/// Completes when `rx` fires; never when its sender was dropped unfired (or there is none).
async fn fires(rx: Option<tokio::sync::oneshot::Receiver<()>>) {
    let fired = match rx {
        Some(rx) => rx.await.is_ok(),
        None => false,
    };
    if !fired {
        std::future::pending::<()>().await;
    }
}

/// The sequencer's heartbeat (PostgreSQL): every `every`, a heartbeat through the log writer,
/// which keeps its session busy so that the database does not end it ([`store::LEASE`]). A
/// writer that answers none for `lease` (hung in a store call, or its connection silent) has
/// lost the lease from the database's view: `stalled` fires, and the service steps down
/// ([`Service::serve`]) instead of serving a log it can no longer write. Ends when the writer
/// is gone.
async fn heartbeats(
    tx: mpsc::Sender<writer::Command>,
    every: Duration,
    lease: Duration,
    stalled: tokio::sync::oneshot::Sender<()>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    loop {
        ticker.tick().await;
        let (done, beat) = tokio::sync::oneshot::channel();
        let left = lease.saturating_sub(last.elapsed());
        let answered = tokio::time::timeout(left, async {
            match tx.send(writer::Command::Heartbeat { done }).await {
                Ok(()) => Some(beat.await.is_ok()),
                Err(_) => None,
            }
        })
        .await;
        match answered {
            Ok(None) => return,
            Ok(Some(true)) => last = tokio::time::Instant::now(),
            // Failed: the writer sees a lost session itself; the next one may succeed.
            Ok(Some(false)) => {}
            Err(_) => {}
        }
        if last.elapsed() >= lease {
            tracing::error!(
                lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
                "the log writer answered no heartbeat for a lease: the database ends its \
                 session, so this service steps down"
            );
            let _ = stalled.send(());
            return;
        }
    }
}

/// Starts the service on `config.data_dir` and serves HTTP on `listener` until `shutdown`
/// completes; then stops accepting, lets requests in flight finish, publishes a final checkpoint
/// and waits for the log writer. [`Service::start`] then [`Service::serve`].
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    Service::start(config)?.serve(listener, shutdown).await
}

/// Every [`TOKEN_RELOAD_INTERVAL`], reads the store's token counter and, when it changed since
/// `seen`, merges the store's tokens into the table ([`auth::Tokens::merge`]), so that tokens
/// issued or revoked by another process (`letro token issue|revoke`) take effect.
async fn watch_tokens(state: AppState, mut seen: u64) {
    let mut ticker = tokio::time::interval(TOKEN_RELOAD_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let st = state.clone();
        let polled = tokio::task::spawn_blocking(move || reload_tokens(&st, seen)).await;
        match polled {
            Ok(Ok(now)) => seen = now,
            Ok(Err(e)) => tracing::warn!(error = %e, "reloading the tokens failed"),
            Err(e) => tracing::warn!(error = %e, "the token reload task failed"),
        }
    }
}

fn reload_tokens(state: &AppState, seen: u64) -> Result<u64, String> {
    let (now, records) = {
        let store = state.lock_store().map_err(|e| e.to_string())?;
        let now = store.token_changes().map_err(|e| e.to_string())?;
        if now == seen {
            return Ok(seen);
        }
        (now, store.tokens().map_err(|e| e.to_string())?)
    };
    let count = records.len();
    state.tokens().map_err(|e| e.to_string())?.merge(records);
    tracing::info!(tokens = count, "tokens reloaded after a store change");
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log writer for [`heartbeats`]: answers the first `answered` heartbeats, then fails
    /// (`hang = false`: drops them unanswered) or stops reading (`hang = true`).
    fn writer(answered: usize, hang: bool) -> (mpsc::Sender<writer::Command>, Arc<Mutex<usize>>) {
        let (tx, mut rx) = mpsc::channel(4);
        let seen = Arc::new(Mutex::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                let writer::Command::Heartbeat { done } = c else {
                    continue;
                };
                let n = {
                    let mut n = count.lock().unwrap();
                    *n += 1;
                    *n
                };
                if n <= answered {
                    let _ = done.send(());
                } else if hang {
                    std::future::pending::<()>().await;
                }
            }
        });
        (tx, seen)
    }

    const EVERY: Duration = Duration::from_secs(2);
    const LEASE: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_writer_that_answers_keeps_its_lease() {
        let (tx, seen) = writer(usize::MAX, false);
        let (stall, mut stalled) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(heartbeats(tx, EVERY, LEASE, stall));
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(stalled.try_recv().is_err(), "stalled while answering");
        assert!(*seen.lock().unwrap() >= 60, "a heartbeat every 2 s");
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_writer_that_stops_answering_stalls_after_a_lease() {
        for hang in [false, true] {
            let (tx, _) = writer(3, hang);
            let (stall, stalled) = tokio::sync::oneshot::channel();
            let start = tokio::time::Instant::now();
            let task = tokio::spawn(heartbeats(tx, EVERY, LEASE, stall));
            tokio::time::timeout(Duration::from_secs(60), stalled)
                .await
                .expect("no stall within a minute")
                .expect("stalled");
            // The third answer came at 4 s (ticks at 0, 2, 4 s); the lease ran out 10 s later.
            let at = start.elapsed();
            assert!(
                at >= Duration::from_secs(14) && at <= Duration::from_secs(16),
                "hang {hang}: stalled at {at:?}"
            );
            task.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_heartbeat_ends_with_its_writer() {
        let (tx, rx) = mpsc::channel::<writer::Command>(4);
        drop(rx);
        let (stall, mut stalled) = tokio::sync::oneshot::channel();
        heartbeats(tx, EVERY, LEASE, stall).await;
        assert!(matches!(
            stalled.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed)
        ));
    }
}

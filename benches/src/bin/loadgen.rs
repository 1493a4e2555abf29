//! Load generator for letro-service (numbers in BENCHMARKS.md, section "Service").
//!
//! Runs the real service in this process, on a temporary data directory with the default
//! durable SQLite settings (WAL, `synchronous=FULL`), and drives it:
//!
//! - `loadgen receipts`: N submissions, then N receipts (distinct `H`, signed before the clock
//!   starts), from C concurrent HTTP/1.1 keep-alive connections over a real socket, and the
//!   same through the router without a socket (`tower::ServiceExt::oneshot`); with `--postgres
//!   ADMIN_URL`, the socket variant again on a PostgreSQL store (a fresh database per run), and
//!   with `--replicas` also with a second replica forwarding to the service
//!   (`letro_service::replica`), the connections spread over both.
//!   Reports events per second, latency percentiles, the slowest one-second window and peak
//!   RSS.
//! - `loadgen proofs`: K proof jobs through `POST /v1/proofs` with one wide prover and with two
//!   narrow provers, against the bare `letro_prover::Prover` on the same inputs in the same run.
//! - `loadgen profile`: where a receipt's time goes (parsing, the receipt check, the leaf hash,
//!   the SQLite commit, the log writer alone, the tree integration).
//!
//! The load generator shares the machine's cores with the service: on a 2-core machine its
//! client side takes CPU the service would otherwise have.
//!
//! HTTP: the measured socket phases send pre-serialized letro-api bodies over raw hyper
//! HTTP/1.1 connections, exactly C of them, kept alive, so that the client's cost per request
//! stays as small as it can be and the numbers are the service's. Everything else (the log
//! state after a run, the events and proof jobs of `proofs` mode, whose measure is the
//! prover) goes through letro-api-client. Paths come from letro-api's route table either way.
// A benchmark tool, not a library: a failed lookup of our own precomputed data is a bug in the
// tool and may panic; errors from the service are counted and reported, never unwrapped.
#![allow(clippy::indexing_slicing, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use letro_api::bodies::{JobState, ProofRequest, ReceiptRequest as ReceiptJson, SubmissionRequest};
use letro_api::directory::CertificateObject;
use letro_core::eddsa::{PrivateKey, PublicKey, Signature};
use letro_core::field::{fr_from_decimal, parse_decimal};
use letro_core::log::{check_receipt, DeliveryLog, Event};
use letro_core::receipt_json::{PointJson, SignatureJson};
use letro_core::statement::{receipt_message, CiphertextHash};
use letro_prover::Prover;
use letro_service::auth::{issue_token, Role};
use letro_service::store::{
    EventSecret, LogStore, NewEntry, PostgresStore, SqliteStore, Store, StoredEvent,
};
use letro_service::writer::{Command, LogView, Writer};
use letro_service::{unix_now, Config, Service};
use rayon::prelude::*;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const ORIGIN: &str = "loadgen.example/letro-log";

/// The test-only XEdDSA signer and directory upload the service tests use, for the recipient's
/// receipt-key certificate (receipts are logged only for a key the routed account certified).
#[path = "../../../service/tests/common/xeddsa.rs"]
#[allow(dead_code, clippy::indexing_slicing)]
mod xeddsa;

/// The account every submission is routed to.
const RECIPIENT: &str = "loadgen-recipient";

/// The seed of the recipient's receipt key, which signs every receipt.
const RECIPIENT_SEED: u8 = 7;

#[derive(Parser)]
#[command(about = "Load generator for letro-service; prints markdown tables for BENCHMARKS.md")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Submissions and receipts per second, latency and memory.
    Receipts(ReceiptsArgs),
    /// Proof jobs per second against the bare prover.
    Proofs {
        /// Proof jobs per measurement.
        #[arg(long, short, default_value_t = 12)]
        k: usize,
        /// Runs; the table shows medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Prove without the key's fixed-base tables, bare and in the service
        /// (`prover_tables = false`).
        #[arg(long)]
        no_tables: bool,
    },
    /// Proof jobs per second of a service on PostgreSQL proved by 1, 2, 4 ... `letro
    /// prover-worker` processes (a fresh database per measurement).
    Workers {
        /// Admin URL of the PostgreSQL server (a role that may create databases).
        #[arg(long, value_name = "ADMIN_URL")]
        postgres: String,
        /// The `letro` binary whose `prover-worker` is measured.
        #[arg(long)]
        letro: std::path::PathBuf,
        /// Proof jobs per measurement.
        #[arg(long, short, default_value_t = 12)]
        k: usize,
        /// Worker process counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        counts: Vec<usize>,
        /// Runs; the table shows medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// A leader's failover on PostgreSQL with a log of N entries: a standby that waited beside
    /// it (and kept the tree up to date) against a service started afterwards (which rebuilds
    /// the tree from every stored leaf), from the leader's stop to the new one's start.
    Takeover {
        /// Admin URL of the PostgreSQL server (a role that may create databases).
        #[arg(long, value_name = "ADMIN_URL")]
        postgres: String,
        /// Entries in the log.
        #[arg(long, short, default_value_t = 100_000)]
        n: usize,
        /// Runs; the table shows medians.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Time the parts of the receipt path one by one.
    Profile {
        /// Receipts to time.
        #[arg(long, default_value_t = 4_000)]
        n: usize,
        /// Concurrent appends offered to the log writer.
        #[arg(long, short, default_value_t = 64)]
        concurrency: usize,
    },
}

#[derive(clap::Args)]
struct ReceiptsArgs {
    /// Events of each kind per run (N submissions, then N receipts for the same H).
    #[arg(long, default_value_t = 20_000)]
    n: usize,
    /// Concurrent keep-alive connections (or concurrent in-process requests).
    #[arg(long, short, default_value_t = 64)]
    concurrency: usize,
    /// Runs of each variant; the table shows medians.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Tokio worker threads of the service's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Tokio worker threads of the load generator's HTTP client.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Only the socket variant.
    #[arg(long)]
    socket_only: bool,
    /// Only the in-process variant.
    #[arg(long)]
    in_process_only: bool,
    /// Also the socket variant on PostgreSQL: a fresh database per run, created and dropped
    /// through this admin URL (a role that may create databases).
    #[arg(long, value_name = "ADMIN_URL")]
    postgres: Option<String>,
    /// With --postgres: also two replicas on one database (letro_service::replica), the
    /// connections spread over both; the one that does not lead forwards to the one that does.
    #[arg(long)]
    replicas: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The service's logs only when asked for (`RUST_LOG=letro_service::writer=debug` shows
    // the writer's batch sizes), on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        let mut filter = tracing_subscriber::EnvFilter::from_default_env();
        for directive in letro_service::LOG_DIRECTIVES {
            filter = filter.add_directive(directive.parse()?);
        }
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    eprintln!(
        "machine: {} cores; at start: {}",
        std::thread::available_parallelism().map_or(1, usize::from),
        machine_note()
    );
    match cli.mode {
        Mode::Receipts(args) => receipts_mode(&args),
        Mode::Proofs { k, runs, no_tables } => proofs_mode(k, runs, !no_tables),
        Mode::Workers {
            postgres,
            letro,
            k,
            counts,
            runs,
        } => workers_mode(&postgres, &letro, k, &counts, runs),
        Mode::Profile { n, concurrency } => profile_mode(n, concurrency),
        Mode::Takeover { postgres, n, runs } => takeover_mode(&postgres, n, runs),
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `VmHWM` and `VmRSS` of this process, KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` 5), so each phase reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// How many cores this process really gets: the same CPU-bound work (Poseidon hashes) on one
/// thread, then on two at once; 2.0 means two free cores. The load average inside this VM does
/// not show other tenants of the host's cores; this does.
fn cpu_scaling() -> f64 {
    fn work() -> Duration {
        let start = Instant::now();
        let mut x = ark_bn254::Fr::from(1u64);
        for _ in 0..3000 {
            x = letro_core::poseidon::hash([x, x, x, x]);
        }
        std::hint::black_box(x);
        start.elapsed()
    }
    let one = work();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(work);
        s.spawn(work);
    });
    2.0 * secs(one) / secs(start.elapsed())
}

fn machine_note() -> String {
    format!(
        "load average {}, two-thread CPU scaling {:.2}x",
        loadavg(),
        cpu_scaling()
    )
}

/// A multi-threaded tokio runtime of `threads` workers named `name`.
fn runtime(threads: usize, name: &str) -> Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()?)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn pct_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn run_label(runs: usize) -> String {
    if runs == 1 {
        "1 run".into()
    } else {
        format!("median of {runs} runs")
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/// Distinct ciphertext hashes of run `run`.
fn hash_of(run: usize, i: usize) -> CiphertextHash {
    CiphertextHash::of(format!("loadgen ciphertext {run} {i}").as_bytes())
}

fn seed_of(run: usize, i: usize) -> [u8; 32] {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed[8..16].copy_from_slice(&(run as u64).to_le_bytes());
    seed
}

fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .expect("a time after 1970")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formattable")
}

fn submission(h: &CiphertextHash, sender: &str) -> SubmissionRequest {
    SubmissionRequest {
        ciphertext_sha256: h.to_hex(),
        sender: sender.into(),
        routing: RECIPIENT.into(),
    }
}

fn submission_body(h: &CiphertextHash, sender: &str) -> Bytes {
    Bytes::from(serde_json::to_vec(&submission(h, sender)).expect("json"))
}

/// The path of the route `operation_id` (without parameters), from letro-api's route table.
fn route_path(operation_id: &'static str) -> &'static str {
    letro_api::routes::route(operation_id)
        .expect("an operation of letro-api's route table")
        .path
}

/// A letro-api-client of the running service with `token`.
fn api_client(addr: SocketAddr, token: &str) -> Result<letro_api_client::Client> {
    Ok(letro_api_client::Client::new(format!("http://{addr}"))?.with_token(token))
}

/// A signed receipt, as a relay would forward it.
struct SignedReceipt {
    h: CiphertextHash,
    t: u64,
    key: PublicKey,
    sig: Signature,
    body: Bytes,
}

fn sign_receipt(h: CiphertextHash, t: u64) -> SignedReceipt {
    let sk = PrivateKey::from_bytes([RECIPIENT_SEED; 32]);
    let key = sk.public_key();
    let sig = sk.sign(&receipt_message(&h, t));
    let v = ReceiptJson::new(&h, t, &key, &sig).expect("a time of today");
    SignedReceipt {
        h,
        t,
        key,
        sig,
        body: Bytes::from(serde_json::to_vec(&v).expect("json")),
    }
}

/// N receipts for run `run`, signed in parallel (before any clock starts) by the recipient's
/// certified key.
fn sign_receipts(run: usize, n: usize, t: u64) -> Vec<SignedReceipt> {
    (0..n)
        .into_par_iter()
        .map(|i| sign_receipt(hash_of(run, i), t))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The service under test

struct Tokens {
    relay: String,
    sender: String,
    recipient: String,
}

fn issue_tokens(store: &mut dyn Store) -> Result<Tokens> {
    let later = unix_now() + 24 * 3600;
    Ok(Tokens {
        relay: issue_token(store, Role::Relay, "relay", later, "cli")?.0,
        sender: issue_token(store, Role::Sender, "bank", later, "cli")?.0,
        recipient: issue_token(store, Role::Client, RECIPIENT, later, "cli")?.0,
    })
}

/// A PostgreSQL database made for one run and dropped after it.
struct Database {
    url: String,
    name: String,
    admin: String,
}

impl Database {
    fn create(admin: &str) -> Result<Self> {
        let name = format!(
            "letro_loadgen_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        admin_sql(admin, &format!("CREATE DATABASE {name}"))?;
        let Some((server, _)) = admin.split('?').next().and_then(|a| a.rsplit_once('/')) else {
            bail!("--postgres is postgres://USER@HOST:PORT/DATABASE");
        };
        Ok(Self {
            url: format!("{server}/{name}"),
            name,
            admin: admin.to_owned(),
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = admin_sql(&self.admin, &sql) {
            eprintln!("the database {} was not dropped: {e}", self.name);
        }
    }
}

/// Runs `sql` on the database at `url`, on a runtime of its own.
fn admin_sql(url: &str, sql: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        let result = client.batch_execute(sql).await;
        drop(client);
        let _ = driver.await;
        Ok::<_, anyhow::Error>(result?)
    })
}

/// The service, started on a runtime of its own, serving HTTP on 127.0.0.1.
struct Running {
    service: Service,
    addr: SocketAddr,
    /// Where the socket phases open their connections, in turn: the service, then the replicas
    /// that forward to it.
    addrs: Vec<SocketAddr>,
    /// The replicas ([`letro_service::replica`]): what stops each, and its task.
    replicas: Vec<Replica>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    tokens: Tokens,
    _dir: tempfile::TempDir,
}

/// A replica on the same database, forwarding to the service.
type Replica = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), letro_service::ServeError>>,
);

fn start_service(
    rt: &Runtime,
    database: Option<&str>,
    tune: impl FnOnce(&mut Config),
) -> Result<Running> {
    start_replicated(rt, database, 1, tune)
}

/// [`start_service`], with `replicas - 1` more replicas on the same PostgreSQL database, each
/// in this process on a listener of its own, forwarding to the service.
fn start_replicated(
    rt: &Runtime,
    database: Option<&str>,
    replicas: usize,
    tune: impl FnOnce(&mut Config),
) -> Result<Running> {
    let dir = tempfile::tempdir()?;
    let tokens = match database {
        Some(url) => issue_tokens(&mut PostgresStore::open(url)?)?,
        None => issue_tokens(&mut SqliteStore::open(dir.path())?)?,
    };
    let mut config = Config::new(dir.path(), ORIGIN);
    config.database = database.map(str::to_owned);
    tune(&mut config);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    if database.is_some() {
        config.advertise_url = Some(format!("http://{addr}"));
    }
    let replica_config = config.clone();
    let service = {
        let _guard = rt.enter();
        Service::start(config)?
    };
    let mut addrs = vec![addr];
    let mut running_replicas = Vec::new();
    for r in 1..replicas {
        let mut c = replica_config.clone();
        c.data_dir = dir.path().join(format!("replica{r}"));
        c.log_key = Some(dir.path().join(letro_service::keys::LOG_KEY_FILE));
        c.advertise_url = None;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        addrs.push(listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(letro_service::replica::serve(
            c,
            listener,
            async move {
                let _ = stopped.await;
            },
            |_| {},
        ));
        running_replicas.push((stop, task));
    }
    let router = service.router();
    // The recipient certifies its receipt key in the directory.
    let identity = xeddsa::TestIdentity::from_seed(RECIPIENT_SEED.wrapping_add(128));
    let upload = xeddsa::upload(RECIPIENT, RECIPIENT_SEED, &identity);
    let request = Request::builder()
        .method(Method::PUT)
        .uri(letro_api_client::paths::path(
            "put_directory_entry",
            &[RECIPIENT],
        )?)
        .header(AUTHORIZATION, format!("Bearer {}", tokens.recipient))
        .body(axum::body::Body::from(upload.to_json()))?;
    let response = rt.block_on(router.clone().oneshot(request))?;
    if response.status() != StatusCode::OK {
        bail!(
            "publishing the recipient's directory entry: {}",
            response.status()
        );
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // As letro_service::serve does it.
    let server = rt.spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        service,
        addr,
        addrs,
        replicas: running_replicas,
        stop,
        server,
        tokens,
        _dir: dir,
    })
}

impl Running {
    fn shutdown(self, rt: &Runtime) -> Result<()> {
        for (stop, task) in self.replicas {
            let _ = stop.send(());
            rt.block_on(task)??;
        }
        let _ = self.stop.send(());
        rt.block_on(async {
            self.server.await??;
            self.service.shutdown().await;
            Ok::<_, anyhow::Error>(())
        })?;
        drop(self._dir);
        Ok(())
    }
}

/// One HTTP/1.1 keep-alive connection.
struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender })
    }
}

// ---------------------------------------------------------------------------------------------
// receipts mode

#[derive(Default)]
struct WorkerOut {
    /// (completion time since the phase start, latency) per request.
    samples: Vec<(Duration, Duration)>,
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    first_error: Option<String>,
}

impl WorkerOut {
    fn record(&mut self, start: Instant, sent: Instant, status: StatusCode, body: &[u8]) {
        let now = Instant::now();
        self.samples.push((now - start, now - sent));
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        if status != StatusCode::CREATED && self.first_error.is_none() {
            self.first_error = Some(format!("{status}: {}", String::from_utf8_lossy(body)));
        }
    }
}

struct Phase {
    what: &'static str,
    variant: &'static str,
    n: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    slowest_window: Option<f64>,
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    first_error: Option<String>,
    base_rss_kib: u64,
    peak_rss_kib: u64,
    load: String,
}

impl Phase {
    fn from_workers(
        what: &'static str,
        variant: &'static str,
        n: usize,
        wall: Duration,
        outs: Vec<WorkerOut>,
        base_rss_kib: u64,
    ) -> Self {
        let mut statuses = BTreeMap::new();
        let mut samples = Vec::with_capacity(n);
        let mut transport_errors = 0;
        let mut first_error = None;
        for o in outs {
            for (s, c) in o.statuses {
                *statuses.entry(s).or_default() += c;
            }
            samples.extend(o.samples);
            transport_errors += o.transport_errors;
            first_error = first_error.or(o.first_error);
        }
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.1).collect();
        latencies.sort();
        // Throughput of the slowest whole one-second window (the last, partial one excluded).
        let whole = wall.as_secs() as usize;
        let slowest_window = (whole >= 2).then(|| {
            let mut per = vec![0usize; whole];
            for (done, _) in &samples {
                if let Some(c) = per.get_mut(done.as_secs() as usize) {
                    *c += 1;
                }
            }
            per.iter().copied().min().unwrap_or(0) as f64
        });
        Self {
            what,
            variant,
            n,
            wall,
            latencies,
            slowest_window,
            statuses,
            transport_errors,
            first_error,
            base_rss_kib,
            peak_rss_kib: rss_kib().0,
            load: loadavg(),
        }
    }

    fn created(&self) -> usize {
        self.statuses.get(&201).copied().unwrap_or(0)
    }

    fn failures(&self) -> usize {
        self.n - self.created()
    }

    fn per_sec(&self) -> f64 {
        self.n as f64 / secs(self.wall)
    }

    fn print(&self) {
        eprintln!(
            "  {:<11} {:<10} {:>6} in {:>7.3} s = {:>8.0}/s  p50 {:>7.2} ms  p90 {:>7.2}  p99 {:>7.2}  max {:>7.2}  slowest 1-s window {}  peak RSS {:.1} MiB (before {:.1})  failures {}{}  load {}",
            self.what,
            self.variant,
            self.n,
            secs(self.wall),
            self.per_sec(),
            pct_ms(&self.latencies, 50.0),
            pct_ms(&self.latencies, 90.0),
            pct_ms(&self.latencies, 99.0),
            pct_ms(&self.latencies, 100.0),
            self.slowest_window
                .map_or("-".into(), |w| format!("{w:.0}/s")),
            self.peak_rss_kib as f64 / 1024.0,
            self.base_rss_kib as f64 / 1024.0,
            self.failures(),
            if self.transport_errors > 0 {
                format!(" (transport errors {})", self.transport_errors)
            } else {
                String::new()
            },
            self.load,
        );
        if let Some(e) = &self.first_error {
            eprintln!("    first non-201 answer: {e}");
        }
    }
}

/// Sends `bodies` to `path` over `concurrency` keep-alive connections.
fn socket_phase(
    client: &Runtime,
    running: &Running,
    what: &'static str,
    path: &'static str,
    bodies: Arc<Vec<Bytes>>,
    concurrency: usize,
) -> Result<Phase> {
    let n = bodies.len();
    let token: Arc<str> = format!("Bearer {}", running.tokens.relay).into();
    let addrs = running.addrs.clone();
    client.block_on(async move {
        let mut conns = Vec::with_capacity(concurrency);
        for c in 0..concurrency {
            conns.push(Conn::open(addrs[c % addrs.len()]).await?);
        }
        reset_peak_rss();
        let base_rss = rss_kib().1;
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(concurrency);
        for mut conn in conns {
            let (bodies, next, token) = (bodies.clone(), next.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = WorkerOut::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let req = Request::post(path)
                        .header(HOST, "127.0.0.1")
                        .header(AUTHORIZATION, &*token)
                        .header(CONTENT_TYPE, "application/json")
                        .body(Full::new(body.clone()))
                        .expect("request");
                    if conn.sender.ready().await.is_err() {
                        out.transport_errors += 1;
                        break;
                    }
                    let sent = Instant::now();
                    let answer = match conn.sender.send_request(req).await {
                        Ok(resp) => {
                            let status = resp.status();
                            resp.into_body()
                                .collect()
                                .await
                                .map(|b| (status, b.to_bytes()))
                        }
                        Err(e) => Err(e),
                    };
                    match answer {
                        Ok((status, b)) => out.record(start, sent, status, &b),
                        Err(e) => {
                            out.transport_errors += 1;
                            out.first_error.get_or_insert_with(|| e.to_string());
                            break;
                        }
                    }
                }
                out
            }));
        }
        let mut outs = Vec::with_capacity(concurrency);
        for t in tasks {
            outs.push(t.await?);
        }
        let wall = start.elapsed();
        Ok(Phase::from_workers(what, "socket", n, wall, outs, base_rss))
    })
}

/// Sends `bodies` to `path` through the router, `concurrency` requests at a time, on the
/// service's runtime: the service's cost without HTTP parsing or sockets.
fn in_process_phase(
    server: &Runtime,
    running: &Running,
    what: &'static str,
    path: &'static str,
    bodies: Arc<Vec<Bytes>>,
    concurrency: usize,
) -> Result<Phase> {
    let n = bodies.len();
    let token: Arc<str> = format!("Bearer {}", running.tokens.relay).into();
    let router = running.service.router();
    reset_peak_rss();
    let base_rss = rss_kib().1;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bodies, next, token, router) =
                (bodies.clone(), next.clone(), token.clone(), router.clone());
            server.spawn(async move {
                let mut out = WorkerOut::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let req = Request::post(path)
                        .header(AUTHORIZATION, &*token)
                        .header(CONTENT_TYPE, "application/json")
                        .body(axum::body::Body::from(body.clone()))
                        .expect("request");
                    let sent = Instant::now();
                    let resp = match router.clone().oneshot(req).await {
                        Ok(r) => r,
                        Err(e) => match e {},
                    };
                    let status = resp.status();
                    match resp.into_body().collect().await {
                        Ok(b) => out.record(start, sent, status, &b.to_bytes()),
                        Err(e) => {
                            out.transport_errors += 1;
                            out.first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                out
            })
        })
        .collect();
    let outs = server.block_on(async {
        let mut outs = Vec::with_capacity(concurrency);
        for t in tasks {
            outs.push(t.await?);
        }
        Ok::<_, anyhow::Error>(outs)
    })?;
    let wall = start.elapsed();
    drop(router);
    Ok(Phase::from_workers(
        what,
        "in-process",
        n,
        wall,
        outs,
        base_rss,
    ))
}

/// The log sizes, read over HTTP.
fn log_state(client: &Runtime, running: &Running) -> Result<letro_api::bodies::LogState> {
    let api = api_client(running.addr, &running.tokens.relay)?;
    client.block_on(async move { Ok(api.log_state().await?) })
}

fn receipts_mode(args: &ReceiptsArgs) -> Result<()> {
    let ReceiptsArgs {
        n,
        concurrency,
        runs,
        server_threads,
        client_threads,
        ..
    } = *args;
    let (socket, in_process) = (!args.in_process_only, !args.socket_only);
    let postgres = args.postgres.as_deref();
    let server = runtime(server_threads, "service")?;
    let client = runtime(client_threads, "loadgen-client")?;
    let mut variants = Vec::new();
    if socket {
        variants.push("socket");
    }
    if in_process {
        variants.push("in-process");
    }
    if postgres.is_some() {
        variants.push("socket-postgres");
        if args.replicas {
            variants.push("socket-postgres-2-replicas");
        }
    }
    eprintln!(
        "receipts: n = {n} of each kind, concurrency {concurrency}, {runs} run(s), service runtime {server_threads} threads, client runtime {client_threads} thread(s)"
    );
    let mut phases: Vec<Phase> = Vec::new();
    for run in 0..runs {
        for (v, variant) in variants.iter().enumerate() {
            let tag = run * variants.len() + v;
            let t = unix_now();
            let started = Instant::now();
            let subs: Vec<Bytes> = (0..n)
                .into_par_iter()
                .map(|i| submission_body(&hash_of(tag, i), "bank"))
                .collect();
            let recs: Vec<Bytes> = sign_receipts(tag, n, t)
                .into_iter()
                .map(|r| r.body)
                .collect();
            eprintln!(
                "run {} {variant}: bodies signed in {:.2} s; {}",
                run + 1,
                secs(started.elapsed()),
                machine_note()
            );
            let database = match (*variant, postgres) {
                (v, Some(admin)) if v.starts_with("socket-postgres") => {
                    Some(Database::create(admin)?)
                }
                _ => None,
            };
            let replicas = if variant.ends_with("2-replicas") {
                2
            } else {
                1
            };
            let running = start_replicated(
                &server,
                database.as_ref().map(|d| d.url.as_str()),
                replicas,
                |_| {},
            )?;
            let (subs, recs) = (Arc::new(subs), Arc::new(recs));
            let (p_sub, p_rec) = if variant.starts_with("socket") {
                (
                    socket_phase(
                        &client,
                        &running,
                        "submissions",
                        route_path("post_submission"),
                        subs,
                        concurrency,
                    )?,
                    socket_phase(
                        &client,
                        &running,
                        "receipts",
                        route_path("post_receipt"),
                        recs,
                        concurrency,
                    )?,
                )
            } else {
                (
                    in_process_phase(
                        &server,
                        &running,
                        "submissions",
                        route_path("post_submission"),
                        subs,
                        concurrency,
                    )?,
                    in_process_phase(
                        &server,
                        &running,
                        "receipts",
                        route_path("post_receipt"),
                        recs,
                        concurrency,
                    )?,
                )
            };
            // The label of the variant, whatever path the phase took (the PostgreSQL variant
            // goes over the socket too).
            let (mut p_sub, mut p_rec) = (p_sub, p_rec);
            p_sub.variant = variant;
            p_rec.variant = variant;
            p_sub.print();
            p_rec.print();
            let state = log_state(&client, &running)?;
            eprintln!(
                "    log state after the run: {}",
                serde_json::to_string(&state)?
            );
            if state.sequenced != (p_sub.created() + p_rec.created()) as u64 {
                eprintln!("    WARNING: the log size differs from the number of 201 answers");
            }
            running.shutdown(&server)?;
            phases.push(p_sub);
            phases.push(p_rec);
        }
    }
    println!();
    println!(
        "| events | path | per second | p50 ms | p90 ms | p99 ms | max ms | slowest 1-s window | peak RSS MiB (at phase start) | failures |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for variant in &variants {
        for what in ["submissions", "receipts"] {
            let sel: Vec<&Phase> = phases
                .iter()
                .filter(|p| p.variant == *variant && p.what == what)
                .collect();
            let m = |f: &dyn Fn(&Phase) -> f64| median(sel.iter().map(|p| f(p)).collect());
            let failures: usize = sel.iter().map(|p| p.failures()).sum();
            println!(
                "| {what} | {variant} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} ({:.0}) | {} |",
                m(&|p| p.per_sec()),
                m(&|p| pct_ms(&p.latencies, 50.0)),
                m(&|p| pct_ms(&p.latencies, 90.0)),
                m(&|p| pct_ms(&p.latencies, 99.0)),
                m(&|p| pct_ms(&p.latencies, 100.0)),
                if sel.iter().all(|p| p.slowest_window.is_some()) {
                    format!("{:.0}/s", m(&|p| p.slowest_window.unwrap_or(f64::NAN)))
                } else {
                    "-".into()
                },
                m(&|p| p.peak_rss_kib as f64 / 1024.0),
                m(&|p| p.base_rss_kib as f64 / 1024.0),
                if failures == 0 {
                    "0".into()
                } else {
                    format!("**{failures}**")
                },
            );
        }
    }
    println!();
    println!(
        "n = {n} of each kind per run, {concurrency} concurrent requests, {}; every figure is the median over the runs; peak RSS is the whole process (service, load generator and the {n} pre-signed bodies of each kind). At the end: {}.",
        run_label(runs),
        machine_note()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// proofs mode

struct ProofRun {
    key: &'static str,
    label: String,
    per_sec: f64,
    wall: Duration,
    failed: usize,
}

/// K proofs with the bare prover: sequentially in the global rayon pool (both cores), or on
/// `narrow` threads each with a 1-thread pool.
fn bare_prover(
    prover: &Prover,
    examples: &[letro_core::statement::example::Example],
    narrow: Option<usize>,
    installed: bool,
) -> Result<ProofRun> {
    let start = Instant::now();
    let failed = AtomicUsize::new(0);
    let prove = |e: &letro_core::statement::example::Example| {
        let mut rng = rand::rngs::OsRng;
        if prover.prove(&e.statement, &e.witness, &mut rng).is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    };
    let label = match narrow {
        None if installed => {
            // As the service's prover does it: the whole proof inside a pool of its own.
            let threads = rayon::current_num_threads();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            pool.install(|| examples.iter().for_each(prove));
            format!("bare prover, sequential, inside a {threads}-thread pool (`install`)")
        }
        None => {
            examples.iter().for_each(prove);
            format!(
                "bare prover, sequential, global pool ({} threads)",
                rayon::current_num_threads()
            )
        }
        Some(threads) => {
            let next = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(1)
                            .build()
                            .expect("a rayon pool");
                        pool.install(|| {
                            while let Some(e) = examples.get(next.fetch_add(1, Ordering::Relaxed)) {
                                prove(e);
                            }
                        });
                    });
                }
            });
            format!("bare prover, {threads} threads with a 1-thread pool each")
        }
    };
    let wall = start.elapsed();
    Ok(ProofRun {
        key: match (narrow, installed) {
            (Some(_), _) => "bare-narrow",
            (None, true) => "bare-wide-installed",
            (None, false) => "bare-wide",
        },
        label,
        per_sec: examples.len() as f64 / secs(wall),
        wall,
        failed: failed.into_inner(),
    })
}

fn window_time(t: u64) -> String {
    rfc3339(t)
}

/// K proof jobs through the service with `provers` provers of `threads` threads.
fn service_proofs(
    server: &Runtime,
    client: &Runtime,
    run: usize,
    k: usize,
    provers: usize,
    threads: usize,
    tables: bool,
) -> Result<ProofRun> {
    let running = start_service(server, None, |c| {
        c.provers = provers;
        c.prover_threads = threads;
        c.prover_tables = tables;
        c.checkpoint_interval = Duration::from_secs(3600);
        c.max_jobs_per_sender = (k + 1) as u64;
    })?;
    let tag = 1_000_000 + run * 10 + provers;
    let outcome = timed_jobs(client, &running, k, tag);
    running.shutdown(server)?;
    let (wall, failed, warm) = outcome?;
    eprintln!(
        "  (service with {provers} prover(s) x {threads} thread(s): first job, with loading the prover, {:.2} s)",
        secs(warm)
    );
    Ok(ProofRun {
        key: if provers == 1 {
            "service-wide"
        } else {
            "service-narrow"
        },
        label: format!("service, provers = {provers}, prover_threads = {threads}"),
        per_sec: k as f64 / secs(wall),
        wall,
        failed,
    })
}

/// Logs `k + 1` deliveries, publishes, proves the first (the warm-up: loading the prover),
/// then asks for `k` proofs at once: (their wall time, how many failed, the warm-up's time).
fn timed_jobs(
    client: &Runtime,
    running: &Running,
    k: usize,
    tag: usize,
) -> Result<(Duration, usize, Duration)> {
    let t = unix_now();
    let receipts = sign_receipts(tag, k + 1, t);
    let relay = api_client(running.addr, &running.tokens.relay)?;
    let sender = relay.with_token(&running.tokens.sender);
    let state = running.service.state().clone();
    client.block_on(async move {
        for r in &receipts {
            let logged = relay.submit(&submission(&r.h, "bank")).await?;
            if !logged.fresh {
                bail!("submission: logged before");
            }
            let receipt = ReceiptJson::new(&r.h, r.t, &r.key, &r.sig)?;
            if !relay.post_receipt(&receipt).await?.fresh {
                bail!("receipt: logged before");
            }
        }
        state.publish().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let window = |r: &SignedReceipt| ProofRequest {
            ciphertext_sha256: r.h.to_hex(),
            not_before: window_time(r.t - 3600),
            not_after: window_time(r.t + 3600),
            callback_url: None,
        };
        // Warm-up: the first job loads the proving key and builds the matrices.
        let warm = Instant::now();
        let first = sender
            .request_proof(&window(&receipts[0]))
            .await?
            .job
            .job_id;
        wait_jobs(&sender, vec![first]).await?;
        let warm = warm.elapsed();
        let start = Instant::now();
        let mut ids = Vec::with_capacity(k);
        for r in &receipts[1..] {
            ids.push(sender.request_proof(&window(r)).await?.job.job_id);
        }
        let failed = wait_jobs(&sender, ids).await?;
        Ok((start.elapsed(), failed, warm))
    })
}

/// See [`Mode::Takeover`].
fn takeover_mode(admin: &str, n: usize, runs: usize) -> Result<()> {
    let server = runtime(2, "service")?;
    let client = runtime(1, "loadgen-client")?;
    let database = Database::create(admin)?;
    let keep = tempfile::tempdir()?;
    let tune = |c: &mut Config| {
        c.provers = 0;
        c.checkpoint_interval = Duration::from_secs(3600);
    };
    let running = start_service(&server, Some(&database.url), tune)?;
    let started = Instant::now();
    let subs: Vec<Bytes> = (0..n)
        .into_par_iter()
        .map(|i| submission_body(&hash_of(0, i), "bank"))
        .collect();
    let filled = socket_phase(
        &client,
        &running,
        "submissions",
        route_path("post_submission"),
        Arc::new(subs),
        64,
    )?;
    if filled.created() != n {
        bail!("filling the log: {} of {n} stored", filled.created());
    }
    server
        .block_on(running.service.publish())
        .map_err(anyhow::Error::msg)?;
    eprintln!(
        "log of {n} entries stored and published in {:.1} s",
        secs(started.elapsed())
    );
    let key = keep.path().join(letro_service::keys::LOG_KEY_FILE);
    std::fs::copy(
        running._dir.path().join(letro_service::keys::LOG_KEY_FILE),
        &key,
    )?;
    let config = |name: String, standby: bool| {
        let mut c = Config::new(keep.path().join(name), ORIGIN);
        c.database = Some(database.url.clone());
        c.log_key = Some(key.clone());
        c.standby = standby;
        tune(&mut c);
        c
    };
    let mut leader: Option<Service> = None;
    let mut first = Some(running);
    let (mut warm_times, mut cold_times) = (Vec::new(), Vec::new());
    for run in 0..runs {
        // A standby waits beside the leader, following the log.
        let handle = server.handle().clone();
        let standby_config = config(format!("warm{run}"), true);
        let standby = std::thread::spawn(move || {
            let _entered = handle.enter();
            let service = Service::start(standby_config);
            (service, Instant::now())
        });
        // Time to read and hash the whole log (about 50,000 entries/s, BENCHMARKS.md).
        std::thread::sleep(Duration::from_secs((n as u64 / 20_000).max(3)));
        let stopped = match (first.take(), leader.take()) {
            (Some(running), _) => {
                running.shutdown(&server)?;
                Instant::now()
            }
            (None, Some(service)) => {
                server.block_on(service.shutdown());
                Instant::now()
            }
            (None, None) => bail!("no leader"),
        };
        let (service, took_over) = standby
            .join()
            .map_err(|_| anyhow::anyhow!("the standby thread panicked"))?;
        let service = service?;
        let warm = took_over.saturating_duration_since(stopped);
        // A service started after the leader stopped rebuilds the tree from every leaf.
        server.block_on(service.shutdown());
        let stopped = Instant::now();
        let service = {
            let _entered = server.enter();
            Service::start(config(format!("cold{run}"), false))?
        };
        let cold = stopped.elapsed();
        eprintln!(
            "run {}: standby took over {:.0} ms after the leader stopped; a cold start took {:.0} ms; {}",
            run + 1,
            warm.as_secs_f64() * 1e3,
            cold.as_secs_f64() * 1e3,
            machine_note()
        );
        warm_times.push(warm.as_secs_f64() * 1e3);
        cold_times.push(cold.as_secs_f64() * 1e3);
        leader = Some(service);
    }
    if let Some(service) = leader {
        server.block_on(service.shutdown());
    }
    println!();
    println!(
        "| log entries | waiting standby takes over | service started after the stop | ratio |"
    );
    println!("|---|---|---|---|");
    let (w, c) = (median(warm_times), median(cold_times));
    println!(
        "| {n} | {w:.0} ms | {c:.0} ms | {:.1}x |",
        c / w.max(f64::MIN_POSITIVE)
    );
    println!();
    println!(
        "median of {runs} run(s); from the leader's stop (its lock released) to the new leader's \
         start returned (log loaded and checked); at the end: {}.",
        machine_note()
    );
    drop(database);
    Ok(())
}

/// `k` proof jobs of a service on PostgreSQL with no provers of its own, proved by `count`
/// `letro prover-worker` processes.
fn worker_proofs(
    server: &Runtime,
    client: &Runtime,
    run: usize,
    k: usize,
    count: usize,
    admin: &str,
    letro: &std::path::Path,
) -> Result<ProofRun> {
    let database = Database::create(admin)?;
    let running = start_service(server, Some(&database.url), |c| {
        c.provers = 0;
        c.checkpoint_interval = Duration::from_secs(3600);
        c.max_jobs_per_sender = (k + 1) as u64;
    })?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = (cores / count).max(1);
    let mut workers = Vec::with_capacity(count);
    for n in 0..count {
        workers.push(
            std::process::Command::new(letro)
                .args([
                    "prover-worker",
                    "--database",
                    &database.url,
                    "--log-vkey",
                    running.service.log_vkey(),
                    "--prover-threads",
                    &threads.to_string(),
                    "--name",
                    &format!("loadgen-{n}"),
                ])
                .stderr(std::process::Stdio::null())
                .spawn()?,
        );
    }
    let outcome = timed_jobs(client, &running, k, 2_000_000 + run * 10 + count);
    for mut w in workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    running.shutdown(server)?;
    let (wall, failed, warm) = outcome?;
    eprintln!(
        "  ({count} worker process(es) x {threads} thread(s): first job, with starting and loading, {:.2} s)",
        secs(warm)
    );
    Ok(ProofRun {
        key: "workers",
        label: format!("PostgreSQL, {count} prover-worker process(es) x {threads} thread(s)"),
        per_sec: k as f64 / secs(wall),
        wall,
        failed,
    })
}

/// Waits until each job is done or failed; returns the number failed. Polls the oldest
/// unfinished job only (jobs finish about in order), every 20 ms, so that polling costs the
/// service a few requests per second, not one per job per poll.
async fn wait_jobs(sender: &letro_api_client::Client, ids: Vec<String>) -> Result<usize> {
    let mut failed = 0;
    for id in ids {
        loop {
            match sender.proof_job(&id).await?.state {
                JobState::Done => break,
                JobState::Failed => {
                    failed += 1;
                    break;
                }
                JobState::Queued | JobState::Running => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
            }
        }
    }
    Ok(failed)
}

fn workers_mode(
    admin: &str,
    letro: &std::path::Path,
    k: usize,
    counts: &[usize],
    runs: usize,
) -> Result<()> {
    let server = runtime(2, "service")?;
    let client = runtime(1, "loadgen-client")?;
    let mut per_count: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        eprintln!("run {}: {}", run + 1, machine_note());
        for &count in counts {
            let r = worker_proofs(&server, &client, run, k, count, admin, letro)?;
            eprintln!(
                "  {:<60} {k} proofs in {:>6.2} s = {:.3}/s{}",
                r.label,
                secs(r.wall),
                r.per_sec,
                if r.failed > 0 {
                    format!("  FAILED {}", r.failed)
                } else {
                    String::new()
                }
            );
            if r.failed > 0 {
                bail!("{} proof jobs failed", r.failed);
            }
            per_count.entry(count).or_default().push(r.per_sec);
        }
    }
    println!("| worker processes | proofs/s (median of {runs}) | ratio to 1 |");
    println!("|---|---|---|");
    let one = per_count.get(&1).map(|v| median(v.clone()));
    for (count, rates) in &per_count {
        let m = median(rates.clone());
        let ratio = one.map_or(String::from("-"), |o| format!("{:.2}x", m / o));
        println!("| {count} | {m:.3} | {ratio} |");
    }
    Ok(())
}

fn proofs_mode(k: usize, runs: usize, tables: bool) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let server = runtime(cores, "service")?;
    let client = runtime(1, "loadgen-client")?;
    let loaded = Instant::now();
    let (_, pk) = letro_prover::embedded::proving_key()?;
    // With the fixed-base tables, as the service's prover, unless `--no-tables`.
    let prover = Prover::new(pk)?;
    let prover = if tables {
        prover.with_tables(letro_prover::msm::fixed::Widths::DEFAULT)
    } else {
        prover
    };
    eprintln!(
        "bare prover loaded in {:.2} s (tables {:.1} MB); {} constraints",
        secs(loaded.elapsed()),
        prover.tables_size_bytes() as f64 / 1e6,
        prover.num_constraints()
    );
    let t = unix_now();
    let examples: Vec<_> = (0..k)
        .map(|i| {
            letro_core::statement::example::build(
                format!("loadgen proof {i}").as_bytes(),
                t,
                seed_of(99, i),
                ark_bn254::Fr::from(1_000 + i as u64),
                10,
            )
        })
        .collect();
    // Warm-up, like the service's first job.
    bare_prover(&prover, &examples[..1], None, false)?;
    let mut all: Vec<ProofRun> = Vec::new();
    for run in 0..runs {
        eprintln!("run {}: {}", run + 1, machine_note());
        // Each service configuration right after its bare counterpart, so that a pair sees
        // about the same machine.
        let results = [
            bare_prover(&prover, &examples, None, false)?,
            bare_prover(&prover, &examples, None, true)?,
            service_proofs(&server, &client, run, k, 1, cores, tables)?,
            bare_prover(&prover, &examples, Some(cores), false)?,
            service_proofs(&server, &client, run, k, cores, 1, tables)?,
        ];
        for r in &results {
            eprintln!(
                "  {:<60} {k} proofs in {:>6.2} s = {:.3}/s ({:.0} ms per proof){}",
                r.label,
                secs(r.wall),
                r.per_sec,
                1e3 / r.per_sec,
                if r.failed > 0 {
                    format!("  FAILED {}", r.failed)
                } else {
                    String::new()
                }
            );
        }
        all.extend(results);
    }
    let med = |key: &str| {
        let sel: Vec<&ProofRun> = all.iter().filter(|r| r.key == key).collect();
        (
            median(sel.iter().map(|r| r.per_sec).collect()),
            sel.iter().map(|r| r.failed).sum::<usize>(),
            sel.first().map(|r| r.label.clone()).unwrap_or_default(),
        )
    };
    // Service / bare ratio of each run (the pair measured one after the other), then their
    // median: a ratio measured in one run, not a ratio of medians.
    let ratios = |svc: &str, bare: &str| {
        let s = all.iter().filter(|r| r.key == svc).map(|r| r.per_sec);
        let b = all.iter().filter(|r| r.key == bare).map(|r| r.per_sec);
        let per_run: Vec<f64> = s.zip(b).map(|(s, b)| s / b).collect();
        let list = per_run
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", ");
        (median(per_run), list)
    };
    println!();
    println!(
        "| configuration | proofs/s | ms per proof | service / bare (median of the per-run ratios) | failures |"
    );
    println!("|---|---|---|---|---|");
    let mut worst = f64::INFINITY;
    for (key, bare) in [
        ("bare-wide", None),
        ("bare-wide-installed", None),
        ("service-wide", Some("bare-wide")),
        ("bare-narrow", None),
        ("service-narrow", Some("bare-narrow")),
    ] {
        let (per_sec, failed, label) = med(key);
        let vs = match bare {
            None => "-".to_owned(),
            Some(b) => {
                let (m, list) = ratios(key, b);
                worst = worst.min(m);
                let mut vs = format!("**{m:.3}** (runs: {list})");
                if key == "service-wide" {
                    let (m, list) = ratios(key, "bare-wide-installed");
                    vs.push_str(&format!(
                        "; vs the bare prover inside a pool: {m:.3} (runs: {list})"
                    ));
                }
                vs
            }
        };
        println!(
            "| {label} | {per_sec:.3} | {:.0} | {vs} | {failed} |",
            1e3 / per_sec
        );
    }
    println!();
    println!(
        "K = {k} proofs per measurement, {}; goal (service within 10 % of the bare prover): {}. At the end: {}.",
        run_label(runs),
        if worst >= 0.9 { "met" } else { "not met" },
        machine_note()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// profile mode

/// The handler's parsing steps after the JSON: hash, time, four field elements, `S`, the key
/// and signature checks for form (on the curve, not small order).
fn parse_fields(b: &ReceiptJson) -> Result<(CiphertextHash, u64, PublicKey, Signature)> {
    let h = CiphertextHash::from_hex(&b.ciphertext_sha256)?;
    let t = time::OffsetDateTime::parse(
        &b.delivered_at,
        &time::format_description::well_known::Rfc3339,
    )?;
    let t = u64::try_from(t.unix_timestamp())?;
    let key = PublicKey::from_coords(
        fr_from_decimal(&b.receipt_key.x)?,
        fr_from_decimal(&b.receipt_key.y)?,
    )?;
    let s = parse_decimal(&b.signature.s)?.to_bytes_be();
    let mut s_be = [0u8; 32];
    for (o, v) in s_be.iter_mut().rev().zip(s.iter().rev()) {
        *o = *v;
    }
    let sig = Signature::from_parts(
        fr_from_decimal(&b.signature.r8.x)?,
        fr_from_decimal(&b.signature.r8.y)?,
        &s_be,
    )?;
    Ok((h, t, key, sig))
}

fn time_each<T>(items: &[T], mut f: impl FnMut(&T)) -> f64 {
    let start = Instant::now();
    for x in items {
        f(x);
    }
    secs(start.elapsed()) * 1e6 / items.len() as f64
}

fn delivered_event(r: &SignedReceipt, certificate: &CertificateObject) -> StoredEvent {
    StoredEvent::Delivered {
        ciphertext_sha256: r.h.to_hex(),
        delivered_at: r.t,
        receipt_key: PointJson::from(r.key.point()),
        signature: SignatureJson::from(&r.sig),
        receipt_key_certificate: Some(certificate.clone()),
    }
}

fn profile_mode(n: usize, concurrency: usize) -> Result<()> {
    let t = unix_now();
    let receipts = sign_receipts(0, n, t);
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |what: &str, value: String| {
        eprintln!("  {what:<72} {value}");
        rows.push((what.to_owned(), value));
    };

    // 1. Parsing.
    let us = time_each(&receipts, |r| {
        let _: ReceiptJson = serde_json::from_slice(&r.body).expect("json");
    });
    row("JSON body to struct (serde_json)", format!("{us:.1} µs"));
    let parsed: Vec<ReceiptJson> = receipts
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    let us = time_each(&parsed, |b| {
        parse_fields(b).expect("parses");
    });
    row(
        "field parsing (hex, RFC 3339, 5 decimals, key and R8 on the curve)",
        format!("{us:.1} µs"),
    );

    // 2. The receipt check and the leaf.
    let us = time_each(&receipts, |r| {
        assert!(letro_core::babyjubjub::is_in_prime_subgroup(r.key.point()));
    });
    row(
        "is_in_prime_subgroup(A) (part of check_receipt)",
        format!("{us:.1} µs"),
    );
    let us = time_each(&receipts, |r| {
        r.key
            .verify(&receipt_message(&r.h, r.t), &r.sig)
            .expect("valid");
    });
    row(
        "receipt_message + PublicKey::verify (part of check_receipt)",
        format!("{us:.1} µs"),
    );
    let chunks: Vec<&[SignedReceipt]> = receipts.chunks(64).collect();
    let us = time_each(&chunks, |c| {
        let items: Vec<(PublicKey, ark_bn254::Fr, Signature)> = c
            .iter()
            .map(|r| (r.key, receipt_message(&r.h, r.t), r.sig))
            .collect();
        letro_core::eddsa::verify_batch(&items, &mut rand::rngs::OsRng).expect("valid");
    }) / 64.0;
    row(
        "receipt_message + eddsa::verify_batch in batches of 64, per receipt",
        format!("{us:.1} µs"),
    );
    // core's faster subgroup test (`eddsa::r8_in_subgroup`, private, used by `verify_batch`)
    // is a reduced Tate pairing: about one exponentiation in the base field, like a Legendre
    // symbol.
    let xs: Vec<ark_bn254::Fr> = receipts.iter().map(|r| r.key.point().x).collect();
    let us = time_each(&xs, |x| {
        std::hint::black_box(ark_ff::Field::legendre(x));
    });
    row(
        "one base-field exponentiation (Legendre symbol of A.x), for comparison",
        format!("{us:.1} µs"),
    );
    let mut events: Vec<Event> = Vec::with_capacity(n);
    let us = time_each(&receipts, |r| {
        events.push(
            check_receipt(&r.h, r.t, &r.key, &r.sig, t, 300, EventSecret::fresh().fr())
                .expect("valid"),
        );
    });
    row("check_receipt, one thread", format!("{us:.1} µs"));
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let start = Instant::now();
    one.install(|| {
        receipts.par_iter().for_each(|r| {
            check_receipt(&r.h, r.t, &r.key, &r.sig, t, 300, EventSecret::fresh().fr())
                .expect("valid");
        })
    });
    let rate = n as f64 / secs(start.elapsed());
    row(
        "check_receipt on 1 thread (rayon): receipts/s",
        format!("{rate:.0}/s"),
    );
    let start = Instant::now();
    receipts.par_iter().for_each(|r| {
        check_receipt(&r.h, r.t, &r.key, &r.sig, t, 300, EventSecret::fresh().fr()).expect("valid");
    });
    let rate = n as f64 / secs(start.elapsed());
    row(
        &format!(
            "check_receipt on {} threads (rayon): receipts/s",
            rayon::current_num_threads()
        ),
        format!("{rate:.0}/s"),
    );
    let mut leaves = Vec::with_capacity(n);
    let us = time_each(&events, |e| leaves.push(e.leaf()));
    row(
        "Event::leaf (Poseidon of the delivered leaf)",
        format!("{us:.1} µs"),
    );
    let certificate = xeddsa::TestIdentity::from_seed(RECIPIENT_SEED.wrapping_add(128))
        .certify(receipts[0].key.point());
    let stored: Vec<StoredEvent> = receipts
        .iter()
        .map(|r| delivered_event(r, &certificate))
        .collect();
    let us = time_each(&stored, |e| {
        serde_json::to_string(e).expect("json");
    });
    row(
        "StoredEvent to JSON (done in the commit)",
        format!("{us:.1} µs"),
    );

    // 3. SQLite: one transaction per batch, synchronous=FULL, WAL.
    for batch in [1usize, 8, 64, 512] {
        let dir = tempfile::tempdir()?;
        let mut store = SqliteStore::open(dir.path())?;
        let entries: Vec<NewEntry> = receipts
            .iter()
            .zip(&stored)
            .zip(&leaves)
            .enumerate()
            .map(|(i, ((r, e), leaf))| NewEntry {
                index: i as u64,
                ciphertext_hash: r.h.0,
                leaf: letro_core::field::fr_to_be_bytes(leaf),
                event: e.clone(),
                event_secret: EventSecret::fresh(),
                logged_at: 1_764_201_600,
            })
            .collect();
        let take = entries.len().min(if batch == 1 { 500 } else { n });
        let start = Instant::now();
        let mut commits = 0usize;
        for chunk in entries[..take].chunks(batch) {
            store.append(chunk)?;
            commits += 1;
        }
        let wall = start.elapsed();
        row(
            &format!("SQLite append, batches of {batch}: per commit / per entry"),
            format!(
                "{:.2} ms / {:.1} µs",
                secs(wall) * 1e3 / commits as f64,
                secs(wall) * 1e6 / take as f64
            ),
        );
        if batch == 512 {
            let us = time_each(&receipts[..take], |r| {
                store.find_receipt(&r.h.0).expect("lookup");
            });
            row(
                "store.find_receipt (the writer's per-event lookup), found",
                format!("{us:.1} µs"),
            );
            let other: Vec<CiphertextHash> = (0..take).map(|i| hash_of(77, i)).collect();
            let us = time_each(&other, |h| {
                store.find_receipt(&h.0).expect("lookup");
            });
            row(
                "store.find_receipt, not found (the case of a new receipt)",
                format!("{us:.1} µs"),
            );
        }
    }

    // 4. The tree: sequence and integrate in batches of `concurrency`.
    let mut log = DeliveryLog::new();
    let start = Instant::now();
    for chunk in leaves.chunks(concurrency.max(1)) {
        for l in chunk {
            log.sequence(*l)?;
        }
        log.integrate()?;
    }
    row(
        &format!("DeliveryLog sequence + integrate, batches of {concurrency}: per leaf"),
        format!("{:.1} µs", secs(start.elapsed()) * 1e6 / n as f64),
    );

    // 5. The log writer alone (store lookups, commit, tree), fed by `concurrency` tasks.
    let dir = tempfile::tempdir()?;
    let view = Arc::new(RwLock::new(LogView {
        log: DeliveryLog::new(),
        checkpoint: None,
    }));
    let writer = Writer {
        store: SqliteStore::open(dir.path())?,
        view,
        key: letro_log::note::SignerKey::from_seed(ORIGIN, &[1; 32])?,
        origin: ORIGIN.into(),
        now: unix_now,
        receipt_skew: 300,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(letro_service::writer::MAX_BATCH * 2);
    let thread = std::thread::spawn(move || writer.run(rx));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let items: Arc<Vec<([u8; 32], ark_bn254::Fr, StoredEvent)>> = Arc::new(
        receipts
            .iter()
            .zip(&leaves)
            .zip(&stored)
            .map(|((r, l), e)| (r.h.0, *l, e.clone()))
            .collect(),
    );
    let (wall, ok) = rt.block_on(async {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (tx, next, items) = (tx.clone(), next.clone(), items.clone());
                tokio::spawn(async move {
                    let mut ok = 0usize;
                    while let Some((h, leaf, event)) =
                        items.get(next.fetch_add(1, Ordering::Relaxed)).cloned()
                    {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        if tx
                            .send(Command::Append {
                                ciphertext_hash: h,
                                leaf,
                                event,
                                event_secret: EventSecret::fresh(),
                                reply,
                            })
                            .await
                            .is_err()
                        {
                            break;
                        }
                        if matches!(answer.await, Ok(Ok(a)) if a.fresh) {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap_or(0);
        }
        (start.elapsed(), ok)
    });
    drop(tx);
    let _ = thread.join();
    row(
        &format!("log writer alone ({concurrency} appends in flight): appends/s ({ok} stored)"),
        format!("{:.0}/s", n as f64 / secs(wall)),
    );

    println!();
    println!("At the end: {}.", machine_note());
    println!();
    println!("| step (n = {n} receipts) | time |");
    println!("|---|---|");
    for (what, value) in rows {
        println!("| {what} | {value} |");
    }
    Ok(())
}

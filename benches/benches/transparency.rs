//! The log in the transparency ecosystem (figures in BENCHMARKS.md):
//!
//! - `publication/witnesses/{0,1,3}`: one publication round of a service holding one new event:
//!   sign the checkpoint, send it with its consistency proof to every `letro witness` (each on
//!   its own loopback socket, in process), wait for the quorum (all of them), verify and attach
//!   the cosignatures, store and publish. 0 witnesses is the baseline.
//! - `tiles/http/*`: one tile fetched from a running service over loopback HTTP (reqwest, one
//!   keep-alive connection), a full level-0 hash tile and a full entry bundle; and
//!   `tiles/make/*`: the same tiles made in memory (`DeliveryLog::tile`), without HTTP.
//! - `monitor/*`: `letro monitor` over a tiles directory of 65,536 entries from an empty state
//!   (`check_from_empty`: read every bundle, recompute both roots, store) and reopening a state of
//!   65,536 entries (`reopen`: read the entries, rebuild both trees, recheck both roots).
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use letro_core::field::fr_from_u128;
use letro_core::log::DeliveryLog;
use letro_log::checkpoint::SignedCheckpoint;
use letro_log::note::SignerKey;
use letro_log::tiles::{tiles_between, TileKind, TilePath};
use letro_log::witness::FollowedLog;
use letro_service::auth::{issue_token, Role};
use letro_service::monitor::{Monitor, Source};
use letro_service::store::SqliteStore;
use letro_service::witness::{Witness, WitnessConfig};
use letro_service::witnessing::WitnessTarget;
use letro_service::{keys, server, unix_now, Config, Service};
use tokio::runtime::Runtime;

const ORIGIN: &str = "bench.invalid/letro-log";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn relay_token(dir: &Path) -> String {
    let mut store = SqliteStore::open(dir).unwrap();
    issue_token(&mut store, Role::Relay, "relay", unix_now() + 3600, "bench")
        .unwrap()
        .0
}

/// A `letro witness` for the log in `log_dir` on a loopback socket; its URL and key.
async fn witness(dir: &Path, log_dir: &Path, i: usize) -> WitnessTarget {
    let config = WitnessConfig {
        name: format!("witness.bench/w{i}"),
        data: dir.to_path_buf(),
        listen: ([127, 0, 0, 1], 0).into(),
        logs: vec![FollowedLog {
            origin: ORIGIN.into(),
            keys: vec![keys::load_or_create(log_dir, ORIGIN)
                .unwrap()
                .verifier_key()],
        }],
    };
    let w = Arc::new(Witness::open(&config).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let key = w.cosigner_key();
    tokio::spawn(server::run(
        listener,
        w.router(),
        server::Limits::default(),
        std::future::pending(),
    ));
    WitnessTarget { key, url }
}

async fn submit(client: &reqwest::Client, base: &str, token: &str, n: u64) {
    let body = serde_json::json!({
        "ciphertext_sha256": letro_core::statement::CiphertextHash::of(&n.to_be_bytes()).to_hex(),
        "sender": "bank",
        "routing": "bob",
    });
    let resp = client
        .post(format!("{base}/v1/submissions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// A running service and what a benchmark needs of it.
struct Running {
    service: Service,
    base: String,
    token: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops the HTTP server (its router holds the log writer open), then the service.
    async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        self.service.shutdown().await;
    }
}

/// A service with `witnesses` witnesses (quorum: all), serving HTTP on loopback.
async fn service(dir: &Path, witnesses: usize) -> Running {
    let token = relay_token(dir);
    // The log key first, so that the witnesses can follow it.
    keys::load_or_create(dir, ORIGIN).unwrap();
    let mut targets = Vec::new();
    for i in 0..witnesses {
        let wdir = dir.join(format!("w{i}"));
        std::fs::create_dir_all(&wdir).unwrap();
        targets.push(witness(&wdir, dir, i).await);
    }
    let mut cfg = Config::new(dir, ORIGIN);
    cfg.provers = 0;
    cfg.checkpoint_interval = Duration::from_secs(3600);
    cfg.witness_quorum = targets.len();
    cfg.witnesses = targets;
    let service = Service::start(cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = service.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    Running {
        service,
        base,
        token,
        server,
    }
}

fn publication(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut g = c.benchmark_group("publication");
    g.sample_size(30);
    for witnesses in [0usize, 1, 3] {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let running = rt.block_on(service(dir.path(), witnesses));
        let (base, token) = (running.base.clone(), running.token.clone());
        let client = reqwest::Client::new();
        let mut n = 0u64;
        g.bench_with_input(
            BenchmarkId::new("witnesses", witnesses),
            &witnesses,
            |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        rt.block_on(submit(&client, &base, &token, n));
                        n += 1;
                        let start = Instant::now();
                        rt.block_on(running.service.publish()).unwrap();
                        total += start.elapsed();
                    }
                    total
                });
            },
        );
        rt.block_on(running.stop());
    }
    g.finish();
}

/// A log of `n` entries.
fn log_of(n: u64) -> DeliveryLog {
    let leaves: Vec<_> = (0..n)
        .map(|i| fr_from_u128(u128::from(i) * 7 + 1))
        .collect();
    DeliveryLog::restore(&leaves, n).unwrap()
}

fn tiles(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut g = c.benchmark_group("tiles");
    // In memory.
    let log = log_of(65_536);
    for kind in [TileKind::Hashes(0), TileKind::Entries] {
        let name = if kind == TileKind::Entries {
            "entries"
        } else {
            "level0"
        };
        let path = TilePath::full(kind, 100);
        g.bench_function(BenchmarkId::new("make", name), |b| {
            b.iter(|| log.tile(&path, 65_536).unwrap())
        });
    }
    // Over HTTP from a running service holding 2,048 published entries.
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let running = rt.block_on(service(dir.path(), 0));
    let (base, token) = (running.base.clone(), running.token.clone());
    let client = reqwest::Client::new();
    rt.block_on(async {
        for n in 0..2048 {
            submit(&client, &base, &token, n).await;
        }
        running.service.publish().await.unwrap();
    });
    for kind in [TileKind::Hashes(0), TileKind::Entries] {
        let name = if kind == TileKind::Entries {
            "entries"
        } else {
            "level0"
        };
        let mut i = 0u64;
        g.bench_function(BenchmarkId::new("http", name), |b| {
            b.iter(|| {
                let path = TilePath::full(kind, i % 8);
                i += 1;
                rt.block_on(async {
                    let resp = client
                        .get(format!("{base}/v1/log/{path}"))
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success());
                    resp.bytes().await.unwrap()
                })
            })
        });
    }
    rt.block_on(running.stop());
    g.finish();
}

fn monitor(c: &mut Criterion) {
    const N: u64 = 65_536;
    let mut g = c.benchmark_group("monitor");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("tiles");
    let log = log_of(N);
    let key = SignerKey::from_seed(ORIGIN, &[5; 32]).unwrap();
    let text = SignedCheckpoint::sign(&log.checkpoint(ORIGIN, 1_767_225_600), &key).unwrap();
    for path in tiles_between(0, N) {
        let file = served.join(path.to_string());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, log.tile(&path, N).unwrap()).unwrap();
    }
    std::fs::write(served.join("checkpoint"), &text).unwrap();
    let source = Source::new(served.to_str().unwrap(), Duration::from_secs(5)).unwrap();
    let rt = runtime();
    let state = tmp.path().join("state");
    g.bench_function("check_from_empty", |b| {
        b.iter(|| {
            std::fs::remove_dir_all(&state).ok();
            let mut m = Monitor::open(&state, key.verifier_key(), None).unwrap();
            rt.block_on(m.check(&source)).unwrap()
        })
    });
    g.bench_function("reopen", |b| {
        b.iter(|| {
            Monitor::open(&state, key.verifier_key(), None)
                .unwrap()
                .size()
        })
    });
    g.finish();
}

criterion_group!(benches, publication, tiles, monitor);
criterion_main!(benches);

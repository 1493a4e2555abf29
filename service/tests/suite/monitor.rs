//! `letro monitor` (letro-service's monitor) and the tiles it reads.
//!
//! - An honest service: its tiles over HTTP and in its tiles directory are the same bytes, and
//!   the monitor, following either, verifies every checkpoint and recomputes both roots.
//! - A log that misbehaves (a rollback, a fork at the same or a larger size, a wrong
//!   `poseidon-root` line, a bad signature, a tampered or missing tile, a missing witness
//!   quorum): the monitor refuses it, stores nothing new and writes the evidence; where a
//!   witness can see it (a rollback, a fork, a bad signature), the witness refuses it too.

use std::path::Path;

use crate::common::*;
use letro_core::field::{fr_from_u128, fr_to_be_bytes};
use letro_core::log::DeliveryLog;
use letro_core::Fr;
use letro_log::checkpoint::{poseidon_root_extension, Checkpoint, SignedCheckpoint};
use letro_log::cosignature::CosignerSigner;
use letro_log::note::SignerKey;
use letro_log::policy::Policy;
use letro_log::tiles::tiles_between;
use letro_log::witness::{decide, AddCheckpoint, FollowedLog, Latest, Refusal};
use letro_service::keys;
use letro_service::monitor::{Misbehaviour, Monitor, MonitorError, Source};
use letro_service::Service;

const LOG: &str = "example.invalid/monitored";

fn leaves(n: u64, salt: u128) -> Vec<Fr> {
    (0..n)
        .map(|i| fr_from_u128(u128::from(i) * 1_000_003 + salt))
        .collect()
}

fn log_of(leaves: &[Fr]) -> DeliveryLog {
    DeliveryLog::restore(leaves, leaves.len() as u64).unwrap()
}

fn signer() -> SignerKey {
    SignerKey::from_seed(LOG, &[7; 32]).unwrap()
}

fn sign(c: &Checkpoint, key: &SignerKey) -> String {
    SignedCheckpoint::sign(c, key).unwrap()
}

/// Writes `log`'s tiles for size `log.len()` and `checkpoint` into `dir` (as a log would).
fn serve_dir(dir: &Path, log: &DeliveryLog, checkpoint: &str) {
    let size = log.integrated_size();
    for path in tiles_between(0, size) {
        let file = dir.join(path.to_string());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, log.tile(&path, size).unwrap()).unwrap();
    }
    std::fs::write(dir.join("checkpoint"), checkpoint).unwrap();
}

/// A directory serving the honest log of `n` entries; returns it and the checkpoint text.
fn honest(dir: &Path, n: u64) -> (DeliveryLog, String) {
    let log = log_of(&leaves(n, 0));
    let text = sign(&log.checkpoint(LOG, 1_767_225_600 + n), &signer());
    std::fs::remove_dir_all(dir).ok();
    std::fs::create_dir_all(dir).unwrap();
    serve_dir(dir, &log, &text);
    (log, text)
}

fn source(dir: &Path) -> Source {
    Source::new(dir.to_str().unwrap(), std::time::Duration::from_secs(5)).unwrap()
}

async fn caught(m: &mut Monitor, dir: &Path) -> Misbehaviour {
    let before = m.size();
    match m.check(&source(dir)).await {
        Err(MonitorError::Misbehaviour { what, evidence }) => {
            let evidence = evidence.expect("evidence written");
            assert!(std::fs::read_to_string(evidence)
                .unwrap()
                .contains(&what.to_string()));
            assert_eq!(m.size(), before, "nothing new stored");
            what
        }
        other => panic!("not caught: {other:?}"),
    }
}

/// The witness's decision on `text`, having cosigned `latest` before.
fn witness_says(
    text: &str,
    old: u64,
    proof: &[[u8; 32]],
    latest: Latest,
) -> Result<Latest, Refusal> {
    let body = letro_log::witness::request_body(old, proof, text);
    let request = AddCheckpoint::parse(body.as_bytes()).unwrap();
    let logs = [FollowedLog {
        origin: LOG.into(),
        keys: vec![signer().verifier_key()],
    }];
    decide(&request, &logs, Some(latest))
}

#[tokio::test]
async fn the_monitor_catches_every_kind_of_misbehaviour() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let state = tmp.path().join("state");
    let mut m = Monitor::open(&state, signer().verifier_key(), None).unwrap();

    // Honest growth: 300, then 700 entries (full and partial tiles, two levels).
    honest(&served, 300);
    let u = m.check(&source(&served)).await.unwrap();
    assert_eq!((u.old_size, u.new_size, u.rfc6962_checked), (0, 300, true));
    let (log700, text700) = honest(&served, 700);
    let u = m.check(&source(&served)).await.unwrap();
    assert_eq!((u.old_size, u.new_size), (300, 700));
    // The same checkpoint again: nothing new, still fine.
    assert_eq!(m.check(&source(&served)).await.unwrap().new_size, 700);
    // The state survives a restart.
    drop(m);
    let mut m = Monitor::open(&state, signer().verifier_key(), None).unwrap();
    assert_eq!(m.size(), 700);
    let latest = Latest {
        size: 700,
        root: log700.rfc6962().root(),
    };

    // An older checkpoint of the same tree (a cache behind the log): stale, not evidence;
    // nothing is stored and no evidence is written.
    let (_, text600) = honest(&served, 600);
    assert!(matches!(
        m.check(&source(&served)).await,
        Err(MonitorError::Fetch { .. })
    ));
    assert_eq!(m.size(), 700);
    assert!(witness_says(&text600, 700, &[], latest).is_err());
    // A rollback: a signed checkpoint for 600 entries that are not the first 600 seen.
    let rolled = log_of(&leaves(600, 1));
    let rolled_text = sign(&rolled.checkpoint(LOG, 1_767_300_000), &signer());
    std::fs::remove_dir_all(&served).unwrap();
    serve_dir(&served, &rolled, &rolled_text);
    assert_eq!(
        caught(&mut m, &served).await,
        Misbehaviour::Rollback { old: 700, new: 600 }
    );
    assert!(witness_says(&rolled_text, 700, &[], latest).is_err());

    // A fork at a larger size: entry 5 rewritten, 800 entries, validly signed.
    let mut forked = leaves(800, 0);
    forked[5] = fr_from_u128(5);
    let fork_log = log_of(&forked);
    let fork_text = sign(&fork_log.checkpoint(LOG, 1_767_300_000), &signer());
    std::fs::remove_dir_all(&served).unwrap();
    serve_dir(&served, &fork_log, &fork_text);
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::Fork(_)
    ));
    // The forked log cannot give the witness a consistency proof from 700 that holds.
    let proof = fork_log.rfc6962().consistency_proof(700, 800).unwrap();
    assert!(matches!(
        witness_says(&fork_text, 700, &proof, latest),
        Err(Refusal::Inconsistent(_))
    ));

    // A fork at the same size: another tree of 700 entries.
    let mut other = leaves(700, 0);
    other[699] = fr_from_u128(1);
    let other_log = log_of(&other);
    let other_text = sign(&other_log.checkpoint(LOG, 1_767_300_000), &signer());
    std::fs::remove_dir_all(&served).unwrap();
    serve_dir(&served, &other_log, &other_text);
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::Fork(_)
    ));
    assert!(witness_says(&other_text, 700, &[], latest).is_err());

    // A wrong poseidon-root line over the honest entries of 900: the RFC 6962 root matches.
    let (log900, _) = honest(&served, 900);
    let mut wrong = log900.checkpoint(LOG, 1_767_300_000);
    wrong.extensions = vec![poseidon_root_extension(&fr_to_be_bytes(&fr_from_u128(42)))];
    std::fs::write(served.join("checkpoint"), sign(&wrong, &signer())).unwrap();
    assert_eq!(
        caught(&mut m, &served).await,
        Misbehaviour::PoseidonRoot { size: 900 }
    );

    // A bad signature: the right origin, another key.
    let impostor = SignerKey::from_seed(LOG, &[8; 32]).unwrap();
    let forged = sign(&log900.checkpoint(LOG, 1_767_300_000), &impostor);
    std::fs::write(served.join("checkpoint"), &forged).unwrap();
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::BadSignature(_)
    ));
    let proof = log900.rfc6962().consistency_proof(700, 900).unwrap();
    assert!(matches!(
        witness_says(&forged, 700, &proof, latest),
        Err(Refusal::NotSigned(_))
    ));

    // A tampered entry bundle under the honest checkpoint.
    let (_, text900) = honest(&served, 900);
    let bundle = served.join("tile/entries/003.p/132");
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::Fork(_)
    ));
    // A bundle with an entry of the wrong length.
    std::fs::write(&bundle, [0u8, 1, 9]).unwrap();
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::BadTile { .. }
    ));
    // A missing one.
    std::fs::remove_file(&bundle).unwrap();
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::MissingTile(_)
    ));

    // After all that, the honest log is still followed from where it was.
    honest(&served, 900);
    assert_eq!(m.check(&source(&served)).await.unwrap().old_size, 700);
    assert_eq!(m.size(), 900);
    let _ = (text700, text900);

    // A witness policy: a checkpoint without the quorum is caught; with it, accepted.
    let witness = CosignerSigner::from_seed("witness.example/w1", &[9; 32]).unwrap();
    let policy_text = format!(
        "log {}\nwitness w1 {}\nquorum w1\n",
        signer().verifier_key(),
        witness.cosigner_key()
    );
    let policy = Policy::parse(policy_text.as_bytes()).unwrap();
    drop(m);
    let mut m = Monitor::open(&state, signer().verifier_key(), Some(policy)).unwrap();
    let (log1000, text1000) = honest(&served, 1000);
    assert!(matches!(
        caught(&mut m, &served).await,
        Misbehaviour::Witnesses(_)
    ));
    let body = text1000
        .split_once("\n\n")
        .map(|(b, _)| format!("{b}\n"))
        .unwrap();
    let line = witness.cosign(&body, 1_767_300_001).unwrap();
    let cosigned = letro_log::cosignature::attach(&text1000, &[line]);
    std::fs::write(served.join("checkpoint"), &cosigned).unwrap();
    let u = m.check(&source(&served)).await.unwrap();
    assert_eq!(
        (u.new_size, u.cosigned_by.clone()),
        (1000, vec!["w1".to_owned()])
    );
    assert_eq!(log1000.integrated_size(), 1000);
}

#[tokio::test]
async fn a_corrupt_state_is_refused_and_a_torn_append_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let state = tmp.path().join("state");
    honest(&served, 300);
    let mut m = Monitor::open(&state, signer().verifier_key(), None).unwrap();
    m.check(&source(&served)).await.unwrap();
    drop(m);
    // Entries appended by a check that crashed before the checkpoint was replaced: dropped.
    let entries = state.join("entries");
    let mut bytes = std::fs::read(&entries).unwrap();
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&entries, &bytes).unwrap();
    let m = Monitor::open(&state, signer().verifier_key(), None).unwrap();
    assert_eq!(m.size(), 300);
    assert_eq!(std::fs::metadata(&entries).unwrap().len(), 300 * 32);
    drop(m);
    // A changed stored entry: refused, not silently trusted.
    let mut bytes = std::fs::read(&entries).unwrap();
    bytes[31] ^= 1;
    std::fs::write(&entries, &bytes).unwrap();
    assert!(matches!(
        Monitor::open(&state, signer().verifier_key(), None),
        Err(MonitorError::State(_))
    ));
    // Missing entries: refused.
    std::fs::write(&entries, &bytes[..64]).unwrap();
    assert!(matches!(
        Monitor::open(&state, signer().verifier_key(), None),
        Err(MonitorError::State(_))
    ));
    // A first check that stopped after appending entries but before writing its checkpoint:
    // the entries belong to no verified checkpoint and are dropped; the next check is clean.
    let first = tmp.path().join("first");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::write(first.join("entries"), [7u8; 32 * 10]).unwrap();
    let mut m = Monitor::open(&first, signer().verifier_key(), None).unwrap();
    assert_eq!(std::fs::metadata(first.join("entries")).unwrap().len(), 0);
    assert_eq!(m.check(&source(&served)).await.unwrap().new_size, 300);
    drop(m);
    assert_eq!(
        Monitor::open(&first, signer().verifier_key(), None)
            .unwrap()
            .size(),
        300
    );
    // Another log's key: the stored checkpoint does not verify.
    let other = SignerKey::from_seed(LOG, &[3; 32]).unwrap().verifier_key();
    assert!(Monitor::open(&state, other, None).is_err());
}

/// A service whose tiles `tiles` configures, serving HTTP on a socket, and a monitor of its
/// HTTP API.
struct Exporting {
    dir: tempfile::TempDir,
    tokens: Tokens,
    service: Service,
    router: axum::Router,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    addr: std::net::SocketAddr,
    http: Source,
    by_http: Monitor,
    /// Events logged so far.
    n: u32,
}

impl Exporting {
    async fn start(tiles: impl FnOnce(&Path, &mut letro_service::Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tokens = issue_tokens(dir.path());
        let mut cfg = config(dir.path());
        cfg.provers = 0;
        tiles(dir.path(), &mut cfg);
        let service = Service::start(cfg).unwrap();
        let router = service.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router.clone();
        let served = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = Source::new(
            &format!("http://{addr}/v1/log/"),
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let by_http = Monitor::open(&dir.path().join("m1"), Self::key(dir.path()), None).unwrap();
        Self {
            dir,
            tokens,
            service,
            router,
            served,
            addr,
            http,
            by_http,
            n: 0,
        }
    }

    fn key(dir: &Path) -> letro_log::note::VerifierKey {
        keys::load_or_create(dir, ORIGIN).unwrap().verifier_key()
    }

    /// Logs `count` more events and publishes.
    async fn log_and_publish(&mut self, count: u32) {
        for _ in 0..count {
            let (st, _) = call(
                &self.router,
                "POST",
                "/v1/submissions",
                Some(&self.tokens.relay),
                Some(submission(&self.n.to_be_bytes(), "r")),
            )
            .await;
            assert!(st.is_success());
            self.n += 1;
        }
        self.service.publish().await.unwrap();
    }

    /// Three publications (3, 263 and 303 events); after each, `copy(round)` gives a directory
    /// of the exported files, and a monitor of it accepts the checkpoint the HTTP API's does.
    async fn compare<F, Fut>(&mut self, mut copy: F)
    where
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = std::path::PathBuf>,
    {
        let mut by_copy = Monitor::open(
            &self.dir.path().join("m2"),
            Self::key(self.dir.path()),
            None,
        )
        .unwrap();
        for (round, batch) in [3u32, 260, 40].into_iter().enumerate() {
            self.log_and_publish(batch).await;
            let exported = copy(round).await;
            let a = self.by_http.check(&self.http).await.unwrap();
            let b = by_copy.check(&source(&exported)).await.unwrap();
            let n = u64::from(self.n);
            assert_eq!((a.new_size, b.new_size), (n, n));
            assert!(a.rfc6962_checked);
            assert_eq!(self.by_http.checkpoint_text(), by_copy.checkpoint_text());
        }
    }

    /// Stops the service; its directory (and what was exported into it) stays until the
    /// returned handle is dropped.
    async fn stop(self) -> tempfile::TempDir {
        self.served.abort();
        drop(self.router);
        self.service.shutdown().await;
        self.dir
    }
}

/// An S3-compatible server for the test: moto's `moto_server` (from PyPI), started on a free
/// port, killed when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl S3Server {
    /// Starts the program `LETRO_TEST_S3_SERVER` names (as `.ci/run` sets up), if set.
    async fn start() -> Option<Self> {
        let program = std::env::var_os("LETRO_TEST_S3_SERVER")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("LETRO_TEST_S3_SERVER runs");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(server);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the S3 server did not answer on port {port} within 30 s");
    }

    fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "letro-test"),
            ("aws_secret_access_key", "letro-test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every object under `prefix` in the bucket, copied to files under `dir`: what a reader of
/// the bucket sees.
async fn copy_out(store: &dyn object_store::ObjectStore, prefix: &str, dir: &Path) -> usize {
    use futures_util::TryStreamExt;
    let prefix = object_store::path::Path::from(prefix);
    let objects: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
    for meta in &objects {
        let name: Vec<String> = meta
            .location
            .prefix_match(&prefix)
            .unwrap()
            .map(|part| part.as_ref().to_owned())
            .collect();
        let file = name.iter().fold(dir.to_path_buf(), |d, part| d.join(part));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let bytes = store
            .get_opts(&meta.location, Default::default())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    objects.len()
}

/// Tiles on object storage: a service with `tiles_store = "s3://bucket/prefix"` writes the
/// log to an S3-compatible server (moto, an implementation of the S3 API nobody on this team
/// wrote), and what the bucket holds is the log a monitor accepts, with the checkpoint the
/// service serves over HTTP, after each of three publications. Without
/// `LETRO_TEST_S3_SERVER` (set by `.ci/run`) the test says so and checks only the refusals.
#[tokio::test]
async fn tiles_written_to_an_s3_bucket_are_the_log_a_monitor_reads() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Settings that cannot work are refused at start, naming the problem.
    for (store, directory, expected) in [
        ("ftp://tiles.example/ch", false, "not supported"),
        (
            "file://tiles.example/dir",
            false,
            "not an absolute local path",
        ),
        ("s3://letro-tiles/ch", true, "exclusive"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.provers = 0;
        cfg.tiles_store = Some(store.to_owned());
        cfg.tiles_directory = directory.then(|| dir.path().join("tiles"));
        let Err(e) = Service::start(cfg) else {
            panic!("{store}: not refused");
        };
        assert!(e.to_string().contains(expected), "{store}: {e}");
    }

    let Some(s3) = S3Server::start().await else {
        eprintln!("LETRO_TEST_S3_SERVER is not set: the S3 part of the tiles test is skipped");
        return;
    };
    let bucket = "letro-tiles";
    let created = reqwest::Client::new()
        .put(format!("{}/{bucket}", s3.endpoint))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    let options = s3.options();
    let mut e = Exporting::start(|_, cfg| {
        cfg.tiles_store = Some(format!("s3://{bucket}/ch/log"));
        cfg.tiles_store_options = options;
    })
    .await;
    let (reader, _) = object_store::parse_url_opts(
        &url::Url::parse(&format!("s3://{bucket}")).unwrap(),
        s3.options(),
    )
    .unwrap();
    let base = e.dir.path().to_path_buf();
    e.compare(|round| {
        let (reader, copy) = (&reader, base.join(format!("bucket-{round}")));
        async move {
            let objects = copy_out(reader.as_ref(), "ch/log", &copy).await;
            assert!(objects > 2, "round {round}: {objects} objects");
            assert!(copy.join("checkpoint").is_file());
            copy
        }
    })
    .await;
    // Nothing was written outside the prefix.
    let stray = copy_out(reader.as_ref(), "", &base.join("all")).await;
    let inside = copy_out(reader.as_ref(), "ch/log", &base.join("inside")).await;
    assert_eq!(stray, inside);

    // The store goes away: publication goes on (the export failure is logged and retried).
    drop(s3);
    e.log_and_publish(5).await;
    let size = e.by_http.check(&e.http).await.unwrap().new_size;
    assert_eq!(size, u64::from(e.n));
    drop(e.stop().await);
}

#[tokio::test]
async fn an_honest_service_serves_the_same_tiles_over_http_and_in_its_directory() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut e = Exporting::start(|dir, cfg| cfg.tiles_directory = Some(dir.join("tiles"))).await;
    let tiles = e.dir.path().join("tiles");
    e.compare(|_| std::future::ready(tiles.clone())).await;
    // The stored checkpoint is read every round: one replaced by an older one of this log (a
    // replica that lost its lease, still exporting) is written again; a larger one is never
    // replaced.
    let current = std::fs::read_to_string(tiles.join("checkpoint")).unwrap();
    let with_size = |size: u64| {
        let mut lines: Vec<String> = current.lines().map(str::to_owned).collect();
        lines[1] = size.to_string();
        lines.join("\n") + "\n"
    };
    std::fs::write(tiles.join("checkpoint"), with_size(1)).unwrap();
    e.service.publish().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(tiles.join("checkpoint")).unwrap(),
        current
    );
    let larger = with_size(u64::from(e.n) + 1000);
    std::fs::write(tiles.join("checkpoint"), &larger).unwrap();
    e.service.publish().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(tiles.join("checkpoint")).unwrap(),
        larger
    );
    std::fs::write(tiles.join("checkpoint"), &current).unwrap();
    let (addr, n, router, tokens) = (e.addr, e.n, &e.router, &e.tokens);
    // Every tile of the published tree: the same bytes both ways, immutable over HTTP.
    let client = reqwest::Client::new();
    for path in tiles_between(0, u64::from(n)) {
        let resp = client
            .get(format!("http://{addr}/v1/log/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(resp.headers()["content-type"], "application/octet-stream");
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(
            bytes.as_ref(),
            std::fs::read(tiles.join(path.to_string())).unwrap(),
            "{path}"
        );
    }
    let resp = client
        .get(format!("http://{addr}/v1/log/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=5");
    // Beyond the published tree: 404; another spelling: 400.
    for (path, status) in [
        ("tile/0/001.p/48", 404),
        ("tile/entries/002", 404),
        ("tile/0/001.p/47", 200),
        ("tile/0/1", 400),
        ("tile/0/x000/001", 400),
        ("tile/0/001.p/256", 400),
        ("tile/64/000", 400),
        ("tile/", 404), // no tile path at all: no such endpoint
    ] {
        let resp = client
            .get(format!("http://{addr}/v1/log/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{path}");
    }
    // Tile requests are counted under their route, not as unmatched; a 404 is not cacheable.
    let resp = client
        .get(format!("http://{addr}/v1/log/tile/entries/009"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (_, metrics) = call(router, "GET", "/metrics", Some(&tokens.admin), None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("letro_http_requests_total{route=\"/v1/log/tile/{tile}\",status=\"200\"}"),
        "{metrics}"
    );

    let _dir = e.stop().await;

    // Another log pointed at the same tiles directory: its tiles are refused (logged), the
    // directory keeps the first log's, and the other log publishes anyway.
    let before = std::fs::read(tiles.join("checkpoint")).unwrap();
    let other = tempfile::tempdir().unwrap();
    let other_tokens = issue_tokens(other.path());
    let mut cfg = config(other.path());
    cfg.provers = 0;
    cfg.tiles_directory = Some(tiles.clone());
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    for i in 0u32..300 {
        let (st, _) = call(
            &router,
            "POST",
            "/v1/submissions",
            Some(&other_tokens.relay),
            Some(submission(format!("other {i}").as_bytes(), "r")),
        )
        .await;
        assert!(st.is_success());
    }
    service.publish().await.unwrap();
    let (st, _) = call(&router, "GET", "/v1/log/tile/entries/000", None, None).await;
    assert_eq!(st, 200, "the other log still serves its own tiles");
    assert_eq!(std::fs::read(tiles.join("checkpoint")).unwrap(), before);
    drop(router);
    service.shutdown().await;
}

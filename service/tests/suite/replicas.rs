//! Replicas on one PostgreSQL database: three services started as standbys (this test binary
//! re-run as `replicas::replica_child`, as `letro serve --standby` runs), one witness, and two
//! clients sending a steady stream of submissions and receipts to whichever replica listens.
//! The leader is killed with SIGKILL, then the next: each time a standby takes the sequencer
//! lock, loads the log from the database and listens. Afterwards every acknowledged event is in
//! the log exactly once, at the index it was acknowledged with; a monitor that followed every
//! leader saw each checkpoint consistent with the one before (no fork); and the witness, which
//! refuses any inconsistent checkpoint, cosigned the last leader's.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use letro_api::bodies::{ReceiptRequest, SubmissionRequest};
use letro_api_client::Client;
use letro_service::monitor::{Monitor, Source};
use letro_service::settings::Settings;
use letro_service::store::PostgresStore;
use letro_service::witness::Witness;
use letro_service::{keys, unix_now, Config, ServeError, Service};
use serde_json::Value;

const CHILD_DIR: &str = "LETRO_REPLICA_CHILD_DIR";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a replica process of three_replicas_lose_two_leaders_and_nothing_acknowledged"]
async fn replica_child() {
    let dir = PathBuf::from(
        std::env::var(CHILD_DIR)
            .expect("run by three_replicas_lose_two_leaders_and_nothing_acknowledged"),
    );
    let config = Settings::read(&dir.join("letro.toml"))
        .unwrap()
        .into_config()
        .unwrap();
    assert!(config.standby);
    // As `letro serve --standby`: wait for the lock, then listen.
    let service = tokio::task::spawn_blocking(move || Service::start(config))
        .await
        .unwrap()
        .unwrap();
    let listener = announce_listener(&dir).await;
    service
        .serve(listener, std::future::pending())
        .await
        .unwrap();
}

/// The replica processes, killed when the test ends however it ends.
struct Replicas {
    dirs: Vec<PathBuf>,
    children: Vec<Option<std::process::Child>>,
}

impl Replicas {
    fn spawn(&mut self, i: usize) {
        let dir = &self.dirs[i];
        let log = std::fs::File::create(dir.join("stderr")).unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "replicas::replica_child",
                "--nocapture",
            ])
            .env(CHILD_DIR, dir)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children[i] = Some(child);
    }

    /// The replica that listens (the leader), once one does, within 60 s.
    async fn leader(&self) -> (usize, std::net::SocketAddr) {
        for _ in 0..1200 {
            if let Some(found) = leader_of(&self.dirs) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no replica took over within 60 s");
    }

    /// SIGKILL to replica `i`; its port file goes with it.
    fn kill(&mut self, i: usize) {
        let mut child = self.children[i].take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_file(self.dirs[i].join("port")).unwrap();
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The replica whose port file exists (only the leader listens), and its address.
fn leader_of(dirs: &[PathBuf]) -> Option<(usize, std::net::SocketAddr)> {
    dirs.iter().enumerate().find_map(|(i, dir)| {
        let port = std::fs::read_to_string(dir.join("port"))
            .ok()?
            .parse::<u16>()
            .ok()?;
        Some((i, std::net::SocketAddr::from(([127, 0, 0, 1], port))))
    })
}

/// What the clients had acknowledged: (event body, index, when).
#[derive(Default)]
struct Acked {
    submissions: Vec<(Value, u64, Instant)>,
    receipts: Vec<(Value, u64, Instant)>,
}

impl Acked {
    fn count(&self) -> usize {
        self.submissions.len() + self.receipts.len()
    }
}

/// Sends `body` to whichever replica leads until one answers; a replica that is gone (killed,
/// or not yet listening) is retried after 50 ms. A retry of an event whose first try was
/// stored but not answered is answered `fresh: false` with the stored index: still once.
async fn until_answered<T, F, Fut>(dirs: &[PathBuf], relay: &str, send: F) -> T
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, letro_api_client::Error>>,
{
    loop {
        if let Some((_, addr)) = leader_of(dirs) {
            let client = Client::builder(format!("http://{addr}"))
                .token(relay)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            match send(client).await {
                Ok(v) => return v,
                Err(letro_api_client::Error::Http(_)) => {}
                Err(e) => panic!("a live replica refused: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for(acked: &Mutex<Acked>, at_least: usize) {
    for _ in 0..1200 {
        if acked.lock().unwrap().count() >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} events acknowledged within 60 s");
}

fn follow(addr: std::net::SocketAddr) -> Source {
    Source::new(&format!("http://{addr}/v1/log/"), Duration::from_secs(5)).unwrap()
}

/// What the replica tests share: a database, the log key every replica signs with, the
/// tokens, and the base directory.
struct Cluster {
    db: pg::PgDatabase,
    base: tempfile::TempDir,
    key_dir: PathBuf,
    tokens: Tokens,
}

impl Cluster {
    fn new() -> Self {
        let db = pg::PgDatabase::create();
        let base = tempfile::tempdir().unwrap();
        let key_dir = base.path().join("key");
        std::fs::create_dir_all(&key_dir).unwrap();
        keys::load_or_create(&key_dir, ORIGIN).unwrap();
        let tokens = issue_tokens_into(&mut PostgresStore::open(&db.url).unwrap());
        Self {
            db,
            base,
            key_dir,
            tokens,
        }
    }

    fn key_file(&self) -> PathBuf {
        self.key_dir.join(keys::LOG_KEY_FILE)
    }

    /// A witness following the log; (it, its URL, what stops it).
    async fn witness(&self) -> (Arc<Witness>, String, tokio::sync::oneshot::Sender<()>) {
        let dir = self.base.path().join("witness");
        std::fs::create_dir_all(&dir).unwrap();
        let (url, witness, stop) = crate::witnessed::start_witness(&dir, &self.key_dir, 0).await;
        (witness, url, stop)
    }

    /// `n` replica processes, none started yet, each with a settings file: this database, the
    /// shared log key, `witness` (quorum 1), checkpoints every second, `standby = true`.
    fn replicas(&self, n: usize, witness: &Witness, witness_url: &str) -> Replicas {
        let dirs: Vec<PathBuf> = (0..n)
            .map(|i| self.base.path().join(format!("replica{i}")))
            .collect();
        for dir in &dirs {
            std::fs::create_dir_all(dir).unwrap();
            let text = format!(
                "data = {data:?}\ndatabase = {url:?}\norigin = {ORIGIN:?}\nlog_key = {key:?}\n\
                 standby = true\ncheckpoint_interval_seconds = 1\nprovers = 0\n\
                 witness_quorum = 1\nwitness_timeout_seconds = 5\n[[witness]]\n\
                 vkey = {vkey:?}\nurl = {witness_url:?}\n",
                data = dir.display().to_string(),
                url = self.db.url,
                key = self.key_file().display().to_string(),
                vkey = witness.cosigner_key().to_string(),
            );
            std::fs::write(dir.join("letro.toml"), text).unwrap();
        }
        Replicas {
            children: dirs.iter().map(|_| None).collect(),
            dirs,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_lose_two_leaders_and_nothing_acknowledged() {
    let cluster = Cluster::new();
    let (db, base, tokens) = (&cluster.db, &cluster.base, &cluster.tokens);
    let key_file = cluster.key_file();
    let log_key = keys::load_or_create(&cluster.key_dir, ORIGIN)
        .unwrap()
        .verifier_key();
    let (witness, witness_url, _stop_witness) = cluster.witness().await;

    // "r" certifies the receipt key with seed 21, through a service run before the replicas.
    {
        let mut cfg = Config::new(base.path().join("setup"), ORIGIN);
        cfg.database = Some(db.url.clone());
        cfg.log_key = Some(key_file.clone());
        cfg.checkpoint_interval = Duration::from_secs(3600);
        let service = Service::start(cfg).unwrap();
        let router = service.router();
        certify(&router, &tokens.admin, "r", 21).await;
        drop(router);
        service.shutdown().await;
    }

    let mut replicas = cluster.replicas(3, &witness, &witness_url);
    let dirs = replicas.dirs.clone();
    replicas.spawn(0);
    assert_eq!(replicas.leader().await.0, 0, "the first replica leads");
    replicas.spawn(1);
    replicas.spawn(2);

    // Two clients: a submission, then its receipt, again and again, to whichever replica leads.
    let t = unix_now();
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..2u32 {
        let (acked, stop, dirs) = (acked.clone(), stop.clone(), dirs.clone());
        let relay = tokens.relay.clone();
        clients.push(tokio::spawn(async move {
            for i in 0u32.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ciphertext = format!("replicated {c} {i}");
                let body = submission(ciphertext.as_bytes(), "r");
                let s: SubmissionRequest = serde_json::from_value(body.clone()).unwrap();
                let logged = until_answered(&dirs, &relay, |client| {
                    let s = s.clone();
                    async move { client.submit(&s).await }
                })
                .await;
                acked.lock().unwrap().submissions.push((
                    body,
                    logged.accepted.index,
                    Instant::now(),
                ));
                let r = receipt(ciphertext.as_bytes(), 21, t);
                let body: ReceiptRequest = serde_json::from_value(r.clone()).unwrap();
                let logged = until_answered(&dirs, &relay, |client| {
                    let body = body.clone();
                    async move { client.post_receipt(&body).await }
                })
                .await;
                acked
                    .lock()
                    .unwrap()
                    .receipts
                    .push((r, logged.accepted.index, Instant::now()));
            }
        }));
    }

    // A monitor follows the log through each leader in turn.
    let mut monitor = Monitor::open(&base.path().join("monitor"), log_key, None).unwrap();
    let mut sizes = Vec::new();
    let mut failovers = Vec::new();
    for round in 0..3 {
        let before = acked.lock().unwrap().count();
        wait_for(&acked, before + 80).await;
        let (leader, addr) = replicas.leader().await;
        // Its checkpoints (cosigned: the witness accepted them) extend what the monitor saw.
        let source = follow(addr);
        let mut checked = None;
        for _ in 0..100 {
            let update = monitor.check(&source).await.unwrap();
            if update.new_size > sizes.last().copied().unwrap_or(0) {
                checked = Some(update.new_size);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sizes.push(checked.expect("the leader published a larger checkpoint"));
        if round == 2 {
            break;
        }
        replicas.kill(leader);
        let killed = Instant::now();
        let (next, _) = replicas.leader().await;
        assert_ne!(next, leader);
        let listening = killed.elapsed();
        let now = acked.lock().unwrap().count();
        wait_for(&acked, now + 1).await;
        let first_ack = {
            let a = acked.lock().unwrap();
            a.submissions
                .iter()
                .chain(&a.receipts)
                .map(|(_, _, at)| *at)
                .filter(|at| *at > killed)
                .min()
                .unwrap()
        };
        failovers.push((listening, first_ack - killed));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!(
        "replicas: {} submissions and {} receipts acknowledged; published sizes seen by the \
         monitor {sizes:?}; failovers (kill to listening, kill to first acknowledgement): \
         {failovers:?}",
        acked.submissions.len(),
        acked.receipts.len()
    );

    // Exactly once: every acknowledged event is stored at its index, and no two share one.
    let (_, addr) = replicas.leader().await;
    let relay = Client::builder(format!("http://{addr}"))
        .token(&tokens.relay)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut indexes = BTreeSet::new();
    for (body, index, _) in &acked.submissions {
        let s: SubmissionRequest = serde_json::from_value(body.clone()).unwrap();
        let again = relay.submit(&s).await.unwrap();
        assert!(!again.fresh, "the submission at {index} was stored twice");
        assert_eq!(again.accepted.index, *index);
        assert!(indexes.insert(*index), "index {index} acknowledged twice");
    }
    for (body, index, _) in &acked.receipts {
        let r: ReceiptRequest = serde_json::from_value(body.clone()).unwrap();
        let again = relay.post_receipt(&r).await.unwrap();
        assert!(!again.fresh, "the receipt at {index} was stored twice");
        assert_eq!(again.accepted.index, *index);
        assert!(indexes.insert(*index), "index {index} acknowledged twice");
    }
    // The last leader's log holds them all, and the witness cosigned a checkpoint that does.
    let last = *indexes.last().unwrap();
    let source = follow(addr);
    let mut witnessed = 0;
    for _ in 0..100 {
        witnessed = witness.latest(ORIGIN).unwrap().map_or(0, |l| l.size);
        if witnessed > last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        witnessed > last,
        "the witness holds size {witnessed}, not past {last}"
    );
    let update = monitor.check(&source).await.unwrap();
    assert!(update.new_size > last);
}

/// A leader whose database session ends (the database restarted, or an operator or the server's
/// keepalives ended it) steps down: the write that finds the session gone is refused and stored
/// nowhere, `serve` returns [`ServeError::SequencerLost`], and a standby takes over with the
/// log as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_its_session_steps_down() {
    let cluster = Cluster::new();
    let (db, tokens) = (&cluster.db, &cluster.tokens);
    let config = |name: &str| {
        let mut c = Config::new(cluster.base.path().join(name), ORIGIN);
        c.database = Some(db.url.clone());
        c.log_key = Some(cluster.key_file());
        c.checkpoint_interval = Duration::from_secs(3600);
        c.provers = 0;
        c.standby = true;
        c
    };
    let leader = Service::start(config("a")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(leader.serve(listener, std::future::pending()));
    let relay = Client::builder(format!("http://{addr}"))
        .token(&tokens.relay)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let first: SubmissionRequest =
        serde_json::from_value(submission(b"before the loss", "r")).unwrap();
    assert_eq!(relay.submit(&first).await.unwrap().accepted.index, 0);

    let b = config("b");
    let standby = tokio::task::spawn_blocking(move || Service::start(b));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !standby.is_finished(),
        "the standby started while the leader held the lock"
    );

    // The database ends the session that holds the sequencer lock.
    let ended = pg::query_one_i64(
        &db.url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' \
         AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert_eq!(ended, 1);
    let second: SubmissionRequest =
        serde_json::from_value(submission(b"after the loss", "r")).unwrap();
    assert!(
        relay.submit(&second).await.is_err(),
        "a write without the lease"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(20), served)
        .await
        .expect("the leader stepped down")
        .unwrap();
    assert!(
        matches!(stopped, Err(ServeError::SequencerLost)),
        "{stopped:?}"
    );

    let service = tokio::time::timeout(Duration::from_secs(20), standby)
        .await
        .expect("the standby took over")
        .unwrap()
        .unwrap();
    let router = service.router();
    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(b"before the loss", "r")),
    )
    .await;
    assert_eq!((st.as_u16(), v["index"].as_u64()), (200, Some(0)), "{v}");
    let (st, v) = call(
        &router,
        "POST",
        "/v1/submissions",
        Some(&tokens.relay),
        Some(submission(b"after the loss", "r")),
    )
    .await;
    assert_eq!(
        (st.as_u16(), v["index"].as_u64()),
        (201, Some(1)),
        "stored by nobody before: {v}"
    );
    drop(router);
    service.shutdown().await;
}

/// A leader paused (SIGSTOP) for longer than the lease loses it: the database ends its idle
/// session, and a standby takes over. When the old leader resumes (SIGCONT), the write it is
/// given is refused and stored nowhere, and it steps down: its process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_loses_its_lease_and_never_writes_again() {
    let cluster = Cluster::new();
    let tokens = &cluster.tokens;
    let (witness, witness_url, _stop_witness) = cluster.witness().await;
    let mut replicas = cluster.replicas(2, &witness, &witness_url);
    let dirs = replicas.dirs.clone();
    replicas.spawn(0);
    let (_, a) = replicas.leader().await;
    replicas.spawn(1);
    let relay = |addr: std::net::SocketAddr| {
        Client::builder(format!("http://{addr}"))
            .token(&tokens.relay)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let event = |text: &str| -> SubmissionRequest {
        serde_json::from_value(submission(text.as_bytes(), "r")).unwrap()
    };
    let logged = relay(a).submit(&event("before the pause")).await.unwrap();
    assert_eq!(logged.accepted.index, 0);

    let pid = replicas.children[0].as_ref().unwrap().id().to_string();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let paused = Instant::now();
    let mut b = None;
    for _ in 0..1200 {
        if let Ok(port) = std::fs::read_to_string(dirs[1].join("port")) {
            b = Some(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                port.parse::<u16>().unwrap(),
            )));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = b.expect("the standby took over from the paused leader within 60 s");
    eprintln!(
        "replicas: paused leader replaced after {:?}",
        paused.elapsed()
    );
    let logged = relay(b).submit(&event("during the pause")).await.unwrap();
    assert_eq!((logged.fresh, logged.accepted.index), (true, 1));

    signal("-CONT");
    assert!(
        relay(a).submit(&event("after the resume")).await.is_err(),
        "the old leader wrote after it lost its lease"
    );
    let child = replicas.children[0].as_mut().unwrap();
    let mut exited = None;
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exited = exited.expect("the old leader stepped down within 30 s");
    assert!(!exited.success(), "{exited:?}");

    let logged = relay(b).submit(&event("after the resume")).await.unwrap();
    assert_eq!(
        (logged.fresh, logged.accepted.index),
        (true, 2),
        "stored by nobody before"
    );
    let logged = relay(b).submit(&event("before the pause")).await.unwrap();
    assert_eq!((logged.fresh, logged.accepted.index), (false, 0));
}

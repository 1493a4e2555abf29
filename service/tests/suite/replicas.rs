//! Replicas on one PostgreSQL database: three replica processes (this test binary re-run as
//! `replicas::replica_child`, as `letro serve --standby` runs: [`letro_service::replica`]), one
//! witness, and two clients sending a steady stream of submissions and receipts to every live
//! replica in turn: the leader answers them itself, the others forward them to it. The leader
//! is killed with SIGKILL, then the next: each time another replica takes the sequencer lock,
//! loads the log from the database and serves it on the socket it forwarded from. Afterwards
//! every acknowledged event is in the log exactly once, at the index it was acknowledged with;
//! a monitor that followed every leader saw each checkpoint consistent with the one before (no
//! fork); and the witness, which refuses any inconsistent checkpoint, cosigned the last
//! leader's.

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
    // As `letro serve --standby`: listen at once and forward to the leader; when this one takes
    // the lock, say so in `leading` and serve the log.
    let listener = announce_listener(&dir).await;
    let leading = dir.join("leading");
    letro_service::replica::serve(config, listener, std::future::pending(), move |_| {
        std::fs::write(leading, b"").unwrap()
    })
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

    /// The replica that leads, once one does, within 60 s.
    async fn leader(&self) -> (usize, std::net::SocketAddr) {
        for _ in 0..1200 {
            if let Some(found) = leader_of(&self.dirs) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no replica took over within 60 s");
    }

    /// SIGKILL to replica `i`; its port and `leading` files go with it.
    fn kill(&mut self, i: usize) {
        let mut child = self.children[i].take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_file(self.dirs[i].join("port")).unwrap();
        let _ = std::fs::remove_file(self.dirs[i].join("leading"));
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

/// The replica that leads (its `leading` file exists), and its address.
fn leader_of(dirs: &[PathBuf]) -> Option<(usize, std::net::SocketAddr)> {
    live(dirs)
        .into_iter()
        .find(|(i, _)| dirs[*i].join("leading").exists())
}

/// The replicas that listen (their port file exists), and their addresses.
fn live(dirs: &[PathBuf]) -> Vec<(usize, std::net::SocketAddr)> {
    dirs.iter()
        .enumerate()
        .filter_map(|(i, dir)| {
            let port = std::fs::read_to_string(dir.join("port"))
                .ok()?
                .parse::<u16>()
                .ok()?;
            Some((i, std::net::SocketAddr::from(([127, 0, 0, 1], port))))
        })
        .collect()
}

/// What the clients had acknowledged: (event body, index, when); and how many of the answers
/// came through a replica that did not lead when the request was sent.
#[derive(Default)]
struct Acked {
    submissions: Vec<(Value, u64, Instant)>,
    receipts: Vec<(Value, u64, Instant)>,
    forwarded: usize,
}

impl Acked {
    fn count(&self) -> usize {
        self.submissions.len() + self.receipts.len()
    }
}

/// Sends a request to the live replicas in turn (from `turn` on) until one answers; a replica
/// that is gone (killed, or not yet listening) or answers 503 (a replica with no leader to
/// forward to, during a failover) is retried after 50 ms. A retry of an event whose first try
/// was stored but not answered is answered `fresh: false` with the stored index: still once.
/// Returns the answer and whether the replica that gave it did not lead when it was asked.
async fn until_answered<T, F, Fut>(
    dirs: &[PathBuf],
    relay: &str,
    turn: &mut usize,
    send: F,
) -> (T, bool)
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, letro_api_client::Error>>,
{
    loop {
        let replicas = live(dirs);
        *turn += 1;
        if let Some((i, addr)) = replicas.get(*turn % replicas.len().max(1)).copied() {
            let follower = !dirs[i].join("leading").exists();
            let client = Client::builder(format!("http://{addr}"))
                .token(relay)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            match send(client).await {
                Ok(v) => return (v, follower),
                Err(letro_api_client::Error::Http(_)) => {}
                Err(letro_api_client::Error::Api { status, .. }) if status.as_u16() == 503 => {}
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

    /// An in-process service's settings on this database, with the shared key, no provers and
    /// no periodic checkpoint.
    fn config(&self, name: &str) -> Config {
        let mut c = Config::new(self.base.path().join(name), ORIGIN);
        c.database = Some(self.db.url.clone());
        c.log_key = Some(self.key_file());
        c.checkpoint_interval = Duration::from_secs(3600);
        c.provers = 0;
        c
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

    // Two clients: a submission, then its receipt, again and again, to each live replica in turn.
    let t = unix_now();
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..2u32 {
        let (acked, stop, dirs) = (acked.clone(), stop.clone(), dirs.clone());
        let relay = tokens.relay.clone();
        clients.push(tokio::spawn(async move {
            let mut turn = c as usize;
            for i in 0u32.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ciphertext = format!("replicated {c} {i}");
                let body = submission(ciphertext.as_bytes(), "r");
                let s: SubmissionRequest = serde_json::from_value(body.clone()).unwrap();
                let (logged, forwarded) = until_answered(&dirs, &relay, &mut turn, |client| {
                    let s = s.clone();
                    async move { client.submit(&s).await }
                })
                .await;
                {
                    let mut a = acked.lock().unwrap();
                    a.submissions
                        .push((body, logged.accepted.index, Instant::now()));
                    a.forwarded += usize::from(forwarded);
                }
                let r = receipt(ciphertext.as_bytes(), 21, t);
                let body: ReceiptRequest = serde_json::from_value(r.clone()).unwrap();
                let (logged, forwarded) = until_answered(&dirs, &relay, &mut turn, |client| {
                    let body = body.clone();
                    async move { client.post_receipt(&body).await }
                })
                .await;
                {
                    let mut a = acked.lock().unwrap();
                    a.receipts.push((r, logged.accepted.index, Instant::now()));
                    a.forwarded += usize::from(forwarded);
                }
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
        "replicas: {} submissions and {} receipts acknowledged, {} of them through a replica \
         that forwarded; published sizes seen by the monitor {sizes:?}; failovers (kill to \
         takeover, kill to first acknowledgement): {failovers:?}",
        acked.submissions.len(),
        acked.receipts.len(),
        acked.forwarded
    );
    assert!(
        acked.forwarded > 0,
        "no acknowledgement came through a forwarding replica"
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
    let config = |name: &str| Config {
        standby: true,
        ..cluster.config(name)
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
        // The paused one still has its `leading` file: look at the other's.
        if let Some((_, addr)) = leader_of(&dirs[1..]) {
            b = Some(addr);
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

/// The leader announces its address through its sequencer session, and a replica believes it
/// only while that session holds the lock: a dead leader's row is never followed.
#[test]
fn only_the_lock_holder_announces_and_only_while_it_holds_the_lock() {
    let db = pg::PgDatabase::create();
    let mut a = PostgresStore::open(&db.url).unwrap();
    assert!(
        a.announce_sequencer("http://10.0.0.1:8080", 1).is_err(),
        "announced without the lock"
    );
    a.lock_sequencer().unwrap();
    a.announce_sequencer("http://10.0.0.1:8080", 1).unwrap();
    let b = PostgresStore::open(&db.url).unwrap();
    assert_eq!(
        b.sequencer_url().unwrap().as_deref(),
        Some("http://10.0.0.1:8080")
    );
    drop(a);
    assert_eq!(
        b.sequencer_url().unwrap(),
        None,
        "its session gone, the row is not believed"
    );
    assert_eq!(
        pg::query_one_i64(&db.url, "SELECT count(*) FROM sequencer"),
        1
    );
    let mut c = PostgresStore::open(&db.url).unwrap();
    c.lock_sequencer().unwrap();
    assert_eq!(
        b.sequencer_url().unwrap(),
        None,
        "not announced by this holder"
    );
    c.announce_sequencer("http://10.0.0.2:8080", 2).unwrap();
    assert_eq!(
        b.sequencer_url().unwrap().as_deref(),
        Some("http://10.0.0.2:8080")
    );
}

/// A replica that does not lead forwards each request as it came and answers with the
/// leader's answer (a write is stored once, by the leader; a refusal keeps its headers); it
/// refuses itself only a body over its limit and a request that already came through a
/// replica. When the leader stops, it takes over and serves the log on the same socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_forwards_requests_as_they_came_and_serves_once_it_leads() {
    let cluster = Cluster::new();
    let tokens = &cluster.tokens;
    let config = |name: &str| cluster.config(name);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let leader_addr = listener.local_addr().unwrap();
    let mut a = config("a");
    a.advertise_url = Some(format!("http://{leader_addr}"));
    let leader = tokio::task::spawn_blocking(move || Service::start(a))
        .await
        .unwrap()
        .unwrap();
    let (stop_leader, leader_stops) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(leader.serve(listener, async move {
        let _ = leader_stops.await;
    }));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let took_over = Arc::new(AtomicBool::new(false));
    let (stop_replica, replica_stops) = tokio::sync::oneshot::channel::<()>();
    let replica = tokio::spawn(letro_service::replica::serve(
        config("b"),
        listener,
        async move {
            let _ = replica_stops.await;
        },
        {
            let took_over = took_over.clone();
            move |_| took_over.store(true, Ordering::SeqCst)
        },
    ));
    let client = |addr: std::net::SocketAddr| {
        Client::builder(format!("http://{addr}"))
            .token(&tokens.relay)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(letro_service::callback::tls_config(None).unwrap())
        .build()
        .unwrap();
    let via = |r: &reqwest::Response| {
        r.headers()
            .get("via")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // A write through the replica is the leader's: stored once, at the leader.
    let event: SubmissionRequest =
        serde_json::from_value(submission(b"through a replica", "r")).unwrap();
    let logged = client(addr).submit(&event).await.unwrap();
    assert_eq!((logged.fresh, logged.accepted.index), (true, 0));
    let again = client(leader_addr).submit(&event).await.unwrap();
    assert_eq!((again.fresh, again.accepted.index), (false, 0));
    let r = http
        .get(format!("http://{addr}/v1/log/state"))
        .bearer_auth(&tokens.relay)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(via(&r).as_deref(), Some(letro_service::replica::VIA));
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["sequenced"], 1, "{state}");

    // The replica's own session ends (a database restart, say): it opens another at its next
    // lookup and forwards again.
    let ended = pg::query_one_i64(
        &cluster.db.url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'letro-replica' AND datname = current_database()",
    );
    assert_eq!(ended, 1);
    // Past the time the replica trusts the leader's URL it read: the next request reads it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut recovered = false;
    for _ in 0..100 {
        let r = http
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            assert_eq!(via(&r).as_deref(), Some(letro_service::replica::VIA));
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the replica forwards again within 10 s");

    // A refusal is the leader's, with its headers.
    let r = http
        .get(format!("http://{addr}/v1/log/state"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(via(&r).as_deref(), Some(letro_service::replica::VIA));

    // A body over every route's limit is refused by the replica itself, not forwarded.
    let r = http
        .post(format!("http://{addr}/v1/submissions"))
        .bearer_auth(&tokens.relay)
        .header("content-type", "application/json")
        .body(vec![b' '; (24 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(via(&r), None, "answered by the replica");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    // A request that already came through a replica is not forwarded again.
    let r = http
        .get(format!("http://{addr}/healthz"))
        .header("via", letro_service::replica::VIA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(!took_over.load(Ordering::SeqCst));

    // The leader stops: the replica takes over and serves the log itself on the same socket.
    stop_leader.send(()).unwrap();
    served.await.unwrap().unwrap();
    for _ in 0..200 {
        if took_over.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(took_over.load(Ordering::SeqCst), "no takeover within 10 s");
    let mut served_itself = None;
    for _ in 0..200 {
        let r = http
            .get(format!("http://{addr}/v1/log/state"))
            .bearer_auth(&tokens.relay)
            .send()
            .await;
        if let Ok(r) = r {
            if r.status() == 200 {
                served_itself = Some(r);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = served_itself.expect("the new leader serves within 10 s");
    assert_eq!(via(&r), None, "served by itself");
    let again = client(addr).submit(&event).await.unwrap();
    assert_eq!((again.fresh, again.accepted.index), (false, 0));
    stop_replica.send(()).unwrap();
    replica.await.unwrap().unwrap();
}

//! The operator's commands on a real `letro serve` process: a start with nothing but `--data`
//! and `--listen`, the log key printed at start, served and exported alike, tokens issued and
//! revoked by `letro token` while the service runs, and a data directory that refuses another
//! origin.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../../service/tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

fn letro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letro"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("letro-operator-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `letro serve`, its address, the log key line it printed, and its stderr so far.
struct Served {
    child: Child,
    addr: String,
    vkey: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Served {
    /// However a test ends, its services end with it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// `letro serve --data DATA --listen 127.0.0.1:0`, then `more`.
    fn start_with(data: &Path, more: &[&str]) -> Self {
        Self::start_until(data, more, true)
    }

    /// [`Served::start_with`] for a replica, which prints its log key only when it takes over:
    /// returns once it listens, with an empty `vkey`.
    fn start_replica(data: &Path, more: &[&str]) -> Self {
        Self::start_until(data, more, false)
    }

    fn start_until(data: &Path, more: &[&str], key_line: bool) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_letro"))
            .args([
                "serve",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(more)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let all = stderr.clone();
        // Drains stderr for the whole run, so that the service never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                all.lock().unwrap().push_str(&line);
                let _ = tx.send(line.clone());
                line.clear();
            }
        });
        let (mut addr, mut vkey) = (None, (!key_line).then(String::new));
        let deadline = Instant::now() + Duration::from_secs(30);
        while addr.is_none() || vkey.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!("no address and key line: {}", stderr.lock().unwrap());
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                addr = Some(rest.split(' ').next().unwrap().to_owned());
            }
            if let Some(rest) = line.strip_prefix("log key: ") {
                vkey = Some(rest.trim_end().to_owned());
            }
        }
        Self {
            child,
            addr: addr.unwrap(),
            vkey: vkey.unwrap(),
            stderr,
        }
    }

    /// One request; the status and the body.
    fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let auth = token
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{auth}\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status = resp.split(' ').nth(1).unwrap().parse().unwrap();
        let body = resp.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    /// Polls `GET /v1/log/state` with `token` until it answers `want`; how long it took.
    fn until(&self, token: &str, want: u16) -> Duration {
        let start = Instant::now();
        loop {
            let (st, _) = self.get("/v1/log/state", Some(token));
            if st == want {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "still {st}, not {want}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
        // Let the drain thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stderr.lock().unwrap().clone();
        out
    }
}

#[test]
fn serve_with_only_data_and_listen_then_tokens_and_the_log_key() {
    let d = tmp("serve");
    let data = d.join("data");
    let data_s = data.to_str().unwrap();

    let served = Served::start(&data);
    // The default origin, recorded in the data directory, names the key.
    assert_eq!(
        std::fs::read_to_string(data.join("origin")).unwrap(),
        "localhost/letro-log\n"
    );
    assert!(
        served.vkey.starts_with("localhost/letro-log+"),
        "{}",
        served.vkey
    );
    // A C2SP verifier key named like the origin, as letro-verify --log-key takes it.
    let key = letro_log::note::VerifierKey::parse(&served.vkey).unwrap();
    assert_eq!(key.name(), "localhost/letro-log");
    // What it printed is what it serves, and what `letro log key` exports.
    let (st, body) = served.get("/v1/log/key", None);
    assert_eq!(st, 200);
    assert_eq!(body, format!("{}\n", served.vkey));
    let o = letro(&["log", "key", "--data", data_s]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{}\n", served.vkey));
    let o = letro(&[
        "log",
        "key",
        "--log-key",
        data.join("log.key").to_str().unwrap(),
    ]);
    assert_eq!(text(&o.stdout), format!("{}\n", served.vkey));

    // A token issued by the CLI while the service runs is accepted within seconds.
    let o = letro(&[
        "token",
        "issue",
        "--data",
        data_s,
        "--role",
        "relay",
        "--subject",
        "relay-live",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let token = text(&o.stdout).trim().to_owned();
    let took = served.until(&token, 200);
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Listed with its id, never the token.
    let o = letro(&["token", "list", "--data", data_s, "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains(&token));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subject"] == "relay-live")
        .unwrap()
        .clone();
    assert_eq!(entry["role"], "relay");
    assert!(entry.get("revoked_at").is_none());
    let id = entry["id"].as_str().unwrap().to_owned();
    let o = letro(&["token", "list", "--data", data_s]);
    assert!(
        text(&o.stdout).contains(&format!("{id}  relay ")),
        "{}",
        text(&o.stdout)
    );

    // Revoked by the CLI: refused within seconds.
    let o = letro(&["token", "revoke", "--data", data_s, &id]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("revoked relay token"),
        "{}",
        text(&o.stderr)
    );
    let took = served.until(&token, 401);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let o = letro(&["token", "list", "--data", data_s, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(list[0]["revoked_at"].is_string(), "{list}");

    // Bad and unknown ids.
    let o = letro(&["token", "revoke", "--data", data_s, "XYZ"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("hint: a token id is 16 lowercase hex digits"));
    let o = letro(&["token", "revoke", "--data", data_s, "00000000000000ff"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("error: no token has id 00000000000000ff"));

    let log = served.stop();
    assert!(log.contains("tokens reloaded"), "{log}");

    // The data directory belongs to its log: another origin is refused, with what to do.
    let o = letro(&[
        "serve",
        "--data",
        data_s,
        "--listen",
        "127.0.0.1:0",
        "--origin",
        "relay.example/other",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("belongs to log \"localhost/letro-log\"")
            && err.contains("without an origin setting")
            && err.contains("hint: a log's origin is fixed at its first start"),
        "{err}"
    );
    // Without one it starts again, on the same log and key.
    let again = Served::start(&data);
    assert_eq!(again.vkey, served_vkey(&data));
    again.stop();

    // The audit log has the CLI's issue and revocation, as actor cli.
    use letro_service::store::AuditStore;
    let store = letro_service::store::SqliteStore::open(&data).unwrap();
    let audit = store.audit_log().unwrap();
    letro_service::store::verify_audit_chain(&audit).unwrap();
    let revocations: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "token.revoke")
        .map(|e| (e.actor.as_str(), e.target.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        revocations,
        [
            ("cli", id.as_str(), "ok"),
            ("cli", "00000000000000ff", "not_found")
        ]
    );
    std::fs::remove_dir_all(d).ok();
}

/// The vkey `letro log key` prints for `data`.
/// `letro serve --database` keeps everything in PostgreSQL, and `letro token issue|list|revoke
/// --database` manage its tokens while it runs, as they do a data directory's.
#[test]
fn serve_and_tokens_on_postgres() {
    let db = pg::PgDatabase::create();
    let d = tmp("serve-postgres");
    let data = d.join("data");
    let served = Served::start_with(&data, &["--database", &db.url]);
    assert!(
        !data.join("letro.sqlite3").exists(),
        "nothing is stored in SQLite"
    );
    let o = letro(&[
        "token",
        "issue",
        "--database",
        &db.url,
        "--role",
        "relay",
        "--subject",
        "relay-pg",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let token = text(&o.stdout).trim().to_owned();
    served.until(&token, 200);
    let o = letro(&["token", "list", "--database", &db.url, "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["subject"], "relay-pg");
    let o = letro(&["token", "revoke", "--database", &db.url, &id]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    served.until(&token, 401);
    // A prover worker on the same database runs until SIGTERM, then stops cleanly.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_letro"))
        .args([
            "prover-worker",
            "--database",
            &db.url,
            "--log-vkey",
            &served.vkey,
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker stopped by itself"
    );
    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = worker.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("letro prover-worker"),
        "{}",
        text(&out.stderr)
    );
    for (args, code, says) in [
        (
            vec![
                "--database",
                "mysql://db/x",
                "--log-vkey",
                served.vkey.as_str(),
            ],
            2,
            "postgres://",
        ),
        (
            vec!["--database", db.url.as_str(), "--log-vkey", "not a key"],
            2,
            "the log's verifier key",
        ),
        (
            vec![
                "--database",
                db.url.as_str(),
                "--log-vkey",
                served.vkey.as_str(),
                "--provers",
                "0",
            ],
            2,
            "--provers",
        ),
    ] {
        let o = letro(&[&["prover-worker"][..], &args[..]].concat());
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    served.stop();
    // Bad database URLs are refused with what is wrong.
    let o = letro(&["token", "list", "--database", "mysql://db/letro"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("postgres://"),
        "{}",
        text(&o.stderr)
    );
    let o = letro(&[
        "token",
        "list",
        "--database",
        "postgres://letro@127.0.0.1:1/x",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("cannot connect to PostgreSQL at 127.0.0.1 (port 1"),
        "{}",
        text(&o.stderr)
    );
    let o = letro(&["token", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

/// `letro serve --standby` on a database another `letro serve` sequences: it listens at once
/// and answers with the leader's answers while the leader lives, and takes over, serving the
/// same log itself, once the leader is killed with SIGKILL. A replica whose log key is missing
/// stops at once; without `--database`, or on 0.0.0.0 without `advertise_url`, `--standby` is
/// refused.
#[test]
fn a_replica_forwards_to_the_leader_and_takes_over_when_it_is_killed() {
    let db = pg::PgDatabase::create();
    let d = tmp("serve-standby");
    let mut leader = Served::start_with(&d.join("leader"), &["--database", &db.url]);
    let key = d.join("leader").join("log.key");
    let replica = Served::start_replica(
        &d.join("replica"),
        &[
            "--database",
            &db.url,
            "--log-key",
            key.to_str().unwrap(),
            "--standby",
        ],
    );
    // While the leader lives, the replica listens and answers with the leader's answers.
    let (st, body) = replica.get("/v1/log/key", None);
    assert_eq!(st, 200, "{body}");
    assert_eq!(body.trim_end(), leader.vkey);
    let (st, body) = replica.get("/v1/no-such-route", None);
    assert_eq!(st, 404, "the leader's JSON 404: {body}");
    assert!(body.contains("\"not_found\""), "{body}");
    assert!(!replica.stderr.lock().unwrap().contains("took over"));
    // A replica whose settings could not take over stops at once, not when the leader dies.
    let mut bad = Command::new(env!("CARGO_BIN_EXE_letro"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--standby",
            "--database",
            &db.url,
        ])
        .arg("--data")
        .arg(d.join("bad"))
        .arg("--log-key")
        .arg(d.join("no-such.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = bad.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = bad.kill();
            panic!("a replica with a missing log key waited to take over");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    bad.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("no-such.key"), "{err}");
    leader.child.kill().unwrap();
    leader.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let vkey = loop {
        let err = replica.stderr.lock().unwrap().clone();
        if let Some(line) = err.lines().find_map(|l| l.strip_prefix("log key: ")) {
            assert!(err.contains("took over"), "{err}");
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no takeover: {err}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(vkey, leader.vkey, "the same log key");
    let (st, body) = replica.get("/healthz", None);
    assert_eq!(st, 200, "{body}");
    let (st, body) = replica.get("/v1/log/key", None);
    assert_eq!((st, body.trim_end()), (200, leader.vkey.as_str()));
    replica.stop();

    let o = letro(&[
        "serve",
        "--data",
        d.join("lone").to_str().unwrap(),
        "--standby",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("needs `database`"),
        "{}",
        text(&o.stderr)
    );
    // A replica listening on every address must be told how the others reach it.
    let o = letro(&[
        "serve",
        "--data",
        d.join("lone").to_str().unwrap(),
        "--database",
        &db.url,
        "--standby",
        "--listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("advertise_url"),
        "{}",
        text(&o.stderr)
    );
}

fn served_vkey(data: &Path) -> String {
    let o = letro(&["log", "key", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout).trim_end().to_owned()
}

#[test]
fn operator_commands_refuse_what_they_cannot_do() {
    let d = tmp("refusals");
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = letro(&["log", "key", "--data", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = text(&o.stderr);
    assert!(
        err.contains("error: there is no log key at") && err.contains("hint: the service creates"),
        "{err}"
    );
    let o = letro(&["log", "key"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    for args in [
        &["token", "list", "--data", empty.to_str().unwrap()][..],
        &[
            "token",
            "revoke",
            "--data",
            empty.to_str().unwrap(),
            "0000000000000000",
        ],
    ] {
        let o = letro(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("holds no service database"));
        assert!(!empty.join("letro.sqlite3").exists(), "nothing created");
    }
    // Every role is named in the hint for an unknown one.
    let o = letro(&[
        "token",
        "issue",
        "--data",
        empty.to_str().unwrap(),
        "--role",
        "root",
        "--subject",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("hint: use relay, sender, client or admin"),
        "{}",
        text(&o.stderr)
    );
    // A log key readable by others is refused, as the service refuses it.
    let key = d.join("open.key");
    std::fs::write(&key, "PRIVATE+KEY+x\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = letro(&["log", "key", "--log-key", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("chmod 600"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(d).ok();
}

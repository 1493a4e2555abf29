//! `letro witness` over HTTP: the C2SP tlog-witness protocol against a fake log (an RFC 6962
//! tree and a log key), every refusal of the spec, durability across a restart, and a kill -9
//! while two clients race: the witness never stores less than it cosigned, nor a fork.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use letro_log::cosignature::{self, CosignerKey};
use letro_log::note::{sign, Note, SignerKey};
use letro_log::rfc6962::Tree;
use letro_log::witness::{parse_size_body, request_body, SIZE_CONTENT_TYPE};
use letro_service::witness::{Witness, WitnessConfig};
use letro_service::{server, unix_now};
use tokio::net::TcpListener;

const ORIGIN: &str = "relay.example/letro-log";
const CHILD_DIR: &str = "LETRO_WITNESS_CHILD_DIR";

struct FakeLog {
    key: SignerKey,
    tree: Tree,
}

impl FakeLog {
    fn new(seed: u8, entries: u64, salt: &str) -> Self {
        let mut tree = Tree::new();
        for i in 0..entries {
            tree.push(format!("{salt}{i}").as_bytes());
        }
        Self {
            key: SignerKey::from_seed(ORIGIN, &[seed; 32]).unwrap(),
            tree,
        }
    }

    fn checkpoint(&self, size: u64) -> String {
        let root =
            base64::engine::general_purpose::STANDARD.encode(self.tree.root_at(size).unwrap());
        sign(&format!("{ORIGIN}\n{size}\n{root}\ntime 1\n"), &[&self.key]).unwrap()
    }

    fn request(&self, old: u64, size: u64) -> String {
        request_body(
            old,
            &self.tree.consistency_proof(old, size).unwrap(),
            &self.checkpoint(size),
        )
    }
}

fn settings(dir: &Path, log: &FakeLog) -> PathBuf {
    let path = dir.join("witness.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"witness.example/w1\"\ndata = \"{}\"\nlisten = \"127.0.0.1:0\"\n\n[[log]]\norigin = \"{ORIGIN}\"\nvkeys = [\"{}\"]\n",
            dir.join("data").display(),
            log.key.verifier_key()
        ),
    )
    .unwrap();
    path
}

async fn start(config: &WitnessConfig) -> (String, Arc<Witness>, tokio::sync::oneshot::Sender<()>) {
    let witness = Arc::new(Witness::open(config).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let router = witness.clone().router();
    tokio::spawn(server::run(
        listener,
        router,
        server::Limits::default(),
        async move {
            let _ = rx.await;
        },
    ));
    (url, witness, stop)
}

/// An HTTP client (reqwest is built without a default TLS provider: ring, as the service's).
fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// POSTs a body to add-checkpoint: (status, content type, body).
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String, String) {
    let r = http
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

/// Checks that `lines` cosign the checkpoint of `size` for `key` at about now.
fn check_cosigned(log: &FakeLog, size: u64, lines: &str, key: &CosignerKey) {
    let note = Note::parse(format!("{}{lines}", log.checkpoint(size)).as_bytes()).unwrap();
    let got = cosignature::verify(&note, std::slice::from_ref(key)).unwrap();
    assert_eq!(got.len(), 1, "{lines}");
    assert!(got[0].time.abs_diff(unix_now()) < 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let log = FakeLog::new(7, 40, "entry ");
    let config = WitnessConfig::read(&settings(dir.path(), &log)).unwrap();
    let (url, witness, stop) = start(&config).await;
    let key = witness.cosigner_key();
    let http = http_client(Duration::from_secs(30));

    // 0 -> 5: cosigned.
    let (st, _, body) = post(&http, &url, log.request(0, 5)).await;
    assert_eq!(st, 200, "{body}");
    check_cosigned(&log, 5, &body, &key);
    // A stale old size: 409 with the latest size, as text/x.tlog.size.
    let (st, ct, body) = post(&http, &url, log.request(0, 7)).await;
    assert_eq!((st, ct.as_str()), (409, SIZE_CONTENT_TYPE));
    assert_eq!(parse_size_body(body.as_bytes()), Some(5));
    // Resent from 5: cosigned.
    let (st, _, body) = post(&http, &url, log.request(5, 9)).await;
    assert_eq!(st, 200, "{body}");
    check_cosigned(&log, 9, &body, &key);
    // The same checkpoint again is consistent with itself.
    assert_eq!(post(&http, &url, log.request(9, 9)).await.0, 200);

    // 404: an origin the witness does not follow.
    let stranger = FakeLog::new(7, 40, "entry ");
    let other_origin = log.request(9, 12).replace(ORIGIN, "other.example/log");
    assert_eq!(post(&http, &url, other_origin).await.0, 404);
    // 403: signed by another key under the same origin.
    let impostor = FakeLog {
        key: SignerKey::from_seed(ORIGIN, &[8; 32]).unwrap(),
        tree: stranger.tree.clone(),
    };
    assert_eq!(post(&http, &url, impostor.request(9, 12)).await.0, 403);
    // 400: old beyond the size; a rollback sent with the right old size; a malformed body.
    let mut beyond = log.request(9, 12);
    beyond = beyond.replacen("old 9", "old 13", 1);
    assert_eq!(post(&http, &url, beyond).await.0, 400);
    let rollback = request_body(9, &[], &log.checkpoint(6));
    assert_eq!(post(&http, &url, rollback).await.0, 400);
    assert_eq!(post(&http, &url, "old 9\nnot base64\n\n").await.0, 400);
    assert_eq!(post(&http, &url, vec![0xffu8, 0xfe]).await.0, 400);
    // A fork: another history of the same size (409, the latest size) or larger (422).
    let fork = FakeLog {
        key: SignerKey::from_seed(ORIGIN, &[7; 32]).unwrap(),
        tree: FakeLog::new(7, 40, "forked ").tree,
    };
    let (st, ct, body) = post(&http, &url, request_body(9, &[], &fork.checkpoint(9))).await;
    assert_eq!(
        (st, ct.as_str(), body.as_str()),
        (409, SIZE_CONTENT_TYPE, "9\n")
    );
    let mut bad_proof = log.request(9, 20);
    let proof_line = bad_proof.lines().nth(1).unwrap().to_owned();
    let mut flipped = base64::engine::general_purpose::STANDARD
        .decode(&proof_line)
        .unwrap();
    flipped[0] ^= 1;
    bad_proof = bad_proof.replacen(
        &proof_line,
        &base64::engine::general_purpose::STANDARD.encode(flipped),
        1,
    );
    assert_eq!(post(&http, &url, bad_proof).await.0, 422);
    // Oversized: refused before parsing.
    assert_eq!(post(&http, &url, vec![b'a'; 65 * 1024]).await.0, 413);
    // Nothing refused moved the latest.
    let latest = witness.latest(ORIGIN).unwrap().unwrap();
    assert_eq!(
        (latest.size, latest.root),
        (9, log.tree.root_at(9).unwrap())
    );

    // Restart on the same directory: the same key, the same latest.
    stop.send(()).unwrap();
    drop(witness);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (url, witness, stop) = start(&config).await;
    assert_eq!(witness.cosigner_key(), key);
    let (st, ct, body) = post(&http, &url, log.request(5, 12)).await;
    assert_eq!(
        (st, ct.as_str(), body.as_str()),
        (409, SIZE_CONTENT_TYPE, "9\n")
    );
    let (st, _, body) = post(&http, &url, log.request(9, 40)).await;
    assert_eq!(st, 200, "{body}");
    check_cosigned(&log, 40, &body, &key);
    stop.send(()).unwrap();
}

#[test]
fn bad_settings_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = FakeLog::new(7, 1, "e");
    let good = std::fs::read_to_string(settings(dir.path(), &log)).unwrap();
    let vkey = log.key.verifier_key().to_string();
    let cases = [
        (good.replace("name =", "nmae ="), "unknown field"),
        (good.replace(&vkey, "not a key"), "vkey"),
        (
            good.replace(
                &format!("origin = \"{ORIGIN}\""),
                "origin = \"other.example/log\"",
            ),
            "named like its origin",
        ),
        (
            good.replace(&format!("vkeys = [\"{vkey}\"]"), "vkeys = []"),
            "no vkeys",
        ),
        (
            format!("{good}\n[[log]]\norigin = \"{ORIGIN}\"\nvkeys = [\"{vkey}\"]\n"),
            "twice",
        ),
        (
            good[..good.find("[[log]]").unwrap()].to_owned(),
            "no [[log]]",
        ),
    ];
    for (text, says) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let e = WitnessConfig::read(&path).unwrap_err().to_string();
        assert!(e.contains(says), "{e} (expected {says:?})");
    }
    // A key file made for another name is refused.
    let config = WitnessConfig::read(&settings(dir.path(), &log)).unwrap();
    Witness::open(&config).unwrap();
    let mut renamed = config.clone();
    renamed.name = "witness.example/w2".into();
    assert!(Witness::open(&renamed)
        .unwrap_err()
        .to_string()
        .contains("named"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the witness process of kill_9_never_forgets_a_cosignature, which starts it"]
async fn witness_child() {
    let dir =
        PathBuf::from(std::env::var(CHILD_DIR).expect("run by kill_9_never_forgets_a_cosignature"));
    let config = WitnessConfig::read(&dir.join("witness.toml")).unwrap();
    let witness = Arc::new(Witness::open(&config).unwrap());
    let listener = crate::common::announce_listener(&dir).await;
    server::run(
        listener,
        witness.router(),
        server::Limits::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_never_forgets_a_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(FakeLog::new(7, 2000, "entry "));
    let config = WitnessConfig::read(&settings(dir.path(), &log)).unwrap();
    // The key is made here, before the child starts, so the clients can check cosignatures.
    let key = Witness::open(&config).unwrap().cosigner_key();
    let (mut child, addr) =
        crate::common::spawn_child_server("witness::witness_child", CHILD_DIR, dir.path()).await;
    let url = format!("http://{addr}");

    // Two clients race, each growing the log from the size it believes the witness holds.
    let cosigned: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..2u64 {
        let (log, cosigned, url, key) = (log.clone(), cosigned.clone(), url.clone(), key.clone());
        clients.push(tokio::spawn(async move {
            let http = http_client(Duration::from_secs(10));
            let mut old = 0;
            loop {
                let size = (old + 1 + c).min(2000);
                let Ok(r) = http
                    .post(format!("{url}/add-checkpoint"))
                    .body(log.request(old, size))
                    .send()
                    .await
                else {
                    break; // killed
                };
                let status = r.status().as_u16();
                let Ok(body) = r.text().await else { break };
                match status {
                    200 => {
                        check_cosigned(&log, size, &body, &key);
                        cosigned.lock().unwrap().push(size);
                        old = size;
                    }
                    409 => old = parse_size_body(body.as_bytes()).unwrap(),
                    s => panic!("unexpected {s}: {body}"),
                }
                if size == 2000 {
                    break;
                }
            }
        }));
    }
    for _ in 0..3000 {
        if cosigned.lock().unwrap().len() >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let max = cosigned.lock().unwrap().iter().copied().max().unwrap();
    assert!(cosigned.lock().unwrap().len() >= 60);

    // After the kill: the stored latest is at least every size cosigned, on the log's history.
    std::fs::remove_file(dir.path().join("port")).unwrap();
    let witness = Witness::open(&config).unwrap();
    let latest = witness.latest(ORIGIN).unwrap().unwrap();
    assert!(latest.size >= max, "cosigned {max}, stored {}", latest.size);
    assert_eq!(latest.root, log.tree.root_at(latest.size).unwrap());
    // And nothing older or forked is cosigned now.
    let answer = witness.add_checkpoint(log.request(0, max).as_bytes(), unix_now());
    assert!(
        matches!(answer, letro_service::witness::Answer::Refused(_)),
        "{answer:?}"
    );
}

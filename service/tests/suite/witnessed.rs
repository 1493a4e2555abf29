//! The log and its witnesses: every checkpoint goes to `letro witness` over HTTP with an RFC
//! 6962 consistency proof; the published checkpoint carries the verified cosignature; with a
//! quorum, a witness that is down holds back publication but never the intake of events.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use letro_log::checkpoint::SignedCheckpoint;
use letro_log::cosignature::{self, CosignerKey};
use letro_log::note::Note;
use letro_log::witness::FollowedLog;
use letro_service::witness::{Witness, WitnessConfig};
use letro_service::witnessing::WitnessTarget;
use letro_service::{keys, server, Service};
use tokio::net::TcpListener;

/// A `letro witness` following the service's log, on a socket; (url, witness, stop).
pub(crate) async fn start_witness(
    dir: &std::path::Path,
    log_dir: &std::path::Path,
    port: u16,
) -> (String, Arc<Witness>, tokio::sync::oneshot::Sender<()>) {
    let log_key = keys::load_or_create(log_dir, ORIGIN)
        .unwrap()
        .verifier_key();
    let config = WitnessConfig {
        name: "witness.example/w1".into(),
        data: dir.to_path_buf(),
        listen: ([127, 0, 0, 1], port).into(),
        logs: vec![FollowedLog {
            origin: ORIGIN.into(),
            keys: vec![log_key],
        }],
    };
    let witness = Arc::new(Witness::open(&config).unwrap());
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::run(
        listener,
        witness.clone().router(),
        server::Limits::default(),
        async move {
            let _ = rx.await;
        },
    ));
    (url, witness, stop)
}

async fn published(router: &axum::Router, relay: &str) -> u64 {
    call(router, "GET", "/v1/log/state", Some(relay), None)
        .await
        .1["published"]
        .as_u64()
        .unwrap()
}

async fn log_event(router: &axum::Router, relay: &str, n: u32) {
    let (st, v) = call(
        router,
        "POST",
        "/v1/submissions",
        Some(relay),
        Some(submission(format!("letter {n}").as_bytes(), "bob")),
    )
    .await;
    assert_eq!(st.as_u16(), 201, "{v}");
}

fn cosigners(text: &str, key: &CosignerKey) -> usize {
    let note = Note::parse(text.as_bytes()).unwrap();
    cosignature::verify(&note, std::slice::from_ref(key))
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_cosigned_and_a_quorum_holds_back_publication() {
    let log_dir = tempfile::tempdir().unwrap();
    let witness_dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(log_dir.path());
    let (url, witness, stop_witness) = start_witness(witness_dir.path(), log_dir.path(), 0).await;
    let key = witness.cosigner_key();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();

    let mut cfg = config(log_dir.path());
    cfg.checkpoint_interval = Duration::from_millis(100);
    cfg.witness_timeout = Duration::from_secs(2);
    cfg.witnesses = vec![WitnessTarget {
        key: key.clone(),
        url: url.clone(),
    }];
    cfg.witness_quorum = 1;
    let service = Service::start(cfg).unwrap();
    let router = service.router();

    // Two rounds: the first from size 0, the second with a consistency proof from 2.
    for (n, size) in [(0, 2), (2, 3)] {
        for i in n..size {
            log_event(&router, &tokens.relay, i).await;
        }
        let mut text = String::new();
        for _ in 0..100 {
            if published(&router, &tokens.relay).await == u64::from(size) {
                text = call(&router, "GET", "/v1/checkpoint", None, None)
                    .await
                    .1
                    .as_str()
                    .unwrap()
                    .to_owned();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            !text.is_empty(),
            "no checkpoint of size {size} was published"
        );
        // Signed by the log, cosigned by the witness; the witness stored the same tree.
        let cp = SignedCheckpoint::parse(&text).unwrap();
        let log_key = keys::load_or_create(log_dir.path(), ORIGIN)
            .unwrap()
            .verifier_key();
        let verified = cp.verify(&[log_key]).unwrap();
        assert_eq!(cosigners(&text, &key), 1, "{text}");
        let latest = witness.latest(ORIGIN).unwrap().unwrap();
        assert_eq!(latest.size, u64::from(size));
        assert_eq!(Some(latest.root), verified.checkpoint().rfc6962_root());
    }

    // The witness goes down: events are still accepted, the published size stays.
    stop_witness.send(()).unwrap();
    drop(witness);
    tokio::time::sleep(Duration::from_millis(200)).await;
    log_event(&router, &tokens.relay, 3).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(published(&router, &tokens.relay).await, 3);
    let state = call(&router, "GET", "/v1/log/state", Some(&tokens.relay), None)
        .await
        .1;
    assert_eq!(state["sequenced"], 4);
    let (_, metrics) = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains(
            "letro_witness_requests_total{witness=\"witness.example/w1\",outcome=\"unreachable\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"cosigned\"} 2"), "{metrics}");

    // Back on the same port and data: it cosigns from the size it stored, and the log publishes.
    let (_, witness, stop_witness) = start_witness(witness_dir.path(), log_dir.path(), port).await;
    let mut done = false;
    for _ in 0..100 {
        if published(&router, &tokens.relay).await == 4 {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        done,
        "the checkpoint of size 4 was not published once the witness came back"
    );
    assert_eq!(witness.latest(ORIGIN).unwrap().unwrap().size, 4);
    stop_witness.send(()).unwrap();
    drop(router);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_does_not_trust_the_log_is_counted_and_skipped() {
    let log_dir = tempfile::tempdir().unwrap();
    let witness_dir = tempfile::tempdir().unwrap();
    let other_log = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(log_dir.path());
    // The witness follows the origin with another key: 403 to every checkpoint.
    let (url, witness, stop) = start_witness(witness_dir.path(), other_log.path(), 0).await;
    let mut cfg = config(log_dir.path());
    cfg.checkpoint_interval = Duration::from_millis(100);
    cfg.witnesses = vec![WitnessTarget {
        key: witness.cosigner_key(),
        url,
    }];
    cfg.witness_quorum = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();
    log_event(&router, &tokens.relay, 0).await;
    // Quorum 0: published without a cosignature.
    let mut ok = false;
    for _ in 0..100 {
        if published(&router, &tokens.relay).await == 1 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok);
    let text = call(&router, "GET", "/v1/checkpoint", None, None)
        .await
        .1
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cosigners(&text, &witness.cosigner_key()), 0);
    let (_, metrics) = call(&router, "GET", "/metrics", Some(&tokens.admin), None).await;
    assert!(
        metrics.as_str().unwrap().contains("outcome=\"forbidden\""),
        "{metrics}"
    );
    assert_eq!(witness.latest(ORIGIN).unwrap(), None);
    stop.send(()).unwrap();
    drop(router);
    service.shutdown().await;
}

/// With witnesses, the tiles directory is written even when a round has nothing new to
/// cosign: after a restart on an idle log, the first round writes every tile and the
/// checkpoint (the cosigned one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_witnessed_log_still_writes_its_tiles_after_a_restart() {
    let log_dir = tempfile::tempdir().unwrap();
    let witness_dir = tempfile::tempdir().unwrap();
    let tiles = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(log_dir.path());
    let (url, witness, stop) = start_witness(witness_dir.path(), log_dir.path(), 0).await;
    let key = witness.cosigner_key();
    let cfg = |with_tiles: bool| {
        let mut cfg = config(log_dir.path());
        cfg.witnesses = vec![WitnessTarget {
            key: key.clone(),
            url: url.clone(),
        }];
        cfg.witness_quorum = 1;
        cfg.tiles_directory = with_tiles.then(|| tiles.path().to_path_buf());
        cfg
    };
    // First run, no tiles directory: three events, published cosigned.
    let service = Service::start(cfg(false)).unwrap();
    let router = service.router();
    for i in 0..3 {
        log_event(&router, &tokens.relay, i).await;
    }
    service.publish().await.unwrap();
    assert_eq!(published(&router, &tokens.relay).await, 3);
    drop(router);
    service.shutdown().await;
    // Restart with a tiles directory and nothing new: one round writes them.
    let service = Service::start(cfg(true)).unwrap();
    service.publish().await.unwrap();
    let text = std::fs::read_to_string(tiles.path().join("checkpoint")).unwrap();
    assert_eq!(cosigners(&text, &key), 1, "{text}");
    assert!(tiles.path().join("tile/entries/000.p/3").is_file());
    assert!(tiles.path().join("tile/0/000.p/3").is_file());
    stop.send(()).unwrap();
    service.shutdown().await;
}

//! Connection hygiene on a real socket: thousands of idle and half-sent connections do not keep
//! `/healthz` or a real request from being answered; connections that send no complete request
//! are closed after the header timeout; the connection cap closes idle connections for new
//! ones but never one whose request is in flight.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::*;
use letro_service::{serve, ServeError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), ServeError>>,
}

async fn start(dir: &std::path::Path, header_timeout: Duration, max_connections: usize) -> Running {
    let listener = letro_service::server::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(dir);
    cfg.header_timeout = header_timeout;
    cfg.max_connections = max_connections;
    cfg.request_timeout = Duration::from_secs(5);
    let (stop, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve(cfg, listener, async move {
        let _ = rx.await;
    }));
    Running { addr, stop, handle }
}

impl Running {
    /// Stops the service; it must be done within a few seconds, whatever clients still hold.
    async fn shut_down(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("the service did not stop in time")
            .unwrap()
            .unwrap();
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// One request on a new connection (`connection: close`); the status and the time it took.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String, Duration) {
    let start = Instant::now();
    let mut s = connect(addr);
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n{auth}\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {resp:?}"));
    (status, resp, start.elapsed())
}

/// Whether the server has closed `s` (end of stream or reset), without waiting.
fn closed_by_server(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let mut reader = s;
    let closed = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            // Data (an error response): keep reading to see whether the end follows.
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// Waits until the server closes `s`; how long that took from `since`.
fn time_to_close(s: &mut TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return since.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!(
                    "the server kept the connection open for {:?}",
                    since.elapsed()
                )
            }
            Err(_) => return since.elapsed(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_slow_connections_do_not_block_requests() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let cap = 64;
    let server = start(dir.path(), Duration::from_secs(1), cap).await;
    let addr = server.addr;
    // The client side needs a descriptor per connection too: raise this process's limit as
    // the service does, and stay well under it.
    let limit = rlimit::increase_nofile_limit(1 << 20).unwrap();
    let n = usize::try_from(limit.saturating_sub(1000))
        .unwrap()
        .min(2000);
    assert!(n >= 500, "open-file limit {limit} is too low for this test");

    let flood = tokio::task::spawn_blocking(move || {
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let mut s = connect(addr);
            if i % 2 == 0 {
                // Half a request head, never finished.
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n");
            }
            held.push(s);
        }
        held
    })
    .await
    .unwrap();
    assert_eq!(flood.len(), n);

    // While they are held, the health check and real requests are answered at once.
    let (st, resp, took) =
        tokio::task::spawn_blocking(move || request(addr, "GET", "/healthz", None, ""))
            .await
            .unwrap();
    assert_eq!(st, 200, "{resp}");
    assert!(took < Duration::from_secs(3), "/healthz took {took:?}");
    let relay = tokens.relay.clone();
    let (st, resp, took) = tokio::task::spawn_blocking(move || {
        let body = submission(b"still served", "r").to_string();
        request(addr, "POST", "/v1/submissions", Some(&relay), &body)
    })
    .await
    .unwrap();
    assert_eq!(st, 201, "{resp}");
    assert!(took < Duration::from_secs(3), "a submission took {took:?}");
    let (st, resp, took) =
        tokio::task::spawn_blocking(move || request(addr, "GET", "/v1/log/key", None, ""))
            .await
            .unwrap();
    assert_eq!(st, 200, "{resp}");
    assert!(took < Duration::from_secs(3), "the log key took {took:?}");

    // The server holds at most `cap` of them: the others were closed (for newer connections,
    // or by the header timeout).
    let held = flood;
    let open = tokio::task::spawn_blocking(move || {
        let open = held.iter().filter(|s| !closed_by_server(s)).count();
        (open, held)
    })
    .await
    .unwrap();
    assert!(
        open.0 <= cap,
        "{} of {n} slow connections still open",
        open.0
    );
    // And after the header timeout none.
    let held = open.1;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still =
        tokio::task::spawn_blocking(move || held.iter().filter(|s| !closed_by_server(s)).count())
            .await
            .unwrap();
    assert_eq!(still, 0, "slow connections outlived the header timeout");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_idle_connections_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Duration::from_secs(1), 64).await;
    let addr = server.addr;
    let times = tokio::task::spawn_blocking(move || {
        // Sends nothing.
        let silent_since = Instant::now();
        let mut silent = connect(addr);
        // Sends half a request head.
        let half_since = Instant::now();
        let mut half = connect(addr);
        half.write_all(b"GET /healthz HTTP/1.1\r\nhost: te")
            .unwrap();
        // Keep-alive: one whole request answered, then idle.
        let mut idle = connect(addr);
        idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        let mut got = Vec::new();
        while !got.ends_with(b"{\"status\":\"ok\"}") {
            let k = idle.read(&mut buf).unwrap();
            assert!(k > 0, "closed before answering");
            got.extend_from_slice(&buf[..k]);
        }
        let idle_since = Instant::now();
        assert!(got.starts_with(b"HTTP/1.1 200"));
        [
            time_to_close(&mut silent, silent_since),
            time_to_close(&mut half, half_since),
            time_to_close(&mut idle, idle_since),
        ]
    })
    .await
    .unwrap();
    for (what, t) in ["silent", "half-sent", "idle keep-alive"].iter().zip(times) {
        assert!(
            t >= Duration::from_millis(800) && t <= Duration::from_secs(3),
            "{what} connection closed after {t:?}, the header timeout is 1 s"
        );
    }
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_closes_idle_connections_for_new_ones_but_never_a_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = issue_tokens(dir.path());
    let cap = 8;
    // A header timeout far beyond the test: whatever closes a connection here is the cap.
    let server = start(dir.path(), Duration::from_secs(60), cap).await;
    let addr = server.addr;
    let relay = tokens.relay.clone();
    tokio::task::spawn_blocking(move || {
        // A request in flight: its head is complete, its body still arriving.
        let body = submission(b"in flight", "r").to_string();
        let (first, rest) = body.split_at(10);
        let mut busy = connect(addr);
        write!(
            busy,
            "POST /v1/submissions HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\
             authorization: Bearer {relay}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{first}",
            body.len()
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        // Many more connections than the cap, each sending nothing.
        let idle: Vec<TcpStream> = (0..100).map(|_| connect(addr)).collect();
        let (st, resp, took) = request(addr, "GET", "/healthz", None, "");
        assert_eq!(st, 200, "{resp}");
        assert!(took < Duration::from_secs(3), "/healthz took {took:?}");
        std::thread::sleep(Duration::from_millis(200));
        let open: Vec<usize> = idle
            .iter()
            .enumerate()
            .filter(|(_, s)| !closed_by_server(s))
            .map(|(i, _)| i)
            .collect();
        // The busy one holds a slot; the newest idle ones hold the others.
        assert!(open.len() < cap, "{open:?}");
        assert!(
            open.iter().all(|&i| i >= 100 - cap),
            "the oldest idle connections go first: {open:?}"
        );
        assert!(!closed_by_server(&busy), "a request in flight was cut");
        // The request in flight completes normally.
        busy.write_all(rest.as_bytes()).unwrap();
        let mut resp = String::new();
        busy.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    })
    .await
    .unwrap();
    server.shut_down().await;
}

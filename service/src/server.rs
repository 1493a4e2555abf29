//! The HTTP accept loop: hyper's HTTP/1.1 server, under limits that keep one client's idle or
//! slow connections from starving everyone else.
//!
//! - **Header timeout** ([`Limits::header_timeout`], setting `header_timeout_seconds`): hyper's
//!   header read timeout. A connection must deliver a complete request head within it of
//!   opening, or of the end of the previous response; else it is closed. That closes
//!   connections that send nothing, send half a request (slowloris), or idle between keep-alive
//!   requests. Request bodies are read by the handlers, within the request timeout (503
//!   `timeout`).
//! - **Connection cap** ([`Limits::max_connections`], setting `max_connections`): at most this
//!   many connections are served at once. At the cap, a newly accepted connection replaces the
//!   connection idle longest, one with no request in flight (waiting for its first request,
//!   sending one slowly, or idle between keep-alive requests), which is closed. A connection
//!   whose request is in flight, its response included, is never closed for another: when
//!   every connection has one, the new connection waits, and those behind it wait in the
//!   kernel's listen backlog, until one is done.
//! - **Open files**: [`raise_open_file_limit`] raises the soft `RLIMIT_NOFILE` to the hard limit
//!   (the `rlimit` crate), and [`connection_cap`] lowers the cap to fit under it with
//!   [`RESERVED_FILES`] to spare for the database, the log key and callbacks.
//! - **Accept errors** (no file descriptor, buffer or memory left) never stop or spin the loop:
//!   it closes the idlest connection, if any, waits [`ACCEPT_BACKOFF`] and accepts again.
//!
//! At shutdown the loop stops accepting, closes idle connections, lets each request in flight
//! be answered (hyper's graceful shutdown: the connection closes after its response), and waits
//! for them at most `request_timeout + header_timeout`; it closes any left then.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};

use crate::ServeError;

/// The limits of the accept loop (from [`crate::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`crate::Config::header_timeout`].
    pub header_timeout: Duration,
    /// [`crate::Config::max_connections`], before [`connection_cap`].
    pub max_connections: usize,
    /// [`crate::Config::request_timeout`]: with `header_timeout`, how long shutdown waits for
    /// requests in flight.
    pub request_timeout: Duration,
}

impl Default for Limits {
    /// The service's defaults ([`crate::Config::new`]): 10 s for a request head and for a
    /// request, 4096 connections.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Open files kept free of connections (at most half the limit): the database and its WAL
/// files, the log key, callback connections, the prover's files.
pub const RESERVED_FILES: u64 = 256;

/// The listen backlog [`bind`] asks for (the kernel caps it at `net.core.somaxconn`): where
/// connections wait while the service is at its cap or busy, and what absorbs a burst. The
/// standard library's and tokio's 128 makes a burst of connections wait for SYN retransmits.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as tokio's `bind`).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Largest connection cap: a sanity bound for settings given in code.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// Pause after an accept error other than a refused or reset connection.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How often the loop, at the cap with every connection busy, looks again for an idle one.
const RECHECK: Duration = Duration::from_millis(20);

/// `busy` of a connection being closed for another: a request that starts now is not counted.
const CLOSING: usize = usize::MAX / 2;

/// Raises the soft open-file limit to the hard limit (at most 2^20); returns the soft limit
/// now, or `None` when it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(1 << 20) {
        Ok(soft) => Some(soft),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The connection cap for `wanted` under an open-file limit: `wanted`, lowered to leave
/// [`RESERVED_FILES`] (or half the limit, if smaller) free, at least 1 and at most
/// [`MAX_CONNECTIONS`].
pub fn connection_cap(wanted: usize, open_files: Option<u64>) -> usize {
    let wanted = wanted.clamp(1, MAX_CONNECTIONS);
    let Some(limit) = open_files else {
        return wanted;
    };
    let reserve = RESERVED_FILES.min(limit / 2);
    let room = usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

/// One connection's activity.
struct Conn {
    /// Requests in flight (until their response is sent), or [`CLOSING`] and more.
    busy: AtomicUsize,
    /// When `busy` last fell to 0 (or the connection opened), in µs since `epoch`.
    idle_since: AtomicU64,
    epoch: Instant,
}

impl Conn {
    fn mark_idle(&self) {
        let us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.idle_since.store(us, Ordering::Release);
    }
}

/// Marks its connection busy from a request's start until its response is sent (the guard
/// lives in the response body) or dropped.
struct Busy(Arc<Conn>);

impl Busy {
    fn start(conn: Arc<Conn>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Self(conn)
    }

    /// Keeps the guard alive inside the body's frame closure.
    fn keep(&self) {}
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.mark_idle();
        }
    }
}

struct Entry {
    conn: Arc<Conn>,
    close: oneshot::Sender<()>,
}

/// The open connections, to find the idlest.
struct Registry {
    epoch: Instant,
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
}

impl Registry {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // The map stays consistent even if a holder panicked: take it over.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self) -> (u64, Arc<Conn>, oneshot::Receiver<()>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            epoch: self.epoch,
        });
        conn.mark_idle();
        let (close, closed) = oneshot::channel();
        self.entries().insert(
            id,
            Entry {
                conn: conn.clone(),
                close,
            },
        );
        (id, conn, closed)
    }

    fn remove(&self, id: u64) {
        self.entries().remove(&id);
    }

    /// Closes the connection idle longest; `false` if every connection has a request in
    /// flight (or there is none).
    fn close_idlest(&self) -> bool {
        let mut entries = self.entries();
        loop {
            let victim = entries
                .iter()
                .filter(|(_, e)| e.conn.busy.load(Ordering::Acquire) == 0)
                // Ties (within a µs) go to the older connection: ids grow.
                .min_by_key(|(id, e)| (e.conn.idle_since.load(Ordering::Acquire), **id))
                .map(|(id, _)| *id);
            let Some(id) = victim else {
                return false;
            };
            // A request may have started since the load: then look again.
            let Some(entry) = entries.remove(&id) else {
                return false;
            };
            if entry
                .conn
                .busy
                .compare_exchange(0, CLOSING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let _ = entry.close.send(());
                return true;
            }
            entries.insert(id, entry);
        }
    }

    /// Closes every connection with no request in flight (at shutdown); how many.
    fn close_idle(&self) -> usize {
        let mut n = 0;
        while self.close_idlest() {
            n += 1;
        }
        n
    }

    /// Closes every connection; how many.
    fn close_all(&self) -> usize {
        let mut entries = self.entries();
        let n = entries.len();
        for (_, e) in entries.drain() {
            let _ = e.close.send(());
        }
        n
    }
}

/// The router as hyper calls it, marking the connection busy while a request is in flight.
struct Tracked {
    inner: TowerToHyperService<Router>,
    conn: Arc<Conn>,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = Busy::start(self.conn.clone());
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(move |body| {
                Body::new(body.map_frame(move |frame| {
                    busy.keep();
                    frame
                }))
            }))
        })
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then shuts down as
/// the module documentation says.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let open_files = raise_open_file_limit();
    let cap = connection_cap(limits.max_connections, open_files);
    if cap < limits.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            open_files = ?open_files,
            cap,
            "max_connections lowered to fit the open-file limit"
        );
    }
    tracing::info!(
        max_connections = cap,
        open_files = ?open_files,
        header_timeout_ms = u64::try_from(limits.header_timeout.as_millis()).unwrap_or(u64::MAX),
        "serving HTTP"
    );
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let registry = Arc::new(Registry::new());
    let permits = Arc::new(Semaphore::new(cap));
    let (stop, stopping) = watch::channel(false);
    let shutdown = shutdown;
    tokio::pin!(shutdown);
    let mut warned: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors, buffers or memory: free one if a connection is idle,
                // and try again shortly.
                let closed = registry.close_idlest();
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(error = %e, closed_idle = closed, "accept failed; retrying");
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let permit = tokio::select! {
            p = slot(&permits, &registry) => p,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (id, conn, closed) = registry.add();
        tokio::spawn(connection(
            stream,
            Tracked {
                inner: TowerToHyperService::new(router.clone()),
                conn,
            },
            builder.clone(),
            Done {
                registry: registry.clone(),
                id,
                _permit: permit,
            },
            closed,
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let idle = registry.close_idle();
    tracing::debug!(closed = idle, "idle connections closed for shutdown");
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let drain = limits.request_timeout.saturating_add(limits.header_timeout);
    if tokio::time::timeout(drain, permits.acquire_many(all))
        .await
        .is_err()
    {
        let n = registry.close_all();
        tracing::warn!(
            closed = n,
            "connections still open after the drain time were closed"
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(all)).await;
    }
    Ok(())
}

/// A slot for a new connection: a free one, else the one the idlest connection frees, else
/// (every connection busy) the first to free up.
async fn slot(permits: &Arc<Semaphore>, registry: &Registry) -> OwnedSemaphorePermit {
    loop {
        if let Ok(p) = permits.clone().try_acquire_owned() {
            return p;
        }
        // After closing one, its slot comes as soon as its task ends; otherwise look again
        // shortly for a connection gone idle.
        let wait = if registry.close_idlest() {
            Duration::from_secs(1)
        } else {
            RECHECK
        };
        tokio::select! {
            Ok(p) = permits.clone().acquire_owned() => return p,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Leaves the registry and frees the slot when a connection's task ends.
struct Done {
    registry: Arc<Registry>,
    id: u64,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

async fn connection(
    stream: TcpStream,
    service: Tracked,
    builder: Arc<http1::Builder>,
    _done: Done,
    mut closed: oneshot::Receiver<()>,
    mut stopping: watch::Receiver<bool>,
) {
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopped = *stopping.borrow_and_update();
    if stopped {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = &mut closed => {
                tracing::debug!("connection closed to make room");
                return;
            }
            _ = stopping.changed(), if !stopped => {
                stopped = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert_eq!(connection_cap(4096, Some(1024)), 768);
        assert_eq!(connection_cap(4096, Some(20_000)), 4096);
        assert_eq!(connection_cap(100, Some(100)), 50);
        assert_eq!(connection_cap(0, None), 1);
        assert_eq!(connection_cap(10, Some(0)), 1);
        assert_eq!(connection_cap(usize::MAX, None), MAX_CONNECTIONS);
    }

    #[test]
    fn the_idlest_connection_without_a_request_is_closed_first() {
        let r = Registry::new();
        let (a, ca, mut closed_a) = r.add();
        let (_b, cb, mut closed_b) = r.add();
        let (_c, cc, mut closed_c) = r.add();
        ca.idle_since.store(5, Ordering::Release);
        cb.idle_since.store(1, Ordering::Release);
        cc.idle_since.store(9, Ordering::Release);
        // b is idle longest but has a request in flight.
        let busy = Busy::start(cb.clone());
        assert!(r.close_idlest());
        assert!(closed_a.try_recv().is_ok(), "a: idle since 5");
        assert!(closed_b.try_recv().is_err());
        r.remove(a);
        std::thread::sleep(Duration::from_millis(1));
        drop(busy);
        assert_eq!(cb.busy.load(Ordering::Acquire), 0);
        assert!(
            cb.idle_since.load(Ordering::Acquire) >= 1000,
            "idle again, since now"
        );
        assert_eq!(r.close_idle(), 2);
        assert!(closed_b.try_recv().is_ok() && closed_c.try_recv().is_ok());
        assert!(!r.close_idlest(), "none left");
        let _ = cc;
    }
}

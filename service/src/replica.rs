//! Replicas on one PostgreSQL database ([`serve`]): every replica listens and answers the whole
//! API; exactly one of them, the one that holds the sequencer lock, sequences, integrates and
//! signs the log. The others forward each request to it.
//!
//! - **Who leads.** The service that holds the sequencer lock announces the URL at which the
//!   replicas reach it ([`crate::Config::advertise_url`]) through its own sequencer session
//!   ([`PostgresStore::announce_sequencer`]). A replica believes that URL only while the
//!   announcing session still holds the lock ([`PostgresStore::sequencer_url`]), so it never
//!   forwards to a leader that died.
//! - **Forwarding.** A replica that does not lead sends each request as it came (method, path,
//!   query, headers but the hop-by-hop ones, body) to the leader, with `Via: 1.1 letro-replica`,
//!   and answers with the leader's answer. The leader authenticates and checks everything; the
//!   replica adds nothing and decides nothing. A request that already came through a replica is
//!   not forwarded again (no loops).
//! - **No leader.** Between a leader's death and the next takeover, or when the leader cannot be
//!   reached, the replica answers 503 `unavailable` with `Retry-After: 1`. A write whose answer
//!   was lost this way is safe to send again: the API answers a repeated event with the index it
//!   was stored at.
//! - **Takeover.** Every replica tries the sequencer lock as a standby does. The one that gets it
//!   stops forwarding (requests in flight finish), loads the log and serves the API itself on
//!   the same listening socket: connections that arrive meanwhile wait in its backlog.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;

use crate::api::ApiError;
use crate::store::PostgresStore;
use crate::{server, Config, ServeError, Service};

/// What a replica puts in `Via` (RFC 9110 §7.6.3) on the requests it forwards, and how it
/// recognises a request that already came through one.
pub const VIA: &str = "1.1 letro-replica";

/// The `application_name` of the session a replica reads the leader's URL with.
pub const APPLICATION_NAME: &str = "letro-replica";

/// How long a replica trusts the leader's URL it read before it reads it again (at once after a
/// failed connection).
const LEADER_TTL: Duration = Duration::from_secs(1);

/// The base URL the other replicas reach a service listening on `bound` at: `http://IP:PORT`,
/// unless the address is unspecified (`0.0.0.0`, `[::]`), where only the operator knows it.
pub fn advertise_url_for(bound: std::net::SocketAddr) -> Result<String, ServeError> {
    if bound.ip().is_unspecified() {
        return Err(ServeError::Replica(format!(
            "listening on {bound}, the replicas cannot tell how to reach this one: set \
             advertise_url (--advertise-url, LETRO_ADVERTISE_URL), e.g. http://10.0.1.7:{}",
            bound.port()
        )));
    }
    Ok(format!("http://{bound}"))
}

/// Checks an advertised base URL: `http://` or `https://`, a host, no path, query or
/// credentials. Returns it without a trailing `/`.
pub fn check_advertise_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("advertise_url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "advertise_url {url:?}: must be http:// or https://"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("advertise_url {url:?}: names no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("advertise_url {url:?}: must not hold credentials"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "advertise_url {url:?}: a base URL only (scheme, host and port), no path or query"
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A replica that does not lead: forwards every request to the one that does.
pub struct Follower {
    database: String,
    store: Mutex<Option<PostgresStore>>,
    client: reqwest::Client,
    own: String,
    leader: tokio::sync::Mutex<Option<(Instant, Option<String>)>>,
    body_limit: usize,
}

impl Follower {
    /// A follower of the database at `database` that announces itself as `own` when it leads,
    /// reading request bodies up to `body_limit` bytes and waiting for the leader's answer up
    /// to `timeout`. Blocking: opens a database connection.
    pub fn open(
        database: &str,
        own: &str,
        body_limit: usize,
        timeout: Duration,
    ) -> Result<Self, ServeError> {
        let store = PostgresStore::open_as(database, Some(APPLICATION_NAME))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(
                crate::callback::tls_config(None).map_err(ServeError::Replica)?,
            )
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .build()
            .map_err(|e| ServeError::Replica(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            database: database.to_owned(),
            store: Mutex::new(Some(store)),
            client,
            own: own.to_owned(),
            leader: tokio::sync::Mutex::new(None),
            body_limit,
        })
    }

    /// The router that forwards every request ([`Follower::forward`]).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(forward).with_state(self)
    }

    /// The leader's base URL, read from the database at most every [`LEADER_TTL`].
    async fn leader(self: &Arc<Self>) -> Result<Option<String>, ApiError> {
        let mut cached = self.leader.lock().await;
        if let Some((at, url)) = cached.as_ref() {
            if at.elapsed() < LEADER_TTL {
                return Ok(url.clone());
            }
        }
        let this = self.clone();
        let url = tokio::task::spawn_blocking(move || {
            let mut store = this
                .store
                .lock()
                .map_err(|_| "store lock poisoned".to_owned())?;
            // A connection that failed is opened again at the next lookup (the database
            // restarted, say), so that the replica recovers without a restart.
            if store.is_none() {
                *store = Some(
                    PostgresStore::open_as(&this.database, Some(APPLICATION_NAME))
                        .map_err(|e| e.to_string())?,
                );
            }
            let found = store
                .as_ref()
                .map(PostgresStore::sequencer_url)
                .transpose()
                .map(Option::flatten);
            if found.is_err() {
                *store = None;
            }
            found.map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| {
            tracing::warn!(error = %e, "replica: cannot read the sequencer's address");
            ApiError::Unavailable("this replica cannot read who sequences the log".into())
        })?;
        *cached = Some((Instant::now(), url.clone()));
        Ok(url)
    }

    async fn forget_leader(&self) {
        *self.leader.lock().await = None;
    }

    /// Sends `req` to the leader and returns its answer, or the refusal that says why not.
    async fn forward(self: &Arc<Self>, req: Request) -> Result<Response, ApiError> {
        if came_through_a_replica(req.headers()) {
            return Err(ApiError::Unavailable(
                "this request already came through a replica that does not sequence the log".into(),
            ));
        }
        let Some(leader) = self.leader().await? else {
            return Err(ApiError::Unavailable(
                "no service sequences the log now (a failover is under way)".into(),
            ));
        };
        if leader == self.own {
            return Err(ApiError::Unavailable(
                "this replica is taking over the log".into(),
            ));
        }
        let (parts, body) = req.into_parts();
        let body = read_body(body, self.body_limit).await?;
        let target = format!(
            "{leader}{}",
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut headers = forwarded_headers(&parts.headers);
        headers.append(header::VIA, HeaderValue::from_static(VIA));
        let sent = self
            .client
            .request(parts.method, target)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                self.forget_leader().await;
                tracing::warn!(error = %e, "replica: the sequencing service did not answer");
                return Err(if e.is_timeout() {
                    ApiError::Timeout
                } else {
                    ApiError::Unavailable(
                        "the service that sequences the log cannot be reached".into(),
                    )
                });
            }
        };
        let status = answer.status();
        let mut headers = forwarded_headers(answer.headers());
        headers.append(header::VIA, HeaderValue::from_static(VIA));
        let bytes = answer.bytes().await.map_err(|e| {
            tracing::warn!(error = %e, "replica: the sequencing service's answer broke off");
            ApiError::Unavailable("the sequencing service's answer broke off".into())
        })?;
        let mut resp = Response::new(Body::from(bytes));
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        Ok(resp)
    }
}

async fn forward(State(follower): State<Arc<Follower>>, req: Request) -> Response {
    match follower.forward(req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

/// Whether a request's `Via` names a letro replica.
fn came_through_a_replica(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::VIA)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains("letro-replica")))
}

/// The body of a request to forward, up to `limit` bytes: 413 beyond.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::InvalidRequest(format!("the request body could not be read: {e}"))
        }
    })
}

/// The end-to-end headers of a message (RFC 9110 §7.6.1): without `Host`, `Content-Length`
/// (recomputed) and the hop-by-hop ones, including those `Connection` names.
fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let named: Vec<HeaderName> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    let hop_by_hop = [
        header::CONNECTION,
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ];
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        if !hop_by_hop.contains(name) && !named.contains(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Runs a replica on `listener` until `shutdown` completes: forwards every request to the
/// service that sequences the log until this one takes the sequencer lock, then serves the API
/// itself ([`Service::serve`]) on the same socket. Needs [`Config::database`];
/// [`Config::advertise_url`] defaults to `http://` and the listener's address. The settings a
/// takeover needs are checked first ([`Service::check_settings`]). `took_over` is
/// called with the started service when this replica takes over, before it serves.
pub async fn serve(
    mut config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    took_over: impl FnOnce(&Service) + Send,
) -> Result<(), ServeError> {
    let Some(database) = config.database.clone() else {
        return Err(ServeError::Standby);
    };
    config.standby = true;
    let own = match &config.advertise_url {
        Some(url) => check_advertise_url(url).map_err(ServeError::Replica)?,
        None => advertise_url_for(listener.local_addr().map_err(ServeError::Http)?)?,
    };
    config.advertise_url = Some(own.clone());
    let limits = server::Limits {
        header_timeout: config.header_timeout,
        max_connections: config.max_connections,
        request_timeout: config.request_timeout,
    };
    let body_limit = config.body_limit.max(config.max_envelope_bytes);
    let timeout = config.request_timeout;
    // Settings a takeover needs are checked now, not when the leader dies.
    let follower = tokio::task::spawn_blocking({
        let (own, checked) = (own.clone(), config.clone());
        move || {
            std::fs::create_dir_all(&checked.data_dir).map_err(|source| ServeError::DataDir {
                path: checked.data_dir.display().to_string(),
                source,
            })?;
            Service::check_settings(&checked)?;
            Follower::open(&database, &own, body_limit, timeout)
        }
    })
    .await
    .map_err(|e| ServeError::Replica(format!("replica task: {e}")))??;
    // Two handles on one listening socket: the follower accepts on one until it stops; the
    // service then accepts on the other, and connections that came meanwhile wait in the
    // socket's backlog.
    let socket = listener.into_std().map_err(ServeError::Http)?;
    let forwarding = TcpListener::from_std(socket.try_clone().map_err(ServeError::Http)?)
        .map_err(ServeError::Http)?;
    let (stop_forwarding, forwarding_stopped) = tokio::sync::oneshot::channel::<()>();
    let forwarder = tokio::spawn(server::run(
        forwarding,
        Arc::new(follower).router(),
        limits,
        async move {
            let _ = forwarding_stopped.await;
        },
    ));
    tracing::info!(advertise_url = %own, "replica: forwarding to the sequencing service until this one takes over");
    let stop = Arc::new(AtomicBool::new(false));
    let mut starting = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || Service::start_unless(config, &stop)
    });
    let mut shutdown = Box::pin(shutdown);
    let started = tokio::select! {
        r = &mut starting => r,
        () = &mut shutdown => {
            stop.store(true, Ordering::SeqCst);
            let _ = stop_forwarding.send(());
            let _ = forwarder.await;
            // The standby stops waiting within one poll; a service it started meanwhile is
            // shut down.
            if let Ok(Ok(Some(service))) = starting.await {
                service.shutdown().await;
            }
            return Ok(());
        }
    };
    let _ = stop_forwarding.send(());
    let _ = forwarder.await;
    let service = match started {
        Ok(Ok(Some(service))) => service,
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(ServeError::Replica(format!("standby task: {e}"))),
    };
    tracing::info!(advertise_url = %own, "replica: took over the log; serving it");
    took_over(&service);
    let listener = TcpListener::from_std(socket).map_err(ServeError::Http)?;
    service.serve(listener, shutdown).await
}

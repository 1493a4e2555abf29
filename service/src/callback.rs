//! Callbacks for automated attestations: when a proof job with a `callback_url` is done or
//! failed, the service POSTs `{"job_id": ..., "state": ...}` (JSON) to that URL.
//!
//! - The notice carries no bundle and no opening: the receiver fetches the job with its own
//!   sender token (`GET /v1/proofs/{job_id}`). A forged notice therefore gains nothing, and
//!   the notice needs no signature.
//! - Only `https://` and `http://` URLs on hosts the operator lists in `callback_hosts` are
//!   accepted (so a sender cannot make the service call arbitrary internal addresses); with an
//!   empty list, callbacks are refused.
//! - `https://` callbacks use rustls (TLS 1.2 and 1.3, the ring provider) and check the
//!   receiver's certificate against the Mozilla root store (`webpki-roots`) plus the
//!   certificates of `callback_ca_file`, if the operator gives one (a private CA).
//! - Delivery is at least once: a 2xx answer marks the job's callback `delivered`; otherwise
//!   it is retried [`ATTEMPTS`] times with growing delays, then marked `failed`. Pending
//!   callbacks are stored with the job and resumed after a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, Request, Uri};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::{mpsc, Semaphore};

use crate::jobs::SharedStore;

/// How many times a notice is tried.
pub const ATTEMPTS: u32 = 4;
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most notices in flight at once.
const CONCURRENCY: usize = 8;

/// Checks a callback URL against the allowed hosts (`host` or `host:port`, compared without
/// regard to case). Returns why it is refused.
pub fn check_url(url: &str, allowed_hosts: &[String]) -> Result<(), String> {
    if allowed_hosts.is_empty() {
        return Err("this service does not make callbacks (no callback_hosts configured)".into());
    }
    if url.len() > MAX_URL_LEN {
        return Err(format!("callback_url is longer than {MAX_URL_LEN} bytes"));
    }
    const SCHEMES: &str = "callback_url must start with https:// or http://";
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(SCHEMES.into());
    }
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("callback_url is not a valid URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(SCHEMES.into());
    }
    let authority = uri
        .authority()
        .ok_or("callback_url has no host")?
        .as_str()
        .to_ascii_lowercase();
    if authority.contains('@') {
        return Err("callback_url may not carry credentials".into());
    }
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let ok = allowed_hosts.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == authority || (a == host && uri.port().is_none())
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "callback host {authority} is not among the hosts this service calls back"
        ))
    }
}

/// The TLS settings of `https://` callbacks: the Mozilla root store, plus every certificate in
/// the PEM file `ca_file` if given (it must hold at least one; each is trusted as an anchor,
/// so give only CA certificates the operator trusts).
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("callback_ca_file {shown}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("callback_ca_file {shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "callback_ca_file {shown}: no PEM certificate in the file"
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("callback_ca_file {shown}: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Where finished jobs with a callback are handed over.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<String>,
}

impl Notifier {
    /// Queues the notice for a finished job.
    pub fn push(&self, job_id: String) {
        if self.tx.send(job_id).is_err() {
            tracing::warn!("callback sender stopped; the notice stays pending until restart");
        }
    }
}

/// Starts the task that delivers notices, with delays `backoff`, 5·`backoff`, 25·`backoff`
/// between attempts, and queues the stored pending ones. Must be called inside a tokio
/// runtime.
pub fn start(
    store: SharedStore,
    backoff: Duration,
    tls: Arc<rustls::ClientConfig>,
) -> Result<(Notifier, tokio::task::JoinHandle<()>), crate::store::StoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let pending = match store.lock() {
        Ok(s) => s.pending_callbacks()?,
        Err(_) => Vec::new(),
    };
    for id in pending {
        let _ = tx.send(id);
    }
    let handle = tokio::spawn(async move {
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        while let Some(id) = rx.recv().await {
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let store = store.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                deliver_job(&store, &id, backoff, &tls).await;
                drop(permit);
            });
        }
    });
    Ok((Notifier { tx }, handle))
}

async fn deliver_job(
    store: &SharedStore,
    id: &str,
    backoff: Duration,
    tls: &Arc<rustls::ClientConfig>,
) {
    let job = match store.lock() {
        Ok(s) => s.job(id),
        Err(_) => return,
    };
    let Ok(Some(mut job)) = job else {
        tracing::error!(job = id, "callback: job not found");
        return;
    };
    let Some(url) = job.callback_url.clone() else {
        return;
    };
    let body = serde_json::json!({"job_id": job.id, "state": job.state.as_str()}).to_string();
    let mut delay = backoff;
    let mut outcome = "failed";
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, post(&url, body.clone(), tls)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => {
                outcome = "delivered";
                break;
            }
            Ok(Ok(status)) => tracing::warn!(job = id, attempt, status, "callback refused"),
            Ok(Err(e)) => tracing::warn!(job = id, attempt, error = %e, "callback failed"),
            Err(_) => tracing::warn!(job = id, attempt, "callback timed out"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(5);
        }
    }
    tracing::info!(job = id, outcome, "callback finished");
    job.callback_state = Some(outcome.into());
    let stored = match store.lock() {
        Ok(mut s) => s.update_job(&job).map_err(|e| e.to_string()),
        Err(_) => Err("lock poisoned".into()),
    };
    if let Err(e) = stored {
        tracing::error!(job = id, error = %e, "callback state could not be stored");
    }
}

/// POSTs `body` to an `https://` or `http://` URL and returns the status code.
async fn post(url: &str, body: String, tls: &Arc<rustls::ClientConfig>) -> Result<u16, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{e}"))?;
    // An IPv6 literal comes bracketed in the URL.
    let host = uri
        .host()
        .ok_or("no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut sender = if https {
        let name =
            ServerName::try_from(host.clone()).map_err(|e| format!("server name {host}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        handshake(stream).await?
    } else {
        handshake(stream).await?
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = uri.authority().map_or(host, |a| a.as_str().to_owned());
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "letro-service")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    Ok(resp.status().as_u16())
}

/// An HTTP/1.1 connection over `io`, its driver spawned.
async fn handshake<T>(io: T) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_against_the_allowed_hosts() {
        let allowed = vec!["hooks.bank.example".to_owned(), "127.0.0.1:9000".to_owned()];
        for ok in [
            "http://hooks.bank.example/letro",
            "http://HOOKS.bank.example/a?b=c",
            "http://127.0.0.1:9000/cb",
            "https://hooks.bank.example/letro",
        ] {
            assert_eq!(check_url(ok, &allowed), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://evil.example/", "not among"),
            ("http://127.0.0.1:9001/cb", "not among"),
            ("http://hooks.bank.example:8080/", "not among"),
            ("https://evil.example/", "not among"),
            ("ftp://hooks.bank.example/", "https:// or http://"),
            ("http://user:pw@hooks.bank.example/", "credentials"),
            ("not a url", "http://"),
            ("http://exa mple/", "valid URL"),
            ("/relative", "http://"),
        ] {
            let e = check_url(bad, &allowed).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let long = format!("http://hooks.bank.example/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, &allowed).unwrap_err().contains("longer"));
        assert!(check_url("http://hooks.bank.example/", &[])
            .unwrap_err()
            .contains("does not make callbacks"));
    }
}

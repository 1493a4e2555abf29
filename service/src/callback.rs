//! Callbacks for automated attestations: when a proof job with a `callback_url` is done or
//! failed, the service POSTs `{"job_id": ..., "state": ...}` (JSON) to that URL.
//!
//! - The notice carries no bundle and no opening: the receiver fetches the job with its own
//!   sender token (`GET /v1/proofs/{job_id}`). A forged notice therefore gains nothing, and
//!   the notice needs no signature.
//! - Only `https://` and `http://` URLs on hosts the operator lists in `callback_hosts` are
//!   accepted (so a sender cannot make the service call arbitrary internal addresses); with an
//!   empty list, callbacks are refused.
//! - Notices are sent with reqwest ([`http_client`]): HTTP/1.1, no redirects followed (a
//!   redirect could lead to a host not in the list), no proxy, at most [`ATTEMPT_TIMEOUT`] per
//!   attempt. `https://` callbacks use rustls (TLS 1.2 and 1.3, the ring provider) and check
//!   the receiver's certificate against the Mozilla root store (`webpki-roots`) plus the
//!   certificates of `callback_ca_file`, if the operator gives one (a private CA).
//! - The URL is checked with the parser of `http` and sent with the parser of `url` (WHATWG),
//!   so [`check_url`] requires both to read the same scheme, host and port.
//! - Delivery is at least once: a 2xx answer marks the job's callback `delivered`; otherwise
//!   it is retried [`ATTEMPTS`] times with growing delays, then marked `failed`. Pending
//!   callbacks are stored with the job and resumed after a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use letro_api::bodies::{CallbackNotice, JobState};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
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
    if !ok {
        return Err(format!(
            "callback host {authority} is not among the hosts this service calls back"
        ));
    }
    // The notice is sent to the URL as reqwest's parser (WHATWG `url`) reads it, which
    // normalises hosts (numeric IPv4 forms, percent-escapes, IDNA) and treats `\` as `/`:
    // what it reads must be what was checked above.
    let sent =
        reqwest::Url::parse(url).map_err(|e| format!("callback_url is not a valid URL: {e}"))?;
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let same = sent.scheme() == uri.scheme_str().unwrap_or_default()
        && sent.host_str().map(str::to_ascii_lowercase).as_deref() == Some(host.as_str())
        && sent.port_or_known_default() == Some(uri.port_u16().unwrap_or(default_port))
        && sent.username().is_empty()
        && sent.password().is_none();
    if same {
        Ok(())
    } else {
        Err(format!(
            "callback_url is ambiguous: its host reads as {authority} or as {}",
            sent.host_str().unwrap_or("nothing")
        ))
    }
}

/// The client that sends notices: reqwest with [`tls_config`], no redirects, no proxy,
/// [`ATTEMPT_TIMEOUT`] per request, `User-Agent: letro-service`.
pub fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(ca_file)?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent("letro-service")
        .build()
        .map_err(|e| format!("callback HTTP client: {e}"))
}

/// The TLS settings of `https://` callbacks: the Mozilla root store, plus every certificate in
/// the PEM file `ca_file` if given (it must hold at least one; each is trusted as an anchor,
/// so give only CA certificates the operator trusts).
pub fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
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
    Ok(config)
}

/// Where finished jobs with a callback are handed over.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: Option<mpsc::UnboundedSender<String>>,
}

impl Notifier {
    /// A notifier that sends nothing itself: a prover worker beside no service leaves its
    /// finished jobs' notices pending in the store, where the service's sweep finds them.
    pub fn none() -> Self {
        Self { tx: None }
    }

    /// Queues the notice for a finished job.
    pub fn push(&self, job_id: String) {
        let Some(tx) = &self.tx else { return };
        if tx.send(job_id).is_err() {
            tracing::warn!("callback sender stopped; the notice stays pending until restart");
        }
    }
}

/// Starts the task that delivers notices, with delays `backoff`, 5·`backoff`, 25·`backoff`
/// between attempts, and queues the stored pending ones. With `sweep`, it also reads the
/// store's pending notices at that interval: jobs finished by provers of other processes
/// (`letro prover-worker`). A job is notified by one delivery at a time. Must be called inside
/// a tokio runtime.
pub fn start(
    store: SharedStore,
    backoff: Duration,
    http: reqwest::Client,
    sweep: Option<Duration>,
) -> Result<(Notifier, tokio::task::JoinHandle<()>), crate::store::StoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let pending = match store.lock() {
        Ok(s) => s.pending_callbacks()?,
        Err(_) => Vec::new(),
    };
    for id in pending {
        let _ = tx.send(id);
    }
    let sweeper = sweep.map(|every| {
        let (store, tx) = (store.clone(), tx.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let st = store.clone();
                let pending = tokio::task::spawn_blocking(move || match st.lock() {
                    Ok(s) => s.pending_callbacks().map_err(|e| e.to_string()),
                    Err(_) => Err("job store lock poisoned".to_owned()),
                })
                .await;
                match pending {
                    Ok(Ok(ids)) => {
                        for id in ids {
                            if tx.send(id).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "reading pending callbacks failed"),
                    Err(e) => tracing::error!(error = %e, "reading pending callbacks failed"),
                }
            }
        })
    });
    let handle = tokio::spawn(async move {
        // The sweeper stops with this task, also when it is aborted.
        let _sweeper = sweeper.map(AbortOnDrop);
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        let in_flight = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        while let Some(id) = rx.recv().await {
            let fresh = match in_flight.lock() {
                Ok(mut set) => set.insert(id.clone()),
                Err(_) => return,
            };
            if !fresh {
                continue;
            }
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let store = store.clone();
            let http = http.clone();
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                deliver_job(&store, &id, backoff, &http).await;
                if let Ok(mut set) = in_flight.lock() {
                    set.remove(&id);
                }
                drop(permit);
            });
        }
    });
    Ok((Notifier { tx: Some(tx) }, handle))
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn deliver_job(store: &SharedStore, id: &str, backoff: Duration, http: &reqwest::Client) {
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
    let state = match job.state {
        crate::store::JobState::Queued => JobState::Queued,
        crate::store::JobState::Running => JobState::Running,
        crate::store::JobState::Done => JobState::Done,
        crate::store::JobState::Failed | crate::store::JobState::Dead => JobState::Failed,
    };
    let notice = CallbackNotice {
        job_id: job.id.clone(),
        state,
    };
    let Ok(body) = serde_json::to_string(&notice) else {
        tracing::error!(job = id, "callback: the notice could not be serialized");
        return;
    };
    let mut delay = backoff;
    let mut outcome = "failed";
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, post(http, &url, body.clone())).await {
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

/// POSTs `body` to an `https://` or `http://` URL and returns the status code (the answer's
/// body is not read).
pub(crate) async fn post(http: &reqwest::Client, url: &str, body: String) -> Result<u16, String> {
    let response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        // Without the URL: a callback URL may carry a secret of the receiver's in its query.
        .map_err(|e| {
            let e = e.without_url();
            format!("{e}: {}", source_chain(&e))
        })?;
    Ok(response.status().as_u16())
}

/// The causes under `e`, `: `-separated (reqwest's own message omits them: a refused
/// certificate shows only here).
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut next = e.source();
    while let Some(cause) = next {
        parts.push(cause.to_string());
        next = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_against_the_allowed_hosts() {
        let allowed = vec![
            "hooks.bank.example".to_owned(),
            "127.0.0.1:9000".to_owned(),
            "b\u{fc}cher.example".to_owned(),
            "xn--bcher-kva.example".to_owned(),
        ];
        for ok in [
            "http://hooks.bank.example/letro",
            "http://HOOKS.bank.example/a?b=c",
            "http://127.0.0.1:9000/cb",
            "https://hooks.bank.example/letro",
            "https://xn--bcher-kva.example/cb",
        ] {
            assert_eq!(check_url(ok, &allowed), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://evil.example/", "not among"),
            ("http://127.0.0.1:9001/cb", "not among"),
            ("http://hooks.bank.example:8080/", "not among"),
            // A non-ASCII host (ASCII only: idna_adapter 1.0.0); its punycode form works.
            ("https://b\u{fc}cher.example/cb", "not a valid URL"),
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
        // Read as 127.0.0.1 by the parser that sends it: refused even where listed as is.
        let numeric = vec!["2130706433:9000".to_owned()];
        let e = check_url("http://2130706433:9000/cb", &numeric).unwrap_err();
        assert!(e.contains("ambiguous"), "{e}");
        assert_eq!(
            check_url("http://[::1]:9000/cb", &["[::1]:9000".to_owned()]),
            Ok(())
        );
        let long = format!("http://hooks.bank.example/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, &allowed).unwrap_err().contains("longer"));
        assert!(check_url("http://hooks.bank.example/", &[])
            .unwrap_err()
            .contains("does not make callbacks"));
    }
}

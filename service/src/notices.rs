//! Delivery notices: when a delivery reaches its final state (retrieved, refused, expired or
//! rejected; SPEC §5.11), the service POSTs a [`DeliveryNotice`] to its sender's callback URL,
//! set by the operator per sender account (`[[delivery_callback]]`, on a host of
//! `callback_hosts`).
//!
//! - The notice carries no evidence: the sender fetches the record with its own token from
//!   the notice's `evidence` path. A forged notice gains nothing, so it needs no signature.
//! - It is stored (pending) right after the final event is logged (a crash in between loses
//!   that notice, never the event), before it is sent, and sent at least once: a 2xx answer marks it `delivered`; otherwise it is retried
//!   [`crate::callback::ATTEMPTS`] times with growing delays, then marked `failed`. Pending
//!   notices resume after a restart.
//! - It is sent with the callbacks' HTTP client (no redirects, no proxy, the operator's CA
//!   file).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use letro_api::bodies::DeliveryNotice;
use letro_core::lifecycle::LifecycleEvent;
use tokio::sync::{mpsc, Semaphore};

use crate::jobs::SharedStore;
use crate::store::{StoredEvent, StoredNotice};

/// Most notices in flight at once.
const CONCURRENCY: usize = 8;

/// The senders' callback URLs and the queue of notices to send.
#[derive(Debug, Clone)]
pub struct Notices {
    urls: Arc<HashMap<String, String>>,
    tx: mpsc::UnboundedSender<u64>,
}

impl Notices {
    /// No sender has a callback (nothing is ever queued).
    pub fn disabled() -> Self {
        let (tx, _) = mpsc::unbounded_channel();
        Self {
            urls: Arc::new(HashMap::new()),
            tx,
        }
    }

    /// Whether any sender has a callback.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// After a fresh final event at `index` for `h`: stores the notice owed to the delivery's
    /// sender, if it has a callback, and queues it. Runs on a blocking thread (store access).
    pub(crate) fn owe(
        &self,
        store: &SharedStore,
        h: [u8; 32],
        index: u64,
        event: &StoredEvent,
    ) -> Result<(), String> {
        let kind = event.lifecycle_event();
        if !kind.is_final() {
            return Ok(());
        }
        let sender = match event {
            StoredEvent::Rejected { sender, .. } => Some(sender.clone()),
            _ => {
                let s = store.lock().map_err(|_| "store lock poisoned".to_owned())?;
                s.delivery(&h)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find_map(|(_, e)| match e {
                        StoredEvent::Submitted { sender, .. } => Some(sender),
                        _ => None,
                    })
            }
        };
        let Some(url) = sender.and_then(|s| self.urls.get(&s).cloned()) else {
            return Ok(());
        };
        let notice = StoredNotice {
            index,
            ciphertext_hash: h,
            event: kind.name().to_owned(),
            url,
        };
        let stored = store
            .lock()
            .map_err(|_| "store lock poisoned".to_owned())?
            .put_notice(&notice)
            .map_err(|e| e.to_string())?;
        if stored && self.tx.send(index).is_err() {
            tracing::warn!(
                index,
                "notice sender stopped; the notice stays pending until restart"
            );
        }
        Ok(())
    }
}

/// Starts the task that sends notices (delays `backoff`, 5·`backoff`, 25·`backoff` between
/// attempts) and queues the stored pending ones. Must be called inside a tokio runtime.
pub fn start(
    store: SharedStore,
    urls: HashMap<String, String>,
    backoff: Duration,
    http: reqwest::Client,
) -> Result<(Notices, tokio::task::JoinHandle<()>), crate::store::StoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let pending = match store.lock() {
        Ok(s) => s.pending_notices()?,
        Err(_) => Vec::new(),
    };
    for index in pending {
        let _ = tx.send(index);
    }
    let handle = tokio::spawn(async move {
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        while let Some(index) = rx.recv().await {
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let (store, http) = (store.clone(), http.clone());
            tokio::spawn(async move {
                send(&store, index, backoff, &http).await;
                drop(permit);
            });
        }
    });
    Ok((
        Notices {
            urls: Arc::new(urls),
            tx,
        },
        handle,
    ))
}

async fn send(store: &SharedStore, index: u64, backoff: Duration, http: &reqwest::Client) {
    let found = match store.lock() {
        Ok(s) => s.notice(index),
        Err(_) => return,
    };
    let Ok(Some(n)) = found else {
        tracing::error!(index, "notice not found");
        return;
    };
    let h = hex::encode(n.ciphertext_hash);
    let Some(event) = LifecycleEvent::from_name(&n.event) else {
        tracing::error!(index, event = %n.event, "notice of an unknown event");
        return;
    };
    let notice = DeliveryNotice {
        evidence: format!("/v1/evidence/{h}/{}", event.name()),
        ciphertext_sha256: h,
        event: event.name().to_owned(),
        etsi_event: event.etsi_event_id().to_owned(),
        index,
    };
    let Ok(body) = serde_json::to_string(&notice) else {
        return;
    };
    let mut delay = backoff;
    let mut outcome = "failed";
    for attempt in 1..=crate::callback::ATTEMPTS {
        match tokio::time::timeout(
            crate::callback::ATTEMPT_TIMEOUT,
            crate::callback::post(http, &n.url, body.clone()),
        )
        .await
        {
            Ok(Ok(status)) if (200..300).contains(&status) => {
                outcome = "delivered";
                break;
            }
            Ok(Ok(status)) => tracing::warn!(index, attempt, status, "notice refused"),
            Ok(Err(e)) => tracing::warn!(index, attempt, error = %e, "notice failed"),
            Err(_) => tracing::warn!(index, attempt, "notice timed out"),
        }
        if attempt < crate::callback::ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(5);
        }
    }
    tracing::info!(index, outcome, "delivery notice finished");
    let stored = match store.lock() {
        Ok(mut s) => s.finish_notice(index, outcome).map_err(|e| e.to_string()),
        Err(_) => Err("lock poisoned".into()),
    };
    if let Err(e) = stored {
        tracing::error!(index, error = %e, "notice state could not be stored");
    }
}

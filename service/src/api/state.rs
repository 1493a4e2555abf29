//! The state every handler shares ([`AppState`]): the log writer's channel, the log view, the
//! token table, the store (reached off the async executor through [`AppState::db`]) and the
//! settings; and [`Caller`], the extractor that authenticates by the route's declared roles.

use super::*;

pub(crate) struct Inner {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) view: Arc<RwLock<LogView>>,
    pub(crate) tokens: RwLock<Tokens>,
    pub(crate) jobs: SharedStore,
    /// The connections [`AppState::db`] spreads the API's store calls over: `jobs`, then the
    /// extra ones (PostgreSQL; SQLite has one writer at a time anyway).
    pub(crate) api_stores: Arc<[SharedStore]>,
    pub(crate) queue: JobQueue,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) max_skew: u64,
    pub(crate) body_limit: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) max_jobs_per_sender: u64,
    pub(crate) callback_hosts: Vec<String>,
    pub(crate) max_envelope_bytes: usize,
    pub(crate) log_vkey: String,
    pub(crate) origin: String,
    pub(crate) evidence_policy: String,
    pub(crate) notices: crate::notices::Notices,
    pub(crate) sealer: Arc<letro_certificate::seal::Sealer>,
    pub(crate) timestamping: Option<Arc<crate::timestamping::Timestamping>>,
    pub(crate) proving_keys: Option<letro_verifier::PinnedKey>,
    /// SHA-256 of (receipt key, certificate JSON) pairs whose certificate verified, so that the
    /// receipts of one recipient's key do not repeat the XEdDSA check (about 13 % of the
    /// service's CPU under a receipt load). A changed row hashes differently and is checked
    /// again. Bounded: emptied when it reaches [`VERIFIED_CERTIFICATES_MAX`].
    pub(crate) verified_certificates: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

/// How many verified certificates [`Inner::verified_certificates`] remembers at most.
pub(crate) const VERIFIED_CERTIFICATES_MAX: usize = 65_536;

/// The state handlers share: the writer's channel, the log view, the token table and settings.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

/// What [`AppState::new`] wires together.
pub(crate) struct Parts {
    /// The log writer's channel.
    pub tx: mpsc::Sender<Command>,
    /// The log as the writer updates it.
    pub view: Arc<RwLock<LogView>>,
    /// The token table.
    pub tokens: Tokens,
    /// The API's store connection.
    pub jobs: SharedStore,
    /// More connections to the same store for the API's calls (none on SQLite).
    pub extra: Vec<SharedStore>,
    /// Where new proof jobs go.
    pub queue: JobQueue,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// The log's verifier key, C2SP vkey text.
    pub log_vkey: String,
    /// The delivery notices owed to senders.
    pub notices: crate::notices::Notices,
    /// The evidence-seal key.
    pub sealer: Arc<letro_certificate::seal::Sealer>,
    /// The TSAs, for the seal's time-stamp.
    pub timestamping: Option<Arc<crate::timestamping::Timestamping>>,
    /// The verifying key of the keys directory the service proves with (`keys`), pinned with
    /// its manifest; `None` when it proves with the built-in keys.
    pub proving_keys: Option<letro_verifier::PinnedKey>,
}

impl AppState {
    pub(crate) fn new(parts: Parts, config: &Config) -> Self {
        let Parts {
            tx,
            view,
            tokens,
            jobs,
            extra,
            queue,
            metrics,
            log_vkey,
            notices,
            sealer,
            timestamping,
            proving_keys,
        } = parts;
        let api_stores: Arc<[SharedStore]> = std::iter::once(jobs.clone()).chain(extra).collect();
        Self {
            inner: Arc::new(Inner {
                tx,
                view,
                tokens: RwLock::new(tokens),
                jobs,
                api_stores,
                queue,
                metrics,
                max_skew: config.max_skew,
                body_limit: config.body_limit,
                request_timeout: config.request_timeout,
                max_jobs_per_sender: config.max_jobs_per_sender,
                callback_hosts: config.callback_hosts.clone(),
                max_envelope_bytes: config.max_envelope_bytes,
                log_vkey,
                origin: config.origin.clone(),
                evidence_policy: config.evidence_policy.clone(),
                notices,
                sealer,
                timestamping,
                proving_keys,
                verified_certificates: Default::default(),
            }),
        }
    }

    /// Asks the writer to publish a checkpoint now (if the log grew) and returns the latest.
    pub async fn publish(&self) -> Result<StoredCheckpoint, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Publish { reply })
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok(rx.await.map_err(|_| ApiError::Internal)??)
    }

    /// Signs a checkpoint of the integrated tree without publishing it (the published one if
    /// the tree has not grown).
    pub async fn sign_checkpoint(&self) -> Result<StoredCheckpoint, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Sign { reply })
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok(rx.await.map_err(|_| ApiError::Internal)??)
    }

    /// Stores and publishes a checkpoint from [`AppState::sign_checkpoint`], cosigned or not.
    pub async fn commit_checkpoint(
        &self,
        checkpoint: StoredCheckpoint,
    ) -> Result<StoredCheckpoint, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Commit { checkpoint, reply })
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok(rx.await.map_err(|_| ApiError::Internal)??)
    }

    /// The RFC 6962 consistency proof from `old` to `new` entries (for witnesses).
    pub fn rfc6962_consistency(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<letro_log::rfc6962::Hash>, ApiError> {
        self.view()?
            .log
            .rfc6962()
            .consistency_proof(old, new)
            .map_err(|e| ApiError::InvalidRequest(e.to_string()))
    }

    /// The service's counters.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// The published checkpoint, if any.
    pub fn published_checkpoint(&self) -> Result<Option<StoredCheckpoint>, ApiError> {
        Ok(self.view()?.checkpoint.clone())
    }

    pub(crate) async fn append(
        &self,
        h: [u8; 32],
        leaf: Fr,
        event: StoredEvent,
        event_secret: EventSecret,
    ) -> Result<Appended, ApiError> {
        // A final event may owe its sender a notice (crate::notices), once it is logged.
        let owed = (!self.inner.notices.is_empty() && event.lifecycle_event().is_final())
            .then(|| event.clone());
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Append {
                ciphertext_hash: h,
                leaf,
                event,
                event_secret,
                reply,
            })
            .await
            .map_err(|_| ApiError::Internal)?;
        let appended = rx.await.map_err(|_| ApiError::Internal)??;
        if let Some(event) = owed.filter(|_| appended.fresh) {
            let (notices, store) = (self.inner.notices.clone(), self.inner.jobs.clone());
            let index = appended.index;
            // The event is logged whatever happens to its notice: a failure is logged, not
            // answered.
            let owed = tokio::task::spawn_blocking(move || notices.owe(&store, h, index, &event))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            if let Err(e) = owed {
                tracing::error!(index, error = %e, "the delivery notice could not be stored");
            }
        }
        Ok(appended)
    }

    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        allowed: &[Role],
    ) -> Result<TokenRecord, ApiError> {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let tokens = self.inner.tokens.read().map_err(|_| {
            tracing::error!("token table lock poisoned");
            ApiError::Internal
        })?;
        let record = tokens.authenticate(header, unix_now()).map_err(|f| {
            ApiError::Unauthorized(match f {
                AuthFailure::Missing => "a bearer token is required",
                AuthFailure::Unknown => "the bearer token is not valid",
                AuthFailure::Expired => "the bearer token has expired",
                AuthFailure::Revoked => "the bearer token has been revoked",
            })
        })?;
        if allowed.contains(&record.role) {
            Ok(record.clone())
        } else {
            Err(ApiError::Forbidden(record.role.as_str()))
        }
    }

    /// The largest envelope `POST /v1/messages/{recipient}` accepts.
    pub(crate) fn body_limit_for_envelopes(&self) -> usize {
        self.inner.max_envelope_bytes
    }

    /// Counts a refused receipt by its error code.
    pub(crate) fn receipt_refused(&self, code: &'static str) {
        self.inner.metrics.receipt_refused(code);
    }

    /// The token table, for the admin endpoints.
    pub(crate) fn tokens(&self) -> Result<std::sync::RwLockWriteGuard<'_, Tokens>, ApiError> {
        self.inner.tokens.write().map_err(|_| {
            tracing::error!("token table lock poisoned");
            ApiError::Internal
        })
    }

    pub(crate) fn view(&self) -> Result<std::sync::RwLockReadGuard<'_, LogView>, ApiError> {
        self.inner.view.read().map_err(|_| {
            tracing::error!("log view lock poisoned");
            ApiError::Internal
        })
    }

    pub(crate) fn state_of(&self, index: u64) -> Result<EventState, ApiError> {
        let view = self.view()?;
        Ok(if index < view.log.published_size() {
            EventState::Published
        } else if index < view.log.integrated_size() {
            EventState::Integrated
        } else {
            EventState::Sequenced
        })
    }
}

/// The authenticated caller of a route with roles: its token, accepted only if its role is
/// one the route declares in letro-api's route table ([`letro_api::ROUTES`]), the one place
/// where roles are declared. Answers 401 or 403 otherwise.
pub(crate) struct Caller(pub TokenRecord);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut RequestParts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_default();
        let route = letro_api::ROUTES
            .iter()
            .find(|r| r.path == path && r.method.as_str() == parts.method.as_str())
            .ok_or_else(|| {
                tracing::error!(path, "a handler asked for a caller on an unlisted route");
                ApiError::Internal
            })?;
        state.authorize(&parts.headers, route.roles).map(Caller)
    }
}

impl AppState {
    /// The API's store connection, locked: for code already on a blocking thread (the token
    /// reload); async handlers use [`AppState::db`].
    pub(crate) fn lock_store(&self) -> Result<std::sync::MutexGuard<'_, dyn Store>, ApiError> {
        self.inner.jobs.lock().map_err(|_| {
            tracing::error!("store lock poisoned");
            ApiError::Internal
        })
    }

    /// Runs `f` on one of the API's store connections on a blocking thread, so that the
    /// store's work (and its wait for a lock) never holds an async worker: a free connection if
    /// there is one, else the next in turn.
    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    {
        let stores = self.inner.api_stores.clone();
        tokio::task::spawn_blocking(move || {
            let poisoned = || {
                tracing::error!("store lock poisoned");
                ApiError::Internal
            };
            for store in stores.iter() {
                match store.try_lock() {
                    Ok(mut guard) => return f(&mut *guard),
                    Err(std::sync::TryLockError::WouldBlock) => {}
                    Err(std::sync::TryLockError::Poisoned(_)) => return Err(poisoned()),
                }
            }
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let turn = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let store = stores
                .get(turn % stores.len().max(1))
                .ok_or(ApiError::Internal)?;
            let mut guard = store.lock().map_err(|_| poisoned())?;
            f(&mut *guard)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store task failed");
            ApiError::Internal
        })?
    }
}

/// A JSON request body of type `T` (a letro-api body): rejected with 413 `payload_too_large`
/// beyond the body limit and 400 `invalid_request` (saying which member) otherwise, the JSON
/// error like every other refusal. A handler that counts refusals takes
/// `Result<JsonBody<T>, ApiError>`.
pub(crate) struct JsonBody<T>(pub T);

impl<T> axum::extract::FromRequest<AppState> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let body =
            <Json<T> as axum::extract::FromRequest<AppState>>::from_request(req, state).await;
        json_body(state, body).map(JsonBody)
    }
}

//! RFC 3161 time-stamps of published checkpoints (SPEC §5.13).
//!
//! A task of its own asks every configured time-stamping authority (TSA) for a token over the
//! body of each newly published checkpoint (the signed note's text: what the log key and the
//! witnesses sign), checks the answer (granted, the imprint of exactly those bytes, the
//! request's nonce, a signature by a critical `timeStamping` certificate; letro-log's
//! [`letro_log::timestamp`]) and stores the token with the checkpoint's body hash. Evidence
//! records and bundles carry the tokens of their checkpoint.
//!
//! A TSA that is down, slow or answering garbage delays nothing else: publication, receipts
//! and proofs never wait for this task. A failed TSA is retried with a doubling back-off (1 s
//! up to [`MAX_BACKOFF`]); meanwhile newer checkpoints supersede older ones, so after an
//! outage the checkpoint published then is stamped, not every one missed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use letro_log::checkpoint::SignedCheckpoint;
use letro_log::timestamp;
use sha2::{Digest, Sha256};

use crate::api::{internal, AppState};
use crate::store::StoredTimestamp;

/// The longest wait before a failed TSA is asked again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How long one request to a TSA may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured TSAs and the HTTP client.
#[derive(Debug)]
pub struct Timestamping {
    tsas: Vec<String>,
    http: reqwest::Client,
}

/// Why one TSA gave no token.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// No answer, or not 200.
    #[error("{0}")]
    Unreachable(String),
    /// An answer that is not a granted, matching, correctly signed token.
    #[error(transparent)]
    Invalid(#[from] timestamp::TimestampError),
}

impl Timestamping {
    /// The time-stamping of `tsas` (each an `http://` or `https://` URL).
    pub fn new(tsas: Vec<String>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::callback::tls_config(None)?)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .user_agent("letro-service")
            .build()
            .map_err(|e| format!("TSA HTTP client: {e}"))?;
        Ok(Self { tsas, http })
    }

    /// The configured TSAs.
    pub fn tsas(&self) -> &[String] {
        &self.tsas
    }

    /// Asks `tsa` for a token over `body`: the checked token's DER and its time.
    pub async fn stamp(&self, tsa: &str, body: &[u8]) -> Result<(Vec<u8>, u64), StampError> {
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let request = timestamp::request(body, &nonce)?;
        let mut response = self
            .http
            .post(tsa)
            .header("content-type", "application/timestamp-query")
            .body(request)
            .send()
            .await
            .map_err(|e| StampError::Unreachable(e.without_url().to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(StampError::Unreachable(format!(
                "HTTP status {}",
                response.status().as_u16()
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > timestamp::MAX_TOKEN_LEN as u64)
        {
            return Err(timestamp::TimestampError::TooLarge.into());
        }
        // Read at most MAX_TOKEN_LEN bytes, whatever the answer's framing.
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| StampError::Unreachable(e.without_url().to_string()))?
        {
            if bytes.len() + chunk.len() > timestamp::MAX_TOKEN_LEN {
                return Err(timestamp::TimestampError::TooLarge.into());
            }
            bytes.extend_from_slice(&chunk);
        }
        let (token, stamp) = timestamp::token_from_response(&bytes, body, &nonce)?;
        Ok((token, stamp.time))
    }

    /// One round: for each TSA whose back-off has passed and that has no token over the
    /// published checkpoint's body, ask it and store what it gives. Returns how many tokens
    /// were stored.
    pub async fn round(&self, state: &AppState, backoff: &mut [Backoff]) -> Result<usize, String> {
        let Some(published) = state.published_checkpoint().map_err(|e| e.to_string())? else {
            return Ok(0);
        };
        let body = checkpoint_body(&published.text)?;
        let hash: [u8; 32] = Sha256::digest(body.as_bytes()).into();
        let have: Vec<String> = state
            .db(move |s| s.timestamps(&hash).map_err(internal))
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|t| t.tsa)
            .collect();
        let mut stored = 0;
        for (tsa, wait) in self.tsas.iter().zip(backoff.iter_mut()) {
            if have.contains(tsa) || !wait.due() {
                continue;
            }
            match self.stamp(tsa, body.as_bytes()).await {
                Ok((token, time)) => {
                    wait.reset();
                    state.metrics().timestamp_request(tsa, "stamped");
                    let stamp = StoredTimestamp {
                        tsa: tsa.clone(),
                        token,
                        time,
                    };
                    let size = published.size;
                    if state
                        .db(move |s| s.put_timestamp(&hash, size, &stamp).map_err(internal))
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        stored += 1;
                        tracing::info!(tsa = %tsa, size, time, "checkpoint time-stamped");
                    }
                }
                Err(e) => {
                    wait.failed();
                    let outcome = match &e {
                        StampError::Unreachable(_) => "unreachable",
                        StampError::Invalid(timestamp::TimestampError::Refused { .. }) => "refused",
                        StampError::Invalid(_) => "invalid",
                    };
                    state.metrics().timestamp_request(tsa, outcome);
                    tracing::warn!(tsa = %tsa, size = published.size, error = %e,
                        retry_in_seconds = wait.delay.as_secs(), "no time-stamp from the TSA");
                }
            }
        }
        Ok(stored)
    }
}

/// The body of a signed checkpoint (what a token's imprint covers).
pub fn checkpoint_body(text: &str) -> Result<String, String> {
    SignedCheckpoint::parse(text)
        .map(|c| c.note().unverified_text().to_owned())
        .map_err(|e| format!("stored checkpoint: {e}"))
}

/// The tokens stored over a checkpoint's `body`, DER, as many as a document carries.
pub fn stored_tokens<S: crate::store::TimestampStore + ?Sized>(
    store: &S,
    body: &str,
) -> Result<Vec<Vec<u8>>, crate::store::StoreError> {
    let hash: [u8; 32] = Sha256::digest(body.as_bytes()).into();
    Ok(store
        .timestamps(&hash)?
        .into_iter()
        .take(letro_core::bundle::MAX_TIMESTAMPS)
        .map(|t| t.token)
        .collect())
}

/// [`stored_tokens`] of the signed checkpoint `text`, from the API's store.
pub async fn tokens_for(
    state: &AppState,
    text: &str,
) -> Result<Vec<Vec<u8>>, crate::api::ApiError> {
    let body = checkpoint_body(text).map_err(internal)?;
    state
        .db(move |s| stored_tokens(s, &body).map_err(internal))
        .await
}

/// A TSA's retry state.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Option<Instant>,
    delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: None,
            delay: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    fn due(&self) -> bool {
        self.next.is_none_or(|t| Instant::now() >= t)
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn failed(&mut self) {
        self.next = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(MAX_BACKOFF);
    }
}

/// Runs rounds every `every` until aborted.
pub async fn run(state: AppState, timestamping: Arc<Timestamping>, every: Duration) {
    let mut backoff = vec![Backoff::default(); timestamping.tsas().len()];
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = timestamping.round(&state, &mut backoff).await {
            tracing::warn!(error = %e, "time-stamping round failed");
        }
    }
}

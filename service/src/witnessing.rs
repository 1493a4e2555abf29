//! The log's side of C2SP tlog-witness: each new checkpoint goes to every configured witness
//! with `add-checkpoint` and an RFC 6962 consistency proof from the size that witness last
//! cosigned, and the verified `cosignature/v1` lines come back onto the checkpoint.
//!
//! - A witness answering 409 gets the request again from the size it names (once).
//! - 404, 403, 422, other statuses, timeouts and connection failures are logged and counted
//!   (`letro_witness_requests_total{witness, outcome}`); they never stop the log from accepting
//!   events, only, when a quorum is configured, from publishing the checkpoint until enough
//!   witnesses cosign.
//! - A line that claims to be a configured witness's but does not verify is dropped and logged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use letro_log::cosignature::{self, CosignerKey};
use letro_log::note::Note;
use letro_log::witness::{parse_size_body, request_body};

use crate::api::AppState;
use crate::store::StoredCheckpoint;

/// A witness the log asks for cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessTarget {
    /// Its cosigner key (type 0x04 vkey); its name is the witness's name.
    pub key: CosignerKey,
    /// Its submission prefix (`https://witness.example/` or `http://127.0.0.1:7380`);
    /// `add-checkpoint` is appended.
    pub url: String,
}

/// What one witness said to one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A verified cosignature line.
    Cosigned(String),
    /// A refusal or failure, for the log and the metrics.
    Failed(&'static str, String),
}

/// The witnesses, what each last cosigned, and the HTTP client.
#[derive(Debug)]
pub struct Witnessing {
    targets: Vec<WitnessTarget>,
    /// Cosignatures a checkpoint needs before it is published.
    pub quorum: usize,
    known: Mutex<Vec<u64>>,
    http: reqwest::Client,
}

impl Witnessing {
    /// The witnessing of `targets`, each request within `timeout`.
    pub fn new(
        targets: Vec<WitnessTarget>,
        quorum: usize,
        timeout: Duration,
    ) -> Result<Self, String> {
        if quorum > targets.len() {
            return Err(format!(
                "witness_quorum {quorum} is more than the {} witnesses configured",
                targets.len()
            ));
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::callback::tls_config(None)?)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("witness HTTP client: {e}"))?;
        Ok(Self {
            known: Mutex::new(vec![0; targets.len()]),
            targets,
            quorum,
            http,
        })
    }

    /// The configured witnesses.
    pub fn targets(&self) -> &[WitnessTarget] {
        &self.targets
    }

    /// Asks every witness, concurrently, to cosign `checkpoint`; returns the checkpoint with
    /// the verified cosignature lines appended, and how many there are.
    pub async fn cosign(
        self: &Arc<Self>,
        state: &AppState,
        checkpoint: &StoredCheckpoint,
    ) -> (StoredCheckpoint, usize) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.targets.len() {
            let (this, state, cp) = (self.clone(), state.clone(), checkpoint.clone());
            tasks.spawn(async move { (i, this.ask(i, &state, &cp).await) });
        }
        let mut lines: Vec<(usize, String)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, outcome)) = joined else { continue };
            let name = self.targets.get(i).map_or("?", |t| t.key.name());
            match outcome {
                Outcome::Cosigned(line) => {
                    state.metrics().witness_request(name, "cosigned");
                    lines.push((i, line));
                }
                Outcome::Failed(kind, detail) => {
                    state.metrics().witness_request(name, kind);
                    tracing::warn!(
                        witness = name,
                        outcome = kind,
                        size = checkpoint.size,
                        "{detail}"
                    );
                }
            }
        }
        lines.sort();
        let count = lines.len();
        let mut text = checkpoint.text.clone();
        for (_, line) in lines {
            text.push_str(&line);
            text.push('\n');
        }
        (
            StoredCheckpoint {
                text,
                ..checkpoint.clone()
            },
            count,
        )
    }

    /// One witness: `add-checkpoint` from the size it last cosigned, again from the size a 409
    /// names, then the answer's line for this witness, verified.
    async fn ask(&self, i: usize, state: &AppState, cp: &StoredCheckpoint) -> Outcome {
        let Some(target) = self.targets.get(i) else {
            return Outcome::Failed("internal", "no such witness".into());
        };
        let mut old = self
            .known
            .lock()
            .ok()
            .and_then(|k| k.get(i).copied())
            .unwrap_or(0);
        for _ in 0..2 {
            if old > cp.size {
                return Outcome::Failed(
                    "ahead",
                    format!("the witness has cosigned size {old}, beyond this checkpoint's {}: another view of this log exists, or the log lost entries", cp.size),
                );
            }
            let proof = match state.rfc6962_consistency(old, cp.size) {
                Ok(p) => p,
                Err(e) => return Outcome::Failed("internal", e.to_string()),
            };
            let url = format!("{}/add-checkpoint", target.url.trim_end_matches('/'));
            let sent = self
                .http
                .post(&url)
                .body(request_body(old, &proof, &cp.text))
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => return Outcome::Failed("unreachable", format!("{url}: {e}")),
            };
            let status = response.status().as_u16();
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => return Outcome::Failed("unreachable", format!("{url}: {e}")),
            };
            match status {
                200 => return self.verify_line(i, target, cp, &body),
                409 => match parse_size_body(&body) {
                    Some(size) if size != old => {
                        self.remember(i, size);
                        old = size;
                    }
                    _ => return Outcome::Failed(
                        "conflict",
                        "409 at the size it names: the witness holds another root for it (a fork?)"
                            .into(),
                    ),
                },
                404 => {
                    return Outcome::Failed(
                        "unknown_log",
                        "404: the witness does not follow this log's origin".into(),
                    )
                }
                403 => {
                    return Outcome::Failed(
                        "forbidden",
                        "403: the witness does not trust this log key".into(),
                    )
                }
                422 => {
                    return Outcome::Failed(
                        "inconsistent",
                        "422: the witness found the consistency proof wrong".into(),
                    )
                }
                s => {
                    return Outcome::Failed(
                        "error",
                        format!(
                            "status {s}: {}",
                            String::from_utf8_lossy(&body)
                                .chars()
                                .take(200)
                                .collect::<String>()
                        ),
                    )
                }
            }
        }
        Outcome::Failed("conflict", "409 twice".into())
    }

    fn remember(&self, i: usize, size: u64) {
        if let Ok(mut k) = self.known.lock() {
            if let Some(slot) = k.get_mut(i) {
                *slot = size;
            }
        }
    }

    /// The one line of `body` that is this witness's verified cosignature of `cp`.
    fn verify_line(
        &self,
        i: usize,
        target: &WitnessTarget,
        cp: &StoredCheckpoint,
        body: &[u8],
    ) -> Outcome {
        let Ok(text) = std::str::from_utf8(body) else {
            return Outcome::Failed("bad_cosignature", "the answer is not UTF-8".into());
        };
        let prefix = format!("\u{2014} {} ", target.key.name());
        for line in text.lines().filter(|l| l.starts_with(&prefix)) {
            let note = format!("{}{line}\n", cp.text);
            let verified = Note::parse(note.as_bytes())
                .ok()
                .and_then(|n| cosignature::verify(&n, std::slice::from_ref(&target.key)).ok());
            if verified.is_some_and(|v| v.len() == 1) {
                self.remember(i, cp.size);
                return Outcome::Cosigned(line.to_owned());
            }
        }
        Outcome::Failed(
            "bad_cosignature",
            "200 without a valid cosignature by the configured key".into(),
        )
    }
}

//! Counters for `GET /metrics`, kept in std atomics, and their Prometheus text exposition.
//!
//! Requests are counted per matched route template (never the raw path, so that ids and
//! indices in paths do not create new series) and status; requests that match no route are
//! counted under `route="unmatched"`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The reasons a receipt is refused, as `letro_receipts_refused_total{reason}` labels: the
/// error codes of `POST /v1/receipts` other than `unauthorized` and `forbidden` (those are
/// refusals of the caller, not of the receipt) and the 5xx ones.
pub const RECEIPT_REFUSALS: [&str; 9] = [
    "invalid_request",
    "payload_too_large",
    "invalid_receipt",
    "clock_skew",
    "not_submitted",
    "uncertified_receipt_key",
    "invalid_certificate",
    "conflict",
    "out_of_order",
];

/// Status codes are counted in `0..STATUSES`.
const STATUSES: usize = 600;

/// The service's counters.
pub struct Metrics {
    /// Route templates, in the order of `requests`; the last slot is `unmatched`.
    routes: Vec<&'static str>,
    /// One counter per status code per route.
    requests: Vec<Box<[AtomicU64]>>,
    receipts_refused: [AtomicU64; RECEIPT_REFUSALS.len()],
    /// Proof jobs accepted, finished done, finished failed, retried, dead-lettered, since this
    /// start.
    jobs: [AtomicU64; JOB_STATES.len()],
    /// `add-checkpoint` requests to witnesses, by witness name and outcome.
    witness_requests: std::sync::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
    timestamp_requests: std::sync::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
}

/// The `state` labels of `letro_proof_jobs_total`.
pub const JOB_STATES: [&str; 5] = ["queued", "done", "failed", "retried", "dead"];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counters for these route templates (plus `unmatched`).
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Self {
        let mut routes: Vec<&'static str> = routes.into_iter().collect();
        routes.sort_unstable();
        routes.dedup();
        routes.push("unmatched");
        let requests = routes
            .iter()
            .map(|_| (0..STATUSES).map(|_| AtomicU64::new(0)).collect())
            .collect();
        Self {
            routes,
            requests,
            receipts_refused: std::array::from_fn(|_| AtomicU64::new(0)),
            jobs: std::array::from_fn(|_| AtomicU64::new(0)),
            witness_requests: std::sync::Mutex::default(),
            timestamp_requests: std::sync::Mutex::default(),
        }
    }

    /// Counts one `add-checkpoint` request to `witness` that ended in `outcome` (`cosigned`,
    /// `unreachable`, `conflict`, `unknown_log`, `forbidden`, `inconsistent`, ...).
    pub fn witness_request(&self, witness: &str, outcome: &'static str) {
        if let Ok(mut m) = self.witness_requests.lock() {
            *m.entry((witness.to_owned(), outcome)).or_default() += 1;
        }
    }

    /// Counts one RFC 3161 request to `tsa` that ended in `outcome` (`stamped`, `unreachable`,
    /// `refused`, `invalid`).
    pub fn timestamp_request(&self, tsa: &str, outcome: &'static str) {
        if let Ok(mut m) = self.timestamp_requests.lock() {
            *m.entry((tsa.to_owned(), outcome)).or_default() += 1;
        }
    }

    /// Counts one answered request; `route` is the matched template, or `None`.
    pub fn request(&self, route: Option<&str>, status: u16) {
        let last = self.routes.len().saturating_sub(1);
        let slot = route
            .and_then(|r| self.routes.iter().position(|t| *t == r))
            .unwrap_or(last);
        if let Some(c) = self
            .requests
            .get(slot)
            .and_then(|s| s.get(usize::from(status)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one refused receipt if `code` is one of [`RECEIPT_REFUSALS`].
    pub fn receipt_refused(&self, code: &str) {
        if let Some(c) = RECEIPT_REFUSALS
            .iter()
            .position(|r| *r == code)
            .and_then(|i| self.receipts_refused.get(i))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a proof job entering `state` (one of [`JOB_STATES`]).
    pub fn job(&self, state: &str) {
        if let Some(c) = JOB_STATES
            .iter()
            .position(|r| *r == state)
            .and_then(|i| self.jobs.get(i))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of the counters and the given log sizes
    /// `(sequenced, integrated, published)`.
    pub fn render(&self, log: (u64, u64, u64)) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP letro_http_requests_total HTTP requests answered, by matched route template and status.\n\
             # TYPE letro_http_requests_total counter\n",
        );
        for (route, counts) in self.routes.iter().zip(&self.requests) {
            for (status, c) in counts.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "letro_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        out.push_str(
            "# HELP letro_log_entries Delivery log entries by state.\n\
             # TYPE letro_log_entries gauge\n",
        );
        for (state, n) in [
            ("sequenced", log.0),
            ("integrated", log.1),
            ("published", log.2),
        ] {
            let _ = writeln!(out, "letro_log_entries{{state=\"{state}\"}} {n}");
        }
        out.push_str(
            "# HELP letro_receipts_refused_total Delivery receipts refused, by error code.\n\
             # TYPE letro_receipts_refused_total counter\n",
        );
        for (reason, c) in RECEIPT_REFUSALS.iter().zip(&self.receipts_refused) {
            let _ = writeln!(
                out,
                "letro_receipts_refused_total{{reason=\"{reason}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP letro_proof_jobs_total Proof jobs queued (accepted) and finished done or failed since this start.\n\
             # TYPE letro_proof_jobs_total counter\n",
        );
        for (state, c) in JOB_STATES.iter().zip(&self.jobs) {
            let _ = writeln!(
                out,
                "letro_proof_jobs_total{{state=\"{state}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        if let Ok(m) = self.witness_requests.lock() {
            if !m.is_empty() {
                out.push_str(
                    "# HELP letro_witness_requests_total Checkpoints sent to witnesses (add-checkpoint), by witness and outcome.\n\
                     # TYPE letro_witness_requests_total counter\n",
                );
            }
            for ((witness, outcome), n) in m.iter() {
                let witness = witness.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "letro_witness_requests_total{{witness=\"{witness}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        if let Ok(m) = self.timestamp_requests.lock() {
            if !m.is_empty() {
                out.push_str(
                    "# HELP letro_timestamp_requests_total RFC 3161 time-stamp requests for published checkpoints, by TSA and outcome.\n\
                     # TYPE letro_timestamp_requests_total counter\n",
                );
            }
            for ((tsa, outcome), n) in m.iter() {
                let tsa = tsa.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "letro_timestamp_requests_total{{tsa=\"{tsa}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_rendered_by_template_and_status() {
        let m = Metrics::new(["/a/{id}", "/b"]);
        m.request(Some("/a/{id}"), 200);
        m.request(Some("/a/{id}"), 200);
        m.request(Some("/nope"), 404);
        m.request(None, 404);
        m.receipt_refused("clock_skew");
        m.receipt_refused("unauthorized");
        m.job("done");
        let text = m.render((3, 2, 1));
        assert!(text.contains("letro_http_requests_total{route=\"/a/{id}\",status=\"200\"} 2\n"));
        assert!(text.contains("letro_http_requests_total{route=\"unmatched\",status=\"404\"} 2\n"));
        assert!(!text.contains("route=\"/b\""));
        assert!(text.contains("letro_log_entries{state=\"sequenced\"} 3\n"));
        assert!(text.contains("letro_log_entries{state=\"published\"} 1\n"));
        assert!(text.contains("letro_receipts_refused_total{reason=\"clock_skew\"} 1\n"));
        assert!(text.contains("letro_receipts_refused_total{reason=\"invalid_receipt\"} 0\n"));
        assert!(!text.contains("unauthorized"));
        assert!(text.contains("letro_proof_jobs_total{state=\"done\"} 1\n"));
        assert!(text.contains("letro_proof_jobs_total{state=\"queued\"} 0\n"));
    }
}

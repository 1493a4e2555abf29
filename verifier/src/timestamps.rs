//! The RFC 3161 time-stamps a document carries over its checkpoint's body (SPEC §5.13),
//! checked with letro-log's [`letro_log::timestamp::verify`].
//!
//! A token that verifies and chains to a TSA certificate the user trusts gives the TSA's time
//! as an upper bound on the checkpoint, and so on every event it includes, that does not
//! depend on the operator's clock. A token that is intact but from a TSA nobody trusted here
//! is reported as such and bounds nothing. A token that is not intact (its imprint, signature
//! or attributes do not verify) fails the document: someone altered it.

use letro_log::timestamp::{self, TimestampError, VerifiedTimestamp};
use rustls_pki_types::CertificateDer;

/// One token's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    /// Verified, and chains to a trusted TSA certificate.
    Trusted(VerifiedTimestamp),
    /// Intact, but no trusted certificate vouches for its TSA.
    Untrusted {
        /// What the token says.
        stamp: VerifiedTimestamp,
        /// Why it is not trusted.
        why: String,
    },
}

impl TokenOutcome {
    /// The token as `letro-verify --json` reports it.
    pub fn to_json(&self) -> serde_json::Value {
        let s = self.stamp();
        serde_json::json!({
            "tsa": s.signer,
            "time": letro_core::bundle::format_time(s.time),
            "latest": letro_core::bundle::format_time(s.latest),
            "gen_time": s.time_text,
            "accuracy_ms": s.accuracy_ms,
            "policy": s.policy,
            "serial": s.serial,
            "algorithm": s.algorithm,
            "trusted": matches!(self, Self::Trusted(_)),
            "anchor": s.anchor,
            "not_trusted_because": match self {
                Self::Untrusted { why, .. } => Some(why),
                Self::Trusted(_) => None,
            },
        })
    }

    /// What the token says.
    pub fn stamp(&self) -> &VerifiedTimestamp {
        match self {
            Self::Trusted(s) | Self::Untrusted { stamp: s, .. } => s,
        }
    }
}

/// Why a document's time-stamps fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampVerifyError {
    /// A token is not intact, not over this checkpoint, or (exit 3) a trusted certificate
    /// given is unusable.
    #[error("time-stamp token {index}: {source}")]
    Token {
        /// The token's position in the document's `timestamps`.
        index: usize,
        /// Why.
        #[source]
        source: TimestampError,
    },
    /// The document's time is later than a trusted time-stamp of its checkpoint allows: the
    /// event (or the window's start) cannot have been logged before the checkpoint existed.
    #[error("the {what} {} is later than the trusted time-stamp by {tsa} allows ({} = its time, rounded up, plus its accuracy{})", fmt_time(*time), fmt_time(*bound), if *skew > 0 { format!(", plus the receipt skew of {skew} s") } else { String::new() })]
    After {
        /// What time: `event time` or `window start`.
        what: &'static str,
        /// The document's time, Unix seconds.
        time: u64,
        /// The latest the time-stamp allows, Unix seconds.
        bound: u64,
        /// The receipt skew added for a time the recipient signed (0 for the relay's clock).
        skew: u64,
        /// The TSA.
        tsa: String,
    },
}

fn fmt_time(t: u64) -> String {
    letro_core::bundle::format_time(t).unwrap_or_else(|| t.to_string())
}

/// Checks that `time` (the relay's clock, or with `skew` a time the recipient signed, which
/// the relay accepted within `skew` of its clock) is no later than the trusted time-stamps
/// allow.
pub fn check_not_after(
    outcomes: &[TokenOutcome],
    what: &'static str,
    time: u64,
    skew: u64,
) -> Result<(), TimestampVerifyError> {
    match trusted_time(outcomes) {
        Some(s) if time > s.latest.saturating_add(skew) => Err(TimestampVerifyError::After {
            what,
            time,
            bound: s.latest.saturating_add(skew),
            skew,
            tsa: s.signer.clone(),
        }),
        _ => Ok(()),
    }
}

/// Checks each token over `body` (the checkpoint's signed text) against `trusted`.
pub fn check(
    tokens: &[Vec<u8>],
    body: &str,
    trusted: &[CertificateDer<'static>],
) -> Result<Vec<TokenOutcome>, TimestampVerifyError> {
    tokens
        .iter()
        .enumerate()
        .map(|(index, token)| {
            let fail = |source| TimestampVerifyError::Token { index, source };
            if trusted.is_empty() {
                let stamp = timestamp::verify(token, body.as_bytes(), &[]).map_err(fail)?;
                return Ok(TokenOutcome::Untrusted {
                    stamp,
                    why: "no trusted TSA certificate was given (--tsa-cert)".into(),
                });
            }
            match timestamp::verify(token, body.as_bytes(), trusted) {
                Ok(stamp) => Ok(TokenOutcome::Trusted(stamp)),
                Err(e @ TimestampError::Chain(_)) => {
                    let stamp = timestamp::verify(token, body.as_bytes(), &[]).map_err(fail)?;
                    Ok(TokenOutcome::Untrusted {
                        stamp,
                        why: e.to_string(),
                    })
                }
                Err(e) => Err(fail(e)),
            }
        })
        .collect()
}

/// The trusted token with the earliest [`VerifiedTimestamp::latest`]: the checkpoint existed
/// by then (`genTime` rounded up plus the TSA's accuracy), by a TSA's clock.
pub fn trusted_time(outcomes: &[TokenOutcome]) -> Option<&VerifiedTimestamp> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            TokenOutcome::Trusted(s) => Some(s),
            TokenOutcome::Untrusted { .. } => None,
        })
        .min_by_key(|s| s.latest)
}

impl TimestampVerifyError {
    /// `letro-verify`'s exit code: 3 when a trusted certificate given is unusable (the input,
    /// not the document, is at fault), 1 otherwise (the token was altered or moved).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Token {
                source: TimestampError::TrustAnchor { .. },
                ..
            } => 3,
            _ => 1,
        }
    }

    /// The stable machine code (SPEC §8): `Timestamp.Invalid`, `Timestamp.TrustAnchor` or
    /// `Timestamp.EventAfter`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Token {
                source: TimestampError::TrustAnchor { .. },
                ..
            } => "Timestamp.TrustAnchor",
            Self::Token { .. } => "Timestamp.Invalid",
            Self::After { .. } => "Timestamp.EventAfter",
        }
    }
}

/// Reads trusted TSA certificates from PEM (one or more `CERTIFICATE` blocks).
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    for (i, c) in certs.iter().enumerate() {
        webpki::anchor_from_trusted_cert(c)
            .map_err(|e| format!("certificate {i} is not a usable X.509 certificate: {e:?}"))?;
    }
    Ok(certs)
}

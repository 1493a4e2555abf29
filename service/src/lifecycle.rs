//! The expiry task (SPEC §5.11): a delivery that nobody retrieved or refused within the
//! retention period ([`crate::Config::retention`], counted from its submission's logging) gets
//! an `expired` event, its final state, and its envelope leaves the mailbox.
//!
//! The writer decides: a receipt or a refusal that reaches it first wins, and the expiry is then
//! refused as out of order and skipped. A delivery whose expiry fails to be logged stays open and
//! is tried again on the next round.

use letro_core::lifecycle::expired_leaf;
use letro_core::statement::CiphertextHash;

use crate::api::{internal, ApiError, AppState};
use crate::store::{EventSecret, StoredEvent};

/// Most deliveries one round reads at a time.
const PAGE: usize = 256;

/// How many deliveries a round closed, and how many a receipt or refusal reached first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Expired events logged.
    pub expired: usize,
    /// Deliveries that ended otherwise while the round ran.
    pub skipped: usize,
}

/// Logs an `expired` event for every open delivery accepted at or before `now - retention`,
/// and removes its envelope from the mailbox. Returns what it did; stops at the first storage
/// error (what it logged before stays logged).
pub async fn expire_due(state: &AppState, retention: u64, now: u64) -> Result<Expiry, ApiError> {
    let Some(accepted_by) = now.checked_sub(retention) else {
        return Ok(Expiry::default());
    };
    let mut outcome = Expiry::default();
    loop {
        let due = state
            .db(move |s| s.expiring(accepted_by, PAGE).map_err(internal))
            .await?;
        let page = due.len();
        let before = outcome;
        for d in due {
            let h = CiphertextHash(d.ciphertext_hash);
            let secret = EventSecret::fresh();
            let leaf = expired_leaf(&h, retention, now, &secret.fr());
            let event = StoredEvent::Expired {
                ciphertext_sha256: h.to_hex(),
                retention,
                expired_at: now,
            };
            match state.append(h.0, leaf, event, secret).await {
                Ok(_) => {
                    let hash = h.0;
                    state
                        .db(move |s| s.remove_envelope(&hash).map_err(internal))
                        .await?;
                    outcome.expired += 1;
                }
                Err(ApiError::OutOfOrder(_) | ApiError::Conflict(_)) => outcome.skipped += 1,
                Err(e) => return Err(e),
            }
        }
        // A full page that closed nothing would be read again: stop instead.
        if page < PAGE || outcome == before {
            return Ok(outcome);
        }
    }
}

/// How often the expiry task runs for a retention period: every minute, or as often as the
/// period itself when it is shorter.
pub fn expiry_period(retention: std::time::Duration) -> std::time::Duration {
    retention
        .min(std::time::Duration::from_secs(60))
        .max(std::time::Duration::from_secs(1))
}

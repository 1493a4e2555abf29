//! The single log writer: one OS thread that owns the store's write side. Events arrive on a
//! channel; the writer takes what is queued (up to [`MAX_BATCH`]), checks each against the
//! stored and batch-local records (idempotency), commits the new ones in one transaction, and
//! only then sequences them in memory and answers the callers (state `sequenced`).
//!
//! Integration into the tree is deferred: it runs when [`INTEGRATE_AT`] leaves are waiting,
//! when the writer has had nothing to do for [`IDLE_INTEGRATE`], and before every checkpoint.
//! A busy log thus rehashes the path to the root once per few hundred leaves instead of once
//! per small batch (the cost per leaf falls from about 94 µs at 4 leaves a batch to 13 µs at
//! 64), and a quiet one integrates within milliseconds. Checkpoints are signed and stored by
//! the same thread, so they never race an append.
//!
//! A thread rather than a tokio task because every batch ends in a blocking fsync.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use letro_core::lifecycle::{DeliveryState, OrderError};
use letro_core::log::DeliveryLog;
use letro_core::merkle::CAPACITY;
use letro_core::Fr;
use letro_log::checkpoint::{receipt_skew_extension, SignedCheckpoint};
use letro_log::note::SignerKey;
use tokio::sync::{mpsc, oneshot};

use crate::store::{EventSecret, LogStore, NewEntry, StoredCheckpoint, StoredEvent};

/// Most commands the writer takes into one batch (one transaction).
pub const MAX_BATCH: usize = 4096;

/// Sequenced leaves that make the writer integrate at once.
pub const INTEGRATE_AT: usize = 256;

/// How long the writer waits, idle with sequenced leaves, before integrating them.
pub const IDLE_INTEGRATE: std::time::Duration = std::time::Duration::from_millis(2);

/// The log as the API reads it: the tree with its three sizes and the latest checkpoint.
#[derive(Debug)]
pub struct LogView {
    /// The tree.
    pub log: DeliveryLog,
    /// The latest published checkpoint.
    pub checkpoint: Option<StoredCheckpoint>,
}

/// A request to the writer.
// Nearly every command is an `Append`; boxing it would add an allocation per event to make the
// rare `Publish` smaller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Command {
    /// Append an event (already checked for well-formedness and signature by the caller).
    Append {
        /// `H`, the idempotency key (one submitted and one delivered event per `H`).
        ciphertext_hash: [u8; 32],
        /// The event's leaf.
        leaf: Fr,
        /// The event.
        event: StoredEvent,
        /// The secret mixed into `leaf`, stored with it (dropped if the event is a repeat).
        event_secret: EventSecret,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<Appended, AppendError>>,
    },
    /// Sign and store a checkpoint of the integrated tree if it grew since the last one.
    Publish {
        /// Where the checkpoint goes.
        reply: oneshot::Sender<Result<StoredCheckpoint, AppendError>>,
    },
    /// Sign a checkpoint of the integrated tree without publishing it (for witnesses to
    /// cosign first); the published one when the tree did not grow.
    Sign {
        /// Where the checkpoint goes.
        reply: oneshot::Sender<Result<StoredCheckpoint, AppendError>>,
    },
    /// Store and publish a checkpoint made by `Sign`, with any cosignature lines added.
    Commit {
        /// The checkpoint.
        checkpoint: StoredCheckpoint,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<StoredCheckpoint, AppendError>>,
    },
    /// Show the database that the sequencer lives ([`LogStore::heartbeat`]); `done` is answered
    /// once it succeeded (dropped if it failed).
    Heartbeat {
        /// Answered after a successful heartbeat.
        done: oneshot::Sender<()>,
    },
}

/// A durably stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its index in the log.
    pub index: u64,
    /// False if the same event was already stored (the request was a repeat).
    pub fresh: bool,
}

/// Why an append or publish failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Another event of this kind is stored for the same `H`.
    #[error(
        "a different event of this kind is already logged for this ciphertext at index {index}"
    )]
    Conflict {
        /// The stored event's index.
        index: u64,
    },
    /// The delivery's lifecycle does not allow this event now (a final state was reached, or
    /// the event needs one that is not logged).
    #[error("{0}")]
    OutOfOrder(OrderError),
    /// The log holds 2^32 entries.
    #[error("the log is full")]
    Full,
    /// Storage or signing failed (the cause is logged, not returned).
    #[error("internal error")]
    Internal,
}

/// Whether two events of the same kind for the same `H` are the same record. A receipt is the
/// same if `(A, t)` are (so its leaf is); its signature may differ, as signers may randomise.
fn same_record(a: &StoredEvent, b: &StoredEvent) -> bool {
    match (a, b) {
        (
            StoredEvent::Submitted {
                sender: s1,
                routing: r1,
                ..
            },
            StoredEvent::Submitted {
                sender: s2,
                routing: r2,
                ..
            },
        ) => s1 == s2 && r1 == r2,
        (
            StoredEvent::Delivered {
                delivered_at: t1,
                receipt_key: k1,
                ..
            },
            StoredEvent::Delivered {
                delivered_at: t2,
                receipt_key: k2,
                ..
            },
        ) => t1 == t2 && k1 == k2,
        // A retried rejected submission is the same rejection, whenever it was retried.
        (
            StoredEvent::Rejected {
                sender: s1,
                reason: r1,
                ..
            },
            StoredEvent::Rejected {
                sender: s2,
                reason: r2,
                ..
            },
        ) => s1 == s2 && r1 == r2,
        (
            StoredEvent::Available { routing: r1, .. },
            StoredEvent::Available { routing: r2, .. },
        ) => r1 == r2,
        // A refusal is the same if what was signed is (its signature may be randomised).
        (
            StoredEvent::Refused {
                refused_at: t1,
                reason: r1,
                receipt_key: k1,
                ..
            },
            StoredEvent::Refused {
                refused_at: t2,
                reason: r2,
                receipt_key: k2,
                ..
            },
        ) => t1 == t2 && r1 == r2 && k1 == k2,
        // A delivery expires once.
        (StoredEvent::Expired { .. }, StoredEvent::Expired { .. }) => true,
        _ => false,
    }
}

/// What the writer does with an event, given its delivery's events so far.
enum Admission {
    /// Log it.
    New,
    /// The same record is logged at this index: answer with it (idempotency).
    Repeat(u64),
    /// Refuse it.
    Refused(AppendError),
}

/// Whether `event` may follow `events` (its delivery's events, in log order): a repeat of a
/// logged event of its kind is answered with that event, a different event of a logged kind is
/// a conflict, and otherwise the lifecycle's order rule decides (SPEC §5.11). Events logged
/// before the lifecycle existed follow the rule too (a submission, then a receipt).
fn admit(events: &[(u64, StoredEvent)], event: &StoredEvent) -> Admission {
    if let Some((index, stored)) = events.iter().find(|(_, e)| e.kind() == event.kind()) {
        return if same_record(stored, event) {
            Admission::Repeat(*index)
        } else {
            Admission::Refused(AppendError::Conflict { index: *index })
        };
    }
    let mut state = DeliveryState::Unknown;
    for (_, e) in events {
        // A stored history the rule refuses cannot be written by this writer; keep its last
        // state rather than guessing.
        state = state.then(e.lifecycle_event()).unwrap_or(state);
    }
    match state.then(event.lifecycle_event()) {
        Ok(_) => Admission::New,
        Err(e) => Admission::Refused(AppendError::OutOfOrder(e)),
    }
}

/// The writer's state.
pub struct Writer<S: LogStore> {
    /// The store.
    pub store: S,
    /// The shared view it updates.
    pub view: Arc<RwLock<LogView>>,
    /// The log key.
    pub key: SignerKey,
    /// The log origin.
    pub origin: String,
    /// The clock, Unix seconds.
    pub now: fn() -> u64,
    /// The receipt skew every checkpoint publishes (`receipt-skew <seconds>` extension line,
    /// SPEC §6.3): the largest distance between a receipt's `t` and the clock under which any
    /// entry of the tree was accepted.
    pub receipt_skew: u64,
}

type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// An append waiting in a batch.
struct Pending {
    h: [u8; 32],
    leaf: Fr,
    event: StoredEvent,
    event_secret: EventSecret,
    reply: Reply,
}

impl<S: LogStore> Writer<S> {
    /// Runs until every sender of `rx` is dropped (returns true), or until the store lost the
    /// session that let it write the log ([`LogStore::session_lost`], checked after every
    /// batch: returns false, and every command after it is refused).
    pub fn run(mut self, mut rx: mpsc::Receiver<Command>) -> bool {
        use tokio::sync::mpsc::error::TryRecvError;
        loop {
            let first = match rx.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Disconnected) => {
                    self.integrate();
                    return true;
                }
                Err(TryRecvError::Empty) if self.pending() == 0 => match rx.blocking_recv() {
                    Some(c) => c,
                    None => return true,
                },
                Err(TryRecvError::Empty) => {
                    std::thread::sleep(IDLE_INTEGRATE);
                    match rx.try_recv() {
                        Ok(c) => c,
                        Err(_) => {
                            self.integrate();
                            continue;
                        }
                    }
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            let mut publishes = Vec::new();
            let mut signs = Vec::new();
            let mut commits = Vec::new();
            let mut appends = Vec::new();
            let mut heartbeats = Vec::new();
            for c in batch {
                match c {
                    Command::Heartbeat { done } => heartbeats.push(done),
                    Command::Publish { reply } => publishes.push(reply),
                    Command::Sign { reply } => signs.push(reply),
                    Command::Commit { checkpoint, reply } => commits.push((checkpoint, reply)),
                    Command::Append {
                        ciphertext_hash,
                        leaf,
                        event,
                        event_secret,
                        reply,
                    } => appends.push(Pending {
                        h: ciphertext_hash,
                        leaf,
                        event,
                        event_secret,
                        reply,
                    }),
                }
            }
            if !appends.is_empty() {
                self.append_batch(appends);
            }
            for (checkpoint, reply) in commits {
                let _ = reply.send(self.commit_checkpoint(checkpoint));
            }
            if !signs.is_empty() {
                let outcome = self.sign();
                for reply in signs {
                    let _ = reply.send(outcome.clone());
                }
            }
            if !publishes.is_empty() {
                let outcome = self.publish();
                for reply in publishes {
                    let _ = reply.send(outcome.clone());
                }
            }
            if !heartbeats.is_empty() {
                match self.store.heartbeat() {
                    Ok(()) => {
                        for done in heartbeats {
                            let _ = done.send(());
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "the sequencer's heartbeat failed"),
                }
            }
            if self.store.session_lost() {
                tracing::error!(
                    "the database session that held the sequencer lock is gone: another \
                     service may sequence the log now, so this one stops writing it"
                );
                return false;
            }
        }
    }

    fn append_batch(&mut self, appends: Vec<Pending>) {
        let base = match self.view.read() {
            Ok(v) => v.log.sequenced_size(),
            Err(_) => {
                tracing::error!("log view lock poisoned");
                for p in appends {
                    let _ = p.reply.send(Err(AppendError::Internal));
                }
                return;
            }
        };
        // Each delivery's events, stored and of this batch, in log order: the stored ones read
        // for the whole batch at once (one round trip on PostgreSQL).
        let wanted: Vec<[u8; 32]> = {
            let mut hs: Vec<[u8; 32]> = appends.iter().map(|p| p.h).collect();
            hs.sort_unstable();
            hs.dedup();
            hs
        };
        let mut deliveries: HashMap<[u8; 32], Vec<(u64, StoredEvent)>> =
            match self.store.deliveries(&wanted) {
                Ok(found) => found,
                Err(e) => {
                    tracing::error!(error = %e, "store lookup failed");
                    for p in appends {
                        let _ = p.reply.send(Err(AppendError::Internal));
                    }
                    return;
                }
            };
        let mut new_entries: Vec<NewEntry> = Vec::new();
        let mut new_leaves: Vec<Fr> = Vec::new();
        let mut done: Vec<(Reply, Result<Appended, AppendError>)> = Vec::new();
        let mut waiting: Vec<(Reply, u64)> = Vec::new();
        let mut refused_by_batch: Vec<(Reply, AppendError)> = Vec::new();
        let now = (self.now)();
        for Pending {
            h,
            leaf,
            event,
            event_secret,
            reply,
        } in appends
        {
            let events = deliveries.entry(h).or_default();
            match admit(events, &event) {
                Admission::Repeat(index) if index >= base => {
                    // Same as an entry of this batch: answered once that entry is committed.
                    waiting.push((reply, index));
                }
                Admission::Repeat(index) => done.push((
                    reply,
                    Ok(Appended {
                        index,
                        fresh: false,
                    }),
                )),
                // A refusal that rests on an entry of this batch holds only if the batch is
                // committed (else the delivery is as it was, and the caller may retry).
                Admission::Refused(e) if events.iter().any(|(i, _)| *i >= base) => {
                    refused_by_batch.push((reply, e))
                }
                Admission::Refused(e) => done.push((reply, Err(e))),
                Admission::New => {
                    let index = base + new_entries.len() as u64;
                    if index >= CAPACITY {
                        done.push((reply, Err(AppendError::Full)));
                        continue;
                    }
                    events.push((index, event.clone()));
                    new_entries.push(NewEntry {
                        index,
                        ciphertext_hash: h,
                        leaf: letro_core::field::fr_to_be_bytes(&leaf),
                        event,
                        event_secret,
                        logged_at: now,
                    });
                    new_leaves.push(leaf);
                    done.push((reply, Ok(Appended { index, fresh: true })));
                }
            }
        }
        let committed = new_entries.is_empty() || self.commit(&new_entries, &new_leaves);
        for (reply, outcome) in done {
            let outcome = match outcome {
                Ok(a) if a.fresh && !committed => Err(AppendError::Internal),
                other => other,
            };
            let _ = reply.send(outcome);
        }
        for (reply, e) in refused_by_batch {
            let _ = reply.send(Err(if committed { e } else { AppendError::Internal }));
        }
        for (reply, index) in waiting {
            let outcome = if committed {
                Ok(Appended {
                    index,
                    fresh: false,
                })
            } else {
                Err(AppendError::Internal)
            };
            let _ = reply.send(outcome);
        }
    }

    /// Sequenced leaves not yet integrated.
    fn pending(&self) -> u64 {
        self.view
            .read()
            .map_or(0, |v| v.log.sequenced_size() - v.log.integrated_size())
    }

    /// Integrates every sequenced leaf. False (logged) if that failed.
    fn integrate(&mut self) -> bool {
        let Ok(mut view) = self.view.write() else {
            tracing::error!("log view lock poisoned");
            return false;
        };
        let waiting = view.log.sequenced_size() - view.log.integrated_size();
        if waiting == 0 {
            return true;
        }
        match view.log.integrate() {
            Ok((size, _)) => {
                tracing::debug!(size, leaves = waiting, "integrated");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "integration failed");
                false
            }
        }
    }

    /// Stores the entries, then sequences them (and integrates when [`INTEGRATE_AT`] leaves
    /// wait). False if nothing was stored.
    fn commit(&mut self, entries: &[NewEntry], leaves: &[Fr]) -> bool {
        if let Err(e) = self.store.append(entries) {
            tracing::error!(error = %e, entries = entries.len(), "append failed");
            return false;
        }
        let Ok(mut view) = self.view.write() else {
            tracing::error!("log view lock poisoned");
            return false;
        };
        for leaf in leaves {
            if let Err(e) = view.log.sequence(*leaf) {
                tracing::error!(error = %e, "sequencing a stored leaf failed");
                return false;
            }
        }
        tracing::debug!(batch = entries.len(), "committed and sequenced");
        let waiting = view.log.sequenced_size() - view.log.integrated_size();
        drop(view);
        // A failed integration is logged; the leaves are stored and sequenced, and the next
        // integration takes them.
        if waiting >= INTEGRATE_AT as u64 {
            self.integrate();
        }
        true
    }

    fn publish(&mut self) -> Result<StoredCheckpoint, AppendError> {
        let signed = self.sign()?;
        let unchanged = self
            .view
            .read()
            .map_err(|_| AppendError::Internal)?
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.text == signed.text);
        if unchanged {
            return Ok(signed);
        }
        self.commit_checkpoint(signed)
    }

    /// Integrates, then signs a checkpoint of the integrated tree (not stored, not published);
    /// the published checkpoint when the tree has not grown since.
    fn sign(&mut self) -> Result<StoredCheckpoint, AppendError> {
        if !self.integrate() {
            return Err(AppendError::Internal);
        }
        let checkpoint = {
            let view = self.view.read().map_err(|_| AppendError::Internal)?;
            if let Some(cp) = &view.checkpoint {
                if cp.size == view.log.integrated_size() {
                    return Ok(cp.clone());
                }
            }
            let mut cp = view.log.checkpoint(&self.origin, (self.now)());
            cp.extensions
                .push(receipt_skew_extension(self.receipt_skew));
            cp
        };
        let text = SignedCheckpoint::sign(&checkpoint, &self.key).map_err(|e| {
            tracing::error!(error = %e, "signing the checkpoint failed");
            AppendError::Internal
        })?;
        Ok(StoredCheckpoint {
            size: checkpoint.size,
            time: checkpoint.time,
            text,
        })
    }

    /// Stores and publishes a checkpoint this writer signed (cosignature lines may have been
    /// added): it must still verify under the log key, and not go back before the published
    /// size nor beyond the integrated one.
    fn commit_checkpoint(
        &mut self,
        stored: StoredCheckpoint,
    ) -> Result<StoredCheckpoint, AppendError> {
        let ours = SignedCheckpoint::parse(&stored.text)
            .ok()
            .and_then(|c| c.verify(&[self.key.verifier_key()]).ok())
            .is_some_and(|c| c.checkpoint().size == stored.size);
        if !ours {
            tracing::error!(
                size = stored.size,
                "refusing to publish a checkpoint this log did not sign"
            );
            return Err(AppendError::Internal);
        }
        {
            let view = self.view.read().map_err(|_| AppendError::Internal)?;
            if stored.size < view.log.published_size() || stored.size > view.log.integrated_size() {
                tracing::warn!(
                    size = stored.size,
                    published = view.log.published_size(),
                    "a checkpoint older than the published one is not published"
                );
                return Err(AppendError::Internal);
            }
        }
        self.store.put_checkpoint(&stored).map_err(|e| {
            tracing::error!(error = %e, "storing the checkpoint failed");
            AppendError::Internal
        })?;
        let mut view = self.view.write().map_err(|_| AppendError::Internal)?;
        view.log.mark_published(stored.size).map_err(|e| {
            tracing::error!(error = %e, "marking the checkpoint published failed");
            AppendError::Internal
        })?;
        view.checkpoint = Some(stored.clone());
        tracing::info!(size = stored.size, "published checkpoint");
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::store::{SqliteStore, StoreError, StoredLeaf};

    /// A SQLite store whose appends can be made to fail.
    struct Flaky {
        inner: SqliteStore,
        fail: Arc<AtomicBool>,
    }

    impl LogStore for Flaky {
        fn leaves(&self) -> Result<Vec<StoredLeaf>, StoreError> {
            self.inner.leaves()
        }
        fn find_submission(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError> {
            self.inner.find_submission(h)
        }
        fn find_receipt(&self, h: &[u8; 32]) -> Result<Option<(u64, StoredEvent)>, StoreError> {
            self.inner.find_receipt(h)
        }
        fn delivery(&self, h: &[u8; 32]) -> Result<Vec<(u64, StoredEvent)>, StoreError> {
            self.inner.delivery(h)
        }
        fn expiring(
            &self,
            accepted_by: u64,
            limit: usize,
        ) -> Result<Vec<crate::store::OpenDelivery>, StoreError> {
            self.inner.expiring(accepted_by, limit)
        }
        fn event_secret(&self, index: u64) -> Result<Option<EventSecret>, StoreError> {
            self.inner.event_secret(index)
        }
        fn append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::Corrupt("injected failure".into()));
            }
            self.inner.append(entries)
        }
        fn put_checkpoint(&mut self, c: &StoredCheckpoint) -> Result<(), StoreError> {
            self.inner.put_checkpoint(c)
        }
        fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
            self.inner.latest_checkpoint()
        }
    }

    fn submitted(n: u8) -> ([u8; 32], Fr, StoredEvent) {
        let h = [n; 32];
        let event = StoredEvent::Submitted {
            ciphertext_sha256: hex::encode(h),
            sender: "bank".into(),
            routing: "r".into(),
        };
        (h, Fr::from(u64::from(n) + 1), event)
    }

    fn append(tx: &mpsc::Sender<Command>, n: u8) -> Result<Appended, AppendError> {
        let (ciphertext_hash, leaf, event) = submitted(n);
        let (reply, rx) = oneshot::channel();
        tx.blocking_send(Command::Append {
            ciphertext_hash,
            leaf,
            event,
            event_secret: EventSecret::fresh(),
            reply,
        })
        .unwrap();
        rx.blocking_recv().unwrap()
    }

    /// A stored event of each lifecycle kind for `h` (the writer checks order and idempotency
    /// only; leaves and signatures are the callers' business).
    fn lifecycle_event(h: [u8; 32], e: letro_core::lifecycle::LifecycleEvent) -> StoredEvent {
        use letro_core::lifecycle::LifecycleEvent as E;
        let hex = hex::encode(h);
        let point = crate::store::PointJson {
            x: "1".into(),
            y: "2".into(),
        };
        let signature = crate::store::SignatureJson {
            r8: point.clone(),
            s: "3".into(),
        };
        match e {
            E::SubmissionAccepted => StoredEvent::Submitted {
                ciphertext_sha256: hex,
                sender: "bank".into(),
                routing: "r".into(),
            },
            E::SubmissionRejected => StoredEvent::Rejected {
                ciphertext_sha256: hex,
                sender: "bank".into(),
                reason: "unknown-recipient".into(),
                rejected_at: 10,
            },
            E::MadeAvailable => StoredEvent::Available {
                ciphertext_sha256: hex,
                routing: "r".into(),
                available_at: 11,
            },
            E::Retrieved => StoredEvent::Delivered {
                ciphertext_sha256: hex,
                delivered_at: 12,
                receipt_key: point,
                signature,
                receipt_key_certificate: None,
            },
            E::Refused => StoredEvent::Refused {
                ciphertext_sha256: hex,
                refused_at: 13,
                reason: None,
                receipt_key: point,
                signature,
                receipt_key_certificate: letro_api::directory::CertificateObject {
                    identity_key: vec![5; 33],
                    signature: vec![0; 64],
                },
            },
            E::Expired => StoredEvent::Expired {
                ciphertext_sha256: hex,
                retention: 60,
                expired_at: 14,
            },
        }
    }

    fn send(
        tx: &mpsc::Sender<Command>,
        h: [u8; 32],
        event: StoredEvent,
    ) -> oneshot::Receiver<Result<Appended, AppendError>> {
        let (reply, rx) = oneshot::channel();
        tx.blocking_send(Command::Append {
            ciphertext_hash: h,
            leaf: Fr::from(u64::from(h[0]) * 100 + u64::from(h[1])),
            event,
            event_secret: EventSecret::fresh(),
            reply,
        })
        .unwrap();
        rx
    }

    /// Every allowed history of a delivery, followed by every event: the writer logs exactly
    /// what the lifecycle allows, answers a repeat of a logged kind with its entry, and refuses
    /// everything else (out of order) without storing it; once from the store, once within one
    /// batch.
    #[test]
    fn the_writer_refuses_every_forbidden_order() {
        use letro_core::lifecycle::{DeliveryState, LifecycleEvent as E};
        // Every allowed history (the empty one included).
        let mut histories: Vec<Vec<E>> = vec![vec![]];
        let mut frontier: Vec<Vec<E>> = vec![vec![]];
        while let Some(h) = frontier.pop() {
            let state = h
                .iter()
                .fold(DeliveryState::Unknown, |s, e| s.then(*e).unwrap());
            for e in E::ALL {
                if state.then(e).is_ok() {
                    let mut next = h.clone();
                    next.push(e);
                    histories.push(next.clone());
                    frontier.push(next);
                }
            }
        }
        assert_eq!(histories.len(), 10);
        let dir = tempfile::tempdir().unwrap();
        let (writer, _view) = test_writer(SqliteStore::open(dir.path()).unwrap());
        let (tx, rx) = mpsc::channel(64);
        let thread = std::thread::spawn(move || writer.run(rx));
        let mut refused = 0;
        let mut n = 0u8;
        for history in &histories {
            for next in E::ALL {
                for in_one_batch in [false, true] {
                    n += 1;
                    let h = [n, 1 + u8::from(in_one_batch)]
                        .repeat(16)
                        .try_into()
                        .unwrap();
                    let mut replies = Vec::new();
                    for e in history {
                        let r = send(&tx, h, lifecycle_event(h, *e));
                        if in_one_batch {
                            replies.push(r);
                        } else {
                            assert!(r.blocking_recv().unwrap().unwrap().fresh);
                        }
                    }
                    let outcome = send(&tx, h, lifecycle_event(h, next));
                    for r in replies {
                        assert!(r.blocking_recv().unwrap().unwrap().fresh);
                    }
                    let outcome = outcome.blocking_recv().unwrap();
                    let state = history
                        .iter()
                        .fold(DeliveryState::Unknown, |s, e| s.then(*e).unwrap());
                    let ctx = format!("{history:?} then {next:?} (one batch: {in_one_batch})");
                    if history.contains(&next) {
                        // The same record again: its entry, nothing new.
                        assert!(!outcome.expect(&ctx).fresh, "{ctx}");
                    } else if state.then(next).is_ok() {
                        assert!(outcome.expect(&ctx).fresh, "{ctx}");
                    } else {
                        refused += 1;
                        match outcome {
                            Err(AppendError::OutOfOrder(e)) => {
                                assert_eq!((e.state, e.event), (state, next), "{ctx}")
                            }
                            other => panic!("{ctx}: {other:?}"),
                        }
                    }
                }
            }
        }
        drop(tx);
        thread.join().unwrap();
        // 10 histories x 6 events = 60 pairs: 9 allowed steps, 19 repeats (one per event of
        // every history), 32 refused.
        assert_eq!(refused, 2 * (60 - 9 - 19));
        // Nothing refused was stored: every stored delivery is an allowed history.
        let store = SqliteStore::open(dir.path()).unwrap();
        for i in 1..=n {
            for b in [1u8, 2] {
                let h: [u8; 32] = [i, b].repeat(16).try_into().unwrap();
                let events = store.delivery(&h).unwrap();
                let mut state = DeliveryState::Unknown;
                for (_, e) in &events {
                    state = state.then(e.lifecycle_event()).unwrap();
                }
            }
        }
    }

    /// A writer over `store` with a fresh view, the test key and a fixed clock.
    fn test_writer<S: LogStore>(store: S) -> (Writer<S>, Arc<RwLock<LogView>>) {
        let view = Arc::new(RwLock::new(LogView {
            log: DeliveryLog::new(),
            checkpoint: None,
        }));
        let writer = Writer {
            store,
            view: view.clone(),
            key: SignerKey::from_seed("example.invalid/log", &[1; 32]).unwrap(),
            origin: "example.invalid/log".into(),
            now: || 1_764_000_000,
            receipt_skew: 300,
        };
        (writer, view)
    }

    /// A refusal that rests on an entry of its own batch is not sent when that batch fails to
    /// commit: the delivery is as it was, and the caller gets `Internal` (retry), not 409.
    #[test]
    fn a_refusal_resting_on_an_uncommitted_entry_is_internal() {
        use letro_core::lifecycle::LifecycleEvent as E;
        let dir = tempfile::tempdir().unwrap();
        let fail = Arc::new(AtomicBool::new(true));
        let (writer, _view) = test_writer(Flaky {
            inner: SqliteStore::open(dir.path()).unwrap(),
            fail: fail.clone(),
        });
        let (tx, rx) = mpsc::channel(16);
        let h = [9u8; 32];
        // One batch: queued before the writer starts.
        let replies: Vec<_> = [E::SubmissionAccepted, E::Expired, E::Retrieved]
            .into_iter()
            .map(|e| send(&tx, h, lifecycle_event(h, e)))
            .collect();
        let thread = std::thread::spawn(move || writer.run(rx));
        for r in replies {
            assert_eq!(r.blocking_recv().unwrap(), Err(AppendError::Internal));
        }
        // Committed this time, the same batch refuses the receipt after the expiry.
        fail.store(false, Ordering::SeqCst);
        let replies: Vec<_> = [E::SubmissionAccepted, E::Expired]
            .into_iter()
            .map(|e| send(&tx, h, lifecycle_event(h, e)))
            .collect();
        for r in replies {
            assert!(r.blocking_recv().unwrap().unwrap().fresh);
        }
        assert!(matches!(
            send(&tx, h, lifecycle_event(h, E::Retrieved))
                .blocking_recv()
                .unwrap(),
            Err(AppendError::OutOfOrder(_))
        ));
        drop(tx);
        thread.join().unwrap();
    }

    #[test]
    fn nothing_is_sequenced_or_acknowledged_unless_stored() {
        let dir = tempfile::tempdir().unwrap();
        let fail = Arc::new(AtomicBool::new(false));
        let (writer, view) = test_writer(Flaky {
            inner: SqliteStore::open(dir.path()).unwrap(),
            fail: fail.clone(),
        });
        let (tx, rx) = mpsc::channel(16);
        let thread = std::thread::spawn(move || writer.run(rx));

        assert_eq!(
            append(&tx, 1),
            Ok(Appended {
                index: 0,
                fresh: true
            })
        );
        fail.store(true, Ordering::SeqCst);
        assert_eq!(append(&tx, 2), Err(AppendError::Internal));
        assert_eq!(view.read().unwrap().log.sequenced_size(), 1);
        fail.store(false, Ordering::SeqCst);
        // The failed event took no index; a retry gets the next free one.
        assert_eq!(
            append(&tx, 2),
            Ok(Appended {
                index: 1,
                fresh: true
            })
        );
        assert_eq!(
            append(&tx, 1),
            Ok(Appended {
                index: 0,
                fresh: false
            })
        );

        drop(tx);
        thread.join().unwrap();
        let stored = SqliteStore::open(dir.path()).unwrap().leaves().unwrap();
        assert_eq!(stored.len(), 2);
        // Stopping integrates what was sequenced.
        assert_eq!(view.read().unwrap().log.integrated_size(), 2);
    }

    #[test]
    fn integration_follows_idleness_and_precedes_every_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, view) = test_writer(SqliteStore::open(dir.path()).unwrap());
        let (tx, rx) = mpsc::channel(16);
        // Two appends and a publish, queued before the writer starts: one batch.
        let (r1, w1) = oneshot::channel();
        let (r2, w2) = oneshot::channel();
        let (rp, wp) = oneshot::channel();
        for (n, reply) in [(1u8, r1), (2, r2)] {
            let (ciphertext_hash, leaf, event) = submitted(n);
            tx.blocking_send(Command::Append {
                ciphertext_hash,
                leaf,
                event,
                event_secret: EventSecret::fresh(),
                reply,
            })
            .unwrap();
        }
        tx.blocking_send(Command::Publish { reply: rp }).unwrap();
        let thread = std::thread::spawn(move || writer.run(rx));
        assert_eq!(w1.blocking_recv().unwrap().unwrap().index, 0);
        assert_eq!(w2.blocking_recv().unwrap().unwrap().index, 1);
        // The checkpoint covers both: publishing integrated them first.
        let cp = wp.blocking_recv().unwrap().unwrap();
        assert_eq!(cp.size, 2);
        // Every checkpoint publishes the receipt skew.
        let parsed = SignedCheckpoint::parse(&cp.text).unwrap();
        assert_eq!(parsed.unverified_checkpoint().receipt_skew(), Ok(300));
        // A quiet writer integrates a new leaf within a few IDLE_INTEGRATE periods.
        assert_eq!(append(&tx, 3).unwrap().index, 2);
        let start = std::time::Instant::now();
        while view.read().unwrap().log.integrated_size() < 3 {
            assert!(start.elapsed() < std::time::Duration::from_secs(5));
            std::thread::sleep(IDLE_INTEGRATE);
        }
        drop(tx);
        thread.join().unwrap();
        assert_eq!(view.read().unwrap().log.integrated_size(), 3);
    }

    /// The threshold on its own, without the writer's thread (so no idle integration can
    /// interfere): `INTEGRATE_AT − 1` waiting leaves stay sequenced only, the next one makes the
    /// commit integrate them all before the replies go out.
    #[test]
    fn integrate_at_leaves_are_integrated_by_the_commit_that_reaches_the_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, view) = test_writer(SqliteStore::open(dir.path()).unwrap());
        let appends = |range: std::ops::Range<usize>| {
            let mut replies = Vec::new();
            let appends = range
                .map(|n| {
                    let mut h = [0u8; 32];
                    h[..8].copy_from_slice(&(n as u64 + 1000).to_be_bytes());
                    let (reply, rx) = oneshot::channel();
                    replies.push(rx);
                    let event = StoredEvent::Submitted {
                        ciphertext_sha256: hex::encode(h),
                        sender: "bank".into(),
                        routing: "r".into(),
                    };
                    Pending {
                        h,
                        leaf: Fr::from(n as u64),
                        event,
                        event_secret: EventSecret::fresh(),
                        reply,
                    }
                })
                .collect::<Vec<_>>();
            (appends, replies)
        };
        let (first, replies) = appends(0..INTEGRATE_AT - 1);
        writer.append_batch(first);
        for r in replies {
            assert!(r.blocking_recv().unwrap().unwrap().fresh);
        }
        {
            let v = view.read().unwrap();
            assert_eq!(v.log.sequenced_size(), INTEGRATE_AT as u64 - 1);
            assert_eq!(v.log.integrated_size(), 0);
        }
        let (last, replies) = appends(INTEGRATE_AT - 1..INTEGRATE_AT);
        writer.append_batch(last);
        for r in replies {
            assert_eq!(
                r.blocking_recv().unwrap().unwrap().index,
                INTEGRATE_AT as u64 - 1
            );
        }
        assert_eq!(
            view.read().unwrap().log.integrated_size(),
            INTEGRATE_AT as u64
        );
    }
}

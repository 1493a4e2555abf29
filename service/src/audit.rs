//! The append-only audit log of admin actions: entries numbered from 1 and chained by SHA-256
//! ([`audit_hash`]), so that a changed, removed or reordered entry breaks the chain
//! ([`verify_audit_chain`]). The chain is computed here; storage ([`AuditStore`]) only keeps
//! records and refuses one that is not the next.

use serde::Serialize;

use crate::store::{AuditStore, StoreError};

/// One entry of the append-only audit log of admin actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Its position, from 1.
    pub seq: u64,
    /// When, Unix seconds.
    pub time: u64,
    /// Who: `token:<id> (<subject>)` for an admin token, `cli` for the offline command.
    pub actor: String,
    /// What, e.g. `token.issue`, `token.revoke`.
    pub action: String,
    /// On what, e.g. the token id.
    pub target: String,
    /// `ok`, or the error code.
    pub outcome: String,
    /// SHA-256, in hex, of the previous entry's `hash` and this entry's fields (see
    /// [`audit_hash`]); the first entry chains from 32 zero bytes.
    pub hash: String,
}

/// The chained hash of an audit entry: SHA-256 of `letro/audit/v1`, a newline, the previous
/// entry's hash (32 bytes), and the fields `seq`, `time`, `actor`, `action`, `target`, `outcome`,
/// each followed by a newline (fields never contain one: [`append`] refuses them).
pub fn audit_hash(prev: &[u8; 32], seq: u64, e: &AuditEntry) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"letro/audit/v1\n");
    h.update(prev);
    for field in [
        seq.to_string().as_str(),
        e.time.to_string().as_str(),
        &e.actor,
        &e.action,
        &e.target,
        &e.outcome,
    ] {
        h.update(field.as_bytes());
        h.update(b"\n");
    }
    h.finalize().into()
}

/// Checks that `records` form one unbroken chain from the first entry (sequence numbers from 1
/// without gaps, each hash recomputed).
pub fn verify_audit_chain(records: &[AuditRecord]) -> Result<(), StoreError> {
    let mut prev = [0u8; 32];
    for (n, r) in records.iter().enumerate() {
        let seq = n as u64 + 1;
        let entry = AuditEntry {
            time: r.time,
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            outcome: r.outcome.clone(),
        };
        let expected = audit_hash(&prev, seq, &entry);
        if r.seq != seq || r.hash != hex::encode(expected) {
            return Err(StoreError::Corrupt(format!(
                "the audit log chain breaks at entry {seq}"
            )));
        }
        prev = expected;
    }
    Ok(())
}

/// A new audit entry (the store numbers and chains it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, Unix seconds.
    pub time: u64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok` or an error code.
    pub outcome: String,
}

/// How often [`append`] retries when another writer appended first.
const RACE_RETRIES: usize = 8;

/// Appends `entry` to the audit log: numbers it after the last record, chains its hash from
/// the last record's, and stores it. Fields may not contain a newline. Another process
/// appending at the same moment (the CLI beside a running service) makes the store refuse the
/// record; it is rebuilt on the new last record and tried again.
pub fn append<S: AuditStore + ?Sized>(
    store: &mut S,
    entry: &AuditEntry,
) -> Result<AuditRecord, StoreError> {
    if [&entry.actor, &entry.action, &entry.target, &entry.outcome]
        .iter()
        .any(|f| f.contains('\n'))
    {
        return Err(StoreError::Corrupt(
            "an audit field contains a newline".into(),
        ));
    }
    let mut last_race = None;
    for _ in 0..RACE_RETRIES {
        let (seq, prev) = match store.last_audit()? {
            None => (1, [0u8; 32]),
            Some(last) => {
                let prev = hex::decode(&last.hash)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| StoreError::Corrupt("audit hash is not 32 bytes".into()))?;
                (last.seq + 1, prev)
            }
        };
        let record = AuditRecord {
            seq,
            time: entry.time,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            outcome: entry.outcome.clone(),
            hash: hex::encode(audit_hash(&prev, seq, entry)),
        };
        match store.insert_audit(&record) {
            Ok(()) => return Ok(record),
            Err(e @ StoreError::AuditRace(_)) => last_race = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_race.unwrap_or(StoreError::AuditRace(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            time: 1_764_000_000,
            actor: "cli".into(),
            action: action.into(),
            target: "t".into(),
            outcome: "ok".into(),
        }
    }

    #[test]
    fn two_writers_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = SqliteStore::open(dir.path()).unwrap();
        let mut b = SqliteStore::open(dir.path()).unwrap();
        let first = append(&mut a, &entry("one")).unwrap();
        // A record built on `first` by one writer, stored after the other appended: refused.
        let stale = AuditRecord {
            seq: 2,
            hash: hex::encode(audit_hash(&[7; 32], 2, &entry("stale"))),
            ..first.clone()
        };
        append(&mut b, &entry("two")).unwrap();
        assert!(matches!(
            a.insert_audit(&stale),
            Err(StoreError::AuditRace(2))
        ));
        // `append` rebuilds on the new last record.
        assert_eq!(append(&mut a, &entry("three")).unwrap().seq, 3);
        let log = b.audit_log().unwrap();
        assert_eq!(log.len(), 3);
        verify_audit_chain(&log).unwrap();
        // A gap is refused too.
        let gap = AuditRecord { seq: 9, ..first };
        assert!(matches!(
            a.insert_audit(&gap),
            Err(StoreError::AuditRace(9))
        ));
        assert!(append(&mut a, &entry("new\nline")).is_err());
        assert_eq!(a.audit_log().unwrap().len(), 3);
    }
}

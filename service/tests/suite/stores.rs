//! The storage conformance suite: every storage area's behaviour, the same checks run against
//! the SQLite store and the PostgreSQL store (a fresh database per test, dropped after). A
//! check gets `open`, which opens a new connection to the same data each time it is called.

use letro_service::auth::Role;
use letro_service::store::{
    AuditRecord, AuditStore, DirectoryEntry, DirectoryStore, Envelope, EventSecret, JobRecord,
    JobState, LogStore, NewEntry, PostgresStore, SqliteStore, Store, StoreError, StoredCheckpoint,
    StoredEvent, StoredNotice, StoredTimestamp, TokenRecord, POSTGRES_SCHEMA_VERSION,
};
use letro_service::store::{Claim, Retry};

use crate::common::pg::{run_sql, PgDatabase};

type Open<'a> = &'a (dyn Fn() -> Box<dyn Store> + Sync);

/// One `#[test]` per backend for each check.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            use super::*;

            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().to_owned();
                super::$check(&move || Box::new(SqliteStore::open(&path).unwrap()));
            }

            #[test]
            fn postgres() {
                let db = PgDatabase::create();
                let url = db.url.clone();
                super::$check(&move || Box::new(PostgresStore::open(&url).unwrap()));
            }
        }
    )*};
}

on_both_backends!(
    log_batches_are_atomic_gapless_and_durable,
    deliveries_are_found_by_h_and_closed_by_final_events,
    checkpoints_latest_is_the_largest,
    tokens_are_revoked_once_and_changes_are_counted_across_connections,
    audit_records_are_appended_in_sequence_only,
    jobs_are_a_durable_queue_with_callbacks,
    directory_hands_each_one_time_prekey_out_once,
    mailbox_keeps_one_envelope_per_h_in_arrival_order,
    timestamps_one_per_tsa_and_body_in_arrival_order,
    notices_are_owed_once_and_finished,
    job_claims_are_leased_fenced_retried_and_dead_lettered,
    concurrent_provers_claim_each_job_once,
);

fn submitted(index: u64, h: u8) -> NewEntry {
    NewEntry {
        index,
        ciphertext_hash: [h; 32],
        leaf: [index as u8; 32],
        event: StoredEvent::Submitted {
            ciphertext_sha256: hex::encode([h; 32]),
            sender: "bank".into(),
            routing: "r".into(),
        },
        event_secret: EventSecret::fresh(),
        logged_at: 1_000 + index,
    }
}

fn expired(index: u64, h: u8) -> NewEntry {
    NewEntry {
        event: StoredEvent::Expired {
            ciphertext_sha256: hex::encode([h; 32]),
            retention: 60,
            expired_at: 5_000,
        },
        ..submitted(index, h)
    }
}

fn available(index: u64, h: u8) -> NewEntry {
    NewEntry {
        event: StoredEvent::Available {
            ciphertext_sha256: hex::encode([h; 32]),
            routing: "r".into(),
            available_at: 1_500,
        },
        ..submitted(index, h)
    }
}

fn log_batches_are_atomic_gapless_and_durable(open: Open<'_>) {
    let mut s = open();
    assert!(s.leaves().unwrap().is_empty());
    let batch = [submitted(0, 1), submitted(1, 2)];
    s.append(&batch).unwrap();
    // A batch whose second entry repeats an index fails as a whole: its first entry is not
    // stored either.
    assert!(s.append(&[submitted(2, 3), submitted(1, 4)]).is_err());
    // Neither is an entry for an `H` already submitted.
    assert!(s.append(&[submitted(2, 1)]).is_err());
    drop(s);
    let s = open();
    let leaves = s.leaves().unwrap();
    assert_eq!(leaves.len(), 2);
    assert_eq!(leaves[1].index, 1);
    assert_eq!(leaves[1].leaf, [1; 32]);
    assert!(s.find_submission(&[3; 32]).unwrap().is_none());
    assert_eq!(
        s.event_secret(1).unwrap().unwrap(),
        batch[1].event_secret,
        "the secret is stored as given"
    );
    assert!(s.event_secret(7).unwrap().is_none());
    drop(s);
    let mut s = open();
    s.append(&[submitted(2, 3)]).unwrap();
    assert_eq!(
        open().leaves().unwrap().len(),
        3,
        "seen by another connection"
    );
    // From an index on: only the later leaves, in order; none past the end.
    let later = s.leaves_from(1).unwrap();
    assert_eq!(
        later.iter().map(|l| (l.index, l.leaf)).collect::<Vec<_>>(),
        [(1, [1; 32]), (2, [2; 32])]
    );
    assert!(s.leaves_from(3).unwrap().is_empty());
    assert!(s.leaves_from(u64::MAX).is_err() || s.leaves_from(u64::MAX).unwrap().is_empty());
}

fn deliveries_are_found_by_h_and_closed_by_final_events(open: Open<'_>) {
    let mut s = open();
    s.append(&[submitted(0, 1), submitted(1, 2), submitted(2, 3)])
        .unwrap();
    s.append(&[available(3, 1), expired(4, 2)]).unwrap();
    let (index, event) = s.find_submission(&[1; 32]).unwrap().unwrap();
    assert_eq!(index, 0);
    assert_eq!(event, submitted(0, 1).event);
    assert!(s.find_receipt(&[1; 32]).unwrap().is_none());
    let lifecycle: Vec<u64> = s
        .delivery(&[1; 32])
        .unwrap()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(lifecycle, [0, 3]);
    assert_eq!(s.delivery(&[2; 32]).unwrap()[1].1, expired(4, 2).event);
    assert!(s.delivery(&[9; 32]).unwrap().is_empty());
    // A batch's lookup at once: the deliveries that have events, each in log order.
    let batch = s.deliveries(&[[2; 32], [9; 32], [1; 32]]).unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[&[1; 32]], s.delivery(&[1; 32]).unwrap());
    assert_eq!(batch[&[2; 32]], s.delivery(&[2; 32]).unwrap());
    assert!(s.deliveries(&[]).unwrap().is_empty());
    // Open: 1 (available is not final) and 3; 2 expired. Oldest first, at most `limit`.
    let open_now: Vec<(u8, u64)> = s
        .expiring(u64::MAX, 10)
        .unwrap()
        .iter()
        .map(|d| (d.ciphertext_hash[0], d.accepted_at))
        .collect();
    assert_eq!(open_now, [(1, 1_000), (3, 1_002)]);
    assert_eq!(s.expiring(1_001, 10).unwrap().len(), 1);
    assert_eq!(s.expiring(u64::MAX, 1).unwrap().len(), 1);
}

fn checkpoints_latest_is_the_largest(open: Open<'_>) {
    let mut s = open();
    assert!(s.latest_checkpoint().unwrap().is_none());
    for (size, time) in [(3, 30), (10, 100), (5, 50)] {
        s.put_checkpoint(&StoredCheckpoint {
            size,
            time,
            text: format!("cp {size}"),
        })
        .unwrap();
    }
    let latest = open().latest_checkpoint().unwrap().unwrap();
    assert_eq!(
        (latest.size, latest.time, latest.text.as_str()),
        (10, 100, "cp 10")
    );
}

fn token(hash: u8, role: Role) -> TokenRecord {
    TokenRecord {
        hash: [hash; 32],
        role,
        subject: format!("subject {hash}"),
        expires_at: 9_000,
        revoked_at: None,
    }
}

fn tokens_are_revoked_once_and_changes_are_counted_across_connections(open: Open<'_>) {
    let mut s = open();
    let other = open();
    let before = other.token_changes().unwrap();
    s.put_token(&token(1, Role::Sender)).unwrap();
    s.put_token(&token(2, Role::Admin)).unwrap();
    assert!(
        s.put_token(&token(1, Role::Relay)).is_err(),
        "one record per hash"
    );
    let after_issue = other.token_changes().unwrap();
    assert_ne!(after_issue, before, "another connection sees the change");
    assert!(s.revoke_token(&[1; 32], 100).unwrap());
    assert!(
        s.revoke_token(&[1; 32], 200).unwrap(),
        "revoking again is not an error"
    );
    assert!(!s.revoke_token(&[7; 32], 100).unwrap());
    assert_ne!(other.token_changes().unwrap(), after_issue);
    let mut all = other.tokens().unwrap();
    all.sort_by_key(|t| t.hash);
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].revoked_at,
        Some(100),
        "the first revocation time stays"
    );
    assert_eq!(all[0].role, Role::Sender);
    assert_eq!(all[1], token(2, Role::Admin));
}

fn audit(seq: u64) -> AuditRecord {
    AuditRecord {
        seq,
        time: 10 * seq,
        actor: "ops".into(),
        action: "token.issue".into(),
        target: format!("t{seq}"),
        outcome: "ok".into(),
        hash: format!("{seq:064x}"),
    }
}

fn audit_records_are_appended_in_sequence_only(open: Open<'_>) {
    let mut s = open();
    assert!(s.last_audit().unwrap().is_none());
    assert!(matches!(
        s.insert_audit(&audit(2)),
        Err(StoreError::AuditRace(2))
    ));
    s.insert_audit(&audit(1)).unwrap();
    let mut other = open();
    other.insert_audit(&audit(2)).unwrap();
    // A writer that read seq 1 as the last one loses to the one that appended 2 first.
    assert!(matches!(
        s.insert_audit(&audit(2)),
        Err(StoreError::AuditRace(2))
    ));
    s.insert_audit(&audit(3)).unwrap();
    assert_eq!(s.last_audit().unwrap(), Some(audit(3)));
    assert_eq!(other.audit_log().unwrap(), [audit(1), audit(2), audit(3)]);
}

fn job(id: &str, owner: &str) -> JobRecord {
    JobRecord {
        id: id.into(),
        owner: owner.into(),
        ciphertext_hash: [5; 32],
        not_before: 10,
        not_after: 20,
        blinding: "123".into(),
        state: JobState::Queued,
        error: None,
        bundle: None,
        opening: None,
        callback_url: Some("https://hooks.example/x".into()),
        callback_state: None,
    }
}

fn jobs_are_a_durable_queue_with_callbacks(open: Open<'_>) {
    let mut s = open();
    for (id, owner) in [("j1", "bank"), ("j2", "bank"), ("j3", "insurer")] {
        s.put_job(&job(id, owner)).unwrap();
    }
    assert!(s.put_job(&job("j1", "bank")).is_err(), "ids are unique");
    assert_eq!(s.unfinished_jobs().unwrap(), ["j1", "j2", "j3"]);
    assert_eq!(s.active_jobs_of("bank").unwrap(), 2);
    let mut done = job("j1", "bank");
    done.state = JobState::Done;
    done.bundle = Some("bundle".into());
    done.opening = Some("opening".into());
    done.callback_state = Some("pending".into());
    s.update_job(&done).unwrap();
    let mut failed = job("j3", "insurer");
    failed.state = JobState::Failed;
    failed.error = Some(("prover_failed".into(), "it failed".into()));
    failed.callback_state = Some("pending".into());
    s.update_job(&failed).unwrap();
    assert!(s.update_job(&job("nope", "bank")).is_err());
    drop(s);
    let s = open();
    assert_eq!(s.job("j1").unwrap(), Some(done));
    assert_eq!(s.job("j3").unwrap(), Some(failed));
    assert!(s.job("nope").unwrap().is_none());
    assert_eq!(s.unfinished_jobs().unwrap(), ["j2"]);
    assert_eq!(s.active_jobs_of("bank").unwrap(), 1);
    assert_eq!(s.pending_callbacks().unwrap(), ["j1", "j3"]);
}

fn job_claims_are_leased_fenced_retried_and_dead_lettered(open: Open<'_>) {
    let mut s = open();
    s.put_job(&job("j1", "bank")).unwrap();
    s.put_job(&job("j2", "bank")).unwrap();
    let (first, claimed) = s.claim_job("w1", 100, 60).unwrap().unwrap();
    assert_eq!(
        (first.id.as_str(), first.attempt, first.worker.as_str()),
        ("j1", 1, "w1")
    );
    assert_eq!(
        claimed.state,
        JobState::Running,
        "oldest first, now running"
    );
    let (second, _) = open().claim_job("w2", 100, 60).unwrap().unwrap();
    assert_eq!((second.id.as_str(), second.attempt), ("j2", 1));
    assert!(s.claim_job("w3", 160, 60).unwrap().is_none(), "leases last");
    // w1's lease ran out (160 < 161): w3 claims j1 again, as its second attempt.
    let (again, _) = s.claim_job("w3", 161, 60).unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempt), ("j1", 2));
    let mut done = job("j1", "bank");
    done.state = JobState::Done;
    done.bundle = Some("bundle".into());
    done.opening = Some("opening".into());
    done.callback_state = Some("pending".into());
    // The late prover's result is refused: its claim is not the current one.
    assert!(!open().finish_job(&first, &done).unwrap());
    assert_eq!(s.job("j1").unwrap().unwrap().state, JobState::Running);
    assert!(s.finish_job(&again, &done).unwrap());
    assert_eq!(s.job("j1").unwrap().unwrap(), done);
    assert!(
        !s.finish_job(&again, &done).unwrap(),
        "a claim finishes once"
    );
    // A failed attempt is queued again from a later time; not claimable before it.
    assert!(s.release_job(&second, Retry::At(300), "boom").unwrap());
    assert!(!s.release_job(&second, Retry::At(300), "boom").unwrap());
    assert_eq!(s.job("j2").unwrap().unwrap().state, JobState::Queued);
    assert!(s.claim_job("w4", 299, 60).unwrap().is_none());
    let (retry, _) = s.claim_job("w4", 300, 60).unwrap().unwrap();
    assert_eq!((retry.id.as_str(), retry.attempt), ("j2", 2));
    // Dead-lettered: the reason is its error, its callback is owed, it is finished.
    assert!(s
        .release_job(&retry, Retry::DeadLetter, "gave up after 2 attempts")
        .unwrap());
    let dead = s.job("j2").unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(
        dead.error,
        Some(("proof_failed".into(), "gave up after 2 attempts".into()))
    );
    assert_eq!(dead.callback_state.as_deref(), Some("pending"));
    assert!(
        s.claim_job("w4", 10_000, 60).unwrap().is_none(),
        "done and dead stay"
    );
    assert_eq!(s.pending_callbacks().unwrap(), ["j1", "j2"]);
    assert!(s.unfinished_jobs().unwrap().is_empty());
    // A service that is its store's only prover queues its previous run's running jobs again.
    s.put_job(&job("j3", "bank")).unwrap();
    let (stale, _) = s.claim_job("old-run", 400, 60).unwrap().unwrap();
    assert_eq!(open().requeue_running().unwrap(), 1);
    assert!(!s.finish_job(&stale, &done).unwrap());
    let (fresh, _) = s.claim_job("new-run", 401, 60).unwrap().unwrap();
    assert_eq!((fresh.id.as_str(), fresh.attempt), ("j3", 2));
    assert_eq!(s.unfinished_jobs().unwrap(), ["j3"]);
}

fn concurrent_provers_claim_each_job_once(open: Open<'_>) {
    let mut s = open();
    for i in 0..30 {
        s.put_job(&job(&format!("job-{i:02}"), "bank")).unwrap();
    }
    let claimed: Vec<Claim> = std::thread::scope(|scope| {
        let provers: Vec<_> = (0..3)
            .map(|p| {
                scope.spawn(move || {
                    let mut store = open();
                    let mut mine = Vec::new();
                    while let Some((claim, _)) =
                        store.claim_job(&format!("prover-{p}"), 100, 60).unwrap()
                    {
                        mine.push(claim);
                    }
                    mine
                })
            })
            .collect();
        provers
            .into_iter()
            .flat_map(|p| p.join().unwrap())
            .collect()
    });
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let want: Vec<String> = (0..30).map(|i| format!("job-{i:02}")).collect();
    assert_eq!(ids, want, "every job claimed exactly once");
    assert!(claimed.iter().all(|c| c.attempt == 1));
}

fn entry(account: &str, key: u8, document: &str) -> DirectoryEntry {
    DirectoryEntry {
        account: account.into(),
        document: document.into(),
        receipt_key: [key; 32],
        certificate: format!("{{\"cert\":{key}}}"),
    }
}

fn directory_hands_each_one_time_prekey_out_once(open: Open<'_>) {
    let mut s = open();
    assert!(!s.has_directory("alice").unwrap());
    assert!(s.take_directory("alice").unwrap().is_none());
    let prekeys = [(7, vec![7u8; 33]), (3, vec![3u8; 33])];
    s.put_directory(&entry("alice", 1, "doc1"), &prekeys)
        .unwrap();
    assert!(s.has_directory("alice").unwrap());
    let mut other = open();
    let (first, one) = other.take_directory("alice").unwrap().unwrap();
    assert_eq!(first, entry("alice", 1, "doc1"));
    assert_eq!(one, Some((3, vec![3u8; 33])), "lowest id first");
    assert_eq!(
        s.take_directory("alice").unwrap().unwrap().1,
        Some((7, vec![7u8; 33]))
    );
    assert_eq!(s.take_directory("alice").unwrap().unwrap().1, None);
    // Publishing again replaces the document and the unused prekeys; the first receipt key's
    // certificate is kept for ever, the new key is recorded too.
    s.put_directory(&entry("alice", 2, "doc2"), &[(9, vec![9u8; 33])])
        .unwrap();
    s.put_directory(&entry("alice", 1, "doc3"), &[]).unwrap();
    assert_eq!(
        s.receipt_key_owner(&[1; 32]).unwrap(),
        Some(("alice".into(), "{\"cert\":1}".into()))
    );
    assert_eq!(
        s.receipt_key_owner(&[2; 32]).unwrap(),
        Some(("alice".into(), "{\"cert\":2}".into()))
    );
    assert!(s.receipt_key_owner(&[3; 32]).unwrap().is_none());
    let (latest, one) = open().take_directory("alice").unwrap().unwrap();
    assert_eq!(latest.document, "doc3");
    assert_eq!(one, None, "the prekeys of doc2 were replaced");
}

fn envelope(h: u8, recipient: &str, at: u64) -> Envelope {
    Envelope {
        ciphertext_hash: [h; 32],
        sender: "bank".into(),
        recipient: recipient.into(),
        received_at: at,
        bytes: vec![h; 100],
    }
}

fn mailbox_keeps_one_envelope_per_h_in_arrival_order(open: Open<'_>) {
    let mut s = open();
    assert!(s.put_envelope(&envelope(3, "alice", 30)).unwrap());
    assert!(s.put_envelope(&envelope(1, "alice", 10)).unwrap());
    assert!(s.put_envelope(&envelope(2, "bob", 20)).unwrap());
    let mut again = envelope(3, "bob", 99);
    again.bytes = vec![0; 5];
    assert!(!s.put_envelope(&again).unwrap(), "one envelope per H");
    assert_eq!(
        s.envelope(&[3; 32]).unwrap(),
        Some(envelope(3, "alice", 30))
    );
    let listed: Vec<(u8, u64, usize)> = open()
        .mailbox("alice", 10)
        .unwrap()
        .iter()
        .map(|e| (e.ciphertext_hash[0], e.received_at, e.bytes.len()))
        .collect();
    assert_eq!(
        listed,
        [(3, 30, 0), (1, 10, 0)],
        "arrival order, without bytes"
    );
    assert_eq!(s.mailbox("alice", 1).unwrap().len(), 1);
    s.remove_envelope(&[3; 32]).unwrap();
    s.remove_envelope(&[3; 32]).unwrap();
    assert!(s.envelope(&[3; 32]).unwrap().is_none());
    assert_eq!(s.mailbox("alice", 10).unwrap().len(), 1);
    assert!(s.mailbox("carol", 10).unwrap().is_empty());
}

fn stamp(tsa: &str, time: u64) -> StoredTimestamp {
    StoredTimestamp {
        tsa: tsa.into(),
        token: vec![time as u8; 40],
        time,
    }
}

fn timestamps_one_per_tsa_and_body_in_arrival_order(open: Open<'_>) {
    let mut s = open();
    assert!(s
        .put_timestamp(&[1; 32], 5, &stamp("https://b", 2))
        .unwrap());
    assert!(s
        .put_timestamp(&[1; 32], 5, &stamp("https://a", 1))
        .unwrap());
    assert!(!s
        .put_timestamp(&[1; 32], 5, &stamp("https://a", 9))
        .unwrap());
    assert!(s
        .put_timestamp(&[2; 32], 6, &stamp("https://a", 3))
        .unwrap());
    assert_eq!(
        open().timestamps(&[1; 32]).unwrap(),
        [stamp("https://b", 2), stamp("https://a", 1)]
    );
    assert!(s.timestamps(&[3; 32]).unwrap().is_empty());
}

fn notice(index: u64) -> StoredNotice {
    StoredNotice {
        index,
        ciphertext_hash: [index as u8; 32],
        event: "retrieved".into(),
        url: "https://hooks.example/n".into(),
    }
}

fn notices_are_owed_once_and_finished(open: Open<'_>) {
    let mut s = open();
    assert!(s.put_notice(&notice(8)).unwrap());
    assert!(s.put_notice(&notice(4)).unwrap());
    assert!(!s.put_notice(&notice(8)).unwrap());
    assert_eq!(s.pending_notices().unwrap(), [4, 8]);
    s.finish_notice(4, "delivered").unwrap();
    assert!(
        s.finish_notice(8, "lost").is_err(),
        "only pending, delivered and failed"
    );
    let other = open();
    assert_eq!(other.pending_notices().unwrap(), [8]);
    assert_eq!(other.notice(8).unwrap(), Some(notice(8)));
    assert!(other.notice(5).unwrap().is_none());
}

// PostgreSQL only: its migrations, its origin record and its failures.

#[test]
fn postgres_migrations_are_recorded_and_a_newer_schema_is_refused() {
    let db = PgDatabase::create();
    let s = PostgresStore::open(&db.url).unwrap();
    assert_eq!(s.schema_version().unwrap(), POSTGRES_SCHEMA_VERSION);
    drop(s);
    // Opening again (as a second replica would) migrates nothing and keeps the data.
    let mut s = PostgresStore::open(&db.url).unwrap();
    s.append(&[submitted(0, 1)]).unwrap();
    drop(s);
    assert_eq!(
        PostgresStore::open(&db.url)
            .unwrap()
            .leaves()
            .unwrap()
            .len(),
        1
    );
    run_sql(
        &db.url,
        "INSERT INTO letro_schema (version, name) VALUES (99, 'from the future')",
    )
    .unwrap();
    match PostgresStore::open(&db.url) {
        Err(StoreError::NewerSchema { found: 99, known }) => {
            assert_eq!(known, POSTGRES_SCHEMA_VERSION)
        }
        other => panic!("a newer schema was not refused: {other:?}"),
    }
}

#[test]
fn postgres_replicas_migrating_at_once_end_at_one_schema() {
    let db = PgDatabase::create();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || PostgresStore::open(&url).map(|_| ()))
        })
        .collect();
    for t in opened {
        t.join().unwrap().unwrap();
    }
    assert_eq!(
        PostgresStore::open(&db.url)
            .unwrap()
            .schema_version()
            .unwrap(),
        POSTGRES_SCHEMA_VERSION
    );
}

#[test]
fn postgres_database_belongs_to_one_origin() {
    let db = PgDatabase::create();
    let mut s = PostgresStore::open(&db.url).unwrap();
    assert!(s.claim_origin("ch.relay.example/letro-log").unwrap());
    assert!(!s.claim_origin("ch.relay.example/letro-log").unwrap());
    let err = PostgresStore::open(&db.url)
        .unwrap()
        .claim_origin("gcc.relay.example/letro-log")
        .unwrap_err();
    assert!(matches!(err, StoreError::OtherOrigin { .. }));
    let message = err.to_string();
    assert!(
        message.contains("ch.relay.example/letro-log") && message.contains("a database of its own"),
        "{message}"
    );
}

#[test]
fn postgres_audit_log_refuses_updates_deletes_and_truncation() {
    let db = PgDatabase::create();
    let mut s = PostgresStore::open(&db.url).unwrap();
    s.insert_audit(&audit(1)).unwrap();
    for sql in [
        "UPDATE audit SET outcome = 'denied'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = run_sql(&db.url, sql).unwrap_err();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(s.audit_log().unwrap(), [audit(1)]);
}

#[test]
fn postgres_one_time_prekeys_are_handed_out_once_under_concurrent_takers() {
    let db = PgDatabase::create();
    let mut s = PostgresStore::open(&db.url).unwrap();
    let prekeys: Vec<(u32, Vec<u8>)> = (0..40).map(|i| (i, vec![i as u8; 33])).collect();
    s.put_directory(&entry("alice", 1, "doc"), &prekeys)
        .unwrap();
    let takers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut s = PostgresStore::open(&url).unwrap();
                let mut got = Vec::new();
                for _ in 0..15 {
                    if let Some((id, _)) = s.take_directory("alice").unwrap().unwrap().1 {
                        got.push(id);
                    }
                }
                got
            })
        })
        .collect();
    let mut all: Vec<u32> = takers.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..40).collect::<Vec<_>>(), "each prekey exactly once");
}

#[test]
fn postgres_unreachable_or_malformed_urls_are_clear_errors() {
    let err = PostgresStore::open("postgres://letro@127.0.0.1:1/letro").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cannot connect to PostgreSQL at 127.0.0.1 (port 1"),
        "{message}"
    );
    let err = PostgresStore::open("postgres://letro:secret@127.0.0.1:1/letro").unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
    let err = PostgresStore::open("postgres://[::1/x").unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
}

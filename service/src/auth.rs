//! Bearer tokens with roles. A token is 32 random bytes in hex; only its SHA-256 is stored.
//! Which role may call what is in `service/ACCESS.md`.

use std::collections::HashMap;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{AuditEntry, Store, StoreError, TokenRecord};

pub use letro_api::role::{Role, UnknownRole};

/// SHA-256 of a token string, the only form in which tokens are stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Issues a token: stores its hash with the role, subject and expiry, writes a `token.issue`
/// entry by `actor` to the audit log, and returns the token and its record. The caller hands
/// the token to its holder once (it cannot be recovered).
///
/// A running service takes tokens issued through its admin API at once, and tokens issued into
/// its store by another process (`letro token issue`) within [`crate::TOKEN_RELOAD_INTERVAL`]
/// (it polls [`TokenStore::token_changes`](crate::store::TokenStore::token_changes)).
pub fn issue_token(
    store: &mut dyn Store,
    role: Role,
    subject: &str,
    expires_at: u64,
    actor: &str,
) -> Result<(String, TokenRecord), StoreError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let record = TokenRecord {
        hash: token_hash(&token),
        role,
        subject: subject.to_owned(),
        expires_at,
        revoked_at: None,
    };
    store.put_token(&record)?;
    crate::audit::append(
        store,
        &AuditEntry {
            time: crate::unix_now(),
            actor: actor.to_owned(),
            action: "token.issue".into(),
            target: format!("{} ({} {})", record.id(), role.as_str(), subject),
            outcome: "ok".into(),
        },
    )?;
    Ok((token, record))
}

/// Revokes the token whose [`TokenRecord::id`] is `id` at `at` (a revoked token keeps its first
/// revocation time) and writes a `token.revoke` entry by `actor` to the audit log, as
/// `DELETE /v1/admin/tokens/{token_id}` does: outcome `ok`, or `not_found` when no token (or
/// more than one) has this id, in which case `None` is returned and nothing else changes.
/// A running service on the same store refuses the token within
/// [`crate::TOKEN_RELOAD_INTERVAL`].
pub fn revoke_token_by_id(
    store: &mut dyn Store,
    id: &str,
    at: u64,
    actor: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    let found = {
        let mut matching = store.tokens()?.into_iter().filter(|r| r.id() == id);
        match (matching.next(), matching.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    };
    let entry = |outcome: &str| AuditEntry {
        time: at,
        actor: actor.to_owned(),
        action: "token.revoke".into(),
        target: id.to_owned(),
        outcome: outcome.into(),
    };
    let Some(record) = found else {
        crate::audit::append(store, &entry("not_found"))?;
        return Ok(None);
    };
    if !store.revoke_token(&record.hash, at)? {
        return Err(StoreError::Corrupt(
            "a token disappeared while it was revoked".into(),
        ));
    }
    crate::audit::append(store, &entry("ok"))?;
    let revoked = store.tokens()?.into_iter().find(|r| r.hash == record.hash);
    Ok(Some(revoked.unwrap_or(TokenRecord {
        revoked_at: Some(at),
        ..record
    })))
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header, or not of that form.
    Missing,
    /// The token is not known.
    Unknown,
    /// The token has expired.
    Expired,
    /// The token was revoked.
    Revoked,
}

/// The tokens a running service accepts, by hash.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    by_hash: HashMap<[u8; 32], TokenRecord>,
}

impl Tokens {
    /// The table of the given records.
    pub fn new(records: Vec<TokenRecord>) -> Self {
        Self {
            by_hash: records.into_iter().map(|r| (r.hash, r)).collect(),
        }
    }

    /// Authenticates the value of an `Authorization` header at time `now`.
    pub fn authenticate(
        &self,
        header: Option<&str>,
        now: u64,
    ) -> Result<&TokenRecord, AuthFailure> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthFailure::Missing)?;
        let record = self
            .by_hash
            .get(&token_hash(token))
            .ok_or(AuthFailure::Unknown)?;
        if record.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if now >= record.expires_at {
            return Err(AuthFailure::Expired);
        }
        Ok(record)
    }

    /// Adds a newly issued token.
    pub fn insert(&mut self, record: TokenRecord) {
        self.by_hash.insert(record.hash, record);
    }

    /// Takes in the store's records (read after a change another process made): new tokens
    /// are added and revocations applied. Nothing is removed and no revocation is undone, so
    /// a table read just before this service issued or revoked a token cannot undo that.
    pub fn merge(&mut self, records: Vec<TokenRecord>) {
        for r in records {
            match self.by_hash.entry(r.hash) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(r);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let known = o.get_mut();
                    if known.revoked_at.is_none() {
                        known.revoked_at = r.revoked_at;
                    }
                }
            }
        }
    }

    /// The token whose [`TokenRecord::id`] is `id`, if exactly one has it.
    pub fn find_by_id(&self, id: &str) -> Option<&TokenRecord> {
        let mut found = self.by_hash.values().filter(|r| r.id() == id);
        let first = found.next();
        if found.next().is_some() {
            return None;
        }
        first
    }

    /// Marks the token with this hash revoked at `at` (the first revocation time stays).
    pub fn revoke(&mut self, hash: &[u8; 32], at: u64) {
        if let Some(r) = self.by_hash.get_mut(hash) {
            r.revoked_at.get_or_insert(at);
        }
    }

    /// Every token record, ordered by subject then id.
    pub fn list(&self) -> Vec<TokenRecord> {
        let mut v: Vec<_> = self.by_hash.values().cloned().collect();
        v.sort_by(|a, b| (&a.subject, a.id()).cmp(&(&b.subject, b.id())));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditStore, SqliteStore, TokenStore};

    fn records_id(tokens: &Tokens) -> String {
        tokens.list()[0].id()
    }

    #[test]
    fn tokens_are_stored_hashed_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path()).unwrap();
        let (token, _) = issue_token(&mut store, Role::Sender, "bank", 1000, "cli").unwrap();
        let records = store.tokens().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].hash, token_hash(&token));
        assert_ne!(records[0].hash.to_vec(), token.as_bytes().to_vec());
        let mut tokens = Tokens::new(records);
        let header = format!("Bearer {token}");
        let ok = tokens.authenticate(Some(&header), 999).unwrap();
        assert_eq!((ok.role, ok.subject.as_str()), (Role::Sender, "bank"));
        assert_eq!(
            tokens.authenticate(Some(&header), 1000).unwrap_err(),
            AuthFailure::Expired
        );
        assert_eq!(
            tokens
                .authenticate(Some(&format!("Basic {token}")), 0)
                .unwrap_err(),
            AuthFailure::Missing
        );
        assert_eq!(
            tokens.authenticate(None, 0).unwrap_err(),
            AuthFailure::Missing
        );
        assert_eq!(
            tokens.authenticate(Some("Bearer 00"), 0).unwrap_err(),
            AuthFailure::Unknown
        );
        let audit = store.audit_log().unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, "token.issue");
        assert!(
            !audit[0].target.contains(&token),
            "the audit log never holds a token"
        );
        let id = records_id(&tokens);
        tokens.revoke(&token_hash(&token), 5);
        assert_eq!(
            tokens.authenticate(Some(&header), 0).unwrap_err(),
            AuthFailure::Revoked
        );
        assert_eq!(tokens.find_by_id(&id).unwrap().revoked_at, Some(5));
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn every_role_is_listed_and_parses_back() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert!(Role::names().contains(role.as_str()));
        }
        assert_eq!(Role::names(), "relay, sender, client or admin");
        let e = "root".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("relay, sender, client or admin"), "{e}");
    }

    #[test]
    fn a_merge_adds_tokens_and_revocations_but_undoes_nothing() {
        let record = |b: u8, revoked_at| TokenRecord {
            hash: [b; 32],
            role: Role::Relay,
            subject: "relay".into(),
            expires_at: 100,
            revoked_at,
        };
        let mut tokens = Tokens::new(vec![record(1, None), record(2, Some(7))]);
        // A table read before token 3 was issued and token 2 revoked here, with 1 revoked
        // elsewhere and 4 issued elsewhere.
        tokens.insert(record(3, None));
        tokens.merge(vec![record(1, Some(9)), record(2, None), record(4, None)]);
        let by = |b: u8| tokens.by_hash.get(&[b; 32]).map(|r| r.revoked_at);
        assert_eq!(by(1), Some(Some(9)), "revoked elsewhere");
        assert_eq!(by(2), Some(Some(7)), "a revocation stays");
        assert_eq!(by(3), Some(None), "issued here, kept");
        assert_eq!(by(4), Some(None), "issued elsewhere, added");
    }

    #[test]
    fn revoking_by_id_is_audited_and_unknown_ids_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path()).unwrap();
        let (_, record) = issue_token(&mut store, Role::Client, "alice", 1000, "cli").unwrap();
        let revoked = revoke_token_by_id(&mut store, &record.id(), 40, "cli")
            .unwrap()
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(40));
        let again = revoke_token_by_id(&mut store, &record.id(), 50, "cli")
            .unwrap()
            .unwrap();
        assert_eq!(again.revoked_at, Some(40), "the first time stays");
        assert!(
            revoke_token_by_id(&mut store, "00000000000000ff", 60, "cli")
                .unwrap()
                .is_none()
        );
        let audit = store.audit_log().unwrap();
        let outcomes: Vec<_> = audit
            .iter()
            .map(|a| (a.action.as_str(), a.outcome.as_str(), a.actor.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("token.issue", "ok", "cli"),
                ("token.revoke", "ok", "cli"),
                ("token.revoke", "ok", "cli"),
                ("token.revoke", "not_found", "cli"),
            ]
        );
        assert_eq!(store.tokens().unwrap()[0].revoked_at, Some(40));
    }
}

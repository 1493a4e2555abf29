//! Bearer tokens with roles. A token is 32 random bytes in hex; only its SHA-256 is stored.
//! Which role may call what is in `service/ACCESS.md`.

use std::collections::HashMap;
use std::str::FromStr;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{AuditEntry, Store, StoreError, TokenRecord};

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The relay: posts submitted events and delivery receipts.
    Relay,
    /// A regulated sender: reads the log and asks for proofs of its own messages.
    Sender,
    /// A messaging client (a device account; the subject is the account id): publishes its
    /// prekeys, fetches others', posts envelopes, reads and acknowledges its own mailbox.
    Client,
    /// An operator: issues, lists and revokes tokens, reads the audit log and the metrics.
    Admin,
}

impl Role {
    /// The role's name in storage and in ACCESS.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Sender => "sender",
            Self::Admin => "admin",
            Self::Client => "client",
        }
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected relay, sender, client or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "relay" => Ok(Self::Relay),
            "sender" => Ok(Self::Sender),
            "admin" => Ok(Self::Admin),
            "client" => Ok(Self::Client),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// SHA-256 of a token string, the only form in which tokens are stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Issues a token: stores its hash with the role, subject and expiry, writes a `token.issue`
/// entry by `actor` to the audit log, and returns the token and its record. The caller hands
/// the token to its holder once (it cannot be recovered).
///
/// A running service takes tokens issued through its admin API at once; tokens issued into
/// the store while it runs (by `letro token issue`) take effect at its next start.
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
    store.append_audit(&AuditEntry {
        time: crate::unix_now(),
        actor: actor.to_owned(),
        action: "token.issue".into(),
        target: format!("{} ({} {})", record.id(), role.as_str(), subject),
        outcome: "ok".into(),
    })?;
    Ok((token, record))
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
    use crate::store::SqliteStore;

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
}

//! The roles a bearer token carries. Which role may call which route is declared once, in
//! [`crate::routes::ROUTES`]; `service/ACCESS.md` is the same table for people.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
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
    /// Every role, in the order ACCESS.md lists them.
    pub const ALL: [Role; 4] = [Role::Relay, Role::Sender, Role::Client, Role::Admin];

    /// The names of [`Role::ALL`] as a list for people: `relay, sender, client or admin`.
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    /// The role's name in storage, on the wire and in ACCESS.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Sender => "sender",
            Self::Admin => "admin",
            Self::Client => "client",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected {names})", names = Role::names())]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_match_the_wire() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
        }
        assert_eq!(Role::names(), "relay, sender, client or admin");
        assert!("Relay".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }
}

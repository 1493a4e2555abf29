//! C2SP tlog-policy (<https://c2sp.org/tlog-policy>): which logs a verifier accepts, which
//! witnesses it knows, and the quorum of cosignatures a checkpoint needs.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Lines end in LF; items are separated by spaces and tabs; blank lines and `#` comments are
//! ignored. A group or the quorum may only name witnesses and groups defined on earlier lines;
//! a name is a group member at most once; `1 <= k <= n`; exactly one quorum line; no two logs
//! or two witnesses with the same public key. Log vkeys are note keys (type 0x01), witness
//! vkeys cosigner keys (type 0x04). Limits: 32 logs, 32 witnesses, 32 groups (the spec's
//! recommended minimum, taken as the maximum).

use std::collections::BTreeSet;

use crate::cosignature::{CosignatureError, Cosigned, CosignerKey};
use crate::note::VerifierKey;

/// The most logs, witnesses and groups (each) a policy may define.
pub const MAX_ENTRIES: usize = 32;

/// The largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Why a policy file is refused: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy line {line}: {reason}")]
pub struct PolicyError {
    /// 1-based line number (0 for the whole file).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A named witness of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy (only meaningful inside it).
    pub name: String,
    /// Its cosigner key.
    pub key: CosignerKey,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<VerifierKey>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None`: `quorum none`.
    quorum: Option<Member>,
}

impl Policy {
    /// Parses a policy file.
    pub fn parse(bytes: &[u8]) -> Result<Self, PolicyError> {
        let whole = |reason: &str| PolicyError {
            line: 0,
            reason: reason.into(),
        };
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(whole("the file is larger than 64 KiB"));
        }
        if let Some(b) = bytes
            .iter()
            .find(|&&b| (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f)
        {
            return Err(whole(&format!("control character 0x{b:02x}")));
        }
        // Names and URLs may hold any octet with the high bit set; keys are ASCII.
        let text = String::from_utf8_lossy(bytes);
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (i, line) in text.split('\n').enumerate() {
            let number = i + 1;
            let bad = |reason: String| PolicyError {
                line: number,
                reason,
            };
            let items: Vec<&str> = line.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
            let Some((&keyword, args)) = items.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match (keyword, args) {
                ("log", [vkey] | [vkey, _]) => {
                    let key =
                        VerifierKey::parse(vkey).map_err(|e| bad(format!("log vkey: {e}")))?;
                    if policy
                        .logs
                        .iter()
                        .any(|k| k.public_key() == key.public_key())
                    {
                        return Err(bad("a log with this public key is already listed".into()));
                    }
                    if policy.logs.len() == MAX_ENTRIES {
                        return Err(bad(format!("more than {MAX_ENTRIES} logs")));
                    }
                    policy.logs.push(key);
                }
                ("witness", [name, vkey] | [name, vkey, _]) => {
                    let key =
                        CosignerKey::parse(vkey).map_err(|e| bad(format!("witness vkey: {e}")))?;
                    if policy
                        .witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(bad(
                            "a witness with this public key is already listed".into()
                        ));
                    }
                    if policy.witnesses.len() == MAX_ENTRIES {
                        return Err(bad(format!("more than {MAX_ENTRIES} witnesses")));
                    }
                    define(&mut names, name).map_err(bad)?;
                    policy.witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        key,
                    });
                }
                ("group", [name, threshold, members @ ..]) if !members.is_empty() => {
                    let mut resolved = Vec::new();
                    for m in members {
                        let member = policy.member(m).ok_or_else(|| {
                            bad(format!("{m:?} is not a witness or group defined above"))
                        })?;
                        if resolved.contains(&member) {
                            return Err(bad(format!("{m:?} is listed twice")));
                        }
                        resolved.push(member);
                    }
                    let n = resolved.len();
                    let k = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k => canonical_count(k)
                            .filter(|k| (1..=n).contains(k))
                            .ok_or_else(|| {
                                bad(format!(
                                    "threshold {k:?} is not all, any or a number from 1 to {n}"
                                ))
                            })?,
                    };
                    if policy.groups.len() == MAX_ENTRIES {
                        return Err(bad(format!("more than {MAX_ENTRIES} groups")));
                    }
                    define(&mut names, name).map_err(bad)?;
                    policy.groups.push(Group {
                        name: (*name).to_owned(),
                        threshold: k,
                        members: resolved,
                    });
                }
                ("quorum", [name]) => {
                    if quorum_seen {
                        return Err(bad("a second quorum line".into()));
                    }
                    quorum_seen = true;
                    policy.quorum = if *name == "none" {
                        None
                    } else {
                        Some(policy.member(name).ok_or_else(|| {
                            bad(format!("{name:?} is not a witness or group defined above"))
                        })?)
                    };
                }
                (k, _) => {
                    return Err(bad(format!(
                        "{k:?} with {} items is not a log, witness, group or quorum line",
                        args.len()
                    )))
                }
            }
        }
        if !quorum_seen {
            return Err(whole("no quorum line"));
        }
        Ok(policy)
    }

    fn member(&self, name: &str) -> Option<Member> {
        self.witnesses
            .iter()
            .position(|w| w.name == name)
            .map(Member::Witness)
            .or_else(|| {
                self.groups
                    .iter()
                    .position(|g| g.name == name)
                    .map(Member::Group)
            })
    }

    /// The logs the policy accepts.
    pub fn logs(&self) -> &[VerifierKey] {
        &self.logs
    }

    /// The witnesses it knows.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Whether no cosignature is required (`quorum none`).
    pub fn requires_none(&self) -> bool {
        self.quorum.is_none()
    }

    /// The verified cosignatures of the policy's witnesses on `note`, each with the witness's
    /// policy name, and whether they satisfy the quorum. A line that claims to be a policy
    /// witness's and does not verify refuses the whole note ([`crate::cosignature::verify`]).
    pub fn cosignatures(
        &self,
        note: &crate::note::Note,
    ) -> Result<(Vec<(String, Cosigned)>, bool), CosignatureError> {
        let keys: Vec<CosignerKey> = self.witnesses.iter().map(|w| w.key.clone()).collect();
        let found: Vec<(String, Cosigned)> = crate::cosignature::verify(note, &keys)?
            .into_iter()
            .filter_map(|c| {
                let w = self
                    .witnesses
                    .iter()
                    .find(|w| w.key.name() == c.name && w.key.key_id() == c.key_id)?;
                Some((w.name.clone(), c))
            })
            .collect();
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        let met = self.satisfied_by(&names);
        Ok((found, met))
    }

    /// Whether the witnesses named in `cosigned` (by policy name) satisfy the quorum.
    pub fn satisfied_by(&self, cosigned: &[&str]) -> bool {
        match self.quorum {
            None => true,
            Some(m) => self.witnessed(m, cosigned),
        }
    }

    fn witnessed(&self, m: Member, cosigned: &[&str]) -> bool {
        match m {
            Member::Witness(i) => self
                .witnesses
                .get(i)
                .is_some_and(|w| cosigned.contains(&w.name.as_str())),
            // Groups only name earlier entries, so this recursion ends.
            Member::Group(i) => self.groups.get(i).is_some_and(|g| {
                g.members
                    .iter()
                    .filter(|&&m| self.witnessed(m, cosigned))
                    .count()
                    >= g.threshold
            }),
        }
    }
}

fn define(names: &mut BTreeSet<String>, name: &str) -> Result<(), String> {
    if name == "none" {
        return Err("none is a reserved name".into());
    }
    if !names.insert(name.to_owned()) {
        return Err(format!("{name:?} is already defined"));
    }
    Ok(())
}

fn canonical_count(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::CosignerSigner;
    use crate::note::SignerKey;

    fn w(seed: u8) -> String {
        CosignerSigner::from_seed(&format!("w{seed}.example"), &[seed; 32])
            .unwrap()
            .cosigner_key()
            .to_string()
    }

    fn log() -> String {
        SignerKey::from_seed("relay.example/log", &[9; 32])
            .unwrap()
            .verifier_key()
            .to_string()
    }

    #[test]
    fn the_spec_example_shape_with_two_levels_of_groups() {
        let text = format!(
            "# a comment\nlog {} https://relay.example/\n\n witness X1 {}\nwitness\tX2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\nwitness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            log(), w(1), w(2), w(3), w(4), w(5), w(6)
        );
        let p = Policy::parse(text.as_bytes()).unwrap();
        assert_eq!((p.logs().len(), p.witnesses().len()), (1, 6));
        assert!(p.satisfied_by(&["X1", "X3", "Y2"]));
        assert!(!p.satisfied_by(&["X1", "Y2"]), "one X is not two");
        assert!(!p.satisfied_by(&["X1", "X2", "X3"]), "no Y");
        assert!(!p.satisfied_by(&[]));
        assert!(
            !p.satisfied_by(&["X-witnesses", "Y-witnesses"]),
            "groups do not cosign"
        );
        let none = Policy::parse(format!("log {}\nquorum none\n", log()).as_bytes()).unwrap();
        assert!(none.requires_none() && none.satisfied_by(&[]));
        let one = Policy::parse(format!("witness A {}\nquorum A", w(1)).as_bytes()).unwrap();
        assert!(one.satisfied_by(&["A"]) && !one.satisfied_by(&["B"]));
    }

    #[test]
    fn the_testdata_policy_parses() {
        let p = Policy::parse(include_bytes!("../../testdata/witness/example.policy")).unwrap();
        assert_eq!(p.witnesses()[0].key.name(), "example.org/witness");
        assert_eq!(p.logs()[0].name(), "letro.invalid/INSECURE-DEV-test-log");
        assert!(p.satisfied_by(&["W1"]) && !p.satisfied_by(&[]));
    }

    #[test]
    fn every_rule_of_the_spec_is_enforced() {
        let (a, b) = (w(1), w(2));
        let cases = [
            (String::new(), "no quorum"),
            (format!("witness A {a}\n"), "no quorum"),
            ("quorum A\n".to_owned(), "not a witness or group"),
            (
                format!("quorum A\nwitness A {a}\n"),
                "not a witness or group",
            ),
            (
                format!("witness A {a}\nquorum A\nquorum A\n"),
                "second quorum",
            ),
            (
                format!("witness A {a}\nwitness A {b}\nquorum A\n"),
                "already defined",
            ),
            (
                format!("witness A {a}\nwitness B {a}\nquorum A\n"),
                "public key",
            ),
            (
                format!("log {0}\nlog {0}\nquorum none\n", log()),
                "public key",
            ),
            (format!("witness none {a}\nquorum none\n"), "reserved"),
            (
                format!("witness A {a}\ngroup G 2 A\nquorum G\n"),
                "threshold",
            ),
            (
                format!("witness A {a}\ngroup G 0 A\nquorum G\n"),
                "threshold",
            ),
            (
                format!("witness A {a}\ngroup G 01 A\nquorum G\n"),
                "threshold",
            ),
            (
                format!("witness A {a}\ngroup G any A A\nquorum G\n"),
                "twice",
            ),
            (
                format!("witness A {a}\ngroup G any\nquorum G\n"),
                "not a log",
            ),
            (
                format!("witness A {a}\ngroup G any B\nquorum G\n"),
                "not a witness or group",
            ),
            (format!("witness A {}\nquorum A\n", log()), "witness vkey"),
            (format!("log {a}\nquorum none\n"), "log vkey"),
            (format!("witness A {a} url extra\nquorum A\n"), "not a log"),
            ("checkpoint x\nquorum none\n".to_owned(), "not a log"),
            (format!("witness A {a}\r\nquorum A\n"), "control character"),
        ];
        for (text, says) in cases {
            let e = Policy::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e} (expected {says:?})");
        }
        let many: String = (0..33u8)
            .map(|i| format!("witness W{i} {}\n", w(i + 1)))
            .collect();
        let e = Policy::parse(format!("{many}quorum W0\n").as_bytes()).unwrap_err();
        assert!(e.to_string().contains("more than 32"), "{e}");
        assert!(Policy::parse(&vec![b'#'; MAX_POLICY_BYTES + 1]).is_err());
    }
}

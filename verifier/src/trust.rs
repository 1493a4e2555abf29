//! How far a verifying key is trusted, and the keys manifest that says so (SPEC.md §9).
//!
//! A Groth16 proof is only as good as its setup: whoever knew the setup's randomness can make a
//! proof of any statement. Every pinned key therefore carries a [`TrustLevel`]:
//! - [`TrustLevel::Ceremony`]: the manifest's provenance kind is `ceremony` (a multi-party
//!   setup, for example a deployment's own);
//! - [`TrustLevel::DemoCeremony`]: the provenance kind is `demo-ceremony` (a multi-party setup
//!   whose contributors were all this project's developers, as for the built-in keys: sound
//!   against everyone else, but its contributors together could forge any bundle);
//! - [`TrustLevel::InsecureDev`]: the provenance kind is `insecure-dev` (one party ran the setup
//!   and can forge any bundle);
//! - [`TrustLevel::UserSupplied`]: a key file given by the user (`--vk`) with no provenance
//!   this verifier can check.
//!
//! The level comes from a manifest only after the manifest's `verifying_key.sha256` (and
//! `bytes`) have been checked against the key's own bytes ([`check_manifest`]): a manifest for
//! another key never lends it its provenance. A [`TrustPolicy`] says which levels a
//! [`crate::Verifier`] reports as verified.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How far a pinned verifying key is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TrustLevel {
    /// From a development setup run by one party (manifest provenance `insecure-dev`): its maker
    /// can forge a proof of any statement.
    InsecureDev,
    /// From a multi-party ceremony whose contributors were all this project's developers
    /// (manifest provenance `demo-ceremony`, the built-in keys): for demos and tests. A
    /// deployment runs its own ceremony.
    DemoCeremony,
    /// Given by the user (for example `letro-verify --vk FILE`): no provenance is known.
    UserSupplied,
    /// From a multi-party ceremony (manifest provenance `ceremony`).
    Ceremony,
}

impl TrustLevel {
    /// The level's stable name: `insecure-dev`, `demo-ceremony`, `user-supplied` or
    /// `ceremony`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InsecureDev => "insecure-dev",
            Self::DemoCeremony => "demo-ceremony",
            Self::UserSupplied => "user-supplied",
            Self::Ceremony => "ceremony",
        }
    }

    /// The `letro-verify` flag that accepts keys of this level, `None` for `ceremony` (always
    /// accepted).
    pub fn accept_flag(self) -> Option<&'static str> {
        match self {
            Self::InsecureDev => Some("--accept-insecure-dev-keys"),
            Self::DemoCeremony => Some("--accept-demo-ceremony-keys"),
            Self::UserSupplied => Some("--accept-user-supplied-keys"),
            Self::Ceremony => None,
        }
    }
}

impl std::fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which trust levels a verifier reports as verified. [`TrustLevel::Ceremony`] is always
/// accepted; the others only when named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrustPolicy {
    /// Accept keys from an `insecure-dev` setup (`--accept-insecure-dev-keys`).
    pub accept_insecure_dev: bool,
    /// Accept keys from a ceremony of this project's developers only (`demo-ceremony`, the
    /// built-in keys; `--accept-demo-ceremony-keys`).
    pub accept_demo_ceremony: bool,
    /// Accept keys given by the user, of unknown provenance (`--accept-user-supplied-keys`).
    pub accept_user_supplied: bool,
}

impl TrustPolicy {
    /// Only ceremony keys: what a third party relying on a bundle needs.
    pub const CEREMONY_ONLY: Self = Self {
        accept_insecure_dev: false,
        accept_demo_ceremony: false,
        accept_user_supplied: false,
    };
    /// Every level. Only for a party that checks proofs it made itself (the relay's self-check)
    /// or in tests: the result says nothing against whoever ran the setup.
    pub const ANY: Self = Self {
        accept_insecure_dev: true,
        accept_demo_ceremony: true,
        accept_user_supplied: true,
    };

    /// Whether a key of this level is accepted.
    pub fn accepts(self, level: TrustLevel) -> bool {
        match level {
            TrustLevel::Ceremony => true,
            TrustLevel::InsecureDev => self.accept_insecure_dev,
            TrustLevel::DemoCeremony => self.accept_demo_ceremony,
            TrustLevel::UserSupplied => self.accept_user_supplied,
        }
    }
}

/// Why a keys manifest does not vouch for a verifying key. A key whose manifest fails any of
/// these checks is never pinned with the manifest's provenance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not a JSON object with `statement`, `verifying_key.{file, sha256, bytes}` and
    /// `provenance.kind`.
    #[error("the keys manifest is not json of the expected shape: {0}")]
    Json(String),
    /// `verifying_key.sha256` is not the SHA-256 of the key's bytes: the manifest describes
    /// another key.
    #[error(
        "the keys manifest gives verifying-key sha256 {manifest}, but the key's sha256 is {actual}"
    )]
    VerifyingKeyHashMismatch {
        /// What the manifest says.
        manifest: String,
        /// SHA-256 of the key bytes, lowercase hex.
        actual: String,
    },
    /// `verifying_key.bytes` is not the key's length.
    #[error(
        "the keys manifest gives a verifying key of {manifest} bytes, but the key has {actual}"
    )]
    VerifyingKeyLength {
        /// What the manifest says.
        manifest: u64,
        /// The key's length.
        actual: usize,
    },
    /// `provenance.kind` is none of `insecure-dev`, `demo-ceremony` and `ceremony`.
    #[error("unknown provenance kind {0:?} in the keys manifest")]
    UnknownProvenance(String),
    /// `provenance.kind` is `ceremony` or `demo-ceremony` but `provenance.ceremony` holds no
    /// ceremony record.
    #[error("the keys manifest claims a ceremony but has no ceremony record")]
    CeremonyMissing,
    /// `provenance.kind` is `ceremony` but a key file name says `INSECURE-DEV` or `DEMO`, or
    /// it is `demo-ceremony` and the name says `INSECURE-DEV` (SPEC.md §9).
    #[error(
        "the keys manifest claims a ceremony for the file {0:?}, whose name says it is not one"
    )]
    CeremonyNamedInsecure(String),
    /// The ceremony record lacks what SPEC.md §9 requires of it.
    #[error("the keys manifest's ceremony record is incomplete: {0}")]
    CeremonyRecord(String),
}

/// What a checked manifest says about its verifying key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyManifest {
    /// The statement the key is for (`statement`, for example `delivered-within/v1`).
    pub statement: String,
    /// From `provenance.kind`.
    pub trust_level: TrustLevel,
}

#[derive(Deserialize)]
struct ManifestWire {
    statement: String,
    verifying_key: KeyFileWire,
    provenance: ProvenanceWire,
}

#[derive(Deserialize)]
struct KeyFileWire {
    file: String,
    sha256: String,
    bytes: u64,
}

#[derive(Deserialize)]
struct ProvenanceWire {
    kind: String,
    #[serde(default)]
    ceremony: Option<serde_json::Value>,
}

/// Checks that `manifest` describes the verifying key `vk_bytes` (its SHA-256 and length) and
/// returns the key's statement and trust level. A mismatch is an error, never a silent
/// downgrade or upgrade. Members the verifier does not need are not checked here (the prover's
/// loader checks the whole manifest).
pub fn check_manifest(manifest: &str, vk_bytes: &[u8]) -> Result<KeyManifest, ManifestError> {
    let wire: ManifestWire =
        serde_json::from_str(manifest).map_err(|e| ManifestError::Json(e.to_string()))?;
    let actual = hex::encode(Sha256::digest(vk_bytes));
    if wire.verifying_key.sha256 != actual {
        return Err(ManifestError::VerifyingKeyHashMismatch {
            manifest: wire.verifying_key.sha256,
            actual,
        });
    }
    if usize::try_from(wire.verifying_key.bytes).ok() != Some(vk_bytes.len()) {
        return Err(ManifestError::VerifyingKeyLength {
            manifest: wire.verifying_key.bytes,
            actual: vk_bytes.len(),
        });
    }
    let (trust_level, refused_names): (_, &[&str]) = match wire.provenance.kind.as_str() {
        "insecure-dev" => (TrustLevel::InsecureDev, &[]),
        "demo-ceremony" => (TrustLevel::DemoCeremony, &["INSECURE-DEV"]),
        "ceremony" => (TrustLevel::Ceremony, &["INSECURE-DEV", "DEMO"]),
        other => return Err(ManifestError::UnknownProvenance(other.to_owned())),
    };
    if trust_level != TrustLevel::InsecureDev {
        let Some(record @ serde_json::Value::Object(_)) = &wire.provenance.ceremony else {
            return Err(ManifestError::CeremonyMissing);
        };
        if refused_names
            .iter()
            .any(|n| wire.verifying_key.file.contains(n))
        {
            return Err(ManifestError::CeremonyNamedInsecure(
                wire.verifying_key.file,
            ));
        }
        check_ceremony_record(record)?;
    }
    Ok(KeyManifest {
        statement: wire.statement,
        trust_level,
    })
}

/// The members of a ceremony record a verifier relies on (SPEC.md §9). Other members (the
/// format, the transcript's file) are informative.
#[derive(Deserialize)]
struct CeremonyRecordWire {
    phase1: Phase1Wire,
    circuit_hash: String,
    contributions: Vec<ContributionWire>,
}

#[derive(Deserialize)]
struct Phase1Wire {
    blake2b: String,
}

#[derive(Deserialize)]
struct ContributionWire {
    number: u64,
    hash: String,
}

fn is_hash512(s: &str) -> bool {
    s.len() == 128 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A ceremony record names its phase 1 and circuit by BLAKE2b-512 and lists at least one
/// contribution, numbered from 1, each with its hash. This checks the record's shape, not the
/// ceremony: its transcript is checked with `letro ceremony verify` or `snarkjs zkey verify`.
fn check_ceremony_record(record: &serde_json::Value) -> Result<(), ManifestError> {
    let bad = |s: &str| ManifestError::CeremonyRecord(s.to_owned());
    let r: CeremonyRecordWire =
        serde_json::from_value(record.clone()).map_err(|e| bad(&e.to_string()))?;
    if !is_hash512(&r.phase1.blake2b) {
        return Err(bad("phase1.blake2b is not 128 lowercase hex digits"));
    }
    if !is_hash512(&r.circuit_hash) {
        return Err(bad("circuit_hash is not 128 lowercase hex digits"));
    }
    if r.contributions.is_empty() {
        return Err(bad(
            "no contributions: whoever made the key can forge proofs",
        ));
    }
    for (i, c) in r.contributions.iter().enumerate() {
        if c.number != i as u64 + 1 || !is_hash512(&c.hash) {
            return Err(bad(&format!(
                "contribution {} is not numbered {} with a 128-hex-digit hash",
                c.number,
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        EMBEDDED_MANIFEST, EMBEDDED_MANIFEST_V1, EMBEDDED_MANIFEST_V2_DEV, EMBEDDED_VERIFYING_KEY,
        EMBEDDED_VERIFYING_KEY_V1, EMBEDDED_VERIFYING_KEY_V2_DEV,
    };

    fn manifest(sha256: &str, bytes: usize, kind: &str, ceremony: &str, file: &str) -> String {
        format!(
            r#"{{"statement": "delivered-within/v1", "constraints": 10972, "public_inputs": 6,
            "verifying_key": {{"file": "{file}", "sha256": "{sha256}", "bytes": {bytes}}},
            "provenance": {{"kind": "{kind}", "description": "d", "tool": "t", "ceremony": {ceremony}}}}}"#
        )
    }

    const RECORD: &str = r#"{"phase1": {"blake2b": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "power": 15}, "circuit_hash": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "contributions": [{"number": 1, "name": "a", "hash": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "beacon": null}]}"#;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn the_embedded_manifests_vouch_for_their_keys() {
        let m = check_manifest(EMBEDDED_MANIFEST, EMBEDDED_VERIFYING_KEY).unwrap();
        assert_eq!(m.trust_level, TrustLevel::DemoCeremony);
        assert_eq!(m.statement, "delivered-within/v2");
        let m = check_manifest(EMBEDDED_MANIFEST_V2_DEV, EMBEDDED_VERIFYING_KEY_V2_DEV).unwrap();
        assert_eq!(m.trust_level, TrustLevel::InsecureDev);
        assert_eq!(m.statement, "delivered-within/v2");
        let m = check_manifest(EMBEDDED_MANIFEST_V1, EMBEDDED_VERIFYING_KEY_V1).unwrap();
        assert_eq!(m.trust_level, TrustLevel::InsecureDev);
        assert_eq!(m.statement, "delivered-within/v1");
        // Each manifest vouches for its own key only.
        for (m, k) in [
            (EMBEDDED_MANIFEST, EMBEDDED_VERIFYING_KEY_V1),
            (EMBEDDED_MANIFEST, EMBEDDED_VERIFYING_KEY_V2_DEV),
            (EMBEDDED_MANIFEST_V2_DEV, EMBEDDED_VERIFYING_KEY),
        ] {
            assert!(check_manifest(m, k).is_err());
        }
    }

    #[test]
    fn a_manifest_for_other_key_bytes_is_an_error() {
        // The embedded manifest with one byte of the key changed.
        let mut other = EMBEDDED_VERIFYING_KEY.to_vec();
        other[0] ^= 1;
        assert_eq!(
            check_manifest(EMBEDDED_MANIFEST, &other),
            Err(ManifestError::VerifyingKeyHashMismatch {
                manifest: sha(EMBEDDED_VERIFYING_KEY),
                actual: sha(&other),
            })
        );
        // A ceremony manifest naming another key's hash does not make this key a ceremony key.
        let key = b"some key bytes";
        let m = manifest(&sha(b"another key"), key.len(), "ceremony", "{}", "k.vk");
        assert!(matches!(
            check_manifest(&m, key),
            Err(ManifestError::VerifyingKeyHashMismatch { .. })
        ));
        // Upper-case hex of the right hash is not the canonical form: refused too.
        let m = manifest(
            &sha(key).to_uppercase(),
            key.len(),
            "ceremony",
            "{}",
            "k.vk",
        );
        assert!(matches!(
            check_manifest(&m, key),
            Err(ManifestError::VerifyingKeyHashMismatch { .. })
        ));
        // The right hash and the wrong length.
        let m = manifest(&sha(key), key.len() + 1, "insecure-dev", "null", "k.vk");
        assert_eq!(
            check_manifest(&m, key),
            Err(ManifestError::VerifyingKeyLength {
                manifest: key.len() as u64 + 1,
                actual: key.len()
            })
        );
    }

    #[test]
    fn provenance_kinds_map_to_trust_levels() {
        let key = b"some key bytes";
        let ok = |kind: &str, ceremony: &str, file: &str| {
            check_manifest(&manifest(&sha(key), key.len(), kind, ceremony, file), key)
        };
        assert_eq!(
            ok("ceremony", RECORD, "k.vk").map(|m| m.trust_level),
            Ok(TrustLevel::Ceremony)
        );
        for broken in [
            r#"{"transcript": "x"}"#.to_owned(),
            RECORD.replace(&"c".repeat(128), "c"),
            RECORD.replace(r#""number": 1"#, r#""number": 2"#),
            RECORD.replace(&"a".repeat(128), &"A".repeat(128)),
            format!("{}[]}}", &RECORD[..RECORD.find('[').unwrap()]),
        ] {
            assert!(
                matches!(
                    ok("ceremony", &broken, "k.vk"),
                    Err(ManifestError::CeremonyRecord(_))
                ),
                "{broken}"
            );
        }
        assert_eq!(
            ok("insecure-dev", "null", "k.INSECURE-DEV.vk").map(|m| m.trust_level),
            Ok(TrustLevel::InsecureDev)
        );
        assert_eq!(
            ok("ceremony", "null", "k.vk"),
            Err(ManifestError::CeremonyMissing)
        );
        assert_eq!(
            ok("ceremony", "{}", "k.INSECURE-DEV.vk"),
            Err(ManifestError::CeremonyNamedInsecure(
                "k.INSECURE-DEV.vk".into()
            ))
        );
        assert_eq!(
            ok("demo-ceremony", RECORD, "k.DEMO-CEREMONY.vk").map(|m| m.trust_level),
            Ok(TrustLevel::DemoCeremony)
        );
        assert_eq!(
            ok("demo-ceremony", "null", "k.DEMO-CEREMONY.vk"),
            Err(ManifestError::CeremonyMissing)
        );
        assert!(matches!(
            ok(
                "demo-ceremony",
                &RECORD.replace(r#""number": 1"#, r#""number": 0"#),
                "k.vk"
            ),
            Err(ManifestError::CeremonyRecord(_))
        ));
        // A demo ceremony's key may not be passed off as a deployment's, nor a dev key as
        // either.
        for (kind, file) in [
            ("ceremony", "k.DEMO-CEREMONY.vk"),
            ("demo-ceremony", "k.INSECURE-DEV.vk"),
        ] {
            assert_eq!(
                ok(kind, RECORD, file),
                Err(ManifestError::CeremonyNamedInsecure(file.into()))
            );
        }
        assert_eq!(
            ok("trusted", "null", "k.vk"),
            Err(ManifestError::UnknownProvenance("trusted".into()))
        );
        assert!(matches!(
            check_manifest("{}", key),
            Err(ManifestError::Json(_))
        ));
    }

    #[test]
    fn policies() {
        use TrustLevel::*;
        for level in [InsecureDev, DemoCeremony, UserSupplied, Ceremony] {
            assert_eq!(TrustPolicy::CEREMONY_ONLY.accepts(level), level == Ceremony);
            assert!(TrustPolicy::ANY.accepts(level));
        }
        assert_eq!(TrustPolicy::default(), TrustPolicy::CEREMONY_ONLY);
        let dev = TrustPolicy {
            accept_insecure_dev: true,
            ..TrustPolicy::CEREMONY_ONLY
        };
        assert!(dev.accepts(InsecureDev) && !dev.accepts(UserSupplied));
        assert!(!dev.accepts(DemoCeremony));
        let demo = TrustPolicy {
            accept_demo_ceremony: true,
            ..TrustPolicy::CEREMONY_ONLY
        };
        assert!(demo.accepts(DemoCeremony) && !demo.accepts(InsecureDev));
    }
}

//! # letro-verifier
//!
//! Checks a Letro proof-of-delivery bundle offline, trusting only pinned keys: the Groth16
//! verifying key (built in from `keys/`, or given) and the relay's log key(s).
//!
//! [`Verifier::verify`] follows the numbered algorithm of SPEC.md §8; each step has its own
//! error, and a [`VerifiedDelivery`] can only be made here, after every step passed:
//!
//! 1. parse the bundle strictly (size, JSON shape, version, statement id, canonical encodings,
//!    proof points on the curve and in the subgroup) — [`VerifyError::Malformed`];
//! 2. find the verifying key by its SHA-256, before any pairing — [`VerifyError::UnknownVerifyingKey`] —
//!    check that it is a key for the bundle's statement version — [`VerifyError::KeyForOtherStatement`] —
//!    and refuse it unless the [`TrustPolicy`] accepts its [`TrustLevel`] —
//!    [`VerifyError::UntrustedVerifyingKey`];
//! 3. the checkpoint is signed by a trusted log key named like its origin —
//!    [`VerifyError::NoTrustedLogKey`], [`VerifyError::Checkpoint`];
//! 4. the statement's log root equals the checkpoint's root — [`VerifyError::RootMismatch`] —
//!    and (v2) the window fits the checkpoint's time and published receipt skew —
//!    [`VerifyError::TimeBounds`];
//! 5. the public inputs are the statement's canonical encoding (six field elements, the
//!    hash halves below 2^128 and the times below 2^64 by construction);
//! 6. the Groth16 proof verifies against the key — [`VerifyError::ProofInvalid`].
//!
//! Many bundles are checked together by [`Verifier::verify_batch`] with one random linear
//! combination of the pairing equations; each bundle still gets its own result.
//!
//! Every error has a stable machine code ([`VerifyError::code`], [`checks::CiphertextError::code`],
//! [`checks::OpeningCheckError::code`]; SPEC.md §8), and [`findings::findings`] states what a
//! verified bundle shows and every caveat, for people and for `--json` alike.
//!
//! ## Trust
//!
//! Each pinned key has a [`TrustLevel`]: `insecure-dev`, `demo-ceremony` or `ceremony` from the keys manifest
//! (whose verifying-key hash is checked against the key's bytes first), or `user-supplied`.
//! [`Verifier::new`] accepts every level ([`TrustPolicy::ANY`]) so that a relay can check its
//! own proofs; a verifier whose result a third party relies on MUST set a policy with
//! [`Verifier::with_trust_policy`] (`letro-verify` uses [`TrustPolicy::CEREMONY_ONLY`] unless a
//! flag names the risk).
//!
//! ## Non-features
//!
//! - No proving, no circuit, no network, no async runtime, no libsignal: the dependency tree is
//!   kept small on purpose, and CI checks it.
//! - No consistency proofs between checkpoints yet (split-view detection).
#![forbid(unsafe_code)]

pub mod batch;
pub mod certificate;
pub mod checks;
pub mod evidence;
pub mod findings;
pub mod pdf;
pub mod snarkjs;
pub mod timestamps;
pub mod trust;

use ark_bn254::Bn254;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey};
use ark_serialize::CanonicalDeserialize;
use letro_core::bundle::{BundleError, ParsedBundle};
use letro_core::field::fr_to_be_bytes;
use letro_core::statement::{
    time_bounds, DeliveredWithin, StatementVersion, TimeBounds, TimeBoundsError,
};
use letro_log::checkpoint::{Checkpoint, CheckpointVerifyError};
use letro_log::note::{NoteVerifyError, VerifierKey};
use sha2::{Digest, Sha256};

pub use trust::{check_manifest, KeyManifest, ManifestError, TrustLevel, TrustPolicy};

/// The `delivered-within/v2` verifying key committed in `keys/`, built in: from the demo
/// ceremony whose transcript is `keys/ceremony/` (trust level `demo-ceremony`).
pub const EMBEDDED_VERIFYING_KEY: &[u8] =
    include_bytes!("../../keys/delivered-within-v2.DEMO-CEREMONY.vk");
/// Its manifest, committed in `keys/`, built in: the key's statement and trust level come
/// from it, after its verifying-key hash is checked against [`EMBEDDED_VERIFYING_KEY`].
pub const EMBEDDED_MANIFEST: &str = include_str!("../../keys/manifest.json");
/// The `delivered-within/v1` verifying key committed in `keys/v1/`, built in so that v1
/// bundles stay verifiable.
pub const EMBEDDED_VERIFYING_KEY_V1: &[u8] =
    include_bytes!("../../keys/v1/delivered-within-v1.INSECURE-DEV.vk");
/// The v1 key's manifest, committed in `keys/v1/`, built in.
pub const EMBEDDED_MANIFEST_V1: &str = include_str!("../../keys/v1/manifest.json");
/// The first `delivered-within/v2` verifying key (from a one-party `insecure-dev` setup),
/// committed in `keys/v2-dev/` and built in so that the v2 bundles proved under it stay
/// verifiable.
pub const EMBEDDED_VERIFYING_KEY_V2_DEV: &[u8] =
    include_bytes!("../../keys/v2-dev/delivered-within-v2.INSECURE-DEV.vk");
/// Its manifest, committed in `keys/v2-dev/`, built in.
pub const EMBEDDED_MANIFEST_V2_DEV: &str = include_str!("../../keys/v2-dev/manifest.json");

/// Why a bundle did not verify. [`VerifyError::exit_code`] maps each to `letro-verify`'s exit
/// code: 1 a check failed, 3 could not verify, 4 the key is not trusted;
/// [`VerifyError::code`] gives its stable machine code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Step 1: the bundle is not a well-formed bundle (v1 or v2).
    #[error("malformed bundle: {0}")]
    Malformed(#[from] BundleError),
    /// Step 2: no pinned verifying key has this SHA-256.
    #[error("unknown verifying key {0}: pass it with --vk if you trust it")]
    UnknownVerifyingKey(String),
    /// Step 2: the pinned key's trust level is not accepted by the verifier's [`TrustPolicy`]
    /// (for example an `insecure-dev` key, whose maker can forge proofs). Checked before any
    /// pairing: such a key cannot make a bundle verified.
    #[error("the verifying key {sha256} has trust level {trust_level}, which is not accepted")]
    UntrustedVerifyingKey {
        /// SHA-256 of the key, lowercase hex.
        sha256: String,
        /// The key's trust level.
        trust_level: TrustLevel,
    },
    /// Step 2: the pinned key is for another statement version than the bundle's (for
    /// example a v2 bundle that names the v1 key).
    #[error("the verifying key {sha256} is for {key_statement}, but the bundle states {bundle_statement}")]
    KeyForOtherStatement {
        /// SHA-256 of the key, lowercase hex.
        sha256: String,
        /// The statement id the key is for.
        key_statement: String,
        /// The bundle's statement id.
        bundle_statement: &'static str,
    },
    /// Step 3: no trusted log key was given.
    #[error("no trusted log key was given")]
    NoTrustedLogKey,
    /// Step 3: the checkpoint is not signed by a trusted log key, or a signature is invalid.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointVerifyError),
    /// Step 3 (with a witness policy): a line named like a policy witness, with its key ID,
    /// is not a valid cosignature.
    #[error(transparent)]
    Cosignature(#[from] letro_log::cosignature::CosignatureError),
    /// Step 3 (with a witness policy): the valid cosignatures do not satisfy the quorum.
    #[error("the checkpoint's cosignatures do not satisfy the witness policy's quorum (cosigned by: {})", if cosigned.is_empty() { "no policy witness".to_owned() } else { cosigned.join(", ") })]
    QuorumNotMet {
        /// The policy names of the witnesses whose cosignatures verified.
        cosigned: Vec<String>,
    },
    /// Step 4: the statement's root is not the checkpoint's.
    #[error("the statement's log root is not the root of the signed checkpoint")]
    RootMismatch,
    /// Step 4 (v2): the checkpoint does not publish the relay's receipt skew, or the window
    /// starts after the latest delivery time an honest log could have accepted before the
    /// checkpoint (`not_before > checkpoint time + receipt skew`).
    #[error(transparent)]
    TimeBounds(#[from] TimeBoundsError),
    /// Step 6: the Groth16 proof does not verify for this statement.
    #[error("the proof does not verify for this statement")]
    ProofInvalid,
    /// Step 7: an RFC 3161 time-stamp token over the checkpoint is not intact.
    #[error(transparent)]
    Timestamp(#[from] timestamps::TimestampVerifyError),
}

impl VerifyError {
    /// `letro-verify`'s exit code for this error: 1 when a check failed, 3 when the bundle
    /// could not be verified at all, 4 when its verifying key is not trusted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Malformed(_)
            | Self::UnknownVerifyingKey(_)
            | Self::KeyForOtherStatement { .. }
            | Self::NoTrustedLogKey => 3,
            Self::Checkpoint(_)
            | Self::Cosignature(_)
            | Self::QuorumNotMet { .. }
            | Self::RootMismatch
            | Self::TimeBounds(_)
            | Self::ProofInvalid => 1,
            Self::Timestamp(e) => e.exit_code(),
            Self::UntrustedVerifyingKey { .. } => 4,
        }
    }

    /// The step of the algorithm that failed (1 to 6).
    pub fn step(&self) -> u8 {
        match self {
            Self::Malformed(_) => 1,
            Self::UnknownVerifyingKey(_)
            | Self::KeyForOtherStatement { .. }
            | Self::UntrustedVerifyingKey { .. } => 2,
            Self::NoTrustedLogKey
            | Self::Checkpoint(_)
            | Self::Cosignature(_)
            | Self::QuorumNotMet { .. } => 3,
            Self::RootMismatch | Self::TimeBounds(_) => 4,
            Self::ProofInvalid => 6,
            Self::Timestamp(_) => 7,
        }
    }

    /// The stable machine code of this failure (SPEC.md §8): the variant's name, followed for
    /// a wrapped error by `.` and the cause's variant, for example `Malformed.Json`,
    /// `Checkpoint.InvalidSignature` or `ProofInvalid`. A cause added later that has no code of
    /// its own yet reports the bare variant (`Malformed`, `Checkpoint`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(e) => bundle_error_code(e),
            Self::UnknownVerifyingKey(_) => "UnknownVerifyingKey",
            Self::UntrustedVerifyingKey { .. } => "UntrustedVerifyingKey",
            Self::KeyForOtherStatement { .. } => "KeyForOtherStatement",
            Self::NoTrustedLogKey => "NoTrustedLogKey",
            Self::Checkpoint(e) => match e {
                CheckpointVerifyError::Note(n) => match n {
                    NoteVerifyError::InvalidSignature { .. } => "Checkpoint.InvalidSignature",
                    NoteVerifyError::AmbiguousKey { .. } => "Checkpoint.AmbiguousKey",
                    NoteVerifyError::NoTrustedSignature => "Checkpoint.NoTrustedSignature",
                    _ => "Checkpoint",
                },
                CheckpointVerifyError::OriginNotSigned { .. } => "Checkpoint.OriginNotSigned",
                _ => "Checkpoint",
            },
            Self::Cosignature(e) => match e {
                letro_log::cosignature::CosignatureError::Invalid { .. } => "Cosignature.Invalid",
                letro_log::cosignature::CosignatureError::Malformed { .. } => {
                    "Cosignature.Malformed"
                }
                letro_log::cosignature::CosignatureError::TimeOutOfRange(_) => {
                    "Cosignature.TimeOutOfRange"
                }
                _ => "Cosignature",
            },
            Self::QuorumNotMet { .. } => "QuorumNotMet",
            Self::RootMismatch => "RootMismatch",
            Self::TimeBounds(e) => match e {
                TimeBoundsError::ReceiptSkew(_) => "TimeBounds.ReceiptSkew",
                TimeBoundsError::ImpossibleWindow { .. } => "TimeBounds.ImpossibleWindow",
                _ => "TimeBounds",
            },
            Self::ProofInvalid => "ProofInvalid",
            Self::Timestamp(e) => e.code(),
        }
    }
}

/// The verified cosignatures of `policy`'s witnesses on `note`, if they meet its quorum.
fn witness_cosignatures(
    policy: &letro_log::policy::Policy,
    note: &letro_log::note::Note,
) -> Result<Vec<WitnessCosignature>, VerifyError> {
    let (found, met) = policy.cosignatures(note)?;
    if !met {
        return Err(VerifyError::QuorumNotMet {
            cosigned: found.into_iter().map(|(name, _)| name).collect(),
        });
    }
    Ok(found
        .into_iter()
        .map(|(policy_name, c)| WitnessCosignature {
            policy_name,
            key_name: c.name,
            time: c.time,
        })
        .collect())
}

/// `Malformed.<BundleError variant>`.
fn bundle_error_code(e: &BundleError) -> &'static str {
    match e {
        BundleError::TooLarge { .. } => "Malformed.TooLarge",
        BundleError::Json(_) => "Malformed.Json",
        BundleError::UnsupportedVersion(_) => "Malformed.UnsupportedVersion",
        BundleError::UnknownStatement(_) => "Malformed.UnknownStatement",
        BundleError::CiphertextHash => "Malformed.CiphertextHash",
        BundleError::Time { .. } => "Malformed.Time",
        BundleError::FieldElement { .. } => "Malformed.FieldElement",
        BundleError::Checkpoint(_) => "Malformed.Checkpoint",
        BundleError::ProofEncoding { .. } => "Malformed.ProofEncoding",
        BundleError::ProofPoint { .. } => "Malformed.ProofPoint",
        BundleError::VerifyingKeyHash => "Malformed.VerifyingKeyHash",
        BundleError::Timestamps(_) => "Malformed.Timestamps",
        _ => "Malformed",
    }
}

/// Why a verifying key could not be pinned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyingKeyError {
    /// The bytes are not a canonical compressed Groth16 verifying key with valid points.
    #[error("not a valid verifying key: {0}")]
    Decode(String),
    /// The key decoded from a prefix of the bytes: the file has bytes after the key.
    #[error("the verifying key is followed by {extra} more bytes")]
    TrailingBytes {
        /// How many bytes follow the key.
        extra: usize,
    },
    /// The key has the wrong number of public inputs for `delivered-within`.
    #[error("the verifying key takes {found} public inputs, not {expected}")]
    PublicInputs {
        /// Six.
        expected: usize,
        /// What the key has.
        found: usize,
    },
    /// The key's `δ` is `γ` or the generator of G2: nobody contributed a secret to the setup
    /// (for example a snarkjs key finalised without any contribution), so whoever made it can
    /// forge proofs.
    #[error("the verifying key's delta equals {0}: a setup nobody contributed to, whose maker can forge proofs")]
    NoContribution(&'static str),
    /// The keys manifest does not vouch for this key (SPEC.md §9).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Why a keys directory's verifying key could not be pinned ([`PinnedKey::from_keys_dir`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysDirError {
    /// `manifest.json` or the key file it names could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest names no plain file name as `verifying_key.file` (a name with `/` or `\`,
    /// or starting with `.`, is refused: the key must be inside the directory).
    #[error("{0}: the manifest names no plain verifying_key.file")]
    NoKeyFile(std::path::PathBuf),
    /// The key, or its manifest, is not acceptable.
    #[error("{dir}: {source}")]
    Key {
        /// The directory.
        dir: std::path::PathBuf,
        /// The cause.
        source: VerifyingKeyError,
    },
}

/// Where a pinned verifying key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Built into this binary from `keys/`.
    Embedded,
    /// Given by the user (for example with `--vk FILE`).
    Given(String),
    /// A keys directory given by the user with its manifest (`--keys DIR`): the statement and
    /// trust level are the manifest's.
    Manifest(String),
}

/// The statement of a key given without a manifest (`--vk`): the statement proved today. A
/// key for another version needs its manifest ([`PinnedKey::from_manifest`]).
pub const USER_KEY_STATEMENT: &str = letro_core::statement::STATEMENT_ID;

/// A verifying key, pinned by its SHA-256, with the statement it is for and its trust level.
#[derive(Clone)]
pub struct PinnedKey {
    sha256: [u8; 32],
    source: KeySource,
    statement: String,
    trust_level: TrustLevel,
    pvk: PreparedVerifyingKey<Bn254>,
}

impl std::fmt::Debug for PinnedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedKey")
            .field("sha256", &hex::encode(self.sha256))
            .field("source", &self.source)
            .field("statement", &self.statement)
            .field("trust_level", &self.trust_level)
            .finish_non_exhaustive()
    }
}

/// Decodes and validates a compressed verifying key that is exactly `bytes`.
fn decode_verifying_key(bytes: &[u8]) -> Result<PreparedVerifyingKey<Bn254>, VerifyingKeyError> {
    let mut reader = bytes;
    let vk = VerifyingKey::<Bn254>::deserialize_compressed(&mut reader)
        .map_err(|e| VerifyingKeyError::Decode(e.to_string()))?;
    if !reader.is_empty() {
        return Err(VerifyingKeyError::TrailingBytes {
            extra: reader.len(),
        });
    }
    if vk.delta_g2 == vk.gamma_g2 {
        return Err(VerifyingKeyError::NoContribution("its gamma"));
    }
    if vk.delta_g2 == <ark_bn254::G2Affine as ark_ec::AffineRepr>::generator() {
        return Err(VerifyingKeyError::NoContribution("the generator of G2"));
    }
    let expected = letro_core::statement::NUM_PUBLIC_INPUTS + 1;
    if vk.gamma_abc_g1.len() != expected {
        return Err(VerifyingKeyError::PublicInputs {
            expected: expected - 1,
            found: vk.gamma_abc_g1.len().saturating_sub(1),
        });
    }
    Ok(ark_groth16::prepare_verifying_key(&vk))
}

impl PinnedKey {
    /// The built-in key of the current statement (v2), with the statement and trust level of
    /// the built-in manifest (whose verifying-key hash must be the key's).
    pub fn embedded() -> Result<Self, VerifyingKeyError> {
        Self::from_manifest(
            EMBEDDED_MANIFEST,
            EMBEDDED_VERIFYING_KEY,
            KeySource::Embedded,
        )
    }

    /// The first built-in `delivered-within/v2` key (`insecure-dev`), with its own manifest,
    /// so that the v2 bundles proved under it stay verifiable.
    pub fn embedded_v2_dev() -> Result<Self, VerifyingKeyError> {
        Self::from_manifest(
            EMBEDDED_MANIFEST_V2_DEV,
            EMBEDDED_VERIFYING_KEY_V2_DEV,
            KeySource::Embedded,
        )
    }

    /// The built-in `delivered-within/v1` key, with its own manifest, so that v1 bundles stay
    /// verifiable.
    pub fn embedded_v1() -> Result<Self, VerifyingKeyError> {
        Self::from_manifest(
            EMBEDDED_MANIFEST_V1,
            EMBEDDED_VERIFYING_KEY_V1,
            KeySource::Embedded,
        )
    }

    /// A key with its keys manifest: the manifest's `verifying_key.sha256` and `bytes` must
    /// describe exactly `bytes` ([`check_manifest`]); the statement and the trust level
    /// (`insecure-dev` or `ceremony`) are then the manifest's.
    pub fn from_manifest(
        manifest: &str,
        bytes: &[u8],
        source: KeySource,
    ) -> Result<Self, VerifyingKeyError> {
        let m = check_manifest(manifest, bytes)?;
        Ok(Self {
            sha256: Sha256::digest(bytes).into(),
            source,
            statement: m.statement,
            trust_level: m.trust_level,
            pvk: decode_verifying_key(bytes)?,
        })
    }

    /// The verifying key of a keys directory (`manifest.json` and the key file it names, as
    /// `letro ceremony finalize` writes them), pinned with its manifest ([`Self::from_manifest`])
    /// and [`KeySource::Manifest`]: what `letro-verify --keys DIR`, `letro serve --keys DIR` and
    /// `letro-demo --ceremony` pin.
    pub fn from_keys_dir(dir: &std::path::Path) -> Result<Self, KeysDirError> {
        let read = |path: std::path::PathBuf| {
            std::fs::read(&path).map_err(|source| KeysDirError::Io { path, source })
        };
        let manifest_path = dir.join("manifest.json");
        let manifest =
            String::from_utf8(read(manifest_path.clone())?).map_err(|_| KeysDirError::Key {
                dir: dir.to_path_buf(),
                source: ManifestError::Json("not UTF-8".into()).into(),
            })?;
        let file = serde_json::from_str::<serde_json::Value>(&manifest)
            .ok()
            .and_then(|m| {
                m.pointer("/verifying_key/file")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|f| !f.is_empty() && !f.contains(['/', '\\']) && !f.starts_with('.'))
            .ok_or(KeysDirError::NoKeyFile(manifest_path))?;
        let bytes = read(dir.join(file))?;
        Self::from_manifest(
            &manifest,
            &bytes,
            KeySource::Manifest(dir.display().to_string()),
        )
        .map_err(|source| KeysDirError::Key {
            dir: dir.to_path_buf(),
            source,
        })
    }

    /// A key the user gave without a manifest (`--vk FILE`): trust level `user-supplied`, for
    /// [`USER_KEY_STATEMENT`]. The bytes must be exactly one canonical compressed key.
    pub fn user_supplied(bytes: &[u8], source: KeySource) -> Result<Self, VerifyingKeyError> {
        Ok(Self {
            sha256: Sha256::digest(bytes).into(),
            source,
            statement: USER_KEY_STATEMENT.to_owned(),
            trust_level: TrustLevel::UserSupplied,
            pvk: decode_verifying_key(bytes)?,
        })
    }

    /// SHA-256 of the key's canonical encoding.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// Where the key came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The statement id the key is for (from its manifest).
    pub fn statement(&self) -> &str {
        &self.statement
    }

    /// How far the key is trusted.
    pub fn trust_level(&self) -> TrustLevel {
        self.trust_level
    }

    pub(crate) fn prepared(&self) -> &PreparedVerifyingKey<Bn254> {
        &self.pvk
    }
}

/// A bundle that passed every step. Only this crate can make one.
#[derive(Debug, Clone)]
pub struct VerifiedDelivery {
    statement: DeliveredWithin,
    checkpoint: Checkpoint,
    log_signers: Vec<String>,
    key_sha256: [u8; 32],
    key_source: KeySource,
    key_statement: String,
    key_trust_level: TrustLevel,
    version: StatementVersion,
    time_bounds: Option<TimeBounds>,
    cosignatures: Option<Vec<WitnessCosignature>>,
    timestamps: Vec<timestamps::TokenOutcome>,
}

/// A verified cosignature of the bundle's checkpoint by a witness of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCosignature {
    /// The witness's name in the policy.
    pub policy_name: String,
    /// Its key name.
    pub key_name: String,
    /// When it cosigned (POSIX seconds, by the witness's clock).
    pub time: u64,
}

impl VerifiedDelivery {
    /// The bundle's RFC 3161 time-stamps (step 7), each trusted (its TSA chains to a
    /// certificate given with [`Verifier::with_tsa_certificates`]) or only intact.
    pub fn timestamps(&self) -> &[timestamps::TokenOutcome] {
        &self.timestamps
    }

    /// With a witness policy, the verified cosignatures of the policy's witnesses (the quorum
    /// was met); `None` when no policy was given (cosignatures were not checked).
    pub fn cosignatures(&self) -> Option<&[WitnessCosignature]> {
        self.cosignatures.as_deref()
    }

    /// The earliest cosignature time: the checkpoint, and so the delivery it covers, existed
    /// by then, by a witness's clock and not the operator's. `None` without cosignatures.
    pub fn witnessed_by(&self) -> Option<u64> {
        self.cosignatures.as_ref()?.iter().map(|c| c.time).min()
    }

    /// The statement version that was verified (v1 bundles stay verifiable; their leaves are
    /// not hiding).
    pub fn version(&self) -> StatementVersion {
        self.version
    }
    /// For a v2 bundle, the bounds on t that the window and the checkpoint's time and
    /// published receipt skew support together; `None` for v1 (its checkpoints publish no
    /// skew, so only the window bounds t).
    pub fn time_bounds(&self) -> Option<&TimeBounds> {
        self.time_bounds.as_ref()
    }
    /// The verified statement.
    pub fn statement(&self) -> &DeliveredWithin {
        &self.statement
    }
    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    /// Names of the trusted log keys whose signatures verified.
    pub fn log_signers(&self) -> &[String] {
        &self.log_signers
    }
    /// SHA-256 of the verifying key used.
    pub fn key_sha256(&self) -> &[u8; 32] {
        &self.key_sha256
    }
    /// Where that key came from.
    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }
    /// The statement id that key is for.
    pub fn key_statement(&self) -> &str {
        &self.key_statement
    }
    /// How far that key is trusted (accepted by the verifier's [`TrustPolicy`]).
    pub fn trust_level(&self) -> TrustLevel {
        self.key_trust_level
    }
}

/// A bundle after steps 1 to 5, waiting for its proof check.
pub(crate) struct Prechecked<'a> {
    pub(crate) bundle: ParsedBundle,
    pub(crate) key: &'a PinnedKey,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) signers: Vec<String>,
    pub(crate) time_bounds: Option<TimeBounds>,
    pub(crate) cosignatures: Option<Vec<WitnessCosignature>>,
}

impl Prechecked<'_> {
    pub(crate) fn proof(&self) -> Proof<Bn254> {
        Proof {
            a: self.bundle.proof.a,
            b: self.bundle.proof.b,
            c: self.bundle.proof.c,
        }
    }

    /// Step 7, the time-stamps, then the result.
    pub(crate) fn finish(
        self,
        tsa_certificates: &[rustls_pki_types::CertificateDer<'static>],
    ) -> Result<VerifiedDelivery, VerifyError> {
        let timestamps = timestamps::check(
            &self.bundle.timestamps,
            self.bundle.checkpoint.note().unverified_text(),
            tsa_certificates,
        )?;
        // (v2) The window starts at a time the recipient signed, accepted within the receipt
        // skew of the relay's clock, before the checkpoint existed.
        if let Some(b) = &self.time_bounds {
            timestamps::check_not_after(
                &timestamps,
                "window start",
                self.bundle.statement.not_before,
                b.receipt_skew,
            )?;
        }
        Ok(VerifiedDelivery {
            statement: self.bundle.statement,
            checkpoint: self.checkpoint,
            log_signers: self.signers,
            key_sha256: self.key.sha256,
            key_source: self.key.source.clone(),
            key_statement: self.key.statement.clone(),
            key_trust_level: self.key.trust_level,
            version: self.bundle.version,
            time_bounds: self.time_bounds,
            cosignatures: self.cosignatures,
            timestamps,
        })
    }
}

/// The pinned keys a third party trusts, and which trust levels it accepts.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<PinnedKey>,
    log_keys: Vec<VerifierKey>,
    policy: TrustPolicy,
    witness_policy: Option<letro_log::policy::Policy>,
    tsa_certificates: Vec<rustls_pki_types::CertificateDer<'static>>,
}

impl Verifier {
    /// A verifier with the built-in verifying keys: v2 from the demo ceremony, the first v2
    /// key (`insecure-dev`) and v1 (each with its trust level from its built-in manifest,
    /// checked against the key), and the given trusted log keys.
    ///
    /// It accepts keys of every trust level ([`TrustPolicy::ANY`]), which suits a party
    /// checking its own proofs. Anyone reporting a result to a third party MUST set a stricter
    /// policy with [`Verifier::with_trust_policy`], or check [`VerifiedDelivery::trust_level`].
    pub fn new(log_keys: Vec<VerifierKey>) -> Result<Self, VerifyingKeyError> {
        Ok(Self {
            keys: vec![
                PinnedKey::embedded()?,
                PinnedKey::embedded_v2_dev()?,
                PinnedKey::embedded_v1()?,
            ],
            log_keys,
            policy: TrustPolicy::ANY,
            witness_policy: None,
            tsa_certificates: Vec::new(),
        })
    }

    /// A verifier with exactly these pinned keys (for example keys with their own manifests,
    /// [`PinnedKey::from_manifest`]) instead of the built-in one. Like [`Verifier::new`], it
    /// accepts every trust level until [`Verifier::with_trust_policy`] is applied.
    pub fn from_keys(keys: Vec<PinnedKey>, log_keys: Vec<VerifierKey>) -> Self {
        let mut v = Self {
            keys: Vec::new(),
            log_keys,
            policy: TrustPolicy::ANY,
            witness_policy: None,
            tsa_certificates: Vec::new(),
        };
        for k in keys {
            v.add_key(k);
        }
        v
    }

    /// The same verifier, accepting only the trust levels `policy` accepts. A bundle whose key
    /// is refused fails step 2 with [`VerifyError::UntrustedVerifyingKey`].
    #[must_use]
    pub fn with_trust_policy(mut self, policy: TrustPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same verifier, requiring that each bundle's checkpoint carries cosignatures that
    /// satisfy `policy`'s quorum (C2SP tlog-policy); the policy's logs are trusted log keys
    /// too. A bundle without them fails step 3 with [`VerifyError::QuorumNotMet`].
    #[must_use]
    pub fn with_witness_policy(mut self, policy: letro_log::policy::Policy) -> Self {
        for k in policy.logs() {
            if !self.log_keys.contains(k) {
                self.log_keys.push(k.clone());
            }
        }
        self.witness_policy = Some(policy);
        self
    }

    /// The same verifier, trusting RFC 3161 time-stamps whose TSA certificate chains to one of
    /// `certificates` (root or TSA certificates; [`timestamps::certificates_from_pem`]).
    #[must_use]
    pub fn with_tsa_certificates(
        mut self,
        certificates: Vec<rustls_pki_types::CertificateDer<'static>>,
    ) -> Self {
        self.tsa_certificates.extend(certificates);
        self
    }

    /// The trusted TSA certificates.
    pub fn tsa_certificates(&self) -> &[rustls_pki_types::CertificateDer<'static>] {
        &self.tsa_certificates
    }

    /// The witness policy, if one was given.
    pub fn witness_policy(&self) -> Option<&letro_log::policy::Policy> {
        self.witness_policy.as_ref()
    }

    /// The trust policy.
    pub fn trust_policy(&self) -> TrustPolicy {
        self.policy
    }

    /// Adds another deployment's verifying key. A key with the SHA-256 of one already pinned
    /// is ignored: the first one (and its trust level) stays.
    pub fn add_key(&mut self, key: PinnedKey) {
        if !self.keys.iter().any(|k| k.sha256 == key.sha256) {
            self.keys.push(key);
        }
    }

    /// The pinned verifying keys.
    pub fn keys(&self) -> &[PinnedKey] {
        &self.keys
    }

    /// The trusted log keys.
    pub fn log_keys(&self) -> &[VerifierKey] {
        &self.log_keys
    }

    /// The pinned key a bundle names by its `verifying_key_sha256`, if the bundle parses and
    /// the key is pinned. For reports; it checks nothing else.
    pub fn pinned_key_for(&self, bundle: &[u8]) -> Option<&PinnedKey> {
        let parsed = ParsedBundle::parse(bundle).ok()?;
        self.keys
            .iter()
            .find(|k| k.sha256 == parsed.verifying_key_sha256)
    }

    /// Steps 1 to 5.
    pub(crate) fn precheck(&self, bytes: &[u8]) -> Result<Prechecked<'_>, VerifyError> {
        // 1. Strict parse.
        let bundle = ParsedBundle::parse(bytes)?;
        // 2. The verifying key, by hash, before any pairing.
        let key = self
            .keys
            .iter()
            .find(|k| k.sha256 == bundle.verifying_key_sha256)
            .ok_or_else(|| {
                VerifyError::UnknownVerifyingKey(hex::encode(bundle.verifying_key_sha256))
            })?;
        //    It must be a key for the bundle's statement version: a v1 key never checks a v2
        //    bundle's proof, nor the other way round.
        if key.statement != bundle.version.statement_id() {
            return Err(VerifyError::KeyForOtherStatement {
                sha256: hex::encode(key.sha256),
                key_statement: key.statement.clone(),
                bundle_statement: bundle.version.statement_id(),
            });
        }
        //    Its trust level, also before any pairing: an untrusted key cannot verify anything.
        if !self.policy.accepts(key.trust_level) {
            return Err(VerifyError::UntrustedVerifyingKey {
                sha256: hex::encode(key.sha256),
                trust_level: key.trust_level,
            });
        }
        // 3. The checkpoint's signature.
        if self.log_keys.is_empty() {
            return Err(VerifyError::NoTrustedLogKey);
        }
        let verified = bundle.checkpoint.verify(&self.log_keys)?;
        //    With a witness policy, the cosignatures of its witnesses, and its quorum.
        let cosignatures = match &self.witness_policy {
            None => None,
            Some(p) => Some(witness_cosignatures(p, bundle.checkpoint.note())?),
        };
        let signers = verified
            .signers()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        let checkpoint = verified.into_checkpoint();
        // 4. The root: the checkpoint's Poseidon root (its `poseidon-root` line, else line 3
        //    for checkpoints signed before the RFC 6962 root was published).
        if checkpoint.poseidon_root() != fr_to_be_bytes(&bundle.statement.log_root) {
            return Err(VerifyError::RootMismatch);
        }
        //    (v2) The window and the checkpoint: the relay publishes its receipt skew, and a
        //    window that starts after checkpoint time + skew is one an honest log could not
        //    have produced. v1 checkpoints publish no skew.
        let time_bounds = match bundle.version {
            StatementVersion::V1 => None,
            _ => Some(time_bounds(&bundle.statement, &checkpoint)?),
        };
        // 5. Public inputs: computed from the typed statement (u64 times, 128-bit halves,
        //    canonical field elements), so they are in range and canonical by construction.
        Ok(Prechecked {
            bundle,
            key,
            checkpoint,
            signers,
            time_bounds,
            cosignatures,
        })
    }

    /// Verifies one bundle.
    pub fn verify(&self, bytes: &[u8]) -> Result<VerifiedDelivery, VerifyError> {
        let pre = self.precheck(bytes)?;
        // 6. The proof. arkworks reports a failed pairing check as Ok(false): it becomes an
        //    error here and nowhere else.
        let inputs = pre.bundle.statement.public_inputs();
        match Groth16::<Bn254>::verify_proof(pre.key.prepared(), &pre.proof(), &inputs) {
            Ok(true) => pre.finish(&self.tsa_certificates),
            Ok(false) | Err(_) => Err(VerifyError::ProofInvalid),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ark_ec::AffineRepr;
    use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

    fn with_delta(key: &[u8], delta: fn(&VerifyingKey<Bn254>) -> ark_bn254::G2Affine) -> Vec<u8> {
        let mut vk = VerifyingKey::<Bn254>::deserialize_compressed(key).unwrap();
        vk.delta_g2 = delta(&vk);
        let mut out = Vec::new();
        vk.serialize_compressed(&mut out).unwrap();
        out
    }

    #[test]
    fn a_key_nobody_contributed_to_is_refused() {
        PinnedKey::user_supplied(EMBEDDED_VERIFYING_KEY, KeySource::Given("good".into())).unwrap();
        // A ceremony's key (snarkjs's) has γ = the generator of G2; arkworks' own setup (the
        // first v2 key) a random γ.
        let ceremony =
            VerifyingKey::<Bn254>::deserialize_compressed(EMBEDDED_VERIFYING_KEY).unwrap();
        assert_eq!(ceremony.gamma_g2, ark_bn254::G2Affine::generator());
        let dev = EMBEDDED_VERIFYING_KEY_V2_DEV;
        for (bytes, what) in [
            (with_delta(dev, |vk| vk.gamma_g2), "its gamma"),
            (
                with_delta(dev, |_| ark_bn254::G2Affine::generator()),
                "the generator of G2",
            ),
            (
                with_delta(EMBEDDED_VERIFYING_KEY, |_| ark_bn254::G2Affine::generator()),
                "its gamma",
            ),
        ] {
            let e = PinnedKey::user_supplied(&bytes, KeySource::Given("x".into())).unwrap_err();
            assert!(
                matches!(e, VerifyingKeyError::NoContribution(w) if w == what),
                "{e}"
            );
        }
    }
}

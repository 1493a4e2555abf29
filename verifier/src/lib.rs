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
//! 2. find the verifying key by its SHA-256, before any pairing — [`VerifyError::UnknownVerifyingKey`];
//! 3. the checkpoint is signed by a trusted log key named like its origin —
//!    [`VerifyError::NoTrustedLogKey`], [`VerifyError::Checkpoint`];
//! 4. the statement's log root equals the checkpoint's root — [`VerifyError::RootMismatch`];
//! 5. the public inputs are the statement's canonical encoding (six field elements, the
//!    hash halves below 2^128 and the times below 2^64 by construction);
//! 6. the Groth16 proof verifies against the key — [`VerifyError::ProofInvalid`].
//!
//! Many bundles are checked together by [`Verifier::verify_batch`] with one random linear
//! combination of the pairing equations; each bundle still gets its own result.
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
pub mod snarkjs;

use ark_bn254::Bn254;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey};
use ark_serialize::CanonicalDeserialize;
use letro_core::bundle::{BundleError, ParsedBundle};
use letro_core::checkpoint::{Checkpoint, CheckpointVerifyError};
use letro_core::field::fr_to_be_bytes;
use letro_core::note::VerifierKey;
use letro_core::statement::DeliveredWithin;
use sha2::{Digest, Sha256};

/// The verifying key committed in `keys/`, built in.
pub const EMBEDDED_VERIFYING_KEY: &[u8] =
    include_bytes!("../../keys/delivered-within-v1.INSECURE-DEV.vk");
/// The manifest committed in `keys/`, built in.
pub const EMBEDDED_MANIFEST: &str = include_str!("../../keys/manifest.json");

/// The provenance kind of the built-in keys (`insecure-dev` or `ceremony`), from the
/// embedded manifest.
pub fn embedded_provenance() -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(EMBEDDED_MANIFEST).ok()?;
    v.get("provenance")?
        .get("kind")?
        .as_str()
        .map(str::to_string)
}

/// Why a bundle did not verify. [`VerifyError::exit_code`] maps each to `letro-verify`'s exit
/// code: 1 a check failed, 3 could not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Step 1: the bundle is not a well-formed v1 bundle.
    #[error("malformed bundle: {0}")]
    Malformed(#[from] BundleError),
    /// Step 2: no pinned verifying key has this SHA-256.
    #[error("unknown verifying key {0}: pass it with --vk if you trust it")]
    UnknownVerifyingKey(String),
    /// Step 3: no trusted log key was given.
    #[error("no trusted log key was given")]
    NoTrustedLogKey,
    /// Step 3: the checkpoint is not signed by a trusted log key, or a signature is invalid.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointVerifyError),
    /// Step 4: the statement's root is not the checkpoint's.
    #[error("the statement's log root is not the root of the signed checkpoint")]
    RootMismatch,
    /// Step 6: the Groth16 proof does not verify for this statement.
    #[error("the proof does not verify for this statement")]
    ProofInvalid,
}

impl VerifyError {
    /// `letro-verify`'s exit code for this error: 1 when a check failed, 3 when the bundle
    /// could not be verified at all.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Malformed(_) | Self::UnknownVerifyingKey(_) | Self::NoTrustedLogKey => 3,
            Self::Checkpoint(_) | Self::RootMismatch | Self::ProofInvalid => 1,
        }
    }

    /// The step of the algorithm that failed (1 to 6).
    pub fn step(&self) -> u8 {
        match self {
            Self::Malformed(_) => 1,
            Self::UnknownVerifyingKey(_) => 2,
            Self::NoTrustedLogKey | Self::Checkpoint(_) => 3,
            Self::RootMismatch => 4,
            Self::ProofInvalid => 6,
        }
    }
}

/// Why a verifying key could not be pinned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyingKeyError {
    /// The bytes are not a canonical compressed Groth16 verifying key with valid points.
    #[error("not a valid verifying key: {0}")]
    Decode(String),
    /// The key has the wrong number of public inputs for `delivered-within/v1`.
    #[error("the verifying key takes {found} public inputs, not {expected}")]
    PublicInputs {
        /// Six.
        expected: usize,
        /// What the key has.
        found: usize,
    },
}

/// Where a pinned verifying key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Built into this binary from `keys/`.
    Embedded,
    /// Given by the user (for example with `--vk FILE`).
    Given(String),
}

/// A verifying key, pinned by its SHA-256.
#[derive(Clone)]
pub struct PinnedKey {
    sha256: [u8; 32],
    source: KeySource,
    pvk: PreparedVerifyingKey<Bn254>,
}

impl std::fmt::Debug for PinnedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedKey")
            .field("sha256", &hex::encode(self.sha256))
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PinnedKey {
    /// Decodes and validates a compressed verifying key.
    pub fn new(bytes: &[u8], source: KeySource) -> Result<Self, VerifyingKeyError> {
        let vk = VerifyingKey::<Bn254>::deserialize_compressed(bytes)
            .map_err(|e| VerifyingKeyError::Decode(e.to_string()))?;
        let expected = letro_core::statement::NUM_PUBLIC_INPUTS + 1;
        if vk.gamma_abc_g1.len() != expected {
            return Err(VerifyingKeyError::PublicInputs {
                expected: expected - 1,
                found: vk.gamma_abc_g1.len().saturating_sub(1),
            });
        }
        Ok(Self {
            sha256: Sha256::digest(bytes).into(),
            source,
            pvk: ark_groth16::prepare_verifying_key(&vk),
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
}

impl VerifiedDelivery {
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
}

/// A bundle after steps 1 to 5, waiting for its proof check.
pub(crate) struct Prechecked<'a> {
    pub(crate) bundle: ParsedBundle,
    pub(crate) key: &'a PinnedKey,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) signers: Vec<String>,
}

impl Prechecked<'_> {
    pub(crate) fn proof(&self) -> Proof<Bn254> {
        Proof {
            a: self.bundle.proof.a,
            b: self.bundle.proof.b,
            c: self.bundle.proof.c,
        }
    }

    pub(crate) fn finish(self) -> VerifiedDelivery {
        VerifiedDelivery {
            statement: self.bundle.statement,
            checkpoint: self.checkpoint,
            log_signers: self.signers,
            key_sha256: self.key.sha256,
            key_source: self.key.source.clone(),
        }
    }
}

/// The pinned keys a third party trusts.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<PinnedKey>,
    log_keys: Vec<VerifierKey>,
}

impl Verifier {
    /// A verifier with the built-in verifying key and the given trusted log keys.
    pub fn new(log_keys: Vec<VerifierKey>) -> Result<Self, VerifyingKeyError> {
        Ok(Self {
            keys: vec![PinnedKey::new(EMBEDDED_VERIFYING_KEY, KeySource::Embedded)?],
            log_keys,
        })
    }

    /// Adds another deployment's verifying key.
    pub fn add_key(&mut self, key: PinnedKey) {
        if !self.keys.iter().any(|k| k.sha256 == key.sha256) {
            self.keys.push(key);
        }
    }

    /// The pinned verifying keys.
    pub fn keys(&self) -> &[PinnedKey] {
        &self.keys
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
        // 3. The checkpoint's signature.
        if self.log_keys.is_empty() {
            return Err(VerifyError::NoTrustedLogKey);
        }
        let verified = bundle.checkpoint.verify(&self.log_keys)?;
        let signers = verified
            .signers()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        let checkpoint = verified.into_checkpoint();
        // 4. The root.
        if checkpoint.root != fr_to_be_bytes(&bundle.statement.log_root) {
            return Err(VerifyError::RootMismatch);
        }
        // 5. Public inputs: computed from the typed statement (u64 times, 128-bit halves,
        //    canonical field elements), so they are in range and canonical by construction.
        Ok(Prechecked {
            bundle,
            key,
            checkpoint,
            signers,
        })
    }

    /// Verifies one bundle.
    pub fn verify(&self, bytes: &[u8]) -> Result<VerifiedDelivery, VerifyError> {
        let pre = self.precheck(bytes)?;
        // 6. The proof. arkworks reports a failed pairing check as Ok(false): it becomes an
        //    error here and nowhere else.
        let inputs = pre.bundle.statement.public_inputs();
        match Groth16::<Bn254>::verify_proof(pre.key.prepared(), &pre.proof(), &inputs) {
            Ok(true) => Ok(pre.finish()),
            Ok(false) | Err(_) => Err(VerifyError::ProofInvalid),
        }
    }
}

//! Key setup, key files and the manifest.
//!
//! `keys/` holds, for each statement, the proving key (arkworks canonical encoding, uncompressed
//! since keys are written by this version; compressed in older keys directories, which still
//! load), the verifying key (compressed) and `manifest.json` with their SHA-256, the statement id,
//! the constraint count and their provenance. A loader checks every hash before using a key.
//!
//! The proving key is written uncompressed because decompressing its 60,000 points (a square
//! root each) took most of a cold `letro prove`; the hash of the whole file, checked against the
//! manifest before anything is decoded, is what makes reading the points unchecked safe.

use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_serialize::{
    CanonicalDeserialize, CanonicalSerialize, Compress, SerializationError, Validate,
};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore};
use letro_circuits::DeliveredWithinCircuit;
use letro_core::statement::{NUM_PUBLIC_INPUTS, STATEMENT_ID};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name of the manifest inside a keys directory.
pub const MANIFEST: &str = "manifest.json";
/// Proving key file written by the insecure development setup.
pub const DEV_PROVING_KEY: &str = "delivered-within-v2.INSECURE-DEV.pk";
/// Verifying key file written by the insecure development setup.
pub const DEV_VERIFYING_KEY: &str = "delivered-within-v2.INSECURE-DEV.vk";

/// Why keys could not be set up, written or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("manifest {path}: {source}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A key file's SHA-256 differs from the manifest's.
    #[error("{file}: sha256 {actual} does not match the manifest's {expected}")]
    HashMismatch {
        /// The key file.
        file: String,
        /// From the manifest.
        expected: String,
        /// Of the file.
        actual: String,
    },
    /// The manifest is for another statement or circuit.
    #[error("the keys are for {found}, not for {expected}")]
    WrongStatement {
        /// What we prove.
        expected: String,
        /// What the manifest says.
        found: String,
    },
    /// A key file does not decode.
    #[error("{file}: not a valid key encoding: {reason}")]
    Decode {
        /// The key file.
        file: String,
        /// The cause.
        reason: String,
    },
    /// The setup failed.
    #[error("setup failed: {0}")]
    Setup(String),
    /// A file name in the manifest tries to leave the keys directory.
    #[error("manifest names a file outside the keys directory: {0}")]
    BadFileName(String),
}

/// One key file in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// File name inside the keys directory.
    pub file: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `insecure-dev` (one party knew the setup randomness), `demo-ceremony` (a ceremony of
    /// this project's developers) or `ceremony`.
    pub kind: String,
    /// What this means for anyone relying on proofs made with these keys.
    pub description: String,
    /// The tool that made the keys.
    pub tool: String,
    /// For a multi-party ceremony: its transcript, participants and beacon; `null` otherwise.
    pub ceremony: Option<serde_json::Value>,
}

/// `keys/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The statement id, `delivered-within/v1`.
    pub statement: String,
    /// Constraint count of the circuit the keys were made for.
    pub constraints: usize,
    /// Number of public inputs.
    pub public_inputs: usize,
    /// The proving key.
    pub proving_key: KeyFile,
    /// The verifying key.
    pub verifying_key: KeyFile,
    /// How the keys were made.
    pub provenance: Provenance,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Canonical compressed encoding of a verifying key.
pub fn verifying_key_bytes(vk: &VerifyingKey<Bn254>) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    vk.serialize_compressed(&mut out)
        .map_err(|e| KeyError::Setup(e.to_string()))?;
    Ok(out)
}

/// Runs a Groth16 setup for the current circuit with randomness from `rng`.
///
/// INSECURE for production: whoever controls `rng` knows the toxic waste and can forge proofs.
pub fn setup_insecure_dev<R: RngCore + CryptoRng>(
    rng: &mut R,
) -> Result<ProvingKey<Bn254>, KeyError> {
    let (pk, _vk) = Groth16::<Bn254>::circuit_specific_setup(DeliveredWithinCircuit::blank(), rng)
        .map_err(|e| KeyError::Setup(e.to_string()))?;
    Ok(pk)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|source| KeyError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Proving key file written by `letro ceremony finalize`.
pub const CEREMONY_PROVING_KEY: &str = "delivered-within-v2.pk";
/// Verifying key file written by `letro ceremony finalize`.
pub const CEREMONY_VERIFYING_KEY: &str = "delivered-within-v2.vk";

/// Writes the insecure development keys and their manifest into `dir`.
pub fn write_dev_keys(
    dir: &Path,
    pk: &ProvingKey<Bn254>,
    constraints: usize,
) -> Result<Manifest, KeyError> {
    write_keys(
        dir,
        pk,
        constraints,
        (DEV_PROVING_KEY, DEV_VERIFYING_KEY),
        Provenance {
            kind: "insecure-dev".into(),
            description:
                "INSECURE, for development only: a single party ran the Groth16 setup and \
                          knew its randomness, so it could forge proofs. Replace with keys from a \
                          multi-party ceremony before relying on proofs."
                    .into(),
            tool: format!(
                "letro keys setup --insecure-dev (letro {})",
                env!("CARGO_PKG_VERSION")
            ),
            ceremony: None,
        },
    )
}

/// Proving key file written by `letro ceremony finalize --demo` (the built-in keys).
pub const DEMO_PROVING_KEY: &str = "delivered-within-v2.DEMO-CEREMONY.pk";
/// Verifying key file written by `letro ceremony finalize --demo` (the built-in keys).
pub const DEMO_VERIFYING_KEY: &str = "delivered-within-v2.DEMO-CEREMONY.vk";

/// Whose ceremony made a set of keys: its manifest's provenance kind and its file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// A deployment's ceremony (provenance `ceremony`).
    Deployment,
    /// A ceremony whose contributors were all this project's developers, for demonstrations
    /// and tests (provenance `demo-ceremony`, files named `DEMO-CEREMONY`).
    Demo,
}

impl CeremonyKind {
    /// The manifest's `provenance.kind`.
    pub fn provenance(self) -> &'static str {
        match self {
            Self::Deployment => "ceremony",
            Self::Demo => "demo-ceremony",
        }
    }

    /// The proving and verifying key file names.
    pub fn files(self) -> (&'static str, &'static str) {
        match self {
            Self::Deployment => (CEREMONY_PROVING_KEY, CEREMONY_VERIFYING_KEY),
            Self::Demo => (DEMO_PROVING_KEY, DEMO_VERIFYING_KEY),
        }
    }
}

/// Writes the keys of a verified phase-2 ceremony and their manifest into `dir`; `ceremony` is
/// the manifest's record of it (phase 1, circuit hash, transcript, contributions, beacon).
pub fn write_ceremony_keys(
    dir: &Path,
    pk: &ProvingKey<Bn254>,
    constraints: usize,
    kind: CeremonyKind,
    description: String,
    ceremony: serde_json::Value,
) -> Result<Manifest, KeyError> {
    write_keys(
        dir,
        pk,
        constraints,
        kind.files(),
        Provenance {
            kind: kind.provenance().into(),
            description,
            tool: format!(
                "letro ceremony finalize (letro {})",
                env!("CARGO_PKG_VERSION")
            ),
            ceremony: Some(ceremony),
        },
    )
}

fn write_keys(
    dir: &Path,
    pk: &ProvingKey<Bn254>,
    constraints: usize,
    (pk_file, vk_file): (&str, &str),
    provenance: Provenance,
) -> Result<Manifest, KeyError> {
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut pk_bytes = Vec::new();
    pk.serialize_uncompressed(&mut pk_bytes)
        .map_err(|e| KeyError::Setup(e.to_string()))?;
    let vk_bytes = verifying_key_bytes(&pk.vk)?;
    let manifest = Manifest {
        statement: STATEMENT_ID.to_string(),
        constraints,
        public_inputs: NUM_PUBLIC_INPUTS,
        proving_key: KeyFile {
            file: pk_file.into(),
            sha256: sha256_hex(&pk_bytes),
            bytes: pk_bytes.len() as u64,
        },
        verifying_key: KeyFile {
            file: vk_file.into(),
            sha256: sha256_hex(&vk_bytes),
            bytes: vk_bytes.len() as u64,
        },
        provenance,
    };
    write(&dir.join(pk_file), &pk_bytes)?;
    write(&dir.join(vk_file), &vk_bytes)?;
    let mut json =
        serde_json::to_string_pretty(&manifest).map_err(|source| KeyError::Manifest {
            path: dir.join(MANIFEST),
            source,
        })?;
    json.push('\n');
    write(&dir.join(MANIFEST), json.as_bytes())?;
    Ok(manifest)
}

/// Reads and checks the manifest of `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, KeyError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|source| KeyError::Io {
        path: path.clone(),
        source,
    })?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|source| KeyError::Manifest { path, source })?;
    if m.statement != STATEMENT_ID {
        return Err(KeyError::WrongStatement {
            expected: STATEMENT_ID.into(),
            found: m.statement,
        });
    }
    for f in [&m.proving_key.file, &m.verifying_key.file] {
        if f.is_empty() || f.contains('/') || f.contains('\\') || f.starts_with('.') {
            return Err(KeyError::BadFileName(f.clone()));
        }
    }
    Ok(m)
}

fn read_checked(dir: &Path, f: &KeyFile) -> Result<Vec<u8>, KeyError> {
    let path = dir.join(&f.file);
    let bytes = std::fs::read(&path).map_err(|source| KeyError::Io { path, source })?;
    let actual = sha256_hex(&bytes);
    if actual != f.sha256 {
        return Err(KeyError::HashMismatch {
            file: f.file.clone(),
            expected: f.sha256.clone(),
            actual,
        });
    }
    Ok(bytes)
}

/// Loads the proving key of `dir`, after checking its hash against the manifest. The points
/// are not re-validated one by one: the hash pins the exact bytes the setup wrote.
pub fn load_proving_key(dir: &Path) -> Result<(Manifest, ProvingKey<Bn254>), KeyError> {
    let m = read_manifest(dir)?;
    let bytes = read_checked(dir, &m.proving_key)?;
    let pk = decode_proving_key(&m.proving_key.file, &bytes)?;
    Ok((m, pk))
}

/// How a key file encodes its curve points (arkworks' two canonical encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointEncoding {
    /// x and a sign bit (G1 32 bytes, G2 64): keys written before proving keys were stored
    /// uncompressed, and every verifying key.
    Compressed,
    /// x and y (G1 64 bytes, G2 128): proving keys written by this version.
    Uncompressed,
}

impl From<PointEncoding> for Compress {
    fn from(e: PointEncoding) -> Self {
        match e {
            PointEncoding::Compressed => Compress::Yes,
            PointEncoding::Uncompressed => Compress::No,
        }
    }
}

/// The point encoding of a proving key file, told by its length: the file is
/// `vk ‖ beta_g1 ‖ delta_g1 ‖ a ‖ b_g1 ‖ b_g2 ‖ h ‖ l` with an 8-byte length before each vector,
/// and exactly one of the two point sizes (G1 32 or 64 bytes, G2 64 or 128) accounts for every
/// byte. `None` if neither does.
pub fn proving_key_encoding(bytes: &[u8]) -> Option<PointEncoding> {
    let fits = |g1: usize, g2: usize| -> Option<bool> {
        let mut at = g1.checked_add(g2.checked_mul(3)?)?;
        let vector = |at: &mut usize, size: usize| -> Option<()> {
            let len = bytes.get(*at..at.checked_add(8)?)?;
            let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
            *at = at.checked_add(8)?.checked_add(len.checked_mul(size)?)?;
            Some(())
        };
        vector(&mut at, g1)?; // gamma_abc_g1
        at = at.checked_add(g1.checked_mul(2)?)?; // beta_g1, delta_g1
        for size in [g1, g1, g2, g1, g1] {
            vector(&mut at, size)?;
        }
        Some(at == bytes.len())
    };
    match (fits(32, 64), fits(64, 128)) {
        (Some(true), Some(true)) => None,
        (Some(true), _) => Some(PointEncoding::Compressed),
        (_, Some(true)) => Some(PointEncoding::Uncompressed),
        _ => None,
    }
}

/// Decodes a proving key file whose hash was checked, compressed or uncompressed (see
/// [`proving_key_encoding`]). The points are not validated one by one: the hash pins the exact
/// bytes the setup wrote.
pub fn decode_proving_key(file: &str, bytes: &[u8]) -> Result<ProvingKey<Bn254>, KeyError> {
    let compress = proving_key_encoding(bytes).ok_or_else(|| KeyError::Decode {
        file: file.into(),
        reason: "the length fits neither the compressed nor the uncompressed layout of a \
                 Groth16 proving key"
            .into(),
    })?;
    let decoded = match compress {
        PointEncoding::Uncompressed => decode_uncompressed(bytes),
        PointEncoding::Compressed => {
            ProvingKey::<Bn254>::deserialize_with_mode(bytes, Compress::Yes, Validate::No)
        }
    };
    decoded.map_err(|e| KeyError::Decode {
        file: file.into(),
        reason: e.to_string(),
    })
}

/// arkworks' decoding of an uncompressed proving key, with the points of the five queries
/// decoded on every core of rayon's pool: decoding them one after the other (and touching the
/// memory they fill) was most of loading the built-in key, on one core while the other waited.
/// The result is the same key: each point goes through arkworks' own decoding.
fn decode_uncompressed(bytes: &[u8]) -> Result<ProvingKey<Bn254>, SerializationError> {
    let mut reader = bytes;
    let vk = VerifyingKey::<Bn254>::deserialize_with_mode(&mut reader, Compress::No, Validate::No)?;
    let beta_g1 = G1Affine::deserialize_with_mode(&mut reader, Compress::No, Validate::No)?;
    let delta_g1 = G1Affine::deserialize_with_mode(&mut reader, Compress::No, Validate::No)?;
    let a_query = points::<G1Affine>(&mut reader)?;
    let b_g1_query = points::<G1Affine>(&mut reader)?;
    let b_g2_query = points::<G2Affine>(&mut reader)?;
    let h_query = points::<G1Affine>(&mut reader)?;
    let l_query = points::<G1Affine>(&mut reader)?;
    if !reader.is_empty() {
        return Err(SerializationError::InvalidData);
    }
    Ok(ProvingKey {
        vk,
        beta_g1,
        delta_g1,
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    })
}

/// A vector of uncompressed points as arkworks writes it (its length as a `u64`, then the
/// points), decoded in parallel into their place: a collected `Result` would gather each
/// thread's points in lists and copy them once more. `reader` moves past it.
fn points<T: AffineRepr>(reader: &mut &[u8]) -> Result<Vec<T>, SerializationError> {
    let len = u64::deserialize_with_mode(&mut *reader, Compress::No, Validate::No)?;
    let size = T::zero().serialized_size(Compress::No);
    let total = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_mul(size))
        .ok_or(SerializationError::InvalidData)?;
    let (body, rest) = reader
        .split_at_checked(total)
        .ok_or(SerializationError::NotEnoughSpace)?;
    *reader = rest;
    let mut out = vec![T::zero(); total.checked_div(size).unwrap_or(0)];
    out.par_iter_mut()
        .zip(body.par_chunks_exact(size.max(1)))
        .try_for_each(|(slot, point)| {
            *slot = T::deserialize_with_mode(point, Compress::No, Validate::No)?;
            Ok::<(), SerializationError>(())
        })?;
    Ok(out)
}

/// Loads and validates the verifying key of `dir`, after checking its hash.
pub fn load_verifying_key(
    dir: &Path,
) -> Result<(Manifest, Vec<u8>, VerifyingKey<Bn254>), KeyError> {
    let m = read_manifest(dir)?;
    let bytes = read_checked(dir, &m.verifying_key)?;
    let vk = VerifyingKey::<Bn254>::deserialize_compressed(bytes.as_slice()).map_err(|e| {
        KeyError::Decode {
            file: m.verifying_key.file.clone(),
            reason: e.to_string(),
        }
    })?;
    Ok((m, bytes, vk))
}

/// The repository's committed keys directory.
pub fn repo_keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("keys")
}

//! The committed keys of `keys/`, built into the binary so that `letro` works on a fresh
//! machine with no files around it. Their hashes are checked against the embedded manifest
//! on load, exactly like keys read from a directory.

use ark_bn254::Bn254;
use ark_groth16::ProvingKey;

use crate::keys::{sha256_hex, KeyError, Manifest};

const MANIFEST: &[u8] = include_bytes!("../../keys/manifest.json");
const PROVING_KEY: &[u8] = include_bytes!("../../keys/delivered-within-v2.DEMO-CEREMONY.pk");
const VERIFYING_KEY: &[u8] = include_bytes!("../../keys/delivered-within-v2.DEMO-CEREMONY.vk");

fn check(file: &str, expected: &str, bytes: &[u8]) -> Result<(), KeyError> {
    let actual = sha256_hex(bytes);
    if actual != expected {
        return Err(KeyError::HashMismatch {
            file: file.into(),
            expected: expected.into(),
            actual,
        });
    }
    Ok(())
}

/// The embedded manifest.
pub fn manifest() -> Result<Manifest, KeyError> {
    serde_json::from_slice(MANIFEST).map_err(|source| KeyError::Manifest {
        path: "embedded keys/manifest.json".into(),
        source,
    })
}

/// The embedded proving key, hash-checked.
pub fn proving_key() -> Result<(Manifest, ProvingKey<Bn254>), KeyError> {
    let m = manifest()?;
    check(&m.proving_key.file, &m.proving_key.sha256, PROVING_KEY)?;
    let pk = crate::keys::decode_proving_key(&m.proving_key.file, PROVING_KEY)?;
    Ok((m, pk))
}

/// The embedded verifying key bytes, hash-checked.
pub fn verifying_key_bytes() -> Result<(Manifest, &'static [u8]), KeyError> {
    let m = manifest()?;
    check(
        &m.verifying_key.file,
        &m.verifying_key.sha256,
        VERIFYING_KEY,
    )?;
    Ok((m, VERIFYING_KEY))
}

//! Export of a bundle's Groth16 proof to the JSON files of [snarkjs], so that a third party can
//! check it with a verifier nobody on this team wrote:
//!
//! ```text
//! snarkjs groth16 verify verification_key.json public.json proof.json
//! ```
//!
//! The formats are snarkjs 0.7's (`groth16 prove` and `zkey export verificationkey`):
//!
//! - numbers are decimal strings; points are projective with `z = 1` (`[x, y, "1"]` in G1,
//!   `[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]` in G2, where an Fq2 element `c0 + c1·u` is
//!   `[c0, c1]`), and the identity is `["0", "1", "0"]` (G1) or
//!   `[["0", "0"], ["1", "0"], ["0", "0"]]` (G2);
//! - `proof.json`: `pi_a`, `pi_b`, `pi_c`, `"protocol": "groth16"`, `"curve": "bn128"`;
//! - `public.json`: the six public inputs of SPEC.md in their order
//!   ([`DeliveredWithin::public_inputs`]);
//! - `verification_key.json`: `protocol`, `curve`, `nPublic`, `vk_alpha_1`, `vk_beta_2`,
//!   `vk_gamma_2`, `vk_delta_2`, `vk_alphabeta_12` (`e(alpha, beta)` in Fq12 as
//!   `[[c0.c0, c0.c1, c0.c2], [c1.c0, c1.c1, c1.c2]]`, each an Fq2 pair; `groth16 verify` does
//!   not read it, but other consumers of the format may) and `IC` (arkworks'
//!   `gamma_abc_g1`).
//!
//! ## Non-features
//!
//! - snarkjs checks only the Groth16 equation. It does not check the checkpoint's signature,
//!   that the log root is the checkpoint's root, or the verifying key's hash: a file set that
//!   snarkjs accepts is not a verified delivery. [`crate::Verifier::verify`] is.
//! - [`export`] does not verify the proof; it only refuses a key that is not the one the bundle
//!   names.
//!
//! [snarkjs]: https://github.com/iden3/snarkjs

use std::io::Write;
use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, Fq, Fq2, G1Affine, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::AffineRepr;
use ark_groth16::VerifyingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use letro_core::bundle::ParsedBundle;
use letro_core::field::fr_to_decimal;
use letro_core::statement::{DeliveredWithin, NUM_PUBLIC_INPUTS};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    PinnedKey, VerifyingKeyError, EMBEDDED_VERIFYING_KEY, EMBEDDED_VERIFYING_KEY_V1,
    EMBEDDED_VERIFYING_KEY_V2_DEV,
};

/// File name of the proof.
pub const PROOF_FILE: &str = "proof.json";
/// File name of the public inputs.
pub const PUBLIC_FILE: &str = "public.json";
/// File name of the verifying key.
pub const VERIFICATION_KEY_FILE: &str = "verification_key.json";

/// The three files of an export, each pretty JSON with a final newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnarkjsFiles {
    /// `proof.json`.
    pub proof: String,
    /// `public.json`.
    pub public: String,
    /// `verification_key.json`.
    pub verification_key: String,
}

impl SnarkjsFiles {
    /// `(file name, contents)` of each file, in the order [`write_dir`] writes them.
    pub fn files(&self) -> [(&'static str, &str); 3] {
        [
            (PROOF_FILE, &self.proof),
            (PUBLIC_FILE, &self.public),
            (VERIFICATION_KEY_FILE, &self.verification_key),
        ]
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The verifying key is not a valid `delivered-within/v1` key (bad encoding, or not six
    /// public inputs).
    #[error("invalid verifying key")]
    VerifyingKey(#[from] VerifyingKeyError),
    /// The bundle names another verifying key than the one given: snarkjs would reject the
    /// proof.
    #[error("the bundle's proof is for verifying key {bundle}, not for the given key {given}")]
    KeyMismatch {
        /// SHA-256 (hex) the bundle names.
        bundle: String,
        /// SHA-256 (hex) of the given key.
        given: String,
    },
    /// A file to write is already there; nothing is overwritten.
    #[error("{} already exists: refusing to overwrite it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Creating the directory or writing a file failed.
    #[error("could not write {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Encoding the key or the JSON failed (a bug: these encodings cannot fail).
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
struct ProofJson {
    pi_a: [String; 3],
    pi_b: [[String; 2]; 3],
    pi_c: [String; 3],
    protocol: &'static str,
    curve: &'static str,
}

#[derive(Serialize)]
#[allow(non_snake_case)] // snarkjs's member names
struct VerificationKeyJson {
    protocol: &'static str,
    curve: &'static str,
    nPublic: usize,
    vk_alpha_1: [String; 3],
    vk_beta_2: [[String; 2]; 3],
    vk_gamma_2: [[String; 2]; 3],
    vk_delta_2: [[String; 2]; 3],
    vk_alphabeta_12: [[[String; 2]; 3]; 2],
    IC: Vec<[String; 3]>,
}

/// snarkjs's name for the protocol.
const PROTOCOL: &str = "groth16";
/// snarkjs's (ffjavascript's) name for BN254.
const CURVE: &str = "bn128";

fn fq(x: &Fq) -> String {
    // `Fp`'s Display is the canonical decimal of the integer below the modulus.
    x.to_string()
}

fn fq2(x: &Fq2) -> [String; 2] {
    [fq(&x.c0), fq(&x.c1)]
}

fn g1(p: &G1Affine) -> [String; 3] {
    match p.xy() {
        Some((x, y)) => [fq(&x), fq(&y), "1".to_owned()],
        None => ["0".to_owned(), "1".to_owned(), "0".to_owned()],
    }
}

fn g2(p: &G2Affine) -> [[String; 2]; 3] {
    let one = || ["1".to_owned(), "0".to_owned()];
    let zero = || ["0".to_owned(), "0".to_owned()];
    match p.xy() {
        Some((x, y)) => [fq2(&x), fq2(&y), one()],
        None => [zero(), one(), zero()],
    }
}

fn pretty<T: Serialize>(value: &T) -> Result<String, ExportError> {
    let mut s =
        serde_json::to_string_pretty(value).map_err(|e| ExportError::Internal(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// SHA-256 of the key's canonical compressed encoding, as bundles name it.
fn key_sha256(vk: &VerifyingKey<Bn254>) -> Result<[u8; 32], ExportError> {
    let mut bytes = Vec::new();
    vk.serialize_compressed(&mut bytes)
        .map_err(|e| ExportError::Internal(e.to_string()))?;
    Ok(Sha256::digest(&bytes).into())
}

/// `public.json` for a statement: its six public inputs as decimal strings.
pub fn public_json(statement: &DeliveredWithin) -> Result<String, ExportError> {
    let inputs: Vec<String> = statement
        .public_inputs()
        .iter()
        .map(fr_to_decimal)
        .collect();
    pretty(&inputs)
}

/// `verification_key.json` for a `delivered-within/v1` key.
pub fn verification_key_json(vk: &VerifyingKey<Bn254>) -> Result<String, ExportError> {
    let expected = NUM_PUBLIC_INPUTS + 1;
    if vk.gamma_abc_g1.len() != expected {
        return Err(VerifyingKeyError::PublicInputs {
            expected: NUM_PUBLIC_INPUTS,
            found: vk.gamma_abc_g1.len().saturating_sub(1),
        }
        .into());
    }
    let ab = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
    let fq6 = |x: &ark_bn254::Fq6| [fq2(&x.c0), fq2(&x.c1), fq2(&x.c2)];
    pretty(&VerificationKeyJson {
        protocol: PROTOCOL,
        curve: CURVE,
        nPublic: NUM_PUBLIC_INPUTS,
        vk_alpha_1: g1(&vk.alpha_g1),
        vk_beta_2: g2(&vk.beta_g2),
        vk_gamma_2: g2(&vk.gamma_g2),
        vk_delta_2: g2(&vk.delta_g2),
        vk_alphabeta_12: [fq6(&ab.c0), fq6(&ab.c1)],
        IC: vk.gamma_abc_g1.iter().map(g1).collect(),
    })
}

/// The snarkjs files for `bundle`'s proof under `vk`.
///
/// Fails if `vk` is not a six-input key or is not the key the bundle names (by SHA-256). Does
/// not verify anything else: see the [module documentation](self).
pub fn export(
    bundle: &ParsedBundle,
    vk: &VerifyingKey<Bn254>,
) -> Result<SnarkjsFiles, ExportError> {
    let given = key_sha256(vk)?;
    if given != bundle.verifying_key_sha256 {
        return Err(ExportError::KeyMismatch {
            bundle: hex::encode(bundle.verifying_key_sha256),
            given: hex::encode(given),
        });
    }
    let verification_key = verification_key_json(vk)?;
    let p = &bundle.proof;
    let proof = pretty(&ProofJson {
        pi_a: g1(&p.a),
        pi_b: g2(&p.b),
        pi_c: g1(&p.c),
        protocol: PROTOCOL,
        curve: CURVE,
    })?;
    Ok(SnarkjsFiles {
        proof,
        public: public_json(&bundle.statement)?,
        verification_key,
    })
}

/// [`export`] with a pinned key (for example one of [`crate::Verifier::keys`]).
pub fn export_pinned(bundle: &ParsedBundle, key: &PinnedKey) -> Result<SnarkjsFiles, ExportError> {
    export(bundle, &key.prepared().vk)
}

/// The built-in verifying key ([`EMBEDDED_VERIFYING_KEY`]), decoded and checked.
pub fn embedded_verifying_key() -> Result<VerifyingKey<Bn254>, ExportError> {
    VerifyingKey::<Bn254>::deserialize_compressed(EMBEDDED_VERIFYING_KEY)
        .map_err(|e| VerifyingKeyError::Decode(e.to_string()).into())
}

/// [`export`] with the built-in verifying key the bundle names: the current one, or one kept so
/// that older bundles stay checkable (the first v2 key, v1). A bundle under any other key is
/// [`ExportError::KeyMismatch`].
pub fn export_embedded(bundle: &ParsedBundle) -> Result<SnarkjsFiles, ExportError> {
    let named = [
        EMBEDDED_VERIFYING_KEY,
        EMBEDDED_VERIFYING_KEY_V2_DEV,
        EMBEDDED_VERIFYING_KEY_V1,
    ]
    .into_iter()
    .find(|k| <[u8; 32]>::from(Sha256::digest(k)) == bundle.verifying_key_sha256);
    let vk = match named {
        Some(bytes) => VerifyingKey::<Bn254>::deserialize_compressed(bytes)
            .map_err(|e| VerifyingKeyError::Decode(e.to_string()))?,
        None => embedded_verifying_key()?,
    };
    export(bundle, &vk)
}

/// Writes `proof.json`, `public.json` and `verification_key.json` into `dir`, creating `dir`
/// if needed.
///
/// Refuses to overwrite: if any of the three files exists, nothing is written. (A file created
/// by someone else between that check and the write is still not overwritten: each file is
/// created with `create_new`.) An I/O error part way can leave the files written before it.
pub fn write_dir(files: &SnarkjsFiles, dir: &Path) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let all = files.files();
    for (name, _) in &all {
        let path = dir.join(name);
        if path.symlink_metadata().is_ok() {
            return Err(ExportError::Exists { path });
        }
    }
    for (name, contents) in &all {
        let path = dir.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    ExportError::Exists { path: path.clone() }
                } else {
                    ExportError::Io {
                        path: path.clone(),
                        source,
                    }
                }
            })?;
        f.write_all(contents.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|source| ExportError::Io {
                path: path.clone(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_points_use_snarkjs_encoding() {
        assert_eq!(g1(&G1Affine::zero()), ["0", "1", "0"]);
        assert_eq!(g2(&G2Affine::zero()), [["0", "0"], ["1", "0"], ["0", "0"]]);
    }

    #[test]
    fn generator_matches_snarkjs() {
        // ffjavascript's bn128 G1 generator is (1, 2); G2's x is
        // [10857046999023057135944570762232829481370756359578518086990519993285655852781,
        //  11559732032986387107991004021392285783925812861821192530917403151452391805634].
        assert_eq!(g1(&G1Affine::generator()), ["1", "2", "1"]);
        let x = g2(&G2Affine::generator());
        assert_eq!(
            x[0],
            [
                "10857046999023057135944570762232829481370756359578518086990519993285655852781",
                "11559732032986387107991004021392285783925812861821192530917403151452391805634"
            ]
        );
    }

    #[test]
    fn embedded_key_exports() {
        let vk = embedded_verifying_key();
        assert!(vk.is_ok());
        if let Ok(vk) = vk {
            let json = verification_key_json(&vk);
            assert!(json
                .as_ref()
                .is_ok_and(|j| j.contains("\"nPublic\": 6") && j.ends_with("}\n")));
        }
    }
}

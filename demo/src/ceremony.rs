// SPDX-License-Identifier: AGPL-3.0-only
//! `letro-demo --ceremony`: a small phase-2 ceremony of the demo's own before the flow, whose
//! keys the relay then proves with and the third party verifies with.
//!
//! Three local contributors (the sender's bank, the relay operator, an auditor) contribute in
//! turn, each after verifying the chain so far, then a beacon closes it; the whole transcript
//! is verified once more and finalised into keys. Every contributor runs in this one process,
//! so the keys are marked `demo-ceremony` (never `ceremony`): a real ceremony has contributors
//! on machines of their own (CEREMONY.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use letro_ceremony::{phase2, Ptau, R1cs, Zkey};
use letro_prover::keys::CeremonyKind;
use letro_verifier::PinnedKey;
use sha2::Digest;

use crate::flow::{detail, fail, new_numbered_dir, write_new};
use crate::DemoError;

/// Phase 1 for the demo's ceremony: a prepared `.ptau` and its pinned BLAKE2b-512.
#[derive(Debug, Clone)]
pub struct Phase1 {
    /// The `.ptau` file.
    pub ptau: PathBuf,
    /// Its BLAKE2b-512 as `b2sum` prints it.
    pub b2sum: String,
}

/// The keys a ceremony left: their directory and the verifying key pinned with its manifest.
#[derive(Debug, Clone)]
pub struct CeremonyKeys {
    /// `DIR/ceremony-<n>/keys`.
    pub dir: PathBuf,
    /// The verifying key, trust level from its manifest.
    pub pinned: PinnedKey,
}

const CONTRIBUTORS: [&str; 3] = [
    "demo contributor 1: the sender's bank",
    "demo contributor 2: the relay operator",
    "demo contributor 3: an auditor",
];

/// Runs the ceremony into a new `dir/ceremony-<n>/`: the transcript (`0000.zkey` to
/// `0004.zkey`) and `keys/`.
pub fn run(dir: &Path, phase1: &Phase1) -> Result<CeremonyKeys, DemoError> {
    println!("[ceremony] a phase-2 setup of the demo's own, on the phase 1 you gave");
    let ptau = Ptau::open(&phase1.ptau, &phase1.b2sum).map_err(|e| {
        fail(format!("{}: {e}", phase1.ptau.display()))
            .hint("give a prepared .ptau of power 14 or more and its b2sum (CEREMONY.md, phase 1)")
    })?;
    let out = new_numbered_dir(dir, "ceremony")?;
    let start = Instant::now();
    let r1cs = R1cs::of_circuit().map_err(fail)?;
    let init = Zkey::new(&r1cs, &ptau).map_err(fail)?;
    save(&out, 0, &init)?;
    detail(&format!(
        "initial key from the circuit ({} constraints) and phase 1 (power {}), {:.1?}",
        r1cs.constraints.len(),
        ptau.power(),
        start.elapsed()
    ));
    let mut key = init.clone();
    for (i, name) in CONTRIBUTORS.iter().enumerate() {
        // Each contributor first checks everything before them, as CEREMONY.md asks.
        phase2::verify_from_init(&key, &init).map_err(fail)?;
        let (next, hash) = phase2::contribute(&key, Some(name), &[]).map_err(fail)?;
        key = next;
        save(&out, i + 1, &key)?;
        detail(&format!("{name}: contribution hash {}", short(&hash)));
    }
    // The beacon: a value nobody could choose, announced before it was known. Here, for the
    // demo, the SHA-256 of the transcript so far stands in for it.
    let value = sha2::Sha256::digest(key.to_bytes());
    let (last, hash) =
        phase2::beacon(&key, Some("demo beacon"), value.as_slice(), 10).map_err(fail)?;
    save(&out, CONTRIBUTORS.len() + 1, &last)?;
    detail(&format!(
        "random beacon {} iterated 2^10: contribution hash {}",
        hex::encode(value),
        short(&hash)
    ));
    let (pk, verified) = phase2::finalize_from_init(&last, &init).map_err(fail)?;
    let transcript = last.to_bytes();
    let file = zkey_name(CONTRIBUTORS.len() + 1);
    let record = phase2::manifest_record(&verified, &ptau, &transcript, Some(&file));
    let keys = out.join("keys");
    letro_prover::keys::write_ceremony_keys(
        &keys,
        &pk,
        r1cs.constraints.len(),
        CeremonyKind::Demo,
        "DEMO: a ceremony run by letro-demo in one process, whose three contributors and beacon \
         were all this machine; whoever ran it could forge proofs. For demonstrations only."
            .into(),
        record,
    )
    .map_err(fail)?;
    let pinned = PinnedKey::from_keys_dir(&keys).map_err(fail)?;
    detail(&format!(
        "transcript verified ({} contributions) and finalised in {:.1?}: keys in {}, verifying key {}",
        verified.contributions.len(),
        start.elapsed(),
        keys.display(),
        hex::encode(pinned.sha256())
    ));
    Ok(CeremonyKeys { dir: keys, pinned })
}

fn zkey_name(n: usize) -> String {
    format!("{n:04}.zkey")
}

fn save(out: &Path, n: usize, key: &Zkey) -> Result<(), DemoError> {
    write_new(&out.join(zkey_name(n)), &key.to_bytes(), false)
}

fn short(hash: &[u8; 64]) -> String {
    format!("{}…", hex::encode(hash.get(..16).unwrap_or_default()))
}

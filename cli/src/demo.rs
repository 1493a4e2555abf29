//! `letro demo`: the proof-of-delivery flow end to end on built-in defaults.
//!
//! What runs here today: a recipient's receipt key signs a delivery receipt over the SHA-256 of
//! a ciphertext; the relay's log appends the delivered leaf and signs a C2SP checkpoint; the
//! sender's delivery record is proved for a window with the embedded keys; the bundle is
//! verified with `letro-verifier` as a third party would (plus the ciphertext and the opening). The ciphertext is random bytes
//! standing in for a Signal envelope, and the log is in memory: the Signal client and the relay
//! service are not part of this build yet, and the demo says so when it runs.

use std::path::Path;

use ark_std::rand::RngCore;
use letro_core::bundle::{format_time, DeliveryRecord};
use letro_core::checkpoint::{Checkpoint, SignedCheckpoint};
use letro_core::eddsa::PrivateKey;
use letro_core::field::fr_to_be_bytes;
use letro_core::merkle::MerkleTree;
use letro_core::note::SignerKey;
use letro_core::statement::{self, CiphertextHash, DeliveryWitness};
use letro_core::Fr;

use letro_verifier::checks::{check_ciphertext, check_opening};
use letro_verifier::Verifier;

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT};
use crate::files::write_output;

const ORIGIN: &str = "demo.letro.invalid/log";

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::new(EXIT_FAILED, format!("demo: {e}"))
}

fn step(n: u32, text: &str) {
    println!("[{n}/6] {text}");
}

/// Runs the demo, leaving its files in `dir`.
pub fn run(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot create {}: {e}", dir.display())))?;
    let mut rng = rand::rngs::OsRng;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(fail)?
        .as_secs();

    step(
        1,
        "recipient: a Baby Jubjub receipt key (the Signal-certified key of a recipient device)",
    );
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let receipt = PrivateKey::from_bytes(seed);
    let key = receipt.public_key();

    step(2, "sender: 4 KiB of ciphertext (random bytes standing in for a Signal envelope in this build)");
    let mut ciphertext = vec![0u8; 4096];
    rng.fill_bytes(&mut ciphertext);
    let h = CiphertextHash::of(&ciphertext);
    println!("      H = sha256(ciphertext) = {}", h.to_hex());

    step(
        3,
        "recipient: signs the delivery receipt over (H, t); relay: appends the delivered leaf",
    );
    let t = now;
    let signature = receipt.sign(&statement::receipt_message(&h, t));
    key.verify(&statement::receipt_message(&h, t), &signature)
        .map_err(fail)?;
    let mut tree = MerkleTree::new();
    for i in 0..6u64 {
        tree.append(Fr::from(now ^ i)).map_err(fail)?;
    }
    let index = tree
        .append(statement::delivered_leaf(&h, key.point(), t))
        .map_err(fail)?;

    step(
        4,
        "relay: publishes a checkpoint signed with its Ed25519 log key (C2SP signed note)",
    );
    rng.fill_bytes(&mut seed);
    let log_key = SignerKey::from_seed(ORIGIN, &seed).map_err(fail)?;
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size: tree.len(),
        root: fr_to_be_bytes(&tree.root()),
        time: now,
        extensions: vec![],
    };
    let note = SignedCheckpoint::sign(&checkpoint, &log_key).map_err(fail)?;
    let mut blinding_bytes = [0u8; 64];
    rng.fill_bytes(&mut blinding_bytes);
    let blinding = <Fr as ark_ff::PrimeField>::from_le_bytes_mod_order(&blinding_bytes);
    let record = DeliveryRecord {
        ciphertext_hash: h,
        witness: DeliveryWitness {
            delivered_at: t,
            receipt_key: key,
            blinding,
            signature,
            path: tree.proof(index).map_err(fail)?,
        },
        checkpoint: SignedCheckpoint::parse(&note).map_err(fail)?,
        receipt_key_certificate: None,
    };

    let not_before = t - t % 86_400;
    let not_after = not_before + 86_400 - 1;
    let (nb_s, na_s) = (
        format_time(not_before).unwrap_or_default(),
        format_time(not_after).unwrap_or_default(),
    );
    step(
        5,
        &format!(
            "sender: proves delivery within [{nb_s}, {na_s}] (Groth16, embedded INSECURE-DEV keys)"
        ),
    );
    let prover = crate::prove::load_prover(None)?;
    let started = std::time::Instant::now();
    let (bundle, opening) = prover
        .prove_record(&record, not_before, not_after, &mut rng)
        .map_err(fail)?;
    println!(
        "      proved and self-verified in {:.2} s ({} constraints)",
        started.elapsed().as_secs_f64(),
        prover.num_constraints()
    );

    step(
        6,
        "third party: verifies the bundle offline with letro-verifier (pinned keys only)",
    );
    let verifier = Verifier::new(vec![log_key.verifier_key()]).map_err(fail)?;
    let verified = verifier.verify(bundle.as_bytes()).map_err(fail)?;
    check_ciphertext(ciphertext.as_slice(), verified.statement()).map_err(fail)?;
    let opened = check_opening(opening.encode().as_bytes(), verified.statement()).map_err(fail)?;
    println!(
        "      checkpoint signed by {ORIGIN}, root matches, proof verifies, ciphertext matches H"
    );
    println!(
        "      the opening reveals the receipt key with fingerprint {}",
        opened.fingerprint
    );

    let files: [(&str, Vec<u8>, bool); 5] = [
        ("bundle.json", bundle.into_bytes(), false),
        ("opening.json", opening.encode().into_bytes(), true),
        ("ciphertext.bin", ciphertext, false),
        (
            "log.pub",
            format!("{}\n", log_key.verifier_key()).into_bytes(),
            false,
        ),
        (
            "record.json",
            record.encode().map_err(fail)?.into_bytes(),
            true,
        ),
    ];
    for (name, bytes, private) in files {
        write_output(&dir.join(name), &bytes, true, private)?;
    }
    println!();
    println!(
        "delivered between {nb_s} and {na_s}: ciphertext {}",
        h.to_hex()
    );
    println!(
        "files in {}: bundle.json opening.json ciphertext.bin log.pub record.json",
        dir.display()
    );
    let d = dir.display();
    println!("a third party checks it with:");
    println!("  letro-verify {d}/bundle.json --log-key {d}/log.pub --ciphertext {d}/ciphertext.bin --opening {d}/opening.json");
    println!("  (from this checkout: cargo run --release --bin letro-verify -- ...)");
    println!("not in this build yet: Signal encryption and the relay service (the ciphertext is random bytes, the log in memory)");
    Ok(())
}

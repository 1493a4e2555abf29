//! `letro ceremony`: the multi-party phase-2 setup (CEREMONY.md is the runbook).
//!
//! Every step that takes a `.zkey` first verifies the whole chain it holds against the circuit
//! and the pinned phase 1, so a contributor never builds on a broken or forged state.

use std::path::{Path, PathBuf};
use std::time::Instant;

use letro_ceremony::{phase2, CeremonyError, Ptau, R1cs, Verified, Zkey};

use letro_prover::keys::CeremonyKind;

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};
use crate::files::write_output;

/// Phase 1: the prepared `.ptau` and its pinned hash.
#[derive(Debug, clap::Args)]
pub struct Phase1 {
    /// The prepared phase-1 file (snarkjs `.ptau`, e.g. the Perpetual Powers of Tau of power 15).
    #[arg(long, value_name = "FILE")]
    pub ptau: PathBuf,
    /// Its BLAKE2b-512 as `b2sum` prints it, pinned by the ceremony's coordinator.
    #[arg(long, value_name = "HEX")]
    pub ptau_b2sum: String,
}

/// `letro ceremony` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CeremonyCommand {
    /// Writes the circuit's constraint system as an iden3 .r1cs file (for snarkjs).
    ExportR1cs {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Starts phase 2: the initial .zkey of the circuit from the pinned phase 1 (`snarkjs zkey new`).
    Init {
        #[command(flatten)]
        phase1: Phase1,
        /// The .zkey to write.
        #[arg(long)]
        out: PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Verifies the chain in IN and prints its circuit hash and every contribution's hash (to
    /// compare with the published ones), then adds a contribution with a secret from the
    /// operating system's generator (mixed with --entropy) and prints its hash to publish.
    Contribute {
        /// The latest .zkey of the ceremony.
        input: PathBuf,
        #[command(flatten)]
        phase1: Phase1,
        /// Your name or organisation, recorded in the transcript (at most 64 characters).
        #[arg(long)]
        name: String,
        /// Extra randomness typed by the contributor (optional; never stored).
        #[arg(long, default_value = "")]
        entropy: String,
        /// The .zkey to write.
        #[arg(long)]
        out: PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Verifies the chain in IN, then applies the random beacon (`snarkjs zkey beacon`).
    Beacon {
        /// The latest .zkey of the ceremony.
        input: PathBuf,
        #[command(flatten)]
        phase1: Phase1,
        /// The beacon's public value in hex, announced before it was known (1 to 255 bytes).
        #[arg(long, value_name = "HEX")]
        beacon: String,
        /// SHA-256 is iterated 2^E times on it (10 to 32).
        #[arg(long, value_name = "E")]
        iterations_exp: u8,
        /// The name recorded for the beacon.
        #[arg(long, default_value = "random beacon")]
        name: String,
        /// The .zkey to write.
        #[arg(long)]
        out: PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Verifies a whole transcript against the circuit and the pinned phase 1 and prints every
    /// contribution's name and hash (`snarkjs zkey verify` checks the same).
    Verify {
        /// The .zkey to verify.
        zkey: PathBuf,
        #[command(flatten)]
        phase1: Phase1,
    },
    /// Verifies the final transcript and writes the proving and verifying keys and a manifest
    /// that records the ceremony.
    Finalize {
        /// The final .zkey (after the beacon).
        zkey: PathBuf,
        #[command(flatten)]
        phase1: Phase1,
        /// Who contributed, in the words the manifest will show every verifier (for example
        /// "six contributors from four organisations: ...").
        #[arg(long)]
        description: String,
        /// The ceremony's contributors were all this project's developers: the manifest's
        /// provenance is `demo-ceremony` and the files are named DEMO-CEREMONY, so that
        /// letro-verify accepts them only with --accept-demo-ceremony-keys (the built-in keys).
        #[arg(long)]
        demo: bool,
        /// The directory to write the keys and manifest.json into.
        #[arg(long)]
        out_dir: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
}

fn error(e: CeremonyError) -> CliError {
    let code = match e {
        CeremonyError::Contribution { .. } | CeremonyError::Transcript(_) => EXIT_FAILED,
        CeremonyError::Usage(_) => EXIT_USAGE,
        _ => EXIT_INPUT,
    };
    CliError::new(code, e)
}

fn open_ptau(p: &Phase1) -> Result<Ptau, CliError> {
    Ptau::open(&p.ptau, &p.ptau_b2sum).map_err(error)
}

fn read_zkey(path: &Path) -> Result<Zkey, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", path.display())))?;
    Zkey::from_bytes(&bytes)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", path.display())))
}

fn hash_lines(h: &[u8; 64]) -> String {
    hex::encode(h)
        .as_bytes()
        .chunks(32)
        .map(|c| format!("    {}", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The circuit, the pinned phase 1 and the initial key: what every check starts from.
fn initial(p: &Phase1) -> Result<(R1cs, Zkey), CliError> {
    let ptau = open_ptau(p)?;
    let r1cs = R1cs::of_circuit().map_err(error)?;
    let start = Instant::now();
    let init = Zkey::new(&r1cs, &ptau).map_err(error)?;
    eprintln!(
        "initial key computed from the circuit ({} constraints) and phase 1 (power {}) in {:.1?}",
        r1cs.constraints.len(),
        ptau.power(),
        start.elapsed()
    );
    Ok((r1cs, init))
}

fn check_chain(key: &Zkey, init: &Zkey) -> Result<Verified, CliError> {
    let start = Instant::now();
    let v = phase2::verify_from_init(key, init).map_err(error)?;
    eprintln!(
        "the transcript verifies: {} contribution(s) ({:.1?})",
        v.contributions.len(),
        start.elapsed()
    );
    Ok(v)
}

fn print_verified(v: &Verified) {
    println!("circuit hash:\n{}", hash_lines(&v.cs_hash));
    for c in &v.contributions {
        println!(
            "contribution #{} {}:",
            c.number,
            c.name.as_deref().unwrap_or("(no name)")
        );
        println!("{}", hash_lines(&c.hash));
        if let Some(b) = &c.beacon {
            println!("    beacon {} iterated 2^{}", hex::encode(&b.hash), b.exp);
        }
    }
}

/// Runs a `letro ceremony` subcommand.
pub fn run(cmd: CeremonyCommand) -> Result<(), CliError> {
    match cmd {
        CeremonyCommand::ExportR1cs { out, force } => {
            let r = R1cs::of_circuit().map_err(error)?;
            write_output(&out, &r.to_bytes(), force, false)?;
            println!(
                "wrote {}: {} constraints, {} wires, {} public inputs",
                out.display(),
                r.constraints.len(),
                r.n_wires,
                r.n_public
            );
            Ok(())
        }
        CeremonyCommand::Init { phase1, out, force } => {
            let (_, init) = initial(&phase1)?;
            write_output(&out, &init.to_bytes(), force, false)?;
            println!("wrote {}", out.display());
            println!("circuit hash:\n{}", hash_lines(&init.cs_hash));
            Ok(())
        }
        CeremonyCommand::Contribute {
            input,
            phase1,
            name,
            entropy,
            out,
            force,
        } => {
            let key = read_zkey(&input)?;
            let (_, init) = initial(&phase1)?;
            // What you build on: compare these with the hashes the coordinator published.
            print_verified(&check_chain(&key, &init)?);
            let start = Instant::now();
            let (next, hash) =
                phase2::contribute(&key, Some(&name), entropy.as_bytes()).map_err(error)?;
            write_output(&out, &next.to_bytes(), force, false)?;
            eprintln!(
                "contributed in {:.1?}; the secret is erased",
                start.elapsed()
            );
            println!("wrote {}", out.display());
            println!(
                "contribution #{} {name}: publish this hash\n{}",
                next.contributions.len(),
                hash_lines(&hash)
            );
            Ok(())
        }
        CeremonyCommand::Beacon {
            input,
            phase1,
            beacon,
            iterations_exp,
            name,
            out,
            force,
        } => {
            let value = hex::decode(beacon.trim())
                .map_err(|e| CliError::new(EXIT_USAGE, format!("--beacon is not hex: {e}")))?;
            let key = read_zkey(&input)?;
            let (_, init) = initial(&phase1)?;
            print_verified(&check_chain(&key, &init)?);
            let (next, hash) =
                phase2::beacon(&key, Some(&name), &value, iterations_exp).map_err(error)?;
            write_output(&out, &next.to_bytes(), force, false)?;
            println!("wrote {}", out.display());
            println!(
                "contribution #{} {name} (beacon): \n{}",
                next.contributions.len(),
                hash_lines(&hash)
            );
            Ok(())
        }
        CeremonyCommand::Verify { zkey, phase1 } => {
            let key = read_zkey(&zkey)?;
            let (_, init) = initial(&phase1)?;
            let v = check_chain(&key, &init)?;
            print_verified(&v);
            if v.contributions.is_empty() {
                println!("no contributions yet: this is the initial key; keys made from it would be forgeable");
            }
            Ok(())
        }
        CeremonyCommand::Finalize {
            zkey,
            phase1,
            description,
            demo,
            out_dir,
            force,
        } => {
            let kind = if demo {
                CeremonyKind::Demo
            } else {
                CeremonyKind::Deployment
            };
            finalize(&zkey, &phase1, (kind, description), &out_dir, force)
        }
    }
}

fn finalize(
    zkey: &Path,
    phase1: &Phase1,
    (kind, description): (CeremonyKind, String),
    out_dir: &Path,
    force: bool,
) -> Result<(), CliError> {
    if description.trim().is_empty() {
        return Err(CliError::new(
            EXIT_USAGE,
            "--description must say who contributed",
        ));
    }
    let bytes = std::fs::read(zkey)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", zkey.display())))?;
    let key = Zkey::from_bytes(&bytes)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", zkey.display())))?;
    let ptau = open_ptau(phase1)?;
    let r1cs = R1cs::of_circuit().map_err(error)?;
    let init = Zkey::new(&r1cs, &ptau).map_err(error)?;
    let (pk, v) = phase2::finalize_from_init(&key, &init).map_err(error)?;
    let (pk_file, vk_file) = kind.files();
    for f in [pk_file, vk_file, letro_prover::keys::MANIFEST] {
        if out_dir.join(f).exists() && !force {
            return Err(
                CliError::new(EXIT_USAGE, format!("{} exists", out_dir.join(f).display()))
                    .hint("pass --force to replace it"),
            );
        }
    }
    // The keys must prove: a prover accepts them (snarkjs's QAP layout) before anything is
    // written.
    letro_prover::Prover::new(pk.clone()).map_err(|e| {
        CliError::new(
            EXIT_FAILED,
            format!("the final key does not fit the prover: {e}"),
        )
    })?;
    let name = zkey.file_name().map(|f| f.to_string_lossy().into_owned());
    let record = phase2::manifest_record(&v, &ptau, &bytes, name.as_deref());
    let m = letro_prover::keys::write_ceremony_keys(
        out_dir,
        &pk,
        r1cs.constraints.len(),
        kind,
        description,
        record,
    )
    .map_err(|e| CliError::new(EXIT_INPUT, e))?;
    print_verified(&v);
    println!(
        "wrote {} (sha256 {}) and {} (sha256 {}) and {}",
        out_dir.join(&m.proving_key.file).display(),
        m.proving_key.sha256,
        out_dir.join(&m.verifying_key.file).display(),
        m.verifying_key.sha256,
        out_dir.join(letro_prover::keys::MANIFEST).display()
    );
    Ok(())
}

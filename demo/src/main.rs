// SPDX-License-Identifier: AGPL-3.0-only
//! `letro-demo`: the whole Letro toolkit end to end, on built-in defaults (the flow is in
//! `flow`). Thin wiring: arguments, exit codes, `error:` and `hint:` lines.
//!
//! It is a binary of its own, apart from `letro`, because it links libsignal
//! (AGPL-3.0-only) through letro-client; `letro` links nothing AGPL (`.ci/check-licenses`).
//!
//! Exit codes, as `letro`'s: 0 success; 1 a step of the demo failed; 2 usage error; 3 the demo
//! directory could not be created or written.
#![forbid(unsafe_code)]

mod ceremony;
mod flow;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Runs the Letro toolkit end to end on built-in defaults: a relay service, a sender and a
/// recipient with Signal identities, an encrypted letter, a receipt, a checkpoint, a proof of
/// delivery and its verification.
///
/// The relay's and clients' state stays in DIR, and each run's evidence goes to a new
/// DIR/run-<n>/ (earlier runs' files are never replaced).
#[derive(Debug, Parser)]
#[command(
    name = "letro-demo",
    version,
    after_help = "Exit codes: 0 success, 1 failed, 2 usage error, 3 the demo directory could not be created or written."
)]
struct Args {
    /// Directory for the demo's state and its run-<n>/ evidence directories.
    #[arg(long, default_value = "letro-demo")]
    dir: PathBuf,
    /// First run a small phase-2 ceremony of the demo's own (three local contributors and a
    /// beacon, on the phase 1 given with --ptau) and prove and verify with its keys.
    #[arg(long, requires_all = ["ptau", "ptau_b2sum"])]
    ceremony: bool,
    /// The prepared phase-1 file for --ceremony (snarkjs .ptau, power 14 or more).
    #[arg(long, value_name = "FILE", env = "LETRO_PTAU")]
    ptau: Option<PathBuf>,
    /// Its BLAKE2b-512 as `b2sum` prints it, pinned.
    #[arg(long, value_name = "HEX", env = "LETRO_PTAU_B2SUM")]
    ptau_b2sum: Option<String>,
}

/// A failure with its exit code and an optional hint.
#[derive(Debug)]
pub struct DemoError {
    /// What happened.
    pub message: String,
    /// What to try.
    pub hint: Option<String>,
    /// Exit code.
    pub code: u8,
}

impl DemoError {
    /// An error with an exit code.
    pub fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            hint: None,
            code,
        }
    }
    /// Adds a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Exit code: a step of the demo failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the demo directory could not be created or written.
pub const EXIT_INPUT: u8 = 3;

fn main() -> ExitCode {
    let args = Args::parse();
    let phase1 = match (args.ceremony, args.ptau, args.ptau_b2sum) {
        (true, Some(ptau), Some(b2sum)) => Some(ceremony::Phase1 { ptau, b2sum }),
        _ => None,
    };
    match flow::run(&args.dir, phase1.as_ref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(hint) = &e.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.code)
        }
    }
}

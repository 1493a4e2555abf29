//! `letro`: the Letro proof-of-delivery command line. Thin wiring over the libraries.
//!
//! Exit codes: 0 success; 1 the operation failed (for example a false statement);
//! 2 usage error; 3 an input could not be read or parsed.
#![forbid(unsafe_code)]

mod ceremony;
mod certificate;
mod commands;
mod files;
mod monitor;
mod prove;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
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

//! `letro prove`.

use std::path::{Path, PathBuf};

use letro_core::bundle::{parse_time, DeliveryRecord, RecordError};
use letro_core::statement::STATEMENT_ID;
use letro_prover::{
    embedded, keys, Matrices, PreparedRecord, ProveError, ProveRecordError, Prover,
    ProverSetupError,
};

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};
use crate::files::{read_input, write_output, write_stdout};

/// Loads the prover from a keys directory or the embedded keys. The built-in constraint
/// matrices decode beside the key, on rayon's pool.
pub fn load_prover(dir: Option<&Path>) -> Result<Prover, CliError> {
    let (loaded, matrices) = rayon::join(
        || match dir {
            Some(d) => keys::load_proving_key(d),
            None => embedded::proving_key(),
        },
        Matrices::built_in,
    );
    let (_, pk) = loaded
        .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot load the proving key: {e}")))?;
    let prover = matrices
        .map_err(ProverSetupError::Matrices)
        .and_then(|m| Prover::with_matrices(pk, m));
    prover.map_err(|e| {
        CliError::new(EXIT_INPUT, e)
            .hint("the keys were made for another version of the circuit; run `letro keys setup`")
    })
}

fn time_arg(flag: &str, s: &str) -> Result<u64, CliError> {
    parse_time(s).map_err(|e| {
        CliError::new(EXIT_USAGE, format!("{flag} {s:?}: {e}"))
            .hint("write times in RFC 3339 UTC, for example 2026-11-01T00:00:00Z")
    })
}

/// Runs `letro prove`.
pub fn run(
    record_path: &str,
    not_before: &str,
    not_after: &str,
    out: &str,
    opening: Option<PathBuf>,
    keys_dir: Option<PathBuf>,
    force: bool,
) -> Result<(), CliError> {
    let nb = time_arg("--not-before", not_before)?;
    let na = time_arg("--not-after", not_after)?;
    if nb > na {
        return Err(CliError::new(
            EXIT_USAGE,
            "--not-before is after --not-after",
        ));
    }
    let opening_path = match (opening, out) {
        (Some(p), _) => p,
        (None, "-") => {
            return Err(CliError::new(
                EXIT_USAGE,
                "--opening is required when the bundle goes to standard output",
            ))
        }
        (None, o) => PathBuf::from(format!(
            "{}.opening.json",
            o.strip_suffix(".json").unwrap_or(o)
        )),
    };
    for p in [
        Some(opening_path.as_path()),
        (out != "-").then(|| Path::new(out)),
    ]
    .into_iter()
    .flatten()
    {
        if !force && p.exists() {
            return Err(
                CliError::new(EXIT_INPUT, format!("{} already exists", p.display()))
                    .hint("choose another path, or pass --force to replace it"),
            );
        }
    }
    let bytes = read_input(record_path)?;
    let record = DeliveryRecord::parse(&bytes).map_err(|e| {
        let err = CliError::new(
            EXIT_INPUT,
            format!("{record_path}: not a valid delivery record: {e}"),
        );
        match e {
            RecordError::UnsupportedVersion(v) if v == "letro-record/v1" => err.hint(
                "v1 records have no per-event secret and cannot be proved any more (their leaves \
                 are not hiding); ask the relay for a letro-record/v2 record",
            ),
            _ => err,
        }
    })?;
    // The key loads on a second thread while this one checks the relation and synthesises the
    // witness: neither needs the other, and together they were an eighth of the whole run. A key
    // that does not load is reported first, as when the two ran one after the other.
    let started = std::time::Instant::now();
    let (prover, prepared) = std::thread::scope(|scope| {
        let loading = scope.spawn(|| load_prover(keys_dir.as_deref()));
        let prepared = PreparedRecord::new(&record, nb, na);
        let prover = loading.join().unwrap_or_else(|_| {
            Err(CliError::new(
                EXIT_FAILED,
                "internal error: loading the proving key failed",
            ))
        });
        (prover, prepared)
    });
    let prover = prover?;
    eprintln!(
        "proving {STATEMENT_ID} ({} constraints)...",
        prover.num_constraints()
    );
    let (bundle, opening) = prepared
        .and_then(|p| prover.prove_prepared(&p, &mut rand::rngs::OsRng))
        .map_err(|e| match e {
            ProveRecordError::Prove(ProveError::FalseStatement(r)) => {
                CliError::new(EXIT_FAILED, format!("the statement does not hold: {r}"))
                    .hint("choose a window that contains the delivery time, and check the record")
            }
            ProveRecordError::Record(e) => CliError::new(
                EXIT_INPUT,
                format!("{record_path}: not a usable delivery record: {e}"),
            ),
            ProveRecordError::Window(e) => CliError::new(
                EXIT_FAILED,
                format!("the window does not fit the record's checkpoint: {e}"),
            )
            .hint(
                "a verifier would refuse this bundle: choose a window that starts before the \
                 checkpoint time plus the relay's receipt skew, from a relay that publishes it",
            ),
            other => CliError::new(EXIT_FAILED, other),
        })?;
    eprintln!(
        "loaded the key, proved and self-verified in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    write_output(&opening_path, opening.encode().as_bytes(), force, true)?;
    if out == "-" {
        write_stdout(bundle.as_bytes())?;
    } else {
        write_output(Path::new(out), bundle.as_bytes(), force, false)?;
        eprintln!("wrote {out}");
    }
    eprintln!(
        "wrote {} (private: it reveals the recipient)",
        opening_path.display()
    );
    Ok(())
}

//! `letro monitor`: follows a log through its tiles (letro-service's monitor) and reports.

use std::path::{Path, PathBuf};
use std::time::Duration;

use letro_log::note::VerifierKey;
use letro_log::policy::Policy;
use letro_service::monitor::{Monitor, MonitorError, Source};

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT};

/// What `letro monitor` was asked.
pub struct MonitorArgs {
    /// The tlog-tiles prefix URL or directory.
    pub log: String,
    /// The log's vkey, or a file holding it.
    pub log_key: String,
    /// The state directory.
    pub state: PathBuf,
    /// A tlog-policy file.
    pub policy: Option<PathBuf>,
    /// Seconds between checks; `None`: check once.
    pub follow: Option<u64>,
}

/// A vkey given as text, or as a file holding it.
pub(crate) fn read_vkey(arg: &str) -> Result<VerifierKey, CliError> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg)
            .map_err(|e| CliError::new(EXIT_INPUT, format!("{arg}: {e}")))?
    } else {
        arg.to_owned()
    };
    VerifierKey::parse(text.trim()).map_err(|e| {
        CliError::new(EXIT_INPUT, format!("--log-key: {e}"))
            .hint("give the log's C2SP vkey (letro log key prints it), or a file holding it")
    })
}

/// Runs the monitor: one check, or one every `follow` seconds until misbehaviour or Ctrl-C.
pub fn run(a: MonitorArgs) -> Result<(), CliError> {
    let key = read_vkey(&a.log_key)?;
    let policy = match &a.policy {
        None => None,
        Some(p) => {
            let bytes = std::fs::read(p)
                .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", p.display())))?;
            Some(
                Policy::parse(&bytes)
                    .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", p.display())))?,
            )
        }
    };
    let state_error = |e: MonitorError| CliError::new(EXIT_INPUT, e);
    let mut monitor = Monitor::open(&a.state, key, policy).map_err(state_error)?;
    let source = Source::new(&a.log, Duration::from_secs(30)).map_err(state_error)?;
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::new(EXIT_FAILED, format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        loop {
            match monitor.check(&source).await {
                Ok(u) => {
                    let roots = if u.rfc6962_checked {
                        "the RFC 6962 and the Poseidon root"
                    } else {
                        "the Poseidon root (a checkpoint of the older form)"
                    };
                    let witnesses = if u.cosigned_by.is_empty() {
                        String::new()
                    } else {
                        format!("; cosigned by {}", u.cosigned_by.join(", "))
                    };
                    println!(
                        "ok: checkpoint of {} entries ({} new), signed by the log{witnesses}; {roots} recomputed from every entry and equal",
                        u.new_size,
                        u.new_size - u.old_size
                    );
                }
                Err(e @ MonitorError::Misbehaviour { .. }) => {
                    let evidence = match &e {
                        MonitorError::Misbehaviour {
                            evidence: Some(p), ..
                        } => format!("evidence written to {}", p.display()),
                        _ => "the evidence could not be written".to_owned(),
                    };
                    return Err(CliError::new(EXIT_FAILED, e).hint(format!(
                        "{evidence}; the state still holds the last good checkpoint"
                    )));
                }
                Err(e @ MonitorError::Fetch { .. }) if a.follow.is_some() => {
                    eprintln!("warning: {e} (retrying)");
                }
                Err(e) => return Err(CliError::new(EXIT_INPUT, e)),
            }
            let Some(every) = a.follow else {
                return Ok(());
            };
            tokio::time::sleep(Duration::from_secs(every.max(1))).await;
        }
    })
}

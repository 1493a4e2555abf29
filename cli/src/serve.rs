//! `letro serve` and `letro token issue`: wiring of letro-service.

use std::path::Path;

use letro_service::auth::{issue_token as issue, Role};
use letro_service::settings::Settings;
use letro_service::store::SqliteStore;

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};

/// Runs the service until Ctrl-C or SIGTERM, with `flags` (flags and environment) over the
/// settings file, if any, over the defaults.
pub fn run(config_file: Option<&Path>, flags: Settings) -> Result<(), CliError> {
    let file = match config_file {
        Some(path) => Settings::read(path).map_err(|e| CliError::new(EXIT_INPUT, e))?,
        None => Settings::default(),
    };
    let config = file
        .overridden_by(flags)
        .into_config()
        .map_err(|e| CliError::new(EXIT_USAGE, e))?;
    let listen = config.listen;
    init_logging();
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::new(EXIT_FAILED, format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot listen on {listen}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_or_else(|_| listen.to_string(), |a| a.to_string());
        eprintln!("letro-service listening on {bound} (log {})", config.origin);
        letro_service::serve(config, listener, shutdown_signal())
            .await
            .map_err(|e| CliError::new(EXIT_FAILED, e))
    })
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). The service's events carry ids,
/// sizes and causes, never secrets (service/README.md).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("shutting down: finishing requests in flight and publishing a last checkpoint");
}

/// Issues a token into the service's store and prints it once.
pub fn issue_token(data: &Path, role: &str, subject: &str, days: u64) -> Result<(), CliError> {
    let role: Role = role.parse().map_err(|_| {
        CliError::new(EXIT_USAGE, format!("unknown role {role:?}"))
            .hint("use relay, sender or admin")
    })?;
    if subject.trim().is_empty() {
        return Err(CliError::new(EXIT_USAGE, "--subject must not be empty"));
    }
    std::fs::create_dir_all(data)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot create {}: {e}", data.display())))?;
    let mut store = SqliteStore::open(data).map_err(|e| CliError::new(EXIT_INPUT, e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| CliError::new(EXIT_FAILED, e))?
        .as_secs();
    let expires = now.saturating_add(days.saturating_mul(86_400));
    let (token, record) = issue(&mut store, role, subject, expires, "cli")
        .map_err(|e| CliError::new(EXIT_FAILED, e))?;
    println!("{token}");
    eprintln!(
        "issued {} token {} for {subject}, valid {days} days; it is shown only this once",
        role.as_str(),
        record.id()
    );
    Ok(())
}

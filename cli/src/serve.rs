//! `letro serve` and `letro token issue`: wiring of letro-service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use letro_service::auth::{issue_token as issue, Role};
use letro_service::store::SqliteStore;
use letro_service::Config;

use crate::commands::{CliError, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};

/// Runs the service until Ctrl-C or SIGTERM.
pub fn run(
    data: PathBuf,
    listen: SocketAddr,
    origin: String,
    interval: u64,
    max_skew: u64,
    provers: usize,
) -> Result<(), CliError> {
    if interval == 0 {
        return Err(CliError::new(
            EXIT_USAGE,
            "--checkpoint-interval must be at least 1 second",
        ));
    }
    let mut config = Config::new(data, origin);
    config.listen = listen;
    config.checkpoint_interval = Duration::from_secs(interval);
    config.max_skew = max_skew;
    config.provers = provers;
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

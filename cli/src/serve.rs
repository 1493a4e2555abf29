//! `letro serve`, `letro token issue|revoke|list` and `letro log key`: wiring of
//! letro-service.

use std::path::Path;

use letro_service::admin::TokenInfo;
use letro_service::auth::{issue_token as issue, revoke_token_by_id, Role};
use letro_service::keys::{self, LOG_KEY_FILE};
use letro_service::origin::OriginError;
use letro_service::settings::{Settings, SettingsError};
use letro_service::store::{PostgresStore, SqliteStore, Store, DATABASE_FILE};
use letro_service::{ServeError, Service};

use crate::commands::{CliError, ProverWorkerArgs, StoreArgs, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};

/// Runs the service until Ctrl-C or SIGTERM, with `flags` (flags and environment) over the
/// settings file, if any, over the defaults.
pub fn run(config_file: Option<&Path>, flags: Settings) -> Result<(), CliError> {
    let file = match config_file {
        Some(path) => Settings::read(path).map_err(|e| CliError::new(EXIT_INPUT, e))?,
        None => Settings::default(),
    };
    let mut config = file.overridden_by(flags).into_config().map_err(|e| {
        let code = match e {
            SettingsError::Origin(_) => EXIT_INPUT,
            _ => EXIT_USAGE,
        };
        CliError::new(code, e)
    })?;
    // The object store's credentials and endpoint come from the environment, as AWS's tools
    // take them, never from a settings file.
    config.tiles_store_options = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let listen = config.listen;
    init_logging();
    if config.standby {
        // A replica listens at once and forwards every request to the service that sequences
        // the log, until it takes over and serves the log itself on the same socket.
        return on_listener(listen, |listener, bound| async move {
            eprintln!(
                "letro-service replica listening on {bound} (log {}): forwarding to the \
                 service that sequences the log until this one takes over",
                config.origin
            );
            let took_over = move |service: &Service| {
                eprintln!("letro-service took over the log: serving it on {bound}");
                eprintln!("log key: {}", service.log_vkey());
            };
            letro_service::replica::serve(config, listener, shutdown_signal(), took_over)
                .await
                .map_err(|e| match e {
                    ServeError::Replica(_) => CliError::new(EXIT_USAGE, e),
                    e => start_error(e),
                })
        });
    }
    on_listener(listen, |listener, bound| async move {
        eprintln!("letro-service listening on {bound} (log {})", config.origin);
        if config.database.is_some() && config.advertise_url.is_none() {
            // Replicas on the database forward to the address the leader announces.
            match listener
                .local_addr()
                .map(letro_service::replica::advertise_url_for)
            {
                Ok(Ok(url)) => config.advertise_url = Some(url),
                Ok(Err(e)) => eprintln!("warning: {e}; replicas cannot forward to this service"),
                Err(e) => eprintln!("warning: the listening address: {e}"),
            }
        }
        let service = Service::start(config).map_err(start_error)?;
        eprintln!("log key: {}", service.log_vkey());
        eprintln!(
            "give this key to verifiers out of band, for letro-verify --log-key \
             (`letro log key --data DIR` prints it again)"
        );
        service
            .serve(listener, shutdown_signal())
            .await
            .map_err(|e| CliError::new(EXIT_FAILED, e))
    })
}

/// Binds `listen` and runs `serve` with the listener and its bound address on a new tokio
/// runtime.
fn on_listener<F, Fut>(listen: std::net::SocketAddr, serve: F) -> Result<(), CliError>
where
    F: FnOnce(tokio::net::TcpListener, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>>,
{
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::new(EXIT_FAILED, format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let listener = letro_service::server::bind(listen)
            .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot listen on {listen}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_or_else(|_| listen.to_string(), |a| a.to_string());
        serve(listener, bound).await
    })
}

/// `letro witness`: runs the witness until Ctrl-C or SIGTERM, or prints its key.
pub fn witness(config: &Path, print_key: bool) -> Result<(), CliError> {
    use letro_service::witness::{Witness, WitnessConfig, WitnessError};
    let config = WitnessConfig::read(config).map_err(|e| CliError::new(EXIT_INPUT, e))?;
    let witness = Witness::open(&config).map_err(|e| {
        let code = match e {
            WitnessError::Key(_) | WitnessError::NameMismatch { .. } => EXIT_INPUT,
            _ => EXIT_FAILED,
        };
        CliError::new(code, e)
    })?;
    if print_key {
        println!("{}", witness.cosigner_key());
        return Ok(());
    }
    init_logging();
    on_listener(config.listen, |listener, bound| async move {
        eprintln!(
            "letro witness listening on {bound}, cosigning for {} log(s)",
            config.logs.len()
        );
        eprintln!("witness key: {}", witness.cosigner_key());
        let router = std::sync::Arc::new(witness).router();
        letro_service::server::run(
            listener,
            router,
            letro_service::server::Limits::default(),
            shutdown_signal(),
        )
        .await
        .map_err(|e| CliError::new(EXIT_FAILED, e))
    })
}

fn start_error(e: ServeError) -> CliError {
    let hint = match &e {
        ServeError::Origin(OriginError::Mismatch { .. }) => Some(
            "a log's origin is fixed at its first start (DATA/origin records it); \
             leave out --origin, LETRO_ORIGIN and the file's origin to use it",
        ),
        _ => None,
    };
    let err = CliError::new(EXIT_FAILED, e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). The service's events carry ids,
/// sizes and causes, never secrets (service/README.md).
fn init_logging() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for directive in letro_service::LOG_DIRECTIVES {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
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

/// `letro prover-worker`: proves a PostgreSQL store's jobs until Ctrl-C or SIGTERM.
pub fn prover_worker(a: &ProverWorkerArgs) -> Result<(), CliError> {
    if !letro_service::store::is_postgres_url(&a.database) {
        return Err(CliError::new(
            EXIT_USAGE,
            "--database must be a postgres:// or postgresql:// URL",
        )
        .hint("prover workers share a service's PostgreSQL store; on SQLite the service proves"));
    }
    if a.provers == 0 || a.provers > 64 {
        return Err(CliError::new(
            EXIT_USAGE,
            "--provers must be between 1 and 64",
        ));
    }
    if a.lease_seconds == 0 || a.lease_seconds > 86_400 {
        return Err(CliError::new(
            EXIT_USAGE,
            "--lease-seconds must be between 1 and 86400",
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = a
        .prover_threads
        .unwrap_or((cores / a.provers).max(1))
        .clamp(1, 256);
    let name = a.name.clone().unwrap_or_else(|| {
        format!(
            "worker-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    });
    init_logging();
    let stopping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stopping.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(EXIT_FAILED, format!("cannot start the async runtime: {e}")))?;
    std::thread::Builder::new()
        .name("letro-signals".into())
        .spawn(move || {
            rt.block_on(shutdown_signal());
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .map_err(|e| CliError::new(EXIT_FAILED, format!("cannot wait for signals: {e}")))?;
    let config = letro_service::jobs::WorkerConfig {
        database: a.database.clone(),
        log_vkey: a.log_vkey.clone(),
        keys: a.keys.clone(),
        provers: a.provers,
        threads,
        name: name.clone(),
        lease: a.lease_seconds,
    };
    eprintln!(
        "letro prover-worker {name}: {} prover(s) of {threads} thread(s), leases of {} s",
        a.provers, a.lease_seconds
    );
    letro_service::jobs::run_worker(&config, stopping).map_err(|e| {
        let code = match e {
            letro_service::jobs::WorkerError::Keys(_) => EXIT_USAGE,
            _ => EXIT_INPUT,
        };
        CliError::new(code, e)
    })
}

/// Issues a token into the service's store and prints it once.
pub fn issue_token(at: &StoreArgs, role: &str, subject: &str, days: u64) -> Result<(), CliError> {
    let role: Role = role.parse().map_err(|_| {
        CliError::new(EXIT_USAGE, format!("unknown role {role:?}"))
            .hint(format!("use {}", Role::names()))
    })?;
    if subject.trim().is_empty() {
        return Err(CliError::new(EXIT_USAGE, "--subject must not be empty"));
    }
    let mut store = open_store(at, true)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| CliError::new(EXIT_FAILED, e))?
        .as_secs();
    let expires = now.saturating_add(days.saturating_mul(86_400));
    let (token, record) = issue(store.as_mut(), role, subject, expires, "cli")
        .map_err(|e| CliError::new(EXIT_FAILED, e))?;
    println!("{token}");
    eprintln!(
        "issued {} token {} for {subject}, valid {days} days; it is shown only this once",
        role.as_str(),
        record.id()
    );
    Ok(())
}

/// Opens the service's store: the PostgreSQL database of `--database`, else the SQLite
/// database of `--data` (created with its directory only when `create`).
fn open_store(at: &StoreArgs, create: bool) -> Result<Box<dyn Store>, CliError> {
    if let Some(url) = &at.database {
        if !letro_service::store::is_postgres_url(url) {
            return Err(CliError::new(
                EXIT_USAGE,
                "--database must be a postgres:// or postgresql:// URL",
            ));
        }
        let store = PostgresStore::open(url).map_err(|e| CliError::new(EXIT_INPUT, e))?;
        return Ok(Box::new(store));
    }
    let Some(data) = at.data.as_deref() else {
        return Err(CliError::new(EXIT_USAGE, "no store given")
            .hint("pass --data DIR (the service's data directory) or --database URL"));
    };
    if create {
        std::fs::create_dir_all(data).map_err(|e| {
            CliError::new(EXIT_INPUT, format!("cannot create {}: {e}", data.display()))
        })?;
    } else if !data.join(DATABASE_FILE).is_file() {
        return Err(CliError::new(
            EXIT_INPUT,
            format!("{} holds no service database", data.display()),
        )
        .hint("pass the data directory of `letro serve --data DIR` (it holds letro.sqlite3)"));
    }
    let store = SqliteStore::open(data).map_err(|e| CliError::new(EXIT_INPUT, e))?;
    Ok(Box::new(store))
}

/// Revokes a token by id into the service's store (audited as actor `cli`); a running service
/// refuses it within a second.
pub fn revoke_token(at: &StoreArgs, id: &str) -> Result<(), CliError> {
    let well_formed = id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(
            CliError::new(EXIT_USAGE, format!("{id:?} is not a token id")).hint(
                "a token id is 16 lowercase hex digits; `letro token list --data DIR` shows them",
            ),
        );
    }
    let mut store = open_store(at, false)?;
    let now = letro_service::unix_now();
    match revoke_token_by_id(store.as_mut(), id, now, "cli")
        .map_err(|e| CliError::new(EXIT_FAILED, e))?
    {
        Some(record) => {
            let info = TokenInfo::from(&record);
            eprintln!(
                "revoked {} token {} of {} (revoked at {}); a running service refuses it within a second",
                info.role,
                info.id,
                info.subject,
                info.revoked_at.as_deref().unwrap_or("now")
            );
            Ok(())
        }
        None => Err(CliError::new(EXIT_FAILED, format!("no token has id {id}"))
            .hint("`letro token list --data DIR` shows the ids")),
    }
}

/// Lists the tokens of the service's store: never a token, only ids and records.
pub fn list_tokens(at: &StoreArgs, json: bool) -> Result<(), CliError> {
    let store = open_store(at, false)?;
    let mut records = store.tokens().map_err(|e| CliError::new(EXIT_FAILED, e))?;
    records.sort_by(|a, b| (&a.subject, a.id()).cmp(&(&b.subject, b.id())));
    let infos: Vec<TokenInfo> = records.iter().map(TokenInfo::from).collect();
    if json {
        let text = serde_json::to_string(&infos).map_err(|e| CliError::new(EXIT_FAILED, e))?;
        println!("{text}");
    } else {
        for t in &infos {
            let state = match &t.revoked_at {
                Some(at) => format!("revoked {at}"),
                None => "active".to_owned(),
            };
            println!(
                "{}  {:<6}  {}  expires {}  {state}",
                t.id, t.role, t.subject, t.expires_at
            );
        }
    }
    Ok(())
}

/// Prints the log's verifier key (C2SP vkey line) from `log_key`, else `DATA/log.key`.
pub fn log_key(data: Option<&Path>, log_key: Option<&Path>) -> Result<(), CliError> {
    let path = match (log_key, data) {
        (Some(file), _) => file.to_path_buf(),
        (None, Some(dir)) => dir.join(LOG_KEY_FILE),
        (None, None) => {
            return Err(CliError::new(EXIT_USAGE, "no data directory given")
                .hint("pass --data DIR (the service's data directory), or --log-key FILE"))
        }
    };
    if !path.exists() {
        return Err(CliError::new(
            EXIT_INPUT,
            format!("there is no log key at {}", path.display()),
        )
        .hint(
            "the service creates DATA/log.key at its first start (letro serve --data DIR); \
                 a key kept elsewhere is given with --log-key FILE",
        ));
    }
    let key = keys::read(&path).map_err(|e| CliError::new(EXIT_INPUT, e))?;
    println!("{}", key.verifier_key());
    Ok(())
}

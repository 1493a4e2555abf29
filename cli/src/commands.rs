//! Subcommands of `letro`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use letro_core::statement::{NUM_PUBLIC_INPUTS, PUBLIC_INPUT_NAMES, STATEMENT_ID};
use letro_prover::keys;

/// A failure with its exit code and an optional hint.
#[derive(Debug)]
pub struct CliError {
    /// What happened.
    pub message: String,
    /// What to try.
    pub hint: Option<String>,
    /// Exit code.
    pub code: u8,
}

impl CliError {
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

/// Exit code: the operation failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: an input could not be read or parsed.
pub const EXIT_INPUT: u8 = 3;

/// Letro proof-of-delivery toolkit.
#[derive(Debug, Parser)]
#[command(
    name = "letro",
    version,
    about,
    after_help = "Exit codes: 0 success, 1 failed, 2 usage error, 3 unreadable or malformed input.\n\
                  The end-to-end demo is its own binary: cargo run --release --bin letro-demo"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// About the circuit.
    Circuit {
        #[command(subcommand)]
        command: CircuitCommand,
    },
    /// Proving and verifying keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The multi-party setup ceremony: .r1cs export, phase 2 on a snarkjs .zkey chain, keys.
    Ceremony {
        #[command(subcommand)]
        command: crate::ceremony::CeremonyCommand,
    },
    /// Proves a delivery record for a time window and writes the bundle and the opening.
    Prove {
        /// The delivery record (JSON, letro-record/v1); `-` reads standard input.
        record: String,
        /// Window start, RFC 3339 UTC (`2026-11-01T00:00:00Z`).
        #[arg(long)]
        not_before: String,
        /// Window end, RFC 3339 UTC.
        #[arg(long)]
        not_after: String,
        /// Where to write the bundle; `-` writes standard output.
        #[arg(long)]
        out: String,
        /// Where to write the private opening (default: beside the bundle, `<out>.opening.json`).
        #[arg(long)]
        opening: Option<PathBuf>,
        /// Keys directory with manifest.json (default: the keys built into this binary).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Replace output files that already exist.
        #[arg(long)]
        force: bool,
    },
    /// Runs the prover service beside the relay (delivery log, checkpoints, receipts API).
    ///
    /// Each setting comes from its flag, else its LETRO_* environment variable, else the
    /// --config file (TOML, keys as in service/README.md), else the default shown.
    Serve(Box<ServeArgs>),
    /// Proves the proof jobs of a service whose store is PostgreSQL, from another process or
    /// machine: claims due jobs under a lease, proves, verifies each bundle against the log's
    /// key, and stores the result only under its claim. Stops on Ctrl-C or SIGTERM after the
    /// jobs in hand.
    ProverWorker(ProverWorkerArgs),
    /// API tokens in a data directory (stored only as hashes; a running service on it applies
    /// issues and revocations within a second).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The service's log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Runs a C2SP tlog-witness server for the logs its settings list, cosigning each
    /// checkpoint consistent with everything it cosigned before (keys: service/README.md).
    Witness {
        /// The witness's TOML settings: name, data, listen, [[log]] origin and vkeys.
        #[arg(long)]
        config: PathBuf,
        /// Print the witness's cosigner vkey (creating the key on first use) and exit.
        #[arg(long)]
        print_key: bool,
    },
    /// Follows a log through its C2SP tlog-tiles: verifies each checkpoint's signature (and
    /// witness quorum), recomputes both roots from every entry, and keeps its state; exits 1
    /// with a report and evidence on a fork, a rollback, a wrong root or a bad signature.
    Monitor {
        /// The log's tlog-tiles prefix (`https://relay.example/v1/log`) or a tiles directory.
        #[arg(long)]
        log: String,
        /// The log's public key: its C2SP vkey, or a file holding it (pinned out of band).
        #[arg(long)]
        log_key: String,
        /// The monitor's state directory (the last verified checkpoint and every entry).
        #[arg(long)]
        state: PathBuf,
        /// A C2SP tlog-policy file: every checkpoint must carry its witness quorum.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Check again every SECONDS until misbehaviour or Ctrl-C (default: check once).
        #[arg(long, value_name = "SECONDS")]
        follow: Option<u64>,
    },
    /// Evidence records (letro-evidence/v1, from GET /v1/evidence/...).
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Not a subcommand any more (hidden): says that the demo is the `letro-demo` binary, which
    /// links libsignal (AGPL-3.0-only) so that `letro` does not.
    #[command(hide = true, disable_help_flag = true)]
    Demo {
        /// Whatever followed `demo`, ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Writes an evidence record in the ETSI EN 319 522-3 evidence vocabulary (XML), for
    /// systems that consume ETSI evidence. The record is parsed strictly first; the XML carries
    /// no signature or log proof (verify the record itself with letro-verify).
    EtsiXml {
        /// The evidence record (`-`: standard input).
        record: String,
        /// Write the XML here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Writes the evidence certificate (PDF/A-3) of a bundle, with or without its opening, or
    /// of an evidence record: what is proven in plain words, what is not, and the documents
    /// embedded so that `letro-verify CERTIFICATE.pdf` checks them. The document is verified
    /// first; nothing is written for one that does not verify. Unsealed: the service seals
    /// the certificates it issues (GET .../certificate).
    Certificate(crate::certificate::CertificateArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A TOML settings file (keys: service/README.md); flags and environment override it.
    #[arg(long, env = "LETRO_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: the SQLite database and the log key (created on first start, 0600).
    #[arg(long, env = "LETRO_DATA")]
    data: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://` URL) for every storage area instead of the SQLite
    /// file in DATA (which still holds the origin and the log key).
    #[arg(long, env = "LETRO_DATABASE")]
    database: Option<String>,
    /// With --database: if another `letro serve` sequences that database's log, run as a
    /// replica: listen, forward every request to it, and take over when its session ends,
    /// instead of being refused. `--standby false` turns off a settings file's `standby`.
    #[arg(
        long,
        env = "LETRO_STANDBY",
        num_args = 0..=1,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    standby: Option<bool>,
    /// With --database: the base URL at which the other replicas reach this one
    /// [default: http:// and the listening address, unless it is 0.0.0.0 or [::]].
    #[arg(long, env = "LETRO_ADVERTISE_URL")]
    advertise_url: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LETRO_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// The log origin: first line of every checkpoint and the log key's name; fixed at the
    /// first start [default: the one DATA records, else localhost/letro-log].
    #[arg(long, env = "LETRO_ORIGIN")]
    origin: Option<String>,
    /// An existing log key file (mode 0600) instead of DATA/log.key.
    #[arg(long, env = "LETRO_LOG_KEY")]
    log_key: Option<PathBuf>,
    /// Seconds between checkpoints, when the log has grown [default: 5].
    #[arg(long, env = "LETRO_CHECKPOINT_INTERVAL")]
    checkpoint_interval: Option<u64>,
    /// Largest distance in seconds between a receipt's time and the service clock [default: 300].
    #[arg(long, env = "LETRO_MAX_SKEW")]
    max_skew: Option<u64>,
    /// Largest request body in bytes [default: 65536].
    #[arg(long, env = "LETRO_BODY_LIMIT")]
    body_limit: Option<usize>,
    /// Seconds a request may take before 503 timeout [default: 10].
    #[arg(long, env = "LETRO_REQUEST_TIMEOUT")]
    request_timeout: Option<u64>,
    /// Prover threads for proof jobs; 0 stores jobs without proving them [default: 1].
    #[arg(long, env = "LETRO_PROVERS")]
    provers: Option<usize>,
    /// Threads of each prover's own pool; 0 shares the cores out evenly [default: 0].
    #[arg(long, env = "LETRO_PROVER_THREADS")]
    prover_threads: Option<usize>,
    /// Build tables of the proving key's multiples when the prover loads (about 82 MB for the
    /// built-in key, proofs about 1.3 times faster); `--prover-tables false` proves without
    /// them [default: true].
    #[arg(
        long,
        env = "LETRO_PROVER_TABLES",
        num_args = 0..=1,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    prover_tables: Option<bool>,
    /// Prove with the keys in this directory (manifest.json and the keys it names, as
    /// `letro ceremony finalize` writes them): the deployment's own ceremony keys
    /// [default: the built-in demo ceremony keys].
    #[arg(long, value_name = "DIR", env = "LETRO_KEYS")]
    keys: Option<PathBuf>,
    /// Most queued or running proof jobs per sender [default: 16].
    #[arg(long, env = "LETRO_MAX_JOBS_PER_SENDER")]
    max_jobs_per_sender: Option<u64>,
    /// A host (or host:port) proof-job callbacks may go to; repeat, or comma-separate in the
    /// environment [default: none, callbacks refused].
    #[arg(
        long = "callback-host",
        env = "LETRO_CALLBACK_HOSTS",
        value_delimiter = ','
    )]
    callback_hosts: Vec<String>,
    /// An RFC 3161 time-stamping authority's URL: every published checkpoint is time-stamped
    /// by each (repeatable, or comma-separated in the environment) [default: none].
    #[arg(long = "tsa", env = "LETRO_TSA", value_delimiter = ',')]
    tsas: Vec<String>,
    /// A PEM file of CA certificates trusted for https:// callbacks besides the Mozilla roots.
    #[arg(long, env = "LETRO_CALLBACK_CA_FILE")]
    callback_ca_file: Option<PathBuf>,
    /// Also write the published log as C2SP tlog-tiles files (checkpoint, tile/...) to this
    /// directory after every publication, for a static server or CDN.
    #[arg(long, env = "LETRO_TILES_DIRECTORY")]
    tiles_directory: Option<PathBuf>,
    /// Or write them to object storage: s3://bucket/prefix (S3 or S3-compatible, configured by
    /// the AWS_* environment variables: AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, ...) or
    /// file:///directory.
    #[arg(long, env = "LETRO_TILES_STORE")]
    tiles_store: Option<String>,
    /// Seconds a delivery waits to be retrieved or refused before it is logged as expired
    /// [default: 1209600, 14 days].
    #[arg(long, env = "LETRO_RETENTION")]
    retention: Option<u64>,
    /// Seconds a connection has to send a complete request head (from its opening or its
    /// previous response) before it is closed [default: 10].
    #[arg(long, env = "LETRO_HEADER_TIMEOUT")]
    header_timeout: Option<u64>,
    /// Most connections served at once; lowered to fit the open-file limit [default: 4096].
    #[arg(long, env = "LETRO_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum CircuitCommand {
    /// Statement id, constraint count and public inputs.
    Info {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ProverWorkerArgs {
    /// The service's PostgreSQL database (`postgres://` URL).
    #[arg(long, env = "LETRO_DATABASE")]
    pub(crate) database: String,
    /// The log's verifier key, as `letro log key` prints it: every bundle is verified against
    /// it before it is stored.
    #[arg(long, env = "LETRO_LOG_VKEY")]
    pub(crate) log_vkey: String,
    /// The deployment's keys directory (as `letro serve --keys`) [default: the built-in keys].
    #[arg(long, env = "LETRO_KEYS")]
    pub(crate) keys: Option<PathBuf>,
    /// Jobs proved at once.
    #[arg(long, env = "LETRO_PROVERS", default_value_t = 1)]
    pub(crate) provers: usize,
    /// Threads of each prover's pool [default: cores / provers].
    #[arg(long, env = "LETRO_PROVER_THREADS")]
    pub(crate) prover_threads: Option<usize>,
    /// This worker's name in its claims [default: worker-PID-RANDOM].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Seconds a claim lasts; a job whose prover holds it longer is claimed again.
    #[arg(long, default_value_t = letro_service::jobs::LEASE_SECONDS)]
    pub(crate) lease_seconds: u64,
}

/// Where a service's store is: `--data DIR` (the SQLite database in it) or `--database URL`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// The service's data directory (its SQLite database, `letro.sqlite3`).
    #[arg(long, env = "LETRO_DATA", required_unless_present = "database")]
    pub(crate) data: Option<PathBuf>,
    /// The service's PostgreSQL database (`postgres://` URL), when it runs on one.
    #[arg(long, env = "LETRO_DATABASE")]
    pub(crate) database: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issues a token and prints it once on stdout.
    Issue {
        /// The service's store: its data directory (SQLite) or its PostgreSQL database.
        #[command(flatten)]
        store: StoreArgs,
        /// relay, sender, client or admin.
        #[arg(long)]
        role: String,
        /// Who the token is for (for example the sender's account id).
        #[arg(long)]
        subject: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 90)]
        days: u64,
    },
    /// Revokes a token by its id (audited as actor cli, like the admin API's revocation).
    Revoke {
        /// The service's store: its data directory (SQLite) or its PostgreSQL database.
        #[command(flatten)]
        store: StoreArgs,
        /// The token's id: 16 lowercase hex digits, as `letro token list` shows it.
        id: String,
    },
    /// Lists the tokens (id, role, subject, expiry, revocation), never a token itself.
    List {
        /// The service's store: its data directory (SQLite) or its PostgreSQL database.
        #[command(flatten)]
        store: StoreArgs,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Prints the log's public key (a C2SP vkey line, for letro-verify --log-key) from a data
    /// directory, without starting the service.
    Key {
        /// The service's data directory (its log.key).
        #[arg(long, env = "LETRO_DATA")]
        data: Option<PathBuf>,
        /// The log key file, when it is not DATA/log.key.
        #[arg(long, env = "LETRO_LOG_KEY")]
        log_key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Runs a Groth16 setup and writes the keys and their manifest.
    Setup {
        /// Required: this setup is for development only (one party knows its randomness).
        #[arg(long)]
        insecure_dev: bool,
        /// Directory to write into.
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Circuit {
            command: CircuitCommand::Info { json },
        } => circuit_info(json),
        Command::Keys {
            command: KeysCommand::Setup { insecure_dev, dir },
        } => keys_setup(insecure_dev, dir),
        Command::Ceremony { command } => crate::ceremony::run(command),
        Command::Prove {
            record,
            not_before,
            not_after,
            out,
            opening,
            keys,
            force,
        } => crate::prove::run(&record, &not_before, &not_after, &out, opening, keys, force),
        Command::Demo { .. } => Err(CliError::new(
            EXIT_USAGE,
            "the demo is no longer a letro subcommand: it is the letro-demo binary",
        )
        .hint("run `cargo run --release --bin letro-demo` (or `letro-demo [--dir DIR]`)")),
        Command::ProverWorker(a) => crate::serve::prover_worker(&a),
        Command::Serve(a) => {
            let flags = letro_service::settings::Settings {
                data: a.data,
                database: a.database,
                standby: a.standby,
                advertise_url: a.advertise_url,
                listen: a.listen,
                origin: a.origin,
                log_key: a.log_key,
                evidence_seal_key: None,
                evidence_seal_certificate: None,
                checkpoint_interval_seconds: a.checkpoint_interval,
                max_skew_seconds: a.max_skew,
                body_limit_bytes: a.body_limit,
                request_timeout_seconds: a.request_timeout,
                provers: a.provers,
                prover_threads: a.prover_threads,
                prover_tables: a.prover_tables,
                keys: a.keys,
                max_jobs_per_sender: a.max_jobs_per_sender,
                callback_hosts: (!a.callback_hosts.is_empty()).then_some(a.callback_hosts),
                callback_backoff_ms: None,
                callback_ca_file: a.callback_ca_file,
                tiles_directory: a.tiles_directory,
                tiles_store: a.tiles_store,
                retention_seconds: a.retention,
                evidence_policy: None,
                max_envelope_bytes: None,
                header_timeout_seconds: a.header_timeout,
                max_connections: a.max_connections,
                witness: None,
                witness_quorum: None,
                witness_timeout_seconds: None,
                timestamp_authorities: (!a.tsas.is_empty()).then_some(a.tsas),
                delivery_callback: None,
            };
            crate::serve::run(a.config.as_deref(), flags)
        }
        Command::Token {
            command:
                TokenCommand::Issue {
                    store,
                    role,
                    subject,
                    days,
                },
        } => crate::serve::issue_token(&store, &role, &subject, days),
        Command::Token {
            command: TokenCommand::Revoke { store, id },
        } => crate::serve::revoke_token(&store, &id),
        Command::Token {
            command: TokenCommand::List { store, json },
        } => crate::serve::list_tokens(&store, json),
        Command::Log {
            command: LogCommand::Key { data, log_key },
        } => crate::serve::log_key(data.as_deref(), log_key.as_deref()),
        Command::Witness { config, print_key } => crate::serve::witness(&config, print_key),
        Command::Evidence {
            command: EvidenceCommand::EtsiXml { record, out, force },
        } => {
            let bytes = crate::files::read_input(&record)?;
            let parsed = letro_core::evidence::EvidenceRecord::parse(&bytes).map_err(|e| {
                CliError::new(EXIT_INPUT, format!("{record}: {e}"))
                    .hint("give an evidence record as GET /v1/evidence/... returned it")
            })?;
            let xml = parsed.to_etsi_xml();
            match out {
                Some(path) => crate::files::write_output(&path, xml.as_bytes(), force, false),
                None => crate::files::write_stdout(xml.as_bytes()),
            }
        }
        Command::Evidence {
            command: EvidenceCommand::Certificate(a),
        } => crate::certificate::run(a),
        Command::Monitor {
            log,
            log_key,
            state,
            policy,
            follow,
        } => crate::monitor::run(crate::monitor::MonitorArgs {
            log,
            log_key,
            state,
            policy,
            follow,
        }),
    }
}

fn constraints() -> Result<usize, CliError> {
    letro_circuits::circuit::constraint_count().map_err(|e| {
        CliError::new(
            EXIT_FAILED,
            format!("internal error: circuit synthesis failed: {e}"),
        )
    })
}

fn circuit_info(json: bool) -> Result<(), CliError> {
    let n = constraints()?;
    let parts = letro_circuits::circuit::constraint_breakdown().map_err(|e| {
        CliError::new(
            EXIT_FAILED,
            format!("internal error: circuit synthesis failed: {e}"),
        )
    })?;
    if json {
        let breakdown: Vec<_> = parts
            .iter()
            .map(|(part, c)| serde_json::json!({ "part": part, "constraints": c }))
            .collect();
        let v = serde_json::json!({
            "statement": STATEMENT_ID,
            "constraints": n,
            "public_inputs": NUM_PUBLIC_INPUTS,
            "public_input_names": PUBLIC_INPUT_NAMES,
            "curve": "bn254",
            "proof_system": "groth16",
            "breakdown": breakdown,
        });
        println!("{v}");
    } else {
        println!("statement:      {STATEMENT_ID}");
        println!("constraints:    {n}");
        println!(
            "public inputs:  {NUM_PUBLIC_INPUTS} ({})",
            PUBLIC_INPUT_NAMES.join(", ")
        );
        println!("proof system:   Groth16 over BN254");
        println!("constraints by part:");
        for (part, c) in &parts {
            println!("  {c:>6}  {part}");
        }
    }
    Ok(())
}

fn keys_setup(insecure_dev: bool, dir: PathBuf) -> Result<(), CliError> {
    if !insecure_dev {
        return Err(CliError::new(2, "only the insecure development setup is implemented")
            .hint("pass --insecure-dev to make development keys; production keys come from a multi-party ceremony: letro ceremony (CEREMONY.md)"));
    }
    let n = constraints()?;
    eprintln!("running an INSECURE development setup for {STATEMENT_ID} ({n} constraints)...");
    let mut rng = rand::rngs::OsRng;
    let pk = keys::setup_insecure_dev(&mut rng).map_err(|e| CliError::new(EXIT_FAILED, e))?;
    let m = keys::write_dev_keys(&dir, &pk, n).map_err(|e| CliError::new(EXIT_INPUT, e))?;
    println!(
        "wrote {} ({} bytes, sha256 {})",
        dir.join(&m.proving_key.file).display(),
        m.proving_key.bytes,
        m.proving_key.sha256
    );
    println!(
        "wrote {} ({} bytes, sha256 {})",
        dir.join(&m.verifying_key.file).display(),
        m.verifying_key.bytes,
        m.verifying_key.sha256
    );
    println!("wrote {}", dir.join(keys::MANIFEST).display());
    Ok(())
}

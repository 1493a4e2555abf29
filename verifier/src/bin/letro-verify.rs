//! `letro-verify`: checks Letro proof-of-delivery bundles offline.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use letro_core::note::VerifierKey;
use letro_verifier::checks::{check_ciphertext, check_opening};
use letro_verifier::{KeySource, PinnedKey, VerifiedDelivery, Verifier, VerifyError};
use serde_json::json;

const AFTER_HELP: &str = "\
Exit codes:
  0  every bundle verified (and the ciphertext and opening, when given, match)
  1  a check failed: bad proof, wrong root, checkpoint signature invalid or not by a trusted
     log key, ciphertext or opening mismatch
  2  usage error (including a malformed --log-key or --vk)
  3  could not verify: unreadable or malformed input, unsupported version, unknown verifying
     key, no trusted log key given
With several bundles the exit code is the highest of their codes.";

/// Verify Letro proof-of-delivery bundles offline, trusting only pinned keys.
#[derive(Debug, Parser)]
#[command(name = "letro-verify", version, about, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Bundle files; `-` reads standard input.
    bundles: Vec<String>,
    /// A trusted log key: a C2SP verifier-key string, or a file holding one. Repeatable.
    #[arg(long = "log-key", value_name = "KEY")]
    log_keys: Vec<String>,
    /// Another deployment's verifying key (canonical compressed) to trust besides the built-in one.
    #[arg(long, value_name = "FILE")]
    vk: Vec<PathBuf>,
    /// The ciphertext: its SHA-256 must be the statement's H (one bundle only).
    #[arg(long, value_name = "FILE")]
    ciphertext: Option<PathBuf>,
    /// The opening: it must open the statement's recipient commitment (one bundle only).
    #[arg(long, value_name = "FILE")]
    opening: Option<PathBuf>,
    /// Print one JSON object with every check and its result.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes proof.json, public.json and verification_key.json for `snarkjs groth16 verify`.
    ExportSnarkjs {
        /// The bundle.
        bundle: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

struct Usage(String, Option<&'static str>);

fn usage_exit(u: Usage) -> ExitCode {
    eprintln!("error: {}", u.0);
    if let Some(h) = u.1 {
        eprintln!("hint: {h}");
    }
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ExportSnarkjs { bundle, out }) = cli.command {
        return export(&bundle, &out);
    }
    if cli.bundles.is_empty() {
        return usage_exit(Usage(
            "no bundle given".into(),
            Some("letro-verify BUNDLE --log-key KEY"),
        ));
    }
    if cli.bundles.len() > 1 && (cli.ciphertext.is_some() || cli.opening.is_some()) {
        return usage_exit(Usage(
            "--ciphertext and --opening take exactly one bundle".into(),
            None,
        ));
    }
    let verifier = match build_verifier(&cli) {
        Ok(v) => v,
        Err(u) => return usage_exit(u),
    };
    let mut reports = Vec::new();
    let inputs: Vec<(String, Result<Vec<u8>, String>)> =
        cli.bundles.iter().map(|b| (b.clone(), read(b))).collect();
    let readable: Vec<&[u8]> = inputs
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(Vec::as_slice))
        .collect();
    let mut results = if readable.len() > 1 {
        verifier.verify_batch(&readable)
    } else {
        readable.iter().map(|b| verifier.verify(b)).collect()
    }
    .into_iter();
    for (name, input) in &inputs {
        let report = match input {
            Err(e) => Report::unreadable(name, e),
            Ok(_) => match results.next() {
                Some(r) => Report::new(name, r, &cli),
                None => Report::unreadable(name, "internal error: missing result"),
            },
        };
        reports.push(report);
    }
    let code = reports.iter().map(|r| r.code).max().unwrap_or(0);
    if cli.json {
        let v = json!({ "exit_code": code, "bundles": reports.iter().map(Report::to_json).collect::<Vec<_>>() });
        println!("{v}");
    } else {
        for r in &reports {
            r.print();
        }
    }
    ExitCode::from(code)
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    let max = letro_core::bundle::MAX_DOCUMENT_LEN;
    let mut buf = Vec::new();
    let r = if path == "-" {
        std::io::stdin().take(max as u64 + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(max as u64 + 1).read_to_end(&mut buf))
    };
    r.map_err(|e| format!("cannot read {path}: {e}"))?;
    if buf.len() > max {
        return Err(format!(
            "{path} is larger than the 1 MiB limit for a bundle"
        ));
    }
    Ok(buf)
}

fn build_verifier(cli: &Cli) -> Result<Verifier, Usage> {
    let mut log_keys = Vec::new();
    for k in &cli.log_keys {
        let key =
            VerifierKey::parse(k.trim()).or_else(|parse_err| match std::fs::read_to_string(k) {
                Ok(text) => VerifierKey::parse(text.trim()).map_err(|e| {
                    format!("--log-key {k}: the file does not hold a verifier key: {e}")
                }),
                Err(_) => Err(format!(
                    "--log-key {k:?}: not a C2SP verifier key ({parse_err}) nor a readable file"
                )),
            });
        log_keys.push(key.map_err(|e| {
            Usage(
                e,
                Some("pass the log's key as name+hash+base64, or a file holding that line"),
            )
        })?);
    }
    let mut v = Verifier::new(log_keys)
        .map_err(|e| Usage(format!("internal error: built-in verifying key: {e}"), None))?;
    for f in &cli.vk {
        let bytes =
            std::fs::read(f).map_err(|e| Usage(format!("--vk {}: {e}", f.display()), None))?;
        let key = PinnedKey::new(&bytes, KeySource::Given(f.display().to_string()))
            .map_err(|e| Usage(format!("--vk {}: {e}", f.display()), Some("give the canonical compressed verifying key file from the other deployment's keys/")))?;
        v.add_key(key);
    }
    Ok(v)
}

const STEPS: [&str; 6] = [
    "parse",
    "verifying key",
    "checkpoint signature",
    "log root",
    "public inputs",
    "proof",
];

struct Check {
    name: String,
    ok: Option<bool>,
    detail: String,
}

struct Report {
    file: String,
    code: u8,
    checks: Vec<Check>,
    verified: Option<VerifiedDelivery>,
    fingerprint: Option<String>,
    identity: Option<String>,
}

fn when(t: u64) -> String {
    match letro_core::bundle::format_time(t) {
        Some(s) => {
            let s = s.replace('T', " ").replace('Z', "");
            let s = s.strip_suffix(":00").map(str::to_string).unwrap_or(s);
            format!("{s} UTC")
        }
        None => format!("{t} (Unix seconds)"),
    }
}

impl Report {
    fn unreadable(file: &str, e: &str) -> Self {
        let mut checks = vec![Check {
            name: "read".into(),
            ok: Some(false),
            detail: e.into(),
        }];
        checks.extend(STEPS.iter().enumerate().map(|(i, s)| Check {
            name: format!("{} {s}", i + 1),
            ok: None,
            detail: "not checked".into(),
        }));
        Self {
            file: file.into(),
            code: 3,
            checks,
            verified: None,
            fingerprint: None,
            identity: None,
        }
    }

    fn new(file: &str, r: Result<VerifiedDelivery, VerifyError>, cli: &Cli) -> Self {
        let mut checks = Vec::new();
        let failed_step = r.as_ref().err().map(|e| e.step() as usize);
        for (i, s) in STEPS.iter().enumerate() {
            let step = i + 1;
            let (ok, detail) = match (&r, failed_step) {
                (Err(e), Some(f)) if step == f => (Some(false), chain(e)),
                (Err(_), Some(f)) if step > f => (None, "not checked".into()),
                (_, _) => (Some(true), ok_detail(step, r.as_ref().ok())),
            };
            checks.push(Check {
                name: format!("{step} {s}"),
                ok,
                detail,
            });
        }
        let mut code = r.as_ref().err().map_or(0, VerifyError::exit_code);
        let mut fingerprint = None;
        let mut identity = None;
        if let Ok(v) = &r {
            if let Some(path) = &cli.ciphertext {
                let res = std::fs::File::open(path)
                    .map_err(letro_verifier::checks::CiphertextError::Io)
                    .and_then(|f| check_ciphertext(std::io::BufReader::new(f), v.statement()));
                let (ok, detail) = match &res {
                    Ok(()) => (true, format!("SHA-256 of {} is H", path.display())),
                    Err(e) => {
                        code = code.max(e.exit_code());
                        (false, e.to_string())
                    }
                };
                checks.push(Check {
                    name: "ciphertext".into(),
                    ok: Some(ok),
                    detail,
                });
            }
            if let Some(path) = &cli.opening {
                let res = std::fs::read(path)
                    .map_err(|e| (3u8, format!("cannot read {}: {e}", path.display())))
                    .and_then(|b| {
                        check_opening(&b, v.statement()).map_err(|e| (e.exit_code(), e.to_string()))
                    });
                let (ok, detail) = match res {
                    Ok(o) => {
                        fingerprint = Some(o.fingerprint.clone());
                        identity.clone_from(&o.identity_key);
                        let certified = match &o.identity_key {
                            Some(k) => format!("; certified by Signal identity key {k}"),
                            None => "; no certificate: the key is not tied to an identity".into(),
                        };
                        (
                            true,
                            format!(
                                "opens the commitment; receipt key fingerprint {}{certified}",
                                o.fingerprint
                            ),
                        )
                    }
                    Err((c, e)) => {
                        code = code.max(c);
                        (false, e)
                    }
                };
                checks.push(Check {
                    name: "opening".into(),
                    ok: Some(ok),
                    detail,
                });
            }
        } else {
            for (flag, name) in [
                (cli.ciphertext.is_some(), "ciphertext"),
                (cli.opening.is_some(), "opening"),
            ] {
                if flag {
                    checks.push(Check {
                        name: name.into(),
                        ok: None,
                        detail: "not checked".into(),
                    });
                }
            }
        }
        let verified = if code == 0 { r.ok() } else { None };
        Self {
            file: file.into(),
            code,
            checks,
            verified,
            fingerprint,
            identity,
        }
    }

    fn print(&self) {
        println!("{}", self.file);
        for c in &self.checks {
            let tag = match c.ok {
                Some(true) => "ok  ",
                Some(false) => "FAIL",
                None => "--  ",
            };
            println!("  [{tag}] {}: {}", c.name, c.detail);
        }
        match &self.verified {
            Some(v) => {
                let s = v.statement();
                println!(
                    "verified: the ciphertext with SHA-256 {}",
                    s.ciphertext_hash.to_hex()
                );
                println!(
                    "  was delivered between {} and {}",
                    when(s.not_before),
                    when(s.not_after)
                );
                match &self.fingerprint {
                    Some(f) => {
                        println!("  to the recipient with receipt key fingerprint {f}");
                        if let Some(k) = &self.identity {
                            println!("  (a key certified by the Signal identity key {k})");
                        }
                    }
                    None => println!(
                        "  to the recipient committed to by {}",
                        letro_core::field::fr_to_decimal(&s.recipient_commitment)
                    ),
                }
                let cp = v.checkpoint();
                println!(
                    "  and is recorded in the log {} (checkpoint of size {} published {})",
                    cp.origin,
                    cp.size,
                    when(cp.time)
                );
                match v.key_source() {
                    KeySource::Given(f) => println!("  NOTE: proved under the verifying key given with --vk {f}, not the built-in one"),
                    KeySource::Embedded => {
                        if letro_verifier::embedded_provenance().as_deref() != Some("ceremony") {
                            println!("  WARNING: the built-in verifying key comes from an INSECURE-DEV setup: whoever ran it could forge proofs");
                        }
                    }
                }
            }
            None => println!("NOT verified (exit code {})", self.code),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let checks: Vec<_> = self
            .checks
            .iter()
            .map(|c| json!({"check": c.name, "result": match c.ok { Some(true) => "ok", Some(false) => "failed", None => "not_checked" }, "detail": c.detail}))
            .collect();
        let statement = self.verified.as_ref().map(|v| {
            let s = v.statement();
            json!({
                "ciphertext_sha256": s.ciphertext_hash.to_hex(),
                "not_before": letro_core::bundle::format_time(s.not_before),
                "not_after": letro_core::bundle::format_time(s.not_after),
                "recipient_commitment": letro_core::field::fr_to_decimal(&s.recipient_commitment),
                "log_root": letro_core::field::fr_to_decimal(&s.log_root),
                "log_origin": v.checkpoint().origin,
                "log_size": v.checkpoint().size,
                "checkpoint_time": letro_core::bundle::format_time(v.checkpoint().time),
                "verifying_key_sha256": hex::encode(v.key_sha256()),
                "verifying_key_source": match v.key_source() { KeySource::Embedded => "built-in".to_string(), KeySource::Given(f) => f.clone() },
                "verifying_key_provenance": match v.key_source() { KeySource::Embedded => letro_verifier::embedded_provenance(), KeySource::Given(_) => None },
                "recipient_fingerprint": self.fingerprint,
                "recipient_identity_key": self.identity,
            })
        });
        json!({"file": self.file, "verified": self.verified.is_some(), "exit_code": self.code, "checks": checks, "statement": statement})
    }
}

/// An error with its causes, `outer: inner: ...`, without repeating a cause the outer
/// message already shows.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out = format!("{out}: {msg}");
        }
        cur = s.source();
    }
    out
}

fn ok_detail(step: usize, v: Option<&VerifiedDelivery>) -> String {
    let Some(v) = v else { return "passed".into() };
    match step {
        1 => "well-formed letro-bundle/v1, delivered-within/v1".into(),
        2 => format!(
            "{} ({})",
            hex::encode(v.key_sha256()),
            match v.key_source() {
                KeySource::Embedded => "built in".to_string(),
                KeySource::Given(f) => format!("given with --vk {f}"),
            }
        ),
        3 => format!("signed by {}", v.log_signers().join(", ")),
        4 => format!(
            "equals the root of checkpoint {} size {}",
            v.checkpoint().origin,
            v.checkpoint().size
        ),
        5 => "six canonical field elements in range".into(),
        6 => "Groth16 proof verifies".into(),
        _ => "passed".into(),
    }
}

fn export(bundle_path: &str, out: &std::path::Path) -> ExitCode {
    let bytes = match read(bundle_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let fail = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(3)
    };
    let bundle = match letro_core::bundle::ParsedBundle::parse(&bytes) {
        Ok(b) => b,
        Err(e) => return fail(format!("{bundle_path}: malformed bundle: {e}")),
    };
    let files = match letro_verifier::snarkjs::export_embedded(&bundle) {
        Ok(f) => f,
        Err(e) => return fail(format!("{bundle_path}: {e}")),
    };
    if let Err(e) = letro_verifier::snarkjs::write_dir(&files, out) {
        return fail(e.to_string());
    }
    println!(
        "wrote {0}/proof.json, {0}/public.json, {0}/verification_key.json",
        out.display()
    );
    eprintln!("note: snarkjs checks the Groth16 equation only; letro-verify also checks the checkpoint signature and the root");
    ExitCode::SUCCESS
}

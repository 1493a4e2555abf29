//! `letro-verify`: checks Letro proof-of-delivery bundles offline.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use letro_core::bundle::{OpeningParseError, ParsedBundle, OPENING_VERSION, RECORD_VERSION};
use letro_log::checkpoint::CheckpointVerifyError;
use letro_log::note::{NoteVerifyError, VerifierKey};
use letro_verifier::checks::{
    check_ciphertext, check_opening_for, CiphertextError, OpenedRecipient, OpeningCheckError,
};
use letro_verifier::findings::{findings, when};
use letro_verifier::{
    KeySource, PinnedKey, TrustLevel, TrustPolicy, VerifiedDelivery, Verifier, VerifyError,
};
use serde_json::{json, Value};

mod certificate_input;
mod evidence_report;
use evidence_report::{is_evidence, EvidenceReport};

const AFTER_HELP: &str = "\
Trust: a Groth16 proof is only as good as its keys' setup. Only keys from a multi-party
ceremony are accepted by default: a deployment's keys directory given with --keys DIR whose
manifest records its ceremony (CEREMONY.md). The built-in keys come from a DEMO ceremony whose
contributors were all Letro's developers and need --accept-demo-ceremony-keys; the earlier
INSECURE-DEV keys (still built in, so that bundles made under them stay checkable) need
--accept-insecure-dev-keys, and keys given with --vk need --accept-user-supplied-keys: their
makers could forge proofs, and the output says so.

Exit codes:
  0  every bundle verified (and the ciphertext and opening, when given, match)
  1  a check failed: bad proof, wrong root, checkpoint signature invalid or not by a trusted
     log key, with --policy a witness cosignature invalid or the quorum not met (the report
     names the witnesses that did cosign), ciphertext or opening mismatch
  2  usage error (including a malformed --log-key, --vk, --keys or --policy file)
  3  could not verify: unreadable or malformed input, unsupported version, unknown verifying
     key, no trusted log key given
  4  not verified: the bundle's verifying key is not trusted (insecure-dev, demo-ceremony or
     user-supplied)
     and no --accept-... flag accepts it
Evidence records (letro-evidence/v1, from GET /v1/evidence/...) are checked in five steps:
parse; the event (its leaf recomputed, the recipient's signature and certificate for a receipt
or refusal); the checkpoint signature (and --policy); the inclusion of the leaf in the
checkpoint's RFC 6962 tree; the RFC 3161 time-stamps over the checkpoint (each intact; with
--tsa-cert, those of a trusted TSA bound the event time by the TSA's clock). Their exit codes
are the same (1 a check failed or a time-stamp was altered, 3 malformed or no trusted log key).
Evidence certificates (PDF, SPEC 5.14) are read in a check 0: the documents they embed (the
bundle with its opening, or the evidence record) are then verified as above. The page text
and the PDF's seal are not checked here (a PDF signature validator checks the seal); an
attachment that differs from the main document's own copy fails (1), an unreadable PDF or an
unexpected attachment is malformed (3).
With several bundles the exit code is the highest of their codes.";

/// Verify Letro proof-of-delivery bundles and evidence records offline, trusting only pinned
/// keys.
#[derive(Debug, Parser)]
#[command(name = "letro-verify", version, about, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Bundle files, evidence records (letro-evidence/v1) or evidence certificates (PDF); `-`
    /// reads standard input.
    bundles: Vec<String>,
    /// A trusted log key: a C2SP verifier-key string, or a file holding one. Repeatable. Get it
    /// from the relay operator, out of band; never from a bundle.
    #[arg(long = "log-key", value_name = "KEY")]
    log_keys: Vec<String>,
    /// A PEM file of trusted RFC 3161 TSA certificates (a TSA's root CA, or the TSA's own
    /// certificate). Repeatable. A time-stamp whose TSA chains to one of them bounds the event
    /// time by the TSA's clock; without this, time-stamps are checked for integrity only.
    #[arg(long = "tsa-cert", value_name = "PEM")]
    tsa_certs: Vec<PathBuf>,
    /// A C2SP tlog-policy file (log, witness, group and quorum lines): the checkpoint must
    /// carry cosignatures of its witnesses meeting its quorum, and its logs are trusted log
    /// keys. Get it, like the log key, out of band.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Another deployment's verifying key (canonical compressed) to pin besides the built-in
    /// one. Its provenance is unknown: bundles under it verify only with
    /// --accept-user-supplied-keys.
    #[arg(long, value_name = "FILE")]
    vk: Vec<PathBuf>,
    /// Another deployment's keys directory (its manifest.json and the verifying key it names),
    /// as published after its setup ceremony (CEREMONY.md). The key is pinned with the
    /// manifest's statement and trust level: `ceremony` when the manifest records a ceremony
    /// (its phase 1, circuit hash and contributions; the transcript itself is checked with
    /// `letro ceremony verify` or `snarkjs zkey verify`, not here). Get the directory from the
    /// deployment's publication, never from a bundle.
    #[arg(long, value_name = "DIR")]
    keys: Vec<PathBuf>,
    /// The ciphertext: its SHA-256 must be the statement's H (one bundle only).
    #[arg(long, value_name = "FILE")]
    ciphertext: Option<PathBuf>,
    /// The opening: it must open the statement's recipient commitment (one bundle only).
    #[arg(long, value_name = "FILE")]
    opening: Option<PathBuf>,
    /// Accept bundles proved under INSECURE-DEV keys. RISK: whoever ran that setup can forge a
    /// bundle for any statement; use for development and tests only.
    #[arg(long)]
    accept_insecure_dev_keys: bool,
    /// Accept bundles proved under keys from a DEMO ceremony (the built-in keys), whose
    /// contributors were all Letro's developers. RISK: together they can forge a bundle for any
    /// statement; use for demonstrations and tests only.
    #[arg(long)]
    accept_demo_ceremony_keys: bool,
    /// Accept bundles proved under a key given with --vk. RISK: this verifier cannot check
    /// where that key came from; whoever made it may be able to forge proofs.
    #[arg(long)]
    accept_user_supplied_keys: bool,
    /// Print one JSON object with every check, its result, a code and hint per failure, and
    /// every warning.
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
            Some("verify each bundle with its own ciphertext and opening in a separate run"),
        ));
    }
    let verifier = match build_verifier(&cli) {
        Ok(v) => v,
        Err(u) => return usage_exit(u),
    };
    let mut reports = Vec::new();
    // Evidence certificates (PDF) are unpacked into the documents they embed.
    let inputs: Vec<Input> = cli
        .bundles
        .iter()
        .map(|b| Input::read(b, read(b)))
        .collect();
    if cli.opening.is_some() && inputs.iter().any(|i| i.opening.is_some()) {
        return usage_exit(Usage(
            "--opening was given, but the certificate embeds an opening".into(),
            Some("verify the certificate alone: its opening.json is checked"),
        ));
    }
    // --ciphertext and --opening check a bundle's statement; an evidence record has neither.
    let has_evidence = inputs
        .iter()
        .any(|i| i.bytes.as_ref().is_ok_and(|b| is_evidence(b)));
    if has_evidence && (cli.ciphertext.is_some() || cli.opening.is_some()) {
        return usage_exit(Usage(
            "--ciphertext and --opening apply to bundles, not to evidence records".into(),
            Some("an evidence record names H itself; compare it with sha256sum of the ciphertext"),
        ));
    }
    // Evidence records are verified on their own; bundles (in a batch when there are several).
    let readable: Vec<&[u8]> = inputs
        .iter()
        .filter_map(|i| i.bytes.as_ref().ok().map(Vec::as_slice))
        .filter(|b| !is_evidence(b))
        .collect();
    let mut results = if readable.len() > 1 {
        verifier.verify_batch(&readable)
    } else {
        readable.iter().map(|b| verifier.verify(b)).collect()
    }
    .into_iter();
    for input in inputs {
        let name = input.name;
        let mut report = match input.bytes {
            Err((code, e)) => {
                let mut r = Report::unreadable(&name, e);
                r.code = code;
                AnyReport::Bundle(r)
            }
            Ok(bytes) if is_evidence(&bytes) => {
                AnyReport::Evidence(EvidenceReport::new(&name, &bytes, &verifier))
            }
            Ok(bytes) => AnyReport::Bundle(match results.next() {
                Some(r) => Report::new(&name, &bytes, r, &cli, input.opening.as_deref(), &verifier),
                None => Report::unreadable(
                    &name,
                    Failure::new(
                        "Internal",
                        "internal error: missing result",
                        "please report this",
                    ),
                ),
            }),
        };
        if let Some(check) = input.certificate {
            report.prepend(check);
        }
        reports.push(report);
    }
    let code = reports.iter().map(AnyReport::code).max().unwrap_or(0);
    if cli.json {
        let v = json!({ "exit_code": code, "bundles": reports.iter().map(AnyReport::to_json).collect::<Vec<_>>() });
        println!("{v}");
    } else {
        for r in &reports {
            r.print();
        }
    }
    ExitCode::from(code)
}

/// The report of one input: a bundle's, or an evidence record's.
enum AnyReport {
    Bundle(Report),
    Evidence(EvidenceReport),
}

impl AnyReport {
    fn code(&self) -> u8 {
        match self {
            Self::Bundle(r) => r.code,
            Self::Evidence(r) => r.code,
        }
    }
    fn print(&self) {
        match self {
            Self::Bundle(r) => r.print(),
            Self::Evidence(r) => r.print(),
        }
    }
    fn to_json(&self) -> Value {
        match self {
            Self::Bundle(r) => r.to_json(),
            Self::Evidence(r) => r.to_json(),
        }
    }
    /// Puts `check` (a certificate's) before the document's own checks.
    fn prepend(&mut self, check: Check) {
        match self {
            Self::Bundle(r) => r.checks.insert(0, check),
            Self::Evidence(r) => r.prepend(check),
        }
    }
}

/// One input: a document (a bundle or an evidence record), read from a file or out of an
/// evidence certificate (PDF), with the certificate's opening and check.
struct Input {
    name: String,
    bytes: Result<Vec<u8>, (u8, Failure)>,
    opening: Option<Vec<u8>>,
    certificate: Option<Check>,
}

impl Input {
    fn read(name: &str, bytes: Result<Vec<u8>, Failure>) -> Self {
        let mut input = Self {
            name: name.to_owned(),
            bytes: bytes.map_err(|f| (3, f)),
            opening: None,
            certificate: None,
        };
        let Ok(pdf) = &input.bytes else { return input };
        if !letro_verifier::pdf::is_pdf(pdf) {
            return input;
        }
        input.bytes = match certificate_input::unpack(pdf) {
            Ok(u) => {
                input.opening = u.opening;
                input.certificate = Some(u.check);
                Ok(u.document)
            }
            Err(refusal) => Err(refusal),
        };
        input
    }
}

fn read(path: &str) -> Result<Vec<u8>, Failure> {
    let max = letro_core::bundle::MAX_DOCUMENT_LEN;
    let mut buf = Vec::new();
    let r = if path == "-" {
        std::io::stdin().take(max as u64 + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(max as u64 + 1).read_to_end(&mut buf))
    };
    r.map_err(|e| {
        Failure::new(
            "Unreadable",
            format!("cannot read {path}: {e}"),
            "check the path and its permissions; `-` reads the bundle from standard input",
        )
    })?;
    if buf.len() > max {
        return Err(Failure::new(
            "Malformed.TooLarge",
            format!("{path} is larger than the 1 MiB limit for a bundle"),
            "a bundle is a small JSON document (about 2 KB): check that this is the bundle file",
        ));
    }
    Ok(buf)
}

/// The verifying key of a keys directory, pinned with its manifest.
fn keys_dir(dir: &Path) -> Result<PinnedKey, Usage> {
    PinnedKey::from_keys_dir(dir).map_err(|e| {
        Usage(
            format!("--keys {e}"),
            Some("give the keys directory a deployment published after its ceremony: manifest.json and the .vk file it names"),
        )
    })
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
    let policy = TrustPolicy {
        accept_insecure_dev: cli.accept_insecure_dev_keys,
        accept_demo_ceremony: cli.accept_demo_ceremony_keys,
        accept_user_supplied: cli.accept_user_supplied_keys,
    };
    let mut v = Verifier::new(log_keys)
        .map_err(|e| Usage(format!("built-in verifying key: {e}"), Some("this letro-verify was built from inconsistent keys/ files; rebuild it from a release")))?
        .with_trust_policy(policy);
    if let Some(path) = &cli.policy {
        let bytes = std::fs::read(path).map_err(|e| {
            Usage(
                format!("--policy {}: {e}", path.display()),
                Some("check the path of the policy file"),
            )
        })?;
        let policy = letro_log::policy::Policy::parse(&bytes).map_err(|e| {
            Usage(
                format!("--policy {}: {e}", path.display()),
                Some("a C2SP tlog-policy file: `log <vkey>`, `witness <name> <vkey>`, `group <name> all|any|<k> <names>`, `quorum <name>|none` lines"),
            )
        })?;
        v = v.with_witness_policy(policy);
    }
    for path in &cli.tsa_certs {
        let certs = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| letro_verifier::timestamps::certificates_from_pem(&b))
            .map_err(|e| {
                Usage(
                    format!("--tsa-cert {}: {e}", path.display()),
                    Some("a PEM file with the TSA's CA certificate (-----BEGIN CERTIFICATE-----)"),
                )
            })?;
        v = v.with_tsa_certificates(certs);
    }
    for d in &cli.keys {
        v.add_key(keys_dir(d)?);
    }
    for f in &cli.vk {
        let bytes = std::fs::read(f).map_err(|e| {
            Usage(
                format!("--vk {}: {e}", f.display()),
                Some("check the path of the verifying key file"),
            )
        })?;
        let key = PinnedKey::user_supplied(&bytes, KeySource::Given(f.display().to_string()))
            .map_err(|e| Usage(format!("--vk {}: {e}", f.display()), Some("give the canonical compressed verifying key file (the .vk file, 456 bytes) from the other deployment's keys/")))?;
        v.add_key(key);
    }
    Ok(v)
}

const STEPS: [&str; 7] = [
    "parse",
    "verifying key",
    "checkpoint signature",
    "log root and time bounds",
    "public inputs",
    "proof",
    "RFC 3161 time-stamps",
];

/// A failed check: its stable code, what happened, what to try.
struct Failure {
    code: &'static str,
    message: String,
    hint: String,
    /// For checkpoint failures: who signed it and which keys were given.
    log_keys: Option<Value>,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
            log_keys: None,
        }
    }
}

struct Check {
    name: String,
    ok: Option<bool>,
    detail: String,
    code: Option<&'static str>,
}

impl Check {
    fn passed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: Some(true),
            detail: detail.into(),
            code: None,
        }
    }
    fn failed(name: impl Into<String>, f: &Failure) -> Self {
        Self {
            name: name.into(),
            ok: Some(false),
            detail: f.message.clone(),
            code: Some(f.code),
        }
    }
    fn skipped(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: None,
            detail: "not checked".into(),
            code: None,
        }
    }
}

/// The pinned key a bundle named, for the report.
struct KeyInfo {
    sha256: String,
    source: KeySource,
    statement: String,
    trust_level: TrustLevel,
}

impl KeyInfo {
    fn of(k: &PinnedKey) -> Self {
        Self {
            sha256: hex::encode(k.sha256()),
            source: k.source().clone(),
            statement: k.statement().to_owned(),
            trust_level: k.trust_level(),
        }
    }
    fn source_name(&self) -> String {
        source_name(&self.source)
    }
}

fn source_name(s: &KeySource) -> String {
    match s {
        KeySource::Embedded => "built-in".to_owned(),
        KeySource::Given(f) | KeySource::Manifest(f) => f.clone(),
    }
}

fn source_words(s: &KeySource) -> String {
    match s {
        KeySource::Embedded => "built in".to_owned(),
        KeySource::Given(f) => format!("given with --vk {f}"),
        KeySource::Manifest(d) => {
            format!("from the keys directory {d} (--keys), with the trust level its manifest gives")
        }
    }
}

struct Report {
    file: String,
    code: u8,
    checks: Vec<Check>,
    failures: Vec<Failure>,
    key: Option<KeyInfo>,
    verified: Option<VerifiedDelivery>,
    recipient: Option<OpenedRecipient>,
}

impl Report {
    fn unreadable(file: &str, f: Failure) -> Self {
        let mut checks = vec![Check::failed("read", &f)];
        checks.extend(
            STEPS
                .iter()
                .enumerate()
                .map(|(i, s)| Check::skipped(format!("{} {s}", i + 1))),
        );
        Self {
            file: file.into(),
            code: 3,
            checks,
            failures: vec![f],
            key: None,
            verified: None,
            recipient: None,
        }
    }

    fn new(
        file: &str,
        bytes: &[u8],
        r: Result<VerifiedDelivery, VerifyError>,
        cli: &Cli,
        embedded_opening: Option<&[u8]>,
        verifier: &Verifier,
    ) -> Self {
        let mut checks = Vec::new();
        let mut failures = Vec::new();
        let key = verifier.pinned_key_for(bytes).map(KeyInfo::of);
        let failed_step = r.as_ref().err().map(|e| e.step() as usize);
        let failure = r
            .as_ref()
            .err()
            .map(|e| verify_failure(e, bytes, verifier.log_keys()));
        for (i, s) in STEPS.iter().enumerate() {
            let step = i + 1;
            let name = format!("{step} {s}");
            checks.push(match (&failure, failed_step) {
                (Some(f), Some(n)) if step == n => Check::failed(name, f),
                (Some(_), Some(n)) if step > n => Check::skipped(name),
                (_, _) => {
                    Check::passed(name, ok_detail(step, r.as_ref().ok(), key.as_ref(), bytes))
                }
            });
        }
        failures.extend(failure);
        let mut code = r.as_ref().err().map_or(0, VerifyError::exit_code);
        let mut recipient = None;
        if let Ok(v) = &r {
            if let Some(path) = &cli.ciphertext {
                let res = std::fs::File::open(path)
                    .map_err(CiphertextError::Io)
                    .and_then(|f| check_ciphertext(std::io::BufReader::new(f), v.statement()));
                match res {
                    Ok(()) => checks.push(Check::passed(
                        "ciphertext",
                        format!("SHA-256 of {} is H", path.display()),
                    )),
                    Err(e) => {
                        code = code.max(e.exit_code());
                        let f = ciphertext_failure(&e, path);
                        checks.push(Check::failed("ciphertext", &f));
                        failures.push(f);
                    }
                }
            }
            let opening = match (embedded_opening, &cli.opening) {
                (Some(b), _) => Some(Ok(b.to_vec())),
                (None, Some(path)) => Some(std::fs::read(path).map_err(|e| {
                    (
                        3u8,
                        Failure::new(
                            "Opening.Io",
                            format!("cannot read {}: {e}", path.display()),
                            "check the path of the opening file and its permissions",
                        ),
                    )
                })),
                (None, None) => None,
            };
            if let Some(opening) = opening {
                let res = opening.and_then(|b| {
                    check_opening_for(&b, v).map_err(|e| (e.exit_code(), opening_failure(&e)))
                });
                match res {
                    Ok(o) => {
                        let certified = match &o.identity_key {
                            Some(k) => format!("; certified by Signal identity key {k}"),
                            None => "; no certificate: the key is not tied to an identity".into(),
                        };
                        checks.push(Check::passed(
                            "opening",
                            format!(
                                "opens the commitment; receipt key fingerprint {}{certified}",
                                o.fingerprint
                            ),
                        ));
                        recipient = Some(o);
                    }
                    Err((c, f)) => {
                        code = code.max(c);
                        checks.push(Check::failed("opening", &f));
                        failures.push(f);
                    }
                }
            }
        } else {
            for (flag, name) in [
                (cli.ciphertext.is_some(), "ciphertext"),
                (
                    cli.opening.is_some() || embedded_opening.is_some(),
                    "opening",
                ),
            ] {
                if flag {
                    checks.push(Check::skipped(name));
                }
            }
        }
        let verified = if code == 0 { r.ok() } else { None };
        Self {
            file: file.into(),
            code,
            checks,
            failures,
            key,
            verified,
            recipient: recipient.filter(|_| code == 0),
        }
    }

    fn print(&self) {
        print_checks(&self.file, &self.checks);
        let Some(v) = &self.verified else {
            print_failures(&self.file, self.code, &self.failures);
            return;
        };
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
        if let Some(b) = v.time_bounds() {
            if b.latest_by_log < b.latest_by_proof {
                println!(
                    "  (and, if the relay's clock and log are honest, no later than {}: checkpoint \
                     time + its published receipt skew of {} s)",
                    when(b.latest_by_log),
                    b.receipt_skew
                );
            }
        }
        if let Some(t) = v.witnessed_by() {
            println!(
                "  (and no later than {}, the earliest witness cosignature of its checkpoint, by \
                 that witness's clock, not the operator's)",
                when(t)
            );
        }
        match &self.recipient {
            Some(r) => {
                println!(
                    "  to the recipient with receipt key fingerprint {}",
                    r.fingerprint
                );
                if let Some(k) = &r.identity_key {
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
        println!(
            "  under the verifying key {} ({}), trust level {}",
            hex::encode(v.key_sha256()),
            source_words(v.key_source()),
            v.trust_level()
        );
        let f = findings(v, self.recipient.as_ref());
        if let Some(flag) = v.trust_level().accept_flag() {
            for c in f.caveats.iter().filter(|c| c.is_about_key()) {
                println!(
                    "WARNING: {}; it was accepted only because of {flag}",
                    c.message()
                );
            }
        }
        println!("what this shows:");
        for line in &f.shows {
            println!("  - {line}");
        }
        println!("what it does not show:");
        for c in &f.caveats {
            if !c.is_about_key() {
                println!("  - {}", c.message());
            }
        }
    }

    fn to_json(&self) -> Value {
        let checks: Vec<_> = self
            .checks
            .iter()
            .map(|c| {
                let mut o = serde_json::Map::new();
                o.insert("check".into(), json!(c.name));
                o.insert(
                    "result".into(),
                    json!(match c.ok {
                        Some(true) => "ok",
                        Some(false) => "failed",
                        None => "not_checked",
                    }),
                );
                o.insert("detail".into(), json!(c.detail));
                if let Some(code) = c.code {
                    o.insert("code".into(), json!(code));
                }
                Value::Object(o)
            })
            .collect();
        let statement = self.verified.as_ref().map(|v| {
            let s = v.statement();
            let bounds = v.time_bounds().map(|b| {
                json!({
                    "earliest": letro_core::bundle::format_time(b.earliest),
                    "latest_by_proof": letro_core::bundle::format_time(b.latest_by_proof),
                    "latest_by_log": letro_core::bundle::format_time(b.latest_by_log),
                    "latest": letro_core::bundle::format_time(b.latest()),
                    "receipt_skew_seconds": b.receipt_skew,
                })
            });
            json!({
                "id": v.version().statement_id(),
                "ciphertext_sha256": s.ciphertext_hash.to_hex(),
                "not_before": letro_core::bundle::format_time(s.not_before),
                "not_after": letro_core::bundle::format_time(s.not_after),
                "recipient_commitment": letro_core::field::fr_to_decimal(&s.recipient_commitment),
                "log_root": letro_core::field::fr_to_decimal(&s.log_root),
                "log_origin": v.checkpoint().origin,
                "log_size": v.checkpoint().size,
                "checkpoint_time": letro_core::bundle::format_time(v.checkpoint().time),
                "verifying_key_sha256": hex::encode(v.key_sha256()),
                "verifying_key_source": source_name(v.key_source()),
                "recipient_fingerprint": self.recipient.as_ref().map(|r| &r.fingerprint),
                "recipient_identity_key": self.recipient.as_ref().and_then(|r| r.identity_key.as_ref()),
                "time_bounds": bounds,
                "cosignatures": v.cosignatures().map(|cs| cs.iter().map(|c| json!({
                    "witness": c.policy_name,
                    "key_name": c.key_name,
                    "time": letro_core::bundle::format_time(c.time),
                })).collect::<Vec<_>>()),
                "witnessed_by": v.witnessed_by().map(letro_core::bundle::format_time),
                "timestamps": v.timestamps().iter().map(letro_verifier::timestamps::TokenOutcome::to_json).collect::<Vec<_>>(),
                "tsa_time": letro_verifier::timestamps::trusted_time(v.timestamps()).and_then(|s| letro_core::bundle::format_time(s.latest)),
            })
        });
        let verifying_key = self.key.as_ref().map(|k| {
            json!({
                "sha256": k.sha256,
                "source": k.source_name(),
                "statement": k.statement,
                "trust_level": k.trust_level.as_str(),
            })
        });
        let (shows, warnings) = match &self.verified {
            Some(v) => {
                let f = findings(v, self.recipient.as_ref());
                let warnings: Vec<Value> = f
                    .caveats
                    .iter()
                    .map(|c| json!({"code": c.code(), "message": c.message()}))
                    .collect();
                (f.shows, warnings)
            }
            None => (Vec::new(), Vec::new()),
        };
        let first = self.failures.first();
        json!({
            "file": self.file,
            "verified": self.verified.is_some(),
            "exit_code": self.code,
            "code": first.map(|f| f.code),
            "error": first.map(|f| &f.message),
            "hint": first.map(|f| &f.hint),
            "log_keys": first.and_then(|f| f.log_keys.clone()),
            "checks": checks,
            "statement": statement,
            "verifying_key": verifying_key,
            "shows": shows,
            "warnings": warnings,
        })
    }
}

/// The file's name, then one line per check: `[ok  ]`, `[FAIL]` or `[--  ]` (not checked).
fn print_checks(file: &str, checks: &[Check]) {
    println!("{file}");
    for c in checks {
        let tag = match c.ok {
            Some(true) => "ok  ",
            Some(false) => "FAIL",
            None => "--  ",
        };
        println!("  [{tag}] {}: {}", c.name, c.detail);
    }
}

/// `NOT verified` with the exit code, and each failure with its hint on standard error.
fn print_failures(file: &str, code: u8, failures: &[Failure]) {
    println!("NOT verified (exit code {code})");
    for f in failures {
        eprintln!("error: {file}: {}", f.message);
        eprintln!("hint: {}", f.hint);
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

const FROM_SENDER: &str = "ask the sender for the original bundle";

/// What a `version` says a document is, when it is not a bundle.
fn other_document(version: &str) -> Option<&'static str> {
    if version == OPENING_VERSION || version.starts_with("letro-opening/") {
        Some("an opening")
    } else if version == RECORD_VERSION || version.starts_with("letro-record/") {
        Some("a delivery record")
    } else if version.starts_with("letro-bundle/") {
        Some("a bundle")
    } else {
        None
    }
}

fn key_names(keys: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = keys.into_iter().collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// The code, message and hint of a failed bundle.
fn verify_failure(e: &VerifyError, bytes: &[u8], log_keys: &[VerifierKey]) -> Failure {
    use letro_core::bundle::BundleError as B;
    let hint: String = match e {
        VerifyError::Malformed(B::UnsupportedVersion(v)) => match other_document(v) {
            Some("a bundle") => format!(
                "{v} is a bundle version this letro-verify does not read: use a newer letro-verify"
            ),
            Some(what) => format!(
                "this is {what} ({v}), not a bundle; pass the bundle (letro-bundle/...) as the file to verify, and pass openings with --opening"
            ),
            None => "this is not a Letro bundle: pass the bundle file (its version is letro-bundle/...)".to_owned(),
        },
        VerifyError::Malformed(B::TooLarge { .. }) => {
            "a bundle is a small JSON document (about 2 KB): check that this is the bundle file".to_owned()
        }
        VerifyError::Malformed(B::UnknownStatement(s)) => format!(
            "this letro-verify does not check {s:?} statements (or the bundle's version and statement disagree): use a newer letro-verify, or ask the sender for the original bundle"
        ),
        VerifyError::Malformed(_) => format!(
            "the file is not a well-formed bundle (SPEC.md §7.1): it was truncated, re-encoded or altered; {FROM_SENDER}"
        ),
        VerifyError::UnknownVerifyingKey(k) => format!(
            "the bundle was proved under the verifying key {k}, which is neither built in nor given with --vk. If it comes from another deployment, get that deployment's verifying key file out of band (never from the bundle) and pass it with --vk FILE --accept-user-supplied-keys; otherwise the bundle was altered or made with other keys"
        ),
        VerifyError::UntrustedVerifyingKey { trust_level, .. } => match trust_level {
            TrustLevel::InsecureDev => "the bundle was proved under INSECURE-DEV keys: whoever ran their setup can forge a bundle for any statement, so a pass would show nothing against them. To check it anyway (development, tests), pass --accept-insecure-dev-keys; a bundle you rely on needs keys from a ceremony".to_owned(),
            TrustLevel::DemoCeremony => "the bundle was proved under the built-in DEMO ceremony keys, whose contributors were all Letro's developers: together they could forge a bundle for any statement, so a pass would show nothing against them. To check it anyway (demonstrations, tests), pass --accept-demo-ceremony-keys; a bundle you rely on needs the keys of its deployment's own ceremony (--keys DIR)".to_owned(),
            TrustLevel::UserSupplied => "the bundle was proved under the key given with --vk, whose provenance this verifier cannot check: whoever made that key may be able to forge proofs. If you obtained the key from a source you trust, pass --accept-user-supplied-keys".to_owned(),
            _ => "the verifying key's trust level is not accepted".to_owned(),
        },
        VerifyError::NoTrustedLogKey => "pass the relay's log key with --log-key KEY (a C2SP verifier key name+keyid+base64, or a file holding one). A genuine log key comes from the relay operator, published out of band (for example on its website or in your contract); the relay also serves it at GET /v1/log/key, but only as a copy to compare with the one you obtained out of band. Never take the key from the bundle: anyone can sign a checkpoint with a key named like the log".to_owned(),
        VerifyError::Checkpoint(c) => checkpoint_hint(c, bytes, log_keys),
        VerifyError::KeyForOtherStatement { key_statement, bundle_statement, .. } => format!(
            "the bundle states {bundle_statement} but names the verifying key of {key_statement}: each statement version has its own key, so the bundle was altered or assembled from different parts; {FROM_SENDER}"
        ),
        VerifyError::TimeBounds(letro_core::statement::TimeBoundsError::ImpossibleWindow { .. }) => format!(
            "the window starts after the checkpoint's time plus the relay's published receipt skew: an honest log cannot have logged a delivery in it before that checkpoint. The bundle was altered, or the relay's log is not honest; {FROM_SENDER}"
        ),
        VerifyError::TimeBounds(_) => format!(
            "a delivered-within/v2 bundle's checkpoint must publish the relay's receipt skew (a receipt-skew line, SPEC.md §6.3); without it the delivery time has no log-side bound. The relay is misconfigured or the bundle was altered; {FROM_SENDER}"
        ),
        VerifyError::QuorumNotMet { cosigned } => format!(
            "the policy requires cosignatures its witnesses did not all give (valid ones: {}): without them nothing shows that the log showed everyone this checkpoint. Ask the sender for a bundle made after the witnesses cosigned, or check the policy file",
            if cosigned.is_empty() { "none".to_owned() } else { cosigned.join(", ") }
        ),
        VerifyError::Cosignature(_) => format!(
            "a signature line on the checkpoint names a witness of the policy but does not verify: the checkpoint was altered after it was cosigned, or the line was forged; {FROM_SENDER}"
        ),
        VerifyError::RootMismatch => format!(
            "the statement names a log root other than the signed checkpoint's: the bundle was altered or assembled from different parts; {FROM_SENDER}"
        ),
        VerifyError::ProofInvalid => format!(
            "the proof does not match the statement (H, the window, C or R): the bundle was altered, or the proof is for another statement; {FROM_SENDER}"
        ),
        _ => FROM_SENDER.to_owned(),
    };
    let log_keys = matches!(e, VerifyError::Checkpoint(_)).then(|| {
        json!({
            "signed_by": checkpoint_signers(bytes),
            "given": given_log_keys(log_keys),
        })
    });
    Failure {
        code: e.code(),
        message: chain(e),
        hint,
        log_keys,
    }
}

/// `name+keyid` of every signature line of the bundle's checkpoint.
fn checkpoint_signers(bytes: &[u8]) -> Vec<String> {
    ParsedBundle::parse(bytes)
        .map(|b| {
            b.checkpoint
                .note()
                .signatures()
                .iter()
                .map(|s| format!("{}+{}", s.name(), s.key_id()))
                .collect()
        })
        .unwrap_or_default()
}

/// `name+keyid` of every trusted log key.
fn given_log_keys(log_keys: &[VerifierKey]) -> Vec<String> {
    log_keys
        .iter()
        .map(|k| format!("{}+{}", k.name(), k.key_id()))
        .collect()
}

fn checkpoint_hint(e: &CheckpointVerifyError, bytes: &[u8], log_keys: &[VerifierKey]) -> String {
    let signers = checkpoint_signers(bytes);
    let given = given_log_keys(log_keys);
    let names = format!(
        "the checkpoint is signed by {}; you gave --log-key {}",
        key_names(signers.clone()),
        key_names(given.clone())
    );
    let name_of = |s: &String| {
        s.rsplit_once('+')
            .map(|(n, _)| n.to_owned())
            .unwrap_or_default()
    };
    let same_name = signers
        .iter()
        .any(|s| given.iter().any(|g| name_of(g) == name_of(s)));
    let why = match e {
        CheckpointVerifyError::Note(NoteVerifyError::InvalidSignature { name, key_id }) => format!(
            "the signature by {name}+{key_id}, a key you trust, does not verify: the checkpoint was altered after it was signed, or the signature forged; {FROM_SENDER}"
        ),
        CheckpointVerifyError::Note(NoteVerifyError::AmbiguousKey { name, key_id }) => format!(
            "several of your --log-key keys are named {name}+{key_id}: pass only the genuine one"
        ),
        CheckpointVerifyError::Note(NoteVerifyError::NoTrustedSignature) if same_name => "same log name, other key ID: either your --log-key is the wrong file (another deployment, or a rotated key), or someone other than the holder of your key signed this checkpoint (forged). Confirm the log key with the relay operator".to_owned(),
        CheckpointVerifyError::Note(NoteVerifyError::NoTrustedSignature) => "no signature is by a key named like one you gave: you probably passed the log key of another log; get this log's key from its relay operator".to_owned(),
        CheckpointVerifyError::OriginNotSigned { origin } => format!(
            "the checkpoint's origin is {origin}, and no key you gave named {origin} signed it: a log signs with a key named like its origin; pass that log's key"
        ),
        _ => "confirm the log key with the relay operator".to_owned(),
    };
    format!("{names}. {why}")
}

fn ciphertext_failure(e: &CiphertextError, path: &std::path::Path) -> Failure {
    let hint = match e {
        CiphertextError::Mismatch { .. } => "--ciphertext must be the exact bytes whose SHA-256 is H: the envelope as the relay received it, not the decrypted letter or an attachment; check that you have the right file".to_owned(),
        _ => format!("check the path of the ciphertext file {} and its permissions", path.display()),
    };
    Failure::new(e.code(), chain(e), hint)
}

fn opening_failure(e: &OpeningCheckError) -> Failure {
    let hint = match e {
        OpeningCheckError::Malformed(OpeningParseError::UnsupportedVersion(v)) => {
            match other_document(v) {
                Some(what) if what != "an opening" => format!(
                    "this is {what} ({v}), not an opening; pass the bundle as the file to verify and its opening (letro-opening/...) with --opening"
                ),
                _ => format!("{v} is an opening version this letro-verify does not read: use a newer letro-verify"),
            }
        }
        OpeningCheckError::Malformed(_) => "the file is not a well-formed opening (SPEC.md §7.2): ask the sender for the original opening".to_owned(),
        OpeningCheckError::Mismatch(_) if matches!(e.code(), "Opening.CiphertextMismatch" | "Opening.OtherCommitment") => "this opening belongs to another delivery: pass the opening made together with this bundle".to_owned(),
        OpeningCheckError::Mismatch(_) => "the opening's receipt key and blinding do not open C: the opening was altered or forged; ask the sender for the original opening".to_owned(),
        OpeningCheckError::KeyNotInSubgroup => "the receipt key is not a canonical (prime-order subgroup) key, which no registered receipt key is: treat the opening as forged".to_owned(),
        OpeningCheckError::OtherVersion { .. } => "the opening and the bundle are of different statement versions, so they were not made together: pass the opening made with this bundle".to_owned(),
        OpeningCheckError::Certificate(_) => "the receipt-key certificate does not verify under the Signal identity key it names, so the recipient is not shown to hold that identity; ask the sender for the original opening".to_owned(),
        _ => "ask the sender for the original opening".to_owned(),
    };
    Failure::new(e.code(), chain(e), hint)
}

/// The detail of a step that passed; `v` is `None` when a later step failed.
fn ok_detail(
    step: usize,
    v: Option<&VerifiedDelivery>,
    key: Option<&KeyInfo>,
    bytes: &[u8],
) -> String {
    if step == 1 {
        return match letro_core::bundle::ParsedBundle::parse(bytes) {
            Ok(b) => format!(
                "well-formed {}, {}",
                b.version.bundle_version(),
                b.version.statement_id()
            ),
            Err(_) => "well-formed".into(),
        };
    }
    let Some(v) = v else {
        return match (step, key) {
            (2, Some(k)) => format!(
                "{} ({}, trust level {})",
                k.sha256,
                source_words(&k.source),
                k.trust_level
            ),
            _ => "passed".into(),
        };
    };
    match step {
        2 => format!(
            "{} ({}, trust level {})",
            hex::encode(v.key_sha256()),
            source_words(v.key_source()),
            v.trust_level()
        ),
        3 => format!("signed by {}", v.log_signers().join(", ")),
        4 => {
            let root = format!(
                "equals the root of checkpoint {} size {}",
                v.checkpoint().origin,
                v.checkpoint().size
            );
            match v.time_bounds() {
                Some(b) => format!(
                    "{root}; the window fits the checkpoint: relay's receipt skew {} s, so an \
                     honest log accepted t no later than {}",
                    b.receipt_skew,
                    when(b.latest_by_log)
                ),
                None => format!(
                    "{root}; a {} checkpoint publishes no receipt skew: only the window bounds t",
                    v.version()
                ),
            }
        }
        5 => "six canonical field elements in range".into(),
        6 => "Groth16 proof verifies".into(),
        7 => {
            let all = v.timestamps();
            let trusted = all
                .iter()
                .filter(|o| matches!(o, letro_verifier::timestamps::TokenOutcome::Trusted(_)))
                .count();
            match all.len() {
                0 => "none in the bundle".into(),
                n => format!("{n} intact, {trusted} from a trusted TSA"),
            }
        }
        _ => "passed".into(),
    }
}

fn export(bundle_path: &str, out: &std::path::Path) -> ExitCode {
    let fail = |msg: String, hint: &str| {
        eprintln!("error: {msg}");
        eprintln!("hint: {hint}");
        ExitCode::from(3)
    };
    let bytes = match read(bundle_path) {
        Ok(b) => b,
        Err(f) => return fail(f.message, &f.hint),
    };
    let bundle = match letro_core::bundle::ParsedBundle::parse(&bytes) {
        Ok(b) => b,
        Err(e) => {
            let f = verify_failure(&VerifyError::Malformed(e), &bytes, &[]);
            return fail(format!("{bundle_path}: {}", f.message), &f.hint);
        }
    };
    let files = match letro_verifier::snarkjs::export_embedded(&bundle) {
        Ok(f) => f,
        Err(e) => return fail(format!("{bundle_path}: {e}"), "export-snarkjs writes a built-in verifying key; a bundle under another key cannot be exported"),
    };
    if let Err(e) = letro_verifier::snarkjs::write_dir(&files, out) {
        return fail(
            e.to_string(),
            "choose an empty or new --out directory that you can write to",
        );
    }
    println!(
        "wrote {0}/proof.json, {0}/public.json, {0}/verification_key.json",
        out.display()
    );
    eprintln!("note: snarkjs checks the Groth16 equation only; letro-verify also checks the checkpoint signature and the root");
    ExitCode::SUCCESS
}

// SPDX-License-Identifier: AGPL-3.0-only
//! The demo's flow: the whole toolkit end to end on built-in defaults.
//!
//! The relay service runs in-process on a local socket with its SQLite database under
//! `DIR/relay`; two Signal clients (`DIR/alice`, the sender, and `DIR/bob`, the recipient)
//! keep their state on disk. bob publishes his prekeys and certified receipt key; alice
//! establishes a PQXDH session and sends an encrypted letter with an attachment through the
//! mailbox; bob decrypts it and acknowledges it with a signed receipt; the log publishes a
//! checkpoint once a `letro witness` beside it (`DIR/witness`) has cosigned it; alice's compliance token asks for a proof that the letter was delivered on
//! the current UTC day; letro-verifier checks the bundle, the ciphertext and the opening as a
//! third party would (requiring the witness's cosignature), and the files a third party needs
//! are left in `DIR/run-<n>/`.
//!
//! Running it again on the same `DIR` carries on: the clients reopen their state and sessions,
//! and the relay's log grows. Each run's evidence goes to a new `DIR/run-<n>/` (the first
//! free n from 1), so a later run never replaces the evidence of an earlier one.
//!
//! The proofs are made under the built-in keys, from a ceremony whose contributors were all
//! Letro's developers (`demo-ceremony`), or with `--ceremony` under the keys of a small
//! ceremony the demo runs first (`crate::ceremony`, also `demo-ceremony`: every contributor is
//! this process). The demo says so, and prints the `letro-verify` command with
//! `--accept-demo-ceremony-keys` and why that flag is needed.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use letro_api::bodies::{Job, JobState, ProofRequest};
use letro_api_client::Client as Api;
use letro_client::{Attachment, Client, Message};
use letro_core::bundle::format_time;
use letro_core::statement::CiphertextHash;
use letro_log::cosignature::CosignerKey;
use letro_log::witness::FollowedLog;
use letro_service::auth::{issue_token, Role};
use letro_service::store::SqliteStore;
use letro_service::witness::{Witness, WitnessConfig};
use letro_service::witnessing::WitnessTarget;
use letro_service::{unix_now, Config, Service};
use letro_verifier::checks::{check_ciphertext, check_opening_for};
use letro_verifier::{TrustLevel, TrustPolicy, Verifier};

use crate::ceremony::{CeremonyKeys, Phase1};
use crate::{DemoError, EXIT_FAILED, EXIT_INPUT};

/// The demo log's origin.
pub const ORIGIN: &str = "demo.letro.invalid/log";
/// The sender's account.
pub const SENDER: &str = "alice";
/// The recipient's account.
pub const RECIPIENT: &str = "bob";
/// The demo witness's name.
pub const WITNESS: &str = "witness.demo.letro.invalid/w1";
const STEPS: u32 = 8;

pub(crate) fn fail(e: impl std::fmt::Display) -> DemoError {
    DemoError::new(EXIT_FAILED, format!("demo: {e}"))
}

fn step(n: u32, text: &str) {
    println!("[{n}/{STEPS}] {text}");
}

pub(crate) fn detail(text: &str) {
    println!("      {text}");
}

/// Opens the client in `dir`, or creates it.
fn client(dir: &Path, account: &str) -> Result<(Client, bool), DemoError> {
    if dir.join(letro_client::STATE_FILE).exists() {
        Ok((Client::open(dir).map_err(fail)?, false))
    } else {
        Ok((Client::create(dir, account).map_err(fail)?, true))
    }
}

/// Creates the first `dir/<prefix>-<n>` that does not exist yet (n from 1) and returns it
/// (`run-<n>` for a run's evidence, `ceremony-<n>` for a ceremony). Creating the directory
/// claims it, so two demos in the same `dir` never share one.
pub(crate) fn new_numbered_dir(dir: &Path, prefix: &str) -> Result<std::path::PathBuf, DemoError> {
    for n in 1..=u32::MAX {
        let candidate = dir.join(format!("{prefix}-{n}"));
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(DemoError::new(
                    EXIT_INPUT,
                    format!("cannot create {}: {e}", candidate.display()),
                )
                .hint("check that you can write to the demo directory, or pass another --dir"))
            }
        }
    }
    Err(DemoError::new(
        EXIT_INPUT,
        format!("{} has no free {prefix}-<n> directory", dir.display()),
    )
    .hint("pass another --dir"))
}

/// Runs the demo, leaving its files in `dir`; with `ceremony`, first a ceremony of its own on
/// that phase 1, whose keys the relay proves with.
pub fn run(dir: &Path, ceremony: Option<&Phase1>) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| DemoError::new(EXIT_INPUT, format!("cannot create {}: {e}", dir.display())))?;
    let keys = ceremony
        .map(|phase1| crate::ceremony::run(dir, phase1))
        .transpose()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(flow(dir, keys.as_ref()))
}

/// Tokens for the demo's parties, issued into the relay's store (audited as actor `demo`).
struct Tokens {
    alice: String,
    bob: String,
    compliance: String,
}

fn issue_tokens(data: &Path) -> Result<Tokens, DemoError> {
    let mut store = SqliteStore::open(data).map_err(fail)?;
    let later = unix_now() + 3600;
    let mut issue = |role, subject| {
        issue_token(&mut store, role, subject, later, "demo")
            .map(|(t, _)| t)
            .map_err(fail)
    };
    Ok(Tokens {
        alice: issue(Role::Client, SENDER)?,
        bob: issue(Role::Client, RECIPIENT)?,
        compliance: issue(Role::Sender, SENDER)?,
    })
}

/// A failed call to the service: the API's refusal (status, message and code), or why there
/// was no answer.
fn api_fail(what: &str) -> impl FnOnce(letro_api_client::Error) -> DemoError + '_ {
    move |e| match e {
        letro_api_client::Error::Api {
            status,
            raw_code,
            message,
            ..
        } => fail(format!(
            "{what}: the service answered {}: {message} ({raw_code})",
            status.as_u16()
        )),
        other => fail(format!("{what}: {other}")),
    }
}

async fn flow(dir: &Path, keys: Option<&CeremonyKeys>) -> Result<(), DemoError> {
    let data = dir.join("relay");
    std::fs::create_dir_all(&data).map_err(fail)?;

    step(
        1,
        "relay: starts letro-service in-process (SQLite under DIR/relay)",
    );
    let tokens = issue_tokens(&data)?;
    // A witness beside the relay (C2SP tlog-witness), following this log: every checkpoint is
    // published only once it has cosigned it. In a real deployment witnesses are run by
    // others; one run by the operator shows nothing.
    let log_vkey = letro_service::keys::load_or_create(&data, ORIGIN)
        .map_err(fail)?
        .verifier_key();
    let witness_config = WitnessConfig {
        name: WITNESS.into(),
        data: dir.join("witness"),
        listen: ([127, 0, 0, 1], 0).into(),
        logs: vec![FollowedLog {
            origin: ORIGIN.into(),
            keys: vec![log_vkey],
        }],
    };
    let witness = std::sync::Arc::new(Witness::open(&witness_config).map_err(fail)?);
    let witness_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail)?;
    let witness_url = format!("http://{}", witness_listener.local_addr().map_err(fail)?);
    let witness_key = witness.cosigner_key();
    let (stop_witness, witness_stopped) = tokio::sync::oneshot::channel::<()>();
    let witness_server = tokio::spawn(letro_service::server::run(
        witness_listener,
        witness.router(),
        letro_service::server::Limits::default(),
        async {
            let _ = witness_stopped.await;
        },
    ));
    let mut config = Config::new(&data, ORIGIN);
    config.checkpoint_interval = Duration::from_secs(3600);
    config.provers = 1;
    // One proof: the key's tables (about 2 s to build) would cost more than they save.
    config.prover_tables = false;
    config.witnesses = vec![WitnessTarget {
        key: witness_key.clone(),
        url: witness_url.clone(),
    }];
    config.witness_quorum = 1;
    // The published log is also written as C2SP tlog-tiles files, for a monitor (or a CDN).
    config.tiles_directory = Some(data.join("tiles"));
    // With --ceremony, the relay proves with the demo ceremony's keys.
    config.keys = keys.map(|k| k.dir.clone());
    let service = Service::start(config).map_err(fail)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail)?;
    let addr = listener.local_addr().map_err(fail)?.to_string();
    let router = service.router();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    detail(&format!("listening on {addr}; log origin {ORIGIN}"));
    detail(&format!(
        "witness {WITNESS} (letro witness, C2SP tlog-witness) on {witness_url} cosigns its checkpoints"
    ));
    let result = parties(dir, &addr, &tokens, (&service, keys), &witness_key).await;
    let _ = stop.send(());
    let _ = server.await;
    service.shutdown().await;
    let _ = stop_witness.send(());
    let _ = witness_server.await;
    result
}

async fn parties(
    dir: &Path,
    addr: &str,
    tokens: &Tokens,
    (service, keys): (&Service, Option<&CeremonyKeys>),
    witness_key: &CosignerKey,
) -> Result<(), DemoError> {
    let api = Api::new(format!("http://{addr}")).map_err(fail)?;
    let alice_api = api.with_token(&tokens.alice);
    let bob_api = api.with_token(&tokens.bob);

    step(
        2,
        "bob (recipient): Signal identity, prekeys with Kyber, and a receipt key certified by the identity key",
    );
    let (mut bob, new_bob) = client(&dir.join("bob"), RECIPIENT)?;
    let (mut alice, new_alice) = client(&dir.join("alice"), SENDER)?;
    for (c, api, new) in [
        (&mut bob, &bob_api, new_bob),
        (&mut alice, &alice_api, new_alice),
    ] {
        // A reopened client tops up the one-time prekeys earlier sessions used.
        c.replenish_one_time_prekeys(letro_client::INITIAL_ONE_TIME_PREKEYS)
            .map_err(fail)?;
        let published = api
            .put_directory_entry(c.account(), &c.prekey_upload())
            .await
            .map_err(api_fail("publishing prekeys"))?;
        if c.account() == RECIPIENT {
            detail(&format!(
                "{} client; published to the directory, receipt key fingerprint {}",
                if new { "new" } else { "reopened" },
                published.receipt_key_fingerprint
            ));
        }
    }

    step(
        3,
        "alice (sender): fetches bob's bundle, PQXDH session, encrypts a letter and its attachment into one envelope",
    );
    if !alice.has_session(RECIPIENT) {
        let bundle = alice_api
            .prekey_bundle(RECIPIENT)
            .await
            .map_err(api_fail("fetching bob's prekeys"))?;
        bundle.validate().map_err(fail)?;
        alice.start_session(RECIPIENT, &bundle).map_err(fail)?;
        detail("new session from bob's prekey bundle (identity key, signed, Kyber and one-time prekeys)");
    } else {
        detail("session with bob resumed from alice's saved state");
    }
    let now = unix_now();
    let letter = Message {
        body: format!(
            "Dear Bob, this is formal notice that the lease of 12 Rue Letro ends on 1 March. Sent {}.",
            format_time(now).unwrap_or_default()
        ),
        attachments: vec![Attachment {
            name: "notice.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: demo_attachment(),
        }],
    };
    let envelope = alice.encrypt(RECIPIENT, &letter).map_err(fail)?;
    let h = CiphertextHash::of(&envelope);
    let posted = alice_api
        .post_message(RECIPIENT, envelope.clone())
        .await
        .map_err(api_fail("posting the envelope"))?;
    detail(&format!(
        "envelope of {} bytes posted; H = sha256(envelope) = {}",
        envelope.len(),
        h.to_hex()
    ));
    detail(&format!(
        "relay logged the submitted event at index {}",
        posted.accepted.index
    ));

    step(
        4,
        "bob: fetches the envelope, decrypts it, acknowledges it with a receipt signed over (H, t)",
    );
    let fetched = bob_api
        .envelope(&h)
        .await
        .map_err(api_fail("fetching the envelope"))?;
    if fetched.sender != SENDER {
        return Err(fail(format!(
            "the relay says the envelope is from {:?}, not {SENDER:?}",
            fetched.sender
        )));
    }
    let opened = bob.decrypt(SENDER, &fetched.bytes).map_err(fail)?;
    let attachment = opened
        .attachments
        .first()
        .ok_or_else(|| fail("the letter lost its attachment"))?;
    detail(&format!(
        "decrypted: {} characters of text and {} ({} bytes)",
        opened.body.chars().count(),
        attachment.name,
        attachment.bytes.len()
    ));
    if opened.body != letter.body || attachment.bytes != demo_attachment() {
        return Err(fail("the decrypted letter differs from the one sent"));
    }
    let t = unix_now();
    let receipt = bob.sign_receipt(&h, t);
    let ack = receipt.ack_json().map_err(fail)?;
    let acked = bob_api
        .post_ack(&h, &ack)
        .await
        .map_err(api_fail("acknowledging"))?;
    detail(&format!(
        "relay checked the receipt against bob's certified key and logged the delivered event at index {}",
        acked.accepted.index
    ));

    step(
        5,
        "relay: signs a checkpoint with its Ed25519 log key (C2SP signed note), has the witness cosign it, publishes it",
    );
    service.publish().await.map_err(fail)?;
    let cp = service
        .state()
        .published_checkpoint()
        .map_err(fail)?
        .ok_or_else(|| fail("no checkpoint was published"))?;
    detail(&format!(
        "checkpoint of size {} published, its line 3 the RFC 6962 root that the witness checked, cosigned by {WITNESS}",
        cp.size
    ));

    let not_before = t - t % 86_400;
    let not_after = not_before + 86_400 - 1;
    let (nb_s, na_s) = (
        format_time(not_before).unwrap_or_default(),
        format_time(not_after).unwrap_or_default(),
    );
    step(
        6,
        &format!("alice's compliance officer: asks the service for a proof of delivery within [{nb_s}, {na_s}]"),
    );
    let compliance = api.with_token(&tokens.compliance);
    let requested = compliance
        .request_proof(&ProofRequest {
            ciphertext_sha256: h.to_hex(),
            not_before: nb_s.clone(),
            not_after: na_s.clone(),
            callback_url: None,
        })
        .await
        .map_err(api_fail("asking for a proof"))?;
    let job = wait_for_job(&compliance, &requested.job.job_id).await?;
    let bundle = job
        .bundle
        .ok_or_else(|| fail("the finished job has no bundle"))?;
    let opening = job
        .opening
        .ok_or_else(|| fail("the finished job has no opening"))?;

    step(
        7,
        "third party: verifies the bundle offline with letro-verifier (pinned keys, the log's public key)",
    );
    let log_key = letro_service::keys::load(
        &dir.join("relay").join(letro_service::keys::LOG_KEY_FILE),
        ORIGIN,
    )
    .map_err(fail)?;
    // The witness policy a third party would hold (C2SP tlog-policy): this log, this witness,
    // and its cosignature required.
    let policy_text = format!(
        "# C2SP tlog-policy: the log, and the witness whose cosignature is required\nlog {}\nwitness W1 {witness_key}\nquorum W1\n",
        log_key.verifier_key()
    );
    let policy = letro_log::policy::Policy::parse(policy_text.as_bytes()).map_err(fail)?;
    // The demo knowingly runs on keys of a ceremony whose contributors were all Letro's
    // developers (or all this process): accept them here, and say so.
    let mut verifier = Verifier::new(vec![log_key.verifier_key()])
        .map_err(fail)?
        .with_trust_policy(TrustPolicy {
            accept_demo_ceremony: true,
            ..TrustPolicy::CEREMONY_ONLY
        })
        .with_witness_policy(policy);
    if let Some(k) = keys {
        verifier.add_key(k.pinned.clone());
    }
    let verified = verifier.verify(bundle.as_bytes()).map_err(fail)?;
    check_ciphertext(envelope.as_slice(), verified.statement()).map_err(fail)?;
    let recipient = check_opening_for(opening.as_bytes(), &verified).map_err(fail)?;
    detail(&format!(
        "checkpoint signed by {ORIGIN}, root matches, proof verifies, ciphertext.bin matches H"
    ));
    if let Some(t) = verified.witnessed_by() {
        detail(&format!(
            "checkpoint cosigned by the witness {WITNESS} at {} (the policy's quorum)",
            format_time(t).unwrap_or_default()
        ));
    }
    detail(&format!(
        "the opening names receipt key {} certified by Signal identity {}",
        recipient.fingerprint,
        recipient.identity_key.as_deref().unwrap_or("(none)")
    ));
    // A monitor (here in-process; `letro monitor` is the same code) replays the log from its
    // tiles: signature, witness quorum, and both roots recomputed from every entry.
    let mut monitor = letro_service::monitor::Monitor::open(
        &dir.join("monitor"),
        log_key.verifier_key(),
        Some(letro_log::policy::Policy::parse(policy_text.as_bytes()).map_err(fail)?),
    )
    .map_err(fail)?;
    let tiles = dir.join("relay").join("tiles");
    let source =
        letro_service::monitor::Source::new(&tiles.to_string_lossy(), Duration::from_secs(10))
            .map_err(fail)?;
    let update = monitor.check(&source).await.map_err(fail)?;
    detail(&format!(
        "monitor: replayed the log's tiles to {} entries ({} new): signature, the witness quorum, and both roots recomputed from every entry",
        update.new_size,
        update.new_size - update.old_size
    ));
    let trust = verified.trust_level();
    detail(&format!(
        "verifying key {} ({}), trust level {trust}",
        verified
            .key_sha256()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        match keys {
            Some(k) => format!("from this run's ceremony, {}", k.dir.display()),
            None => "built in".into(),
        }
    ));

    step(
        8,
        "lifecycle: evidence records of every event, and a second letter that bob refuses",
    );
    use letro_core::lifecycle::LifecycleEvent as E;
    let mut records = Vec::new();
    for event in [E::SubmissionAccepted, E::MadeAvailable, E::Retrieved] {
        let record = alice_api
            .evidence(&h, event)
            .await
            .map_err(api_fail("fetching an evidence record"))?;
        let v = verifier.verify_evidence(&record).map_err(fail)?;
        detail(&format!(
            "{event} (ETSI {}): leaf {} recomputed and included in the cosigned checkpoint of size {}",
            event.etsi_event(),
            v.record.leaf_index,
            v.checkpoint.size
        ));
        records.push((event, record));
    }
    let second = alice
        .encrypt(
            RECIPIENT,
            &Message {
                body: "Dear Bob, please also find our new terms.".into(),
                attachments: Vec::new(),
            },
        )
        .map_err(fail)?;
    let h2 = CiphertextHash::of(&second);
    alice_api
        .post_message(RECIPIENT, second)
        .await
        .map_err(api_fail("posting the second envelope"))?;
    let refusal = bob
        .sign_refusal(&h2, unix_now(), Some("not addressed to me"))
        .map_err(fail)?;
    bob_api
        .post_refusal(&h2, &refusal)
        .await
        .map_err(api_fail("refusing"))?;
    // One final state: bob's receipt for the refused letter is refused as out of order.
    let late = bob.sign_receipt(&h2, unix_now()).ack_json().map_err(fail)?;
    match bob_api.post_ack(&h2, &late).await {
        Err(e) if e.code() == Some(letro_api::ErrorCode::OutOfOrder) => {}
        Err(e) => return Err(fail(format!("a receipt after the refusal: {e}"))),
        Ok(_) => return Err(fail("the relay logged a receipt after a refusal")),
    }
    service.publish().await.map_err(fail)?;
    let refused = alice_api
        .evidence(&h2, E::Refused)
        .await
        .map_err(api_fail("fetching the refusal's evidence"))?;
    let v = verifier.verify_evidence(&refused).map_err(fail)?;
    detail(&format!(
        "refused by bob (signed by his certified receipt key, identity {}), reason \"not addressed to me\"; bob's receipt after it was refused by the relay (409 out_of_order)",
        v.identity_key
            .map(|k| k.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .unwrap_or_default()
    ));
    // The refusal's evidence certificate: the sealed PDF a court files, whose embedded record
    // verifies like the record itself.
    let refused_pdf = alice_api
        .evidence_certificate(&h2, E::Refused)
        .await
        .map_err(api_fail("fetching the refusal's evidence certificate"))?;
    let embedded = letro_verifier::pdf::attachments(&refused_pdf).map_err(fail)?;
    let inside = embedded
        .iter()
        .find(|a| a.name == "evidence.json")
        .ok_or_else(|| fail("the evidence certificate embeds no evidence record"))?;
    verifier.verify_evidence(&inside.bytes).map_err(fail)?;
    detail(&format!(
        "its evidence certificate: a sealed PDF/A-3 of {} bytes embedding {} documents; the record inside verifies",
        refused_pdf.len(),
        embedded.len()
    ));
    let retrieved_record = records
        .iter()
        .find(|(e, _)| *e == E::Retrieved)
        .map(|(_, r)| r.clone())
        .unwrap_or_default();
    let etsi = letro_core::evidence::EvidenceRecord::parse(&retrieved_record)
        .map_err(fail)?
        .to_etsi_xml();

    let run = new_numbered_dir(dir, "run")?;
    let files: [(&str, Vec<u8>, bool); 9] = [
        ("bundle.json", bundle.into_bytes(), false),
        ("opening.json", opening.into_bytes(), true),
        ("ciphertext.bin", envelope, false),
        (
            "log.pub",
            format!("{}\n", log_key.verifier_key()).into_bytes(),
            false,
        ),
        ("witnesses.policy", policy_text.into_bytes(), false),
        ("evidence-retrieved.json", retrieved_record, true),
        ("evidence-retrieved.xml", etsi.into_bytes(), true),
        ("evidence-refused.json", refused, true),
        ("evidence-refused.pdf", refused_pdf, true),
    ];
    for (name, bytes, private) in files {
        // Never replace evidence: the run directory is new, and each file is created afresh.
        write_new(&run.join(name), &bytes, private)?;
    }
    println!();
    println!(
        "proved: ciphertext {} was delivered between {nb_s} and {na_s}",
        h.to_hex()
    );
    let r = run.display();
    println!(
        "evidence of this run in {r}: bundle.json opening.json (private) ciphertext.bin log.pub witnesses.policy"
    );
    println!(
        "  and evidence records (private: they name the parties): evidence-retrieved.json, its ETSI EN 319 522-3 form evidence-retrieved.xml, evidence-refused.json and its sealed certificate evidence-refused.pdf"
    );
    println!(
        "  (each run writes a new {}/run-<n>; the relay's and clients' state stays in {})",
        dir.display(),
        dir.display()
    );
    match trust {
        TrustLevel::Ceremony => println!("keys: trust level ceremony (from a multi-party setup)"),
        TrustLevel::DemoCeremony => println!(
            "keys: trust level {trust}: from a ceremony whose contributors were all {}, who together could forge proofs; this evidence convinces no third party",
            if keys.is_some() { "this process" } else { "Letro's developers" }
        ),
        _ => println!(
            "keys: trust level {trust}: development keys whose maker could forge proofs; this evidence convinces no third party"
        ),
    }
    let keys_arg = keys
        .map(|k| format!(" --keys {}", k.dir.display()))
        .unwrap_or_default();
    let accept = trust
        .accept_flag()
        .map(|f| format!(" {f}"))
        .unwrap_or_default();
    println!("a third party checks it with:");
    println!("  letro-verify {r}/bundle.json --log-key {r}/log.pub --policy {r}/witnesses.policy --ciphertext {r}/ciphertext.bin --opening {r}/opening.json{keys_arg}{accept}");
    println!("  (--policy requires the witness's cosignature; here the demo runs the witness itself, so it shows nothing against the operator: real witnesses are run by others)");
    if !accept.is_empty() {
        println!("  ({} is needed because nobody outside the ceremony contributed to these keys: its contributors could forge proofs; without it letro-verify refuses them)", accept.trim());
    }
    println!("  letro-verify {r}/evidence-retrieved.json {r}/evidence-refused.json --log-key {r}/log.pub --policy {r}/witnesses.policy");
    println!("  letro-verify {r}/evidence-refused.pdf --log-key {r}/log.pub --policy {r}/witnesses.policy");
    println!("  (from this checkout: cargo run --release --bin letro-verify -- ...)");
    println!("anyone can replay the whole log from its tiles (here a directory; a relay serves them at /v1/log):");
    println!(
        "  letro monitor --log {} --log-key {r}/log.pub --policy {r}/witnesses.policy --state <a directory of your own>",
        tiles.display()
    );
    Ok(())
}

/// Polls a proof job, printing progress, until it is done; a failed job is an error.
async fn wait_for_job(api: &Api, job_id: &str) -> Result<Job, DemoError> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let job = api
            .proof_job(job_id)
            .await
            .map_err(api_fail("polling the proof job"))?;
        let state = match job.state {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
        .to_owned();
        if state != last {
            if !last.is_empty() {
                println!();
            }
            print!("      job {job_id}: {state}");
            last.clone_from(&state);
        } else {
            print!(".");
        }
        let _ = std::io::stdout().flush();
        match state.as_str() {
            "done" => {
                println!(
                    " (Groth16 proof made and verified by the service in {:.1} s)",
                    started.elapsed().as_secs_f64()
                );
                return Ok(job);
            }
            "failed" => {
                println!();
                let error = serde_json::to_string(&job.error).unwrap_or_default();
                return Err(fail(format!("the proof job failed: {error}")));
            }
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(300) {
            println!();
            return Err(fail("the proof job did not finish in 5 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The demo's attachment: 64 KiB standing in for a PDF.
fn demo_attachment() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7 letro demo notice\n".to_vec();
    bytes.extend((0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    bytes
}

/// Writes `bytes` to a new file `path` atomically (a temporary file beside it, then a rename),
/// refusing to replace a file that already exists. `private` files get mode 0600 on Unix.
pub(crate) fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), DemoError> {
    if path.exists() {
        return Err(
            DemoError::new(EXIT_INPUT, format!("{} already exists", path.display()))
                .hint("pass another --dir"),
        );
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = opts
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result.map_err(|e| DemoError::new(EXIT_INPUT, format!("cannot write {}: {e}", path.display())))
}

// SPDX-License-Identifier: AGPL-3.0-only
//! `letro-demo` end to end, then the negative paths on what it left: the verifier refuses the
//! demo's built-in DEMO ceremony keys without `--accept-demo-ceremony-keys` (exit 4), a tampered
//! ciphertext fails `letro-verify --ciphertext` (exit 1), a second run keeps the first run's
//! evidence byte for byte, a window that excludes the delivery time is refused by the service,
//! and a receipt signed by a key other than the recipient's certified one is refused; the
//! clients carry on their session after the demo's restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use letro_client::{Client, Message};
use letro_core::bundle::{format_time, Bundle};
use letro_core::statement::CiphertextHash;
use letro_log::note::VerifierKey;
use letro_service::auth::{issue_token, Role};
use letro_service::store::SqliteStore;
use letro_service::{unix_now, Config, Service};
use serde_json::{json, Value};
use tower::ServiceExt;

const ORIGIN: &str = "demo.letro.invalid/log";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("letro-demo-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    d
}

/// The `letro-verify` binary: built beside `letro-demo` by `cargo test --workspace`; built
/// into a target directory of its own otherwise (the running `cargo test` holds the usual one).
fn letro_verify() -> PathBuf {
    let beside = Path::new(env!("CARGO_BIN_EXE_letro-demo")).with_file_name("letro-verify");
    if beside.exists() {
        return beside;
    }
    let target =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/letro-verify-for-demo-tests");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "letro-verifier",
            "--bin",
            "letro-verify",
            "--target-dir",
        ])
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());
    target.join("release/letro-verify")
}

fn run(cmd: &Path, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap()
}

async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ack(client: &Client, h: &CiphertextHash, t: u64) -> Vec<u8> {
    serde_json::to_vec(&client.sign_receipt(h, t).ack_json().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_proves_a_real_delivery_and_its_negative_paths_fail() {
    let d = tmp("run");
    let demo = |d: &Path| {
        let o = run(
            Path::new(env!("CARGO_BIN_EXE_letro-demo")),
            &["--dir", d.to_str().unwrap()],
        );
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    let out = demo(&d);
    let run1 = d.join("run-1");
    for line in [
        "[1/8]",
        "[8/8]",
        "retrieved (ETSI ContentHandover): leaf",
        "bob's receipt after it was refused by the relay (409 out_of_order)",
        "PQXDH",
        "decrypted",
        "certified",
        "letro-verify ",
        // The keys' trust level, and the flag with its reason.
        "(built in), trust level demo-ceremony",
        "keys: trust level demo-ceremony: from a ceremony whose contributors were all Letro's developers, who together could forge proofs",
        " --accept-demo-ceremony-keys\n",
        "(--accept-demo-ceremony-keys is needed because nobody outside the ceremony contributed to these keys",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let r = run1.display().to_string();
    assert!(
        out.contains(&format!("  letro-verify {r}/bundle.json --log-key {r}/log.pub --policy {r}/witnesses.policy --ciphertext {r}/ciphertext.bin --opening {r}/opening.json --accept-demo-ceremony-keys\n")),
        "{out}"
    );
    const EVIDENCE: [&str; 9] = [
        "bundle.json",
        "opening.json",
        "ciphertext.bin",
        "log.pub",
        "witnesses.policy",
        "evidence-retrieved.json",
        "evidence-retrieved.xml",
        "evidence-refused.json",
        "evidence-refused.pdf",
    ];
    for f in EVIDENCE {
        assert!(run1.join(f).exists(), "{f}");
        assert!(!d.join(f).exists(), "{f} is in the run directory only");
    }
    // ciphertext.bin is the exact envelope: its SHA-256 is the bundle's H, and the bundle's
    // checkpoint is signed by the key in log.pub.
    let bundle = Bundle::parse(&std::fs::read(run1.join("bundle.json")).unwrap()).unwrap();
    let ct = std::fs::read(run1.join("ciphertext.bin")).unwrap();
    let h = CiphertextHash::of(&ct);
    assert_eq!(bundle.statement.ciphertext_hash, h);
    let vkey = std::fs::read_to_string(run1.join("log.pub")).unwrap();
    bundle
        .checkpoint
        .verify(&[VerifierKey::parse(vkey.trim()).unwrap()])
        .unwrap();

    // The command the demo prints works, and names bob's certified identity.
    let verify = letro_verify();
    let p = |f: &str| run1.join(f).display().to_string();
    let args = |ct: &str| {
        vec![
            p("bundle.json"),
            "--log-key".into(),
            p("log.pub"),
            "--policy".into(),
            p("witnesses.policy"),
            "--ciphertext".into(),
            ct.to_owned(),
            "--opening".into(),
            p("opening.json"),
            "--accept-demo-ceremony-keys".into(),
        ]
    };
    let ok_args = args(&p("ciphertext.bin"));
    let o = run(
        &verify,
        &ok_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("certified by the Signal identity key 05"),
        "{text}"
    );
    assert!(
        text.contains("WARNING: the verifying key comes from a DEMO ceremony whose contributors were all Letro's developers"),
        "{text}"
    );
    assert!(
        text.contains("legal person is established outside this proof"),
        "{text}"
    );
    // The JSON report carries the trust level and every caveat of a certified recipient.
    let mut json_args = ok_args.clone();
    json_args.push("--json".into());
    let o = run(
        &verify,
        &json_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b = &j["bundles"][0];
    assert_eq!(b["verified"], true, "{j}");
    assert_eq!(b["verifying_key"]["trust_level"], "demo-ceremony");
    // The bundle's checkpoint carries the demo witness's cosignature, which the policy requires.
    let cosignatures = b["statement"]["cosignatures"].as_array().unwrap();
    assert_eq!(cosignatures.len(), 1, "{j}");
    assert_eq!(cosignatures[0]["key_name"], "witness.demo.letro.invalid/w1");
    let codes: Vec<&str> = b["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "DemoCeremonyKey",
            "DeviceNotPerson",
            "NoCertificateExpiryOrRevocation",
            "IdentityNotLegalPerson",
            "LogTimeBoundTrustsRelay",
            // The demo runs no time-stamping authority.
            "NoTrustedTimestamp"
        ]
    );

    // The evidence-record command the demo prints works; a record with an altered fact fails.
    assert!(
        out.contains(&format!("  letro-verify {r}/evidence-retrieved.json {r}/evidence-refused.json --log-key {r}/log.pub --policy {r}/witnesses.policy\n")),
        "{out}"
    );
    let evidence_args = |first: &str| {
        vec![
            first.to_owned(),
            p("evidence-refused.json"),
            "--log-key".into(),
            p("log.pub"),
            "--policy".into(),
            p("witnesses.policy"),
        ]
    };
    let o = run(
        &verify,
        &evidence_args(&p("evidence-retrieved.json"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("retrieved by the recipient"), "{text}");
    assert!(text.contains("refused by the recipient"), "{text}");
    // The refusal's sealed certificate: the command the demo prints verifies the record inside.
    assert!(
        out.contains(&format!("  letro-verify {r}/evidence-refused.pdf --log-key {r}/log.pub --policy {r}/witnesses.policy\n")),
        "{out}"
    );
    let o = run(
        &verify,
        &[
            &p("evidence-refused.pdf"),
            "--log-key",
            &p("log.pub"),
            "--policy",
            &p("witnesses.policy"),
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("0 certificate (PDF)"), "{text}");
    assert!(text.contains("refused by the recipient"), "{text}");
    let mut altered: Value =
        serde_json::from_slice(&std::fs::read(run1.join("evidence-retrieved.json")).unwrap())
            .unwrap();
    // The entry before it (the made-available event): not this leaf.
    altered["leaf_index"] = (altered["leaf_index"].as_u64().unwrap() - 1).into();
    let altered_path = d.join("altered-evidence.json");
    std::fs::write(&altered_path, altered.to_string()).unwrap();
    let o = run(
        &verify,
        &evidence_args(&altered_path.display().to_string())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // 0. Without --accept-demo-ceremony-keys the verifier refuses the demo's keys.
    let no_flag: Vec<String> = ok_args
        .iter()
        .filter(|a| *a != "--accept-demo-ceremony-keys")
        .cloned()
        .collect();
    let o = run(
        &verify,
        &no_flag.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(4), "{text}{err}");
    assert!(!text.contains("verified: "), "{text}");
    assert!(
        err.contains("hint: ") && err.contains("--accept-demo-ceremony-keys"),
        "{err}"
    );

    // 1. A tampered ciphertext: exit 1.
    let mut tampered = ct.clone();
    tampered[ct.len() / 2] ^= 1;
    let bad = d.join("tampered.bin");
    std::fs::write(&bad, &tampered).unwrap();
    let bad_args = args(&bad.display().to_string());
    let o = run(
        &verify,
        &bad_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("[FAIL] ciphertext"), "{text}");

    // A second run carries on the relay's log and writes its evidence to run-2: the first
    // run's files stay byte for byte.
    let first: Vec<Vec<u8>> = EVIDENCE
        .iter()
        .map(|f| std::fs::read(run1.join(f)).unwrap())
        .collect();
    let out = demo(&d);
    let run2 = d.join("run-2");
    assert!(
        out.contains(&format!("letro-verify {}/bundle.json", run2.display())),
        "{out}"
    );
    for (f, before) in EVIDENCE.iter().zip(&first) {
        assert_eq!(
            &std::fs::read(run1.join(f)).unwrap(),
            before,
            "{f} of run 1 changed"
        );
        assert!(run2.join(f).exists(), "{f} of run 2");
    }
    assert_ne!(
        std::fs::read(run2.join("bundle.json")).unwrap(),
        first[0],
        "run 2 proves another letter"
    );
    let mut two = args(&run2.join("ciphertext.bin").display().to_string());
    for a in &mut two {
        *a = a.replace(&run1.display().to_string(), &run2.display().to_string());
    }
    let o = run(&verify, &two.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // The relay the demo left, restarted in-process.
    let data = d.join("relay");
    let (sender, alice_token, bob_token) = {
        let mut store = SqliteStore::open(&data).unwrap();
        let later = unix_now() + 600;
        let mut t = |role, who| {
            issue_token(&mut store, role, who, later, "demo-test")
                .unwrap()
                .0
        };
        (
            t(Role::Sender, "alice"),
            t(Role::Client, "alice"),
            t(Role::Client, "bob"),
        )
    };
    let mut cfg = Config::new(&data, ORIGIN);
    cfg.provers = 0;
    let service = Service::start(cfg).unwrap();
    let router = service.router();

    // 2. A window that excludes the delivery time: refused with a clear error.
    let t = unix_now();
    let day = t - t % 86_400;
    let window = json!({
        "ciphertext_sha256": h.to_hex(),
        "not_before": format_time(day - 86_400).unwrap(),
        "not_after": format_time(day - 1).unwrap(),
    });
    let (st, v) = call(
        &router,
        "POST",
        "/v1/proofs",
        &sender,
        window.to_string().into_bytes(),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "outside_window");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside the window"),
        "{v}"
    );

    // 3. The clients reopen their state and carry on the session; a receipt signed by a key
    // other than bob's certified one is refused, bob's own is accepted.
    let mut alice = Client::open(&d.join("alice")).unwrap();
    let mut bob = Client::open(&d.join("bob")).unwrap();
    let envelope = alice
        .encrypt(
            "bob",
            &Message {
                body: "second letter".into(),
                attachments: vec![],
            },
        )
        .unwrap();
    let h2 = CiphertextHash::of(&envelope);
    let (st, v) = call(
        &router,
        "POST",
        "/v1/messages/bob",
        &alice_token,
        envelope.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(
        bob.decrypt("alice", &envelope).unwrap().body,
        "second letter"
    );
    let stranger_dir = tmp("stranger");
    let stranger = Client::create(&stranger_dir, "mallory").unwrap();
    let uri = format!("/v1/mailbox/{}/receipt", h2.to_hex());
    for (signer, what) in [
        (&stranger, "an uncertified key"),
        (&alice, "another account's certified key"),
    ] {
        let (st, v) = call(
            &router,
            "POST",
            &uri,
            &bob_token,
            ack(signer, &h2, unix_now()),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {v}");
        assert_eq!(v["error"]["code"], "uncertified_receipt_key", "{what}");
    }
    let (st, v) = call(
        &router,
        "POST",
        &uri,
        &bob_token,
        ack(&bob, &h2, unix_now()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    drop(router);
    service.shutdown().await;
    std::fs::remove_dir_all(d).ok();
    std::fs::remove_dir_all(stranger_dir).ok();
}

#[test]
fn usage_and_directory_errors_have_letros_exit_codes() {
    let demo = Path::new(env!("CARGO_BIN_EXE_letro-demo"));
    let o = run(demo, &["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(demo, &["--help"]);
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success() && help.contains("--dir <DIR>"), "{help}");
    assert!(help.contains("[default: letro-demo]"), "{help}");
    // A --dir that is a file cannot hold the demo's state: exit 3, with the error line.
    let d = tmp("not-a-dir");
    std::fs::write(&d, b"a file").unwrap();
    let o = run(demo, &["--dir", d.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.starts_with("error: cannot create "), "{err}");
    std::fs::remove_file(d).ok();
}

/// BLAKE2b-512 of the test phase 1 `pot15_test.ptau` (its `.b2` file beside it).
const PTAU_B2: &str = "73da33673dbe6bf06e0b506b8ce9419105b37333bbd47b430b75cfca8e2aa6ca1cc0bd5d7e86ab61f2ea3087ec7b593fc46c711c0e84b70468fe065cf56ec81a";

/// The test phase 1: `LETRO_PTAU`, else `../shared/ptau/pot15_test.ptau` beside the repository.
fn ptau() -> PathBuf {
    std::env::var_os("LETRO_PTAU").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/ptau/pot15_test.ptau"),
        PathBuf::from,
    )
}

#[test]
fn the_demo_runs_a_ceremony_of_its_own_and_verifies_with_its_keys() {
    let demo = Path::new(env!("CARGO_BIN_EXE_letro-demo"));
    let d = tmp("ceremony");
    let ptau = ptau();
    let ptau = ptau.to_str().unwrap();
    let dir = d.to_str().unwrap();

    // Usage: --ceremony needs a phase 1 and its pin; a wrong pin is refused before anything
    // is written.
    let o = Command::new(demo)
        .args(["--dir", dir, "--ceremony"])
        .env_remove("LETRO_PTAU")
        .env_remove("LETRO_PTAU_B2SUM")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let with_pin = |pin: &str| {
        run(
            demo,
            &[
                "--dir",
                dir,
                "--ceremony",
                "--ptau",
                ptau,
                "--ptau-b2sum",
                pin,
            ],
        )
    };
    let o = with_pin(&"0".repeat(128));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not the pinned") && err.contains("hint: "),
        "{err}"
    );
    assert!(!d.join("ceremony-1").exists());

    let o = with_pin(PTAU_B2);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let keys = d.join("ceremony-1/keys");
    let k = keys.display().to_string();
    for line in [
        "[ceremony] a phase-2 setup of the demo's own",
        "demo contributor 1: the sender's bank: contribution hash ",
        "demo contributor 3: an auditor: contribution hash ",
        "random beacon ",
        "transcript verified (4 contributions)",
        &format!("(from this run's ceremony, {k}), trust level demo-ceremony"),
        "keys: trust level demo-ceremony: from a ceremony whose contributors were all this process",
        &format!(" --keys {k} --accept-demo-ceremony-keys\n"),
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    for n in 0..=4 {
        assert!(d.join(format!("ceremony-1/{n:04}.zkey")).exists());
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(keys.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["provenance"]["kind"], "demo-ceremony");
    assert_eq!(
        manifest["provenance"]["ceremony"]["contributions"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // The printed command verifies with the ceremony's keys, and reports where they came from.
    let run1 = d.join("run-1");
    let p = |f: &str| run1.join(f).display().to_string();
    let base = [
        p("bundle.json"),
        "--log-key".into(),
        p("log.pub"),
        "--policy".into(),
        p("witnesses.policy"),
        "--json".into(),
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<String> = base.to_vec();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        run(
            &letro_verify(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let o = with(&["--keys", &k, "--accept-demo-ceremony-keys"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{j}");
    let b = &j["bundles"][0];
    assert_eq!(b["verifying_key"]["trust_level"], "demo-ceremony", "{j}");
    assert_ne!(b["verifying_key"]["source"], "built-in", "{j}");
    // Without the flag: refused (exit 4); without the keys: an unknown key (exit 3).
    assert_eq!(with(&["--keys", &k]).status.code(), Some(4));
    assert_eq!(
        with(&["--accept-demo-ceremony-keys"]).status.code(),
        Some(3)
    );
    std::fs::remove_dir_all(&d).unwrap();
}

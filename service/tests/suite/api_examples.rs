//! API.md's "Examples" section: one exchange per route of letro-api's route table, each request
//! and answer of the route's types. Bodies are parsed with letro-api's types and checked with
//! their `check` methods; a receipt's signature must verify, so the examples are real ones.

use std::collections::BTreeSet;

use letro_api::bodies::{
    Accepted, AckRequest, AuditLog, ConsistencyProof, Health, InclusionProof, IssuedToken, Job,
    LogState, MailboxItem, NewToken, ProofRequest, Published, ReceiptRequest, RefusalRequest,
    SubmissionRequest, TokenInfo,
};
use letro_api::directory::{PrekeyBundle, PrekeyUpload};
use letro_api::routes::{Body, Query, Route};
use letro_api::{ErrorBody, ROUTES};
use letro_core::statement::{receipt_message, CiphertextHash};
use letro_log::tiles::{parse_entry_bundle, TilePath};
use serde_json::Value;

/// One fenced ```http block: its first line, its header lines and its body.
struct Message {
    start: String,
    headers: Vec<String>,
    body: String,
}

fn message(block: &str) -> Message {
    let (head, body) = block.split_once("\n\n").unwrap_or((block, ""));
    let mut lines = head.lines();
    Message {
        start: lines.next().unwrap_or_default().to_owned(),
        headers: lines.map(str::to_owned).collect(),
        body: body.trim_end().to_owned(),
    }
}

/// The examples: heading (`METHOD /template`) and the request and answer blocks.
fn examples() -> Vec<(String, Message, Message)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/API.md")).unwrap();
    let section = text
        .split_once("\n## Examples\n")
        .expect("API.md has an Examples section")
        .1;
    let mut out = Vec::new();
    for part in section.split("\n### `").skip(1) {
        let (heading, rest) = part.split_once('`').unwrap();
        let blocks: Vec<&str> = rest
            .split("```http\n")
            .skip(1)
            .map(|b| b.split("\n```").next().unwrap())
            .collect();
        assert_eq!(blocks.len(), 2, "{heading}: a request and an answer");
        out.push((heading.to_owned(), message(blocks[0]), message(blocks[1])));
    }
    out
}

/// A body, or the file a `< FILE` line names (relative to the repository).
fn body_text(body: &str) -> String {
    match body.strip_prefix("< ") {
        Some(file) => std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(file),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}")),
        None => body.to_owned(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"))
}

fn receipt_verifies(h: &CiphertextHash, r: &letro_api::bodies::Receipt) {
    let m = receipt_message(h, r.delivered_at);
    assert_eq!(r.receipt_key.verify(&m, &r.signature), Ok(()));
}

/// Checks a JSON body against the named component schema's type.
fn check_json(schema: &str, text: &str, path_hash: Option<CiphertextHash>) {
    match schema {
        "Health" => drop(parse::<Health>(schema, text)),
        "SubmissionRequest" => {
            parse::<SubmissionRequest>(schema, text).check().unwrap();
        }
        "ReceiptRequest" => {
            let (h, r) = parse::<ReceiptRequest>(schema, text).check().unwrap();
            receipt_verifies(&h, &r);
        }
        "AckRequest" => {
            let r = parse::<AckRequest>(schema, text).check().unwrap();
            receipt_verifies(&path_hash.expect("the ack's H is in its path"), &r);
        }
        "RefusalRequest" => {
            let r = parse::<RefusalRequest>(schema, text).check().unwrap();
            let h = path_hash.expect("the refusal's H is in its path");
            letro_core::lifecycle::check_refusal(
                &h,
                r.refused_at,
                r.reason.as_deref(),
                &r.receipt_key,
                &r.signature,
                r.refused_at,
                0,
            )
            .unwrap();
        }
        "Accepted" => drop(parse::<Accepted>(schema, text)),
        "LogState" => drop(parse::<LogState>(schema, text)),
        "InclusionProof" => {
            let p = parse::<InclusionProof>(schema, text);
            assert_eq!(p.siblings.len(), letro_core::merkle::DEPTH);
            assert!(u64::from(p.index) < p.size);
        }
        "ConsistencyProof" => drop(parse::<ConsistencyProof>(schema, text)),
        "ProofRequest" => {
            parse::<ProofRequest>(schema, text).check().unwrap();
        }
        "Job" => drop(parse::<Job>(schema, text)),
        "NewToken" => {
            let t = parse::<NewToken>(schema, text);
            assert!(t.role.parse::<letro_api::Role>().is_ok());
        }
        "IssuedToken" => drop(parse::<IssuedToken>(schema, text)),
        "TokenInfo" => drop(parse::<TokenInfo>(schema, text)),
        "AuditLog" => drop(parse::<AuditLog>(schema, text)),
        "Published" => drop(parse::<Published>(schema, text)),
        "MailboxItem" => drop(parse::<MailboxItem>(schema, text)),
        "PrekeyUpload" => {
            parse::<PrekeyUpload>(schema, text).validate().unwrap();
        }
        "PrekeyBundle" => {
            parse::<PrekeyBundle>(schema, text).validate().unwrap();
        }
        other => panic!("no check for schema {other}"),
    }
}

fn check_body(body: Body, text: &str, path_hash: Option<CiphertextHash>) {
    match body {
        Body::None => assert!(text.is_empty(), "a body where the route takes none"),
        Body::Json(schema) => check_json(schema, text, path_hash),
        Body::JsonList(schema) => {
            let items: Vec<Value> = parse("list", text);
            assert!(!items.is_empty());
            for item in items {
                check_json(schema, &item.to_string(), path_hash);
            }
        }
        // Bytes are shown as an xxd dump (checked), or described (`<the envelope ...>`).
        Body::Raw { binary: true, .. } if text.starts_with("00000000: ") => {
            assert!(!xxd(text).is_empty())
        }
        // An evidence record (the only JSON answer without a schema) parses as one.
        Body::Raw {
            content_type: "application/json",
            ..
        } if text.contains("letro-evidence/") => {
            let r = letro_core::evidence::EvidenceRecord::parse(text.as_bytes()).unwrap();
            assert_eq!(Some(r.ciphertext_hash), path_hash);
        }
        Body::Raw { .. } => assert!(!text.is_empty()),
    }
}

/// The bytes of an `xxd` dump (`00000000: 0020 024f ...`), as API.md shows binary bodies.
fn xxd(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (offset, hex) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not xxd: {line}"));
        assert_eq!(usize::from_str_radix(offset, 16).unwrap(), i * 16, "{line}");
        let hex: String = hex.split(' ').collect();
        out.extend(hex::decode(hex).unwrap_or_else(|e| panic!("{line}: {e}")));
    }
    out
}

/// The request line's path matches the route's template; returns `H` if the path names one.
fn check_target(route: &Route, target: &str) -> Option<CiphertextHash> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    assert_eq!(query.is_empty(), route.query == Query::None, "{target}");
    let mut hash = None;
    // A tile path parameter is the rest of the path, several segments.
    if let Some(prefix) = route.path.strip_suffix("{tile}") {
        let tile = path
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{target}"));
        TilePath::parse(&format!("tile/{tile}")).unwrap_or_else(|e| panic!("{target}: {e}"));
        return None;
    }
    let got: Vec<&str> = path.split('/').collect();
    let want: Vec<&str> = route.path.split('/').collect();
    assert_eq!(got.len(), want.len(), "{target}");
    for (g, w) in got.iter().zip(&want) {
        if w.starts_with('{') {
            assert!(!g.is_empty(), "{target}");
            if *w == "{ciphertext_sha256}" {
                hash = Some(CiphertextHash::from_hex(g).unwrap());
            }
        } else {
            assert_eq!(g, w, "{target}");
        }
    }
    hash
}

#[test]
fn every_route_has_an_example_of_its_types() {
    let examples = examples();
    let headings: BTreeSet<String> = examples.iter().map(|(h, _, _)| h.clone()).collect();
    assert_eq!(headings.len(), examples.len(), "a route has two examples");
    let routes: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(headings, routes);

    for (heading, request, answer) in &examples {
        let route = ROUTES
            .iter()
            .find(|r| format!("{} {}", r.method, r.path) == *heading)
            .unwrap();
        // The request.
        let (method, target) = request.start.split_once(' ').unwrap();
        assert_eq!(method, route.method.as_str(), "{heading}");
        let path_hash = check_target(route, target);
        let authorized = request
            .headers
            .iter()
            .any(|h| h.starts_with("Authorization: Bearer "));
        assert_eq!(authorized, !route.roles.is_empty(), "{heading}");
        check_body(route.request, &body_text(&request.body), path_hash);

        // The answer: a documented status with its body.
        let status: u16 = answer
            .start
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{heading}: {}", answer.start));
        let text = body_text(&answer.body);
        match route.answers.iter().find(|a| a.status == status) {
            Some(a) => {
                for header in a.headers {
                    let prefix = format!("{}: ", header.name.to_ascii_lowercase());
                    assert!(
                        answer
                            .headers
                            .iter()
                            .any(|h| h.to_ascii_lowercase().starts_with(&prefix)),
                        "{heading}: no {} header",
                        header.name
                    );
                }
                check_body(a.body, &text, path_hash);
            }
            None => {
                let e: ErrorBody = parse("ErrorBody", &text);
                assert!(route.errors().contains(&e.error.code), "{heading}");
                assert_eq!(e.error.code.status(), status, "{heading}");
            }
        }
    }
}

/// The tile example is the entry bundle of the worked example's two v2 leaves.
#[test]
fn the_tile_example_holds_the_worked_examples_leaves() {
    let examples = examples();
    let (_, request, answer) = examples
        .iter()
        .find(|(h, _, _)| h == "GET /v1/log/tile/{tile}")
        .unwrap();
    let target = request.start.strip_prefix("GET /v1/log/").unwrap();
    let path = TilePath::parse(target).unwrap();
    let bytes = xxd(&answer.body);
    let entries = parse_entry_bundle(&bytes, &path).unwrap();
    assert_eq!(entries.len(), usize::from(path.width));
    let v: Value = parse(
        "statement.json",
        &body_text("< testdata/vectors/statement.json"),
    );
    for (entry, name) in entries
        .iter()
        .zip(["submitted_leaf_v2", "delivered_leaf_v2"])
    {
        let leaf =
            letro_core::field::fr_from_decimal(v["vectors"][name].as_str().unwrap()).unwrap();
        assert_eq!(*entry, letro_core::field::fr_to_be_bytes(&leaf), "{name}");
    }
}

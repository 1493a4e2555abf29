//! Helpers shared by the fuzz targets in `fuzz_targets/`. Not a library anyone else uses.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use letro_log::note::{Note, VerifierKey};

/// The public key of the test log that signed the checkpoints in `testdata/` (INSECURE-DEV:
/// derived from a public string), so targets also drive signature verification, not only
/// parsing.
const TEST_LOG_VKEY: &str = include_str!("../../testdata/checkpoints/log.vkey");

/// The test log's verifier key.
pub fn test_log_key() -> VerifierKey {
    VerifierKey::parse(TEST_LOG_VKEY.trim_end()).expect("testdata/checkpoints/log.vkey parses")
}

/// Formats an error and every cause under it, as a CLI would print them. A `Display` impl that
/// panics on some input is a bug too.
pub fn render_error(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cause = e.source();
    }
    out
}

/// The exact bytes of a parsed note: its text, a blank line, its signature lines.
pub fn rebuild_note(note: &Note) -> String {
    let mut out = format!("{}\n", note.unverified_text());
    for sig in note.signatures() {
        let mut blob = sig.key_id().to_bytes().to_vec();
        blob.extend_from_slice(sig.signature());
        out.push_str(&format!(
            "\u{2014} {} {}\n",
            sig.name(),
            STANDARD.encode(blob)
        ));
    }
    out
}

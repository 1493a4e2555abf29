//! Delivery-log checkpoints: C2SP tlog-checkpoint bodies (<https://c2sp.org/tlog-checkpoint>)
//! in C2SP signed notes (see [`crate::note`]).
//!
//! A checkpoint body is:
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64 of 32 bytes>
//! time <unix seconds, decimal>
//! <other extension lines, if any>
//! ```
//!
//! Differences from a generic tlog-checkpoint, all on purpose:
//! - The root is the Poseidon (BN254) Merkle root of the delivery log, NOT an RFC 6962 hash: the
//!   32 bytes are the root field element, big-endian. This module keeps them as bytes; it does
//!   not check that they are below the field modulus (the field codec does that).
//! - Line 4 MUST be the time extension `time <unix seconds>`: when the checkpoint was
//!   published. Exactly one time line is allowed. Further extension lines are kept as they are.
//! - Decimal numbers (size, time) are canonical: ASCII digits only, no sign, no leading zeros
//!   (except `0` itself), at most `u64::MAX`.
//! - Verification requires that a trusted key named exactly like the origin signed the
//!   checkpoint (tlog-checkpoint says the key name SHOULD match the origin; we make it a MUST,
//!   so a key trusted for one log can never vouch for another log's origin). Signing enforces the
//!   same rule, so we never produce a checkpoint we would reject.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::note::{
    self, Note, NoteParseError, NoteSignError, NoteVerifyError, SignerKey, VerifiedSigner,
    VerifierKey,
};

/// Start of the time extension line.
pub const TIME_LINE_PREFIX: &str = "time ";

/// Why a decimal number (tree size or time) is not canonical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// The number is the empty string.
    #[error("number is empty")]
    Empty,
    /// The number contains something other than ASCII digits (a sign, a space, a letter).
    #[error("number contains a character that is not an ascii digit")]
    NotDigit,
    /// The number has a leading zero and is not `0`.
    #[error("number has a leading zero")]
    LeadingZero,
    /// The number does not fit in 64 bits.
    #[error("number is larger than 2^64 - 1")]
    Overflow,
}

/// Parses a canonical decimal `u64`.
fn parse_decimal(s: &str) -> Result<u64, DecimalError> {
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::NotDigit);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(DecimalError::LeadingZero);
    }
    s.parse::<u64>().map_err(|_| DecimalError::Overflow)
}

/// Why a checkpoint body is malformed (when parsing it, or when encoding a [`Checkpoint`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointBodyError {
    /// The body does not end with a newline.
    #[error("checkpoint body does not end with a newline")]
    MissingFinalNewline,
    /// A line contains an ASCII control character (this includes a newline inside a field).
    #[error("checkpoint line {line} contains a control character")]
    ControlCharacter {
        /// 1-based line number.
        line: usize,
    },
    /// The body stops before one of its mandatory lines.
    #[error("checkpoint has no {what} line")]
    MissingLine {
        /// The missing line: "tree size" or "root hash".
        what: &'static str,
    },
    /// The origin line is empty or only whitespace.
    #[error("checkpoint origin is empty or blank")]
    EmptyOrigin,
    /// The tree size is not a canonical decimal `u64`.
    #[error("checkpoint tree size is invalid")]
    InvalidSize(#[source] DecimalError),
    /// The root hash is not canonical standard base64.
    #[error("checkpoint root hash is not canonical base64")]
    RootBase64(#[source] base64::DecodeError),
    /// The root hash does not decode to exactly 32 bytes.
    #[error("checkpoint root hash is {actual} bytes, expected 32")]
    RootWrongLength {
        /// Decoded length.
        actual: usize,
    },
    /// There is no time line (`time <unix seconds>`).
    #[error("checkpoint has no time line")]
    MissingTime,
    /// The time line is not line 4, directly after the root hash.
    #[error("checkpoint time line is line {line}, expected line 4")]
    MisplacedTime {
        /// 1-based line number of the time line.
        line: usize,
    },
    /// There is more than one time line.
    #[error("checkpoint has a second time line at line {line}")]
    DuplicateTime {
        /// 1-based line number of the second time line.
        line: usize,
    },
    /// The time is not a canonical decimal `u64`.
    #[error("checkpoint time is invalid")]
    InvalidTime(#[source] DecimalError),
    /// An extension line is empty.
    #[error("checkpoint line {line} is an empty extension line")]
    EmptyExtensionLine {
        /// 1-based line number.
        line: usize,
    },
    /// A `poseidon-root` line that is not `poseidon-root <base64 of 32 bytes>`.
    #[error("checkpoint line {line} is not `poseidon-root <base64 of 32 bytes>`")]
    InvalidPoseidonRoot {
        /// 1-based line number.
        line: usize,
    },
    /// A second `poseidon-root` line.
    #[error("checkpoint has a second poseidon-root line at line {line}")]
    DuplicatePoseidonRoot {
        /// 1-based line number.
        line: usize,
    },
}

/// Start of the receipt-skew extension line `receipt-skew <seconds>`: the largest difference
/// between a receipt's signed time and the relay's clock that the log accepted (SPEC §6.3).
pub const RECEIPT_SKEW_PREFIX: &str = "receipt-skew ";

/// The extension line that publishes the relay's receipt skew.
pub fn receipt_skew_extension(max_skew: u64) -> String {
    format!("{RECEIPT_SKEW_PREFIX}{max_skew}")
}

/// Start of the Poseidon-root extension line `poseidon-root <base64 of 32 bytes>` (SPEC §6.3):
/// when present, line 3 is the RFC 6962 root of the log's entries and this line is the
/// Poseidon root of the same entries, the root proofs are made against.
pub const POSEIDON_ROOT_PREFIX: &str = "poseidon-root ";

/// The extension line that publishes the Poseidon root (32 bytes big-endian).
pub fn poseidon_root_extension(root: &[u8; 32]) -> String {
    format!("{POSEIDON_ROOT_PREFIX}{}", STANDARD.encode(root))
}

/// Whether an extension line is a Poseidon-root line: `poseidon-root` as its first word.
fn is_poseidon_root_line(line: &str) -> bool {
    line == POSEIDON_ROOT_PREFIX.trim_end() || line.starts_with(POSEIDON_ROOT_PREFIX)
}

/// The value of a Poseidon-root line, or the error for line `number`.
fn parse_poseidon_root(line: &str, number: usize) -> Result<[u8; 32], CheckpointBodyError> {
    line.strip_prefix(POSEIDON_ROOT_PREFIX)
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or(CheckpointBodyError::InvalidPoseidonRoot { line: number })
}

/// Checks the extension lines' Poseidon-root lines (at most one, well formed); returns its
/// value. `first` is the line number of the first extension line.
fn check_poseidon_root_lines(
    extensions: &[String],
    first: usize,
) -> Result<Option<[u8; 32]>, CheckpointBodyError> {
    let mut found = None;
    for (i, line) in extensions.iter().enumerate() {
        if !is_poseidon_root_line(line) {
            continue;
        }
        let number = first + i;
        if found.is_some() {
            return Err(CheckpointBodyError::DuplicatePoseidonRoot { line: number });
        }
        found = Some(parse_poseidon_root(line, number)?);
    }
    Ok(found)
}

/// Why a checkpoint's receipt-skew line is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptSkewError {
    /// The checkpoint has no `receipt-skew` line (v1 logs did not publish one).
    #[error("the checkpoint does not publish the relay's receipt skew (no receipt-skew line)")]
    Missing,
    /// There is more than one `receipt-skew` line.
    #[error("the checkpoint has more than one receipt-skew line")]
    Duplicate,
    /// The value is not a canonical decimal `u64`.
    #[error("the checkpoint's receipt-skew value is invalid")]
    Invalid(#[source] DecimalError),
}

/// Whether an extension line is a time line: `time` as its first space-separated word.
fn is_time_line(line: &str) -> bool {
    line == TIME_LINE_PREFIX.trim_end() || line.starts_with(TIME_LINE_PREFIX)
}

/// A checkpoint of the delivery log: which log, how many leaves, the Poseidon root, and when it
/// was published. Fields are plain data; [`Checkpoint::validate`] says whether they encode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The log's origin (line 1). Must be non-empty, not blank, without control characters; to
    /// be signed it must also equal the signing key's name.
    pub origin: String,
    /// Number of leaves in the tree (line 2).
    pub size: u64,
    /// The Poseidon Merkle root: the BN254 field element, 32 bytes big-endian (line 3).
    pub root: [u8; 32],
    /// When the checkpoint was published, Unix seconds UTC (line 4, `time <seconds>`).
    pub time: u64,
    /// Further extension lines after the time line, each non-empty, without control characters
    /// and not itself a time line.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The relay's published receipt skew, from the one `receipt-skew <seconds>` extension
    /// line. A line whose first word is `receipt-skew` counts, so `receipt-skew` alone or with
    /// a malformed value is an error, not an absent line.
    pub fn receipt_skew(&self) -> Result<u64, ReceiptSkewError> {
        let word = RECEIPT_SKEW_PREFIX.trim_end();
        let mut found = None;
        for line in &self.extensions {
            if line != word && !line.starts_with(RECEIPT_SKEW_PREFIX) {
                continue;
            }
            if found.is_some() {
                return Err(ReceiptSkewError::Duplicate);
            }
            let value = line.strip_prefix(RECEIPT_SKEW_PREFIX).unwrap_or_default();
            found = Some(parse_decimal(value).map_err(ReceiptSkewError::Invalid)?);
        }
        found.ok_or(ReceiptSkewError::Missing)
    }

    /// The root that statements are proved against: the `poseidon-root` line's value when the
    /// checkpoint has one (line 3 is then the RFC 6962 root), else line 3 (checkpoints signed
    /// before the two roots were published, whose line 3 is the Poseidon root).
    pub fn poseidon_root(&self) -> [u8; 32] {
        self.extensions
            .iter()
            .find_map(|l| parse_poseidon_root(l, 0).ok())
            .unwrap_or(self.root)
    }

    /// Line 3 when it is the RFC 6962 root of the entries (a `poseidon-root` line is present);
    /// `None` for a checkpoint whose line 3 is the Poseidon root.
    pub fn rfc6962_root(&self) -> Option<[u8; 32]> {
        self.extensions
            .iter()
            .any(|l| is_poseidon_root_line(l))
            .then_some(self.root)
    }

    /// Checks that the fields encode as a body that [`Checkpoint::parse_body`] accepts.
    pub fn validate(&self) -> Result<(), CheckpointBodyError> {
        check_origin(&self.origin)?;
        for (i, line) in self.extensions.iter().enumerate() {
            let number = i + 5;
            check_extension(line, number)?;
            if is_time_line(line) {
                return Err(CheckpointBodyError::DuplicateTime { line: number });
            }
        }
        check_poseidon_root_lines(&self.extensions, 5)?;
        Ok(())
    }

    /// The body (note text): origin, size, root, time and extension lines, each ending in a
    /// newline. Fails if the fields do not pass [`Checkpoint::validate`].
    pub fn to_body(&self) -> Result<String, CheckpointBodyError> {
        self.validate()?;
        let mut body = format!(
            "{}\n{}\n{}\n{TIME_LINE_PREFIX}{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root),
            self.time
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        Ok(body)
    }

    /// Parses a body strictly. `parse_body(b)?.to_body()? == b` for every accepted `b`.
    pub fn parse_body(body: &str) -> Result<Self, CheckpointBodyError> {
        let lines = body
            .strip_suffix('\n')
            .ok_or(CheckpointBodyError::MissingFinalNewline)?;
        let mut lines = lines.split('\n');
        // `split` always yields at least one item; the fallback is never taken.
        let origin = lines.next().unwrap_or_default();
        check_origin(origin)?;
        let size_line = lines
            .next()
            .ok_or(CheckpointBodyError::MissingLine { what: "tree size" })?;
        check_controls(size_line, 2)?;
        let size = parse_decimal(size_line).map_err(CheckpointBodyError::InvalidSize)?;
        let root_line = lines
            .next()
            .ok_or(CheckpointBodyError::MissingLine { what: "root hash" })?;
        check_controls(root_line, 3)?;
        let root_bytes = STANDARD
            .decode(root_line)
            .map_err(CheckpointBodyError::RootBase64)?;
        let root: [u8; 32] =
            root_bytes
                .as_slice()
                .try_into()
                .map_err(|_| CheckpointBodyError::RootWrongLength {
                    actual: root_bytes.len(),
                })?;

        let mut time = None;
        let mut extensions = Vec::new();
        for (i, line) in lines.enumerate() {
            let number = i + 4;
            check_extension(line, number)?;
            if !is_time_line(line) {
                extensions.push(line.to_owned());
                continue;
            }
            if time.is_some() {
                return Err(CheckpointBodyError::DuplicateTime { line: number });
            }
            if number != 4 {
                return Err(CheckpointBodyError::MisplacedTime { line: number });
            }
            let value = line.strip_prefix(TIME_LINE_PREFIX).unwrap_or_default();
            time = Some(parse_decimal(value).map_err(CheckpointBodyError::InvalidTime)?);
        }
        let time = time.ok_or(CheckpointBodyError::MissingTime)?;
        check_poseidon_root_lines(&extensions, 5)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
            extensions,
        })
    }
}

/// Rejects ASCII control characters (newline included) in one line.
fn check_controls(line: &str, number: usize) -> Result<(), CheckpointBodyError> {
    if line.bytes().any(|b| b < b' ') {
        return Err(CheckpointBodyError::ControlCharacter { line: number });
    }
    Ok(())
}

/// Checks the origin line.
fn check_origin(origin: &str) -> Result<(), CheckpointBodyError> {
    check_controls(origin, 1)?;
    if origin.trim().is_empty() {
        return Err(CheckpointBodyError::EmptyOrigin);
    }
    Ok(())
}

/// Checks one extension line (time line included).
fn check_extension(line: &str, number: usize) -> Result<(), CheckpointBodyError> {
    check_controls(line, number)?;
    if line.is_empty() {
        return Err(CheckpointBodyError::EmptyExtensionLine { line: number });
    }
    Ok(())
}

/// Why a checkpoint could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointSignError {
    /// The checkpoint's fields do not encode as a valid body.
    #[error("checkpoint is not valid")]
    Body(#[source] CheckpointBodyError),
    /// The signing key's name is not the checkpoint's origin.
    #[error("signing key name {key_name:?} differs from the checkpoint origin {origin:?}")]
    OriginMismatch {
        /// The checkpoint origin.
        origin: String,
        /// The signing key's name.
        key_name: String,
    },
    /// The note could not be signed.
    #[error("could not sign the checkpoint note")]
    Note(#[source] NoteSignError),
}

/// Why text is not a well-formed signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointParseError {
    /// The signed note around the checkpoint is malformed.
    #[error("signed checkpoint is not a valid signed note")]
    Note(#[source] NoteParseError),
    /// The note text is not a valid checkpoint body.
    #[error("signed note does not hold a valid checkpoint")]
    Body(#[source] CheckpointBodyError),
}

/// Why a well-formed signed checkpoint did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointVerifyError {
    /// The note's signatures did not verify against the trusted keys.
    #[error("checkpoint signature verification failed")]
    Note(#[source] NoteVerifyError),
    /// Trusted keys signed it, but none of them is named like the origin.
    #[error("no trusted key named {origin:?} signed the checkpoint")]
    OriginNotSigned {
        /// The checkpoint origin.
        origin: String,
    },
}

/// A well-formed signed checkpoint whose signatures have not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    note: Note,
    checkpoint: Checkpoint,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the log key, whose name must equal the origin, and returns the
    /// signed note.
    pub fn sign(checkpoint: &Checkpoint, key: &SignerKey) -> Result<String, CheckpointSignError> {
        let body = checkpoint.to_body().map_err(CheckpointSignError::Body)?;
        if key.name() != checkpoint.origin {
            return Err(CheckpointSignError::OriginMismatch {
                origin: checkpoint.origin.clone(),
                key_name: key.name().to_owned(),
            });
        }
        note::sign(&body, &[key]).map_err(CheckpointSignError::Note)
    }

    /// Parses a signed checkpoint: a strict signed note whose text is a strict checkpoint body.
    pub fn parse(s: &str) -> Result<Self, CheckpointParseError> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`SignedCheckpoint::parse`] for bytes that may not be UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, CheckpointParseError> {
        let note = Note::parse(bytes).map_err(CheckpointParseError::Note)?;
        let checkpoint =
            Checkpoint::parse_body(note.unverified_text()).map_err(CheckpointParseError::Body)?;
        Ok(Self { note, checkpoint })
    }

    /// The checkpoint, NOT verified: use [`SignedCheckpoint::verify`] first.
    pub fn unverified_checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note, with all its signature lines.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Verifies the checkpoint:
    /// 1. the note verifies against `trusted` ([`Note::verify`]: unknown keys ignored, any bad
    ///    signature by a trusted key rejected, at least one trusted signature);
    /// 2. one of the trusted keys that signed is named exactly like the origin.
    pub fn verify(
        &self,
        trusted: &[VerifierKey],
    ) -> Result<VerifiedCheckpoint, CheckpointVerifyError> {
        let verified = self
            .note
            .verify(trusted)
            .map_err(CheckpointVerifyError::Note)?;
        if !verified
            .signers()
            .iter()
            .any(|s| s.name() == self.checkpoint.origin)
        {
            return Err(CheckpointVerifyError::OriginNotSigned {
                origin: self.checkpoint.origin.clone(),
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint: self.checkpoint.clone(),
            signers: verified.signers().to_vec(),
        })
    }
}

/// A checkpoint signed by a trusted key named like its origin. Only
/// [`SignedCheckpoint::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    signers: Vec<VerifiedSigner>,
}

impl VerifiedCheckpoint {
    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The verified checkpoint, by value.
    pub fn into_checkpoint(self) -> Checkpoint {
        self.checkpoint
    }

    /// Every trusted key whose signature verified (at least one is named like the origin).
    pub fn signers(&self) -> &[VerifiedSigner] {
        &self.signers
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::note::{KeyId, NoteSignature};
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    /// Origin and key name of the test log. Its key is derived from a public string: never use
    /// it for anything real.
    const ORIGIN: &str = "letro.invalid/INSECURE-DEV-test-log";
    const WITNESS: &str = "witness.invalid/INSECURE-DEV-witness";

    fn seed(label: &str) -> [u8; 32] {
        Sha256::digest(format!("letro testdata {label} (INSECURE-DEV)")).into()
    }

    fn log_key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, &seed("log key")).unwrap()
    }

    fn sample() -> Checkpoint {
        // An arbitrary value below the BN254 modulus (the top byte is cleared).
        let mut root = seed("root");
        root[0] = 0;
        Checkpoint {
            origin: ORIGIN.to_owned(),
            size: 20852163,
            root,
            time: 1_767_225_600,
            extensions: Vec::new(),
        }
    }

    #[test]
    fn the_poseidon_root_line_binds_the_two_roots() {
        let legacy = sample();
        assert_eq!(
            (legacy.poseidon_root(), legacy.rfc6962_root()),
            (legacy.root, None)
        );
        let poseidon = [7u8; 32];
        let mut both = sample();
        both.extensions = vec![
            receipt_skew_extension(300),
            poseidon_root_extension(&poseidon),
        ];
        let body = both.to_body().unwrap();
        assert!(body.ends_with(&format!("poseidon-root {}\n", STANDARD.encode(poseidon))));
        let back = Checkpoint::parse_body(&body).unwrap();
        assert_eq!(back, both);
        assert_eq!(back.poseidon_root(), poseidon);
        assert_eq!(back.rfc6962_root(), Some(both.root));
        // Malformed or repeated lines are refused when parsing and when encoding.
        let base = sample().to_body().unwrap();
        for (line, want) in [
            (
                "poseidon-root".to_owned(),
                CheckpointBodyError::InvalidPoseidonRoot { line: 5 },
            ),
            (
                "poseidon-root AAAA".to_owned(),
                CheckpointBodyError::InvalidPoseidonRoot { line: 5 },
            ),
            (
                format!("poseidon-root  {}", STANDARD.encode(poseidon)),
                CheckpointBodyError::InvalidPoseidonRoot { line: 5 },
            ),
            (
                format!("poseidon-root {}", STANDARD.encode([1u8; 33])),
                CheckpointBodyError::InvalidPoseidonRoot { line: 5 },
            ),
            (
                format!(
                    "{}\n{}",
                    poseidon_root_extension(&poseidon),
                    poseidon_root_extension(&poseidon)
                ),
                CheckpointBodyError::DuplicatePoseidonRoot { line: 6 },
            ),
        ] {
            assert_eq!(body_err(&format!("{base}{line}\n")), want, "{line:?}");
            let mut c = sample();
            c.extensions = line.split('\n').map(str::to_owned).collect();
            assert_eq!(c.validate(), Err(want), "{line:?}");
        }
        // A line that merely starts with the word is another extension.
        let other = format!("{base}poseidon-rooted x\n");
        assert_eq!(Checkpoint::parse_body(&other).unwrap().rfc6962_root(), None);
    }

    fn body_err(body: &str) -> CheckpointBodyError {
        Checkpoint::parse_body(body).unwrap_err()
    }

    /// A valid body with line `index` (0-based) replaced.
    fn with_line(index: usize, line: &str) -> String {
        let body = sample().to_body().unwrap();
        let mut lines: Vec<&str> = body.lines().collect();
        lines[index] = line;
        format!("{}\n", lines.join("\n"))
    }

    // ---- bodies ----

    #[test]
    fn body_has_the_documented_layout() {
        let body = sample().to_body().unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], ORIGIN);
        assert_eq!(lines[1], "20852163");
        assert_eq!(STANDARD.decode(lines[2]).unwrap(), sample().root);
        assert_eq!(lines[3], "time 1767225600");
        assert!(body.ends_with('\n'));
    }

    #[test]
    fn receipt_skew_is_read_from_its_one_line() {
        let mut cp = Checkpoint {
            origin: "example.invalid/log".into(),
            size: 1,
            root: [0u8; 32],
            time: 1,
            extensions: vec![],
        };
        assert_eq!(cp.receipt_skew(), Err(ReceiptSkewError::Missing));
        cp.extensions = vec!["other 1".into(), receipt_skew_extension(300)];
        assert_eq!(cp.receipt_skew(), Ok(300));
        let body = cp.to_body().unwrap();
        assert!(body.ends_with("time 1\nother 1\nreceipt-skew 300\n"));
        assert_eq!(
            Checkpoint::parse_body(&body).unwrap().receipt_skew(),
            Ok(300)
        );
        cp.extensions.push(receipt_skew_extension(5));
        assert_eq!(cp.receipt_skew(), Err(ReceiptSkewError::Duplicate));
        for bad in [
            "receipt-skew",
            "receipt-skew ",
            "receipt-skew 007",
            "receipt-skew -1",
        ] {
            cp.extensions = vec![bad.into()];
            assert!(
                matches!(cp.receipt_skew(), Err(ReceiptSkewError::Invalid(_))),
                "{bad}"
            );
        }
        cp.extensions = vec!["receipt-skewed 1".into()];
        assert_eq!(cp.receipt_skew(), Err(ReceiptSkewError::Missing));
    }

    #[test]
    fn body_round_trips_with_extensions() {
        let mut cp = sample();
        cp.extensions = vec![
            "timestamp 5".into(),
            "x \u{2014} y".into(),
            " leading space".into(),
        ];
        let body = cp.to_body().unwrap();
        let parsed = Checkpoint::parse_body(&body).unwrap();
        assert_eq!(parsed, cp);
        assert_eq!(parsed.to_body().unwrap(), body);
    }

    #[test]
    fn extreme_numbers_round_trip() {
        for (size, time) in [(0, 0), (u64::MAX, u64::MAX), (1, 10)] {
            let cp = Checkpoint {
                size,
                time,
                ..sample()
            };
            assert_eq!(Checkpoint::parse_body(&cp.to_body().unwrap()).unwrap(), cp);
        }
    }

    #[test]
    fn spec_example_body_lacks_the_time_line() {
        // The tlog-checkpoint example parses as a signed note but is not a Letro checkpoint.
        let spec = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        assert_eq!(
            SignedCheckpoint::parse(spec),
            Err(CheckpointParseError::Body(CheckpointBodyError::MissingTime))
        );
        let with_time = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 1\n";
        assert_eq!(Checkpoint::parse_body(with_time).unwrap().size, 20852163);
    }

    #[test]
    fn body_rejects_missing_final_newline() {
        let body = sample().to_body().unwrap();
        assert_eq!(
            body_err(body.trim_end()),
            CheckpointBodyError::MissingFinalNewline
        );
        assert_eq!(body_err(""), CheckpointBodyError::MissingFinalNewline);
    }

    #[test]
    fn body_rejects_control_characters() {
        let crlf = sample().to_body().unwrap().replace('\n', "\r\n");
        assert_eq!(
            body_err(&crlf),
            CheckpointBodyError::ControlCharacter { line: 1 }
        );
        assert_eq!(
            body_err(&with_line(3, "time 1\t")),
            CheckpointBodyError::ControlCharacter { line: 4 }
        );
    }

    #[test]
    fn body_rejects_missing_lines() {
        assert_eq!(
            body_err("origin\n"),
            CheckpointBodyError::MissingLine { what: "tree size" }
        );
        assert_eq!(
            body_err("origin\n1\n"),
            CheckpointBodyError::MissingLine { what: "root hash" }
        );
        let three = sample().to_body().unwrap().replace("time 1767225600\n", "");
        assert_eq!(body_err(&three), CheckpointBodyError::MissingTime);
    }

    #[test]
    fn body_rejects_empty_origin() {
        assert_eq!(
            body_err(&with_line(0, "")),
            CheckpointBodyError::EmptyOrigin
        );
        assert_eq!(body_err("\n"), CheckpointBodyError::EmptyOrigin);
    }

    #[test]
    fn body_rejects_blank_origin() {
        assert_eq!(
            body_err(&with_line(0, "   ")),
            CheckpointBodyError::EmptyOrigin
        );
        assert_eq!(
            body_err(&with_line(0, "\u{3000}")),
            CheckpointBodyError::EmptyOrigin
        );
    }

    #[test]
    fn body_rejects_empty_size() {
        assert_eq!(
            body_err(&with_line(1, "")),
            CheckpointBodyError::InvalidSize(DecimalError::Empty)
        );
    }

    #[test]
    fn body_rejects_size_with_sign_or_non_digit() {
        for s in ["+5", "-1", " 5", "5 ", "0x10", "1e3", "\u{0661}"] {
            assert_eq!(
                body_err(&with_line(1, s)),
                CheckpointBodyError::InvalidSize(DecimalError::NotDigit),
                "{s:?}"
            );
        }
    }

    #[test]
    fn body_rejects_size_with_leading_zero() {
        for s in ["00", "01", "0020852163"] {
            assert_eq!(
                body_err(&with_line(1, s)),
                CheckpointBodyError::InvalidSize(DecimalError::LeadingZero),
                "{s:?}"
            );
        }
    }

    #[test]
    fn body_rejects_size_overflow() {
        assert_eq!(
            body_err(&with_line(1, "18446744073709551616")),
            CheckpointBodyError::InvalidSize(DecimalError::Overflow)
        );
    }

    #[test]
    fn body_rejects_non_canonical_root() {
        let root = STANDARD.encode(sample().root);
        // 32 bytes leave 2 trailing bits in the character before '='; set one of them.
        let last = root.chars().nth(42).unwrap();
        let bumped = STANDARD_ALPHABET
            .chars()
            .nth(STANDARD_ALPHABET.find(last).unwrap() ^ 1)
            .unwrap();
        let trailing_bits = format!("{}{bumped}=", &root[..42]);
        for bad in [
            trailing_bits,
            root.trim_end_matches('=').to_owned(),
            root.replace('=', ""),
        ] {
            assert!(
                matches!(
                    body_err(&with_line(2, &bad)),
                    CheckpointBodyError::RootBase64(_)
                ),
                "{bad}"
            );
        }
    }

    const STANDARD_ALPHABET: &str =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    #[test]
    fn body_rejects_root_of_wrong_length() {
        for len in [0usize, 31, 33, 64] {
            let root = STANDARD.encode(vec![1u8; len]);
            assert_eq!(
                body_err(&with_line(2, &root)),
                CheckpointBodyError::RootWrongLength { actual: len }
            );
        }
    }

    #[test]
    fn body_rejects_missing_time() {
        let body = sample()
            .to_body()
            .unwrap()
            .replace("time 1767225600", "timestamp 1767225600");
        assert_eq!(body_err(&body), CheckpointBodyError::MissingTime);
    }

    #[test]
    fn body_rejects_misplaced_time() {
        let body = sample()
            .to_body()
            .unwrap()
            .replace("time 1767225600\n", "other\ntime 1767225600\n");
        assert_eq!(
            body_err(&body),
            CheckpointBodyError::MisplacedTime { line: 5 }
        );
    }

    #[test]
    fn body_rejects_duplicate_time() {
        let body = format!("{}time 1767225600\n", sample().to_body().unwrap());
        assert_eq!(
            body_err(&body),
            CheckpointBodyError::DuplicateTime { line: 5 }
        );
    }

    #[test]
    fn body_rejects_invalid_time() {
        let cases = [
            ("time", DecimalError::Empty),
            ("time ", DecimalError::Empty),
            ("time  1", DecimalError::NotDigit),
            ("time -1", DecimalError::NotDigit),
            ("time 1.5", DecimalError::NotDigit),
            ("time 01", DecimalError::LeadingZero),
            ("time 99999999999999999999", DecimalError::Overflow),
        ];
        for (line, expected) in cases {
            assert_eq!(
                body_err(&with_line(3, line)),
                CheckpointBodyError::InvalidTime(expected),
                "{line:?}"
            );
        }
    }

    #[test]
    fn body_rejects_empty_extension_line() {
        let body = format!("{}\nmore\n", sample().to_body().unwrap());
        assert_eq!(
            body_err(&body),
            CheckpointBodyError::EmptyExtensionLine { line: 5 }
        );
        let trailing = format!("{}\n", sample().to_body().unwrap());
        assert_eq!(
            body_err(&trailing),
            CheckpointBodyError::EmptyExtensionLine { line: 5 }
        );
    }

    #[test]
    fn to_body_rejects_invalid_fields() {
        let cases = [
            (
                Checkpoint {
                    origin: String::new(),
                    ..sample()
                },
                CheckpointBodyError::EmptyOrigin,
            ),
            (
                Checkpoint {
                    origin: " ".into(),
                    ..sample()
                },
                CheckpointBodyError::EmptyOrigin,
            ),
            (
                Checkpoint {
                    origin: "a\nb".into(),
                    ..sample()
                },
                CheckpointBodyError::ControlCharacter { line: 1 },
            ),
            (
                Checkpoint {
                    extensions: vec!["ok".into(), String::new()],
                    ..sample()
                },
                CheckpointBodyError::EmptyExtensionLine { line: 6 },
            ),
            (
                Checkpoint {
                    extensions: vec!["a\nb".into()],
                    ..sample()
                },
                CheckpointBodyError::ControlCharacter { line: 5 },
            ),
            (
                Checkpoint {
                    extensions: vec!["time 5".into()],
                    ..sample()
                },
                CheckpointBodyError::DuplicateTime { line: 5 },
            ),
            (
                Checkpoint {
                    extensions: vec!["time".into()],
                    ..sample()
                },
                CheckpointBodyError::DuplicateTime { line: 5 },
            ),
        ];
        for (cp, expected) in cases {
            assert_eq!(cp.validate(), Err(expected.clone()), "{cp:?}");
            assert_eq!(cp.to_body(), Err(expected), "{cp:?}");
        }
    }

    // ---- signed checkpoints ----

    #[test]
    fn sign_parse_verify_round_trip() {
        let key = log_key();
        let signed = SignedCheckpoint::sign(&sample(), &key).unwrap();
        assert!(signed.starts_with(&sample().to_body().unwrap()));
        let parsed = SignedCheckpoint::parse(&signed).unwrap();
        assert_eq!(parsed.unverified_checkpoint(), &sample());
        assert_eq!(parsed.note().signatures().len(), 1);
        let verified = parsed.verify(&[key.verifier_key()]).unwrap();
        assert_eq!(verified.checkpoint(), &sample());
        assert_eq!(verified.signers().len(), 1);
        assert_eq!(verified.signers()[0].name(), ORIGIN);
        assert_eq!(verified.signers()[0].key_id(), key.key_id());
        assert_eq!(verified.into_checkpoint(), sample());
    }

    #[test]
    fn sign_rejects_key_not_named_like_origin() {
        let other = SignerKey::from_seed("other.invalid/log", &seed("log key")).unwrap();
        assert_eq!(
            SignedCheckpoint::sign(&sample(), &other),
            Err(CheckpointSignError::OriginMismatch {
                origin: ORIGIN.into(),
                key_name: "other.invalid/log".into()
            })
        );
    }

    #[test]
    fn sign_rejects_invalid_checkpoint() {
        let cp = Checkpoint {
            extensions: vec![String::new()],
            ..sample()
        };
        assert_eq!(
            SignedCheckpoint::sign(&cp, &log_key()),
            Err(CheckpointSignError::Body(
                CheckpointBodyError::EmptyExtensionLine { line: 5 }
            ))
        );
    }

    #[test]
    fn verify_rejects_trusted_key_not_named_like_origin() {
        // Log B's trusted key signs a checkpoint claiming log A's origin.
        let other = SignerKey::from_seed("other.invalid/log", &seed("other")).unwrap();
        let note = note::sign(&sample().to_body().unwrap(), &[&other]).unwrap();
        let parsed = SignedCheckpoint::parse(&note).unwrap();
        assert_eq!(
            parsed.verify(&[other.verifier_key(), log_key().verifier_key()]),
            Err(CheckpointVerifyError::OriginNotSigned {
                origin: ORIGIN.into()
            })
        );
    }

    #[test]
    fn verify_ignores_unknown_cosigner() {
        let witness = SignerKey::from_seed(WITNESS, &seed("witness")).unwrap();
        let key = log_key();
        let note = note::sign(&sample().to_body().unwrap(), &[&witness, &key]).unwrap();
        let verified = SignedCheckpoint::parse(&note)
            .unwrap()
            .verify(&[key.verifier_key()])
            .unwrap();
        assert_eq!(verified.signers().len(), 1);
        assert_eq!(verified.checkpoint(), &sample());
    }

    #[test]
    fn verify_rejects_key_with_origin_name_but_other_key() {
        let impostor = SignerKey::from_seed(ORIGIN, &seed("impostor")).unwrap();
        let signed = SignedCheckpoint::sign(&sample(), &impostor).unwrap();
        assert_eq!(
            SignedCheckpoint::parse(&signed)
                .unwrap()
                .verify(&[log_key().verifier_key()]),
            Err(CheckpointVerifyError::Note(
                NoteVerifyError::NoTrustedSignature
            ))
        );
    }

    #[test]
    fn verify_rejects_altered_checkpoint() {
        let signed = SignedCheckpoint::sign(&sample(), &log_key()).unwrap();
        let altered = signed.replace("\n20852163\n", "\n20852164\n");
        assert!(matches!(
            SignedCheckpoint::parse(&altered)
                .unwrap()
                .verify(&[log_key().verifier_key()]),
            Err(CheckpointVerifyError::Note(
                NoteVerifyError::InvalidSignature { .. }
            ))
        ));
    }

    #[test]
    fn parse_reports_note_and_body_errors_apart() {
        let signed = SignedCheckpoint::sign(&sample(), &log_key()).unwrap();
        assert_eq!(
            SignedCheckpoint::parse(signed.trim_end()),
            Err(CheckpointParseError::Note(
                NoteParseError::MissingFinalNewline
            ))
        );
        assert_eq!(
            SignedCheckpoint::parse_bytes(b"\xff"),
            Err(CheckpointParseError::Note(NoteParseError::NotUtf8 {
                valid_up_to: 0
            }))
        );
        let note = note::sign("a\n", &[&log_key()]).unwrap();
        assert_eq!(
            SignedCheckpoint::parse(&note),
            Err(CheckpointParseError::Body(
                CheckpointBodyError::MissingLine { what: "tree size" }
            ))
        );
    }

    // ---- mutations ----

    /// A signed checkpoint with the log's signature then an unknown witness's, and the byte
    /// offset where the witness's line starts.
    fn cosigned() -> (Vec<u8>, usize) {
        let witness = SignerKey::from_seed(WITNESS, &seed("witness")).unwrap();
        let note = note::sign(&sample().to_body().unwrap(), &[&log_key(), &witness]).unwrap();
        let start = note.rfind('\u{2014}').unwrap();
        (note.into_bytes(), start)
    }

    /// Parses and verifies mutated bytes; if they verify, the checkpoint must be the original
    /// and every change must lie in the ignored witness line (or remove it).
    fn check_mutation(original: &[u8], mutated: &[u8], witness_start: usize) {
        let trusted = [log_key().verifier_key()];
        let Ok(signed) = SignedCheckpoint::parse_bytes(mutated) else {
            return;
        };
        let Ok(verified) = signed.verify(&trusted) else {
            return;
        };
        assert_eq!(verified.checkpoint(), &sample());
        // Dropping or altering the witness line is fine; nothing before it may change.
        assert!(
            mutated.get(..witness_start) == original.get(..witness_start),
            "a change before the ignored witness line still verified"
        );
    }

    #[test]
    fn every_single_byte_change_fails_or_hits_the_ignored_line() {
        let (original, witness_start) = cosigned();
        let mut accepted_in_witness_line = 0;
        for i in 0..original.len() {
            for flip in [0x01u8, 0x20, 0x80, 0xff] {
                let mut m = original.clone();
                m[i] ^= flip;
                check_mutation(&original, &m, witness_start);
                let ok = SignedCheckpoint::parse_bytes(&m)
                    .is_ok_and(|s| s.verify(&[log_key().verifier_key()]).is_ok());
                if ok {
                    accepted_in_witness_line += 1;
                }
            }
        }
        // Some changes inside the witness signature keep the note well-formed and are ignored.
        assert!(accepted_in_witness_line > 0);
        for len in 0..original.len() {
            check_mutation(&original, &original[..len], witness_start);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_mutations_never_panic(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            truncate in prop::option::of(any::<prop::sample::Index>()),
        ) {
            let (original, witness_start) = cosigned();
            let mut m = original.clone();
            for (index, byte) in edits {
                let i = index.index(m.len());
                m[i] = byte;
            }
            if let Some(t) = truncate {
                m.truncate(t.index(m.len()));
            }
            check_mutation(&original, &m, witness_start);
        }
    }

    // ---- test vectors in testdata/checkpoints ----

    /// Expected outcome of a stored vector.
    enum Outcome {
        Verifies,
        ParseError(CheckpointParseError),
        VerifyError(CheckpointVerifyError),
    }

    fn vectors() -> Vec<(&'static str, String, Outcome)> {
        let key = log_key();
        let valid = SignedCheckpoint::sign(&sample(), &key).unwrap();
        let bad_signature = valid.replace("\n20852163\n", "\n20852164\n");
        let impostor = SignerKey::from_seed(ORIGIN, &seed("impostor")).unwrap();
        let wrong_key = SignedCheckpoint::sign(&sample(), &impostor).unwrap();
        let no_time_body = sample().to_body().unwrap().replace("time 1767225600\n", "");
        let missing_time = note::sign(&no_time_body, &[&key]).unwrap();
        let trailing = format!("{valid}trailing data");
        vec![
            ("valid.checkpoint", valid, Outcome::Verifies),
            (
                "invalid-bad-signature.checkpoint",
                bad_signature,
                Outcome::VerifyError(CheckpointVerifyError::Note(
                    NoteVerifyError::InvalidSignature {
                        name: ORIGIN.into(),
                        key_id: key.key_id(),
                    },
                )),
            ),
            (
                "invalid-wrong-key.checkpoint",
                wrong_key,
                Outcome::VerifyError(CheckpointVerifyError::Note(
                    NoteVerifyError::NoTrustedSignature,
                )),
            ),
            (
                "invalid-missing-time.checkpoint",
                missing_time,
                Outcome::ParseError(CheckpointParseError::Body(CheckpointBodyError::MissingTime)),
            ),
            (
                "invalid-trailing-data.checkpoint",
                trailing,
                Outcome::ParseError(CheckpointParseError::Note(
                    NoteParseError::MissingFinalNewline,
                )),
            ),
        ]
    }

    #[test]
    fn testdata_vectors_are_current_and_have_their_outcome() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/checkpoints");
        let regenerate = std::env::var("LETRO_REGENERATE").is_ok_and(|v| v == "1");
        let vkey_text = format!("{}\n", log_key().verifier_key());
        let mut files: Vec<(&str, String)> = vec![("log.vkey", vkey_text)];
        let vectors = vectors();
        files.extend(vectors.iter().map(|(name, text, _)| (*name, text.clone())));
        if regenerate {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, text) in &files {
                std::fs::write(dir.join(name), text).unwrap();
            }
        }
        for (name, text) in &files {
            let stored = std::fs::read(dir.join(name))
                .unwrap_or_else(|e| panic!("{name}: {e}; run with LETRO_REGENERATE=1"));
            assert!(
                stored == text.as_bytes(),
                "{name} differs from what the code produces; review, then run with LETRO_REGENERATE=1"
            );
        }

        let stored_vkey = std::fs::read_to_string(dir.join("log.vkey")).unwrap();
        let trusted = [VerifierKey::parse(stored_vkey.trim_end_matches('\n')).unwrap()];
        for (name, _, outcome) in vectors {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let result = SignedCheckpoint::parse_bytes(&bytes);
            match outcome {
                Outcome::Verifies => {
                    let verified = result.unwrap().verify(&trusted).unwrap();
                    assert_eq!(verified.checkpoint(), &sample(), "{name}");
                }
                Outcome::ParseError(expected) => assert_eq!(result, Err(expected), "{name}"),
                Outcome::VerifyError(expected) => {
                    assert_eq!(result.unwrap().verify(&trusted), Err(expected), "{name}");
                }
            }
        }
    }

    #[test]
    fn note_signature_accessors_match_the_key() {
        let signed = SignedCheckpoint::sign(&sample(), &log_key()).unwrap();
        let parsed = SignedCheckpoint::parse(&signed).unwrap();
        let sig: &NoteSignature = &parsed.note().signatures()[0];
        assert_eq!(sig.name(), ORIGIN);
        assert_eq!(
            sig.key_id(),
            KeyId::ed25519(ORIGIN, &log_key().verifier_key().public_key())
        );
    }
}

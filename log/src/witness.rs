//! C2SP tlog-witness (<https://c2sp.org/tlog-witness>): the `add-checkpoint` request and
//! answers, and the witness's decision, apart from HTTP and storage.
//!
//! A request body is `old <size>` LF, up to 63 base64 consistency-proof hashes each on its own
//! line, an empty line, then a signed checkpoint note. The witness:
//! 1. answers 404 for an origin it does not know;
//! 2. answers 403 unless a key it trusts for that origin signed the checkpoint;
//! 3. answers 400 when the old size exceeds the checkpoint's size;
//! 4. answers 409, with its latest size as `text/x.tlog.size`, when the old size is not the
//!    size it last cosigned (0 if never), or when that size equals the checkpoint's and the
//!    roots differ;
//! 5. answers 422 when the RFC 6962 consistency proof from its latest root does not verify;
//! 6. otherwise stores the checkpoint's size and root as its latest (atomically with the check,
//!    which is the caller's) and answers 200 with its cosignature lines.
//!
//! [`decide`] does steps 1 to 5 on a parsed request and the witness's latest state for the
//! origin; it works for any log's checkpoints (only the first three lines are read).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::note::{Note, NoteParseError, VerifierKey};
use crate::rfc6962::{self, Hash};

/// The most consistency-proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The largest request body a witness needs to read: 63 proof lines, a checkpoint with room
/// for extension lines and up to 100 signatures.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Why an `add-checkpoint` body is malformed (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not UTF-8, or longer than [`MAX_REQUEST_BYTES`].
    #[error("the request is not UTF-8 text of at most {MAX_REQUEST_BYTES} bytes")]
    NotText,
    /// The first line is not `old <canonical decimal>`.
    #[error("the first line is not `old <size>`")]
    OldLine,
    /// A proof line is not the canonical base64 of 32 bytes.
    #[error("proof line {0} is not a base64 hash")]
    ProofLine(usize),
    /// More than 63 proof lines, or no empty line before the checkpoint.
    #[error("more than {MAX_PROOF_LINES} proof lines, or no empty line before the checkpoint")]
    TooManyLines,
    /// The checkpoint is not a signed note.
    #[error("the checkpoint is not a signed note: {0}")]
    Note(#[from] NoteParseError),
    /// The checkpoint's first three lines are not an origin, a size and a base64 hash.
    #[error("the checkpoint does not start with an origin, a size and a root hash")]
    Checkpoint,
}

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness last cosigned.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint (not yet verified).
    pub checkpoint: Note,
    /// Its origin line.
    pub origin: String,
    /// Its size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

fn canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn hash_line(s: &str) -> Option<Hash> {
    STANDARD.decode(s).ok()?.try_into().ok()
}

/// The origin, size and root hash of a checkpoint body (its first three lines; extension lines
/// are not read).
pub fn checkpoint_head(body: &str) -> Option<(String, u64, Hash)> {
    let mut lines = body.split('\n');
    let origin = lines.next().filter(|o| !o.is_empty())?;
    let size = canonical_decimal(lines.next()?)?;
    let root = hash_line(lines.next()?)?;
    lines.next()?; // the root line ends in a newline
    Some((origin.to_owned(), size, root))
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::NotText);
        }
        let text = std::str::from_utf8(body).map_err(|_| RequestError::NotText)?;
        let (first, mut rest) = text.split_once('\n').ok_or(RequestError::OldLine)?;
        let old = first
            .strip_prefix("old ")
            .and_then(canonical_decimal)
            .ok_or(RequestError::OldLine)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::TooManyLines)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyLines);
            }
            proof.push(hash_line(line).ok_or(RequestError::ProofLine(proof.len() + 1))?);
        }
        let checkpoint = Note::parse(rest.as_bytes())?;
        let (origin, size, root) =
            checkpoint_head(checkpoint.unverified_text()).ok_or(RequestError::Checkpoint)?;
        Ok(Self {
            old,
            proof,
            checkpoint,
            origin,
            size,
            root,
        })
    }
}

/// The body of an `add-checkpoint` request.
pub fn request_body(old: u64, proof: &[Hash], signed_checkpoint: &str) -> String {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&STANDARD.encode(h));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_checkpoint);
    out
}

/// What the witness last cosigned for an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// Its size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// Why the witness refuses to cosign, with the HTTP status each maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// 404: the origin is not one the witness follows.
    #[error("unknown origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no key trusted for the origin signed the checkpoint (or a trusted key's signature
    /// is invalid).
    #[error("the checkpoint is not signed by a key trusted for its origin: {0}")]
    NotSigned(String),
    /// 400: the old size is larger than the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldBeyondSize {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 409: the old size is not the witness's latest; the body is `latest` LF.
    #[error("old size {old} is not the latest cosigned size {latest}")]
    WrongOldSize {
        /// The request's old size.
        old: u64,
        /// The size the witness last cosigned.
        latest: u64,
    },
    /// 409: the same size as the latest, another root: a fork.
    #[error("size {size} was cosigned with another root hash")]
    Fork {
        /// The size.
        size: u64,
    },
    /// 422: the consistency proof does not verify.
    #[error("the consistency proof does not verify: {0}")]
    Inconsistent(rfc6962::ProofError),
}

impl Refusal {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownOrigin(_) => 404,
            Self::NotSigned(_) => 403,
            Self::OldBeyondSize { .. } => 400,
            Self::WrongOldSize { .. } | Self::Fork { .. } => 409,
            Self::Inconsistent(_) => 422,
        }
    }

    /// The latest size to send back (the 409 body), when there is one.
    pub fn latest_size(&self) -> Option<u64> {
        match self {
            Self::WrongOldSize { latest, .. } => Some(*latest),
            Self::Fork { size } => Some(*size),
            _ => None,
        }
    }
}

/// A log the witness follows: its origin and the keys it trusts for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedLog {
    /// The origin line.
    pub origin: String,
    /// The log's keys (any one signature suffices).
    pub keys: Vec<VerifierKey>,
}

/// Steps 1 to 5: whether the witness may cosign `request`, given the logs it follows and what
/// it last cosigned for the request's origin (`None`: never). On success, the new latest, to
/// store atomically with this check before cosigning.
pub fn decide(
    request: &AddCheckpoint,
    logs: &[FollowedLog],
    latest: Option<Latest>,
) -> Result<Latest, Refusal> {
    let log = logs
        .iter()
        .find(|l| l.origin == request.origin)
        .ok_or_else(|| Refusal::UnknownOrigin(request.origin.clone()))?;
    request
        .checkpoint
        .verify(&log.keys)
        .map_err(|e| Refusal::NotSigned(e.to_string()))?;
    if request.old > request.size {
        return Err(Refusal::OldBeyondSize {
            old: request.old,
            size: request.size,
        });
    }
    let latest = latest.unwrap_or(Latest {
        size: 0,
        root: rfc6962::empty_root(),
    });
    if request.old != latest.size {
        return Err(Refusal::WrongOldSize {
            old: request.old,
            latest: latest.size,
        });
    }
    if request.size == latest.size && request.root != latest.root {
        return Err(Refusal::Fork { size: latest.size });
    }
    rfc6962::verify_consistency(
        latest.size,
        request.size,
        &latest.root,
        &request.root,
        &request.proof,
    )
    .map_err(Refusal::Inconsistent)?;
    Ok(Latest {
        size: request.size,
        root: request.root,
    })
}

/// Parses a 409 body (`<size>` LF).
pub fn parse_size_body(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body)
        .ok()?
        .strip_suffix('\n')
        .and_then(canonical_decimal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{sign, SignerKey};
    use crate::rfc6962::Tree;

    const ORIGIN: &str = "example.com/log";

    fn log_key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, &[3; 32]).unwrap()
    }

    fn followed() -> Vec<FollowedLog> {
        vec![FollowedLog {
            origin: ORIGIN.into(),
            keys: vec![log_key().verifier_key()],
        }]
    }

    fn checkpoint(tree: &Tree, size: u64, key: &SignerKey) -> String {
        let root = STANDARD.encode(tree.root_at(size).unwrap());
        sign(&format!("{ORIGIN}\n{size}\n{root}\nan extension\n"), &[key]).unwrap()
    }

    fn request(tree: &Tree, old: u64, size: u64) -> AddCheckpoint {
        let proof = tree.consistency_proof(old, size).unwrap();
        let body = request_body(old, &proof, &checkpoint(tree, size, &log_key()));
        AddCheckpoint::parse(body.as_bytes()).unwrap()
    }

    fn tree(n: u64) -> Tree {
        let mut t = Tree::new();
        for i in 0..n {
            t.push(&i.to_be_bytes());
        }
        t
    }

    #[test]
    fn the_spec_example_request_parses() {
        let body = "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
        let r = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!((r.old, r.proof.len(), r.size), (20_852_014, 4, 20_852_163));
        assert_eq!(r.origin, "example.com/behind-the-sofa");
        assert_eq!(r.checkpoint.signatures().len(), 2);
    }

    #[test]
    fn a_log_growing_is_cosigned_step_by_step() {
        let t = tree(20);
        let mut latest = None;
        for (old, size) in [(0, 0), (0, 3), (3, 3), (3, 8), (8, 20)] {
            let next = decide(&request(&t, old, size), &followed(), latest).unwrap();
            assert_eq!(next.size, size);
            latest = Some(next);
        }
    }

    #[test]
    fn every_refusal_of_the_spec() {
        let t = tree(20);
        let latest = Some(Latest {
            size: 8,
            root: t.root_at(8).unwrap(),
        });
        // 404: another origin.
        let mut other = followed();
        other[0].origin = "example.com/other".into();
        assert_eq!(
            decide(&request(&t, 8, 12), &other, latest)
                .unwrap_err()
                .status(),
            404
        );
        // 403: signed by a key the witness does not trust for the origin.
        let stranger = SignerKey::from_seed(ORIGIN, &[4; 32]).unwrap();
        let body = request_body(
            8,
            &t.consistency_proof(8, 12).unwrap(),
            &checkpoint(&t, 12, &stranger),
        );
        let r = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(decide(&r, &followed(), latest).unwrap_err().status(), 403);
        // 400: old beyond the size.
        let mut r = request(&t, 8, 12);
        r.old = 13;
        assert_eq!(decide(&r, &followed(), latest).unwrap_err().status(), 400);
        // 409: an old size that is not the latest, with the latest to resend from.
        let e = decide(&request(&t, 5, 12), &followed(), latest).unwrap_err();
        assert_eq!((e.status(), e.latest_size()), (409, Some(8)));
        let e = decide(&request(&t, 0, 12), &followed(), latest).unwrap_err();
        assert_eq!((e.status(), e.latest_size()), (409, Some(8)));
        // A rollback (a checkpoint smaller than the latest, sent with the right old size) is
        // refused as an old size beyond the checkpoint's size.
        let mut r = request(&t, 5, 5);
        r.old = 8;
        assert_eq!(decide(&r, &followed(), latest).unwrap_err().status(), 400);
        // 409: same size, another root (a fork at the same size).
        let mut forked = tree(7);
        forked.push(b"another entry");
        let body = request_body(8, &[], &checkpoint(&forked, 8, &log_key()));
        let r = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(
            decide(&r, &followed(), latest),
            Err(Refusal::Fork { size: 8 })
        );
        // 422: a fork at a larger size: the proof from the stored root cannot verify.
        let mut other_history = tree(7);
        other_history.push(b"x");
        for i in 100..110u64 {
            other_history.push(&i.to_be_bytes());
        }
        let body = request_body(
            8,
            &other_history.consistency_proof(8, 18).unwrap(),
            &checkpoint(&other_history, 18, &log_key()),
        );
        let r = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(decide(&r, &followed(), latest).unwrap_err().status(), 422);
        // 422: a proof with a hash altered.
        let mut r = request(&t, 8, 20);
        r.proof[0][0] ^= 1;
        assert_eq!(decide(&r, &followed(), latest).unwrap_err().status(), 422);
        // 422: a proof from size 0 must be empty.
        let mut r = request(&t, 0, 20);
        r.proof.push([0; 32]);
        assert_eq!(decide(&r, &followed(), None).unwrap_err().status(), 422);
    }

    #[test]
    fn malformed_requests_are_refused() {
        let t = tree(4);
        let good = request_body(
            2,
            &t.consistency_proof(2, 4).unwrap(),
            &checkpoint(&t, 4, &log_key()),
        );
        assert!(AddCheckpoint::parse(good.as_bytes()).is_ok());
        let bad = [
            good.replacen("old 2", "old 02", 1),
            good.replacen("old 2", "old -2", 1),
            good.replacen("old 2", "old  2", 1),
            good.replacen("old 2", "size 2", 1),
            good.replacen("old 2\n", "old 2", 1),
            good.replacen('=', "", 1),
            "old 0\n".into(),
            "old 0\n\nnot a note\n".into(),
            format!(
                "old 0\n\n{}",
                sign("example.com/log\nx\nAAAA\n", &[&log_key()]).unwrap()
            ),
            format!(
                "old 0\n{}\n{}",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64),
                checkpoint(&t, 4, &log_key())
            ),
        ];
        for b in &bad {
            assert!(AddCheckpoint::parse(b.as_bytes()).is_err(), "{b:?}");
        }
        assert_eq!(
            AddCheckpoint::parse(&[0xff, 0xfe]),
            Err(RequestError::NotText)
        );
        assert_eq!(
            AddCheckpoint::parse(&vec![b'a'; MAX_REQUEST_BYTES + 1]),
            Err(RequestError::NotText)
        );
        assert_eq!(parse_size_body(b"8\n"), Some(8));
        for b in [&b"08\n"[..], b"8", b"8\n\n", b"", b"x\n"] {
            assert_eq!(parse_size_body(b), None, "{b:?}");
        }
    }
}

//! `letro monitor`: follows a Letro log through its C2SP tlog-tiles (over HTTP, or a directory
//! of tiles) and checks everything a log promises, with nothing but the log's public key:
//!
//! - each checkpoint is signed by the log's key under its origin, and (with a C2SP tlog-policy)
//!   cosigned by a quorum of the policy's witnesses;
//! - it never goes back (rollback) and never changes the tree the monitor saw before (fork): the
//!   new entries are read from the entry bundles, appended to every entry seen before, and both
//!   roots are recomputed from the entries: the RFC 6962 root must be line 3 and the Poseidon
//!   root the `poseidon-root` line (SPEC §6.3), so a split view of either root is caught;
//! - every entry is 32 bytes holding a canonical field element, and an entry seen before that a
//!   tile now shows differently is a fork too.
//!
//! The state (the last verified checkpoint and every entry, 32 bytes each) is kept in a
//! directory: entries are appended and fsynced before the checkpoint is replaced (written to a
//! temporary file, fsynced, renamed), so a crash leaves either the old state or the new, and
//! entries past the stored checkpoint are dropped at the next start. On misbehaviour the
//! monitor writes the evidence (the last good checkpoint and the offending one) to
//! `misbehaviour-<unix time>.txt` beside the state and stops: it does not move past a log it
//! caught.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use letro_core::field::fr_from_be_bytes;
use letro_core::log::DeliveryLog;
use letro_core::Fr;
use letro_log::checkpoint::{Checkpoint, SignedCheckpoint};
use letro_log::note::VerifierKey;
use letro_log::policy::Policy;
use letro_log::tiles::{parse_entry_bundle, TileKind, TilePath, TILE_WIDTH};

/// The state directory's checkpoint file.
const CHECKPOINT_FILE: &str = "checkpoint";
/// The state directory's entries file (32 bytes per entry).
const ENTRIES_FILE: &str = "entries";
/// The largest checkpoint the monitor reads.
const MAX_CHECKPOINT: usize = 64 * 1024;
/// The largest tile the monitor reads (256 entries of at most 65,535 bytes and their lengths).
const MAX_TILE: usize = 256 * (2 + 65_535);
/// Each entry: a leaf's 32 big-endian bytes.
const ENTRY_LEN: usize = 32;

/// What a log did wrong. Each is evidence against the log (or whoever serves its tiles).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// The checkpoint does not parse, or is not signed by the log's key under its origin.
    #[error("the checkpoint is not validly signed by the log's key: {0}")]
    BadSignature(String),
    /// Cosignatures: one claiming to be a policy witness's does not verify, or the quorum is
    /// not met.
    #[error("witness cosignatures: {0}")]
    Witnesses(String),
    /// The tree shrank, to a tree that is not the prefix seen before: two signed checkpoints
    /// that no single log history has.
    #[error("rollback: the log signed a checkpoint for {new} entries whose roots are not those of the first {new} entries of the {old} seen before")]
    Rollback {
        /// The size seen before.
        old: u64,
        /// The size now.
        new: u64,
    },
    /// The tree of the new checkpoint does not extend the one seen before.
    #[error("fork: {0}")]
    Fork(String),
    /// The `poseidon-root` line is not the Poseidon root of the entries.
    #[error(
        "the checkpoint's poseidon-root line is not the Poseidon root of its {size} entries \
         (the RFC 6962 root matches, so the two roots are not bound as SPEC 6.3 requires)"
    )]
    PoseidonRoot {
        /// The tree size.
        size: u64,
    },
    /// A tile the checkpoint requires is missing.
    #[error("the tile {0} that the checkpoint requires is not served")]
    MissingTile(String),
    /// A tile or entry that is not what the spec or SPEC §5.10 allows.
    #[error("the tile {path} is malformed: {reason}")]
    BadTile {
        /// The tile.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Why a check did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The log misbehaved: the evidence is in `evidence`, when it could be written.
    #[error("MISBEHAVIOUR: {what}")]
    Misbehaviour {
        /// What the log did.
        what: Misbehaviour,
        /// The evidence file.
        evidence: Option<PathBuf>,
    },
    /// The log (or its tiles) could not be reached; nothing was concluded and nothing stored.
    #[error("could not fetch {what}: {reason}")]
    Fetch {
        /// What was fetched.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The monitor's own state or settings.
    #[error("monitor state: {0}")]
    State(String),
}

/// Where the log's tiles are read.
#[derive(Debug, Clone)]
pub enum Source {
    /// A tlog-tiles prefix URL (`http://host/v1/log`).
    Http {
        /// The client.
        client: reqwest::Client,
        /// The prefix, without a trailing slash.
        prefix: String,
    },
    /// A directory of tiles (as `tiles_directory` writes them).
    Dir(PathBuf),
}

impl Source {
    /// `http://` and `https://` are URLs (a tlog-tiles prefix); anything else a directory.
    pub fn new(location: &str, timeout: Duration) -> Result<Self, MonitorError> {
        if location.starts_with("http://") || location.starts_with("https://") {
            let client = reqwest::Client::builder()
                .tls_backend_preconfigured(
                    crate::callback::tls_config(None).map_err(MonitorError::State)?,
                )
                .redirect(reqwest::redirect::Policy::limited(3))
                .timeout(timeout)
                .build()
                .map_err(|e| MonitorError::State(format!("HTTP client: {e}")))?;
            Ok(Self::Http {
                client,
                prefix: location.trim_end_matches('/').to_owned(),
            })
        } else {
            Ok(Self::Dir(PathBuf::from(location)))
        }
    }

    /// The file at `path` below the prefix; `None` if the log does not have it (404, no file).
    async fn get(&self, path: &str, limit: usize) -> Result<Option<Vec<u8>>, MonitorError> {
        let fetch = |reason: String| MonitorError::Fetch {
            what: path.to_owned(),
            reason,
        };
        match self {
            Self::Http { client, prefix } => {
                let mut resp = client
                    .get(format!("{prefix}/{path}"))
                    .send()
                    .await
                    .map_err(|e| fetch(e.to_string()))?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !resp.status().is_success() {
                    return Err(fetch(format!("HTTP {}", resp.status())));
                }
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| fetch(e.to_string()))? {
                    body.extend_from_slice(&chunk);
                    if body.len() > limit {
                        return Err(fetch(format!("more than {limit} bytes")));
                    }
                }
                Ok(Some(body))
            }
            Self::Dir(dir) => {
                let file = dir.join(path);
                let f = match File::open(&file) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(fetch(e.to_string())),
                };
                let mut body = Vec::new();
                f.take(limit as u64 + 1)
                    .read_to_end(&mut body)
                    .map_err(|e| fetch(e.to_string()))?;
                if body.len() > limit {
                    return Err(fetch(format!("more than {limit} bytes")));
                }
                Ok(Some(body))
            }
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The size verified before.
    pub old_size: u64,
    /// The size verified now.
    pub new_size: u64,
    /// The policy names of the witnesses whose cosignatures verified (empty without a policy).
    pub cosigned_by: Vec<String>,
    /// The checkpoint's line 3 was the RFC 6962 root and was checked (false for a checkpoint
    /// of the older form, whose line 3 is the Poseidon root).
    pub rfc6962_checked: bool,
}

/// A monitor of one log, with its durable state.
#[derive(Debug)]
pub struct Monitor {
    dir: PathBuf,
    log_key: VerifierKey,
    policy: Option<Policy>,
    log: DeliveryLog,
    last: Option<(String, Checkpoint)>,
    /// Entries were added to `log` by a check that has not completed: reload before going on.
    dirty: bool,
}

impl Monitor {
    /// Opens (or creates) the state in `dir` for the log whose key is `log_key`, requiring a
    /// quorum of `policy`'s witnesses on every checkpoint if one is given. The stored state is
    /// rechecked: its checkpoint against the key, its entries against both roots.
    pub fn open(
        dir: &Path,
        log_key: VerifierKey,
        policy: Option<Policy>,
    ) -> Result<Self, MonitorError> {
        let state = |what: &str, e: &dyn std::fmt::Display| {
            MonitorError::State(format!("{}: {what}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| state("create", &e))?;
        let mut monitor = Self {
            dir: dir.to_owned(),
            log_key,
            policy,
            log: DeliveryLog::new(),
            last: None,
            dirty: false,
        };
        let text = match std::fs::read_to_string(dir.join(CHECKPOINT_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Entries appended by a first check that stopped before its checkpoint was
                // written belong to no verified checkpoint: drop them.
                match OpenOptions::new().write(true).open(dir.join(ENTRIES_FILE)) {
                    Ok(f) => f
                        .set_len(0)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| state(ENTRIES_FILE, &e))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(state(ENTRIES_FILE, &e)),
                }
                return Ok(monitor);
            }
            Err(e) => return Err(state(CHECKPOINT_FILE, &e)),
        };
        let checkpoint = monitor
            .verify_signature(&text)
            .map_err(|e| state(CHECKPOINT_FILE, &e))?;
        let size = checkpoint.size;
        let mut bytes = Vec::new();
        File::open(dir.join(ENTRIES_FILE))
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| state(ENTRIES_FILE, &e))?;
        let want = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_mul(ENTRY_LEN))
            .ok_or_else(|| state(CHECKPOINT_FILE, &"size too large"))?;
        if bytes.len() < want {
            return Err(state(
                ENTRIES_FILE,
                &format!("{} bytes, the checkpoint needs {want}", bytes.len()),
            ));
        }
        if bytes.len() > want {
            // Entries appended before a crash that kept the checkpoint from being replaced.
            OpenOptions::new()
                .write(true)
                .open(dir.join(ENTRIES_FILE))
                .and_then(|f| f.set_len(want as u64).and_then(|()| f.sync_all()))
                .map_err(|e| state(ENTRIES_FILE, &e))?;
            bytes.truncate(want);
        }
        let leaves = bytes
            .chunks_exact(ENTRY_LEN)
            .map(|c| {
                <&[u8; 32]>::try_from(c)
                    .ok()
                    .and_then(|c| fr_from_be_bytes(c).ok())
            })
            .collect::<Option<Vec<Fr>>>()
            .ok_or_else(|| state(ENTRIES_FILE, &"an entry is not a field element"))?;
        monitor.log = DeliveryLog::restore(&leaves, size).map_err(|e| state(ENTRIES_FILE, &e))?;
        monitor
            .check_roots(&checkpoint)
            .map_err(|e| state("the stored entries do not match the stored checkpoint", &e))?;
        monitor.last = Some((text, checkpoint));
        Ok(monitor)
    }

    /// The size verified so far.
    pub fn size(&self) -> u64 {
        self.last.as_ref().map_or(0, |(_, c)| c.size)
    }

    /// The last verified checkpoint's text.
    pub fn checkpoint_text(&self) -> Option<&str> {
        self.last.as_ref().map(|(t, _)| t.as_str())
    }

    fn verify_signature(&self, text: &str) -> Result<Checkpoint, Misbehaviour> {
        let signed =
            SignedCheckpoint::parse(text).map_err(|e| Misbehaviour::BadSignature(e.to_string()))?;
        let verified = signed
            .verify(std::slice::from_ref(&self.log_key))
            .map_err(|e| Misbehaviour::BadSignature(e.to_string()))?;
        if verified.checkpoint().origin != self.log_key.name() {
            return Err(Misbehaviour::BadSignature(format!(
                "origin {:?} is not the log key's name {:?}",
                verified.checkpoint().origin,
                self.log_key.name()
            )));
        }
        Ok(verified.into_checkpoint())
    }

    /// Both roots of the entries held, against `checkpoint`.
    fn check_roots(&self, checkpoint: &Checkpoint) -> Result<bool, Misbehaviour> {
        let size = checkpoint.size;
        let poseidon = self
            .log
            .root_at(size)
            .map_err(|e| Misbehaviour::Fork(e.to_string()))?;
        let rfc6962_checked = match checkpoint.rfc6962_root() {
            Some(root) => {
                let ours = self
                    .log
                    .rfc6962()
                    .root_at(size)
                    .map_err(|e| Misbehaviour::Fork(e.to_string()))?;
                if ours != root {
                    return Err(Misbehaviour::Fork(format!(
                        "the entries served (after the {} seen before) do not hash to the \
                         signed RFC 6962 root at size {size}: the log forked, or whoever served \
                         the tiles altered them (tiles are not signed; compare with another \
                         mirror or the log's consistency proof)",
                        self.size()
                    )));
                }
                true
            }
            None => false,
        };
        if letro_core::field::fr_to_be_bytes(&poseidon) != checkpoint.poseidon_root() {
            return Err(if rfc6962_checked {
                Misbehaviour::PoseidonRoot { size }
            } else {
                Misbehaviour::Fork(format!(
                    "the entries do not hash to the checkpoint's Poseidon root at size {size}"
                ))
            });
        }
        Ok(rfc6962_checked)
    }

    /// Fetches the log's checkpoint and the entries added since the last check, verifies
    /// them, and stores the new state. On misbehaviour nothing is stored but the evidence.
    pub async fn check(&mut self, source: &Source) -> Result<Update, MonitorError> {
        if self.dirty {
            *self = Self::open(&self.dir, self.log_key.clone(), self.policy.clone())?;
        }
        let text = source
            .get("checkpoint", MAX_CHECKPOINT)
            .await?
            .ok_or_else(|| MonitorError::Fetch {
                what: "checkpoint".into(),
                reason: "not found".into(),
            })?;
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let outcome = self.try_check(source, &text).await;
        let evidence = match &outcome {
            Err(MonitorError::Misbehaviour { what, .. }) => self.write_evidence(what, &text),
            _ => None,
        };
        if outcome.is_err() && self.dirty {
            // Drop the entries appended in memory: back to the stored state. If that fails,
            // `dirty` stays set and the next check tries again before anything else.
            match Self::open(&self.dir, self.log_key.clone(), self.policy.clone()) {
                Ok(fresh) => *self = fresh,
                Err(e) => tracing::error!(error = %e, "reloading the monitor's state failed"),
            }
        }
        match outcome {
            Err(MonitorError::Misbehaviour { what, .. }) => {
                Err(MonitorError::Misbehaviour { what, evidence })
            }
            other => other,
        }
    }

    async fn try_check(&mut self, source: &Source, text: &str) -> Result<Update, MonitorError> {
        let bad = |what| MonitorError::Misbehaviour {
            what,
            evidence: None,
        };
        let checkpoint = self.verify_signature(text).map_err(bad)?;
        let cosigned_by = match &self.policy {
            None => Vec::new(),
            Some(policy) => {
                let note = SignedCheckpoint::parse(text)
                    .map_err(|e| bad(Misbehaviour::BadSignature(e.to_string())))?;
                let (found, met) = policy
                    .cosignatures(note.note())
                    .map_err(|e| bad(Misbehaviour::Witnesses(e.to_string())))?;
                let names: Vec<String> = found.into_iter().map(|(n, _)| n).collect();
                if !met {
                    return Err(bad(Misbehaviour::Witnesses(format!(
                        "the policy's quorum is not met (cosigned by: {})",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ))));
                }
                names
            }
        };
        let old = self.size();
        let new = checkpoint.size;
        if new < old {
            // An older checkpoint of the same tree (a cache or a mirror behind) is stale, not
            // evidence; one whose roots differ from the tree seen is a fork, signed by the log.
            let same_tree = checkpoint.rfc6962_root().is_none_or(|root| {
                self.log
                    .rfc6962()
                    .root_at(new)
                    .is_ok_and(|ours| ours == root)
            }) && self
                .log
                .root_at(new)
                .is_ok_and(|p| letro_core::field::fr_to_be_bytes(&p) == checkpoint.poseidon_root());
            if same_tree {
                return Err(MonitorError::Fetch {
                    what: "checkpoint".into(),
                    reason: format!(
                        "a stale checkpoint for {new} entries (consistent with the {old} seen before): a cache or mirror behind the log"
                    ),
                });
            }
            return Err(bad(Misbehaviour::Rollback { old, new }));
        }
        if new == old {
            if let Some((_, last)) = &self.last {
                if last.root != checkpoint.root
                    || last.poseidon_root() != checkpoint.poseidon_root()
                {
                    return Err(bad(Misbehaviour::Fork(format!(
                        "two checkpoints for {new} entries with different roots"
                    ))));
                }
            }
        }
        let added = self.fetch_entries(source, old, new).await?;
        self.dirty = true;
        for leaf in &added {
            self.log
                .sequence(*leaf)
                .map_err(|e| MonitorError::State(e.to_string()))?;
        }
        self.log
            .integrate()
            .map_err(|e| MonitorError::State(e.to_string()))?;
        let rfc6962_checked = self.check_roots(&checkpoint).map_err(bad)?;
        self.store(&added, text)?;
        self.log
            .mark_published(new)
            .map_err(|e| MonitorError::State(e.to_string()))?;
        self.last = Some((text.to_owned(), checkpoint));
        self.dirty = false;
        Ok(Update {
            old_size: old,
            new_size: new,
            cosigned_by,
            rfc6962_checked,
        })
    }

    /// Entries `old..new` from the entry bundles; entries of those bundles below `old` must be
    /// the ones seen before.
    async fn fetch_entries(
        &self,
        source: &Source,
        old: u64,
        new: u64,
    ) -> Result<Vec<Fr>, MonitorError> {
        let bad = |what| MonitorError::Misbehaviour {
            what,
            evidence: None,
        };
        let mut out = Vec::new();
        if new == old {
            return Ok(out);
        }
        if new > letro_core::merkle::CAPACITY {
            return Err(bad(Misbehaviour::BadTile {
                path: "checkpoint".into(),
                reason: format!("a tree of {new} entries is beyond a Letro log's capacity"),
            }));
        }
        for index in old / TILE_WIDTH..new.div_ceil(TILE_WIDTH) {
            let start = index * TILE_WIDTH;
            let width = (new - start).min(TILE_WIDTH) as u16;
            let path = TilePath {
                kind: TileKind::Entries,
                index,
                width,
            };
            let mut bytes = source.get(&path.to_string(), MAX_TILE).await?;
            if bytes.is_none() && !path.is_full() {
                // The log may have grown since: the full bundle holds the partial one.
                let full = TilePath::full(TileKind::Entries, index);
                bytes = source.get(&full.to_string(), MAX_TILE).await?;
            }
            let bytes = bytes.ok_or_else(|| bad(Misbehaviour::MissingTile(path.to_string())))?;
            let entries = parse_entry_bundle(&bytes, &path).map_err(|e| {
                bad(Misbehaviour::BadTile {
                    path: path.to_string(),
                    reason: e.to_string(),
                })
            })?;
            for (i, entry) in entries.iter().take(usize::from(width)).enumerate() {
                let at = start + i as u64;
                let leaf = <&[u8; 32]>::try_from(*entry)
                    .ok()
                    .and_then(|e| fr_from_be_bytes(e).ok())
                    .ok_or_else(|| {
                        bad(Misbehaviour::BadTile {
                            path: path.to_string(),
                            reason: format!(
                                "entry {at} is {} bytes, not a 32-byte field element",
                                entry.len()
                            ),
                        })
                    })?;
                if at < old {
                    let seen = u32::try_from(at).ok().and_then(|a| self.log.leaf(a).ok());
                    if seen != Some(leaf) {
                        return Err(bad(Misbehaviour::Fork(format!(
                            "entry {at}, verified before, is served differently now"
                        ))));
                    }
                } else {
                    out.push(leaf);
                }
            }
        }
        Ok(out)
    }

    /// Appends `added` to the entries file (fsynced), then replaces the checkpoint file.
    fn store(&self, added: &[Fr], text: &str) -> Result<(), MonitorError> {
        let state = |what: &str, e: std::io::Error| {
            MonitorError::State(format!("{}: {what}: {e}", self.dir.display()))
        };
        let mut bytes = Vec::with_capacity(added.len() * ENTRY_LEN);
        for leaf in added {
            bytes.extend_from_slice(&letro_core::field::fr_to_be_bytes(leaf));
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(ENTRIES_FILE))
            .map_err(|e| state(ENTRIES_FILE, e))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| state(ENTRIES_FILE, e))?;
        crate::files::write_atomic(&self.dir.join(CHECKPOINT_FILE), text.as_bytes())
            .map_err(|e| state(CHECKPOINT_FILE, e))
    }

    fn write_evidence(&self, what: &Misbehaviour, offending: &str) -> Option<PathBuf> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = self.dir.join(format!("misbehaviour-{now}.txt"));
        let text = format!(
            "letro monitor: the log {} misbehaved.\n\n{what}\n\n\
             The last checkpoint verified before:\n\n{}\n\
             The checkpoint the log served:\n\n{offending}\n",
            self.log_key.name(),
            self.checkpoint_text().unwrap_or("(none)\n"),
        );
        crate::files::write_atomic(&path, text.as_bytes()).ok()?;
        Some(path)
    }
}

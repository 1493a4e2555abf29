//! Writes the published log as C2SP tlog-tiles files to a directory (`tiles_directory`), for a
//! static file server, an object store or a CDN to serve at a prefix: the same bytes as
//! `GET /v1/log/checkpoint` and `GET /v1/log/tile/...` (SPEC §5.10).
//!
//! After each publication the tiles the new size adds are written (each file whole or not at
//! all, and every directory they create fsynced), full tiles that already exist are checked and
//! left alone (they never change; another log's are refused), and the checkpoint is replaced
//! last, so a reader never sees a checkpoint whose tiles are missing, even after a power loss.
//! Tiles are made a batch at a time under the log's read lock, so a large first export never
//! holds the log. Partial tiles of earlier sizes stay, as the spec allows. A failure is logged
//! and retried at the next publication round; it never stops the log.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use letro_log::tiles::{tiles_between, TilePath};

use crate::api::AppState;
use crate::files::write_atomic;

/// Tiles made per hold of the log's read lock.
const BATCH: usize = 64;

/// Exports the published log to a directory.
#[derive(Debug)]
pub struct TileExporter {
    dir: PathBuf,
    /// The size whose tiles are all written, and the checkpoint written for it.
    written: Mutex<(u64, Option<String>)>,
}

impl TileExporter {
    /// An exporter to `dir` (created if missing). The first export writes every tile that is
    /// not there yet.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            written: Mutex::new((0, None)),
        })
    }

    /// Writes the tiles and the checkpoint of the published tree, if either changed since the
    /// last export. Returns the number of files written.
    pub async fn export(self: &std::sync::Arc<Self>, state: &AppState) -> Result<usize, String> {
        let this = self.clone();
        let state = state.clone();
        tokio::task::spawn_blocking(move || this.export_blocking(&state))
            .await
            .map_err(|e| format!("tile export task: {e}"))?
    }

    fn export_blocking(&self, state: &AppState) -> Result<usize, String> {
        let mut written = self
            .written
            .lock()
            .map_err(|_| "tile exporter lock poisoned".to_owned())?;
        let read = || {
            state
                .inner
                .view
                .read()
                .map_err(|_| "log view lock poisoned".to_owned())
        };
        let (size, checkpoint) = {
            let view = read()?;
            let Some(checkpoint) = view.checkpoint.clone() else {
                return Ok(0);
            };
            (view.log.published_size(), checkpoint.text)
        };
        if size == written.0 && written.1.as_deref() == Some(checkpoint.as_str()) {
            return Ok(0);
        }
        let mut count = 0;
        let mut new_dirs = BTreeSet::new();
        let paths = tiles_between(written.0, size);
        for batch in paths.chunks(BATCH) {
            // Tiles of the published tree never change: the lock is taken per batch.
            let tiles: Vec<(TilePath, Vec<u8>)> = {
                let view = read()?;
                batch
                    .iter()
                    .map(|path| {
                        view.log
                            .tile(path, size)
                            .map(|bytes| (*path, bytes))
                            .map_err(|e| format!("tile {path}: {e}"))
                    })
                    .collect::<Result<_, _>>()?
            };
            for (path, bytes) in tiles {
                let file = self.dir.join(path.to_string());
                if path.is_full() {
                    // A full tile never changes: one already there is left alone, once checked
                    // to be this log's (a directory left by another log is refused, not mixed).
                    match std::fs::read(&file) {
                        Ok(there) if there == bytes => continue,
                        Ok(_) => return Err(another_log(&self.dir, &path)),
                        Err(_) => {}
                    }
                }
                if let Some(parent) = file.parent() {
                    self.create_dirs(parent, &mut new_dirs)?;
                }
                write_atomic(&file, &bytes).map_err(|e| format!("{}: {e}", file.display()))?;
                count += 1;
            }
        }
        // Directories created now must be durable before the checkpoint that needs them.
        for dir in new_dirs.iter().rev() {
            sync_dir(dir)?;
        }
        let file = self.dir.join("checkpoint");
        write_atomic(&file, checkpoint.as_bytes())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        *written = (size, Some(checkpoint));
        Ok(count + 1)
    }

    /// Creates `dir` and its missing parents below the export directory, recording each one
    /// created (and its parent, whose entry changed) to be fsynced.
    fn create_dirs(&self, dir: &Path, created: &mut BTreeSet<PathBuf>) -> Result<(), String> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut d = dir;
        while !d.is_dir() && d.starts_with(&self.dir) {
            missing.push(d.to_owned());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for m in missing {
            if let Some(p) = m.parent() {
                created.insert(p.to_owned());
            }
            created.insert(m);
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

fn another_log(dir: &Path, path: &TilePath) -> String {
    format!(
        "{} holds a different {path}: the directory holds another log's tiles",
        dir.display()
    )
}

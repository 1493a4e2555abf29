//! Writes the published log as C2SP tlog-tiles files to a directory (`tiles_directory`), for a
//! static file server, an object store or a CDN to serve at a prefix: the same bytes as
//! `GET /v1/log/checkpoint` and `GET /v1/log/tile/...` (SPEC §5.10).
//!
//! After each publication the tiles the new size adds are written (each file whole or not at
//! all), full tiles that already exist are left alone (they never change), and the checkpoint
//! is replaced last, so a reader never sees a checkpoint whose tiles are missing. Partial tiles
//! of earlier sizes stay, as the spec allows. A failure is logged and retried at the next
//! publication; it never stops the log.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use letro_log::tiles::{tiles_between, TilePath};

use crate::api::AppState;
use crate::files::write_atomic;

/// Exports the published log to a directory.
#[derive(Debug)]
pub struct TileExporter {
    dir: PathBuf,
    /// The size whose tiles are all written.
    written: Mutex<u64>,
}

impl TileExporter {
    /// An exporter to `dir` (created if missing). The first export writes every tile that is
    /// not there yet.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            written: Mutex::new(0),
        })
    }

    /// Writes the tiles and the checkpoint of the published tree, if it grew since the last
    /// export. Returns the number of files written.
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
        // Compute under the read lock, write after it.
        let (size, checkpoint, files) = {
            let view = state
                .inner
                .view
                .read()
                .map_err(|_| "log view lock poisoned".to_owned())?;
            let Some(checkpoint) = view.checkpoint.clone() else {
                return Ok(0);
            };
            let size = view.log.published_size();
            if size == *written && self.dir.join("checkpoint").exists() {
                return Ok(0);
            }
            let mut files: Vec<(TilePath, Vec<u8>)> = Vec::new();
            for path in tiles_between(*written, size) {
                let bytes = view
                    .log
                    .tile(&path, size)
                    .map_err(|e| format!("tile {path}: {e}"))?;
                if path.is_full() {
                    // A full tile never changes: one already there is left alone, once checked
                    // to be this log's (a directory left by another log is refused, not mixed).
                    match std::fs::read(self.dir.join(path.to_string())) {
                        Ok(there) if there == bytes => continue,
                        Ok(_) => return Err(another_log(&self.dir, &path)),
                        Err(_) => {}
                    }
                }
                files.push((path, bytes));
            }
            (size, checkpoint.text, files)
        };
        let count = files.len() + 1;
        for (path, bytes) in files {
            let file = self.dir.join(path.to_string());
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            write_atomic(&file, &bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        }
        let file = self.dir.join("checkpoint");
        write_atomic(&file, checkpoint.as_bytes())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        *written = size;
        Ok(count)
    }
}

fn another_log(dir: &Path, path: &TilePath) -> String {
    format!(
        "{} holds a different {path}: the directory holds another log's tiles",
        dir.display()
    )
}

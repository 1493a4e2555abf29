//! Writes the published log as C2SP tlog-tiles files (`checkpoint`, `tile/<L>/...` and the entry
//! bundles `tile/entries/...`) to object storage through the `object_store` crate: a local
//! directory (`tiles_directory`, or a `file://` URL in `tiles_store`) or an S3-compatible bucket
//! (`tiles_store = "s3://bucket/prefix"`), for a static file server, a CDN or readers to serve at
//! a prefix: the same bytes as `GET /v1/log/checkpoint` and `GET /v1/log/tile/...` (SPEC §5.10).
//!
//! After each publication the tiles the new size adds are written, each object whole or not at
//! all and durable when its write returns (an object store's PUT; on a local directory the file
//! and every directory it created are fsynced first). Full tiles that already exist are checked
//! and left alone (they never change; another log's are refused). The checkpoint is replaced
//! last, so a reader never sees a checkpoint whose tiles are missing, even after a power loss,
//! and never by a smaller one: the stored checkpoint is read every round, a larger one of this
//! log is left alone (a newer leader's, when this replica lost its lease while exporting) and
//! one that differs from the published one is written again.
//! Tiles are made a batch at a time under the log's read lock, so a large first export never
//! holds the log. Partial tiles of earlier sizes stay, as the spec allows. A failure is logged
//! and retried at the next publication round; it never stops the log.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use letro_log::tiles::{tiles_between, TilePath};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload, RetryConfig};

use crate::api::AppState;

/// Tiles made per hold of the log's read lock, and written concurrently.
const BATCH: usize = 64;

/// Exports the published log to object storage.
#[derive(Debug)]
pub struct TileExporter {
    store: Arc<dyn ObjectStore>,
    /// The objects' common prefix in `store` (empty for a directory).
    prefix: ObjectPath,
    /// What the tiles are written to, for messages: the directory or the URL.
    target: String,
    /// The size whose tiles are all written, and the checkpoint written for it.
    written: tokio::sync::Mutex<(u64, Option<String>)>,
}

impl TileExporter {
    /// An exporter to the directory `dir` (created if missing), every write fsynced. The first
    /// export writes every tile that is not there yet.
    pub fn directory(dir: &Path) -> Result<Self, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| fail(&e))?
            .with_fsync(true);
        Ok(Self::new(
            Arc::new(store),
            ObjectPath::default(),
            dir.display().to_string(),
        ))
    }

    /// An exporter to the object storage `url` names: `s3://bucket/prefix` (AWS S3 or any
    /// S3-compatible store, configured by `options`: object_store's keys such as
    /// `aws_endpoint`, `aws_region`, `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_allow_http`) or `file:///absolute/directory`.
    pub fn url(url: &str, options: &[(String, String)]) -> Result<Self, String> {
        let fail = |e: &dyn std::fmt::Display| format!("tiles_store {url:?}: {e}");
        let parsed = url::Url::parse(url).map_err(|e| fail(&e))?;
        match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| fail(&"not an absolute local path"))?;
                return Self::directory(&dir);
            }
            "s3" => {}
            other => {
                return Err(fail(&format_args!(
                    "the scheme {other:?} is not supported (s3:// or file://)"
                )))
            }
        }
        // reqwest's TLS takes the process's default provider: ring, the only one in the tree.
        // Server certificates are checked against the system's roots.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // A store that is down fails the export within seconds (it is retried at the next
        // round), instead of object_store's default of retrying for three minutes.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            ..RetryConfig::default()
        };
        let builder = options.iter().fold(
            AmazonS3Builder::new().with_url(url).with_retry(retry),
            // Keys object_store does not know (other AWS_* variables) are not its settings.
            |builder, (key, value)| match key.parse::<AmazonS3ConfigKey>() {
                Ok(key) => builder.with_config(key, value),
                Err(_) => builder,
            },
        );
        let store = builder.build().map_err(|e| fail(&e))?;
        let prefix = ObjectPath::from_url_path(parsed.path()).map_err(|e| fail(&e))?;
        Ok(Self::new(Arc::new(store), prefix, url.to_owned()))
    }

    fn new(store: Arc<dyn ObjectStore>, prefix: ObjectPath, target: String) -> Self {
        Self {
            store,
            prefix,
            target,
            written: tokio::sync::Mutex::new((0, None)),
        }
    }

    /// Writes the tiles and the checkpoint of the published tree, if either changed since the
    /// last export. Returns the number of objects written.
    pub async fn export(&self, state: &AppState) -> Result<usize, String> {
        let mut written = self.written.lock().await;
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
        // The stored checkpoint is read every round, so that one replaced behind this
        // exporter's back (by a replica that lost its lease and was still exporting) is
        // written again.
        let location = self.location("checkpoint");
        let stored = self.get(&location).await?;
        if size == written.0
            && written.1.as_deref() == Some(checkpoint.as_str())
            && stored.as_deref() == Some(checkpoint.as_bytes())
        {
            return Ok(0);
        }
        let mut count = 0;
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
            let puts = tiles
                .into_iter()
                .map(|(path, bytes)| self.put_tile(path, bytes));
            for put in futures_util::future::join_all(puts).await {
                count += usize::from(put?);
            }
        }
        // Every tile is durable: now the checkpoint that needs them, unless the store holds a
        // larger one of this log (a newer leader's: a checkpoint never goes back).
        if let Some(there) = self.get(&location).await? {
            let ours = head(checkpoint.as_bytes());
            match (head(&there), ours) {
                (Some((origin, stored)), Some((own, _))) if origin == own => {
                    if stored > size {
                        tracing::info!(stored, size, "the tiles store holds a larger checkpoint");
                        *written = (size, Some(checkpoint));
                        return Ok(count);
                    }
                }
                _ => return Err(format!("{} holds another log's checkpoint", self.target)),
            }
        }
        self.put(&location, checkpoint.clone().into_bytes()).await?;
        *written = (size, Some(checkpoint));
        Ok(count + 1)
    }

    /// Writes one tile; a full tile already there is left alone once checked to be this log's
    /// (a store left by another log is refused, not mixed). Returns whether it wrote.
    async fn put_tile(&self, path: TilePath, bytes: Vec<u8>) -> Result<bool, String> {
        let location = self.location(&path.to_string());
        if path.is_full() {
            if let Some(there) = self.get(&location).await? {
                if there == bytes {
                    return Ok(false);
                }
                return Err(format!(
                    "{} holds a different {path}: it holds another log's tiles",
                    self.target
                ));
            }
        }
        self.put(&location, bytes).await?;
        Ok(true)
    }

    /// The object at `location`, or `None` if there is none.
    async fn get(&self, location: &ObjectPath) -> Result<Option<Vec<u8>>, String> {
        match self.store.get_opts(location, GetOptions::default()).await {
            Ok(found) => found
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| self.error(location, &e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(location, &e)),
        }
    }

    async fn put(&self, location: &ObjectPath, bytes: Vec<u8>) -> Result<(), String> {
        self.store
            .put_opts(location, PutPayload::from(bytes), PutOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| self.error(location, &e))
    }

    fn location(&self, name: &str) -> ObjectPath {
        name.split('/')
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn error(&self, location: &ObjectPath, e: &object_store::Error) -> String {
        format!("{} ({location}): {e}", self.target)
    }
}

/// A checkpoint's origin and size: its first two lines.
fn head(checkpoint: &[u8]) -> Option<(&str, u64)> {
    let mut lines = std::str::from_utf8(checkpoint).ok()?.lines();
    let origin = lines.next()?;
    let size = lines.next()?.parse().ok()?;
    Some((origin, size))
}

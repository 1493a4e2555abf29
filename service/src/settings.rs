//! Settings from a TOML file, merged with command-line flags and `LETRO_*` environment
//! variables into a [`Config`].
//!
//! Precedence, highest first: a flag, its environment variable, the file, the default. Every
//! key is optional in the file; `data` must come from one of the three sources. Unknown keys
//! are refused, so a misspelt setting is an error, not a silent default.
//!
//! The origin, when none is set, is the one the data directory records (`DATA/origin`, or the
//! name of the log key of a directory from before origins were recorded), else
//! [`crate::origin::DEFAULT_ORIGIN`] (`localhost/letro-log`); the first start records it, and a
//! later start with a different origin is refused ([`crate::origin`]).
//!
//! ```toml
//! data = "/var/lib/letro"                 # data directory (SQLite database; origin; log.key unless log_key)
//! database = "postgres://letro@db.internal/letro_ch"  # optional: PostgreSQL instead of DATA/letro.sqlite3
//! listen = "127.0.0.1:8080"
//! origin = "relay.example.com/letro-log"  # checkpoint origin and log key name; default: recorded, else localhost/letro-log
//! log_key = "/etc/letro/log.key"          # optional: an existing key file (mode 0600)
//! standby = true                          # with database: forward to the service sequencing it; take over when it dies
//! advertise_url = "http://10.0.1.7:8080"  # with database: where the other replicas reach this one (default http://LISTEN)
//! evidence_seal_key = "/etc/letro/seal.key"          # optional, with the next: PKCS#8 ECDSA P-256 (0600)
//! evidence_seal_certificate = "/etc/letro/seal.pem"  # its certificate, then its CA chain (PEM)
//! checkpoint_interval_seconds = 5
//! max_skew_seconds = 300
//! body_limit_bytes = 65536
//! request_timeout_seconds = 10
//! provers = 1
//! prover_threads = 0                      # 0: cores / provers
//! prover_tables = true                    # the key's fixed-base tables: ~82 MB, faster proofs
//! keys = "/etc/letro/keys"                # optional: the deployment's ceremony keys (default: built in)
//! max_jobs_per_sender = 16
//! callback_hosts = ["hooks.bank.example"] # empty: callbacks refused
//! callback_backoff_ms = 1000
//! callback_ca_file = "/etc/letro/hooks-ca.pem" # optional: a private CA for https callbacks
//! tiles_directory = "/srv/letro/tiles"   # optional: write the tlog-tiles files here too
//! # tiles_store = "s3://letro-tiles/ch"  # or to object storage (AWS_* variables configure S3)
//! retention_seconds = 1209600             # 14 days to retrieve or refuse, then expired
//! evidence_policy = "urn:letro:evidence-policy:registered-delivery:v1"  # in every evidence record
//! max_envelope_bytes = 25165824          # 24 MiB
//! header_timeout_seconds = 10             # a complete request head within this, or closed
//! max_connections = 4096                  # lowered to fit the open-file limit
//! witness_quorum = 1                      # cosignatures a checkpoint waits for (default 0)
//! witness_timeout_seconds = 5
//! timestamp_authorities = ["https://tsa.example.eu/rfc3161"]  # RFC 3161 tokens over checkpoints
//! [[delivery_callback]]                   # any number: a notice per final state of a sender's deliveries
//! sender = "bank"
//! url = "https://hooks.bank.example/letro/deliveries"
//! [[witness]]                             # any number; C2SP tlog-witness add-checkpoint
//! vkey = "witness.example.org/w1+1a2b3c4d+BH..."
//! url = "https://witness.example.org"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::Config;

/// Most bytes read from a settings file.
const MAX_FILE: u64 = 64 * 1024;

/// Every setting, each optional: the file's content, or the flags and environment given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// [`Config::data_dir`].
    pub data: Option<PathBuf>,
    /// [`Config::database`]: a `postgres://` URL (libpq's form).
    pub database: Option<String>,
    /// [`Config::listen`].
    pub listen: Option<SocketAddr>,
    /// [`Config::origin`].
    pub origin: Option<String>,
    /// [`Config::log_key`].
    pub log_key: Option<PathBuf>,
    /// [`Config::evidence_seal_key`].
    pub evidence_seal_key: Option<PathBuf>,
    /// [`Config::evidence_seal_certificate`].
    pub evidence_seal_certificate: Option<PathBuf>,
    /// [`Config::checkpoint_interval`], seconds (at least 1).
    pub checkpoint_interval_seconds: Option<u64>,
    /// [`Config::max_skew`], seconds.
    pub max_skew_seconds: Option<u64>,
    /// [`Config::body_limit`], bytes (1 KiB to 16 MiB).
    pub body_limit_bytes: Option<usize>,
    /// [`Config::request_timeout`], seconds (at least 1).
    pub request_timeout_seconds: Option<u64>,
    /// [`Config::provers`] (at most 64).
    pub provers: Option<usize>,
    /// [`Config::prover_threads`] (at most 256).
    pub prover_threads: Option<usize>,
    /// [`Config::prover_tables`].
    pub prover_tables: Option<bool>,
    /// [`Config::keys`].
    pub keys: Option<PathBuf>,
    /// [`Config::max_jobs_per_sender`] (at least 1).
    pub max_jobs_per_sender: Option<u64>,
    /// [`Config::callback_hosts`].
    pub callback_hosts: Option<Vec<String>>,
    /// [`Config::callback_ca_file`].
    pub callback_ca_file: Option<PathBuf>,
    /// [`Config::tiles_directory`].
    pub tiles_directory: Option<PathBuf>,
    /// [`Config::tiles_store`].
    pub tiles_store: Option<String>,
    /// [`Config::standby`].
    pub standby: Option<bool>,
    /// [`Config::advertise_url`]: an `http://` or `https://` base URL.
    pub advertise_url: Option<String>,
    /// [`Config::retention`], seconds (1 s to 10 years).
    pub retention_seconds: Option<u64>,
    /// [`Config::evidence_policy`]: 1 to 256 visible ASCII characters (a URI or an OID).
    pub evidence_policy: Option<String>,
    /// [`Config::callback_backoff`], milliseconds.
    pub callback_backoff_ms: Option<u64>,
    /// [`Config::max_envelope_bytes`] (1 KiB to 256 MiB).
    pub max_envelope_bytes: Option<usize>,
    /// [`Config::header_timeout`], seconds (1 to 3,600).
    pub header_timeout_seconds: Option<u64>,
    /// [`Config::max_connections`] (1 to 1,000,000).
    pub max_connections: Option<usize>,
    /// [`Config::witnesses`]: `[[witness]]` tables with `vkey` and `url`.
    pub witness: Option<Vec<WitnessSetting>>,
    /// [`Config::witness_quorum`] (at most the number of witnesses).
    pub witness_quorum: Option<usize>,
    /// [`Config::witness_timeout`], seconds (1 to 600).
    pub witness_timeout_seconds: Option<u64>,
    /// [`Config::timestamp_authorities`]: `http://` or `https://` URLs of RFC 3161 TSAs.
    pub timestamp_authorities: Option<Vec<String>>,
    /// [`Config::delivery_callbacks`]: `[[delivery_callback]]` tables with `sender` and `url`.
    pub delivery_callback: Option<Vec<DeliveryCallbackSetting>>,
}

/// One `[[delivery_callback]]`: a sender account and the URL its notices go to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryCallbackSetting {
    /// The sender's account id.
    pub sender: String,
    /// An `https://` or `http://` URL on a host of `callback_hosts`.
    pub url: String,
}

/// One `[[witness]]`: its cosigner vkey (type 0x04) and its submission URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSetting {
    /// `<name>+<key id>+<base64(0x04 || key)>`.
    pub vkey: String,
    /// `http://` or `https://` submission prefix.
    pub url: String,
}

/// Why settings could not be read or are not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file could not be read.
    #[error("settings file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is larger than 64 KiB.
    #[error("settings file {0} is larger than 64 KiB")]
    TooLarge(String),
    /// The file is not valid TOML of the expected shape (the message names the key).
    #[error("settings file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with its line.
        message: String,
    },
    /// A required setting is missing from flags, environment and file.
    #[error("{0} is not set (flag, environment variable or settings file)")]
    Missing(&'static str),
    /// A value is out of its range.
    #[error("{0}")]
    Invalid(String),
    /// No origin is set and the data directory's could not be read.
    #[error(transparent)]
    Origin(#[from] crate::origin::OriginError),
}

impl Settings {
    /// Reads a TOML settings file.
    pub fn read(path: &Path) -> Result<Self, SettingsError> {
        use std::io::Read;
        let shown = path.display().to_string();
        let io = |source| SettingsError::Io {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(MAX_FILE + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_FILE {
            return Err(SettingsError::TooLarge(shown));
        }
        Self::parse(&text).map_err(|message| SettingsError::Parse {
            path: shown,
            message,
        })
    }

    /// Parses TOML settings text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// These settings with every value `over` sets replacing this one's.
    #[must_use]
    pub fn overridden_by(self, over: Settings) -> Self {
        Self {
            data: over.data.or(self.data),
            database: over.database.or(self.database),
            listen: over.listen.or(self.listen),
            origin: over.origin.or(self.origin),
            log_key: over.log_key.or(self.log_key),
            evidence_seal_key: over.evidence_seal_key.or(self.evidence_seal_key),
            evidence_seal_certificate: over
                .evidence_seal_certificate
                .or(self.evidence_seal_certificate),
            checkpoint_interval_seconds: over
                .checkpoint_interval_seconds
                .or(self.checkpoint_interval_seconds),
            max_skew_seconds: over.max_skew_seconds.or(self.max_skew_seconds),
            body_limit_bytes: over.body_limit_bytes.or(self.body_limit_bytes),
            request_timeout_seconds: over
                .request_timeout_seconds
                .or(self.request_timeout_seconds),
            provers: over.provers.or(self.provers),
            prover_threads: over.prover_threads.or(self.prover_threads),
            prover_tables: over.prover_tables.or(self.prover_tables),
            keys: over.keys.or(self.keys),
            max_jobs_per_sender: over.max_jobs_per_sender.or(self.max_jobs_per_sender),
            callback_hosts: over.callback_hosts.or(self.callback_hosts),
            callback_backoff_ms: over.callback_backoff_ms.or(self.callback_backoff_ms),
            callback_ca_file: over.callback_ca_file.or(self.callback_ca_file),
            tiles_directory: over.tiles_directory.or(self.tiles_directory),
            tiles_store: over.tiles_store.or(self.tiles_store),
            standby: over.standby.or(self.standby),
            advertise_url: over.advertise_url.or(self.advertise_url),
            retention_seconds: over.retention_seconds.or(self.retention_seconds),
            evidence_policy: over.evidence_policy.or(self.evidence_policy),
            max_envelope_bytes: over.max_envelope_bytes.or(self.max_envelope_bytes),
            header_timeout_seconds: over.header_timeout_seconds.or(self.header_timeout_seconds),
            max_connections: over.max_connections.or(self.max_connections),
            witness: over.witness.or(self.witness),
            witness_quorum: over.witness_quorum.or(self.witness_quorum),
            witness_timeout_seconds: over
                .witness_timeout_seconds
                .or(self.witness_timeout_seconds),
            timestamp_authorities: over.timestamp_authorities.or(self.timestamp_authorities),
            delivery_callback: over.delivery_callback.or(self.delivery_callback),
        }
    }

    /// The service configuration: these settings over [`Config::new`]'s defaults, each value
    /// checked. Without an origin, reads the one the data directory records
    /// ([`crate::origin::resolve`]; nothing is written here).
    pub fn into_config(self) -> Result<Config, SettingsError> {
        let data = self.data.ok_or(SettingsError::Missing("data"))?;
        let origin = match self.origin {
            Some(origin) => origin,
            None => crate::origin::resolve(&data, self.log_key.as_deref())?,
        };
        let mut c = Config::new(data, origin);
        let range = |name: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(SettingsError::Invalid(format!(
                    "{name} must be between {lo} and {hi}, got {v}"
                )))
            }
        };
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(url) = self.database {
            if !crate::store::is_postgres_url(&url) {
                return Err(SettingsError::Invalid(
                    "database must be a postgres:// or postgresql:// URL (without it, the \
                     SQLite database in the data directory is used)"
                        .into(),
                ));
            }
            c.database = Some(url);
        }
        c.log_key = self.log_key;
        c.evidence_seal_key = self.evidence_seal_key;
        c.evidence_seal_certificate = self.evidence_seal_certificate;
        if let Some(v) = self.checkpoint_interval_seconds {
            c.checkpoint_interval =
                Duration::from_secs(range("checkpoint_interval_seconds", v, 1, 86_400)?);
        }
        if let Some(v) = &self.evidence_policy {
            if v.is_empty() || v.len() > 256 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(SettingsError::Invalid(
                    "evidence_policy must be 1 to 256 visible ASCII characters (a URI or an OID)"
                        .into(),
                ));
            }
            c.evidence_policy = v.clone();
        }
        if let Some(v) = self.retention_seconds {
            c.retention = Duration::from_secs(range("retention_seconds", v, 1, 10 * 366 * 86_400)?);
        }
        if let Some(v) = self.max_skew_seconds {
            c.max_skew = range("max_skew_seconds", v, 0, 86_400)?;
        }
        if let Some(v) = self.body_limit_bytes {
            c.body_limit = range("body_limit_bytes", v as u64, 1024, 16 << 20)? as usize;
        }
        if let Some(v) = self.request_timeout_seconds {
            c.request_timeout = Duration::from_secs(range("request_timeout_seconds", v, 1, 3600)?);
        }
        if let Some(v) = self.provers {
            c.provers = range("provers", v as u64, 0, 64)? as usize;
        }
        if let Some(v) = self.prover_threads {
            c.prover_threads = range("prover_threads", v as u64, 0, 256)? as usize;
        }
        if let Some(v) = self.prover_tables {
            c.prover_tables = v;
        }
        if let Some(v) = self.max_jobs_per_sender {
            c.max_jobs_per_sender = range("max_jobs_per_sender", v, 1, 1_000_000)?;
        }
        if let Some(hosts) = self.callback_hosts {
            for h in &hosts {
                let ok = !h.is_empty()
                    && h.len() <= 255
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
                if !ok {
                    return Err(SettingsError::Invalid(format!(
                        "callback_hosts: {h:?} is not a host or host:port"
                    )));
                }
            }
            c.callback_hosts = hosts;
        }
        if let Some(v) = self.callback_backoff_ms {
            c.callback_backoff =
                Duration::from_millis(range("callback_backoff_ms", v, 1, 3_600_000)?);
        }
        c.callback_ca_file = self.callback_ca_file;
        if self.tiles_directory.is_some() && self.tiles_store.is_some() {
            return Err(SettingsError::Invalid(
                "tiles_directory and tiles_store are exclusive: set one".to_owned(),
            ));
        }
        c.tiles_directory = self.tiles_directory;
        c.tiles_store = self.tiles_store;
        c.standby = self.standby.unwrap_or(false);
        if c.standby && c.database.is_none() {
            return Err(SettingsError::Invalid(
                "standby: a standby needs `database` (PostgreSQL): a SQLite file has one service"
                    .to_owned(),
            ));
        }
        if let Some(url) = &self.advertise_url {
            if c.database.is_none() {
                return Err(SettingsError::Invalid(
                    "advertise_url: only replicas on one PostgreSQL `database` reach each other"
                        .to_owned(),
                ));
            }
            c.advertise_url =
                Some(crate::replica::check_advertise_url(url).map_err(SettingsError::Invalid)?);
        }
        c.keys = self.keys;
        if let Some(v) = self.max_envelope_bytes {
            c.max_envelope_bytes = range("max_envelope_bytes", v as u64, 1024, 256 << 20)? as usize;
        }
        if let Some(v) = self.header_timeout_seconds {
            c.header_timeout = Duration::from_secs(range("header_timeout_seconds", v, 1, 3600)?);
        }
        if let Some(v) = self.max_connections {
            c.max_connections = range(
                "max_connections",
                v as u64,
                1,
                crate::server::MAX_CONNECTIONS as u64,
            )? as usize;
        }
        for w in self.witness.unwrap_or_default() {
            let key = letro_log::cosignature::CosignerKey::parse(&w.vkey)
                .map_err(|e| SettingsError::Invalid(format!("witness vkey {:?}: {e}", w.vkey)))?;
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(SettingsError::Invalid(format!(
                    "witness {}: url {:?} is not http:// or https://",
                    key.name(),
                    w.url
                )));
            }
            if c.witnesses.iter().any(|t| t.key.name() == key.name()) {
                return Err(SettingsError::Invalid(format!(
                    "witness {} is listed twice",
                    key.name()
                )));
            }
            c.witnesses
                .push(crate::witnessing::WitnessTarget { key, url: w.url });
        }
        if let Some(v) = self.witness_quorum {
            c.witness_quorum =
                range("witness_quorum", v as u64, 0, c.witnesses.len() as u64)? as usize;
        }
        if let Some(v) = self.witness_timeout_seconds {
            c.witness_timeout = Duration::from_secs(range("witness_timeout_seconds", v, 1, 600)?);
        }
        let tsas = self.timestamp_authorities.unwrap_or_default();
        if tsas.len() > letro_core::bundle::MAX_TIMESTAMPS {
            return Err(SettingsError::Invalid(format!(
                "timestamp_authorities: {} given, at most {}",
                tsas.len(),
                letro_core::bundle::MAX_TIMESTAMPS
            )));
        }
        for (i, url) in tsas.iter().enumerate() {
            let parsed = reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if parsed.is_none() || url.len() > 2048 {
                return Err(SettingsError::Invalid(format!(
                    "timestamp_authorities: {url:?} is not an http:// or https:// URL"
                )));
            }
            if tsas.iter().take(i).any(|u| u == url) {
                return Err(SettingsError::Invalid(format!(
                    "timestamp_authorities: {url:?} is listed twice"
                )));
            }
        }
        c.timestamp_authorities = tsas;
        for d in self.delivery_callback.unwrap_or_default() {
            crate::callback::check_url(&d.url, &c.callback_hosts).map_err(|e| {
                SettingsError::Invalid(format!("delivery_callback for {:?}: {e}", d.sender))
            })?;
            if d.sender.is_empty() || c.delivery_callbacks.iter().any(|(s, _)| *s == d.sender) {
                return Err(SettingsError::Invalid(format!(
                    "delivery_callback: sender {:?} is empty or listed twice",
                    d.sender
                )));
            }
            c.delivery_callbacks.push((d.sender, d.url));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_apply_and_flags_win() {
        let file = Settings::parse(
            r#"
            data = "/srv/letro"
            origin = "relay.example/log"
            provers = 2
            prover_threads = 1
            prover_tables = false
            callback_hosts = ["hooks.bank.example", "127.0.0.1:9000"]
            callback_ca_file = "/etc/letro/hooks-ca.pem"
            checkpoint_interval_seconds = 30
            "#,
        )
        .unwrap();
        let flags = Settings {
            provers: Some(3),
            listen: Some("0.0.0.0:9999".parse().unwrap()),
            ..Settings::default()
        };
        let c = file.overridden_by(flags).into_config().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/letro"));
        assert_eq!(c.provers, 3, "the flag wins");
        assert_eq!(c.prover_threads, 1, "the file applies");
        assert!(!c.prover_tables, "the file turns the tables off");
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.checkpoint_interval, Duration::from_secs(30));
        assert_eq!(c.callback_hosts.len(), 2);
        assert_eq!(
            c.callback_ca_file.as_deref(),
            Some(Path::new("/etc/letro/hooks-ca.pem"))
        );
        assert_eq!(c.max_skew, 300, "the default stays");
        assert!(
            Settings::parse("data = \"/d\"\n")
                .unwrap()
                .into_config()
                .unwrap()
                .prover_tables,
            "tables by default"
        );
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.max_connections, 4096);
        let c =
            Settings::parse("data = \"/d\"\nheader_timeout_seconds = 3\nmax_connections = 50\n")
                .unwrap()
                .into_config()
                .unwrap();
        assert_eq!(c.header_timeout, Duration::from_secs(3));
        assert_eq!(c.max_connections, 50);
    }

    #[test]
    fn without_an_origin_the_data_directory_decides() {
        let dir = tempfile::tempdir().unwrap();
        let settings = || Settings {
            data: Some(dir.path().to_path_buf()),
            ..Settings::default()
        };
        assert_eq!(
            settings().into_config().unwrap().origin,
            crate::origin::DEFAULT_ORIGIN
        );
        crate::origin::record(dir.path(), "relay.example/log").unwrap();
        assert_eq!(
            settings().into_config().unwrap().origin,
            "relay.example/log"
        );
        let given = Settings {
            origin: Some("other.example/log".into()),
            ..settings()
        };
        assert_eq!(
            given.into_config().unwrap().origin,
            "other.example/log",
            "a given origin is kept here; Service::start refuses it"
        );
    }

    #[test]
    fn bad_settings_are_refused_with_the_key_named() {
        for (text, needle) in [
            ("provers = \"two\"", "provers"),
            ("prover = 2", "unknown field `prover`"),
            ("data = ", "data"),
            ("listen = \"nowhere\"", "listen"),
        ] {
            let e = Settings::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        let base = || Settings {
            data: Some("/d".into()),
            origin: Some("o".into()),
            ..Settings::default()
        };
        for (s, needle) in [
            (
                Settings {
                    checkpoint_interval_seconds: Some(0),
                    ..base()
                },
                "checkpoint_interval_seconds",
            ),
            (
                Settings {
                    retention_seconds: Some(0),
                    ..base()
                },
                "retention_seconds",
            ),
            (
                Settings {
                    evidence_policy: Some("urn:with space".into()),
                    ..base()
                },
                "evidence_policy",
            ),
            (
                Settings {
                    evidence_policy: Some(String::new()),
                    ..base()
                },
                "evidence_policy",
            ),
            (
                Settings {
                    body_limit_bytes: Some(10),
                    ..base()
                },
                "body_limit_bytes",
            ),
            (
                Settings {
                    max_jobs_per_sender: Some(0),
                    ..base()
                },
                "max_jobs_per_sender",
            ),
            (
                Settings {
                    callback_hosts: Some(vec!["http://x/".into()]),
                    ..base()
                },
                "callback_hosts",
            ),
            (
                Settings {
                    data: None,
                    ..base()
                },
                "data is not set",
            ),
            (
                Settings {
                    header_timeout_seconds: Some(0),
                    ..base()
                },
                "header_timeout_seconds",
            ),
            (
                Settings {
                    max_connections: Some(0),
                    ..base()
                },
                "max_connections",
            ),
        ] {
            let e = s.into_config().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn files_are_read_with_limits() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Settings::read(&dir.path().join("none.toml")).unwrap_err();
        assert!(matches!(missing, SettingsError::Io { .. }));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(70_000)).unwrap();
        assert!(matches!(
            Settings::read(&big).unwrap_err(),
            SettingsError::TooLarge(_)
        ));
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "provers = -1\n").unwrap();
        let e = Settings::read(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("provers"), "{e}");
    }

    #[test]
    fn witness_settings_are_checked() {
        let key = |seed: u8| {
            letro_log::cosignature::CosignerSigner::from_seed(
                &format!("w{seed}.example"),
                &[seed; 32],
            )
            .unwrap()
            .cosigner_key()
            .to_string()
        };
        let file = |witnesses: &str, rest: &str| {
            Settings::parse(&format!(
                "data = \"/d\"\norigin = \"o\"\n{rest}\n{witnesses}"
            ))
            .unwrap()
            .into_config()
        };
        let one = format!(
            "[[witness]]\nvkey = \"{}\"\nurl = \"http://127.0.0.1:7380\"\n",
            key(1)
        );
        let two = format!(
            "{one}[[witness]]\nvkey = \"{}\"\nurl = \"https://w2.example\"\n",
            key(2)
        );
        let c = file(&two, "witness_quorum = 2\nwitness_timeout_seconds = 9").unwrap();
        assert_eq!(c.witnesses.len(), 2);
        assert_eq!(c.witnesses[0].key.name(), "w1.example");
        assert_eq!((c.witness_quorum, c.witness_timeout.as_secs()), (2, 9));
        let c = file("", "").unwrap();
        assert_eq!((c.witnesses.len(), c.witness_quorum), (0, 0));
        for (witnesses, rest, needle) in [
            (one.clone(), "witness_quorum = 2", "witness_quorum"),
            (String::new(), "witness_quorum = 1", "witness_quorum"),
            (
                one.clone(),
                "witness_timeout_seconds = 0",
                "witness_timeout_seconds",
            ),
            (
                one.replace("http://127.0.0.1:7380", "ftp://x"),
                "",
                "not http",
            ),
            (format!("{one}{one}"), "", "listed twice"),
            (
                one.replace(&key(1), "w1.example+00000000+AAAA"),
                "",
                "witness vkey",
            ),
        ] {
            let e = file(&witnesses, rest).unwrap_err().to_string();
            assert!(e.contains(needle), "{witnesses}{rest}: {e}");
        }
        let e = Settings::parse("[[witness]]\nvkey = \"x\"\nurl = \"http://x\"\nname = \"n\"\n")
            .unwrap_err();
        assert!(e.contains("unknown field `name`"), "{e}");
    }

    #[test]
    fn delivery_callbacks_are_checked_against_the_callback_hosts() {
        let parse = |text: &str| {
            let s = Settings::parse(text).unwrap();
            s.into_config()
        };
        let base = "data = \"/d\"\norigin = \"o\"\ncallback_hosts = [\"hooks.bank.example\"]\n";
        let c = parse(&format!(
            "{base}[[delivery_callback]]\nsender = \"bank\"\nurl = \"https://hooks.bank.example/d\"\n"
        ))
        .unwrap();
        assert_eq!(
            c.delivery_callbacks,
            vec![("bank".to_owned(), "https://hooks.bank.example/d".to_owned())]
        );
        for bad in [
            "[[delivery_callback]]\nsender = \"bank\"\nurl = \"https://elsewhere.example/d\"\n",
            "[[delivery_callback]]\nsender = \"\"\nurl = \"https://hooks.bank.example/d\"\n",
            "[[delivery_callback]]\nsender = \"b\"\nurl = \"https://hooks.bank.example/1\"\n\
             [[delivery_callback]]\nsender = \"b\"\nurl = \"https://hooks.bank.example/2\"\n",
        ] {
            let e = parse(&format!("{base}{bad}")).unwrap_err();
            assert!(e.to_string().contains("delivery_callback"), "{e}");
        }
    }

    #[test]
    fn an_advertised_url_is_a_base_url_on_a_database() {
        let db = "data = \"/d\"\ndatabase = \"postgres://db/letro\"\n";
        let c = Settings::parse(&format!("{db}advertise_url = \"http://10.0.1.7:8080/\"\n"))
            .unwrap()
            .into_config()
            .unwrap();
        assert_eq!(c.advertise_url.as_deref(), Some("http://10.0.1.7:8080"));
        for bad in [
            "ftp://10.0.1.7",
            "http://10.0.1.7:8080/v1",
            "http://u:p@10.0.1.7",
            "http://10.0.1.7/?q",
            "10.0.1.7:8080",
        ] {
            let e = Settings::parse(&format!("{db}advertise_url = \"{bad}\"\n"))
                .unwrap()
                .into_config()
                .unwrap_err();
            assert!(e.to_string().contains("advertise_url"), "{bad}: {e}");
        }
        let e = Settings::parse("data = \"/d\"\nadvertise_url = \"http://10.0.1.7:8080\"\n")
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(e.to_string().contains("database"), "{e}");
        // A flag turns a file's standby off.
        let file = Settings::parse(&format!("{db}standby = true\n")).unwrap();
        let flags = Settings {
            standby: Some(false),
            ..Settings::default()
        };
        assert!(
            !file
                .clone()
                .overridden_by(flags)
                .into_config()
                .unwrap()
                .standby
        );
        assert!(file.into_config().unwrap().standby);
    }

    #[test]
    fn a_tiles_store_is_one_place_or_the_other() {
        let c = Settings::parse("data = \"/d\"\ntiles_store = \"s3://tiles/ch\"\n")
            .unwrap()
            .into_config()
            .unwrap();
        assert_eq!(c.tiles_store.as_deref(), Some("s3://tiles/ch"));
        assert_eq!(c.tiles_directory, None);
        let e = Settings::parse(
            "data = \"/d\"\ntiles_store = \"s3://tiles/ch\"\ntiles_directory = \"/t\"\n",
        )
        .unwrap()
        .into_config()
        .unwrap_err();
        assert!(e.to_string().contains("exclusive"), "{e}");
    }
}

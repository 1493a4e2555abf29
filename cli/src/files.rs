//! Reading inputs and writing outputs without losing what is already stored.

use std::io::{Read, Write};
use std::path::Path;

use crate::commands::{CliError, EXIT_INPUT};

/// Largest input file read (documents are capped at 1 MiB by their codecs).
const MAX_INPUT: u64 = 1 << 20;

/// Reads a file, or standard input for `-`, up to 1 MiB + 1 byte (the codec reports oversize).
pub fn read_input(path: &str) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    let res = if path == "-" {
        std::io::stdin().take(MAX_INPUT + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut buf))
    };
    res.map_err(|e| CliError::new(EXIT_INPUT, format!("cannot read {path}: {e}")))?;
    Ok(buf)
}

/// Writes `bytes` to `path` atomically (temporary file, then rename). Refuses to replace an
/// existing file unless `force`. `private` files get mode 0600 on Unix.
pub fn write_output(path: &Path, bytes: &[u8], force: bool, private: bool) -> Result<(), CliError> {
    if !force && path.exists() {
        return Err(
            CliError::new(EXIT_INPUT, format!("{} already exists", path.display()))
                .hint("choose another path, or pass --force to replace it"),
        );
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let err = |e: std::io::Error| {
        CliError::new(EXIT_INPUT, format!("cannot write {}: {e}", path.display()))
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = opts
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result.map_err(err)
}

/// Writes to standard output.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    std::io::stdout()
        .write_all(bytes)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot write to standard output: {e}")))
}

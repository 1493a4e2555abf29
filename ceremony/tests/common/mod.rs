//! Shared by the ceremony tests: the test phase 1, the circuit, the initial key, snarkjs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use letro_ceremony::binfile::BinFile;
use letro_ceremony::{Ptau, R1cs, Zkey};

/// BLAKE2b-512 of `pot15_test.ptau` (its `.b2` file beside it).
pub const PTAU_B2: &str = "73da33673dbe6bf06e0b506b8ce9419105b37333bbd47b430b75cfca8e2aa6ca1cc0bd5d7e86ab61f2ea3087ec7b593fc46c711c0e84b70468fe065cf56ec81a";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The test phase 1: `LETRO_PTAU`, else `../shared/ptau/pot15_test.ptau` beside the repository.
pub fn ptau_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LETRO_PTAU") {
        return PathBuf::from(p);
    }
    let p = repo().join("../shared/ptau/pot15_test.ptau");
    assert!(
        p.exists(),
        "the test phase 1 file is missing: set LETRO_PTAU to pot15_test.ptau (see CEREMONY.md)"
    );
    p
}

pub fn ptau() -> &'static Ptau {
    static P: OnceLock<Ptau> = OnceLock::new();
    P.get_or_init(|| Ptau::open(&ptau_path(), PTAU_B2).unwrap())
}

pub fn r1cs() -> &'static R1cs {
    static R: OnceLock<R1cs> = OnceLock::new();
    R.get_or_init(|| R1cs::of_circuit().unwrap())
}

pub fn init_key() -> &'static Zkey {
    static Z: OnceLock<Zkey> = OnceLock::new();
    Z.get_or_init(|| Zkey::new(r1cs(), ptau()).unwrap())
}

/// A fresh directory under cargo's per-target temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ceremony-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Each section's bytes by type.
pub fn sections(file: &[u8]) -> BTreeMap<u32, Vec<u8>> {
    let f = BinFile::parse(file, b"zkey", 1).unwrap();
    f.kinds()
        .into_iter()
        .map(|k| (k, f.section(k).unwrap().to_vec()))
        .collect()
}

/// testdata/snarkjs with the pinned snarkjs installed.
fn snarkjs_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo().join("testdata/snarkjs");
        let pinned = serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(dir.join("package.json")).unwrap(),
        )
        .unwrap()["dependencies"]["snarkjs"]
            .as_str()
            .unwrap()
            .to_owned();
        let installed = || {
            std::fs::read_to_string(dir.join("node_modules/snarkjs/package.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|v| v["version"].as_str().map(str::to_owned))
        };
        if installed().as_deref() != Some(pinned.as_str()) {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .output()
                .unwrap_or_else(|e| {
                    panic!("could not run npm ({e}): the ceremony tests need node and npm")
                });
            assert!(out.status.success(), "npm ci failed: {}", text(&out));
        }
        assert_eq!(installed().as_deref(), Some(pinned.as_str()));
        dir
    })
}

/// Runs the snarkjs CLI with `args`.
pub fn snarkjs(args: &[&str]) -> Output {
    let start = std::time::Instant::now();
    let o = Command::new("node")
        .arg(snarkjs_dir().join("node_modules/snarkjs/build/cli.cjs"))
        .args(args)
        .output()
        .expect("node is needed for the snarkjs checks");
    eprintln!(
        "snarkjs {}: {} in {:.1?}",
        args.get(..2).unwrap_or(args).join(" "),
        o.status,
        start.elapsed()
    );
    o
}

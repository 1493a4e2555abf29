//! The two-region layout of service/DEPLOYMENT.md, run as processes by
//! `service/deploy/two-regions.sh --check` with this build's `letro`: per region a PostgreSQL
//! database, two replicas and a prover worker, and one witness for both; the script checks
//! forwarding, a witnessed checkpoint per region, region-bound tokens and a failover.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

#[path = "../../service/tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

#[test]
fn the_two_region_layout_runs_and_survives_a_leader_kill() {
    let (ch, gcc) = (pg::PgDatabase::create(), pg::PgDatabase::create());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../service/deploy/two-regions.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .env("LETRO", env!("CARGO_BIN_EXE_letro"))
        .env("LETRO_CH_DATABASE", &ch.url)
        .env("LETRO_GCC_DATABASE", &gcc.url)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("two regions: checked"),
        "{stdout}\n{stderr}"
    );
}

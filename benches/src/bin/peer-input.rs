//! Writes the circom input (`input.json`) of the peer baseline `benches/peer/delivered_within.circom`
//! for a delivery record and a window: the same statement and witness `letro prove` proves.
//!
//! `peer-input RECORD NOT_BEFORE NOT_AFTER` (times in RFC 3339 UTC) prints the JSON on standard
//! output. The public signals come first, in the statement's order; `benches/peer/run.sh` checks
//! that snarkjs's public signals equal them.

use anyhow::{bail, Context};
use ark_ff::PrimeField;
use letro_circuits::circuit::Assignment;
use letro_core::bundle::{parse_time, DeliveryRecord};
use letro_core::Fr;
use serde_json::{json, Map, Value};

fn dec(f: &Fr) -> Value {
    Value::String(f.into_bigint().to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [record, not_before, not_after] = args.as_slice() else {
        bail!("usage: peer-input RECORD NOT_BEFORE NOT_AFTER");
    };
    let bytes = std::fs::read(record).with_context(|| format!("reading {record}"))?;
    let record = DeliveryRecord::parse(&bytes).context("parsing the delivery record")?;
    let statement = record
        .statement(parse_time(not_before)?, parse_time(not_after)?)
        .context("the record's statement")?;
    let a = Assignment::new(&statement, &record.witness);
    let mut input = Map::new();
    let names = [
        "h_hi",
        "h_lo",
        "not_before",
        "not_after",
        "commitment",
        "root",
    ];
    for (name, v) in names.iter().zip(&a.public) {
        input.insert((*name).into(), dec(v));
    }
    let private = [
        ("t", a.t),
        ("ax", a.a.0),
        ("ay", a.a.1),
        ("blinding", a.blinding),
        ("r8x", a.r8.0),
        ("r8y", a.r8.1),
        ("s", a.s),
        ("event_secret", a.event_secret),
    ];
    for (name, v) in private {
        input.insert(name.into(), dec(&v));
    }
    input.insert(
        "index_bits".into(),
        a.index_bits
            .iter()
            .map(|b| json!(u8::from(*b).to_string()))
            .collect(),
    );
    input.insert(
        "siblings".into(),
        a.siblings
            .iter()
            .map(|l| l.iter().map(dec).collect::<Value>())
            .collect(),
    );
    println!("{}", serde_json::to_string_pretty(&Value::Object(input))?);
    Ok(())
}

//! The ceremony's file parsers on arbitrary bytes: `R1cs::from_bytes` (iden3 `.r1cs`),
//! `Zkey::from_bytes` (snarkjs `.zkey`) and `Ptau::from_bytes` (snarkjs `.ptau`). Never panic;
//! an `.r1cs` or `.zkey` that parses writes back to a file that parses to the same value; a
//! `.ptau` that parses starts phase 2 of a one-constraint circuit, or refuses with an error.
//! Also the prover's built-in constraint matrices format (`Matrices::from_file_bytes`: what
//! parses encodes back to the same matrices) and the length test that tells a compressed
//! proving key from an uncompressed one.
#![no_main]

use ark_bn254::Fr;
use letro_ceremony::{phase2, Ptau, R1cs, Zkey};
use letro_prover::Matrices;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Matrices::from_file_bytes(data) {
        Ok(m) => {
            let bytes = m.to_file_bytes().expect("parsed matrices encode");
            let again = Matrices::from_file_bytes(&bytes).expect("encoded matrices parse");
            assert_eq!(again, m, "matrices do not round-trip");
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
    let _ = letro_prover::keys::proving_key_encoding(data);
    match R1cs::from_bytes(data) {
        Ok(r) => {
            let again = R1cs::from_bytes(&r.to_bytes()).expect("a written .r1cs parses");
            assert_eq!(again, r, ".r1cs does not round-trip");
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
    match Zkey::from_bytes(data) {
        Ok(z) => {
            let again = Zkey::from_bytes(&z.to_bytes()).expect("a written .zkey parses");
            assert_eq!(again, z, ".zkey does not round-trip");
            // Verifying it against itself as the initial key never panics (beacons of more
            // than 2^12 SHA-256 iterations are skipped: slow, not wrong).
            let slow = z
                .contributions
                .iter()
                .any(|c| c.beacon.as_ref().is_some_and(|b| b.exp > 12));
            if !slow {
                if let Err(e) = phase2::verify_from_init(&z, &z) {
                    let _ = letro_fuzz::render_error(&e);
                }
            }
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
    match Ptau::from_bytes(data.to_vec()) {
        Ok(p) => {
            // x·x = y: wire 1 public, wire 2 private.
            let tiny = R1cs {
                n_wires: 3,
                n_public: 1,
                constraints: vec![[
                    vec![(2, Fr::from(1u64))],
                    vec![(2, Fr::from(1u64))],
                    vec![(1, Fr::from(1u64))],
                ]],
            };
            if let Err(e) = Zkey::new(&tiny, &p) {
                let _ = letro_fuzz::render_error(&e);
            }
        }
        Err(e) => {
            let _ = letro_fuzz::render_error(&e);
        }
    }
});

//! The circuit's constraint matrices as a file, built into the prover so that a process does
//! not re-synthesise the circuit (about 200 ms, nearly all of it arkworks inlining the linear
//! combinations) before its first proof.
//!
//! `prover/matrices/delivered-within-v2.matrices` is written by the test
//! `built_in_matrices_are_the_circuits` with `LETRO_REGENERATE=1`, and that test fails whenever
//! the file differs from a fresh synthesis of the circuit. A wrong file could not produce a wrong
//! proof: every proof is verified under the key's verifying key before it is returned, so a
//! mismatch shows as `ProveError::SelfCheckFailed`, never as a bad proof.
//!
//! Layout, all integers little-endian:
//! - `"letro-matrices/1\n"` (16 bytes);
//! - `u32` instance variables (the constant one included), witness variables, constraints and
//!   distinct coefficients `k`;
//! - `k` coefficients, 32 bytes each (canonical, little-endian), strictly increasing;
//! - for `a`, `b` and `c` in turn, for each row: `u32` length, then per entry `u32` variable and
//!   `u32` index into the coefficients.
//!
//! The `.r1cs` export of the ceremony (`letro ceremony export-r1cs`) is the interchange format
//! for the same rows; this one is a cache of the prover's, 8 bytes per entry instead of 36.

use ark_ff::{BigInteger, PrimeField};
use ark_relations::gr1cs::Matrix;
use letro_core::Fr;

use crate::Matrices;

const MAGIC: &[u8; 16] = b"letro-matrices/1";

/// The built-in matrices file.
pub const BUILT_IN: &[u8] = include_bytes!("../matrices/delivered-within-v2.matrices");

/// Why a matrices file does not decode.
#[derive(Debug, thiserror::Error)]
#[error("constraint matrices file: {0}")]
pub struct MatricesFileError(&'static str);

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MatricesFileError> {
        if self.0.len() < n {
            return Err(MatricesFileError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<usize, MatricesFileError> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| MatricesFileError("truncated"))?;
        usize::try_from(u32::from_le_bytes(b)).map_err(|_| MatricesFileError("too large"))
    }
}

fn put_u32(out: &mut Vec<u8>, v: usize) -> Result<(), MatricesFileError> {
    let v = u32::try_from(v).map_err(|_| MatricesFileError("a count exceeds 2^32"))?;
    out.extend_from_slice(&v.to_le_bytes());
    Ok(())
}

impl Matrices {
    /// The encoding described in the module documentation.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, MatricesFileError> {
        let mut coeffs: Vec<Fr> = self
            .abc
            .iter()
            .flatten()
            .flatten()
            .map(|(c, _)| *c)
            .collect();
        coeffs.sort_unstable_by_key(|c| c.into_bigint());
        coeffs.dedup();
        let mut out = MAGIC.to_vec();
        for v in [
            self.num_instance_variables,
            self.num_witness_variables,
            self.num_constraints(),
            coeffs.len(),
        ] {
            put_u32(&mut out, v)?;
        }
        for c in &coeffs {
            out.extend_from_slice(&c.into_bigint().to_bytes_le());
        }
        for m in &self.abc {
            for row in m {
                put_u32(&mut out, row.len())?;
                for (c, var) in row {
                    let i = coeffs
                        .binary_search_by_key(&c.into_bigint(), |x| x.into_bigint())
                        .map_err(|_| MatricesFileError("coefficient missing from the table"))?;
                    put_u32(&mut out, *var)?;
                    put_u32(&mut out, i)?;
                }
            }
        }
        Ok(out)
    }

    /// Decodes [`Matrices::to_file_bytes`], checking every count, index and coefficient.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self, MatricesFileError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(MatricesFileError("not a letro-matrices/1 file"));
        }
        let num_instance_variables = r.u32()?;
        let num_witness_variables = r.u32()?;
        let num_constraints = r.u32()?;
        let num_coeffs = r.u32()?;
        let num_variables = num_instance_variables
            .checked_add(num_witness_variables)
            .ok_or(MatricesFileError("too many variables"))?;
        // Every row takes at least 4 bytes and every coefficient 32: bound the allocations by
        // the input's size.
        if num_coeffs > bytes.len() / 32 || num_constraints > bytes.len() / 4 {
            return Err(MatricesFileError("counts larger than the file"));
        }
        let mut coeffs = Vec::with_capacity(num_coeffs);
        for _ in 0..num_coeffs {
            let mut limbs = [0u64; 4];
            for limb in &mut limbs {
                let b: [u8; 8] = r
                    .take(8)?
                    .try_into()
                    .map_err(|_| MatricesFileError("truncated"))?;
                *limb = u64::from_le_bytes(b);
            }
            let c = Fr::from_bigint(ark_ff::BigInt::new(limbs)).ok_or(MatricesFileError(
                "coefficient not below the field's modulus",
            ))?;
            coeffs.push(c);
        }
        let mut matrix = || -> Result<Matrix<Fr>, MatricesFileError> {
            let mut m = Vec::with_capacity(num_constraints);
            for _ in 0..num_constraints {
                let len = r.u32()?;
                if len > r.0.len() / 8 {
                    return Err(MatricesFileError("row longer than the file"));
                }
                let mut row = Vec::with_capacity(len);
                for _ in 0..len {
                    let var = r.u32()?;
                    let c = coeffs
                        .get(r.u32()?)
                        .ok_or(MatricesFileError("coefficient index out of range"))?;
                    if var >= num_variables {
                        return Err(MatricesFileError("variable out of range"));
                    }
                    row.push((*c, var));
                }
                m.push(row);
            }
            Ok(m)
        };
        let abc = [matrix()?, matrix()?, matrix()?];
        if !r.0.is_empty() {
            return Err(MatricesFileError("bytes after the matrices"));
        }
        Ok(Self {
            abc,
            num_instance_variables,
            num_witness_variables,
        })
    }

    /// The built-in matrices of the current circuit (see the module documentation).
    pub fn built_in() -> Result<Self, MatricesFileError> {
        Self::from_file_bytes(BUILT_IN)
    }
}

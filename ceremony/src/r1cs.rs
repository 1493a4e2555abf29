//! The circuit's constraint system in the iden3 `.r1cs` format (version 1).
//!
//! Wire order: wire 0 is the constant one; wires 1–6 are the public inputs in the statement's
//! order (`H_hi, H_lo, not_before, not_after, C, R`), declared as public inputs (no outputs, no
//! private inputs); then every witness variable of the prover in allocation order. Wire `i`
//! is Groth16 variable `i` of [`letro_prover::Matrices`], so the file holds exactly the rows the
//! prover proves with (`tests` check it row by row). Labels are the wire numbers.
//!
//! Sections: 1 header (`n8 = 32`, the BN254 scalar prime, wires, outputs, public inputs,
//! private inputs, labels, constraints), 2 constraints (for each: `A`, `B`, `C`, each a term
//! count and `(wire u32, coefficient)` terms with the coefficient in normal form, 32 bytes
//! little-endian), 3 the wire-to-label map (`u64` per wire).

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use letro_prover::Matrices;

use crate::binfile::{BinFile, BinWriter, Reader};
use crate::encoding::{fr_from_le, fr_to_le};
use crate::CeremonyError;

/// One linear combination: `(wire, coefficient)`, sorted by wire.
pub type Terms = Vec<(u32, Fr)>;

/// A constraint system in `.r1cs` terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct R1cs {
    /// Wires, the constant one included.
    pub n_wires: u32,
    /// Public inputs (wires `1..=n_public`).
    pub n_public: u32,
    /// Each constraint's `A`, `B` and `C`.
    pub constraints: Vec<[Terms; 3]>,
}

fn too_big(what: &str) -> CeremonyError {
    CeremonyError::Circuit(format!("{what} does not fit the .r1cs format"))
}

impl R1cs {
    /// The current circuit's constraint system.
    pub fn of_circuit() -> Result<Self, CeremonyError> {
        let m = Matrices::of_circuit().map_err(|e| CeremonyError::Circuit(e.to_string()))?;
        Self::from_matrices(&m)
    }

    /// From the prover's matrices.
    pub fn from_matrices(m: &Matrices) -> Result<Self, CeremonyError> {
        let n_wires = u32::try_from(m.num_variables()).map_err(|_| too_big("the wire count"))?;
        let n_public = u32::try_from(m.num_instance_variables.saturating_sub(1))
            .map_err(|_| too_big("the public input count"))?;
        let [a, b, c] = &m.abc;
        let terms = |row: &Vec<(Fr, usize)>| -> Result<Terms, CeremonyError> {
            row.iter()
                .map(|(coeff, var)| {
                    u32::try_from(*var)
                        .map(|w| (w, *coeff))
                        .map_err(|_| too_big("a wire number"))
                })
                .collect()
        };
        let constraints = a
            .iter()
            .zip(b)
            .zip(c)
            .map(|((a, b), c)| Ok([terms(a)?, terms(b)?, terms(c)?]))
            .collect::<Result<_, CeremonyError>>()?;
        Ok(Self {
            n_wires,
            n_public,
            constraints,
        })
    }

    /// The `.r1cs` file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BinWriter::new(b"r1cs", 1);
        let mut h = Vec::new();
        h.extend_from_slice(&32u32.to_le_bytes());
        h.extend_from_slice(&Fr::MODULUS.to_bytes_le());
        h.extend_from_slice(&self.n_wires.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // outputs
        h.extend_from_slice(&self.n_public.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // private inputs
        h.extend_from_slice(&u64::from(self.n_wires).to_le_bytes()); // labels
        h.extend_from_slice(&(self.constraints.len() as u32).to_le_bytes());
        w.section(1, &h);
        let mut cs = Vec::new();
        for lcs in &self.constraints {
            for lc in lcs {
                cs.extend_from_slice(&(lc.len() as u32).to_le_bytes());
                for (wire, coeff) in lc {
                    cs.extend_from_slice(&wire.to_le_bytes());
                    cs.extend_from_slice(&fr_to_le(coeff));
                }
            }
        }
        w.section(2, &cs);
        let map: Vec<u8> = (0..u64::from(self.n_wires))
            .flat_map(u64::to_le_bytes)
            .collect();
        w.section(3, &map);
        w.finish()
    }

    /// Reads a `.r1cs` file (BN254, version 1), strictly: a public output or private input
    /// count other than zero, a wire out of range, a coefficient not below the prime or a
    /// wire-to-label map without one label per wire is refused.
    pub fn from_bytes(data: &[u8]) -> Result<Self, CeremonyError> {
        let bad = |reason: &str| CeremonyError::Format {
            file: "r1cs".into(),
            reason: reason.into(),
        };
        let f = BinFile::parse(data, b"r1cs", 1)?;
        let mut h = Reader::new(f.section(1)?);
        let trunc = |_| bad("header truncated");
        if h.u32().map_err(trunc)? != 32 {
            return Err(bad("field size is not 32 bytes"));
        }
        if h.bytes(32).map_err(trunc)? != Fr::MODULUS.to_bytes_le().as_slice() {
            return Err(bad("the prime is not BN254's scalar field"));
        }
        let n_wires = h.u32().map_err(trunc)?;
        let outputs = h.u32().map_err(trunc)?;
        let n_public = h.u32().map_err(trunc)?;
        let private = h.u32().map_err(trunc)?;
        let _labels = h.u64().map_err(trunc)?;
        let n_constraints = h.u32().map_err(trunc)?;
        if h.remaining() != 0 {
            return Err(bad("header has trailing bytes"));
        }
        if outputs != 0 || private != 0 {
            return Err(bad(
                "public outputs and private inputs are not used by this circuit",
            ));
        }
        if n_public >= n_wires {
            return Err(bad("more public inputs than wires"));
        }
        let mut r = Reader::new(f.section(2)?);
        let trunc = |_| bad("constraints truncated");
        // Each constraint needs at least 12 bytes: refuse an impossible count before allocating.
        if (n_constraints as usize).saturating_mul(12) > r.remaining() {
            return Err(bad("constraint count exceeds the section"));
        }
        let mut constraints = Vec::with_capacity(n_constraints as usize);
        for _ in 0..n_constraints {
            let mut lcs: [Terms; 3] = Default::default();
            for lc in lcs.iter_mut() {
                let n = r.u32().map_err(trunc)?;
                if (n as usize).saturating_mul(36) > r.remaining() {
                    return Err(bad("term count exceeds the section"));
                }
                for _ in 0..n {
                    let wire = r.u32().map_err(trunc)?;
                    if wire >= n_wires {
                        return Err(bad("a term names a wire out of range"));
                    }
                    let coeff = fr_from_le(r.bytes(32).map_err(trunc)?)
                        .map_err(|_| bad("a coefficient is not below the prime"))?;
                    lc.push((wire, coeff));
                }
            }
            constraints.push(lcs);
        }
        if r.remaining() != 0 {
            return Err(bad("constraints section has trailing bytes"));
        }
        // The wire-to-label map has one 8-byte label per wire: this also bounds the wire count
        // by the file's size.
        if f.section(3)?.len() as u64 != u64::from(n_wires) * 8 {
            return Err(bad(
                "the wire-to-label map does not have one label per wire",
            ));
        }
        Ok(Self {
            n_wires,
            n_public,
            constraints,
        })
    }

    /// The size of the evaluation domain (as snarkjs computes it).
    pub fn domain_size(&self) -> usize {
        (self.constraints.len() + self.n_public as usize + 1).next_power_of_two()
    }
}

//! Phase 1: a prepared powers-of-tau file in the snarkjs `.ptau` format (BN254).
//!
//! A phase-2 ceremony starts from a `.ptau` that went through `snarkjs powersoftau prepare
//! phase2` (it has the Lagrange sections 12–15). The file is trusted because its BLAKE2b-512
//! (what `b2sum` prints) equals a value the operator pinned after checking the phase-1
//! transcript (`snarkjs powersoftau verify`) or taking it from the Perpetual Powers of Tau
//! publication; [`Ptau::open`] refuses any other file. Points are checked to be on their curve
//! as they are read.
//!
//! Sections read: 1 header (`n8`, `q`, `power`, `ceremonyPower`), 2 `τ^i·G1` (`2^(power+1) − 1`
//! points), 4 `α·τ^i·G1`, 5 `β·τ^i·G1`, 6 `β·G2`, 12/13 the Lagrange bases in G1/G2 and 14/15
//! `α`/`β` times the Lagrange basis in G1, each for every domain `2^k ≤ 2^power` in turn (the
//! basis of `2^k` starts at point `2^k − 1`); section 12 goes on to `2^(power+1)`, the domain
//! of the `H` points.

use std::path::Path;

use ark_bn254::{Fq, G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;

use crate::binfile::{BinFile, Reader};
use crate::encoding::{g1_from_lem, g2_from_lem, G1_LEN, G2_LEN};
use crate::CeremonyError;

/// Largest `.ptau` read into memory (a power-20 prepared file is about 1.2 GB).
pub const MAX_PTAU_BYTES: u64 = 2 << 30;

/// A checked phase-1 file, held in memory.
pub struct Ptau {
    data: Vec<u8>,
    power: u32,
    blake2b: [u8; 64],
}

impl std::fmt::Debug for Ptau {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ptau")
            .field("power", &self.power)
            .field("blake2b", &hex::encode(self.blake2b))
            .finish_non_exhaustive()
    }
}

/// Section types of a `.ptau`.
mod section {
    pub const HEADER: u32 = 1;
    pub const TAU_G1: u32 = 2;
    pub const TAU_G2: u32 = 3;
    pub const ALPHA_TAU_G1: u32 = 4;
    pub const BETA_TAU_G1: u32 = 5;
    pub const BETA_G2: u32 = 6;
    pub const LAGRANGE_G1: u32 = 12;
    pub const LAGRANGE_G2: u32 = 13;
    pub const ALPHA_LAGRANGE_G1: u32 = 14;
    pub const BETA_LAGRANGE_G1: u32 = 15;
}
pub(crate) use section::*;

fn bad(reason: impl Into<String>) -> CeremonyError {
    CeremonyError::Format {
        file: "ptau".into(),
        reason: reason.into(),
    }
}

impl Ptau {
    /// Reads `path` and checks that its BLAKE2b-512 is `pinned_b2sum` (hex, as `b2sum` prints
    /// it).
    pub fn open(path: &Path, pinned_b2sum: &str) -> Result<Self, CeremonyError> {
        let pinned = hex::decode(pinned_b2sum.trim())
            .ok()
            .filter(|b| b.len() == 64)
            .ok_or_else(|| {
                CeremonyError::Usage(
                    "the pinned phase-1 hash must be 128 hex digits (the BLAKE2b-512 that b2sum prints)"
                        .into(),
                )
            })?;
        let io = |source| CeremonyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_PTAU_BYTES {
            return Err(bad(format!(
                "{len} bytes; files above {MAX_PTAU_BYTES} bytes are not read (use the smallest power that fits the circuit)"
            )));
        }
        let data = std::fs::read(path).map_err(io)?;
        // The pin is checked before a byte of the file is parsed.
        let found: [u8; 64] = Blake2b512::digest(&data).into();
        if found.as_slice() != pinned.as_slice() {
            return Err(CeremonyError::PtauNotPinned {
                found: hex::encode(found),
                pinned: hex::encode(pinned),
            });
        }
        let p = Self::from_bytes(data)?;
        Ok(p)
    }

    /// Parses a `.ptau` without a pin (its hash is [`Ptau::blake2b`]).
    pub fn from_bytes(data: Vec<u8>) -> Result<Self, CeremonyError> {
        let blake2b: [u8; 64] = Blake2b512::digest(&data).into();
        let power = {
            let f = BinFile::parse(&data, b"ptau", 1)?;
            let mut h = Reader::new(f.section(HEADER)?);
            let trunc = |_| bad("header truncated");
            if h.u32().map_err(trunc)? != 32 {
                return Err(bad("field size is not 32 bytes: not BN254"));
            }
            if h.bytes(32).map_err(trunc)? != Fq::MODULUS.to_bytes_le().as_slice() {
                return Err(bad("the curve is not BN254 (bn128)"));
            }
            let power = h.u32().map_err(trunc)?;
            let _ceremony_power = h.u32().map_err(trunc)?;
            if h.remaining() != 0 {
                return Err(bad("header has trailing bytes"));
            }
            if !(1..=28).contains(&power) {
                return Err(bad(format!("power {power} is out of range")));
            }
            for kind in [
                LAGRANGE_G1,
                LAGRANGE_G2,
                ALPHA_LAGRANGE_G1,
                BETA_LAGRANGE_G1,
            ] {
                if !f.has(kind) {
                    return Err(bad(
                        "not prepared for phase 2 (no Lagrange sections): run `snarkjs powersoftau prepare phase2` first",
                    ));
                }
            }
            let n = 1usize << power;
            let sizes = [
                (TAU_G1, (2 * n - 1) * G1_LEN),
                (TAU_G2, n * G2_LEN),
                (ALPHA_TAU_G1, n * G1_LEN),
                (BETA_TAU_G1, n * G1_LEN),
                (BETA_G2, G2_LEN),
                (LAGRANGE_G1, (4 * n - 1) * G1_LEN),
                (LAGRANGE_G2, (2 * n - 1) * G2_LEN),
                (ALPHA_LAGRANGE_G1, (2 * n - 1) * G1_LEN),
                (BETA_LAGRANGE_G1, (2 * n - 1) * G1_LEN),
            ];
            for (kind, size) in sizes {
                let found = f.section(kind)?.len();
                if found != size {
                    return Err(bad(format!(
                        "section {kind} holds {found} bytes, power {power} needs {size}"
                    )));
                }
            }
            power
        };
        Ok(Self {
            data,
            power,
            blake2b,
        })
    }

    /// The power: the file holds domains up to `2^power`.
    pub fn power(&self) -> u32 {
        self.power
    }

    /// BLAKE2b-512 of the file.
    pub fn blake2b(&self) -> [u8; 64] {
        self.blake2b
    }

    fn section(&self, kind: u32) -> Result<&[u8], CeremonyError> {
        BinFile::parse(&self.data, b"ptau", 1)?.section(kind)
    }

    /// `count` G1 points of section `kind` from point `start`.
    pub(crate) fn g1(
        &self,
        kind: u32,
        start: usize,
        count: usize,
    ) -> Result<Vec<G1Affine>, CeremonyError> {
        let bytes = self
            .section(kind)?
            .get(start * G1_LEN..(start + count) * G1_LEN)
            .ok_or_else(|| bad(format!("section {kind} is too short")))?;
        bytes
            .par_chunks(G1_LEN)
            .map(|c| g1_from_lem(c).map_err(|e| bad(format!("section {kind}: {e}"))))
            .collect()
    }

    /// `count` G2 points of section `kind` from point `start` (on the curve; the file's pin
    /// vouches for the subgroup).
    pub(crate) fn g2(
        &self,
        kind: u32,
        start: usize,
        count: usize,
    ) -> Result<Vec<G2Affine>, CeremonyError> {
        let bytes = self
            .section(kind)?
            .get(start * G2_LEN..(start + count) * G2_LEN)
            .ok_or_else(|| bad(format!("section {kind} is too short")))?;
        bytes
            .par_chunks(G2_LEN)
            .map(|c| g2_from_lem(c, false).map_err(|e| bad(format!("section {kind}: {e}"))))
            .collect()
    }
}

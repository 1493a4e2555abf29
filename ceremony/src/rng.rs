//! The deterministic derivations snarkjs uses, reproduced bit for bit so that snarkjs and this
//! crate check each other's transcripts.
//!
//! - [`SnarkjsRng`]: ffjavascript's ChaCha20 stream, keyed by eight 32-bit words and read one
//!   word at a time (the same stream as `rand_chacha`'s ChaCha20 with the words as key).
//! - [`fr_from_rng`], [`g1_from_rng`], [`g2_from_rng`]: ffjavascript's `fromRng`: 254 masked
//!   bits with rejection, read as a Montgomery form; points from a random `x`, a sign bit, and
//!   (in G2) the cofactor.
//! - [`hash_to_g2`]: the point a contribution's G2 proof is made on, from its transcript hash.
//! - [`beacon_rng`]: the stream of a random beacon: `2^e` iterations of SHA-256.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::short_weierstrass::SWCurveConfig;
use ark_ec::AffineRepr;
use ark_ff::{BigInt, Field, PrimeField, Zero};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// ffjavascript's ChaCha stream.
pub struct SnarkjsRng(ChaCha20Rng);

impl std::fmt::Debug for SnarkjsRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnarkjsRng")
    }
}

impl SnarkjsRng {
    /// The stream keyed by `seed` (ffjavascript's `new ChaCha(seed)`).
    pub fn new(seed: [u32; 8]) -> Self {
        let mut key = [0u8; 32];
        for (chunk, word) in key.chunks_mut(4).zip(seed) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Self(ChaCha20Rng::from_seed(key))
    }

    /// The stream keyed by the first 32 bytes of `hash`, read as big-endian words.
    pub fn from_hash(hash: &[u8]) -> Self {
        let mut seed = [0u32; 8];
        for (word, chunk) in seed.iter_mut().zip(hash.chunks(4)) {
            let mut b = [0u8; 4];
            b.iter_mut().zip(chunk).for_each(|(d, s)| *d = *s);
            *word = u32::from_be_bytes(b);
        }
        Self::new(seed)
    }

    /// The next word.
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// ffjavascript's `nextU64`: the first word is the high half.
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    fn next_bool(&mut self) -> bool {
        self.next_u32() & 1 == 1
    }
}

/// 254 random bits below `modulus`, by rejection (both BN254 moduli have 254 bits).
fn masked_below(rng: &mut SnarkjsRng, modulus: &BigInt<4>) -> BigInt<4> {
    loop {
        let mut limbs = [0u64; 4];
        for limb in limbs.iter_mut() {
            *limb = rng.next_u64();
        }
        limbs[3] &= (1u64 << 62) - 1;
        let v = BigInt(limbs);
        if v < *modulus {
            return v;
        }
    }
}

/// ffjavascript's `Fr.fromRng`: the random integer is the element's Montgomery form.
pub fn fr_from_rng(rng: &mut SnarkjsRng) -> Fr {
    let v = masked_below(rng, &Fr::MODULUS);
    let r_inv = Fr::from(2u64).pow([256u64]).inverse().unwrap_or_default();
    Fr::from_bigint(v).unwrap_or_default() * r_inv
}

fn fq_from_rng(rng: &mut SnarkjsRng) -> Fq {
    let v = masked_below(rng, &Fq::MODULUS);
    let r_inv = Fq::from(2u64).pow([256u64]).inverse().unwrap_or_default();
    Fq::from_bigint(v).unwrap_or_default() * r_inv
}

/// ffjavascript's sign: above `(q - 1) / 2`.
fn fq_is_negative(x: &Fq) -> bool {
    x.into_bigint() > Fq::MODULUS_MINUS_ONE_DIV_TWO
}

fn fq2_is_negative(x: &Fq2) -> bool {
    if x.c1.is_zero() {
        fq_is_negative(&x.c0)
    } else {
        fq_is_negative(&x.c1)
    }
}

/// ffjavascript's `G1.fromRng`.
pub fn g1_from_rng(rng: &mut SnarkjsRng) -> G1Affine {
    loop {
        let x = fq_from_rng(rng);
        let greatest = rng.next_bool();
        let rhs = x.square() * x + ark_bn254::g1::Config::COEFF_B;
        let Some(mut y) = rhs.sqrt() else { continue };
        if fq_is_negative(&y) != greatest {
            y = -y;
        }
        return G1Affine::new_unchecked(x, y);
    }
}

/// The cofactor of BN254's G2, as ffjavascript multiplies by it.
const G2_COFACTOR: BigInt<4> = BigInt([
    0x345f_2299_c0f9_fa8d,
    0x06ce_ecda_572a_2489,
    0xb850_45b6_8181_585e,
    0x3064_4e72_e131_a029,
]);

/// ffjavascript's `G2.fromRng`.
pub fn g2_from_rng(rng: &mut SnarkjsRng) -> G2Affine {
    loop {
        let c0 = fq_from_rng(rng);
        let c1 = fq_from_rng(rng);
        let x = Fq2::new(c0, c1);
        let greatest = rng.next_bool();
        let rhs = x.square() * x + ark_bn254::g2::Config::COEFF_B;
        let Some(mut y) = rhs.sqrt() else { continue };
        if fq2_is_negative(&y) != greatest {
            y = -y;
        }
        let p = G2Affine::new_unchecked(x, y);
        return p.mul_bigint(G2_COFACTOR).into();
    }
}

/// snarkjs's `hashToG2`: the G2 point a contribution proves its key on.
pub fn hash_to_g2(transcript: &[u8]) -> G2Affine {
    g2_from_rng(&mut SnarkjsRng::from_hash(transcript))
}

/// The stream of a random beacon: SHA-256 applied `2^exp` times to `beacon`.
pub fn beacon_rng(beacon: &[u8], exp: u8) -> SnarkjsRng {
    let mut h: [u8; 32] = Sha256::digest(beacon).into();
    let n: u64 = 1u64 << exp.min(63);
    for _ in 1..n {
        h = Sha256::digest(h).into();
    }
    SnarkjsRng::from_hash(&h)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn points_from_the_stream_are_in_their_groups() {
        let mut rng = SnarkjsRng::new([1, 2, 3, 4, 5, 6, 7, 8]);
        let p = g1_from_rng(&mut rng);
        assert!(p.is_on_curve() && !p.is_zero());
        let q = g2_from_rng(&mut rng);
        assert!(q.is_on_curve() && q.is_in_correct_subgroup_assuming_on_curve() && !q.is_zero());
    }

    #[test]
    fn the_beacon_counts_its_iterations() {
        let a = beacon_rng(b"x", 10).next_u32();
        let b = beacon_rng(b"x", 11).next_u32();
        assert_ne!(a, b);
        assert_eq!(a, beacon_rng(b"x", 10).next_u32());
    }
}

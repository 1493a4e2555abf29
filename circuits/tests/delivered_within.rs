//! The delivered-within circuit: satisfied by an honest witness, unsatisfied by each tampering.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ark_ff::{AdditiveGroup, Field, PrimeField};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use letro_circuits::circuit::{constraint_count, Assignment, DeliveredWithinCircuit};
use letro_core::babyjubjub::{self, Fs};
use letro_core::eddsa::PrivateKey;
use letro_core::statement::{self, example::default_example, DeliveredWithin};
use letro_core::Fr;

/// The pinned constraint count. A change here is a circuit change: review it, then update
/// SPEC.md, the keys (`letro keys setup`) and this number together.
const CONSTRAINTS: usize = 10_999;

fn satisfied(a: Assignment) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    match (DeliveredWithinCircuit {
        assignment: Some(a),
    })
    .generate_constraints(cs.clone())
    {
        Ok(()) => cs.is_satisfied().unwrap(),
        Err(_) => false,
    }
}

fn honest() -> (DeliveredWithin, Assignment) {
    let e = default_example();
    (e.statement, Assignment::new(&e.statement, &e.witness))
}

#[test]
fn honest_witness_satisfies() {
    assert!(satisfied(honest().1));
}

#[test]
fn allocated_public_inputs_equal_core_encoding() {
    let (s, a) = honest();
    let cs = ConstraintSystem::<Fr>::new_ref();
    DeliveredWithinCircuit {
        assignment: Some(a),
    }
    .generate_constraints(cs.clone())
    .unwrap();
    let instance = cs.instance_assignment().unwrap();
    assert_eq!(instance[0], Fr::ONE);
    assert_eq!(&instance[1..], &s.public_inputs()[..]);
}

#[test]
fn constraint_count_is_pinned() {
    let n = constraint_count().unwrap();
    println!("delivered-within constraints: {n}");
    assert_eq!(n, CONSTRAINTS);
    assert!(n <= 13_498, "must not exceed the circomlib reference build");
}

/// A statement whose window is moved so the honest t is outside it, re-encoded.
fn with_window(nb: u64, na: u64) -> Assignment {
    let (mut s, mut a) = honest();
    s.not_before = nb;
    s.not_after = na;
    a.public = s.public_inputs();
    a
}

#[test]
fn t_after_not_after() {
    let (s, _) = honest();
    let t = s.not_before + 3600;
    assert!(satisfied(with_window(t - 10, t)));
    assert!(!satisfied(with_window(t - 10, t - 1)));
}

#[test]
fn t_before_not_before() {
    let (s, _) = honest();
    let t = s.not_before + 3600;
    assert!(satisfied(with_window(t, t + 10)));
    assert!(!satisfied(with_window(t + 1, t + 10)));
}

#[test]
fn bound_not_below_2_64() {
    let (_, a) = honest();
    let two64 = Fr::from(u128::from(u64::MAX) + 1);
    let mut b = a.clone();
    b.public[3] = two64 + b.public[3];
    assert!(!satisfied(b));
    let mut b = a.clone();
    b.public[2] = -Fr::from(1u64);
    assert!(!satisfied(b));
}

#[test]
fn t_not_below_2_64() {
    // t = t0 + 2^64 with a window widened to contain it as field elements but not as u64s.
    let (_, a) = honest();
    let mut b = a.clone();
    b.t += Fr::from(u128::from(u64::MAX) + 1);
    assert!(!satisfied(b));
}

#[test]
fn hash_half_not_below_2_128() {
    let (_, a) = honest();
    for i in 0..2 {
        let mut b = a.clone();
        b.public[i] += Fr::from(2u64).pow([128]);
        assert!(!satisfied(b));
    }
}

/// Re-signs the honest receipt with another key or message and rebuilds a consistent
/// commitment and tree, so that only the signature check can fail.
#[test]
fn signature_by_another_key() {
    let e = default_example();
    let other = PrivateKey::from_bytes([9u8; 32]);
    let mut w = e.witness.clone();
    w.signature = other.sign(&statement::receipt_message(
        &e.statement.ciphertext_hash,
        w.delivered_at,
    ));
    assert!(!satisfied(Assignment::new(&e.statement, &w)));
}

#[test]
fn signature_over_another_h() {
    let e = default_example();
    let mut h = e.statement.ciphertext_hash;
    h.0[31] ^= 1;
    let mut w = e.witness.clone();
    w.signature = e
        .receipt_secret
        .sign(&statement::receipt_message(&h, w.delivered_at));
    assert!(!satisfied(Assignment::new(&e.statement, &w)));
}

#[test]
fn signature_over_another_t() {
    let e = default_example();
    let mut w = e.witness.clone();
    w.signature = e.receipt_secret.sign(&statement::receipt_message(
        &e.statement.ciphertext_hash,
        w.delivered_at + 1,
    ));
    assert!(!satisfied(Assignment::new(&e.statement, &w)));
}

#[test]
fn s_not_below_subgroup_order() {
    // S + l satisfies the curve equation (l·Base8 = O) but must be refused.
    let (_, a) = honest();
    let mut b = a.clone();
    let l = Fr::from_le_bytes_mod_order(&ark_ff::BigInteger::to_bytes_le(&Fs::MODULUS));
    b.s += l;
    assert!(!satisfied(b));
}

#[test]
fn small_order_receipt_key() {
    // A = identity: anyone can "sign" with R8 = S·Base8. The commitment and leaf are rebuilt
    // for this key so that only the small-order check can catch it.
    let e = default_example();
    let t = e.witness.delivered_at;
    let h = e.statement.ciphertext_hash;
    for (x, y) in [(Fr::ZERO, Fr::ONE), (Fr::ZERO, -Fr::ONE)] {
        let key = babyjubjub::Point::new_unchecked(x, y);
        let s = Fs::from(5u64);
        let r8 = babyjubjub::mul_base8(&s);
        let mut tree = letro_core::merkle::MerkleTree::new();
        tree.append(statement::delivered_leaf(
            &h,
            &key,
            t,
            &e.witness.event_secret,
        ))
        .unwrap();
        let st = DeliveredWithin {
            recipient_commitment: statement::recipient_commitment(&key, &e.witness.blinding),
            log_root: tree.root(),
            ..e.statement
        };
        let mut a = Assignment::new(&st, &e.witness);
        a.a = (x, y);
        a.r8 = (r8.x, r8.y);
        a.s = Fr::from(5u64);
        let proof = tree.proof(0).unwrap();
        a.index_bits = [false; 32];
        for (level, sib) in proof.siblings.iter().enumerate() {
            a.siblings[level] = letro_circuits::merkle::circuit_siblings(sib, 0);
        }
        assert!(!satisfied(a));
    }
}

#[test]
fn wrong_blinding() {
    let (_, a) = honest();
    let mut b = a.clone();
    b.blinding += Fr::ONE;
    assert!(!satisfied(b));
}

#[test]
fn wrong_event_secret() {
    let (_, a) = honest();
    let mut b = a.clone();
    b.event_secret += Fr::ONE;
    assert!(!satisfied(b));
    let mut b = a.clone();
    b.event_secret = Fr::ZERO;
    assert!(!satisfied(b));
}

/// A log that holds the delivery's non-hiding v1 leaf (no event secret) does not satisfy the
/// v2 circuit, whatever secret the prover claims.
#[test]
fn v1_leaf_does_not_satisfy_v2() {
    let e = default_example();
    let h = e.statement.ciphertext_hash;
    let key = *e.witness.receipt_key.point();
    let t = e.witness.delivered_at;
    let mut tree = letro_core::merkle::MerkleTree::new();
    for i in 0..10u64 {
        let leaf = if i == 5 {
            statement::delivered_leaf_v1(&h, &key, t)
        } else {
            Fr::from(i + 1)
        };
        tree.append(leaf).unwrap();
    }
    let s = DeliveredWithin {
        log_root: tree.root(),
        ..e.statement
    };
    let mut w = e.witness.clone();
    w.path = tree.proof(5).unwrap();
    for secret in [Fr::ZERO, w.event_secret] {
        w.event_secret = secret;
        assert!(!satisfied(Assignment::new(&s, &w)));
    }
}

#[test]
fn wrong_sibling() {
    let (_, a) = honest();
    for level in [0, 7, 15] {
        for j in 0..3 {
            let mut b = a.clone();
            b.siblings[level][j] += Fr::ONE;
            assert!(!satisfied(b), "level {level} sibling {j}");
        }
    }
}

#[test]
fn flipped_index_bit() {
    let (_, a) = honest();
    for i in [0, 1, 2, 31] {
        let mut b = a.clone();
        b.index_bits[i] = !b.index_bits[i];
        assert!(!satisfied(b), "bit {i}");
    }
}

#[test]
fn wrong_root() {
    let (_, a) = honest();
    let mut b = a.clone();
    b.public[5] += Fr::ONE;
    assert!(!satisfied(b));
}

#[test]
fn wrong_commitment_and_key() {
    let (_, a) = honest();
    let mut b = a.clone();
    b.public[4] += Fr::ONE;
    assert!(!satisfied(b));
    let mut b = a.clone();
    b.a.0 += Fr::ONE;
    assert!(!satisfied(b));
}

#[test]
fn breakdown_adds_up() {
    let parts = letro_circuits::circuit::constraint_breakdown().unwrap();
    for (name, n) in &parts {
        println!("{n:>6}  {name}");
    }
    assert_eq!(parts.iter().map(|(_, n)| n).sum::<usize>(), CONSTRAINTS);
    assert!(parts.len() >= 10);
}

//! Gadgets against their native twins in letro-core, and against the circomlibjs vectors in
//! `testdata/vectors` (see its README.md):
//!
//! - `eddsa::verify` is satisfied exactly when `PublicKey::verify` accepts, for random keys and
//!   messages (valid, wrong message, wrong key, S + 1) and for every circomlibjs vector;
//! - `merkle::root` equals `InclusionProof::root` on random trees and on the circomlibjs proofs,
//!   and `merkle::children` places a node and its siblings as `letro_core::merkle::children`
//!   does at every position;
//! - `PointVar::add` gives circomlibjs's sums, identity and `P + (-P)` included.
//!
//! Every check asserts concrete values: the satisfied flag of a fresh constraint system and the
//! gadget's output against the native or the vector's value.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField};
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, GR1CSVar};
use ark_relations::gr1cs::ConstraintSystem;
use proptest::prelude::*;
use serde_json::Value;

use letro_circuits::babyjubjub::PointVar;
use letro_circuits::{eddsa, merkle as gadget, Boolean, ConstraintSystemRef, FpVar, F};
use letro_core::babyjubjub::{is_in_prime_subgroup, is_small_order, Fs, Point};
use letro_core::eddsa::{EddsaError, PrivateKey, PublicKey, Signature};
use letro_core::field::{fr_from_decimal, fr_to_be_bytes};
use letro_core::merkle::{self as native, position, InclusionProof, MerkleTree, DEPTH};

// ---------------------------------------------------------------------------------------------
// Helpers.

fn new_cs() -> ConstraintSystemRef<F> {
    ConstraintSystem::<F>::new_ref()
}

fn load(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "testdata",
        "vectors",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn arr<'a>(v: &'a Value, ctx: &str) -> &'a [Value] {
    v.as_array()
        .unwrap_or_else(|| panic!("{ctx}: expected a JSON array, got {v}"))
}

fn text<'a>(v: &'a Value, ctx: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{ctx}: expected a JSON string, got {v}"))
}

fn fr(v: &Value, ctx: &str) -> F {
    let s = text(v, ctx);
    fr_from_decimal(s).unwrap_or_else(|e| panic!("{ctx}: {s:?} is not a field element: {e}"))
}

/// `[x, y]`, not checked to be on the curve (some invalid vectors are off it).
fn point(v: &Value, ctx: &str) -> Point {
    let xy = arr(v, ctx);
    assert_eq!(xy.len(), 2, "{ctx}: a point is [x, y]");
    Point::new_unchecked(
        fr(&xy[0], &format!("{ctx}.x")),
        fr(&xy[1], &format!("{ctx}.y")),
    )
}

/// A subgroup scalar as the integer it is, in the circuit's field (`l < p`).
fn fs_as_fr(s: &Fs) -> F {
    F::from_le_bytes_mod_order(&s.into_bigint().to_bytes_le())
}

fn fr_from_seed(bytes: &[u8; 32]) -> F {
    F::from_le_bytes_mod_order(bytes)
}

// ---------------------------------------------------------------------------------------------
// EdDSA.

/// Synthesises `eddsa::verify` over witnesses `A, msg, R8, S` in a fresh system and returns
/// whether it is satisfied. Synthesis itself must succeed for any witness values.
fn eddsa_gadget(a: &Point, msg: F, r8: &Point, s: F) -> bool {
    let cs = new_cs();
    let av = PointVar::new_witness(cs.clone(), Some(*a)).unwrap();
    let mv = FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap();
    let rv = PointVar::new_witness(cs.clone(), Some(*r8)).unwrap();
    let sv = FpVar::new_witness(cs.clone(), || Ok(s)).unwrap();
    eddsa::verify(&av, &mv, &rv, &sv).expect("eddsa::verify synthesises");
    cs.is_satisfied().unwrap()
}

/// The native verdict on raw values, through the same typed entry points a verifier uses.
fn eddsa_native(a: &Point, msg: F, r8: &Point, s: F) -> Result<(), EddsaError> {
    let pk = PublicKey::from_coords(a.x, a.y)?;
    let sig = Signature::from_parts(r8.x, r8.y, &fr_to_be_bytes(&s))?;
    pk.verify(&msg, &sig)
}

proptest! {
    // Each case synthesises four verifications of about 4,300 constraints.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn eddsa_gadget_agrees_with_native(
        sk in any::<[u8; 32]>(),
        other_sk in any::<[u8; 32]>(),
        msg in any::<[u8; 32]>(),
        other_msg in any::<[u8; 32]>(),
    ) {
        prop_assume!(sk != other_sk);
        let (msg, other_msg) = (fr_from_seed(&msg), fr_from_seed(&other_msg));
        prop_assume!(msg != other_msg);

        let key = PrivateKey::from_bytes(sk);
        let pk = key.public_key();
        let a = *pk.point();
        let sig = key.sign(&msg);
        let s = fs_as_fr(&sig.s);

        // Valid.
        prop_assert_eq!(pk.verify(&msg, &sig), Ok(()));
        prop_assert_eq!(eddsa_native(&a, msg, &sig.r8, s), Ok(()));
        prop_assert!(eddsa_gadget(&a, msg, &sig.r8, s), "valid signature unsatisfied");

        // Wrong message.
        prop_assert_eq!(pk.verify(&other_msg, &sig), Err(EddsaError::Invalid));
        prop_assert!(!eddsa_gadget(&a, other_msg, &sig.r8, s), "wrong message satisfied");

        // Wrong key.
        let other_pk = PrivateKey::from_bytes(other_sk).public_key();
        prop_assert_eq!(other_pk.verify(&msg, &sig), Err(EddsaError::Invalid));
        prop_assert!(!eddsa_gadget(other_pk.point(), msg, &sig.r8, s), "wrong key satisfied");

        // S + 1 (mod l, so it stays a well-formed signature that only the equation rejects).
        let bumped = Signature { s: sig.s + Fs::from(1u64), ..sig };
        prop_assert_eq!(pk.verify(&msg, &bumped), Err(EddsaError::Invalid));
        prop_assert!(!eddsa_gadget(&a, msg, &bumped.r8, fs_as_fr(&bumped.s)), "S + 1 satisfied");
    }
}

#[test]
fn eddsa_valid_vectors_satisfy_the_gadget() {
    let file = load("eddsa.json");
    let vectors = arr(&file["vectors"], "eddsa.vectors");
    assert_eq!(vectors.len(), 11, "eddsa.vectors count");
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("eddsa.vectors[{i}]");
        assert_eq!(v["valid"].as_bool(), Some(true), "{ctx}: tagged valid");
        let a = point(&v["public_key"], &format!("{ctx}.public_key"));
        let r8 = point(&v["r8"], &format!("{ctx}.r8"));
        let msg = fr(&v["message"], &format!("{ctx}.message"));
        let s = fr(&v["s"], &format!("{ctx}.s"));
        assert_eq!(eddsa_native(&a, msg, &r8, s), Ok(()), "{ctx}: native");
        assert!(eddsa_gadget(&a, msg, &r8, s), "{ctx}: gadget unsatisfied");
    }
}

#[test]
fn eddsa_invalid_vectors_leave_the_gadget_unsatisfied() {
    let file = load("eddsa.json");
    let vectors = arr(&file["invalid_vectors"], "eddsa.invalid_vectors");
    assert_eq!(vectors.len(), 13, "eddsa.invalid_vectors count");
    for (i, v) in vectors.iter().enumerate() {
        let why = text(&v["why"], "why");
        let ctx = format!("eddsa.invalid_vectors[{i}] ({why})");
        assert_eq!(v["valid"].as_bool(), Some(false), "{ctx}: tagged invalid");
        let a = point(&v["public_key"], &format!("{ctx}.public_key"));
        let r8 = point(&v["r8"], &format!("{ctx}.r8"));
        let msg = fr(&v["message"], &format!("{ctx}.message"));
        let s = fr(&v["s"], &format!("{ctx}.s"));
        assert!(
            eddsa_native(&a, msg, &r8, s).is_err(),
            "{ctx}: native accepts"
        );
        assert!(!eddsa_gadget(&a, msg, &r8, s), "{ctx}: gadget satisfied");
    }
}

/// circomlibjs accepts these. Small-order keys must be refused by both twins. Keys `A + T` (T in
/// the 8-torsion) are accepted by both, as core's own vector test documents (the check is
/// circomlib's, cofactored on A); what matters here is that the twins agree.
#[test]
fn eddsa_circomlibjs_quirks_gadget_agrees_with_native() {
    let file = load("eddsa.json");
    let vectors = arr(&file["circomlibjs_quirks"], "eddsa.circomlibjs_quirks");
    assert_eq!(vectors.len(), 6, "eddsa.circomlibjs_quirks count");
    let (mut small, mut torsion) = (0, 0);
    for (i, v) in vectors.iter().enumerate() {
        let why = text(&v["why"], "why");
        let ctx = format!("eddsa.circomlibjs_quirks[{i}] ({why})");
        let a = point(&v["public_key"], &format!("{ctx}.public_key"));
        let r8 = point(&v["r8"], &format!("{ctx}.r8"));
        let msg = fr(&v["message"], &format!("{ctx}.message"));
        let s = fr(&v["s"], &format!("{ctx}.s"));
        let native = eddsa_native(&a, msg, &r8, s);
        let gadget = eddsa_gadget(&a, msg, &r8, s);
        if is_small_order(&a) {
            small += 1;
            assert!(native.is_err(), "{ctx}: native accepts a small-order key");
            assert!(!gadget, "{ctx}: gadget accepts a small-order key");
        } else {
            torsion += 1;
            assert!(!is_in_prime_subgroup(&a), "{ctx}: key outside the subgroup");
            assert_eq!(native, Ok(()), "{ctx}: native verdict on a torsion key");
            assert!(
                gadget,
                "{ctx}: gadget verdict on a torsion key differs from native"
            );
        }
    }
    assert_eq!((small, torsion), (4, 2), "small-order, torsion keys");
}

// ---------------------------------------------------------------------------------------------
// Merkle.

/// Synthesises `merkle::root` from witnesses and returns its value, after checking the system is
/// satisfied.
fn merkle_gadget_root(leaf: F, proof: &InclusionProof) -> F {
    let cs = new_cs();
    let leaf_v = FpVar::new_witness(cs.clone(), || Ok(leaf)).unwrap();
    let bits: Vec<Boolean> = (0..2 * DEPTH)
        .map(|i| Boolean::new_witness(cs.clone(), || Ok((proof.index >> i) & 1 == 1)).unwrap())
        .collect();
    let siblings: Vec<[FpVar; 3]> = proof
        .siblings
        .iter()
        .enumerate()
        .map(|(level, asc)| {
            gadget::circuit_siblings(asc, position(proof.index, level))
                .map(|x| FpVar::new_witness(cs.clone(), || Ok(x)).unwrap())
        })
        .collect();
    let root = gadget::root(&leaf_v, &bits, &siblings).unwrap();
    assert!(
        cs.is_satisfied().unwrap(),
        "merkle gadget system unsatisfied"
    );
    root.value().unwrap()
}

/// The gadget's four children for a node at `pos` with ascending siblings `asc`.
fn children_gadget(node: F, asc: &[F; 3], pos: usize) -> [F; 4] {
    let cs = new_cs();
    let n = FpVar::new_witness(cs.clone(), || Ok(node)).unwrap();
    let sib = gadget::circuit_siblings(asc, pos)
        .map(|x| FpVar::new_witness(cs.clone(), || Ok(x)).unwrap());
    let b0 = Boolean::new_witness(cs.clone(), || Ok(pos & 1 == 1)).unwrap();
    let b1 = Boolean::new_witness(cs.clone(), || Ok(pos & 2 == 2)).unwrap();
    let kids = gadget::children(&n, &sib, &b0, &b1).map(|k| k.value().unwrap());
    assert!(cs.is_satisfied().unwrap());
    kids
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn merkle_gadget_agrees_with_native(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..40),
        pick in any::<u32>(),
        tamper in any::<[u8; 32]>(),
    ) {
        let leaves: Vec<F> = seeds.iter().map(fr_from_seed).collect();
        let mut tree = MerkleTree::new();
        for l in &leaves {
            tree.append(*l).unwrap();
        }
        let index = pick % (leaves.len() as u32);
        let leaf = leaves[index as usize];
        let proof = tree.proof(index).unwrap();

        let native_root = proof.root(leaf);
        prop_assert_eq!(native_root, tree.root());
        prop_assert_eq!(merkle_gadget_root(leaf, &proof), native_root);

        // Another leaf on the same path: both twins move to the same, different root.
        let other = fr_from_seed(&tamper);
        prop_assume!(other != leaf);
        let moved = merkle_gadget_root(other, &proof);
        prop_assert_eq!(moved, proof.root(other));
        prop_assert_ne!(moved, native_root);

        // Each level's children, at the proof's position and at every other one.
        let mut node = leaf;
        for (level, asc) in proof.siblings.iter().enumerate() {
            for pos in 0..4 {
                prop_assert_eq!(children_gadget(node, asc, pos), native::children(node, asc, pos));
            }
            node = native::hash_node(&native::children(node, asc, position(index, level)));
        }
        prop_assert_eq!(node, native_root);
    }

    #[test]
    fn merkle_children_agree_at_every_position(
        node in any::<[u8; 32]>(),
        s0 in any::<[u8; 32]>(),
        s1 in any::<[u8; 32]>(),
        s2 in any::<[u8; 32]>(),
    ) {
        let node = fr_from_seed(&node);
        let asc = [fr_from_seed(&s0), fr_from_seed(&s1), fr_from_seed(&s2)];
        for pos in 0..4 {
            let kids = children_gadget(node, &asc, pos);
            prop_assert_eq!(kids, native::children(node, &asc, pos));
            prop_assert_eq!(kids[pos], node);
        }
    }
}

#[test]
fn merkle_children_places_distinct_values() {
    // Distinct small values make any misplacement visible.
    let (node, asc) = (F::from(9u64), [F::from(1u64), F::from(2u64), F::from(3u64)]);
    let expect = [[9u64, 1, 2, 3], [1, 9, 2, 3], [1, 2, 9, 3], [1, 2, 3, 9]];
    for (pos, e) in expect.iter().enumerate() {
        assert_eq!(
            children_gadget(node, &asc, pos),
            e.map(F::from),
            "position {pos}"
        );
    }
    // The reordering matters: handing the gadget the ascending siblings unreordered misplaces
    // them at positions 2 and 3, so a slip in `circuit_siblings` cannot go unseen.
    for pos in [2usize, 3] {
        let cs = new_cs();
        let n = FpVar::new_witness(cs.clone(), || Ok(node)).unwrap();
        let sib = asc.map(|x| FpVar::new_witness(cs.clone(), || Ok(x)).unwrap());
        let b0 = Boolean::new_witness(cs.clone(), || Ok(pos & 1 == 1)).unwrap();
        let b1 = Boolean::new_witness(cs.clone(), || Ok(pos & 2 == 2)).unwrap();
        let kids = gadget::children(&n, &sib, &b0, &b1).map(|k| k.value().unwrap());
        assert_ne!(
            kids,
            native::children(node, &asc, pos),
            "position {pos} unreordered"
        );
    }
}

#[test]
fn merkle_vectors_reproduced_by_the_gadget() {
    let file = load("merkle4.json");
    let trees = arr(&file["vectors"], "merkle4.vectors");
    assert_eq!(trees.len(), 6, "merkle4.vectors count");
    let mut proofs_checked = 0;
    for (t, tree) in trees.iter().enumerate() {
        let ctx = format!("merkle4.vectors[{t}]");
        let root = fr(&tree["root"], &format!("{ctx}.root"));
        for (j, p) in arr(&tree["proofs"], &format!("{ctx}.proofs"))
            .iter()
            .enumerate()
        {
            let ctx = format!("{ctx}.proofs[{j}]");
            let index = u32::try_from(p["index"].as_u64().unwrap()).unwrap();
            let leaf = fr(&p["leaf"], &format!("{ctx}.leaf"));
            let levels = arr(&p["siblings"], &format!("{ctx}.siblings"));
            assert_eq!(levels.len(), DEPTH, "{ctx}: levels");
            let mut siblings = [[F::from(0u64); 3]; DEPTH];
            for (level, (out, sib)) in siblings.iter_mut().zip(levels).enumerate() {
                let sib = arr(sib, &ctx);
                assert_eq!(sib.len(), 3, "{ctx}: siblings per level");
                for (o, s) in out.iter_mut().zip(sib) {
                    *o = fr(s, &format!("{ctx}.siblings[{level}]"));
                }
                let pos = p["positions"][level].as_u64().unwrap() as usize;
                assert_eq!(pos, position(index, level), "{ctx}: positions[{level}]");
            }
            let proof = InclusionProof { index, siblings };
            assert_eq!(proof.root(leaf), root, "{ctx}: native root");
            assert_eq!(merkle_gadget_root(leaf, &proof), root, "{ctx}: gadget root");

            // And enforced against the root as a public input.
            let cs = new_cs();
            let leaf_v = FpVar::new_witness(cs.clone(), || Ok(leaf)).unwrap();
            let bits: Vec<Boolean> = (0..2 * DEPTH)
                .map(|i| Boolean::new_witness(cs.clone(), || Ok((index >> i) & 1 == 1)).unwrap())
                .collect();
            let sibs: Vec<[FpVar; 3]> = siblings
                .iter()
                .enumerate()
                .map(|(level, asc)| {
                    gadget::circuit_siblings(asc, position(index, level))
                        .map(|x| FpVar::new_witness(cs.clone(), || Ok(x)).unwrap())
                })
                .collect();
            let root_v = FpVar::new_input(cs.clone(), || Ok(root)).unwrap();
            gadget::root(&leaf_v, &bits, &sibs)
                .unwrap()
                .enforce_equal(&root_v)
                .unwrap();
            assert!(
                cs.is_satisfied().unwrap(),
                "{ctx}: enforced root unsatisfied"
            );
            proofs_checked += 1;
        }
    }
    assert_eq!(
        proofs_checked,
        1 + 2 + 3 + 4 + 4 + 5,
        "merkle4 proofs checked"
    );
}

// ---------------------------------------------------------------------------------------------
// Baby Jubjub addition.

#[test]
fn add_vectors_reproduced_by_the_gadget() {
    let file = load("babyjubjub.json");
    let cases = arr(&file["add"], "babyjubjub.add");
    assert_eq!(cases.len(), 23, "babyjubjub.add count");
    let identity = Point::new_unchecked(F::from(0u64), F::from(1u64));
    let (mut with_identity, mut inverse_pairs) = (0, 0);
    for (i, v) in cases.iter().enumerate() {
        let ctx = format!("babyjubjub.add[{i}]");
        let p = point(&v["p"], &format!("{ctx}.p"));
        let q = point(&v["q"], &format!("{ctx}.q"));
        let sum = point(&v["sum"], &format!("{ctx}.sum"));
        if p == identity || q == identity {
            with_identity += 1;
        }
        if p != identity && sum == identity {
            inverse_pairs += 1;
            assert_eq!(q, (-p.into_group()).into_affine(), "{ctx}: q = -p");
        }

        let cs = new_cs();
        let pv = PointVar::new_witness(cs.clone(), Some(p)).unwrap();
        let qv = PointVar::new_witness(cs.clone(), Some(q)).unwrap();
        let out = pv.add(&qv).unwrap();
        assert_eq!(out.value(), Some(sum), "{ctx}: gadget sum");
        // Bind the result to the expected sum as a public input, so the constraints, not only
        // the witness computation, are held to circomlibjs's value.
        let sum_v = PointVar {
            x: FpVar::new_input(cs.clone(), || Ok(sum.x)).unwrap(),
            y: FpVar::new_input(cs.clone(), || Ok(sum.y)).unwrap(),
        };
        out.enforce_equal(&sum_v).unwrap();
        assert!(
            cs.is_satisfied().unwrap(),
            "{ctx}: add constraints unsatisfied"
        );

        // With one operand constant the gadget takes the same constraints.
        let cs = new_cs();
        let pv = PointVar::new_witness(cs.clone(), Some(p)).unwrap();
        let out = pv.add(&PointVar::constant(&q)).unwrap();
        assert_eq!(out.value(), Some(sum), "{ctx}: gadget sum with constant q");
        assert!(
            cs.is_satisfied().unwrap(),
            "{ctx}: add with constant q unsatisfied"
        );
    }
    assert!(
        with_identity >= 2,
        "vectors include the identity as an operand"
    );
    assert!(inverse_pairs >= 2, "vectors include P + (-P)");
}

/// The add constraints hold their ground: with either output coordinate of the gadget's witness
/// changed after synthesis, the system is unsatisfied.
#[test]
fn add_with_tampered_output_is_unsatisfied() {
    let file = load("babyjubjub.json");
    for (i, v) in arr(&file["add"], "babyjubjub.add").iter().enumerate() {
        let ctx = format!("babyjubjub.add[{i}]");
        let p = point(&v["p"], &format!("{ctx}.p"));
        let q = point(&v["q"], &format!("{ctx}.q"));
        for coord in 0..2 {
            let cs = new_cs();
            let pv = PointVar::new_witness(cs.clone(), Some(p)).unwrap();
            let qv = PointVar::new_witness(cs.clone(), Some(q)).unwrap();
            let out = pv.add(&qv).unwrap();
            assert!(cs.is_satisfied().unwrap(), "{ctx}: honest add unsatisfied");
            let target = if coord == 0 { &out.x } else { &out.y };
            let FpVar::Var(allocated) = target else {
                panic!("{ctx}: add output is not a variable")
            };
            let idx = allocated.variable.index().unwrap();
            {
                let mut inner = cs.borrow_mut().unwrap();
                inner.assignments.witness_assignment[idx] += F::from(1u64);
            }
            assert!(
                !cs.is_satisfied().unwrap(),
                "{ctx}: tampered coordinate {coord} satisfied"
            );
        }
    }
}

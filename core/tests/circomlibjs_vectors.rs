//! Known-answer vectors made by circomlibjs 0.1.7 (testdata/vectors, see its README.md) run
//! through letro-core's native Poseidon, Baby Jubjub, EdDSA-Poseidon, BLAKE-512 use and Merkle
//! tree. The vectors come from an implementation nobody on this team wrote, so agreement here
//! is evidence of circomlib compatibility rather than of self-consistency.
//!
//! Every check names the file, the section and the vector index, and the vector counts the
//! README promises are asserted so that an emptied or truncated file fails too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use blake_hash::{Blake512, Digest};
use num_bigint::BigUint;
use serde_json::Value;

use letro_core::babyjubjub::{
    self, base8, is_in_prime_subgroup, is_on_curve, is_small_order, mul_be_bytes, mul_fr, pack,
    point_on_curve, unpack, Fs, Point, PointError,
};
use letro_core::eddsa::{challenge, EddsaError, PrivateKey, PublicKey, Signature};
use letro_core::field::{fr_from_decimal, fr_to_decimal, parse_decimal, FieldError};
use letro_core::merkle::{self, position, InclusionProof, MerkleError, MerkleTree, DEPTH};
use letro_core::Fr;

// ---------------------------------------------------------------------------------------------
// Helpers. A malformed vector file panics with the location of the bad value, never silently.

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

fn flag(v: &Value, ctx: &str) -> bool {
    v.as_bool()
        .unwrap_or_else(|| panic!("{ctx}: expected a JSON bool, got {v}"))
}

/// A canonical decimal field element.
fn fr(v: &Value, ctx: &str) -> Fr {
    let s = text(v, ctx);
    fr_from_decimal(s).unwrap_or_else(|e| panic!("{ctx}: {s:?} is not a field element: {e}"))
}

/// A decimal natural number of any size (scalars may exceed the field modulus).
fn big(v: &Value, ctx: &str) -> BigUint {
    let s = text(v, ctx);
    parse_decimal(s).unwrap_or_else(|e| panic!("{ctx}: {s:?} is not a decimal integer: {e}"))
}

/// `n` as 32 big-endian bytes.
fn be32(n: &BigUint, ctx: &str) -> [u8; 32] {
    let bytes = n.to_bytes_be();
    assert!(bytes.len() <= 32, "{ctx}: {n} does not fit in 32 bytes");
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(&bytes);
    out
}

/// `n` as 32 little-endian bytes.
fn le32(n: &BigUint, ctx: &str) -> [u8; 32] {
    let mut out = be32(n, ctx);
    out.reverse();
    out
}

fn fr_big(x: &Fr) -> BigUint {
    BigUint::from(x.into_bigint())
}

fn fs_big(x: &Fs) -> BigUint {
    BigUint::from(x.into_bigint())
}

fn hex_bytes(v: &Value, ctx: &str) -> Vec<u8> {
    let s = text(v, ctx);
    hex::decode(s).unwrap_or_else(|e| panic!("{ctx}: {s:?} is not hex: {e}"))
}

fn hex32(v: &Value, ctx: &str) -> [u8; 32] {
    let b = hex_bytes(v, ctx);
    b.as_slice()
        .try_into()
        .unwrap_or_else(|_| panic!("{ctx}: expected 32 bytes, got {}", b.len()))
}

/// `[x, y]` as a point, without checking the curve equation (some vectors are off the curve).
fn point(v: &Value, ctx: &str) -> Point {
    let xy = arr(v, ctx);
    assert_eq!(xy.len(), 2, "{ctx}: a point is [x, y]");
    Point::new_unchecked(
        fr(&xy[0], &format!("{ctx}.x")),
        fr(&xy[1], &format!("{ctx}.y")),
    )
}

/// `[x, y]` as a point that must satisfy the curve equation.
fn curve_point(v: &Value, ctx: &str) -> Point {
    let p = point(v, ctx);
    point_on_curve(p.x, p.y).unwrap_or_else(|e| panic!("{ctx}: {e}"))
}

fn show(p: &Point) -> String {
    format!("({}, {})", fr_to_decimal(&p.x), fr_to_decimal(&p.y))
}

fn subgroup_order() -> BigUint {
    BigUint::from(Fs::MODULUS)
}

fn field_modulus() -> BigUint {
    BigUint::from(Fr::MODULUS)
}

// ---------------------------------------------------------------------------------------------
// poseidon.json

#[test]
fn poseidon_outputs_match() {
    let file = load("poseidon.json");
    assert_eq!(
        big(&file["field_modulus"], "poseidon.field_modulus"),
        field_modulus()
    );
    let vectors = arr(&file["vectors"], "poseidon.vectors");
    assert_eq!(
        vectors.len(),
        48,
        "poseidon.json: 8 vectors for each arity 1..=6"
    );
    let mut per_arity = [0usize; 7];
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("poseidon.vectors[{i}]");
        let inputs: Vec<Fr> = arr(&v["inputs"], &ctx)
            .iter()
            .enumerate()
            .map(|(j, x)| fr(x, &format!("{ctx}.inputs[{j}]")))
            .collect();
        let expected = fr(&v["output"], &format!("{ctx}.output"));
        let got = letro_core::poseidon::poseidon(&inputs)
            .unwrap_or_else(|e| panic!("{ctx}: arity {}: {e}", inputs.len()));
        assert_eq!(
            fr_to_decimal(&got),
            fr_to_decimal(&expected),
            "{ctx}: poseidon of {} inputs",
            inputs.len()
        );
        per_arity[inputs.len()] += 1;
    }
    assert_eq!(
        per_arity,
        [0, 8, 8, 8, 8, 8, 8],
        "poseidon.json: vectors per arity"
    );
}

// ---------------------------------------------------------------------------------------------
// babyjubjub.json

#[test]
fn babyjubjub_constants_match() {
    let file = load("babyjubjub.json");
    assert_eq!(
        big(&file["p"], "babyjubjub.p"),
        field_modulus(),
        "babyjubjub.p"
    );
    assert_eq!(
        fr(&file["a"], "babyjubjub.a"),
        babyjubjub::COEFF_A,
        "babyjubjub.a"
    );
    assert_eq!(
        fr(&file["d"], "babyjubjub.d"),
        babyjubjub::COEFF_D,
        "babyjubjub.d"
    );
    let l = big(&file["sub_order"], "babyjubjub.sub_order");
    assert_eq!(
        l,
        subgroup_order(),
        "babyjubjub.sub_order is the order of Fs"
    );
    assert_eq!(
        big(&file["order"], "babyjubjub.order"),
        &l * 8u32,
        "babyjubjub.order is 8 * sub_order"
    );

    let b8 = curve_point(&file["base8"], "babyjubjub.base8");
    assert_eq!(b8, base8(), "babyjubjub.base8 equals base8()");
    assert!(
        is_in_prime_subgroup(&b8),
        "babyjubjub.base8 is in the prime-order subgroup"
    );
    assert!(
        mul_be_bytes(&b8, &l.to_bytes_be()).is_zero(),
        "l * Base8 is the identity"
    );

    // circomlib's Base8 is 8 * Generator; the generator is not in the prime-order subgroup.
    let g = curve_point(&file["generator_point"], "babyjubjub.generator_point");
    assert_eq!(
        mul_be_bytes(&g, &[8]),
        base8(),
        "8 * generator_point equals base8()"
    );
    assert!(
        !is_in_prime_subgroup(&g),
        "generator_point generates the full group"
    );

    // The same Base8 appears in eddsa.json.
    let eddsa = load("eddsa.json");
    assert_eq!(
        curve_point(&eddsa["base8"], "eddsa.base8"),
        base8(),
        "eddsa.base8"
    );
    assert_eq!(
        big(&eddsa["sub_order"], "eddsa.sub_order"),
        l,
        "eddsa.sub_order"
    );
}

#[test]
fn babyjubjub_add_matches() {
    let file = load("babyjubjub.json");
    let vectors = arr(&file["add"], "babyjubjub.add");
    assert_eq!(vectors.len(), 23, "babyjubjub.add count");
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("babyjubjub.add[{i}]");
        let p = curve_point(&v["p"], &format!("{ctx}.p"));
        let q = curve_point(&v["q"], &format!("{ctx}.q"));
        let expected = curve_point(&v["sum"], &format!("{ctx}.sum"));
        let got = (p + q).into_affine();
        assert_eq!(show(&got), show(&expected), "{ctx}: p + q");
        // Addition commutes, and the double-and-add multiplier agrees on doublings.
        assert_eq!((q + p).into_affine(), expected, "{ctx}: q + p");
        if p == q {
            assert_eq!(mul_be_bytes(&p, &[2]), expected, "{ctx}: 2 * p");
        }
    }
}

#[test]
fn babyjubjub_mul_matches() {
    let file = load("babyjubjub.json");
    let vectors = arr(&file["mul"], "babyjubjub.mul");
    assert_eq!(vectors.len(), 58, "babyjubjub.mul count");
    let p = field_modulus();
    let mut via_fr = 0usize;
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("babyjubjub.mul[{i}]");
        let pt = curve_point(&v["point"], &format!("{ctx}.point"));
        let k = big(&v["scalar"], &format!("{ctx}.scalar"));
        let expected = curve_point(&v["result"], &format!("{ctx}.result"));
        let got = mul_be_bytes(&pt, &be32(&k, &ctx));
        assert_eq!(
            show(&got),
            show(&expected),
            "{ctx}: {k} * point (mul_be_bytes)"
        );
        if k < p {
            let k_fr = fr(&v["scalar"], &format!("{ctx}.scalar"));
            assert_eq!(mul_fr(&pt, &k_fr), expected, "{ctx}: {k} * point (mul_fr)");
            via_fr += 1;
        }
    }
    // Only `order - 1` (= 8l - 1) exceeds the field modulus, once per base point.
    assert_eq!(via_fr, 53, "babyjubjub.mul: scalars below p");
}

#[test]
fn babyjubjub_in_curve_matches() {
    let file = load("babyjubjub.json");
    let vectors = arr(&file["in_curve"], "babyjubjub.in_curve");
    assert_eq!(vectors.len(), 18, "babyjubjub.in_curve count");
    let mut valid = 0usize;
    for (i, v) in vectors.iter().enumerate() {
        let why = text(&v["why"], "why");
        let ctx = format!("babyjubjub.in_curve[{i}] ({why})");
        let pt = point(&v["point"], &ctx);
        let expected = flag(&v["valid"], &ctx);
        assert_eq!(is_on_curve(&pt.x, &pt.y), expected, "{ctx}: is_on_curve");
        let parsed = point_on_curve(pt.x, pt.y);
        if expected {
            assert_eq!(parsed, Ok(pt), "{ctx}: point_on_curve");
            valid += 1;
        } else {
            assert_eq!(parsed, Err(PointError::NotOnCurve), "{ctx}: point_on_curve");
        }
    }
    assert_eq!(valid, 9, "babyjubjub.in_curve: points on the curve");
}

#[test]
fn babyjubjub_small_order_points_match() {
    let file = load("babyjubjub.json");
    let points = arr(&file["small_order"], "babyjubjub.small_order");
    let orders = arr(&file["small_order_orders"], "babyjubjub.small_order_orders");
    assert_eq!(points.len(), 8, "babyjubjub.small_order count");
    assert_eq!(orders.len(), 8, "babyjubjub.small_order_orders count");
    let points: Vec<Point> = points
        .iter()
        .enumerate()
        .map(|(k, v)| curve_point(v, &format!("babyjubjub.small_order[{k}]")))
        .collect();
    let t8 = points[1];
    for (k, (pt, order)) in points.iter().zip(orders).enumerate() {
        let ctx = format!("babyjubjub.small_order[{k}]");
        assert!(is_small_order(pt), "{ctx}: is_small_order");
        assert_eq!(
            is_in_prime_subgroup(pt),
            k == 0,
            "{ctx}: only the identity is in the subgroup"
        );
        assert_eq!(
            mul_be_bytes(&t8, &[k as u8]),
            *pt,
            "{ctx}: equals {k} * small_order[1]"
        );
        let order = order
            .as_u64()
            .unwrap_or_else(|| panic!("{ctx}: order is not an integer"));
        let actual = [1u8, 2, 4, 8]
            .into_iter()
            .find(|n| mul_be_bytes(pt, &[*n]).is_zero())
            .unwrap_or_else(|| panic!("{ctx}: 8 * point is not the identity"));
        assert_eq!(u64::from(actual), order, "{ctx}: order");
    }
    assert_eq!(
        points[0],
        Point::zero(),
        "small_order[0] is the identity (0, 1)"
    );
    assert_eq!(
        points[4],
        Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64)),
        "small_order[4]"
    );

    assert!(!is_small_order(&base8()), "base8 is not of small order");
    let g = curve_point(&file["generator_point"], "babyjubjub.generator_point");
    assert!(!is_small_order(&g), "generator_point is not of small order");
    // l * Generator is one of the eight.
    let lg = mul_be_bytes(&g, &subgroup_order().to_bytes_be());
    assert!(
        points.contains(&lg),
        "l * generator_point {} is in small_order",
        show(&lg)
    );
}

#[test]
fn babyjubjub_pack_matches() {
    let file = load("babyjubjub.json");
    let vectors = arr(&file["pack"], "babyjubjub.pack");
    assert_eq!(vectors.len(), 21, "babyjubjub.pack count");
    let mut circomlibjs_fails = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("babyjubjub.pack[{i}]");
        let pt = curve_point(&v["point"], &format!("{ctx}.point"));
        let packed = hex32(&v["packed"], &format!("{ctx}.packed"));
        assert_eq!(
            hex::encode(pack(&pt)),
            hex::encode(packed),
            "{ctx}: pack equals packPoint"
        );
        // Every packed vector is a canonical encoding of a curve point, so the strict decoder
        // round-trips all of them, including the two that circomlibjs cannot unpack.
        assert_eq!(
            unpack(&packed),
            Ok(pt),
            "{ctx}: unpack(packed) round-trips {}",
            show(&pt)
        );
        if !flag(&v["circomlibjs_unpacks"], &ctx) {
            circomlibjs_fails.push(pt);
        }
    }
    // The README: circomlibjs's unpackPoint returns null exactly for the two points with x = 0
    // (its Euler-criterion test fails on x^2 = 0). Those are valid canonical encodings, so
    // accepting them is right for a decoder; rejecting small-order keys is PublicKey's job.
    let x_zero = [
        Point::new_unchecked(Fr::from(0u64), Fr::from(1u64)),
        Point::new_unchecked(Fr::from(0u64), -Fr::from(1u64)),
    ];
    assert_eq!(
        circomlibjs_fails, x_zero,
        "the vectors circomlibjs cannot unpack are x = 0"
    );
    for p in x_zero {
        assert_eq!(
            PublicKey::from_point(p),
            Err(EddsaError::PublicKey(PointError::SmallOrder)),
            "x = 0 point {} as a public key",
            show(&p)
        );
    }
}

#[test]
fn babyjubjub_noncanonical_packings_are_rejected() {
    let file = load("babyjubjub.json");
    let vectors = arr(
        &file["unpack_noncanonical"],
        "babyjubjub.unpack_noncanonical",
    );
    assert_eq!(vectors.len(), 3, "babyjubjub.unpack_noncanonical count");
    let p = field_modulus();
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("babyjubjub.unpack_noncanonical[{i}]");
        assert!(!flag(&v["valid"], &ctx), "{ctx}: tagged valid: false");
        let packed = hex32(&v["packed"], &format!("{ctx}.packed"));
        assert_eq!(
            unpack(&packed),
            Err(PointError::Coordinate(FieldError::NotCanonical)),
            "{ctx}: strict unpack rejects y + p"
        );

        // The vector is what it says: its y field minus p is the canonical encoding of the
        // point circomlibjs returns.
        let circomlibjs = curve_point(&v["circomlibjs_unpacks_to"], &format!("{ctx}.to"));
        let sign = packed[31] & 0x80;
        let mut y_field = packed;
        y_field[31] &= 0x7f;
        let y_plus_p = BigUint::from_bytes_le(&y_field);
        assert!(y_plus_p >= p, "{ctx}: y field {y_plus_p} is not >= p");
        let mut canonical = le32(&(&y_plus_p - &p), &ctx);
        canonical[31] |= sign;
        assert_eq!(
            unpack(&canonical),
            Ok(circomlibjs),
            "{ctx}: the reduced encoding"
        );
        assert_eq!(
            pack(&circomlibjs),
            canonical,
            "{ctx}: pack(circomlibjs_unpacks_to)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// eddsa.json

/// The first 32 bytes of a BLAKE-512 digest, pruned as circomlibjs does, as an integer.
fn pruned_scalar(h: &[u8]) -> BigUint {
    let mut s = [0u8; 32];
    s.copy_from_slice(&h[..32]);
    s[0] &= 0xf8;
    s[31] &= 0x7f;
    s[31] |= 0x40;
    BigUint::from_bytes_le(&s)
}

#[test]
fn eddsa_valid_vectors_match() {
    let file = load("eddsa.json");
    let vectors = arr(&file["vectors"], "eddsa.vectors");
    assert_eq!(vectors.len(), 11, "eddsa.vectors count");
    let l = subgroup_order();
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("eddsa.vectors[{i}]");
        assert!(flag(&v["valid"], &ctx), "{ctx}: tagged valid: true");
        let prv = hex32(&v["private_key"], &format!("{ctx}.private_key"));
        let a = curve_point(&v["public_key"], &format!("{ctx}.public_key"));
        let msg = fr(&v["message"], &format!("{ctx}.message"));
        let r8 = curve_point(&v["r8"], &format!("{ctx}.r8"));
        let s_int = big(&v["s"], &format!("{ctx}.s"));

        // The library API.
        let sk = PrivateKey::from_bytes(prv);
        let pk = sk.public_key();
        assert_eq!(show(pk.point()), show(&a), "{ctx}: public_key()");
        assert_eq!(
            PublicKey::from_point(a),
            Ok(pk),
            "{ctx}: PublicKey::from_point"
        );
        assert_eq!(
            PublicKey::from_coords(a.x, a.y),
            Ok(pk),
            "{ctx}: PublicKey::from_coords"
        );
        assert!(
            is_in_prime_subgroup(&a),
            "{ctx}: public key is in the subgroup"
        );
        let sig = sk.sign(&msg);
        assert_eq!(show(&sig.r8), show(&r8), "{ctx}: sign().r8");
        assert_eq!(fs_big(&sig.s), s_int, "{ctx}: sign().s");
        let parsed = Signature::from_parts(r8.x, r8.y, &be32(&s_int, &ctx));
        assert_eq!(parsed, Ok(sig), "{ctx}: Signature::from_parts");
        assert_eq!(pk.verify(&msg, &sig), Ok(()), "{ctx}: verify");

        // Packed forms: packPoint(A) and packSignature = packPoint(R8) || le32(S).
        assert_eq!(
            hex::encode(pack(&a)),
            text(&v["public_key_packed"], &ctx),
            "{ctx}: public_key_packed"
        );
        let mut packed_sig = pack(&r8).to_vec();
        packed_sig.extend_from_slice(&le32(&s_int, &ctx));
        assert_eq!(
            hex::encode(&packed_sig),
            text(&v["signature_packed"], &ctx),
            "{ctx}: signature_packed"
        );

        // The intermediate values, so that a mismatch above can be located.
        let h = Blake512::digest(&prv);
        assert_eq!(
            hex::encode(h),
            text(&v["blake512_private_key"], &ctx),
            "{ctx}: BLAKE-512(private_key)"
        );
        let s_scalar = pruned_scalar(&h);
        assert_eq!(s_scalar, big(&v["s_scalar"], &ctx), "{ctx}: s_scalar");
        let secret = &s_scalar >> 3u32;
        assert_eq!(
            secret,
            big(&v["secret_scalar"], &ctx),
            "{ctx}: secret_scalar"
        );
        assert_eq!(
            &secret % &l,
            big(&v["secret_scalar_mod_sub_order"], &ctx),
            "{ctx}: secret_scalar_mod_sub_order"
        );
        assert_eq!(
            mul_be_bytes(&base8(), &be32(&secret, &ctx)),
            a,
            "{ctx}: secret * Base8"
        );
        let mut nonce_input = h[32..].to_vec();
        nonce_input.extend_from_slice(&le32(&fr_big(&msg), &ctx));
        assert_eq!(
            hex::encode(&nonce_input),
            text(&v["nonce_input"], &ctx),
            "{ctx}: nonce_input"
        );
        let nonce_hash = Blake512::digest(&nonce_input);
        assert_eq!(
            hex::encode(nonce_hash),
            text(&v["blake512_nonce_input"], &ctx),
            "{ctx}: BLAKE-512(nonce_input)"
        );
        let r = BigUint::from_bytes_le(&nonce_hash) % &l;
        assert_eq!(r, big(&v["r"], &ctx), "{ctx}: r");
        assert_eq!(
            mul_be_bytes(&base8(), &be32(&r, &ctx)),
            r8,
            "{ctx}: r * Base8"
        );
        let hm = challenge(&r8, &a, &msg);
        assert_eq!(fr_to_decimal(&hm), text(&v["hm"], &ctx), "{ctx}: hm");
        assert_eq!(
            (&r + fr_big(&hm) * &s_scalar) % &l,
            s_int,
            "{ctx}: S = r + hm * s mod l"
        );
    }
}

/// Where a vector was rejected.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// `PublicKey::from_coords` failed.
    PublicKey(EddsaError),
    /// `Signature::from_parts` failed.
    Signature(EddsaError),
    /// `PublicKey::verify` failed.
    Verify(EddsaError),
    /// Everything passed.
    Accepted,
}

fn run_vector(v: &Value, ctx: &str) -> Outcome {
    let a = point(&v["public_key"], &format!("{ctx}.public_key"));
    let r8 = point(&v["r8"], &format!("{ctx}.r8"));
    let msg = fr(&v["message"], &format!("{ctx}.message"));
    let s_be = be32(&big(&v["s"], &format!("{ctx}.s")), ctx);
    let pk = match PublicKey::from_coords(a.x, a.y) {
        Ok(pk) => pk,
        Err(e) => return Outcome::PublicKey(e),
    };
    let sig = match Signature::from_parts(r8.x, r8.y, &s_be) {
        Ok(sig) => sig,
        Err(e) => return Outcome::Signature(e),
    };
    match pk.verify(&msg, &sig) {
        Ok(()) => Outcome::Accepted,
        Err(e) => Outcome::Verify(e),
    }
}

#[test]
fn eddsa_invalid_vectors_are_rejected() {
    let file = load("eddsa.json");
    let vectors = arr(&file["invalid_vectors"], "eddsa.invalid_vectors");
    assert_eq!(vectors.len(), 13, "eddsa.invalid_vectors count");
    for (i, v) in vectors.iter().enumerate() {
        let why = text(&v["why"], "why");
        let ctx = format!("eddsa.invalid_vectors[{i}] ({why})");
        assert!(!flag(&v["valid"], &ctx), "{ctx}: tagged valid: false");
        // The step that must reject it, by the case the README lists.
        let expected = if why.starts_with("S + sub_order") || why.starts_with("S + 2*sub_order") {
            Outcome::Signature(EddsaError::SNotReduced)
        } else if why.starts_with("R8 off the curve") {
            Outcome::Signature(EddsaError::R8NotOnCurve)
        } else if why.starts_with("public key off the curve") {
            Outcome::PublicKey(EddsaError::PublicKey(PointError::NotOnCurve))
        } else {
            Outcome::Verify(EddsaError::Invalid)
        };
        assert_eq!(run_vector(v, &ctx), expected, "{ctx}");
    }
}

#[test]
fn eddsa_circomlibjs_quirks_match_core() {
    let file = load("eddsa.json");
    let vectors = arr(&file["circomlibjs_quirks"], "eddsa.circomlibjs_quirks");
    assert_eq!(vectors.len(), 6, "eddsa.circomlibjs_quirks count");
    let (mut small, mut torsion) = (0usize, 0usize);
    for (i, v) in vectors.iter().enumerate() {
        let why = text(&v["why"], "why");
        let ctx = format!("eddsa.circomlibjs_quirks[{i}] ({why})");
        assert!(!flag(&v["valid"], &ctx), "{ctx}: tagged valid: false");
        assert!(
            flag(&v["circomlibjs_verify_poseidon"], &ctx),
            "{ctx}: circomlibjs accepts it"
        );
        let a = curve_point(&v["public_key"], &format!("{ctx}.public_key"));
        let r8 = curve_point(&v["r8"], &format!("{ctx}.r8"));
        let msg = fr(&v["message"], &format!("{ctx}.message"));
        let s = big(&v["s"], &format!("{ctx}.s"));
        assert!(s < subgroup_order(), "{ctx}: S < l");

        // circomlibjs's equation S*Base8 = R8 + (8*hm)*A holds for every quirk vector.
        let hm = challenge(&r8, &a, &msg);
        let a8hm = mul_fr(&mul_be_bytes(&a, &[8]), &hm);
        let rhs = (r8 + a8hm).into_affine();
        assert_eq!(
            mul_be_bytes(&base8(), &be32(&s, &ctx)),
            rhs,
            "{ctx}: circomlibjs equation"
        );

        if is_small_order(&a) {
            // A forgery: core's PublicKey refuses small-order keys.
            small += 1;
            assert_eq!(
                run_vector(v, &ctx),
                Outcome::PublicKey(EddsaError::PublicKey(PointError::SmallOrder)),
                "{ctx}: small-order key"
            );
        } else {
            // A + T for T in the 8-torsion. core documents that a PublicKey only has to be on
            // the curve and not of small order, and that the check is circomlib's
            // EdDSAPoseidonVerifier (cofactored on A): the signature verifies, exactly as in the
            // circuit. A caller that needs A in the subgroup must check is_in_prime_subgroup.
            torsion += 1;
            assert!(
                !is_in_prime_subgroup(&a),
                "{ctx}: key is outside the prime-order subgroup"
            );
            assert_eq!(run_vector(v, &ctx), Outcome::Accepted, "{ctx}: torsion key");
        }
    }
    assert_eq!(
        (small, torsion),
        (4, 2),
        "eddsa.circomlibjs_quirks: small-order, torsion keys"
    );
}

#[test]
fn blake512_digests_match() {
    let file = load("eddsa.json");
    let vectors = arr(&file["blake512"], "eddsa.blake512");
    assert_eq!(vectors.len(), 14, "eddsa.blake512 count");
    for (i, v) in vectors.iter().enumerate() {
        let ctx = format!("eddsa.blake512[{i}]");
        let input = hex_bytes(&v["input"], &format!("{ctx}.input"));
        let digest = Blake512::digest(&input);
        assert_eq!(
            hex::encode(digest),
            text(&v["digest"], &ctx),
            "{ctx}: BLAKE-512 of {} bytes",
            input.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// merkle4.json

#[test]
fn merkle_zeros_match() {
    let file = load("merkle4.json");
    assert_eq!(file["depth"].as_u64(), Some(DEPTH as u64), "merkle4.depth");
    assert_eq!(
        file["arity"].as_u64(),
        Some(merkle::ARITY as u64),
        "merkle4.arity"
    );
    let zeros = arr(&file["zeros"], "merkle4.zeros");
    assert_eq!(zeros.len(), DEPTH + 1, "merkle4.zeros count");
    for (k, (z, ours)) in zeros.iter().zip(merkle::zeros()).enumerate() {
        let ctx = format!("merkle4.zeros[{k}]");
        assert_eq!(fr_to_decimal(ours), fr_to_decimal(&fr(z, &ctx)), "{ctx}");
    }
}

#[test]
fn merkle_trees_and_proofs_match() {
    let file = load("merkle4.json");
    let trees = arr(&file["vectors"], "merkle4.vectors");
    let sizes: Vec<usize> = trees
        .iter()
        .map(|t| arr(&t["leaves"], "leaves").len())
        .collect();
    assert_eq!(sizes, [0, 1, 2, 5, 17, 70], "merkle4.vectors tree sizes");
    let (mut leaf_proofs, mut empty_proofs) = (0usize, 0usize);
    for (t, tree_vector) in trees.iter().enumerate() {
        let ctx = format!("merkle4.vectors[{t}]");
        let leaves: Vec<Fr> = arr(&tree_vector["leaves"], &ctx)
            .iter()
            .enumerate()
            .map(|(j, x)| fr(x, &format!("{ctx}.leaves[{j}]")))
            .collect();
        let root = fr(&tree_vector["root"], &format!("{ctx}.root"));

        let mut tree = MerkleTree::new();
        for (j, leaf) in leaves.iter().enumerate() {
            assert_eq!(tree.append(*leaf), Ok(j as u32), "{ctx}: append leaf {j}");
        }
        assert_eq!(
            fr_to_decimal(&tree.root()),
            fr_to_decimal(&root),
            "{ctx}: root"
        );

        for (k, pv) in arr(&tree_vector["proofs"], &ctx).iter().enumerate() {
            let pctx = format!("{ctx}.proofs[{k}]");
            let index = pv["index"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_else(|| panic!("{pctx}: index is not a u32"));
            let leaf = fr(&pv["leaf"], &format!("{pctx}.leaf"));
            let levels = arr(&pv["siblings"], &pctx);
            assert_eq!(levels.len(), DEPTH, "{pctx}: sibling levels");
            let mut siblings = [[Fr::from(0u64); 3]; DEPTH];
            for (level, (row, out)) in levels.iter().zip(siblings.iter_mut()).enumerate() {
                let row = arr(row, &pctx);
                assert_eq!(row.len(), 3, "{pctx}: level {level} has three siblings");
                for (j, (x, o)) in row.iter().zip(out.iter_mut()).enumerate() {
                    *o = fr(x, &format!("{pctx}.siblings[{level}][{j}]"));
                }
            }
            let positions = arr(&pv["positions"], &pctx);
            assert_eq!(positions.len(), DEPTH, "{pctx}: positions");
            for (level, p) in positions.iter().enumerate() {
                assert_eq!(
                    p.as_u64(),
                    Some(position(index, level) as u64),
                    "{pctx}: position at level {level}"
                );
            }
            let given = InclusionProof { index, siblings };

            if (index as usize) < leaves.len() {
                leaf_proofs += 1;
                assert_eq!(
                    leaf, leaves[index as usize],
                    "{pctx}: leaf is leaves[{index}]"
                );
                let ours = tree
                    .proof(index)
                    .unwrap_or_else(|e| panic!("{pctx}: proof: {e}"));
                assert_eq!(
                    ours, given,
                    "{pctx}: tree.proof({index}) equals the vector's path"
                );
                assert_eq!(ours.verify(leaf, root), Ok(()), "{pctx}: verify");
                assert_eq!(
                    ours.verify(leaf + Fr::from(1u64), root),
                    Err(MerkleError::RootMismatch),
                    "{pctx}: a different leaf does not verify"
                );
            } else {
                // An empty slot: no proof from the tree, but the path of the empty leaf 0
                // still leads to the root.
                empty_proofs += 1;
                assert_eq!(leaf, Fr::from(0u64), "{pctx}: an empty slot holds 0");
                assert_eq!(
                    tree.proof(index),
                    Err(MerkleError::IndexOutOfRange {
                        index: index.into(),
                        size: leaves.len() as u64
                    }),
                    "{pctx}: tree.proof of an empty slot"
                );
                assert_eq!(
                    fr_to_decimal(&given.root(Fr::from(0u64))),
                    fr_to_decimal(&root),
                    "{pctx}: root of the empty slot's path"
                );
                assert_eq!(
                    given.verify(Fr::from(0u64), root),
                    Ok(()),
                    "{pctx}: verify(0)"
                );
            }
        }
    }
    // First/middle/last leaf (deduplicated for tiny trees) plus one empty slot per tree, plus
    // slot 2^32 - 1 in the 70-leaf tree.
    assert_eq!(
        (leaf_proofs, empty_proofs),
        (12, 7),
        "merkle4: proofs of leaves, empty slots"
    );
}

// ---------------------------------------------------------------------------------------------
// statement.json: Letro's own preimages (receipt message, commitment, v1 and v2 leaves).

#[test]
fn statement_preimages_match_circomlibjs() {
    use letro_core::log::{submitted_leaf, submitted_leaf_v1};
    use letro_core::statement::{
        self, example::default_example, example::EXAMPLE_EVENT_SECRET, CiphertextHash,
    };
    let doc = load("statement.json");
    let v = &doc["vectors"];
    let f = |k: &str| fr_from_decimal(text(&v[k], k)).unwrap();
    let e = default_example();
    let h = CiphertextHash::from_hex(text(&v["ciphertext_sha256"], "hash")).unwrap();
    assert_eq!(h, e.statement.ciphertext_hash);
    assert_eq!(h.halves(), (f("h_hi"), f("h_lo")));
    let t: u64 = text(&v["delivered_at"], "t").parse().unwrap();
    assert_eq!(t, e.witness.delivered_at);
    let key = e.witness.receipt_key;
    let a = key.point();
    assert_eq!(
        [fr_to_decimal(&a.x), fr_to_decimal(&a.y)],
        [
            text(&v["receipt_key"][0], "A.x"),
            text(&v["receipt_key"][1], "A.y")
        ]
    );
    let secret = f("event_secret");
    assert_eq!(secret, Fr::from(EXAMPLE_EVENT_SECRET));
    let blinding = f("blinding");
    let m = statement::receipt_message(&h, t);
    assert_eq!(m, f("receipt_message"));
    // circomlibjs's signature on m verifies natively and equals ours (deterministic nonce).
    let r8 = &v["receipt_signature"]["r8"];
    let sig_r8 = (
        fr_from_decimal(text(&r8[0], "R8.x")).unwrap(),
        fr_from_decimal(text(&r8[1], "R8.y")).unwrap(),
    );
    assert_eq!((e.witness.signature.r8.x, e.witness.signature.r8.y), sig_r8);
    key.verify(&m, &e.witness.signature).unwrap();
    assert_eq!(
        statement::recipient_commitment(a, &blinding),
        f("recipient_commitment")
    );
    assert_eq!(
        statement::delivered_leaf_v1(&h, a, t),
        f("delivered_leaf_v1")
    );
    assert_eq!(
        statement::delivered_leaf(&h, a, t, &secret),
        f("delivered_leaf_v2")
    );
    let (sender, routing) = (text(&v["sender"], "sender"), text(&v["routing"], "routing"));
    assert_eq!(
        submitted_leaf_v1(&h, sender, routing),
        f("submitted_leaf_v1")
    );
    assert_eq!(
        submitted_leaf(&h, sender, routing, &secret),
        f("submitted_leaf_v2")
    );
}

// ---------------------------------------------------------------------------------------------
// lifecycle.json: the lifecycle leaves and the refusal message (SPEC §5.11).

#[test]
fn lifecycle_preimages_match_circomlibjs() {
    use letro_core::lifecycle::{self, RejectionReason};
    use letro_core::statement::CiphertextHash;
    let doc = load("lifecycle.json");
    let v = &doc["vectors"];
    let f = |k: &str| fr_from_decimal(text(&v[k], k)).unwrap();
    let n = |k: &str| -> u64 { text(&v[k], k).parse().unwrap() };
    let h = CiphertextHash::from_hex(text(&v["ciphertext_sha256"], "hash")).unwrap();
    let (t, e, retention) = (n("t"), f("event_secret"), n("retention"));
    let sk = PrivateKey::from_bytes([0x2a; 32]);
    let key = sk.public_key();
    let a = key.point();
    assert_eq!(
        [fr_to_decimal(&a.x), fr_to_decimal(&a.y)],
        [
            text(&v["receipt_key"][0], "A.x"),
            text(&v["receipt_key"][1], "A.y")
        ]
    );
    let reason = text(&v["refusal_reason"], "reason");
    let rejection = RejectionReason::from_name(text(&v["rejection_reason"], "rejection")).unwrap();
    assert_eq!(
        lifecycle::rejected_leaf(&h, text(&v["sender"], "sender"), rejection, t, &e),
        f("rejected_leaf")
    );
    assert_eq!(
        lifecycle::available_leaf(&h, text(&v["routing"], "routing"), t, &e),
        f("available_leaf")
    );
    let m = lifecycle::refusal_message(&h, t, Some(reason));
    assert_eq!(m, f("refusal_message"));
    assert_eq!(
        lifecycle::refusal_message(&h, t, None),
        f("refusal_message_without_reason")
    );
    assert_eq!(
        lifecycle::refused_leaf(&h, a, t, Some(reason), &e),
        f("refused_leaf")
    );
    assert_eq!(
        lifecycle::refused_leaf(&h, a, t, None, &e),
        f("refused_leaf_without_reason")
    );
    assert_eq!(
        lifecycle::expired_leaf(&h, retention, t, &e),
        f("expired_leaf")
    );
    // circomlibjs's signature on the refusal verifies as a refusal, equals ours (deterministic
    // nonce), and does not verify without the reason.
    let r8 = &v["refusal_signature"]["r8"];
    let ours = sk.sign(&m);
    assert_eq!(
        [fr_to_decimal(&ours.r8.x), fr_to_decimal(&ours.r8.y)],
        [text(&r8[0], "R8.x"), text(&r8[1], "R8.y")]
    );
    assert_eq!(ours.s.to_string(), text(&v["refusal_signature"]["s"], "S"));
    lifecycle::check_refusal(&h, t, Some(reason), &key, &ours, t, 0).unwrap();
    assert!(lifecycle::check_refusal(&h, t, None, &key, &ours, t, 0).is_err());
}

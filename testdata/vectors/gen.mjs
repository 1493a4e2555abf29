// Known-answer test vectors for Letro, generated with circomlibjs (an
// implementation nobody on the Letro team wrote).
//
//   cd testdata/vectors && npm ci && node gen.mjs
//
// Writes poseidon.json, babyjubjub.json, eddsa.json and merkle4.json next to
// this script. Deterministic: every "random" input is derived from
// sha256("letro-vectors/<label>/<counter>"), never from a RNG, and every
// vector is re-checked against circomlibjs before it is written.
//
// Encoding: field elements and scalars are decimal strings; byte strings are
// lowercase hex; points are [x, y] (twisted Edwards coordinates as circomlib).

import { createHash } from "node:crypto";
import { writeFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import {
    buildPoseidon,
    buildPoseidonReference,
    buildPoseidonOpt,
    buildBabyjub,
    buildEddsa,
} from "circomlibjs";
import { Scalar } from "ffjavascript";

const require = createRequire(import.meta.url);
// The very same module circomlibjs/src/eddsa.js imports (`import createBlakeHash from "blake-hash"`).
const createBlakeHash = require("blake-hash");
// Its pure-JS engine, used to cross-check whichever engine (native prebuild or JS) is loaded.
const createBlakeHashJs = require("blake-hash/js");
function blake512(buf) {
    const d = createBlakeHash("blake512").update(Buffer.from(buf)).digest();
    assert.equal(hex(d), hex(createBlakeHashJs("blake512").update(Buffer.from(buf)).digest()), "blake-hash native vs js");
    return d;
}

const HERE = new URL(".", import.meta.url);
const pkgVersion = (name) =>
    JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, HERE), "utf8")).version;
const CIRCOMLIBJS_VERSION = pkgVersion("circomlibjs");
const GENERATOR = `circomlibjs ${CIRCOMLIBJS_VERSION} (ffjavascript ${pkgVersion("ffjavascript")}, blake-hash ${pkgVersion("blake-hash")}) via gen.mjs`;

// BN254 scalar field (the circuit field; Baby Jubjub's base field).
const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

// ---------------------------------------------------------------- helpers

function sha256(str) {
    return createHash("sha256").update(str, "utf8").digest();
}
function bytesToBigBE(b) {
    return BigInt("0x" + Buffer.from(b).toString("hex"));
}
function bytesToBigLE(b) {
    return bytesToBigBE(Buffer.from(b).reverse());
}
const hex = (b) => Buffer.from(b).toString("hex");
const dec = (x) => x.toString(10);

// Pseudo-random field element: sha256(label/i) read big-endian, reduced mod p.
function rndField(label, i) {
    return bytesToBigBE(sha256(`letro-vectors/${label}/${i}`)) % P;
}
// Pseudo-random 32 bytes.
function rndBytes(label, i) {
    return sha256(`letro-vectors/${label}/${i}`);
}
// Pseudo-random scalar of exactly 253 bits (bit 252 set).
function rnd253(label, i) {
    const v = bytesToBigBE(sha256(`letro-vectors/${label}/${i}`));
    return (v & ((1n << 253n) - 1n)) | (1n << 252n);
}

// Deterministic JSON: 1-space indentation, but arrays whose items are all
// scalars (strings/numbers/booleans), or are all such short arrays (points,
// sibling triples), go on one line.
function isScalar(v) {
    return v === null || ["string", "number", "boolean"].includes(typeof v);
}
function isFlat(v) {
    return Array.isArray(v) && v.every((e) => isScalar(e) || (Array.isArray(e) && e.every(isScalar)));
}
function fmt(v, ind = "") {
    if (isScalar(v)) return JSON.stringify(v);
    if (Array.isArray(v)) {
        if (v.length === 0) return "[]";
        if (isFlat(v) && v.every(isScalar)) return JSON.stringify(v);
        if (isFlat(v)) {
            // one inner array per line
            return "[\n" + v.map((e) => ind + " " + JSON.stringify(e)).join(",\n") + "\n" + ind + "]";
        }
        return "[\n" + v.map((e) => ind + " " + fmt(e, ind + " ")).join(",\n") + "\n" + ind + "]";
    }
    const keys = Object.keys(v);
    if (keys.length === 0) return "{}";
    return (
        "{\n" +
        keys.map((k) => ind + " " + JSON.stringify(k) + ": " + fmt(v[k], ind + " ")).join(",\n") +
        "\n" + ind + "}"
    );
}
function write(name, obj) {
    const text = fmt(obj) + "\n";
    writeFileSync(new URL(name, HERE), text);
    console.log(`wrote ${name} (${text.length} bytes)`);
}

// ---------------------------------------------------------------- setup

const poseidon = await buildPoseidon(); // wasm, what buildEddsa uses too
const poseidonRef = await buildPoseidonReference();
const poseidonOpt = await buildPoseidonOpt();
const babyJub = await buildBabyjub();
const eddsa = await buildEddsa();
const F = babyJub.F; // bn128 Fr, elements are Montgomery-form Uint8Array

assert.equal(Scalar.e(babyJub.p), P);

const toBig = (e) => F.toObject(e);
const pt = (Pt) => [dec(toBig(Pt[0])), dec(toBig(Pt[1]))];
const mkPt = (x, y) => [F.e(x), F.e(y)];
const ptEq = (A, B) => F.eq(A[0], B[0]) && F.eq(A[1], B[1]);
const IDENTITY = mkPt(0n, 1n);
const isIdentity = (A) => ptEq(A, IDENTITY);
const SUB_ORDER = Scalar.e(babyJub.subOrder);
const ORDER = Scalar.e(babyJub.order);

// Poseidon via circomlibjs, cross-checked against its two other implementations.
function H(inputs) {
    const out = poseidon.F.toObject(poseidon(inputs.map((x) => poseidon.F.e(x))));
    const r = poseidonRef.F.toObject(poseidonRef(inputs));
    const o = poseidonOpt.F.toObject(poseidonOpt(inputs));
    assert.equal(out, r, "poseidon wasm vs reference");
    assert.equal(out, o, "poseidon wasm vs opt");
    return out;
}

// ---------------------------------------------------------------- 1. poseidon.json

// Anchors from circomlibjs's own test suite (test/poseidon.js).
assert.equal(H([1n, 2n]), 7853200120776062878684798364095072458815029376092732009249414926327459813530n);

{
    const vectors = [];
    for (let n = 1; n <= 6; n++) {
        const cases = [];
        cases.push(Array(n).fill(0n));
        cases.push(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
        cases.push(Array(n).fill(P - 1n));
        for (let k = 0; k < 5; k++) {
            cases.push(Array.from({ length: n }, (_, i) => rndField(`poseidon/t${n}/case${k}`, i)));
        }
        for (const inputs of cases) {
            vectors.push({ inputs: inputs.map(dec), output: dec(H(inputs)) });
        }
    }
    write("poseidon.json", {
        generator: GENERATOR,
        description:
            "circomlib Poseidon over BN254 (circomlibjs buildPoseidon; cross-checked against buildPoseidonReference and buildPoseidonOpt). output = poseidon(inputs), initial state 0, one output. Arity = inputs.length (t = arity + 1).",
        field_modulus: dec(P),
        vectors,
    });
}

// ---------------------------------------------------------------- 2. babyjubjub.json

// A pseudo-random curve point (not necessarily in the prime-order subgroup):
// y from a seed, x from the curve equation via circomlibjs unpackPoint,
// retrying with the next counter while x^2 is not a square.
function rndCurvePoint(label) {
    for (let i = 0; ; i++) {
        const y = rndField(label, i);
        const buf = new Uint8Array(32);
        F.toRprLE(buf, 0, F.e(y));
        if (buf[31] & 0x80) continue; // y >= 2^255 cannot happen for y < p, but keep the sign bit clean
        if (i % 2 === 1) buf[31] |= 0x80; // vary the sign of x
        const Pt = babyJub.unpackPoint(buf);
        if (Pt) {
            assert(babyJub.inCurve(Pt));
            return Pt;
        }
    }
}
// A pseudo-random point of the prime-order subgroup: 8 * random point (never identity here).
function rndSubgroupPoint(label) {
    const Q = babyJub.mulPointEscalar(rndCurvePoint(label), 8n);
    assert(!isIdentity(Q));
    assert(babyJub.inSubgroup(Q));
    return Q;
}
function negPt(A) {
    return [F.neg(A[0]), A[1]];
}
function orderOfSmall(T) {
    for (const k of [1n, 2n, 4n, 8n]) if (isIdentity(babyJub.mulPointEscalar(T, k))) return Number(k);
    return -1;
}

// Small-order points: sub_order * (random curve point) lies in the 8-torsion.
// Take the first such image that has order exactly 8 (call it T8); the eight
// points of order dividing 8 are k*T8 for k = 0..7 (the torsion is cyclic).
let T8 = null;
for (let i = 0; T8 === null; i++) {
    const T = babyJub.mulPointEscalar(rndCurvePoint(`babyjub/torsion-seed/${i}`), SUB_ORDER);
    if (orderOfSmall(T) === 8) T8 = T;
}
const SMALL = Array.from({ length: 8 }, (_, k) => babyJub.mulPointEscalar(T8, BigInt(k)));
{
    // Sanity: they are all distinct, on the curve, of the expected orders, and
    // the set is closed (also equals sub_order * Generator's multiples).
    const orders = SMALL.map(orderOfSmall);
    assert.deepEqual(orders, [1, 8, 4, 8, 2, 8, 4, 8]);
    for (let a = 0; a < 8; a++) {
        assert(babyJub.inCurve(SMALL[a]));
        for (let b = a + 1; b < 8; b++) assert(!ptEq(SMALL[a], SMALL[b]));
    }
    assert(ptEq(SMALL[4], mkPt(0n, P - 1n)));
    assert(F.isZero(SMALL[2][1]) && F.isZero(SMALL[6][1]));
    const Tg = babyJub.mulPointEscalar(babyJub.Generator, SUB_ORDER); // Generator has full order 8*l
    assert.equal(orderOfSmall(Tg), 8);
    assert(SMALL.some((S) => ptEq(S, Tg)));
}

{
    const B8 = babyJub.Base8;
    const G = babyJub.Generator;
    assert(ptEq(babyJub.mulPointEscalar(G, 8n), B8));
    assert(isIdentity(babyJub.mulPointEscalar(B8, SUB_ORDER)));

    const R1 = rndSubgroupPoint("babyjub/point/1");
    const R2 = rndSubgroupPoint("babyjub/point/2");
    const C1 = rndCurvePoint("babyjub/curvepoint/1"); // generic curve point (has a torsion component)

    // add
    const addPairs = [
        [IDENTITY, IDENTITY],
        [B8, IDENTITY],
        [IDENTITY, B8],
        [B8, B8],
        [B8, negPt(B8)],
        [R1, R1],
        [R1, negPt(R1)],
        [R1, R2],
        [B8, R1],
        [G, B8],
        [C1, R2],
        [C1, C1],
        [R1, SMALL[4]],
        [R1, SMALL[1]],
        [SMALL[1], SMALL[1]],
        [SMALL[2], SMALL[6]],
    ];
    for (let i = 0; i < 6; i++) {
        addPairs.push([rndSubgroupPoint(`babyjub/add/${i}/p`), rndSubgroupPoint(`babyjub/add/${i}/q`)]);
    }
    const add = addPairs.map(([p, q]) => {
        const s = babyJub.addPoint(p, q);
        assert(babyJub.inCurve(s));
        return { p: pt(p), q: pt(q), sum: pt(s) };
    });

    // mul
    const scalars = (label) => [
        0n, 1n, 2n, 3n, 8n, SUB_ORDER - 1n, SUB_ORDER, SUB_ORDER + 1n, ORDER - 1n,
        rnd253(label, 0), rnd253(label, 1),
    ];
    const mul = [];
    const mulPoints = [
        ["base8", B8],
        ["generator", G],
        ["r1", R1],
        ["c1", C1],
        ["t8", SMALL[1]],
    ];
    for (const [name, Pt] of mulPoints) {
        for (const e of scalars(`babyjub/mul/${name}`)) {
            const res = babyJub.mulPointEscalar(Pt, e);
            assert(babyJub.inCurve(res));
            mul.push({ point: pt(Pt), scalar: dec(e), result: pt(res) });
        }
    }
    // Also a few random scalars mod p (up to 254 bits) on Base8.
    for (let i = 0; i < 3; i++) {
        const e = rndField("babyjub/mul/base8-254", i);
        mul.push({ point: pt(B8), scalar: dec(e), result: pt(babyJub.mulPointEscalar(B8, e)) });
    }

    // in_curve
    const in_curve = [];
    const onc = (Pt, valid, why) => {
        assert.equal(babyJub.inCurve(Pt), valid, why);
        in_curve.push({ point: pt(Pt), valid, why });
    };
    onc(IDENTITY, true, "identity (0,1)");
    onc(B8, true, "Base8");
    onc(G, true, "Generator");
    onc(R1, true, "random subgroup point");
    onc(C1, true, "random curve point outside the subgroup");
    onc(SMALL[4], true, "(0,p-1), order 2");
    onc(SMALL[2], true, "order 4");
    onc(SMALL[1], true, "order 8");
    onc(negPt(B8), true, "-Base8");
    onc(mkPt(0n, 0n), false, "(0,0)");
    onc(mkPt(1n, 1n), false, "(1,1)");
    onc(mkPt(1n, 0n), false, "(1,0)");
    onc(mkPt(toBig(B8[0]), (toBig(B8[1]) + 1n) % P), false, "Base8 with y+1");
    onc(mkPt((toBig(B8[0]) + 1n) % P, toBig(B8[1])), false, "Base8 with x+1");
    onc(mkPt(toBig(B8[1]), toBig(B8[0])), false, "Base8 with x and y swapped");
    onc(mkPt(toBig(R1[0]), (toBig(R1[1]) + 1n) % P), false, "random point with y+1");
    onc(mkPt(0n, 2n), false, "(0,2)");
    onc(mkPt(P - 1n, P - 1n), false, "(p-1,p-1)");

    // pack
    const packPts = [IDENTITY, B8, negPt(B8), G, negPt(G), R1, negPt(R1), R2, C1, SMALL[4], SMALL[2], SMALL[6], SMALL[1], SMALL[3]];
    for (let i = 0; i < 6; i++) packPts.push(rndCurvePoint(`babyjub/pack/${i}`));
    const pack = packPts.map((Pt) => {
        const packed = babyJub.packPoint(Pt);
        const back = babyJub.unpackPoint(Uint8Array.from(packed)); // unpackPoint mutates its input
        const unpacks = !!(back && ptEq(back, Pt));
        // circomlibjs unpackPoint fails (returns null) exactly for x = 0, i.e.
        // the identity (0,1) and (0,p-1): it tests x^2 = 0 with Euler's criterion.
        assert.equal(unpacks, !F.isZero(Pt[0]), "pack/unpack roundtrip");
        return { point: pt(Pt), packed: hex(packed), circomlibjs_unpacks: unpacks };
    });

    // Anchors from circomlibjs's own test suite (test/babyjub.js).
    {
        const a1 = mkPt(17777552123799933955779906779655732241715742912184938656739573121738514868268n, 2626589144620713026669568689430873010625803728049924121243784502389097019475n);
        const a2 = mkPt(16540640123574156134436876038791482806971768689494387082833631921987005038935n, 20819045374670962167435360035096875258406992893633759881276124905556507972311n);
        assert.deepEqual(pt(babyJub.addPoint(a1, a2)), ["7916061937171219682591368294088513039687205273691143098332585753343424131937", "14035240266687799601661095864649209771790948434046947201833777492504781204499"]);
        assert.deepEqual(pt(babyJub.mulPointEscalar(a1, 14035240266687799601661095864649209771790948434046947201833777492504781204499n)), ["17070357974431721403481313912716834497662307308519659060910483826664480189605", "4014745322800118607127020275658861516666525056516280575712425373174125159339"]);
        assert.equal(hex(babyJub.packPoint(a1)), "53b81ed5bffe9545b54016234682e7b2f699bd42a5e9eae27ff4051bc698ce85");
        add.push({ p: pt(a1), q: pt(a2), sum: pt(babyJub.addPoint(a1, a2)) });
        pack.push({ point: pt(a1), packed: hex(babyJub.packPoint(a1)), circomlibjs_unpacks: true });
    }

    // unpackPoint quirks: encodings that circomlibjs unpackPoint ACCEPTS but a
    // strict decoder must reject (y not canonical: y + p < 2^255 is read mod p).
    const leBytes = (x) => {
        const b = Buffer.alloc(32);
        for (let i = 0; i < 32; i++) { b[i] = Number(x & 0xffn); x >>= 8n; }
        return b;
    };
    const unpack_noncanonical = [];
    for (const Pt of [B8, R1, negPt(R2)]) {
        const y = toBig(Pt[1]) + P;
        assert(y < 1n << 255n);
        const b = leBytes(y);
        if (toBig(Pt[0]) > (P - 1n) / 2n) b[31] |= 0x80;
        const got = babyJub.unpackPoint(Uint8Array.from(b));
        assert(got && ptEq(got, Pt), "circomlibjs accepts non-canonical y");
        unpack_noncanonical.push({
            packed: hex(b),
            circomlibjs_unpacks_to: pt(got),
            valid: false,
            why: "y field is y + p (non-canonical); circomlibjs reduces it mod p and accepts",
        });
    }

    write("babyjubjub.json", {
        generator: GENERATOR,
        description:
            "Baby Jubjub (circomlibjs buildBabyjub): twisted Edwards a*x^2 + y^2 = 1 + d*x^2*y^2 over the BN254 scalar field p. order = curve order = 8*sub_order; Base8 = 8*Generator generates the subgroup of prime order sub_order. Points are [x, y]; identity is (0,1).",
        p: dec(P),
        a: dec(toBig(babyJub.A)),
        d: dec(toBig(babyJub.D)),
        order: dec(ORDER),
        sub_order: dec(SUB_ORDER),
        generator_point: pt(G),
        base8: pt(B8),
        small_order_note:
            "small_order[k] = k*T8 where T8 = sub_order*Q for the first pseudo-random curve point Q whose image has order exactly 8; small_order_orders gives each point's order. small_order[0] = identity, small_order[4] = (0, p-1).",
        small_order: SMALL.map(pt),
        small_order_orders: SMALL.map(orderOfSmall),
        add,
        mul,
        in_curve,
        pack_note:
            "packed = circomlibjs packPoint: 32 bytes, y little-endian, top bit of the last byte set iff x > (p-1)/2.",
        pack,
        unpack_noncanonical,
    });
}

// ---------------------------------------------------------------- 3. eddsa.json

// Mirror of circomlibjs Eddsa.signPoseidon, step by step.
function pruneBuffer(buff) {
    buff[0] = buff[0] & 0xf8;
    buff[31] = buff[31] & 0x7f;
    buff[31] = buff[31] | 0x40;
    return buff;
}
function eddsaSteps(prv, msg) {
    const digest = blake512(prv); // 64 bytes, BLAKE-512 (SHA-3 finalist, not BLAKE2b)
    const sBuff = pruneBuffer(Buffer.from(digest));
    const s = bytesToBigLE(sBuff.subarray(0, 32));
    const A = babyJub.mulPointEscalar(babyJub.Base8, s >> 3n);
    const msgLE = Buffer.alloc(32);
    F.toRprLE(msgLE, 0, F.e(msg));
    const nonceInput = Buffer.concat([sBuff.subarray(32, 64), msgLE]);
    const rBuff = blake512(nonceInput);
    const rRaw = bytesToBigLE(rBuff);
    const r = rRaw % SUB_ORDER;
    const R8 = babyJub.mulPointEscalar(babyJub.Base8, r);
    const hm = H([toBig(R8[0]), toBig(R8[1]), toBig(A[0]), toBig(A[1]), msg]);
    const S = (r + hm * s) % SUB_ORDER;
    return { digest, s, A, nonceInput, rBuff, r, R8, hm, S };
}
// BLAKE-512 vectors (padding edge cases around the 128-byte block and the
// 111/112-byte padding boundary). The first two are the BLAKE submission's
// own examples (1 zero byte, 144 zero bytes).
const blakeVectors = [];
{
    assert.equal(hex(blake512(Buffer.alloc(1))), "97961587f6d970faba6d2478045de6d1fabd09b61ae50932054d52bc29d31be4ff9102b9f69e2bbdb83be13d4b9c06091e5fa0b48bd081b634058be0ec49beb3");
    assert.equal(hex(blake512(Buffer.alloc(144))), "313717d608e9cf758dcb1eb0f0c3cf9fc150b2d500fb33f51c52afc99d358a2f1374b8a38bba7974e7f6ef79cab16f22ce1e649d6e01ad9589c213045d545dde");
    const inputs = [Buffer.alloc(1), Buffer.alloc(144)];
    for (const n of [0, 1, 32, 64, 111, 112, 127, 128, 129, 255, 256, 300]) {
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i += 32) rndBytes(`blake512/len${n}`, i / 32).copy(b, i);
        inputs.push(b);
    }
    for (const b of inputs) blakeVectors.push({ input: hex(b), digest: hex(blake512(b)) });
}
const verify = (msg, R8, S, A) => eddsa.verifyPoseidon(F.e(msg), { R8, S }, A);

{
    const vectors = [];
    const sigs = [];
    const cases = [];
    const fixedMsgs = [0n, 1n, P - 1n, 2n, (1n << 64n) - 1n];
    for (let i = 0; i < 10; i++) {
        const prv = i === 0 ? Buffer.alloc(32) : rndBytes("eddsa/private-key", i);
        const msg = i < fixedMsgs.length ? fixedMsgs[i] : rndField("eddsa/message", i);
        cases.push([prv, msg]);
    }
    for (const [prv, msg] of cases) {
        const st = eddsaSteps(prv, msg);
        const A = eddsa.prv2pub(prv);
        const sig = eddsa.signPoseidon(prv, F.e(msg));
        // Our mirror must agree with the library exactly.
        assert(ptEq(A, st.A), "prv2pub mirror");
        assert(ptEq(sig.R8, st.R8), "R8 mirror");
        assert.equal(Scalar.e(sig.S), st.S, "S mirror");
        assert(verify(msg, sig.R8, sig.S, A), "verifyPoseidon valid");
        assert(babyJub.inSubgroup(A) && babyJub.inSubgroup(sig.R8));
        const packedSig = eddsa.packSignature(sig);
        const unpacked = eddsa.unpackSignature(Uint8Array.from(packedSig));
        assert(ptEq(unpacked.R8, sig.R8) && Scalar.eq(unpacked.S, sig.S));
        sigs.push({ prv, msg, A, R8: sig.R8, S: Scalar.e(sig.S), st });
        vectors.push({
            private_key: hex(prv),
            public_key: pt(A),
            public_key_packed: hex(babyJub.packPoint(A)),
            message: dec(msg),
            r8: pt(sig.R8),
            s: dec(sig.S),
            signature_packed: hex(packedSig),
            valid: true,
            blake512_private_key: hex(st.digest),
            s_scalar: dec(st.s),
            secret_scalar: dec(st.s >> 3n),
            secret_scalar_mod_sub_order: dec((st.s >> 3n) % SUB_ORDER),
            nonce_input: hex(st.nonceInput),
            blake512_nonce_input: hex(st.rBuff),
            r: dec(st.r),
            hm: dec(st.hm),
        });
    }

    // Anchor from circomlibjs's own test suite (test/eddsa.js, "Sign (using Poseidon)").
    {
        const prv = Buffer.from("0001020304050607080900010203040506070809000102030405060708090001", "hex");
        const msg = bytesToBigLE(Buffer.from("000102030405060708090000", "hex"));
        const st = eddsaSteps(prv, msg);
        const sig = eddsa.signPoseidon(prv, F.e(msg));
        assert.deepEqual(pt(st.A), ["13277427435165878497778222415993513565335242147425444199013288855685581939618", "13622229784656158136036771217484571176836296686641868549125388198837476602820"]);
        assert.deepEqual(pt(sig.R8), ["11384336176656855268977457483345535180380036354188103142384839473266348197733", "15383486972088797283337779941324724402501462225528836549661220478783371668959"]);
        assert.equal(Scalar.e(sig.S), 1672775540645840396591609181675628451599263765380031905495115170613215233181n);
        assert.equal(st.S, Scalar.e(sig.S));
        const packedSig = eddsa.packSignature(sig);
        assert.equal(hex(packedSig), "dfedb4315d3f2eb4de2d3c510d7a987dcab67089c8ace06308827bf5bcbe02a29d043ece562a8f82bfc0adb640c0107a7d3a27c1c7c1a6179a0da73de5c1b203");
        assert(verify(msg, sig.R8, sig.S, st.A));
        vectors.push({
            private_key: hex(prv),
            public_key: pt(st.A),
            public_key_packed: hex(babyJub.packPoint(st.A)),
            message: dec(msg),
            r8: pt(sig.R8),
            s: dec(sig.S),
            signature_packed: hex(packedSig),
            valid: true,
            blake512_private_key: hex(st.digest),
            s_scalar: dec(st.s),
            secret_scalar: dec(st.s >> 3n),
            secret_scalar_mod_sub_order: dec((st.s >> 3n) % SUB_ORDER),
            nonce_input: hex(st.nonceInput),
            blake512_nonce_input: hex(st.rBuff),
            r: dec(st.r),
            hm: dec(st.hm),
            source: "circomlibjs test/eddsa.js 'Sign (using Poseidon)' (message = LE bytes 000102030405060708090000)",
        });
    }

    // Invalid signatures (each checked: verifyPoseidon returns false).
    const invalid = [];
    const bad = (base, fields, why) => {
        const msg = fields.msg ?? base.msg;
        const R8 = fields.R8 ?? base.R8;
        const S = fields.S ?? base.S;
        const A = fields.A ?? base.A;
        assert.equal(verify(msg, R8, S, A), false, why);
        invalid.push({
            public_key: pt(A),
            message: dec(msg),
            r8: pt(R8),
            s: dec(S),
            valid: false,
            why,
        });
    };
    const [g0, g1, g2, g3, g4, g5] = [sigs[3], sigs[4], sigs[5], sigs[6], sigs[7], sigs[8]];
    bad(g0, { msg: (g0.msg + 1n) % P }, "message changed (m+1)");
    bad(g1, { msg: rndField("eddsa/other-message", 0) }, "message replaced by another field element");
    bad(g0, { S: (g0.S + 1n) % SUB_ORDER }, "S changed (S+1 mod sub_order)");
    {
        const S2 = g1.S + SUB_ORDER;
        // The curve equation alone would accept it (Base8 has order sub_order) ...
        const left = babyJub.mulPointEscalar(babyJub.Base8, S2);
        assert(ptEq(left, babyJub.mulPointEscalar(babyJub.Base8, g1.S)));
        // ... so only the explicit S < sub_order check rejects it.
        bad(g1, { S: S2 }, "S + sub_order: satisfies S*Base8 = R8 + 8*hm*A but S >= sub_order must be rejected");
    }
    bad(g2, { S: g2.S + 2n * SUB_ORDER }, "S + 2*sub_order (S >= sub_order, still < p)");
    bad(g2, { R8: babyJub.addPoint(g2.R8, babyJub.Base8) }, "R8 replaced by another curve point (R8 + Base8)");
    bad(g3, { R8: babyJub.Base8 }, "R8 replaced by Base8");
    bad(g3, { A: g4.A }, "public key of another private key");
    bad(g4, { R8: mkPt(toBig(g4.R8[0]), (toBig(g4.R8[1]) + 1n) % P) }, "R8 off the curve (y+1)");
    bad(g5, { A: mkPt(toBig(g5.A[0]), (toBig(g5.A[1]) + 1n) % P) }, "public key off the curve (y+1)");
    bad(g5, { R8: babyJub.addPoint(g5.R8, SMALL[4]) }, "R8 + (0,p-1) (order-2 component): circomlibjs's equation is not cofactored on R8, rejected");
    bad(g5, { R8: negPt(g5.R8) }, "R8 negated");
    bad(g0, { msg: g1.msg, R8: g1.R8, S: g1.S }, "signature of another key/message");

    // circomlibjs quirks: verifyPoseidon checks only that A and R8 are on the
    // curve, not that A is in the subgroup or not of small order, and
    // multiplies only the A-term by 8. These are ACCEPTED by circomlibjs but
    // must be REJECTED by Letro (A must not be of small order / must be in
    // the prime-order subgroup; the circom EdDSAPoseidonVerifier circuit
    // also rejects 8*A = identity).
    const quirks = [];
    const quirk = (msg, R8, S, A, why) => {
        assert.equal(verify(msg, R8, S, A), true, why);
        quirks.push({
            public_key: pt(A),
            message: dec(msg),
            r8: pt(R8),
            s: dec(S),
            valid: false,
            circomlibjs_verify_poseidon: true,
            why,
        });
    };
    {
        const S = rnd253("eddsa/forge", 0) % SUB_ORDER;
        const R8 = babyJub.mulPointEscalar(babyJub.Base8, S);
        for (const k of [0, 4, 2, 1]) {
            quirk(rndField("eddsa/forge-msg", k), R8, S, SMALL[k],
                `public key of small order ${orderOfSmall(SMALL[k])}: 8*hm*A = identity so R8 = S*Base8 'verifies' any message (forgery)`);
        }
        // A signer who knows s can also sign under A' = A + T (T small order):
        // hm' = Poseidon(R8, A', m), S = r + hm'*s, and 8*hm'*A' = 8*hm'*A.
        const signUnder = (g, T) => {
            const Ap = babyJub.addPoint(g.A, T);
            const hmp = H([toBig(g.R8[0]), toBig(g.R8[1]), toBig(Ap[0]), toBig(Ap[1]), g.msg]);
            const S = (g.st.r + hmp * g.st.s) % SUB_ORDER;
            return [Ap, S];
        };
        {
            const [Ap, S] = signUnder(g0, SMALL[1]);
            quirk(g0.msg, g0.R8, S, Ap,
                "signature by the holder of A's key under A' = A + T8 (T8 of order 8; hm computed with A'): 8*A' = 8*A, so a key outside the subgroup is accepted");
        }
        {
            const [Ap, S] = signUnder(g1, SMALL[4]);
            quirk(g1.msg, g1.R8, S, Ap,
                "signature by the holder of A's key under A' = A + (0,p-1) (hm computed with A'): key outside the subgroup accepted");
        }
    }

    write("eddsa.json", {
        generator: GENERATOR,
        description:
            "EdDSA-Poseidon on Baby Jubjub as circomlibjs buildEddsa signPoseidon/verifyPoseidon/prv2pub. See README.md for the derivation of each intermediate. verify: S < sub_order, A and R8 on the curve, S*Base8 == R8 + (8*hm)*A with hm = Poseidon(R8.x, R8.y, A.x, A.y, message).",
        sub_order: dec(SUB_ORDER),
        base8: pt(babyJub.Base8),
        vectors,
        invalid_vectors: invalid,
        circomlibjs_quirks_note:
            "Accepted by circomlibjs verifyPoseidon (circomlibjs_verify_poseidon: true) but invalid for Letro (valid: false): public keys of small order or outside the prime-order subgroup.",
        circomlibjs_quirks: quirks,
        blake512_note:
            "BLAKE-512 (the SHA-3 finalist; 16 rounds, 128-byte blocks; NOT BLAKE2b) as the blake-hash package computes it: createBlakeHash('blake512').",
        blake512: blakeVectors,
    });
}

// ---------------------------------------------------------------- 4. merkle4.json
// Independent quaternary Poseidon Merkle tree (no circomlibjs tree code used;
// only its Poseidon with 4 inputs). Depth 16, empty leaf 0.

{
    const DEPTH = 16;
    const ARITY = 4;
    const zeros = [0n];
    for (let k = 0; k < DEPTH; k++) zeros.push(H([zeros[k], zeros[k], zeros[k], zeros[k]]));

    // Build all non-empty nodes level by level. levels[k] maps index -> value
    // (absent = zeros[k]).
    function build(leaves) {
        const levels = [new Map(leaves.map((v, i) => [i, v]))];
        for (let k = 0; k < DEPTH; k++) {
            const cur = levels[k];
            const parents = new Set([...cur.keys()].map((i) => Math.floor(i / ARITY)));
            const next = new Map();
            for (const pi of [...parents].sort((a, b) => a - b)) {
                const kids = [0, 1, 2, 3].map((j) => cur.get(pi * ARITY + j) ?? zeros[k]);
                next.set(pi, H(kids));
            }
            levels.push(next);
        }
        const root = levels[DEPTH].get(0) ?? zeros[DEPTH];
        return { levels, root };
    }
    function prove(levels, index) {
        const siblings = [];
        const positions = [];
        let idx = index;
        for (let k = 0; k < DEPTH; k++) {
            const pos = idx % ARITY;
            const base = idx - pos;
            const sib = [];
            for (let j = 0; j < ARITY; j++) if (j !== pos) sib.push(levels[k].get(base + j) ?? zeros[k]);
            siblings.push(sib);
            positions.push(pos);
            idx = Math.floor(idx / ARITY);
        }
        return { siblings, positions };
    }
    function rootFromProof(leaf, index, siblings, positions) {
        let h = leaf;
        for (let k = 0; k < DEPTH; k++) {
            const pos = Math.floor(index / 4 ** k) % 4;
            assert.equal(pos, positions[k]);
            const kids = [...siblings[k]];
            kids.splice(pos, 0, h);
            h = H(kids);
        }
        return h;
    }

    const vectors = [];
    for (const n of [0, 1, 2, 5, 17, 70]) {
        const leaves = Array.from({ length: n }, (_, i) => rndField(`merkle4/n${n}/leaf`, i));
        const { levels, root } = build(leaves);
        if (n === 0) assert.equal(root, zeros[DEPTH]);
        // Indices: first, middle, last leaf, plus the first empty slot (leaf 0).
        const idxs = n === 0 ? [0] : [...new Set([0, Math.floor((n - 1) / 2), n - 1, n])];
        if (n === 70) idxs.push(4 ** DEPTH - 1); // last slot of the tree (empty)
        const proofs = idxs.map((index) => {
            const leaf = index < n ? leaves[index] : 0n;
            const { siblings, positions } = prove(levels, index);
            assert.equal(rootFromProof(leaf, index, siblings, positions), root, "proof recomputes root");
            return {
                index,
                leaf: dec(leaf),
                siblings: siblings.map((s) => s.map(dec)),
                positions,
            };
        });
        vectors.push({ leaves: leaves.map(dec), root: dec(root), proofs });
    }

    write("merkle4.json", {
        generator: GENERATOR,
        description:
            "Quaternary Poseidon Merkle tree, depth 16 (4^16 = 2^32 leaves), empty leaf 0, leaves at indices 0..n-1 and 0 elsewhere, node = Poseidon([c0,c1,c2,c3]) (circomlibjs, 4 inputs). zeros[k] = root of an empty subtree of height k. Proofs: level k = 0 is next to the leaves; positions[k] = (index >> 2k) & 3; siblings[k] = the three other children at that level in ascending position order. A proof with leaf 0 and index >= n is for an empty slot.",
        depth: DEPTH,
        arity: ARITY,
        zeros: zeros.map(dec),
        vectors,
    });
}

// ---------------------------------------------------------------- statement.json
// Letro's own Poseidon preimages (SPEC §3, §4.3, §5.6) for the worked example of SPEC §4.6,
// computed here from the raw values so that letro-core's statement and log functions are
// checked against circomlibjs, not against themselves: the receipt message m and its
// EdDSA-Poseidon signature, the recipient commitment C, the v1 and v2 delivered leaves and the
// v1 and v2 submitted leaves.
{
    const tag = (name) => bytesToBigBE(Buffer.from(name, "ascii"));
    const h = createHash("sha256").update(Buffer.from("example ciphertext", "ascii")).digest();
    const hHi = bytesToBigBE(h.subarray(0, 16));
    const hLo = bytesToBigBE(h.subarray(16, 32));
    const t = 1764201600n; // 2025-11-27T00:00:00Z
    const blinding = 987654321n;
    const eventSecret = 1122334455n; // statement::example::EXAMPLE_EVENT_SECRET
    const prv = Buffer.alloc(32, 0x2a);
    const A = eddsa.prv2pub(prv);
    const [ax, ay] = [toBig(A[0]), toBig(A[1])];
    const m = H([tag("letro/receipt/v1"), hHi, hLo, t]);
    const sig = eddsa.signPoseidon(prv, F.e(m));
    assert(eddsa.verifyPoseidon(F.e(m), sig, A), "receipt signature verifies");
    // id(s): the first 31 bytes of SHA-256(s), big-endian.
    const id = (s) => bytesToBigBE(createHash("sha256").update(s, "utf8").digest().subarray(0, 31));
    const [sender, routing] = ["bank-of-example", "bob"];
    const vectors = {
        ciphertext_sha256: hex(h),
        h_hi: dec(hHi),
        h_lo: dec(hLo),
        delivered_at: dec(t),
        receipt_key: pt(A),
        blinding: dec(blinding),
        event_secret: dec(eventSecret),
        sender,
        routing,
        receipt_message: dec(m),
        receipt_signature: { r8: pt(sig.R8), s: dec(sig.S) },
        recipient_commitment: dec(H([tag("letro/recipient/v1"), ax, ay, blinding])),
        delivered_leaf_v1: dec(H([tag("letro/delivered/v1"), hHi, hLo, ax, ay, t])),
        delivered_leaf_v2: dec(H([tag("letro/delivered/v2"), hHi, hLo, ax, ay, t, eventSecret])),
        submitted_leaf_v1: dec(H([tag("letro/submitted/v1"), hHi, hLo, id(sender), id(routing)])),
        submitted_leaf_v2: dec(
            H([tag("letro/submitted/v2"), hHi, hLo, id(sender), id(routing), eventSecret]),
        ),
    };
    write("statement.json", {
        generator: GENERATOR,
        description:
            "Letro's Poseidon preimages for the worked example of SPEC 4.6 (receipt secret 0x2a*32), computed with circomlibjs from the raw values: tags are ASCII names read big-endian; m = P(tag_receipt, H_hi, H_lo, t); C = P(tag_recipient, A.x, A.y, r); delivered v1 = P(tag_delivered_v1, H_hi, H_lo, A.x, A.y, t); delivered v2 = P(tag_delivered_v2, H_hi, H_lo, A.x, A.y, t, e); submitted v1 = P(tag_submitted_v1, H_hi, H_lo, id(sender), id(routing)); submitted v2 = the same with e appended; id(s) = first 31 bytes of SHA-256(s) big-endian. receipt_signature = circomlibjs signPoseidon(0x2a*32, m).",
        vectors,
    });
}

// ---------------------------------------------------------------- lifecycle.json
// The lifecycle leaves of SPEC 5.11 and the refusal message, for the worked example's H, key
// and event secret, computed here from the raw values: rejected, made-available, refused (with
// and without a reason) and expired leaves, and circomlibjs's signature on the refusal message.
{
    const tag = (name) => bytesToBigBE(Buffer.from(name, "ascii"));
    const id = (s) => bytesToBigBE(createHash("sha256").update(s, "utf8").digest().subarray(0, 31));
    const h = createHash("sha256").update(Buffer.from("example ciphertext", "ascii")).digest();
    const hHi = bytesToBigBE(h.subarray(0, 16));
    const hLo = bytesToBigBE(h.subarray(16, 32));
    const t = 1764201600n;
    const e = 1122334455n;
    const prv = Buffer.alloc(32, 0x2a);
    const A = eddsa.prv2pub(prv);
    const [ax, ay] = [toBig(A[0]), toBig(A[1])];
    const [sender, routing, rejection, reason, retention] =
        ["bank-of-example", "bob", "unknown-recipient", "not addressed to me", 1209600n];
    const refusalWith = H([tag("letro/refusal/v1"), hHi, hLo, t, id(reason)]);
    const refusalWithout = H([tag("letro/refusal/v1"), hHi, hLo, t, 0n]);
    const sig = eddsa.signPoseidon(prv, F.e(refusalWith));
    assert(eddsa.verifyPoseidon(F.e(refusalWith), sig, A), "refusal signature verifies");
    assert(!eddsa.verifyPoseidon(F.e(refusalWithout), sig, A), "refusal bound to its reason");
    write("lifecycle.json", {
        generator: GENERATOR,
        description:
            "Letro's lifecycle leaves (SPEC 5.11) for the worked example's H, receipt key (secret 0x2a*32), t and e, computed with circomlibjs from the raw values: rejected = P(tag_rejected, H_hi, H_lo, id(sender), id(reason), t, e); available = P(tag_available, H_hi, H_lo, id(routing), t, e); refusal message = P(tag_refusal, H_hi, H_lo, t, d) with d = id(reason) or 0; refused = P(tag_refused, H_hi, H_lo, A.x, A.y, t, d, e); expired = P(tag_expired, H_hi, H_lo, retention, t, e). refusal_signature = circomlibjs signPoseidon(0x2a*32, refusal message with the reason).",
        vectors: {
            ciphertext_sha256: hex(h),
            t: dec(t),
            event_secret: dec(e),
            receipt_key: pt(A),
            sender,
            routing,
            rejection_reason: rejection,
            refusal_reason: reason,
            retention: dec(retention),
            rejected_leaf: dec(H([tag("letro/rejected/v1"), hHi, hLo, id(sender), id(rejection), t, e])),
            available_leaf: dec(H([tag("letro/available/v1"), hHi, hLo, id(routing), t, e])),
            refusal_message: dec(refusalWith),
            refusal_message_without_reason: dec(refusalWithout),
            refusal_signature: { r8: pt(sig.R8), s: dec(sig.S) },
            refused_leaf: dec(H([tag("letro/refused/v1"), hHi, hLo, ax, ay, t, id(reason), e])),
            refused_leaf_without_reason: dec(H([tag("letro/refused/v1"), hHi, hLo, ax, ay, t, 0n, e])),
            expired_leaf: dec(H([tag("letro/expired/v1"), hHi, hLo, retention, t, e])),
        },
    });
}

console.log("ok");

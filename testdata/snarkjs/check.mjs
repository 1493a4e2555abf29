// Checks a `letro-verify export-snarkjs` directory with snarkjs (the pinned npm package):
//
//   node check.mjs DIR
//
// Exit 0 and "OK" when all of these hold, 1 with a reason otherwise:
//   1. the files have snarkjs's Groth16 shape (protocol, curve, nPublic = IC.length - 1 =
//      public.json length);
//   2. vk_alphabeta_12 equals e(vk_alpha_1, vk_beta_2) computed by snarkjs's own pairing
//      (`groth16 verify` does not read it; this checks Letro writes it in snarkjs's layout);
//   3. snarkjs.groth16.verify accepts the proof (the same call as `snarkjs groth16 verify`).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as snarkjs from "snarkjs";

// Decimal strings <-> BigInt, deeply (what ffjavascript's (un)stringifyBigInts do).
const toBig = (x) => (Array.isArray(x) ? x.map(toBig) : BigInt(x));
const toDec = (x) => (Array.isArray(x) ? x.map(toDec) : x.toString());

const dir = process.argv[2];
if (!dir || process.argv.length !== 3) {
  console.error("usage: node check.mjs DIR");
  process.exit(2);
}
const read = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));
const vk = read("verification_key.json");
const pub = read("public.json");
const proof = read("proof.json");

function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exitCode = 1;
}

try {
  if (vk.protocol !== "groth16" || proof.protocol !== "groth16") fail("protocol is not groth16");
  else if (vk.curve !== "bn128" || proof.curve !== "bn128") fail("curve is not bn128");
  else if (!Array.isArray(vk.IC) || vk.nPublic !== vk.IC.length - 1) fail("nPublic is not IC.length - 1");
  else if (!Array.isArray(pub) || pub.length !== vk.nPublic) fail("public.json does not have nPublic entries");
  else {
    const curve = await snarkjs.curves.getCurveFromName("bn128");
    const ab = curve.Gt.toObject(
      await curve.pairing(curve.G1.fromObject(toBig(vk.vk_alpha_1)), curve.G2.fromObject(toBig(vk.vk_beta_2))),
    );
    const expected = JSON.stringify(toDec(ab));
    if (JSON.stringify(vk.vk_alphabeta_12) !== expected) {
      fail(`vk_alphabeta_12 is not e(alpha, beta); snarkjs computes ${expected}`);
    } else if (!(await snarkjs.groth16.verify(vk, pub, proof))) {
      fail("snarkjs groth16 verify rejected the proof");
    } else {
      console.log("OK");
    }
  }
} finally {
  // ffjavascript shares one bn128 instance, with worker threads that keep node alive.
  if (globalThis.curve_bn128) await globalThis.curve_bn128.terminate();
}

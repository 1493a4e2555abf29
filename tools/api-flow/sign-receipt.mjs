// A delivery receipt signed by circomlibjs, an implementation nobody on the Letro team wrote:
// the members of `POST /v1/receipts` (or `POST /v1/mailbox/{H}/receipt`) but `ciphertext_sha256`.
//
//   cd tools/api-flow && npm ci
//   node sign-receipt.mjs PRIVATE_KEY_HEX H_HEX T
//   node sign-receipt.mjs PRIVATE_KEY_HEX          (only {"receipt_key": {"x", "y"}}, to certify it)
//
// PRIVATE_KEY_HEX: the receipt key's 32-byte private key, 64 hex digits (circomlib's EdDSA
// private key: A = (BLAKE-512 pruned >> 3) * Base8). H_HEX: the SHA-256 of the envelope, 64
// lowercase hex digits. T: the delivery time, Unix seconds. Prints one JSON object:
//   {"delivered_at": "YYYY-MM-DDTHH:MM:SSZ", "receipt_key": {"x", "y"},
//    "signature": {"r8": {"x", "y"}, "s"}}          (field elements as decimal strings)
//
// The signed message (SPEC §5.6, service/API.md "Events"): m = Poseidon(tag_receipt, H_hi,
// H_lo, t), with tag_receipt the ASCII bytes "letro/receipt/v1" read big-endian, H_hi = H[0..16]
// and H_lo = H[16..32], each read big-endian. Exit codes: 0 printed; 2 usage error.

import { buildEddsa } from "circomlibjs";

function usage(why) {
    process.stderr.write(`error: ${why}\nhint: node sign-receipt.mjs PRIVATE_KEY_HEX [H_HEX T]\n`);
    process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 1 && args.length !== 3) usage("expected one or three arguments");
const [keyHex, hHex, tText] = args;
if (!/^[0-9a-fA-F]{64}$/.test(keyHex)) usage("the private key must be 64 hex digits");
if (args.length === 3) {
    if (!/^[0-9a-f]{64}$/.test(hHex)) usage("H must be 64 lowercase hex digits");
    if (!/^(0|[1-9][0-9]{0,11})$/.test(tText)) usage("t must be Unix seconds, a decimal integer");
}

const be = (bytes) => BigInt("0x" + Buffer.from(bytes).toString("hex"));
const TAG_RECEIPT = be(Buffer.from("letro/receipt/v1", "ascii")); // 144083407353417677907750041682678085169
const eddsa = await buildEddsa();
const F = eddsa.F;
const prv = Buffer.from(keyHex, "hex");
const A = eddsa.prv2pub(prv);
const dec = (e) => F.toObject(e).toString(10);
const point = (p) => ({ x: dec(p[0]), y: dec(p[1]) });
if (args.length === 1) {
    process.stdout.write(JSON.stringify({ receipt_key: point(A) }) + "\n");
    process.exit(0);
}

const h = Buffer.from(hHex, "hex");
const t = BigInt(tText);
const m = eddsa.poseidon([TAG_RECEIPT, be(h.subarray(0, 16)), be(h.subarray(16, 32)), t]);
const sig = eddsa.signPoseidon(prv, m);
if (!eddsa.verifyPoseidon(m, sig, A)) throw new Error("circomlibjs rejects its own signature");

const deliveredAt = new Date(Number(t) * 1000).toISOString().replace(/\.000Z$/, "Z");
process.stdout.write(
    JSON.stringify({
        delivered_at: deliveredAt,
        receipt_key: point(A),
        signature: { r8: point(sig.R8), s: sig.S.toString(10) },
    }) + "\n",
);

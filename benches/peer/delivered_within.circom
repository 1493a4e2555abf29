// delivered-within/v2 written with circom and circomlib: the peer baseline of the prover
// benchmarks (benches/peer/run.sh). It states what circuits/src/circuit.rs states, with
// circomlib's gadgets in place of ours; run.sh checks that its public signals equal those of the
// bundle `letro prove` makes from the same record. It is not used to make or check evidence.
pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/babyjub.circom";
include "circomlib/circuits/eddsaposeidon.circom";

// Domain tags (letro_core::tags::tag): the tag's ASCII as a big-endian integer.
function TAG_RECIPIENT() { return 9442650184313580939362381021108897131230769; } // letro/recipient/v1
function TAG_RECEIPT() { return 144083407353417677907750041682678085169; } // letro/receipt/v1
function TAG_DELIVERED() { return 9442650184313576606614745251857680839964210; } // letro/delivered/v2

template Range(n) {
    signal input in;
    component bits = Num2Bits(n);
    bits.in <== in;
}

// One level of the quaternary tree (circuits/src/merkle.rs): the node and its three siblings,
// in the order [same pair, other pair first, other pair second], placed by the level's two
// index bits, then hashed.
template Level() {
    signal input node;
    signal input sib[3];
    signal input b0;
    signal input b1;
    signal output parent;
    b0 * (b0 - 1) === 0;
    b1 * (b1 - 1) === 0;
    signal pair0 <== node + b0 * (sib[0] - node);
    signal pair1 <== node + sib[0] - pair0;
    signal c0 <== pair0 + b1 * (sib[1] - pair0);
    signal c2 <== pair0 + sib[1] - c0;
    signal c1 <== pair1 + b1 * (sib[2] - pair1);
    signal c3 <== pair1 + sib[2] - c1;
    parent <== Poseidon(4)([c0, c1, c2, c3]);
}

template DeliveredWithin(DEPTH) {
    // Public, in the statement's order.
    signal input h_hi;
    signal input h_lo;
    signal input not_before;
    signal input not_after;
    signal input commitment;
    signal input root;
    // Private.
    signal input t;
    signal input ax;
    signal input ay;
    signal input blinding;
    signal input r8x;
    signal input r8y;
    signal input s;
    signal input event_secret;
    signal input index_bits[2 * DEPTH];
    signal input siblings[DEPTH][3];

    // Ranges, and not_before <= t <= not_after.
    Range(128)(h_hi);
    Range(128)(h_lo);
    Range(64)(not_before);
    Range(64)(not_after);
    Range(64)(t - not_before);
    Range(64)(not_after - t);

    // The recipient commitment.
    signal c <== Poseidon(4)([TAG_RECIPIENT(), ax, ay, blinding]);
    commitment === c;

    // The receipt signature, with A and R8 on the curve.
    BabyCheck()(ax, ay);
    BabyCheck()(r8x, r8y);
    signal m <== Poseidon(4)([TAG_RECEIPT(), h_hi, h_lo, t]);
    EdDSAPoseidonVerifier()(1, ax, ay, s, r8x, r8y, m);

    // The delivered leaf and its path to the checkpoint's root.
    signal node[DEPTH + 1];
    node[0] <== Poseidon(7)([TAG_DELIVERED(), h_hi, h_lo, ax, ay, t, event_secret]);
    for (var l = 0; l < DEPTH; l++) {
        node[l + 1] <== Level()(node[l], siblings[l], index_bits[2 * l], index_bits[2 * l + 1]);
    }
    root === node[DEPTH];
}

component main {public [h_hi, h_lo, not_before, not_after, commitment, root]} = DeliveredWithin(16);

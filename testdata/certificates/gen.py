"""Generate testdata/certificates/vectors.json: XEdDSA receipt-key certificates.

Signatures are made by the `xeddsa` package (PyPI, by Syndace; bindings to libxeddsa, which
is built on libsodium / ref10), not by Letro code. See README.md beside this file.

Run from the repository root or from this folder:

    python3 -m venv /tmp/xeddsa-venv
    /tmp/xeddsa-venv/bin/pip install -r testdata/certificates/requirements.txt
    /tmp/xeddsa-venv/bin/python testdata/certificates/gen.py

The output is deterministic: every key and nonce is derived from a fixed label.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import xeddsa
import xeddsa.version
from xeddsa.bindings import lib

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "vectors.json"
# Receipt keys: Baby Jubjub public keys computed by circomlibjs (testdata/vectors/eddsa.json).
EDDSA_VECTORS = HERE.parent / "vectors" / "eddsa.json"

CONTEXT = b"letro/receipt-key-certificate/v1"
IDENTITY_KEY_TYPE = 0x05

P25519 = 2**255 - 19
L25519 = 2**252 + 27742317777372353535851937790883648493
MONT_A = 486662
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def h(b: bytes) -> str:
    return b.hex()


def derive(label: str, n: int) -> bytes:
    """`n` bytes from SHA-512("letro-certificates/<label>"), the fixed source of test secrets."""
    out = hashlib.sha512(f"letro-certificates/{label}".encode()).digest()
    assert n <= len(out)
    return out[:n]


def clamp(k: bytes) -> bytes:
    """X25519 clamping, as libsignal applies it to every private key it makes or loads."""
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return bytes(b)


def pack_babyjubjub(x: int, y: int) -> bytes:
    """circomlib's packPoint: y little-endian, bit 255 set iff x > (p-1)/2."""
    out = bytearray(y.to_bytes(32, "little"))
    if x > (BN254_R - 1) // 2:
        out[31] |= 0x80
    return bytes(out)


def certificate_message(point: list[str]) -> bytes:
    return CONTEXT + pack_babyjubjub(int(point[0]), int(point[1]))


def u_is_on_curve(u: int) -> bool:
    """Whether u (< p) is the u-coordinate of a point of Curve25519 (not of its twist)."""
    rhs = (u * u * u + MONT_A * u * u + u) % P25519
    return rhs == 0 or pow(rhs, (P25519 - 1) // 2, P25519) == 1


class Identity:
    """A Signal-style identity key pair: a clamped X25519 private key and its public u."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.priv = clamp(derive(f"identity/{label}", 32))
        self.u = xeddsa.priv_to_curve25519_pub(self.priv)
        # The Ed25519 public key of the same scalar (no sign forcing): its sign bit is the one
        # libsignal's calculate_signature carries in the top bit of the signature.
        self.ed_pub = xeddsa.priv_to_ed25519_pub(self.priv)
        self.sign_bit = self.ed_pub[31] >> 7
        assert xeddsa.curve25519_pub_to_ed25519_pub(self.u, bool(self.sign_bit)) == self.ed_pub

    @property
    def identity_key(self) -> bytes:
        return bytes([IDENTITY_KEY_TYPE]) + self.u

    def sign(self, message: bytes, nonce: bytes) -> bytes:
        """libsignal's calculate_signature: XEdDSA with the clamped private key as is (no sign
        forcing), the 64-byte nonce as Z, and the Ed25519 key's sign bit put into bit 7 of the
        last byte (which is always 0 in s < l)."""
        sig = bytearray(xeddsa.ed25519_priv_sign(self.priv, message, nonce))
        assert sig[63] & 0x80 == 0
        # Independent check by libsodium's crypto_sign_verify_detached.
        assert xeddsa.ed25519_verify(bytes(sig), self.ed_pub, message)
        sig[63] |= self.sign_bit << 7
        return bytes(sig)


def sodium_accepts(identity_key: bytes, message: bytes, sig: bytes) -> bool:
    """libsodium's verdict on the XEdDSA signature, via libxeddsa's u -> Ed25519 conversion.
    Only meaningful for canonical u not equal to -1."""
    u = identity_key[1:]
    ed = xeddsa.curve25519_pub_to_ed25519_pub(u, bool(sig[63] >> 7))
    clean = bytearray(sig)
    clean[63] &= 0x7F
    return xeddsa.ed25519_verify(bytes(clean), ed, message)


def main() -> None:
    eddsa = json.loads(EDDSA_VECTORS.read_text())
    receipt_keys = []
    for v in eddsa["vectors"][:4]:
        pk = v["public_key"]
        # Our packing agrees with circomlibjs's packPoint.
        assert h(pack_babyjubjub(int(pk[0]), int(pk[1]))) == v["public_key_packed"]
        receipt_keys.append(pk)

    # Identities with both values of the sign bit among the valid signatures.
    identities = [Identity(f"alice-{i}") for i in range(8)]
    assert {i.sign_bit for i in identities} == {0, 1}
    alice = next(i for i in identities if i.sign_bit == 0)
    bob = next(i for i in identities if i.sign_bit == 1)
    carol = next(i for i in identities if i not in (alice, bob))

    vectors: list[dict] = []

    def add(name: str, comment: str, source: str, identity_key: bytes, receipt_key, sig: bytes,
            error: str | None, libsignal_accepts: bool, signer: dict | None = None) -> None:
        msg = certificate_message(receipt_key)
        vectors.append({
            "name": name,
            "comment": comment,
            "source": source,
            "identity_key": h(identity_key),
            "receipt_key": receipt_key,
            "message": h(msg),
            "signature": h(sig),
            "valid": error is None,
            "error": error,
            "libsignal_accepts": libsignal_accepts,
            "signer": signer,
        })

    def signed(ident: Identity, receipt_key, n: int):
        nonce = derive(f"nonce/{ident.label}/{n}", 64)
        sig = ident.sign(certificate_message(receipt_key), nonce)
        return sig, {"private_key": h(ident.priv), "nonce": h(nonce)}

    # --- valid ---
    valid = []
    for n, (ident, rk) in enumerate([(alice, receipt_keys[0]), (bob, receipt_keys[1]),
                                     (carol, receipt_keys[2]), (alice, receipt_keys[3])]):
        sig, signer = signed(ident, rk, n)
        add(f"valid-{n}", f"sign bit {ident.sign_bit}", "xeddsa", ident.identity_key, rk, sig,
            None, True, signer)
        valid.append((ident, rk, sig, signer))

    ident, rk, sig, signer = valid[1]  # bob: sign bit 1
    assert sig[63] & 0x80

    # --- invalid: the signature does not verify ---
    def flip(b: bytes, i: int, mask: int) -> bytes:
        out = bytearray(b)
        out[i] ^= mask
        return bytes(out)

    add("flipped-bit-r", "bit 0 of R flipped", "xeddsa, then edited", ident.identity_key, rk,
        flip(sig, 0, 0x01), "Invalid", False)
    add("flipped-bit-s", "bit 0 of s flipped", "xeddsa, then edited", ident.identity_key, rk,
        flip(sig, 32, 0x01), "Invalid", False)
    add("sign-bit-flipped", "the sign bit (signature[63] & 0x80) flipped: the key converts to -A",
        "xeddsa, then edited", ident.identity_key, rk, flip(sig, 63, 0x80), "Invalid", False)
    add("wrong-key", "valid signature by another identity key, checked against alice's",
        "xeddsa", alice.identity_key, rk, sig, "Invalid", False)
    add("wrong-message", "valid signature over receipt key 1, checked against receipt key 0",
        "xeddsa", ident.identity_key, receipt_keys[0], sig, "Invalid", False)
    add("other-context", "valid signature over the packed receipt key with another context string",
        "xeddsa", ident.identity_key, rk,
        ident.sign(b"letro/receipt-key-certificate/v2" + pack_babyjubjub(int(rk[0]), int(rk[1])),
                   derive("nonce/other-context", 64)),
        "Invalid", False)

    # --- invalid: the identity key ---
    add("identity-key-type", "type byte 0x06 instead of 0x05", "xeddsa, then edited",
        bytes([0x06]) + ident.u, rk, sig, "IdentityKeyType", False)
    # libsignal's u -> Edwards conversion ignores bit 255 and reduces mod p, so it accepts these.
    add("u-top-bit-set", "bit 255 of u set (u + 2^255): not below p", "xeddsa, then edited",
        flip(ident.identity_key, 32, 0x80), rk, sig, "NonCanonicalKey", True)
    u_zero_alias = (P25519).to_bytes(32, "little")
    add("u-equals-p", "u = p, an alias of u = 0", "constructed",
        bytes([5]) + u_zero_alias, rk, sig, "NonCanonicalKey", False)
    add("u-minus-one", "u = p - 1 = -1: no Edwards point (the birational map's pole)",
        "constructed", bytes([5]) + (P25519 - 1).to_bytes(32, "little"), rk, sig,
        "InvalidPoint", False)
    twist_u = next(u for u in range(2, 100) if not u_is_on_curve(u))
    add("u-on-twist", f"u = {twist_u} is on the quadratic twist, not on Curve25519",
        "constructed", bytes([5]) + twist_u.to_bytes(32, "little"), rk, sig, "InvalidPoint",
        False)
    add("u-zero", "u = 0 maps to (0, -1), of order 2", "constructed",
        bytes([5]) + bytes(32), rk, sig, "InvalidPoint", False)
    add("u-one", "u = 1 maps to a point of order 4 (y = 0)", "constructed",
        bytes([5]) + (1).to_bytes(32, "little"), rk, sig, "InvalidPoint", False)

    # --- invalid: the signature's encoding ---
    s = int.from_bytes(sig[32:64], "little") & ((1 << 255) - 1)
    assert s < L25519
    s_plus_l = s + L25519
    assert s_plus_l < 2**253  # libsignal checks only the top three bits of s
    malleated = sig[:32] + (s_plus_l | (1 << 255)).to_bytes(32, "little")
    # libsignal reduces s mod l, so it accepts s + l.
    add("s-plus-l", "s replaced by s + l (still below 2^253), sign bit kept", "xeddsa, then edited",
        ident.identity_key, rk, malleated, "NonCanonicalSignature", True)
    high = sig[:32] + ((s | (1 << 253)) | (1 << 255)).to_bytes(32, "little")
    add("s-bit-253", "bit 253 of s set", "xeddsa, then edited", ident.identity_key, rk, high,
        "NonCanonicalSignature", False)

    # A forgery for the small-order key u = 0 (A = (0, -1), order 2): with R = rB and s = r,
    # sB - hA = R whenever h is even, so no private key is needed. libsignal's verifier accepts
    # it; Letro rejects the key.
    msg = certificate_message(rk)
    a_small = (P25519 - 1).to_bytes(32, "little")  # compressed (0, -1): y = -1, x = 0
    for n in range(1000):
        # priv_to_ed25519_pub clamps, so take a clamped r: then R = rB and s = r mod l.
        r = clamp(derive(f"forge/{n}", 32))
        cap_r = xeddsa.priv_to_ed25519_pub(r)
        hh = int.from_bytes(hashlib.sha512(cap_r + a_small + msg).digest(), "little") % L25519
        if hh % 2 == 0:
            forged = cap_r + (int.from_bytes(r, "little") % L25519).to_bytes(32, "little")
            break
    else:
        raise AssertionError("no even h found")
    add("forged-small-order-key", "u = 0 (order 2) with a keyless forgery R = rB, s = r, h even",
        "constructed", bytes([5]) + bytes(32), rk, forged, "InvalidPoint", True)

    # Cross-checks by libsodium: every valid vector verifies; every edited or wrong one with a
    # usable canonical key does not.
    for v in vectors:
        ik, m, sg = (bytes.fromhex(v[k]) for k in ("identity_key", "message", "signature"))
        if v["error"] in (None, "Invalid"):
            assert sodium_accepts(ik, m, sg) == v["valid"], v["name"]
        assert m == certificate_message(v["receipt_key"]), v["name"]

    doc = {
        "generator": f"testdata/certificates/gen.py with xeddsa {xeddsa.version.__version__} "
                     f"(PyPI; libxeddsa {lib.XEDDSA_VERSION_MAJOR}.{lib.XEDDSA_VERSION_MINOR}."
                     f"{lib.XEDDSA_VERSION_REVISION} on libsodium)",
        "description": "XEdDSA receipt-key certificates as libsignal makes them "
                       "(IdentityKeyPair::sign / PrivateKey::calculate_signature). "
                       "identity_key: 0x05 || X25519 u (33 bytes, hex). message: "
                       "b\"letro/receipt-key-certificate/v1\" || babyjubjub::pack(receipt_key) (hex). "
                       "receipt_key: [x, y] decimal (circomlib coordinates), from "
                       "testdata/vectors/eddsa.json. signature: R || s with the Ed25519 sign bit in bit 7 of byte 63. "
                       "valid/error: the outcome Letro must give (error names a "
                       "letro_verifier::certificate::CertificateError variant). "
                       "libsignal_accepts: what libsignal's verify_signature returns, where Letro "
                       "is stricter. signer: private key and 64-byte nonce, to reproduce the bytes.",
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")
    write_fixtures()


# Receipt keys of the workspace's fixed test deliveries (computed by letro-core from the seeds
# named; `core/tests/testdata_records.rs` checks that they still match), each certified here
# by its own identity, so that records, openings and bundles in testdata carry real
# certificates made by an implementation nobody on the team wrote.
FIXTURE_KEYS = {
    # statement::example::default_example(): receipt secret 0x2a * 32 (SPEC §4.6).
    "example": ["19602562846904069434667919866080252756761662017503740136593088620007612824470",
                "1406166973185390496196796617359152632559038011901672055861513736779214676780"],
    # testdata/records: receipt secret SHA-256("letro testdata receipt key (INSECURE-DEV)").
    "record": ["2503993809769923817424538956850829628477932183414557324738835774468366819559",
               "2914174829466488453124389941740227616921052137169775515941004330036696563438"],
}
FIXTURES_OUT = HERE / "fixtures.json"


def write_fixtures() -> None:
    fixtures = {}
    for name, key in FIXTURE_KEYS.items():
        ident = Identity(f"fixture-{name}")
        msg = certificate_message(key)
        sig = ident.sign(msg, derive(f"nonce/fixture-{name}", 64))
        assert sodium_accepts(ident.identity_key, msg, sig)
        fixtures[name] = {
            "receipt_key": key,
            "identity_key": h(ident.identity_key),
            "signature": h(sig),
        }
    doc = {
        "generator": f"testdata/certificates/gen.py with xeddsa {xeddsa.version.__version__}",
        "description": "Valid receipt-key certificates (XEdDSA, as libsignal makes them) for the "
                       "receipt keys of the workspace's fixed test deliveries. identity_key and "
                       "signature are hex, as in vectors.json.",
        "fixtures": fixtures,
    }
    FIXTURES_OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(fixtures)} fixtures to {FIXTURES_OUT}")


if __name__ == "__main__":
    main()

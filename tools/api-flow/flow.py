"""An integrator's flow through the Letro service API, with a client generated from the live
OpenAPI document by openapi-python-client (a tool nobody on the Letro team wrote).

Run by `.ci/api-conformance` against a fresh `letro serve`:

    python flow.py --url http://127.0.0.1:PORT --tokens DIR --openapi openapi.json \
        --signer "node /path/to/sign-receipt.mjs" --out DIR [--letro-verify PATH]

`--tokens DIR` holds one bearer token per file: `relay`, `bank` (sender), `bob` and `alice`
(clients) and `admin`. The generated package `letro_api_client` must be importable.

Every call goes through the generated client's operation functions and models only. The
signatures come from outside the service's code: the receipt's EdDSA-Poseidon signature from
circomlibjs (`sign-receipt.mjs`), the receipt key's XEdDSA certificate and the libsignal-shaped
prekey signatures from the `xeddsa` package (as testdata/certificates/gen.py makes them). Every
response is also checked by schemathesis (status documented, content type, body against the
response schema) through an httpx response hook.

The flow: bob publishes his directory entry (a forged certificate first: 422
invalid_certificate; alice writing bob's entry: 403 forbidden; alice certifying bob's receipt
key for herself: 409 conflict); alice fetches bob's prekey bundle; the relay logs a submission
(bank to bob) and bob's receipt (a receipt for an H nobody submitted: 409 not_submitted); alice
mails bob an envelope, which bob lists, fetches and acknowledges with a receipt (an envelope not
in his mailbox: 404 not_found); a checkpoint covers the receipts; the inclusion proof's root is
the checkpoint's Poseidon root, line 3 is the RFC 6962 root of every leaf, and the tiles at /v1/log hold those leaves and their hashes; bank asks for a proof for an unknown H (404 not_found), for a
window that excludes the delivery (422 outside_window), then for the current UTC day (202 and a
Location), polls the job until it is done, and the bundle verifies with letro-verify. Any
mismatch exits 1.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import pathlib
import shlex
import subprocess
import sys
import time
import urllib.parse

import httpx
import schemathesis
import xeddsa
from letro_api_client import AuthenticatedClient, Client
from letro_api_client.api.default import (
    get_checkpoint,
    get_consistency_proof,
    get_envelope,
    get_evidence,
    get_evidence_certificate,
    get_inclusion_proof,
    get_log_key,
    get_log_state,
    get_mailbox,
    get_prekey_bundle,
    get_proof_certificate,
    get_proof_job,
    get_tlog_checkpoint,
    get_tlog_tile,
    healthz,
    post_ack,
    post_message,
    post_proof,
    post_receipt,
    post_submission,
    put_directory_entry,
)
from letro_api_client.errors import UnexpectedStatus
from letro_api_client.models import (
    AckRequest,
    CertificateObject,
    ErrorBody,
    ErrorCode,
    GetEvidenceEvent,
    JobState,
    OneTimePrekey,
    Point,
    PrekeyUpload,
    ProofRequest,
    ReceiptRequest,
    Signature,
    SignedPrekey,
    SubmissionRequest,
)
from letro_api_client.types import File
from schemathesis import checks as st_checks

BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
CERTIFICATE_CONTEXT = b"letro/receipt-key-certificate/v1"


class Mismatch(Exception):
    """The service answered something the flow did not expect."""



def rfc6962_root(entries):
    """RFC 6962 Merkle tree hash (RFC 9162 section 2.1.1) of a list of byte strings."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(entries[:k]) + rfc6962_root(entries[k:])).digest()

def rfc6962_inclusion_root(index, size, leaf_hash, proof):
    """The root an RFC 6962 inclusion proof leads to (RFC 9162 section 2.1.3.2), or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Mismatch(what)


def ok(line: str) -> None:
    print(f"ok  {line}", flush=True)


# ---------------------------------------------------------------- schemathesis on every answer


class Conformance:
    """An httpx response hook: schemathesis checks each answer against the document."""

    CHECKS = [
        st_checks.not_a_server_error,
        st_checks.status_code_conformance,
        st_checks.content_type_conformance,
        st_checks.response_schema_conformance,
    ]

    def __init__(self, document: dict) -> None:
        self.schema = schemathesis.openapi.from_dict(document)
        self.checked = 0

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        path = request.url.path
        # A tile path (`/v1/log/tile/{tile}`) spans several segments: one parameter.
        tiles = "/v1/log/tile/"
        if path.startswith(tiles):
            path = tiles + urllib.parse.quote(path[len(tiles) :], safe="")
        operation = self.schema.find_operation_by_path(request.method, path)
        if operation is None:
            raise Mismatch(f"{request.method} {request.url.path} is not in the document")
        template, actual = operation.path.split("/"), path.split("/")
        params = {
            t[1:-1]: urllib.parse.unquote(v)
            for t, v in zip(template, actual, strict=True)
            if t.startswith("{") and t.endswith("}")
        }
        try:
            operation.Case(path_parameters=params).validate_response(response, checks=self.CHECKS)
        except Exception as e:  # schemathesis' FailureGroup, with every failure's text
            raise Mismatch(
                f"{request.method} {request.url.path} -> {response.status_code} does not "
                f"conform to the document:\n{e}\n{response.text[:2000]}"
            ) from None
        self.checked += 1


# ---------------------------------------------------------------- keys and signatures


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def clamp(k: bytes) -> bytes:
    """X25519 clamping, as libsignal applies it to every private key."""
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return bytes(b)


class Identity:
    """A Signal identity key pair; signs as libsignal's calculate_signature (XEdDSA with the
    Ed25519 sign bit in bit 7 of the last byte), as testdata/certificates/gen.py does."""

    def __init__(self) -> None:
        self.priv = clamp(os.urandom(32))
        self.public = bytes([0x05]) + xeddsa.priv_to_curve25519_pub(self.priv)
        self.sign_bit = xeddsa.priv_to_ed25519_pub(self.priv)[31] >> 7

    def sign(self, message: bytes) -> bytes:
        sig = bytearray(xeddsa.ed25519_priv_sign(self.priv, message, os.urandom(64)))
        sig[63] |= self.sign_bit << 7
        return bytes(sig)


def pack_babyjubjub(x: int, y: int) -> bytes:
    """circomlib's packPoint: y little-endian, bit 255 set iff x > (p-1)/2 (SPEC §2.3)."""
    out = bytearray(y.to_bytes(32, "little"))
    if x > (BN254_R - 1) // 2:
        out[31] |= 0x80
    return bytes(out)


class Signer:
    """sign-receipt.mjs (circomlibjs)."""

    def __init__(self, command: str) -> None:
        self.command = shlex.split(command)

    def run(self, *args: str) -> dict:
        out = subprocess.run(self.command + list(args), check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    def public_key(self, private_hex: str) -> dict:
        return self.run(private_hex)["receipt_key"]

    def receipt(self, private_hex: str, h: str, t: int) -> dict:
        return self.run(private_hex, h, str(t))


def rfc3339(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def receipt_body(h: str, signed: dict) -> ReceiptRequest:
    k, s = signed["receipt_key"], signed["signature"]
    return ReceiptRequest(
        ciphertext_sha256=h,
        delivered_at=signed["delivered_at"],
        receipt_key=Point(x=k["x"], y=k["y"]),
        signature=Signature(r8=Point(x=s["r8"]["x"], y=s["r8"]["y"]), s=s["s"]),
    )


def error_code(resp, status: int, code: ErrorCode, what: str) -> None:
    """A refusal, parsed by the generated client into its ErrorBody model."""
    expect(
        resp.status_code == status and isinstance(resp.parsed, ErrorBody),
        f"{what}: expected {status} {code}, got {resp.status_code} {resp.content[:300]!r}",
    )
    expect(
        resp.parsed.error.code == code,
        f"{what}: expected code {code}, got {resp.parsed.error.code}",
    )
    ok(f"{what} -> {status} {code}: {resp.parsed.error.message}")


# ---------------------------------------------------------------- the flow


def flow(args: argparse.Namespace) -> None:
    conformance = Conformance(json.loads(pathlib.Path(args.openapi).read_text()))
    hooks = {"event_hooks": {"response": [conformance]}}
    timeout = httpx.Timeout(30.0)

    def client(name: str) -> AuthenticatedClient:
        token = (pathlib.Path(args.tokens) / name).read_text().strip()
        return AuthenticatedClient(
            base_url=args.url,
            token=token,
            raise_on_unexpected_status=True,
            timeout=timeout,
            httpx_args=hooks,
        )

    anonymous = Client(
        base_url=args.url, raise_on_unexpected_status=True, timeout=timeout, httpx_args=hooks
    )
    relay, bank, bob, alice, admin = (client(n) for n in ("relay", "bank", "bob", "alice", "admin"))
    signer = Signer(args.signer)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    health = healthz.sync(client=anonymous)
    expect(health is not None and health.status == "ok", f"healthz: {health}")
    ok("GET /healthz -> 200 ok")

    # -- bob's directory entry: Signal-shaped keys, a Baby Jubjub receipt key, its certificate
    identity = Identity()
    receipt_secret = os.urandom(32).hex()
    a = signer.public_key(receipt_secret)
    packed = pack_babyjubjub(int(a["x"]), int(a["y"]))
    certificate = identity.sign(CERTIFICATE_CONTEXT + packed)
    signed_prekey = bytes([0x05]) + xeddsa.priv_to_curve25519_pub(clamp(os.urandom(32)))
    kyber_prekey = bytes([0x08]) + os.urandom(1568)
    one_time = [
        OneTimePrekey(
            id=100 + i,
            public_key=b64(bytes([0x05]) + xeddsa.priv_to_curve25519_pub(clamp(os.urandom(32)))),
        )
        for i in range(3)
    ]

    def upload(
        cert_signature: bytes, account: str = "bob", ident: Identity = identity
    ) -> PrekeyUpload:
        return PrekeyUpload(
            version=1,
            account=account,
            registration_id=4242,
            device_id=1,
            identity_key=b64(ident.public),
            signed_prekey=SignedPrekey(
                id=1, public_key=b64(signed_prekey), signature=b64(ident.sign(signed_prekey))
            ),
            kyber_prekey=SignedPrekey(
                id=1, public_key=b64(kyber_prekey), signature=b64(ident.sign(kyber_prekey))
            ),
            one_time_prekeys=one_time,
            receipt_key=b64(packed),
            receipt_key_certificate=CertificateObject(
                identity_key=b64(ident.public), signature=b64(cert_signature)
            ),
        )

    forged = bytearray(certificate)
    forged[0] ^= 0x01
    error_code(
        put_directory_entry.sync_detailed("bob", client=bob, body=upload(bytes(forged))),
        422,
        ErrorCode.INVALID_CERTIFICATE,
        "PUT /v1/directory/bob with a certificate whose R has a bit flipped",
    )
    error_code(
        put_directory_entry.sync_detailed("bob", client=alice, body=upload(certificate)),
        403,
        ErrorCode.FORBIDDEN,
        "PUT /v1/directory/bob with alice's token",
    )
    resp = put_directory_entry.sync_detailed("bob", client=bob, body=upload(certificate))
    expect(resp.status_code == 200, f"PUT /v1/directory/bob: {resp.status_code} {resp.content!r}")
    published = resp.parsed
    fingerprint = hashlib.sha256(packed).hexdigest()
    expect(published.account == "bob", f"published account {published.account}")
    expect(
        published.one_time_prekeys == len(one_time),
        f"one-time prekeys {published.one_time_prekeys}",
    )
    expect(published.receipt_key_fingerprint == fingerprint, "receipt key fingerprint")
    ok(f"PUT /v1/directory/bob -> 200 Published (receipt key fingerprint {fingerprint[:16]}...)")
    mallory = Identity()
    error_code(
        put_directory_entry.sync_detailed(
            "alice",
            client=alice,
            body=upload(mallory.sign(CERTIFICATE_CONTEXT + packed), "alice", mallory),
        ),
        409,
        ErrorCode.CONFLICT,
        "PUT /v1/directory/alice certifying bob's receipt key with alice's identity",
    )

    bundle = get_prekey_bundle.sync("bob", client=alice)
    expect(bundle.receipt_key == b64(packed), "the bundle's receipt key is bob's")
    expect(bundle.receipt_key_certificate.signature == b64(certificate), "the bundle's certificate")
    expect(
        bundle.one_time_prekey is not None
        and bundle.one_time_prekey.id in {k.id for k in one_time},
        f"one-time prekey {bundle.one_time_prekey}",
    )
    otp = bundle.one_time_prekey.id
    ok(f"GET /v1/directory/bob (alice) -> 200 PrekeyBundle, one-time prekey {otp}")

    # -- the relay logs the submission and bob's receipt
    ciphertext = os.urandom(2048)
    h = hashlib.sha256(ciphertext).hexdigest()
    (out / "ciphertext.bin").write_bytes(ciphertext)
    submission = SubmissionRequest(ciphertext_sha256=h, sender="bank", routing="bob")
    resp = post_submission.sync_detailed(client=relay, body=submission)
    expect(resp.status_code == 201, f"POST /v1/submissions: {resp.status_code} {resp.content!r}")
    submitted = resp.parsed
    ok(f"POST /v1/submissions -> 201 Accepted index {submitted.index} {submitted.state}")
    resp = post_submission.sync_detailed(client=relay, body=submission)
    expect(
        resp.status_code == 200 and resp.parsed.index == submitted.index, "a repeated submission"
    )
    ok(f"POST /v1/submissions again -> 200 index {resp.parsed.index}")

    t = int(time.time())
    signed = signer.receipt(receipt_secret, h, t)
    expect(signed["receipt_key"] == a, "the signer's key")
    expect(signed["delivered_at"] == rfc3339(t), f"delivered_at {signed['delivered_at']}")
    other_h = hashlib.sha256(os.urandom(32)).hexdigest()
    error_code(
        post_receipt.sync_detailed(
            client=relay, body=receipt_body(other_h, signer.receipt(receipt_secret, other_h, t))
        ),
        409,
        ErrorCode.NOT_SUBMITTED,
        "POST /v1/receipts for an H nobody submitted",
    )
    resp = post_receipt.sync_detailed(client=relay, body=receipt_body(h, signed))
    expect(resp.status_code == 201, f"POST /v1/receipts: {resp.status_code} {resp.content!r}")
    delivered = resp.parsed
    expect(delivered.index > submitted.index, "the receipt's index follows the submission's")
    ok(
        f"POST /v1/receipts (signed by circomlibjs at {signed['delivered_at']}) -> 201 Accepted "
        f"index {delivered.index} {delivered.state}"
    )

    # -- the mailbox: alice sends bob an envelope, bob fetches and acknowledges it
    envelope = os.urandom(512)
    h2 = hashlib.sha256(envelope).hexdigest()
    # The payload as bytes (httpx sends them as they are): a file object would make the request
    # a stream, which the conformance hook could not read back.
    resp = post_message.sync_detailed("bob", client=alice, body=File(payload=envelope))
    expect(resp.status_code == 201, f"POST /v1/messages/bob: {resp.status_code} {resp.content!r}")
    ok(f"POST /v1/messages/bob (alice, {len(envelope)} bytes) -> 201 index {resp.parsed.index}")
    listed = get_mailbox.sync(client=bob)
    expect(
        [(m.ciphertext_sha256, m.sender) for m in listed] == [(h2, "alice")], f"mailbox {listed}"
    )
    ok(f"GET /v1/mailbox (bob) -> 200 [{h2[:16]}... from alice]")
    resp = get_envelope.sync_detailed(h2, client=bob)
    expect(
        resp.status_code == 200 and resp.parsed.payload.read() == envelope, "the envelope's bytes"
    )
    expect(
        resp.headers.get("letro-sender") == "alice",
        f"letro-sender {resp.headers.get('letro-sender')}",
    )
    ok(f"GET /v1/mailbox/{h2[:16]}... (bob) -> 200 the exact bytes, letro-sender alice")

    def ack_body(signed: dict) -> AckRequest:
        r = receipt_body(h2, signed)
        return AckRequest(
            delivered_at=r.delivered_at, receipt_key=r.receipt_key, signature=r.signature
        )

    t2 = int(time.time())
    error_code(
        post_ack.sync_detailed(
            other_h, client=bob, body=ack_body(signer.receipt(receipt_secret, other_h, t2))
        ),
        404,
        ErrorCode.NOT_FOUND,
        "POST /v1/mailbox/{H}/receipt for an envelope not in bob's mailbox",
    )
    resp = post_ack.sync_detailed(
        h2, client=bob, body=ack_body(signer.receipt(receipt_secret, h2, t2))
    )
    expect(
        resp.status_code == 201,
        f"POST /v1/mailbox/{{H}}/receipt: {resp.status_code} {resp.content!r}",
    )
    acked = resp.parsed
    ok(f"POST /v1/mailbox/{h2[:16]}.../receipt (bob, circomlibjs) -> 201 index {acked.index}")
    expect(get_mailbox.sync(client=bob) == [], "the acknowledged envelope left the mailbox")
    ok("GET /v1/mailbox (bob) -> 200 []")

    # -- a checkpoint covers it; the inclusion proof's root is the checkpoint's
    deadline = time.monotonic() + 30
    while True:
        resp = get_checkpoint.sync_detailed(client=anonymous)
        if resp.status_code == 200:
            lines = resp.parsed.split("\n")
            size = int(lines[1])
            if size > max(delivered.index, acked.index):
                break
        expect(time.monotonic() < deadline, "no checkpoint covers the receipt within 30 s")
        time.sleep(0.5)
    # Line 3 is the RFC 6962 root of the entries; the poseidon-root line the Poseidon root.
    sha_root = base64.b64decode(lines[2])
    poseidon = [x for x in lines if x.startswith("poseidon-root ")]
    expect(len(poseidon) == 1, "one poseidon-root line")
    root = int.from_bytes(base64.b64decode(poseidon[0].split(" ", 1)[1]), "big")
    expect(lines[3].startswith("time "), f"checkpoint time line: {lines[3]!r}")
    expect(any(x.startswith("receipt-skew ") for x in lines), "checkpoint receipt-skew line")
    ok(f"GET /v1/checkpoint -> 200 size {size} ({lines[0]})")
    state = get_log_state.sync(client=relay)
    expect(
        state.published >= size and state.sequenced >= state.integrated >= state.published,
        f"{state}",
    )
    ok(f"GET /v1/log/state (relay) -> 200 sequenced {state.sequenced} published {state.published}")

    proof = get_inclusion_proof.sync(delivered.index, client=anonymous, size=size)
    expect(proof.index == delivered.index and proof.size == size, "inclusion proof index and size")
    expect(
        len(proof.siblings) == 16 and all(len(s) == 3 for s in proof.siblings), "16 sibling triples"
    )
    expect(int(proof.root) == root, "the inclusion proof's root is the checkpoint's root")
    ok(f"GET /v1/log/leaves/{delivered.index}/inclusion -> 200 root = the checkpoint's root")

    # Line 3, recomputed here with hashlib from every leaf (RFC 6962 over their 32 bytes).
    leaves = [
        int(get_inclusion_proof.sync(i, client=anonymous, size=size).leaf).to_bytes(32, "big")
        for i in range(size)
    ]
    expect(rfc6962_root(leaves) == sha_root, "line 3 is the RFC 6962 root of the leaves")
    ok(f"checkpoint line 3 = RFC 6962 root of the {size} leaves (hashlib)")

    # The same log as C2SP tlog-tiles (prefix /v1/log), through the generated client: the
    # entry bundle and the level-0 hash tile of the tree of `size` entries, checked with hashlib.
    tiles_checkpoint = get_tlog_checkpoint.sync_detailed(client=anonymous)
    expect(tiles_checkpoint.status_code == 200, "GET /v1/log/checkpoint")
    expect(
        tiles_checkpoint.content.decode().split("\n")[0] == lines[0], "the tiles' checkpoint origin"
    )
    expect(0 < size < 256, f"one partial tile covers the flow's {size} entries")
    bundle = get_tlog_tile.sync_detailed(f"entries/000.p/{size}", client=anonymous)
    expect(bundle.status_code == 200, f"entry bundle: {bundle.status_code}")
    expect("immutable" in bundle.headers.get("cache-control", ""), "tiles are immutable")
    entries, rest = [], bundle.content
    while rest:
        n = int.from_bytes(rest[:2], "big")
        entries.append(rest[2 : 2 + n])
        rest = rest[2 + n :]
    expect(entries == leaves, "the entry bundle holds the leaves, 32 bytes each")
    expect(rfc6962_root(entries) == sha_root, "the entries hash to line 3")
    hashes = get_tlog_tile.sync_detailed(f"0/000.p/{size}", client=anonymous).content
    expect(
        [hashes[i : i + 32] for i in range(0, len(hashes), 32)]
        == [hashlib.sha256(b"\x00" + e).digest() for e in entries],
        "the level-0 tile holds SHA-256(0x00 || entry) of each entry",
    )
    beyond = get_tlog_tile.sync_detailed(f"entries/000.p/{size + 1}", client=anonymous)
    expect(beyond.status_code == 404, f"a tile beyond the published tree: {beyond.status_code}")
    ok(f"GET /v1/log/tile/entries/000.p/{size} and /v1/log/tile/0/000.p/{size} -> 200, entries and leaf hashes match line 3 (hashlib); beyond -> 404")
    # The evidence record of bob's receipt, for alice (who sent it): its RFC 6962 proof, checked
    # here with hashlib, leads from the entry the tiles hold at its index to its checkpoint's
    # line 3. bob may read it too; a sender of another account gets 404.
    resp = get_evidence.sync_detailed(h2, GetEvidenceEvent.RETRIEVED, client=alice)
    expect(resp.status_code == 200, f"GET /v1/evidence/{{H}}/retrieved: {resp.status_code}")
    record = json.loads(resp.content)
    expect(
        (record["version"], record["event"], record["etsi_event"])
        == ("letro-evidence/v1", "retrieved", "http://uri.etsi.org/19522/Event/ContentHandover"),
        f"the record's event {record['event']}",
    )
    expect(
        record["ciphertext_sha256"] == h2 and record["leaf_index"] == acked.index,
        "the record is of bob's receipt",
    )
    record_lines = record["checkpoint"].split("\n")
    record_size = record["inclusion"]["tree_size"]
    expect(int(record_lines[1]) == record_size, "the proof is for the checkpoint's size")
    led_to = rfc6962_inclusion_root(
        acked.index,
        record_size,
        hashlib.sha256(b"\x00" + entries[acked.index]).digest(),
        [bytes.fromhex(x) for x in record["inclusion"]["hashes"]],
    )
    expect(led_to == base64.b64decode(record_lines[2]), "the inclusion proof leads to line 3")
    expect(
        get_evidence.sync_detailed(h2, GetEvidenceEvent.RETRIEVED, client=bob).status_code == 200,
        "bob reads the record of his own receipt",
    )
    error_code(
        get_evidence.sync_detailed(h2, GetEvidenceEvent.RETRIEVED, client=bank),
        404,
        ErrorCode.NOT_FOUND,
        "GET /v1/evidence for another account's message",
    )
    ok(
        f"GET /v1/evidence/{h2[:16]}.../retrieved (alice) -> 200 letro-evidence/v1: its RFC 6962 "
        f"proof from entry {acked.index} leads to line 3 (hashlib); bob 200, bank 404"
    )
    consistency = get_consistency_proof.sync(client=anonymous, old=1, new=size)
    expect(consistency.old == 1 and consistency.new == size, "consistency sizes")
    ok(f"GET /v1/log/consistency?old=1&new={size} -> 200")

    # -- the sender asks for proofs: two refusals, then the current UTC day
    day = datetime.datetime.fromtimestamp(t, datetime.UTC).date()
    window = (f"{day}T00:00:00Z", f"{day}T23:59:59Z")
    yesterday = day - datetime.timedelta(days=1)
    unknown_h = hashlib.sha256(os.urandom(32)).hexdigest()
    error_code(
        post_proof.sync_detailed(
            client=bank,
            body=ProofRequest(
                ciphertext_sha256=unknown_h, not_before=window[0], not_after=window[1]
            ),
        ),
        404,
        ErrorCode.NOT_FOUND,
        "POST /v1/proofs for an H nobody sent",
    )
    error_code(
        post_proof.sync_detailed(
            client=bank,
            body=ProofRequest(
                ciphertext_sha256=h,
                not_before=f"{yesterday}T00:00:00Z",
                not_after=f"{yesterday}T23:59:59Z",
            ),
        ),
        422,
        ErrorCode.OUTSIDE_WINDOW,
        f"POST /v1/proofs for {yesterday}",
    )
    resp = post_proof.sync_detailed(
        client=bank,
        body=ProofRequest(ciphertext_sha256=h, not_before=window[0], not_after=window[1]),
    )
    expect(resp.status_code == 202, f"POST /v1/proofs: {resp.status_code} {resp.content!r}")
    job = resp.parsed
    expect(job.state == JobState.QUEUED, f"new job state {job.state}")
    location = resp.headers.get("location")
    expect(location == f"/v1/proofs/{job.job_id}", f"Location {location!r}")
    ok(f"POST /v1/proofs [{window[0]}, {window[1]}] -> 202 {job.state}, Location {location}")
    error_code(
        get_proof_job.sync_detailed(job.job_id, client=admin),
        403,
        ErrorCode.FORBIDDEN,
        "GET /v1/proofs/{job_id} with an admin token",
    )

    started = time.monotonic()
    while True:
        job = get_proof_job.sync(job.job_id, client=bank)
        if job.state in (JobState.DONE, JobState.FAILED):
            break
        expect(time.monotonic() - started < args.proof_timeout, f"the job is still {job.state}")
        time.sleep(0.5)
    expect(job.state == JobState.DONE, f"the job failed: {job.error}")
    expect(isinstance(job.bundle, str) and isinstance(job.opening, str), "bundle and opening")
    ok(f"GET /v1/proofs/{job.job_id} -> 200 done after {time.monotonic() - started:.1f} s")
    (out / "bundle.json").write_text(job.bundle)
    (out / "opening.json").write_text(job.opening)
    opening = json.loads(job.opening)
    expect(opening["receipt_key"] == a, "the opening names bob's receipt key")
    expect(
        opening["receipt_key_certificate"]["signature"] == b64(certificate),
        "the opening carries bob's certificate",
    )

    log_key = get_log_key.sync(client=anonymous)
    expect(isinstance(log_key, str) and log_key.startswith(lines[0] + "+"), f"log key {log_key!r}")
    (out / "log.pub").write_text(log_key)
    ok(f"GET /v1/log/key -> 200 {log_key.strip()}")

    if args.letro_verify:
        command = [
            args.letro_verify,
            str(out / "bundle.json"),
            "--log-key",
            str(out / "log.pub"),
            "--ciphertext",
            str(out / "ciphertext.bin"),
            "--opening",
            str(out / "opening.json"),
            "--accept-demo-ceremony-keys",
        ]
        run = subprocess.run(command, capture_output=True, text=True)
        expect(
            run.returncode == 0, f"letro-verify exit {run.returncode}:\n{run.stdout}{run.stderr}"
        )
        ok("letro-verify bundle.json --log-key log.pub --ciphertext --opening -> exit 0 (verified)")
        # The sealed evidence certificates, as the generated client downloads them (bytes), and
        # letro-verify on each: the documents they embed verify.
        certificates = {
            "proof-certificate.pdf": (
                get_proof_certificate.sync_detailed(job.job_id, client=bank),
                ["--accept-demo-ceremony-keys"],
            ),
            "evidence-retrieved.pdf": (
                get_evidence_certificate.sync_detailed(
                    h2, GetEvidenceEvent.RETRIEVED, client=alice
                ),
                [],
            ),
        }
        for name, (resp, flags) in certificates.items():
            expect(resp.status_code == 200, f"{name}: {resp.status_code}")
            expect(resp.content.startswith(b"%PDF-"), f"{name} is not a PDF")
            (out / name).write_bytes(resp.content)
            run = subprocess.run(
                [args.letro_verify, str(out / name), "--log-key", str(out / "log.pub"), *flags],
                capture_output=True,
                text=True,
            )
            expect(
                run.returncode == 0 and "0 certificate (PDF)" in run.stdout,
                f"letro-verify {name} exit {run.returncode}:\n{run.stdout}{run.stderr}",
            )
        ok(
            "GET /v1/proofs/{job_id}/certificate and /v1/evidence/{H}/retrieved/certificate -> 200 "
            "PDF; letro-verify on each -> exit 0 (the embedded documents verify)"
        )
    else:
        print("skip letro-verify: not built", flush=True)

    print(
        f"ok  every answer ({conformance.checked}) conforms to the document (schemathesis checks)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--tokens", required=True, help="directory of token files")
    p.add_argument("--openapi", required=True, help="the document the client was generated from")
    p.add_argument("--signer", required=True, help='e.g. "node tools/api-flow/sign-receipt.mjs"')
    p.add_argument("--out", required=True, help="where bundle.json, opening.json, ... go")
    p.add_argument("--letro-verify", help="path of letro-verify, to check the bundle")
    p.add_argument("--proof-timeout", type=float, default=120.0)
    args = p.parse_args()
    try:
        flow(args)
    except Mismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except UnexpectedStatus as e:
        print(f"error: undocumented status {e.status_code}: {e.content[:500]!r}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as e:
        print(f"error: the signer failed: {e}\n{e.stderr}", file=sys.stderr)
        return 1
    print("flow: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

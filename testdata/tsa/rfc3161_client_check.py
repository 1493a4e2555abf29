"""Verifies a stored RFC 3161 token with rfc3161-client, an implementation Letro did not write.

Usage: python rfc3161_client_check.py DIR, where DIR holds token.der (a TimeStampToken, DER),
data (the time-stamped bytes) and ca.pem (the trusted root). Exit 0 when it verifies.
The token is wrapped in a granted TimeStampResp (status 0), the form the package reads.
"""

import pathlib
import sys

import cryptography.x509
import rfc3161_client


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def main() -> int:
    d = pathlib.Path(sys.argv[1])
    token = (d / "token.der").read_bytes()
    data = (d / "data").read_bytes()
    ca = cryptography.x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    status = bytes.fromhex("3003020100")  # PKIStatusInfo { status granted }
    content = status + token
    response = rfc3161_client.decode_timestamp_response(
        b"\x30" + der_length(len(content)) + content
    )
    verifier = rfc3161_client.VerifierBuilder().add_root_certificate(ca).build()
    verifier.verify_message(response, data)
    print("verified:", response.tst_info.gen_time.isoformat(), response.tst_info.policy)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Checks a Letro evidence certificate with tools nobody on the Letro team wrote.

- pyHanko validates the PDF signature (the issuer's PAdES seal): integrity, the signer's
  certificate against the given trust root, coverage of the whole file, and the signature
  time-stamp against the TSA's CA.
- pypdfium2 (PDFium, the PDF engine of Chromium) opens the file, extracts each page's text and
  renders each page, reporting the fraction of dark pixels (text drawn with the embedded fonts).

Usage: check_certificate.py CERTIFICATE.pdf SEAL_ROOT.pem|- TSA_CA.pem|-
Prints one JSON object; exits 0 when the file could be read (the caller asserts the values).
"""

import json
import sys

import pypdfium2 as pdfium
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext


def main():
    pdf_path, seal_root, tsa_ca = sys.argv[1:4]
    result = {"signatures": [], "pages": []}
    with open(pdf_path, "rb") as f:
        reader = PdfFileReader(f)
        for sig in reader.embedded_signatures:
            vc = ValidationContext(trust_roots=[load_cert_from_pemder(seal_root)])
            ts_vc = None
            if tsa_ca != "-":
                ts_vc = ValidationContext(trust_roots=[load_cert_from_pemder(tsa_ca)])
            status = validate_pdf_signature(
                sig, signer_validation_context=vc, ts_validation_context=ts_vc
            )
            ts = status.timestamp_validity
            result["signatures"].append(
                {
                    "field": sig.field_name,
                    "subfilter": str(sig.sig_object.get("/SubFilter")),
                    "intact": status.intact,
                    "valid": status.valid,
                    "trusted": status.trusted,
                    "bottom_line": status.bottom_line,
                    "coverage": status.coverage.name,
                    "signer": status.signing_cert.subject.human_friendly,
                    "timestamp": None
                    if ts is None
                    else {
                        "intact": ts.intact,
                        "valid": ts.valid,
                        "trusted": ts.trusted,
                        "time": ts.timestamp.isoformat(),
                    },
                    "details": status.pretty_print_details(),
                }
            )
    doc = pdfium.PdfDocument(pdf_path)
    for i in range(len(doc)):
        page = doc[i]
        text = page.get_textpage().get_text_range()
        bitmap = page.render(scale=1, grayscale=True)
        pixels = bytes(bitmap.buffer)
        ink = sum(1 for b in pixels if b < 128)
        result["pages"].append(
            {
                "text": text,
                "width": page.get_width(),
                "height": page.get_height(),
                "ink_fraction": ink / max(1, len(pixels)),
            }
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

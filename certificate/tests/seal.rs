//! The PAdES seal checked by someone else's code: the CMS `SignedData` that
//! `letro_certificate::seal` puts in the PDF is taken out of the file by hand (its `/ByteRange`
//! and `/Contents` parsed here) and verified by the `openssl cms` command (OpenSSL 3) over the
//! covered bytes, with the seal's self-signed certificate as the only trust; one flipped byte
//! makes OpenSSL refuse. Also the attributes OpenSSL sees, the time-stamp token (a real one from
//! `openssl ts`, and refusals), the keys and chains `Sealer::new` refuses, and the attachments
//! `letro_verifier::pdf` reads back from the unsealed and the sealed file. Needs the `openssl`
//! command.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../testdata/tsa/harness.rs"]
mod tsa;

use std::path::Path;
use std::process::{Command, Output};

use letro_certificate::seal::{self, SealError, Sealer};
use letro_certificate::{Attachment, Block, Document, Relationship};

const ISSUED_AT: u64 = 1_795_000_000;

/// A small certificate by hand, its attachments deliberately not in name order (the PDF's name
/// tree is sorted), one of them every byte value.
fn document() -> Document {
    Document {
        title: "Evidence certificate (seal test)".into(),
        subtitle: "A hand-made document for the seal tests".into(),
        blocks: vec![
            Block::Section("What this is".into()),
            Block::Paragraph("A test of the issuer's seal, checked by OpenSSL.".into()),
            Block::Bullet("The attachments are read back byte for byte.".into()),
            Block::Code("letro-verify certificate.pdf".into()),
            Block::Field {
                label: "SHA-256".into(),
                value: "00112233445566778899aabbccddeeff".into(),
                mono: true,
            },
        ],
        attachments: vec![
            Attachment {
                name: "timestamp-1.tsr".into(),
                mime: "application/timestamp-reply".into(),
                description: "Every byte value".into(),
                relationship: Relationship::Supplement,
                bytes: (0..=255u8).collect(),
            },
            Attachment {
                name: "bundle.json".into(),
                mime: "application/json".into(),
                description: "The bundle".into(),
                relationship: Relationship::Source,
                bytes: br#"{"version":"letro-bundle/1","note":"not a real bundle"}"#.to_vec(),
            },
            Attachment {
                name: "checkpoint.txt".into(),
                mime: "text/plain".into(),
                description: "A checkpoint".into(),
                relationship: Relationship::Supplement,
                bytes: b"example.invalid/log\n42\nAAAA\n".to_vec(),
            },
        ],
        issued_at: ISSUED_AT,
        footer: "Seal test".into(),
        producer: "letro-certificate tests".into(),
    }
}

/// An ECDSA P-256 key (PKCS#8 DER) and its self-signed certificate (DER, PEM) with the key
/// usages of a seal (digital signature, non-repudiation). `basicConstraints CA:FALSE` too:
/// without an extension rcgen 0.13 writes none of them, key usage included.
fn p256_identity(cn: &str) -> (Vec<u8>, Vec<u8>, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn.to_owned());
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::ContentCommitment,
    ];
    let cert = params.self_signed(&key).unwrap();
    (key.serialize_der(), cert.der().to_vec(), cert.pem())
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (OpenSSL 3) is needed by the seal tests")
}

/// The four integers of the file's only `/ByteRange [a b c d]`.
fn byte_range(pdf: &[u8]) -> [usize; 4] {
    let key = b"/ByteRange";
    let hits: Vec<usize> = pdf
        .windows(key.len())
        .enumerate()
        .filter(|(_, w)| *w == key)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "one /ByteRange in the sealed file");
    let rest = &pdf[hits[0] + key.len()..];
    let open = rest.iter().position(|b| *b == b'[').unwrap();
    assert!(rest[..open].iter().all(u8::is_ascii_whitespace));
    let close = rest.iter().position(|b| *b == b']').unwrap();
    let text = std::str::from_utf8(&rest[open + 1..close]).unwrap();
    let numbers: Vec<usize> = text
        .split_ascii_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    numbers.try_into().expect("four integers")
}

/// The length of the DER TLV at the start of `der` (header included).
fn der_len(der: &[u8]) -> usize {
    assert_eq!(der[0], 0x30, "a SEQUENCE");
    let first = usize::from(der[1]);
    if first < 0x80 {
        return 2 + first;
    }
    let n = first & 0x7f;
    assert!((1..=4).contains(&n), "a definite length of 1 to 4 bytes");
    let len = der[2..2 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    2 + n + len
}

/// What the seal signs and the seal: the bytes the byte range covers and the DER in
/// `/Contents` (its zero padding trimmed).
fn covered_and_signature(pdf: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let [a, b, c, d] = byte_range(pdf);
    assert_eq!(a, 0, "the range starts at the file's start");
    assert!(b < c, "the gap is not empty");
    assert_eq!(c + d, pdf.len(), "the range ends at the file's end");
    // The gap is exactly the `/Contents` hex string.
    let before = pdf[..b].trim_ascii_end();
    assert!(before.ends_with(b"/Contents"), "the gap follows /Contents");
    let gap = &pdf[b..c];
    assert_eq!(gap.first(), Some(&b'<'));
    assert_eq!(gap.last(), Some(&b'>'));
    let hex_digits = &gap[1..gap.len() - 1];
    assert_eq!(hex_digits.len(), 2 * seal::CONTENTS_LEN);
    let padded = hex::decode(hex_digits).unwrap();
    let len = der_len(&padded);
    assert!(
        padded[len..].iter().all(|x| *x == 0),
        "only zeros after the DER"
    );
    let mut covered = pdf[a..b].to_vec();
    covered.extend_from_slice(&pdf[c..c + d]);
    (covered, padded[..len].to_vec())
}

/// Writes the covered bytes, the signature and the certificate, for the openssl commands.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(covered: &[u8], der: &[u8], cert_pem: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("covered.bin"), covered).unwrap();
        std::fs::write(dir.path().join("sig.der"), der).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
        Self { dir }
    }

    fn write_covered(&self, covered: &[u8]) {
        std::fs::write(self.dir.path().join("covered.bin"), covered).unwrap();
    }

    /// `openssl cms -verify` of the detached signature over `covered.bin`, the certificate the
    /// only trust anchor.
    fn verify(&self) -> Output {
        openssl(
            self.dir.path(),
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "sig.der",
                "-content",
                "covered.bin",
                "-CAfile",
                "cert.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        )
    }

    /// `openssl cms -cmsout -print`: the structure as OpenSSL reads it.
    fn print(&self) -> String {
        let out = openssl(
            self.dir.path(),
            &[
                "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der",
            ],
        );
        assert!(
            out.status.success(),
            "openssl cms -print: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn assert_verifies(files: &Files) {
    let out = files.verify();
    assert!(
        out.status.success(),
        "openssl refused the seal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Verification successful"));
}

fn sealed(doc: &Document, sealer: &Sealer, token: Option<&[u8]>) -> Vec<u8> {
    seal::prepare(doc, sealer, ISSUED_AT)
        .unwrap()
        .finish(token)
        .unwrap()
}

#[test]
fn openssl_verifies_the_seal_and_refuses_a_flipped_byte() {
    let (key, cert, pem) = p256_identity("seal.example.invalid evidence seal");
    let sealer = Sealer::new(&key, &[cert], "seal.example.invalid").unwrap();
    let pdf = sealed(&document(), &sealer, None);
    let (covered, der) = covered_and_signature(&pdf);
    let files = Files::new(&covered, &der, &pem);
    assert_verifies(&files);

    // One byte of the page (before the signature) and one after it.
    let [_, b, _, _] = byte_range(&pdf);
    for at in [b / 2, b + (covered.len() - b) / 2] {
        let mut tampered = covered.clone();
        tampered[at] ^= 0x01;
        files.write_covered(&tampered);
        let out = files.verify();
        assert!(
            !out.status.success(),
            "openssl accepted the seal over the covered bytes with byte {at} flipped"
        );
    }
    // The untouched bytes verify again: the refusals were the flipped bytes'.
    files.write_covered(&covered);
    assert_verifies(&files);

    // Another certificate as the only trust: not this seal's.
    let (_, _, other_pem) = p256_identity("someone else");
    let other = Files::new(&covered, &der, &other_pem);
    assert!(!other.verify().status.success());
}

#[test]
fn openssl_sees_the_pades_attributes() {
    let (key, cert, pem) = p256_identity("attributes evidence seal");
    let cert_sha256 = hex::encode_upper(<sha2::Sha256 as sha2::Digest>::digest(&cert));
    let sealer = Sealer::new(&key, &[cert], "attributes").unwrap();
    let pdf = sealed(&document(), &sealer, None);
    let (covered, der) = covered_and_signature(&pdf);
    let printed = Files::new(&covered, &der, &pem).print();
    for name in [
        "id-smime-aa-signingCertificateV2",
        "messageDigest",
        "contentType",
        "ecdsa-with-SHA256",
        "sha256",
        "attributes evidence seal",
        // The seal certificate as embedded, with its key usage.
        "X509v3 Key Usage",
    ] {
        assert!(printed.contains(name), "{name} not in:\n{printed}");
    }
    // ESS signing-certificate-v2 names the seal certificate by its SHA-256.
    assert!(
        printed.contains(&cert_sha256),
        "{cert_sha256} not in:\n{printed}"
    );
    // PAdES: no signing time in the CMS, and no time-stamp when none was given.
    assert!(!printed.contains("signingTime"), "{printed}");
    assert!(!printed.contains("id-smime-aa-timeStampToken"), "{printed}");
    // Detached: no content in the CMS.
    assert!(printed.contains("eContent: <ABSENT>"), "{printed}");
}

#[test]
fn a_real_time_stamp_token_is_the_unsigned_attribute() {
    let (key, cert, pem) = p256_identity("stamped evidence seal");
    let sealer = Sealer::new(&key, &[cert], "stamped").unwrap();
    let prepared = seal::prepare(&document(), &sealer, ISSUED_AT).unwrap();
    let signature_value = prepared.signature_value().to_vec();
    // ECDSA P-256, ASN.1: a SEQUENCE of two INTEGERs.
    assert_eq!(signature_value[0], 0x30);
    assert_eq!(der_len(&signature_value), signature_value.len());

    let tsa = tsa::Tsa::new(tsa::Key::EcdsaP256, false);
    let token = tsa.stamp(&signature_value);
    assert!(tsa.openssl_verifies(&token, &signature_value));
    let pdf = prepared.finish(Some(&token)).unwrap();

    let (covered, der) = covered_and_signature(&pdf);
    assert!(
        der.windows(token.len()).any(|w| w == token.as_slice()),
        "the token is in the CMS as given"
    );
    let files = Files::new(&covered, &der, &pem);
    assert_verifies(&files);
    let printed = files.print();
    assert!(
        printed.contains("id-smime-aa-timeStampToken"),
        "no time-stamp attribute in:\n{printed}"
    );
    assert!(printed.contains("id-smime-aa-signingCertificateV2"));
    // The stamp is over this signature value, not another.
    assert!(!tsa.openssl_verifies(&token, b"another signature value"));
}

#[test]
fn a_der_token_is_kept_and_a_non_der_one_refused() {
    let (key, cert, pem) = p256_identity("token evidence seal");
    let sealer = Sealer::new(&key, &[cert], "token").unwrap();
    let doc = document();

    // Any DER SEQUENCE is carried as given (the seal does not parse the token).
    let token = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xAB];
    let pdf = sealed(&doc, &sealer, Some(&token));
    let (covered, der) = covered_and_signature(&pdf);
    assert!(der.windows(token.len()).any(|w| w == token));
    let files = Files::new(&covered, &der, &pem);
    assert_verifies(&files);
    let printed = files.print();
    assert!(
        printed.contains("id-smime-aa-timeStampToken"),
        "no time-stamp attribute in:\n{printed}"
    );

    for bad in [
        b"this is not a time-stamp token".as_slice(),
        &[],
        // A SEQUENCE whose length runs past the end.
        &[0x30, 0x10, 0x02, 0x01, 0x05],
        // A SEQUENCE and then more bytes.
        &[0x30, 0x03, 0x02, 0x01, 0x05, 0x00],
    ] {
        let prepared = seal::prepare(&doc, &sealer, ISSUED_AT).unwrap();
        let e = prepared.finish(Some(bad)).unwrap_err();
        assert!(matches!(e, SealError::Encoding(_)), "{bad:?}: {e:?}");
    }

    // A token too large for the reserved space.
    let n = seal::CONTENTS_LEN + 1;
    let mut huge = vec![0x04, 0x82];
    huge.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
    huge.resize(4 + n, 0x42);
    let prepared = seal::prepare(&doc, &sealer, ISSUED_AT).unwrap();
    let e = prepared.finish(Some(&huge)).unwrap_err();
    assert!(
        matches!(e, SealError::TooLarge { len, max } if len > max && max == seal::CONTENTS_LEN),
        "{e:?}"
    );
}

#[test]
fn sealer_refuses_wrong_keys_and_chains() {
    let (key, cert, _) = p256_identity("mine");
    let (other_key, other_cert, _) = p256_identity("theirs");
    assert!(Sealer::new(&key, std::slice::from_ref(&cert), "mine").is_ok());

    // A key that is not the certificate's.
    let e = Sealer::new(&other_key, std::slice::from_ref(&cert), "x").unwrap_err();
    assert!(matches!(e, SealError::KeyMismatch), "{e:?}");
    let e = Sealer::new(&key, std::slice::from_ref(&other_cert), "x").unwrap_err();
    assert!(matches!(e, SealError::KeyMismatch), "{e:?}");
    // The leaf must come first: the right certificate second is not enough.
    let e = Sealer::new(&key, &[other_cert.clone(), cert.clone()], "x").unwrap_err();
    assert!(matches!(e, SealError::KeyMismatch), "{e:?}");

    // Keys that are not PKCS#8 ECDSA P-256.
    let rsa = {
        let dir = tempfile::tempdir().unwrap();
        let out = openssl(
            dir.path(),
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
                "-out",
                "rsa.der",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(dir.path().join("rsa.der")).unwrap()
    };
    assert_eq!(rsa[0], 0x30, "a DER PKCS#8 key");
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
        .unwrap()
        .serialize_der();
    let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .unwrap()
        .serialize_der();
    let mut truncated = key.clone();
    truncated.truncate(key.len() - 1);
    for (what, bad) in [
        ("RSA", rsa.as_slice()),
        ("P-384", &p384),
        ("Ed25519", &ed25519),
        ("garbage", b"-----BEGIN PRIVATE KEY-----"),
        ("empty", &[]),
        ("truncated", &truncated),
    ] {
        let e = Sealer::new(bad, std::slice::from_ref(&cert), "x").unwrap_err();
        assert!(matches!(e, SealError::Key(_)), "{what}: {e:?}");
    }

    // No certificate, or one that is not X.509 DER.
    let e = Sealer::new(&key, &[], "x").unwrap_err();
    assert!(matches!(e, SealError::Certificate(_)), "{e:?}");
    let e = Sealer::new(&key, &[b"not a certificate".to_vec()], "x").unwrap_err();
    assert!(matches!(e, SealError::Certificate(_)), "{e:?}");
    let e = Sealer::new(&key, &[cert.clone(), vec![0x30, 0x00]], "x").unwrap_err();
    assert!(matches!(e, SealError::Certificate(_)), "{e:?}");
}

/// The document's attachments as the PDF's name tree lists them: sorted by name.
fn expected_attachments(doc: &Document) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = doc
        .attachments
        .iter()
        .map(|a| (a.name.clone(), a.bytes.clone()))
        .collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    v
}

fn read_back(pdf: &[u8]) -> Vec<(String, Vec<u8>)> {
    letro_verifier::pdf::attachments(pdf)
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.bytes))
        .collect()
}

#[test]
fn the_verifier_reads_back_exactly_the_attachments() {
    let doc = document();
    let expected = expected_attachments(&doc);
    assert_eq!(expected.len(), 3);
    assert_eq!(expected[0].0, "bundle.json");

    let unsealed = letro_certificate::render(&doc).unwrap();
    assert!(unsealed.starts_with(b"%PDF-"));
    assert_eq!(read_back(&unsealed), expected);

    let (key, cert, _) = p256_identity("read-back evidence seal");
    let sealer = Sealer::new(&key, &[cert], "read-back").unwrap();
    let sealed_pdf = sealed(&doc, &sealer, None);
    assert_ne!(sealed_pdf, unsealed);
    assert_eq!(read_back(&sealed_pdf), expected);

    // Without attachments: an empty list, not an error.
    let bare = Document {
        attachments: Vec::new(),
        ..doc.clone()
    };
    assert!(read_back(&letro_certificate::render(&bare).unwrap()).is_empty());
    assert!(read_back(&sealed(&bare, &sealer, None)).is_empty());
}

/// The hand-written seed of the `pdf` fuzz target (fuzz/seed.sh) is a PDF the reader accepts,
/// with its one attachment.
#[test]
fn the_minimal_pdf_seed_has_one_attachment() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pdf/minimal-attachment.pdf");
    let pdf = std::fs::read(&path).unwrap();
    assert_eq!(
        read_back(&pdf),
        vec![(
            "hello.txt".to_owned(),
            b"Hello from a minimal Letro test PDF.\n".to_vec()
        )]
    );
}

//! The issuer's seal: a PAdES baseline signature (ETSI EN 319 142-1, `ETSI.CAdES.detached`)
//! over the whole certificate, by the issuer's evidence-seal key (ECDSA P-256 with SHA-256),
//! with its certificate chain, and, when a time-stamping authority answers, an RFC 3161
//! time-stamp over the signature value (PAdES B-T; without one, B-B).
//!
//! Sealing is in two steps, so that the time-stamp can be fetched over the network in between:
//! [`prepare`] writes the PDF with an empty signature, signs the covered bytes and returns a
//! [`Prepared`] whose [`Prepared::signature_value`] is what the TSA stamps;
//! [`Prepared::finish`] puts the CMS `SignedData` (with the token, if any) into the PDF.
//!
//! The CMS structure, built with RustCrypto's `cms` types:
//! - `SignedData` v1, digest SHA-256, detached `id-data` content, the signer's chain;
//! - one `SignerInfo` (issuer and serial) whose signed attributes are the content type, the
//!   message digest of the covered bytes and ESS `signing-certificate-v2` (RFC 5035) naming
//!   the seal certificate by its SHA-256; PAdES puts the signing time in the signature
//!   dictionary (`M`), not in the CMS;
//! - the unsigned attribute `signature-time-stamp-token` (RFC 3161 appendix A) when stamped.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignatureValue, SignedAttributes, SignedData,
    SignerIdentifier, SignerInfo, SignerInfos, UnsignedAttributes,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use sha2::{Digest, Sha256};
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::pdf::{SealSpace, BYTE_RANGE_PLACEHOLDER, CONTENTS_FILL};
use crate::{CertificateError, Document};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SIGNATURE_TIME_STAMP: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Bytes reserved in the PDF for the CMS signature: the signature, the chain and a time-stamp
/// token with its TSA's chain.
pub const CONTENTS_LEN: usize = 24 * 1024;

/// Why a seal could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The seal key is not a PKCS#8 ECDSA P-256 key.
    #[error("the seal key is not a PKCS#8 ECDSA P-256 private key: {0}")]
    Key(String),
    /// The certificate chain is empty or not X.509.
    #[error("the seal certificate chain: {0}")]
    Certificate(String),
    /// The first certificate is not for the seal key.
    #[error("the first certificate is not the seal key's (its public key differs)")]
    KeyMismatch,
    /// The CMS structure could not be encoded.
    #[error("encoding the CMS signature: {0}")]
    Encoding(String),
    /// The signature (with its chain and time-stamp) does not fit the reserved space.
    #[error("the signature is {len} bytes, more than the {max} reserved")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The room.
        max: usize,
    },
    /// The PDF has no (or more than one) placeholder; a bug in the writer.
    #[error("the PDF's signature placeholder was not found exactly once")]
    Placeholder,
    /// Signing failed.
    #[error("signing failed")]
    Sign,
}

/// The issuer's seal key and its certificate chain (leaf first).
pub struct Sealer {
    key: EcdsaKeyPair,
    chain: Vec<Certificate>,
    name: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer from a PKCS#8 ECDSA P-256 key and its chain (DER, leaf first); `name` is the
    /// issuer as the signature dictionary names it.
    pub fn new(pkcs8: &[u8], chain_der: &[Vec<u8>], name: &str) -> Result<Self, SealError> {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
                .map_err(|e| SealError::Key(e.to_string()))?;
        let mut chain = Vec::new();
        for (i, c) in chain_der.iter().enumerate() {
            chain.push(
                Certificate::from_der(c)
                    .map_err(|e| SealError::Certificate(format!("certificate {i}: {e}")))?,
            );
        }
        let leaf = chain
            .first()
            .ok_or_else(|| SealError::Certificate("no certificate".into()))?;
        let spki = &leaf.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != ID_EC_PUBLIC_KEY
            || spki.subject_public_key.raw_bytes() != key.public_key().as_ref()
        {
            return Err(SealError::KeyMismatch);
        }
        Ok(Self {
            key,
            chain,
            name: name.to_owned(),
        })
    }

    /// The issuer's name, as the seal states it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A certificate written and signed, waiting for the time-stamp over its signature.
#[derive(Debug)]
pub struct Prepared {
    pdf: Vec<u8>,
    contents_at: usize,
    signer_info: SignerInfo,
    chain: Vec<Certificate>,
    signature: Vec<u8>,
}

fn algorithm(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn encoding(e: der::Error) -> SealError {
    SealError::Encoding(e.to_string())
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SealError> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(encoding)?;
    Ok(Attribute { oid, values })
}

/// Finds `needle` exactly once in `hay`.
fn find_once(hay: &[u8], needle: &[u8]) -> Result<usize, SealError> {
    let mut found = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    match (found.next(), found.next()) {
        (Some(i), None) => Ok(i),
        _ => Err(SealError::Placeholder),
    }
}

/// Writes `doc` with room for the seal, fills in the byte range and signs the covered bytes.
pub fn prepare(doc: &Document, sealer: &Sealer, time: u64) -> Result<Prepared, CertificateError> {
    let space = SealSpace {
        contents_len: CONTENTS_LEN,
        time,
        name: sealer.name.clone(),
    };
    let mut pdf = crate::pdf::write(doc, Some(&space))?;

    // The Contents placeholder: "<FFFF...>".
    let mut hex = Vec::with_capacity(2 * CONTENTS_LEN + 2);
    hex.push(b'<');
    for _ in 0..CONTENTS_LEN {
        hex.extend_from_slice(format!("{CONTENTS_FILL:02X}").as_bytes());
    }
    hex.push(b'>');
    let contents_at = find_once(&pdf, &hex)?;
    let after = contents_at + hex.len();

    // The ByteRange: everything but the hex string, written in the placeholder's width.
    let placeholder = format!(
        "/ByteRange [{} {} {} {}]",
        BYTE_RANGE_PLACEHOLDER[0],
        BYTE_RANGE_PLACEHOLDER[1],
        BYTE_RANGE_PLACEHOLDER[2],
        BYTE_RANGE_PLACEHOLDER[3]
    );
    let at = find_once(&pdf, placeholder.as_bytes())?;
    let range = format!("/ByteRange [0 {contents_at} {after} {}", pdf.len() - after);
    if range.len() + 1 > placeholder.len() {
        return Err(SealError::Placeholder.into());
    }
    let filled = format!("{range:<width$}]", width = placeholder.len() - 1);
    pdf.get_mut(at..at + placeholder.len())
        .ok_or(SealError::Placeholder)?
        .copy_from_slice(filled.as_bytes());

    // The digest of the covered bytes.
    let mut h = Sha256::new();
    h.update(pdf.get(..contents_at).ok_or(SealError::Placeholder)?);
    h.update(pdf.get(after..).ok_or(SealError::Placeholder)?);
    let digest = h.finalize();

    let leaf = sealer.chain.first().ok_or(SealError::KeyMismatch)?;
    let leaf_der = leaf.to_der().map_err(encoding)?;
    // SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }, ESSCertIDv2 with the
    // default hash algorithm (SHA-256) and the certificate's hash.
    let signing_certificate = Any::encode_from(&SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(Sha256::digest(&leaf_der).to_vec()).map_err(encoding)?,
        }],
    })
    .map_err(encoding)?;
    let mut signed = SignedAttributes::new();
    signed
        .insert(attribute(ID_CONTENT_TYPE, Any::from(ID_DATA))?)
        .map_err(encoding)?;
    signed
        .insert(attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(encoding)?)
                .map_err(encoding)?,
        )?)
        .map_err(encoding)?;
    signed
        .insert(attribute(ID_SIGNING_CERTIFICATE_V2, signing_certificate)?)
        .map_err(encoding)?;
    let to_sign = signed.to_der().map_err(encoding)?;
    let signature = sealer
        .key
        .sign(&SystemRandom::new(), &to_sign)
        .map_err(|_| SealError::Sign)?
        .as_ref()
        .to_vec();

    let signer_info = SignerInfo {
        version: cms::content_info::CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate.issuer.clone(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: algorithm(ID_SHA256),
        signed_attrs: Some(signed),
        signature_algorithm: algorithm(ID_ECDSA_SHA256),
        signature: SignatureValue::new(signature.clone()).map_err(encoding)?,
        unsigned_attrs: None,
    };
    Ok(Prepared {
        pdf,
        contents_at,
        signer_info,
        chain: sealer.chain.clone(),
        signature,
    })
}

/// ESS `SigningCertificateV2` (RFC 5035): the certificates that may sign, here the seal's.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// ESS `ESSCertIDv2` with the default hash algorithm (SHA-256, so omitted) and no issuer.
#[derive(Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

impl Prepared {
    /// The signature value: what an RFC 3161 time-stamp for the seal covers (its SHA-256 is
    /// the request's message imprint).
    pub fn signature_value(&self) -> &[u8] {
        &self.signature
    }

    /// Puts the CMS signature, with `timestamp` (an RFC 3161 token over
    /// [`Self::signature_value`]) when given, into the PDF and returns the sealed file.
    /// Leaves `self` as it was, so that a caller whose token does not fit
    /// ([`SealError::TooLarge`]) can seal without it.
    pub fn finish(&self, timestamp: Option<&[u8]>) -> Result<Vec<u8>, SealError> {
        let mut info = self.signer_info.clone();
        if let Some(token) = timestamp {
            let mut unsigned = UnsignedAttributes::new();
            unsigned
                .insert(attribute(
                    ID_SIGNATURE_TIME_STAMP,
                    Any::from_der(token).map_err(encoding)?,
                )?)
                .map_err(encoding)?;
            info.unsigned_attrs = Some(unsigned);
        }
        let mut digests = SetOfVec::new();
        digests.insert(algorithm(ID_SHA256)).map_err(encoding)?;
        let mut certs = SetOfVec::new();
        for c in self.chain.iter().cloned() {
            certs
                .insert(CertificateChoices::Certificate(c))
                .map_err(encoding)?;
        }
        let mut infos = SetOfVec::new();
        infos.insert(info).map_err(encoding)?;
        let signed_data = SignedData {
            version: cms::content_info::CmsVersion::V1,
            digest_algorithms: digests,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: Some(CertificateSet(certs)),
            crls: None,
            signer_infos: SignerInfos(infos),
        };
        let content = ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(encoding)?,
        };
        let der = content.to_der().map_err(encoding)?;
        if der.len() > CONTENTS_LEN {
            return Err(SealError::TooLarge {
                len: der.len(),
                max: CONTENTS_LEN,
            });
        }
        let mut hex = hex::encode_upper(&der).into_bytes();
        hex.resize(2 * CONTENTS_LEN, b'0');
        let start = self.contents_at + 1;
        let mut pdf = self.pdf.clone();
        pdf.get_mut(start..start + hex.len())
            .ok_or(SealError::Placeholder)?
            .copy_from_slice(&hex);
        Ok(pdf)
    }
}

//! RFC 3161 time-stamps over checkpoints: the request a log sends to a time-stamping authority
//! (TSA), the check of its answer, and the verification of a time-stamp token.
//!
//! A token is a CMS `SignedData` (RFC 5652) whose content is a `TSTInfo`: the TSA's time
//! (`genTime`) and the hash of the time-stamped bytes (`messageImprint`). Letro time-stamps the
//! exact bytes of a checkpoint's body (the signed note's text, which the log's signature and
//! the witnesses' cosignatures cover), so a verified token says, on the TSA's clock and not the
//! operator's, that the checkpoint, and every entry it includes, existed by `genTime`.
//!
//! [`verify`] checks, in order: the token's form (`SignedData` with one signer over a
//! `TSTInfo`); the message imprint (SHA-256, -384 or -512 of the message); the signed attributes
//! (content type, message digest, and the ESS signing-certificate attribute naming the signer's
//! certificate, RFC 2634 / RFC 5035); the signature (RSA PKCS#1 v1.5 or ECDSA on P-256 or
//! P-384); that the signer's certificate has exactly one extended key usage, `timeStamping`,
//! marked critical (RFC 3161 §2.3); and, when trusted certificates are given, its chain to one
//! of them, valid at `genTime` (rustls-webpki). Revocation is not checked.
//!
//! No I/O: the service sends the request, letro-verify reads the token from a document.

use cms::cert::x509::Certificate;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, Int, OctetString};
use der::{Decode, Encode, Sequence, Tagged};
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::Digest;

/// `id-signedData` (RFC 5652).
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-ct-TSTInfo` (RFC 3161).
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// `id-contentType` (RFC 5652 §11.1).
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` (RFC 5652 §11.2).
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// `id-aa-signingCertificate` (RFC 2634 §5.4).
const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// `id-aa-signingCertificateV2` (RFC 5035 §3).
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// `id-ce-extKeyUsage`.
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-kp-timeStamping`.
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// The DER contents of `id-kp-timeStamping`, as rustls-webpki takes it.
const TIME_STAMPING_OID_BYTES: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// Most bytes a token may have (a token with a few certificates is 2 to 8 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The hash functions a message imprint or a signer's digest may use. SHA-1 is refused: its
/// collisions would let one token cover two messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            ID_SHA256 => Some(Self::Sha256),
            ID_SHA384 => Some(Self::Sha384),
            ID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

/// Why a TSA's answer or a time-stamp token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Larger than any token.
    #[error("the time-stamp is larger than {MAX_TOKEN_LEN} bytes")]
    TooLarge,
    /// Not DER of the expected ASN.1 shape.
    #[error("malformed time-stamp {what}: {reason}")]
    Malformed {
        /// The structure.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// The TSA did not grant the request.
    #[error("the TSA refused the request (PKIStatus {status}{})", text.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    Refused {
        /// `PKIStatus` (0 granted, 1 granted with modifications, 2 rejection, ...).
        status: u8,
        /// Its free text, if any.
        text: Option<String>,
    },
    /// A granted answer without a token.
    #[error("the TSA's answer has no time-stamp token")]
    NoToken,
    /// The token is not a `SignedData` over a `TSTInfo`.
    #[error("the token is not an RFC 3161 time-stamp token: {0}")]
    NotATimestamp(String),
    /// The imprint's hash function is not one accepted.
    #[error("the message imprint uses hash algorithm {0}, not SHA-256, SHA-384 or SHA-512")]
    ImprintAlgorithm(String),
    /// The imprint is not the hash of the message.
    #[error("the time-stamp's message imprint is not the {0} of the checkpoint")]
    Imprint(&'static str),
    /// The answer's nonce is not the request's.
    #[error("the TSA's answer does not carry the request's nonce")]
    Nonce,
    /// Not exactly one signer.
    #[error("the token has {0} signers, not one")]
    Signers(usize),
    /// The signer's certificate is not in the token (nor among the trusted certificates).
    #[error("the signer's certificate is not in the token")]
    SignerCertificate,
    /// A signed attribute is missing or wrong.
    #[error("signed attributes: {0}")]
    SignedAttributes(String),
    /// The signature algorithm is not one accepted.
    #[error("signature algorithm {signature} with digest {digest} is not supported (RSA PKCS#1 v1.5 or ECDSA with SHA-256, -384 or -512)")]
    SignatureAlgorithm {
        /// The signature algorithm's OID.
        signature: String,
        /// The digest algorithm's OID.
        digest: String,
    },
    /// The signature does not verify under the signer's certificate.
    #[error("the TSA's signature does not verify: {0}")]
    Signature(String),
    /// The signer's certificate is not a time-stamping certificate.
    #[error("the signer's certificate is not a TSA certificate: {0}")]
    KeyUsage(String),
    /// The signer's certificate does not chain to a trusted certificate at `genTime`.
    #[error("the TSA's certificate does not chain to a trusted certificate at the time-stamp's time: {0}")]
    Chain(String),
    /// A trusted certificate could not be used as a trust anchor.
    #[error("trusted TSA certificate {index}: {reason}")]
    TrustAnchor {
        /// Its position in the list given.
        index: usize,
        /// Why.
        reason: String,
    },
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> TimestampError {
    move |e| TimestampError::Malformed {
        what,
        reason: e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// ASN.1 shapes (RFC 3161 §2.4, RFC 2634 §5.4, RFC 5035 §3)

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct MessageImprint {
    hash_algorithm: spki::AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `TimeStampReq`, as sent (no policy, no extensions).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Any>,
    #[asn1(optional = "true")]
    fail_info: Option<der::asn1::BitString>,
}

/// `TSTInfo`, with `genTime` kept as its raw GeneralizedTime so that fractional seconds (which
/// RFC 3161 allows and many TSAs send) are read.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Any>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// `ESSCertID` / `ESSCertIDv2` (the hash algorithm is absent in v1, where it is SHA-1, and
/// defaults to SHA-256 in v2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<spki::AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

// ---------------------------------------------------------------------------------------------
// The request and the answer

/// The request for a time-stamp over `message`: SHA-256 imprint, the nonce, and `certReq` set
/// (the token carries the TSA's certificate). DER, as `application/timestamp-query`.
pub fn request(message: &[u8], nonce: &[u8; 16]) -> Result<Vec<u8>, TimestampError> {
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: spki::AlgorithmIdentifierOwned {
                oid: ID_SHA256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(sha2::Sha256::digest(message).to_vec())
                .map_err(malformed("request"))?,
        },
        nonce: Some(Int::new(&positive(nonce)).map_err(malformed("request"))?),
        cert_req: true,
    };
    req.to_der().map_err(malformed("request"))
}

/// A nonce as a positive INTEGER's content (a leading zero if the top bit is set).
fn positive(nonce: &[u8; 16]) -> Vec<u8> {
    let mut v = Vec::with_capacity(17);
    if nonce.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(nonce);
    v
}

/// Checks a TSA's answer (`application/timestamp-reply`) to [`request`]`(message, nonce)`:
/// granted, with a token whose imprint is the message's hash and whose nonce is the request's,
/// signed by a time-stamping certificate (the chain is not checked here: [`verify`]). Returns
/// the token's DER and what it says.
pub fn token_from_response(
    response: &[u8],
    message: &[u8],
    nonce: &[u8; 16],
) -> Result<(Vec<u8>, VerifiedTimestamp), TimestampError> {
    if response.len() > MAX_TOKEN_LEN {
        return Err(TimestampError::TooLarge);
    }
    // The token is kept byte for byte as the TSA sent it (never re-encoded: a DER SET's order
    // is part of what other verifiers check).
    let (status, token) = split_response(response).map_err(malformed("response"))?;
    let status = PkiStatusInfo::from_der(status).map_err(malformed("response status"))?;
    if status.status > 1 {
        return Err(TimestampError::Refused {
            status: status.status,
            text: status.status_string.map(|s| {
                String::from_utf8_lossy(s.value())
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect()
            }),
        });
    }
    let der = token.ok_or(TimestampError::NoToken)?.to_vec();
    let parsed = Token::parse(&der)?;
    let verified = verify_parsed(&parsed, message, &[])?;
    let sent = Int::new(&positive(nonce)).map_err(malformed("request"))?;
    if parsed.tst_info.nonce.as_ref() != Some(&sent) {
        return Err(TimestampError::Nonce);
    }
    Ok((der, verified))
}

/// A `TimeStampResp`'s two members as their raw TLVs: the status and the token, if any.
fn split_response(response: &[u8]) -> der::Result<(&[u8], Option<&[u8]>)> {
    use der::Reader;
    let mut reader = der::SliceReader::new(response)?;
    let parts = reader.sequence(|r| {
        let status = r.tlv_bytes()?;
        let token = if r.is_finished() {
            None
        } else {
            Some(r.tlv_bytes()?)
        };
        Ok((status, token))
    })?;
    reader.finish(parts)
}

// ---------------------------------------------------------------------------------------------
// The token

struct Token {
    signed_data: SignedData,
    tst_info: TstInfo,
    tst_info_der: Vec<u8>,
}

impl Token {
    fn parse(der: &[u8]) -> Result<Self, TimestampError> {
        if der.len() > MAX_TOKEN_LEN {
            return Err(TimestampError::TooLarge);
        }
        let info = ContentInfo::from_der(der).map_err(malformed("token"))?;
        if info.content_type != ID_SIGNED_DATA {
            return Err(TimestampError::NotATimestamp(format!(
                "content type {} is not signed data",
                info.content_type
            )));
        }
        let signed_data = info
            .content
            .decode_as::<SignedData>()
            .map_err(malformed("signed data"))?;
        let encap = &signed_data.encap_content_info;
        if encap.econtent_type != ID_CT_TST_INFO {
            return Err(TimestampError::NotATimestamp(format!(
                "encapsulated content type {} is not TSTInfo",
                encap.econtent_type
            )));
        }
        let content = encap
            .econtent
            .as_ref()
            .ok_or_else(|| TimestampError::NotATimestamp("no encapsulated TSTInfo".into()))?;
        let octets = content
            .decode_as::<OctetString>()
            .map_err(malformed("TSTInfo"))?;
        let tst_info_der = octets.as_bytes().to_vec();
        let tst_info = TstInfo::from_der(&tst_info_der).map_err(malformed("TSTInfo"))?;
        if tst_info.version != 1 {
            return Err(TimestampError::NotATimestamp(format!(
                "TSTInfo version {}",
                tst_info.version
            )));
        }
        Ok(Self {
            signed_data,
            tst_info,
            tst_info_der,
        })
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime`, Unix seconds (fractions dropped).
    pub time: u64,
    /// The latest time the token allows: `genTime` rounded up plus its accuracy, Unix seconds.
    /// The upper bound a verifier reports.
    pub latest: u64,
    /// The TSA's stated accuracy, milliseconds, if it gives one.
    pub accuracy_ms: Option<u64>,
    /// `genTime` as the token writes it (GeneralizedTime).
    pub time_text: String,
    /// The TSA's policy OID.
    pub policy: String,
    /// The token's serial number, hex.
    pub serial: String,
    /// The imprint's hash function.
    pub imprint: HashAlgorithm,
    /// The signer's certificate's subject (RFC 4514).
    pub signer: String,
    /// The signature algorithm, in words.
    pub algorithm: &'static str,
    /// The trusted certificate the chain ends at (its subject), or `None` when no trusted
    /// certificate was given (the chain was not checked).
    pub anchor: Option<String>,
}

/// Verifies a time-stamp token over `message` (see the module documentation for every
/// check). With `trusted` empty, everything but the chain is checked and the result's
/// `anchor` is `None`: the token is intact and says what it says, but nobody trusted said it.
pub fn verify(
    token: &[u8],
    message: &[u8],
    trusted: &[CertificateDer<'_>],
) -> Result<VerifiedTimestamp, TimestampError> {
    verify_parsed(&Token::parse(token)?, message, trusted)
}

/// [`verify`] of a parsed token.
fn verify_parsed(
    t: &Token,
    message: &[u8],
    trusted: &[CertificateDer<'_>],
) -> Result<VerifiedTimestamp, TimestampError> {
    // The message imprint.
    let imprint = &t.tst_info.message_imprint;
    let imprint_alg = HashAlgorithm::from_oid(&imprint.hash_algorithm.oid)
        .ok_or_else(|| TimestampError::ImprintAlgorithm(imprint.hash_algorithm.oid.to_string()))?;
    if imprint.hashed_message.as_bytes() != imprint_alg.digest(message).as_slice() {
        return Err(TimestampError::Imprint(imprint_alg.name()));
    }
    let (time, time_text) = gen_time(&t.tst_info.gen_time)?;
    // One signer, its certificate.
    let signers: Vec<&SignerInfo> = t.signed_data.signer_infos.0.iter().collect();
    let [signer] = signers.as_slice() else {
        return Err(TimestampError::Signers(signers.len()));
    };
    let certificates: Vec<&Certificate> = t
        .signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    // The signer's certificate must be in the token (letro asks with `certReq`): whether a
    // token is intact never depends on which certificates the verifier trusts.
    let cert = certificates
        .iter()
        .copied()
        .find(|c| identifies(&signer.sid, c))
        .ok_or(TimestampError::SignerCertificate)?;
    let cert_der = cert.to_der().map_err(malformed("certificate"))?;
    // The signed attributes.
    let digest_alg = HashAlgorithm::from_oid(&signer.digest_alg.oid).ok_or_else(|| {
        TimestampError::SignatureAlgorithm {
            signature: signer.signature_algorithm.oid.to_string(),
            digest: signer.digest_alg.oid.to_string(),
        }
    })?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TimestampError::SignedAttributes("none (RFC 3161 requires them)".into()))?;
    let attr = |oid: ObjectIdentifier, name: &str| -> Result<&Any, TimestampError> {
        let found: Vec<_> = attrs.iter().filter(|a| a.oid == oid).collect();
        let [a] = found.as_slice() else {
            return Err(TimestampError::SignedAttributes(format!(
                "{} {name} attributes, not one",
                found.len()
            )));
        };
        let values: Vec<&Any> = a.values.iter().collect();
        match values.as_slice() {
            [v] => Ok(*v),
            _ => Err(TimestampError::SignedAttributes(format!(
                "the {name} attribute has {} values, not one",
                values.len()
            ))),
        }
    };
    let content_type = attr(ID_CONTENT_TYPE, "content-type")?
        .decode_as::<ObjectIdentifier>()
        .map_err(malformed("content-type attribute"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(TimestampError::SignedAttributes(format!(
            "the content-type attribute is {content_type}, not TSTInfo"
        )));
    }
    let digest = attr(ID_MESSAGE_DIGEST, "message-digest")?
        .decode_as::<OctetString>()
        .map_err(malformed("message-digest attribute"))?;
    if digest.as_bytes() != digest_alg.digest(&t.tst_info_der).as_slice() {
        return Err(TimestampError::SignedAttributes(
            "the message-digest attribute is not the digest of the TSTInfo".into(),
        ));
    }
    check_signing_certificate(attrs, &cert_der)?;
    // The signature over the DER of the signed attributes (RFC 5652 §5.4: as a SET OF).
    let signed = attrs.to_der().map_err(malformed("signed attributes"))?;
    let end_entity = rustls_pki_types::CertificateDer::from(cert_der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&end_entity)
        .map_err(|e| TimestampError::KeyUsage(format!("unreadable certificate: {e:?}")))?;
    let (algorithm, candidates) = signature_algorithms(&signer.signature_algorithm.oid, digest_alg)
        .ok_or_else(|| TimestampError::SignatureAlgorithm {
            signature: signer.signature_algorithm.oid.to_string(),
            digest: signer.digest_alg.oid.to_string(),
        })?;
    let mut last = String::from("no algorithm fits the key");
    let verified = candidates.iter().any(|alg| {
        match ee.verify_signature(*alg, &signed, signer.signature.as_bytes()) {
            Ok(()) => true,
            Err(e) => {
                if !matches!(
                    e,
                    webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
                ) {
                    last = format!("{e:?}");
                }
                false
            }
        }
    });
    if !verified {
        return Err(TimestampError::Signature(last));
    }
    // The certificate's purpose: exactly timeStamping, critical.
    check_time_stamping_usage(cert)?;
    // The chain, at genTime.
    let anchor = if trusted.is_empty() {
        None
    } else {
        Some(check_chain(
            &end_entity,
            cert,
            &certificates,
            trusted,
            time,
        )?)
    };
    let accuracy_ms = t.tst_info.accuracy.as_ref().map(|a| {
        u64::from(a.seconds.unwrap_or(0)) * 1000
            + u64::from(a.millis.unwrap_or(0))
            + u64::from(a.micros.unwrap_or(0)).div_ceil(1000)
    });
    // The TSA says the time is within genTime ± accuracy: the latest it allows, rounded up.
    let fraction = u64::from(time_text.contains('.'));
    let latest = time
        .saturating_add(fraction)
        .saturating_add(accuracy_ms.unwrap_or(0).div_ceil(1000));
    Ok(VerifiedTimestamp {
        time,
        latest,
        accuracy_ms,
        time_text,
        policy: t.tst_info.policy.to_string(),
        serial: hex::encode(t.tst_info.serial_number.as_bytes()),
        imprint: imprint_alg,
        signer: cert.tbs_certificate.subject.to_string(),
        algorithm,
        anchor,
    })
}

/// Whether `sid` names `cert`.
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == cert.tbs_certificate.issuer
                && is.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)
            .any(|e| {
                OctetString::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|v| v.as_bytes() == ski.0.as_bytes())
            }),
    }
}

/// The ESS signing-certificate attribute (v1 with SHA-1, or v2) must name the signer's
/// certificate by its hash (RFC 3161 §2.4.1, RFC 5816).
fn check_signing_certificate(
    attrs: &cms::signed_data::SignedAttributes,
    cert_der: &[u8],
) -> Result<(), TimestampError> {
    let found: Vec<_> = attrs
        .iter()
        .filter(|a| a.oid == ID_AA_SIGNING_CERTIFICATE || a.oid == ID_AA_SIGNING_CERTIFICATE_V2)
        .collect();
    let [a] = found.as_slice() else {
        return Err(TimestampError::SignedAttributes(format!(
            "{} ESS signing-certificate attributes, not one",
            found.len()
        )));
    };
    let value = a.values.iter().next().ok_or_else(|| {
        TimestampError::SignedAttributes("an empty signing-certificate attribute".into())
    })?;
    let sc = value
        .decode_as::<SigningCertificate>()
        .map_err(malformed("signing-certificate attribute"))?;
    let first = sc.certs.first().ok_or_else(|| {
        TimestampError::SignedAttributes("the signing-certificate attribute names none".into())
    })?;
    let hash = if a.oid == ID_AA_SIGNING_CERTIFICATE {
        if first.hash_algorithm.is_some() {
            return Err(TimestampError::SignedAttributes(
                "a v1 signing-certificate attribute with a hash algorithm".into(),
            ));
        }
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der)
            .as_ref()
            .to_vec()
    } else {
        let alg = match &first.hash_algorithm {
            None => HashAlgorithm::Sha256,
            Some(a) => HashAlgorithm::from_oid(&a.oid).ok_or_else(|| {
                TimestampError::SignedAttributes(format!(
                    "the signing-certificate attribute's hash algorithm {} is not supported",
                    a.oid
                ))
            })?,
        };
        alg.digest(cert_der)
    };
    if first.cert_hash.as_bytes() != hash.as_slice() {
        return Err(TimestampError::SignedAttributes(
            "the signing-certificate attribute does not name the signer's certificate".into(),
        ));
    }
    Ok(())
}

type Algorithms = Vec<&'static dyn rustls_pki_types::SignatureVerificationAlgorithm>;

/// The signature algorithm's name and its rustls-webpki candidates (one per curve for ECDSA:
/// the certificate's key picks).
fn signature_algorithms(
    oid: &ObjectIdentifier,
    digest: HashAlgorithm,
) -> Option<(&'static str, Algorithms)> {
    use webpki::ring as alg;
    Some(match (*oid, digest) {
        (RSA_ENCRYPTION, HashAlgorithm::Sha256) | (SHA256_WITH_RSA, _) => (
            "RSA PKCS#1 v1.5 with SHA-256",
            vec![alg::RSA_PKCS1_2048_8192_SHA256],
        ),
        (RSA_ENCRYPTION, HashAlgorithm::Sha384) | (SHA384_WITH_RSA, _) => (
            "RSA PKCS#1 v1.5 with SHA-384",
            vec![alg::RSA_PKCS1_2048_8192_SHA384],
        ),
        (RSA_ENCRYPTION, HashAlgorithm::Sha512) | (SHA512_WITH_RSA, _) => (
            "RSA PKCS#1 v1.5 with SHA-512",
            vec![alg::RSA_PKCS1_2048_8192_SHA512],
        ),
        (ECDSA_WITH_SHA256, _) => (
            "ECDSA with SHA-256",
            vec![alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        ),
        (ECDSA_WITH_SHA384, _) => (
            "ECDSA with SHA-384",
            vec![alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        ),
        _ => return None,
    })
}

/// RFC 3161 §2.3: the TSA's certificate has one extended key usage extension, critical, with
/// `id-kp-timeStamping` as its only purpose.
fn check_time_stamping_usage(cert: &Certificate) -> Result<(), TimestampError> {
    let ekus: Vec<_> = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
        .collect();
    let [eku] = ekus.as_slice() else {
        return Err(TimestampError::KeyUsage(format!(
            "{} extended key usage extensions, not one",
            ekus.len()
        )));
    };
    if !eku.critical {
        return Err(TimestampError::KeyUsage(
            "the extended key usage extension is not critical".into(),
        ));
    }
    let purposes = Vec::<ObjectIdentifier>::from_der(eku.extn_value.as_bytes())
        .map_err(malformed("extended key usage"))?;
    if purposes != [ID_KP_TIME_STAMPING] {
        return Err(TimestampError::KeyUsage(format!(
            "its extended key usages are [{}], not only timeStamping",
            purposes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// The chain from the signer's certificate to one of `trusted`, valid at `time` (the token's
/// other certificates may be intermediates). A trusted certificate may be the TSA's own.
fn check_chain(
    end_entity: &CertificateDer<'_>,
    cert: &Certificate,
    certificates: &[&Certificate],
    trusted: &[CertificateDer<'_>],
    time: u64,
) -> Result<String, TimestampError> {
    // The TSA's certificate itself trusted: its validity at genTime is what remains.
    if trusted.iter().any(|t| t.as_ref() == end_entity.as_ref()) {
        let validity = &cert.tbs_certificate.validity;
        let from = validity.not_before.to_unix_duration().as_secs();
        let until = validity.not_after.to_unix_duration().as_secs();
        if time < from || time > until {
            return Err(TimestampError::Chain(format!(
                "the trusted TSA certificate is valid from {from} to {until}, not at {time}"
            )));
        }
        return Ok(cert.tbs_certificate.subject.to_string());
    }
    let anchors = trusted
        .iter()
        .enumerate()
        .map(|(index, c)| {
            webpki::anchor_from_trusted_cert(c).map_err(|e| TimestampError::TrustAnchor {
                index,
                reason: format!("{e:?}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let intermediates: Vec<CertificateDer<'static>> = certificates
        .iter()
        .filter_map(|c| c.to_der().ok())
        .filter(|d| d.as_slice() != end_entity.as_ref())
        .map(CertificateDer::from)
        .collect();
    let ee = webpki::EndEntityCert::try_from(end_entity)
        .map_err(|e| TimestampError::Chain(format!("{e:?}")))?;
    let path = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(time)),
            // The TSA's own certificate was held to exactly `timeStamping` above; rustls-webpki
            // applies this to the issuers too, where an EKU is often absent.
            webpki::KeyUsage::required_if_present(TIME_STAMPING_OID_BYTES),
            None,
            None,
        )
        .map_err(|e| TimestampError::Chain(format!("{e:?}")))?;
    let anchor = path.anchor();
    let subject = x509_cert::name::Name::from_der(&with_sequence_tag(anchor.subject.as_ref()))
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "a trusted certificate".into());
    Ok(subject)
}

/// A `Name`'s contents as rustls-webpki keeps them (without the SEQUENCE header), re-wrapped.
fn with_sequence_tag(contents: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// `genTime` (GeneralizedTime, `YYYYMMDDHHMMSS[.f...]Z`): Unix seconds and its text.
fn gen_time(any: &Any) -> Result<(u64, String), TimestampError> {
    let bad = |why: &str| TimestampError::Malformed {
        what: "genTime",
        reason: why.to_owned(),
    };
    if any.tag() != der::Tag::GeneralizedTime {
        return Err(bad("not a GeneralizedTime"));
    }
    let text = std::str::from_utf8(any.value()).map_err(|_| bad("not ASCII"))?;
    let body = text
        .strip_suffix('Z')
        .ok_or_else(|| bad("not in UTC (no Z)"))?;
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if let Some(f) = fraction {
        // DER: no trailing zeros, at least one digit.
        if f.is_empty() || f.ends_with('0') || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("a malformed fraction of a second"));
        }
    }
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not YYYYMMDDHHMMSS"));
    }
    let num = |from: usize, to: usize| -> Result<u16, TimestampError> {
        whole
            .get(from..to)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("not YYYYMMDDHHMMSS"))
    };
    let small = |from, to| -> Result<u8, TimestampError> {
        u8::try_from(num(from, to)?).map_err(|_| bad("out of range"))
    };
    let dt = der::DateTime::new(
        num(0, 4)?,
        small(4, 6)?,
        small(6, 8)?,
        small(8, 10)?,
        small(10, 12)?,
        small(12, 14)?,
    )
    .map_err(|e| bad(&e.to_string()))?;
    Ok((dt.unix_duration().as_secs(), text.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn gen_time_reads_whole_and_fractional_seconds_and_refuses_the_rest() {
        let t = |s: &str| gen_time(&Any::new(der::Tag::GeneralizedTime, s.as_bytes()).unwrap());
        assert_eq!(t("20261203064500Z").unwrap().0, 1_796_280_300);
        assert_eq!(t("20261203064500.25Z").unwrap().0, 1_796_280_300);
        for bad in [
            "20261203064500",
            "20261203064500.Z",
            "20261203064500.250Z",
            "2026120306450Z",
            "20261303064500Z",
            "20261203064500+0100",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_is_der_with_the_imprint_nonce_and_cert_req() {
        let nonce = [0x80; 16];
        let der = request(b"checkpoint", &nonce).unwrap();
        let req = TimeStampReq::from_der(&der).unwrap();
        assert_eq!(req.version, 1);
        assert!(req.cert_req);
        assert_eq!(
            req.message_imprint.hashed_message.as_bytes(),
            sha2::Sha256::digest(b"checkpoint").as_slice()
        );
        assert_eq!(req.nonce, Some(Int::new(&positive(&nonce)).unwrap()));
    }

    #[test]
    fn garbage_is_refused_as_malformed() {
        for bytes in [&b""[..], b"\x30\x00", b"not der", &[0x30, 0x82, 0xff, 0xff]] {
            assert!(matches!(
                verify(bytes, b"m", &[]),
                Err(TimestampError::Malformed { .. })
            ));
            assert!(token_from_response(bytes, b"m", &[0; 16]).is_err());
        }
        assert_eq!(
            verify(&vec![0; MAX_TOKEN_LEN + 1], b"m", &[]),
            Err(TimestampError::TooLarge)
        );
    }
}

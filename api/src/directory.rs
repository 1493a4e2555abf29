//! Wire types of the relay's prekey directory: what a messaging client publishes
//! ([`PrekeyUpload`]) and what a fetch returns ([`PrekeyBundle`]).
//!
//! These are JSON documents (serde), strict: unknown members are rejected, every member must be
//! present (an absent one-time prekey is `null`, not omitted), each member once. Byte strings are
//! standard padded canonical base64. The keys are libsignal's serialisations, so the directory
//! (which does not link libsignal) only checks their shapes here:
//!
//! ```json
//! {
//!   "version": 1,
//!   "account": "bob",
//!   "registration_id": 4242,
//!   "device_id": 1,
//!   "identity_key": "<base64 of 33 bytes: 0x05 || X25519 key>",
//!   "signed_prekey": { "id": 1, "public_key": "<base64, 33 bytes>", "signature": "<base64, 64 bytes>" },
//!   "kyber_prekey": { "id": 1, "public_key": "<base64, 1569 bytes: 0x08 || Kyber1024 key>", "signature": "<base64, 64 bytes>" },
//!   "one_time_prekeys": [ { "id": 1, "public_key": "<base64, 33 bytes>" } ],
//!   "receipt_key": "<base64 of 32 bytes: babyjubjub::pack(A)>",
//!   "receipt_key_certificate": { "identity_key": "<base64>", "signature": "<base64>" }
//! }
//! ```
//!
//! A [`PrekeyBundle`] has the same members, except that `one_time_prekeys` is replaced by
//! `one_time_prekey`: one of the uploaded one-time prekeys (each is handed out once) or `null`.
//!
//! [`PrekeyUpload::validate`] and [`PrekeyBundle::validate`] check, in this order, each with its
//! [`DirectoryError`]: the version; the account id; the registration and device ids; the
//! identity key; the signed prekey; the Kyber prekey; the one-time prekeys (count, shape, distinct
//! ids); the receipt key (unpacks to a point of the prime-order subgroup); the certificate's shape
//! and that it names the same identity key.
//!
//! They do **not** check signatures: neither libsignal's prekey signatures (the client's libsignal
//! does that when it starts a session) nor the XEdDSA certificate, which
//! `letro_verifier::certificate::verify_certificate` checks on the [`ReceiptKeyBinding`] that
//! `validate` returns.
//!
//! Message envelopes have no type here: the mailbox stores the exact ciphertext bytes, and
//! `H = SHA-256` of those bytes ([`letro_core::statement::CiphertextHash::of`]).

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use letro_core::babyjubjub::{self, PointError};
use letro_core::bundle::{CertificateError, ReceiptKeyCertificate, IDENTITY_KEY_TYPE};
use letro_core::eddsa::PublicKey;

/// The `version` of both documents.
pub const DIRECTORY_VERSION: u32 = 1;

/// The largest document [`PrekeyUpload::parse`] and [`PrekeyBundle::parse`] accept (64 KiB; a
/// full upload is about 12 KiB).
pub const MAX_DIRECTORY_DOCUMENT_LEN: usize = 64 * 1024;

/// The most one-time prekeys one upload may carry.
pub const MAX_ONE_TIME_PREKEYS: usize = 100;

/// The longest account id, in characters (ASCII, so also bytes).
pub const MAX_ACCOUNT_LEN: usize = 64;

/// The largest registration id (libsignal's 14-bit registration ids, as Signal generates them:
/// `1..=16380`).
pub const MAX_REGISTRATION_ID: u32 = 16380;

/// The largest device id libsignal accepts (`1..=127`).
pub const MAX_DEVICE_ID: u32 = 127;

/// Length of a serialised Curve25519 public key (identity key, signed and one-time prekeys):
/// the type byte `0x05` and 32 bytes.
pub const EC_PUBLIC_KEY_LEN: usize = 33;

/// The type byte libsignal puts before a Kyber1024 public key.
pub const KYBER1024_KEY_TYPE: u8 = 0x08;

/// Length of a serialised Kyber1024 public key: the type byte `0x08` and 1568 bytes.
pub const KYBER1024_PUBLIC_KEY_LEN: usize = 1569;

/// Length of an XEdDSA signature (prekey signatures and the certificate).
pub const SIGNATURE_LEN: usize = 64;

/// Length of a packed Baby Jubjub point.
pub const RECEIPT_KEY_LEN: usize = 32;

/// Why an account id is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountIdError {
    /// The id is empty.
    #[error("account id is empty")]
    Empty,
    /// The id is longer than [`MAX_ACCOUNT_LEN`] characters.
    #[error("account id is {len} bytes, more than 64")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The id has a character outside `[A-Za-z0-9._-]`.
    #[error("account id has a character outside [A-Za-z0-9._-] at byte {position}")]
    BadCharacter {
        /// Byte offset of the first bad character.
        position: usize,
    },
    /// The id is `.` or `..`, which a URL path cannot carry as a segment (clients resolve it).
    #[error("account id {0:?} cannot be a URL path segment")]
    DotSegment(&'static str),
}

/// Checks an account id: 1 to [`MAX_ACCOUNT_LEN`] characters of `[A-Za-z0-9._-]`, not `.` or
/// `..` (the API carries account ids as path segments).
pub fn check_account_id(account: &str) -> Result<(), AccountIdError> {
    if account.is_empty() {
        return Err(AccountIdError::Empty);
    }
    if account.len() > MAX_ACCOUNT_LEN {
        return Err(AccountIdError::TooLong { len: account.len() });
    }
    if let Some(position) = account
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
    {
        return Err(AccountIdError::BadCharacter { position });
    }
    match account {
        "." => Err(AccountIdError::DotSegment(".")),
        ".." => Err(AccountIdError::DotSegment("..")),
        _ => Ok(()),
    }
}

/// Why a directory document is malformed. Variants are listed in the order the checks run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The document is larger than [`MAX_DIRECTORY_DOCUMENT_LEN`].
    #[error("document is {len} bytes, more than the limit of 64 KiB")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not one JSON object of the expected shape: a syntax error, trailing data, an unknown,
    /// missing or duplicate member, a value of the wrong type, or bad base64.
    #[error("document is not valid json of the expected shape: {0}")]
    Json(String),
    /// `version` is not [`DIRECTORY_VERSION`].
    #[error("unsupported directory document version {0}")]
    UnsupportedVersion(u32),
    /// `account` is not an acceptable account id.
    #[error("bad account id")]
    Account(#[source] AccountIdError),
    /// `registration_id` is not in `1..=16380`.
    #[error("registration id {0} is not in 1..=16380")]
    RegistrationId(u32),
    /// `device_id` is not in `1..=127`.
    #[error("device id {0} is not in 1..=127")]
    DeviceId(u32),
    /// A key has the wrong length.
    #[error("{field} is {len} bytes, expected {expected}")]
    KeyLength {
        /// The member, e.g. `signed_prekey.public_key`.
        field: &'static str,
        /// Its decoded length.
        len: usize,
        /// The expected length.
        expected: usize,
    },
    /// A key has the wrong type byte.
    #[error("{field} has type byte 0x{found:02x}, expected 0x{expected:02x}")]
    KeyType {
        /// The member, e.g. `identity_key`.
        field: &'static str,
        /// The type byte found.
        found: u8,
        /// The type byte expected.
        expected: u8,
    },
    /// A prekey signature is not 64 bytes.
    #[error("{field} is {len} bytes, expected 64")]
    SignatureLength {
        /// The member, e.g. `kyber_prekey.signature`.
        field: &'static str,
        /// Its decoded length.
        len: usize,
    },
    /// More than [`MAX_ONE_TIME_PREKEYS`] one-time prekeys.
    #[error("{count} one-time prekeys, more than 100")]
    TooManyOneTimePrekeys {
        /// How many there are.
        count: usize,
    },
    /// Two one-time prekeys have the same id.
    #[error("one-time prekey id {0} appears twice")]
    DuplicatePrekeyId(u32),
    /// `receipt_key` is not 32 bytes.
    #[error("receipt key is {len} bytes, expected 32")]
    ReceiptKeyLength {
        /// Its decoded length.
        len: usize,
    },
    /// `receipt_key` does not unpack to a point of the prime-order subgroup.
    #[error("receipt key is not a point of the prime-order subgroup")]
    ReceiptKey(#[source] PointError),
    /// `receipt_key_certificate` is malformed.
    #[error("receipt key certificate is malformed")]
    Certificate(#[source] CertificateError),
    /// `receipt_key_certificate.identity_key` is not the document's `identity_key`.
    #[error("the receipt key certificate is for another identity key")]
    CertificateIdentityMismatch,
}

/// The signed Curve25519 prekey, and the Kyber prekey (same shape, another key type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedPrekey {
    /// The prekey id the client chose.
    pub id: u32,
    /// libsignal's serialisation of the public key: 33 bytes `0x05 || X25519` for the signed
    /// prekey, 1569 bytes `0x08 || Kyber1024` for the Kyber prekey.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub public_key: Vec<u8>,
    /// The identity key's XEdDSA signature over `public_key` (64 bytes).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub signature: Vec<u8>,
}

/// A one-time Curve25519 prekey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OneTimePrekey {
    /// The prekey id the client chose (distinct within an upload).
    pub id: u32,
    /// libsignal's serialisation of the public key: 33 bytes `0x05 || X25519`.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub public_key: Vec<u8>,
}

/// A receipt-key certificate as a JSON object, the same as the opening's
/// `receipt_key_certificate` (SPEC §7.2): `{"identity_key": <base64>, "signature": <base64>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateObject {
    /// The identity key that signs: 33 bytes `0x05 || X25519`.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub identity_key: Vec<u8>,
    /// The XEdDSA signature over `certificate_message(A)` (64 bytes).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub signature: Vec<u8>,
}

impl CertificateObject {
    /// Checks the shape (33-byte key of type `0x05`, 64-byte signature), in the order SPEC §7.2
    /// gives. Does not verify the signature.
    pub fn to_certificate(&self) -> Result<ReceiptKeyCertificate, CertificateError> {
        let identity_key: [u8; 33] = self.identity_key.as_slice().try_into().map_err(|_| {
            CertificateError::IdentityKeyLength {
                len: self.identity_key.len(),
            }
        })?;
        let signature: [u8; 64] = self.signature.as_slice().try_into().map_err(|_| {
            CertificateError::SignatureLength {
                len: self.signature.len(),
            }
        })?;
        ReceiptKeyCertificate::new(identity_key, signature)
    }
}

impl From<&ReceiptKeyCertificate> for CertificateObject {
    fn from(c: &ReceiptKeyCertificate) -> Self {
        Self {
            identity_key: c.identity_key().to_vec(),
            signature: c.signature().to_vec(),
        }
    }
}

/// What a client publishes to the relay directory: its identity key, prekeys and certified
/// receipt key. Not checked until [`PrekeyUpload::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrekeyUpload {
    /// Always [`DIRECTORY_VERSION`] (1).
    pub version: u32,
    /// The account id: 1 to 64 characters of `[A-Za-z0-9._-]`.
    pub account: String,
    /// libsignal's registration id of the client, `1..=16380`.
    pub registration_id: u32,
    /// libsignal's device id, `1..=127`.
    pub device_id: u32,
    /// The Signal identity key: 33 bytes `0x05 || X25519`.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub identity_key: Vec<u8>,
    /// The signed prekey (Curve25519), signed by the identity key.
    pub signed_prekey: SignedPrekey,
    /// The Kyber1024 prekey (PQXDH), signed by the identity key. The client keeps it as its
    /// last-resort Kyber prekey: it is handed out with every bundle.
    pub kyber_prekey: SignedPrekey,
    /// One-time prekeys, at most [`MAX_ONE_TIME_PREKEYS`], with distinct ids.
    pub one_time_prekeys: Vec<OneTimePrekey>,
    /// The Baby Jubjub receipt key `A`, packed as [`babyjubjub::pack`] does (32 bytes).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub receipt_key: Vec<u8>,
    /// The identity key's certificate of the receipt key.
    pub receipt_key_certificate: CertificateObject,
}

/// What a fetch from the directory returns: an upload with at most one of its one-time prekeys.
/// Not checked until [`PrekeyBundle::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrekeyBundle {
    /// Always [`DIRECTORY_VERSION`] (1).
    pub version: u32,
    /// The account id of the bundle's owner.
    pub account: String,
    /// libsignal's registration id, `1..=16380`.
    pub registration_id: u32,
    /// libsignal's device id, `1..=127`.
    pub device_id: u32,
    /// The Signal identity key: 33 bytes `0x05 || X25519`.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub identity_key: Vec<u8>,
    /// The signed prekey.
    pub signed_prekey: SignedPrekey,
    /// The Kyber1024 prekey.
    pub kyber_prekey: SignedPrekey,
    /// One unused one-time prekey, or `null` when the directory has none left. The member must
    /// be present.
    #[serde(deserialize_with = "required_option")]
    pub one_time_prekey: Option<OneTimePrekey>,
    /// The Baby Jubjub receipt key, packed (32 bytes).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub receipt_key: Vec<u8>,
    /// The identity key's certificate of the receipt key.
    pub receipt_key_certificate: CertificateObject,
}

/// The receipt key of a well-formed directory document and its certificate, ready for
/// `letro_verifier::certificate::verify_certificate(&certificate, receipt_key.point())`.
/// Well-formed, NOT verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptKeyBinding {
    /// `A`, in the prime-order subgroup.
    pub receipt_key: PublicKey,
    /// The certificate, well-formed and naming the document's identity key.
    pub certificate: ReceiptKeyCertificate,
}

impl PrekeyUpload {
    /// Parses JSON (at most [`MAX_DIRECTORY_DOCUMENT_LEN`] bytes) and [validates](Self::validate)
    /// it.
    pub fn parse(bytes: &[u8]) -> Result<(Self, ReceiptKeyBinding), DirectoryError> {
        let upload: Self = parse_json(bytes)?;
        let binding = upload.validate()?;
        Ok((upload, binding))
    }

    /// Checks the shapes (see the [module documentation](self) for the order).
    pub fn validate(&self) -> Result<ReceiptKeyBinding, DirectoryError> {
        let common = Common {
            version: self.version,
            account: &self.account,
            registration_id: self.registration_id,
            device_id: self.device_id,
            identity_key: &self.identity_key,
            signed_prekey: &self.signed_prekey,
            kyber_prekey: &self.kyber_prekey,
        };
        common.check()?;
        if self.one_time_prekeys.len() > MAX_ONE_TIME_PREKEYS {
            return Err(DirectoryError::TooManyOneTimePrekeys {
                count: self.one_time_prekeys.len(),
            });
        }
        let mut ids = std::collections::BTreeSet::new();
        for prekey in &self.one_time_prekeys {
            check_one_time_prekey(prekey, "one_time_prekeys.public_key")?;
            if !ids.insert(prekey.id) {
                return Err(DirectoryError::DuplicatePrekeyId(prekey.id));
            }
        }
        check_binding(
            &self.receipt_key,
            &self.receipt_key_certificate,
            &self.identity_key,
        )
    }

    /// The bundle a fetch returns: this upload with `one_time_prekey` (one of
    /// `one_time_prekeys`, or `None` when they are used up) in place of the list.
    pub fn to_bundle(&self, one_time_prekey: Option<OneTimePrekey>) -> PrekeyBundle {
        PrekeyBundle {
            version: self.version,
            account: self.account.clone(),
            registration_id: self.registration_id,
            device_id: self.device_id,
            identity_key: self.identity_key.clone(),
            signed_prekey: self.signed_prekey.clone(),
            kyber_prekey: self.kyber_prekey.clone(),
            one_time_prekey,
            receipt_key: self.receipt_key.clone(),
            receipt_key_certificate: self.receipt_key_certificate.clone(),
        }
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

impl PrekeyBundle {
    /// Parses JSON (at most [`MAX_DIRECTORY_DOCUMENT_LEN`] bytes) and [validates](Self::validate)
    /// it.
    pub fn parse(bytes: &[u8]) -> Result<(Self, ReceiptKeyBinding), DirectoryError> {
        let bundle: Self = parse_json(bytes)?;
        let binding = bundle.validate()?;
        Ok((bundle, binding))
    }

    /// Checks the shapes (see the [module documentation](self) for the order).
    pub fn validate(&self) -> Result<ReceiptKeyBinding, DirectoryError> {
        let common = Common {
            version: self.version,
            account: &self.account,
            registration_id: self.registration_id,
            device_id: self.device_id,
            identity_key: &self.identity_key,
            signed_prekey: &self.signed_prekey,
            kyber_prekey: &self.kyber_prekey,
        };
        common.check()?;
        if let Some(prekey) = &self.one_time_prekey {
            check_one_time_prekey(prekey, "one_time_prekey.public_key")?;
        }
        check_binding(
            &self.receipt_key,
            &self.receipt_key_certificate,
            &self.identity_key,
        )
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// The members both documents share.
struct Common<'a> {
    version: u32,
    account: &'a str,
    registration_id: u32,
    device_id: u32,
    identity_key: &'a [u8],
    signed_prekey: &'a SignedPrekey,
    kyber_prekey: &'a SignedPrekey,
}

impl Common<'_> {
    fn check(&self) -> Result<(), DirectoryError> {
        if self.version != DIRECTORY_VERSION {
            return Err(DirectoryError::UnsupportedVersion(self.version));
        }
        check_account_id(self.account).map_err(DirectoryError::Account)?;
        if !(1..=MAX_REGISTRATION_ID).contains(&self.registration_id) {
            return Err(DirectoryError::RegistrationId(self.registration_id));
        }
        if !(1..=MAX_DEVICE_ID).contains(&self.device_id) {
            return Err(DirectoryError::DeviceId(self.device_id));
        }
        check_key(
            self.identity_key,
            "identity_key",
            EC_PUBLIC_KEY_LEN,
            IDENTITY_KEY_TYPE,
        )?;
        check_key(
            &self.signed_prekey.public_key,
            "signed_prekey.public_key",
            EC_PUBLIC_KEY_LEN,
            IDENTITY_KEY_TYPE,
        )?;
        check_signature(&self.signed_prekey.signature, "signed_prekey.signature")?;
        check_key(
            &self.kyber_prekey.public_key,
            "kyber_prekey.public_key",
            KYBER1024_PUBLIC_KEY_LEN,
            KYBER1024_KEY_TYPE,
        )?;
        check_signature(&self.kyber_prekey.signature, "kyber_prekey.signature")
    }
}

fn check_key(
    key: &[u8],
    field: &'static str,
    expected_len: usize,
    expected_type: u8,
) -> Result<(), DirectoryError> {
    if key.len() != expected_len {
        return Err(DirectoryError::KeyLength {
            field,
            len: key.len(),
            expected: expected_len,
        });
    }
    match key.first() {
        Some(&t) if t == expected_type => Ok(()),
        found => Err(DirectoryError::KeyType {
            field,
            found: found.copied().unwrap_or_default(),
            expected: expected_type,
        }),
    }
}

fn check_signature(signature: &[u8], field: &'static str) -> Result<(), DirectoryError> {
    if signature.len() == SIGNATURE_LEN {
        Ok(())
    } else {
        Err(DirectoryError::SignatureLength {
            field,
            len: signature.len(),
        })
    }
}

fn check_one_time_prekey(
    prekey: &OneTimePrekey,
    field: &'static str,
) -> Result<(), DirectoryError> {
    check_key(
        &prekey.public_key,
        field,
        EC_PUBLIC_KEY_LEN,
        IDENTITY_KEY_TYPE,
    )
}

fn check_binding(
    receipt_key: &[u8],
    certificate: &CertificateObject,
    identity_key: &[u8],
) -> Result<ReceiptKeyBinding, DirectoryError> {
    let packed: &[u8; RECEIPT_KEY_LEN] =
        receipt_key
            .try_into()
            .map_err(|_| DirectoryError::ReceiptKeyLength {
                len: receipt_key.len(),
            })?;
    let point = babyjubjub::unpack(packed).map_err(DirectoryError::ReceiptKey)?;
    if !babyjubjub::is_in_prime_subgroup(&point) {
        return Err(DirectoryError::ReceiptKey(PointError::NotInSubgroup));
    }
    // In the subgroup and on the curve, so only the identity is of small order.
    let receipt_key = PublicKey::from_point(point)
        .map_err(|_| DirectoryError::ReceiptKey(PointError::SmallOrder))?;
    let certificate = certificate
        .to_certificate()
        .map_err(DirectoryError::Certificate)?;
    if certificate.identity_key().as_slice() != identity_key {
        return Err(DirectoryError::CertificateIdentityMismatch);
    }
    Ok(ReceiptKeyBinding {
        receipt_key,
        certificate,
    })
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DirectoryError> {
    if bytes.len() > MAX_DIRECTORY_DOCUMENT_LEN {
        return Err(DirectoryError::TooLarge { len: bytes.len() });
    }
    serde_json::from_slice(bytes).map_err(|e| DirectoryError::Json(e.to_string()))
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising these types cannot fail: every member is a string, a number, an array or an
    // object with string keys.
    serde_json::to_string(value).unwrap_or_default()
}

/// Deserialises an `Option` whose member must be present (`null` for `None`).
fn required_option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// Standard padded canonical base64 for byte strings.
mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format_args!("bad base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use letro_core::eddsa::PrivateKey;

    fn key(t: u8, len: usize) -> Vec<u8> {
        let mut k = vec![7u8; len];
        k[0] = t;
        k
    }

    fn upload() -> PrekeyUpload {
        let a = PrivateKey::from_bytes([3u8; 32]).public_key();
        let identity_key = key(0x05, 33);
        PrekeyUpload {
            version: 1,
            account: "bob.example_1-x".into(),
            registration_id: 4242,
            device_id: 1,
            identity_key: identity_key.clone(),
            signed_prekey: SignedPrekey {
                id: 1,
                public_key: key(0x05, 33),
                signature: vec![1u8; 64],
            },
            kyber_prekey: SignedPrekey {
                id: 2,
                public_key: key(0x08, 1569),
                signature: vec![2u8; 64],
            },
            one_time_prekeys: (1..=3)
                .map(|id| OneTimePrekey {
                    id,
                    public_key: key(0x05, 33),
                })
                .collect(),
            receipt_key: babyjubjub::pack(a.point()).to_vec(),
            receipt_key_certificate: CertificateObject {
                identity_key,
                signature: vec![9u8; 64],
            },
        }
    }

    fn rejects(f: impl FnOnce(&mut PrekeyUpload)) -> DirectoryError {
        let mut u = upload();
        f(&mut u);
        u.validate().unwrap_err()
    }

    #[test]
    fn valid_upload_round_trips_and_binds_its_key() {
        let u = upload();
        let json = u.to_json();
        let (parsed, binding) = PrekeyUpload::parse(json.as_bytes()).unwrap();
        assert_eq!(parsed, u);
        assert_eq!(
            babyjubjub::pack(binding.receipt_key.point()).as_slice(),
            u.receipt_key.as_slice()
        );
        assert_eq!(
            binding.certificate.identity_key().as_slice(),
            u.identity_key.as_slice()
        );
    }

    #[test]
    fn bundle_round_trips_with_and_without_one_time_prekey() {
        let u = upload();
        for otp in [u.one_time_prekeys.first().cloned(), None] {
            let b = u.to_bundle(otp);
            let json = b.to_json();
            let (parsed, _) = PrekeyBundle::parse(json.as_bytes()).unwrap();
            assert_eq!(parsed, b);
        }
    }

    #[test]
    fn bundle_needs_the_one_time_prekey_member() {
        let b = upload().to_bundle(None);
        let mut v: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
        v.as_object_mut().unwrap().remove("one_time_prekey");
        let e = PrekeyBundle::parse(v.to_string().as_bytes()).unwrap_err();
        assert!(matches!(e, DirectoryError::Json(m) if m.contains("one_time_prekey")));
    }

    #[test]
    fn bundle_rejects_a_bad_one_time_prekey() {
        let mut b = upload().to_bundle(None);
        b.one_time_prekey = Some(OneTimePrekey {
            id: 1,
            public_key: key(0x05, 32),
        });
        assert_eq!(
            b.validate(),
            Err(DirectoryError::KeyLength {
                field: "one_time_prekey.public_key",
                len: 32,
                expected: 33
            })
        );
    }

    #[test]
    fn json_rejections() {
        let json = upload().to_json();
        let too_large = vec![b' '; MAX_DIRECTORY_DOCUMENT_LEN + 1];
        assert_eq!(
            PrekeyUpload::parse(&too_large).unwrap_err(),
            DirectoryError::TooLarge {
                len: MAX_DIRECTORY_DOCUMENT_LEN + 1
            }
        );
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["extra"] = serde_json::Value::Bool(true);
        assert!(matches!(
            PrekeyUpload::parse(v.to_string().as_bytes()),
            Err(DirectoryError::Json(m)) if m.contains("unknown field")
        ));
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["signed_prekey"]["extra"] = serde_json::Value::Null;
        assert!(matches!(
            PrekeyUpload::parse(v.to_string().as_bytes()),
            Err(DirectoryError::Json(_))
        ));
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v.as_object_mut().unwrap().remove("receipt_key");
        assert!(matches!(
            PrekeyUpload::parse(v.to_string().as_bytes()),
            Err(DirectoryError::Json(m)) if m.contains("missing field")
        ));
        // Not base64, and base64 with stray bits (non-canonical).
        for bad in ["!!!!", "BQ=", "BR=="] {
            let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
            v["identity_key"] = serde_json::Value::String(bad.into());
            assert!(matches!(
                PrekeyUpload::parse(v.to_string().as_bytes()),
                Err(DirectoryError::Json(m)) if m.contains("base64")
            ));
        }
        let dup = json.replacen("{", "{\"version\":1,", 1);
        assert!(matches!(
            PrekeyUpload::parse(dup.as_bytes()),
            Err(DirectoryError::Json(m)) if m.contains("duplicate")
        ));
        let trailing = format!("{json} {{}}");
        assert!(matches!(
            PrekeyUpload::parse(trailing.as_bytes()),
            Err(DirectoryError::Json(_))
        ));
        assert!(matches!(
            PrekeyUpload::parse(b"\xff\xfe"),
            Err(DirectoryError::Json(_))
        ));
    }

    #[test]
    fn version_account_and_ids() {
        assert_eq!(
            rejects(|u| u.version = 2),
            DirectoryError::UnsupportedVersion(2)
        );
        assert_eq!(
            rejects(|u| u.account = String::new()),
            DirectoryError::Account(AccountIdError::Empty)
        );
        assert_eq!(
            rejects(|u| u.account = "a".repeat(65)),
            DirectoryError::Account(AccountIdError::TooLong { len: 65 })
        );
        assert!(upload().to_bundle(None).validate().is_ok());
        let mut u = upload();
        u.account = "a".repeat(64);
        assert!(u.validate().is_ok());
        for (account, position) in [("bo b", 2), ("bob/", 3), ("é", 0), ("a\0", 1)] {
            assert_eq!(
                rejects(|u| u.account = account.into()),
                DirectoryError::Account(AccountIdError::BadCharacter { position })
            );
        }
        for dots in [".", ".."] {
            assert!(matches!(
                rejects(|u| u.account = dots.into()),
                DirectoryError::Account(AccountIdError::DotSegment(_))
            ));
        }
        assert_eq!(check_account_id("..."), Ok(()));
        assert_eq!(check_account_id(".bob"), Ok(()));
        assert_eq!(
            rejects(|u| u.registration_id = 0),
            DirectoryError::RegistrationId(0)
        );
        assert_eq!(
            rejects(|u| u.registration_id = 16381),
            DirectoryError::RegistrationId(16381)
        );
        assert_eq!(rejects(|u| u.device_id = 0), DirectoryError::DeviceId(0));
        assert_eq!(
            rejects(|u| u.device_id = 128),
            DirectoryError::DeviceId(128)
        );
    }

    #[test]
    fn key_shapes() {
        assert_eq!(
            rejects(|u| u.identity_key = key(0x05, 32)),
            DirectoryError::KeyLength {
                field: "identity_key",
                len: 32,
                expected: 33
            }
        );
        assert_eq!(
            rejects(|u| u.identity_key = Vec::new()),
            DirectoryError::KeyLength {
                field: "identity_key",
                len: 0,
                expected: 33
            }
        );
        assert_eq!(
            rejects(|u| u.identity_key = key(0x06, 33)),
            DirectoryError::KeyType {
                field: "identity_key",
                found: 0x06,
                expected: 0x05
            }
        );
        assert_eq!(
            rejects(|u| u.signed_prekey.public_key = key(0x05, 34)),
            DirectoryError::KeyLength {
                field: "signed_prekey.public_key",
                len: 34,
                expected: 33
            }
        );
        assert_eq!(
            rejects(|u| u.signed_prekey.public_key = key(0x08, 33)),
            DirectoryError::KeyType {
                field: "signed_prekey.public_key",
                found: 0x08,
                expected: 0x05
            }
        );
        assert_eq!(
            rejects(|u| u.signed_prekey.signature = vec![0; 63]),
            DirectoryError::SignatureLength {
                field: "signed_prekey.signature",
                len: 63
            }
        );
        assert_eq!(
            rejects(|u| u.kyber_prekey.public_key = key(0x08, 1185)),
            DirectoryError::KeyLength {
                field: "kyber_prekey.public_key",
                len: 1185,
                expected: 1569
            }
        );
        assert_eq!(
            rejects(|u| u.kyber_prekey.public_key = key(0x0a, 1569)),
            DirectoryError::KeyType {
                field: "kyber_prekey.public_key",
                found: 0x0a,
                expected: 0x08
            }
        );
        assert_eq!(
            rejects(|u| u.kyber_prekey.signature = vec![0; 65]),
            DirectoryError::SignatureLength {
                field: "kyber_prekey.signature",
                len: 65
            }
        );
    }

    #[test]
    fn one_time_prekeys() {
        let otp = |id| OneTimePrekey {
            id,
            public_key: key(0x05, 33),
        };
        let mut u = upload();
        u.one_time_prekeys = (0..100).map(otp).collect();
        assert!(u.validate().is_ok());
        assert_eq!(
            rejects(|u| u.one_time_prekeys = (0..101).map(otp).collect()),
            DirectoryError::TooManyOneTimePrekeys { count: 101 }
        );
        assert_eq!(
            rejects(|u| u.one_time_prekeys = vec![otp(5), otp(6), otp(5)]),
            DirectoryError::DuplicatePrekeyId(5)
        );
        assert_eq!(
            rejects(|u| u.one_time_prekeys[1].public_key = key(0x01, 33)),
            DirectoryError::KeyType {
                field: "one_time_prekeys.public_key",
                found: 0x01,
                expected: 0x05
            }
        );
        let mut u = upload();
        u.one_time_prekeys.clear();
        assert!(u.validate().is_ok());
    }

    #[test]
    fn receipt_key() {
        assert_eq!(
            rejects(|u| u.receipt_key.truncate(31)),
            DirectoryError::ReceiptKeyLength { len: 31 }
        );
        // y = 0 is not a point.
        assert!(matches!(
            rejects(|u| u.receipt_key = vec![0u8; 32]),
            DirectoryError::ReceiptKey(_)
        ));
        // y not below the modulus.
        assert!(matches!(
            rejects(|u| u.receipt_key = vec![0xffu8; 32]),
            DirectoryError::ReceiptKey(_)
        ));
        // A + T, T of order 2: on the curve, outside the subgroup.
        let a = *PrivateKey::from_bytes([3u8; 32]).public_key().point();
        let t2 = babyjubjub::Point::new_unchecked(
            letro_core::Fr::from(0u64),
            -letro_core::Fr::from(1u64),
        );
        let twisted: babyjubjub::Point = (a + t2).into();
        assert_eq!(
            rejects(|u| u.receipt_key = babyjubjub::pack(&twisted).to_vec()),
            DirectoryError::ReceiptKey(PointError::NotInSubgroup)
        );
        // The identity (y = 1) is in the subgroup but of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            rejects(|u| u.receipt_key = identity.to_vec()),
            DirectoryError::ReceiptKey(PointError::SmallOrder)
        );
    }

    #[test]
    fn certificate_shape() {
        assert_eq!(
            rejects(|u| u.receipt_key_certificate.identity_key = key(0x05, 32)),
            DirectoryError::Certificate(CertificateError::IdentityKeyLength { len: 32 })
        );
        assert_eq!(
            rejects(|u| u.receipt_key_certificate.signature = vec![0; 63]),
            DirectoryError::Certificate(CertificateError::SignatureLength { len: 63 })
        );
        assert_eq!(
            rejects(|u| u.receipt_key_certificate.identity_key = key(0x04, 33)),
            DirectoryError::Certificate(CertificateError::IdentityKeyType(0x04))
        );
        assert_eq!(
            rejects(|u| u.receipt_key_certificate.identity_key[1] ^= 1),
            DirectoryError::CertificateIdentityMismatch
        );
    }

    #[test]
    fn certificate_object_matches_the_opening_encoding() {
        let cert =
            ReceiptKeyCertificate::new(key(0x05, 33).try_into().unwrap(), [4u8; 64]).unwrap();
        let obj = CertificateObject::from(&cert);
        assert_eq!(obj.to_certificate(), Ok(cert));
        let json = serde_json::to_value(&obj).unwrap();
        assert_eq!(
            json["identity_key"],
            "BQcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"
        );
    }
}

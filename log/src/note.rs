//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 signatures.
//!
//! A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature
//! lines `— <key name> <base64(key id || signature)>` (the dash is U+2014). The delivery log
//! publishes its checkpoints as signed notes (see [`crate::checkpoint`]).
//!
//! What this module does:
//! - encodes and parses verifier keys (`<name>+<hex key id>+<base64(0x01 || public key)>`) and
//!   signer keys (`PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`);
//! - signs a text with one or more [`SignerKey`]s ([`sign`]);
//! - parses a note strictly ([`Note::parse`]) and verifies it against trusted keys
//!   ([`Note::verify`]), yielding a [`VerifiedNote`].
//!
//! Non-features: only signature type `0x01` (Ed25519) is supported here. Cosignatures (type
//! `0x04`) are verified by [`crate::cosignature`]; here, like ECDSA and ML-DSA lines, they are
//! opaque signature lines that no [`VerifierKey`] matches (the key ID commits to the type), so
//! [`Note::verify`] ignores them. No key generation: callers pass a 32-byte seed drawn from
//! their own randomness source.
//!
//! Verification rules (each maps to one [`NoteVerifyError`] variant):
//! 1. A signature whose key name and key ID do not both match a trusted key is ignored, as the
//!    specification requires (this is what allows key rotation and witness cosigning).
//! 2. Every signature whose name and ID match a trusted key must verify (Ed25519 with
//!    `verify_strict`), otherwise the whole note is rejected
//!    ([`NoteVerifyError::InvalidSignature`]).
//! 3. At least one signature must come from a trusted key
//!    ([`NoteVerifyError::NoTrustedSignature`]).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type identifier byte of Ed25519 signatures in signed notes.
pub const SIGNATURE_TYPE_ED25519: u8 = 0x01;

/// The largest number of signature lines [`Note::parse`] accepts (the spec asks verifiers to
/// accept at least 16; the Go reference implementation also stops at 100).
pub const MAX_SIGNATURES: usize = 100;

/// Start of every signature line: an em dash (U+2014) and a space.
pub(crate) const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Start of an encoded signer key.
pub(crate) const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Length of the key material after the type byte: an Ed25519 public key or seed.
const KEY_LEN: usize = 32;

/// Length of an Ed25519 signature.
const ED25519_SIGNATURE_LEN: usize = 64;

/// Why a key name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is the empty string.
    #[error("key name is empty")]
    Empty,
    /// The name contains a Unicode space (any character with the White_Space property).
    #[error("key name contains a space character")]
    Whitespace,
    /// The name contains a plus sign, which separates the parts of an encoded key.
    #[error("key name contains '+'")]
    Plus,
    /// The name contains an ASCII control character, which a signed note cannot carry.
    #[error("key name contains a control character")]
    ControlCharacter,
}

/// Why a verifier key or signer key could not be built, parsed or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key name breaks the signed-note naming rules.
    #[error("invalid key name")]
    InvalidName(#[source] NameError),
    /// A signer key string does not start with `PRIVATE+KEY+`.
    #[error("signer key does not start with \"PRIVATE+KEY+\"")]
    MissingPrivateKeyPrefix,
    /// The encoded key lacks one of its `+`-separated parts.
    #[error("encoded key is missing its {part}")]
    MissingPart {
        /// Which part is missing ("key id" or "key material").
        part: &'static str,
    },
    /// The key ID is not exactly 8 lowercase hex digits.
    #[error("key id is not 8 lowercase hex digits")]
    MalformedKeyId,
    /// The key material is not canonical standard base64 (with padding, no trailing bits).
    #[error("key material is not canonical base64")]
    Base64(#[source] base64::DecodeError),
    /// The key material starts with a signature type other than the one expected (0x01 for a
    /// log key, 0x04 for a cosigner key).
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedType(u8),
    /// The key material is not one type byte and 32 key bytes.
    #[error("key material is {actual} bytes long, expected 33")]
    WrongLength {
        /// The decoded length, type byte included.
        actual: usize,
    },
    /// The stated key ID differs from the one computed from the name and key.
    #[error("key id {stated} does not match the key (computed {computed})")]
    KeyIdMismatch {
        /// The key ID written in the encoded key.
        stated: KeyId,
        /// The key ID computed from the name and the public key.
        computed: KeyId,
    },
    /// The public key bytes do not decode to a point on Ed25519.
    #[error("public key is not a valid ed25519 point")]
    InvalidPublicKey,
    /// The public key is a point, but not in its canonical encoding.
    #[error("public key is not canonically encoded")]
    NonCanonicalPublicKey,
    /// The public key has small order; signatures by it prove nothing.
    #[error("public key has small order")]
    WeakPublicKey,
}

/// Why a note could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteSignError {
    /// The text is empty or does not end with a newline.
    #[error("note text does not end with a newline")]
    TextMissingFinalNewline,
    /// The text contains an ASCII control character other than newline.
    #[error("note text contains a control character at byte {offset}")]
    TextControlCharacter {
        /// Byte offset of the first offending character.
        offset: usize,
    },
    /// No signer was given; a note needs at least one signature.
    #[error("no signer given")]
    NoSigners,
    /// More signers than [`MAX_SIGNATURES`]; the result would not parse.
    #[error("{count} signers given, more than the limit of {MAX_SIGNATURES}")]
    TooManySigners {
        /// Number of signers given.
        count: usize,
    },
    /// The same key (name and key ID) was given twice.
    #[error("signer {name}+{key_id} given twice")]
    DuplicateSigner {
        /// Key name of the repeated signer.
        name: String,
        /// Key ID of the repeated signer.
        key_id: KeyId,
    },
}

/// Why bytes are not a well-formed signed note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteParseError {
    /// The note is not valid UTF-8.
    #[error("note is not valid utf-8 (valid up to byte {valid_up_to})")]
    NotUtf8 {
        /// Length of the longest valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The note contains an ASCII control character other than newline.
    #[error("note contains a control character at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the first offending character.
        offset: usize,
    },
    /// The note does not end with a newline: it is truncated or has data after its last
    /// signature line.
    #[error("note does not end with a newline")]
    MissingFinalNewline,
    /// There is no blank line separating the text from the signatures.
    #[error("note has no blank line before its signatures")]
    MissingBlankLine,
    /// Nothing follows the blank line.
    #[error("note has no signature lines")]
    NoSignatures,
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("note has {count} signature lines, more than the limit of {MAX_SIGNATURES}")]
    TooManySignatures {
        /// Number of signature lines found.
        count: usize,
    },
    /// A line after the blank line does not start with an em dash and a space.
    #[error("signature line {line} does not start with \"\u{2014} \"")]
    MissingEmDash {
        /// 1-based number of the signature line.
        line: usize,
    },
    /// A signature line has a key name but no space and signature after it.
    #[error("signature line {line} has no signature after the key name")]
    MissingSignature {
        /// 1-based number of the signature line.
        line: usize,
    },
    /// A signature line's key name breaks the naming rules.
    #[error("signature line {line} has an invalid key name")]
    InvalidSignerName {
        /// 1-based number of the signature line.
        line: usize,
        /// The rule broken.
        #[source]
        source: NameError,
    },
    /// A signature is not canonical standard base64.
    #[error("signature line {line} is not canonical base64")]
    SignatureBase64 {
        /// 1-based number of the signature line.
        line: usize,
        /// The decoding failure.
        #[source]
        source: base64::DecodeError,
    },
    /// A signature decodes to fewer than 5 bytes (a 4-byte key ID and at least one byte).
    #[error("signature line {line} decodes to {len} bytes, fewer than 5")]
    SignatureTooShort {
        /// 1-based number of the signature line.
        line: usize,
        /// Decoded length.
        len: usize,
    },
}

/// Why a well-formed note did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteVerifyError {
    /// A signature by a trusted key (name and key ID match) is wrong: the note was altered or
    /// the signature forged.
    #[error("signature by trusted key {name}+{key_id} does not verify")]
    InvalidSignature {
        /// Key name of the signature line.
        name: String,
        /// Key ID of the signature line.
        key_id: KeyId,
    },
    /// Two different trusted keys share the name and key ID of a signature line.
    #[error("trusted keys are ambiguous: several keys are named {name}+{key_id}")]
    AmbiguousKey {
        /// The shared key name.
        name: String,
        /// The shared key ID.
        key_id: KeyId,
    },
    /// No signature line comes from a trusted key.
    #[error("note has no signature from a trusted key")]
    NoTrustedSignature,
}

/// The 32-bit identifier of a key: the first 4 bytes of
/// SHA-256(name || 0x0A || type || public key), big-endian. Displayed as 8 lowercase hex digits.
///
/// It is an identifier, not a cryptographic commitment: anyone can make a key that collides.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(u32);

impl KeyId {
    /// The key ID with this numeric value.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The big-endian bytes, as they appear at the start of a signature.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// The key ID of an Ed25519 key with this name.
    pub fn ed25519(name: &str, public_key: &[u8; 32]) -> Self {
        Self::of_type(name, SIGNATURE_TYPE_ED25519, public_key)
    }

    /// The key ID of a key of signature type `key_type` with this name:
    /// `SHA-256(name || "\n" || key_type || public key)[:4]`.
    pub fn of_type(name: &str, key_type: u8, public_key: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update([b'\n', key_type]);
        hasher.update(public_key);
        let digest: [u8; 32] = hasher.finalize().into();
        Self(u32::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3],
        ]))
    }

    /// Parses exactly 8 lowercase hex digits.
    pub(crate) fn parse_hex(s: &str) -> Result<Self, KeyError> {
        if s.len() != 8
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(KeyError::MalformedKeyId);
        }
        u32::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| KeyError::MalformedKeyId)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:08x})", self.0)
    }
}

/// Checks a key name: non-empty, no Unicode space, no `+`, no ASCII control character.
pub fn validate_key_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    for c in name.chars() {
        if c == '+' {
            return Err(NameError::Plus);
        }
        if c.is_whitespace() {
            return Err(NameError::Whitespace);
        }
        if c < ' ' {
            return Err(NameError::ControlCharacter);
        }
    }
    Ok(())
}

/// Overwrites `buf` with zeros in a way the optimiser keeps (best effort without `unsafe`).
fn wipe(buf: &mut [u8]) {
    buf.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(buf);
}

/// Splits `<id hex>+<base64>` and decodes both halves; the caller wipes the returned bytes if
/// they are secret.
pub(crate) fn split_id_and_material(rest: &str) -> Result<(KeyId, Vec<u8>), KeyError> {
    let (id_hex, b64) = rest.split_once('+').ok_or(KeyError::MissingPart {
        part: "key material",
    })?;
    let id = KeyId::parse_hex(id_hex)?;
    let material = STANDARD.decode(b64).map_err(KeyError::Base64)?;
    Ok((id, material))
}

/// Checks the type byte (Ed25519, 0x01) and length of decoded key material and returns the 32
/// key bytes.
fn key_bytes(material: &[u8]) -> Result<[u8; KEY_LEN], KeyError> {
    key_bytes_of_type(material, SIGNATURE_TYPE_ED25519)
}

/// Checks the type byte and length of decoded key material and returns the 32 key bytes.
pub(crate) fn key_bytes_of_type(material: &[u8], want: u8) -> Result<[u8; KEY_LEN], KeyError> {
    let wrong_length = KeyError::WrongLength {
        actual: material.len(),
    };
    let (&key_type, key) = material.split_first().ok_or(wrong_length.clone())?;
    if key_type != want {
        return Err(KeyError::UnsupportedType(key_type));
    }
    key.try_into().map_err(|_| wrong_length)
}

/// Decodes a public key, rejecting non-points, non-canonical encodings and small-order points.
pub(crate) fn decode_public_key(bytes: &[u8; KEY_LEN]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)?;
    // Decompression reduces y modulo p and ignores a sign bit on x = 0; re-encoding exposes both.
    if key.to_edwards().compress().to_bytes() != *bytes {
        return Err(KeyError::NonCanonicalPublicKey);
    }
    if key.is_weak() {
        return Err(KeyError::WeakPublicKey);
    }
    Ok(key)
}

/// A trusted Ed25519 verifier key with its name, as pinned by a verifier.
///
/// Encoded as `<name>+<8 hex digit key id>+<base64(0x01 || 32-byte public key)>`
/// ([`fmt::Display`], [`VerifierKey::parse`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VerifierKey {
    name: String,
    id: KeyId,
    key: VerifyingKey,
}

impl VerifierKey {
    /// The verifier key for an Ed25519 public key with this name.
    pub fn from_public_key(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        let key = decode_public_key(public_key)?;
        Ok(Self {
            name: name.to_owned(),
            id: KeyId::ed25519(name, public_key),
            key,
        })
    }

    /// Parses a vkey string, checking the name, that the key is a canonical Ed25519 point of
    /// large order, and that the stated key ID is the one computed from the name and key.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, rest) = s
            .split_once('+')
            .ok_or(KeyError::MissingPart { part: "key id" })?;
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        let (stated, material) = split_id_and_material(rest)?;
        let public_key = key_bytes(&material)?;
        let key = decode_public_key(&public_key)?;
        let computed = KeyId::ed25519(name, &public_key);
        if computed != stated {
            return Err(KeyError::KeyIdMismatch { stated, computed });
        }
        Ok(Self {
            name: name.to_owned(),
            id: computed,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether a signature line names this key.
    fn matches(&self, name: &str, id: KeyId) -> bool {
        self.id == id && self.name == name
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(KEY_LEN + 1);
        material.push(SIGNATURE_TYPE_ED25519);
        material.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.id, STANDARD.encode(material))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An Ed25519 signing key with its name.
///
/// The seed is wiped when the key is dropped (by `ed25519-dalek`'s `ZeroizeOnDrop`). `Debug`
/// shows only the name and key ID. There is deliberately no `Display`: the only way to get the
/// secret back out is [`SignerKey::to_private_string`].
pub struct SignerKey {
    name: String,
    id: KeyId,
    key: SigningKey,
}

impl SignerKey {
    /// The signer key with this name and 32-byte Ed25519 seed (RFC 8032 private key).
    ///
    /// The caller draws the seed from its own randomness source and should wipe its copy.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        let key = SigningKey::from_bytes(seed);
        let id = KeyId::ed25519(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<8 hex digit key id>+<base64(0x01 || seed)>`, checking the
    /// name and that the key ID matches the name and the public key derived from the seed.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let rest = s
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(KeyError::MissingPrivateKeyPrefix)?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or(KeyError::MissingPart { part: "key id" })?;
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        let (stated, mut material) = split_id_and_material(rest)?;
        let seed = key_bytes(&material);
        wipe(&mut material);
        let mut seed = seed?;
        let key = Self::from_seed(name, &seed);
        wipe(&mut seed);
        let key = key?;
        if key.id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: key.id,
            });
        }
        Ok(key)
    }

    /// Encodes the key as `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>`.
    ///
    /// The result is secret: the caller must keep it out of logs and wipe it when done.
    pub fn to_private_string(&self) -> String {
        let mut material = [0u8; KEY_LEN + 1];
        let (type_byte, seed) = material.split_at_mut(1);
        type_byte.copy_from_slice(&[SIGNATURE_TYPE_ED25519]);
        seed.copy_from_slice(self.key.as_bytes());
        let out = format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}",
            self.name,
            self.id,
            STANDARD.encode(material.as_slice())
        );
        wipe(&mut material);
        out
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The matching verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The signature line for `text`, without its final newline.
    fn signature_line(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + ED25519_SIGNATURE_LEN);
        blob.extend_from_slice(&self.id.to_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}", self.name, STANDARD.encode(blob))
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Byte offset of the first ASCII control character other than newline, if any.
pub(crate) fn first_control_character(s: &str) -> Option<usize> {
    s.bytes().position(|b| b < b' ' && b != b'\n')
}

/// Signs `text` with every signer, in order, and returns the signed note.
///
/// `text` must end with a newline and contain no ASCII control character other than newline.
/// Ed25519 is deterministic, so the same text and keys always give the same note.
pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<String, NoteSignError> {
    if !text.ends_with('\n') {
        return Err(NoteSignError::TextMissingFinalNewline);
    }
    if let Some(offset) = first_control_character(text) {
        return Err(NoteSignError::TextControlCharacter { offset });
    }
    if signers.is_empty() {
        return Err(NoteSignError::NoSigners);
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(NoteSignError::TooManySigners {
            count: signers.len(),
        });
    }
    for (i, signer) in signers.iter().enumerate() {
        if signers
            .iter()
            .take(i)
            .any(|earlier| earlier.id == signer.id && earlier.name == signer.name)
        {
            return Err(NoteSignError::DuplicateSigner {
                name: signer.name.clone(),
                key_id: signer.id,
            });
        }
    }
    let mut note = String::with_capacity(text.len() + 1 + signers.len() * 128);
    note.push_str(text);
    note.push('\n');
    for signer in signers {
        note.push_str(&signer.signature_line(text));
        note.push('\n');
    }
    Ok(note)
}

/// One signature line of a parsed note. Not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: KeyId,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// The key name on the signature line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (the first 4 bytes of the decoded signature).
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature bytes after the key ID (64 bytes for Ed25519; any length for other types).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Parses the part of a signature line after the em dash and space.
    fn parse(rest: &str, line: usize) -> Result<Self, NoteParseError> {
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteParseError::MissingSignature { line })?;
        validate_key_name(name)
            .map_err(|source| NoteParseError::InvalidSignerName { line, source })?;
        let blob = STANDARD
            .decode(b64)
            .map_err(|source| NoteParseError::SignatureBase64 { line, source })?;
        let too_short = NoteParseError::SignatureTooShort {
            line,
            len: blob.len(),
        };
        let (id, signature) = blob.split_first_chunk::<4>().ok_or(too_short.clone())?;
        if signature.is_empty() {
            return Err(too_short);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: KeyId(u32::from_be_bytes(*id)),
            signature: signature.to_vec(),
        })
    }
}

/// A well-formed signed note whose signatures have not been checked.
///
/// Its text must be ignored until [`Note::verify`] succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note strictly.
    ///
    /// Rejects: invalid UTF-8; ASCII control characters other than newline; anything not ending
    /// in a newline (including data after the last signature line); no blank line; no signature
    /// line; more than [`MAX_SIGNATURES`] signature lines; a signature line that is not
    /// `— <valid key name> <canonical base64 of at least 5 bytes>`. The text is everything up to
    /// and including the newline before the last blank line, as the specification says.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteParseError> {
        let s = std::str::from_utf8(bytes).map_err(|e| NoteParseError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        if let Some(offset) = first_control_character(s) {
            return Err(NoteParseError::ControlCharacter { offset });
        }
        if !s.ends_with('\n') {
            return Err(NoteParseError::MissingFinalNewline);
        }
        // `s` ends with a newline, so "text\n\nsigs\n" splits at the last blank line into
        // "text" and "sigs\n"; re-adding the newline gives the text.
        let (text, signature_block) = s
            .rsplit_once("\n\n")
            .ok_or(NoteParseError::MissingBlankLine)?;
        if signature_block.is_empty() {
            return Err(NoteParseError::NoSignatures);
        }
        let lines = signature_block
            .strip_suffix('\n')
            .unwrap_or(signature_block);
        let count = lines.split('\n').count();
        if count > MAX_SIGNATURES {
            return Err(NoteParseError::TooManySignatures { count });
        }
        let signatures = lines
            .split('\n')
            .enumerate()
            .map(|(i, line)| {
                let number = i + 1;
                let rest = line
                    .strip_prefix(SIGNATURE_PREFIX)
                    .ok_or(NoteParseError::MissingEmDash { line: number })?;
                NoteSignature::parse(rest, number)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: format!("{text}\n"),
            signatures,
        })
    }

    /// The note text (ending in a newline), NOT verified: use [`Note::verify`] first.
    pub fn unverified_text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies the note against trusted keys.
    ///
    /// Signatures whose name and key ID do not both match a trusted key are ignored. Every
    /// signature that does match must verify (`verify_strict`). At least one must match.
    pub fn verify(&self, trusted: &[VerifierKey]) -> Result<VerifiedNote, NoteVerifyError> {
        let mut signers: Vec<VerifiedSigner> = Vec::new();
        for sig in &self.signatures {
            let mut candidates = trusted.iter().filter(|k| k.matches(&sig.name, sig.key_id));
            let Some(key) = candidates.next() else {
                continue; // unknown key: ignored, as the specification requires
            };
            if candidates.any(|other| other.key != key.key) {
                return Err(NoteVerifyError::AmbiguousKey {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            let invalid = || NoteVerifyError::InvalidSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
            };
            let bytes: &[u8; ED25519_SIGNATURE_LEN] =
                sig.signature.as_slice().try_into().map_err(|_| invalid())?;
            key.key
                .verify_strict(self.text.as_bytes(), &Signature::from_bytes(bytes))
                .map_err(|_| invalid())?;
            let signer = VerifiedSigner {
                name: sig.name.clone(),
                key_id: sig.key_id,
            };
            if !signers.contains(&signer) {
                signers.push(signer);
            }
        }
        if signers.is_empty() {
            return Err(NoteVerifyError::NoTrustedSignature);
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            signers,
        })
    }
}

/// A trusted key whose signature on a note verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedSigner {
    name: String,
    key_id: KeyId,
}

impl VerifiedSigner {
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
}

/// A note with at least one valid signature by a trusted key. Only [`Note::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    text: String,
    signers: Vec<VerifiedSigner>,
}

impl VerifiedNote {
    /// The verified text, ending in a newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The verified text, by value.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The trusted keys whose signatures verified, each once, in order of first appearance.
    pub fn signers(&self) -> &[VerifiedSigner] {
        &self.signers
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    // Known-answer vectors of the Go reference implementation (golang.org/x/mod/sumdb/note).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                              then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // The example of the C2SP signed-note specification.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    fn peter_note() -> String {
        format!("{PETER_TEXT}\n{PETER_SIG}")
    }

    fn vkey(s: &str) -> VerifierKey {
        VerifierKey::parse(s).unwrap()
    }

    fn parse(s: &str) -> Result<Note, NoteParseError> {
        Note::parse(s.as_bytes())
    }

    fn test_signer(name: &str, tag: u8) -> SignerKey {
        SignerKey::from_seed(name, &[tag; 32]).unwrap()
    }

    /// A vkey string with a correctly computed key ID for arbitrary type byte and material.
    fn vkey_with_material(name: &str, material: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update(material);
        let d = h.finalize();
        format!(
            "{name}+{}+{}",
            hex::encode(&d[..4]),
            STANDARD.encode(material)
        )
    }

    fn ed25519_material(public: &[u8; 32]) -> Vec<u8> {
        let mut m = vec![SIGNATURE_TYPE_ED25519];
        m.extend_from_slice(public);
        m
    }

    /// A signature line naming `name`/`id` whose signature is made by `signer`.
    fn forged_line(name: &str, id: KeyId, signer: &SignerKey, text: &str) -> String {
        let mut blob = id.to_bytes().to_vec();
        blob.extend_from_slice(&signer.key.sign(text.as_bytes()).to_bytes());
        format!("\u{2014} {name} {}\n", STANDARD.encode(blob))
    }

    // ---- known answers ----

    #[test]
    fn go_reference_keys_and_signature() {
        let signer = SignerKey::parse(PETER_SKEY).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(signer.key_id(), KeyId::new(0xc74f20a3));
        assert_eq!(signer.key_id().to_string(), "c74f20a3");
        assert_eq!(signer.verifier_key().to_string(), PETER_VKEY);
        assert_eq!(signer.to_private_string(), PETER_SKEY);
        assert_eq!(sign(PETER_TEXT, &[&signer]).unwrap(), peter_note());

        let verified = Note::parse(peter_note().as_bytes())
            .unwrap()
            .verify(&[vkey(PETER_VKEY)])
            .unwrap();
        assert_eq!(verified.text(), PETER_TEXT);
        assert_eq!(verified.signers().len(), 1);
        assert_eq!(verified.signers()[0].name(), "PeterNeumann");
        assert_eq!(verified.signers()[0].key_id(), KeyId::new(0xc74f20a3));
    }

    #[test]
    fn c2sp_spec_example_verifies() {
        let key = vkey(SPEC_VKEY);
        assert_eq!(key.name(), "example.com/foo");
        assert_eq!(key.key_id(), KeyId::new(0x530d903a));
        assert_eq!(key.to_string(), SPEC_VKEY);
        let verified = parse(SPEC_NOTE).unwrap().verify(&[key]).unwrap();
        assert_eq!(verified.into_text(), "This is an example message.\n");
    }

    #[test]
    fn vkey_round_trips_and_from_str() {
        let key: VerifierKey = PETER_VKEY.parse().unwrap();
        assert_eq!(key.to_string(), PETER_VKEY);
        let again = VerifierKey::from_public_key("PeterNeumann", &key.public_key()).unwrap();
        assert_eq!(again, key);
        assert_eq!(format!("{key:?}"), format!("VerifierKey({PETER_VKEY})"));
    }

    #[test]
    fn signer_round_trip_from_seed() {
        let signer = test_signer("example.com/log", 7);
        let parsed = SignerKey::parse(&signer.to_private_string()).unwrap();
        assert_eq!(parsed.name(), signer.name());
        assert_eq!(parsed.key_id(), signer.key_id());
        assert_eq!(parsed.verifier_key(), signer.verifier_key());
        let vk = signer.verifier_key();
        assert_eq!(VerifierKey::parse(&vk.to_string()).unwrap(), vk);
    }

    #[test]
    fn signer_debug_does_not_print_the_secret() {
        let signer = SignerKey::parse(PETER_SKEY).unwrap();
        let debug = format!("{signer:?}");
        assert!(
            debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
            "{debug}"
        );
        let seed_b64 = PETER_SKEY.splitn(5, '+').nth(4).unwrap();
        let seed = STANDARD.decode(seed_b64).unwrap();
        assert!(!debug.contains(&seed_b64[2..]), "{debug}");
        assert!(!debug.contains(&hex::encode(&seed[1..])), "{debug}");
        assert!(!debug.contains(&format!("{:?}", &seed[1..5])), "{debug}");
    }

    // ---- verification semantics ----

    #[test]
    fn unknown_signer_is_ignored() {
        let note = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let parsed = parse(&note).unwrap();
        assert_eq!(parsed.signatures().len(), 2);

        let only_peter = parsed.verify(&[vkey(PETER_VKEY)]).unwrap();
        assert_eq!(only_peter.signers().len(), 1);
        assert_eq!(only_peter.signers()[0].name(), "PeterNeumann");

        let only_enoch = parsed.verify(&[vkey(ENOCH_VKEY)]).unwrap();
        assert_eq!(only_enoch.signers().len(), 1);
        assert_eq!(only_enoch.signers()[0].name(), "EnochRoot");

        let both = parsed
            .verify(&[vkey(ENOCH_VKEY), vkey(PETER_VKEY)])
            .unwrap();
        assert_eq!(both.signers().len(), 2);
        assert_eq!(both.signers()[0].name(), "PeterNeumann");
        assert_eq!(both.signers()[1].name(), "EnochRoot");
    }

    #[test]
    fn unknown_signature_with_garbage_is_ignored() {
        // An unknown key's signature is never checked, whatever its length or content.
        let note = format!("{PETER_TEXT}\n{PETER_SIG}\u{2014} witness.example AAAAAAA=\n");
        assert!(parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]).is_ok());
    }

    #[test]
    fn no_trusted_signature_is_rejected() {
        let parsed = parse(&format!("{PETER_TEXT}\n{ENOCH_SIG}")).unwrap();
        assert_eq!(
            parsed.verify(&[vkey(PETER_VKEY)]),
            Err(NoteVerifyError::NoTrustedSignature)
        );
        assert_eq!(parsed.verify(&[]), Err(NoteVerifyError::NoTrustedSignature));
    }

    #[test]
    fn trusted_name_with_another_key_is_rejected() {
        // Same name, different key: the key ID differs, so the signature is from an unknown key,
        // ignored, and the note has no trusted signature.
        let impostor = test_signer("PeterNeumann", 9);
        assert_ne!(impostor.key_id(), KeyId::new(0xc74f20a3));
        let note = sign(PETER_TEXT, &[&impostor]).unwrap();
        assert_eq!(
            parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]),
            Err(NoteVerifyError::NoTrustedSignature)
        );
        // Same name and a colliding key ID (easy to grind: it is only 32 bits): the signature
        // is checked against the trusted key, fails, and the whole note is rejected.
        let forged = forged_line(
            "PeterNeumann",
            KeyId::new(0xc74f20a3),
            &impostor,
            PETER_TEXT,
        );
        let note = format!("{PETER_TEXT}\n{PETER_SIG}{forged}");
        assert_eq!(
            parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]),
            Err(NoteVerifyError::InvalidSignature {
                name: "PeterNeumann".into(),
                key_id: KeyId::new(0xc74f20a3)
            })
        );
    }

    #[test]
    fn altered_text_is_rejected() {
        let note = peter_note().replace("cryptography", "cryptographY");
        assert!(matches!(
            parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]),
            Err(NoteVerifyError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn trusted_signature_of_wrong_length_is_rejected() {
        let mut blob = KeyId::new(0xc74f20a3).to_bytes().to_vec();
        blob.extend_from_slice(&[7u8; 63]);
        let note = format!(
            "{PETER_TEXT}\n\u{2014} PeterNeumann {}\n",
            STANDARD.encode(blob)
        );
        assert!(matches!(
            parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]),
            Err(NoteVerifyError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn one_bad_trusted_signature_rejects_the_note() {
        // A valid signature first does not excuse a later invalid one by a trusted key.
        let mut bad = PETER_SIG.to_owned();
        // Past the key ID (the first 6 base64 characters), inside the signature proper.
        bad.replace_range(60..64, "AAAA");
        let note = format!("{PETER_TEXT}\n{PETER_SIG}{bad}");
        assert!(matches!(
            parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]),
            Err(NoteVerifyError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn repeated_signature_counts_once() {
        let note = format!("{PETER_TEXT}\n{PETER_SIG}{PETER_SIG}");
        let verified = parse(&note).unwrap().verify(&[vkey(PETER_VKEY)]).unwrap();
        assert_eq!(verified.signers().len(), 1);
    }

    #[test]
    fn repeated_identical_trusted_key_is_fine() {
        let verified = parse(&peter_note())
            .unwrap()
            .verify(&[vkey(PETER_VKEY), vkey(PETER_VKEY)])
            .unwrap();
        assert_eq!(verified.signers().len(), 1);
    }

    #[test]
    fn ambiguous_trusted_keys_are_rejected() {
        // Two different keys with the same name and key ID (a 32-bit collision, built directly).
        let peter = vkey(PETER_VKEY);
        let other = VerifierKey {
            key: test_signer("x", 1).key.verifying_key(),
            ..peter.clone()
        };
        assert_eq!(
            parse(&peter_note()).unwrap().verify(&[peter, other]),
            Err(NoteVerifyError::AmbiguousKey {
                name: "PeterNeumann".into(),
                key_id: KeyId::new(0xc74f20a3)
            })
        );
    }

    // ---- signing ----

    #[test]
    fn sign_with_several_keys_in_order() {
        let a = test_signer("a.example", 1);
        let b = test_signer("b.example", 2);
        let note = sign("hello\n", &[&a, &b]).unwrap();
        let parsed = parse(&note).unwrap();
        assert_eq!(parsed.signatures()[0].name(), "a.example");
        assert_eq!(parsed.signatures()[1].name(), "b.example");
        assert_eq!(parsed.signatures()[1].key_id(), b.key_id());
        assert_eq!(parsed.signatures()[1].signature().len(), 64);
        let verified = parsed
            .verify(&[b.verifier_key(), a.verifier_key()])
            .unwrap();
        assert_eq!(verified.signers().len(), 2);
    }

    #[test]
    fn text_with_blank_lines_and_dash_lines_round_trips() {
        let signer = test_signer("a.example", 1);
        for text in [
            "\n",
            "a\n\nb\n",
            "a\n\n",
            "a\n\n\n",
            "\u{2014} a AAAA\n\n\u{2014} b\n",
        ] {
            let note = sign(text, &[&signer]).unwrap();
            let parsed = parse(&note).unwrap();
            assert_eq!(parsed.unverified_text(), text);
            assert_eq!(
                parsed.verify(&[signer.verifier_key()]).unwrap().text(),
                text
            );
        }
    }

    #[test]
    fn sign_rejects_text_without_final_newline() {
        let signer = test_signer("a.example", 1);
        assert_eq!(
            sign("abc", &[&signer]),
            Err(NoteSignError::TextMissingFinalNewline)
        );
        assert_eq!(
            sign("", &[&signer]),
            Err(NoteSignError::TextMissingFinalNewline)
        );
    }

    #[test]
    fn sign_rejects_control_characters() {
        let signer = test_signer("a.example", 1);
        assert_eq!(
            sign("a\r\n", &[&signer]),
            Err(NoteSignError::TextControlCharacter { offset: 1 })
        );
        assert_eq!(
            sign("a\tb\n", &[&signer]),
            Err(NoteSignError::TextControlCharacter { offset: 1 })
        );
    }

    #[test]
    fn sign_rejects_no_signers() {
        assert_eq!(sign("a\n", &[]), Err(NoteSignError::NoSigners));
    }

    #[test]
    fn sign_rejects_duplicate_signers() {
        let a = test_signer("a.example", 1);
        let a2 = test_signer("a.example", 1);
        assert_eq!(
            sign("a\n", &[&a, &a2]),
            Err(NoteSignError::DuplicateSigner {
                name: "a.example".into(),
                key_id: a.key_id()
            })
        );
    }

    #[test]
    fn sign_rejects_too_many_signers() {
        let keys: Vec<SignerKey> = (0..=MAX_SIGNATURES)
            .map(|i| test_signer(&format!("k{i}"), 1))
            .collect();
        let refs: Vec<&SignerKey> = keys.iter().collect();
        assert_eq!(
            sign("a\n", &refs),
            Err(NoteSignError::TooManySigners {
                count: MAX_SIGNATURES + 1
            })
        );
        assert!(sign("a\n", &refs[..MAX_SIGNATURES]).is_ok());
    }

    // ---- note parsing: one test per rejection rule ----

    #[test]
    fn parse_rejects_invalid_utf8() {
        let mut bytes = b"\xff".to_vec();
        bytes.extend_from_slice(peter_note().as_bytes());
        assert_eq!(
            Note::parse(&bytes),
            Err(NoteParseError::NotUtf8 { valid_up_to: 0 })
        );
    }

    #[test]
    fn parse_rejects_control_characters() {
        assert_eq!(
            parse(&format!("\x01{}", peter_note())),
            Err(NoteParseError::ControlCharacter { offset: 0 })
        );
        let crlf = peter_note().replace('\n', "\r\n");
        assert!(matches!(
            parse(&crlf),
            Err(NoteParseError::ControlCharacter { .. })
        ));
        assert!(matches!(
            parse(&peter_note().replace("PeterNeumann x", "PeterNeumann\tx")),
            Err(NoteParseError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn parse_rejects_missing_final_newline() {
        let note = peter_note();
        assert_eq!(
            parse(note.trim_end_matches('\n')),
            Err(NoteParseError::MissingFinalNewline)
        );
        assert_eq!(
            parse(PETER_TEXT.trim_end()),
            Err(NoteParseError::MissingFinalNewline)
        );
        assert_eq!(parse(""), Err(NoteParseError::MissingFinalNewline));
    }

    #[test]
    fn parse_rejects_trailing_data_after_last_signature() {
        assert_eq!(
            parse(&format!("{}junk", peter_note())),
            Err(NoteParseError::MissingFinalNewline)
        );
        assert_eq!(
            parse(&format!("{}Unexpected line.\n", peter_note())),
            Err(NoteParseError::MissingEmDash { line: 2 })
        );
    }

    #[test]
    fn parse_rejects_missing_blank_line() {
        assert_eq!(parse(PETER_TEXT), Err(NoteParseError::MissingBlankLine));
        assert_eq!(
            parse(&format!("{PETER_TEXT}{PETER_SIG}")),
            Err(NoteParseError::MissingBlankLine)
        );
    }

    #[test]
    fn parse_rejects_missing_signatures() {
        assert_eq!(
            parse(&format!("{PETER_TEXT}\n")),
            Err(NoteParseError::NoSignatures)
        );
    }

    #[test]
    fn parse_rejects_too_many_signatures() {
        let too_many = format!("{PETER_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
        assert_eq!(
            parse(&too_many),
            Err(NoteParseError::TooManySignatures {
                count: MAX_SIGNATURES + 1
            })
        );
        let at_limit = format!("{PETER_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
        assert!(parse(&at_limit)
            .unwrap()
            .verify(&[vkey(PETER_VKEY)])
            .is_ok());
    }

    #[test]
    fn parse_rejects_line_without_em_dash() {
        let hyphen = peter_note().replace('\u{2014}', "-");
        assert_eq!(
            parse(&hyphen),
            Err(NoteParseError::MissingEmDash { line: 1 })
        );
        let no_space = peter_note().replace("\u{2014} ", "\u{2014}");
        assert_eq!(
            parse(&no_space),
            Err(NoteParseError::MissingEmDash { line: 1 })
        );
    }

    #[test]
    fn parse_rejects_line_without_signature() {
        let note = format!("{PETER_TEXT}\n{PETER_SIG}\u{2014} PeterNeumann\n");
        assert_eq!(
            parse(&note),
            Err(NoteParseError::MissingSignature { line: 2 })
        );
    }

    #[test]
    fn parse_rejects_invalid_signer_name() {
        let plus = peter_note().replace("PeterNeumann", "Peter+Neumann");
        assert_eq!(
            parse(&plus),
            Err(NoteParseError::InvalidSignerName {
                line: 1,
                source: NameError::Plus
            })
        );
        let nbsp = peter_note().replace("PeterNeumann", "Peter\u{a0}Neumann");
        assert_eq!(
            parse(&nbsp),
            Err(NoteParseError::InvalidSignerName {
                line: 1,
                source: NameError::Whitespace
            })
        );
        let empty = peter_note().replace("\u{2014} PeterNeumann ", "\u{2014}  ");
        assert_eq!(
            parse(&empty),
            Err(NoteParseError::InvalidSignerName {
                line: 1,
                source: NameError::Empty
            })
        );
    }

    #[test]
    fn parse_rejects_non_canonical_signature_base64() {
        // Trailing bits set in the last character before the padding.
        let trailing_bits = peter_note().replace("JnAM=", "JnAN=");
        assert!(matches!(
            parse(&trailing_bits),
            Err(NoteParseError::SignatureBase64 { line: 1, .. })
        ));
        let no_padding = peter_note().replace("JnAM=", "JnAM");
        assert!(matches!(
            parse(&no_padding),
            Err(NoteParseError::SignatureBase64 { line: 1, .. })
        ));
        let two_spaces = peter_note().replace("PeterNeumann x", "PeterNeumann  x");
        assert!(matches!(
            parse(&two_spaces),
            Err(NoteParseError::SignatureBase64 { line: 1, .. })
        ));
        let url_safe = peter_note().replace("x08go/", "x08go_");
        assert!(matches!(
            parse(&url_safe),
            Err(NoteParseError::SignatureBase64 { line: 1, .. })
        ));
    }

    #[test]
    fn parse_rejects_short_signature() {
        let note = format!("{PETER_TEXT}\n\u{2014} PeterNeumann AAAAAA==\n");
        assert_eq!(
            parse(&note),
            Err(NoteParseError::SignatureTooShort { line: 1, len: 4 })
        );
        let empty = format!("{PETER_TEXT}\n\u{2014} PeterNeumann \n");
        assert_eq!(
            parse(&empty),
            Err(NoteParseError::SignatureTooShort { line: 1, len: 0 })
        );
    }

    // ---- key parsing: one test per rejection rule ----

    #[test]
    fn vkey_rejects_invalid_names() {
        let material = PETER_VKEY.split_once('+').unwrap().1;
        let cases = [
            ("", NameError::Empty),
            ("Peter Neumann", NameError::Whitespace),
            ("Peter\u{3000}Neumann", NameError::Whitespace),
            ("Peter\u{1}Neumann", NameError::ControlCharacter),
        ];
        for (name, expected) in cases {
            assert_eq!(
                VerifierKey::parse(&format!("{name}+{material}")),
                Err(KeyError::InvalidName(expected.clone())),
                "{name:?}"
            );
        }
        let public = vkey(PETER_VKEY).public_key();
        assert_eq!(
            VerifierKey::from_public_key("a+b", &public),
            Err(KeyError::InvalidName(NameError::Plus))
        );
        assert_eq!(
            SignerKey::from_seed("a b", &[1; 32]).map(|k| k.key_id()),
            Err(KeyError::InvalidName(NameError::Whitespace))
        );
    }

    #[test]
    fn vkey_rejects_missing_parts() {
        assert_eq!(
            VerifierKey::parse("PeterNeumann"),
            Err(KeyError::MissingPart { part: "key id" })
        );
        assert_eq!(
            VerifierKey::parse("PeterNeumann+c74f20a3"),
            Err(KeyError::MissingPart {
                part: "key material"
            })
        );
    }

    #[test]
    fn vkey_rejects_malformed_key_id() {
        for id in [
            "C74F20A3",
            "c74f20a",
            "c74f20a3a",
            "0xc74f20",
            "c74f20g3",
            "+74f20a3",
            "",
        ] {
            let s = PETER_VKEY.replace("c74f20a3", id);
            assert_eq!(VerifierKey::parse(&s), Err(KeyError::MalformedKeyId), "{s}");
        }
    }

    #[test]
    fn vkey_rejects_wrong_key_id() {
        let s = PETER_VKEY.replace("c74f20a3", "c74f20a4");
        assert_eq!(
            VerifierKey::parse(&s),
            Err(KeyError::KeyIdMismatch {
                stated: KeyId::new(0xc74f20a4),
                computed: KeyId::new(0xc74f20a3)
            })
        );
    }

    #[test]
    fn vkey_rejects_non_canonical_base64() {
        for s in [
            format!("{PETER_VKEY}="),
            format!("{PETER_VKEY}\n"),
            PETER_VKEY.replace(
                "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/",
                "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_",
            ),
            PETER_VKEY.replace("ARpc", "AR pc"),
        ] {
            assert!(
                matches!(VerifierKey::parse(&s), Err(KeyError::Base64(_))),
                "{s}"
            );
        }
        // 32 bytes of material leaves two trailing bits in the last character.
        let short = vkey_with_material("a", &[1u8; 32]);
        let b64 = short.rsplit('+').next().unwrap();
        let last = b64.trim_end_matches('=').chars().last().unwrap();
        let tweaked = short.replacen(&format!("{last}="), "B=", 1);
        assert_ne!(tweaked, short);
        assert!(
            matches!(VerifierKey::parse(&tweaked), Err(KeyError::Base64(_))),
            "{tweaked}"
        );
    }

    #[test]
    fn vkey_rejects_wrong_type() {
        let public = vkey(PETER_VKEY).public_key();
        let mut material = ed25519_material(&public);
        material[0] = 0x02;
        let s = vkey_with_material("PeterNeumann", &material);
        assert_eq!(VerifierKey::parse(&s), Err(KeyError::UnsupportedType(0x02)));
        // The Go test's "unknown algorithm, with adjusted key hash".
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::UnsupportedType(0x65))
        );
    }

    #[test]
    fn vkey_rejects_wrong_length() {
        let public = vkey(PETER_VKEY).public_key();
        let mut long = ed25519_material(&public);
        long.push(0);
        let s = vkey_with_material("PeterNeumann", &long);
        assert_eq!(
            VerifierKey::parse(&s),
            Err(KeyError::WrongLength { actual: 34 })
        );
        let short = ed25519_material(&public)[..32].to_vec();
        let s = vkey_with_material("PeterNeumann", &short);
        assert_eq!(
            VerifierKey::parse(&s),
            Err(KeyError::WrongLength { actual: 32 })
        );
        assert_eq!(
            VerifierKey::parse("PeterNeumann+c74f20a3+"),
            Err(KeyError::WrongLength { actual: 0 })
        );
    }

    #[test]
    fn vkey_rejects_invalid_point() {
        // Find a y coordinate with no matching x on the curve.
        let bad = (2u8..=255)
            .map(|y| {
                let mut b = [0u8; 32];
                b[0] = y;
                b
            })
            .find(|b| VerifyingKey::from_bytes(b).is_err())
            .unwrap();
        let s = vkey_with_material("a", &ed25519_material(&bad));
        assert_eq!(VerifierKey::parse(&s), Err(KeyError::InvalidPublicKey));
        assert_eq!(
            VerifierKey::from_public_key("a", &bad),
            Err(KeyError::InvalidPublicKey)
        );
    }

    #[test]
    fn vkey_rejects_non_canonical_point() {
        // y = p + 1 = 2^255 - 18 encodes the identity non-canonically.
        let mut y = [0xffu8; 32];
        y[0] = 0xee;
        y[31] = 0x7f;
        let s = vkey_with_material("a", &ed25519_material(&y));
        assert_eq!(VerifierKey::parse(&s), Err(KeyError::NonCanonicalPublicKey));
        // x = 0 with the sign bit set: the point (0, 1) written as "negative zero".
        let mut neg_zero = [0u8; 32];
        neg_zero[0] = 1;
        neg_zero[31] = 0x80;
        let s = vkey_with_material("a", &ed25519_material(&neg_zero));
        assert_eq!(VerifierKey::parse(&s), Err(KeyError::NonCanonicalPublicKey));
    }

    #[test]
    fn vkey_rejects_small_order_point() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let s = vkey_with_material("a", &ed25519_material(&identity));
        assert_eq!(VerifierKey::parse(&s), Err(KeyError::WeakPublicKey));
        assert_eq!(
            VerifierKey::from_public_key("a", &identity),
            Err(KeyError::WeakPublicKey)
        );
    }

    #[test]
    fn vkey_manglings_are_rejected() {
        // Every proper substring and every single-byte increment of a valid vkey fails.
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(VerifierKey::parse(s).is_err(), "{s}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(VerifierKey::parse(s).is_err(), "{s}");
            }
        }
    }

    #[test]
    fn skey_manglings_are_rejected() {
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(SignerKey::parse(s).is_err(), "{s}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(SignerKey::parse(s).is_err(), "{s}");
            }
        }
    }

    #[test]
    fn skey_rejects_missing_prefix() {
        assert_eq!(
            SignerKey::parse(&PETER_SKEY.replace("PRIVATE+KEY+", "")).map(|k| k.key_id()),
            Err(KeyError::MissingPrivateKeyPrefix)
        );
        assert_eq!(
            SignerKey::parse(PETER_VKEY).map(|k| k.key_id()),
            Err(KeyError::MissingPrivateKeyPrefix)
        );
    }

    #[test]
    fn skey_rejects_wrong_key_id() {
        let s = PETER_SKEY.replace("c74f20a3", "00000000");
        assert_eq!(
            SignerKey::parse(&s).map(|k| k.key_id()),
            Err(KeyError::KeyIdMismatch {
                stated: KeyId::new(0),
                computed: KeyId::new(0xc74f20a3)
            })
        );
    }

    #[test]
    fn skey_rejects_wrong_type_and_length() {
        let seed = [3u8; 32];
        let mut material = vec![0x02];
        material.extend_from_slice(&seed);
        let s = format!("PRIVATE+KEY+a+00000000+{}", STANDARD.encode(&material));
        assert_eq!(
            SignerKey::parse(&s).map(|k| k.key_id()),
            Err(KeyError::UnsupportedType(2))
        );
        material[0] = 0x01;
        material.pop();
        let s = format!("PRIVATE+KEY+a+00000000+{}", STANDARD.encode(&material));
        assert_eq!(
            SignerKey::parse(&s).map(|k| k.key_id()),
            Err(KeyError::WrongLength { actual: 32 })
        );
    }

    #[test]
    fn key_id_formats_as_eight_hex_digits() {
        assert_eq!(KeyId::new(0x0000_00ab).to_string(), "000000ab");
        assert_eq!(format!("{:?}", KeyId::new(0xc74f20a3)), "KeyId(c74f20a3)");
        assert_eq!(KeyId::new(0x0102_0304).to_bytes(), [1, 2, 3, 4]);
        assert_eq!(KeyId::new(7).get(), 7);
    }
}

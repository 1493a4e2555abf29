//! C2SP tlog-cosignature (<https://c2sp.org/tlog-cosignature>), the Ed25519 `cosignature/v1`
//! type: what a witness adds to a checkpoint it found consistent with everything it saw before.
//!
//! - A cosigner key is a vkey of signature type `0x04`:
//!   `<name>+<hex key id>+<base64(0x04 || 32-byte Ed25519 public key)>`, with the key ID
//!   `SHA-256(name || "\n" || 0x04 || public key)[:4]`.
//! - A cosignature line is a signed-note signature line whose blob after the key ID is a
//!   `timestamped_signature`: an 8-byte big-endian POSIX time (at most 2^63 - 1), then the
//!   64-byte Ed25519 signature.
//! - The signed message is `cosignature/v1\n`, `time <T>\n`, then the whole checkpoint body
//!   (extension lines included, with its final newline, without signature lines).
//!
//! A cosignature says that, at time T, the largest consistent tree the witness has seen for
//! the origin has that size and root hash (the first three lines). It says nothing about
//! extension lines, even though they are signed.
//!
//! Signer keys (for `letro witness`) are encoded like note signer keys, with the cosignature
//! type byte: `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>`.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::note::{
    decode_public_key, first_control_character, key_bytes_of_type, split_id_and_material,
    validate_key_name, KeyError, KeyId, Note, PRIVATE_KEY_PREFIX, SIGNATURE_PREFIX,
};

/// The signature type byte of Ed25519 `cosignature/v1` keys.
pub const SIGNATURE_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The header line of the signed message.
pub const HEADER: &str = "cosignature/v1";

/// The largest timestamp a cosignature may carry, 2^63 - 1.
pub const MAX_TIME: u64 = (1 << 63) - 1;

/// Length of a `timestamped_signature` with an Ed25519 signature.
const TIMESTAMPED_LEN: usize = 8 + 64;

/// Why a cosignature could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// The checkpoint body does not end with a newline or holds a control character.
    #[error("the checkpoint body is not a note text (final newline, no control characters)")]
    BadBody,
    /// A time beyond 2^63 - 1.
    #[error("cosignature time {0} is beyond 2^63 - 1")]
    TimeOutOfRange(u64),
    /// A line named like a trusted cosigner, with its key ID, whose blob is not 72 bytes.
    #[error("the cosignature of {name} is {len} bytes, not a timestamp and an Ed25519 signature")]
    Malformed {
        /// The cosigner.
        name: String,
        /// The length of the blob after the key ID.
        len: usize,
    },
    /// A line named like a trusted cosigner, with its key ID, that does not verify.
    #[error("the cosignature of {name} does not verify")]
    Invalid {
        /// The cosigner.
        name: String,
    },
}

/// The message a cosigner signs for `body` at `time`.
pub fn message(body: &str, time: u64) -> String {
    format!("{HEADER}\ntime {time}\n{body}")
}

/// A trusted cosigner (witness) key, as a verifier pins it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CosignerKey {
    name: String,
    id: KeyId,
    key: VerifyingKey,
}

impl CosignerKey {
    /// The cosigner key for an Ed25519 public key with this name.
    pub fn from_public_key(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        Ok(Self {
            name: name.to_owned(),
            id: KeyId::of_type(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key),
            key: decode_public_key(public_key)?,
        })
    }

    /// Parses a type-0x04 vkey, checking the name, the key and the stated key ID.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let (name, rest) = s
            .split_once('+')
            .ok_or(KeyError::MissingPart { part: "key id" })?;
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        let (stated, material) = split_id_and_material(rest)?;
        let public_key = key_bytes_of_type(&material, SIGNATURE_TYPE_COSIGNATURE_V1)?;
        let key = Self::from_public_key(name, &public_key)?;
        if key.id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: key.id,
            });
        }
        Ok(key)
    }

    /// The cosigner's name.
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
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![SIGNATURE_TYPE_COSIGNATURE_V1];
        material.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.id, STANDARD.encode(material))
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerKey({self})")
    }
}

/// A cosigner's signing key (the seed is wiped on drop by ed25519-dalek).
pub struct CosignerSigner {
    name: String,
    id: KeyId,
    key: SigningKey,
}

impl CosignerSigner {
    /// The signer for a 32-byte seed drawn by the caller from a CSPRNG.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name).map_err(KeyError::InvalidName)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Self {
            name: name.to_owned(),
            id: KeyId::of_type(
                name,
                SIGNATURE_TYPE_COSIGNATURE_V1,
                key.verifying_key().as_bytes(),
            ),
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let rest = s
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(KeyError::MissingPrivateKeyPrefix)?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or(KeyError::MissingPart { part: "key id" })?;
        let (stated, material) = split_id_and_material(rest)?;
        let seed =
            zeroize::Zeroizing::new(key_bytes_of_type(&material, SIGNATURE_TYPE_COSIGNATURE_V1)?);
        drop(zeroize::Zeroizing::new(material));
        let signer = Self::from_seed(name, &seed)?;
        if signer.id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: signer.id,
            });
        }
        Ok(signer)
    }

    /// The encoded signer key, secret: store it with owner-only permissions.
    pub fn to_private_string(&self) -> String {
        let mut material = zeroize::Zeroizing::new(vec![SIGNATURE_TYPE_COSIGNATURE_V1]);
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}",
            self.name,
            self.id,
            STANDARD.encode(material.as_slice())
        )
    }

    /// The matching cosigner key.
    pub fn cosigner_key(&self) -> CosignerKey {
        CosignerKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line (without a final newline) for the checkpoint `body` at `time`.
    pub fn cosign(&self, body: &str, time: u64) -> Result<String, CosignatureError> {
        if !body.ends_with('\n') || first_control_character(body).is_some() {
            return Err(CosignatureError::BadBody);
        }
        if time > MAX_TIME {
            return Err(CosignatureError::TimeOutOfRange(time));
        }
        let signature = self.key.sign(message(body, time).as_bytes());
        let mut blob = Vec::with_capacity(4 + TIMESTAMPED_LEN);
        blob.extend_from_slice(&self.id.to_bytes());
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{SIGNATURE_PREFIX}{} {}",
            self.name,
            STANDARD.encode(blob)
        ))
    }
}

impl fmt::Debug for CosignerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignerSigner")
            .field("name", &self.name)
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A verified cosignature: who, and when it says it cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The cosigner's name.
    pub name: String,
    /// The cosigner's key ID.
    pub key_id: KeyId,
    /// The cosignature's time (POSIX seconds).
    pub time: u64,
}

/// The cosignatures of `note` by the `trusted` cosigners, verified, in the note's order.
///
/// Lines of other keys are ignored (the log's own signature among them). A line whose name and
/// key ID are a trusted cosigner's must be a valid cosignature, or the whole note is refused:
/// a verifier must not silently drop what claims to be a trusted witness's statement. The
/// caller decides how many are enough (a policy), and checks the log's signature separately.
pub fn verify(note: &Note, trusted: &[CosignerKey]) -> Result<Vec<Cosigned>, CosignatureError> {
    let body = note.unverified_text();
    let mut out = Vec::new();
    for line in note.signatures() {
        let Some(key) = trusted
            .iter()
            .find(|k| k.id == line.key_id() && k.name == line.name())
        else {
            continue;
        };
        let malformed = || CosignatureError::Malformed {
            name: key.name.clone(),
            len: line.signature().len(),
        };
        let blob: &[u8; TIMESTAMPED_LEN] = line.signature().try_into().map_err(|_| malformed())?;
        let (time, signature) = blob.split_at(8);
        let time = u64::from_be_bytes(time.try_into().map_err(|_| malformed())?);
        if time > MAX_TIME {
            return Err(CosignatureError::TimeOutOfRange(time));
        }
        let signature = Signature::from_slice(signature).map_err(|_| malformed())?;
        key.key
            .verify_strict(message(body, time).as_bytes(), &signature)
            .map_err(|_| CosignatureError::Invalid {
                name: key.name.clone(),
            })?;
        if !out
            .iter()
            .any(|c: &Cosigned| c.key_id == key.id && c.name == key.name)
        {
            out.push(Cosigned {
                name: key.name.clone(),
                key_id: key.id,
                time,
            });
        }
    }
    Ok(out)
}

/// Appends cosignature lines to a signed note (each line as [`CosignerSigner::cosign`] makes
/// it). The note must end with a newline; the lines are added after its signatures.
pub fn attach(signed_note: &str, lines: &[String]) -> String {
    let mut out = String::with_capacity(signed_note.len() + lines.len() * 128);
    out.push_str(signed_note);
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{sign, SignerKey};

    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn witness(seed: u8) -> CosignerSigner {
        CosignerSigner::from_seed(&format!("witness.example/w{seed}"), &[seed; 32]).unwrap()
    }

    fn cosigned(body: &str, witnesses: &[(&CosignerSigner, u64)]) -> Note {
        let log = SignerKey::from_seed("example.com/behind-the-sofa", &[9; 32]).unwrap();
        let note = sign(body, &[&log]).unwrap();
        let lines: Vec<String> = witnesses
            .iter()
            .map(|(w, t)| w.cosign(body, *t).unwrap())
            .collect();
        Note::parse(attach(&note, &lines).as_bytes()).unwrap()
    }

    /// A known answer made by another implementation: sigsum-go's
    /// pkg/checkpoint/checkpoint_test.go (TestCheckpointVerifyCosignatureByKey), a witness
    /// with seed 0x11 followed by zeros cosigning at time 1234.
    #[test]
    fn sigsum_go_known_answer() {
        let body = "example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = "\u{2014} example.org/witness ys8uUAAAAAAAAATSftMzceM8zssdZ9jin9SjwIxzx9iADMf63VqirX2hafol9RsqNqbofIz0LVRqHXI2kpEBSki5RTXFtxz1vo9+Cg==";
        let mut seed = [0u8; 32];
        seed[0] = 0x11;
        let w = CosignerSigner::from_seed("example.org/witness", &seed).unwrap();
        assert_eq!(
            w.cosigner_key().to_string(),
            "example.org/witness+cacf2e50+BGbguFjkYqYJ5m/nE3DIFtiEb/ED1UmaIqf+w3/bxCSn"
        );
        assert_eq!(w.cosign(body, 1234).unwrap(), line);
        let note = Note::parse(format!("{body}\n{line}\n").as_bytes()).unwrap();
        let got = verify(&note, &[w.cosigner_key()]).unwrap();
        assert_eq!((got.len(), got[0].time), (1, 1234));
        // Their negative cases: another key ID is ignored; a bad length is refused.
        let other_id = line.replace("ys8uUA", "yX8uUA");
        let note = Note::parse(format!("{body}\n{other_id}\n").as_bytes()).unwrap();
        assert_eq!(verify(&note, &[w.cosigner_key()]).unwrap(), vec![]);
        let bad_len = line.replace("9+Cg==", "9+CgXX");
        let note = Note::parse(format!("{body}\n{bad_len}\n").as_bytes()).unwrap();
        assert!(matches!(
            verify(&note, &[w.cosigner_key()]),
            Err(CosignatureError::Malformed { .. })
        ));
    }

    #[test]
    fn keys_round_trip_and_are_checked() {
        let w = witness(1);
        let vkey = w.cosigner_key().to_string();
        assert_eq!(CosignerKey::parse(&vkey), Ok(w.cosigner_key()));
        let again = CosignerSigner::parse(&w.to_private_string()).unwrap();
        assert_eq!(again.cosigner_key(), w.cosigner_key());
        // The key ID commits to the type: the same key as a note key (0x01) has another ID.
        let note_key = SignerKey::from_seed("witness.example/w1", &[1; 32]).unwrap();
        assert_ne!(note_key.key_id(), w.cosigner_key().key_id());
        // A 0x01 vkey is not a cosigner key, nor a 0x04 vkey a note key.
        assert_eq!(
            CosignerKey::parse(&note_key.verifier_key().to_string()),
            Err(KeyError::UnsupportedType(0x01))
        );
        assert!(crate::note::VerifierKey::parse(&vkey).is_err());
        // A wrong stated key ID.
        let (name, rest) = vkey.split_once('+').unwrap();
        let (_, material) = rest.split_once('+').unwrap();
        assert!(matches!(
            CosignerKey::parse(&format!("{name}+00000000+{material}")),
            Err(KeyError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn cosignatures_verify_and_name_their_time() {
        let (w1, w2, w3) = (witness(1), witness(2), witness(3));
        let note = cosigned(BODY, &[(&w1, 1_679_315_147), (&w2, 1_679_315_200)]);
        let trusted = [w1.cosigner_key(), w2.cosigner_key(), w3.cosigner_key()];
        let got = verify(&note, &trusted).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].name.as_str(), got[0].time),
            ("witness.example/w1", 1_679_315_147)
        );
        assert_eq!(got[1].time, 1_679_315_200);
        // Untrusted cosigners are ignored, not errors.
        assert_eq!(verify(&note, &[w3.cosigner_key()]).unwrap(), vec![]);
        // The log's own Ed25519 line is not a cosignature even under the same name.
        assert!(verify(&note, &[]).unwrap().is_empty());
    }

    #[test]
    fn extension_lines_are_signed() {
        let w = witness(1);
        let body = format!("{BODY}time 1700000000\n");
        let line = w.cosign(&body, 5).unwrap();
        let log = SignerKey::from_seed("example.com/behind-the-sofa", &[9; 32]).unwrap();
        // The same cosignature on the body without its extension line does not verify.
        let stripped = attach(&sign(BODY, &[&log]).unwrap(), std::slice::from_ref(&line));
        let note = Note::parse(stripped.as_bytes()).unwrap();
        assert!(matches!(
            verify(&note, &[w.cosigner_key()]),
            Err(CosignatureError::Invalid { .. })
        ));
        let whole = attach(&sign(&body, &[&log]).unwrap(), &[line]);
        let note = Note::parse(whole.as_bytes()).unwrap();
        assert_eq!(verify(&note, &[w.cosigner_key()]).unwrap().len(), 1);
    }

    #[test]
    fn a_bad_cosignature_by_a_trusted_witness_refuses_the_note() {
        let w = witness(1);
        let line = w.cosign(BODY, 1000).unwrap();
        let (prefix, b64) = line.rsplit_once(' ').unwrap();
        let blob = STANDARD.decode(b64).unwrap();
        let log = SignerKey::from_seed("example.com/behind-the-sofa", &[9; 32]).unwrap();
        let signed = sign(BODY, &[&log]).unwrap();
        let with = |blob: &[u8]| {
            let note = attach(&signed, &[format!("{prefix} {}", STANDARD.encode(blob))]);
            verify(&Note::parse(note.as_bytes()).unwrap(), &[w.cosigner_key()])
        };
        // Another time than the one signed.
        let mut b = blob.clone();
        b[11] ^= 1;
        assert!(matches!(with(&b), Err(CosignatureError::Invalid { .. })));
        // A flipped signature bit.
        let mut b = blob.clone();
        b[40] ^= 1;
        assert!(matches!(with(&b), Err(CosignatureError::Invalid { .. })));
        // Too short, too long (a bare Ed25519 signature without the timestamp).
        assert!(matches!(
            with(&blob[..blob.len() - 1]),
            Err(CosignatureError::Malformed { .. })
        ));
        let mut bare = blob[..4].to_vec();
        bare.extend_from_slice(&blob[12..]);
        assert!(matches!(
            with(&bare),
            Err(CosignatureError::Malformed { len: 64, .. })
        ));
        // A time beyond 2^63 - 1.
        let mut b = blob.clone();
        b[4] |= 0x80;
        assert!(matches!(with(&b), Err(CosignatureError::TimeOutOfRange(_))));
        assert_eq!(with(&blob).unwrap().len(), 1);
    }

    #[test]
    fn bad_input_to_cosign_is_refused() {
        let w = witness(1);
        assert_eq!(w.cosign("no newline", 1), Err(CosignatureError::BadBody));
        assert_eq!(w.cosign("a\tb\n", 1), Err(CosignatureError::BadBody));
        assert_eq!(
            w.cosign(BODY, MAX_TIME + 1),
            Err(CosignatureError::TimeOutOfRange(MAX_TIME + 1))
        );
        assert_eq!(
            message(BODY, 1_679_315_147),
            format!("cosignature/v1\ntime 1679315147\n{BODY}")
        );
    }
}

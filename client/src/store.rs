// SPDX-License-Identifier: AGPL-3.0-only
//! The client's state and its file: libsignal's store traits over state held in memory, and the
//! atomic, private write of that state to `state.json`.
//!
//! libsignal's records are kept in their own serialisation (`serialize()` / `deserialize()`),
//! base64 in the JSON file. Everything secret is held as [`Secret`], zeroized on drop.
//!
//! The store traits do no I/O. The [`crate::Client`] runs each operation (start a session,
//! encrypt, decrypt, ...) against the state in memory and writes the state once, before the
//! operation returns its result; if the operation or the write fails, the state in memory is
//! put back as it was. So each operation is atomic on disk, and a result (ciphertext, plaintext)
//! is only handed out once the ratchet state that produced it is durable.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use libsignal_protocol_syft::{
    CiphertextMessageType, Direction, GenericSignedPreKey, IdentityChange, IdentityKey,
    IdentityKeyPair, IdentityKeyStore, KyberPreKeyId, KyberPreKeyRecord, KyberPreKeyStore,
    PreKeyId, PreKeyRecord, PreKeyStore, ProtocolAddress, PublicKey, SessionRecord, SessionStore,
    SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord, SignedPreKeyStore,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use letro_api::directory::{
    check_account_id, AccountIdError, CertificateObject, DirectoryError, ReceiptKeyBinding,
    MAX_REGISTRATION_ID,
};
use letro_core::babyjubjub::{self, PointError};
use letro_core::eddsa;

/// The file name of the state, in the client's directory.
pub const STATE_FILE: &str = "state.json";

/// The `version` of the state file.
pub const STATE_VERSION: u32 = 1;

/// The error message the Kyber prekey store gives for a reused base key (a replayed
/// `PreKeySignalMessage`); the client maps it to [`crate::ClientError::Replayed`].
pub(crate) const REUSED_BASE_KEY: &str = "reused base key";

/// Why a state file is not a usable client state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not JSON of the state's shape (this includes a truncated file).
    #[error("not json of the expected shape: {0}")]
    Json(String),
    /// Another `version`.
    #[error("unsupported state version {0}")]
    UnsupportedVersion(u32),
    /// The account id is not acceptable.
    #[error("bad account id")]
    Account(#[source] AccountIdError),
    /// The registration id is out of range.
    #[error("registration id {0} is out of range")]
    RegistrationId(u32),
    /// A stored key or record does not deserialise.
    #[error("{what} does not deserialise")]
    Record {
        /// Which record.
        what: &'static str,
        /// libsignal's error.
        #[source]
        source: SignalProtocolError,
    },
    /// A stored value has the wrong length.
    #[error("{what} is {len} bytes, expected {expected}")]
    Length {
        /// Which value.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The expected length.
        expected: usize,
    },
    /// The current signed or Kyber prekey is missing.
    #[error("the current {0} is missing")]
    MissingPrekey(&'static str),
    /// The receipt key or its certificate is not usable.
    #[error("the stored receipt key or its certificate is not usable")]
    ReceiptKey,
    /// A peer's stored receipt key or certificate is malformed.
    #[error("a peer's stored receipt key is malformed")]
    Peer(#[source] DirectoryError),
    /// A peer has a receipt key but no identity key.
    #[error("a peer's identity key is missing")]
    PeerIdentityMissing,
}

/// Secret bytes: base64 in the file, zeroized when dropped.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(#[serde(with = "b64_secret")] pub(crate) Zeroizing<Vec<u8>>);

impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

/// Public bytes: base64 in the file.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Bytes(#[serde(with = "b64")] pub(crate) Vec<u8>);

/// The whole client state, as stored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    /// [`STATE_VERSION`].
    pub(crate) version: u32,
    /// This client's account id.
    pub(crate) account: String,
    /// The Baby Jubjub receipt key and its certificate.
    pub(crate) receipt: ReceiptState,
    /// The identity key pair, registration id and the peers' identity keys.
    pub(crate) identity: IdentityState,
    /// One-time prekeys not yet used.
    pub(crate) prekeys: PreKeyState,
    /// Signed prekeys.
    pub(crate) signed_prekeys: SignedPreKeyState,
    /// Kyber prekeys.
    pub(crate) kyber_prekeys: KyberPreKeyState,
    /// Sessions, by address.
    pub(crate) sessions: SessionState,
    /// What this client learnt about peers from their bundles.
    pub(crate) peers: BTreeMap<String, PeerState>,
}

/// The receipt key (Baby Jubjub EdDSA-Poseidon private key) and the identity key's XEdDSA
/// certificate of its public key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReceiptState {
    pub(crate) private_key: Secret,
    pub(crate) certificate_signature: Bytes,
}

/// A peer's receipt key and certificate, from the bundle its session was started with.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeerState {
    pub(crate) receipt_key: Bytes,
    pub(crate) certificate_signature: Bytes,
}

impl PeerState {
    /// The receipt key and certificate, through the directory's shape checks.
    pub(crate) fn binding(&self, identity_key: &[u8]) -> Result<ReceiptKeyBinding, DirectoryError> {
        let packed: [u8; 32] = self.receipt_key.0.as_slice().try_into().map_err(|_| {
            DirectoryError::ReceiptKeyLength {
                len: self.receipt_key.0.len(),
            }
        })?;
        let point = babyjubjub::unpack(&packed).map_err(DirectoryError::ReceiptKey)?;
        if !babyjubjub::is_in_prime_subgroup(&point) {
            return Err(DirectoryError::ReceiptKey(PointError::NotInSubgroup));
        }
        let receipt_key = eddsa::PublicKey::from_point(point)
            .map_err(|_| DirectoryError::ReceiptKey(PointError::SmallOrder))?;
        let certificate = CertificateObject {
            identity_key: identity_key.to_vec(),
            signature: self.certificate_signature.0.clone(),
        }
        .to_certificate()
        .map_err(DirectoryError::Certificate)?;
        Ok(ReceiptKeyBinding {
            receipt_key,
            certificate,
        })
    }
}

/// [`IdentityKeyStore`]: our identity, trust on first use for theirs.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityState {
    /// `IdentityKeyPair::serialize()`.
    pub(crate) key_pair: Secret,
    pub(crate) registration_id: u32,
    /// Peers' identity keys (`IdentityKey::serialize()`), by [`address_key`].
    pub(crate) known: BTreeMap<String, Bytes>,
}

/// [`PreKeyStore`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreKeyState {
    /// `PreKeyRecord::serialize()`, by id.
    pub(crate) records: BTreeMap<u32, Secret>,
    /// The id the next generated one-time prekey gets.
    pub(crate) next_id: u32,
}

/// [`SignedPreKeyStore`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignedPreKeyState {
    /// The id of the signed prekey the client publishes.
    pub(crate) current: u32,
    /// `SignedPreKeyRecord::serialize()`, by id.
    pub(crate) records: BTreeMap<u32, Secret>,
}

/// [`KyberPreKeyStore`]. The current Kyber prekey is a last-resort key: it is never removed, and
/// the base keys of the sessions set up with it are remembered so that a replayed
/// `PreKeySignalMessage` is refused.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KyberPreKeyState {
    /// The id of the Kyber prekey the client publishes.
    pub(crate) current: u32,
    /// `KyberPreKeyRecord::serialize()`, by id.
    pub(crate) records: BTreeMap<u32, Secret>,
    /// `(kyber prekey id, signed prekey id, base key)` of every session set up so far.
    pub(crate) used: BTreeSet<(u32, u32, Bytes)>,
}

/// [`SessionStore`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionState {
    /// `SessionRecord::serialize()`, by [`address_key`].
    pub(crate) records: BTreeMap<String, Secret>,
}

/// The key under which an address's identity and session are stored: `name#device`. Account ids
/// never contain `#`, so this is unambiguous.
pub(crate) fn address_key(address: &ProtocolAddress) -> String {
    format!("{}#{}", address.name(), u32::from(address.device_id()))
}

fn record_error(what: &'static str) -> impl FnOnce(SignalProtocolError) -> StateError {
    move |source| StateError::Record { what, source }
}

impl State {
    /// Checks everything a later operation relies on, so that a corrupt file is reported when
    /// it is opened rather than in the middle of a conversation.
    pub(crate) fn check(&self) -> Result<(), StateError> {
        if self.version != STATE_VERSION {
            return Err(StateError::UnsupportedVersion(self.version));
        }
        check_account_id(&self.account).map_err(StateError::Account)?;
        self.identity.key_pair()?;
        let reg = self.identity.registration_id;
        if !(1..=MAX_REGISTRATION_ID).contains(&reg) {
            return Err(StateError::RegistrationId(reg));
        }
        for key in self.identity.known.values() {
            IdentityKey::decode(&key.0).map_err(record_error("a peer identity key"))?;
        }
        let len = self.receipt.private_key.0.len();
        if len != 32 {
            return Err(StateError::Length {
                what: "receipt private key",
                len,
                expected: 32,
            });
        }
        let len = self.receipt.certificate_signature.0.len();
        if len != 64 {
            return Err(StateError::Length {
                what: "receipt key certificate",
                len,
                expected: 64,
            });
        }
        for r in self.prekeys.records.values() {
            PreKeyRecord::deserialize(&r.0).map_err(record_error("a one-time prekey"))?;
        }
        for r in self.signed_prekeys.records.values() {
            SignedPreKeyRecord::deserialize(&r.0).map_err(record_error("a signed prekey"))?;
        }
        if !self
            .signed_prekeys
            .records
            .contains_key(&self.signed_prekeys.current)
        {
            return Err(StateError::MissingPrekey("signed prekey"));
        }
        for r in self.kyber_prekeys.records.values() {
            KyberPreKeyRecord::deserialize(&r.0).map_err(record_error("a kyber prekey"))?;
        }
        if !self
            .kyber_prekeys
            .records
            .contains_key(&self.kyber_prekeys.current)
        {
            return Err(StateError::MissingPrekey("kyber prekey"));
        }
        for r in self.sessions.records.values() {
            SessionRecord::deserialize(&r.0).map_err(record_error("a session"))?;
        }
        for (name, peer) in &self.peers {
            let identity = self
                .identity
                .known
                .get(&format!("{name}#{}", crate::client::DEVICE_ID))
                .ok_or(StateError::PeerIdentityMissing)?;
            peer.binding(&identity.0).map_err(StateError::Peer)?;
        }
        Ok(())
    }

    /// The JSON bytes, in a buffer zeroized on drop.
    pub(crate) fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
        // Pre-size the buffer so that it is not reallocated (which would leave copies of the
        // secrets behind in freed memory) in the common case.
        let mut out = Zeroizing::new(Vec::with_capacity(64 * 1024));
        serde_json::to_writer_pretty(&mut *out, self)?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses and [checks](State::check) a state file's bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let state: State =
            serde_json::from_slice(bytes).map_err(|e| StateError::Json(e.to_string()))?;
        state.check()?;
        Ok(state)
    }
}

impl IdentityState {
    pub(crate) fn key_pair(&self) -> Result<IdentityKeyPair, StateError> {
        IdentityKeyPair::try_from(self.key_pair.0.as_slice())
            .map_err(record_error("the identity key pair"))
    }
}

/// Reads the state file in `dir`.
pub(crate) fn load(dir: &Path) -> Result<State, crate::ClientError> {
    let path = dir.join(STATE_FILE);
    let bytes = Zeroizing::new(fs::read(&path).map_err(|source| crate::ClientError::Io {
        action: "read",
        path: path.clone(),
        source,
    })?);
    State::from_bytes(&bytes).map_err(|source| crate::ClientError::StateCorrupt { path, source })
}

/// Writes the state file in `dir` atomically: a temporary file (mode 0600) is written and
/// fsynced, renamed over `state.json`, and the directory is fsynced.
pub(crate) fn save(dir: &Path, state: &State) -> Result<(), crate::ClientError> {
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let io = |action: &'static str, path: &Path| {
        let path: PathBuf = path.to_path_buf();
        move |source| crate::ClientError::Io {
            action,
            path,
            source,
        }
    };
    let bytes = state
        .to_bytes()
        .map_err(|e| crate::ClientError::Unreachable(format!("state does not serialise: {e}")))?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io("create", &tmp))?;
    #[cfg(unix)]
    {
        // `mode` only applies to a new file; a leftover temporary file keeps its mode.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io("set permissions of", &tmp))?;
    }
    file.write_all(&bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io("rename into place", &path))?;
    sync_dir(dir).map_err(io("sync directory", dir))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A record that libsignal could not read back: only possible if the state in memory was
/// damaged, since every record is checked when the state is loaded.
fn stored_record_error(
    what: &'static str,
) -> impl FnOnce(SignalProtocolError) -> SignalProtocolError {
    move |e| SignalProtocolError::InvalidState(what, format!("stored record is unreadable: {e}"))
}

#[async_trait(?Send)]
impl IdentityKeyStore for IdentityState {
    async fn get_identity_key_pair(&self) -> Result<IdentityKeyPair, SignalProtocolError> {
        IdentityKeyPair::try_from(self.key_pair.0.as_slice())
            .map_err(stored_record_error("get_identity_key_pair"))
    }

    async fn get_local_registration_id(&self) -> Result<u32, SignalProtocolError> {
        Ok(self.registration_id)
    }

    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> Result<IdentityChange, SignalProtocolError> {
        let new = Bytes(identity.serialize().to_vec());
        let previous = self.known.insert(address_key(address), new.clone());
        Ok(IdentityChange::from_changed(
            previous.is_some_and(|p| p != new),
        ))
    }

    async fn is_trusted_identity(
        &self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
        _direction: Direction,
    ) -> Result<bool, SignalProtocolError> {
        // Trust on first use; afterwards only the same key.
        Ok(match self.known.get(&address_key(address)) {
            None => true,
            Some(known) => known.0.as_slice() == &*identity.serialize(),
        })
    }

    async fn get_identity(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<IdentityKey>, SignalProtocolError> {
        self.known
            .get(&address_key(address))
            .map(|k| IdentityKey::decode(&k.0).map_err(stored_record_error("get_identity")))
            .transpose()
    }
}

#[async_trait(?Send)]
impl PreKeyStore for PreKeyState {
    async fn get_pre_key(&self, id: PreKeyId) -> Result<PreKeyRecord, SignalProtocolError> {
        let r = self
            .records
            .get(&u32::from(id))
            .ok_or(SignalProtocolError::InvalidPreKeyId)?;
        PreKeyRecord::deserialize(&r.0).map_err(stored_record_error("get_pre_key"))
    }

    async fn save_pre_key(
        &mut self,
        id: PreKeyId,
        record: &PreKeyRecord,
    ) -> Result<(), SignalProtocolError> {
        self.records
            .insert(u32::from(id), Secret::new(record.serialize()?));
        Ok(())
    }

    async fn remove_pre_key(&mut self, id: PreKeyId) -> Result<(), SignalProtocolError> {
        self.records.remove(&u32::from(id));
        Ok(())
    }
}

#[async_trait(?Send)]
impl SignedPreKeyStore for SignedPreKeyState {
    async fn get_signed_pre_key(
        &self,
        id: SignedPreKeyId,
    ) -> Result<SignedPreKeyRecord, SignalProtocolError> {
        let r = self
            .records
            .get(&u32::from(id))
            .ok_or(SignalProtocolError::InvalidSignedPreKeyId)?;
        SignedPreKeyRecord::deserialize(&r.0).map_err(stored_record_error("get_signed_pre_key"))
    }

    async fn save_signed_pre_key(
        &mut self,
        id: SignedPreKeyId,
        record: &SignedPreKeyRecord,
    ) -> Result<(), SignalProtocolError> {
        self.records
            .insert(u32::from(id), Secret::new(record.serialize()?));
        Ok(())
    }
}

#[async_trait(?Send)]
impl KyberPreKeyStore for KyberPreKeyState {
    async fn get_kyber_pre_key(
        &self,
        id: KyberPreKeyId,
    ) -> Result<KyberPreKeyRecord, SignalProtocolError> {
        let r = self
            .records
            .get(&u32::from(id))
            .ok_or(SignalProtocolError::InvalidKyberPreKeyId)?;
        KyberPreKeyRecord::deserialize(&r.0).map_err(stored_record_error("get_kyber_pre_key"))
    }

    async fn save_kyber_pre_key(
        &mut self,
        id: KyberPreKeyId,
        record: &KyberPreKeyRecord,
    ) -> Result<(), SignalProtocolError> {
        self.records
            .insert(u32::from(id), Secret::new(record.serialize()?));
        Ok(())
    }

    async fn mark_kyber_pre_key_used(
        &mut self,
        kyber_id: KyberPreKeyId,
        signed_id: SignedPreKeyId,
        base_key: &PublicKey,
    ) -> Result<(), SignalProtocolError> {
        let entry = (
            u32::from(kyber_id),
            u32::from(signed_id),
            Bytes(base_key.serialize().to_vec()),
        );
        if self.used.insert(entry) {
            Ok(())
        } else {
            Err(SignalProtocolError::InvalidMessage(
                CiphertextMessageType::PreKey,
                REUSED_BASE_KEY,
            ))
        }
    }
}

#[async_trait(?Send)]
impl SessionStore for SessionState {
    async fn load_session(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<SessionRecord>, SignalProtocolError> {
        self.records
            .get(&address_key(address))
            .map(|r| SessionRecord::deserialize(&r.0).map_err(stored_record_error("load_session")))
            .transpose()
    }

    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> Result<(), SignalProtocolError> {
        self.records
            .insert(address_key(address), Secret::new(record.serialize()?));
        Ok(())
    }
}

/// Standard base64 for public bytes.
mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format_args!("bad base64: {e}")))
    }
}

/// Standard base64 for secret bytes; the encoded and decoded copies are zeroized.
mod b64_secret {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub(super) fn serialize<S: Serializer>(
        bytes: &Zeroizing<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let encoded = Zeroizing::new(STANDARD.encode(bytes.as_slice()));
        s.serialize_str(&encoded)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        STANDARD
            .decode(s.as_bytes())
            .map(Zeroizing::new)
            .map_err(|e| serde::de::Error::custom(format_args!("bad base64: {e}")))
    }
}

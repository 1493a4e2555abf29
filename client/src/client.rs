// SPDX-License-Identifier: AGPL-3.0-only
//! [`Client`]: one account's identity, prekeys, receipt key and sessions, persisted in a
//! directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_executor::block_on;
use letro_api::bodies::{AckRequest as AckJson, RefusalRequest, TimeOutOfRange};
use letro_api::directory::{
    check_account_id, CertificateObject, DirectoryError, OneTimePrekey, PrekeyBundle, PrekeyUpload,
    ReceiptKeyBinding, SignedPrekey, DIRECTORY_VERSION, MAX_ONE_TIME_PREKEYS, MAX_REGISTRATION_ID,
};
use letro_core::babyjubjub;
use letro_core::bundle::{certificate_message, ReceiptKeyCertificate};
use letro_core::eddsa::{self, PublicKey as ReceiptPublicKey, Signature};
use letro_core::statement::{receipt_message, CiphertextHash};
use libsignal_protocol_syft::{
    kem, message_decrypt, message_encrypt, process_prekey_bundle, DeviceId, GenericSignedPreKey,
    IdentityKey, IdentityKeyPair, KeyPair, KyberPreKeyId, KyberPreKeyRecord, PreKeyBundle,
    PreKeyId, PreKeyRecord, ProtocolAddress, PublicKey, SignalProtocolError, SignedPreKeyId,
    SignedPreKeyRecord, Timestamp,
};
use rand09::rngs::{OsRng, StdRng};
use rand09::{Rng as _, RngCore as _, SeedableRng, TryRngCore as _};
use zeroize::Zeroizing;

use crate::envelope;
use crate::error::ClientError;
use crate::message::Message;
use crate::store::{
    self, address_key, Bytes, IdentityState, KyberPreKeyState, PeerState, PreKeyState,
    ReceiptState, Secret, SessionState, SignedPreKeyState, State, StateError, STATE_FILE,
    STATE_VERSION,
};

/// The libsignal device id of every client: one device per account.
pub const DEVICE_ID: u8 = 1;

/// How many one-time prekeys [`Client::create`] generates (the most an upload carries).
pub const INITIAL_ONE_TIME_PREKEYS: usize = MAX_ONE_TIME_PREKEYS;

/// The Kyber prekey type: libsignal's default, Kyber1024 (type byte `0x08`).
pub const KYBER_KEY_TYPE: kem::KeyType = kem::KeyType::Kyber1024;

/// A delivery receipt: the recipient's receipt key signs `(H, t)` with EdDSA-Poseidon, over
/// `letro_core::statement::receipt_message(H, t)`. The relay checks it with
/// `letro_core::log::check_receipt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// `H`, the SHA-256 of the envelope bytes.
    pub ciphertext_hash: CiphertextHash,
    /// `t`, the delivery time in Unix seconds.
    pub delivered_at: u64,
    /// `A`, the recipient's receipt key.
    pub receipt_key: ReceiptPublicKey,
    /// The signature.
    pub signature: Signature,
}

impl Receipt {
    /// The body that acknowledges this receipt to the relay
    /// (`POST /v1/mailbox/{ciphertext_sha256}/receipt`).
    pub fn ack_json(&self) -> Result<AckJson, TimeOutOfRange> {
        AckJson::new(self.delivered_at, &self.receipt_key, &self.signature)
    }
}

/// The public keys this client publishes, read once from the state.
#[derive(Clone)]
struct Published {
    identity_key: Vec<u8>,
    signed_prekey: SignedPrekey,
    kyber_prekey: SignedPrekey,
    /// Public keys of the one-time prekeys still held, by id.
    one_time: BTreeMap<u32, Vec<u8>>,
}

/// A messaging client: a Signal identity, its prekeys, a Baby Jubjub receipt key certified by
/// the identity key, and sessions with peers, all persisted in one directory.
///
/// Every method is synchronous. libsignal's store traits are `async`; the client drives them
/// with `futures_executor::block_on`, which never waits on anything since the stores do no I/O.
/// The state is written (atomically, mode 0600) before a mutating method returns.
pub struct Client {
    dir: PathBuf,
    state: State,
    rng: StdRng,
    receipt_secret: eddsa::PrivateKey,
    binding: ReceiptKeyBinding,
    published: Published,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("dir", &self.dir)
            .field("account", &self.state.account)
            .finish_non_exhaustive()
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A CSPRNG seeded from the operating system, with a typed error if that fails.
fn os_rng() -> Result<StdRng, ClientError> {
    let mut seed = Zeroizing::new(<StdRng as SeedableRng>::Seed::default());
    OsRng
        .try_fill_bytes(seed.as_mut_slice())
        .map_err(ClientError::Randomness)?;
    Ok(StdRng::from_seed(*seed))
}

fn address(peer: &str) -> Result<ProtocolAddress, ClientError> {
    check_account_id(peer).map_err(ClientError::Account)?;
    let device = DeviceId::new(DEVICE_ID)
        .map_err(|e| ClientError::Unreachable(format!("device id {DEVICE_ID}: {e}")))?;
    Ok(ProtocolAddress::new(peer.to_owned(), device))
}

fn key_generation(e: impl Into<SignalProtocolError>) -> ClientError {
    ClientError::KeyGeneration(e.into())
}

fn corrupt(dir: &Path, source: StateError) -> ClientError {
    ClientError::StateCorrupt {
        path: dir.join(STATE_FILE),
        source,
    }
}

impl Client {
    /// Creates a new client in `dir` (created if missing, mode 0700): a new identity key pair,
    /// registration id, signed prekey, Kyber1024 prekey (both signed by the identity key),
    /// [`INITIAL_ONE_TIME_PREKEYS`] one-time prekeys and a Baby Jubjub receipt key with its
    /// certificate (the identity key's XEdDSA signature over
    /// [`certificate_message`]`(A)`). Refuses to overwrite an existing state.
    pub fn create(dir: &Path, account: &str) -> Result<Self, ClientError> {
        check_account_id(account).map_err(ClientError::Account)?;
        create_private_dir(dir)?;
        let path = dir.join(STATE_FILE);
        if fs::symlink_metadata(&path).is_ok() {
            return Err(ClientError::StateExists { path });
        }
        let mut rng = os_rng()?;
        let identity = IdentityKeyPair::generate(&mut rng);
        let registration_id = rng.random_range(1..=MAX_REGISTRATION_ID);
        let timestamp = Timestamp::from_epoch_millis(now_millis());

        let signed = KeyPair::generate(&mut rng);
        let signature = identity
            .private_key()
            .calculate_signature(&signed.public_key.serialize(), &mut rng)
            .map_err(key_generation)?;
        let signed_id = 1u32;
        let signed_record = SignedPreKeyRecord::new(
            SignedPreKeyId::from(signed_id),
            timestamp,
            &signed,
            &signature,
        );

        let kyber = kem::KeyPair::generate(KYBER_KEY_TYPE, &mut rng);
        let signature = identity
            .private_key()
            .calculate_signature(&kyber.public_key.serialize(), &mut rng)
            .map_err(key_generation)?;
        let kyber_id = 1u32;
        let kyber_record =
            KyberPreKeyRecord::new(KyberPreKeyId::from(kyber_id), timestamp, &kyber, &signature);

        let mut receipt_bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(receipt_bytes.as_mut_slice());
        let receipt_secret = eddsa::PrivateKey::from_bytes(*receipt_bytes);
        // (s >> 3)·Base8 is always in the prime-order subgroup and never the identity.
        let receipt_key = receipt_secret.public_key();
        let certificate_signature = identity
            .private_key()
            .calculate_signature(&certificate_message(receipt_key.point()), &mut rng)
            .map_err(key_generation)?;

        let mut state = State {
            version: STATE_VERSION,
            account: account.to_owned(),
            receipt: ReceiptState {
                private_key: Secret::new(receipt_bytes.to_vec()),
                certificate_signature: Bytes(certificate_signature.to_vec()),
            },
            identity: IdentityState {
                key_pair: Secret::new(identity.serialize().to_vec()),
                registration_id,
                known: BTreeMap::new(),
            },
            prekeys: PreKeyState {
                records: BTreeMap::new(),
                next_id: 1,
            },
            signed_prekeys: SignedPreKeyState {
                current: signed_id,
                records: BTreeMap::from([(
                    signed_id,
                    Secret::new(signed_record.serialize().map_err(key_generation)?),
                )]),
            },
            kyber_prekeys: KyberPreKeyState {
                current: kyber_id,
                records: BTreeMap::from([(
                    kyber_id,
                    Secret::new(kyber_record.serialize().map_err(key_generation)?),
                )]),
                used: Default::default(),
            },
            sessions: SessionState {
                records: BTreeMap::new(),
            },
            peers: BTreeMap::new(),
        };
        add_one_time_prekeys(&mut state, &mut rng, INITIAL_ONE_TIME_PREKEYS)?;
        // The same checks as on opening, so a state we write can always be read back.
        state
            .check()
            .map_err(|e| ClientError::Unreachable(format!("new state does not check: {e}")))?;
        store::save(dir, &state)?;
        Self::from_state(dir, state, rng)
    }

    /// Opens the client whose state is in `dir`.
    pub fn open(dir: &Path) -> Result<Self, ClientError> {
        let state = store::load(dir)?;
        let rng = os_rng()?;
        Self::from_state(dir, state, rng)
    }

    fn from_state(dir: &Path, state: State, rng: StdRng) -> Result<Self, ClientError> {
        let bytes: [u8; 32] = state
            .receipt
            .private_key
            .0
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(dir, StateError::ReceiptKey))?;
        let receipt_secret = eddsa::PrivateKey::from_bytes(bytes);
        let receipt_key = receipt_secret.public_key();
        let identity = state.identity.key_pair().map_err(|e| corrupt(dir, e))?;
        let identity_key = identity.identity_key().serialize().to_vec();
        let certificate = CertificateObject {
            identity_key: identity_key.clone(),
            signature: state.receipt.certificate_signature.0.clone(),
        }
        .to_certificate()
        .map_err(|_| corrupt(dir, StateError::ReceiptKey))?;
        let published = published(&state).map_err(|e| corrupt(dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            state,
            rng,
            receipt_secret,
            binding: ReceiptKeyBinding {
                receipt_key,
                certificate,
            },
            published,
        })
    }

    /// The directory holding the state.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This client's account id.
    pub fn account(&self) -> &str {
        &self.state.account
    }

    /// The Signal identity key, as libsignal serialises it (`0x05 || X25519`, 33 bytes).
    pub fn identity_key(&self) -> &[u8] {
        &self.published.identity_key
    }

    /// The Baby Jubjub receipt key `A`.
    pub fn receipt_key(&self) -> ReceiptPublicKey {
        self.binding.receipt_key
    }

    /// The identity key's certificate of the receipt key.
    pub fn receipt_key_certificate(&self) -> ReceiptKeyCertificate {
        self.binding.certificate
    }

    /// How many one-time prekeys the client holds (published and not yet used).
    pub fn one_time_prekey_count(&self) -> usize {
        self.state.prekeys.records.len()
    }

    /// What to publish to the relay directory: the identity key, the current signed and Kyber
    /// prekeys, every one-time prekey still held, the receipt key and its certificate.
    pub fn prekey_upload(&self) -> PrekeyUpload {
        PrekeyUpload {
            version: DIRECTORY_VERSION,
            account: self.state.account.clone(),
            registration_id: self.state.identity.registration_id,
            device_id: u32::from(DEVICE_ID),
            identity_key: self.published.identity_key.clone(),
            signed_prekey: self.published.signed_prekey.clone(),
            kyber_prekey: self.published.kyber_prekey.clone(),
            one_time_prekeys: self
                .published
                .one_time
                .iter()
                .map(|(id, key)| OneTimePrekey {
                    id: *id,
                    public_key: key.clone(),
                })
                .collect(),
            receipt_key: babyjubjub::pack(self.binding.receipt_key.point()).to_vec(),
            receipt_key_certificate: CertificateObject::from(&self.binding.certificate),
        }
    }

    /// Generates up to `n` new one-time prekeys, never holding more than
    /// [`MAX_ONE_TIME_PREKEYS`]; returns how many were added. Publish them with a new
    /// [`Client::prekey_upload`].
    pub fn replenish_one_time_prekeys(&mut self, n: usize) -> Result<usize, ClientError> {
        let room = MAX_ONE_TIME_PREKEYS.saturating_sub(self.state.prekeys.records.len());
        let n = n.min(room);
        if n == 0 {
            return Ok(0);
        }
        self.transact(|state, rng| add_one_time_prekeys(state, rng, n))?;
        Ok(n)
    }

    /// Whether the client has a session with `peer`.
    pub fn has_session(&self, peer: &str) -> bool {
        address(peer).is_ok_and(|a| self.state.sessions.records.contains_key(&address_key(&a)))
    }

    /// The receipt key and certificate of `peer`, from the bundle its session was started with
    /// (already checked: the certificate verified then).
    pub fn peer_receipt_key(&self, peer: &str) -> Option<ReceiptKeyBinding> {
        let p = self.state.peers.get(peer)?;
        let identity = self
            .state
            .identity
            .known
            .get(&address_key(&address(peer).ok()?))?;
        p.binding(&identity.0).ok()
    }

    /// Starts a session with `peer` from the bundle the directory returned for it (PQXDH: the
    /// next message to `peer` is a `PreKeySignalMessage`). Checks, in order: the peer's account
    /// id; the bundle's shape ([`PrekeyBundle::validate`]); that it is `peer`'s bundle; that its
    /// identity key is the one seen before for `peer`, if any (trust on first use); that the
    /// receipt-key certificate is the identity key's signature; then libsignal checks both prekey
    /// signatures.
    pub fn start_session(&mut self, peer: &str, bundle: &PrekeyBundle) -> Result<(), ClientError> {
        let address = address(peer)?;
        let binding = bundle.validate().map_err(ClientError::Bundle)?;
        if bundle.account != peer {
            return Err(ClientError::BundleAccount {
                expected: peer.to_owned(),
                found: bundle.account.clone(),
            });
        }
        if let Some(known) = self.state.identity.known.get(&address_key(&address)) {
            if known.0 != bundle.identity_key {
                return Err(ClientError::IdentityChanged {
                    peer: peer.to_owned(),
                });
            }
        }
        let identity =
            IdentityKey::decode(&bundle.identity_key).map_err(ClientError::BundleRefused)?;
        if !identity.public_key().verify_signature(
            &certificate_message(binding.receipt_key.point()),
            binding.certificate.signature(),
        ) {
            return Err(ClientError::BundleCertificate);
        }
        let signal_bundle = signal_bundle(bundle, identity)?;
        let peer_state = PeerState {
            receipt_key: Bytes(bundle.receipt_key.clone()),
            certificate_signature: Bytes(bundle.receipt_key_certificate.signature.clone()),
        };
        self.transact(|state, rng| {
            guard(|| {
                block_on(process_prekey_bundle(
                    &address,
                    &mut state.sessions,
                    &mut state.identity,
                    &signal_bundle,
                    SystemTime::now(),
                    rng,
                ))
            })?
            .map_err(|e| match e {
                SignalProtocolError::UntrustedIdentity(_) => ClientError::IdentityChanged {
                    peer: peer.to_owned(),
                },
                e => ClientError::BundleRefused(e),
            })?;
            state.peers.insert(peer.to_owned(), peer_state);
            Ok(())
        })
    }

    /// Encrypts `message` (body and attachments, padded) for `peer` into one envelope, the bytes
    /// to hand the relay: `0x01 || type || libsignal message` (see [`crate::envelope`]). The
    /// ratchet state is written before the envelope is returned.
    pub fn encrypt(&mut self, peer: &str, message: &Message) -> Result<Vec<u8>, ClientError> {
        let address = address(peer)?;
        let plaintext = message.encode().map_err(ClientError::Message)?;
        self.transact(|state, rng| {
            let m = block_on(message_encrypt(
                &plaintext,
                &address,
                &mut state.sessions,
                &mut state.identity,
                SystemTime::now(),
                rng,
            ))
            .map_err(|e| match e {
                SignalProtocolError::SessionNotFound(_) => ClientError::NoSession {
                    peer: peer.to_owned(),
                },
                SignalProtocolError::UntrustedIdentity(_) => ClientError::IdentityChanged {
                    peer: peer.to_owned(),
                },
                e => ClientError::Encrypt(e),
            })?;
            envelope::frame(&m).ok_or_else(|| {
                ClientError::Unreachable("a session produced a message of another type".into())
            })
        })
    }

    /// Decrypts an envelope from `peer` (either type). After a `PreKeySignalMessage` the
    /// one-time prekey it used is deleted. A replayed envelope is refused with
    /// [`ClientError::Replayed`]. The ratchet state is written before the message is returned.
    pub fn decrypt(&mut self, peer: &str, envelope: &[u8]) -> Result<Message, ClientError> {
        let address = address(peer)?;
        let ciphertext = envelope::parse(envelope).map_err(ClientError::Envelope)?;
        self.transact(|state, rng| {
            let plaintext = guard(|| {
                block_on(message_decrypt(
                    &ciphertext,
                    &address,
                    &mut state.sessions,
                    &mut state.identity,
                    &mut state.prekeys,
                    &state.signed_prekeys,
                    &mut state.kyber_prekeys,
                    rng,
                ))
            })?
            .map(Zeroizing::new)
            .map_err(|e| match e {
                SignalProtocolError::DuplicatedMessage(..) => ClientError::Replayed,
                SignalProtocolError::InvalidMessage(_, store::REUSED_BASE_KEY) => {
                    ClientError::Replayed
                }
                SignalProtocolError::SessionNotFound(_) => ClientError::NoSession {
                    peer: peer.to_owned(),
                },
                SignalProtocolError::UntrustedIdentity(_) => ClientError::IdentityChanged {
                    peer: peer.to_owned(),
                },
                e => ClientError::Decrypt(e),
            })?;
            Message::decode(&plaintext).map_err(ClientError::Message)
        })
    }

    /// Signs a delivery receipt for the envelope with hash `h`, delivered at `t` (Unix seconds):
    /// EdDSA-Poseidon by the receipt key over `receipt_message(h, t)`.
    pub fn sign_receipt(&self, h: &CiphertextHash, t: u64) -> Receipt {
        Receipt {
            ciphertext_hash: *h,
            delivered_at: t,
            receipt_key: self.binding.receipt_key,
            signature: self.receipt_secret.sign(&receipt_message(h, t)),
        }
    }

    /// Signs a refusal of the envelope with hash `h` at `t` (Unix seconds), with an optional
    /// reason: EdDSA-Poseidon by the receipt key over `refusal_message(h, t, reason)`
    /// (SPEC §5.11). Returns the body of `POST /v1/mailbox/{ciphertext_sha256}/refusal`.
    pub fn sign_refusal(
        &self,
        h: &CiphertextHash,
        t: u64,
        reason: Option<&str>,
    ) -> Result<RefusalRequest, TimeOutOfRange> {
        let signature = self
            .receipt_secret
            .sign(&letro_core::lifecycle::refusal_message(h, t, reason));
        RefusalRequest::new(t, reason, &self.binding.receipt_key, &signature)
    }

    /// Runs `op` on the state and writes the state; if either fails, the state is put back.
    fn transact<T>(
        &mut self,
        op: impl FnOnce(&mut State, &mut StdRng) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let before = self.state.clone();
        let result = op(&mut self.state, &mut self.rng)
            .and_then(|v| store::save(&self.dir, &self.state).map(|()| v));
        if result.is_err() {
            self.state = before;
        }
        self.refresh_one_time_prekeys();
        result
    }

    /// Brings the published one-time prekeys in line with the state (libsignal removes used
    /// ones; replenishing adds some).
    fn refresh_one_time_prekeys(&mut self) {
        let records = &self.state.prekeys.records;
        self.published
            .one_time
            .retain(|id, _| records.contains_key(id));
        for (id, record) in records {
            if !self.published.one_time.contains_key(id) {
                // Records were checked when created or loaded; an unreadable one is not
                // published.
                if let Ok(key) = PreKeyRecord::deserialize(&record.0).and_then(|r| r.public_key()) {
                    self.published
                        .one_time
                        .insert(*id, key.serialize().to_vec());
                }
            }
        }
    }
}

/// Runs a libsignal operation on untrusted input, turning a panic inside libsignal into
/// [`ClientError::LibsignalPanic`]. A last resort: no input is known to make libsignal panic
/// (see the `spqr-syft` profile note in the workspace `Cargo.toml`), and a panic cannot be caught
/// in a program built with `panic = "abort"`. The caller's [`Client::transact`] discards whatever
/// the interrupted operation changed.
fn guard<T>(op: impl FnOnce() -> T) -> Result<T, ClientError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(op))
        .map_err(|_| ClientError::LibsignalPanic)
}

/// Creates `dir` (and its parents) if missing; a new `dir` gets mode 0700.
fn create_private_dir(dir: &Path) -> Result<(), ClientError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| ClientError::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source,
    })
}

/// Adds `n` one-time prekeys with fresh ids.
fn add_one_time_prekeys(state: &mut State, rng: &mut StdRng, n: usize) -> Result<(), ClientError> {
    for _ in 0..n {
        let mut id = state.prekeys.next_id.max(1);
        while state.prekeys.records.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(1);
        }
        let record = PreKeyRecord::new(PreKeyId::from(id), &KeyPair::generate(rng));
        state
            .prekeys
            .records
            .insert(id, Secret::new(record.serialize().map_err(key_generation)?));
        state.prekeys.next_id = id.checked_add(1).unwrap_or(1);
    }
    Ok(())
}

/// The public keys to publish, read from a checked state.
fn published(state: &State) -> Result<Published, StateError> {
    let err = |what| move |source| StateError::Record { what, source };
    let identity = state.identity.key_pair()?;
    let signed = state
        .signed_prekeys
        .records
        .get(&state.signed_prekeys.current)
        .ok_or(StateError::MissingPrekey("signed prekey"))?;
    let signed = SignedPreKeyRecord::deserialize(&signed.0).map_err(err("the signed prekey"))?;
    let kyber = state
        .kyber_prekeys
        .records
        .get(&state.kyber_prekeys.current)
        .ok_or(StateError::MissingPrekey("kyber prekey"))?;
    let kyber = KyberPreKeyRecord::deserialize(&kyber.0).map_err(err("the kyber prekey"))?;
    let mut one_time = BTreeMap::new();
    for (id, record) in &state.prekeys.records {
        let key = PreKeyRecord::deserialize(&record.0)
            .and_then(|r| r.public_key())
            .map_err(err("a one-time prekey"))?;
        one_time.insert(*id, key.serialize().to_vec());
    }
    Ok(Published {
        identity_key: identity.identity_key().serialize().to_vec(),
        signed_prekey: SignedPrekey {
            id: state.signed_prekeys.current,
            public_key: signed
                .public_key()
                .map_err(err("the signed prekey"))?
                .serialize()
                .to_vec(),
            signature: signed.signature().map_err(err("the signed prekey"))?,
        },
        kyber_prekey: SignedPrekey {
            id: state.kyber_prekeys.current,
            public_key: kyber
                .public_key()
                .map_err(err("the kyber prekey"))?
                .serialize()
                .to_vec(),
            signature: kyber.signature().map_err(err("the kyber prekey"))?,
        },
        one_time,
    })
}

/// libsignal's bundle from a shape-checked directory bundle.
fn signal_bundle(
    bundle: &PrekeyBundle,
    identity: IdentityKey,
) -> Result<PreKeyBundle, ClientError> {
    let refused = |e: SignalProtocolError| ClientError::BundleRefused(e);
    let ec_key = |bytes: &[u8]| PublicKey::deserialize(bytes).map_err(|e| refused(e.into()));
    let device = u8::try_from(bundle.device_id)
        .ok()
        .and_then(|d| DeviceId::new(d).ok())
        .ok_or(ClientError::Bundle(DirectoryError::DeviceId(
            bundle.device_id,
        )))?;
    let one_time = match &bundle.one_time_prekey {
        Some(p) => Some((PreKeyId::from(p.id), ec_key(&p.public_key)?)),
        None => None,
    };
    PreKeyBundle::new(
        bundle.registration_id,
        device,
        one_time,
        SignedPreKeyId::from(bundle.signed_prekey.id),
        ec_key(&bundle.signed_prekey.public_key)?,
        bundle.signed_prekey.signature.clone(),
        KyberPreKeyId::from(bundle.kyber_prekey.id),
        kem::PublicKey::deserialize(&bundle.kyber_prekey.public_key).map_err(refused)?,
        bundle.kyber_prekey.signature.clone(),
        identity,
    )
    .map_err(refused)
}

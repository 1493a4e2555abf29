// SPDX-License-Identifier: AGPL-3.0-only
//! Two clients in temporary directories talk through envelopes, restart, and carry on; every
//! bad input gets its error.
// clippy.toml allows these in `#[test]` functions; the helpers below are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use letro_api::directory::{PrekeyBundle, PrekeyUpload};
use letro_client::{envelope_kind, Attachment, Client, ClientError, EnvelopeKind, Message};
use letro_core::log::{check_receipt, ReceiptError};
use letro_core::statement::CiphertextHash;
use letro_core::Fr;
use letro_verifier::certificate::{verify_certificate, CertificateError};
use libsignal_protocol_syft::PreKeySignalMessage;
use tempfile::TempDir;

const T: u64 = 1_764_000_000;

/// Deterministic pseudo-random bytes (xorshift), so that windows of them are unique.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What the directory hands out: the upload with its first one-time prekey.
fn bundle_of(c: &Client) -> PrekeyBundle {
    let upload = c.prekey_upload();
    let otp = upload.one_time_prekeys.first().cloned();
    upload.to_bundle(otp)
}

fn text(body: &str) -> Message {
    Message {
        body: body.into(),
        attachments: vec![],
    }
}

struct Pair {
    _dir: TempDir,
    alice: Client,
    bob: Client,
}

impl Pair {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let alice = Client::create(&dir.path().join("alice"), "alice").unwrap();
        let bob = Client::create(&dir.path().join("bob"), "bob").unwrap();
        Self {
            _dir: dir,
            alice,
            bob,
        }
    }

    /// Alice starts a session from Bob's bundle, and they exchange one message each way.
    fn connected() -> Self {
        let mut p = Self::new();
        p.alice.start_session("bob", &bundle_of(&p.bob)).unwrap();
        let e = p.alice.encrypt("bob", &text("hi bob")).unwrap();
        assert_eq!(p.bob.decrypt("alice", &e).unwrap(), text("hi bob"));
        let e = p.bob.encrypt("alice", &text("hi alice")).unwrap();
        assert_eq!(p.alice.decrypt("bob", &e).unwrap(), text("hi alice"));
        p
    }

    fn path(&self, who: &str) -> std::path::PathBuf {
        self._dir.path().join(who)
    }
}

fn state_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join(letro_client::STATE_FILE)).unwrap()
}

#[test]
fn conversation_with_attachment_survives_restart() {
    let Pair {
        _dir: dir,
        mut alice,
        mut bob,
    } = Pair::new();
    let (alice_dir, bob_dir) = (dir.path().join("alice"), dir.path().join("bob"));

    let bundle = bundle_of(&bob);
    let used_otp = bundle.one_time_prekey.as_ref().unwrap().id;
    PrekeyBundle::parse(bundle.to_json().as_bytes()).unwrap();
    alice.start_session("bob", &bundle).unwrap();
    assert!(alice.has_session("bob"));
    assert!(!alice.has_session("carol"));

    let body = "Contract attached; the secret word is xylophone-42.";
    let attachment = noise(100 * 1024, 7);
    let message = Message {
        body: body.into(),
        attachments: vec![Attachment {
            name: "contract.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: attachment.clone(),
        }],
    };
    let envelope = alice.encrypt("bob", &message).unwrap();
    assert_eq!(envelope_kind(&envelope).unwrap().0, EnvelopeKind::PreKey);
    assert!(!contains(&envelope, body.as_bytes()));
    assert!(!contains(&envelope, b"contract.pdf"));
    for start in [0, 50_000, attachment.len() - 32] {
        assert!(!contains(&envelope, &attachment[start..start + 32]));
    }

    let before = bob.one_time_prekey_count();
    let received = bob.decrypt("alice", &envelope).unwrap();
    assert_eq!(received, message);
    // The one-time prekey the session used is gone, and no longer published.
    assert_eq!(bob.one_time_prekey_count(), before - 1);
    assert!(bob
        .prekey_upload()
        .one_time_prekeys
        .iter()
        .all(|p| p.id != used_otp));

    let reply = bob.encrypt("alice", &text("got it")).unwrap();
    assert_eq!(envelope_kind(&reply).unwrap().0, EnvelopeKind::Signal);
    assert_eq!(alice.decrypt("bob", &reply).unwrap(), text("got it"));
    let next = alice.encrypt("bob", &text("great")).unwrap();
    assert_eq!(envelope_kind(&next).unwrap().0, EnvelopeKind::Signal);
    assert_eq!(bob.decrypt("alice", &next).unwrap(), text("great"));

    // Restart both.
    let (alice_id, bob_id) = (alice.identity_key().to_vec(), bob.identity_key().to_vec());
    let bob_receipt_key = bob.receipt_key();
    drop(alice);
    drop(bob);
    let mut alice = Client::open(&alice_dir).unwrap();
    let mut bob = Client::open(&bob_dir).unwrap();
    assert_eq!(alice.account(), "alice");
    assert_eq!(alice.identity_key(), alice_id.as_slice());
    assert_eq!(bob.identity_key(), bob_id.as_slice());
    assert_eq!(bob.receipt_key(), bob_receipt_key);
    assert_eq!(
        alice.peer_receipt_key("bob").unwrap().receipt_key,
        bob_receipt_key
    );

    for i in 0..3 {
        let m = text(&format!("after restart, from alice {i}"));
        let e = alice.encrypt("bob", &m).unwrap();
        assert_eq!(bob.decrypt("alice", &e).unwrap(), m);
        let m = text(&format!("after restart, from bob {i}"));
        let e = bob.encrypt("alice", &m).unwrap();
        assert_eq!(alice.decrypt("bob", &e).unwrap(), m);
    }
    // Out of order within a chain still works after a restart.
    let first = alice.encrypt("bob", &text("one")).unwrap();
    let second = alice.encrypt("bob", &text("two")).unwrap();
    drop(bob);
    let mut bob = Client::open(&bob_dir).unwrap();
    assert_eq!(bob.decrypt("alice", &second).unwrap(), text("two"));
    assert_eq!(bob.decrypt("alice", &first).unwrap(), text("one"));

    // No plaintext in the state files, which only their owner may read.
    for d in [&alice_dir, &bob_dir] {
        let state = state_bytes(d);
        assert!(!contains(&state, body.as_bytes()));
        assert!(!contains(&state, b"after restart"));
        assert!(!contains(&state, &attachment[..32]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(d.join(letro_client::STATE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

#[test]
fn session_without_one_time_prekey() {
    let mut p = Pair::new();
    let bundle = p.bob.prekey_upload().to_bundle(None);
    p.alice.start_session("bob", &bundle).unwrap();
    let before = p.bob.one_time_prekey_count();
    let e = p.alice.encrypt("bob", &text("no otp")).unwrap();
    assert_eq!(p.bob.decrypt("alice", &e).unwrap(), text("no otp"));
    assert_eq!(p.bob.one_time_prekey_count(), before);
}

#[test]
fn flipped_bytes_never_decrypt() {
    let mut p = Pair::connected();
    let bob_dir = p.path("bob");
    let envelope = p.alice.encrypt("bob", &text("tamper with me")).unwrap();
    assert_eq!(envelope_kind(&envelope).unwrap().0, EnvelopeKind::Signal);
    let state = state_bytes(&bob_dir);
    for i in 0..envelope.len() {
        for bit in [0x01u8, 0x80] {
            let mut e = envelope.clone();
            e[i] ^= bit;
            assert!(p.bob.decrypt("alice", &e).is_err(), "byte {i} bit {bit:#x}");
        }
    }
    // Failed decryptions changed nothing, on disk or in memory.
    assert_eq!(state_bytes(&bob_dir), state);
    assert_eq!(
        p.bob.decrypt("alice", &envelope).unwrap(),
        text("tamper with me")
    );
}

#[test]
fn flipped_prekey_message_only_registration_id_is_unauthenticated() {
    let mut p = Pair::new();
    p.alice.start_session("bob", &bundle_of(&p.bob)).unwrap();
    let envelope = p.alice.encrypt("bob", &text("first")).unwrap();
    assert_eq!(envelope_kind(&envelope).unwrap().0, EnvelopeKind::PreKey);
    let original = PreKeySignalMessage::try_from(&envelope[2..]).unwrap();
    let bob_dir = p.path("bob");
    let state = state_bytes(&bob_dir);
    let mut accepted = 0;
    for i in 0..envelope.len() {
        let mut e = envelope.clone();
        e[i] ^= 0x01;
        if p.bob.decrypt("alice", &e).is_ok() {
            // Only the registration id, which Signal does not authenticate, may differ.
            let m = PreKeySignalMessage::try_from(&e[2..]).unwrap();
            assert_ne!(m.registration_id(), original.registration_id(), "byte {i}");
            assert_eq!(m.base_key(), original.base_key());
            assert_eq!(m.identity_key(), original.identity_key());
            assert_eq!(m.message().serialized(), original.message().serialized());
            accepted += 1;
            // Put Bob back as he was.
            std::fs::write(bob_dir.join(letro_client::STATE_FILE), &state).unwrap();
            p.bob = Client::open(&bob_dir).unwrap();
        }
    }
    assert!(accepted <= 2, "{accepted} flips accepted");
    // A non-canonical encoding of the same message is refused.
    let mut e = envelope.clone();
    e[2] ^= 0x01;
    assert!(matches!(
        p.bob.decrypt("alice", &e),
        Err(ClientError::Envelope(
            letro_client::EnvelopeError::NonCanonical
        ))
    ));
    assert_eq!(p.bob.decrypt("alice", &envelope).unwrap(), text("first"));
}

#[test]
fn replayed_envelopes_are_refused() {
    let mut p = Pair::new();
    p.alice.start_session("bob", &bundle_of(&p.bob)).unwrap();
    let prekey_message = p.alice.encrypt("bob", &text("one")).unwrap();
    assert_eq!(
        p.bob.decrypt("alice", &prekey_message).unwrap(),
        text("one")
    );
    assert!(matches!(
        p.bob.decrypt("alice", &prekey_message),
        Err(ClientError::Replayed)
    ));
    let e = p.bob.encrypt("alice", &text("two")).unwrap();
    assert_eq!(p.alice.decrypt("bob", &e).unwrap(), text("two"));
    assert!(matches!(
        p.alice.decrypt("bob", &e),
        Err(ClientError::Replayed)
    ));
    // Also after a restart.
    let bob_dir = p.path("bob");
    drop(p.bob);
    let mut bob = Client::open(&bob_dir).unwrap();
    assert!(matches!(
        bob.decrypt("alice", &prekey_message),
        Err(ClientError::Replayed)
    ));
}

#[test]
fn malformed_envelopes_are_errors() {
    let mut p = Pair::connected();
    let envelope = p.alice.encrypt("bob", &text("x")).unwrap();
    for len in 0..envelope.len() {
        assert!(
            p.bob.decrypt("alice", &envelope[..len]).is_err(),
            "prefix {len}"
        );
    }
    assert!(matches!(
        p.bob.decrypt("alice", &[]),
        Err(ClientError::Envelope(_))
    ));
    assert!(matches!(
        p.bob.decrypt("alice", &[9, 2, 1, 2, 3]),
        Err(ClientError::Envelope(_))
    ));
    for seed in 1..50 {
        let mut garbage = noise(200, seed);
        garbage[0] = 1;
        garbage[1] = if seed % 2 == 0 { 2 } else { 3 };
        assert!(p.bob.decrypt("alice", &garbage).is_err());
    }
    let mut trailing = envelope.clone();
    trailing.push(0);
    assert!(p.bob.decrypt("alice", &trailing).is_err());
    assert_eq!(p.bob.decrypt("alice", &envelope).unwrap(), text("x"));
    // An envelope from someone with whom there is no session.
    assert!(matches!(
        p.bob.decrypt("carol", &envelope),
        Err(ClientError::NoSession { .. })
    ));
    assert!(matches!(
        p.alice.encrypt("carol", &text("x")),
        Err(ClientError::NoSession { .. })
    ));
    assert!(matches!(
        p.alice.encrypt("not an account!", &text("x")),
        Err(ClientError::Account(_))
    ));
}

#[test]
fn state_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    let mut c = Client::create(&path, "carol").unwrap();
    assert!(matches!(
        Client::create(&path, "carol"),
        Err(ClientError::StateExists { .. })
    ));
    assert!(matches!(
        Client::create(&dir.path().join("d"), "bad/name"),
        Err(ClientError::Account(_))
    ));
    assert!(matches!(
        Client::open(&dir.path().join("missing")),
        Err(ClientError::Io { .. })
    ));
    let other = Client::create(&dir.path().join("o"), "olga").unwrap();
    c.start_session("olga", &bundle_of(&other)).unwrap();
    drop(c);

    let file = path.join(letro_client::STATE_FILE);
    let good = std::fs::read(&file).unwrap();
    let corrupt = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
        match Client::open(&path) {
            Err(ClientError::StateCorrupt { .. }) => {}
            other => panic!("expected StateCorrupt, got {other:?}"),
        }
    };
    for len in (0..good.len()).step_by(97) {
        corrupt(&good[..len]);
    }
    corrupt(b"");
    corrupt(b"\xff\xfe\x00garbage");
    corrupt(&noise(5000, 3));
    // Valid JSON, wrong values.
    let json: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let edits: [(&str, serde_json::Value); 6] = [
        ("/version", 2.into()),
        ("/account", "bad account".into()),
        ("/identity/key_pair", "AAAA".into()),
        ("/identity/registration_id", 0.into()),
        ("/receipt/private_key", "AAAA".into()),
        ("/signed_prekeys/current", 99.into()),
    ];
    for (pointer, value) in edits {
        let mut j = json.clone();
        *j.pointer_mut(pointer).unwrap() = value;
        corrupt(&serde_json::to_vec(&j).unwrap());
    }
    let mut j = json.clone();
    j.as_object_mut()
        .unwrap()
        .insert("extra".into(), serde_json::Value::Null);
    corrupt(&serde_json::to_vec(&j).unwrap());
    // Damage a session record.
    let mut j = json.clone();
    let sessions = j
        .pointer_mut("/sessions/records")
        .unwrap()
        .as_object_mut()
        .unwrap();
    for v in sessions.values_mut() {
        *v = "AAECAwQ=".into();
    }
    corrupt(&serde_json::to_vec(&j).unwrap());

    std::fs::write(&file, &good).unwrap();
    let c = Client::open(&path).unwrap();
    assert!(c.has_session("olga"));
}

#[test]
fn receipts_verify_for_their_key_only() {
    let p = Pair::new();
    let h = CiphertextHash::of(b"envelope bytes");
    let receipt = p.bob.sign_receipt(&h, T);
    assert_eq!(receipt.receipt_key, p.bob.receipt_key());
    assert_eq!(receipt.ciphertext_hash, h);
    assert_eq!(receipt.delivered_at, T);
    check_receipt(
        &h,
        T,
        &p.bob.receipt_key(),
        &receipt.signature,
        T + 5,
        300,
        Fr::from(1u64),
    )
    .unwrap();
    // Alice's receipt does not verify for Bob's key, nor Bob's for another H or t.
    let alices = p.alice.sign_receipt(&h, T);
    assert!(matches!(
        check_receipt(
            &h,
            T,
            &p.bob.receipt_key(),
            &alices.signature,
            T,
            300,
            Fr::from(1u64)
        ),
        Err(ReceiptError::Signature(_))
    ));
    check_receipt(
        &h,
        T,
        &p.alice.receipt_key(),
        &alices.signature,
        T,
        300,
        Fr::from(1u64),
    )
    .unwrap();
    assert!(check_receipt(
        &h,
        T + 1,
        &p.bob.receipt_key(),
        &receipt.signature,
        T,
        300,
        Fr::from(1u64)
    )
    .is_err());
    let other = CiphertextHash::of(b"other");
    assert!(check_receipt(
        &other,
        T,
        &p.bob.receipt_key(),
        &receipt.signature,
        T,
        300,
        Fr::from(1u64)
    )
    .is_err());
}

#[test]
fn certificate_verifies_for_its_receipt_key_only() {
    let p = Pair::new();
    let cert = p.bob.receipt_key_certificate();
    assert_eq!(cert.identity_key().as_slice(), p.bob.identity_key());
    verify_certificate(&cert, p.bob.receipt_key().point()).unwrap();
    assert_eq!(
        verify_certificate(&cert, p.alice.receipt_key().point()),
        Err(CertificateError::Invalid)
    );
    // What the directory receives parses and binds the same key and certificate.
    let json = p.bob.prekey_upload().to_json();
    let (upload, binding) = PrekeyUpload::parse(json.as_bytes()).unwrap();
    assert_eq!(upload.one_time_prekeys.len(), 100);
    assert_eq!(binding.receipt_key, p.bob.receipt_key());
    verify_certificate(&binding.certificate, binding.receipt_key.point()).unwrap();
}

#[test]
fn changed_identity_is_refused() {
    let mut p = Pair::connected();
    let impostor_dir = p.path("bob2");
    let mut impostor = Client::create(&impostor_dir, "bob").unwrap();
    let alice_state = state_bytes(&p.path("alice"));
    assert!(matches!(
        p.alice.start_session("bob", &bundle_of(&impostor)),
        Err(ClientError::IdentityChanged { peer }) if peer == "bob"
    ));
    // A PreKey message from the new "bob" identity is refused too.
    impostor
        .start_session("alice", &bundle_of(&p.alice))
        .unwrap();
    let e = impostor.encrypt("alice", &text("it's me, really")).unwrap();
    assert!(matches!(
        p.alice.decrypt("bob", &e),
        Err(ClientError::IdentityChanged { .. })
    ));
    assert_eq!(state_bytes(&p.path("alice")), alice_state);
    // The real Bob still gets through.
    let e = p.bob.encrypt("alice", &text("still me")).unwrap();
    assert_eq!(p.alice.decrypt("bob", &e).unwrap(), text("still me"));
}

#[test]
fn bad_bundles_are_refused() {
    let mut p = Pair::new();
    let good = bundle_of(&p.bob);

    assert!(matches!(
        p.alice.start_session("carol", &good),
        Err(ClientError::BundleAccount { .. })
    ));
    let mut b = good.clone();
    b.identity_key.truncate(32);
    assert!(matches!(
        p.alice.start_session("bob", &b),
        Err(ClientError::Bundle(_))
    ));
    // Bob's certificate with Alice's receipt key.
    let mut b = good.clone();
    b.receipt_key = p.alice.prekey_upload().receipt_key;
    assert!(matches!(
        p.alice.start_session("bob", &b),
        Err(ClientError::BundleCertificate)
    ));
    let mut b = good.clone();
    b.receipt_key_certificate.signature[5] ^= 1;
    assert!(matches!(
        p.alice.start_session("bob", &b),
        Err(ClientError::BundleCertificate)
    ));
    let mut b = good.clone();
    b.signed_prekey.signature[5] ^= 1;
    assert!(matches!(
        p.alice.start_session("bob", &b),
        Err(ClientError::BundleRefused(_))
    ));
    let mut b = good.clone();
    b.kyber_prekey.public_key[100] ^= 1;
    assert!(matches!(
        p.alice.start_session("bob", &b),
        Err(ClientError::BundleRefused(_))
    ));
    // None of that left a trace; the good bundle works.
    assert!(!p.alice.has_session("bob"));
    p.alice.start_session("bob", &good).unwrap();
    let e = p.alice.encrypt("bob", &text("ok")).unwrap();
    assert_eq!(p.bob.decrypt("alice", &e).unwrap(), text("ok"));
}

#[test]
fn one_time_prekeys_are_replenished() {
    let dir = tempfile::tempdir().unwrap();
    let mut bob = Client::create(&dir.path().join("bob"), "bob").unwrap();
    assert_eq!(bob.one_time_prekey_count(), 100);
    assert_eq!(bob.replenish_one_time_prekeys(10).unwrap(), 0);
    let mut senders = Vec::new();
    let mut upload = bob.prekey_upload();
    for i in 0..3 {
        let name = format!("sender{i}");
        let mut s = Client::create(&dir.path().join(&name), &name).unwrap();
        let otp = upload.one_time_prekeys.remove(0);
        s.start_session("bob", &upload.to_bundle(Some(otp)))
            .unwrap();
        let e = s.encrypt("bob", &text("hello")).unwrap();
        bob.decrypt(&name, &e).unwrap();
        senders.push(s);
    }
    assert_eq!(bob.one_time_prekey_count(), 97);
    assert_eq!(bob.replenish_one_time_prekeys(10).unwrap(), 3);
    assert_eq!(bob.one_time_prekey_count(), 100);
    let upload = bob.prekey_upload();
    upload.validate().unwrap();
    let ids: std::collections::BTreeSet<u32> =
        upload.one_time_prekeys.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 100);
    assert!(!ids.contains(&1) && ids.contains(&101));
    // Persisted.
    drop(bob);
    let bob = Client::open(&dir.path().join("bob")).unwrap();
    assert_eq!(bob.prekey_upload(), upload);
}

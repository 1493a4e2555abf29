// SPDX-License-Identifier: AGPL-3.0-only
//! The envelope: the bytes a client hands the relay's mailbox, and whose SHA-256 is `H`.
//!
//! ```text
//! envelope = 0x01                 envelope version
//!            type                 0x03 PreKeySignalMessage | 0x02 SignalMessage
//!            message              libsignal's serialisation of that message
//! ```
//!
//! The type bytes are libsignal's `CiphertextMessageType` values. A `PreKeySignalMessage` is sent
//! until the peer has answered (it carries what the peer needs to set up the session: PQXDH);
//! then `SignalMessage`s (Double Ratchet).

use libsignal_protocol_syft::{
    CiphertextMessage, KyberPayload, PreKeySignalMessage, SignalMessage, SignalProtocolError,
};

use crate::message::MAX_PLAINTEXT_LEN;

/// The envelope format version.
pub const ENVELOPE_VERSION: u8 = 0x01;

/// The type byte of an envelope carrying a `PreKeySignalMessage` (a session's first messages).
pub const ENVELOPE_TYPE_PREKEY: u8 = 0x03;

/// The type byte of an envelope carrying a `SignalMessage`.
pub const ENVELOPE_TYPE_SIGNAL: u8 = 0x02;

/// The largest envelope accepted: the largest plaintext plus 64 KiB for the Signal framing
/// (AES-CBC padding, MAC, keys, Kyber ciphertext, post-quantum ratchet message).
pub const MAX_ENVELOPE_LEN: usize = MAX_PLAINTEXT_LEN + 64 * 1024;

/// Why bytes are not an envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Fewer than the two header bytes.
    #[error("envelope is {len} bytes, too short for its header")]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// Larger than [`MAX_ENVELOPE_LEN`].
    #[error("envelope is {len} bytes, more than the limit")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The first byte is not [`ENVELOPE_VERSION`].
    #[error("unsupported envelope version 0x{0:02x}")]
    UnsupportedVersion(u8),
    /// The type byte is neither [`ENVELOPE_TYPE_PREKEY`] nor [`ENVELOPE_TYPE_SIGNAL`].
    #[error("unknown envelope type 0x{0:02x}")]
    UnknownType(u8),
    /// libsignal does not parse the message.
    #[error("envelope message is malformed")]
    Malformed(#[source] SignalProtocolError),
    /// A `PreKeySignalMessage` that is not libsignal's own encoding of its contents (another
    /// version nibble, protobuf fields out of order, repeated or unknown): libsignal would accept
    /// it, but its header is not authenticated, so the envelope (and its hash) could be altered
    /// in transit without the message failing to decrypt.
    #[error("prekey message is not canonically encoded")]
    NonCanonical,
}

/// The kind of message an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// A `PreKeySignalMessage`: the sender's session is not yet acknowledged.
    PreKey,
    /// A `SignalMessage`.
    Signal,
}

/// Reads an envelope's header: its kind and the message bytes. Does not parse the message.
pub fn envelope_kind(envelope: &[u8]) -> Result<(EnvelopeKind, &[u8]), EnvelopeError> {
    if envelope.len() > MAX_ENVELOPE_LEN {
        return Err(EnvelopeError::TooLarge {
            len: envelope.len(),
        });
    }
    let [version, kind, message @ ..] = envelope else {
        return Err(EnvelopeError::TooShort {
            len: envelope.len(),
        });
    };
    if *version != ENVELOPE_VERSION {
        return Err(EnvelopeError::UnsupportedVersion(*version));
    }
    let kind = match *kind {
        ENVELOPE_TYPE_PREKEY => EnvelopeKind::PreKey,
        ENVELOPE_TYPE_SIGNAL => EnvelopeKind::Signal,
        other => return Err(EnvelopeError::UnknownType(other)),
    };
    Ok((kind, message))
}

/// Parses an envelope into libsignal's message.
pub(crate) fn parse(envelope: &[u8]) -> Result<CiphertextMessage, EnvelopeError> {
    let (kind, message) = envelope_kind(envelope)?;
    match kind {
        EnvelopeKind::PreKey => {
            let m = PreKeySignalMessage::try_from(message).map_err(EnvelopeError::Malformed)?;
            check_canonical(&m, message)?;
            Ok(CiphertextMessage::PreKeySignalMessage(m))
        }
        EnvelopeKind::Signal => SignalMessage::try_from(message)
            .map(CiphertextMessage::SignalMessage)
            .map_err(EnvelopeError::Malformed),
    }
}

/// Re-encodes a parsed `PreKeySignalMessage` and requires the same bytes. The inner
/// `SignalMessage` is covered by its MAC, and the base key, prekey ids and Kyber ciphertext feed
/// the key agreement; the version byte's low nibble, the protobuf framing and the registration
/// id are not authenticated. This check pins the first two; the registration id (as in Signal)
/// remains the sender's unauthenticated claim.
fn check_canonical(m: &PreKeySignalMessage, bytes: &[u8]) -> Result<(), EnvelopeError> {
    let kyber = m
        .kyber_pre_key_id()
        .zip(m.kyber_ciphertext())
        .map(|(id, ct)| KyberPayload::new(id, ct.clone()));
    let again = PreKeySignalMessage::new(
        m.message_version(),
        m.registration_id(),
        m.pre_key_id(),
        m.signed_pre_key_id(),
        kyber,
        *m.base_key(),
        *m.identity_key(),
        m.message().clone(),
    )
    .map_err(EnvelopeError::Malformed)?;
    if again.serialized() == bytes {
        Ok(())
    } else {
        Err(EnvelopeError::NonCanonical)
    }
}

/// Frames libsignal's message as an envelope. `None` for message types a session never
/// produces (sender-key and plaintext messages).
pub(crate) fn frame(message: &CiphertextMessage) -> Option<Vec<u8>> {
    let kind = match message {
        CiphertextMessage::PreKeySignalMessage(_) => ENVELOPE_TYPE_PREKEY,
        CiphertextMessage::SignalMessage(_) => ENVELOPE_TYPE_SIGNAL,
        _ => return None,
    };
    let body = message.serialize();
    let mut out = Vec::with_capacity(2 + body.len());
    out.push(ENVELOPE_VERSION);
    out.push(kind);
    out.extend_from_slice(body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rejections() {
        assert!(matches!(
            envelope_kind(&[]),
            Err(EnvelopeError::TooShort { len: 0 })
        ));
        assert!(matches!(
            envelope_kind(&[1]),
            Err(EnvelopeError::TooShort { len: 1 })
        ));
        assert!(matches!(
            envelope_kind(&[2, 2, 0]),
            Err(EnvelopeError::UnsupportedVersion(2))
        ));
        assert!(matches!(
            envelope_kind(&[1, 4, 0]),
            Err(EnvelopeError::UnknownType(4))
        ));
        assert!(matches!(
            envelope_kind(&vec![1u8; MAX_ENVELOPE_LEN + 1]),
            Err(EnvelopeError::TooLarge { .. })
        ));
        assert!(matches!(
            envelope_kind(&[1, 2, 9]),
            Ok((EnvelopeKind::Signal, [9]))
        ));
        assert!(matches!(parse(&[1, 3]), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(
            parse(&[1, 2, 0x33, 0, 0, 0]),
            Err(EnvelopeError::Malformed(_))
        ));
    }
}

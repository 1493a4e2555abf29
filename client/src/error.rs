// SPDX-License-Identifier: AGPL-3.0-only
//! The client's error type.

use std::path::PathBuf;

use letro_api::directory::{AccountIdError, DirectoryError};
use libsignal_protocol_syft::SignalProtocolError;

use crate::envelope::EnvelopeError;
use crate::message::MessageError;
use crate::store::StateError;

/// Why a client operation failed. Nothing in the state changed (in memory or on disk) when an
/// operation returns an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// An account id (this client's or a peer's) is not 1 to 64 characters of `[A-Za-z0-9._-]`.
    #[error("bad account id")]
    Account(#[source] AccountIdError),
    /// [`crate::Client::create`] found a state already there.
    #[error("a client state already exists at {}", path.display())]
    StateExists {
        /// The state file.
        path: PathBuf,
    },
    /// Reading or writing the state failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state file is corrupt or truncated.
    #[error("client state {} is corrupt or truncated", path.display())]
    StateCorrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: StateError,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Randomness(#[source] rand09::rand_core::OsError),
    /// The bundle is malformed.
    #[error("prekey bundle is malformed")]
    Bundle(#[source] DirectoryError),
    /// The bundle is another account's.
    #[error("prekey bundle is for account {found:?}, not {expected:?}")]
    BundleAccount {
        /// The peer the caller named.
        expected: String,
        /// The account in the bundle.
        found: String,
    },
    /// The bundle's receipt-key certificate is not a valid signature by its identity key.
    #[error("the receipt key certificate in the bundle does not verify")]
    BundleCertificate,
    /// libsignal refused the bundle (a prekey signature does not verify, or a key does not
    /// parse).
    #[error("prekey bundle refused")]
    BundleRefused(#[source] SignalProtocolError),
    /// The peer's identity key is not the one seen before (trust on first use). The safety
    /// number changed: the peer reinstalled, or someone is in the middle.
    #[error("the identity key of {peer:?} has changed; refusing it")]
    IdentityChanged {
        /// The peer.
        peer: String,
    },
    /// There is no session with the peer to encrypt or decrypt with.
    #[error("no session with {peer:?}; start one from their prekey bundle")]
    NoSession {
        /// The peer.
        peer: String,
    },
    /// The message is over the limits, or a decrypted plaintext is not a valid message.
    #[error("message is malformed")]
    Message(#[source] MessageError),
    /// The bytes are not an envelope.
    #[error("envelope is malformed")]
    Envelope(#[source] EnvelopeError),
    /// The envelope was decrypted before: a replay.
    #[error("envelope was already received (replayed)")]
    Replayed,
    /// The envelope does not decrypt: tampered with, for another session, or out of order
    /// beyond what the ratchet keeps.
    #[error("envelope does not decrypt")]
    Decrypt(#[source] SignalProtocolError),
    /// libsignal failed to encrypt.
    #[error("encryption failed")]
    Encrypt(#[source] SignalProtocolError),
    /// Generating keys failed.
    #[error("key generation failed")]
    KeyGeneration(#[source] SignalProtocolError),
    /// libsignal panicked on this input (caught; the state is unchanged).
    #[error("libsignal failed on this input")]
    LibsignalPanic,
    /// A bug: a state this crate should never reach.
    #[error("internal error: {0}")]
    Unreachable(String),
}

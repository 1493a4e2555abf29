// SPDX-License-Identifier: AGPL-3.0-only
//
// letro-client links libsignal (AGPL-3.0-only), so this crate is AGPL-3.0-only too, unlike the
// rest of the workspace (Apache-2.0 OR MIT), none of which links it: only the letro-demo
// binary (AGPL-3.0-only too) and some tests do (`.ci/check-licenses`).

//! # letro-client
//!
//! The Letro messaging client library: Signal-encrypted messages whose delivery the recipient
//! acknowledges with a receipt the relay can log and later prove.
//!
//! - **Identity**: a Signal identity key pair (libsignal), and a Baby Jubjub receipt key `A`
//!   certified by it: the identity key's XEdDSA signature over
//!   `letro_core::bundle::certificate_message(A)` (SPEC §7.2).
//! - **Prekeys**: a signed prekey, a Kyber1024 prekey (signed; kept as the last-resort Kyber
//!   key), and up to 100 one-time prekeys, published as a
//!   [`letro_api::directory::PrekeyUpload`].
//! - **Sessions**: PQXDH from a peer's [`letro_api::directory::PrekeyBundle`], then the Double
//!   Ratchet (with libsignal's post-quantum ratchet), trusting a peer's identity key on first
//!   use and refusing a changed one.
//! - **Envelopes**: a [`Message`] (body and attachments, padded to 160 bytes) is encrypted into
//!   one envelope (see [`envelope`]); `H` = SHA-256 of the envelope bytes.
//! - **Receipts**: [`Client::sign_receipt`] signs `(H, t)` with the receipt key
//!   (EdDSA-Poseidon), as `letro_core::log::check_receipt` checks.
//! - **State**: everything is kept in `state.json` in the client's directory, written atomically
//!   (temporary file, fsync, rename, fsync of the directory) with mode 0600 before each mutating
//!   call returns, so a restarted client carries on its sessions. An operation that fails leaves
//!   the state as it was.
//!
//! The API is synchronous: libsignal's `async` store traits are driven with
//! `futures_executor::block_on`. Plaintext never leaves the client: it is not logged (the
//! `Debug` of [`Message`] shows sizes only), not stored, and only envelope bytes are returned
//! for sending.
//!
//! ## Non-features
//!
//! - No transport: the caller moves upload, bundle and envelope bytes to and from the relay.
//! - One device per account (libsignal device id [`DEVICE_ID`]); no sealed sender, no groups.
//! - No rotation of the signed or Kyber prekey yet.
//! - The state file is protected by its mode only, not encrypted at rest.
//! - One process per state directory: there is no lock against two clients on the same
//!   directory.
#![forbid(unsafe_code)]

mod client;
pub mod envelope;
mod error;
pub mod message;
mod store;

pub use client::{Client, Receipt, DEVICE_ID, INITIAL_ONE_TIME_PREKEYS, KYBER_KEY_TYPE};
pub use envelope::{envelope_kind, EnvelopeError, EnvelopeKind};
pub use error::ClientError;
pub use message::{Attachment, Message, MessageError};
pub use store::{StateError, STATE_FILE};

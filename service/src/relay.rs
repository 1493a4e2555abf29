//! The relay's directory and mailbox, for `client` tokens (the subject is the account id).
//!
//! - Directory: a client publishes its prekeys and its certified receipt key
//!   (`PUT /v1/directory/{account}`, [`letro_api::directory::PrekeyUpload`]); anyone with a
//!   client token fetches a [`letro_api::directory::PrekeyBundle`]
//!   (`GET /v1/directory/{account}`), each one-time prekey being handed out once. The receipt
//!   key's certificate (XEdDSA by the identity key) is verified before anything is stored, and
//!   every certified receipt key is kept with its account for ever.
//! - Mailbox: a sender posts an envelope for a recipient (`POST /v1/messages/{recipient}`,
//!   the raw bytes): the relay stores it and logs the submitted event for
//!   `H = SHA-256(envelope)`. The recipient lists (`GET /v1/mailbox`), fetches
//!   (`GET /v1/mailbox/{ciphertext_sha256}`) and acknowledges
//!   (`POST /v1/mailbox/{ciphertext_sha256}/receipt`) its envelopes. A receipt must be signed
//!   by a receipt key the recipient certified in the directory; it is checked like any
//!   receipt and logged as the delivered event, and the envelope leaves the mailbox.
//! - Lifecycle (SPEC §5.11): a stored envelope is logged as accepted and then made available;
//!   an envelope for an account the directory does not know is logged as rejected
//!   (`unknown-recipient`) and answered 404. The recipient may refuse an envelope instead of
//!   acknowledging it (`POST /v1/mailbox/{ciphertext_sha256}/refusal`, signed by a receipt key
//!   it certified), and the expiry task ([`crate::lifecycle`]) closes what nobody retrieved or
//!   refused before the retention period ended. A delivery that has ended takes no envelope
//!   again.
//!
//! The relay handles ciphertext only: envelopes are opaque bytes, and nothing here can read
//! them.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use letro_api::bodies::{AckRequest as AckJson, RefusalRequest};
pub use letro_api::bodies::{MailboxItem, Published};
use letro_api::directory::{check_account_id, CertificateObject, PrekeyUpload};
use letro_core::babyjubjub;
use letro_core::log::submitted_leaf;
use letro_core::statement::CiphertextHash;

use crate::api::{
    accepted, checked_receipt, checked_refusal, parse_hash, receipt_refused, ApiError, AppState,
    Caller, CheckedReceipt, JsonBody,
};
use crate::store::{DirectoryEntry, Envelope, EventSecret, StoredEvent};
use crate::unix_now;
use letro_core::lifecycle::{available_leaf, rejected_leaf, RejectionReason};

/// Most envelopes one `GET /v1/mailbox` lists.
pub const MAILBOX_PAGE: usize = 100;

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "relay store operation failed");
    ApiError::Internal
}

fn account_path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(account) = p.map_err(|_| ApiError::InvalidRequest("malformed account".into()))?;
    check_account_id(&account).map_err(|e| ApiError::InvalidRequest(format!("account: {e}")))?;
    Ok(account)
}

fn body_bytes(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.body_limit_for_envelopes())
        } else {
            ApiError::InvalidRequest(r.body_text())
        }
    })
}

/// `PUT /v1/directory/{account}`.
pub(crate) async fn put_directory(
    State(state): State<AppState>,
    caller: Caller,
    account: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Published>, ApiError> {
    let token = caller.0;
    let account = account_path(account)?;
    if token.subject != account {
        return Err(ApiError::NotYours(
            "a client may publish only its own account's prekeys".into(),
        ));
    }
    let body = body_bytes(&state, body)?;
    let (upload, binding) =
        PrekeyUpload::parse(&body).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    if upload.account != account {
        return Err(ApiError::InvalidRequest(
            "the document's account is not the one in the path".into(),
        ));
    }
    letro_verifier::certificate::verify_certificate(
        &binding.certificate,
        binding.receipt_key.point(),
    )
    .map_err(|e| ApiError::InvalidCertificate(e.to_string()))?;
    let packed = babyjubjub::pack(binding.receipt_key.point());
    let certificate =
        serde_json::to_string(&CertificateObject::from(&binding.certificate)).map_err(internal)?;
    let one_time: Vec<(u32, Vec<u8>)> = upload
        .one_time_prekeys
        .iter()
        .map(|k| (k.id, k.public_key.clone()))
        .collect();
    let mut stored_doc = upload.clone();
    stored_doc.one_time_prekeys.clear();
    let entry = DirectoryEntry {
        account: account.clone(),
        document: stored_doc.to_json(),
        receipt_key: packed,
        certificate,
    };
    let (owner_of_key, stored_one_time) = (account.clone(), one_time.clone());
    state
        .db(move |store| {
            match store.receipt_key_owner(&packed).map_err(internal)? {
                Some((owner, _)) if owner != owner_of_key => {
                    return Err(ApiError::Conflict(
                        "this receipt key is certified by another account".into(),
                    ))
                }
                _ => {}
            }
            store
                .put_directory(&entry, &stored_one_time)
                .map_err(internal)
        })
        .await?;
    tracing::info!(account = %account, one_time = one_time.len(), "prekeys published");
    Ok(Json(Published {
        account,
        one_time_prekeys: u64::try_from(one_time.len()).unwrap_or(u64::MAX),
        receipt_key_fingerprint: hex::encode(sha256(&packed)),
    }))
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(b).into()
}

/// `GET /v1/directory/{account}`: a prekey bundle with one fresh one-time prekey (or none
/// when all are used).
pub(crate) async fn get_directory(
    State(state): State<AppState>,
    _caller: Caller,
    account: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let account = account_path(account)?;
    let taken = state
        .db(move |s| s.take_directory(&account).map_err(internal))
        .await?;
    let Some((entry, one)) = taken else {
        return Err(ApiError::NotFound(
            "no prekeys are published for this account".into(),
        ));
    };
    let upload: PrekeyUpload = serde_json::from_str(&entry.document).map_err(internal)?;
    let one = one.map(|(id, public_key)| letro_api::directory::OneTimePrekey { id, public_key });
    let bundle = upload.to_bundle(one);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        bundle.to_json(),
    )
        .into_response())
}

/// `POST /v1/messages/{recipient}`: the body is the envelope.
pub(crate) async fn post_message(
    State(state): State<AppState>,
    caller: Caller,
    recipient: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let token = caller.0;
    let recipient = account_path(recipient)?;
    let bytes = body_bytes(&state, body)?;
    if bytes.is_empty() {
        return Err(ApiError::InvalidRequest("the envelope is empty".into()));
    }
    let h = CiphertextHash::of(&bytes);
    let sender = token.subject;
    let now = unix_now();
    let envelope = Envelope {
        ciphertext_hash: h.0,
        sender: sender.clone(),
        recipient: recipient.clone(),
        received_at: now,
        bytes: bytes.to_vec(),
    };
    let stored = state
        .db(move |store| {
            // A delivery that has ended takes no envelope again: the submission below is then a
            // repeat (or a conflict, or out of order after a rejection), and nothing is stored.
            let ended = store
                .delivery(&envelope.ciphertext_hash)
                .map_err(internal)?
                .iter()
                .any(|(_, e)| e.lifecycle_event().is_final());
            if ended {
                return Ok(Mailbox::Ended);
            }
            if !store.has_directory(&envelope.recipient).map_err(internal)? {
                return Ok(Mailbox::UnknownRecipient);
            }
            // Stored before the event is logged: a crash in between leaves an envelope whose
            // event the sender's retry logs (the same submission is idempotent).
            if !store.put_envelope(&envelope).map_err(internal)? {
                if let Some(old) = store
                    .envelope(&envelope.ciphertext_hash)
                    .map_err(internal)?
                {
                    if old.sender != envelope.sender || old.recipient != envelope.recipient {
                        return Err(ApiError::Conflict(
                            "an envelope with this ciphertext is already in a mailbox".into(),
                        ));
                    }
                }
            }
            Ok(Mailbox::Stored)
        })
        .await?;
    if stored == Mailbox::UnknownRecipient {
        return Err(reject(&state, &h, &sender, RejectionReason::UnknownRecipient, now).await);
    }
    let secret = EventSecret::fresh();
    let leaf = submitted_leaf(&h, &sender, &recipient, &secret.fr());
    let event = StoredEvent::Submitted {
        ciphertext_sha256: h.to_hex(),
        sender,
        routing: recipient.clone(),
    };
    let submitted = state.append(h.0, leaf, event, secret).await?;
    if stored == Mailbox::Stored {
        // A failure here leaves the submission logged without it; the sender's retry logs it.
        let secret = EventSecret::fresh();
        let leaf = available_leaf(&h, &recipient, now, &secret.fr());
        let event = StoredEvent::Available {
            ciphertext_sha256: h.to_hex(),
            routing: recipient,
            available_at: now,
        };
        match state.append(h.0, leaf, event, secret).await {
            // The recipient was quicker: it retrieved or refused the envelope (or it expired)
            // between its acceptance and this event, which the delivery no longer takes. The
            // submission is accepted all the same.
            Ok(_) | Err(ApiError::OutOfOrder(_) | ApiError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    accepted(&state, submitted).await
}

/// What the mailbox did with an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mailbox {
    /// Stored (or already there, from the same sender for the same recipient).
    Stored,
    /// Not stored: the recipient is not in the directory.
    UnknownRecipient,
    /// Not stored: the delivery has a final state.
    Ended,
}

/// Logs a submission-rejected event for `h` and returns the refusal to send (404 for an unknown
/// recipient), saying where the rejection is logged. A rejection the lifecycle does not allow
/// (the same `H` was accepted before) is not logged; the refusal says so.
async fn reject(
    state: &AppState,
    h: &CiphertextHash,
    sender: &str,
    reason: RejectionReason,
    now: u64,
) -> ApiError {
    let secret = EventSecret::fresh();
    let leaf = rejected_leaf(h, sender, reason, now, &secret.fr());
    let event = StoredEvent::Rejected {
        ciphertext_sha256: h.to_hex(),
        sender: sender.to_owned(),
        reason: reason.name().to_owned(),
        rejected_at: now,
    };
    let logged = match state.append(h.0, leaf, event, secret).await {
        Ok(a) => format!(
            "the rejection ({}) is logged at index {}",
            reason.name(),
            a.index
        ),
        Err(ApiError::Conflict(_) | ApiError::OutOfOrder(_)) => {
            "no rejection is logged: this ciphertext's delivery already has events".to_owned()
        }
        Err(e) => return e,
    };
    ApiError::NotFound(format!("no such recipient in the directory; {logged}"))
}

/// `GET /v1/mailbox`: the caller's waiting envelopes, oldest first, at most
/// [`MAILBOX_PAGE`].
pub(crate) async fn get_mailbox(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MailboxItem>>, ApiError> {
    let token = caller.0;
    let list = state
        .db(move |s| s.mailbox(&token.subject, MAILBOX_PAGE).map_err(internal))
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|e| MailboxItem {
                ciphertext_sha256: hex::encode(e.ciphertext_hash),
                sender: e.sender,
                received_at: letro_core::bundle::format_time(e.received_at)
                    .unwrap_or_else(|| e.received_at.to_string()),
            })
            .collect(),
    ))
}

fn hash_path(p: Result<Path<String>, PathRejection>) -> Result<CiphertextHash, ApiError> {
    let Path(h) = p.map_err(|_| ApiError::InvalidRequest("malformed ciphertext hash".into()))?;
    parse_hash(&h)
}

/// `GET /v1/mailbox/{ciphertext_sha256}`: the envelope bytes, to its recipient only.
pub(crate) async fn get_envelope(
    State(state): State<AppState>,
    caller: Caller,
    h: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let token = caller.0;
    let h = hash_path(h)?;
    let hash = h.0;
    let envelope = state
        .db(move |s| s.envelope(&hash).map_err(internal))
        .await?;
    // Another recipient's envelope is answered like a missing one.
    let envelope = envelope
        .filter(|e| e.recipient == token.subject)
        .ok_or_else(|| ApiError::NotFound("no such envelope in this mailbox".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static("letro-sender"),
                envelope.sender,
            ),
        ],
        envelope.bytes,
    )
        .into_response())
}

/// `POST /v1/mailbox/{ciphertext_sha256}/receipt`.
pub(crate) async fn post_ack(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    h: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<AckJson>, ApiError>,
) -> Result<Response, ApiError> {
    let result = ack(&state, caller, h, body).await;
    if let Err(e) = &result {
        state.receipt_refused(e.code());
    }
    result
}

/// `h` is an envelope in `account`'s mailbox, or was one (its submission was routed to
/// `account`: a repeated answer, or one after the envelope left); else 404, as for an unknown
/// envelope.
async fn mine(state: &AppState, h: &CiphertextHash, account: String) -> Result<(), ApiError> {
    let hash = h.0;
    let mine = state
        .db(move |store| {
            Ok(match store.envelope(&hash).map_err(internal)? {
                Some(e) => e.recipient == account,
                None => matches!(
                    store.find_submission(&hash).map_err(internal)?,
                    Some((_, StoredEvent::Submitted { routing, .. })) if routing == account
                ),
            })
        })
        .await?;
    if mine {
        Ok(())
    } else {
        Err(ApiError::NotFound(
            "no such envelope in this mailbox".into(),
        ))
    }
}

/// Logs the recipient's answer (its receipt or refusal, checked) and takes the envelope out of
/// the mailbox once the event is stored.
async fn log_answer(
    state: &AppState,
    h: &CiphertextHash,
    checked: CheckedReceipt,
) -> Result<Response, ApiError> {
    let a = state
        .append(h.0, checked.leaf, checked.event, checked.secret)
        .await?;
    let hash = h.0;
    state
        .db(move |s| s.remove_envelope(&hash).map_err(internal))
        .await?;
    accepted(state, a).await
}

async fn ack(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    h: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<AckJson>, ApiError>,
) -> Result<Response, ApiError> {
    let token = caller?.0;
    let h = hash_path(h)?;
    let body = body?.0;
    mine(state, &h, token.subject).await?;
    // The same checks as `POST /v1/receipts`: H submitted (the envelope alone is not enough:
    // it is stored before its event is logged), and the key certified by the routed account,
    // which is this account.
    let receipt = body.check().map_err(receipt_refused)?;
    let checked = checked_receipt(state, &h, &receipt).await?;
    log_answer(state, &h, checked).await
}

/// `POST /v1/mailbox/{ciphertext_sha256}/refusal`.
pub(crate) async fn post_refusal(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    h: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<RefusalRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let result = refusal(&state, caller, h, body).await;
    if let Err(e) = &result {
        state.receipt_refused(e.code());
    }
    result
}

async fn refusal(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    h: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<RefusalRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let token = caller?.0;
    let h = hash_path(h)?;
    let body = body?.0;
    mine(state, &h, token.subject).await?;
    let refusal = body.check().map_err(receipt_refused)?;
    let checked = checked_refusal(state, &h, &refusal).await?;
    log_answer(state, &h, checked).await
}

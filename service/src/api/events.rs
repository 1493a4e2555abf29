//! Events (relay and client): `POST /v1/submissions`, `POST /v1/receipts`, and the receipt
//! checks every path that logs a receipt goes through.

use super::*;

pub(crate) fn parse_hash(s: &str) -> Result<CiphertextHash, ApiError> {
    letro_api::bodies::parse_ciphertext_hash("ciphertext_sha256", s).map_err(invalid)
}

pub(crate) async fn accepted(state: &AppState, a: Appended) -> Result<Response, ApiError> {
    let status = if a.fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = Accepted {
        index: a.index,
        state: state.state_of(a.index)?,
    };
    Ok((status, Json(body)).into_response())
}

pub(super) async fn post_submission(
    State(state): State<AppState>,
    _caller: Caller,
    JsonBody(body): JsonBody<SubmissionRequest>,
) -> Result<Response, ApiError> {
    let body = body.check().map_err(invalid)?;
    let h = body.ciphertext_hash;
    let secret = EventSecret::fresh();
    let leaf = submitted_leaf(&h, &body.sender, &body.routing, &secret.fr());
    let event = StoredEvent::Submitted {
        ciphertext_sha256: h.to_hex(),
        sender: body.sender,
        routing: body.routing,
    };
    let a = state.append(h.0, leaf, event, secret).await?;
    accepted(&state, a).await
}

pub(super) async fn post_receipt(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    body: Result<JsonBody<ReceiptJson>, ApiError>,
) -> Result<Response, ApiError> {
    let result = receipt(&state, caller, body).await;
    if let Err(e) = &result {
        state.inner.metrics.receipt_refused(e.code());
    }
    result
}

pub(super) async fn receipt(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    body: Result<JsonBody<ReceiptJson>, ApiError>,
) -> Result<Response, ApiError> {
    caller?;
    let (h, receipt) = body?.0.check().map_err(receipt_refused)?;
    let checked = checked_receipt(state, &h, &receipt).await?;
    let a = state
        .append(h.0, checked.leaf, checked.event, checked.secret)
        .await?;
    accepted(state, a).await
}

/// A checked receipt or refusal that may enter the log: its leaf, the event to store and the
/// event's secret.
pub(crate) struct CheckedReceipt {
    /// The delivered leaf, with `secret` mixed in.
    pub leaf: Fr,
    /// The event, with the receipt key's certificate.
    pub event: StoredEvent,
    /// The event's fresh secret.
    pub secret: EventSecret,
}

/// Whether a receipt by `key` for `h` may enter the log (SPEC §5.6): a submitted event is
/// logged for `h`, and `key` is a receipt key that the account the submission was routed to
/// certified in its directory entry (XEdDSA by its Signal identity key, checked again here).
/// Returns the certificate, which the delivered event keeps for the opening. Changes nothing.
pub(super) async fn certificate_for(
    state: &AppState,
    h: &CiphertextHash,
    key: &PublicKey,
) -> Result<CertificateObject, ApiError> {
    let (hash, packed) = (h.0, babyjubjub::pack(key.point()));
    let (routing, certificate) = state
        .db(move |store| {
            let routing = match store.find_submission(&hash).map_err(internal)? {
                Some((_, StoredEvent::Submitted { routing, .. })) => routing,
                _ => return Err(ApiError::NotSubmitted),
            };
            let owner = store.receipt_key_owner(&packed).map_err(internal)?;
            Ok((routing, owner))
        })
        .await?;
    // A key nobody certified and a key another account certified get the same answer.
    let json = match certificate {
        Some((account, json)) if account == routing => json,
        _ => return Err(ApiError::UncertifiedReceiptKey),
    };
    let object: CertificateObject = serde_json::from_str(&json).map_err(internal)?;
    let digest: [u8; 32] = {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update(packed);
        d.update(json.as_bytes());
        d.finalize().into()
    };
    let cache = &state.inner.verified_certificates;
    if cache.lock().is_ok_and(|set| set.contains(&digest)) {
        return Ok(object);
    }
    let certificate = object
        .to_certificate()
        .map_err(|e| ApiError::InvalidCertificate(e.to_string()))?;
    letro_verifier::certificate::verify_certificate(&certificate, key.point())
        .map_err(|e| ApiError::InvalidCertificate(e.to_string()))?;
    if let Ok(mut set) = cache.lock() {
        if set.len() >= super::state::VERIFIED_CERTIFICATES_MAX {
            set.clear();
        }
        set.insert(digest);
    }
    Ok(object)
}

/// Checks a receipt for `h` whose encodings letro-api has checked ([`ReceiptRequest::check`]:
/// 400 and 422 `invalid_receipt` for the key and signature encodings), in this order: the
/// signature and the clock skew (422 `invalid_receipt`, `clock_skew`); that `h` was submitted
/// (409 `not_submitted`); that the key is certified by the account the submission was routed
/// to (422 `uncertified_receipt_key`, `invalid_certificate`). Every path that logs receipts
/// goes through here. Nothing is stored, so a refused receipt blocks no later one.
pub(crate) async fn checked_receipt(
    state: &AppState,
    h: &CiphertextHash,
    receipt: &Receipt,
) -> Result<CheckedReceipt, ApiError> {
    let Receipt {
        delivered_at: t,
        receipt_key: key,
        signature: sig,
    } = receipt;
    let max_skew = state.inner.max_skew;
    let secret = EventSecret::fresh();
    let event =
        check_receipt(h, *t, key, sig, unix_now(), max_skew, secret.fr()).map_err(|e| match e {
            ReceiptError::Skew { .. } => ApiError::ClockSkew(e.to_string()),
            _ => ApiError::InvalidReceipt(e.to_string()),
        })?;
    let certificate = certificate_for(state, h, key).await?;
    let stored = StoredEvent::Delivered {
        ciphertext_sha256: h.to_hex(),
        delivered_at: *t,
        receipt_key: PointJson::from_point(key.point()),
        signature: SignatureJson::from(sig),
        receipt_key_certificate: Some(certificate),
    };
    Ok(CheckedReceipt {
        leaf: event.leaf(),
        event: stored,
        secret,
    })
}

/// Checks a refusal for `h` whose encodings letro-api has checked, as [`checked_receipt`] checks
/// a receipt: the signature on the refusal message and the clock skew, that `h` was submitted,
/// and that the key is certified by the account the submission was routed to. Nothing is
/// stored.
pub(crate) async fn checked_refusal(
    state: &AppState,
    h: &CiphertextHash,
    refusal: &Refusal,
) -> Result<CheckedReceipt, ApiError> {
    let Refusal {
        refused_at: t,
        reason,
        receipt_key: key,
        signature: sig,
    } = refusal;
    letro_core::lifecycle::check_refusal(
        h,
        *t,
        reason.as_deref(),
        key,
        sig,
        unix_now(),
        state.inner.max_skew,
    )
    .map_err(|e| match e {
        ReceiptError::Skew { .. } => ApiError::ClockSkew(e.to_string()),
        _ => ApiError::InvalidReceipt(format!("the refusal: {e}")),
    })?;
    let certificate = certificate_for(state, h, key).await?;
    let secret = EventSecret::fresh();
    let leaf =
        letro_core::lifecycle::refused_leaf(h, key.point(), *t, reason.as_deref(), &secret.fr());
    let event = StoredEvent::Refused {
        ciphertext_sha256: h.to_hex(),
        refused_at: *t,
        reason: reason.clone(),
        receipt_key: PointJson::from_point(key.point()),
        signature: SignatureJson::from(sig),
        receipt_key_certificate: certificate,
    };
    Ok(CheckedReceipt {
        leaf,
        event,
        secret,
    })
}

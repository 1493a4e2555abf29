//! `GET /v1/evidence/{ciphertext_sha256}/{event}`: the evidence record of one lifecycle event
//! (SPEC §5.12), for the sender of the delivery, or for its recipient for the events that are
//! the recipient's own (retrieved, refused).

use letro_core::bundle::ReceiptKeyCertificate;
use letro_core::evidence::{EventFacts, EvidenceRecord};
use letro_core::lifecycle::{LifecycleEvent, RejectionReason};

use super::*;

fn certificate(c: &CertificateObject) -> Result<ReceiptKeyCertificate, ApiError> {
    let key: [u8; 33] = c.identity_key.as_slice().try_into().map_err(internal)?;
    let sig: [u8; 64] = c.signature.as_slice().try_into().map_err(internal)?;
    ReceiptKeyCertificate::new(key, sig).map_err(internal)
}

fn key(p: &crate::store::PointJson) -> Result<PublicKey, ApiError> {
    p.receipt_key(["receipt_key.x", "receipt_key.y"])
        .map_err(internal)
}

fn signature(s: &crate::store::SignatureJson) -> Result<letro_core::eddsa::Signature, ApiError> {
    s.signature(["signature.r8.x", "signature.r8.y", "signature.s"])
        .map_err(internal)
}

/// The facts of a stored event (everything its leaf needs).
fn facts(event: &StoredEvent) -> Result<EventFacts, ApiError> {
    Ok(match event {
        StoredEvent::Submitted {
            sender, routing, ..
        } => EventFacts::SubmissionAccepted {
            sender: sender.clone(),
            routing: routing.clone(),
        },
        StoredEvent::Rejected {
            sender,
            reason,
            rejected_at,
            ..
        } => EventFacts::SubmissionRejected {
            sender: sender.clone(),
            reason: RejectionReason::from_name(reason)
                .ok_or_else(|| internal(format!("stored rejection reason {reason:?}")))?,
            time: *rejected_at,
        },
        StoredEvent::Available {
            routing,
            available_at,
            ..
        } => EventFacts::MadeAvailable {
            routing: routing.clone(),
            time: *available_at,
        },
        StoredEvent::Delivered {
            delivered_at,
            receipt_key,
            signature: sig,
            receipt_key_certificate,
            ..
        } => EventFacts::Retrieved {
            time: *delivered_at,
            receipt_key: key(receipt_key)?,
            signature: signature(sig)?,
            certificate: certificate(
                receipt_key_certificate
                    .as_ref()
                    .ok_or_else(|| ApiError::NotProvable(crate::jobs::NO_CERTIFICATE.into()))?,
            )?,
        },
        StoredEvent::Refused {
            refused_at,
            reason,
            receipt_key,
            signature: sig,
            receipt_key_certificate,
            ..
        } => EventFacts::Refused {
            time: *refused_at,
            reason: reason.clone(),
            receipt_key: key(receipt_key)?,
            signature: signature(sig)?,
            certificate: certificate(receipt_key_certificate)?,
        },
        StoredEvent::Expired {
            retention,
            expired_at,
            ..
        } => EventFacts::Expired {
            retention: *retention,
            time: *expired_at,
        },
    })
}

pub(super) async fn get_evidence(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let json = record(&state, caller, path).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// How long a certificate waits for its seal's time-stamp before it is sealed without one.
const SEAL_STAMP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /v1/evidence/{ciphertext_sha256}/{event}/certificate`: the record of
/// [`get_evidence`], verified here against the log's own key, written as a PDF/A-3
/// certificate and sealed (PAdES B-T when a TSA answers for the seal, else B-B).
pub(super) async fn get_evidence_certificate(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let json = record(&state, caller, path).await?;
    sealed_certificate(&state, json.into_bytes(), None).await
}

/// `GET /v1/proofs/{job_id}/certificate`: the bundle of a finished proof job of the caller's,
/// with its opening, verified here, written as a PDF/A-3 certificate and sealed. A job of
/// another sender, or one without a bundle yet, is reported like a missing one (404).
pub(super) async fn get_proof_certificate(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let job = super::proofs::own_job(&state, caller, id).await?;
    let (Some(bundle), Some(opening)) = (job.bundle, job.opening) else {
        return Err(ApiError::NotFound(
            "this proof job has no bundle yet (or failed): see GET /v1/proofs/{job_id}".into(),
        ));
    };
    sealed_certificate(&state, bundle.into_bytes(), Some(opening.into_bytes())).await
}

/// Verifies `document` (with `opening`) against the log's own key, writes its certificate and
/// seals it (PAdES B-T when a TSA answers for the seal in time, else B-B).
async fn sealed_certificate(
    state: &AppState,
    document: Vec<u8>,
    opening: Option<Vec<u8>>,
) -> Result<Response, ApiError> {
    let now = crate::unix_now();
    let inner = state.inner.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let key = letro_log::note::VerifierKey::parse(&inner.log_vkey).map_err(internal)?;
        // The service's own proofs are under its own keys, whatever their trust level: the
        // page states that level, with a warning when it is not a ceremony's.
        let mut verifier = letro_verifier::Verifier::new(vec![key])
            .map_err(internal)?
            .with_trust_policy(letro_verifier::TrustPolicy::ANY);
        if let Some(k) = &inner.proving_keys {
            verifier.add_key(k.clone());
        }
        let issue = letro_certificate::content::Issue {
            at: now,
            sealed_by: Some(inner.sealer.name().to_owned()),
        };
        let doc = letro_certificate::certify(&verifier, &document, opening.as_deref(), &issue)
            .map_err(internal)?;
        letro_certificate::seal::prepare(&doc, &inner.sealer, now).map_err(internal)
    })
    .await
    .map_err(internal)??;
    // The seal's time-stamp: the first TSA that answers within SEAL_STAMP_TIMEOUT, so that a
    // slow TSA makes the seal B-B rather than the request time out.
    let mut token = None;
    if let Some(t) = &state.inner.timestamping {
        let ask = async {
            for tsa in t.tsas() {
                match t.stamp(tsa, prepared.signature_value()).await {
                    Ok((bytes, _)) => return Some(bytes),
                    Err(e) => {
                        tracing::warn!(tsa, error = %e, "no time-stamp for an evidence seal")
                    }
                }
            }
            None
        };
        token = tokio::time::timeout(SEAL_STAMP_TIMEOUT, ask)
            .await
            .unwrap_or_else(|_| {
                tracing::warn!("no TSA answered in time for an evidence seal; sealed without");
                None
            });
    }
    let pdf = match prepared.finish(token.as_deref()) {
        // A TSA answer too large for the room reserved: sealed without it (PAdES B-B).
        Err(e @ letro_certificate::seal::SealError::TooLarge { .. }) if token.is_some() => {
            tracing::warn!(error = %e, "an evidence seal's time-stamp does not fit; sealed without it");
            prepared.finish(None).map_err(internal)?
        }
        r => r.map_err(internal)?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"evidence-certificate.pdf\"",
            ),
        ],
        pdf,
    )
        .into_response())
}

/// The evidence record the caller asked for, encoded: the shared part of the record and
/// certificate routes (access, lookup, inclusion proof, time-stamps).
async fn record(
    state: &AppState,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<String, ApiError> {
    let Path((h, event)) =
        path.map_err(|_| ApiError::InvalidRequest("malformed evidence path".into()))?;
    let h = parse_hash(&h)?;
    let wanted = LifecycleEvent::from_name(&event).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "event: {event:?} is not one of submission-accepted, submission-rejected, \
             made-available, retrieved, refused, expired"
        ))
    })?;
    let hash = h.0;
    let events = state
        .db(move |s| s.delivery(&hash).map_err(internal))
        .await?;
    // Who may read it: the sender of the delivery, or its recipient for its own events. Anyone
    // else is answered as if there were no such event.
    let token = caller.0;
    let sender = events.iter().find_map(|(_, e)| match e {
        StoredEvent::Submitted { sender, .. } | StoredEvent::Rejected { sender, .. } => {
            Some(sender.clone())
        }
        _ => None,
    });
    let routing = events.iter().find_map(|(_, e)| match e {
        StoredEvent::Submitted { routing, .. } => Some(routing.clone()),
        _ => None,
    });
    let me = Some(token.subject.as_str());
    let allowed = match token.role {
        // A sender account (proof API) or a messaging account that posted the envelope.
        Role::Sender => sender.as_deref() == me,
        Role::Client => {
            sender.as_deref() == me
                || (matches!(wanted, LifecycleEvent::Retrieved | LifecycleEvent::Refused)
                    && routing.as_deref() == me)
        }
        _ => false,
    };
    let found = events
        .into_iter()
        .find(|(_, e)| e.lifecycle_event() == wanted)
        .filter(|_| allowed);
    let Some((index, event)) = found else {
        return Err(ApiError::NotFound(format!(
            "no {wanted} event of yours is logged for this ciphertext"
        )));
    };
    let facts = facts(&event)?;
    let secret = state
        .db(move |s| s.event_secret(index).map_err(internal))
        .await?
        .ok_or_else(|| ApiError::NotProvable(crate::jobs::NO_EVENT_SECRET.into()))?;
    let (checkpoint, inclusion) = {
        let view = state.inner.view.read().map_err(|_| ApiError::Internal)?;
        let cp = view
            .checkpoint
            .clone()
            .filter(|cp| index < cp.size)
            .ok_or(ApiError::NotPublished)?;
        let proof = view
            .log
            .rfc6962()
            .inclusion_proof(index, cp.size)
            .map_err(internal)?;
        (cp, proof)
    };
    let timestamps = crate::timestamping::tokens_for(state, &checkpoint.text).await?;
    let record = EvidenceRecord {
        ciphertext_hash: h,
        origin: state.inner.origin.clone(),
        policy: state.inner.evidence_policy.clone(),
        facts,
        event_secret: secret.fr(),
        leaf_index: index,
        tree_size: checkpoint.size,
        inclusion,
        checkpoint: checkpoint.text,
        timestamps,
    };
    record.encode().map_err(internal)
}

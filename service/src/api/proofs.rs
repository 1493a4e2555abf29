//! Proof jobs (sender): `POST /v1/proofs` and `GET /v1/proofs/{job_id}`.

use super::*;

pub(super) fn format_t(t: u64) -> String {
    letro_core::bundle::format_time(t).unwrap_or_else(|| t.to_string())
}

pub(super) async fn post_proof(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ProofRequest>,
) -> Result<Response, ApiError> {
    let token = caller.0;
    let ProofWindow {
        ciphertext_hash: h,
        not_before,
        not_after,
    } = body.check().map_err(invalid)?;
    if let Some(url) = &body.callback_url {
        crate::callback::check_url(url, &state.inner.callback_hosts)
            .map_err(ApiError::CallbackRefused)?;
    }
    let hash = h.0;
    let (submission, receipt) = state
        .db(move |store| {
            Ok((
                store.find_submission(&hash).map_err(internal)?,
                store.find_receipt(&hash).map_err(internal)?,
            ))
        })
        .await?;
    // Another sender's message gets the same answer as an unknown one, so that a sender
    // cannot learn which ciphertexts others sent.
    match submission {
        Some((_, StoredEvent::Submitted { sender, .. })) if sender == token.subject => {}
        _ => {
            return Err(ApiError::NotFound(
                "no message with this ciphertext_sha256 was submitted by this sender".into(),
            ))
        }
    }
    let Some((
        index,
        StoredEvent::Delivered {
            delivered_at,
            receipt_key_certificate,
            ..
        },
    )) = receipt
    else {
        return Err(ApiError::NotDelivered);
    };
    if delivered_at < not_before || delivered_at > not_after {
        return Err(ApiError::OutsideWindow(format!(
            "the delivery time {} is outside the window [{}, {}]",
            format_t(delivered_at),
            body.not_before,
            body.not_after
        )));
    }
    // Deliveries logged before statement v2 are refused now rather than by a failed job.
    if receipt_key_certificate.is_none() {
        return Err(ApiError::NotProvable(crate::jobs::NO_CERTIFICATE.into()));
    }
    if state
        .db(move |s| s.event_secret(index).map_err(internal))
        .await?
        .is_none()
    {
        return Err(ApiError::NotProvable(crate::jobs::NO_EVENT_SECRET.into()));
    }
    if index >= state.view()?.log.published_size() {
        return Err(ApiError::NotPublished);
    }
    let owner = token.subject.clone();
    let active = state
        .db(move |s| s.active_jobs_of(&owner).map_err(internal))
        .await?;
    if active >= state.inner.max_jobs_per_sender {
        return Err(ApiError::TooManyJobs(active));
    }
    let mut id = [0u8; 16];
    let mut wide = [0u8; 64];
    {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut wide);
    }
    // 512 uniform bits reduced mod p: a uniform blinding up to a 2^-250 bias.
    let blinding = <Fr as ark_ff::PrimeField>::from_le_bytes_mod_order(&wide);
    let job = JobRecord {
        id: hex::encode(id),
        owner: token.subject,
        ciphertext_hash: h.0,
        not_before,
        not_after,
        blinding: fr_to_decimal(&blinding),
        state: JobState::Queued,
        error: None,
        bundle: None,
        opening: None,
        callback_state: body.callback_url.as_ref().map(|_| "pending".into()),
        callback_url: body.callback_url,
    };
    let stored = job.clone();
    state
        .db(move |s| s.put_job(&stored).map_err(internal))
        .await?;
    tracing::info!(job = %job.id, "proof job queued");
    state.inner.metrics.job(JobState::Queued.as_str());
    state.inner.queue.push(job.id.clone());
    let body = job_body(job.clone());
    let location = format!("/v1/proofs/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

pub(super) async fn get_proof(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(job_body(own_job(&state, caller, id).await?)))
}

/// The stored job named by the path's `{job_id}`, if the caller owns it: `GET /v1/proofs/{job_id}`
/// and its certificate. Another sender's job is reported like a missing one (404).
pub(super) async fn own_job(
    state: &AppState,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<JobRecord, ApiError> {
    let token = caller.0;
    let Path(id) = id.map_err(|_| ApiError::InvalidRequest("malformed job id".into()))?;
    let job = state.db(move |s| s.job(&id).map_err(internal)).await?;
    job.filter(|j| j.owner == token.subject)
        .ok_or_else(|| ApiError::NotFound("no proof job with this id".into()))
}

/// A stored job as its owner sees it.
pub(super) fn job_body(job: JobRecord) -> Job {
    Job {
        job_id: job.id,
        state: match job.state {
            JobState::Queued => ApiJobState::Queued,
            JobState::Running => ApiJobState::Running,
            JobState::Done => ApiJobState::Done,
            JobState::Failed | JobState::Dead => ApiJobState::Failed,
        },
        error: job.error.map(|(code, message)| JobFailure {
            // Stored codes are the two the jobs write; anything else reads as a failed proof.
            code: JobFailureCode::parse(&code).unwrap_or(JobFailureCode::ProofFailed),
            message,
        }),
        bundle: job.bundle,
        opening: job.opening,
        callback: job.callback_state.as_deref().map(|c| match c {
            "delivered" => CallbackState::Delivered,
            "failed" => CallbackState::Failed,
            _ => CallbackState::Pending,
        }),
    }
}

//! The log (open, except its state): checkpoint, log key, sizes, inclusion and consistency
//! proofs, for published sizes only.

use letro_log::tiles::TilePath;

use super::*;

/// `GET /v1/log/key`: the log's verifier key as C2SP vkey text, a convenience copy. A verifier
/// must pin the key out of band: whoever serves this endpoint could serve any key.
pub(super) async fn get_log_key(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT)],
        format!("{}\n", state.inner.log_vkey),
    )
        .into_response()
}

pub(super) async fn get_checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .view()?
        .checkpoint
        .as_ref()
        .map(|c| c.text.clone())
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been published yet".into()))?;
    Ok(([(header::CONTENT_TYPE, TEXT)], text).into_response())
}

/// `GET /v1/log/checkpoint`: the checkpoint at the C2SP tlog-tiles prefix `/v1/log`, cacheable
/// for a few seconds only.
pub(super) async fn get_tlog_checkpoint(
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let mut response = get_checkpoint(State(state)).await?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=5"),
    );
    Ok(response)
}

/// `GET /v1/log/tile/{tile}`: a C2SP tlog-tiles hash tile or entry bundle of the published tree.
/// A path always has the same content, so every answer is cacheable for ever.
pub(super) async fn get_tlog_tile(
    State(state): State<AppState>,
    tile: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(tile) =
        tile.map_err(|_| ApiError::InvalidRequest("the tile path is not valid UTF-8".into()))?;
    let path = TilePath::parse(&format!("tile/{tile}"))
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let view = state.view()?;
    let published = view.log.published_size();
    if !path.in_tree(published) {
        // Not cacheable: the tile may exist after the next checkpoint.
        let mut response = ApiError::NotFound(format!(
            "the tile {path} is not in the published tree of {published} entries"
        ))
        .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }
    let bytes = view.log.tile(&path, published).map_err(|e| {
        tracing::error!(error = %e, %path, "a tile of the published tree could not be made");
        ApiError::Internal
    })?;
    drop(view);
    Ok((
        [
            (header::CONTENT_TYPE, letro_api::routes::OCTETS),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

pub(super) async fn get_state(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<LogState>, ApiError> {
    let view = state.view()?;
    Ok(Json(LogState {
        sequenced: view.log.sequenced_size(),
        integrated: view.log.integrated_size(),
        published: view.log.published_size(),
    }))
}

/// Proofs are served only for published sizes: a root no checkpoint signs verifies nothing,
/// and the unpublished sizes would tell anyone the log's growth between checkpoints.
pub(super) fn check_size(view: &LogView, size: u64) -> Result<(), ApiError> {
    let published = view.log.published_size();
    if size > published {
        return Err(ApiError::InvalidRequest(format!(
            "size {size} is beyond the published size {published}"
        )));
    }
    Ok(())
}

pub(super) async fn get_inclusion(
    State(state): State<AppState>,
    index: Result<Path<u32>, PathRejection>,
    query: Result<Query<SizeQuery>, QueryRejection>,
) -> Result<Json<InclusionProof>, ApiError> {
    let Path(index) = index.map_err(|_| {
        ApiError::InvalidRequest("the leaf index must be an integer below 2^32".into())
    })?;
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    let view = state.view()?;
    let size = q.size.unwrap_or_else(|| view.log.published_size());
    check_size(&view, size)?;
    if u64::from(index) >= size {
        return Err(ApiError::NotFound(format!(
            "leaf index {index} is not below the tree size {size}"
        )));
    }
    let proof = view.log.inclusion_proof(index, size).map_err(|e| {
        tracing::error!(error = %e, "inclusion proof failed");
        ApiError::Internal
    })?;
    let leaf = view.log.leaf(index).map_err(|_| ApiError::Internal)?;
    let root = view.log.root_at(size).map_err(|_| ApiError::Internal)?;
    Ok(Json(InclusionProof::new(size, &leaf, &root, &proof)))
}

pub(super) async fn get_consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
    if q.old > q.new {
        return Err(ApiError::InvalidRequest(format!(
            "old size {} is larger than new size {}",
            q.old, q.new
        )));
    }
    let view = state.view()?;
    check_size(&view, q.new)?;
    let proof = view.log.consistency_proof(q.old, q.new).map_err(|e| {
        tracing::error!(error = %e, "consistency proof failed");
        ApiError::Internal
    })?;
    Ok(Json(ConsistencyProof::new(q.old, q.new, &proof)))
}

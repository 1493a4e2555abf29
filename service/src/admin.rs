//! Admin endpoints: issue, list and revoke tokens at run time, and read the audit log.
//!
//! Every state-changing admin action is written to the append-only audit log (the `audit`
//! table: triggers refuse UPDATE and DELETE, and each entry carries a SHA-256 chained over the
//! previous one, so an edit made with direct access to the file is detected by
//! [`verify_audit_chain`]) before the API answers. Tokens never appear in the audit log or
//! in the listing; they are named by [`TokenRecord::id`].

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
pub use letro_api::bodies::{
    AuditEntry as AuditEntryJson, AuditLog, IssuedToken, NewToken, TokenInfo,
};

use crate::api::{ApiError, AppState, Caller, JsonBody};
use crate::auth::{issue_token, Role};
use crate::store::{verify_audit_chain, AuditEntry, AuditRecord, TokenRecord};
use crate::unix_now;

/// Longest lifetime of a token issued through the API: 400 days.
pub const MAX_TOKEN_TTL: u64 = 400 * 86_400;

impl From<&TokenRecord> for TokenInfo {
    fn from(r: &TokenRecord) -> Self {
        Self {
            id: r.id(),
            role: r.role,
            subject: r.subject.clone(),
            expires_at: time_text(r.expires_at),
            revoked_at: r.revoked_at.map(time_text),
        }
    }
}

fn time_text(t: u64) -> String {
    letro_core::bundle::format_time(t).unwrap_or_else(|| t.to_string())
}

fn actor(token: &TokenRecord) -> String {
    format!("token:{} ({})", token.id(), token.subject)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "admin store operation failed");
    ApiError::Internal
}

async fn audit(state: &AppState, entry: AuditEntry) -> Result<AuditRecord, ApiError> {
    state
        .db(move |s| crate::audit::append(s, &entry).map_err(internal))
        .await
}

fn check_subject(subject: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&subject.len())
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(
            "subject must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-', '@'".into(),
        ))
    }
}

/// `POST /v1/admin/tokens`.
pub(crate) async fn post_token(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<Response, ApiError> {
    let admin = caller.0;
    let role: Role = body
        .role
        .parse()
        .map_err(|e: crate::auth::UnknownRole| ApiError::InvalidRequest(e.to_string()))?;
    check_subject(&body.subject)?;
    if !(1..=MAX_TOKEN_TTL).contains(&body.ttl_seconds) {
        return Err(ApiError::InvalidRequest(format!(
            "ttl_seconds must be 1 to {MAX_TOKEN_TTL}"
        )));
    }
    let expires_at = unix_now().saturating_add(body.ttl_seconds);
    // Stored and audited (one connection, so in this order) before the table learns it.
    let (subject, by) = (body.subject.clone(), actor(&admin));
    let (token, record) = state
        .db(move |s| issue_token(s, role, &subject, expires_at, &by).map_err(internal))
        .await?;
    state.tokens()?.insert(record.clone());
    tracing::info!(admin = %admin.id(), token_id = %record.id(), role = role.as_str(), "token issued");
    let body = IssuedToken {
        token,
        info: TokenInfo::from(&record),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/admin/tokens`.
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let list = state.tokens()?.list();
    Ok(Json(list.iter().map(TokenInfo::from).collect()))
}

/// `DELETE /v1/admin/tokens/{token_id}`: revokes at once. Revoking a revoked token is not an
/// error (the first revocation time stays); an unknown id is 404 and is audited too.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<TokenInfo>, ApiError> {
    let admin = caller.0;
    let Path(id) = id.map_err(|_| ApiError::InvalidRequest("malformed token id".into()))?;
    if id.len() != 16
        || !id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(ApiError::InvalidRequest(
            "a token id is 16 lowercase hex digits".into(),
        ));
    }
    let now = unix_now();
    let found = state.tokens()?.find_by_id(&id).cloned();
    let entry = |outcome: &str| AuditEntry {
        time: now,
        actor: actor(&admin),
        action: "token.revoke".into(),
        target: id.clone(),
        outcome: outcome.into(),
    };
    let Some(record) = found else {
        audit(&state, entry("not_found")).await?;
        return Err(ApiError::NotFound("no token with this id".into()));
    };
    let (hash, done) = (record.hash, entry("ok"));
    state
        .db(move |store| {
            if !store.revoke_token(&hash, now).map_err(internal)? {
                return Err(internal("a token in the table is missing from the store"));
            }
            crate::audit::append(store, &done).map_err(internal)
        })
        .await?;
    let mut tokens = state.tokens()?;
    tokens.revoke(&record.hash, now);
    let info = tokens
        .find_by_id(&id)
        .map(TokenInfo::from)
        .ok_or(ApiError::Internal)?;
    tracing::info!(admin = %admin.id(), token_id = %id, "token revoked");
    Ok(Json(info))
}

/// `GET /v1/admin/audit`.
pub(crate) async fn get_audit(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<AuditLog>, ApiError> {
    let records = state.db(|s| s.audit_log().map_err(internal)).await?;
    let chain = match verify_audit_chain(&records) {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::error!(error = %e, "audit log chain is broken");
            e.to_string()
        }
    };
    Ok(Json(AuditLog {
        chain,
        entries: records
            .into_iter()
            .map(|r| AuditEntryJson {
                seq: r.seq,
                time: time_text(r.time),
                actor: r.actor,
                action: r.action,
                target: r.target,
                outcome: r.outcome,
                hash: r.hash,
            })
            .collect(),
    }))
}

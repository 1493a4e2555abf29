//! The OpenAPI 3.1 document (`GET /openapi.json`): component schemas generated from the types
//! of [`crate::bodies`], [`crate::error`], [`crate::role`] and [`crate::directory`] (utoipa),
//! and paths from [`crate::routes::ROUTES`]: parameters typed, request and answer bodies by
//! schema, every status a route can answer with the error codes behind it, and the roles in
//! `x-letro-roles` and the description.

use serde_json::{json, Map, Value};
use utoipa::{IntoParams, OpenApi};

use crate::bodies;
use crate::error::ErrorCode;
use crate::routes::{Answer, Body, ParamType, Query, Route, ROUTES};

#[derive(OpenApi)]
#[openapi(components(schemas(
    crate::bodies::Health,
    crate::bodies::SubmissionRequest,
    crate::bodies::EventState,
    crate::bodies::Accepted,
    crate::bodies::ReceiptRequest,
    crate::bodies::AckRequest,
    crate::bodies::RefusalRequest,
    crate::bodies::LogState,
    crate::bodies::InclusionProof,
    crate::bodies::ConsistencyProof,
    crate::bodies::ProofRequest,
    crate::bodies::JobState,
    crate::bodies::CallbackState,
    crate::bodies::Job,
    crate::bodies::JobFailure,
    crate::bodies::JobFailureCode,
    crate::bodies::CallbackNotice,
    crate::bodies::DeliveryNotice,
    crate::bodies::NewToken,
    crate::bodies::TokenInfo,
    crate::bodies::IssuedToken,
    crate::bodies::AuditLog,
    crate::bodies::AuditEntry,
    crate::bodies::Published,
    crate::bodies::MailboxItem,
    crate::directory::PrekeyUpload,
    crate::directory::PrekeyBundle,
    crate::directory::SignedPrekey,
    crate::directory::OneTimePrekey,
    crate::directory::CertificateObject,
    crate::error::ErrorBody,
    crate::error::ErrorDetail,
    crate::error::ErrorCode,
    crate::role::Role,
    letro_core::receipt_json::PointJson,
    letro_core::receipt_json::SignatureJson,
)))]
struct Schemas;

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn content(body: Body) -> Option<Value> {
    match body {
        Body::None => None,
        Body::Json(name) => Some(json!({"application/json": {"schema": schema_ref(name)}})),
        Body::JsonList(name) => Some(json!({
            "application/json": {"schema": {"type": "array", "items": schema_ref(name)}}
        })),
        Body::Raw {
            content_type,
            binary,
        } => {
            let schema = if binary {
                json!({"type": "string", "format": "binary"})
            } else if content_type == "application/json" {
                // A JSON document specified elsewhere (this OpenAPI document; an evidence record,
                // SPEC 5.12): an object.
                json!({"type": "object"})
            } else {
                json!({"type": "string"})
            };
            Some(json!({ content_type: {"schema": schema} }))
        }
    }
}

fn path_parameter(p: &crate::routes::PathParam) -> Value {
    let schema = match p.ty {
        ParamType::U32 => {
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 4_294_967_295u64})
        }
        ParamType::Sha256Hex => json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
        ParamType::AccountId => json!({
            "type": "string",
            "pattern": "^[A-Za-z0-9._-]{1,64}$",
            "not": {"enum": [".", ".."]},
        }),
        ParamType::Text => json!({"type": "string", "minLength": 1}),
        ParamType::LifecycleEvent => json!({
            "type": "string",
            "enum": ["submission-accepted", "submission-rejected", "made-available",
                     "retrieved", "refused", "expired"],
        }),
        ParamType::TilePath => json!({
            "type": "string",
            "pattern": "^(entries|0|[1-9][0-9]?)/(x[0-9]{3}/)*[0-9]{3}(\\.p/[1-9][0-9]{0,2})?$",
        }),
    };
    json!({
        "name": p.name,
        "in": "path",
        "required": true,
        "description": p.description,
        "schema": schema,
    })
}

fn query_parameters(q: Query) -> Vec<Value> {
    let params = match q {
        Query::None => return Vec::new(),
        Query::Size => bodies::SizeQuery::into_params(|| None),
        Query::Consistency => bodies::ConsistencyQuery::into_params(|| None),
    };
    params
        .into_iter()
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect()
}

fn answer(a: &Answer) -> Value {
    let mut v = Map::new();
    v.insert("description".into(), json!(a.description));
    if let Some(c) = content(a.body) {
        v.insert("content".into(), c);
    }
    if !a.headers.is_empty() {
        let headers: Map<String, Value> = a
            .headers
            .iter()
            .map(|h| {
                let spec = json!({
                    "description": h.description,
                    "required": true,
                    "schema": {"type": "string"},
                });
                (h.name.to_owned(), spec)
            })
            .collect();
        v.insert("headers".into(), Value::Object(headers));
    }
    Value::Object(v)
}

fn error_answers(r: &Route, responses: &mut Map<String, Value>) {
    let mut by_status: std::collections::BTreeMap<u16, Vec<ErrorCode>> = Default::default();
    for code in r.errors() {
        by_status.entry(code.status()).or_default().push(code);
    }
    for (status, codes) in by_status {
        let list: Vec<String> = codes
            .iter()
            .map(|c| format!("`{}`: {}", c.as_str(), c.meaning()))
            .collect();
        let mut v = Map::new();
        v.insert("description".into(), json!(list.join("; ")));
        v.insert(
            "content".into(),
            json!({"application/json": {"schema": schema_ref("ErrorBody")}}),
        );
        if codes.iter().any(|c| c.retry_after().is_some()) {
            v.insert(
                "headers".into(),
                json!({
                    "Retry-After": {
                        "description": "seconds to wait before retrying (retryable codes only)",
                        "schema": {"type": "integer"},
                    }
                }),
            );
        }
        if status == 401 {
            v.insert(
                "headers".into(),
                json!({"WWW-Authenticate": {"schema": {"type": "string"}}}),
            );
        }
        responses.insert(status.to_string(), Value::Object(v));
    }
}

fn operation(r: &Route) -> Value {
    let mut responses = Map::new();
    for a in r.answers {
        responses.insert(a.status.to_string(), answer(a));
    }
    error_answers(r, &mut responses);
    let roles: Vec<&str> = r.roles.iter().map(|role| role.as_str()).collect();
    let description = if roles.is_empty() {
        format!("{} No token needed.", r.summary)
    } else {
        format!("{} Roles: {}.", r.summary, roles.join(", "))
    };
    let mut parameters: Vec<Value> = r.params.iter().map(path_parameter).collect();
    parameters.extend(query_parameters(r.query));
    let mut op = Map::new();
    op.insert("operationId".into(), json!(r.operation_id));
    op.insert("summary".into(), json!(r.summary));
    op.insert("description".into(), json!(description));
    op.insert("x-letro-roles".into(), json!(roles));
    op.insert("responses".into(), Value::Object(responses));
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(c) = content(r.request) {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": c}),
        );
    }
    let security = if r.roles.is_empty() {
        json!([])
    } else {
        json!([{"bearer": []}])
    };
    op.insert("security".into(), security);
    Value::Object(op)
}

/// The document, for `version` (the service's crate version).
pub fn document(version: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let mut item = match paths.remove(r.path) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        item.insert(r.method.as_str().to_ascii_lowercase(), operation(r));
        paths.insert(r.path.to_owned(), Value::Object(item));
    }
    let schemas = Schemas::openapi()
        .components
        .and_then(|c| serde_json::to_value(c.schemas).ok())
        .unwrap_or_else(|| json!({}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Letro service API",
            "version": version,
            "description": "The Letro proof-of-delivery service beside the relay: the delivery \
                log, signed checkpoints, receipts, proof jobs, the prekey directory and the \
                mailbox. Every refusal is an ErrorBody with a stable code (service/API.md). \
                Which role may call what: service/ACCESS.md and each operation's x-letro-roles.",
            "license": {"name": "Apache-2.0 OR MIT", "identifier": "Apache-2.0 OR MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token issued by `letro token issue` or POST /v1/admin/tokens.",
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in the document points at a schema it defines.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        if let Some(s) = x.as_str() {
                            out.push(s.to_owned());
                        }
                    }
                    refs(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_route_and_code_is_described() {
        let doc = document("0");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in &all {
            let name = r.strip_prefix("#/components/schemas/").expect(r);
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r}");
        }
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], r.operation_id);
            for code in r.errors() {
                let answer = &op["responses"][code.status().to_string()];
                let text = answer["description"].as_str().unwrap_or_default();
                assert!(text.contains(code.as_str()), "{} {code:?}", r.path);
            }
        }
        let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        let listed: Vec<&str> = codes
            .as_array()
            .expect("ErrorCode is an enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
        // Typed query parameters.
        let q = &doc["paths"]["/v1/log/consistency"]["get"]["parameters"];
        assert_eq!(q[0]["name"], "old");
        assert_eq!(q[0]["in"], "query");
        assert_eq!(q[0]["schema"]["type"], "integer");
        let p = &doc["paths"]["/v1/log/leaves/{index}/inclusion"]["get"]["parameters"];
        assert_eq!(p[0]["schema"]["type"], "integer");
        assert_eq!(p[1]["name"], "size");
        assert_eq!(p[1]["required"], false);
    }
}

//! The OpenAPI 3.1 document served at `GET /openapi.json`, built from the router's own list of
//! routes ([`crate::api::routes`]), so that it names exactly the routes that exist.

use serde_json::{json, Map, Value};

use crate::api::RouteInfo;

/// Every stable error code of the API (`ApiError::code`), for the error schema.
pub const ERROR_CODES: [&str; 20] = [
    "invalid_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "not_delivered",
    "not_published",
    "not_submitted",
    "not_provable",
    "payload_too_large",
    "invalid_receipt",
    "invalid_certificate",
    "uncertified_receipt_key",
    "outside_window",
    "callback_refused",
    "clock_skew",
    "too_many_jobs",
    "internal",
    "timeout",
    "log_full",
];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

fn operation(r: &RouteInfo) -> Value {
    let params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": {"type": "string"},
            })
        })
        .collect();
    let mut responses = Map::new();
    responses.insert(
        r.status.to_string(),
        json!({
            "description": "success",
            "content": {r.content_type: {}},
        }),
    );
    let security = if r.roles.is_empty() {
        json!([])
    } else {
        responses.insert(
            "401".into(),
            error_response("no bearer token, or an unknown or expired one"),
        );
        responses.insert(
            "403".into(),
            error_response("the token's role may not call this endpoint"),
        );
        json!([{"bearer": []}])
    };
    responses.insert(
        "default".into(),
        error_response("an error; the code is stable (see API.md)"),
    );
    let roles: Vec<&str> = r.roles.iter().map(|role| role.as_str()).collect();
    let mut op = json!({
        "operationId": format!("{} {}", r.method, r.path),
        "summary": r.summary,
        "security": security,
        "x-letro-roles": roles,
        "responses": responses,
    });
    if !params.is_empty() {
        if let Some(o) = op.as_object_mut() {
            o.insert("parameters".into(), Value::Array(params));
        }
    }
    op
}

/// The OpenAPI 3.1 document for these routes.
pub fn document(routes: &[RouteInfo]) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let item = paths
            .entry(r.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(item) = item.as_object_mut() {
            item.insert(r.method.to_ascii_lowercase(), operation(r));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "letro-service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Letro delivery log, checkpoints, receipts and proof jobs. \
                Request and response bodies are described in service/API.md; who may call \
                what in service/ACCESS.md (x-letro-roles: the roles allowed; empty means open).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "additionalProperties": false,
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "additionalProperties": false,
                            "properties": {
                                "code": {"type": "string", "enum": ERROR_CODES},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    })
}

//! What the console shows of a role, produced by the server itself: "see as this role" (a
//! table read through the real request pipeline as the role, optionally as one of its users),
//! the role's pruned OpenAPI document, and a role filter checked by the server's own parser
//! while the admin types it. All for sys-admins only.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::body::{int_field, one_record, param, query, str_field};
use super::{data, docs};
use crate::auth::Principal;
use crate::filter::FilterError;
use crate::http::error::ApiError;
use crate::http::guard::SysAdmin;
use crate::request::RawRequest;
use crate::state::AppState;
use crate::system::{roles, services as service_store, users};

/// `GET /api/v2/system/role/{id}/preview/{service}/{table}[?as_user=ID&filter=…&limit=…]`:
/// the table exactly as the role reads it — the same pipeline as a REST call (authorization,
/// field rules, row filter, lookups), read-only whatever the role grants. `as_user` supplies
/// the `{user.*}` lookups of one of the role's users.
pub async fn preview(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(i64, String, String)>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let (role_id, service, table) = path.into_inner();
    roles::get(&state.store, role_id).await?;
    let mut q = query(&req);
    let user = match param(&q, "as_user").filter(|u| !u.is_empty()) {
        None => None,
        Some(raw) => {
            let id = raw.parse::<i64>().map_err(|_| {
                ApiError::bad_request("Parameter 'as_user' must be a user's numeric id.")
            })?;
            Some(Arc::new(users::get_user(&state.store, id).await?))
        }
    };
    q.retain(|(k, _)| k != "as_user");
    let raw = RawRequest {
        method: "GET".into(),
        resource_path: format!("_table/{table}"),
        query: q,
        method_override: None,
        body: None,
    };
    let principal = Principal::previewing(role_id, user);
    data::serve(&state, &req, &service, &raw, &principal, true).await
}

/// `GET /api/v2/system/role/{id}/openapi`: the OpenAPI document a caller with this role gets
/// at `/api/docs/openapi.json`.
pub async fn openapi(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    roles::get(&state.store, *id).await?;
    let role = state.compiled_role(*id).await?;
    Ok(HttpResponse::Ok().json(docs::document_for(&state, role.as_deref()).await?))
}

/// `POST /api/v2/system/filter` with `{"filter": text[, "service_id": n, "table": name]}`:
/// whether the filter parses (and, given a table, names only its columns). A bad filter is an
/// answer here, not an error: `{"valid": false, "message", "position", "hint"}`.
pub async fn check_filter(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let m = one_record(&body)?;
    let text = str_field(&m, "filter")?.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(HttpResponse::Ok().json(json!({"valid": true, "fields": []})));
    }
    let expr = match crate::filter::parse(&text, &data::parse_limits(&state).filter) {
        Ok(e) => e,
        Err(e) => return Ok(HttpResponse::Ok().json(invalid(&e))),
    };
    let fields: Vec<&crate::filter::Field> = expr.fields().collect();
    if let (Some(service_id), Some(table)) = (int_field(&m, "service_id")?, str_field(&m, "table")?)
    {
        let record = service_store::get(&state.store, service_id).await?;
        if !record.is_database() {
            return Err(ApiError::bad_request(format!(
                "Service '{}' is not a database: it has no tables.",
                record.name
            )));
        }
        let handle = state
            .services
            .get(&record, &state.master_key, &state.config.limits)
            .await?;
        let schema = handle.schema();
        if let Some(t) = schema.table(&table)
            && let Some(f) = fields.iter().find(|f| t.column(&f.name).is_none())
        {
            return Ok(HttpResponse::Ok().json(json!({
                "valid": false,
                "message": format!("Table '{table}' has no column '{}'.", f.name),
                "position": f.span.start,
                "hint": Value::Null,
            })));
        }
    }
    let mut names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    names.dedup();
    Ok(HttpResponse::Ok().json(json!({"valid": true, "fields": names})))
}

fn invalid(e: &FilterError) -> Value {
    json!({
        "valid": false,
        "message": e.message,
        "position": e.position,
        "hint": e.hint,
    })
}

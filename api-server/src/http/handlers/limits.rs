//! `/api/v2/system/limit`: rate limits (DreamFactory's fields; `period` as its name, e.g.
//! `"minute"`, or its number). A change holds on the next request of every node.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{
    bool_field, created, list_response, one_record, opt_int_field, opt_str_field, query, records,
    select_fields, str_field,
};
use crate::http::error::ApiError;
use crate::http::guard::SysAdmin;
use crate::limits;
use crate::state::AppState;
use crate::system::SystemError;
use crate::system::limits::{self as store, LimitFields, LimitRecord};

/// A limit as the API shows it.
pub(crate) fn limit_json(l: &LimitRecord) -> Value {
    let mut v = serde_json::to_value(l).unwrap_or(Value::Null);
    v["period"] = json!(limits::period_name(l.period));
    v
}

fn fields(m: &Map<String, Value>) -> Result<LimitFields, ApiError> {
    let period = match m.get("period") {
        None | Some(Value::Null) => None,
        Some(v) => Some(limits::period_of(v).ok_or_else(|| {
            ApiError::bad_request(
                "Field 'period' must be one of minute, hour, day, 7-day, 30-day (or 0-4).",
            )
        })?),
    };
    let rate = match m.get("rate") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    ApiError::bad_request("Field 'rate' must be a positive whole number.")
                })?,
        ),
    };
    Ok(LimitFields {
        kind: str_field(m, "type")?,
        name: str_field(m, "name")?,
        description: opt_str_field(m, "description")?,
        rate,
        period,
        user_id: opt_int_field(m, "user_id")?,
        role_id: opt_int_field(m, "role_id")?,
        app_id: opt_int_field(m, "app_id")?,
        service_id: opt_int_field(m, "service_id")?,
        endpoint: opt_str_field(m, "endpoint")?,
        verb: opt_str_field(m, "verb")?.map(|v| v.map(|v| v.to_ascii_uppercase())),
        is_active: bool_field(m, "is_active")?,
    })
}

/// The limit `f` would make of `base` (or of nothing), checked.
fn checked(base: Option<&LimitRecord>, f: &LimitFields) -> Result<(), ApiError> {
    let mut l = base.cloned().unwrap_or_else(|| LimitRecord {
        rate: 0,
        ..LimitRecord::blank("")
    });
    if let Some(v) = &f.kind {
        l.kind.clone_from(v);
    }
    if let Some(v) = &f.name {
        l.name.clone_from(v);
    }
    if let Some(v) = f.rate {
        l.rate = v;
    }
    for (slot, v) in [
        (&mut l.user_id, f.user_id),
        (&mut l.role_id, f.role_id),
        (&mut l.app_id, f.app_id),
        (&mut l.service_id, f.service_id),
    ] {
        if let Some(v) = v {
            *slot = v;
        }
    }
    if let Some(v) = &f.endpoint {
        l.endpoint.clone_from(v);
    }
    if let Some(v) = &f.verb {
        l.verb.clone_from(v);
    }
    if l.name.trim().is_empty() {
        return Err(ApiError::bad_request("Field 'name' can not be NULL."));
    }
    limits::validate(&l).map_err(ApiError::bad_request)
}

fn duplicate(e: SystemError) -> ApiError {
    match e {
        SystemError::Duplicate(_) => {
            ApiError::bad_request("A limit with this name already exists.")
        }
        other => other.into(),
    }
}

/// `GET /api/v2/system/limit`
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        store::list(&state.store)
            .await?
            .iter()
            .map(limit_json)
            .collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/limit/{id}`
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        limit_json(&store::get(&state.store, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/limit`
pub async fn create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let list = records(&body)?;
    let mut prepared = Vec::new();
    for m in &list {
        let f = fields(m)?;
        checked(None, &f)?;
        prepared.push(f);
    }
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for f in &prepared {
        ids.push(json!({"id": store::create(&mut tx, f).await.map_err(duplicate)?}));
    }
    tx.commit().await?;
    state.changed().await;
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/limit/{id}`
pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let existing = store::get(&state.store, id).await?;
    let f = fields(&one_record(&body)?)?;
    checked(Some(&existing), &f)?;
    let mut tx = state.store.begin().await?;
    store::update(&mut tx, id, &f).await.map_err(duplicate)?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/limit/{id}`
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let mut tx = state.store.begin().await?;
    store::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

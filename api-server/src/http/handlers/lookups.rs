//! `/api/v2/system/lookup`: global lookups (DreamFactory's "global lookup keys"), the values a
//! row filter names as `{name}` for every role; a role's and a user's own override them. A
//! private one's value is never returned (and, as everywhere, never reaches a filter).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::body::{created, list_response, one_record, query, records, select_fields};
use super::system::lookup_fields;
use crate::http::error::ApiError;
use crate::http::guard::SysAdmin;
use crate::state::AppState;
use crate::system::lookups::{self, LookupRecord, Owner};

pub(crate) fn lookup_json(l: &LookupRecord) -> Value {
    let l = l.public();
    json!({"id": l.id, "name": l.name, "value": l.value, "private": l.private, "description": l.description})
}

/// `GET /api/v2/system/lookup`
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        lookups::global(&state.store)
            .await?
            .iter()
            .map(lookup_json)
            .collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/lookup/{id}`
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        lookup_json(&lookups::get_in(&state.store, Owner::Global, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/lookup`: all or nothing.
pub async fn create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let prepared = records(&body)?
        .iter()
        .map(lookup_fields)
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for f in &prepared {
        ids.push(json!({"id": lookups::add(&mut tx, Owner::Global, f).await?}));
    }
    tx.commit().await?;
    state.changed().await;
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/lookup/{id}` (a private value sent back as read is kept).
pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let f = lookup_fields(&one_record(&body)?)?;
    let mut tx = state.store.begin().await?;
    lookups::update_in(&mut tx, Owner::Global, id, &f).await?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/lookup/{id}`
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let mut tx = state.store.begin().await?;
    lookups::delete_in(&mut tx, Owner::Global, id).await?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

//! The system API's simple resources — records with an id, read whole and written from checked
//! fields (CORS entries, rate limits, global lookups) — served by one set of handlers:
//! `GET /system/{name}` (list, with `fields`, `limit` and `offset` as elsewhere),
//! `POST /system/{name}` (all or nothing), and `GET`, `PATCH|PUT`, `DELETE` on
//! `/system/{name}/{id}`. Each change empties the caches of every node.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{created, list_response, one_record, query, records, select_fields};
use crate::http::error::ApiError;
use crate::http::guard::SysAdmin;
use crate::state::AppState;
use crate::system::{Store, SystemError, Tx};

/// What a simple resource is: how its records are stored, shown and checked.
pub(crate) trait Resource: 'static {
    type Record;
    type Fields;
    /// The message for a duplicate (a unique name taken).
    const DUPLICATE: &'static str;
    /// The record as the API shows it (never a secret).
    fn json(record: &Self::Record) -> Value;
    /// The checked fields a body makes of `existing` (an update) or of the defaults.
    fn fields(
        existing: Option<&Self::Record>,
        m: &Map<String, Value>,
    ) -> Result<Self::Fields, ApiError>;
    async fn list(store: &Store) -> Result<Vec<Self::Record>, SystemError>;
    async fn get(store: &Store, id: i64) -> Result<Self::Record, SystemError>;
    async fn create(tx: &mut Tx, f: &Self::Fields) -> Result<i64, SystemError>;
    async fn update(tx: &mut Tx, id: i64, f: &Self::Fields) -> Result<(), SystemError>;
    async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError>;
}

fn duplicate<R: Resource>(e: SystemError) -> ApiError {
    match e {
        SystemError::Duplicate(_) => ApiError::bad_request(R::DUPLICATE),
        other => other.into(),
    }
}

/// `GET /api/v2/system/{name}`
pub(crate) async fn list<R: Resource>(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        R::list(&state.store).await?.iter().map(R::json).collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/{name}/{id}`
pub(crate) async fn get<R: Resource>(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        R::json(&R::get(&state.store, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/{name}`: every record checked before any is written.
pub(crate) async fn create<R: Resource>(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let prepared = records(&body)?
        .iter()
        .map(|m| R::fields(None, m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for f in &prepared {
        ids.push(json!({"id": R::create(&mut tx, f).await.map_err(duplicate::<R>)?}));
    }
    tx.commit().await?;
    state.changed().await;
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/{name}/{id}`
pub(crate) async fn update<R: Resource>(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let existing = R::get(&state.store, id).await?;
    let f = R::fields(Some(&existing), &one_record(&body)?)?;
    let mut tx = state.store.begin().await?;
    R::update(&mut tx, id, &f).await.map_err(duplicate::<R>)?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/{name}/{id}`
pub(crate) async fn delete<R: Resource>(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let mut tx = state.store.begin().await?;
    R::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// Registers `/{name}` and `/{name}/{id}` in the system scope.
pub(crate) fn register<R: Resource>(cfg: &mut web::ServiceConfig, name: &str) {
    let not_allowed = || web::to(super::system::not_allowed);
    cfg.service(
        web::resource(format!("/{name}"))
            .route(web::get().to(list::<R>))
            .route(web::post().to(create::<R>))
            .default_service(not_allowed()),
    )
    .service(
        web::resource(format!("/{name}/{{id}}"))
            .route(web::get().to(get::<R>))
            .route(web::patch().to(update::<R>))
            .route(web::put().to(update::<R>))
            .route(web::delete().to(delete::<R>))
            .default_service(not_allowed()),
    );
}

//! `/api/v2/system/cors`: which browser origins may call which paths (DreamFactory's fields;
//! `method` as a list of verbs, or one comma-separated string). A change holds on the next
//! request of every node.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{
    bool_field, created, int_field, list_response, one_record, opt_str_field, query, records,
    select_fields, str_field,
};
use crate::http::error::ApiError;
use crate::http::guard::SysAdmin;
use crate::state::AppState;
use crate::system::cors::{self as store, CorsFields, CorsRecord};

/// An entry as the API shows it.
pub(crate) fn cors_json(c: &CorsRecord) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    v["method"] = serde_json::from_str(&c.method).unwrap_or_else(|_| json!([]));
    v
}

fn methods(value: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad_request("Field 'method' must be a list of verbs, e.g. [\"GET\"].");
    let names: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        Value::String(s) => s.split(',').map(str::to_owned).collect(),
        _ => return Err(bad()),
    };
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim().to_ascii_uppercase();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// The entry `m` makes of `base` (or of the defaults), checked.
fn fields(base: Option<&CorsRecord>, m: &Map<String, Value>) -> Result<CorsFields, ApiError> {
    let mut f = match base {
        Some(b) => CorsFields {
            path: b.path.clone(),
            description: b.description.clone(),
            origin: b.origin.clone(),
            header: b.header.clone(),
            exposed_header: b.exposed_header.clone(),
            max_age: b.max_age,
            methods: serde_json::from_str(&b.method).unwrap_or_default(),
            supports_credentials: b.supports_credentials,
            enabled: b.enabled,
        },
        None => CorsFields {
            path: String::new(),
            description: None,
            origin: String::new(),
            header: String::new(),
            exposed_header: String::new(),
            max_age: 0,
            methods: crate::cors::METHODS
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            supports_credentials: false,
            enabled: true,
        },
    };
    if let Some(v) = str_field(m, "path")? {
        f.path = v.trim().to_owned();
    }
    if let Some(v) = opt_str_field(m, "description")? {
        f.description = v;
    }
    if let Some(v) = str_field(m, "origin")? {
        f.origin = v;
    }
    if let Some(v) = str_field(m, "header")? {
        f.header = v;
    }
    if let Some(v) = str_field(m, "exposed_header")? {
        f.exposed_header = v;
    }
    if let Some(v) = int_field(m, "max_age")? {
        f.max_age = v;
    }
    if let Some(v) = m.get("method").filter(|v| !v.is_null()) {
        f.methods = methods(v)?;
    }
    if let Some(v) = bool_field(m, "supports_credentials")? {
        f.supports_credentials = v;
    }
    if let Some(v) = bool_field(m, "enabled")? {
        f.enabled = v;
    }
    crate::cors::validate(&f).map_err(ApiError::bad_request)?;
    Ok(f)
}

/// `GET /api/v2/system/cors`
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        store::list(&state.store)
            .await?
            .iter()
            .map(cors_json)
            .collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/cors/{id}`
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        cors_json(&store::get(&state.store, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/cors`
pub async fn create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let prepared = records(&body)?
        .iter()
        .map(|m| fields(None, m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for f in &prepared {
        ids.push(json!({"id": store::create(&mut tx, f).await?}));
    }
    tx.commit().await?;
    state.changed().await;
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/cors/{id}`
pub async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let existing = store::get(&state.store, id).await?;
    let f = fields(Some(&existing), &one_record(&body)?)?;
    let mut tx = state.store.begin().await?;
    store::update(&mut tx, id, &f).await?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/cors/{id}`
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

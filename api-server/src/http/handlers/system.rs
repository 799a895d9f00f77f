//! The system API (`/api/v2/system/*`) in DreamFactory's shapes: `resource` envelopes in and
//! out, 201 on create with the new ids, bare records by id. Every route but the admin session
//! and `environment` needs a sys-admin session (the `SysAdmin` extractor).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use crate::auth::{password, session::SessionKind};
use crate::filter;
use crate::http::error::{ApiError, ErrorKind};
use crate::http::guard::{Caller, SysAdmin, credentials};
use crate::services;
use crate::state::AppState;
use crate::system::apps::{self, AppFields, AppRecord};
use crate::system::lookups::{self, LookupFields};
use crate::system::roles::{self, AccessFields, AccessRecord, RoleFields, RoleRecord};
use crate::system::services::{self as service_store, ServiceFields, ServiceRecord};
use crate::system::users::{self, NewUser, UserChanges, UserRecord};
use crate::system::{Store, SystemError};

/// Minimum length of an admin password.
pub const MIN_PASSWORD_LENGTH: usize = 12;

// ---------------------------------------------------------------- request helpers

/// The records of a write body: an array, `{"resource":[…]}`, or one object.
fn records(body: &[u8]) -> Result<Vec<Map<String, Value>>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("resource") {
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`resource` must be an array of records.",
                ));
            }
            None => vec![Value::Object(map)],
        },
        _ => return Err(ApiError::bad_request("No record(s) detected in request.")),
    };
    if list.is_empty() {
        return Err(ApiError::bad_request("No record(s) detected in request."));
    }
    list.into_iter()
        .map(|v| match v {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::bad_request("Each record must be a JSON object.")),
        })
        .collect()
}

fn one_record(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut list = records(body)?;
    if list.len() != 1 {
        return Err(ApiError::bad_request("Send exactly one record."));
    }
    Ok(list.remove(0))
}

fn query(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn flag(q: &[(String, String)], name: &str) -> bool {
    param(q, name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "" | "true" | "1" | "yes"))
}

fn str_field(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be a string."
        ))),
    }
}

/// `Some(None)` when the key is present with null (clear it), `None` when absent.
fn opt_str_field(m: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be a string."
        ))),
    }
}

fn bool_field(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be true or false."
        ))),
    }
}

fn int_field(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Field '{key}' must be an integer."))),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Field '{key}' must be an integer."))),
        Some(_) => Err(ApiError::bad_request(format!(
            "Field '{key}' must be an integer."
        ))),
    }
}

/// `Some(None)` for an explicit null.
fn opt_int_field(m: &Map<String, Value>, key: &str) -> Result<Option<Option<i64>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => int_field(m, key).map(Some),
    }
}

/// Keeps only the keys asked for in `fields` (absent or `*`: all).
fn select_fields(record: Value, q: &[(String, String)]) -> Value {
    let Some(fields) = param(q, "fields").filter(|f| !f.trim().is_empty() && f.trim() != "*")
    else {
        return record;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    match record {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| wanted.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

/// A DreamFactory list response with `ids`, `limit`, `offset`, `fields` and `include_count`.
fn list_response(records: Vec<Value>, q: &[(String, String)]) -> Result<HttpResponse, ApiError> {
    let ids: Option<Vec<String>> =
        param(q, "ids").map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    let filtered: Vec<Value> = match &ids {
        Some(ids) => records
            .into_iter()
            .filter(|r| r.get("id").is_some_and(|id| ids.contains(&id.to_string())))
            .collect(),
        None => records,
    };
    let filtered = match param(q, "filter").filter(|f| !f.trim().is_empty()) {
        Some(text) => {
            let expr = filter::parse(text, &filter::Limits::default()).map_err(|e| {
                ApiError::bad_request(format!("Invalid or unparsable filter request: {e}"))
            })?;
            let mut kept = Vec::new();
            for r in filtered {
                if filter::eval::matches(&expr, &r).map_err(ApiError::bad_request)? {
                    kept.push(r);
                }
            }
            kept
        }
        None => filtered,
    };
    let total = filtered.len();
    let parse_n = |name: &str| -> Result<Option<usize>, ApiError> {
        param(q, name)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::bad_request(format!("Invalid value for parameter '{name}'."))
                })
            })
            .transpose()
    };
    let offset = parse_n("offset")?.unwrap_or(0);
    let limit = parse_n("limit")?.filter(|l| *l > 0).unwrap_or(usize::MAX);
    let page: Vec<Value> = filtered
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| select_fields(r, q))
        .collect();
    let mut body = json!({"resource": page});
    if flag(q, "include_count") {
        body["meta"] = json!({"count": total});
    }
    Ok(HttpResponse::Ok().json(body))
}

fn created(ids: Vec<Value>) -> HttpResponse {
    HttpResponse::Created().json(json!({"resource": ids}))
}

// ---------------------------------------------------------------- environment and sessions

/// `GET /api/v2/system/environment`: public platform facts the console reads before login.
pub async fn environment() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "platform": {"version": env!("CARGO_PKG_VERSION"), "license": "OPEN SOURCE", "product": "Rampart"},
        "authentication": {"allow_open_registration": false, "login_attribute": "email", "adldap": [], "oauth": [], "saml": []},
    }))
}

fn session_body(state: &AppState, user: &UserRecord, token: &str, expires: i64) -> Value {
    let expiry = chrono::DateTime::from_timestamp(expires, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string());
    json!({
        "session_token": token,
        "session_id": token,
        "id": user.id,
        "name": user.name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_sys_admin": user.is_sys_admin,
        "last_login_date": user.last_login_date.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string()),
        "host": state.config.listen,
        "token_expiry_date": expiry,
    })
}

/// `POST /api/v2/system/admin/session`: sign in with e-mail and password.
pub async fn admin_login(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let m = one_record(&body)?;
    let email = str_field(&m, "email")?.unwrap_or_default();
    let given = str_field(&m, "password")?.unwrap_or_default();
    if email.is_empty() || given.is_empty() {
        return Err(ApiError::bad_request(
            "Login request is missing required email and password.",
        ));
    }
    let user = users::find_by_email(&state.store, &email)
        .await?
        .filter(|u| u.is_sys_admin);
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, stored.as_deref()))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok && u.is_active => u,
        Some(u) if ok && !u.is_active => return Err(crate::auth::AuthError::Disabled.into()),
        _ => return Err(crate::auth::AuthError::BadLogin.into()),
    };
    let mut tx = state.store.begin().await?;
    users::touch_login(&mut tx, user.id).await?;
    tx.commit().await?;
    let (token, expires) = state.sessions.issue(user.id, SessionKind::Admin)?;
    Ok(HttpResponse::Ok().json(session_body(&state, &user, &token, expires)))
}

/// `GET /api/v2/system/admin/session`: the current admin session (404 without one, as
/// DreamFactory's console expects).
pub async fn admin_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let user = caller
        .principal
        .as_ref()
        .and_then(|p| p.user.clone())
        .filter(|u| u.is_sys_admin)
        .ok_or_else(|| ApiError::not_found("No admin session."))?;
    let token = credentials(&req).session_token.unwrap_or_default();
    let claims = state.sessions.verify(&token)?;
    Ok(HttpResponse::Ok().json(session_body(&state, &user, &token, claims.exp)))
}

/// `DELETE /api/v2/system/admin/session`: logout; the token is revoked.
pub async fn admin_logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    _admin: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let token = credentials(&req).session_token.unwrap_or_default();
    let claims = state.sessions.verify(&token)?;
    state.revoke(&claims.jti, claims.exp).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

// ---------------------------------------------------------------- admins

fn admin_json(u: &UserRecord) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

fn check_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(ApiError::bad_request(format!(
            "The password must be at least {MIN_PASSWORD_LENGTH} characters long."
        )));
    }
    Ok(())
}

async fn hash_password(p: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&p))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|_| ApiError::new(ErrorKind::Internal, "password hashing failed"))
}

/// Creates an admin (used by the API, the CLI and first-start bootstrap).
pub async fn create_admin(
    store: &Store,
    email: &str,
    password_plain: &str,
    name: Option<String>,
) -> Result<i64, ApiError> {
    if !email.contains('@') {
        return Err(ApiError::bad_request(
            "Field 'email' must be an e-mail address.",
        ));
    }
    check_password(password_plain)?;
    let hash = hash_password(password_plain.to_owned()).await?;
    let mut tx = store.begin().await?;
    let id = users::create(
        &mut tx,
        &NewUser {
            email: email.to_owned(),
            name,
            password_hash: Some(hash),
            is_sys_admin: true,
            is_active: true,
            ..NewUser::default()
        },
    )
    .await
    .map_err(|e| match e {
        SystemError::Duplicate(_) => {
            ApiError::bad_request(format!("A user with e-mail '{email}' already exists."))
        }
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok(id)
}

/// `GET /api/v2/system/admin`
pub async fn admin_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        users::list_admins(&state.store)
            .await?
            .iter()
            .map(admin_json)
            .collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/admin/{id}`
pub async fn admin_get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        admin_json(&users::get_admin(&state.store, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/admin`
pub async fn admin_create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let mut ids = Vec::new();
    for m in records(&body)? {
        let email = str_field(&m, "email")?
            .ok_or_else(|| ApiError::bad_request("Field 'email' can not be NULL."))?;
        let pw = str_field(&m, "password")?
            .ok_or_else(|| ApiError::bad_request("Field 'password' can not be NULL."))?;
        let id = create_admin(&state.store, &email, &pw, str_field(&m, "name")?).await?;
        ids.push(json!({"id": id}));
    }
    state.invalidate();
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/admin/{id}`
pub async fn admin_update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    users::get_admin(&state.store, id).await?;
    let m = one_record(&body)?;
    let password_hash = match str_field(&m, "password")? {
        Some(p) => {
            check_password(&p)?;
            Some(hash_password(p).await?)
        }
        None => None,
    };
    let changes = UserChanges {
        email: str_field(&m, "email")?,
        name: str_field(&m, "name")?,
        first_name: opt_str_field(&m, "first_name")?,
        last_name: opt_str_field(&m, "last_name")?,
        phone: opt_str_field(&m, "phone")?,
        password_hash,
        is_active: bool_field(&m, "is_active")?,
    };
    let mut tx = state.store.begin().await?;
    users::update(&mut tx, id, &changes).await?;
    tx.commit().await?;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/admin/{id}`; the last active admin cannot be deleted.
pub async fn admin_delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    admin: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    users::get_admin(&state.store, id).await?;
    if admin.0.user.as_ref().is_some_and(|u| u.id == id) {
        return Err(ApiError::bad_request(
            "You cannot delete your own admin account.",
        ));
    }
    let mut tx = state.store.begin().await?;
    users::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

// ---------------------------------------------------------------- services

fn service_json(s: &ServiceRecord) -> Value {
    json!({
        "id": s.id, "name": s.name, "label": s.label, "description": s.description,
        "is_active": s.is_active, "type": s.kind, "config": s.public_config(),
    })
}

/// Reserved service names (system paths).
const RESERVED: &[&str] = &[
    "system", "user", "api_docs", "docs", "admin", "mcp", "health", "ready", "metrics",
];

fn check_service_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !RESERVED.contains(&name.to_ascii_lowercase().as_str());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid service name '{name}': use up to 40 letters, digits, '_' or '-', and not a reserved name ({}).",
            RESERVED.join(", ")
        )))
    }
}

fn check_service_type(kind: &str) -> Result<(), ApiError> {
    if kind == "pgsql" || crate::identity::PROVIDER_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Service type '{kind}' is not supported; use 'pgsql' or 'jwt'."
        )))
    }
}

/// A service's config, checked and sealed: a database is connected to, an identity
/// provider's settings are validated and its keys read.
async fn tested_config(
    state: &AppState,
    kind: &str,
    config: Map<String, Value>,
    previous: Option<&ServiceRecord>,
) -> Result<String, ApiError> {
    let previous_map = previous.map(ServiceRecord::config_map);
    if kind == "jwt" {
        let settings =
            crate::identity::jwt::JwtSettings::from_config(&config, &state.config.jwt_issuer)
                .map_err(ApiError::bad_request)?;
        crate::identity::mapping::RoleMapping::from_config(&config)
            .map_err(ApiError::bad_request)?;
        crate::identity::jwt::JwtProvider::check_keys(&settings)
            .await
            .map_err(ApiError::bad_request)?;
        return Ok(service_store::seal_config(
            &state.master_key,
            config,
            previous_map.as_ref(),
        ));
    }
    let sealed = service_store::seal_config(&state.master_key, config, previous_map.as_ref());
    let probe = ServiceRecord {
        id: 0,
        name: String::new(),
        label: String::new(),
        description: None,
        is_active: true,
        kind: "pgsql".into(),
        config: sealed.clone(),
    };
    let plain = probe.decrypted_config(&state.master_key)?;
    services::test_connection(&plain, &state.config.limits)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(sealed)
}

fn config_field(m: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match m.get("config") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(c)) => Ok(Some(c.clone())),
        Some(_) => Err(ApiError::bad_request("Field 'config' must be an object.")),
    }
}

/// `GET /api/v2/system/service`
pub async fn service_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        service_store::list(&state.store)
            .await?
            .iter()
            .map(service_json)
            .collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/service/{id}`
pub async fn service_get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        service_json(&service_store::get(&state.store, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/service`: the connection is tested before anything is stored.
pub async fn service_create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let mut prepared = Vec::new();
    for m in records(&body)? {
        let name = str_field(&m, "name")?
            .ok_or_else(|| ApiError::bad_request("Field 'name' can not be NULL."))?;
        check_service_name(&name)?;
        let kind = str_field(&m, "type")?
            .ok_or_else(|| ApiError::bad_request("Field 'type' can not be NULL."))?;
        check_service_type(&kind)?;
        let config = config_field(&m)?
            .ok_or_else(|| ApiError::bad_request("Field 'config' can not be NULL."))?;
        let sealed = tested_config(&state, &kind, config, None).await?;
        prepared.push(ServiceFields {
            name: Some(name),
            label: str_field(&m, "label")?,
            description: opt_str_field(&m, "description")?,
            is_active: bool_field(&m, "is_active")?,
            kind: Some(kind),
            config: Some(sealed),
        });
    }
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for f in &prepared {
        let id = service_store::create(&mut tx, f)
            .await
            .map_err(|e| match e {
                SystemError::Duplicate(_) => ApiError::bad_request(format!(
                    "A service named '{}' already exists.",
                    f.name.clone().unwrap_or_default()
                )),
                other => other.into(),
            })?;
        ids.push(json!({"id": id}));
    }
    tx.commit().await?;
    state.invalidate();
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/service/{id}`
pub async fn service_update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let existing = service_store::get(&state.store, id).await?;
    let m = one_record(&body)?;
    if let Some(name) = str_field(&m, "name")? {
        check_service_name(&name)?;
    }
    if let Some(kind) = str_field(&m, "type")? {
        check_service_type(&kind)?;
        if kind != existing.kind {
            return Err(ApiError::bad_request(
                "A service's type cannot change; create a new service.",
            ));
        }
    }
    let config = match config_field(&m)? {
        Some(c) => Some(tested_config(&state, &existing.kind, c, Some(&existing)).await?),
        None => None,
    };
    let fields = ServiceFields {
        name: str_field(&m, "name")?,
        label: str_field(&m, "label")?,
        description: opt_str_field(&m, "description")?,
        is_active: bool_field(&m, "is_active")?,
        kind: None,
        config,
    };
    let mut tx = state.store.begin().await?;
    service_store::update(&mut tx, id, &fields).await?;
    tx.commit().await?;
    state.services.evict(id).await;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/service/{id}`
pub async fn service_delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let mut tx = state.store.begin().await?;
    service_store::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.services.evict(id).await;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

// ---------------------------------------------------------------- roles

fn access_json(a: &AccessRecord) -> Value {
    json!({
        "id": a.id, "role_id": a.role_id, "service_id": a.service_id, "component": a.component,
        "verb_mask": a.verb_mask, "requestor_mask": a.requestor_mask,
        "filters": serde_json::from_str::<Value>(&a.filters).unwrap_or(json!([])),
        "filter_op": a.filter_op,
        "field_rules": serde_json::from_str::<Value>(&a.field_rules).unwrap_or(json!({})),
    })
}

async fn role_json(store: &Store, r: &RoleRecord, related: &[&str]) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    let all = related.contains(&"*");
    if all || related.contains(&"role_service_access_by_role_id") {
        v["role_service_access_by_role_id"] = Value::Array(
            roles::access_of(store, r.id)
                .await?
                .iter()
                .map(access_json)
                .collect(),
        );
    }
    if all || related.contains(&"lookup_by_role_id") {
        v["lookup_by_role_id"] = json!(
            lookups::of_role(store, r.id)
                .await?
                .iter()
                .map(lookups::LookupRecord::public)
                .collect::<Vec<_>>()
        );
    }
    Ok(v)
}

fn related_of(q: &[(String, String)]) -> Vec<&str> {
    param(q, "related")
        .map(|r| r.split(',').map(str::trim).collect())
        .unwrap_or_default()
}

/// Validates one access row of a role body.
fn access_fields(m: &Map<String, Value>) -> Result<AccessFields, ApiError> {
    let verb_mask = int_field(m, "verb_mask")?.unwrap_or(0);
    if !(0..=1023).contains(&verb_mask) {
        return Err(ApiError::bad_request(
            "Field 'verb_mask' must be between 0 and 1023 (GET 1, POST 2, PUT 4, PATCH 8, DELETE 16).",
        ));
    }
    let requestor_mask = int_field(m, "requestor_mask")?.unwrap_or(1);
    if !(1..=3).contains(&requestor_mask) {
        return Err(ApiError::bad_request(
            "Field 'requestor_mask' must be 1 (API), 2 (SCRIPT) or 3 (both).",
        ));
    }
    let filter_op = str_field(m, "filter_op")?
        .unwrap_or_else(|| "AND".into())
        .to_ascii_uppercase();
    if filter_op != "AND" && filter_op != "OR" {
        return Err(ApiError::bad_request(
            "Field 'filter_op' must be AND or OR.",
        ));
    }
    let filters = match m.get("filters") {
        None | Some(Value::Null) => json!([]),
        Some(Value::String(s)) if s.trim().is_empty() => json!([]),
        Some(Value::String(s)) => {
            filter::parse(s, &filter::Limits::default())
                .map_err(|e| ApiError::bad_request(format!("Invalid role filter: {e}")))?;
            Value::String(s.clone())
        }
        Some(Value::Array(items)) => {
            let list: Vec<filter::ListFilter> = serde_json::from_value(Value::Array(items.clone()))
                .map_err(|e| ApiError::bad_request(format!("Invalid role filters: {e}")))?;
            if !list.is_empty() {
                let op = if filter_op == "OR" {
                    filter::LogicalOp::Or
                } else {
                    filter::LogicalOp::And
                };
                filter::from_dreamfactory_list(&list, op)
                    .map_err(|e| ApiError::bad_request(format!("Invalid role filters: {e}")))?;
            }
            Value::Array(items.clone())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "Field 'filters' must be a list of filters or a filter string.",
            ));
        }
    };
    let field_rules = match m.get("field_rules") {
        None | Some(Value::Null) => json!({}),
        Some(v) => {
            crate::rbac::fields::parse(v)
                .map_err(|e| ApiError::bad_request(format!("Invalid field_rules: {e}")))?;
            v.clone()
        }
    };
    Ok(AccessFields {
        service_id: int_field(m, "service_id")?,
        component: str_field(m, "component")?.unwrap_or_else(|| "*".into()),
        verb_mask,
        requestor_mask,
        filters: filters.to_string(),
        filter_op,
        field_rules: field_rules.to_string(),
    })
}

fn lookup_fields(m: &Map<String, Value>) -> Result<LookupFields, ApiError> {
    Ok(LookupFields {
        name: str_field(m, "name")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::bad_request("Field 'name' can not be NULL."))?,
        value: match m.get("value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        },
        private: bool_field(m, "private")?.unwrap_or(false),
        description: str_field(m, "description")?,
    })
}

fn children<'a>(
    m: &'a Map<String, Value>,
    key: &str,
) -> Result<Vec<&'a Map<String, Value>>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_object()
                    .ok_or_else(|| ApiError::bad_request(format!("'{key}' must hold objects.")))
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!("'{key}' must be an array."))),
    }
}

/// Applies nested access rows and lookups (DreamFactory's rules: an id updates, no id
/// creates, `role_id: null` deletes).
async fn apply_children(
    tx: &mut crate::system::Tx,
    role_id: i64,
    m: &Map<String, Value>,
) -> Result<(), ApiError> {
    for child in children(m, "role_service_access_by_role_id")? {
        let id = int_field(child, "id")?.filter(|i| *i > 0);
        let detach = child.get("role_id").is_some_and(Value::is_null);
        match (id, detach) {
            (Some(id), true) => roles::delete_access(tx, role_id, id).await?,
            (Some(id), false) => {
                roles::update_access(tx, role_id, id, &access_fields(child)?).await?
            }
            (None, _) => {
                roles::add_access(tx, role_id, &access_fields(child)?).await?;
            }
        }
    }
    for child in children(m, "lookup_by_role_id")? {
        let id = int_field(child, "id")?.filter(|i| *i > 0);
        let detach = child.get("role_id").is_some_and(Value::is_null);
        match (id, detach) {
            (Some(id), true) => lookups::delete_in_role(tx, role_id, id).await?,
            (Some(id), false) => {
                lookups::update_in_role(tx, role_id, id, &lookup_fields(child)?).await?
            }
            (None, _) => {
                lookups::add_to_role(tx, role_id, &lookup_fields(child)?).await?;
            }
        }
    }
    Ok(())
}

fn role_fields(m: &Map<String, Value>) -> Result<RoleFields, ApiError> {
    Ok(RoleFields {
        name: str_field(m, "name")?,
        description: opt_str_field(m, "description")?,
        is_active: bool_field(m, "is_active")?,
    })
}

/// `GET /api/v2/system/role`
pub async fn role_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let q = query(&req);
    let related = related_of(&q);
    let mut out = Vec::new();
    for r in roles::list(&state.store).await? {
        out.push(role_json(&state.store, &r, &related).await?);
    }
    list_response(out, &q)
}

/// `GET /api/v2/system/role/{id}`
pub async fn role_get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let q = query(&req);
    let r = roles::get(&state.store, *id).await?;
    Ok(HttpResponse::Ok().json(select_fields(
        role_json(&state.store, &r, &related_of(&q)).await?,
        &q,
    )))
}

/// `POST /api/v2/system/role`: roles with nested access rows and lookups, in one transaction.
pub async fn role_create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let list = records(&body)?;
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for m in &list {
        let id = roles::create(&mut tx, &role_fields(m)?)
            .await
            .map_err(|e| match e {
                SystemError::Duplicate(_) => {
                    ApiError::bad_request("A role with this name already exists.")
                }
                other => other.into(),
            })?;
        apply_children(&mut tx, id, m).await?;
        ids.push(json!({"id": id}));
    }
    tx.commit().await?;
    state.invalidate();
    Ok(created(ids))
}

/// `PATCH|PUT /api/v2/system/role/{id}`
pub async fn role_update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let m = one_record(&body)?;
    let mut tx = state.store.begin().await?;
    roles::update(&mut tx, id, &role_fields(&m)?).await?;
    apply_children(&mut tx, id, &m).await?;
    tx.commit().await?;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `DELETE /api/v2/system/role/{id}`
pub async fn role_delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let mut tx = state.store.begin().await?;
    roles::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

// ---------------------------------------------------------------- apps

fn app_json(a: &AppRecord) -> Value {
    serde_json::to_value(a).unwrap_or(Value::Null)
}

fn app_fields(m: &Map<String, Value>) -> Result<AppFields, ApiError> {
    Ok(AppFields {
        name: str_field(m, "name")?,
        description: opt_str_field(m, "description")?,
        is_active: bool_field(m, "is_active")?,
        role_id: opt_int_field(m, "role_id")?,
        read_only: bool_field(m, "read_only")?,
    })
}

/// `GET /api/v2/system/app` (keys are never listed: only their hashes are stored).
pub async fn app_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_response(
        apps::list(&state.store)
            .await?
            .iter()
            .map(app_json)
            .collect(),
        &query(&req),
    )
}

/// `GET /api/v2/system/app/{id}`
pub async fn app_get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(select_fields(
        app_json(&apps::get(&state.store, *id).await?),
        &query(&req),
    )))
}

/// `POST /api/v2/system/app`: the response carries each new app's `api_key`, once.
pub async fn app_create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let list = records(&body)?;
    let mut tx = state.store.begin().await?;
    let mut out = Vec::new();
    for m in &list {
        let (id, key) = apps::create(&mut tx, &app_fields(m)?)
            .await
            .map_err(|e| match e {
                SystemError::Duplicate(_) => {
                    ApiError::bad_request("An app with this name already exists.")
                }
                other => other.into(),
            })?;
        out.push(json!({"id": id, "api_key": key}));
    }
    tx.commit().await?;
    state.invalidate();
    Ok(created(out))
}

/// `PATCH|PUT /api/v2/system/app/{id}`; `?regenerate=true` issues a new key.
pub async fn app_update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let q = query(&req);
    apps::get(&state.store, id).await?;
    let mut tx = state.store.begin().await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        apps::update(&mut tx, id, &app_fields(&one_record(&body)?)?).await?;
    }
    let mut out = json!({"id": id});
    if flag(&q, "regenerate") {
        out["api_key"] = json!(apps::regenerate_key(&mut tx, id).await?);
    }
    tx.commit().await?;
    state.invalidate();
    Ok(HttpResponse::Ok().json(out))
}

/// `DELETE /api/v2/system/app/{id}`
pub async fn app_delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let mut tx = state.store.begin().await?;
    apps::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.invalidate();
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// Answers 405 for verbs a system resource does not take.
pub async fn not_allowed(req: HttpRequest) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("{} is not allowed on {}.", req.method(), req.path()),
    )
}

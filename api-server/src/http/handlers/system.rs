//! The system API (`/api/v2/system/*`) in DreamFactory's shapes: `resource` envelopes in and
//! out, 201 on create with the new ids, bare records by id. Every route but the admin session
//! and `environment` needs a sys-admin session (the `SysAdmin` extractor).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{
    bool_field, children, created, flag, int_field, list_response, one_record, opt_int_field,
    opt_str_field, query, records, related_of, select_fields, str_field,
};
use crate::filter;
use crate::http::error::{ApiError, ErrorKind};
use crate::http::guard::SysAdmin;
use crate::services;
use crate::state::AppState;
use crate::system::apps::{self, AppFields, AppRecord};
use crate::system::lookups::{self, LookupFields};
use crate::system::roles::{self, AccessFields, AccessRecord, RoleFields, RoleRecord};
use crate::system::services::{self as service_store, ServiceFields, ServiceRecord};
use crate::system::{Store, SystemError};

// ---------------------------------------------------------------- environment and sessions

/// `GET /api/v2/system/environment`: public platform facts the console reads before login.
pub async fn environment(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "platform": {"version": env!("CARGO_PKG_VERSION"), "license": "OPEN SOURCE", "product": "Rampart"},
        "authentication": {
            "allow_open_registration": state.config.auth.allow_open_registration,
            "login_attribute": "email",
            "adldap": [], "oauth": [], "saml": [],
        },
    }))
}

// ---------------------------------------------------------------- services

pub(super) fn service_json(s: &ServiceRecord) -> Value {
    json!({
        "id": s.id, "name": s.name, "label": s.label, "description": s.description,
        "is_active": s.is_active, "type": s.kind, "config": s.public_config(),
    })
}

/// Reserved service names (system paths).
const RESERVED: &[&str] = &[
    "system", "user", "api_docs", "docs", "admin", "mcp", "health", "ready", "metrics",
];

pub(super) fn check_service_name(name: &str) -> Result<(), ApiError> {
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

pub(super) fn check_service_type(kind: &str) -> Result<(), ApiError> {
    if kind == "pgsql" || crate::identity::PROVIDER_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Service type '{kind}' is not supported; use 'pgsql', 'jwt', 'ldap', 'adldap', 'oidc' or 'saml'."
        )))
    }
}

/// A service's config, checked and sealed: a database is connected to, an identity
/// provider's settings are validated and its keys read.
pub(super) async fn tested_config(
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
    if kind == "saml" {
        let mut config = config;
        crate::identity::saml::resolve_metadata(&mut config)
            .await
            .map_err(ApiError::bad_request)?;
        crate::identity::saml::SamlSettings::from_config(&config).map_err(ApiError::bad_request)?;
        crate::identity::mapping::RoleMapping::from_config(&config)
            .map_err(ApiError::bad_request)?;
        return Ok(service_store::seal_config(
            &state.master_key,
            config,
            previous_map.as_ref(),
        ));
    }
    if kind == "ldap" || kind == "adldap" || kind == "oidc" {
        // A secret may be left out of an update: the stored one still applies.
        let mut plain = config.clone();
        if let Some(prev) = previous {
            let stored = prev.decrypted_config(&state.master_key)?;
            for key in ["bind_password", "client_secret"] {
                if let (None, Some(v)) = (plain.get(key), stored.get(key)) {
                    plain.insert(key.into(), v.clone());
                }
            }
        }
        crate::identity::mapping::RoleMapping::from_config(&config)
            .map_err(ApiError::bad_request)?;
        if kind == "oidc" {
            let settings = crate::identity::oidc::OidcSettings::from_config(&plain)
                .map_err(ApiError::bad_request)?;
            crate::identity::oidc::check(&settings)
                .await
                .map_err(ApiError::bad_request)?;
        } else {
            let settings = crate::identity::ldap::LdapSettings::from_config(kind, &plain)
                .map_err(ApiError::bad_request)?;
            crate::identity::ldap::check(&settings)
                .await
                .map_err(ApiError::bad_request)?;
        }
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

/// A system record as the API shows it (secrets never included) with its related records,
/// for the audit trail's before/after; `None` when there is no such record.
pub(crate) async fn snapshot(store: &Store, resource: &str, id: i64) -> Option<Value> {
    async fn of<R: super::resource::Resource>(store: &Store, id: i64) -> Option<Value> {
        R::get(store, id).await.ok().map(|r| R::json(&r))
    }
    let all = ["*"];
    let found = match resource {
        "service" => service_store::get(store, id)
            .await
            .map(|s| service_json(&s)),
        "app" => crate::system::apps::get(store, id)
            .await
            .map(|a| app_json(&a)),
        "role" => match roles::get(store, id).await {
            Ok(r) => return role_json(store, &r, &all).await.ok(),
            Err(e) => Err(e),
        },
        "lookup" => {
            return crate::system::lookups::get_in(
                store,
                crate::system::lookups::Owner::Global,
                id,
            )
            .await
            .ok()
            .map(|l| super::lookups::lookup_json(&l));
        }
        "limit" => return of::<super::limits::Limit>(store, id).await,
        "cors" => return of::<super::cors::Cors>(store, id).await,
        "oauth_client" => return of::<super::grants::OAuthClient>(store, id).await,
        "oauth_grant" => {
            return crate::system::oauth::grant(store, id)
                .await
                .ok()
                .flatten()
                .map(|g| g.to_json());
        }
        "user" | "admin" => {
            let user = if resource == "user" {
                crate::system::users::get_user(store, id).await
            } else {
                crate::system::users::get_admin(store, id).await
            };
            match user {
                Ok(u) => return super::users::user_json(store, &u, &all).await.ok(),
                Err(e) => Err(e),
            }
        }
        _ => return None,
    };
    found.ok()
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
    state.changed().await;
    Ok(created(ids))
}

/// `POST /api/v2/system/service/test`: tries a connection and stores nothing (the console's
/// "test connection"). With `id`, the service's stored secrets stand in for those left out,
/// as when it is saved.
pub async fn service_test(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let m = one_record(&body)?;
    let existing = match int_field(&m, "id")? {
        Some(id) => Some(service_store::get(&state.store, id).await?),
        None => None,
    };
    let kind = match (str_field(&m, "type")?, &existing) {
        (Some(kind), _) => kind,
        (None, Some(e)) => e.kind.clone(),
        (None, None) => return Err(ApiError::bad_request("Field 'type' can not be NULL.")),
    };
    check_service_type(&kind)?;
    let config = config_field(&m)?
        .ok_or_else(|| ApiError::bad_request("Field 'config' can not be NULL."))?;
    tested_config(&state, &kind, config, existing.as_ref()).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "message": "Connected."})))
}

/// `GET /api/v2/system/service/{id}/schema[?refresh=true]`: everything the service's login
/// can see — tables and views with their fields, keys and relationships, and functions — for
/// the console's schema browser and role editor; `refresh` introspects again first.
pub async fn service_schema(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let record = service_store::get(&state.store, *id).await?;
    let handle = state
        .services
        .get(&record, &state.master_key, &state.config.limits)
        .await?;
    let model = if flag(&query(&req), "refresh") {
        handle.refresh().await?
    } else {
        handle.schema()
    };
    let all = crate::rbac::TableRules::default();
    let tables: Vec<Value> = model
        .tables
        .iter()
        .map(|t| crate::http::schema_json::table(t, &all, &|_| true))
        .collect();
    let functions: Vec<Value> = model
        .functions
        .iter()
        .map(|f| {
            json!({
                "name": f.api_name,
                "kind": f.kind,
                "args": f.args.iter().map(|a| json!({"name": a.name, "type": a.sql_type,
                    "mode": a.mode, "has_default": a.has_default})).collect::<Vec<_>>(),
                "returns": f.return_type,
                "description": f.comment,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "service": record.name, "table": tables, "function": functions,
    })))
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
    state.changed().await;
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
    state.changed().await;
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
            lookups::of(store, lookups::Owner::Role(r.id))
                .await?
                .iter()
                .map(lookups::LookupRecord::public)
                .collect::<Vec<_>>()
        );
    }
    Ok(v)
}

/// Validates one access row of a role body.
pub(super) fn access_fields(m: &Map<String, Value>) -> Result<AccessFields, ApiError> {
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

pub(super) fn lookup_fields(m: &Map<String, Value>) -> Result<LookupFields, ApiError> {
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
            (Some(id), true) => lookups::delete_in(tx, lookups::Owner::Role(role_id), id).await?,
            (Some(id), false) => {
                lookups::update_in(
                    tx,
                    lookups::Owner::Role(role_id),
                    id,
                    &lookup_fields(child)?,
                )
                .await?
            }
            (None, _) => {
                lookups::add(tx, lookups::Owner::Role(role_id), &lookup_fields(child)?).await?;
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
    state.changed().await;
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
    state.changed().await;
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
    state.changed().await;
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
    state.changed().await;
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
    state.changed().await;
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
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// Answers 405 for verbs a system resource does not take.
pub async fn not_allowed(req: HttpRequest) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("{} is not allowed on {}.", req.method(), req.path()),
    )
}

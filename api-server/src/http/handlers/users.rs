//! `/api/v2/system/user` and `/api/v2/system/admin` (DreamFactory's shapes, one code path:
//! admins are users with `is_sys_admin`), with the nested `user_to_app_to_role_by_user_id`
//! and `lookup_by_user_id`; and the admin console's session at `/api/v2/system/admin/session`.
//!
//! A change that should end a person's sessions does (their session epoch moves on): a new
//! password, a disable, a change of their per-app roles.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{
    bool_field, children, created, int_field, list_response, one_record, opt_str_field, query,
    records, related_of, select_fields, str_field,
};
use super::system::lookup_fields;
use crate::auth::accounts::{self, valid_email};
use crate::auth::session::SessionKind;
use crate::http::error::ApiError;
use crate::http::guard::{Caller, SysAdmin, client_address, credentials};
use crate::state::AppState;
use crate::system::lookups::{self, LookupRecord, Owner};
use crate::system::users::{self, NewUser, UserChanges, UserRecord};
use crate::system::{Store, SystemError, Tx, app_roles};

/// Which accounts a route manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Admin,
}

async fn get(store: &Store, kind: Kind, id: i64) -> Result<UserRecord, SystemError> {
    match kind {
        Kind::User => users::get_user(store, id).await,
        Kind::Admin => users::get_admin(store, id).await,
    }
}

/// A user as the API shows it, with the related records asked for.
pub(crate) async fn user_json(
    store: &Store,
    u: &UserRecord,
    related: &[&str],
) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
    let all = related.contains(&"*");
    if all || related.contains(&"user_to_app_to_role_by_user_id") {
        v["user_to_app_to_role_by_user_id"] = json!(app_roles::of_user(store, u.id).await?);
    }
    if all || related.contains(&"lookup_by_user_id") {
        v["lookup_by_user_id"] = json!(
            lookups::of(store, Owner::User(u.id))
                .await?
                .iter()
                .map(LookupRecord::public)
                .collect::<Vec<_>>()
        );
    }
    Ok(v)
}

/// Applies nested per-app roles and lookups (an id updates, no id creates, `user_id: null`
/// deletes). Whether the person's roles changed.
async fn apply_children(
    tx: &mut Tx,
    user_id: i64,
    m: &Map<String, Value>,
) -> Result<bool, ApiError> {
    let mut roles_changed = false;
    for child in children(m, "user_to_app_to_role_by_user_id")? {
        let id = int_field(child, "id")?.filter(|i| *i > 0);
        let detach = child.get("user_id").is_some_and(Value::is_null);
        let ids = || -> Result<(i64, i64), ApiError> {
            let app = int_field(child, "app_id")?
                .ok_or_else(|| ApiError::bad_request("Field 'app_id' can not be NULL."))?;
            let role = int_field(child, "role_id")?
                .ok_or_else(|| ApiError::bad_request("Field 'role_id' can not be NULL."))?;
            Ok((app, role))
        };
        match (id, detach) {
            (Some(id), true) => app_roles::remove(tx, user_id, id).await?,
            (Some(id), false) => {
                let (app, role) = ids()?;
                app_roles::change(tx, user_id, id, app, role).await?;
            }
            (None, _) => {
                let (app, role) = ids()?;
                app_roles::assign(tx, user_id, app, role).await?;
            }
        }
        roles_changed = true;
    }
    for child in children(m, "lookup_by_user_id")? {
        let id = int_field(child, "id")?.filter(|i| *i > 0);
        let detach = child.get("user_id").is_some_and(Value::is_null);
        let owner = Owner::User(user_id);
        match (id, detach) {
            (Some(id), true) => lookups::delete_in(tx, owner, id).await?,
            (Some(id), false) => lookups::update_in(tx, owner, id, &lookup_fields(child)?).await?,
            (None, _) => {
                lookups::add(tx, owner, &lookup_fields(child)?).await?;
            }
        }
    }
    Ok(roles_changed)
}

fn duplicate(e: SystemError) -> ApiError {
    match e {
        SystemError::Duplicate(_) => {
            ApiError::bad_request("An account with this e-mail or username already exists.")
        }
        other => other.into(),
    }
}

fn email_field(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let email = str_field(m, "email")?;
    if email.as_deref().is_some_and(|e| !valid_email(e.trim())) {
        return Err(ApiError::bad_request(
            "Field 'email' must be an e-mail address.",
        ));
    }
    Ok(email)
}

/// Creates one account from a body record, with its nested records, in `tx`.
async fn create_one(
    state: &AppState,
    tx: &mut Tx,
    kind: Kind,
    m: &Map<String, Value>,
) -> Result<i64, ApiError> {
    let email =
        email_field(m)?.ok_or_else(|| ApiError::bad_request("Field 'email' can not be NULL."))?;
    let username = str_field(m, "username")?;
    let password = str_field(m, "password")?;
    if kind == Kind::Admin && password.is_none() {
        return Err(ApiError::bad_request("Field 'password' can not be NULL."));
    }
    let first_name = str_field(m, "first_name")?;
    let last_name = str_field(m, "last_name")?;
    let password_hash = match password {
        Some(p) => {
            let personal: Vec<&str> = [Some(email.as_str()), username.as_deref()]
                .into_iter()
                .flatten()
                .chain(first_name.iter().map(String::as_str))
                .chain(last_name.iter().map(String::as_str))
                .collect();
            Some(accounts::new_password_hash(state, &p, &personal).await?)
        }
        // A user without a password signs in once they set one through a reset.
        None => None,
    };
    let id = users::create(
        tx,
        &NewUser {
            email,
            username,
            name: str_field(m, "name")?,
            first_name,
            last_name,
            phone: str_field(m, "phone")?,
            password_hash,
            is_sys_admin: kind == Kind::Admin,
            is_active: bool_field(m, "is_active")?.unwrap_or(true),
        },
    )
    .await
    .map_err(duplicate)?;
    apply_children(tx, id, m).await?;
    Ok(id)
}

async fn create(state: &AppState, kind: Kind, body: &[u8]) -> Result<HttpResponse, ApiError> {
    let list = records(body)?;
    let mut tx = state.store.begin().await?;
    let mut ids = Vec::new();
    for m in &list {
        ids.push(json!({"id": create_one(state, &mut tx, kind, m).await?}));
    }
    tx.commit().await?;
    state.changed().await;
    Ok(created(ids))
}

async fn update(
    state: &AppState,
    kind: Kind,
    id: i64,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let current = get(&state.store, kind, id).await?;
    let m = one_record(body)?;
    let email = email_field(&m)?;
    let username = match m.get("username") {
        Some(Value::Null) => Some(None),
        _ => str_field(&m, "username")?.map(Some),
    };
    let password_hash = match str_field(&m, "password")? {
        Some(p) => {
            let personal: Vec<&str> = [
                Some(email.as_deref().unwrap_or(&current.email)),
                current.username.as_deref(),
            ]
            .into_iter()
            .flatten()
            .chain(current.name.split_whitespace())
            .collect();
            Some(accounts::new_password_hash(state, &p, &personal).await?)
        }
        None => None,
    };
    let is_active = bool_field(&m, "is_active")?;
    let ends_sessions = password_hash.is_some() || is_active == Some(false);
    let changes = UserChanges {
        email,
        username,
        name: str_field(&m, "name")?,
        first_name: opt_str_field(&m, "first_name")?,
        last_name: opt_str_field(&m, "last_name")?,
        phone: opt_str_field(&m, "phone")?,
        password_hash,
        is_active,
    };
    let mut tx = state.store.begin().await?;
    users::update(&mut tx, id, &changes)
        .await
        .map_err(duplicate)?;
    let roles_changed = apply_children(&mut tx, id, &m).await?;
    if ends_sessions || roles_changed {
        users::end_sessions(&mut tx, id).await?;
    }
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

async fn delete(
    state: &AppState,
    kind: Kind,
    id: i64,
    caller: &SysAdmin,
) -> Result<HttpResponse, ApiError> {
    get(&state.store, kind, id).await?;
    if caller.0.user.as_ref().is_some_and(|u| u.id == id) {
        return Err(ApiError::bad_request(
            "You cannot delete your own admin account.",
        ));
    }
    let mut tx = state.store.begin().await?;
    users::delete(&mut tx, id).await?;
    tx.commit().await?;
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

async fn list(state: &AppState, kind: Kind, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let related = related_of(&q);
    let found = match kind {
        Kind::User => users::list_users(&state.store).await?,
        Kind::Admin => users::list_admins(&state.store).await?,
    };
    let mut out = Vec::with_capacity(found.len());
    for u in &found {
        out.push(user_json(&state.store, u, &related).await?);
    }
    list_response(out, &q)
}

async fn one(
    state: &AppState,
    kind: Kind,
    id: i64,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let u = get(&state.store, kind, id).await?;
    Ok(HttpResponse::Ok().json(select_fields(
        user_json(&state.store, &u, &related_of(&q)).await?,
        &q,
    )))
}

/// `GET /api/v2/system/user`
pub async fn user_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list(&state, Kind::User, &req).await
}

/// `GET /api/v2/system/user/{id}`
pub async fn user_get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    one(&state, Kind::User, *id, &req).await
}

/// `POST /api/v2/system/user`: users with nested per-app roles and lookups, in one
/// transaction.
pub async fn user_create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    create(&state, Kind::User, &body).await
}

/// `PATCH|PUT /api/v2/system/user/{id}`
pub async fn user_update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    update(&state, Kind::User, *id, &body).await
}

/// `DELETE /api/v2/system/user/{id}`
pub async fn user_delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    delete(&state, Kind::User, *id, &a).await
}

/// `GET /api/v2/system/admin`
pub async fn admin_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list(&state, Kind::Admin, &req).await
}

/// `GET /api/v2/system/admin/{id}`
pub async fn admin_get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    one(&state, Kind::Admin, *id, &req).await
}

/// `POST /api/v2/system/admin`
pub async fn admin_create(
    state: web::Data<AppState>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    create(&state, Kind::Admin, &body).await
}

/// `PATCH|PUT /api/v2/system/admin/{id}`
pub async fn admin_update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    update(&state, Kind::Admin, *id, &body).await
}

/// `DELETE /api/v2/system/admin/{id}`; nobody deletes their own account.
pub async fn admin_delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    delete(&state, Kind::Admin, *id, &a).await
}

// ---------------------------------------------------------------- sessions

/// DreamFactory's session response (`Session::getPublicInfo`), with the role when known.
pub fn session_body(
    state: &AppState,
    user: &UserRecord,
    token: &str,
    expires: i64,
    role: Option<(i64, String)>,
) -> Value {
    let expiry = chrono::DateTime::from_timestamp(expires, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string());
    let (role_id, role_name) = role.map_or((None, None), |(id, name)| (Some(id), Some(name)));
    json!({
        "session_token": token,
        "session_id": token,
        "id": user.id,
        "name": user.name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "username": user.username,
        "is_sys_admin": user.is_sys_admin,
        "last_login_date": user.last_login_date.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string()),
        "host": state.config.listen,
        "token_expiry_date": expiry,
        "role": role_name,
        "role_id": role_id,
    })
}

/// The credentials of a sign-in body: `email` (or `username`) and `password`.
pub fn login_fields(m: &Map<String, Value>) -> Result<(String, String), ApiError> {
    let login = str_field(m, "email")?
        .or(str_field(m, "username")?)
        .unwrap_or_default();
    let password = str_field(m, "password")?.unwrap_or_default();
    Ok((login, password))
}

/// `POST /api/v2/system/admin/session`: a sys-admin signs in with e-mail and password.
pub async fn admin_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (login, password) = login_fields(&one_record(&body)?)?;
    crate::http::guard::note_attempt(&req, &login);
    let user =
        accounts::password_login(&state, &login, password, &client_address(&req), true).await?;
    crate::http::guard::note_user(&req, &user, None, None);
    let (token, expires) = accounts::open_session(&state, &user, SessionKind::Admin).await?;
    Ok(HttpResponse::Ok().json(session_body(&state, &user, &token, expires, None)))
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
        .filter(|p| p.is_sys_admin())
        .and_then(|p| p.user.clone())
        .ok_or_else(|| ApiError::not_found("No admin session."))?;
    let token = credentials(&req).session_token.unwrap_or_default();
    let (_, claims) = crate::auth::session_user(&state, &token).await?;
    Ok(HttpResponse::Ok().json(session_body(&state, &user, &token, claims.exp, None)))
}

/// `DELETE /api/v2/system/admin/session`: logout; the token is revoked.
pub async fn admin_logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    _admin: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let token = credentials(&req).session_token.unwrap_or_default();
    let (_, claims) = crate::auth::session_user(&state, &token).await?;
    state.revoke(&claims.jti, claims.exp).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

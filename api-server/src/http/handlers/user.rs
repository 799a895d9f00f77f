//! `/api/v2/user/*`: a person's own account, in DreamFactory's shapes. `session` (sign in,
//! who am I, refresh, sign out), `profile` (their own non-privileged fields), `password`
//! (change, or reset by e-mailed code) and `register` (open registration, off by default).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{flag, one_record, query, str_field};
use super::users::{login_fields, session_body};
use crate::auth::accounts::{self, AccountError, Registration};
use crate::auth::session::SessionKind;
use crate::auth::{self, AuthError};
use crate::http::error::ApiError;
use crate::http::guard::{Caller, client_address, credentials};
use crate::identity::ExternalIdentity;
use crate::identity::ldap::{LdapError, LdapProvider};
use crate::identity::mapping::RoleSource;
use crate::state::AppState;
use crate::system::users::{self, UserChanges, UserRecord};

/// A new session for `user` and DreamFactory's session response, with the role it has
/// through the request's app key (if any).
pub(super) async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    user: &UserRecord,
) -> Result<HttpResponse, ApiError> {
    let (_, body) = new_session(state, req, user).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// A new session for `user`: the token and DreamFactory's session response.
pub(super) async fn new_session(
    state: &AppState,
    req: &HttpRequest,
    user: &UserRecord,
) -> Result<(String, Value), ApiError> {
    let app = request_app(state, req).await?;
    let (role_id, _, _) = auth::session_role_of(state, user, app.as_deref()).await?;
    let (token, expires) = accounts::open_session(state, user, SessionKind::User).await?;
    let role = match role_id {
        Some(id) => state
            .compiled_role(id)
            .await?
            .map(|r| (r.id, r.name.clone())),
        None => None,
    };
    let body = session_body(state, user, &token, expires, role);
    crate::http::guard::note_user(req, user, app.as_ref().map(|a| a.id), role_id);
    Ok((token, body))
}

/// The active app whose key the request carries, if any (an unknown key is refused).
async fn request_app(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<std::sync::Arc<crate::system::apps::AppRecord>>, ApiError> {
    match credentials(req).api_key {
        Some(key) => {
            let app = state
                .app_by_key(&key)
                .await?
                .ok_or(AuthError::InvalidApiKey)?;
            if !app.is_active {
                return Err(AuthError::InactiveApp.into());
            }
            Ok(Some(app))
        }
        None => Ok(None),
    }
}

/// Checks a person's password with a directory service (`ldap`/`adldap`), throttled like
/// every password sign-in: the provider and what it vouches for.
pub(super) async fn directory_identity(
    state: &AppState,
    req: &HttpRequest,
    service: &str,
    username: &str,
    password: &str,
) -> Result<(Arc<LdapProvider>, ExternalIdentity), ApiError> {
    let provider = state
        .providers
        .directory(&state.provider_sources(), service)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Service '{service}' does not sign people in with a password."
            ))
        })?;
    let address = client_address(req);
    let account = format!("{}:{}", provider.service_name, username.trim());
    crate::http::guard::note_attempt(req, &account);
    state
        .login_throttle
        .check(&account, &address, std::time::Instant::now())
        .map_err(AccountError::Throttled)?;
    let identity = match provider.sign_in(username, password).await {
        Ok(i) => i,
        Err(LdapError::BadLogin) => {
            state
                .login_throttle
                .fail(&account, &address, std::time::Instant::now());
            return Err(AuthError::BadLogin.into());
        }
        Err(LdapError::Unavailable(cause)) => {
            tracing::error!(service = %provider.service_name, %cause, "directory sign-in failed");
            return Err(AuthError::ProviderUnavailable.into());
        }
    };
    state.login_throttle.succeed(&account);
    Ok((provider, identity))
}

/// Signs a person in through a directory service (`ldap`/`adldap`): their shadow user is
/// created or refreshed, and the provider's mapping of their groups gives the role; with no
/// role for this app, no session (a 403 that says why).
async fn directory_login(
    state: &AppState,
    req: &HttpRequest,
    service: &str,
    username: &str,
    password: &str,
) -> Result<HttpResponse, ApiError> {
    let app = request_app(state, req).await?;
    let (provider, identity) = directory_identity(state, req, service, username, password).await?;
    let app_id = app.as_ref().map(|a| a.id);
    external_sign_in(
        state,
        req,
        &provider.service_name,
        &provider.mapping,
        &identity,
        &[],
        app_id,
        None,
    )
    .await
}

/// `POST /api/v2/system/service/{id}/test-login` with `{username, password[, app_id]}`: what
/// a sign-in through this directory service would give — who the directory says the person
/// is, their groups, and the role the mapping picks — without creating a user or a session.
/// A refused password is an answer (`success: false`), not the admin's 401.
pub async fn test_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
    _a: crate::http::guard::SysAdmin,
) -> Result<HttpResponse, ApiError> {
    let record = crate::system::services::get(&state.store, *id).await?;
    let m = one_record(&body)?;
    let (login, password) = login_fields(&m)?;
    let app = super::body::int_field(&m, "app_id")?;
    // The admin's request is fine when the person's password is not: that is the answer.
    let (provider, identity) =
        match directory_identity(&state, &req, &record.name, &login, &password).await {
            Err(e) if e.kind == crate::http::error::ErrorKind::Unauthorized => {
                return Ok(HttpResponse::Ok().json(json!({
                    "success": false, "role": Value::Null, "groups": [], "message": e.message,
                })));
            }
            other => other?,
        };
    let role = match provider.mapping.resolve(&identity.groups, app) {
        None => None,
        Some((role_id, source)) => {
            let name = crate::system::roles::get(&state.store, role_id)
                .await
                .map(|r| r.name)
                .unwrap_or_default();
            let by = match source {
                RoleSource::Group => "a group mapping",
                RoleSource::App => "the app mapping",
                RoleSource::Default => "the default role",
            };
            Some(json!({"id": role_id, "name": name, "by": by}))
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "subject": identity.subject,
        "email": identity.email,
        "name": identity.name,
        "groups": identity.groups,
        "role": role,
        "message": match &role {
            Some(r) => format!("Signed in; the role would be '{}' (by {}).", r["name"].as_str().unwrap_or_default(), r["by"].as_str().unwrap_or_default()),
            None => auth::no_role(&provider.service_name),
        },
    })))
}

/// How long a browser sign-in may take between leaving for the provider and coming back, in
/// seconds.
pub(super) const SIGN_IN_TTL: i64 = 600;

/// Keeps what finishing a browser sign-in needs, sealed, under `key` (the state or relay
/// state sent to the provider) for [`SIGN_IN_TTL`].
pub(super) async fn hold_sign_in(
    state: &AppState,
    key: &str,
    service_id: i64,
    pending: &impl serde::Serialize,
) -> Result<(), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let sealed = state
        .master_key
        .encrypt(&serde_json::to_string(pending).unwrap_or_default());
    let mut tx = state.store.begin().await?;
    crate::system::login_states::put(&mut tx, key, service_id, &sealed, now + SIGN_IN_TTL, now)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes (once) the sign-in held under `key` for `service_id`; `None` when it is unknown,
/// expired, already taken or another service's.
pub(super) async fn take_sign_in<T: serde::de::DeserializeOwned>(
    state: &AppState,
    key: &str,
    service_id: i64,
) -> Result<Option<T>, ApiError> {
    let now = chrono::Utc::now().timestamp();
    Ok(
        match crate::system::login_states::take(&state.store, key, now).await? {
            Some((id, sealed)) if id == service_id => state
                .master_key
                .decrypt(&sealed)
                .ok()
                .and_then(|p| serde_json::from_str(&p).ok()),
            _ => None,
        },
    )
}

/// Finishes a sign-in an identity provider vouched for: no session without a role (a 403
/// that says why), the shadow user created or refreshed (unless disabled), and the session
/// answered as JSON or, with an allow-listed `redirect`, as a 302 carrying `session_token`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn external_sign_in(
    state: &AppState,
    req: &HttpRequest,
    provider: &str,
    mapping: &crate::identity::mapping::RoleMapping,
    identity: &crate::identity::ExternalIdentity,
    volatile: &[&str],
    app: Option<i64>,
    redirect: Option<String>,
) -> Result<HttpResponse, ApiError> {
    if mapping.resolve(&identity.groups, app).is_none() {
        return Err(ApiError::new(
            crate::http::error::ErrorKind::Forbidden,
            auth::no_role(provider),
        ));
    }
    let user = state.external_user(identity, volatile).await?;
    if !user.is_active {
        return Err(AuthError::Disabled.into());
    }
    let mut tx = state.store.begin().await?;
    users::touch_login(&mut tx, user.id).await?;
    tx.commit().await?;
    let (token, body) = new_session(state, req, &user).await?;
    Ok(match redirect {
        Some(mut target) => {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str("session_token=");
            target.extend(url::form_urlencoded::byte_serialize(token.as_bytes()));
            HttpResponse::Found()
                .insert_header(("Location", target))
                .insert_header(("Cache-Control", "no-store"))
                .finish()
        }
        None => HttpResponse::Ok().json(body),
    })
}

/// The signed-in person behind a Rampart session token (not an API key alone).
async fn session_owner(
    state: &AppState,
    req: &HttpRequest,
) -> Result<(std::sync::Arc<UserRecord>, auth::session::Claims), ApiError> {
    let token = credentials(req)
        .session_token
        .ok_or(AuthError::NoCredentials)?;
    let (user, claims) = auth::session_user(state, &token).await?;
    crate::http::guard::note_user(req, &user, None, None);
    Ok((user, claims))
}

/// `POST /api/v2/user/session`: sign in with `email` (or `username`) and `password`.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let m = one_record(&body)?;
    let (login, password) = login_fields(&m)?;
    if let Some(service) = str_field(&m, "service")?.or_else(|| {
        query(&req)
            .into_iter()
            .find(|(k, _)| k == "service")
            .map(|(_, v)| v)
    }) {
        // A directory knows people by user name; an e-mail stands in when that is all there is.
        let username = str_field(&m, "username")?.unwrap_or(login);
        return directory_login(&state, &req, &service, &username, &password).await;
    }
    crate::http::guard::note_attempt(&req, &login);
    let user =
        accounts::password_login(&state, &login, password, &client_address(&req), false).await?;
    signed_in(&state, &req, &user).await
}

/// `GET /api/v2/user/session`: with `?service=<oidc service>`, starts (or, with
/// `oauth_callback=true`, finishes) a browser sign-in; otherwise says who the caller is.
pub async fn session_get(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = query(&req);
    if let Some(service) = q
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone())
    {
        return if flag(&q, "oauth_callback") {
            super::oidc::callback(&state, &req, &service, &q).await
        } else {
            super::oidc::begin(&state, &req, &service, &q).await
        };
    }
    use actix_web::FromRequest;
    let caller = Caller::from_request(&req, &mut actix_web::dev::Payload::None).await?;
    session(state, caller).await
}

/// `GET /api/v2/user/session`: who the credential is and under which role it acts (what
/// MCP's `whoami` shows), in DreamFactory's session shape; null user fields for an API key
/// alone.
async fn session(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let principal = caller.require()?;
    let role = match principal.role_id {
        Some(id) => state.compiled_role(id).await?,
        None => None,
    };
    let user = principal.user.as_ref();
    let expiry = match &caller.credentials.session_token {
        Some(token) if user.is_some() && principal.claims.is_none() => {
            auth::session_user(&state, token)
                .await
                .ok()
                .and_then(|(_, c)| chrono::DateTime::from_timestamp(c.exp, 0))
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(json!({
        "id": user.map(|u| u.id),
        "name": user.map(|u| u.name.clone()),
        "first_name": user.and_then(|u| u.first_name.clone()),
        "last_name": user.and_then(|u| u.last_name.clone()),
        "email": user.map(|u| u.email.clone()),
        "username": user.and_then(|u| u.username.clone()),
        "is_sys_admin": principal.is_sys_admin(),
        "last_login_date": user.and_then(|u| u.last_login_date),
        "token_expiry_date": expiry,
        "app": principal.app.as_ref().map(|a| json!({"id": a.id, "name": a.name, "read_only": a.read_only})),
        "role": role.as_ref().map(|r| r.name.clone()),
        "role_id": role.as_ref().map(|r| r.id),
        "role_is_active": role.as_ref().map(|r| r.is_active),
        "no_role_reason": principal.no_role_reason,
    })))
}

/// `PUT|PATCH /api/v2/user/session`: a fresh token for a valid session; the old one is
/// revoked.
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (user, claims) = session_owner(&state, &req).await?;
    state.revoke(&claims.jti, claims.exp).await?;
    signed_in(&state, &req, &user).await
}

/// `DELETE /api/v2/user/session`: sign out; the token is revoked.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, claims) = session_owner(&state, &req).await?;
    state.revoke(&claims.jti, claims.exp).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

fn profile_json(u: &UserRecord) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "username": u.username,
        "name": u.name,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "phone": u.phone,
        "last_login_date": u.last_login_date,
    })
}

/// `GET /api/v2/user/profile`
pub async fn profile(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = session_owner(&state, &req).await?;
    Ok(HttpResponse::Ok().json(profile_json(&user)))
}

/// Fields a person may change on their own profile.
const PROFILE_FIELDS: &[&str] = &["name", "first_name", "last_name", "phone"];

/// `POST|PUT|PATCH /api/v2/user/profile`: changes the person's own name and phone. Anything
/// that governs access (e-mail, password, admin rights, activity) is refused by name.
pub async fn update_profile(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = session_owner(&state, &req).await?;
    let m = one_record(&body)?;
    let refused: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| !PROFILE_FIELDS.contains(k) && *k != "id")
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::bad_request(format!(
            "These fields cannot be changed through the profile: {}. Profile fields: {}.",
            refused.join(", "),
            PROFILE_FIELDS.join(", ")
        )));
    }
    let text = |k: &str| -> Result<Option<Option<String>>, ApiError> {
        Ok(match m.get(k) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => Some(str_field(&m, k)?),
        })
    };
    let changes = UserChanges {
        name: text("name")?.map(Option::unwrap_or_default),
        first_name: text("first_name")?,
        last_name: text("last_name")?,
        phone: text("phone")?,
        ..UserChanges::default()
    };
    let mut tx = state.store.begin().await?;
    users::update(&mut tx, user.id, &changes).await?;
    tx.commit().await?;
    state.changed().await;
    let fresh = users::find(&state.store, user.id)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    Ok(HttpResponse::Ok().json(profile_json(&fresh)))
}

fn required(m: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    str_field(m, key)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("Field '{key}' is required.")))
}

/// `POST|PUT|PATCH /api/v2/user/password`:
/// - `{"old_password","new_password"}` with a session changes the password (every other
///   session ends; `?login=true` answers a new session);
/// - `?reset=true` with `{"email"}` (or `username`) e-mails a single-use code (the answer is
///   the same whether the account exists or not);
/// - `{"email","code","new_password"}` sets the password with that code.
pub async fn password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let q = query(&req);
    let m = one_record(&body)?;
    let address = client_address(&req);
    let login_of = |m: &Map<String, Value>| -> Result<String, ApiError> {
        str_field(m, "email")?
            .or(str_field(m, "username")?)
            .filter(|l| !l.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request("Field 'email' (or 'username') is required."))
    };
    if flag(&q, "reset") {
        accounts::start_reset(&state, &login_of(&m)?).await?;
        return Ok(HttpResponse::Ok().json(json!({"success": true})));
    }
    let user = if m.contains_key("code") {
        accounts::finish_reset(
            &state,
            &login_of(&m)?,
            &required(&m, "code")?,
            &required(&m, "new_password")?,
            &address,
        )
        .await?
    } else {
        let (user, _) = session_owner(&state, &req).await?;
        accounts::change_password(
            &state,
            &user,
            required(&m, "old_password")?,
            &required(&m, "new_password")?,
            &address,
        )
        .await?
    };
    if flag(&q, "login") {
        return signed_in(&state, &req, &user).await;
    }
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

/// `POST /api/v2/user/register`: open registration, when enabled (`auth.allow_open_registration`);
/// `?login=true` answers a session.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !state.config.auth.allow_open_registration {
        return Err(AccountError::RegistrationClosed.into());
    }
    let m = one_record(&body)?;
    let registration = Registration {
        email: required(&m, "email")?,
        username: str_field(&m, "username")?,
        password: str_field(&m, "new_password")?
            .or(str_field(&m, "password")?)
            .ok_or_else(|| ApiError::bad_request("Field 'password' is required."))?,
        name: str_field(&m, "name")?,
        first_name: str_field(&m, "first_name")?,
        last_name: str_field(&m, "last_name")?,
        phone: str_field(&m, "phone")?,
    };
    if let Some(confirm) = str_field(&m, "password_confirmation")?
        && confirm != registration.password
    {
        return Err(ApiError::bad_request(
            "The password confirmation does not match.",
        ));
    }
    let user = accounts::register(&state, registration).await?;
    if flag(&query(&req), "login") {
        return signed_in(&state, &req, &user).await;
    }
    Ok(HttpResponse::Created().json(json!({"success": true, "id": user.id})))
}

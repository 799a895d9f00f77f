//! The OAuth 2.1 authorization server's HTTP side (see `crate::oauth`): discovery documents
//! (RFC 9728, RFC 8414, OpenID discovery), `/oauth/authorize` with its sign-in and consent
//! pages, `/oauth/token` and `/oauth/revoke`. Each step tells the audit trail what happened.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use super::body::{param, query};
use crate::audit::Note;
use crate::auth::accounts;
use crate::http::error::ApiError;
use crate::http::guard::{client_address, note_attempt, note_user};
use crate::oauth::authorize::{self, Params, Refusal};
use crate::oauth::clients::{self, ClientError};
use crate::oauth::flow::{self, Form, Pending, TokenError};
use crate::oauth::pages::{self, Consent, Method, Reach, SignIn};
use crate::oauth::{SCOPES, WRITE};
use crate::rbac::verbs::{REQUESTOR_API, Verb};
use crate::state::AppState;

/// The cookie that binds a request in flight to the browser it started in.
const COOKIE: &str = "rampart_oauth_request";
/// The method value of a local Rampart account.
const LOCAL: &str = "local";

/// A form body (`application/x-www-form-urlencoded`); of a repeated field, the first.
fn parse_form(body: &[u8]) -> Form {
    let mut form = Form::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    form
}

/// Names the audit event of this request.
pub(super) fn note_kind(req: &HttpRequest, kind: &'static str) {
    if let Some(note) = req.extensions().get::<Arc<Note>>() {
        note.update(|n| n.kind = Some(kind));
    }
}

fn disabled() -> ApiError {
    ApiError::not_found("MCP authorization is not enabled on this server.")
}

/// `GET /.well-known/oauth-protected-resource[/mcp]` (RFC 9728).
pub async fn protected_resource(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    Ok(HttpResponse::Ok().json(json!({
        "resource": state.mcp_resource(),
        "authorization_servers": [state.oauth_issuer()],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "Rampart MCP",
    })))
}

/// `GET /.well-known/oauth-authorization-server/oauth` (RFC 8414, the issuer's path inserted),
/// and the same document where OpenID discovery and path-unaware clients look for it.
pub async fn authorization_server(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let base = state.public_url();
    let mut doc = json!({
        "issuer": state.oauth_issuer(),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": SCOPES,
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": state.config.oauth.metadata_document_app.is_some(),
    });
    if state.config.oauth.dynamic_registration_app.is_some() {
        doc["registration_endpoint"] = json!(format!("{base}/oauth/register"));
    }
    Ok(HttpResponse::Ok().json(doc))
}

/// `POST /oauth/register` (RFC 7591), when `[oauth] dynamic_registration_app` turns it on: a
/// public client (PKCE, no secret) with https or loopback redirect URIs, in that app. Each
/// address may register a few clients an hour.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let refuse = |error: &str, description: String| {
        HttpResponse::BadRequest()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({"error": error, "error_description": description}))
    };
    let Some(app_name) = state
        .config
        .oauth
        .dynamic_registration_app
        .as_ref()
        .filter(|_| state.config.oauth.enabled)
    else {
        return Err(ApiError::not_found(
            "Dynamic Client Registration is off on this server; ask an administrator to register the client.",
        ));
    };
    note_kind(&req, "oauth_register");
    let address = client_address(&req);
    let now = std::time::Instant::now();
    if let Err(wait) = state.oauth.registrations.check(&address, &address, now) {
        return Ok(HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", wait.to_string()))
            .json(json!({"error": "too_many_requests",
                "error_description": "Too many clients registered from this address; try again later."})));
    }
    let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(&body)
    else {
        return Ok(refuse(
            "invalid_client_metadata",
            "The body must be a JSON object of client metadata.".into(),
        ));
    };
    if let Some(method) = m.get("token_endpoint_auth_method").and_then(|v| v.as_str())
        && method != "none"
    {
        return Ok(refuse(
            "invalid_client_metadata",
            format!(
                "token_endpoint_auth_method '{method}' is not supported: clients are public and use PKCE (none)."
            ),
        ));
    }
    let Some(app) = crate::system::apps::list(&state.store)
        .await?
        .into_iter()
        .find(|a| &a.name == app_name && a.is_active)
    else {
        tracing::error!(app = %app_name, "oauth.dynamic_registration_app names no active app");
        return Err(ApiError::new(
            crate::http::error::ErrorKind::Unavailable,
            "This server cannot register clients right now.",
        ));
    };
    let name = m
        .get("client_name")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Unnamed client");
    let mut fields = serde_json::Map::new();
    fields.insert(
        "name".into(),
        json!(name.chars().take(100).collect::<String>()),
    );
    fields.insert("app_id".into(), json!(app.id));
    fields.insert(
        "redirect_uris".into(),
        m.get("redirect_uris")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
    );
    let mut f = match super::grants::client_fields(None, &fields) {
        Ok(f) => f,
        Err(e) => return Ok(refuse("invalid_redirect_uri", e.message)),
    };
    f.client_id = format!(
        "{}{}",
        crate::oauth::authorize::SELF_REGISTERED,
        flow::random_token()
    );
    let issued = chrono::Utc::now().timestamp();
    let mut tx = state.store.begin().await?;
    crate::system::oauth::add_client(&mut tx, &f, issued).await?;
    tx.commit().await?;
    state.oauth.registrations.fail(&address, &address, now);
    state.changed().await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "client_id": f.client_id,
            "client_id_issued_at": issued,
            "client_name": f.name,
            "redirect_uris": f.redirect_uris,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        })))
}

/// An HTML page, framed by nobody, running no script; forms may post here and, after a
/// consent, be redirected to `redirect_origin`.
fn html(status: StatusCode, body: String, redirect_origin: Option<&str>) -> HttpResponse {
    let form_action = match redirect_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".into(),
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(body)
}

fn refusal_page(req: &HttpRequest, status: StatusCode, message: &str) -> HttpResponse {
    note_kind(req, "oauth_refused");
    html(status, pages::refusal(message), None)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map_or_else(|| "'none'".to_owned(), |o| o.ascii_serialization())
}

/// `GET /oauth/authorize`: checks the request, then asks the person to sign in.
pub async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let (params, duplicated) = Params::from_query(req.query_string());
    let client = match &params.client_id {
        Some(id) => match clients::resolve(&state, id).await {
            Ok(c) => Some(c),
            Err(ClientError::Unknown) => None,
            Err(ClientError::Document(message)) => {
                return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, &message));
            }
            Err(ClientError::System(e)) => return Err(e.into()),
        },
        None => None,
    };
    let authorization =
        match authorize::check(&params, &duplicated, client.as_ref(), &state.mcp_resource()) {
            Ok(a) => a,
            Err(Refusal::Page(message)) => {
                return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, &message));
            }
            Err(Refusal::Redirect {
                redirect_uri,
                error,
                description,
                state: client_state,
            }) => {
                note_kind(&req, "oauth_refused");
                let issuer = state.oauth_issuer();
                let mut answer = vec![("error", error), ("error_description", &description)];
                if let Some(s) = &client_state {
                    answer.push(("state", s));
                }
                answer.push(("iss", &issuer));
                return Ok(HttpResponse::Found()
                    .insert_header(("Location", authorize::answer_url(&redirect_uri, &answer)))
                    .insert_header(("Cache-Control", "no-store"))
                    .finish());
            }
        };
    note_kind(&req, "oauth_authorize");
    // Each request in flight is a stored row: an address may start only so many at a time.
    let address = client_address(&req);
    let now = std::time::Instant::now();
    if let Err(wait) = state.oauth.authorizations.check(&address, &address, now) {
        return Ok(html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::refusal(&format!(
                "Too many sign-in requests from this address; try again in {wait} seconds."
            )),
            None,
        ));
    }
    state.oauth.authorizations.fail(&address, &address, now);
    let handle = flow::begin(&state, authorization.clone()).await?;
    let cookie = Cookie::build(COOKIE, handle.clone())
        .path("/oauth/authorize")
        .http_only(true)
        .secure(state.public_url().starts_with("https://"))
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::minutes(10))
        .finish();
    let mut res = sign_in_page(&state, &authorization, &handle, None, "", StatusCode::OK).await?;
    res.add_cookie(&cookie)
        .map_err(|_| ApiError::bad_request("Cannot set the request cookie."))?;
    Ok(res)
}

/// The ways to sign in: with a password (a Rampart account, or each LDAP/AD directory), and
/// through each OpenID Connect or SAML provider (links that leave for the provider).
async fn sign_in_methods(state: &AppState) -> Result<(Vec<Method>, Vec<Method>), ApiError> {
    let mut passwords = vec![Method {
        value: LOCAL.into(),
        label: "Rampart account".into(),
    }];
    let mut external = Vec::new();
    for s in state.services_list().await?.iter().filter(|s| s.is_active) {
        let method = Method {
            value: s.name.clone(),
            label: if s.label.trim().is_empty() {
                s.name.clone()
            } else {
                s.label.clone()
            },
        };
        match s.kind.as_str() {
            "ldap" | "adldap" => passwords.push(method),
            "oidc" | "saml" => external.push(method),
            _ => {}
        }
    }
    Ok((passwords, external))
}

/// Where an OpenID Connect or SAML sign-in started here comes back to (with the request's
/// nonce, and a Rampart session token that only carries the person to the consent page and is
/// then ended).
#[must_use]
pub fn resume_url(state: &AppState) -> String {
    format!("{}/oauth/authorize/resume", state.public_url())
}

/// Whether a post-sign-in redirect is this server's way back to an authorization request
/// (its query may differ: it carries the nonce).
#[must_use]
pub fn is_resume(state: &AppState, redirect: &str) -> bool {
    let (Ok(r), Ok(ours)) = (
        url::Url::parse(redirect),
        url::Url::parse(&resume_url(state)),
    ) else {
        return false;
    };
    r.origin() == ours.origin()
        && r.path() == ours.path()
        && r.username().is_empty()
        && r.password().is_none()
        && r.fragment().is_none()
}

/// `GET /oauth/authorize/external?service=…`: leaves for an OpenID Connect or SAML provider,
/// to come back to `/oauth/authorize/resume` signed in.
pub async fn external(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let handle = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let pending = match &handle {
        Some(h) => flow::pending(&state, h).await?,
        None => None,
    };
    let (Some(handle), Some(pending)) = (handle, pending) else {
        return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, EXPIRED));
    };
    let q = query(&req);
    let service = param(&q, "service").unwrap_or_default().to_owned();
    let found = state
        .services_list()
        .await?
        .iter()
        .find(|s| s.is_active && s.name == service)
        .map(|s| s.kind.clone());
    if !matches!(found.as_deref(), Some("oidc" | "saml")) {
        return Ok(refusal_page(
            &req,
            StatusCode::BAD_REQUEST,
            "There is no such sign-in provider.",
        ));
    }
    let nonce = flow::leave(&state, &handle, pending).await?;
    let back = format!("{}?nonce={nonce}", resume_url(&state));
    let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    let name: String = url::form_urlencoded::byte_serialize(service.as_bytes()).collect();
    let target = match found.as_deref() {
        Some("oidc") => format!("/api/v2/user/session?service={name}&redirect={back}"),
        Some("saml") => format!("/api/v2/{name}/sso?redirect={back}"),
        _ => {
            return Ok(refusal_page(
                &req,
                StatusCode::BAD_REQUEST,
                "There is no such sign-in provider.",
            ));
        }
    };
    Ok(HttpResponse::Found()
        .insert_header(("Location", target))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// `GET /oauth/authorize/resume?session_token=…`: back from a provider, signed in; the
/// session that carried the person here is ended, and the consent page shown.
pub async fn resume(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let q = query(&req);
    let arg = |name: &str| param(&q, name).unwrap_or_default();
    // The session only carried the person here: it ends now, whatever happens next.
    let (user, claims) = match crate::auth::session_user(&state, arg("session_token")).await {
        Ok(found) => found,
        Err(e @ (crate::auth::AuthError::Internal(_) | crate::auth::AuthError::System(_))) => {
            return Err(e.into());
        }
        Err(e) => {
            note_kind(&req, "login_failed");
            return Ok(refusal_page(&req, StatusCode::UNAUTHORIZED, &e.to_string()));
        }
    };
    state.revoke(&claims.jti, claims.exp).await?;
    let handle = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let pending = match &handle {
        Some(h) => flow::pending(&state, h).await?,
        None => None,
    };
    let (Some(handle), Some(pending)) = (handle, pending) else {
        return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, EXPIRED));
    };
    let nonce_matches = pending
        .nonce
        .as_deref()
        .is_some_and(|n| accounts::constant_time_eq(n.as_bytes(), arg("nonce").as_bytes()));
    if !nonce_matches {
        return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, EXPIRED));
    }
    consent_page(&state, &req, &handle, pending, &user).await
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

async fn sign_in_page(
    state: &AppState,
    a: &authorize::Authorization,
    handle: &str,
    error: Option<&str>,
    login: &str,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let (methods, external) = sign_in_methods(state).await?;
    Ok(html(
        status,
        SignIn {
            client_name: &a.client_name,
            redirect_host: &host_of(&a.redirect_uri),
            handle,
            methods: &methods,
            external: &external,
            error,
            login,
        }
        .render(),
        None,
    ))
}

/// The request in flight a form names, when the browser posting it is the one it started in.
async fn form_request(
    state: &AppState,
    req: &HttpRequest,
    form: &Form,
) -> Result<Option<(String, Pending)>, ApiError> {
    let Some(handle) = form.get("request").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let same_browser = req
        .cookie(COOKIE)
        .is_some_and(|c| accounts::constant_time_eq(c.value().as_bytes(), handle.as_bytes()));
    if !same_browser {
        return Ok(None);
    }
    Ok(flow::pending(state, handle)
        .await?
        .map(|p| (handle.clone(), p)))
}

const EXPIRED: &str = "This sign-in request has expired or was already answered. Return to the application and connect again.";

/// `POST /oauth/authorize/sign-in`: a local account or a directory (LDAP/AD) checks the
/// person; then the consent page shows what the client would reach as them.
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let form = parse_form(&body);
    let Some((handle, pending)) = form_request(&state, &req, &form).await? else {
        return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, EXPIRED));
    };
    let login = form.get("login").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let method = form.get("method").map_or(LOCAL, String::as_str);
    let a = pending.authorization.clone();
    let user = if method == LOCAL {
        note_attempt(&req, &login);
        accounts::password_login(&state, &login, password, &client_address(&req), false)
            .await
            .map_err(ApiError::from)
    } else {
        match super::user::directory_identity(&state, &req, method, &login, &password).await {
            Ok((_, identity)) => state
                .external_user(&identity, &[])
                .await
                .map_err(ApiError::from)
                .and_then(|u| {
                    if u.is_active {
                        Ok(u)
                    } else {
                        Err(crate::auth::AuthError::Disabled.into())
                    }
                }),
            Err(e) => Err(e),
        }
    };
    let user = match user {
        Ok(u) => u,
        Err(e) if e.status_code().is_server_error() => return Err(e),
        Err(e) => {
            note_kind(&req, "login_failed");
            return sign_in_page(
                &state,
                &a,
                &handle,
                Some(&e.message),
                &login,
                e.status_code(),
            )
            .await;
        }
    };
    consent_page(&state, &req, &handle, pending, &user).await
}

/// After a sign-in: the role the person has for the client's app (none: refused, saying
/// why), recorded with the request in flight, and the consent page.
async fn consent_page(
    state: &AppState,
    req: &HttpRequest,
    handle: &str,
    pending: Pending,
    user: &crate::system::users::UserRecord,
) -> Result<HttpResponse, ApiError> {
    let a = pending.authorization.clone();
    let app = crate::system::apps::get(&state.store, a.app_id).await?;
    let (role_id, reason, _) = crate::auth::session_role_of(state, user, Some(&app)).await?;
    note_user(req, user, Some(app.id), role_id);
    let role = match role_id {
        Some(id) => state.compiled_role(id).await?.filter(|r| r.is_active),
        None => None,
    };
    let Some(role) = role else {
        let why = reason.unwrap_or_else(|| {
            format!(
                "Your account has no role for the app '{}', so {} cannot act for you. Ask your administrator for a role.",
                app.name, a.client_name
            )
        });
        return Ok(refusal_page(req, StatusCode::FORBIDDEN, &why));
    };
    note_kind(req, "login");
    flow::signed_in(state, handle, pending, user.id, role.id).await?;
    let reach = reach_of(state, role.id).await?;
    Ok(html(
        StatusCode::OK,
        Consent {
            client_name: &a.client_name,
            client_id: &a.client_id,
            redirect_host: &host_of(&a.redirect_uri),
            handle,
            user: &user.email,
            app: &app.name,
            role: &role.name,
            reach: &reach,
            asks_write: a.scopes.iter().any(|s| s == WRITE),
        }
        .render(),
        Some(&origin_of(&a.redirect_uri)),
    ))
}

/// What a role reaches, for the consent page: each access row an API caller can use, with
/// its verbs, whether rows are filtered, and the fields masked or hidden.
async fn reach_of(state: &AppState, role_id: i64) -> Result<Vec<Reach>, ApiError> {
    let services = state.services_list().await?;
    let mut out = Vec::new();
    for row in crate::system::roles::access_of(&state.store, role_id).await? {
        if row.requestor_mask & REQUESTOR_API == 0 || row.verb_mask == 0 {
            continue;
        }
        let service = match row.service_id {
            Some(id) => match services.iter().find(|s| s.id == id) {
                Some(s) if s.is_database() => s.name.clone(),
                _ => continue,
            },
            None => "every service".into(),
        };
        let rules: serde_json::Value =
            serde_json::from_str(&row.field_rules).unwrap_or(serde_json::Value::Null);
        let rules = crate::rbac::fields::parse(&rules).unwrap_or_default();
        let mut masked = Vec::new();
        let mut hidden = Vec::new();
        let mut names: Vec<_> = rules.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (field, rule) in names {
            match rule {
                crate::rbac::fields::FieldRule::Masked(m) => {
                    masked.push(format!("{field} ({})", m.name()));
                }
                crate::rbac::fields::FieldRule::Hidden => hidden.push(field.clone()),
                crate::rbac::fields::FieldRule::ReadOnly => {}
            }
        }
        out.push(Reach {
            service,
            component: row.component.clone(),
            verbs: Verb::in_mask(row.verb_mask)
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            filtered: !matches!(row.filters.trim(), "" | "[]"),
            masked,
            hidden,
        });
    }
    Ok(out)
}

/// `POST /oauth/authorize/consent`: allow (optionally read-only) or deny; either way the
/// browser goes back to the client with the answer.
pub async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let form = parse_form(&body);
    let Some((handle, _)) = form_request(&state, &req, &form).await? else {
        return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, EXPIRED));
    };
    let allow = form.get("decision").is_some_and(|d| d == "allow");
    let read_only = form.get("read_only").is_some_and(|v| v == "on");
    let Some((pending, url)) = flow::decide(&state, &handle, allow, read_only).await? else {
        return Ok(refusal_page(&req, StatusCode::BAD_REQUEST, EXPIRED));
    };
    if let Some(user_id) = pending.user_id
        && let Some(user) = state.user(user_id).await?
    {
        note_user(
            &req,
            &user,
            Some(pending.authorization.app_id),
            pending.role_id,
        );
    }
    note_kind(
        &req,
        if allow {
            "oauth_consent"
        } else {
            "oauth_denied"
        },
    );
    let expired = Cookie::build(COOKIE, "")
        .path("/oauth/authorize")
        .max_age(actix_web::cookie::time::Duration::ZERO)
        .finish();
    let mut res = HttpResponse::SeeOther()
        .insert_header(("Location", url))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    res.add_cookie(&expired)
        .map_err(|_| ApiError::bad_request("Cannot clear the request cookie."))?;
    Ok(res)
}

fn token_error(req: &HttpRequest, e: &TokenError) -> HttpResponse {
    note_kind(req, "oauth_token_refused");
    let status = match e.error {
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "invalid_client" => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"error": e.error, "error_description": e.description}))
}

/// `POST /oauth/token`: `authorization_code` or `refresh_token`.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let form = parse_form(&body);
    let result = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => flow::exchange(&state, &form).await,
        Some("refresh_token") => flow::refresh(&state, &form).await,
        Some(other) => Err(TokenError {
            error: "unsupported_grant_type",
            description: format!(
                "grant_type '{other}' is not supported; use authorization_code or refresh_token."
            ),
            grant_id: None,
        }),
        None => Err(TokenError {
            error: "invalid_request",
            description: "grant_type is required.".into(),
            grant_id: None,
        }),
    };
    match result {
        Ok(t) => {
            if let Some(user) = state.user(t.grant.user_id).await? {
                note_user(&req, &user, Some(t.grant.app_id), Some(t.grant.role_id));
            }
            note_kind(&req, "oauth_token");
            let mut res = HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Pragma", "no-cache"))
                .json(&t);
            if form
                .get("grant_type")
                .is_some_and(|g| g == "authorization_code")
            {
                // A new grant: the client may now act for the user.
                res.extensions_mut().insert(super::body::Changed {
                    before: serde_json::Value::Null,
                    after: t.grant.to_json(),
                    alert: true,
                    record: Some(("oauth_grant", t.grant.id)),
                });
            }
            Ok(res)
        }
        Err(e) => Ok(token_error(&req, &e)),
    }
}

/// `POST /oauth/revoke` (RFC 7009): always 200, whether the token was known or not.
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !state.config.oauth.enabled {
        return Err(disabled());
    }
    let form = parse_form(&body);
    let (Some(token), Some(client_id)) = (
        form.get("token").filter(|t| !t.is_empty()),
        form.get("client_id").filter(|c| !c.is_empty()),
    ) else {
        return Ok(HttpResponse::BadRequest().json(json!({
            "error": "invalid_request",
            "error_description": "token and client_id are required."
        })));
    };
    note_kind(&req, "oauth_revoke");
    flow::revoke_token(&state, token, client_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({})))
}

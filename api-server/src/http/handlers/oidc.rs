//! Browser sign-in through an OpenID Connect service, DreamFactory's way:
//! `GET /api/v2/user/session?service=x[&redirect=…]` answers a 302 to the provider (or, for
//! XHR callers, `{"response":{"redirect":true,"url":…}}`); the provider sends the browser back
//! to `…?service=x&oauth_callback=true&code&state`, which answers the session JSON or a 302 to
//! the allow-listed `redirect` carrying `session_token`. A cookie set with the first redirect
//! ties the callback to the browser that started the sign-in (no login CSRF).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::user::{SIGN_IN_TTL, external_sign_in, hold_sign_in, take_sign_in};
use crate::auth::AuthError;
use crate::http::error::{ApiError, ErrorKind};
use crate::identity::oidc::{OidcError, OidcProvider, Pending, VOLATILE_CLAIMS};
use crate::state::AppState;

/// The cookie that ties a sign-in to its browser.
const BROWSER_COOKIE: &str = "rampart_signin";

fn digest(text: &str) -> String {
    crate::system::crypto::sha256_hex(text.as_bytes())
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

async fn provider(
    state: &AppState,
    service: &str,
) -> Result<std::sync::Arc<OidcProvider>, ApiError> {
    state
        .providers
        .openid(&state.provider_sources(), Some(service), None)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Service '{service}' is not an OpenID Connect provider."
            ))
        })
}

fn unavailable(service: &str, cause: &str) -> ApiError {
    tracing::error!(%service, %cause, "OpenID Connect provider unavailable");
    AuthError::ProviderUnavailable.into()
}

/// Starts a sign-in.
pub async fn begin(
    state: &AppState,
    req: &HttpRequest,
    service: &str,
    q: &[(String, String)],
) -> Result<HttpResponse, ApiError> {
    let provider = provider(state, service).await?;
    let redirect = param(q, "redirect").map(str::to_owned);
    if let Some(r) = &redirect
        && !provider.settings.redirect_allowed(r)
        && !super::oauth::is_resume(state, r)
    {
        return Err(ApiError::bad_request(
            "This redirect is not allowed for this service (see its 'allowed_redirects').",
        ));
    }
    let (url, csrf, mut pending) = provider.begin(redirect).await.map_err(|e| match e {
        OidcError::Unavailable(c) | OidcError::Refused(c) => unavailable(service, &c),
    })?;
    let browser = crate::system::apps::generate_key();
    pending.browser = digest(&browser);
    let cookie = actix_web::cookie::Cookie::build(BROWSER_COOKIE, browser)
        .path("/api/v2/user/session")
        .http_only(true)
        .secure(req.connection_info().scheme() == "https")
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(SIGN_IN_TTL))
        .finish();
    hold_sign_in(state, &csrf, provider.service_id, &pending).await?;
    let xhr = req
        .headers()
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"));
    if xhr {
        return Ok(HttpResponse::Ok()
            .cookie(cookie)
            .json(json!({"response": {"redirect": true, "url": url}})));
    }
    Ok(HttpResponse::Found()
        .cookie(cookie)
        .insert_header(("Location", url))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

fn refused(service: &str, cause: &str) -> ApiError {
    tracing::warn!(%service, %cause, "OpenID Connect sign-in refused");
    ApiError::new(
        ErrorKind::Unauthorized,
        format!("The sign-in through '{service}' was refused. Start again."),
    )
}

/// Finishes a sign-in.
pub async fn callback(
    state: &AppState,
    req: &HttpRequest,
    service: &str,
    q: &[(String, String)],
) -> Result<HttpResponse, ApiError> {
    let provider = provider(state, service).await?;
    let stale = || {
        ApiError::bad_request(
            "The sign-in state is missing, unknown, expired or already used. Start again.",
        )
    };
    let csrf = param(q, "state").ok_or_else(stale)?;
    let pending: Pending = take_sign_in(state, csrf, provider.service_id)
        .await?
        .ok_or_else(stale)?;
    let same_browser = req
        .cookie(BROWSER_COOKIE)
        .is_some_and(|c| digest(c.value()) == pending.browser);
    if !same_browser {
        return Err(ApiError::bad_request(
            "This sign-in was started in another browser (or its cookie is gone). Start again.",
        ));
    }
    if let Some(error) = param(q, "error") {
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            format!("The identity provider did not sign you in ({error})."),
        ));
    }
    let code =
        param(q, "code").ok_or_else(|| ApiError::bad_request("The callback has no code."))?;
    let identity = provider
        .finish(code, &pending, param(q, "iss"))
        .await
        .map_err(|e| match e {
            OidcError::Unavailable(c) => unavailable(service, &c),
            OidcError::Refused(c) => refused(service, &c),
        })?;
    external_sign_in(
        state,
        req,
        &provider.service_name,
        &provider.mapping,
        &identity,
        VOLATILE_CLAIMS,
        None,
        pending.redirect,
    )
    .await
}

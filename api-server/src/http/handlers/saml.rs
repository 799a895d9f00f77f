//! SAML sign-in through a `saml` service, at DreamFactory's paths: `GET /api/v2/{svc}/sso`
//! (an AuthnRequest over HTTP-Redirect; `?redirect=` an allow-listed URL), `POST
//! /api/v2/{svc}/acs` (the IdP's Response; the session JSON, or a 302 to the redirect with
//! `session_token`), `GET /api/v2/{svc}/metadata` (the SP's metadata).

use actix_web::{HttpRequest, HttpResponse, web};

use super::user::{SIGN_IN_TTL, external_sign_in, hold_sign_in, take_sign_in};
use crate::http::error::{ApiError, ErrorKind};
use crate::identity::saml::{Pending, SamlProvider};
use crate::state::AppState;
use crate::system::saml_assertions;

async fn provider(
    state: &AppState,
    service: &str,
) -> Result<std::sync::Arc<SamlProvider>, ApiError> {
    state
        .providers
        .saml(&state.provider_sources(), service)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Service '{service}' is not a SAML identity provider."
            ))
        })
}

/// This SP's ACS and metadata URLs, as the request reached it.
fn urls(req: &HttpRequest, service: &str) -> (String, String) {
    let info = req.connection_info();
    let base = format!("{}://{}/api/v2/{service}", info.scheme(), info.host());
    (format!("{base}/acs"), format!("{base}/metadata"))
}

fn refused(service: &str, cause: &str) -> ApiError {
    tracing::warn!(%service, %cause, "SAML sign-in refused");
    ApiError::new(
        ErrorKind::Unauthorized,
        format!("The SAML response for '{service}' was refused. Start again."),
    )
}

/// `GET /api/v2/{svc}/metadata`
pub async fn metadata(
    state: web::Data<AppState>,
    req: HttpRequest,
    service: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state, &service).await?;
    let (acs, _) = urls(&req, &service);
    let xml = provider.metadata(&acs);
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml))
}

/// `GET /api/v2/{svc}/sso`
pub async fn sso(
    state: web::Data<AppState>,
    req: HttpRequest,
    service: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state, &service).await?;
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let redirect = query
        .iter()
        .find(|(k, _)| k == "redirect")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty());
    if let Some(r) = &redirect
        && !provider.settings.redirect_allowed(r)
        && !super::oauth::is_resume(&state, r)
    {
        return Err(ApiError::bad_request(
            "This redirect is not allowed for this service (see its 'allowed_redirects').",
        ));
    }
    let (acs, md) = urls(&req, &service);
    let relay = crate::system::apps::generate_key();
    let (url, request_id) = provider
        .begin(&acs, &md, &relay)
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("Cannot make the request: {e}")))?;
    let pending = Pending {
        request_id,
        redirect,
    };
    hold_sign_in(&state, &relay, provider.service_id, &pending).await?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", url))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// `POST /api/v2/{svc}/acs`
pub async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    service: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state, &service).await?;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let response =
        field("SAMLResponse").ok_or_else(|| ApiError::bad_request("No SAMLResponse."))?;
    let now = chrono::Utc::now().timestamp();
    // A sign-in this server started, or (when enabled) one the IdP started.
    let pending: Option<Pending> = match field("RelayState") {
        Some(relay) => take_sign_in(&state, &relay, provider.service_id).await?,
        None => None,
    };
    if pending.is_none() && !provider.settings.allow_idp_initiated {
        return Err(refused(
            &service,
            "no sign-in of ours is waiting for this response",
        ));
    }
    let (acs_url, md) = urls(&req, &service);
    let assertion = provider
        .verify(
            &acs_url,
            &md,
            &response,
            pending.as_ref().map(|p| p.request_id.as_str()),
        )
        .map_err(|e| refused(&service, &e))?;
    let expires = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after)
        .map_or(now + SIGN_IN_TTL, |t| t.timestamp() + 120);
    let issuer = assertion.issuer.value.clone().unwrap_or_default();
    if !saml_assertions::first_use(&state.store, &issuer, &assertion.id, expires, now).await? {
        return Err(refused(&service, "the assertion was used before"));
    }
    let identity = provider
        .identity(&assertion)
        .map_err(|e| refused(&service, &e))?;
    external_sign_in(
        &state,
        &req,
        &provider.service_name,
        &provider.mapping,
        &identity,
        &[],
        None,
        pending.and_then(|p| p.redirect),
    )
    .await
}

//! Typed extractors that authenticate before a handler runs: `Caller` (whoever sent
//! credentials, possibly nobody) and `SysAdmin` (a signed-in sys-admin, else 401/403).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::error::{ApiError, ErrorKind};
use crate::audit::{Note, Who};
use crate::auth::{self, Credentials, Principal};
use crate::state::AppState;

/// Reads credentials from the headers and query string (DreamFactory's names).
#[must_use]
pub fn credentials(req: &HttpRequest) -> Credentials {
    use super::names;
    let header = |name: &actix_web::http::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    // Read only when a header does not say (the query string is not copied otherwise).
    let param = |name: &str| {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let bearer = header(&actix_web::http::header::AUTHORIZATION).and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    Credentials {
        api_key: header(&names::API_KEY).or_else(|| param("api_key")),
        session_token: bearer
            .or_else(|| header(&names::SESSION_TOKEN))
            .or_else(|| param("session_token")),
        bridge: header(&names::BRIDGE),
    }
}

/// The client's address: the peer, or behind a trusted proxy, the client it forwarded for
/// (`http::address`).
#[must_use]
pub fn client_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req
        .app_data::<web::Data<AppState>>()
        .filter(|s| !s.proxies.is_empty())
    else {
        return Some(super::address::canonical(peer));
    };
    let forwarded = req
        .headers()
        .get_all(actix_web::http::header::X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok());
    Some(state.proxies.client(peer, forwarded))
}

/// [`client_ip`] as text (empty when there is no peer).
#[must_use]
pub fn client_address(req: &HttpRequest) -> String {
    client_ip(req).map(ip_text).unwrap_or_default()
}

/// An address as `Display` writes it; IPv4 (nearly every request) without the formatting
/// machinery, which cost every audited request a third of a microsecond.
fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

/// Tells the request's audit note who is acting (a sign-in names the person signed in).
pub fn note_who(req: &HttpRequest, principal: &Principal) {
    if let Some(note) = req.extensions().get::<std::sync::Arc<Note>>() {
        note.who(Who::of(principal));
    }
}

/// Tells the request's audit note that `user` is signed in (sign-in, session and profile
/// routes, which know the person before or without a `Principal`).
pub fn note_user(
    req: &HttpRequest,
    user: &crate::system::users::UserRecord,
    app_id: Option<i64>,
    role_id: Option<i64>,
) {
    if let Some(note) = req.extensions().get::<std::sync::Arc<Note>>() {
        note.who(Who::of_user(user, app_id, role_id));
    }
}

/// Tells the request's audit note which account a failed sign-in named.
pub fn note_attempt(req: &HttpRequest, account: &str) {
    if let Some(note) = req.extensions().get::<std::sync::Arc<Note>>() {
        note.update(|n| n.attempted = Some(account.to_owned()));
    }
}

/// Tells the request's audit note how many rows were returned or affected.
pub fn note_rows(req: &HttpRequest, rows: i64) {
    if let Some(note) = req.extensions().get::<std::sync::Arc<Note>>() {
        note.add_rows(rows);
    }
}

/// The verb a request acts with: its method, or on POST the one DreamFactory's tunnelling
/// names (`request::tunnelled`), read from the request's headers and query string.
pub fn acting_verb(req: &HttpRequest) -> Result<crate::rbac::Verb, crate::request::RequestError> {
    let method_override = crate::http::names::METHOD_OVERRIDES
        .iter()
        .find_map(|h| req.headers().get(h).and_then(|v| v.to_str().ok()));
    let query: Vec<_> = url::form_urlencoded::parse(req.query_string().as_bytes()).collect();
    crate::request::tunnelled(
        req.method().as_str(),
        method_override,
        query.iter().map(|(k, v)| (&**k, &**v)),
    )
}

/// Counts the request against the rate limits that apply to it: where it stands goes into
/// the request's extensions (for the `X-RateLimit-*` headers); over a limit, a 429 with
/// `Retry-After`. Sys-admins are never limited.
async fn enforce_limits(
    state: &AppState,
    req: &HttpRequest,
    p: &Principal,
) -> Result<(), ApiError> {
    // Most installations define no limit: then no request pays for a service lookup.
    if !state.limiter.any(&state.store).await? {
        return Ok(());
    }
    // The names the handler acts on (decoded), and the verb after tunnelling: a limit on
    // DELETE also counts a POST that says `X-HTTP-Method: DELETE`.
    let (service, endpoint) = crate::request::service_path(req.path()).unwrap_or_default();
    let service_id = match &*service {
        "" | "system" | "user" => None,
        name => state.service_by_name(name).await?.map(|s| s.id),
    };
    let verb =
        acting_verb(req).map_or_else(|_| req.method().as_str().to_owned(), |v| v.to_string());
    let facts = crate::limits::Facts {
        user_id: p.user.as_ref().map(|u| u.id),
        role_id: p.role_id,
        app_id: p.app.as_ref().map(|a| a.id),
        service_id,
        endpoint: endpoint.trim_matches('/'),
        verb: &verb,
    };
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    match state.limiter.check(&state.store, &facts, now).await? {
        Ok(Some(standing)) => {
            req.extensions_mut().insert(standing);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(over) => {
            req.extensions_mut().insert(over.state);
            let mut e = ApiError::new(ErrorKind::TooManyRequests, "API limit(s) exceeded.");
            e.context = serde_json::Value::Array(
                over.limits
                    .iter()
                    .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                    .collect(),
            );
            e.retry_after = Some(over.state.reset.max(1));
            Err(e)
        }
    }
}

/// A sys-admin, or a principal whose role grants `verb` on `resource` of the system service
/// through an access row naming it (`service_id` 0; rows for every service do not count).
pub async fn system_access(
    state: &AppState,
    caller: &Caller,
    resource: &str,
    verb: crate::rbac::Verb,
) -> Result<(), ApiError> {
    let Some(p) = &caller.principal else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "No session. Sign in and send the token as X-DreamFactory-Session-Token or Authorization: Bearer.",
        ));
    };
    if p.is_sys_admin() {
        return Ok(());
    }
    let role = match p.role_id {
        Some(id) => state.compiled_role(id).await?,
        None => None,
    };
    let granted = role.is_some_and(|r| {
        r.grants_on_named_service(
            crate::system::services::SYSTEM_ID,
            resource,
            verb,
            crate::rbac::verbs::REQUESTOR_API,
        )
    });
    if granted {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::Forbidden,
            format!(
                "Access Forbidden. {verb} access to '{resource}' of the system API needs a sys-admin or a role granting it on service 'system' (service_id 0)."
            ),
        ))
    }
}

/// The authenticated caller, if any credentials were sent (invalid ones are refused).
pub struct Caller {
    pub principal: Option<Principal>,
    pub credentials: Credentials,
}

impl Caller {
    /// The principal, or DreamFactory's "no credentials" 400.
    pub fn require(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::from(auth::AuthError::NoCredentials))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::new(ErrorKind::Internal, "state missing"))?;
            let credentials = credentials(&req);
            let identity = auth::authenticate(state, &credentials).await?;
            let principal = identity.map(Principal::from_identity);
            if let Some(p) = &principal {
                note_who(&req, p);
                if !p.is_sys_admin() {
                    enforce_limits(state, &req, p).await?;
                }
            }
            Ok(Self {
                principal,
                credentials,
            })
        })
    }
}

/// A signed-in sys-admin.
pub struct SysAdmin(pub Principal);

impl FromRequest for SysAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            match caller.principal {
                Some(p) if p.is_sys_admin() => Ok(Self(p)),
                Some(p) if p.user.is_some() => Err(ApiError::new(
                    ErrorKind::Forbidden,
                    "Access Forbidden. The system API needs a sys-admin session.",
                )),
                _ => Err(ApiError::new(
                    ErrorKind::Unauthorized,
                    "No admin session. Sign in at /api/v2/system/admin/session and send the token as X-DreamFactory-Session-Token or Authorization: Bearer.",
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "100.99.9.255",
            "192.168.100.1",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(super::ip_text(ip), ip.to_string());
        }
        for n in 0..=255_u8 {
            let ip = IpAddr::from([n, 255 - n, n / 3, n.wrapping_mul(7)]);
            assert_eq!(super::ip_text(ip), ip.to_string());
        }
    }
}

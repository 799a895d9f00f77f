//! `/mcp`: the MCP bridge over Streamable HTTP on the server's own port. Each request is
//! authenticated here like any API request (bearer token or API key, never a tool argument);
//! its `Caller` then travels in the request's extensions to the tools, which make their REST
//! requests with that same credential. The protocol itself (versions, Host and Origin checks,
//! stateless serving) is rmcp's.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use rampart_mcp::http::McpService;
use rampart_mcp::{Caller, Credential};

use crate::auth::{self, AuthError, Identity, Principal};
use crate::http::error::{ApiError, ErrorKind};
use crate::http::guard::credentials;
use crate::state::AppState;

/// The mounted service, or `None` when `mcp.enabled` is off.
pub struct McpEndpoint(pub Option<McpService>);

/// `POST|GET|DELETE /mcp`.
pub async fn handle(
    state: web::Data<AppState>,
    endpoint: web::Data<McpEndpoint>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(service) = endpoint.0.clone() else {
        return Err(ApiError::not_found("MCP is not enabled on this server."));
    };
    // MCP clients send credentials in headers only; a token in a URL ends up in logs.
    let in_query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, _)| k == "api_key" || k == "session_token" || k == "access_token");
    if in_query {
        return Err(ApiError::bad_request(
            "Send the credential in a header (Authorization: Bearer, or X-DreamFactory-API-Key), not in the URL.",
        ));
    }
    let creds = credentials(&req);
    let called = tools_called(&body);
    let challenge = Challenge::new(&state);
    let oauth = &state.config.oauth;
    let access_token = creds
        .session_token
        .clone()
        .filter(|t| oauth.enabled && crate::oauth::tokens::is_access_token(&state, t));
    let (principal, credential) = if let Some(token) = access_token {
        let identity = match crate::oauth::grant_identity(&state, &token).await {
            Ok(identity) => identity,
            Err(e @ (AuthError::Internal(_) | AuthError::System(_))) => return Err(e.into()),
            Err(e) => return Ok(challenge.invalid_token(&req, &e.to_string())),
        };
        let reads = matches!(identity, Identity::Grant { reads: true, .. });
        let principal = Principal::from_identity(identity);
        if !reads {
            return Ok(challenge.insufficient_scope(&req, crate::oauth::READ));
        }
        if principal.read_only
            && called
                .iter()
                .any(|n| rampart_mcp::tools::WRITE_TOOLS.contains(&n.as_str()))
        {
            return Ok(challenge.insufficient_scope(
                &req,
                &format!("{} {}", crate::oauth::READ, crate::oauth::WRITE),
            ));
        }
        let credential = Credential {
            api_key: None,
            bearer: Some(token),
            read_only: principal.read_only,
            tool: None,
            bridge: Some(state.oauth.bridge_secret().to_owned()),
            client: Some(crate::http::guard::client_address(&req)),
        };
        (principal, credential)
    } else {
        if creds.session_token.is_some() && oauth.enabled && !oauth.mcp_accepts_session_tokens {
            return Ok(challenge.invalid_token(
                &req,
                "This endpoint takes access tokens issued for it through OAuth; session tokens are not accepted here.",
            ));
        }
        if creds.session_token.is_none() && creds.api_key.is_some() && !oauth.mcp_accepts_api_keys {
            return Ok(challenge.invalid_token(
                &req,
                "This endpoint takes access tokens issued for it through OAuth; API keys are not accepted here.",
            ));
        }
        let identity = match auth::authenticate(&state, &creds).await {
            Ok(Some(identity)) => identity,
            Ok(None) => return Ok(challenge.missing(&req)),
            Err(e @ (AuthError::Internal(_) | AuthError::System(_))) => return Err(e.into()),
            Err(e) => return Ok(challenge.invalid_token(&req, &e.to_string())),
        };
        let principal = Principal::from_identity(identity);
        let credential = Credential {
            api_key: creds.api_key,
            bearer: creds.session_token,
            read_only: false,
            tool: None,
            // Vouches for the agent's address only: a key or session token is no access
            // token, the one credential the proof changes anything for.
            bridge: Some(state.oauth.bridge_secret().to_owned()),
            client: Some(crate::http::guard::client_address(&req)),
        };
        (principal, credential)
    };
    crate::http::guard::note_who(&req, &principal);
    let rest_requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    if let Some(tool) = tool_label(&called)
        && let Some(note) = req.extensions().get::<Arc<crate::audit::Note>>()
    {
        note.update(|n| {
            n.tool_call = Some(crate::audit::ToolCall {
                tool,
                rest_requests: Arc::clone(&rest_requests),
            });
        });
    }
    let caller = Caller {
        credential,
        read_only: principal.read_only || principal.app.as_ref().is_some_and(|a| a.read_only),
        services: Some(reachable_databases(&state, &principal).await?),
        rest_requests: Some(rest_requests),
    };
    let mut request = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let mut request = request
        .body(http_body_util::Full::new(body))
        .map_err(|e| ApiError::bad_request(format!("Malformed MCP request: {e}")))?;
    request.extensions_mut().insert(caller);
    let mut service = service;
    let response = tower_service::Service::call(&mut service, request)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = response.into_parts();
    let status = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append_header((n, v));
        }
    }
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(|never| match never {}));
    Ok(out.streaming::<_, std::convert::Infallible>(stream))
}

/// The `WWW-Authenticate` answers of the protected resource (RFC 6750, RFC 9728): where to
/// find the authorization server, and why a token was refused.
struct Challenge {
    metadata: String,
    scopes: String,
    oauth: bool,
}

impl Challenge {
    fn new(state: &AppState) -> Self {
        Self {
            metadata: format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                state.public_url()
            ),
            scopes: crate::oauth::SCOPES.join(" "),
            oauth: state.config.oauth.enabled,
        }
    }

    fn respond(
        &self,
        req: &HttpRequest,
        kind: ErrorKind,
        message: &str,
        header: String,
    ) -> HttpResponse {
        if let Some(note) = req.extensions().get::<std::sync::Arc<crate::audit::Note>>() {
            note.update(|n| n.kind = Some("mcp_refused"));
        }
        let mut r = ApiError::new(kind, message).error_response();
        if let Ok(v) = HeaderValue::from_str(&header) {
            r.headers_mut()
                .insert(actix_web::http::header::WWW_AUTHENTICATE, v);
        }
        r
    }

    /// No credential at all.
    fn missing(&self, req: &HttpRequest) -> HttpResponse {
        let header = if self.oauth {
            format!(
                "Bearer resource_metadata=\"{}\", scope=\"{}\"",
                self.metadata, self.scopes
            )
        } else {
            "Bearer realm=\"rampart\"".to_owned()
        };
        self.respond(
            req,
            ErrorKind::Unauthorized,
            &AuthError::NoCredentials.to_string(),
            header,
        )
    }

    /// A credential that is not (or no longer) valid here.
    fn invalid_token(&self, req: &HttpRequest, why: &str) -> HttpResponse {
        let header = if self.oauth {
            format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{}\"",
                why.replace(['"', '\\'], "'"),
                self.metadata
            )
        } else {
            "Bearer realm=\"rampart\", error=\"invalid_token\"".to_owned()
        };
        self.respond(req, ErrorKind::Unauthorized, why, header)
    }

    /// A valid token without the scope this call needs (step-up).
    fn insufficient_scope(&self, req: &HttpRequest, needed: &str) -> HttpResponse {
        let header = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{needed}\", resource_metadata=\"{}\"",
            self.metadata
        );
        self.respond(
            req,
            ErrorKind::Forbidden,
            &format!("This call needs the scope {needed}; authorize again with it."),
            header,
        )
    }
}

/// Whether a JSON-RPC body (one message or a batch) calls a tool that writes.
/// The tools a JSON-RPC message (or batch) calls, by name.
fn tools_called(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let name = |m: &serde_json::Value| {
        (m["method"] == "tools/call")
            .then(|| m["params"]["name"].as_str().unwrap_or_default().to_owned())
    };
    match &v {
        serde_json::Value::Array(items) => items.iter().filter_map(name).collect(),
        other => name(other).into_iter().collect(),
    }
}

/// The tool a request calls, as its audit event names it (several, in a batch, joined by
/// commas; a name that is no tool's, cut and kept printable).
fn tool_label(names: &[String]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let joined: String = names
        .join(",")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    Some(joined)
}

/// The database services the caller's role reaches (what `GET /api/v2` lists), so a tool
/// call that leaves out `service` needs no request of its own to find the only one.
async fn reachable_databases(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<String>, ApiError> {
    let role = match principal.role_id {
        Some(id) => state.compiled_role(id).await?,
        None => None,
    };
    let Some(role) = role.filter(|r| r.is_active) else {
        return Ok(Vec::new());
    };
    Ok(state
        .services_list()
        .await?
        .iter()
        .filter(|s| {
            s.is_active
                && s.is_database()
                && role.reaches_service(s.id, crate::rbac::verbs::REQUESTOR_API)
        })
        .map(|s| s.name.clone())
        .collect())
}

/// The endpoint for a server reachable at `base` (its own loopback address).
pub fn endpoint(config: &crate::config::Config, base: &str) -> Result<McpEndpoint, String> {
    if !config.mcp.enabled {
        return Ok(McpEndpoint(None));
    }
    let rest = rampart_mcp::HttpRest::new(
        base,
        std::time::Duration::from_secs(config.limits.statement_timeout_ms / 1000 + 30),
    )?;
    let settings = rampart_mcp::Settings {
        read_only: config.mcp.read_only,
        max_rows: config.mcp.max_rows.max(1),
        max_bytes: config.mcp.max_bytes.max(1024),
        ..rampart_mcp::Settings::default()
    };
    let options = rampart_mcp::http::HttpOptions {
        allowed_hosts: (!config.mcp.allowed_hosts.is_empty())
            .then(|| config.mcp.allowed_hosts.clone()),
        allowed_origins: config.mcp.allowed_origins.clone(),
        max_body_bytes: config.limits.max_body_bytes,
    };
    Ok(McpEndpoint(Some(rampart_mcp::http::service(
        Arc::new(rest),
        settings,
        options,
    ))))
}

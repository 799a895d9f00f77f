//! Streamable HTTP: the bridge as a stateless tower service, for the server to mount at
//! `/mcp`. Every request is answered on its own (no sessions: protocol 2026-07-28 has none,
//! and older clients are served without one), so any instance can answer any request. The
//! server authenticates each request and puts its `Caller` in the request's extensions;
//! the tools act with that credential only.

use std::sync::Arc;

use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

pub use rmcp::transport::streamable_http_server::StreamableHttpService;

use crate::rest::Rest;
use crate::tools::{Bridge, Settings};

/// The tower service answering `/mcp`.
pub type McpService = StreamableHttpService<Bridge, LocalSessionManager>;

/// Transport limits and DNS-rebinding defences.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `Host` values accepted; `None` keeps the loopback-only default.
    pub allowed_hosts: Option<Vec<String>>,
    /// Browser `Origin` values accepted (`scheme://host:port`, `:*` for any port); requests
    /// with another `Origin` are refused, requests without one pass.
    pub allowed_origins: Vec<String>,
    /// Largest request body.
    pub max_body_bytes: usize,
}

/// Origins of pages on this machine, the default when none are configured.
pub const LOOPBACK_ORIGINS: &[&str] =
    &["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// The service: one `Bridge` over `rest`, cloned for each request and acting for that
/// request's caller.
pub fn service(rest: Arc<dyn Rest>, settings: Settings, options: HttpOptions) -> McpService {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(options.max_body_bytes)
        .enforce_origin_validation();
    if let Some(hosts) = options.allowed_hosts {
        config = config.with_allowed_hosts(hosts);
    }
    config = if options.allowed_origins.is_empty() {
        config.with_allowed_origins(LOOPBACK_ORIGINS.iter().copied())
    } else {
        config.with_allowed_origins(options.allowed_origins)
    };
    // Built once: the tool router is the same for every request; each request's caller
    // comes with the request itself.
    let bridge = Bridge::new(rest, settings, None);
    StreamableHttpService::new(
        move || Ok(bridge.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

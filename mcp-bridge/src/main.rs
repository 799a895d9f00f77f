//! `rampart-mcp`: the bridge over stdio, for desktop agents (Claude Desktop, Cursor, VS Code).
//! It talks to a running Rampart server with the credential from its environment:
//!
//! - `RAMPART_URL` (default `http://127.0.0.1:8080`)
//! - `RAMPART_API_KEY` and/or `RAMPART_SESSION_TOKEN` (a session or an external issuer's JWT)
//! - `RAMPART_MCP_READ_ONLY=true` offers no write tool
//! - `RAMPART_MCP_MAX_ROWS` (default 500), `RAMPART_MCP_MAX_BYTES` (default 65536)
//!
//! Logs go to stderr; stdout carries MCP messages only.

use std::sync::Arc;
use std::time::Duration;

use rampart_mcp::{Bridge, Credential, HttpRest, Settings};
use rmcp::ServiceExt;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match env(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not '{v}'")),
    }
}

async fn run() -> Result<(), String> {
    let url = env("RAMPART_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let credential = Credential {
        api_key: env("RAMPART_API_KEY"),
        bearer: env("RAMPART_SESSION_TOKEN"),
        read_only: false,
        tool: None,
        bridge: None,
        client: None,
    };
    if credential.api_key.is_none() && credential.bearer.is_none() {
        return Err("set RAMPART_API_KEY or RAMPART_SESSION_TOKEN: the bridge acts with that credential only".into());
    }
    let read_only = match env("RAMPART_MCP_READ_ONLY").as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(format!(
                "RAMPART_MCP_READ_ONLY must be true or false, not '{other}'"
            ));
        }
    };
    let defaults = Settings::default();
    let settings = Settings {
        read_only,
        max_rows: number("RAMPART_MCP_MAX_ROWS", defaults.max_rows)?.max(1),
        max_bytes: number("RAMPART_MCP_MAX_BYTES", defaults.max_bytes)?.max(1024),
        ..defaults
    };
    let rest = HttpRest::new(&url, Duration::from_secs(60))?;
    let bridge = Bridge::connect(Arc::new(rest), settings, credential).await?;
    let service = bridge
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP start-up failed: {e}"))?;
    service
        .waiting()
        .await
        .map_err(|e| format!("MCP session ended with an error: {e}"))?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

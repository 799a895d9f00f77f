//! Start-up: data dir and keys, system store (migrated), first admin, state, HTTP server.
//! `Application::build` binds the port (0 picks one) so tests can run it in-process.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;

use crate::auth::session::SessionKeys;
use crate::config::Config;
use crate::http::{self, error::ApiError};
use crate::mail::Mailer;
use crate::state::AppState;
use crate::system::crypto::MasterKey;
use crate::system::{Store, users};

/// How often an instance checks for system changes made elsewhere (other instances, the
/// CLI): the longest a revocation elsewhere takes to hold here.
const CHANGE_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot use the data dir {0}: {1}")]
    DataDir(String, #[source] std::io::Error),
    #[error(transparent)]
    Key(#[from] crate::system::crypto::CryptoError),
    #[error("the JWT secret must be at least 32 bytes")]
    WeakJwtSecret,
    #[error(transparent)]
    Store(#[from] crate::system::SystemError),
    #[error("cannot create the first admin: {0}")]
    Bootstrap(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, #[source] std::io::Error),
    #[error("cannot set up the MCP endpoint: {0}")]
    Mcp(String),
    #[error("invalid [smtp] settings: {0}")]
    Mail(String),
}

/// Reads a key file, or creates it with `make` (mode 0600).
fn key_file(dir: &Path, name: &str, make: impl FnOnce() -> String) -> Result<String, StartupError> {
    let path = dir.join(name);
    let err = |e| StartupError::DataDir(path.display().to_string(), e);
    if path.exists() {
        return std::fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(err);
    }
    let value = make();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(err)?;
    file.write_all(value.as_bytes()).map_err(err)?;
    Ok(value)
}

/// The system store URL: configured, or the SQLite file in the data dir.
#[must_use]
pub fn store_url(config: &Config) -> String {
    match &config.system_database_url {
        Some(url) => url.expose_secret().to_owned(),
        None => format!("sqlite://{}", config.data_dir.join("rampart.db").display()),
    }
}

/// Opens (and migrates) the system store.
pub async fn open_store(config: &Config) -> Result<Store, StartupError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartupError::DataDir(config.data_dir.display().to_string(), e))?;
    let store = Store::connect(&store_url(config)).await?;
    store.migrate().await?;
    Ok(store)
}

/// The master key: configured, or the one generated into the data dir.
pub fn master_key(config: &Config) -> Result<MasterKey, StartupError> {
    Ok(match &config.master_key {
        Some(k) => MasterKey::from_base64(k.expose_secret())?,
        None => MasterKey::from_base64(&key_file(&config.data_dir, "master.key", || {
            MasterKey::generate().to_base64()
        })?)?,
    })
}

/// How long a stopping server waits for its last audit events to be stored.
const AUDIT_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

/// A running server.
pub struct Application {
    server: Server,
    port: u16,
    host: String,
    auditor: std::sync::Arc<crate::audit::Auditor>,
}

impl Application {
    /// Prepares everything and binds the listener.
    pub async fn build(mut config: Config) -> Result<Self, StartupError> {
        let store = open_store(&config).await?;
        let master_key = master_key(&config)?;
        let seed = config
            .jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        if seed.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(StartupError::WeakJwtSecret);
        }
        let sessions = SessionKeys::open(
            store.clone(),
            master_key.clone(),
            &config.jwt_issuer,
            config.jwt_ttl_minutes,
            seed.as_deref(),
        )
        .await?;
        bootstrap_admin(&config, &store).await?;

        let listener = TcpListener::bind(&config.listen)
            .map_err(|e| StartupError::Bind(config.listen.clone(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(config.listen.clone(), e))?;
        let max_body = config.limits.max_body_bytes;
        // The MCP tools reach the REST API through this server's own loopback address.
        let loopback = match addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                format!("http://127.0.0.1:{}", addr.port())
            }
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
                format!("http://[::1]:{}", addr.port())
            }
            std::net::IpAddr::V6(ip) => format!("http://[{ip}]:{}", addr.port()),
            std::net::IpAddr::V4(ip) => format!("http://{ip}:{}", addr.port()),
        };
        let mcp = web::Data::new(
            http::handlers::mcp::endpoint(&config, &loopback).map_err(StartupError::Mcp)?,
        );
        if config.public_url.is_none() {
            config.public_url = Some(loopback.clone());
        }
        let mailer =
            Mailer::from_config(&config.smtp).map_err(|e| StartupError::Mail(e.to_string()))?;
        let state = web::Data::new(AppState::new(config, store, master_key, sessions, mailer));
        let auditor = state.auditor.clone();
        tokio::spawn(state.clone().into_inner().watch_changes(CHANGE_CHECK));
        if state.config.audit.retention_days > 0 {
            tokio::spawn(crate::audit::purge_every_hour(
                state.store.clone(),
                crate::system::audit::ChainKey::new(&state.master_key),
                state.config.audit.retention_days,
            ));
        }
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(mcp.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .wrap(actix_web::middleware::from_fn(
                    http::middleware::request_context,
                ))
                .wrap(actix_web::middleware::from_fn(http::cors::cors))
                .configure(http::routes::configure)
                .default_service(web::to(|req: actix_web::HttpRequest| async move {
                    ApiError::not_found(format!("No route for {} {}.", req.method(), req.path()))
                }))
        })
        // A client that closes its connection abandons its request: the handler is dropped,
        // its database connection closed, and PostgreSQL stops the statement (see `query::exec`).
        .h1_allow_half_closed(false)
        .listen(listener)
        .map_err(|e| StartupError::Bind(addr.to_string(), e))?
        .shutdown_timeout(10)
        .run();
        Ok(Self {
            server,
            port: addr.port(),
            host: addr.ip().to_string(),
            auditor,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Prints where things are, then serves until stopped: SIGINT/SIGTERM drain in-flight
    /// requests, then the audit events not yet stored are stored.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let base = format!("http://{}:{}", self.host, self.port);
        let mut out = std::io::stdout();
        writeln!(out, "Rampart listening on {base}")?;
        writeln!(out, "  REST API      {base}/api/v2")?;
        writeln!(out, "  API docs      {base}/api/docs/")?;
        writeln!(out, "  Console       {base}/admin/")?;
        writeln!(out, "  Admin session {base}/api/v2/system/admin/session")?;
        out.flush()?;
        let served = self.server.await;
        let queued = self.auditor.depth();
        if tokio::time::timeout(AUDIT_FLUSH, self.auditor.flush())
            .await
            .is_err()
        {
            tracing::error!(
                events = self.auditor.depth(),
                "audit events not stored before the server stopped"
            );
        } else if queued > 0 {
            tracing::info!(
                events = queued,
                "audit events stored before the server stopped"
            );
        }
        served
    }
}

/// Creates the admin named by `admin_email`/`admin_password` when no admin exists yet.
async fn bootstrap_admin(config: &Config, store: &Store) -> Result<(), StartupError> {
    if users::count_admins(store).await? > 0 {
        return Ok(());
    }
    match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            crate::auth::accounts::create_admin(
                store,
                email,
                password.expose_secret(),
                config.auth.min_password_length,
            )
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
            tracing::info!(%email, "created the first admin");
        }
        _ => {
            let mut out = std::io::stdout();
            let _ = writeln!(
                out,
                "No admin exists yet. Create one with:\n  rampart admin create --email you@example.com --password '<at least 12 characters>'\n(or start with RAMPART_ADMIN_EMAIL and RAMPART_ADMIN_PASSWORD set)"
            );
        }
    }
    Ok(())
}

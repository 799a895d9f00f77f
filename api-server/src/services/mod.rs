//! Database services: a pool and an introspected schema per `pgsql` service, created on first
//! use, kept until the service changes, re-introspected on `?refresh=true`.
//!
//! Architecture invariant: the service password is decrypted only here, into the connection
//! options, and never logged or returned.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rampart_schema::{IntrospectOptions, SchemaModel, introspect};
use serde_json::{Map, Value};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

pub mod pipe;
pub mod pool;
mod tls;

pub use pool::ConnPool;

use crate::config::Limits;
use crate::system::crypto::MasterKey;
use crate::system::services::ServiceRecord;

/// How often PostgreSQL checks, during a statement, that a service connection's client is
/// still there: a cancelled request's statement stops within this many milliseconds.
const CLIENT_CHECK_MS: u32 = 250;

/// A connected database service.
#[derive(Debug)]
pub struct ServiceHandle {
    pub id: i64,
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    pub kind: String,
    pub pool: ConnPool,
    /// The service's `max_records` (clamped to the configured ceiling).
    pub max_records: u64,
    /// `db_role_map`: Rampart role name → database role the role's statements run as.
    pub db_roles: HashMap<String, String>,
    /// `expose_principal`: set `rampart.*` and `request.jwt.claims` for every request.
    pub expose_principal: bool,
    /// `allow_upsert`: PUT/PATCH by id creates the record when it does not exist.
    pub allow_upsert: bool,
    /// `cache`: which tables' answers are kept, and for how long.
    pub cache: Option<crate::cache::Policy>,
    options: IntrospectOptions,
    schema: RwLock<Arc<SchemaModel>>,
    /// The stored config it was made from (its secrets encrypted): a handle whose service
    /// changed since, on this node or another, is made again.
    config: String,
}

impl ServiceHandle {
    /// Whether the handle is what `record` makes: same config (every save encrypts it anew,
    /// so any save shows), name, label, description and type.
    fn made_from(&self, record: &ServiceRecord) -> bool {
        self.config == record.config
            && self.name == record.name
            && self.label == record.label
            && self.description == record.description
            && self.kind == record.kind
    }

    /// The current schema model.
    #[must_use]
    pub fn schema(&self) -> Arc<SchemaModel> {
        self.schema
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default()
    }

    /// Re-reads the schema.
    pub async fn refresh(&self) -> Result<Arc<SchemaModel>, ServiceError> {
        let model = Arc::new(introspect_with(&self.pool, &self.options).await?);
        if let Ok(mut slot) = self.schema.write() {
            *slot = Arc::clone(&model);
        }
        Ok(model)
    }
}

/// Introspects on a connection of the pool.
async fn introspect_with(
    pool: &ConnPool,
    options: &IntrospectOptions,
) -> Result<SchemaModel, ServiceError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| ServiceError::Connect(describe(&e.into())))?;
    let model = introspect(conn.conn(), options).await;
    conn.release(model.is_ok()).await;
    model.map_err(|e| ServiceError::Introspect(e.to_string()))
}

/// Why a service could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("Invalid service config: {0}")]
    Config(String),
    #[error("Could not connect to the database: {0}")]
    Connect(String),
    #[error("Could not read the database schema: {0}")]
    Introspect(String),
    #[error("Service type '{0}' is not a database service.")]
    NotDatabase(String),
}

fn text(config: &Map<String, Value>, key: &str) -> Option<String> {
    match config.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The service's pool size: its `pool_size` (1 to 200), else the configured default.
fn pool_size(config: &Map<String, Value>, limits: &Limits) -> u32 {
    config
        .get("pool_size")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|n| u32::try_from(n.clamp(1, 200)).ok())
        .unwrap_or(limits.service_pool_size)
}

/// Connection options from a decrypted `pgsql` config (`url`, or host/port/database/
/// username/password/sslmode/sslrootcert, and `statement_timeout_ms`).
pub fn connect_options(
    config: &Map<String, Value>,
    limits: &Limits,
) -> Result<PgConnectOptions, ServiceError> {
    let mut opts = match text(config, "url") {
        Some(url) => url
            .parse::<PgConnectOptions>()
            .map_err(|_| ServiceError::Config("`url` is not a valid postgres:// URL".into()))?,
        None => {
            let host = text(config, "host")
                .ok_or_else(|| ServiceError::Config("`host` is required (or `url`)".into()))?;
            let database = text(config, "database")
                .ok_or_else(|| ServiceError::Config("`database` is required".into()))?;
            let mut o = PgConnectOptions::new_without_pgpass()
                .host(&host)
                .database(&database);
            if let Some(port) = text(config, "port") {
                o = o.port(
                    port.parse()
                        .map_err(|_| ServiceError::Config("`port` must be a number".into()))?,
                );
            }
            if let Some(user) = text(config, "username") {
                o = o.username(&user);
            }
            if let Some(password) = text(config, "password") {
                o = o.password(&password);
            }
            o
        }
    };
    if let Some(mode) = text(config, "sslmode") {
        opts = opts.ssl_mode(
            mode.parse::<PgSslMode>()
                .map_err(|_| ServiceError::Config(format!("unknown sslmode '{mode}'")))?,
        );
    }
    // The CA that signed the server's certificate (PEM text), for verify-ca / verify-full.
    if let Some(pem) = text(config, "sslrootcert") {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(ServiceError::Config(
                "`sslrootcert` must be the CA certificate as PEM text".into(),
            ));
        }
        opts = opts.ssl_root_cert_from_pem(pem.into_bytes());
    } else if matches!(opts.get_ssl_mode(), PgSslMode::VerifyCa) {
        // Without its own CA, verify-ca would take a certificate of any public CA for any
        // host: a stranger's certificate for their own domain would do.
        return Err(ServiceError::Config(
            "sslmode=verify-ca needs `sslrootcert` (the PEM of the CA that signed the server's certificate); or use verify-full".into(),
        ));
    }
    // The service may set its own statement timeout (milliseconds), within 1 s and 1 hour.
    let timeout = config
        .get("statement_timeout_ms")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map_or(limits.statement_timeout_ms, |t| t.clamp(1000, 3_600_000))
        .to_string();
    Ok(opts
        .application_name("rampart")
        .options([("statement_timeout", timeout.as_str()), ("TimeZone", "UTC")]))
}

/// Where the service's pipelined connections connect: the exclusive connections' options,
/// with the password and CA they keep to themselves read from the same config.
fn pipe_target(
    config: &Map<String, Value>,
    options: &PgConnectOptions,
) -> Result<pipe::Target, ServiceError> {
    let password = match text(config, "url") {
        Some(url) => url::Url::parse(&url).ok().and_then(|u| {
            u.password().map(|p| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        }),
        None => text(config, "password"),
    };
    let root = text(config, "sslrootcert");
    pipe::Target::new(
        options,
        password.as_deref(),
        root.as_deref().map(str::as_bytes),
        Duration::from_secs(5),
    )
    .map_err(ServiceError::Config)
}

/// Connects once and closes, to test a service's config. The message never holds a secret.
pub async fn test_connection(
    config: &Map<String, Value>,
    limits: &Limits,
) -> Result<(), ServiceError> {
    let opts = connect_options(config, limits)?;
    let attempt = tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::PgConnection::connect_with(&opts),
    )
    .await;
    match attempt {
        Err(_) => Err(ServiceError::Connect("timed out after 5 s".into())),
        Ok(Err(e)) => Err(ServiceError::Connect(describe(&e))),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// A connection error in words that hold no secret.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(_) => "TLS negotiation failed".into(),
        sqlx::Error::Configuration(_) => "invalid connection settings".into(),
        _ => "connection failed".into(),
    }
}

/// The live services, by id.
#[derive(Debug, Default)]
pub struct Registry {
    /// Serialises connecting, so a service is connected and introspected once.
    handles: tokio::sync::Mutex<HashMap<i64, Arc<ServiceHandle>>>,
    /// The lock-free-ish read path for services already connected.
    live: RwLock<HashMap<i64, Arc<ServiceHandle>>>,
}

impl Registry {
    /// The handle of a service, connecting and introspecting it on first use.
    pub async fn get(
        &self,
        record: &ServiceRecord,
        key: &MasterKey,
        limits: &Limits,
    ) -> Result<Arc<ServiceHandle>, ServiceError> {
        if let Some(h) = self
            .live
            .read()
            .ok()
            .and_then(|live| live.get(&record.id).cloned())
            .filter(|h| h.made_from(record))
        {
            return Ok(h);
        }
        let mut handles = self.handles.lock().await;
        match handles.get(&record.id) {
            Some(h) if h.made_from(record) => return Ok(Arc::clone(h)),
            // The service changed on another node (whose announcement emptied the caches
            // this record came from): its login, TLS, timeouts and policies are read again,
            // on new connections.
            Some(_) => self.forget(&mut handles, record.id),
            None => {}
        }
        if !record.is_database() {
            return Err(ServiceError::NotDatabase(record.kind.clone()));
        }
        let config = record
            .decrypted_config(key)
            .map_err(|e| ServiceError::Config(e.to_string()))?;
        let opts = connect_options(&config, limits)?;
        let target = pipe_target(&config, &opts)?;
        let pool = ConnPool::connect(
            opts,
            pool_size(&config, limits),
            Duration::from_secs(5),
            Some(|conn| Box::pin(crate::statement::watch_client(conn, CLIENT_CHECK_MS))),
            Some(target),
        )
        .await
        .map_err(|e| ServiceError::Connect(describe(&e.into())))?;
        let options = IntrospectOptions {
            schema: text(&config, "schema"),
        };
        let model = introspect_with(&pool, &options).await?;
        let max_records = config
            .get("max_records")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(limits.max_records)
            .clamp(1, limits.max_records_ceiling);
        let db_roles = match config.get("db_role_map") {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|r| (k.clone(), r.to_owned())))
                .collect(),
            _ => HashMap::new(),
        };
        let expose_principal = config
            .get("expose_principal")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let allow_upsert = config
            .get("allow_upsert")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let handle = Arc::new(ServiceHandle {
            cache: crate::cache::Policy::from_config(&config),
            allow_upsert,
            db_roles,
            expose_principal,
            id: record.id,
            name: record.name.clone(),
            label: record.label.clone(),
            description: record.description.clone(),
            kind: record.kind.clone(),
            pool,
            max_records,
            options,
            schema: RwLock::new(Arc::new(model)),
            config: record.config.clone(),
        });
        handles.insert(record.id, Arc::clone(&handle));
        if let Ok(mut live) = self.live.write() {
            live.insert(record.id, Arc::clone(&handle));
        }
        Ok(handle)
    }

    /// Each connected service's connections.
    #[must_use]
    pub fn pools(&self) -> Vec<crate::metrics::PoolUse> {
        let live = self
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<_> = live
            .values()
            .map(|h| crate::metrics::PoolUse {
                service: h.name.clone(),
                open: h.pool.size(),
                idle: h.pool.num_idle(),
                max: h.pool.max_connections(),
                pipelined: h.pool.num_pipes(),
            })
            .collect();
        out.sort();
        out
    }

    /// Forgets a service (after it changed or was deleted); its pool closes.
    pub async fn evict(&self, id: i64) {
        let mut handles = self.handles.lock().await;
        self.forget(&mut handles, id);
    }

    /// Drops a service's handle from both maps; its pool closes (lent connections as they
    /// come back).
    fn forget(&self, handles: &mut HashMap<i64, Arc<ServiceHandle>>, id: i64) {
        if let Ok(mut live) = self.live.write() {
            live.remove(&id);
        }
        if let Some(h) = handles.remove(&id) {
            h.pool.close();
        }
    }
}

//! Configuration: one typed `Config`, loaded once from `rampart.toml` (optional), then
//! `RAMPART_*` environment variables, then CLI flags. This is the only module that reads the
//! environment. Secrets never appear in `Debug` output.
//!
//! Environment names follow one rule: `RAMPART_` + the key path in upper case, with `__`
//! between nested keys (`listen` → `RAMPART_LISTEN`, `limits.max_records` →
//! `RAMPART_LIMITS__MAX_RECORDS`).

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// Everything the server needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// Where the default SQLite system store and generated keys live.
    pub data_dir: PathBuf,
    /// The system store: `sqlite://path` or `postgres://…`. Default: `sqlite://{data_dir}/rampart.db`.
    pub system_database_url: Option<SecretString>,
    /// Base64 of 32 bytes; encrypts secrets at rest. Generated into the data dir when absent.
    pub master_key: Option<SecretString>,
    /// Secret for signing session tokens (at least 32 bytes). Generated into the data dir when absent.
    pub jwt_secret: Option<SecretString>,
    /// Issuer and audience of session tokens.
    pub jwt_issuer: String,
    /// Session lifetime in minutes.
    pub jwt_ttl_minutes: u64,
    /// Create this admin at start when no admin exists (with `admin_password`).
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Request and query limits.
    pub limits: Limits,
    /// The MCP endpoint at `/mcp`.
    pub mcp: Mcp,
    /// Local accounts: password policy, login throttling, registration, resets.
    pub auth: Auth,
    /// The mail server that sends password-reset codes.
    pub smtp: Smtp,
    /// The audit trail.
    pub audit: Audit,
    /// Rate limits (defined at `/api/v2/system/limit`): where their counters live.
    pub rate_limit: RateLimit,
    /// `/metrics`.
    pub metrics: MetricsConfig,
    /// Permission-change alerts.
    pub alerts: Alerts,
    /// The URL clients reach this server at (`https://rampart.example.com`), without a trailing
    /// slash: the OAuth issuer, and `{public_url}/mcp` the MCP resource tokens are bound to.
    /// Default: the address the server listens on (`http://127.0.0.1:8080`).
    pub public_url: Option<String>,
    /// The OAuth 2.1 authorization server for `/mcp` (remote agents sign in as a user).
    pub oauth: OAuth,
    /// Load balancers and reverse proxies (addresses, or networks such as `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client. Empty: the peer is the client, and the header is
    /// ignored (a client cannot name its own address).
    #[serde(deserialize_with = "list_or_csv")]
    pub trusted_proxies: Vec<String>,
}

/// The authorization server built into `rampart serve` (MCP authorization).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth {
    /// Serve `/oauth/*` and the discovery documents, and accept access tokens at `/mcp`.
    pub enabled: bool,
    /// Lifetime of access tokens, in seconds (short: revocation is checked on every call too).
    pub access_token_seconds: u64,
    /// Lifetime of refresh tokens, in days (each use rotates it).
    pub refresh_token_days: u64,
    /// Lifetime of an authorization code, in seconds.
    pub code_seconds: u64,
    /// Accept Rampart's own REST session tokens (and external issuers' JWTs) at `/mcp`, as
    /// before MCP authorization existed. Off: such tokens were not minted for the MCP resource.
    pub mcp_accepts_session_tokens: bool,
    /// Accept API keys at `/mcp` (an app's key alone, no user).
    pub mcp_accepts_api_keys: bool,
    /// The app that clients identified by a Client ID Metadata Document (an HTTPS `client_id`)
    /// act through; unset refuses such clients.
    pub metadata_document_app: Option<String>,
    /// The largest Client ID Metadata Document fetched, in bytes.
    pub metadata_document_max_bytes: usize,
    /// How long fetching a Client ID Metadata Document may take, in milliseconds.
    pub metadata_document_timeout_ms: u64,
    /// How long a fetched Client ID Metadata Document is reused, in seconds.
    pub metadata_document_cache_seconds: u64,
    /// Allow `http://` metadata document URLs on loopback hosts (development and tests only).
    pub metadata_document_allow_loopback_http: bool,
    /// Dynamic Client Registration (RFC 7591) at `/oauth/register`: off unless this names the
    /// app that clients registering themselves act through.
    pub dynamic_registration_app: Option<String>,
    /// Clients one address may register per hour.
    pub dynamic_registrations_per_hour: usize,
}

impl Default for OAuth {
    fn default() -> Self {
        Self {
            enabled: true,
            access_token_seconds: 300,
            refresh_token_days: 30,
            code_seconds: 60,
            mcp_accepts_session_tokens: false,
            mcp_accepts_api_keys: true,
            metadata_document_app: None,
            metadata_document_max_bytes: 5 * 1024,
            metadata_document_timeout_ms: 3000,
            metadata_document_cache_seconds: 300,
            metadata_document_allow_loopback_http: false,
            dynamic_registration_app: None,
            dynamic_registrations_per_hour: 10,
        }
    }
}

/// Where permission-change alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// The webhook each alert is POSTed to (none: no alerts).
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of `X-Rampart-Signature` (required with `webhook_url`).
    pub secret: Option<SecretString>,
    /// The first wait before a retry, in milliseconds; it doubles each time (up to 5 minutes).
    pub retry_initial_ms: u64,
    /// Attempts per alert before it is given up (and logged).
    pub max_attempts: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            webhook_url: None,
            secret: None,
            retry_initial_ms: 1000,
            max_attempts: 10,
        }
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A bearer token the scraper sends. Without one, only clients on this machine are served.
    pub token: Option<SecretString>,
}

/// Where rate-limit counters live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// `redis://host:port/db`: counters shared by every node using it (one budget). Without
    /// it, each node counts in memory.
    pub redis_url: Option<SecretString>,
}

/// The audit trail: one event per API request, MCP tool call, sign-in and system change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// Where each event also goes as one JSON line: `stdout`, `off`, or a file path.
    pub log: String,
    /// Events waiting to be written, at most; a full queue holds requests back until the
    /// writer catches up (or, with `fail_closed`, refuses them with 503).
    pub queue: usize,
    /// Refuse requests (503) rather than wait when the queue is full.
    pub fail_closed: bool,
    /// Events older than this many days are purged (0: kept forever).
    pub retention_days: u64,
    /// Keep the response body (up to 64 KiB, as sent: masked values masked) in the events of
    /// requests under these roles (names). Off by default.
    #[serde(deserialize_with = "list_or_csv")]
    pub capture_roles: Vec<String>,
    /// … and of requests to these tables, as `service.table` (`service.*`: all of it).
    #[serde(deserialize_with = "list_or_csv")]
    pub capture_tables: Vec<String>,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            log: "off".into(),
            queue: 10_000,
            fail_closed: false,
            retention_days: 365,
            capture_roles: Vec::new(),
            capture_tables: Vec::new(),
        }
    }
}

/// Local accounts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Shortest password accepted (8 at the least).
    pub min_password_length: usize,
    /// Failed sign-ins for one account, within the window, before its sign-ins wait (429).
    pub login_failures_per_account: usize,
    /// Failed sign-ins from one client address, within the window, before its sign-ins wait.
    pub login_failures_per_address: usize,
    /// The throttling window, in seconds.
    pub login_window_seconds: u64,
    /// Anyone may create an account at `/api/v2/user/register`.
    pub allow_open_registration: bool,
    /// The role registered users get for every app (else the app's default role applies).
    pub registration_role_id: Option<i64>,
    /// How long a password-reset code stays valid, in minutes.
    pub reset_code_ttl_minutes: u64,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            min_password_length: 12,
            login_failures_per_account: 20,
            login_failures_per_address: 100,
            login_window_seconds: 60,
            allow_open_registration: false,
            registration_role_id: None,
            reset_code_ttl_minutes: 30,
        }
    }
}

/// An SMTP server; without `host`, nothing is sent (password resets answer that e-mail is
/// not configured).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub host: Option<String>,
    pub port: u16,
    /// `starttls` (default), `tls` (implicit TLS, usually port 465) or `none` (a local relay).
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `Rampart <no-reply@example.com>`.
    pub from: String,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "Rampart <no-reply@localhost>".into(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// The MCP endpoint (Streamable HTTP at `/mcp`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mcp {
    /// Serve `/mcp`.
    pub enabled: bool,
    /// Offer no write tool to any caller (keys may also be read-only one by one).
    pub read_only: bool,
    /// `Host` values accepted at `/mcp` (DNS-rebinding defence), as a list or comma-separated;
    /// empty keeps the default, loopback names only. A public deployment names its hosts.
    #[serde(deserialize_with = "list_or_csv")]
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin` values accepted (`https://app.example.com`, `http://localhost:*`);
    /// empty keeps the default, pages on this machine only.
    #[serde(deserialize_with = "list_or_csv")]
    pub allowed_origins: Vec<String>,
    /// The most rows one tool call returns.
    pub max_rows: u32,
    /// The most bytes of rows one tool call returns.
    pub max_bytes: usize,
}

impl Default for Mcp {
    fn default() -> Self {
        Self {
            enabled: true,
            read_only: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_rows: 500,
            max_bytes: 64 * 1024,
        }
    }
}

/// A list given as a TOML array or, from the environment, as comma-separated text.
fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(l) => l,
        Either::Text(t) => t
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Request and query limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Default `max_records` of a service that sets none.
    pub max_records: u64,
    /// Upper bound of any service's `max_records`.
    pub max_records_ceiling: u64,
    /// Longest filter string accepted.
    pub filter_max_length: usize,
    /// Deepest nesting of a filter.
    pub filter_max_depth: usize,
    /// Longest `IN (…)` list or `ids` list.
    pub max_list: usize,
    /// `statement_timeout` of every request's statements, in milliseconds.
    pub statement_timeout_ms: u64,
    /// Connections per database service pool.
    pub service_pool_size: u32,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("rampart-data"),
            system_database_url: None,
            master_key: None,
            jwt_secret: None,
            jwt_issuer: "rampart".into(),
            jwt_ttl_minutes: 24 * 60,
            admin_email: None,
            admin_password: None,
            log_format: LogFormat::Text,
            limits: Limits::default(),
            mcp: Mcp::default(),
            auth: Auth::default(),
            smtp: Smtp::default(),
            audit: Audit::default(),
            rate_limit: RateLimit::default(),
            metrics: MetricsConfig::default(),
            alerts: Alerts::default(),
            public_url: None,
            oauth: OAuth::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_records: 1000,
            max_records_ceiling: 100_000,
            filter_max_length: 4096,
            filter_max_depth: 32,
            max_list: 1000,
            statement_timeout_ms: 30_000,
            service_pool_size: 10,
        }
    }
}

/// Why the configuration could not be loaded; each names its key and source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config ({origin}): {message}")]
    Invalid { origin: String, message: String },
}

/// Top-level keys, so unrelated `RAMPART_*` variables (e.g. `RAMPART_URL` of the MCP
/// client) are not mistaken for configuration.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "system_database_url",
    "master_key",
    "jwt_secret",
    "jwt_issuer",
    "jwt_ttl_minutes",
    "admin_email",
    "admin_password",
    "log_format",
    "limits",
    "mcp",
    "auth",
    "smtp",
    "audit",
    "rate_limit",
    "metrics",
    "alerts",
    "public_url",
    "oauth",
    "trusted_proxies",
];

/// Environment variable that names the config file.
const CONFIG_FILE_VAR: &str = "RAMPART_CONFIG";

impl Config {
    /// Loads `file` (or `$RAMPART_CONFIG`, or `./rampart.toml` if it exists), then applies
    /// `RAMPART_*` variables from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let file = file.map(Path::to_path_buf).or_else(|| {
            env.iter()
                .find(|(k, _)| k == CONFIG_FILE_VAR)
                .map(|(_, v)| PathBuf::from(v))
        });
        let file = file.or_else(|| {
            let default = PathBuf::from("rampart.toml");
            default.exists().then_some(default)
        });
        let text = match &file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_sources(&text, &env)
    }

    /// Builds a config from TOML text and environment pairs (pure; used by `load` and tests).
    pub fn from_sources(toml_text: &str, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut root: toml::Table =
            toml::from_str(toml_text).map_err(|e| ConfigError::Invalid {
                origin: "config file".into(),
                message: e.to_string(),
            })?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("RAMPART_") else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if !KEYS.contains(&path[0].as_str()) {
                continue;
            }
            insert_path(&mut root, &path, env_value(value)).map_err(|message| {
                ConfigError::Invalid {
                    origin: name.clone(),
                    message,
                }
            })?;
        }
        let config: Config =
            toml::Value::Table(root)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    origin: "config".into(),
                    message: e.to_string(),
                })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            origin: key.into(),
            message: message.into(),
        };
        if self.listen.parse::<std::net::SocketAddr>().is_err()
            && self
                .listen
                .rsplit_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(invalid("listen", "expected host:port, e.g. 127.0.0.1:8080"));
        }
        if self.limits.max_records == 0 || self.limits.max_records > self.limits.max_records_ceiling
        {
            return Err(invalid(
                "limits.max_records",
                "must be between 1 and limits.max_records_ceiling",
            ));
        }
        if self.jwt_ttl_minutes == 0 {
            return Err(invalid("jwt_ttl_minutes", "must be at least 1"));
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && !url.ends_with('/')
            });
            if parsed.is_none() {
                return Err(invalid(
                    "public_url",
                    "expected an http(s) URL without a trailing slash, query or fragment, e.g. https://rampart.example.com",
                ));
            }
        }
        if self.oauth.access_token_seconds == 0
            || self.oauth.code_seconds == 0
            || self.oauth.refresh_token_days == 0
        {
            return Err(invalid(
                "oauth.access_token_seconds",
                "token, code and refresh lifetimes must be at least 1",
            ));
        }
        if !(8..=crate::auth::password::MAX_LENGTH).contains(&self.auth.min_password_length) {
            return Err(invalid(
                "auth.min_password_length",
                "must be between 8 and 1024",
            ));
        }
        if self.auth.login_failures_per_account == 0
            || self.auth.login_failures_per_address == 0
            || self.auth.login_window_seconds == 0
        {
            return Err(invalid(
                "auth.login_failures_per_account",
                "login throttling limits and window must be at least 1",
            ));
        }
        if self.auth.reset_code_ttl_minutes == 0 {
            return Err(invalid("auth.reset_code_ttl_minutes", "must be at least 1"));
        }
        if let Err(e) = crate::http::address::Proxies::parse(&self.trusted_proxies) {
            return Err(invalid("trusted_proxies", &e));
        }
        if self.alerts.webhook_url.is_some()
            && self
                .alerts
                .secret
                .as_ref()
                .is_none_or(|s| s.expose_secret().trim().is_empty())
        {
            return Err(invalid(
                "alerts.secret",
                "is required with alerts.webhook_url: receivers check each alert's X-Rampart-Signature with it, so that no one else can send them alerts",
            ));
        }
        Ok(())
    }
}

/// Environment values are strings; numbers and booleans are recognised so typed keys work.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [head, rest @ ..] => {
            let entry = table
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => insert_path(inner, rest, value),
                _ => Err(format!("`{head}` is not a table")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn trusted_proxies_come_as_a_list_and_a_bad_one_is_named() {
        let c = Config::from_sources(
            "",
            &env(&[("RAMPART_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1")]),
        )
        .unwrap();
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "192.168.0.1"]);
        let e = Config::from_sources("", &env(&[("RAMPART_TRUSTED_PROXIES", "lb.internal")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("trusted_proxies") && e.contains("lb.internal"),
            "{e}"
        );
    }

    #[test]
    fn a_webhook_without_a_secret_to_sign_its_alerts_is_refused() {
        let url = (
            "RAMPART_ALERTS__WEBHOOK_URL",
            "https://hooks.example.com/rampart",
        );
        for secret in [None, Some(""), Some("  ")] {
            let mut pairs = vec![url];
            pairs.extend(secret.map(|s| ("RAMPART_ALERTS__SECRET", s)));
            let e = Config::from_sources("", &env(&pairs))
                .unwrap_err()
                .to_string();
            assert!(e.contains("alerts.secret"), "{e}");
        }
        let signed = Config::from_sources(
            "",
            &env(&[url, ("RAMPART_ALERTS__SECRET", "a-long-enough-secret-91")]),
        );
        assert!(signed.is_ok());
    }

    #[test]
    fn no_file_and_no_environment_gives_the_documented_defaults() {
        let c = Config::from_sources("", &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("rampart-data"));
        assert!(c.system_database_url.is_none());
        assert_eq!(c.limits.max_records, 1000);
    }

    #[test]
    fn environment_overrides_the_file_and_nests_with_double_underscores() {
        let c = Config::from_sources(
            "listen = \"0.0.0.0:9000\"\n[limits]\nmax_records = 50\n",
            &env(&[
                ("RAMPART_LISTEN", "127.0.0.1:0"),
                ("RAMPART_LIMITS__MAX_LIST", "7"),
                ("RAMPART_SYSTEM_DATABASE_URL", "postgres://u:secret@h/db"),
                ("RAMPART_URL", "http://unrelated"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        assert_eq!(c.limits.max_records, 50);
        assert_eq!(c.limits.max_list, 7);
        assert_eq!(
            c.system_database_url.unwrap().expose_secret(),
            "postgres://u:secret@h/db"
        );
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused_with_their_name() {
        let err = Config::from_sources("lisen = \"x\"", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c =
            Config::from_sources("", &env(&[("RAMPART_MASTER_KEY", "c3VwZXJzZWNyZXQ=")])).unwrap();
        assert!(!format!("{c:?}").contains("c3VwZXJzZWNyZXQ="));
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        assert!(Config::from_sources("listen = \"nonsense\"", &[]).is_err());
    }

    #[test]
    fn a_public_url_must_be_a_bare_http_base() {
        for bad in [
            "rampart.example.com",
            "https://rampart.example.com/",
            "https://rampart.example.com?x=1",
            "ftp://rampart.example.com",
        ] {
            let env = [("RAMPART_PUBLIC_URL".to_owned(), bad.to_owned())];
            assert!(Config::from_sources("", &env).is_err(), "{bad}");
        }
        let env = [(
            "RAMPART_PUBLIC_URL".to_owned(),
            "https://rampart.example.com/base".to_owned(),
        )];
        let c = Config::from_sources("", &env).unwrap();
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://rampart.example.com/base")
        );
        assert!(c.oauth.enabled && !c.oauth.mcp_accepts_session_tokens);
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../rampart.example.toml");
        Config::from_sources(text, &[]).unwrap();
    }
}

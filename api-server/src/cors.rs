//! CORS: which browser origins may call which paths (DreamFactory's `/system/cors` entries).
//! Without an entry for a request's origin and path, no CORS header is sent and browsers keep
//! other sites' pages out (deny by default). Entries are matched oldest first; the first
//! enabled one whose path and origin match answers.
//!
//! A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, before
//! authentication, since browsers send no credentials with it. An entry with origin `*` and
//! credentials echoes any origin with `Access-Control-Allow-Credentials: true`: every site
//! may then act with a signed-in browser's cookies, which `rampart doctor` reports.

use std::sync::{Arc, PoisonError, RwLock};

use crate::system::cors::{CorsFields, CorsRecord};
use crate::system::{Store, SystemError};

/// The verbs an entry may allow.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// An entry ready for matching.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i64,
    path: String,
    /// `None`: any origin.
    origins: Option<Vec<String>>,
    pub headers: String,
    pub exposed: String,
    pub max_age: i64,
    pub methods: Vec<String>,
    pub credentials: bool,
}

impl Rule {
    fn of(r: &CorsRecord) -> Self {
        let origins = split(&r.origin);
        Self {
            id: r.id,
            path: r.path.trim_start_matches('/').to_owned(),
            origins: (!origins.iter().any(|o| o == "*"))
                .then(|| origins.iter().map(|o| o.to_ascii_lowercase()).collect()),
            headers: r.header.clone(),
            exposed: r.exposed_header.clone(),
            max_age: r.max_age,
            methods: serde_json::from_str(&r.method).unwrap_or_default(),
            credentials: r.supports_credentials,
        }
    }

    /// Whether the entry covers `path` (the request path, with its leading `/`). `x/*`
    /// covers `x` itself too, as a component wildcard does.
    fn covers(&self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        glob(&self.path, path) || self.path.strip_suffix("/*") == Some(path)
    }

    fn admits(&self, origin: &str) -> bool {
        self.origins
            .as_ref()
            .is_none_or(|list| list.iter().any(|o| o.eq_ignore_ascii_case(origin)))
    }

    /// The `Access-Control-Allow-Origin` value for `origin`: `*` only for an entry open to
    /// every origin without credentials (a browser refuses `*` with credentials).
    #[must_use]
    pub fn allow_origin<'o>(&self, origin: &'o str) -> &'o str {
        if self.origins.is_none() && !self.credentials {
            "*"
        } else {
            origin
        }
    }

    /// Whether the entry opens every origin to credentialed requests.
    #[must_use]
    pub fn any_origin_with_credentials(&self) -> bool {
        self.origins.is_none() && self.credentials
    }
}

/// Comma-separated items, trimmed, without empty ones.
fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Checks an entry's fields: a path, origins that are `*` or `scheme://host[:port]`, known
/// verbs, header names, a max age that is not negative.
pub fn validate(f: &CorsFields) -> Result<(), String> {
    if f.path.trim().is_empty() {
        return Err("Field 'path' can not be empty: use * for every path.".into());
    }
    if f.path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Field 'path' can not contain spaces.".into());
    }
    let origins = split(&f.origin);
    if origins.is_empty() {
        return Err("Field 'origin' can not be empty: list origins, or * for any.".into());
    }
    for o in &origins {
        if o != "*" && !is_origin(o) {
            return Err(format!(
                "'{o}' is not an origin: write scheme://host[:port], e.g. https://app.example.com, or *."
            ));
        }
    }
    for name in split(&f.header).iter().chain(&split(&f.exposed_header)) {
        if name != "*"
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("'{name}' is not a header name."));
        }
    }
    if f.methods.is_empty() {
        return Err("Field 'method' must name at least one verb.".into());
    }
    if let Some(m) = f.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
        return Err(format!(
            "Unknown verb '{m}' in 'method'; use {}.",
            METHODS.join(", ")
        ));
    }
    if !(0..=86_400).contains(&f.max_age) {
        return Err("Field 'max_age' must be between 0 and 86400 seconds.".into());
    }
    Ok(())
}

/// `scheme://host[:port]`, nothing more (browsers send origins in this form).
fn is_origin(text: &str) -> bool {
    let Some((scheme, authority)) = text.split_once("://") else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p))
            if !h.is_empty()
                && (!h.starts_with('[') || h.ends_with(']'))
                && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (h, Some(p))
        }
        _ => (authority, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        }
    };
    scheme_ok && port_ok && host_ok
}

/// The enabled entries, cached until a system change.
#[derive(Default)]
pub struct Policy {
    rules: RwLock<Option<Arc<Vec<Arc<Rule>>>>>,
}

impl Policy {
    /// Forgets the cached entries (after a system change).
    pub fn invalidate(&self) {
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn rules(&self, store: &Store) -> Result<Arc<Vec<Arc<Rule>>>, SystemError> {
        if let Some(r) = self
            .rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(r);
        }
        let rules: Arc<Vec<Arc<Rule>>> = Arc::new(
            crate::system::cors::list(store)
                .await?
                .iter()
                .filter(|r| r.enabled)
                .map(|r| Arc::new(Rule::of(r)))
                .collect(),
        );
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = Some(rules.clone());
        Ok(rules)
    }

    /// The entry that answers a request from `origin` for `path`, if any (shared, not copied:
    /// every browser request asks).
    pub async fn rule_for(
        &self,
        store: &Store,
        path: &str,
        origin: &str,
    ) -> Result<Option<Arc<Rule>>, SystemError> {
        Ok(self
            .rules(store)
            .await?
            .iter()
            .find(|r| r.covers(path) && r.admits(origin))
            .cloned())
    }
}

/// Whether an entry opens every origin to credentialed requests (for `rampart doctor`).
#[must_use]
pub fn any_origin_with_credentials(record: &CorsRecord) -> bool {
    record.enabled && Rule::of(record).any_origin_with_credentials()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_wildcard_covers_its_parent() {
        let rule = Rule::of(&CorsRecord {
            id: 1,
            path: "/api/v2/*".into(),
            description: None,
            origin: "*".into(),
            header: String::new(),
            exposed_header: String::new(),
            max_age: 0,
            method: "[\"GET\"]".into(),
            supports_credentials: false,
            enabled: true,
            created_date: chrono::Utc::now(),
            last_modified_date: chrono::Utc::now(),
        });
        assert!(rule.covers("/api/v2"));
        assert!(rule.covers("/api/v2/db"));
        assert!(!rule.covers("/api/v20"));
        assert!(!rule.covers("/mcp"));
    }

    #[test]
    fn globs_match_paths() {
        assert!(glob("*", "api/v2/db/_table/x"));
        assert!(glob("api/v2/*", "api/v2/db/_table/x"));
        assert!(!glob("api/v2/*", "mcp"));
        assert!(glob("api/v2/db/_table/*", "api/v2/db/_table/orders"));
        assert!(glob("api/*/_table/*", "api/v2/_table/x"));
        assert!(!glob("api/v2/db", "api/v2/db/_table"));
        assert!(glob("api/v2/db", "api/v2/db"));
        assert!(glob("*orders", "api/v2/db/_table/orders"));
        assert!(!glob("*orders", "api/v2/db/_table/orders/1"));
    }

    fn fields(origin: &str) -> CorsFields {
        CorsFields {
            path: "api/v2/*".into(),
            description: None,
            origin: origin.into(),
            header: "Content-Type, X-DreamFactory-Api-Key".into(),
            exposed_header: "X-Request-Id".into(),
            max_age: 600,
            methods: vec!["GET".into()],
            supports_credentials: false,
            enabled: true,
        }
    }

    #[test]
    fn origins_are_checked() {
        assert!(validate(&fields("https://app.example.com")).is_ok());
        assert!(
            validate(&fields(
                "https://app.example.com:8443, http://localhost:5173"
            ))
            .is_ok()
        );
        assert!(validate(&fields("*")).is_ok());
        assert!(validate(&fields("http://[::1]:8080")).is_ok());
        for bad in [
            "app.example.com",
            "https://",
            "",
            "https://a b",
            "https://x/path",
            "https://x:99999",
        ] {
            assert!(validate(&fields(bad)).is_err(), "{bad}");
        }
        let mut f = fields("*");
        f.methods = vec!["TRACE".into()];
        assert!(validate(&f).is_err());
        f.methods = vec![];
        assert!(validate(&f).is_err());
        let mut f = fields("*");
        f.header = "X-Ok, Bad Header".into();
        assert!(validate(&f).is_err());
    }
}

//! The one way the bridge reaches data: a `RestOp`, a closed set of REST requests built from
//! validated tool arguments, sent through a `Rest` backend with the caller's credential. No
//! operation takes a path or SQL: names become single, percent-encoded path segments, and
//! every other value a query parameter or JSON body the REST layer checks like any other.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};

/// The HTTP verb of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// One REST request.
#[derive(Debug, Clone, PartialEq)]
pub enum RestOp {
    /// `GET /api/v2`: the services the caller reaches.
    Services,
    /// `GET /api/v2/user/session`: who the caller is.
    Session,
    /// `GET /api/v2/{service}/_table`: the tables the caller may use.
    Tables { service: String },
    /// `GET /api/v2/{service}/_table/{table}` with read parameters.
    Read {
        service: String,
        table: String,
        query: Vec<(&'static str, String)>,
    },
    /// `GET /api/v2/{service}/_table/{table}/{id}`.
    Record {
        service: String,
        table: String,
        id: String,
    },
    /// `POST /api/v2/{service}/_table/{table}` of records.
    Insert {
        service: String,
        table: String,
        rows: Vec<Value>,
    },
    /// `PATCH /api/v2/{service}/_table/{table}?filter=…&max_affected=…` with the changes.
    Update {
        service: String,
        table: String,
        filter: String,
        set: Map<String, Value>,
        max_affected: u64,
    },
    /// `DELETE /api/v2/{service}/_table/{table}?filter=…&max_affected=…`.
    Delete {
        service: String,
        table: String,
        filter: String,
        max_affected: u64,
    },
    /// `POST /api/v2/{service}/_func/{name}` with named arguments.
    Call {
        service: String,
        function: String,
        args: Map<String, Value>,
    },
}

impl RestOp {
    /// The verb.
    #[must_use]
    pub fn method(&self) -> Method {
        match self {
            Self::Services
            | Self::Session
            | Self::Tables { .. }
            | Self::Read { .. }
            | Self::Record { .. } => Method::Get,
            Self::Insert { .. } | Self::Call { .. } => Method::Post,
            Self::Update { .. } => Method::Patch,
            Self::Delete { .. } => Method::Delete,
        }
    }

    /// Whether the operation may change data.
    #[must_use]
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Self::Insert { .. } | Self::Update { .. } | Self::Delete { .. } | Self::Call { .. }
        )
    }

    /// The path below the server root, as segments (each one percent-encoded when sent).
    #[must_use]
    pub fn segments(&self) -> Vec<&str> {
        let mut s = vec!["api", "v2"];
        match self {
            Self::Services => {}
            Self::Session => s.extend(["user", "session"]),
            Self::Tables { service } => s.extend([service.as_str(), "_table"]),
            Self::Read { service, table, .. }
            | Self::Insert { service, table, .. }
            | Self::Update { service, table, .. }
            | Self::Delete { service, table, .. } => {
                s.extend([service.as_str(), "_table", table.as_str()]);
            }
            Self::Record { service, table, id } => {
                s.extend([service.as_str(), "_table", table.as_str(), id.as_str()]);
            }
            Self::Call {
                service, function, ..
            } => s.extend([service.as_str(), "_func", function.as_str()]),
        }
        s
    }

    /// The query string's pairs.
    #[must_use]
    pub fn query(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Read { query, .. } => query.clone(),
            Self::Insert { .. } => vec![("fields", "*".into())],
            Self::Update {
                filter,
                max_affected,
                ..
            }
            | Self::Delete {
                filter,
                max_affected,
                ..
            } => vec![
                ("filter", filter.clone()),
                ("max_affected", max_affected.to_string()),
                ("fields", "*".into()),
            ],
            _ => Vec::new(),
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Option<Value> {
        match self {
            Self::Insert { rows, .. } => Some(serde_json::json!({ "resource": rows })),
            Self::Update { set, .. } => Some(Value::Object(set.clone())),
            Self::Call { args, .. } => Some(serde_json::json!({ "params": args })),
            _ => None,
        }
    }
}

/// What the REST layer answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RestReply {
    pub status: u16,
    pub body: Value,
}

impl RestReply {
    /// Whether it succeeded.
    #[must_use]
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no answer at all.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Rampart at {0} cannot be reached: {1}")]
    Unreachable(String, String),
    #[error("Rampart answered something that is not JSON (status {0}).")]
    NotJson(u16),
}

/// A boxed future, so backends can be used as trait objects.
pub type RestFuture<'a> = Pin<Box<dyn Future<Output = Result<RestReply, RestError>> + Send + 'a>>;

/// Sends operations to the REST layer with the caller's credential.
pub trait Rest: Send + Sync {
    fn send<'a>(&'a self, op: RestOp, credential: &'a Credential) -> RestFuture<'a>;
}

/// The caller's credential, exactly as the REST layer takes it.
#[derive(Clone, Default)]
pub struct Credential {
    pub api_key: Option<String>,
    /// A Rampart session token or an external issuer's JWT.
    pub bearer: Option<String>,
    /// Ask the REST layer to refuse writes for this caller too (`X-Rampart-Read-Only`).
    pub read_only: bool,
    /// The MCP tool the request is made for (`X-Rampart-Tool`, recorded by the audit trail).
    pub tool: Option<String>,
    /// The server's own MCP endpoint vouching for the request (`X-Rampart-Bridge`): it
    /// forwards an OAuth access token the REST API accepts from it only.
    pub bridge: Option<String>,
    /// The address of the agent the server's own MCP endpoint serves (`X-Rampart-Client`),
    /// which the audit trail records instead of the endpoint's own; believed only with
    /// `bridge`.
    pub client: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .field("bearer", &self.bearer.as_ref().map(|_| "…"))
            .field("read_only", &self.read_only)
            .field("bridge", &self.bridge.as_ref().map(|_| "…"))
            .field("client", &self.client)
            .finish()
    }
}

/// A REST backend over HTTP: a running Rampart server.
pub struct HttpRest {
    base: url::Url,
    http: reqwest::Client,
}

impl HttpRest {
    /// A backend for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        let base = url::Url::parse(base).map_err(|e| format!("RAMPART_URL '{base}': {e}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(format!("RAMPART_URL '{base}' must be an http(s) URL"));
        }
        // Never through a proxy: the caller's credential (and the server's own vouching for
        // its MCP endpoint) goes to the REST API only.
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { base, http })
    }

    /// The URL of an operation: the base path, then its segments, each percent-encoded.
    #[must_use]
    pub fn url(&self, op: &RestOp) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for seg in op.segments() {
                path.push(seg);
            }
        }
        url
    }
}

impl Rest for HttpRest {
    fn send<'a>(&'a self, op: RestOp, credential: &'a Credential) -> RestFuture<'a> {
        Box::pin(async move {
            let method = match op.method() {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Patch => reqwest::Method::PATCH,
                Method::Delete => reqwest::Method::DELETE,
            };
            let mut req = self.http.request(method, self.url(&op)).query(&op.query());
            if let Some(key) = &credential.api_key {
                req = req.header("X-DreamFactory-API-Key", key);
            }
            if let Some(token) = &credential.bearer {
                req = req.bearer_auth(token);
            }
            if credential.read_only {
                req = req.header("X-Rampart-Read-Only", "true");
            }
            if let Some(tool) = &credential.tool {
                req = req.header("X-Rampart-Tool", tool);
            }
            if let Some(proof) = &credential.bridge {
                req = req.header("X-Rampart-Bridge", proof);
            }
            if let Some(client) = &credential.client {
                req = req.header("X-Rampart-Client", client);
            }
            if let Some(body) = op.body() {
                req = req.json(&body);
            }
            let res = req
                .send()
                .await
                .map_err(|e| RestError::Unreachable(self.base.to_string(), e.to_string()))?;
            let status = res.status().as_u16();
            let bytes = res
                .bytes()
                .await
                .map_err(|e| RestError::Unreachable(self.base.to_string(), e.to_string()))?;
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).map_err(|_| RestError::NotJson(status))?
            };
            Ok(RestReply { status, body })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest() -> HttpRest {
        HttpRest::new("http://127.0.0.1:8080/base/", Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn names_stay_single_path_segments() {
        let op = RestOp::Record {
            service: "db".into(),
            table: "orders/../../system/admin".into(),
            id: "1?x=1#y".into(),
        };
        assert_eq!(
            rest().url(&op).as_str(),
            "http://127.0.0.1:8080/base/api/v2/db/_table/orders%2F..%2F..%2Fsystem%2Fadmin/1%3Fx=1%23y"
        );
        let op = RestOp::Tables {
            service: "..".into(),
        };
        assert!(
            !rest().url(&op).path().contains("/../"),
            "{}",
            rest().url(&op)
        );
    }

    #[test]
    fn update_and_delete_always_carry_their_filter_and_limit() {
        let op = RestOp::Delete {
            service: "db".into(),
            table: "orders".into(),
            filter: "id = 1".into(),
            max_affected: 2,
        };
        assert_eq!(op.method(), Method::Delete);
        assert!(op.writes());
        assert_eq!(
            op.query(),
            vec![
                ("filter", "id = 1".to_owned()),
                ("max_affected", "2".to_owned()),
                ("fields", "*".to_owned())
            ]
        );
    }
}

//! A client for a test server, with methods named for what users do: sign in, register a
//! database, create a role and an app, read tables.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

/// A response: status and parsed JSON body (`Value::Null` when not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The error message of a DreamFactory error body.
    #[must_use]
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// An HTTP client bound to one test server, optionally with an admin session or API key.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
    pub token: Option<String>,
    pub api_key: Option<String>,
    /// Sent as `Authorization: Bearer` (external tokens).
    pub bearer: Option<String>,
    /// Sent as `X-Request-Id` (to find a request's audit event).
    pub request_id: Option<String>,
}

impl Client {
    /// An anonymous client.
    #[must_use]
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            http: reqwest::Client::new(),
            token: None,
            api_key: None,
            bearer: None,
            request_id: None,
        }
    }

    /// The same client, sending this `X-Request-Id`.
    #[must_use]
    pub fn with_request_id(&self, id: &str) -> Self {
        Self {
            request_id: Some(id.to_owned()),
            ..self.clone()
        }
    }

    /// The same server with an API key.
    #[must_use]
    pub fn with_key(&self, key: &str) -> Self {
        Self {
            api_key: Some(key.to_owned()),
            token: None,
            ..self.clone()
        }
    }

    /// The same server with an `Authorization: Bearer` token (and no session or key).
    #[must_use]
    pub fn with_bearer(&self, token: &str) -> Self {
        Self {
            bearer: Some(token.to_owned()),
            token: None,
            api_key: None,
            ..self.clone()
        }
    }

    /// The same server with a session token (keeping the API key, if any).
    #[must_use]
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            bearer: None,
            ..self.clone()
        }
    }

    /// Signs a user in at `/api/v2/user/session` (through this client's app key, if any);
    /// the reply, and a client holding the new session when it worked.
    pub async fn sign_in(&self, email: &str, password: &str) -> (Reply, Option<Self>) {
        let r = self
            .post(
                "/api/v2/user/session",
                json!({"email": email, "password": password}),
            )
            .await;
        let session = r.body["session_token"].as_str().map(|t| self.with_token(t));
        (r, session)
    }

    /// Signs in as the first admin.
    pub async fn admin(app: &TestApp) -> Self {
        let mut c = Self::new(app);
        let r = c
            .post(
                "/api/v2/system/admin/session",
                json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "admin login: {}", r.text);
        c.token = Some(
            r.body["session_token"]
                .as_str()
                .expect("session_token")
                .to_owned(),
        );
        c
    }

    /// Sends a request.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("X-DreamFactory-Session-Token", t);
        }
        if let Some(k) = &self.api_key {
            req = req.header("X-DreamFactory-API-Key", k);
        }
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(id) = &self.request_id {
            req = req.header("X-Request-Id", id);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text }
    }

    /// GET with query pairs (encoded).
    pub async fn get_with(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        let qs: String = url_encode(query);
        let sep = if path.contains('?') { '&' } else { '?' };
        let full = if qs.is_empty() {
            path.to_owned()
        } else {
            format!("{path}{sep}{qs}")
        };
        self.send(Method::GET, &full, None).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// Registers a `pgsql` service; returns its id.
    pub async fn create_service(&self, name: &str, config: Value) -> i64 {
        let r = self.post("/api/v2/system/service", json!({"resource": [{"name": name, "label": name, "type": "pgsql", "config": config}]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "create service: {}", r.text);
        r.body["resource"][0]["id"].as_i64().expect("service id")
    }

    /// Creates a role with access rows `(service_id, component, verb_mask)`; returns its id.
    pub async fn create_role(&self, name: &str, access: &[(i64, &str, i64)]) -> i64 {
        let rows: Vec<Value> = access
            .iter()
            .map(|(s, c, v)| json!({"service_id": s, "component": c, "verb_mask": v, "requestor_mask": 1, "filters": [], "filter_op": "AND"}))
            .collect();
        let r = self.post("/api/v2/system/role", json!({"resource": [{"name": name, "is_active": true, "role_service_access_by_role_id": rows}]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "create role: {}", r.text);
        r.body["resource"][0]["id"].as_i64().expect("role id")
    }

    /// Creates an app with a default role; returns (id, API key).
    pub async fn create_app(&self, name: &str, role_id: Option<i64>) -> (i64, String) {
        self.create_app_with(json!({"name": name, "role_id": role_id}))
            .await
    }

    /// Creates a read-only app (no writes, whatever its role allows); returns its API key.
    pub async fn create_read_only_app(&self, name: &str, role_id: i64) -> String {
        self.create_app_with(json!({"name": name, "role_id": role_id, "read_only": true}))
            .await
            .1
    }

    async fn create_app_with(&self, app: Value) -> (i64, String) {
        let r = self
            .post("/api/v2/system/app", json!({ "resource": [app] }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create app: {}", r.text);
        (
            r.body["resource"][0]["id"].as_i64().expect("app id"),
            r.body["resource"][0]["api_key"]
                .as_str()
                .expect("api_key")
                .to_owned(),
        )
    }

    /// Registers an MCP client (`client_id`) in an app, with one redirect URI.
    pub async fn create_oauth_client(
        &self,
        client_id: &str,
        name: &str,
        app_id: i64,
        redirect: &str,
    ) {
        let r = self
            .post(
                "/api/v2/system/oauth_client",
                json!({"resource": [{"client_id": client_id, "name": name, "app_id": app_id,
                    "redirect_uris": [redirect]}]}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create oauth client: {}",
            r.text
        );
    }
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    let mut s = reqwest::Url::parse("http://x/").expect("url");
    s.query_pairs_mut().extend_pairs(pairs);
    s.query().unwrap_or_default().to_owned()
}

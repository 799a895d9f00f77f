//! MCP authorization end to end: Rampart as the OAuth 2.1 authorization server of its `/mcp`.
//! A real MCP client (the Python SDK's `OAuthClientProvider`) that knows only the MCP URL
//! discovers, authorizes, exchanges, refreshes and calls tools as a user; each refusal the
//! specification demands is shown by plain HTTP; grants are listed and revoked; every step
//! is in the audit trail.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;
use sqlx::Row;

use crate::fixture::Shop;
use rampart_tests::{Client, Options, mcp};

const PASSWORD: &str = "amber-harbour-lantern-9";
const REDIRECT: &str = "http://127.0.0.1/callback";

/// A shop with a user, Alice, whose role for the app `agents` reads tenant 1's customers
/// with `ssn` masked and may write orders; and a client registered in that app.
struct Setup {
    shop: Shop,
    client_id: String,
    app_id: i64,
    key: String,
    user_id: i64,
}

impl Setup {
    async fn new() -> Self {
        Self::with(&[]).await
    }

    async fn with(env: &[(&str, &str)]) -> Self {
        let options = Options {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let shop = Shop::with(&options).await;
        let role = shop
            .admin
            .post(
                "/api/v2/system/role",
                json!({"name": "tenant-one", "role_service_access_by_role_id": [
                    {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
                     "filters": "tenant_id = 1", "field_rules": {"ssn": {"mask": "last4"}}},
                    {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 31}]}),
            )
            .await;
        assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
        let role_id = role.body["resource"][0]["id"].as_i64().unwrap();
        let (app_id, key) = shop.admin.create_app("agents", None).await;
        let user = shop
            .admin
            .post(
                "/api/v2/system/user",
                json!({"resource": [{"email": "alice@example.com", "name": "Alice",
                    "password": PASSWORD,
                    "user_to_app_to_role_by_user_id": [{"app_id": app_id, "role_id": role_id}]}]}),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", user.text);
        let user_id = user.body["resource"][0]["id"].as_i64().unwrap();
        let client = shop
            .admin
            .post(
                "/api/v2/system/oauth_client",
                json!({"resource": [{"name": "Test agent", "app_id": app_id,
                    "redirect_uris": [REDIRECT]}]}),
            )
            .await;
        assert_eq!(client.status, StatusCode::CREATED, "{}", client.text);
        let id = client.body["resource"][0]["id"].as_i64().unwrap();
        let shown = shop
            .admin
            .get(&format!("/api/v2/system/oauth_client/{id}"))
            .await;
        let client_id = shown.body["client_id"].as_str().unwrap().to_owned();
        Self {
            shop,
            client_id,
            app_id,
            key,
            user_id,
        }
    }

    fn base(&self) -> &str {
        &self.shop.app.base
    }

    fn resource(&self) -> String {
        format!("{}/mcp", self.base())
    }
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The query parameters of a `Location`.
fn answer(location: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The parameters of a good authorization request.
fn params<'a>(s: &'a Setup, challenge: &'a str, resource: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", &s.client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "mcp:read mcp:write"),
        ("state", "st-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("resource", resource),
    ]
}

/// What the browser sees: `GET /oauth/authorize`, the sign-in page's form, the consent
/// page's form. Returns the final response (the consent's redirect, or a refusal).
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(s: &Setup) -> Self {
        Self {
            http: no_redirects(),
            base: s.base().to_owned(),
            cookie: None,
        }
    }

    async fn authorize(&mut self, params: &[(&str, &str)]) -> reqwest::Response {
        let r = self
            .http
            .get(format!("{}/oauth/authorize", self.base))
            .query(params)
            .send()
            .await
            .unwrap();
        if let Some(c) = r.headers().get("set-cookie") {
            self.cookie = Some(c.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        r
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        req.send().await.unwrap()
    }

    /// Signs in and decides; the consent's answer (a 303) and the consent page's text.
    async fn sign_in_and_decide(
        &mut self,
        params: &[(&str, &str)],
        login: &str,
        decision: &[(&str, &str)],
    ) -> (reqwest::Response, String) {
        let page = self.authorize(params).await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        let request = hidden(&page, "request");
        let consent = self
            .post(
                "/oauth/authorize/sign-in",
                &[
                    ("request", &request),
                    ("method", "local"),
                    ("login", login),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(consent.status(), StatusCode::OK);
        let consent = consent.text().await.unwrap();
        let mut form = vec![("request", hidden(&consent, "request"))];
        form.extend(decision.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        (self.post("/oauth/authorize/consent", &form).await, consent)
    }
}

/// Authorizes as Alice and exchanges the code: the token response.
async fn tokens(s: &Setup, decision: &[(&str, &str)]) -> Value {
    let (verifier, challenge) = pkce();
    let resource = s.resource();
    let mut browser = Browser::new(s);
    let (done, _) = browser
        .sign_in_and_decide(
            &params(s, &challenge, &resource),
            "alice@example.com",
            decision,
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let code = answer(done.headers()["location"].to_str().unwrap())["code"].clone();
    let r = token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &s.client_id),
            ("code_verifier", &verifier),
            ("resource", &resource),
        ],
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    r.1
}

async fn token(s: &Setup, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = no_redirects()
        .post(format!("{}/oauth/token", s.base()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `tools/list` at `/mcp` with a bearer token: the status, `WWW-Authenticate` and body.
async fn mcp_call(s: &Setup, token: Option<&str>, body: &Value) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new()
        .post(s.resource())
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge, r.json().await.unwrap_or(Value::Null))
}

async fn exchange(s: &Setup, verifier: &str, redirect: &str, code: &str) -> (StatusCode, Value) {
    token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", &s.client_id),
            ("code_verifier", verifier),
            ("resource", &s.resource()),
        ],
    )
    .await
}

async fn refresh(s: &Setup, refresh_token: &str) -> (StatusCode, Value) {
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &s.client_id),
        ],
    )
    .await
}

fn list_tools() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
}

#[tokio::test]
async fn an_agent_that_knows_only_the_url_acts_as_the_user_with_the_users_role() {
    let s = Setup::with(&[("RAMPART_OAUTH__ACCESS_TOKEN_SECONDS", "5")]).await;
    let calls = json!([
        {"tool": "whoami"},
        {"tool": "query_rows", "args": {"table": "customers", "order": "id"}},
        {"sleep": 7},
        {"tool": "query_rows", "args": {"table": "customers", "order": "id"}},
        {"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 9}]}}
    ]);
    let env = [
        ("OAUTH_CLIENT_ID", s.client_id.as_str()),
        ("OAUTH_REDIRECT_URI", REDIRECT),
        ("OAUTH_LOGIN", "alice@example.com"),
        ("OAUTH_PASSWORD", PASSWORD),
    ];
    let session = mcp::oauth(&s.resource(), &env, &calls);
    assert!(session.raw.get("failure").is_none(), "{}", session.raw);
    assert_eq!(session.raw["consents"], json!(1), "{}", session.raw);
    let whoami = &session.results[0]["structuredContent"];
    assert_eq!(whoami["role"], json!("tenant-one"), "{whoami}");

    // The same rows and masks as the REST API gives Alice through the app.
    let (_, alice) = Client::new(&s.shop.app)
        .with_key(&s.key)
        .sign_in("alice@example.com", PASSWORD)
        .await;
    let rest = alice
        .unwrap()
        .get("/api/v2/db/_table/customers?order=id")
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    let rows = &session.results[1]["structuredContent"]["rows"];
    assert_eq!(rows, &rest.body["resource"], "{}", session.raw);
    assert!(rows.as_array().unwrap().iter().all(|r| r["tenant_id"] == 1));
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["ssn"].as_str().is_some_and(|v| v.starts_with("***"))),
        "{rows}"
    );
    // The access token (5 s here) expired during the sleep: the client refreshed it and
    // went on without asking the person again.
    assert_eq!(&session.results[2]["structuredContent"]["rows"], rows);
    assert_eq!(
        session.results[3]["structuredContent"]["count"],
        json!(1),
        "{}",
        session.raw
    );
    let mut conn = s.shop.db.connect().await;
    let orders: i64 = sqlx::query("SELECT count(*) FROM orders WHERE total = 9")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(orders, 1);

    // The grant is listed, with its scopes, for the admin and for Alice herself.
    let grants = s.shop.admin.get("/api/v2/system/oauth_grant").await;
    assert_eq!(grants.status, StatusCode::OK, "{}", grants.text);
    let grant = &grants.body["resource"][0];
    assert_eq!(grant["user_id"], json!(s.user_id));
    assert_eq!(grant["client_name"], json!("Test agent"));
    assert_eq!(grant["scopes"], json!(["mcp:read", "mcp:write"]));
    assert!(grant["last_used_date"].is_string());
    assert!(
        !grants.text.contains(
            session.raw["tokens"]["refresh_token"]
                .as_str()
                .unwrap_or("no token")
        )
    );
}

#[tokio::test]
async fn a_read_only_grant_lists_no_write_tool_and_is_refused_a_write() {
    let s = Setup::new().await;
    let calls = json!([
        {"tool": "query_rows", "args": {"table": "orders", "order": "id", "limit": 1}},
        {"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 9}]}}
    ]);
    let env = [
        ("OAUTH_CLIENT_ID", s.client_id.as_str()),
        ("OAUTH_REDIRECT_URI", REDIRECT),
        ("OAUTH_LOGIN", "alice@example.com"),
        ("OAUTH_PASSWORD", PASSWORD),
        ("OAUTH_READ_ONLY", "1"),
    ];
    let session = mcp::oauth(&s.resource(), &env, &calls);
    assert!(
        !session.tool_names().iter().any(|n| n == "insert_rows"),
        "{}",
        session.raw
    );
    assert_eq!(
        session.results[0]["isError"],
        json!(false),
        "{}",
        session.raw
    );
    assert_eq!(session.raw["tokens"]["scope"], json!("mcp:read"));
    // The write was answered with a step-up challenge: the client asked the person again
    // (who was not there), and nothing was written.
    assert_eq!(session.raw["consents"], json!(2), "{}", session.raw);
    assert!(
        session.raw["failure"]
            .as_str()
            .is_some_and(|f| f.contains("nobody is at the browser")),
        "{}",
        session.raw
    );

    // By plain HTTP, the write is a 403 that asks for the write scope (step-up).
    let t = tokens(&s, &[("decision", "allow"), ("read_only", "on")]).await;
    let at = t["access_token"].as_str().unwrap();
    for (tool, arguments) in [
        (
            "insert_rows",
            json!({"table": "orders", "rows": [{"customer_id": 1, "total": 9}]}),
        ),
        (
            "update_rows",
            json!({"table": "orders", "filter": "id = 1", "set": {"total": 9}}),
        ),
        (
            "delete_rows",
            json!({"table": "orders", "filter": "id = 1"}),
        ),
        (
            "call_function",
            json!({"function": "order_total", "args": {}}),
        ),
    ] {
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        let (status, challenge, _) = mcp_call(&s, Some(at), &call).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{tool}");
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains("scope=\"mcp:read mcp:write\""),
            "{tool}: {challenge}"
        );
    }
    let mut conn = s.shop.db.connect().await;
    let orders: i64 = sqlx::query("SELECT count(*) FROM orders WHERE total = 9")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(orders, 0);
    let total: i64 = sqlx::query("SELECT count(*) FROM orders WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 1, "nothing was deleted");
}

#[tokio::test]
async fn discovery_names_the_authorization_server_and_its_rules() {
    let s = Setup::new().await;
    let (status, challenge, _) = mcp_call(&s, None, &list_tools()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let metadata_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("{challenge}"))
        .to_owned();
    let http = reqwest::Client::new();
    let prm: Value = http
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], json!(s.resource()));
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    let path = reqwest::Url::parse(&issuer).unwrap().path().to_owned();
    let asm: Value = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server{path}",
            s.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asm["issuer"], json!(issuer));
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        asm["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(
        asm["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert!(asm.get("registration_endpoint").is_none(), "{asm}");
    assert!(!asm.to_string().contains("secret"), "{asm}");
    let oidc: Value = http
        .get(format!(
            "{}/.well-known/openid-configuration{path}",
            s.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["token_endpoint"], asm["token_endpoint"]);
}

#[tokio::test]
async fn the_authorization_endpoint_refuses_what_oauth_2_1_forbids() {
    let s = Setup::new().await;
    let (_, challenge) = pkce();
    let resource = s.resource();
    let good = params(&s, &challenge, &resource);
    let with = |key: &str, value: Option<&str>| -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = good
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some(v) = value {
            p.push((key.to_owned(), v.to_owned()));
        }
        p
    };
    let mut browser = Browser::new(&s);
    let cases = [
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("state", None, "invalid_request"),
        ("resource", None, "invalid_target"),
        (
            "resource",
            Some("https://elsewhere.example.com/mcp"),
            "invalid_target",
        ),
        ("scope", Some("mcp:admin"), "invalid_scope"),
    ];
    for (key, value, error) in cases {
        let p = with(key, value);
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = browser.authorize(&p).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{key}");
        let a = answer(r.headers()["location"].to_str().unwrap());
        assert_eq!(a["error"], error, "{key}={value:?}: {a:?}");
        assert!(a["iss"].ends_with("/oauth"), "{a:?}");
        assert_eq!(
            a.get("state").map(String::as_str),
            (key != "state").then_some("st-1")
        );
        assert!(!a.contains_key("code"));
    }
    // A redirect URI that is not registered, or an unknown client, is never redirected to.
    for (key, value) in [
        ("redirect_uri", "https://evil.example.com/callback"),
        ("redirect_uri", "http://127.0.0.1/callback/../steal"),
        ("client_id", "nobody"),
    ] {
        let p = with(key, Some(value));
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = browser.authorize(&p).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{key}={value}");
        assert!(r.headers().get("location").is_none());
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    // A loopback redirect on another port is fine (RFC 8252).
    let p = with("redirect_uri", Some("http://127.0.0.1:53117/callback"));
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(browser.authorize(&p).await.status(), StatusCode::OK);
    // A wrong password shows the sign-in page again with the reason; a consent without the
    // browser's cookie is refused.
    let page = browser.authorize(&good).await.text().await.unwrap();
    let request = hidden(&page, "request");
    let wrong = browser
        .post(
            "/oauth/authorize/sign-in",
            &[
                ("request", &request),
                ("login", "alice@example.com"),
                ("password", "nope-nope-nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Invalid credentials"));
    let stranger = no_redirects()
        .post(format!("{}/oauth/authorize/consent", s.base()))
        .form(&[("request", request.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::BAD_REQUEST);
    // Denying sends access_denied back.
    let (denied, consent) = browser
        .sign_in_and_decide(&good, "alice@example.com", &[("decision", "deny")])
        .await;
    assert!(
        consent.contains("tenant-one") && consent.contains("ssn (last4)"),
        "{consent}"
    );
    assert_eq!(
        answer(denied.headers()["location"].to_str().unwrap())["error"],
        "access_denied"
    );
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_verifiers_reused_codes_and_reused_refresh_tokens() {
    let s = Setup::new().await;
    let resource = s.resource();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&s);
    let (done, _) = browser
        .sign_in_and_decide(
            &params(&s, &challenge, &resource),
            "alice@example.com",
            &[("decision", "allow")],
        )
        .await;
    let a = answer(done.headers()["location"].to_str().unwrap());
    assert_eq!(a["state"], "st-1");
    assert_eq!(a["iss"], format!("{}/oauth", s.base()));
    let code = a["code"].clone();
    let (status, body) = exchange(&s, &pkce().0, REDIRECT, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = exchange(&s, &verifier, "http://127.0.0.1/other", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, first) = exchange(&s, &verifier, REDIRECT, &code).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["token_type"], json!("Bearer"));
    let at = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::OK
    );

    // The code again: refused, and the access it gave is revoked.
    let (status, body) = exchange(&s, &verifier, REDIRECT, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, challenge, _) = mcp_call(&s, Some(&at), &list_tools()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");

    // Refresh tokens rotate; one used twice revokes the grant.
    let t = tokens(&s, &[("decision", "allow")]).await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh(&s, &rt1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let at2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_call(&s, Some(&at2), &list_tools()).await.0,
        StatusCode::OK
    );
    let (status, body) = refresh(&s, &rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        mcp_call(&s, Some(&at2), &list_tools()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(&s, &rt2).await.0, StatusCode::BAD_REQUEST);
    let revoked = s
        .shop
        .admin
        .get("/api/v2/system/oauth_grant?include_revoked=true")
        .await;
    assert!(
        revoked.text.contains("a refresh token was used twice")
            && revoked
                .text
                .contains("its authorization code was used twice"),
        "{}",
        revoked.text
    );
}

#[tokio::test]
async fn mcp_refuses_other_tokens_and_ends_grants_on_revocation_and_disable() {
    let s = Setup::with(&[("RAMPART_OAUTH__ACCESS_TOKEN_SECONDS", "1")]).await;
    // Expired: the token lives a second (and verification allows 5 s of clock skew).
    let short = tokens(&s, &[("decision", "allow")]).await;
    let at = short["access_token"].as_str().unwrap();
    assert_eq!(
        mcp_call(&s, Some(at), &list_tools()).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let (status, challenge, _) = mcp_call(&s, Some(at), &list_tools()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains("invalid_token") && challenge.contains("expired"),
        "{challenge}"
    );

    // A REST session token of the same user, and an API key's use of an access token on the
    // REST API, are refused; a forged token too.
    let (_, alice) = Client::new(&s.shop.app)
        .with_key(&s.key)
        .sign_in("alice@example.com", PASSWORD)
        .await;
    let alice = alice.unwrap();
    let session = alice.token.clone().unwrap();
    let (status, challenge, _) = mcp_call(&s, Some(&session), &list_tools()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let fresh = tokens(&s, &[("decision", "allow")]).await;
    let at = fresh["access_token"].as_str().unwrap().to_owned();
    let rest = Client::new(&s.shop.app)
        .with_bearer(&at)
        .get("/api/v2/db/_table/customers")
        .await;
    assert_eq!(rest.status, StatusCode::UNAUTHORIZED, "{}", rest.text);
    let mut forged = at.clone();
    forged.pop();
    forged.push(if at.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        mcp_call(&s, Some(&forged), &list_tools()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let in_query = reqwest::Client::new()
        .post(format!("{}?access_token={at}", s.resource()))
        .header("Accept", "application/json, text/event-stream")
        .json(&list_tools())
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), StatusCode::BAD_REQUEST);

    // Alice revokes her own grant: the next call is refused.
    let t = tokens(&s, &[("decision", "allow")]).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::OK
    );
    let mine = alice.get("/api/v2/user/oauth_grant").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let gid = mine.body["resource"][0]["id"].as_i64().unwrap();
    assert_eq!(
        alice
            .delete(&format!("/api/v2/user/oauth_grant/{gid}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        alice
            .delete(&format!("/api/v2/user/oauth_grant/{gid}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The client revokes its own refresh token: the grant ends.
    let t = tokens(&s, &[("decision", "allow")]).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let r = no_redirects()
        .post(format!("{}/oauth/revoke", s.base()))
        .form(&[
            ("token", t["refresh_token"].as_str().unwrap()),
            ("client_id", s.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Disabling the user ends their grants at the next call.
    let t = tokens(&s, &[("decision", "allow")]).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::OK
    );
    let off = s
        .shop
        .admin
        .patch(
            &format!("/api/v2/system/user/{}", s.user_id),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &s.client_id),
        ],
    )
    .await;
    assert_eq!(refreshed.0, StatusCode::BAD_REQUEST, "{}", refreshed.1);

    // Every step is in the audit trail (written asynchronously: wait for it).
    let needed = [
        "oauth_authorize",
        "login",
        "oauth_consent",
        "oauth_token",
        "oauth_token_refused",
        "oauth_revoke",
        "mcp_refused",
    ];
    let mut text = String::new();
    for _ in 0..300 {
        let audit = s.shop.admin.get("/api/v2/system/audit?limit=1000").await;
        assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
        let kinds: Vec<&str> = audit.body["resource"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        text = audit.text.clone();
        if needed.iter().all(|k| kinds.contains(k)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for kind in needed {
        assert!(
            text.contains(&format!("\"kind\":\"{kind}\"")),
            "{kind} missing: {text}"
        );
    }
    assert!(
        text.matches("\"kind\":\"oauth_revoke\"").count() >= 2,
        "the user's own revocation and the client's are both oauth_revoke events: {text}"
    );
    assert!(!text.contains(&at), "tokens never reach the audit trail");
}

#[tokio::test]
async fn a_change_of_the_users_role_ends_the_grant() {
    let s = Setup::new().await;
    let t = tokens(&s, &[("decision", "allow")]).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::OK
    );
    let other = s
        .shop
        .admin
        .create_role("everything", &[(s.shop.service_id, "*", 31)])
        .await;
    let moved = s
        .shop
        .admin
        .patch(
            &format!("/api/v2/system/user/{}", s.user_id),
            json!({"user_to_app_to_role_by_user_id": [{"app_id": s.app_id, "role_id": other}]}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(
        mcp_call(&s, Some(&at), &list_tools()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Grants change who may act for a person, wherever they change: one made at the token
/// endpoint, one its person revokes, and one Rampart ends itself (a refresh token used twice)
/// each reach the webhook signed, with before and after; the grant made is also the `changes`
/// of its token request's audit event.
#[tokio::test]
async fn grants_made_and_ended_outside_the_admin_api_send_alerts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let receiver = crate::alerts::start_receiver(port);
    let url = format!("http://127.0.0.1:{port}/hooks/rampart");
    let s = Setup::with(&[
        ("RAMPART_ALERTS__WEBHOOK_URL", &url),
        ("RAMPART_ALERTS__SECRET", crate::alerts::SECRET),
    ])
    .await;
    let grant_alerts = |n: usize| {
        let receiver = &receiver;
        async move {
            let got = crate::alerts::received_until(receiver, |got| {
                got.iter()
                    .filter(|d| d["body"]["resource"] == "oauth_grant")
                    .count()
                    >= n
            })
            .await;
            assert!(got.iter().all(|d| d["valid"] == true), "{got:?}");
            got.into_iter()
                .map(|d| d["body"].clone())
                .filter(|b| b["resource"] == "oauth_grant")
                .collect::<Vec<_>>()
        }
    };

    // Alice consents and the client exchanges its code: a new grant, made by Alice.
    let first = tokens(&s, &[("decision", "allow")]).await;
    let got = grant_alerts(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let made = &got[0];
    let gid = made["after"]["id"].as_i64().unwrap();
    assert_eq!(made["ids"], json!([gid]));
    assert_eq!(made["before"], Value::Null);
    assert_eq!(made["after"]["user_id"], s.user_id);
    assert_eq!(made["after"]["client_id"], s.client_id);
    assert_eq!(made["after"]["revoked_date"], Value::Null);
    assert_eq!(made["actor"]["user_id"], s.user_id);
    assert!(
        !made
            .to_string()
            .contains(first["access_token"].as_str().unwrap())
            && !made
                .to_string()
                .contains(first["refresh_token"].as_str().unwrap()),
        "no token in an alert: {made}"
    );
    let e = crate::audit::event_of(&s.shop.admin, made["request_id"].as_str().unwrap()).await;
    assert_eq!(e["kind"], "oauth_token");
    assert_eq!(e["changes"]["before"], Value::Null);
    assert_eq!(e["changes"]["after"]["id"], gid);

    // Alice revokes it herself.
    let (_, alice) = Client::new(&s.shop.app)
        .with_key(&s.key)
        .sign_in("alice@example.com", PASSWORD)
        .await;
    let alice = alice.unwrap();
    let r = alice
        .delete(&format!("/api/v2/user/oauth_grant/{gid}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let got = grant_alerts(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let revoked = &got[1];
    assert_eq!(revoked["method"], "DELETE");
    assert_eq!(revoked["ids"], json!([gid]));
    assert_eq!(revoked["actor"]["user_id"], s.user_id);
    assert_eq!(revoked["before"]["revoked_date"], Value::Null);
    assert_eq!(revoked["after"]["revoked_reason"], "revoked by the user");
    // Someone else's grant, or one already ended, is not found and changes nothing.
    let again = alice
        .delete(&format!("/api/v2/user/oauth_grant/{gid}"))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // A refresh token used twice: Rampart ends the grant, and says why.
    let t = tokens(&s, &[("decision", "allow")]).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&s, &rt).await.0, StatusCode::OK);
    assert_eq!(refresh(&s, &rt).await.0, StatusCode::BAD_REQUEST);
    let got = grant_alerts(4).await;
    assert_eq!(got.len(), 4, "made, revoked, made, ended: {got:?}");
    let (made, ended) = (&got[2], &got[3]);
    let second = made["after"]["id"].as_i64().unwrap();
    assert_ne!(second, gid);
    assert_eq!(ended["ids"], json!([second]));
    assert_eq!(ended["actor"], Value::Null);
    assert_eq!(ended["before"]["revoked_date"], Value::Null);
    assert_eq!(
        ended["after"]["revoked_reason"],
        "a refresh token was used twice"
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    // Two nodes of one installation (one store, one key ring) published at two URLs are two
    // MCP resources: a token minted for one is refused by the other.
    let store = rampart_tests::TestDb::empty().await;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let env = [
        ("RAMPART_SYSTEM_DATABASE_URL", store.url()),
        ("RAMPART_MASTER_KEY", key),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Setup::with(&env).await;
    let other = rampart_tests::spawn_with(&Options {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    });
    let t = tokens(&s, &[("decision", "allow")]).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        mcp_call(&s, Some(at), &list_tools()).await.0,
        StatusCode::OK
    );
    let r = reqwest::Client::new()
        .post(format!("{}/mcp", other.base))
        .header("Accept", "application/json, text/event-stream")
        .bearer_auth(at)
        .json(&list_tools())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Serves Client ID Metadata Documents on a loopback port: `/good`, `/big` (over the size
/// limit), `/slow` (answers after 3 s), `/elsewhere` (other redirect URIs) and `/liar` (names
/// another client_id).
async fn metadata_documents() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let me = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let me = me.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let url = format!("{me}{path}");
                let doc = |redirects: Value, id: &str| {
                    json!({"client_id": id, "client_name": "Metadata agent",
                        "redirect_uris": redirects, "token_endpoint_auth_method": "none"})
                    .to_string()
                };
                let body = match path.as_str() {
                    "/good" | "/slow" => doc(json!([REDIRECT]), &url),
                    "/big" => doc(json!([REDIRECT, "x".repeat(8000)]), &url),
                    "/elsewhere" => doc(json!(["https://elsewhere.example.com/cb"]), &url),
                    "/liar" => doc(json!([REDIRECT]), "https://someone-else.example.com/doc"),
                    "/unsafe" => doc(json!([REDIRECT, "x; frame-ancestors https://evil"]), &url),
                    _ => String::new(),
                };
                if path == "/slow" {
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn clients_named_by_metadata_documents_are_fetched_within_limits() {
    let s = Setup::with(&[
        ("RAMPART_OAUTH__METADATA_DOCUMENT_APP", "agents"),
        (
            "RAMPART_OAUTH__METADATA_DOCUMENT_ALLOW_LOOPBACK_HTTP",
            "true",
        ),
        ("RAMPART_OAUTH__METADATA_DOCUMENT_TIMEOUT_MS", "1000"),
    ])
    .await;
    let docs = metadata_documents().await;
    let resource = s.resource();
    let (verifier, challenge) = pkce();
    let request = |client: &str| -> Vec<(String, String)> {
        params(&s, &challenge, &resource)
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    if k == "client_id" {
                        client.to_owned()
                    } else {
                        v.to_owned()
                    },
                )
            })
            .collect()
    };
    let mut browser = Browser::new(&s);
    for (path, why) in [
        ("/big", "larger than 5120 bytes"),
        ("/slow", "did not answer in time"),
        ("/elsewhere", "is not one registered"),
        ("/liar", "names another client_id"),
        (
            "/unsafe",
            "lists a redirect URI this server does not accept",
        ),
    ] {
        let p = request(&format!("{docs}{path}"));
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = browser.authorize(&p).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(r.headers().get("location").is_none());
        let text = r.text().await.unwrap();
        assert!(text.contains(why), "{path}: {text}");
    }

    // Addresses of this server's own network are never fetched from, whatever the URL says.
    for inside in [
        "https://10.0.0.1/client.json",
        "https://169.254.169.254/latest/meta-data",
    ] {
        let p = request(inside);
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = browser.authorize(&p).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{inside}");
        assert!(
            r.text().await.unwrap().contains("cannot be fetched"),
            "{inside}"
        );
    }

    // A good document: the client is who it says, and its grant names its URL.
    let client = format!("{docs}/good");
    // Its refusals are shown, never sent to its redirect URI (no open redirector).
    let mut p = request(&client);
    p.retain(|(k, _)| k != "code_challenge_method");
    let p2: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = browser.authorize(&p2).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    let p = request(&client);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (done, consent) = browser
        .sign_in_and_decide(&p, "alice@example.com", &[("decision", "allow")])
        .await;
    assert!(consent.contains("Metadata agent"), "{consent}");
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let code = answer(done.headers()["location"].to_str().unwrap())["code"].clone();
    let (status, t) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        mcp_call(&s, Some(at), &list_tools()).await.0,
        StatusCode::OK
    );
    let grants = s.shop.admin.get("/api/v2/system/oauth_grant").await;
    assert_eq!(grants.body["resource"][0]["client_id"], json!(client));
}

#[tokio::test]
async fn without_a_metadata_document_app_url_clients_are_refused() {
    let s = Setup::new().await;
    let resource = s.resource();
    let (_, challenge) = pkce();
    let mut p = params(&s, &challenge, &resource);
    p[1] = ("client_id", "https://agent.example.com/client.json");
    let r = Browser::new(&s).authorize(&p).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("accepts only registered clients"),
    );
}

#[tokio::test]
async fn rmcps_oauth_client_connects_knowing_only_the_url() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::auth::{AuthClient, AuthorizationRequest, OAuthState};
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let s = Setup::new().await;
    let mut state = OAuthState::new(s.resource(), None).await.unwrap();
    state
        .start_authorization(
            AuthorizationRequest::new(REDIRECT)
                .with_preregistered_client(s.client_id.clone())
                .with_scopes(["mcp:read", "mcp:write"]),
        )
        .await
        .unwrap();
    let url = state.get_authorization_url().await.unwrap();
    // The person's part: the authorization URL rmcp made, signed in and allowed by form posts.
    let mut browser = Browser::new(&s);
    let page = browser.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{url}");
    browser.cookie = page
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    let page = page.text().await.unwrap();
    let consent = browser
        .post(
            "/oauth/authorize/sign-in",
            &[
                ("request", &hidden(&page, "request")),
                ("login", "alice@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    let done = browser
        .post(
            "/oauth/authorize/consent",
            &[
                ("request", &hidden(&consent, "request")),
                ("decision", "allow"),
            ],
        )
        .await;
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    state.handle_callback_url(&location).await.unwrap();
    let OAuthState::Authorized(manager) = state else {
        panic!("rmcp did not finish the authorization");
    };
    // Its refresh rotates the refresh token, and the new access token works.
    let first = manager.get_access_token().await.unwrap();
    manager.refresh_token().await.unwrap();
    assert_ne!(manager.get_access_token().await.unwrap(), first);
    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest_013::Client::default(), manager),
        StreamableHttpClientTransportConfig::with_uri(s.resource()),
    );
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "query_rows"));
    let whoami = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert_eq!(
        whoami.structured_content.unwrap()["role"],
        json!("tenant-one")
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn dynamic_client_registration_is_off_unless_an_app_is_named_for_it() {
    let off = Setup::new().await;
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/register", off.base()))
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let s = Setup::with(&[
        ("RAMPART_OAUTH__DYNAMIC_REGISTRATION_APP", "agents"),
        ("RAMPART_OAUTH__DYNAMIC_REGISTRATIONS_PER_HOUR", "3"),
    ])
    .await;
    // The Python SDK, given no client id, registers itself and goes on as Alice.
    let env = [
        ("OAUTH_REDIRECT_URI", REDIRECT),
        ("OAUTH_LOGIN", "alice@example.com"),
        ("OAUTH_PASSWORD", PASSWORD),
    ];
    let session = mcp::oauth(&s.resource(), &env, &json!([{"tool": "whoami"}]));
    assert!(session.raw.get("failure").is_none(), "{}", session.raw);
    assert_eq!(
        session.results[0]["structuredContent"]["role"],
        json!("tenant-one")
    );
    let clients = s.shop.admin.get("/api/v2/system/oauth_client").await;
    assert!(
        clients.body["resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Python agent" && c["app_id"] == json!(s.app_id)),
        "{}",
        clients.text
    );
    // Confidential clients and unsafe redirect URIs are refused; then the address's hourly
    // allowance (3 here) runs out.
    let register = |body: Value| {
        reqwest::Client::new()
            .post(format!("{}/oauth/register", s.base()))
            .json(&body)
            .send()
    };
    let secret = register(
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await
    .unwrap();
    assert_eq!(secret.status(), StatusCode::BAD_REQUEST);
    let evil = register(json!({"redirect_uris": ["http://evil.example.com/cb"]}))
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        evil.json::<Value>().await.unwrap()["error"],
        json!("invalid_redirect_uri")
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            register(json!({"client_name": "x", "redirect_uris": [REDIRECT]}))
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

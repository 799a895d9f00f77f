//! OpenID Connect sign-in against a real provider (npm `oidc-provider`): groups map to roles,
//! claims feed row filters, and every broken or forged callback is refused without a session
//! or a shadow user.

use rampart_tests::oidc::{self, Browser, Outcome, Provider};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

struct Corp {
    shop: Shop,
    op: Provider,
    sales: i64,
    support: i64,
    fallback: i64,
}

fn callback_url(shop: &Shop, service: &str) -> String {
    format!(
        "{}/api/v2/user/session?service={service}&oauth_callback=true",
        shop.app.base
    )
}

fn service_config(c: &Corp, service: &str, default_role: bool) -> Value {
    let mut config = json!({
        "discovery_url": c.op.issuer, "client_id": oidc::CLIENT_ID, "client_secret": oidc::CLIENT_SECRET,
        "scopes": ["openid", "email", "profile", "groups"], "groups_claim": "groups",
        "redirect_url": callback_url(&c.shop, service),
        "allowed_redirects": ["http://app.example.test/signed-in"],
        "group_role_map": [{"group": "sales", "role_id": c.sales}, {"group": "support", "role_id": c.support}]});
    if default_role {
        config["default_role"] = json!(c.fallback);
    }
    config
}

async fn add_service(c: &Corp, name: &str, config: Value) -> reqwest::StatusCode {
    let r = c
        .shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": name, "type": "oidc", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.status
}

/// The shop, a provider (signing ID tokens with `alg`), roles `sales` (customers of the
/// person's `tenant` claim), `support` (orders), `fallback` (products), and services
/// `corp_oidc` (with a default role) and `corp_strict` (without).
async fn corp(alg: &str) -> Corp {
    let shop = Shop::new().await;
    let op = Provider::start(
        &[
            callback_url(&shop, "corp_oidc"),
            callback_url(&shop, "corp_strict"),
        ],
        alg,
    );
    let sid = shop.service_id;
    let mut ids = Vec::new();
    for (name, component, filters) in [
        (
            "sales",
            "_table/customers/*",
            json!("tenant_id = {user.claims.tenant}"),
        ),
        ("support", "_table/orders/*", json!([])),
        ("fallback", "_table/products/*", json!([])),
    ] {
        let r = shop.admin.post("/api/v2/system/role", json!({"resource": [{"name": name,
            "role_service_access_by_role_id": [{"service_id": sid, "component": component, "verb_mask": 1, "filters": filters}]}]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["resource"][0]["id"].as_i64().unwrap());
    }
    let c = Corp {
        shop,
        op,
        sales: ids[0],
        support: ids[1],
        fallback: ids[2],
    };
    assert_eq!(
        add_service(&c, "corp_oidc", service_config(&c, "corp_oidc", true)).await,
        StatusCode::CREATED
    );
    assert_eq!(
        add_service(&c, "corp_strict", service_config(&c, "corp_strict", false)).await,
        StatusCode::CREATED
    );
    c
}

/// Starts a sign-in at Rampart in `browser`: the provider URL it redirects to.
async fn start(c: &Corp, browser: &mut Browser, service: &str, redirect: Option<&str>) -> String {
    let mut url = format!("{}/api/v2/user/session?service={service}", c.shop.app.base);
    if let Some(r) = redirect {
        url.push_str("&redirect=");
        url.push_str(&url_encode(r));
    }
    let res = browser.get(&url).await;
    assert_eq!(
        res.status(),
        StatusCode::FOUND,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A full sign-in as `who`: the callback URL the provider sent the browser back to.
async fn through_provider(c: &Corp, browser: &mut Browser, service: &str, who: &str) -> String {
    let at_op = start(c, browser, service, None).await;
    match browser
        .walk(&at_op, who, &oidc::password_of(who), true)
        .await
    {
        Outcome::Left(url) => url,
        Outcome::Stuck(page) => panic!("the provider's pages did not finish: {page}"),
    }
}

/// Delivers the callback; (status, body).
async fn deliver(browser: &mut Browser, callback: &str) -> (StatusCode, Value) {
    let res = browser.get(callback).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn session_of(c: &Corp, body: &Value) -> rampart_tests::Client {
    rampart_tests::Client::new(&c.shop.app)
        .with_token(body["session_token"].as_str().expect("session_token"))
}

#[tokio::test]
async fn provider_groups_give_roles_and_claims_feed_row_filters() {
    let c = corp("RS256").await;
    let mut browser = Browser::new();
    let cb = through_provider(&c, &mut browser, "corp_oidc", "alice").await;
    let (status, body) = deliver(&mut browser, &cb).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role_id"], c.sales);
    let alice = session_of(&c, &body).await;
    let rows = alice.get("/api/v2/db/_table/customers").await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    let tenants: Vec<i64> = rows.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tenant_id"].as_i64().unwrap())
        .collect();
    assert_eq!(tenants, vec![1, 1]);
    assert_eq!(
        alice.get("/api/v2/db/_table/orders").await.status,
        StatusCode::FORBIDDEN
    );

    let cb = through_provider(&c, &mut Browser::new(), "corp_oidc", "bob").await;
    let mut b = Browser::new();
    // The callback must come back to the browser that started it.
    let (status, _) = deliver(&mut b, &cb).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a callback in another browser is refused"
    );

    let mut bob_browser = Browser::new();
    let cb = through_provider(&c, &mut bob_browser, "corp_oidc", "bob").await;
    let (_, body) = deliver(&mut bob_browser, &cb).await;
    assert_eq!(body["role_id"], c.support, "{body}");

    let mut carol_browser = Browser::new();
    let cb = through_provider(&c, &mut carol_browser, "corp_oidc", "carol").await;
    let (_, body) = deliver(&mut carol_browser, &cb).await;
    assert_eq!(body["role_id"], c.fallback, "{body}");

    let mut strict = Browser::new();
    let cb = through_provider(&c, &mut strict, "corp_strict", "carol").await;
    let (status, body) = deliver(&mut strict, &cb).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no default role"),
        "{body}"
    );
}

#[tokio::test]
async fn an_allow_listed_redirect_receives_the_session_and_others_are_refused() {
    let c = corp("RS256").await;
    let mut browser = Browser::new();
    let at_op = start(
        &c,
        &mut browser,
        "corp_oidc",
        Some("http://app.example.test/signed-in?next=home"),
    )
    .await;
    let Outcome::Left(cb) = browser
        .walk(&at_op, "alice", &oidc::password_of("alice"), true)
        .await
    else {
        panic!("the provider did not send the browser back");
    };
    let res = browser.get(&cb).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let target = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        target.starts_with("http://app.example.test/signed-in?next=home&session_token="),
        "{target}"
    );
    let token = target.split("session_token=").nth(1).unwrap();
    let session = rampart_tests::Client::new(&c.shop.app).with_token(token);
    assert_eq!(
        session.get("/api/v2/user/session").await.status,
        StatusCode::OK
    );

    for bad in [
        "https://evil.example/signed-in",
        "//evil.example",
        "/\\evil.example",
        "http://app.example.test@evil.example/signed-in",
        "http://app.example.test/other",
    ] {
        let url = format!(
            "{}/api/v2/user/session?service=corp_oidc&redirect={}",
            c.shop.app.base,
            url_encode(bad)
        );
        let res = Browser::new().get(&url).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn forged_replayed_and_denied_callbacks_issue_nothing() {
    let c = corp("RS256").await;
    let base = callback_url(&c.shop, "corp_oidc");
    let mut browser = Browser::new();

    // No state, an unknown state.
    for url in [
        format!("{base}&code=abc"),
        format!("{base}&code=abc&state=made-up"),
    ] {
        let (status, body) = deliver(&mut browser, &url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    }

    // A good callback works once; its replay (same state) is refused.
    let cb = through_provider(&c, &mut browser, "corp_oidc", "alice").await;
    assert_eq!(deliver(&mut browser, &cb).await.0, StatusCode::OK);
    assert_eq!(
        deliver(&mut browser, &cb).await.0,
        StatusCode::BAD_REQUEST,
        "state is single-use"
    );

    // The used code under a fresh state: the provider refuses it.
    let code = reqwest::Url::parse(&cb)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let at_op = start(&c, &mut browser, "corp_oidc", None).await;
    let fresh_state = reqwest::Url::parse(&at_op)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let (status, body) = deliver(
        &mut browser,
        &format!("{base}&code={code}&state={fresh_state}"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a code is used once: {body}"
    );

    // A code from a second sign-in (another browser) delivered with the first one's state and
    // cookie: PKCE and the nonce belong to the first, so it is refused.
    let first = start(&c, &mut browser, "corp_oidc", None).await;
    let first_state = reqwest::Url::parse(&first)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let second = through_provider(&c, &mut Browser::new(), "corp_oidc", "alice").await;
    let second_code = reqwest::Url::parse(&second)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let (status, _) = deliver(
        &mut browser,
        &format!("{base}&code={second_code}&state={first_state}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The callback claiming another issuer (mix-up).
    let cb = through_provider(&c, &mut browser, "corp_oidc", "alice").await;
    let mixed = cb.replace(&url_encode(&c.op.issuer), &url_encode("http://127.0.0.1:1"));
    assert_ne!(mixed, cb, "the callback carries iss");
    assert_eq!(
        deliver(&mut browser, &mixed).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The person denies access; a wrong password never gets back at all (fresh browsers: the
    // first one is signed in at the provider already).
    let mut browser = Browser::new();
    let at_op = start(&c, &mut browser, "corp_oidc", None).await;
    let Outcome::Left(denied) = browser
        .walk(&at_op, "bob", &oidc::password_of("bob"), false)
        .await
    else {
        panic!("no callback after denying");
    };
    assert!(denied.contains("error=access_denied"), "{denied}");
    assert_eq!(
        deliver(&mut browser, &denied).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut browser = Browser::new();
    let at_op = start(&c, &mut browser, "corp_oidc", None).await;
    assert!(matches!(
        browser.walk(&at_op, "bob", "not-bobs-password", true).await,
        Outcome::Stuck(_)
    ));

    let users = c.shop.admin.get("/api/v2/system/user").await;
    let emails: Vec<&str> = users.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        vec!["alice+corp_oidc@example.org"],
        "only alice ever signed in"
    );
}

#[tokio::test]
async fn an_id_token_signed_with_the_client_secret_is_refused() {
    // This provider signs ID tokens with HS256 and the client secret (and advertises it).
    let c = corp("HS256").await;
    let mut browser = Browser::new();
    let cb = through_provider(&c, &mut browser, "corp_oidc", "alice").await;
    let (status, body) = deliver(&mut browser, &cb).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        c.shop.admin.get("/api/v2/system/user").await.body["resource"],
        json!([])
    );
}

#[tokio::test]
async fn id_tokens_for_another_audience_or_issuer_expired_or_unsigned_are_refused() {
    let c = corp("RS256").await;
    for how in ["audience", "issuer", "expired", "unsigned"] {
        c.op.forge_id_tokens(how).await;
        let mut browser = Browser::new();
        let cb = through_provider(&c, &mut browser, "corp_oidc", "alice").await;
        let (status, body) = deliver(&mut browser, &cb).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{how}: {body}");
        assert!(body["session_token"].is_null(), "{how}: {body}");
        assert_eq!(
            c.shop.admin.get("/api/v2/system/user").await.body["resource"],
            json!([]),
            "{how}: no shadow user"
        );
    }
    // The same provider, honest again: the sign-in goes through.
    c.op.forge_id_tokens("off").await;
    let mut browser = Browser::new();
    let cb = through_provider(&c, &mut browser, "corp_oidc", "alice").await;
    let (status, body) = deliver(&mut browser, &cb).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role_id"], c.sales, "{body}");
}

#[tokio::test]
async fn an_unverified_email_never_joins_another_account() {
    let c = corp("RS256").await;
    // A local account with alice's address and a role of its own.
    let (app, key) = c.shop.admin.create_app("portal", None).await;
    let r = c.shop.admin.post("/api/v2/system/user", json!({"resource": [{"email": "alice@example.org",
        "password": "violet-otter-harbour", "user_to_app_to_role_by_user_id": [{"app_id": app, "role_id": c.support}]}]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut browser = Browser::new();
    let cb = through_provider(&c, &mut browser, "corp_oidc", "mallory").await;
    let (status, body) = deliver(&mut browser, &cb).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["email"], "alice@example.org");
    assert_eq!(body["role_id"], c.fallback, "{body}");
    let mallory = rampart_tests::Client::new(&c.shop.app)
        .with_key(&key)
        .with_token(body["session_token"].as_str().unwrap());
    let whoami = mallory.get("/api/v2/user/session").await;
    assert_ne!(
        whoami.body["role_id"], c.support,
        "none of alice's roles: {}",
        whoami.text
    );
    let (local, _) = rampart_tests::Client::new(&c.shop.app)
        .with_key(&key)
        .sign_in("alice@example.org", "violet-otter-harbour")
        .await;
    assert_eq!(
        local.body["role_id"], c.support,
        "alice's account is untouched"
    );

    let shown = c
        .shop
        .admin
        .get("/api/v2/system/service?fields=config")
        .await;
    assert!(
        !shown.text.contains(oidc::CLIENT_SECRET),
        "the client secret is never returned"
    );
    let store = std::fs::read(c.shop.app.data_dir.path().join("rampart.db")).unwrap();
    let needle = oidc::CLIENT_SECRET.as_bytes();
    assert!(
        !store.windows(needle.len()).any(|w| w == needle),
        "nor stored in clear"
    );
}

#[tokio::test]
async fn an_mcp_client_is_authorized_by_a_person_who_signs_in_at_the_provider() {
    use base64::Engine;
    use sha2::Digest;
    let c = corp("RS256").await;
    let (app_id, _) = c.shop.admin.create_app("agents", None).await;
    c.shop
        .admin
        .create_oauth_client(
            "desk-agent",
            "Desk agent",
            app_id,
            "http://127.0.0.1/callback",
        )
        .await;
    let base = c.shop.app.base.clone();
    let verifier = format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let resource = format!("{base}/mcp");
    let authorize = format!(
        "{base}/oauth/authorize?response_type=code&client_id=desk-agent&redirect_uri={}&state=s9&code_challenge={challenge}&code_challenge_method=S256&resource={}",
        url_encode("http://127.0.0.1/callback"),
        url_encode(&resource)
    );
    let mut browser = Browser::new();
    let page = browser.get(&authorize).await.text().await.unwrap();
    assert!(
        page.contains("/oauth/authorize/external?service=corp_oidc"),
        "{page}"
    );
    // To the provider through Rampart's own sign-in start, and back to the consent page.
    let leave = browser
        .get(&format!(
            "{base}/oauth/authorize/external?service=corp_oidc"
        ))
        .await;
    assert_eq!(leave.status(), StatusCode::FOUND);
    let start = format!("{base}{}", leave.headers()["location"].to_str().unwrap());
    let to_op = browser.get(&start).await;
    assert_eq!(
        to_op.status(),
        StatusCode::FOUND,
        "{}",
        to_op.text().await.unwrap_or_default()
    );
    let at_op = to_op.headers()["location"].to_str().unwrap().to_owned();
    let Outcome::Left(callback) = browser
        .walk(&at_op, "alice", &oidc::password_of("alice"), true)
        .await
    else {
        panic!("the provider did not send the browser back");
    };
    let back = browser.get(&callback).await;
    assert_eq!(back.status(), StatusCode::FOUND);
    let resume = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        resume.starts_with(&format!("{base}/oauth/authorize/resume?")),
        "{resume}"
    );
    let consent = browser.get(&resume).await;
    assert_eq!(consent.status(), StatusCode::OK);
    let consent = consent.text().await.unwrap();
    assert!(consent.contains("Desk agent"), "{consent}");
    // The session that carried alice back is over.
    let carrier = resume.split("session_token=").nth(1).unwrap();
    let over = rampart_tests::Client::new(&c.shop.app)
        .with_token(carrier)
        .get("/api/v2/user/session")
        .await;
    assert_eq!(over.status, StatusCode::UNAUTHORIZED, "{}", over.text);
    let marker = "name=\"request\" value=\"";
    let at = consent.find(marker).unwrap() + marker.len();
    let request = &consent[at..at + consent[at..].find('"').unwrap()];
    let done = browser
        .send(
            reqwest::Method::POST,
            &format!("{base}/oauth/authorize/consent"),
            Some(&[("request", request), ("decision", "allow")][..]),
            &[],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = reqwest::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("client_id", "desk-agent"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = t["access_token"].as_str().unwrap_or_else(|| panic!("{t}"));
    let listed = reqwest::Client::new()
        .post(&resource)
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
}

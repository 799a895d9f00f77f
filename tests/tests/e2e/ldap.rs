//! Directory sign-in (`ldap` services) against a real slapd: group DNs map to roles,
//! directory attributes feed row filters, and every refused sign-in issues nothing and, where
//! it must not, never reaches the directory.

use rampart_tests::Client;
use rampart_tests::ldap::{self, Directory, Variant};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

struct Corp {
    shop: Shop,
    dir: Directory,
    service_id: i64,
    sales: i64,
    support: i64,
    fallback: i64,
}

/// The shop, a directory, roles `sales` (customers of the user's `departmentNumber`),
/// `support` (orders) and `fallback` (products), and service `corp_ldap` mapping the
/// directory's groups to the first two (`default_role` given or not).
async fn corp(variant: Variant, default_role: bool) -> Corp {
    let shop = Shop::new().await;
    let dir = Directory::start(variant);
    let role = |name: &str, body: Value| {
        let admin = shop.admin.clone();
        let name = name.to_owned();
        async move {
            let mut body = body;
            body["name"] = json!(name);
            let r = admin
                .post("/api/v2/system/role", json!({"resource": [body]}))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.body["resource"][0]["id"].as_i64().unwrap()
        }
    };
    let sid = shop.service_id;
    let sales = role(
        "sales",
        json!({"role_service_access_by_role_id": [{"service_id": sid,
        "component": "_table/customers/*", "verb_mask": 1,
        "filters": "tenant_id = {user.claims.departmentNumber}"}]}),
    )
    .await;
    let support = role(
        "support",
        json!({"role_service_access_by_role_id": [{"service_id": sid,
        "component": "_table/orders/*", "verb_mask": 1}]}),
    )
    .await;
    let fallback = role(
        "fallback",
        json!({"role_service_access_by_role_id": [{"service_id": sid,
        "component": "_table/products/*", "verb_mask": 1}]}),
    )
    .await;
    let mut config = json!({
        "host": "127.0.0.1", "port": dir.port, "tls": "starttls", "ca_cert": dir.ca_pem(),
        "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "bind_password": ldap::SERVICE_PASSWORD,
        // Written as an admin might: other case and spacing than the directory returns.
        "group_role_map": [
            {"group": "CN=Sales, OU=Groups, DC=example, DC=org", "role_id": sales},
            {"group": "cn=support,ou=groups,dc=example,dc=org", "role_id": support}]});
    if default_role {
        config["default_role"] = json!(fallback);
    }
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_ldap", "type": "ldap", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let service_id = r.body["resource"][0]["id"].as_i64().unwrap();
    Corp {
        shop,
        dir,
        service_id,
        sales,
        support,
        fallback,
    }
}

async fn sign_in(
    shop: &Shop,
    username: &str,
    password: &str,
) -> (rampart_tests::client::Reply, Option<Client>) {
    let anon = Client::new(&shop.app);
    let r = anon
        .post(
            "/api/v2/user/session",
            json!({"service": "corp_ldap", "username": username, "password": password}),
        )
        .await;
    let session = r.body["session_token"].as_str().map(|t| anon.with_token(t));
    (r, session)
}

fn tenants(body: &Value) -> Vec<i64> {
    body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tenant_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn directory_groups_give_roles_and_attributes_feed_row_filters() {
    let c = corp(Variant::default(), true).await;
    let (r, alice) = sign_in(&c.shop, "alice", &ldap::password_of("alice")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role_id"], c.sales);
    assert_eq!(r.body["email"], "alice+corp_ldap@example.org");
    let alice = alice.unwrap();
    let rows = alice.get("/api/v2/db/_table/customers").await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    assert_eq!(tenants(&rows.body), vec![1, 1], "departmentNumber 1 only");
    assert_eq!(
        alice.get("/api/v2/db/_table/orders").await.status,
        StatusCode::FORBIDDEN
    );

    let (r, bob) = sign_in(&c.shop, "bob", &ldap::password_of("bob")).await;
    assert_eq!(r.body["role_id"], c.support, "{}", r.text);
    let bob = bob.unwrap();
    assert_eq!(
        bob.get("/api/v2/db/_table/orders").await.status,
        StatusCode::OK
    );
    assert_eq!(
        bob.get("/api/v2/db/_table/customers").await.status,
        StatusCode::FORBIDDEN
    );

    let (r, carol) = sign_in(&c.shop, "carol", &ldap::password_of("carol")).await;
    assert_eq!(
        r.body["role_id"], c.fallback,
        "no mapped group: the default role: {}",
        r.text
    );
    assert_eq!(
        carol
            .unwrap()
            .get("/api/v2/db/_table/products")
            .await
            .status,
        StatusCode::OK
    );

    // Carol joins `sales` in the directory: her next sign-in carries it.
    let out = std::process::Command::new("ldapmodify")
        .args(["-x", "-H", &c.dir.url(), "-D", &format!("cn=admin,{}", ldap::BASE_DN), "-w", "admin-pw"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(format!(
                "dn: cn=sales,ou=groups,{base}\nchangetype: modify\nadd: member\nmember: uid=carol,ou=people,{base}\n",
                base = ldap::BASE_DN).as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let (r, _) = sign_in(&c.shop, "carol", &ldap::password_of("carol")).await;
    assert_eq!(r.body["role_id"], c.sales, "{}", r.text);

    // The directory's people are shadow users, one each, however often they sign in.
    let users = c.shop.admin.get("/api/v2/system/user").await;
    assert_eq!(
        users.body["resource"].as_array().unwrap().len(),
        3,
        "{}",
        users.text
    );
}

#[tokio::test]
async fn without_a_default_role_an_unmapped_person_gets_a_403_that_says_why() {
    let c = corp(Variant::default(), false).await;
    let (r, session) = sign_in(&c.shop, "carol", &ldap::password_of("carol")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(session.is_none());
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("corp_ldap") && message.contains("no default role"),
        "{message}"
    );
}

#[tokio::test]
async fn refused_directory_sign_ins_issue_nothing_and_injections_never_bind() {
    let c = corp(Variant::default(), true).await;
    let attempts = [
        ("alice", "wrong-password".to_owned()),
        ("nobody", "whatever-password".to_owned()),
        ("*)(uid=*", "whatever-password".to_owned()),
        ("admin)(|(uid=*", "whatever-password".to_owned()),
        ("*", ldap::password_of("alice")),
        ("alice", String::new()),
    ];
    let binds_before = c.dir.binds().len();
    for (user, password) in &attempts {
        let (r, session) = sign_in(&c.shop, user, password).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{user:?}: {}", r.text);
        assert!(session.is_none());
    }
    let users = c.shop.admin.get("/api/v2/system/user").await;
    assert_eq!(users.body["resource"], json!([]), "no shadow user created");
    // Only the wrong password reached a user's bind; the rest stopped at the search (or
    // before the directory, for the empty password).
    let user_binds: Vec<String> = c.dir.binds()[binds_before..]
        .iter()
        .filter(|l| l.contains("BIND dn=") && !l.contains(ldap::SERVICE_DN))
        .cloned()
        .collect();
    assert_eq!(user_binds.len(), 1, "{user_binds:#?}");
    assert!(user_binds[0].contains("uid=alice"), "{user_binds:#?}");
}

#[tokio::test]
async fn an_empty_password_never_reaches_a_directory_that_would_accept_it() {
    // This directory answers a DN with an empty password as a successful anonymous bind, as
    // Active Directory does; an `adldap` service binds people directly (no service account).
    let c = corp(
        Variant {
            anonymous_dn_binds: true,
            ..Variant::default()
        },
        true,
    )
    .await;
    let ad = json!({"host": "127.0.0.1", "port": c.dir.port, "tls": "starttls", "ca_cert": c.dir.ca_pem(),
        "base_dn": ldap::BASE_DN, "user_filter": "(uid={username})", "default_role": c.fallback,
        "account_suffix": "@example.org"});
    let r = c
        .shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_ad", "type": "adldap", "config": ad}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let anon = Client::new(&c.shop.app);
    for service in ["corp_ldap", "corp_ad"] {
        let before = c.dir.binds().len();
        for user in ["alice", "uid=alice,ou=people,dc=example,dc=org"] {
            let r = anon
                .post(
                    "/api/v2/user/session",
                    json!({"service": service, "username": user, "password": ""}),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{service} {user}: {}",
                r.text
            );
        }
        assert_eq!(
            c.dir.binds().len(),
            before,
            "no bind was sent: {:#?}",
            c.dir.binds()
        );
    }
    assert_eq!(
        c.shop.admin.get("/api/v2/system/user").await.body["resource"],
        json!([])
    );
    let (ok, _) = sign_in(&c.shop, "alice", &ldap::password_of("alice")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn tls_is_verified_and_the_bind_password_never_comes_back() {
    let c = corp(Variant::default(), true).await;
    // ldaps with the CA works; without it the server's certificate is not trusted.
    let ldaps = json!({"host": "127.0.0.1", "port": c.dir.tls_port, "tls": "ldaps", "ca_cert": c.dir.ca_pem(),
        "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "bind_password": ldap::SERVICE_PASSWORD});
    let r = c
        .shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_ldaps", "type": "ldap", "config": ldaps.clone()}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut untrusted = ldaps.clone();
    untrusted.as_object_mut().unwrap().remove("ca_cert");
    let r = c
        .shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_ldaps2", "type": "ldap", "config": untrusted}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let mut wrong = ldaps;
    wrong["bind_password"] = json!("not-the-service-password");
    let r = c
        .shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_ldaps3", "type": "ldap", "config": wrong}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(!r.text.contains("not-the-service-password"), "{}", r.text);

    let shown = c
        .shop
        .admin
        .get(&format!("/api/v2/system/service/{}", c.service_id))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body["config"].get("bind_password").is_none(),
        "{}",
        shown.text
    );
    assert!(!shown.text.contains(ldap::SERVICE_PASSWORD));
    // An update without the password keeps the stored one.
    let r = c
        .shop
        .admin
        .patch(
            &format!("/api/v2/system/service/{}", c.service_id),
            json!({"config": {
        "host": "127.0.0.1", "port": c.dir.port, "tls": "starttls", "ca_cert": c.dir.ca_pem(),
        "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "default_role": c.fallback}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (ok, _) = sign_in(&c.shop, "alice", &ldap::password_of("alice")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let store = std::fs::read(c.shop.app.data_dir.path().join("rampart.db")).unwrap();
    let needle = ldap::SERVICE_PASSWORD.as_bytes();
    assert!(
        !store.windows(needle.len()).any(|w| w == needle),
        "not in the store in clear"
    );
    assert!(
        !c.shop.app.log().contains(ldap::SERVICE_PASSWORD),
        "not in the log"
    );
    assert!(
        !c.shop.app.log().contains(&ldap::password_of("alice")),
        "not in the log"
    );
}

#[tokio::test]
async fn a_directory_without_tls_is_refused_rather_than_spoken_to_in_clear() {
    let shop = Shop::new().await;
    let dir = Directory::start(Variant {
        no_tls: true,
        ..Variant::default()
    });
    let config = |tls: &str| {
        json!({"host": "127.0.0.1", "port": dir.port, "tls": tls,
        "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "bind_password": ldap::SERVICE_PASSWORD})
    };
    let before = dir.binds().len();
    let r = shop.admin.post("/api/v2/system/service", json!({"resource": [{"name": "corp_ldap", "type": "ldap", "config": config("starttls")}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        dir.binds().len(),
        before,
        "no bind in clear: {:#?}",
        dir.binds()
    );
    // Saying so explicitly (a directory on this machine) works.
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_ldap", "type": "ldap", "config": config("none")}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn an_admin_tests_a_directory_sign_in_without_creating_anyone() {
    let c = corp(Variant::default(), false).await;
    let test = format!("/api/v2/system/service/{}/test-login", c.service_id);
    let r = c
        .shop
        .admin
        .post(
            &test,
            json!({"username": "alice", "password": ldap::password_of("alice")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"]["id"], c.sales);
    assert_eq!(r.body["role"]["name"], "sales");
    assert_eq!(r.body["role"]["by"], "a group mapping");
    assert_eq!(r.body["email"], "alice@example.org");
    assert!(
        r.body["groups"]
            .to_string()
            .to_lowercase()
            .contains("cn=sales"),
        "{}",
        r.text
    );
    // Nobody was created: the user list is still empty.
    let users = c.shop.admin.get("/api/v2/system/user").await;
    assert_eq!(users.body["resource"], json!([]), "{}", users.text);

    // Someone in no mapped group, without a default role: the reason, as sign-in would give it.
    let r = c
        .shop
        .admin
        .post(
            &test,
            json!({"username": "carol", "password": ldap::password_of("carol")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], Value::Null);
    assert!(
        r.body["message"].as_str().unwrap().starts_with("No role"),
        "{}",
        r.text
    );

    // A wrong password: the sign-in's own refusal, as an answer (the admin's session is fine);
    // not a sys-admin, no test.
    let r = c
        .shop
        .admin
        .post(
            &test,
            json!({"username": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["success"], json!(false));
    assert_eq!(r.body["message"], json!("Invalid credentials supplied."));
    let r = Client::new(&c.shop.app)
        .post(
            &test,
            json!({"username": "alice", "password": ldap::password_of("alice")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // A database service signs nobody in.
    let r = c
        .shop
        .admin
        .post(
            &format!("/api/v2/system/service/{}/test-login", c.shop.service_id),
            json!({"username": "alice", "password": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

#[tokio::test]
async fn an_mcp_client_is_authorized_by_a_person_who_signs_in_with_the_directory() {
    let c = corp(Variant::default(), true).await;
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
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{base}/oauth/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", "desk-agent"),
            ("redirect_uri", "http://127.0.0.1:50123/callback"),
            ("state", "s1"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{base}/mcp")),
        ],
    )
    .unwrap();
    let page = http.get(authorize).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = page.text().await.unwrap();
    assert!(page.contains("<option value=\"corp_ldap\">"), "{page}");
    let marker = "name=\"request\" value=\"";
    let hidden = |html: &str| {
        let at = html.find(marker).unwrap() + marker.len();
        html[at..at + html[at..].find('"').unwrap()].to_owned()
    };
    let request = hidden(&page);
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        http.post(format!("{base}{path}"))
            .header("Cookie", &cookie)
            .form(&form)
            .send()
    };
    let wrong = post(
        "/oauth/authorize/sign-in",
        vec![
            ("request", request.clone()),
            ("method", "corp_ldap".into()),
            ("login", "alice".into()),
            ("password", "not-her-password".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let consent = post(
        "/oauth/authorize/sign-in",
        vec![
            ("request", request),
            ("method", "corp_ldap".into()),
            ("login", "alice".into()),
            ("password", ldap::password_of("alice")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(consent.status(), StatusCode::OK);
    let consent = consent.text().await.unwrap();
    assert!(
        consent.contains("alice+corp_ldap@example.org")
            && consent.contains("<strong>sales</strong>"),
        "{consent}"
    );
    let done = post(
        "/oauth/authorize/consent",
        vec![("request", hidden(&consent)), ("decision", "allow".into())],
    )
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:50123/callback?code="),
        "{location}"
    );
}

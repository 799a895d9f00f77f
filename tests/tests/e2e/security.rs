//! Deny by default and hostile input: each case names the attack it stops. Every refusal is
//! a 4xx DreamFactory error and the database is unchanged afterwards.

use rampart_tests::ldap::{self, Directory, Variant};
use rampart_tests::saml::Idp;
use rampart_tests::smtp::SmtpSink;
use rampart_tests::{Client, Options};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::fixture::Shop;

async fn orders_count(shop: &Shop) -> i64 {
    let mut conn = shop.db.connect().await;
    sqlx::query("SELECT count(*) FROM orders")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn malformed_filters_and_sql_fragments_are_refused_and_run_nothing() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let attacks: &[(&str, &str)] = &[
        ("filter", "id = 1; DROP TABLE orders"), // stacked statement
        ("filter", "id = 1) OR (1 = 1"),         // DreamFactory's role-filter escape
        ("filter", "(id = 1"),                   // unbalanced
        ("filter", "1 = 1"),                     // tautology without a field
        ("filter", "id = (SELECT max(id) FROM orders)"), // sub-select as a value
        ("filter", "total > pg_sleep(5)"),       // function call
        ("filter", "id = 1 -- comment"),         // comment
        ("filter", "ssn_of_someone_else = 1"),   // unknown field
        ("filter", "status = 'nope'"),           // not an enum label
        ("filter", "id = 'abc'"),                // not an integer
        ("filter", "placed_at > 'not a date'"),  // rejected by the database's parser
        ("fields", "id,pg_sleep(5)"),            // expression as a field
        ("fields", "id,\"id\"; DROP TABLE orders"), // identifier injection
        ("order", "id; DROP TABLE orders"),      // order injection
        ("order", "(CASE WHEN true THEN id END)"), // expression as an order key
        ("order", "nosuchcolumn"),               // unknown order field
        ("group", "id) FROM orders; --"),        // group injection
        ("related", "customers_by_customer_id; DROP"), // unknown relation
        ("limit", "1; DROP TABLE orders"),       // non-numeric limit
        ("ids", "1,2) OR (1=1"),                 // ids injection
    ];
    for (param, value) in attacks {
        let r = c
            .get_with("/api/v2/db/_table/orders", &[(param, value)])
            .await;
        assert!(
            r.status.is_client_error(),
            "{param}={value} gave {}: {}",
            r.status,
            r.text
        );
        assert!(
            r.body["error"]["message"].is_string(),
            "{param}={value}: DreamFactory error shape: {}",
            r.text
        );
        assert!(
            !r.text.to_lowercase().contains("syntax error at or near"),
            "no SQL in messages: {}",
            r.text
        );
    }
    let evil_table = c
        .get("/api/v2/db/_table/orders;%20DROP%20TABLE%20orders")
        .await;
    assert!(evil_table.status.is_client_error());
    assert_eq!(
        orders_count(&shop).await,
        6,
        "nothing was dropped or changed"
    );
}

#[tokio::test]
async fn filter_errors_point_at_the_problem() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let r = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("filter", "(status = 'shipped') AND (total >")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("position"), "{}", r.text);
}

#[tokio::test]
async fn values_with_operators_quotes_and_parentheses_are_matched_literally() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let cases = [
        ("note = 'first; DROP TABLE orders; --'", vec![1]),
        ("note = 'it''s fine'", vec![3]),
        ("note = 'big (one)'", vec![4]),
        ("note contains '(one)'", vec![4]),
        ("note like '%;%'", vec![1]),
        ("note in ('big (one)', 'it''s fine')", vec![3, 4]),
        ("note starts with 'first;'", vec![1]),
        ("note contains '%'", vec![]),
        ("id between 2 and 3", vec![2, 3]),
        ("note is null and id > 2", vec![5, 6]),
        ("not (status = 'shipped')", vec![2, 5]),
        ("status in ('pending','cancelled') || id = 1", vec![1, 2, 5]),
        ("note ilike 'IT%'", vec![3]),
        ("id not in (1,2,3,4)", vec![5, 6]),
    ];
    for (filter, expect) in cases {
        let r = c
            .get_with(
                "/api/v2/db/_table/orders",
                &[("filter", filter), ("fields", "id"), ("order", "id")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
        let ids: Vec<i64> = r.body["resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, expect, "{filter}");
    }
    let placeholder = c
        .send(
            reqwest::Method::POST,
            "/api/v2/db/_table/orders",
            Some(json!({"filter": "status = :s", "params": {":s": "cancelled"}, "fields": "id"})),
        )
        .await;
    // Without tunnelling, a POST whose body holds only options is not a record to create;
    // tunnelled to GET, the same body is a read.
    assert_eq!(
        placeholder.status,
        StatusCode::BAD_REQUEST,
        "{}",
        placeholder.text
    );
    assert_eq!(placeholder.message(), "No record(s) detected in request.");
    assert_eq!(orders_count(&shop).await, 6);
    let tunnelled = c
        .send(
            reqwest::Method::POST,
            "/api/v2/db/_table/orders?method=GET",
            Some(json!({"filter": "status = :s", "params": {":s": "cancelled"}, "fields": "id"})),
        )
        .await;
    assert_eq!(
        tunnelled.body["resource"],
        json!([{"id": 5}]),
        "{}",
        tunnelled.text
    );
}

#[tokio::test]
async fn requests_without_a_valid_credential_are_refused() {
    let shop = Shop::new().await;
    let anon = rampart_tests::Client::new(&shop.app);
    let none = anon.get("/api/v2/db/_table/orders").await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(
        none.message()
            .starts_with("No session token (JWT) or API Key detected")
    );
    let bad_key = anon
        .with_key("0000000000000000000000000000000000000000000000000000000000000000")
        .get("/api/v2/db/_table/orders")
        .await;
    assert_eq!(bad_key.status, StatusCode::UNAUTHORIZED);
    let mut forged = anon.clone();
    forged.token = Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.".into());
    assert_eq!(
        forged.get("/api/v2/db/_table/orders").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn deny_by_default_covers_roles_apps_and_verbs() {
    let shop = Shop::new().await;
    // An app without a default role gets nothing.
    let (_, key) = shop.admin.create_app("no-role", None).await;
    let r = shop
        .admin
        .with_key(&key)
        .get("/api/v2/db/_table/orders")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.message().starts_with("Role not found"), "{}", r.text);

    // A role with rows for another service reaches nothing here.
    let other = shop
        .admin
        .create_service("other", shop.db.service_config())
        .await;
    let elsewhere = shop
        .admin
        .create_role("elsewhere", &[(other, "*", 31)])
        .await;
    let (_, key) = shop
        .admin
        .create_app("elsewhere-app", Some(elsewhere))
        .await;
    assert_eq!(
        shop.admin
            .with_key(&key)
            .get("/api/v2/db/_table")
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // A write-only grant does not allow reads; a read grant does not allow writes.
    let writer = shop.client_with("writer", &[("_table/orders/*", 2)]).await;
    assert_eq!(
        writer.get("/api/v2/db/_table/orders").await.status,
        StatusCode::FORBIDDEN
    );
    let reader = shop.client_with("reader", &[("_table/orders/*", 1)]).await;
    let del = reader.delete("/api/v2/db/_table/orders/1").await;
    assert_eq!(del.status, StatusCode::FORBIDDEN);
    assert!(
        del.message()
            .contains("DELETE access to component '_table/orders/1'"),
        "{}",
        del.text
    );

    // Deactivating the role or the app takes effect on the next request.
    let (app_id, key) = shop
        .admin
        .create_app(
            "toggled",
            Some(
                shop.admin
                    .create_role("toggled", &[(shop.service_id, "*", 1)])
                    .await,
            ),
        )
        .await;
    let c = shop.admin.with_key(&key);
    assert_eq!(
        c.get("/api/v2/db/_table/orders").await.status,
        StatusCode::OK
    );
    shop.admin
        .patch(
            &format!("/api/v2/system/app/{app_id}"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(
        c.get("/api/v2/db/_table/orders").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(orders_count(&shop).await, 6);
}

#[tokio::test]
async fn an_inactive_role_is_refused_with_dreamfactorys_message() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("sleepy", &[(shop.service_id, "*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("sleepy-app", Some(role)).await;
    shop.admin
        .patch(
            &format!("/api/v2/system/role/{role}"),
            json!({"is_active": false}),
        )
        .await;
    let r = shop
        .admin
        .with_key(&key)
        .get("/api/v2/db/_table/orders")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.message().contains("is not active"), "{}", r.text);
}

#[tokio::test]
async fn unknown_tables_fields_and_relations_are_4xx_never_500() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    for path in [
        "/api/v2/db/_table/nope",
        "/api/v2/db/_table/nope/1",
        "/api/v2/db/_schema/nope",
        "/api/v2/db/_table/orders/999",
        "/api/v2/nosuchservice/_table",
        "/api/v2/db/_nonsense",
        "/api/v2/db/_table/orders?fields=nope",
        "/api/v2/db/_table/orders?related=nope",
        "/api/v2/db/_table/orders?order=id%20sideways",
        "/api/v2/db/_table/orders?group=status&fields=id",
        "/api/v2/db/_table/orders?fields=SUM(note)",
        "/api/v2/db/_table/orders/abc",
    ] {
        let r = c.get(path).await;
        assert!(
            r.status.is_client_error(),
            "{path}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(
            r.body["error"]["status_code"],
            json!(r.status.as_u16()),
            "{path}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn identity_and_mail_secrets_never_reach_responses_logs_or_the_store_file() {
    const SMTP_PASSWORD: &str = "smtp-secret-4f1c9a";
    const SP_KEY: &str = "sp-private-key-secret-77d2";
    let sink = SmtpSink::start_with_login("mailer", SMTP_PASSWORD);
    let mut env = sink.env();
    env.push(("RAMPART_SMTP__USERNAME".into(), "mailer".into()));
    env.push(("RAMPART_SMTP__PASSWORD".into(), SMTP_PASSWORD.into()));
    // Everything the server can say, said.
    env.push(("RUST_LOG".into(), "debug".into()));
    let shop = Shop::with(&Options { env }).await;
    let dir = Directory::start(Variant::default());
    let idp = Idp::new();
    let ldap_config = json!({"host": "127.0.0.1", "port": dir.port, "tls": "starttls", "ca_cert": dir.ca_pem(),
        "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "bind_password": ldap::SERVICE_PASSWORD});
    let saml_config = json!({"idp_entity_id": "https://idp.example.test/saml",
        "idp_sso_url": "https://idp.example.test/sso", "idp_x509cert": idp.certificate(),
        "sp_entity_id": "https://rampart.example.test/sp", "sp_private_key": SP_KEY});
    for (name, kind, config) in [
        ("corp_ldap", "ldap", ldap_config.clone()),
        ("corp_saml", "saml", saml_config),
    ] {
        let r = shop
            .admin
            .post(
                "/api/v2/system/service",
                json!({"resource": [{"name": name, "type": kind, "config": config}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    // A wrong bind password is refused without being echoed.
    let mut wrong = ldap_config;
    wrong["bind_password"] = json!("wrong-bind-secret-0b3e");
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "bad_ldap", "type": "ldap", "config": wrong}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // The directory vouches for alice (through the service account's search; with no role
    // mapped she gets 403, where a wrong password would get 401), and a reset mail goes out
    // through the SMTP login.
    let anon = Client::new(&shop.app);
    let r = anon
        .post(
            "/api/v2/user/session",
            json!({"service": "corp_ldap",
        "username": "alice", "password": ldap::password_of("alice")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = shop
        .admin
        .post(
            "/api/v2/system/user",
            json!({"resource": [{"email": "jane@example.com",
        "password": "violet-otter-harbour"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = anon
        .post(
            "/api/v2/user/password?reset=true",
            json!({"email": "jane@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        sink.wait_for("jane@example.com", 1).await.is_some(),
        "the mail went through the authenticated sink"
    );

    let mut seen = String::new();
    for path in [
        "/api/v2/system/service",
        "/api/v2/system/service?fields=*",
        "/api/v2/system/environment",
    ] {
        seen.push_str(&shop.admin.get(path).await.text);
    }
    let store = std::fs::read(shop.app.data_dir.path().join("rampart.db")).unwrap();
    let log = shop.app.log();
    assert!(log.contains("DEBUG"), "the server logged at debug level");
    for secret in [
        SMTP_PASSWORD,
        SP_KEY,
        ldap::SERVICE_PASSWORD,
        "wrong-bind-secret-0b3e",
    ] {
        assert!(!seen.contains(secret), "{secret} in an API response");
        assert!(!log.contains(secret), "{secret} in the log");
        let needle = secret.as_bytes();
        assert!(
            !store.windows(needle.len()).any(|w| w == needle),
            "{secret} readable in the store file"
        );
    }
}

/// Behind a trusted proxy (a load balancer in front of several nodes) the client is the
/// address it forwarded for: the audit trail names it, sign-in throttling counts each client
/// apart (one attacker cannot hold back everyone behind the proxy), and a proxy on this
/// machine does not open `/metrics` to the world. From anyone else, `X-Forwarded-For` is the
/// client's own say and ignored.
#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_address_it_forwarded_for() {
    let shop = Shop::with(&Options {
        env: vec![
            (
                "RAMPART_TRUSTED_PROXIES".into(),
                "127.0.0.1, 10.0.0.0/8".into(),
            ),
            (
                "RAMPART_AUTH__LOGIN_FAILURES_PER_ADDRESS".into(),
                "3".into(),
            ),
        ],
    })
    .await;
    let http = reqwest::Client::new();
    let sign_in = |from: &'static str, id: String| {
        http.post(format!("{}/api/v2/user/session", shop.app.base))
            .header("X-Forwarded-For", from)
            .header("X-Request-Id", id)
            .json(&json!({"email": "nobody@example.com", "password": "not-the-password-1"}))
            .send()
    };
    for i in 0..3 {
        let r = sign_in("198.51.100.7", format!("fwd-{i}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let held = sign_in("198.51.100.7", "fwd-held".into()).await.unwrap();
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client of the same proxy (its own forged hop to the left is not believed).
    let other = sign_in("198.51.100.7, 203.0.113.4", "fwd-other".into())
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);

    let event = |id: &'static str| {
        let admin = &shop.admin;
        async move {
            for _ in 0..100 {
                let r = admin
                    .get_with(
                        "/api/v2/system/audit",
                        &[("filter", &format!("request_id = '{id}'"))],
                    )
                    .await;
                if let Some(e) = r.body["resource"].get(0) {
                    return e.clone();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("no event for {id}");
        }
    };
    assert_eq!(event("fwd-0").await["client"], "198.51.100.7");
    assert_eq!(event("fwd-other").await["client"], "203.0.113.4");

    // Through the proxy on this machine, an outside client gets no metrics.
    let metrics = http
        .get(format!("{}/metrics", shop.app.base))
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::FORBIDDEN);
    let local = http
        .get(format!("{}/metrics", shop.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), StatusCode::OK);

    // Without trusted proxies the header changes nothing.
    let plain = Shop::new().await;
    let r = http
        .get(format!("{}/api/v2", plain.app.base))
        .header("X-Forwarded-For", "198.51.100.7")
        .header("X-Request-Id", "fwd-ignored")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut seen = serde_json::Value::Null;
    for _ in 0..100 {
        let r = plain
            .admin
            .get_with(
                "/api/v2/system/audit",
                &[("filter", "request_id = 'fwd-ignored'")],
            )
            .await;
        if let Some(e) = r.body["resource"].get(0) {
            seen = e.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen["client"], "127.0.0.1");
}

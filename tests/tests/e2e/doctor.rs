//! `rampart doctor`: critical findings for a superuser service login and for an `ssn` column a
//! role reads in clear; none for the least-privilege setup the README documents.

use rampart_tests::Client;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::fixture::Shop;

/// `rampart doctor --json` on this server's data: (exit success, findings).
fn doctor(shop: &Shop) -> (bool, Vec<Value>) {
    let out = shop.app.run(&["doctor", "--json"]);
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), findings)
}

fn has(findings: &[Value], severity: &str, check: &str, about: &str) -> bool {
    findings.iter().any(|f| {
        f["severity"] == severity
            && f["check"] == check
            && (f["subject"].as_str().unwrap_or_default().contains(about)
                || f["message"].as_str().unwrap_or_default().contains(about))
    })
}

#[tokio::test]
async fn a_superuser_login_and_an_unmasked_ssn_are_critical() {
    // The test shop's service logs in as postgres, a superuser.
    let shop = Shop::new().await;
    shop.admin
        .create_role("support", &[(shop.service_id, "_table/customers/*", 1)])
        .await;
    // Reading orders reads their customers too, embedded through related, ssn included.
    shop.admin
        .create_role("fulfilment", &[(shop.service_id, "_table/orders/*", 1)])
        .await;
    let (ok, findings) = doctor(&shop);
    assert!(!ok, "critical findings fail the command: {findings:?}");
    assert!(
        has(&findings, "critical", "superuser_login", "service db"),
        "{findings:#?}"
    );
    assert!(
        has(
            &findings,
            "critical",
            "unmasked_sensitive_column",
            "db.customers.ssn"
        ),
        "{findings:#?}"
    );
    assert!(
        findings.iter().any(|f| f["severity"] == "critical"
            && f["subject"] == "role fulfilment"
            && f["message"].as_str().unwrap_or_default().contains(
                "reads db.customers.ssn in clear, embedded in orders records through related (customers_by_customer_id)"
            )),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn an_admin_password_attackers_try_first_is_reported() {
    let shop = Shop::new().await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/admin",
            json!({"resource": [{"email": "legacy-ops@example.com", "password": "long-unique-passphrase-71c2"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // The policy refuses such a password through the API; one carried over from an older
    // system (written straight into the store) is what the doctor is for.
    let hash = rampart_server::auth::password::hash("changeme123").expect("hash");
    let url = format!(
        "sqlite://{}",
        shop.app.data_dir.path().join("rampart.db").display()
    );
    let mut store = sqlx::SqliteConnection::connect(&url).await.expect("store");
    let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE email = ?")
        .bind(&hash)
        .bind("legacy-ops@example.com")
        .execute(&mut store)
        .await
        .expect("update");
    assert_eq!(changed.rows_affected(), 1);
    drop(store);

    let (ok, findings) = doctor(&shop);
    assert!(!ok);
    assert!(
        has(
            &findings,
            "high",
            "weak_admin_password",
            "legacy-ops@example.com"
        ),
        "{findings:#?}"
    );
    // The first admin's own password is not one of them.
    assert!(
        !has(
            &findings,
            "high",
            "weak_admin_password",
            rampart_tests::app::ADMIN_EMAIL
        ),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn the_documented_least_privilege_setup_is_clean() {
    let shop = Shop::new().await;
    let login = format!(
        "rampart_api_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = "least-privilege-pw-3c9e";
    // README, "A least-privilege database login", as written there.
    let mut conn = shop.db.connect().await;
    for stmt in [
        format!(
            "CREATE ROLE {login} LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        ),
        format!("GRANT USAGE ON SCHEMA public TO {login}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {login}"),
    ] {
        conn.execute(sqlx::AssertSqlSafe(stmt)).await.unwrap();
    }
    let mut config = shop.db.service_config();
    config["username"] = json!(login);
    config["password"] = json!(password);
    // The superuser service of the fixture goes; the least-privilege one replaces it.
    let r = shop
        .admin
        .delete(&format!("/api/v2/system/service/{}", shop.service_id))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let service = shop.admin.create_service("shop", config.clone()).await;
    // A role reading customers with the ssn masked, and one that never sees it: it reads
    // orders, and blocks customers (which it would otherwise read embedded in orders).
    let r = shop.admin.post("/api/v2/system/role", json!({"resource": [{"name": "support",
        "role_service_access_by_role_id": [{"service_id": service, "component": "_table/customers/*",
            "verb_mask": 1, "field_rules": {"ssn": {"mask": "last4"}}}]}]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = shop.admin.post("/api/v2/system/role", json!({"resource": [{"name": "fulfilment",
        "role_service_access_by_role_id": [{"service_id": service, "component": "_table/orders/*", "verb_mask": 1},
            {"service_id": service, "component": "_table/customers/*", "verb_mask": 0}]}]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = Client::new(&shop.app).get("/api/v2").await;
    assert_eq!(r.status, StatusCode::OK);

    let (ok, findings) = doctor(&shop);
    assert!(ok, "{findings:#?}");
    assert_eq!(findings, Vec::<Value>::new());

    // Unmasking the ssn is caught at once.
    let role = shop
        .admin
        .get("/api/v2/system/role?related=role_service_access_by_role_id")
        .await;
    let support = role.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "support")
        .unwrap()
        .clone();
    let access = support["role_service_access_by_role_id"][0]["id"]
        .as_i64()
        .unwrap();
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{}", support["id"]),
            json!({"role_service_access_by_role_id": [{"id": access, "service_id": service,
                "component": "_table/customers/*", "verb_mask": 1, "field_rules": {}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (ok, findings) = doctor(&shop);
    assert!(!ok);
    assert!(
        has(
            &findings,
            "critical",
            "unmasked_sensitive_column",
            "shop.customers.ssn"
        ),
        "{findings:#?}"
    );

    // A db_role_map that switches a role's requests to a superuser undoes the least-privilege
    // login: that is critical too.
    let mut mapped = config.clone();
    mapped["db_role_map"] = json!({"support": "postgres"});
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/service/{service}"),
            json!({ "config": mapped }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (ok, findings) = doctor(&shop);
    assert!(!ok);
    assert!(
        has(&findings, "critical", "db_role_superuser", "postgres"),
        "{findings:#?}"
    );

    conn.execute(sqlx::AssertSqlSafe(format!("DROP OWNED BY {login}")))
        .await
        .unwrap();
    drop(conn);
    drop(shop);
    let mut admin = sqlx::PgConnection::connect(&rampart_tests::pg::admin_url())
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {login}")))
        .await
        .unwrap();
}

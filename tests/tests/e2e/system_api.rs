//! The system API: sessions, services, roles with nested access rows, apps and keys, admins.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::Shop;
use rampart_tests::{Client, spawn_app};

/// The SQLite store's bytes (main file and write-ahead log).
fn store_bytes(shop: &Shop) -> String {
    let dir = shop.app.data_dir.path();
    let mut all = Vec::new();
    for name in ["rampart.db", "rampart.db-wal"] {
        all.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn the_system_api_needs_an_admin_session() {
    let app = spawn_app();
    let anon = Client::new(&app);
    for path in [
        "/api/v2/system/service",
        "/api/v2/system/role",
        "/api/v2/system/app",
        "/api/v2/system/admin",
    ] {
        assert_eq!(
            anon.get(path).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(
        anon.get("/api/v2/system/admin/session").await.status,
        StatusCode::NOT_FOUND
    );
    let env = anon.get("/api/v2/system/environment").await;
    assert_eq!(env.body["platform"]["license"], json!("OPEN SOURCE"));
    let wrong = anon
        .post(
            "/api/v2/system/admin/session",
            json!({"email": "admin@example.com", "password": "wrong-password-123"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let unknown = anon
        .post(
            "/api/v2/system/admin/session",
            json!({"email": "nobody@example.com", "password": "wrong-password-123"}),
        )
        .await;
    assert_eq!(
        unknown.message(),
        wrong.message(),
        "no user enumeration through messages"
    );
}

#[tokio::test]
async fn logout_revokes_the_session_token() {
    let app = spawn_app();
    let admin = Client::admin(&app).await;
    let me = admin.get("/api/v2/system/admin/session").await;
    assert_eq!(me.body["email"], json!("admin@example.com"));
    assert_eq!(me.body["is_sys_admin"], json!(true));
    assert_eq!(
        admin.delete("/api/v2/system/admin/session").await.status,
        StatusCode::OK
    );
    assert_eq!(
        admin.get("/api/v2/system/role").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_service_that_cannot_connect_is_refused_with_a_clear_message_and_no_secret() {
    let app = spawn_app();
    let admin = Client::admin(&app).await;
    let r = admin
        .post("/api/v2/system/service", json!({"resource": [{"name": "broken", "type": "pgsql", "config": {"host": "127.0.0.1", "port": 1, "database": "x", "username": "u", "password": "s3cret-pass"}}]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.message().starts_with("Could not connect to the database"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("s3cret-pass"));
    assert_eq!(
        admin.get("/api/v2/system/service").await.body["resource"],
        json!([]),
        "nothing stored"
    );
    let bad_type = admin
        .post(
            "/api/v2/system/service",
            json!({"name": "m", "type": "mysql", "config": {}}),
        )
        .await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    let reserved = admin
        .post(
            "/api/v2/system/service",
            json!({"name": "system", "type": "pgsql", "config": {}}),
        )
        .await;
    assert_eq!(reserved.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn service_passwords_are_encrypted_at_rest_and_never_returned() {
    let shop = Shop::new().await;
    let svc = shop
        .admin
        .get(&format!("/api/v2/system/service/{}", shop.service_id))
        .await;
    assert_eq!(svc.body["name"], json!("db"));
    assert_eq!(svc.body["config"]["database"], json!(shop.db.name));
    assert!(svc.body["config"].get("password").is_none(), "{}", svc.text);
    let text = store_bytes(&shop);
    assert!(
        !text.contains("unused-with-trust-auth"),
        "the password is not in the store file in clear"
    );
    assert!(text.contains("enc:v1:"));
    // Saving without a password keeps the stored one.
    let r = shop.admin.patch(&format!("/api/v2/system/service/{}", shop.service_id), json!({"label": "Shop", "config": shop.db.service_config().as_object().unwrap().iter().filter(|(k, _)| *k != "password").map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>()})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn roles_carry_nested_access_rows_that_patch_adds_changes_and_removes() {
    let shop = Shop::new().await;
    let created = shop
        .admin
        .post(
            "/api/v2/system/role",
            json!({"resource": [{"name": "sales", "description": "Sales", "is_active": true,
                "role_service_access_by_role_id": [
                    {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1, "requestor_mask": 1, "filters": [{"name": "tenant_id", "operator": "=", "value": "{tenant}"}], "filter_op": "AND"},
                    {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 3, "requestor_mask": 3, "field_rules": {"ssn": {"mask": "last4"}}}],
                "lookup_by_role_id": [{"name": "tenant", "value": "2", "private": false}, {"name": "secret", "value": "hush", "private": true}]}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["resource"][0]["id"].as_i64().unwrap();
    let role = shop
        .admin
        .get(&format!(
            "/api/v2/system/role/{id}?related=role_service_access_by_role_id,lookup_by_role_id"
        ))
        .await;
    let rows = role.body["role_service_access_by_role_id"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["field_rules"], json!({"ssn": {"mask": "last4"}}));
    assert_eq!(rows[0]["filters"][0]["value"], json!("{tenant}"));
    let lookups = role.body["lookup_by_role_id"].as_array().unwrap();
    assert_eq!(
        lookups[1]["value"],
        json!("**********"),
        "private lookups are masked"
    );

    let first = rows[0]["id"].as_i64().unwrap();
    let second = rows[1]["id"].as_i64().unwrap();
    let patched = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{id}"),
            json!({"role_service_access_by_role_id": [
                {"id": first, "service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 3, "requestor_mask": 1},
                {"id": second, "role_id": null},
                {"service_id": shop.service_id, "component": "_schema/*", "verb_mask": 1}]}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let after = shop
        .admin
        .get(&format!(
            "/api/v2/system/role/{id}?related=role_service_access_by_role_id"
        ))
        .await;
    let rows = after.body["role_service_access_by_role_id"]
        .as_array()
        .unwrap();
    let summary: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["component"].as_str().unwrap().to_owned(),
                r["verb_mask"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("_table/orders/*".to_owned(), 3),
            ("_schema/*".to_owned(), 1)
        ]
    );

    let bad_filter = shop.admin.post("/api/v2/system/role", json!({"name": "bad", "role_service_access_by_role_id": [{"service_id": shop.service_id, "component": "*", "verb_mask": 1, "filters": "a = 1) OR (1=1"}]})).await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        shop.admin
            .get_with("/api/v2/system/role", &[("filter", "name = 'bad'")])
            .await
            .body["resource"],
        json!([]),
        "nothing half-written"
    );

    let listed = shop
        .admin
        .get_with(
            "/api/v2/system/role",
            &[("filter", "name like 'sal%'"), ("fields", "id,name")],
        )
        .await;
    assert_eq!(
        listed.body["resource"],
        json!([{"id": id, "name": "sales"}])
    );
    assert_eq!(
        shop.admin
            .delete(&format!("/api/v2/system/role/{id}"))
            .await
            .body,
        json!({"id": id})
    );
    assert_eq!(
        shop.admin
            .get(&format!("/api/v2/system/role/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_and_regeneration_retires_the_old_one() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("reader", &[(shop.service_id, "*", 1)])
        .await;
    let (id, key) = shop.admin.create_app("keyed", Some(role)).await;
    assert_eq!(key.len(), 64);
    let listed = shop.admin.get("/api/v2/system/app").await;
    assert!(!listed.text.contains(&key), "keys are never listed");
    assert!(listed.body["resource"][0].get("api_key").is_none());
    assert!(
        !store_bytes(&shop).contains(&key),
        "only the key's hash is stored"
    );

    let old = shop.admin.with_key(&key);
    assert_eq!(
        old.get("/api/v2/db/_table/orders").await.status,
        StatusCode::OK
    );
    let regen = shop
        .admin
        .patch(
            &format!("/api/v2/system/app/{id}?regenerate=true"),
            json!({}),
        )
        .await;
    let new_key = regen.body["api_key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(
        old.get("/api/v2/db/_table/orders").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        shop.admin
            .with_key(&new_key)
            .get("/api/v2/db/_table/orders")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admins_can_be_created_listed_and_must_have_strong_passwords() {
    let app = spawn_app();
    let admin = Client::admin(&app).await;
    let weak = admin
        .post(
            "/api/v2/system/admin",
            json!({"email": "b@example.com", "password": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    let ok = admin
        .post(
            "/api/v2/system/admin",
            json!({"email": "b@example.com", "password": "long-enough-password"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let list = admin.get("/api/v2/system/admin").await;
    assert_eq!(list.body["resource"].as_array().unwrap().len(), 2);
    assert!(
        !list.text.contains("argon2"),
        "password hashes are never returned"
    );
    let dup = admin
        .post(
            "/api/v2/system/admin",
            json!({"email": "B@example.com", "password": "long-enough-password"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    let b = admin
        .post(
            "/api/v2/system/admin/session",
            json!({"email": "b@example.com", "password": "long-enough-password"}),
        )
        .await;
    assert_eq!(b.status, StatusCode::OK);
}

#[tokio::test]
async fn a_connection_can_be_tested_without_storing_anything() {
    let shop = Shop::new().await;
    let admin = &shop.admin;
    let good = shop.db.service_config();
    let r = admin
        .post(
            "/api/v2/system/service/test",
            json!({"type": "pgsql", "config": good}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["success"], json!(true));

    // A refused connection: the server's clear message, no secret in it, nothing stored.
    let before = admin.get("/api/v2/system/service").await.body;
    let r = admin
        .post(
            "/api/v2/system/service/test",
            json!({"type": "pgsql", "config": {"host": "127.0.0.1", "port": 1, "database": "x",
                "username": "u", "password": "s3cret-pass"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.message().starts_with("Could not connect to the database"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("s3cret-pass"));
    assert_eq!(admin.get("/api/v2/system/service").await.body, before);

    // Editing: with the service's id, a config without its password uses the stored one.
    let mut without_secret = good.clone();
    without_secret.as_object_mut().unwrap().remove("password");
    let r = admin
        .post(
            "/api/v2/system/service/test",
            json!({"id": shop.service_id, "config": without_secret}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = admin
        .post("/api/v2/system/service/test", json!({"config": good}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = Client::new(&shop.app)
        .post(
            "/api/v2/system/service/test",
            json!({"type": "pgsql", "config": good}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_service_schema_shows_tables_fields_keys_relationships_and_functions() {
    let shop = Shop::new().await;
    let admin = &shop.admin;
    let r = admin
        .get(&format!(
            "/api/v2/system/service/{}/schema",
            shop.service_id
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["service"], "db");
    let tables = r.body["table"].as_array().unwrap();
    let orders = tables
        .iter()
        .find(|t| t["name"] == "orders")
        .expect("orders");
    assert_eq!(orders["primary_key"], json!(["id"]));
    let customer_id = orders["field"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "customer_id")
        .expect("customer_id");
    assert_eq!(customer_id["is_foreign_key"], json!(true));
    assert_eq!(customer_id["ref_table"], "customers");
    assert!(
        orders["related"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rel| rel["type"] == "belongs_to" && rel["ref_table"] == "customers"),
        "{orders}"
    );
    // The sys-admin's view hides nothing: the ssn is there, unmasked.
    let customers = tables.iter().find(|t| t["name"] == "customers").unwrap();
    assert!(
        customers["field"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "ssn" && f.get("mask").is_none())
    );
    // Each argument says whether it is an input or a column of the result.
    let orders_over = r.body["function"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "orders_over")
        .expect("orders_over");
    let modes: Vec<&str> = orders_over["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["mode"].as_str().unwrap())
        .collect();
    assert!(
        modes.contains(&"in") && modes.contains(&"table"),
        "{orders_over}"
    );

    // A table created since: seen after a refresh.
    let mut conn = shop.db.connect().await;
    sqlx::Executor::execute(&mut conn, "CREATE TABLE invoices (id serial PRIMARY KEY)")
        .await
        .unwrap();
    let r = admin
        .get(&format!(
            "/api/v2/system/service/{}/schema?refresh=true",
            shop.service_id
        ))
        .await;
    assert!(
        r.body["table"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "invoices"),
        "{}",
        r.text
    );
    let r = admin.get("/api/v2/system/service/9999/schema").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn global_lookups_feed_every_roles_filters_until_a_role_overrides_them() {
    let shop = Shop::new().await;
    let admin = &shop.admin;
    let r = admin
        .post(
            "/api/v2/system/lookup",
            json!({"resource": [{"name": "tenant", "value": "2"},
                                {"name": "vault", "value": "s3cret-value", "private": true}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let tenant = r.body["resource"][0]["id"].as_i64().unwrap();
    let vault = r.body["resource"][1]["id"].as_i64().unwrap();
    let list = admin.get("/api/v2/system/lookup").await;
    assert_eq!(list.body["resource"].as_array().unwrap().len(), 2);
    assert!(!list.text.contains("s3cret-value"), "{}", list.text);
    assert_eq!(
        admin
            .get(&format!("/api/v2/system/lookup/{vault}"))
            .await
            .body["value"],
        json!("**********")
    );

    // A role without its own `tenant` reads tenant 2; with its own, its own.
    let filtered = |name: &str| {
        json!({"resource": [{"name": name, "is_active": true,
            "role_service_access_by_role_id": [{"service_id": shop.service_id,
                "component": "_table/customers/*", "verb_mask": 1, "filters": "tenant_id = {tenant}"}]}]})
    };
    let plain = shop.client_with_role(filtered("plain")).await;
    let rows = plain.get("/api/v2/db/_table/customers").await;
    assert_eq!(
        rows.body["resource"][0]["name"],
        json!("Alan Turing"),
        "{}",
        rows.text
    );
    let mut own = filtered("own");
    own["resource"][0]["lookup_by_role_id"] = json!([{"name": "tenant", "value": "1"}]);
    let own = shop.client_with_role(own).await;
    let rows = own.get("/api/v2/db/_table/customers").await;
    assert_eq!(
        rows.body["resource"].as_array().unwrap().len(),
        2,
        "{}",
        rows.text
    );

    // A change holds at once; a deleted one is gone; another owner's id is not found here.
    let r = admin
        .patch(
            &format!("/api/v2/system/lookup/{tenant}"),
            json!({"name": "tenant", "value": "1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = plain.get("/api/v2/db/_table/customers").await;
    assert_eq!(
        rows.body["resource"].as_array().unwrap().len(),
        2,
        "{}",
        rows.text
    );
    let r = admin
        .delete(&format!("/api/v2/system/lookup/{tenant}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let rows = plain.get("/api/v2/db/_table/customers").await;
    assert_eq!(rows.status, StatusCode::BAD_REQUEST, "{}", rows.text);
    let role_lookup = admin
        .get("/api/v2/system/role?related=lookup_by_role_id")
        .await;
    let role_lookup_id = role_lookup.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["lookup_by_role_id"][0]["id"].as_i64())
        .unwrap();
    let r = admin
        .delete(&format!("/api/v2/system/lookup/{role_lookup_id}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = admin
        .post(
            "/api/v2/system/lookup",
            json!({"resource": [{"value": "x"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

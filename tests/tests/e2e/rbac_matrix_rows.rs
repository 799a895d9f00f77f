//! The RBAC matrix: three roles (full access; tenant-scoped by `{user.claims.tenant_id}` from
//! an external token, with `ssn` masked `last4`; read-only with `email` hidden) × every verb ×
//! every addressing mode (id, ids, filter, batch, related). No request may return, count, change or delete a row outside the role's
//! filter, and no response or error may contain a masked value in clear or a hidden value.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::fixture::Shop;
use rampart_tests::Client;
use rampart_tests::idp::{self, JwksServer};

/// Requests every role makes: (method, path, body).
fn requests() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v2/db/_table/customers?order=id", None),
        (Method::GET, "/api/v2/db/_table/customers/102", None),
        (Method::GET, "/api/v2/db/_table/customers?ids=101,102", None),
        (
            Method::GET,
            "/api/v2/db/_table/customers?filter=id%20%3E%200",
            None,
        ),
        (
            Method::GET,
            "/api/v2/db/_table/customers?count_only=true",
            None,
        ),
        (
            Method::GET,
            "/api/v2/db/_table/customers?include_count=true&limit=1",
            None,
        ),
        (
            Method::GET,
            "/api/v2/db/_table/orders?related=customers_by_customer_id",
            None,
        ),
        (
            Method::GET,
            "/api/v2/db/_table/customers/101?related=orders_by_customer_id",
            None,
        ),
        (
            Method::POST,
            "/api/v2/db/_table/customers?fields=*",
            Some(json!({"email": "m2@example.com", "name": "M2", "tenant_id": 2})),
        ),
        (
            Method::POST,
            "/api/v2/db/_table/customers?fields=*",
            Some(
                json!([{"email": "m1@example.com", "name": "M1", "tenant_id": 1}, {"email": "m3@example.com", "name": "M3", "tenant_id": 2}]),
            ),
        ),
        (
            Method::PATCH,
            "/api/v2/db/_table/customers/102?fields=*",
            Some(json!({"name": "changed"})),
        ),
        (
            Method::PATCH,
            "/api/v2/db/_table/customers?ids=101,102&fields=*",
            Some(json!({"name": "changed"})),
        ),
        (
            Method::PATCH,
            "/api/v2/db/_table/customers?filter=id%20%3E%20100&fields=*",
            Some(json!({"name": "changed"})),
        ),
        (
            Method::PATCH,
            "/api/v2/db/_table/customers?continue=true&fields=*",
            Some(json!([{"id": 101, "name": "changed"}, {"id": 102, "name": "changed"}])),
        ),
        (
            Method::PUT,
            "/api/v2/db/_table/customers/101?fields=*",
            Some(json!({"tenant_id": 2})),
        ),
        (
            Method::DELETE,
            "/api/v2/db/_table/customers/102?fields=*",
            None,
        ),
        (
            Method::DELETE,
            "/api/v2/db/_table/customers?ids=102&fields=*",
            None,
        ),
        (
            Method::DELETE,
            "/api/v2/db/_table/customers?filter=tenant_id%20%3D%202&fields=*",
            None,
        ),
        (
            Method::DELETE,
            "/api/v2/db/_table/customers?continue=true&fields=*",
            Some(json!([{"id": 102}, {"id": 103}])),
        ),
    ]
}

/// Customers 101 (tenant 1) and 102, 103 (tenant 2), with no orders, so deletes can succeed.
async fn seed(shop: &Shop) {
    let mut conn = shop.db.connect().await;
    sqlx::query(
        "INSERT INTO customers (id, email, name, ssn, tenant_id) VALUES
         (101, 'one@example.com', 'One', '111-11-1111', 1),
         (102, 'two@example.com', 'Two', '222-22-2222', 2),
         (103, 'three@example.com', 'Three', '333-33-3333', 2)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

/// All of tenant 2's customers as text, to compare before and after.
async fn tenant_two(shop: &Shop) -> String {
    let mut conn = shop.db.connect().await;
    sqlx::query("SELECT coalesce(string_agg(c::text, '|' ORDER BY id), '') FROM customers c WHERE tenant_id = 2")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0)
}

async fn everything(shop: &Shop) -> String {
    let mut conn = shop.db.connect().await;
    sqlx::query("SELECT string_agg(c::text, '|' ORDER BY id) FROM customers c")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0)
}

async fn run_all(c: &Client) -> Vec<(String, StatusCode, String)> {
    let mut out = Vec::new();
    for (m, path, body) in requests() {
        let r = c.send(m.clone(), path, body).await;
        out.push((format!("{m} {path}"), r.status, r.text));
    }
    out
}

#[tokio::test]
async fn the_tenant_role_never_reaches_another_tenants_rows_or_a_clear_ssn() {
    let shop = Shop::new().await;
    seed(&shop).await;
    let before = tenant_two(&shop).await;
    // The tenant comes from the caller's identity provider: a claim of its signed token.
    let role = shop
        .admin
        .post("/api/v2/system/role", json!({"name": "tenant", "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 31,
             "filters": "tenant_id = {user.claims.tenant_id}", "field_rules": {"ssn": {"mask": "last4"}}},
            {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1}]}))
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
    let jwks = JwksServer::start(&["k1"]);
    let provider = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "idp", "type": "jwt", "config": {
        "jwks_url": jwks.url, "issuer": idp::ISSUER, "audience": idp::AUDIENCE,
        "group_role_map": [{"group": "tenants", "role_id": role.body["resource"][0]["id"]}]}}]}),
        )
        .await;
    assert_eq!(provider.status, StatusCode::CREATED, "{}", provider.text);
    let c = Client::new(&shop.app).with_bearer(&idp::sign(
        "k1",
        &idp::claims(
            "tenant-user",
            json!({"groups": ["tenants"], "tenant_id": 1}),
        ),
    ));
    for (request, status, text) in run_all(&c).await {
        assert!(!status.is_server_error(), "{request}: {status} {text}");
        for clear in [
            "111-11",
            "222-22",
            "333-33",
            "123-45",
            "987-65",
            "555-12",
            "two@example.com",
            "three@example.com",
            "alan@example.com",
        ] {
            assert!(!text.contains(clear), "{request} leaked {clear}: {text}");
        }
        if request.contains("count_only") {
            assert_eq!(
                text, "3",
                "{request}: counts only tenant 1 (ada, grace, one)"
            );
        }
    }
    assert_eq!(
        tenant_two(&shop).await,
        before,
        "tenant 2's rows are untouched"
    );
    let mut conn = shop.db.connect().await;
    let leaked: i64 = sqlx::query(
        "SELECT count(*) FROM customers WHERE email IN ('m2@example.com', 'm3@example.com')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get(0);
    assert_eq!(leaked, 0, "no row was created for tenant 2");
}

#[tokio::test]
async fn the_read_only_role_changes_nothing_and_never_sees_an_email() {
    let shop = Shop::new().await;
    seed(&shop).await;
    let before = everything(&shop).await;
    let c = shop
        .client_with_role(json!({"name": "reader", "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "field_rules": {"email": "hidden"}},
            {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1}]}))
        .await;
    for (request, status, text) in run_all(&c).await {
        assert!(!status.is_server_error(), "{request}: {status} {text}");
        assert!(
            !text.contains("@example.com"),
            "{request} leaked an e-mail: {text}"
        );
        if !request.starts_with("GET") {
            assert_eq!(status, StatusCode::FORBIDDEN, "{request}: {text}");
        }
    }
    assert_eq!(everything(&shop).await, before, "nothing changed");
}

#[tokio::test]
async fn the_full_role_reaches_every_row_through_every_mode() {
    let shop = Shop::new().await;
    seed(&shop).await;
    let c = shop
        .client_with(
            "full",
            &[("_table/customers/*", 31), ("_table/orders/*", 31)],
        )
        .await;
    let results = run_all(&c).await;
    for (request, status, text) in &results {
        assert!(!status.is_server_error(), "{request}: {status} {text}");
    }
    let get_102 = &results[1];
    assert_eq!(get_102.1, StatusCode::OK, "{}", get_102.2);
    assert!(
        get_102.2.contains("222-22-2222"),
        "the full role reads ssn in clear"
    );
    let mut conn = shop.db.connect().await;
    let left: String = sqlx::query("SELECT string_agg(id || ':' || tenant_id || ':' || name, ',' ORDER BY id) FROM customers WHERE id > 100")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        left, "101:2:changed",
        "102 and 103 were deleted, 101 changed and moved by PUT"
    );
}

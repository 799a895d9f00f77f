//! What the console shows of a role, from the server: "see as this role" answers exactly what
//! the role's own key gets (rows filtered, fields masked or absent, writes and functions
//! refused); the role's OpenAPI document is pruned to it; a filter is checked by the server's
//! parser with the position of its mistake. Sys-admins only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::Shop;

/// A role: tenant 1's customers with `ssn` masked and `email` hidden; orders in full.
async fn tenant_role(shop: &Shop) -> (i64, rampart_tests::Client) {
    let body = json!({"resource": [{"name": "tenant-1", "is_active": true,
        "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 31, "requestor_mask": 1,
             "filters": "tenant_id = {tenant}",
             "field_rules": {"ssn": {"mask": "last4"}, "email": "hidden"}},
            {"service_id": shop.service_id, "component": "_func/*", "verb_mask": 3, "requestor_mask": 1}],
        "lookup_by_role_id": [{"name": "tenant", "value": "1", "private": false}]}]});
    let r = shop.admin.post("/api/v2/system/role", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["resource"][0]["id"].as_i64().unwrap();
    let (_, key) = shop.admin.create_app("tenant-app", Some(id)).await;
    (id, shop.admin.with_key(&key))
}

#[tokio::test]
async fn the_preview_answers_what_the_roles_own_key_gets() {
    let shop = Shop::new().await;
    let (role, key) = tenant_role(&shop).await;
    let preview = format!("/api/v2/system/role/{role}/preview/db/customers");
    for query in [
        vec![("order", "id")],
        vec![("order", "id"), ("filter", "name like 'G%'")],
        vec![("order", "id"), ("fields", "id,ssn"), ("limit", "1")],
    ] {
        let seen = shop.admin.get_with(&preview, &query).await;
        let real = key.get_with("/api/v2/db/_table/customers", &query).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        assert_eq!(seen.body, real.body, "{query:?}");
    }
    let seen = shop.admin.get_with(&preview, &[("order", "id")]).await.body;
    let rows = seen["resource"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "tenant 1 only: {seen}");
    assert_eq!(rows[0]["ssn"], json!("****6789"));
    assert!(rows.iter().all(|r| r.get("email").is_none()), "{seen}");
    assert!(!seen.to_string().contains("123-45-6789"));

    // A table the role does not reach: the role's own refusal.
    let r = shop
        .admin
        .get(&format!("/api/v2/system/role/{role}/preview/db/orders"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Read-only whatever the role grants: other verbs are not routed, and a filter on a
    // masked field is refused as it is for the role.
    for method in [Method::POST, Method::PATCH, Method::DELETE] {
        let r = shop
            .admin
            .send(
                method.clone(),
                &preview,
                Some(json!({"resource": [{"name": "x"}]})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}: {}",
            r.text
        );
    }
    let r = shop
        .admin
        .get_with(&preview, &[("filter", "ssn = '123-45-6789'")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let mut conn = shop.db.connect().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM customers")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3);

    // Unknown role, bad user id, and callers who are not sys-admins.
    let r = shop
        .admin
        .get("/api/v2/system/role/999/preview/db/customers")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = shop.admin.get_with(&preview, &[("as_user", "ten")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = key.get(&preview).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

#[tokio::test]
async fn the_preview_as_a_user_applies_their_lookups() {
    let shop = Shop::new().await;
    let body = json!({"resource": [{"name": "own-row", "is_active": true,
        "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "requestor_mask": 1,
             "filters": "email = {user.email}"}]}]});
    let r = shop.admin.post("/api/v2/system/role", body).await;
    let role = r.body["resource"][0]["id"].as_i64().unwrap();
    let r = shop
        .admin
        .post(
            "/api/v2/system/user",
            json!({"resource": [{"email": "grace@example.com", "name": "Grace", "password": "a-long-enough-passphrase"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = r.body["resource"][0]["id"].as_i64().unwrap().to_string();
    let preview = format!("/api/v2/system/role/{role}/preview/db/customers");
    // Without a user, what an app key with this role gets: the lookup has no value.
    let nobody = shop.admin.get(&preview).await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST, "{}", nobody.text);
    assert_eq!(nobody.message(), "Unknown lookup '{user.email}'.");
    let grace = shop.admin.get_with(&preview, &[("as_user", &user)]).await;
    let rows = grace.body["resource"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", grace.text);
    assert_eq!(rows[0]["name"], json!("Grace Hopper"));
}

fn paths(doc: &Value) -> Vec<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_roles_openapi_document_holds_only_what_it_grants() {
    let shop = Shop::new().await;
    let (role, key) = tenant_role(&shop).await;
    let doc = shop
        .admin
        .get(&format!("/api/v2/system/role/{role}/openapi"))
        .await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    let p = paths(&doc.body);
    assert!(
        p.iter().any(|p| p == "/api/v2/db/_table/customers"),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|p| p.starts_with("/api/v2/db/_table/orders")),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|p| p.starts_with("/api/v2/db/_proc")),
        "{p:?}"
    );
    // The same document the role's key gets from /api/docs.
    let own = key.get("/api/docs/openapi.json").await;
    assert_eq!(doc.body, own.body);
    let r = shop.admin.get("/api/v2/system/role/999/openapi").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_filter_is_checked_by_the_servers_parser_with_its_position() {
    let shop = Shop::new().await;
    let check = |body: Value| {
        let admin = &shop.admin;
        async move { admin.post("/api/v2/system/filter", body).await }
    };
    let ok = check(json!({"filter": "tenant_id = {tenant} and name like 'A%'"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["valid"], json!(true));
    assert_eq!(ok.body["fields"], json!(["tenant_id", "name"]));

    let bad = check(json!({"filter": "tenant_id = 1 and (name = 'x'"})).await;
    assert_eq!(bad.body["valid"], json!(false), "{}", bad.text);
    assert_eq!(bad.body["position"], json!(18), "{}", bad.text);
    assert!(bad.body["message"].as_str().unwrap().len() > 5);

    // Against a table: every field must be one of its columns.
    let unknown = check(json!({"filter": "tenant_id = 1 and nmae = 'x'",
        "service_id": shop.service_id, "table": "customers"}))
    .await;
    assert_eq!(unknown.body["valid"], json!(false), "{}", unknown.text);
    assert_eq!(unknown.body["position"], json!(18));
    assert_eq!(
        unknown.body["message"],
        json!("Table 'customers' has no column 'nmae'.")
    );
    let known = check(
        json!({"filter": "tenant_id = 1", "service_id": shop.service_id, "table": "customers"}),
    )
    .await;
    assert_eq!(known.body["valid"], json!(true));
    let r = check(json!({"filter": "a = 1", "service_id": 999, "table": "customers"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    let app = shop.client_with("reader", &[("*", 1)]).await;
    let r = app
        .post("/api/v2/system/filter", json!({"filter": "a = 1"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

#[tokio::test]
async fn saving_a_role_as_read_keeps_its_private_lookups_value() {
    let shop = Shop::new().await;
    let body = json!({"resource": [{"name": "vaulted", "is_active": true,
        "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "requestor_mask": 1,
             "filters": "tenant_id = {tenant}"}],
        "lookup_by_role_id": [{"name": "tenant", "value": "2", "private": true}]}]});
    let r = shop.admin.post("/api/v2/system/role", body).await;
    let role = r.body["resource"][0]["id"].as_i64().unwrap();
    // What an editor reads (the value hidden) and writes back unchanged.
    let read = shop
        .admin
        .get(&format!("/api/v2/system/role/{role}?related=*"))
        .await;
    assert_eq!(
        read.body["lookup_by_role_id"][0]["value"],
        json!("**********")
    );
    let r = shop
        .admin
        .patch(&format!("/api/v2/system/role/{role}"), read.body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Private lookups never reach a filter; made public (value still as read), the stored
    // value shows through the filter.
    let mut lookup = read.body["lookup_by_role_id"][0].clone();
    lookup["private"] = json!(false);
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{role}"),
            json!({"lookup_by_role_id": [lookup]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = shop
        .admin
        .get(&format!("/api/v2/system/role/{role}/preview/db/customers"))
        .await;
    let rows = rows.body["resource"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "tenant 2 still: {rows:?}");
    assert_eq!(rows[0]["name"], json!("Alan Turing"));
}

//! RBAC levels 4 and 5 on reads: field rules (hidden, masked, read-only) and row filters with
//! lookups, on lists, records, ids, counts and related records. Each inference attempt is a
//! named case; no response ever holds a hidden value or a masked value in clear.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;
use rampart_tests::Client;

/// Every clear SSN and e-mail of the fixture: none may appear where they are hidden or masked.
const SECRETS: &[&str] = &[
    "123-45-6789",
    "987-65-4321",
    "555-12-3456",
    "123-45",
    "987-65",
    "555-12",
];

/// A client whose role reaches customers of tenant `{tenant}` = 1 with `ssn` masked last4,
/// and orders in full.
async fn tenant_client(shop: &Shop) -> Client {
    shop.client_with_role(json!({"resource": [{"name": "tenant-1", "is_active": true,
                "role_service_access_by_role_id": [
                    {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "requestor_mask": 1,
                     "filters": [{"name": "tenant_id", "operator": "=", "value": "{tenant}"}], "filter_op": "AND",
                     "field_rules": {"ssn": {"mask": "last4"}}},
                    {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1, "requestor_mask": 1}],
                "lookup_by_role_id": [{"name": "tenant", "value": "1", "private": false}]}]})).await
}

fn ids(body: &Value) -> Vec<i64> {
    body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

fn assert_no_secret(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "leaked {s}: {text}");
    }
}

#[tokio::test]
async fn a_row_filter_limits_every_read_to_the_roles_rows() {
    let shop = Shop::new().await;
    let c = tenant_client(&shop).await;
    let list = c
        .get_with("/api/v2/db/_table/customers", &[("order", "id")])
        .await;
    assert_eq!(ids(&list.body), vec![1, 3], "{}", list.text);
    assert_eq!(
        c.get_with("/api/v2/db/_table/customers", &[("count_only", "true")])
            .await
            .body,
        json!(2)
    );
    let counted = c
        .get_with(
            "/api/v2/db/_table/customers",
            &[("include_count", "true"), ("limit", "1")],
        )
        .await;
    assert_eq!(counted.body["meta"]["count"], json!(2));
    assert_eq!(
        c.get("/api/v2/db/_table/customers/2").await.status,
        StatusCode::NOT_FOUND,
        "another tenant's record is invisible"
    );
    let by_ids = c
        .get_with("/api/v2/db/_table/customers", &[("ids", "1,2")])
        .await;
    assert_eq!(by_ids.status, StatusCode::BAD_REQUEST);
    assert_no_secret(&by_ids.text);
    // The client's filter is AND-ed with the role's as a tree, never as text.
    let escape = c
        .get_with(
            "/api/v2/db/_table/customers",
            &[("filter", "id = 2) OR (1 = 1")],
        )
        .await;
    assert!(escape.status.is_client_error());
    let or = c
        .get_with(
            "/api/v2/db/_table/customers",
            &[("filter", "id = 2 OR id = 3"), ("order", "id")],
        )
        .await;
    assert_eq!(
        ids(&or.body),
        vec![3],
        "OR inside the client filter stays inside it: {}",
        or.text
    );
    // Related records obey the related table's own filter.
    let orders = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("related", "customers_by_customer_id"),
                ("order", "id"),
                ("fields", "id,customer_id"),
            ],
        )
        .await;
    assert_eq!(orders.status, StatusCode::OK, "{}", orders.text);
    for o in orders.body["resource"].as_array().unwrap() {
        let customer = &o["customers_by_customer_id"];
        if o["customer_id"] == json!(2) {
            assert!(
                customer.is_null(),
                "tenant 2's customer is not expanded: {o}"
            );
        } else {
            assert_eq!(customer["id"], o["customer_id"]);
        }
    }
    assert_no_secret(&orders.text);
}

#[tokio::test]
async fn masked_fields_are_masked_everywhere_and_cannot_be_used_to_infer_values() {
    let shop = Shop::new().await;
    let c = tenant_client(&shop).await;
    let one = c.get("/api/v2/db/_table/customers/1").await;
    assert_eq!(one.body["ssn"], json!("****6789"), "{}", one.text);
    let list = c.get("/api/v2/db/_table/customers").await;
    assert_no_secret(&list.text);
    let inference: &[(&str, &str)] = &[
        ("filter", "ssn like '1%'"),           // prefix probing
        ("filter", "ssn = '123-45-6789'"),     // equality probing
        ("filter", "ssn between '1' and '2'"), // range probing
        ("filter", "ssn is null"),             // null probing
        ("order", "ssn"),                      // ordering reveals rank
        ("group", "ssn"),                      // grouping reveals equality
        ("fields", "MAX(ssn)"),                // aggregates reveal values
        ("fields", "COUNT(ssn)"),              // even counts
    ];
    for (param, value) in inference {
        let r = c
            .get_with("/api/v2/db/_table/customers", &[(param, value)])
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{param}={value}: {}",
            r.text
        );
        assert_no_secret(&r.text);
    }
    // Through a relationship, the related table's masks apply and its masked fields are
    // refused in sub-options.
    let rel = c
        .get_with(
            "/api/v2/db/_table/orders/1",
            &[("related", "customers_by_customer_id")],
        )
        .await;
    assert_eq!(
        rel.body["customers_by_customer_id"]["ssn"],
        json!("****6789"),
        "{}",
        rel.text
    );
    let sub = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("related", "customers_by_customer_id"),
                ("customers_by_customer_id.order", "ssn"),
            ],
        )
        .await;
    assert_eq!(sub.status, StatusCode::BAD_REQUEST, "{}", sub.text);
    let schema = c
        .get_with(
            "/api/v2/db/_table/customers",
            &[("include_schema", "true"), ("limit", "1")],
        )
        .await;
    let ssn = schema.body["meta"]["schema"]["field"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ssn")
        .unwrap();
    assert_eq!(ssn["mask"], json!("last4"));
}

#[tokio::test]
async fn hidden_fields_do_not_exist_for_the_role() {
    let shop = Shop::new().await;
    let c = shop
        .client_with_role(
            json!({"name": "no-email", "role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
                 "field_rules": {"email": "hidden", "ssn": "hidden"}}]}),
        )
        .await;
    let list = c.get("/api/v2/db/_table/customers").await;
    assert_eq!(list.status, StatusCode::OK);
    for rec in list.body["resource"].as_array().unwrap() {
        assert!(
            rec.get("email").is_none() && rec.get("ssn").is_none(),
            "{rec}"
        );
    }
    assert!(!list.text.contains("@example.com"));
    for (param, value) in [
        ("fields", "id,email"),
        ("filter", "email like 'a%'"),
        ("order", "email"),
        ("group", "email"),
        ("fields", "MIN(email)"),
    ] {
        let r = c
            .get_with("/api/v2/db/_table/customers", &[(param, value)])
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{param}={value}: {}",
            r.text
        );
        assert!(!r.text.contains("@example.com"));
    }
    let schema = c
        .get_with(
            "/api/v2/db/_table/customers",
            &[("include_schema", "true"), ("limit", "1")],
        )
        .await;
    assert_eq!(schema.status, StatusCode::OK);
    assert!(!schema.text.contains("\"email\""), "{}", schema.text);
}

#[tokio::test]
async fn every_mask_kind_renders_as_documented() {
    let shop = Shop::new().await;
    let c = shop.client_with_role(json!({"name": "masks", "role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
                 "field_rules": {"email": {"mask": "email"}, "ssn": {"mask": "hash"}, "name": {"mask": "full"}, "tenant_id": {"mask": "null"}}}]})).await;
    let ada = c.get("/api/v2/db/_table/customers/1").await;
    assert_eq!(ada.body["email"], json!("a***@example.com"), "{}", ada.text);
    assert_eq!(ada.body["name"], json!("****"));
    assert_eq!(ada.body["tenant_id"], json!(null));
    let hash = ada.body["ssn"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|ch| ch.is_ascii_hexdigit()));
    assert_ne!(
        hash, "01a54629efb952287e554eb23ef69c52097a75aecc0e3a93ca0855ab6d7a31a0",
        "salted: not the bare sha256 of the value"
    );
    assert_no_secret(&ada.text);
    let bad = shop.admin.post("/api/v2/system/role", json!({"name": "bad-mask", "role_service_access_by_role_id": [{"service_id": shop.service_id, "component": "*", "verb_mask": 1, "field_rules": {"ssn": {"mask": "rot13"}}}]})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn several_grants_at_one_tier_never_widen_each_others_limits() {
    let shop = Shop::new().await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/role",
            json!({"name": "two-grants", "role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "filters": "tenant_id = 1", "field_rules": {"ssn": "read_only"}},
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "filters": "id < 3", "field_rules": {"ssn": "hidden"}}]}),
        )
        .await;
    let role = r.body["resource"][0]["id"].as_i64().unwrap();
    let (_, key) = shop.admin.create_app("two-grants-app", Some(role)).await;
    let list = shop
        .admin
        .with_key(&key)
        .get_with("/api/v2/db/_table/customers", &[("order", "id")])
        .await;
    assert_eq!(ids(&list.body), vec![1], "{}", list.text);
    assert_no_secret(&list.text);
}

#[tokio::test]
async fn keys_and_relationships_through_hidden_fields_cannot_reveal_them() {
    let shop = Shop::new().await;
    let c = shop.client_with_role(json!({"name": "hidden-fk", "role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1, "field_rules": {"customer_id": "hidden"}},
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "field_rules": {"id": {"mask": "hash"}}}]})).await;
    // The customer of an order would reveal the hidden customer_id.
    let rel = c
        .get_with(
            "/api/v2/db/_table/orders/1",
            &[("related", "customers_by_customer_id")],
        )
        .await;
    assert_eq!(rel.status, StatusCode::BAD_REQUEST, "{}", rel.text);
    let star = c
        .get_with("/api/v2/db/_table/orders/1", &[("related", "*")])
        .await;
    assert!(
        star.body.get("customers_by_customer_id").is_none()
            && star.body.get("customer_id").is_none(),
        "{}",
        star.text
    );
    // Probing a masked key by id or ids would reveal which values exist.
    assert_eq!(
        c.get("/api/v2/db/_table/customers/1").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.get_with("/api/v2/db/_table/customers", &[("ids", "1,2")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let list = c
        .get_with("/api/v2/db/_table/customers", &[("limit", "1")])
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["meta"]["next"], json!(1), "{}", list.text);
    assert!(
        list.body["meta"].get("next_cursor").is_none(),
        "no cursor carries masked keys in clear"
    );
}

#[tokio::test]
async fn a_custom_lookup_cannot_pose_as_a_built_in_one() {
    let shop = Shop::new().await;
    let c = shop
        .client_with_role(json!({"name": "spoof", "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1, "filters": "id = {user.id}"}],
            "lookup_by_role_id": [{"name": "user.id", "value": "1"}]}))
        .await;
    // The caller has no user: {user.id} has no value, so the request fails closed.
    let r = c.get("/api/v2/db/_table/customers").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_no_secret(&r.text);
}

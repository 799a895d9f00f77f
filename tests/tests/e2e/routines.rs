//! Functions and procedures: arguments by name (query string, body `params` list or object)
//! or position (`name(a,b)`), typed by the catalog and bound; RBAC on `_func/{name}`.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::fixture::Shop;

#[tokio::test]
async fn functions_take_arguments_by_name_or_position_and_return_values_or_records() {
    let shop = Shop::new().await;
    let c = shop
        .client_with("caller", &[("_func/*", 3), ("_proc/*", 2)])
        .await;
    let scalar = c.get("/api/v2/db/_func/order_total?p_order_id=1").await;
    assert_eq!(scalar.status, StatusCode::OK, "{}", scalar.text);
    assert_eq!(scalar.body, json!(150.00));
    assert_eq!(
        c.get("/api/v2/db/_func/order_total(4)").await.body,
        json!(250.00)
    );
    let rows = c
        .post(
            "/api/v2/db/_func/customer_orders",
            json!({"params": [{"name": "p_customer_id", "value": 2}]}),
        )
        .await;
    let ids: Vec<i64> = rows.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![3, 4], "{}", rows.text);
    let defaults = c.get("/api/v2/db/_func/orders_over").await;
    assert_eq!(
        defaults.body["resource"].as_array().unwrap().len(),
        4,
        "p_min defaults to 100: {}",
        defaults.text
    );
    let object = c
        .post(
            "/api/v2/db/_func/orders_over",
            json!({"params": {"p_min": 200}}),
        )
        .await;
    assert_eq!(
        object.body["resource"],
        json!([{"id": 4, "total": 250.00}, {"id": 5, "total": 500.00}])
    );

    let proc = c
        .post(
            "/api/v2/db/_proc/touch_customer",
            json!({"params": {"p_id": 1}}),
        )
        .await;
    assert_eq!(proc.body, json!({"success": true}), "{}", proc.text);

    // OUT and INOUT arguments come back as one object, numerics with every digit.
    let out = c
        .post(
            "/api/v2/db/_proc/customer_stats",
            json!({"params": {"p_id": 1, "label": "ada"}}),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    assert_eq!(
        out.body,
        json!({"order_count": 2, "spent": 230.00, "label": "ada checked",
               "exact": -12345678901234567890.000000000123_f64,
               "checked_at": "2026-01-01T00:00:00Z", "extra": {"spent": null}})
    );
    assert!(
        out.text
            .contains(r#""exact":-12345678901234567890.000000000123"#),
        "{}",
        out.text
    );
    assert!(out.text.contains(r#""spent":230.00"#), "{}", out.text);
    assert_eq!(
        c.post("/api/v2/db/_proc/customer_stats(2,'x')", json!({}))
            .await
            .body["order_count"],
        json!(2)
    );
}

#[tokio::test]
async fn bad_calls_are_4xx_and_run_nothing() {
    let shop = Shop::new().await;
    let c = shop.client_with("caller", &[("_func/*", 3)]).await;
    for (path, status) in [
        ("/api/v2/db/_func/order_total", StatusCode::BAD_REQUEST), // missing argument
        (
            "/api/v2/db/_func/order_total?p_order_id=1&nope=2",
            StatusCode::OK,
        ), // unrelated query keys are options
        (
            "/api/v2/db/_func/order_total?p_order_id=abc",
            StatusCode::BAD_REQUEST,
        ), // not a bigint
        (
            "/api/v2/db/_func/order_total('1);%20DROP%20TABLE%20orders;%20--')",
            StatusCode::BAD_REQUEST,
        ), // a value, not SQL
        ("/api/v2/db/_func/order_total(1,2)", StatusCode::BAD_REQUEST), // too many
        ("/api/v2/db/_func/nope", StatusCode::NOT_FOUND),
        ("/api/v2/db/_func/touch_customer", StatusCode::NOT_FOUND), // a procedure, not a function
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
    }
    let named_unknown = c
        .post(
            "/api/v2/db/_func/order_total",
            json!({"params": {"p_order_id": 1, "extra": 2}}),
        )
        .await;
    assert_eq!(named_unknown.status, StatusCode::BAD_REQUEST);
    let mut conn = shop.db.connect().await;
    let n: i64 = sqlx::query("SELECT count(*) FROM orders")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 6);
}

#[tokio::test]
async fn calling_needs_the_routines_component_and_verb() {
    let shop = Shop::new().await;
    let tables_only = shop.client_with("tables", &[("_table/*", 31)]).await;
    assert_eq!(
        tables_only
            .get("/api/v2/db/_func/order_total?p_order_id=1")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let one = shop
        .client_with("one-func", &[("_func/order_total", 1)])
        .await;
    assert_eq!(
        one.get("/api/v2/db/_func/order_total?p_order_id=1")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        one.post(
            "/api/v2/db/_func/order_total",
            json!({"params": {"p_order_id": 1}})
        )
        .await
        .status,
        StatusCode::FORBIDDEN,
        "GET only"
    );
    assert_eq!(
        one.get("/api/v2/db/_func/orders_over").await.status,
        StatusCode::FORBIDDEN
    );
    let listed = one
        .get_with("/api/v2/db/_func", &[("as_list", "true")])
        .await;
    assert_eq!(listed.body["resource"], json!(["order_total"]));
}

#[tokio::test]
async fn a_service_sets_its_own_statement_timeout() {
    // The server allows 10 minutes; this service allows one second.
    let shop = Shop::napping().await;
    let mut config = shop.db.service_config();
    config["statement_timeout_ms"] = json!(1000);
    let service = shop.admin.create_service("quick", config).await;
    let role = shop
        .admin
        .create_role("napper", &[(service, "*", 1), (shop.service_id, "*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("napper", Some(role)).await;
    let c = shop.admin.with_key(&key);
    let r = c.get("/api/v2/quick/_func/nap?s=3").await;
    assert_eq!(r.status, reqwest::StatusCode::GATEWAY_TIMEOUT, "{}", r.text);
    // The same call on the service without its own timeout finishes.
    let r = c.get("/api/v2/db/_func/nap?s=1.5").await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
}

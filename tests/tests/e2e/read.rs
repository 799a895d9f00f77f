//! The read API: listings, filters, fields, ordering, paging, related records, typed values.

use reqwest::StatusCode;
use serde_json::json;

use rampart_tests::{Client, Options, TestDb, spawn_with};

use crate::fixture::Shop;

#[tokio::test]
async fn a_role_limited_to_orders_sees_only_orders_and_filters_them() {
    let shop = Shop::new().await;
    let c = shop
        .client_with("orders-reader", &[("_table/orders/*", 1)])
        .await;

    let tables = c.get("/api/v2/db/_table").await;
    assert_eq!(tables.status, StatusCode::OK, "{}", tables.text);
    let names: Vec<&str> = tables.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["orders"]);
    assert_eq!(tables.body["resource"][0]["access"], json!(["GET"]));

    let r = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("filter", "(status = 'shipped') AND (total > 100)"),
                ("order", "id"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<i64> = r.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 4, 6]);

    let bare = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("filter", "status = 'shipped' AND total > 100")],
        )
        .await;
    assert_eq!(
        bare.body["resource"].as_array().unwrap().len(),
        3,
        "bare AND works too: {}",
        bare.text
    );

    assert_eq!(
        c.get("/api/v2/db/_table/customers").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get("/api/v2/db/_table/orders/1").await.body["id"],
        json!(1)
    );
}

#[tokio::test]
async fn values_come_back_typed_and_exact() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let r = c
        .get_with("/api/v2/db/_table/products", &[("order", "id")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let widget = &r.body["resource"][0];
    assert_eq!(widget["price"], json!(9.99));
    assert_eq!(widget["tags"], json!(["tools", "small"]));
    assert_eq!(widget["data"], json!({"color": "red"}));
    assert_eq!(widget["image"], json!("3q2+7w=="), "bytea is base64");
    assert!(
        r.text.contains("12345678901.23"),
        "numeric keeps its digits: {}",
        r.text
    );
    let order = c.get("/api/v2/db/_table/orders/1").await;
    assert_eq!(order.body["placed_at"], json!("2026-02-01T00:00:00+00:00"));
    assert_eq!(order.body["total"], json!(150.0));
    assert_eq!(order.body["status"], json!("shipped"));
}

#[tokio::test]
async fn fields_order_limit_offset_count_and_as_list_follow_dreamfactory() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let r = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("fields", "id,total"),
                ("order", "total desc"),
                ("limit", "2"),
                ("include_count", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["resource"],
        json!([{"id": 5, "total": 500.0}, {"id": 4, "total": 250.0}])
    );
    assert_eq!(r.body["meta"]["count"], json!(6));
    assert_eq!(r.body["meta"]["next"], json!(2));
    assert!(r.body["meta"]["next_cursor"].is_string());

    let page2 = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("fields", "id"),
                ("order", "total desc"),
                ("limit", "2"),
                ("offset", "2"),
            ],
        )
        .await;
    assert_eq!(page2.body["resource"], json!([{"id": 1}, {"id": 6}]));

    let count = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("count_only", "true"), ("filter", "status = 'shipped'")],
        )
        .await;
    assert_eq!(count.body, json!(4));

    let list = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("as_list", "true"), ("order", "id"), ("limit", "3")],
        )
        .await;
    assert_eq!(list.body["resource"], json!(["1", "2", "3"]));

    let nulls = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("fields", "id"), ("order", "note desc nulls last, id")],
        )
        .await;
    let ids: Vec<i64> = nulls.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(&ids[3..], &[2, 5, 6], "null notes last: {}", nulls.text);

    let ids = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("ids", "2,3"), ("fields", "id")],
        )
        .await;
    assert_eq!(ids.body["resource"], json!([{"id": 2}, {"id": 3}]));
    let missing = c
        .get_with("/api/v2/db/_table/orders", &[("ids", "2,999")])
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"]["code"], json!(1000));
    assert_eq!(missing.body["error"]["context"]["error"], json!([1]));
}

#[tokio::test]
async fn keyset_cursors_walk_every_row_once() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut q = vec![("fields", "id"), ("order", "total desc"), ("limit", "4")];
        let cur;
        if let Some(x) = &cursor {
            cur = x.clone();
            q.push(("cursor", cur.as_str()));
        }
        let r = c.get_with("/api/v2/db/_table/orders", &q).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        seen.extend(
            r.body["resource"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_i64().unwrap()),
        );
        match r.body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![5, 4, 1, 6, 3, 2]);
    let bad = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("cursor", "bm90LWEtY3Vyc29y")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn related_records_expand_through_the_relationships_of_a_granted_table() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let r = c
        .get_with(
            "/api/v2/db/_table/orders/4",
            &[
                (
                    "related",
                    "customers_by_customer_id,order_items_by_order_id,products_by_order_items",
                ),
                ("customers_by_customer_id.fields", "id,name"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["customers_by_customer_id"],
        json!({"id": 2, "name": "Alan Turing"})
    );
    assert_eq!(
        r.body["order_items_by_order_id"],
        json!([{"order_id": 4, "product_id": 3, "qty": 1}])
    );
    assert_eq!(
        r.body["products_by_order_items"][0]["name"],
        json!("Precise")
    );

    let customer = c
        .get_with(
            "/api/v2/db/_table/customers/1",
            &[
                ("related", "orders_by_customer_id"),
                ("orders_by_customer_id.order", "id desc"),
                ("orders_by_customer_id.limit", "1"),
            ],
        )
        .await;
    assert_eq!(
        customer.body["orders_by_customer_id"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(customer.body["orders_by_customer_id"][0]["id"], json!(2));

    // A grant on orders includes its relationships (DreamFactory's rule): the customer of an
    // order comes with it, while customers stays absent and refused when addressed directly.
    let orders_only = shop
        .client_with("orders-only", &[("_table/orders/*", 1)])
        .await;
    let through = orders_only
        .get_with(
            "/api/v2/db/_table/orders/1",
            &[
                ("related", "customers_by_customer_id"),
                ("customers_by_customer_id.fields", "id,name"),
            ],
        )
        .await;
    assert_eq!(through.status, StatusCode::OK, "{}", through.text);
    assert_eq!(
        through.body["customers_by_customer_id"],
        json!({"id": 1, "name": "Ada Lovelace"})
    );
    let star = orders_only
        .get_with("/api/v2/db/_table/orders/1", &[("related", "*")])
        .await;
    assert_eq!(star.status, StatusCode::OK);
    assert_eq!(
        star.body["customers_by_customer_id"]["id"],
        json!(1),
        "{}",
        star.text
    );
    assert_eq!(
        orders_only.get("/api/v2/db/_table/customers").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        orders_only
            .get("/api/v2/db/_table/customers/1")
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // An access row with no verbs shuts the related table off, `*` included.
    let shut = shop
        .client_with(
            "orders-not-customers",
            &[("_table/orders/*", 1), ("_table/customers/*", 0)],
        )
        .await;
    let leak = shut
        .get_with(
            "/api/v2/db/_table/orders",
            &[("related", "customers_by_customer_id")],
        )
        .await;
    assert_eq!(leak.status, StatusCode::BAD_REQUEST);
    assert!(!leak.text.contains("123-45-6789"));
    let star = shut
        .get_with("/api/v2/db/_table/orders/1", &[("related", "*")])
        .await;
    assert_eq!(star.status, StatusCode::OK);
    assert!(
        star.body.get("customers_by_customer_id").is_none(),
        "{}",
        star.text
    );
}

#[tokio::test]
async fn composite_keys_views_schemas_and_routines_are_served() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let item = c.get("/api/v2/db/_table/order_items/1,2").await;
    assert_eq!(
        item.body,
        json!({"order_id": 1, "product_id": 2, "qty": 1}),
        "{}",
        item.text
    );
    assert_eq!(
        c.get("/api/v2/db/_table/order_items/1").await.status,
        StatusCode::BAD_REQUEST
    );

    let view = c
        .get_with(
            "/api/v2/db/_table/shipped_orders",
            &[("order", "id"), ("fields", "id")],
        )
        .await;
    assert_eq!(
        view.body["resource"],
        json!([{"id": 1}, {"id": 3}, {"id": 4}, {"id": 6}])
    );

    let schema = c.get("/api/v2/db/_schema/orders").await;
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(schema.body["primary_key"], json!(["id"]));
    let status = schema.body["field"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "status")
        .unwrap();
    assert_eq!(
        status["picklist"],
        json!(["pending", "shipped", "cancelled"])
    );
    assert!(
        schema.body["related"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "customers_by_customer_id" && r["type"] == "belongs_to")
    );

    let funcs = c.get("/api/v2/db/_func").await;
    assert!(
        funcs.body["resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "order_total"),
        "{}",
        funcs.text
    );
    let procs = c.get_with("/api/v2/db/_proc", &[("as_list", "true")]).await;
    assert_eq!(
        procs.body["resource"],
        json!(["customer_stats", "touch_customer"])
    );

    let root = c.get("/api/v2/db").await;
    assert!(
        root.body["resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "_table")
    );
}

#[tokio::test]
async fn limits_are_clamped_to_the_services_max_records() {
    let shop = Shop::new().await;
    let mut config = shop.db.service_config();
    config["max_records"] = json!(2);
    let id = shop.admin.create_service("small", config).await;
    let role = shop
        .admin
        .create_role("small-reader", &[(id, "*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("small-app", Some(role)).await;
    let c = shop.admin.with_key(&key);
    let r = c
        .get_with("/api/v2/small/_table/orders", &[("limit", "100")])
        .await;
    assert_eq!(
        r.body["resource"].as_array().unwrap().len(),
        2,
        "{}",
        r.text
    );
    assert_eq!(r.body["meta"]["next"], json!(2));
    let all = c.get("/api/v2/small/_table/orders").await;
    assert_eq!(all.body["resource"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn group_by_with_aggregates_summarises_rows() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let r = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("group", "status"),
                ("fields", "status,SUM(total),COUNT(*)"),
                ("order", "status"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["resource"],
        json!([
            {"status": "pending", "SUM_total": 80.0, "COUNT_ALL": 1},
            {"status": "shipped", "SUM_total": 600.99, "COUNT_ALL": 4},
            {"status": "cancelled", "SUM_total": 500.0, "COUNT_ALL": 1},
        ])
    );
    let total = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[("fields", "MAX(total),MIN(placed_at)")],
        )
        .await;
    assert_eq!(
        total.body["resource"][0]["MAX_total"],
        json!(500.0),
        "{}",
        total.text
    );
}

#[tokio::test]
async fn large_reads_stream_in_the_same_shape_and_still_fail_cleanly() {
    let shop = Shop::new().await;
    let mut conn = shop.db.connect().await;
    sqlx::query(
        "INSERT INTO audit_notes (body) SELECT 'note ' || i FROM generate_series(1, 4000) AS i",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // Lists beyond 1,000 rows need a service that allows them.
    let mut config = shop.db.service_config();
    config["max_records"] = json!(10000);
    let allowed = shop
        .admin
        .patch(
            &format!("/api/v2/system/service/{}", shop.service_id),
            json!({"config": config}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    let c = shop.client_with("reader", &[("*", 1)]).await;
    let r = c
        .get_with(
            "/api/v2/db/_table/audit_notes",
            &[
                ("limit", "2500"),
                ("order", "id"),
                ("include_count", "true"),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        &r.text[..r.text.len().min(300)]
    );
    let records = r.body["resource"].as_array().unwrap();
    assert_eq!(records.len(), 2500);
    assert_eq!(records[0], json!({"id": 1, "body": "note 1"}));
    assert_eq!(records[2499]["id"], json!(2500));
    assert_eq!(r.body["meta"]["count"], json!(4000));
    assert_eq!(r.body["meta"]["next"], json!(2500));
    let cursor = r.body["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let next = c
        .get_with(
            "/api/v2/db/_table/audit_notes",
            &[("limit", "2500"), ("order", "id"), ("cursor", &cursor)],
        )
        .await;
    let rest = next.body["resource"].as_array().unwrap();
    assert_eq!((rest.len(), rest[0]["id"].clone()), (1500, json!(2501)));
    assert!(
        next.body.get("meta").is_none(),
        "the last page says no more"
    );
    let ids = c
        .get_with(
            "/api/v2/db/_table/audit_notes",
            &[
                ("limit", "1500"),
                ("as_list", "true"),
                ("filter", "id <= 1200"),
            ],
        )
        .await;
    assert_eq!(ids.body["resource"].as_array().unwrap().len(), 1200);
    assert_eq!(
        ids.body["resource"][0],
        json!("1"),
        "ids as DreamFactory lists them"
    );
    // A query that fails fails before the answer starts: a plain 4xx error.
    let bad = c
        .get_with(
            "/api/v2/db/_table/audit_notes",
            &[("limit", "5000"), ("filter", "id = 99999999999")],
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.text);
    assert!(bad.body["error"]["message"].is_string(), "{}", bad.text);
    let none = c
        .get_with(
            "/api/v2/db/_table/audit_notes",
            &[("limit", "5000"), ("filter", "id < 0")],
        )
        .await;
    assert_eq!(none.body, json!({"resource": []}));
}

#[tokio::test]
async fn a_request_its_client_abandons_stops_its_statement() {
    let shop = Shop::napping().await;
    let c = shop.client_with("caller", &[("_func/*", 3)]).await;
    let asleep = {
        let c = c.clone();
        tokio::spawn(async move { c.get("/api/v2/db/_func/nap?s=600").await })
    };
    assert!(shop.wait_for_naps(true).await, "the statement started");
    asleep.abort();
    assert!(
        shop.wait_for_naps(false).await,
        "the statement stopped once its client went away"
    );
    let again = c.get("/api/v2/db/_func/nap?s=0").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
}

/// Every column type reads exactly as PostgreSQL's own `row_to_json` writes the row, byte for
/// byte, whichever side builds a value's JSON (Rampart quotes text-like values and decides
/// whether a number's text is a JSON number itself; dates and timestamps are `to_json`'s).
#[tokio::test]
async fn every_type_reads_byte_for_byte_as_postgres_writes_its_json() {
    let db = TestDb::empty().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        r#"CREATE TYPE mood AS ENUM ('calm', 'says "hi"', 'back\slash');
        CREATE TABLE kinds (
            id int PRIMARY KEY, t text, vc varchar(12), ch char(5), u uuid, m mood,
            iv interval, tm time, ttz timetz, cash money, n numeric, r real, d float8,
            j json, jb jsonb, dt date, ts timestamp, tz timestamptz, arr int[], tarr text[],
            net inet, b bool, big bigint
        );
        INSERT INTO kinds VALUES
          (1, E'quote " backslash \\ tab\t nl\n cr\r bell\x07 esc\x1b del\x7f é ✓ 😀 \u2028 </script>',
              'short', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'says "hi"',
              '1 day 02:03:04.5', '12:34:56.789', '12:34:56+05:30', '1234.5',
              12345678901.2300, 1.5e30, 0.1, '{"a" : [1, 2] }', '{"b": {"c": null}}',
              '2026-03-01'::date - 1, '2026-01-02 03:04:05.678', '2026-01-02 03:04:05+02',
              '{1,NULL,3}', '{"x,y",NULL,"q\"t"}', '10.0.0.1/8', true, 9007199254740993),
          (2, '', '', '', NULL, 'back\slash', '-3 mons', '00:00', NULL, '-0.01',
              'NaN', 'NaN', '-Infinity', '"just a string"', '[]', 'infinity', '-infinity',
              'infinity', '{}', '{}', '::1', false, -1),
          (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
              'Infinity', '-0', 1e308, 'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL,
              NULL, NULL),
          (4, 'x', 'x', 'x', NULL, 'calm', NULL, NULL, NULL, NULL,
              -0.0000000000000000000012, 3.4e38, -1.25e-300, '123', '1.50', NULL, NULL, NULL,
              NULL, NULL, NULL, NULL, NULL);"#,
    )
    .execute(&mut conn)
    .await
    .expect("create kinds");
    let expected: Vec<String> =
        sqlx::query_scalar("SELECT row_to_json(k)::text FROM kinds AS k ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .expect("row_to_json");
    let app = spawn_with(&Options::default());
    let admin = Client::admin(&app).await;
    let service = admin.create_service("db", db.service_config()).await;
    let role = admin
        .create_role("reader", &[(service, "_table/*", 1)])
        .await;
    let (_, key) = admin.create_app("reader-app", Some(role)).await;
    let c = admin.with_key(&key);
    for (n, want) in expected.iter().enumerate() {
        let one = c.get(&format!("/api/v2/db/_table/kinds/{}", n + 1)).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(&one.text, want, "row {} by id", n + 1);
    }
    let list = c
        .get_with("/api/v2/db/_table/kinds", &[("order", "id")])
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let want = format!("{{\"resource\":[{}]}}", expected.join(","));
    assert_eq!(list.text, want, "the list holds the same texts");
}

#[tokio::test]
async fn a_page_with_each_rows_parent_shares_the_pipes_and_one_with_child_lists_does_not() {
    let shop = Shop::new().await;
    let c = shop.client_with("all", &[("*", 31)]).await;
    let pipes = || async {
        let (text, samples) = crate::metrics::scrape(&shop.app.base).await;
        crate::metrics::value(
            &samples,
            "rampart_db_pool_connections",
            &[("service", "db"), ("state", "pipelined")],
        )
        .unwrap_or_else(|| panic!("no pipe gauge for db in {text}"))
    };

    // Short pages both. Each customer's orders (has_many) can be a long list: a connection
    // of its own.
    let children = c
        .get_with(
            "/api/v2/db/_table/customers",
            &[
                ("related", "orders_by_customer_id"),
                ("order", "id"),
                ("limit", "25"),
            ],
        )
        .await;
    assert_eq!(children.status, StatusCode::OK, "{}", children.text);
    assert!(
        children.body["resource"][0]["orders_by_customer_id"].is_array(),
        "{}",
        children.text
    );
    assert_eq!(pipes().await, 0.0);

    // Each order's customer (belongs_to) is one record a row: a short answer, pipelined, with
    // each order's own customer in it.
    let parents = c
        .get_with(
            "/api/v2/db/_table/orders",
            &[
                ("related", "customers_by_customer_id"),
                ("customers_by_customer_id.fields", "id,name"),
                ("order", "id"),
                ("limit", "25"),
            ],
        )
        .await;
    assert_eq!(parents.status, StatusCode::OK, "{}", parents.text);
    let order_4 = parents.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == json!(4))
        .unwrap_or_else(|| panic!("no order 4 in {}", parents.text));
    assert_eq!(
        order_4["customers_by_customer_id"],
        json!({"id": 2, "name": "Alan Turing"})
    );
    assert_eq!(pipes().await, 1.0);
}

#[tokio::test]
async fn lookups_by_key_in_flight_together_each_get_their_record_and_survive_lost_connections() {
    let shop = Shop::new().await;
    let c = shop
        .client_with("orders-reader", &[("_table/orders/*", 1)])
        .await;
    // Many at once share pipelined connections: each still gets the record it asked for.
    let replies = futures_util::future::join_all((0..120).map(|i| {
        let c = &c;
        async move {
            (
                i % 6 + 1,
                c.get(&format!("/api/v2/db/_table/orders/{}", i % 6 + 1))
                    .await,
            )
        }
    }))
    .await;
    for (id, r) in &replies {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["id"], json!(id), "{}", r.text);
    }

    // PostgreSQL ends every connection Rampart holds: the next lookup still answers.
    let mut admin = shop.db.connect().await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'rampart' AND datname = current_database()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let r = c.get("/api/v2/db/_table/orders/3").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["note"], json!("it's fine"));
}

#[tokio::test]
async fn a_short_read_too_slow_for_a_pipelined_connection_is_answered_on_a_connection_of_its_own() {
    let shop = Shop::new().await;
    let c = shop
        .client_with("orders-reader", &[("_table/orders/*", 1)])
        .await;
    // A migration holds the table: a read of it waits far longer than a pipe allows.
    let mut migration = shop.db.connect().await;
    for sql in ["BEGIN", "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"] {
        sqlx::query(sql).execute(&mut migration).await.unwrap();
    }
    let release = async {
        let mut watch = shop.db.connect().await;
        // Once a read of Rampart's waits for the lock, and long enough after for the pipe's
        // limit to have cut it short, the migration ends.
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rampart' \
                 AND datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&mut watch)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(3 * rampart_server::services::pipe::STATEMENT_TIMEOUT).await;
        sqlx::query("COMMIT").execute(&mut migration).await.unwrap();
    };
    let (list, ()) = tokio::join!(
        c.get_with(
            "/api/v2/db/_table/orders",
            &[("limit", "3"), ("order", "id")]
        ),
        release
    );
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let ids: Vec<_> = list.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    assert!(
        shop.app
            .log()
            .contains("outlasted the pipelined connection's time limit"),
        "the read was tried on a pipe first"
    );
}

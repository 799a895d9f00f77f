//! Writes with DreamFactory's semantics: create, update and delete by id, ids, filter and
//! records; batches with `continue` and `rollback`; the role's row filter and field rules on
//! every write. Database state is checked with SQL after each call.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use crate::fixture::Shop;

async fn count(shop: &Shop, sql: &'static str) -> i64 {
    let mut conn = shop.db.connect().await;
    sqlx::query(sql).fetch_one(&mut conn).await.unwrap().get(0)
}

#[tokio::test]
async fn records_are_created_from_an_array_a_resource_envelope_or_one_object() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let one = c
        .post("/api/v2/db/_table/audit_notes", json!({"body": "single"}))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body, json!({"resource": [{"id": 1}]}));
    let many = c
        .post(
            "/api/v2/db/_table/audit_notes",
            json!([{"body": "a"}, {"body": "b"}]),
        )
        .await;
    assert_eq!(many.body["resource"], json!([{"id": 2}, {"id": 3}]));
    let wrapped = c
        .post(
            "/api/v2/db/_table/audit_notes?fields=*",
            json!({"resource": [{"body": "c"}]}),
        )
        .await;
    assert_eq!(wrapped.body["resource"], json!([{"id": 4, "body": "c"}]));
    assert_eq!(count(&shop, "SELECT count(*) FROM audit_notes").await, 4);
    let typed = c.post("/api/v2/db/_table/products?fields=name,price,tags,data,image", json!({"name": "Typed", "price": "12.50", "tags": ["a", "b,c"], "data": {"k": [1, 2]}, "image": "3q2+7w=="})).await;
    assert_eq!(
        typed.body["resource"][0],
        json!({"name": "Typed", "price": 12.50, "tags": ["a", "b,c"], "data": {"k": [1, 2]}, "image": "3q2+7w=="}),
        "{}",
        typed.text
    );
    assert_eq!(
        c.post("/api/v2/db/_table/audit_notes/1", json!({"body": "x"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_records_are_4xx_errors_naming_the_field_and_nothing_is_written() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let cases = [
        (json!({"nope": 1}), "nope"),        // unknown field
        (json!({"body": null}), "body"),     // not null
        (json!({"body": {"x": 1}}), "body"), // wrong shape
        (
            json!({"id": 9, "body": "x", "extra; DROP TABLE x": 1}),
            "extra",
        ), // hostile key
    ];
    for (record, field) in cases {
        let r = c
            .post("/api/v2/db/_table/audit_notes", record.clone())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{record}: {}", r.text);
        assert!(r.message().contains(field), "{record}: {}", r.text);
    }
    let generated = c
        .post(
            "/api/v2/db/_table/products",
            json!({"id": 5, "name": "x", "price": 1}),
        )
        .await;
    assert_eq!(generated.status, StatusCode::BAD_REQUEST);
    assert!(
        generated.message().contains("generated"),
        "{}",
        generated.text
    );
    let dup = c
        .post(
            "/api/v2/db/_table/customers",
            json!({"email": "ada@example.com", "name": "Dup"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST, "{}", dup.text);
    let fk = c
        .post(
            "/api/v2/db/_table/orders",
            json!({"customer_id": 999, "total": 1}),
        )
        .await;
    assert_eq!(fk.status, StatusCode::BAD_REQUEST, "{}", fk.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM audit_notes").await, 0);
    assert_eq!(count(&shop, "SELECT count(*) FROM customers").await, 3);
}

#[tokio::test]
async fn batches_stop_continue_or_roll_back_as_asked() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let batch = json!([{"body": "ok-1"}, {"nope": 1}, {"body": "ok-3"}]);

    let rolled = c
        .post("/api/v2/db/_table/audit_notes?rollback=true", batch.clone())
        .await;
    assert_eq!(rolled.status, StatusCode::BAD_REQUEST);
    assert_eq!(rolled.body["error"]["code"], json!(1000));
    assert_eq!(
        rolled.message(),
        "Batch Error: Not all requested records could be created. All changes rolled back."
    );
    assert_eq!(
        count(&shop, "SELECT count(*) FROM audit_notes").await,
        0,
        "rollback writes nothing"
    );

    let stopped = c.post("/api/v2/db/_table/audit_notes", batch.clone()).await;
    assert_eq!(stopped.body["error"]["context"]["error"], json!([1]));
    assert_eq!(
        count(
            &shop,
            "SELECT count(*) FROM audit_notes WHERE body LIKE 'ok-%'"
        )
        .await,
        1,
        "the record before the failure stays, none after it"
    );

    let continued = c
        .post("/api/v2/db/_table/audit_notes?continue=true", batch.clone())
        .await;
    assert_eq!(
        continued.body["error"]["context"]["error"],
        json!([1]),
        "{}",
        continued.text
    );
    assert!(
        continued.body["error"]["context"]["resource"][1]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    assert_eq!(
        count(
            &shop,
            "SELECT count(*) FROM audit_notes WHERE body LIKE 'ok-%'"
        )
        .await,
        3
    );

    let both = c
        .post(
            "/api/v2/db/_table/audit_notes?continue=true&rollback=true",
            batch,
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert!(
        both.message()
            .contains("can not be requested at the same time")
    );

    // A constraint violation mid-batch under rollback leaves nothing either.
    let mid = c.post("/api/v2/db/_table/customers?rollback=true", json!([{"email": "new1@example.com", "name": "N1"}, {"email": "ada@example.com", "name": "Dup"}])).await;
    assert_eq!(mid.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&shop, "SELECT count(*) FROM customers").await, 3);
}

#[tokio::test]
async fn updates_address_records_by_id_ids_filter_or_the_records_themselves() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let by_id = c
        .patch(
            "/api/v2/db/_table/orders/2",
            json!({"status": "shipped", "id": 2}),
        )
        .await;
    assert_eq!(by_id.body, json!({"id": 2}), "{}", by_id.text);
    assert_eq!(
        c.patch("/api/v2/db/_table/orders/999", json!({"note": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let put = c
        .send(
            Method::PUT,
            "/api/v2/db/_table/orders/2?fields=id,note",
            Some(json!({"note": "put"})),
        )
        .await;
    assert_eq!(put.body, json!({"id": 2, "note": "put"}));
    let ids = c
        .patch("/api/v2/db/_table/orders?ids=1,3", json!({"note": "bulk"}))
        .await;
    assert_eq!(
        ids.body["resource"],
        json!([{"id": 1}, {"id": 3}]),
        "{}",
        ids.text
    );
    let filtered = c
        .patch(
            "/api/v2/db/_table/orders?filter=status%20%3D%20'cancelled'",
            json!({"note": "gone"}),
        )
        .await;
    assert_eq!(
        filtered.body["resource"],
        json!([{"id": 5}]),
        "{}",
        filtered.text
    );
    let records = c
        .patch(
            "/api/v2/db/_table/orders",
            json!([{"id": 4, "total": 1}, {"id": 6, "total": 2}]),
        )
        .await;
    assert_eq!(records.body["resource"], json!([{"id": 4}, {"id": 6}]));
    assert_eq!(
        count(&shop, "SELECT count(*) FROM orders WHERE note = 'bulk'").await,
        2
    );
    assert_eq!(
        count(&shop, "SELECT count(*) FROM orders WHERE total < 3").await,
        2
    );
    let composite = c
        .patch("/api/v2/db/_table/order_items/1,2", json!({"qty": 7}))
        .await;
    assert_eq!(
        composite.body,
        json!({"order_id": 1, "product_id": 2}),
        "{}",
        composite.text
    );
    let check = c
        .patch("/api/v2/db/_table/order_items/1,2", json!({"qty": 0}))
        .await;
    assert_eq!(
        check.status,
        StatusCode::BAD_REQUEST,
        "a CHECK constraint is a 400: {}",
        check.text
    );
}

#[tokio::test]
async fn deletes_need_an_address_and_return_what_they_deleted() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    assert_eq!(
        c.delete("/api/v2/db/_table/order_items").await.status,
        StatusCode::BAD_REQUEST,
        "no filter and no ids"
    );
    assert_eq!(count(&shop, "SELECT count(*) FROM order_items").await, 4);
    assert_eq!(
        c.delete("/api/v2/db/_table/order_items/1,2").await.body,
        json!({"order_id": 1, "product_id": 2})
    );
    let by_filter = c
        .delete("/api/v2/db/_table/order_items?filter=qty%20%3E%201&fields=order_id,qty")
        .await;
    assert_eq!(
        by_filter.body["resource"],
        json!([{"order_id": 1, "qty": 2}, {"order_id": 6, "qty": 5}]),
        "{}",
        by_filter.text
    );
    let notes = c
        .post(
            "/api/v2/db/_table/audit_notes",
            json!([{"body": "a"}, {"body": "b"}, {"body": "c"}]),
        )
        .await;
    assert_eq!(notes.status, StatusCode::OK);
    assert_eq!(
        c.delete("/api/v2/db/_table/audit_notes?ids=1,2").await.body["resource"],
        json!([{"id": 1}, {"id": 2}])
    );
    let body = c
        .send(
            Method::DELETE,
            "/api/v2/db/_table/audit_notes",
            Some(json!([{"id": 3}])),
        )
        .await;
    assert_eq!(body.body["resource"], json!([{"id": 3}]), "{}", body.text);
    assert_eq!(
        c.delete("/api/v2/db/_table/audit_notes/3").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(&shop, "SELECT count(*) FROM audit_notes").await, 0);
}

#[tokio::test]
async fn force_deletes_every_record_only_with_its_own_permission_and_within_the_row_filter() {
    let shop = Shop::new().await;
    // All five verbs (31) do not include deleting everything.
    let writer = shop.client_with("writer", &[("*", 31)]).await;
    let refused = writer
        .delete("/api/v2/db/_table/order_items?force=true")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("force"), "{}", refused.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM order_items").await, 4);

    // With the force-delete bit, every record the role's row filter reaches goes, no other.
    let tenant = shop
        .client_with_role(
            json!({"name": "tenant-purger", "role_service_access_by_role_id": [
        {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1 | 16 | 32,
         "filters": [{"name": "tenant_id", "operator": "=", "value": 2}]}]}),
        )
        .await;
    let mut conn = shop.db.connect().await;
    sqlx::query("DELETE FROM orders WHERE customer_id = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let purged = tenant
        .delete("/api/v2/db/_table/customers?force=true&fields=id,tenant_id")
        .await;
    assert_eq!(purged.status, StatusCode::OK, "{}", purged.text);
    assert_eq!(purged.body["resource"], json!([{"id": 2, "tenant_id": 2}]));
    assert_eq!(count(&shop, "SELECT count(*) FROM customers").await, 2);
    // `force=false` is no address at all.
    assert_eq!(
        tenant
            .delete("/api/v2/db/_table/customers?force=false")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_role_writes_only_its_rows_and_only_its_writable_fields() {
    let shop = Shop::new().await;
    let c = shop.client_with_role(json!({"name": "tenant-writer", "role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 31,
                 "filters": "tenant_id = {tenant}", "field_rules": {"ssn": {"mask": "last4"}, "created_at": "read_only"}}],
                "lookup_by_role_id": [{"name": "tenant", "value": "1"}]})).await;

    // Creating a row outside the role's filter is refused and nothing is written.
    let outside = c
        .post(
            "/api/v2/db/_table/customers",
            json!({"email": "eve@example.com", "name": "Eve", "tenant_id": 2}),
        )
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.text);
    let inside = c
        .post(
            "/api/v2/db/_table/customers?fields=id,tenant_id",
            json!({"email": "eve@example.com", "name": "Eve", "tenant_id": 1}),
        )
        .await;
    assert_eq!(
        inside.body["resource"][0]["tenant_id"],
        json!(1),
        "{}",
        inside.text
    );
    c.delete(&format!(
        "/api/v2/db/_table/customers/{}",
        inside.body["resource"][0]["id"]
    ))
    .await;
    // Writing a read-only or masked field is a 403 naming it.
    for field in ["created_at", "ssn"] {
        let mut rec = json!({"email": "eve@example.com", "name": "Eve", "tenant_id": 1});
        rec[field] = json!("2026-01-01T00:00:00Z");
        let r = c.post("/api/v2/db/_table/customers", rec).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{field}: {}", r.text);
        assert!(r.message().contains(field));
    }
    assert_eq!(count(&shop, "SELECT count(*) FROM customers").await, 3);

    // Updates and deletes never reach another tenant's rows.
    assert_eq!(
        c.patch("/api/v2/db/_table/customers/2", json!({"name": "Hacked"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let all = c
        .patch(
            "/api/v2/db/_table/customers?filter=id%20%3E%200",
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(
        all.body["resource"],
        json!([{"id": 1}, {"id": 3}]),
        "{}",
        all.text
    );
    assert_eq!(
        count(
            &shop,
            "SELECT count(*) FROM customers WHERE name = 'Renamed'"
        )
        .await,
        2
    );
    // Moving a row out of the role's filter is refused and rolled back.
    let moved = c
        .patch("/api/v2/db/_table/customers/1", json!({"tenant_id": 2}))
        .await;
    assert_eq!(moved.status, StatusCode::FORBIDDEN, "{}", moved.text);
    assert_eq!(
        count(
            &shop,
            "SELECT tenant_id::bigint FROM customers WHERE id = 1"
        )
        .await,
        1
    );
    // A filtered delete reaches only the role's rows and answers with masked values.
    let mut conn = shop.db.connect().await;
    sqlx::query("INSERT INTO customers (id, email, name, ssn, tenant_id) VALUES (201, 'd1@example.com', 'D1', '444-44-4444', 1), (202, 'd2@example.com', 'D2', '555-55-5555', 2)")
        .execute(&mut conn)
        .await
        .unwrap();
    let deleted = c
        .delete("/api/v2/db/_table/customers?filter=id%20%3E%20200&fields=id,ssn")
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(
        deleted.body["resource"],
        json!([{"id": 201, "ssn": "****4444"}])
    );
    assert_eq!(
        count(&shop, "SELECT count(*) FROM customers WHERE id = 202").await,
        1
    );
    // Deleting rows that other tables still reference is refused whole by the foreign key.
    let referenced = c
        .delete("/api/v2/db/_table/customers?filter=id%20%3E%200")
        .await;
    assert_eq!(
        referenced.status,
        StatusCode::BAD_REQUEST,
        "{}",
        referenced.text
    );
    assert_eq!(
        count(&shop, "SELECT count(*) FROM customers WHERE tenant_id = 1").await,
        2
    );
    assert_eq!(
        count(&shop, "SELECT count(*) FROM customers WHERE id = 2").await,
        1,
        "tenant 2 untouched"
    );

    // So is writing a hidden field.
    let hiding = shop
        .admin
        .post("/api/v2/system/role", json!({"name": "hiding", "role_service_access_by_role_id": [{"service_id": shop.service_id, "component": "_table/audit_notes/*", "verb_mask": 31, "field_rules": {"body": "hidden"}}]}))
        .await;
    let (_, key) = shop
        .admin
        .create_app(
            "hiding-app",
            Some(hiding.body["resource"][0]["id"].as_i64().unwrap()),
        )
        .await;
    let h = shop
        .admin
        .with_key(&key)
        .post("/api/v2/db/_table/audit_notes", json!({"body": "x"}))
        .await;
    assert_eq!(h.status, StatusCode::FORBIDDEN);
    assert!(h.message().contains("body"));

    // A read-only role cannot change anything.
    let reader = shop
        .client_with("reader", &[("_table/customers/*", 1)])
        .await;
    for (m, path) in [
        (Method::POST, "/api/v2/db/_table/customers"),
        (Method::PATCH, "/api/v2/db/_table/customers/1"),
        (Method::DELETE, "/api/v2/db/_table/customers/1"),
    ] {
        let r = reader
            .send(m.clone(), path, Some(json!({"name": "x"})))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {path}");
    }
}

#[tokio::test]
async fn a_view_that_cannot_take_writes_answers_400_not_500() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    // shipped_orders filters on status, so PostgreSQL can update it but not every write fits.
    let mut conn = shop.db.connect().await;
    sqlx::query("CREATE VIEW order_totals AS SELECT customer_id, sum(total) AS total FROM orders GROUP BY customer_id").execute(&mut conn).await.unwrap();
    let refresh = c
        .get_with("/api/v2/db/_table", &[("refresh", "true")])
        .await;
    assert!(refresh.text.contains("order_totals"));
    let r = c
        .post(
            "/api/v2/db/_table/order_totals",
            json!({"customer_id": 1, "total": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.message().contains("view"), "{}", r.text);
}

#[tokio::test]
async fn a_service_that_allows_upsert_creates_missing_records_on_put_by_id() {
    let shop = Shop::new().await;
    let mut config = shop.db.service_config();
    config["allow_upsert"] = json!(true);
    let service = shop.admin.create_service("upserting", config).await;
    let role = shop
        .admin
        .post("/api/v2/system/role", json!({"name": "upserter", "role_service_access_by_role_id": [
            {"service_id": service, "component": "_table/audit_notes/*", "verb_mask": 31},
            {"service_id": service, "component": "_table/customers/*", "verb_mask": 31, "filters": "tenant_id = 1"}]}))
        .await;
    let (_, key) = shop
        .admin
        .create_app(
            "upsert-app",
            Some(role.body["resource"][0]["id"].as_i64().unwrap()),
        )
        .await;
    let c = shop.admin.with_key(&key);
    let created = c
        .send(
            Method::PUT,
            "/api/v2/upserting/_table/audit_notes/50?fields=*",
            Some(json!({"body": "first"})),
        )
        .await;
    assert_eq!(
        created.body,
        json!({"id": 50, "body": "first"}),
        "{}",
        created.text
    );
    let updated = c
        .patch(
            "/api/v2/upserting/_table/audit_notes/50?fields=*",
            json!({"body": "second"}),
        )
        .await;
    assert_eq!(updated.body, json!({"id": 50, "body": "second"}));
    assert_eq!(count(&shop, "SELECT count(*) FROM audit_notes").await, 1);
    // An existing record outside the role's filter is not taken over by an upsert.
    let other = c
        .patch(
            "/api/v2/upserting/_table/customers/2",
            json!({"email": "taken@example.com", "name": "Taken"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
    assert_eq!(
        count(&shop, "SELECT count(*) FROM customers WHERE name = 'Taken'").await,
        0
    );
    // Without allow_upsert the same call is a 404.
    let plain = shop.client_with("plain", &[("*", 31)]).await;
    assert_eq!(
        plain
            .patch("/api/v2/db/_table/audit_notes/77", json!({"body": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn related_on_a_write_returns_the_written_records_with_their_relations() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let r = c.post("/api/v2/db/_table/orders?related=customers_by_customer_id&customers_by_customer_id.fields=name&fields=id,total", json!({"customer_id": 2, "total": 12.5})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["resource"],
        json!([{"id": 7, "total": 12.5, "customers_by_customer_id": {"name": "Alan Turing"}}])
    );
    let one = c
        .patch(
            "/api/v2/db/_table/orders/7?related=order_items_by_order_id",
            json!({"note": "x"}),
        )
        .await;
    assert_eq!(
        one.body["order_items_by_order_id"],
        json!([]),
        "{}",
        one.text
    );
    assert_eq!(one.body["note"], json!("x"));
}

#[tokio::test]
async fn a_connection_killed_mid_batch_leaves_nothing_written_and_the_server_serving() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let mut conn = shop.db.connect().await;
    // A trigger makes the third record slow, so the batch is mid-way when its connection dies.
    sqlx::raw_sql(
        "CREATE FUNCTION slow_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.body = 'slow' THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$;
         CREATE TRIGGER slow BEFORE INSERT ON audit_notes FOR EACH ROW EXECUTE FUNCTION slow_note();",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let batch = c.post(
        "/api/v2/db/_table/audit_notes?rollback=true",
        json!([{"body": "a"}, {"body": "b"}, {"body": "slow"}, {"body": "d"}]),
    );
    let killer = async {
        let mut admin = shop.db.connect().await;
        for _ in 0..100 {
            let killed: i64 = sqlx::query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rampart' AND query LIKE 'INSERT INTO%' AND wait_event = 'PgSleep'",
            )
            .fetch_one(&mut admin)
            .await
            .unwrap()
            .get(0);
            if killed > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the slow insert never started");
    };
    let (reply, ()) = tokio::join!(batch, killer);
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert!(reply.body["error"]["message"].is_string());
    assert_eq!(
        count(&shop, "SELECT count(*) FROM audit_notes").await,
        0,
        "nothing of the batch was written"
    );
    // The pool replaces the dead connection; the next request works.
    let next = c
        .post("/api/v2/db/_table/audit_notes", json!({"body": "after"}))
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
}

#[tokio::test]
async fn nested_children_are_created_with_their_parent_in_one_transaction() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    let r = c
        .post(
            "/api/v2/db/_table/orders?related=order_items_by_order_id&fields=id",
            json!({"customer_id": 1, "total": 30, "order_items_by_order_id": [{"product_id": 1, "qty": 2}, {"product_id": 2, "qty": 1}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["resource"][0]["order_items_by_order_id"],
        json!([{"order_id": 7, "product_id": 1, "qty": 2}, {"order_id": 7, "product_id": 2, "qty": 1}])
    );
    // A failing child undoes its parent too.
    let bad = c.post("/api/v2/db/_table/orders", json!({"customer_id": 1, "total": 30, "order_items_by_order_id": [{"product_id": 1, "qty": 0}]})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);
    // A role that may not create the children cannot create them through the parent.
    let orders_only = shop
        .client_with("orders-only", &[("_table/orders/*", 31)])
        .await;
    let denied = orders_only.post("/api/v2/db/_table/orders", json!({"customer_id": 1, "total": 5, "order_items_by_order_id": [{"product_id": 1, "qty": 1}]})).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);
    assert_eq!(count(&shop, "SELECT count(*) FROM order_items").await, 6);
}

#[tokio::test]
async fn updates_write_has_many_children_and_belongs_to_parents_in_one_savepoint() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    // PATCH by id: an existing child (it carries its key) is updated, a new one created.
    let r = c
        .patch(
            "/api/v2/db/_table/orders/1?related=order_items_by_order_id",
            json!({"note": "regift", "order_items_by_order_id": [
                {"product_id": 2, "qty": 7},
                {"product_id": 3, "qty": 1}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["order_items_by_order_id"],
        json!([{"order_id": 1, "product_id": 1, "qty": 2}, {"order_id": 1, "product_id": 2, "qty": 7}, {"order_id": 1, "product_id": 3, "qty": 1}]),
        "{}",
        r.text
    );
    // Only related records may change: the record itself is left as it is.
    let only_children = c
        .patch(
            "/api/v2/db/_table/orders/4",
            json!({"order_items_by_order_id": [{"product_id": 1, "qty": 3}]}),
        )
        .await;
    assert_eq!(
        only_children.status,
        StatusCode::OK,
        "{}",
        only_children.text
    );
    assert_eq!(
        count(&shop, "SELECT count(*) FROM order_items WHERE order_id = 4").await,
        2
    );

    // belongs_to: a new customer is created first and the order takes its key...
    let created = c
        .post(
            "/api/v2/db/_table/orders?fields=id,customer_id&related=customers_by_customer_id&customers_by_customer_id.fields=name",
            json!({"total": 12, "customers_by_customer_id": {"email": "new@example.com", "name": "Newcomer"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(
        created.body["resource"][0],
        json!({"id": 7, "customer_id": 4, "customers_by_customer_id": {"name": "Newcomer"}})
    );
    // ...an existing one is linked by its key, and updated when it carries more fields.
    let moved = c
        .patch(
            "/api/v2/db/_table/orders/7?fields=customer_id",
            json!({"customers_by_customer_id": {"id": 2, "name": "Alan M. Turing"}}),
        )
        .await;
    assert_eq!(moved.body, json!({"customer_id": 2}), "{}", moved.text);
    assert_eq!(
        count(
            &shop,
            "SELECT count(*) FROM customers WHERE name = 'Alan M. Turing'"
        )
        .await,
        1
    );

    // A related record that fails undoes the whole record, children and parents included.
    let failing = c
        .post(
            "/api/v2/db/_table/orders",
            json!({"total": 1, "customers_by_customer_id": {"email": "fresh@example.com", "name": "Fresh"},
                   "order_items_by_order_id": [{"product_id": 1, "qty": 0}]}),
        )
        .await;
    assert_eq!(failing.status, StatusCode::BAD_REQUEST, "{}", failing.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM customers").await, 4);
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);
    // A related record addressed by a key that does not exist is a 404, nothing written.
    let missing = c
        .patch(
            "/api/v2/db/_table/orders/7",
            json!({"note": "x", "customers_by_customer_id": {"id": 999}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert_eq!(
        count(&shop, "SELECT count(*) FROM orders WHERE note = 'x'").await,
        0
    );
    // Sending the foreign key and the record it would come from is ambiguous.
    let both = c
        .post(
            "/api/v2/db/_table/orders",
            json!({"total": 1, "customer_id": 1, "customers_by_customer_id": {"id": 2}}),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST, "{}", both.text);
    // Writes addressing many records at once take no related records.
    let by_filter = c
        .patch(
            "/api/v2/db/_table/orders?filter=id%20%3E%200",
            json!({"order_items_by_order_id": [{"product_id": 1, "qty": 1}]}),
        )
        .await;
    assert_eq!(
        by_filter.status,
        StatusCode::BAD_REQUEST,
        "{}",
        by_filter.text
    );
}

#[tokio::test]
async fn related_records_are_written_under_the_callers_rules_for_their_own_table() {
    let shop = Shop::new().await;
    // Orders fully; customers readable but not writable, and only tenant 1's.
    let c = shop
        .client_with_role(
            json!({"name": "order-desk", "role_service_access_by_role_id": [
        {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 31},
        {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
         "filters": [{"name": "tenant_id", "operator": "=", "value": 1}]}]}),
        )
        .await;
    // Linking to a customer of tenant 1 works; tenant 2's customer does not exist for it.
    let linked = c
        .post(
            "/api/v2/db/_table/orders?fields=customer_id",
            json!({"total": 3, "customers_by_customer_id": {"id": 3}}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    let hidden = c
        .post(
            "/api/v2/db/_table/orders",
            json!({"total": 3, "customers_by_customer_id": {"id": 2}}),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    // Creating or changing a customer needs POST or PATCH on customers.
    for body in [
        json!({"total": 3, "customers_by_customer_id": {"email": "x@example.com", "name": "X"}}),
        json!({"total": 3, "customers_by_customer_id": {"id": 1, "name": "Renamed"}}),
    ] {
        let r = c.post("/api/v2/db/_table/orders", body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);
    assert_eq!(
        count(
            &shop,
            "SELECT count(*) FROM customers WHERE name = 'Renamed'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn many_many_records_are_created_or_linked_through_the_junction() {
    let shop = Shop::new().await;
    let mut conn = shop.db.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE labels (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
         CREATE TABLE product_labels (
             product_id int NOT NULL REFERENCES products (id),
             label_id int NOT NULL REFERENCES labels (id),
             PRIMARY KEY (product_id, label_id));
         INSERT INTO labels (name) VALUES ('sale');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let c = shop.client_with("writer", &[("*", 31)]).await;
    c.get_with("/api/v2/db/_table", &[("refresh", "true")])
        .await;
    let r = c
        .patch(
            "/api/v2/db/_table/products/1?related=labels_by_product_labels&labels_by_product_labels.fields=name",
            json!({"labels_by_product_labels": [{"id": 1}, {"name": "new"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["labels_by_product_labels"],
        json!([{"name": "sale"}, {"name": "new"}])
    );
    // Linking again what is linked already is no error and no duplicate.
    let again = c
        .patch(
            "/api/v2/db/_table/products/1",
            json!({"labels_by_product_labels": [{"id": 1}]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM product_labels").await, 2);
    // Without POST on the junction, no link is made.
    let no_junction = shop
        .client_with(
            "no-junction",
            &[("_table/products/*", 31), ("_table/labels/*", 31)],
        )
        .await;
    let denied = no_junction
        .patch(
            "/api/v2/db/_table/products/2",
            json!({"labels_by_product_labels": [{"id": 1}]}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM product_labels").await, 2);
}

#[tokio::test]
async fn a_role_that_may_only_create_children_creates_them_through_their_parent() {
    let shop = Shop::new().await;
    let c = shop
        .client_with(
            "create-only",
            &[("_table/orders/*", 3), ("_table/order_items/*", 2)],
        )
        .await;
    let r = c
        .post(
            "/api/v2/db/_table/orders",
            json!({"customer_id": 1, "total": 4, "order_items_by_order_id": [{"product_id": 2, "qty": 1}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        count(&shop, "SELECT count(*) FROM order_items WHERE order_id = 7").await,
        1
    );
    // Without PATCH on order_items an existing line cannot be changed through its order.
    let changed = c
        .post(
            "/api/v2/db/_table/orders",
            json!({"customer_id": 1, "total": 4, "order_items_by_order_id": [{"product_id": 2, "qty": 1}, {"product_id": 2, "qty": 9}]}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::BAD_REQUEST, "{}", changed.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);
}

#[tokio::test]
async fn max_affected_undoes_a_write_that_would_reach_more_records() {
    let shop = Shop::new().await;
    let c = shop.client_with("writer", &[("*", 31)]).await;
    // Four shipped orders: a limit of three refuses the update and changes nothing.
    let over = c
        .patch(
            "/api/v2/db/_table/orders?filter=status%3D'shipped'&max_affected=3",
            json!({"note": "bulk"}),
        )
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST, "{}", over.text);
    assert!(over.text.contains("max_affected"), "{}", over.text);
    assert_eq!(
        count(&shop, "SELECT count(*) FROM orders WHERE note = 'bulk'").await,
        0
    );
    let within = c
        .patch(
            "/api/v2/db/_table/orders?filter=status%3D'shipped'&max_affected=4",
            json!({"note": "bulk"}),
        )
        .await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.text);
    assert_eq!(
        count(&shop, "SELECT count(*) FROM orders WHERE note = 'bulk'").await,
        4
    );
    let delete = c
        .delete("/api/v2/db/_table/order_items?filter=qty%20%3E%200&max_affected=1")
        .await;
    assert_eq!(delete.status, StatusCode::BAD_REQUEST, "{}", delete.text);
    assert_eq!(count(&shop, "SELECT count(*) FROM order_items").await, 4);
    assert_eq!(
        c.delete("/api/v2/db/_table/order_items?filter=qty%3E0&max_affected=x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

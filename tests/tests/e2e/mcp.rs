//! The MCP bridge driven by a real MCP client (the official Python SDK) over stdio: the tool
//! set and its schemas, an agent's whole session against a real PostgreSQL, results equal to
//! the REST API's for the same role, injection attempts refused, and read-only mode.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

use crate::fixture::Shop;
use rampart_tests::mcp;

async fn count(shop: &Shop, sql: &'static str) -> i64 {
    let mut conn = shop.db.connect().await;
    sqlx::query(sql).fetch_one(&mut conn).await.unwrap().get(0)
}

/// An API key whose role may do everything with orders and read customers with `ssn` masked.
async fn agent_key(shop: &Shop) -> String {
    let role = shop
        .admin
        .post(
            "/api/v2/system/role",
            json!({"name": "agent", "role_service_access_by_role_id": [
        {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 31},
        {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
         "field_rules": {"ssn": {"mask": "last4"}, "email": "hidden"}},
        {"service_id": shop.service_id, "component": "_func/*", "verb_mask": 3}]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
    let id = role.body["resource"][0]["id"].as_i64().unwrap();
    shop.admin.create_app("agent-app", Some(id)).await.1
}

fn structured(result: &Value) -> &Value {
    assert_eq!(result["isError"], json!(false), "{result}");
    &result["structuredContent"]
}

fn refused(result: &Value) -> &Value {
    assert_eq!(result["isError"], json!(true), "{result}");
    &result["structuredContent"]
}

#[tokio::test]
async fn the_tool_set_is_fixed_typed_and_annotated() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    let s = mcp::stdio(&shop.app.base, &[("RAMPART_API_KEY", &key)], &json!([]));
    assert_eq!(s.raw["server"]["name"], json!("rampart-mcp"));
    assert_eq!(
        s.tool_names(),
        [
            "aggregate",
            "call_function",
            "delete_rows",
            "describe_table",
            "get_row",
            "insert_rows",
            "list_services",
            "list_tables",
            "query_rows",
            "update_rows",
            "whoami"
        ]
    );
    for tool in &s.tools {
        let name = &tool["name"];
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 10),
            "{name}"
        );
        assert_eq!(
            tool["inputSchema"]["additionalProperties"],
            json!(false),
            "{name} refuses unknown arguments"
        );
        assert_eq!(tool["outputSchema"]["type"], json!("object"), "{name}");
        assert_eq!(tool["annotations"]["openWorldHint"], json!(false), "{name}");
        let props = tool["inputSchema"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for banned in [
            "sql", "query", "path", "url", "role", "user", "user_id", "as_user",
        ] {
            assert!(!props.contains_key(banned), "{name} takes no '{banned}'");
        }
    }
    for read in [
        "list_tables",
        "describe_table",
        "query_rows",
        "get_row",
        "aggregate",
        "whoami",
    ] {
        assert_eq!(
            s.tool(read)["annotations"]["readOnlyHint"],
            json!(true),
            "{read}"
        );
    }
    for destructive in ["update_rows", "delete_rows"] {
        let t = s.tool(destructive);
        assert_eq!(t["annotations"]["destructiveHint"], json!(true));
        let required = t["inputSchema"]["required"].as_array().unwrap();
        assert!(required.contains(&json!("filter")) && required.contains(&json!("max_affected")));
    }
}

#[tokio::test]
async fn an_agent_explores_queries_and_changes_data_within_its_role() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    let calls = json!([
        {"tool": "whoami"},
        {"tool": "list_services"},
        {"tool": "list_tables"},
        {"tool": "describe_table", "args": {"table": "customers"}},
        {"tool": "query_rows", "args": {"table": "orders", "filter": "status = 'shipped' AND total > 100", "order": "total desc", "fields": ["id", "total"], "limit": 2}},
        {"tool": "get_row", "args": {"service": "db", "table": "customers", "id": 1}},
        {"tool": "aggregate", "args": {"table": "orders", "group_by": ["status"], "metrics": [{"function": "count"}, {"function": "sum", "field": "total"}]}},
        {"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 5}, {"customer_id": 2, "total": 6}]}},
        {"tool": "update_rows", "args": {"table": "orders", "filter": "total < 10", "set": {"note": "tiny"}, "max_affected": 1}},
        {"tool": "update_rows", "args": {"table": "orders", "filter": "total < 10", "set": {"note": "tiny"}, "max_affected": 2}},
        {"tool": "delete_rows", "args": {"table": "orders", "filter": "note = 'tiny'", "max_affected": 5}},
        {"tool": "call_function", "args": {"name": "order_total", "args": {"p_order_id": 4}}},
        {"tool": "query_rows", "args": {"table": "customers", "filter": "ssn like '1%'"}},
        {"tool": "delete_rows", "args": {"table": "customers", "filter": "id = 1", "max_affected": 1}}
    ]);
    let s = mcp::stdio(&shop.app.base, &[("RAMPART_API_KEY", &key)], &calls);
    let r = &s.results;
    assert_eq!(structured(&r[0])["role"], json!("agent"));
    assert_eq!(structured(&r[1])["services"][0]["name"], json!("db"));
    let tables: Vec<&str> = structured(&r[2])["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        ["customers", "orders"],
        "only tables the role may use"
    );
    let fields = &structured(&r[3])["fields"];
    let names: Vec<&str> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"email"),
        "hidden fields are absent: {names:?}"
    );
    let ssn = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ssn")
        .unwrap();
    assert_eq!(ssn["mask"], json!("last4"));

    let page = structured(&r[4]);
    assert_eq!(
        page["rows"],
        json!([{"id": 4, "total": 250.00}, {"id": 1, "total": 150.00}])
    );
    assert_eq!(
        page["truncated"],
        json!(true),
        "three rows match, two were asked for"
    );
    assert!(page["next_cursor"].is_string());
    assert!(
        r[4]["content"].to_string().contains("next_cursor"),
        "the cut is said in text too: {}",
        r[4]["content"]
    );
    assert_eq!(structured(&r[5])["row"]["ssn"], json!("****6789"));
    assert!(structured(&r[5])["row"].get("email").is_none());
    let groups = &structured(&r[6])["rows"];
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["status"] == "shipped" && g["COUNT_ALL"] == 4),
        "{groups}"
    );
    assert_eq!(structured(&r[7])["count"], json!(2));
    // Two rows match, one was allowed: refused, nothing changed.
    let over = refused(&r[8]);
    assert_eq!(over["status"], json!(400));
    assert!(
        over["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_affected")
    );
    assert_eq!(structured(&r[9])["count"], json!(2));
    assert_eq!(structured(&r[10])["count"], json!(2));
    assert_eq!(structured(&r[11])["result"], json!(250.00));
    // Masked fields cannot be used to infer values; customers cannot be deleted.
    assert_eq!(refused(&r[12])["status"], json!(400));
    assert_eq!(refused(&r[13])["status"], json!(403));
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 6);
    assert_eq!(count(&shop, "SELECT count(*) FROM customers").await, 3);
}

#[tokio::test]
async fn injection_through_any_argument_is_a_tool_error_and_runs_nothing() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    let calls = json!([
        {"tool": "query_rows", "args": {"table": "orders; DROP TABLE orders"}},
        {"tool": "query_rows", "args": {"table": "orders", "filter": "id = 1; DROP TABLE orders"}},
        {"tool": "query_rows", "args": {"table": "orders", "filter": "id = 1) OR (1=1"}},
        {"tool": "query_rows", "args": {"table": "orders", "fields": ["id, (SELECT ssn FROM customers)"]}},
        {"tool": "query_rows", "args": {"table": "orders", "order": "(SELECT 1)"}},
        {"tool": "query_rows", "args": {"table": "../system/admin"}},
        {"tool": "get_row", "args": {"table": "orders", "id": "1 OR 1=1"}},
        {"tool": "update_rows", "args": {"table": "orders", "filter": "1=1", "set": {"total": 0}, "max_affected": 1}},
        {"tool": "update_rows", "args": {"table": "orders", "filter": "id = 1", "set": {"total": "0); COMMIT; DROP TABLE orders; --"}, "max_affected": 1}},
        {"tool": "delete_rows", "args": {"table": "orders", "filter": "", "max_affected": 10}},
        {"tool": "aggregate", "args": {"table": "orders", "metrics": [{"function": "sum", "field": "total) FROM orders; --"}]}},
        {"tool": "call_function", "args": {"name": "pg_sleep", "args": {"seconds": 1}}},
        {"tool": "query_rows", "args": {"table": "orders", "role": "admin"}},
        {"tool": "query_rows", "args": {"table": "orders", "sql": "SELECT 1"}}
    ]);
    let s = mcp::stdio(&shop.app.base, &[("RAMPART_API_KEY", &key)], &calls);
    for (i, r) in s.results.iter().enumerate() {
        let refused_here = r["isError"] == json!(true) || r.get("protocolError").is_some();
        assert!(refused_here, "call {i} was not refused: {r}");
    }
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 6);
    assert_eq!(
        count(&shop, "SELECT count(*) FROM orders WHERE total = 0").await,
        0
    );
}

#[tokio::test]
async fn a_read_only_bridge_offers_and_does_no_writes() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    let calls = json!([
        {"tool": "query_rows", "args": {"table": "orders", "limit": 1}},
        {"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 5}]}},
        {"tool": "delete_rows", "args": {"table": "orders", "filter": "id = 6", "max_affected": 1}},
        {"tool": "whoami"}
    ]);
    let s = mcp::stdio(
        &shop.app.base,
        &[("RAMPART_API_KEY", &key), ("RAMPART_MCP_READ_ONLY", "true")],
        &calls,
    );
    let names = s.tool_names();
    for w in ["insert_rows", "update_rows", "delete_rows", "call_function"] {
        assert!(!names.iter().any(|n| n == w), "{w} is not offered");
    }
    assert_eq!(structured(&s.results[0])["returned"], json!(1));
    for r in &s.results[1..3] {
        assert!(
            r["isError"] == json!(true) || r.get("protocolError").is_some(),
            "{r}"
        );
    }
    assert_eq!(structured(&s.results[3])["read_only"], json!(true));
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 6);
}

/// The three roles of the RBAC matrix, each as (name, bridge environment, REST client).
async fn three_roles(
    shop: &Shop,
    jwks_url: &str,
) -> Vec<(&'static str, Vec<(String, String)>, rampart_tests::Client)> {
    use rampart_tests::idp;
    let full = shop
        .admin
        .create_role("full", &[(shop.service_id, "*", 31)])
        .await;
    let tenant = shop.admin.post("/api/v2/system/role", json!({"name": "tenant", "role_service_access_by_role_id": [
        {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 31,
         "filters": "tenant_id = {user.claims.tenant_id}", "field_rules": {"ssn": {"mask": "last4"}}}]})).await;
    let tenant = tenant.body["resource"][0]["id"].as_i64().unwrap();
    let reader = shop.admin.post("/api/v2/system/role", json!({"name": "reader", "role_service_access_by_role_id": [
        {"service_id": shop.service_id, "component": "_table/*", "verb_mask": 1, "field_rules": {"email": "hidden"}}]})).await;
    let reader = reader.body["resource"][0]["id"].as_i64().unwrap();
    let provider = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "idp", "type": "jwt", "config": {
        "jwks_url": jwks_url, "issuer": idp::ISSUER, "audience": idp::AUDIENCE,
        "group_role_map": [{"group": "tenants", "role_id": tenant}]}}]}),
        )
        .await;
    assert_eq!(provider.status, StatusCode::CREATED, "{}", provider.text);
    let (_, full_key) = shop.admin.create_app("full-app", Some(full)).await;
    let (_, reader_key) = shop.admin.create_app("reader-app", Some(reader)).await;
    let token = idp::sign(
        "k1",
        &idp::claims("t-1", json!({"groups": ["tenants"], "tenant_id": 1})),
    );
    let anon = rampart_tests::Client::new(&shop.app);
    vec![
        (
            "full",
            vec![("RAMPART_API_KEY".into(), full_key.clone())],
            anon.with_key(&full_key),
        ),
        (
            "tenant",
            vec![("RAMPART_SESSION_TOKEN".into(), token.clone())],
            anon.with_bearer(&token),
        ),
        (
            "reader",
            vec![("RAMPART_API_KEY".into(), reader_key.clone())],
            anon.with_key(&reader_key),
        ),
    ]
}

#[tokio::test]
async fn every_tool_answers_what_the_rest_api_answers_for_the_same_role() {
    let shop = Shop::new().await;
    let jwks = rampart_tests::idp::JwksServer::start(&["k1"]);
    // (tool call, the equivalent REST request)
    let pairs: Vec<(Value, &str)> = vec![
        (
            json!({"tool": "query_rows", "args": {"table": "customers", "order": "id", "limit": 100}}),
            "/api/v2/db/_table/customers?order=id&limit=100",
        ),
        (
            json!({"tool": "query_rows", "args": {"table": "customers", "filter": "name like '%a%'", "fields": ["id", "ssn"], "limit": 100}}),
            "/api/v2/db/_table/customers?filter=name%20like%20'%25a%25'&fields=id,ssn&limit=100",
        ),
        (
            json!({"tool": "query_rows", "args": {"table": "customers", "filter": "ssn like '1%'"}}),
            "/api/v2/db/_table/customers?filter=ssn%20like%20'1%25'",
        ),
        (
            json!({"tool": "query_rows", "args": {"table": "orders", "limit": 100}}),
            "/api/v2/db/_table/orders?limit=100",
        ),
        (
            json!({"tool": "get_row", "args": {"table": "customers", "id": 1}}),
            "/api/v2/db/_table/customers/1",
        ),
        (
            json!({"tool": "get_row", "args": {"table": "customers", "id": 2}}),
            "/api/v2/db/_table/customers/2",
        ),
        (
            json!({"tool": "get_row", "args": {"table": "customers", "id": 99}}),
            "/api/v2/db/_table/customers/99",
        ),
    ];
    for (role, env, rest) in three_roles(&shop, &jwks.url).await {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let calls: Vec<Value> = pairs.iter().map(|(c, _)| c.clone()).collect();
        let s = mcp::stdio(&shop.app.base, &env, &json!(calls));
        for ((call, path), result) in pairs.iter().zip(&s.results) {
            let r = rest.get(path).await;
            if r.status.is_success() {
                let out = structured(result);
                let expected = if call["tool"] == "get_row" {
                    r.body.clone()
                } else {
                    r.body["resource"].clone()
                };
                let got = if call["tool"] == "get_row" {
                    &out["row"]
                } else {
                    &out["rows"]
                };
                assert_eq!(got, &expected, "{role}: {call}");
            } else {
                let out = refused(result);
                assert_eq!(out["status"], json!(r.status.as_u16()), "{role}: {call}");
                assert_eq!(out["error"], r.body["error"], "{role}: {call}");
            }
            for clear in ["123-45", "987-65", "555-12"] {
                if role == "tenant" {
                    assert!(
                        !result.to_string().contains(clear),
                        "{role}: {call} leaked {clear}"
                    );
                }
            }
            if role == "reader" {
                assert!(
                    !result.to_string().contains("@example.com"),
                    "{role}: {call} leaked an email"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_read_only_key_is_read_only_in_the_bridge_and_in_the_rest_api() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("all", &[(shop.service_id, "*", 31)])
        .await;
    let key = shop.admin.create_read_only_app("dashboard", role).await;
    // REST refuses every write and call whatever the role allows; reads work.
    let rest = rampart_tests::Client::new(&shop.app).with_key(&key);
    assert_eq!(
        rest.get("/api/v2/db/_table/orders/1").await.status,
        StatusCode::OK
    );
    for (method, path) in [
        (reqwest::Method::POST, "/api/v2/db/_table/audit_notes"),
        (reqwest::Method::PATCH, "/api/v2/db/_table/orders/1"),
        (reqwest::Method::DELETE, "/api/v2/db/_table/orders/1"),
        (
            reqwest::Method::GET,
            "/api/v2/db/_func/order_total?p_order_id=1",
        ),
    ] {
        let r = rest
            .send(
                method.clone(),
                path,
                Some(json!({"body": "x", "note": "x"})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.text
        );
    }
    // Any client may make its own requests read-only (the bridge does in read-only mode).
    let writer = shop.admin.create_app("writer", Some(role)).await.1;
    let restricted = reqwest::Client::new()
        .post(format!("{}/api/v2/db/_table/audit_notes", shop.app.base))
        .header("X-DreamFactory-API-Key", &writer)
        .header("X-Rampart-Read-Only", "true")
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(restricted.status(), StatusCode::FORBIDDEN);
    // The bridge sees it and offers no write tool.
    let s = mcp::stdio(
        &shop.app.base,
        &[("RAMPART_API_KEY", &key)],
        &json!([{"tool": "whoami"}]),
    );
    assert!(!s.tool_names().iter().any(|n| n == "insert_rows"));
    assert_eq!(structured(&s.results[0])["read_only"], json!(true));
    assert_eq!(count(&shop, "SELECT count(*) FROM audit_notes").await, 0);
}

#[tokio::test]
async fn the_servers_own_mcp_endpoint_serves_the_same_tools_over_http() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    let calls = json!([
        {"tool": "whoami"},
        {"tool": "query_rows", "args": {"table": "customers", "order": "id", "limit": 100}},
        {"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 5}]}},
        {"tool": "query_rows", "args": {"table": "orders; DROP TABLE orders"}}
    ]);
    let s = mcp::http(
        &shop.app.base,
        &json!({"X-DreamFactory-API-Key": key}),
        &calls,
    );
    assert_eq!(s.tool_names().len(), 11, "{:?}", s.tool_names());
    assert_eq!(structured(&s.results[0])["role"], json!("agent"));
    let rest = rampart_tests::Client::new(&shop.app).with_key(&key);
    let expected = rest
        .get("/api/v2/db/_table/customers?order=id&limit=100")
        .await;
    assert_eq!(structured(&s.results[1])["rows"], expected.body["resource"]);
    assert_eq!(structured(&s.results[2])["count"], json!(1));
    assert_eq!(refused(&s.results[3])["status"], json!(403));
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);

    // A bearer token works as well, and a read-only key lists no write tool.
    let role = shop
        .admin
        .create_role("viewer", &[(shop.service_id, "*", 1)])
        .await;
    let viewer = shop.admin.create_read_only_app("viewer-app", role).await;
    let s = mcp::http(
        &shop.app.base,
        &json!({"X-DreamFactory-API-Key": viewer}),
        &json!([{"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 5}]}}]),
    );
    assert!(
        !s.tool_names().iter().any(|n| n == "insert_rows"),
        "{:?}",
        s.tool_names()
    );
    let r = &s.results[0];
    assert!(
        r["isError"] == json!(true) || r.get("protocolError").is_some(),
        "{r}"
    );
    assert_eq!(count(&shop, "SELECT count(*) FROM orders").await, 7);
}

#[tokio::test]
async fn the_mcp_endpoint_refuses_missing_credentials_and_foreign_hosts_and_origins() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    let http = reqwest::Client::new();
    let url = format!("{}/mcp", shop.app.base);
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let post = |headers: &[(&str, &str)]| {
        let mut r = http
            .post(&url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25")
            .json(&list);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send()
    };
    let anonymous = post(&[]).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().get("www-authenticate").is_some());
    let in_url = http
        .post(format!("{url}?api_key={key}"))
        .header("Accept", "application/json, text/event-stream")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(
        in_url.status(),
        StatusCode::BAD_REQUEST,
        "no credentials in URLs"
    );
    let bad_key = post(&[("X-DreamFactory-API-Key", "not-a-key")])
        .await
        .unwrap();
    assert_eq!(bad_key.status(), StatusCode::UNAUTHORIZED);
    let ok = post(&[("X-DreamFactory-API-Key", &key)]).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        body["result"]["tools"].as_array().map(Vec::len),
        Some(11),
        "{body}"
    );
    // DNS rebinding: a page elsewhere cannot reach the local server through its browser.
    let evil_host = post(&[
        ("X-DreamFactory-API-Key", &key),
        ("Host", "evil.example.com"),
    ])
    .await
    .unwrap();
    assert_eq!(evil_host.status(), StatusCode::FORBIDDEN);
    let evil_origin = post(&[
        ("X-DreamFactory-API-Key", &key),
        ("Origin", "https://evil.example.com"),
    ])
    .await
    .unwrap();
    assert_eq!(evil_origin.status(), StatusCode::FORBIDDEN);
    let local_origin = post(&[
        ("X-DreamFactory-API-Key", &key),
        ("Origin", "http://localhost:3000"),
    ])
    .await
    .unwrap();
    assert_eq!(local_origin.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cancelled_call_stops_its_statement_and_the_session_goes_on() {
    let shop = Shop::napping().await;
    let key = agent_key(&shop).await;
    let dir = tempfile::tempdir().unwrap();
    let go_on = dir.path().join("go-on");
    let calls = json!([
        {"tool": "call_function", "args": {"name": "nap", "args": {"s": 600}}, "cancel_after": 2},
        {"wait_for": go_on},
        {"tool": "whoami"}
    ]);
    let base = shop.app.base.clone();
    let session =
        std::thread::spawn(move || mcp::stdio(&base, &[("RAMPART_API_KEY", &key)], &calls));
    assert!(shop.wait_for_naps(true).await, "the statement started");
    // The client is still connected (waiting for `go-on`): only the cancellation can stop it.
    let stopped = shop.wait_for_naps(false).await;
    std::fs::write(&go_on, b"").unwrap();
    let s = session.join().unwrap();
    assert!(stopped, "the cancelled call's statement stopped");
    assert_eq!(s.results[0], json!({"cancelled": true}));
    assert_eq!(structured(&s.results[1])["role"], json!("agent"));
}

/// The events of the REST requests the server's own MCP endpoint makes for an agent name the
/// agent's address, not the server's own; a client naming an address itself is not believed.
#[tokio::test]
async fn events_of_the_mcp_endpoint_name_the_agents_address() {
    let shop = Shop::new().await;
    let key = agent_key(&shop).await;
    // The agent calls from another loopback address than the server's own calls come from.
    let agent = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "query_rows", "arguments": {"table": "orders", "limit": 1}}});
    let r = agent
        .post(format!("{}/mcp", shop.app.base))
        .header("X-DreamFactory-API-Key", &key)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let r = reqwest::Client::new()
        .get(format!("{}/api/v2/db/_table/orders?limit=1", shop.app.base))
        .header("X-DreamFactory-API-Key", &key)
        .header("X-Rampart-Client", "10.9.8.7")
        .header("X-Rampart-Bridge", "a-guess")
        .header("X-Request-Id", "claims-an-address")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mut events = Vec::new();
    for _ in 0..100 {
        let r = shop
            .admin
            .get_with(
                "/api/v2/system/audit",
                &[
                    ("filter", "resource = '_table/orders'"),
                    ("order", "id asc"),
                ],
            )
            .await;
        events = r.body["resource"].as_array().cloned().unwrap_or_default();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["tool"], "query_rows", "{}", events[0]);
    assert_eq!(events[0]["client"], "127.0.0.2", "{}", events[0]);
    assert_eq!(events[1]["request_id"], "claims-an-address");
    assert_eq!(events[1]["client"], "127.0.0.1", "{}", events[1]);
}

//! The audit trail: exactly one event per REST request, MCP tool call, sign-in, failed
//! sign-in, sign-out and system change, naming who acted under which role with what outcome;
//! the chain of hashes shows an edit made behind Rampart's back; the audit API filters,
//! pages and exports.

use rampart_tests::app::{ADMIN_EMAIL, Options, spawn_with};
use rampart_tests::{Client, TestDb, mcp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

/// The events matching `filter`, once at least `at_least` are written (the writer is
/// asynchronous; this waits up to 30 s for it, and the caller checks the exact number).
pub(crate) async fn events(admin: &Client, filter: &str, at_least: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..600 {
        let r = admin
            .get_with(
                "/api/v2/system/audit",
                &[("filter", filter), ("order", "id asc"), ("limit", "1000")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        found = r.body["resource"].as_array().cloned().unwrap_or_default();
        if found.len() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    found
}

/// The one event of request `id`.
pub(crate) async fn event_of(admin: &Client, id: &str) -> Value {
    let found = events(admin, &format!("request_id = '{id}'"), 1).await;
    assert_eq!(found.len(), 1, "one event for {id}: {found:?}");
    found[0].clone()
}

#[tokio::test]
async fn each_request_sign_in_sign_out_and_change_leaves_one_event() {
    let shop = Shop::new().await;
    let admin = &shop.admin;
    let role = admin
        .create_role("reader", &[(shop.service_id, "_table/orders/*", 1)])
        .await;
    let (app, key) = admin.create_app("reader-app", Some(role)).await;
    let reader = Client::new(&shop.app).with_key(&key);

    // A read: who, under which role, what was asked (the key in the URL redacted), how many rows.
    let r = reader
        .with_request_id("read-1")
        .get_with(
            "/api/v2/db/_table/orders",
            &[("filter", "total > 100"), ("api_key", &key)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = r.body["resource"].as_array().unwrap().len();
    let e = event_of(admin, "read-1").await;
    assert_eq!(e["kind"], "request");
    assert_eq!(e["transport"], "rest");
    assert_eq!(e["principal"], "app");
    assert_eq!(e["app_id"], app);
    assert_eq!(e["role_id"], role);
    assert_eq!(e["method"], "GET");
    assert_eq!(e["service"], "db");
    assert_eq!(e["resource"], "_table/orders");
    assert_eq!(e["status"], 200);
    assert_eq!(e["rows"], rows);
    assert_eq!(e["params"]["filter"], "total > 100");
    assert_eq!(e["params"]["api_key"], "*****");
    assert!(!e.to_string().contains(&key), "the key is never recorded");
    assert!(e["latency_us"].as_i64().unwrap() > 0);

    // A refusal names its error.
    let r = reader
        .with_request_id("denied-1")
        .get("/api/v2/db/_table/customers")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let e = event_of(admin, "denied-1").await;
    assert_eq!(
        (e["status"].clone(), e["error_code"].clone()),
        (json!(403), json!("forbidden"))
    );
    assert_eq!(e["rows"], Value::Null);

    // A write counts the rows it affected.
    let writer_role = admin
        .create_role("writer", &[(shop.service_id, "_table/orders/*", 3)])
        .await;
    let (_, writer_key) = admin.create_app("writer-app", Some(writer_role)).await;
    let r = Client::new(&shop.app)
        .with_key(&writer_key)
        .with_request_id("write-1")
        .post(
            "/api/v2/db/_table/orders",
            json!({"resource": [{"customer_id": 1, "total": 5}, {"customer_id": 2, "total": 6}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = event_of(admin, "write-1").await;
    assert_eq!(
        (e["method"].clone(), e["rows"].clone()),
        (json!("POST"), json!(2))
    );

    // A read tunnelled through POST is recorded as what it did, with the parameter it acted
    // on (the first of a repeated one).
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v2/db/_table/orders?filter=id%3D1&filter=id%3D2",
            shop.app.base
        ))
        .header("X-DreamFactory-Api-Key", &key)
        .header("X-HTTP-Method", "GET")
        .header("X-Request-Id", "tunnelled-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = event_of(admin, "tunnelled-1").await;
    assert_eq!(e["method"], "GET");
    assert_eq!(e["params"]["filter"], "id=1");
    assert_eq!(e["rows"], 1);

    // Parameters sent in the body are recorded too (the query string's win, as they do for
    // the request; secrets redacted alike).
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/db/_table/orders?limit=5", shop.app.base))
        .header("X-DreamFactory-Api-Key", &key)
        .header("X-HTTP-Method", "GET")
        .header("X-Request-Id", "body-params-1")
        .json(&json!({"filter": "id = 2", "limit": 1, "fields": ["id", "total"], "session_token": "t0k3n-in-body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = event_of(admin, "body-params-1").await;
    assert_eq!(
        e["params"],
        json!({"fields": ["id", "total"], "filter": "id = 2", "limit": "5"}),
        "{e}"
    );
    assert_eq!(e["rows"], 1);

    // A failed sign-in names the account tried and no principal; the password is nowhere.
    let anon = Client::new(&shop.app);
    let r = anon
        .with_request_id("login-bad")
        .post(
            "/api/v2/system/admin/session",
            json!({"email": ADMIN_EMAIL, "password": "not-the-password-9"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let e = event_of(admin, "login-bad").await;
    assert_eq!(e["kind"], "login_failed");
    assert_eq!(e["principal"], "anonymous");
    assert_eq!(e["email"], ADMIN_EMAIL);
    assert_eq!(e["status"], 401);
    assert!(!e.to_string().contains("not-the-password-9"));

    // A sign-in and a sign-out name the admin.
    let r = anon
        .with_request_id("login-ok")
        .post(
            "/api/v2/system/admin/session",
            json!({"email": ADMIN_EMAIL, "password": rampart_tests::app::ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let other = anon.with_token(r.body["session_token"].as_str().unwrap());
    let e = event_of(admin, "login-ok").await;
    assert_eq!(
        (e["kind"].clone(), e["principal"].clone()),
        (json!("login"), json!("admin"))
    );
    assert_eq!(e["email"], ADMIN_EMAIL);
    assert!(e["user_id"].is_i64());
    let r = other
        .with_request_id("logout-1")
        .delete("/api/v2/system/admin/session")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = event_of(admin, "logout-1").await;
    assert_eq!(
        (e["kind"].clone(), e["email"].clone()),
        (json!("logout"), json!(ADMIN_EMAIL))
    );

    // System changes carry before and after.
    let r = admin
        .with_request_id("role-create")
        .post(
            "/api/v2/system/role",
            json!({"resource": [{"name": "auditors", "description": "first"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["resource"][0]["id"].as_i64().unwrap();
    let e = event_of(admin, "role-create").await;
    assert_eq!(e["kind"], "change");
    assert_eq!(e["changes"]["before"], Value::Null);
    assert_eq!(e["changes"]["after"]["name"], "auditors");
    let r = admin
        .with_request_id("role-update")
        .patch(
            &format!("/api/v2/system/role/{id}"),
            json!({"description": "second"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = event_of(admin, "role-update").await;
    assert_eq!(e["changes"]["before"]["description"], "first");
    assert_eq!(e["changes"]["after"]["description"], "second");
    let r = admin
        .with_request_id("role-delete")
        .delete(&format!("/api/v2/system/role/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = event_of(admin, "role-delete").await;
    assert_eq!(e["changes"]["before"]["name"], "auditors");
    assert_eq!(e["changes"]["after"], Value::Null);

    // Service secrets stay out of before/after.
    let e = events(admin, "resource = 'service' and kind = 'change'", 1).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0]["changes"]["after"]["name"] == "db");
    assert!(
        !e[0].to_string().contains("unused-with-trust-auth"),
        "{}",
        e[0]["changes"]
    );

    // Only sys-admins (and roles granted `audit` of the system service) read the trail.
    let r = reader.get("/api/v2/system/audit").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

#[tokio::test]
async fn each_mcp_tool_call_leaves_one_event_naming_the_tool() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("agent", &[(shop.service_id, "_table/customers/*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("agent-app", Some(role)).await;
    let calls = json!([
        {"tool": "query_rows", "args": {"table": "customers", "limit": 3}},
        {"tool": "whoami"}
    ]);
    let s = mcp::http(
        &shop.app.base,
        &json!({"X-DreamFactory-API-Key": key}),
        &calls,
    );
    assert_eq!(s.results.len(), 2, "{:?}", s.raw);
    let found = events(&shop.admin, "transport = 'mcp'", 2).await;
    let tools: Vec<&str> = found.iter().filter_map(|e| e["tool"].as_str()).collect();
    assert_eq!(tools, vec!["query_rows", "whoami"], "{found:?}");
    let query = &found[0];
    assert_eq!(query["role_id"], role);
    assert_eq!(query["resource"], "_table/customers");
    assert_eq!(query["rows"], 3);
    assert_eq!(query["status"], 200);
}

/// A tool call the bridge refuses itself (a write through a read-only app) reaches no REST
/// endpoint, yet leaves one event too, naming the tool and who called it; a call that does
/// reach the REST API leaves only its REST request's event.
#[tokio::test]
async fn a_tool_call_the_bridge_refuses_leaves_one_event_too() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("viewer", &[(shop.service_id, "_table/orders/*", 1)])
        .await;
    let key = shop.admin.create_read_only_app("viewer-app", role).await;
    let s = mcp::http(
        &shop.app.base,
        &json!({"X-DreamFactory-API-Key": key}),
        &json!([
            {"tool": "insert_rows", "args": {"table": "orders", "rows": [{"customer_id": 1, "total": 5}]}},
            {"tool": "query_rows", "args": {"table": "orders", "limit": 2}}
        ]),
    );
    assert_eq!(s.results.len(), 2, "{:?}", s.raw);
    assert_eq!(s.results[0]["isError"], json!(true), "{}", s.results[0]);
    // A later request's event is stored after every earlier one.
    let later = shop.admin.with_request_id("after-the-calls");
    assert_eq!(
        later.get("/api/v2/system/role").await.status,
        StatusCode::OK
    );
    event_of(&shop.admin, "after-the-calls").await;
    let found = events(&shop.admin, "transport = 'mcp'", 2).await;
    assert_eq!(found.len(), 2, "one event per tool call: {found:?}");
    let refused = &found[0];
    assert_eq!(refused["tool"], "insert_rows");
    assert_eq!(refused["kind"], "mcp_refused");
    assert_eq!(refused["error_code"], "tool_call_refused");
    assert_eq!(refused["role_id"], role);
    assert_eq!(refused["resource"], Value::Null);
    let query = &found[1];
    assert_eq!(query["tool"], "query_rows");
    assert_eq!(query["resource"], "_table/orders");
    assert_eq!(query["rows"], 2);
}

/// The log sink gets each event as one JSON line, hash included; when the file is rotated
/// away (moved, as logrotate does), the next events go to a new file at the configured path.
#[tokio::test]
async fn the_log_sink_writes_a_line_per_event_and_follows_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let shop = Shop::with(&Options {
        env: vec![("RAMPART_AUDIT__LOG".into(), log.display().to_string())],
    })
    .await;
    let written = |id: &'static str| {
        let log = log.clone();
        async move {
            for _ in 0..200 {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains(id) {
                    return text;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{id} never reached {}", log.display());
        }
    };
    let r = shop
        .admin
        .with_request_id("before-rotation")
        .get("/api/v2/system/role")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let before = written("before-rotation").await;
    let line = before
        .lines()
        .find(|l| l.contains("before-rotation"))
        .unwrap();
    let event: Value = serde_json::from_str(line).unwrap();
    assert_eq!(event["request_id"], "before-rotation");
    assert_eq!(event["status"], 200);
    assert_eq!(event["hash"].as_str().map(str::len), Some(64), "{event}");

    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&log, &rotated).unwrap();
    let r = shop
        .admin
        .with_request_id("after-rotation")
        .get("/api/v2/system/role")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let after = written("after-rotation").await;
    assert!(!after.contains("before-rotation"), "{after}");
    assert!(
        !std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("after-rotation"),
        "nothing more goes to the rotated file"
    );
}

#[tokio::test]
async fn an_event_edited_in_the_database_breaks_the_chain_at_that_row() {
    let store = TestDb::empty().await;
    let data = TestDb::shop().await;
    let app = spawn_with(&Options {
        env: vec![("RAMPART_SYSTEM_DATABASE_URL".into(), store.url())],
    });
    let admin = Client::admin(&app).await;
    admin.create_service("db", data.service_config()).await;
    for _ in 0..5 {
        assert_eq!(
            admin.get("/api/v2/system/service").await.status,
            StatusCode::OK
        );
    }
    assert!(events(&admin, "id > 0", 7).await.len() >= 7);

    let verify = || app.run(&["audit", "verify"]);
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));

    // Someone with database access changes what an event says.
    let psql = std::process::Command::new("psql")
        .arg(store.url())
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "UPDATE audit_events SET status = status + 1 WHERE id = 3",
        ])
        .output()
        .expect("run psql");
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    let broken = verify();
    assert!(!broken.status.success());
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(said.contains("row 3"), "{said}");
}

#[tokio::test]
async fn ten_thousand_requests_leave_ten_thousand_events_and_export_whole() {
    const REQUESTS: usize = 10_000;
    const WORKERS: usize = 32;
    let shop = Shop::new().await;
    let client = shop.client_with("bulk", &[("_table/products/*", 1)]).await;
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..REQUESTS / WORKERS {
                assert_eq!(
                    c.get("/api/v2/db/_table/products?limit=1").await.status,
                    StatusCode::OK
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sent = REQUESTS / WORKERS * WORKERS;
    let filter = "resource = '_table/products' and method = 'GET'";
    let mut counted = 0;
    for _ in 0..600 {
        let r = shop
            .admin
            .get_with(
                "/api/v2/system/audit",
                &[
                    ("filter", filter),
                    ("include_count", "true"),
                    ("limit", "1"),
                ],
            )
            .await;
        counted = r.body["meta"]["count"].as_u64().unwrap_or(0) as usize;
        if counted >= sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(counted, sent, "one event per request");

    let http = reqwest::Client::new();
    let export = |format: &'static str| {
        let req = http
            .get(format!("{}/api/v2/system/audit", shop.app.base))
            .query(&[("filter", filter), ("format", format)])
            .header(
                "X-DreamFactory-Session-Token",
                shop.admin.token.clone().unwrap(),
            );
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let ndjson = export("ndjson").await;
    assert_eq!(ndjson.lines().count(), sent);
    let first: Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    assert_eq!(first["resource"], "_table/products");
    let csv = export("csv").await;
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("id,time,request_id,kind"));
    assert_eq!(lines.count(), sent);

    let verify = shop.app.run(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Paging by `meta.next_cursor` walks the trail without repeating or skipping an event while
/// new ones arrive between pages (offset paging would repeat as many as arrived), newest
/// first or oldest first; a cursor that is not one is refused clearly.
#[tokio::test]
async fn pages_follow_the_cursor_without_repeats_while_events_arrive() {
    let shop = Shop::new().await;
    let client = shop.client_with("pager", &[("_table/products/*", 1)]).await;
    let read = |n: usize| {
        let c = client.clone();
        async move {
            for _ in 0..n {
                assert_eq!(
                    c.get("/api/v2/db/_table/products?limit=1").await.status,
                    StatusCode::OK
                );
            }
        }
    };
    let filter = "resource = '_table/products'";
    read(25).await;
    let all = events(&shop.admin, filter, 25).await;
    assert_eq!(all.len(), 25);
    let page = |order: &'static str, cursor: Option<String>| {
        let admin = &shop.admin;
        async move {
            let mut q = vec![
                ("filter", filter.to_owned()),
                ("limit", "10".to_owned()),
                ("order", order.to_owned()),
            ];
            if let Some(c) = cursor {
                q.push(("cursor", c));
            }
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = admin.get_with("/api/v2/system/audit", &q).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let ids: Vec<i64> = r.body["resource"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap())
                .collect();
            (
                ids,
                r.body["meta"]["next_cursor"].as_str().map(str::to_owned),
            )
        }
    };

    let (first, cursor) = page("id desc", None).await;
    assert_eq!(first.len(), 10);
    // Five more events arrive, newer than every one listed.
    read(5).await;
    events(&shop.admin, filter, 30).await;
    let (second, cursor) = page("id desc", cursor).await;
    let (third, cursor) = page("id desc", cursor).await;
    assert_eq!(cursor, None, "a page that is not full is the last");
    let walked: Vec<i64> = [first, second, third].concat();
    let mut expected: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    expected.reverse();
    assert_eq!(
        walked, expected,
        "each of the first 25 events once, newest first"
    );

    // Oldest first, the walk reaches the events that arrived meanwhile.
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let (ids, next) = page("id asc", cursor).await;
        walked.extend(ids);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(walked.len(), 30);
    assert!(walked.windows(2).all(|w| w[0] < w[1]), "{walked:?}");
    assert_eq!(
        walked[..25],
        expected.iter().rev().copied().collect::<Vec<_>>()[..]
    );

    for bad in ["not a cursor", "WyJhIl0", "WyIxIiwiMiJd"] {
        let r = shop
            .admin
            .get_with("/api/v2/system/audit", &[("cursor", bad)])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.message().contains("Invalid cursor"), "{}", r.text);
    }
}

#[tokio::test]
async fn the_audit_api_refuses_unknown_fields_and_bad_values_clearly() {
    let shop = Shop::new().await;
    for (filter, says) in [
        ("password = 'x'", "Unknown audit field"),
        ("status = 'abc'", "whole number"),
        ("time > 'yesterday'", "RFC 3339"),
        ("status = ", "filter"),
    ] {
        let r = shop
            .admin
            .get_with("/api/v2/system/audit", &[("filter", filter)])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{filter}: {}", r.text);
        assert!(r.message().contains(says), "{filter}: {}", r.text);
    }
    let r = shop
        .admin
        .get_with("/api/v2/system/audit", &[("format", "xml")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_role_granted_system_audit_reads_the_trail_and_nothing_else_of_the_system_api() {
    let shop = Shop::new().await;
    let admin = &shop.admin;
    // A role that reaches every verb of every service, and of the shop's own: still no audit.
    let all = 31;
    let everything = admin
        .post(
            "/api/v2/system/role",
            json!({"resource": [{"name": "everything", "role_service_access_by_role_id": [
                {"service_id": null, "component": "*", "verb_mask": all},
                {"service_id": shop.service_id, "component": "*", "verb_mask": all}]}]}),
        )
        .await;
    assert_eq!(
        everything.status,
        StatusCode::CREATED,
        "{}",
        everything.text
    );
    let (_, key) = admin
        .create_app(
            "everything-app",
            everything.body["resource"][0]["id"].as_i64(),
        )
        .await;
    let r = Client::new(&shop.app)
        .with_key(&key)
        .get("/api/v2/system/audit")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.message().contains("system"), "{}", r.text);

    // Granted GET on `audit` of the system service (service_id 0): the trail, no more.
    let auditor = shop
        .client_with_role(
            json!({"resource": [{"name": "auditor", "role_service_access_by_role_id": [
            {"service_id": 0, "component": "audit", "verb_mask": 1}]}]}),
        )
        .await;
    let r = auditor
        .with_request_id("auditor-read")
        .get_with("/api/v2/system/audit", &[("limit", "5")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.body["resource"].as_array().unwrap().is_empty());
    for path in [
        "/api/v2/system/role",
        "/api/v2/system/app",
        "/api/v2/system/cors",
    ] {
        let r = auditor.get(path).await;
        assert!(
            matches!(r.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
            "{path}: {} {}",
            r.status,
            r.text
        );
    }
    // The system service is no database: the service API neither lists nor changes it.
    let services = admin.get("/api/v2/system/service").await;
    assert!(
        services.body["resource"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "system"),
        "{}",
        services.text
    );
    for r in [
        admin.get("/api/v2/system/service/0").await,
        admin.delete("/api/v2/system/service/0").await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
    // The grant travels with the role in an export, by the service's name.
    let export = admin.get("/api/v2/system/export").await;
    let role = export.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "auditor")
        .cloned()
        .unwrap();
    assert_eq!(role["access"][0]["service"], "system", "{role}");
    // And the auditor's own read is in the trail, under its role.
    let e = event_of(admin, "auditor-read").await;
    assert_eq!(e["service"], "system");
    assert_eq!(e["resource"], "audit");
    assert_eq!(e["status"], 200);
}

#[tokio::test]
async fn responses_are_kept_only_where_configured_and_as_the_client_got_them() {
    let shop = Shop::with(&Options {
        env: vec![
            (
                "RAMPART_AUDIT__CAPTURE_TABLES".into(),
                "db.customers".into(),
            ),
            ("RAMPART_AUDIT__CAPTURE_ROLES".into(), "partner".into()),
        ],
    })
    .await;
    let support = shop
        .client_with_role(
            json!({"resource": [{"name": "support", "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
             "field_rules": {"ssn": {"mask": "last4"}}},
            {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1}]}]}),
        )
        .await;
    // A captured table: the event holds exactly what the client got, the ssn masked.
    let r = support
        .with_request_id("kept-customers")
        .get_with(
            "/api/v2/db/_table/customers",
            &[("order", "id"), ("limit", "3")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = event_of(&shop.admin, "kept-customers").await;
    let kept = e["response"].as_str().expect("a captured response");
    assert_eq!(serde_json::from_str::<Value>(kept).unwrap(), r.body);
    let clear = "123-45-6789";
    assert!(!kept.contains(clear) && !r.text.contains(clear), "{kept}");
    // Another table, another role: nothing kept.
    let r = support
        .with_request_id("not-kept-orders")
        .get_with("/api/v2/db/_table/orders", &[("limit", "2")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        event_of(&shop.admin, "not-kept-orders").await["response"],
        Value::Null
    );
    // A captured role: everything it is answered, refusals too.
    let partner = shop
        .client_with_role(
            json!({"resource": [{"name": "partner", "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1}]}]}),
        )
        .await;
    let r = partner
        .with_request_id("kept-partner")
        .get_with("/api/v2/db/_table/orders", &[("limit", "2")])
        .await;
    let e = event_of(&shop.admin, "kept-partner").await;
    assert_eq!(
        serde_json::from_str::<Value>(e["response"].as_str().unwrap()).unwrap(),
        r.body
    );
    let r = partner
        .with_request_id("kept-refusal")
        .get("/api/v2/db/_table/customers")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let e = event_of(&shop.admin, "kept-refusal").await;
    assert!(e["response"].as_str().unwrap().contains("Forbidden"), "{e}");
    // A sign-in under a captured role is not kept: its answer holds a live session token.
    let partner_role = e["role_id"].as_i64().unwrap();
    let partner_app = e["app_id"].as_i64().unwrap();
    let created = shop
        .admin
        .post(
            "/api/v2/system/user",
            json!({"resource": [{"email": "pat@example.com", "password": "amber-kettle-lagoon",
                "user_to_app_to_role_by_user_id": [{"app_id": partner_app, "role_id": partner_role}]}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let (r, session) = partner
        .with_request_id("partner-sign-in")
        .sign_in("pat@example.com", "amber-kettle-lagoon")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.body["session_token"].as_str().unwrap().to_owned();
    let e = event_of(&shop.admin, "partner-sign-in").await;
    assert_eq!(
        (e["kind"].clone(), e["role_id"].clone()),
        (json!("login"), json!(partner_role))
    );
    assert_eq!(e["response"], Value::Null);
    assert!(!e.to_string().contains(&token));
    // … while the same person's data requests are.
    let r = session
        .unwrap()
        .with_request_id("partner-as-user")
        .get_with("/api/v2/db/_table/orders", &[("limit", "1")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(event_of(&shop.admin, "partner-as-user").await["response"].is_string());
    // Captured rows are part of the chain: editing one is caught like any other edit.
    let out = shop.app.run(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn the_access_review_shows_what_was_used_when_and_what_never_was() {
    let shop = Shop::new().await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/role",
            json!({"resource": [{"name": "clerk",
        "role_service_access_by_role_id": [
            {"service_id": shop.service_id, "component": "_table/orders/*", "verb_mask": 1},
            {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 3,
             "field_rules": {"ssn": {"mask": "last4"}}}]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let role = r.body["resource"][0]["id"].as_i64().unwrap();
    let (app, key) = shop.admin.create_app("clerk-app", Some(role)).await;
    // An identity provider gives the role to a group, and to everyone else it signs in.
    let jwks = rampart_tests::idp::JwksServer::start(&["k1"]);
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "partners", "type": "jwt", "config": {
                "jwks_url": jwks.url, "issuer": rampart_tests::idp::ISSUER,
                "audience": rampart_tests::idp::AUDIENCE, "algorithms": ["RS256"],
                "group_role_map": [{"group": "clerks", "role_id": role}],
                "default_role": role}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let provider = r.body["resource"][0]["id"].as_i64().unwrap();
    let clerk = Client::new(&shop.app).with_key(&key);
    assert_eq!(
        clerk.get("/api/v2/db/_table/orders/1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        clerk.get("/api/v2/db/_table/orders").await.status,
        StatusCode::OK
    );
    // A refused request is no use of a permission.
    assert_eq!(
        clerk.get("/api/v2/db/_table/products").await.status,
        StatusCode::FORBIDDEN
    );

    let mut review = Value::Null;
    for _ in 0..100 {
        review = shop
            .admin
            .get(&format!("/api/v2/system/role/{role}/review?days=30"))
            .await
            .body;
        if review["permissions"][0]["verbs"][0]["unused"] == false {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(review["role"]["name"], "clerk", "{review}");
    assert_eq!(review["days"], 30);
    assert_eq!(review["holders"]["apps"][0]["app_id"], app);
    assert_eq!(
        review["holders"]["providers"],
        json!([{"service_id": provider, "service": "partners", "type": "jwt", "is_active": true,
                "groups": ["clerks"], "apps": [], "default": true}])
    );
    let orders = &review["permissions"][0];
    assert_eq!(orders["component"], "_table/orders/*");
    assert_eq!(orders["verbs"][0]["verb"], "GET");
    assert_eq!(orders["verbs"][0]["unused"], false, "{review}");
    let used_at = orders["verbs"][0]["last_used"].as_str().unwrap();
    let used_at = chrono_like(used_at);
    assert!(used_at, "an RFC 3339 time: {orders}");
    let customers = &review["permissions"][1];
    assert_eq!(customers["field_rules"], json!({"ssn": {"mask": "last4"}}));
    assert!(
        customers["verbs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["unused"] == true && v["last_used"].is_null()),
        "{customers}"
    );
    let unused: Vec<(String, String)> = review["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["component"].as_str().unwrap().to_owned(),
                u["verb"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        unused,
        vec![
            ("_table/customers/*".to_owned(), "GET".to_owned()),
            ("_table/customers/*".to_owned(), "POST".to_owned())
        ]
    );

    // What no row names is reviewed too: tables related to orders that no rule of the role
    // covers are read embedded in orders (customers has its own rule, so it is not listed).
    let reach = |review: &Value| -> Vec<(String, String, String)> {
        let mut out: Vec<_> = review["related_reach"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["service"], "db", "{r}");
                let s = |k: &str| r[k].as_str().unwrap().to_owned();
                (s("table"), s("relationship"), s("reaches"))
            })
            .collect();
        out.sort();
        out
    };
    let expected = vec![
        (
            "orders".to_owned(),
            "order_items_by_order_id".to_owned(),
            "order_items".to_owned(),
        ),
        (
            "orders".to_owned(),
            "products_by_order_items".to_owned(),
            "products".to_owned(),
        ),
    ];
    assert_eq!(reach(&review), expected, "{review}");
    // And it is so: the clerk reads order items embedded, though not on their own.
    let embedded = clerk
        .get("/api/v2/db/_table/orders/1?related=order_items_by_order_id")
        .await;
    assert_eq!(embedded.status, StatusCode::OK, "{}", embedded.text);
    assert!(embedded.body["order_items_by_order_id"].is_array());
    assert_eq!(
        clerk.get("/api/v2/db/_table/order_items").await.status,
        StatusCode::FORBIDDEN
    );

    // The same review from the command line.
    let out = shop
        .app
        .run(&["review", "--role", &role.to_string(), "--days", "30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli[0]["unused"], review["unused"]);
    assert_eq!(reach(&cli[0]), expected);

    // A row with no verbs blocks order items, embedded too; the review says so.
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{role}"),
            json!({"role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/order_items/*", "verb_mask": 0}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let review = shop
        .admin
        .get(&format!("/api/v2/system/role/{role}/review?days=30"))
        .await
        .body;
    assert_eq!(reach(&review), expected[1..].to_vec(), "{review}");
    let blocked = clerk
        .get("/api/v2/db/_table/orders/1?related=order_items_by_order_id")
        .await;
    assert!(blocked.status.is_client_error(), "{}", blocked.text);
}

/// Whether `s` looks like an RFC 3339 UTC time (`2026-12-03T08:00:00Z`).
fn chrono_like(s: &str) -> bool {
    s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn a_stopping_server_stores_every_event_it_still_holds() {
    use sqlx::Connection;
    const REQUESTS: usize = 300;
    let mut app = rampart_tests::app::spawn_app();
    let admin = Client::admin(&app).await;
    // Another program holds the store's write lock: the events wait in the writer.
    let store = app.data_dir.path().join("rampart.db");
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", store.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = admin.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..REQUESTS / 4 {
                assert_eq!(c.get("/api/v2/system/role").await.status, StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The server is told to stop while it cannot store them; the lock goes a second later.
    let stopping = tokio::task::spawn_blocking(move || {
        let status = app.stop();
        (app, status)
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    let (app, status) = stopping.await.unwrap();
    assert!(status.success(), "{status:?}\n{}", app.log());

    // The sign-in and every request, chained whole.
    let verify = app.run(&["audit", "verify"]);
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        said.contains(&format!("intact: {} events checked", REQUESTS + 1)),
        "{said}\n{}",
        app.log()
    );
}

/// `n` request events from id `first` on, each begun 1 ms after the one before, except
/// that every seventh is a request that took 50 ms: its event is chained among those of
/// requests that began after it.
#[allow(
    clippy::vec_box,
    reason = "`append` takes events boxed, as the audit queue carries them"
)]
fn chained_events(first: i64, n: i64) -> Vec<Box<rampart_server::system::audit::AuditRecord>> {
    (first..first + n)
        .map(|i| {
            Box::new(rampart_server::system::audit::AuditRecord {
                ts: 1_000 * i - if i % 7 == 3 { 50_000 } else { 0 },
                request_id: format!("request-{i}").into(),
                kind: "request".into(),
                transport: "rest".into(),
                principal: "app".into(),
                client: "127.0.0.1".into(),
                method: "GET".into(),
                params: "{}".into(),
                status: 200,
                ..Default::default()
            })
        })
        .collect()
}

async fn ids_and_times(store: &rampart_server::system::Store) -> Vec<(i64, i64)> {
    rampart_server::system::audit::page(store, sea_query::Condition::all(), true, 100_000, 0)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.id, e.ts))
        .collect()
}

/// Deletes the event `id` (every event: `None`) straight from the store.
async fn behind_the_back(store: &rampart_server::system::Store, id: Option<i64>) {
    use rampart_server::system::audit::AuditEvents;
    use sea_query::ExprTrait;
    let mut delete = sea_query::Query::delete();
    delete.from_table(AuditEvents::Table);
    if let Some(id) = id {
        delete.and_where(sea_query::Expr::col(AuditEvents::Id).eq(id));
    }
    let mut tx = store.begin().await.unwrap();
    tx.execute(&delete).await.unwrap();
    tx.commit().await.unwrap();
}

/// Retention purges the oldest events of a chain whose times are not in its order, over
/// more than one purge transaction, and leaves a chain `verify` finds whole; emptied, the
/// chain goes on from where it was. Rows added or deleted behind Rampart's back are caught.
async fn retention_keeps_the_chain_whole(store: &rampart_server::system::Store) {
    use rampart_server::system::audit::{AuditEvents, AuditHead, Verdict, append, purge, verify};
    let key = &chain_key();
    let intact = |checked: usize| Verdict::Intact {
        checked: u64::try_from(checked).unwrap(),
        unkeyed: 0,
    };
    store.migrate().await.unwrap();
    let mut events = chained_events(0, 12_500);
    append(store, key, &mut events).await.unwrap();
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(12_500));

    // Past the first purge transaction's 10,000 rows, and where a slow request's event
    // (begun 50 ms before its neighbours) is chained just after the boundary.
    let before = 11_500_500;
    let first_kept = events.iter().position(|e| e.ts >= before).unwrap();
    let purged = purge(store, key, before).await.unwrap();
    assert_eq!(purged, u64::try_from(first_kept).unwrap());
    let left = ids_and_times(store).await;
    assert_eq!(left.len(), 12_500 - first_kept);
    assert_eq!(left[0].0, events[first_kept].id);
    assert!(
        left.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "the chain left has no gap"
    );
    assert!(
        left.iter().any(|&(_, ts)| ts < before),
        "an event older than the boundary, chained after it, stays until the next purge"
    );
    assert!(
        events[..first_kept].iter().all(|e| e.ts < before),
        "nothing younger than the boundary went"
    );
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(left.len()));

    // The record of the purge, unsigned as a purge before purges were signed wrote it: taken
    // only within what the operator vouches for.
    let purged_through = left[0].0 - 1;
    let set_head = |id: i64, hash: String, mac: Option<String>| async move {
        let mut update = sea_query::Query::update();
        update
            .table(AuditHead::Table)
            .value(AuditHead::PurgedId, id)
            .value(AuditHead::PurgedHash, hash);
        if let Some(mac) = mac {
            update.value(AuditHead::PurgedMac, mac);
        }
        let mut tx = store.begin().await.unwrap();
        tx.execute(&update).await.unwrap();
        tx.commit().await.unwrap();
    };
    let first =
        &rampart_server::system::audit::page(store, sea_query::Condition::all(), true, 6, 0)
            .await
            .unwrap();
    set_head(
        purged_through,
        first[0].prev_hash.clone(),
        Some(String::new()),
    )
    .await;
    match verify(store, key, 0).await.unwrap() {
        Verdict::Broken { id, reason } => {
            assert_eq!(id, purged_through + 1);
            assert!(reason.contains("not signed"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        verify(store, key, purged_through).await.unwrap(),
        intact(left.len())
    );
    assert_eq!(
        rampart_server::system::audit::unsigned_purge(store)
            .await
            .unwrap(),
        Some(purged_through)
    );
    // Someone deletes the five oldest events and moves the record on, without the key.
    set_head(
        purged_through,
        first[0].prev_hash.clone(),
        Some(key.purge_mac(purged_through, &first[0].prev_hash)),
    )
    .await;
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(left.len()));
    for row in &first[..5] {
        behind_the_back(store, Some(row.id)).await;
    }
    set_head(first[4].id, first[4].hash.clone(), None).await;
    match verify(store, key, 0).await.unwrap() {
        Verdict::Broken { id, reason } => {
            assert_eq!(id, first[5].id);
            assert!(reason.contains("does not match its signature"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // Everything past retention: the chain is empty, then goes on.
    assert_eq!(
        purge(store, key, i64::MAX).await.unwrap(),
        u64::try_from(left.len() - 5).unwrap()
    );
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(0));
    let mut more = chained_events(20_000, 10);
    append(store, key, &mut more).await.unwrap();
    assert_eq!(more[0].id, 12_501, "ids go on from the last one written");
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(10));
    // The same batch again, as the writer retries one whose COMMIT went through but whose
    // answer was lost: it is stored once.
    append(store, key, &mut more).await.unwrap();
    assert_eq!((more[0].id, more[9].id), (12_501, 12_510));
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(10));

    // A row added behind Rampart's back, after the last one it wrote.
    let mut forged = chained_events(30_000, 1).remove(0);
    forged.id = 12_511;
    forged.prev_hash.clone_from(&more[9].hash);
    forged.hash = forged.digest(key, &mut Vec::new());
    let mut tx = store.begin().await.unwrap();
    tx.execute(
        &sea_query::Query::insert()
            .into_table(AuditEvents::Table)
            .columns([
                AuditEvents::Id,
                AuditEvents::Ts,
                AuditEvents::RequestId,
                AuditEvents::Kind,
                AuditEvents::Transport,
                AuditEvents::Principal,
                AuditEvents::Client,
                AuditEvents::Method,
                AuditEvents::Params,
                AuditEvents::Status,
                AuditEvents::LatencyUs,
                AuditEvents::PrevHash,
                AuditEvents::Hash,
            ])
            .values_panic([
                forged.id.into(),
                forged.ts.into(),
                forged.request_id.to_string().into(),
                forged.kind.to_string().into(),
                forged.transport.to_string().into(),
                forged.principal.to_string().into(),
                forged.client.to_string().into(),
                forged.method.to_string().into(),
                forged.params.to_string().into(),
                forged.status.into(),
                forged.latency_us.into(),
                forged.prev_hash.clone().into(),
                forged.hash.clone().into(),
            ])
            .to_owned(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(
        matches!(
            verify(store, key, 0).await.unwrap(),
            Verdict::Broken { id: 12_511, .. }
        ),
        "a row past the head is not the chain's"
    );
    behind_the_back(store, Some(12_511)).await;
    assert_eq!(verify(store, key, 0).await.unwrap(), intact(10));

    // Rows deleted behind Rampart's back are not a purge: the oldest …
    behind_the_back(store, Some(12_501)).await;
    assert!(
        matches!(
            verify(store, key, 0).await.unwrap(),
            Verdict::Broken { id: 12_502, .. }
        ),
        "the first row left does not follow the last one purged"
    );
    // … or all of them.
    behind_the_back(store, None).await;
    assert!(
        matches!(
            verify(store, key, 0).await.unwrap(),
            Verdict::Broken { id: 12_510, .. }
        ),
        "an emptied chain whose rows no purge removed"
    );
}

fn chain_key() -> rampart_server::system::audit::ChainKey {
    rampart_server::system::audit::ChainKey::new(
        &rampart_server::system::crypto::MasterKey::generate(),
    )
}

/// Gives the rows from `from` on the plain SHA-256 chain releases before the keyed chain
/// wrote (after `edit` of row `from`), and moves the head to the last: what someone with
/// write access to the store can do, and what a store kept from those releases holds.
async fn rechain_unkeyed(
    store: &rampart_server::system::Store,
    from: i64,
    edit: impl Fn(&mut rampart_server::system::audit::AuditRecord),
) {
    use rampart_server::system::audit::{AuditEvents, AuditRecord};
    use sea_query::{Alias, Expr, ExprTrait, Query};
    use sha2::Digest;
    let rows =
        rampart_server::system::audit::page(store, sea_query::Condition::all(), true, 100_000, 0)
            .await
            .unwrap();
    let mut tx = store.begin().await.unwrap();
    let mut prev = String::new();
    for mut row in rows {
        if row.id >= from {
            if row.id == from {
                edit(&mut row);
            }
            row.prev_hash = prev;
            let text = serde_json::to_vec(&AuditRecord {
                hash: String::new(),
                ..row.clone()
            })
            .unwrap();
            row.hash = sha2::Sha256::digest(&text)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            tx.execute(
                &Query::update()
                    .table(AuditEvents::Table)
                    .value(AuditEvents::Status, row.status)
                    .value(AuditEvents::PrevHash, row.prev_hash.as_str())
                    .value(AuditEvents::Hash, row.hash.as_str())
                    .and_where(Expr::col(AuditEvents::Id).eq(row.id))
                    .to_owned(),
            )
            .await
            .unwrap();
        }
        prev = row.hash;
    }
    tx.execute(
        &Query::update()
            .table(Alias::new("audit_head"))
            .value(Alias::new("hash"), prev.as_str())
            .to_owned(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The chain's hashes are keyed with the master key: an edit whose hashes are recomputed
/// (as anyone can for a plain hash chain) is caught, and so is a chain checked with another
/// key. A store kept from before the keyed chain verifies when told where its plain rows end.
#[tokio::test]
async fn rows_rehashed_without_the_key_are_caught() {
    use rampart_server::system::audit::{Verdict, append, verify};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = &rampart_server::system::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let key = chain_key();
    append(store, &key, &mut chained_events(0, 20))
        .await
        .unwrap();
    assert_eq!(
        verify(store, &key, 0).await.unwrap(),
        Verdict::Intact {
            checked: 20,
            unkeyed: 0
        }
    );
    assert!(
        matches!(
            verify(store, &chain_key(), 0).await.unwrap(),
            Verdict::Broken { id: 1, .. }
        ),
        "another master key's chain"
    );

    // Row 3 edited, and every hash from it on recomputed, the head's too.
    rechain_unkeyed(store, 3, |r| r.status = 403).await;
    for unkeyed_through in [0, 20] {
        match verify(store, &key, unkeyed_through).await.unwrap() {
            Verdict::Broken { id: 3, reason } => assert!(reason.contains("not keyed"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    // A store from before: plain rows 1 to 20, then keyed ones.
    rechain_unkeyed(store, 1, |_| {}).await;
    let unkeyed_end = rampart_server::system::audit::unkeyed_end;
    assert_eq!(
        unkeyed_end(store, &key).await.unwrap(),
        Some(20),
        "what the server names"
    );
    append(store, &key, &mut chained_events(20, 5))
        .await
        .unwrap();
    assert_eq!(unkeyed_end(store, &key).await.unwrap(), None);
    assert!(matches!(
        verify(store, &key, 0).await.unwrap(),
        Verdict::Broken { id: 1, .. }
    ));
    assert!(matches!(
        verify(store, &key, 19).await.unwrap(),
        Verdict::Broken { id: 20, .. }
    ));
    assert_eq!(
        verify(store, &key, 20).await.unwrap(),
        Verdict::Intact {
            checked: 25,
            unkeyed: 20
        }
    );
}

#[tokio::test]
async fn retention_keeps_the_chain_whole_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = rampart_server::system::Store::connect(&url).await.unwrap();
    retention_keeps_the_chain_whole(&store).await;
}

#[tokio::test]
async fn retention_keeps_the_chain_whole_on_postgres() {
    let db = TestDb::empty().await;
    let store = rampart_server::system::Store::connect(&db.url())
        .await
        .unwrap();
    retention_keeps_the_chain_whole(&store).await;
}

#[tokio::test]
async fn paths_with_escaped_letters_are_audited_as_the_paths_they_are() {
    // The router decodes `%61` to `a`; the audit trail must see the same path as the handler.
    let shop = Shop::new().await;
    let admin = &shop.admin;
    let role = admin
        .create_role("escaped", &[(shop.service_id, "_table/orders/*", 1)])
        .await;
    let r = admin
        .with_request_id("escaped-change")
        .patch(
            &format!("/%61pi/v2/sys%74em/role/{role}"),
            json!({"description": "changed through an escaped path"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = event_of(admin, "escaped-change").await;
    assert_eq!(e["kind"], "change");
    assert_eq!(e["service"], "system");
    assert_eq!(e["resource"], format!("role/{role}"));
    assert_eq!(
        e["changes"]["after"]["description"],
        "changed through an escaped path"
    );

    let r = Client::new(&shop.app)
        .with_request_id("escaped-sign-in")
        .post(
            "/api/v2/system/admin/sessio%6E",
            json!({"email": ADMIN_EMAIL, "password": "not-the-password-7"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        event_of(admin, "escaped-sign-in").await["kind"],
        "login_failed"
    );
}

#[tokio::test]
async fn a_nul_in_what_a_client_sent_never_stalls_the_trail_on_postgres() {
    // PostgreSQL's `text` refuses NUL; the e-mail of a failed sign-in is recorded as sent.
    let store = TestDb::empty().await;
    let app = spawn_with(&Options {
        env: vec![("RAMPART_SYSTEM_DATABASE_URL".into(), store.url())],
    });
    let admin = Client::admin(&app).await;
    let r = Client::new(&app)
        .with_request_id("nul-sign-in")
        .post(
            "/api/v2/system/admin/session",
            json!({"email": "mallory\u{0}@example.com", "password": "whatever-it-is-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let e = event_of(&admin, "nul-sign-in").await;
    assert_eq!(e["email"], "mallory\u{FFFD}@example.com");
    // A service name with a NUL in the path is a service that does not exist (the event
    // keeps the path's text as sent).
    let r = admin
        .with_request_id("nul-service")
        .get("/api/v2/db%00/_table/orders")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(event_of(&admin, "nul-service").await["service"], "db%00");
    // And the events after them are stored too.
    let r = admin
        .with_request_id("after-nul")
        .get("/api/v2/system/role")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    event_of(&admin, "after-nul").await;
    let out = app.run(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_request_its_client_abandons_is_audited_too() {
    // The handler is dropped with the connection: the event is still written, with 499.
    let shop = Shop::napping().await;
    let c = shop.client_with("sleeper", &[("_func/*", 3)]).await;
    let asleep = {
        let c = c.with_request_id("abandoned-nap");
        tokio::spawn(async move { c.get("/api/v2/db/_func/nap?s=600").await })
    };
    assert!(shop.wait_for_naps(true).await, "the statement started");
    asleep.abort();
    let e = event_of(&shop.admin, "abandoned-nap").await;
    assert_eq!(e["status"], 499);
    assert_eq!(e["error_code"], "client_closed_request");
    assert_eq!(e["kind"], "request");
    assert_eq!(e["principal"], "app");
    assert_eq!(e["service"], "db");
    assert_eq!(e["resource"], "_func/nap");
    assert_eq!(e["params"]["s"], "600");
    assert!(e["latency_us"].as_i64().unwrap() > 0);
}

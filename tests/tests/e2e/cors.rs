//! CORS entries at `/api/v2/system/cors`: a browser origin gets CORS headers only where an
//! enabled entry admits it; preflights are answered without credentials; bad entries are
//! refused with the reason; `rampart doctor` reports any origin with credentials.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::Shop;

const APP: &str = "https://app.example.com";

/// Sends a request from a browser page at `origin` (no credentials unless `key`).
async fn from(
    shop: &Shop,
    method: Method,
    path: &str,
    origin: &str,
    key: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", shop.app.base))
        .header("Origin", origin);
    if let Some(k) = key {
        req = req.header("X-DreamFactory-API-Key", k);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request")
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn add(shop: &Shop, entry: Value) -> i64 {
    let r = shop
        .admin
        .post("/api/v2/system/cors", json!({"resource": [entry]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["resource"][0]["id"].as_i64().expect("id")
}

#[tokio::test]
async fn only_admitted_origins_get_cors_headers() {
    let shop = Shop::new().await;
    let reader = shop.client_with("reader", &[("_table/orders/*", 1)]).await;
    let key = reader.api_key.clone().expect("key");
    let orders = "/api/v2/db/_table/orders?limit=1";

    // No entry: no CORS header for anyone (browsers keep the page out).
    let r = from(&shop, Method::GET, orders, APP, Some(&key), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "access-control-allow-origin"), None);

    let id = add(
        &shop,
        json!({"path": "api/v2/*", "origin": format!("{APP}, http://localhost:5173"),
            "header": "Content-Type, X-DreamFactory-API-Key", "exposed_header": "X-Request-Id",
            "max_age": 600, "method": ["GET", "POST"], "description": "the shop's web app"}),
    )
    .await;
    let listed = shop.admin.get("/api/v2/system/cors").await;
    assert_eq!(listed.body["resource"][0]["method"], json!(["GET", "POST"]));
    assert_eq!(listed.body["resource"][0]["enabled"], json!(true));

    // The preflight: answered before authentication, with what the entry allows.
    let r = from(
        &shop,
        Method::OPTIONS,
        orders,
        APP,
        None,
        &[
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-dreamfactory-api-key"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("GET, POST")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers").as_deref(),
        Some("Content-Type, X-DreamFactory-API-Key")
    );
    assert_eq!(header(&r, "access-control-max-age").as_deref(), Some("600"));
    assert_eq!(header(&r, "access-control-allow-credentials"), None);

    // The request itself: the origin echoed, the exposed header named, the answer unchanged.
    let r = from(&shop, Method::GET, orders, APP, Some(&key), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        header(&r, "access-control-expose-headers").as_deref(),
        Some("X-Request-Id")
    );
    assert!(header(&r, "vary").unwrap_or_default().contains("Origin"));
    // Errors carry the headers too, so the page can read why.
    let r = from(
        &shop,
        Method::GET,
        "/api/v2/db/_table/customers",
        APP,
        Some(&key),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(APP)
    );

    // Another origin, or a path the entry does not cover: nothing.
    for (origin, path) in [("https://evil.example", orders), (APP, "/health")] {
        let r = from(
            &shop,
            Method::OPTIONS,
            path,
            origin,
            None,
            &[("Access-Control-Request-Method", "GET")],
        )
        .await;
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            None,
            "{origin}{path}"
        );
        let r = from(&shop, Method::GET, path, origin, Some(&key), &[]).await;
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            None,
            "{origin}{path}"
        );
    }

    // Disabled, the entry admits no one; a change holds at once.
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/cors/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = from(&shop, Method::GET, orders, APP, Some(&key), &[]).await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    let r = shop
        .admin
        .delete(&format!("/api/v2/system/cors/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = shop.admin.get(&format!("/api/v2/system/cors/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn any_origin_without_credentials_is_a_star() {
    let shop = Shop::new().await;
    add(&shop, json!({"path": "*", "origin": "*", "method": "GET"})).await;
    let r = from(
        &shop,
        Method::GET,
        "/api/v2",
        "https://anyone.example",
        None,
        &[],
    )
    .await;
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(header(&r, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn bad_entries_are_refused_with_the_reason() {
    let shop = Shop::new().await;
    for (entry, says) in [
        (
            json!({"path": "*", "origin": "app.example.com"}),
            "is not an origin",
        ),
        (
            json!({"path": "*", "origin": "https://x.example/path"}),
            "is not an origin",
        ),
        (json!({"path": "", "origin": "*"}), "path"),
        (
            json!({"path": "*", "origin": "*", "method": ["TRACE"]}),
            "Unknown verb",
        ),
        (
            json!({"path": "*", "origin": "*", "method": 7}),
            "list of verbs",
        ),
        (
            json!({"path": "*", "origin": "*", "header": "X-Ok, Not A Header"}),
            "not a header name",
        ),
        (
            json!({"path": "*", "origin": "*", "max_age": -1}),
            "max_age",
        ),
    ] {
        let r = shop
            .admin
            .post("/api/v2/system/cors", json!({"resource": [entry.clone()]}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{entry}: {}", r.text);
        assert!(r.message().contains(says), "{entry}: {}", r.text);
    }
    let listed = shop.admin.get("/api/v2/system/cors").await;
    assert_eq!(listed.body["resource"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn any_origin_with_credentials_echoes_the_origin_and_doctor_reports_it() {
    let shop = Shop::new().await;
    let id = add(
        &shop,
        json!({"path": "api/v2/*", "origin": "*", "supports_credentials": true, "method": ["GET"]}),
    )
    .await;
    let r = from(
        &shop,
        Method::GET,
        "/api/v2",
        "https://anyone.example",
        None,
        &[],
    )
    .await;
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://anyone.example")
    );
    assert_eq!(
        header(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let out = shop.app.run(&["doctor", "--json"]);
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    assert!(
        findings
            .iter()
            .any(|f| f["check"] == "cors_any_origin_with_credentials"
                && f["severity"] == "high"
                && f["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&id.to_string())),
        "{findings:#?}"
    );
}

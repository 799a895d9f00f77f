//! Rate limits (`/api/v2/system/limit`): a limit of N per minute lets N requests through with
//! `X-RateLimit-*` headers and refuses the next with 429 and `Retry-After`; other callers and
//! sys-admins are not counted; two nodes sharing Redis enforce one budget.

use rampart_tests::app::two_nodes;
use rampart_tests::{Client, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

/// Waits, if needed, so the next few seconds stay inside one minute (limits count per
/// calendar minute; a test crossing into the next would start a fresh budget).
async fn inside_one_minute() {
    let into = chrono_seconds() % 60;
    if into > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - into)).await;
    }
}

fn chrono_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// GET `path` on `base` with `key`: (status, headers, body).
async fn get(base: &str, key: &str, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("X-DreamFactory-API-Key", key)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn a_limit_of_n_per_minute_refuses_request_n_plus_one_with_retry_after() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("reader", &[(shop.service_id, "_table/products/*", 1)])
        .await;
    let (app, key) = shop.admin.create_app("limited", Some(role)).await;
    let (_, other_key) = shop.admin.create_app("other", Some(role)).await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/limit",
            json!({"resource": [{"name": "three-a-minute", "type": "instance.app", "app_id": app,
                "rate": 3, "period": "minute"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let limit_id = r.body["resource"][0]["id"].as_i64().unwrap();
    let shown = shop
        .admin
        .get(&format!("/api/v2/system/limit/{limit_id}"))
        .await;
    assert_eq!(shown.body["period"], "minute", "{}", shown.text);
    assert_eq!(shown.body["type"], "instance.app");

    inside_one_minute().await;
    let base = &shop.app.base;
    for remaining in [2, 1, 0] {
        let (status, h, body) = get(base, &key, "/api/v2/db/_table/products?limit=1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(header(&h, "x-ratelimit-limit"), Some(3));
        assert_eq!(header(&h, "x-ratelimit-remaining"), Some(remaining));
        assert!(header(&h, "x-ratelimit-reset").is_some_and(|r| (1..=60).contains(&r)));
    }
    let (status, h, body) = get(base, &key, "/api/v2/db/_table/products?limit=1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry = header(&h, "retry-after").expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(body["error"]["message"], "API limit(s) exceeded.");
    assert_eq!(
        body["error"]["context"],
        json!([{"id": limit_id, "name": "three-a-minute"}])
    );
    assert_eq!(header(&h, "x-ratelimit-remaining"), Some(0));

    // Another app is not counted against it.
    let (status, h, _) = get(base, &other_key, "/api/v2/db/_table/products?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.get("x-ratelimit-limit").is_none(), "no limit applies");

    // A limit on the whole instance counts everyone but sys-admins.
    let r = shop
        .admin
        .post(
            "/api/v2/system/limit",
            json!({"resource": [{"name": "instance-two", "type": "instance", "rate": 2, "period": "minute"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let instance = r.body["resource"][0]["id"].as_i64().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            get(base, &other_key, "/api/v2/db/_table/products?limit=1")
                .await
                .0,
        );
    }
    assert_eq!(
        statuses,
        vec![
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    for _ in 0..4 {
        assert_eq!(
            shop.admin.get("/api/v2/system/limit").await.status,
            StatusCode::OK,
            "sys-admins are never limited"
        );
    }
    let r = shop
        .admin
        .delete(&format!("/api/v2/system/limit/{instance}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Deactivating the limit lifts it at once.
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/limit/{limit_id}"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (status, _, _) = get(base, &key, "/api/v2/db/_table/products?limit=1").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn limits_name_what_they_count_and_bad_ones_are_refused() {
    let shop = Shop::new().await;
    for (limit, says) in [
        (
            json!({"name": "a", "type": "instance.user", "rate": 3}),
            "user_id",
        ),
        (
            json!({"name": "b", "type": "instance.everything", "rate": 3}),
            "Unknown limit type",
        ),
        (json!({"name": "c", "type": "instance", "rate": 0}), "rate"),
        (
            json!({"name": "d", "type": "instance", "rate": 3, "period": "fortnight"}),
            "period",
        ),
        (
            json!({"name": "e", "type": "instance", "rate": 3, "verb": "TRACE"}),
            "verb",
        ),
        (
            json!({"name": "f", "type": "instance.service.endpoint", "rate": 3, "service_id": shop.service_id}),
            "endpoint",
        ),
    ] {
        let r = shop
            .admin
            .post("/api/v2/system/limit", json!({"resource": [limit]}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{limit}: {}", r.text);
        assert!(r.message().contains(says), "{limit}: {}", r.text);
    }
    let none = shop.admin.get("/api/v2/system/limit").await;
    assert_eq!(none.body["resource"], json!([]), "nothing half-written");
}

#[tokio::test]
async fn an_endpoint_limit_counts_only_that_endpoint_and_verb() {
    let shop = Shop::new().await;
    let role = shop
        .admin
        .create_role("reader", &[(shop.service_id, "_table/*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("reader-app", Some(role)).await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/limit",
            json!({"resource": [{"name": "orders-get",
        "type": "instance.service.endpoint", "service_id": shop.service_id,
        "endpoint": "_table/orders*", "verb": "GET", "rate": 1, "period": "minute"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    inside_one_minute().await;
    let base = &shop.app.base;
    assert_eq!(
        get(base, &key, "/api/v2/db/_table/orders").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(base, &key, "/api/v2/db/_table/orders/1").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The same endpoint under escaped letters, and a GET tunnelled through POST: counted.
    assert_eq!(
        get(base, &key, "/api/v2/%64b/_table/%6Frders/1").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let tunnelled = reqwest::Client::new()
        .post(format!("{base}/api/v2/db/_table/orders"))
        .header("X-DreamFactory-Api-Key", &key)
        .header("X-HTTP-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(tunnelled.status(), StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..3 {
        assert_eq!(
            get(base, &key, "/api/v2/db/_table/products").await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn two_nodes_sharing_redis_enforce_one_budget() {
    let store = TestDb::empty().await;
    let data = TestDb::shop().await;
    // A master key of their own: the counters' namespace derives from it.
    let (a, b) = two_nodes(
        &store,
        &[("RAMPART_RATE_LIMIT__REDIS_URL", "redis://127.0.0.1:6379/0")],
    );
    let admin = Client::admin(&a).await;
    let service = admin.create_service("db", data.service_config()).await;
    let role = admin
        .create_role("reader", &[(service, "_table/products/*", 1)])
        .await;
    let (app, key) = admin.create_app("shared", Some(role)).await;
    let r = admin
        .post(
            "/api/v2/system/limit",
            json!({"resource": [{"name": "four", "type": "instance.app", "app_id": app, "rate": 4, "period": "minute"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // B reads the limits at its first request (and again after every change, within 250 ms).
    inside_one_minute().await;
    let path = "/api/v2/db/_table/products?limit=1";
    let mut remaining = Vec::new();
    for node in [&a, &b, &a, &b] {
        let (status, h, body) = get(&node.base, &key, path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        remaining.push(header(&h, "x-ratelimit-remaining").unwrap());
    }
    assert_eq!(remaining, vec![3, 2, 1, 0], "one budget across both nodes");
    for node in [&a, &b] {
        assert_eq!(
            get(&node.base, &key, path).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

/// With Redis unreachable (nothing listens where it should), limited requests go on, not
/// counted: limits protect capacity, and a missing counter store must not take the API down.
#[tokio::test]
async fn limited_requests_go_on_uncounted_while_redis_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shop = Shop::with(&rampart_tests::Options {
        env: vec![(
            "RAMPART_RATE_LIMIT__REDIS_URL".into(),
            format!("redis://127.0.0.1:{closed}/0"),
        )],
    })
    .await;
    let role = shop
        .admin
        .create_role("reader", &[(shop.service_id, "_table/products/*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("reader", Some(role)).await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/limit",
            json!({"resource": [{"name": "one", "type": "instance", "rate": 1, "period": "minute"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for _ in 0..4 {
        let (status, h, body) =
            get(&shop.app.base, &key, "/api/v2/db/_table/products?limit=1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(h.get("x-ratelimit-limit").is_none(), "not counted");
    }
    assert!(
        shop.app.log().contains("rate-limit counters unavailable"),
        "{}",
        shop.app.log()
    );
}

/// A request refused by one limit spends no other: an app over its own limit does not use
/// up the instance's budget for everyone else.
async fn a_refused_request_spends_no_other_limits_budget(env: Vec<(String, String)>) {
    let shop = Shop::with(&rampart_tests::Options { env }).await;
    let role = shop
        .admin
        .create_role("reader", &[(shop.service_id, "_table/products/*", 1)])
        .await;
    let (noisy, noisy_key) = shop.admin.create_app("noisy", Some(role)).await;
    let (_, quiet_key) = shop.admin.create_app("quiet", Some(role)).await;
    for (name, kind, app, rate) in [
        ("instance-five", "instance", None, 5),
        ("noisy-two", "instance.app", Some(noisy), 2),
    ] {
        let r = shop
            .admin
            .post(
                "/api/v2/system/limit",
                json!({"resource": [{"name": name, "type": kind, "app_id": app, "rate": rate, "period": "minute"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    inside_one_minute().await;
    let path = "/api/v2/db/_table/products?limit=1";
    let mut statuses = Vec::new();
    for key in [&noisy_key; 6].into_iter().chain([&quiet_key; 4]) {
        statuses.push(get(&shop.app.base, key, path).await.0.as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 429, 429, 429, 429, 200, 200, 200, 429],
        "the instance's five: two for the noisy app, three left for the quiet one"
    );
}

#[tokio::test]
async fn a_refused_request_spends_no_other_limits_budget_in_memory() {
    a_refused_request_spends_no_other_limits_budget(Vec::new()).await;
}

#[tokio::test]
async fn a_refused_request_spends_no_other_limits_budget_in_redis() {
    a_refused_request_spends_no_other_limits_budget(vec![(
        "RAMPART_RATE_LIMIT__REDIS_URL".into(),
        "redis://127.0.0.1:6379/0".into(),
    )])
    .await;
}

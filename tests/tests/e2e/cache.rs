//! The response cache of a service that opts in: a repeated read is answered from the cache
//! (even when the database changed behind Rampart's back, within the TTL), never across roles,
//! and a write through Rampart ends it at once; tables not opted in are never cached.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Executor;

use crate::fixture::Shop;

/// GET with a key: (status, X-Rampart-Cache, body).
async fn get(base: &str, key: &str, path: &str) -> (StatusCode, Option<String>, Value) {
    let res = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("X-DreamFactory-API-Key", key)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let cache = res
        .headers()
        .get("x-rampart-cache")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, cache, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn cached_reads_are_per_role_and_end_with_a_write_through_rampart() {
    let shop = Shop::new().await;
    let mut config = shop.db.service_config();
    config["cache"] = json!({"ttl_seconds": 300, "tables": ["products"]});
    let service = shop.admin.create_service("cached", config).await;
    let (_, all) = {
        let role = shop
            .admin
            .create_role("all-products", &[(service, "_table/*", 31)])
            .await;
        shop.admin.create_app("all-app", Some(role)).await
    };
    let r = shop
        .admin
        .post(
            "/api/v2/system/role",
            json!({"resource": [{"name": "cheap-products",
        "role_service_access_by_role_id": [{"service_id": service, "component": "_table/products/*",
            "verb_mask": 1, "filters": "price < 20"}]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cheap_role = r.body["resource"][0]["id"].as_i64().unwrap();
    let (_, cheap) = shop.admin.create_app("cheap-app", Some(cheap_role)).await;
    let base = &shop.app.base;
    let path = "/api/v2/cached/_table/products?order=id&fields=id,name,price";

    // The service is connected (and its schema read) by a first request, and then the system
    // changes once more through this node.
    assert_eq!(
        get(base, &all, "/api/v2/cached/_table/orders").await.0,
        StatusCode::OK
    );
    shop.admin.create_app("bystander", None).await;
    let (status, cache, first) = get(base, &all, path).await;
    assert_eq!(
        (status, cache.as_deref()),
        (StatusCode::OK, Some("miss")),
        "{first}"
    );
    let (_, cache, again) = get(base, &all, path).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(again, first);

    // Another role asking the same thing gets its own answer.
    let (_, cache, theirs) = get(base, &cheap, path).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_ne!(
        theirs, first,
        "the row filter applies: never another role's answer"
    );
    assert!(
        theirs["resource"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["price"]
                .as_f64()
                .or_else(|| p["price"].as_str().and_then(|s| s.parse().ok()))
                .is_some_and(|price| price < 20.0)),
        "{theirs}"
    );

    // This node's own change watcher has looked by now (every 250 ms): the changes made
    // through this node above (apps, roles) do not empty the cache a second time.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    // A change behind Rampart's back is not seen within the TTL (the cache answers) …
    let mut conn = shop.db.connect().await;
    conn.execute("UPDATE products SET name = 'renamed behind the back' WHERE id = 1")
        .await
        .unwrap();
    let (_, cache, stale) = get(base, &all, path).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(stale, first);
    // … but a write through Rampart ends every cached answer of the service.
    let r = reqwest::Client::new()
        .patch(format!("{base}/api/v2/cached/_table/products/2"))
        .header("X-DreamFactory-API-Key", &all)
        .json(&json!({"name": "renamed through rampart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, cache, fresh) = get(base, &all, path).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    let names: Vec<&str> = fresh["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"renamed behind the back"), "{names:?}");
    assert!(names.contains(&"renamed through rampart"), "{names:?}");

    // Parameters in a body make another question than the URL's: never cached, never answered
    // from the cache.
    let bodied = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("X-DreamFactory-Api-Key", &all)
        .json(&json!({"filter": "price < 0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bodied.status(), StatusCode::OK);
    assert_eq!(bodied.headers().get("x-rampart-cache"), None);
    assert_eq!(bodied.json::<Value>().await.unwrap()["resource"], json!([]));
    let (_, cache, plain) = get(base, &all, path).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(
        plain, fresh,
        "the body's answer was not stored under the URL"
    );
    // A repeated parameter acts by its first value: another order is another question.
    let (_, _, one) = get(base, &all, &format!("{path}&filter=id%3D1&filter=id%3D2")).await;
    let (_, _, two) = get(base, &all, &format!("{path}&filter=id%3D2&filter=id%3D1")).await;
    assert_ne!(one, two);

    // Tables not opted in are never cached.
    let (status, cache, _) = get(base, &all, "/api/v2/cached/_table/orders").await;
    assert_eq!((status, cache), (StatusCode::OK, None));

    // A role change empties the cache too.
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{cheap_role}"),
            json!({"description": "changed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (_, cache, _) = get(base, &cheap, path).await;
    assert_eq!(cache.as_deref(), Some("miss"));
}

/// Two nodes sharing a PostgreSQL store: a write through one ends the other's cached answers
/// of that service (announced with `NOTIFY`), long before their TTL.
#[tokio::test]
async fn a_write_through_one_node_ends_the_cached_answers_of_the_other() {
    let store = rampart_tests::TestDb::empty().await;
    let data = rampart_tests::TestDb::shop().await;
    let (a, b) = rampart_tests::app::two_nodes(&store, &[]);
    let admin = rampart_tests::Client::admin(&a).await;
    let mut config = data.service_config();
    config["cache"] = json!({"ttl_seconds": 3600, "tables": ["products"]});
    let service = admin.create_service("cached", config).await;
    let role = admin
        .create_role("all-products", &[(service, "_table/*", 31)])
        .await;
    let (_, key) = admin.create_app("all-app", Some(role)).await;
    let path = "/api/v2/cached/_table/products?order=id&fields=id,price&limit=1";

    // B caches its answer (once it has seen the service and the app).
    let mut cached = None;
    for _ in 0..100 {
        let (status, cache, body) = get(&b.base, &key, path).await;
        if status == StatusCode::OK && cache.as_deref() == Some("hit") {
            cached = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let cached = cached.expect("B answers from its cache");
    let id = cached["resource"][0]["id"].as_i64().unwrap();

    // A write through A.
    let r = reqwest::Client::new()
        .patch(format!("{}/api/v2/cached/_table/products/{id}", a.base))
        .header("X-DreamFactory-API-Key", &key)
        .json(&json!({"price": 4321}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // B's next answers show it, within moments rather than the hour its cache keeps them.
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = get(&b.base, &key, path).await.2;
        if seen["resource"][0]["price"].as_f64() == Some(4321.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["resource"][0]["price"].as_f64(),
        Some(4321.0),
        "{seen}"
    );
}

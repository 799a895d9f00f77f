//! The system store on PostgreSQL: the same walk-through as on SQLite, and secrets encrypted.

use rampart_tests::app::{Options, spawn_with};
use rampart_tests::{Client, TestDb};
use reqwest::StatusCode;
use sqlx::Row;

#[tokio::test]
async fn a_postgres_system_store_serves_the_same_api() {
    let store = TestDb::empty().await;
    let data = TestDb::shop().await;
    let app = spawn_with(&Options {
        env: vec![("RAMPART_SYSTEM_DATABASE_URL".into(), store.url())],
    });
    let admin = Client::admin(&app).await;
    let service = admin.create_service("db", data.service_config()).await;
    let role = admin
        .create_role("orders", &[(service, "_table/orders/*", 1)])
        .await;
    let (_, key) = admin.create_app("pg-app", Some(role)).await;
    let r = admin
        .with_key(&key)
        .get_with(
            "/api/v2/db/_table/orders",
            &[("filter", "total > 200"), ("fields", "id"), ("order", "id")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["resource"],
        serde_json::json!([{"id": 4}, {"id": 5}])
    );

    let mut conn = store.connect().await;
    let config: String = sqlx::query("SELECT config FROM services WHERE type <> 'system'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert!(
        config.contains("enc:v1:") && !config.contains("unused-with-trust-auth"),
        "{config}"
    );
    let hashes: i64 = sqlx::query("SELECT count(*) FROM apps WHERE api_key_hash = $1")
        .bind(&key)
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(hashes, 0, "the key itself is not stored");
    drop(app);
}

fn two_instances(store: &TestDb) -> (rampart_tests::TestApp, rampart_tests::TestApp) {
    rampart_tests::app::two_nodes(store, &[])
}

/// Whether a request stops being accepted within five seconds (instances learn of each
/// other's changes at their next change check).
async fn refused_soon(client: &Client, path: &str) -> bool {
    for _ in 0..50 {
        if client.get(path).await.status == StatusCode::UNAUTHORIZED {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_session_ended_on_one_instance_ends_on_every_instance() {
    let store = TestDb::empty().await;
    let (a, b) = two_instances(&store);
    let admin_a = Client::admin(&a).await;
    let r = admin_a
        .post(
            "/api/v2/system/user",
            serde_json::json!({"email": "jane@example.com", "password": "violet-otter-harbour"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let jane_id = r.body["resource"][0]["id"].as_i64().unwrap();
    let sign_in = || async {
        let (r, s) = Client::new(&a)
            .sign_in("jane@example.com", "violet-otter-harbour")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        s.unwrap()
    };
    // A session from A works on B (shared keys); logging out on A ends it on B.
    let on_a = sign_in().await;
    let token = on_a.token.clone().unwrap();
    let on_b = Client::new(&b).with_token(&token);
    assert_eq!(
        on_b.get("/api/v2/user/session").await.status,
        StatusCode::OK
    );
    assert_eq!(
        on_a.delete("/api/v2/user/session").await.status,
        StatusCode::OK
    );
    assert!(
        refused_soon(&on_b, "/api/v2/user/session").await,
        "logout holds on B"
    );

    // Disabling the user on A ends their session on B, which had it cached.
    let on_b = Client::new(&b).with_token(&sign_in().await.token.unwrap());
    assert_eq!(
        on_b.get("/api/v2/user/session").await.status,
        StatusCode::OK
    );
    let r = admin_a
        .patch(
            &format!("/api/v2/system/user/{jane_id}"),
            serde_json::json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        refused_soon(&on_b, "/api/v2/user/session").await,
        "the disable holds on B"
    );
}

/// A service changed through one instance is served as changed by the others: its handle,
/// with its connections, login, TLS and limits, is made again from what was stored. Here
/// the change is its `max_records`.
#[tokio::test]
async fn a_service_changed_on_one_instance_changes_on_every_instance() {
    let store = TestDb::empty().await;
    let data = TestDb::shop().await;
    let (a, b) = two_instances(&store);
    let admin_a = Client::admin(&a).await;
    let service = admin_a.create_service("db", data.service_config()).await;
    let role = admin_a
        .create_role("orders", &[(service, "_table/orders/*", 1)])
        .await;
    let (_, key) = admin_a.create_app("orders-app", Some(role)).await;
    let on_b = Client::new(&b).with_key(&key);
    let listed = || async {
        let r = on_b
            .get_with("/api/v2/db/_table/orders", &[("fields", "id")])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["resource"].as_array().unwrap().len()
    };
    assert!(listed().await > 2, "B serves the whole table first");

    let mut config = data.service_config();
    config["max_records"] = serde_json::json!(2);
    let r = admin_a
        .patch(
            &format!("/api/v2/system/service/{service}"),
            serde_json::json!({ "config": config }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut seen = 0;
    for _ in 0..50 {
        seen = listed().await;
        if seen == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 2, "B applies the service's new max_records");
}

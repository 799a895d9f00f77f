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
    let config: String = sqlx::query("SELECT config FROM services")
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

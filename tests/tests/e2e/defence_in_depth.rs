//! Defence in depth inside PostgreSQL: a Rampart role mapped to a database role runs its
//! statements as that role (`SET LOCAL ROLE` through `set_config`), with the principal exposed
//! as settings, so a native row-level security policy restricts rows too.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Executor};

use crate::fixture::Shop;

#[tokio::test]
async fn a_native_rls_policy_on_rampart_user_id_restricts_rows() {
    let shop = Shop::new().await;
    let db_role = format!(
        "rampart_rls_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut conn = shop.db.connect().await;
    for stmt in [
        format!("CREATE ROLE {db_role} NOLOGIN"),
        format!("GRANT USAGE ON SCHEMA public TO {db_role}"),
        format!("GRANT SELECT ON customers TO {db_role}"),
        "ALTER TABLE customers ENABLE ROW LEVEL SECURITY".to_owned(),
        format!(
            "CREATE POLICY own_rows ON customers FOR SELECT TO {db_role} USING (id = NULLIF(current_setting('rampart.user_id', true), '')::int)"
        ),
    ] {
        conn.execute(sqlx::AssertSqlSafe(stmt)).await.unwrap();
    }

    let mut config = shop.db.service_config();
    config["db_role_map"] = json!({"rls-reader": db_role});
    let service = shop.admin.create_service("rls", config).await;
    let role = shop
        .admin
        .create_role("rls-reader", &[(service, "_table/customers/*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("rls-app", Some(role)).await;

    // The admin (user id 1) calls with the app's key: Rampart's role grants every customer,
    // PostgreSQL's policy keeps only the row whose id is the caller's user id.
    let mut as_admin = shop.admin.clone();
    as_admin.api_key = Some(key.clone());
    let r = as_admin
        .get_with("/api/v2/rls/_table/customers", &[("fields", "id")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["resource"], json!([{"id": 1}]));

    // With the key alone there is no user: the policy yields nothing.
    let key_only = shop
        .admin
        .with_key(&key)
        .get("/api/v2/rls/_table/customers")
        .await;
    assert_eq!(key_only.body["resource"], json!([]), "{}", key_only.text);

    // The same database, unmapped, still sees every row: the restriction came from the role.
    let plain = shop
        .client_with("plain", &[("_table/customers/*", 1)])
        .await;
    assert_eq!(
        plain.get("/api/v2/db/_table/customers").await.body["resource"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP POLICY own_rows ON customers; DROP OWNED BY {db_role}"
    )))
    .await
    .unwrap();
    drop(shop);
    let mut admin = sqlx::PgConnection::connect(&rampart_tests::pg::admin_url())
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP ROLE IF EXISTS {db_role}"
        )))
        .await
        .unwrap();
}

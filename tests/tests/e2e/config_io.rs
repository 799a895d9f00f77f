//! Configuration as code: an export holds the services and roles without any secret, and
//! importing it into another server recreates them (the service connects, the role's access
//! rows, field rules and lookups are the same); importing again is idempotent, and a bad
//! document changes nothing.

use rampart_tests::{Client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

/// Keys that differ between two servers for the same configuration.
fn comparable(mut doc: Value) -> Value {
    doc.as_object_mut().unwrap().remove("exported_at");
    doc
}

#[tokio::test]
async fn an_export_recreates_services_and_roles_elsewhere_without_secrets() {
    let shop = Shop::new().await;
    let r = shop.admin.post("/api/v2/system/role", json!({"resource": [{"name": "support",
        "description": "reads customers of its tenant",
        "role_service_access_by_role_id": [{"service_id": shop.service_id, "component": "_table/customers/*",
            "verb_mask": 1, "filters": "tenant_id = {tenant}", "field_rules": {"ssn": {"mask": "last4"}}}],
        "lookup_by_role_id": [{"name": "tenant", "value": "1"},
                              {"name": "vault", "value": "private-lookup-secret", "private": true}]}]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let export = shop.admin.get("/api/v2/system/export").await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert_eq!(export.body["format"], "rampart-config");
    assert_eq!(export.body["services"][0]["name"], "db");
    assert!(
        export.body["services"][0]["config"]
            .get("password")
            .is_none()
    );
    assert!(!export.text.contains("private-lookup-secret"));
    assert!(!export.text.contains("unused-with-trust-auth"));
    let role = &export.body["roles"][0];
    assert_eq!(role["access"][0]["service"], "db");
    assert_eq!(
        role["access"][0]["field_rules"],
        json!({"ssn": {"mask": "last4"}})
    );

    // Another server: a dry run says what would happen and does nothing.
    let other = spawn_app();
    let admin = Client::admin(&other).await;
    let dry = admin
        .post("/api/v2/system/import?dry_run=true", export.body.clone())
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
    assert_eq!(
        dry.body["created"],
        json!([{"service": "db"}, {"role": "support"}])
    );
    assert_eq!(
        admin.get("/api/v2/system/role").await.body["resource"],
        json!([])
    );

    let done = admin
        .post("/api/v2/system/import", export.body.clone())
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let again = admin.get("/api/v2/system/export").await;
    assert_eq!(
        comparable(again.body.clone()),
        comparable(export.body.clone())
    );
    // The recreated role works: masked, filtered by its lookup.
    let role_id = admin.get("/api/v2/system/role").await.body["resource"][0]["id"].clone();
    let (_, key) = admin.create_app("support-app", role_id.as_i64()).await;
    let rows = admin
        .with_key(&key)
        .get("/api/v2/db/_table/customers?fields=tenant_id,ssn")
        .await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    let rows = rows.body["resource"].as_array().unwrap().clone();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["tenant_id"] == 1), "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["ssn"].is_null() || r["ssn"].as_str().unwrap().starts_with("***")),
        "{rows:?}"
    );

    // Importing the same file again changes nothing.
    let twice = admin
        .post("/api/v2/system/import", export.body.clone())
        .await;
    assert_eq!(twice.status, StatusCode::OK, "{}", twice.text);
    assert_eq!(twice.body["created"], json!([]));
    let after = admin.get("/api/v2/system/export").await;
    assert_eq!(comparable(after.body), comparable(export.body.clone()));

    // A document naming a service it does not define is refused whole.
    let mut bad = export.body.clone();
    bad["roles"][0]["name"] = json!("auditors");
    bad["roles"][0]["access"][0]["service"] = json!("nowhere");
    let r = admin.post("/api/v2/system/import", bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.message().contains("nowhere"), "{}", r.text);
    let roles: Vec<Value> = admin.get("/api/v2/system/role").await.body["resource"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(roles.len(), 1, "nothing half-applied: {roles:?}");
    let r = admin
        .post("/api/v2/system/import", json!({"services": []}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("rampart-config"), "{}", r.text);
}

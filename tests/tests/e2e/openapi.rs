//! OpenAPI documents: per service (`/_spec`) and combined, pruned to the caller's role,
//! valid OpenAPI 3.1 (checked with `openapi-spec-validator`), and Swagger UI served offline.

use reqwest::StatusCode;

use crate::fixture::Shop;

/// Validates a document with the Python `openapi-spec-validator` (installed by `.ci/run`).
fn validate(doc: &serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "openapi-spec-validator failed (install it with `pip install openapi-spec-validator`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_services_spec_is_pruned_to_the_role_and_valid() {
    let shop = Shop::new().await;
    let c = shop
        .client_with("orders-reader", &[("_table/orders/*", 1)])
        .await;
    let spec = c.get("/api/v2/db/_spec").await;
    assert_eq!(spec.status, StatusCode::OK, "{}", spec.text);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths: Vec<&String> = spec.body["paths"].as_object().unwrap().keys().collect();
    assert!(
        paths
            .iter()
            .any(|p| p.as_str() == "/api/v2/db/_table/orders"),
        "{paths:?}"
    );
    assert!(
        !spec.text.contains("customers"),
        "tables the role cannot see are absent"
    );
    assert!(!spec.text.contains("ssn"));
    assert!(
        spec.body["paths"]["/api/v2/db/_table/orders"]
            .get("post")
            .is_none(),
        "verbs the role lacks are absent"
    );
    validate(&spec.body);

    let admin_role = shop.client_with("all", &[("*", 31)]).await;
    let full = admin_role.get("/api/v2/db/_spec").await;
    assert!(full.text.contains("customers"));
    validate(&full.body);
}

#[tokio::test]
async fn swagger_ui_and_the_combined_document_are_served_without_network() {
    let shop = Shop::new().await;
    let anon = rampart_tests::Client::new(&shop.app);
    let ui = anon.get("/api/docs/").await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(
        ui.text.contains("swagger"),
        "{}",
        &ui.text[..ui.text.len().min(200)]
    );
    let public = anon.get("/api/docs/openapi.json").await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.text.contains("/api/v2/system/admin/session"));
    assert!(
        !public.text.contains("/api/v2/db/"),
        "an anonymous caller sees no service"
    );
    validate(&public.body);
    let c = shop
        .client_with("orders-reader", &[("_table/orders/*", 1)])
        .await;
    let mine = c.get("/api/docs/openapi.json").await;
    assert!(mine.text.contains("/api/v2/db/_table/orders"));
    validate(&mine.body);
}

#[tokio::test]
async fn a_roles_spec_omits_hidden_fields_and_marks_masked_ones() {
    let shop = Shop::new().await;
    let r = shop
        .admin
        .post(
            "/api/v2/system/role",
            serde_json::json!({"name": "masked-docs", "role_service_access_by_role_id": [
                {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
                 "field_rules": {"email": "hidden", "ssn": {"mask": "last4"}}}]}),
        )
        .await;
    let role = r.body["resource"][0]["id"].as_i64().unwrap();
    let (_, key) = shop.admin.create_app("masked-docs-app", Some(role)).await;
    let spec = shop.admin.with_key(&key).get("/api/v2/db/_spec").await;
    assert_eq!(spec.status, StatusCode::OK);
    let schemas = spec.body["components"]["schemas"].as_object().unwrap();
    let customers = schemas
        .iter()
        .find(|(name, _)| name.ends_with("customers"))
        .map(|(_, s)| s)
        .expect("customers schema");
    let props = customers["properties"].as_object().unwrap();
    assert!(!props.contains_key("email"), "hidden fields are absent");
    assert!(
        props["ssn"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Masked"),
        "{}",
        props["ssn"]
    );
    validate(&spec.body);
}

/// Every route of the system API is in the document, with its verb: the console and other
/// clients are built from it.
#[tokio::test]
async fn every_system_route_is_documented() {
    let shop = Shop::new().await;
    let doc = shop.admin.get("/api/docs/openapi.json").await.body;
    let mut missing = Vec::new();
    for (method, path) in rampart_server::http::routes::ROUTES {
        if !path.starts_with("/api/v2/system") {
            continue;
        }
        let documented = doc["paths"][*path]
            .get(method.to_ascii_lowercase())
            .is_some();
        if !documented {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}

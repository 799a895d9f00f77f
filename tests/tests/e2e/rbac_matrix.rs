//! The authorization matrix: every route in `http::routes::ROUTES` has an expected answer
//! for an anonymous caller, and the test fails when a route is added without one. Keeps
//! deny-by-default honest as routes grow.

use rampart_server::http::routes::ROUTES;
use rampart_tests::{Client, spawn_app};
use reqwest::{Method, StatusCode};

/// What an anonymous caller gets on each route.
const ANONYMOUS: &[(&str, &str, u16)] = &[
    ("GET", "/health", 200),
    // The console's files are public (it signs in like any client); deep links get index.html.
    ("GET", "/admin", 200),
    ("GET", "/admin/{path:.*}", 200),
    ("GET", "/ready", 200),
    ("GET", "/metrics", 200),
    ("GET", "/api/docs/", 200),
    ("GET", "/api/docs/openapi.json", 200),
    ("GET", "/api/v2", 200),
    ("GET", "/api/v2/system/environment", 200),
    ("GET", "/api/v2/system/audit", 401),
    ("GET", "/api/v2/system/export", 401),
    ("POST", "/api/v2/system/import", 401),
    ("GET", "/api/v2/system/limit", 401),
    ("POST", "/api/v2/system/limit", 401),
    ("GET", "/api/v2/system/limit/{id}", 401),
    ("PATCH", "/api/v2/system/limit/{id}", 401),
    ("PUT", "/api/v2/system/limit/{id}", 401),
    ("DELETE", "/api/v2/system/limit/{id}", 401),
    ("POST", "/api/v2/system/service/test", 401),
    ("GET", "/api/v2/system/service/{id}/schema", 401),
    ("POST", "/api/v2/system/service/{id}/test-login", 401),
    ("GET", "/api/v2/system/lookup", 401),
    ("POST", "/api/v2/system/lookup", 401),
    ("GET", "/api/v2/system/lookup/{id}", 401),
    ("PATCH", "/api/v2/system/lookup/{id}", 401),
    ("PUT", "/api/v2/system/lookup/{id}", 401),
    ("DELETE", "/api/v2/system/lookup/{id}", 401),
    ("GET", "/api/v2/system/cors", 401),
    ("POST", "/api/v2/system/cors", 401),
    ("GET", "/api/v2/system/cors/{id}", 401),
    ("PATCH", "/api/v2/system/cors/{id}", 401),
    ("PUT", "/api/v2/system/cors/{id}", 401),
    ("DELETE", "/api/v2/system/cors/{id}", 401),
    ("POST", "/api/v2/user/session", 400),
    ("GET", "/api/v2/user/session", 400),
    ("PUT", "/api/v2/user/session", 400),
    ("PATCH", "/api/v2/user/session", 400),
    ("DELETE", "/api/v2/user/session", 400),
    ("GET", "/api/v2/user/profile", 400),
    ("POST", "/api/v2/user/profile", 400),
    ("PUT", "/api/v2/user/profile", 400),
    ("PATCH", "/api/v2/user/profile", 400),
    ("POST", "/api/v2/user/password", 400),
    ("PUT", "/api/v2/user/password", 400),
    ("PATCH", "/api/v2/user/password", 400),
    ("POST", "/api/v2/user/register", 403),
    ("GET", "/api/v2/system/oauth_client", 401),
    ("POST", "/api/v2/system/oauth_client", 401),
    ("GET", "/api/v2/system/oauth_client/{id}", 401),
    ("PATCH", "/api/v2/system/oauth_client/{id}", 401),
    ("PUT", "/api/v2/system/oauth_client/{id}", 401),
    ("DELETE", "/api/v2/system/oauth_client/{id}", 401),
    ("GET", "/api/v2/system/oauth_grant", 401),
    ("DELETE", "/api/v2/system/oauth_grant/{id}", 401),
    ("GET", "/api/v2/user/oauth_grant", 401),
    ("DELETE", "/api/v2/user/oauth_grant/{id}", 401),
    ("GET", "/.well-known/oauth-protected-resource", 200),
    ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
    ("GET", "/.well-known/oauth-authorization-server", 200),
    ("GET", "/.well-known/oauth-authorization-server/oauth", 200),
    ("GET", "/.well-known/openid-configuration", 200),
    ("GET", "/.well-known/openid-configuration/oauth", 200),
    ("GET", "/oauth/.well-known/openid-configuration", 200),
    ("GET", "/oauth/authorize", 400),
    ("POST", "/oauth/authorize/sign-in", 400),
    ("GET", "/oauth/authorize/external", 400),
    ("GET", "/oauth/authorize/resume", 401),
    ("POST", "/oauth/authorize/consent", 400),
    ("POST", "/oauth/token", 400),
    ("POST", "/oauth/revoke", 400),
    ("POST", "/oauth/register", 404),
    ("POST", "/mcp", 401),
    ("GET", "/mcp", 401),
    ("DELETE", "/mcp", 401),
    ("POST", "/api/v2/system/admin/session", 400),
    ("GET", "/api/v2/system/admin/session", 404),
    ("DELETE", "/api/v2/system/admin/session", 401),
    ("GET", "/api/v2/system/admin", 401),
    ("POST", "/api/v2/system/admin", 401),
    ("GET", "/api/v2/system/admin/{id}", 401),
    ("PATCH", "/api/v2/system/admin/{id}", 401),
    ("PUT", "/api/v2/system/admin/{id}", 401),
    ("DELETE", "/api/v2/system/admin/{id}", 401),
    ("GET", "/api/v2/system/user", 401),
    ("POST", "/api/v2/system/user", 401),
    ("GET", "/api/v2/system/user/{id}", 401),
    ("PATCH", "/api/v2/system/user/{id}", 401),
    ("PUT", "/api/v2/system/user/{id}", 401),
    ("DELETE", "/api/v2/system/user/{id}", 401),
    ("GET", "/api/v2/system/service", 401),
    ("POST", "/api/v2/system/service", 401),
    ("GET", "/api/v2/system/service/{id}", 401),
    ("PATCH", "/api/v2/system/service/{id}", 401),
    ("PUT", "/api/v2/system/service/{id}", 401),
    ("DELETE", "/api/v2/system/service/{id}", 401),
    ("GET", "/api/v2/system/role", 401),
    ("POST", "/api/v2/system/role", 401),
    ("GET", "/api/v2/system/role/{id}", 401),
    ("PATCH", "/api/v2/system/role/{id}", 401),
    ("PUT", "/api/v2/system/role/{id}", 401),
    ("DELETE", "/api/v2/system/role/{id}", 401),
    ("GET", "/api/v2/system/role/{id}/review", 401),
    (
        "GET",
        "/api/v2/system/role/{id}/preview/{service}/{table}",
        401,
    ),
    ("GET", "/api/v2/system/role/{id}/openapi", 401),
    ("POST", "/api/v2/system/filter", 401),
    ("GET", "/api/v2/system/app", 401),
    ("POST", "/api/v2/system/app", 401),
    ("GET", "/api/v2/system/app/{id}", 401),
    ("PATCH", "/api/v2/system/app/{id}", 401),
    ("PUT", "/api/v2/system/app/{id}", 401),
    ("DELETE", "/api/v2/system/app/{id}", 401),
    ("GET", "/api/v2/{service}/sso", 404),
    ("POST", "/api/v2/{service}/acs", 404),
    ("GET", "/api/v2/{service}/metadata", 404),
    ("*", "/api/v2/{service}", 400),
    ("*", "/api/v2/{service}/{resource:.*}", 400),
];

#[test]
fn every_route_has_an_expected_anonymous_answer() {
    for (method, path) in ROUTES {
        assert!(
            ANONYMOUS.iter().any(|(m, p, _)| m == method && p == path),
            "route {method} {path} is missing from the authorization matrix"
        );
    }
}

#[tokio::test]
async fn anonymous_callers_get_exactly_the_expected_answers() {
    let app = spawn_app();
    let anon = Client::new(&app);
    for (method, path, status) in ANONYMOUS {
        let concrete = path
            .replace("{id}", "1")
            .replace("{service}", "db")
            .replace("{table}", "customers")
            .replace("{resource:.*}", "_table/orders")
            .replace("{path:.*}", "roles/7");
        let method = if *method == "*" {
            Method::GET
        } else {
            Method::from_bytes(method.as_bytes()).unwrap()
        };
        let body = (method == Method::POST || method == Method::PATCH || method == Method::PUT)
            .then(|| serde_json::json!({}));
        let r = anon.send(method.clone(), &concrete, body).await;
        assert_eq!(
            r.status,
            StatusCode::from_u16(*status).unwrap(),
            "{method} {concrete}: {}",
            r.text
        );
    }
}

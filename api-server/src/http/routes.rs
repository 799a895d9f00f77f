//! The single route table: every route the server answers is listed here.

use actix_web::middleware::Compress;
use actix_web::{guard, web};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use super::handlers::{
    audit, config_io, cors, data, docs, grants, limits, lookups, mcp, oauth, preview, resource,
    root, saml, system, user, users,
};

/// Every (method, path) pair, as data, for the authorization matrix test and the docs.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/admin"),
    ("GET", "/admin/{path:.*}"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/docs/"),
    ("GET", "/api/docs/openapi.json"),
    ("GET", "/api/v2"),
    ("GET", "/api/v2/system/environment"),
    ("GET", "/api/v2/system/audit"),
    ("GET", "/api/v2/system/export"),
    ("POST", "/api/v2/system/import"),
    ("GET", "/api/v2/system/limit"),
    ("POST", "/api/v2/system/limit"),
    ("GET", "/api/v2/system/limit/{id}"),
    ("PATCH", "/api/v2/system/limit/{id}"),
    ("PUT", "/api/v2/system/limit/{id}"),
    ("DELETE", "/api/v2/system/limit/{id}"),
    ("POST", "/api/v2/system/service/test"),
    ("GET", "/api/v2/system/service/{id}/schema"),
    ("POST", "/api/v2/system/service/{id}/test-login"),
    ("GET", "/api/v2/system/lookup"),
    ("POST", "/api/v2/system/lookup"),
    ("GET", "/api/v2/system/lookup/{id}"),
    ("PATCH", "/api/v2/system/lookup/{id}"),
    ("PUT", "/api/v2/system/lookup/{id}"),
    ("DELETE", "/api/v2/system/lookup/{id}"),
    ("GET", "/api/v2/system/cors"),
    ("POST", "/api/v2/system/cors"),
    ("GET", "/api/v2/system/cors/{id}"),
    ("PATCH", "/api/v2/system/cors/{id}"),
    ("PUT", "/api/v2/system/cors/{id}"),
    ("DELETE", "/api/v2/system/cors/{id}"),
    ("POST", "/api/v2/system/admin/session"),
    ("GET", "/api/v2/system/admin/session"),
    ("DELETE", "/api/v2/system/admin/session"),
    ("GET", "/api/v2/system/admin"),
    ("POST", "/api/v2/system/admin"),
    ("GET", "/api/v2/system/admin/{id}"),
    ("PATCH", "/api/v2/system/admin/{id}"),
    ("PUT", "/api/v2/system/admin/{id}"),
    ("DELETE", "/api/v2/system/admin/{id}"),
    ("GET", "/api/v2/system/user"),
    ("POST", "/api/v2/system/user"),
    ("GET", "/api/v2/system/user/{id}"),
    ("PATCH", "/api/v2/system/user/{id}"),
    ("PUT", "/api/v2/system/user/{id}"),
    ("DELETE", "/api/v2/system/user/{id}"),
    ("GET", "/api/v2/system/service"),
    ("POST", "/api/v2/system/service"),
    ("GET", "/api/v2/system/service/{id}"),
    ("PATCH", "/api/v2/system/service/{id}"),
    ("PUT", "/api/v2/system/service/{id}"),
    ("DELETE", "/api/v2/system/service/{id}"),
    ("GET", "/api/v2/system/role"),
    ("POST", "/api/v2/system/role"),
    ("GET", "/api/v2/system/role/{id}"),
    ("PATCH", "/api/v2/system/role/{id}"),
    ("PUT", "/api/v2/system/role/{id}"),
    ("DELETE", "/api/v2/system/role/{id}"),
    ("GET", "/api/v2/system/role/{id}/review"),
    ("GET", "/api/v2/system/role/{id}/preview/{service}/{table}"),
    ("GET", "/api/v2/system/role/{id}/openapi"),
    ("POST", "/api/v2/system/filter"),
    ("GET", "/api/v2/system/app"),
    ("POST", "/api/v2/system/app"),
    ("GET", "/api/v2/system/app/{id}"),
    ("PATCH", "/api/v2/system/app/{id}"),
    ("PUT", "/api/v2/system/app/{id}"),
    ("DELETE", "/api/v2/system/app/{id}"),
    ("POST", "/api/v2/user/session"),
    ("GET", "/api/v2/user/session"),
    ("PUT", "/api/v2/user/session"),
    ("PATCH", "/api/v2/user/session"),
    ("DELETE", "/api/v2/user/session"),
    ("GET", "/api/v2/user/profile"),
    ("POST", "/api/v2/user/profile"),
    ("PUT", "/api/v2/user/profile"),
    ("PATCH", "/api/v2/user/profile"),
    ("POST", "/api/v2/user/password"),
    ("PUT", "/api/v2/user/password"),
    ("PATCH", "/api/v2/user/password"),
    ("POST", "/api/v2/user/register"),
    ("GET", "/api/v2/system/oauth_client"),
    ("POST", "/api/v2/system/oauth_client"),
    ("GET", "/api/v2/system/oauth_client/{id}"),
    ("PATCH", "/api/v2/system/oauth_client/{id}"),
    ("PUT", "/api/v2/system/oauth_client/{id}"),
    ("DELETE", "/api/v2/system/oauth_client/{id}"),
    ("GET", "/api/v2/system/oauth_grant"),
    ("DELETE", "/api/v2/system/oauth_grant/{id}"),
    ("GET", "/api/v2/user/oauth_grant"),
    ("DELETE", "/api/v2/user/oauth_grant/{id}"),
    ("GET", "/.well-known/oauth-protected-resource"),
    ("GET", "/.well-known/oauth-protected-resource/mcp"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/oauth-authorization-server/oauth"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/openid-configuration/oauth"),
    ("GET", "/oauth/.well-known/openid-configuration"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/authorize/sign-in"),
    ("GET", "/oauth/authorize/external"),
    ("GET", "/oauth/authorize/resume"),
    ("POST", "/oauth/authorize/consent"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
    ("POST", "/oauth/register"),
    ("POST", "/mcp"),
    ("GET", "/mcp"),
    ("DELETE", "/mcp"),
    ("GET", "/api/v2/{service}/sso"),
    ("POST", "/api/v2/{service}/acs"),
    ("GET", "/api/v2/{service}/metadata"),
    ("*", "/api/v2/{service}"),
    ("*", "/api/v2/{service}/{resource:.*}"),
];

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(data_routes());
    super::console::configure(cfg);
    cfg.route("/health", web::get().to(root::health))
        .route("/ready", web::get().to(root::ready))
        .route("/metrics", web::get().to(root::metrics))
        .service(
            web::resource("/api/docs/openapi.json")
                .wrap(Compress::default())
                .route(web::get().to(docs::combined)),
        )
        .service(
            SwaggerUi::new("/api/docs/{_:.*}")
                .config(SwaggerConfig::new(["/api/docs/openapi.json"])),
        )
        .route(
            "/api/docs",
            web::get().to(|| async {
                actix_web::HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/api/docs/"))
                    .finish()
            }),
        )
        .route("/api/v2", web::get().to(root::index))
        .route(
            "/.well-known/oauth-protected-resource",
            web::get().to(oauth::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            web::get().to(oauth::protected_resource),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(oauth::authorization_server),
        )
        .route(
            "/.well-known/oauth-authorization-server/oauth",
            web::get().to(oauth::authorization_server),
        )
        .route(
            "/.well-known/openid-configuration",
            web::get().to(oauth::authorization_server),
        )
        .route(
            "/.well-known/openid-configuration/oauth",
            web::get().to(oauth::authorization_server),
        )
        .route(
            "/oauth/.well-known/openid-configuration",
            web::get().to(oauth::authorization_server),
        )
        .service(
            web::resource("/oauth/authorize")
                .route(web::get().to(oauth::authorize))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/authorize/sign-in")
                .route(web::post().to(oauth::sign_in))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/authorize/external")
                .route(web::get().to(oauth::external))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/authorize/resume")
                .route(web::get().to(oauth::resume))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/authorize/consent")
                .route(web::post().to(oauth::consent))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/token")
                .route(web::post().to(oauth::token))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/register")
                .route(web::post().to(oauth::register))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/oauth/revoke")
                .route(web::post().to(oauth::revoke))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/api/v2/user/oauth_grant")
                .route(web::get().to(grants::own_list))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/api/v2/user/oauth_grant/{id}")
                .route(web::delete().to(grants::own_revoke))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/mcp")
                .route(web::post().to(mcp::handle))
                .route(web::get().to(mcp::handle))
                .route(web::delete().to(mcp::handle))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/api/v2/user/session")
                .route(web::post().to(user::login))
                .route(web::get().to(user::session_get))
                .route(web::put().to(user::refresh))
                .route(web::patch().to(user::refresh))
                .route(web::delete().to(user::logout))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/api/v2/user/profile")
                .route(web::get().to(user::profile))
                .route(web::post().to(user::update_profile))
                .route(web::put().to(user::update_profile))
                .route(web::patch().to(user::update_profile))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/api/v2/user/password")
                .route(web::post().to(user::password))
                .route(web::put().to(user::password))
                .route(web::patch().to(user::password))
                .default_service(web::to(system::not_allowed)),
        )
        .service(
            web::resource("/api/v2/user/register")
                .route(web::post().to(user::register))
                .default_service(web::to(system::not_allowed)),
        )
        .route("/api/v2/", web::get().to(root::index))
        .service(
            web::scope("/api/v2/system")
                .route("/environment", web::get().to(system::environment))
                .service(
                    web::resource("/export")
                        .route(web::get().to(config_io::export))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/import")
                        .route(web::post().to(config_io::import))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/audit")
                        .route(web::get().to(audit::list))
                        .default_service(web::to(system::not_allowed)),
                )
                .configure(|c| resource::register::<limits::Limit>(c, "limit"))
                .configure(|c| resource::register::<lookups::GlobalLookup>(c, "lookup"))
                .configure(|c| resource::register::<cors::Cors>(c, "cors"))
                .configure(|c| resource::register::<grants::OAuthClient>(c, "oauth_client"))
                .service(
                    web::resource("/oauth_grant")
                        .route(web::get().to(grants::admin_list))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/oauth_grant/{id}")
                        .route(web::delete().to(grants::admin_revoke))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/admin/session")
                        .route(web::post().to(users::admin_login))
                        .route(web::get().to(users::admin_session))
                        .route(web::delete().to(users::admin_logout))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/admin")
                        .route(web::get().to(users::admin_list))
                        .route(web::post().to(users::admin_create))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/admin/{id}")
                        .route(web::get().to(users::admin_get))
                        .route(web::patch().to(users::admin_update))
                        .route(web::put().to(users::admin_update))
                        .route(web::delete().to(users::admin_delete))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/user")
                        .route(web::get().to(users::user_list))
                        .route(web::post().to(users::user_create))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/user/{id}")
                        .route(web::get().to(users::user_get))
                        .route(web::patch().to(users::user_update))
                        .route(web::put().to(users::user_update))
                        .route(web::delete().to(users::user_delete))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/service")
                        .route(web::get().to(system::service_list))
                        .route(web::post().to(system::service_create))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/service/test")
                        .route(web::post().to(system::service_test))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/service/{id}/test-login")
                        .route(web::post().to(user::test_login))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    // Large for large schemas (about 2 KB a table): compressed when asked.
                    web::resource("/service/{id}/schema")
                        .wrap(Compress::default())
                        .route(web::get().to(system::service_schema))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/service/{id}")
                        .route(web::get().to(system::service_get))
                        .route(web::patch().to(system::service_update))
                        .route(web::put().to(system::service_update))
                        .route(web::delete().to(system::service_delete))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/role")
                        .route(web::get().to(system::role_list))
                        .route(web::post().to(system::role_create))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/role/{id}/review")
                        .route(web::get().to(audit::review))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/role/{id}/preview/{service}/{table}")
                        .route(web::get().to(preview::preview))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/role/{id}/openapi")
                        .wrap(Compress::default())
                        .route(web::get().to(preview::openapi))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/filter")
                        .route(web::post().to(preview::check_filter))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/role/{id}")
                        .route(web::get().to(system::role_get))
                        .route(web::patch().to(system::role_update))
                        .route(web::put().to(system::role_update))
                        .route(web::delete().to(system::role_delete))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/app")
                        .route(web::get().to(system::app_list))
                        .route(web::post().to(system::app_create))
                        .default_service(web::to(system::not_allowed)),
                )
                .service(
                    web::resource("/app/{id}")
                        .route(web::get().to(system::app_get))
                        .route(web::patch().to(system::app_update))
                        .route(web::put().to(system::app_update))
                        .route(web::delete().to(system::app_delete))
                        .default_service(web::to(system::not_allowed)),
                )
                .default_service(web::to(|req: actix_web::HttpRequest| async move {
                    super::error::ApiError::not_found(format!(
                        "System resource '{}' not found.",
                        req.path().trim_start_matches("/api/v2/system/")
                    ))
                })),
        )
        .route("/api/v2/{service}/sso", web::get().to(saml::sso))
        .route("/api/v2/{service}/acs", web::post().to(saml::acs))
        .route("/api/v2/{service}/metadata", web::get().to(saml::metadata));
}

/// `/api/v2/{service}` and `/api/v2/{service}/{resource:.*}`: every database request. A
/// static prefix and a guard pick these out before anything else is tried, and the handler
/// splits the path itself: the hot path runs no route's regular expression.
fn data_routes() -> actix_web::Scope {
    web::scope("/api/v2")
        .guard(guard::fn_guard(|ctx| is_data_path(ctx.head().uri.path())))
        .default_service(web::to(data::service_request))
}

/// Whether a path is a database service's: under `/api/v2/`, not the system or user API, and
/// not a SAML service's own endpoint — judged on the decoded names the handler will see, so
/// `/api/v2/sys%74em/…` is the system API here too.
fn is_data_path(path: &str) -> bool {
    crate::request::service_path(path).is_some_and(|(service, tail)| {
        !matches!(&*service, "system" | "user") && !matches!(&*tail, "sso" | "acs" | "metadata")
    })
}

#[cfg(test)]
mod tests {
    use super::is_data_path;

    #[test]
    fn data_paths_are_told_apart_by_their_decoded_names() {
        assert!(is_data_path("/api/v2/db"));
        assert!(is_data_path("/api/v2/db/_table/orders/1"));
        assert!(is_data_path("/api/v2/db/_table/sso"));
        assert!(!is_data_path("/api/v2/"));
        assert!(!is_data_path("/api/v2/system/role"));
        assert!(!is_data_path("/api/v2/sys%74em/role"));
        assert!(!is_data_path("/api/v2/user/session"));
        assert!(!is_data_path("/api/v2/okta/sso"));
        assert!(!is_data_path("/api/v2/okta/ac%73"));
        assert!(!is_data_path("/api/docs/"));
    }
}

//! `GET /api/v2`: the services the caller may reach; `/health`, `/ready` and `/metrics`.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::guard::Caller;
use crate::rbac::verbs::REQUESTOR_API;
use crate::state::AppState;

/// Service types this build serves.
fn service_types() -> Value {
    json!([
        {"name": "pgsql", "label": "PostgreSQL", "group": "Database", "description": "Database service supporting PostgreSQL connections."},
        {"name": "jwt", "label": "External JWT", "group": "OAuth", "description": "Bearer tokens of an external issuer, verified against its JWKS; groups map to roles."}
    ])
}

/// `GET /api/v2`: services visible to the caller (all for a sys-admin, those the role reaches
/// otherwise, none for an anonymous caller).
pub async fn index(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let role = match caller.principal.as_ref().and_then(|p| p.role_id) {
        Some(id) => state.compiled_role(id).await?,
        None => None,
    };
    let admin = caller
        .principal
        .as_ref()
        .is_some_and(crate::auth::Principal::is_sys_admin);
    let services: Vec<Value> = state
        .services_list()
        .await?
        .iter()
        .filter(|s| s.is_active && (admin || role.as_ref().is_some_and(|r| r.is_active && r.reaches_service(s.id, REQUESTOR_API))))
        .map(|s| {
            json!({
                "id": s.id, "name": s.name, "label": s.label, "description": s.description, "type": s.kind,
                "spec_url": format!("/api/v2/{}/_spec", s.name),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"services": services, "service_types": service_types()})))
}

/// `GET /health`: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Whether the caller may read what operators read (`/metrics`, the names in `/ready`):
/// a scraper sending `metrics.token`, or without one, a client on this machine (behind a
/// trusted proxy, the client it forwarded for: a proxy on this machine does not open it to
/// everyone).
fn may_scrape(state: &AppState, req: &HttpRequest) -> bool {
    match &state.config.metrics.token {
        Some(token) => crate::http::guard::credentials(req)
            .session_token
            .is_some_and(|t| {
                crate::auth::accounts::constant_time_eq(
                    t.as_bytes(),
                    token.expose_secret().as_bytes(),
                )
            }),
        None => crate::http::guard::client_ip(req).is_some_and(|ip| ip.is_loopback()),
    }
}

/// How long `/ready` waits for each check.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /ready`: the system store and every active database service answer, each within two
/// seconds (a service not connected yet is connected, as its first request would be). A 503
/// says what did not: by name to those who may read `/metrics`, by count to anyone else (the
/// log names it too). `/health` is the liveness probe.
pub async fn ready(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let store = tokio::time::timeout(READY_WITHIN, state.store.ping()).await;
    let mut store_ok = match store {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "system store not ready");
            false
        }
        Err(_) => {
            tracing::warn!("system store not ready: no answer within 2 s");
            false
        }
    };
    let services = if store_ok {
        state.services_list().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "system store not ready: cannot list the services");
            store_ok = false;
            std::sync::Arc::default()
        })
    } else {
        std::sync::Arc::default()
    };
    let checks = services
        .iter()
        .filter(|s| s.is_active && s.is_database())
        .map(|s| {
            let state = &state;
            async move {
                let answered = tokio::time::timeout(READY_WITHIN, async {
                    let handle = state
                        .services
                        .get(s, &state.master_key, &state.config.limits)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut conn = handle.pool.acquire().await.map_err(|e| e.to_string())?;
                    let pinged = sqlx::Connection::ping(conn.conn()).await;
                    conn.release(pinged.is_ok()).await;
                    pinged.map_err(|_| "no answer to a ping".to_owned())
                })
                .await
                .unwrap_or_else(|_| Err("no answer within 2 s".into()));
                if let Err(e) = &answered {
                    tracing::warn!(service = %s.name, error = %e, "service not ready");
                }
                (s.name.clone(), answered.is_ok())
            }
        });
    let services = futures_util::future::join_all(checks).await;
    let all_ready = store_ok && services.iter().all(|(_, ok)| *ok);
    let word = |ok: bool| if ok { "ready" } else { "unavailable" };
    let by_service = if may_scrape(&state, &req) {
        services
            .iter()
            .map(|(name, ok)| (name.clone(), json!(word(*ok))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    } else {
        let ready = services.iter().filter(|(_, ok)| *ok).count();
        json!({"ready": ready, "unavailable": services.len() - ready})
    };
    let body = json!({
        "status": word(all_ready),
        "system_store": state.store.backend(),
        "checks": {"system_store": word(store_ok), "services": by_service},
    });
    if all_ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text. With `metrics.token` set, only a scraper sending it as a
/// bearer token is answered; without one, only clients on this machine are.
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if !may_scrape(&state, &req) {
        return HttpResponse::Forbidden().json(json!({"error": {"code": 403, "context": null,
            "message": "Metrics are served to this machine, or to a scraper sending metrics.token as a bearer token.",
            "status_code": 403}}));
    }
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/plain; version=0.0.4; charset=utf-8"))
        .body(
            state
                .metrics
                .render(state.auditor.depth(), &state.services.pools()),
        )
}

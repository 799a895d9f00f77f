//! `/api/v2/user/*`: the caller's own session. Today `GET /api/v2/user/session`, which says
//! who the credential is and under which role it acts (what MCP's `whoami` shows).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::guard::Caller;
use crate::state::AppState;

/// `GET /api/v2/user/session`: DreamFactory's session fields for a signed-in user (null for
/// an API key alone), plus the app and the role the request acts under.
pub async fn session(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let principal = caller.require()?;
    let role = match principal.role_id {
        Some(id) => state.compiled_role(id).await?,
        None => None,
    };
    let user = principal.user.as_ref();
    Ok(HttpResponse::Ok().json(json!({
        "id": user.map(|u| u.id),
        "name": user.map(|u| u.name.clone()),
        "first_name": user.and_then(|u| u.first_name.clone()),
        "last_name": user.and_then(|u| u.last_name.clone()),
        "email": user.map(|u| u.email.clone()),
        "is_sys_admin": principal.is_sys_admin(),
        "last_login_date": user.and_then(|u| u.last_login_date),
        "app": principal.app.as_ref().map(|a| json!({"id": a.id, "name": a.name, "read_only": a.read_only})),
        "role": role.as_ref().map(|r| r.name.clone()),
        "role_id": role.as_ref().map(|r| r.id),
        "role_is_active": role.as_ref().map(|r| r.is_active),
        "no_role_reason": principal.no_role_reason,
    })))
}

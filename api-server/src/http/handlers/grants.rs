//! The MCP authorization server in the system API: `/api/v2/system/oauth_client` (clients
//! registered by an admin, each living in an app), `/api/v2/system/oauth_grant` (every grant,
//! revocable by an admin) and `/api/v2/user/oauth_grant` (a person's own grants, revocable by
//! them). A revocation holds on the next MCP call on every node.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::{bool_field, flag, int_field, list_response, query, str_field};
use super::resource::Resource;
use crate::http::error::{ApiError, ErrorKind};
use crate::http::guard::{Caller, SysAdmin};
use crate::oauth::authorize::{SELF_REGISTERED, check_redirect_uri};
use crate::oauth::flow::random_token;
use crate::state::AppState;
use crate::system::oauth::{self as store, ClientFields, ClientRecord, rfc3339 as time};
use crate::system::{Store, SystemError, Tx};

/// A redirect URI a client may register (see `authorize::check_redirect_uri`).
fn redirect_uri(s: &str) -> Result<String, ApiError> {
    check_redirect_uri(s)
        .map(|()| s.to_owned())
        .map_err(|why| ApiError::bad_request(format!("Redirect URI '{s}' {why}.")))
}

pub(super) fn client_fields(
    existing: Option<&ClientRecord>,
    m: &Map<String, Value>,
) -> Result<ClientFields, ApiError> {
    let mut f = match existing {
        Some(c) => ClientFields {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            app_id: c.app_id,
            redirect_uris: c.redirects(),
            is_active: c.is_active,
        },
        None => ClientFields {
            client_id: random_token(),
            name: String::new(),
            app_id: 0,
            redirect_uris: Vec::new(),
            is_active: true,
        },
    };
    // Empty keeps the stored id (or, for a new client, the generated one).
    if let Some(v) = str_field(m, "client_id")?.filter(|v| !v.trim().is_empty()) {
        let v = v.trim().to_owned();
        if v.is_empty()
            || v.len() > 200
            || v.contains("://")
            || v.starts_with(SELF_REGISTERED)
            || !v.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(ApiError::bad_request(
                "Field 'client_id' must be 1 to 200 printable characters, not a URL (URLs name metadata documents) and not start with 'dyn-' (clients that registered themselves).",
            ));
        }
        f.client_id = v;
    }
    if let Some(v) = str_field(m, "name")? {
        f.name = v.trim().to_owned();
    }
    if let Some(v) = int_field(m, "app_id")? {
        f.app_id = v;
    }
    if let Some(v) = m.get("redirect_uris").filter(|v| !v.is_null()) {
        let list = v.as_array().ok_or_else(|| {
            ApiError::bad_request("Field 'redirect_uris' must be a list of URLs.")
        })?;
        f.redirect_uris = list
            .iter()
            .map(|u| {
                u.as_str()
                    .ok_or_else(|| {
                        ApiError::bad_request("Field 'redirect_uris' must be a list of URLs.")
                    })
                    .and_then(redirect_uri)
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(v) = bool_field(m, "is_active")? {
        f.is_active = v;
    }
    if f.name.is_empty() {
        return Err(ApiError::bad_request("Field 'name' is required."));
    }
    if f.app_id <= 0 {
        return Err(ApiError::bad_request(
            "Field 'app_id' is required: the app whose role rules the client acts under.",
        ));
    }
    if f.redirect_uris.is_empty() {
        return Err(ApiError::bad_request(
            "Field 'redirect_uris' needs at least one redirect URI.",
        ));
    }
    Ok(f)
}

/// Registered clients as a simple resource.
pub struct OAuthClient;

impl Resource for OAuthClient {
    type Record = ClientRecord;
    type Fields = ClientFields;
    const DUPLICATE: &'static str = "A client with this client_id already exists.";

    fn json(c: &ClientRecord) -> Value {
        json!({
            "id": c.id, "client_id": c.client_id, "name": c.name, "app_id": c.app_id,
            "redirect_uris": c.redirects(), "is_active": c.is_active,
            "created_date": time(Some(c.created_at)),
        })
    }

    fn fields(
        existing: Option<&ClientRecord>,
        m: &Map<String, Value>,
    ) -> Result<ClientFields, ApiError> {
        client_fields(existing, m)
    }

    async fn list(store: &Store) -> Result<Vec<ClientRecord>, SystemError> {
        store::list_clients(store).await
    }

    async fn get(store: &Store, id: i64) -> Result<ClientRecord, SystemError> {
        store::get_client(store, id).await
    }

    async fn create(tx: &mut Tx, f: &ClientFields) -> Result<i64, SystemError> {
        store::add_client(tx, f, chrono::Utc::now().timestamp()).await
    }

    async fn update(tx: &mut Tx, id: i64, f: &ClientFields) -> Result<(), SystemError> {
        store::update_client(tx, id, f).await
    }

    async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
        store::delete_client(tx, id).await
    }
}

async fn list_for(
    state: &AppState,
    req: &HttpRequest,
    user_id: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let q = query(req);
    let grants = store::list_grants(&state.store, user_id, flag(&q, "include_revoked")).await?;
    list_response(grants.iter().map(store::GrantRecord::to_json).collect(), &q)
}

/// Revokes a grant (of `user_id` only, when given); the audit event is an `oauth_revoke`, like
/// a client's own revocation.
async fn revoke_for(
    state: &AppState,
    req: &HttpRequest,
    id: i64,
    user_id: Option<i64>,
    reason: &str,
) -> Result<HttpResponse, ApiError> {
    super::oauth::note_kind(req, "oauth_revoke");
    let mut tx = state.store.begin().await?;
    let revoked =
        store::revoke_grant(&mut tx, id, user_id, reason, chrono::Utc::now().timestamp()).await?;
    tx.commit().await?;
    if !revoked {
        return Err(ApiError::not_found(format!(
            "No grant in force with id {id}."
        )));
    }
    state.changed().await;
    Ok(HttpResponse::Ok().json(json!({"id": id})))
}

/// `GET /api/v2/system/oauth_grant` (`?include_revoked=true` for ended ones too).
pub async fn admin_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    list_for(&state, &req, None).await
}

/// `DELETE /api/v2/system/oauth_grant/{id}`
pub async fn admin_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    _a: SysAdmin,
) -> Result<HttpResponse, ApiError> {
    revoke_for(&state, &req, *id, None, "revoked by an administrator").await
}

/// The signed-in person (a session, not an API key alone).
fn person(caller: &Caller) -> Result<i64, ApiError> {
    caller
        .principal
        .as_ref()
        .and_then(|p| p.user.as_ref())
        .map(|u| u.id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unauthorized,
                "Sign in first: your grants are listed for your own session.",
            )
        })
}

/// `GET /api/v2/user/oauth_grant`: the caller's own grants.
pub async fn own_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let user = person(&caller)?;
    list_for(&state, &req, Some(user)).await
}

/// `DELETE /api/v2/user/oauth_grant/{id}`: revokes one of the caller's own grants (another
/// person's is not found).
pub async fn own_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let user = person(&caller)?;
    revoke_for(&state, &req, *id, Some(user), "revoked by the user").await
}

//! MCP authorization: Rampart as the OAuth 2.1 authorization server of its own `/mcp`
//! resource, so a remote agent acts as the user who signed in, under the role that user has
//! for the client's app — the same `Principal` the REST API builds.
//!
//! - `authorize`: the checks of an authorization request (pure): client, exact redirect URI
//!   (loopback on any port), PKCE S256 only, `state`, `resource` = this server's MCP URL.
//! - `clients`: who a `client_id` is — a client registered at `/system/oauth_client`, or an
//!   HTTPS URL of a Client ID Metadata Document, fetched with size and time limits.
//! - `flow`: the steps with the store: a request in flight, sign-in, consent, the code,
//!   its exchange, refresh with rotation and reuse detection, revocation.
//! - `tokens`: access tokens (`at+jwt`, audience-bound, naming their grant).
//! - `pages`: the sign-in and consent pages (no script; a strict CSP).
//!
//! Every use of an access token checks its grant (`grant_identity`): not revoked, the user
//! active and in the session epoch of the consent (a password change or disable ends it), and
//! the user's role for the app still the role consented to (else the grant is revoked).

pub mod authorize;
pub mod clients;
pub mod flow;
pub mod pages;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::auth::{AuthError, Identity};
use crate::state::AppState;
use crate::system::apps::AppRecord;
use crate::system::oauth::{self as store, ClientRecord, GrantRecord};
use crate::system::{SystemError, apps};

/// Read through MCP tools.
pub const READ: &str = "mcp:read";
/// Write through MCP tools.
pub const WRITE: &str = "mcp:write";
/// Every scope this server issues.
pub const SCOPES: &[&str] = &[READ, WRITE];

/// How often a grant's `last_used_at` is written, at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Authorization requests one address may start in ten minutes (the life of one).
const AUTHORIZATIONS_PER_TEN_MINUTES: usize = 200;

/// The authorization server's state on one node: caches emptied with every system change,
/// and the secret by which this node's MCP endpoint vouches for the requests it makes.
pub struct Runtime {
    /// Sent by this node's `/mcp` with the access token on its REST calls (header
    /// `X-Rampart-Bridge`): the REST API accepts an access token only with it, so a token
    /// minted for the MCP resource is no key to the REST API itself.
    bridge_secret: String,
    grants: Cache<i64, Option<Arc<GrantRecord>>>,
    apps: Cache<i64, Option<Arc<AppRecord>>>,
    clients: Cache<String, Option<Arc<ClientRecord>>>,
    touched: Cache<i64, ()>,
    /// Client ID Metadata Documents fetched.
    pub documents: Cache<String, Arc<clients::Document>>,
    /// Why a metadata document was refused, for a minute.
    pub refused_documents: Cache<String, String>,
    /// Dynamic registrations per address (each one counts, as a failure counts at sign-in).
    pub registrations: crate::auth::throttle::Throttle,
    /// Authorization requests started per address (each is a stored row until it expires).
    pub authorizations: crate::auth::throttle::Throttle,
}

impl Runtime {
    #[must_use]
    pub fn new(config: &crate::config::OAuth) -> Self {
        Self {
            bridge_secret: crate::system::apps::generate_key(),
            grants: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            apps: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            clients: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            touched: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TOUCH_EVERY)
                .build(),
            documents: Cache::builder()
                .max_capacity(1_000)
                .time_to_live(Duration::from_secs(
                    config.metadata_document_cache_seconds.max(1),
                ))
                .build(),
            refused_documents: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            registrations: crate::auth::throttle::Throttle::new(crate::auth::throttle::Limits {
                window: Duration::from_secs(3600),
                per_account: config.dynamic_registrations_per_hour.max(1),
                per_address: config.dynamic_registrations_per_hour.max(1),
            }),
            authorizations: crate::auth::throttle::Throttle::new(crate::auth::throttle::Limits {
                window: Duration::from_secs(600),
                per_account: AUTHORIZATIONS_PER_TEN_MINUTES,
                per_address: AUTHORIZATIONS_PER_TEN_MINUTES,
            }),
        }
    }

    /// The secret this node's MCP endpoint sends with its REST calls.
    #[must_use]
    pub fn bridge_secret(&self) -> &str {
        &self.bridge_secret
    }

    /// Whether a request's `X-Rampart-Bridge` value is this node's secret.
    #[must_use]
    pub fn is_bridge(&self, given: &str) -> bool {
        crate::auth::accounts::constant_time_eq(given.as_bytes(), self.bridge_secret.as_bytes())
    }

    /// Forgets what the caches hold (after any system change).
    pub fn invalidate(&self) {
        self.grants.invalidate_all();
        self.apps.invalidate_all();
        self.clients.invalidate_all();
        self.documents.invalidate_all();
        self.refused_documents.invalidate_all();
    }

    async fn grant(
        &self,
        s: &crate::system::Store,
        id: i64,
    ) -> Result<Option<Arc<GrantRecord>>, SystemError> {
        self.grants
            .try_get_with(id, async move {
                store::grant(s, id).await.map(|g| g.map(Arc::new))
            })
            .await
            .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }

    async fn app(
        &self,
        s: &crate::system::Store,
        id: i64,
    ) -> Result<Option<Arc<AppRecord>>, SystemError> {
        self.apps
            .try_get_with(id, async move {
                match apps::get(s, id).await {
                    Ok(a) => Ok(Some(Arc::new(a))),
                    Err(SystemError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }

    /// A registered client by its `client_id`.
    pub async fn client(
        &self,
        s: &crate::system::Store,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRecord>>, SystemError> {
        self.clients
            .try_get_with(client_id.to_owned(), async move {
                store::client_by_client_id(s, client_id)
                    .await
                    .map(|c| c.map(Arc::new))
            })
            .await
            .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }
}

/// Revokes a grant with the reason, in a transaction of its own, tells every node, and sends
/// the permission-change alert (Rampart is the actor; the reason is in the grant). A grant
/// already revoked changes nothing (a replayed code or token flushes no cache).
pub(crate) async fn end_grant(state: &AppState, id: i64, reason: &str) -> Result<(), SystemError> {
    let before = if state.alerts.enabled() {
        store::grant(&state.store, id).await?
    } else {
        None
    };
    let mut tx = state.store.begin().await?;
    let revoked =
        store::revoke_grant(&mut tx, id, None, reason, chrono::Utc::now().timestamp()).await?;
    tx.commit().await?;
    if !revoked {
        return Ok(());
    }
    state.changed().await;
    if let Some(before) = before {
        let after = store::grant(&state.store, id).await?;
        state
            .alerts
            .permission_change(&crate::alerts::PermissionChange {
                request_id: None,
                method: None,
                resource: "oauth_grant",
                ids: &[id],
                actor: None,
                before: &before.to_json(),
                after: &after.map_or(serde_json::Value::Null, |g| g.to_json()),
            });
    }
    Ok(())
}

/// Whether a grant is still in force for its user, app and client: the user active and in
/// the session epoch of the consent, the app and client active, and the user's role for the
/// app still the one consented to. A grant that no longer holds is revoked, with the reason.
pub async fn grant_in_force(
    state: &AppState,
    grant: &GrantRecord,
) -> Result<(Arc<crate::system::users::UserRecord>, Arc<AppRecord>), AuthError> {
    if grant.revoked_at.is_some() {
        return Err(AuthError::InvalidToken);
    }
    let user = state.user(grant.user_id).await?;
    let Some(user) = user.filter(|u| u.is_active && u.session_epoch == grant.session_epoch) else {
        end_grant(
            state,
            grant.id,
            "the user was disabled or changed their password",
        )
        .await?;
        return Err(AuthError::InvalidToken);
    };
    let Some(app) = state
        .oauth
        .app(&state.store, grant.app_id)
        .await?
        .filter(|a| a.is_active)
    else {
        return Err(AuthError::InactiveApp);
    };
    let client_allowed = if clients::is_document_url(&grant.client_id) {
        // Metadata-document clients act through the configured app, while it is configured.
        state
            .config
            .oauth
            .metadata_document_app
            .as_ref()
            .is_some_and(|name| *name == app.name)
    } else {
        let client = state.oauth.client(&state.store, &grant.client_id).await?;
        client.is_some_and(|c| c.is_active && c.app_id == grant.app_id)
    };
    if !client_allowed {
        end_grant(
            state,
            grant.id,
            "the client was removed, deactivated or moved",
        )
        .await?;
        return Err(AuthError::InvalidToken);
    }
    let (role, _, _) = crate::auth::session_role_of(state, &user, Some(&app)).await?;
    let role_active = match role {
        Some(id) => state.compiled_role(id).await?.is_some_and(|r| r.is_active),
        None => false,
    };
    if role != Some(grant.role_id) || !role_active {
        end_grant(state, grant.id, "the user's role for this app changed").await?;
        return Err(AuthError::InvalidToken);
    }
    Ok((user, app))
}

/// The identity an access token stands for, after every check: the token itself (signature,
/// type, issuer, audience, time) and its grant (see [`grant_in_force`]).
pub async fn grant_identity(state: &AppState, token: &str) -> Result<Identity, AuthError> {
    let claims = tokens::verify(state, token).await?;
    let grant = state
        .oauth
        .grant(&state.store, claims.gid)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    if grant.user_id.to_string() != claims.sub || grant.client_id != claims.client_id {
        return Err(AuthError::InvalidToken);
    }
    let (user, app) = grant_in_force(state, &grant).await?;
    if state.oauth.touched.get(&grant.id).await.is_none() {
        state.oauth.touched.insert(grant.id, ()).await;
        let s = state.store.clone();
        let id = grant.id;
        tokio::spawn(async move {
            if let Err(e) = store::touch_grant(&s, id, chrono::Utc::now().timestamp()).await {
                tracing::warn!(error = %e, grant = id, "cannot record a grant's last use");
            }
        });
    }
    Ok(Identity::Grant {
        user,
        app,
        role_id: grant.role_id,
        read_only: !(claims.has_scope(WRITE) && grant.has_scope(WRITE)),
        reads: claims.has_scope(READ) && grant.has_scope(READ),
        grant_id: grant.id,
    })
}

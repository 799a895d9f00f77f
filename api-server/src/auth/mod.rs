//! Authentication: credentials → `Identity` (a verified credential) → `Principal` (who, which
//! app, which role). DreamFactory's role rule: the user's role for the calling app, else the
//! app's default role; no role means no access to data services.
//!
//! Architecture invariant: nothing downstream of `Principal` knows how the caller signed in.

pub mod accounts;
pub mod password;
pub mod session;
pub mod throttle;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::identity::ExternalIdentity;
use crate::identity::jwt::{TokenError, claimed_issuer};
use crate::identity::mapping::RoleSource;
use crate::state::AppState;
use crate::system::{self, app_roles::AppRole, apps::AppRecord, users::UserRecord};
use session::SessionKind;

/// Credentials as found in the request (header, query or body), not yet verified.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub api_key: Option<String>,
    pub session_token: Option<String>,
    /// `X-Rampart-Bridge`: this node's MCP endpoint vouching for a request it makes.
    pub bridge: Option<String>,
}

/// A verified credential.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A valid session token for a user or admin, with or without an app key, and the role
    /// it acts under (resolved by `authenticate`: the user's per-app role or the app's
    /// default, or, for a person an identity provider vouched for, the provider's mapping).
    Session {
        user: Arc<UserRecord>,
        app: Option<Arc<AppRecord>>,
        role_id: Option<i64>,
        no_role_reason: Option<String>,
        /// A sys-admin without per-app roles.
        sys_admin: bool,
    },
    /// A valid API key alone.
    App(Arc<AppRecord>),
    /// A token of an external issuer (a `jwt` service), with or without an app key. The role
    /// comes from the provider's mapping of the token's groups, never from the app.
    External {
        user: Arc<UserRecord>,
        app: Option<Arc<AppRecord>>,
        role: Option<(i64, RoleSource)>,
        provider: String,
        claims: Arc<Map<String, Value>>,
    },
    /// An OAuth access token for the MCP resource, presented by this server's own MCP
    /// endpoint: the user, through the client's app, under the role consented to.
    Grant {
        user: Arc<UserRecord>,
        app: Arc<AppRecord>,
        role_id: i64,
        /// The token or grant lacks `mcp:write`.
        read_only: bool,
        /// The token and grant carry `mcp:read`.
        reads: bool,
        grant_id: i64,
    },
}

/// Who is calling, and under which role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Option<Arc<UserRecord>>,
    pub app: Option<Arc<AppRecord>>,
    /// The role that governs data-service access, if any.
    pub role_id: Option<i64>,
    /// The identity provider's attributes of the user (`{user.claims.<name>}`).
    pub claims: Option<Arc<Map<String, Value>>>,
    /// Why there is no role, when the reason helps the caller (no mapping matched).
    pub no_role_reason: Option<String>,
    /// A signed-in sys-admin who governs the system API (not one restricted to per-app roles).
    sys_admin: bool,
    /// Writes are refused whatever the role (an access token without `mcp:write`).
    pub read_only: bool,
    /// The OAuth grant the caller acts under, if any.
    pub grant_id: Option<i64>,
}

impl Principal {
    /// A signed-in sys-admin (who governs the system API). DreamFactory's rule: an admin
    /// given any per-app role is restricted to it and is no sys-admin.
    #[must_use]
    pub fn is_sys_admin(&self) -> bool {
        self.sys_admin
    }

    /// Only a role, and optionally a user whose `{user.*}` lookups apply: what the console's
    /// "see as this role" preview runs as. Never a sys-admin, never an app.
    #[must_use]
    pub fn previewing(role_id: i64, user: Option<Arc<UserRecord>>) -> Self {
        let claims = user.as_deref().and_then(user_claims);
        Self {
            user,
            app: None,
            role_id: Some(role_id),
            claims,
            no_role_reason: None,
            sys_admin: false,
            read_only: false,
            grant_id: None,
        }
    }

    /// Resolves the role of an identity (DreamFactory's rule).
    #[must_use]
    pub fn from_identity(identity: Identity) -> Self {
        match identity {
            Identity::App(app) => Self {
                role_id: app.role_id,
                user: None,
                app: Some(app),
                claims: None,
                no_role_reason: None,
                sys_admin: false,
                read_only: false,
                grant_id: None,
            },
            Identity::External {
                user,
                app,
                role,
                provider,
                claims,
            } => Self {
                role_id: role.map(|(id, _)| id),
                no_role_reason: role.is_none().then(|| no_role(&provider)),
                user: Some(user),
                app,
                claims: Some(claims),
                sys_admin: false,
                read_only: false,
                grant_id: None,
            },
            Identity::Session {
                user,
                app,
                role_id,
                no_role_reason,
                sys_admin,
            } => Self {
                sys_admin,
                claims: user_claims(&user),
                user: Some(user),
                app,
                role_id,
                no_role_reason,
                read_only: false,
                grant_id: None,
            },
            Identity::Grant {
                user,
                app,
                role_id,
                read_only,
                grant_id,
                ..
            } => Self {
                sys_admin: false,
                claims: user_claims(&user),
                user: Some(user),
                app: Some(app),
                role_id: Some(role_id),
                no_role_reason: None,
                read_only,
                grant_id: Some(grant_id),
            },
        }
    }
}

/// A user's stored provider attributes (`{user.claims.*}`), when there are any.
fn user_claims(user: &UserRecord) -> Option<Arc<Map<String, Value>>> {
    match serde_json::from_str(&user.claims) {
        Ok(Value::Object(m)) if !m.is_empty() => Some(Arc::new(m)),
        _ => None,
    }
}

/// Why a person an identity provider vouched for has no role.
#[must_use]
pub fn no_role(provider: &str) -> String {
    format!(
        "No role: the groups that identity provider '{provider}' reports for you match no role mapping, and it has no default role."
    )
}

/// DreamFactory's rule for a signed-in user: their role for the calling app, else the app's
/// default role.
pub fn session_role(app_roles: &[AppRole], app: Option<&AppRecord>) -> Option<i64> {
    let app = app?;
    app_roles
        .iter()
        .find(|r| r.app_id == app.id)
        .map(|r| r.role_id)
        .or(app.role_id)
}

/// Why a caller could not be authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "No session token (JWT) or API Key detected in request. Please send in X-DreamFactory-Session-Token and/or X-DreamFactory-API-Key request header. You can also use URL query parameters session_token and/or api_key."
    )]
    NoCredentials,
    #[error("Invalid API Key.")]
    InvalidApiKey,
    #[error("The API Key's application is not active.")]
    InactiveApp,
    #[error(
        "Invalid token: the session token is malformed, forged or revoked. Please log in again."
    )]
    InvalidToken,
    #[error(
        "Token has expired. Session expired. Please refresh your token (if still within refresh window) or re-login."
    )]
    ExpiredToken,
    #[error("Invalid credentials supplied.")]
    BadLogin,
    #[error("The user account is disabled.")]
    Disabled,
    #[error("The identity provider's signing keys cannot be fetched right now. Try again later.")]
    ProviderUnavailable,
    #[error(
        "This token was issued for the MCP endpoint (/mcp) and is accepted there only. Use an API key or a session token here."
    )]
    WrongAudience,
    #[error("internal authentication error: {0}")]
    Internal(&'static str),
    #[error(transparent)]
    System(#[from] system::SystemError),
}

/// Verifies the credentials of a request. `Ok(None)` when none were sent.
pub async fn authenticate(
    state: &AppState,
    creds: &Credentials,
) -> Result<Option<Identity>, AuthError> {
    let app = match &creds.api_key {
        Some(key) => Some(
            state
                .app_by_key(key)
                .await?
                .ok_or(AuthError::InvalidApiKey)?,
        ),
        None => None,
    };
    if app.as_ref().is_some_and(|a| !a.is_active) {
        return Err(AuthError::InactiveApp);
    }
    match &creds.session_token {
        Some(token) if crate::oauth::tokens::is_access_token(state, token) => {
            let vouched = creds
                .bridge
                .as_deref()
                .is_some_and(|b| state.oauth.is_bridge(b));
            if !vouched || !state.config.oauth.enabled {
                return Err(AuthError::WrongAudience);
            }
            crate::oauth::grant_identity(state, token).await.map(Some)
        }
        Some(token) => {
            if let Some(identity) = external(state, token, app.as_ref()).await? {
                return Ok(Some(identity));
            }
            let (user, claims) = session_user(state, token).await?;
            let (role_id, no_role_reason, sys_admin) =
                session_role_of(state, &user, app.as_deref()).await?;
            // Deactivating a role ends the sessions acting under it (DreamFactory invalidates
            // its tokens); a later session, like an API key alone, just gets no access.
            if let Some(id) = role_id
                && let Some(role) = state.compiled_role(id).await?
                && !role.is_active
                && claims.iat <= role.changed_at
            {
                return Err(AuthError::InvalidToken);
            }
            Ok(Some(Identity::Session {
                user,
                app,
                role_id,
                no_role_reason,
                sys_admin,
            }))
        }
        None => Ok(app.map(Identity::App)),
    }
}

/// The role a signed-in user acts under through `app`, why they have none (when a provider's
/// mapping gave none), and whether they are an unrestricted sys-admin. A person an identity
/// provider vouched for gets the provider's mapping of the groups it reported at sign-in (no
/// session when the provider is gone or inactive); a local user their per-app role, else the
/// app's default role.
pub async fn session_role_of(
    state: &AppState,
    user: &UserRecord,
    app: Option<&AppRecord>,
) -> Result<(Option<i64>, Option<String>, bool), AuthError> {
    if let Some(provider_id) = user.provider_service_id {
        let (provider, mapping) = state
            .providers
            .mapping_of(&state.provider_sources(), provider_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let groups: Vec<String> = serde_json::from_str(&user.provider_groups).unwrap_or_default();
        let role = mapping
            .resolve(&groups, app.map(|a| a.id))
            .map(|(id, _)| id);
        return Ok((role, role.is_none().then(|| no_role(&provider)), false));
    }
    let app_roles = state.app_roles_of(user.id).await?;
    Ok((
        session_role(&app_roles, app),
        None,
        user.is_sys_admin && app_roles.is_empty(),
    ))
}

/// The user of a valid, unrevoked Rampart session token, with the token's claims: refused
/// after logout (its id revoked), after a password change, disable or role change (the
/// user's session epoch moved on), and when the user is gone or inactive.
pub async fn session_user(
    state: &AppState,
    token: &str,
) -> Result<(Arc<UserRecord>, session::Claims), AuthError> {
    let claims = state.sessions.verify(token).await?;
    if state.is_revoked(&claims.jti).await? {
        return Err(AuthError::InvalidToken);
    }
    let id: i64 = claims.sub.parse().map_err(|_| AuthError::InvalidToken)?;
    let user = state.user(id).await?.ok_or(AuthError::InvalidToken)?;
    if !user.is_active || user.session_epoch != claims.sep {
        return Err(AuthError::InvalidToken);
    }
    if claims.kind == SessionKind::Admin && !user.is_sys_admin {
        return Err(AuthError::InvalidToken);
    }
    Ok((user, claims))
}

/// Registered claims that change with every token: kept out of a user's stored attributes.
const TOKEN_CLAIMS: &[&str] = &["exp", "nbf", "iat", "jti", "iss", "aud"];

/// A token of an external issuer, verified by the `jwt` service whose issuer it names;
/// `None` when it names no configured issuer (it may be a Rampart session token).
async fn external(
    state: &AppState,
    token: &str,
    app: Option<&Arc<AppRecord>>,
) -> Result<Option<Identity>, AuthError> {
    // Rampart's own session tokens (the common case) need no provider lookup.
    let Some(iss) = claimed_issuer(token).filter(|iss| *iss != state.config.jwt_issuer) else {
        return Ok(None);
    };
    let Some(provider) = state
        .providers
        .jwt_issuer(&state.provider_sources(), &iss)
        .await?
    else {
        return Ok(None);
    };
    let identity = provider.verify(token).await.map_err(|e| match e {
        TokenError::Expired => AuthError::ExpiredToken,
        TokenError::Invalid => AuthError::InvalidToken,
        TokenError::KeysUnavailable => AuthError::ProviderUnavailable,
    })?;
    let user = state.external_user(&identity, TOKEN_CLAIMS).await?;
    if !user.is_active {
        return Err(AuthError::Disabled);
    }
    let role = provider
        .mapping
        .resolve(&identity.groups, app.map(|a| a.id));
    let ExternalIdentity {
        service_name,
        claims,
        ..
    } = identity;
    Ok(Some(Identity::External {
        user,
        app: app.cloned(),
        role,
        provider: service_name,
        claims: Arc::new(claims),
    }))
}

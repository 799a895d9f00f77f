//! Authentication: credentials → `Identity` (a verified credential) → `Principal` (who, which
//! app, which role). DreamFactory's role rule: the user's role for the calling app, else the
//! app's default role; no role means no access to data services.
//!
//! Architecture invariant: nothing downstream of `Principal` knows how the caller signed in.

pub mod password;
pub mod session;

use std::sync::Arc;

use crate::state::AppState;
use crate::system::{self, apps::AppRecord, users::UserRecord};
use session::SessionKind;

/// Credentials as found in the request (header, query or body), not yet verified.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub api_key: Option<String>,
    pub session_token: Option<String>,
}

/// A verified credential.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A valid session token for a user or admin, with or without an app key.
    Session {
        user: Arc<UserRecord>,
        app: Option<Arc<AppRecord>>,
    },
    /// A valid API key alone.
    App(Arc<AppRecord>),
}

/// Who is calling, and under which role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Option<Arc<UserRecord>>,
    pub app: Option<Arc<AppRecord>>,
    /// The role that governs data-service access, if any.
    pub role_id: Option<i64>,
}

impl Principal {
    /// A signed-in sys-admin (who governs the system API).
    #[must_use]
    pub fn is_sys_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_sys_admin)
    }

    /// Resolves the role of an identity (DreamFactory's rule).
    #[must_use]
    pub fn from_identity(identity: Identity) -> Self {
        match identity {
            Identity::App(app) => Self {
                role_id: app.role_id,
                user: None,
                app: Some(app),
            },
            Identity::Session { user, app } => {
                // Per-user, per-app roles arrive with local users; until then the app's
                // default role applies to a signed-in caller too.
                let role_id = app.as_ref().and_then(|a| a.role_id);
                Self {
                    user: Some(user),
                    app,
                    role_id,
                }
            }
        }
    }
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
        Some(token) => {
            let claims = state.sessions.verify(token)?;
            if state.is_revoked(&claims.jti).await? {
                return Err(AuthError::InvalidToken);
            }
            let id: i64 = claims.sub.parse().map_err(|_| AuthError::InvalidToken)?;
            let user = state.user(id).await?.ok_or(AuthError::InvalidToken)?;
            if !user.is_active {
                return Err(AuthError::InvalidToken);
            }
            if claims.kind == SessionKind::Admin && !user.is_sys_admin {
                return Err(AuthError::InvalidToken);
            }
            Ok(Some(Identity::Session { user, app }))
        }
        None => Ok(app.map(Identity::App)),
    }
}

//! The authorization code flow with the store: a checked request waits under a random handle
//! (bound to the browser by a cookie) for the user's sign-in and consent; consent makes a
//! single-use code; the code, with its PKCE verifier, becomes a grant with an access token and
//! a refresh token; each refresh rotates the refresh token, and a used one presented again
//! revokes the whole grant.

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::authorize::{self, Authorization, answer_url, pkce_verifies};
use super::{READ, WRITE, tokens};
use crate::auth::AuthError;
use crate::state::AppState;
use crate::system::oauth::{self as store, CodeState, GrantRecord, NewGrant, RefreshState};
use crate::system::{SystemError, Tx};

/// How long a user has to sign in and decide.
const REQUEST_SECONDS: i64 = 600;

/// A new random token: 32 bytes, base64url.
#[must_use]
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A request in flight: what was asked, and who signed in (once someone has).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub authorization: Authorization,
    pub user_id: Option<i64>,
    pub role_id: Option<i64>,
    /// Set when the person leaves to sign in at an identity provider: the way back must carry
    /// it, so nobody can bring another person's sign-in back to this request.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// What a code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodePayload {
    authorization: Authorization,
    user_id: i64,
    role_id: i64,
    scopes: Vec<String>,
    session_epoch: i64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Keeps a checked request under a new handle; returns the handle.
pub async fn begin(state: &AppState, authorization: Authorization) -> Result<String, SystemError> {
    let handle = random_token();
    let pending = Pending {
        authorization,
        user_id: None,
        role_id: None,
        nonce: None,
    };
    let t = now();
    store::put_request(
        &state.store,
        &handle,
        &serde_json::to_string(&pending).unwrap_or_default(),
        t + REQUEST_SECONDS,
        t,
    )
    .await?;
    Ok(handle)
}

/// Updates a request still in flight; `false` when it ended meanwhile (never brought back).
async fn save(state: &AppState, handle: &str, pending: &Pending) -> Result<bool, SystemError> {
    store::update_request(
        &state.store,
        handle,
        &serde_json::to_string(pending).unwrap_or_default(),
        now(),
    )
    .await
}

/// The request in flight under `handle`, unless it expired or ended.
pub async fn pending(state: &AppState, handle: &str) -> Result<Option<Pending>, SystemError> {
    Ok(store::get_request(&state.store, handle, now())
        .await?
        .and_then(|p| serde_json::from_str(&p).ok()))
}

/// Starts a sign-in at an identity provider for the request: the nonce its way back carries.
pub async fn leave(
    state: &AppState,
    handle: &str,
    mut pending: Pending,
) -> Result<String, SystemError> {
    let nonce = random_token();
    pending.nonce = Some(nonce.clone());
    if !save(state, handle, &pending).await? {
        return Err(SystemError::Invalid("the request ended".into()));
    }
    Ok(nonce)
}

/// Records who signed in for the request, and the role they would act under.
pub async fn signed_in(
    state: &AppState,
    handle: &str,
    mut pending: Pending,
    user_id: i64,
    role_id: i64,
) -> Result<Pending, SystemError> {
    pending.user_id = Some(user_id);
    pending.role_id = Some(role_id);
    if !save(state, handle, &pending).await? {
        return Err(SystemError::Invalid("the request ended".into()));
    }
    Ok(pending)
}

/// The user's decision: the URL that takes the answer back to the client — a code, or
/// `access_denied` — with `state` and `iss` (RFC 9207). `None` when the request already ended
/// or nobody signed in for it.
pub async fn decide(
    state: &AppState,
    handle: &str,
    allow: bool,
    read_only: bool,
) -> Result<Option<(Pending, String)>, SystemError> {
    let Some(pending) = pending(state, handle).await? else {
        return Ok(None);
    };
    let (Some(user_id), Some(role_id)) = (pending.user_id, pending.role_id) else {
        return Ok(None);
    };
    let a = &pending.authorization;
    let issuer = state.oauth_issuer();
    let mut tx = state.store.begin().await?;
    if !store::end_request(&mut tx, handle).await? {
        return Ok(None);
    }
    if !allow {
        tx.commit().await?;
        let url = answer_url(
            &a.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The user did not allow access."),
                ("state", &a.state),
                ("iss", &issuer),
            ],
        );
        return Ok(Some((pending, url)));
    }
    let Some(user) = state.user(user_id).await.map_err(auth_to_system)? else {
        return Ok(None);
    };
    let scopes: Vec<String> = if read_only {
        vec![READ.to_owned()]
    } else {
        a.scopes.clone()
    };
    let code = random_token();
    let payload = CodePayload {
        authorization: a.clone(),
        user_id,
        role_id,
        scopes,
        session_epoch: user.session_epoch,
    };
    let t = now();
    let ttl = i64::try_from(state.config.oauth.code_seconds).unwrap_or(60);
    store::put_code(
        &mut tx,
        &code,
        &serde_json::to_string(&payload).unwrap_or_default(),
        t + ttl,
        t,
    )
    .await?;
    tx.commit().await?;
    let url = answer_url(
        &a.redirect_uri,
        &[("code", &code), ("state", &a.state), ("iss", &issuer)],
    );
    Ok(Some((pending, url)))
}

fn auth_to_system(e: AuthError) -> SystemError {
    match e {
        AuthError::System(s) => s,
        other => SystemError::Invalid(other.to_string()),
    }
}

/// A refusal at the token endpoint (RFC 6749 §5.2).
#[derive(Debug)]
pub struct TokenError {
    pub error: &'static str,
    pub description: String,
    /// The grant it concerns, when one was found (for the audit trail).
    pub grant_id: Option<i64>,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            grant_id: None,
        }
    }

    fn grant(mut self, id: i64) -> Self {
        self.grant_id = Some(id);
        self
    }
}

impl From<SystemError> for TokenError {
    fn from(e: SystemError) -> Self {
        tracing::error!(error = %e, "token endpoint: system store error");
        Self::new("server_error", "The server could not complete the request.")
    }
}

impl From<AuthError> for TokenError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::System(s) => s.into(),
            AuthError::Internal(cause) => {
                tracing::error!(cause, "token endpoint: internal error");
                Self::new("server_error", "The server could not complete the request.")
            }
            other => Self::new("invalid_grant", other.to_string()),
        }
    }
}

/// What the token endpoint answers.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
    /// The grant (not sent; for the audit trail).
    #[serde(skip)]
    pub grant: GrantRecord,
}

/// The form fields of a token request.
pub type Form = std::collections::HashMap<String, String>;

fn field<'a>(form: &'a Form, name: &str) -> Result<&'a str, TokenError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| TokenError::new("invalid_request", format!("{name} is required.")))
}

/// A new refresh token for a grant, in `tx`.
async fn new_refresh(state: &AppState, tx: &mut Tx, grant_id: i64) -> Result<String, SystemError> {
    let token = random_token();
    let days = i64::try_from(state.config.oauth.refresh_token_days).unwrap_or(30);
    store::put_refresh(tx, &token, grant_id, now() + days * 86_400).await?;
    Ok(token)
}

/// `grant_type=authorization_code`: the code (once), its client and redirect URI, the PKCE
/// verifier and the resource must all match.
pub async fn exchange(state: &AppState, form: &Form) -> Result<TokenResponse, TokenError> {
    let code = field(form, "code")?;
    let client_id = field(form, "client_id")?;
    let redirect_uri = field(form, "redirect_uri")?;
    let verifier = form
        .get("code_verifier")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            TokenError::new(
                "invalid_request",
                "code_verifier is required (PKCE is mandatory).",
            )
        })?;
    let mut tx = state.store.begin().await?;
    let (payload, expires_at) = match store::code_state(&mut tx, code).await? {
        CodeState::Unknown => {
            return Err(TokenError::new(
                "invalid_grant",
                "The authorization code is not valid.",
            ));
        }
        CodeState::Used { grant_id } => {
            drop(tx);
            super::end_grant(state, grant_id, "its authorization code was used twice").await?;
            return Err(TokenError::new(
                "invalid_grant",
                "The authorization code was already used; the access it gave is revoked.",
            )
            .grant(grant_id));
        }
        CodeState::Fresh {
            payload,
            expires_at,
        } => (payload, expires_at),
    };
    if expires_at < now() {
        return Err(TokenError::new(
            "invalid_grant",
            "The authorization code has expired.",
        ));
    }
    let payload: CodePayload = serde_json::from_str(&payload)
        .map_err(|_| TokenError::new("invalid_grant", "The authorization code is not valid."))?;
    let a = &payload.authorization;
    if a.client_id != client_id {
        return Err(TokenError::new(
            "invalid_grant",
            "The authorization code was issued to another client.",
        ));
    }
    if a.redirect_uri != redirect_uri {
        return Err(TokenError::new(
            "invalid_grant",
            "redirect_uri differs from the one of the authorization request.",
        ));
    }
    if !pkce_verifies(verifier, &a.code_challenge) {
        return Err(TokenError::new(
            "invalid_grant",
            "The code_verifier does not match the code_challenge.",
        ));
    }
    if let Some(r) = form.get("resource").filter(|r| !r.is_empty())
        && !authorize::same_resource(r, &a.resource)
    {
        return Err(TokenError::new(
            "invalid_target",
            format!("The code was issued for {}, not {r}.", a.resource),
        ));
    }
    let new = NewGrant {
        user_id: payload.user_id,
        client_id: a.client_id.clone(),
        client_name: a.client_name.clone(),
        app_id: a.app_id,
        role_id: payload.role_id,
        scopes: payload.scopes.join(" "),
        resource: a.resource.clone(),
        session_epoch: payload.session_epoch,
    };
    let t = now();
    let id = store::add_grant(&mut tx, &new, t).await?;
    if !store::use_code(&mut tx, code, id).await? {
        return Err(TokenError::new(
            "invalid_grant",
            "The authorization code was already used.",
        ));
    }
    let refresh = new_refresh(state, &mut tx, id).await?;
    tx.commit().await?;
    let grant = GrantRecord {
        id,
        user_id: new.user_id,
        client_id: new.client_id,
        client_name: new.client_name,
        app_id: new.app_id,
        role_id: new.role_id,
        scopes: new.scopes,
        resource: new.resource,
        session_epoch: new.session_epoch,
        created_at: t,
        last_used_at: Some(t),
        revoked_at: None,
        revoked_reason: None,
    };
    // The user, app and role must still be what they were at consent.
    super::grant_in_force(state, &grant)
        .await
        .map_err(|e| TokenError::from(e).grant(id))?;
    respond(state, grant, refresh, None).await
}

async fn respond(
    state: &AppState,
    grant: GrantRecord,
    refresh_token: String,
    narrower: Option<String>,
) -> Result<TokenResponse, TokenError> {
    let scope = narrower.unwrap_or_else(|| grant.scopes.clone());
    let (access_token, expires_in) = tokens::issue(state, &grant, &scope).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        scope,
        grant,
    })
}

/// `grant_type=refresh_token`: the token (once; a reused one revokes its grant), its client,
/// and a grant still in force. `scope` may narrow the new access token, never widen it.
pub async fn refresh(state: &AppState, form: &Form) -> Result<TokenResponse, TokenError> {
    let token = field(form, "refresh_token")?;
    let client_id = field(form, "client_id")?;
    let mut tx = state.store.begin().await?;
    let grant_id = match store::take_refresh(&mut tx, token, now()).await? {
        RefreshState::Unknown => {
            return Err(TokenError::new(
                "invalid_grant",
                "The refresh token is not valid (unknown, or its grant was revoked).",
            ));
        }
        RefreshState::Expired => {
            return Err(TokenError::new(
                "invalid_grant",
                "The refresh token has expired.",
            ));
        }
        RefreshState::Reused { grant_id } => {
            drop(tx);
            super::end_grant(state, grant_id, "a refresh token was used twice").await?;
            return Err(TokenError::new(
                "invalid_grant",
                "The refresh token was already used; the grant is revoked.",
            )
            .grant(grant_id));
        }
        RefreshState::Taken { grant_id } => grant_id,
    };
    let grant = store::grant(&state.store, grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| TokenError::new("invalid_grant", "The grant was revoked."))?;
    if grant.client_id != client_id {
        return Err(TokenError::new(
            "invalid_grant",
            "The refresh token was issued to another client.",
        ));
    }
    let narrower = match form.get("scope").filter(|s| !s.is_empty()) {
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if !asked.iter().all(|s| grant.has_scope(s)) {
                return Err(TokenError::new(
                    "invalid_scope",
                    format!("The grant allows {} only.", grant.scopes),
                ));
            }
            let mut scopes: Vec<&str> = super::SCOPES
                .iter()
                .copied()
                .filter(|s| asked.contains(s))
                .collect();
            if scopes.contains(&WRITE) && !scopes.contains(&READ) {
                scopes.insert(0, READ);
            }
            Some(scopes.join(" "))
        }
        None => None,
    };
    let refresh = new_refresh(state, &mut tx, grant_id).await?;
    tx.commit().await?;
    super::grant_in_force(state, &grant)
        .await
        .map_err(|e| TokenError::from(e).grant(grant_id))?;
    respond(state, grant, refresh, narrower).await
}

/// `POST /oauth/revoke` (RFC 7009): an access or refresh token of `client_id` ends its whole
/// grant. Unknown tokens are no error. Returns the grant revoked, if any.
pub async fn revoke_token(
    state: &AppState,
    token: &str,
    client_id: &str,
) -> Result<Option<i64>, SystemError> {
    let grant_id = if tokens::is_access_token(state, token) {
        tokens::verify(state, token).await.ok().map(|c| c.gid)
    } else {
        let mut tx = state.store.begin().await?;
        store::refresh_grant(&mut tx, token).await?
    };
    let Some(id) = grant_id else {
        return Ok(None);
    };
    let grant = store::grant(&state.store, id).await?;
    if !grant.is_some_and(|g| g.client_id == client_id && g.revoked_at.is_none()) {
        return Ok(None);
    }
    super::end_grant(state, id, "revoked by the client").await?;
    Ok(Some(id))
}

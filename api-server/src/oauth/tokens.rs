//! Access tokens: short-lived JWTs (`typ: at+jwt`, RFC 9068) signed with the store's session
//! keys, bound to one audience — this server's MCP resource — and naming their grant, which
//! every use checks (so revocation needs no wait for expiry).

use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::auth::session::TokenKind;
use crate::state::AppState;
use crate::system::oauth::GrantRecord;

/// The `typ` header of access tokens.
pub const TYP: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: String,
    pub iss: String,
    /// The MCP resource's canonical URL.
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub client_id: String,
    /// The app the client acts through.
    pub app: i64,
    /// The role consented to.
    pub role: i64,
    /// Space-separated scopes.
    pub scope: String,
    /// The grant.
    pub gid: i64,
}

impl AccessClaims {
    /// Whether the token carries `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// Whether a bearer token presents itself as one of this server's access tokens: its `typ`
/// header and its issuer (an external issuer's RFC 9068 token is the `jwt` services' to
/// verify). Only a hint for routing: verification checks both again with the signature.
#[must_use]
pub fn is_access_token(state: &AppState, token: &str) -> bool {
    let typed = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.typ)
        .is_some_and(|t| t.eq_ignore_ascii_case(TYP));
    typed && crate::identity::jwt::claimed_issuer(token).is_some_and(|i| i == state.oauth_issuer())
}

/// A new access token for `grant` with `scopes` (a subset of the grant's); returns it with
/// its lifetime in seconds.
pub async fn issue(
    state: &AppState,
    grant: &GrantRecord,
    scopes: &str,
) -> Result<(String, i64), AuthError> {
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(state.config.oauth.access_token_seconds).unwrap_or(300);
    let claims = AccessClaims {
        sub: grant.user_id.to_string(),
        iss: state.oauth_issuer(),
        aud: grant.resource.clone(),
        iat: now,
        nbf: now - 5,
        exp: now + ttl,
        jti: uuid::Uuid::new_v4().to_string(),
        client_id: grant.client_id.clone(),
        app: grant.app_id,
        role: grant.role_id,
        scope: scopes.to_owned(),
        gid: grant.id,
    };
    Ok((state.sessions.sign(&claims, TYP).await?, ttl))
}

/// Verifies an access token's signature, type, issuer, audience (this server's MCP resource)
/// and time window.
pub async fn verify(state: &AppState, token: &str) -> Result<AccessClaims, AuthError> {
    let resource = state.mcp_resource();
    let issuer = state.oauth_issuer();
    let kind = TokenKind {
        typ: TYP,
        issuer: &issuer,
        audience: &resource,
    };
    state.sessions.verify_as(token, &kind).await
}

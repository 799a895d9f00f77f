//! OpenID Connect (`oidc` services): the authorization-code flow with PKCE (S256), a
//! single-use `state` and a `nonce`, and an ID token verified against the provider's JWKS.
//!
//! What is checked, whatever the provider advertises: the ID token's algorithm is one of the
//! service's allow-list (asymmetric only: an HS256 token signed with the client secret is
//! refused even when the provider offers HS256); `iss`, `aud`, `exp` and the nonce must match;
//! the callback's `iss` parameter, when sent, must name this provider (mix-up defence); a
//! Microsoft Entra tenant (`tid`) is checked when configured. The provider's metadata and keys
//! are re-read when a token names a key they do not hold, at most once a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::ExternalIdentity;
use super::mapping::RoleMapping;
use super::settings::{redirect_allowed, redirects, secure_or_local, strings, text};

/// How long discovered metadata is trusted before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The shortest time between two re-reads forced by an unknown key.
const REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// ID-token claims that change with every sign-in: not kept as the user's attributes.
pub const VOLATILE_CLAIMS: &[&str] = &[
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "auth_time",
    "sid",
    "jti",
    "iss",
    "aud",
    "azp",
];

/// Algorithms an `oidc` service may allow for ID tokens: asymmetric only.
const ALLOWED: &[(&str, CoreJwsSigningAlgorithm)] = &[
    ("RS256", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
    ("RS384", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384),
    ("RS512", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512),
    ("PS256", CoreJwsSigningAlgorithm::RsaSsaPssSha256),
    ("PS384", CoreJwsSigningAlgorithm::RsaSsaPssSha384),
    ("PS512", CoreJwsSigningAlgorithm::RsaSsaPssSha512),
    ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ("ES384", CoreJwsSigningAlgorithm::EcdsaP384Sha384),
    ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
];

/// An `oidc` service's settings, validated (the client secret decrypted).
#[derive(Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    pub redirect_url: String,
    pub allowed_redirects: Vec<url::Url>,
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// Microsoft Entra: the tenant (`tid`) tokens must come from.
    pub tenant_id: Option<String>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcSettings {
    /// Reads and checks a service config (`client_secret` decrypted).
    pub fn from_config(config: &Map<String, Value>) -> Result<Self, String> {
        let issuer = text(config, "discovery_url")?.ok_or("'discovery_url' is required.")?;
        secure_or_local(&issuer, "discovery_url")?;
        let issuer = issuer
            .trim_end_matches("/.well-known/openid-configuration")
            .to_owned();
        let redirect_url = text(config, "redirect_url")?.ok_or("'redirect_url' is required.")?;
        secure_or_local(&redirect_url, "redirect_url")?;
        let allowed_redirects = redirects(config)?;
        let algorithms = match strings(config, "algorithms")? {
            None => vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
            Some(names) if names.is_empty() => return Err("'algorithms' may not be empty.".into()),
            Some(names) => names
                .iter()
                .map(|n| {
                    ALLOWED
                        .iter()
                        .find(|(name, _)| name == n)
                        .map(|(_, a)| a.clone())
                        .ok_or_else(|| {
                            format!("Algorithm '{n}' is not allowed for ID tokens (asymmetric ones only: RS*, PS*, ES256, ES384, EdDSA).")
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let mut scopes = strings(config, "scopes")?
            .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        Ok(Self {
            issuer,
            client_id: text(config, "client_id")?.ok_or("'client_id' is required.")?,
            client_secret: text(config, "client_secret")?.ok_or("'client_secret' is required.")?,
            scopes,
            groups_claim: text(config, "groups_claim")?.unwrap_or_else(|| "groups".into()),
            redirect_url,
            allowed_redirects,
            algorithms,
            tenant_id: text(config, "tenant_id")?,
        })
    }

    /// Whether a post-login redirect is allowed: an absolute http(s) URL whose origin and
    /// path equal an allow-listed one's (its query may differ), with no user info.
    #[must_use]
    pub fn redirect_allowed(&self, raw: &str) -> bool {
        redirect_allowed(&self.allowed_redirects, raw)
    }
}

/// What finishing a sign-in needs, kept (sealed) between the redirect and the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub verifier: String,
    pub nonce: String,
    pub redirect: Option<String>,
    /// The hash of the cookie that ties the sign-in to the browser that started it.
    pub browser: String,
}

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The code, the token or its claims were refused.
    #[error("{0}")]
    Refused(String),
}

type Discovered = (Arc<CoreProviderMetadata>, Instant);

/// A configured OpenID Connect provider.
pub struct OidcProvider {
    pub service_id: i64,
    pub service_name: String,
    pub settings: OidcSettings,
    pub mapping: RoleMapping,
    metadata: RwLock<Option<Discovered>>,
    http: reqwest::Client,
}

/// An HTTP client for talking to providers: no redirects followed (the token endpoint must
/// answer itself), bounded time.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}

/// Reads the provider's discovery document (and keys); the reason when it cannot.
pub async fn check(settings: &OidcSettings) -> Result<(), String> {
    let http = http_client()?;
    discover(&http, &settings.issuer)
        .await
        .map(|_| ())
        .map_err(|e| format!("Cannot read the provider's discovery document: {e}"))
}

async fn discover(http: &reqwest::Client, issuer: &str) -> Result<CoreProviderMetadata, String> {
    let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
    CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| e.to_string())
}

impl OidcProvider {
    pub fn new(
        service_id: i64,
        service_name: String,
        settings: OidcSettings,
        mapping: RoleMapping,
    ) -> Result<Self, String> {
        Ok(Self {
            service_id,
            service_name,
            settings,
            mapping,
            metadata: RwLock::new(None),
            http: http_client()?,
        })
    }

    /// The provider's metadata; `refresh` forces a re-read (at most once per interval).
    async fn metadata(&self, refresh: bool) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        if let Some((m, at)) = self.metadata.read().await.clone() {
            let fresh = at.elapsed() < METADATA_TTL;
            let recently = at.elapsed() < REFRESH_INTERVAL;
            if (fresh && !refresh) || (refresh && recently) {
                return Ok(m);
            }
        }
        let m = Arc::new(
            discover(&self.http, &self.settings.issuer)
                .await
                .map_err(OidcError::Unavailable)?,
        );
        *self.metadata.write().await = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn client(
        &self,
        metadata: &CoreProviderMetadata,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| OidcError::Unavailable(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's authorization URL, the `state` it carries, and what
    /// the callback will need.
    pub async fn begin(
        &self,
        redirect: Option<String>,
    ) -> Result<(String, String, Pending), OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            state.secret().clone(),
            Pending {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                redirect,
                browser: String::new(),
            },
        ))
    }

    /// Finishes a sign-in: exchanges the code (with the PKCE verifier) and verifies the ID
    /// token; the person it names.
    pub async fn finish(
        &self,
        code: &str,
        pending: &Pending,
        callback_issuer: Option<&str>,
    ) -> Result<ExternalIdentity, OidcError> {
        if let Some(iss) = callback_issuer
            && iss.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/')
        {
            return Err(OidcError::Refused(
                "The callback names another identity provider.".into(),
            ));
        }
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(format!("The provider refused the code: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("The provider sent no ID token.".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let verified = {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(self.settings.algorithms.clone());
            id_token.claims(&verifier, &nonce).map(|_| ())
        };
        if verified.is_err() {
            // Perhaps the provider rotated its keys: read them again, once, and retry.
            let metadata = self.metadata(true).await?;
            let client = self.client(&metadata)?;
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(self.settings.algorithms.clone());
            id_token
                .claims(&verifier, &nonce)
                .map_err(|e| OidcError::Refused(format!("The ID token was refused: {e}")))?;
        }
        // The token is verified: read every claim it carries (groups and the rest).
        let claims = payload(&id_token.to_string())
            .ok_or_else(|| OidcError::Refused("The ID token cannot be read.".into()))?;
        self.identity(claims)
    }

    fn identity(&self, claims: Map<String, Value>) -> Result<ExternalIdentity, OidcError> {
        if let Some(tenant) = &self.settings.tenant_id
            && claims.get("tid").and_then(Value::as_str) != Some(tenant.as_str())
        {
            return Err(OidcError::Refused(
                "The ID token comes from another tenant.".into(),
            ));
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OidcError::Refused("The ID token has no subject.".into()))?
            .to_owned();
        let groups = match claims.get(&self.settings.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|g| match g {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(ExternalIdentity {
            service_id: self.service_id,
            service_name: self.service_name.clone(),
            subject,
            email: text("email"),
            name: text("name").or_else(|| text("preferred_username")),
            groups,
            claims,
        })
    }
}

/// The claims of a JWT, read without verification (only ever called on a verified token).
fn payload(token: &str) -> Option<Map<String, Value>> {
    use base64::Engine;
    let part = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(v: Value) -> Result<OidcSettings, String> {
        OidcSettings::from_config(v.as_object().unwrap())
    }

    fn base() -> Value {
        json!({"discovery_url": "https://idp.example.com", "client_id": "c", "client_secret": "s",
               "redirect_url": "https://api.example.com/api/v2/user/session?service=x&oauth_callback=true",
               "allowed_redirects": ["https://app.example.com/signed-in"]})
    }

    #[test]
    fn only_allow_listed_redirects_pass() {
        let s = settings(base()).unwrap();
        assert!(s.redirect_allowed("https://app.example.com/signed-in"));
        assert!(s.redirect_allowed("https://app.example.com/signed-in?next=/x"));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "https://app.example.com@evil.example/signed-in",
            "https://good@app.example.com/signed-in",
            "http://app.example.com/signed-in",
            "https://app.example.com/signed-in/../admin",
            "https://app.example.com:444/signed-in",
        ] {
            assert!(!s.redirect_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn symmetric_algorithms_and_plain_http_issuers_are_refused() {
        let mut hs = base();
        hs["algorithms"] = json!(["HS256"]);
        assert!(settings(hs).unwrap_err().contains("HS256"));
        let mut http = base();
        http["discovery_url"] = json!("http://idp.example.com");
        assert!(settings(http).is_err());
        let mut local = base();
        local["discovery_url"] = json!("http://127.0.0.1:4010/.well-known/openid-configuration");
        assert_eq!(settings(local).unwrap().issuer, "http://127.0.0.1:4010");
        for missing in [
            "client_id",
            "client_secret",
            "redirect_url",
            "discovery_url",
        ] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(missing);
            assert!(settings(v).is_err(), "{missing}");
        }
    }
}

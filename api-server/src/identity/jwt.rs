//! External bearer tokens (`jwt` services): a token whose `iss` names a configured issuer is
//! verified against that issuer's keys and becomes an `ExternalIdentity`.
//!
//! What is checked, whatever the token says about itself: the algorithm is one of the
//! service's allow-list and fits the key's type (never HMAC: a public key is no secret); the
//! key is the one named by `kid` in the configured JWKS (no "try every key", and `jku`, `x5u`
//! or `jwk` headers are never followed); `exp`, `iss` and `aud` are required, `nbf` and `iat`
//! may not lie in the future. An unknown `kid` refetches a JWKS URL, at most once per refresh
//! interval.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::ExternalIdentity;
use super::mapping::RoleMapping;
use super::settings::{secure_or_local, text};

/// Algorithms a `jwt` service may allow: asymmetric only.
const ALLOWED: &[(&str, Algorithm)] = &[
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Where the issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Fetched, and refetched when a token names an unknown `kid`.
    Url(String),
    /// Given in the service config.
    Static(JwkSet),
}

/// A `jwt` service's settings, validated.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub keys: KeySource,
    pub subject_claim: String,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    /// The shortest time between two fetches of a JWKS URL.
    pub refresh_interval: Duration,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: u64,
}

fn seconds(config: &Map<String, Value>, key: &str, default: u64, max: u64) -> Result<u64, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= max)
            .ok_or_else(|| format!("'{key}' must be a number of seconds up to {max}.")),
    }
}

impl JwtSettings {
    /// Reads and checks a `jwt` service config. `own_issuer` is Rampart's own session issuer,
    /// which no external issuer may claim.
    pub fn from_config(config: &Map<String, Value>, own_issuer: &str) -> Result<Self, String> {
        let issuer = text(config, "issuer")?.ok_or("'issuer' is required.")?;
        if issuer == own_issuer {
            return Err(format!(
                "'issuer' may not be '{own_issuer}': that is Rampart's own session issuer."
            ));
        }
        let audience: Vec<String> = match config.get("audience") {
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| "'audience' must hold strings.".to_owned())
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("'audience' is required (a string or a list of strings).".into()),
        };
        let algorithms: Vec<Algorithm> = match config.get("algorithms") {
            None | Some(Value::Null) => vec![Algorithm::RS256],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| {
                    let name = i.as_str().unwrap_or_default();
                    ALLOWED
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, a)| *a)
                        .ok_or_else(|| {
                            format!(
                                "Algorithm '{name}' is not allowed; use any of {} (HMAC algorithms are refused: the key would be a shared secret).",
                                ALLOWED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("'algorithms' must be a non-empty list.".into()),
        };
        let keys = match (text(config, "jwks_url")?, config.get("jwks")) {
            (Some(url), None | Some(Value::Null)) => {
                secure_or_local(&url, "jwks_url")?;
                KeySource::Url(url)
            }
            (None, Some(set @ Value::Object(_))) => KeySource::Static(
                serde_json::from_value(set.clone())
                    .map_err(|e| format!("'jwks' is not a JWK set: {e}"))?,
            ),
            (Some(_), Some(_)) => return Err("Give 'jwks_url' or 'jwks', not both.".into()),
            _ => return Err("'jwks_url' (or a static 'jwks' object) is required.".into()),
        };
        let claim = |key: &str, default: &str| -> Result<String, String> {
            Ok(text(config, key)?.unwrap_or_else(|| default.to_owned()))
        };
        Ok(Self {
            issuer,
            audience,
            algorithms,
            keys,
            subject_claim: claim("subject_claim", "sub")?,
            email_claim: claim("email_claim", "email")?,
            name_claim: claim("name_claim", "name")?,
            groups_claim: claim("groups_claim", "groups")?,
            refresh_interval: Duration::from_secs(seconds(
                config,
                "jwks_refresh_seconds",
                60,
                86_400,
            )?),
            leeway: seconds(config, "leeway_seconds", 30, 300)?,
        })
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Invalid,
    Expired,
    /// The issuer's keys could not be fetched.
    KeysUnavailable,
}

/// The keys known for an issuer.
#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Jwk>,
    fetched: Option<Instant>,
}

/// A configured issuer of external tokens.
pub struct JwtProvider {
    pub service_id: i64,
    pub service_name: String,
    pub settings: JwtSettings,
    pub mapping: RoleMapping,
    keys: RwLock<Keys>,
    http: reqwest::Client,
}

/// Signing keys of a set, by `kid` (keys without one, or for encryption, are left out).
fn signing_keys(set: JwkSet) -> HashMap<String, Jwk> {
    set.keys
        .into_iter()
        .filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|k| k.common.key_id.clone().map(|kid| (kid, k)))
        .collect()
}

/// Whether a key may verify a token signed with `alg`: its type must fit the algorithm, and
/// an `alg` the key declares must be that one.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm {
        let same = serde_json::to_value(declared).ok() == serde_json::to_value(alg).ok();
        if !same {
            return false;
        }
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(p) => matches!(
            (&p.curve, alg),
            (EllipticCurve::P256, Algorithm::ES256) | (EllipticCurve::P384, Algorithm::ES384)
        ),
        AlgorithmParameters::OctetKeyPair(p) => {
            p.curve == EllipticCurve::Ed25519 && alg == Algorithm::EdDSA
        }
        _ => false,
    }
}

/// The `iss` a token claims, read without verifying anything: only to pick the provider
/// that then verifies it.
#[must_use]
pub fn claimed_issuer(token: &str) -> Option<String> {
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

impl JwtProvider {
    /// A provider from its validated settings.
    pub fn new(
        service_id: i64,
        service_name: String,
        settings: JwtSettings,
        mapping: RoleMapping,
    ) -> Self {
        let keys = match &settings.keys {
            KeySource::Static(set) => Keys {
                by_kid: signing_keys(set.clone()),
                fetched: Some(Instant::now()),
            },
            KeySource::Url(_) => Keys::default(),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            service_id,
            service_name,
            settings,
            mapping,
            keys: RwLock::new(keys),
            http,
        }
    }

    /// Fetches a JWKS document.
    pub async fn fetch(http: &reqwest::Client, url: &str) -> Result<JwkSet, String> {
        let response = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("cannot fetch {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("cannot read {url}: {e}"))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("{url} is larger than a JWK set should be"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url} is not a JWK set: {e}"))
    }

    /// Checks that the configured keys can be read (when a service is saved).
    pub async fn check_keys(settings: &JwtSettings) -> Result<(), String> {
        let set = match &settings.keys {
            KeySource::Static(set) => set.clone(),
            KeySource::Url(url) => {
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| e.to_string())?;
                Self::fetch(&http, url).await?
            }
        };
        let usable = signing_keys(set)
            .values()
            .any(|k| settings.algorithms.iter().any(|a| key_fits(k, *a)));
        if usable {
            Ok(())
        } else {
            Err(
                "The JWK set holds no signing key (with a 'kid') for the allowed algorithms."
                    .into(),
            )
        }
    }

    /// The key named `kid`, refetching a JWKS URL when it is unknown and the last fetch is
    /// older than the refresh interval.
    async fn key(&self, kid: &str) -> Result<Option<Jwk>, TokenError> {
        {
            let keys = self.keys.read().await;
            if let Some(k) = keys.by_kid.get(kid) {
                return Ok(Some(k.clone()));
            }
            let fresh = keys
                .fetched
                .is_some_and(|at| at.elapsed() < self.settings.refresh_interval);
            if fresh {
                return Ok(None);
            }
        }
        let KeySource::Url(url) = &self.settings.keys else {
            return Ok(None);
        };
        let mut keys = self.keys.write().await;
        // Another request may have refreshed while this one waited.
        let fresh = keys
            .fetched
            .is_some_and(|at| at.elapsed() < self.settings.refresh_interval);
        if !fresh {
            match Self::fetch(&self.http, url).await {
                Ok(set) => {
                    keys.by_kid = signing_keys(set);
                    keys.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(service = %self.service_name, error = %e, "JWKS refresh failed");
                    keys.fetched = Some(Instant::now());
                    if keys.by_kid.is_empty() {
                        return Err(TokenError::KeysUnavailable);
                    }
                }
            }
        }
        Ok(keys.by_kid.get(kid).cloned())
    }

    /// Verifies a token from this issuer.
    pub async fn verify(&self, token: &str) -> Result<ExternalIdentity, TokenError> {
        let s = &self.settings;
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if !s.algorithms.contains(&header.alg) {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::Invalid)?;
        let jwk = self.key(kid).await?.ok_or(TokenError::Invalid)?;
        if !key_fits(&jwk, header.alg) {
            return Err(TokenError::Invalid);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::Invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&s.issuer]);
        validation.set_audience(&s.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = s.leeway;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let claims = data.claims;
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(s.leeway).unwrap_or(0);
        match claims.get("iat") {
            None => {}
            Some(v) => match v.as_i64() {
                Some(iat) if iat <= now + leeway => {}
                _ => return Err(TokenError::Invalid),
            },
        }
        let subject = match claims.get(&s.subject_claim) {
            Some(Value::String(sub)) if !sub.is_empty() && sub.len() <= 255 => sub.clone(),
            _ => return Err(TokenError::Invalid),
        };
        let string = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let groups = match claims.get(&s.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(ExternalIdentity {
            service_id: self.service_id,
            service_name: self.service_name.clone(),
            subject,
            email: string(&s.email_claim),
            name: string(&s.name_claim),
            groups,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(v: Value) -> Result<JwtSettings, String> {
        JwtSettings::from_config(v.as_object().unwrap(), "rampart")
    }

    #[test]
    fn configs_that_would_weaken_verification_are_refused() {
        let base = json!({"issuer": "https://idp.example", "audience": "rampart", "jwks_url": "https://idp.example/jwks"});
        assert!(settings(base.clone()).is_ok());
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            settings(c)
        };
        assert!(
            with("algorithms", json!(["HS256"]))
                .unwrap_err()
                .contains("HMAC")
        );
        assert!(with("algorithms", json!(["none"])).is_err());
        assert!(
            with("issuer", json!("rampart"))
                .unwrap_err()
                .contains("own")
        );
        assert!(with("audience", json!([])).is_err());
        assert!(
            with("jwks_url", json!("http://idp.example/jwks"))
                .unwrap_err()
                .contains("https")
        );
        assert!(with("jwks_url", json!("http://127.0.0.1:4030/jwks")).is_ok());
        assert!(
            with("jwks", json!({"keys": []}))
                .unwrap_err()
                .contains("not both")
        );
        assert!(settings(json!({"issuer": "x", "audience": "y"})).is_err());
    }

    #[test]
    fn keys_fit_only_their_own_algorithms() {
        let rsa: Jwk =
            serde_json::from_value(json!({"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}))
                .unwrap();
        let rsa_pinned: Jwk = serde_json::from_value(
            json!({"kty": "RSA", "kid": "k", "alg": "RS384", "n": "AQAB", "e": "AQAB"}),
        )
        .unwrap();
        let ec: Jwk = serde_json::from_value(
            json!({"kty": "EC", "kid": "e", "crv": "P-256", "x": "AQAB", "y": "AQAB"}),
        )
        .unwrap();
        let oct: Jwk =
            serde_json::from_value(json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"})).unwrap();
        assert!(key_fits(&rsa, Algorithm::RS256));
        assert!(!key_fits(&rsa, Algorithm::ES256));
        assert!(!key_fits(&rsa, Algorithm::HS256));
        assert!(!key_fits(&rsa_pinned, Algorithm::RS256));
        assert!(key_fits(&ec, Algorithm::ES256));
        assert!(!key_fits(&ec, Algorithm::ES384));
        assert!(!key_fits(&oct, Algorithm::HS256));
    }
}

//! Session tokens: HS256 JWTs. Every token carries and is checked for `exp`, `nbf`, `iat`,
//! `iss`, `aud`, `jti`, the user's session epoch and a `kid` header; the algorithm is pinned
//! (jsonwebtoken's defaults would accept a token without `aud`/`iss`).
//!
//! Keys live in the system store (sealed with the master key), so every instance signs and
//! verifies with the same ones. `rampart keys rotate` adds a key: new tokens use it at once on
//! every instance (the ring is re-read before signing), and tokens of the previous key stay
//! valid until they expire (a token naming an unknown key re-reads the ring, at most once a
//! second). Keys retired longer ago than a token lives are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::system::crypto::MasterKey;
use crate::system::{Store, SystemError, signing_keys};

/// What kind of account a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Admin,
    User,
}

/// The claims of a session token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub kind: SessionKind,
    /// The user's session epoch when the token was issued.
    pub sep: i64,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// The audience of session tokens for the REST API.
pub const AUDIENCE: &str = "rampart-api";

/// How often an unknown `kid` may make the ring be re-read.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// One signing key.
struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Unix seconds after which it verifies nothing (retired + token lifetime).
    valid_until: Option<i64>,
}

/// The keys known at one moment: the one that signs, and every one that still verifies.
#[derive(Default)]
struct Ring {
    keys: HashMap<String, Key>,
    current: Option<String>,
}

/// A key's id: the start of its secret's SHA-256.
fn kid_of(secret: &[u8]) -> String {
    use sha2::Digest;
    crate::system::crypto::hex(&sha2::Sha256::digest(secret)[..8])
}

impl Ring {
    fn insert(&mut self, secret: &[u8], valid_until: Option<i64>) -> String {
        let kid = kid_of(secret);
        self.keys.insert(
            kid.clone(),
            Key {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                valid_until,
            },
        );
        if valid_until.is_none() {
            self.current = Some(kid.clone());
        }
        kid
    }

    fn sign<C: Serialize>(&self, claims: &C, typ: &str) -> Result<String, AuthError> {
        let kid = self
            .current
            .as_ref()
            .ok_or(AuthError::Internal("no session signing key"))?;
        let key = self
            .keys
            .get(kid)
            .ok_or(AuthError::Internal("no session signing key"))?;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|_| AuthError::Internal("token signing failed"))
    }

    /// `Ok(None)`: the token names a key this ring does not hold. `kind` is what the token
    /// must be: its `typ` header, issuer and audience (a session token is no access token).
    fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        kind: &TokenKind<'_>,
        now: i64,
    ) -> Result<Option<C>, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::HS256
            || !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind.typ))
        {
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.ok_or(AuthError::InvalidToken)?;
        let Some(key) = self.keys.get(&kid) else {
            return Ok(None);
        };
        if key.valid_until.is_some_and(|t| t < now) {
            return Err(AuthError::InvalidToken);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[kind.issuer]);
        validation.set_audience(&[kind.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        match jsonwebtoken::decode::<C>(token, &key.decoding, &validation) {
            Ok(data) => Ok(Some(data.claims)),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(AuthError::ExpiredToken)
            }
            Err(_) => Err(AuthError::InvalidToken),
        }
    }
}

/// What a token must be to verify: its `typ` header, issuer and audience.
pub struct TokenKind<'a> {
    pub typ: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
}

/// The `typ` of session tokens.
const SESSION_TYP: &str = "JWT";

/// Issues and verifies session tokens with the store's keys.
pub struct SessionKeys {
    issuer: String,
    ttl_seconds: i64,
    store: Store,
    master: MasterKey,
    ring: RwLock<Arc<Ring>>,
    last_reload: Mutex<Instant>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A new random secret (64 hex characters).
fn new_secret() -> String {
    crate::system::apps::generate_key()
}

/// Adds a signing key to the store (the previous one keeps verifying its tokens until they
/// expire, or stops at once with `revoke_previous`) and drops keys retired longer ago than a
/// token lives. Returns the new key's id.
pub async fn rotate(
    store: &Store,
    master: &MasterKey,
    ttl_minutes: u64,
    revoke_previous: bool,
) -> Result<String, SystemError> {
    add_key(store, master, &new_secret(), ttl_minutes, revoke_previous).await
}

async fn add_key(
    store: &Store,
    master: &MasterKey,
    secret: &str,
    ttl_minutes: u64,
    revoke_previous: bool,
) -> Result<String, SystemError> {
    let now = chrono::Utc::now().timestamp();
    let kid = kid_of(secret.as_bytes());
    let mut tx = store.begin().await?;
    signing_keys::add(&mut tx, &kid, &master.encrypt(secret), now, revoke_previous).await?;
    signing_keys::purge(&mut tx, now - ttl_seconds(ttl_minutes)).await?;
    tx.commit().await?;
    crate::system::changes::bump(store).await?;
    Ok(kid)
}

fn ttl_seconds(ttl_minutes: u64) -> i64 {
    i64::try_from(ttl_minutes.saturating_mul(60)).unwrap_or(i64::MAX)
}

impl SessionKeys {
    /// The store's keys; when it has none in use, one is made (from `seed`, the configured
    /// `jwt_secret`, if given, else random).
    pub async fn open(
        store: Store,
        master: MasterKey,
        issuer: &str,
        ttl_minutes: u64,
        seed: Option<&str>,
    ) -> Result<Self, SystemError> {
        let stored = signing_keys::list(&store).await?;
        if !stored.iter().any(|k| k.retired_at.is_none()) {
            let secret = seed.map_or_else(new_secret, str::to_owned);
            add_key(&store, &master, &secret, ttl_minutes, false).await?;
        } else if let Some(seed) = seed
            && !stored.iter().any(|k| k.kid == kid_of(seed.as_bytes()))
        {
            tracing::warn!(
                "jwt_secret only seeds the first signing key; this store already has keys (rotate them with `rampart keys rotate`)"
            );
        }
        let keys = Self {
            issuer: issuer.to_owned(),
            ttl_seconds: ttl_seconds(ttl_minutes),
            store,
            master,
            ring: RwLock::new(Arc::new(Ring::default())),
            last_reload: Mutex::new(Instant::now()),
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// Re-reads the keys from the store.
    pub async fn reload(&self) -> Result<(), SystemError> {
        let mut ring = Ring::default();
        for k in signing_keys::list(&self.store).await? {
            let secret = self.master.decrypt(&k.secret)?;
            ring.insert(
                secret.as_bytes(),
                k.retired_at.map(|t| t.saturating_add(self.ttl_seconds)),
            );
        }
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
        Ok(())
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A new token for a user or admin in their current session epoch; returns it with its
    /// expiry (unix seconds). Signed with the store's key in use now.
    pub async fn issue(
        &self,
        user_id: i64,
        epoch: i64,
        kind: SessionKind,
    ) -> Result<(String, i64), AuthError> {
        self.reload().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the session signing keys");
            AuthError::Internal("session signing keys unavailable")
        })?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            kind,
            sep: epoch,
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now - 5,
            exp: now + self.ttl_seconds,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok((self.ring().sign(&claims, SESSION_TYP)?, claims.exp))
    }

    /// Verifies a session token: signature, algorithm, key, issuer, audience, time window.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let kind = TokenKind {
            typ: SESSION_TYP,
            issuer: &self.issuer,
            audience: AUDIENCE,
        };
        self.verify_as(token, &kind).await
    }

    /// Signs other claims (an OAuth access token) with the key in use now.
    pub async fn sign<C: Serialize>(&self, claims: &C, typ: &str) -> Result<String, AuthError> {
        self.reload().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the session signing keys");
            AuthError::Internal("session signing keys unavailable")
        })?;
        self.ring().sign(claims, typ)
    }

    /// Verifies a token of `kind` signed by [`Self::sign`].
    pub async fn verify_as<C: DeserializeOwned>(
        &self,
        token: &str,
        kind: &TokenKind<'_>,
    ) -> Result<C, AuthError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.ring().verify(token, kind, now)? {
            return Ok(claims);
        }
        // A key this instance has not seen yet (rotated elsewhere), or a forged kid: re-read
        // the keys, at most once per interval.
        let due = {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = last.elapsed() >= RELOAD_INTERVAL;
            if due {
                *last = Instant::now();
            }
            due
        };
        if due {
            self.reload().await.map_err(|e| {
                tracing::error!(error = %e, "cannot read the session signing keys");
                AuthError::Internal("session signing keys unavailable")
            })?;
            if let Some(claims) = self.ring().verify(token, kind, now)? {
                return Ok(claims);
            }
        }
        Err(AuthError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn ring() -> Ring {
        let mut r = Ring::default();
        r.insert(SECRET, None);
        r
    }

    fn claims(now: i64, exp: i64) -> Claims {
        Claims {
            sub: "7".into(),
            kind: SessionKind::Admin,
            sep: 3,
            iss: "rampart".into(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now - 5,
            exp,
            jti: "j".into(),
        }
    }

    fn kind(issuer: &str) -> TokenKind<'_> {
        TokenKind {
            typ: SESSION_TYP,
            issuer,
            audience: AUDIENCE,
        }
    }

    #[test]
    fn a_token_of_another_kind_does_not_verify() {
        let r = ring();
        let access = r.sign(&claims(now(), now() + 600), "at+jwt").unwrap();
        assert!(matches!(
            r.verify::<Claims>(&access, &kind("rampart"), now()),
            Err(AuthError::InvalidToken)
        ));
        let session = r.sign(&claims(now(), now() + 600), SESSION_TYP).unwrap();
        let as_access = TokenKind {
            typ: "at+jwt",
            issuer: "rampart",
            audience: AUDIENCE,
        };
        assert!(r.verify::<Claims>(&session, &as_access, now()).is_err());
        assert!(
            r.verify::<Claims>(&access, &as_access, now())
                .unwrap()
                .is_some()
        );
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_signed_token_verifies_with_its_claims() {
        let r = ring();
        let token = r.sign(&claims(now(), now() + 600), SESSION_TYP).unwrap();
        let c = r
            .verify::<Claims>(&token, &kind("rampart"), now())
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.sub.as_str(), c.kind, c.sep),
            ("7", SessionKind::Admin, 3)
        );
    }

    #[test]
    fn another_issuer_or_an_unknown_key_is_refused() {
        let r = ring();
        let token = r.sign(&claims(now(), now() + 600), SESSION_TYP).unwrap();
        assert!(matches!(
            r.verify::<Claims>(&token, &kind("elsewhere"), now()),
            Err(AuthError::InvalidToken)
        ));
        let mut other = Ring::default();
        other.insert(b"another-secret-another-secret-xx", None);
        let foreign = other
            .sign(&claims(now(), now() + 600), SESSION_TYP)
            .unwrap();
        assert!(matches!(
            r.verify::<Claims>(&foreign, &kind("rampart"), now()),
            Ok(None)
        ));
    }

    #[test]
    fn a_retired_key_verifies_until_its_tokens_would_have_expired() {
        let mut r = ring();
        let token = r.sign(&claims(now(), now() + 600), SESSION_TYP).unwrap();
        r.insert(SECRET, Some(now() + 600));
        r.insert(b"the-next-key-the-next-key-the-ne", None);
        assert!(
            r.verify::<Claims>(&token, &kind("rampart"), now())
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            r.verify::<Claims>(&token, &kind("rampart"), now() + 601),
            Err(AuthError::InvalidToken)
        ));
        let next = r.sign(&claims(now(), now() + 600), SESSION_TYP).unwrap();
        assert_ne!(
            jsonwebtoken::decode_header(&next).unwrap().kid,
            jsonwebtoken::decode_header(&token).unwrap().kid
        );
    }

    #[test]
    fn a_token_without_audience_or_issuer_is_refused() {
        #[derive(Serialize)]
        struct Bare {
            sub: String,
            exp: i64,
        }
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid_of(SECRET));
        let token = jsonwebtoken::encode(
            &header,
            &Bare {
                sub: "1".into(),
                exp: now() + 600,
            },
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(
            ring()
                .verify::<Claims>(&token, &kind("rampart"), now())
                .is_err()
        );
    }

    #[test]
    fn another_algorithm_is_refused_even_with_the_right_secret() {
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some(kid_of(SECRET));
        let token = jsonwebtoken::encode(
            &header,
            &claims(now(), now() + 600),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(matches!(
            ring().verify::<Claims>(&token, &kind("rampart"), now()),
            Err(AuthError::InvalidToken)
        ));
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let r = ring();
        let token = r
            .sign(&claims(now() - 7200, now() - 3600), SESSION_TYP)
            .unwrap();
        assert!(matches!(
            r.verify::<Claims>(&token, &kind("rampart"), now()),
            Err(AuthError::ExpiredToken)
        ));
    }

    #[test]
    fn garbage_is_an_invalid_token() {
        assert!(matches!(
            ring().verify::<Claims>("not.a.jwt", &kind("rampart"), now()),
            Err(AuthError::InvalidToken)
        ));
    }
}

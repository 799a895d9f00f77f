//! Session tokens: HS256 JWTs signed with the configured secret. Every token carries and is
//! checked for `exp`, `nbf`, `iat`, `iss`, `aud`, `jti` and a `kid` header; the algorithm is
//! pinned (jsonwebtoken's defaults would accept a token without `aud`/`iss`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::AuthError;

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
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Issues and verifies session tokens.
#[derive(Clone)]
pub struct SessionKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl_seconds: i64,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The audience of session tokens for the REST API.
pub const AUDIENCE: &str = "rampart-api";

impl SessionKeys {
    /// Keys from a secret (at least 32 bytes).
    #[must_use]
    pub fn new(secret: &[u8], issuer: &str, ttl_minutes: u64) -> Self {
        use sha2::Digest;
        let kid: String = sha2::Sha256::digest(secret)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            kid,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.to_owned(),
            ttl_seconds: i64::try_from(ttl_minutes.saturating_mul(60)).unwrap_or(i64::MAX),
        }
    }

    /// A new token for a user or admin; returns it with its expiry (unix seconds).
    pub fn issue(&self, user_id: i64, kind: SessionKind) -> Result<(String, i64), AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            kind,
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now - 5,
            exp: now + self.ttl_seconds,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|_| AuthError::Internal("token signing failed"))?;
        Ok((token, claims.exp))
    }

    /// Verifies a token: signature, algorithm, kid, issuer, audience, time window.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::HS256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(AuthError::InvalidToken);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(AuthError::ExpiredToken)
            }
            Err(_) => Err(AuthError::InvalidToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(b"0123456789abcdef0123456789abcdef", "rampart", 60)
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let (token, exp) = keys().issue(7, SessionKind::Admin).unwrap();
        let claims = keys().verify(&token).unwrap();
        assert_eq!(claims.sub, "7");
        assert_eq!(claims.kind, SessionKind::Admin);
        assert_eq!(claims.exp, exp);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let other = SessionKeys::new(b"another-secret-another-secret-xx", "rampart", 60);
        let (token, _) = other.issue(7, SessionKind::Admin).unwrap();
        assert!(matches!(
            keys().verify(&token),
            Err(AuthError::InvalidToken)
        ));
    }

    #[test]
    fn a_token_without_audience_or_issuer_is_refused() {
        #[derive(Serialize)]
        struct Bare {
            sub: String,
            exp: i64,
        }
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys().kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &Bare {
                sub: "1".into(),
                exp: chrono::Utc::now().timestamp() + 600,
            },
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "1".into(),
            kind: SessionKind::User,
            iss: "rampart".into(),
            aud: AUDIENCE.into(),
            iat: now - 7200,
            nbf: now - 7200,
            exp: now - 3600,
            jti: "x".into(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(k.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &k.encoding).unwrap();
        assert!(matches!(k.verify(&token), Err(AuthError::ExpiredToken)));
    }

    #[test]
    fn garbage_is_an_invalid_token() {
        assert!(matches!(
            keys().verify("not.a.jwt"),
            Err(AuthError::InvalidToken)
        ));
    }
}

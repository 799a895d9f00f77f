//! A real issuer of external tokens: test-only keys in `fixtures/jwt` (RSA `k1`, `k2`; EC
//! P-256 `e1`), tokens signed with jsonwebtoken, and the issuer's JWKS served over HTTP by
//! Python's `http.server`. Hand-built tokens (`alg: none`, HMAC keyed with a public key)
//! cover what a well-behaved library refuses to make.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer every test token names.
pub const ISSUER: &str = "http://127.0.0.1/test-issuer";
/// The audience `jwt` services in tests expect.
pub const AUDIENCE: &str = "rampart-tests";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/jwt")
        .join(name)
}

/// The public JWKs of the fixture keys, by kid.
fn public_keys() -> Value {
    let text = std::fs::read_to_string(fixture("public.json")).expect("fixtures/jwt/public.json");
    serde_json::from_str(&text).expect("public.json is JSON")
}

/// A JWK set publishing `kids`.
#[must_use]
pub fn jwks(kids: &[&str]) -> Value {
    let all = public_keys();
    json!({"keys": kids.iter().map(|k| all[*k].clone()).collect::<Vec<_>>()})
}

/// Seconds since the epoch.
#[must_use]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// Claims of a valid token for `sub`, valid for five minutes; `extra` is merged in.
#[must_use]
pub fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now(), "nbf": now(), "exp": now() + 300});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        for (k, v) in extra {
            c.insert(k, v);
        }
    }
    c
}

/// A token signed by fixture key `kid` (`e1` signs ES256, the others RS256).
#[must_use]
pub fn sign(kid: &str, claims: &Value) -> String {
    sign_typed(kid, "JWT", claims)
}

/// The same, with this `typ` header (`at+jwt` for RFC 9068 access tokens).
#[must_use]
pub fn sign_typed(kid: &str, typ: &str, claims: &Value) -> String {
    // RSA keys are PKCS#1 DER, the EC key PKCS#8 DER.
    let der = std::fs::read(fixture(&format!("{kid}.der"))).expect("fixture key");
    let (alg, key) = if kid.starts_with('e') {
        (Algorithm::ES256, EncodingKey::from_ec_der(&der))
    } else {
        (Algorithm::RS256, EncodingKey::from_rsa_der(&der))
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A token whose header and signature are given as they are (for forgeries).
#[must_use]
pub fn raw(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

/// An HS256 token keyed with the public JWK of `kid` as the shared secret (the key-confusion
/// attack).
#[must_use]
pub fn hmac_with_public_key(kid: &str, claims: &Value) -> String {
    let secret = public_keys()[kid].to_string();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// The issuer's JWKS over HTTP (Python's `http.server` on a free loopback port).
pub struct JwksServer {
    /// The URL of `jwks.json`.
    pub url: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl JwksServer {
    /// Starts serving a JWKS that publishes `kids`.
    #[must_use]
    pub fn start(kids: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("jwks.json"), jwks(kids).to_string()).expect("write jwks");
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server (install python3)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("http.server banner");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port: u16 = line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected http.server banner: {line}"));
        Self {
            url: format!("http://127.0.0.1:{port}/jwks.json"),
            dir,
            child,
        }
    }

    /// Publishes `kids` instead (key rotation).
    pub fn publish(&self, kids: &[&str]) {
        std::fs::write(self.dir.path().join("jwks.json"), jwks(kids).to_string())
            .expect("write jwks");
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The checks of an authorization request (OAuth 2.1 §4.1.1 with RFC 8707 and RFC 8252):
//! pure functions from the request's parameters and the client they name to either an
//! `Authorization` to ask the user about, or a `Refusal` — shown on a page when the client or
//! its redirect URI cannot be trusted, else sent back to the client's redirect URI.

use base64::Engine;
use sha2::Digest;

use super::{SCOPES, WRITE};

/// The parameters of `GET /oauth/authorize`, as sent.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
}

impl Params {
    /// Reads the parameters from a query string (a repeated parameter is refused later, as
    /// its value would be ambiguous: it is kept as `None` plus a flag in `duplicated`).
    #[must_use]
    pub fn from_query(query: &str) -> (Self, Vec<String>) {
        let mut p = Self::default();
        let mut seen: Vec<String> = Vec::new();
        let mut duplicated = Vec::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "response_type" => &mut p.response_type,
                "client_id" => &mut p.client_id,
                "redirect_uri" => &mut p.redirect_uri,
                "scope" => &mut p.scope,
                "state" => &mut p.state,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "resource" => &mut p.resource,
                _ => continue,
            };
            if seen.iter().any(|s| s == k.as_ref()) {
                duplicated.push(k.to_string());
            }
            seen.push(k.to_string());
            *slot = Some(v.into_owned()).filter(|v| !v.is_empty());
        }
        (p, duplicated)
    }
}

/// The client an authorization request names, as resolved (registered, or described by its
/// metadata document).
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// The app the client acts through (its role rules apply).
    pub app_id: i64,
    pub redirect_uris: Vec<String>,
    /// Refusals may be sent to its redirect URI: only for clients an admin registered. A
    /// client that described or registered itself could otherwise use this server as an open
    /// redirector to any URI it lists (RFC 9700 §4.11.2); its refusals are pages.
    pub trusted: bool,
}

/// The prefix of the ids of clients that registered themselves (Dynamic Client Registration).
pub const SELF_REGISTERED: &str = "dyn-";

/// A checked request, waiting for the user's sign-in and consent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Authorization {
    pub client_id: String,
    pub client_name: String,
    pub app_id: i64,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    pub resource: String,
    pub scopes: Vec<String>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Told to the user only: the client or redirect URI cannot be trusted with an answer.
    Page(String),
    /// Sent back to the client (RFC 6749 §4.1.2.1), with `iss` (RFC 9207).
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// Whether `given` is one of the registered redirect URIs: an exact match, or, for a
/// registered loopback URI (`http://127.0.0.1`, `http://[::1]`, `http://localhost`), the same
/// URI on any port (RFC 8252 §7.3: native apps listen on a port chosen at run time).
#[must_use]
pub fn redirect_matches(registered: &[String], given: &str) -> bool {
    if registered.iter().any(|r| r == given) {
        return true;
    }
    let Ok(given) = url::Url::parse(given) else {
        return false;
    };
    registered.iter().any(|r| {
        let Ok(r) = url::Url::parse(r) else {
            return false;
        };
        is_loopback(&r)
            && r.scheme() == given.scheme()
            && r.host_str() == given.host_str()
            && r.path() == given.path()
            && r.query() == given.query()
            && given.fragment().is_none()
            && given.username().is_empty()
            && given.password().is_none()
    })
}

/// Whether a client may register `uri` as a redirect URI: https, http on a loopback address
/// (native apps, RFC 8252), or a native app's private-use scheme (`com.example.app:/cb`);
/// absolute and without fragment. Why not, otherwise.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|_| "is not an absolute URL".to_owned())?;
    if u.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if u.scheme() == "https" || is_loopback(&u) {
        return Ok(());
    }
    if u.scheme() == "http" {
        return Err("must use https (http only on 127.0.0.1, [::1] or localhost)".into());
    }
    if u.scheme().contains('.') {
        return Ok(());
    }
    Err("must use https, loopback http, or an app's private-use scheme".into())
}

/// An `http` URL on a loopback address.
#[must_use]
pub fn is_loopback(u: &url::Url) -> bool {
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// Whether two resource URIs name the same resource: scheme and host compare without case,
/// and a trailing slash makes no difference (RFC 8707's canonical form in MCP).
#[must_use]
pub fn same_resource(a: &str, b: &str) -> bool {
    let canon = |s: &str| {
        url::Url::parse(s)
            .ok()
            .filter(|u| u.fragment().is_none())
            .map(|u| {
                let mut s = u.to_string();
                while s.ends_with('/') {
                    s.pop();
                }
                s
            })
    };
    matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

/// The scopes asked for: each one known; none means every scope.
fn scopes(asked: Option<&str>) -> Result<Vec<String>, String> {
    let Some(asked) = asked else {
        return Ok(SCOPES.iter().map(|s| (*s).to_owned()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for s in asked.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&s) {
            return Err(format!(
                "Unknown scope '{s}'; this server offers {}.",
                SCOPES.join(" ")
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    // Writing implies reading: a write-only grant would list no tool to write with.
    if out.iter().any(|s| s == WRITE) && !out.iter().any(|s| s == super::READ) {
        out.insert(0, super::READ.to_owned());
    }
    if out.is_empty() {
        return Ok(SCOPES.iter().map(|s| (*s).to_owned()).collect());
    }
    Ok(out)
}

/// A PKCE code challenge as S256 makes it: 43 characters of base64url.
fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a request from `client` for `resource` (this server's canonical MCP URL).
/// `client` is `None` when the `client_id` names no client this server knows.
pub fn check(
    p: &Params,
    duplicated: &[String],
    client: Option<&Client>,
    resource: &str,
) -> Result<Authorization, Refusal> {
    let Some(client) = client else {
        return Err(Refusal::Page(match &p.client_id {
            Some(_) => "This application is not registered with this server.".into(),
            None => "The request names no client (client_id is missing).".into(),
        }));
    };
    let Some(redirect_uri) = p.redirect_uri.clone() else {
        return Err(Refusal::Page(
            "The request names no redirect URI (redirect_uri is missing).".into(),
        ));
    };
    if !redirect_matches(&client.redirect_uris, &redirect_uri) {
        return Err(Refusal::Page(format!(
            "The redirect URI {redirect_uri} is not one registered for {}.",
            client.name
        )));
    }
    let refuse = |error: &'static str, description: String| {
        if client.trusted {
            Refusal::Redirect {
                redirect_uri: redirect_uri.clone(),
                error,
                description,
                state: p.state.clone(),
            }
        } else {
            Refusal::Page(description)
        }
    };
    if let Some(name) = duplicated.first() {
        return Err(refuse(
            "invalid_request",
            format!("The parameter {name} is sent more than once."),
        ));
    }
    if p.response_type.as_deref() != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "Only the authorization code flow (response_type=code) is supported.".into(),
        ));
    }
    let Some(state) = p.state.clone() else {
        return Err(refuse(
            "invalid_request",
            "The state parameter is required.".into(),
        ));
    };
    let Some(challenge) = p.code_challenge.clone() else {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: send code_challenge and code_challenge_method=S256.".into(),
        ));
    };
    if p.code_challenge_method.as_deref() != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "Only the S256 code challenge method is accepted (plain is refused).".into(),
        ));
    }
    if !valid_challenge(&challenge) {
        return Err(refuse(
            "invalid_request",
            "The code_challenge is not an S256 challenge (43 characters of base64url).".into(),
        ));
    }
    match &p.resource {
        None => {
            return Err(refuse(
                "invalid_target",
                format!(
                    "The resource parameter is required; this server's MCP resource is {resource}."
                ),
            ));
        }
        Some(r) if !same_resource(r, resource) => {
            return Err(refuse(
                "invalid_target",
                format!("Tokens of this server are for {resource} only, not {r}."),
            ));
        }
        Some(_) => {}
    }
    let scopes = scopes(p.scope.as_deref()).map_err(|e| refuse("invalid_scope", e))?;
    Ok(Authorization {
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        app_id: client.app_id,
        redirect_uri,
        state,
        code_challenge: challenge,
        resource: resource.to_owned(),
        scopes,
    })
}

/// Whether `verifier` is the one `challenge` was made from (S256), and well formed
/// (43–128 unreserved characters, RFC 7636 §4.1).
#[must_use]
pub fn pkce_verifies(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let made = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    crate::auth::accounts::constant_time_eq(made.as_bytes(), challenge.as_bytes())
}

/// The URL that answers the client: its redirect URI with `params` added (and `iss`).
#[must_use]
pub fn answer_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESOURCE: &str = "https://rampart.example.com/mcp";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client {
            client_id: "agent".into(),
            name: "Agent".into(),
            app_id: 3,
            redirect_uris: vec![
                "https://agent.example.com/callback".into(),
                "http://127.0.0.1/callback".into(),
            ],
            trusted: true,
        }
    }

    fn params() -> Params {
        Params {
            response_type: Some("code".into()),
            client_id: Some("agent".into()),
            redirect_uri: Some("https://agent.example.com/callback".into()),
            scope: Some("mcp:read".into()),
            state: Some("s1".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            resource: Some(RESOURCE.into()),
        }
    }

    fn error_of(r: Result<Authorization, Refusal>) -> &'static str {
        match r {
            Err(Refusal::Redirect { error, .. }) => error,
            other => panic!("expected a redirect refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_is_an_authorization() {
        let a = check(&params(), &[], Some(&client()), RESOURCE).unwrap();
        assert_eq!(a.scopes, vec!["mcp:read"]);
        assert_eq!(a.app_id, 3);
        assert_eq!(a.state, "s1");
    }

    #[test]
    fn an_unknown_client_or_redirect_is_never_redirected_to() {
        assert!(matches!(
            check(&params(), &[], None, RESOURCE),
            Err(Refusal::Page(_))
        ));
        let mut p = params();
        p.redirect_uri = Some("https://evil.example.com/callback".into());
        assert!(matches!(
            check(&p, &[], Some(&client()), RESOURCE),
            Err(Refusal::Page(_))
        ));
        p.redirect_uri = Some("https://agent.example.com/callback/../x".into());
        assert!(matches!(
            check(&p, &[], Some(&client()), RESOURCE),
            Err(Refusal::Page(_))
        ));
    }

    #[test]
    fn a_client_that_registered_itself_is_never_redirected_to_with_an_error() {
        let mut c = client();
        c.trusted = false;
        let mut p = params();
        p.response_type = None;
        assert!(matches!(
            check(&p, &[], Some(&c), RESOURCE),
            Err(Refusal::Page(_))
        ));
        assert!(check(&params(), &[], Some(&c), RESOURCE).is_ok());
    }

    #[test]
    fn loopback_redirects_match_on_any_port_only_for_loopback() {
        let c = client();
        assert!(redirect_matches(
            &c.redirect_uris,
            "http://127.0.0.1:53117/callback"
        ));
        assert!(!redirect_matches(
            &c.redirect_uris,
            "http://127.0.0.1:53117/other"
        ));
        assert!(!redirect_matches(
            &c.redirect_uris,
            "https://agent.example.com:8443/callback"
        ));
        assert!(!redirect_matches(
            &c.redirect_uris,
            "http://127.0.0.2:80/callback"
        ));
    }

    #[test]
    fn pkce_state_and_resource_are_required() {
        let c = client();
        let mut p = params();
        p.code_challenge_method = Some("plain".into());
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "invalid_request"
        );
        let mut p = params();
        p.code_challenge = None;
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "invalid_request"
        );
        let mut p = params();
        p.state = None;
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "invalid_request"
        );
        let mut p = params();
        p.resource = None;
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "invalid_target"
        );
        let mut p = params();
        p.resource = Some("https://other.example.com/mcp".into());
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "invalid_target"
        );
        let mut p = params();
        p.scope = Some("mcp:read admin".into());
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "invalid_scope"
        );
        let mut p = params();
        p.response_type = Some("token".into());
        assert_eq!(
            error_of(check(&p, &[], Some(&c), RESOURCE)),
            "unsupported_response_type"
        );
        assert_eq!(
            error_of(check(&params(), &["state".into()], Some(&c), RESOURCE)),
            "invalid_request"
        );
    }

    #[test]
    fn resources_compare_in_canonical_form() {
        assert!(same_resource(RESOURCE, "https://RAMPART.example.com/mcp/"));
        assert!(!same_resource(RESOURCE, "https://rampart.example.com/mcp2"));
        assert!(!same_resource(RESOURCE, "http://rampart.example.com/mcp"));
        assert!(!same_resource(RESOURCE, "not a url"));
    }

    #[test]
    fn writing_implies_reading_and_no_scope_means_all() {
        assert_eq!(
            scopes(Some("mcp:write")).unwrap(),
            vec!["mcp:read", "mcp:write"]
        );
        assert_eq!(scopes(None).unwrap(), vec!["mcp:read", "mcp:write"]);
        assert!(scopes(Some("openid")).is_err());
    }

    #[test]
    fn the_rfc_7636_example_verifies_and_nothing_else_does() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_verifies(verifier, CHALLENGE));
        assert!(!pkce_verifies(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            CHALLENGE
        ));
        assert!(!pkce_verifies(CHALLENGE, CHALLENGE));
        assert!(!pkce_verifies("short", CHALLENGE));
    }
}

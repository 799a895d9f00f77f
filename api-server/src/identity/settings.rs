//! Readers shared by every identity provider's config: typed values with errors that name
//! the key, and the rule for URLs a provider is reached at.

use serde_json::{Map, Value};

/// A string value; absent, null or blank is `None`.
pub fn text(config: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(format!("'{key}' must be a string.")),
    }
}

/// A list of strings; absent or null is `None`.
pub fn strings(config: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("'{key}' must be a list of strings."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("'{key}' must be a list of strings.")),
    }
}

/// A URL a provider is reached at: https, or plain http to this machine only.
pub fn secure_or_local(raw: &str, key: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|_| format!("'{key}' is not a URL: {raw}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(format!(
            "'{key}' must use https (plain http is accepted for this machine only)."
        )),
    }
}

/// The `allowed_redirects` of a config: absolute http(s) URLs.
pub fn redirects(config: &Map<String, Value>) -> Result<Vec<url::Url>, String> {
    strings(config, "allowed_redirects")?
        .unwrap_or_default()
        .iter()
        .map(|r| {
            url::Url::parse(r)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| format!("'allowed_redirects' holds a non-URL: {r}"))
        })
        .collect()
}

/// Whether a post-sign-in redirect is allowed: an absolute http(s) URL whose origin and path
/// equal an allow-listed one's (its query may differ), with no user info.
#[must_use]
pub fn redirect_allowed(allowed: &[url::Url], raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    url.username().is_empty()
        && url.password().is_none()
        && allowed.iter().any(|a| {
            a.scheme() == url.scheme()
                && a.host() == url.host()
                && a.port_or_known_default() == url.port_or_known_default()
                && a.path() == url.path()
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_read_with_the_key_named_in_errors() {
        let c = json!({"a": " x ", "blank": " ", "n": 3, "l": ["p", "q"], "bad": ["p", 1]});
        let c = c.as_object().unwrap();
        assert_eq!(text(c, "a").unwrap().as_deref(), Some("x"));
        assert_eq!(text(c, "blank").unwrap(), None);
        assert!(text(c, "n").unwrap_err().contains("'n'"));
        assert_eq!(strings(c, "l").unwrap().unwrap(), vec!["p", "q"]);
        assert!(strings(c, "bad").unwrap_err().contains("'bad'"));
        assert!(secure_or_local("https://idp.example.com", "u").is_ok());
        assert!(secure_or_local("http://127.0.0.1:9/x", "u").is_ok());
        assert!(secure_or_local("http://idp.example.com", "u").is_err());
        assert!(secure_or_local("ftp://localhost/x", "u").is_err());
    }
}

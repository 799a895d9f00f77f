//! Who a `client_id` is. A registered client (`/api/v2/system/oauth_client`) lives in an app
//! whose role rules apply. A `client_id` that is an HTTPS URL names a Client ID Metadata
//! Document: fetched without following redirects, within a size and a time limit, cached; its
//! `client_id` must be its own URL and its redirect URIs are the only ones accepted. Such
//! clients act through the app `oauth.metadata_document_app` names (none: refused).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::authorize::{Client, check_redirect_uri, is_loopback};
use crate::state::AppState;
use crate::system::SystemError;

/// A fetched Client ID Metadata Document, as far as this server uses it.
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub client_id: String,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
}

/// Why a `client_id` names no usable client (each message is shown to the user).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("This application is not registered with this server.")]
    Unknown,
    #[error("{0}")]
    Document(String),
    #[error(transparent)]
    System(#[from] SystemError),
}

/// Whether a `client_id` is a URL (a metadata document) rather than a registered id.
#[must_use]
pub fn is_document_url(client_id: &str) -> bool {
    client_id.contains("://")
}

/// The client `client_id` names.
pub async fn resolve(state: &AppState, client_id: &str) -> Result<Client, ClientError> {
    if is_document_url(client_id) {
        return from_document(state, client_id).await;
    }
    let client = state
        .oauth
        .client(&state.store, client_id)
        .await?
        .filter(|c| c.is_active)
        .ok_or(ClientError::Unknown)?;
    Ok(Client {
        client_id: client.client_id.clone(),
        name: client.name.clone(),
        app_id: client.app_id,
        redirect_uris: client.redirects(),
        trusted: !client
            .client_id
            .starts_with(super::authorize::SELF_REGISTERED),
    })
}

/// Checks that a metadata document URL may be fetched: HTTPS with a path (or loopback HTTP
/// when configured for development), no credentials, no fragment.
fn document_url(state: &AppState, client_id: &str) -> Result<url::Url, ClientError> {
    let refuse = |why: &str| ClientError::Document(format!("The client_id {client_id} {why}."));
    let url = url::Url::parse(client_id).map_err(|_| refuse("is not a valid URL"))?;
    let allowed_http =
        state.config.oauth.metadata_document_allow_loopback_http && is_loopback(&url);
    if url.scheme() != "https" && !allowed_http {
        return Err(refuse("must be an https URL"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(refuse("must have a path"));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must have no fragment or credentials"));
    }
    Ok(url)
}

async fn from_document(state: &AppState, client_id: &str) -> Result<Client, ClientError> {
    let config = &state.config.oauth;
    let Some(app_name) = &config.metadata_document_app else {
        return Err(ClientError::Document(
            "This server accepts only registered clients (Client ID Metadata Documents are not enabled)."
                .into(),
        ));
    };
    let app = crate::system::apps::list(&state.store)
        .await?
        .into_iter()
        .find(|a| &a.name == app_name && a.is_active)
        .ok_or_else(|| {
            tracing::error!(app = %app_name, "oauth.metadata_document_app names no active app");
            ClientError::Document("This server cannot take new clients right now.".into())
        })?;
    let document = match state.oauth.documents.get(client_id).await {
        Some(d) => d,
        None => {
            let d = Arc::new(fetch(state, client_id).await?);
            state
                .oauth
                .documents
                .insert(client_id.to_owned(), d.clone())
                .await;
            d
        }
    };
    Ok(Client {
        client_id: client_id.to_owned(),
        name: document
            .client_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| client_id.to_owned()),
        app_id: app.id,
        redirect_uris: document.redirect_uris.clone(),
        trusted: false,
    })
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared,
/// documentation, benchmarking, multicast or otherwise reserved (an IPv4-mapped IPv6 address
/// is judged as its IPv4 address). A metadata document is fetched from such addresses only,
/// so a `client_id` cannot make this server probe its own network.
#[must_use]
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || (a == 192 && b == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Fetches and checks a metadata document. Refusals are remembered for a minute, so one
/// `client_id` cannot make this server fetch again and again.
async fn fetch(state: &AppState, client_id: &str) -> Result<Document, ClientError> {
    if let Some(why) = state.oauth.refused_documents.get(client_id).await {
        return Err(ClientError::Document(why));
    }
    let result = fetch_once(state, client_id).await;
    if let Err(ClientError::Document(why)) = &result {
        state
            .oauth
            .refused_documents
            .insert(client_id.to_owned(), why.clone())
            .await;
    }
    result
}

async fn fetch_once(state: &AppState, client_id: &str) -> Result<Document, ClientError> {
    let config = &state.config.oauth;
    let url = document_url(state, client_id)?;
    let limit = config.metadata_document_max_bytes;
    let timeout = Duration::from_millis(config.metadata_document_timeout_ms);
    let fail = |why: &str| ClientError::Document(format!("The client's metadata document {why}."));
    // Resolve once, check every address, and connect to the one checked (no second lookup
    // that DNS rebinding could answer differently).
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port)))
        .await
        .map_err(|_| fail("did not answer in time"))?
        .map_err(|_| fail("cannot be fetched"))?;
    let addresses: Vec<std::net::SocketAddr> = lookup.collect();
    let loopback_allowed = config.metadata_document_allow_loopback_http;
    let allowed =
        |a: &std::net::SocketAddr| is_public(a.ip()) || (loopback_allowed && a.ip().is_loopback());
    let Some(address) = addresses
        .first()
        .copied()
        .filter(|_| addresses.iter().all(allowed))
    else {
        return Err(fail("cannot be fetched"));
    };
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve(&host, address)
        .build()
        .map_err(|_| fail("cannot be fetched"))?;
    let read = async {
        let mut res = http
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    fail("did not answer in time")
                } else {
                    fail("cannot be fetched")
                }
            })?;
        if !res.status().is_success() {
            return Err(fail("cannot be fetched"));
        }
        let too_large = format!("is larger than {limit} bytes");
        if res.content_length().is_some_and(|n| n > limit as u64) {
            return Err(fail(&too_large));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| {
            if e.is_timeout() {
                fail("did not answer in time")
            } else {
                fail("cannot be fetched")
            }
        })? {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Err(fail(&too_large));
            }
        }
        Ok(body)
    };
    let body = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| fail("did not answer in time"))??;
    let document: Document = serde_json::from_slice(&body)
        .map_err(|_| fail("is not a valid client metadata document (JSON)"))?;
    if document.client_id != client_id {
        return Err(fail("names another client_id than its own URL"));
    }
    if document.redirect_uris.is_empty() {
        return Err(fail("lists no redirect_uris"));
    }
    if let Some(bad) = document
        .redirect_uris
        .iter()
        .find(|u| check_redirect_uri(u).is_err())
    {
        return Err(ClientError::Document(format!(
            "The client's metadata document lists a redirect URI this server does not accept ({}).",
            bad.chars().take(100).collect::<String>()
        )));
    }
    if let Some(m) = &document.token_endpoint_auth_method
        && m != "none"
    {
        return Err(fail(
            "asks for client authentication; this server takes public clients (PKCE) only",
        ));
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_public_addresses_are_fetched_from() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}

//! Who a `client_id` is. A registered client (`/api/v2/system/oauth_client`) lives in an app
//! whose role rules apply. A `client_id` that is an HTTPS URL names a Client ID Metadata
//! Document: fetched without following redirects, within a size and a time limit, cached; its
//! `client_id` must be its own URL and its redirect URIs are the only ones accepted. Such
//! clients act through the app `oauth.metadata_document_app` names (none: refused).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::authorize::{Client, is_loopback};
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
    })
}

/// Fetches and checks a metadata document.
async fn fetch(state: &AppState, client_id: &str) -> Result<Document, ClientError> {
    let config = &state.config.oauth;
    let url = document_url(state, client_id)?;
    let limit = config.metadata_document_max_bytes;
    let fail = |why: String| {
        ClientError::Document(format!(
            "The client's metadata document at {client_id} {why}."
        ))
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.metadata_document_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(format!("cannot be fetched ({e})")))?;
    let read = async {
        let mut res = http
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    fail("did not answer in time".into())
                } else {
                    fail("cannot be fetched".into())
                }
            })?;
        if !res.status().is_success() {
            return Err(fail(format!("answered HTTP {}", res.status().as_u16())));
        }
        if res.content_length().is_some_and(|n| n > limit as u64) {
            return Err(fail(format!("is larger than {limit} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| {
            if e.is_timeout() {
                fail("did not answer in time".into())
            } else {
                fail("could not be read".into())
            }
        })? {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Err(fail(format!("is larger than {limit} bytes")));
            }
        }
        Ok(body)
    };
    let body = tokio::time::timeout(
        Duration::from_millis(config.metadata_document_timeout_ms),
        read,
    )
    .await
    .map_err(|_| fail("did not answer in time".into()))??;
    let document: Document = serde_json::from_slice(&body)
        .map_err(|_| fail("is not a valid client metadata document (JSON)".into()))?;
    if document.client_id != client_id {
        return Err(fail(format!(
            "names another client_id ({})",
            document.client_id
        )));
    }
    if document.redirect_uris.is_empty() {
        return Err(fail("lists no redirect_uris".into()));
    }
    if let Some(m) = &document.token_endpoint_auth_method
        && m != "none"
    {
        return Err(fail(format!(
            "asks for client authentication '{m}'; this server takes public clients (PKCE) only"
        )));
    }
    Ok(document)
}

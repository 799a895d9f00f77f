//! Identity providers configured as services. Each one turns a credential into an
//! `ExternalIdentity` (subject, e-mail, groups, attributes); `auth` turns that into a shadow
//! user and, through the provider's `RoleMapping`, a role. Today: external JWT issuers
//! (`jwt`).

pub mod jwt;
pub mod mapping;

use std::sync::Arc;

use serde_json::{Map, Value};
use std::sync::{PoisonError, RwLock};

use crate::system::{Store, SystemError, services};
use jwt::{JwtProvider, JwtSettings};
use mapping::RoleMapping;

/// Service types that are identity providers.
pub const PROVIDER_TYPES: &[&str] = &["jwt"];

/// What a provider vouches for about a person.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    pub service_id: i64,
    pub service_name: String,
    /// The person's stable id at the provider (never the e-mail).
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Every attribute the provider sent (`{user.claims.<name>}` in row filters).
    pub claims: Map<String, Value>,
}

/// The active providers, loaded from the system store on first use and after every change.
#[derive(Default)]
pub struct Providers {
    jwt: RwLock<Option<Arc<Vec<Arc<JwtProvider>>>>>,
}

impl Providers {
    /// Forgets the loaded providers (their keys are fetched again on next use).
    pub fn invalidate(&self) {
        *self.jwt.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The issuer of external tokens named `iss`, if one is configured.
    pub async fn jwt_issuer(
        &self,
        store: &Store,
        own_issuer: &str,
        iss: &str,
    ) -> Result<Option<Arc<JwtProvider>>, SystemError> {
        let cached = self
            .jwt
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let loaded = match cached {
            Some(l) => l,
            None => {
                // Two requests may load at once; either result is current.
                let l = Arc::new(load_jwt(store, own_issuer).await?);
                *self.jwt.write().unwrap_or_else(PoisonError::into_inner) = Some(l.clone());
                l
            }
        };
        Ok(loaded.iter().find(|p| p.settings.issuer == iss).cloned())
    }
}

async fn load_jwt(store: &Store, own_issuer: &str) -> Result<Vec<Arc<JwtProvider>>, SystemError> {
    let mut out = Vec::new();
    for record in services::list(store).await? {
        if record.kind != "jwt" || !record.is_active {
            continue;
        }
        let config = record.config_map();
        let parsed = JwtSettings::from_config(&config, own_issuer)
            .and_then(|s| RoleMapping::from_config(&config).map(|m| (s, m)));
        match parsed {
            Ok((settings, mapping)) => out.push(Arc::new(JwtProvider::new(
                record.id,
                record.name.clone(),
                settings,
                mapping,
            ))),
            Err(e) => {
                tracing::warn!(service = %record.name, error = %e, "jwt service config is invalid; its tokens are refused");
            }
        }
    }
    Ok(out)
}

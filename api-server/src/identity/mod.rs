//! Identity providers configured as services. Each one turns a credential into an
//! `ExternalIdentity` (subject, e-mail, groups, attributes); `auth` turns that into a shadow
//! user and, through the provider's `RoleMapping`, a role. Today: external JWT issuers
//! (`jwt`), directories (`ldap`, `adldap`), OpenID Connect providers (`oidc`) and SAML IdPs
//! (`saml`).

pub mod jwt;
pub mod ldap;
pub mod mapping;
pub mod oidc;
pub mod saml;
pub mod settings;

use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Map, Value};

use crate::system::crypto::MasterKey;
use crate::system::{Store, SystemError, services};
use jwt::{JwtProvider, JwtSettings};
use ldap::{LdapProvider, LdapSettings};
use mapping::RoleMapping;
use oidc::{OidcProvider, OidcSettings};
use saml::{SamlProvider, SamlSettings};

/// Service types that are identity providers.
pub const PROVIDER_TYPES: &[&str] = &["jwt", "ldap", "adldap", "oidc", "saml"];

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

/// Where providers are read from.
pub struct Sources<'a> {
    pub store: &'a Store,
    pub master_key: &'a MasterKey,
    /// Rampart's own session issuer, which no `jwt` service may claim.
    pub own_issuer: &'a str,
}

/// The active providers, by kind.
#[derive(Default)]
struct Loaded {
    jwt: Vec<Arc<JwtProvider>>,
    ldap: Vec<Arc<LdapProvider>>,
    oidc: Vec<Arc<OidcProvider>>,
    saml: Vec<Arc<SamlProvider>>,
}

/// The active providers, loaded from the system store on first use and after every change.
#[derive(Default)]
pub struct Providers {
    loaded: RwLock<Option<Arc<Loaded>>>,
}

impl Providers {
    /// Forgets the loaded providers (their keys are fetched again on next use).
    pub fn invalidate(&self) {
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn loaded(&self, sources: &Sources<'_>) -> Result<Arc<Loaded>, SystemError> {
        let cached = self
            .loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(l) = cached {
            return Ok(l);
        }
        // Two requests may load at once; either result is current.
        let l = Arc::new(load(sources).await?);
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Some(l.clone());
        Ok(l)
    }

    /// The issuer of external tokens named `iss`, if one is configured.
    pub async fn jwt_issuer(
        &self,
        sources: &Sources<'_>,
        iss: &str,
    ) -> Result<Option<Arc<JwtProvider>>, SystemError> {
        Ok(self
            .loaded(sources)
            .await?
            .jwt
            .iter()
            .find(|p| p.settings.issuer == iss)
            .cloned())
    }

    /// The directory service named `name`, if it is one.
    pub async fn directory(
        &self,
        sources: &Sources<'_>,
        name: &str,
    ) -> Result<Option<Arc<LdapProvider>>, SystemError> {
        Ok(self
            .loaded(sources)
            .await?
            .ldap
            .iter()
            .find(|p| p.service_name.eq_ignore_ascii_case(name))
            .cloned())
    }

    /// The OpenID Connect service named `name` (or with id `id`), if it is one.
    pub async fn openid(
        &self,
        sources: &Sources<'_>,
        name: Option<&str>,
        id: Option<i64>,
    ) -> Result<Option<Arc<OidcProvider>>, SystemError> {
        Ok(self
            .loaded(sources)
            .await?
            .oidc
            .iter()
            .find(|p| {
                name.is_none_or(|n| p.service_name.eq_ignore_ascii_case(n))
                    && id.is_none_or(|i| p.service_id == i)
            })
            .cloned())
    }

    /// The SAML service named `name`, if it is one.
    pub async fn saml(
        &self,
        sources: &Sources<'_>,
        name: &str,
    ) -> Result<Option<Arc<SamlProvider>>, SystemError> {
        Ok(self
            .loaded(sources)
            .await?
            .saml
            .iter()
            .find(|p| p.service_name.eq_ignore_ascii_case(name))
            .cloned())
    }

    /// The name and role mapping of active provider `service_id` (`None`: it is gone or
    /// inactive, and the people it vouched for have no session).
    pub async fn mapping_of(
        &self,
        sources: &Sources<'_>,
        service_id: i64,
    ) -> Result<Option<(String, RoleMapping)>, SystemError> {
        let loaded = self.loaded(sources).await?;
        let jwt = loaded
            .jwt
            .iter()
            .find(|p| p.service_id == service_id)
            .map(|p| (p.service_name.clone(), p.mapping.clone()));
        let ldap = || {
            loaded
                .ldap
                .iter()
                .find(|p| p.service_id == service_id)
                .map(|p| (p.service_name.clone(), p.mapping.clone()))
        };
        let oidc = || {
            loaded
                .oidc
                .iter()
                .find(|p| p.service_id == service_id)
                .map(|p| (p.service_name.clone(), p.mapping.clone()))
        };
        let saml = || {
            loaded
                .saml
                .iter()
                .find(|p| p.service_id == service_id)
                .map(|p| (p.service_name.clone(), p.mapping.clone()))
        };
        Ok(jwt.or_else(ldap).or_else(oidc).or_else(saml))
    }
}

async fn load(sources: &Sources<'_>) -> Result<Loaded, SystemError> {
    let mut out = Loaded::default();
    for record in services::list(sources.store).await? {
        if !record.is_active || !PROVIDER_TYPES.contains(&record.kind.as_str()) {
            continue;
        }
        let config = match record.decrypted_config(sources.master_key) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(service = %record.name, error = %e, "identity provider config cannot be decrypted; it signs nobody in");
                continue;
            }
        };
        let mapping = match RoleMapping::from_config(&config) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(service = %record.name, error = %e, "identity provider role mapping is invalid; it signs nobody in");
                continue;
            }
        };
        let loaded = match record.kind.as_str() {
            "jwt" => JwtSettings::from_config(&config, sources.own_issuer).map(|settings| {
                out.jwt.push(Arc::new(JwtProvider::new(
                    record.id,
                    record.name.clone(),
                    settings,
                    mapping,
                )));
            }),
            "saml" => SamlSettings::from_config(&config).map(|settings| {
                out.saml.push(Arc::new(SamlProvider {
                    service_id: record.id,
                    service_name: record.name.clone(),
                    settings,
                    mapping,
                }));
            }),
            "oidc" => OidcSettings::from_config(&config).and_then(|settings| {
                out.oidc.push(Arc::new(OidcProvider::new(
                    record.id,
                    record.name.clone(),
                    settings,
                    mapping,
                )?));
                Ok(())
            }),
            kind => LdapSettings::from_config(kind, &config).map(|settings| {
                out.ldap.push(Arc::new(LdapProvider {
                    service_id: record.id,
                    service_name: record.name.clone(),
                    settings,
                    // Group DNs compare in their canonical form.
                    mapping: mapping.map_groups(|g| {
                        if g.contains('=') {
                            ldap::normalize_dn(g)
                        } else {
                            g.to_owned()
                        }
                    }),
                }));
            }),
        };
        if let Err(e) = loaded {
            tracing::warn!(service = %record.name, error = %e, "identity provider config is invalid; it signs nobody in");
        }
    }
    Ok(out)
}

//! LDAP and Active Directory (`ldap`, `adldap` services): a user name and password become an
//! `ExternalIdentity` by binding as that user.
//!
//! What is refused before the directory hears of it: an empty password (an LDAP server takes
//! a name with an empty password as an anonymous bind, and Active Directory answers it with
//! success) and an unusable user name. Every user value is escaped for the filter it goes
//! into (`ldap_escape`) or the DN it becomes part of (`dn_escape`); the user's entry must be
//! the only one the filter finds; referrals are not followed. TLS (`starttls` or `ldaps`)
//! verifies the server against the configured CA, else the system's roots.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, dn_escape, ldap_escape};
use serde_json::{Map, Value};

use super::ExternalIdentity;
use super::settings::text;

/// How long connecting, and each operation, may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest user name accepted.
const MAX_USERNAME: usize = 256;
/// Attributes never kept as claims.
const SECRET_ATTRIBUTES: &[&str] = &["userpassword", "unicodepwd", "ntpwdhistory", "lmpwdhistory"];

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    None,
    StartTls,
    Ldaps,
}

/// An `ldap`/`adldap` service's settings, validated (the bind password decrypted).
#[derive(Clone)]
pub struct LdapSettings {
    pub active_directory: bool,
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub ca_pem: Option<String>,
    pub base_dn: String,
    pub account_suffix: Option<String>,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    /// The filter that finds a user's entry; `{username}` is replaced by the escaped name.
    pub user_filter: String,
    pub email_attribute: String,
    pub name_attribute: String,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("base_dn", &self.base_dn)
            .field("bind_dn", &self.bind_dn)
            .finish_non_exhaustive()
    }
}

impl LdapSettings {
    /// Reads and checks a service config (`kind` is `ldap` or `adldap`). `bind_password`, if
    /// any, must already be decrypted.
    pub fn from_config(kind: &str, config: &Map<String, Value>) -> Result<Self, String> {
        let active_directory = kind == "adldap";
        let host = text(config, "host")?.ok_or("'host' is required.")?;
        let tls = match text(config, "tls")?.as_deref() {
            None | Some("starttls") => Tls::StartTls,
            Some("ldaps") => Tls::Ldaps,
            Some("none") => Tls::None,
            Some(other) => {
                return Err(format!(
                    "'tls' must be none, starttls or ldaps, not '{other}'."
                ));
            }
        };
        let port = match config.get("port") {
            None | Some(Value::Null) => match tls {
                Tls::Ldaps => 636,
                _ => 389,
            },
            Some(v) => v
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or("'port' must be a port number.")?,
        };
        let ca_pem = text(config, "ca_cert")?;
        if let Some(pem) = &ca_pem {
            roots(pem)?;
        }
        let base_dn = text(config, "base_dn")?.ok_or("'base_dn' is required.")?;
        let bind_dn = text(config, "bind_dn")?;
        let bind_password = text(config, "bind_password")?;
        if bind_dn.is_some() != bind_password.is_some() {
            return Err("'bind_dn' and 'bind_password' go together.".into());
        }
        let user_filter = text(config, "user_filter")?.unwrap_or_else(|| {
            if active_directory {
                "(sAMAccountName={username})".into()
            } else {
                "(uid={username})".into()
            }
        });
        if !user_filter.contains("{username}") || ldap3::parse_filter(&user_filter).is_err() {
            return Err("'user_filter' must be an LDAP filter containing {username}.".into());
        }
        Ok(Self {
            active_directory,
            host,
            port,
            tls,
            ca_pem,
            base_dn,
            account_suffix: text(config, "account_suffix")?,
            bind_dn,
            bind_password,
            user_filter,
            email_attribute: text(config, "email_attribute")?.unwrap_or_else(|| "mail".into()),
            name_attribute: text(config, "name_attribute")?.unwrap_or_else(|| {
                if active_directory {
                    "displayName".into()
                } else {
                    "cn".into()
                }
            }),
        })
    }

    fn url(&self) -> String {
        let scheme = if self.tls == Tls::Ldaps {
            "ldaps"
        } else {
            "ldap"
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }
}

/// The trust anchors of a PEM bundle.
fn roots(pem: &str) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|_| "'ca_cert' is not a PEM certificate.".to_owned())?;
        store
            .add(cert)
            .map_err(|e| format!("'ca_cert' cannot be used: {e}"))?;
    }
    if store.is_empty() {
        return Err("'ca_cert' holds no certificate.".into());
    }
    Ok(store)
}

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// Wrong password, unknown or ambiguous user, empty password: one answer for all.
    #[error("bad credentials")]
    BadLogin,
    /// The directory could not be reached or refused the service account.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

fn unavailable(e: impl std::fmt::Display) -> LdapError {
    LdapError::Unavailable(e.to_string())
}

/// A DN in a canonical form for comparison: attribute types and values lower-cased,
/// escapes (`\,`, `\2C`) decoded, spaces around separators dropped. Directories rewrite DNs
/// (`\,` comes back as `\2C`), so DNs are compared only in this form.
#[must_use]
pub fn normalize_dn(dn: &str) -> String {
    let mut rdns = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars().peekable();
    let mut raw_rdns = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            ',' | ';' => raw_rdns.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    raw_rdns.push(current);
    for rdn in raw_rdns {
        let Some((attr, value)) = rdn.split_once('=') else {
            rdns.push(rdn.trim().to_lowercase());
            continue;
        };
        rdns.push(format!(
            "{}={}",
            attr.trim().to_lowercase(),
            unescape(value.trim()).to_lowercase()
        ));
    }
    rdns.join(",")
}

/// Decodes DN escapes: `\XX` hex pairs and `\c`.
fn unescape(value: &str) -> String {
    let mut bytes = Vec::with_capacity(value.len());
    let raw = value.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    bytes.push(b);
                    i += 3;
                }
                None => {
                    bytes.push(raw[i + 1]);
                    i += 2;
                }
            }
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether a directory can be used with these settings: it answers (over the configured
/// TLS), and the service account, if any, may bind. The reason when not.
pub async fn check(settings: &LdapSettings) -> Result<(), String> {
    let probe = LdapProvider {
        service_id: 0,
        service_name: String::new(),
        settings: settings.clone(),
        mapping: super::mapping::RoleMapping::default(),
    };
    let mut ldap = probe
        .connect()
        .await
        .map_err(|e| format!("Cannot reach the directory at {}: {e}", settings.url()))?;
    ldap.with_timeout(TIMEOUT);
    if let (Some(dn), Some(pw)) = (&settings.bind_dn, &settings.bind_password) {
        ldap.simple_bind(dn, pw)
            .await
            .and_then(ldap3::LdapResult::success)
            .map_err(|_| "The directory refused 'bind_dn' with 'bind_password'.".to_owned())?;
    }
    let _ = ldap.unbind().await;
    Ok(())
}

/// A configured directory.
pub struct LdapProvider {
    pub service_id: i64,
    pub service_name: String,
    pub settings: LdapSettings,
    pub mapping: super::mapping::RoleMapping,
}

impl LdapProvider {
    async fn connect(&self) -> Result<ldap3::Ldap, LdapError> {
        let s = &self.settings;
        let mut conn = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_starttls(s.tls == Tls::StartTls);
        if let Some(pem) = &s.ca_pem {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(unavailable)?
                .with_root_certificates(roots(pem).map_err(LdapError::Unavailable)?)
                .with_no_client_auth();
            conn = conn.set_config(Arc::new(config));
        }
        let (driver, ldap) = LdapConnAsync::with_settings(conn, &s.url())
            .await
            .map_err(unavailable)?;
        ldap3::drive!(driver);
        Ok(ldap)
    }

    /// Signs `username` in with `password`; the person as the directory describes them.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<ExternalIdentity, LdapError> {
        let username = username.trim();
        if password.is_empty()
            || username.is_empty()
            || username.chars().count() > MAX_USERNAME
            || username.chars().any(char::is_control)
        {
            return Err(LdapError::BadLogin);
        }
        let s = &self.settings;
        let mut ldap = self.connect().await?;
        ldap.with_timeout(TIMEOUT);
        let filter = s.user_filter.replace("{username}", &ldap_escape(username));
        let entry = match (&s.bind_dn, &s.bind_password) {
            (Some(dn), Some(pw)) => {
                // Find the entry as the service account, then prove the password by binding
                // as that entry.
                ldap.simple_bind(dn, pw)
                    .await
                    .and_then(ldap3::LdapResult::success)
                    .map_err(|e| unavailable(format!("the service account was refused: {e}")))?;
                let entry = find_one(&mut ldap, &s.base_dn, &filter).await?;
                ldap.with_timeout(TIMEOUT);
                bind_as(&mut ldap, &entry.dn, password).await?;
                entry
            }
            _ => {
                let bind_name = if s.active_directory {
                    // The user principal name (`jane@corp.example.com`) or the bare name.
                    match &s.account_suffix {
                        Some(suffix) if !username.contains('@') => format!("{username}{suffix}"),
                        _ => username.to_owned(),
                    }
                } else {
                    format!("uid={},{}", dn_escape(username), s.base_dn)
                };
                bind_as(&mut ldap, &bind_name, password).await?;
                find_one(&mut ldap, &s.base_dn, &filter).await?
            }
        };
        let mut groups: Vec<String> = entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("memberOf"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if groups.is_empty() {
            // Directories without a memberOf attribute: ask which groups list the entry.
            ldap.with_timeout(TIMEOUT);
            let by_member = format!(
                "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn})))",
                dn = ldap_escape(&entry.dn)
            );
            if let Ok(found) = ldap
                .search(&s.base_dn, Scope::Subtree, &by_member, vec!["1.1"])
                .await
                .and_then(ldap3::SearchResult::success)
            {
                groups = found
                    .0
                    .into_iter()
                    .map(|e| SearchEntry::construct(e).dn)
                    .collect();
            }
        }
        let _ = ldap.unbind().await;
        Ok(self.identity(entry, groups))
    }

    fn identity(&self, entry: SearchEntry, groups: Vec<String>) -> ExternalIdentity {
        let s = &self.settings;
        let first = |name: &str| {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first().cloned())
        };
        let subject = first("entryUUID")
            .or_else(|| {
                entry
                    .bin_attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
                    .and_then(|(_, v)| v.first())
                    .map(|b| crate::system::crypto::hex(b))
            })
            .unwrap_or_else(|| normalize_dn(&entry.dn));
        let mut claims = Map::new();
        for (name, values) in &entry.attrs {
            if SECRET_ATTRIBUTES.contains(&name.to_lowercase().as_str()) {
                continue;
            }
            let value = match values.as_slice() {
                [one] => Value::String(one.clone()),
                many => Value::Array(many.iter().cloned().map(Value::String).collect()),
            };
            claims.insert(name.clone(), value);
        }
        claims.insert("dn".into(), Value::String(entry.dn.clone()));
        ExternalIdentity {
            service_id: self.service_id,
            service_name: self.service_name.clone(),
            subject,
            email: first(&s.email_attribute),
            name: first(&s.name_attribute),
            groups: groups.iter().map(|g| normalize_dn(g)).collect(),
            claims,
        }
    }
}

async fn bind_as(ldap: &mut ldap3::Ldap, dn: &str, password: &str) -> Result<(), LdapError> {
    match ldap.simple_bind(dn, password).await {
        Ok(r) if r.rc == 0 => Ok(()),
        // 49: invalid credentials (and whatever else the directory refuses the user with).
        Ok(_) => Err(LdapError::BadLogin),
        Err(e) => Err(unavailable(e)),
    }
}

/// The one entry `filter` finds under `base`; none or several is a failed sign-in.
async fn find_one(
    ldap: &mut ldap3::Ldap,
    base: &str,
    filter: &str,
) -> Result<SearchEntry, LdapError> {
    let found = ldap
        .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
        .with_timeout(TIMEOUT)
        .search(
            base,
            Scope::Subtree,
            filter,
            vec!["*", "memberOf", "entryUUID", "objectGUID"],
        )
        .await
        .map_err(unavailable)?;
    // rc 4: more than one entry matched.
    let (entries, _) = found.success().map_err(|_| LdapError::BadLogin)?;
    let mut entries = entries.into_iter();
    match (entries.next(), entries.next()) {
        (Some(one), None) => Ok(SearchEntry::construct(one)),
        _ => Err(LdapError::BadLogin),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(kind: &str, v: Value) -> Result<LdapSettings, String> {
        LdapSettings::from_config(kind, v.as_object().unwrap())
    }

    #[test]
    fn dns_compare_after_normalising() {
        assert_eq!(
            normalize_dn("CN=Smith\\, J*, OU=People,dc=Example,dc=org"),
            normalize_dn("cn=smith\\2C j*,ou=people,dc=example,dc=org")
        );
        assert_ne!(
            normalize_dn("cn=sales,ou=groups,dc=example,dc=org"),
            normalize_dn("cn=sales-eu,ou=groups,dc=example,dc=org")
        );
    }

    #[test]
    fn configs_are_checked_and_defaults_follow_the_directory_kind() {
        let ok = settings(
            "adldap",
            json!({"host": "dc1", "base_dn": "dc=corp,dc=example"}),
        )
        .unwrap();
        assert_eq!(ok.user_filter, "(sAMAccountName={username})");
        assert_eq!((ok.tls, ok.port), (Tls::StartTls, 389));
        let ldaps = settings(
            "ldap",
            json!({"host": "h", "base_dn": "dc=x", "tls": "ldaps"}),
        )
        .unwrap();
        assert_eq!((ldaps.port, ldaps.url().as_str()), (636, "ldaps://h:636"));
        for bad in [
            json!({"base_dn": "dc=x"}),
            json!({"host": "h"}),
            json!({"host": "h", "base_dn": "dc=x", "tls": "maybe"}),
            json!({"host": "h", "base_dn": "dc=x", "user_filter": "(uid=*)"}),
            json!({"host": "h", "base_dn": "dc=x", "bind_dn": "cn=svc"}),
            json!({"host": "h", "base_dn": "dc=x", "ca_cert": "not a certificate"}),
        ] {
            assert!(settings("ldap", bad.clone()).is_err(), "{bad}");
        }
    }
}

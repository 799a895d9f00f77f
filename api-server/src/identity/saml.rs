//! SAML 2.0 (`saml` services): Rampart as a service provider, on samael with xmlsec.
//!
//! What is required, beyond samael's defaults (which fail open): the IdP's signing
//! certificate (a service without one is refused at save, since samael would then check no
//! signature at all); a valid signature over the Response or the Assertion, and only the
//! signed bytes are read; RSA/ECDSA with SHA-256 or stronger (SHA-1 refused); an
//! `AudienceRestriction` naming this SP (samael accepts an assertion without one); the
//! destination and recipient; `InResponseTo` of a request this server made (unless
//! IdP-initiated login is enabled); `NotBefore`/`NotOnOrAfter` with 60 s of skew; and each
//! assertion id only once (`system::saml_assertions`, kept until the assertion expires).

use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::ServiceProvider;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ExternalIdentity;
use super::mapping::RoleMapping;
use super::settings::{redirect_allowed, redirects, secure_or_local, text};

/// Algorithms a signature may use.
const ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// A `saml` service's settings, validated.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    pub idp_entity_id: String,
    pub idp_sso_url: String,
    /// The IdP's signing certificates, base64 DER (the PEM bodies); any one may sign.
    pub idp_certificates: Vec<String>,
    pub sp_entity_id: String,
    pub email_attribute: String,
    pub groups_attribute: String,
    pub allow_idp_initiated: bool,
    pub allowed_redirects: Vec<url::Url>,
}

/// The base64 bodies of the PEM certificates in `pem` (one or more, e.g. during a key
/// rollover), each checked to decode.
fn certificate_bodies(pem: &str) -> Result<Vec<String>, String> {
    use base64::Engine;
    let refused = || "'idp_x509cert' is not a PEM certificate.".to_owned();
    let mut bodies = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN") {
            current = Some(String::new());
        } else if line.starts_with("-----END") {
            bodies.push(current.take().ok_or_else(refused)?);
        } else if let Some(body) = current.as_mut() {
            body.push_str(line);
        }
    }
    if bodies.is_empty() {
        // A bare base64 body, as some IdPs show it.
        bodies.push(pem.split_whitespace().collect());
    }
    for body in &bodies {
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| refused())?;
        if der.len() < 64 {
            return Err(refused());
        }
    }
    Ok(bodies)
}

/// The most an IdP metadata document may weigh.
const METADATA_LIMIT: usize = 1 << 20;

/// What an IdP's metadata document says about it.
#[derive(Debug, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// Its HTTP-Redirect single sign-on endpoint.
    pub sso_url: String,
    /// Its signing certificates, as PEM.
    pub certificates: String,
}

/// Reads IdP metadata XML: the entity id, the HTTP-Redirect SSO endpoint and the signing
/// certificates (those marked `signing`, else those marked for no use, as samael reads them).
pub fn parse_metadata(xml: &str) -> Result<IdpMetadata, String> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err("the IdP metadata carries a DOCTYPE, which is never accepted.".into());
    }
    let entity: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("the IdP metadata is not SAML metadata: {e}"))?;
    let entity_id = entity
        .entity_id
        .ok_or("the IdP metadata names no entityID.")?;
    let idp = entity
        .idp_sso_descriptors
        .and_then(|d| d.into_iter().next())
        .ok_or("the IdP metadata has no IDPSSODescriptor.")?;
    let sso_url = idp
        .single_sign_on_services
        .iter()
        .find(|e| e.binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
        .map(|e| e.location.clone())
        .ok_or("the IdP metadata has no HTTP-Redirect SingleSignOnService.")?;
    let certs_for = |wanted: Option<&str>| -> Vec<String> {
        idp.key_descriptors
            .iter()
            .filter(|k| k.key_use.as_deref().filter(|u| !u.is_empty()) == wanted)
            .filter_map(|k| k.key_info.x509_data.as_ref())
            .flat_map(|d| d.certificates.iter())
            .map(|c| c.split_whitespace().collect::<String>())
            .collect()
    };
    let mut bodies = certs_for(Some("signing"));
    if bodies.is_empty() {
        bodies = certs_for(None);
    }
    if bodies.is_empty() {
        return Err("the IdP metadata holds no signing certificate.".into());
    }
    let certificates = bodies
        .iter()
        .map(|b| format!("-----BEGIN CERTIFICATE-----\n{b}\n-----END CERTIFICATE-----\n"))
        .collect();
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// Fetches the IdP metadata at `url` (https, or http to this machine; no redirects; 10 s;
/// 1 MiB at most).
pub async fn fetch_metadata(url: &str) -> Result<IdpMetadata, String> {
    let url = secure_or_local(url, "idp_metadata_url")?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let unreadable = |e: &dyn std::fmt::Display| format!("Cannot read 'idp_metadata_url': {e}");
    let mut res = http.get(url).send().await.map_err(|e| unreadable(&e))?;
    if !res.status().is_success() {
        return Err(unreadable(&format!("it answered {}", res.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| unreadable(&e))? {
        if body.len() + chunk.len() > METADATA_LIMIT {
            return Err(unreadable(&"it is larger than 1 MiB"));
        }
        body.extend_from_slice(&chunk);
    }
    let xml = String::from_utf8(body).map_err(|_| unreadable(&"it is not UTF-8"))?;
    parse_metadata(&xml).map_err(|e| unreadable(&e))
}

/// For a config with `idp_metadata_url`: reads the metadata and writes the IdP's entity id,
/// SSO URL and signing certificates into the config (replacing any given), so the service
/// runs on what was read at save time; saving the service again reads it again.
pub async fn resolve_metadata(config: &mut Map<String, Value>) -> Result<(), String> {
    let Some(url) = text(config, "idp_metadata_url")? else {
        return Ok(());
    };
    let m = fetch_metadata(&url).await?;
    config.insert("idp_entity_id".into(), Value::String(m.entity_id));
    config.insert("idp_sso_url".into(), Value::String(m.sso_url));
    config.insert("idp_x509cert".into(), Value::String(m.certificates));
    Ok(())
}

impl SamlSettings {
    /// Reads and checks a service config.
    pub fn from_config(config: &Map<String, Value>) -> Result<Self, String> {
        let idp_certificates = certificate_bodies(&text(config, "idp_x509cert")?.ok_or(
            "'idp_x509cert' (the IdP's signing certificate) or 'idp_metadata_url' is required: without a certificate no signature could be checked.",
        )?)?;
        let idp_sso_url = text(config, "idp_sso_url")?.ok_or("'idp_sso_url' is required.")?;
        url::Url::parse(&idp_sso_url).map_err(|_| "'idp_sso_url' is not a URL.".to_owned())?;
        let allowed_redirects = redirects(config)?;
        Ok(Self {
            idp_entity_id: text(config, "idp_entity_id")?.ok_or("'idp_entity_id' is required.")?,
            idp_sso_url,
            idp_certificates,
            sp_entity_id: text(config, "sp_entity_id")?.ok_or("'sp_entity_id' is required.")?,
            email_attribute: text(config, "email_attribute")?.unwrap_or_else(|| "email".into()),
            groups_attribute: text(config, "groups_attribute")?.unwrap_or_else(|| "groups".into()),
            allow_idp_initiated: config
                .get("allow_idp_initiated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            allowed_redirects,
        })
    }

    /// Whether a post-login redirect is allowed (origin and path of an allow-listed URL).
    #[must_use]
    pub fn redirect_allowed(&self, raw: &str) -> bool {
        redirect_allowed(&self.allowed_redirects, raw)
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Refuses, before any XML library reads it, a response that is not one plain document with
/// one assertion: a DOCTYPE (entity tricks) or several assertions (signature wrapping: a
/// signed assertion beside an unsigned one).
fn shape_check(response: &str) -> Result<(), String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response.trim())
        .map_err(|_| "the response is not base64")?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| "the response is not UTF-8")?;
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err("the response carries a DOCTYPE".into());
    }
    let assertions = xml
        .split('<')
        .skip(1)
        .filter(|tag| {
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            let local = name.rsplit(':').next().unwrap_or_default();
            local == "Assertion" || local == "EncryptedAssertion"
        })
        .count();
    if assertions != 1 {
        return Err(format!(
            "the response holds {assertions} assertions, not one"
        ));
    }
    Ok(())
}

/// What the ACS needs of a sign-in this server started, kept (sealed) under its RelayState.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub request_id: String,
    pub redirect: Option<String>,
}

/// A configured SAML identity provider.
pub struct SamlProvider {
    pub service_id: i64,
    pub service_name: String,
    pub settings: SamlSettings,
    pub mapping: RoleMapping,
}

impl SamlProvider {
    /// The service provider as samael sees it, answering at `acs_url`.
    fn sp(&self, acs_url: &str, metadata_url: &str) -> Result<ServiceProvider, String> {
        let s = &self.settings;
        let idp_metadata: EntityDescriptor = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            entity = xml_escape(&s.idp_entity_id),
            keys = s
                .idp_certificates
                .iter()
                .map(|cert| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#))
                .collect::<String>(),
            sso = xml_escape(&s.idp_sso_url),
        )
        .parse()
        .map_err(|e| format!("the IdP settings do not make metadata: {e}"))?;
        Ok(ServiceProvider {
            entity_id: Some(s.sp_entity_id.clone()),
            acs_url: Some(acs_url.to_owned()),
            metadata_url: Some(metadata_url.to_owned()),
            slo_url: None,
            idp_metadata,
            allow_idp_initiated: s.allow_idp_initiated,
            allowed_signature_algorithms: Some(ALGORITHMS.to_vec()),
            max_issue_delay: chrono::Duration::seconds(90),
            max_clock_skew: chrono::Duration::seconds(60),
            ..ServiceProvider::default()
        })
    }

    /// The SP's metadata XML: who it is, where assertions go (HTTP-POST), and that it wants
    /// them signed.
    #[must_use]
    pub fn metadata(&self, acs_url: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
            entity = xml_escape(&self.settings.sp_entity_id),
            acs = xml_escape(acs_url),
        )
    }

    /// Starts a sign-in: the IdP URL (HTTP-Redirect binding, carrying `relay_state`) and the
    /// request's id.
    pub fn begin(
        &self,
        acs_url: &str,
        metadata_url: &str,
        relay_state: &str,
    ) -> Result<(String, String), String> {
        let sp = self.sp(acs_url, metadata_url)?;
        let request = sp
            .make_authentication_request(&self.settings.idp_sso_url)
            .map_err(|e| e.to_string())?;
        let url = request
            .redirect(relay_state)
            .map_err(|e| e.to_string())?
            .ok_or("the authentication request has no destination")?;
        Ok((url.to_string(), request.id))
    }

    /// Verifies a `SAMLResponse` (base64) answering `request_id` (or none, IdP-initiated):
    /// the assertion it carries, from the signed bytes only.
    pub fn verify(
        &self,
        acs_url: &str,
        metadata_url: &str,
        response: &str,
        request_id: Option<&str>,
    ) -> Result<Assertion, String> {
        if response.len() > 512 * 1024 {
            return Err("the response is too large".into());
        }
        shape_check(response)?;
        let sp = self.sp(acs_url, metadata_url)?;
        let ids: Vec<&str> = request_id.into_iter().collect();
        let assertion = sp
            .parse_base64_response(response, Some(&ids))
            .map_err(|e| e.to_string())?;
        // samael accepts an assertion without any audience restriction: require ours.
        let audiences_ok = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .is_some_and(|rs| {
                !rs.is_empty()
                    && rs
                        .iter()
                        .all(|r| r.audience.iter().any(|a| a == &self.settings.sp_entity_id))
            });
        if !audiences_ok {
            return Err("the assertion is not restricted to this service provider".into());
        }
        Ok(assertion)
    }

    /// The person an assertion names.
    pub fn identity(&self, assertion: &Assertion) -> Result<ExternalIdentity, String> {
        let subject = assertion
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .map(|n| n.value.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or("the assertion names nobody")?;
        let mut claims = Map::new();
        for statement in assertion.attribute_statements.iter().flatten() {
            for attribute in &statement.attributes {
                let Some(name) = attribute.name.clone().or(attribute.friendly_name.clone()) else {
                    continue;
                };
                let values: Vec<Value> = attribute
                    .values
                    .iter()
                    .filter_map(|v| v.value.clone().map(Value::String))
                    .collect();
                let value = match values.as_slice() {
                    [one] => one.clone(),
                    _ => Value::Array(values),
                };
                claims.insert(name, value);
            }
        }
        let list = |name: &str| -> Vec<String> {
            match claims.get(name) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let email = list(&self.settings.email_attribute).into_iter().next();
        let groups = list(&self.settings.groups_attribute);
        claims.insert("name_id".into(), Value::String(subject.clone()));
        Ok(ExternalIdentity {
            service_id: self.service_id,
            service_name: self.service_name.clone(),
            subject,
            email,
            name: None,
            groups,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(keys: &str, bindings: &[&str]) -> String {
        let sso: String = bindings
            .iter()
            .map(|b| {
                format!(
                    r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{b}" Location="https://idp.example/{b}"/>"#
                )
            })
            .collect();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/saml"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}{sso}</md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    fn key(usage: Option<&str>, body: &str) -> String {
        let usage = usage.map(|u| format!(r#" use="{u}""#)).unwrap_or_default();
        format!(
            r"<md:KeyDescriptor{usage}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    }

    #[test]
    fn metadata_gives_the_signing_keys_and_the_redirect_endpoint() {
        let xml = metadata(
            &[
                key(Some("encryption"), "RU5D"),
                key(Some("signing"), "U0lHMQ=="),
                key(Some("signing"), "U0lH\n Mg=="),
            ]
            .concat(),
            &["HTTP-POST", "HTTP-Redirect"],
        );
        let m = parse_metadata(&xml).unwrap();
        assert_eq!(m.entity_id, "https://idp.example/saml");
        assert_eq!(m.sso_url, "https://idp.example/HTTP-Redirect");
        assert_eq!(
            m.certificates,
            "-----BEGIN CERTIFICATE-----\nU0lHMQ==\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nU0lHMg==\n-----END CERTIFICATE-----\n"
        );
        // Keys marked for no use count when none is marked for signing.
        let m = parse_metadata(&metadata(&key(None, "QU5Z"), &["HTTP-Redirect"])).unwrap();
        assert!(m.certificates.contains("QU5Z"));
    }

    #[test]
    fn unusable_metadata_is_refused_with_its_reason() {
        let only_encryption = metadata(&key(Some("encryption"), "RU5D"), &["HTTP-Redirect"]);
        assert!(
            parse_metadata(&only_encryption)
                .unwrap_err()
                .contains("no signing certificate")
        );
        let post_only = metadata(&key(Some("signing"), "U0lH"), &["HTTP-POST"]);
        assert!(
            parse_metadata(&post_only)
                .unwrap_err()
                .contains("HTTP-Redirect")
        );
        let doctype = format!(
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            metadata(&key(Some("signing"), "U0lH"), &["HTTP-Redirect"])
        );
        assert!(parse_metadata(&doctype).unwrap_err().contains("DOCTYPE"));
        assert!(parse_metadata("<html/>").is_err());
    }

    #[test]
    fn several_pem_certificates_are_each_read() {
        let one = "A".repeat(88);
        let two = "B".repeat(88);
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{one}\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n{}\n{}\n-----END CERTIFICATE-----\n",
            &two[..44],
            &two[44..]
        );
        assert_eq!(certificate_bodies(&pem).unwrap(), vec![one.clone(), two]);
        assert_eq!(certificate_bodies(&one).unwrap(), vec![one]);
        assert!(
            certificate_bodies(
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"
            )
            .is_err()
        );
        assert!(
            certificate_bodies("QUJD").is_err(),
            "too short to be a certificate"
        );
    }
}

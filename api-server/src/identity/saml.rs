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
use super::settings::{redirect_allowed, redirects, text};

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
    /// The IdP's signing certificate, base64 DER (the PEM body).
    pub idp_certificate: String,
    pub sp_entity_id: String,
    pub email_attribute: String,
    pub groups_attribute: String,
    pub allow_idp_initiated: bool,
    pub allowed_redirects: Vec<url::Url>,
}

/// The base64 body of a PEM certificate, checked to decode.
fn certificate_body(pem: &str) -> Result<String, String> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&body)
        .map_err(|_| "'idp_x509cert' is not a PEM certificate.".to_owned())?;
    if der.len() < 64 {
        return Err("'idp_x509cert' is not a PEM certificate.".into());
    }
    Ok(body)
}

impl SamlSettings {
    /// Reads and checks a service config.
    pub fn from_config(config: &Map<String, Value>) -> Result<Self, String> {
        if text(config, "idp_metadata_url")?.is_some() {
            return Err(
                "'idp_metadata_url' is not read yet: give 'idp_entity_id', 'idp_sso_url' and 'idp_x509cert'."
                    .into(),
            );
        }
        let idp_certificate = certificate_body(&text(config, "idp_x509cert")?.ok_or(
            "'idp_x509cert' (the IdP's signing certificate) is required: without it no signature could be checked.",
        )?)?;
        let idp_sso_url = text(config, "idp_sso_url")?.ok_or("'idp_sso_url' is required.")?;
        url::Url::parse(&idp_sso_url).map_err(|_| "'idp_sso_url' is not a URL.".to_owned())?;
        let allowed_redirects = redirects(config)?;
        Ok(Self {
            idp_entity_id: text(config, "idp_entity_id")?.ok_or("'idp_entity_id' is required.")?,
            idp_sso_url,
            idp_certificate,
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
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            entity = xml_escape(&s.idp_entity_id),
            cert = s.idp_certificate,
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

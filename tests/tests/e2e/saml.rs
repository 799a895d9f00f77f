//! SAML sign-in against Responses signed at run time with real XML signatures (xmlsec1):
//! attributes map to roles and feed row filters, and every unsigned, altered, wrapped, weak,
//! misdirected, stale, replayed or unsolicited Response is refused without a session or a
//! shadow user.

use rampart_tests::Client;
use rampart_tests::saml::{ISSUER, Idp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

const SP: &str = "https://rampart.example.test/sp";

struct Corp {
    shop: Shop,
    idp: Idp,
    sales: i64,
    support: i64,
    fallback: i64,
}

async fn corp(allow_idp_initiated: bool) -> Corp {
    let idp = Idp::new();
    let source = json!({"idp_entity_id": ISSUER, "idp_sso_url": "https://idp.example.test/sso",
        "idp_x509cert": idp.certificate()});
    corp_from(idp, allow_idp_initiated, source).await
}

/// The shop with roles `sales`, `support` and `fallback`, and `corp_saml` trusting `idp` as described
/// by `source` (the IdP's settings, or where its metadata is).
async fn corp_from(idp: Idp, allow_idp_initiated: bool, source: Value) -> Corp {
    let shop = Shop::new().await;
    let sid = shop.service_id;
    let mut ids = Vec::new();
    for (name, component, filters) in [
        (
            "sales",
            "_table/customers/*",
            json!("tenant_id = {user.claims.tenant}"),
        ),
        ("support", "_table/orders/*", json!([])),
        ("fallback", "_table/products/*", json!([])),
    ] {
        let r = shop.admin.post("/api/v2/system/role", json!({"resource": [{"name": name,
            "role_service_access_by_role_id": [{"service_id": sid, "component": component, "verb_mask": 1, "filters": filters}]}]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["resource"][0]["id"].as_i64().unwrap());
    }
    let mut config = json!({"sp_entity_id": SP, "email_attribute": "email",
        "groups_attribute": "groups", "allow_idp_initiated": allow_idp_initiated,
        "allowed_redirects": ["http://app.example.test/signed-in"],
        "group_role_map": [{"group": "sales", "role_id": ids[0]}, {"group": "support", "role_id": ids[1]}],
        "default_role": ids[2]});
    config
        .as_object_mut()
        .unwrap()
        .extend(source.as_object().unwrap().clone());
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_saml", "type": "saml", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    Corp {
        shop,
        idp,
        sales: ids[0],
        support: ids[1],
        fallback: ids[2],
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn alice() -> Value {
    json!({"name_id": "alice@example.org", "email": "alice@example.org", "groups": ["sales"], "tenant": 1})
}

fn carol() -> Value {
    json!({"name_id": "carol@example.org", "email": "carol@example.org", "groups": ["marketing"], "tenant": 1})
}

fn bob() -> Value {
    json!({"name_id": "bob@example.org", "email": "bob@example.org", "groups": ["support"], "tenant": 2})
}

impl Corp {
    fn acs(&self) -> String {
        format!("{}/api/v2/corp_saml/acs", self.shop.app.base)
    }

    /// Starts a sign-in: (RelayState, AuthnRequest ID).
    async fn start(&self, redirect: Option<&str>) -> (String, String) {
        let base = format!("{}/api/v2/corp_saml/sso", self.shop.app.base);
        let url = match redirect {
            Some(r) => reqwest::Url::parse_with_params(&base, &[("redirect", r)])
                .unwrap()
                .to_string(),
            None => base,
        };
        let res = http().get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("https://idp.example.test/sso?SAMLRequest="),
            "{location}"
        );
        let relay = reqwest::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "RelayState")
            .unwrap()
            .1
            .to_string();
        (relay, self.idp.request_id(&location))
    }

    async fn post(&self, response: &str, relay: Option<&str>) -> reqwest::Response {
        let mut form = vec![("SAMLResponse", response.to_owned())];
        if let Some(r) = relay {
            form.push(("RelayState", r.to_owned()));
        }
        http().post(self.acs()).form(&form).send().await.unwrap()
    }

    /// A full SP-initiated sign-in with `variant`: the ACS answer.
    async fn sign_in(&self, person: &Value, variant: &str) -> (StatusCode, Value) {
        let (relay, id) = self.start(None).await;
        let response = self
            .idp
            .respond(&self.acs(), SP, Some(&id), person, variant, false);
        let res = self.post(&response, Some(&relay)).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_signed_assertion_signs_in_with_its_group_role_and_attributes() {
    let c = corp(false).await;
    let (status, body) = c.sign_in(&alice(), "normal").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role_id"], c.sales);
    let session = Client::new(&c.shop.app).with_token(body["session_token"].as_str().unwrap());
    let rows = session.get("/api/v2/db/_table/customers").await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    let tenants: Vec<i64> = rows.body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tenant_id"].as_i64().unwrap())
        .collect();
    assert_eq!(tenants, vec![1, 1]);
    let (_, body) = c.sign_in(&bob(), "normal").await;
    assert_eq!(body["role_id"], c.support, "{body}");
    let customers = Client::new(&c.shop.app)
        .with_token(body["session_token"].as_str().unwrap())
        .get("/api/v2/db/_table/customers")
        .await;
    assert_eq!(
        customers.status,
        StatusCode::FORBIDDEN,
        "support reads orders only"
    );
    let (_, body) = c.sign_in(&carol(), "normal").await;
    assert_eq!(
        body["role_id"], c.fallback,
        "no mapped group: the default role: {body}"
    );

    // A redirect receives the session.
    let (relay, id) = c.start(Some("http://app.example.test/signed-in")).await;
    let response = c
        .idp
        .respond(&c.acs(), SP, Some(&id), &alice(), "normal", false);
    let res = c.post(&response, Some(&relay)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = res.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with("http://app.example.test/signed-in?session_token="),
        "{to}"
    );

    let md = http()
        .get(format!("{}/api/v2/corp_saml/metadata", c.shop.app.base))
        .send()
        .await
        .unwrap();
    let status = md.status();
    let xml = md.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(xml.contains(SP) && xml.contains(&c.acs()), "{xml}");
}

#[tokio::test]
async fn without_a_default_role_an_unmapped_person_gets_a_403_that_says_why() {
    let c = corp(false).await;
    let r = c
        .shop
        .admin
        .get("/api/v2/system/service?filter=name%3Dcorp_saml")
        .await;
    let id = r.body["resource"][0]["id"].as_i64().unwrap();
    let r = c
        .shop
        .admin
        .patch(
            &format!("/api/v2/system/service/{id}"),
            json!({"config": {
        "idp_entity_id": ISSUER, "idp_sso_url": "https://idp.example.test/sso",
        "idp_x509cert": c.idp.certificate(), "sp_entity_id": SP, "email_attribute": "email",
        "groups_attribute": "groups", "group_role_map": [{"group": "sales", "role_id": c.sales}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (status, body) = c.sign_in(&carol(), "normal").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("role"),
        "{body}"
    );
    assert!(body["session_token"].is_null());
    let (status, body) = c.sign_in(&alice(), "normal").await;
    assert_eq!(
        (status, body["role_id"].clone()),
        (StatusCode::OK, json!(c.sales))
    );
}

#[tokio::test]
async fn the_idp_can_be_read_from_its_metadata_url() {
    let idp = Idp::new();
    let served = idp.serve_metadata("https://idp.example.test/sso");
    let c = corp_from(idp, false, json!({"idp_metadata_url": served.url})).await;
    // Read at save time: the service runs on what the metadata said.
    drop(served);
    let shown = c
        .shop
        .admin
        .get("/api/v2/system/service?filter=name%3Dcorp_saml&fields=config")
        .await;
    let config = &shown.body["resource"][0]["config"];
    assert_eq!(config["idp_entity_id"], ISSUER, "{}", shown.text);
    assert_eq!(config["idp_sso_url"], "https://idp.example.test/sso");
    let (status, body) = c.sign_in(&alice(), "normal").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role_id"], c.sales);
    // The key published for encryption only never vouches for anyone.
    let (relay, id) = c.start(None).await;
    let forged = c
        .idp
        .respond(&c.acs(), SP, Some(&id), &alice(), "normal", true);
    assert_eq!(
        c.post(&forged, Some(&relay)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Metadata that cannot be read keeps the service from being saved, with the reason.
    for url in [served_gone(), "http://idp.example.test/metadata".to_owned()] {
        let r = c
            .shop
            .admin
            .post(
                "/api/v2/system/service",
                json!({"resource": [{"name": "other_saml", "type": "saml",
            "config": {"idp_metadata_url": url, "sp_entity_id": SP}}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert!(r.text.contains("idp_metadata_url"), "{}", r.text);
    }
}

/// A loopback URL nothing listens on.
fn served_gone() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/metadata")
}

#[tokio::test]
async fn broken_or_forged_responses_are_refused_and_issue_nothing() {
    let c = corp(false).await;
    for variant in [
        "unsigned",
        "tampered",
        "wrapping",
        "sha1",
        "wrong-audience",
        "no-audience",
        "expired",
    ] {
        let (status, body) = c.sign_in(&bob(), variant).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{variant}: {body}");
    }
    // Signed by another key (its certificate in KeyInfo).
    let (relay, id) = c.start(None).await;
    let forged = c
        .idp
        .respond(&c.acs(), SP, Some(&id), &alice(), "normal", true);
    assert_eq!(
        c.post(&forged, Some(&relay)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Answering a request this server never made, or none (IdP-initiated is off).
    let (relay, _) = c.start(None).await;
    let unknown = c.idp.respond(
        &c.acs(),
        SP,
        Some("_never-asked"),
        &alice(),
        "normal",
        false,
    );
    assert_eq!(
        c.post(&unknown, Some(&relay)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let unsolicited = c.idp.respond(&c.acs(), SP, None, &alice(), "normal", false);
    assert_eq!(
        c.post(&unsolicited, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // For another ACS.
    let (relay, id) = c.start(None).await;
    let elsewhere = c.idp.respond(
        "https://elsewhere.example/acs",
        SP,
        Some(&id),
        &alice(),
        "normal",
        false,
    );
    assert_eq!(
        c.post(&elsewhere, Some(&relay)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let users = c.shop.admin.get("/api/v2/system/user").await;
    assert_eq!(
        users.body["resource"],
        json!([]),
        "no shadow user: {}",
        users.text
    );
}

#[tokio::test]
async fn a_response_signs_in_once() {
    let c = corp(true).await;
    // IdP-initiated (enabled here): the same Response twice.
    let response = c.idp.respond(&c.acs(), SP, None, &alice(), "normal", false);
    assert_eq!(c.post(&response, None).await.status(), StatusCode::OK);
    assert_eq!(
        c.post(&response, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "replayed"
    );
    // SP-initiated: the RelayState is used up with the first answer.
    let (relay, id) = c.start(None).await;
    let response = c
        .idp
        .respond(&c.acs(), SP, Some(&id), &alice(), "normal", false);
    assert_eq!(
        c.post(&response, Some(&relay)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        c.post(&response, Some(&relay)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_saml_service_needs_the_idp_signing_certificate() {
    let shop = Shop::new().await;
    let r = shop.admin.post("/api/v2/system/service", json!({"resource": [{"name": "corp_saml", "type": "saml", "config": {
        "idp_entity_id": ISSUER, "idp_sso_url": "https://idp.example.test/sso", "sp_entity_id": SP}}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("idp_x509cert"), "{}", r.text);
}

#[tokio::test]
async fn an_mcp_client_is_authorized_by_a_person_who_signs_in_at_the_idp() {
    let c = corp(false).await;
    let (app_id, _) = c.shop.admin.create_app("agents", None).await;
    c.shop
        .admin
        .create_oauth_client(
            "desk-agent",
            "Desk agent",
            app_id,
            "http://127.0.0.1/callback",
        )
        .await;
    let base = c.shop.app.base.clone();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{base}/oauth/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", "desk-agent"),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("state", "s1"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{base}/mcp")),
        ],
    )
    .unwrap();
    let page = http().get(authorize).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = page.text().await.unwrap();
    assert!(page.contains("service=corp_saml"), "{page}");
    let leave = http()
        .get(format!("{base}/oauth/authorize/external?service=corp_saml"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(leave.status(), StatusCode::FOUND);
    let resume_url = format!("{base}/oauth/authorize/resume");
    let leave = leave.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        leave.starts_with("/api/v2/corp_saml/sso?redirect="),
        "{leave}"
    );
    let way_back = reqwest::Url::parse(&format!("{base}{leave}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect")
        .unwrap()
        .1
        .into_owned();
    assert!(
        way_back.starts_with(&format!("{resume_url}?nonce=")),
        "{way_back}"
    );
    let (relay, id) = c.start(Some(&way_back)).await;
    let response = c
        .idp
        .respond(&c.acs(), SP, Some(&id), &alice(), "normal", false);
    let back = c.post(&response, Some(&relay)).await;
    assert_eq!(back.status(), StatusCode::FOUND);
    let resume = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(resume.starts_with(&way_back), "{resume}");
    // Someone else's sign-in (here the admin's session) brought to this request without its
    // nonce is refused, and that session ends.
    let token = c.shop.admin.token.clone().unwrap();
    let forged = http()
        .get(format!("{resume_url}?session_token={token}"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let consent = http()
        .get(&resume)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), StatusCode::OK);
    assert!(consent.text().await.unwrap().contains("Desk agent"));
    // The way back works once: its session ended when it was used.
    let again = http()
        .get(&resume)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

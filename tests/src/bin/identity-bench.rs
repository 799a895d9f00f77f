//! Sign-in latency per identity provider (local, LDAP, OpenID Connect, SAML), and what verifying a session (with its revocation
//! checks) costs a request. Run through `bench/identity.sh`, which points `RAMPART_BIN` at a
//! release build; the providers are the same real ones the tests use.
//!
//! Usage: identity-bench [ROUNDS] (default 30 sign-ins per provider, 100 × ROUNDS requests).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its figures and stops at the first surprise"
)]

use std::time::{Duration, Instant};

use rampart_tests::ldap::{self, Directory, Variant};
use rampart_tests::oidc::{self, Browser, Outcome, Provider};
use rampart_tests::saml::{self, Idp};
use rampart_tests::{Client, TestDb, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx].as_secs_f64() * 1000.0
}

fn report(name: &str, mut samples: Vec<Duration>, out: &mut Vec<Value>) {
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    println!(
        "{name:<48} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms   n {}",
        samples.len()
    );
    out.push(json!({"what": name, "p50_ms": p50, "p99_ms": p99, "n": samples.len()}));
}

async fn timed<F: std::future::Future<Output = T>, T>(f: F) -> (Duration, T) {
    let start = Instant::now();
    let v = f.await;
    (start.elapsed(), v)
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let db = TestDb::shop().await;
    let app = spawn_app();
    let admin = Client::admin(&app).await;
    let service = admin.create_service("db", db.service_config()).await;
    let role = admin
        .create_role("reader", &[(service, "_table/products/*", 1)])
        .await;
    let (app_id, key) = admin.create_app("bench", Some(role)).await;
    let mut out = Vec::new();

    // Local accounts: argon2id dominates.
    let r = admin
        .post(
            "/api/v2/system/user",
            json!({"resource": [{"email": "jane@example.com",
            "password": "violet-otter-harbour",
            "user_to_app_to_role_by_user_id": [{"app_id": app_id, "role_id": role}]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let through_app = Client::new(&app).with_key(&key);
    let mut samples = Vec::new();
    let mut session = None;
    for _ in 0..rounds {
        let (t, (r, s)) =
            timed(through_app.sign_in("jane@example.com", "violet-otter-harbour")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        samples.push(t);
        session = s;
    }
    report("sign-in: local password (argon2id)", samples, &mut out);

    // LDAP: service-account search, user bind, group lookup, over StartTLS.
    let dir = Directory::start(Variant::default());
    let r = admin
        .post("/api/v2/system/service", json!({"resource": [{"name": "corp_ldap", "type": "ldap", "config": {
            "host": "127.0.0.1", "port": dir.port, "tls": "starttls", "ca_cert": dir.ca_pem(),
            "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "bind_password": ldap::SERVICE_PASSWORD,
            "default_role": role}}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let (t, r) = timed(through_app.post(
            "/api/v2/user/session",
            json!({"service": "corp_ldap",
            "username": "alice", "password": ldap::password_of("alice")}),
        ))
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        samples.push(t);
    }
    report("sign-in: LDAP (StartTLS, search + bind)", samples, &mut out);

    // OpenID Connect: Rampart's share is the callback (state, code exchange, ID token).
    let callback = format!(
        "{}/api/v2/user/session?service=corp_oidc&oauth_callback=true",
        app.base
    );
    let op = Provider::start(std::slice::from_ref(&callback), "RS256");
    let r = admin
        .post("/api/v2/system/service", json!({"resource": [{"name": "corp_oidc", "type": "oidc", "config": {
            "discovery_url": op.issuer, "client_id": oidc::CLIENT_ID, "client_secret": oidc::CLIENT_SECRET,
            "scopes": ["openid", "email", "profile", "groups"], "redirect_url": callback,
            "default_role": role}}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (mut flows, mut callbacks) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut browser = Browser::new();
        let started = Instant::now();
        let res = browser
            .get(&format!(
                "{}/api/v2/user/session?service=corp_oidc",
                app.base
            ))
            .await;
        let at_op = res.headers()["location"].to_str().unwrap().to_owned();
        let Outcome::Left(cb) = browser
            .walk(&at_op, "alice", &oidc::password_of("alice"), true)
            .await
        else {
            panic!("the provider did not send the browser back");
        };
        let (t, res) = timed(browser.get(&cb)).await;
        assert_eq!(res.status(), StatusCode::OK);
        flows.push(started.elapsed());
        callbacks.push(t);
    }
    report(
        "sign-in: OpenID Connect callback (Rampart's part)",
        callbacks,
        &mut out,
    );
    report(
        "sign-in: OpenID Connect whole flow (with the provider's pages)",
        flows,
        &mut out,
    );

    // SAML: Rampart's part of the ACS (signature check, conditions, replay cache, session);
    // the Responses are signed beforehand.
    let idp = Idp::new();
    let r = admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "corp_saml", "type": "saml", "config": {
            "idp_entity_id": saml::ISSUER, "idp_sso_url": "https://idp.example.test/sso",
            "idp_x509cert": idp.certificate(), "sp_entity_id": "https://rampart.example.test/sp",
            "default_role": role}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let acs = format!("{}/api/v2/corp_saml/acs", app.base);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let res = http
            .get(format!("{}/api/v2/corp_saml/sso", app.base))
            .send()
            .await
            .unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let relay = reqwest::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "RelayState")
            .unwrap()
            .1
            .to_string();
        let response = idp.respond(
            &acs,
            "https://rampart.example.test/sp",
            Some(&idp.request_id(&location)),
            &json!({"name_id": "alice@example.org", "email": "alice@example.org", "groups": []}),
            "normal",
            false,
        );
        let (t, res) = timed(
            http.post(&acs)
                .form(&[("SAMLResponse", response), ("RelayState", relay)])
                .send(),
        )
        .await;
        assert_eq!(res.unwrap().status(), StatusCode::OK);
        samples.push(t);
    }
    report("sign-in: SAML ACS (Rampart's part)", samples, &mut out);

    // Session verification: the same read with the app key alone and with a user session
    // (signature, revocation, user, epoch, role), alternated so drift hits both alike.
    let session = session.unwrap();
    let path = "/api/v2/db/_table/products?limit=1";
    let (mut by_key, mut by_session) = (Vec::new(), Vec::new());
    for _ in 0..100 * rounds {
        let (t, r) = timed(through_app.get(path)).await;
        assert_eq!(r.status, StatusCode::OK);
        by_key.push(t);
        let (t, r) = timed(session.get(path)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        by_session.push(t);
    }
    let key_p50 = percentile(&mut by_key.clone(), 0.5);
    let session_p50 = percentile(&mut by_session.clone(), 0.5);
    report("request with the app key alone", by_key, &mut out);
    report("request with a user session (+ key)", by_session, &mut out);
    println!(
        "session verification costs {:+.3} ms per request (p50)",
        session_p50 - key_p50
    );
    out.push(json!({"what": "session verification cost", "p50_ms": session_p50 - key_p50}));
    println!("{}", Value::Array(out));
}

//! External bearer tokens (`jwt` services) against a real JWKS over HTTP: groups map to
//! roles, provider claims feed row filters as `{user.claims.<name>}`, and every malformed,
//! forged or misdirected token is a 401 that grants nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;
use rampart_tests::Client;
use rampart_tests::idp::{self, AUDIENCE, ISSUER, JwksServer, claims, sign};

/// Roles: `sales` reads its tenant's customers (by the token's `tenant_id`), `support`
/// reads orders, `guest` reads products.
struct Roles {
    sales: i64,
    support: i64,
    guest: i64,
}

async fn roles(shop: &Shop) -> Roles {
    let sales = shop.admin.post("/api/v2/system/role", json!({"name": "sales", "role_service_access_by_role_id": [
        {"service_id": shop.service_id, "component": "_table/customers/*", "verb_mask": 1,
         "filters": "tenant_id = {user.claims.tenant_id}", "field_rules": {"ssn": {"mask": "last4"}}}]})).await;
    assert_eq!(sales.status, StatusCode::CREATED, "{}", sales.text);
    Roles {
        sales: sales.body["resource"][0]["id"].as_i64().unwrap(),
        support: shop
            .admin
            .create_role("support", &[(shop.service_id, "_table/orders/*", 1)])
            .await,
        guest: shop
            .admin
            .create_role("guest", &[(shop.service_id, "_table/products/*", 1)])
            .await,
    }
}

/// Registers the issuer as a `jwt` service; `extra` is merged into its config.
async fn issuer(shop: &Shop, name: &str, jwks_url: &str, extra: Value) -> Client {
    let mut config = json!({"jwks_url": jwks_url, "issuer": ISSUER, "audience": AUDIENCE,
                            "algorithms": ["RS256", "ES256"], "jwks_refresh_seconds": 0});
    if let (Some(c), Value::Object(extra)) = (config.as_object_mut(), extra) {
        for (k, v) in extra {
            c.insert(k, v);
        }
    }
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": name, "type": "jwt", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains("BEGIN"), "no key material echoed");
    Client::new(&shop.app)
}

fn ids(body: &Value) -> Vec<i64> {
    body["resource"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn groups_choose_the_role_and_claims_feed_its_row_filter() {
    let shop = Shop::new().await;
    let jwks = JwksServer::start(&["k1", "e1"]);
    let r = roles(&shop).await;
    let anon = issuer(
        &shop,
        "corp_jwt",
        &jwks.url,
        json!({"default_role": r.guest, "group_role_map": [
            {"group": "sales", "role_id": r.sales}, {"group": "support", "role_id": r.support}]}),
    )
    .await;

    // alice, in sales for tenant 1: her tenant's customers only, ssn masked.
    let alice = anon.with_bearer(&sign(
        "k1",
        &claims(
            "u-1001",
            json!({"email": "alice@example.org", "groups": ["sales"], "tenant_id": 1}),
        ),
    ));
    let list = alice.get("/api/v2/db/_table/customers?order=id").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(ids(&list.body), vec![1, 3]);
    // An RFC 9068 access token of the issuer (`typ: at+jwt`) is the issuer's, not one of
    // Rampart's own MCP access tokens.
    let typed = anon.with_bearer(&rampart_tests::idp::sign_typed(
        "k1",
        "at+jwt",
        &claims(
            "u-1001",
            json!({"email": "alice@example.org", "groups": ["sales"], "tenant_id": 1}),
        ),
    ));
    let again = typed.get("/api/v2/db/_table/customers?order=id").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(ids(&again.body), vec![1, 3]);
    assert_eq!(list.body["resource"][0]["ssn"], json!("****6789"));
    assert_eq!(
        alice.get("/api/v2/db/_table/customers/2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        alice.get("/api/v2/db/_table/orders").await.status,
        StatusCode::FORBIDDEN
    );
    // Her shadow user: DreamFactory's external e-mail form, never a sys-admin.
    let me = alice.get("/api/v2/user/session").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["email"], json!("alice+corp_jwt@example.org"));
    assert_eq!(me.body["role"], json!("sales"));
    assert_eq!(me.body["is_sys_admin"], json!(false));
    // The same person with tenant 2 in a new token sees tenant 2 at once.
    let alice_t2 = anon.with_bearer(&sign(
        "e1",
        &claims(
            "u-1001",
            json!({"email": "alice@example.org", "groups": ["sales"], "tenant_id": 2}),
        ),
    ));
    assert_eq!(
        ids(&alice_t2.get("/api/v2/db/_table/customers").await.body),
        vec![2]
    );

    // bob, in support: orders, not customers.
    let bob = anon.with_bearer(&sign(
        "k1",
        &claims("u-1002", json!({"groups": ["support", "other"]})),
    ));
    assert_eq!(
        bob.get("/api/v2/db/_table/orders/1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        bob.get("/api/v2/db/_table/customers").await.status,
        StatusCode::FORBIDDEN
    );
    // carol, in no mapped group: the default role.
    let carol = anon.with_bearer(&sign(
        "k1",
        &claims("u-1003", json!({"groups": ["admins-readonly"]})),
    ));
    assert_eq!(
        carol.get("/api/v2/db/_table/products/1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        carol.get("/api/v2/db/_table/orders").await.status,
        StatusCode::FORBIDDEN
    );
    // A claim that says it is an admin changes nothing: only the mapping applies.
    let boastful = anon.with_bearer(&sign(
        "k1",
        &claims(
            "u-1004",
            json!({"role": "admin", "is_sys_admin": true, "role_id": r.sales}),
        ),
    ));
    assert_eq!(
        boastful.get("/api/v2/system/service").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        boastful.get("/api/v2/db/_table/customers").await.status,
        StatusCode::FORBIDDEN
    );
    // A group change at the provider changes the role with the next token.
    let bob_moved = anon.with_bearer(&sign(
        "k1",
        &claims("u-1002", json!({"groups": ["sales"], "tenant_id": 2})),
    ));
    assert_eq!(
        ids(&bob_moved.get("/api/v2/db/_table/customers").await.body),
        vec![2]
    );
}

#[tokio::test]
async fn without_a_default_role_an_unmapped_user_is_told_why() {
    let shop = Shop::new().await;
    let jwks = JwksServer::start(&["k1"]);
    let r = roles(&shop).await;
    let anon = issuer(
        &shop,
        "strict_jwt",
        &jwks.url,
        json!({"group_role_map": [{"group": "sales", "role_id": r.sales}]}),
    )
    .await;
    let nobody = anon.with_bearer(&sign("k1", &claims("u-9", json!({"groups": ["nope"]}))));
    let denied = nobody.get("/api/v2/db/_table/customers").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert!(
        denied.message().contains("strict_jwt") && denied.message().contains("no default role"),
        "{}",
        denied.text
    );
    // A row filter on a claim the token lacks is refused rather than widened.
    let no_tenant = anon.with_bearer(&sign("k1", &claims("u-10", json!({"groups": ["sales"]}))));
    let r = no_tenant.get("/api/v2/db/_table/customers").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.message().contains("user.claims.tenant_id"), "{}", r.text);
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_401() {
    let shop = Shop::new().await;
    let jwks = JwksServer::start(&["k1", "e1"]);
    let r = roles(&shop).await;
    let anon = issuer(
        &shop,
        "corp_jwt",
        &jwks.url,
        json!({"default_role": r.guest, "algorithms": ["RS256"]}),
    )
    .await;
    let good = claims("u-1", json!({}));
    let without = |key: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let with = |key: &str, v: Value| {
        let mut c = good.clone();
        c[key] = v;
        c
    };
    let signed = sign("k1", &good);
    let (head, rest) = signed.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let tampered_payload = {
        use base64::Engine;
        let forged = with("sub", json!("u-admin"));
        format!(
            "{head}.{}.{sig}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string())
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("no aud", sign("k1", &without("aud"))),
        ("no exp", sign("k1", &without("exp"))),
        (
            "other audience",
            sign("k1", &with("aud", json!("someone-else"))),
        ),
        (
            "expired",
            sign("k1", &with("exp", json!(idp::now() - 3600))),
        ),
        (
            "not yet valid",
            sign("k1", &with("nbf", json!(idp::now() + 3600))),
        ),
        (
            "issued in the future",
            sign("k1", &with("iat", json!(idp::now() + 3600))),
        ),
        ("exp as text", sign("k1", &with("exp", json!("tomorrow")))),
        ("aud as object", sign("k1", &with("aud", json!({"x": 1})))),
        ("sub as number", sign("k1", &with("sub", json!(5)))),
        ("unpublished kid", sign("k2", &good)),
        ("algorithm outside the allow-list", sign("e1", &good)),
        (
            "alg none",
            idp::raw(&json!({"alg": "none", "kid": "k1"}), &good, b""),
        ),
        ("no kid", idp::raw(&json!({"alg": "RS256"}), &good, b"sig")),
        (
            "path in kid",
            idp::raw(
                &json!({"alg": "RS256", "kid": "../../../../dev/null"}),
                &good,
                b"x",
            ),
        ),
        (
            "HMAC keyed with the public key",
            idp::hmac_with_public_key("k1", &good),
        ),
        ("payload edited after signing", tampered_payload),
        (
            "signature stripped",
            format!("{head}.{}.", rest.split_once('.').unwrap().0),
        ),
        (
            "key in the header",
            idp::raw(
                &json!({"alg": "RS256", "kid": "k9", "jku": "http://127.0.0.1:9/jwks", "jwk": idp::jwks(&["k2"])["keys"][0]}),
                &good,
                b"sig",
            ),
        ),
    ];
    for (what, token) in cases {
        let c = anon.with_bearer(&token);
        let r = c.get("/api/v2/db/_table/products").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
    }
    // The same token, well formed, works: the refusals above are about the token.
    let ok = anon
        .with_bearer(&signed)
        .get("/api/v2/db/_table/products")
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // A token without `iss` is no external token: it fails as a Rampart session would.
    let no_iss = anon
        .with_bearer(&sign("k1", &without("iss")))
        .get("/api/v2/db/_table/products")
        .await;
    assert_eq!(no_iss.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_so_rotated_keys_work() {
    let shop = Shop::new().await;
    let jwks = JwksServer::start(&["k1"]);
    let r = roles(&shop).await;
    let anon = issuer(
        &shop,
        "corp_jwt",
        &jwks.url,
        json!({"default_role": r.guest}),
    )
    .await;
    let k2 = anon.with_bearer(&sign("k2", &claims("u-1", json!({}))));
    assert_eq!(
        k2.get("/api/v2/db/_table/products").await.status,
        StatusCode::UNAUTHORIZED
    );
    jwks.publish(&["k1", "k2"]);
    assert_eq!(
        k2.get("/api/v2/db/_table/products").await.status,
        StatusCode::OK
    );
    // k1 dropped at the provider: refused once the keys are fetched again.
    jwks.publish(&["k2"]);
    let k3 = anon.with_bearer(&idp::raw(
        &json!({"alg": "RS256", "kid": "k3"}),
        &claims("u-1", json!({})),
        b"x",
    ));
    let _ = k3.get("/api/v2/db/_table/products").await;
    let k1 = anon.with_bearer(&sign("k1", &claims("u-1", json!({}))));
    assert_eq!(
        k1.get("/api/v2/db/_table/products").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn issuer_configs_that_weaken_verification_are_refused_at_save() {
    let shop = Shop::new().await;
    let jwks = JwksServer::start(&["k1"]);
    let base = json!({"jwks_url": jwks.url, "issuer": ISSUER, "audience": AUDIENCE});
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    for (what, config) in [
        ("HMAC", with("algorithms", json!(["HS256"]))),
        ("our own issuer", with("issuer", json!("rampart"))),
        ("no audience", with("audience", Value::Null)),
        (
            "plain http elsewhere",
            with("jwks_url", json!("http://idp.example/jwks.json")),
        ),
        (
            "unreachable keys",
            with("jwks_url", json!("http://127.0.0.1:9/jwks.json")),
        ),
        ("no usable key", with("algorithms", json!(["ES384"]))),
        (
            "bad mapping",
            with("group_role_map", json!([{"group": "x", "role_id": "one"}])),
        ),
    ] {
        let r = shop
            .admin
            .post(
                "/api/v2/system/service",
                json!({"resource": [{"name": "bad_jwt", "type": "jwt", "config": config}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
    }
}

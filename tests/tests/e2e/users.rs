//! Local users: `/api/v2/system/user` with per-app roles and lookups, sign-in and sessions
//! at `/api/v2/user/session`, the profile, password change and reset by e-mail (a real SMTP
//! server), registration, login throttling, and every way a session ends.

use rampart_tests::smtp::SmtpSink;
use rampart_tests::{Client, Options};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::Shop;

const PASSWORD: &str = "violet-otter-harbour";

/// Roles `tenant-reader` (customers of `{tenant}`, a lookup each user sets) and `everything`
/// (all customers), an app `portal` whose default role is `everything`, and the app's key.
async fn portal(shop: &Shop) -> (i64, i64, i64, String) {
    let reader = shop.admin.post("/api/v2/system/role", json!({"resource": [{"name": "tenant-reader",
        "role_service_access_by_role_id": [{"service_id": shop.service_id, "component": "_table/customers/*",
            "verb_mask": 1, "filters": "tenant_id = {tenant}"}]}]})).await;
    assert_eq!(reader.status, StatusCode::CREATED, "{}", reader.text);
    let reader = reader.body["resource"][0]["id"].as_i64().unwrap();
    let everything = shop
        .admin
        .create_role("everything", &[(shop.service_id, "_table/customers/*", 1)])
        .await;
    let (app, key) = shop.admin.create_app("portal", Some(everything)).await;
    (reader, everything, app, key)
}

/// Creates a user through the system API; returns their id.
async fn create_user(shop: &Shop, body: Value) -> i64 {
    let r = shop.admin.post("/api/v2/system/user", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["resource"][0]["id"].as_i64().unwrap()
}

/// Whether a session stops working within five seconds (a change made by another process
/// reaches the server at its next change check).
async fn ends(session: &Client) -> bool {
    for _ in 0..50 {
        if session.get("/api/v2/user/session").await.status == StatusCode::UNAUTHORIZED {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

fn tenants(body: &Value) -> Vec<i64> {
    let mut t: Vec<i64> = body["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tenant_id"].as_i64().unwrap())
        .collect();
    t.dedup();
    t
}

#[tokio::test]
async fn a_user_signs_in_with_their_role_for_the_app_and_their_own_lookups() {
    let shop = Shop::new().await;
    let (reader, _, app, key) = portal(&shop).await;
    let id = create_user(
        &shop,
        json!({"resource": [{"email": "Jane@Example.com", "username": "jane",
        "first_name": "Jane", "last_name": "Doe", "password": PASSWORD,
        "user_to_app_to_role_by_user_id": [{"app_id": app, "role_id": reader}],
        "lookup_by_user_id": [{"name": "tenant", "value": "2"}]}]}),
    )
    .await;

    let shown = shop
        .admin
        .get(&format!(
            "/api/v2/system/user/{id}?related=user_to_app_to_role_by_user_id,lookup_by_user_id"
        ))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert_eq!(shown.body["email"], "jane@example.com");
    assert_eq!(
        shown.body["user_to_app_to_role_by_user_id"][0]["role_id"],
        reader
    );
    assert_eq!(shown.body["lookup_by_user_id"][0]["value"], "2");
    assert!(
        !shown.text.contains("argon2") && !shown.text.contains("password"),
        "{}",
        shown.text
    );
    let listed = shop.admin.get("/api/v2/system/user").await;
    assert_eq!(
        listed.body["resource"].as_array().unwrap().len(),
        1,
        "admins are not users"
    );

    let through_app = Client::new(&shop.app).with_key(&key);
    let (login, jane) = through_app.sign_in("jane@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.body["role"], "tenant-reader");
    assert_eq!(login.body["role_id"], reader);
    assert_eq!(login.body["is_sys_admin"], false);
    assert!(login.body["token_expiry_date"].is_string());
    let jane = jane.unwrap();
    let rows = jane.get("/api/v2/db/_table/customers").await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    assert_eq!(
        tenants(&rows.body),
        vec![2],
        "the user's own lookup feeds the row filter"
    );

    // By username too; without the app's key the session has no role for data.
    let (by_name, _) = through_app.sign_in("jane", PASSWORD).await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.text);
    let (bare, bare_session) = Client::new(&shop.app).sign_in("jane", PASSWORD).await;
    assert_eq!(bare.status, StatusCode::OK);
    assert!(bare.body["role"].is_null());
    let no_role = bare_session
        .unwrap()
        .get("/api/v2/db/_table/customers")
        .await;
    assert_eq!(no_role.status, StatusCode::FORBIDDEN, "{}", no_role.text);

    // A user the app knows no role for gets the app's default role.
    create_user(
        &shop,
        json!({"email": "max@example.com", "password": PASSWORD}),
    )
    .await;
    let (max, max_session) = through_app.sign_in("max@example.com", PASSWORD).await;
    assert_eq!(max.body["role"], "everything");
    let all = max_session
        .unwrap()
        .get("/api/v2/db/_table/customers")
        .await;
    assert_eq!(tenants(&all.body), vec![1, 2, 1]);
}

#[tokio::test]
async fn bad_sign_ins_look_alike_and_a_user_session_is_no_admin_session() {
    let shop = Shop::new().await;
    create_user(
        &shop,
        json!({"email": "jane@example.com", "password": PASSWORD}),
    )
    .await;
    let anon = Client::new(&shop.app);
    let (wrong, _) = anon
        .sign_in("jane@example.com", "not-her-password-at-all")
        .await;
    let (unknown, _) = anon
        .sign_in("nobody@example.com", "not-her-password-at-all")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body, "no hint which accounts exist");
    let (_, jane) = anon.sign_in("jane@example.com", PASSWORD).await;
    let system = jane.unwrap().get("/api/v2/system/user").await;
    assert_eq!(system.status, StatusCode::FORBIDDEN, "{}", system.text);
    let console = anon
        .post(
            "/api/v2/system/admin/session",
            json!({"email": "jane@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(console.status, StatusCode::UNAUTHORIZED, "{}", console.text);
}

#[tokio::test]
async fn sessions_refresh_and_end_on_logout_disable_role_change_and_password_change() {
    let shop = Shop::new().await;
    let (reader, everything, app, key) = portal(&shop).await;
    let id = create_user(
        &shop,
        json!({"email": "jane@example.com", "password": PASSWORD,
        "user_to_app_to_role_by_user_id": [{"app_id": app, "role_id": everything}]}),
    )
    .await;
    let through_app = Client::new(&shop.app).with_key(&key);
    let sign_in = || async {
        through_app
            .sign_in("jane@example.com", PASSWORD)
            .await
            .1
            .unwrap()
    };
    let works = |c: Client| async move { c.get("/api/v2/user/session").await.status };

    // Refresh: a new token; the old one is revoked.
    let first = sign_in().await;
    let refreshed = first
        .send(reqwest::Method::PUT, "/api/v2/user/session", None)
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let second = through_app.with_token(refreshed.body["session_token"].as_str().unwrap());
    assert_eq!(works(first.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(works(second.clone()).await, StatusCode::OK);

    // Logout.
    assert_eq!(
        second.delete("/api/v2/user/session").await.status,
        StatusCode::OK
    );
    assert_eq!(works(second).await, StatusCode::UNAUTHORIZED);

    // A change of the user's roles ends their sessions.
    let s = sign_in().await;
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/user/{id}"),
            json!({
        "user_to_app_to_role_by_user_id": [{"app_id": app, "role_id": reader}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(works(s).await, StatusCode::UNAUTHORIZED);

    // Deactivating their role does (and signing in again gives no way around it).
    let s = sign_in().await;
    let r = shop
        .admin
        .patch(
            &format!("/api/v2/system/role/{reader}"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(works(s).await, StatusCode::UNAUTHORIZED);
    let again = sign_in().await.get("/api/v2/db/_table/customers").await;
    assert_ne!(again.status, StatusCode::OK, "{}", again.text);
    shop.admin
        .patch(
            &format!("/api/v2/system/role/{reader}"),
            json!({"is_active": true}),
        )
        .await;

    // Disabling the user does; they cannot sign in either.
    let s = sign_in().await;
    shop.admin
        .patch(
            &format!("/api/v2/system/user/{id}"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(works(s).await, StatusCode::UNAUTHORIZED);
    let (disabled, _) = through_app.sign_in("jane@example.com", PASSWORD).await;
    assert_ne!(disabled.status, StatusCode::OK);
    shop.admin
        .patch(
            &format!("/api/v2/system/user/{id}"),
            json!({"is_active": true}),
        )
        .await;

    // Changing the password ends the other sessions; `?login=true` answers a fresh one.
    let other = sign_in().await;
    let me = sign_in().await;
    let wrong_old = me
        .post(
            "/api/v2/user/password",
            json!({"old_password": "not-the-password-1", "new_password": "another-long-secret"}),
        )
        .await;
    assert_eq!(
        wrong_old.status,
        StatusCode::BAD_REQUEST,
        "{}",
        wrong_old.text
    );
    let weak = me
        .post(
            "/api/v2/user/password",
            json!({"old_password": PASSWORD, "new_password": "qwerty123456"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{}", weak.text);
    assert!(weak.text.contains("too common"), "{}", weak.text);
    let changed = me
        .post(
            "/api/v2/user/password?login=true",
            json!({"old_password": PASSWORD, "new_password": "another-long-secret"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(works(other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(works(me).await, StatusCode::UNAUTHORIZED);
    let fresh = through_app.with_token(changed.body["session_token"].as_str().unwrap());
    assert_eq!(works(fresh).await, StatusCode::OK);
    let (old, _) = through_app.sign_in("jane@example.com", PASSWORD).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);

    // Deleting the user does.
    let (_, s) = through_app
        .sign_in("jane@example.com", "another-long-secret")
        .await;
    assert_eq!(
        shop.admin
            .delete(&format!("/api/v2/system/user/{id}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(works(s.unwrap()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_profile_changes_only_harmless_fields() {
    let shop = Shop::new().await;
    create_user(
        &shop,
        json!({"email": "jane@example.com", "first_name": "Jane", "password": PASSWORD}),
    )
    .await;
    let (_, jane) = Client::new(&shop.app)
        .sign_in("jane@example.com", PASSWORD)
        .await;
    let jane = jane.unwrap();
    let p = jane.get("/api/v2/user/profile").await;
    assert_eq!(p.body["first_name"], "Jane");
    let changed = jane
        .patch(
            "/api/v2/user/profile",
            json!({"last_name": "Doe", "phone": "+44 1"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["last_name"], "Doe");
    for privileged in [
        json!({"is_sys_admin": true}),
        json!({"email": "root@example.com"}),
        json!({"is_active": true, "phone": "2"}),
    ] {
        let r = jane.patch("/api/v2/user/profile", privileged.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{privileged}: {}",
            r.text
        );
    }
    assert_eq!(
        jane.get("/api/v2/user/profile").await.body["phone"],
        "+44 1",
        "nothing half-applied"
    );
    let key_only = Client::new(&shop.app).get("/api/v2/user/profile").await;
    assert_eq!(key_only.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn twenty_bad_passwords_hold_that_account_back_and_no_other() {
    let shop = Shop::new().await;
    create_user(
        &shop,
        json!({"email": "jane@example.com", "password": PASSWORD}),
    )
    .await;
    create_user(
        &shop,
        json!({"email": "john@example.com", "password": PASSWORD}),
    )
    .await;
    let anon = Client::new(&shop.app);
    for i in 0..20 {
        let (r, _) = anon
            .sign_in("jane@example.com", &format!("guess-number-{i:04}"))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            r.text
        );
    }
    // Even the right password waits now, so guessing gains nothing.
    let r = anon
        .send(
            reqwest::Method::POST,
            "/api/v2/user/session",
            Some(json!({"email": "jane@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let retry = reqwest::Client::new()
        .post(format!("{}/api/v2/user/session", shop.app.base))
        .json(&json!({"email": "jane@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let after: u64 = retry.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after), "Retry-After {after}");
    let (john, _) = anon.sign_in("john@example.com", PASSWORD).await;
    assert_eq!(
        john.status,
        StatusCode::OK,
        "other accounts are unaffected: {}",
        john.text
    );
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_a_single_use_code_sent_by_mail() {
    let sink = SmtpSink::start();
    let shop = Shop::with(&Options { env: sink.env() }).await;
    create_user(
        &shop,
        json!({"email": "jane@example.com", "password": PASSWORD}),
    )
    .await;
    let anon = Client::new(&shop.app);
    let (_, before) = anon.sign_in("jane@example.com", PASSWORD).await;

    let start = anon
        .post(
            "/api/v2/user/password?reset=true",
            json!({"email": "jane@example.com"}),
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let unknown = anon
        .post(
            "/api/v2/user/password?reset=true",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(
        unknown.body, start.body,
        "the answer does not tell which accounts exist"
    );

    let mail = sink
        .wait_for("jane@example.com", 1)
        .await
        .expect("a reset mail");
    assert!(sink.messages_to("nobody@example.com").is_empty());
    let code = mail
        .lines()
        .find_map(|l| l.strip_prefix("Your reset code: "))
        .expect("the code in the mail")
        .trim()
        .to_owned();
    assert_eq!(code.len(), 32);

    let wrong = anon.post("/api/v2/user/password", json!({"email": "jane@example.com", "code": "0".repeat(32), "new_password": "brand-new-passphrase"})).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let weak = anon
        .post(
            "/api/v2/user/password",
            json!({"email": "jane@example.com", "code": code, "new_password": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{}", weak.text);
    let done = anon.post("/api/v2/user/password?login=true", json!({"email": "jane@example.com", "code": code, "new_password": "brand-new-passphrase"})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.body["session_token"].is_string());
    let reused = anon.post("/api/v2/user/password", json!({"email": "jane@example.com", "code": code, "new_password": "yet-another-passphrase"})).await;
    assert_eq!(
        reused.status,
        StatusCode::UNAUTHORIZED,
        "a code works once: {}",
        reused.text
    );

    assert_eq!(
        before.unwrap().get("/api/v2/user/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    let (new, _) = anon
        .sign_in("jane@example.com", "brand-new-passphrase")
        .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text);
}

#[tokio::test]
async fn without_smtp_a_reset_says_so_and_registration_is_closed_by_default() {
    let shop = Shop::new().await;
    let anon = Client::new(&shop.app);
    let r = anon
        .post(
            "/api/v2/user/password?reset=true",
            json!({"email": "jane@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
    assert!(r.text.contains("SMTP"), "{}", r.text);
    let reg = anon
        .post(
            "/api/v2/user/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::FORBIDDEN, "{}", reg.text);
}

#[tokio::test]
async fn open_registration_creates_a_user_with_the_configured_role() {
    // The first role of a fresh server has id 1.
    let shop = Shop::with(&Options {
        env: vec![
            (
                "RAMPART_AUTH__ALLOW_OPEN_REGISTRATION".into(),
                "true".into(),
            ),
            ("RAMPART_AUTH__REGISTRATION_ROLE_ID".into(), "1".into()),
        ],
    })
    .await;
    let role = shop
        .admin
        .create_role("registered", &[(shop.service_id, "_table/products/*", 1)])
        .await;
    assert_eq!(role, 1);
    let (_, key) = shop.admin.create_app("signup", None).await;
    let through_app = Client::new(&shop.app).with_key(&key);
    let weak = through_app
        .post(
            "/api/v2/user/register",
            json!({"email": "new@example.com", "password": "new@example.com-1"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{}", weak.text);
    let r = through_app
        .post(
            "/api/v2/user/register?login=true",
            json!({"email": "new@example.com", "password": PASSWORD, "first_name": "New"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "registered");
    let session = through_app.with_token(r.body["session_token"].as_str().unwrap());
    assert_eq!(
        session.get("/api/v2/db/_table/products").await.status,
        StatusCode::OK
    );
    let again = through_app
        .post(
            "/api/v2/user/register",
            json!({"email": "NEW@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
}

#[tokio::test]
async fn rotated_keys_sign_new_sessions_and_old_ones_last_until_revoked() {
    let shop = Shop::new().await;
    create_user(
        &shop,
        json!({"email": "jane@example.com", "password": PASSWORD}),
    )
    .await;
    let anon = Client::new(&shop.app);
    let kid = |token: &str| {
        let header = token.split('.').next().unwrap();
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first, old) = anon.sign_in("jane@example.com", PASSWORD).await;
    let old = old.unwrap();
    let old_kid = kid(first.body["session_token"].as_str().unwrap());

    let out = shop.app.run(&["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let (second, new) = anon.sign_in("jane@example.com", PASSWORD).await;
    let new_kid = kid(second.body["session_token"].as_str().unwrap());
    assert_ne!(new_kid, old_kid, "new sessions use the new key");
    assert!(said.contains(&new_kid), "{said}");
    assert_eq!(
        old.get("/api/v2/user/session").await.status,
        StatusCode::OK,
        "old sessions last"
    );
    assert_eq!(
        shop.admin.get("/api/v2/system/user").await.status,
        StatusCode::OK
    );
    // The rotation is in the audit trail.
    let rotated = crate::audit::events(&shop.admin, "transport = 'cli'", 1).await;
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0]["method"], "keys rotate");
    assert_eq!(rotated[0]["changes"]["after"]["kid"], new_kid.as_str());

    // The previous keys leaked: end every session they signed. The running server learns of
    // the CLI's change within its change-check interval.
    let out = shop.app.run(&["keys", "rotate", "--revoke-previous"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ends(&old).await, "a session of the first key ended");
    assert!(
        ends(&new.unwrap()).await,
        "a session of the second key ended"
    );
    assert!(ends(&shop.admin).await, "the admin's session ended");
    let (third, _) = anon.sign_in("jane@example.com", PASSWORD).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
}

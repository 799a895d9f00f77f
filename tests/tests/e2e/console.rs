//! The admin console at `/admin`: the embedded build served with the right types, caching and
//! Content-Security-Policy, deep links answered with `index.html` and missing assets with 404;
//! and the console's browser tests (Playwright in Debian's Chromium, `admin-ui/e2e`) run
//! against a real server whose database service is real.

use std::path::PathBuf;
use std::process::Command;

use rampart_tests::app::{ADMIN_EMAIL, ADMIN_PASSWORD};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::fixture::Shop;
use rampart_tests::{TestDb, ldap, oidc};

fn header<'h>(h: &'h HeaderMap, name: &str) -> &'h str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_strict_headers() {
    let shop = Shop::new().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = &shop.app.base;

    let r = http.get(format!("{base}/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(r.headers(), "location"), "/admin/");

    // index.html, for the root and for any route of the app (a reload on a deep link).
    let mut asset = String::new();
    for path in ["/admin/", "/admin/roles/7", "/admin/login?next=%2Fservices"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers().clone();
        assert!(
            header(&h, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&h, "cache-control"), "no-cache", "{path}");
        let csp = header(&h, "content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        let html = r.text().await.unwrap();
        assert!(html.contains("<div id=\"app\">"), "{html}");
        let at = html.find("/admin/assets/").expect("a script under assets/");
        asset = html[at..].split('"').next().unwrap_or_default().to_owned();
    }

    // A hashed asset: immutable, typed, revalidated by ETag.
    let r = http.get(format!("{base}{asset}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{asset}");
    let h = r.headers().clone();
    assert_eq!(
        header(&h, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(
        header(&h, "content-type").starts_with("text/javascript")
            || header(&h, "content-type").starts_with("text/css"),
        "{}",
        header(&h, "content-type")
    );
    let etag = header(&h, "etag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    // Compressed for a browser that asks, and only then.
    let r = http
        .get(format!("{base}{asset}"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "content-encoding"), "gzip");
    let zipped = r.bytes().await.unwrap().len();
    let plain = http.get(format!("{base}{asset}")).send().await.unwrap();
    assert_eq!(header(plain.headers(), "content-encoding"), "");
    assert!(zipped * 2 < plain.bytes().await.unwrap().len());
    let r = http
        .get(format!("{base}{asset}"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // A missing asset is a 404, never index.html; HEAD works; other verbs do not.
    for path in ["/admin/assets/index-gone.js", "/admin/missing.png"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().await.unwrap().contains("<div id=\"app\">"));
    }
    let r = http.head(format!("{base}/admin/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http.post(format!("{base}/admin/")).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
}

/// A second service with 1,000 tables, and 100 roles with an access row on it: the scale at
/// which the console's role editor and schema browser must stay quick. Answers the database
/// (dropped with it), the service's id and the id of the last role.
async fn a_wide_schema_and_many_roles(shop: &Shop) -> (TestDb, i64, i64) {
    let wide = TestDb::empty().await;
    let mut conn = wide.connect().await;
    sqlx::raw_sql(
        "DO $$ BEGIN FOR i IN 1..1000 LOOP
            EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, name text NOT NULL, \
                owner_id int, amount numeric(12,2), created_at timestamptz DEFAULT now())',
                lpad(i::text, 4, '0'));
         END LOOP; END $$;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let service = shop
        .admin
        .create_service("wide", wide.service_config())
        .await;
    let mut last = 0;
    for i in 1..=100 {
        last = shop
            .admin
            .create_role(
                &format!("role-{i:03}"),
                &[(service, &format!("_table/t{i:04}/*"), 1)],
            )
            .await;
    }
    (wide, service, last)
}

#[tokio::test]
async fn the_console_works_in_a_real_browser() {
    let shop = Shop::new().await;
    let (_wide, wide_service, wide_role) = a_wide_schema_and_many_roles(&shop).await;
    let directory = ldap::Directory::start(ldap::Variant::default());
    let sso_callback = format!(
        "{}/api/v2/user/session?service=corp_sso&oauth_callback=true",
        shop.app.base
    );
    let provider = oidc::Provider::start(std::slice::from_ref(&sso_callback), "RS256");
    let oidc_config = serde_json::json!({
        "discovery_url": provider.issuer, "client_id": oidc::CLIENT_ID,
        "client_secret": oidc::CLIENT_SECRET, "redirect_url": sso_callback,
        "user": "alice", "password": oidc::password_of("alice"), "group": "sales",
    });
    let ldap_config = serde_json::json!({
        "host": "127.0.0.1", "port": directory.port, "tls": "starttls", "ca_cert": directory.ca_pem(),
        "base_dn": ldap::BASE_DN, "bind_dn": ldap::SERVICE_DN, "bind_password": ldap::SERVICE_PASSWORD,
        "user": "alice", "password": ldap::password_of("alice"), "group": "cn=sales,ou=groups,dc=example,dc=org",
    });
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../admin-ui");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("npx")
        .args(["--no-install", "playwright", "test"])
        .current_dir(&ui)
        .env("CONSOLE_URL", format!("{}/admin/", shop.app.base))
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SCREENSHOTS", &shots)
        .env("SERVICE_CONFIG", shop.db.service_config().to_string())
        .env("WIDE_SERVICE_ID", wide_service.to_string())
        .env("WIDE_ROLE_ID", wide_role.to_string())
        .env("LDAP_CONFIG", ldap_config.to_string())
        .env("OIDC_CONFIG", oidc_config.to_string())
        .output()
        .expect("run Playwright (scripts/setup-test-env.sh installs it)");
    assert!(
        out.status.success(),
        "the console's browser tests failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let timings = std::fs::read_to_string(shots.join("timings.json")).unwrap_or_default();
    println!("console timings at 1,000 tables and 100 roles (ms): {timings}");
    for screen in [
        "sign-in",
        "services",
        "not-found",
        "services-narrow",
        "service-new",
        "schema",
        "service-edit",
        "role-new",
        "role-edit",
        "role-edit-narrow",
        "role-preview",
        "role-api",
        "role-review",
        "app-key",
        "app-edit",
        "apps",
        "roles",
        "users",
        "user-edit",
        "schema-wide",
        "role-wide",
        "limits",
        "lookups",
        "cors",
        "audit",
        "provider-ldap",
        "provider-oidc",
        "providers",
    ] {
        assert!(shots.join(format!("{screen}.png")).exists(), "{screen}.png");
    }
}

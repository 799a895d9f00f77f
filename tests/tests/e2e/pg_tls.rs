//! TLS to PostgreSQL: a service with `sslmode=verify-full` and the CA that signed the local
//! server's certificate (`sslrootcert`, PEM text) connects encrypted, its pipelined
//! connections too; one trusting another CA is refused at save with a clear reason.

use rampart_tests::Client;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::fixture::Shop;

fn test_ca() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pg-tls/ca.crt");
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run scripts/setup-test-env.sh)"))
}

#[tokio::test]
async fn verify_full_with_a_custom_ca_connects_encrypted_and_another_ca_is_refused() {
    let shop = Shop::new().await;
    let mut config = shop.db.service_config();
    config["host"] = json!("127.0.0.1");
    config["sslmode"] = json!("verify-full");
    config["sslrootcert"] = json!(test_ca());
    let service = shop.admin.create_service("secure", config.clone()).await;
    let role = shop
        .admin
        .create_role("reader", &[(service, "_table/products/*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("reader", Some(role)).await;
    let r = Client::new(&shop.app)
        .with_key(&key)
        .get("/api/v2/secure/_table/products?limit=1")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A lookup by key runs on a pipelined connection, which verifies the server the same way.
    let r = Client::new(&shop.app)
        .with_key(&key)
        .get("/api/v2/secure/_table/products/1")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Every connection Rampart holds to this database is encrypted.
    let mut conn = shop.db.connect().await;
    let rows = sqlx::query(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.application_name = 'rampart' AND a.datname = current_database()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        rows.len() >= 2,
        "rampart holds a lent and a pipelined connection"
    );
    assert!(
        rows.iter().all(|r| r.get::<bool, _>(0)),
        "every connection uses TLS"
    );

    // A certificate not signed by the trusted CA: refused before anything is stored.
    let snakeoil =
        std::fs::read_to_string("/etc/ssl/certs/ssl-cert-snakeoil.pem").unwrap_or_else(|_| {
            // Any self-signed certificate will do as the wrong CA.
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("other.crt");
            let ok = std::process::Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=other",
                ])
                .arg("-keyout")
                .arg(dir.path().join("other.key"))
                .arg("-out")
                .arg(&out)
                .status()
                .unwrap()
                .success();
            assert!(ok);
            std::fs::read_to_string(out).unwrap()
        });
    config["sslrootcert"] = json!(snakeoil);
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "impostor", "type": "pgsql", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.message().to_lowercase().contains("certificate"),
        "{}",
        r.text
    );
    let names = shop.admin.get("/api/v2/system/service?fields=name").await;
    assert!(!names.text.contains("impostor"), "{}", names.text);

    // Not PEM at all: said so.
    config["sslrootcert"] = json!("not a certificate");
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "garbled", "type": "pgsql", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.message().contains("sslrootcert"), "{}", r.text);
}

/// `verify-ca` trusts only the service's own CA: without `sslrootcert` the service is refused
/// at save (any public CA's certificate, for any host, would otherwise pass); with it, every
/// connection, pipelined ones too, is encrypted and served.
#[tokio::test]
async fn verify_ca_needs_the_services_own_ca() {
    let shop = Shop::new().await;
    let mut config = shop.db.service_config();
    config["host"] = json!("127.0.0.1");
    config["sslmode"] = json!("verify-ca");
    let r = shop
        .admin
        .post(
            "/api/v2/system/service",
            json!({"resource": [{"name": "loose", "type": "pgsql", "config": config}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.message().contains("sslrootcert"), "{}", r.text);

    config["sslrootcert"] = json!(test_ca());
    let service = shop.admin.create_service("pinned", config).await;
    let role = shop
        .admin
        .create_role("reader", &[(service, "_table/products/*", 1)])
        .await;
    let (_, key) = shop.admin.create_app("reader", Some(role)).await;
    for path in [
        "/api/v2/pinned/_table/products?limit=1",
        "/api/v2/pinned/_table/products/1",
    ] {
        let r = Client::new(&shop.app).with_key(&key).get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
}

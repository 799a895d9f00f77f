//! Throwaway databases on the real PostgreSQL (`RAMPART_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). The template `rampart_fixture_<hash>` is
//! built once (under an advisory lock, so parallel test processes agree) from
//! `fixtures/shop.sql`; each test clones it with `CREATE DATABASE … TEMPLATE`, which is fast,
//! and drops its clone when done.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

const FIXTURE: &str = include_str!("../fixtures/shop.sql");

/// The admin connection URL of the test cluster.
#[must_use]
pub fn admin_url() -> String {
    std::env::var("RAMPART_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn admin_conn() -> PgConnection {
    PgConnection::connect(&admin_url()).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {} ({e}). Start it (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set RAMPART_TEST_PG_URL",
            admin_url()
        )
    })
}

fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    FIXTURE.hash(&mut h);
    format!("rampart_fixture_{:x}", h.finish() & 0xffff_ffff)
}

async fn ensure_template(conn: &mut PgConnection) -> String {
    let name = template_name();
    conn.execute("SELECT pg_advisory_lock(727261)")
        .await
        .expect("advisory lock");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut *conn)
        .await
        .expect("pg_database");
    if exists.is_none() {
        let building = format!("{name}_building");
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{building}\""
        )))
        .await
        .expect("drop partial template");
        conn.execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{building}\""
        )))
        .await
        .expect("create template");
        let opts: PgConnectOptions = admin_url()
            .parse::<PgConnectOptions>()
            .expect("url")
            .database(&building);
        let mut t = opts.connect().await.expect("connect template");
        sqlx::raw_sql(FIXTURE)
            .execute(&mut t)
            .await
            .expect("load fixtures/shop.sql");
        t.close().await.ok();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
        )))
        .await
        .expect("rename template");
    }
    conn.execute("SELECT pg_advisory_unlock(727261)")
        .await
        .expect("advisory unlock");
    name
}

/// A database of the test's own, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A fresh copy of the shop fixture.
    pub async fn shop() -> Self {
        let mut conn = admin_conn().await;
        let template = ensure_template(&mut conn).await;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        )))
        .await
        .expect("clone template");
        conn.close().await.ok();
        Self { name }
    }

    /// An empty database.
    pub async fn empty() -> Self {
        let mut conn = admin_conn().await;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("create database");
        conn.close().await.ok();
        Self { name }
    }

    /// A connection URL to this database.
    #[must_use]
    pub fn url(&self) -> String {
        let mut url = url_of(&admin_url());
        url.set_path(&self.name);
        url.to_string()
    }

    /// A connection to this database (to check state with SQL).
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url())
            .await
            .expect("connect test database")
    }

    /// The `config` of a `pgsql` service for this database.
    #[must_use]
    pub fn service_config(&self) -> serde_json::Value {
        let url = url_of(&admin_url());
        serde_json::json!({
            "host": url.host_str().unwrap_or("127.0.0.1"),
            "port": url.port().unwrap_or(5432),
            "database": self.name,
            "username": if url.username().is_empty() { "postgres" } else { url.username() },
            "password": url.password().unwrap_or("unused-with-trust-auth"),
        })
    }
}

fn url_of(s: &str) -> reqwest::Url {
    reqwest::Url::parse(s).expect("RAMPART_TEST_PG_URL must be a URL")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = conn
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

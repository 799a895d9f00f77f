//! The common setup: a server, a copy of the shop database registered as service `db`, and
//! an admin client.

use rampart_tests::{Client, Options, TestApp, TestDb, spawn_with};

/// A server with the shop database registered as `db`.
pub struct Shop {
    pub app: TestApp,
    pub db: TestDb,
    pub admin: Client,
    pub service_id: i64,
}

impl Shop {
    pub async fn new() -> Self {
        Self::with(&Options::default()).await
    }

    /// A shop on a server started with these options.
    pub async fn with(options: &Options) -> Self {
        let db = TestDb::shop().await;
        let app = spawn_with(options);
        let admin = Client::admin(&app).await;
        let service_id = admin.create_service("db", db.service_config()).await;
        Self {
            app,
            db,
            admin,
            service_id,
        }
    }

    /// A client holding the key of a new app whose default role is created from this body
    /// (DreamFactory's role shape, with nested access rows and lookups).
    pub async fn client_with_role(&self, role: serde_json::Value) -> Client {
        let r = self.admin.post("/api/v2/system/role", role).await;
        assert_eq!(
            r.status,
            reqwest::StatusCode::CREATED,
            "create role: {}",
            r.text
        );
        let id = r.body["resource"][0]["id"].as_i64().expect("role id");
        let (_, key) = self
            .admin
            .create_app(&format!("app-of-role-{id}"), Some(id))
            .await;
        self.admin.with_key(&key)
    }

    /// A client holding the key of a new app whose default role has these access rows.
    pub async fn client_with(&self, role: &str, access: &[(&str, i64)]) -> Client {
        let rows: Vec<(i64, &str, i64)> = access
            .iter()
            .map(|(c, v)| (self.service_id, *c, *v))
            .collect();
        let role_id = self.admin.create_role(role, &rows).await;
        let (_, key) = self
            .admin
            .create_app(&format!("{role}-app"), Some(role_id))
            .await;
        self.admin.with_key(&key)
    }
}

impl Shop {
    /// A shop whose database has `nap(s)`, a function that sleeps `s` seconds, on a server
    /// whose statement timeout (10 minutes) outlasts every wait in these tests: a nap that
    /// stops early was stopped by something else.
    pub async fn napping() -> Self {
        let options = Options {
            env: vec![(
                "RAMPART_LIMITS__STATEMENT_TIMEOUT_MS".into(),
                "600000".into(),
            )],
        };
        let shop = Self::with(&options).await;
        // Before the first request to the service, which reads the schema.
        let mut conn = shop.db.connect().await;
        sqlx::query(
            "CREATE FUNCTION public.nap(s float8) RETURNS int LANGUAGE sql \
             AS $$ SELECT 1 FROM pg_sleep(s) $$",
        )
        .execute(&mut conn)
        .await
        .expect("create nap()");
        shop
    }

    /// How many statements calling `nap` are running in the shop database now.
    pub async fn naps_running(&self) -> i64 {
        let mut conn = self.db.connect().await;
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state = 'active' AND query LIKE '%nap(%' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut conn)
        .await
        .expect("read pg_stat_activity")
    }

    /// Waits until `nap` statements run (`running`) or none do (`!running`), polling for at
    /// most 20 s. Whether it got there.
    pub async fn wait_for_naps(&self, running: bool) -> bool {
        for _ in 0..200 {
            if (self.naps_running().await > 0) == running {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }
}

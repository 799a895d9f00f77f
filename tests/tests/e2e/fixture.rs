//! The common setup: a server, a copy of the shop database registered as service `db`, and
//! an admin client.

use rampart_tests::{Client, TestApp, TestDb, spawn_app};

/// A server with the shop database registered as `db`.
pub struct Shop {
    pub app: TestApp,
    pub db: TestDb,
    pub admin: Client,
    pub service_id: i64,
}

impl Shop {
    pub async fn new() -> Self {
        let db = TestDb::shop().await;
        let app = spawn_app();
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

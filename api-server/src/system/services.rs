//! Services (databases and identity providers). A service's `config` is JSON; its secret keys
//! (`password`, `url` which may embed one, `bind_password`, `client_secret`,
//! `sp_private_key`) are encrypted with the master key before they are stored and are left
//! out of everything the API returns.

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde_json::{Map, Value};

use super::crypto::MasterKey;
use super::{Store, SystemError, Tx, now};

/// Config keys that hold secrets.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "url",
    "bind_password",
    "client_secret",
    "sp_private_key",
];

#[derive(Iden)]
enum Services {
    Table,
    Id,
    Name,
    Label,
    Description,
    IsActive,
    Type,
    Config,
    CreatedDate,
    LastModifiedDate,
}

/// A service as stored; `config` is JSON text with secrets encrypted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceRecord {
    pub id: i64,
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    pub is_active: bool,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub config: String,
}

/// Fields of a service to create or change (config already has its secrets encrypted).
#[derive(Debug, Clone, Default)]
pub struct ServiceFields {
    pub name: Option<String>,
    pub label: Option<String>,
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub kind: Option<String>,
    pub config: Option<String>,
}

impl ServiceRecord {
    /// The config as JSON with every secret removed: what the API may show.
    #[must_use]
    pub fn public_config(&self) -> Value {
        let mut config = self.config_map();
        for key in SECRET_KEYS {
            config.remove(*key);
        }
        Value::Object(config)
    }

    /// The config with secrets decrypted, for the connector only.
    pub fn decrypted_config(&self, key: &MasterKey) -> Result<Map<String, Value>, SystemError> {
        let mut config = self.config_map();
        for name in SECRET_KEYS {
            if let Some(Value::String(stored)) = config.get(*name) {
                let plain = key.decrypt(stored)?;
                config.insert((*name).to_owned(), Value::String(plain));
            }
        }
        Ok(config)
    }

    /// The stored config (secrets still encrypted).
    #[must_use]
    pub fn config_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.config) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// When it was created or changed is not needed by callers today; kept out of the record.
    #[must_use]
    pub fn is_database(&self) -> bool {
        self.kind == "pgsql"
    }
}

/// Encrypts the secret keys of a plain config; `previous` supplies secrets the update left
/// out (so a console that never sees the password can still save other changes).
#[must_use]
pub fn seal_config(
    key: &MasterKey,
    mut plain: Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> String {
    for name in SECRET_KEYS {
        match plain.get(*name) {
            Some(Value::String(s)) if !s.is_empty() => {
                let sealed = key.encrypt(s);
                plain.insert((*name).to_owned(), Value::String(sealed));
            }
            Some(Value::Null) => {
                plain.remove(*name);
            }
            _ => {
                plain.remove(*name);
                if let Some(old) = previous.and_then(|p| p.get(*name)) {
                    plain.insert((*name).to_owned(), old.clone());
                }
            }
        }
    }
    Value::Object(plain).to_string()
}

/// The id of the system service: the system API itself, a service only so that a role's
/// access rows can grant its resources (`audit`). No function here reads or changes it.
pub const SYSTEM_ID: i64 = 0;

/// The system service's type.
const SYSTEM_TYPE: &str = "system";

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            Services::Id,
            Services::Name,
            Services::Label,
            Services::Description,
            Services::IsActive,
            Services::Type,
            Services::Config,
        ])
        .from(Services::Table)
        .and_where(Expr::col(Services::Type).ne(SYSTEM_TYPE))
        .order_by(Services::Id, Order::Asc)
        .to_owned()
}

/// All services.
pub async fn list(store: &Store) -> Result<Vec<ServiceRecord>, SystemError> {
    store.all(&select()).await
}

/// One service by id.
pub async fn get(store: &Store, id: i64) -> Result<ServiceRecord, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Services::Id).eq(id))
                .to_owned(),
        )
        .await?
        .ok_or(SystemError::NotFound {
            entity: "Service",
            id: id.to_string(),
        })
}

/// One service by name (names are stored lower-case).
pub async fn find_by_name(store: &Store, name: &str) -> Result<Option<ServiceRecord>, SystemError> {
    // A name from a request path: no service's has a control character, and PostgreSQL
    // would refuse a NUL outright.
    if name.chars().any(char::is_control) {
        return Ok(None);
    }
    store
        .one(
            &select()
                .and_where(Expr::col(Services::Name).eq(name.to_lowercase()))
                .to_owned(),
        )
        .await
}

/// Creates a service.
pub async fn create(tx: &mut Tx, f: &ServiceFields) -> Result<i64, SystemError> {
    let name = f
        .name
        .clone()
        .ok_or_else(|| SystemError::Invalid("Field 'name' can not be NULL.".into()))?;
    let kind = f
        .kind
        .clone()
        .ok_or_else(|| SystemError::Invalid("Field 'type' can not be NULL.".into()))?;
    let at: DateTime<Utc> = now();
    tx.insert(
        &Query::insert()
            .into_table(Services::Table)
            .columns([
                Services::Name,
                Services::Label,
                Services::Description,
                Services::IsActive,
                Services::Type,
                Services::Config,
                Services::CreatedDate,
                Services::LastModifiedDate,
            ])
            .values_panic([
                name.to_lowercase().into(),
                f.label.clone().unwrap_or_else(|| name.clone()).into(),
                f.description.clone().flatten().into(),
                f.is_active.unwrap_or(true).into(),
                kind.into(),
                f.config.clone().unwrap_or_else(|| "{}".into()).into(),
                at.into(),
                at.into(),
            ])
            .returning_col(Services::Id)
            .to_owned(),
    )
    .await
}

/// Changes a service.
pub async fn update(tx: &mut Tx, id: i64, f: &ServiceFields) -> Result<(), SystemError> {
    let mut q = Query::update();
    q.table(Services::Table)
        .value(Services::LastModifiedDate, now())
        .and_where(Expr::col(Services::Id).eq(id))
        .and_where(Expr::col(Services::Type).ne(SYSTEM_TYPE));
    if let Some(v) = &f.name {
        q.value(Services::Name, v.to_lowercase());
    }
    if let Some(v) = &f.label {
        q.value(Services::Label, v.clone());
    }
    if let Some(v) = &f.description {
        q.value(Services::Description, v.clone());
    }
    if let Some(v) = f.is_active {
        q.value(Services::IsActive, v);
    }
    if let Some(v) = &f.config {
        q.value(Services::Config, v.clone());
    }
    tx.execute_one(&q, "Service", id).await
}

/// Deletes a service (its access rows go with it).
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Services::Table)
            .and_where(Expr::col(Services::Id).eq(id))
            .and_where(Expr::col(Services::Type).ne(SYSTEM_TYPE))
            .to_owned(),
        "Service",
        id,
    )
    .await
}

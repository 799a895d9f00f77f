//! CORS entries as stored (DreamFactory's `cors_config`). What an entry allows is
//! `crate::cors`' business; this module only keeps the rows. A change replaces every field.

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx, now};

#[derive(Iden, Clone, Copy)]
enum Cors {
    Table,
    Id,
    Path,
    Description,
    Origin,
    Header,
    ExposedHeader,
    MaxAge,
    Method,
    SupportsCredentials,
    Enabled,
    CreatedDate,
    LastModifiedDate,
}

/// A CORS entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct CorsRecord {
    pub id: i64,
    /// The paths it covers: `*`, or a path under the server root where `*` matches anything.
    pub path: String,
    pub description: Option<String>,
    /// `*` or a comma-separated list of origins (`https://app.example.com`).
    pub origin: String,
    /// Request headers a browser may send (comma-separated; `*` for any).
    pub header: String,
    /// Response headers a page may read (comma-separated).
    pub exposed_header: String,
    /// How long a browser may keep a preflight's answer, in seconds.
    pub max_age: i64,
    /// The verbs allowed, as a JSON list.
    pub method: String,
    pub supports_credentials: bool,
    pub enabled: bool,
    pub created_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
}

/// Every field of an entry, checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsFields {
    pub path: String,
    pub description: Option<String>,
    pub origin: String,
    pub header: String,
    pub exposed_header: String,
    pub max_age: i64,
    pub methods: Vec<String>,
    pub supports_credentials: bool,
    pub enabled: bool,
}

impl CorsFields {
    fn values(&self) -> [sea_query::SimpleExpr; 9] {
        [
            self.path.clone().into(),
            self.description.clone().into(),
            self.origin.clone().into(),
            self.header.clone().into(),
            self.exposed_header.clone().into(),
            self.max_age.into(),
            serde_json::to_string(&self.methods)
                .unwrap_or_else(|_| "[]".into())
                .into(),
            self.supports_credentials.into(),
            self.enabled.into(),
        ]
    }
}

/// The columns `CorsFields` writes, in its order.
const WRITTEN: [Cors; 9] = [
    Cors::Path,
    Cors::Description,
    Cors::Origin,
    Cors::Header,
    Cors::ExposedHeader,
    Cors::MaxAge,
    Cors::Method,
    Cors::SupportsCredentials,
    Cors::Enabled,
];

fn select() -> sea_query::SelectStatement {
    Query::select()
        .column(Cors::Id)
        .columns(WRITTEN)
        .columns([Cors::CreatedDate, Cors::LastModifiedDate])
        .from(Cors::Table)
        .order_by(Cors::Id, Order::Asc)
        .to_owned()
}

/// Every entry, oldest first (the order entries are matched in).
pub async fn list(store: &Store) -> Result<Vec<CorsRecord>, SystemError> {
    store.all(&select()).await
}

/// One entry.
pub async fn get(store: &Store, id: i64) -> Result<CorsRecord, SystemError> {
    store
        .one(&select().and_where(Expr::col(Cors::Id).eq(id)).to_owned())
        .await?
        .ok_or(SystemError::NotFound {
            entity: "CORS entry",
            id: id.to_string(),
        })
}

/// Creates an entry; returns its id.
pub async fn create(tx: &mut Tx, f: &CorsFields) -> Result<i64, SystemError> {
    let at = now();
    let mut values = f.values().to_vec();
    values.extend([at.into(), at.into()]);
    tx.insert(
        &Query::insert()
            .into_table(Cors::Table)
            .columns(
                WRITTEN
                    .into_iter()
                    .chain([Cors::CreatedDate, Cors::LastModifiedDate]),
            )
            .values_panic(values)
            .returning_col(Cors::Id)
            .to_owned(),
    )
    .await
}

/// Replaces an entry's fields.
pub async fn update(tx: &mut Tx, id: i64, f: &CorsFields) -> Result<(), SystemError> {
    let mut q = Query::update();
    q.table(Cors::Table)
        .value(Cors::LastModifiedDate, now())
        .and_where(Expr::col(Cors::Id).eq(id));
    for (col, v) in WRITTEN.into_iter().zip(f.values()) {
        q.value(col, v);
    }
    tx.execute_one(&q, "CORS entry", id).await
}

/// Deletes an entry.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Cors::Table)
            .and_where(Expr::col(Cors::Id).eq(id))
            .to_owned(),
        "CORS entry",
        id,
    )
    .await
}

//! Rate limits as stored (DreamFactory's `limits` table, plus an app scope). What a limit
//! means is `crate::limits`' business; this module only keeps the rows.

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx, now};

#[derive(Iden, Clone, Copy)]
enum Limits {
    Table,
    Id,
    Type,
    Name,
    Description,
    Rate,
    Period,
    UserId,
    RoleId,
    AppId,
    ServiceId,
    Endpoint,
    Verb,
    IsActive,
    CreatedDate,
    LastModifiedDate,
}

/// A limit as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct LimitRecord {
    pub id: i64,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub rate: i64,
    /// 0 minute, 1 hour, 2 day, 3 7-day, 4 30-day.
    pub period: i64,
    pub user_id: Option<i64>,
    pub role_id: Option<i64>,
    pub app_id: Option<i64>,
    pub service_id: Option<i64>,
    pub endpoint: Option<String>,
    pub verb: Option<String>,
    pub is_active: bool,
    pub created_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
}

impl LimitRecord {
    /// A limit of `kind` with nothing else set (active, 1 per minute): a base for checks.
    #[must_use]
    pub fn blank(kind: &str) -> Self {
        let now = now();
        Self {
            id: 0,
            kind: kind.to_owned(),
            name: String::new(),
            description: None,
            rate: 1,
            period: 0,
            user_id: None,
            role_id: None,
            app_id: None,
            service_id: None,
            endpoint: None,
            verb: None,
            is_active: true,
            created_date: now,
            last_modified_date: now,
        }
    }
}

/// Fields of a limit to create or change (`None`: leave as is; `Some(None)`: clear).
#[derive(Debug, Clone, Default)]
pub struct LimitFields {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub rate: Option<i64>,
    pub period: Option<i64>,
    pub user_id: Option<Option<i64>>,
    pub role_id: Option<Option<i64>>,
    pub app_id: Option<Option<i64>>,
    pub service_id: Option<Option<i64>>,
    pub endpoint: Option<Option<String>>,
    pub verb: Option<Option<String>>,
    pub is_active: Option<bool>,
}

const COLUMNS: [Limits; 15] = [
    Limits::Id,
    Limits::Type,
    Limits::Name,
    Limits::Description,
    Limits::Rate,
    Limits::Period,
    Limits::UserId,
    Limits::RoleId,
    Limits::AppId,
    Limits::ServiceId,
    Limits::Endpoint,
    Limits::Verb,
    Limits::IsActive,
    Limits::CreatedDate,
    Limits::LastModifiedDate,
];

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Limits::Table)
        .order_by(Limits::Id, Order::Asc)
        .to_owned()
}

/// Every limit.
pub async fn list(store: &Store) -> Result<Vec<LimitRecord>, SystemError> {
    store.all(&select()).await
}

/// One limit.
pub async fn get(store: &Store, id: i64) -> Result<LimitRecord, SystemError> {
    store
        .one(&select().and_where(Expr::col(Limits::Id).eq(id)).to_owned())
        .await?
        .ok_or(SystemError::NotFound {
            entity: "Limit",
            id: id.to_string(),
        })
}

/// Creates a limit (the caller has checked the fields); returns its id.
pub async fn create(tx: &mut Tx, f: &LimitFields) -> Result<i64, SystemError> {
    let required = |name: &str| SystemError::Invalid(format!("Field '{name}' can not be NULL."));
    let at = now();
    tx.insert(
        &Query::insert()
            .into_table(Limits::Table)
            .columns(COLUMNS[1..].iter().copied())
            .values_panic([
                f.kind.clone().ok_or_else(|| required("type"))?.into(),
                f.name.clone().ok_or_else(|| required("name"))?.into(),
                f.description.clone().flatten().into(),
                f.rate.ok_or_else(|| required("rate"))?.into(),
                f.period.unwrap_or(0).into(),
                f.user_id.flatten().into(),
                f.role_id.flatten().into(),
                f.app_id.flatten().into(),
                f.service_id.flatten().into(),
                f.endpoint.clone().flatten().into(),
                f.verb.clone().flatten().into(),
                f.is_active.unwrap_or(true).into(),
                at.into(),
                at.into(),
            ])
            .returning_col(Limits::Id)
            .to_owned(),
    )
    .await
}

/// Changes a limit.
pub async fn update(tx: &mut Tx, id: i64, f: &LimitFields) -> Result<(), SystemError> {
    let mut q = Query::update();
    q.table(Limits::Table)
        .value(Limits::LastModifiedDate, now())
        .and_where(Expr::col(Limits::Id).eq(id));
    if let Some(v) = &f.kind {
        q.value(Limits::Type, v.clone());
    }
    if let Some(v) = &f.name {
        q.value(Limits::Name, v.clone());
    }
    if let Some(v) = &f.description {
        q.value(Limits::Description, v.clone());
    }
    if let Some(v) = f.rate {
        q.value(Limits::Rate, v);
    }
    if let Some(v) = f.period {
        q.value(Limits::Period, v);
    }
    for (col, v) in [
        (Limits::UserId, f.user_id),
        (Limits::RoleId, f.role_id),
        (Limits::AppId, f.app_id),
        (Limits::ServiceId, f.service_id),
    ] {
        if let Some(v) = v {
            q.value(col, v);
        }
    }
    if let Some(v) = &f.endpoint {
        q.value(Limits::Endpoint, v.clone());
    }
    if let Some(v) = &f.verb {
        q.value(Limits::Verb, v.clone());
    }
    if let Some(v) = f.is_active {
        q.value(Limits::IsActive, v);
    }
    tx.execute_one(&q, "Limit", id).await
}

/// Deletes a limit.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Limits::Table)
            .and_where(Expr::col(Limits::Id).eq(id))
            .to_owned(),
        "Limit",
        id,
    )
    .await
}

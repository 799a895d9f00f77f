//! Roles and their `role_service_access` rows (DreamFactory's fields: service_id, component,
//! verb_mask, requestor_mask, filters, filter_op; plus Rampart's field_rules).

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx, now};

#[derive(Iden)]
enum Roles {
    Table,
    Id,
    Name,
    Description,
    IsActive,
    CreatedDate,
    LastModifiedDate,
}

#[derive(Iden)]
enum RoleServiceAccess {
    Table,
    Id,
    RoleId,
    ServiceId,
    Component,
    VerbMask,
    RequestorMask,
    Filters,
    FilterOp,
    FieldRules,
}

/// A role as stored.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct RoleRecord {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub created_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
}

/// One access row of a role. `filters` and `field_rules` are JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessRecord {
    pub id: i64,
    pub role_id: i64,
    pub service_id: Option<i64>,
    pub component: String,
    pub verb_mask: i64,
    pub requestor_mask: i64,
    pub filters: String,
    pub filter_op: String,
    pub field_rules: String,
}

#[cfg(test)]
impl AccessRecord {
    /// An API access row of role 1, without filters or field rules, for tests.
    #[must_use]
    pub fn example(id: i64, service_id: Option<i64>, component: &str, verb_mask: i64) -> Self {
        Self {
            id,
            role_id: 1,
            service_id,
            component: component.into(),
            verb_mask,
            requestor_mask: 1,
            filters: "[]".into(),
            filter_op: "AND".into(),
            field_rules: "{}".into(),
        }
    }
}

/// Fields of a role to create or change.
#[derive(Debug, Clone, Default)]
pub struct RoleFields {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// An access row to write (already validated).
#[derive(Debug, Clone)]
pub struct AccessFields {
    pub service_id: Option<i64>,
    pub component: String,
    pub verb_mask: i64,
    pub requestor_mask: i64,
    pub filters: String,
    pub filter_op: String,
    pub field_rules: String,
}

fn select_roles() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            Roles::Id,
            Roles::Name,
            Roles::Description,
            Roles::IsActive,
            Roles::CreatedDate,
            Roles::LastModifiedDate,
        ])
        .from(Roles::Table)
        .order_by(Roles::Id, Order::Asc)
        .to_owned()
}

fn select_access() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            RoleServiceAccess::Id,
            RoleServiceAccess::RoleId,
            RoleServiceAccess::ServiceId,
            RoleServiceAccess::Component,
            RoleServiceAccess::VerbMask,
            RoleServiceAccess::RequestorMask,
            RoleServiceAccess::Filters,
            RoleServiceAccess::FilterOp,
            RoleServiceAccess::FieldRules,
        ])
        .from(RoleServiceAccess::Table)
        .order_by(RoleServiceAccess::Id, Order::Asc)
        .to_owned()
}

/// All roles.
pub async fn list(store: &Store) -> Result<Vec<RoleRecord>, SystemError> {
    store.all(&select_roles()).await
}

/// One role.
pub async fn get(store: &Store, id: i64) -> Result<RoleRecord, SystemError> {
    store
        .one(
            &select_roles()
                .and_where(Expr::col(Roles::Id).eq(id))
                .to_owned(),
        )
        .await?
        .ok_or(SystemError::NotFound {
            entity: "Role",
            id: id.to_string(),
        })
}

/// The access rows of a role.
pub async fn access_of(store: &Store, role_id: i64) -> Result<Vec<AccessRecord>, SystemError> {
    store
        .all(
            &select_access()
                .and_where(Expr::col(RoleServiceAccess::RoleId).eq(role_id))
                .to_owned(),
        )
        .await
}

/// The access rows of a role, inside a transaction.
pub async fn access_of_tx(tx: &mut Tx, role_id: i64) -> Result<Vec<AccessRecord>, SystemError> {
    tx.all(
        &select_access()
            .and_where(Expr::col(RoleServiceAccess::RoleId).eq(role_id))
            .to_owned(),
    )
    .await
}

/// Creates a role.
pub async fn create(tx: &mut Tx, fields: &RoleFields) -> Result<i64, SystemError> {
    let name = fields
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| SystemError::Invalid("Field 'name' can not be NULL.".into()))?;
    let at = now();
    tx.insert(
        &Query::insert()
            .into_table(Roles::Table)
            .columns([
                Roles::Name,
                Roles::Description,
                Roles::IsActive,
                Roles::CreatedDate,
                Roles::LastModifiedDate,
            ])
            .values_panic([
                name.into(),
                fields.description.clone().flatten().into(),
                fields.is_active.unwrap_or(true).into(),
                at.into(),
                at.into(),
            ])
            .returning_col(Roles::Id)
            .to_owned(),
    )
    .await
}

/// Changes a role's own fields.
pub async fn update(tx: &mut Tx, id: i64, fields: &RoleFields) -> Result<(), SystemError> {
    let mut q = Query::update();
    q.table(Roles::Table)
        .value(Roles::LastModifiedDate, now())
        .and_where(Expr::col(Roles::Id).eq(id));
    if let Some(name) = &fields.name {
        if name.trim().is_empty() {
            return Err(SystemError::Invalid("Field 'name' can not be NULL.".into()));
        }
        q.value(Roles::Name, name.clone());
    }
    if let Some(d) = &fields.description {
        q.value(Roles::Description, d.clone());
    }
    if let Some(a) = fields.is_active {
        q.value(Roles::IsActive, a);
    }
    tx.execute_one(&q, "Role", id).await
}

/// Deletes a role (its access rows and lookups go with it).
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Roles::Table)
            .and_where(Expr::col(Roles::Id).eq(id))
            .to_owned(),
        "Role",
        id,
    )
    .await
}

/// Adds an access row to a role.
pub async fn add_access(tx: &mut Tx, role_id: i64, a: &AccessFields) -> Result<i64, SystemError> {
    tx.insert(
        &Query::insert()
            .into_table(RoleServiceAccess::Table)
            .columns([
                RoleServiceAccess::RoleId,
                RoleServiceAccess::ServiceId,
                RoleServiceAccess::Component,
                RoleServiceAccess::VerbMask,
                RoleServiceAccess::RequestorMask,
                RoleServiceAccess::Filters,
                RoleServiceAccess::FilterOp,
                RoleServiceAccess::FieldRules,
            ])
            .values_panic([
                role_id.into(),
                a.service_id.into(),
                a.component.clone().into(),
                a.verb_mask.into(),
                a.requestor_mask.into(),
                a.filters.clone().into(),
                a.filter_op.clone().into(),
                a.field_rules.clone().into(),
            ])
            .returning_col(RoleServiceAccess::Id)
            .to_owned(),
    )
    .await
}

/// Replaces an access row of this role.
pub async fn update_access(
    tx: &mut Tx,
    role_id: i64,
    id: i64,
    a: &AccessFields,
) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::update()
            .table(RoleServiceAccess::Table)
            .value(RoleServiceAccess::ServiceId, a.service_id)
            .value(RoleServiceAccess::Component, a.component.clone())
            .value(RoleServiceAccess::VerbMask, a.verb_mask)
            .value(RoleServiceAccess::RequestorMask, a.requestor_mask)
            .value(RoleServiceAccess::Filters, a.filters.clone())
            .value(RoleServiceAccess::FilterOp, a.filter_op.clone())
            .value(RoleServiceAccess::FieldRules, a.field_rules.clone())
            .and_where(Expr::col(RoleServiceAccess::Id).eq(id))
            .and_where(Expr::col(RoleServiceAccess::RoleId).eq(role_id))
            .to_owned(),
        "Role service access",
        id,
    )
    .await
}

/// Removes an access row of this role.
pub async fn delete_access(tx: &mut Tx, role_id: i64, id: i64) -> Result<(), SystemError> {
    tx.execute(
        &Query::delete()
            .from_table(RoleServiceAccess::Table)
            .and_where(Expr::col(RoleServiceAccess::Id).eq(id))
            .and_where(Expr::col(RoleServiceAccess::RoleId).eq(role_id))
            .to_owned(),
    )
    .await
    .map(|_| ())
}

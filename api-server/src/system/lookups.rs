//! Lookups: named values (`{tenant}`) layered global → app → role → user, used by row filters.
//! Private lookups are never shown in API output.

use sea_query::{Condition, Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx};

#[derive(Iden)]
enum Lookups {
    Table,
    Id,
    Name,
    Value,
    Private,
    Description,
    AppId,
    RoleId,
    UserId,
}

/// A lookup as stored.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct LookupRecord {
    pub id: i64,
    pub name: String,
    pub value: String,
    pub private: bool,
    pub description: Option<String>,
    pub app_id: Option<i64>,
    pub role_id: Option<i64>,
    pub user_id: Option<i64>,
}

impl LookupRecord {
    /// The API form: private values are replaced by [`HIDDEN`].
    #[must_use]
    pub fn public(&self) -> Self {
        let mut out = self.clone();
        if out.private {
            out.value = HIDDEN.into();
        }
        out
    }
}

/// What a private lookup's value reads as. Written back unchanged (a client that saves what it
/// read), it keeps the stored value.
pub const HIDDEN: &str = "**********";

/// A lookup to write.
#[derive(Debug, Clone)]
pub struct LookupFields {
    pub name: String,
    pub value: String,
    pub private: bool,
    pub description: Option<String>,
}

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            Lookups::Id,
            Lookups::Name,
            Lookups::Value,
            Lookups::Private,
            Lookups::Description,
            Lookups::AppId,
            Lookups::RoleId,
            Lookups::UserId,
        ])
        .from(Lookups::Table)
        .order_by(Lookups::Id, Order::Asc)
        .to_owned()
}

/// What a lookup is attached to: a role, a user, or nothing (a global lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Global,
    Role(i64),
    User(i64),
}

impl Owner {
    /// The owner's column and id; none for a global lookup.
    fn column(self) -> Option<(Lookups, i64)> {
        match self {
            Self::Global => None,
            Self::Role(id) => Some((Lookups::RoleId, id)),
            Self::User(id) => Some((Lookups::UserId, id)),
        }
    }

    /// The rows of this owner: its own, or (global) those attached to nothing.
    fn condition(self) -> Condition {
        match self.column() {
            Some((col, id)) => Condition::all().add(Expr::col(col).eq(id)),
            None => Condition::all()
                .add(Expr::col(Lookups::AppId).is_null())
                .add(Expr::col(Lookups::RoleId).is_null())
                .add(Expr::col(Lookups::UserId).is_null()),
        }
    }
}

/// The lookups of an owner.
pub async fn of(store: &Store, owner: Owner) -> Result<Vec<LookupRecord>, SystemError> {
    store
        .all(&select().cond_where(owner.condition()).to_owned())
        .await
}

/// The lookups of one owner, inside a transaction.
pub async fn of_tx(tx: &mut Tx, owner: Owner) -> Result<Vec<LookupRecord>, SystemError> {
    tx.all(&select().cond_where(owner.condition()).to_owned())
        .await
}

/// Global lookups (attached to no app, role or user).
pub async fn global(store: &Store) -> Result<Vec<LookupRecord>, SystemError> {
    of(store, Owner::Global).await
}

/// Adds a lookup to an owner.
pub async fn add(tx: &mut Tx, owner: Owner, f: &LookupFields) -> Result<i64, SystemError> {
    let mut insert = Query::insert();
    insert.into_table(Lookups::Table);
    let fields = [
        f.name.clone().into(),
        f.value.clone().into(),
        f.private.into(),
        f.description.clone().into(),
    ];
    let columns = [
        Lookups::Name,
        Lookups::Value,
        Lookups::Private,
        Lookups::Description,
    ];
    match owner.column() {
        Some((col, id)) => insert
            .columns(columns.into_iter().chain([col]))
            .values_panic(fields.into_iter().chain([id.into()])),
        None => insert.columns(columns).values_panic(fields),
    };
    tx.insert(&insert.returning_col(Lookups::Id).to_owned())
        .await
}

/// Changes a lookup of an owner; another owner's lookup is not found.
pub async fn update_in(
    tx: &mut Tx,
    owner: Owner,
    id: i64,
    f: &LookupFields,
) -> Result<(), SystemError> {
    let mut update = Query::update();
    update
        .table(Lookups::Table)
        .value(Lookups::Name, f.name.clone())
        .value(Lookups::Private, f.private)
        .value(Lookups::Description, f.description.clone())
        .and_where(Expr::col(Lookups::Id).eq(id))
        .cond_where(owner.condition());
    if f.value != HIDDEN {
        update.value(Lookups::Value, f.value.clone());
    }
    tx.execute_one(&update, "Lookup", id).await
}

/// Removes a lookup of an owner; another owner's lookup is not found.
pub async fn delete_in(tx: &mut Tx, owner: Owner, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Lookups::Table)
            .and_where(Expr::col(Lookups::Id).eq(id))
            .cond_where(owner.condition())
            .to_owned(),
        "Lookup",
        id,
    )
    .await
}

/// One lookup of an owner.
pub async fn get_in(store: &Store, owner: Owner, id: i64) -> Result<LookupRecord, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Lookups::Id).eq(id))
                .cond_where(owner.condition())
                .to_owned(),
        )
        .await?
        .ok_or(SystemError::NotFound {
            entity: "Lookup",
            id: id.to_string(),
        })
}

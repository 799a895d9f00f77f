//! Lookups: named values (`{tenant}`) layered global → app → role → user, used by row filters.
//! Private lookups are never shown in API output.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};
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

/// What a lookup is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Role(i64),
    User(i64),
}

impl Owner {
    fn column(self) -> (Lookups, i64) {
        match self {
            Self::Role(id) => (Lookups::RoleId, id),
            Self::User(id) => (Lookups::UserId, id),
        }
    }
}

/// The lookups attached to a role or user.
pub async fn of(store: &Store, owner: Owner) -> Result<Vec<LookupRecord>, SystemError> {
    let (col, id) = owner.column();
    store
        .all(&select().and_where(Expr::col(col).eq(id)).to_owned())
        .await
}

/// The lookups of one owner, inside a transaction.
pub async fn of_tx(tx: &mut Tx, owner: Owner) -> Result<Vec<LookupRecord>, SystemError> {
    let (col, id) = owner.column();
    tx.all(&select().and_where(Expr::col(col).eq(id)).to_owned())
        .await
}

/// Global lookups (attached to no app, role or user).
pub async fn global(store: &Store) -> Result<Vec<LookupRecord>, SystemError> {
    store
        .all(
            &select()
                .and_where(Expr::col(Lookups::AppId).is_null())
                .and_where(Expr::col(Lookups::RoleId).is_null())
                .and_where(Expr::col(Lookups::UserId).is_null())
                .to_owned(),
        )
        .await
}

/// Adds a lookup to a role or user.
pub async fn add(tx: &mut Tx, owner: Owner, f: &LookupFields) -> Result<i64, SystemError> {
    let (col, id) = owner.column();
    tx.insert(
        &Query::insert()
            .into_table(Lookups::Table)
            .columns([
                Lookups::Name,
                Lookups::Value,
                Lookups::Private,
                Lookups::Description,
                col,
            ])
            .values_panic([
                f.name.clone().into(),
                f.value.clone().into(),
                f.private.into(),
                f.description.clone().into(),
                id.into(),
            ])
            .returning_col(Lookups::Id)
            .to_owned(),
    )
    .await
}

/// Changes a lookup of a role or user.
pub async fn update_in(
    tx: &mut Tx,
    owner: Owner,
    id: i64,
    f: &LookupFields,
) -> Result<(), SystemError> {
    let (col, owner_id) = owner.column();
    let mut update = Query::update();
    update
        .table(Lookups::Table)
        .value(Lookups::Name, f.name.clone())
        .value(Lookups::Private, f.private)
        .value(Lookups::Description, f.description.clone())
        .and_where(Expr::col(Lookups::Id).eq(id))
        .and_where(Expr::col(col).eq(owner_id));
    if f.value != HIDDEN {
        update.value(Lookups::Value, f.value.clone());
    }
    tx.execute(&update).await.map(|_| ())
}

/// Removes a lookup of a role or user.
pub async fn delete_in(tx: &mut Tx, owner: Owner, id: i64) -> Result<(), SystemError> {
    let (col, owner_id) = owner.column();
    tx.execute(
        &Query::delete()
            .from_table(Lookups::Table)
            .and_where(Expr::col(Lookups::Id).eq(id))
            .and_where(Expr::col(col).eq(owner_id))
            .to_owned(),
    )
    .await
    .map(|_| ())
}

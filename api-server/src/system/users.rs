//! Users and admins (one table, DreamFactory's model: admins are users with `is_sys_admin`).
//! Password hashes are never serialised.

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx, now};

#[derive(Iden)]
enum Users {
    Table,
    Id,
    Name,
    Username,
    FirstName,
    LastName,
    Email,
    PasswordHash,
    IsSysAdmin,
    IsActive,
    Phone,
    LastLoginDate,
    CreatedDate,
    LastModifiedDate,
}

/// A user or admin as stored (the hash is kept out of serialisation).
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub is_sys_admin: bool,
    pub is_active: bool,
    pub phone: Option<String>,
    pub last_login_date: Option<DateTime<Utc>>,
    pub created_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
}

/// Fields of a new user or admin.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub is_sys_admin: bool,
    pub is_active: bool,
}

/// Changes to a user; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub is_active: Option<bool>,
}

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            Users::Id,
            Users::Name,
            Users::Username,
            Users::FirstName,
            Users::LastName,
            Users::Email,
            Users::PasswordHash,
            Users::IsSysAdmin,
            Users::IsActive,
            Users::Phone,
            Users::LastLoginDate,
            Users::CreatedDate,
            Users::LastModifiedDate,
        ])
        .from(Users::Table)
        .order_by(Users::Id, Order::Asc)
        .to_owned()
}

/// Admins, by id.
pub async fn list_admins(store: &Store) -> Result<Vec<UserRecord>, SystemError> {
    store
        .all(
            &select()
                .and_where(Expr::col(Users::IsSysAdmin).eq(true))
                .to_owned(),
        )
        .await
}

/// One admin.
pub async fn get_admin(store: &Store, id: i64) -> Result<UserRecord, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Users::Id).eq(id))
                .and_where(Expr::col(Users::IsSysAdmin).eq(true))
                .to_owned(),
        )
        .await?
        .ok_or(SystemError::NotFound {
            entity: "Admin",
            id: id.to_string(),
        })
}

/// A user or admin by e-mail (case-insensitive).
pub async fn find_by_email(store: &Store, email: &str) -> Result<Option<UserRecord>, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Users::Email).eq(email.trim().to_lowercase()))
                .to_owned(),
        )
        .await
}

/// A user or admin by id.
pub async fn find(store: &Store, id: i64) -> Result<Option<UserRecord>, SystemError> {
    store
        .one(&select().and_where(Expr::col(Users::Id).eq(id)).to_owned())
        .await
}

/// How many admins exist (first-start bootstrap creates one when none does).
pub async fn count_admins(store: &Store) -> Result<i64, SystemError> {
    store
        .scalar_i64(
            &Query::select()
                .expr(Expr::col(Users::Id).count())
                .from(Users::Table)
                .and_where(Expr::col(Users::IsSysAdmin).eq(true))
                .to_owned(),
        )
        .await
}

/// Inserts a user; e-mails are stored lower-cased.
pub async fn create(tx: &mut Tx, user: &NewUser) -> Result<i64, SystemError> {
    let email = user.email.trim().to_lowercase();
    let name = user.name.clone().unwrap_or_else(|| {
        let full = [user.first_name.as_deref(), user.last_name.as_deref()]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if full.is_empty() { email.clone() } else { full }
    });
    let at = now();
    tx.insert(
        &Query::insert()
            .into_table(Users::Table)
            .columns([
                Users::Email,
                Users::Name,
                Users::FirstName,
                Users::LastName,
                Users::Phone,
                Users::PasswordHash,
                Users::IsSysAdmin,
                Users::IsActive,
                Users::CreatedDate,
                Users::LastModifiedDate,
            ])
            .values_panic([
                email.into(),
                name.into(),
                user.first_name.clone().into(),
                user.last_name.clone().into(),
                user.phone.clone().into(),
                user.password_hash.clone().into(),
                user.is_sys_admin.into(),
                user.is_active.into(),
                at.into(),
                at.into(),
            ])
            .returning_col(Users::Id)
            .to_owned(),
    )
    .await
}

/// Applies changes to a user.
pub async fn update(tx: &mut Tx, id: i64, changes: &UserChanges) -> Result<(), SystemError> {
    let mut q = Query::update();
    q.table(Users::Table)
        .value(Users::LastModifiedDate, now())
        .and_where(Expr::col(Users::Id).eq(id));
    if let Some(email) = &changes.email {
        q.value(Users::Email, email.trim().to_lowercase());
    }
    if let Some(name) = &changes.name {
        q.value(Users::Name, name.clone());
    }
    if let Some(v) = &changes.first_name {
        q.value(Users::FirstName, v.clone());
    }
    if let Some(v) = &changes.last_name {
        q.value(Users::LastName, v.clone());
    }
    if let Some(v) = &changes.phone {
        q.value(Users::Phone, v.clone());
    }
    if let Some(v) = &changes.password_hash {
        q.value(Users::PasswordHash, v.clone());
    }
    if let Some(v) = changes.is_active {
        q.value(Users::IsActive, v);
    }
    tx.execute_one(&q, "User", id).await
}

/// Records a successful login.
pub async fn touch_login(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute(
        &Query::update()
            .table(Users::Table)
            .value(Users::LastLoginDate, now())
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// Deletes a user.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Users::Table)
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned(),
        "User",
        id,
    )
    .await
}

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
    ProviderServiceId,
    ProviderSubject,
    Claims,
    SessionEpoch,
    ProviderGroups,
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
    /// The identity provider (a service) that vouches for this user, if any.
    pub provider_service_id: Option<i64>,
    /// The user's subject at that provider.
    pub provider_subject: Option<String>,
    /// The provider's attributes at the last sign-in, as a JSON object (`{user.claims.*}`).
    #[serde(skip)]
    pub claims: String,
    /// Sessions issued before the last password change, disable or role change carry an
    /// older epoch and are refused.
    #[serde(skip)]
    pub session_epoch: i64,
    /// The provider's groups at the last sign-in, a JSON list.
    #[serde(skip)]
    pub provider_groups: String,
}

/// A person as an identity provider vouches for them.
#[derive(Debug, Clone)]
pub struct ExternalUser {
    pub service_id: i64,
    pub service_name: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The provider's attributes, a JSON object's text.
    pub claims: String,
    /// The provider's groups, a JSON list's text.
    pub groups: String,
}

/// Fields of a new user or admin.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    pub username: Option<String>,
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
    pub username: Option<Option<String>>,
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
            Users::ProviderServiceId,
            Users::ProviderSubject,
            Users::Claims,
            Users::SessionEpoch,
            Users::ProviderGroups,
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

/// Users (not admins), by id.
pub async fn list_users(store: &Store) -> Result<Vec<UserRecord>, SystemError> {
    store
        .all(
            &select()
                .and_where(Expr::col(Users::IsSysAdmin).eq(false))
                .to_owned(),
        )
        .await
}

/// One user (not an admin).
pub async fn get_user(store: &Store, id: i64) -> Result<UserRecord, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Users::Id).eq(id))
                .and_where(Expr::col(Users::IsSysAdmin).eq(false))
                .to_owned(),
        )
        .await?
        .ok_or(SystemError::NotFound {
            entity: "User",
            id: id.to_string(),
        })
}

/// A local account (one with a password, not an identity provider's) by e-mail or, when
/// `login` has no `@`, by username.
pub async fn find_local_login(
    store: &Store,
    login: &str,
) -> Result<Option<UserRecord>, SystemError> {
    let login = login.trim();
    // No stored e-mail or username has a control character; PostgreSQL would refuse a NUL.
    if login.chars().any(char::is_control) {
        return Ok(None);
    }
    let col = if login.contains('@') {
        Users::Email
    } else {
        Users::Username
    };
    store
        .one(
            &select()
                .and_where(Expr::col(col).eq(login.to_lowercase()))
                .and_where(Expr::col(Users::ProviderServiceId).is_null())
                .to_owned(),
        )
        .await
}

/// Ends every session of a user issued so far (their epoch moves on).
pub async fn end_sessions(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute(
        &Query::update()
            .table(Users::Table)
            .value(Users::SessionEpoch, Expr::col(Users::SessionEpoch).add(1))
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// A user or admin by e-mail (case-insensitive).
pub async fn find_by_email(store: &Store, email: &str) -> Result<Option<UserRecord>, SystemError> {
    // No stored address has a control character; PostgreSQL would refuse a NUL outright.
    if email.chars().any(char::is_control) {
        return Ok(None);
    }
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
                Users::Username,
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
                user.username.as_deref().map(str::to_lowercase).into(),
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
    if let Some(v) = &changes.username {
        q.value(Users::Username, v.as_deref().map(str::to_lowercase));
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

/// The user an identity provider vouches for, by (provider, subject).
pub async fn find_external(
    store: &Store,
    service_id: i64,
    subject: &str,
) -> Result<Option<UserRecord>, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Users::ProviderServiceId).eq(service_id))
                .and_where(Expr::col(Users::ProviderSubject).eq(subject))
                .to_owned(),
        )
        .await
}

/// DreamFactory's e-mail of an external user, `{local}+{service}@{domain}`: it never equals
/// a local account's. Without an e-mail from the provider, the subject stands in.
fn external_email(user: &ExternalUser, salted: bool) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(user.subject.as_bytes());
    let hash = super::crypto::hex(&digest[..6]);
    let (local, domain) = match user.email.as_deref().and_then(|e| e.rsplit_once('@')) {
        Some((l, d)) if !l.is_empty() && !d.is_empty() => (l.to_owned(), d.to_owned()),
        _ => (hash.clone(), "external.invalid".to_owned()),
    };
    let service = &user.service_name;
    if salted {
        format!("{local}+{service}+{hash}@{domain}")
    } else {
        format!("{local}+{service}@{domain}")
    }
}

/// The shadow user of an external identity, created on first sign-in and refreshed (e-mail,
/// name, claims) when the provider says something new. Keyed by (provider, subject) only: an
/// e-mail equal to another account's never links to it.
pub async fn upsert_external(
    store: &Store,
    user: &ExternalUser,
) -> Result<UserRecord, SystemError> {
    if let Some(found) = find_external(store, user.service_id, &user.subject).await? {
        let email = external_email(user, false);
        let salted = external_email(user, true);
        let name = user.name.clone().unwrap_or_else(|| found.name.clone());
        if (found.email == email || found.email == salted)
            && found.name == name
            && found.claims == user.claims
            && found.provider_groups == user.groups
        {
            return Ok(found);
        }
        let mut tx = store.begin().await?;
        let changed = refresh_external(&mut tx, found.id, &email, &name, user).await;
        let changed = match changed {
            Err(SystemError::Duplicate(_)) => {
                drop(tx);
                tx = store.begin().await?;
                refresh_external(&mut tx, found.id, &salted, &name, user).await
            }
            other => other,
        };
        changed?;
        tx.commit().await?;
        return find(store, found.id).await?.ok_or(SystemError::NotFound {
            entity: "User",
            id: found.id.to_string(),
        });
    }
    for salted in [false, true] {
        let mut tx = store.begin().await?;
        match insert_external(&mut tx, user, &external_email(user, salted)).await {
            Ok(id) => {
                tx.commit().await?;
                return find(store, id).await?.ok_or(SystemError::NotFound {
                    entity: "User",
                    id: id.to_string(),
                });
            }
            // Another request created it meanwhile, or the e-mail is taken: look again, or
            // try the salted e-mail.
            Err(SystemError::Duplicate(_)) => {
                if let Some(found) = find_external(store, user.service_id, &user.subject).await? {
                    return Ok(found);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(SystemError::Invalid(
        "could not give the external user a unique e-mail".into(),
    ))
}

async fn refresh_external(
    tx: &mut Tx,
    id: i64,
    email: &str,
    name: &str,
    user: &ExternalUser,
) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::update()
            .table(Users::Table)
            .value(Users::Email, email.to_lowercase())
            .value(Users::Name, name.to_owned())
            .value(Users::Claims, user.claims.clone())
            .value(Users::ProviderGroups, user.groups.clone())
            .value(Users::LastModifiedDate, now())
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned(),
        "User",
        id,
    )
    .await
}

async fn insert_external(
    tx: &mut Tx,
    user: &ExternalUser,
    email: &str,
) -> Result<i64, SystemError> {
    let at = now();
    let name = user.name.clone().unwrap_or_else(|| email.to_owned());
    tx.insert(
        &Query::insert()
            .into_table(Users::Table)
            .columns([
                Users::Email,
                Users::Name,
                Users::IsSysAdmin,
                Users::IsActive,
                Users::ProviderServiceId,
                Users::ProviderSubject,
                Users::Claims,
                Users::ProviderGroups,
                Users::CreatedDate,
                Users::LastModifiedDate,
            ])
            .values_panic([
                email.to_lowercase().into(),
                name.into(),
                false.into(),
                true.into(),
                user.service_id.into(),
                user.subject.clone().into(),
                user.claims.clone().into(),
                user.groups.clone().into(),
                at.into(),
                at.into(),
            ])
            .returning_col(Users::Id)
            .to_owned(),
    )
    .await
}

//! Apps and their API keys. A key is 64 random hex characters, shown once when created or
//! regenerated; only its SHA-256 is stored, so a stolen store does not yield usable keys.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx, now};

#[derive(Iden)]
enum Apps {
    Table,
    Id,
    Name,
    Description,
    IsActive,
    ApiKeyHash,
    RoleId,
    ReadOnly,
    CreatedDate,
    LastModifiedDate,
}

/// An app as stored (the key hash is never serialised).
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct AppRecord {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    #[serde(skip)]
    pub api_key_hash: String,
    /// The app's default role.
    pub role_id: Option<i64>,
    /// The key may only read: writes and function calls are refused, whatever the role.
    pub read_only: bool,
    pub created_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
}

/// Fields of an app to create or change.
#[derive(Debug, Clone, Default)]
pub struct AppFields {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub role_id: Option<Option<i64>>,
    pub read_only: Option<bool>,
}

/// A new random API key.
#[must_use]
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    super::crypto::hex(&bytes)
}

/// The stored form of a key.
#[must_use]
pub fn hash_key(key: &str) -> String {
    super::crypto::sha256_hex(key.as_bytes())
}

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            Apps::Id,
            Apps::Name,
            Apps::Description,
            Apps::IsActive,
            Apps::ApiKeyHash,
            Apps::RoleId,
            Apps::ReadOnly,
            Apps::CreatedDate,
            Apps::LastModifiedDate,
        ])
        .from(Apps::Table)
        .order_by(Apps::Id, Order::Asc)
        .to_owned()
}

/// All apps.
pub async fn list(store: &Store) -> Result<Vec<AppRecord>, SystemError> {
    store.all(&select()).await
}

/// One app.
pub async fn get(store: &Store, id: i64) -> Result<AppRecord, SystemError> {
    store
        .one(&select().and_where(Expr::col(Apps::Id).eq(id)).to_owned())
        .await?
        .ok_or(SystemError::NotFound {
            entity: "App",
            id: id.to_string(),
        })
}

/// The app holding this API key.
pub async fn find_by_key(store: &Store, key: &str) -> Result<Option<AppRecord>, SystemError> {
    store
        .one(
            &select()
                .and_where(Expr::col(Apps::ApiKeyHash).eq(hash_key(key)))
                .to_owned(),
        )
        .await
}

/// Creates an app; returns its id and its API key (the only time the key is known).
pub async fn create(tx: &mut Tx, f: &AppFields) -> Result<(i64, String), SystemError> {
    let name = f
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| SystemError::Invalid("Field 'name' can not be NULL.".into()))?;
    let key = generate_key();
    let at = now();
    let id = tx
        .insert(
            &Query::insert()
                .into_table(Apps::Table)
                .columns([
                    Apps::Name,
                    Apps::Description,
                    Apps::IsActive,
                    Apps::ApiKeyHash,
                    Apps::RoleId,
                    Apps::ReadOnly,
                    Apps::CreatedDate,
                    Apps::LastModifiedDate,
                ])
                .values_panic([
                    name.into(),
                    f.description.clone().flatten().into(),
                    f.is_active.unwrap_or(true).into(),
                    hash_key(&key).into(),
                    f.role_id.flatten().into(),
                    f.read_only.unwrap_or(false).into(),
                    at.into(),
                    at.into(),
                ])
                .returning_col(Apps::Id)
                .to_owned(),
        )
        .await?;
    Ok((id, key))
}

/// Changes an app.
pub async fn update(tx: &mut Tx, id: i64, f: &AppFields) -> Result<(), SystemError> {
    let mut q = Query::update();
    q.table(Apps::Table)
        .value(Apps::LastModifiedDate, now())
        .and_where(Expr::col(Apps::Id).eq(id));
    if let Some(v) = &f.name {
        q.value(Apps::Name, v.clone());
    }
    if let Some(v) = &f.description {
        q.value(Apps::Description, v.clone());
    }
    if let Some(v) = f.is_active {
        q.value(Apps::IsActive, v);
    }
    if let Some(v) = f.role_id {
        q.value(Apps::RoleId, v);
    }
    if let Some(v) = f.read_only {
        q.value(Apps::ReadOnly, v);
    }
    tx.execute_one(&q, "App", id).await
}

/// Issues a new key for an app (the old one stops working); returns it.
pub async fn regenerate_key(tx: &mut Tx, id: i64) -> Result<String, SystemError> {
    let key = generate_key();
    tx.execute_one(
        &Query::update()
            .table(Apps::Table)
            .value(Apps::ApiKeyHash, hash_key(&key))
            .value(Apps::LastModifiedDate, now())
            .and_where(Expr::col(Apps::Id).eq(id))
            .to_owned(),
        "App",
        id,
    )
    .await?;
    Ok(key)
}

/// Deletes an app.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(Apps::Table)
            .and_where(Expr::col(Apps::Id).eq(id))
            .to_owned(),
        "App",
        id,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_hex_characters_and_differ() {
        let a = generate_key();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, generate_key());
    }

    #[test]
    fn the_stored_hash_is_not_the_key() {
        let key = generate_key();
        assert_ne!(hash_key(&key), key);
        assert_eq!(hash_key(&key), hash_key(&key));
    }
}

//! The system store: Rampart's own data (admins and users, roles and their access rows,
//! apps and their API keys, database services, lookups), on SQLite or PostgreSQL.
//!
//! Architecture invariant: secrets are stored encrypted (`crypto`) or hashed (API keys,
//! passwords) and are never returned by the read functions here in clear, except
//! `ServiceRecord::decrypted_config` for the connector that needs it.

pub mod app_roles;
pub mod apps;
pub mod audit;
pub mod changes;
pub mod cors;
pub mod crypto;
pub mod limits;
pub mod login_states;
pub mod lookups;
pub mod oauth;
pub mod resets;
pub mod roles;
pub mod saml_assertions;
pub mod services;
pub mod sessions;
pub mod signing_keys;
mod store;
pub mod users;

pub use store::{Record, Store, Tx, redact_url};

/// Why a system store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error("cannot connect to the system store {0}: {1}")]
    Connect(String, #[source] sqlx::Error),
    #[error("the system store URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    #[error("{entity} with identifier '{id}' not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
    #[error("a record with this {0} already exists")]
    Duplicate(&'static str),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    #[error("system store error")]
    Database(#[source] sqlx::Error),
    /// From the audit writer's own SQLite connection (`statement::OwnSqlite`).
    #[error("system store error")]
    Sqlite(#[from] rusqlite::Error),
}

impl From<sqlx::Error> for SystemError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return Self::Duplicate("name");
            }
            if db.is_foreign_key_violation() {
                return Self::Invalid(
                    "a referenced record (role, service, app or user) does not exist".into(),
                );
            }
        }
        Self::Database(e)
    }
}

/// Now, as stored in `*_date` columns.
#[must_use]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

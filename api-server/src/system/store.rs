//! The system store connection: SQLite (default, a file in the data dir) or PostgreSQL
//! (selected by URL), the same schema on both, migrated at start.
//!
//! Architecture invariant: every statement is a sea-query builder rendered for the store's
//! backend by `statement::Statement`; row types decode from both backends.

use std::str::FromStr;

use sea_query::QueryStatementBuilder;
use sea_query::{InsertStatement, SelectStatement};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{FromRow, PgPool, Row, SqlitePool};

use super::SystemError;
use crate::statement::{self, Statement};

/// A row type that decodes from either backend.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// Migrations per backend, applied in order; each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("migrations/sqlite_001_init.sql"),
        include_str!("migrations/postgres_001_init.sql"),
    ),
    (
        2,
        include_str!("migrations/sqlite_002_external_users.sql"),
        include_str!("migrations/postgres_002_external_users.sql"),
    ),
    (
        3,
        include_str!("migrations/sqlite_003_local_users.sql"),
        include_str!("migrations/postgres_003_local_users.sql"),
    ),
    (
        4,
        include_str!("migrations/sqlite_004_saml.sql"),
        include_str!("migrations/postgres_004_saml.sql"),
    ),
    (
        5,
        include_str!("migrations/sqlite_005_audit.sql"),
        include_str!("migrations/postgres_005_audit.sql"),
    ),
    (
        6,
        include_str!("migrations/sqlite_006_limits.sql"),
        include_str!("migrations/postgres_006_limits.sql"),
    ),
    (
        7,
        include_str!("migrations/sqlite_007_cors.sql"),
        include_str!("migrations/postgres_007_cors.sql"),
    ),
    (
        8,
        include_str!("migrations/sqlite_008_system_service.sql"),
        include_str!("migrations/postgres_008_system_service.sql"),
    ),
    (
        9,
        include_str!("migrations/sqlite_009_audit_responses.sql"),
        include_str!("migrations/postgres_009_audit_responses.sql"),
    ),
    (
        10,
        include_str!("migrations/sqlite_010_audit_rowid.sql"),
        include_str!("migrations/postgres_010_audit_rowid.sql"),
    ),
    (
        11,
        include_str!("migrations/sqlite_011_oauth.sql"),
        include_str!("migrations/postgres_011_oauth.sql"),
    ),
    (
        12,
        include_str!("migrations/sqlite_012_oauth_expiry.sql"),
        include_str!("migrations/postgres_012_oauth_expiry.sql"),
    ),
    (
        13,
        include_str!("migrations/sqlite_013_audit_user_index.sql"),
        include_str!("migrations/postgres_013_audit_user_index.sql"),
    ),
    (
        14,
        include_str!("migrations/sqlite_014_audit_start.sql"),
        include_str!("migrations/postgres_014_audit_start.sql"),
    ),
    (
        15,
        include_str!("migrations/sqlite_015_audit_purge_mac.sql"),
        include_str!("migrations/postgres_015_audit_purge_mac.sql"),
    ),
];

/// The system store's pool.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on the system store.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Store {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self, SystemError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await
                .map_err(|e| SystemError::Connect(redact_url(url), e))?;
            Ok(Self::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| SystemError::Connect(url.to_owned(), e))?
                .create_if_missing(true)
                // A new store's pages are 16 KiB (an existing one keeps its size): the audit
                // trail appends all the time, and larger pages take fewer WAL frames, page
                // splits and checkpoint copies for the same rows (about a tenth less of
                // SQLite's time per event). `cache_size` below is in KiB, so no more memory.
                .page_size(16384)
                .journal_mode(SqliteJournalMode::Wal)
                // SQLite's advice for WAL: commits stay atomic and consistent without an fsync
                // each (the audit trail commits a batch at a time); a power cut may lose the
                // last moments, never corrupt the store.
                .synchronous(SqliteSynchronous::Normal)
                // A small page cache per connection: the caches that matter are Rampart's own.
                .pragma("cache_size", "-1024")
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(|e| SystemError::Connect(url.to_owned(), e))?;
            Ok(Self::Sqlite(pool))
        } else {
            Err(SystemError::UnsupportedUrl)
        }
    }

    /// The file of a SQLite store (`None` for PostgreSQL, or an in-memory SQLite, which only
    /// the pool's connections share).
    #[must_use]
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Self::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_path_buf();
                path.is_file().then_some(path)
            }
            Self::Postgres(_) => None,
        }
    }

    /// Which backend this is, for messages.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Applies the migrations not yet applied. Safe to run concurrently from several nodes on
    /// PostgreSQL (an advisory lock serialises them).
    pub async fn migrate(&self) -> Result<(), SystemError> {
        const CREATE: &str =
            "CREATE TABLE IF NOT EXISTS rampart_migrations (version BIGINT PRIMARY KEY)";
        match self {
            Self::Sqlite(pool) => {
                // Everything on one connection: another one of the pool, holding the schema
                // as it was before a migration, would read a new column's quoted name as a
                // string (SQLite's double-quoted literals) and answer with the wrong columns.
                let mut conn = pool.acquire().await?;
                statement::run_script_sqlite(&mut conn, CREATE).await?;
                for (version, sqlite, _) in MIGRATIONS {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    let done: Option<i64> = sqlx::query_scalar(
                        "SELECT version FROM rampart_migrations WHERE version = ?",
                    )
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if done.is_none() {
                        statement::run_script_sqlite(&mut tx, sqlite).await?;
                        sqlx::query("INSERT INTO rampart_migrations (version) VALUES (?)")
                            .bind(version)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                }
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7262617274)")
                    .execute(&mut *tx)
                    .await?;
                statement::run_script_pg(&mut tx, CREATE).await?;
                for (version, _, postgres) in MIGRATIONS {
                    let done: Option<i64> = sqlx::query_scalar(
                        "SELECT version FROM rampart_migrations WHERE version = $1",
                    )
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if done.is_none() {
                        statement::run_script_pg(&mut tx, postgres).await?;
                        sqlx::query("INSERT INTO rampart_migrations (version) VALUES ($1)")
                            .bind(version)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`,
    /// waiting up to the busy timeout): a deferred transaction that reads, then writes after
    /// another connection committed, fails at once with "database is locked" instead.
    pub async fn begin(&self) -> Result<Tx, SystemError> {
        Ok(match self {
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Starts a read-only transaction whose statements all see the store as it was at its
    /// first: on SQLite a deferred transaction (WAL: writers go on meanwhile), on PostgreSQL
    /// `REPEATABLE READ`. Dropped, it ends.
    pub async fn snapshot(&self) -> Result<Tx, SystemError> {
        Ok(match self {
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN DEFERRED").await?),
            Self::Postgres(pool) => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// All rows of a select.
    pub async fn all<T: Record>(&self, query: &SelectStatement) -> Result<Vec<T>, SystemError> {
        Ok(match self {
            Self::Sqlite(pool) => {
                let rows = Statement::sqlite(query).lite().fetch_all(pool).await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
            Self::Postgres(pool) => {
                let rows = Statement::postgres(query).pg().fetch_all(pool).await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
        })
    }

    /// The first row of a select, if any.
    pub async fn one<T: Record>(&self, query: &SelectStatement) -> Result<Option<T>, SystemError> {
        Ok(match self {
            Self::Sqlite(pool) => Statement::sqlite(query)
                .lite()
                .fetch_optional(pool)
                .await?
                .map(|r| T::from_row(&r))
                .transpose()?,
            Self::Postgres(pool) => Statement::postgres(query)
                .pg()
                .fetch_optional(pool)
                .await?
                .map(|r| T::from_row(&r))
                .transpose()?,
        })
    }

    /// A single integer (e.g. a count).
    pub async fn scalar_i64(&self, query: &SelectStatement) -> Result<i64, SystemError> {
        Ok(match self {
            Self::Sqlite(pool) => Statement::sqlite(query)
                .lite()
                .fetch_one(pool)
                .await?
                .try_get(0)?,
            Self::Postgres(pool) => Statement::postgres(query)
                .pg()
                .fetch_one(pool)
                .await?
                .try_get(0)?,
        })
    }

    /// Checks the store answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), SystemError> {
        match self {
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?,
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?,
        }
        Ok(())
    }
}

impl Tx {
    /// All rows of a select.
    pub async fn all<T: Record>(&mut self, query: &SelectStatement) -> Result<Vec<T>, SystemError> {
        Ok(match self {
            Self::Sqlite(tx) => {
                let rows = Statement::sqlite(query).lite().fetch_all(&mut **tx).await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
            Self::Postgres(tx) => {
                let rows = Statement::postgres(query).pg().fetch_all(&mut **tx).await?;
                rows.iter().map(T::from_row).collect::<Result<_, _>>()?
            }
        })
    }

    /// The first row of a select, if any.
    pub async fn one<T: Record>(
        &mut self,
        query: &SelectStatement,
    ) -> Result<Option<T>, SystemError> {
        Ok(match self {
            Self::Sqlite(tx) => Statement::sqlite(query)
                .lite()
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| T::from_row(&r))
                .transpose()?,
            Self::Postgres(tx) => Statement::postgres(query)
                .pg()
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| T::from_row(&r))
                .transpose()?,
        })
    }

    /// Runs an insert, update or delete; returns the number of rows affected.
    pub async fn execute(
        &mut self,
        query: &impl QueryStatementBuilder,
    ) -> Result<u64, SystemError> {
        Ok(match self {
            Self::Sqlite(tx) => Statement::sqlite(query)
                .lite()
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Self::Postgres(tx) => Statement::postgres(query)
                .pg()
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Runs an update or delete that must touch the record `id` of `entity`; touching none
    /// is `NotFound`.
    pub async fn execute_one(
        &mut self,
        query: &impl QueryStatementBuilder,
        entity: &'static str,
        id: i64,
    ) -> Result<(), SystemError> {
        if self.execute(query).await? == 0 {
            return Err(SystemError::NotFound {
                entity,
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Runs an insert that ends in `RETURNING id`; returns the id.
    pub async fn insert(&mut self, query: &InsertStatement) -> Result<i64, SystemError> {
        Ok(match self {
            Self::Sqlite(tx) => Statement::sqlite(query)
                .lite()
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?,
            Self::Postgres(tx) => Statement::postgres(query)
                .pg()
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?,
        })
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), SystemError> {
        match self {
            Self::Sqlite(tx) => tx.commit().await?,
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// A connection URL with its password removed, for messages.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("*****"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

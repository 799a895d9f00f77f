//! The system data's version: moved on after every change (API, CLI), watched by every
//! instance so caches everywhere follow a change made anywhere. On a PostgreSQL store the
//! change is also announced with `NOTIFY`, so listening nodes look at once instead of at
//! their next poll.

use sea_query::{Expr, ExprTrait, Iden, Query};

use super::{Store, SystemError};

#[derive(Iden)]
enum SystemVersion {
    Table,
    Id,
    Version,
}

/// Moves the version on; the new version.
pub async fn bump(store: &Store) -> Result<i64, SystemError> {
    let mut tx = store.begin().await?;
    tx.execute(
        &Query::update()
            .table(SystemVersion::Table)
            .value(
                SystemVersion::Version,
                Expr::col(SystemVersion::Version).add(1),
            )
            .and_where(Expr::col(SystemVersion::Id).eq(1))
            .to_owned(),
    )
    .await?;
    let version: Option<Version> = tx
        .one(
            &Query::select()
                .column(SystemVersion::Version)
                .from(SystemVersion::Table)
                .and_where(Expr::col(SystemVersion::Id).eq(1))
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    if let Store::Postgres(pool) = store
        && let Err(e) = crate::statement::notify_change(pool).await
    {
        tracing::warn!(error = %e, "cannot announce a system change; other nodes see it at their next poll");
    }
    Ok(version.map_or(0, |v| v.version))
}

#[derive(sqlx::FromRow)]
struct Version {
    version: i64,
}

/// The current version.
pub async fn current(store: &Store) -> Result<i64, SystemError> {
    store
        .scalar_i64(
            &Query::select()
                .column(SystemVersion::Version)
                .from(SystemVersion::Table)
                .and_where(Expr::col(SystemVersion::Id).eq(1))
                .to_owned(),
        )
        .await
}

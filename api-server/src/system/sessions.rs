//! Revoked session tokens (logout), kept until the token would have expired anyway.

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};

use super::{Store, SystemError};

#[derive(Iden)]
enum RevokedSessions {
    Table,
    Jti,
    ExpiresAt,
}

/// Records a token id as revoked until `expires_at` (unix seconds).
pub async fn revoke(store: &Store, jti: &str, expires_at: i64) -> Result<(), SystemError> {
    let mut tx = store.begin().await?;
    tx.execute(
        &Query::insert()
            .into_table(RevokedSessions::Table)
            .columns([RevokedSessions::Jti, RevokedSessions::ExpiresAt])
            .values_panic([jti.into(), expires_at.into()])
            .on_conflict(
                OnConflict::column(RevokedSessions::Jti)
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned(),
    )
    .await?;
    let now = chrono::Utc::now().timestamp();
    tx.execute(
        &Query::delete()
            .from_table(RevokedSessions::Table)
            .and_where(Expr::col(RevokedSessions::ExpiresAt).lt(now))
            .to_owned(),
    )
    .await?;
    tx.commit().await
}

/// Whether a token id was revoked.
pub async fn is_revoked(store: &Store, jti: &str) -> Result<bool, SystemError> {
    let n = store
        .scalar_i64(
            &Query::select()
                .expr(Expr::col(RevokedSessions::Jti).count())
                .from(RevokedSessions::Table)
                .and_where(Expr::col(RevokedSessions::Jti).eq(jti))
                .to_owned(),
        )
        .await?;
    Ok(n > 0)
}

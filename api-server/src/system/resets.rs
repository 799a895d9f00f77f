//! Password-reset codes: one per user, stored as a hash, single-use, with an expiry.

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};

use super::{Store, SystemError, Tx};

#[derive(Iden)]
enum PasswordResets {
    Table,
    UserId,
    CodeHash,
    ExpiresAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ResetRecord {
    code_hash: String,
    expires_at: i64,
}

/// Stores a user's reset code (replacing an earlier one) until `expires_at` (unix seconds).
pub async fn put(
    tx: &mut Tx,
    user_id: i64,
    code_hash: &str,
    expires_at: i64,
) -> Result<(), SystemError> {
    tx.execute(
        &Query::insert()
            .into_table(PasswordResets::Table)
            .columns([
                PasswordResets::UserId,
                PasswordResets::CodeHash,
                PasswordResets::ExpiresAt,
            ])
            .values_panic([user_id.into(), code_hash.into(), expires_at.into()])
            .on_conflict(
                OnConflict::column(PasswordResets::UserId)
                    .update_columns([PasswordResets::CodeHash, PasswordResets::ExpiresAt])
                    .to_owned(),
            )
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// A user's unexpired reset code hash, if any.
pub async fn pending(store: &Store, user_id: i64, now: i64) -> Result<Option<String>, SystemError> {
    let found: Option<ResetRecord> = store
        .one(
            &Query::select()
                .columns([PasswordResets::CodeHash, PasswordResets::ExpiresAt])
                .from(PasswordResets::Table)
                .and_where(Expr::col(PasswordResets::UserId).eq(user_id))
                .to_owned(),
        )
        .await?;
    Ok(found.filter(|r| r.expires_at >= now).map(|r| r.code_hash))
}

/// Removes a user's reset code; whether there was one (a code is used once: of two
/// concurrent uses, only the one that removes it counts).
pub async fn take(tx: &mut Tx, user_id: i64) -> Result<bool, SystemError> {
    Ok(tx
        .execute(
            &Query::delete()
                .from_table(PasswordResets::Table)
                .and_where(Expr::col(PasswordResets::UserId).eq(user_id))
                .to_owned(),
        )
        .await?
        > 0)
}

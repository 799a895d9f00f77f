//! Session-token signing keys (secrets sealed with the master key). The newest unretired key
//! signs new tokens; retired keys keep verifying the tokens they signed until those expire.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Store, SystemError, Tx};

#[derive(Iden)]
enum SigningKeys {
    Table,
    Kid,
    Secret,
    CreatedAt,
    RetiredAt,
}

/// A key as stored (`secret` sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub secret: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` for the key in use.
    pub retired_at: Option<i64>,
}

/// Every key, oldest first.
pub async fn list(store: &Store) -> Result<Vec<SigningKeyRecord>, SystemError> {
    store
        .all(
            &Query::select()
                .columns([
                    SigningKeys::Kid,
                    SigningKeys::Secret,
                    SigningKeys::CreatedAt,
                    SigningKeys::RetiredAt,
                ])
                .from(SigningKeys::Table)
                .order_by(SigningKeys::CreatedAt, Order::Asc)
                .order_by(SigningKeys::Kid, Order::Asc)
                .to_owned(),
        )
        .await
}

/// Adds the key in use and retires the previous one at `now`; with `revoke_previous`, every
/// older key is retired as of the epoch, so the tokens it signed stop working at once.
pub async fn add(
    tx: &mut Tx,
    kid: &str,
    sealed_secret: &str,
    now: i64,
    revoke_previous: bool,
) -> Result<(), SystemError> {
    let mut retire = Query::update();
    retire.table(SigningKeys::Table).value(
        SigningKeys::RetiredAt,
        if revoke_previous { 0 } else { now },
    );
    if !revoke_previous {
        retire.and_where(Expr::col(SigningKeys::RetiredAt).is_null());
    }
    tx.execute(&retire).await?;
    tx.execute(
        &Query::insert()
            .into_table(SigningKeys::Table)
            .columns([
                SigningKeys::Kid,
                SigningKeys::Secret,
                SigningKeys::CreatedAt,
            ])
            .values_panic([kid.into(), sealed_secret.into(), now.into()])
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// Forgets keys retired before `before` (no token they signed is still valid).
pub async fn purge(tx: &mut Tx, before: i64) -> Result<u64, SystemError> {
    tx.execute(
        &Query::delete()
            .from_table(SigningKeys::Table)
            .and_where(Expr::col(SigningKeys::RetiredAt).lt(before))
            .to_owned(),
    )
    .await
}

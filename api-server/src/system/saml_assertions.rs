//! SAML assertion ids already used, until they expire (replay defence).

use sea_query::{Expr, ExprTrait, Iden, Query};

use super::{Store, SystemError};

#[derive(Iden)]
enum SamlAssertions {
    Table,
    IdHash,
    ExpiresAt,
}

/// Records an assertion id as used until `expires_at`; `false` when it was used before.
pub async fn first_use(
    store: &Store,
    issuer: &str,
    id: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, SystemError> {
    let key = super::crypto::sha256_hex(format!("{issuer}\n{id}").as_bytes());
    let mut tx = store.begin().await?;
    tx.execute(
        &Query::delete()
            .from_table(SamlAssertions::Table)
            .and_where(Expr::col(SamlAssertions::ExpiresAt).lt(now))
            .to_owned(),
    )
    .await?;
    let inserted = tx
        .execute(
            &Query::insert()
                .into_table(SamlAssertions::Table)
                .columns([SamlAssertions::IdHash, SamlAssertions::ExpiresAt])
                .values_panic([key.into(), expires_at.into()])
                .to_owned(),
        )
        .await;
    match inserted {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(SystemError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

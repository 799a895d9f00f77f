//! Browser sign-ins in flight: what an identity provider's answer must match (PKCE verifier,
//! nonce, the redirect asked for), keyed by the hash of the `state` sent to the provider,
//! sealed, short-lived and taken once.

use sea_query::{Expr, ExprTrait, Iden, Query};
use sha2::Digest;

use super::{Store, SystemError, Tx};

#[derive(Iden)]
enum LoginStates {
    Table,
    StateHash,
    ServiceId,
    Payload,
    ExpiresAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct StateRecord {
    service_id: i64,
    payload: String,
    expires_at: i64,
}

fn hash(state: &str) -> String {
    sha2::Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records a sign-in in flight (and forgets expired ones).
pub async fn put(
    tx: &mut Tx,
    state: &str,
    service_id: i64,
    sealed_payload: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), SystemError> {
    tx.execute(
        &Query::delete()
            .from_table(LoginStates::Table)
            .and_where(Expr::col(LoginStates::ExpiresAt).lt(now))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::insert()
            .into_table(LoginStates::Table)
            .columns([
                LoginStates::StateHash,
                LoginStates::ServiceId,
                LoginStates::Payload,
                LoginStates::ExpiresAt,
            ])
            .values_panic([
                hash(state).into(),
                service_id.into(),
                sealed_payload.into(),
                expires_at.into(),
            ])
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// Takes the sign-in `state` names: `(service id, sealed payload)` when it exists, has not
/// expired and was not taken before (of two concurrent takers, one gets it).
pub async fn take(
    store: &Store,
    state: &str,
    now: i64,
) -> Result<Option<(i64, String)>, SystemError> {
    let key = hash(state);
    let found: Option<StateRecord> = store
        .one(
            &Query::select()
                .columns([
                    LoginStates::ServiceId,
                    LoginStates::Payload,
                    LoginStates::ExpiresAt,
                ])
                .from(LoginStates::Table)
                .and_where(Expr::col(LoginStates::StateHash).eq(key.clone()))
                .to_owned(),
        )
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let mut tx = store.begin().await?;
    let taken = tx
        .execute(
            &Query::delete()
                .from_table(LoginStates::Table)
                .and_where(Expr::col(LoginStates::StateHash).eq(key))
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    Ok((taken == 1 && found.expires_at >= now).then_some((found.service_id, found.payload)))
}

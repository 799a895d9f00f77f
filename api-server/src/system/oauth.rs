//! The MCP authorization server's records: pre-registered clients, authorization requests in
//! flight, codes, grants and refresh tokens. Handles, codes and refresh tokens are stored only
//! as SHA-256 hashes, so a copy of the store yields nothing a client could present.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::crypto::sha256_hex;
use super::{Store, SystemError, Tx};

#[derive(Iden)]
enum OauthClients {
    Table,
    Id,
    ClientId,
    Name,
    AppId,
    RedirectUris,
    IsActive,
    CreatedAt,
}

#[derive(Iden)]
enum OauthRequests {
    Table,
    HandleHash,
    Payload,
    ExpiresAt,
}

#[derive(Iden)]
enum OauthCodes {
    Table,
    CodeHash,
    Payload,
    ExpiresAt,
    GrantId,
}

#[derive(Iden)]
enum OauthGrants {
    Table,
    Id,
    UserId,
    ClientId,
    ClientName,
    AppId,
    RoleId,
    Scopes,
    Resource,
    SessionEpoch,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
    RevokedReason,
}

#[derive(Iden)]
enum OauthRefreshTokens {
    Table,
    TokenHash,
    GrantId,
    ExpiresAt,
    UsedAt,
}

/// A pre-registered client.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct ClientRecord {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub app_id: i64,
    /// A JSON array of exact redirect URIs.
    pub redirect_uris: String,
    pub is_active: bool,
    pub created_at: i64,
}

impl ClientRecord {
    /// The registered redirect URIs.
    #[must_use]
    pub fn redirects(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }
}

/// Fields of a client to create or change.
#[derive(Debug, Clone)]
pub struct ClientFields {
    pub client_id: String,
    pub name: String,
    pub app_id: i64,
    pub redirect_uris: Vec<String>,
    pub is_active: bool,
}

fn clients() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            OauthClients::Id,
            OauthClients::ClientId,
            OauthClients::Name,
            OauthClients::AppId,
            OauthClients::RedirectUris,
            OauthClients::IsActive,
            OauthClients::CreatedAt,
        ])
        .from(OauthClients::Table)
        .order_by(OauthClients::Id, Order::Asc)
        .to_owned()
}

/// Every pre-registered client.
pub async fn list_clients(store: &Store) -> Result<Vec<ClientRecord>, SystemError> {
    store.all(&clients()).await
}

/// One client by its record id.
pub async fn get_client(store: &Store, id: i64) -> Result<ClientRecord, SystemError> {
    store
        .one(
            &clients()
                .and_where(Expr::col(OauthClients::Id).eq(id))
                .to_owned(),
        )
        .await?
        .ok_or(SystemError::NotFound {
            entity: "oauth_client",
            id: id.to_string(),
        })
}

/// One client by its `client_id`.
pub async fn client_by_client_id(
    store: &Store,
    client_id: &str,
) -> Result<Option<ClientRecord>, SystemError> {
    store
        .one(
            &clients()
                .and_where(Expr::col(OauthClients::ClientId).eq(client_id))
                .to_owned(),
        )
        .await
}

/// Registers a client.
pub async fn add_client(tx: &mut Tx, f: &ClientFields, now: i64) -> Result<i64, SystemError> {
    tx.insert(
        &Query::insert()
            .into_table(OauthClients::Table)
            .columns([
                OauthClients::ClientId,
                OauthClients::Name,
                OauthClients::AppId,
                OauthClients::RedirectUris,
                OauthClients::IsActive,
                OauthClients::CreatedAt,
            ])
            .values_panic([
                f.client_id.clone().into(),
                f.name.clone().into(),
                f.app_id.into(),
                serde_json::to_string(&f.redirect_uris)
                    .unwrap_or_else(|_| "[]".into())
                    .into(),
                f.is_active.into(),
                now.into(),
            ])
            .returning_col(OauthClients::Id)
            .to_owned(),
    )
    .await
}

/// Changes a client.
pub async fn update_client(tx: &mut Tx, id: i64, f: &ClientFields) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::update()
            .table(OauthClients::Table)
            .values([
                (OauthClients::ClientId, f.client_id.clone().into()),
                (OauthClients::Name, f.name.clone().into()),
                (OauthClients::AppId, f.app_id.into()),
                (
                    OauthClients::RedirectUris,
                    serde_json::to_string(&f.redirect_uris)
                        .unwrap_or_else(|_| "[]".into())
                        .into(),
                ),
                (OauthClients::IsActive, f.is_active.into()),
            ])
            .and_where(Expr::col(OauthClients::Id).eq(id))
            .to_owned(),
        "oauth_client",
        id,
    )
    .await
}

/// Deletes a client (its grants stay, refused from then on: their client is gone).
pub async fn delete_client(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::delete()
            .from_table(OauthClients::Table)
            .and_where(Expr::col(OauthClients::Id).eq(id))
            .to_owned(),
        "oauth_client",
        id,
    )
    .await
}

#[derive(Debug, sqlx::FromRow)]
struct Payload {
    payload: String,
    expires_at: i64,
}

/// Keeps a new authorization request in flight under its handle (and forgets expired ones).
pub async fn put_request(
    store: &Store,
    handle: &str,
    payload: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), SystemError> {
    let mut tx = store.begin().await?;
    tx.execute(
        &Query::delete()
            .from_table(OauthRequests::Table)
            .and_where(Expr::col(OauthRequests::ExpiresAt).lt(now))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::insert()
            .into_table(OauthRequests::Table)
            .columns([
                OauthRequests::HandleHash,
                OauthRequests::Payload,
                OauthRequests::ExpiresAt,
            ])
            .values_panic([
                sha256_hex(handle.as_bytes()).into(),
                payload.into(),
                expires_at.into(),
            ])
            .to_owned(),
    )
    .await?;
    tx.commit().await
}

/// Changes a request still in flight (never one that ended or expired); `false` when there
/// is none.
pub async fn update_request(
    store: &Store,
    handle: &str,
    payload: &str,
    now: i64,
) -> Result<bool, SystemError> {
    let mut tx = store.begin().await?;
    let changed = tx
        .execute(
            &Query::update()
                .table(OauthRequests::Table)
                .value(OauthRequests::Payload, payload)
                .and_where(Expr::col(OauthRequests::HandleHash).eq(sha256_hex(handle.as_bytes())))
                .and_where(Expr::col(OauthRequests::ExpiresAt).gte(now))
                .to_owned(),
        )
        .await?;
    tx.commit().await?;
    Ok(changed == 1)
}

/// The request in flight under `handle`, unless it expired.
pub async fn get_request(
    store: &Store,
    handle: &str,
    now: i64,
) -> Result<Option<String>, SystemError> {
    let found: Option<Payload> = store
        .one(
            &Query::select()
                .columns([OauthRequests::Payload, OauthRequests::ExpiresAt])
                .from(OauthRequests::Table)
                .and_where(Expr::col(OauthRequests::HandleHash).eq(sha256_hex(handle.as_bytes())))
                .to_owned(),
        )
        .await?;
    Ok(found.filter(|p| p.expires_at >= now).map(|p| p.payload))
}

/// Ends a request in flight; `false` when it was already ended (of two concurrent
/// decisions, one wins).
pub async fn end_request(tx: &mut Tx, handle: &str) -> Result<bool, SystemError> {
    Ok(tx
        .execute(
            &Query::delete()
                .from_table(OauthRequests::Table)
                .and_where(Expr::col(OauthRequests::HandleHash).eq(sha256_hex(handle.as_bytes())))
                .to_owned(),
        )
        .await?
        == 1)
}

/// How long a used code is remembered after it expires, to recognise its reuse.
const CODE_MEMORY_SECONDS: i64 = 3600;

/// Stores a new authorization code (and forgets codes long expired).
pub async fn put_code(
    tx: &mut Tx,
    code: &str,
    payload: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), SystemError> {
    tx.execute(
        &Query::delete()
            .from_table(OauthCodes::Table)
            .and_where(Expr::col(OauthCodes::ExpiresAt).lt(now - CODE_MEMORY_SECONDS))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::insert()
            .into_table(OauthCodes::Table)
            .columns([
                OauthCodes::CodeHash,
                OauthCodes::Payload,
                OauthCodes::ExpiresAt,
            ])
            .values_panic([
                sha256_hex(code.as_bytes()).into(),
                payload.into(),
                expires_at.into(),
            ])
            .to_owned(),
    )
    .await
    .map(|_| ())
}

#[derive(Debug, sqlx::FromRow)]
struct CodeRow {
    payload: String,
    expires_at: i64,
    grant_id: Option<i64>,
}

/// What presenting a code finds.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeState {
    /// Never issued, or forgotten.
    Unknown,
    /// Issued and not yet exchanged: its payload and expiry.
    Fresh { payload: String, expires_at: i64 },
    /// Exchanged before, for this grant.
    Used { grant_id: i64 },
}

/// Looks a code up.
pub async fn code_state(tx: &mut Tx, code: &str) -> Result<CodeState, SystemError> {
    let row: Option<CodeRow> = tx
        .one(
            &Query::select()
                .columns([
                    OauthCodes::Payload,
                    OauthCodes::ExpiresAt,
                    OauthCodes::GrantId,
                ])
                .from(OauthCodes::Table)
                .and_where(Expr::col(OauthCodes::CodeHash).eq(sha256_hex(code.as_bytes())))
                .to_owned(),
        )
        .await?;
    Ok(match row {
        None => CodeState::Unknown,
        Some(CodeRow {
            grant_id: Some(grant_id),
            ..
        }) => CodeState::Used { grant_id },
        Some(CodeRow {
            payload,
            expires_at,
            grant_id: None,
        }) => CodeState::Fresh {
            payload,
            expires_at,
        },
    })
}

/// Marks a code exchanged for `grant_id`; `false` when another exchange won the race.
pub async fn use_code(tx: &mut Tx, code: &str, grant_id: i64) -> Result<bool, SystemError> {
    Ok(tx
        .execute(
            &Query::update()
                .table(OauthCodes::Table)
                .value(OauthCodes::GrantId, grant_id)
                .and_where(Expr::col(OauthCodes::CodeHash).eq(sha256_hex(code.as_bytes())))
                .and_where(Expr::col(OauthCodes::GrantId).is_null())
                .to_owned(),
        )
        .await?
        == 1)
}

/// A grant: what a user allowed a client, and whether it is still in force.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct GrantRecord {
    pub id: i64,
    pub user_id: i64,
    pub client_id: String,
    pub client_name: String,
    pub app_id: i64,
    pub role_id: i64,
    /// Space-separated scopes.
    pub scopes: String,
    /// The resource (audience) its tokens are for.
    pub resource: String,
    /// The user's session epoch at consent: a password change or disable since ends it.
    pub session_epoch: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
}

impl GrantRecord {
    /// The grant as the API shows it (and as alerts and the audit trail's `changes` carry it).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "user_id": self.user_id, "client_id": self.client_id,
            "client_name": self.client_name, "app_id": self.app_id, "role_id": self.role_id,
            "scopes": self.scopes.split(' ').collect::<Vec<_>>(), "resource": self.resource,
            "created_date": rfc3339(Some(self.created_at)),
            "last_used_date": rfc3339(self.last_used_at),
            "revoked_date": rfc3339(self.revoked_at), "revoked_reason": self.revoked_reason,
        })
    }
}

/// A time in seconds as the API writes it (RFC 3339, UTC, whole seconds); null when absent.
#[must_use]
pub fn rfc3339(t: Option<i64>) -> serde_json::Value {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or(serde_json::Value::Null, |t| {
            serde_json::json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        })
}

impl GrantRecord {
    /// Whether the grant allows `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.split(' ').any(|s| s == scope)
    }
}

/// A new grant.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub user_id: i64,
    pub client_id: String,
    pub client_name: String,
    pub app_id: i64,
    pub role_id: i64,
    pub scopes: String,
    pub resource: String,
    pub session_epoch: i64,
}

fn grants() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            OauthGrants::Id,
            OauthGrants::UserId,
            OauthGrants::ClientId,
            OauthGrants::ClientName,
            OauthGrants::AppId,
            OauthGrants::RoleId,
            OauthGrants::Scopes,
            OauthGrants::Resource,
            OauthGrants::SessionEpoch,
            OauthGrants::CreatedAt,
            OauthGrants::LastUsedAt,
            OauthGrants::RevokedAt,
            OauthGrants::RevokedReason,
        ])
        .from(OauthGrants::Table)
        .order_by(OauthGrants::Id, Order::Desc)
        .to_owned()
}

/// Records a grant.
pub async fn add_grant(tx: &mut Tx, g: &NewGrant, now: i64) -> Result<i64, SystemError> {
    tx.insert(
        &Query::insert()
            .into_table(OauthGrants::Table)
            .columns([
                OauthGrants::UserId,
                OauthGrants::ClientId,
                OauthGrants::ClientName,
                OauthGrants::AppId,
                OauthGrants::RoleId,
                OauthGrants::Scopes,
                OauthGrants::Resource,
                OauthGrants::SessionEpoch,
                OauthGrants::CreatedAt,
                OauthGrants::LastUsedAt,
            ])
            .values_panic([
                g.user_id.into(),
                g.client_id.clone().into(),
                g.client_name.clone().into(),
                g.app_id.into(),
                g.role_id.into(),
                g.scopes.clone().into(),
                g.resource.clone().into(),
                g.session_epoch.into(),
                now.into(),
                now.into(),
            ])
            .returning_col(OauthGrants::Id)
            .to_owned(),
    )
    .await
}

/// One grant.
pub async fn grant(store: &Store, id: i64) -> Result<Option<GrantRecord>, SystemError> {
    store
        .one(
            &grants()
                .and_where(Expr::col(OauthGrants::Id).eq(id))
                .to_owned(),
        )
        .await
}

/// Grants, newest first: every one, or one user's; revoked ones only when asked.
pub async fn list_grants(
    store: &Store,
    user_id: Option<i64>,
    include_revoked: bool,
) -> Result<Vec<GrantRecord>, SystemError> {
    let mut q = grants();
    if let Some(user) = user_id {
        q.and_where(Expr::col(OauthGrants::UserId).eq(user));
    }
    if !include_revoked {
        q.and_where(Expr::col(OauthGrants::RevokedAt).is_null());
    }
    store.all(&q).await
}

/// Revokes a grant (of `user_id` only, when given); `false` when there is no such grant in
/// force.
pub async fn revoke_grant(
    tx: &mut Tx,
    id: i64,
    user_id: Option<i64>,
    reason: &str,
    now: i64,
) -> Result<bool, SystemError> {
    let mut q = Query::update();
    q.table(OauthGrants::Table)
        .values([
            (OauthGrants::RevokedAt, now.into()),
            (OauthGrants::RevokedReason, reason.into()),
        ])
        .and_where(Expr::col(OauthGrants::Id).eq(id))
        .and_where(Expr::col(OauthGrants::RevokedAt).is_null());
    if let Some(user) = user_id {
        q.and_where(Expr::col(OauthGrants::UserId).eq(user));
    }
    let revoked = tx.execute(&q).await? == 1;
    if revoked {
        tx.execute(
            &Query::delete()
                .from_table(OauthRefreshTokens::Table)
                .and_where(Expr::col(OauthRefreshTokens::GrantId).eq(id))
                .to_owned(),
        )
        .await?;
    }
    Ok(revoked)
}

/// Notes that a grant was used (called at most about once a minute per grant).
pub async fn touch_grant(store: &Store, id: i64, now: i64) -> Result<(), SystemError> {
    let mut tx = store.begin().await?;
    tx.execute(
        &Query::update()
            .table(OauthGrants::Table)
            .value(OauthGrants::LastUsedAt, now)
            .and_where(Expr::col(OauthGrants::Id).eq(id))
            .to_owned(),
    )
    .await?;
    tx.commit().await
}

/// Stores a new refresh token of a grant.
pub async fn put_refresh(
    tx: &mut Tx,
    token: &str,
    grant_id: i64,
    expires_at: i64,
) -> Result<(), SystemError> {
    // Tokens past their expiry can only ever be refused: forget them.
    tx.execute(
        &Query::delete()
            .from_table(OauthRefreshTokens::Table)
            .and_where(Expr::col(OauthRefreshTokens::ExpiresAt).lt(chrono::Utc::now().timestamp()))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::insert()
            .into_table(OauthRefreshTokens::Table)
            .columns([
                OauthRefreshTokens::TokenHash,
                OauthRefreshTokens::GrantId,
                OauthRefreshTokens::ExpiresAt,
            ])
            .values_panic([
                sha256_hex(token.as_bytes()).into(),
                grant_id.into(),
                expires_at.into(),
            ])
            .to_owned(),
    )
    .await
    .map(|_| ())
}

#[derive(Debug, sqlx::FromRow)]
struct RefreshRow {
    grant_id: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

/// What presenting a refresh token finds.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshState {
    /// Never issued, or its grant is revoked (its tokens are deleted then).
    Unknown,
    /// Expired.
    Expired,
    /// Used before: someone replays it.
    Reused { grant_id: i64 },
    /// Now used, by this call (of two concurrent callers, one gets it).
    Taken { grant_id: i64 },
}

/// The stored row of a refresh token.
async fn refresh_row(tx: &mut Tx, hash: &str) -> Result<Option<RefreshRow>, SystemError> {
    tx.one(
        &Query::select()
            .columns([
                OauthRefreshTokens::GrantId,
                OauthRefreshTokens::ExpiresAt,
                OauthRefreshTokens::UsedAt,
            ])
            .from(OauthRefreshTokens::Table)
            .and_where(Expr::col(OauthRefreshTokens::TokenHash).eq(hash))
            .to_owned(),
    )
    .await
}

/// Uses a refresh token once.
pub async fn take_refresh(tx: &mut Tx, token: &str, now: i64) -> Result<RefreshState, SystemError> {
    let hash = sha256_hex(token.as_bytes());
    let row = refresh_row(tx, &hash).await?;
    let Some(row) = row else {
        return Ok(RefreshState::Unknown);
    };
    if row.used_at.is_some() {
        return Ok(RefreshState::Reused {
            grant_id: row.grant_id,
        });
    }
    if row.expires_at < now {
        return Ok(RefreshState::Expired);
    }
    let taken = tx
        .execute(
            &Query::update()
                .table(OauthRefreshTokens::Table)
                .value(OauthRefreshTokens::UsedAt, now)
                .and_where(Expr::col(OauthRefreshTokens::TokenHash).eq(hash))
                .and_where(Expr::col(OauthRefreshTokens::UsedAt).is_null())
                .to_owned(),
        )
        .await?;
    Ok(if taken == 1 {
        RefreshState::Taken {
            grant_id: row.grant_id,
        }
    } else {
        RefreshState::Reused {
            grant_id: row.grant_id,
        }
    })
}

/// The grant a refresh token belongs to, if it is one in the store (used or not).
pub async fn refresh_grant(tx: &mut Tx, token: &str) -> Result<Option<i64>, SystemError> {
    Ok(refresh_row(tx, &sha256_hex(token.as_bytes()))
        .await?
        .map(|r| r.grant_id))
}

//! Per-user, per-app roles (DreamFactory's `user_to_app_to_role`): the role a signed-in user
//! has when calling through an app, before the app's default role applies.

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Order, Query};
use serde::Serialize;

use super::{Store, SystemError, Tx};

#[derive(Iden)]
enum UserAppRoles {
    Table,
    Id,
    UserId,
    AppId,
    RoleId,
}

/// One assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct AppRole {
    pub id: i64,
    pub user_id: i64,
    pub app_id: i64,
    pub role_id: i64,
}

fn select() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            UserAppRoles::Id,
            UserAppRoles::UserId,
            UserAppRoles::AppId,
            UserAppRoles::RoleId,
        ])
        .from(UserAppRoles::Table)
        .to_owned()
}

/// A user's assignments, by id.
pub async fn of_user(store: &Store, user_id: i64) -> Result<Vec<AppRole>, SystemError> {
    store
        .all(
            &select()
                .and_where(Expr::col(UserAppRoles::UserId).eq(user_id))
                .order_by(UserAppRoles::Id, Order::Asc)
                .to_owned(),
        )
        .await
}

/// Every assignment of `role_id`.
pub async fn holding(store: &Store, role_id: i64) -> Result<Vec<AppRole>, SystemError> {
    store
        .all(
            &select()
                .and_where(Expr::col(UserAppRoles::RoleId).eq(role_id))
                .order_by(UserAppRoles::Id, Order::Asc)
                .to_owned(),
        )
        .await
}

/// Gives a user `role_id` for `app_id`, replacing their previous role for that app.
pub async fn assign(
    tx: &mut Tx,
    user_id: i64,
    app_id: i64,
    role_id: i64,
) -> Result<(), SystemError> {
    tx.execute(
        &Query::insert()
            .into_table(UserAppRoles::Table)
            .columns([
                UserAppRoles::UserId,
                UserAppRoles::AppId,
                UserAppRoles::RoleId,
            ])
            .values_panic([user_id.into(), app_id.into(), role_id.into()])
            .on_conflict(
                OnConflict::columns([UserAppRoles::UserId, UserAppRoles::AppId])
                    .update_column(UserAppRoles::RoleId)
                    .to_owned(),
            )
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// Removes one of a user's assignments (by its id).
pub async fn remove(tx: &mut Tx, user_id: i64, id: i64) -> Result<(), SystemError> {
    tx.execute(
        &Query::delete()
            .from_table(UserAppRoles::Table)
            .and_where(Expr::col(UserAppRoles::Id).eq(id))
            .and_where(Expr::col(UserAppRoles::UserId).eq(user_id))
            .to_owned(),
    )
    .await
    .map(|_| ())
}

/// Changes the role of one of a user's assignments (by its id).
pub async fn change(
    tx: &mut Tx,
    user_id: i64,
    id: i64,
    app_id: i64,
    role_id: i64,
) -> Result<(), SystemError> {
    tx.execute_one(
        &Query::update()
            .table(UserAppRoles::Table)
            .value(UserAppRoles::AppId, app_id)
            .value(UserAppRoles::RoleId, role_id)
            .and_where(Expr::col(UserAppRoles::Id).eq(id))
            .and_where(Expr::col(UserAppRoles::UserId).eq(user_id))
            .to_owned(),
        "user_to_app_to_role",
        id,
    )
    .await
}

//! Local accounts: password sign-in (throttled, no enumeration by message or timing),
//! password change, reset by e-mailed single-use code, and open registration. Every change
//! of password ends the account's other sessions (its session epoch moves on).

use std::sync::Arc;
use std::time::Instant;

use super::session::SessionKind;
use super::{AuthError, password};
use crate::state::AppState;
use crate::system::users::{self, NewUser, UserChanges, UserRecord};
use crate::system::{SystemError, app_roles, apps, resets};

/// Why an account operation was refused (beyond authentication failures).
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request is malformed or a new password breaks the policy.
    #[error("{0}")]
    Invalid(String),
    /// Too many failed sign-ins; retry after this many seconds.
    #[error("Too many failed sign-ins. Try again in {0} seconds.")]
    Throttled(u64),
    #[error(
        "Password reset by e-mail is not available: this server has no SMTP server configured ([smtp] host)."
    )]
    NoMail,
    #[error("Open registration is not enabled on this server.")]
    RegistrationClosed,
    #[error("The reset code is invalid or has expired. Request a new one.")]
    BadCode,
    #[error(transparent)]
    System(#[from] SystemError),
}

/// A new session for a user: the token and its expiry (unix seconds).
pub async fn open_session(
    state: &AppState,
    user: &UserRecord,
    kind: SessionKind,
) -> Result<(String, i64), AuthError> {
    state
        .sessions
        .issue(user.id, user.session_epoch, kind)
        .await
}

/// A password hash for a new password that meets the policy (`personal`: the account's
/// e-mail, username and name, which it must not contain).
pub async fn hash_new_password(
    min_length: usize,
    new: &str,
    personal: &[&str],
) -> Result<String, AccountError> {
    password::check_policy(new, min_length, personal).map_err(AccountError::Invalid)?;
    let new = new.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&new))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(AccountError::Auth(AuthError::Internal(
            "password hashing failed",
        )))
}

/// [`hash_new_password`] with the configured policy.
pub async fn new_password_hash(
    state: &AppState,
    new: &str,
    personal: &[&str],
) -> Result<String, AccountError> {
    hash_new_password(state.config.auth.min_password_length, new, personal).await
}

/// Creates a sys-admin (the CLI and first-start bootstrap; the API goes through
/// `/api/v2/system/admin`).
pub async fn create_admin(
    store: &crate::system::Store,
    email: &str,
    password: &str,
    min_length: usize,
) -> Result<i64, AccountError> {
    if !valid_email(email.trim()) {
        return Err(AccountError::Invalid(
            "Field 'email' must be an e-mail address.".into(),
        ));
    }
    let hash = hash_new_password(min_length, password, &[email]).await?;
    let mut tx = store.begin().await?;
    let id = users::create(
        &mut tx,
        &NewUser {
            email: email.to_owned(),
            password_hash: Some(hash),
            is_sys_admin: true,
            is_active: true,
            ..NewUser::default()
        },
    )
    .await
    .map_err(|e| match e {
        SystemError::Duplicate(_) => {
            AccountError::Invalid(format!("A user with e-mail '{email}' already exists."))
        }
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok(id)
}

async fn verify_in_background(given: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || password::verify(&given, stored.as_deref()))
        .await
        .unwrap_or(false)
}

/// Signs a local account in with e-mail (or username) and password. Throttled per account and
/// per client address; an unknown account costs the same as a wrong password and gets the
/// same answer. `admins_only`: the console's sign-in, for sys-admins.
pub async fn password_login(
    state: &AppState,
    login: &str,
    given: String,
    address: &str,
    admins_only: bool,
) -> Result<Arc<UserRecord>, AccountError> {
    if login.trim().is_empty() || given.is_empty() {
        return Err(AccountError::Invalid(
            "Login request is missing required email and password.".into(),
        ));
    }
    state
        .login_throttle
        .check(login, address, Instant::now())
        .map_err(AccountError::Throttled)?;
    let user = users::find_local_login(&state.store, login)
        .await?
        .filter(|u| !admins_only || u.is_sys_admin);
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = verify_in_background(given, stored).await;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            state.login_throttle.fail(login, address, Instant::now());
            return Err(AuthError::BadLogin.into());
        }
    };
    if !user.is_active {
        return Err(AuthError::Disabled.into());
    }
    state.login_throttle.succeed(login);
    let mut tx = state.store.begin().await?;
    users::touch_login(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(Arc::new(user))
}

fn personal(user: &UserRecord) -> Vec<&str> {
    [Some(user.email.as_str()), user.username.as_deref()]
        .into_iter()
        .flatten()
        .chain(user.name.split_whitespace())
        .collect()
}

/// Stores a new password and ends every session of the account; returns the account as now
/// stored (its new epoch signs the next session).
async fn set_password(
    state: &AppState,
    user_id: i64,
    hash: String,
) -> Result<UserRecord, AccountError> {
    let mut tx = state.store.begin().await?;
    users::update(
        &mut tx,
        user_id,
        &UserChanges {
            password_hash: Some(hash),
            ..UserChanges::default()
        },
    )
    .await?;
    users::end_sessions(&mut tx, user_id).await?;
    tx.commit().await?;
    state.changed().await;
    users::find(&state.store, user_id)
        .await?
        .ok_or(AccountError::Auth(AuthError::InvalidToken))
}

/// Changes a signed-in user's password (the old one proves it is them).
pub async fn change_password(
    state: &AppState,
    user: &UserRecord,
    old: String,
    new: &str,
    address: &str,
) -> Result<UserRecord, AccountError> {
    state
        .login_throttle
        .check(&user.email, address, Instant::now())
        .map_err(AccountError::Throttled)?;
    if user.provider_service_id.is_some() {
        return Err(AccountError::Invalid(
            "This account signs in through an identity provider; change its password there.".into(),
        ));
    }
    if !verify_in_background(old, user.password_hash.clone()).await {
        state
            .login_throttle
            .fail(&user.email, address, Instant::now());
        return Err(AccountError::Invalid(
            "The old password is not correct.".into(),
        ));
    }
    let hash = new_password_hash(state, new, &personal(user)).await?;
    set_password(state, user.id, hash).await
}

fn code_hash(code: &str) -> String {
    crate::system::crypto::sha256_hex(code.as_bytes())
}

/// Starts a reset: e-mails a single-use code to the account, if there is such a local
/// account. The answer is the same whether there is or not.
pub async fn start_reset(state: &AppState, login: &str) -> Result<(), AccountError> {
    let mailer = state.mailer.as_ref().ok_or(AccountError::NoMail)?;
    let Some(user) = users::find_local_login(&state.store, login)
        .await?
        .filter(|u| u.is_active)
    else {
        return Ok(());
    };
    // 32 hex characters: 128 random bits.
    let code: String = apps::generate_key().chars().take(32).collect();
    let ttl = state.config.auth.reset_code_ttl_minutes;
    let expires = chrono::Utc::now().timestamp() + i64::try_from(ttl * 60).unwrap_or(i64::MAX);
    let mut tx = state.store.begin().await?;
    resets::put(&mut tx, user.id, &code_hash(&code), expires).await?;
    tx.commit().await?;
    let body = format!(
        "Someone asked to reset the password of your account {email}.\n\n\
         Your reset code: {code}\n\n\
         It works once, within {ttl} minutes. If it was not you, ignore this message: your \
         password has not changed.\n",
        email = user.email
    );
    // A delivery failure is logged, not reported: the answer must not say whether the
    // account exists.
    if let Err(e) = mailer
        .send(&user.email, "Your password reset code", body)
        .await
    {
        tracing::error!(error = %e, user_id = user.id, "cannot send a password reset code");
    }
    Ok(())
}

/// Finishes a reset: a valid, unused code sets the new password (and ends other sessions).
pub async fn finish_reset(
    state: &AppState,
    login: &str,
    code: &str,
    new: &str,
    address: &str,
) -> Result<UserRecord, AccountError> {
    state
        .login_throttle
        .check(login, address, Instant::now())
        .map_err(AccountError::Throttled)?;
    let user = users::find_local_login(&state.store, login).await?;
    let now = chrono::Utc::now().timestamp();
    let pending = match &user {
        Some(u) => resets::pending(&state.store, u.id, now).await?,
        None => None,
    };
    let given = code_hash(code.trim());
    let matches = pending.is_some_and(|h| constant_time_eq(h.as_bytes(), given.as_bytes()));
    let Some(user) = user.filter(|u| matches && u.is_active) else {
        state.login_throttle.fail(login, address, Instant::now());
        return Err(AccountError::BadCode);
    };
    let hash = new_password_hash(state, new, &personal(&user)).await?;
    let mut tx = state.store.begin().await?;
    if !resets::take(&mut tx, user.id).await? {
        return Err(AccountError::BadCode);
    }
    tx.commit().await?;
    set_password(state, user.id, hash).await
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The fields of a self-registration.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub email: String,
    pub username: Option<String>,
    pub password: String,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// Creates an account through open registration (when enabled), with the configured
/// registration role for every app.
pub async fn register(state: &AppState, r: Registration) -> Result<UserRecord, AccountError> {
    if !state.config.auth.allow_open_registration {
        return Err(AccountError::RegistrationClosed);
    }
    let email = r.email.trim().to_lowercase();
    if !valid_email(&email) {
        return Err(AccountError::Invalid(
            "Field 'email' must be an e-mail address.".into(),
        ));
    }
    let personal: Vec<&str> = [Some(email.as_str()), r.username.as_deref()]
        .into_iter()
        .flatten()
        .chain(r.first_name.iter().map(String::as_str))
        .chain(r.last_name.iter().map(String::as_str))
        .collect();
    let hash = new_password_hash(state, &r.password, &personal).await?;
    let mut tx = state.store.begin().await?;
    let id = users::create(
        &mut tx,
        &NewUser {
            email: email.clone(),
            username: r.username,
            name: r.name,
            first_name: r.first_name,
            last_name: r.last_name,
            phone: r.phone,
            password_hash: Some(hash),
            is_sys_admin: false,
            is_active: true,
        },
    )
    .await
    .map_err(|e| match e {
        SystemError::Duplicate(_) => {
            AccountError::Invalid("An account with this e-mail or username already exists.".into())
        }
        other => other.into(),
    })?;
    if let Some(role_id) = state.config.auth.registration_role_id {
        for app in apps::list(&state.store).await? {
            app_roles::assign(&mut tx, id, app.id, role_id).await?;
        }
    }
    tx.commit().await?;
    state.changed().await;
    users::find(&state.store, id)
        .await?
        .ok_or(AccountError::Auth(AuthError::Internal(
            "registered user vanished",
        )))
}

/// A plausible e-mail address: one `@` with text on both sides and a dot in the domain.
#[must_use]
pub fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_pass_and_others_do_not() {
        assert!(valid_email("jane@example.org"));
        for bad in [
            "jane",
            "@example.org",
            "jane@",
            "jane@localhost",
            "a b@x.org",
            "a@b@c.org",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn codes_compare_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}

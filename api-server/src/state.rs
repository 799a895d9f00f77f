//! Shared server state: config, system store, keys, the service registry and the caches of
//! apps, users and compiled roles (invalidated whenever the system API changes anything).

use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::auth::AuthError;
use crate::auth::session::SessionKeys;
use crate::auth::throttle::{self, Throttle};
use crate::config::Config;
use crate::identity::{ExternalIdentity, Providers};
use crate::mail::Mailer;
use crate::rbac::CompiledRole;
use crate::services::Registry;
use crate::system::app_roles::{self, AppRole};
use crate::system::apps::{self, AppRecord};
use crate::system::crypto::MasterKey;
use crate::system::services::{self, ServiceRecord};
use crate::system::users::{self, ExternalUser, UserRecord};
use crate::system::{Store, SystemError, changes, lookups, roles, sessions};

/// Everything a request handler needs.
pub struct AppState {
    pub config: Config,
    /// Salt of `hash` masks, derived from the master key: stable per installation, unknown
    /// outside it, so masked hashes cannot be matched against precomputed tables.
    pub mask_salt: String,
    pub store: Store,
    pub master_key: MasterKey,
    pub sessions: SessionKeys,
    pub services: Registry,
    /// Identity providers (services), loaded on first use.
    pub providers: Providers,
    /// Failed sign-ins per account and client address.
    pub login_throttle: Throttle,
    /// `trusted_proxies`: whose `X-Forwarded-For` names the client.
    pub proxies: crate::http::address::Proxies,
    /// The SMTP server, when one is configured.
    pub mailer: Option<Mailer>,
    /// The audit trail's queue.
    pub auditor: Arc<crate::audit::Auditor>,
    /// Rate limits and their counters.
    pub limiter: crate::limits::Limiter,
    /// The CORS entries.
    pub cors: crate::cors::Policy,
    /// Request counts and latencies for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Permission-change alerts (webhook).
    pub alerts: crate::alerts::Alerts,
    /// Answers of services that opt in to caching.
    pub responses: crate::cache::ResponseCache,
    /// The MCP authorization server's caches and bridge secret.
    pub oauth: crate::oauth::Runtime,
    /// The system version this node's caches follow (see `changed`, `watch_changes`).
    seen_version: std::sync::atomic::AtomicI64,
    /// How many times the caches below were emptied (`invalidate`): each entry holds the
    /// count it was loaded in, see `AppState::through`.
    emptied: std::sync::atomic::AtomicU64,
    apps_by_key: Cache<String, Stamped<Option<Arc<AppRecord>>>>,
    users: Cache<i64, Stamped<Option<Arc<UserRecord>>>>,
    app_roles: Cache<i64, Stamped<Arc<Vec<AppRole>>>>,
    roles: Cache<i64, Stamped<Option<Arc<CompiledRole>>>>,
    role_lookups: Cache<(i64, Option<i64>), Stamped<Lookups>>,
    revoked: Cache<String, Stamped<bool>>,
    services_by_name: Cache<String, Stamped<Option<Arc<ServiceRecord>>>>,
    /// Every service (one entry), for listings on the request path.
    all_services: Cache<(), Stamped<Arc<Vec<ServiceRecord>>>>,
    /// Shadow users of external identities by (provider, subject).
    external_users: Cache<(i64, String), Arc<UserRecord>>,
}

/// A cached system record and the `emptied` count it was loaded in.
#[derive(Clone)]
struct Stamped<V>(u64, V);

/// `key`'s entry in `cache`, loaded by `load` when missing. An entry loaded before the caches
/// were last emptied (`emptied` moved on since) is not used, nor kept: emptying forgets what
/// is there, not a load still in flight (which another request may have joined after the
/// change), and such a load read the store as it was before the change.
///
/// A hit, what nearly every request finds, is a plain `get` by reference: no owned key is
/// made and no loading future is built (`try_get_with` does both on every call, and several
/// lookups run per request).
async fn through<K, Q, V, F, Fut>(
    emptied: &std::sync::atomic::AtomicU64,
    cache: &Cache<K, Stamped<V>>,
    key: &Q,
    load: F,
) -> Result<V, Arc<SystemError>>
where
    K: std::hash::Hash + Eq + Send + Sync + std::borrow::Borrow<Q> + 'static,
    Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    V: Clone + Send + Sync + 'static,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<V, SystemError>>,
{
    use std::sync::atomic::Ordering::SeqCst;
    let began = emptied.load(SeqCst);
    let got = match cache.get(key).await {
        Some(hit) => hit,
        None => {
            cache
                .try_get_with_by_ref(key, async { load().await.map(|v| Stamped(began, v)) })
                .await?
        }
    };
    if got.0 == emptied.load(SeqCst) {
        return Ok(got.1);
    }
    cache.invalidate(key).await;
    load().await.map_err(Arc::new)
}

/// Lookup names and values, in the order they apply.
pub type Lookups = Arc<Vec<(String, String)>>;

const CACHE_TTL: Duration = Duration::from_secs(60);

impl AppState {
    /// Builds the state.
    #[must_use]
    pub fn new(
        config: Config,
        store: Store,
        master_key: MasterKey,
        sessions: SessionKeys,
        mailer: Option<Mailer>,
    ) -> Self {
        let mask_salt = crate::system::crypto::sha256_hex(
            format!("rampart-mask-salt:{}", master_key.to_base64()).as_bytes(),
        );
        let login_throttle = Throttle::new(throttle::Limits {
            window: Duration::from_secs(config.auth.login_window_seconds),
            per_account: config.auth.login_failures_per_account,
            per_address: config.auth.login_failures_per_address,
        });
        let auditor = crate::audit::Auditor::start(
            store.clone(),
            crate::system::audit::ChainKey::new(&master_key),
            crate::audit::Sink::from_config(&config.audit.log),
            &config.audit,
        );
        let counters = match &config.rate_limit.redis_url {
            Some(url) => crate::limits::Counters::redis(
                url.expose_secret(),
                format!("rampart:{}:limit:", &mask_salt[..16]),
            )
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "rate limits count in memory on this node only");
                crate::limits::Counters::memory()
            }),
            None => crate::limits::Counters::memory(),
        };
        Self {
            oauth: crate::oauth::Runtime::new(&config.oauth),
            limiter: crate::limits::Limiter::new(counters),
            cors: crate::cors::Policy::default(),
            metrics: crate::metrics::Metrics::default(),
            alerts: crate::alerts::Alerts::start(&config.alerts),
            // Checked when the configuration was read.
            proxies: crate::http::address::Proxies::parse(&config.trusted_proxies)
                .unwrap_or_default(),
            responses: crate::cache::ResponseCache::default(),
            seen_version: std::sync::atomic::AtomicI64::new(-1),
            mask_salt,
            login_throttle,
            mailer,
            auditor,
            config,
            store,
            master_key,
            sessions,
            services: Registry::default(),
            providers: Providers::default(),
            emptied: std::sync::atomic::AtomicU64::new(0),
            all_services: Cache::builder()
                .max_capacity(1)
                .time_to_live(CACHE_TTL)
                .build(),
            external_users: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            apps_by_key: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            users: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            app_roles: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            roles: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            role_lookups: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            services_by_name: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            revoked: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(5))
                .build(),
        }
    }

    /// The URL clients reach this server at (`public_url`, else the address it listens on).
    #[must_use]
    pub fn public_url(&self) -> &str {
        self.config
            .public_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:8080")
    }

    /// The OAuth issuer: `{public_url}/oauth`. It has a path so that it reads the same to every
    /// client (a bare origin gains a trailing slash in some URL libraries, and RFC 9207's `iss`
    /// is compared as a string); its metadata is at `/.well-known/oauth-authorization-server/oauth`.
    #[must_use]
    pub fn oauth_issuer(&self) -> String {
        format!("{}/oauth", self.public_url())
    }

    /// The canonical URL of the MCP resource: the audience of its access tokens.
    #[must_use]
    pub fn mcp_resource(&self) -> String {
        format!("{}/mcp", self.public_url())
    }

    /// After a change to the system data: forgets this instance's caches and moves the
    /// system version on, so every other instance does too (`watch_changes`).
    pub async fn changed(&self) {
        match changes::bump(&self.store).await {
            // Only this change since the last one seen: the watcher need not clear again
            // (another node's change in between leaves it to the watcher).
            Ok(v) => {
                let _ = self.seen_version.compare_exchange(
                    v - 1,
                    v,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot announce a system change to other instances; they catch up when their caches expire");
            }
        }
        self.invalidate();
    }

    /// After a write to `service_id`, whose answers this node caches: the other nodes sharing
    /// a PostgreSQL store end theirs too (announced in the background: the write's answer does
    /// not wait on the system store).
    pub fn announce_write(&self, service_id: i64) {
        if let crate::system::Store::Postgres(pool) = &self.store {
            let pool = pool.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::statement::notify_written(&pool, service_id).await {
                    tracing::warn!(error = %e, "cannot announce a write to other nodes; their cached answers end with their TTL");
                }
            });
        }
    }

    /// Follows changes made elsewhere (other instances, the CLI): checks the system version
    /// every `interval` and, when it moved, forgets every cache and re-reads the signing keys.
    pub async fn watch_changes(self: std::sync::Arc<Self>, interval: Duration) {
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        if let crate::system::Store::Postgres(pool) = &self.store {
            tokio::spawn(listen_for_changes(pool.clone(), wake.clone(), self.clone()));
        }
        if let Ok(v) = changes::current(&self.store).await {
            self.seen_version
                .store(v, std::sync::atomic::Ordering::SeqCst);
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            match changes::current(&self.store).await {
                Ok(v) if moved_on(&self.seen_version, v) => {
                    self.invalidate();
                    if let Err(e) = self.sessions.reload().await {
                        tracing::error!(error = %e, "cannot re-read the session signing keys");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the system version"),
            }
        }
    }

    /// Forgets every cached app, user, role and revocation (after any system change).
    pub fn invalidate(&self) {
        self.emptied
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.revoked.invalidate_all();
        self.apps_by_key.invalidate_all();
        self.users.invalidate_all();
        self.app_roles.invalidate_all();
        self.roles.invalidate_all();
        self.role_lookups.invalidate_all();
        self.services_by_name.invalidate_all();
        self.all_services.invalidate_all();
        self.external_users.invalidate_all();
        self.oauth.invalidate();
        self.providers.invalidate();
        self.limiter.invalidate();
        self.cors.invalidate();
        self.responses.clear();
    }

    /// Where identity providers are read from.
    #[must_use]
    pub fn provider_sources(&self) -> crate::identity::Sources<'_> {
        crate::identity::Sources {
            store: &self.store,
            master_key: &self.master_key,
            own_issuer: &self.config.jwt_issuer,
        }
    }

    /// The shadow user of an external identity, created or refreshed when the provider says
    /// something new (attributes other than `volatile` ones, e-mail, name).
    pub async fn external_user(
        &self,
        identity: &ExternalIdentity,
        volatile: &[&str],
    ) -> Result<Arc<UserRecord>, AuthError> {
        let mut kept = identity.claims.clone();
        for k in volatile {
            kept.remove(*k);
        }
        let claims = serde_json::Value::Object(kept).to_string();
        let groups = serde_json::json!(identity.groups).to_string();
        let key = (identity.service_id, identity.subject.clone());
        if let Some(user) = self.external_users.get(&key).await
            && user.claims == claims
            && user.provider_groups == groups
        {
            return Ok(user);
        }
        let external = ExternalUser {
            service_id: identity.service_id,
            service_name: identity.service_name.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            name: identity.name.clone(),
            claims,
            groups,
        };
        let user = Arc::new(
            users::upsert_external(&self.store, &external)
                .await
                .map_err(|e| AuthError::Internal(leak_kind(&e)))?,
        );
        self.external_users.insert(key, user.clone()).await;
        Ok(user)
    }

    /// Every service, in id order (cached; cleared by every system change).
    pub async fn services_list(&self) -> Result<Arc<Vec<ServiceRecord>>, SystemError> {
        let store = &self.store;
        through(&self.emptied, &self.all_services, &(), || async move {
            services::list(store).await.map(Arc::new)
        })
        .await
        .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }

    /// An active service by name.
    pub async fn service_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Arc<ServiceRecord>>, SystemError> {
        let store = &self.store;
        through(
            &self.emptied,
            &self.services_by_name,
            &*lowercase(name),
            || async move {
                Ok(services::find_by_name(store, name)
                    .await?
                    .filter(|s| s.is_active)
                    .map(Arc::new))
            },
        )
        .await
        .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }

    /// The app holding an API key.
    pub async fn app_by_key(&self, key: &str) -> Result<Option<Arc<AppRecord>>, AuthError> {
        let hash = apps::hash_key(key);
        let store = &self.store;
        through(
            &self.emptied,
            &self.apps_by_key,
            hash.as_str(),
            || async move { apps::find_by_key(store, key).await.map(|a| a.map(Arc::new)) },
        )
        .await
        .map_err(|e: Arc<SystemError>| AuthError::Internal(leak_kind(&e)))
    }

    /// Whether a session token id was revoked (logout).
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, AuthError> {
        let store = &self.store;
        through(&self.emptied, &self.revoked, jti, || async move {
            sessions::is_revoked(store, jti).await
        })
        .await
        .map_err(|e: Arc<SystemError>| AuthError::Internal(leak_kind(&e)))
    }

    /// Revokes a session token until its expiry.
    pub async fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), SystemError> {
        sessions::revoke(&self.store, jti, expires_at).await?;
        self.changed().await;
        let now = self.emptied.load(std::sync::atomic::Ordering::SeqCst);
        self.revoked
            .insert(jti.to_owned(), Stamped(now, true))
            .await;
        Ok(())
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<Option<Arc<UserRecord>>, AuthError> {
        let store = &self.store;
        through(&self.emptied, &self.users, &id, || async move {
            users::find(store, id).await.map(|u| u.map(Arc::new))
        })
        .await
        .map_err(|e: Arc<SystemError>| AuthError::Internal(leak_kind(&e)))
    }

    /// A user's per-app roles.
    pub async fn app_roles_of(&self, user_id: i64) -> Result<Arc<Vec<AppRole>>, AuthError> {
        let store = &self.store;
        through(&self.emptied, &self.app_roles, &user_id, || async move {
            app_roles::of_user(store, user_id).await.map(Arc::new)
        })
        .await
        .map_err(|e: Arc<SystemError>| AuthError::Internal(leak_kind(&e)))
    }

    /// A role compiled for enforcement.
    pub async fn compiled_role(&self, id: i64) -> Result<Option<Arc<CompiledRole>>, SystemError> {
        let store = &self.store;
        through(&self.emptied, &self.roles, &id, || async move {
            let role = match roles::get(store, id).await {
                Ok(r) => r,
                Err(SystemError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let access = roles::access_of(store, id).await?;
            Ok(Some(Arc::new(CompiledRole::compile(&role, &access))))
        })
        .await
        .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }

    /// The non-private lookups of a request: global ones, overridden by the role's, overridden
    /// by the signed-in user's own.
    pub async fn lookups_for(
        &self,
        role_id: i64,
        user_id: Option<i64>,
    ) -> Result<Lookups, SystemError> {
        let store = &self.store;
        through(
            &self.emptied,
            &self.role_lookups,
            &(role_id, user_id),
            || async move {
                let mut layers = vec![
                    lookups::global(store).await?,
                    lookups::of(store, lookups::Owner::Role(role_id)).await?,
                ];
                if let Some(user) = user_id {
                    layers.push(lookups::of(store, lookups::Owner::User(user)).await?);
                }
                let mut out: Vec<(String, String)> = Vec::new();
                for l in layers.into_iter().flatten() {
                    if l.private {
                        continue;
                    }
                    out.retain(|(n, _)| n != &l.name);
                    out.push((l.name, l.value));
                }
                Ok(Arc::new(out))
            },
        )
        .await
        .map_err(|e: Arc<SystemError>| SystemError::Invalid(e.to_string()))
    }
}

/// Whether the system version read, `v`, is newer than `seen` (which then becomes `v`). The
/// version only grows: a read that was under way while this node made a change (and moved
/// `seen` on itself, `AppState::changed`) returns an older version, which must neither move
/// `seen` back nor clear the caches (it did both, and the next look cleared them again).
fn moved_on(seen: &std::sync::atomic::AtomicI64, v: i64) -> bool {
    seen.fetch_max(v, std::sync::atomic::Ordering::SeqCst) < v
}

/// `name` in lower case, copied only when it has capitals.
fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// A static description of a store failure (the cause goes to the log).
fn leak_kind(e: &SystemError) -> &'static str {
    tracing::error!(error = %e, "system store failure during authentication");
    "system store unavailable"
}

/// Wakes `wake` whenever another node announces a system change, and ends the cached
/// answers of a service another node wrote to (`LISTEN`), reconnecting after a failure;
/// polling goes on meanwhile (cached answers then end with their TTL).
async fn listen_for_changes(
    pool: sqlx::PgPool,
    wake: std::sync::Arc<tokio::sync::Notify>,
    state: std::sync::Arc<AppState>,
) {
    use crate::statement::{CHANGES_CHANNEL, WRITTEN_CHANNEL};
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener
                    .listen_all([CHANGES_CHANNEL, WRITTEN_CHANNEL])
                    .await
                {
                    tracing::warn!(error = %e, "cannot listen for system changes");
                } else {
                    // `try_recv` answers `None` when the connection was lost (the next call
                    // reconnects): announcements may have been missed, so start afresh.
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) if n.channel() == WRITTEN_CHANNEL => {
                                if let Ok(service) = n.payload().parse() {
                                    state.responses.written(service);
                                }
                            }
                            Ok(Some(_)) => wake.notify_one(),
                            Ok(None) => {
                                wake.notify_one();
                                state.responses.clear();
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "lost the system store's announcements");
                                break;
                            }
                        }
                    }
                    wake.notify_one();
                    state.responses.clear();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for system changes"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use moka::future::Cache;

    use super::through;

    #[tokio::test]
    async fn an_entry_loaded_across_a_system_change_is_neither_used_nor_kept() {
        let emptied = AtomicU64::new(0);
        let cache = Cache::new(10);
        let loads = AtomicUsize::new(0);
        let load = || async {
            // The first load reads the store before a change, which lands while it runs.
            if loads.fetch_add(1, Ordering::SeqCst) == 0 {
                emptied.fetch_add(1, Ordering::SeqCst);
                Ok("before the change")
            } else {
                Ok("after it")
            }
        };
        assert_eq!(
            through(&emptied, &cache, &1, load).await.unwrap(),
            "after it"
        );
        assert_eq!(
            through(&emptied, &cache, &1, load).await.unwrap(),
            "after it"
        );
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "the stale entry was not kept"
        );
        // Once loaded after the change, it is kept.
        assert_eq!(
            through(&emptied, &cache, &1, load).await.unwrap(),
            "after it"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_version_read_before_this_nodes_own_change_moves_nothing() {
        use std::sync::atomic::AtomicI64;
        let seen = AtomicI64::new(4);
        // This node's change took the version to 5 and moved `seen` on itself.
        seen.store(5, Ordering::SeqCst);
        // A look that began before the change reads 4: nothing to clear, nothing moved back.
        assert!(!super::moved_on(&seen, 4));
        assert_eq!(seen.load(Ordering::SeqCst), 5);
        assert!(!super::moved_on(&seen, 5), "the node's own change");
        // Another node's change.
        assert!(super::moved_on(&seen, 6));
        assert_eq!(seen.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_cached_entry_from_before_a_change_is_loaded_again() {
        let emptied = AtomicU64::new(0);
        let cache: Cache<String, _> = Cache::new(10);
        let loads = AtomicUsize::new(0);
        let load = || async { Ok(loads.fetch_add(1, Ordering::SeqCst)) };
        assert_eq!(through(&emptied, &cache, "db", load).await.unwrap(), 0);
        assert_eq!(
            through(&emptied, &cache, "db", load).await.unwrap(),
            0,
            "a hit is not loaded again"
        );
        // A change counted before the caches are emptied: the entry found is not used.
        emptied.fetch_add(1, Ordering::SeqCst);
        assert_eq!(through(&emptied, &cache, "db", load).await.unwrap(), 1);
        assert_eq!(through(&emptied, &cache, "db", load).await.unwrap(), 2);
        assert_eq!(
            through(&emptied, &cache, "db", load).await.unwrap(),
            2,
            "the entry loaded after the change is kept"
        );
    }
}

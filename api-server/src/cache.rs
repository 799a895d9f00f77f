//! The response cache for services that opt in (`"cache": {"ttl_seconds": 30, "tables":
//! ["products"]}` in the service config; `["*"]` for every table). Only GETs of tables and
//! records whose whole answer was built in memory are kept, never streamed exports.
//!
//! Never shared across roles — or across users, apps or provider claims, since row filters
//! may use them: the key holds the role, user, app, a digest of the claims, and the request
//! normalised (path and sorted query, credentials left out). A write through Rampart to a
//! service moves that service's generation on, which every key includes, so nothing cached
//! before the write is served after it; a system change empties the cache and moves its
//! epoch on, which every key also includes, read before the request loads the role's rules:
//! an answer built under rules a change has replaced is never served. Entries also
//! expire after their service's TTL. Each node keeps its own cache; on a PostgreSQL system
//! store a write through another node is announced (`NOTIFY` on `rampart_written`) and moves
//! this node's generation of that service on too (`AppState::announce_write`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::future::Cache;

/// A cached answer.
#[derive(Debug)]
pub struct Cached {
    pub body: actix_web::web::Bytes,
    pub content_type: String,
    pub rows: Option<i64>,
    pub expires: Instant,
}

/// The cache of a service, as its config asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub ttl: Duration,
    /// Table names (API names); `*` for all.
    pub tables: Vec<String>,
}

impl Policy {
    /// The policy in a service config (`None`: the service is not cached).
    #[must_use]
    pub fn from_config(config: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        let c = config.get("cache")?.as_object()?;
        let ttl = c.get("ttl_seconds")?.as_u64().filter(|t| *t > 0)?;
        let tables: Vec<String> = c
            .get("tables")
            .and_then(|t| t.as_array())
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_else(|| vec!["*".to_owned()]);
        Some(Self {
            ttl: Duration::from_secs(ttl.min(86_400)),
            tables,
        })
    }

    /// Whether answers about `table` are kept.
    #[must_use]
    pub fn covers(&self, table: &str) -> bool {
        self.tables.iter().any(|t| t == "*" || t == table)
    }
}

/// Largest answer kept.
pub const MAX_ENTRY: usize = 1 << 20;

/// The responses, and each service's write generation.
pub struct ResponseCache {
    entries: Cache<String, Arc<Cached>>,
    generations: Mutex<HashMap<i64, u64>>,
    /// How many times the cache was emptied: an answer a request started before a system
    /// change is put under the epoch it read, which no later request asks for (emptying alone
    /// would not do: it forgets what is there, not what is being built).
    epoch: AtomicU64,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                // Weighed by size: 64 MiB of answers at most.
                .weigher(|k: &String, v: &Arc<Cached>| {
                    u32::try_from(k.len() + v.body.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(64 * 1024 * 1024)
                .time_to_live(Duration::from_secs(86_400))
                .build(),
            generations: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }
}

/// The normalised request: the path and the query sorted by name, credentials left out.
/// Repeated names keep their order: the first is the one a request acts on.
#[must_use]
pub fn normalised(path: &str, query: &str) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "api_key" && k != "session_token")
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{q}")
}

impl ResponseCache {
    fn generation(&self, service_id: i64) -> u64 {
        *self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&service_id)
            .unwrap_or(&0)
    }

    /// The epoch a request reads before it loads what its answer depends on (its role's
    /// rules, lookups), for its key.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The key of a request to `service_id` as `who` (role, user, app, claims digest), begun
    /// in `epoch`.
    #[must_use]
    pub fn key(&self, service_id: i64, epoch: u64, who: &str, request: &str) -> String {
        format!(
            "{epoch}:{service_id}:{}:{who}:{request}",
            self.generation(service_id)
        )
    }

    /// A live entry.
    pub async fn get(&self, key: &str) -> Option<Arc<Cached>> {
        self.entries
            .get(key)
            .await
            .filter(|c| c.expires > Instant::now())
    }

    /// Keeps an answer.
    pub async fn put(&self, key: String, value: Cached) {
        if value.body.len() <= MAX_ENTRY {
            self.entries.insert(key, Arc::new(value)).await;
        }
    }

    /// After a write to `service_id`: nothing cached before it is served again.
    pub fn written(&self, service_id: i64) {
        *self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(service_id)
            .or_insert(0) += 1;
    }

    /// Forgets everything (after a system change: roles, services, users).
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_normalise_without_credentials_or_order() {
        assert_eq!(
            normalised("/api/v2/db/_table/p", "limit=5&api_key=k&filter=a%3D1"),
            normalised("/api/v2/db/_table/p", "filter=a%3D1&limit=5")
        );
        assert_ne!(
            normalised("/api/v2/db/_table/p", "limit=5"),
            normalised("/api/v2/db/_table/p", "limit=6")
        );
    }

    #[test]
    fn a_write_moves_the_key_on() {
        let c = ResponseCache::default();
        let before = c.key(1, 0, "r1", "/x?");
        c.written(1);
        assert_ne!(c.key(1, 0, "r1", "/x?"), before);
        assert_eq!(c.key(2, 0, "r1", "/x?"), "0:2:0:r1:/x?");
    }

    #[tokio::test]
    async fn an_answer_begun_before_a_system_change_is_never_served_after_it() {
        let c = ResponseCache::default();
        let begun = c.epoch();
        c.clear();
        // The answer lands after the change emptied the cache.
        let late = c.key(1, begun, "r1", "/x?");
        c.put(
            late.clone(),
            Cached {
                body: actix_web::web::Bytes::from_static(b"[]"),
                content_type: "application/json".into(),
                rows: Some(0),
                expires: Instant::now() + Duration::from_secs(60),
            },
        )
        .await;
        assert!(c.get(&late).await.is_some(), "it is there");
        assert_ne!(
            c.key(1, c.epoch(), "r1", "/x?"),
            late,
            "no later request asks for it"
        );
    }

    #[test]
    fn policies_come_from_the_service_config() {
        let config = serde_json::json!({"cache": {"ttl_seconds": 30, "tables": ["products"]}});
        let p = Policy::from_config(config.as_object().unwrap()).unwrap();
        assert_eq!(p.ttl, Duration::from_secs(30));
        assert!(p.covers("products") && !p.covers("orders"));
        let none = serde_json::json!({"cache": {"ttl_seconds": 0}});
        assert!(Policy::from_config(none.as_object().unwrap()).is_none());
        assert!(Policy::from_config(&serde_json::Map::new()).is_none());
    }
}

//! Rate-limit counters: in this process (one node), or in Redis (several nodes, one budget).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// Counters of requests per key (limit, subject, window).
pub enum Counters {
    /// Count and when the key may be forgotten.
    Memory(Mutex<HashMap<String, (Instant, u64)>>),
    Redis {
        client: redis::Client,
        /// Connected on first use (and reconnected by the manager after a failure).
        connection: OnceCell<redis::aio::ConnectionManager>,
        /// Keys of one installation: nodes of another never share its counts.
        prefix: String,
    },
}

/// Keys kept in memory before windows that have ended are dropped.
const MEMORY_SWEEP_AT: usize = 10_000;

impl Counters {
    /// Counters in this process.
    #[must_use]
    pub fn memory() -> Self {
        Self::Memory(Mutex::new(HashMap::new()))
    }

    /// Counters in the Redis server at `url`, under `prefix`.
    pub fn redis(url: &str, prefix: String) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("the Redis URL for rate limits is not usable: {e}"))?;
        Ok(Self::Redis {
            client,
            connection: OnceCell::new(),
            prefix,
        })
    }

    /// Adds one to `key` (which names its window) and answers the count; a key lives for
    /// `ttl` seconds (its window).
    pub async fn hit(&self, key: &str, ttl: u64) -> Result<u64, String> {
        match self {
            Self::Memory(map) => {
                let now = Instant::now();
                let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
                if map.len() >= MEMORY_SWEEP_AT && !map.contains_key(key) {
                    map.retain(|_, (until, _)| *until > now);
                }
                let entry = map
                    .entry(key.to_owned())
                    .or_insert((now + Duration::from_secs(ttl), 0));
                entry.1 += 1;
                Ok(entry.1)
            }
            Self::Redis {
                client,
                connection,
                prefix,
            } => {
                let conn = connection
                    .get_or_try_init(|| redis::aio::ConnectionManager::new(client.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
                let mut conn = conn.clone();
                let full = format!("{prefix}{key}");
                let (count,): (u64,) = redis::pipe()
                    .atomic()
                    .incr(&full, 1_u64)
                    .expire(&full, i64::try_from(ttl).unwrap_or(i64::MAX))
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(count)
            }
        }
    }
}

//! Rate-limit counters: in this process (one node), or in Redis (several nodes, one budget).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// Counters of requests per key (limit, subject, window).
pub enum Counters {
    /// Count and when the key may be forgotten.
    Memory(Mutex<HashMap<String, (Instant, u64)>>),
    Redis(Box<Shared>),
}

/// Counters in Redis.
pub struct Shared {
    client: redis::Client,
    /// Connected on first use (and reconnected by the manager after a failure).
    connection: OnceCell<redis::aio::ConnectionManager>,
    /// Keys of one installation: nodes of another never share its counts.
    prefix: String,
    /// Until when Redis is left alone after it failed: requests are not counted meanwhile
    /// rather than each waiting for a connection that is not coming.
    resting: Mutex<Option<Instant>>,
}

/// How long Redis may take to accept a connection or answer, and how long it is left alone
/// after it did not. A limited request waits at most this long for its count.
const REDIS_PATIENCE: Duration = Duration::from_millis(250);
const REDIS_REST: Duration = Duration::from_secs(1);

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
        Ok(Self::Redis(Box::new(Shared {
            client,
            connection: OnceCell::new(),
            prefix,
            resting: Mutex::new(None),
        })))
    }

    /// Takes back the one [`Counters::hit`] added to each of `keys` (with its window's length
    /// in seconds). Best effort: in Redis one round trip within the same 250 ms, skipped while
    /// Redis rests.
    pub async fn take_back(&self, keys: &[(String, u64)]) {
        match self {
            Self::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
                for (key, _) in keys {
                    if let Some(entry) = map.get_mut(key) {
                        entry.1 = entry.1.saturating_sub(1);
                    }
                }
            }
            Self::Redis(shared) => {
                let resting = shared
                    .resting
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some_and(|t| t > Instant::now());
                let Some(conn) = shared.connection.get().filter(|_| !resting) else {
                    return;
                };
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                pipe.atomic();
                for (key, ttl) in keys {
                    let full = format!("{}{key}", shared.prefix);
                    // The window's expiry again: a key that expired meanwhile must not stay
                    // behind at -1 for ever.
                    pipe.decr(&full, 1_u64)
                        .ignore()
                        .expire(&full, i64::try_from(*ttl).unwrap_or(i64::MAX))
                        .ignore();
                }
                let taken =
                    tokio::time::timeout(REDIS_PATIENCE, pipe.query_async::<()>(&mut conn)).await;
                if !matches!(taken, Ok(Ok(()))) {
                    tracing::warn!("a refused request's counts could not be taken back");
                }
            }
        }
    }

    /// Adds one to `key` (which names its window) and answers the count; a key lives for
    /// `ttl` seconds (its window). `Ok(None)`: Redis failed a moment ago and is resting.
    pub async fn hit(&self, key: &str, ttl: u64) -> Result<Option<u64>, String> {
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
                Ok(Some(entry.1))
            }
            Self::Redis(shared) => {
                let Shared {
                    client,
                    connection,
                    prefix,
                    resting,
                } = &**shared;
                // Whether Redis rests; checked again by each request that waited for another's
                // connection attempt, so they do not each try once more when it fails.
                let rests = || {
                    let mut until = resting.lock().unwrap_or_else(PoisonError::into_inner);
                    match *until {
                        Some(t) if t > Instant::now() => true,
                        Some(_) => {
                            *until = None;
                            false
                        }
                        None => false,
                    }
                };
                if rests() {
                    return Ok(None);
                }
                let counted = tokio::time::timeout(REDIS_PATIENCE, async {
                    let conn = connection
                        .get_or_try_init(|| async {
                            if rests() {
                                return Err(None);
                            }
                            let config = redis::aio::ConnectionManagerConfig::new()
                                .set_connection_timeout(Some(REDIS_PATIENCE))
                                .set_response_timeout(Some(REDIS_PATIENCE))
                                .set_number_of_retries(0);
                            redis::aio::ConnectionManager::new_with_config(client.clone(), config)
                                .await
                                .map_err(Some)
                        })
                        .await?;
                    let mut conn = conn.clone();
                    let full = format!("{prefix}{key}");
                    let (count,): (u64,) = redis::pipe()
                        .atomic()
                        .incr(&full, 1_u64)
                        .expire(&full, i64::try_from(ttl).unwrap_or(i64::MAX))
                        .ignore()
                        .query_async(&mut conn)
                        .await
                        .map_err(Some)?;
                    Ok::<_, Option<redis::RedisError>>(count)
                });
                let failed = match counted.await {
                    Ok(Ok(count)) => return Ok(Some(count)),
                    Ok(Err(None)) => return Ok(None),
                    Ok(Err(Some(e))) => e.to_string(),
                    Err(_) => format!("no answer from Redis within {REDIS_PATIENCE:?}"),
                };
                *resting.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(Instant::now() + REDIS_REST);
                Err(failed)
            }
        }
    }
}

//! The connection pool of a database service.
//!
//! A request takes a connection, runs its statements and hands it back. sqlx's own pool
//! checks every connection with a round trip to PostgreSQL when it is taken (by default) and
//! again, always, when it is returned: two extra round trips for every one-statement request,
//! which cost more than the request's own statement. This pool trusts a connection that its
//! last user handed back cleanly and checks only what may have gone stale or been left
//! dirty:
//! - a connection idle for longer than [`CHECK_AFTER_IDLE`] is pinged before it is lent again
//!   (PostgreSQL may have restarted meanwhile); one idle longer than [`IDLE_TIMEOUT`] or older
//!   than [`MAX_LIFETIME`] is closed instead;
//! - a connection handed back after an error ([`Pooled::release`] with `clean = false`) is
//!   pinged first, which also sends any `ROLLBACK` an abandoned transaction queued;
//! - a connection never handed back (its request's future was dropped mid-statement) is closed
//!   on the spot: PostgreSQL sees its socket close and stops the statement
//!   (`client_connection_check_interval`, set when the connection is opened).
//!
//! Closing is dropping: the socket closes, which PostgreSQL treats as a goodbye (it logs
//! nothing outside a transaction). A connection counts itself in and out of the pool's size,
//! so no path — cancelled futures included — can leave the count wrong.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection idle longer than this is pinged before it is lent.
pub const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);
/// A connection idle longer than this is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// A connection older than this is closed when it comes back or is next taken.
pub const MAX_LIFETIME: Duration = Duration::from_secs(1800);

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("every connection of the service's pool stayed busy for {0:?}")]
    TimedOut(Duration),
    #[error("the service's pool is closed")]
    Closed,
    #[error(transparent)]
    Connect(#[from] sqlx::Error),
}

impl From<PoolError> for sqlx::Error {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::TimedOut(_) => Self::PoolTimedOut,
            PoolError::Closed => Self::PoolClosed,
            PoolError::Connect(e) => e,
        }
    }
}

/// An open connection, counted in its pool's size while it lives.
struct Conn {
    raw: PgConnection,
    created: Instant,
    open: Arc<AtomicU32>,
}

impl Conn {
    fn new(raw: PgConnection, open: &Arc<AtomicU32>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self {
            raw,
            created: Instant::now(),
            open: Arc::clone(open),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection at rest.
struct Idle {
    conn: Conn,
    since: Instant,
}

struct Inner {
    options: PgConnectOptions,
    max: u32,
    acquire_timeout: Duration,
    /// One permit per connection that may be lent at once.
    permits: Arc<Semaphore>,
    /// Most recently returned last: lending from the end keeps a few connections warm.
    idle: Mutex<Vec<Idle>>,
    /// Connections open, lent or idle.
    open: Arc<AtomicU32>,
    closed: AtomicBool,
    /// Runs on each new connection before it is first lent.
    setup: Option<Setup>,
}

/// A hook run on every new connection.
pub type Setup = fn(
    &mut PgConnection,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_>,
>;

/// A service's pool of PostgreSQL connections. Cheap to clone.
#[derive(Clone)]
pub struct ConnPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ConnPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnPool")
            .field("max", &self.inner.max)
            .field("open", &self.size())
            .finish_non_exhaustive()
    }
}

impl ConnPool {
    /// A pool of at most `max` connections (at least one), opened as needed. Connects once
    /// to prove the options work, and keeps that connection.
    pub async fn connect(
        options: PgConnectOptions,
        max: u32,
        acquire_timeout: Duration,
        setup: Option<Setup>,
    ) -> Result<Self, PoolError> {
        let max = max.max(1);
        let pool = Self {
            inner: Arc::new(Inner {
                options,
                max,
                acquire_timeout,
                permits: Arc::new(Semaphore::new(max as usize)),
                idle: Mutex::new(Vec::with_capacity(max as usize)),
                open: Arc::new(AtomicU32::new(0)),
                closed: AtomicBool::new(false),
                setup,
            }),
        };
        pool.acquire().await?.release(true).await;
        Ok(pool)
    }

    /// The options connections are opened with.
    #[must_use]
    pub fn connect_options(&self) -> &PgConnectOptions {
        &self.inner.options
    }

    /// Connections open (lent or idle).
    #[must_use]
    pub fn size(&self) -> u32 {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// Connections idle.
    #[must_use]
    pub fn num_idle(&self) -> usize {
        self.idle().len()
    }

    /// The most connections this pool opens.
    #[must_use]
    pub fn max_connections(&self) -> u32 {
        self.inner.max
    }

    /// Lends a connection: an idle one when there is one (checked if it rested long), else
    /// a new one; waits for one to come back when all are lent, at most the acquire timeout.
    pub async fn acquire(&self) -> Result<Pooled, PoolError> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(PoolError::Closed);
        }
        let permit = tokio::time::timeout(
            inner.acquire_timeout,
            Arc::clone(&inner.permits).acquire_owned(),
        )
        .await
        .map_err(|_| PoolError::TimedOut(inner.acquire_timeout))?
        .map_err(|_| PoolError::Closed)?;
        loop {
            // Not `while let`: its lock guard would live through the ping below.
            let Some(mut idle) = self.idle().pop() else {
                break;
            };
            let now = Instant::now();
            if now - idle.since > IDLE_TIMEOUT || now - idle.conn.created > MAX_LIFETIME {
                continue;
            }
            if now - idle.since > CHECK_AFTER_IDLE && idle.conn.raw.ping().await.is_err() {
                continue;
            }
            return Ok(self.lend(idle.conn, permit));
        }
        let mut raw = inner.options.connect().await?;
        if let Some(setup) = inner.setup {
            setup(&mut raw).await?;
        }
        Ok(self.lend(Conn::new(raw, &inner.open), permit))
    }

    /// Closes the idle connections and refuses to lend more; lent ones close when they come
    /// back.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.permits.close();
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lend(&self, conn: Conn, permit: OwnedSemaphorePermit) -> Pooled {
        Pooled {
            conn,
            pool: self.clone(),
            _permit: permit,
        }
    }
}

/// A lent connection. Hand it back with [`Pooled::release`]; dropped without that, it is
/// closed.
pub struct Pooled {
    conn: Conn,
    pool: ConnPool,
    /// Held while lent: the pool lends no more than its size.
    _permit: OwnedSemaphorePermit,
}

impl Pooled {
    /// The connection.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn.raw
    }

    /// Hands the connection back. `clean`: its last user finished every statement and
    /// transaction it began; otherwise it is pinged first (which also sends the `ROLLBACK`
    /// of a transaction dropped on an error) and closed if that fails.
    pub async fn release(mut self, clean: bool) {
        let pool = &self.pool.inner;
        if pool.closed.load(Ordering::Acquire) || self.conn.created.elapsed() > MAX_LIFETIME {
            return;
        }
        if !clean && self.conn.raw.ping().await.is_err() {
            return;
        }
        let Self { conn, pool, .. } = self;
        pool.idle().push(Idle {
            conn,
            since: Instant::now(),
        });
    }
}

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
//!
//! Besides the connections it lends, the pool keeps the service's pipelined connections
//! ([`super::pipe`]) for short reads: one per thread that runs them (an actix worker is a
//! single-threaded runtime, so a pipe's I/O and its requests share a thread), at most half
//! the pool's size; threads beyond that share the existing ones. Each pipe holds one of the
//! pool's permits for as long as it is open, so the pool's size bounds every connection it
//! makes: a pool of one lends its one connection and has no pipe. The pool owns the pipes and
//! they close with it; a thread only remembers its own.

use std::cell::RefCell;
use std::sync::Weak;
use std::sync::atomic::AtomicU64;

use super::pipe::{Pipe, Target};

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
    /// Where pipelined connections connect; none: every statement takes a lent connection.
    target: Option<Target>,
    /// The pipelined connections open, one per thread that ran a short read, each with the
    /// permit it holds.
    pipes: Mutex<Vec<(Arc<Pipe>, OwnedSemaphorePermit)>>,
    /// Tells this pool's pipes apart from other pools' in a thread's memory.
    id: u64,
}

/// Pools made so far: each pool's `id`.
static POOLS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's pipe of each pool it ran short reads for (pool id, pipe).
    static PIPES: RefCell<Vec<(u64, Weak<Pipe>)>> = const { RefCell::new(Vec::new()) };
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
    /// to prove the options work, and keeps that connection. With a `target`, lookups by key run
    /// on pipelined connections to it (see [`ConnPool::pipe`]).
    pub async fn connect(
        options: PgConnectOptions,
        max: u32,
        acquire_timeout: Duration,
        setup: Option<Setup>,
        target: Option<Target>,
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
                target,
                pipes: Mutex::new(Vec::new()),
                id: POOLS.fetch_add(1, Ordering::Relaxed),
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

    /// Closes the idle connections and the pipes, and refuses to lend more; lent ones close
    /// when they come back, pipes when the reads in flight on them finish.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.permits.close();
        self.idle().clear();
        self.pipes().clear();
    }

    /// The pipelined connection for a short read on this thread: its own, else a new one
    /// while pipes hold fewer than half the pool's permits, else one another thread opened.
    /// `None`: the pool has no pipe to offer (none configured, too small, busy or closed),
    /// and the read takes a lent connection.
    pub async fn pipe(&self) -> Result<Option<Arc<Pipe>>, tokio_postgres::Error> {
        let inner = &self.inner;
        let Some(target) = &inner.target else {
            return Ok(None);
        };
        if inner.closed.load(Ordering::Acquire) {
            return Ok(None);
        }
        if let Some(pipe) = self.own_pipe() {
            return Ok(Some(pipe));
        }
        // A permit for a new pipe, while pipes hold fewer than half of them and one is free
        // now; else an existing pipe is shared, or (none yet) the read takes a lent connection.
        let permit = {
            let mut pipes = self.pipes();
            pipes.retain(|(p, _)| !p.is_closed());
            if pipes.len() < inner.max as usize / 2 {
                Arc::clone(&inner.permits).try_acquire_owned().ok()
            } else {
                None
            }
        };
        let pipe = match permit {
            None => {
                let pipes = self.pipes();
                if pipes.is_empty() {
                    return Ok(None);
                }
                let n = PIPES.with(|p| p.borrow().len());
                let shared = Arc::clone(&pipes[n % pipes.len()].0);
                if pipes.len() < inner.max as usize / 2 {
                    // Only busy now: this thread opens its own once a permit is free.
                    return Ok(Some(shared));
                }
                shared
            }
            Some(permit) => {
                let pipe = Arc::new(Pipe::connect(target).await?);
                // Another read on this thread may have opened one meanwhile.
                if let Some(theirs) = self.own_pipe() {
                    return Ok(Some(theirs));
                }
                if inner.closed.load(Ordering::Acquire) {
                    return Ok(None);
                }
                let mut pipes = self.pipes();
                pipes.push((Arc::clone(&pipe), permit));
                // Connections opened for lending and now idle give way to the pipe.
                if self.size() as usize + pipes.len() > inner.max as usize {
                    drop(pipes);
                    self.idle().pop();
                }
                pipe
            }
        };
        PIPES.with(|p| {
            let mut p = p.borrow_mut();
            p.retain(|(id, w)| *id != inner.id && w.strong_count() > 0);
            p.push((inner.id, Arc::downgrade(&pipe)));
        });
        Ok(Some(pipe))
    }

    /// This thread's pipe of this pool, if it has one that works.
    fn own_pipe(&self) -> Option<Arc<Pipe>> {
        PIPES.with(|p| {
            p.borrow()
                .iter()
                .find(|(id, _)| *id == self.inner.id)
                .and_then(|(_, w)| w.upgrade())
                .filter(|pipe| !pipe.is_closed())
        })
    }

    /// Pipelined connections open.
    #[must_use]
    pub fn num_pipes(&self) -> usize {
        self.pipes().len()
    }

    fn pipes(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<Pipe>, OwnedSemaphorePermit)>> {
        self.inner
            .pipes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

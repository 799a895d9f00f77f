//! The audit writer: a thread of its own that drains the queue in batches into the system
//! store and the log sink.
//!
//! On a SQLite store (the embedded default) it writes over a connection of its own
//! (`system::audit::OwnAppender`): each event's fields are bound straight from memory and
//! nothing crosses to another thread. On PostgreSQL (several nodes sharing a store) it runs
//! `system::audit::append` on the server's runtime.

use std::io::Write;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::system::audit::{self, AuditRecord, ChainKey, OwnAppender};
use crate::system::{Store, SystemError};

/// Events per store transaction, at most.
const BATCH: usize = 1000;

/// How long the writer gathers events after the first one before storing them: each store
/// transaction rewrites whole pages of the table and its indexes, so a few large batches cost
/// far less than many small ones. Events are stored at most this much later.
const LINGER: Duration = Duration::from_millis(100);

/// What the queue carries.
pub enum Message {
    /// As the request made it (a box, so that only a pointer crosses the queue), stored
    /// from the box.
    Event(Box<AuditRecord>),
    /// Answered once every event queued before it is stored (at shutdown).
    Flush(oneshot::Sender<()>),
}

/// Where events also go as JSON lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Off,
    Stdout,
    File(std::path::PathBuf),
}

impl Sink {
    /// `off`, `stdout`, or a file path (appended to).
    #[must_use]
    pub fn from_config(value: &str) -> Self {
        match value.trim() {
            "" | "off" | "none" => Self::Off,
            "stdout" | "-" => Self::Stdout,
            path => Self::File(path.into()),
        }
    }

    fn open(&self) -> std::io::Result<Option<Out>> {
        Ok(match self {
            Self::Off => None,
            Self::Stdout => Some(Out::Stdout(std::io::stdout())),
            Self::File(path) => {
                let (file, id) = open_file(path)?;
                Some(Out::File {
                    path: path.clone(),
                    file: std::io::BufWriter::new(file),
                    id,
                })
            }
        })
    }

    /// Opens the sink, saying so in the log when it fails and when it works again (`down`:
    /// whether it had failed), not at every batch.
    fn reopen(&self, down: &mut bool) -> Option<Out> {
        match self.open() {
            Ok(out) => {
                if std::mem::take(down) {
                    tracing::warn!(sink = ?self, "the audit log sink is open again; events stored meanwhile are in the store only");
                }
                out
            }
            Err(e) => {
                if !std::mem::replace(down, true) {
                    tracing::error!(error = %e, sink = ?self, "the audit log sink cannot be opened; events go to the store only until it can");
                }
                None
            }
        }
    }
}

/// What identifies a file on its file system, to notice when its path names another one.
type FileId = Option<(u64, u64)>;

fn open_file(path: &std::path::Path) -> std::io::Result<(std::fs::File, FileId)> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let id = file_id(&file.metadata()?);
    Ok((file, id))
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> FileId {
    None
}

/// The open sink.
enum Out {
    Stdout(std::io::Stdout),
    File {
        path: std::path::PathBuf,
        file: std::io::BufWriter<std::fs::File>,
        id: FileId,
    },
}

impl Out {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Stdout(s) => s,
            Self::File { file, .. } => file,
        }
    }

    /// Whether the file was moved or deleted (rotated) since it was opened: its path then
    /// names another file, or none, and the sink opens it again.
    fn rotated(&self) -> bool {
        match self {
            Self::Stdout(_) => false,
            Self::File { path, id, .. } => {
                id.is_some() && std::fs::metadata(path).map_or(true, |m| file_id(&m) != *id)
            }
        }
    }
}

/// Starts the writer's thread. It runs until every sender is gone and the queue is empty.
pub(super) fn start(store: Store, key: ChainKey, sink: Sink, rx: mpsc::Receiver<Message>) {
    let runtime = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("rampart-audit".into())
        .spawn(move || {
            background();
            run(&store, &key, &sink, rx, &runtime);
        });
    if let Err(e) = spawned {
        // The queue then fills and holds requests back (or refuses them): never unaudited.
        tracing::error!(error = %e, "the audit writer cannot start");
    }
}

/// How far the writer's thread lowers its scheduling priority (its nice value, 0 to 19).
///
/// At the default priority the writer's batches (a millisecond or two of CPU at a time) took
/// a core from the request threads, which share the machine with PostgreSQL: the requests on
/// the thread put aside waited, and under load the slowest 1 % took 5–15 times the median
/// (`bench/README.md`). Lowered, the request threads come first. Not lowered as far as it
/// goes: at 5 the writer's share of a contested core (a quarter) is still several times what
/// it needs at the highest rates measured; at 10 it fell behind there, and a full queue holds
/// requests back (never unaudited, but late).
const NICENESS: i32 = 5;

/// Lowers the calling thread's priority by [`NICENESS`] (on Linux, where each thread has its
/// own; elsewhere the writer keeps the process's priority rather than lowering every thread).
fn background() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let lowered = rustix::process::getpriority_process(Some(tid))
            .and_then(|now| rustix::process::setpriority_process(Some(tid), now.max(NICENESS)));
        if let Err(e) = lowered {
            tracing::warn!(error = %e, "the audit writer keeps the server's priority");
        }
    }
}

fn run(
    store: &Store,
    key: &ChainKey,
    sink: &Sink,
    mut rx: mpsc::Receiver<Message>,
    runtime: &tokio::runtime::Handle,
) {
    if let Ok(Some(id)) = runtime.block_on(audit::unsigned_purge(store)) {
        tracing::warn!(
            last_purged_row = id,
            "the record of the audit trail's last purge (through row {id}) was written before purges were signed; until the next purge signs one, `rampart audit verify --unkeyed-through {id}` (or the row named below, if later) accepts it"
        );
    }
    if let Ok(Some(id)) = runtime.block_on(audit::unkeyed_end(store, key)) {
        tracing::warn!(
            last_unkeyed_row = id,
            "the audit trail's rows up to {id} were written before its hashes were keyed with the master key; keep this row id: `rampart audit verify --unkeyed-through {id}` checks them"
        );
    }
    if let Some(path) = store.sqlite_file() {
        let fallback = |e: &dyn std::error::Error| {
            tracing::warn!(error = %e, "the audit writer cannot open the store's file itself; it writes through the store's pool");
        };
        match crate::statement::OwnSqlite::open(&path) {
            Ok(conn) => match OwnAppender::new(&conn, key.clone()) {
                Ok(mut appender) => return drain(&mut rx, sink, |b| appender.append(b)),
                Err(e) => fallback(&e),
            },
            Err(e) => fallback(&e),
        }
    }
    drain(&mut rx, sink, |batch| {
        runtime.block_on(audit::append(store, key, batch))
    });
}

/// Gathers batches from the queue and stores each with `store` (retried until it succeeds),
/// then writes it to the sink (opened again when it failed or its file was rotated).
fn drain(
    rx: &mut mpsc::Receiver<Message>,
    sink: &Sink,
    mut store: impl FnMut(&mut [Box<AuditRecord>]) -> Result<(), SystemError>,
) {
    let mut down = false;
    let mut out = sink.reopen(&mut down);
    let mut received = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while rx.blocking_recv_many(&mut received, BATCH) > 0 {
        // Gather more, looking at the queue now and then rather than waking for each event,
        // and stop early when a full batch is waiting or the queue is full (requests are
        // then held back, or refused, until there is room).
        let until = Instant::now() + LINGER;
        while Instant::now() < until && rx.len() < BATCH - received.len() && rx.capacity() > 0 {
            std::thread::sleep(LINGER / 10);
        }
        if received.len() < BATCH && !rx.is_empty() {
            let room = BATCH - received.len();
            rx.blocking_recv_many(&mut received, room);
        }
        for message in received.drain(..) {
            match message {
                Message::Event(e) => batch.push(e),
                Message::Flush(done) => flushes.push(done),
            }
        }
        let mut delay = Duration::from_millis(50);
        while !batch.is_empty() {
            match store(&mut batch) {
                Ok(()) => break,
                Err(e) => {
                    // Never dropped: the queue fills meanwhile and holds requests back.
                    tracing::error!(error = %e, events = batch.len(), "audit events could not be stored; retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        // A sink that could not be opened, or whose file was rotated away, is opened again.
        if *sink != Sink::Off && out.as_ref().is_none_or(Out::rotated) {
            out = sink.reopen(&mut down);
        }
        if let Some(o) = out.as_mut() {
            let w = o.writer();
            let mut failed = false;
            for e in &batch {
                failed |= writeln!(w, "{}", super::event_json(e)).is_err();
            }
            failed |= w.flush().is_err();
            if failed {
                tracing::error!(
                    events = batch.len(),
                    "audit events could not be written to the log sink; it is opened again for the next batch"
                );
                down = true;
                out = None;
            }
        }
        batch.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_writer_thread_runs_below_the_request_threads_and_leaves_them_as_they_are() {
        let of_thread = || rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        let before = of_thread().unwrap();
        let lowered = std::thread::spawn(move || {
            super::background();
            of_thread().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, before.max(super::NICENESS));
        // Only the writer's own thread: the one that started it keeps its priority.
        assert_eq!(of_thread().unwrap(), before);
    }
}

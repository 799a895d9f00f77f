//! The audit writer: drains the queue in batches into the system store and the log sink.

use std::io::Write;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::system::Store;
use crate::system::audit::{self, AuditRecord};

/// Events per store transaction, at most.
const BATCH: usize = 1000;

/// How long the writer gathers events after the first one before storing them: each store
/// transaction rewrites whole pages of the table and its indexes, so a few large batches cost
/// far less than many small ones. Events are stored at most this much later.
const LINGER: Duration = Duration::from_millis(100);

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

    fn open(&self) -> std::io::Result<Option<Box<dyn Write + Send>>> {
        Ok(match self {
            Self::Off => None,
            Self::Stdout => Some(Box::new(std::io::stdout())),
            Self::File(path) => Some(Box::new(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ))),
        })
    }
}

/// Runs until every sender is gone and the queue is empty.
pub(super) async fn run(store: Store, sink: Sink, mut rx: mpsc::Receiver<AuditRecord>) {
    let mut out = match sink.open() {
        Ok(out) => out,
        Err(e) => {
            tracing::error!(error = %e, sink = ?sink, "the audit log sink cannot be opened; events go to the store only");
            None
        }
    };
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Gather more, looking at the queue now and then rather than waking for each event,
        // and stop early when a full batch is waiting or the queue is full (requests are
        // then held back, or refused, until there is room).
        let until = tokio::time::Instant::now() + LINGER;
        while tokio::time::Instant::now() < until
            && rx.len() < BATCH - batch.len()
            && rx.capacity() > 0
        {
            tokio::time::sleep(LINGER / 10).await;
        }
        if batch.len() < BATCH && !rx.is_empty() {
            let room = BATCH - batch.len();
            rx.recv_many(&mut batch, room).await;
        }
        let mut delay = Duration::from_millis(50);
        loop {
            match audit::append(&store, &mut batch).await {
                Ok(()) => break,
                Err(e) => {
                    // Never dropped: the queue fills meanwhile and holds requests back.
                    tracing::error!(error = %e, events = batch.len(), "audit events could not be stored; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        if let Some(w) = out.as_mut() {
            let mut failed = false;
            for e in &batch {
                failed |= writeln!(w, "{}", super::event_json(e)).is_err();
            }
            failed |= w.flush().is_err();
            if failed {
                tracing::error!("audit events could not be written to the log sink");
            }
        }
        batch.clear();
    }
}

//! Runs planned statements on a service's pool and assembles the records' JSON from the
//! per-key JSON texts PostgreSQL produced. The only stage that touches a service database.

use sqlx::{PgConnection, Row};

use std::collections::HashMap;
use std::fmt::Write as _;

use super::nested::{Link, Source, Step, StepAction};
use super::plan::{Bound, Output, ReadPlan, TextForm, encode_cursor};
use super::routine::{CallPlan, Returns};
use super::sql;
use super::write::{BatchMode, RecordError, WriteError, WriteOp, WritePlan, WriteValue};
use crate::services::ConnPool;
use crate::services::pipe::Answer;
use crate::services::pool::PoolError;
use crate::statement::Statement;

/// The records of a read, each a JSON object's text, in order.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub records: Records,
    /// More rows match beyond `limit`.
    pub has_more: bool,
    /// Where the next page starts (keyset paging), when more rows remain.
    pub next_cursor: Option<String>,
}

/// Records' JSON texts one after another in one buffer, separated by commas as they go into
/// a list's array: a page of rows is written into one allocation and copied once into the
/// response, where a `String` each cost an allocation and a copy per row.
#[derive(Debug, Default)]
pub struct Records {
    /// The records joined by `,`.
    joined: String,
    /// Where each record ends in `joined`.
    ends: Vec<usize>,
}

impl Records {
    /// How many records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Each record's text.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let record = &self.joined[start..end];
            start = end + 1;
            record
        })
    }

    /// The records joined by commas: the inside of a JSON array.
    #[must_use]
    pub fn joined(&self) -> &str {
        &self.joined
    }

    /// The first record.
    #[must_use]
    pub fn into_first(self) -> Option<String> {
        let end = *self.ends.first()?;
        let mut first = self.joined;
        first.truncate(end);
        Some(first)
    }

    /// Each record as a `String` of its own.
    #[must_use]
    pub fn into_vec(self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    /// Adds the record `write` writes.
    fn push(
        &mut self,
        write: impl FnOnce(&mut String) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        if !self.ends.is_empty() {
            self.joined.push(',');
        }
        write(&mut self.joined)?;
        self.ends.push(self.joined.len());
        Ok(())
    }
}

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The database refused a value (bad date, out of range…): the client's fault.
    #[error("Invalid value: {0}")]
    BadValue(String),
    /// A constraint refused the data (unique, foreign key, not null, check).
    #[error("{0}")]
    Constraint(String),
    #[error("The request took longer than the statement timeout and was cancelled.")]
    Timeout,
    #[error("The service's database login lacks a privilege for this request.")]
    Privilege,
    #[error("The service's database is unavailable.")]
    Unavailable(#[source] Cause),
    #[error("database error")]
    Database(#[source] Cause),
    /// A value came back in a form Rampart cannot decode.
    #[error("database value could not be decoded: {0}")]
    Decode(String),
    /// The request is valid but asks for something Rampart does not do.
    #[error("{0}")]
    Unsupported(String),
    /// A write would change more records than its `max_affected`.
    #[error(
        "The request would change {affected} records, more than max_affected ({max}); nothing was changed."
    )]
    TooMany { affected: usize, max: u64 },
}

/// The driver's error behind an `ExecError`, for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl ExecError {
    /// An error PostgreSQL reported, by its SQLSTATE: the client's fault, a timeout, an
    /// outage, or Rampart's.
    fn from_database(code: &str, message: &str, cause: Cause) -> Self {
        if code.starts_with("22") {
            Self::BadValue(message.to_owned())
        } else if code.starts_with("23") {
            Self::Constraint(message.to_owned())
        } else if code == "57014" {
            Self::Timeout
        } else if code.starts_with("57P") || code.starts_with("08") {
            // The server shut down or the connection was cut: try again later.
            Self::Unavailable(cause)
        } else if code == "42501" {
            Self::Privilege
        } else {
            Self::Database(cause)
        }
    }
}

impl From<sqlx::Error> for ExecError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let message = db.message().to_owned();
                Self::from_database(&code, &message, e.into())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => Self::Unavailable(e.into()),
            _ => Self::Database(e.into()),
        }
    }
}

impl From<tokio_postgres::Error> for ExecError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let (code, message) = (db.code().code().to_owned(), db.message().to_owned());
            return Self::from_database(&code, &message, e.into());
        }
        if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        {
            // The connection is gone (or never came): the pipe is replaced on the next read.
            return Self::Unavailable(e.into());
        }
        Self::Database(e.into())
    }
}

/// How a request's statements run inside PostgreSQL (defence in depth, opt-in per service):
/// as a mapped database role, with the principal exposed as transaction-local settings
/// (`rampart.user_id`, `request.jwt.claims`, …) so native row-level security applies too.
#[derive(Debug, Clone, Default)]
pub struct DbSession {
    /// `(name, value)` pairs for `set_config(name, value, true)`; `role` among them switches
    /// the database role. Empty: statements run plainly on the pool.
    pub settings: Vec<(String, String)>,
}

impl From<PoolError> for ExecError {
    fn from(e: PoolError) -> Self {
        sqlx::Error::from(e).into()
    }
}

/// Runs `body` on a connection lent by the service's pool: plainly, or inside a transaction
/// with the session's settings. The body's outcome, error or not, hands the connection back;
/// only a dropped future closes it — the client went away or an MCP call was cancelled —, and
/// PostgreSQL, seeing the socket close (`statement::watch_client`), stops the statement.
macro_rules! with_session {
    ($pool:expr, $session:expr, |$conn:ident| $body:expr) => {{
        let mut held = $pool.acquire().await?;
        let out: Result<_, ExecError> = async {
            if $session.settings.is_empty() {
                let $conn = held.conn();
                Ok($body)
            } else {
                let mut tx = sqlx::Connection::begin(held.conn()).await?;
                crate::statement::set_local(&mut tx, &$session.settings).await?;
                let out = {
                    let $conn = &mut *tx;
                    $body
                };
                tx.commit().await?;
                Ok(out)
            }
        }
        .await;
        held.release(out.is_ok()).await;
        out?
    }};
}

/// The `"key":` of each output, JSON-escaped, and the form of its text: made once per
/// statement, used for every record.
struct Keys(Vec<(String, TextForm)>);

impl Keys {
    fn of(output: &[Output]) -> Self {
        Self(
            output
                .iter()
                .map(|o| {
                    let mut k = String::with_capacity(o.key.len() + 3);
                    push_json_string(&mut k, &o.key);
                    k.push(':');
                    (k, o.expr.text_form())
                })
                .collect(),
        )
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// One record's JSON from the per-output texts in the first columns of a row, read in
    /// place.
    fn record(&self, row: &impl TextRow) -> Result<String, ExecError> {
        let mut record = String::with_capacity(self.size_hint());
        self.write(row, &mut record)?;
        Ok(record)
    }

    /// About how long a record is: its keys and a short value each.
    fn size_hint(&self) -> usize {
        self.0.iter().map(|(k, _)| k.len() + 16).sum::<usize>() + 2
    }

    /// Writes one record's JSON (as [`Keys::record`]) at the end of `record`.
    fn write(&self, row: &impl TextRow, record: &mut String) -> Result<(), ExecError> {
        record.push('{');
        for (i, (k, form)) in self.0.iter().enumerate() {
            if i > 0 {
                record.push(',');
            }
            record.push_str(k);
            match (row.text(i)?, form) {
                (None, _) => record.push_str("null"),
                (Some(v), TextForm::Json) => record.push_str(v),
                (Some(v), TextForm::Number) if is_json_number(v) => record.push_str(v),
                (Some(v), TextForm::Quoted | TextForm::Number) => push_json_string(record, v),
            }
        }
        record.push('}');
        Ok(())
    }

    /// The keyset values that follow a row's outputs, for the next page's cursor.
    fn cursor(&self, row: &impl TextRow, keys: usize) -> Result<Vec<Option<String>>, ExecError> {
        (0..keys)
            .map(|j| Ok(row.text(self.len() + j)?.map(str::to_owned)))
            .collect()
    }
}

/// A row of a read, whose columns are all text (`sql::read` casts each), from either kind of
/// connection.
trait TextRow {
    fn text(&self, i: usize) -> Result<Option<&str>, ExecError>;
}

impl TextRow for sqlx::postgres::PgRow {
    /// The driver's per-value type check is skipped; the text is still checked as UTF-8.
    fn text(&self, i: usize) -> Result<Option<&str>, ExecError> {
        Ok(self.try_get_unchecked::<Option<&str>, _>(i)?)
    }
}

impl TextRow for tokio_postgres::Row {
    fn text(&self, i: usize) -> Result<Option<&str>, ExecError> {
        Ok(self.try_get::<_, Option<&str>>(i)?)
    }
}

/// Whether PostgreSQL's text of a numeric or floating-point value is a JSON number: every
/// such text is, except `NaN`, `Infinity` and `-Infinity`, which `to_json` quotes.
fn is_json_number(v: &str) -> bool {
    match v.as_bytes() {
        [b'-', d, ..] | [d, ..] => d.is_ascii_digit(),
        [] => false,
    }
}

/// Appends `s` as a JSON string, escaped as PostgreSQL's `to_json` escapes it: `"`, `\\`
/// and control characters.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if short.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Runs a read: a short read of a table without a database session pipelined (see
/// `ReadPlan::pipelined` and `services::pipe`), anything else, and a short read the pipe
/// found too slow, on a lent connection.
pub async fn read(
    pool: &ConnPool,
    session: &DbSession,
    plan: &ReadPlan,
) -> Result<ReadResult, ExecError> {
    let mut stmt = Statement::postgres(&sql::read(plan));
    if plan.pipelined && session.settings.is_empty() {
        match piped(pool, stmt).await? {
            Ok(rows) => return assemble(plan, &rows),
            Err(back) => stmt = back,
        }
    }
    let rows = with_session!(pool, session, |conn| stmt.pg().fetch_all(conn).await?);
    assemble(plan, &rows)
}

/// Runs a read statement on a pipelined connection when the pool has pipes; else, or when
/// the pipe found the statement too slow for it, hands the statement back. A pipe found
/// closed is replaced and the read sent again once: it changes nothing, so running it twice
/// is harmless.
async fn piped(
    pool: &ConnPool,
    stmt: Statement,
) -> Result<Result<Vec<tokio_postgres::Row>, Statement>, ExecError> {
    let Some(mut pipe) = pool.pipe().await? else {
        return Ok(Err(stmt));
    };
    let piped = match stmt.into_pipelined() {
        Ok(piped) => piped,
        Err(stmt) => return Ok(Err(stmt)),
    };
    let answer = match pipe.query(&piped).await {
        // A read changes nothing: sent again on a fresh pipe when this one was lost.
        Err(e) if pipe.is_closed() || lost(&e) => {
            let Some(fresh) = pool.pipe().await? else {
                return Err(ExecError::Unavailable(
                    "the service's pool is closed".into(),
                ));
            };
            pipe = fresh;
            pipe.query(&piped).await?
        }
        out => out?,
    };
    Ok(match answer {
        Answer::Rows(rows) => Ok(rows),
        Answer::TooSlow => Err(piped.into_statement()),
    })
}

/// Whether an error says the connection ended: closed under the statement, or PostgreSQL's
/// notice that it is ending it (an administrator's `pg_terminate_backend`, a shutdown), which
/// can arrive before the pipe sees the connection close.
fn lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code()
            .is_some_and(|c| matches!(c.code(), "57P01" | "57P02" | "57P03"))
}

/// A read's records from its rows: the first `limit`, and the cursor of the last when more
/// follow.
fn assemble(plan: &ReadPlan, rows: &[impl TextRow]) -> Result<ReadResult, ExecError> {
    let limit = usize::try_from(plan.limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    let keys = Keys::of(&plan.output);
    let kept = rows.len().min(limit);
    let mut result = ReadResult {
        records: Records {
            joined: String::with_capacity(kept * (keys.size_hint() + 1)),
            ends: Vec::with_capacity(kept),
        },
        has_more,
        next_cursor: None,
    };
    let key_count = plan.keyset.as_ref().map_or(0, |k| k.columns.len());
    for (n, row) in rows.iter().take(limit).enumerate() {
        result.records.push(|out| keys.write(row, out))?;
        if has_more && n + 1 == limit && key_count > 0 {
            result.next_cursor = Some(encode_cursor(&keys.cursor(row, key_count)?));
        }
    }
    Ok(result)
}

/// Reads of more rows than this are streamed to the client as PostgreSQL produces them.
pub const STREAM_FROM_ROWS: u64 = 1000;

/// A piece of a streamed read.
#[derive(Debug)]
pub enum Streamed {
    /// One record's JSON text.
    Record(String),
    /// The end: whether more rows match, and where the next page starts.
    End {
        has_more: bool,
        next_cursor: Option<String>,
    },
}

/// Runs a read whose records are sent one by one as PostgreSQL produces them, so a large
/// export never sits in memory whole. A bounded channel carries them: a slow client slows the
/// query down instead of filling memory, and a client gone stops it.
pub fn read_streamed(
    pool: &ConnPool,
    session: &DbSession,
    plan: &ReadPlan,
) -> tokio::sync::mpsc::Receiver<Result<Streamed, ExecError>> {
    use futures_util::TryStreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let pool = pool.clone();
    let settings = session.settings.clone();
    let stmt = Statement::postgres(&sql::read(plan));
    let keys = Keys::of(&plan.output);
    let limit = usize::try_from(plan.limit).unwrap_or(usize::MAX);
    let key_count = plan.keyset.as_ref().map_or(0, |k| k.columns.len());
    tokio::spawn(async move {
        let sender = tx.clone();
        let run = async move {
            let mut held = pool.acquire().await?;
            let mut conn = sqlx::Connection::begin(held.conn()).await?;
            if !settings.is_empty() {
                crate::statement::set_local(&mut conn, &settings).await?;
            }
            let mut rows = stmt.pg().fetch(&mut *conn);
            let (mut sent, mut has_more, mut last_keys) = (0, false, None);
            while let Some(row) = rows.try_next().await? {
                if sent == limit {
                    has_more = true;
                    break;
                }
                let record = keys.record(&row)?;
                if key_count > 0 && sent + 1 == limit {
                    last_keys = Some(keys.cursor(&row, key_count)?);
                }
                if sender.send(Ok(Streamed::Record(record))).await.is_err() {
                    // The client is gone: the dropped connection closes, which stops the query.
                    return Ok(());
                }
                sent += 1;
            }
            drop(rows);
            conn.commit().await?;
            held.release(true).await;
            let next_cursor = has_more
                .then(|| last_keys.as_deref().map(encode_cursor))
                .flatten();
            let _ = sender
                .send(Ok(Streamed::End {
                    has_more,
                    next_cursor,
                }))
                .await;
            Ok::<(), ExecError>(())
        };
        if let Err(e) = run.await {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

/// Counts the rows a read's condition matches.
pub async fn count(
    pool: &ConnPool,
    session: &DbSession,
    plan: &ReadPlan,
) -> Result<i64, ExecError> {
    let stmt = sql::count(&plan.table, plan.condition.as_ref());
    let row = with_session!(pool, session, |conn| Statement::postgres(&stmt)
        .pg()
        .fetch_one(conn)
        .await?);
    Ok(row.try_get(0)?)
}

/// Why one operation of a write failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Refused(WriteError),
    #[error("Record with identifier '{0}' not found.")]
    NotFound(String),
    #[error("The record would fall outside the rows your role may write.")]
    RowFilter,
    #[error(transparent)]
    Exec(ExecError),
}

/// The outcome of a write: per operation, the records it returned or why it failed.
#[derive(Debug)]
pub struct WriteOutcome {
    pub results: Vec<Result<Vec<String>, OpError>>,
    /// False when `rollback` undid everything.
    pub committed: bool,
}

/// Runs a write in one transaction, each operation in a savepoint: a failed operation leaves
/// nothing of itself; the batch mode decides whether the others stay.
pub async fn write(
    pool: &ConnPool,
    session: &DbSession,
    plan: &WritePlan,
    refused: Vec<RecordError>,
) -> Result<WriteOutcome, ExecError> {
    let one_statement = matches!(plan.ops.as_slice(), [op] if op_is_one_statement(op))
        && refused.is_empty()
        && session.settings.is_empty()
        && plan.check.is_none()
        && plan.max_affected.is_none();
    if one_statement {
        // PostgreSQL makes a single statement atomic: no transaction, one round trip.
        let mut held = pool.acquire().await?;
        let outcome = run_op(held.conn(), plan, &plan.ops[0]).await;
        held.release(outcome.is_ok()).await;
        let committed = outcome.is_ok() || plan.mode != BatchMode::Rollback;
        return Ok(WriteOutcome {
            results: vec![outcome],
            committed,
        });
    }
    let mut held = pool.acquire().await?;
    let out = write_in_transaction(held.conn(), session, plan, refused).await;
    held.release(out.is_ok()).await;
    out
}

async fn write_in_transaction(
    conn: &mut PgConnection,
    session: &DbSession,
    plan: &WritePlan,
    refused: Vec<RecordError>,
) -> Result<WriteOutcome, ExecError> {
    let mut refused: std::collections::HashMap<usize, WriteError> =
        refused.into_iter().map(|r| (r.index, r.error)).collect();
    let mut tx = sqlx::Connection::begin(conn).await?;
    if !session.settings.is_empty() {
        crate::statement::set_local(&mut tx, &session.settings).await?;
    }
    let mut results = Vec::with_capacity(plan.ops.len());
    let mut failed = false;
    // With one operation the transaction is its savepoint.
    let alone = plan.ops.len() == 1;
    for (i, op) in plan.ops.iter().enumerate() {
        let outcome = match refused.remove(&i) {
            Some(e) => Err(OpError::Refused(e)),
            None if alone => run_op(&mut tx, plan, op).await,
            None => {
                let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                let outcome = run_op(&mut savepoint, plan, op).await;
                if outcome.is_ok() {
                    savepoint.commit().await?;
                } else {
                    savepoint.rollback().await?;
                }
                outcome
            }
        };
        failed |= outcome.is_err();
        let stop = outcome.is_err() && plan.mode != BatchMode::Continue;
        results.push(outcome);
        if stop {
            break;
        }
    }
    if let Some(max) = plan.max_affected {
        let affected: usize = results.iter().flatten().map(Vec::len).sum();
        if u64::try_from(affected).unwrap_or(u64::MAX) > max {
            tx.rollback().await?;
            return Err(ExecError::TooMany { affected, max });
        }
    }
    let committed = !(failed && plan.mode == BatchMode::Rollback);
    if committed && !(alone && failed) {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(WriteOutcome { results, committed })
}

/// Whether an operation is one statement (no related records written with it).
fn op_is_one_statement(op: &WriteOp) -> bool {
    match op {
        WriteOp::Insert { nested, .. } | WriteOp::Update { nested, .. } => nested.is_empty(),
        WriteOp::Delete { .. } | WriteOp::Upsert { .. } => true,
    }
}

/// The text values of a row's columns, by name (what nested steps read of each other).
type RowValues = HashMap<String, Option<String>>;

async fn fetch(
    conn: &mut sqlx::PgConnection,
    stmt: sql::WriteStatement,
) -> Result<Vec<sqlx::postgres::PgRow>, OpError> {
    stmt.statement()
        .pg()
        .fetch_all(conn)
        .await
        .map_err(|e| OpError::Exec(e.into()))
}

/// Runs one operation with its related records: the `before` steps, the record (taking
/// their keys), then the `after` steps (taking its key). Any failure fails the whole
/// operation, which the caller's savepoint undoes.
async fn run_op(
    conn: &mut sqlx::PgConnection,
    plan: &WritePlan,
    op: &WriteOp,
) -> Result<Vec<String>, OpError> {
    let nested = match op {
        WriteOp::Insert { nested, .. } | WriteOp::Update { nested, .. } if !nested.is_empty() => {
            nested
        }
        _ => {
            let rows = fetch(conn, sql::write(plan, op)).await?;
            return written(&rows, plan, op);
        }
    };
    let none = RowValues::new();
    let mut before = Vec::with_capacity(nested.before.len());
    for step in &nested.before {
        let values = linked(&step.links, &none, &before, &[]);
        before.push(run_step(conn, step, &values).await?);
    }
    let mut op = op.clone();
    if let WriteOp::Insert { values, .. } | WriteOp::Update { values, .. } = &mut op {
        values.extend(linked(&nested.fills, &none, &before, &[]));
    }
    let rows = fetch(conn, sql::write(plan, &op)).await?;
    let records = written(&rows, plan, &op)?;
    let row = rows.first().ok_or(OpError::RowFilter)?;
    let base = plan.returning.len() + 1;
    let mut record = RowValues::new();
    for (k, c) in nested.record_columns().into_iter().enumerate() {
        let v: Option<String> = row.try_get(base + k).map_err(|e| OpError::Exec(e.into()))?;
        record.insert(c, v);
    }
    let mut after = Vec::with_capacity(nested.after.len());
    for step in &nested.after {
        let values = linked(&step.links, &record, &before, &after);
        after.push(run_step(conn, step, &values).await?);
    }
    Ok(records)
}

/// The values of links, read from the rows written before.
fn linked(
    links: &[Link],
    record: &RowValues,
    before: &[RowValues],
    after: &[RowValues],
) -> Vec<(String, WriteValue)> {
    links
        .iter()
        .map(|l| {
            let row = match l.from {
                Source::Record => Some(record),
                Source::Before(i) => before.get(i),
                Source::After(i) => after.get(i),
            };
            let value = match row.and_then(|r| r.get(&l.source).cloned().flatten()) {
                Some(text) => WriteValue::Text(Bound {
                    text,
                    type_schema: l.type_schema.clone(),
                    type_name: l.type_name.clone(),
                    value_type: l.value_type,
                }),
                None => WriteValue::Null {
                    type_schema: l.type_schema.clone(),
                    type_name: l.type_name.clone(),
                },
            };
            (l.column.clone(), value)
        })
        .collect()
}

/// Runs a nested step: its row must exist and pass its table's row filter.
async fn run_step(
    conn: &mut sqlx::PgConnection,
    step: &Step,
    linked: &[(String, WriteValue)],
) -> Result<RowValues, OpError> {
    let mut rows = fetch(conn, sql::step(step, linked)).await?;
    if let (
        true,
        StepAction::Update {
            or_insert: Some(values),
            ..
        },
    ) = (rows.is_empty(), &step.action)
    {
        let insert = Step {
            action: StepAction::Insert(values.clone()),
            ..step.clone()
        };
        rows = fetch(conn, sql::step(&insert, linked)).await?;
    }
    let Some(row) = rows.first() else {
        return match &step.action {
            // The same link exists already.
            StepAction::Link => Ok(RowValues::new()),
            StepAction::Update { id, .. } | StepAction::Find { id, .. } => {
                Err(OpError::NotFound(id.clone()))
            }
            StepAction::Insert(_) => Err(OpError::RowFilter),
        };
    };
    let ok: Option<bool> = row.try_get(0).map_err(|e| OpError::Exec(e.into()))?;
    if ok != Some(true) {
        return Err(OpError::RowFilter);
    }
    let mut values = RowValues::new();
    for (k, c) in step.returns.iter().enumerate() {
        let v: Option<String> = row.try_get(1 + k).map_err(|e| OpError::Exec(e.into()))?;
        values.insert(c.clone(), v);
    }
    Ok(values)
}

/// The records an operation returned, after its row-filter check and its 404.
fn written(
    rows: &[sqlx::postgres::PgRow],
    plan: &WritePlan,
    op: &WriteOp,
) -> Result<Vec<String>, OpError> {
    let checked = !matches!(op, WriteOp::Delete { .. });
    let mut records = Vec::with_capacity(rows.len());
    let keys = Keys::of(&plan.returning);
    for row in rows {
        if checked {
            let ok: Option<bool> = row
                .try_get(plan.returning.len())
                .map_err(|e| OpError::Exec(e.into()))?;
            if ok != Some(true) {
                return Err(OpError::RowFilter);
            }
        }
        records.push(keys.record(row).map_err(OpError::Exec)?);
    }
    match op {
        WriteOp::Update { id: Some(id), .. }
        | WriteOp::Delete { id: Some(id), .. }
        | WriteOp::Upsert { id, .. }
            if records.is_empty() =>
        {
            Err(OpError::NotFound(id.clone()))
        }
        _ => Ok(records),
    }
}

/// What a call returned: JSON texts of its records, one value, or nothing.
#[derive(Debug)]
pub enum CallResult {
    Rows(Vec<String>),
    Scalar(String),
    Nothing,
    /// A procedure's OUT arguments: a JSON object's text.
    OutArgs(String),
}

/// Runs a call in a transaction whose `search_path` is the routine's schema only (with
/// `pg_temp` last), so its unqualified name and what it references resolve there.
pub async fn call(
    pool: &ConnPool,
    session: &DbSession,
    plan: &CallPlan,
) -> Result<CallResult, ExecError> {
    let mut settings = session.settings.clone();
    settings.push((
        "search_path".into(),
        format!("\"{}\", pg_temp", plan.schema.replace('"', "\"\"")),
    ));
    let mut stmt = Statement::postgres(&sql::call(plan));
    if matches!(plan.returns, Returns::Nothing | Returns::OutArgs) {
        stmt = stmt.into_call();
    }
    let mut held = pool.acquire().await?;
    let rows = async {
        let mut tx = sqlx::Connection::begin(held.conn()).await?;
        crate::statement::set_local(&mut tx, &settings).await?;
        let rows = stmt.pg().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(rows)
    }
    .await;
    held.release(rows.is_ok()).await;
    let rows = rows?;
    let text = |row: &sqlx::postgres::PgRow| -> Result<String, ExecError> {
        Ok(row
            .try_get::<Option<String>, _>(0)?
            .unwrap_or_else(|| "null".into()))
    };
    Ok(match plan.returns {
        Returns::Rows => CallResult::Rows(rows.iter().map(text).collect::<Result<_, _>>()?),
        Returns::Scalar => CallResult::Scalar(
            rows.first()
                .map(text)
                .transpose()?
                .unwrap_or_else(|| "null".into()),
        ),
        Returns::Nothing => CallResult::Nothing,
        Returns::OutArgs => CallResult::OutArgs(match rows.first() {
            Some(row) => out_args(row)?,
            None => "{}".into(),
        }),
    })
}

/// The row a `CALL` answers with, as a JSON object. `CALL` cannot be wrapped in a `SELECT`,
/// so PostgreSQL cannot build the JSON: each value is decoded from its binary form here.
fn out_args(row: &sqlx::postgres::PgRow) -> Result<String, ExecError> {
    use sqlx::{Column, TypeInfo, ValueRef};
    let mut fields = Vec::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name().to_owned();
        let raw = row.try_get_raw(i)?;
        let ty = raw.type_info().name().to_owned();
        let value: serde_json::Value = if raw.is_null() {
            serde_json::Value::Null
        } else {
            match ty.as_str() {
                "BOOL" => row.try_get::<bool, _>(i)?.into(),
                "INT2" => row.try_get::<i16, _>(i)?.into(),
                "INT4" => row.try_get::<i32, _>(i)?.into(),
                "INT8" => row.try_get::<i64, _>(i)?.into(),
                "FLOAT4" => row.try_get::<f32, _>(i)?.into(),
                "FLOAT8" => row.try_get::<f64, _>(i)?.into(),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => {
                    row.try_get::<String, _>(i)?.into()
                }
                "JSON" | "JSONB" => row.try_get::<serde_json::Value, _>(i)?,
                "UUID" => row.try_get::<uuid::Uuid, _>(i)?.to_string().into(),
                "DATE" => row.try_get::<chrono::NaiveDate, _>(i)?.to_string().into(),
                "TIMESTAMP" => row
                    .try_get::<chrono::NaiveDateTime, _>(i)?
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string()
                    .into(),
                "TIMESTAMPTZ" => row
                    .try_get::<chrono::DateTime<chrono::Utc>, _>(i)?
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    .into(),
                "NUMERIC" => {
                    let bytes = raw
                        .as_bytes()
                        .map_err(|e| ExecError::Decode(e.to_string()))?;
                    // Kept as digits, so none is lost to a float.
                    let text = numeric_text(bytes)
                        .ok_or_else(|| ExecError::Decode("malformed numeric".into()))?;
                    fields.push((name, text));
                    continue;
                }
                other => {
                    return Err(ExecError::Unsupported(format!(
                        "OUT parameter '{name}' has type {other}, which Rampart cannot return from a procedure yet; return it from a function instead."
                    )));
                }
            }
        };
        fields.push((name, value.to_string()));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", serde_json::Value::from(name.as_str())))
        .collect();
    Ok(format!("{{{}}}", body.join(",")))
}

/// PostgreSQL's binary `numeric` as JSON number text (`NaN` and infinities as strings).
fn numeric_text(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*b.get(2 * i)?, *b.get(2 * i + 1)?]))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = usize::from(word(3)?);
    let digits: Vec<u16> = (0..ndigits).map(|k| word(4 + k)).collect::<Option<_>>()?;
    match sign {
        0xC000 => return Some("\"NaN\"".into()),
        0xD000 => return Some("\"Infinity\"".into()),
        0xF000 => return Some("\"-Infinity\"".into()),
        _ => {}
    }
    let at = |idx: i64| -> u16 {
        usize::try_from(idx)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        out.push_str(&at(0).to_string());
        for idx in 1..=weight {
            out.push_str(&format!("{:04}", at(idx)));
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut idx = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", at(idx)));
            idx += 1;
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{is_json_number, numeric_text, push_json_string};

    #[test]
    fn records_keep_each_text_and_join_them_with_commas() {
        let mut records = super::Records::default();
        assert!(records.is_empty() && records.joined().is_empty());
        assert_eq!(records.iter().count(), 0);
        let texts = [r#"{"a":1}"#, r#"{"b":"x,y"}"#, "{}"];
        for text in texts {
            records
                .push(|out| {
                    out.push_str(text);
                    Ok(())
                })
                .unwrap();
        }
        assert_eq!(records.len(), 3);
        assert_eq!(records.joined(), r#"{"a":1},{"b":"x,y"},{}"#);
        assert_eq!(records.iter().collect::<Vec<_>>(), texts);
        assert_eq!(records.into_first().as_deref(), Some(texts[0]));
        assert_eq!(super::Records::default().into_first(), None);
    }

    #[test]
    fn strings_are_escaped_as_to_json_escapes_them() {
        let mut every_ascii = String::new();
        for b in 1u8..0x80 {
            every_ascii.push(char::from(b));
        }
        for s in [
            "",
            "plain",
            "é ✓ 😀 \u{2028}",
            "a\"b\\c\n\r\t\u{8}\u{c}",
            &every_ascii,
        ] {
            let mut out = String::from("x");
            push_json_string(&mut out, s);
            let back: String = serde_json::from_str(&out[1..]).expect("valid JSON string");
            assert_eq!(back, s);
        }
        let mut out = String::new();
        push_json_string(&mut out, "\u{1}\u{1f}\u{7f}\"");
        assert_eq!(
            out, "\"\\u0001\\u001f\u{7f}\\\"\"",
            "lower-case hex, DEL as is"
        );
    }

    #[test]
    fn only_finite_numbers_stay_bare() {
        for n in ["0", "-0", "12.50", "-0.0012", "1e+30", "1.5e-300"] {
            assert!(is_json_number(n), "{n}");
        }
        for n in ["NaN", "Infinity", "-Infinity", "", "-"] {
            assert!(!is_json_number(n), "{n}");
        }
    }

    fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [digits.len() as u16, weight as u16, sign, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn binary_numerics_become_exact_json_numbers() {
        let cases = [
            (numeric(0, 0, 2, &[230]), "230.00"),
            (numeric(-1, 0, 4, &[12]), "0.0012"),
            (numeric(-2, 0, 6, &[1200]), "0.000012"),
            (numeric(1, 0x4000, 1, &[1, 0, 5000]), "-10000.5"),
            (numeric(2, 0, 0, &[7]), "700000000"),
            (numeric(0, 0, 0, &[]), "0"),
            (numeric(0, 0xC000, 0, &[]), "\"NaN\""),
        ];
        for (bytes, text) in cases {
            assert_eq!(numeric_text(&bytes).as_deref(), Some(text));
        }
        assert_eq!(numeric_text(&[0, 1]), None, "truncated input");
    }
}

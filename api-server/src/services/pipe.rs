//! Pipelined reads: the statements of many requests in flight on one connection.
//!
//! On an exclusive connection (the pool's sqlx connections) a request sends its statement and
//! the connection waits for the answer before the next request may use it: PostgreSQL wakes
//! for every statement, and each costs both sides a round of system calls. A [`Pipe`] is one
//! tokio-postgres connection whose client sends each statement as soon as a request asks,
//! without waiting for the answers before it; PostgreSQL reads several at a time and answers
//! them in order, so the per-statement overhead is shared by the requests in flight.
//!
//! What runs here: reads of a table, with no related records but each row's `belongs_to` ones
//! (one record a row), of at most `query::plan::PIPELINE_ROWS` rows (`ReadPlan::pipelined`: a
//! row by its primary key, a short page of a list), for requests without a database session
//! (`DbSession`). On a shared connection a slow statement holds up every statement queued
//! behind it, so a pipe runs each statement under a time limit of its own,
//! [`STATEMENT_TIMEOUT`], far below the service's:
//! a read that outlasts it (a filter that scans, a table locked by a migration) is cancelled
//! by PostgreSQL, the request runs it again on an exclusive connection under the service's
//! limit (a read changes nothing), and the pipe sends that statement text to exclusive
//! connections for the next [`SLOW_FOR`]. So no read holds a pipe up for longer than the
//! limit, and one that cannot meet it costs the pipe that once a minute. Views, related
//! records, longer pages, counts, writes, transactions, session settings and streamed exports
//! take an exclusive connection.
//!
//! A request dropped while its statement runs leaves the statement to finish (its rows are
//! discarded when they arrive): other requests share the connection, so closing it, which is
//! how an exclusive connection stops a statement, is not an option; the time limit ends it
//! soon enough.
//!
//! A pipe runs only [`Piped`] statements, which only `statement` makes from sea-query's
//! output, and only with the extended protocol (one statement per Parse); it has no way to
//! send a bare string.
//!
//! Each pipe keeps its prepared statements, at most [`STATEMENTS`], the least recently used
//! closed first.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};

use super::tls::Connector;
use crate::statement::Piped;

/// Prepared statements a pipe keeps.
pub const STATEMENTS: usize = 100;

/// How long a statement may run on a pipe (PostgreSQL's `statement_timeout` on the pipe's
/// connection, wall-clock time): a lookup by key or a short page takes well under a
/// millisecond of work, but on a busy machine its backend may wait tens of milliseconds for
/// a core or for the pipe's reader, and a statement cut short needlessly stays off the pipe
/// for a minute. A hundred bounds how long one read holds up the reads behind it.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_millis(100);

/// How long a statement that outlasted [`STATEMENT_TIMEOUT`] stays off the pipe before it is
/// tried there again.
pub const SLOW_FOR: Duration = Duration::from_secs(60);

/// Where and how a service's pipes connect: the exclusive connections' options (host,
/// login, database, TLS, `statement_timeout`, time zone), for tokio-postgres.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: Connector,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").finish_non_exhaustive()
    }
}

impl Target {
    /// From the exclusive connections' options and the secrets they do not give back: the
    /// password, and the CA (PEM text) trusted by `verify-ca` / `verify-full`.
    pub fn new(
        options: &PgConnectOptions,
        password: Option<&str>,
        root_pem: Option<&[u8]>,
        connect_timeout: Duration,
    ) -> Result<Self, String> {
        let mut config = tokio_postgres::Config::new();
        match options.get_socket() {
            Some(dir) => config.host_path(dir),
            None => config.host(options.get_host()),
        };
        config
            .port(options.get_port())
            .user(options.get_username())
            .connect_timeout(connect_timeout)
            .ssl_mode(match options.get_ssl_mode() {
                PgSslMode::Disable => tokio_postgres::config::SslMode::Disable,
                PgSslMode::Allow | PgSslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => {
                    tokio_postgres::config::SslMode::Require
                }
            });
        if let Some(db) = options.get_database() {
            config.dbname(db);
        }
        if let Some(name) = options.get_application_name() {
            config.application_name(name);
        }
        // The exclusive connections' settings, then the pipe's own time limit (PostgreSQL
        // applies a setting given twice in the order given: the last one holds).
        let limit = format!("-c statement_timeout={}", STATEMENT_TIMEOUT.as_millis());
        config.options(&match options.get_options() {
            Some(settings) => format!("{settings} {limit}"),
            None => limit,
        });
        if let Some(password) = password {
            config.password(password);
        }
        Ok(Self {
            config,
            tls: Connector::new(options.get_ssl_mode(), root_pem)?,
        })
    }
}

/// One pipelined connection and its prepared statements.
pub struct Pipe {
    client: tokio_postgres::Client,
    statements: Mutex<Statements>,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe")
            .field("closed", &self.client.is_closed())
            .finish_non_exhaustive()
    }
}

/// Prepared statements by SQL text, each with when it was last used; and the statement texts
/// that outlasted the pipe's time limit, with when they may be tried again.
#[derive(Default)]
struct Statements {
    by_sql: HashMap<String, (tokio_postgres::Statement, u64)>,
    clock: u64,
    slow: HashMap<String, Instant>,
}

impl Statements {
    /// Whether `sql` outlasted the time limit less than [`SLOW_FOR`] ago. Only its own entry
    /// is looked at (and dropped once expired): this runs for every read on the pipe.
    fn is_slow(&mut self, sql: &str) -> bool {
        match self.slow.get(sql) {
            None => false,
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                self.slow.remove(sql);
                false
            }
        }
    }

    /// Keeps `sql` off the pipe for [`SLOW_FOR`]. The texts remembered are bounded as the
    /// prepared statements are: the one that expires first makes room.
    fn set_slow(&mut self, sql: &str) {
        if self.slow.len() >= STATEMENTS
            && let Some(first) = self
                .slow
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| k.clone())
        {
            self.slow.remove(&first);
        }
        self.slow.insert(sql.to_owned(), Instant::now() + SLOW_FOR);
    }

    fn get(&mut self, sql: &str) -> Option<tokio_postgres::Statement> {
        self.clock += 1;
        let clock = self.clock;
        self.by_sql.get_mut(sql).map(|(s, used)| {
            *used = clock;
            s.clone()
        })
    }

    fn put(&mut self, sql: &str, statement: tokio_postgres::Statement) {
        if self.by_sql.len() >= STATEMENTS
            && let Some(oldest) = self
                .by_sql
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            // Dropping the last handle of a statement closes it on the server.
            self.by_sql.remove(&oldest);
        }
        self.clock += 1;
        self.by_sql.insert(sql.to_owned(), (statement, self.clock));
    }
}

impl Pipe {
    /// Opens a connection; its I/O runs as a task on the current runtime until every handle
    /// to the pipe is dropped or the connection fails.
    pub async fn connect(target: &Target) -> Result<Self, tokio_postgres::Error> {
        let (client, connection) = target.config.connect(target.tls.clone()).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "pipelined connection closed");
            }
        });
        Ok(Self {
            client,
            statements: Mutex::new(Statements::default()),
        })
    }

    /// The connection failed or was closed: the pipe is of no more use.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Prepared statements kept.
    #[must_use]
    pub fn prepared(&self) -> usize {
        self.statements().by_sql.len()
    }

    fn statements(&self) -> std::sync::MutexGuard<'_, Statements> {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one statement and returns all its rows, or [`Answer::TooSlow`] when it outlasted
    /// the pipe's time limit, now or less than [`SLOW_FOR`] ago. The statement is prepared
    /// once, with the parameters' types declared as the exclusive connections declare them;
    /// one that the schema changed under is prepared again.
    pub async fn query(&self, statement: &Piped) -> Result<Answer, tokio_postgres::Error> {
        let sql = statement.sql();
        let out = self.run(statement).await;
        match out {
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {
                // Nothing but the pipe's `statement_timeout` cancels a statement on a pipe.
                tracing::info!(
                    sql,
                    "a read outlasted the pipelined connection's time limit: it runs on \
                     connections of its own for the next minute"
                );
                self.statements().set_slow(sql);
                Ok(Answer::TooSlow)
            }
            out => out,
        }
    }

    async fn run(&self, statement: &Piped) -> Result<Answer, tokio_postgres::Error> {
        let (sql, params) = (statement.sql(), statement.params());
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let cached = {
            let mut statements = self.statements();
            if statements.is_slow(sql) {
                return Ok(Answer::TooSlow);
            }
            statements.get(sql)
        };
        if let Some(statement) = cached
            && fits(statement.params(), params)
        {
            match self.client.query(&statement, &refs).await {
                Err(e) if is_stale(&e) => {
                    self.statements().by_sql.remove(sql);
                }
                out => return out.map(Answer::Rows),
            }
        }
        let types: Vec<Type> = params.iter().map(|p| p.ty.clone()).collect();
        let statement = self.client.prepare_typed(sql, &types).await?;
        self.statements().put(sql, statement.clone());
        self.client.query(&statement, &refs).await.map(Answer::Rows)
    }
}

/// What a pipe made of a statement.
#[derive(Debug)]
pub enum Answer {
    /// Its rows.
    Rows(Vec<tokio_postgres::Row>),
    /// It outlasted the pipe's time limit (now, or recently and not run again): it must run
    /// on an exclusive connection.
    TooSlow,
}

/// Whether a statement prepared earlier takes these values: each declared with the type the
/// statement has, or `unknown` (the statement's type is what PostgreSQL inferred for it).
fn fits(prepared: &[Type], params: &[Param]) -> bool {
    prepared.len() == params.len()
        && prepared
            .iter()
            .zip(params)
            .all(|(t, p)| p.ty == Type::UNKNOWN || *t == p.ty)
}

/// A prepared statement that no longer fits the schema: its result's shape changed (a
/// column's type altered) or the server forgot it.
fn is_stale(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::FEATURE_NOT_SUPPORTED || *c == SqlState::INVALID_SQL_STATEMENT_NAME
    })
}

/// A bound value, sent as text with its declared type (PostgreSQL parses it as that type's
/// input, as it does a binary value of the type).
#[derive(Debug, Clone)]
pub struct Param {
    ty: Type,
    text: Option<String>,
}

impl Param {
    /// A `text` value.
    #[must_use]
    pub fn text(value: Option<String>) -> Self {
        Self {
            ty: Type::TEXT,
            text: value,
        }
    }

    /// A value of a built-in type written as its text, e.g. `int8` and `"42"`.
    #[must_use]
    pub fn typed(ty: Type, text: Option<String>) -> Self {
        Self { ty, text }
    }
}

impl ToSql for Param {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.text {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    /// The statement was prepared with this parameter's own type.
    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

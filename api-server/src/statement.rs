//! The one reviewed door through which SQL text reaches the driver.
//!
//! Architecture invariant: dynamic SQL exists only as the output of sea-query builders
//! (identifiers quoted by sea-query, every value a bind parameter) and is sent with the
//! extended protocol, where a single statement runs. The only other SQL text is the embedded,
//! static migration scripts. `AssertSqlSafe` and `raw_sql` appear in this file and nowhere
//! else in the server (a tidy test checks it).

use std::fmt::Write as _;
use std::sync::Arc;

use sea_query::{
    Enum, InsertStatement, OptionEnum, PostgresQueryBuilder, QueryBuilder, QueryStatementBuilder,
    SqlWriter, SqliteQueryBuilder, Value, Values,
};
use sea_query_sqlx::SqlxValues;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgTypeInfo};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, AssertSqlSafe, Encode, IntoArguments, Postgres, Sqlite};
use tokio_postgres::types::Type;

use crate::services::pipe::Param;

/// sea-query's PostgreSQL writer (`$n` placeholders, values collected in order), with a
/// `LIMIT`'s row count written in place (see [`Statement::postgres`]).
#[derive(Default)]
struct PgWriter {
    sql: String,
    values: Vec<Value>,
}

impl std::fmt::Write for PgWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.sql.push_str(s);
        Ok(())
    }
}

impl std::fmt::Display for PgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)
    }
}

impl PgWriter {
    /// Takes Rampart's carried values back (see [`Typed`]): sea-query writes a
    /// `Value::Enum` as its text bound as a string followed by a cast to the enum's type
    /// (`$3::"rampart:numeric"`); the cast names no type and is removed, and the value is the
    /// carried one again.
    fn carry(&mut self) {
        const HINT: &str = "::\"rampart:";
        let mut from = 0;
        while let Some(found) = self.sql[from..].find(HINT) {
            let at = from + found;
            // `::"` + the kind + `"`.
            let tail = &self.sql[at + 3..];
            let Some(kind) = [Typed::INFERRED, Typed::NUMERIC]
                .into_iter()
                .find(|k| tail.starts_with(k) && tail[k.len()..].starts_with('"'))
            else {
                from = at + HINT.len();
                continue;
            };
            let slot = self.sql[..at]
                .rfind('$')
                .and_then(|d| self.sql[d + 1..at].parse::<usize>().ok())
                .and_then(|n| self.values.get_mut(n.wrapping_sub(1)));
            let Some(slot @ Value::String(Some(_))) = slot else {
                // Not a parameter's: left for PostgreSQL to refuse (no such type).
                from = at + HINT.len();
                continue;
            };
            if let Value::String(Some(text)) = std::mem::replace(slot, Value::String(None)) {
                *slot = carried(kind, text);
            }
            self.sql.replace_range(at..at + kind.len() + 4, "");
            from = at;
        }
    }
}

impl SqlWriter for PgWriter {
    fn push_param<T: QueryBuilder>(&mut self, value: Value, query_builder: &T) {
        if matches!(value, Value::BigUnsigned(Some(_))) && self.sql.ends_with(" LIMIT ") {
            // sea-query's `limit(u64)`: written by sea-query as the number it is.
            if query_builder.write_value(&mut self.sql, &value).is_ok() {
                return;
            }
        }
        self.values.push(value);
        let _ = write!(self.sql, "${}", self.values.len());
    }

    fn as_writer(&mut self) -> &mut dyn std::fmt::Write {
        self
    }
}

/// A statement built by sea-query: SQL text with `$n`/`?` placeholders and its bound values.
#[derive(Debug, Clone)]
pub struct Statement {
    sql: String,
    values: Values,
}

impl Statement {
    /// Renders a sea-query statement for PostgreSQL. Every value is a bind parameter except
    /// the row count of a `LIMIT`, which sea-query writes as a number literal (it is a `u64`
    /// Rampart computed, never text): PostgreSQL reuses one plan for a prepared statement only
    /// when that plan costs about what planning each execution would, and it cannot cost a
    /// plan whose `LIMIT` it does not know, so a bound limit made it plan every list again,
    /// a third of the statement's time.
    pub fn postgres(builder: &impl QueryStatementBuilder) -> Self {
        let mut writer = PgWriter::default();
        builder.build_collect_any_into(&PostgresQueryBuilder, &mut writer);
        writer.carry();
        Self {
            sql: writer.sql,
            values: Values(writer.values),
        }
    }

    /// Renders a sea-query statement for SQLite.
    pub fn sqlite(builder: &impl QueryStatementBuilder) -> Self {
        let (sql, values) = builder.build_any(&SqliteQueryBuilder);
        Self { sql, values }
    }

    /// The SQL text (for logs and snapshot tests; it holds no values).
    #[must_use]
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The values, in the order of the placeholders.
    #[must_use]
    pub fn values(&self) -> &[Value] {
        &self.values.0
    }

    /// Turns a rendered `SELECT proc(…)` into `CALL proc(…)`: sea-query has no `CALL`, and the
    /// rest of the text (the quoted name, the bound arguments) is sea-query's own.
    #[must_use]
    pub fn into_call(mut self) -> Self {
        if let Some(rest) = self.sql.strip_prefix("SELECT ") {
            self.sql = format!("CALL {rest}");
        }
        self
    }

    /// The statement for a pipelined connection ([`crate::services::pipe`]), each value
    /// declared with the type sea-query-sqlx binds it as; the statement itself when a value
    /// is of a kind sent only by sqlx.
    pub fn into_pipelined(self) -> Result<Piped, Self> {
        fn typed<T: ToString>(ty: Type, v: Option<T>) -> Option<Param> {
            Some(Param::typed(ty, v.map(|v| v.to_string())))
        }
        let params: Option<Vec<Param>> = self
            .values
            .0
            .iter()
            .map(|v| match v {
                Value::String(s) => Some(Param::text(s.clone())),
                // Text, sent as text (PostgreSQL parses it once, when the statement is bound).
                Value::Enum(OptionEnum::Some(e)) => match Typed::of(e)? {
                    Typed::Inferred => Some(Param::typed(Type::UNKNOWN, Some(e.value.to_string()))),
                    Typed::Numeric => Some(Param::typed(Type::NUMERIC, Some(e.value.to_string()))),
                },
                Value::Float(n) => typed(Type::FLOAT4, *n),
                Value::Double(n) => typed(Type::FLOAT8, *n),
                Value::Uuid(u) => typed(Type::UUID, *u),
                Value::Bool(b) => typed(Type::BOOL, *b),
                Value::SmallInt(n) => typed(Type::INT2, *n),
                Value::Int(n) => typed(Type::INT4, *n),
                Value::BigInt(n) => typed(Type::INT8, *n),
                Value::Unsigned(n) => typed(Type::INT8, *n),
                Value::BigUnsigned(n) if n.is_none_or(|n| i64::try_from(n).is_ok()) => {
                    typed(Type::INT8, *n)
                }
                _ => None,
            })
            .collect();
        match params {
            Some(params) => Ok(Piped {
                sql: self.sql,
                params,
                values: self.values,
            }),
            None => Err(self),
        }
    }

    /// A PostgreSQL query with the values bound.
    pub fn pg(self) -> sqlx::query::Query<'static, Postgres, PgValues> {
        sqlx::query_with(AssertSqlSafe(self.sql), PgValues(self.values))
    }

    /// A SQLite query with the values bound.
    pub fn lite(self) -> sqlx::query::Query<'static, Sqlite, SqlxValues> {
        sqlx::query_with(AssertSqlSafe(self.sql), SqlxValues(self.values))
    }
}

// ---------------------------------------------------------------- values in their own type

/// A value PostgreSQL should read from its text once, when the statement is bound, in the type
/// the statement gives its parameter (the `CAST` around it). Bound as text and cast in the
/// statement instead, the cast is evaluated again for every row a filter looks at, because the
/// plan PostgreSQL reuses for a prepared statement cannot fold parameters: a sequential scan
/// filtered on an enum and a `numeric` took two to three times as long. Only for types whose
/// binary form is their text (enums, text types): sqlx sends every parameter in binary.
#[must_use]
pub fn inferred(text: String) -> Value {
    carried(Typed::INFERRED, text)
}

/// A `numeric` written as a plain decimal (`-12.50`, `.5`, `7`), sent in its binary form, so
/// the parameter needs no cast; `None` for anything else (exponents, `NaN`, blanks…), which
/// the caller sends as text for PostgreSQL to read.
#[must_use]
pub fn numeric(text: &str) -> Option<Value> {
    plain_decimal(text).map(|_| carried(Typed::NUMERIC, text.to_owned()))
}

fn carried(kind: &str, text: String) -> Value {
    Value::Enum(OptionEnum::Some(Box::new(Enum {
        type_name: kind.into(),
        value: text.into(),
    })))
}

/// The values Rampart adds to sea-query's kinds, carried by sea-query as `Value::Enum` (a
/// text and a type name) between [`inferred`]/[`numeric`] and the binders below. Rampart
/// makes no other `Value::Enum`.
enum Typed {
    Inferred,
    Numeric,
}

impl Typed {
    const INFERRED: &'static str = "rampart:inferred";
    const NUMERIC: &'static str = "rampart:numeric";

    fn of(e: &Enum) -> Option<Self> {
        match &*e.type_name {
            Self::INFERRED => Some(Self::Inferred),
            Self::NUMERIC => Some(Self::Numeric),
            _ => None,
        }
    }
}

/// The type OIDs of parameters declared by Rampart: `unknown` (PostgreSQL infers the type from
/// the statement) and `numeric`.
const UNKNOWN_OID: Oid = Oid(705);
const NUMERIC_OID: Oid = Oid(1700);

/// A carried value as sqlx encodes it.
struct CarriedArg {
    kind: Typed,
    text: String,
}

impl sqlx::Type<Postgres> for CarriedArg {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(UNKNOWN_OID)
    }
}

impl Encode<'_, Postgres> for CarriedArg {
    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(match self.kind {
            Typed::Inferred => UNKNOWN_OID,
            Typed::Numeric => NUMERIC_OID,
        }))
    }

    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self.kind {
            Typed::Inferred => buf.extend_from_slice(self.text.as_bytes()),
            Typed::Numeric => {
                let (negative, int, frac) =
                    plain_decimal(&self.text).ok_or("not a plain decimal number")?;
                buf.extend_from_slice(&numeric_binary(negative, int, frac)?);
            }
        }
        Ok(IsNull::No)
    }
}

/// A plain decimal's sign, integer digits and decimals: `[+-]digits[.digits]`, at least one
/// digit, at most 1,000 characters.
fn plain_decimal(text: &str) -> Option<(bool, &str, &str)> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let plain = !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac);
    (plain && rest.len() <= 1000).then_some((negative, int, frac))
}

/// PostgreSQL's binary form of a plain decimal: digit groups of base 10,000 around the point,
/// the weight of the first group, the sign and the number of decimals written (`1.50` keeps
/// two, as PostgreSQL's own parser keeps them).
fn numeric_binary(negative: bool, int: &str, frac: &str) -> Result<Vec<u8>, BoxDynError> {
    const NEGATIVE: u16 = 0x4000;
    let int = int.trim_start_matches('0');
    let lead = (4 - int.len() % 4) % 4;
    let trail = (4 - frac.len() % 4) % 4;
    let padded: Vec<u8> = std::iter::repeat_n(b'0', lead)
        .chain(int.bytes())
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', trail))
        .collect();
    let mut groups: Vec<i16> = padded
        .chunks(4)
        .map(|g| g.iter().fold(0i16, |n, d| n * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = i16::try_from((lead + int.len()) / 4)? - 1;
    let first = groups.iter().position(|g| *g != 0).unwrap_or(groups.len());
    groups.drain(..first);
    weight -= i16::try_from(first)?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if negative && !groups.is_empty() {
        NEGATIVE
    } else {
        0
    };
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&i16::try_from(groups.len())?.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&u16::try_from(frac.len())?.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(out)
}

/// The values of a PostgreSQL statement, bound as sea-query-sqlx binds them, and Rampart's
/// carried values (see [`inferred`]) in their own types.
#[derive(Debug, Clone)]
pub struct PgValues(Values);

impl IntoArguments<Postgres> for PgValues {
    fn into_arguments(self) -> PgArguments {
        let mut args = PgArguments::default();
        // sqlx reports an encoding error when the query runs.
        let _ = self.0.0.into_iter().try_for_each(|v| match v {
            Value::Bool(b) => args.add(b),
            Value::TinyInt(n) => args.add(n.map(i16::from)),
            Value::SmallInt(n) => args.add(n),
            Value::Int(n) => args.add(n),
            Value::BigInt(n) => args.add(n),
            Value::TinyUnsigned(n) => args.add(n.map(i16::from)),
            Value::SmallUnsigned(n) => args.add(n.map(i32::from)),
            Value::Unsigned(n) => args.add(n.map(i64::from)),
            Value::BigUnsigned(n) => args.add(n.map(i64::try_from).transpose()?),
            Value::Float(n) => args.add(n),
            Value::Double(n) => args.add(n),
            Value::String(s) => args.add(s),
            Value::Char(c) => args.add(c.map(String::from)),
            Value::Bytes(b) => args.add(b),
            Value::Json(j) => args.add(j.map(|j| *j)),
            Value::ChronoDate(d) => args.add(d),
            Value::ChronoTime(t) => args.add(t),
            Value::ChronoDateTime(t) => args.add(t),
            Value::ChronoDateTimeUtc(t) => args.add(t),
            Value::ChronoDateTimeLocal(t) => args.add(t),
            Value::ChronoDateTimeWithTimeZone(t) => args.add(t),
            Value::Uuid(u) => args.add(u),
            Value::Enum(OptionEnum::Some(e)) => match Typed::of(&e) {
                Some(kind) => args.add(CarriedArg {
                    kind,
                    text: e.value.to_string(),
                }),
                None => args.add(e.value.to_string()),
            },
            Value::Enum(OptionEnum::None(_)) => args.add(Option::<String>::None),
        });
        args
    }
}

/// A statement for a pipelined connection: sea-query's SQL text (one statement, sent with the
/// extended protocol) and its values as typed text. Made only by
/// [`Statement::into_pipelined`], so a pipe runs nothing but what sea-query built.
#[derive(Debug, Clone)]
pub struct Piped {
    sql: String,
    params: Vec<Param>,
    /// The values as sea-query gave them, for [`Piped::into_statement`].
    values: Values,
}

impl Piped {
    /// The statement again, for an exclusive connection (a pipe found it too slow).
    #[must_use]
    pub fn into_statement(self) -> Statement {
        Statement {
            sql: self.sql,
            values: self.values,
        }
    }

    /// The SQL text (the key of the pipe's prepared statements).
    #[must_use]
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The values, in the order of the placeholders.
    #[must_use]
    pub fn params(&self) -> &[Param] {
        &self.params
    }
}

/// The SQL text of a sea-query statement, rendered once for a statement of one shape that runs
/// again and again with other values: the caller binds them in the order of the placeholders
/// (the order sea-query rendered the values in). The audit trail's batch INSERT: building and
/// rendering it for every batch, and copying each value into sea-query and out again, cost
/// more than storing the rows.
#[derive(Debug, Clone)]
pub struct Template(Arc<str>);

impl Template {
    /// Renders for PostgreSQL (as [`Statement::postgres`]; the values are dropped).
    pub fn postgres(builder: &impl QueryStatementBuilder) -> Self {
        Self(Statement::postgres(builder).sql.into())
    }

    /// Renders for SQLite (the values are dropped).
    pub fn sqlite(builder: &impl QueryStatementBuilder) -> Self {
        Self(builder.build_any(&SqliteQueryBuilder).0.into())
    }

    /// Renders a SQLite INSERT as `INSERT OR FAIL`: a row that breaks a constraint stops the
    /// statement but keeps the rows it already inserted. For INSERTs whose caller rolls the
    /// whole transaction back on any error anyway: SQLite then needs no statement journal (a
    /// multi-row INSERT otherwise copies every page it touches to a temporary file first, in
    /// case it must undo itself).
    pub fn sqlite_insert_or_fail(insert: &InsertStatement) -> Self {
        let sql = insert.build_any(&SqliteQueryBuilder).0;
        let sql = match sql.strip_prefix("INSERT INTO ") {
            Some(rest) => format!("INSERT OR FAIL INTO {rest}"),
            None => sql,
        };
        Self(sql.into())
    }

    /// A PostgreSQL query of this text, with nothing bound yet.
    pub fn pg(&self) -> sqlx::query::Query<'static, Postgres, PgArguments> {
        sqlx::query(AssertSqlSafe(Arc::clone(&self.0)))
    }

    /// A SQLite query of this text, with nothing bound yet.
    pub fn lite(&self) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
        sqlx::query(AssertSqlSafe(Arc::clone(&self.0)))
    }

    /// The SQL text.
    #[must_use]
    pub fn sql(&self) -> &str {
        &self.0
    }
}

/// A connection of its own to a SQLite store's file, beside the store's pool, for one thread
/// that writes a lot (the audit writer): its statements are prepared once from templates and
/// bound straight from the caller's memory, with no driver thread between. Only rendered
/// templates run on it.
pub struct OwnSqlite(rusqlite::Connection);

impl OwnSqlite {
    /// Opens the store's existing file, set up as the pool's connections are (the journal
    /// mode, WAL, is the file's; the rest is each connection's).
    pub fn open(path: &std::path::Path) -> rusqlite::Result<Self> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -1024)?;
        Ok(Self(conn))
    }

    /// Prepares a template's statement, kept by the caller and reused.
    pub fn prepare(&self, template: &Template) -> rusqlite::Result<rusqlite::Statement<'_>> {
        self.0.prepare(&template.0)
    }

    /// Starts a transaction that holds the write lock from its start (in WAL mode a deferred
    /// one that read first cannot write once another connection has written meanwhile). It
    /// rolls back when dropped uncommitted.
    pub fn begin(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.0, rusqlite::TransactionBehavior::Immediate)
    }
}

/// Runs one embedded migration script (several statements) on a connection. The script is
/// `'static` text compiled into the binary, never input.
pub async fn run_script_pg(
    conn: &mut sqlx::PgConnection,
    script: &'static str,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(script).execute(conn).await.map(|_| ())
}

/// See [`run_script_pg`].
pub async fn run_script_sqlite(
    conn: &mut sqlx::SqliteConnection,
    script: &'static str,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(script).execute(conn).await.map(|_| ())
}

/// Sets transaction-local settings (`set_config(name, value, true)`) in one round trip: the
/// database role (`role`) a request runs as and the principal's `rampart.*` settings. Names
/// and values are bound; the SQL text is static.
pub async fn set_local(
    conn: &mut sqlx::PgConnection,
    settings: &[(String, String)],
) -> Result<(), sqlx::Error> {
    let (names, values): (Vec<&str>, Vec<&str>) = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .unzip();
    sqlx::query("SELECT set_config(k, v, true) FROM unnest($1::text[], $2::text[]) AS s(k, v)")
        .bind(names)
        .bind(values)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Asks PostgreSQL to check, while a statement runs, that the connection's client is still
/// there (`client_connection_check_interval`, PostgreSQL 14 and later; older servers are left
/// as they are). A request cancelled mid-statement closes its connection, and the server then
/// stops the statement within `interval_ms` instead of running it to the end.
pub async fn watch_client(
    conn: &mut sqlx::PgConnection,
    interval_ms: u32,
) -> Result<(), sqlx::Error> {
    if conn.server_version_num().is_some_and(|v| v >= 140_000) {
        sqlx::query("SELECT set_config('client_connection_check_interval', $1, false)")
            .bind(interval_ms.to_string())
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What `rampart doctor` asks PostgreSQL about a service's login.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct LoginFacts {
    pub login: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    pub create_role: bool,
    pub create_db: bool,
    pub read_server_files: bool,
    pub write_server_files: bool,
    pub execute_server_program: bool,
    pub ssl: bool,
}

/// The login's attributes and dangerous memberships, and whether this connection uses TLS.
/// Static SQL: nothing in it comes from input.
pub async fn login_facts(conn: &mut sqlx::PgConnection) -> Result<LoginFacts, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.rolname::text AS login, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls, \
         r.rolcreaterole AS create_role, r.rolcreatedb AS create_db, \
         pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AS read_server_files, \
         pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') AS write_server_files, \
         pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS execute_server_program, \
         COALESCE((SELECT s.ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()), false) AS ssl \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(conn)
    .await
}

/// What `rampart doctor` asks about a database role a service switches to (`db_role_map`).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct SwitchedRole {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
}

/// The attributes of these database roles (those that exist). Static SQL; the names are
/// bound.
pub async fn switched_roles(
    conn: &mut sqlx::PgConnection,
    names: &[String],
) -> Result<Vec<SwitchedRole>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.rolname::text AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls \
         FROM pg_roles r WHERE r.rolname = ANY($1::text[]) ORDER BY 1",
    )
    .bind(names)
    .fetch_all(conn)
    .await
}

/// Of these tables (schema, name), those the login owns without `FORCE ROW LEVEL SECURITY`
/// (an owner bypasses the table's policies): `schema.name` each.
pub async fn owned_unforced(
    conn: &mut sqlx::PgConnection,
    tables: &[(String, String)],
) -> Result<Vec<String>, sqlx::Error> {
    let (schemas, names): (Vec<&str>, Vec<&str>) =
        tables.iter().map(|(s, n)| (s.as_str(), n.as_str())).unzip();
    sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN unnest($1::text[], $2::text[]) AS t(s, r) ON t.s = n.nspname AND t.r = c.relname \
         WHERE pg_has_role(current_user, c.relowner, 'USAGE') AND NOT c.relforcerowsecurity \
         ORDER BY 1",
    )
    .bind(schemas)
    .bind(names)
    .fetch_all(conn)
    .await
}

/// The channel system changes are announced on (PostgreSQL system stores).
pub const CHANGES_CHANNEL: &str = "rampart_changes";

/// The channel writes to a cached service are announced on (PostgreSQL system stores); the
/// payload is the service's id.
pub const WRITTEN_CHANNEL: &str = "rampart_written";

/// Announces a write to cached service `service_id` to every node listening on the store.
pub async fn notify_written(pool: &sqlx::PgPool, service_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WRITTEN_CHANNEL)
        .bind(service_id.to_string())
        .execute(pool)
        .await
        .map(|_| ())
}

/// Announces a system change to every node listening on the store (`NOTIFY`).
pub async fn notify_change(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANGES_CHANNEL)
        .execute(pool)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use sea_query::{Alias, Expr, ExprTrait, Query};

    use super::{Statement, Template};

    #[test]
    fn only_a_limit_is_written_in_place_every_other_value_is_bound() {
        let mut q = Query::select();
        q.column(Alias::new("id"))
            .from(Alias::new("orders"))
            .and_where(Expr::col(Alias::new("note")).eq(" LIMIT "))
            .and_where(Expr::col(Alias::new("qty")).gt(7u64))
            .limit(26)
            .offset(50);
        let s = Statement::postgres(&q);
        assert_eq!(
            s.sql(),
            r#"SELECT "id" FROM "orders" WHERE "note" = $1 AND "qty" > $2 LIMIT 26 OFFSET $3"#
        );
        assert_eq!(s.values.0.len(), 3);
    }

    #[test]
    fn a_template_keeps_placeholders_and_never_the_values_it_was_built_with() {
        let mut q = Query::insert();
        q.into_table(Alias::new("events"))
            .columns([Alias::new("a"), Alias::new("b")]);
        q.values_panic([Expr::val("secret"), Expr::val(41_i64)]);
        q.values_panic([Expr::val("secret"), Expr::val(41_i64)]);
        assert_eq!(
            Template::postgres(&q).sql(),
            r#"INSERT INTO "events" ("a", "b") VALUES ($1, $2), ($3, $4)"#
        );
        assert_eq!(
            Template::sqlite(&q).sql(),
            r#"INSERT INTO "events" ("a", "b") VALUES (?, ?), (?, ?)"#
        );
        assert_eq!(
            Template::sqlite_insert_or_fail(&q).sql(),
            r#"INSERT OR FAIL INTO "events" ("a", "b") VALUES (?, ?), (?, ?)"#
        );
    }
}

//! Runs planned statements on a service's pool and assembles the records' JSON from the
//! per-key JSON texts PostgreSQL produced. The only stage that touches a service database.

use sqlx::{PgPool, Row};

use super::plan::{ReadPlan, encode_cursor};
use super::sql;
use crate::statement::Statement;

/// The records of a read, each a JSON object's text, in order.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub records: Vec<String>,
    /// More rows match beyond `limit`.
    pub has_more: bool,
    /// Where the next page starts (keyset paging), when more rows remain.
    pub next_cursor: Option<String>,
}

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The database refused a value (bad date, out of range…): the client's fault.
    #[error("Invalid value: {0}")]
    BadValue(String),
    #[error("The request took longer than the statement timeout and was cancelled.")]
    Timeout,
    #[error("The service's database login lacks a privilege for this request.")]
    Privilege,
    #[error("The service's database is unavailable.")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for ExecError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                if code.starts_with("22") {
                    Self::BadValue(db.message().to_owned())
                } else if code == "57014" {
                    Self::Timeout
                } else if code == "42501" {
                    Self::Privilege
                } else {
                    Self::Database(e)
                }
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => Self::Unavailable(e),
            _ => Self::Database(e),
        }
    }
}

/// Appends `"key":` with the key JSON-escaped.
fn push_key(out: &mut String, key: &str) {
    out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"\"".into()));
    out.push(':');
}

/// Runs a read.
pub async fn read(pool: &PgPool, plan: &ReadPlan) -> Result<ReadResult, ExecError> {
    let stmt = sql::read(plan);
    let rows = Statement::postgres(&stmt).pg().fetch_all(pool).await?;
    let limit = usize::try_from(plan.limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    let mut result = ReadResult {
        records: Vec::with_capacity(rows.len().min(limit)),
        has_more,
        next_cursor: None,
    };
    let key_count = plan.keyset.as_ref().map_or(0, |k| k.columns.len());
    for (n, row) in rows.iter().take(limit).enumerate() {
        let mut record = String::with_capacity(64 * plan.output.len());
        record.push('{');
        for (i, o) in plan.output.iter().enumerate() {
            if i > 0 {
                record.push(',');
            }
            push_key(&mut record, &o.key);
            let value: Option<String> = row.try_get(i)?;
            record.push_str(value.as_deref().unwrap_or("null"));
        }
        record.push('}');
        result.records.push(record);
        if has_more && n + 1 == limit && key_count > 0 {
            let keys: Vec<Option<String>> = (0..key_count)
                .map(|j| row.try_get::<Option<String>, _>(plan.output.len() + j))
                .collect::<Result<_, _>>()?;
            result.next_cursor = Some(encode_cursor(&keys));
        }
    }
    Ok(result)
}

/// Counts the rows a read's condition matches.
pub async fn count(pool: &PgPool, plan: &ReadPlan) -> Result<i64, ExecError> {
    let stmt = sql::count(&plan.table, plan.condition.as_ref());
    let row = Statement::postgres(&stmt).pg().fetch_one(pool).await?;
    Ok(row.try_get(0)?)
}

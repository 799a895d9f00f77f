//! Reads a [`SchemaModel`] from PostgreSQL's system catalogs.
//!
//! Job: turn `pg_catalog` into the model the API serves (tables, views, columns, keys,
//! DreamFactory-style relationships, functions and procedures).
//!
//! Invariants:
//! - only `SELECT`s on `pg_catalog`, never `information_schema` (too slow at thousands of
//!   tables), all inside one read-only `REPEATABLE READ` transaction, so every query sees
//!   the same snapshot (its only other statement sets two transaction-local planner
//!   settings);
//! - a fixed number of set-based queries whatever the number of tables (schemas, relations,
//!   columns, comments, unique keys, foreign keys, functions, types with enum labels, names
//!   of the types in use), joined up in Rust; the SQL is static and lists travel as small
//!   bind parameters (see `introspect/catalog.rs`);
//! - only objects the login may use appear: tables and views it holds `SELECT`, `INSERT`,
//!   `UPDATE` or `DELETE` on, functions it may `EXECUTE`, in schemas it has `USAGE` on;
//!   nothing about other relations leaks through keys or relationships beyond the name of
//!   a referenced table.

mod catalog;
mod functions;
mod tables;
mod types;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use sqlx::postgres::types::Oid;
use sqlx::{Connection, PgConnection};

use self::catalog::{
    ColumnRow, CommentRow, ForeignKeyRow, FunctionRow, RelationRow, SchemaRow, TypeNameRow,
    TypeRow, UniqueKeyRow,
};
use self::tables::TableRows;
use self::types::{TypeMap, TypeNames};
use crate::model::SchemaModel;

/// What to introspect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntrospectOptions {
    /// `Some(schema)`: expose only that schema, with unqualified API names. `None`: every
    /// non-system schema the login may use; objects of `public` get unqualified API names,
    /// all others `schema.name`.
    pub schema: Option<String>,
}

/// Why introspection failed. Messages never include connection details.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// A catalog query (or getting a connection for it) failed.
    #[error("schema introspection failed: {}", describe_sqlx(.0))]
    Database(#[source] sqlx::Error),
    /// The configured schema does not exist, or the login has no `USAGE` on it.
    #[error("schema {0:?} does not exist or the login may not use it")]
    SchemaNotFound(String),
}

impl From<sqlx::Error> for IntrospectError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

/// A one-line description of a driver error that cannot leak connection settings.
fn describe_sqlx(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("database error {code}: {}", db.message()),
            None => format!("database error: {}", db.message()),
        },
        sqlx::Error::Io(io) => format!("I/O error talking to the database ({})", io.kind()),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the connection pool is closed".to_owned(),
        sqlx::Error::Tls(_) => "TLS error talking to the database".to_owned(),
        sqlx::Error::Configuration(_) => "invalid database connection settings".to_owned(),
        sqlx::Error::ColumnDecode { index, .. } => {
            format!("could not decode catalog column {index}")
        }
        sqlx::Error::ColumnNotFound(name) => format!("catalog column {name} missing"),
        sqlx::Error::Protocol(_) => "unexpected data from the database".to_owned(),
        _ => "database driver error".to_owned(),
    }
}

/// Reads the model of the exposed schemas, as the connection's login sees them (in one
/// read-only, repeatable-read transaction).
///
/// # Errors
///
/// [`IntrospectError::Database`] when a catalog query fails, and
/// [`IntrospectError::SchemaNotFound`] when `options.schema` names a schema that does not
/// exist or the login may not use.
pub async fn introspect(
    conn: &mut PgConnection,
    options: &IntrospectOptions,
) -> Result<SchemaModel, IntrospectError> {
    let started = Instant::now();
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    sqlx::query(catalog::SETTINGS_SQL).execute(&mut *tx).await?;

    let schemas: Vec<SchemaRow> = sqlx::query_as(catalog::SCHEMAS_SQL)
        .bind(options.schema.as_deref())
        .fetch_all(&mut *tx)
        .await?;
    if let Some(wanted) = &options.schema
        && schemas.is_empty()
    {
        return Err(IntrospectError::SchemaNotFound(wanted.clone()));
    }
    let namespaces: Vec<Oid> = schemas.iter().map(|s| s.oid).collect();

    let relations: Vec<RelationRow> = sqlx::query_as(catalog::RELATIONS_SQL)
        .bind(&namespaces)
        .fetch_all(&mut *tx)
        .await?;
    let mut columns: Vec<ColumnRow> = sqlx::query_as(catalog::COLUMNS_SQL)
        .bind(&namespaces)
        .fetch_all(&mut *tx)
        .await?;
    let comments: Vec<CommentRow> = sqlx::query_as(catalog::COMMENTS_SQL)
        .bind(&namespaces)
        .fetch_all(&mut *tx)
        .await?;
    let unique_keys: Vec<UniqueKeyRow> = sqlx::query_as(catalog::UNIQUE_KEYS_SQL)
        .bind(&namespaces)
        .fetch_all(&mut *tx)
        .await?;
    let foreign_keys: Vec<ForeignKeyRow> = sqlx::query_as(catalog::FOREIGN_KEYS_SQL)
        .bind(&namespaces)
        .fetch_all(&mut *tx)
        .await?;
    let functions: Vec<FunctionRow> = sqlx::query_as(catalog::FUNCTIONS_SQL)
        .bind(&namespaces)
        .fetch_all(&mut *tx)
        .await?;
    let types: Vec<TypeRow> = sqlx::query_as(catalog::TYPES_SQL)
        .fetch_all(&mut *tx)
        .await?;

    // Columns of relations the login may not use were selected with the others.
    let visible: HashSet<Oid> = relations.iter().map(|r| r.oid).collect();
    columns.retain(|c| visible.contains(&c.rel));
    // Name each (type, modifier) pair in use once rather than once per column.
    let pairs: HashSet<(Oid, i32)> = columns
        .iter()
        .map(|c| (c.type_oid, c.typmod))
        .chain(
            functions
                .iter()
                .flat_map(|f| f.arg_types.iter().map(|&t| (t, -1))),
        )
        .collect();
    let (pair_types, pair_typmods): (Vec<Oid>, Vec<i32>) = pairs.into_iter().unzip();
    let type_names: Vec<TypeNameRow> = sqlx::query_as(catalog::TYPE_NAMES_SQL)
        .bind(pair_types)
        .bind(pair_typmods)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let queried = started.elapsed();

    let names = Namer {
        default_schema: options.schema.as_deref().unwrap_or("public"),
        schemas: schemas.into_iter().map(|s| (s.oid, s.name)).collect(),
    };
    let types = TypeMap::new(types);
    let type_names = TypeNames::new(type_names);
    let tables = tables::build_tables(
        &names,
        &types,
        &type_names,
        TableRows {
            relations,
            columns,
            comments,
            unique_keys,
            foreign_keys,
        },
    );
    let functions = functions::build_functions(&names, &types, &type_names, functions);
    let model = SchemaModel::new(tables, functions);

    tracing::debug!(
        tables = model.tables.len(),
        functions = model.functions.len(),
        query_ms = queried.as_millis(),
        total_ms = started.elapsed().as_millis(),
        "introspected the database schema"
    );
    Ok(model)
}

/// Turns catalog names into API names.
struct Namer<'a> {
    /// Objects of this schema get unqualified API names.
    default_schema: &'a str,
    /// Exposed schema names by OID.
    schemas: HashMap<Oid, String>,
}

impl Namer<'_> {
    fn api_name(&self, schema: &str, name: &str) -> String {
        if schema == self.default_schema {
            name.to_owned()
        } else {
            format!("{schema}.{name}")
        }
    }

    fn schema(&self, namespace: Oid) -> &str {
        self.schemas.get(&namespace).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_do_not_repeat_connection_settings() {
        let leaky = sqlx::Error::Configuration("postgres://app:s3cret@db:5432/shop".into());
        let message = IntrospectError::Database(leaky).to_string();
        assert!(!message.contains("s3cret"), "{message}");
        assert_eq!(
            message,
            "schema introspection failed: invalid database connection settings"
        );

        let tls = sqlx::Error::Tls("certificate for s3cret.example rejected".into());
        assert!(
            !IntrospectError::Database(tls)
                .to_string()
                .contains("s3cret")
        );
    }

    #[test]
    fn api_names_are_unqualified_only_in_the_default_schema() {
        let names = Namer {
            default_schema: "public",
            schemas: HashMap::new(),
        };
        assert_eq!(names.api_name("public", "orders"), "orders");
        assert_eq!(names.api_name("sales", "orders"), "sales.orders");
    }
}

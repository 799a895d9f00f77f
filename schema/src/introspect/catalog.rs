//! The catalog queries and their rows.
//!
//! Invariants: every query is a static, set-based `SELECT` on `pg_catalog` (no
//! `information_schema`, no per-table query, no dynamic SQL: lists travel as array bind
//! parameters); every catalog object and function is qualified with `pg_catalog` so a
//! hostile `search_path` cannot substitute its own; rows are decoded by position, in the
//! order of the query's select list.
//!
//! Bind parameters stay small (the exposed schemas, the distinct types in use): a large one,
//! such as the OIDs of thousands of visible tables, costs a 40 ms TCP round of Nagle and
//! delayed ACK per query (sqlx does not set `TCP_NODELAY`). So the queries after
//! [`RELATIONS_SQL`] select by schema and kind, and rows of relations the login may not use
//! are dropped while assembling.

use sqlx::postgres::PgRow;
use sqlx::postgres::types::Oid;
use sqlx::{FromRow, Row};

/// Settings for this transaction only. Catalog queries look expensive to the planner, which
/// then JIT-compiles them: that alone costs more than running them. Custom plans see the
/// OID lists as constants, so `= ANY (list)` is a hash lookup; a generic plan would search
/// the list linearly.
pub(super) const SETTINGS_SQL: &str = "SELECT pg_catalog.set_config('jit', 'off', true), \
     pg_catalog.set_config('plan_cache_mode', 'force_custom_plan', true)";

/// Exposed schemas: not system ones, usable by the login, optionally just the one asked for
/// (`$1`, NULL for all).
pub(super) const SCHEMAS_SQL: &str = r"
SELECT n.oid, n.nspname
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
  AND ($1::text IS NULL OR n.nspname = $1::text)
  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
";

pub(super) struct SchemaRow {
    pub oid: Oid,
    pub name: String,
}

impl FromRow<'_, PgRow> for SchemaRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            oid: row.try_get(0)?,
            name: row.try_get(1)?,
        })
    }
}

/// Tables, views, materialized views and foreign tables of the schemas `$1` that the login
/// holds any of SELECT/INSERT/UPDATE/DELETE on. Candidates are narrowed by schema and kind
/// first: the privilege check is the expensive filter.
pub(super) const RELATIONS_SQL: &str = r"
WITH candidates AS MATERIALIZED (
    SELECT c.oid, c.relnamespace, c.relname, c.relkind
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = ANY ($1::oid[])
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
)
SELECT c.oid,
       c.relnamespace,
       c.relname,
       c.relkind,
       CASE WHEN c.relkind IN ('v', 'f')
            THEN pg_catalog.pg_relation_is_updatable(c.oid, false)
       END
FROM candidates AS c
WHERE pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')
";

pub(super) struct RelationRow {
    pub oid: Oid,
    pub namespace: Oid,
    pub name: String,
    pub relkind: i8,
    /// `pg_relation_is_updatable` bits (views and foreign tables only).
    pub updatable_bits: Option<i32>,
}

impl FromRow<'_, PgRow> for RelationRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            oid: row.try_get(0)?,
            namespace: row.try_get(1)?,
            name: row.try_get(2)?,
            relkind: row.try_get(3)?,
            updatable_bits: row.try_get(4)?,
        })
    }
}

/// The columns of the relations of the schemas `$1` (see [`RELATIONS_SQL`]). Types come as
/// OID and modifier only (a few distinct pairs, named by [`TYPE_NAMES_SQL`]). Defaults are
/// deparsed without a relation context: a default cannot reference columns, and that is
/// twice as fast. Generation expressions are not deparsed (they are not defaults).
pub(super) const COLUMNS_SQL: &str = r"
SELECT a.attrelid,
       a.attnum,
       a.attname,
       a.atttypid,
       a.atttypmod,
       a.attnotnull,
       a.attidentity,
       a.attgenerated,
       CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, 0) END
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_attribute AS a
  ON a.attrelid = c.oid
LEFT JOIN pg_catalog.pg_attrdef AS d
       ON a.atthasdef AND d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = ANY ($1::oid[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0
  AND NOT a.attisdropped
";

pub(super) struct ColumnRow {
    pub rel: Oid,
    pub attnum: i16,
    pub name: String,
    pub type_oid: Oid,
    pub typmod: i32,
    pub not_null: bool,
    pub identity: i8,
    pub generated: i8,
    pub default: Option<String>,
}

impl FromRow<'_, PgRow> for ColumnRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            rel: row.try_get(0)?,
            attnum: row.try_get(1)?,
            name: row.try_get(2)?,
            type_oid: row.try_get(3)?,
            typmod: row.try_get(4)?,
            not_null: row.try_get(5)?,
            identity: row.try_get(6)?,
            generated: row.try_get(7)?,
            default: row.try_get(8)?,
        })
    }
}

/// Comments on the relations of the schemas `$1` (`objsubid` 0) and on their columns
/// (`objsubid` is the attribute number). A separate query: comments are rare, and joining
/// them to every relation and column row costs more than fetching them on their own.
pub(super) const COMMENTS_SQL: &str = r"
SELECT d.objoid, d.objsubid, d.description
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_class AS c
  ON c.oid = d.objoid
WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
  AND c.relnamespace = ANY ($1::oid[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
";

pub(super) struct CommentRow {
    pub rel: Oid,
    /// 0 for the relation itself, else the column's attribute number.
    pub attnum: i32,
    pub text: String,
}

impl FromRow<'_, PgRow> for CommentRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            rel: row.try_get(0)?,
            attnum: row.try_get(1)?,
            text: row.try_get(2)?,
        })
    }
}

/// Names of the distinct (type, modifier) pairs `$1`/`$2` in use: `format_type` (qualified
/// and quoted as needed, safe for casts) and the bare name and schema.
pub(super) const TYPE_NAMES_SQL: &str = r"
SELECT u.type_oid,
       u.typmod,
       pg_catalog.format_type(u.type_oid, u.typmod),
       t.typname,
       n.nspname
FROM ROWS FROM (pg_catalog.unnest($1::oid[]), pg_catalog.unnest($2::int4[])) AS u(type_oid, typmod)
LEFT JOIN pg_catalog.pg_type AS t ON t.oid = u.type_oid
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
";

pub(super) struct TypeNameRow {
    pub type_oid: Oid,
    pub typmod: i32,
    pub sql_type: Option<String>,
    pub udt_name: Option<String>,
    pub udt_schema: Option<String>,
}

impl FromRow<'_, PgRow> for TypeNameRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            type_oid: row.try_get(0)?,
            typmod: row.try_get(1)?,
            sql_type: row.try_get(2)?,
            udt_name: row.try_get(3)?,
            udt_schema: row.try_get(4)?,
        })
    }
}

/// Primary keys and usable unique indexes of the tables of the schemas `$1`: valid,
/// non-partial, on plain columns (unique constraints own such an index, so they are
/// included). Only key columns, not `INCLUDE`d ones; slicing also makes the array 1-based.
pub(super) const UNIQUE_KEYS_SQL: &str = r"
SELECT i.indrelid,
       i.indexrelid,
       i.indisprimary,
       (i.indkey::pg_catalog.int2[])[0:i.indnkeyatts - 1]
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS c
  ON c.oid = i.indrelid
WHERE c.relnamespace = ANY ($1::oid[])
  AND i.indisunique
  AND i.indisvalid
  AND i.indpred IS NULL
  AND i.indexprs IS NULL
";

pub(super) struct UniqueKeyRow {
    pub rel: Oid,
    pub index: Oid,
    pub is_primary: bool,
    pub attnums: Vec<i16>,
}

impl FromRow<'_, PgRow> for UniqueKeyRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            rel: row.try_get(0)?,
            index: row.try_get(1)?,
            is_primary: row.try_get(2)?,
            attnums: row.try_get(3)?,
        })
    }
}

/// Foreign keys declared in the schemas `$1`. Keys come as attribute numbers. When the
/// referenced table is not exposed (outside the schemas, or no privilege), so that its
/// columns are not known, its schema, name and referenced column names come along. Foreign
/// keys cloned onto partitions are kept; those PostgreSQL adds towards each partition of a
/// referenced partitioned table are not (they would duplicate the parent's).
pub(super) const FOREIGN_KEYS_SQL: &str = r"
SELECT con.conrelid,
       con.conname,
       con.conkey,
       con.confrelid,
       con.confkey,
       CASE WHEN NOT ref.exposed THEN ARRAY[ref.nspname::text, ref.relname::text] END,
       CASE WHEN NOT ref.exposed THEN
            ARRAY(SELECT (SELECT a.attname::text
                          FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = con.confrelid AND a.attnum = k.num)
                  FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
                  ORDER BY k.ord)
       END,
       con.confupdtype,
       con.confdeltype
FROM pg_catalog.pg_constraint AS con
CROSS JOIN LATERAL (
    SELECT n.nspname,
           c.relname,
           c.relnamespace = ANY ($1::oid[])
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')
             AS exposed
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = con.confrelid
) AS ref
WHERE con.connamespace = ANY ($1::oid[])
  AND con.contype = 'f'
  AND (con.conparentid = 0
       OR con.confrelid = (SELECT pc.confrelid
                           FROM pg_catalog.pg_constraint AS pc
                           WHERE pc.oid = con.conparentid))
";

pub(super) struct ForeignKeyRow {
    pub rel: Oid,
    pub name: String,
    pub attnums: Vec<i16>,
    pub ref_rel: Oid,
    pub ref_attnums: Vec<i16>,
    /// `[schema, table]` of a referenced table that is not exposed.
    pub ref_qualified: Option<Vec<String>>,
    /// Referenced column names, when the referenced table is not exposed.
    pub ref_columns: Option<Vec<Option<String>>>,
    pub on_update: i8,
    pub on_delete: i8,
}

impl FromRow<'_, PgRow> for ForeignKeyRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            rel: row.try_get(0)?,
            name: row.try_get(1)?,
            attnums: row.try_get(2)?,
            ref_rel: row.try_get(3)?,
            ref_attnums: row.try_get(4)?,
            ref_qualified: row.try_get(5)?,
            ref_columns: row.try_get(6)?,
            on_update: row.try_get(7)?,
            on_delete: row.try_get(8)?,
        })
    }
}

/// Every type a column or argument may resolve to (through domains and array elements),
/// with enum labels in order. Row types, pseudo-types and arrays of row types (two per
/// table in a big database, all `Other` anyway) are left out.
pub(super) const TYPES_SQL: &str = r"
SELECT t.oid,
       t.typname,
       t.typtype,
       t.typcategory,
       t.typelem,
       t.typbasetype,
       t.typtypmod,
       CASE WHEN t.typtype = 'e' THEN
            ARRAY(SELECT e.enumlabel::text
                  FROM pg_catalog.pg_enum AS e
                  WHERE e.enumtypid = t.oid
                  ORDER BY e.enumsortorder)
       END
FROM pg_catalog.pg_type AS t
WHERE t.typtype <> 'c'
  AND t.typtype <> 'p'
  AND (t.typcategory <> 'A'
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type AS e
                      WHERE e.oid = t.typelem AND e.typtype = 'c'))
";

pub(super) struct TypeRow {
    pub oid: Oid,
    pub name: String,
    pub typtype: i8,
    pub category: i8,
    pub element: Oid,
    pub base: Oid,
    pub typmod: i32,
    pub labels: Option<Vec<String>>,
}

impl FromRow<'_, PgRow> for TypeRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            oid: row.try_get(0)?,
            name: row.try_get(1)?,
            typtype: row.try_get(2)?,
            category: row.try_get(3)?,
            element: row.try_get(4)?,
            base: row.try_get(5)?,
            typmod: row.try_get(6)?,
            labels: row.try_get(7)?,
        })
    }
}

/// Functions and procedures of the schemas `$1` the login may execute, except those
/// belonging to extensions and those that cannot be called directly (trigger and event
/// trigger functions, handlers, anything taking or returning `internal`). Aggregates and
/// window functions have another `prokind`. Argument types cover all arguments
/// (`proallargtypes`) or, when all are IN, the input ones; slicing makes the array 1-based.
pub(super) const FUNCTIONS_SQL: &str = r"
SELECT p.oid,
       p.pronamespace,
       p.proname,
       p.prokind,
       p.proargmodes,
       p.proargnames,
       (COALESCE(p.proallargtypes, p.proargtypes::oid[]))[0:],
       p.pronargs,
       p.pronargdefaults,
       pg_catalog.pg_get_function_result(p.oid),
       p.proretset,
       p.provolatile,
       d.description
FROM pg_catalog.pg_proc AS p
LEFT JOIN pg_catalog.pg_description AS d
       ON d.objoid = p.oid
      AND d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.objsubid = 0
WHERE p.pronamespace = ANY ($1::oid[])
  AND p.prokind IN ('f', 'p')
  AND NOT (p.prorettype = ANY ('{pg_catalog.trigger, pg_catalog.event_trigger,
                                 pg_catalog.internal, pg_catalog.language_handler,
                                 pg_catalog.fdw_handler, pg_catalog.index_am_handler,
                                 pg_catalog.tsm_handler, pg_catalog.table_am_handler}'::pg_catalog.regtype[]))
  AND NOT ('pg_catalog.internal'::pg_catalog.regtype = ANY (p.proargtypes::oid[]))
  AND NOT EXISTS (SELECT 1
                  FROM pg_catalog.pg_depend AS dep
                  WHERE dep.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                    AND dep.objid = p.oid
                    AND dep.deptype = 'e')
  AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
";

pub(super) struct FunctionRow {
    pub oid: Oid,
    pub namespace: Oid,
    pub name: String,
    pub kind: i8,
    pub modes: Option<Vec<i8>>,
    pub arg_names: Option<Vec<String>>,
    pub arg_types: Vec<Oid>,
    pub input_count: i16,
    pub default_count: i16,
    pub result: Option<String>,
    pub returns_set: bool,
    pub volatility: i8,
    pub comment: Option<String>,
}

impl FromRow<'_, PgRow> for FunctionRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            oid: row.try_get(0)?,
            namespace: row.try_get(1)?,
            name: row.try_get(2)?,
            kind: row.try_get(3)?,
            modes: row.try_get(4)?,
            arg_names: row.try_get(5)?,
            arg_types: row.try_get(6)?,
            input_count: row.try_get(7)?,
            default_count: row.try_get(8)?,
            result: row.try_get(9)?,
            returns_set: row.try_get(10)?,
            volatility: row.try_get(11)?,
            comment: row.try_get(12)?,
        })
    }
}

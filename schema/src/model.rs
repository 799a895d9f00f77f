//! The database model: tables, views, columns, keys, relationships and functions of one
//! service, as introspected. Pure data with lookups; no I/O.
//!
//! Names here are the database's own. `Table::api_name` is the name the REST API uses
//! (unqualified for the service's default schema, `schema.table` otherwise).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Everything Rampart knows about one service's database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SchemaModel {
    /// Tables and views, sorted by `api_name`.
    pub tables: Vec<Table>,
    /// Functions and procedures, sorted by `api_name`.
    pub functions: Vec<Function>,
    #[serde(skip)]
    table_index: HashMap<String, usize>,
    #[serde(skip)]
    function_index: HashMap<String, usize>,
}

impl SchemaModel {
    /// Builds the model, sorting and indexing tables and functions by API name.
    #[must_use]
    pub fn new(mut tables: Vec<Table>, mut functions: Vec<Function>) -> Self {
        tables.sort_by(|a, b| a.api_name.cmp(&b.api_name));
        functions.sort_by(|a, b| a.api_name.cmp(&b.api_name));
        let table_index = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.api_name.clone(), i))
            .collect();
        let function_index = functions
            .iter()
            .enumerate()
            .map(|(i, f)| (f.api_name.clone(), i))
            .collect();
        Self {
            tables,
            functions,
            table_index,
            function_index,
        }
    }

    /// Rebuilds the indexes after deserialising (the serde form carries no index).
    #[must_use]
    pub fn reindexed(self) -> Self {
        Self::new(self.tables, self.functions)
    }

    /// The table or view with this API name.
    #[must_use]
    pub fn table(&self, api_name: &str) -> Option<&Table> {
        self.table_index.get(api_name).map(|&i| &self.tables[i])
    }

    /// The function or procedure with this API name.
    #[must_use]
    pub fn function(&self, api_name: &str) -> Option<&Function> {
        self.function_index
            .get(api_name)
            .map(|&i| &self.functions[i])
    }
}

/// What kind of relation a table entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Table,
    PartitionedTable,
    View,
    MaterializedView,
    ForeignTable,
}

impl TableKind {
    /// Views of any kind (DreamFactory's `is_view`).
    #[must_use]
    pub fn is_view(self) -> bool {
        matches!(self, Self::View | Self::MaterializedView)
    }
}

/// A table, view, materialized view or foreign table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    /// The database schema (`public`).
    pub schema: String,
    /// The table's own name (`orders`).
    pub name: String,
    /// The name used in URLs and RBAC components (`orders`, or `sales.orders` outside the default schema).
    pub api_name: String,
    pub kind: TableKind,
    pub comment: Option<String>,
    /// Columns in ordinal order.
    pub columns: Vec<Column>,
    /// Primary key column names in key order; empty when there is none.
    pub primary_key: Vec<String>,
    /// Unique constraints and unique indexes (other than the primary key), each a list of columns.
    pub unique_keys: Vec<Vec<String>>,
    /// Foreign keys declared on this table.
    pub foreign_keys: Vec<ForeignKey>,
    /// Relationships usable with `related`, named as DreamFactory names them.
    pub relations: Vec<Relation>,
    /// Whether rows can be inserted (false for non-updatable views).
    pub insertable: bool,
    /// Whether rows can be updated.
    pub updatable: bool,
    /// Whether rows can be deleted.
    pub deletable: bool,
}

impl Table {
    /// The column with this name.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The relationship with this name.
    #[must_use]
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.name == name)
    }
}

/// The broad type of a column, enough to bind values, render JSON and document the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Numeric,
    Money,
    Text,
    Uuid,
    Json,
    Jsonb,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    /// An enum type; its labels are in `Column::enum_values`.
    Enum,
    /// Any array type; the element type is in `Column::element_type`.
    Array,
    /// Anything else (network types, geometric types, ranges, composites…), exchanged as text.
    Other,
}

/// How a column is generated, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generated {
    /// `GENERATED ALWAYS AS IDENTITY`.
    IdentityAlways,
    /// `GENERATED BY DEFAULT AS IDENTITY`.
    IdentityByDefault,
    /// `serial`/`bigserial` (a `nextval` default).
    Serial,
    /// `GENERATED ALWAYS AS (expr) STORED`.
    Computed,
}

/// A column of a table or view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// 1-based ordinal position.
    pub position: i16,
    pub value_type: ValueType,
    /// For arrays, the element's type.
    pub element_type: Option<ValueType>,
    /// The type's name as PostgreSQL formats it, including modifiers (`numeric(10,2)`,
    /// `character varying(80)`, `public.mood`). Safe to use in a cast: it comes from the catalog.
    pub sql_type: String,
    /// The type's name without modifiers (`numeric`, `varchar`, `_int4`, `mood`).
    pub udt_name: String,
    /// The schema of the type (`pg_catalog`, `public`): with `udt_name`, the quoted type name
    /// used to cast bound values (`CAST($1 AS "pg_catalog"."numeric")`).
    pub udt_schema: String,
    pub nullable: bool,
    /// The default expression as PostgreSQL prints it.
    pub default: Option<String>,
    pub generated: Option<Generated>,
    /// Character length limit (`varchar(n)`).
    pub max_length: Option<i32>,
    pub precision: Option<i32>,
    pub scale: Option<i32>,
    /// Labels of an enum type, in order.
    pub enum_values: Vec<String>,
    pub comment: Option<String>,
    /// Part of the primary key.
    pub is_primary_key: bool,
    /// Part of a single-column unique key.
    pub is_unique: bool,
    /// The column of a single-column foreign key, with what it references.
    pub references: Option<ColumnRef>,
}

impl Column {
    /// Whether the database fills this column when an insert leaves it out.
    #[must_use]
    pub fn has_default(&self) -> bool {
        self.default.is_some() || self.generated.is_some()
    }

    /// Whether clients may never write it (identity always, computed).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.generated,
            Some(Generated::IdentityAlways | Generated::Computed)
        )
    }
}

/// A reference to a column of another table, by API name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
}

/// A declared foreign key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForeignKey {
    /// The constraint's name.
    pub name: String,
    pub columns: Vec<String>,
    /// API name of the referenced table (it may be outside the exposed schemas: then it has
    /// no relation).
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `NO ACTION`, `CASCADE`, …
    pub on_update: String,
    pub on_delete: String,
}

/// The kind of a relationship, from the point of view of the table that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// This table holds the foreign key (`orders.customer_id → customers.id`).
    BelongsTo,
    /// Another table holds a foreign key to this one.
    HasMany,
    /// Through a junction table holding foreign keys to both.
    ManyMany,
}

/// A relationship usable with `related`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Relation {
    /// DreamFactory's name: `{ref_table}_by_{field}` (belongs_to), `{ref_table}_by_{ref_field}`
    /// (has_many), `{ref_table}_by_{junction_table}` (many_many); composite keys join their
    /// fields with `_`.
    pub name: String,
    pub kind: RelationKind,
    /// Columns of this table that match.
    pub columns: Vec<String>,
    /// API name of the related table.
    pub ref_table: String,
    /// Columns of the related table that match (for many_many: the columns the junction
    /// references in the related table).
    pub ref_columns: Vec<String>,
    /// For many_many: the junction table.
    pub junction: Option<Junction>,
}

/// The junction table of a many_many relationship.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Junction {
    /// API name of the junction table.
    pub table: String,
    /// Junction columns that reference this table (pairing with `Relation::columns`).
    pub columns: Vec<String>,
    /// Junction columns that reference the related table (pairing with `Relation::ref_columns`).
    pub ref_columns: Vec<String>,
}

/// A function (`_func`) or procedure (`_proc`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Function {
    pub schema: String,
    pub name: String,
    /// Name in URLs: unqualified in the default schema, `schema.name` otherwise. Overloads
    /// share one name; the first (by argument count) is kept.
    pub api_name: String,
    pub kind: FunctionKind,
    pub args: Vec<FunctionArg>,
    /// The return type as PostgreSQL formats it (`integer`, `SETOF orders`, `TABLE(a int)`, `void`).
    pub return_type: String,
    pub returns_set: bool,
    pub volatility: Volatility,
    pub comment: Option<String>,
}

/// Function or procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    Function,
    Procedure,
}

/// A function's volatility class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

/// One argument of a function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionArg {
    /// Empty for unnamed arguments.
    pub name: String,
    pub mode: ArgMode,
    pub value_type: ValueType,
    /// As PostgreSQL formats it.
    pub sql_type: String,
    /// The type's schema and name without modifiers, for casts of bound values.
    pub udt_schema: String,
    pub udt_name: String,
    pub has_default: bool,
}

/// Argument mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgMode {
    In,
    Out,
    InOut,
    Variadic,
    /// A column of `RETURNS TABLE(...)`.
    Table,
}

//! `ReadParams` + table + permit → a validated read plan. Every column, relation and value
//! is resolved here: names against the introspected table and the role's view, values into
//! text bound with a cast to the column's own type. Pure: no I/O.
//!
//! Architecture invariant: a plan holds only names taken from the schema model, never a
//! string the client sent; a name the caller may not see is reported as unknown.

use serde_json::Value;

use rampart_schema::{Column, RelationKind, SchemaModel, Table, TableKind, ValueType};

use crate::filter::{CompareOp, Expr, Literal, MatchOp, Operand};
use crate::rbac::{FieldRule, Mask, TableRules};
use crate::request::{Aggregate, FieldSelector, Nulls, OrderItem, ReadParams};

/// A table as the SQL layer addresses it (schema-qualified, from the model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTarget {
    pub schema: String,
    pub name: String,
}

impl TableTarget {
    pub fn of(t: &Table) -> Self {
        Self {
            schema: t.schema.clone(),
            name: t.name.clone(),
        }
    }
}

/// A value given as text, of a type named by the catalog (`"pg_catalog"."int4"`): how it is
/// bound (in its own type where Rust can parse it exactly as PostgreSQL would, else as text
/// cast by PostgreSQL) is `sql::bound`'s choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub text: String,
    pub type_schema: String,
    pub type_name: String,
    pub value_type: ValueType,
}

/// A resolved condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Compare {
        column: String,
        op: CompareOp,
        value: Bound,
    },
    /// `column LIKE/ILIKE pattern`; `text_cast` when the column is not text.
    Match {
        column: String,
        text_cast: bool,
        case_insensitive: bool,
        negated: bool,
        pattern: String,
    },
    In {
        column: String,
        negated: bool,
        values: Vec<Bound>,
    },
    Between {
        column: String,
        negated: bool,
        low: Bound,
        high: Bound,
    },
    IsNull {
        column: String,
        negated: bool,
    },
    /// Matches nothing (a grant whose stored filter no longer compiles).
    Never,
}

/// One `ORDER BY` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub column: String,
    pub descending: bool,
    pub nulls: Option<Nulls>,
}

/// How a selected column's value becomes JSON text. PostgreSQL sends every column as text;
/// `to_json` is asked for only where the JSON form differs from that text in more than
/// quoting (dates and timestamps, arrays, composite and other types), since it costs the
/// database a function call, a type lookup and a copy per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// PostgreSQL's `to_json`.
    Json,
    /// Integers, booleans, json and jsonb: their text already is their JSON.
    Bare,
    /// Text-like values (text, uuid, enum labels, intervals, times, money): their text,
    /// quoted and escaped by Rampart, exactly as `to_json` would.
    Text,
    /// numeric, real, double: their text bare, or quoted when it is no JSON number (`NaN`,
    /// `Infinity`), exactly as `to_json` would.
    Number,
    /// bytea, as base64 text.
    Base64,
}

/// What a selected column's text is to the record's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextForm {
    /// Already JSON.
    Json,
    /// A string to quote and escape.
    Quoted,
    /// A number when it reads as one, else a string.
    Number,
}

impl ColumnOut {
    /// The form PostgreSQL's text of this column takes; a masked value is always a string.
    #[must_use]
    pub fn text_form(&self) -> TextForm {
        if self.mask.is_some() {
            return TextForm::Quoted;
        }
        match self.encoding {
            Encoding::Json | Encoding::Bare => TextForm::Json,
            Encoding::Text | Encoding::Base64 => TextForm::Quoted,
            Encoding::Number => TextForm::Number,
        }
    }
}

impl OutExpr {
    /// The form PostgreSQL's text of this output takes.
    #[must_use]
    pub fn text_form(&self) -> TextForm {
        match self {
            Self::Column(c) => c.text_form(),
            _ => TextForm::Json,
        }
    }
}

/// A selected column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOut {
    pub column: String,
    pub encoding: Encoding,
    /// Shown masked, by the role's field rule.
    pub mask: Option<Mask>,
}

/// What one output key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutExpr {
    Column(ColumnOut),
    Aggregate(Aggregate, Option<String>),
    Related(Box<RelatedSelect>),
}

/// One key of each output record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub key: String,
    pub expr: OutExpr,
}

/// How a related table joins the outer one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// `inner.ref_col = outer.col` for each pair (outer, inner).
    Direct(Vec<(String, String)>),
    /// Through a junction: `junction.a = outer.col` and `junction.b = inner.col`.
    Junction {
        table: TableTarget,
        outer: Vec<(String, String)>,
        inner: Vec<(String, String)>,
    },
}

/// A `related` expansion: a sub-select producing one object (belongs_to) or an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedSelect {
    pub table: TableTarget,
    pub columns: Vec<ColumnOut>,
    pub join: Join,
    pub many: bool,
    pub order: Vec<OrderBy>,
    pub limit: Option<u64>,
    /// The related table's own row filter for the caller.
    pub condition: Option<Cond>,
}

/// Keyset paging: the columns of the cursor, and the position after which to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub columns: Vec<(String, bool)>,
    pub after: Option<Vec<Bound>>,
}

/// Lists of at most this many rows (a page, as clients ask for them) may share a pipelined
/// connection; a longer answer would hold up the reads queued behind it while it is sent.
pub const PIPELINE_ROWS: u64 = 100;

/// A validated read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub table: TableTarget,
    pub output: Vec<Output>,
    pub condition: Option<Cond>,
    pub order: Vec<OrderBy>,
    pub group: Vec<String>,
    /// Rows to return; the SQL asks for one more to know whether more remain.
    pub limit: u64,
    pub offset: u64,
    pub keyset: Option<Keyset>,
    /// Whether the client asked for paging information (a list, not a record).
    pub is_list: bool,
    /// The read returns at most [`PIPELINE_ROWS`] rows of a table (a row by its primary
    /// key, a short page of a list), each with at most one related record of each relation
    /// asked for (`belongs_to`, not the lists `has_many` and `many_many` bring): a short
    /// answer, usually quick, so it may share a pipelined connection (`services::pipe`),
    /// whose time limit sends one that turns out slow to a connection of its own.
    pub pipelined: bool,
    /// Salt of `hash` masks (per installation, so hashes cannot be looked up elsewhere).
    pub mask_salt: String,
}

/// Why a read cannot be planned (all 4xx).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("Invalid field requested: {0}")]
    UnknownField(String),
    #[error("Invalid or unparsable field in filter request: '{0}'")]
    UnknownFilterField(String),
    #[error("Invalid field '{0}' in order by clause.")]
    UnknownOrderField(String),
    #[error("Invalid field '{0}' in group by clause.")]
    UnknownGroupField(String),
    #[error("Invalid relationship requested: {0}")]
    UnknownRelation(String),
    #[error("Invalid value for field '{field}': {message}")]
    BadValue { field: String, message: String },
    #[error("Missing value for filter parameter ':{0}'; send it in `params`.")]
    MissingParam(String),
    #[error("Unknown lookup '{{{0}}}'.")]
    UnknownLookup(String),
    #[error("{0}")]
    Invalid(String),
    #[error("Table \"{0}\" has no primary key; send id_field to address records.")]
    NoPrimaryKey(String),
    #[error("Field '{field}' is masked for your role and cannot be used in {purpose}.")]
    Masked {
        field: String,
        purpose: &'static str,
    },
    #[error("Invalid cursor: it does not belong to this query. Start again without `cursor`.")]
    BadCursor,
}

/// What the caller may see of the service, as the planner needs it.
pub trait View {
    /// The caller's rules for reading a table it addresses, `None` when it may not.
    fn read_rules(&self, table: &Table) -> Option<TableRules>;
    /// The caller's rules for reading a table through a relationship (`related`), `None`
    /// when it may not expand into it.
    fn related_rules(&self, table: &Table) -> Option<TableRules>;
    /// Resolves a lookup (`{user.id}`) to its value.
    fn lookup(&self, name: &str) -> Option<String>;
    /// The caller's rules for writing a related table with a verb (nested writes), `None`
    /// when it may not.
    fn write_rules(&self, table: &Table, verb: crate::rbac::Verb) -> Option<TableRules>;
}

/// Context for planning one read.
pub struct ReadContext<'a> {
    pub schema: &'a SchemaModel,
    pub table: &'a Table,
    /// The permit's rules for this table: rows reached, fields hidden or masked.
    pub rules: &'a TableRules,
    pub view: &'a dyn View,
    /// The service's `max_records`.
    pub max_records: u64,
    /// Salt of `hash` masks.
    pub mask_salt: &'a str,
}

pub(crate) fn column<'t>(table: &'t Table, name: &str) -> Option<&'t Column> {
    table.column(name)
}

pub(crate) fn out_column(c: &Column, rules: &TableRules) -> ColumnOut {
    ColumnOut {
        column: c.name.clone(),
        encoding: match c.value_type {
            ValueType::Bytea => Encoding::Base64,
            ValueType::Boolean | ValueType::SmallInt | ValueType::Integer | ValueType::BigInt => {
                Encoding::Bare
            }
            ValueType::Json | ValueType::Jsonb
                if matches!(c.udt_name.as_str(), "json" | "jsonb") =>
            {
                Encoding::Bare
            }
            // Only the plain types: a cast to text trims `char(n)`'s padding, which `to_json`
            // keeps, and a domain may carry a cast to json of its own.
            ValueType::Enum => Encoding::Text,
            ValueType::Text
            | ValueType::Uuid
            | ValueType::Interval
            | ValueType::Time
            | ValueType::TimeTz
            | ValueType::Money
                if matches!(
                    c.udt_name.as_str(),
                    "text" | "varchar" | "uuid" | "interval" | "time" | "timetz" | "money"
                ) =>
            {
                Encoding::Text
            }
            ValueType::Numeric | ValueType::Real | ValueType::Double
                if matches!(c.udt_name.as_str(), "numeric" | "float4" | "float8") =>
            {
                Encoding::Number
            }
            _ => Encoding::Json,
        },
        mask: match rules.field(&c.name) {
            Some(FieldRule::Masked(m)) => Some(m),
            _ => None,
        },
    }
}

/// What a name is being resolved for; it decides the error wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Filter,
    Order,
    Group,
    Aggregate,
}

impl Purpose {
    fn unknown(self, name: &str) -> PlanError {
        match self {
            Self::Filter => PlanError::UnknownFilterField(name.to_owned()),
            Self::Order => PlanError::UnknownOrderField(name.to_owned()),
            Self::Group => PlanError::UnknownGroupField(name.to_owned()),
            Self::Aggregate => PlanError::UnknownField(name.to_owned()),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::Filter => "a filter",
            Self::Order => "order",
            Self::Group => "group",
            Self::Aggregate => "an aggregate",
        }
    }
}

/// How names resolve for one table: a client's names only to fields it may see in clear
/// (hidden ones do not exist, masked ones cannot be compared, sorted or grouped, so their
/// values cannot be inferred); a role filter's names to every column.
pub struct Columns<'a> {
    pub table: &'a Table,
    /// `None` for role filters, written by admins.
    pub rules: Option<&'a TableRules>,
}

impl<'a> Columns<'a> {
    pub(crate) fn usable(&self, name: &str, purpose: Purpose) -> Result<&'a Column, PlanError> {
        let c = column(self.table, name).ok_or_else(|| purpose.unknown(name))?;
        match self.rules.and_then(|r| r.field(name)) {
            Some(FieldRule::Hidden) => Err(purpose.unknown(name)),
            Some(FieldRule::Masked(_)) => Err(PlanError::Masked {
                field: name.to_owned(),
                purpose: purpose.words(),
            }),
            _ => Ok(c),
        }
    }
}

/// The cast type of a column: its own type, or the element type's for arrays in `IN`.
pub(crate) fn bound(c: &Column, text: String) -> Result<Bound, PlanError> {
    check_value(c, &text)?;
    Ok(Bound {
        text,
        type_schema: c.udt_schema.clone(),
        type_name: c.udt_name.clone(),
        value_type: c.value_type,
    })
}

/// Rejects values that cannot be of the column's type before anything runs.
pub(crate) fn check_value(c: &Column, text: &str) -> Result<(), PlanError> {
    let bad = |what: &str| PlanError::BadValue {
        field: c.name.clone(),
        message: format!("'{text}' is not {what}"),
    };
    let t = text.trim();
    match c.value_type {
        ValueType::SmallInt | ValueType::Integer | ValueType::BigInt => {
            t.parse::<i64>().map(|_| ()).map_err(|_| bad("an integer"))
        }
        ValueType::Real | ValueType::Double | ValueType::Numeric => {
            let ok = t.parse::<f64>().is_ok()
                && !t.is_empty()
                && t.chars()
                    .all(|ch| ch.is_ascii_digit() || "+-.eE".contains(ch));
            if ok
                || matches!(
                    t.to_ascii_lowercase().as_str(),
                    "nan" | "infinity" | "-infinity"
                )
            {
                Ok(())
            } else {
                Err(bad("a number"))
            }
        }
        ValueType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "false" | "t" | "f" | "1" | "0" | "yes" | "no" => Ok(()),
            _ => Err(bad("true or false")),
        },
        ValueType::Uuid => {
            let hex: String = t.chars().filter(|ch| *ch != '-').collect();
            if hex.len() == 32 && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                Ok(())
            } else {
                Err(bad("a UUID"))
            }
        }
        ValueType::Enum if !c.enum_values.is_empty() => {
            if c.enum_values.iter().any(|v| v == text) {
                Ok(())
            } else {
                Err(bad(&format!("one of {}", c.enum_values.join(", "))))
            }
        }
        _ => Ok(()),
    }
}

fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Resolves a filter operand to text (None = SQL NULL).
fn operand_text(
    op: &Operand,
    params: &std::collections::HashMap<String, Value>,
    view: &dyn View,
) -> Result<Option<String>, PlanError> {
    match op {
        Operand::Literal(Literal::String(s) | Literal::Number(s)) => Ok(Some(s.clone())),
        Operand::Literal(Literal::Bool(b)) => Ok(Some(b.to_string())),
        Operand::Literal(Literal::Null) => Ok(None),
        Operand::Placeholder(name) => {
            let key = name.trim_start_matches(':');
            let v = params
                .get(key)
                .ok_or_else(|| PlanError::MissingParam(key.to_owned()))?;
            Ok(json_text(v))
        }
        Operand::Lookup(name) => view
            .lookup(name)
            .map(Some)
            .ok_or_else(|| PlanError::UnknownLookup(name.clone())),
    }
}

/// Escapes `%`, `_` and `\` so a value is matched literally inside a LIKE pattern.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Resolves a filter AST against a table.
pub fn resolve_filter(
    expr: &Expr,
    cols: &Columns<'_>,
    params: &std::collections::HashMap<String, Value>,
    view: &dyn View,
) -> Result<Cond, PlanError> {
    let col = |name: &str| cols.usable(name, Purpose::Filter);
    let value = |c: &Column, op: &Operand| -> Result<Bound, PlanError> {
        match operand_text(op, params, view)? {
            Some(text) => bound(c, text),
            None => Err(PlanError::BadValue {
                field: c.name.clone(),
                message: "null cannot be compared; use IS NULL or IS NOT NULL".into(),
            }),
        }
    };
    Ok(match expr {
        Expr::And(items) => Cond::And(
            items
                .iter()
                .map(|e| resolve_filter(e, cols, params, view))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Cond::Or(
            items
                .iter()
                .map(|e| resolve_filter(e, cols, params, view))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(inner) => Cond::Not(Box::new(resolve_filter(inner, cols, params, view)?)),
        Expr::Compare {
            field,
            op,
            value: v,
        } => {
            let c = col(&field.name)?;
            Cond::Compare {
                column: c.name.clone(),
                op: *op,
                value: value(c, v)?,
            }
        }
        Expr::Match {
            field,
            op,
            negated,
            value: v,
        } => {
            let c = col(&field.name)?;
            let text = operand_text(v, params, view)?.ok_or_else(|| PlanError::BadValue {
                field: c.name.clone(),
                message: "a pattern cannot be null".into(),
            })?;
            let pattern = match op {
                MatchOp::Like | MatchOp::ILike => text,
                MatchOp::Contains => format!("%{}%", escape_like(&text)),
                MatchOp::StartsWith => format!("{}%", escape_like(&text)),
                MatchOp::EndsWith => format!("%{}", escape_like(&text)),
            };
            Cond::Match {
                column: c.name.clone(),
                text_cast: c.value_type != ValueType::Text,
                case_insensitive: *op == MatchOp::ILike,
                negated: *negated,
                pattern,
            }
        }
        Expr::In {
            field,
            negated,
            values,
        } => {
            let c = col(&field.name)?;
            Cond::In {
                column: c.name.clone(),
                negated: *negated,
                values: values
                    .iter()
                    .map(|v| value(c, v))
                    .collect::<Result<_, _>>()?,
            }
        }
        Expr::Between {
            field,
            negated,
            low,
            high,
        } => {
            let c = col(&field.name)?;
            Cond::Between {
                column: c.name.clone(),
                negated: *negated,
                low: value(c, low)?,
                high: value(c, high)?,
            }
        }
        Expr::IsNull { field, negated } => Cond::IsNull {
            column: col(&field.name)?.name.clone(),
            negated: *negated,
        },
    })
}

fn resolve_order(items: &[OrderItem], cols: &Columns<'_>) -> Result<Vec<OrderBy>, PlanError> {
    items
        .iter()
        .map(|o| {
            let c = cols.usable(&o.field, Purpose::Order)?;
            Ok(OrderBy {
                column: c.name.clone(),
                descending: o.descending,
                nulls: o.nulls,
            })
        })
        .collect()
}

/// The key columns of a table: `id_field` if given, else the primary key.
pub fn key_columns<'t>(
    table: &'t Table,
    id_field: Option<&[String]>,
) -> Result<Vec<&'t Column>, PlanError> {
    match id_field {
        Some(names) if !names.is_empty() => names
            .iter()
            .map(|n| column(table, n).ok_or_else(|| PlanError::UnknownField(n.clone())))
            .collect(),
        _ if table.primary_key.is_empty() => Err(PlanError::NoPrimaryKey(table.api_name.clone())),
        _ => table
            .primary_key
            .iter()
            .map(|n| {
                column(table, n).ok_or_else(|| PlanError::NoPrimaryKey(table.api_name.clone()))
            })
            .collect(),
    }
}

/// The key columns of a record id (`5`, or `1,2` for a composite key) with their values,
/// each checked against its column's type.
pub fn id_values<'t>(
    table: &'t Table,
    id: &str,
    id_field: Option<&[String]>,
) -> Result<Vec<(&'t Column, Bound)>, PlanError> {
    let keys = key_columns(table, id_field)?;
    let parts: Vec<&str> = if keys.len() == 1 {
        vec![id]
    } else {
        id.split(',').map(str::trim).collect()
    };
    if parts.len() != keys.len() {
        return Err(PlanError::Invalid(format!(
            "the identifier needs {} values separated by commas ({})",
            keys.len(),
            keys.iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    keys.into_iter()
        .zip(parts)
        .map(|(k, v)| Ok((k, bound(k, v.to_owned())?)))
        .collect()
}

/// The condition selecting one record by its id.
pub fn id_condition(
    table: &Table,
    id: &str,
    id_field: Option<&[String]>,
) -> Result<Cond, PlanError> {
    let mut conds: Vec<Cond> = id_values(table, id, id_field)?
        .into_iter()
        .map(|(k, value)| Cond::Compare {
            column: k.name.clone(),
            op: CompareOp::Eq,
            value,
        })
        .collect();
    Ok(if conds.len() == 1 {
        conds.remove(0)
    } else {
        Cond::And(conds)
    })
}

fn plan_related(ctx: &ReadContext<'_>, params: &ReadParams) -> Result<Vec<Output>, PlanError> {
    let mut out = Vec::new();
    for req in &params.related {
        let relations: Vec<_> = if req.name == "*" {
            ctx.table.relations.iter().collect()
        } else {
            vec![
                ctx.table
                    .relation(&req.name)
                    .ok_or_else(|| PlanError::UnknownRelation(req.name.clone()))?,
            ]
        };
        for rel in relations {
            // Expanding a relationship reveals the values of its local columns (the parent's
            // id, the foreign key), so they must be readable in clear.
            if !rel
                .columns
                .iter()
                .all(|c| FieldRule::is_clear(ctx.rules.field(c)))
            {
                if req.name == "*" {
                    continue;
                }
                return Err(PlanError::UnknownRelation(req.name.clone()));
            }
            let Some((target, rules)) = ctx
                .schema
                .table(&rel.ref_table)
                .and_then(|t| ctx.view.related_rules(t).map(|r| (t, r)))
            else {
                if req.name == "*" {
                    continue;
                }
                return Err(PlanError::UnknownRelation(req.name.clone()));
            };
            let columns = match &req.fields {
                None => target
                    .columns
                    .iter()
                    .filter(|c| rules.is_visible(&c.name))
                    .map(|c| out_column(c, &rules))
                    .collect(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        column(target, n)
                            .filter(|c| rules.is_visible(&c.name))
                            .map(|c| out_column(c, &rules))
                            .ok_or_else(|| PlanError::UnknownField(format!("{}.{n}", rel.name)))
                    })
                    .collect::<Result<_, _>>()?,
            };
            let condition = row_condition(target, &rules, ctx.view)?;
            let visible = Columns {
                table: target,
                rules: Some(&rules),
            };
            let join = match (&rel.kind, &rel.junction) {
                (RelationKind::ManyMany, Some(j)) => {
                    let jt = ctx
                        .schema
                        .table(&j.table)
                        .ok_or_else(|| PlanError::UnknownRelation(rel.name.clone()))?;
                    Join::Junction {
                        table: TableTarget::of(jt),
                        outer: rel
                            .columns
                            .iter()
                            .cloned()
                            .zip(j.columns.iter().cloned())
                            .collect(),
                        inner: rel
                            .ref_columns
                            .iter()
                            .cloned()
                            .zip(j.ref_columns.iter().cloned())
                            .collect(),
                    }
                }
                _ => Join::Direct(
                    rel.columns
                        .iter()
                        .cloned()
                        .zip(rel.ref_columns.iter().cloned())
                        .collect(),
                ),
            };
            let many = rel.kind != RelationKind::BelongsTo;
            out.push(Output {
                key: rel.name.clone(),
                expr: OutExpr::Related(Box::new(RelatedSelect {
                    table: TableTarget::of(target),
                    columns,
                    join,
                    many,
                    order: resolve_order(&req.order, &visible)?,
                    condition,
                    limit: if many {
                        Some(
                            req.limit
                                .unwrap_or(ctx.max_records)
                                .min(ctx.max_records)
                                .max(1),
                        )
                    } else {
                        Some(1)
                    },
                })),
            });
        }
    }
    Ok(out)
}

/// Plans a list read (`GET /_table/{t}`), a by-id read (`id`) or an `ids` read.
pub fn plan_read(
    ctx: &ReadContext<'_>,
    params: &ReadParams,
    id: Option<&str>,
) -> Result<ReadPlan, PlanError> {
    let table = ctx.table;
    let mut output = Vec::new();
    let grouped = !params.group.is_empty();
    let visible = Columns {
        table,
        rules: Some(ctx.rules),
    };
    match &params.fields {
        None => output.extend(
            table
                .columns
                .iter()
                .filter(|c| ctx.rules.is_visible(&c.name))
                .map(|c| Output {
                    key: c.name.clone(),
                    expr: OutExpr::Column(out_column(c, ctx.rules)),
                }),
        ),
        Some(fields) => {
            for f in fields {
                match f {
                    FieldSelector::Column(name) => {
                        let c = column(table, name)
                            .filter(|c| ctx.rules.is_visible(&c.name))
                            .ok_or_else(|| PlanError::UnknownField(name.clone()))?;
                        output.push(Output {
                            key: c.name.clone(),
                            expr: OutExpr::Column(out_column(c, ctx.rules)),
                        });
                    }
                    FieldSelector::Aggregate(agg, field) => {
                        let col = match field {
                            None => None,
                            Some(name) => {
                                let c = visible.usable(name, Purpose::Aggregate)?;
                                let numeric = matches!(
                                    c.value_type,
                                    ValueType::SmallInt
                                        | ValueType::Integer
                                        | ValueType::BigInt
                                        | ValueType::Real
                                        | ValueType::Double
                                        | ValueType::Numeric
                                        | ValueType::Money
                                );
                                if matches!(agg, Aggregate::Sum | Aggregate::Avg) && !numeric {
                                    return Err(PlanError::Invalid(format!(
                                        "{}({name}) needs a numeric field",
                                        agg.name()
                                    )));
                                }
                                Some(c.name.clone())
                            }
                        };
                        let key = format!("{}_{}", agg.name(), col.as_deref().unwrap_or("ALL"));
                        output.push(Output {
                            key,
                            expr: OutExpr::Aggregate(*agg, col),
                        });
                    }
                }
            }
        }
    }
    let group = params
        .group
        .iter()
        .map(|g| visible.usable(g, Purpose::Group).map(|c| c.name.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    if grouped {
        for o in &output {
            if let OutExpr::Column(c) = &o.expr
                && !group.contains(&c.column)
            {
                return Err(PlanError::Invalid(format!(
                    "field '{}' must be in `group` or inside an aggregate",
                    c.column
                )));
            }
        }
    }
    output.extend(plan_related(ctx, params)?);

    let mut conds = Vec::new();
    if let Some(filter) = &params.filter {
        conds.push(resolve_filter(filter, &visible, &params.params, ctx.view)?);
    }
    if let Some(rows) = row_condition(table, ctx.rules, ctx.view)? {
        conds.push(rows);
    }
    if id.is_some() || params.ids.is_some() {
        // Addressing by key compares key values: the keys must be readable in clear.
        for key in key_columns(table, params.id_field.as_deref())? {
            visible.usable(&key.name, Purpose::Filter)?;
        }
    }
    match (id, &params.ids) {
        (Some(id), _) => conds.push(id_condition(table, id, params.id_field.as_deref())?),
        (None, Some(ids)) => {
            let keys = key_columns(table, params.id_field.as_deref())?;
            let [key] = keys.as_slice() else {
                return Err(PlanError::Invalid(
                    "`ids` needs a single-column key; address composite keys by record".into(),
                ));
            };
            let values = ids
                .iter()
                .map(|v| bound(key, v.clone()))
                .collect::<Result<_, _>>()?;
            conds.push(Cond::In {
                column: key.name.clone(),
                negated: false,
                values,
            });
        }
        (None, None) => {}
    }
    let mut order = resolve_order(&params.order, &visible)?;
    let is_list = id.is_none();
    let limit = match params.limit {
        Some(0) | None => ctx.max_records,
        Some(n) => n.min(ctx.max_records),
    };
    let pipelined = (if is_list {
        limit <= PIPELINE_ROWS
    } else {
        params.id_field.is_none() && !table.primary_key.is_empty()
    }) && matches!(table.kind, TableKind::Table | TableKind::PartitionedTable)
        && !output
            .iter()
            .any(|o| matches!(&o.expr, OutExpr::Related(r) if r.many));
    let offset = params.offset.unwrap_or(0);

    // Keyset paging over non-null order columns plus the primary key.
    let mut keyset = None;
    let has_aggregate = output
        .iter()
        .any(|o| matches!(o.expr, OutExpr::Aggregate(..)));
    // The cursor carries key values in clear, so keys the caller may not read disable it.
    let clear_keys = table
        .primary_key
        .iter()
        .all(|k| FieldRule::is_clear(ctx.rules.field(k)));
    if is_list && !grouped && !has_aggregate && !table.primary_key.is_empty() && clear_keys {
        let nullable_order = order
            .iter()
            .any(|o| column(table, &o.column).is_some_and(|c| c.nullable));
        if !nullable_order {
            for pk in &table.primary_key {
                if !order.iter().any(|o| &o.column == pk) {
                    order.push(OrderBy {
                        column: pk.clone(),
                        descending: false,
                        nulls: None,
                    });
                }
            }
            let columns: Vec<(String, bool)> = order
                .iter()
                .map(|o| (o.column.clone(), o.descending))
                .collect();
            let after = match &params.cursor {
                None => None,
                Some(cursor) => Some(decode_cursor(cursor, table, &columns)?),
            };
            keyset = Some(Keyset { columns, after });
        }
    }
    if keyset.is_none() && params.cursor.is_some() {
        return Err(PlanError::BadCursor);
    }
    let condition = match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Cond::And(conds)),
    };
    Ok(ReadPlan {
        table: TableTarget::of(table),
        output,
        condition,
        order,
        group,
        limit,
        offset,
        keyset,
        is_list,
        pipelined,
        mask_salt: ctx.mask_salt.to_owned(),
    })
}

/// The role's row filters for a table as one condition (AND), lookups bound.
pub fn row_condition(
    table: &Table,
    rules: &TableRules,
    view: &dyn View,
) -> Result<Option<Cond>, PlanError> {
    if rules.no_rows {
        return Ok(Some(Cond::Never));
    }
    let all = Columns { table, rules: None };
    let none = std::collections::HashMap::new();
    let mut conds = rules
        .row_filters
        .iter()
        .map(|f| resolve_filter(f, &all, &none, view))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Cond::And(conds)),
    })
}

/// Plans `count_only` / `include_count`: the same condition as the read.
#[must_use]
pub fn count_of(plan: &ReadPlan) -> (TableTarget, Option<Cond>) {
    (plan.table.clone(), plan.condition.clone())
}

/// A cursor is base64url(JSON array of the key values as text).
#[must_use]
pub fn encode_cursor(values: &[Option<String>]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_string(values).unwrap_or_default())
}

fn decode_cursor(
    cursor: &str,
    table: &Table,
    columns: &[(String, bool)],
) -> Result<Vec<Bound>, PlanError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| PlanError::BadCursor)?;
    let values: Vec<Option<String>> =
        serde_json::from_slice(&bytes).map_err(|_| PlanError::BadCursor)?;
    if values.len() != columns.len() {
        return Err(PlanError::BadCursor);
    }
    columns
        .iter()
        .zip(values)
        .map(|((name, _), v)| {
            let c = column(table, name).ok_or(PlanError::BadCursor)?;
            bound(c, v.ok_or(PlanError::BadCursor)?).map_err(|_| PlanError::BadCursor)
        })
        .collect()
}

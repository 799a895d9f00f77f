//! JSON Schemas of a table's records as the API exchanges them: one property per column,
//! typed from its `ValueType` in OpenAPI 3.1 style (`type: [T, "null"]` for nullable
//! columns), plus the relationships the caller may expand.
//!
//! Pure; reads the table and the role's view (which tables are visible); no I/O. A table the
//! role cannot see is never named: no relationship, `x-foreign-key` or `$ref` points to it.

use std::collections::HashMap;

use rampart_schema::{Column, Generated, RelationKind, Table, ValueType};
use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};

use super::components::{any, array, format, nullable, object, prim, schema_ref};
use crate::rbac::Verb;

/// The tables the role sees, by API name: their component schema name and verb mask.
pub struct Visible<'a>(HashMap<&'a str, (String, i64)>);

impl<'a> Visible<'a> {
    /// From (table, component name, mask) triples.
    pub fn new(tables: impl IntoIterator<Item = (&'a Table, String, i64)>) -> Self {
        Self(
            tables
                .into_iter()
                .map(|(t, name, mask)| (t.api_name.as_str(), (name, mask)))
                .collect(),
        )
    }

    /// The component schema name of a visible table.
    pub fn schema_name(&self, table: &str) -> Option<&str> {
        self.0.get(table).map(|(name, _)| name.as_str())
    }

    /// The schema name of a table the role may read (a relationship's target).
    pub fn readable(&self, table: &str) -> Option<&str> {
        self.0
            .get(table)
            .filter(|(_, mask)| mask & Verb::Get.bit() != 0)
            .map(|(name, _)| name.as_str())
    }
}

/// Whether clients never write the column: identity always, computed, or an
/// auto-numbered primary key (DreamFactory's `id` type).
pub fn is_read_only(c: &Column) -> bool {
    c.is_read_only()
        || (c.is_primary_key
            && matches!(
                c.generated,
                Some(Generated::Serial | Generated::IdentityByDefault)
            ))
}

/// The schema of one value of a scalar type (arrays are built by `column`).
fn scalar(vt: ValueType, or_null: bool, labels: &[String]) -> ObjectBuilder {
    let typed = |ty: Type| if or_null { nullable(ty) } else { prim(ty) };
    match vt {
        ValueType::Boolean => typed(Type::Boolean),
        ValueType::SmallInt => typed(Type::Integer).format(format("int16")),
        ValueType::Integer => typed(Type::Integer).format(format("int32")),
        ValueType::BigInt => typed(Type::Integer).format(format("int64")),
        ValueType::Real => typed(Type::Number).format(format("float")),
        ValueType::Double => typed(Type::Number).format(format("double")),
        ValueType::Numeric => typed(Type::Number),
        ValueType::Uuid => typed(Type::String).format(format("uuid")),
        ValueType::Json | ValueType::Jsonb | ValueType::Array => any(),
        ValueType::Bytea => typed(Type::String).content_encoding("base64"),
        ValueType::Date => typed(Type::String).format(format("date")),
        ValueType::TimestampTz => typed(Type::String).format(format("date-time")),
        ValueType::Enum if !labels.is_empty() => {
            let mut values: Vec<serde_json::Value> = labels
                .iter()
                .map(|l| serde_json::Value::from(l.as_str()))
                .collect();
            if or_null {
                values.push(serde_json::Value::Null);
            }
            typed(Type::String).enum_values(Some(values))
        }
        ValueType::Money
        | ValueType::Text
        | ValueType::Enum
        | ValueType::Time
        | ValueType::TimeTz
        | ValueType::Timestamp
        | ValueType::Interval
        | ValueType::Other => typed(Type::String),
    }
}

/// What JSON cannot say about a type, for the description.
fn note(vt: ValueType) -> Option<&'static str> {
    Some(match vt {
        ValueType::Numeric => "Arbitrary precision: parse it as a decimal to keep every digit.",
        ValueType::Money => "Formatted by the database's `lc_monetary`, e.g. `$1,234.56`.",
        ValueType::Timestamp => "Date and time without a time zone, e.g. `2026-01-31T13:45:00`.",
        ValueType::Time => "Time of day, e.g. `13:45:00`.",
        ValueType::TimeTz => "Time of day with offset, e.g. `13:45:00+02`.",
        ValueType::Interval => "A PostgreSQL interval, e.g. `1 day 02:00:00`.",
        ValueType::Bytea => "Binary data, base64-encoded.",
        _ => return None,
    })
}

/// The schema of one column. `foreign_key` is `table.column` when the referenced table is
/// visible.
pub fn column(c: &Column, foreign_key: Option<String>) -> RefOr<Schema> {
    let vt = if c.value_type == ValueType::Array {
        c.element_type.unwrap_or(ValueType::Other)
    } else {
        c.value_type
    };
    let text = [c.comment.as_deref(), note(vt)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let description = (!text.is_empty()).then_some(text);
    let mut ext = ExtensionsBuilder::new().add("x-db-type", c.sql_type.as_str());
    if c.is_primary_key {
        ext = ext.add("x-primary-key", true);
    }
    if let Some(fk) = foreign_key {
        ext = ext.add("x-foreign-key", fk);
    }
    if c.value_type == ValueType::Array {
        let element = if c.element_type.is_some() {
            scalar(vt, false, &c.enum_values)
        } else {
            any()
        };
        let ty: SchemaType = if c.nullable {
            [Type::Array, Type::Null].into_iter().collect()
        } else {
            Type::Array.into()
        };
        let schema = ArrayBuilder::new()
            .schema_type(ty)
            .items(element)
            .description(description)
            .extensions(Some(ext.build()));
        // Arrays carry no `readOnly` of their own in utoipa: wrap them when needed.
        return if is_read_only(c) {
            OneOfBuilder::new().item(schema).read_only(true).into()
        } else {
            schema.into()
        };
    }
    let mut schema = scalar(vt, c.nullable, &c.enum_values)
        .description(description)
        .extensions(Some(ext.build()));
    if let Some(n) = c.max_length.and_then(|n| usize::try_from(n).ok()) {
        schema = schema.max_length(Some(n));
    }
    if is_read_only(c) {
        schema = schema.read_only(true);
    }
    schema.into()
}

fn foreign_key(c: &Column, visible: &Visible<'_>) -> Option<String> {
    c.references
        .as_ref()
        .filter(|r| visible.schema_name(&r.table).is_some())
        .map(|r| format!("{}.{}", r.table, r.column))
}

/// A record as returned: every column (`required` when NOT NULL), `readOnly` where the
/// database fills it, and the relationships to tables the role may read.
pub fn record(t: &Table, visible: &Visible<'_>) -> ObjectBuilder {
    let mut o =
        ObjectBuilder::new().description(Some(t.comment.clone().unwrap_or_else(|| describe(t))));
    for c in &t.columns {
        o = o.property(&c.name, column(c, foreign_key(c, visible)));
        if !c.nullable {
            o = o.required(&c.name);
        }
    }
    for r in &t.relations {
        let Some(target) = visible.readable(&r.ref_table) else {
            continue;
        };
        if t.column(&r.name).is_some() {
            continue;
        }
        let via = format!("returned with `related={}`", r.name);
        let property: RefOr<Schema> = match r.kind {
            RelationKind::BelongsTo => OneOfBuilder::new()
                .item(schema_ref(target))
                .item(prim(Type::Null))
                .description(Some(format!(
                    "The `{}` record this one belongs to ({}), {via}.",
                    r.ref_table,
                    r.columns.join(", ")
                )))
                .into(),
            RelationKind::HasMany | RelationKind::ManyMany => array(schema_ref(target))
                .description(Some(format!("Related `{}` records, {via}.", r.ref_table)))
                .into(),
        };
        o = o.property(&r.name, property);
    }
    if !t.primary_key.is_empty() {
        o = o.extensions(Some(
            ExtensionsBuilder::new()
                .add("x-primary-key", t.primary_key.clone())
                .build(),
        ));
    }
    o
}

/// A record to create: the writable columns; `required` when NOT NULL without a default.
pub fn new_record(t: &Table, visible: &Visible<'_>) -> ObjectBuilder {
    let mut o = ObjectBuilder::new().description(Some(format!("A new `{}` record.", t.api_name)));
    for c in t.columns.iter().filter(|c| !is_read_only(c)) {
        o = o.property(&c.name, column(c, foreign_key(c, visible)));
        if !c.nullable && !c.has_default() {
            o = o.required(&c.name);
        }
    }
    o
}

/// Changes to records: the writable columns, none required (records in a batch also carry
/// their key fields).
pub fn changes(t: &Table, visible: &Visible<'_>) -> ObjectBuilder {
    let description = format!(
        "Changes to `{}` records; in a batch, each record also carries its key fields.",
        t.api_name
    );
    t.columns
        .iter()
        .filter(|c| !is_read_only(c) || c.is_primary_key)
        .fold(
            ObjectBuilder::new().description(Some(description)),
            |o, c| o.property(&c.name, column(c, foreign_key(c, visible))),
        )
}

/// What writes return by default: the key fields of each record.
pub fn keys(t: &Table) -> ObjectBuilder {
    let key_columns = t
        .primary_key
        .iter()
        .filter_map(|k| t.column(k))
        .map(|c| (c.name.as_str(), column(c, None)));
    object(key_columns).description(Some(format!(
        "The key fields of a `{}` record; other fields when asked for with `fields`.",
        t.api_name
    )))
}

/// A fallback description: `Table orders` / `View order_totals`.
pub fn describe(t: &Table) -> String {
    format!(
        "{} `{}`",
        if t.kind.is_view() { "View" } else { "Table" },
        t.api_name
    )
}

//! DreamFactory's JSON shapes for tables, fields and relationships (`_table` listings,
//! `_schema`, `include_schema`). The schema model's own serde form is not a wire format.

use rampart_schema::{Column, Generated, Relation, RelationKind, Table, ValueType};
use serde_json::{Value, json};

use crate::rbac::{FieldRule, TableRules, Verb};

/// DreamFactory's simple type of a column.
#[must_use]
pub fn simple_type(c: &Column) -> &'static str {
    if c.is_primary_key
        && matches!(
            c.generated,
            Some(Generated::Serial | Generated::IdentityAlways | Generated::IdentityByDefault)
        )
    {
        return "id";
    }
    match c.value_type {
        ValueType::Boolean => "boolean",
        ValueType::SmallInt => "smallint",
        ValueType::Integer => "integer",
        ValueType::BigInt => "bigint",
        ValueType::Real => "float",
        ValueType::Double => "double",
        ValueType::Numeric => "decimal",
        ValueType::Money => "money",
        ValueType::Text | ValueType::Enum | ValueType::Other | ValueType::Interval => "string",
        ValueType::Uuid => "uuid",
        ValueType::Json => "json",
        ValueType::Jsonb => "jsonb",
        ValueType::Bytea => "binary",
        ValueType::Date => "date",
        ValueType::Time => "time",
        ValueType::TimeTz => "timetz",
        ValueType::Timestamp => "timestamp",
        ValueType::TimestampTz => "timestamptz",
        ValueType::Array => "array",
    }
}

/// A label from a name: `order_items` → `Order Items`.
#[must_use]
pub fn label(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_uppercase().collect::<String>() + cs.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A field's schema, marked when the role sees it masked or read-only.
#[must_use]
pub fn field(c: &Column, rule: Option<FieldRule>) -> Value {
    let mut v = field_plain(c);
    match rule {
        Some(FieldRule::Masked(m)) => v["mask"] = json!(m.name()),
        Some(FieldRule::ReadOnly) => v["is_read_only"] = json!(true),
        _ => {}
    }
    v
}

fn field_plain(c: &Column) -> Value {
    json!({
        "name": c.name,
        "label": label(&c.name),
        "description": c.comment,
        "type": simple_type(c),
        "db_type": c.sql_type,
        "length": c.max_length,
        "precision": c.precision,
        "scale": c.scale,
        "default": c.default,
        "required": !c.nullable && !c.has_default(),
        "allow_null": c.nullable,
        "auto_increment": c.generated.is_some() && c.generated != Some(Generated::Computed),
        "is_primary_key": c.is_primary_key,
        "is_unique": c.is_unique,
        "is_foreign_key": c.references.is_some(),
        "ref_table": c.references.as_ref().map(|r| r.table.clone()),
        "ref_field": c.references.as_ref().map(|r| r.column.clone()),
        "picklist": if c.enum_values.is_empty() { Value::Null } else { json!(c.enum_values) },
        "is_read_only": c.is_read_only(),
    })
}

/// A relationship's schema.
#[must_use]
pub fn relation(r: &Relation) -> Value {
    let kind = match r.kind {
        RelationKind::BelongsTo => "belongs_to",
        RelationKind::HasMany => "has_many",
        RelationKind::ManyMany => "many_many",
    };
    json!({
        "name": r.name,
        "label": label(&r.name),
        "type": kind,
        "field": r.columns.join(","),
        "ref_table": r.ref_table,
        "ref_field": r.ref_columns.join(","),
        "junction_table": r.junction.as_ref().map(|j| j.table.clone()),
        "junction_field": r.junction.as_ref().map(|j| j.columns.join(",")),
        "junction_ref_field": r.junction.as_ref().map(|j| j.ref_columns.join(",")),
    })
}

/// A table's schema as a role sees it: hidden fields absent, masked ones marked; `related`
/// lists only relations to tables the caller may see.
#[must_use]
pub fn table(t: &Table, rules: &TableRules, visible_relation: &dyn Fn(&Relation) -> bool) -> Value {
    json!({
        "name": t.api_name,
        "label": label(&t.api_name),
        "plural": label(&t.api_name),
        "description": t.comment,
        "is_view": t.kind.is_view(),
        "primary_key": t.primary_key.iter().filter(|k| rules.is_visible(k)).collect::<Vec<_>>(),
        "field": t.columns.iter().filter(|c| rules.is_visible(&c.name)).map(|c| field(c, rules.field(&c.name))).collect::<Vec<_>>(),
        "related": t.relations.iter().filter(|r| visible_relation(r)).map(relation).collect::<Vec<_>>(),
    })
}

/// A `_table` listing entry.
#[must_use]
pub fn table_entry(t: &Table, mask: i64) -> Value {
    json!({
        "name": t.api_name,
        "label": label(&t.api_name),
        "is_view": t.kind.is_view(),
        "access": Verb::in_mask(mask).map(|v| v.to_string()).collect::<Vec<_>>(),
    })
}

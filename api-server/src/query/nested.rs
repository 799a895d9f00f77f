//! Related records written with a record, in its savepoint (DreamFactory's nested writes):
//! a `belongs_to` record is created, updated or just linked before it and gives it its
//! foreign key; `has_many` children are created or updated after it and take its key;
//! `many_many` records are created, updated or linked after it and joined to it through the
//! junction table. A related record carrying its primary key is an existing one; without it,
//! a new one. Every related table is written under the caller's own rules for it (its verb,
//! field rules and row filter). Pure: no I/O.

use serde_json::{Map, Value};

use rampart_schema::{Relation, RelationKind, Table, ValueType};

use super::plan::{
    Columns, Cond, Purpose, ReadContext, TableTarget, column, id_condition, row_condition,
};
use super::write::{WriteError, WriteKind, WriteValue, field_values, record_id};
use crate::rbac::{FieldRule, TableRules, Verb};

/// The related records of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nested {
    /// Run before the record: `belongs_to` records, whose keys it takes (`fills`).
    pub before: Vec<Step>,
    /// The record's columns filled from `before` steps.
    pub fills: Vec<Link>,
    /// Run after the record, in order: `has_many` children and `many_many` records with
    /// their junction rows.
    pub after: Vec<Step>,
}

impl Nested {
    /// Whether the record has no related records.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }

    /// The record's columns the steps after it read (its key, mostly), in a fixed order.
    #[must_use]
    pub fn record_columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = Vec::new();
        for link in self.after.iter().flat_map(|s| &s.links) {
            if link.from == Source::Record && !cols.contains(&link.source) {
                cols.push(link.source.clone());
            }
        }
        cols
    }
}

/// One statement on a related table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub table: TableTarget,
    pub action: StepAction,
    /// The table's row filter for the caller: written rows must pass it.
    pub check: Option<Cond>,
    /// Columns written with values from other rows.
    pub links: Vec<Link>,
    /// Columns returned (as text) for the steps that read this one.
    pub returns: Vec<String>,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAction {
    /// A new record.
    Insert(Vec<(String, WriteValue)>),
    /// One existing record, reached by `target` (its key and the caller's row filter) and,
    /// for `keyed` link columns (parts of its key that come from the parent), by their
    /// linked values.
    /// `or_insert`: when no such record exists, the values to create it with (a child whose
    /// key holds its parent's, like an order's line for a product: the key is natural, so
    /// a missing record is a new one).
    Update {
        values: Vec<(String, WriteValue)>,
        target: Cond,
        id: String,
        keyed: Vec<String>,
        or_insert: Option<Vec<(String, WriteValue)>>,
    },
    /// One existing record only linked to, reached by `target`; nothing is written.
    Find { target: Cond, id: String },
    /// A junction row, inserted unless the same link exists already.
    Link,
}

/// A column written with a value of another row of the same operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub from: Source,
    /// The column of the source row.
    pub source: String,
    /// The column written.
    pub column: String,
    pub type_schema: String,
    pub type_name: String,
    pub value_type: ValueType,
}

/// Which row a link reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The record the related ones hang from.
    Record,
    /// A step of `Nested::before`, by index.
    Before(usize),
    /// An earlier step of `Nested::after`, by index.
    After(usize),
}

/// A record's own values and its related records.
pub fn plan_record(
    ctx: &ReadContext<'_>,
    record: &Map<String, Value>,
    kind: WriteKind,
) -> Result<(Vec<(String, WriteValue)>, Nested), WriteError> {
    let table = ctx.table;
    let names: Vec<&str> = record
        .keys()
        .map(String::as_str)
        .filter(|k| table.relation(k).is_some() && table.column(k).is_none())
        .collect();
    let mut nested = Nested::default();
    for name in &names {
        let Some(rel) = table.relation(name) else {
            continue;
        };
        let value = &record[*name];
        match rel.kind {
            RelationKind::BelongsTo => belongs_to(ctx, rel, value, &mut nested)?,
            RelationKind::HasMany => has_many(ctx, rel, value, &mut nested)?,
            RelationKind::ManyMany => many_many(ctx, rel, value, &mut nested)?,
        }
    }
    let values = field_values(table, ctx.rules, record, kind, &names)?;
    if let Some(fill) = nested
        .fills
        .iter()
        .find(|f| values.iter().any(|(c, _)| *c == f.column))
    {
        return Err(WriteError::Invalid(format!(
            "Field '{}' is set by a nested related record; send one or the other.",
            fill.column
        )));
    }
    Ok((values, nested))
}

/// Refuses related records where a write addresses many records at once.
pub fn refuse_nested(table: &Table, record: &Map<String, Value>) -> Result<(), WriteError> {
    match record
        .keys()
        .find(|k| table.relation(k).is_some() && table.column(k).is_none())
    {
        Some(name) => Err(WriteError::Invalid(format!(
            "Related records ('{name}') can be written only with records addressed one by one (by id or by the records' own keys)."
        ))),
        None => Ok(()),
    }
}

fn related_table<'a>(ctx: &ReadContext<'a>, name: &str) -> Result<&'a Table, WriteError> {
    ctx.schema
        .table(name)
        .ok_or_else(|| WriteError::Forbidden(name.to_owned()))
}

/// The record's columns a relationship reads must be readable in clear by the caller.
fn clear_columns(ctx: &ReadContext<'_>, rel: &Relation) -> Result<(), WriteError> {
    match rel
        .columns
        .iter()
        .find(|c| !FieldRule::is_clear(ctx.rules.field(c)))
    {
        Some(c) => Err(WriteError::Forbidden(c.clone())),
        None => Ok(()),
    }
}

fn link(from: Source, source: &str, target: &Table, col: &str) -> Result<Link, WriteError> {
    let c = column(target, col).ok_or_else(|| WriteError::Forbidden(col.to_owned()))?;
    Ok(Link {
        from,
        source: source.to_owned(),
        column: col.to_owned(),
        type_schema: c.udt_schema.clone(),
        type_name: c.udt_name.clone(),
        value_type: c.value_type,
    })
}

fn records<'v>(name: &str, value: &'v Value) -> Result<&'v [Value], WriteError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| WriteError::Invalid(format!("'{name}' must be an array of records.")))
}

fn belongs_to(
    ctx: &ReadContext<'_>,
    rel: &Relation,
    value: &Value,
    nested: &mut Nested,
) -> Result<(), WriteError> {
    let target = related_table(ctx, &rel.ref_table)?;
    // The record takes the related key in its foreign key: a field it must be able to write.
    if let Some(c) = rel.columns.iter().find(|c| ctx.rules.field(c).is_some()) {
        return Err(WriteError::Forbidden(c.clone()));
    }
    let step = record_step(ctx, target, &rel.name, value, Vec::new(), &rel.ref_columns)?;
    let index = nested.before.len();
    nested.before.push(step);
    for (local, remote) in rel.columns.iter().zip(&rel.ref_columns) {
        nested
            .fills
            .push(link(Source::Before(index), remote, ctx.table, local)?);
    }
    Ok(())
}

fn has_many(
    ctx: &ReadContext<'_>,
    rel: &Relation,
    value: &Value,
    nested: &mut Nested,
) -> Result<(), WriteError> {
    let child = related_table(ctx, &rel.ref_table)?;
    clear_columns(ctx, rel)?;
    for item in records(&rel.name, value)? {
        let links = rel
            .columns
            .iter()
            .zip(&rel.ref_columns)
            .map(|(parent, col)| link(Source::Record, parent, child, col))
            .collect::<Result<_, _>>()?;
        let step = record_step(ctx, child, &rel.name, item, links, &[])?;
        nested.after.push(step);
    }
    Ok(())
}

fn many_many(
    ctx: &ReadContext<'_>,
    rel: &Relation,
    value: &Value,
    nested: &mut Nested,
) -> Result<(), WriteError> {
    let far = related_table(ctx, &rel.ref_table)?;
    let junction = rel
        .junction
        .as_ref()
        .ok_or_else(|| WriteError::Forbidden(rel.name.clone()))?;
    let jt = related_table(ctx, &junction.table)?;
    let jrules = ctx
        .view
        .write_rules(jt, Verb::Post)
        .ok_or_else(|| WriteError::Forbidden(rel.name.clone()))?;
    clear_columns(ctx, rel)?;
    let check = row_condition(jt, &jrules, ctx.view)?;
    for item in records(&rel.name, value)? {
        let step = record_step(ctx, far, &rel.name, item, Vec::new(), &rel.ref_columns)?;
        let far_index = nested.after.len();
        nested.after.push(step);
        let mut links = Vec::new();
        for (local, jcol) in rel.columns.iter().zip(&junction.columns) {
            links.push(link(Source::Record, local, jt, jcol)?);
        }
        for (remote, jcol) in rel.ref_columns.iter().zip(&junction.ref_columns) {
            links.push(link(Source::After(far_index), remote, jt, jcol)?);
        }
        if let Some(l) = links.iter().find(|l| jrules.field(&l.column).is_some()) {
            return Err(WriteError::Forbidden(format!(
                "{}.{}",
                jt.api_name, l.column
            )));
        }
        nested.after.push(Step {
            table: TableTarget::of(jt),
            action: StepAction::Link,
            check: check.clone(),
            links,
            returns: Vec::new(),
        });
    }
    Ok(())
}

/// One related record: an existing one (it carries its primary key) is updated with its
/// other fields and links, or only found when it has neither; a new one is created.
fn record_step(
    ctx: &ReadContext<'_>,
    target: &Table,
    name: &str,
    item: &Value,
    links: Vec<Link>,
    returns: &[String],
) -> Result<Step, WriteError> {
    let Value::Object(m) = item else {
        return Err(WriteError::Invalid(format!(
            "'{name}' must hold records (objects)."
        )));
    };
    let skip: Vec<&str> = links.iter().map(|l| l.column.as_str()).collect();
    if let Some(c) = skip.iter().find(|c| m.contains_key(**c)) {
        return Err(WriteError::Invalid(format!(
            "'{name}.{c}' is set from the record it is nested in; leave it out."
        )));
    }
    // Key columns that links fill (a child's key holding its parent's) count as given.
    let keyed: Vec<String> = target
        .primary_key
        .iter()
        .filter(|k| skip.contains(&k.as_str()))
        .cloned()
        .collect();
    let own_key: Vec<String> = target
        .primary_key
        .iter()
        .filter(|k| !keyed.contains(k))
        .cloned()
        .collect();
    let existing = !own_key.is_empty()
        && own_key
            .iter()
            .all(|k| m.get(k).is_some_and(|v| !v.is_null()));
    // A natural key the caller may not update with: the record can only be new.
    let existing =
        existing && (keyed.is_empty() || ctx.view.write_rules(target, Verb::Patch).is_some());
    let forbidden = || WriteError::Forbidden(name.to_owned());
    let (rules, action) = if existing {
        let id = record_id(target, m, Some(&own_key))?;
        let link_only = links.is_empty() && m.keys().all(|k| target.primary_key.contains(k));
        let rules: TableRules = if link_only {
            ctx.view.related_rules(target)
        } else {
            ctx.view.write_rules(target, Verb::Patch)
        }
        .ok_or_else(forbidden)?;
        let visible = Columns {
            table: target,
            rules: Some(&rules),
        };
        for k in &own_key {
            visible.usable(k, Purpose::Filter)?;
        }
        let check = row_condition(target, &rules, ctx.view)?;
        let by_key = id_condition(target, &id, Some(&own_key))?;
        let target_cond = match check {
            Some(c) => Cond::And(vec![by_key, c]),
            None => by_key,
        };
        let values = field_values(target, &rules, m, WriteKind::Update, &skip)?;
        let or_insert = match ctx.view.write_rules(target, Verb::Post) {
            Some(create) if !keyed.is_empty() => {
                Some(field_values(target, &create, m, WriteKind::Create, &skip)?)
            }
            _ => None,
        };
        let action = if link_only {
            StepAction::Find {
                target: target_cond,
                id,
            }
        } else {
            StepAction::Update {
                values,
                target: target_cond,
                id,
                keyed,
                or_insert,
            }
        };
        (rules, action)
    } else {
        let rules = ctx
            .view
            .write_rules(target, Verb::Post)
            .ok_or_else(forbidden)?;
        let values = field_values(target, &rules, m, WriteKind::Create, &skip)?;
        (rules, StepAction::Insert(values))
    };
    if let Some(l) = links.iter().find(|l| rules.field(&l.column).is_some()) {
        return Err(WriteError::Forbidden(format!("{name}.{}", l.column)));
    }
    for r in returns {
        if !FieldRule::is_clear(rules.field(r)) {
            return Err(WriteError::Forbidden(format!("{name}.{r}")));
        }
    }
    Ok(Step {
        table: TableTarget::of(target),
        action,
        check: row_condition(target, &rules, ctx.view)?,
        links,
        returns: returns.to_vec(),
    })
}
